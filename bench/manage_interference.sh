#!/usr/bin/env bash
# Webhook ingest latency with and without management API traffic: the management handlers run
# on their own threads with their own Postgres connections, so a slow Vapi (here the fake Vapi
# of tests/fake-vapi answering every call after a delay) must not delay webhooks.
#
#   bench/manage_interference.sh     (after a release build; prints a Markdown table)
#
# Environment: BUILD (build/release), PGPORT (61453), SBPORT (8096), DURATION (seconds per
# phase, 15), RATE (webhooks/s, open loop, 2000), CLIENTS (concurrent management callers, 16),
# VAPI_DELAY_MS (the fake Vapi's delay per call, 1000).
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
SHARED=${SWITCHBOARD_SHARED_DIR:-$(cd "$ROOT/.." && pwd)/shared}
BUILD=${BUILD:-build/release}
PGPORT=${PGPORT:-61453}; SBPORT=${SBPORT:-8096}
DURATION=${DURATION:-15}; RATE=${RATE:-2000}; CLIENTS=${CLIENTS:-16}; VAPI_DELAY_MS=${VAPI_DELAY_MS:-1000}
BIN=$ROOT/$BUILD/switchboard
LOAD=$ROOT/$BUILD/bench/switchboard-load
WORK=$(mktemp -d /tmp/switchboard-manage.XXXXXX)
DB=postgresql://postgres@127.0.0.1:$PGPORT/postgres
SECRET=bench-secret
JWT_SECRET=bench-jwt-secret-with-at-least-32-bytes!
[[ -x $BIN && -x $LOAD ]] || { echo "manage_interference.sh: build first ($BIN, $LOAD)" >&2; exit 1; }

SB_PID=""; FAKE_PID=""
cleanup() {
  [[ -n $SB_PID ]] && kill "$SB_PID" 2>/dev/null || true
  [[ -n $FAKE_PID ]] && kill "$FAKE_PID" 2>/dev/null || true
  "$ROOT/scripts/pg.sh" stop "$WORK/pg" "$PGPORT" >/dev/null 2>&1 || true
  rm -rf "$WORK"
}
trap cleanup EXIT

"$ROOT/scripts/pg.sh" start "$WORK/pg" "$PGPORT" >/dev/null
node "$ROOT/tests/fake-vapi/server.mjs" --port-file "$WORK/fake.port" --api-key bench-vapi-key \
  > "$WORK/fake.log" 2>&1 &
FAKE_PID=$!
for _ in $(seq 100); do [[ -s $WORK/fake.port ]] && break; sleep 0.1; done
FAKE_PORT=$(cat "$WORK/fake.port")
# Every Vapi call is slow: the management handlers are busy for VAPI_DELAY_MS each.
curl -s -X POST "http://127.0.0.1:$FAKE_PORT/__fake/faults" \
  -d "[{\"path\":\".*\",\"delayMs\":$VAPI_DELAY_MS,\"times\":1000000}]" > /dev/null

env DATABASE_URL=$DB SWITCHBOARD_WEBHOOK_SECRET=$SECRET SWITCHBOARD_LISTEN=127.0.0.1:$SBPORT \
    SWITCHBOARD_PORT_FILE=$WORK/sb.port SWITCHBOARD_LOG_LEVEL=warn \
    SUPABASE_JWT_SECRET=$JWT_SECRET VAPI_API_KEY=bench-vapi-key \
    VAPI_BASE_URL=http://127.0.0.1:$FAKE_PORT SWITCHBOARD_PUBLIC_URL=http://127.0.0.1:$SBPORT \
    "$BIN" > "$WORK/sb.log" 2>&1 &
SB_PID=$!
for _ in $(seq 100); do [[ -s $WORK/sb.port ]] && break; sleep 0.1; done
[[ -s $WORK/sb.port ]] || { cat "$WORK/sb.log"; exit 1; }

# Management callers: CLIENTS threads, each creating assistants (slow Vapi) and listing calls
# (a Postgres read) in a loop, with an HS256 token signed here.
manage_traffic() {  # seconds → prints completed requests and their statuses
  python3 - "$SBPORT" "$JWT_SECRET" "$1" "$CLIENTS" <<'PY'
import base64, hashlib, hmac, http.client, json, sys, threading, time
port, secret, seconds, clients = int(sys.argv[1]), sys.argv[2].encode(), float(sys.argv[3]), int(sys.argv[4])
b64 = lambda b: base64.urlsafe_b64encode(b).rstrip(b"=")
def token(sub):
    h = b64(json.dumps({"alg": "HS256", "typ": "JWT"}).encode())
    p = b64(json.dumps({"sub": sub, "aud": "authenticated", "role": "authenticated",
                        "exp": int(time.time()) + 3600}).encode())
    return (h + b"." + p + b"." + b64(hmac.new(secret, h + b"." + p, hashlib.sha256).digest())).decode()
statuses, lock = {}, threading.Lock()
def worker(i):
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=120)
    auth = {"Authorization": "Bearer " + token(f"bench-user-{i}"), "Content-Type": "application/json"}
    end, n = time.time() + seconds, 0
    while time.time() < end:
        if n % 2 == 0:
            conn.request("POST", "/functions/v1/assistants", json.dumps({"name": f"a{i}-{n}"}), auth)
        else:
            conn.request("GET", "/functions/v1/calls?limit=20", headers=auth)
        r = conn.getresponse(); r.read(); n += 1
        with lock: statuses[r.status] = statuses.get(r.status, 0) + 1
threads = [threading.Thread(target=worker, args=(i,)) for i in range(clients)]
for t in threads: t.start()
for t in threads: t.join()
print(sum(statuses.values()), json.dumps(statuses, sort_keys=True))
PY
}

phase() {  # label, with-management (0|1) → one Markdown row
  local label=$1 with=$2 mpid=""
  if ((with)); then manage_traffic "$((DURATION + 2))" > "$WORK/manage.txt" & mpid=$!; sleep 1; fi
  "$LOAD" --url "http://127.0.0.1:$SBPORT/receive" --secret "$SECRET" --examples "$SHARED/vapi/examples" \
    --mode open --rate "$RATE" --duration "$DURATION" --connections 64 --database-url "$DB" \
    --report "$WORK/$label.json" > "$WORK/$label.txt" 2>&1
  local mgmt="—"
  if [[ -n $mpid ]]; then wait "$mpid"; mgmt=$(cat "$WORK/manage.txt"); fi
  python3 - "$WORK/$label.json" "$label" "$mgmt" <<'PY'
import json, sys
r, label, mgmt = json.load(open(sys.argv[1])), sys.argv[2], sys.argv[3]
lat = r["latency_ms"]
led = "balanced" if r["ledger"]["valid"] else "VOID"
print(f"| {label} | {r['acked_per_s']:,.0f} | {lat['p50']:.2f} | {lat['p90']:.2f} | {lat['p99']:.2f} | "
      f"{lat['p999']:.2f} | {led} | {mgmt} |")
PY
}

echo "| phase | webhooks acked/s | p50 ms | p90 ms | p99 ms | p99.9 ms | ledger | management requests (count, by status) |"
echo "|---|---:|---:|---:|---:|---:|---|---|"
phase "webhooks alone" 0
phase "with $CLIENTS management callers, Vapi answering in $VAPI_DELAY_MS ms" 1
