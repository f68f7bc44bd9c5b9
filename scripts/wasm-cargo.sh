#!/usr/bin/env bash
# cargo for the wasm32-unknown-unknown target. Uses rustup's wasm32 target when it is
# installed; otherwise (scripts/bootstrap.sh could not get it) the fallback recorded in
# shared/toolchain.md: Debian's rustc-web with the standard library built from source
# (-Zbuild-std), linked by lld-22's wasm-ld, in a target dir of its own (cargo fingerprints
# RUSTC_BOOTSTRAP, so sharing the normal one would rebuild on every switch).
#
#   scripts/wasm-cargo.sh build -p CRATE --profile wasm-release [...]   # like cargo
#   scripts/wasm-cargo.sh out-dir --profile wasm-release                # where the .wasm lands
# BROKER_RULES_WASM_FALLBACK=1 forces the fallback.
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
TARGET=wasm32-unknown-unknown

fallback=${BROKER_RULES_WASM_FALLBACK:-0}
if [ "$fallback" != 1 ] && ! rustup target list --installed 2>/dev/null | grep -qx "$TARGET"; then
  fallback=1
fi
if [ "$fallback" = 1 ]; then
  target_dir=$ROOT/target/wasm-fallback
else
  target_dir=${CARGO_TARGET_DIR:-$ROOT/target}
fi

if [ "${1:-}" = out-dir ]; then
  profile=release
  [ "${2:-}" = --profile ] && profile=$3
  echo "$target_dir/$TARGET/$profile"
  exit 0
fi

if [ "$fallback" = 1 ]; then
  for tool in /usr/bin/rustc /usr/bin/cargo wasm-ld-22; do
    command -v "$tool" >/dev/null || { echo "wasm fallback: $tool missing (run scripts/bootstrap.sh wasm)" >&2; exit 1; }
  done
  export RUSTC=/usr/bin/rustc RUSTC_BOOTSTRAP=1 CARGO_TARGET_DIR=$target_dir
  export CARGO_TARGET_WASM32_UNKNOWN_UNKNOWN_LINKER=wasm-ld-22
  sub=$1
  shift
  exec /usr/bin/cargo "$sub" --target "$TARGET" -Zbuild-std=std,panic_abort "$@"
fi
sub=$1
shift
exec cargo "$sub" --target "$TARGET" "$@"
