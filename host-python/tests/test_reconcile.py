"""``broker_rules.reconcile``: the worked figures of the vector ``reconcile-order-every-cause``
(Backpack at BKR 0, 20% of the fee, against an OKX rebate-per-orders report)."""

from __future__ import annotations

import io
import json
from decimal import Decimal
from pathlib import Path
from typing import Any, Dict

import pytest

import broker_rules as br
from conftest import VECTORS


def vector(name: str) -> Dict[str, Any]:
    v = json.loads((VECTORS / f"{name}.json").read_text())
    assert isinstance(v, dict)
    return v


def test_every_cause_by_order() -> None:
    v = vector("reconcile-order-every-cause")
    inp = v["input"]
    r = br.reconcile("backpack", inp["trades"], inp["report"].encode(), by="order",
                     report_format="okx-rebate-per-orders", tolerance=Decimal("0.00000001"))
    assert r.to_json() == json.dumps(v["expected"]["ok"], separators=(",", ":"))
    s = r.summary
    assert (s.ours, s.theirs, s.difference) == (Decimal("2.5"), Decimal("2.540000001"), Decimal("0.040000001"))
    assert s.counts == {"matched": 2, "differs": 4, "only_ours": 1, "only_theirs": 3}
    assert s.causes["missing_trades"] == 2 and s.causes["rounding"] == 1
    assert not r.matched
    by_order = {row.key["order"]: row for row in r.rows}
    o6 = by_order["o6"]
    assert (o6.status, o6.cause) == ("differs", "rate")
    assert o6.detail == {"our_tier": "BKR 0", "their_tier": "BKR 1", "our_rate": Decimal("0.2"), "their_rate": Decimal("0.3")}
    assert o6.ours is not None and o6.ours.commission == Decimal("0.2")
    assert o6.theirs is not None and o6.theirs.commission == Decimal("0.3")
    assert by_order["o3"].detail["reason"] == "non_api_channel"
    assert by_order["o4"].theirs is None and by_order["o4"].difference == Decimal("-0.6")
    assert by_order["o10"].ours is None

    df = r.to_pandas()
    assert df["order"].tolist() == ["o10", "o11", "o3", "o4", "o6", "o7", "o8", "o9"]
    assert df["cause"].tolist() == ["missing_trades", "missing_trades", "excluded", "not_in_report",
                                    "rate", "attribution", "fee_base", "not_paid"]
    assert df["difference"].tolist() == [Decimal(x) for x in ("0.14", "0.2", "0.2", "-0.6", "0.1", "0.1", "0.1", "-0.2")]
    assert df["detail_their_tier"].tolist()[4] == "BKR 1"
    pl = r.to_polars()
    assert pl["their_commission"].to_list()[0] == Decimal("0.14")


def test_renamed_trade_columns_reconcile_the_same(tmp_path: Path) -> None:
    v = vector("reconcile-order-every-cause")
    inp = v["input"]
    want = json.dumps(v["expected"]["ok"], separators=(",", ":"))
    names = {"id": "tradeId", "time": "ts", "account": "uid", "order": "ordId"}
    renamed = [{names.get(k, k): x for k, x in t.items()} for t in inp["trades"]]
    columns = {theirs: ours for ours, theirs in names.items()}
    kw = dict(by="order", report_format="okx-rebate-per-orders", tolerance=Decimal("0.00000001"))
    # A list of dicts, NDJSON text, a file and a DataFrame: every reader takes the renames.
    r = br.reconcile("backpack", renamed, inp["report"].encode(), columns=columns, **kw)
    assert r.to_json() == want
    ndjson = "".join(json.dumps(t) + "\n" for t in renamed)
    path = tmp_path / "fills.ndjson"
    path.write_text(ndjson)
    assert br.reconcile("backpack", path, inp["report"].encode(), columns=columns, **kw).to_json() == want
    pd = pytest.importorskip("pandas")
    frame = pd.DataFrame(renamed).astype(str).replace({"nan": None})
    assert br.reconcile("backpack", frame, inp["report"].encode(), columns=columns, **kw).summary.difference == Decimal("0.040000001")
    with pytest.raises(br.OptionsError):
        br.reconcile("backpack", renamed, inp["report"].encode(), columns=["id"], **kw)  # type: ignore[arg-type]


