#!/usr/bin/env bash
# Installs what is missing, builds (warnings as errors), starts a throwaway Postgres, runs every
# test (unit, Postgres integration, end-to-end with the real binary) and stops Postgres again.
#   scripts/test.sh                 everything
#   scripts/test.sh -L unit         only tests with that ctest label (unit | integration | e2e)
# Extra arguments go to ctest.
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
cd "$ROOT"
PRESET=${SWITCHBOARD_TEST_PRESET:-ci}
scripts/deps.sh --test
cmake --preset "$PRESET" >/dev/null
cmake --build --preset "$PRESET"

PGDIR=$(mktemp -d /tmp/switchboard-test-pg.XXXXXX)
PGPORT=${SWITCHBOARD_TEST_PG_PORT:-55499}
cleanup() { scripts/pg.sh stop "$PGDIR" "$PGPORT"; rm -rf "$PGDIR"; }
trap cleanup EXIT
scripts/pg.sh start "$PGDIR" "$PGPORT"
export SWITCHBOARD_TEST_DATABASE_URL="postgresql://postgres@127.0.0.1:$PGPORT/postgres"
export SWITCHBOARD_TEST_PG_DATA="$PGDIR" SWITCHBOARD_TEST_PG_PORT="$PGPORT"
export SWITCHBOARD_TEST_PG_CTL="$ROOT/scripts/pg.sh"

ctest --preset "$PRESET" --timeout 600 "$@"
