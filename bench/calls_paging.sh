#!/usr/bin/env bash
# The calls API's cost per page at depth (docs/management-api.md, schemas/sql/022): 300,000 calls,
# 270,000 of them one caller's (3 assistants, 2 numbers), in a throwaway Postgres; the real
# service answers the first page and a page 100,000 calls deep (`GET /functions/v1/calls`,
# three times each, curl's total time), then the query the list used before 022 (every call of
# the caller collected, then the page) is timed with EXPLAIN ANALYZE on the same data.
#   bench/calls_paging.sh        needs the release build (cmake --build --preset release)
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
BIN=$ROOT/build/release/switchboard
[[ -x $BIN ]] || { echo "build the release preset first" >&2; exit 1; }
WORK=$(mktemp -d /tmp/switchboard-paging.XXXXXX)
PGPORT=61455; PORT=8097
SECRET=paging-secret-of-enough-length-0123456789
SB_PID=""
cleanup() {
  [[ -n $SB_PID ]] && kill "$SB_PID" 2>/dev/null || true
  "$ROOT/scripts/pg.sh" stop "$WORK/pg" $PGPORT >/dev/null 2>&1 || true
  rm -rf "$WORK"
}
trap cleanup EXIT
"$ROOT/scripts/pg.sh" start "$WORK/pg" $PGPORT
DB=$("$ROOT/scripts/pg.sh" url "$WORK/pg" $PGPORT)
sql() { psql "$DB" -qAtX "$@"; }
DATABASE_URL=$DB "$BIN" migrate >/dev/null 2>&1
sql <<'SQL'
INSERT INTO assistants (id, owner, name, vapi) SELECT 'asst-' || g, 'alice', 'a', '{}' FROM generate_series(1, 3) g;
INSERT INTO assistants (id, owner, name, vapi) VALUES ('asst-bob', 'bob', 'b', '{}');
INSERT INTO phone_numbers (id, owner, provider, vapi) SELECT 'pn-' || g, 'alice', 'vapi', '{}' FROM generate_series(1, 2) g;
INSERT INTO calls (id, type, status, assistant_id, phone_number_id, created_at, first_event_at, last_event_at)
SELECT 'call-' || g, 'inboundPhoneCall', CASE WHEN g % 7 = 0 THEN 'in-progress' ELSE 'ended' END,
       CASE WHEN g % 10 = 0 THEN 'asst-bob' ELSE 'asst-' || (g % 3 + 1) END,
       CASE WHEN g % 4 = 0 THEN 'pn-' || (g % 2 + 1) END,
       timestamptz '2026-01-01 00:00:00+00' + g * interval '7 seconds', now(), now()
FROM generate_series(1, 300000) g;
ANALYZE;
SQL
SUPABASE_JWT_SECRET=$SECRET DATABASE_URL=$DB SWITCHBOARD_WEBHOOK_SECRET=x \
  SWITCHBOARD_LISTEN=127.0.0.1:$PORT SWITCHBOARD_PORT_FILE=$WORK/port "$BIN" > "$WORK/sb.log" 2>&1 &
SB_PID=$!
for _ in $(seq 100); do [[ -s $WORK/port ]] && break; sleep 0.1; done
read -r TOKEN CURSOR < <(python3 - "$SECRET" <<'PY'
import base64, hashlib, hmac, json, sys, time
b64 = lambda b: base64.urlsafe_b64encode(b).rstrip(b"=").decode()
head = b64(json.dumps({"alg": "HS256", "typ": "JWT"}).encode())
body = b64(json.dumps({"sub": "alice", "aud": "authenticated", "exp": int(time.time()) + 600}).encode())
sig = b64(hmac.new(sys.argv[1].encode(), f"{head}.{body}".encode(), hashlib.sha256).digest())
# The cursor of call-100000 (its sort time in microseconds, its id): 100,000 calls deep.
t = 1767225600 + 100000 * 7
print(f"{head}.{body}.{sig}", b64(f"{t * 1000000}.call-100000".encode()))
PY
)
for page in first deep; do
  q="limit=50"; [[ $page == deep ]] && q="limit=50&cursor=$CURSOR"
  for i in 1 2 3; do
    curl -s -o "$WORK/page.json" -w "$page page ($i): HTTP %{http_code} in %{time_total} s\n" \
      -H "Authorization: Bearer $TOKEN" "http://127.0.0.1:$PORT/functions/v1/calls?$q"
  done
  python3 -c "import json,sys; d=json.load(open(sys.argv[1])); print('  ', len(d['data']), 'calls, from', d['data'][0]['id'], 'to', d['data'][-1]['id'])" "$WORK/page.json"
done
echo "the query before schemas/sql/022, on the same data (EXPLAIN ANALYZE, three times):"
for i in 1 2 3; do
  sql <<'SQL' | awk '/Execution Time/ {print "  " $0}'
EXPLAIN ANALYZE WITH mine AS (
  SELECT c.id FROM assistants a JOIN calls c ON c.assistant_id = a.id WHERE a.owner = 'alice'
  UNION SELECT c.id FROM workflows w JOIN calls c ON c.workflow_id = w.id WHERE w.owner = 'alice'
  UNION SELECT c.id FROM phone_numbers p JOIN calls c ON c.phone_number_id = p.id
  WHERE p.owner = 'alice' AND coalesce(c.created_at, c.inserted_at) >= coalesce(p.owned_since, '-infinity'))
SELECT c.id FROM mine JOIN calls c ON c.id = mine.id
WHERE (coalesce(c.created_at, c.inserted_at), c.id) < (timestamptz '2026-01-01 00:00:00+00' + 700000 * interval '1 second', 'call-100000')
ORDER BY coalesce(c.created_at, c.inserted_at) DESC, c.id DESC LIMIT 51;
SQL
done
