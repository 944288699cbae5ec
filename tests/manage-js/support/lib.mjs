// Shared by the tests: configuration from run.sh, the supabase-js clients, tokens signed with
// jose, the fake Vapi's control API, webhooks, and validation of every response against
// schemas/openapi.yaml.
import assert from "node:assert/strict";
import fs from "node:fs";
import path from "node:path";
import { randomUUID } from "node:crypto";
import { createClient } from "@supabase/supabase-js";
import ws from "ws";
import { SignJWT, UnsecuredJWT, importJWK } from "jose";
import SwaggerParser from "@apidevtools/swagger-parser";
import Ajv from "ajv";
import addFormats from "ajv-formats";

const env = (name) => {
    const v = process.env[name];
    if (!v) throw new Error(`${name} is not set: run the tests with tests/manage-js/run.sh`);
    return v;
};

export const cfg = {
    url: env("MANAGE_JS_URL"),
    fakeUrl: env("MANAGE_JS_FAKE_URL"),
    fakeKey: env("MANAGE_JS_FAKE_KEY"),
    jwtSecret: env("MANAGE_JS_JWT_SECRET"),
    jwksBase: env("MANAGE_JS_JWKS_BASE"),
    keysFile: env("MANAGE_JS_KEYS_FILE"),
    webhookSecret: env("MANAGE_JS_WEBHOOK_SECRET"),
    oauthClientId: env("MANAGE_JS_OAUTH_CLIENT_ID"),
    oauthSecret: env("MANAGE_JS_OAUTH_SECRET"),
    maxUploadBytes: Number(env("MANAGE_JS_MAX_UPLOAD_BYTES")),
    corsOrigin: "http://localhost:5173", // a front end's dev server; SWITCHBOARD_CORS_ORIGINS is left at its default (*)
    specPath: env("MANAGE_JS_SPEC"),
    examplesDir: env("MANAGE_JS_EXAMPLES_DIR"),
};

// ---------------------------------------------------------------- OpenAPI validation

let specPromise;
/// The document, validated by swagger-parser (throws when invalid), then dereferenced.
export function spec() {
    specPromise ??= (async () => {
        await SwaggerParser.validate(cfg.specPath);
        return SwaggerParser.dereference(cfg.specPath);
    })();
    return specPromise;
}

const ajv = new Ajv({ strict: false, allErrors: true });
addFormats(ajv);
ajv.addFormat("binary", true);
const compiled = new Map();

/// Path templates of the document as regular expressions; literal segments before parameters
/// (`/phone-numbers/search` wins over `/phone-numbers/{id}`).
let matchers;
async function matchPath(pathname) {
    const api = await spec();
    matchers ??= Object.keys(api.paths)
        .map((tpl) => ({
            tpl,
            params: (tpl.match(/\{/g) || []).length,
            re: new RegExp("^" + tpl.replace(/[.*+?^$()|[\]\\]/g, "\\$&").replace(/\{[^}]+\}/g, "[^/]+") + "$"),
        }))
        .sort((a, b) => a.params - b.params);
    return matchers.find((m) => m.re.test(pathname))?.tpl;
}

/// Every problem found in a response; the tests assert there are none after each request.
export const violations = [];
/// Every response seen (method, path template, status), appended to $MANAGE_JS_WORK/seen.jsonl
/// when the test process ends; test/zz-coverage.test.mjs checks every documented operation ran.
export const seen = [];
process.on("exit", () => {
    if (!process.env.MANAGE_JS_WORK || seen.length === 0) return;
    fs.appendFileSync(path.join(process.env.MANAGE_JS_WORK, "seen.jsonl"), seen.map((x) => JSON.stringify(x)).join("\n") + "\n");
});

/// A JSON request the API accepted (2xx) must match the operation's documented request body.
async function checkRequest(method, url, status, init) {
    if (status < 200 || status > 299 || typeof init.body !== "string" || init.body === "") return;
    const u = new URL(url);
    const tpl = await matchPath(u.pathname);
    const op = tpl && (await spec()).paths[tpl][method.toLowerCase()];
    const schema = op?.requestBody?.content?.["application/json"]?.schema;
    if (!schema) return;
    let body;
    try {
        body = JSON.parse(init.body);
    } catch {
        return; // a JSON text body sent as text/plain that the API did not take as JSON
    }
    const key = `request ${tpl} ${method}`;
    if (!compiled.has(key)) compiled.set(key, ajv.compile(schema));
    const validate = compiled.get(key);
    if (!validate(body))
        violations.push(`${method} ${u.pathname} → ${status}: the accepted request body is not described by openapi.yaml: ${ajv.errorsText(validate.errors, { separator: "; " }).slice(0, 400)} — body ${init.body.slice(0, 200)}`);
}

