"""A deterministic synthetic trade log as a pyarrow Table, vectorised (1M trades in about a
second), for the distributed tests and bench/spark_scaling.py.

Two calendar months (May and June 2026, so xt's rolling window and okx's previous-month
level have history in June), 40 brokers with Zipf-skewed volume (every Backpack tier is
reached by some broker-month), ~10% unattributed trades, channels api / oauth / web / app,
products spot / margin / futures / swap / options, maker rebates (negative fees), VIP 0-9,
fee-discount trades, affiliate-referred clients. Decimals are ``decimal128`` at fixed scales
(notional 2, fee 8, fee_rate 6, affiliate_rate 2), ``time`` is ``timestamp[ms, UTC]``.
Notionals are scaled by 1,000,000 / count, so broker volumes (and tiers) do not depend on
the count. ``first_id`` offsets the ids, so chunks of one log can be made separately
(``trades(n, seed=k, first_id=k * n)``) and never share an id.
"""

from __future__ import annotations

from typing import Optional

import numpy as np
import pyarrow as pa  # type: ignore[import-untyped,unused-ignore]
import pyarrow.compute as pc  # type: ignore[import-untyped,unused-ignore]

START_MS = 1_777_593_600_000  # 2026-05-01T00:00:00Z
SPAN_MS = 61 * 86_400_000     # May + June
N_BROKERS = 40
CHANNELS = ["api", "oauth", "web", "app"]
PRODUCTS = ["spot", "margin", "futures", "swap", "options"]
TAKER = np.array([600, 500, 400, 350, 250])
MAKER = np.array([200, 100, 20, 0, -25, -100])


def _dec(units: np.ndarray, precision: int, scale: int, valid: Optional[np.ndarray] = None) -> pa.Array:
    """decimal128 from int64 unscaled values."""
    units = np.ascontiguousarray(units, dtype=np.int64)
    words = np.empty((len(units), 2), dtype=np.int64)
    words[:, 0] = units
    words[:, 1] = units >> 63
    bitmap, nulls = None, 0
    if valid is not None:
        bitmap = pa.py_buffer(np.packbits(valid, bitorder="little"))
        nulls = int(len(valid) - np.count_nonzero(valid))
    return pa.Array.from_buffers(pa.decimal128(precision, scale), len(units), [bitmap, pa.py_buffer(words)], null_count=nulls)


def _names(prefix: str, numbers: np.ndarray, width: int) -> pa.Array:
    s = pc.utf8_lpad(pc.cast(pa.array(numbers.astype(np.int64)), pa.string()), width=width, padding="0")
    return pc.binary_join_element_wise(prefix, s, "")


def trades(count: int, seed: int = 2026, first_id: int = 0, scale_to: Optional[int] = None) -> pa.Table:
    """``count`` trades; ids ``T000000001``... from ``first_id + 1``. Volumes are those of a
    ``scale_to``-trade log (default ``count``) of 1,000,000 trades' volume."""
    rng = np.random.default_rng(seed)
    n = count
    scale = 1_000_000 / (scale_to or count)
    # broker weights do not depend on the seed: chunks of one log share its brokers' shape
    w = (np.random.default_rng(40).permutation(N_BROKERS) + 1.0) ** -1.1
    w /= w.sum()
    b = rng.choice(N_BROKERS, size=n, p=w)
    attributed = rng.random(n) >= 0.10
    client = np.floor(rng.random(n) ** 2 * 25).astype(np.int64)
    account_no = b * 100 + client
    t = START_MS + (rng.random(n) * SPAN_MS).astype(np.int64)
    snap = rng.random(n) < 0.002  # some on whole hours
    t[snap] -= (t[snap] - START_MS) % 3_600_000
    channel = rng.choice(4, size=n, p=[0.70, 0.15, 0.10, 0.05])
    product = rng.choice(5, size=n, p=[0.45, 0.05, 0.25, 0.20, 0.05])
    maker = rng.random(n) < 0.4
    rate = np.where(maker, rng.choice(MAKER, size=n), rng.choice(TAKER, size=n)).astype(np.int64)
    notional = np.maximum(1, np.rint(np.minimum(rng.lognormal(np.log(1500.0), 1.3, n), 2_000_000.0) * scale * 100)).astype(np.int64)
    fee = notional * rate  # scale 2 + 6 = 8, exact
    vip = np.minimum(9, rng.geometric(0.45, n) - 1).astype(np.int32)
    fee_discount = rng.random(n) < 0.04
    aff_choice = rng.choice(4, size=n, p=[0.55, 0.2, 0.15, 0.1])
    aff = np.array([0, 0, 10, 25])[aff_choice]
    aff_valid = aff_choice != 0
    return pa.table({
        "id": _names("T", np.arange(first_id + 1, first_id + n + 1), 9),
        "time": pa.array(t, pa.timestamp("ms", tz="UTC")),
        "account": _names("acct", account_no, 5),
        "broker": pc.if_else(pa.array(attributed), _names("B", b, 2), pa.scalar(None, pa.string())),
        "channel": pa.array(np.array(CHANNELS, dtype=object)[channel], pa.string()),
        "product": pa.array(np.array(PRODUCTS, dtype=object)[product], pa.string()),
        "notional": _dec(notional, 18, 2),
        "fee": _dec(fee, 18, 8),
        "fee_rate": _dec(rate, 9, 6),
        "liquidity": pa.array(np.where(maker, "maker", "taker"), pa.string()),
        "vip": pa.array(vip),
        "fee_discount": pa.array(fee_discount),
        "affiliate_rate": _dec(aff, 3, 2, valid=aff_valid),
    })
