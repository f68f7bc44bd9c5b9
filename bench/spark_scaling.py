#!/usr/bin/env python3
"""Scaling of broker_rules.spark on local Spark: one trade log settled with 1, 2, 4, 8 and 16
partitions; wall time, state bytes per partition, and the statement bytes compared with
broker_rules.settle in one process (they must be identical every time).

The log (default 10,000,000 trades) is generated in chunks of 1,000,000 by
host-python/tests/tradegen.py, each written as one Parquet file and dropped, so it is never
held in memory at once (cached under $BROKER_RULES_CACHE/bench-data/spark-n<count>/). The
one-process reference streams the files through a pyarrow dataset scanner into
broker_rules.settle. Each Spark run reads the Parquet files, repartitions by a hash of the
trade id, settles each partition into a partial state on the executors (mapInArrow),
collects the states and merges them on the driver.

The table is written to bench/RESULTS.md under "## Spark scaling" (replacing an earlier one).

usage: python bench/spark_scaling.py [--count N] [--program backpack] [--partitions 1,2,4,8,16]
       [--master local[*]] [--no-write]
Needs: the broker-rules wheel, pyspark and Java 17 in the Python that runs it (the venv of
scripts/bootstrap.sh python: ~/.cache/broker-rules/venv/bin/python).
"""

from __future__ import annotations

import argparse
import hashlib
import os
import platform
import re
import shutil
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Any, Dict, List

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
sys.path.insert(0, str(ROOT / "host-python" / "tests"))

import pyarrow.dataset as ds  # noqa: E402
import pyarrow.parquet as pq  # noqa: E402

import broker_rules as br  # noqa: E402
import broker_rules.spark as br_spark  # noqa: E402
import tradegen  # noqa: E402

CHUNK = 1_000_000
CACHE = Path(os.environ.get("BROKER_RULES_CACHE", Path.home() / ".cache" / "broker-rules"))


def log(msg: str) -> None:
    print(f"[spark-scaling] {msg}", file=sys.stderr, flush=True)


def generate(count: int) -> Path:
    """The log as Parquet files of CHUNK trades, generated one chunk at a time."""
    gen_hash = hashlib.sha256((ROOT / "host-python" / "tests" / "tradegen.py").read_bytes()).hexdigest()[:12]
    d = CACHE / "bench-data" / f"spark-n{count}-{gen_hash}"
    done = d / "DONE"
    if done.exists():
        log(f"data: {d} (cached)")
        return d
    shutil.rmtree(d, ignore_errors=True)
    d.mkdir(parents=True)
    t0 = time.perf_counter()
    for k, start in enumerate(range(0, count, CHUNK)):
        n = min(CHUNK, count - start)
        table = tradegen.trades(n, seed=1000 + k, first_id=start, scale_to=count)
        pq.write_table(table, d / f"part-{k:04d}.parquet", compression="zstd", row_group_size=1 << 18)
        del table
    done.write_text(str(count))
    log(f"generated {count:,} trades in {time.perf_counter() - t0:.1f}s: {d}")
    return d


