#!/usr/bin/env bash
# Reply latency of assistant-request (answered from the in-memory routing table, after the
# message is committed), alone and under a background webhook load.
#
#   bench/replies.sh        (after a build; BUILD=build/ci to use the ci build instead of release)
#
# Environment: BUILD (default build/release), PGPORT (61452), SBPORT (8095), DURATION (seconds per
# phase, 15), LOAD_RATE (background webhooks/s, open loop, 2000), PROBE_RATE (assistant-requests/s,
# 50). A throwaway durable Postgres (fsync on, synchronous_commit on) is started with
# scripts/pg.sh and removed afterwards.
#
# The probe is a Python client on one keep-alive connection sending the example
# assistant-request with a fresh call id each time at PROBE_RATE, timing each request from send
# to the whole reply read, and checking that the reply is the routed assistant. The background
# load is bench/load (the lifecycle of many calls, ledger checked in Postgres).
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
SHARED=${SWITCHBOARD_SHARED_DIR:-$(cd "$ROOT/.." && pwd)/shared}
BUILD=${BUILD:-build/release}
PGPORT=${PGPORT:-61452}; SBPORT=${SBPORT:-8095}
DURATION=${DURATION:-15}; LOAD_RATE=${LOAD_RATE:-2000}; PROBE_RATE=${PROBE_RATE:-50}
BIN=$ROOT/$BUILD/switchboard
LOAD=$ROOT/$BUILD/bench/switchboard-load
WORK=$(mktemp -d /tmp/switchboard-replies.XXXXXX)
ADMIN=postgresql://postgres@127.0.0.1:$PGPORT/postgres
DB=postgresql://postgres@127.0.0.1:$PGPORT/replies
SECRET=bench-secret
[[ -x $BIN && -x $LOAD ]] || { echo "replies.sh: build first ($BIN, $LOAD)" >&2; exit 1; }

SB_PID=""
cleanup() {
  [[ -n $SB_PID ]] && kill "$SB_PID" 2>/dev/null && wait "$SB_PID" 2>/dev/null || true
  "$ROOT/scripts/pg.sh" stop "$WORK/pg" "$PGPORT" >/dev/null 2>&1 || true
  rm -rf "$WORK"
}
trap cleanup EXIT

"$ROOT/scripts/pg.sh" start "$WORK/pg" "$PGPORT"
psql -X "$ADMIN" -qc "create database replies"
DATABASE_URL=$DB SWITCHBOARD_WEBHOOK_SECRET=$SECRET SWITCHBOARD_LISTEN=127.0.0.1:$SBPORT \
  SWITCHBOARD_PORT_FILE=$WORK/port SWITCHBOARD_LOG_LEVEL=warn \
  SWITCHBOARD_DEFAULT_ASSISTANT_ID=bench-default "$BIN" > "$WORK/log" 2>&1 &
SB_PID=$!
for _ in $(seq 300); do [[ -s $WORK/port ]] && break; sleep 0.1; done
[[ -s $WORK/port ]] || { cat "$WORK/log"; exit 1; }

# Route the example's number (plus 10,000 other numbers, so the table is not trivially small).
PN=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["message"]["call"]["phoneNumberId"])' \
       "$SHARED/vapi/examples/01-assistant-request.json")
psql -X "$DB" -qc "insert into phone_numbers (id, number, assistant_id)
                select 'bench-pn-' || i, '+1555' || lpad(i::text, 7, '0'), 'bench-asst-' || i
                from generate_series(1, 10000) i;
                insert into phone_numbers (id, assistant_id) values ('$PN', 'bench-routed')"
sleep 0.5

probe() {  # label → one Markdown table row
  python3 - "$SBPORT" "$SECRET" "$SHARED/vapi/examples/01-assistant-request.json" \
            "$DURATION" "$PROBE_RATE" "$1" <<'PY'
import http.client, json, sys, time, uuid
port, secret, example, duration, rate, label = sys.argv[1:]
duration, rate = float(duration), float(rate)
template = json.load(open(example))
conn = http.client.HTTPConnection("127.0.0.1", int(port), timeout=30)
lat, bad = [], 0
start = time.perf_counter(); n = 0
while True:
    due = start + n / rate
    now = time.perf_counter()
    if now - start >= duration: break
    if due > now: time.sleep(due - now)
    m = template["message"]; m["call"]["id"] = str(uuid.uuid4()); m["timestamp"] = int(time.time() * 1000) + n
    body = json.dumps(template).encode()
    t0 = time.perf_counter()
    conn.request("POST", "/receive", body, {"Content-Type": "application/json", "X-Vapi-Secret": secret})
    r = conn.getresponse(); data = r.read()
    lat.append((time.perf_counter() - t0) * 1000)
    if r.status != 200 or json.loads(data) != {"assistantId": "bench-routed"}: bad += 1
    n += 1
lat.sort()
q = lambda p: lat[min(len(lat) - 1, int(p * len(lat)))]
print(f"| {label} | {len(lat)} | {q(0.5):.2f} | {q(0.9):.2f} | {q(0.99):.2f} | {lat[-1]:.2f} | {bad} |")
PY
}

echo "| assistant-request | requests | p50 ms | p90 ms | p99 ms | max ms | wrong or non-200 |"
echo "|---|---:|---:|---:|---:|---:|---:|"
probe "alone"
"$LOAD" --url "http://127.0.0.1:$SBPORT/receive" --secret "$SECRET" --examples "$SHARED/vapi/examples" \
  --mode open --rate "$LOAD_RATE" --duration "$((DURATION + 2))" --connections 32 \
  --database-url "$DB" > "$WORK/load.txt" 2>&1 &
LOAD_PID=$!
sleep 1
probe "with $LOAD_RATE webhooks/s in the background"
wait "$LOAD_PID" || { echo "background load failed:"; cat "$WORK/load.txt"; exit 1; }
echo
echo "background load (bench/load):"
grep -E "acked|latency|ledger|refused" "$WORK/load.txt" | sed 's/^/    /'
echo
curl -s "http://127.0.0.1:$SBPORT/metrics" | grep -E '^switchboard_replies_total\{outcome="(routed|default)",type="assistant-request"\}' | sed 's/^/    /'
