"""Partial states (broker_rules.partial / merge / merge_states) and the distributed hosts
(broker_rules.spark on pyspark local[2], broker_rules.dask on the threaded scheduler and on
a distributed LocalCluster): the same statement bytes as one broker_rules.settle.

Sizes: the Spark and Dask equality tests settle DISTRIBUTED_COUNT trades (default 1,000,000;
env BROKER_RULES_DISTRIBUTED_COUNT) per program in 8 and 16 partitions; the duplicate and
error tests use 100,000. Nothing is skipped: without Java or pyspark/dask the tests fail
saying what to install.
"""

from __future__ import annotations

import hashlib
import json
import os
import pickle
import random
import shutil
import subprocess
import sys
import threading
from decimal import Decimal
from pathlib import Path
from typing import Any, Dict, Iterator, List

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq
import pytest

import broker_rules as br
import tradegen
from conftest import backpack_month

PROGRAMS = ["backpack", "xt", "okx"]
COUNT = int(os.environ.get("BROKER_RULES_DISTRIBUTED_COUNT", "1000000"))
SMALL = 100_000


def split_by_id(table: pa.Table, parts: int) -> List[pa.Table]:
    """Rows split by a hash of their id (every copy of an id in one part)."""
    ids = table.column("id").to_pylist()
    key = pa.array([int.from_bytes(hashlib.blake2b(str(i).encode(), digest_size=8).digest(), "little") % parts for i in ids])
    return [table.filter(pc.equal(key, k)) for k in range(parts)]


def with_fee(table: pa.Table, row: int, fee: str) -> pa.Table:
    """One row of ``table`` with another fee (a conflicting duplicate of that trade)."""
    one = table.slice(row, 1)
    i = one.schema.get_field_index("fee")
    return one.set_column(i, one.schema.field(i), pa.array([Decimal(fee)], one.schema.field(i).type))


@pytest.fixture(scope="module")
def small() -> pa.Table:
    return tradegen.trades(SMALL, seed=11)


@pytest.fixture(scope="module")
def big() -> pa.Table:
    return tradegen.trades(COUNT, seed=2026)


