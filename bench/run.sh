#!/usr/bin/env bash
# The standard benchmark run: one command, everything on this machine, results in BENCHMARKS.md.
#
#   bench/run.sh            standard scenarios
#   bench/run.sh --long     adds the 10-minute open-loop soak (RSS sampled every second); 22
#                           minutes in all on 2026-12-07 with the build done
#
# It starts a durable Postgres (fsync on, synchronous_commit on: ../shared/baselines/pg.sh), then
# measures side by side with the same load (../shared/baselines/wrk/mix.lua, wrk -t1 -c64):
#   - the HTTP ceiling (nginx answering 200 {} without work),
#   - the naive Node handler (Express + node-postgres, one INSERT per webhook),
#   - switchboard,
# and runs switchboard's own scenarios with bench/load (open loop at 10,000/s, max throughput,
# 10x overload), each with a ledger checked against Postgres, and, as the reference for the open
# loop's latencies, Postgres alone taking one durable INSERT per event at the same rates
# (bench/pg_alone.sh, pgbench). CPU per webhook is the service's
# user+system CPU time (from /proc) divided by the webhooks it acknowledged; peak RSS is VmHWM.
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
SHARED=${SWITCHBOARD_SHARED_DIR:-$(cd "$ROOT/.." && pwd)/shared}
LONG=0
case "${1:-}" in
  "") ;;
  --long) LONG=1 ;;
  *) echo "usage: bench/run.sh [--long]   (writes BENCHMARKS.md; see bench/README.md)" >&2; exit 2 ;;
esac
OUT=$ROOT/BENCHMARKS.md
WORK=$(mktemp -d /tmp/switchboard-bench.XXXXXX)
# The Postgres ports of the bench (61450-61454) are above Linux's ephemeral range (32768-60999):
# a port inside it can be held for a while by a client connection's own end, and a server then
# fails to bind it (it happened once, in session 19, to pg_alone.sh).
PGPORT=61450; SBPORT=8093; NODEPORT=8091; NGINXPORT=8092
SECRET=bench-secret
WRK_SECONDS=${WRK_SECONDS:-15}; WRK_ROUNDS=${WRK_ROUNDS:-3}
DB=postgresql://postgres@127.0.0.1:$PGPORT/app
export LC_ALL=C

cd "$ROOT"
# Each scenario's Postgres writes up to a few GB (the soak about 6) under /tmp; its directory is
# removed after it stops, but the soak needs the room while it runs.
NEED_GB=$((LONG ? 10 : 5))
FREE_GB=$(df -P -BG /tmp | awk 'NR == 2 {print int($4)}')
if ((FREE_GB < NEED_GB)); then
  echo "bench: /tmp has ${FREE_GB} GB free; the run needs about ${NEED_GB} GB" >&2
  exit 1
fi
scripts/deps.sh --bench
cmake --preset release -DSWITCHBOARD_TESTS=OFF -DSWITCHBOARD_BENCH=ON >/dev/null
cmake --build --preset release >/dev/null
BIN=$ROOT/build/release/switchboard
LOAD=$ROOT/build/release/bench/switchboard-load

# Huge pages for Postgres and continuous writeback, as docs/postgres.md recommends (bench/host.sh).
# shellcheck source=bench/host.sh
source "$ROOT/bench/host.sh"

SB_PID=""; NODE_PID=""
cleanup() {
  local rc=$?
  host_restore
  [[ -n $SB_PID ]] && kill "$SB_PID" 2>/dev/null || true
  [[ -n $NODE_PID ]] && kill "$NODE_PID" 2>/dev/null || true
  [[ -f /tmp/steer-nginx.pid ]] && kill "$(cat /tmp/steer-nginx.pid)" 2>/dev/null || true
  declare -F stop_pg >/dev/null && stop_pg
  # A run that failed keeps its logs (the service's, the load generator's, wrk's) for a look.
  if ((rc != 0)); then
    echo "bench: failed (exit $rc); its logs are kept in $WORK" >&2
  else
    rm -rf "$WORK"
  fi
}
trap cleanup EXIT

