#!/usr/bin/env bash
# The benchmark in one command: prepares the venv (bench/setup.sh), then bench/run.py
# generates the data (cached by count and seed), builds the release CLI and runs
# broker-rules, DuckDB and Polars side by side, checking every result against the CLI.
#
#   bash bench/run.sh                              # 10M trades, writes bench/RESULTS.md
#   bash bench/run.sh --count 2000000              # smaller
#   bash bench/run.sh --count 20000 --check-only   # correctness only (CI), exit 0/1
#   bash bench/run.sh --help                       # every option
set -euo pipefail
cd "$(dirname "$0")/.."
CACHE=${BROKER_RULES_CACHE:-$HOME/.cache/broker-rules}
VENV=$CACHE/bench-venv
export PATH="$HOME/.cargo/bin:$PATH"

check_only=0
for a in "$@"; do
  case $a in --check-only) check_only=1 ;; -h|--help) check_only=1 ;; esac
done
if [ $check_only = 1 ]; then
  bash bench/setup.sh --no-wheel   # the check does not use the Python host
else
  bash bench/setup.sh
fi
exec "$VENV/bin/python" bench/run.py "$@"
