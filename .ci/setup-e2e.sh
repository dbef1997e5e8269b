#!/usr/bin/env bash
# Installs the outside checks the end-to-end export tests use, into a cache folder:
#   - Debian chromium (+ fonts) for a headless real client,
#   - npm `cesium` (CesiumJS) and npm `gltf-validator` (Khronos glTF validator).
# Idempotent and fast when everything is already there (a version stamp is compared first).
# The folder is $CIM_TWIN_E2E_HOME, default ~/.cache/cim-twin-e2e; tests/export/e2e finds it the
# same way. Exits non-zero (and the e2e tests skip, saying why) only when an install is impossible.
set -euo pipefail

CESIUM_VERSION=1.145.0
VALIDATOR_VERSION=2.0.0-dev.3.10
dest=${CIM_TWIN_E2E_HOME:-$HOME/.cache/cim-twin-e2e}
stamp="cesium@$CESIUM_VERSION gltf-validator@$VALIDATOR_VERSION"

have_chromium() {
  if [ -n "${CHROMIUM_BIN:-}" ]; then [ -x "$CHROMIUM_BIN" ]; return; fi
  command -v chromium >/dev/null 2>&1 || command -v chromium-browser >/dev/null 2>&1
}

if ! have_chromium; then
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
    echo "setup-e2e: installing chromium and fonts (apt)"
    apt-get update -q
    DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends \
      chromium fonts-liberation fonts-noto-cjk
  else
    echo "setup-e2e: chromium is missing and cannot be installed here (needs root and apt-get)" >&2
    exit 1
  fi
fi

if [ -f "$dest/.stamp" ] && [ "$(cat "$dest/.stamp")" = "$stamp" ] \
  && [ -f "$dest/node_modules/cesium/Build/Cesium/Cesium.js" ] \
  && [ -d "$dest/node_modules/gltf-validator" ]; then
  echo "setup-e2e: up to date in $dest ($stamp)"
  exit 0
fi

if ! command -v npm >/dev/null 2>&1; then
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
    apt-get update -q && DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends nodejs npm
  else
    echo "setup-e2e: node/npm missing and cannot be installed here" >&2
    exit 1
  fi
fi

mkdir -p "$dest"
cat > "$dest/package.json" <<JSON
{
  "name": "cim-twin-e2e-checks",
  "version": "1.0.0",
  "private": true,
  "description": "outside checks for cim-twin exports: CesiumJS and the Khronos glTF validator",
  "dependencies": {
    "cesium": "$CESIUM_VERSION",
    "gltf-validator": "$VALIDATOR_VERSION"
  }
}
JSON
echo "setup-e2e: npm install $stamp into $dest"
(cd "$dest" && npm install --no-audit --no-fund --silent --omit=dev)
echo "$stamp" > "$dest/.stamp"
echo "setup-e2e: installed in $dest"
