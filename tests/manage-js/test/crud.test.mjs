// Assistants and workflows: REST forms and the {action, id, data} envelope, with two users.
import { test } from "node:test";
import assert from "node:assert/strict";
import { cfg, user, fake, expectStatus, expectError, randomUUID } from "../support/lib.mjs";

const PUBLIC_RECEIVE = "https://switchboard.test.example/receive";
const A = await user({ signer: "hs" });                          // functions.setAuth(token)
const B = await user({ signer: "es1", perCallHeaders: true });   // headers: {Authorization}

function headerValue(headers, name) {
    const k = Object.keys(headers ?? {}).find((h) => h.toLowerCase() === name.toLowerCase());
    return k === undefined ? undefined : headers[k];
}

// server.url is switchboard's; Vapi holds the webhook secret in server.headers, and no caller is
// shown it (with it anyone could post webhooks into other users' calls).
function checkServer(obj, what, { inVapi = false } = {}) {
    assert.equal(obj.server?.url, PUBLIC_RECEIVE, `${what}: server.url`);
    if (inVapi) {
        assert.equal(headerValue(obj.server?.headers, "X-Vapi-Secret"), cfg.webhookSecret, `${what}: server.headers`);
    } else {
        assert.ok(!JSON.stringify(obj).includes(cfg.webhookSecret), `${what}: the webhook secret is not shown`);
    }
}

const ids = (list) => list.map((x) => x.id);
const fakeById = async (kind, id) => (await fake.state())[kind].find((x) => x.id === id);

// Compares the 404 for another user's id with the 404 for an id that does not exist.
async function sameAsMissing(u, fn, id, options) {
    const theirs = await u.invoke(`${fn}/${id}`, options);
    const missingId = randomUUID();
    const missing = await u.invoke(`${fn}/${missingId}`, options);
    expectError(theirs, 404, `${options.method ?? "POST"} ${fn}/<other user's id>`);
    expectError(missing, 404, `${options.method ?? "POST"} ${fn}/<missing id>`);
    assert.equal(theirs.body.error.replaceAll(id, "<id>"), missing.body.error.replaceAll(missingId, "<id>"),
        "the 404 for another user's id must read like the one for a missing id");
}

let a1, a2, a3;

test("assistants: create (REST, envelope, {data}); server.url set unless given", async () => {
    const r1 = await A.invoke("assistants", {
        body: {
            name: "Riley",
            firstMessage: "Hi, this is Riley from Maple Street Dental.",
            model: { provider: "openai", model: "gpt-4o", messages: [{ role: "system", content: "Be concise." }] },
            voice: { provider: "11labs", voiceId: "burt" },
        },
    });
    expectStatus(r1, 201, "create");
    a1 = r1.body;
    assert.equal(a1.name, "Riley");
    assert.equal(a1.model.model, "gpt-4o");
    checkServer(a1, "created assistant");
    const inVapi = await fakeById("assistants", a1.id);
    assert.ok(inVapi, "the assistant exists in Vapi");
    assert.equal(inVapi.name, "Riley");
    checkServer(inVapi, "assistant in Vapi", { inVapi: true });

    const r2 = await A.invoke("assistants", { body: { action: "create", data: { name: "Second" } } });
    expectStatus(r2, 201, "create (envelope)");
    a2 = r2.body;
    assert.equal(a2.name, "Second");
    assert.equal(r2.body.action, undefined);

    const r3 = await A.invoke("assistants", { body: { data: { name: "Own server", server: { url: "https://elsewhere.example/hook" } } } });
    expectStatus(r3, 201, "create ({data})");
    a3 = r3.body;
    assert.equal(a3.name, "Own server");
    assert.equal(a3.server.url, "https://elsewhere.example/hook", "a caller's server.url is kept");
    assert.equal((await fakeById("assistants", a3.id)).server.url, "https://elsewhere.example/hook");
    assert.equal(new Set([a1.id, a2.id, a3.id]).size, 3);
});

