"""broker-rules: crypto-exchange broker commissions, exactly.

The one Rust engine (the same bytes as the CLI, the browser and Node), with exact
``decimal.Decimal`` amounts, UTC ``datetime`` times, and trades from lists of dicts, JSON
text or files, pandas, Polars and pyarrow.

>>> import broker_rules as br
>>> [p.id for p in br.programs()]  # doctest: +SKIP
['backpack', 'okx', 'xt']
"""

from __future__ import annotations

import functools
import json
import os
from datetime import date, datetime, timezone
from decimal import Decimal, InvalidOperation
from typing import Any, Callable, Dict, Iterable, List, Mapping, Optional, Sequence, Tuple, TypeVar, Union, overload

from . import _native
from ._errors import (
    ERRORS,
    BrokerRulesError,
    DecimalError,
    DecimalOverflowError,
    DivisionByZeroError,
    DuplicateIdError,
    ExprError,
    FieldError,
    InexactError,
    InternalError,
    PartialStateError,
    InvalidValueError,
    OptionsError,
    ParseError,
    ProgramError,
    RegistryError,
    TimeError,
    UnknownProgramError,
    UnknownValueError,
    error_from,
)
from ._results import (
    BrokerStatement,
    CurvePoint,
    Engine,
    Estimate,
    Excluded,
    Explanation,
    IncompleteHistory,
    Line,
    Period,
    Figures,
    Program,
    ProgramInfo,
    ProgramRef,
    ReconcileRow,
    ReconcileSummary,
    Reconciliation,
    Rejected,
    Span,
    Statement,
    Summary,
    Tally,
    TierAbove,
    Validation,
    Way,
    Need,
    Side,
    Change,
    PeriodWhatIf,
    BrokerWhatIf,
    WhatIf,
)

__version__: str = _native.engine_version()

__all__ = [
    "__version__",
    "programs",
    "program",
    "settle",
    "explain",
    "estimate",
    "compile",
    "Compiled",
    "validate",
    "partial",
    "merge",
    "merge_states",
    "reconcile",
    "call",
    "TRADE_FIELDS",
    "REPORT_FORMATS",
    # results
    "Statement",
    "BrokerStatement",
    "Period",
    "Excluded",
    "Tally",
    "Span",
    "IncompleteHistory",
    "Line",
    "Rejected",
    "Summary",
    "Explanation",
    "Estimate",
    "WhatIf",
    "BrokerWhatIf",
    "PeriodWhatIf",
    "Side",
    "Change",
    "CurvePoint",
    "TierAbove",
    "Way",
    "Need",
    "Validation",
    "ProgramInfo",
    "Program",
    "ProgramRef",
    "Engine",
    "Reconciliation",
    "ReconcileSummary",
    "ReconcileRow",
    "Figures",
    # errors
    "BrokerRulesError",
    "ParseError",
    "FieldError",
    "DecimalError",
    "TimeError",
    "InvalidValueError",
    "DuplicateIdError",
    "ProgramError",
    "ExprError",
    "DecimalOverflowError",
    "DivisionByZeroError",
    "InexactError",
    "UnknownProgramError",
    "RegistryError",
    "OptionsError",
    "UnknownValueError",
    "InternalError",
    "PartialStateError",
    "ERRORS",
]

#: The trade fields, in documentation order.
TRADE_FIELDS: Tuple[str, ...] = tuple(_native.trade_fields())

#: Request keys whose values are decimals: a Python ``int`` there is sent as exact text.
_DECIMAL_KEYS = frozenset(
    {"notional", "fee", "fee_rate", "affiliate_rate", "volume", "fees", "affiliate_share", "share", "parent_share"}
)

ProgramArg = Union[str, Program, Mapping[str, Any]]
TradesArg = Any
TimeArg = Union[str, datetime, None]

_FLOAT_HELP = (
    "binary floats cannot hold decimal amounts exactly; pass decimal.Decimal({r!r}) or the string {r!r} "
    "(or opt in with allow_float=True to convert floats through their shortest repr)"
)


# ---------------------------------------------------------------------------------------
# conversion of Python values to the engine's JSON


def _rfc3339(v: datetime) -> str:
    """An RFC 3339 UTC string; a naive datetime is taken as UTC."""
    if v.tzinfo is not None:
        v = v.astimezone(timezone.utc)
    s = v.strftime("%Y-%m-%dT%H:%M:%S")
    nanos = v.microsecond * 1000 + int(getattr(v, "nanosecond", 0) or 0)
    if nanos:
        s += "." + f"{nanos:09d}".rstrip("0")
    return s + "Z"


def _decimal_text(d: Decimal, where: str) -> str:
    if not d.is_finite():
        raise DecimalError(f"{where} is {d}, not a finite decimal", {"field": where})
    return format(d, "f")


