#!/usr/bin/env bash
# Coverage-guided fuzzing of the core with cargo-fuzz (libFuzzer): every target in fuzz/
# for FUZZ_SECONDS each (default 30), one after the other, at low priority. Installs
# cargo-fuzz (idempotently, into the tools cache) and runs on the stable toolchain with
# RUSTC_BOOTSTRAP=1 (cargo-fuzz passes nightly-only -Z flags). See docs/fuzzing.md.
#
# usage: scripts/fuzz.sh [target...]          short run: 30 s per target
#        FUZZ_SECONDS=420 scripts/fuzz.sh      the long run recorded in docs/fuzzing.md
# New inputs that add coverage go to fuzz/corpus/<target>/; a crash, panic, timeout or
# broken invariant is saved under fuzz/artifacts/<target>/ and the script exits non-zero.
# Minimize the corpus before committing it: scripts/fuzz.sh --cmin
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
CACHE=${BROKER_RULES_CACHE:-$HOME/.cache/broker-rules}
TOOLS=$CACHE/tools
export PATH="$TOOLS/bin:$HOME/.cargo/bin:$PATH"
SECONDS_EACH=${FUZZ_SECONDS:-30}
NICE=${FUZZ_NICE:-19}
log() { echo "[fuzz] $*" >&2; }

if ! command -v cargo-fuzz >/dev/null 2>&1; then
  log "installing cargo-fuzz into $TOOLS"
  cargo install --locked --root "$TOOLS" cargo-fuzz
fi
export RUSTC_BOOTSTRAP=1

cd "$ROOT/fuzz"
CMIN=0
if [ "${1:-}" = "--cmin" ]; then CMIN=1; shift; fi
targets=("$@")
if [ ${#targets[@]} -eq 0 ]; then mapfile -t targets < <(cargo fuzz list); fi

# -a: debug assertions on, so an integer overflow in the core is a finding, not a wrap.
# -s none: no AddressSanitizer (the core forbids unsafe code; ASan would cost 3x the runs).
if [ ${#targets[@]} -eq 1 ]; then
  nice -n "$NICE" cargo fuzz build -a -s none "${targets[0]}"
else
  nice -n "$NICE" cargo fuzz build -a -s none
fi

mkdir -p logs
failed=()
for t in "${targets[@]}"; do
  mkdir -p "corpus/$t" "artifacts/$t"
  if [ $CMIN -eq 1 ]; then
    log "cmin $t ($(ls "corpus/$t" | wc -l) files)"
    nice -n "$NICE" cargo fuzz cmin -a -s none "$t" "corpus/$t" -- -rss_limit_mb=2048 -timeout=10 \
      >"logs/$t.cmin.log" 2>&1 || { failed+=("$t"); log "cmin $t failed: fuzz/logs/$t.cmin.log"; }
    log "cmin $t: $(ls "corpus/$t" | wc -l) files"
    continue
  fi
  log "$t: ${SECONDS_EACH}s"
  started=$(date +%s)
  if nice -n "$NICE" cargo fuzz run -a -s none "$t" "corpus/$t" -- \
      -max_total_time="$SECONDS_EACH" -len_control=0 -timeout=10 -rss_limit_mb=2048 -print_final_stats=1 \
      >"logs/$t.log" 2>&1; then
    execs=$(awk '/stat::number_of_executed_units/{print $2}' "logs/$t.log")
    cov=$(grep -o 'cov: [0-9]*' "logs/$t.log" | tail -1)
    log "$t: ok, $execs runs in $(( $(date +%s) - started ))s, $cov, corpus $(ls "corpus/$t" | wc -l) files"
  else
    failed+=("$t")
    log "$t: FAILED after $(( $(date +%s) - started ))s (fuzz/logs/$t.log; input under fuzz/artifacts/$t/)"
    grep -m3 -E "panicked|ERROR|SUMMARY" "logs/$t.log" >&2 || true
  fi
done
if [ ${#failed[@]} -ne 0 ]; then
  log "failed: ${failed[*]}"
  exit 1
fi
