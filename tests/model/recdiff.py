"""Seeded random differential for `reconcile`: random trade logs for the built-in programs
(differential.py's generators) and a random exchange report in the generic format, keyed at
a random level (trade, order, account-day, period), whose rows agree with, disagree with, or
are missing from the trades (commission at several rates, fee bases and volumes off, other
brokers, keys of no trade, rows at 0), with or without `all`, a tolerance and a report broker.
The report is built from the trades, never from an engine output. Answered by the CLI
(`broker-rules call reconcile`) and by recmodel.reconcile; every key is compared. Exit 1 on
any mismatch (printed with the request).

    python3 tests/model/recdiff.py [--cases N] [--seed S] [--bin PATH] [-v]
    (env: MODEL_REC_CASES (default 200), MODEL_SEED, BROKER_RULES_BIN)
"""

import argparse
import decimal
import json
import os
import random
import subprocess
import sys
import time
from decimal import Decimal as D

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import brmodel  # noqa: E402
import check_vectors  # noqa: E402
import differential as df  # noqa: E402

ROOT = check_vectors.ROOT
LEVELS = ["trade", "order", "account-day", "period"]
ROUND8 = decimal.Context(prec=100)  # the report's own rounding (an exchange's, not ours)


def fee_of(t):
    if t.get("fee") not in (None, ""):
        return D(t["fee"])
    return D(t["notional"]) * D(t["fee_rate"])


def gen_case(r, program):
    trades, registry, opts = df.GENERATORS[program](r)
    # only well-formed, distinct trades: reconcile's report side is what is exercised here
    # one broker (or none) per account, so no key mixes brokers: which broker such a key
    # belongs to is not documented
    seen, clean, owner = set(), [], {}
    for t in trades:
        if t["id"] in seen or t["id"].startswith("bad") or "note" in t:
            continue
        try:
            brmodel.parse_time(t["time"], "time")
        except brmodel.Reject:
            continue
        if owner.setdefault(t["account"], (t.get("broker"), t.get("master"))) != \
                (t.get("broker"), t.get("master")):
            continue
        seen.add(t["id"])
        t = dict(t)
        if r.random() < 0.6:
            t["order"] = "o-%s-%d" % (t["account"], r.randint(1, 3))
        clean.append(t)
    by = r.choice(LEVELS)
    key_cols = {"trade": ["id"], "order": ["order"], "account-day": ["account", "day"],
                "period": ["time"]}[by]
    P = brmodel.PROGRAMS[program]
    keyed = {}
    for t in clean:
        day = brmodel.fmt_time(brmodel.parse_time(t["time"], "time"))[:10]
        start = brmodel.fmt_time(brmodel.period_of(P, brmodel.parse_time(t["time"], "time"))[0])
        k = {"trade": (t["id"],), "order": (t.get("order") or t["id"],),
             "account-day": (t["account"], day), "period": (t.get("broker"), start)}[by]
        keyed.setdefault(k, []).append(t)
    report_broker = None
    if r.random() < 0.2 and by != "period":
        report_broker = r.choice([t.get("broker") for t in clean if t.get("broker")] or ["B1"])
    cols = key_cols + ["commission"]
    extra = [c for c in ("fee", "volume", "tier") if r.random() < 0.6]
    if report_broker is None and (by == "period" or r.random() < 0.6):
        extra.append("broker")
    cols += extra
    rows, used = [], set()
    for k, ts in keyed.items():
        if by == "period" and k[0] is None:
            continue
        if r.random() < 0.2:
            continue  # the report lacks the key
        fee = sum((fee_of(t) for t in ts), D(0))
        vol = sum((D(t["notional"]) for t in ts), D(0))
        rate = D(r.choice(["0.2", "0.25", "0.3", "0.4", "0.5", "0.6", "0", "0.05", "0.35"]))
        com = (max(fee, D(0)) * rate).quantize(D("0.00000001"), context=ROUND8)
        if r.random() < 0.15:
            com += D(r.choice(["0.01", "-0.005", "0.000000001", "1"]))
        row = {"commission": com}
        if by == "trade":
            row["id"] = k[0]
        elif by == "order":
            row["order"] = k[0]
        elif by == "account-day":
            row["account"], row["day"] = k
        else:
            row["time"] = k[1]  # the period's start: the row is that period's
        if "fee" in extra:
            row["fee"] = fee + (D(r.choice(["0.5", "-0.1", "2"])) if r.random() < 0.15 else 0)
        if "volume" in extra:
            row["volume"] = vol + (D(r.choice(["1000", "10", "-5"])) if r.random() < 0.15 else 0)
        if "tier" in extra:
            row["tier"] = r.choice(["", "", "BKR 1", "VIP 1", "L1", "L2"])
        if "broker" in extra:
            row["broker"] = (ts[0].get("broker") or "B1") if by == "period" or r.random() < 0.85 \
                else r.choice(["B1", "B2", "BX", "K1"])
            if by == "period":
                row["broker"] = k[0]
        uk = tuple(row.get(c) for c in key_cols) + ((row.get("broker"),) if by == "period" else ())
        if uk in used:
            continue
        used.add(uk)
        rows.append(row)
    for i in range(r.randint(0, 2)):  # keys of no trade of ours
        row = {"commission": D(r.choice(["0.14", "0", "3.5"]))}
        if by == "trade":
            row["id"] = "zz%d" % i
        elif by == "order":
            row["order"] = "zz%d" % i
        elif by == "account-day":
            row["account"], row["day"] = "zz%d" % i, "2026-06-15"
        else:
            row["time"] = "2031-%02d-01T00:00:00Z" % (i + 1)
        for c in extra:
            row.setdefault(c, {"fee": D(1), "volume": D(100), "tier": "", "broker": "B1"}[c])
        rows.append(row)
    r.shuffle(rows)
    text = ",".join(cols) + "\n" + "".join(
        ",".join(brmodel.fmt_dec(row[c]) if isinstance(row.get(c), D) else str(row.get(c, ""))
                 for c in cols) + "\n" for row in rows)
    request = {"program": program, "trades": clean, "report": text, "report_format": "generic",
               "map": {c: c for c in cols}, "by": by}
    if registry is not None:
        request["registry"] = registry
    o = {k: v for k, v in opts.items() if k in ("from", "to")}
    if o:
        request["options"] = o
    if r.random() < 0.5:
        request["tolerance"] = r.choice(["0", "0.01", "0.00000001", "0.5"])
    if r.random() < 0.5:
        request["all"] = True
    if report_broker is not None:
        request["broker"] = report_broker
    return request


