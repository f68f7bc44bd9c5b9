"""Typed result objects over the engine's canonical JSON.

Conversion only: every number here was computed by the Rust core and arrives as canonical
decimal text; it becomes a ``decimal.Decimal`` (exact) and every time an aware UTC
``datetime``. ``to_json()`` returns the exact bytes the core produced.
"""

from __future__ import annotations

import calendar
import functools
import json
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from decimal import Decimal
from typing import TYPE_CHECKING, Any, Dict, List, Mapping, Optional, Sequence, cast

from ._errors import BrokerRulesError, error_from

if TYPE_CHECKING:  # pragma: no cover
    import pandas
    import polars
    import pyarrow  # type: ignore[import-untyped,unused-ignore]

__all__ = [
    "Side",
    "PeriodWhatIf",
    "BrokerWhatIf",
    "WhatIf",
    "ProgramRef",
    "Engine",
    "Excluded",
    "IncompleteHistory",
    "Span",
    "Tally",
    "Period",
    "BrokerStatement",
    "Rejected",
    "Line",
    "Summary",
    "Statement",
    "Explanation",
    "CurvePoint",
    "Estimate",
    "TierAbove",
    "Way",
    "Need",
    "Validation",
    "ProgramInfo",
    "Program",
    "Figures",
    "ReconcileRow",
    "ReconcileSummary",
    "Reconciliation",
]


def _dec(s: Any) -> Decimal:
    return Decimal(str(s))


def _opt_dec(s: Any) -> Optional[Decimal]:
    return None if s is None else Decimal(str(s))


def _split_time(s: str) -> "tuple[int, int]":
    """RFC 3339 UTC text -> (seconds since the epoch, nanoseconds), exactly."""
    t = s.strip()
    if t.endswith("Z") or t.endswith("z"):
        t, offset = t[:-1], 0
    elif len(t) > 6 and t[-6] in "+-" and t[-3] == ":":
        sign = 1 if t[-6] == "+" else -1
        offset = sign * (int(t[-5:-3]) * 3600 + int(t[-2:]) * 60)
        t = t[:-6]
    else:
        offset = 0
    frac = ""
    if "." in t:
        t, frac = t.split(".", 1)
    if len(t) == 19 and t[4] == "-" and t[7] == "-" and t[10] in "Tt " and t[13] == ":" and t[16] == ":":
        # The engine's own form: fields by position (strptime was most of a table's time).
        fields = (int(t[0:4]), int(t[5:7]), int(t[8:10]), int(t[11:13]), int(t[14:16]), int(t[17:19]))
        secs = calendar.timegm(fields + (0, 0, 0)) - offset
    else:
        base = datetime.strptime(t.replace("t", "T").replace(" ", "T"), "%Y-%m-%dT%H:%M:%S")
        secs = calendar.timegm(base.timetuple()) - offset
    nanos = int((frac + "000000000")[:9]) if frac else 0
    return secs, nanos


