// Vapi failures through the fake's fault API: 429 + Retry-After then success; 500, timeout,
// malformed reply, 429 beyond the retries → 502; never a half-created record (the fake's state
// and the API's lists agree).
import { test, afterEach } from "node:test";
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { user, fake, expectStatus, expectError, sleep } from "../support/lib.mjs";

const A = await user({ signer: "hs" });
const ids = (list) => list.map((x) => x.id).sort();

afterEach(async () => {
    await fake.clearFaults();
});

/// The ids of `kind` in the fake and in A's list of `fn`; asserts they agree for A's objects.
async function agree(kind, fn, knownInFake) {
    const st = await fake.state();
    const listed = await A.invoke(fn, { method: "GET" });
    expectStatus(listed, 200, `list ${fn}`);
    const fakeIds = st[kind].map((x) => x.id).filter((id) => !knownInFake.has(id));
    const mirror = ids(listed.body);
    assert.deepEqual(fakeIds.sort(), mirror, `${kind}: Vapi holds ${fakeIds} but ${fn} lists ${mirror}`);
    return mirror;
}

let others; // objects of the other test files in the shared fake
test("baseline", async () => {
    const st = await fake.state();
    others = {
        assistants: new Set(st.assistants.map((x) => x.id)),
        phoneNumbers: new Set(st.phoneNumbers.map((x) => x.id)),
        files: new Set(st.files.map((x) => x.id)),
    };
    assert.deepEqual(await agree("assistants", "assistants", others.assistants), []);
});

test("429 with Retry-After, then success: the create is retried after the pause, one assistant", async () => {
    await fake.clearRequests();
    await fake.faults({ method: "POST", path: "^/assistant$", status: 429, retryAfter: 1, times: 1 });
    const t0 = Date.now();
    const r = await A.invoke("assistants", { body: { name: "After 429" } });
    const elapsed = Date.now() - t0;
    expectStatus(r, 201, "create after a 429");
    assert.equal(r.body.name, "After 429");
    assert.ok(elapsed >= 900, `Retry-After: 1 honoured (took ${elapsed} ms)`);
    const posts = (await fake.requests()).filter((q) => q.method === "POST" && q.path === "/assistant");
    assert.equal(posts.length, 2, "one refused attempt, one retry");
    assert.equal(posts[0].status, 429);
    assert.equal(posts[1].status, 201);
    assert.deepEqual(await agree("assistants", "assistants", others.assistants), [r.body.id]);
});

async function failingCreate(rule, what) {
    const before = await agree("assistants", "assistants", others.assistants);
    await fake.faults({ method: "POST", path: "^/assistant$", times: 20, ...rule });
    const r = await A.invoke("assistants", { body: { name: `Fails ${what}` } });
    expectError(r, 502, what);
    await fake.clearFaults();
    const after = await agree("assistants", "assistants", others.assistants);
    assert.deepEqual(after, before, `${what}: no half-created assistant`);
    assert.ok(!(await fake.state()).assistants.some((a) => a.name === `Fails ${what}`));
    return r;
}

test("500 → 502, nothing created", async () => {
    await failingCreate({ status: 500 }, "500");
});

test("503 on every retry → 502", async () => {
    await failingCreate({ status: 503 }, "503");
});

test("429 on every retry → 502", async () => {
    await failingCreate({ status: 429, retryAfter: 0 }, "429 forever");
});

test("timeout (no answer) → 502", async () => {
    const t0 = Date.now();
    await failingCreate({ delayMs: 4000, close: true }, "timeout");
    assert.ok(Date.now() - t0 < 30000, "within the configured timeouts");
});

test("connection closed → 502", async () => {
    await failingCreate({ close: true }, "closed");
});

test("malformed reply (HTML with 200/201) → 502", async () => {
    await failingCreate({ malformed: true, status: 201 }, "malformed");
});

