#!/usr/bin/env bash
# Fuzz suite (opt-in: `scripts/test.sh fuzz`): a short coverage-guided run of every target,
# FUZZ_SECONDS each (default 30; about 8 minutes with the build). `cargo test` already
# replays the committed corpus through the same harness (rules/tests/fuzz_corpus.rs).
set -euo pipefail
cd "$(dirname "$0")/.."
FUZZ_SECONDS=${FUZZ_SECONDS:-30} bash scripts/fuzz.sh "$@"