def _jsonable(v: Any, where: str, allow_float: bool, decimal_key: bool = False, loc: Optional[Dict[str, Any]] = None) -> Any:
    """Python value -> JSON value with exact decimals. Floats raise DecimalError unless allowed."""
    if v is None or isinstance(v, (str, bool)):
        return v
    if isinstance(v, Decimal):
        return _decimal_text(v, where)
    if isinstance(v, int):
        return str(v) if decimal_key else v
    if isinstance(v, float):
        if not allow_float:
            location = dict(loc or {})
            location["field"] = where.rsplit(".", 1)[-1] if loc else where
            raise DecimalError(f"{where} is the float {v!r}; " + _FLOAT_HELP.format(r=repr(v)), location)
        return _decimal_text(Decimal(repr(v)), where)
    if type(v).__name__ == "NaTType" or (isinstance(v, datetime) and v != v):
        location = dict(loc or {})
        location["field"] = where.rsplit(".", 1)[-1] if loc else where
        raise TimeError(f"{where} is NaT (not a time); every trade needs a time", location)
    if isinstance(v, datetime):
        return _rfc3339(v)
    if isinstance(v, date):
        return v.isoformat() + "T00:00:00Z"
    if isinstance(v, Program):
        return v.to_dict()
    if isinstance(v, Mapping):
        return {str(k): _jsonable(x, f"{where}.{k}", allow_float, str(k) in _DECIMAL_KEYS, loc) for k, x in v.items()}
    if isinstance(v, (list, tuple)):
        return [_jsonable(x, f"{where}[{i}]", allow_float, decimal_key, loc) for i, x in enumerate(v)]
    item = getattr(v, "item", None)  # numpy scalars
    if callable(item):
        return _jsonable(item(), where, allow_float, decimal_key, loc)
    raise FieldError(f"{where}: cannot send a {type(v).__name__} to the engine", {"field": where})


def _trade_json(t: Any, i: int, allow_float: bool) -> Any:
    if not isinstance(t, Mapping):
        return _jsonable(t, f"trades[{i}]", allow_float)
    loc: Dict[str, Any] = {"line": i + 1}
    tid = t.get("id")
    if isinstance(tid, str):
        loc["id"] = tid
    return {str(k): _jsonable(x, str(k), allow_float, str(k) in _DECIMAL_KEYS, loc) for k, x in t.items()}


def _program_json(program: ProgramArg) -> Any:
    if isinstance(program, Program):
        return program.to_dict()
    if isinstance(program, os.PathLike) or (isinstance(program, str) and program.endswith(".json")):
        # The rule: a str ending in .json, or any os.PathLike, is a program file; any other
        # str is a built-in id. Never decided from the file's existence or contents.
        path = os.fspath(program)
        text = _read_path(path, "program")
        try:
            return _checked_json(text, "program")
        except ParseError as e:
            raise ParseError(f"{path}: {e.message}", e.location) from None
    if isinstance(program, str):
        return program
    if isinstance(program, Mapping):
        return _jsonable(program, "program", False)
    raise FieldError("program must be a built-in id, a Program, a program dict or a .json path", {"field": "program"})


def _read_path(path: Any, what: str) -> str:
    """A file's text, or a BrokerRulesError naming ``what`` (never OSError/UnicodeDecodeError)."""
    try:
        with open(path, "rb") as f:
            data = f.read()
    except OSError as e:
        raise FieldError(f"{what}: cannot read {os.fspath(path)!r}: {e.strerror or e}", {"field": what}) from None
    return _utf8(data, what)


def _utf8(data: Union[bytes, bytearray, memoryview], what: str) -> str:
    try:
        return bytes(data).decode("utf-8")
    except UnicodeDecodeError as e:
        raise ParseError(f"{what}: the bytes are not UTF-8 (invalid byte at offset {e.start})", {"field": what}) from None


def _checked_json(text: str, what: str) -> Any:
    """JSON text parsed by the engine's own rules (duplicate keys refused), as a value."""
    try:
        return json.loads(text, object_pairs_hook=_no_duplicates, parse_constant=_bad_constant)
    except json.JSONDecodeError as e:
        raise ParseError(f"{what}: malformed JSON: {e.msg}", {"field": what, "line": e.lineno, "column": e.colno}) from None


def _bad_constant(t: str) -> Any:
    raise ParseError(f"{t} is not JSON (decimals are strings such as \"1.5\")", {})


def _no_duplicates(pairs: List[Tuple[str, Any]]) -> Dict[str, Any]:
    out: Dict[str, Any] = {}
    for k, v in pairs:
        if k in out:
            raise ParseError(f"duplicate key {k!r} (each key may appear once in an object)", {"field": k})
        out[k] = v
    return out


_F = TypeVar("_F", bound=Callable[..., Any])


def _guarded(f: _F) -> _F:
    """Every public function raises only BrokerRulesError subclasses: an exception Python
    itself raises while converting an argument becomes the error of its kind (the core's
    codes), so a caller catches one type and always gets ``code``, ``help`` and a location."""

    @functools.wraps(f)
    def g(*args: Any, **kwargs: Any) -> Any:
        try:
            return f(*args, **kwargs)
        except BrokerRulesError:
            raise
        except json.JSONDecodeError as e:
            raise ParseError(f"malformed JSON: {e.msg}", {"line": e.lineno, "column": e.colno}) from None
        except UnicodeError as e:
            raise ParseError(f"not UTF-8 text: {e}", {}) from None
        except InvalidOperation:
            raise DecimalError("a value is not a decimal (decimal.InvalidOperation); pass Decimal or str such as \"1234.56\"", {}) from None
        except OSError as e:
            raise FieldError(f"cannot read {e.filename!r}: {e.strerror or e}", {}) from None
        except (TypeError, ValueError, ArithmeticError, LookupError, AttributeError) as e:
            raise FieldError(f"{type(e).__name__}: {e}", {}) from None

    return g  # type: ignore[return-value]


