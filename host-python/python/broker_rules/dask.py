"""Settle a Dask DataFrame from partial states.

>>> import dask.dataframe as dd                               # doctest: +SKIP
>>> import broker_rules.dask
>>> ddf = dd.read_parquet("trades/*.parquet")
>>> statement = broker_rules.dask.settle("backpack", ddf)      # a broker_rules.Statement

How: the rows are shuffled by a hash of the trade id column (``DataFrame.shuffle(on=id)``:
every copy of one id lands in one partition), each pandas partition goes to the engine as a
pyarrow Table and becomes a partial state (bytes), the states are merged in a tree
(``split_every`` at a time, on the workers) and the last one is finished on the client. The
statement is the one :func:`broker_rules.settle` gives on the same trades, byte for byte
(``to_json()``), as long as no trade is rejected (a rejected trade's ``line`` is its row
within its partition). It runs on the current scheduler: a ``distributed.Client`` if one is
active (its workers need the ``broker-rules`` wheel), else Dask's threads (the engine
releases the GIL).
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any, List, Mapping, Optional, Tuple

from . import (
    ColumnsArg,
    FieldError,
    OptionsError,
    ProgramArg,
    Statement,
    TimeArg,
    _merge_request,
    _partial_request,
    _partitioned,
    _request,
    _state,
    _merger,
)

if TYPE_CHECKING:  # pragma: no cover
    import dask.dataframe
    from dask.delayed import Delayed

__all__ = ["settle", "partial_state"]


def _partition_state(pdf: Any, request: str, allow_float: bool, columns: List[Tuple[str, str]]) -> bytes:
    """One pandas partition -> its partial state (through pyarrow, no per-row Python)."""
    if len(pdf) == 0:
        return _partial_request(request, [], allow_float, None, columns)
    import pyarrow as pa  # type: ignore[import-untyped,unused-ignore]

    table = pa.Table.from_pandas(pdf, preserve_index=False)
    return _partial_request(request, table, allow_float, None, columns)


def _merge_group(states: List[bytes], request: str) -> bytes:
    return _state(_merger(request, states).to_bytes())


def partial_state(
    program: ProgramArg,
    ddf: "dask.dataframe.DataFrame",
    *,
    registry: Optional[Mapping[str, Any]] = None,
    from_: TimeArg = None,
    to: TimeArg = None,
    strict: bool = False,
    allow_float: bool = False,
    columns: ColumnsArg = None,
    partitions: Optional[int] = None,
    split_every: int = 8,
    shuffle_method: Optional[str] = None,
) -> "Delayed":
    """The lazy merged partial state (a ``dask.delayed`` of ``bytes``) of a Dask DataFrame:
    shuffled by a hash of its trade id column (the column ``columns`` renames to ``id``, else
    ``id``) into ``partitions`` (default: as many as ``ddf`` has), one state per partition,
    merged ``split_every`` at a time in a tree. ``.compute()`` it, then
    :func:`broker_rules.merge` it (with other states, under the same program and options)."""
    import dask.dataframe as dd
    from dask.delayed import delayed

    if split_every < 2:
        raise OptionsError("split_every must be at least 2", {"field": "split_every"})
    if not isinstance(ddf, dd.DataFrame):
        raise FieldError(f"expected a dask.dataframe.DataFrame, not a {type(ddf).__name__}", {"field": "trades"})
    req, cols, id_col = _partitioned(program, registry, from_, to, strict, allow_float, columns, list(ddf.columns))
    shuffled = ddf.shuffle(on=id_col, npartitions=partitions or ddf.npartitions, shuffle_method=shuffle_method, force=True)
    part = delayed(_partition_state, pure=True)
    merge = delayed(_merge_group, pure=True)
    level: List[Any] = [part(p, req, allow_float, cols) for p in shuffled.to_delayed()]
    while len(level) > 1:
        level = [merge(level[i:i + split_every], req) for i in range(0, len(level), split_every)]
    if not level:
        return merge([], req)  # type: ignore[no-any-return]
    return level[0]  # type: ignore[no-any-return]


def settle(
    program: ProgramArg,
    ddf: "dask.dataframe.DataFrame",
    *,
    registry: Optional[Mapping[str, Any]] = None,
    from_: TimeArg = None,
    to: TimeArg = None,
    strict: bool = False,
    allow_float: bool = False,
    columns: ColumnsArg = None,
    partitions: Optional[int] = None,
    split_every: int = 8,
    shuffle_method: Optional[str] = None,
) -> Statement:
    """Settles the trades of a Dask DataFrame: :func:`partial_state` computed on the
    current scheduler, finished into the :class:`broker_rules.Statement`. Errors are the
    classes :func:`broker_rules.settle` raises (a conflicting duplicate id:
    :class:`broker_rules.DuplicateIdError`)."""
    req = json.dumps(_request(program, registry, from_, to, False, strict, allow_float), ensure_ascii=False)
    state = partial_state(
        program, ddf, registry=registry, from_=from_, to=to, strict=strict, allow_float=allow_float,
        columns=columns, partitions=partitions, split_every=split_every, shuffle_method=shuffle_method,
    ).compute()  # type: ignore[no-untyped-call,unused-ignore]
    return _merge_request(req, [state])