def _time(s: str) -> datetime:
    """An aware UTC datetime (sub-microsecond digits are dropped; ``to_dict`` keeps them)."""
    secs, nanos = _split_time(s)
    return datetime(1970, 1, 1, tzinfo=timezone.utc) + timedelta(seconds=secs, microseconds=nanos // 1000)


def _opt_time(s: Optional[str]) -> Optional[datetime]:
    return None if s is None else _time(s)


@functools.lru_cache(maxsize=1 << 16)
def _ns(s: Optional[str]) -> Optional[int]:
    # Cached: a table's period starts, ends and credit times repeat across brokers.
    if s is None:
        return None
    secs, nanos = _split_time(s)
    return secs * 1_000_000_000 + nanos


def _decmap(m: Mapping[str, Any]) -> Dict[str, Decimal]:
    return {k: _dec(v) for k, v in m.items()}


# Column kinds for the tables.
_DEC, _TIME, _STR, _INT, _BOOL = "decimal", "time", "str", "int", "bool"


def _decimal_array(pa: Any, values: List[Any]) -> Any:
    """Canonical decimal strings as one ``decimal128(38, s)`` column, ``s`` the most
    fractional digits any value has: Arrow parses each string exactly (a cast that would drop
    a digit fails instead), with no ``Decimal`` object per cell."""
    text = [None if v is None else str(v) for v in values]
    scale = 0
    for t in text:
        if t is not None:
            dot = t.find(".")
            if dot >= 0 and len(t) - dot - 1 > scale:
                scale = len(t) - dot - 1
    return pa.array(text, pa.string()).cast(pa.decimal128(38, scale))


def _arrow_table(columns: Sequence["tuple[str, str, List[Any]]"]) -> "pyarrow.Table":
    import pyarrow as pa  # type: ignore[import-untyped,unused-ignore]

    arrays = []
    names = []
    for name, kind, values in columns:
        names.append(name)
        if kind == _DEC:
            arr = _decimal_array(pa, values)
        elif kind == _TIME:
            arr = pa.array([_ns(v) for v in values], pa.timestamp("ns", tz="UTC"))
        elif kind == _INT:
            arr = pa.array(values, pa.int64())
        elif kind == _BOOL:
            arr = pa.array(values, pa.bool_())
        else:
            arr = pa.array(values, pa.string())
        arrays.append(arr)
    return pa.Table.from_arrays(arrays, names=names)


class _Tabular:
    """``to_arrow`` / ``to_pandas`` / ``to_polars`` over named tables."""

    _default_table = ""

    def _columns(self, table: str) -> Sequence["tuple[str, str, List[Any]]"]:  # pragma: no cover
        raise NotImplementedError

    def to_arrow(self, table: Optional[str] = None) -> "pyarrow.Table":
        """A pyarrow Table: decimals as ``decimal128`` (exact), times as UTC ``timestamp[ns]``."""
        return _arrow_table(self._columns(table or self._default_table))

    def to_pandas(self, table: Optional[str] = None) -> "pandas.DataFrame":
        """A pandas DataFrame: decimals as ``decimal.Decimal`` objects, times as UTC."""
        return cast("pandas.DataFrame", self.to_arrow(table).to_pandas())

    def to_polars(self, table: Optional[str] = None) -> "polars.DataFrame":
        """A Polars DataFrame: decimals as ``pl.Decimal``, times as UTC ``Datetime``."""
        import polars as pl

        df = pl.from_arrow(self.to_arrow(table))
        assert isinstance(df, pl.DataFrame)
        return df


class _Canonical:
    """Holds the canonical JSON text the core produced."""

    _json: str

    def to_json(self) -> str:
        """The exact canonical JSON the engine produced (the same bytes on every host)."""
        return self._json

    def to_dict(self) -> Dict[str, Any]:
        """The canonical JSON as Python objects (decimals as exact strings, as in JSON)."""
        d = json.loads(self._json)
        assert isinstance(d, dict)
        return d


@dataclass(frozen=True)
class ProgramRef:
    id: str
    version: str
    sha256: str

    @classmethod
    def _from(cls, d: Mapping[str, Any]) -> "ProgramRef":
        return cls(id=d["id"], version=d["version"], sha256=d["sha256"])


@dataclass(frozen=True)
class Engine:
    name: str
    version: str

    @classmethod
    def _from(cls, d: Mapping[str, Any]) -> "Engine":
        return cls(name=d["name"], version=d["version"])


@dataclass(frozen=True)
class Tally:
    """A count of trades with their volume and fees (attributed, eligible, excluded)."""

    trades: int
    volume: Decimal
    fees: Decimal

    @classmethod
    def _from(cls, d: Mapping[str, Any]) -> "Tally":
        return cls(trades=int(d["trades"]), volume=_dec(d["volume"]), fees=_dec(d["fees"]))


Excluded = Tally
"""The name this class had before tallies carried volume (kept for existing code)."""


@dataclass(frozen=True)
class Span:
    """A half-open time range ``[start, end)``."""

    start: datetime
    end: datetime

    @classmethod
    def _from(cls, d: Mapping[str, Any]) -> "Span":
        return cls(start=_time(d["start"]), end=_time(d["end"]))


@dataclass(frozen=True)
class IncompleteHistory:
    """A broker whose tier windows reach before the earliest trade supplied."""

    broker: str
    periods: int
    first: datetime
    last: datetime

    @classmethod
    def _from(cls, d: Mapping[str, Any]) -> "IncompleteHistory":
        return cls(broker=d["broker"], periods=int(d["periods"]), first=_time(d["first"]), last=_time(d["last"]))


@dataclass(frozen=True)
class Period:
    """One settlement period of one broker."""

    start: datetime
    end: datetime
    credit_at: datetime
    tier: Optional[str]
    rate: Decimal
    volume: Decimal
    fees: Decimal
    commission: Decimal
    trades: int
    excluded: Dict[str, Tally]
    rates: Dict[str, Decimal]
    metrics: Dict[str, Decimal]
    """The tier basis: each tier metric over ``metrics_window``."""
    exact: Decimal
    to_parent: Decimal
    from_sub_brokers: Decimal
    attributed: Tally
    """Every trade attributed to the broker: ``eligible`` plus every ``excluded`` reason."""
    eligible: Tally
    """The trades the rate applied to."""
    excluded_total: Tally
    """Every ``excluded`` reason together: ``attributed`` = ``eligible`` + ``excluded_total``."""
    withheld: Decimal
    """The rounded commission computed but not paid (the broker is withheld)."""
    metrics_window: Span
    history: str
    """``complete``, or ``incomplete`` when the tier window reaches before the earliest trade."""
    kickback: Optional[Decimal] = None
    """Programs with ``client_kickback`` (okx-v5): the clients' part, rounded once; else None."""
    metrics_sub_brokers: Optional[List[str]] = None
    """Programs with ``tiers.count_sub_brokers``: the brokers under this one whose trades
    ``metrics`` count too; else None."""

    @classmethod
    def _from(cls, d: Mapping[str, Any]) -> "Period":
        return cls(
            start=_time(d["start"]),
            end=_time(d["end"]),
            credit_at=_time(d["credit_at"]),
            tier=d.get("tier"),
            rate=_dec(d["rate"]),
            volume=_dec(d["volume"]),
            fees=_dec(d["fees"]),
            commission=_dec(d["commission"]),
            trades=int(d["trades"]),
            excluded={k: Tally._from(v) for k, v in (d.get("excluded") or {}).items()},
            rates=_decmap(d.get("rates") or {}),
            metrics=_decmap(d.get("metrics") or {}),
            exact=_dec(d["exact"]),
            to_parent=_dec(d["to_parent"]),
            from_sub_brokers=_dec(d["from_sub_brokers"]),
            attributed=Tally._from(d["attributed"]),
            eligible=Tally._from(d["eligible"]),
            excluded_total=Tally._from(d["excluded_total"]),
            withheld=_dec(d["withheld"]),
            metrics_window=Span._from(d["metrics_window"]),
            history=d["history"],
            kickback=_opt_dec(d.get("kickback")),
            metrics_sub_brokers=d.get("metrics_sub_brokers"),
        )


@dataclass(frozen=True)
class BrokerStatement:
    """One broker's statement: status, payable total and its periods."""

    broker: str
    status: str
    reason: Optional[str]
    commission: Decimal
    periods: List[Period]
    withheld: Decimal
    kickback: Optional[Decimal] = None
    """Programs with ``client_kickback``: the clients' part over all periods; else None."""

    @classmethod
    def _from(cls, d: Mapping[str, Any]) -> "BrokerStatement":
        return cls(
            broker=d["broker"],
            status=d["status"],
            reason=d.get("reason"),
            commission=_dec(d["commission"]),
            periods=[Period._from(p) for p in d.get("periods") or []],
            withheld=_dec(d.get("withheld", "0")),
            kickback=_opt_dec(d.get("kickback")),
        )


@dataclass(frozen=True)
class Rejected:
    """A trade refused in lenient mode, with its error."""

    id: Optional[str]
    line: Optional[int]
    code: str
    message: str
    field: Optional[str]

    @classmethod
    def _from(cls, d: Mapping[str, Any]) -> "Rejected":
        return cls(id=d.get("id"), line=d.get("line"), code=d["code"], message=d["message"], field=d.get("field"))

    @property
    def error(self) -> BrokerRulesError:
        """The matching exception object (not raised)."""
        loc = {k: v for k, v in (("id", self.id), ("line", self.line), ("field", self.field)) if v is not None}
        return error_from({"code": self.code, "message": self.message, "location": loc})


@dataclass(frozen=True)
class Line:
    """One trade's outcome: broker, period, tier, rate, exact commission or exclusion."""

    id: str
    broker: Optional[str]
    period_start: Optional[datetime]
    tier: Optional[str]
    rate: Decimal
    commission: Decimal
    excluded: Optional[str]
    attribution: Optional[str]
    time: Optional[datetime]
    order: Optional[str] = None
    """The trade's exchange order id, when the trade gave one."""
    instrument: Optional[str] = None
    """The trade's instrument id (e.g. ``BTC-USDT-SWAP``), when the trade gave one."""
    account: Optional[str] = None
    volume: Optional[Decimal] = None

    @classmethod
    def _from(cls, d: Mapping[str, Any]) -> "Line":
        return cls(
            id=d["id"],
            broker=d.get("broker"),
            period_start=_opt_time(d.get("period_start")),
            tier=d.get("tier"),
            rate=_dec(d["rate"]),
            commission=_dec(d["commission"]),
            excluded=d.get("excluded"),
            attribution=d.get("attribution"),
            time=_opt_time(d.get("time")),
            order=d.get("order"),
            instrument=d.get("instrument"),
            account=d.get("account"),
            volume=_dec(d["volume"]) if d.get("volume") is not None else None,
        )


@dataclass(frozen=True)
class Summary:
    from_: Optional[datetime]
    to: Optional[datetime]
    trades: int
    duplicates: int
    rejected: int
    unknown_fields: int
    unknown_values: Dict[str, Dict[str, int]]
    """Accepted trades whose channel or product is not a known value, by field and value."""
    unattributed: Dict[str, Tally]
    commission: Decimal
    earliest_trade: Optional[datetime]
    """Time of the earliest trade supplied (tier windows before it are incomplete)."""
    incomplete_history: List[IncompleteHistory]

    @classmethod
    def _from(cls, d: Mapping[str, Any]) -> "Summary":
        return cls(
            from_=_opt_time(d.get("from")),
            to=_opt_time(d.get("to")),
            trades=int(d.get("trades", 0)),
            duplicates=int(d.get("duplicates", 0)),
            rejected=int(d.get("rejected", 0)),
            unknown_fields=int(d.get("unknown_fields", 0)),
            unknown_values={f: {v: int(n) for v, n in vs.items()} for f, vs in (d.get("unknown_values") or {}).items()},
            unattributed={k: Tally._from(v) for k, v in (d.get("unattributed") or {}).items()},
            commission=_dec(d.get("commission", "0")),
            earliest_trade=_opt_time(d.get("earliest_trade")),
            incomplete_history=[IncompleteHistory._from(h) for h in d.get("incomplete_history") or []],
        )


def _line_columns(lines: Sequence[Line], raw: Sequence[Mapping[str, Any]]) -> Sequence["tuple[str, str, List[Any]]"]:
    return [
        ("id", _STR, [r["id"] for r in raw]),
        ("time", _TIME, [r.get("time") for r in raw]),
        ("broker", _STR, [r.get("broker") for r in raw]),
        ("attribution", _STR, [r.get("attribution") for r in raw]),
        ("period_start", _TIME, [r.get("period_start") for r in raw]),
        ("tier", _STR, [r.get("tier") for r in raw]),
        ("rate", _DEC, [r["rate"] for r in raw]),
        ("commission", _DEC, [r["commission"] for r in raw]),
        ("excluded", _STR, [r.get("excluded") for r in raw]),
        ("order", _STR, [r.get("order") for r in raw]),
        ("instrument", _STR, [r.get("instrument") for r in raw]),
        ("account", _STR, [r.get("account") for r in raw]),
        ("volume", _DEC, [r.get("volume") for r in raw]),
    ]


def _rejected_columns(raw: Sequence[Mapping[str, Any]]) -> Sequence["tuple[str, str, List[Any]]"]:
    return [
        ("id", _STR, [r.get("id") for r in raw]),
        ("line", _INT, [r.get("line") for r in raw]),
        ("code", _STR, [r["code"] for r in raw]),
        ("message", _STR, [r["message"] for r in raw]),
        ("field", _STR, [r.get("field") for r in raw]),
    ]


class Statement(_Canonical, _Tabular):
    """The result of ``settle``.

    Tables for ``to_arrow`` / ``to_pandas`` / ``to_polars``: ``"periods"`` (default; one row
    per broker and period), ``"brokers"`` (one row per broker), ``"lines"`` (one row per
    trade; settle with ``lines=True``) and ``"rejected"``.

    The typed values are built from the canonical JSON when first read, not when the engine
    returns: a month of hourly periods is hundreds of thousands of objects, and a caller who
    wants a DataFrame (``to_pandas``) or the JSON never pays for them. Two statements are
    equal when their canonical JSON is.
    """

    _default_table = "periods"
    __slots__ = ("_json", "_parsed", "_built")

    def __init__(self, text: str) -> None:
        self._json = text
        self._parsed: Optional[Dict[str, Any]] = None
        self._built: Dict[str, Any] = {}

    @classmethod
    def _from_json(cls, text: str) -> "Statement":
        return cls(text)

    def _d(self) -> Dict[str, Any]:
        if self._parsed is None:
            d = json.loads(self._json)
            assert isinstance(d, dict)
            self._parsed = d
        return self._parsed

    def _get(self, name: str, build: Any) -> Any:
        if name not in self._built:
            self._built[name] = build(self._d())
        return self._built[name]

    @property
    def program(self) -> ProgramRef:
        return cast(ProgramRef, self._get("program", lambda d: ProgramRef._from(d["program"])))

    @property
    def engine(self) -> Engine:
        return cast(Engine, self._get("engine", lambda d: Engine._from(d["engine"])))

    @property
    def currency(self) -> str:
        return cast(str, self._d()["currency"])

    @property
    def brokers(self) -> List[BrokerStatement]:
        """Every broker's statement, sorted by code."""
        return cast(List[BrokerStatement], self._get(
            "brokers", lambda d: [BrokerStatement._from(b) for b in d["brokers"]]))

    @property
    def rejected(self) -> List[Rejected]:
        return cast(List[Rejected], self._get(
            "rejected", lambda d: [Rejected._from(r) for r in d.get("rejected") or []]))

    @property
    def lines(self) -> Optional[List[Line]]:
        """Per-trade lines (``settle(..., lines=True)``), else None."""
        return cast(Optional[List[Line]], self._get(
            "lines", lambda d: None if d.get("lines") is None else [Line._from(x) for x in d["lines"]]))

    @property
    def summary(self) -> Summary:
        return cast(Summary, self._get("summary", lambda d: Summary._from(d.get("summary") or {})))

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Statement) and other._json == self._json

    def __hash__(self) -> int:
        return hash(self._json)

    def __repr__(self) -> str:
        return (f"Statement(program={self.program.id!r}, currency={self.currency!r}, "
                f"brokers={len(self.brokers)}, commission={self.summary.commission!s})")

    @property
    def commission(self) -> Decimal:
        """Payable commission of all brokers (the engine's ``summary.commission``)."""
        return self.summary.commission

    def broker(self, code: str) -> BrokerStatement:
        """The statement of one broker (KeyError if it has none); builds only that one."""
        if "brokers" in self._built:
            for b in self.brokers:
                if b.broker == code:
                    return b
            raise KeyError(code)
        for raw in self._d()["brokers"]:
            if raw["broker"] == code:
                return BrokerStatement._from(raw)
        raise KeyError(code)

    def _columns(self, table: str) -> Sequence["tuple[str, str, List[Any]]"]:
        d = self._d()
        if table == "periods":
            rows = [(b, p) for b in d["brokers"] for p in b["periods"]]
            return [
                ("broker", _STR, [b["broker"] for b, _ in rows]),
                ("status", _STR, [b["status"] for b, _ in rows]),
                ("start", _TIME, [p["start"] for _, p in rows]),
                ("end", _TIME, [p["end"] for _, p in rows]),
                ("credit_at", _TIME, [p["credit_at"] for _, p in rows]),
                ("tier", _STR, [p.get("tier") for _, p in rows]),
                ("rate", _DEC, [p["rate"] for _, p in rows]),
                ("volume", _DEC, [p["volume"] for _, p in rows]),
                ("fees", _DEC, [p["fees"] for _, p in rows]),
                ("commission", _DEC, [p["commission"] for _, p in rows]),
                ("exact", _DEC, [p.get("exact") for _, p in rows]),
                ("trades", _INT, [p["trades"] for _, p in rows]),
                ("excluded_trades", _INT, [p["excluded_total"]["trades"] for _, p in rows]),
                ("eligible_trades", _INT, [p["eligible"]["trades"] for _, p in rows]),
                ("eligible_volume", _DEC, [p["eligible"]["volume"] for _, p in rows]),
                ("eligible_fees", _DEC, [p["eligible"]["fees"] for _, p in rows]),
                ("excluded_volume", _DEC, [p["excluded_total"]["volume"] for _, p in rows]),
                ("excluded_fees", _DEC, [p["excluded_total"]["fees"] for _, p in rows]),
                ("withheld", _DEC, [p["withheld"] for _, p in rows]),
                ("metrics_start", _TIME, [p["metrics_window"]["start"] for _, p in rows]),
                ("metrics_end", _TIME, [p["metrics_window"]["end"] for _, p in rows]),
                ("history", _STR, [p["history"] for _, p in rows]),
            ] + ([("kickback", _DEC, [p.get("kickback") for _, p in rows])]
                 if any(p.get("kickback") is not None for _, p in rows) else [])
        if table == "brokers":
            bs = d["brokers"]
            return [
                ("broker", _STR, [b["broker"] for b in bs]),
                ("status", _STR, [b["status"] for b in bs]),
                ("reason", _STR, [b.get("reason") for b in bs]),
                ("commission", _DEC, [b["commission"] for b in bs]),
                ("withheld", _DEC, [b.get("withheld") for b in bs]),
                ("periods", _INT, [len(b["periods"]) for b in bs]),
            ] + ([("kickback", _DEC, [b.get("kickback") for b in bs])]
                 if any(b.get("kickback") is not None for b in bs) else [])
        if table == "lines":
            if d.get("lines") is None:
                raise ValueError("this statement has no lines: settle with lines=True, or use explain()")
            return _line_columns(self.lines or [], d["lines"])
        if table == "rejected":
            return _rejected_columns(d.get("rejected") or [])
        raise ValueError(f"unknown table {table!r} (periods, brokers, lines, rejected)")


