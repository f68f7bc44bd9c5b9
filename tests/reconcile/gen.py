#!/usr/bin/env python3
"""Writes tests/vectors/reconcile-*.json (issue 13): reconcile at every level, and bad reports.

Each vector's checks are the figures worked out by hand (in its description). Run this,
then bless: `cargo run -q -p broker-rules-conformance -- bless`.
"""
import datetime
import json
import os

OUT = os.path.join(os.path.dirname(__file__), "..", "vectors")
OKX_HEADER = ("brokerCode,level,uid,instId,ordId,clOrdId,spotTradeAmt,derivativeTradeAmt,"
              "fee,netFee,settlementFee,brokerRebate,suBrokerRebate,userRebate,affiliated,ts")


def ms(t):
    return str(int(datetime.datetime.fromisoformat(t.replace("Z", "+00:00")).timestamp() * 1000))


def trade(id, order, account, notional, fee, time, broker="B1", channel="api", **extra):
    t = {"id": id, "time": time, "account": account}
    if broker:
        t["broker"] = broker
    t.update({"channel": channel, "product": "spot", "notional": notional, "fee": fee})
    if order:
        t["order"] = order
    t.update(extra)
    return t


def okx_row(broker, uid, order, volume, net_fee, rebate, time, level=""):
    return (f"{broker},{level},{uid},BTC-USDT,{order},,{volume},0,{net_fee},{net_fee},0,"
            f"{rebate},0,0,false,{ms(time)}")


def csv(header, rows):
    return "\n".join([header] + rows) + "\n"


def write(name, description, request, checks):
    v = {"name": name, "description": description, "call": "reconcile", "input": request,
         "checks": [{"path": p, "value": x} for p, x in checks], "expected": None}
    with open(os.path.join(OUT, name + ".json"), "w") as f:
        json.dump(v, f, indent=2)
        f.write("\n")


def row_checks(i, status, cause, ours, theirs, diff):
    c = [(f"/ok/rows/{i}/status", status), (f"/ok/rows/{i}/cause", cause)]
    if ours is not None:
        c.append((f"/ok/rows/{i}/ours/commission", ours))
    if theirs is not None:
        c.append((f"/ok/rows/{i}/theirs/commission", theirs))
    c.append((f"/ok/rows/{i}/difference", diff))
    return c


def summary(counts, causes, ours, theirs, diff):
    c = [(f"/ok/summary/counts/{k}", v) for k, v in counts.items()]
    c += [(f"/ok/summary/causes/{k}", v) for k, v in causes.items()]
    return c + [("/ok/summary/ours", ours), ("/ok/summary/theirs", theirs),
                ("/ok/summary/difference", diff)]


