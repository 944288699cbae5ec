// An in-memory fake of Vapi's REST API (api.vapi.ai) for tests: assistants, workflows, phone
// numbers, files and v2 knowledge bases, with Vapi-shaped objects and errors, a request log and
// fault injection. Plain node:http, no dependencies. See README.md beside this file.
//
// Run:    node server.mjs [--port 0] [--host 127.0.0.1] [--port-file FILE] [--api-key KEY]
//                         [--org-id UUID] [--deterministic-ids]
// Import: const fake = await startFakeVapi({apiKey, deterministicIds}); ... await fake.close();

import crypto from "node:crypto";
import fs from "node:fs";
import http from "node:http";
import path from "node:path";
import { fileURLToPath } from "node:url";

export const DEFAULT_API_KEY = "fake-vapi-key";

const STATUS_TEXT = {
    400: "Bad Request",
    401: "Unauthorized",
    403: "Forbidden",
    404: "Not Found",
    408: "Request Timeout",
    409: "Conflict",
    413: "Payload Too Large",
    422: "Unprocessable Entity",
    429: "Too Many Requests",
    500: "Internal Server Error",
    502: "Bad Gateway",
    503: "Service Unavailable",
    504: "Gateway Timeout",
};

const MAX_BODY = 20 * 1024 * 1024;
const SERVER_FIELDS = ["id", "orgId", "createdAt", "updatedAt"];
const PHONE_PROVIDERS = ["byo-phone-number", "twilio", "vonage", "vapi", "telnyx"];
const FILE_PURPOSES = ["assistant", "composer-attachment", "knowledge-base-v2"];
const FIRST_MESSAGE_MODES = [
    "assistant-speaks-first",
    "assistant-waits-for-user",
    "assistant-speaks-first-with-model-generated-message",
];
const UUID_RE = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

/// An error answered in Vapi's (NestJS) format: {message, error, statusCode}.
class HttpError extends Error {
    constructor(status, message, headers = {}) {
        super(Array.isArray(message) ? message.join("; ") : String(message));
        this.status = status;
        this.vapiMessage = message;
        this.headers = headers;
    }
}

export function vapiErrorBody(status, message) {
    const error = STATUS_TEXT[status] ?? "Error";
    return { message: message ?? error, error, statusCode: status };
}

const badRequest = (messages) => new HttpError(400, messages);
const notFound = (what) => new HttpError(404, `${what} not found`);

function isPlainObject(v) {
    return typeof v === "object" && v !== null && !Array.isArray(v);
}

function clone(v) {
    return v === undefined ? undefined : JSON.parse(JSON.stringify(v));
}

// --- validation, class-validator style ------------------------------------------------------

function checkString(errors, body, field, { required = false, maxLength } = {}) {
    const v = body[field];
    if (v === undefined || v === null) {
        if (required) errors.push(`${field} must be a string`);
        return;
    }
    if (typeof v !== "string") errors.push(`${field} must be a string`);
    else if (maxLength !== undefined && v.length > maxLength)
        errors.push(`${field} must be shorter than or equal to ${maxLength} characters`);
}

function checkEnum(errors, body, field, values) {
    const v = body[field];
    if (v === undefined) return;
    if (!values.includes(v))
        errors.push(`${field} must be one of the following values: ${values.join(", ")}`);
}

function checkUuid(errors, body, field) {
    const v = body[field];
    if (v === undefined || v === null) return;
    if (typeof v !== "string" || !UUID_RE.test(v)) errors.push(`${field} must be a UUID`);
}

function checkWhitelist(errors, body, allowed) {
    for (const key of Object.keys(body)) {
        if (!allowed.includes(key)) errors.push(`property ${key} should not exist`);
    }
}

function checkNoServerFields(errors, body) {
    for (const key of SERVER_FIELDS) {
        if (key in body) errors.push(`property ${key} should not exist`);
    }
}

function throwIf(errors) {
    if (errors.length) throw badRequest(errors);
}

// --- the fake ---------------------------------------------------------------------------------

export class FakeVapi {
    constructor({ apiKey = DEFAULT_API_KEY, orgId, deterministicIds = false } = {}) {
        this.apiKey = apiKey;
        this.fixedOrgId = orgId;
        this.deterministicIds = deterministicIds;
        this.reset();
        this.routes = this.buildRoutes();
    }

    reset({ deterministicIds } = {}) {
        if (deterministicIds !== undefined) this.deterministicIds = deterministicIds;
        this.counter = 0;
        this.sequence = 0;
        this.orgId = this.fixedOrgId ?? (this.deterministicIds ? this.newId() : crypto.randomUUID());
        this.assistants = new Map();
        this.workflows = new Map();
        this.phoneNumbers = new Map();
        this.files = new Map();
        this.knowledgeBases = new Map();
        this.requests = [];
        this.faults = [];
    }

