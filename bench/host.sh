# Sourced by the benchmark scripts: the two host settings bench/run.sh measures with, applied for
# the run and undone by host_restore (call it from the script's EXIT trap).
#   source bench/host.sh; trap 'host_restore; ...' EXIT
# Sets HUGE_PAGES and DIRTY_BYTES (exported) to what the machine has during the run.

# Postgres' shared memory on 2 MB pages, as docs/postgres.md recommends for production: with the
# kernel's 4 kB pages every backend takes a page fault for each 4 kB of the 1 GB of shared buffers
# it touches first, about a tenth of Postgres' CPU on this virtual machine in a short run
# (bench/analysis.md, session 12). pg.sh's server takes them by itself (huge_pages = try) once
# the kernel has them reserved; the reservation is undone at the end.
# SWITCHBOARD_BENCH_HUGE_PAGES=0 leaves the machine as it is.
HUGE_BEFORE=$(cat /proc/sys/vm/nr_hugepages 2>/dev/null || echo 0)
HUGE_PAGES=$HUGE_BEFORE
if [[ ${SWITCHBOARD_BENCH_HUGE_PAGES:-1} != 0 && $HUGE_BEFORE -lt 600 ]] && [[ -w /proc/sys/vm/nr_hugepages ]]; then
  echo 600 > /proc/sys/vm/nr_hugepages || true
  HUGE_PAGES=$(cat /proc/sys/vm/nr_hugepages)
fi
export HUGE_PAGES

# The kernel's writeback kept continuous, as docs/postgres.md recommends where the WAL shares a
# disk with the tables: vm.dirty_background_bytes = 8 MB. Postgres 15 extends its tables by
# writing pages of zeros (about 10 MB/s at 10,000 webhooks/s); with the default threshold (10 % of
# RAM) they collect for 30 s and are written at once, and every WAL flush waits behind that for
# 0.3-0.5 s (bench/analysis.md, session 13). Undone at the end; SWITCHBOARD_BENCH_DIRTY_BYTES=0
# leaves the machine as it is.
DIRTY_BEFORE=$(cat /proc/sys/vm/dirty_background_bytes 2>/dev/null || echo 0)
DIRTY_RATIO_BEFORE=$(cat /proc/sys/vm/dirty_background_ratio 2>/dev/null || echo 10)
DIRTY_BYTES=$DIRTY_BEFORE
if [[ ${SWITCHBOARD_BENCH_DIRTY_BYTES:-8388608} != 0 && $DIRTY_BEFORE == 0 ]] && [[ -w /proc/sys/vm/dirty_background_bytes ]]; then
  echo "${SWITCHBOARD_BENCH_DIRTY_BYTES:-8388608}" > /proc/sys/vm/dirty_background_bytes || true
  DIRTY_BYTES=$(cat /proc/sys/vm/dirty_background_bytes)
fi
export DIRTY_BYTES

host_restore() {
  [[ $HUGE_PAGES != "$HUGE_BEFORE" ]] && echo "$HUGE_BEFORE" > /proc/sys/vm/nr_hugepages 2>/dev/null || true
  if [[ $DIRTY_BYTES != "$DIRTY_BEFORE" ]]; then  # writing the ratio sets the bytes back to 0
    echo "$DIRTY_RATIO_BEFORE" > /proc/sys/vm/dirty_background_ratio 2>/dev/null || true
  fi
}
