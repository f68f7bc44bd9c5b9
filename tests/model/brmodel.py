"""An independent reference model of the three built-in broker programs (backpack, xt, okx).

Written from SPEC.md section 4 and the `notes` of rules/programs/*.json, never from the Rust
engine. The rules are hard-coded below (ladders, rates, exclusions, windows, settlement) as
the spec states them; `program_drift()` compares these constants with the program files so a
change to a file that the model does not follow is reported, not silently trusted.

Money is exact: every computation runs in a decimal context of 1,000 digits that traps
Inexact and Rounded, so nothing is rounded except the one quantize per broker per period.
Only the standard library is used.
"""

import datetime as _dt
import decimal
import json
import os
import re
from decimal import Decimal as D

CTX = decimal.Context(prec=1000, rounding=decimal.ROUND_HALF_EVEN,
                      traps=[decimal.Inexact, decimal.Rounded, decimal.InvalidOperation,
                             decimal.DivisionByZero, decimal.Overflow])
decimal.setcontext(CTX)

NS = 1_000_000_000
HOUR = 3600 * NS
DAY = 24 * HOUR
EPOCH = _dt.date(1970, 1, 1)
MIN_TIME = 0
MAX_TIME = (_dt.date(2200, 1, 1) - EPOCH).days * DAY  # exclusive

CHANNELS = ("api", "oauth", "web", "app")
PRODUCTS = ("spot", "margin", "futures", "swap", "options")
TRADE_FIELDS = ("id", "time", "account", "broker", "channel", "product", "notional", "fee",
                "fee_rate", "liquidity", "vip", "fee_discount", "affiliate_rate", "master",
                "order", "instrument", "msa")
DECIMAL_FIELDS = ("notional", "fee", "fee_rate", "affiliate_rate")
TEXT_FIELDS = ("id", "time", "account", "channel", "product", "broker", "master", "order",
               "instrument", "liquidity")
REQUIRED = ("id", "time", "account", "channel", "product", "notional")
FLAG_TEXT = {"true": True, "TRUE": True, "True": True, "1": True,
             "false": False, "FALSE": False, "False": False, "0": False, "": False}


def pct(text):
    return D(text) / D(100)


# --- the three programs, from SPEC.md section 4 -------------------------------------------
# Each ladder: list of (level name, {metric: threshold}); a level needs every threshold (>=).
# Rates per level: {rate name: rate}; the first rate name is the primary (`rate` on output).

PROGRAMS = {
    "backpack": {
        "id": "backpack",
        "currency": "USD", "scale": 2, "period": "month", "credit_delay": 0,
        "sources": ["broker_code"],
        "window": ("calendar_month", "same"),
        "metrics": {"api_volume": ("volume", ("spot", "futures"), ("api",))},
        "rate_names": ["rate"],
        "levels": [("BKR 0", {"rate": pct(20)}), ("BKR 1", {"rate": pct(30)}),
                   ("BKR 2", {"rate": pct(35)}), ("BKR 3", {"rate": pct(40)}),
                   ("BKR 4", {"rate": pct(45)}), ("BKR 5", {"rate": pct(50)})],
        "ladders": [[("BKR 0", {"api_volume": D(0)}),
                     ("BKR 1", {"api_volume": D(5_000_000)}),
                     ("BKR 2", {"api_volume": D(10_000_000)}),
                     ("BKR 3", {"api_volume": D(20_000_000)}),
                     ("BKR 4", {"api_volume": D(60_000_000)}),
                     ("BKR 5", {"api_volume": D(100_000_000)})]],
        "broker_affiliate_exclusive": True,
        "sub_broker_share": False,
    },
    "xt": {
        "id": "xt",
        "currency": "USDT", "scale": 8, "period": "day", "credit_delay": 9 * 60,
        "sources": ["sub_account", "broker_code"],
        "window": ("rolling_days", 30),
        "metrics": {"volume": ("volume", ("spot", "margin", "futures"), None)},
        "rate_names": ["rate"],
        "levels": [("VIP 1", {"rate": pct(40)}), ("VIP 2", {"rate": pct(50)}),
                   ("VIP 3", {"rate": pct(60)})],
        "ladders": [[("VIP 1", {"volume": D(10_000_000)}),
                     ("VIP 2", {"volume": D(30_000_000)}),
                     ("VIP 3", {"volume": D(100_000_000)})]],
        "broker_affiliate_exclusive": True,
        "sub_broker_share": False,
    },
    "okx": {
        "id": "okx",
        "currency": "USDT", "scale": 8, "period": "hour", "credit_delay": 60,
        "sources": ["broker_code"],
        "window": ("calendar_month", "previous"),
        "metrics": {
            "spot_volume": ("volume", ("spot",), ("api", "oauth")),
            "spot_clients": ("active_clients", ("spot",), ("api", "oauth")),
            "derivatives_volume": ("volume", ("futures", "swap", "options"), ("api", "oauth")),
            "derivatives_clients": ("active_clients", ("futures", "swap", "options"),
                                    ("api", "oauth")),
        },
        "rate_names": ["rate", "bound_rate"],
        "levels": [("L1", {"rate": pct(25), "bound_rate": pct(5)}),
                   ("L2", {"rate": pct(30), "bound_rate": pct("7.5")}),
                   ("L3", {"rate": pct(35), "bound_rate": pct(10)}),
                   ("L4", {"rate": pct(40), "bound_rate": pct("12.5")})],
        "ladders": [
            [("L1", {"spot_volume": D(10_000), "spot_clients": D(5)}),
             ("L2", {"spot_volume": D(1_000_000), "spot_clients": D(10)}),
             ("L3", {"spot_volume": D(10_000_000), "spot_clients": D(20)}),
             ("L4", {"spot_volume": D(50_000_000), "spot_clients": D(50)})],
            [("L1", {"derivatives_volume": D(100_000), "derivatives_clients": D(5)}),
             ("L2", {"derivatives_volume": D(5_000_000), "derivatives_clients": D(10)}),
             ("L3", {"derivatives_volume": D(50_000_000), "derivatives_clients": D(20)}),
             ("L4", {"derivatives_volume": D(200_000_000), "derivatives_clients": D(100)})],
        ],
        "broker_affiliate_exclusive": False,
        "sub_broker_share": True,
    },
}