# 1. By order, Backpack at BKR 0 (20%), an OKX-format report: every cause once.
T = "2026-06-10T05:00:00Z"
trades = [
    trade("t1", "o1", "c1", "1000", "1", "2026-06-10T01:00:00Z"),
    trade("t2", "o1", "c1", "500", "0.5", "2026-06-10T01:00:01Z"),
    trade("t3", "o2", "c2", "2000", "2", "2026-06-10T02:00:00Z"),
    trade("t4", "o3", "c1", "1000", "1", "2026-06-10T03:00:00Z", channel="web"),
    trade("t5", "o4", "c3", "3000", "3", "2026-06-10T04:00:00Z"),
    trade("t6", "o6", "c2", "1000", "1", "2026-06-10T05:00:00Z"),
    trade("t7", "o7", "c4", "500", "0.5", "2026-06-10T06:00:00Z", broker=None),
    trade("t8", "o8", "c2", "2000", "2", "2026-06-10T07:00:00Z"),
    trade("t9", "o9", "c3", "1000", "1", "2026-06-10T08:00:00Z"),
    trade("t11", "o11", "c3", "2000", "2", "2026-06-10T09:00:00Z"),
]
report = csv(OKX_HEADER, [
    okx_row("B1", "c1", "o1", "1500", "-1.5", "0.300000001", T),
    okx_row("B1", "c2", "o2", "2000", "-2", "0.4", T),
    okx_row("B1", "c1", "o3", "1000", "-1", "0.2", T),
    okx_row("B1", "c2", "o6", "1000", "-1", "0.3", T),
    okx_row("B1", "c4", "o7", "500", "-0.5", "0.1", T),
    okx_row("B1", "c2", "o8", "2000", "-2.5", "0.5", T),
    okx_row("B1", "c3", "o9", "1000", "-1", "0", T),
    okx_row("B1", "c5", "o10", "700", "-0.7", "0.14", T),
    okx_row("B1", "c3", "o11", "3000", "-3", "0.6", T),
])
write(
    "reconcile-order-every-cause",
    "By order, Backpack June at BKR 0 (20% of fee) against an OKX rebate-per-orders report "
    "(netFee negative = fee charged), tolerance 0.00000001. o1 = t1+t2: fee 1.5 x 20% = 0.3, "
    "report 0.300000001: within tolerance -> matched, cause rounding. o2: 2 x 20% = 0.4 = 0.4 "
    "matched. o3: channel web, we exclude (non_api_channel), report pays 0.2 -> only_theirs "
    "excluded. o4: we pay 3 x 20% = 0.6, no row -> only_ours not_in_report, difference -0.6. "
    "o6: same fee 1, report 0.3 -> differs rate, their rate 0.3 = BKR 1's 30%. o7: no broker on "
    "the trade, report credits B1 0.1 -> only_theirs attribution (no_broker). o8: report fee "
    "base 2.5 vs our 2 -> differs fee_base (+0.5), 0.5 vs 0.4. o9: report row pays 0 where we "
    "pay 0.2 -> differs not_paid. o10: no trade of ours -> only_theirs missing_trades 0.14. "
    "o11: report volume 3000 vs our 2000 -> differs missing_trades. Rows sort by order id as "
    "text (o10 < o11 < o3). Totals: ours 0.3+0.4+0.6+0.2+0.4+0.2+0.4 = 2.5; theirs "
    "0.300000001+0.4+0.2+0.3+0.1+0.5+0+0.14+0.6 = 2.540000001; difference 0.040000001.",
    {"program": "backpack", "trades": trades, "report": report,
     "report_format": "okx-rebate-per-orders", "by": "order", "tolerance": "0.00000001"},
    summary({"matched": 2, "differs": 4, "only_ours": 1, "only_theirs": 3},
            {"rounding": 1, "excluded": 1, "not_in_report": 1, "rate": 1, "attribution": 1,
             "fee_base": 1, "not_paid": 1, "missing_trades": 2},
            "2.5", "2.540000001", "0.040000001")
    + [("/ok/summary/keys", 10), ("/ok/summary/report_rows", 9)]
    + [("/ok/rows/0/key/order", "o10")] + row_checks(0, "only_theirs", "missing_trades", None, "0.14", "0.14")
    + [("/ok/rows/0/ours", None)]
    + [("/ok/rows/1/key/order", "o11")] + row_checks(1, "differs", "missing_trades", "0.4", "0.6", "0.2")
    + [("/ok/rows/1/detail/volume_difference", "1000")]
    + [("/ok/rows/2/key/order", "o3")] + row_checks(2, "only_theirs", "excluded", "0", "0.2", "0.2")
    + [("/ok/rows/2/detail/reason", "non_api_channel")]
    + [("/ok/rows/3/key/order", "o4")] + row_checks(3, "only_ours", "not_in_report", "0.6", None, "-0.6")
    + [("/ok/rows/3/theirs", None)]
    + [("/ok/rows/4/key/order", "o6")] + row_checks(4, "differs", "rate", "0.2", "0.3", "0.1")
    + [("/ok/rows/4/detail/our_tier", "BKR 0"), ("/ok/rows/4/detail/our_rate", "0.2"),
       ("/ok/rows/4/detail/their_rate", "0.3"), ("/ok/rows/4/detail/their_tier", "BKR 1")]
    + [("/ok/rows/5/key/order", "o7")] + row_checks(5, "only_theirs", "attribution", "0", "0.1", "0.1")
    + [("/ok/rows/5/detail/reason", "no_broker"), ("/ok/rows/5/detail/their_broker", "B1")]
    + [("/ok/rows/6/key/order", "o8")] + row_checks(6, "differs", "fee_base", "0.4", "0.5", "0.1")
    + [("/ok/rows/6/detail/fee_difference", "0.5"), ("/ok/rows/6/theirs/fee", "2.5")]
    + [("/ok/rows/7/key/order", "o9")] + row_checks(7, "differs", "not_paid", "0.2", "0", "-0.2"),
)

