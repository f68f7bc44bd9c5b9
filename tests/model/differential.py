"""Seeded random differential: the broker-rules CLI against the independent model.

Each case is a random trade log for one built-in program, aimed at its edges: tier thresholds
exactly at and one cent below, window edges (the first and last instant of a month, the 30th
day back, the trade's own day), hour/day/month period boundaries, negative fees, affiliate
rates around 50%, VIP 5/6/7, fee-discount instruments, every channel and product, fee given
only as fee_rate, identical duplicates, several brokers and clients, registries with
independent brokers, sub-accounts, parents and affiliates, history before `from`, bad
trades (lenient rejections) and unknown fields. Each case is written as NDJSON, CSV or a
JSON array and settled by `broker-rules settle --format json` and by brmodel.settle (which
reads the CSV case as the CSV reader sees it: text cells, an empty cell absent), and every value the model computes
is compared. On a mismatch the case is shrunk (trades removed while the mismatch stays) and
printed as a runnable repro. Exit 1 on any mismatch.

    python3 tests/model/differential.py [--cases N] [--seed S] [--bin PATH] [-v]
    (env: MODEL_CASES, MODEL_SEED, BROKER_RULES_BIN)
"""

import argparse
import csv
import datetime as dt
import json
import os
import random
import re
import shutil
import subprocess
import sys
import tempfile
import time
from decimal import Decimal as D

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import brmodel  # noqa: E402
import check_vectors  # noqa: E402

ROOT = os.path.normpath(os.path.join(HERE, "..", ".."))


# --- small builders ------------------------------------------------------------------------

def iso(d, h=0, m=0, s=0, ms=None):
    t = "%sT%02d:%02d:%02d" % (d.isoformat(), h, m, s)
    if ms is not None:
        t += ".%03d" % ms
    return t + "Z"


def month_start(y, m):
    return dt.date(y, m, 1)


