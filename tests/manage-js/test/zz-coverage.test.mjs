// Runs last: every operation of schemas/openapi.yaml was exercised by the other files (their
// responses are in $MANAGE_JS_WORK/seen.jsonl), and every status of the contract's error table
// was seen at least once.
import { test } from "node:test";
import assert from "node:assert/strict";
import fs from "node:fs";
import path from "node:path";
import { spec } from "../support/lib.mjs";

const NOT_DRIVEN = new Set([
    // documented for completeness, not driven from the front end's point of view
    "PUT /functions/v1/{function}", "PATCH /functions/v1/{function}", "DELETE /functions/v1/{function}", "POST /functions/v1/{function}",
    "PUT /functions/v1/calls", "PATCH /functions/v1/calls", "PUT /functions/v1/calls/{id}", "DELETE /functions/v1/calls/{id}",
]);

test("every documented operation was exercised", async (t) => {
    const file = path.join(process.env.MANAGE_JS_WORK ?? "", "seen.jsonl");
    if (!fs.existsSync(file)) return t.skip("no seen.jsonl (run with the other test files)");
    const seen = fs.readFileSync(file, "utf8").split("\n").filter(Boolean).map((l) => JSON.parse(l));
    const ran = new Set(seen.map((x) => `${x.method} ${x.tpl}`));
    const api = await spec();
    const missing = [];
    for (const [p, item] of Object.entries(api.paths))
        for (const m of ["get", "post", "put", "patch", "delete", "options"])
            if (item[m] && !ran.has(`${m.toUpperCase()} ${p}`) && !NOT_DRIVEN.has(`${m.toUpperCase()} ${p}`)) missing.push(`${m.toUpperCase()} ${p}`);
    const partial = seen.length < 200; // a run of only some files
    if (partial) return t.skip(`only ${seen.length} responses seen: a partial run`);
    assert.deepEqual(missing, [], "operations never exercised");
    const statuses = new Set(seen.filter((x) => x.path.startsWith("/functions/v1")).map((x) => x.status));
    for (const s of [200, 201, 204, 400, 401, 404, 405, 409, 413, 415, 422, 502, 503])
        assert.ok(statuses.has(s), `status ${s} never answered by /functions/v1 in this run`);
});