def test_parquet_report_reconciles_like_its_csv(tmp_path: Path) -> None:
    import csv
    pa = pytest.importorskip("pyarrow")
    pq = pytest.importorskip("pyarrow.parquet")
    v = vector("reconcile-order-every-cause")
    inp = v["input"]
    rows = list(csv.DictReader(io.StringIO(inp["report"])))
    money = ("spotTradeAmt", "derivativeTradeAmt", "fee", "netFee", "brokerRebate")
    cols: Dict[str, Any] = {}
    for name in rows[0]:
        cells = [r[name] or None for r in rows]
        if name in money:  # exact: decimal128 with 9 decimals, as a data lake exports it
            cols[name] = pa.array([None if c is None else Decimal(c) for c in cells], pa.decimal128(38, 9))
        elif name == "ts":
            cols[name] = pa.array([int(c) for c in cells if c is not None], pa.timestamp("ms"))
        else:
            cols[name] = pa.array(cells, pa.string())
    path = tmp_path / "rebates.parquet"
    pq.write_table(pa.table(cols), path)
    kw: Dict[str, Any] = dict(by="order", report_format="okx-rebate-per-orders", tolerance=Decimal("0.00000001"))
    want = json.dumps(v["expected"]["ok"], separators=(",", ":"))
    assert br.reconcile("backpack", inp["trades"], path, **kw).to_json() == want
    assert br.reconcile("backpack", inp["trades"], path.read_bytes(), **kw).summary.theirs == Decimal("2.540000001")
    # Binary floats where the rebate belongs are refused, naming the column.
    floats = tmp_path / "floats.parquet"
    pq.write_table(pa.table({**cols, "brokerRebate": pa.array([float(r["brokerRebate"]) for r in rows])}), floats)
    with pytest.raises(br.DecimalError) as e:
        br.reconcile("backpack", inp["trades"], floats, **kw)
    assert e.value.location["field"] == "brokerRebate"


def test_report_from_a_path_and_file_like_with_a_map(tmp_path: Path) -> None:
    v = vector("reconcile-trade-generic-all")
    inp = v["input"]
    report = tmp_path / "report.csv"
    report.write_text(inp["report"])
    for src in (report, str(report), io.BytesIO(inp["report"].encode())):
        r = br.reconcile("backpack", inp["trades"], src, by="trade", map=inp["map"], all=True)
        assert r.matched
        assert r.tolerance == Decimal("0.01")
        assert [row.cause for row in r.rows] == [None, "rounding", None]
        assert r.rows[1].ours is not None and r.rows[1].ours.commission == Decimal("0.1234")
        assert r.summary.difference == Decimal("-0.0034")


def test_bad_report_raises_with_line_and_column() -> None:
    v = vector("reconcile-error-decimal-exponent")
    inp = v["input"]
    with pytest.raises(br.DecimalError) as e:
        br.reconcile("backpack", inp["trades"], inp["report"].encode(), by="order", map=inp["map"])
    assert e.value.code == "E_DECIMAL"
    assert (e.value.location["line"], e.value.location["column"], e.value.location["field"]) == (3, 2, "rebate")
    with pytest.raises(br.OptionsError):
        br.reconcile("backpack", [], b"a\n", by="order", report_format="binance-link")
    with pytest.raises(br.DecimalError):
        br.reconcile("backpack", [], b"a\n", by="order", tolerance=0.01)  # type: ignore[arg-type]


def test_readme_reconcile_block_runs(monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    import re

    from conftest import ROOT

    text = (ROOT / "README.md").read_text(encoding="utf-8")
    start = text.index("<!-- section: reconcile -->")
    section = text[start: text.index("<!-- section:", start + 10)]
    (block,) = re.findall(r"```python\n(.*?)```", section, re.S)
    monkeypatch.chdir(ROOT)
    exec(compile(block, "README.md", "exec"), {})
    assert capsys.readouterr().out == "4 0.040000001\n[['o6', Decimal('0.2'), Decimal('0.30'), 'BKR 1']]\n"


def test_trades_as_a_dataframe_or_a_file_give_the_same_bytes(tmp_path: Path) -> None:
    import pandas as pd

    v = vector("reconcile-order-every-cause")
    inp = v["input"]
    want = json.dumps(v["expected"]["ok"], separators=(",", ":"))
    args: Dict[str, Any] = {"by": "order", "report_format": "okx-rebate-per-orders", "tolerance": "0.00000001"}
    report = inp["report"].encode()
    df = pd.DataFrame(inp["trades"])
    assert br.reconcile("backpack", df, report, **args).to_json() == want
    cols = ["id", "time", "account", "broker", "channel", "product", "notional", "fee", "order"]
    path = tmp_path / "fills.csv"
    path.write_text(df[cols].fillna("").to_csv(index=False))
    r = br.reconcile("backpack", path, report, **args)
    assert r.to_json() == want
    assert r.summary.difference == Decimal("0.040000001")