# okx-v5 (issue 12): okx's ladders and rates with OKX's current eligibility, from the file's
# notes: VIP 7+ and managed sub-accounts earn nothing, VIP 5+ clients earn up to a monthly cap
# per account (history before `from` counts), and each client's kickback share is split off.
PROGRAMS["okx-v5"] = dict(PROGRAMS["okx"], id="okx-v5", client_cap=(D(500), 5),
                          client_kickback=True)


def exclusion(prog, t, reg=None):
    """The first exclusion reason that holds for an attributed trade, or None."""
    if prog == "backpack":
        if t.channel != "api":
            return "non_api_channel"
        if t.product not in ("spot", "futures"):
            return "product_not_eligible"
    elif prog == "xt":
        # independent-broker trades (attributed by the sub-account link) earn on any channel
        if t.attribution == "broker_code" and t.channel != "api":
            return "non_api_channel"
        if t.product not in ("spot", "margin", "futures"):
            return "product_not_eligible"
    elif prog == "okx":
        if t.channel not in ("api", "oauth"):
            return "non_api_channel"
        if t.vip >= 6:
            return "vip6_plus"
        if t.fee_discount:
            return "fee_discount_instrument"
    elif prog == "okx-v5":
        if t.channel not in ("api", "oauth"):
            return "non_api_channel"
        if t.vip >= 7:
            return "vip7_plus"
        if t.msa or (reg is not None and t.account in reg.msa):
            return "msa_account"
        if t.fee_discount:
            return "fee_discount_instrument"
    return None


def payout(prog, t, rates):
    """Commission of one eligible trade at the broker's rates (no tier: every rate 0)."""
    if prog == "backpack":
        c = t.fee * min(rates["rate"], max(D(0), D("0.5") - t.affiliate_rate))
    elif prog == "xt":
        c = t.fee * rates["rate"]
    else:
        c = t.fee * (rates["bound_rate"] if t.affiliate_rate > 0 else rates["rate"])
    return max(D(0), c)  # negative fees earn 0, per trade


# --- errors --------------------------------------------------------------------------------

class ModelError(Exception):
    """An error the whole request fails with (the engine's {"error": ...})."""

    def __init__(self, code, field=None, line=None, tid=None):
        super().__init__(code)
        self.code, self.field, self.line, self.id = code, field, line, tid


class Unmodeled(Exception):
    """Input the model deliberately does not cover; the caller skips the case, with this."""


class Reject(Exception):
    def __init__(self, code, field):
        super().__init__(code)
        self.code, self.field = code, field


# --- parsing -------------------------------------------------------------------------------

_DEC = re.compile(r"^[+-]?(\d+(\.\d*)?|\.\d+)$")
# RFC 3339 section 5.6 lets applications use a space for the T (the engine does)
_TIME = re.compile(r"^(\d{4})-(\d{2})-(\d{2})[Tt ](\d{2}):(\d{2}):(\d{2})(\.(\d{1,9}))?"
                   r"([Zz]|[+-]\d{2}:\d{2})$")
_DATE = re.compile(r"^(\d{4})-(\d{2})-(\d{2})$")


def parse_decimal(value, field):
    if isinstance(value, bool) or not isinstance(value, str):
        raise Reject("E_DECIMAL", field)
    s = value.strip()
    if not _DEC.match(s):
        raise Reject("E_DECIMAL", field)
    d = D(s)
    if len(d.normalize().as_tuple().digits) > 28 or abs(d) > D(2**96 - 1):
        raise Unmodeled("a decimal past 28 significant digits / 96 bits (limits not modeled)")
    return d


