"""The statement reconciles with itself (issue 12): attributed = eligible + excluded, the tier
basis and its window, withheld periods, and missing-history flags, as typed Python values."""

from __future__ import annotations

from datetime import datetime, timezone
from decimal import Decimal
from typing import Any, Dict, List

import broker_rules as br

UTC = timezone.utc


def trade(i: str, time: str, notional: str, fee: str, channel: str = "api", product: str = "spot", broker: str = "B1") -> Dict[str, Any]:
    return {"id": i, "time": time, "account": "c1", "broker": broker, "channel": channel,
            "product": product, "notional": notional, "fee": fee}


BACKPACK: List[Dict[str, Any]] = [
    trade("t1", "2026-06-05T00:00:00Z", "4000000", "800"),
    trade("t2", "2026-06-06T00:00:00Z", "2000000", "300", channel="web"),
    trade("t3", "2026-06-07T00:00:00Z", "500000", "100", product="margin"),
    trade("t4", "2026-06-08T00:00:00Z", "1500000", "200"),
]


def test_attributed_is_eligible_plus_excluded() -> None:
    (june,) = br.settle("backpack", BACKPACK).broker("B1").periods
    assert june.attributed == br.Tally(trades=4, volume=Decimal("8000000"), fees=Decimal("1400"))
    assert june.eligible == br.Tally(trades=2, volume=Decimal("5500000"), fees=Decimal("1000"))
    assert june.excluded == {
        "non_api_channel": br.Tally(trades=1, volume=Decimal("2000000"), fees=Decimal("300")),
        "product_not_eligible": br.Tally(trades=1, volume=Decimal("500000"), fees=Decimal("100")),
    }
    assert june.excluded_total == br.Tally(trades=2, volume=Decimal("2500000"), fees=Decimal("400"))
    assert june.eligible.volume + sum(x.volume for x in june.excluded.values()) == june.attributed.volume
    # The tier basis: API spot and futures volume of the month, BKR 1 (30%) on eligible fees.
    assert june.metrics == {"api_volume": Decimal("5500000")}
    assert june.metrics_window == br.Span(start=datetime(2026, 6, 1, tzinfo=UTC), end=datetime(2026, 7, 1, tzinfo=UTC))
    assert (june.tier, june.commission, june.withheld, june.history) == ("BKR 1", Decimal("300.00"), Decimal("0.00"), "complete")
    cols = br.settle("backpack", BACKPACK).to_pandas("periods")
    assert list(cols["eligible_volume"]) == [Decimal("5500000")]
    assert (list(cols["excluded_trades"]), list(cols["excluded_volume"]), list(cols["excluded_fees"])) == (
        [2], [Decimal("2500000")], [Decimal("400")])
    assert list(cols["history"]) == ["complete"]


def test_withheld_period_shows_zero_and_the_withheld_amount() -> None:
    registry = {"brokers": [{"code": "B1", "account": "acc-b1"}], "affiliates": ["acc-b1"]}
    st = br.settle("backpack", [trade("t1", "2026-06-05T00:00:00Z", "1000000", "1000")], registry=registry)
    b1 = st.broker("B1")
    (june,) = b1.periods
    assert (b1.status, b1.commission, b1.withheld) == ("withheld", Decimal("0.00"), Decimal("200.00"))
    assert (june.commission, june.exact, june.withheld) == (Decimal("0.00"), Decimal("0"), Decimal("200.00"))


def test_missing_history_is_flagged_unless_declared_complete() -> None:
    xt = [trade("x1", "2026-06-10T08:00:00Z", "12000000", "1200"), trade("x2", "2026-06-11T08:00:00Z", "1000", "1")]
    st = br.settle("xt", xt)
    d10, d11 = st.broker("B1").periods
    assert (d10.history, d10.tier, d11.history, d11.tier) == ("incomplete", None, "incomplete", "VIP 1")
    assert d11.commission == Decimal("0.40000000")
    assert d10.metrics_window.start == datetime(2026, 5, 11, tzinfo=UTC)
    assert st.summary.earliest_trade == datetime(2026, 6, 10, 8, tzinfo=UTC)
    assert st.summary.incomplete_history == [br.IncompleteHistory(
        broker="B1", periods=2, first=datetime(2026, 6, 10, tzinfo=UTC), last=datetime(2026, 6, 11, tzinfo=UTC))]
    new = br.settle("xt", xt, complete_history=True)
    assert [p.history for p in new.broker("B1").periods] == ["complete", "complete"]
    assert new.summary.incomplete_history == []
    assert br.compile("xt").settle(xt, complete_history=True).to_json() == new.to_json()


def test_summary_bounds_are_utc() -> None:
    st = br.settle("okx", [trade("a", "2026-06-04T23:00:00Z", "1000", "1", broker="K1")],
                   from_="2026-06-05T07:00:00+08:00", to="2026-06-06T00:00:00-01:00")
    assert st.summary.from_ == datetime(2026, 6, 4, 23, tzinfo=UTC)
    assert st.to_dict()["summary"]["from"] == "2026-06-04T23:00:00Z"
    assert st.to_dict()["summary"]["to"] == "2026-06-06T01:00:00Z"