log() { echo "bench: $*" >&2; }
cpu_ticks() { awk '{print $14 + $15}' "/proc/$1/stat"; }
pg_ticks() {  # CPU ticks of the bench's Postgres: the server and every process it runs
  # The live ones (backends, WAL writer, checkpointer, autovacuum workers) from their own stat,
  # and those that have exited (a backend that closed, an autovacuum worker done) from the
  # server's cutime + cstime, which the kernel adds them to when they are reaped.
  local t=0 p pm
  pm=$(head -1 "/tmp/steer-pg-$PGPORT/postmaster.pid" 2>/dev/null) || { echo 0; return; }
  t=$(awk '{print $14 + $15 + $16 + $17}' "/proc/$pm/stat" 2>/dev/null || echo 0)
  for p in $(pgrep -P "$pm"); do t=$((t + $(cpu_ticks "$p" 2>/dev/null || echo 0))); done
  echo "$t"
}
hwm_kb() { awk '/VmHWM/ {print $2}' "/proc/$1/status"; }
rss_kb() { awk '/VmRSS/ {print $2}' "/proc/$1/status"; }
TICK=$(getconf CLK_TCK)

wrk_mix() {  # url → prints requests/s, non-2xx count
  wrk -t1 -c64 -d"${WRK_SECONDS}s" -s "$SHARED/baselines/wrk/mix.lua" "$1" -- "$SHARED/vapi/examples" "$SECRET" > "$WORK/wrk.txt" 2>&1
  local rps non2xx
  rps=$(awk '/Requests\/sec/ {print $2}' "$WORK/wrk.txt")
  non2xx=$(awk '/Non-2xx/ {print $5}' "$WORK/wrk.txt"); non2xx=${non2xx:-0}
  echo "$rps $non2xx"
}

stop_pg() {  # and its data directory (baselines/pg.sh leaves it: GBs after a scenario)
  "$SHARED/baselines/pg.sh" stop $PGPORT >/dev/null 2>&1 || true
  rm -rf "/tmp/steer-pg-$PGPORT"
}
start_pg() {
  declare -F stop_pg >/dev/null && stop_pg
  "$SHARED/baselines/pg.sh" start $PGPORT durable
  "$ROOT/bench/warm_wal.sh" $PGPORT  # the steady state of a server past its first checkpoints
}

start_sb() {  # extra settings (NAME=value) as arguments
  env DATABASE_URL=$DB SWITCHBOARD_WEBHOOK_SECRET=$SECRET SWITCHBOARD_LISTEN=127.0.0.1:$SBPORT \
      SWITCHBOARD_PORT_FILE=$WORK/sb.port SWITCHBOARD_LOG_LEVEL=warn "$@" "$BIN" > "$WORK/sb.log" 2>&1 &
  SB_PID=$!
  for _ in $(seq 100); do [[ -s $WORK/sb.port ]] && break; sleep 0.1; done
  [[ -s $WORK/sb.port ]] || { cat "$WORK/sb.log"; exit 1; }
}
stop_sb() { kill -TERM "$SB_PID"; wait "$SB_PID" || true; SB_PID=""; rm -f "$WORK/sb.port"; }

