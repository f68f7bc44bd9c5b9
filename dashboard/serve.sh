#!/usr/bin/env bash
# Serves the dashboard locally at http://127.0.0.1:8080/ (PORT=... to change): builds the web
# package of broker-rules-wasm first when host-wasm/pkg/web is missing (needs the tools of
# `bash scripts/bootstrap.sh wasm node`), then runs the static server dashboard/serve.mjs.
set -euo pipefail
cd "$(dirname "$0")/.."
if [ ! -f host-wasm/pkg/web/index.js ]; then
  echo "[dashboard] building host-wasm/pkg (bash host-wasm/js/build.sh)" >&2
  bash host-wasm/js/build.sh
fi
exec node dashboard/serve.mjs --port "${PORT:-8080}" "$@"
