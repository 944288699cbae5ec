// Calls: seeded by posting Vapi webhooks to /receive (as Vapi would for the user's assistant and
// number), listed with filters and cursor paging, got with turns and events; two users.
import { test } from "node:test";
import assert from "node:assert/strict";
import { user, webhook, example, raw, expectStatus, expectError, randomUUID } from "../support/lib.mjs";

const A = await user({ signer: "hs" });
const B = await user({ signer: "es1", perCallHeaders: true });
const EX_CALL = "7c1e4f0a-3b9d-4e62-9a51-2f8d6c0b71e4";
const EX_ASST = "5d8a2e6f-1c3b-4f7a-a9d2-e04b7c61f3a8";
const EX_NUM = "9e4c1b7d-62a0-4d58-8f13-c7b2a05e94d1";
const EX_CREATED = "2025-06-12T14:03:05.120Z";

/// An example message rewritten for another call, assistant, number and creation time.
function adapted(file, { callId, assistantId, phoneNumberId, createdAt }) {
    let text = JSON.stringify(example(file));
    text = text.replaceAll(EX_CALL, callId).replaceAll(EX_ASST, assistantId).replaceAll(EX_CREATED, createdAt);
    text = text.replaceAll(EX_NUM, phoneNumberId ?? "PHONE-NUMBER-ID-REMOVED");
    const body = JSON.parse(text);
    if (!phoneNumberId) delete body.message.call.phoneNumberId;
    return body;
}

/// A call's row follows its stored messages within --derive-delay-ms: polls (up to 5 s) until
/// `who` lists at least `n` calls.
async function untilListed(who, n) {
    const t0 = Date.now();
    for (;;) {
        const r = await who.invoke("calls", { method: "GET" });
        if (r.body?.data?.length >= n || Date.now() - t0 > 5000) return;
        await new Promise((res) => setTimeout(res, 50));
    }
}

let asstA, asstA2, numA, asstB;
const c1 = randomUUID(), c2 = randomUUID(), c3 = randomUUID(), cB = randomUUID(), cNobody = randomUUID();
const T1 = "2026-03-01T09:00:00.000Z", T2 = "2026-03-01T10:00:00.000Z", T3 = "2026-03-01T11:00:00.000Z";
const C1_MESSAGES = ["02-status-update-queued.json", "04-status-update-in-progress.json", "10-conversation-update.json", "12-end-of-call-report.json"];

test("setup: assistants and a number; calls seeded through /receive", async () => {
    asstA = (await A.invoke("assistants", { body: { name: "Calls A" } })).body;
    asstA2 = (await A.invoke("assistants", { body: { name: "Calls A2" } })).body;
    numA = (await A.invoke("phone-numbers", { body: { provider: "vapi", areaCode: "646" } })).body;
    asstB = (await B.invoke("assistants", { body: { name: "Calls B" } })).body;
    assert.ok(asstA.id && asstA2.id && numA.id && asstB.id);

    for (const f of C1_MESSAGES) {
        const r = await webhook(adapted(f, { callId: c1, assistantId: asstA.id, phoneNumberId: numA.id, createdAt: T1 }));
        assert.equal(r.status, 200, `${f}: ${JSON.stringify(r.body)}`);
    }
    for (const f of ["02-status-update-queued.json", "04-status-update-in-progress.json"])
        assert.equal((await webhook(adapted(f, { callId: c2, assistantId: asstA2.id, phoneNumberId: numA.id, createdAt: T2 }))).status, 200);
    // through the alias route, no phone number
    assert.equal((await webhook(adapted("02-status-update-queued.json", { callId: c3, assistantId: asstA.id, createdAt: T3 }), { route: "/webhooks/vapi" })).status, 200);
    assert.equal((await webhook(adapted("02-status-update-queued.json", { callId: cB, assistantId: asstB.id, createdAt: T2 }))).status, 200);
    assert.equal((await webhook(adapted("02-status-update-queued.json", { callId: cNobody, assistantId: randomUUID(), createdAt: T2 }))).status, 200);
    const unauth = await webhook(adapted("02-status-update-queued.json", { callId: randomUUID(), assistantId: asstA.id, createdAt: T2 }), { secret: "wrong" });
    assert.equal(unauth.status, 401);
    // A call's row and turns follow its stored messages within --derive-delay-ms: wait (up to
    // 5 s) until both users see their calls as the messages state them.
    const t0 = Date.now();
    for (;;) {
        const a = await A.invoke("calls", { method: "GET" });
        const b = await B.invoke("calls", { method: "GET" });
        const one = a.body?.data?.find?.((c) => c.id === c1);
        if ((a.body?.data?.length === 3 && one?.status === "ended" && b.body?.data?.length === 1) || Date.now() - t0 > 5000) break;
        await new Promise((res) => setTimeout(res, 50));
    }
});