@dataclass(frozen=True)
class Explanation(_Canonical, _Tabular):
    """The result of ``explain``: one line per trade. Tables: ``"lines"`` (default), ``"rejected"``."""

    program: ProgramRef
    engine: Engine
    currency: str
    lines: List[Line]
    rejected: List[Rejected]
    _json: str = field(repr=False, compare=False, default="")
    _default_table = "lines"

    @classmethod
    def _from_json(cls, text: str) -> "Explanation":
        d = json.loads(text)
        return cls(
            program=ProgramRef._from(d["program"]),
            engine=Engine._from(d["engine"]),
            currency=d["currency"],
            lines=[Line._from(x) for x in d.get("lines") or []],
            rejected=[Rejected._from(r) for r in d.get("rejected") or []],
            _json=text,
        )

    def _columns(self, table: str) -> Sequence["tuple[str, str, List[Any]]"]:
        d = self.to_dict()
        if table == "lines":
            return _line_columns(self.lines, d.get("lines") or [])
        if table == "rejected":
            return _rejected_columns(d.get("rejected") or [])
        raise ValueError(f"unknown table {table!r} (lines, rejected)")


@dataclass(frozen=True)
class CurvePoint:
    """A tier boundary: least volume for the level and the commission there."""

    tier: Optional[str]
    rate: Decimal
    volume: Decimal
    volume_needed: Decimal
    commission: Decimal

    @classmethod
    def _from(cls, d: Mapping[str, Any]) -> "CurvePoint":
        return cls(
            tier=d.get("tier"),
            rate=_dec(d["rate"]),
            volume=_dec(d["volume"]),
            volume_needed=_dec(d["volume_needed"]),
            commission=_dec(d["commission"]),
        )


