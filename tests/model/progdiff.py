"""Seeded random differential for custom programs: random programs drawn from the program
language (offsets, sources, exclusions, windows, basis, metrics with filters and `when`,
ladders, named rates, volume / graduated mode, formulas, negative fees, caps, sub-broker
shares and counting, exclusivity, periods, credit delays, scales, rounding modes) over random
trade logs (differential.Gen) and registries, settled by the CLI (`--program rand.json`) and
by progmodel.settle; every value the model computes is compared. Exit 1 on any mismatch
(printed with a runnable repro).

    python3 tests/model/progdiff.py [--cases N] [--seed S] [--bin PATH] [-v]
    (env: MODEL_PROG_CASES (default 200), MODEL_SEED, BROKER_RULES_BIN)
"""

import argparse
import datetime as dt
import json
import os
import random
import shutil
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import brmodel  # noqa: E402
import check_vectors  # noqa: E402
import differential as df  # noqa: E402
import progmodel  # noqa: E402

ROOT = df.ROOT

EXCLUSIONS = [("non_api_channel", "channel != 'api'"),
              ("vip6_plus", "vip >= 6"),
              ("fee_discount_instrument", "fee_discount"),
              ("product_not_eligible", "product not in ['spot', 'futures', 'margin']"),
              # exclusions reading the formula's quantity (fixed: such programs settle
              # trade by trade; vector custom-exclusion-reads-formula-quantity)
              ("big_notional", "notional > 40000"),
              ("big_fee", "fee > 5"),
              ("code_off_api", "attribution == 'broker_code' and channel not in ['api', 'oauth']"),
              ("high_fee_rate", "fee_rate > 0.0008")]
FORMULAS = ["fee * tier_rate", "fee * min(tier_rate, max(0, 50% - affiliate_rate))",
            "notional * 0.0002 * tier_rate", "fee * tier_rate + if(vip >= 5, fee * 1%, 0)",
            "fee * (tier_rate + 0.125)", "abs(fee) * tier_rate", "fee * tier_rate * 2 / 4",
            "if(affiliate_rate > 0, fee * 5%, fee * tier_rate)",
            "fee * if(tier_level >= 2, tier_rate, 10%)", "notional * fee_rate * tier_rate",
            "fee * if(fee_rate > 0.0005, tier_rate, tier_rate / 2)"]
RATES = ["5%", "10%", "12.5%", "20%", "0.25", "30%", "35%", "40%", "50%", "60%"]
THRESHOLDS = ["0", "1000", "5000", "20000", "50000", "100000", "250000"]