    newId() {
        if (!this.deterministicIds) return crypto.randomUUID();
        this.counter += 1;
        return `00000000-0000-4000-8000-${this.counter.toString(16).padStart(12, "0")}`;
    }

    now() {
        return new Date().toISOString();
    }

    stamp(fields) {
        const now = this.now();
        return { id: this.newId(), orgId: this.orgId, createdAt: now, updatedAt: now, ...fields };
    }

    // Keeps creation order for stable newest-first lists even within one millisecond.
    store(map, obj) {
        this.sequence += 1;
        Object.defineProperty(obj, "__seq", { value: this.sequence, enumerable: false });
        map.set(obj.id, obj);
        return obj;
    }

    buildRoutes() {
        const r = [];
        const add = (method, pattern, handler) => r.push({ method, pattern, handler });
        const ID = "([^/]+)";

        add("GET", /^\/assistant$/, (q) => this.list(this.assistants, q.query));
        add("POST", /^\/assistant$/, (q) => this.createAssistant(q.json()));
        add("GET", new RegExp(`^/assistant/${ID}$`), (q, id) => this.find(this.assistants, id, "Assistant"));
        add("PATCH", new RegExp(`^/assistant/${ID}$`), (q, id) => this.updateAssistant(id, q.json()));
        add("DELETE", new RegExp(`^/assistant/${ID}$`), (q, id) => this.deleteAssistant(id));

        add("GET", /^\/workflow$/, (q) => this.list(this.workflows, q.query));
        add("POST", /^\/workflow$/, (q) => this.createWorkflow(q.json()));
        add("GET", new RegExp(`^/workflow/${ID}$`), (q, id) => this.find(this.workflows, id, "Workflow"));
        add("PATCH", new RegExp(`^/workflow/${ID}$`), (q, id) => this.updateWorkflow(id, q.json()));
        add("DELETE", new RegExp(`^/workflow/${ID}$`), (q, id) => this.deleteWorkflow(id));

        add("GET", /^\/phone-number$/, (q) => this.list(this.phoneNumbers, q.query));
        add("GET", /^\/v2\/phone-number$/, (q) => this.listPhoneNumbersPaginated(q.query));
        add("POST", /^\/phone-number$/, (q) => this.createPhoneNumber(q.json()));
        add("GET", new RegExp(`^/phone-number/${ID}$`), (q, id) =>
            this.find(this.phoneNumbers, id, "Phone Number"));
        add("PATCH", new RegExp(`^/phone-number/${ID}$`), (q, id) => this.updatePhoneNumber(id, q.json()));
        add("DELETE", new RegExp(`^/phone-number/${ID}$`), (q, id) =>
            this.remove(this.phoneNumbers, id, "Phone Number"));

        add("GET", /^\/file$/, (q) => this.listFiles(q.query));
        add("POST", /^\/file$/, (q) => this.createFile(q));
        add("GET", new RegExp(`^/file/${ID}$`), (q, id) => this.find(this.files, id, "File"));
        add("PATCH", new RegExp(`^/file/${ID}$`), (q, id) => this.updateFile(id, q.json()));
        add("DELETE", new RegExp(`^/file/${ID}$`), (q, id) => this.remove(this.files, id, "File"));

        const KB = "/v2/knowledge-base";
        add("GET", new RegExp(`^${KB}$`), (q) => this.list(this.knowledgeBases, q.query));
        add("POST", new RegExp(`^${KB}$`), (q) => this.createKnowledgeBase(q.json()));
        add("GET", new RegExp(`^${KB}/${ID}$`), (q, id) => this.kbWithFiles(this.kb(id)));
        add("PATCH", new RegExp(`^${KB}/${ID}$`), (q, id) => this.updateKnowledgeBase(id, q.json()));
        add("DELETE", new RegExp(`^${KB}/${ID}$`), (q, id) => this.deleteKnowledgeBase(id));
        add("GET", new RegExp(`^${KB}/${ID}/file$`), (q, id) => this.kbFiles(this.kb(id)));
        add("POST", new RegExp(`^${KB}/${ID}/file$`), (q, id) => this.attachFile(id, q.json()));
        add("DELETE", new RegExp(`^${KB}/${ID}/file/${ID}$`), (q, id, fileId) => this.detachFile(id, fileId));
        add("POST", new RegExp(`^${KB}/${ID}/file/${ID}/retry$`), (q, id, fileId) => this.retryFile(id, fileId));
        return r;
    }

    // --- generic collections -----------------------------------------------------------------

    find(map, id, label) {
        const obj = map.get(id);
        if (!obj) throw notFound(label);
        return obj;
    }

    remove(map, id, label) {
        const obj = this.find(map, id, label);
        map.delete(id);
        return obj;
    }