# 2. OKX: a VIP 6 order the exchange paid, and a bound client paid at the unbound rate.
may = [trade(f"m{i}", None, f"mc{i}", "2000", "0", "2026-05-10T10:00:00Z", broker="K1")
       for i in range(5)]
june = [
    trade("v6", "O-v6", "c1", "1000", "10", "2026-06-10T13:10:00Z", broker="K1", vip=6),
    trade("v5", "O-v5", "c2", "1000", "10", "2026-06-10T13:20:00Z", broker="K1", vip=5),
    trade("b1", "O-b1", "c3", "1000", "10", "2026-06-10T13:30:00Z", broker="K1",
          affiliate_rate="0.1"),
]
report = csv(OKX_HEADER, [
    okx_row("K1", "c1", "O-v6", "1000", "-10", "2.5", "2026-06-10T13:10:00Z", "L1"),
    okx_row("K1", "c2", "O-v5", "1000", "-10", "2.5", "2026-06-10T13:20:00Z", "L1"),
    okx_row("K1", "c3", "O-b1", "1000", "-10", "2.5", "2026-06-10T13:30:00Z", "L1"),
])
write(
    "reconcile-order-okx-vip6-and-bound-client",
    "OKX, by order: May has 5 clients x 2,000 spot volume -> L1 for June (25%, bound 5%). "
    "O-v5 fee 10 x 25% = 2.5, report 2.5 -> matched (listed: all). O-v6 is a VIP 6 client: we "
    "exclude it (vip6_plus) and pay 0, the report pays 2.5 -> only_theirs, cause excluded. "
    "O-b1's client is bound to an affiliate (affiliate_rate 0.1): 10 x 5% = 0.5, the report "
    "pays 2.5 -> differs, cause rate: our effective rate 0.05, their rate 2.5 / 10 = 0.25, "
    "both L1 (a bound-client disagreement). Totals: ours 3, theirs 7.5, difference 4.5.",
    {"program": "okx", "trades": may + june, "options": {"from": "2026-06-01T00:00:00Z"},
     "report": report, "report_format": "okx-rebate-per-orders", "by": "order", "all": True},
    summary({"matched": 1, "differs": 1, "only_ours": 0, "only_theirs": 1},
            {"excluded": 1, "rate": 1}, "3", "7.5", "4.5")
    + [("/ok/rows/0/key/order", "O-b1")] + row_checks(0, "differs", "rate", "0.5", "2.5", "2")
    + [("/ok/rows/0/detail/our_rate", "0.05"), ("/ok/rows/0/detail/their_rate", "0.25"),
       ("/ok/rows/0/detail/our_tier", "L1"), ("/ok/rows/0/detail/their_tier", "L1")]
    + [("/ok/rows/1/key/order", "O-v5")] + row_checks(1, "matched", None, "2.5", "2.5", "0")
    + [("/ok/rows/2/key/order", "O-v6")] + row_checks(2, "only_theirs", "excluded", "0", "2.5", "2.5")
    + [("/ok/rows/2/detail/reason", "vip6_plus"), ("/ok/rows/2/theirs/tier", "L1")],
)

