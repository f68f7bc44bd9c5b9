#!/usr/bin/env bash
# Writes the dashboard as plain static files into DIR (default target/dashboard): the page,
# its modules, the bundled sample, and the web build of broker-rules-wasm under DIR/pkg/.
# Any static host serves DIR as it is (the .wasm as application/wasm); nothing runs on a server.
# usage: bash dashboard/build.sh [DIR]
set -euo pipefail
cd "$(dirname "$0")/.."
OUT=${1:-target/dashboard}
[ -f host-wasm/pkg/web/index.js ] || bash host-wasm/js/build.sh
rm -rf "$OUT" && mkdir -p "$OUT/pkg"
cp dashboard/*.html dashboard/*.css dashboard/*.js "$OUT/"  # includes sw.js (offline cache)
cp -r dashboard/sample "$OUT/"
cp host-wasm/pkg/web/* "$OUT/pkg/"
echo "[dashboard] static site in $OUT ($(du -sh "$OUT" | cut -f1)); serve it with any static server" >&2
