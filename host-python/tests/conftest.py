"""Shared fixtures: the repository root, the conformance vectors, sample trades."""

from __future__ import annotations

import json
import os
from decimal import Decimal
from pathlib import Path
from typing import Any, Dict, List

import pytest

ROOT = Path(__file__).resolve().parents[2]
VECTORS = Path(os.environ.get("BROKER_RULES_VECTORS", ROOT / "tests" / "vectors"))


def load_vectors() -> List[Dict[str, Any]]:
    out = []
    for p in sorted(VECTORS.glob("*.json")):
        with open(p, encoding="utf-8") as f:
            v = json.load(f)
        v["_file"] = p.name
        out.append(v)
    return out


def backpack_month() -> List[Dict[str, Any]]:
    """Broker B1, channel api, June 2026: notionals sum to 10,000,000 (tier BKR 2, 35%)."""
    return [
        {"id": "t1", "time": "2026-06-03T10:00:00Z", "account": "alice", "broker": "B1", "channel": "api",
         "product": "spot", "notional": Decimal("4000000"), "fee": Decimal("2000")},
        {"id": "t2", "time": "2026-06-11T12:30:00Z", "account": "bob", "broker": "B1", "channel": "api",
         "product": "futures", "notional": Decimal("4000000"), "fee": Decimal("2400"), "affiliate_rate": Decimal("0.10")},
        {"id": "t3", "time": "2026-06-24T08:15:00.250Z", "account": "carol", "broker": "B1", "channel": "api",
         "product": "spot", "notional": Decimal("2000000"), "fee": Decimal("600"), "affiliate_rate": Decimal("0.25")},
    ]


@pytest.fixture
def month() -> List[Dict[str, Any]]:
    return backpack_month()