test("assistants: list (GET, action list, POST without body is create so not used), newest first, limit", async () => {
    const g = await A.invoke("assistants", { method: "GET" });
    expectStatus(g, 200);
    assert.deepEqual(ids(g.body), [a3.id, a2.id, a1.id]);
    const l = await A.invoke("assistants", { body: { action: "list" } });
    expectStatus(l, 200);
    assert.deepEqual(ids(l.body), [a3.id, a2.id, a1.id]);
    const one = await A.invoke("assistants?limit=1", { method: "GET" });
    expectStatus(one, 200);
    assert.deepEqual(ids(one.body), [a3.id]);
    const older = await A.invoke(`assistants?createdAtLt=${encodeURIComponent(a2.createdAt)}`, { method: "GET" });
    expectStatus(older, 200);
    assert.deepEqual(ids(older.body), [a1.id]);
});

test("assistants: supabase-js extras — region (x-region header, forceFunctionRegion query) is ignored", async () => {
    const r = await A.invoke("assistants", { method: "GET", region: "us-east-1" });
    expectStatus(r, 200, "GET with region");
    assert.deepEqual(ids(r.body), [a3.id, a2.id, a1.id]);
    const e = await A.invoke("assistants", { body: { action: "list" }, region: "eu-west-1" });
    expectStatus(e, 200, "POST list with region");
    assert.deepEqual(ids(e.body), [a3.id, a2.id, a1.id]);
});

test("assistants: get (REST, envelope with id)", async () => {
    const g = await A.invoke(`assistants/${a1.id}`, { method: "GET" });
    expectStatus(g, 200);
    assert.equal(g.body.id, a1.id);
    assert.equal(g.body.name, "Riley");
    const e = await A.invoke("assistants", { body: { action: "get", id: a1.id } });
    expectStatus(e, 200);
    assert.equal(e.body.id, a1.id);
    const p = await A.invoke(`assistants/${a1.id}`, { body: { action: "get" } });
    expectStatus(p, 200);
    assert.equal(p.body.id, a1.id);
    const bare = await A.invoke(`assistants/${a1.id}`);
    expectStatus(bare, 200, "POST <fn>/<id> with an empty payload is get");
    assert.equal(bare.body.id, a1.id);
    assert.equal(bare.body.name, "Riley");
});

test("assistants: update (PATCH, PATCH {data}, PUT, action update) reaches Vapi", async () => {
    let r = await A.invoke(`assistants/${a1.id}`, { method: "PATCH", body: { name: "Riley 2" } });
    expectStatus(r, 200, "PATCH");
    assert.equal(r.body.name, "Riley 2");
    assert.equal(r.body.id, a1.id);
    assert.equal((await fakeById("assistants", a1.id)).name, "Riley 2");
    r = await A.invoke(`assistants/${a1.id}`, { method: "PATCH", body: { data: { firstMessage: "Hello there" } } });
    expectStatus(r, 200, "PATCH {data}");
    assert.equal(r.body.firstMessage, "Hello there");
    assert.equal(r.body.name, "Riley 2");
    r = await A.invoke(`assistants/${a1.id}`, { method: "PUT", body: { name: "Riley 3" } });
    expectStatus(r, 200, "PUT");
    assert.equal(r.body.name, "Riley 3");
    r = await A.invoke(`assistants/${a1.id}`, { body: { name: "Riley 3b" } });
    expectStatus(r, 200, "POST <fn>/<id> with a payload is update");
    assert.equal(r.body.name, "Riley 3b");
    assert.equal((await fakeById("assistants", a1.id)).name, "Riley 3b");
    r = await A.invoke("assistants", { body: { action: "update", id: a1.id, data: { name: "Riley 4" } } });
    expectStatus(r, 200, "action update");
    assert.equal(r.body.name, "Riley 4");
    assert.equal((await fakeById("assistants", a1.id)).name, "Riley 4");
    const g = await A.invoke(`assistants/${a1.id}`, { method: "GET" });
    assert.equal(g.body.name, "Riley 4");
    assert.equal(g.body.firstMessage, "Hello there");
});