# The machine's speed moves between hours (bench/analysis.md): one core's speed (a status-update
# parse, switchboard-micro) and the disk's flush latency (8 kB writes with O_DSYNC, as a WAL
# flush) at the start and at the end, so that runs on different machines or hours can be told
# apart by what they ran on.
machine_probe() {  # phase → a JSON line in $WORK/machine.jsonl; a failed probe costs only its line
  local parse_ns dsync_s
  parse_ns=$("$ROOT/build/release/bench/switchboard-micro" --benchmark_filter='^parse/status_update$' \
      --benchmark_min_time=1 --benchmark_format=json 2>/dev/null |
    python3 -c "import json,sys; print(round(json.load(sys.stdin)['benchmarks'][0]['cpu_time']))" 2>/dev/null) ||
    parse_ns=""
  dsync_s=$(dd if=/dev/zero of="$WORK/dsync.test" bs=8k count=1000 oflag=dsync 2>&1 |
    awk '/copied/ {print $(NF-3)}') || dsync_s=""
  rm -f "$WORK/dsync.test"
  if [[ -z $parse_ns || -z $dsync_s ]]; then log "machine probe ($1) failed"; return 0; fi
  echo "{\"phase\": \"$1\", \"parse_ns\": $parse_ns, \"dsync_us\": $(python3 -c "print(round($dsync_s * 1e6 / 1000))")}" \
    >> "$WORK/machine.jsonl"
}
log "machine probe (start)"
machine_probe start

# --- 1. the same wrk mix against the three servers --------------------------------------------
# In WRK_ROUNDS rounds (nginx, Node, switchboard; Node and switchboard each on a fresh Postgres):
# this machine's speed moves by a quarter within minutes (nginx alone gave 39,783 to 58,069/s in
# three rounds of one session, bench/analysis.md), so one run of each is a ratio of two moments.
# The order rotates from round to round (nginx first, then Node first, then switchboard first),
# so that no server always runs at the same point of a round. The table gives each server's
# median and every round.
cp -r "$SHARED/baselines/node-naive" "$WORK/node"
(cd "$WORK/node" && npm install --silent --no-audit --no-fund >/dev/null 2>&1)
wrk_nginx() {
  log "wrk mix, round $round of $WRK_ROUNDS: nginx ceiling"
  stop_pg  # nothing else runs beside it
  nginx -c "$SHARED/baselines/nginx/ceiling.conf"
  sleep 0.5
  read -r NGINX_RPS _ < <(wrk_mix "http://127.0.0.1:$NGINXPORT/receive")
  [[ -n $NGINX_RPS && $NGINX_RPS != 0* ]] || { log "wrk against nginx gave no rate:"; cat "$WORK/wrk.txt" >&2; exit 1; }
  kill "$(cat /tmp/steer-nginx.pid)"; sleep 0.5
}
wrk_node() {
  log "wrk mix, round $round of $WRK_ROUNDS: naive node handler"
  start_pg >/dev/null
  (cd "$WORK/node" && DATABASE_URL=$DB PORT=$NODEPORT exec node server.mjs) > "$WORK/node.log" 2>&1 &
  NODE_PID=$!
  for _ in $(seq 100); do curl -s -o /dev/null "http://127.0.0.1:$NODEPORT/" && break; sleep 0.1; done
  curl -s -o /dev/null "http://127.0.0.1:$NODEPORT/" ||
    { log "the naive Node handler did not start:"; cat "$WORK/node.log" >&2; exit 1; }
  read -r NODE_RPS NODE_NON2XX < <(wrk_mix "http://127.0.0.1:$NODEPORT/receive")
  kill "$NODE_PID"; wait "$NODE_PID" 2>/dev/null || true; NODE_PID=""
  [[ -n $NODE_RPS && $NODE_RPS != 0* ]] || { log "wrk gave Node no rate:"; cat "$WORK/wrk.txt" >&2; exit 1; }
}
wrk_sb() {
  log "wrk mix, round $round of $WRK_ROUNDS: switchboard"
  start_pg >/dev/null
  start_sb
  T0=$(cpu_ticks "$SB_PID"); P0=$(pg_ticks)
  read -r SB_RPS SB_NON2XX < <(wrk_mix "http://127.0.0.1:$SBPORT/receive")
  T1=$(cpu_ticks "$SB_PID"); P1=$(pg_ticks)
  SB_WRK_ACKED=$(curl -s "http://127.0.0.1:$SBPORT/metrics" | awk '/^switchboard_webhooks_total\{outcome="stored"/ {s += $2} END {print s}')
  SB_WRK_HWM=$(hwm_kb "$SB_PID")
  stop_sb
  [[ -n $SB_RPS && $SB_RPS != 0* ]] || { log "wrk gave switchboard no rate:"; cat "$WORK/wrk.txt" >&2; exit 1; }
}
WRK_ORDERS=("nginx node sb" "node sb nginx" "sb nginx node")
for round in $(seq "$WRK_ROUNDS"); do
  order=${WRK_ORDERS[$(((round - 1) % 3))]}
  for server in $order; do "wrk_$server"; done
  python3 -c "import json; print(json.dumps({'order': '$order', 'nginx': $NGINX_RPS, 'node': $NODE_RPS, 'node_bad': $NODE_NON2XX,
    'sb': $SB_RPS, 'sb_bad': $SB_NON2XX, 'sb_hwm_kb': $SB_WRK_HWM,
    'sb_cpu': round(($T1-$T0)/$TICK*1e6/max(1,$SB_WRK_ACKED),1), 'sb_pg': round(($P1-$P0)/$TICK*1e6/max(1,$SB_WRK_ACKED),1)}))" \
    >> "$WORK/wrk_rounds.jsonl"