    /// Plain lists: newest first, createdAt/updatedAt filters, `limit` (default 100).
    list(map, query) {
        let items = [...map.values()];
        for (const [param, field, cmp] of [
            ["createdAtGt", "createdAt", (a, b) => a > b],
            ["createdAtLt", "createdAt", (a, b) => a < b],
            ["createdAtGe", "createdAt", (a, b) => a >= b],
            ["createdAtLe", "createdAt", (a, b) => a <= b],
            ["updatedAtGt", "updatedAt", (a, b) => a > b],
            ["updatedAtLt", "updatedAt", (a, b) => a < b],
            ["updatedAtGe", "updatedAt", (a, b) => a >= b],
            ["updatedAtLe", "updatedAt", (a, b) => a <= b],
        ]) {
            if (query[param] === undefined) continue;
            const bound = Date.parse(query[param]);
            if (Number.isNaN(bound)) throw badRequest([`${param} must be a valid ISO 8601 date string`]);
            items = items.filter((o) => cmp(Date.parse(o[field]), bound));
        }
        items.sort((a, b) => b.__seq - a.__seq);
        return items.slice(0, this.limitOf(query));
    }

    limitOf(query, fallback = 100) {
        if (query.limit === undefined) return fallback;
        const n = Number(query.limit);
        if (!Number.isFinite(n) || n < 0) throw badRequest(["limit must not be less than 0"]);
        if (n > 1000) throw badRequest(["limit must not be greater than 1000"]);
        return n;
    }

    // --- assistants --------------------------------------------------------------------------

    validateAssistant(body) {
        const errors = [];
        checkNoServerFields(errors, body);
        checkString(errors, body, "name", { maxLength: 40 });
        checkString(errors, body, "firstMessage");
        checkEnum(errors, body, "firstMessageMode", FIRST_MESSAGE_MODES);
        for (const field of ["model", "voice", "transcriber"]) {
            const v = body[field];
            if (v === undefined) continue;
            if (!isPlainObject(v)) errors.push(`${field} must be an object`);
            else if (typeof v.provider !== "string") errors.push(`${field}.provider must be a string`);
        }
        if (isPlainObject(body.model) && body.model.provider === "openai" && typeof body.model.model !== "string")
            errors.push("model.model must be a string");
        if (body.serverMessages !== undefined && !Array.isArray(body.serverMessages))
            errors.push("serverMessages must be an array");
        if (body.metadata !== undefined && !isPlainObject(body.metadata)) errors.push("metadata must be an object");
        throwIf(errors);
    }

    createAssistant(body) {
        this.validateAssistant(body);
        return this.store(this.assistants, this.stamp(clone(body)));
    }

    updateAssistant(id, body) {
        const obj = this.find(this.assistants, id, "Assistant");
        this.validateAssistant(body);
        Object.assign(obj, clone(body), { updatedAt: this.now() });
        return obj;
    }

    inUseBy(field, id) {
        return [...this.phoneNumbers.values()].filter((p) => p[field] === id).map((p) => p.id);
    }

    deleteAssistant(id) {
        this.find(this.assistants, id, "Assistant");
        const users = this.inUseBy("assistantId", id);
        if (users.length)
            throw new HttpError(409, `Assistant is in use by phone number(s): ${users.join(", ")}. Remove it from them first.`);
        return this.remove(this.assistants, id, "Assistant");
    }

    // --- workflows ---------------------------------------------------------------------------

    validateWorkflow(body, { create }) {
        const errors = [];
        checkNoServerFields(errors, body);
        checkString(errors, body, "name", { required: create, maxLength: 80 });
        for (const field of ["nodes", "edges"]) {
            if (body[field] === undefined && !create) continue;
            if (!Array.isArray(body[field])) errors.push(`${field} must be an array`);
        }
        if (Array.isArray(body.nodes)) {
            body.nodes.forEach((n, i) => {
                if (!isPlainObject(n)) return errors.push(`nodes.${i} must be an object`);
                if (!["conversation", "tool"].includes(n.type))
                    errors.push(`nodes.${i}.type must be one of the following values: conversation, tool`);
                if (typeof n.name !== "string") errors.push(`nodes.${i}.name must be a string`);
            });
        }
        if (Array.isArray(body.edges)) {
            const names = new Set((Array.isArray(body.nodes) ? body.nodes : []).map((n) => n?.name));
            body.edges.forEach((e, i) => {
                if (!isPlainObject(e)) return errors.push(`edges.${i} must be an object`);
                if (typeof e.from !== "string") errors.push(`edges.${i}.from must be a string`);
                if (typeof e.to !== "string") errors.push(`edges.${i}.to must be a string`);
                if (Array.isArray(body.nodes)) {
                    for (const end of ["from", "to"]) {
                        if (typeof e[end] === "string" && !names.has(e[end]))
                            errors.push(`edges.${i}.${end} must name a node (no node named "${e[end]}")`);
                    }
                }
            });
        }
        throwIf(errors);
    }

    createWorkflow(body) {
        this.validateWorkflow(body, { create: true });
        return this.store(this.workflows, this.stamp(clone(body)));
    }