def test_estimate_says_what_every_tier_above_still_needs() -> None:
    e = br.estimate("okx", volume=Decimal("3000000"), fee_rate=Decimal("0.0005"),
                    mix=[{"product": "swap", "channel": "api", "share": "1"}], active_clients=6)
    assert (e.tier, e.commission, e.next) == ("L1", Decimal("375.00000000"), None)
    l2 = e.tiers_above[0]
    assert (l2.tier, l2.rate, l2.commission) == ("L2", Decimal("0.3"), Decimal("750.00000000"))
    spot, deriv = l2.ways
    assert deriv.ladder == "derivatives" and deriv.volume_needed == Decimal("2000000") and not deriv.met
    assert deriv.needs["derivatives_clients"] == br.Need(min=Decimal("10"), have=Decimal("6"), more=Decimal("4"))
    assert spot.volume is None and spot.needs["spot_clients"].more == Decimal("4")
    assert [t.tier for t in e.tiers_above] == ["L2", "L3", "L4"]


def test_affiliate_rate_alone_refers_the_whole_flow() -> None:
    e = br.estimate("backpack", volume=Decimal("8000000"), fee_rate=Decimal("0.0002"), affiliate_rate=Decimal("0.25"))
    assert (e.tier, e.commission) == ("BKR 1", Decimal("400.00"))


def test_unknown_channel_and_product_values_are_counted() -> None:
    t = [trade("a", "2026-06-05T10:00:00Z", "1000000", "100"), trade("b", "2026-06-05T10:00:00Z", "1000000", "100", channel="API"),
         trade("c", "2026-06-05T10:00:00Z", "1000000", "100", product="perp")]
    st = br.settle("backpack", t)
    assert st.summary.unknown_values == {"channel": {"API": 1}, "product": {"perp": 1}}
    assert st.commission == Decimal("20.00")


def test_okx_v5_splits_the_commission_with_the_client_and_the_parent() -> None:
    # K1 (parent P1, 10%) is at L1 (25%) from May's 5 spot clients; c1 passes back 30%.
    may = [{"id": f"m{k}", "time": f"2026-05-01T00:00:0{k}Z", "account": f"p{k}", "broker": "K1",
            "channel": "api", "product": "spot", "notional": "2000", "fee": "1"} for k in range(1, 6)]
    june = [trade("j1", "2026-06-10T10:00:00Z", "200000", "100", broker="K1")]
    registry = {"brokers": [{"code": "P1"}, {"code": "K1", "parent": "P1", "parent_share": "0.1"}],
                "clients": [{"account": "c1", "kickback": "0.3"}]}
    st = br.settle("okx-v5", may + june, registry=registry, from_="2026-06-01")
    (p,) = st.broker("K1").periods
    # 100 x 25% = 25: the client's 7.5, then the parent's 10% of 17.5 = 1.75, K1 keeps 15.75.
    assert (p.tier, p.kickback, p.to_parent, p.commission) == (
        "L1", Decimal("7.50000000"), Decimal("1.75"), Decimal("15.75000000"))
    assert st.broker("K1").kickback == Decimal("7.50000000")
    assert st.broker("P1").commission == Decimal("1.75000000")
    assert list(st.to_pandas("periods")["kickback"]) == [Decimal("7.50000000"), Decimal("0E-8")]
    # Other programs have no kickback at all.
    assert br.settle("okx", june).broker("K1").periods[0].kickback is None


def test_a_parents_tier_can_count_its_sub_brokers() -> None:
    program = br.program("backpack").to_dict()
    program.update(id="group", broker_affiliate_exclusive=False)
    program["tiers"]["count_sub_brokers"] = True
    registry = {"brokers": [{"code": "P"}, {"code": "S", "parent": "P", "parent_share": "0"}]}
    trades = [trade("a", "2026-06-02T00:00:00Z", "3000000", "600", broker="P"),
              trade("b", "2026-06-03T00:00:00Z", "2500000", "500", broker="S")]
    st = br.settle(program, trades, registry=registry)
    (p,) = st.broker("P").periods
    # 3,000,000 + 2,500,000 = 5,500,000 of API volume: BKR 1 (30%) on P's fee 600 = 180.00;
    # S's own 2,500,000 stays BKR 0 (20%): 100.00.
    assert (p.metrics, p.tier, p.commission, p.metrics_sub_brokers) == (
        {"api_volume": Decimal("5500000")}, "BKR 1", Decimal("180.00"), ["S"])
    assert st.broker("S").periods[0].commission == Decimal("100.00")
    assert br.settle("backpack", trades).broker("P").periods[0].metrics_sub_brokers is None
