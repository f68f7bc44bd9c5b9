"""Every trade input gives the same statement bytes as the JSON input."""

from __future__ import annotations

import io
import json
from decimal import Decimal
from pathlib import Path
from typing import Any, Dict, List

import pandas as pd
import polars as pl
import pyarrow as pa
import pytest

import broker_rules as br
from conftest import backpack_month, load_vectors

PROGRAM = "backpack"


def as_json_trades(month: List[Dict[str, Any]]) -> List[Dict[str, Any]]:
    return [{k: (str(v) if isinstance(v, Decimal) else v) for k, v in t.items()} for t in month]


@pytest.fixture
def reference(month: List[Dict[str, Any]]) -> str:
    env = br.call("settle", json.dumps({"program": PROGRAM, "trades": as_json_trades(month), "options": {"lines": True}}))
    assert env.startswith('{"ok":')
    return env[6:-1]


def arrow_table(rows: List[Dict[str, Any]]) -> pa.Table:
    """A table over the union of the rows' keys (from_pylist reads only the first row's)."""
    keys: List[str] = []
    for r in rows:
        keys += [k for k in r if k not in keys]
    return pa.table({k: [r.get(k) for r in rows] for k in keys})


def test_pyarrow_table_decimal128(month: List[Dict[str, Any]], reference: str) -> None:
    t = arrow_table(month)
    assert pa.types.is_decimal(t.schema.field("fee").type)
    assert br.settle(PROGRAM, t, lines=True).to_json() == reference


def test_pyarrow_string_decimals(month: List[Dict[str, Any]], reference: str) -> None:
    t = arrow_table(as_json_trades(month))
    assert pa.types.is_string(t.schema.field("notional").type)
    assert br.settle(PROGRAM, t, lines=True).to_json() == reference


@pytest.mark.parametrize("unit", ["s", "ms", "us", "ns"])
def test_timestamp_columns(month: List[Dict[str, Any]], reference: str, unit: str) -> None:
    t = arrow_table(month)
    times = pd.to_datetime(pd.Series([m["time"] for m in month]), utc=True, format="ISO8601")
    if unit == "s":
        # whole seconds only: drop the fraction from the reference trade too
        month[2]["time"] = "2026-06-24T08:15:00Z"
        reference = br.settle(PROGRAM, month, lines=True).to_json()
        times = times.dt.floor("s")
    arr = pa.array(times, pa.timestamp(unit, tz="UTC"))
    t = t.set_column(t.schema.get_field_index("time"), "time", arr)
    assert br.settle(PROGRAM, t, lines=True).to_json() == reference


def test_naive_and_zoned_timestamps_are_instants(month: List[Dict[str, Any]], reference: str) -> None:
    t = arrow_table(month)
    times = pd.to_datetime(pd.Series([m["time"] for m in month]), utc=True, format="ISO8601")
    i = t.schema.get_field_index("time")
    naive = t.set_column(i, "time", pa.array(times.dt.tz_localize(None), pa.timestamp("ns")))
    zoned = t.set_column(i, "time", pa.array(times.dt.tz_convert("Asia/Singapore")))
    assert br.settle(PROGRAM, naive, lines=True).to_json() == reference
    assert br.settle(PROGRAM, zoned, lines=True).to_json() == reference


def test_record_batch_reader_many_batches(month: List[Dict[str, Any]], reference: str) -> None:
    t = arrow_table(month)
    reader = pa.RecordBatchReader.from_batches(t.schema, t.to_batches(max_chunksize=1))
    assert br.settle(PROGRAM, reader, lines=True).to_json() == reference


def test_pandas(month: List[Dict[str, Any]], reference: str) -> None:
    df = pd.DataFrame(month)
    assert br.settle(PROGRAM, df, lines=True).to_json() == reference
    df2 = pd.DataFrame(as_json_trades(month))
    df2["time"] = pd.to_datetime(df2["time"], utc=True, format="ISO8601")
    df2["channel"] = df2["channel"].astype("category")
    assert br.settle(PROGRAM, df2, lines=True).to_json() == reference


def test_polars(month: List[Dict[str, Any]], reference: str) -> None:
    df = pl.DataFrame(as_json_trades(month))
    assert br.settle(PROGRAM, df, lines=True).to_json() == reference
    df2 = df.with_columns(
        pl.col("notional").cast(pl.Decimal(20, 2)),
        pl.col("time").str.to_datetime(time_zone="UTC", time_unit="ns"),
        pl.col("broker").cast(pl.Categorical),
    )
    assert br.settle(PROGRAM, df2, lines=True).to_json() == reference
    assert br.settle(PROGRAM, df2.lazy(), lines=True).to_json() == reference


def test_float_column_is_an_error(month: List[Dict[str, Any]], reference: str) -> None:
    df = pd.DataFrame(month)
    df["fee"] = df["fee"].astype(float)
    with pytest.raises(br.DecimalError) as e:
        br.settle(PROGRAM, df)
    assert e.value.field == "fee" and "decimal.Decimal" in e.value.message and "allow_float=True" in e.value.message
    assert br.settle(PROGRAM, df, lines=True, allow_float=True).to_json() == reference
    with pytest.raises(br.DecimalError):
        br.settle(PROGRAM, pl.DataFrame(df))


