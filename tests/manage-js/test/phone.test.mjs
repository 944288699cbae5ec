// Phone numbers: provision (buy by area code, import Twilio, claim an org number found by
// search), list, get, update, assign (feeds assistant-request routing), release; two users.
import { test } from "node:test";
import assert from "node:assert/strict";
import { user, fake, webhook, example, expectStatus, expectError, randomUUID } from "../support/lib.mjs";

const PUBLIC_RECEIVE = "https://switchboard.test.example/receive";
const A = await user({ signer: "rs1" });
const B = await user({ signer: "hs", perCallHeaders: true });
const ids = (list) => list.map((x) => x.id);
const fakeNumber = async (id) => (await fake.state()).phoneNumbers.find((x) => x.id === id);

let asstA, wfA, asstB, bought, twilio, claimed, spareNyc, spareLa;

/// The reply to assistant-request once the routing cache has caught up (NOTIFY; "within
/// milliseconds"): polls up to 3 s for `expected`, returns the last reply.
async function eventualRoute(phoneNumberId, expected) {
    const t0 = Date.now();
    let r;
    do {
        r = await routeOf(phoneNumberId);
        if (JSON.stringify(r) === JSON.stringify(expected)) return r;
        await new Promise((res) => setTimeout(res, 50));
    } while (Date.now() - t0 < 3000);
    return r;
}

/// assistant-request for a call to `phoneNumberId`: switchboard's reply.
async function routeOf(phoneNumberId) {
    const body = example("01-assistant-request.json");
    body.message.call.id = randomUUID();
    body.message.call.phoneNumberId = phoneNumberId;
    delete body.message.phoneNumber; // no fallback on the example's number
    body.message.timestamp = Date.now();
    const r = await webhook(body);
    assert.equal(r.status, 200);
    return r.body;
}

test("setup: assistants and a workflow for both users; spare numbers in the org", async () => {
    asstA = (await A.invoke("assistants", { body: { name: "A front desk" } })).body;
    wfA = (await A.invoke("workflows", { body: { name: "A flow", nodes: [{ type: "conversation", name: "start", isStart: true, prompt: "Hi" }], edges: [] } })).body;
    asstB = (await B.invoke("assistants", { body: { name: "B front desk" } })).body;
    assert.ok(asstA.id && wfA.id && asstB.id);
    const nyc = await fake.api("POST", "/phone-number", { provider: "twilio", number: "+12125550100", twilioAccountSid: "AC0000000000000000000000000000nyc", name: "Org spare NYC" });
    const la = await fake.api("POST", "/phone-number", { provider: "twilio", number: "+13105550111", twilioAccountSid: "AC00000000000000000000000000000la", name: "Org spare LA" });
    assert.equal(nyc.status, 201, JSON.stringify(nyc.body));
    assert.equal(la.status, 201, JSON.stringify(la.body));
    spareNyc = nyc.body;
    spareLa = la.body;
});

test("provision: buy a Vapi number by area code (default POST and action provision)", async () => {
    const r = await A.invoke("phone-numbers", { body: { provider: "vapi", areaCode: "415", name: "Main line" } });
    expectStatus(r, 201, "buy");
    bought = r.body;
    assert.equal(bought.provider, "vapi");
    assert.match(bought.number, /^\+1415/);
    assert.equal(bought.name, "Main line");
    assert.equal(bought.server?.url, PUBLIC_RECEIVE);
    assert.equal(bought.assistantId ?? null, null);
    const inVapi = await fakeNumber(bought.id);
    assert.ok(inVapi, "bought in Vapi");
    assert.equal(inVapi.server?.url, PUBLIC_RECEIVE);
    assert.equal(inVapi.assistantId ?? null, null, "the Vapi number keeps no route (assistant-request is sent)");
    const bad = await A.invoke("phone-numbers", { body: { action: "provision", data: { provider: "vapi", areaCode: "41" } } });
    expectError(bad, [400, 422], "area code of 2 digits");
});