# 3. By trade, a generic report mapped column by column, matched rows listed.
trades = [
    trade("f1", None, "c1", "1000", "1", "2026-06-03T00:00:00Z"),
    trade("f2", None, "c1", "617", "0.617", "2026-06-04T00:00:00Z"),
    trade("f3", None, "c2", "2000", "2", "2026-06-05T00:00:00Z"),
]
report = csv("fillId,rebate,feeBase,partner", [
    "f1,0.2,1,B1", "f2,0.12,0.617,B1", "f3,0.4,2,B2"])
write(
    "reconcile-trade-generic-all",
    "By trade, generic format mapped fillId=id, rebate=commission, feeBase=fee, "
    "partner=broker; default tolerance = one cent (Backpack pays USD at 2 decimals). f1: 1 x "
    "20% = 0.2 = 0.2 matched exactly (cause null). f2: 0.617 x 20% = 0.1234, report 0.12: "
    "|0.12 - 0.1234| = 0.0034 <= 0.01 -> matched, cause rounding. f3: report credits B2, we "
    "attribute to B1: 0.4 = 0.4 so matched (amounts agree within tolerance; attribution is "
    "only a cause of a difference). Totals: ours 0.7234, theirs 0.72, difference -0.0034.",
    {"program": "backpack", "trades": trades, "report": report, "report_format": "generic",
     "map": {"fillId": "id", "rebate": "commission", "feeBase": "fee", "partner": "broker"},
     "by": "trade", "all": True},
    summary({"matched": 3, "differs": 0, "only_ours": 0, "only_theirs": 0},
            {"rounding": 1}, "0.7234", "0.72", "-0.0034")
    + [("/ok/tolerance", "0.01"), ("/ok/rows/0/key/id", "f1")]
    + row_checks(0, "matched", None, "0.2", "0.2", "0")
    + [("/ok/rows/1/key/id", "f2")] + row_checks(1, "matched", "rounding", "0.1234", "0.12", "-0.0034")
    + row_checks(2, "matched", None, "0.4", "0.4", "0"),
)

# 4. By account and day in UTC+8 (Bitget).
trades = [
    trade("d1", None, "c1", "1000", "1", "2026-06-10T15:00:00Z"),
    trade("d2", None, "c1", "2000", "2", "2026-06-10T17:00:00Z"),
    trade("d3", None, "c2", "1000", "1", "2026-06-11T01:00:00Z"),
]
report = csv("uid,date,coin,symbol,productType,dealAmount,fee,feeDeduction,feePaid,rebateAmount", [
    "c1,2026-06-10,USDT,BTCUSDT,spot,1000,1,0,1,0.2",
    "c1,2026-06-11,USDT,BTCUSDT,spot,1500,1.5,0,1.5,0.3",
    "c1,2026-06-11,USDT,ETHUSDT,spot,500,0.5,0,0.5,0.1",
    "c2,2026-06-11,USDT,BTCUSDT,spot,1000,1,0,1,0.15",
])
write(
    "reconcile-account-day-bitget-utc8",
    "By account-day, Bitget customer-commissions (days in UTC+8), Backpack at 20%. d1 at "
    "15:00Z is 23:00 on 06-10 in UTC+8; d2 at 17:00Z is 01:00 on 06-11 in UTC+8 (the same UTC "
    "day as d1). c1/2026-06-10: 1 x 20% = 0.2 = 0.2 matched. c1/2026-06-11: d2 2 x 20% = 0.4; "
    "the report's two rows (BTCUSDT 0.3 + ETHUSDT 0.1) sum to 0.4 -> matched, 2 rows. "
    "c2/2026-06-11: 0.2 vs 0.15 on the same fee 1 -> differs, cause rate, their rate 0.15 "
    "(no level pays 15%: no tier implied). Totals: ours 0.8, theirs 0.75, difference -0.05.",
    {"program": "backpack", "trades": trades, "report": report,
     "report_format": "bitget-customer-commissions", "by": "account-day", "all": True},
    summary({"matched": 2, "differs": 1, "only_ours": 0, "only_theirs": 0},
            {"rate": 1}, "0.8", "0.75", "-0.05")
    + [("/ok/rows/0/key/account", "c1"), ("/ok/rows/0/key/day", "2026-06-10")]
    + row_checks(0, "matched", None, "0.2", "0.2", "0")
    + [("/ok/rows/1/key/day", "2026-06-11"), ("/ok/rows/1/theirs/count", 2),
       ("/ok/rows/1/ours/count", 1)]
    + row_checks(1, "matched", None, "0.4", "0.4", "0")
    + [("/ok/rows/2/key/account", "c2")] + row_checks(2, "differs", "rate", "0.2", "0.15", "-0.05")
    + [("/ok/rows/2/detail/their_rate", "0.15")],
)