const callIds = (page) => page.data.map((c) => c.id);

test("list: only the caller's calls, newest first, with the call's facts", async () => {
    const r = await A.invoke("calls", { method: "GET" });
    expectStatus(r, 200);
    assert.deepEqual(callIds(r.body), [c3, c2, c1]);
    assert.equal(r.body.nextCursor, null);
    const one = r.body.data.find((c) => c.id === c1);
    assert.equal(one.status, "ended");
    assert.equal(one.assistantId, asstA.id);
    assert.equal(one.phoneNumberId, numA.id);
    assert.equal(new Date(one.createdAt).toISOString(), T1);
    assert.equal(r.body.data.find((c) => c.id === c2).status, "in-progress");
    assert.equal(r.body.data.find((c) => c.id === c3).status, "queued");
    const post = await A.invoke("calls", { body: {} });
    expectStatus(post, 200, "POST calls (default list)");
    assert.deepEqual(callIds(post.body), [c3, c2, c1]);
    const bare = await A.invoke("calls");
    expectStatus(bare, 200, "invoke('calls') with no options: POST, empty body → list");
    assert.deepEqual(callIds(bare.body), [c3, c2, c1]);
    const bl = await B.invoke("calls", { method: "GET" });
    assert.deepEqual(callIds(bl.body), [cB]);
});

test("list filters: assistantId, phoneNumberId, status, time range (query and payload)", async () => {
    const q = async (query) => {
        const r = await A.invoke(`calls?${query}`, { method: "GET" });
        expectStatus(r, 200, `GET calls?${query}`);
        return callIds(r.body);
    };
    assert.deepEqual(await q(`assistantId=${asstA.id}`), [c3, c1]);
    assert.deepEqual(await q(`assistantId=${asstA2.id}`), [c2]);
    assert.deepEqual(await q(`phoneNumberId=${numA.id}`), [c2, c1]);
    assert.deepEqual(await q("status=ended"), [c1]);
    assert.deepEqual(await q("status=queued"), [c3]);
    assert.deepEqual(await q(`createdAtGe=${encodeURIComponent(T2)}`), [c3, c2]);
    assert.deepEqual(await q(`createdAtLt=${encodeURIComponent(T2)}`), [c1]);
    assert.deepEqual(await q(`createdAtGe=${encodeURIComponent(T2)}&createdAtLt=${encodeURIComponent(T3)}`), [c2]);
    assert.deepEqual(await q(`assistantId=${asstB.id}`), [], "another user's assistant filters to nothing");
    const p = await A.invoke("calls", { body: { action: "list", data: { status: "ended" } } });
    expectStatus(p, 200);
    assert.deepEqual(callIds(p.body), [c1]);
    const p2 = await A.invoke("calls", { body: { action: "list", assistantId: asstA2.id } });
    assert.deepEqual(callIds(p2.body), [c2]);
    // 400 with a message that names the field
    const bad = [["limit=0", /limit/], ["limit=201", /limit/], ["createdAtGe=not-a-time", /createdAtGe/],
        ["createdAtLt=2026-13-45", /createdAtLt/], ["cursor=not-a-cursor", /cursor/]];
    for (const [query, field] of bad) {
        const r = await A.invoke(`calls?${query}`, { method: "GET" });
        expectError(r, 400, `calls?${query}`);
        assert.match(r.body.error, field, `calls?${query}: ${r.body.error}`);
        assert.doesNotMatch(r.body.error, /ERROR:|CONTEXT:|portal/, "no Postgres internals in the message");
    }
});