test("provision with a route: the route is switchboard's, another user's assistant is 404", async () => {
    const r = await A.invoke("phone-numbers", { body: { provider: "vapi", areaCode: "917", name: "Routed at birth", assistantId: asstA.id } });
    expectStatus(r, 201, "buy with assistantId");
    assert.equal(r.body.assistantId, asstA.id);
    assert.equal((await fakeNumber(r.body.id)).assistantId ?? null, null, "Vapi's number keeps no route");
    assert.deepEqual(await eventualRoute(r.body.id, { assistantId: asstA.id }), { assistantId: asstA.id });
    const before = (await fake.state()).phoneNumbers.length;
    expectError(await A.invoke("phone-numbers", { body: { provider: "vapi", areaCode: "917", assistantId: asstB.id } }), 404, "buy routed to B's assistant");
    assert.equal((await fake.state()).phoneNumbers.length, before, "nothing bought");
    expectStatus(await A.invoke(`phone-numbers/${r.body.id}/release`, { body: {} }), 200, "release it again");
});

test("provision: import a Twilio number ({action, data})", async () => {
    const r = await A.invoke("phone-numbers", {
        body: { action: "provision", data: { provider: "twilio", number: "+14155550123", twilioAccountSid: "AC3f9b2d7e1c4a58b6e0d2f7a9c1b3e5d7", twilioAuthToken: "secret-token", name: "Twilio line" } },
    });
    expectStatus(r, 201, "import twilio");
    twilio = r.body;
    assert.equal(twilio.provider, "twilio");
    assert.equal(twilio.number, "+14155550123");
    assert.equal(twilio.name, "Twilio line");
    const inVapi = await fakeNumber(twilio.id);
    assert.equal(inVapi.twilioAccountSid, "AC3f9b2d7e1c4a58b6e0d2f7a9c1b3e5d7");
    const missing = await A.invoke("phone-numbers", { body: { provider: "twilio", number: "+14155550124" } });
    expectError(missing, [400, 422], "twilio without twilioAccountSid");
    assert.ok(!(await fake.state()).phoneNumbers.some((n) => n.number === "+14155550124"));
});

test("provision: import Vonage, Telnyx and BYO numbers; release them", async () => {
    const cred = randomUUID();
    const cases = [
        { provider: "vonage", number: "+14155550170", credentialId: cred, name: "Vonage line" },
        { provider: "telnyx", number: "+14155550171", credentialId: cred, name: "Telnyx line" },
        { provider: "byo-phone-number", number: "+14155550172", credentialId: cred, name: "SIP trunk line" },
    ];
    for (const data of cases) {
        const r = await A.invoke("phone-numbers", { body: { action: "provision", data } });
        expectStatus(r, 201, `import ${data.provider}`);
        assert.equal(r.body.provider, data.provider);
        assert.equal(r.body.number, data.number);
        assert.equal(r.body.server?.url, PUBLIC_RECEIVE);
        assert.equal((await fakeNumber(r.body.id)).credentialId, cred);
        const d = await A.invoke(`phone-numbers/${r.body.id}`, { method: "DELETE" });
        expectStatus(d, 200, `release ${data.provider}`);
        assert.equal(await fakeNumber(r.body.id), undefined);
    }
    expectError(await A.invoke("phone-numbers", { body: { provider: "vonage", number: "+14155550173" } }), [400, 422], "vonage without credentialId");
    expectError(await A.invoke("phone-numbers", { body: { provider: "carrier-pigeon", number: "+14155550174" } }), [400, 422], "unknown provider");
});