def _unwrap(envelope: str) -> str:
    """The ``ok`` body of an envelope, byte for byte; raises the error otherwise."""
    if envelope.startswith('{"ok":'):
        return envelope[6:-1]
    try:
        err = json.loads(envelope)["error"]
    except Exception:  # pragma: no cover - the core always sends an envelope
        raise InternalError(f"malformed envelope from the engine: {envelope[:200]!r}") from None
    raise error_from(err)


@_guarded
def call(function: str, request: Union[str, Mapping[str, Any]] = "{}") -> str:
    """Calls a JSON entry point and returns the canonical envelope text, unchanged:
    ``{"ok": ...}`` or ``{"error": {...}}``. ``request`` is JSON text or a dict."""
    text = request if isinstance(request, str) else json.dumps(_jsonable(request, "request", False), ensure_ascii=False)
    return _native.call(function, text)


# ---------------------------------------------------------------------------------------
# trade sources


def _is_arrow_stream(x: Any) -> bool:
    return hasattr(x, "__arrow_c_stream__")


def _arrow_capsule(trades: Any) -> Any:
    mod = type(trades).__module__ or ""
    if mod.startswith("pandas"):
        import pyarrow as pa  # type: ignore[import-untyped,unused-ignore]

        return pa.Table.from_pandas(trades, preserve_index=False).__arrow_c_stream__()
    if mod.startswith("polars"):
        if hasattr(trades, "collect") and not hasattr(trades, "to_arrow"):
            trades = trades.collect()  # LazyFrame
        return trades.to_arrow().__arrow_c_stream__()
    if _is_arrow_stream(trades):
        return trades.__arrow_c_stream__()
    if hasattr(trades, "__arrow_c_array__"):  # a single record batch
        import pyarrow as pa  # type: ignore[import-untyped,unused-ignore]

        return pa.table(trades).__arrow_c_stream__()
    return None


_FORMATS = {".csv": "csv", ".ndjson": "ndjson", ".jsonl": "ndjson", ".json": "json"}

ColumnsArg = Optional[Mapping[str, str]]
#: A serialized partial state (what :func:`partial` and :func:`merge_states` return).
StateArg = Union[bytes, bytearray, memoryview]


def _request(
    program: Optional[ProgramArg],
    registry: Optional[Mapping[str, Any]],
    from_: TimeArg,
    to: TimeArg,
    lines: bool,
    strict: bool,
    allow_float: bool,
    complete_history: bool = False,
) -> Dict[str, Any]:
    """The request object without trades: program (none for a compiled program), registry,
    options."""
    req: Dict[str, Any] = {} if program is None else {"program": _program_json(program)}
    if registry is not None:
        req["registry"] = _jsonable(registry, "registry", allow_float)
    options: Dict[str, Any] = {}
    for key, v in (("from", from_), ("to", to)):
        if v is None:
            continue
        if type(v).__name__ == "NaTType" or (isinstance(v, datetime) and v != v):
            raise OptionsError(f"{key} is NaT (not a time)", {"field": f"options.{key}"})
        if isinstance(v, datetime):
            options[key] = _rfc3339(v)
        elif isinstance(v, date):  # a date: its midnight at the program's day offset (the core decides)
            options[key] = v.isoformat()
        elif isinstance(v, str):
            options[key] = v
        else:
            raise OptionsError(f"{key} must be a str, datetime or date, not {type(v).__name__}", {"field": f"options.{key}"})
    if lines:
        options["lines"] = True
    if strict:
        options["strict"] = True
    if complete_history:
        options["complete_history"] = True
    if options:
        req["options"] = options
    return req


def _columns(columns: ColumnsArg) -> List[Tuple[str, str]]:
    """``{"input_column": "trade_field"}`` as the engine's rename pairs."""
    if columns is None:
        return []
    if not isinstance(columns, Mapping):
        raise OptionsError("columns must be a dict {input_column: trade_field}, e.g. {'trade_id': 'id'}", {"field": "columns"})
    out = []
    for k, v in columns.items():
        if not isinstance(k, str) or not isinstance(v, str):
            raise OptionsError(f"columns: {k!r}: {v!r} must map a column name to a trade field name", {"field": "columns"})
        out.append((k, v))
    return out


def _id_column(columns: ColumnsArg) -> str:
    """The input column holding the trade id: the one renamed to ``id``, else ``id``."""
    src = [k for k, v in (columns or {}).items() if v == "id"]
    return src[-1] if src else "id"


def _partitioned(
    program: ProgramArg,
    registry: Optional[Mapping[str, Any]],
    from_: TimeArg,
    to: TimeArg,
    strict: bool,
    allow_float: bool,
    columns: ColumnsArg,
    names: Sequence[Any],
) -> Tuple[str, List[Tuple[str, str]], str]:
    """What the Spark and Dask modules need before they partition a DataFrame ``names`` of
    columns: the request JSON, the column renames and the id column (which must exist,
    since partitions are split by it)."""
    req = json.dumps(_request(program, registry, from_, to, False, strict, allow_float), ensure_ascii=False)
    id_col = _id_column(columns)
    if id_col not in names:
        raise FieldError(
            f"the DataFrame has no column {id_col!r} for the trade id (columns: {', '.join(map(str, names))}); "
            "rename with columns={'your_id_column': 'id'}",
            {"field": "id"},
        )
    return req, _columns(columns), id_col