    updateWorkflow(id, body) {
        const obj = this.find(this.workflows, id, "Workflow");
        this.validateWorkflow({ nodes: obj.nodes, ...body }, { create: false });
        Object.assign(obj, clone(body), { updatedAt: this.now() });
        return obj;
    }

    deleteWorkflow(id) {
        this.find(this.workflows, id, "Workflow");
        const users = this.inUseBy("workflowId", id);
        if (users.length)
            throw new HttpError(409, `Workflow is in use by phone number(s): ${users.join(", ")}. Remove it from them first.`);
        return this.remove(this.workflows, id, "Workflow");
    }

    // --- phone numbers -----------------------------------------------------------------------

    validatePhoneNumber(body, provider) {
        const errors = [];
        checkNoServerFields(errors, body);
        checkString(errors, body, "name", { maxLength: 40 });
        for (const field of ["assistantId", "workflowId", "squadId", "credentialId"]) checkUuid(errors, body, field);
        const need = (field) => checkString(errors, body, field, { required: true });
        switch (provider) {
            case "twilio":
                need("number");
                need("twilioAccountSid");
                break;
            case "vonage":
            case "telnyx":
                need("number");
                need("credentialId");
                break;
            case "byo-phone-number":
                need("credentialId");
                checkString(errors, body, "number");
                break;
            case "vapi":
                checkString(errors, body, "sipUri");
                if (body.numberDesiredAreaCode !== undefined &&
                    (typeof body.numberDesiredAreaCode !== "string" || !/^[2-9][0-9]{2}$/.test(body.numberDesiredAreaCode)))
                    errors.push("numberDesiredAreaCode must be a 3-digit US area code");
                break;
        }
        throwIf(errors);
        const refs = [
            ["assistantId", this.assistants, "Assistant"],
            ["workflowId", this.workflows, "Workflow"],
        ];
        for (const [field, map, label] of refs) {
            if (typeof body[field] === "string" && !map.has(body[field]))
                throw badRequest([`${label} not found (${field} ${body[field]})`]);
        }
        const targets = ["assistantId", "squadId", "workflowId"].filter((f) => typeof body[f] === "string");
        if (targets.length > 1) throw badRequest([`only one of ${targets.join(", ")} may be set`]);
    }

    createPhoneNumber(body) {
        if (!PHONE_PROVIDERS.includes(body.provider))
            throw badRequest([`provider must be one of the following values: ${PHONE_PROVIDERS.join(", ")}`]);
        this.validatePhoneNumber(body, body.provider);
        const obj = this.stamp({ ...clone(body), status: "active" });
        if (body.provider === "vapi" && body.sipUri === undefined) obj.number = this.vapiNumber(body.numberDesiredAreaCode);
        if (body.provider === "twilio" && obj.smsEnabled === undefined) obj.smsEnabled = true;
        if (body.provider === "byo-phone-number" && obj.numberE164CheckEnabled === undefined)
            obj.numberE164CheckEnabled = true;
        return this.store(this.phoneNumbers, obj);
    }

    vapiNumber(areaCode) {
        const area = areaCode ?? "415";
        const line = this.deterministicIds
            ? String(this.counter).padStart(4, "0").slice(-4)
            : String(crypto.randomInt(0, 10000)).padStart(4, "0");
        return `+1${area}555${line}`;
    }

    updatePhoneNumber(id, body) {
        const obj = this.find(this.phoneNumbers, id, "Phone Number");
        if (body.provider !== undefined && body.provider !== obj.provider)
            throw badRequest([`provider must be ${obj.provider} (the provider of this phone number cannot change)`]);
        const errors = [];
        checkNoServerFields(errors, body);
        throwIf(errors);
        const merged = { ...obj, ...body };
        for (const f of [...SERVER_FIELDS, "status"]) delete merged[f];
        for (const f of ["assistantId", "squadId", "workflowId"]) if (merged[f] === null) delete merged[f];
        this.validatePhoneNumber(merged, obj.provider);
        Object.assign(obj, clone(body), { updatedAt: this.now() });
        // null clears a call target.
        for (const f of ["assistantId", "squadId", "workflowId"]) {
            if (body[f] === null) delete obj[f];
        }
        return obj;
    }

    listPhoneNumbersPaginated(query) {
        const page = query.page === undefined ? 1 : Number(query.page);
        if (!Number.isInteger(page) || page < 1) throw badRequest(["page must not be less than 1"]);
        const limit = this.limitOf(query);
        const sortOrder = query.sortOrder ?? "DESC";
        if (!["ASC", "DESC"].includes(sortOrder))
            throw badRequest(["sortOrder must be one of the following values: ASC, DESC"]);
        if (query.sortBy !== undefined && !["createdAt", "duration", "cost"].includes(query.sortBy))
            throw badRequest(["sortBy must be one of the following values: createdAt, duration, cost"]);
        let items = this.list(this.phoneNumbers, { ...query, limit: 1000 });
        if (query.search !== undefined && query.search !== "") {
            const needle = String(query.search).toLowerCase();
            items = items.filter((p) =>
                [p.name, p.number, p.sipUri].some((v) => typeof v === "string" && v.toLowerCase().includes(needle)));
        }
        if (sortOrder === "ASC") items.reverse();
        const totalItems = items.length;
        const totalPages = limit > 0 ? Math.ceil(totalItems / limit) : 0;
        return {
            results: items.slice((page - 1) * limit, page * limit),
            metadata: {
                itemsPerPage: limit,
                totalItems,
                currentPage: page,
                totalPages,
                hasNextPage: page < totalPages,
                sortOrder,
            },
        };
    }

