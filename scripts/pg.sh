#!/usr/bin/env bash
# A project-local PostgreSQL 15 cluster: scripts/pg.sh start|stop|url [DIR] [PORT]
#   DIR  data folder (default .local/pg)        PORT  TCP port on 127.0.0.1 (default 55432)
# As root the server runs as the `postgres` user (initdb refuses root). `start` prints nothing
# but errors; `url` prints the connection URL. Durable settings (fsync, synchronous_commit on);
# PG_EXTRA_OPTS adds server options (-c name=value …) to `start`.
set -euo pipefail
cmd=${1:?usage: pg.sh start|stop|url [DIR] [PORT]}
ROOT=$(cd "$(dirname "$0")/.." && pwd)
DATA=$(realpath -m "${2:-$ROOT/.local/pg}")
PORT=${3:-55432}
PGBIN=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -1)
[[ -x "$PGBIN/initdb" ]] || { echo "pg.sh: PostgreSQL server binaries not found (run scripts/deps.sh)" >&2; exit 1; }
SOCK=$DATA/socket
as_owner() {
  if [[ $(id -u) -eq 0 ]]; then runuser -u postgres -- "$@"; else "$@"; fi
}
case $cmd in
start)
  if [[ ! -f $DATA/PG_VERSION ]]; then
    mkdir -p "$DATA"
    [[ $(id -u) -eq 0 ]] && chown postgres:postgres "$DATA"
    chmod 700 "$DATA"
    # Every folder above DATA must be traversable by the postgres user.
    # Said, not done silently: this can make e.g. /root traversable by every user.
    if [[ $(id -u) -eq 0 ]]; then
      d=$(dirname "$DATA")
      while [[ $d != / ]]; do
        if [[ $(( 0$(stat -c %a "$d") & 01 )) -eq 0 ]]; then
          chmod o+x "$d" && echo "pg.sh: made $d traversable by other users (o+x) so that postgres reaches $DATA" >&2
        fi
        d=$(dirname "$d")
      done
    fi
    as_owner "$PGBIN/initdb" -D "$DATA" -U postgres --auth=trust -E UTF8 --locale=C.UTF-8 >/dev/null
    as_owner mkdir -p "$SOCK"
  fi
  if as_owner "$PGBIN/pg_ctl" -D "$DATA" status >/dev/null 2>&1; then exit 0; fi
  as_owner "$PGBIN/pg_ctl" -D "$DATA" -l "$DATA/server.log" -w -t 60 \
    -o "-p $PORT -k $SOCK -c listen_addresses=127.0.0.1 -c max_connections=200 -c fsync=on -c synchronous_commit=on ${PG_EXTRA_OPTS:-}" \
    start >/dev/null || { cat "$DATA/server.log" >&2; exit 1; }
  # -X: a ~/.psqlrc (\timing, a prompt) must not change the answer read here.
  [[ $(psql -X -h 127.0.0.1 -p "$PORT" -U postgres -Atqc "select count(*) from pg_database where datname='switchboard'") == 1 ]] ||
    psql -X -h 127.0.0.1 -p "$PORT" -U postgres -qc "create database switchboard"
  ;;
stop)
  [[ -f $DATA/PG_VERSION ]] || exit 0
  as_owner "$PGBIN/pg_ctl" -D "$DATA" -m "${PG_STOP_MODE:-fast}" -w -t 60 stop >/dev/null 2>&1 || true
  ;;
url)
  echo "postgresql://postgres@127.0.0.1:$PORT/switchboard"
  ;;
*) echo "usage: pg.sh start|stop|url [DIR] [PORT]" >&2; exit 2 ;;
esac
