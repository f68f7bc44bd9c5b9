#!/usr/bin/env bash
# The Python host's suite: builds the wheel with maturin, installs it into the venv of
# scripts/bootstrap.sh, then runs mypy --strict (package + stubs + a typed usage file), pytest
# (conformance vectors, DataFrame parity, README blocks, the example notebook, partial states
# and broker_rules.spark / broker_rules.dask on pyspark local[2] and Dask: Java 17 needed).
# Idempotent; exits non-zero on any failure.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
CACHE=${BROKER_RULES_CACHE:-$HOME/.cache/broker-rules}
VENV=$CACHE/venv
export PATH="$VENV/bin:$HOME/.cargo/bin:$PATH"
export CARGO_TARGET_DIR=${CARGO_TARGET_DIR:-$ROOT/target}
export MPLBACKEND=Agg
export PYTHONDONTWRITEBYTECODE=1

bash scripts/bootstrap.sh python

WHEELS=$CARGO_TARGET_DIR/wheels/python
rm -rf "$WHEELS"
echo "[python] maturin build --release"
( cd host-python && maturin build --release --quiet -i "$VENV/bin/python" -o "$WHEELS" )
wheel=$(ls "$WHEELS"/broker_rules-*.whl | head -n1)
echo "[python] installing $(basename "$wheel")"
"$VENV/bin/pip" install --quiet --disable-pip-version-check --force-reinstall --no-deps "$wheel"

# The stubs and py.typed must be in the wheel.
"$VENV/bin/python" - "$wheel" <<'PY'
import sys, zipfile
names = set(zipfile.ZipFile(sys.argv[1]).namelist())
need = {"broker_rules/__init__.py", "broker_rules/py.typed", "broker_rules/_native.pyi",
        "broker_rules/spark.py", "broker_rules/dask.py"}
missing = need - names
if missing:
    sys.exit(f"wheel lacks {sorted(missing)}")
print("[python] wheel ships", ", ".join(sorted(need)))
PY

# Run from outside the source tree so the installed wheel (not host-python/python) is tested.
cd host-python/tests
echo "[python] mypy --strict (installed package, stubs, typed usage)"
# typed_usage.py imports broker_rules, so the installed package and its stubs are checked too.
"$VENV/bin/mypy" --strict --no-incremental --cache-dir=/dev/null typed_usage.py
"$VENV/bin/mypy" --strict --no-incremental --cache-dir=/dev/null -p broker_rules

echo "[python] pytest"
set +e
"$VENV/bin/python" -m pytest -q -p no:cacheprovider -o addopts= "$@" .
rc=$?
set -e
case $rc in
  0) echo "[python] all green" ;;
  5) echo "[python] pytest collected no tests" >&2; exit 1 ;;
  *) echo "[python] pytest failed (exit $rc)" >&2; exit "$rc" ;;
esac