    // --- files -------------------------------------------------------------------------------

    createFile(q) {
        const parts = q.multipart();
        const file = parts.find((p) => p.name === "file");
        if (!file || file.filename === undefined) throw badRequest("File is required");
        const purposePart = parts.find((p) => p.name === "purpose");
        const metadataPart = parts.find((p) => p.name === "metadata");
        const purpose = purposePart?.data.toString("utf8");
        if (purpose !== undefined && !FILE_PURPOSES.includes(purpose))
            throw badRequest([`purpose must be one of the following values: ${FILE_PURPOSES.join(", ")}`]);
        let metadata;
        if (metadataPart !== undefined) {
            try {
                metadata = JSON.parse(metadataPart.data.toString("utf8"));
            } catch {
                throw badRequest(["metadata must be a JSON string"]);
            }
            if (!isPlainObject(metadata)) throw badRequest(["metadata must be a JSON string"]);
        }
        const obj = this.stamp({});
        const key = `${obj.id}-${file.filename}`;
        Object.assign(obj, {
            object: "file",
            status: "done",
            name: file.filename,
            originalName: file.filename,
            bytes: file.data.length,
            mimetype: file.contentType ?? "application/octet-stream",
            key,
            path: `https://storage.vapi.ai/${key}`,
            bucket: "vapi-storage",
            url: `https://storage.vapi.ai/${key}`,
            parsedTextUrl: `https://storage.vapi.ai/${obj.id}-parsed.txt`,
            parsedTextBytes: file.data.length,
        });
        if (purpose !== undefined) obj.purpose = purpose;
        if (metadata !== undefined) obj.metadata = metadata;
        Object.defineProperty(obj, "__content", { value: file.data, enumerable: false });
        return this.store(this.files, obj);
    }

    listFiles(query) {
        let items = this.list(this.files, query);
        if (query.purpose !== undefined) items = items.filter((f) => f.purpose === query.purpose);
        return items;
    }

    updateFile(id, body) {
        const obj = this.find(this.files, id, "File");
        const errors = [];
        checkWhitelist(errors, body, ["name"]);
        checkString(errors, body, "name", { maxLength: 40 });
        throwIf(errors);
        Object.assign(obj, clone(body), { updatedAt: this.now() });
        return obj;
    }

    // --- knowledge bases (v2) ----------------------------------------------------------------

    validateKnowledgeBase(body, { create }) {
        const errors = [];
        checkWhitelist(errors, body, ["name", "description"]);
        checkString(errors, body, "name", { required: create, maxLength: 80 });
        if (body.description !== undefined && body.description !== null && typeof body.description !== "string")
            errors.push("description must be a string");
        throwIf(errors);
    }

    kb(id) {
        return this.find(this.knowledgeBases, id, "Knowledge Base");
    }

    /// The attached files; indexing finishes by the next read, as it does quickly for small files.
    kbFiles(kb) {
        const now = Date.now();
        for (const f of kb.files) {
            if (f.status === "indexing" && now >= f.__readyAt) {
                f.status = "ready";
                f.updatedAt = this.now();
            }
        }
        return kb.files;
    }

    /// KnowledgeBaseV2WithFiles; the stored object itself is the plain KnowledgeBaseV2 view
    /// (files and toolId are kept as non-enumerable properties).
    kbWithFiles(kb) {
        return { ...kb, files: this.kbFiles(kb), toolId: kb.toolId };
    }

    createKnowledgeBase(body) {
        this.validateKnowledgeBase(body, { create: true });
        const obj = this.stamp({ name: body.name });
        if (body.description !== undefined) obj.description = body.description;
        // files and toolId are kept on the object and left out of the plain (non-"with files") views.
        Object.defineProperty(obj, "files", { value: [], enumerable: false, writable: true });
        Object.defineProperty(obj, "toolId", { value: this.newId(), enumerable: false, writable: true });
        return this.store(this.knowledgeBases, obj);
    }

    updateKnowledgeBase(id, body) {
        const obj = this.kb(id);
        this.validateKnowledgeBase(body, { create: false });
        Object.assign(obj, clone(body), { updatedAt: this.now() });
        return obj;
    }

    deleteKnowledgeBase(id) {
        this.kb(id);
        return this.remove(this.knowledgeBases, id, "Knowledge Base");
    }