@dataclass(frozen=True)
class Need:
    """One threshold of a way to a tier: the minimum, the scenario's value, what is missing."""

    min: Decimal
    have: Decimal
    more: Decimal


@dataclass(frozen=True)
class Way:
    """One ladder's step to a tier above the scenario's."""

    ladder: str
    needs: Dict[str, Need]
    volume: Optional[Decimal]
    volume_needed: Optional[Decimal]
    met: bool

    @classmethod
    def _from(cls, d: Mapping[str, Any]) -> "Way":
        return cls(
            ladder=d["ladder"],
            needs={k: Need(min=_dec(v["min"]), have=_dec(v["have"]), more=_dec(v["more"])) for k, v in d["needs"].items()},
            volume=_opt_dec(d.get("volume")),
            volume_needed=_opt_dec(d.get("volume_needed")),
            met=bool(d["met"]),
        )


@dataclass(frozen=True)
class TierAbove:
    """A tier above the scenario's: each way to reach it and the commission there."""

    tier: str
    rate: Decimal
    ways: List[Way]
    commission: Decimal

    @classmethod
    def _from(cls, d: Mapping[str, Any]) -> "TierAbove":
        return cls(tier=d["tier"], rate=_dec(d["rate"]), ways=[Way._from(w) for w in d["ways"]], commission=_dec(d["commission"]))


