"""The Pythonic API: real values, typed results, errors."""

from __future__ import annotations

import json
import threading
from datetime import datetime, timezone
from decimal import Decimal
from typing import Any, Dict, List

import pytest

import broker_rules as br
from conftest import backpack_month

UTC = timezone.utc


def test_programs_and_program() -> None:
    ids = [p.id for p in br.programs()]
    assert ids == ["backpack", "xt", "okx", "okx-v5"]
    p = br.program("backpack")
    assert p.id == "backpack" and p.to_dict()["id"] == "backpack"
    assert json.loads(p.to_json()) == p.to_dict()
    with pytest.raises(br.UnknownProgramError) as e:
        br.program("nope")
    assert e.value.code == "E_UNKNOWN_PROGRAM"


def test_backpack_three_client_month(month: List[Dict[str, Any]]) -> None:
    st = br.settle("backpack", month, lines=True)
    assert st.commission == Decimal("1690.00")
    assert repr(st.commission) == "Decimal('1690.00')"
    b1 = st.broker("B1")
    assert b1.status == "eligible" and b1.commission == Decimal("1690.00")
    (june,) = b1.periods
    assert june.tier == "BKR 2" and june.rate == Decimal("0.35")
    assert june.volume == Decimal("10000000") and june.fees == Decimal("5000")
    assert june.start == datetime(2026, 6, 1, tzinfo=UTC)
    assert june.end == datetime(2026, 7, 1, tzinfo=UTC)
    assert june.credit_at.tzinfo is not None and june.credit_at.utcoffset().total_seconds() == 0  # type: ignore[union-attr]
    assert june.trades == 3
    per_trade = {ln.id: ln.commission for ln in st.lines or []}
    assert per_trade == {"t1": Decimal("700"), "t2": Decimal("840"), "t3": Decimal("150")}
    assert st.lines is not None and st.lines[2].time == datetime(2026, 6, 24, 8, 15, 0, 250000, tzinfo=UTC)
    # to_json is the core's canonical text; to_dict its parse
    assert st.to_json() == json.dumps(st.to_dict(), separators=(",", ":"), ensure_ascii=False)
    assert st.to_dict()["brokers"][0]["commission"] == "1690.00"


def test_same_bytes_as_the_json_api(month: List[Dict[str, Any]]) -> None:
    req = {"program": "backpack", "trades": [{k: (str(v) if isinstance(v, Decimal) else v) for k, v in t.items()} for t in month]}
    env = br.call("settle", json.dumps(req))
    assert env == '{"ok":' + br.settle("backpack", month).to_json() + "}"


def test_explain_and_tables(month: List[Dict[str, Any]]) -> None:
    ex = br.explain("backpack", month)
    assert [ln.commission for ln in ex.lines] == [Decimal("700"), Decimal("840"), Decimal("150")]
    df = ex.to_pandas()
    assert list(df["commission"]) == [Decimal("700"), Decimal("840"), Decimal("150")]
    st = br.settle("backpack", month, lines=True)
    periods = st.to_pandas()
    assert periods.loc[0, "commission"] == Decimal("1690.00")
    assert str(periods["start"].dtype) in ("datetime64[ns, UTC]", "datetime64[us, UTC]")
    pl_df = st.to_polars("lines")
    assert pl_df.height == 3 and str(pl_df.schema["commission"]).startswith("Decimal")
    tbl = st.to_arrow("brokers")
    assert tbl.column("commission").to_pylist() == [Decimal("1690.00")]
    assert str(tbl.schema.field("commission").type).startswith("decimal128")
    with pytest.raises(ValueError):
        br.settle("backpack", month).to_arrow("lines")


def test_estimate() -> None:
    e = br.estimate("backpack", volume=8_000_000, fee_rate=Decimal("0.0002"))
    assert (e.tier, e.commission) == ("BKR 1", Decimal("480.00"))
    assert e.next is not None and e.next.tier == "BKR 2" and e.next.volume_needed == Decimal("2000000")
    assert e.next.commission == Decimal("700.00")
    assert len(e.curve) >= 2 and all(isinstance(p.volume, Decimal) for p in e.curve)
    assert e.to_pandas()["tier"].tolist()[: len(e.curve)] == [p.tier for p in e.curve]
    with pytest.raises(br.DecimalError):
        br.estimate("backpack", volume=8e6, fee_rate=Decimal("0.0002"))


