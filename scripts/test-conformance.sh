#!/usr/bin/env bash
# Conformance: the vectors in tests/vectors/ replayed on the native core and on the plain-ABI
# .wasm under wasmtime (byte for byte), the seeded native-vs-wasm differential run, the
# schema checks (committed schemas/ current; built-in programs, vector inputs and outputs
# valid). Regenerates nothing: to bless, see tests/README.md.
#
# env: CONFORMANCE_SEED (default 20260610), CONFORMANCE_CASES (default 200),
#      CONFORMANCE_WASM_OPT=1 to also report the size after wasm-opt -Oz (about a minute).
set -euo pipefail
cd "$(dirname "$0")/.."
export BROKER_RULES_CACHE=${BROKER_RULES_CACHE:-$HOME/.cache/broker-rules}
export PATH="$BROKER_RULES_CACHE/tools/bin:$HOME/.cargo/bin:$PATH"

bash scripts/bootstrap.sh wasm

echo "[conformance] building the plain-ABI .wasm"
bash scripts/wasm-cargo.sh build -p broker-rules-wasm-plain --profile wasm-release
WASM="$(bash scripts/wasm-cargo.sh out-dir --profile wasm-release)/broker_rules_wasm_plain.wasm"
[ -f "$WASM" ] || { echo "missing $WASM" >&2; exit 1; }
BROKER_RULES_PLAIN_WASM=$(realpath "$WASM")
export BROKER_RULES_PLAIN_WASM
export BROKER_RULES_REQUIRE_WASM=1
unset BLESS

echo "[conformance] clippy"
cargo clippy -p broker-rules-conformance --all-targets -- -D warnings

echo "[conformance] vectors (native + wasmtime), differential run, schemas"
cargo test -p broker-rules-conformance

echo "[conformance] schemas current: $(ls schemas/*.schema.json | wc -l) files checked by schemas_are_current"

raw=$(wc -c < "$WASM")
gz=$(gzip -9 -c "$WASM" | wc -c)
echo "[conformance] plain-ABI wasm: $WASM: $raw bytes raw, $gz bytes gzip -9"
if [ "${CONFORMANCE_WASM_OPT:-0}" = 1 ] && command -v wasm-opt >/dev/null 2>&1; then
  opt=$(mktemp --suffix .wasm)
  wasm-opt -Oz --strip-debug --enable-bulk-memory --enable-nontrapping-float-to-int --enable-sign-ext \
    --enable-mutable-globals --enable-multivalue --enable-reference-types "$WASM" -o "$opt"
  echo "[conformance] after wasm-opt -Oz: $(wc -c < "$opt") bytes raw, $(gzip -9 -c "$opt" | wc -c) bytes gzip -9"
  rm -f "$opt"
fi
echo "[conformance] passed"
