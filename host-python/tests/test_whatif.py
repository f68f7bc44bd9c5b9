"""``estimate`` from settled actuals: "last month's actuals, what if volume grows X%?".

Worked by hand on conftest's June month (B1: 4,000,000 / fee 2,000; 4,000,000 / fee 2,400
with affiliate_rate 0.10; 2,000,000 / fee 600 with affiliate_rate 0.25):
- actual: api_volume 10,000,000 -> BKR 2 (35%): 700 + 2,400 x min(35%, 40%) = 840 +
  600 x min(35%, 25%) = 150 -> 1,690.00;
- +100%: 20,000,000 -> BKR 3 (40%): 1,600 + 4,800 x 40% = 1,920 + 1,200 x 25% = 300
  -> 3,820.00 (+2,130.00);
- +20%: 12,000,000 stays BKR 2: 840 + 1,008 + 180 = 2,028.00 (+338.00).
"""

from __future__ import annotations

import io
import json
from datetime import datetime, timezone
from decimal import Decimal
from typing import Any, Dict, List

import pytest

import broker_rules as br

UTC = timezone.utc

CSV = (
    "id,time,account,broker,channel,product,notional,fee,affiliate_rate\n"
    "t1,2026-06-03T10:00:00Z,alice,B1,api,spot,4000000,2000,\n"
    "t2,2026-06-11T12:30:00Z,bob,B1,api,futures,4000000,2400,0.10\n"
    "t3,2026-06-24T08:15:00.250Z,carol,B1,api,spot,2000000,600,0.25\n"
)


def test_growth_lifts_the_tier(month: List[Dict[str, Any]]) -> None:
    w = br.estimate("backpack", actuals=month, growth=Decimal("1"))
    assert isinstance(w, br.WhatIf)
    assert (w.growth, w.factor, w.currency) == (Decimal("1"), Decimal("2"), "USD")
    (b1,) = w.brokers
    assert (b1.broker, b1.status) == ("B1", "eligible")
    (june,) = b1.periods
    assert june.period_start == datetime(2026, 6, 1, tzinfo=UTC) and june.history == "complete"
    assert (june.actual.tier, june.actual.rate, june.actual.commission) == ("BKR 2", Decimal("0.35"), Decimal("1690.00"))
    assert june.actual.metrics == {"api_volume": Decimal("10000000")}
    assert (june.what_if.tier, june.what_if.rate, june.what_if.commission) == ("BKR 3", Decimal("0.4"), Decimal("3820.00"))
    assert june.what_if.metrics == {"api_volume": Decimal("20000000")}
    assert june.what_if.volume == june.what_if.eligible_volume == Decimal("20000000")
    assert june.difference == Decimal("2130.00")
    assert (w.actual, w.what_if, w.difference) == (Decimal("1690.00"), Decimal("3820.00"), Decimal("2130.00"))
    assert w.rejected == [] and w.incomplete_history == []


def test_every_trade_input_gives_the_same_bytes(month: List[Dict[str, Any]], tmp_path: Any) -> None:
    w = br.estimate("backpack", actuals=month, growth="20%")
    assert (w.brokers[0].periods[0].what_if.tier, w.what_if, w.difference) == ("BKR 2", Decimal("2028.00"), Decimal("338.00"))
    # the request through the core's JSON entry point gives the same bytes
    req = {"program": "backpack", "actuals": {"trades": json.loads(json.dumps(month, default=str))}, "growth": "0.2"}
    assert br.call("estimate", req) == '{"ok":' + w.to_json() + "}"
    # text (bytes, file-like), a path, a renamed column, a pyarrow table, pandas
    assert br.estimate("backpack", actuals=CSV.encode(), growth="0.2").to_json() == w.to_json()
    assert br.estimate("backpack", actuals=io.BytesIO(CSV.encode()), growth=Decimal("0.2")).to_json() == w.to_json()
    path = tmp_path / "june.csv"
    path.write_text(CSV)
    assert br.estimate("backpack", actuals=str(path), growth="0.2").to_json() == w.to_json()
    renamed = CSV.replace("id,time", "trade_id,time", 1)
    assert br.estimate("backpack", actuals=renamed.encode(), growth="0.2", columns={"trade_id": "id"}).to_json() == w.to_json()
    pa = pytest.importorskip("pyarrow")
    pd = pytest.importorskip("pandas")
    df = pd.DataFrame(month)
    assert br.estimate("backpack", actuals=df, growth="0.2").to_json() == w.to_json()
    assert br.estimate("backpack", actuals=pa.Table.from_pandas(df), growth="0.2").to_json() == w.to_json()
    # a compiled program gives the same result
    c = br.compile("backpack")
    assert c.estimate(actuals=month, growth="0.2").to_json() == w.to_json()
    assert c.estimate(actuals=CSV.encode(), growth="0.2").to_json() == w.to_json()