    attachFile(id, body) {
        const kb = this.kb(id);
        const errors = [];
        checkWhitelist(errors, body, ["fileId"]);
        checkString(errors, body, "fileId", { required: true });
        throwIf(errors);
        const file = this.find(this.files, body.fileId, "File");
        if (kb.files.some((f) => f.fileId === file.id))
            throw new HttpError(409, "File is already attached to this knowledge base");
        const now = this.now();
        const link = {
            id: this.newId(),
            knowledgeBaseV2Id: kb.id,
            fileId: file.id,
            fileName: file.name,
            mimetype: file.mimetype,
            bytes: file.bytes,
            status: "indexing",
            createdAt: now,
            updatedAt: now,
        };
        Object.defineProperty(link, "__readyAt", { value: Date.now(), enumerable: false });
        kb.files.push(link);
        kb.updatedAt = now;
        return link;
    }

    detachFile(id, fileId) {
        const kb = this.kb(id);
        const i = kb.files.findIndex((f) => f.fileId === fileId || f.id === fileId);
        if (i < 0) throw notFound("Knowledge Base File");
        const [link] = kb.files.splice(i, 1);
        kb.updatedAt = this.now();
        return link;
    }

    retryFile(id, fileId) {
        const link = this.kbFiles(this.kb(id)).find((f) => f.fileId === fileId || f.id === fileId);
        if (!link) throw notFound("Knowledge Base File");
        return link;
    }

    // --- fake control ------------------------------------------------------------------------

    setFaults(rules) {
        const list = Array.isArray(rules) ? rules : [rules];
        for (const rule of list) {
            if (!isPlainObject(rule)) throw badRequest(["each fault must be an object"]);
            try {
                new RegExp(rule.path ?? "");
            } catch (e) {
                throw badRequest([`path must be a regular expression: ${e.message}`]);
            }
            this.faults.push({ times: 1, ...rule, remaining: rule.times ?? 1 });
        }
        return this.faults;
    }

    takeFault(method, pathname) {
        for (const rule of this.faults) {
            if (rule.remaining <= 0) continue;
            if (rule.method && rule.method.toUpperCase() !== method) continue;
            if (rule.path && !new RegExp(rule.path).test(pathname)) continue;
            rule.remaining -= 1;
            return rule;
        }
        return undefined;
    }

    state() {
        const all = (map) => [...map.values()];
        return {
            orgId: this.orgId,
            assistants: all(this.assistants),
            workflows: all(this.workflows),
            phoneNumbers: all(this.phoneNumbers),
            files: all(this.files),
            knowledgeBases: all(this.knowledgeBases).map((kb) => this.kbWithFiles(kb)),
        };
    }
}

// --- HTTP -------------------------------------------------------------------------------------

function parseQuery(search) {
    const out = {};
    for (const [k, v] of new URLSearchParams(search)) {
        if (k in out) out[k] = Array.isArray(out[k]) ? [...out[k], v] : [out[k], v];
        else out[k] = v;
    }
    return out;
}

/// A quoted Content-Disposition value as multipart parsers read it: quoted-string escapes
/// first (a backslash takes the next character as it is, as busboy does), then the bytes
/// browsers percent-encode (", CR, LF; also \\ and the other control bytes).
function unescapeDispositionValue(v) {
    return v
        .replace(/\\(.)/g, "$1")
        .replace(/%(22|5C|[01][0-9A-F]|7F)/gi, (_, hex) => String.fromCharCode(parseInt(hex, 16)));
}

/// Parses a multipart/form-data body; returns [{name, filename?, contentType?, data: Buffer}] or
/// null when the body is not well-formed.
export function parseMultipart(body, contentType) {
    const m = /boundary=(?:"([^"]+)"|([^;\s]+))/i.exec(contentType ?? "");
    if (!m) return null;
    const delimiter = Buffer.from(`--${m[1] ?? m[2]}`);
    const crlf = Buffer.from("\r\n");
    const parts = [];
    let pos = body.indexOf(delimiter);
    if (pos < 0) return null;
    for (;;) {
        pos += delimiter.length;
        if (body.subarray(pos, pos + 2).toString() === "--") return parts;
        if (!body.subarray(pos, pos + 2).equals(crlf)) return null;
        pos += 2;
        const headerEnd = body.indexOf("\r\n\r\n", pos);
        if (headerEnd < 0) return null;
        const next = body.indexOf(Buffer.concat([crlf, delimiter]), headerEnd + 4);
        if (next < 0) return null;
        const part = { headers: {}, data: body.subarray(headerEnd + 4, next) };
        for (const line of body.subarray(pos, headerEnd).toString("utf8").split("\r\n")) {
            const colon = line.indexOf(":");
            if (colon > 0) part.headers[line.slice(0, colon).trim().toLowerCase()] = line.slice(colon + 1).trim();
        }
        const disposition = part.headers["content-disposition"] ?? "";
        const name = /(?:^|;)\s*name="([^"]*)"/i.exec(disposition);
        const filename = /(?:^|;)\s*filename="((?:[^"\\]|\\.)*)"/i.exec(disposition);
        if (!name) return null;
        part.name = unescapeDispositionValue(name[1]);
        if (filename) part.filename = unescapeDispositionValue(filename[1]);
        if (part.headers["content-type"] !== undefined) part.contentType = part.headers["content-type"];
        parts.push(part);
        pos = next + 2;
    }
}

