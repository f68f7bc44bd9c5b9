#!/usr/bin/env python3
"""broker-rules benchmark: the engine against DuckDB and Polars, side by side, checked digit
for digit. Run it through `bash bench/run.sh` (which prepares the venv first).

For each built-in program (backpack, xt, okx) it measures, each in its own subprocess:
  broker-rules CLI on CSV and on Parquet (whole process), the Python host
  (`broker_rules.settle(program, pyarrow_table)`, the call only), DuckDB on Parquet and on
  CSV (read_csv + query), Polars on Parquet and on CSV (scan + query).
Every implementation's per-broker per-period commission (and tier, and exact sum) must equal
the broker-rules CLI statement on the CSV; any mismatch is printed loudly, recorded in
RESULTS.md, and makes the run exit 1.

  --check-only   only the correctness comparison (CLI vs DuckDB and Polars, both inputs), for
                 CI: `bash bench/run.sh --count 20000 --check-only`
"""
from __future__ import annotations

import argparse
import collections
import datetime as dt
import hashlib
import json
import os
import platform
import shlex
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from decimal import Decimal
from pathlib import Path

BENCH = Path(__file__).resolve().parent
ROOT = BENCH.parent
PROGRAMS = ("backpack", "xt", "okx")
CACHE = Path(os.environ.get("BROKER_RULES_CACHE", Path.home() / ".cache" / "broker-rules"))
TARGET = Path(os.environ.get("CARGO_TARGET_DIR", ROOT / "target"))
CLI = TARGET / "release" / "broker-rules"
TIME = "/usr/bin/time"
PERIOD_UNIT = {"backpack": "broker-months", "xt": "broker-days", "okx": "broker-months"}

# (key, label, input, kind)
IMPLS = [
    ("cli-csv", "broker-rules CLI", "csv", "cli"),
    ("cli-parquet", "broker-rules CLI", "parquet", "cli"),
    ("python", "broker-rules Python (Arrow table)", "parquet", "python"),
    ("duckdb-parquet", "DuckDB", "parquet", "duckdb"),
    ("duckdb-csv", "DuckDB read_csv", "csv", "duckdb"),
    ("polars-parquet", "Polars scan_parquet", "parquet", "polars"),
    ("polars-csv", "Polars scan_csv", "csv", "polars"),
]
CHECK_IMPLS = ["cli-csv", "duckdb-parquet", "duckdb-csv", "polars-parquet", "polars-csv"]


def log(msg: str) -> None:
    print(f"[bench] {msg}", file=sys.stderr, flush=True)


def loud(msg: str) -> None:
    bar = "!" * 78
    print(f"\n{bar}\n{msg}\n{bar}", file=sys.stderr, flush=True)


# ---------------------------------------------------------------------------- data, build

def ensure_data(count: int, seed: int) -> Path:
    """Generates the trade log once per (count, seed, generator source); cached."""
    gen = BENCH / "gen.py"
    stamp_text = f"{count} {seed} {hashlib.sha256(gen.read_bytes()).hexdigest()}"
    data = CACHE / "bench-data" / f"n{count}-s{seed}"
    stamp = data / "stamp"
    if stamp.exists() and stamp.read_text() == stamp_text and (data / "trades.csv").exists() \
            and (data / "trades.parquet").exists():
        log(f"data: {data} (cached)")
        return data
    data.mkdir(parents=True, exist_ok=True)
    stamp.unlink(missing_ok=True)
    log(f"generating {count:,} trades (seed {seed}) into {data}")
    subprocess.run([sys.executable, str(gen), "--count", str(count), "--seed", str(seed), "--out", str(data)],
                   check=True)
    stamp.write_text(stamp_text)
    return data


