"""Typed usage of the public API, checked with `mypy --strict` against the shipped stubs."""

from __future__ import annotations

from datetime import datetime, timezone
from decimal import Decimal
from typing import Dict, List, Optional

import broker_rules as br
from broker_rules import _native


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