def _source(trades: TradesArg, allow_float: bool, format: Optional[str]) -> Tuple[str, Any, Optional[str]]:
    """Classifies a trade input: ``("text", text, fmt)``, ``("file", path, fmt)``,
    ``("arrow", capsule, None)`` or ``("list", [trade json...], None)``."""
    if trades is None:
        trades = []
    # The rule (as pandas reads its first argument): a str or os.PathLike is a path to a
    # file; bytes, bytearray, memoryview or a file-like object (with .read()) is the
    # content itself. Nothing is guessed from what a str looks like.
    if isinstance(trades, (str, os.PathLike)):
        path = os.fspath(trades)
        if not isinstance(path, str):
            path = os.fsdecode(path)
        if not os.path.isfile(path):
            hint = ""
            if "\n" in path or path.lstrip()[:1] in ("[", "{") or "," in path:
                hint = "; a str is always a path: pass trade text as bytes (text.encode()) or io.StringIO(text)"
            raise FieldError(f"trades: no such file {path[:80]!r}{hint}", {"field": "trades"})
        return ("file", path, format)
    if hasattr(trades, "read") and callable(trades.read):
        data = trades.read()
        trades = data if isinstance(data, (bytes, bytearray, memoryview)) else str(data).encode("utf-8")
    if isinstance(trades, (bytes, bytearray, memoryview)):
        text = _utf8(trades, "trades")
        head = text.lstrip()[:1]
        fmt = format or ("json" if head == "[" else "ndjson" if head == "{" else "csv")
        return ("text", text, fmt)
    try:
        capsule = None if isinstance(trades, (list, tuple)) else _arrow_capsule(trades)
    except BrokerRulesError:
        raise
    except Exception as e:  # pyarrow's ArrowTypeError/ArrowInvalid on object columns, ...
        raise FieldError(f"trades: the table cannot be read as Arrow columns: {type(e).__name__}: {e}; "
                         "give decimal columns as Decimal or str and times as datetime or str", {"field": "trades"}) from None
    if capsule is not None:
        return ("arrow", capsule, None)
    if isinstance(trades, Mapping):
        raise FieldError("trades must be a list of trade dicts, not one dict", {"field": "trades"})
    if not isinstance(trades, Iterable):
        raise FieldError(f"cannot read trades from a {type(trades).__name__}", {"field": "trades"})
    return ("list", [_trade_json(t, i, allow_float) for i, t in enumerate(trades)], None)


def _settle(
    kind: str,
    program: Optional[ProgramArg],
    trades: TradesArg,
    registry: Optional[Mapping[str, Any]],
    from_: TimeArg,
    to: TimeArg,
    lines: bool,
    strict: bool,
    allow_float: bool,
    format: Optional[str],
    columns: ColumnsArg = None,
    compiled: Any = None,
    complete_history: bool = False,
) -> str:
    req = _request(None if compiled is not None else program, registry, from_, to, lines, strict, allow_float, complete_history)
    cols = _columns(columns)
    explain = kind == "explain"
    how, what, fmt = _source(trades, allow_float, format)
    text = json.dumps(req, ensure_ascii=False)
    if how == "text":
        return _native.settle_text(text, what, fmt or "csv", explain, cols, compiled)
    if how == "file":
        return _native.settle_file(text, what, fmt, explain, cols, compiled)
    if how == "arrow":
        return _native.settle_arrow(text, what, explain, allow_float, cols, compiled)
    if cols:  # renames apply to readers: send the list as JSON-array text
        return _native.settle_text(text, json.dumps(what, ensure_ascii=False), "json", explain, cols, compiled)
    req["trades"] = what
    if compiled is not None:
        return str(compiled.call(kind, json.dumps(req, ensure_ascii=False)))
    return _native.call(kind, json.dumps(req, ensure_ascii=False))


def _state(out: Union[bytes, str]) -> bytes:
    """The bytes a partial function returned, or its error raised."""
    if isinstance(out, bytes):
        return out
    _unwrap(out)
    raise InternalError("the engine returned no partial state")  # pragma: no cover


def _partial_request(request: str, trades: TradesArg, allow_float: bool, format: Optional[str], columns: List[Tuple[str, str]]) -> bytes:
    """:func:`partial` from a prepared request text (what Spark executors and Dask workers run)."""
    how, what, fmt = _source(trades, allow_float, format)
    if how == "text":
        return _state(_native.partial_text(request, what, fmt or "csv", columns))
    if how == "file":
        return _state(_native.partial_file(request, what, fmt, columns))
    if how == "arrow":
        return _state(_native.partial_arrow(request, what, allow_float, columns))
    return _state(_native.partial_text(request, json.dumps(what, ensure_ascii=False), "json", columns))


def _merger(request: str, states: Iterable[StateArg]) -> "_native.Merger":
    """A native merger with every state of ``states`` added (one at a time: an iterable
    is never held whole)."""
    if isinstance(states, (bytes, bytearray, memoryview)):
        raise FieldError("states must be an iterable of states (e.g. a list of bytes), not one state", {"field": "states"})
    m = _native.Merger(request)
    for i, st in enumerate(states):
        if isinstance(st, (bytearray, memoryview)):
            st = bytes(st)
        if not isinstance(st, bytes):
            raise FieldError(f"states[{i}] is a {type(st).__name__}, not the bytes of a partial state", {"field": "states"})
        err = m.add(st)
        if err is not None:
            _unwrap(err)
    return m