test("assistants: user B never sees, changes or learns of user A's", async () => {
    const l = await B.invoke("assistants", { method: "GET" });
    expectStatus(l, 200);
    assert.deepEqual(l.body, []);
    const le = await B.invoke("assistants", { body: { action: "list" } });
    assert.deepEqual(le.body, []);
    await sameAsMissing(B, "assistants", a1.id, { method: "GET" });
    await sameAsMissing(B, "assistants", a1.id, { method: "PATCH", body: { name: "hijacked" } });
    await sameAsMissing(B, "assistants", a1.id, { method: "DELETE" });
    expectError(await B.invoke("assistants", { body: { action: "get", id: a1.id } }), 404, "action get");
    expectError(await B.invoke("assistants", { body: { action: "update", id: a1.id, data: { name: "hijacked" } } }), 404, "action update");
    expectError(await B.invoke("assistants", { body: { action: "delete", id: a1.id } }), 404, "action delete");
    expectError(await B.invoke(`assistants/${a1.id}`, { body: { name: "hijacked" } }), 404, "POST <id> update");
    expectError(await B.invoke(`assistants/${a1.id}`), 404, "POST <id> get");
    const inVapi = await fakeById("assistants", a1.id);
    assert.ok(inVapi, "still in Vapi");
    assert.equal(inVapi.name, "Riley 4");
    const mine = await A.invoke("assistants", { method: "GET" });
    assert.deepEqual(ids(mine.body), [a3.id, a2.id, a1.id]);
    // B's own assistant is not visible to A either
    const b1 = await B.invoke("assistants", { body: { name: "B's" } });
    expectStatus(b1, 201);
    expectError(await A.invoke(`assistants/${b1.body.id}`, { method: "GET" }), 404, "A gets B's");
    assert.deepEqual(ids((await B.invoke("assistants", { method: "GET" })).body), [b1.body.id]);
    assert.deepEqual(ids((await A.invoke("assistants", { method: "GET" })).body), [a3.id, a2.id, a1.id]);
});

test("assistants: invalid input, Vapi's refusal, unknown ids, methods and functions", async () => {
    const long = await A.invoke("assistants", { body: { name: "x".repeat(41) } });
    expectError(long, 422, "name over 40 characters (Vapi's 400)");
    assert.match(long.body.error, /name/i, "Vapi's message is kept");
    expectError(await A.invoke("assistants", { body: [1, 2, 3] }), 400, "a JSON body that is not an object");
    // supabase-js sends a string body as text/plain: a JSON text is still JSON (the original
    // Edge Functions read it with req.json()); a form is neither JSON nor multipart.
    const asText = await A.invoke("assistants", { body: JSON.stringify({ name: "From a string" }) });
    expectStatus(asText, 201, "JSON text sent as text/plain");
    assert.equal(asText.body.name, "From a string");
    expectStatus(await A.invoke(`assistants/${asText.body.id}`, { method: "DELETE" }), 200, "delete it again");
    expectError(await A.invoke("assistants", { body: "name=Riley" }), [400, 415], "text/plain body that is not JSON");
    expectError(await A.invoke("assistants", { body: "name=Riley", headers: { "Content-Type": "application/x-www-form-urlencoded" } }), 415, "a form body");
    expectError(await A.invoke(`assistants/${randomUUID()}`, { method: "GET" }), 404, "unknown id");
    const badTime = await A.invoke("assistants?createdAtLt=not-a-time", { method: "GET" });
    expectError(badTime, 400, "bad createdAtLt");
    assert.match(badTime.body.error, /createdAtLt/);
    assert.doesNotMatch(badTime.body.error, /ERROR:|CONTEXT:|portal/, "no Postgres internals in the message");
    expectError(await A.invoke("assistants", { body: { action: "get" } }), 400, "action get without id");
    expectError(await A.invoke("assistants", { body: { action: "explode" } }), 400, "unknown action");
    expectError(await A.invoke("no-such-function", { method: "GET" }), 404, "unknown function");
    const del = await A.invoke("calls", { method: "DELETE" });
    expectError(del, 405, "DELETE calls (calls are read-only)");
    assert.match(del.headers.get("allow") ?? "", /GET/);
    const patch = await A.invoke(`calls/${randomUUID()}`, { method: "PATCH", body: { status: "ended" } });
    expectError(patch, 405, "PATCH calls/<id>");
    assert.match(patch.headers.get("allow") ?? "", /GET/);
    const names = (await fake.state()).assistants.map((x) => x.name);
    assert.ok(!names.includes("x".repeat(41)));
});

