// Runs the official Vapi SDK (@vapi-ai/server-sdk) against the fake, one operation at a time, and
// writes the requests the fake received for each operation to a JSON file. The C++ test
// (tests/integration/vapi_rest_test.cpp) performs the same operations with vapi::rest_client
// and compares its requests with these, operation by operation.
//
// Usage: node sdk-compare.mjs --out FILE
//
// The fake runs in this process with deterministic ids, so the ids (and the paths that contain
// them) are the same in both runs. Keep the operations in step with the C++ test.

import fs from "node:fs";
import { createRequire } from "node:module";

import { VapiClient } from "@vapi-ai/server-sdk";

import { startFakeVapi } from "./server.mjs";

const API_KEY = "sdk-compare-key";

function parseArgs(argv) {
    const opts = {};
    for (let i = 0; i < argv.length; i++) {
        if (argv[i] === "--out") opts.out = argv[++i];
        else throw new Error(`unknown argument ${argv[i]}`);
    }
    if (!opts.out) throw new Error("usage: node sdk-compare.mjs --out FILE");
    return opts;
}

function sdkVersion() {
    const require = createRequire(import.meta.url);
    return require("@vapi-ai/server-sdk/package.json").version;
}

// The operations, in order. Each returns the SDK's result (or throws the SDK's error). `ids`
// carries what earlier operations created.
const operations = [
    ["assistant.create", async (vapi, ids) => {
        const a = await vapi.assistants.create({
            name: "Front desk",
            firstMessage: "Hello, how can I help?",
            model: {
                provider: "openai",
                model: "gpt-4o",
                messages: [{ role: "system", content: "You are a receptionist at Café Ørsted." }],
                temperature: 0.3,
            },
            voice: { provider: "11labs", voiceId: "burt" },
            serverMessages: ["end-of-call-report", "status-update"],
            metadata: { team: "support", priority: 2 },
        });
        ids.assistant = a.id;
        return a;
    }],
    ["assistant.list", (vapi) => vapi.assistants.list({ limit: 10, createdAtGt: "2020-01-01T00:00:00.000Z" })],
    ["assistant.get", (vapi, ids) => vapi.assistants.get({ id: ids.assistant })],
    ["assistant.update", (vapi, ids) =>
        vapi.assistants.update({ id: ids.assistant, name: "Front desk (new)", firstMessage: "Hi!" })],
    ["phone.create.vapi", async (vapi, ids) => {
        const p = await vapi.phoneNumbers.create({
            provider: "vapi",
            numberDesiredAreaCode: "415",
            name: "Main line",
            assistantId: ids.assistant,
        });
        ids.vapiNumber = p.id;
        return p;
    }],
    ["phone.create.twilio", async (vapi, ids) => {
        const p = await vapi.phoneNumbers.create({
            provider: "twilio",
            number: "+14155550123",
            twilioAccountSid: "AC0123456789abcdef",
            twilioAuthToken: "twilio-token",
            name: "Twilio line",
        });
        ids.twilioNumber = p.id;
        return p;
    }],
    ["phone.create.twilio.invalid", (vapi) =>
        vapi.phoneNumbers.create({ provider: "twilio", twilioAccountSid: "AC0123456789abcdef" })],
    ["phone.update", (vapi, ids) =>
        vapi.phoneNumbers.update({ id: ids.twilioNumber, body: { name: "Support line", assistantId: ids.assistant } })],
    ["phone.list", (vapi) => vapi.phoneNumbers.list({ limit: 50 })],
    ["phone.list.v2.number", (vapi) =>
        vapi.phoneNumbers.phoneNumberControllerFindAllPaginated({ search: "+1415", page: 1, limit: 1, sortOrder: "DESC" })],
    ["phone.list.v2.name", (vapi) =>
        vapi.phoneNumbers.phoneNumberControllerFindAllPaginated({ search: "Main line & co/50% (x)", page: 2 })],
    ["assistant.delete.in-use", (vapi, ids) => vapi.assistants.delete({ id: ids.assistant })],
    ["assistant.get.unknown", (vapi) => vapi.assistants.get({ id: "00000000-0000-4000-8000-0000000fffff" })],
    ["phone.delete.vapi", (vapi, ids) => vapi.phoneNumbers.delete({ id: ids.vapiNumber })],
    ["phone.delete.twilio", (vapi, ids) => vapi.phoneNumbers.delete({ id: ids.twilioNumber })],
    ["assistant.delete", (vapi, ids) => vapi.assistants.delete({ id: ids.assistant })],
    ["file.create", async (vapi, ids) => {
        const f = await vapi.files.create({
            file: {
                data: Buffer.from("Opening hours: 9–17 on weekdays.\nClosed on Sundays.\n", "utf8"),
                filename: "opening hours.txt",
                contentType: "text/plain",
            },
            purpose: "knowledge-base-v2",
            metadata: JSON.stringify({ source: "switchboard-test" }),
        });
        ids.file = f.id;
        return f;
    }],
    ["file.list", (vapi) => vapi.files.list({ purpose: "knowledge-base-v2" })],
    ["file.get", (vapi, ids) => vapi.files.get({ id: ids.file })],
    ["file.update", (vapi, ids) => vapi.files.update({ id: ids.file, name: "hours.txt" })],
    ["kb.create", async (vapi, ids) => {
        const kb = await vapi.knowledgeBasesV2.knowledgeBaseV2ControllerCreate({
            name: "Support KB",
            description: "Opening hours and FAQ",
        });
        ids.kb = kb.id;
        return kb;
    }],
    ["kb.attach", (vapi, ids) => vapi.knowledgeBasesV2.knowledgeBaseV2ControllerFileAttach({ id: ids.kb, fileId: ids.file })],
    ["kb.get", (vapi, ids) => vapi.knowledgeBasesV2.knowledgeBaseV2ControllerFindOne({ id: ids.kb })],
    ["kb.files", (vapi, ids) => vapi.knowledgeBasesV2.knowledgeBaseV2ControllerFilesGet({ id: ids.kb })],
    ["kb.update", (vapi, ids) =>
        vapi.knowledgeBasesV2.knowledgeBaseV2ControllerUpdate({ id: ids.kb, name: "Support KB 2", description: null })],
    ["kb.list", (vapi) => vapi.knowledgeBasesV2.knowledgeBaseV2ControllerFindAll({ limit: 5 })],
    ["kb.detach", (vapi, ids) =>
        vapi.knowledgeBasesV2.knowledgeBaseV2ControllerFileDetach({ id: ids.kb, fileId: ids.file })],
    ["kb.delete", (vapi, ids) => vapi.knowledgeBasesV2.knowledgeBaseV2ControllerRemove({ id: ids.kb })],
    ["file.delete", (vapi, ids) => vapi.files.delete({ id: ids.file })],
];