def build_cli(skip: bool, features: str | None) -> None:
    if skip and CLI.exists():
        log(f"CLI: {CLI} (not rebuilt: --skip-build)")
        return
    cmd = ["cargo", "build", "--release", "-q", "-p", "broker-rules-cli"]
    if features:
        cmd += ["--features", features]
    log(" ".join(cmd))
    try:
        subprocess.run(["nice", "-n", "10"] + cmd, cwd=ROOT, check=True)
    except subprocess.CalledProcessError as e:
        loud(f"FAILED: {' '.join(cmd)} exited {e.returncode}")
        raise SystemExit(1)


# ---------------------------------------------------------------------------- measuring

class Failed(Exception):
    pass


def timed(cmd: list[str], stdout_path: Path | None = None) -> dict:
    """Runs cmd under /usr/bin/time; returns wall (s), cpu (s), rss (MB), rc, stderr, stdout."""
    with tempfile.NamedTemporaryFile("r", suffix=".time") as tf:
        full = [TIME, "-f", "%e %U %S %M", "-o", tf.name] + cmd
        out = open(stdout_path, "wb") if stdout_path else subprocess.PIPE
        t0 = time.perf_counter()
        try:
            p = subprocess.run(full, stdout=out, stderr=subprocess.PIPE)
        finally:
            if stdout_path:
                out.close()
        wall = time.perf_counter() - t0
        fields = tf.read().split()[-4:]
    stdout = b"" if stdout_path else p.stdout
    try:
        _, user, sys_, rss = fields
        cpu, rss_mb = float(user) + float(sys_), int(rss) / 1024
    except ValueError:
        cpu, rss_mb = float("nan"), float("nan")
    return {"wall": wall, "cpu": cpu, "rss": rss_mb, "rc": p.returncode,
            "stderr": p.stderr.decode(errors="replace"), "stdout": stdout.decode(errors="replace")}


def command(impl: str, kind: str, program: str, inp: str, data: Path, out: Path) -> tuple[list[str], Path | None]:
    trades = str(data / f"trades.{inp}")
    py = sys.executable
    if kind == "cli":
        return [str(CLI), "settle", "--program", program, "--trades", trades, "--format", "json"], out
    script = {"python": "br_python.py", "duckdb": "duckdb_ref.py", "polars": "polars_ref.py"}[kind]
    cmd = [py, str(BENCH / script), "--program", program, "--trades", trades, "--out", str(out)]
    if kind != "python":
        cmd += ["--input", inp]
    return cmd, None


def measure(impl: str, kind: str, program: str, inp: str, data: Path, work: Path, repeat: int) -> dict:
    """Runs one implementation `repeat` times; keeps the first run's output for the check."""
    runs = []
    out = work / f"{impl}-{program}.{'json' if kind == 'cli' else 'parquet'}"
    for i in range(repeat):
        cmd, stdout_path = command(impl, kind, program, inp, data, out)
        if i == 0:
            log(f"{program:8} {impl:15} $ {' '.join(shlex.quote(c) for c in cmd)}")
        r = timed(cmd, stdout_path)
        if r["rc"] != 0:
            msg = (r["stderr"].strip().splitlines() or ["(no message)"])[0]
            if impl == "cli-parquet":
                log(f"{program:8} {impl:15} n/a (unsupported): {msg}")
                return {"status": "unsupported", "message": msg}
            raise Failed(f"{impl} on {program} failed (exit {r['rc']}): {r['stderr'].strip()[-2000:]}")
        if kind == "cli":
            r["seconds"] = r["wall"]  # the whole process
        else:
            info = json.loads(r["stdout"].strip().splitlines()[-1])
            r["seconds"] = info["seconds"]  # in-process: the work, not interpreter start
        runs.append(r)
    res = {
        "status": "ok", "out": out,
        "seconds": statistics.median(r["seconds"] for r in runs),
        "process": statistics.median(r["wall"] for r in runs),
        "cpu": statistics.median(r["cpu"] for r in runs),
        "rss": max(r["rss"] for r in runs),
        "runs": [round(r["seconds"], 3) for r in runs],
    }
    log(f"{program:8} {impl:15} {res['seconds']:8.2f} s  (process {res['process']:.2f} s, "
        f"cpu {res['cpu']:.2f} s, peak RSS {res['rss']:,.0f} MB)")
    return res