test("query filters are read reliably (the same request 40 times)", async () => {
    const failures = [];
    for (let i = 0; i < 40; i++) {
        const r = await A.invoke(`calls?limit=2&status=ended&assistantId=${asstA.id}`, { method: "GET" });
        if (r.status !== 200 || JSON.stringify(callIds(r.body)) !== JSON.stringify([c1]))
            failures.push(`#${i}: ${r.status} ${JSON.stringify(r.body).slice(0, 160)}`);
    }
    assert.deepEqual(failures, []);
});

test("cursor pagination", async () => {
    const p1 = await A.invoke("calls?limit=2", { method: "GET" });
    expectStatus(p1, 200);
    assert.deepEqual(callIds(p1.body), [c3, c2]);
    assert.equal(typeof p1.body.nextCursor, "string");
    const p2 = await A.invoke(`calls?limit=2&cursor=${encodeURIComponent(p1.body.nextCursor)}`, { method: "GET" });
    expectStatus(p2, 200, `GET calls?limit=2&cursor=${encodeURIComponent(p1.body.nextCursor)}`);
    assert.deepEqual(callIds(p2.body), [c1]);
    assert.equal(p2.body.nextCursor, null);
    const e1 = await A.invoke("calls", { body: { action: "list", limit: 1 } });
    assert.deepEqual(callIds(e1.body), [c3]);
    const e2 = await A.invoke("calls", { body: { action: "list", limit: 1, cursor: e1.body.nextCursor } });
    assert.deepEqual(callIds(e2.body), [c2]);
    const e3 = await A.invoke("calls", { body: { action: "list", limit: 1, cursor: e2.body.nextCursor } });
    assert.deepEqual(callIds(e3.body), [c1]);
    assert.equal(e3.body.nextCursor, null);
    const f1 = await A.invoke(`calls?limit=1&status=queued`, { method: "GET" });
    assert.deepEqual(callIds(f1.body), [c3]);
    assert.equal(f1.body.nextCursor, null, "the filter applies to the cursor's page count");
});

test("get: the call with its turns and events", async () => {
    const r = await A.invoke(`calls/${c1}`, { method: "GET" });
    expectStatus(r, 200);
    const call = r.body;
    assert.equal(call.id, c1);
    assert.equal(call.status, "ended");
    assert.equal(call.assistantId, asstA.id);
    const report = example("12-end-of-call-report.json").message;
    assert.equal(call.endedReason, report.endedReason);
    assert.equal(call.messages.length, report.artifact.messages.length, "turns from the end-of-call report");
    assert.deepEqual(call.messages.map((m) => m.role), report.artifact.messages.map((m) => m.role));
    assert.equal(call.events.length, C1_MESSAGES.length);
    assert.deepEqual(call.events.map((e) => e.type), ["status-update", "status-update", "conversation-update", "end-of-call-report"]);
    assert.equal(call.eventsNextCursor, null);
    // The events in pages of three, then one: the same events in the same order.
    const first = await A.invoke(`calls/${c1}?eventsLimit=3`, { method: "GET" });
    expectStatus(first, 200);
    assert.equal(first.body.events.length, 3);
    assert.equal(typeof first.body.eventsNextCursor, "string");
    const rest = await A.invoke("calls", { body: { action: "get", id: c1, eventsLimit: 3, eventsCursor: first.body.eventsNextCursor } });
    expectStatus(rest, 200);
    assert.deepEqual([...first.body.events, ...rest.body.events], call.events);
    assert.equal(rest.body.eventsNextCursor, null);
    const e = await A.invoke("calls", { body: { action: "get", id: c2 } });
    expectStatus(e, 200);
    assert.equal(e.body.id, c2);
    assert.equal(e.body.events.length, 2);
    assert.deepEqual(e.body.messages, []);
    const p = await A.invoke(`calls/${c3}`, { body: {} });
    expectStatus(p, 200, "POST calls/<id> (get)");
    assert.equal(p.body.id, c3);
});

