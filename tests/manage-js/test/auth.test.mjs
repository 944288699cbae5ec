// Supabase access tokens: HS256 (project secret), RS256 and ES256 (JWKS by kid, rotation);
// every bad token is 401 with WWW-Authenticate, on every function.
import { test } from "node:test";
import assert from "node:assert/strict";
import { SignJWT } from "jose";
import {
    cfg, user, clientWithToken, hsToken, jwkToken, unsignedToken, keyInfo, expectError, raw, randomUUID,
} from "../support/lib.mjs";

const FUNCTIONS = ["assistants", "workflows", "phone-numbers", "files", "knowledge-bases", "calls"];

async function expect401(token, what) {
    const c = await clientWithToken(token);
    const res = await c.invoke("assistants", { method: "GET" });
    expectError(res, 401, what);
    assert.match(res.headers.get("www-authenticate") ?? "", /^Bearer\b.*error="invalid_token"/, `${what}: WWW-Authenticate`);
    return res;
}

test("valid tokens: HS256, RS256 and ES256 users each see their own empty lists", async () => {
    for (const signer of ["hs", "rs1", "es1"]) {
        const u = await user({ signer });
        for (const fn of ["assistants", "workflows", "phone-numbers", "files", "knowledge-bases"]) {
            const res = await u.invoke(fn, { method: "GET" });
            assert.equal(res.status, 200, `${signer} ${fn}: ${JSON.stringify(res.body)}`);
            assert.deepEqual(res.body, [], `${signer} ${fn}`);
        }
        const calls = await u.invoke("calls", { method: "GET" });
        assert.equal(calls.status, 200, `${signer} calls`);
        assert.deepEqual(calls.body, { data: [], nextCursor: null });
    }
});

test("expired token → 401", async () => {
    const now = Math.floor(Date.now() / 1000);
    await expect401(await hsToken(randomUUID(), { exp: now - 3600, iat: now - 7200 }), "expired HS256");
    await expect401(await jwkToken("rs1", randomUUID(), { exp: now - 3600, iat: now - 7200 }), "expired RS256");
});

test("not yet valid (nbf in the future) → 401", async () => {
    const now = Math.floor(Date.now() / 1000);
    await expect401(await hsToken(randomUUID(), { nbf: now + 3600 }), "nbf");
});

test("wrong audience → 401", async () => {
    await expect401(await hsToken(randomUUID(), { aud: "anon" }), "aud anon");
    await expect401(await jwkToken("es1", randomUUID(), { aud: "some-other-project" }), "aud other (ES256)");
    await expect401(await hsToken(randomUUID(), { aud: undefined }), "no aud");
});

test("no sub → 401", async () => {
    await expect401(await hsToken(undefined, { sub: undefined }), "no sub");
    await expect401(await hsToken(""), "empty sub");
});

test("wrong key → 401", async () => {
    const other = new TextEncoder().encode("another-projects-secret-with-at-least-32-characters");
    await expect401(await hsToken(randomUUID(), {}, other), "HS256 with another secret");
    await expect401(await jwkToken("rogue", randomUUID()), "RS256 with an unpublished key claiming kid rs1");
});

test("alg none → 401", async () => {
    await expect401(unsignedToken(randomUUID()), "alg none");
    // alg none with a trailing fake signature and a known kid
    const [h, p] = unsignedToken(randomUUID()).split(".");
    const hdr = Buffer.from(JSON.stringify({ alg: "none", kid: "rs1", typ: "JWT" })).toString("base64url");
    await expect401(`${hdr}.${p}.c2ln`, "alg none with kid");
    assert.ok(h);
});