test("update failing in Vapi leaves the mirror unchanged", async () => {
    const a = (await A.invoke("assistants", { body: { name: "Stable" } })).body;
    await fake.faults({ method: "PATCH", path: "^/assistant/", status: 500, times: 20 });
    expectError(await A.invoke(`assistants/${a.id}`, { method: "PATCH", body: { name: "Changed" } }), 502, "PATCH 500");
    await fake.clearFaults();
    const listed = (await A.invoke("assistants", { method: "GET" })).body.find((x) => x.id === a.id);
    assert.equal(listed.name, "Stable");
    assert.equal((await fake.state()).assistants.find((x) => x.id === a.id).name, "Stable");
});

test("delete failing in Vapi keeps the object listed", async () => {
    const a = (await A.invoke("assistants", { body: { name: "Survivor" } })).body;
    await fake.faults({ method: "DELETE", path: "^/assistant/", status: 500, times: 20 });
    expectError(await A.invoke(`assistants/${a.id}`, { method: "DELETE" }), 502, "DELETE 500");
    await fake.clearFaults();
    assert.ok((await A.invoke("assistants", { method: "GET" })).body.some((x) => x.id === a.id));
    assert.ok((await fake.state()).assistants.some((x) => x.id === a.id));
});

test("provision and upload failing in Vapi → 502, no half-created number or file", async () => {
    const beforeNums = await agree("phoneNumbers", "phone-numbers", others.phoneNumbers);
    await fake.faults({ method: "POST", path: "^/phone-number$", status: 500, times: 20 });
    expectError(await A.invoke("phone-numbers", { body: { provider: "vapi", areaCode: "212" } }), 502, "provision 500");
    await fake.clearFaults();
    assert.deepEqual(await agree("phoneNumbers", "phone-numbers", others.phoneNumbers), beforeNums);

    const beforeFiles = await agree("files", "files", others.files);
    await fake.faults({ method: "POST", path: "^/file$", malformed: true, status: 201, times: 20 });
    const f = new FormData();
    f.append("file", new Blob(["hello"], { type: "text/plain" }), "hello.txt");
    expectError(await A.invoke("files", { body: f }), 502, "upload malformed");
    await fake.clearFaults();
    assert.deepEqual(await agree("files", "files", others.files), beforeFiles);
});

test("mirror write fails (table locked) → 503; the Vapi object is removed again (compensation)", async () => {
    const before = await agree("assistants", "assistants", others.assistants);
    // Another session holds the mirror table for 20 s (switchboard's lock_timeout is 3 s).
    const psql = spawn("psql", [process.env.MANAGE_JS_DATABASE_URL, "-qXc",
        "BEGIN; LOCK TABLE assistants IN ACCESS EXCLUSIVE MODE; SELECT pg_sleep(20); COMMIT;"], { stdio: "ignore" });
    const done = new Promise((resolve) => psql.on("exit", resolve));
    try {
        await sleep(800);
        await fake.clearRequests();
        const r = await A.invoke("assistants", { body: { name: "Mirror locked" } });
        expectError(r, 503, "create while the mirror cannot be written");
        assert.ok(!(await fake.state()).assistants.some((a) => a.name === "Mirror locked"), "compensated: not left in Vapi");
        const log = await fake.requests();
        const created = log.find((q) => q.method === "POST" && q.path === "/assistant" && q.body?.name === "Mirror locked");
        assert.ok(created && created.status === 201, "created in Vapi first");
        assert.ok(log.some((q) => q.method === "DELETE" && q.seq > created.seq && q.path.startsWith("/assistant/") && q.status === 200),
            "then deleted again in Vapi");
    } finally {
        await done;
    }
    assert.deepEqual(await agree("assistants", "assistants", others.assistants), before);
});

test("after the faults, everything works again", async () => {
    const r = await A.invoke("assistants", { body: { name: "Healthy" } });
    expectStatus(r, 201);
    assert.ok((await fake.state()).assistants.some((x) => x.id === r.body.id));
});