test("user B never sees A's calls; nobody sees a call of no one's assistant", async () => {
    expectError(await B.invoke(`calls/${c1}`, { method: "GET" }), 404, "B gets A's call");
    expectError(await B.invoke("calls", { body: { action: "get", id: c1 } }), 404, "B action get");
    assert.deepEqual(callIds((await B.invoke(`calls?assistantId=${asstA.id}`, { method: "GET" })).body), []);
    const g = await B.invoke(`calls/${cB}`, { method: "GET" });
    expectStatus(g, 200);
    assert.equal(g.body.assistantId, asstB.id);
    expectError(await A.invoke(`calls/${cB}`, { method: "GET" }), 404);
    expectError(await A.invoke(`calls/${cNobody}`, { method: "GET" }), 404);
    expectError(await A.invoke(`calls/${randomUUID()}`, { method: "GET" }), 404);
});

test("a call is also the caller's through its workflow (workflowId filter)", async () => {
    const C = await user({ signer: "rs1" });
    const wf = await C.invoke("workflows", { body: { name: "C flow", nodes: [{ type: "conversation", name: "start", isStart: true, prompt: "Hi" }], edges: [] } });
    expectStatus(wf, 201);
    const cW = randomUUID();
    const body = adapted("02-status-update-queued.json", { callId: cW, assistantId: randomUUID(), createdAt: T2 });
    delete body.message.call.assistantId;
    body.message.call.workflowId = wf.body.id;
    assert.equal((await webhook(body)).status, 200);
    await untilListed(C, 1);
    const all = await C.invoke("calls", { method: "GET" });
    expectStatus(all, 200);
    assert.deepEqual(callIds(all.body), [cW]);
    assert.equal(all.body.data[0].workflowId, wf.body.id);
    const f = await C.invoke(`calls?workflowId=${wf.body.id}`, { method: "GET" });
    assert.deepEqual(callIds(f.body), [cW]);
    assert.deepEqual(callIds((await A.invoke(`calls?workflowId=${wf.body.id}`, { method: "GET" })).body), []);
    expectError(await A.invoke(`calls/${cW}`, { method: "GET" }), 404);
    expectStatus(await C.invoke(`calls/${cW}`, { method: "GET" }), 200);
});

test("cursor paging over calls with equal createdAt: every call exactly once", async () => {
    const D = await user({ signer: "hs" });
    const asst = (await D.invoke("assistants", { body: { name: "Busy line" } })).body;
    const seeded = [];
    for (let i = 0; i < 12; i++) {
        const id = randomUUID();
        seeded.push(id);
        assert.equal((await webhook(adapted("02-status-update-queued.json", { callId: id, assistantId: asst.id, createdAt: T1 }))).status, 200);
    }
    await untilListed(D, 12);
    const seen = [];
    const sizes = [];
    let cursor = null;
    for (let page = 0; page < 10; page++) {
        const q = cursor ? `calls?limit=5&cursor=${encodeURIComponent(cursor)}` : "calls?limit=5";
        const r = await D.invoke(q, { method: "GET" });
        expectStatus(r, 200, q);
        seen.push(...callIds(r.body));
        sizes.push(r.body.data.length);
        cursor = r.body.nextCursor;
        if (!cursor) break;
    }
    assert.deepEqual(sizes, [5, 5, 2]);
    assert.equal(new Set(seen).size, 12, "no call twice");
    assert.deepEqual([...seen].sort(), [...seeded].sort(), "every call once");
});

test("webhook endpoint refusals are documented too", async () => {
    const bad = await raw("POST", "/receive", { headers: { "content-type": "application/json", "x-vapi-secret": process.env.MANAGE_JS_WEBHOOK_SECRET }, body: "{not json" });
    expectError(bad, 400);
});