const LOGGED_HEADERS = ["authorization", "content-type", "accept", "user-agent", "content-length", "transfer-encoding"];

function sendJson(res, status, value, headers = {}) {
    const body = value === undefined ? "" : JSON.stringify(value);
    res.writeHead(status, {
        "Content-Type": "application/json; charset=utf-8",
        "Content-Length": Buffer.byteLength(body),
        ...headers,
    });
    res.end(body);
}

function readBody(req) {
    return new Promise((resolve, reject) => {
        const chunks = [];
        let size = 0;
        req.on("data", (c) => {
            size += c.length;
            if (size > MAX_BODY) {
                reject(new HttpError(413, "request entity too large"));
                req.destroy();
                return;
            }
            chunks.push(c);
        });
        req.on("end", () => resolve(Buffer.concat(chunks)));
        req.on("error", reject);
    });
}

const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

function faultHeaders(rule) {
    const headers = { ...(rule.headers ?? {}) };
    if (rule.retryAfter !== undefined) headers["Retry-After"] = String(rule.retryAfter);
    if (rule.rateLimitResetIn !== undefined)
        headers["X-RateLimit-Reset"] = String(Math.ceil(Date.now() / 1000) + Number(rule.rateLimitResetIn));
    return headers;
}

async function handle(fake, req, res) {
    const url = new URL(req.url, "http://fake.invalid");
    const pathname = url.pathname;
    const method = req.method.toUpperCase();
    const raw = await readBody(req);

    // The control API: never logged, never faulted, no API key.
    if (pathname.startsWith("/__fake/")) {
        const json = () => (raw.length ? JSON.parse(raw.toString("utf8")) : {});
        if (pathname === "/__fake/requests" && method === "GET") return sendJson(res, 200, fake.requests);
        if (pathname === "/__fake/requests" && method === "DELETE") {
            fake.requests = [];
            return sendJson(res, 200, []);
        }
        if (pathname === "/__fake/faults" && method === "POST") return sendJson(res, 201, fake.setFaults(json()));
        if (pathname === "/__fake/faults" && method === "GET") return sendJson(res, 200, fake.faults);
        if (pathname === "/__fake/faults" && method === "DELETE") {
            fake.faults = [];
            return sendJson(res, 200, []);
        }
        if (pathname === "/__fake/reset" && method === "POST") {
            fake.reset(json());
            return sendJson(res, 200, { orgId: fake.orgId });
        }
        if (pathname === "/__fake/state" && method === "GET") return sendJson(res, 200, fake.state());
        throw new HttpError(404, `Cannot ${method} ${pathname}`);
    }

    const contentType = req.headers["content-type"] ?? "";
    const entry = {
        seq: fake.requests.length + 1,
        method,
        path: pathname,
        rawQuery: url.search.startsWith("?") ? url.search.slice(1) : url.search,
        query: parseQuery(url.search),
        headers: Object.fromEntries(LOGGED_HEADERS.filter((h) => req.headers[h] !== undefined).map((h) => [h, req.headers[h]])),
        body: null,
        status: 0,
    };
    let multipart;
    if (/^multipart\/form-data/i.test(contentType)) {
        multipart = parseMultipart(raw, contentType);
        entry.multipart = multipart?.map((p) => ({
            name: p.name,
            ...(p.filename !== undefined ? { filename: p.filename } : {}),
            ...(p.contentType !== undefined ? { contentType: p.contentType } : {}),
            bytes: p.data.length,
            data: p.data.toString("utf8"),
        })) ?? null;
    } else if (raw.length) {
        try {
            entry.body = JSON.parse(raw.toString("utf8"));
        } catch {
            entry.bodyText = raw.toString("utf8");
        }
    }
    fake.requests.push(entry);

    const fault = fake.takeFault(method, pathname);
    if (fault) {
        entry.fault = true;
        if (fault.delayMs) await sleep(fault.delayMs);
        if (fault.close) {
            entry.status = -1;
            req.socket.destroy();
            return;
        }
        if (fault.malformed) {
            entry.status = fault.status ?? 200;
            const body = typeof fault.malformed === "string" ? fault.malformed : "<html><body>upstream hiccup</body></html>";
            res.writeHead(entry.status, { "Content-Type": "text/html", "Content-Length": Buffer.byteLength(body), ...faultHeaders(fault) });
            res.end(body);
            return;
        }
        if (fault.status) {
            entry.status = fault.status;
            return sendJson(res, fault.status, fault.body ?? vapiErrorBody(fault.status, fault.message), faultHeaders(fault));
        }
    }

    const respond = async (status, value, headers) => {
        entry.status = status;
        // A fault's `delayAnswerMs`: the request is carried out, its answer comes late, with
        // the object as the request left it (as Vapi's would), not as later requests made it.
        if (fault && fault.delayAnswerMs) {
            value = value === undefined ? value : JSON.parse(JSON.stringify(value));
            await sleep(fault.delayAnswerMs);
        }
        sendJson(res, status, value, headers);
    };

    const auth = req.headers.authorization;
    if (auth === undefined) return respond(401, vapiErrorBody(401, "Unauthorized"));
    if (auth !== `Bearer ${fake.apiKey}`)
        return respond(401, vapiErrorBody(401, "Invalid Key. Hot tip, you may be using the private key instead of the public key, or vice versa."));

    const q = {
        query: entry.query,
        // As NestJS: a body that is not declared as JSON is not parsed (the DTO is then empty).
        json: () => {
            if (!/^application\/json/i.test(contentType) || raw.length === 0) return {};
            let v;
            try {
                v = JSON.parse(raw.toString("utf8"));
            } catch (e) {
                throw badRequest(e.message);
            }
            if (!isPlainObject(v)) throw badRequest(["the body must be a JSON object"]);
            return v;
        },
        multipart: () => {
            if (!multipart) throw badRequest("File is required");
            return multipart;
        },
    };

    try {
        for (const route of fake.routes) {
            const m = route.pattern.exec(pathname);
            if (!m || route.method !== method) continue;
            const result = route.handler(q, ...m.slice(1).map(decodeURIComponent));
            return respond(method === "POST" ? 201 : 200, result);
        }
        throw new HttpError(404, `Cannot ${method} ${pathname}`);
    } catch (err) {
        if (!(err instanceof HttpError)) throw err;
        return respond(err.status, vapiErrorBody(err.status, err.vapiMessage), err.headers);
    }
}

