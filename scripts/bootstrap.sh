#!/usr/bin/env bash
# Installs, idempotently, every tool the test suites need on a fresh machine.
# Caches live outside the clone (BROKER_RULES_CACHE, default ~/.cache/broker-rules) so a
# second run, or CI on the same machine, skips what is already there.
#
# usage: scripts/bootstrap.sh [wasm] [node] [browser] [python]   (no argument: all)
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
CACHE=${BROKER_RULES_CACHE:-$HOME/.cache/broker-rules}
TOOLS=$CACHE/tools
mkdir -p "$TOOLS/bin"
export PATH="$TOOLS/bin:$HOME/.cargo/bin:$PATH"

want() { [ $# -eq 0 ] && return 0; local w; for w in "${WANT[@]}"; do [ "$w" = "$1" ] && return 0; done; return 1; }
WANT=("$@")
[ ${#WANT[@]} -eq 0 ] && WANT=(wasm node browser python)
log() { echo "[bootstrap] $*" >&2; }

apt_updated=0
apt_install() {
  local missing=()
  for p in "$@"; do dpkg -s "$p" >/dev/null 2>&1 || missing+=("$p"); done
  [ ${#missing[@]} -eq 0 ] && return 0
  if [ $apt_updated -eq 0 ]; then
    timeout 600 apt-get update -qq
    apt_updated=1
  fi
  log "apt-get install ${missing[*]}"
  DEBIAN_FRONTEND=noninteractive timeout 1200 apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
}

# wasm-bindgen-cli must match the wasm-bindgen crate in Cargo.lock exactly.
wasm_bindgen_version() {
  awk '/^name = "wasm-bindgen"$/{getline; gsub(/version = |"/,""); print; exit}' "$ROOT/Cargo.lock" 2>/dev/null || true
}

if want wasm; then
  # rustup's wasm32 target (preferred: clean wasm builds are ~4x faster); else Debian's
  # rustc-web with std built from source (shared/toolchain.md), used by scripts/wasm-cargo.sh.
  if [ "${BROKER_RULES_WASM_FALLBACK:-0}" != 1 ] && ! rustup target list --installed 2>/dev/null | grep -qx wasm32-unknown-unknown; then
    log "rustup target add wasm32-unknown-unknown"
    for attempt in 1 2 3; do
      timeout 180 rustup target add wasm32-unknown-unknown && break
      log "rustup target add failed (attempt $attempt)"
    done
  fi
  if [ "${BROKER_RULES_WASM_FALLBACK:-0}" = 1 ] || ! rustup target list --installed 2>/dev/null | grep -qx wasm32-unknown-unknown; then
    log "no rustup wasm32 target: installing the rustc-web fallback"
    apt_install rustc-web cargo-web rust-web-src lld-22
  fi
  v=$(wasm_bindgen_version)
  v=${v:-0.2.130}
  if [ "$("$TOOLS/bin/wasm-bindgen" --version 2>/dev/null | awk '{print $2}')" != "$v" ]; then
    log "cargo install wasm-bindgen-cli $v (a few minutes)"
    # no --locked: its lockfile pins a crate version the registry here does not serve
    cargo install -q wasm-bindgen-cli --version "=$v" --root "$TOOLS" --force
  fi
fi

if want node || want browser; then
  command -v node >/dev/null || apt_install nodejs npm
  # apache-arrow: the JS tests write Arrow IPC files with it (host-wasm/js/test/bytes.test.mjs);
  # ws: the dashboard test's local WebSocket server (dashboard/test/dashboard.test.mjs)
  if [ ! -x "$TOOLS/node_modules/.bin/wasm-opt" ] || [ ! -d "$TOOLS/node_modules/typescript" ] || [ ! -d "$TOOLS/node_modules/playwright-core" ] || [ ! -d "$TOOLS/node_modules/apache-arrow" ] || [ ! -d "$TOOLS/node_modules/ws" ]; then
    log "npm install binaryen typescript playwright-core @types/node apache-arrow ws into $TOOLS"
    ( cd "$TOOLS" && [ -f package.json ] || echo '{"name":"broker-rules-tools","private":true}' > "$TOOLS/package.json"
      cd "$TOOLS" && timeout 900 npm install --no-audit --no-fund --silent \
        binaryen@^132 typescript@^5 playwright-core@^1 @types/node@^20 apache-arrow@^21 ws@^8 )
  fi
  ln -sf "$TOOLS/node_modules/.bin/wasm-opt" "$TOOLS/bin/wasm-opt"
  ln -sf "$TOOLS/node_modules/.bin/tsc" "$TOOLS/bin/tsc"
fi

if want browser; then
  [ -x /usr/bin/chromium ] || apt_install chromium
fi

if want python; then
  # pyspark (the broker_rules.spark tests) runs on a JVM: Java 17 or newer must be on the machine.
  if ! command -v java >/dev/null 2>&1; then
    log "Java 17+ is required for the Python suite's pyspark tests and is not installed: apt-get install openjdk-17-jre-headless"
    exit 1
  fi
  java_major=$(java -version 2>&1 | awk -F'"' '/version/ {split($2, v, "."); print (v[1] == "1" ? v[2] : v[1]); exit}')
  if [ -z "$java_major" ] || [ "$java_major" -lt 17 ] 2>/dev/null; then
    log "Java 17+ is required for pyspark; \`java -version\` says: $(java -version 2>&1 | head -n1)"
    exit 1
  fi
  VENV=$CACHE/venv
  if [ ! -x "$VENV/bin/python" ]; then
    log "python3 -m venv $VENV"
    python3 -m venv "$VENV"
  fi
  if ! "$VENV/bin/python" -c 'import maturin, pytest, pandas, polars, pyarrow, mypy, nbclient, nbformat, ipykernel, matplotlib, pyspark, dask.dataframe, distributed' 2>/dev/null; then
    log "pip install python test dependencies"
    timeout 1200 "$VENV/bin/pip" install -q --disable-pip-version-check \
      'maturin>=1.8,<2' pytest pandas polars pyarrow mypy pandas-stubs nbclient nbformat ipykernel matplotlib \
      pyspark 'dask[dataframe,distributed]'
  fi
fi
log "done"