def engine(binary, request):
    p = subprocess.run([binary, "call", "reconcile", "--request", "-"],
                       input=json.dumps(request), capture_output=True, text=True)
    return json.loads(p.stdout)


def main(argv):
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--cases", type=int, default=int(os.environ.get("MODEL_REC_CASES", "200")))
    ap.add_argument("--seed", type=int, default=int(os.environ.get("MODEL_SEED", "20261205")))
    ap.add_argument("--bin", default=os.environ.get(
        "BROKER_RULES_BIN", os.path.join(ROOT, "target", "release", "broker-rules")))
    ap.add_argument("-v", action="store_true")
    a = ap.parse_args(argv)
    if not os.path.exists(a.bin):
        print("no CLI at %s: cargo build --release -p broker-rules-cli" % a.bin)
        return 2
    rng = random.Random(a.seed)
    t0 = time.time()
    compared = declined = errors = 0
    failures = []
    programs = list(df.GENERATORS)
    for i in range(a.cases):
        r = random.Random(rng.getrandbits(64))
        request = gen_case(r, programs[i % len(programs)])
        v = {"call": "reconcile", "input": request, "expected": engine(a.bin, request)}
        if "error" in v["expected"]:
            errors += 1
        c = check_vectors.Compare()
        status, n, info = check_vectors.check_reconcile(v, c)
        if status == "skip":
            declined += 1
            continue
        compared += 1
        if status == "diff":
            failures.append((i, request, info))
            if a.v:
                print("case %d: %d differences" % (i, len(info)))
    for i, request, diffs in failures[:3]:
        print("MISMATCH case %d: %s" % (i, json.dumps(request)))
        for path, m, e in diffs[:8]:
            print("   %s: model %s, engine %s" % (path, json.dumps(m)[:400], json.dumps(e)[:400]))
    print("reconcile differential: seed %d, %d requests compared, %d declined by the model "
          "(%d engine errors), %d mismatching, %.1fs" % (a.seed, compared, declined, errors,
                                                        len(failures), time.time() - t0))
    return 1 if failures or compared < a.cases // 2 else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