test("search: the org's unclaimed numbers, with filters (REST and action)", async () => {
    const all = await A.invoke("phone-numbers/search", { body: {} });
    expectStatus(all, 200, "search");
    const found = ids(all.body);
    assert.ok(found.includes(spareNyc.id) && found.includes(spareLa.id), `spares found: ${found}`);
    assert.ok(!found.includes(bought.id) && !found.includes(twilio.id), "claimed numbers are not offered");
    const nyc = await A.invoke("phone-numbers", { body: { action: "search", data: { areaCode: "212" } } });
    expectStatus(nyc, 200);
    assert.deepEqual(ids(nyc.body), [spareNyc.id]);
    const byName = await A.invoke("phone-numbers/search", { body: { search: "spare la" } });
    assert.deepEqual(ids(byName.body), [spareLa.id]);
    const byNumber = await A.invoke("phone-numbers", { body: { action: "search", search: "5550100" } });
    assert.deepEqual(ids(byNumber.body), [spareNyc.id]);
    const vapiOnly = await A.invoke("phone-numbers/search", { body: { provider: "vapi" } });
    assert.ok(!ids(vapiOnly.body).includes(spareNyc.id));
    const viaGet = await A.invoke("phone-numbers/search?areaCode=310", { method: "GET" });
    expectStatus(viaGet, 200, "GET phone-numbers/search?areaCode=310 (filters in the query)");
    assert.deepEqual(ids(viaGet.body), [spareLa.id]);
    const viaQuery = await A.invoke("phone-numbers/search?search=spare%20nyc", { body: {} });
    expectStatus(viaQuery, 200, "POST search with the filter in the query");
    assert.deepEqual(ids(viaQuery.body), [spareNyc.id]);
    const limited = await A.invoke("phone-numbers/search", { body: { limit: 1 } });
    assert.equal(limited.body.length, 1);
});

test("provision {phoneNumberId}: claim an org number; then nobody else can", async () => {
    const r = await A.invoke("phone-numbers", { body: { action: "provision", data: { phoneNumberId: spareNyc.id, name: "NYC office" } } });
    expectStatus(r, 201, "claim");
    claimed = r.body;
    assert.equal(claimed.id, spareNyc.id);
    assert.equal(claimed.number, "+12125550100");
    const inVapi = await fakeNumber(spareNyc.id);
    assert.equal(inVapi.server?.url, PUBLIC_RECEIVE, "a claimed number routes through switchboard");
    const bSearch = await B.invoke("phone-numbers/search", { body: {} });
    expectStatus(bSearch, 200);
    assert.ok(!ids(bSearch.body).includes(spareNyc.id), "claimed: no longer offered");
    assert.ok(ids(bSearch.body).includes(spareLa.id));
    // Another user's number is indistinguishable from one that does not exist (same status and
    // the same message shape).
    const taken = await B.invoke("phone-numbers", { body: { phoneNumberId: spareNyc.id } });
    expectError(taken, 404, "claimed by another user");
    const missingId = randomUUID();
    const missing = await B.invoke("phone-numbers", { body: { phoneNumberId: missingId } });
    expectError(missing, 404, "claim of a number not in the org");
    assert.equal(taken.body.error.replace(spareNyc.id, "<id>"), missing.body.error.replace(missingId, "<id>"));
});

test("list and get (REST and action), newest first, only the caller's", async () => {
    const l = await A.invoke("phone-numbers", { method: "GET" });
    expectStatus(l, 200);
    // newest first by the number's createdAt in Vapi (the claimed org number is the oldest)
    assert.deepEqual(ids(l.body), [twilio.id, bought.id, claimed.id]);
    assert.deepEqual(ids((await A.invoke("phone-numbers", { body: { action: "list" } })).body), [twilio.id, bought.id, claimed.id]);
    const g = await A.invoke(`phone-numbers/${twilio.id}`, { method: "GET" });
    expectStatus(g, 200);
    assert.equal(g.body.number, "+14155550123");
    assert.equal((await A.invoke("phone-numbers", { body: { action: "get", id: bought.id } })).body.id, bought.id);
    assert.deepEqual((await B.invoke("phone-numbers", { method: "GET" })).body, []);
});

test("update: name (PATCH and action)", async () => {
    const u = await A.invoke(`phone-numbers/${twilio.id}`, { method: "PATCH", body: { name: "Support line" } });
    expectStatus(u, 200);
    assert.equal(u.body.name, "Support line");
    assert.equal((await fakeNumber(twilio.id)).name, "Support line");
    const put = await A.invoke(`phone-numbers/${twilio.id}`, { method: "PUT", body: { name: "Support (PUT)" } });
    expectStatus(put, 200, "PUT");
    assert.equal(put.body.name, "Support (PUT)");
    const u2 = await A.invoke("phone-numbers", { body: { action: "update", id: twilio.id, data: { name: "Support" } } });
    expectStatus(u2, 200);
    assert.equal(u2.body.name, "Support");
});