def gen_program(r):
    graduated = r.random() < 0.2
    p = {"id": "rand", "name": "Random program", "version": "1", "notes": ["random"],
         "utc_offset": r.choice(["+00:00", "+00:00", "+08:00", "-05:00", "+05:30"]),
         "attribution": {"sources": r.choice([["broker_code"], ["sub_account", "broker_code"],
                                              ["broker_code", "sub_account"]])},
         "exclusions": [{"reason": a, "when": b}
                        for a, b in r.sample(EXCLUSIONS, r.randint(0, 3))]}
    if r.random() < 0.5:
        window = {"kind": "rolling_days", "days": r.choice([1, 3, 7, 30]),
                  "include_current_day": r.random() < 0.5}
    else:
        window = {"kind": "calendar_month", "month": r.choice(["same", "previous"])}
    vol = {"kind": "volume"}
    if r.random() < 0.3:
        vol["products"] = r.sample(["spot", "futures", "margin", "swap"], r.randint(1, 3))
    if r.random() < 0.3:
        vol["channels"] = r.sample(["api", "oauth", "web", "app"], r.randint(1, 3))
    if r.random() < 0.2:
        vol["when"] = r.choice(["attribution == 'sub_account' or channel == 'api'",
                                "vip < 6", "not fee_discount"])
    metrics = {"vol": vol}
    clients = not graduated and r.random() < 0.3
    if clients:
        metrics["clients"] = {"kind": "active_clients"}
    rate_names = ["rate"] if r.random() < 0.7 else ["rate", "maker_rate"]
    n = r.randint(1, 4)
    levels = [{"name": "T%d" % (i + 1),
               "rates": {k: r.choice(RATES) for k in rate_names}} for i in range(n)]
    th = sorted(r.sample(THRESHOLDS, n), key=lambda x: int(x))
    steps = []
    for i, t in enumerate(th):
        mins = {"vol": t}
        if clients and r.random() < 0.5:
            mins["clients"] = str(r.randint(0, 4))
        steps.append({"level": "T%d" % (i + 1), "min": mins})
    ladders = [{"name": "main", "steps": steps}]
    if clients and not graduated and r.random() < 0.4:
        ladders.append({"name": "clients", "steps": [
            {"level": "T%d" % r.randint(1, n), "min": {"clients": str(r.randint(1, 5))}}]})
    formula = r.choice(FORMULAS)
    if "maker_rate" in rate_names and r.random() < 0.5:
        formula = "fee * if(liquidity == 'maker', maker_rate, rate)"
    p["tiers"] = {"window": window, "basis": r.choice(["attributed", "eligible"]),
                  "mode": "graduated" if graduated else "volume", "metrics": metrics,
                  "rates": rate_names, "levels": levels, "ladders": ladders}
    if not graduated and r.random() < 0.15:
        p["tiers"]["count_sub_brokers"] = True
    caps = []
    if r.random() < 0.25:
        cap = {"scope": "client_month", "amount": r.choice(["1", "5", "25.5", "100"])}
        if r.random() < 0.4:
            cap["when"] = r.choice(["vip >= 5", "channel == 'api'"])
        caps.append(cap)
    if r.random() < 0.2:
        caps.append({"scope": "broker_period", "amount": r.choice(["2", "10", "50.25"])})
    p.update({"formula": formula, "negative_fees": r.choice(["floor", "net"]), "caps": caps,
              "sub_broker_share": r.random() < 0.3,
              "broker_affiliate_exclusive": r.random() < 0.3,
              "settlement": {"period": r.choice(["hour", "day", "month", "month"]),
                             "credit_delay_minutes": r.choice([0, 60, 540, 1440]),
                             "currency": "USD", "scale": r.choice([2, 2, 4, 8]),
                             "rounding": r.choice(["half_even", "half_up", "down"])}})
    return p


def gen_case(r):
    """-> (program, trades, registry, options)."""
    p = gen_program(r)
    g = df.Gen(r)
    m0 = dt.date(2026, r.choice([5, 6, 12]), 1)
    m1 = df.add_months(m0, 1)
    days = [df.add_months(m0, -1) + dt.timedelta(days=i) for i in range(62)]
    brokers = ["B1", "B2", "B3", "S1"][:r.randint(1, 4)]
    accounts = ["c%d" % i for i in range(1, r.randint(2, 8))] + ["s1", "s2"]
    for _ in range(r.randint(3, 25)):
        d = r.choice(days)
        small = r.random() < 0.5
        g.trade(df.iso(d, r.randint(0, 23), r.randint(0, 59), r.randint(0, 59)),
                r.choice(accounts), r.choice(brokers + [None]) if r.random() < 0.9 else "BX",
                r.choice(["api", "api", "oauth", "web", "app"]),
                r.choice(["spot", "spot", "futures", "margin", "swap", "options"]),
                g.money(0, 3000 if small else 60000),
                affiliate_rate=g.affiliate(), vip=r.choice([None, 0, 5, 6]),
                fee_discount=r.choice([None, False, True]),
                liquidity=r.choice(["maker", "taker"]),
                master=r.choice([None, None, "m1"]))
    registry = None
    if r.random() < 0.5:
        registry = {"brokers": [{"code": b} for b in brokers if b != "S1"]}
        if "S1" in brokers:
            registry["brokers"].append({"code": "S1", "parent": "B1",
                                        "parent_share": r.choice(["0", "0.1", "0.5"])})
            if not any(b["code"] == "B1" for b in registry["brokers"]):
                registry["brokers"].append({"code": "B1"})
        if r.random() < 0.5:
            registry["brokers"].append({"code": "IB", "account": "m1", "model": "independent",
                                        "sub_accounts": ["s1"]})
        if r.random() < 0.3:
            registry["affiliates"] = [r.choice(brokers)]
    opts = {}
    if r.random() < 0.5:
        opts["from"] = r.choice([df.iso(m0), m0.isoformat()])
    if r.random() < 0.3:
        opts["to"] = df.iso(m1)
    if r.random() < 0.2:
        opts["lines"] = True
    opts["_format"] = r.choice(["ndjson", "csv", "json"])
    trades = g.finish()
    for t in trades:  # the model declines formulas over absent text fields
        t.setdefault("liquidity", "taker")
    return p, trades, registry, opts