/// Starts the fake on host:port (port 0: the OS chooses). Returns {fake, server, port, url, close}.
export async function startFakeVapi({ host = "127.0.0.1", port = 0, ...options } = {}) {
    const fake = new FakeVapi(options);
    const server = http.createServer((req, res) => {
        handle(fake, req, res).catch((err) => {
            if (res.headersSent || res.destroyed) return;
            const status = err instanceof HttpError ? err.status : err instanceof SyntaxError ? 400 : 500;
            const message = err instanceof HttpError ? err.vapiMessage : err.message;
            sendJson(res, status, vapiErrorBody(status, message), err.headers ?? {});
        });
    });
    // Vapi sits behind a load balancer that keeps idle connections for a minute.
    server.keepAliveTimeout = 65_000;
    server.headersTimeout = 66_000;
    await new Promise((resolve, reject) => {
        server.once("error", reject);
        server.listen(port, host, resolve);
    });
    const actual = server.address().port;
    return {
        fake,
        server,
        port: actual,
        url: `http://${host}:${actual}`,
        close: () =>
            new Promise((resolve) => {
                server.close(() => resolve());
                server.closeAllConnections();
            }),
    };
}

function parseArgs(argv) {
    const opts = { port: 0, host: "127.0.0.1", apiKey: process.env.FAKE_VAPI_API_KEY ?? DEFAULT_API_KEY };
    for (let i = 0; i < argv.length; i++) {
        const a = argv[i];
        const value = () => {
            if (i + 1 >= argv.length) throw new Error(`${a} needs a value`);
            return argv[++i];
        };
        if (a === "--port") opts.port = Number(value());
        else if (a === "--host") opts.host = value();
        else if (a === "--port-file") opts.portFile = value();
        else if (a === "--api-key") opts.apiKey = value();
        else if (a === "--org-id") opts.orgId = value();
        else if (a === "--deterministic-ids") opts.deterministicIds = true;
        else throw new Error(`unknown argument ${a}`);
    }
    return opts;
}

async function main() {
    const { portFile, ...opts } = parseArgs(process.argv.slice(2));
    const running = await startFakeVapi(opts);
    if (portFile) {
        // Written whole then renamed, so a reader never sees a partial file.
        fs.writeFileSync(`${portFile}.tmp`, `${running.port}\n`);
        fs.renameSync(`${portFile}.tmp`, portFile);
    }
    process.stdout.write(`fake-vapi listening on ${running.url}\n`);
    const stop = () => running.close().then(() => process.exit(0));
    process.on("SIGTERM", stop);
    process.on("SIGINT", stop);
    // A test that crashed cannot stop its fake: leave when the parent process is gone.
    const parent = process.ppid;
    setInterval(() => {
        if (process.ppid !== parent) stop();
    }, 500).unref();
}

if (process.argv[1] && path.resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
    main().catch((err) => {
        process.stderr.write(`fake-vapi: ${err.message}\n`);
        process.exit(2);
    });
}