# ---------------------------------------------------------------------------- checking

Row = tuple  # (tier, commission Decimal, exact Decimal)


def load_statement(path: Path) -> tuple[dict, dict]:
    with open(path, "rb") as f:
        doc = json.load(f)
    rows = {(b["broker"], p["start"]): (p["tier"], Decimal(p["commission"]), Decimal(p["exact"]))
            for b in doc["brokers"] for p in b["periods"]}
    return rows, doc


def load_result(path: Path) -> dict:
    import pyarrow.parquet as pq
    rows = {}
    for r in pq.read_table(path).to_pylist():
        rows[(r["broker"], r["start"])] = (r["tier"], Decimal(str(r["commission"])), Decimal(str(r["exact"])))
    return rows


def compare(truth: dict, got: dict, limit: int = 12) -> list[str]:
    problems = []
    for key in sorted(set(truth) | set(got)):
        a, b = truth.get(key), got.get(key)
        if a is None:
            problems.append(f"{key[0]} {key[1]}: only in this implementation: tier {b[0]} commission {b[1]}")
        elif b is None:
            problems.append(f"{key[0]} {key[1]}: missing (broker-rules: tier {a[0]} commission {a[1]})")
        elif a[0] != b[0] or a[1] != b[1] or a[2] != b[2]:
            problems.append(f"{key[0]} {key[1]}: broker-rules tier {a[0]} commission {a[1]} (exact {a[2]}) "
                            f"vs tier {b[0]} commission {b[1]} (exact {b[2]})")
    return problems


def tier_spread(program: str, truth: dict) -> dict:
    """(month, tier) -> number of broker-months (backpack, okx) or broker-days (xt)."""
    cut = 10 if program == "xt" else 7
    units = {(broker, start[:cut], tier) for (broker, start), (tier, _, _) in truth.items()}
    spread: dict = collections.defaultdict(collections.Counter)
    for broker, when, tier in units:
        spread[when[:7]][tier or "(none)"] += 1
    return spread


def spread_lines(program: str, truth: dict) -> list[str]:
    lines = []
    for month, counter in sorted(tier_spread(program, truth).items()):
        parts = ", ".join(f"{t}: {n}" for t, n in sorted(counter.items()))
        lines.append(f"{program} {month} ({PERIOD_UNIT[program]}): {parts}")
    return lines


# ---------------------------------------------------------------------------- report

