#!/usr/bin/env bash
# Builds the npm package broker-rules (the napi-rs addon) in place: cargo's release build,
# copied to host-node/broker-rules.node, and the JS entry points + index.d.ts regenerated from
# host-wasm/js/shared/ (the source both packages share). Incremental through cargo.
set -euo pipefail
cd "$(dirname "$0")/.."
export PATH="$HOME/.cargo/bin:$PATH"
cargo build -q --release -p broker-rules-node
src=target/release/libbroker_rules_node.so
[ -f "$src" ] || src=target/release/libbroker_rules_node.dylib
if ! cmp -s "$src" host-node/broker-rules.node; then
  cp "$src" host-node/broker-rules.node.tmp && mv host-node/broker-rules.node.tmp host-node/broker-rules.node
fi
node host-wasm/js/gen.mjs node