@dataclass(frozen=True)
class Estimate(_Canonical, _Tabular):
    """The result of ``estimate``. Table ``"curve"`` (default): one row per tier boundary."""

    program: ProgramRef
    engine: Engine
    currency: str
    volume: Decimal
    fees: Decimal
    tier: Optional[str]
    rate: Decimal
    rates: Dict[str, Decimal]
    metrics: Dict[str, Decimal]
    commission: Decimal
    next: Optional[CurvePoint]
    curve: List[CurvePoint]
    tiers_above: List[TierAbove]
    """Every tier above, with every threshold still missing (volume and active clients)."""
    _json: str = field(repr=False, compare=False, default="")
    _default_table = "curve"

    @classmethod
    def _from_json(cls, text: str) -> "Estimate":
        d = json.loads(text)
        nxt = d.get("next")
        return cls(
            program=ProgramRef._from(d["program"]),
            engine=Engine._from(d["engine"]),
            currency=d["currency"],
            volume=_dec(d["volume"]),
            fees=_dec(d["fees"]),
            tier=d.get("tier"),
            rate=_dec(d["rate"]),
            rates=_decmap(d.get("rates") or {}),
            metrics=_decmap(d.get("metrics") or {}),
            commission=_dec(d["commission"]),
            next=None if nxt is None else CurvePoint._from(nxt),
            curve=[CurvePoint._from(c) for c in d.get("curve") or []],
            tiers_above=[TierAbove._from(t) for t in d.get("tiers_above") or []],
            _json=text,
        )

    def _columns(self, table: str) -> Sequence["tuple[str, str, List[Any]]"]:
        if table != "curve":
            raise ValueError(f"unknown table {table!r} (curve)")
        c = self.to_dict().get("curve") or []
        return [
            ("tier", _STR, [p.get("tier") for p in c]),
            ("rate", _DEC, [p["rate"] for p in c]),
            ("volume", _DEC, [p["volume"] for p in c]),
            ("volume_needed", _DEC, [p["volume_needed"] for p in c]),
            ("commission", _DEC, [p["commission"] for p in c]),
        ]


