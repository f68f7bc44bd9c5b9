#!/usr/bin/env bash
# Rust: formatting, lints, the workspace tests, the no_std build and the doc examples.
set -euo pipefail
cd "$(dirname "$0")/.."
cargo fmt --all -- --check
cargo clippy --workspace --all-targets -- -D warnings
cargo build -p broker-rules --no-default-features
cargo test -p broker-rules --features arrow
cargo test -p broker-rules-cli
