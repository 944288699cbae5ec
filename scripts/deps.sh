#!/usr/bin/env bash
# Installs the Debian 12 packages switchboard needs to build, run and test (idempotent; skips
# apt entirely when everything is already installed). Needs root (or sudo).
set -euo pipefail
PACKAGES=(
  build-essential cmake pkg-config git ca-certificates curl
  libboost1.81-dev libboost-system1.81-dev libboost-program-options1.81-dev
  libboost-json1.81-dev libboost-url1.81-dev
  libsimdjson-dev libpq-dev libconcurrentqueue-dev prometheus-cpp-dev libspdlog-dev libssl-dev libxxhash-dev
  libcjose-dev libjemalloc-dev
  libgtest-dev libgmock-dev googletest libbenchmark-dev
  postgresql postgresql-client
)
# Test-only tools: promtool (checks /metrics), wrk (load), python3 (a test's call generator).
# Node.js and npm (SDK conformance checks, the front-end tests) come with the machine image;
# Debian's own packages are the fallback, whose Node 18 is too old for the front-end tests:
# tests/manage-js/run.sh then takes Node.js 20 from the npm registry (package node@20).
# Benchmark-only: nginx (the HTTP ceiling of ../shared/baselines).
case "${1:-}" in
  --test) PACKAGES+=(prometheus wrk python3) ;;
  --bench) PACKAGES+=(prometheus wrk nginx python3) ;;
esac
if [[ -n "${1:-}" ]]; then command -v npm >/dev/null 2>&1 || PACKAGES+=(nodejs npm); fi
missing=()
for p in "${PACKAGES[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if ((${#missing[@]})); then
  echo "deps: installing ${missing[*]}" >&2
  SUDO=""; [[ $(id -u) -eq 0 ]] || SUDO="sudo"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi
