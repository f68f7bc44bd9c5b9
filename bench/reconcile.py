"""Reconciliation benchmark (issue 13's target): reconcile a month of fills against its
per-order report and compare with settling the same fills, side by side in one run.

    bash bench/setup.sh --no-wheel
    ~/.cache/broker-rules/bench-venv/bin/python bench/reconcile.py --count 3000000
    # two builds side by side: --skip-build --cli /tmp/old/broker-rules --cli target/release/broker-rules

Data: `gen.py`'s trade log (cached like run.py's), with order ids added: each account's
fills in time order are grouped three at a time into one order (so ~count/3 orders). The
report is the "exchange's" per-order rebate file in a generic CSV (`ordId,brokerRebate`):
our own per-order figures (`reconcile --all` against an empty report: every order we pay)
with planted differences: 1% of rows paid 0.05 more (past the default tolerance of one cent), 0.5% of our orders missing, 0.5% rows
for orders we never saw. The timing compares the release CLI's `settle` (JSON to
/dev/null) and `reconcile --by order` (JSON to /dev/null) on the same fills, medians of
`--repeat` runs, with peak RSS from /usr/bin/time. The reconcile run must find exactly the
planted differences (checked), so a fast wrong answer cannot pass.
"""

import argparse
import csv
import json
import os
import statistics
import subprocess
import sys
import time

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
CACHE = os.environ.get("BROKER_RULES_CACHE", os.path.expanduser("~/.cache/broker-rules"))
CLI = os.path.join(ROOT, "target", "release", "broker-rules")


def data_dir(count: int, seed: int) -> str:
    d = os.path.join(CACHE, "bench-data", f"n{count}-s{seed}")
    if not os.path.exists(os.path.join(d, "trades.parquet")):
        os.makedirs(d, exist_ok=True)
        subprocess.run([sys.executable, os.path.join(HERE, "gen.py"), "--count", str(count),
                        "--out", d, "--seed", str(seed)], check=True)
    return d


def fills_with_orders(d: str) -> str:
    """trades.parquet + an `order` column, as CSV: each account's fills grouped by three."""
    out = os.path.join(d, "fills-orders.csv")
    if os.path.exists(out):
        return out
    t = pq.read_table(os.path.join(d, "trades.parquet"))
    n = t.num_rows
    idx = pa.array(range(n), type=pa.int64())
    account = pc.cast(t["account"], pa.string())
    by = pa.table({"account": account, "time": t["time"], "i": idx}).sort_by(
        [("account", "ascending"), ("time", "ascending"), ("i", "ascending")])
    accounts = by["account"].to_pylist()
    rows = by["i"].to_pylist()
    order = [None] * n
    prev, k, o = None, 0, 0
    for a, i in zip(accounts, rows):
        if a != prev:
            prev, k = a, 0
        if k % 3 == 0:
            o += 1
        order[i] = f"ord-{o}"
        k += 1
    # The generator's own CSV text (pyarrow would write a decimal zero as "0E-8"), one
    # column longer; its rows are the Parquet file's, in the same order.
    with open(os.path.join(d, "trades.csv")) as src, open(out + ".tmp", "w") as dst:
        dst.write(src.readline().rstrip("\n") + ",order\n")
        for line, o in zip(src, order):
            dst.write(line.rstrip("\n") + "," + o + "\n")
    os.replace(out + ".tmp", out)
    return out


def our_orders(fills: str, program: str) -> list:
    """Every order we pay: `reconcile --all` against a report with no rows."""
    empty = fills + ".empty-report.csv"
    with open(empty, "w") as f:
        f.write("ordId,brokerRebate\n")
    p = subprocess.run([CLI, "reconcile", "--program", program, "--trades", fills, "--report", empty,
                        "--report-format", "generic", "--map", "ordId=order", "--map",
                        "brokerRebate=commission", "--by", "order", "--all", "--format", "csv"],
                       capture_output=True, text=True)
    if p.returncode not in (0, 3):
        sys.exit(f"reconcile for the report failed: {p.stderr}")
    r = csv.DictReader(p.stdout.splitlines())
    return [(row["order"] or row["id"], row["our_commission"]) for row in r]


def write_report(fills: str, program: str) -> tuple:
    out = fills.replace(".csv", f".{program}-report.csv")
    planted = out + ".planted.json"
    if os.path.exists(out) and os.path.exists(planted):
        return out, json.load(open(planted))
    ours = our_orders(fills, program)
    plan = {"differs": 0, "only_ours": 0, "only_theirs": 0}
    from decimal import Decimal
    with open(out, "w") as f:
        f.write("ordId,brokerRebate\n")
        for n, (order, commission) in enumerate(ours):
            if n % 200 == 7:
                plan["only_ours"] += 1
                continue
            c = Decimal(commission)
            if n % 100 == 3:
                c += Decimal("0.05")
                plan["differs"] += 1
            f.write(f"{order},{c}\n")
        for n in range(len(ours) // 200):
            f.write(f"never-{n},0.5\n")
            plan["only_theirs"] += 1
    plan["report_rows"] = len(ours) - plan["only_ours"] + plan["only_theirs"]
    json.dump(plan, open(planted, "w"))
    return out, plan


def timed(cmd: list) -> tuple:
    t0 = time.perf_counter()
    p = subprocess.run(["/usr/bin/time", "-f", "%M"] + cmd, stdout=subprocess.DEVNULL,
                       stderr=subprocess.PIPE, text=True)
    wall = time.perf_counter() - t0
    rss_kb = int(p.stderr.strip().splitlines()[-1])
    return wall, rss_kb / 1024, p.returncode


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--count", type=int, default=3_000_000)
    ap.add_argument("--seed", type=int, default=20260601)
    ap.add_argument("--program", default="backpack")
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--skip-build", action="store_true")
    ap.add_argument("--cli", action="append",
                    help="a broker-rules binary to time (repeat to compare builds side by side; "
                         "default target/release/broker-rules)")
    a = ap.parse_args()
    if not a.skip_build:
        subprocess.run(["cargo", "build", "--release", "-q", "-p", "broker-rules-cli"], cwd=ROOT, check=True)
    d = data_dir(a.count, a.seed)
    fills = fills_with_orders(d)
    report, plan = write_report(fills, a.program)
    clis = a.cli or [CLI]

    def commands(cli: str) -> tuple:
        settle = [cli, "settle", "--program", a.program, "--trades", fills, "--format", "json"]
        rec = [cli, "reconcile", "--program", a.program, "--trades", fills, "--report", report,
               "--report-format", "generic", "--map", "ordId=order", "--map",
               "brokerRebate=commission", "--by", "order", "--format", "json"]
        return settle, rec

    want = {k: plan[k] for k in ("differs", "only_ours", "only_theirs")}
    for cli in clis:
        # Correctness first: exactly the planted differences.
        p = subprocess.run(commands(cli)[1], capture_output=True, text=True)
        got = json.loads(p.stdout)["summary"]["counts"]
        if {k: got[k] for k in want} != want or p.returncode != 3:
            sys.exit(f"{cli}: reconcile found {got} (exit {p.returncode}), planted {want}")
    runs = {cli: {"settle": [], "reconcile": []} for cli in clis}
    # Binaries alternate within each round, so a noisy minute hits them alike.
    for _ in range(a.repeat):
        for cli in clis:
            settle, rec = commands(cli)
            for name, cmd in (("settle", settle), ("reconcile", rec)):
                runs[cli][name].append(timed(cmd))
    print(f"{a.count:,} fills ({a.program}), report {plan['report_rows']:,} rows; planted and found: {want}")
    for cli in clis:
        if len(clis) > 1:
            print(f" {cli}:")
        s = statistics.median(w for w, _, _ in runs[cli]["settle"])
        r = statistics.median(w for w, _, _ in runs[cli]["reconcile"])
        for name in ("settle", "reconcile"):
            walls = " / ".join(f"{w:.2f}" for w, _, _ in runs[cli][name])
            med = statistics.median(w for w, _, _ in runs[cli][name])
            rss = max(m for _, m, _ in runs[cli][name])
            print(f"  {name:9} {walls} s (median {med:.2f} s), peak RSS {rss:.0f} MB, "
                  f"{a.count / med / 1e6:.2f}M fills/s")
        print(f"  reconcile / settle: {r / s:.2f}x (target <= 1.5x)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