@dataclass(frozen=True)
class Side:
    """A period as one run settled it (``actual`` or ``what_if`` of a :class:`PeriodWhatIf`)."""

    tier: Optional[str]
    rate: Decimal
    metrics: Dict[str, Decimal]
    """The tier basis: each tier metric over the period's tier window."""
    volume: Decimal
    eligible_volume: Decimal
    commission: Decimal
    withheld: Decimal
    """The rounded commission computed but not paid because the broker is withheld."""
    kickback: Optional[Decimal]
    """Programs with client kickbacks (okx-v5): the clients' part; else ``None``."""

    @classmethod
    def _from(cls, d: Mapping[str, Any]) -> "Side":
        return cls(
            tier=d.get("tier"),
            rate=_dec(d["rate"]),
            metrics=_decmap(d.get("metrics") or {}),
            volume=_dec(d["volume"]),
            eligible_volume=_dec(d["eligible_volume"]),
            commission=_dec(d["commission"]),
            withheld=_dec(d["withheld"]),
            kickback=_dec(d["kickback"]) if d.get("kickback") is not None else None,
        )


@dataclass(frozen=True)
class Change:
    """An amount as settled (``actual``), with the volume grown (``what_if``), and the change."""

    actual: Decimal
    what_if: Decimal
    difference: Decimal

    @classmethod
    def _from(cls, d: Mapping[str, Any]) -> "Change":
        return cls(actual=_dec(d["actual"]), what_if=_dec(d["what_if"]), difference=_dec(d["difference"]))

    @classmethod
    def _opt(cls, d: Optional[Mapping[str, Any]]) -> "Optional[Change]":
        return cls._from(d) if d is not None else None


@dataclass(frozen=True)
class PeriodWhatIf:
    """One settlement period, actual beside what-if."""

    period_start: datetime
    period_end: datetime
    history: str
    actual: Side
    what_if: Side
    difference: Decimal

    @classmethod
    def _from(cls, d: Mapping[str, Any]) -> "PeriodWhatIf":
        return cls(
            period_start=_time(d["period_start"]),
            period_end=_time(d["period_end"]),
            history=d["history"],
            actual=Side._from(d["actual"]),
            what_if=Side._from(d["what_if"]),
            difference=_dec(d["difference"]),
        )


@dataclass(frozen=True)
class BrokerWhatIf:
    """One broker, actual beside what-if, with its payable totals."""

    broker: str
    status: str
    periods: List[PeriodWhatIf]
    actual: Decimal
    what_if: Decimal
    difference: Decimal
    withheld: Change
    """The broker's withheld total (0 unless it is withheld), as settled and grown."""
    kickback: Optional[Change]
    """Programs with client kickbacks: its clients' part, as settled and grown; else ``None``."""

    @classmethod
    def _from(cls, d: Mapping[str, Any]) -> "BrokerWhatIf":
        return cls(
            broker=d["broker"],
            status=d["status"],
            periods=[PeriodWhatIf._from(p) for p in d["periods"]],
            actual=_dec(d["actual"]),
            what_if=_dec(d["what_if"]),
            difference=_dec(d["difference"]),
            withheld=Change._from(d["withheld"]),
            kickback=Change._opt(d.get("kickback")),
        )


