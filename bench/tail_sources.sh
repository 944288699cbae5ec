#!/usr/bin/env bash
# Where the open loop's latency tail comes from: bench/run.sh's open-loop scenario (durable
# Postgres, WAL warmed, the host settings of bench/host.sh) with one source of delay taken away at
# a time, the variants alternated round by round so that the machine's drift falls on all of them:
#   bench     as bench/run.sh runs it;
#   tmpfs     Postgres' data directory on tmpfs (/dev/shm): fsync is still on, but a WAL flush
#             costs nothing, so whatever tail is left does not come from the disk. A diagnostic,
#             not a durable setup;
#   no-derive the derived call state not applied during the run (--derive-delay-ms 60000: the
#             writer keeps it and applies it when it stops), so no application runs beside the
#             batches;
#   neither   both;
#   wal-disk  the tables on tmpfs, the WAL on the disk (initdb --waldir): whether the disk's part
#             of the tail is the WAL's own flushes or the tables' writes beside them (a
#             diagnostic too: what a server with the WAL on a disk of its own would see);
#   derive-N  as bench, with --derive-delay-ms N (the default is 1000): each call's derived state
#             applied once per N ms instead, in slices every N/8 ms but at most every 25 ms
#             (src/store/derive_slices);
#   other     as bench, with the switchboard binary OTHER_BIN (a build of another commit, say):
#             the way to compare two versions of the service on the same footing. Each runs
#             with its own defaults (a build before session 25's applies the derived state every
#             200 ms, not 1000); a wrapper script that adds flags to OTHER_BIN pins them;
#   other-tmpfs as tmpfs, with OTHER_BIN: the same comparison with the disk's flushes out of it.
# Prints a Markdown table: each run's percentiles (from the scheduled send, as bench/load
# measures them), the service's and Postgres' CPU per acknowledged webhook and the events per
# batch (the service's /metrics), then each variant's median. Every run's ledger must balance.
# Needs bench/run.sh's build (release preset with the benchmarks) and root, like bench/run.sh.
#   bench/tail_sources.sh        RATE=10000 DURATION=20 WARMUP=5 ROUNDS=3 VARIANTS="bench tmpfs
#                                no-derive neither" override the defaults
#   OTHER_BIN=/tmp/other/build/release/switchboard VARIANTS="bench other" bench/tail_sources.sh
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
SHARED=${SWITCHBOARD_SHARED_DIR:-$(cd "$ROOT/.." && pwd)/shared}
RATE=${RATE:-10000}; DURATION=${DURATION:-20}; WARMUP=${WARMUP:-5}; ROUNDS=${ROUNDS:-3}
VARIANTS=${VARIANTS:-bench tmpfs no-derive neither}
PGPORT=61453; SBPORT=8094; SECRET=bench-secret
DB=postgresql://postgres@127.0.0.1:$PGPORT/app
BIN=$ROOT/build/release/switchboard
LOAD=$ROOT/build/release/bench/switchboard-load
export LC_ALL=C
[[ -x $BIN && -x $LOAD ]] || { echo "build the release preset with the benchmarks first (bench/run.sh does)" >&2; exit 1; }
for variant in $VARIANTS; do
  case $variant in bench|tmpfs|no-derive|neither|wal-disk) ;;
    derive-[0-9]*) [[ ${variant#derive-} =~ ^[0-9]+$ ]] ||
      { echo "variant $variant: derive-<milliseconds>" >&2; exit 2; } ;;
    other|other-tmpfs) [[ -x ${OTHER_BIN:-} ]] ||
      { echo "variant $variant needs OTHER_BIN, a switchboard binary" >&2; exit 2; } ;;
    *) echo "unknown variant: $variant" >&2; exit 2 ;;
  esac
done

# shellcheck source=bench/host.sh
source "$ROOT/bench/host.sh"
WORK=$(mktemp -d /tmp/switchboard-tail.XXXXXX)
SB_PID=""
# Every kind of server a variant starts (they share the port); stopping one that is not running
# does nothing.
stop_servers() {
  local sh
  for sh in "$SHARED/baselines/pg.sh" "$WORK/pg-tmpfs.sh" "$WORK/pg-wal-disk.sh"; do
    [[ -x $sh ]] && { "$sh" stop $PGPORT >/dev/null 2>&1 || true; }
  done
}
cleanup() {
  [[ -n $SB_PID ]] && kill "$SB_PID" 2>/dev/null || true
  stop_servers
  rm -rf "/dev/shm/steer-pg-$PGPORT" "/tmp/steer-pg-wal-$PGPORT" "/tmp/steer-pg-$PGPORT"
  host_restore
  rm -rf "$WORK"
}
trap cleanup EXIT

# The tmpfs server: ../shared/baselines/pg.sh with its data directory moved, nothing else changed.
sed 's#DATA=/tmp/steer-pg-#DATA=/dev/shm/steer-pg-#' "$SHARED/baselines/pg.sh" > "$WORK/pg-tmpfs.sh"
grep -q 'DATA=/dev/shm/steer-pg-' "$WORK/pg-tmpfs.sh" ||
  { echo "pg.sh no longer names its data directory as this script expects" >&2; exit 1; }
chmod +x "$WORK/pg-tmpfs.sh"
# The wal-disk server: the tmpfs server with its WAL directory on the disk, where pg.sh keeps its
# data directory.
sed -e 's#rm -rf "$DATA";#rm -rf "$DATA" "/tmp/steer-pg-wal-$port";#' \
    -e 's#initdb" -D "$DATA"#initdb" -D "$DATA" --waldir "/tmp/steer-pg-wal-$port"#' \
    "$WORK/pg-tmpfs.sh" > "$WORK/pg-wal-disk.sh"
[[ $(grep -c 'steer-pg-wal-' "$WORK/pg-wal-disk.sh") == 2 ]] ||
  { echo "pg.sh no longer starts its server as this script expects" >&2; exit 1; }
chmod +x "$WORK/pg-wal-disk.sh"

cpu_ticks() { awk '{print $14 + $15}' "/proc/$1/stat"; }
pg_ticks() {
  local t=0 p
  for p in $(pgrep -u postgres -x postgres); do t=$((t + $(cpu_ticks "$p" 2>/dev/null || echo 0))); done
  echo "$t"
}

run() {  # variant, round → a JSON line in $WORK/runs.jsonl
  local variant=$1 round=$2 derive="" bin=$BIN  # derive "": the service's default
  [[ $variant == other || $variant == other-tmpfs ]] && bin=$OTHER_BIN
  local PG_SH=$SHARED/baselines/pg.sh
  [[ $variant == tmpfs || $variant == neither || $variant == other-tmpfs ]] && PG_SH=$WORK/pg-tmpfs.sh
  [[ $variant == wal-disk ]] && PG_SH=$WORK/pg-wal-disk.sh
  [[ $variant == no-derive || $variant == neither ]] && derive=60000
  [[ $variant == derive-* ]] && derive=${variant#derive-}
  # Any kind of server may hold the port (a variant's, or one left by an interrupted run):
  # the run must use the server it starts, so all are stopped first.
  stop_servers
  "$PG_SH" start $PGPORT durable >/dev/null
  "$ROOT/bench/warm_wal.sh" $PGPORT
  rm -f "$WORK/sb.port"
  env DATABASE_URL=$DB SWITCHBOARD_WEBHOOK_SECRET=$SECRET SWITCHBOARD_LISTEN=127.0.0.1:$SBPORT \
      SWITCHBOARD_PORT_FILE="$WORK/sb.port" SWITCHBOARD_LOG_LEVEL=warn \
      ${derive:+SWITCHBOARD_DERIVE_DELAY_MS=$derive} "$bin" > "$WORK/sb.log" 2>&1 &
  SB_PID=$!
  for _ in $(seq 100); do [[ -s $WORK/sb.port ]] && break; sleep 0.1; done
  [[ -s $WORK/sb.port ]] || { cat "$WORK/sb.log" >&2; exit 1; }
  local t0 t1 p0 p1; t0=$(cpu_ticks "$SB_PID"); p0=$(pg_ticks)
  "$LOAD" --url "http://127.0.0.1:$SBPORT/receive" --secret $SECRET --examples "$SHARED/vapi/examples" \
          --database-url "$DB" --report "$WORK/run.json" --progress 10 --mode open --rate "$RATE" \
          --warmup "$WARMUP" --duration "$DURATION" --connections 256 > "$WORK/run.txt" 2>&1 ||
    { cat "$WORK/run.txt" >&2; exit 1; }  # an unbalanced ledger voids the whole comparison
  t1=$(cpu_ticks "$SB_PID"); p1=$(pg_ticks)
  curl -sf "http://127.0.0.1:$SBPORT/metrics" > "$WORK/metrics.txt" || : > "$WORK/metrics.txt"
  kill -TERM "$SB_PID"; wait "$SB_PID" || true; SB_PID=""
  "$PG_SH" stop $PGPORT >/dev/null 2>&1 || true
  python3 - "$WORK/run.json" "$variant" "$round" "$t0" "$t1" "$p0" "$p1" "$(getconf CLK_TCK)" \
    "$WORK/metrics.txt" >> "$WORK/runs.jsonl" <<'PY'
import json, sys
path, variant, rnd, t0, t1, p0, p1, tick, metrics = sys.argv[1:]
r = json.load(open(path))
per_ack = lambda a, b: round((int(b) - int(a)) / int(tick) * 1e6 / max(1, r["acked"]), 1)
m = {}
for line in open(metrics):
    parts = line.split()
    if len(parts) == 2 and parts[0] in ("switchboard_batch_rows_sum", "switchboard_batch_rows_count"):
        m[parts[0]] = float(parts[1])
per_batch = round(m["switchboard_batch_rows_sum"] / m["switchboard_batch_rows_count"], 1) \
    if m.get("switchboard_batch_rows_count") else None
print(json.dumps({"variant": variant, "round": int(rnd), "latency_ms": r["latency_ms"],
                  "cpu_us": per_ack(t0, t1), "pg_cpu_us": per_ack(p0, p1), "per_batch": per_batch}))
PY
  echo "tail_sources: $variant round $round done" >&2
}

: > "$WORK/runs.jsonl"
for round in $(seq "$ROUNDS"); do
  for variant in $VARIANTS; do run "$variant" "$round"; done
done

python3 - "$WORK/runs.jsonl" "$RATE" "$DURATION" "$WARMUP" <<'PY'
import json, statistics, sys
path, rate, duration, warmup = sys.argv[1:]
runs = [json.loads(l) for l in open(path)]
print(f"Open loop at {int(rate):,} webhooks/s, {duration} s after a {warmup} s warm-up, variants "
      "alternated round by round (bench/tail_sources.sh).\n")
print("| variant | round | p50 ms | p90 ms | p99 ms | p99.9 ms | service µs/ack | Postgres µs/ack | events/batch |")
print("|---|---:|---:|---:|---:|---:|---:|---:|---:|")
for r in runs:
    l = r["latency_ms"]
    print(f"| {r['variant']} | {r['round']} | {l['p50']:.2f} | {l['p90']:.2f} | {l['p99']:.2f} | "
          f"{l['p999']:.2f} | {r['cpu_us']} | {r['pg_cpu_us']} | {r['per_batch'] or 'n/a'} |")
print("\n| variant (median of its runs) | p50 ms | p90 ms | p99 ms | p99.9 ms | service µs/ack | Postgres µs/ack | events/batch |")
print("|---|---:|---:|---:|---:|---:|---:|---:|")
for v in dict.fromkeys(r["variant"] for r in runs):
    rs = [r for r in runs if r["variant"] == v]
    med = lambda f: statistics.median(f(r) for r in rs)
    print(f"| {v} | " + " | ".join(f"{med(lambda r, k=k: r['latency_ms'][k]):.2f}" for k in ("p50", "p90", "p99", "p999"))
          + f" | {med(lambda r: r['cpu_us']):.1f} | {med(lambda r: r['pg_cpu_us']):.1f}"
          + " | " + (f"{statistics.median(b):.1f}" if (b := [r["per_batch"] for r in rs if r["per_batch"]]) else "n/a")
          + " |")
PY