export async function checkResponse(method, url, status, headers, text) {
    const u = new URL(url);
    const where = `${method} ${u.pathname} → ${status}`;
    const tpl = await matchPath(u.pathname);
    seen.push({ method, path: u.pathname, tpl, status });
    if (!tpl) return violations.push(`${where}: path not in openapi.yaml`);
    const op = (await spec()).paths[tpl][method.toLowerCase()];
    if (!op) return violations.push(`${where}: method not documented for ${tpl}`);
    const resp = op.responses[String(status)] ?? op.responses.default;
    if (!resp) return violations.push(`${where}: status ${status} not documented for ${method} ${tpl}`);
    if (u.pathname.startsWith("/functions/v1") && !headers.get("access-control-allow-origin"))
        violations.push(`${where}: no Access-Control-Allow-Origin`);
    if (!resp.content) {
        if (text.length > 0 && status !== 204) violations.push(`${where}: documented without a body, got ${text.slice(0, 80)}`);
        return;
    }
    const ctype = (headers.get("content-type") ?? "").split(";")[0].trim();
    const media = resp.content[ctype];
    if (!media) return violations.push(`${where}: content type '${ctype}' not documented (${Object.keys(resp.content)})`);
    if (ctype !== "application/json") return;
    let body;
    try {
        body = JSON.parse(text);
    } catch {
        return violations.push(`${where}: body is not JSON: ${text.slice(0, 120)}`);
    }
    const key = `${tpl} ${method} ${status}`;
    if (!compiled.has(key)) compiled.set(key, ajv.compile(media.schema));
    const validate = compiled.get(key);
    if (!validate(body))
        violations.push(`${where}: body does not match openapi.yaml: ${ajv.errorsText(validate.errors, { separator: "; " }).slice(0, 600)} — body ${text.slice(0, 300)}`);
}

/// fetch that validates every response of switchboard against the document.
export async function validatingFetch(input, init = {}) {
    const req = input instanceof Request ? input : null;
    const url = req ? req.url : String(input);
    const method = (init.method ?? req?.method ?? "GET").toUpperCase();
    const res = await fetch(input, init);
    if (url.startsWith(cfg.url)) {
        const text = await res.clone().text();
        await checkResponse(method, url, res.status, res.headers, text);
        await checkRequest(method, url, res.status, init);
    }
    return res;
}

/// Fails the current test when a response broke the document since the last call.
export function assertNoViolations() {
    if (violations.length === 0) return;
    const list = violations.splice(0);
    assert.fail(`responses not conforming to schemas/openapi.yaml:\n  ${list.join("\n  ")}`);
}

// ---------------------------------------------------------------- tokens

const keys = JSON.parse(fs.readFileSync(cfg.keysFile, "utf8"));
export const keyInfo = keys;
const secret = new TextEncoder().encode(cfg.jwtSecret);

/// Claims of a Supabase access token for user `sub`.
export function claims(sub, extra = {}) {
    const now = Math.floor(Date.now() / 1000);
    return {
        iss: "http://127.0.0.1:54321/auth/v1",
        sub,
        aud: "authenticated",
        exp: now + 3600,
        iat: now,
        email: `${String(sub ?? "nobody").slice(0, 8)}@example.com`,
        phone: "",
        app_metadata: { provider: "email", providers: ["email"] },
        user_metadata: {},
        role: "authenticated",
        aal: "aal1",
        amr: [{ method: "password", timestamp: now }],
        session_id: randomUUID(),
        is_anonymous: false,
        ...extra,
    };
}

function drop(payload) {
    return Object.fromEntries(Object.entries(payload).filter(([, v]) => v !== undefined));
}

/// HS256 with the project's JWT secret (Supabase's legacy signing).
export async function hsToken(sub, extra = {}, key = secret) {
    return new SignJWT(drop(claims(sub, extra))).setProtectedHeader({ alg: "HS256", typ: "JWT" }).sign(key);
}

/// RS256/ES256 with a key of the test's JWKS (name: rs1, es1, rs2, rogue).
export async function jwkToken(name, sub, extra = {}) {
    const k = keys[name];
    const key = await importJWK(k.privateJwk, k.alg);
    return new SignJWT(drop(claims(sub, extra))).setProtectedHeader({ alg: k.alg, kid: k.kid, typ: "JWT" }).sign(key);
}

export function unsignedToken(sub, extra = {}) {
    return new UnsecuredJWT(drop(claims(sub, extra))).encode();
}

/// A Supabase-style anon key: what supabase-js sends as the bearer when no user is signed in.
export async function anonKey() {
    const now = Math.floor(Date.now() / 1000);
    return new SignJWT({ iss: "supabase-demo", role: "anon", iat: now, exp: now + 3600 })
        .setProtectedHeader({ alg: "HS256", typ: "JWT" })
        .sign(secret);
}

// ---------------------------------------------------------------- users and clients