@dataclass(frozen=True)
class WhatIf(_Canonical, _Tabular):
    """The result of ``estimate(program, actuals=..., growth=...)``: the actuals settled as
    given and with every notional and fee times ``factor`` (``1 + growth``), per broker and
    period. Table ``"periods"`` (default): one row per broker and period."""

    program: ProgramRef
    engine: Engine
    currency: str
    growth: Decimal
    factor: Decimal
    brokers: List[BrokerWhatIf]
    actual: Decimal
    what_if: Decimal
    difference: Decimal
    withheld: Change
    """Withheld totals of the brokers shown."""
    kickback: Optional[Change]
    """Programs with client kickbacks: the clients' part of the brokers shown; else ``None``."""
    rejected: List[Rejected]
    incomplete_history: List[IncompleteHistory]
    _json: str = field(repr=False, compare=False, default="")
    _default_table = "periods"

    @classmethod
    def _from_json(cls, text: str) -> "WhatIf":
        d = json.loads(text)
        return cls(
            program=ProgramRef._from(d["program"]),
            engine=Engine._from(d["engine"]),
            currency=d["currency"],
            growth=_dec(d["growth"]),
            factor=_dec(d["factor"]),
            brokers=[BrokerWhatIf._from(b) for b in d["brokers"]],
            actual=_dec(d["actual"]),
            what_if=_dec(d["what_if"]),
            difference=_dec(d["difference"]),
            withheld=Change._from(d["withheld"]),
            kickback=Change._opt(d.get("kickback")),
            rejected=[Rejected._from(r) for r in d.get("rejected") or []],
            incomplete_history=[IncompleteHistory._from(h) for h in d.get("incomplete_history") or []],
            _json=text,
        )

    def _columns(self, table: str) -> Sequence["tuple[str, str, List[Any]]"]:
        d = self.to_dict()
        if table == "rejected":
            return _rejected_columns(d.get("rejected") or [])
        if table != "periods":
            raise ValueError(f"unknown table {table!r} (periods, rejected)")
        rows = [(b, p) for b in d["brokers"] for p in b["periods"]]
        return [
            ("broker", _STR, [b["broker"] for b, _ in rows]),
            ("status", _STR, [b["status"] for b, _ in rows]),
            ("period_start", _TIME, [p["period_start"] for _, p in rows]),
            ("history", _STR, [p["history"] for _, p in rows]),
            ("actual_tier", _STR, [p["actual"].get("tier") for _, p in rows]),
            ("what_if_tier", _STR, [p["what_if"].get("tier") for _, p in rows]),
            ("actual_volume", _DEC, [p["actual"]["volume"] for _, p in rows]),
            ("what_if_volume", _DEC, [p["what_if"]["volume"] for _, p in rows]),
            ("actual_commission", _DEC, [p["actual"]["commission"] for _, p in rows]),
            ("what_if_commission", _DEC, [p["what_if"]["commission"] for _, p in rows]),
            ("difference", _DEC, [p["difference"] for _, p in rows]),
            ("actual_withheld", _DEC, [p["actual"]["withheld"] for _, p in rows]),
            ("what_if_withheld", _DEC, [p["what_if"]["withheld"] for _, p in rows]),
        ] + ([
            ("actual_kickback", _DEC, [p["actual"]["kickback"] for _, p in rows]),
            ("what_if_kickback", _DEC, [p["what_if"]["kickback"] for _, p in rows]),
        ] if d.get("kickback") is not None else [])


@dataclass(frozen=True)
class Validation(_Canonical):
    """The result of ``validate``: every problem found (as exception objects, not raised)."""

    valid: bool
    problems: List[BrokerRulesError]
    _json: str = field(repr=False, compare=False, default="")

    @classmethod
    def _from_json(cls, text: str) -> "Validation":
        d = json.loads(text)
        return cls(valid=bool(d["valid"]), problems=[error_from(p) for p in d.get("problems") or []], _json=text)

    def __bool__(self) -> bool:
        return self.valid


@dataclass(frozen=True)
class ProgramInfo:
    """One built-in program, as ``programs()`` lists it."""

    id: str
    name: str
    version: str
    sha256: str
    currency: str
    notes: List[str]

    @classmethod
    def _from(cls, d: Mapping[str, Any]) -> "ProgramInfo":
        return cls(
            id=d["id"],
            name=d["name"],
            version=d["version"],
            sha256=d["sha256"],
            currency=d["currency"],
            notes=list(d.get("notes") or []),
        )


@dataclass(frozen=True)
class Program(_Canonical):
    """A program file (what ``program(id)`` returns). Pass it, or ``to_dict()`` edited, to
    ``settle`` / ``estimate`` as ``program=``."""

    id: str
    name: str
    version: str
    _json: str = field(repr=False, compare=False, default="")

    @classmethod
    def _from_json(cls, text: str) -> "Program":
        d = json.loads(text)
        return cls(id=d["id"], name=d.get("name", d["id"]), version=str(d.get("version", "")), _json=text)

    @property
    def notes(self) -> List[str]:
        return list(self.to_dict().get("notes") or [])


@dataclass(frozen=True)
class Figures:
    """One side's figures for a reconciliation key: ours (exact commission) or the report's."""

    count: int
    volume: Optional[Decimal]
    fee: Optional[Decimal]
    tier: Optional[str]
    rate: Optional[Decimal]
    commission: Decimal

    @classmethod
    def _from(cls, d: Optional[Mapping[str, Any]]) -> "Optional[Figures]":
        if d is None:
            return None
        return cls(
            count=int(d["count"]),
            volume=_opt_dec(d.get("volume")),
            fee=_opt_dec(d.get("fee")),
            tier=d.get("tier"),
            rate=_opt_dec(d.get("rate")),
            commission=_dec(d["commission"]),
        )