done

# --- 2. switchboard scenarios with the load generator -----------------------------------------
run_load() {  # name, service settings (space-separated NAME=value, or -), switchboard-load arguments
  local name=$1 settings=$2; shift 2
  [[ $settings == - ]] && settings=""
  log "scenario $name"
  start_pg >/dev/null
  # shellcheck disable=SC2086
  start_sb $settings
  local t0 t1 p0 p1; t0=$(cpu_ticks "$SB_PID"); p0=$(pg_ticks)
  # RSS every second, to show whether memory stays flat over the run
  ( while kill -0 "$SB_PID" 2>/dev/null; do rss_kb "$SB_PID" 2>/dev/null || true; sleep 1; done ) > "$WORK/$name.rss" &
  local sampler=$!
  set +e
  "$LOAD" --url "http://127.0.0.1:$SBPORT/receive" --secret $SECRET --examples "$SHARED/vapi/examples" \
          --database-url "$DB" --report "$WORK/$name.json" --progress 10 "$@" > "$WORK/$name.txt" 2>&1
  local rc=$?
  set -e
  t1=$(cpu_ticks "$SB_PID"); p1=$(pg_ticks)
  local hwm; hwm=$(hwm_kb "$SB_PID")
  kill "$sampler" 2>/dev/null || true
  stop_sb
  python3 - "$WORK/$name.json" "$name" "$t0" "$t1" "$TICK" "$hwm" "$rc" "$p0" "$p1" >> "$WORK/scenarios.jsonl" <<'PY'
import json, sys
path, name, t0, t1, tick, hwm, rc, p0, p1 = sys.argv[1:]
r = json.load(open(path))
r["name"] = name
r["cpu_us_per_ack"] = round((int(t1) - int(t0)) / int(tick) * 1e6 / max(1, r["acked"]), 1)
r["pg_cpu_us_per_ack"] = round((int(p1) - int(p0)) / int(tick) * 1e6 / max(1, r["acked"]), 1)
r["peak_rss_mb"] = round(int(hwm) / 1024, 1)
rss = [int(l) for l in open(path.replace(".json", ".rss")) if l.strip().isdigit()]
# One sample a second from the service's start: keep those of the sending (warm-up and run),
# not of the drain and the ledger check after it.
rss = rss[:int(r.get("warmup_s", 0) + r.get("duration_s", len(rss))) + 1]
if len(rss) >= 120:  # the largest RSS of the first and of the last minute of the run
    r["rss_first_min_mb"] = round(max(rss[:60]) / 1024, 1)
    r["rss_last_min_mb"] = round(max(rss[-60:]) / 1024, 1)
r["exit_code"] = int(rc)
# A run that acknowledged nothing balances its ledger trivially (everything refused): void.
if r["acked"] == 0:
    r["ledger"]["valid"] = False
print(json.dumps(r))
PY
  if ((rc != 0)) || ! tail -1 "$WORK/scenarios.jsonl" | python3 -c \
      "import json,sys; sys.exit(0 if json.loads(sys.stdin.read())['ledger']['valid'] else 1)"; then
    log "scenario $name: ledger VOID or bench/load failed (exit $rc); see BENCHMARKS.md"
    FAILED=1
  fi
}

