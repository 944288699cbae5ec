// The "Supabase Auth" of the test: generates signing keys with jose, serves the public ones as a
// JWKS (what SUPABASE_JWKS_URL points at) and writes the private ones for the tests to sign with.
//   node support/jwks-server.mjs --port-file F --keys-out K
// GET  /auth/v1/.well-known/jwks.json   the published keys (rs1, es1; rs2 once published)
// POST /__publish/<kid>                 publishes a held-back key (key rotation)
// GET  /__stats                         {fetches}: how often the JWKS was fetched
import http from "node:http";
import fs from "node:fs";
import { generateKeyPair, exportJWK, exportSPKI } from "jose";

const args = process.argv.slice(2);
const arg = (name) => {
    const i = args.indexOf(name);
    return i >= 0 ? args[i + 1] : undefined;
};
const portFile = arg("--port-file");
const keysOut = arg("--keys-out");

async function make(alg, kid) {
    const { publicKey, privateKey } = await generateKeyPair(alg, { extractable: true });
    const pub = { ...(await exportJWK(publicKey)), kid, alg, use: "sig" };
    const priv = { ...(await exportJWK(privateKey)), kid, alg };
    return { kid, alg, pub, priv, spki: await exportSPKI(publicKey) };
}

const keys = {
    rs1: await make("RS256", "rs1"),
    es1: await make("ES256", "es1"),
    rs2: await make("RS256", "rs2"),      // published later: rotation
    rogue: await make("RS256", "rs1"),    // never published; claims kid rs1 (wrong key)
};
const published = new Set(["rs1", "es1"]);
let fetches = 0;

fs.writeFileSync(`${keysOut}.tmp`, JSON.stringify(Object.fromEntries(
    Object.entries(keys).map(([name, k]) => [name, { kid: k.kid, alg: k.alg, privateJwk: k.priv, publicJwk: k.pub, spki: k.spki }]))));
fs.renameSync(`${keysOut}.tmp`, keysOut);

const server = http.createServer((req, res) => {
    const send = (status, body) => {
        res.writeHead(status, { "content-type": "application/json" });
        res.end(JSON.stringify(body));
    };
    if (req.method === "GET" && req.url === "/auth/v1/.well-known/jwks.json") {
        fetches++;
        return send(200, { keys: [...published].map((name) => keys[name].pub) });
    }
    if (req.method === "POST" && req.url.startsWith("/__publish/")) {
        const name = req.url.slice("/__publish/".length);
        if (!keys[name] || name === "rogue") return send(404, { error: "no such key" });
        published.add(name);
        return send(200, { published: [...published] });
    }
    if (req.method === "GET" && req.url === "/__stats") return send(200, { fetches });
    send(404, { error: "not found" });
});
server.listen(0, "127.0.0.1", () => {
    const port = server.address().port;
    fs.writeFileSync(`${portFile}.tmp`, String(port));
    fs.renameSync(`${portFile}.tmp`, portFile);
    console.log(`jwks listening on http://127.0.0.1:${port}`);
});
const stop = () => server.close(() => process.exit(0));
process.on("SIGTERM", stop);
process.on("SIGINT", stop);
process.on("disconnect", stop);
