#!/usr/bin/env bash
# The one test command (README: "Run every test"). Installs what it needs, idempotently, then
# runs every suite: Rust checks and tests, conformance (native + wasmtime), JS hosts and the
# browser, the Python host. Each suite lives in scripts/test-<suite>.sh; pass suite names to
# run only those (e.g. `scripts/test.sh rust`).
set -euo pipefail
cd "$(dirname "$0")/.."
export CARGO_TERM_COLOR=${CARGO_TERM_COLOR:-never}
export BROKER_RULES_CACHE=${BROKER_RULES_CACHE:-$HOME/.cache/broker-rules}
export PATH="$BROKER_RULES_CACHE/tools/bin:$HOME/.cargo/bin:$PATH"
SUITES=("$@")
[ ${#SUITES[@]} -eq 0 ] && SUITES=(rust conformance oracle js python)
start=$(date +%s)
for s in "${SUITES[@]}"; do
  f="scripts/test-$s.sh"
  if [ ! -f "$f" ]; then
    if [ $# -gt 0 ]; then echo "no such suite: $s" >&2; exit 2; fi
    continue
  fi
  echo "=== suite $s ($(( $(date +%s) - start ))s) ==="
  bash "$f"
done
echo "=== all suites passed in $(( $(date +%s) - start ))s ==="