test("assign: route to an assistant, a workflow, a squad, none; assistant-request follows", async () => {
    const before = await routeOf(bought.id);
    assert.ok(before.error || !before.assistantId, `unrouted before: ${JSON.stringify(before)}`);
    let r = await A.invoke(`phone-numbers/${bought.id}/assign`, { body: { assistantId: asstA.id } });
    expectStatus(r, 200, "assign assistant");
    assert.equal(r.body.id, bought.id);
    assert.equal(r.body.assistantId, asstA.id);
    assert.equal(r.body.workflowId ?? null, null);
    assert.deepEqual(await eventualRoute(bought.id, { assistantId: asstA.id }), { assistantId: asstA.id });
    assert.equal((await fakeNumber(bought.id)).assistantId ?? null, null, "Vapi's number keeps no route");
    const g = await A.invoke(`phone-numbers/${bought.id}`, { method: "GET" });
    assert.equal(g.body.assistantId, asstA.id, "get shows the route");

    r = await A.invoke("phone-numbers", { body: { action: "assign", id: bought.id, workflowId: wfA.id } });
    expectStatus(r, 200, "assign workflow (envelope, fields at top level)");
    assert.equal(r.body.workflowId, wfA.id);
    assert.equal(r.body.assistantId ?? null, null);
    assert.deepEqual(await eventualRoute(bought.id, { workflowId: wfA.id }), { workflowId: wfA.id });

    const squad = randomUUID();
    r = await A.invoke("phone-numbers", { body: { action: "assign", id: bought.id, data: { squadId: squad } } });
    expectStatus(r, 200, "assign squad ({data})");
    assert.equal(r.body.squadId, squad);
    assert.deepEqual(await eventualRoute(bought.id, { squadId: squad }), { squadId: squad });

    expectError(await A.invoke(`phone-numbers/${bought.id}/assign`, { body: { assistantId: asstA.id, workflowId: wfA.id } }), 400, "two targets");
    expectError(await A.invoke(`phone-numbers/${bought.id}/assign`, { body: { assistantId: asstB.id } }), 404, "another user's assistant");
    expectError(await A.invoke(`phone-numbers/${bought.id}/assign`, { body: { assistantId: randomUUID() } }), 404, "unknown assistant");
    assert.deepEqual(await eventualRoute(bought.id, { squadId: squad }), { squadId: squad }, "route unchanged by refused assigns");

    r = await A.invoke(`phone-numbers/${bought.id}/assign`, { body: { assistantId: null, workflowId: null, squadId: null } });
    expectStatus(r, 200, "unroute");
    assert.equal(r.body.assistantId ?? null, null);
    assert.equal(r.body.workflowId ?? null, null);
    assert.equal(r.body.squadId ?? null, null);
    const after = await eventualRoute(bought.id, { error: "Sorry, this number is not available right now. Goodbye." });
    assert.ok(!after.assistantId && !after.workflowId && !after.squadId, JSON.stringify(after));

    r = await A.invoke(`phone-numbers/${twilio.id}/assign`, { body: { assistantId: asstA.id } });
    expectStatus(r, 200);
    assert.deepEqual(await eventualRoute(twilio.id, { assistantId: asstA.id }), { assistantId: asstA.id });
});

test("user B cannot see, assign, update or release A's numbers", async () => {
    for (const opts of [{ method: "GET" }, { method: "PATCH", body: { name: "hijacked" } }, { method: "DELETE" }])
        expectError(await B.invoke(`phone-numbers/${twilio.id}`, opts), 404, `B ${opts.method}`);
    expectError(await B.invoke(`phone-numbers/${twilio.id}/assign`, { body: { assistantId: asstB.id } }), 404, "B assign");
    expectError(await B.invoke(`phone-numbers/${twilio.id}/release`, { body: {} }), 404, "B release");
    expectError(await B.invoke("phone-numbers", { body: { action: "release", id: twilio.id } }), 404, "B action release");
    expectError(await B.invoke("phone-numbers", { body: { action: "assign", id: twilio.id, assistantId: asstB.id } }), 404, "B action assign");
    assert.equal((await fakeNumber(twilio.id)).name, "Support");
    assert.deepEqual(await eventualRoute(twilio.id, { assistantId: asstA.id }), { assistantId: asstA.id }, "A's route unchanged");
});