def parse_time(value, field):
    if not isinstance(value, str):
        raise Reject("E_FIELD", field)
    m = _TIME.match(value)
    if not m:
        raise Reject("E_TIME", field)
    y, mo, d, h, mi, s = (int(m.group(i)) for i in range(1, 7))
    try:
        days = (_dt.date(y, mo, d) - EPOCH).days
    except ValueError:
        raise Reject("E_TIME", field)
    if h > 23 or mi > 59 or s > 59:
        raise Reject("E_TIME", field)
    frac = int((m.group(8) or "").ljust(9, "0"))
    ns = days * DAY + (h * 3600 + mi * 60 + s) * NS + frac
    tz = m.group(9)
    if tz not in ("Z", "z"):
        sign = 1 if tz[0] == "+" else -1
        ns -= sign * (int(tz[1:3]) * 3600 + int(tz[4:6]) * 60) * NS
    if not (MIN_TIME <= ns < MAX_TIME):
        raise Reject("E_TIME", field)
    return ns


def parse_bound(value, field):
    """options.from / to: RFC 3339, or a bare date = midnight at the day offset (UTC here)."""
    if value is None:
        return None
    if isinstance(value, str) and _DATE.match(value):
        value = value + "T00:00:00Z"
    try:
        return parse_time(value, field)
    except Reject:  # a bad bound is the options' mistake, not a trade's
        raise ModelError("E_OPTIONS", field)


class Trade:
    __slots__ = ("id", "time", "account", "broker", "channel", "product", "notional", "fee",
                 "fee_rate", "vip", "fee_discount", "affiliate_rate", "master", "content", "msa",
                 "line", "attribution", "owner", "unattributed", "excluded", "day",
                 "commission", "tier", "rates")


def parse_trade(raw, line, strict):
    """A trade dict from JSON -> (Trade, unknown field count); Reject on a bad trade."""
    if not isinstance(raw, dict):
        raise Reject("E_FIELD", None)
    t = Trade()
    t.line = line
    unknown = 0
    vals = {}
    for k, v in raw.items():
        if k not in TRADE_FIELDS:
            if strict:
                raise Reject("E_FIELD", k)
            unknown += 1
            continue
        if v is None and k not in REQUIRED:
            continue
        if v == "" and k in ("fee", "fee_rate", "affiliate_rate"):
            continue  # an empty optional cell is an absent field (as in CSV)
        if k in DECIMAL_FIELDS:
            vals[k] = parse_decimal(v, k)
        elif k == "time":
            vals[k] = parse_time(v, k)
        elif k == "vip":
            if isinstance(v, bool):
                raise Reject("E_FIELD", k)
            if isinstance(v, str) and v.isdigit():
                v = int(v)
            if not isinstance(v, int):
                raise Reject("E_FIELD" if not isinstance(v, (str, float)) else "E_VALUE", k)
            if v < 0:
                raise Reject("E_VALUE", k)
            vals[k] = v
        elif k in ("fee_discount", "msa"):
            # a yes/no field: a boolean, or the text true/false/1/0 (as a CSV cell reads)
            if isinstance(v, str) and v in FLAG_TEXT:
                v = FLAG_TEXT[v]
            if not isinstance(v, bool):
                raise Reject("E_FIELD" if isinstance(v, (list, dict)) else "E_VALUE", k)
            vals[k] = v
        else:
            if not isinstance(v, str):
                raise Reject("E_FIELD", k)
            vals[k] = v
        if k == "notional" and vals[k] < 0:
            raise Reject("E_VALUE", k)
        if k == "affiliate_rate" and not (D(0) <= vals[k] <= D(1)):
            raise Reject("E_VALUE", k)
        if k == "channel" and strict and v not in CHANNELS:
            raise Reject("E_UNKNOWN_VALUE", k)
        if k == "product" and strict and v not in PRODUCTS:
            raise Reject("E_UNKNOWN_VALUE", k)
    for k in REQUIRED:
        if vals.get(k) is None:
            raise Reject("E_FIELD", k)
    if "fee" not in vals:
        if "fee_rate" not in vals:
            raise Reject("E_FIELD", "fee")
        vals["fee"] = vals["notional"] * vals["fee_rate"]
    t.id = vals["id"]
    t.time = vals["time"]
    t.account = vals["account"]
    t.broker = vals.get("broker")
    t.channel = vals["channel"]
    t.product = vals["product"]
    t.notional = vals["notional"]
    t.fee = vals["fee"]
    t.fee_rate = vals.get("fee_rate")
    t.vip = vals.get("vip", 0)
    t.fee_discount = vals.get("fee_discount", False)
    t.msa = vals.get("msa", False)
    t.affiliate_rate = vals.get("affiliate_rate", D(0))
    t.master = vals.get("master")
    # identical duplicate = the same trade once read: same instant, same decimal values
    # ("100" = "100.0"; a fee given or derived from fee_rate is the fee read), an absent
    # optional field = its default; unknown fields do not count; order and instrument do
    t.content = (t.id, t.time, t.account, t.broker, t.channel, t.product,
                 t.notional.normalize(), vals["fee"].normalize(),
                 t.fee_rate.normalize() if t.fee_rate is not None else None,
                 vals.get("liquidity"), t.vip, t.fee_discount, t.affiliate_rate.normalize(),
                 t.master, vals.get("order"), vals.get("instrument"), t.msa)
    t.day = t.time // DAY
    return t, unknown


