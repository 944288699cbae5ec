#!/usr/bin/env bash
# Where the wrk mix's CPU goes: one wrk mix (wrk -t1 -c64, ../shared/baselines/wrk/mix.lua, as
# bench/run.sh runs it) against the service on a fresh durable Postgres (WAL warmed, the host
# settings of bench/host.sh), and the CPU of each part per request: wrk's (user and system time
# of its process), the service's and all of Postgres' processes' (/proc/<pid>/stat), with the
# share of the two cores left idle. The budget behind bench/analysis.md's "What is in the way"
# for the throughput ratios (session 25).
#   bench/wrk_cpu.sh            WRK_SECONDS=15 overrides the length (as in bench/run.sh)
# Needs bench/run.sh's build (release preset with the benchmarks) and root, like bench/run.sh.
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
SHARED=${SWITCHBOARD_SHARED_DIR:-$(cd "$ROOT/.." && pwd)/shared}
PGPORT=61463; SBPORT=8099; SECRET=bench-secret; LENGTH=${WRK_SECONDS:-15}
DB=postgresql://postgres@127.0.0.1:$PGPORT/app
BIN=$ROOT/build/release/switchboard
command -v wrk >/dev/null || { echo "wrk is missing (bench/run.sh installs it)" >&2; exit 1; }
[[ -x $BIN ]] || { echo "build the release preset first (bench/run.sh does)" >&2; exit 1; }
# shellcheck source=bench/host.sh
source "$ROOT/bench/host.sh"
W=$(mktemp -d /tmp/switchboard-wrkcpu.XXXXXX)
SB=""
cleanup() {
  [[ -n $SB ]] && kill "$SB" 2>/dev/null || true
  "$SHARED/baselines/pg.sh" stop $PGPORT >/dev/null 2>&1 || true
  rm -rf "$W" "/tmp/steer-pg-$PGPORT"
  host_restore
}
trap cleanup EXIT
"$SHARED/baselines/pg.sh" stop $PGPORT >/dev/null 2>&1 || true
"$SHARED/baselines/pg.sh" start $PGPORT durable >/dev/null
"$ROOT/bench/warm_wal.sh" $PGPORT >/dev/null
env DATABASE_URL=$DB SWITCHBOARD_WEBHOOK_SECRET=$SECRET SWITCHBOARD_LISTEN=127.0.0.1:$SBPORT \
    SWITCHBOARD_PORT_FILE="$W/sb.port" SWITCHBOARD_LOG_LEVEL=warn "$BIN" > "$W/sb.log" 2>&1 &
SB=$!
for _ in $(seq 100); do [[ -s $W/sb.port ]] && break; sleep 0.1; done
[[ -s $W/sb.port ]] || { cat "$W/sb.log" >&2; exit 1; }
ticks() { awk '{print $14 + $15}' "/proc/$1/stat" 2>/dev/null || echo 0; }
pg_ticks() {
  local t=0 p
  for p in $(pgrep -u postgres -x postgres); do t=$((t + $(ticks "$p"))); done
  echo "$t"
}
s0=$(ticks "$SB"); p0=$(pg_ticks); c0=$(awk '/^cpu /{print $5 + $6}' /proc/stat)
/usr/bin/time -f "%U %S" -o "$W/wrk.time" wrk -t1 -c64 -d"${LENGTH}s" \
  -s "$SHARED/baselines/wrk/mix.lua" "http://127.0.0.1:$SBPORT/receive" -- \
  "$SHARED/vapi/examples" "$SECRET" > "$W/wrk.txt" 2>&1
s1=$(ticks "$SB"); p1=$(pg_ticks); c1=$(awk '/^cpu /{print $5 + $6}' /proc/stat)
python3 - "$W/wrk.txt" "$W/wrk.time" "$((s1 - s0))" "$((p1 - p0))" "$((c1 - c0))" \
  "$(getconf CLK_TCK)" "$(nproc)" "$LENGTH" <<'PY'
import re, sys
wrk, timef, sb, pg, idle, hz, cores, length = sys.argv[1:]
text = open(wrk).read()
m = re.search(r"(\d+) requests in ([\d.]+)s", text)
if not m:
    sys.exit("wrk gave no count:\n" + text)
n, secs = int(m.group(1)), float(m.group(2))
non2xx = re.search(r"Non-2xx or 3xx responses: (\d+)", text)
u, s = (float(x) for x in open(timef).read().split()[-2:])
per = lambda seconds: seconds / n * 1e6
hz = int(hz)
parts = {"wrk": u + s, "switchboard": int(sb) / hz, "Postgres": int(pg) / hz}
print(f"{n / secs:,.0f} requests/s over {secs:.1f} s"
      + (f", {non2xx.group(1)} non-2xx" if non2xx else ""))
for k, v in parts.items():
    print(f"  {k:<12} {per(v):6.1f} µs of CPU per request")
total = sum(parts.values())
print(f"  {'all':<12} {per(total):6.1f} µs; at every core busy: {int(cores) * 1e6 / per(total):,.0f} requests/s")
print(f"  idle (and I/O wait): {int(idle) / hz / (int(cores) * secs):.0%} of the {cores} cores")
PY
