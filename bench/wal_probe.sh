#!/usr/bin/env bash
# What the WAL carries during the open loop: one run at 10,000 webhooks/s as bench/run.sh runs
# it (a fresh durable Postgres, WAL warmed), with --derive-delay-ms DERIVE (1000 as the service
# runs by default; 60000: no application of the derived state during the run), and
# pg_stat_wal read 7 s and 22 s into it. Prints the run's p99 and, per second of that window,
# WAL records, full-page images, kB, writes and flushes (bench/analysis.md, session 22).
#   bench/wal_probe.sh 1000; bench/wal_probe.sh 60000
# Needs bench/run.sh's build (release preset with the benchmarks).
set -euo pipefail
DERIVE=${1:?usage: bench/wal_probe.sh DERIVE_DELAY_MS}
ROOT=$(cd "$(dirname "$0")/.." && pwd)
SHARED=${SWITCHBOARD_SHARED_DIR:-$(cd "$ROOT/.." && pwd)/shared}
PGPORT=61461; SBPORT=8098
DB=postgresql://postgres@127.0.0.1:$PGPORT/app
W=$(mktemp -d /tmp/switchboard-walprobe.XXXXXX)
$SHARED/baselines/pg.sh stop $PGPORT >/dev/null 2>&1 || true; rm -rf /tmp/steer-pg-$PGPORT
$SHARED/baselines/pg.sh start $PGPORT durable >/dev/null
$ROOT/bench/warm_wal.sh $PGPORT >/dev/null
env DATABASE_URL=$DB SWITCHBOARD_WEBHOOK_SECRET=bench-secret SWITCHBOARD_LISTEN=127.0.0.1:$SBPORT SWITCHBOARD_LOG_LEVEL=warn SWITCHBOARD_DERIVE_DELAY_MS=$DERIVE $ROOT/build/release/switchboard > $W/sb.log 2>&1 &
SB=$!; sleep 1
q() { psql -X -At "$DB" -c "select wal_records, wal_fpi, wal_bytes, wal_write, wal_sync, round(wal_sync_time::numeric,1) from pg_stat_wal"; }
$ROOT/build/release/bench/switchboard-load --url http://127.0.0.1:$SBPORT/receive --secret bench-secret --examples $SHARED/vapi/examples --database-url $DB --mode open --rate 10000 --connections 256 --duration 20 --warmup 5 --report $W/load.json --progress 0 > $W/load.txt 2>&1 &
L=$!
sleep 7; A=$(q); sleep 15; B=$(q)
psql -X -At "$DB" -c "select checkpoints_timed + checkpoints_req from pg_stat_bgwriter" > $W/ckpt
wait $L || true
kill -TERM $SB; wait $SB || true
$SHARED/baselines/pg.sh stop $PGPORT >/dev/null 2>&1 || true; rm -rf /tmp/steer-pg-$PGPORT
python3 - "$A" "$B" "$W/load.json" "$DERIVE" "$(cat $W/ckpt)" <<'PY'
import sys, json
a=[float(x) for x in sys.argv[1].split('|')]; b=[float(x) for x in sys.argv[2].split('|')]
d=[y-x for x,y in zip(a,b)]
r=json.load(open(sys.argv[3]))
print(f"derive={sys.argv[4]} p99={r['latency_ms']['p99']} p999={r['latency_ms']['p999']} over15s: wal_records/s={d[0]/15:.0f} fpi/s={d[1]/15:.0f} wal_kB/s={d[2]/15/1024:.0f} writes/s={d[3]/15:.0f} syncs/s={d[4]/15:.0f} sync_ms/s={d[5]/15:.1f} checkpoints={sys.argv[5]} ledger={r['ledger']['balanced']}")
PY
rm -rf "$W"