def machine_facts() -> dict:
    cpu = "unknown"
    try:
        for line in open("/proc/cpuinfo"):
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    mem = ""
    try:
        for line in open("/proc/meminfo"):
            if line.startswith("MemTotal"):
                mem = f"{int(line.split()[1]) / 1024 / 1024:.0f} GiB"
    except OSError:
        pass

    def out(cmd: list[str]) -> str:
        try:
            return subprocess.run(cmd, capture_output=True, text=True, cwd=ROOT).stdout.strip()
        except OSError:
            return ""

    versions = {}
    for mod in ("duckdb", "polars", "pyarrow", "numpy"):
        try:
            versions[mod] = __import__(mod).__version__
        except Exception:  # noqa: BLE001 - a missing module is reported as such
            versions[mod] = "missing"
    commit = out(["git", "rev-parse", "--short", "HEAD"])
    dirty = out(["git", "status", "--porcelain", "--untracked-files=no"])
    return {
        "date": dt.datetime.now(dt.timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
        "nproc": os.cpu_count(), "cpu": cpu, "mem": mem,
        "os": f"{platform.system()} {platform.release()}",
        "python": platform.python_version(), "rustc": out(["rustc", "--version"]),
        "commit": commit + (" (with uncommitted changes)" if dirty else ""),
        **versions,
    }


def fmt_rate(n: int, s: float) -> str:
    r = n / s
    return f"{r / 1e6:.2f} M/s" if r >= 1e6 else f"{r / 1e3:.0f} k/s"


def table_rows(results: dict, count: int) -> list[list[str]]:
    rows = []
    for program in PROGRAMS:
        if program not in results:
            continue
        res = results[program]
        for key, label, inp, kind in IMPLS:
            if key not in res:
                continue
            r = res[key]
            inp_label = "Arrow table (from Parquet)" if kind == "python" else inp.upper() if inp == "csv" else "Parquet"
            if r["status"] != "ok":
                rows.append([program, inp_label, label, "n/a (unsupported)", "", "", "", "", ""])
                continue
            duck = res.get("duckdb-csv" if inp == "csv" else "duckdb-parquet")
            ratio = f"{duck['seconds'] / r['seconds']:.2f}x" if duck and duck.get("status") == "ok" else ""
            rows.append([program, inp_label, label, f"{r['seconds']:.2f}", fmt_rate(count, r["seconds"]),
                         f"{r['rss']:,.0f}", ratio, f"{r['process']:.2f}", f"{r['cpu']:.2f}"])
    return rows


HEADER = ["program", "input", "implementation", "wall s", "trades/s", "peak RSS MB", "DuckDB / this",
          "process s", "CPU s"]


def text_table(rows: list[list[str]]) -> str:
    widths = [max(len(h), *(len(r[i]) for r in rows)) for i, h in enumerate(HEADER)] if rows else [len(h) for h in HEADER]
    right = {3, 4, 5, 6, 7, 8}
    def line(cells):
        return "  ".join(c.rjust(w) if i in right else c.ljust(w) for i, (c, w) in enumerate(zip(cells, widths)))
    return "\n".join([line(HEADER), line(["-" * w for w in widths])] + [line(r) for r in rows])


def md_table(rows: list[list[str]]) -> str:
    out = ["| " + " | ".join(HEADER) + " |", "|" + "|".join(["---"] * 3 + ["---:"] * 6) + "|"]
    out += ["| " + " | ".join(r) + " |" for r in rows]
    return "\n".join(out)


def write_results(path: Path, args, facts: dict, rows, spreads: list[str], problems: dict, cmdline: str,
                  summary: dict) -> None:
    unsupported = sorted({f"{p}: {m}" for p, m in summary.get("unsupported", [])})
    text = [
        "# Benchmark results",
        "",
        f"Generated by `{cmdline}` on {facts['date']}; see bench/README.md for what each row measures.",
        "",
        "## Machine",
        "",
        f"- {facts['nproc']} cores ({facts['cpu']}), {facts['mem']} memory, {facts['os']}; "
        f"load average before the measurements: {summary.get('loadavg') or '?'} (1, 5, 15 min)",
        f"- broker-rules commit {facts['commit']}, {facts['rustc']}, engine {summary.get('engine', '?')}",
        f"- Python {facts['python']}: duckdb {facts['duckdb']}, polars {facts['polars']}, "
        f"pyarrow {facts['pyarrow']}, numpy {facts['numpy']}",
        "",
        "## Data",
        "",
        f"- {args.count:,} trades (seed {args.seed}), 2026-05-01 .. 2026-06-30 UTC, 200 brokers, "
        f"{summary.get('unattributed', '?')} unattributed; CSV {summary.get('csv_mb', 0):,.0f} MB, "
        f"Parquet {summary.get('parquet_mb', 0):,.0f} MB (zstd).",
        f"- repeat: {args.repeat} (median wall time; peak RSS is the maximum over the runs)",
        "",
        "## Results",
        "",
        md_table(rows),
        "",
        "- `wall s`: broker-rules CLI rows: the whole process (read, settle, write the JSON "
        "statement to a file). Python host: the `broker_rules.settle(program, table)` call alone "
        "(the Parquet file is loaded into a pyarrow Table first, untimed). DuckDB and Polars: "
        "connect/scan + query + result collected as Arrow / DataFrame, inside the process "
        "(interpreter start and imports excluded; they are in `process s`).",
        "- `DuckDB / this`: DuckDB's wall time on the same input (CSV or Parquet; the Arrow table "
        "is compared with DuckDB on Parquet) divided by this row's: above 1 is faster than DuckDB.",
        "- `CPU s`: user + system time of the process; above `process s` means several threads "
        f"(DuckDB and Polars use all {facts['nproc']} cores).",
        "- The load average above says whether other work shared the machine during the run (a value "
        f"near or above {facts['nproc']} means it did, and every row is slower than on an idle "
        "machine, the multi-threaded ones most); compare rows of one run with each other.",
    ]
    if unsupported:
        text += ["", "Unsupported:", ""] + [f"- {u}" for u in unsupported]
    text += ["", "## Correctness", ""]
    if problems:
        text.append("**MISMATCHES** (per broker per period, against the broker-rules CLI statement on CSV):")
        text.append("")
        for name, lst in problems.items():
            text.append(f"- {name}: {len(lst)} mismatching periods; first: " + "; ".join(lst[:5]))
    else:
        text.append(f"Every implementation's per-broker per-period commission, tier and exact sum equals the "
                    f"broker-rules statement: {summary.get('periods_checked', 0):,} periods compared, 0 mismatches.")
    text += ["", "## Tier spread of the data (from the broker-rules statements)", ""]
    text += [f"- {s}" for s in spreads]
    text += ["", "## Command", "", "```sh", cmdline, "```", ""]
    # The hand-written analysis (what limits each number, measured) stays across runs.
    kept = ""
    if path.exists():
        old = path.read_text()
        if ANALYSIS_MARK in old:
            kept = old[old.index(ANALYSIS_MARK):]
    path.write_text("\n".join(text) + ("\n" + kept if kept else ""))


ANALYSIS_MARK = "<!-- analysis: written by hand, kept when run.py rewrites this file -->"


# ---------------------------------------------------------------------------- main

def main() -> int:
    ap = argparse.ArgumentParser(description="broker-rules vs DuckDB vs Polars",
                                 formatter_class=argparse.RawDescriptionHelpFormatter, epilog=__doc__)
    ap.add_argument("--count", type=int, default=10_000_000)
    ap.add_argument("--seed", type=int, default=20260601)
    ap.add_argument("--repeat", type=int, help="runs per measurement (median); default 1 at >= 1M trades, else 3")
    ap.add_argument("--programs", default=",".join(PROGRAMS))
    ap.add_argument("--only", help="comma-separated implementations (" + ",".join(k for k, *_ in IMPLS) + ")")
    ap.add_argument("--check-only", action="store_true",
                    help="only compare DuckDB and Polars with the CLI (both inputs); exit 0/1")
    ap.add_argument("--skip-build", action="store_true", help="use the existing release CLI")
    ap.add_argument("--cli-features", help="cargo features for the CLI build (e.g. one that enables Parquet)")
    ap.add_argument("--results", default=str(BENCH / "RESULTS.md"), help="where to write RESULTS.md")
    ap.add_argument("--no-results", action="store_true", help="do not write RESULTS.md")
    args = ap.parse_args()
    if args.repeat is None:
        args.repeat = 1 if args.count >= 1_000_000 else 3
    programs = [p for p in args.programs.split(",") if p]
    for p in programs:
        if p not in PROGRAMS:
            ap.error(f"unknown program {p!r}")
    impls = [k for k, *_ in IMPLS]
    if args.check_only:
        impls = CHECK_IMPLS
        args.repeat = 1
    if args.only:
        impls = ["cli-csv"] + [k for k in args.only.split(",") if k != "cli-csv"]
        for k in impls:
            if k not in dict((k, 1) for k, *_ in IMPLS):
                ap.error(f"unknown implementation {k!r}")
    if not os.path.exists(TIME):
        ap.error(f"{TIME} is missing: run bash bench/setup.sh (it installs the Debian package `time`)")

    started = time.perf_counter()
    data = ensure_data(args.count, args.seed)
    build_cli(args.skip_build, args.cli_features)
    loadavg = open("/proc/loadavg").read().split()[:3] if os.path.exists("/proc/loadavg") else []
    work = Path(tempfile.mkdtemp(prefix="broker-rules-bench-"))
    kinds = {k: (inp, kind) for k, _, inp, kind in IMPLS}

    results: dict = {}
    problems: dict = {}
    spreads: list[str] = []
    summary: dict = {"unsupported": [], "periods_checked": 0,
                     "csv_mb": (data / "trades.csv").stat().st_size / 1e6,
                     "parquet_mb": (data / "trades.parquet").stat().st_size / 1e6,
                     "loadavg": " ".join(loadavg)}
    try:
        for program in programs:
            res = results[program] = {}
            truth = None
            for impl in impls:
                inp, kind = kinds[impl]
                r = res[impl] = measure(impl, kind, program, inp, data, work, args.repeat)
                if r["status"] != "ok":
                    summary["unsupported"].append((impl, r["message"]))
                    continue
                if impl == "cli-csv":
                    truth, doc = load_statement(r["out"])
                    summary["engine"] = f"{doc['engine']['name']} {doc['engine']['version']}"
                    s = doc.get("summary", {})
                    summary["unattributed"] = f"{s.get('unattributed', {}).get('no_broker', {}).get('trades', 0):,}"
                    if s.get("trades") != args.count or s.get("rejected"):
                        problems[f"{program} cli-csv"] = [
                            f"the CLI read {s.get('trades')} trades ({s.get('rejected')} rejected), expected {args.count}"]
                    spreads += spread_lines(program, truth)
                    continue
                got = load_statement(r["out"])[0] if kind == "cli" else load_result(r["out"])
                bad = compare(truth, got)
                summary["periods_checked"] += len(truth)
                if bad:
                    problems[f"{program} {impl}"] = bad
                    loud(f"MISMATCH: {impl} on {program}: {len(bad)} periods differ from the broker-rules "
                         f"statement\n" + "\n".join("  " + b for b in bad[:12]))
                else:
                    log(f"{program:8} {impl:15} matches broker-rules ({len(truth):,} periods)")
    except Failed as e:
        loud(f"FAILED: {e}")
        return 1
    finally:
        shutil.rmtree(work, ignore_errors=True)

    print()
    for s in spreads:
        print(s)
    cmdline = "bash bench/run.sh" + "".join(f" {a}" for a in sys.argv[1:])
    if args.check_only:
        if problems:
            loud(f"bench check FAILED: {sum(len(v) for v in problems.values())} mismatching periods in "
                 f"{', '.join(problems)}")
            return 1
        print(f"\nbench check: DuckDB and Polars (Parquet and CSV) equal the broker-rules CLI on "
              f"{', '.join(programs)}: {summary['periods_checked']:,} periods, 0 mismatches "
              f"({time.perf_counter() - started:.1f} s)")
        return 0

    rows = table_rows(results, args.count)
    print()
    print(text_table(rows))
    if not args.no_results:
        write_results(Path(args.results), args, machine_facts(), rows, spreads, problems, cmdline, summary)
        log(f"wrote {args.results}")
    if problems:
        loud(f"MISMATCHES in {', '.join(problems)}: see above and {args.results}")
        return 1
    print(f"\nall implementations equal the broker-rules statement "
          f"({summary['periods_checked']:,} periods compared); {time.perf_counter() - started:.0f} s in all")
    return 0


if __name__ == "__main__":
    sys.exit(main())