# ---------------------------------------------------------------------------------------
# the API


@_guarded
def programs() -> List[ProgramInfo]:
    """The built-in programs."""
    body = json.loads(_unwrap(_native.call("programs", "{}")))
    return [ProgramInfo._from(p) for p in body]


@_guarded
def program(id: str) -> Program:
    """A built-in program file (``to_dict()`` to copy and change a knob)."""
    return Program._from_json(_unwrap(_native.call("program", json.dumps({"id": id}))))


@_guarded
def settle(
    program: ProgramArg,
    trades: TradesArg = None,
    *,
    registry: Optional[Mapping[str, Any]] = None,
    from_: TimeArg = None,
    to: TimeArg = None,
    lines: bool = False,
    strict: bool = False,
    allow_float: bool = False,
    format: Optional[str] = None,
    columns: ColumnsArg = None,
    complete_history: bool = False,
) -> Statement:
    """Settles trades under a program; returns the :class:`Statement`.

    ``trades``: a list of dicts (decimals as ``Decimal``, ``int`` or ``str``; times as
    RFC 3339 strings or ``datetime``), JSON-array / NDJSON / CSV text, a path to a
    ``.csv``/``.ndjson``/``.json`` file, a pandas or Polars DataFrame, or a pyarrow Table /
    RecordBatchReader (anything with ``__arrow_c_stream__``). Floats where decimals belong
    raise :class:`DecimalError` unless ``allow_float=True``. The GIL is released while the
    engine runs. ``columns`` renames input columns to trade fields (``{"trade_id": "id"}``).
    ``complete_history=True`` states that no trades exist before the earliest one given (a
    new broker): periods whose tier window reaches before it are then not flagged
    ``history == "incomplete"``.
    """
    return Statement._from_json(_unwrap(_settle("settle", program, trades, registry, from_, to, lines, strict, allow_float, format, columns, complete_history=complete_history)))


@_guarded
def explain(
    program: ProgramArg,
    trades: TradesArg = None,
    *,
    registry: Optional[Mapping[str, Any]] = None,
    from_: TimeArg = None,
    to: TimeArg = None,
    strict: bool = False,
    allow_float: bool = False,
    format: Optional[str] = None,
    columns: ColumnsArg = None,
    complete_history: bool = False,
) -> Explanation:
    """One line per trade: broker, period, tier, rate, exact commission or exclusion reason."""
    return Explanation._from_json(_unwrap(_settle("explain", program, trades, registry, from_, to, True, strict, allow_float, format, columns, complete_history=complete_history)))


# ---------------------------------------------------------------------------------------
# partial states: settle parts of one trade set anywhere, merge them into its statement


@_guarded
def partial(
    program: ProgramArg,
    trades: TradesArg = None,
    *,
    registry: Optional[Mapping[str, Any]] = None,
    from_: TimeArg = None,
    to: TimeArg = None,
    strict: bool = False,
    allow_float: bool = False,
    format: Optional[str] = None,
    columns: ColumnsArg = None,
) -> bytes:
    """Settles a part of a trade set into a partial state: canonical, versioned,
    checksummed bytes to store or send anywhere and combine with :func:`merge` (a statement)
    or :func:`merge_states` (a state). ``trades`` is anything :func:`settle` takes (pyarrow,
    pandas, Polars, text, files, lists of dicts).

    The states of one settlement must come from disjoint sets of trade ids: split trades by
    a hash of their id (an identical duplicate then meets its copy in one part and counts
    once; a conflicting one is :class:`DuplicateIdError` there). A state carries each seen
    trade's id and content (de-duplication is exact), so it grows by about 65 bytes a trade on
    typical logs, plus its sums (brokers x periods x classes). The program, registry and options must be the same for every part and
    for the merge (else :class:`PartialStateError`). A program settled trade by trade
    (graduated mode, client caps) has no partial state: :class:`PartialStateError`. Rejected
    trades keep their row number within their part. The GIL is released.
    """
    req = json.dumps(_request(program, registry, from_, to, False, strict, allow_float), ensure_ascii=False)
    return _partial_request(req, trades, allow_float, format, _columns(columns))


@_guarded
def merge_states(
    program: ProgramArg,
    states: Iterable[StateArg],
    *,
    registry: Optional[Mapping[str, Any]] = None,
    from_: TimeArg = None,
    to: TimeArg = None,
    strict: bool = False,
) -> bytes:
    """Merges partial states (any number, any order) into one state, for a tree reduction:
    ``merge_states(p, [merge_states(p, a), merge_states(p, b)])`` is ``merge_states(p, a +
    b)``. The same program and options as :func:`partial`. Two states that saw one trade id
    are :class:`DuplicateIdError`; a corrupt, truncated or foreign state
    :class:`PartialStateError`."""
    req = json.dumps(_request(program, registry, from_, to, False, strict, False), ensure_ascii=False)
    return _state(_merger(req, states).to_bytes())