def add_months(d, n):
    k = d.year * 12 + d.month - 1 + n
    return dt.date(k // 12, k % 12 + 1, 1)


def last_instant(d):
    """The last millisecond before date d."""
    return iso(d - dt.timedelta(days=1), 23, 59, 59, 999)


class Gen:
    """Random values and trades for one case."""

    def __init__(self, rng):
        self.r = rng
        self.n = 0
        self.trades = []

    def money(self, lo, hi, places=2):
        q = 10 ** places
        return D(self.r.randint(int(lo * q), int(hi * q))) / q

    def fee(self, notional):
        r = self.r.random()
        if r < 0.08:
            return {"fee": "-" + str(self.money(0, 5, 4))}           # maker rebate
        if r < 0.12:
            return {"fee": "0"}
        if r < 0.25 and notional > 0:
            return {"fee_rate": str(self.r.choice(
                [D("0.0002"), D("0.00035"), D("0.001"), D("0.000125"), D("0.0005")]))}
        if r < 0.35:
            return {"fee": str(self.money(0, 0.05, 3))}             # half-even ties at 2 dp
        return {"fee": str(self.money(0, 500, self.r.choice([2, 4, 8])))}

    def trade(self, time, account, broker, channel="api", product="spot", notional=None,
              **extra):
        self.n += 1
        if notional is None:
            notional = self.money(0, 50000)
        t = {"id": "t%d" % self.n, "time": time, "account": account}
        if broker is not None:
            t["broker"] = broker
        t.update({"channel": channel, "product": product, "notional": str(notional)})
        if "fee" not in extra and "fee_rate" not in extra:
            t.update(self.fee(D(notional)))
        t.update({k: v for k, v in extra.items() if v is not None})
        self.trades.append(t)
        return t

    def split(self, total, parts):
        """`parts` non-negative 2-dp amounts summing to the 2-dp total exactly."""
        cents = int(D(total) * 100)
        assert D(cents) / 100 == D(total)
        if parts <= 1 or cents < parts * 2:
            return [D(total)]
        cuts = sorted(self.r.sample(range(1, cents), parts - 1))
        pts = [0] + cuts + [cents]
        return [D(pts[i + 1] - pts[i]) / 100 for i in range(parts)]

    def target(self, threshold):
        """A window volume at a threshold: exactly at, one cent below, a cent above, or off."""
        k = self.r.random()
        t = D(threshold)
        if k < 0.35:
            return t
        if k < 0.7:
            return max(D(0), t - D("0.01"))
        if k < 0.8:
            return t + D("0.01")
        return self.money(0, float(t) * 1.3 + 1000)

    def affiliate(self):
        return self.r.choice([None, None, None, "0", "0.1", "0.25", "0.3", "0.4999", "0.5",
                              "0.6", "1"])

    def noise(self, case_days, accounts, brokers, channels, products):
        for _ in range(self.r.randint(0, 12)):
            d = self.r.choice(case_days)
            self.trade(iso(d, self.r.randint(0, 23), self.r.randint(0, 59),
                           self.r.randint(0, 59)),
                       self.r.choice(accounts), self.r.choice(brokers + [None]),
                       self.r.choice(channels), self.r.choice(products),
                       affiliate_rate=self.affiliate(),
                       vip=self.r.choice([None, 0, 5, 6, 7]),
                       fee_discount=self.r.choice([None, None, False, True]),
                       liquidity=self.r.choice([None, "maker", "taker"]))

    def retime(self, text):
        """The same instant written another way: +08:00 / -05:30 offsets, zero fractions."""
        ns = brmodel.parse_time(text, "time")
        off = self.r.choice([0, 8 * 60, -(5 * 60 + 30)])
        secs, frac = divmod(ns + off * 60 * brmodel.NS, brmodel.NS)
        t = (dt.datetime(1970, 1, 1) + dt.timedelta(seconds=secs)).strftime("%Y-%m-%dT%H:%M:%S")
        t += "." + ("%09d" % frac)[:self.r.choice([3, 6, 9])] if frac or self.r.random() < 0.5 \
            else ""
        if off == 0:
            return t + self.r.choice(["Z", "+00:00"])
        return t + "%s%02d:%02d" % ("+" if off > 0 else "-", abs(off) // 60, abs(off) % 60)

    def finish(self):
        """Other spellings, duplicates, bad trades, unknown fields, shuffled order."""
        r = self.r
        out = list(self.trades)
        for t in out:
            if r.random() < 0.1:
                t["time"] = self.retime(t["time"])
            if r.random() < 0.05 and "fee" in t and "fee_rate" not in t:
                t["fee_rate"] = "0.001"                             # fee wins over fee_rate
        for _ in range(r.choice([0, 0, 1, 2, 3])):
            if not out:
                break
            dup = dict(r.choice(out))
            k = r.random()
            if k < 0.3:                                             # another spelling
                dup["time"] = self.retime(dup["time"])
                dup["notional"] = dup["notional"] + ("" if "." in dup["notional"] else ".") + "00"
            elif k < 0.5:                                           # another key order
                items = list(dup.items())
                r.shuffle(items)
                dup = dict(items)
            elif k < 0.55:                                          # other content: an error
                dup["notional"] = str(D(dup["notional"]) + 1)
            out.append(dup)
        if r.random() < 0.25 and out:
            bad = dict(r.choice(out))
            self.n += 1
            bad["id"] = "bad%d" % self.n
            kind = r.randint(0, 4)
            if kind == 0:
                bad["notional"] = 1.5                               # JSON number
            elif kind == 1:
                bad["notional"] = "-1"
            elif kind == 2:
                bad["affiliate_rate"] = "1.5"
            elif kind == 3:
                bad["time"] = r.choice(["2026-02-30T00:00:00Z", "2026-06-01 00:00",
                                        "2026-06-01T24:00:00Z", "1969-12-31T23:59:59Z"])
            else:
                bad.pop("fee", None)
                bad.pop("fee_rate", None)
            out.append(bad)
        if r.random() < 0.1 and out:
            i = r.randrange(len(out))
            out[i] = dict(out[i], note="x")                        # unknown field
            # keep duplicates of it identical
            for j, t in enumerate(out):
                if t["id"] == out[i]["id"]:
                    out[j] = dict(out[i])
        r.shuffle(out)
        return out


# --- one generator per program -------------------------------------------------------------

BACKPACK_STEPS = ["0", "5000000", "10000000", "20000000", "60000000", "100000000"]
XT_STEPS = ["10000000", "30000000", "100000000"]
OKX_SPOT = [("10000", 5), ("1000000", 10), ("10000000", 20), ("50000000", 50)]
OKX_DERIV = [("100000", 5), ("5000000", 10), ("50000000", 20), ("200000000", 100)]


def gen_backpack(rng):
    g = Gen(rng)
    y, m = rng.choice([(2026, 6), (2026, 12), (2028, 2), (2027, 1)])
    m0 = month_start(y, m)
    m1 = add_months(m0, 1)
    brokers = ["B1", "B2", "B3"][:rng.randint(1, 3)]
    clients = ["c%d" % i for i in range(1, rng.randint(2, 7))]
    days = [m0 + dt.timedelta(days=i) for i in range((m1 - m0).days)]
    for b in brokers:
        total = g.target(rng.choice(BACKPACK_STEPS))
        for amt in g.split(total, rng.randint(1, 4)):
            d = rng.choice(days)
            g.trade(iso(d, rng.randint(0, 23), rng.randint(0, 59)), rng.choice(clients), b,
                    "api", rng.choice(["spot", "futures"]), amt,
                    affiliate_rate=g.affiliate())
        # month edges: last instant of the previous month, first of this and the next
        g.trade(last_instant(m0), rng.choice(clients), b, "api", "spot",
                g.money(0, 6000000))
        g.trade(iso(m0), rng.choice(clients), b, "api", "futures", g.money(0, 100000))
        g.trade(last_instant(m1), rng.choice(clients), b, "api", "spot", g.money(0, 100000),
                affiliate_rate=g.affiliate())
        g.trade(iso(m1), rng.choice(clients), b, "api", "spot", g.money(0, 100000))
    if rng.random() < 0.4:                                        # half-even ties at BKR 0
        for fee, aff in rng.sample([("0.025", None), ("0.075", None), ("0.125", None),
                                    ("0.175", None), ("0.1", "0.35"), ("0.3", "0.45"),
                                    ("0.0125", None), ("0.225", "0.3")], 2):
            g.trade(iso(rng.choice(days), 12), "ct", "BT", "api", "spot", "1000", fee=fee,
                    affiliate_rate=aff)
    g.noise(days, clients, brokers + ["BX"], ["api", "web", "app", "oauth"],
            ["spot", "futures", "margin", "options", "swap"])
    registry = None
    if rng.random() < 0.4:
        registry = {"brokers": [{"code": b, "account": "acc-" + b} for b in brokers]}
        if rng.random() < 0.6:
            registry["affiliates"] = [rng.choice(["acc-" + rng.choice(brokers), "aff-x",
                                                  rng.choice(brokers)])]
    opts = {}
    if rng.random() < 0.5:
        opts["from"] = rng.choice([iso(m0), m0.isoformat()])
    if rng.random() < 0.3:
        opts["to"] = iso(m1)
    return g.finish(), registry, opts


def gen_xt(rng):
    g = Gen(rng)
    T = dt.date(2026, 6, 1) + dt.timedelta(days=rng.randint(0, 240))
    use_reg = rng.random() < 0.5
    api = ["X1", "X2"][:rng.randint(1, 2)]
    clients = ["c%d" % i for i in range(1, 6)]
    ind = "IND" if use_reg else "m1"                 # without a registry, master is the code
    subs = ["s1", "s2"]

    def attrib_kwargs():
        """A trade attributed to the independent broker (sub-account or master field)."""
        if use_reg:
            return rng.choice([("s1", None, None), ("s2", None, None), ("s9", None, "m1"),
                               ("s1", rng.choice(api), None)])
        return (rng.choice(["s7", "s8"]), rng.choice([None, None, rng.choice(api)]), "m1")

    owners = api + [ind]
    for owner in owners:
        total = g.target(rng.choice(XT_STEPS))
        parts = g.split(total, rng.randint(1, 4))
        for i, amt in enumerate(parts):
            back = rng.randint(1, 30) if i else rng.choice([1, 30, rng.randint(1, 30)])
            d = T - dt.timedelta(days=back)
            when = iso(d) if back == 30 else iso(d, rng.randint(0, 23), rng.randint(0, 59))
            if owner == ind:
                acc, code, master = attrib_kwargs()
                g.trade(when, acc, code, rng.choice(["api", "web", "app"]),
                        rng.choice(["spot", "margin", "futures"]), amt, master=master)
            else:
                g.trade(when, rng.choice(clients), owner,
                        rng.choice(["api", "api", "web"]), rng.choice(["spot", "margin",
                                                                       "futures"]), amt)
        # just outside the window (31 days back, last instant) and on day T itself
        out_day = T - dt.timedelta(days=30)
        if owner == ind:
            acc, code, master = attrib_kwargs()
            g.trade(last_instant(out_day), acc, code, "api", "spot", g.money(0, 5000000),
                    master=master)
            acc, code, master = attrib_kwargs()
            g.trade(iso(T, rng.randint(0, 23)), acc, code, rng.choice(["api", "app"]),
                    "spot", g.money(0, 5000000), master=master)
        else:
            g.trade(last_instant(out_day), rng.choice(clients), owner, "api", "futures",
                    g.money(0, 5000000))
            g.trade(iso(T, rng.randint(0, 23)), rng.choice(clients), owner, "api", "spot",
                    g.money(0, 5000000))
            g.trade(last_instant(T + dt.timedelta(days=1)), rng.choice(clients), owner,
                    "api", "margin", g.money(0, 5000000))
        # history that must not count: swap / options on the broker
        g.trade(iso(T - dt.timedelta(days=3)), rng.choice(clients), owner if owner != ind
                else None, "api", rng.choice(["swap", "options"]), g.money(0, 20000000),
                master="m1" if owner == ind and not use_reg else None)
    days = [T + dt.timedelta(days=i) for i in (-1, 0, 1, 2)]
    g.noise(days, clients + subs, api + ["XZ"], ["api", "web", "app", "oauth"],
            ["spot", "margin", "futures", "swap"])
    registry = None
    if use_reg:
        registry = {"brokers": [{"code": "IND", "account": "m1", "model": "independent",
                                 "sub_accounts": subs}]
                    + [{"code": b, "account": "a-" + b} for b in api]}
        if rng.random() < 0.4:
            registry["affiliates"] = [rng.choice(["m1", "a-X1", "nobody"])]
    opts = {}
    if rng.random() < 0.6:
        opts["from"] = rng.choice([iso(T), T.isoformat()])
    if rng.random() < 0.2:
        opts["to"] = iso(T + dt.timedelta(days=2))
    return g.finish(), registry, opts


def gen_okx(rng):
    g = Gen(rng)
    y, m = rng.choice([(2026, 6), (2026, 7), (2027, 1), (2028, 3)])
    M = month_start(y, m)
    prev = add_months(M, -1)
    brokers = ["K1", "K2"][:rng.randint(1, 2)]
    use_reg = rng.random() < 0.35
    for b in brokers:
        for ladder, steps, products in (("spot", OKX_SPOT, ["spot"]),
                                        ("deriv", OKX_DERIV, ["futures", "swap", "options"])):
            if rng.random() < 0.4:
                continue
            vol, n = rng.choice(steps)
            n = rng.choice([n, n - 1, n]) if n < 60 else rng.choice([n, n - 1, 20])
            total = g.target(vol)
            accounts = ["%s-%s-%d" % (b, ladder, i) for i in range(n)]
            parts = g.split(total, min(len(accounts), 6)) if accounts else []
            for i, acc in enumerate(accounts):
                amt = parts[i] if i < len(parts) else D(0)
                day = prev + dt.timedelta(days=rng.randint(0, 27))
                g.trade(iso(day, rng.randint(0, 23)), acc, b,
                        rng.choice(["api", "api", "oauth"]), rng.choice(products), amt,
                        vip=rng.choice([None, None, 6, 7]), fee="0",
                        fee_discount=rng.choice([None, True]))
        # edges of the previous month: its first and last instants count, outside does not
        g.trade(iso(prev), "edge-a", b, "api", "spot", g.money(0, 20000))
        g.trade(last_instant(M), "edge-b", b, "oauth", "swap", g.money(0, 200000))
        g.trade(last_instant(prev), "edge-c", b, "api", "spot", g.money(0, 2000000))
        g.trade(iso(add_months(M, 1)), "edge-d", b, "api", "spot", g.money(0, 20000))
        # web trades do not count toward the level
        g.trade(iso(prev, 5), "web-1", b, "web", "spot", g.money(0, 2000000))
        # settled trades of month M at hour edges
        for _ in range(rng.randint(1, 8)):
            d = M + dt.timedelta(days=rng.randint(0, 3))
            h = rng.randint(0, 23)
            when = rng.choice([iso(d, h), iso(d, h, 59, 59, 999), iso(d, h, 30)])
            g.trade(when, rng.choice(["c1", "c2", "c3"]), b,
                    rng.choice(["api", "oauth", "api", "web", "app"]),
                    rng.choice(["spot", "futures", "swap", "options", "margin"]),
                    affiliate_rate=g.affiliate(), vip=rng.choice([None, 0, 5, 6, 7]),
                    fee_discount=rng.choice([None, None, False, True]),
                    msa=rng.choice([None, None, None, False, True]))
    codes = list(brokers)
    registry = None
    if use_reg:
        registry = {"brokers": [{"code": "P", "account": "p"}]}
        for b in brokers:
            e = {"code": b, "account": "acc-" + b}
            if rng.random() < 0.7:
                e["parent"] = "P"
                e["parent_share"] = rng.choice(["0.2", "0.15", "0.333", "0.5", "1", "0"])
            registry["brokers"].append(e)
        if rng.random() < 0.5:
            for _ in range(rng.randint(1, 3)):
                d = M + dt.timedelta(days=rng.randint(0, 3))
                g.trade(iso(d, rng.randint(0, 23)), "pc", "P", "api", "spot")
        codes.append("P")
    for t in g.trades:
        if rng.random() < 0.05:
            t["master"] = "m1"                                      # okx ignores master
    g.noise([M, M + dt.timedelta(days=1)], ["c1", "c4"], codes + ["KX"],
            ["api", "oauth", "web"], ["spot", "swap", "options", "margin"])
    opts = {}
    if rng.random() < 0.6:
        opts["from"] = rng.choice([iso(M), M.isoformat()])
    if rng.random() < 0.2:
        opts["to"] = iso(M + dt.timedelta(days=2))
    return g.finish(), registry, opts


def gen_okx_v5(rng):
    """okx's cases plus what okx-v5 adds: VIP 5 clients with fees that reach the monthly cap
    (some of it earned before `from`), registry clients with kickback shares or the MSA flag."""
    trades, registry, opts = gen_okx(rng)
    month = min(t["time"] for t in trades if t["account"] in ("c1", "c2", "c3"))[:8] + "01"
    start = dt.date.fromisoformat(month)
    n = len(trades)
    for i in range(rng.randint(2, 6)):
        day = start + dt.timedelta(days=rng.randint(0, 4))
        fee = D(rng.choice(["400", "1500", "2600.5", "4000"]))
        trades.append({"id": "v5-%d" % (n + i), "time": iso(day, rng.randint(0, 23)),
                       "account": rng.choice(["c3", "c5"]), "broker": rng.choice(["K1", "K1", "P"]),
                       "channel": "api", "product": rng.choice(["spot", "swap"]),
                       "notional": str(fee * 1000), "fee": str(fee),
                       "vip": rng.choice([5, 6, 5, 0])})
    if rng.random() < 0.4:
        opts["from"] = iso(start + dt.timedelta(days=2))
        opts.pop("to", None)
    if registry is None and rng.random() < 0.6:
        codes = sorted({t["broker"] for t in trades if t.get("broker") not in (None, "KX")})
        registry = {"brokers": [{"code": c} for c in codes]}
    if registry is not None:
        registry["clients"] = [
            {"account": "c1", "kickback": rng.choice(["0.2", "0.333", "0.5", "1", "0"])},
            rng.choice([{"account": "c2", "msa": True}, {"account": "c2", "kickback": "0.1"}]),
            {"account": "c3", "kickback": rng.choice(["0.25", "0.3"])},
        ]
    return trades, registry, opts


GENERATORS = {"backpack": gen_backpack, "xt": gen_xt, "okx": gen_okx, "okx-v5": gen_okx_v5}


# --- running -------------------------------------------------------------------------------

class Runner:
    def __init__(self, binary, tmp):
        self.bin, self.tmp, self.calls = binary, tmp, 0

    def engine(self, program, trades, registry, opts):
        """-> ("ok", statement) or ("error", code)."""
        self.calls += 1
        fmt = opts.get("_format", "ndjson")
        tp = os.path.join(self.tmp, "trades." + fmt)
        with open(tp, "w", newline="") as f:
            if fmt == "ndjson":
                for t in trades:
                    f.write(json.dumps(t) + "\n")
            elif fmt == "json":
                json.dump(trades, f, indent=None)
            else:
                cols = csv_columns(trades)
                w = csv.writer(f, lineterminator="\n")
                w.writerow(cols)
                for t in trades:
                    w.writerow([csv_cell(t.get(c)) for c in cols])
        cmd = [self.bin, "settle", "--program", program, "--trades", tp, "--format", "json",
               "--input-format", fmt]
        if registry is not None:
            rp = os.path.join(self.tmp, "registry.json")
            with open(rp, "w") as f:
                json.dump(registry, f)
            cmd += ["--brokers", rp]
        if "from" in opts:
            cmd += ["--from", opts["from"]]
        if "to" in opts:
            cmd += ["--to", opts["to"]]
        if opts.get("lines"):
            cmd += ["--lines"]
        if opts.get("complete_history"):
            cmd += ["--complete-history"]
        p = subprocess.run(cmd, capture_output=True, text=True)
        if p.stdout.strip():
            return "ok", json.loads(p.stdout)
        m = re.search(r"error\[(E_[A-Z_]+)\]", p.stderr)
        if not m:
            raise RuntimeError("unexpected CLI result %d: %s" % (p.returncode, p.stderr))
        return "error", m.group(1)


def csv_columns(trades):
    seen = []
    for t in trades:
        for k in t:
            if k not in seen:
                seen.append(k)
    return [k for k in brmodel.TRADE_FIELDS if k in seen] + \
        [k for k in seen if k not in brmodel.TRADE_FIELDS]


def csv_cell(v):
    if v is None:
        return ""
    if isinstance(v, bool):
        return "true" if v else "false"
    return str(v)


def csv_view(trades):
    """The trades as the CSV reader sees them: text cells, an empty cell absent; `vip` and
    `fee_discount` / `msa` read as an integer and booleans."""
    cols = csv_columns(trades)
    out = []
    for t in trades:
        row = {}
        for c in cols:
            cell = csv_cell(t.get(c))
            if cell == "":
                continue
            if c == "vip" and cell.isdigit():
                cell = int(cell)
            elif c in ("fee_discount", "msa") and cell in ("true", "false"):
                cell = cell == "true"
            row[c] = cell
        out.append(row)
    return out


def model(program, trades, registry, opts):
    fmt = opts.get("_format", "ndjson")
    opts = {k: v for k, v in opts.items() if k != "_format"}
    try:
        if fmt != "csv":
            return "ok", brmodel.settle(program, trades, registry, opts)
        st = brmodel.settle(program, csv_view(trades), registry, opts, csv=True)
        for r in st["rejected"]:
            r["line"] += 1  # the header is line 1
        return "ok", st
    except brmodel.ModelError as e:
        return "error", e.code


def compare(program, trades, registry, opts, runner, counts=None):
    """-> (values compared, diffs) or None when the model declines the case."""
    try:
        mk, mv = model(program, trades, registry, opts)
    except brmodel.Unmodeled:
        return None
    if counts is not None:
        cover(counts, program, (mk, mv))
    ek, ev = runner.engine(program, trades, registry, opts)
    c = check_vectors.Compare()
    if mk == "error" or ek == "error":
        c.leaf("/result", mv if mk == "error" else "ok", ev if ek == "error" else "ok")
        return c.values, c.diffs
    c.leaf("/currency", mv["currency"], ev["currency"])
    check_vectors.compare_statement(c, mv, ev)
    return c.values, c.diffs


def cover(counts, program, result):
    """Tallies what a case exercised, from the model's statement (or error)."""
    kind, st = result
    def inc(key, n=1):
        counts[key] = counts.get(key, 0) + n
    if kind == "error":
        inc("error " + st)
        return
    for b in st["brokers"]:
        if b["status"] == "withheld":
            inc("withheld broker")
        if not b["periods"]:
            inc("broker with history only")
        for p in b["periods"]:
            inc("%s tier %s" % (program, p["tier"]))
            for r in p["excluded"]:
                inc("excluded " + r)
            if p["to_parent"] != "0":
                inc("parent share")
            if p["commission"] != "0" * len(p["commission"]) and \
                    p["exact"] != p["commission"].rstrip("0").rstrip("."):
                inc("rounded period")
            q = D(p["exact"]).scaleb(brmodel.PROGRAMS[program]["scale"] + 1)
            if q == q.to_integral_value() and int(q) % 10 == 5:
                inc("half-even tie")
    s = st["summary"]
    inc("duplicates", s["duplicates"])
    inc("rejected", s["rejected"])
    inc("unknown fields", s["unknown_fields"])
    for r, u in s["unattributed"].items():
        inc("unattributed " + r, u["trades"])
    if st["lines"] is not None:
        inc("with lines")


def shrink(program, trades, registry, opts, runner, budget=400):
    """Greedy: drop chunks of trades, then single trades, while some mismatch remains."""
    def bad(ts):
        r = compare(program, ts, registry, opts, runner)
        return r is not None and bool(r[1])

    cur = list(trades)
    n = max(1, len(cur) // 2)
    start = runner.calls
    while n >= 1 and runner.calls - start < budget:
        i, changed = 0, False
        while i < len(cur) and runner.calls - start < budget:
            cand = cur[:i] + cur[i + n:]
            if cand and bad(cand):
                cur, changed = cand, True
            else:
                i += n
        if not changed:
            n //= 2
    return cur


def main(argv):
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--cases", type=int, default=int(os.environ.get("MODEL_CASES", "600")))
    ap.add_argument("--seed", type=int, default=int(os.environ.get("MODEL_SEED", "20261205")))
    ap.add_argument("--bin", default=os.environ.get(
        "BROKER_RULES_BIN", os.path.join(ROOT, "target", "release", "broker-rules")))
    ap.add_argument("--no-shrink", action="store_true", help="report mismatches unshrunk")
    ap.add_argument("--first", action="store_true",
                    help="stop at the first mismatch (mutants.py: one is enough to catch one)")
    ap.add_argument("-v", action="store_true")
    a = ap.parse_args(argv)
    if not os.path.exists(a.bin):
        print("no CLI at %s: cargo build --release -p broker-rules-cli" % a.bin)
        return 2
    tmp = tempfile.mkdtemp(prefix="br-model-")
    runner = Runner(a.bin, tmp)
    rng = random.Random(a.seed)
    t0 = time.time()
    per = {p: 0 for p in GENERATORS}
    values = trades_total = declined = 0
    failures = []
    counts = {}
    progs = list(GENERATORS)
    for i in range(a.cases):
        program = progs[i % len(progs)]
        case_rng = random.Random(rng.getrandbits(64))
        trades, registry, opts = GENERATORS[program](case_rng)
        if case_rng.random() < 0.15:
            opts["lines"] = True
        if case_rng.random() < 0.2:
            opts["complete_history"] = True
        opts["_format"] = case_rng.choice(["ndjson", "ndjson", "csv", "csv", "json"])
        res = compare(program, trades, registry, opts, runner, counts)
        if res is None:
            declined += 1
            continue
        per[program] += 1
        trades_total += len(trades)
        values += res[0]
        if res[1]:
            failures.append((i, program, trades, registry, opts, res[1]))
            if a.v:
                print("case %d (%s): %d differences" % (i, program, len(res[1])))
            if a.first:
                break
    for i, program, trades, registry, opts, diffs in failures[:3]:
        small = trades if a.no_shrink else shrink(program, trades, registry, opts, runner)
        _, sdiffs = compare(program, small, registry, opts, runner)
        print("MISMATCH case %d (%s), shrunk from %d to %d trades:" % (
            i, program, len(trades), len(small)))
        for path, m, e in sdiffs[:12]:
            print("   %s: model %s, engine %s" % (path, json.dumps(m), json.dumps(e)))
        print("   repro: " + json.dumps({"program": program, "registry": registry,
                                          "options": opts, "trades": small}))
    shutil.rmtree(tmp, ignore_errors=True)
    if a.v:
        for k in sorted(counts):
            print("   covered %-40s %d" % (k, counts[k]))
    print("model differential: seed %d, %d cases (%s), %d trades, %d values compared, "
          "%d declined by the model, %d mismatching, %d CLI runs, %.1fs" % (
              a.seed, sum(per.values()), ", ".join("%s %d" % kv for kv in per.items()),
              trades_total, values, declined, len(failures), runner.calls, time.time() - t0))
    return 1 if failures or sum(per.values()) < min(300, a.cases) else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