def model(program, trades, registry, opts):
    fmt = opts.get("_format", "ndjson")
    opts = {k: v for k, v in opts.items() if k != "_format"}
    try:
        if fmt != "csv":
            return "ok", progmodel.settle(program, trades, registry, opts)
        st = progmodel.settle(program, df.csv_view(trades), registry, opts,
                              list(range(2, len(trades) + 2)),  # the header is line 1
                              csv=True)
        return "ok", st
    except brmodel.ModelError as e:
        return "error", e.code


def compare(program, path, trades, registry, opts, runner):
    try:
        mk, mv = model(program, trades, registry, opts)
    except brmodel.Unmodeled:
        return None
    ek, ev = runner.engine(path, trades, registry, opts)
    c = check_vectors.Compare()
    if mk == "error" or ek == "error":
        c.leaf("/result", mv if mk == "error" else "ok", ev if ek == "error" else "ok")
        return c.values, c.diffs
    c.leaf("/currency", mv["currency"], ev["currency"])
    check_vectors.compare_statement(c, mv, ev)
    return c.values, c.diffs


def main(argv):
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--cases", type=int, default=int(os.environ.get("MODEL_PROG_CASES", "200")))
    ap.add_argument("--seed", type=int, default=int(os.environ.get("MODEL_SEED", "20261205")))
    ap.add_argument("--bin", default=os.environ.get(
        "BROKER_RULES_BIN", os.path.join(ROOT, "target", "release", "broker-rules")))
    ap.add_argument("--first", action="store_true", help="stop at the first mismatch")
    ap.add_argument("-v", action="store_true")
    a = ap.parse_args(argv)
    if not os.path.exists(a.bin):
        print("no CLI at %s: cargo build --release -p broker-rules-cli" % a.bin)
        return 2
    tmp = tempfile.mkdtemp(prefix="br-progdiff-")
    runner = df.Runner(a.bin, tmp)
    rng = random.Random(a.seed)
    t0 = time.time()
    compared = declined = values = errors = 0
    failures = []
    for i in range(a.cases):
        r = random.Random(rng.getrandbits(64))
        program, trades, registry, opts = gen_case(r)
        path = os.path.join(tmp, "rand.json")
        with open(path, "w") as f:
            json.dump(program, f)
        res = compare(program, path, trades, registry, opts, runner)
        if res is None:
            declined += 1
            continue
        compared += 1
        values += res[0]
        errors += res[0] == 1
        if res[1]:
            failures.append((i, program, trades, registry, opts, res[1]))
            if a.v:
                print("case %d: %d differences" % (i, len(res[1])))
            if a.first:
                break
    for i, program, trades, registry, opts, diffs in failures[:3]:
        print("MISMATCH case %d:" % i)
        for path, m, e in diffs[:12]:
            print("   %s: model %s, engine %s" % (path, json.dumps(m), json.dumps(e)))
        print("   repro: " + json.dumps({"program": program, "registry": registry,
                                          "options": opts, "trades": trades}))
    shutil.rmtree(tmp, ignore_errors=True)
    print("program differential: seed %d, %d random programs compared (%d of them errors), "
          "%d values, %d declined by the model, %d mismatching, %.1fs" % (
              a.seed, compared, errors, values, declined, len(failures), time.time() - t0))
    return 1 if failures or (compared < a.cases // 2 and not a.first) else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
