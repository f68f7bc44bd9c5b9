#!/usr/bin/env bash
# Independent references: DuckDB SQL and Polars, written from the program files (bench/),
# settle a seeded 20,000-trade log of 200 brokers over two months with exact decimals; every
# broker's every period (commission, tier, exact sum) must equal the broker-rules CLI's
# statement, for backpack, xt and okx, from CSV and from Parquet. Installs its venv
# idempotently (bench/setup.sh --no-wheel).
set -euo pipefail
cd "$(dirname "$0")/.."
export BROKER_RULES_CACHE=${BROKER_RULES_CACHE:-$HOME/.cache/broker-rules}
bash bench/run.sh --count 20000 --check-only