def test_one_broker_and_the_table(month: List[Dict[str, Any]]) -> None:
    other = dict(month[0], id="x1", broker="B2", notional=Decimal("1000000"), fee=Decimal("200"))
    # B2: 1,000,000, fee 200, BKR 0 (20%) = 40.00; +50%: 1,500,000, fee 300 = 60.00
    w = br.estimate("backpack", actuals=month + [other], growth="50%", broker="B2")
    assert [b.broker for b in w.brokers] == ["B2"]
    assert (w.actual, w.what_if, w.difference) == (Decimal("40.00"), Decimal("60.00"), Decimal("20.00"))
    pytest.importorskip("pandas")
    df = br.estimate("backpack", actuals=month + [other], growth="50%").to_pandas()
    assert df["broker"].tolist() == ["B1", "B2"]
    assert df["actual_tier"].tolist() == ["BKR 2", "BKR 0"]
    # +50%: B1 15,000,000 stays BKR 2: 3,000 x 35% + 3,600 x 35% + 900 x 25% = 2,535.00
    assert df["what_if_commission"].tolist() == [Decimal("2535.00"), Decimal("60.00")]
    assert df["difference"].tolist() == [Decimal("845.00"), Decimal("20.00")]


def test_okx_clients_do_not_grow() -> None:
    # May: 10 clients x 900,000 spot api -> spot_volume 9,000,000, spot_clients 10 -> L2 for
    # June. +20%: 10,800,000 passes L3's 10,000,000 but L3 needs 20 clients: still L2; the
    # June trade's fee 50 x 30% = 15 becomes 60 x 30% = 18.
    may = [
        {"id": f"m{i}", "time": f"2026-05-{i + 1:02d}T08:00:00Z", "account": f"c{i}", "broker": "K1",
         "channel": "api", "product": "spot", "notional": Decimal("900000"), "fee_rate": Decimal("0.0005")}
        for i in range(1, 11)
    ]
    june = {"id": "j1", "time": "2026-06-10T13:20:00Z", "account": "c1", "broker": "K1", "channel": "api",
            "product": "spot", "notional": Decimal("100000"), "fee_rate": Decimal("0.0005")}
    w = br.estimate("okx", actuals=may + [june], growth="0.2", from_="2026-06-01", complete_history=True)
    (p,) = w.brokers[0].periods
    assert (p.actual.tier, p.what_if.tier) == ("L2", "L2")
    assert p.what_if.metrics["spot_volume"] == Decimal("10800000") and p.what_if.metrics["spot_clients"] == Decimal("10")
    assert (p.actual.commission, p.what_if.commission) == (Decimal("15.00000000"), Decimal("18.00000000"))
    # without complete_history the May window is flagged, as settle flags it
    w = br.estimate("okx", actuals=may[1:] + [june], growth="0.2", from_="2026-06-01")
    assert w.brokers[0].periods[0].history == "incomplete" and w.incomplete_history[0].broker == "K1"


def test_errors_are_the_cores(month: List[Dict[str, Any]]) -> None:
    with pytest.raises(br.OptionsError) as e:
        br.estimate("backpack", actuals=month, growth="-1")
    assert e.value.code == "E_OPTIONS" and e.value.field == "growth"
    with pytest.raises(br.FieldError) as f:
        br.estimate("backpack", {"volume": "1000000", "fee_rate": "0.0002"}, actuals=month, growth="0.2")  # type: ignore[call-overload]
    assert f.value.field == "actuals"
    with pytest.raises(br.FieldError) as f:
        br.estimate("backpack", growth="0.2")  # type: ignore[call-overload]
    assert f.value.field == "scenario"
    with pytest.raises(br.DecimalError):
        br.estimate("backpack", actuals=month, growth=0.2)  # type: ignore[call-overload]
    with pytest.raises(br.OptionsError) as e:
        br.estimate("backpack", actuals=month, growth="0.2", broker="NOPE")
    assert e.value.field == "broker"
    tiny = [dict(month[0], notional=Decimal("0.0000000000000000000000000001"), fee=Decimal("0"))]
    with pytest.raises(br.InexactError) as i:
        br.estimate("backpack", actuals=tiny, growth="0.2")
    assert (i.value.id, i.value.field) == ("t1", "notional")


def test_docs_example_runs_and_prints_its_comments() -> None:
    """docs/estimate.md's Python block, run from the repository root: each ``# ...`` comment
    line is what the print before it writes."""
    import contextlib
    import os
    import re

    from conftest import ROOT

    text = (ROOT / "docs" / "estimate.md").read_text(encoding="utf-8")
    (block,) = re.findall(r"```python\n(.*?)```", text, re.S)
    want = [line[2:] for line in block.splitlines() if line.startswith("# ")]
    out = io.StringIO()
    cwd = os.getcwd()
    os.chdir(ROOT)
    try:
        with contextlib.redirect_stdout(out):
            exec(compile(block, "docs/estimate.md", "exec"), {})
    finally:
        os.chdir(cwd)
    assert out.getvalue().splitlines() == want
