// Files (multipart upload with FormData + Blob, list, get, update, delete) and knowledge bases
// (create, list, get with files, update, attach, detach, delete); two users.
import { test } from "node:test";
import assert from "node:assert/strict";
import { cfg, user, fake, expectStatus, expectError, randomUUID } from "../support/lib.mjs";

const A = await user({ signer: "es1" });
const B = await user({ signer: "rs1", perCallHeaders: true });
const ids = (list) => list.map((x) => x.id);
const fakeFile = async (id) => (await fake.state()).files.find((x) => x.id === id);
const fakeKb = async (id) => (await fake.state()).knowledgeBases.find((x) => x.id === id);

function form(name, text, type, fields = {}) {
    const f = new FormData();
    f.append("file", new Blob([text], { type }), name);
    for (const [k, v] of Object.entries(fields)) f.append(k, v);
    return f;
}

let f1, f2, fB, kb1, kb2;

test("files: upload with FormData (multipart), purpose and metadata reach Vapi", async () => {
    await fake.clearRequests();
    const text = "Opening hours: Mon-Fri 8am-6pm.\nWe accept most insurance plans.\n";
    const r = await A.invoke("files", { body: form("faq.txt", text, "text/plain", { purpose: "knowledge-base-v2", metadata: JSON.stringify({ source: "front-end" }) }) });
    expectStatus(r, 201, "upload");
    f1 = r.body;
    assert.equal(f1.name, "faq.txt");
    assert.equal(f1.bytes, Buffer.byteLength(text));
    assert.equal(f1.mimetype, "text/plain");
    assert.equal(f1.purpose, "knowledge-base-v2");
    assert.deepEqual(f1.metadata, { source: "front-end" });
    const inVapi = await fakeFile(f1.id);
    assert.ok(inVapi, "uploaded to Vapi");
    const sent = (await fake.requests()).find((q) => q.method === "POST" && q.path === "/file");
    assert.ok(sent, "POST /file sent to Vapi");
    const part = sent.multipart.find((p) => p.name === "file");
    assert.equal(part.filename, "faq.txt");
    assert.equal(part.data, text, "the bytes reach Vapi unchanged");

    const r2 = await A.invoke("files", { body: form("prices.csv", "service,price\ncleaning,120\n", "text/csv") });
    expectStatus(r2, 201, "upload 2");
    f2 = r2.body;
    assert.equal(f2.name, "prices.csv");
    const r3 = await B.invoke("files", { body: form("b.txt", "B's file", "text/plain") });
    expectStatus(r3, 201, "B upload");
    fB = r3.body;
});

test("files: upload refusals — no file part 400, over the limit 413, not multipart 415; nothing reaches Vapi", async () => {
    const before = (await fake.state()).files.length;
    const nofile = new FormData();
    nofile.append("purpose", "knowledge-base-v2");
    expectError(await A.invoke("files", { body: nofile }), 400, "no file part");
    const big = await A.invoke("files", { body: form("big.bin", "x".repeat(cfg.maxUploadBytes + 1024), "application/octet-stream") });
    expectError(big, 413, "over SWITCHBOARD_MAX_UPLOAD_BYTES");
    expectError(await A.invoke("files", { body: new Blob(["raw bytes"]) }), 415, "application/octet-stream body");
    assert.equal((await fake.state()).files.length, before);
    assert.deepEqual(ids((await A.invoke("files", { method: "GET" })).body), [f2.id, f1.id]);
});

test("files: list (purpose filter), get, update name", async () => {
    const l = await A.invoke("files", { method: "GET" });
    expectStatus(l, 200);
    assert.deepEqual(ids(l.body), [f2.id, f1.id]);
    assert.deepEqual(ids((await A.invoke("files", { body: { action: "list" } })).body), [f2.id, f1.id]);
    assert.deepEqual(ids((await A.invoke("files?purpose=knowledge-base-v2", { method: "GET" })).body), [f1.id]);
    assert.deepEqual(ids((await A.invoke("files", { body: { action: "list", purpose: "knowledge-base-v2" } })).body), [f1.id]);
    const g = await A.invoke(`files/${f1.id}`, { method: "GET" });
    expectStatus(g, 200);
    assert.equal(g.body.name, "faq.txt");
    assert.equal((await A.invoke("files", { body: { action: "get", id: f2.id } })).body.name, "prices.csv");
    const u = await A.invoke(`files/${f2.id}`, { method: "PATCH", body: { name: "prices-2026.csv" } });
    expectStatus(u, 200);
    assert.equal(u.body.name, "prices-2026.csv");
    assert.equal((await fakeFile(f2.id)).name, "prices-2026.csv");
    const pg = await A.invoke(`files/${f2.id}`);
    expectStatus(pg, 200, "POST files/<id> empty: get");
    assert.equal(pg.body.name, "prices-2026.csv");
    const pu = await A.invoke(`files/${f2.id}`, { body: { name: "prices-v2.csv" } });
    expectStatus(pu, 200, "POST files/<id> with a payload: update");
    assert.equal(pu.body.name, "prices-v2.csv");
    const put = await A.invoke(`files/${f2.id}`, { method: "PUT", body: { name: "prices-2026.csv" } });
    expectStatus(put, 200, "PUT files/<id>");
    assert.equal(put.body.name, "prices-2026.csv");
    expectError(await A.invoke(`files/${f2.id}`, { method: "PATCH", body: { purpose: "assistant" } }), 400, "only name can be updated");
});