@pytest.fixture(scope="module")
def big_dir(big: pa.Table, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The big log as 4 Parquet files (so the input has several partitions)."""
    d = tmp_path_factory.mktemp("trades")
    step = -(-big.num_rows // 4)
    for k in range(4):
        pq.write_table(big.slice(k * step, step), d / f"part-{k}.parquet", row_group_size=1 << 18)
    return d


@pytest.fixture(scope="module")
def expected(big: pa.Table) -> Dict[str, str]:
    """broker_rules.settle in one process, per program."""
    return {p: br.settle(p, big).to_json() for p in PROGRAMS}


# ---------------------------------------------------------------------------------------
# partial states in one process


@pytest.mark.parametrize("program", PROGRAMS)
def test_partial_merge_is_settle_in_any_order(program: str, small: pa.Table) -> None:
    one = br.settle(program, small).to_json()
    states = [br.partial(program, part) for part in split_by_id(small, 7)]
    rnd = random.Random(5)
    for _ in range(3):
        rnd.shuffle(states)
        assert br.merge(program, states).to_json() == one
    # a tree: any grouping gives the same state bytes (canonical) and the same statement
    left, right = br.merge_states(program, states[:3]), br.merge_states(program, states[3:])
    whole = br.merge_states(program, [right, left])
    assert whole == br.merge_states(program, states[::-1])
    assert br.merge(program, [whole]).to_json() == one
    # iterables are consumed one state at a time
    assert br.merge(program, iter(states)).to_json() == one


def test_partial_of_every_input_kind(tmp_path: Path) -> None:
    trades = backpack_month()
    keys = list(dict.fromkeys(k for t in trades for k in t))
    table = pa.Table.from_pylist([{k: (str(t[k]) if isinstance(t.get(k), Decimal) else t.get(k)) for k in keys} for t in trades])
    csv = tmp_path / "m.csv"
    fields = ["id", "time", "account", "broker", "channel", "product", "notional", "fee", "affiliate_rate"]
    csv.write_text(",".join(fields) + "\n" + "".join(",".join(str(t.get(f, "")) for f in fields) + "\n" for t in trades))
    want = br.settle("backpack", trades).to_json()
    renamed = table.rename_columns(["trade_id" if c == "id" else "ts" if c == "time" else c for c in table.column_names])
    states = {
        "list": br.partial("backpack", trades),
        "arrow": br.partial("backpack", table),
        "pandas": br.partial("backpack", table.to_pandas()),
        "file": br.partial("backpack", str(csv)),
        "text": br.partial("backpack", csv.read_bytes()),
        "renamed": br.partial("backpack", renamed, columns={"trade_id": "id", "ts": "time"}),
    }
    for kind, st in states.items():
        assert br.merge("backpack", [st]).to_json() == want, kind
    assert br.settle("backpack", renamed, columns={"trade_id": "id", "ts": "time"}).to_json() == want
    # parts read by different readers merge too
    mixed = [br.partial("backpack", trades[:1]), br.partial("backpack", table.slice(1, 1)), br.partial("backpack", (csv.read_text().splitlines()[0] + "\n" + csv.read_text().splitlines()[3] + "\n").encode())]
    assert br.merge("backpack", mixed).to_json() == want


def test_merge_of_no_states_is_the_statement_of_no_trades() -> None:
    assert br.merge("xt", []).to_json() == br.settle("xt", []).to_json()
    assert br.merge("xt", [br.partial("xt", [])]).to_json() == br.settle("xt", []).to_json()


def test_identical_duplicates_in_one_part_count_once(small: pa.Table) -> None:
    dup = pa.concat_tables([small, small.slice(100, 500), small.slice(70_000, 10)])
    one = br.settle("backpack", dup)
    assert one.summary.duplicates == 510
    got = br.merge("backpack", [br.partial("backpack", p) for p in split_by_id(dup, 5)])
    assert got.to_json() == one.to_json()


def test_states_sharing_an_id_do_not_merge(small: pa.Table) -> None:
    a, b = br.partial("backpack", small.slice(0, 1000)), br.partial("backpack", small.slice(999, 10))
    with pytest.raises(br.DuplicateIdError) as e:
        br.merge("backpack", [a, b])
    assert e.value.code == "E_DUPLICATE_ID"
    with pytest.raises(br.DuplicateIdError):
        br.merge_states("backpack", [a, a])


def test_conflicting_duplicate_names_the_id(small: pa.Table) -> None:
    bad = pa.concat_tables([small, with_fee(small, 1234, "1.5")])
    tid = small.column("id")[1234].as_py()
    with pytest.raises(br.DuplicateIdError) as e:
        for part in split_by_id(bad, 4):
            br.partial("backpack", part)
    assert e.value.id == tid, e.value


def test_state_of_another_settlement_is_refused(small: pa.Table) -> None:
    st = br.partial("backpack", small.slice(0, 100))
    for kwargs in ({}, {"from_": "2026-06-01T00:00:00Z"}, {"strict": True}, {"registry": {"brokers": [{"code": "B01", "model": "api"}]}}):
        prog = "xt" if not kwargs else "backpack"
        with pytest.raises(br.PartialStateError) as e:
            br.merge(prog, [st], **kwargs)
        assert e.value.code == "E_PARTIAL"
    # the same options: accepted
    assert br.merge("backpack", [st]).summary.trades == 100


def test_truncated_or_altered_states_raise_never_crash(small: pa.Table) -> None:
    tiny = br.partial("backpack", backpack_month())
    bigger = br.partial("okx", small.slice(0, 2000))
    for st, step in ((tiny, 1), (bigger, max(1, len(bigger) // 400))):
        for n in list(range(0, len(st), step)) + [len(st) - 1]:
            with pytest.raises(br.PartialStateError):
                br.merge_states("backpack" if st is tiny else "okx", [st[:n]])
        for pos in range(0, len(st), step):
            for bit in range(8) if st is tiny else (pos % 8,):
                flipped = bytearray(st)
                flipped[pos] ^= 1 << bit
                with pytest.raises(br.PartialStateError):
                    br.merge("backpack" if st is tiny else "okx", [bytes(flipped)])
    with pytest.raises(br.PartialStateError):
        br.merge("backpack", [b"", tiny])
    with pytest.raises(br.PartialStateError):
        br.merge("backpack", [tiny + b"\x00"])


def test_programs_settled_trade_by_trade_have_no_partial_state() -> None:
    graduated = br.program("backpack").to_dict()
    graduated["tiers"]["mode"] = "graduated"
    assert br.settle(graduated, backpack_month()).summary.trades == 3
    with pytest.raises(br.PartialStateError) as e:
        br.partial(graduated, backpack_month())
    assert "trade by trade" in e.value.message
    with pytest.raises(br.PartialStateError):
        br.merge(graduated, [])


def test_merge_argument_types() -> None:
    st = br.partial("backpack", backpack_month())
    assert br.merge("backpack", [bytearray(st)]).commission == Decimal("1690.00")
    assert br.merge("backpack", [memoryview(st)]).commission == Decimal("1690.00")
    with pytest.raises(br.FieldError):
        br.merge("backpack", st)  # one state, not an iterable of states
    with pytest.raises(br.FieldError):
        br.merge("backpack", ["not bytes"])  # type: ignore[list-item]
    with pytest.raises(br.OptionsError):
        br.partial("backpack", backpack_month(), columns={"trade_id": "nope"})


def test_errors_pickle_with_code_and_location() -> None:
    e = br.DuplicateIdError("two trades", {"id": "t1", "line": 3})
    back = pickle.loads(pickle.dumps(e))
    assert type(back) is br.DuplicateIdError and back.code == "E_DUPLICATE_ID"
    assert back.id == "t1" and back.line == 3 and back.message == "two trades"


def test_partial_releases_the_gil(small: pa.Table) -> None:
    done = threading.Event()
    out: List[bytes] = []

    def work() -> None:
        out.append(br.partial("okx", small))
        done.set()

    ticks = 0
    t = threading.Thread(target=work)
    t.start()
    while not done.is_set():
        ticks += 1
        done.wait(0.001)
    t.join()
    assert out[0] and ticks > 5


# ---------------------------------------------------------------------------------------
# Spark


@pytest.fixture(scope="module")
def spark() -> Iterator[Any]:
    java = shutil.which("java")
    if java is None and os.environ.get("JAVA_HOME"):
        java = os.path.join(os.environ["JAVA_HOME"], "bin", "java")
    if java is None or not os.path.exists(java):
        pytest.fail("the pyspark tests need Java 17 or newer (`java` on PATH or JAVA_HOME): "
                    "apt-get install openjdk-17-jre-headless", pytrace=False)
    ver = subprocess.run([java, "-version"], capture_output=True, text=True)
    if ver.returncode != 0:
        pytest.fail(f"`java -version` failed: {ver.stderr.strip()}", pytrace=False)
    try:
        from pyspark.sql import SparkSession
    except ImportError as e:  # pragma: no cover
        pytest.fail(f"pyspark is not installed ({e}): bash scripts/bootstrap.sh python", pytrace=False)
    os.environ["PYSPARK_PYTHON"] = sys.executable
    os.environ["PYSPARK_DRIVER_PYTHON"] = sys.executable
    session = (
        SparkSession.builder.master("local[2]")
        .appName("broker-rules tests")
        .config("spark.ui.enabled", "false")
        .config("spark.ui.showConsoleProgress", "false")
        .config("spark.sql.shuffle.partitions", "4")
        .config("spark.driver.memory", "2g")
        # a zone other than UTC: the instants must not depend on it
        .config("spark.sql.session.timeZone", "America/New_York")
        .getOrCreate()
    )
    session.sparkContext.setLogLevel("ERROR")
    yield session
    session.stop()


@pytest.mark.parametrize("partitions", [8, 16])
@pytest.mark.parametrize("program", PROGRAMS)
def test_spark_statement_is_the_single_process_one(spark: Any, big_dir: Path, expected: Dict[str, str], program: str, partitions: int) -> None:
    import broker_rules.spark

    df = spark.read.parquet(str(big_dir))
    st = broker_rules.spark.settle(program, df, partitions=partitions)
    assert st.summary.trades == COUNT
    assert st.to_json() == expected[program]


def test_spark_partial_states_one_row_per_partition(spark: Any, small: pa.Table, tmp_path: Path) -> None:
    import broker_rules.spark

    pq.write_table(small, tmp_path / "t.parquet")
    rows = broker_rules.spark.partial_states("xt", spark.read.parquet(str(tmp_path)), partitions=6).collect()
    assert sorted(r["partition"] for r in rows) == list(range(6))
    assert sum(r["rows"] for r in rows) == SMALL and all(r["error"] is None for r in rows)
    assert br.merge("xt", [r["state"] for r in rows]).to_json() == br.settle("xt", small).to_json()


def test_spark_column_mapping(spark: Any, small: pa.Table, tmp_path: Path) -> None:
    import broker_rules.spark

    renamed = small.rename_columns(["trade_id" if c == "id" else "ts" if c == "time" else c for c in small.column_names])
    pq.write_table(renamed, tmp_path / "t.parquet")
    df = spark.read.parquet(str(tmp_path))
    st = broker_rules.spark.settle("okx", df, columns={"trade_id": "id", "ts": "time"}, partitions=8)
    assert st.to_json() == br.settle("okx", small).to_json()
    with pytest.raises(br.FieldError) as e:
        broker_rules.spark.settle("okx", df)
    assert "trade_id" in e.value.message and e.value.field == "id"


def test_spark_identical_duplicates_split_across_the_input_count_once(spark: Any, small: pa.Table, tmp_path: Path) -> None:
    import broker_rules.spark

    pq.write_table(small, tmp_path / "a.parquet")
    pq.write_table(small.slice(500, 2000), tmp_path / "b.parquet")  # another input partition
    df = spark.read.parquet(str(tmp_path))
    assert df.rdd.getNumPartitions() >= 2
    one = br.settle("backpack", pa.concat_tables([small, small.slice(500, 2000)]))
    assert one.summary.duplicates == 2000
    assert broker_rules.spark.settle("backpack", df, partitions=8).to_json() == one.to_json()


def test_spark_conflicting_duplicate_is_duplicate_id_error(spark: Any, small: pa.Table, tmp_path: Path) -> None:
    import broker_rules.spark

    pq.write_table(small, tmp_path / "a.parquet")
    pq.write_table(with_fee(small, 4321, "0.01"), tmp_path / "b.parquet")
    df = spark.read.parquet(str(tmp_path))
    with pytest.raises(br.DuplicateIdError) as e:
        broker_rules.spark.settle("xt", df, partitions=8)
    assert e.value.id == small.column("id")[4321].as_py()


def test_spark_engine_errors_keep_their_class(spark: Any, small: pa.Table, tmp_path: Path) -> None:
    import broker_rules.spark

    bad = small.slice(0, 1000).to_pylist()
    bad[10]["notional"] = Decimal("-5.00")
    pq.write_table(pa.Table.from_pylist(bad, schema=small.schema), tmp_path / "t.parquet")
    df = spark.read.parquet(str(tmp_path))
    with pytest.raises(br.InvalidValueError) as e:
        broker_rules.spark.settle("backpack", df, strict=True, partitions=4)
    assert e.value.field == "notional" and e.value.id == bad[10]["id"]
    lenient = broker_rules.spark.settle("backpack", df, partitions=4)
    assert lenient.summary.rejected == 1 and lenient.rejected[0].id == bad[10]["id"]
    # a program with no partial form says so before reading anything
    graduated = br.program("backpack").to_dict()
    graduated["tiers"]["mode"] = "graduated"
    with pytest.raises(br.PartialStateError):
        broker_rules.spark.settle(graduated, df)


# ---------------------------------------------------------------------------------------
# Dask


def _dd() -> Any:
    try:
        import dask.dataframe as dd
    except ImportError as e:  # pragma: no cover
        pytest.fail(f"dask[dataframe,distributed] is not installed ({e}): bash scripts/bootstrap.sh python", pytrace=False)
    return dd


@pytest.mark.parametrize("partitions", [8, 16])
@pytest.mark.parametrize("program", PROGRAMS)
def test_dask_statement_is_the_single_process_one(big_dir: Path, expected: Dict[str, str], program: str, partitions: int) -> None:
    import broker_rules.dask

    ddf = _dd().read_parquet(str(big_dir))
    st = broker_rules.dask.settle(program, ddf, partitions=partitions)
    assert st.to_json() == expected[program]


def test_dask_on_a_distributed_local_cluster(small: pa.Table, tmp_path: Path) -> None:
    import broker_rules.dask
    from distributed import Client, LocalCluster

    pq.write_table(small, tmp_path / "a.parquet")
    pq.write_table(small.slice(10, 300), tmp_path / "b.parquet")
    ddf = _dd().read_parquet(str(tmp_path))
    want = br.settle("xt", pa.concat_tables([small, small.slice(10, 300)])).to_json()
    with LocalCluster(processes=False, n_workers=1, threads_per_worker=2, dashboard_address=None) as cluster, Client(cluster):
        assert broker_rules.dask.settle("xt", ddf, partitions=8, split_every=3).to_json() == want


def test_dask_duplicates_and_column_mapping(small: pa.Table, tmp_path: Path) -> None:
    import broker_rules.dask

    dd = _dd()
    renamed = small.rename_columns(["trade_id" if c == "id" else c for c in small.column_names])
    pq.write_table(renamed, tmp_path / "a.parquet")
    pq.write_table(renamed.slice(40_000, 700), tmp_path / "b.parquet")
    ddf = dd.read_parquet(str(tmp_path))
    assert ddf.npartitions >= 2
    one = br.settle("okx", pa.concat_tables([small, small.slice(40_000, 700)]))
    assert one.summary.duplicates == 700
    assert broker_rules.dask.settle("okx", ddf, columns={"trade_id": "id"}, partitions=16).to_json() == one.to_json()
    with pytest.raises(br.FieldError):
        broker_rules.dask.settle("okx", ddf)

    conflict = dd.from_pandas(pa.concat_tables([small, with_fee(small, 99, "7")]).to_pandas(), npartitions=3)
    with pytest.raises(br.DuplicateIdError) as e:
        broker_rules.dask.settle("okx", conflict, partitions=8)
    assert e.value.id == small.column("id")[99].as_py()