# --- registry ------------------------------------------------------------------------------

class Registry:
    def __init__(self, reg):
        if not isinstance(reg, dict):
            raise Unmodeled("registry that is not an object")
        self.codes = {}
        self.sub_of = {}        # sub-account -> independent broker code
        self.master_of = {}     # independent broker's master account -> code
        self.parent = {}        # code -> (parent code, share)
        for i, b in enumerate(reg.get("brokers", [])):
            code = b["code"]
            if code in self.codes:
                raise ModelError("E_REGISTRY", "brokers[%d].code" % i)
            self.codes[code] = b
        for i, b in enumerate(reg.get("brokers", [])):
            code = b["code"]
            if b.get("model") == "independent":
                for s in b.get("sub_accounts", []):
                    if s in self.sub_of:
                        raise ModelError("E_REGISTRY", "brokers[%d].sub_accounts" % i)
                    self.sub_of[s] = code
                if b.get("account"):
                    self.master_of[b["account"]] = code
            if b.get("parent") is not None:
                if b["parent"] not in self.codes:
                    raise ModelError("E_REGISTRY", "brokers[%d].parent" % i)
                self.parent[code] = (b["parent"], D(b.get("parent_share", "0")))
        self.affiliates = set(reg.get("affiliates", []))
        self.msa = {c["account"] for c in reg.get("clients", []) if c.get("msa")}
        self.kickback = {c["account"]: D(c["kickback"]) for c in reg.get("clients", [])
                         if c.get("kickback") is not None}

    def is_affiliate(self, code):
        b = self.codes.get(code, {})
        return code in self.affiliates or (b.get("account") in self.affiliates)


def attribute(P, t, reg):
    """Sets t.owner / t.attribution, or t.unattributed to the reason."""
    t.owner = t.attribution = t.unattributed = None
    reason = "no_broker"
    for src in P["sources"]:
        if src == "sub_account":
            if reg is None:
                continue  # no registry: no account is known to be a sub-account (issue 12)
            else:
                code = reg.sub_of.get(t.account)
                if code is None and t.master is not None:
                    code = reg.master_of.get(t.master)
                if code is not None:
                    t.owner, t.attribution = code, src
                    return
        elif src == "broker_code" and t.broker is not None:
            if reg is None or t.broker in reg.codes:
                t.owner, t.attribution = t.broker, src
                return
            reason = "unenrolled_broker"
    t.unattributed = reason


# --- time ----------------------------------------------------------------------------------

def day_date(day):
    return EPOCH + _dt.timedelta(days=day)


def month_of(day):
    d = day_date(day)
    return d.year * 12 + d.month - 1