def sha(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


def mb(n: float) -> str:
    return f"{n / 1e6:,.1f}"


def write_results(section: str) -> None:
    path = HERE / "RESULTS.md"
    text = path.read_text(encoding="utf-8") if path.exists() else "# Benchmark results\n"
    start = text.find("## Spark scaling")
    if start != -1:
        nxt = re.search(r"^## (?!Spark scaling)", text[start:], re.M)
        end = start + nxt.start() if nxt else len(text)
        text = text[:start] + section + ("\n" + text[end:] if end < len(text) else "")
    else:
        text = text.rstrip("\n") + "\n\n" + section
    path.write_text(text.rstrip("\n") + "\n", encoding="utf-8")
    log(f"wrote the table to {path}")


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--count", type=int, default=10_000_000)
    ap.add_argument("--program", default="backpack")
    ap.add_argument("--partitions", default="1,2,4,8,16")
    ap.add_argument("--master", default="local[*]")
    ap.add_argument("--driver-memory", default="6g")
    ap.add_argument("--no-write", action="store_true", help="print the table, leave RESULTS.md alone")
    args = ap.parse_args()
    parts = [int(p) for p in args.partitions.split(",")]

    java = shutil.which("java")
    if java is None:
        sys.exit("spark_scaling: Java 17+ is needed (java on PATH)")
    java_version = subprocess.run([java, "-version"], capture_output=True, text=True).stderr.splitlines()[0]

    data = generate(args.count)
    files = sorted(data.glob("*.parquet"))
    on_disk = sum(f.stat().st_size for f in files)

    log("one process: broker_rules.settle over a pyarrow dataset scanner")
    t0 = time.perf_counter()
    reference = br.settle(args.program, ds.dataset([str(f) for f in files]).scanner(batch_size=1 << 17).to_reader())
    single_s = time.perf_counter() - t0
    ref_json = reference.to_json()
    assert reference.summary.trades == args.count, reference.summary
    log(f"one process: {single_s:.1f}s, statement {len(ref_json):,} bytes, sha256 {sha(ref_json)[:12]}")

    os.environ["PYSPARK_PYTHON"] = sys.executable
    os.environ["PYSPARK_DRIVER_PYTHON"] = sys.executable
    from pyspark import __version__ as spark_version
    from pyspark.sql import SparkSession

    spark = (
        SparkSession.builder.master(args.master)
        .appName("broker-rules spark scaling")
        .config("spark.ui.enabled", "false")
        .config("spark.ui.showConsoleProgress", "false")
        .config("spark.driver.memory", args.driver_memory)
        .config("spark.driver.maxResultSize", "4g")
        .getOrCreate()
    )
    spark.sparkContext.setLogLevel("ERROR")
    cores = spark.sparkContext.defaultParallelism
    df = spark.read.parquet(*[str(f) for f in files])
    log(f"spark {spark_version} {args.master} ({cores} cores), input partitions: {df.rdd.getNumPartitions()}")

    # warm-up: JVM, Python workers, the wheel imported on the workers
    br_spark.settle(args.program, df.limit(10_000), partitions=2)

    rows: List[Dict[str, Any]] = []
    for p in parts:
        t0 = time.perf_counter()
        states = br_spark.partial_states(args.program, df, partitions=p).collect()
        t1 = time.perf_counter()
        statement = br.merge(args.program, [s["state"] for s in states])
        t2 = time.perf_counter()
        text = statement.to_json()
        sizes = sorted(len(s["state"]) for s in states)
        errors = [s["error"] for s in states if s["error"]]
        row = {
            "partitions": p,
            "wall": t2 - t0,
            "states": t1 - t0,
            "merge": t2 - t1,
            "min": sizes[0],
            "median": statistics.median(sizes),
            "max": sizes[-1],
            "total": sum(sizes),
            "rows": sum(s["rows"] for s in states),
            "identical": text == ref_json and not errors,
        }
        rows.append(row)
        log(f"{p:>2} partitions: {row['wall']:.1f}s (executors {row['states']:.1f}s, driver merge {row['merge']:.1f}s), "
            f"state per partition {mb(row['median'])} MB, identical: {row['identical']}")
    spark.stop()

    one_state = len(br.partial(args.program, pq.read_table(files[0])))
    per_million = one_state * 1_000_000 / pq.ParquetFile(files[0]).metadata.num_rows

    load = os.getloadavg()
    lines = [
        "## Spark scaling",
        "",
        f"Generated by `python bench/spark_scaling.py --count {args.count} --program {args.program}` on "
        f"{time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}: `broker_rules.spark.settle` on local Spark "
        f"({args.master}, {cores} cores, driver memory {args.driver_memory}), pyspark {spark_version}, {java_version}, "
        f"Python {platform.python_version()}, engine {br.__version__}; load average at the end {load[0]:.2f} {load[1]:.2f} {load[2]:.2f}.",
        "",
        f"- Data: {args.count:,} trades (`host-python/tests/tradegen.py`, generated {CHUNK:,} at a time, never held at once), "
        f"{len(files)} Parquet files, {mb(on_disk)} MB (zstd). Program `{args.program}`.",
        f"- One process, for reference: `broker_rules.settle` over a pyarrow dataset scanner: {single_s:.1f} s; "
        f"statement {len(ref_json):,} bytes, sha256 `{sha(ref_json)[:16]}`.",
        f"- A partial state holds about {mb(per_million)} MB per million trades (each trade's id and content, about 65 bytes, plus the sums).",
        *([f"- Other work shared the machine during the run (load average {load[0]:.2f} on {os.cpu_count()} cores): "
           "compare the rows of one run with each other, not with an idle machine.", ""]
          if load[0] > 0.75 * (os.cpu_count() or 1) else [""]),
        "| partitions | wall s | executors s | driver merge s | state MB per partition (min / median / max) | states MB total | trades | statement identical |",
        "|---:|---:|---:|---:|---|---:|---:|---|",
    ]
    for r in rows:
        lines.append(
            f"| {r['partitions']} | {r['wall']:.1f} | {r['states']:.1f} | {r['merge']:.1f} | "
            f"{mb(r['min'])} / {mb(r['median'])} / {mb(r['max'])} | {mb(r['total'])} | {r['rows']:,} | "
            f"{'yes' if r['identical'] else '**NO**'} |"
        )
    lines += [
        "",
        "- `wall s`: read the Parquet files, repartition by a hash of `id` (a Spark shuffle), settle each partition into "
        "a partial state on the executors (`mapInArrow`), collect the states (`executors s`), merge them and finish on the "
        "driver (`driver merge s`). Spark start-up and a warm-up job are excluded.",
        "- `statement identical`: `to_json()` equals the one-process statement byte for byte.",
        "- What this measures on one 2-core machine is overhead more than speed-up: with 1 partition one core settles "
        "everything; from 2 partitions on both cores are busy and more partitions only add tasks and shuffle blocks. The "
        "Spark side (the JVM reading Parquet, hashing ids, writing and reading shuffle files, Arrow batches to the Python "
        "workers) costs more than the engine itself (compare the one-process line above).",
        "- On a real cluster: the executor phase divides by the number of executor cores (each partition settles "
        "independently; the shuffle moves the trades over the network once), while the driver merge stays serial and "
        "grows with the total state size (about 65 bytes per trade for its id and content: ~650 MB per 10M trades, ~6.5 GB per 100M, which then "
        "also needs `spark.driver.maxResultSize` and driver memory above that). A deeper tree on the executors "
        "(`merge_states` in `treeReduce`) moves merging off the driver but not the final state's size, which the ids dominate. "
        "Executors need the broker-rules wheel in their Python.",
        "",
    ]
    section = "\n".join(lines)
    print(section)
    if not args.no_write:
        write_results(section)
    return 0 if all(r["identical"] for r in rows) else 1


if __name__ == "__main__":
    sys.exit(main())