test("update with a route field acts as assign (PATCH and POST <id>)", async () => {
    let r = await A.invoke(`phone-numbers/${claimed.id}`, { method: "PATCH", body: { workflowId: wfA.id } });
    expectStatus(r, 200, "PATCH workflowId");
    assert.equal(r.body.workflowId, wfA.id);
    assert.deepEqual(await eventualRoute(claimed.id, { workflowId: wfA.id }), { workflowId: wfA.id });
    assert.equal((await fakeNumber(claimed.id)).workflowId ?? null, null, "Vapi's number keeps no route");
    r = await A.invoke(`phone-numbers/${claimed.id}`, { body: { assistantId: asstA.id, name: "NYC desk" } });
    expectStatus(r, 200, "POST <id> update with assistantId");
    assert.equal(r.body.assistantId, asstA.id);
    assert.equal(r.body.workflowId ?? null, null);
    assert.equal(r.body.name, "NYC desk");
    assert.deepEqual(await eventualRoute(claimed.id, { assistantId: asstA.id }), { assistantId: asstA.id });
    expectError(await A.invoke(`phone-numbers/${claimed.id}`, { method: "PATCH", body: { assistantId: asstB.id } }), 404, "PATCH to B's assistant");
    r = await A.invoke(`phone-numbers/${claimed.id}`, { method: "PATCH", body: { assistantId: null } });
    expectStatus(r, 200, "PATCH assistantId null");
    assert.equal(r.body.assistantId ?? null, null);
});

test("an assistant or workflow routed by a number cannot be deleted (409); the route stays", async () => {
    const d = await A.invoke(`assistants/${asstA.id}`, { method: "DELETE" });
    expectError(d, 409, "delete a routed assistant");
    assert.deepEqual(await eventualRoute(twilio.id, { assistantId: asstA.id }), { assistantId: asstA.id });
    assert.ok((await fake.state()).assistants.some((a) => a.id === asstA.id), "still in Vapi");
    await A.invoke(`phone-numbers/${bought.id}/assign`, { body: { workflowId: wfA.id } });
    const w = await A.invoke("workflows", { body: { action: "delete", id: wfA.id } });
    expectError(w, 409, "delete a routed workflow");
    assert.ok((await fake.state()).workflows.some((x) => x.id === wfA.id));
    await A.invoke(`phone-numbers/${bought.id}/assign`, { body: { workflowId: null } });
});

test("release (REST sub-route, action, DELETE) removes the number from Vapi and the list", async () => {
    const r = await A.invoke(`phone-numbers/${bought.id}/release`, { body: {} });
    expectStatus(r, 200, "release");
    assert.equal(r.body.id, bought.id);
    assert.equal(await fakeNumber(bought.id), undefined);
    const r2 = await A.invoke("phone-numbers", { body: { action: "release", id: twilio.id } });
    expectStatus(r2, 200, "action release");
    assert.equal(r2.body.id, twilio.id);
    assert.equal(await fakeNumber(twilio.id), undefined);
    const after = await eventualRoute(twilio.id, { error: "Sorry, this number is not available right now. Goodbye." });
    assert.ok(!after.assistantId, "a released number no longer routes");
    const r3 = await A.invoke(`phone-numbers/${claimed.id}`, { method: "DELETE" });
    expectStatus(r3, 200, "DELETE");
    assert.equal(await fakeNumber(claimed.id), undefined);
    assert.deepEqual((await A.invoke("phone-numbers", { method: "GET" })).body, []);
    expectError(await A.invoke(`phone-numbers/${bought.id}`, { method: "GET" }), 404);
});
