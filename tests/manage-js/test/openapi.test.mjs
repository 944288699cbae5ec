// The document itself: valid for a real OpenAPI validator, and it names every route of
// docs/management-api.md. Also the operational endpoints, validated like everything else.
import { test } from "node:test";
import assert from "node:assert/strict";
import SwaggerParser from "@apidevtools/swagger-parser";
import { cfg, example, raw, spec } from "../support/lib.mjs";

test("schemas/openapi.yaml is a valid OpenAPI document", async () => {
    const api = await SwaggerParser.validate(cfg.specPath);
    assert.match(api.openapi, /^3\.(0|1)\./);
    assert.equal(api.components.securitySchemes.bearerAuth.scheme, "bearer");
    assert.equal(api.components.securitySchemes.bearerAuth.bearerFormat, "JWT");
});

test("the document describes every route and method of the contract", async () => {
    const api = await spec();
    const want = {
        "/functions/v1/assistants": ["options", "get", "post"],
        "/functions/v1/assistants/{id}": ["options", "get", "patch", "put", "post", "delete"],
        "/functions/v1/workflows": ["options", "get", "post"],
        "/functions/v1/workflows/{id}": ["options", "get", "patch", "put", "post", "delete"],
        "/functions/v1/phone-numbers": ["options", "get", "post"],
        "/functions/v1/phone-numbers/search": ["options", "post"],
        "/functions/v1/phone-numbers/{id}": ["options", "get", "patch", "put", "post", "delete"],
        "/functions/v1/phone-numbers/{id}/assign": ["options", "post"],
        "/functions/v1/phone-numbers/{id}/release": ["options", "post"],
        "/functions/v1/files": ["options", "get", "post"],
        "/functions/v1/files/{id}": ["options", "get", "patch", "put", "post", "delete"],
        "/functions/v1/knowledge-bases": ["options", "get", "post"],
        "/functions/v1/knowledge-bases/{id}": ["options", "get", "patch", "put", "post", "delete"],
        "/functions/v1/knowledge-bases/{id}/files": ["options", "get", "post"],
        "/functions/v1/knowledge-bases/{id}/files/{fileId}": ["options", "delete"],
        "/functions/v1/calls": ["options", "get", "post"],
        "/functions/v1/calls/{id}": ["options", "get", "post"],
        "/receive": ["post"],
        "/webhooks/vapi": ["post"],
        "/healthz": ["get"],
        "/readyz": ["get"],
        "/metrics": ["get"],
        "/oauth/token": ["post"],
    };
    for (const [p, methods] of Object.entries(want)) {
        assert.ok(api.paths[p], `path ${p} missing`);
        for (const m of methods) assert.ok(api.paths[p][m], `${m.toUpperCase()} ${p} missing`);
    }
    // Every error status of the contract's table appears, with the {error} body.
    const statuses = new Set();
    for (const item of Object.values(api.paths))
        for (const op of Object.values(item)) if (op?.responses) Object.keys(op.responses).forEach((s) => statuses.add(s));
    for (const s of ["400", "401", "404", "405", "409", "413", "415", "422", "502", "503"]) assert.ok(statuses.has(s), `status ${s} undocumented`);
    const err = api.components.schemas.Error;
    assert.deepEqual(err.required, ["error"]);
    for (const name of ["Assistant", "Workflow", "PhoneNumber", "File", "KnowledgeBase"]) {
        const s = api.components.schemas[name];
        const required = (s.allOf ? s.allOf.flatMap((x) => x.required ?? []) : s.required) ?? [];
        for (const f of ["id", "orgId", "createdAt", "updatedAt"]) assert.ok(required.includes(f), `${name}.${f} not required`);
    }
    assert.deepEqual(api.components.schemas.CallPage.required, ["data", "nextCursor"]);
});

test("operational endpoints answer as documented", async () => {
    const h = await raw("GET", "/healthz");
    assert.equal(h.status, 200);
    assert.equal(h.body.status, "ok");
    const r = await raw("GET", "/readyz");
    assert.equal(r.status, 200);
    const m = await raw("GET", "/metrics");
    assert.equal(m.status, 200);
    assert.match(String(m.body), /^# (HELP|TYPE) /m);
});

test("the OAuth2 token endpoint answers as documented, and its token authenticates a webhook", async () => {
    const form = (o) => new URLSearchParams(o).toString();
    const formType = { "content-type": "application/x-www-form-urlencoded" };
    const issued = await raw("POST", "/oauth/token", {
        headers: formType,
        body: form({ grant_type: "client_credentials", client_id: cfg.oauthClientId, client_secret: cfg.oauthSecret, scope: "webhooks" }),
    });
    assert.equal(issued.status, 200);
    assert.equal(issued.headers.get("cache-control"), "no-store");
    assert.equal(issued.body.token_type, "Bearer");
    assert.equal(issued.body.scope, "webhooks");

    // HTTP Basic and a JSON body, as other OAuth clients send them.
    const basic = Buffer.from(`${encodeURIComponent(cfg.oauthClientId)}:${encodeURIComponent(cfg.oauthSecret)}`).toString("base64");
    const byBasic = await raw("POST", "/oauth/token", { headers: { ...formType, authorization: `Basic ${basic}` }, body: "grant_type=client_credentials" });
    assert.equal(byBasic.status, 200);
    const byJson = await raw("POST", "/oauth/token", {
        headers: { "content-type": "application/json" },
        body: JSON.stringify({ grant_type: "client_credentials", client_id: cfg.oauthClientId, client_secret: cfg.oauthSecret }),
    });
    assert.equal(byJson.status, 200);

    const wrong = await raw("POST", "/oauth/token", {
        headers: formType,
        body: form({ grant_type: "client_credentials", client_id: cfg.oauthClientId, client_secret: "not-it" }),
    });
    assert.equal(wrong.status, 401);
    assert.equal(wrong.body.error, "invalid_client");
    const grant = await raw("POST", "/oauth/token", {
        headers: formType,
        body: form({ grant_type: "password", client_id: cfg.oauthClientId, client_secret: cfg.oauthSecret }),
    });
    assert.equal(grant.status, 400);
    assert.equal(grant.body.error, "unsupported_grant_type");

    // The token in place of the webhook secret.
    const body = example("09-hang.json");
    body.message.call.id = `oauth-${Date.now()}`;
    const hook = await raw("POST", "/receive", {
        headers: { "content-type": "application/json", authorization: `Bearer ${issued.body.access_token}` },
        body: JSON.stringify(body),
    });
    assert.equal(hook.status, 200);
    const refused = await raw("POST", "/receive", {
        headers: { "content-type": "application/json", authorization: `Bearer ${issued.body.access_token}x` },
        body: JSON.stringify(body),
    });
    assert.equal(refused.status, 401);
    assert.match(refused.body.error, /invalid_access_token/);
});