# 5. By period: the program's months per broker; the report is one broker's.
trades = [
    trade("p1", None, "c1", "1000", "1", "2026-06-03T00:00:00Z"),
    trade("p2", None, "c2", "3000", "3", "2026-06-20T00:00:00Z"),
    trade("p3", None, "c3", "5000", "5", "2026-06-21T00:00:00Z", broker="B2"),
]
report = csv("month,paid,feeBase", ["2026-06-30,1.2,4", "2026-07-31,0.5,1"])
write(
    "reconcile-period-one-broker",
    "By period (Backpack settles by calendar month), a report of broker B1 with no broker "
    "column (request broker B1). June B1: fees 1 + 3 = 4 x 20% = 0.8; the report's row dated "
    "2026-06-30 pays 1.2 on the same fee base 4 -> differs, cause rate: their rate 1.2 / 4 = "
    "0.3 is BKR 1's 30%. The July row pays 0.5 and we have no July trades -> only_theirs "
    "missing_trades. B2's June (5 x 20% = 1) is not this report's business: left out. Totals: "
    "ours 0.8, theirs 1.7, difference 0.9.",
    {"program": "backpack", "trades": trades, "report": report, "report_format": "generic",
     "map": {"month": "day", "paid": "commission", "feeBase": "fee"}, "by": "period",
     "broker": "B1"},
    summary({"matched": 0, "differs": 1, "only_ours": 0, "only_theirs": 1},
            {"rate": 1, "missing_trades": 1}, "0.8", "1.7", "0.9")
    + [("/ok/rows/0/key/broker", "B1"), ("/ok/rows/0/key/period_start", "2026-06-01T00:00:00Z")]
    + row_checks(0, "differs", "rate", "0.8", "1.2", "0.4")
    + [("/ok/rows/0/detail/their_tier", "BKR 1"), ("/ok/rows/0/ours/fee", "4")]
    + [("/ok/rows/1/key/period_start", "2026-07-01T00:00:00Z")]
    + row_checks(1, "only_theirs", "missing_trades", None, "0.5", "0.5"),
)

# 6. A format of one's own (an object): epoch-ms times, days in UTC+8, commission negated.
trades = [
    trade("u1", None, "c1", "1000", "1", "2026-06-10T15:00:00Z"),
    trade("u2", None, "c1", "2000", "2", "2026-06-10T17:00:00Z"),
]
report = csv("uid,ts,rebate", [f"c1,{ms('2026-06-10T15:30:00Z')},-0.2",
                               f"c1,{ms('2026-06-10T16:30:00Z')},-0.4"])