test("files: user B isolated", async () => {
    assert.deepEqual(ids((await B.invoke("files", { method: "GET" })).body), [fB.id]);
    for (const opts of [{ method: "GET" }, { method: "PATCH", body: { name: "x" } }, { method: "DELETE" }])
        expectError(await B.invoke(`files/${f1.id}`, opts), 404, `B ${opts.method}`);
    expectError(await B.invoke("files", { body: { action: "delete", id: f1.id } }), 404);
    assert.ok(await fakeFile(f1.id));
    expectError(await A.invoke(`files/${fB.id}`, { method: "GET" }), 404);
});

test("knowledge bases: create (REST, envelope), list, get with files", async () => {
    const r = await A.invoke("knowledge-bases", { body: { name: "Dental FAQ", description: "Hours and insurance" } });
    expectStatus(r, 201, "create");
    kb1 = r.body;
    assert.equal(kb1.name, "Dental FAQ");
    assert.equal(kb1.description, "Hours and insurance");
    assert.ok(await fakeKb(kb1.id));
    const r2 = await A.invoke("knowledge-bases", { body: { action: "create", data: { name: "Prices" } } });
    expectStatus(r2, 201, "create (envelope)");
    kb2 = r2.body;
    expectError(await A.invoke("knowledge-bases", { body: { description: "no name" } }), [400, 422], "name required");
    assert.deepEqual(ids((await A.invoke("knowledge-bases", { method: "GET" })).body), [kb2.id, kb1.id]);
    assert.deepEqual(ids((await A.invoke("knowledge-bases", { body: { action: "list" } })).body), [kb2.id, kb1.id]);
    const g = await A.invoke(`knowledge-bases/${kb1.id}`, { method: "GET" });
    expectStatus(g, 200);
    assert.equal(g.body.name, "Dental FAQ");
    assert.deepEqual(g.body.files, []);
});

test("knowledge bases: attach (REST and action), 409 twice, files listed, detach (REST and action)", async () => {
    const a = await A.invoke(`knowledge-bases/${kb1.id}/files`, { body: { fileId: f1.id } });
    expectStatus(a, 201, "attach");
    assert.equal(a.body.fileId, f1.id);
    expectError(await A.invoke(`knowledge-bases/${kb1.id}/files`, { body: { fileId: f1.id } }), 409, "attached twice");
    const a2 = await A.invoke("knowledge-bases", { body: { action: "attach", id: kb1.id, data: { fileId: f2.id } } });
    expectStatus(a2, 201, "action attach");
    assert.equal(a2.body.fileId, f2.id);
    const g = await A.invoke(`knowledge-bases/${kb1.id}`, { method: "GET" });
    assert.deepEqual(g.body.files.map((f) => f.fileId).sort(), [f1.id, f2.id].sort());
    const lf = await A.invoke(`knowledge-bases/${kb1.id}/files`, { method: "GET" });
    expectStatus(lf, 200);
    assert.deepEqual(lf.body.map((f) => f.fileId).sort(), [f1.id, f2.id].sort());
    assert.equal((await fakeKb(kb1.id)).files.length, 2);

    expectError(await A.invoke(`knowledge-bases/${kb1.id}/files`, { body: { fileId: fB.id } }), 404, "B's file");
    expectError(await A.invoke(`knowledge-bases/${kb1.id}/files`, { body: { fileId: randomUUID() } }), 404, "unknown file");
    expectError(await A.invoke(`knowledge-bases/${kb1.id}/files`, { body: {} }), 400, "no fileId");

    const d = await A.invoke(`knowledge-bases/${kb1.id}/files/${f2.id}`, { method: "DELETE" });
    expectStatus(d, 200, "detach");
    assert.equal(d.body.fileId, f2.id);
    const d2 = await A.invoke("knowledge-bases", { body: { action: "detach", id: kb1.id, data: { fileId: f1.id } } });
    expectStatus(d2, 200, "action detach");
    assert.equal(d2.body.fileId, f1.id);
    assert.deepEqual((await A.invoke(`knowledge-bases/${kb1.id}`, { method: "GET" })).body.files, []);
    expectError(await A.invoke(`knowledge-bases/${kb1.id}/files/${f1.id}`, { method: "DELETE" }), 404, "detached twice");
    await A.invoke(`knowledge-bases/${kb1.id}/files`, { body: { fileId: f1.id } });
});

