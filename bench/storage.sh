#!/usr/bin/env bash
# Stored vs received bytes per call, for calls of 5, 20 and 60 minutes (30, 120 and 360 turns of
# ~10 s): plays one complete call of each length through switchboard into a fresh durable
# Postgres and reads the call_storage view. Prints a Markdown table.
#   bench/storage.sh            (after a release build: cmake --build --preset release)
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
SHARED=${SWITCHBOARD_SHARED_DIR:-$(cd "$ROOT/.." && pwd)/shared}
PORT=61451; SB=8094; DB=postgresql://postgres@127.0.0.1:$PORT/app
WORK=$(mktemp -d /tmp/switchboard-storage.XXXXXX)
trap 'kill $PID 2>/dev/null || true; "$SHARED/baselines/pg.sh" stop $PORT >/dev/null 2>&1 || true; rm -rf "$WORK" "/tmp/steer-pg-$PORT"' EXIT
"$SHARED/baselines/pg.sh" start $PORT durable
DATABASE_URL=$DB SWITCHBOARD_WEBHOOK_SECRET=s SWITCHBOARD_LISTEN=127.0.0.1:$SB SWITCHBOARD_PORT_FILE=$WORK/port \
  SWITCHBOARD_LOG_LEVEL=warn "$ROOT/build/release/switchboard" > "$WORK/log" 2>&1 &
PID=$!
for _ in $(seq 100); do [[ -s $WORK/port ]] && break; sleep 0.1; done
echo "| call | turns | messages | received bytes | stored bytes | stored / received | stored bytes per message |"
echo "|---|---:|---:|---:|---:|---:|---:|"
for spec in "5 min:30" "20 min:120" "60 min:360"; do
  name=${spec%%:*}; turns=${spec##*:}
  # One call at a time, one connection: run until the first call is complete.
  messages=$(( 3 + turns * 7 + turns / 3 + 2 ))
  "$ROOT/build/release/bench/switchboard-load" --url "http://127.0.0.1:$SB/receive" --secret s \
     --examples "$SHARED/vapi/examples" --mode max --connections 1 --calls 1 --turns "$turns" \
     --duration 600 --max-requests "$messages" --database-url "$DB" > "$WORK/load.txt" 2>&1 ||
     { cat "$WORK/load.txt"; exit 1; }
  # Wait until the derived state (the calls row) is applied.
  for _ in $(seq 100); do
    [[ $(psql -X "$DB" -Atc "select count(*) from call_derive_pending") == 0 ]] && break; sleep 0.1
  done
  psql -X "$DB" -Atc "select events, received_bytes, stored_bytes from call_storage
                   where events = $messages order by call_id desc limit 1" |
  awk -F'|' -v n="$name" -v t="$turns" '{printf "| %s | %d | %d | %d | %d | %.3f | %.0f |\n", n, t, $1, $2, $3, $3/$2, $3/$1}'
  psql -X "$DB" -qc "truncate call_events, call_blobs, call_array_runs, calls, call_derive_pending"
done