@_guarded
def merge(
    program: ProgramArg,
    states: Iterable[StateArg],
    *,
    registry: Optional[Mapping[str, Any]] = None,
    from_: TimeArg = None,
    to: TimeArg = None,
    strict: bool = False,
    complete_history: bool = False,
) -> Statement:
    """Merges partial states (any number, any order; an iterable is consumed one state at a
    time) and finishes: the :class:`Statement` that :func:`settle` gives on all their trades,
    byte for byte (``to_json()``), when no trade was rejected (a rejected trade's ``line`` is
    its row within its part). No states: the statement of no trades."""
    req = json.dumps(_request(program, registry, from_, to, False, strict, False, complete_history), ensure_ascii=False)
    return _merge_request(req, states)


def _merge_request(request: str, states: Iterable[StateArg]) -> Statement:
    """:func:`merge` from a prepared request text."""
    return Statement._from_json(_unwrap(_merger(request, states).finish()))


#: A volume growth: ``Decimal("0.2")``, ``"0.2"`` or ``"20%"`` (+20%), ``-1 < growth``.
GrowthArg = Union[Decimal, int, str]


@overload
def estimate(
    program: ProgramArg,
    *,
    actuals: TradesArg,
    growth: GrowthArg,
    broker: Optional[str] = None,
    registry: Optional[Mapping[str, Any]] = None,
    from_: TimeArg = None,
    to: TimeArg = None,
    strict: bool = False,
    complete_history: bool = False,
    format: Optional[str] = None,
    columns: ColumnsArg = None,
    allow_float: bool = False,
) -> WhatIf: ...
@overload
def estimate(program: ProgramArg, scenario: Optional[Mapping[str, Any]] = None, *, allow_float: bool = False, **fields: Any) -> Estimate: ...
@_guarded
def estimate(program: ProgramArg, scenario: Optional[Mapping[str, Any]] = None, *, allow_float: bool = False, **fields: Any) -> Union[Estimate, WhatIf]:
    """The dashboard question: tier, rate and commission for a scenario, the next tier and
    the commission curve. ``scenario`` is a dict, or give its fields as keywords
    (``volume=``, ``fee_rate=`` or ``fees=``, ``mix=``, ``affiliate_share=``,
    ``affiliate_rate=``, ``active_clients=``, ``vip=``).

    Or from settled actuals: ``estimate(program, actuals=trades, growth="20%")`` settles
    ``trades`` (anything :func:`settle` takes, with its ``registry=``, ``from_=``, ``to=``,
    ``strict=``, ``complete_history=``, ``format=``, ``columns=``) as given and with every
    notional and fee times ``1 + growth``, and returns a :class:`WhatIf`: per broker and
    period the tier, tier basis and commission of both runs and the difference
    (``broker=`` keeps one broker). Active clients do not grow."""
    if "actuals" in fields or "growth" in fields:
        return _estimate_actuals(program, scenario, allow_float, None, fields)
    req = {"program": _program_json(program), "scenario": _scenario(scenario, fields, allow_float)}
    return Estimate._from_json(_unwrap(_native.call("estimate", json.dumps(req, ensure_ascii=False))))


_ACTUALS_KEYS = ("actuals", "growth", "broker", "registry", "from_", "to", "strict", "complete_history", "format", "columns")


def _growth_json(growth: Any, allow_float: bool) -> Any:
    if isinstance(growth, int) and not isinstance(growth, bool):
        return str(growth)
    return _jsonable(growth, "growth", allow_float, True)


def _estimate_actuals(program: Optional[ProgramArg], scenario: Optional[Mapping[str, Any]], allow_float: bool, compiled: Any, fields: Mapping[str, Any]) -> WhatIf:
    """``estimate`` from actuals: the request is the core's (``actuals``, ``growth``,
    ``broker``); trades given as text, a file or an Arrow stream go through the native
    readers (read once per run), a list through the JSON request."""
    unknown = sorted(set(fields) - set(_ACTUALS_KEYS))
    if unknown:
        raise FieldError(f"estimate from actuals takes {', '.join(_ACTUALS_KEYS)}; not {', '.join(unknown)} (a scenario's fields)", {"field": unknown[0]})
    base = _request(None if compiled is not None else program, fields.get("registry"), fields.get("from_"), fields.get("to"), False, bool(fields.get("strict")), allow_float, bool(fields.get("complete_history")))
    actuals: Dict[str, Any] = {k: base.pop(k) for k in ("registry", "options") if k in base}
    req: Dict[str, Any] = dict(base)
    if scenario is not None:
        req["scenario"] = _jsonable(scenario, "scenario", allow_float)
    req["actuals"] = actuals
    if fields.get("growth") is not None:
        req["growth"] = _growth_json(fields["growth"], allow_float)
    if fields.get("broker") is not None:
        req["broker"] = fields["broker"]
    if "actuals" not in fields:  # the core names what is missing
        del req["actuals"]
        body = json.dumps(req, ensure_ascii=False)
        return WhatIf._from_json(_unwrap(str(compiled.call("estimate", body)) if compiled is not None else _native.call("estimate", body)))
    cols = _columns(fields.get("columns"))
    how, what, fmt = _source(fields.get("actuals"), allow_float, fields.get("format"))
    text = json.dumps(req, ensure_ascii=False)
    if how == "text":
        out = _native.estimate_text(text, what, fmt or "csv", cols, compiled)
    elif how == "file":
        out = _native.estimate_file(text, what, fmt, cols, compiled)
    elif how == "arrow":
        out = _native.estimate_arrow(text, what, allow_float, cols, compiled)
    elif cols:
        out = _native.estimate_text(text, json.dumps(what, ensure_ascii=False), "json", cols, compiled)
    else:
        actuals["trades"] = what
        body = json.dumps(req, ensure_ascii=False)
        out = str(compiled.call("estimate", body)) if compiled is not None else _native.call("estimate", body)
    return WhatIf._from_json(_unwrap(out))