/// A signed-in user of the front end: its own supabase-js client; `fn` is the functions client
/// with the user's token set (setAuth), or per-call headers when `perCallHeaders`.
export async function user({ signer = "hs", perCallHeaders = false } = {}) {
    const sub = randomUUID();
    const token = signer === "hs" ? await hsToken(sub) : await jwkToken(signer, sub);
    const client = createClient(cfg.url, await anonKey(), {
        auth: { persistSession: false, autoRefreshToken: false, detectSessionInUrl: false },
        global: { fetch: validatingFetch },
        realtime: { transport: ws }, // Node 20 has no WebSocket; a browser does (realtime is unused)
    });
    const functions = client.functions;
    if (!perCallHeaders) functions.setAuth(token);
    const headers = perCallHeaders ? { Authorization: `Bearer ${token}` } : {};
    return {
        sub,
        token,
        client,
        /// supabase.functions.invoke(name, options) → {status, body, data, error, headers}
        invoke: (name, options = {}) =>
            call(functions, name, { ...options, headers: { ...headers, ...(options.headers ?? {}) } }),
    };
}

/// A client whose bearer is `token` (null: the anon key only, as a signed-out front end).
export async function clientWithToken(token) {
    const client = createClient(cfg.url, await anonKey(), {
        auth: { persistSession: false, autoRefreshToken: false, detectSessionInUrl: false },
        global: { fetch: validatingFetch },
        realtime: { transport: ws }, // Node 20 has no WebSocket; a browser does (realtime is unused)
    });
    return {
        client,
        invoke: (name, options = {}) =>
            call(client.functions, name, {
                ...options,
                headers: { ...(token ? { Authorization: `Bearer ${token}` } : {}), ...(options.headers ?? {}) },
            }),
    };
}

async function call(functions, name, options) {
    const r = await functions.invoke(name, options);
    if (r.error && !r.response) throw new Error(`invoke ${name}: ${r.error.name}: ${r.error.message}`);
    let body = r.data;
    if (r.error) {
        const text = await r.response.text();
        try {
            body = JSON.parse(text);
        } catch {
            body = text;
        }
    }
    assertNoViolations();
    return { status: r.response.status, body, headers: r.response.headers, error: r.error };
}

/// Asserts a status, showing the body when it differs.
export function expectStatus(res, expected, what = "") {
    const ok = Array.isArray(expected) ? expected.includes(res.status) : res.status === expected;
    if (!ok)
        assert.fail(`${what} expected status ${JSON.stringify(expected)}, got ${res.status}: ${JSON.stringify(res.body).slice(0, 500)}`);
}

export function expectError(res, status, what = "") {
    expectStatus(res, status, what);
    assert.equal(typeof res.body?.error, "string", `${what}: error body ${JSON.stringify(res.body)}`);
    assert.ok(res.body.error.length > 0, `${what}: empty error message`);
}

// ---------------------------------------------------------------- the fake Vapi

async function fakeReq(method, p, body) {
    const res = await fetch(cfg.fakeUrl + p, {
        method,
        headers: body === undefined ? {} : { "content-type": "application/json" },
        body: body === undefined ? undefined : JSON.stringify(body),
    });
    const text = await res.text();
    return text ? JSON.parse(text) : null;
}

export const fake = {
    state: () => fakeReq("GET", "/__fake/state"),
    requests: () => fakeReq("GET", "/__fake/requests"),
    clearRequests: () => fakeReq("DELETE", "/__fake/requests"),
    faults: (rules) => fakeReq("POST", "/__fake/faults", rules),
    clearFaults: () => fakeReq("DELETE", "/__fake/faults"),
    /// A Vapi API call made directly (as another tool of the org would).
    async api(method, p, body) {
        const res = await fetch(cfg.fakeUrl + p, {
            method,
            headers: { authorization: `Bearer ${cfg.fakeKey}`, ...(body ? { "content-type": "application/json" } : {}) },
            body: body ? JSON.stringify(body) : undefined,
        });
        return { status: res.status, body: await res.json() };
    },
};

// ---------------------------------------------------------------- webhooks

export function example(name) {
    return JSON.parse(fs.readFileSync(path.join(cfg.examplesDir, name), "utf8"));
}

/// POSTs a Vapi server message to /receive with the secret header; validates the answer.
export async function webhook(body, { secret: s = cfg.webhookSecret, route = "/receive" } = {}) {
    const res = await validatingFetch(cfg.url + route, {
        method: "POST",
        headers: { "content-type": "application/json", ...(s ? { "x-vapi-secret": s } : {}) },
        body: JSON.stringify(body),
    });
    const text = await res.text();
    assertNoViolations();
    return { status: res.status, body: text ? JSON.parse(text) : null };
}

/// A raw request to switchboard (validated against the document).
export async function raw(method, p, { headers = {}, body } = {}) {
    const res = await validatingFetch(cfg.url + p, { method, headers, body });
    const text = await res.text();
    assertNoViolations();
    let parsed = text;
    try {
        parsed = text ? JSON.parse(text) : null;
    } catch {}
    return { status: res.status, headers: res.headers, body: parsed };
}

export const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
export { randomUUID };