def test_text_and_files(month: List[Dict[str, Any]], reference: str, tmp_path: Path) -> None:
    trades = as_json_trades(month)
    arr = json.dumps(trades)
    nd = "\n".join(json.dumps(t) for t in trades) + "\n"
    cols = ["id", "time", "account", "broker", "channel", "product", "notional", "fee", "affiliate_rate"]
    csv = ",".join(cols) + "\n" + "\n".join(",".join(str(t.get(c, "")) for c in cols) for t in trades) + "\n"
    for text in (arr, nd, csv):  # content: bytes or a file-like object (a str is a path)
        assert br.settle(PROGRAM, text.encode(), lines=True).to_json() == reference
        assert br.settle(PROGRAM, io.StringIO(text), lines=True).to_json() == reference
        assert br.settle(PROGRAM, io.BytesIO(text.encode()), lines=True).to_json() == reference
    for name, text in (("t.json", arr), ("t.ndjson", nd), ("t.csv", csv)):
        p = tmp_path / name
        p.write_text(text)
        assert br.settle(PROGRAM, p, lines=True).to_json() == reference
        assert br.settle(PROGRAM, str(p), lines=True).to_json() == reference
    with pytest.raises(br.FieldError) as e:
        br.settle(PROGRAM, str(tmp_path / "missing.csv"))
    assert e.value.field == "trades" and "no such file" in e.value.message
    with pytest.raises(br.FieldError) as e:  # text in a str is never guessed to be content
        br.settle(PROGRAM, csv)
    assert "a str is always a path" in e.value.message


def test_bad_cells_are_rejected_with_location(month: List[Dict[str, Any]]) -> None:
    rows = as_json_trades(month)
    rows[1]["time"] = "yesterday"
    rows[2]["notional"] = "1e5"
    t = arrow_table(rows)
    st = br.settle(PROGRAM, t)
    assert [(r.id, r.line, r.code, r.field) for r in st.rejected] == [("t2", 2, "E_TIME", "time"), ("t3", 3, "E_DECIMAL", "notional")]
    via_json = br.settle(PROGRAM, rows)
    assert st.to_json() == via_json.to_json()
    with pytest.raises(br.TimeError) as e:
        br.settle(PROGRAM, t, strict=True)
    assert (e.value.line, e.value.column, e.value.id) == (2, 2, "t2")


def test_strict_unknown_column(month: List[Dict[str, Any]]) -> None:
    t = arrow_table(month).append_column("note", pa.array(["a", None, "c"]))
    assert br.settle(PROGRAM, t).summary.unknown_fields == 2
    with pytest.raises(br.FieldError) as e:
        br.settle(PROGRAM, t, strict=True)
    assert e.value.field == "note"


VECTORS = [v for v in load_vectors() if v["call"] == "settle" and isinstance(v.get("input"), dict)]


def _string_trades(v: Dict[str, Any]) -> bool:
    ts = v["input"].get("trades")
    if not isinstance(ts, list) or not ts or not all(isinstance(t, dict) for t in ts):
        return False
    dec = {"notional", "fee", "fee_rate", "affiliate_rate"}
    return all(not isinstance(x, float) and not (k in dec and isinstance(x, int)) and not isinstance(x, (dict, list))
               for t in ts for k, x in t.items())


@pytest.mark.parametrize("v", [v for v in VECTORS if _string_trades(v)], ids=lambda v: v["_file"])
def test_vectors_as_arrow(v: Dict[str, Any]) -> None:
    """Each settle vector's trades, as a pyarrow Table, pandas and Polars: the same bytes."""
    inp = v["input"]
    exp = v["expected"] if v["expected"] is not None else json.loads(br.call("settle", json.dumps(inp)))
    if not (isinstance(exp, dict) and "ok" in exp):
        pytest.skip("error vector")
    trades = inp["trades"]
    try:
        t = arrow_table(trades)
    except (pa.ArrowInvalid, pa.ArrowTypeError):
        pytest.skip("trades do not form an Arrow table")
    required = {"id", "time", "account", "channel", "product", "notional"}
    if not required <= set(t.column_names):
        pytest.skip("a required column is absent from every trade")
    opts = inp.get("options") or {}
    kw: Dict[str, Any] = dict(registry=inp.get("registry"), from_=opts.get("from"), to=opts.get("to"),
                              lines=bool(opts.get("lines")), strict=bool(opts.get("strict")),
                              complete_history=bool(opts.get("complete_history")))
    want = json.dumps(exp["ok"], separators=(",", ":"), ensure_ascii=False)
    assert br.settle(inp["program"], t, **kw).to_json() == want
    assert br.settle(inp["program"], pl.from_arrow(t), **kw).to_json() == want
    assert br.settle(inp["program"], t.to_pandas(), **kw).to_json() == want