def _scenario(scenario: Optional[Mapping[str, Any]], fields: Mapping[str, Any], allow_float: bool) -> Any:
    sc: Dict[str, Any] = dict(scenario or {})
    sc.update(fields)
    out = _jsonable(sc, "scenario", allow_float, False)
    # Top-level scenario decimals given as int are exact.
    for k in _DECIMAL_KEYS & set(out):
        if isinstance(out[k], int) and not isinstance(out[k], bool):
            out[k] = str(out[k])
    return out


class Compiled:
    """A program parsed, checked and hashed once, for many calls (:func:`compile`).
    :meth:`settle`, :meth:`explain` and :meth:`estimate` take the arguments of the functions
    of the same name without the program and give the same results."""

    __slots__ = ("_native",)

    def __init__(self, program: ProgramArg) -> None:
        native, err = _native.Compiled.make(json.dumps(_program_json(program), ensure_ascii=False))
        if native is None:
            _unwrap(err or '{"error":{"code":"E_INTERNAL","message":"no compiled program"}}')
            raise InternalError("no compiled program")  # pragma: no cover - _unwrap raised
        self._native: _native.Compiled = native

    def settle(
        self,
        trades: TradesArg = None,
        *,
        registry: Optional[Mapping[str, Any]] = None,
        from_: TimeArg = None,
        to: TimeArg = None,
        lines: bool = False,
        strict: bool = False,
        allow_float: bool = False,
        format: Optional[str] = None,
        columns: ColumnsArg = None,
        complete_history: bool = False,
    ) -> Statement:
        """:func:`settle` under this program."""
        return Statement._from_json(_unwrap(_settle("settle", None, trades, registry, from_, to, lines, strict, allow_float, format, columns, self._native, complete_history=complete_history)))

    def explain(
        self,
        trades: TradesArg = None,
        *,
        registry: Optional[Mapping[str, Any]] = None,
        from_: TimeArg = None,
        to: TimeArg = None,
        strict: bool = False,
        allow_float: bool = False,
        format: Optional[str] = None,
        columns: ColumnsArg = None,
        complete_history: bool = False,
    ) -> Explanation:
        """:func:`explain` under this program."""
        return Explanation._from_json(_unwrap(_settle("explain", None, trades, registry, from_, to, True, strict, allow_float, format, columns, self._native, complete_history=complete_history)))

    @overload
    def estimate(
        self,
        *,
        actuals: TradesArg,
        growth: GrowthArg,
        broker: Optional[str] = None,
        registry: Optional[Mapping[str, Any]] = None,
        from_: TimeArg = None,
        to: TimeArg = None,
        strict: bool = False,
        complete_history: bool = False,
        format: Optional[str] = None,
        columns: ColumnsArg = None,
        allow_float: bool = False,
    ) -> WhatIf: ...
    @overload
    def estimate(self, scenario: Optional[Mapping[str, Any]] = None, *, allow_float: bool = False, **fields: Any) -> Estimate: ...
    def estimate(self, scenario: Optional[Mapping[str, Any]] = None, *, allow_float: bool = False, **fields: Any) -> Union[Estimate, WhatIf]:
        """:func:`estimate` under this program (a scenario, or ``actuals=`` with ``growth=``)."""
        if "actuals" in fields or "growth" in fields:
            return _estimate_actuals(None, scenario, allow_float, self._native, fields)
        req = {"scenario": _scenario(scenario, fields, allow_float)}
        return Estimate._from_json(_unwrap(self._native.call("estimate", json.dumps(req, ensure_ascii=False))))


def compile(program: ProgramArg) -> Compiled:
    """The program parsed, checked and hashed once: ``compile("backpack").estimate(s)``
    equals ``estimate("backpack", s)``; settle and explain likewise."""
    return Compiled(program)


@_guarded
def validate(
    program: Optional[ProgramArg] = None,
    trades: TradesArg = None,
    *,
    registry: Optional[Mapping[str, Any]] = None,
    strict: bool = False,
    allow_float: bool = False,
    format: Optional[str] = None,
) -> Validation:
    """Lists every problem of a program, trades or a registry. ``trades``: a list of dicts,
    a path (str / os.PathLike) or content (bytes / file-like; ``format`` csv, ndjson or
    json, else taken from the first character), as :func:`settle` reads them."""
    req: Dict[str, Any] = {}
    if program is not None:
        req["program"] = _program_json(program)
    if trades is not None:
        if isinstance(trades, (str, os.PathLike, bytes, bytearray, memoryview)) or hasattr(trades, "read"):
            how, what, fmt = _source(trades, allow_float, format)
            if how == "file":
                fmt = fmt or _FORMATS.get(os.path.splitext(str(what))[1].lower(), "csv")
                what = _read_path(what, "trades")
            req["trades"] = what
            req["format"] = fmt
        elif isinstance(trades, (list, tuple)):
            req["trades"] = [_trade_json(t, i, allow_float) for i, t in enumerate(trades)]
        else:
            raise FieldError("validate takes trades as a list of dicts or JSON text; settle a DataFrame and read .rejected", {"field": "trades"})
        if strict:
            req["options"] = {"strict": True}
    if registry is not None:
        req["registry"] = _jsonable(registry, "registry", allow_float)
    return Validation._from_json(_unwrap(_native.call("validate", json.dumps(req, ensure_ascii=False))))


