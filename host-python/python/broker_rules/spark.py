"""Settle a PySpark DataFrame on a Spark cluster (or ``local[*]``) from partial states.

>>> from pyspark.sql import SparkSession                      # doctest: +SKIP
>>> import broker_rules.spark
>>> spark = SparkSession.builder.master("local[*]").getOrCreate()
>>> df = spark.read.parquet("trades.parquet")
>>> statement = broker_rules.spark.settle("backpack", df)     # a broker_rules.Statement

How: the rows are repartitioned by a hash of the trade id column (Spark's
``repartition(n, col)``, so every copy of one id lands in one partition), each partition is
settled on its executor into a partial state (``mapInArrow``: Arrow record batches go to
the engine through the Arrow C stream interface, no per-row Python), one small row per
partition (its state bytes) comes back to the driver, and the driver merges them and
finishes. The statement is the one :func:`broker_rules.settle` gives on the same trades,
byte for byte (``to_json()``), whatever the partitioning, as long as no trade is rejected
(a rejected trade's ``line`` is its row within its partition).

Executors need the ``broker-rules`` wheel installed in the Python they run (the
``PYSPARK_PYTHON`` interpreter), like any library a UDF imports; the driver needs it too.
"""

from __future__ import annotations

import itertools
import json
from typing import TYPE_CHECKING, Any, Dict, Iterable, Iterator, List, Mapping, Optional, Tuple

from . import (
    ColumnsArg,
    FieldError,
    ProgramArg,
    Statement,
    TimeArg,
    _merge_request,
    _partial_request,
    _partitioned,
    _request,
)
from ._errors import BrokerRulesError, error_from

if TYPE_CHECKING:  # pragma: no cover
    from pyspark.sql import DataFrame

__all__ = ["settle", "partial_states", "STATE_SCHEMA"]

#: The schema of :func:`partial_states`: one row per partition.
STATE_SCHEMA = "partition int, rows long, state binary, error string"


class _PartitionState:
    """The ``mapInArrow`` function: one partition's record batches -> one row holding its
    partial state (or the engine's error as JSON, raised again on the driver with its class
    and location). Pickled to the executors: it holds the request text, not the program
    object."""

    def __init__(self, request: str, allow_float: bool, columns: List[Tuple[str, str]]) -> None:
        self.request = request
        self.allow_float = allow_float
        self.columns = columns

    def __call__(self, batches: Iterable[Any]) -> Iterator[Any]:
        import pyarrow as pa  # type: ignore[import-untyped,unused-ignore]
        from pyspark import TaskContext

        ctx = TaskContext.get()
        part = ctx.partitionId() if ctx is not None else -1
        rows = [0]

        def counted(it: Iterator[Any]) -> Iterator[Any]:
            for b in it:
                rows[0] += b.num_rows
                yield b

        it = iter(batches)
        first = next(it, None)
        state: Optional[bytes] = None
        error: Optional[str] = None
        try:
            if first is None:
                state = _partial_request(self.request, [], self.allow_float, None, self.columns)
            else:
                reader = pa.RecordBatchReader.from_batches(first.schema, counted(itertools.chain([first], it)))
                state = _partial_request(self.request, reader, self.allow_float, None, self.columns)
        except BrokerRulesError as e:
            error = json.dumps(e.to_dict(), ensure_ascii=False)
        yield pa.RecordBatch.from_arrays(
            [
                pa.array([part], pa.int32()),
                pa.array([rows[0]], pa.int64()),
                pa.array([state], pa.binary()),
                pa.array([error], pa.string()),
            ],
            names=["partition", "rows", "state", "error"],
        )


def partial_states(
    program: ProgramArg,
    df: "DataFrame",
    *,
    registry: Optional[Mapping[str, Any]] = None,
    from_: TimeArg = None,
    to: TimeArg = None,
    strict: bool = False,
    allow_float: bool = False,
    columns: ColumnsArg = None,
    partitions: Optional[int] = None,
) -> "DataFrame":
    """The lazy DataFrame of partial states (:data:`STATE_SCHEMA`: ``partition``, ``rows``,
    ``state`` bytes, ``error``): one row per partition of ``df`` repartitioned by a hash of
    its trade id column (the column that ``columns`` renames to ``id``, else ``id``) into
    ``partitions`` (default: Spark's, ``spark.sql.shuffle.partitions``). Store it, or merge
    its states with :func:`broker_rules.merge` under the same program and options."""
    req, cols, id_col = _partitioned(program, registry, from_, to, strict, allow_float, columns, df.columns)
    from pyspark.sql import functions as F

    key = F.col(f"`{id_col}`")
    parted = df.repartition(partitions, key) if partitions else df.repartition(key)
    return parted.mapInArrow(_PartitionState(req, allow_float, cols), STATE_SCHEMA)


def _raise_first(rows: List[Any]) -> None:
    """Raises the error of the lowest-numbered failed partition, if any."""
    failed = sorted((r["partition"], r["error"]) for r in rows if r["error"] is not None)
    if failed:
        err: Dict[str, Any] = json.loads(failed[0][1])
        raise error_from(err)


def settle(
    program: ProgramArg,
    df: "DataFrame",
    *,
    registry: Optional[Mapping[str, Any]] = None,
    from_: TimeArg = None,
    to: TimeArg = None,
    strict: bool = False,
    allow_float: bool = False,
    columns: ColumnsArg = None,
    partitions: Optional[int] = None,
) -> Statement:
    """Settles the trades of a PySpark DataFrame: :func:`partial_states` on the executors,
    the states collected and merged on the driver (one at a time, into one accumulator:
    merging is linear in the states' size, so a deeper tree would not do less work on one
    machine), finished into the :class:`broker_rules.Statement`. Errors are the classes
    :func:`broker_rules.settle` raises (a conflicting duplicate id:
    :class:`broker_rules.DuplicateIdError`, in the partition both copies went to)."""
    req = json.dumps(_request(program, registry, from_, to, False, strict, allow_float), ensure_ascii=False)
    rows = partial_states(
        program, df, registry=registry, from_=from_, to=to, strict=strict,
        allow_float=allow_float, columns=columns, partitions=partitions,
    ).collect()
    _raise_first(rows)
    return _merge_request(req, (r["state"] for r in rows))
