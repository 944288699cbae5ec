#!/usr/bin/env bash
# Postgres alone under the open-loop rates of bench/run.sh: one durable INSERT of a ~1 kB row per
# event, each its own transaction (the naive handler's way of storing, without its HTTP and
# JavaScript), from pgbench at a fixed rate, on the same kind of fresh durable Postgres as the
# scenarios (../shared/baselines/pg.sh, WAL warmed by bench/warm_wal.sh). Latency is measured from
# each transaction's scheduled start, as bench/load does. Prints a Markdown table.
# ROWS="1 16" adds runs that commit 16 such rows per transaction (rate/16 transactions a second):
# grouped commits like switchboard's batches, without any service.
#   bench/pg_alone.sh            RATES="5000 10000" DURATION=20 CLIENTS=32 ROWS=1 override the defaults
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
SHARED=${SWITCHBOARD_SHARED_DIR:-$(cd "$ROOT/.." && pwd)/shared}
PORT=61454
RATES=${RATES:-5000 10000}; DURATION=${DURATION:-20}; CLIENTS=${CLIENTS:-32}; ROWS=${ROWS:-1}
PGBENCH=/usr/lib/postgresql/15/bin/pgbench
WORK=$(mktemp -d /tmp/switchboard-pgalone.XXXXXX)
trap '"$SHARED/baselines/pg.sh" stop $PORT >/dev/null 2>&1 || true; rm -rf "$WORK" "/tmp/steer-pg-$PORT"' EXIT

echo "| target events/s | rows per commit | committed/s | p50 ms | p90 ms | p99 ms | p99.9 ms | max ms |"
echo "|---:|---:|---:|---:|---:|---:|---:|---:|"
for rate in $RATES; do for rows in $ROWS; do
  # The row: a call id and a 900-byte body, about the WAL a webhook costs switchboard (1.2 kB).
  if [[ $rows == 1 ]]; then
    insert="INSERT INTO events (call_id, body) VALUES (:client_id || '-' || :r, repeat('x', 900));"
  else
    insert="INSERT INTO events (call_id, body) SELECT :client_id || '-' || :r || '-' || i, repeat('x', 900)
  FROM generate_series(1, $rows) AS i;"
  fi
  printf '%s\n%s\n' '\set r random(1, 1000000000)' "$insert" > "$WORK/insert.sql"
  "$SHARED/baselines/pg.sh" stop $PORT >/dev/null 2>&1 || true
  "$SHARED/baselines/pg.sh" start $PORT durable
  "$ROOT/bench/warm_wal.sh" $PORT
  psql -X -h 127.0.0.1 -p $PORT -U postgres -d app -qc \
    "CREATE TABLE events (id bigserial PRIMARY KEY, call_id text NOT NULL, body text NOT NULL,
                          received_at timestamptz NOT NULL DEFAULT now())"
  rm -f "$WORK"/pgbench_log.*
  # Prepared statements and two threads: the cheapest way for a client to send them, so the
  # figures are Postgres' and not pgbench's (one thread fell behind at 10,000/s).
  (cd "$WORK" && "$PGBENCH" -h 127.0.0.1 -p $PORT -U postgres -n -M prepared -f insert.sql \
     -R "$(( (rate + rows - 1) / rows ))" -T "$DURATION" -c "$CLIENTS" -j 2 -l app > pgbench.txt 2>&1) ||
    { cat "$WORK/pgbench.txt" >&2; exit 1; }
  # Each log line: client, transaction, latency in µs (from the scheduled start under --rate), ...
  cat "$WORK"/pgbench_log.* | python3 -c "
import sys
d = sorted(int(l.split()[2]) for l in sys.stdin if l.strip())
n = len(d)
q = lambda p: d[min(n - 1, int(p * n))] / 1000
print(f'| {int(\"$rate\"):,} | $rows | {n * $rows / $DURATION:,.0f} | {q(.5):.2f} | {q(.9):.2f} | {q(.99):.2f} | {q(.999):.2f} | {d[-1] / 1000:.2f} |')"
done; done