FAILED=0
: > "$WORK/scenarios.jsonl"
# The open-loop runs send 5 s before the measured 30 s (--warmup): the service's and Postgres'
# first moments (connections opened, first plans, empty tables and caches) are reported on their
# own line, in the ledger like the rest.
# Each open-loop run is made SWITCHBOARD_BENCH_REPEATS times (default 3), alternating the rates:
# on this machine their tail moves between runs of the same code (p99 at 10,000/s from 11 to
# 66 ms in session 14's 25 s runs), so one run's is luck. The table shows the run with the median
# p99, the list under it every run.
REPEATS=${SWITCHBOARD_BENCH_REPEATS:-3}
for i in $(seq "$REPEATS"); do
  run_load "open-10k.$i" - --mode open --rate 10000 --warmup 5 --duration 30 --connections 256
  run_load "open-5k.$i" - --mode open --rate 5000 --warmup 5 --duration 30 --connections 256
done
run_load max - --mode max --duration 20 --connections 64
# 10x overload: more concurrent senders than the queue admits; the excess must get 503 fast,
# memory stay bounded, and nothing acknowledged be lost.
run_load overload-10x "SWITCHBOARD_QUEUE_CAPACITY=512 SWITCHBOARD_ACK_TIMEOUT_MS=2000" \
         --mode open --rate 100000 --duration 15 --connections 1024
if ((LONG)); then
  log "10-minute soak"
  run_load soak-10min - --mode open --rate 10000 --warmup 5 --duration 600 --connections 256
fi

# The parts below are reported in BENCHMARKS.md even when one fails (after twenty minutes of
# scenarios, one broken part must not lose the rest); the script then exits 1.
part() {  # title, output file, command...
  local title=$1 out=$2; shift 2
  if ! "$@" > "$out" 2> "$out.log"; then
    FAILED=1
    { echo; echo "**$title failed** (bench/run.sh exits 1); the end of its log:"; echo; echo '```'
      tail -20 "$out.log"; echo '```'; } >> "$out"
    log "$title failed:"; tail -20 "$out.log" >&2
  fi
}

# --- 2b. reply latency of assistant-request, alone and under load (bench/replies.sh) -----------
log "assistant-request reply latency"
stop_pg
part "bench/replies.sh" "$WORK/replies.md" env DURATION=10 LOAD_RATE=2000 "$ROOT/bench/replies.sh"

# --- 2c. webhook latency with and without management traffic (bench/manage_interference.sh) ---
log "webhook latency beside management traffic"
part "bench/manage_interference.sh" "$WORK/manage.md" \
     env DURATION=15 RATE=2000 "$ROOT/bench/manage_interference.sh"

# --- 2d. stored bytes per call (bench/storage.sh) -----------------------------------------------
log "stored bytes per call"
stop_pg
part "bench/storage.sh" "$WORK/storage.md" "$ROOT/bench/storage.sh"

# --- 2e. Postgres alone, one durable INSERT per event (bench/pg_alone.sh) ---------------------
log "Postgres alone at the open-loop rates"
part "bench/pg_alone.sh" "$WORK/pg_alone.md" env ROWS="1 16" "$ROOT/bench/pg_alone.sh"

log "machine probe (end)"
machine_probe end

