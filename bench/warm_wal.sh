#!/usr/bin/env bash
# Writes and recycles 64 WAL segments (1 GB, max_wal_size) on the Postgres at 127.0.0.1:PORT, so a
# fresh cluster measures like a server past its first checkpoints. A fresh cluster has no segments
# to recycle: each 16 MB of WAL then needs a new segment file, written full of zeros and flushed
# while the commit that crossed into it waits (10,000 webhooks/s write about 1.2 kB of WAL each:
# one every 1.4 s; bench/analysis.md, session 13). About 3 s. SWITCHBOARD_BENCH_WARM_WAL=0 skips it.
#   bench/warm_wal.sh PORT
set -euo pipefail
[[ ${SWITCHBOARD_BENCH_WARM_WAL:-1} == 0 ]] && exit 0
{ echo "CREATE TABLE bench_warm_wal (x int);"
  for _ in $(seq 64); do echo "INSERT INTO bench_warm_wal VALUES (1); SELECT pg_switch_wal();"; done
  echo "DROP TABLE bench_warm_wal; CHECKPOINT; CHECKPOINT;"
} | psql -X -h 127.0.0.1 -p "${1:?usage: bench/warm_wal.sh PORT}" -U postgres -qAt -v ON_ERROR_STOP=1 >/dev/null
