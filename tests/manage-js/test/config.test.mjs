// Configuration the main run cannot show: a second binary on the same database without JWT keys
// (every management request 503), without a Vapi key (Vapi operations 503), and with
// SWITCHBOARD_CORS_ORIGINS (the request's Origin echoed, Vary: Origin).
import { test, after } from "node:test";
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import fs from "node:fs";
import path from "node:path";
import { cfg, checkResponse, assertNoViolations, hsToken, jwkToken, keyInfo, fake, randomUUID, sleep } from "../support/lib.mjs";

const children = [];
after(() => children.forEach((c) => c.kill("SIGTERM")));

async function startBinary(name, env) {
    const portFile = path.join(process.env.MANAGE_JS_WORK, `${name}.port`);
    const log = fs.openSync(path.join(process.env.MANAGE_JS_WORK, `${name}.log`), "w");
    const child = spawn(process.env.MANAGE_JS_BINARY, ["--listen", "127.0.0.1:0", "--port-file", portFile], {
        env: { PATH: process.env.PATH, DATABASE_URL: process.env.MANAGE_JS_DATABASE_URL, SWITCHBOARD_WEBHOOK_SECRET: cfg.webhookSecret, SWITCHBOARD_IO_THREADS: "1", SWITCHBOARD_WRITERS: "1", ...env },
        stdio: ["ignore", log, log],
    });
    children.push(child);
    for (let i = 0; i < 300; i++) {
        if (fs.existsSync(portFile) && fs.readFileSync(portFile, "utf8").trim()) return `http://127.0.0.1:${fs.readFileSync(portFile, "utf8").trim()}`;
        if (child.exitCode !== null) throw new Error(`${name} exited: ${fs.readFileSync(path.join(process.env.MANAGE_JS_WORK, `${name}.log`), "utf8").slice(-2000)}`);
        await sleep(100);
    }
    throw new Error(`${name} did not start`);
}

async function req(base, method, p, { headers = {}, body } = {}) {
    const res = await fetch(base + p, { method, headers, body });
    const text = await res.text();
    await checkResponse(method, cfg.url + p, res.status, res.headers, text); // validated like the main instance
    assertNoViolations();
    return { status: res.status, headers: res.headers, body: text ? JSON.parse(text) : null };
}

test("no JWT key configured: every management request is 503, preflight still answered", async () => {
    const base = await startBinary("nojwt", { VAPI_API_KEY: cfg.fakeKey, VAPI_BASE_URL: cfg.fakeUrl });
    const token = await hsToken(randomUUID());
    for (const fn of ["assistants", "workflows", "phone-numbers", "files", "knowledge-bases", "calls"]) {
        const r = await req(base, "GET", `/functions/v1/${fn}`, { headers: { authorization: `Bearer ${token}` } });
        assert.equal(r.status, 503, `${fn}: ${JSON.stringify(r.body)}`);
        assert.match(r.body.error, /not configured/i);
    }
    const o = await req(base, "OPTIONS", "/functions/v1/assistants", { headers: { origin: cfg.corsOrigin, "access-control-request-method": "POST" } });
    assert.equal(o.status, 204);
});

test("no Vapi key: Vapi operations 503, nothing reaches Vapi; CORS origins list echoes the Origin", async () => {
    const before = (await fake.state()).assistants.length;
    const base = await startBinary("novapi", { SUPABASE_JWT_SECRET: cfg.jwtSecret, SWITCHBOARD_CORS_ORIGINS: cfg.corsOrigin });
    const token = await hsToken(randomUUID());
    const r = await req(base, "POST", "/functions/v1/assistants", {
        headers: { authorization: `Bearer ${token}`, "content-type": "application/json", origin: cfg.corsOrigin },
        body: JSON.stringify({ name: "No Vapi" }),
    });
    assert.equal(r.status, 503, JSON.stringify(r.body));
    assert.equal(r.headers.get("access-control-allow-origin"), cfg.corsOrigin);
    assert.match(r.headers.get("vary") ?? "", /\borigin\b/i);
    assert.equal((await fake.state()).assistants.length, before);
    const o = await req(base, "OPTIONS", "/functions/v1/files", {
        headers: { origin: cfg.corsOrigin, "access-control-request-method": "POST", "access-control-request-headers": "authorization, content-type" },
    });
    assert.equal(o.status, 204);
    assert.equal(o.headers.get("access-control-allow-origin"), cfg.corsOrigin);
    assert.match(o.headers.get("vary") ?? "", /\borigin\b/i);
});

test("Vapi refuses our API key, or cannot be reached → 502; nothing mirrored", async () => {
    const sub = randomUUID();
    const token = await hsToken(sub);
    const headers = { authorization: `Bearer ${token}`, "content-type": "application/json" };
    const wrongKey = await startBinary("wrongkey", { SUPABASE_JWT_SECRET: cfg.jwtSecret, VAPI_API_KEY: "not-the-key", VAPI_BASE_URL: cfg.fakeUrl });
    const r = await req(wrongKey, "POST", "/functions/v1/assistants", { headers, body: JSON.stringify({ name: "Wrong key" }) });
    assert.equal(r.status, 502, JSON.stringify(r.body));
    const l = await req(wrongKey, "GET", "/functions/v1/assistants", { headers });
    assert.equal(l.status, 200);
    assert.deepEqual(l.body, []);
    const unreachable = await startBinary("unreachable", { SUPABASE_JWT_SECRET: cfg.jwtSecret, VAPI_API_KEY: cfg.fakeKey, VAPI_BASE_URL: "http://127.0.0.1:1", VAPI_TIMEOUT_MS: "1000" });
    const u = await req(unreachable, "POST", "/functions/v1/knowledge-bases", { headers, body: JSON.stringify({ name: "Unreachable" }) });
    assert.equal(u.status, 502, JSON.stringify(u.body));
    assert.deepEqual((await req(unreachable, "GET", "/functions/v1/knowledge-bases", { headers })).body, []);
    assert.ok(!(await fake.state()).assistants.some((a) => a.name === "Wrong key"));
});

test("SUPABASE_JWKS_FILE: ES256/RS256 tokens of the file's keys accepted; HS256 (no secret) and other keys refused", async () => {
    const file = path.join(process.env.MANAGE_JS_WORK, "jwks-file.json");
    fs.writeFileSync(file, JSON.stringify({ keys: [keyInfo.es1.publicJwk, keyInfo.rs1.publicJwk] }));
    const base = await startBinary("jwksfile", { SUPABASE_JWKS_FILE: file, VAPI_API_KEY: cfg.fakeKey, VAPI_BASE_URL: cfg.fakeUrl });
    const get = async (token) => req(base, "GET", "/functions/v1/assistants", { headers: { authorization: `Bearer ${token}` } });
    for (const name of ["es1", "rs1"]) {
        const r = await get(await jwkToken(name, randomUUID()));
        assert.equal(r.status, 200, `${name}: ${JSON.stringify(r.body)}`);
        assert.deepEqual(r.body, []);
    }
    for (const [what, token] of [["HS256 without a configured secret", await hsToken(randomUUID())],
                                  ["a key not in the file", await jwkToken("rs2", randomUUID())],
                                  ["the rogue key claiming kid rs1", await jwkToken("rogue", randomUUID())]]) {
        const r = await get(token);
        assert.equal(r.status, 401, `${what}: ${JSON.stringify(r.body)}`);
    }
});
