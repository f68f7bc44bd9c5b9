"""Issue 11: Python raises only BrokerRulesError subclasses, each with ``code``, ``help`` and
a location, for every input the issue found escaping as a raw Python exception; and the
rule for reading an argument (a str / os.PathLike is a path, bytes / file-like is content)."""

from __future__ import annotations

import io
from datetime import date, datetime, timezone
from decimal import Decimal
from pathlib import Path
from typing import Any, Callable, Dict

import numpy as np
import pandas as pd
import pytest

import broker_rules as br

T: Dict[str, Any] = {"id": "t1", "time": "2026-06-01T10:00:00Z", "account": "c1", "broker": "B1",
                     "channel": "api", "product": "spot", "notional": "1000", "fee": "1"}
CSV = "id,time,account,broker,channel,product,notional,fee\nt1,2026-06-01T10:00:00Z,c1,B1,api,spot,1000,1\n"


def raised(f: Callable[[], Any]) -> br.BrokerRulesError:
    with pytest.raises(br.BrokerRulesError) as e:
        f()
    err = e.value
    assert err.help, f"{err.code} has no help"
    assert err.help == br._native.error_help(err.code)
    return err


def test_text_in_a_str_is_a_path_never_content() -> None:
    e = raised(lambda: br.settle("backpack", '[{"id": "t1"}]'))  # no newline: was FileNotFoundError
    assert (type(e), e.code, e.field) == (br.FieldError, "E_FIELD", "trades")
    assert "a str is always a path" in e.message
    e = raised(lambda: br.settle("backpack", CSV))
    assert e.field == "trades" and "no such file" in e.message


def test_content_is_bytes_or_file_like() -> None:
    want = br.settle("backpack", [T]).to_json()
    assert br.settle("backpack", CSV.encode()).to_json() == want
    assert br.settle("backpack", bytearray(CSV.encode())).to_json() == want
    assert br.settle("backpack", io.StringIO(CSV)).to_json() == want
    assert br.settle("backpack", io.BytesIO(CSV.encode()), format="csv").to_json() == want
    assert br.settle("backpack", [T]).commission == Decimal("0.20")  # fee 1 x BKR 0's 20%


def test_path_objects_are_paths(tmp_path: Path) -> None:
    p = tmp_path / "t.csv"
    p.write_text(CSV)
    assert br.settle("backpack", p).commission == Decimal("0.20")
    assert br.settle("backpack", str(p)).commission == Decimal("0.20")


def test_non_utf8_bytes() -> None:
    e = raised(lambda: br.settle("backpack", b"id,time\n\xff\xfe,x\n"))  # was UnicodeDecodeError
    assert (e.code, e.field) == ("E_PARSE", "trades")
    assert "offset 8" in e.message


def test_bad_program_file(tmp_path: Path) -> None:
    p = tmp_path / "p.json"
    p.write_text('{"id": "x",')  # was JSONDecodeError
    e = raised(lambda: br.settle(str(p), [T]))
    assert (e.code, e.field, e.line) == ("E_PARSE", "program", 1)
    e = raised(lambda: br.settle(str(tmp_path / "missing.json"), [T]))  # was FileNotFoundError
    assert (e.code, e.field) == ("E_FIELD", "program")
    p.write_text('{"id": "x", "id": "y"}')
    e = raised(lambda: br.settle(p, [T]))
    assert e.code == "E_PARSE" and "duplicate key 'id'" in e.message
    p.write_bytes(b'{"id": "\xff"}')
    assert raised(lambda: br.settle(p, [T])).code == "E_PARSE"


def test_numpy_floats_are_decimal_errors() -> None:
    e = raised(lambda: br.settle("backpack", [dict(T, fee=np.float64(0.5))]))
    assert (type(e), e.field, e.line, e.id) == (br.DecimalError, "fee", 1, "t1")
    e = raised(lambda: br.settle("backpack", [dict(T, notional=np.float32("nan"))]))
    assert (e.code, e.field) == ("E_DECIMAL", "notional")
    e = raised(lambda: br.settle("backpack", [dict(T, fee=float("inf"))]))
    assert (e.code, e.field) == ("E_DECIMAL", "fee")
    e = raised(lambda: br.settle("backpack", [dict(T, fee=Decimal("NaN"))]))
    assert e.code == "E_DECIMAL"
    e = raised(lambda: br.estimate("backpack", volume=np.float64(1e6), fees="1"))
    assert (e.code, e.field) == ("E_DECIMAL", "scenario.volume")


def test_nat_and_dates() -> None:
    e = raised(lambda: br.settle("backpack", [dict(T, time=pd.NaT)]))  # was ValueError
    assert (type(e), e.field, e.line) == (br.TimeError, "time", 1)
    e = raised(lambda: br.settle("backpack", [T], from_=pd.NaT))
    assert (e.code, e.field) == ("E_OPTIONS", "options.from")
    # a date is its midnight UTC (as the CLI's --from): June 2 excludes a June 1 trade
    st = br.settle("backpack", [T], from_=date(2026, 6, 2))  # was TypeError
    assert st.brokers == [] or st.commission == Decimal("0")
    st = br.settle("backpack", [dict(T, time=datetime(2026, 6, 1, 10, tzinfo=timezone.utc))])
    assert st.commission == Decimal("0.20")
    e = raised(lambda: br.settle("backpack", [T], from_=20260601))  # type: ignore[arg-type]
    assert (e.code, e.field) == ("E_OPTIONS", "options.from")


def test_object_columns() -> None:
    df = pd.DataFrame([T, dict(T, id="t2")])
    df["fee"] = pd.Series([Decimal("1"), object()], dtype=object)  # was ArrowTypeError
    e = raised(lambda: br.settle("backpack", df))
    assert e.code in ("E_FIELD", "E_DECIMAL") and e.field in ("trades", "fee")
    df["fee"] = pd.Series([Decimal("1"), 0.5], dtype=object)  # a float among Decimals
    e = raised(lambda: br.settle("backpack", df))
    assert e.code in ("E_FIELD", "E_DECIMAL")


def test_invalid_operation_and_type_errors() -> None:
    e = raised(lambda: br.settle("backpack", [dict(T, fee=object())]))  # was TypeError
    assert (e.code, e.field) == ("E_FIELD", "fee")
    v = br.validate(trades=b"[{not json")  # was JSONDecodeError
    assert not v.valid and v.problems[0].code == "E_PARSE"


def test_validate_reads_paths_and_content(tmp_path: Path) -> None:
    bad = CSV + "t2,2026-06-01T10:00:00Z,c1,B1,api,spot,abc,1\n"
    v = br.validate(trades=bad.encode(), format="csv")
    assert not v.valid and (v.problems[0].code, v.problems[0].line) == ("E_DECIMAL", 3)
    p = tmp_path / "bad.csv"
    p.write_text(bad)
    v = br.validate(trades=p)
    assert (v.problems[0].code, v.problems[0].line, v.problems[0].field) == ("E_DECIMAL", 3, "notional")