def month_start_ns(m):
    return (_dt.date(m // 12, m % 12 + 1, 1) - EPOCH).days * DAY


def period_of(P, ns):
    if P["period"] == "hour":
        s = ns - ns % HOUR
        return s, s + HOUR
    if P["period"] == "day":
        s = ns - ns % DAY
        return s, s + DAY
    m = month_of(ns // DAY)
    return month_start_ns(m), month_start_ns(m + 1)


def fmt_time(ns):
    secs, frac = divmod(ns, NS)
    dt = _dt.datetime(1970, 1, 1) + _dt.timedelta(seconds=secs)
    s = dt.strftime("%Y-%m-%dT%H:%M:%S")
    if frac:
        s += "." + ("%09d" % frac).rstrip("0")
    return s + "Z"


def fmt_dec(d):
    """A plain canonical decimal string: no exponent, no trailing fractional zeros."""
    if d == 0:
        return "0"
    d = d.normalize()
    s = format(d, "f")
    return s


def fits(d):
    """Within a 96-bit decimal: at most 28 significant digits and below 2^96."""
    return len(d.normalize().as_tuple().digits) <= 28 and abs(d) < D(2**96)


def rounded(d, scale):
    q = D(1).scaleb(-scale)
    return d.quantize(q, rounding=decimal.ROUND_HALF_EVEN, context=decimal.Context(
        prec=1000, traps=[decimal.InvalidOperation]))


# --- tiers ---------------------------------------------------------------------------------

class Tiers:
    """Per broker per day: the window's metrics and the level they reach."""

    def __init__(self, P, attributed):
        self.P = P
        self.by_broker_day = {}  # broker -> day -> metric -> (volume D | set of accounts)
        for t in attributed:
            days = self.by_broker_day.setdefault(t.owner, {})
            cell = days.get(t.day)
            if cell is None:
                cell = days[t.day] = {m: (set() if spec[0] == "active_clients" else D(0))
                                      for m, spec in P["metrics"].items()}
            for m, (kind, products, channels) in P["metrics"].items():
                if products is not None and t.product not in products:
                    continue
                if channels is not None and t.channel not in channels:
                    continue
                if kind == "volume":
                    cell[m] += t.notional
                else:
                    cell[m].add(t.account)
        self.cache = {}

    def window_days(self, day):
        kind, arg = self.P["window"]
        if kind == "rolling_days":
            return day - arg, day  # the N whole days before the day, the day excluded
        m = month_of(day)
        if arg == "previous":
            m -= 1
        return month_start_ns(m) // DAY, month_start_ns(m + 1) // DAY

    def metrics(self, broker, day):
        lo, hi = self.window_days(day)
        out = {m: (set() if spec[0] == "active_clients" else D(0))
               for m, spec in self.P["metrics"].items()}
        for d, cell in self.by_broker_day.get(broker, {}).items():
            if lo <= d < hi:
                for m, v in cell.items():
                    if isinstance(v, set):
                        out[m] |= v
                    else:
                        out[m] += v
        return {m: (D(len(v)) if isinstance(v, set) else v) for m, v in out.items()}

    def level(self, broker, day):
        """(level name or None, {rate name: rate}, metrics)."""
        key = (broker, day)
        if key in self.cache:
            return self.cache[key]
        P = self.P
        metrics = self.metrics(broker, day)
        names = [name for name, _ in P["levels"]]
        best = -1
        for ladder in P["ladders"]:
            for name, mins in ladder:
                if all(metrics[m] >= v for m, v in mins.items()):
                    best = max(best, names.index(name))
        if best < 0:
            res = (None, {r: D(0) for r in P["rate_names"]}, metrics)
        else:
            res = (names[best], dict(P["levels"][best][1]), metrics)
        self.cache[key] = res
        return res


# --- settle --------------------------------------------------------------------------------

def settle(program, trades, registry=None, options=None, lines=None, csv=False):
    """The statement's `ok` body (the keys the model computes), or raises ModelError."""
    if program not in PROGRAMS:
        raise ModelError("E_UNKNOWN_PROGRAM", "program")
    P = PROGRAMS[program]
    options = options or {}
    for k in options:
        if k not in ("from", "to", "strict", "lines", "complete_history"):
            raise Unmodeled("option %r" % k)
    strict = bool(options.get("strict", False))
    frm = parse_bound(options.get("from"), "options.from")
    to = parse_bound(options.get("to"), "options.to")
    if frm is not None and to is not None and frm >= to:
        raise ModelError("E_OPTIONS", "options.from")
    if not isinstance(trades, list):
        raise ModelError("E_FIELD", "trades")
    reg = Registry(registry) if registry is not None else None

    accepted, order, rejected = {}, [], []
    duplicates = unknown = 0
    # `lines`: each trade's line when read from text (CSV / NDJSON); else its 1-based position
    for line, raw in zip(lines or range(1, len(trades) + 1), trades):
        try:
            t, unk = parse_trade(raw, line, strict)
        except Reject as r:
            if isinstance(raw, dict) and not strict:
                # a CSV row's unknown cells are all read; a JSON object's up to the bad field
                unknown += unknown_read(raw, None if csv else r.field, r.code)
            tid = raw.get("id") if isinstance(raw, dict) else None
            if strict:
                raise ModelError(r.code, r.field, line, tid)
            rejected.append({"id": tid if isinstance(tid, str) else None, "line": line,
                             "code": r.code, "field": r.field})
            continue
        if not strict:  # counted as read: an identical duplicate's too
            unknown += unknown_read(raw, None)
        prev = accepted.get(t.id)
        if prev is not None:
            if prev.content == t.content:
                duplicates += 1
                continue
            raise ModelError("E_DUPLICATE_ID", "id", line, t.id)
        accepted[t.id] = t
        order.append(t)

    for t in order:
        attribute(P, t, reg)
        t.excluded = exclusion(program, t, reg) if t.owner is not None else t.unattributed
    attributed = [t for t in order if t.owner is not None]
    tiers = Tiers(P, attributed)

    def settled(t):
        return (frm is None or t.time >= frm) and (to is None or t.time < to)

    periods = {}  # (broker, start) -> dict
    unattributed = {}
    lines = []
    cap = P.get("client_cap")  # (amount, lowest VIP it applies to) or None
    # (broker, account, month) -> commission already earned against the cap: the cap is on
    # what one broker earns on one client, so a broker's payout never depends on another's
    used = {}

    def capped(t):
        return cap is not None and t.vip >= cap[1] and not t.excluded

    for t in order:
        start, end = period_of(P, t.time)
        if t.owner is None:
            if settled(t):
                u = unattributed.setdefault(t.unattributed, {"trades": 0, "volume": D(0), "fees": D(0)})
                u["trades"] += 1
                u["volume"] += t.notional
                u["fees"] += t.fee
                lines.append({"id": t.id, "broker": None, "period_start": fmt_time(start),
                              "tier": None, "rate": "0", "commission": "0",
                              "excluded": t.unattributed, "attribution": None,
                              "time": fmt_time(t.time), "account": t.account,
                              "volume": fmt_dec(t.notional)})
            continue
        if not settled(t):
            if capped(t) and frm is not None and t.time < frm:
                # earned earlier in the month, before `from`: uses up the cap, not paid again
                _, rates, _ = tiers.level(t.owner, t.day)
                k = (t.owner, t.account, month_of(t.day))
                used[k] = min(cap[0], used.get(k, D(0)) + payout(program, t, rates))
            continue
        tier, rates, _ = tiers.level(t.owner, t.day)
        c = D(0) if t.excluded else payout(program, t, rates)
        p = periods.get((t.owner, start))
        if p is None:
            p = periods[(t.owner, start)] = new_period(start, end, P)
        p["trades"] += 1
        p["volume"] += t.notional
        p["fees"] += t.fee
        if capped(t):
            p["capped"][t.account] = p["capped"].get(t.account, D(0)) + c
        else:
            p["own"] += c
            if reg is not None and P.get("client_kickback"):
                p["kick"] += c * reg.kickback.get(t.account, D(0))
        p["last_day"] = t.day if p["last_day"] is None else max(p["last_day"], t.day)
        if t.excluded:
            e = p["excluded"].setdefault(t.excluded, {"trades": 0, "volume": D(0), "fees": D(0)})
            e["trades"] += 1
            e["volume"] += t.notional
            e["fees"] += t.fee
        lines.append({"id": t.id, "broker": t.owner, "period_start": fmt_time(start),
                      "tier": tier, "rate": fmt_dec(rates[P["rate_names"][0]]),
                      "commission": fmt_dec(c), "excluded": t.excluded,
                      "attribution": t.attribution, "time": fmt_time(t.time),
                      "account": t.account, "volume": fmt_dec(t.notional)})

    # monthly caps per client account, periods in time order; then the clients' kickbacks
    for key in sorted(periods, key=lambda k: periods[k]["start"]):
        p = periods[key]
        for acc, amount in sorted(p["capped"].items()):
            k = (key[0], acc, month_of(p["start"] // DAY))
            room = max(D(0), cap[0] - used.get(k, D(0)))
            paid = min(amount, room)
            used[k] = used.get(k, D(0)) + paid
            p["own"] += paid
            if reg is not None and P.get("client_kickback"):
                p["kick"] += paid * reg.kickback.get(acc, D(0))
        p["kick"] = min(max(p["kick"], D(0)), p["own"])
        p["own"] -= p["kick"]

    # sub-broker shares: the parent takes parent_share of the sub-broker's own exact amount
    for (b, start), p in list(periods.items()):
        p["to_parent"] = D(0)
    if P["sub_broker_share"] and reg is not None:
        for (b, start), p in list(periods.items()):
            if b in reg.parent:
                parent, share = reg.parent[b]
                amount = p["own"] * share
                p["to_parent"] = amount
                q = periods.get((parent, start))
                if q is None:
                    q = periods[(parent, start)] = new_period(start, start + (p["end"] - start), P)
                    q["to_parent"] = D(0)
                q["from_sub"] += amount

    # The engine holds sums in 96-bit decimals (28 significant digits) and rejects the trade
    # that would push one past it; which sum trips first is engine bookkeeping, not a rule
    # of the programs, so the model declines such inputs instead of guessing.
    sums = [v for p in periods.values() for v in (p["volume"], p["fees"], p["own"])]
    sums += [v for days in tiers.by_broker_day.values() for cell in days.values()
             for v in cell.values() if not isinstance(v, set)]
    sums += [tiers.metrics(b, d)[m] for (b, d) in list(tiers.cache) for m in P["metrics"]]
    if any(not fits(v) for v in sums):
        raise Unmodeled("a sum past 28 significant digits (the engine's E_INEXACT limit)")

    # every broker with an attributed trade is listed, even with history only (no periods):
    # the spec is silent; the engine lists them, commission 0
    brokers = {t.owner: [] for t in attributed}
    for (b, start), p in periods.items():
        brokers.setdefault(b, []).append(p)
    out_brokers = []
    total = D(0)
    # History (issue 12): a period whose tier window has days before the period and before
    # the earliest trade supplied may settle too low; the option says the history is whole.
    first_day = min(t.day for t in order) if order else None
    incomplete = []
    for b in sorted(brokers):
        ps = sorted(brokers[b], key=lambda p: p["start"])
        withheld = (P["broker_affiliate_exclusive"] and reg is not None
                    and reg.is_affiliate(b))
        out_periods = []
        sum_rounded = D(0)
        kick_sum = D(0)
        short = None
        for p in ps:
            if p["last_day"] is None:
                # A parent's period that exists only through sub-brokers' shares: its own
                # level on the period's first day (from its own trades, if any).
                day = p["start"] // DAY
                tier, rates, metrics = tiers.level(b, day)
            else:
                tier, rates, metrics = tiers.level(b, p["last_day"])
                day = p["last_day"]
            exact = p["own"] - p["to_parent"] + p["from_sub"]
            com = rounded(exact, P["scale"])
            sum_rounded += com
            lo, hi = tiers.window_days(day)
            lo0 = tiers.window_days(p["start"] // DAY)[0]
            history = "complete"
            if (first_day is not None and not options.get("complete_history")
                    and lo0 < min(first_day, p["start"] // DAY)):
                history = "incomplete"
                if short is None:
                    short = {"broker": b, "periods": 0, "first": fmt_time(p["start"])}
                short["periods"] += 1
                short["last"] = fmt_time(p["start"])
            ex_n = sum(e["trades"] for e in p["excluded"].values())
            ex_v = sum((e["volume"] for e in p["excluded"].values()), D(0))
            ex_f = sum((e["fees"] for e in p["excluded"].values()), D(0))
            out_periods.append({
                "start": fmt_time(p["start"]), "end": fmt_time(p["end"]),
                "credit_at": fmt_time(p["end"] + P["credit_delay"] * 60 * NS),
                "tier": tier, "rate": fmt_dec(rates[P["rate_names"][0]]),
                "volume": fmt_dec(p["volume"]), "fees": fmt_dec(p["fees"]),
                "commission": format(rounded(D(0), P["scale"]) if withheld else com, "f"),
                "trades": p["trades"],
                "excluded": {r: {"trades": e["trades"], "volume": fmt_dec(e["volume"]),
                                 "fees": fmt_dec(e["fees"])}
                             for r, e in sorted(p["excluded"].items())},
                "rates": {r: fmt_dec(v) for r, v in sorted(rates.items())},
                "metrics": {m: fmt_dec(v) for m, v in sorted(metrics.items())},
                "exact": fmt_dec(D(0) if withheld else exact),
                "to_parent": fmt_dec(p["to_parent"]),
                "from_sub_brokers": fmt_dec(p["from_sub"]),
                "attributed": {"trades": p["trades"], "volume": fmt_dec(p["volume"]),
                               "fees": fmt_dec(p["fees"])},
                "eligible": {"trades": p["trades"] - ex_n, "volume": fmt_dec(p["volume"] - ex_v),
                             "fees": fmt_dec(p["fees"] - ex_f)},
                "excluded_total": {"trades": ex_n, "volume": fmt_dec(ex_v), "fees": fmt_dec(ex_f)},
                "withheld": format(com if withheld else rounded(D(0), P["scale"]), "f"),
                "metrics_window": {"start": fmt_time(lo * DAY), "end": fmt_time(hi * DAY)},
                "history": history,
            })
            if P.get("client_kickback"):
                kick = rounded(D(0) if withheld else p["kick"], P["scale"])
                kick_sum += kick
                out_periods[-1]["kickback"] = format(kick, "f")
        if short is not None:
            incomplete.append(short)
        zero = rounded(D(0), P["scale"])
        payable = zero if withheld else rounded(sum_rounded, P["scale"])
        total += payable
        out_brokers.append({
            "broker": b, "status": "withheld" if withheld else "eligible",
            "reason": "broker_affiliate_conflict" if withheld else None,
            "commission": format(payable, "f"), "periods": out_periods,
            "withheld": format(rounded(sum_rounded, P["scale"]) if withheld else zero, "f"),
        })
        if P.get("client_kickback"):
            out_brokers[-1]["kickback"] = format(rounded(kick_sum, P["scale"]), "f")
    return {
        "program": {"id": P["id"], "version": program_version(program)},
        "currency": P["currency"],
        "brokers": out_brokers,
        "rejected": rejected,
        "lines": lines if options.get("lines") else None,
        "all_lines": lines,
        "summary": {
            "from": fmt_time(frm) if frm is not None else None,
            "to": fmt_time(to) if to is not None else None,
            "trades": len(order), "duplicates": duplicates, "rejected": len(rejected),
            "unknown_fields": unknown,
            "unknown_values": unknown_values(order),
            "unattributed": {r: {"trades": u["trades"], "volume": fmt_dec(u["volume"]),
                                 "fees": fmt_dec(u["fees"])}
                             for r, u in sorted(unattributed.items())},
            "commission": format(rounded(total, P["scale"]), "f"),
            "earliest_trade": fmt_time(min(t.time for t in order)) if order else None,
            "incomplete_history": incomplete,
        },
    }


def unknown_read(raw, bad_field, code=None):
    """Unknown fields counted as read: all of an accepted trade's (and a duplicate's); of a
    JSON object rejected for a field it cannot read (a type, a decimal, a time, a vip or
    fee_discount value), those before that field in the object's own key order: the reader
    stops there. Range checks made once the object is read (a negative notional, an
    affiliate rate outside [0, 1]) and missing fields read them all. The engine's choice
    where the spec is silent (found by tests/model/progdiff.py)."""
    if code == "E_VALUE" and bad_field in ("notional", "affiliate_rate"):
        bad_field = None
    n = 0
    for k in raw:
        if k == bad_field:
            break
        n += k not in TRADE_FIELDS
    return n


def unknown_values(order):
    """Accepted trades per channel / product value that is not a known one (lenient mode)."""
    out = {}
    for t in order:
        for field, value, known in (("channel", t.channel, CHANNELS), ("product", t.product, PRODUCTS)):
            if value not in known:
                f = out.setdefault(field, {})
                f[value] = f.get(value, 0) + 1
    return {f: dict(sorted(v.items())) for f, v in sorted(out.items())}


def new_period(start, end, P):
    return {"start": start, "end": end, "trades": 0, "volume": D(0), "fees": D(0),
            "own": D(0), "from_sub": D(0), "to_parent": D(0), "excluded": {},
            "last_day": None, "capped": {}, "kick": D(0)}


def program_version(name):
    """The version string of a built-in, read from its file as data (it is not a rule)."""
    path = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "rules",
                        "programs", name + ".json")
    with open(path) as f:
        return json.load(f)["version"]


# --- drift guard ---------------------------------------------------------------------------

def program_drift(root):
    """Differences between the model's hard-coded rules and rules/programs/*.json (data only)."""
    problems = []
    for name, P in PROGRAMS.items():
        path = os.path.join(root, "rules", "programs", name + ".json")
        with open(path) as f:
            j = json.load(f)
        s = j["settlement"]
        want = {"currency": P["currency"], "scale": P["scale"], "period": P["period"],
                "credit_delay_minutes": P["credit_delay"]}
        got = {"currency": s["currency"], "scale": s["scale"], "period": s["period"],
               "credit_delay_minutes": s["credit_delay_minutes"]}
        if want != got or s["rounding"] != "half_even":
            problems.append("%s settlement %r != model %r" % (name, s, want))
        if j["utc_offset"] != "+00:00":
            problems.append("%s utc_offset %s (model is UTC)" % (name, j["utc_offset"]))
        if j["attribution"]["sources"] != P["sources"]:
            problems.append("%s sources %r" % (name, j["attribution"]["sources"]))
        levels = [(lv["name"], {k: _rate(v) for k, v in lv["rates"].items()})
                  for lv in j["tiers"]["levels"]]
        if levels != P["levels"]:
            problems.append("%s levels %r" % (name, levels))
        ladders = [[(st["level"], {k: D(v) for k, v in st["min"].items()})
                    for st in ld["steps"]] for ld in j["tiers"]["ladders"]]
        if ladders != P["ladders"]:
            problems.append("%s ladders %r" % (name, ladders))
        if j["tiers"]["rates"] != P["rate_names"]:
            problems.append("%s rate names %r" % (name, j["tiers"]["rates"]))
        for k in ("broker_affiliate_exclusive", "sub_broker_share"):
            if j[k] != P[k]:
                problems.append("%s %s %r" % (name, k, j[k]))
        caps = [{"scope": "client_month", "amount": format(P["client_cap"][0], "f"),
                 "when": "vip >= %d" % P["client_cap"][1]}] if P.get("client_cap") else []
        if j["negative_fees"] != "floor" or j["caps"] != caps or j["tiers"]["mode"] != "volume" \
                or j["tiers"]["basis"] != "attributed" \
                or j.get("client_kickback", False) != P.get("client_kickback", False):
            problems.append("%s negative_fees/caps/mode/basis/client_kickback changed" % name)
        reasons = [x["reason"] for x in j["exclusions"]]
        model_reasons = {"backpack": ["non_api_channel", "product_not_eligible"],
                         "xt": ["non_api_channel", "product_not_eligible"],
                         "okx": ["non_api_channel", "vip6_plus", "fee_discount_instrument"],
                         "okx-v5": ["non_api_channel", "vip7_plus", "msa_account",
                                    "fee_discount_instrument"]}[name]
        if reasons != model_reasons:
            problems.append("%s exclusion reasons %r" % (name, reasons))
        w = j["tiers"]["window"]
        wm = {"kind": "rolling_days", "days": P["window"][1], "include_current_day": False} \
            if P["window"][0] == "rolling_days" else \
            {"kind": "calendar_month", "month": P["window"][1]}
        if w != wm:
            problems.append("%s window %r" % (name, w))
        metrics = {m: (spec["kind"], tuple(spec["products"]) if "products" in spec else None,
                       tuple(spec["channels"]) if "channels" in spec else None)
                   for m, spec in j["tiers"]["metrics"].items()}
        if metrics != P["metrics"]:
            problems.append("%s metrics %r" % (name, metrics))
    return problems


def _rate(v):
    v = v.strip()
    return pct(v[:-1]) if v.endswith("%") else D(v)