async function main() {
    const { out } = parseArgs(process.argv.slice(2));
    const running = await startFakeVapi({ apiKey: API_KEY, deterministicIds: true });
    const vapi = new VapiClient({ token: API_KEY, baseUrl: running.url });
    const result = {
        sdk: "@vapi-ai/server-sdk",
        version: sdkVersion(),
        apiKey: API_KEY,
        notes: [
            "workflows: SDK 2.0.1 has no workflows client (only the Workflow types), so /workflow is not compared",
        ],
        operations: [],
    };
    const ids = {};
    try {
        for (const [name, run] of operations) {
            running.fake.requests = [];
            let outcome;
            try {
                const value = await run(vapi, ids);
                outcome = { ok: true, id: value && typeof value === "object" ? value.id ?? null : null };
            } catch (err) {
                outcome = { ok: false, statusCode: err.statusCode ?? null, error: err.message.split("\n")[0] };
            }
            const requests = JSON.parse(JSON.stringify(running.fake.requests));
            result.operations.push({ name, outcome, requests });
            process.stdout.write(`${name}: ${requests.map((r) => `${r.method} ${r.path} -> ${r.status}`).join(", ")}\n`);
        }
    } finally {
        await running.close();
    }
    fs.writeFileSync(`${out}.tmp`, JSON.stringify(result, null, 2));
    fs.renameSync(`${out}.tmp`, out);
    process.stdout.write(`wrote ${result.operations.length} operations to ${out}\n`);
}

main().catch((err) => {
    process.stderr.write(`sdk-compare: ${err.stack ?? err.message}\n`);
    process.exit(1);
});