test("assistants: get refreshes the mirror from Vapi; Vapi's 404 removes the mirror row", async () => {
    const changed = await fake.api("PATCH", `/assistant/${a1.id}`, { name: "Changed in dashboard" });
    assert.equal(changed.status, 200);
    const g = await A.invoke(`assistants/${a1.id}`, { method: "GET" });
    expectStatus(g, 200);
    assert.equal(g.body.name, "Changed in dashboard");
    const listed = (await A.invoke("assistants", { method: "GET" })).body.find((x) => x.id === a1.id);
    assert.equal(listed.name, "Changed in dashboard", "the list (mirror) was refreshed by get");
    const gone = (await A.invoke("assistants", { body: { name: "Deleted in dashboard" } })).body;
    assert.equal((await fake.api("DELETE", `/assistant/${gone.id}`)).status, 200);
    const d = await A.invoke(`assistants/${gone.id}`, { method: "GET" });
    expectError(d, 404, "get of an assistant deleted in Vapi");
    assert.ok(!(await A.invoke("assistants", { method: "GET" })).body.some((x) => x.id === gone.id), "mirror row removed");
    await A.invoke(`assistants/${a1.id}`, { method: "PATCH", body: { name: "Riley 4" } });
});

test("assistants: a JSON body over the management body limit → 413, nothing created", async () => {
    const before = (await fake.state()).assistants.length;
    const big = await A.invoke("assistants", { body: { name: "Big", firstMessage: "x".repeat(cfg.maxUploadBytes + 100) } });
    expectError(big, 413, "JSON body over SWITCHBOARD_MAX_UPLOAD_BYTES");
    assert.equal((await fake.state()).assistants.length, before);
});

test("assistants: delete (REST and envelope) in Vapi and the mirror", async () => {
    const d = await A.invoke(`assistants/${a2.id}`, { method: "DELETE" });
    expectStatus(d, 200, "DELETE");
    assert.equal(d.body.id, a2.id);
    assert.equal(d.body.name, "Second");
    assert.equal(await fakeById("assistants", a2.id), undefined);
    const e = await A.invoke("assistants", { body: { action: "delete", id: a3.id } });
    expectStatus(e, 200, "action delete");
    assert.equal(e.body.id, a3.id);
    assert.equal(await fakeById("assistants", a3.id), undefined);
    assert.deepEqual(ids((await A.invoke("assistants", { method: "GET" })).body), [a1.id]);
    expectError(await A.invoke(`assistants/${a2.id}`, { method: "GET" }), 404, "deleted");
    expectError(await A.invoke(`assistants/${a2.id}`, { method: "DELETE" }), 404, "deleted twice");
});

test("assistants: concurrent creates by two users (Promise.all) — all succeed, each sees only its own", async () => {
    const C = await user({ signer: "rs1" });
    const D = await user({ signer: "hs", perCallHeaders: true });
    const [cs, ds] = await Promise.all([
        Promise.all(Array.from({ length: 8 }, (_, i) => C.invoke("assistants", { body: { name: `C ${i}` } }))),
        Promise.all(Array.from({ length: 8 }, (_, i) => D.invoke("assistants", { body: { action: "create", data: { name: `D ${i}` } } }))),
    ]);
    for (const r of [...cs, ...ds]) expectStatus(r, 201, "concurrent create");
    const cl = (await C.invoke("assistants", { method: "GET" })).body;
    const dl = (await D.invoke("assistants", { method: "GET" })).body;
    assert.deepEqual(ids(cl).sort(), ids(cs.map((r) => r.body)).sort());
    assert.deepEqual(ids(dl).sort(), ids(ds.map((r) => r.body)).sort());
    assert.deepEqual(cl.map((a) => a.name).sort(), Array.from({ length: 8 }, (_, i) => `C ${i}`).sort());
    const dels = await Promise.all(cl.map((a) => C.invoke(`assistants/${a.id}`, { method: "DELETE" })));
    for (const r of dels) expectStatus(r, 200, "concurrent delete");
    assert.deepEqual((await C.invoke("assistants", { method: "GET" })).body, []);
    assert.equal((await D.invoke("assistants", { method: "GET" })).body.length, 8);
});

// ------------------------------------------------------------------ workflows

const NODES = [
    { type: "conversation", name: "greet", isStart: true, prompt: "Greet the caller." },
    { type: "conversation", name: "book", prompt: "Book the appointment." },
];
const EDGES = [{ from: "greet", to: "book" }];
let w1, w2;