write(
    "reconcile-custom-format-object",
    "A report format given as an object: uid=account, ts=time in epoch milliseconds, "
    "rebate=commission written negative (negate). Days are UTC+8: the row at 15:30Z is "
    "2026-06-10 23:30 and the one at 16:30Z is 2026-06-11 00:30 in UTC+8, as are u1 (15:00Z) "
    "and u2 (17:00Z). c1/06-10: 1 x 20% = 0.2 = -(-0.2) matched; c1/06-11: 2 x 20% = 0.4 "
    "matched. Totals 0.6 each, difference 0.",
    {"program": "backpack", "trades": trades, "report": report,
     "report_format": {"name": "my-exchange", "columns": {"uid": "account", "ts": "time",
                                                         "rebate": "commission"},
                       "time": "epoch_ms", "day_offset": "+08:00", "negate": ["commission"]},
     "by": "account-day", "all": True},
    summary({"matched": 2, "differs": 0, "only_ours": 0, "only_theirs": 0}, {}, "0.6", "0.6", "0")
    + [("/ok/report_format", "my-exchange"), ("/ok/rows/0/key/day", "2026-06-10"),
       ("/ok/rows/1/key/day", "2026-06-11"), ("/ok/rows/0/theirs/commission", "0.2"),
       ("/ok/rows/1/theirs/commission", "0.4")],
)

# Bad reports.
one = [trade("e1", "o1", "c1", "1000", "1", "2026-06-10T00:00:00Z")]


def error(name, description, request, code, loc):
    write(name, description, {"program": "backpack", "trades": one, **request},
          [("/error/code", code)] + [(f"/error/location/{k}", v) for k, v in loc.items()])


error("reconcile-error-missing-column",
      "The OKX format reads brokerRebate (commission); a report without that column is "
      "E_FIELD naming it, at line 1 (the header).",
      {"report": "brokerCode,level,uid,instId,ordId,spotTradeAmt,derivativeTradeAmt,netFee,ts\n"
                 "B1,,c1,BTC-USDT,o1,1000,0,-1,1781049600000\n",
       "report_format": "okx-rebate-per-orders", "by": "order"},
      "E_FIELD", {"field": "brokerRebate", "line": 1})
error("reconcile-error-decimal-exponent",
      "A float-looking commission 2e-1 on line 3 (column 2, rebate) is E_DECIMAL with its line "
      "and column; the row is not skipped.",
      {"report": "ord,rebate\no1,0.2\no2,2e-1\n", "map": {"ord": "order", "rebate": "commission"},
       "by": "order"},
      "E_DECIMAL", {"field": "rebate", "line": 3, "column": 2})
error("reconcile-error-decimal-junk",
      "A commission 0.2.1 on line 2, column 2 is E_DECIMAL.",
      {"report": "ord,rebate\no1,0.2.1\n", "map": {"ord": "order", "rebate": "commission"},
       "by": "order"},
      "E_DECIMAL", {"field": "rebate", "line": 2, "column": 2})
error("reconcile-error-unknown-format",
      "An unknown report format name is E_OPTIONS on report_format.",
      {"report": "a\n1\n", "report_format": "binance-link", "by": "order"},
      "E_OPTIONS", {"field": "report_format"})
error("reconcile-error-duplicate-key",
      "Two OKX rows for order o1 (lines 2 and 3): E_DUPLICATE_ID at line 3, column 5 (ordId).",
      {"report": csv(OKX_HEADER, [okx_row("B1", "c1", "o1", "1000", "-1", "0.2", T),
                                  okx_row("B1", "c1", "o1", "1000", "-1", "0.2", T)]),
       "report_format": "okx-rebate-per-orders", "by": "order"},
      "E_DUPLICATE_ID", {"field": "order", "line": 3, "column": 5, "id": "o1"})
error("reconcile-error-level-needs-column",
      "Matching by trade needs a trade id column; the OKX format has none: E_OPTIONS on by.",
      {"report": csv(OKX_HEADER, []), "report_format": "okx-rebate-per-orders", "by": "trade"},
      "E_OPTIONS", {"field": "by"})
error("reconcile-error-bad-epoch",
      "OKX ts must be epoch milliseconds: 2026-06-10 on line 2 (column 16) is E_TIME.",
      {"report": OKX_HEADER + "\nB1,,c1,BTC-USDT,o1,,1000,0,-1,-1,0,0.2,0,0,false,2026-06-10\n",
       "report_format": "okx-rebate-per-orders", "by": "order"},
      "E_TIME", {"field": "ts", "line": 2, "column": 16})