test("HS/RS confusion (HS256 signed with the RSA public key) → 401", async () => {
    const sub = randomUUID();
    const now = Math.floor(Date.now() / 1000);
    const payload = { sub, aud: "authenticated", role: "authenticated", iat: now, exp: now + 3600 };
    const pem = new TextEncoder().encode(keyInfo.rs1.spki);
    const withKid = await new SignJWT(payload).setProtectedHeader({ alg: "HS256", kid: "rs1", typ: "JWT" }).sign(pem);
    await expect401(withKid, "HS256 keyed with the RS256 public key (kid rs1)");
    const noKid = await new SignJWT(payload).setProtectedHeader({ alg: "HS256", typ: "JWT" }).sign(pem);
    await expect401(noKid, "HS256 keyed with the RS256 public key (no kid)");
    const jwkBytes = new TextEncoder().encode(JSON.stringify(keyInfo.rs1.publicJwk));
    await expect401(await new SignJWT(payload).setProtectedHeader({ alg: "HS256", kid: "rs1" }).sign(jwkBytes), "HS256 keyed with the JWK text");
    // ES256 token header claiming RS256 with the es1 key id
    const es = await jwkToken("es1", sub);
    const [, p, sig] = es.split(".");
    const forged = Buffer.from(JSON.stringify({ alg: "RS256", kid: "es1" })).toString("base64url");
    await expect401(`${forged}.${p}.${sig}`, "ES256 signature under an RS256 header");
});

test("malformed tokens → 401", async () => {
    for (const t of ["abc", "a.b.c", "eyJhbGciOiJIUzI1NiJ9.not-base64!.sig", "...", "Bearer x"]) await expect401(t, `malformed '${t}'`);
    const good = await hsToken(randomUUID());
    await expect401(good.slice(0, -3) + "AAA", "tampered signature");
    await expect401(good.split(".").slice(0, 2).join("."), "two parts");
    const [h, , s] = good.split(".");
    const p = Buffer.from(JSON.stringify({ sub: randomUUID(), aud: "authenticated", exp: 9999999999 })).toString("base64url");
    await expect401(`${h}.${p}.${s}`, "payload swapped");
});

test("missing token → 401: no Authorization header, a Basic header, and supabase-js signed out (anon key)", async () => {
    for (const fn of FUNCTIONS) {
        const r = await raw("GET", `/functions/v1/${fn}`);
        expectError(r, 401, `no header ${fn}`);
        assert.match(r.headers.get("www-authenticate") ?? "", /^Bearer/);
    }
    const basic = await raw("GET", "/functions/v1/assistants", { headers: { authorization: "Basic dXNlcjpwYXNz" } });
    expectError(basic, 401, "Basic");
    const anon = await clientWithToken(null); // supabase-js sends the anon key as the bearer
    for (const fn of FUNCTIONS) expectError(await anon.invoke(fn, { body: { action: "list" } }), 401, `anon key ${fn}`);
});

test("every function and action refuses a bad token before doing anything", async () => {
    const bad = await clientWithToken(unsignedToken(randomUUID()));
    expectError(await bad.invoke("assistants", { body: { name: "should not exist" } }), 401, "create");
    expectError(await bad.invoke("phone-numbers", { body: { action: "search" } }), 401, "search");
    expectError(await bad.invoke(`assistants/${randomUUID()}`, { method: "DELETE" }), 401, "delete");
    const form = new FormData();
    form.append("file", new Blob(["x"], { type: "text/plain" }), "x.txt");
    expectError(await bad.invoke("files", { body: form }), 401, "upload");
});

test("key rotation: a key published in the JWKS after start-up is accepted (refetch on unknown kid)", async () => {
    const pub = await fetch(`${cfg.jwksBase}/__publish/rs2`, { method: "POST" });
    assert.equal(pub.status, 200);
    const u = await user({ signer: "rs2" });
    // The verifier may rate-limit refetches (switchboard: at most every 30 s); a front end's
    // users see the new key accepted within that window.
    const t0 = Date.now();
    let res;
    do {
        res = await u.invoke("assistants", { method: "GET" });
        if (res.status === 200) break;
        expectError(res, 401, "rs2 before the refetch");
        await new Promise((r) => setTimeout(r, 2000));
    } while (Date.now() - t0 < 45000);
    assert.equal(res.status, 200, `rs2 still refused after ${Date.now() - t0} ms: ${JSON.stringify(res.body)}`);
    assert.deepEqual(res.body, []);
});