def test_compile_gives_the_plain_functions_results(month: List[Dict[str, Any]], tmp_path: Any) -> None:
    c = br.compile("backpack")
    assert isinstance(c, br.Compiled)
    e = c.estimate(volume=8_000_000, fee_rate=Decimal("0.0002"))
    assert (e.tier, e.commission) == ("BKR 1", Decimal("480.00"))
    assert e.to_json() == br.estimate("backpack", volume=8_000_000, fee_rate=Decimal("0.0002")).to_json()
    st = c.settle(month, lines=True)
    assert st.commission == Decimal("1690.00")
    assert st.to_json() == br.settle("backpack", month, lines=True).to_json()
    assert c.explain(month).to_json() == br.explain("backpack", month).to_json()
    csv = "id,time,account,broker,channel,product,notional,fee\nt1,2026-06-03T10:00:00Z,c1,B1,api,spot,10000000,2000\n"
    assert c.settle(csv.encode()).commission == Decimal("700.00")  # text is bytes; a str is a path
    path = tmp_path / "t.csv"
    path.write_text(csv)
    assert c.settle(str(path)).to_json() == br.settle("backpack", str(path)).to_json()
    custom = br.program("xt").to_dict()
    assert br.compile(custom).estimate(volume="30000000", fees="6000").to_json() == br.estimate("xt", volume="30000000", fees="6000").to_json()
    with pytest.raises(br.BrokerRulesError) as err:
        br.compile("nope")
    assert err.value.code == "E_UNKNOWN_PROGRAM"
    with pytest.raises(br.BrokerRulesError):
        c.estimate(volume="1")


def test_validate() -> None:
    assert br.validate(program="backpack").valid
    bad = br.validate(trades=[{"id": "x", "time": "nope", "account": "a", "channel": "api", "product": "spot", "notional": "1", "fee": "1"}])
    assert not bad.valid and bad.problems[0].code == "E_TIME" and isinstance(bad.problems[0], br.TimeError)


def test_float_rejected_with_help(month: List[Dict[str, Any]]) -> None:
    month[1]["fee"] = 2400.0
    with pytest.raises(br.DecimalError) as e:
        br.settle("backpack", month)
    err = e.value
    assert err.code == "E_DECIMAL" and err.field == "fee" and err.line == 2 and err.id == "t2"
    assert "Decimal('2400.0')" in err.message and "allow_float=True" in err.message
    st = br.settle("backpack", month, allow_float=True)
    assert st.commission == Decimal("1690.00")


