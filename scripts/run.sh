#!/usr/bin/env bash
# Installs what is missing, builds (release), starts a project-local Postgres when DATABASE_URL
# is not set, and runs switchboard in the foreground (schema applied at start-up).
# Extra arguments go to the binary, e.g. scripts/run.sh --listen 127.0.0.1:9000
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
cd "$ROOT"
scripts/deps.sh
cmake --preset release -DSWITCHBOARD_TESTS=OFF -DSWITCHBOARD_BENCH=OFF >/dev/null
cmake --build --preset release
if [[ -z "${DATABASE_URL:-}" ]]; then
  scripts/pg.sh start
  export DATABASE_URL=$(scripts/pg.sh url)
  echo "run: using the local Postgres at $DATABASE_URL (data in .local/pg; stop it with scripts/pg.sh stop)" >&2
fi
if [[ -z "${SWITCHBOARD_WEBHOOK_SECRET:-}${SWITCHBOARD_WEBHOOK_BEARER_TOKEN:-}${SWITCHBOARD_HMAC_SECRET:-}${SWITCHBOARD_ALLOW_UNAUTHENTICATED:-}" ]]; then
  echo "run: set SWITCHBOARD_WEBHOOK_SECRET (or a bearer token / HMAC secret) to authenticate webhooks" >&2
fi
# What a stop cannot write (Postgres unreachable) is kept here and written at the next start.
export SWITCHBOARD_SPOOL_DIR=${SWITCHBOARD_SPOOL_DIR:-$PWD/.local/spool}
exec build/release/switchboard "$@"
