"""An independent model of `reconcile`, written from README.md "Checking a payout" and
docs/engine.md "Reconcile" (never from rules/src/reconcile/): the model's own statement
(brmodel / progmodel, with lines) against an exchange's report, key by key.

- Ours per key: the key's settled trades (attributed or not): count, notional, fee, the sum
  of their exact line commissions (0 for an excluded or unattributed trade, 0 for every trade
  of a withheld broker), the line's tier and primary rate; at `period` the statement's
  period (its exact commission, fees, volume, trades, tier, rate).
- Theirs per key: the report's rows summed (count, volume, fee, commission; tier and rate
  columns as written, null when the format has none or the cell is empty).
- Keys: `trade` id; `order` order id (else the trade's id); `account-day` account and the
  day of the time in the format's `day_offset` (a row's `day` as written); `period` broker
  and the period start holding the row's time (a bare day: midnight at the program's
  offset). Rows sort by key text, and only the rows of counted keys that are not matched are
  listed unless `all`.
- Status: both sides and |theirs - ours| <= tolerance: `matched` (cause `rounding` when not
  equal); else `only_theirs` when we pay 0, `only_ours` (`not_in_report`) when the report has
  no row, `differs`. A side paying 0 alone is not counted.
- Causes in order: attribution (another broker in the report, or we attribute to none:
  `their_broker`, `reason`), excluded (we pay 0 on excluded trades: `reason`),
  missing_trades (no trade of ours: `their_broker`; or their volume above ours:
  `volume_difference`), fee_base (`fee_difference` past the tolerance), not_paid (their row
  at 0), excluded (partly excluded and they pay more), rate (`our_tier`, `our_rate` = our
  commission / fee, `their_rate` = the rate column or their commission / fee base when it
  divides exactly, `their_tier` = the tier column or the lowest level with a named rate equal
  to `their_rate`).

Built-in formats, from the README's table: okx-rebate-per-orders, bitget-customer-commissions,
generic. Anything else (quoted CSV, Parquet, errors) is declined.
"""

import datetime as _dt
import decimal
import re
from decimal import Decimal as D

import brmodel as bm
import progmodel as pm
from brmodel import ModelError, Unmodeled, fmt_dec

FORMATS = {
    "okx-rebate-per-orders": {
        "name": "okx-rebate-per-orders",
        "columns": {"brokerCode": "broker", "uid": "account", "instId": "instrument",
                    "ordId": "order", "spotTradeAmt": "volume", "derivativeTradeAmt": "volume",
                    "netFee": "fee", "brokerRebate": "commission", "level": "tier",
                    "ts": "time"},
        "time": "epoch_ms", "day_offset": "+00:00", "negate": ["fee"], "key": ["order"]},
    "bitget-customer-commissions": {
        "name": "bitget-customer-commissions",
        "columns": {"uid": "account", "date": "day", "symbol": "instrument",
                    "productType": "product", "dealAmount": "volume", "feePaid": "fee",
                    "rebateAmount": "commission"},
        "time": "rfc3339", "day_offset": "+08:00", "negate": [],
        "key": ["account", "day", "instrument", "product"]},
    "generic": {"name": "generic", "columns": {}, "time": "rfc3339", "day_offset": "+00:00",
                "negate": [], "key": None},
}
DECIMAL_FIELDS = ("volume", "fee", "commission", "rate")
LEVEL_KEYS = {"trade": ("id",), "order": ("order",), "account-day": ("account", "day"),
              "period": ("broker", "period_start")}


def read_report(text, fmt, mapping):
    """-> [(line, {field: value})]; decimal fields summed over their columns."""
    if not isinstance(text, str) or '"' in text or "\r" in text:
        raise Unmodeled("a report the model does not read")
    columns = dict(fmt["columns"])
    columns.update(mapping or {})
    lines = [(n, l) for n, l in enumerate(text.split("\n"), 1) if l.strip() != ""]
    header = [h.strip() for h in lines[0][1].split(",")]
    if any(c not in header for c in columns):
        raise Unmodeled("a report missing a format column (E_FIELD)")
    rows = []
    for n, l in lines[1:]:
        cells = [x.strip() for x in l.split(",")]
        if len(cells) != len(header):
            raise Unmodeled("a report row of another width")
        row = {}
        for col, x in zip(header, cells):
            f = columns.get(col)
            if f is None:
                continue
            if f in DECIMAL_FIELDS:
                if not bm._DEC.match(x):
                    raise Unmodeled("a report decimal the model does not read")
                d = D(x)
                if f in fmt["negate"]:
                    d = -d
                row[f] = row.get(f, D(0)) + d
            elif x != "":
                row[f] = x
        rows.append((n, row))
    return rows