_DETAIL_DECIMALS = ("our_rate", "their_rate", "fee_difference", "volume_difference")
_DETAIL_KEYS = ("reason", "our_tier", "their_tier", "our_rate", "their_rate", "their_broker", "fee_difference", "volume_difference")
_KEY_FIELDS = ("broker", "period_start", "account", "day", "order", "id")


@dataclass(frozen=True)
class ReconcileRow:
    """A key that did not match (or every key with ``all=True``): status, cause, both sides."""

    key: Dict[str, str]
    broker: Optional[str]
    status: str
    cause: Optional[str]
    detail: Dict[str, Any]
    ours: Optional[Figures]
    theirs: Optional[Figures]
    difference: Decimal

    @classmethod
    def _from(cls, d: Mapping[str, Any]) -> "ReconcileRow":
        detail = {k: (_dec(v) if k in _DETAIL_DECIMALS else v) for k, v in d["detail"].items()}
        return cls(
            key=dict(d["key"]),
            broker=d.get("broker"),
            status=d["status"],
            cause=d.get("cause"),
            detail=detail,
            ours=Figures._from(d.get("ours")),
            theirs=Figures._from(d.get("theirs")),
            difference=_dec(d["difference"]),
        )


@dataclass(frozen=True)
class ReconcileSummary:
    """Counts per status and cause, both totals and ``difference = theirs - ours``."""

    keys: int
    counts: Dict[str, int]
    causes: Dict[str, int]
    ours: Decimal
    theirs: Decimal
    difference: Decimal
    report_rows: int

    @classmethod
    def _from(cls, d: Mapping[str, Any]) -> "ReconcileSummary":
        return cls(
            keys=int(d["keys"]),
            counts={k: int(v) for k, v in d["counts"].items()},
            causes={k: int(v) for k, v in d["causes"].items()},
            ours=_dec(d["ours"]),
            theirs=_dec(d["theirs"]),
            difference=_dec(d["difference"]),
            report_rows=int(d["report_rows"]),
        )


@dataclass(frozen=True)
class Reconciliation(_Canonical, _Tabular):
    """The result of ``reconcile``. Table ``"rows"`` (default): one row per listed key, its
    key fields, status, cause, both sides' figures, the difference and the detail."""

    program: ProgramRef
    engine: Engine
    currency: str
    by: str
    report_format: str
    tolerance: Decimal
    summary: ReconcileSummary
    rows: List[ReconcileRow]
    _json: str = field(repr=False, compare=False, default="")
    _default_table = "rows"

    @classmethod
    def _from_json(cls, text: str) -> "Reconciliation":
        d = json.loads(text)
        return cls(
            program=ProgramRef._from(d["program"]),
            engine=Engine._from(d["engine"]),
            currency=d["currency"],
            by=d["by"],
            report_format=d["report_format"],
            tolerance=_dec(d["tolerance"]),
            summary=ReconcileSummary._from(d["summary"]),
            rows=[ReconcileRow._from(r) for r in d["rows"]],
            _json=text,
        )

    @property
    def matched(self) -> bool:
        """Every key matched (within the tolerance)."""
        c = self.summary.counts
        return c["differs"] + c["only_ours"] + c["only_theirs"] == 0

    def _columns(self, table: str) -> Sequence["tuple[str, str, List[Any]]"]:
        if table != "rows":
            raise ValueError(f"unknown table {table!r} (rows)")
        rows = self.to_dict()["rows"]
        cols: List["tuple[str, str, List[Any]]"] = []
        for k in _KEY_FIELDS:
            name = "key_broker" if k == "broker" else k
            kind = _TIME if k == "period_start" else _STR
            cols.append((name, kind, [r["key"].get(k) for r in rows]))
        cols += [
            ("broker", _STR, [r["broker"] for r in rows]),
            ("status", _STR, [r["status"] for r in rows]),
            ("cause", _STR, [r["cause"] for r in rows]),
        ]
        for side, prefix in (("ours", "our"), ("theirs", "their")):
            cols += [
                (f"{prefix}_count", _INT, [None if r[side] is None else r[side]["count"] for r in rows]),
                (f"{prefix}_volume", _DEC, [None if r[side] is None else r[side]["volume"] for r in rows]),
                (f"{prefix}_fee", _DEC, [None if r[side] is None else r[side]["fee"] for r in rows]),
                (f"{prefix}_tier", _STR, [None if r[side] is None else r[side]["tier"] for r in rows]),
                (f"{prefix}_rate", _DEC, [None if r[side] is None else r[side]["rate"] for r in rows]),
                (f"{prefix}_commission", _DEC, [None if r[side] is None else r[side]["commission"] for r in rows]),
            ]
        cols.append(("difference", _DEC, [r["difference"] for r in rows]))
        for k in _DETAIL_KEYS:
            kind = _DEC if k in _DETAIL_DECIMALS else _STR
            cols.append((f"detail_{k}", kind, [r["detail"].get(k) for r in rows]))
        return cols