#: The report formats built into the engine (``report_format=`` by name).
REPORT_FORMATS: Tuple[str, ...] = ("okx-rebate-per-orders", "bitget-customer-commissions", "generic")


@_guarded
def reconcile(
    program: ProgramArg,
    trades: TradesArg,
    report: Any,
    *,
    by: str,
    report_format: Union[str, Mapping[str, Any]] = "generic",
    map: Optional[Mapping[str, str]] = None,
    tolerance: Union[Decimal, str, int, None] = None,
    all: bool = False,
    broker: Optional[str] = None,
    registry: Optional[Mapping[str, Any]] = None,
    from_: TimeArg = None,
    to: TimeArg = None,
    allow_float: bool = False,
    format: Optional[str] = None,
    columns: ColumnsArg = None,
) -> Reconciliation:
    """Checks a payout: the engine's commission beside the exchange's own report, key by key
    (``by``: ``"trade"``, ``"order"``, ``"account-day"`` or ``"period"``), with a status and
    the cause of every difference (the core decides both; see the README's "Checking a
    payout").

    ``trades``: anything :func:`settle` takes (a list of dicts, a path to a CSV / NDJSON /
    JSON / Parquet file, bytes or a file-like object, a pandas or Polars DataFrame, a pyarrow
    Table). ``report``: the report's CSV or Parquet file as a path (str / os.PathLike) or
    content (bytes / file-like); a Parquet report's decimals are read exactly and binary
    floats in a money column are refused (:class:`DecimalError`). ``report_format``: a built-in name
    (:data:`REPORT_FORMATS`) or a format dict; ``map`` adds ``{"column": "field"}``
    mappings. ``tolerance`` is absolute and inclusive, in the program's currency (default:
    one unit of its scale). ``columns`` renames the trades' columns to trade fields, as in
    :func:`settle` (``{"tradeId": "id"}``).
    """
    req = _request(program, registry, from_, to, False, False, allow_float)
    cols = _columns(columns)
    if isinstance(report, (str, os.PathLike)):
        try:
            with open(report, "rb") as f:
                raw: Union[str, bytes] = f.read()
        except OSError as e:
            raise FieldError(f"report: cannot read {os.fspath(report)!r}: {e.strerror or e}", {"field": "report"}) from None
    elif hasattr(report, "read") and callable(report.read):
        raw = report.read()
    elif isinstance(report, (bytes, bytearray, memoryview)):
        raw = bytes(report)
    else:
        raise FieldError("report must be a path to the report's CSV or Parquet file, or its bytes / a file-like object", {"field": "report"})
    # A Parquet report is not text: its bytes go beside the request to the engine's reader.
    parquet = raw if isinstance(raw, bytes) and raw[:4] == b"PAR1" else None
    if parquet is None:
        req["report"] = raw if isinstance(raw, str) else _utf8(raw, "report")
    # Trades as settle takes them: text and lists travel in the request; a file (Parquet
    # too) and Arrow / DataFrames are fed to the engine by the extension.
    how, what, fmt = _source(trades, allow_float, format)
    if (bool(cols) or parquet is not None) and how == "list":  # sent as JSON-array text to the readers
        how, what, fmt = "text", json.dumps(what, ensure_ascii=False), "json"
    beside = how == "text" and (bool(cols) or parquet is not None)
    if how == "text" and not beside:
        req["trades"] = what
        req["format"] = fmt
    elif how == "list":
        req["trades"] = what
    if isinstance(report_format, str):
        req["report_format"] = report_format
    elif isinstance(report_format, Mapping):
        req["report_format"] = _jsonable(report_format, "report_format", False)
    else:
        raise FieldError("report_format must be a built-in format name or a format dict", {"field": "report_format"})
    if map is not None:
        req["map"] = _jsonable(map, "map", False)
    req["by"] = by
    if tolerance is not None:
        if isinstance(tolerance, float):
            raise DecimalError(f"tolerance is the float {tolerance!r}; " + _FLOAT_HELP.format(r=repr(tolerance)), {"field": "tolerance"})
        req["tolerance"] = _decimal_text(tolerance, "tolerance") if isinstance(tolerance, Decimal) else str(tolerance)
    if all:
        req["all"] = True
    if broker is not None:
        req["broker"] = broker
    text = json.dumps(req, ensure_ascii=False)
    if beside:
        return Reconciliation._from_json(_unwrap(_native.reconcile_text(text, what, fmt or "csv", cols, parquet)))
    if how == "file":
        return Reconciliation._from_json(_unwrap(_native.reconcile_file(text, what, fmt, cols, parquet)))
    if how == "arrow":
        return Reconciliation._from_json(_unwrap(_native.reconcile_arrow(text, what, allow_float, cols, parquet)))
    return Reconciliation._from_json(_unwrap(_native.call("reconcile", text)))