test("knowledge bases: user B isolated", async () => {
    assert.deepEqual((await B.invoke("knowledge-bases", { method: "GET" })).body, []);
    for (const opts of [{ method: "GET" }, { method: "PATCH", body: { name: "x" } }, { method: "DELETE" }])
        expectError(await B.invoke(`knowledge-bases/${kb1.id}`, opts), 404, `B ${opts.method}`);
    expectError(await B.invoke(`knowledge-bases/${kb1.id}/files`, { method: "GET" }), 404, "B lists files");
    expectError(await B.invoke(`knowledge-bases/${kb1.id}/files`, { body: { fileId: fB.id } }), 404, "B attaches to A's kb");
    expectError(await B.invoke(`knowledge-bases/${kb1.id}/files/${f1.id}`, { method: "DELETE" }), 404, "B detaches");
    const kbB = await B.invoke("knowledge-bases", { body: { name: "B kb" } });
    expectStatus(kbB, 201);
    expectError(await B.invoke(`knowledge-bases/${kbB.body.id}/files`, { body: { fileId: f1.id } }), 404, "B attaches A's file");
    assert.equal((await fakeKb(kb1.id)).files.length, 1);
    assert.equal((await fakeKb(kbB.body.id)).files.length, 0);
});

test("knowledge bases: update (PATCH, action), delete (REST, action); files delete", async () => {
    const u = await A.invoke(`knowledge-bases/${kb1.id}`, { method: "PATCH", body: { name: "Dental FAQ 2026" } });
    expectStatus(u, 200);
    assert.equal(u.body.name, "Dental FAQ 2026");
    const u2 = await A.invoke("knowledge-bases", { body: { action: "update", id: kb2.id, data: { description: "2026 prices" } } });
    expectStatus(u2, 200);
    assert.equal(u2.body.description, "2026 prices");
    const pg = await A.invoke(`knowledge-bases/${kb2.id}`);
    expectStatus(pg, 200, "POST knowledge-bases/<id> empty: get");
    assert.equal(pg.body.description, "2026 prices");
    assert.ok(Array.isArray(pg.body.files), "get answers the knowledge base with its files");
    const pu = await A.invoke(`knowledge-bases/${kb2.id}`, { body: { name: "Prices 2026" } });
    expectStatus(pu, 200, "POST knowledge-bases/<id> with a payload: update");
    assert.equal(pu.body.name, "Prices 2026");
    const put = await A.invoke(`knowledge-bases/${kb2.id}`, { method: "PUT", body: { name: "Prices" } });
    expectStatus(put, 200, "PUT knowledge-bases/<id>");
    assert.equal(put.body.name, "Prices");
    const at = await A.invoke(`knowledge-bases/${kb2.id}`, { body: { action: "attach", fileId: f2.id } });
    expectStatus(at, 201, "POST knowledge-bases/<id> {action: attach}");
    assert.equal(at.body.fileId, f2.id);
    const dt = await A.invoke(`knowledge-bases/${kb2.id}`, { body: { action: "detach", fileId: f2.id } });
    expectStatus(dt, 200, "POST knowledge-bases/<id> {action: detach}");
    assert.equal(dt.body.fileId, f2.id);
    assert.equal((await fakeKb(kb1.id)).name, "Dental FAQ 2026");
    const d = await A.invoke(`knowledge-bases/${kb1.id}`, { method: "DELETE" });
    expectStatus(d, 200);
    assert.equal(d.body.id, kb1.id);
    const d2 = await A.invoke("knowledge-bases", { body: { action: "delete", id: kb2.id } });
    expectStatus(d2, 200);
    assert.equal(d2.body.id, kb2.id);
    assert.deepEqual((await A.invoke("knowledge-bases", { method: "GET" })).body, []);
    assert.equal(await fakeKb(kb1.id), undefined);

    const fd = await A.invoke(`files/${f1.id}`, { method: "DELETE" });
    expectStatus(fd, 200);
    assert.equal(fd.body.id, f1.id);
    const fd2 = await A.invoke("files", { body: { action: "delete", id: f2.id } });
    expectStatus(fd2, 200);
    assert.equal(fd2.body.id, f2.id);
    assert.deepEqual((await A.invoke("files", { method: "GET" })).body, []);
    assert.equal(await fakeFile(f1.id), undefined);
});
