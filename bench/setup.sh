#!/usr/bin/env bash
# Idempotently prepares the benchmark environment:
#   - a venv at ${BROKER_RULES_CACHE:-$HOME/.cache/broker-rules}/bench-venv with
#     numpy, pyarrow, duckdb, polars, psutil and maturin;
#   - the broker_rules Python wheel built from this checkout
#     (maturin build --release -m host-python/Cargo.toml), installed into that venv when it
#     changed;
#   - /usr/bin/time (Debian package `time`) for peak-RSS measurements.
# usage: bash bench/setup.sh [--no-wheel]
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
CACHE=${BROKER_RULES_CACHE:-$HOME/.cache/broker-rules}
VENV=$CACHE/bench-venv
export PATH="$HOME/.cargo/bin:$PATH"
export CARGO_TARGET_DIR=${CARGO_TARGET_DIR:-$ROOT/target}
log() { echo "[bench/setup] $*" >&2; }

WHEEL=1
for a in "$@"; do
  case $a in
    --no-wheel) WHEEL=0 ;;
    *) echo "usage: bash bench/setup.sh [--no-wheel]" >&2; exit 2 ;;
  esac
done

if [ ! -x /usr/bin/time ]; then
  log "apt-get install time"
  timeout 600 apt-get update -qq
  DEBIAN_FRONTEND=noninteractive timeout 600 apt-get install -y -qq --no-install-recommends time >/dev/null
fi

if [ ! -x "$VENV/bin/python" ]; then
  log "python3 -m venv $VENV"
  mkdir -p "$CACHE"
  python3 -m venv "$VENV"
fi
if ! "$VENV/bin/python" -c 'import numpy, pyarrow, duckdb, polars, psutil, maturin' 2>/dev/null; then
  log "pip install numpy pyarrow duckdb polars psutil maturin"
  timeout 1200 "$VENV/bin/pip" install -q --disable-pip-version-check \
    numpy pyarrow duckdb polars psutil 'maturin>=1.8,<2'
fi

if [ $WHEEL = 1 ]; then
  WHEELS=$CARGO_TARGET_DIR/wheels/bench
  mkdir -p "$WHEELS"
  log "maturin build --release -m host-python/Cargo.toml"
  rm -f "$WHEELS"/broker_rules-*.whl
  nice -n 10 "$VENV/bin/maturin" build --release --quiet -m host-python/Cargo.toml \
    -i "$VENV/bin/python" -o "$WHEELS" >&2
  wheel=$(ls "$WHEELS"/broker_rules-*.whl | head -n1)
  sum=$(sha256sum "$wheel" | cut -c1-64)
  stamp=$VENV/.broker_rules_wheel.sha256
  if [ "$(cat "$stamp" 2>/dev/null)" != "$sum" ] || ! "$VENV/bin/python" -c 'import broker_rules' 2>/dev/null; then
    log "pip install $(basename "$wheel")"
    "$VENV/bin/pip" install -q --disable-pip-version-check --force-reinstall --no-deps "$wheel"
    echo "$sum" > "$stamp"
  fi
fi
log "ready: $VENV"