test("workflows: create (REST and envelope), server.url set", async () => {
    const r = await A.invoke("workflows", { body: { name: "Booking", nodes: NODES, edges: EDGES } });
    expectStatus(r, 201, "create");
    w1 = r.body;
    assert.equal(w1.name, "Booking");
    assert.equal(w1.nodes.length, 2);
    assert.deepEqual(w1.edges.map((e) => [e.from, e.to]), [["greet", "book"]]);
    checkServer(w1, "workflow");
    checkServer(await fakeById("workflows", w1.id), "workflow in Vapi", { inVapi: true });
    const r2 = await A.invoke("workflows", { body: { action: "create", data: { name: "Triage", nodes: NODES.slice(0, 1), edges: [] } } });
    expectStatus(r2, 201, "create (envelope)");
    w2 = r2.body;
    assert.equal(w2.name, "Triage");
    const bad = await A.invoke("workflows", { body: { name: "No nodes" } });
    expectError(bad, [400, 422], "workflow without nodes/edges");
    assert.match(bad.body.error, /nodes|edges/);
    assert.ok(!(await fake.state()).workflows.some((w) => w.name === "No nodes"));
});

test("workflows: list, get, update", async () => {
    assert.deepEqual(ids((await A.invoke("workflows", { method: "GET" })).body), [w2.id, w1.id]);
    assert.deepEqual(ids((await A.invoke("workflows", { body: { action: "list" } })).body), [w2.id, w1.id]);
    const g = await A.invoke(`workflows/${w1.id}`, { method: "GET" });
    expectStatus(g, 200);
    assert.equal(g.body.name, "Booking");
    assert.equal((await A.invoke("workflows", { body: { action: "get", id: w1.id } })).body.id, w1.id);
    const u = await A.invoke(`workflows/${w1.id}`, { method: "PATCH", body: { name: "Booking v2" } });
    expectStatus(u, 200);
    assert.equal(u.body.name, "Booking v2");
    const u2 = await A.invoke("workflows", { body: { action: "update", id: w2.id, data: { name: "Triage v2" } } });
    expectStatus(u2, 200);
    assert.equal(u2.body.name, "Triage v2");
    const pg = await A.invoke(`workflows/${w2.id}`);
    expectStatus(pg, 200, "POST workflows/<id> empty: get");
    assert.equal(pg.body.name, "Triage v2");
    const pu = await A.invoke(`workflows/${w2.id}`, { body: { name: "Triage v3" } });
    expectStatus(pu, 200, "POST workflows/<id> with a payload: update");
    assert.equal(pu.body.name, "Triage v3");
    const put = await A.invoke(`workflows/${w2.id}`, { method: "PUT", body: { name: "Triage v4" } });
    expectStatus(put, 200, "PUT workflows/<id>");
    assert.equal(put.body.name, "Triage v4");
    assert.equal((await fakeById("workflows", w2.id)).name, "Triage v4");
    assert.equal((await fakeById("workflows", w1.id)).name, "Booking v2");
});

test("workflows: user B isolated", async () => {
    assert.deepEqual((await B.invoke("workflows", { method: "GET" })).body, []);
    await sameAsMissing(B, "workflows", w1.id, { method: "GET" });
    await sameAsMissing(B, "workflows", w1.id, { method: "PATCH", body: { name: "hijacked" } });
    await sameAsMissing(B, "workflows", w1.id, { method: "DELETE" });
    expectError(await B.invoke("workflows", { body: { action: "delete", id: w1.id } }), 404);
    assert.equal((await fakeById("workflows", w1.id)).name, "Booking v2");
});

test("workflows: delete (REST and envelope)", async () => {
    const d = await A.invoke(`workflows/${w1.id}`, { method: "DELETE" });
    expectStatus(d, 200);
    assert.equal(d.body.id, w1.id);
    const e = await A.invoke("workflows", { body: { action: "delete", id: w2.id } });
    expectStatus(e, 200);
    assert.equal(e.body.id, w2.id);
    assert.deepEqual((await A.invoke("workflows", { method: "GET" })).body, []);
    const st = await fake.state();
    assert.ok(!st.workflows.some((w) => w.id === w1.id || w.id === w2.id));
});