# --- 3. BENCHMARKS.md --------------------------------------------------------------------------
python3 - "$OUT" "$WORK/scenarios.jsonl" "$WORK/wrk_rounds.jsonl" "$WRK_SECONDS" <<'PY'
import json, os, sys, datetime, subprocess
from statistics import median
out, scen, wrk_file, secs = sys.argv[1:]
wrk = [json.loads(l) for l in open(wrk_file) if l.strip()]
nginx, node, sb = (median(w[k] for w in wrk) for k in ("nginx", "node", "sb"))
sb_round = sorted(wrk, key=lambda w: w["sb"])[(len(wrk) - 1) // 2]  # switchboard's median round
node_bad, sb_bad = sum(int(w["node_bad"]) for w in wrk), sum(int(w["sb_bad"]) for w in wrk)
runs = [json.loads(l) for l in open(scen) if l.strip()]
# A scenario run more than once ("open-10k.1", "open-10k.2", ...) has one row: the run with the
# median p99, every run listed under the table.
groups = {}
for r in runs:
    groups.setdefault(r["name"].split(".")[0], []).append(r)
rows = []
for base, group in groups.items():
    pick = dict(sorted(group, key=lambda r: r["latency_ms"]["p99"])[len(group) // 2])
    pick["name"] = base if len(group) == 1 else f"{base} (median of {len(group)} runs by p99)"
    pick["runs"] = group
    pick["label"] = base if len(group) == 1 else f"{base}, its median run"
    pick["base"] = base
    rows.append(pick)
def package_version(name):
    try:
        return json.load(open(os.path.join(os.path.dirname(scen), "node", "node_modules", name, "package.json")))["version"]
    except Exception:
        return "?"
node_versions = (f"The naive handler ran on Node {subprocess.run(['node', '--version'], capture_output=True, text=True).stdout.strip()} "
                 f"with express {package_version('express')} and pg {package_version('pg')} (the latest of the ranges its "
                 "package.json allows on the day: `npm install` in a copy of ../shared/baselines/node-naive).")
cpu = subprocess.run(["sh", "-c", "grep -m1 'model name' /proc/cpuinfo | cut -d: -f2"], capture_output=True, text=True).stdout.strip()
L = []
L.append("# BENCHMARKS\n")
L.append(f"Measured by `bench/run.sh` on {datetime.date.today()}, on this project's machine kind "
         f"({os.cpu_count()} cores, {cpu}), everything local: the load generator, the server and a durable "
         "Postgres 15 (fsync on, synchronous_commit on) share the two cores. "
         + (f"Postgres' shared memory is on 2 MB pages ({int(os.environ['HUGE_PAGES'])} reserved, "
            "as docs/postgres.md recommends). " if int(os.environ.get("HUGE_PAGES", "0")) >= 600 else
            "Postgres' shared memory is on the kernel's 4 kB pages (no huge pages reserved). ")
         + (f"The kernel writes dirty pages back from {int(os.environ['DIRTY_BYTES']) // 1048576} MB on "
            "(`vm.dirty_background_bytes`, as docs/postgres.md recommends where the WAL shares a disk with the tables).\n"
            if int(os.environ.get("DIRTY_BYTES", "0")) > 0 else
            "The kernel's writeback threshold is its default (`vm.dirty_background_ratio`).\n"))
probe = {}
machine = os.path.join(os.path.dirname(scen), "machine.jsonl")
if os.path.exists(machine):
    probe = {p["phase"]: p for p in (json.loads(l) for l in open(machine) if l.strip())}
if "start" in probe and "end" in probe:
    L.append(f"The machine during this run, at its start and its end: one core parses a status-update in "
             f"{probe['start']['parse_ns']:,} and {probe['end']['parse_ns']:,} ns (`switchboard-micro`, "
             f"parse/status_update); an 8 kB write with its flush (`dd oflag=dsync`, the disk Postgres' WAL is on) "
             f"takes {probe['start']['dsync_us']} and {probe['end']['dsync_us']} µs. Figures from runs whose probes "
             "differ much are not comparable.\n")
L.append("## The same load against the three servers\n")
L.append(f"`wrk -t1 -c64 -d{secs}s -s ../shared/baselines/wrk/mix.lua` (the Vapi example bodies, weighted like "
         f"real traffic, a fresh call id per block), in {len(wrk)} rounds (Node and switchboard each on a "
         "fresh Postgres; the order rotates: nginx, Node, switchboard first); requests/s are each server's median over the rounds, "
         "the ratios those of the medians, non-2xx the sum over the rounds. "
         + node_versions + "\n")
L.append("| server | requests/s | non-2xx | vs nginx | vs naive Node |")
L.append("|---|---:|---:|---:|---:|")
L.append(f"| nginx, 200 without work (ceiling) | {nginx:,.0f} | 0 | 1.00 | {nginx/node:.1f}x |")
L.append(f"| naive Node handler (1 INSERT per webhook) | {node:,.0f} | {node_bad} | {node/nginx:.2f} | 1.0x |")
L.append(f"| **switchboard** (durable ack) | **{sb:,.0f}** | {sb_bad} | **{sb/nginx:.2f}** | **{sb/node:.1f}x** |")
L.append("")
L.append("- each round (nginx, Node, switchboard requests/s; switchboard vs nginx, vs Node; the order run): " + "; ".join(
    f"{w['nginx']:,.0f}, {w['node']:,.0f}, {w['sb']:,.0f} ({w['sb'] / w['nginx']:.2f}, {w['sb'] / w['node']:.1f}x; {w.get('order', 'nginx node sb').replace('sb', 'switchboard')})"
    for w in wrk))
L.append(f"- switchboard in its median round: {sb_round['sb_cpu']} µs of CPU per acknowledged webhook "
         f"(Postgres: {sb_round['sb_pg']} µs), peak RSS {int(sb_round['sb_hwm_kb'])/1024:.1f} MB.\n")
L.append("## switchboard scenarios (bench/load, ledger checked in Postgres)\n")
L.append("Calls of 10 turns (~75 messages: status updates, speech updates, partial and final transcripts, "
         "growing conversation updates, tool calls, end-of-call report), 200 calls in progress at once. "
         "Open loop measures latency from each request's scheduled time; its latencies are those of the "
         "measured window after a 5 s warm-up at the same rate (the warm-up's own are listed below the table). "
         "Every scenario's Postgres is fresh, with 1 GB of WAL segments written and recycled before the run, "
         "as on a server past its first checkpoints (bench/warm_wal.sh).\n")
L.append("| scenario | sent | acked/s | refused | not sent | p50 ms | p90 ms | p99 ms | p99.9 ms | CPU µs/ack | Postgres CPU µs/ack | peak RSS MB | ledger |")
L.append("|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|")
for r in rows:
    lat = r["latency_ms"]
    led = "balanced" if all(x["ledger"]["valid"] for x in r["runs"]) else "VOID"
    L.append(f"| {r['name']} | {r['sent']:,} | {r['acked_per_s']:,.0f} | {r['refused']:,} | {r.get('not_sent', 0):,} | {lat['p50']:.2f} | "
             f"{lat['p90']:.2f} | {lat['p99']:.2f} | {lat['p999']:.2f} | {r['cpu_us_per_ack']} | {r['pg_cpu_us_per_ack']} | {r['peak_rss_mb']} | {led} |")
L.append("")
for r in rows:
    if len(r["runs"]) > 1:
        each = "; ".join(f"{x['latency_ms']['p50']:.2f} / {x['latency_ms']['p90']:.2f} / {x['latency_ms']['p99']:.2f} / "
                         f"{x['latency_ms']['p999']:.2f} ms, {x['cpu_us_per_ack']} / {x['pg_cpu_us_per_ack']} µs"
                         for x in r["runs"])
        L.append(f"- {r['base']}, each of its {len(r['runs'])} runs in order (p50 / p90 / p99 / p99.9; service / Postgres CPU per ack): {each}; "
                 f"ledger {'balanced in every run' if all(x['ledger']['valid'] for x in r['runs']) else 'VOID in at least one run'}")
    if r["refused_by_status"]:
        L.append(f"- {r['label']}: refused by status {json.dumps(r['refused_by_status'])}; refusals answered in "
                 f"p50 {r['refusal_service_ms']['p50']:.2f} ms, p99 {r['refusal_service_ms']['p99']:.2f} ms from the send")
    if "rss_first_min_mb" in r:
        L.append(f"- {r['label']}: RSS (sampled every second) at most {r['rss_first_min_mb']} MB in the first minute, "
                 f"{r['rss_last_min_mb']} MB in the last")
    L.append(f"- {r['label']}: acknowledgements took p50 {r['ack_service_ms']['p50']:.2f} ms, p99 "
             f"{r['ack_service_ms']['p99']:.2f} ms from the actual send")
    if r.get("warmup_s", 0) > 0:
        w = r["warmup_latency_ms"]
        L.append(f"- {r['label']}: the {r['warmup_s']:.0f} s warm-up before the measured window (not in the table's "
                 f"latencies; in its counts and the ledger): {r['warmup_acked']:,} acked, p50 {w['p50']:.2f} ms, "
                 f"p99 {w['p99']:.2f} ms, p99.9 {w['p999']:.2f} ms, max {w['max']:.2f} ms")
L.append("\n## assistant-request reply latency (bench/replies.sh)\n")
L.append("Answered from the in-memory routing table once the message is committed; a probe sends 50 "
         "assistant-requests/s on one keep-alive connection, alone and beside 2,000 webhooks/s of call traffic.\n")
L.append(open(os.path.join(os.path.dirname(scen), "replies.md")).read())
L.append("\n## Webhook latency beside management API traffic (bench/manage_interference.sh)\n")
L.append("Open loop at 2,000 webhooks/s (bench/load, 15 s per phase), alone and while 16 management callers "
         "create assistants and list calls through `/functions/v1/*` against a fake Vapi that answers every "
         "call after 1 s (handlers on their own threads and Postgres connections).\n")
L.append(open(os.path.join(os.path.dirname(scen), "manage.md")).read())
L.append("\n## Stored bytes per call (bench/storage.sh)\n")
L.append("One complete call of each length (turns of ~10 s) through switchboard into a fresh durable Postgres; "
         "stored bytes from the `call_storage` view (events, shared parts, conversation runs; the turns are read from the runs since schemas/sql/015).\n")
L.append(open(os.path.join(os.path.dirname(scen), "storage.md")).read())
L.append("\n## Postgres alone at the open-loop rates (bench/pg_alone.sh)\n")
L.append("The same kind of fresh, durable, WAL-warmed Postgres given the simplest writer there is: one ~1 kB row per "
         "event, each in its own transaction (the naive handler's way of storing, without its HTTP and JavaScript), "
         "from pgbench (`-M prepared`, 32 sessions, 2 threads) at a fixed rate for 20 s, latency from each "
         "transaction's scheduled start (`--rate`; its arrivals are random, bench/load's evenly spaced). The rows "
         "with 16 rows per commit group the same events into transactions of 16, as switchboard's batches do "
         "(rate/16 transactions a second; every event of a transaction counts that transaction's latency). It is the "
         "reference for the open-loop latencies above: what the machine's Postgres and disk give a durable write "
         "at that rate before any service is in the way.\n")
L.append(open(os.path.join(os.path.dirname(scen), "pg_alone.md")).read())
L.append("\nReproduce: `bench/run.sh` (add `--long` for the 10-minute soak).\n")
import os
analysis = os.path.join(os.path.dirname(out), "bench", "analysis.md")
if os.path.exists(analysis):
    L.append("---\n")
    L.append("*Everything below is bench/analysis.md, written by hand: its figures are those of the runs it "
             "names (dated, with their commits), not necessarily those of the tables above, which are this "
             "run's.*\n")
    L.append(open(analysis).read())
open(out, "w").write("\n".join(L) + "\n")
PY
log "wrote $OUT"
cat "$OUT"
exit "$FAILED"