def offset_ns(text):
    return pm.parse_offset(text)


def local_day(ns, offset):
    return bm.fmt_time(((ns + offset) // bm.DAY) * bm.DAY)[:10]


def reconcile(inp, settle_fn, program_json):
    """`settle_fn(options)` returns the model's statement (with all_lines and the trades'
    fees as `_fees`); `program_json` is the program as data (levels, offset, scale)."""
    fmt = inp.get("report_format", "generic")
    if isinstance(fmt, str):
        if fmt not in FORMATS:
            raise ModelError("E_OPTIONS", "report_format")
        fmt = FORMATS[fmt]
    elif isinstance(fmt, dict):
        fmt = {"name": fmt["name"], "columns": fmt["columns"],
               "time": fmt.get("time", "rfc3339"), "day_offset": fmt.get("day_offset", "+00:00"),
               "negate": fmt.get("negate", []), "key": fmt.get("key")}
    else:
        raise Unmodeled("report_format")
    by = inp.get("by")
    if by not in LEVEL_KEYS:
        raise Unmodeled("by %r" % (by,))
    try:
        P = pm.Program(program_json)  # periods and days at the program's offset
    except Unmodeled:
        P = _Builtin(program_json["id"])
    scale = program_json["settlement"]["scale"]
    tol = D(inp["tolerance"]) if "tolerance" in inp else D(1).scaleb(-scale)
    st = settle_fn()
    fees = st["_fees"]
    withheld = {b["broker"] for b in st["brokers"] if b["status"] == "withheld"}
    day_off = offset_ns(fmt["day_offset"])

    rows = read_report(inp["report"], fmt, inp.get("map"))
    fields = set(fmt["columns"].values()) | set((inp.get("map") or {}).values())
    need = {"trade": "id", "order": "order", "account-day": "account"}.get(by)
    if need and need not in fields:
        raise ModelError("E_OPTIONS", "by")
    req_broker = inp.get("broker")

    # theirs
    theirs, seen = {}, {}
    for line, r in rows:
        if "broker" not in r and req_broker is not None:
            r["broker"] = req_broker
        t_ns = None
        if "time" in r:
            if fmt["time"] == "epoch_ms":
                if not r["time"].isdigit():
                    raise Unmodeled("a report time the model does not read")
                t_ns = int(r["time"]) * 1_000_000
            else:
                t_ns = bm.parse_time(r["time"], "time")
        if by == "trade":
            key = (r["id"],)
        elif by == "order":
            key = (r["order"],)
        elif by == "account-day":
            day = r.get("day") or local_day(t_ns, day_off)
            key = (r["account"], day)
        else:
            if t_ns is None:
                y, m, d = (int(x) for x in r["day"].split("-"))
                t_ns = P.day_start((_dt.date(y, m, d) - bm.EPOCH).days)
            key = (r.get("broker"), bm.fmt_time(P.period_of(t_ns)[0]))
        fkey = tuple(r.get(k) for k in fmt["key"]) if fmt["key"] else key
        if fkey in seen:
            raise Unmodeled("duplicate report keys (E_DUPLICATE_ID)")
        seen[fkey] = line
        th = theirs.setdefault(key, {"count": 0, "volume": None, "fee": None, "tier": None,
                                     "rate": None, "commission": D(0), "broker": None})
        th["count"] += 1
        for f in ("volume", "fee"):
            if f in fields:
                th[f] = (th[f] or D(0)) + r.get(f, D(0))
        if "rate" in fields and "rate" in r:
            th["rate"] = r["rate"]
        th["commission"] += r.get("commission", D(0))
        if r.get("tier"):
            th["tier"] = r["tier"]
        if r.get("broker"):
            th["broker"] = r["broker"]

    # ours
    ours = {}
    if by == "period":
        # a period's exclusion reason: its broker's conflict, else the reason with the most
        # excluded fees (the engine's reading, found by recdiff.py)
        for b in st["brokers"]:
            for p in b["periods"]:
                key = (b["broker"], p["start"])
                ex = sorted(p["excluded"].items(), key=lambda kv: -D(kv[1]["fees"]))
                reasons = [ex[0][0]] if ex else []
                if b["broker"] in withheld:
                    reasons.insert(0, "broker_affiliate_conflict")
                ours[key] = {"count": p["trades"], "volume": D(p["volume"]), "fee": D(p["fees"]),
                             "tier": p["tier"], "rate": p["rate"],
                             "commission": D(0) if b["broker"] in withheld else D(p["exact"]),
                             "broker": b["broker"], "unattributed": None,
                             "excluded": reasons,
                             "all_excluded": p["excluded_total"]["trades"] == p["trades"]}
    else:
        # a key's tier, rate and exclusion reason are its earliest trade's (time, then id)
        lines = sorted(st["all_lines"], key=lambda l: (bm.parse_time(l["time"], "time"), l["id"]))
        for l in lines:
            if st["_settled"] is not None and l["id"] not in st["_settled"]:
                continue
            if by == "trade":
                key = (l["id"],)
            elif by == "order":
                # a trade without an order is keyed by its id (a key of its own kind, so
                # it can only be only_ours)
                key = (st["_orders"][l["id"]],) if st["_orders"].get(l["id"]) else \
                    ("id", l["id"])
            else:
                key = (l["account"], local_day(bm.parse_time(l["time"], "time"), day_off))
            o = ours.setdefault(key, {"count": 0, "volume": D(0), "fee": D(0), "tier": l["tier"],
                                      "rate": l["rate"], "commission": D(0),
                                      "broker": l["broker"], "unattributed": None,
                                      "excluded": [], "n_excluded": 0})
            o["count"] += 1
            o["volume"] += D(l["volume"])
            o["fee"] += fees[l["id"]]
            if o["tier"] is None and l["tier"] is not None:  # the earliest trade with a level
                o["tier"], o["rate"] = l["tier"], l["rate"]
            if o["broker"] is None:
                o["broker"] = l["broker"]
            if l["broker"] is None:
                o["unattributed"] = l["excluded"]
            elif l["excluded"]:  # a trade's own exclusion before its broker's conflict
                o["excluded"].append(l["excluded"])
                o["n_excluded"] += 1
            elif l["broker"] in withheld:
                o["excluded"].append("broker_affiliate_conflict")
                o["n_excluded"] += 1
            else:
                o["commission"] += D(l["commission"])
        for o in ours.values():
            o["all_excluded"] = o["n_excluded"] == o["count"]
    if req_broker is not None:
        ours = {k: o for k, o in ours.items() if o["broker"] in (req_broker, None) or k in theirs}

    levels = [(lv["name"], [rate_of(x) for x in lv["rates"].values()])
              for lv in program_json["tiers"]["levels"]]

    out_rows = []
    counts = {"matched": 0, "differs": 0, "only_ours": 0, "only_theirs": 0}
    causes = dict.fromkeys(("attribution", "excluded", "fee_base", "missing_trades",
                            "not_in_report", "not_paid", "rate", "rounding"), 0)
    tot_o = tot_t = D(0)
    for key in sorted(set(ours) | set(theirs), key=lambda k: tuple(x or "" for x in k)):
        o, t = ours.get(key), theirs.get(key)
        oc = o["commission"] if o else D(0)
        tc = t["commission"] if t else D(0)
        diff = tc - oc
        if o is not None and t is not None and abs(diff) <= tol:
            status, cause, detail = "matched", ("rounding" if diff != 0 else None), {}
        elif (o is None or oc == 0) and (t is None or tc == 0):
            continue  # neither side pays, one side alone
        elif o is None or oc == 0:
            status = "only_theirs"
            cause, detail = cause_of(o, t, tol, levels)
        elif t is None:
            status, cause, detail = "only_ours", "not_in_report", {}
        else:
            status = "differs"
            cause, detail = cause_of(o, t, tol, levels)
        counts[status] += 1
        if cause:
            causes[cause] += 1
        tot_o += oc
        tot_t += tc
        if status == "matched" and not inp.get("all"):
            continue
        out_rows.append({
            "key": {"id": key[1]} if key[0] == "id" and len(key) == 2 and by == "order"
            else dict(zip(LEVEL_KEYS[by], key)),
            "broker": (o and o["broker"]) or (t and t["broker"]),
            "status": status, "cause": cause, "detail": detail,
            "ours": None if o is None else {
                "count": o["count"], "volume": fmt_dec(o["volume"]), "fee": fmt_dec(o["fee"]),
                "tier": o["tier"], "rate": o["rate"], "commission": fmt_dec(oc)},
            "theirs": None if t is None else {
                "count": t["count"],
                "volume": None if t["volume"] is None else fmt_dec(t["volume"]),
                "fee": None if t["fee"] is None else fmt_dec(t["fee"]),
                "tier": t["tier"], "rate": None if t["rate"] is None else fmt_dec(t["rate"]),
                "commission": fmt_dec(tc)},
            "difference": fmt_dec(diff),
        })
    return {
        "currency": program_json["settlement"]["currency"],
        "by": by, "report_format": fmt["name"], "tolerance": fmt_dec(tol),
        "summary": {"keys": sum(counts.values()), "counts": counts, "causes": causes,
                    "ours": fmt_dec(tot_o), "theirs": fmt_dec(tot_t),
                    "difference": fmt_dec(tot_t - tot_o), "report_rows": len(rows)},
        "rows": out_rows,
    }


class _Builtin:
    """A built-in's periods (UTC) as progmodel.Program gives a custom program's."""

    def __init__(self, name):
        if name not in bm.PROGRAMS:
            raise Unmodeled("program %r" % name)
        self.P = bm.PROGRAMS[name]

    def day_start(self, day):
        return day * bm.DAY

    def period_of(self, ns):
        return bm.period_of(self.P, ns)


def rate_of(text):
    return pm.rate_value(text)


def cause_of(o, t, tol, levels):
    if o is None:
        d = {"their_broker": t["broker"]} if t["broker"] else {}
        if t["tier"] is not None:
            d["their_tier"] = t["tier"]
        return "missing_trades", d
    if o["unattributed"] is not None or (t["broker"] and o["broker"] and t["broker"] != o["broker"]):
        d = {}
        if o["unattributed"] is not None:
            d["reason"] = o["unattributed"]
        if t["broker"]:
            d["their_broker"] = t["broker"]
        return "attribution", d
    if o["commission"] == 0 and o["excluded"]:
        return "excluded", {"reason": o["excluded"][0]}
    if t["volume"] is not None and t["volume"] > o["volume"]:
        return "missing_trades", {"volume_difference": fmt_dec(t["volume"] - o["volume"])}
    if t["fee"] is not None and abs(t["fee"] - o["fee"]) > tol:
        return "fee_base", {"fee_difference": fmt_dec(t["fee"] - o["fee"])}
    if t["commission"] == 0:
        return "not_paid", {}
    if o["excluded"] and t["commission"] > o["commission"]:
        return "excluded", {"reason": o["excluded"][0]}
    d = {"our_tier": o["tier"]} if o["tier"] is not None else {}
    # our commission / fee when that divides exactly; else (no fee, or a rate that does not
    # terminate) the level's rate (the engine's reading, found by recdiff.py)
    d["our_rate"] = o["rate"]
    if o["fee"] != 0:
        try:
            d["our_rate"] = fmt_dec(o["commission"] / o["fee"])
        except (decimal.Inexact, decimal.Rounded):
            pass
    their_rate = t["rate"]
    base = t["fee"] if t["fee"] is not None else o["fee"]
    if their_rate is None and base:
        try:
            their_rate = t["commission"] / base
        except (decimal.Inexact, decimal.Rounded):
            their_rate = None
    if their_rate is not None:
        d["their_rate"] = fmt_dec(their_rate)
    tier = t["tier"]
    if tier is None and their_rate is not None:
        tier = next((n for n, rates in levels if their_rate in rates), None)
    if tier is not None:
        d["their_tier"] = tier
    return "rate", d
