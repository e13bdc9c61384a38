#!/usr/bin/env bash
# Installs what the official-client interop tests (tests/interop/, pytest marker
# `interop`) need, idempotently:
#   1. Chromium at /usr/bin/chromium (Debian package `chromium`; needs root),
#   2. the pinned npm packages in tests/interop (npm ci from package-lock.json), among
#      them @openim/wasm-client-sdk, whose assets/openIM.wasm holds the protobuf schema
#      that the conformance check (tests/support/conformance/) reads, and
#      openapi-typescript, openapi-fetch, typescript and @types/node for the typed
#      TypeScript client check (tests/clients/test_typescript_client.py),
#   3. the browser bundle tests/interop/build/client-sdk.js (esbuild, pinned);
# and, first, nginx at /usr/sbin/nginx (Debian package `nginx-light`; needs root)
# for the proxy tests (tests/cluster/test_proxy.py: deploy/nginx/bridge.conf in
# front of real bridge nodes).
# Works on a fresh Debian 12 with Python 3.11, Node 20 and npm. Re-running only
# redoes what is missing or stale.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
INTEROP="$ROOT/tests/interop"
CHROMIUM=/usr/bin/chromium

log() { printf '[install-interop] %s\n' "$*"; }

# --- nginx (proxy tests) ---------------------------------------------------------
NGINX=/usr/sbin/nginx
if [ -x "$NGINX" ]; then
  log "nginx present: $("$NGINX" -v 2>&1)"
elif [ "$(id -u)" -eq 0 ]; then
  log "installing nginx-light with apt-get"
  # The package would start a system nginx on port 80 (the tests run their own):
  # deny service starts during the install, unless a policy exists (Docker images).
  policy=/usr/sbin/policy-rc.d own_policy=
  if [ ! -e "$policy" ]; then
    own_policy=1
    trap 'rm -f "$policy"' EXIT
    printf '#!/bin/sh\nexit 101\n' >"$policy"
    chmod 755 "$policy"
  fi
  if ! out=$(DEBIAN_FRONTEND=noninteractive apt-get update -qq 2>&1 &&
      DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends nginx-light 2>&1); then
    printf '%s\n' "$out" >&2
    log "ERROR: apt-get install nginx-light failed"
    exit 1
  fi
  if [ -n "$own_policy" ]; then
    rm -f "$policy"
    trap - EXIT
  fi
  log "nginx installed: $("$NGINX" -v 2>&1)"
else
  log "$NGINX is missing and this script is not running as root; the proxy tests"
  log "(tests/cluster/test_proxy.py) need it. Run as root:  apt-get install -y nginx-light"
  if [ -n "${CI:-}" ]; then
    exit 1
  fi
fi

# --- 1. Chromium ---------------------------------------------------------------
if [ -x "$CHROMIUM" ]; then
  log "chromium present: $("$CHROMIUM" --version 2>/dev/null | tail -n1)"
elif [ "$(id -u)" -eq 0 ]; then
  log "installing chromium with apt-get"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update
  apt-get install -y --no-install-recommends chromium
else
  log "ERROR: $CHROMIUM is missing and this script is not running as root."
  log "Run as root:  apt-get update && apt-get install -y chromium"
  log "then re-run:  scripts/install-interop.sh"
  exit 1
fi

# --- 2. npm packages -------------------------------------------------------------
for tool in node npm; do
  if ! command -v "$tool" >/dev/null 2>&1; then
    log "ERROR: $tool is not on PATH (Node 20 + npm are required)"
    exit 1
  fi
done

cd "$INTEROP"
# npm ci is reproducible but always wipes node_modules; skip it when the installed
# tree already matches the lock file (npm writes node_modules/.package-lock.json).
if [ -f package-lock.json ]; then
  if [ -f node_modules/.package-lock.json ] && node -e '
      const lock = require("./package-lock.json").packages;
      const have = require("./node_modules/.package-lock.json").packages;
      const ok = (a, b) => b && a.version === b.version;
      // every non-optional locked package installed at its locked version, nothing extra
      const locked = Object.entries(lock).filter(([k, p]) => k && !p.optional).every(([k, p]) => ok(p, have[k]));
      const extra = Object.entries(have).some(([k, p]) => !ok(p, lock[k]));
      process.exit(locked && !extra ? 0 : 1);
    ' 2>/dev/null; then
    log "node_modules matches package-lock.json"
  else
    log "npm ci"
    npm ci --no-audit --no-fund
  fi
else
  log "no package-lock.json: npm install (writes the lock file)"
  npm install --no-audit --no-fund
fi

# --- 3. bundle -----------------------------------------------------------------
log "building the page bundle"
node build.mjs

log "done: run the interop tests with  pytest -m interop tests/interop"
