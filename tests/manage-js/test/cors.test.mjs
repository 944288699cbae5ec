// CORS: preflight without authentication, and the headers on every /functions/v1 answer.
import { test } from "node:test";
import assert from "node:assert/strict";
import { cfg, raw, user } from "../support/lib.mjs";

const ALLOW_HEADERS = ["authorization", "x-client-info", "apikey", "content-type", "x-region", "x-supabase-api-version"];
const ALLOW_METHODS = ["GET", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"];

// SWITCHBOARD_CORS_ORIGINS is not set: the default "*" whatever the Origin.
function checkCors(headers, what) {
    assert.equal(headers.get("access-control-allow-origin"), "*", `${what}: Allow-Origin`);
}

test("preflight of every route: 204, no authentication, the contract's headers", async () => {
    const paths = [
        "assistants", "assistants/abc", "workflows", "workflows/abc", "phone-numbers", "phone-numbers/abc",
        "phone-numbers/search", "phone-numbers/abc/assign", "phone-numbers/abc/release", "files", "files/abc",
        "knowledge-bases", "knowledge-bases/abc", "knowledge-bases/abc/files", "knowledge-bases/abc/files/def",
        "calls", "calls/abc",
    ];
    for (const p of paths) {
        const r = await raw("OPTIONS", `/functions/v1/${p}`, {
            headers: {
                origin: cfg.corsOrigin,
                "access-control-request-method": "POST",
                "access-control-request-headers": "authorization, x-client-info, apikey, content-type",
            },
        });
        assert.equal(r.status, 204, `OPTIONS ${p}`);
        checkCors(r.headers, `OPTIONS ${p}`);
        const allowHeaders = (r.headers.get("access-control-allow-headers") ?? "").toLowerCase().split(/\s*,\s*/);
        for (const h of ALLOW_HEADERS) assert.ok(allowHeaders.includes(h), `${p}: Allow-Headers lacks ${h}: ${allowHeaders}`);
        const allowMethods = (r.headers.get("access-control-allow-methods") ?? "").toUpperCase().split(/\s*,\s*/);
        for (const m of ALLOW_METHODS) assert.ok(allowMethods.includes(m), `${p}: Allow-Methods lacks ${m}`);
        assert.equal(r.headers.get("access-control-max-age"), "86400", `${p}: Max-Age`);
    }
});

test("CORS headers on answers too, errors included (a browser must read the 401)", async () => {
    const r = await raw("GET", "/functions/v1/assistants", { headers: { origin: cfg.corsOrigin } });
    assert.equal(r.status, 401);
    checkCors(r.headers, "401");
    const u = await user();
    const ok = await u.invoke("assistants", { method: "GET", headers: { origin: cfg.corsOrigin } });
    assert.equal(ok.status, 200);
    checkCors(ok.headers, "200");
    const nf = await u.invoke("assistants/does-not-exist", { method: "GET", headers: { origin: cfg.corsOrigin } });
    assert.equal(nf.status, 404);
    checkCors(nf.headers, "404");
});
