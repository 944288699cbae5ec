#!/usr/bin/env bash
# Installs the official Vapi SDK (npm ci, from package-lock.json) and runs it against the fake:
# writes the requests of each operation to OUT (see sdk-compare.mjs). The ctest fixture
# vapi_sdk_log runs this before the C++ comparison test.
#   tests/fake-vapi/run-sdk-compare.sh OUT
set -euo pipefail
OUT=${1:?usage: run-sdk-compare.sh OUT}
cd "$(dirname "$0")"
command -v node >/dev/null || { echo "run-sdk-compare: node is not installed (scripts/deps.sh --test)" >&2; exit 1; }
command -v npm >/dev/null || { echo "run-sdk-compare: npm is not installed (scripts/deps.sh --test)" >&2; exit 1; }
npm ci --no-audit --no-fund --loglevel=error
exec node sdk-compare.mjs --out "$OUT"