def test_ints_and_datetimes_are_exact(month: List[Dict[str, Any]]) -> None:
    for t in month:
        t["notional"] = int(t["notional"])
        t["time"] = datetime.strptime(t["time"], "%Y-%m-%dT%H:%M:%S.%fZ" if "." in t["time"] else "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=UTC)
    assert br.settle("backpack", month).commission == Decimal("1690.00")


def test_errors_carry_code_and_location(month: List[Dict[str, Any]]) -> None:
    month[0]["notional"] = "-5"
    with pytest.raises(br.InvalidValueError) as e:
        br.settle("backpack", month, strict=True)
    assert e.value.code == "E_VALUE" and e.value.field == "notional" and e.value.id == "t1" and e.value.line == 1
    assert isinstance(e.value, ValueError) and isinstance(e.value, br.BrokerRulesError)
    lenient = br.settle("backpack", month)
    assert [(r.id, r.code) for r in lenient.rejected] == [("t1", "E_VALUE")]
    assert isinstance(lenient.rejected[0].error, br.InvalidValueError)
    dup = backpack_month() + [dict(backpack_month()[0], fee=Decimal("1"))]
    with pytest.raises(br.DuplicateIdError) as d:
        br.settle("backpack", dup)
    assert d.value.id == "t1" or "t1" in d.value.message
    with pytest.raises(br.ParseError):
        br.settle("backpack", b"[{not json")
    with pytest.raises(br.OptionsError):
        br.settle("backpack", month, from_="2026-07-01T00:00:00Z", to="2026-06-01T00:00:00Z")


def test_error_classes_cover_every_code() -> None:
    codes = ["E_PARSE", "E_FIELD", "E_DECIMAL", "E_TIME", "E_VALUE", "E_DUPLICATE_ID", "E_PROGRAM", "E_EXPR", "E_OVERFLOW",
             "E_DIV_ZERO", "E_INEXACT", "E_UNKNOWN_PROGRAM", "E_REGISTRY", "E_OPTIONS", "E_UNKNOWN_VALUE", "E_PARTIAL", "E_INTERNAL"]
    assert sorted(br.ERRORS) == sorted(codes)
    for c in codes:
        cls = br.ERRORS[c]
        assert issubclass(cls, br.BrokerRulesError) and cls.code == c and cls is not br.BrokerRulesError
        e = cls("m", {"field": "f", "line": 2, "column": 3, "id": "t", "position": 4})
        assert (e.code, e.message, e.field, e.line, e.column, e.id, e.position) == (c, "m", "f", 2, 3, "t", 4)
    assert len(set(br.ERRORS.values())) == 17


def test_expression_error_position() -> None:
    spec = br.program("backpack").to_dict()
    spec["formula"] = "fee * nope"
    v = br.validate(program=spec)
    assert not v.valid and v.problems[0].code == "E_EXPR" and isinstance(v.problems[0], br.ExprError)
    assert v.problems[0].position == 6
    with pytest.raises(br.ExprError) as e:
        br.settle(spec, backpack_month())
    assert e.value.position == 6


def test_settle_releases_the_gil() -> None:
    """A large settle in a thread lets the main thread keep running Python."""
    n = 200_000
    text = "\n".join(
        json.dumps({"id": f"t{i}", "time": f"2026-06-{1 + i % 28:02d}T00:00:00Z", "account": f"a{i % 97}", "broker": "B1",
                    "channel": "api", "product": "spot", "notional": "1000", "fee": "0.5"})
        for i in range(n)
    )
    done = threading.Event()
    result: List[br.Statement] = []

    def work() -> None:
        result.append(br.settle("backpack", text.encode(), format="ndjson"))
        done.set()

    ticks = 0
    t = threading.Thread(target=work)
    t.start()
    while not done.is_set():
        ticks += 1
        done.wait(0.001)
    t.join()
    assert result[0].summary.trades + result[0].summary.rejected == n
    assert ticks > 5, "the main thread did not run while settle was working"


def test_order_and_instrument_reach_the_lines() -> None:
    import pandas as pd

    df = pd.DataFrame(
        {
            "id": ["a", "b"],
            "time": ["2026-06-05T00:00:00Z", "2026-06-06T00:00:00Z"],
            "account": ["c1", "c1"],
            "broker": ["B1", "B1"],
            "channel": ["api", "api"],
            "product": ["spot", "spot"],
            "notional": ["100000", "50000"],
            "fee": ["100", "50"],
            "order": ["o-1", None],
            "instrument": ["BTC-USDC", None],
        }
    )
    st = br.settle("backpack", df, lines=True, strict=True)
    assert st.lines is not None
    a, b = st.lines
    assert (a.order, a.instrument, a.commission) == ("o-1", "BTC-USDC", Decimal("20"))
    assert (b.order, b.instrument, b.commission) == (None, None, Decimal("10"))
    assert st.to_pandas("lines")["order"].tolist()[0] == "o-1"
    assert st.commission == Decimal("30.00")


def test_okx_v5_msa_flag_from_a_dataframe() -> None:
    """A boolean `msa` column (the Arrow path) excludes the flagged fill only: the vector
    okx-v5-msa-trade-flag's trades, K1 at L1 (25%) from May; 25 + 10 + 15 = 50."""
    import pandas as pd

    may = [
        dict(id=f"m{i}", time=f"2026-05-01T00:00:0{i}Z", account=f"p{i}", notional="2000", fee="1", msa=False)
        for i in range(1, 6)
    ]
    june = [
        dict(id="j1", time="2026-06-10T10:00:00Z", account="c1", notional="200000", fee="100", msa=False),
        dict(id="j2", time="2026-06-10T10:01:00Z", account="m1", notional="200000", fee="100", msa=True),
        dict(id="j3", time="2026-06-10T10:02:00Z", account="c2", notional="80000", fee="40", msa=False),
        dict(id="j4", time="2026-06-10T10:03:00Z", account="m1", notional="120000", fee="60", msa=False),
    ]
    rows = [dict(t, broker="K1", channel="api", product="spot") for t in may + june]
    df = pd.DataFrame(rows)
    assert df["msa"].dtype == bool
    st = br.settle("okx-v5", df, from_="2026-06-01T00:00:00Z", strict=True)
    (period,) = st.broker("K1").periods
    assert (period.tier, period.commission) == ("L1", Decimal("50.00000000"))
    msa = period.excluded["msa_account"]
    assert (msa.trades, msa.volume, msa.fees) == (1, Decimal("200000"), Decimal("100"))
    # the same trades as dicts (the JSON path) give the same bytes
    assert st.to_json() == br.settle("okx-v5", rows, from_="2026-06-01T00:00:00Z").to_json()
