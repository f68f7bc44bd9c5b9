"""Typed usage of the public API, checked with `mypy --strict` against the shipped stubs."""

from __future__ import annotations

from datetime import datetime, timezone
from decimal import Decimal
from typing import TYPE_CHECKING, Any, Dict, List, Optional

import broker_rules as br
from broker_rules import _native

if TYPE_CHECKING:
    import dask.dataframe
    import pyspark.sql
    from dask.delayed import Delayed


def total(trades: List[Dict[str, object]]) -> Decimal:
    st: br.Statement = br.settle("backpack", trades, from_=datetime(2026, 6, 1, tzinfo=timezone.utc), lines=True)
    b: br.BrokerStatement = st.brokers[0]
    p: br.Period = b.periods[0]
    start: datetime = p.start
    tier: Optional[str] = p.tier
    rates: Dict[str, Decimal] = p.rates
    lines: Optional[List[br.Line]] = st.lines
    rejected: List[br.Rejected] = st.rejected
    err: br.BrokerRulesError = rejected[0].error if rejected else br.FieldError("none")
    code: str = err.code
    line: Optional[int] = err.line
    text: str = st.to_json()
    _ = (start, tier, rates, lines, code, line, text, st.to_dict()["currency"])
    return st.commission


def estimate() -> Decimal:
    e: br.Estimate = br.estimate("backpack", volume=Decimal("8000000"), fee_rate=Decimal("0.0002"))
    nxt: Optional[br.CurvePoint] = e.next
    curve: List[br.CurvePoint] = e.curve
    return e.commission + (nxt.volume_needed if nxt else Decimal(0)) + sum((c.commission for c in curve), Decimal(0))


def what_if(trades: List[Dict[str, Any]]) -> Decimal:
    w: br.WhatIf = br.estimate("backpack", actuals=trades, growth="20%", broker="B1")
    p: br.PeriodWhatIf = w.brokers[0].periods[0]
    side: br.Side = p.what_if
    tier: Optional[str] = side.tier
    assert tier is None or isinstance(tier, str)
    c: br.WhatIf = br.compile("backpack").estimate(actuals=trades, growth=Decimal("0.2"))
    return w.difference + c.what_if


def errors() -> str:
    try:
        br.program("nope")
    except br.UnknownProgramError as e:
        return f"{e.code} {e.field} {e.line} {e.column} {e.id} {e.position} {e.location}"
    except br.BrokerRulesError as e:
        return e.message
    return ""


def programs() -> List[str]:
    infos: List[br.ProgramInfo] = br.programs()
    p: br.Program = br.program(infos[0].id)
    v: br.Validation = br.validate(program=p)
    ex: br.Explanation = br.explain(p, [])
    raw: str = br.call("programs", "{}")
    ver: str = _native.engine_version()
    return [i.id for i in infos] + [raw, ver, str(v.valid), str(len(ex.lines))]


def partial_states(trades: List[Dict[str, object]]) -> Decimal:
    a: bytes = br.partial("backpack", trades[:1], from_=datetime(2026, 6, 1, tzinfo=timezone.utc), columns={"trade_id": "id"})
    b: bytes = br.partial("backpack", trades[1:], from_="2026-06-01T00:00:00Z", strict=False)
    both: bytes = br.merge_states("backpack", [a, b], from_="2026-06-01T00:00:00Z")
    st: br.Statement = br.merge("backpack", iter([both]), from_="2026-06-01T00:00:00Z")
    try:
        br.merge("xt", [bytearray(a), memoryview(b)])
    except br.PartialStateError as e:
        return Decimal(len(e.message))
    return st.commission


def distributed(spark_df: "pyspark.sql.DataFrame", dask_df: "dask.dataframe.DataFrame") -> List[br.Statement]:
    import broker_rules.dask
    import broker_rules.spark

    states: "pyspark.sql.DataFrame" = broker_rules.spark.partial_states("okx", spark_df, partitions=16)
    sizes: List[int] = [len(r["state"]) for r in states.collect()]
    s1: br.Statement = broker_rules.spark.settle("okx", spark_df, columns={"trade_id": "id"}, partitions=8)
    s2: br.Statement = broker_rules.dask.settle("okx", dask_df, partitions=8, split_every=4)
    merged: "Delayed" = broker_rules.dask.partial_state("okx", dask_df, registry={"brokers": []})
    _ = (sizes, merged)
    return [s1, s2]


def check_payout(trades: List[Dict[str, object]], report: bytes) -> Decimal:
    r: br.Reconciliation = br.reconcile(
        "okx", trades, report, by="order", report_format="okx-rebate-per-orders", tolerance=Decimal("0.00000001")
    )
    counts: Dict[str, int] = r.summary.counts
    rows: List[br.ReconcileRow] = r.rows
    ours: Optional[br.Figures] = rows[0].ours if rows else None
    cause: Optional[str] = rows[0].cause if rows else None
    ok: bool = r.matched
    _ = (counts, ours, cause, ok, br.REPORT_FORMATS)
    return r.summary.difference
