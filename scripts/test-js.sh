#!/usr/bin/env bash
# JS hosts: builds the npm packages broker-rules-wasm (host-wasm/pkg) and broker-rules
# (host-node), type-checks a usage file per package, replays every conformance vector
# through both (node --test), in headless Chromium, and runs the README examples; trade logs
# as bytes and partial states (bytes.test.mjs) are checked against the CLI on the same files;
# the dashboard (dashboard/test/dashboard.test.mjs) runs in headless Chromium against the CLI.
# Idempotent; builds are incremental (cargo, and wasm-bindgen only when the .wasm changed).
set -euo pipefail
cd "$(dirname "$0")/.."
export BROKER_RULES_CACHE=${BROKER_RULES_CACHE:-$HOME/.cache/broker-rules}
export PATH="$BROKER_RULES_CACHE/tools/bin:$HOME/.cargo/bin:$PATH"
export CARGO_TERM_COLOR=${CARGO_TERM_COLOR:-never}
log() { echo "[test-js] $*" >&2; }

bash scripts/bootstrap.sh wasm node browser

if rustup target list --installed 2>/dev/null | grep -qx wasm32-unknown-unknown; then
  log "clippy (the bindgen crate, for wasm32)"
  cargo clippy -q -p broker-rules-wasm --features bindgen --target wasm32-unknown-unknown -- -D warnings
fi

log "build broker-rules-wasm (host-wasm/pkg)"
bash host-wasm/js/build.sh
log "build broker-rules (host-node)"
bash host-node/build.sh
log "build the broker-rules CLI (bytes.test.mjs compares with it)"
cargo build -q --release -p broker-rules-cli

log "tsc --noEmit (one usage file per package)"
tsc -p host-wasm/js/test/types/tsconfig.wasm.json
tsc -p host-wasm/js/test/types/tsconfig.node.json

log "node --test (vectors through both packages, API, trade-log bytes, README examples, headless Chromium, the dashboard)"
node --test --test-reporter=spec --test-reporter-destination=stdout \
  host-wasm/js/test/vectors.test.mjs host-wasm/js/test/api.test.mjs \
  host-wasm/js/test/bytes.test.mjs host-wasm/js/test/inputs.test.mjs host-wasm/js/test/readme.test.mjs host-wasm/js/test/exports.test.mjs \
  host-wasm/js/test/browser.test.mjs dashboard/test/dashboard.test.mjs \
  > target/test-js.out 2>&1 && rc=0 || rc=$?
# the runner's failures and closing summary (the full report is in target/test-js.out)
grep -E '^(✖|# browser|# dashboard)|^\s+✖' target/test-js.out | head -80 || true
sed -n '/^ℹ tests /,$p' target/test-js.out
# The web .wasm's size budget. Issue 14 aims at 150 KB gzip (153,600 bytes); that target is
# NOT met (see bench/RESULTS.md, "The web .wasm"), so the budget asserted here is the size
# actually reached, as a no-regression ceiling: a change that grows the download past it fails
# the suite. Lower it when the size goes down; never raise it to make a change pass. (Set at
# 345,000 on 1855a50; 360,000 when exact de-duplication, okx-v5 and the Parquet report path
# merged, measured 359,484: those features are in every package. 367,000 when estimate from
# actuals (issue 12, rules/src/whatif.rs and the bytes path) merged: 359,390 before, 366,897
# after, measured on the same toolchain; its BTreeMaps were replaced by a merge join to get
# there from 373,828. 371,500 when reconcile was split into separately read sides, got the
# Parquet-report entry point (reconcileReportBytes) and the batch engine's per-key sums (those
# behind the core's `keyed` feature, which the web build leaves off: 378,208 with them),
# measured 370,924 on 25d3f05 with both merged. 373,500 when an NDJSON line in error was read
# again through serde_json's stream reader, so NDJSON and JSON-array trade logs name one
# column for one mistake (issue 11), and de-duplication content took the order and instrument
# ids: measured 373,207 on 0ffdb0c. 375,600 when trades gained their own `msa` flag (okx-v5's
# MSA exclusion: every reader, de-duplication content) and estimate from actuals reported the
# withheld amount and the clients' kickback on both sides (issue 12): measured 375,502 on
# dd4665c, +2,295. Lowered to 373,400 when the estimate's JSON was written directly instead of
# through serde (-1,891) and reconcile's per-key work merged: measured 373,366 on the merge.
# 374,100 when the estimate's decimals became inline text and its names borrowed (issue 14
# item 2: a compiled estimate in wasm 27.8 -> 16.8-18.3 us, under its 20 us target; the code
# section got 771 bytes smaller, but three instantiations of the standard sort, which compress
# well, gave way to straight-line code in `estimate` that does not: 375,288 with `wasm-opt
# -Oz`) and the web flavours moved to `wasm-opt -Os`, which gzips this code 1.2 KB smaller:
# measured 374,049, +683 over 373,366, recorded in bench/RESULTS.md. A raise made on purpose
# for a speed target; a feature or a refactor still has to fit.)
WASM_GZIP_TARGET=153600
WASM_GZIP_BUDGET=374100
gz=$(cat host-wasm/pkg/wasm-gzip-bytes.txt)
log "wasm size: $gz bytes gzip (web/broker_rules_wasm_bg.wasm); budget $WASM_GZIP_BUDGET (no regression), target $WASM_GZIP_TARGET (unmet)"
if [ "$gz" -gt "$WASM_GZIP_BUDGET" ]; then
  log "FAIL: the web .wasm is $gz bytes gzip, over its budget of $WASM_GZIP_BUDGET"
  rc=1
fi
exit $rc
