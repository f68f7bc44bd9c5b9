"""Seeded random differential for `estimate`: random scenarios for every built-in program
(volumes at, one cent below and around each threshold, fee rates or total fees, mixes of
products and channels with shares that do or do not divide the thresholds, affiliate shares
and rates, active clients, VIP levels, and a few invalid scenarios), answered by the CLI
(`broker-rules call estimate`) and by estmodel.estimate; every key of the answer (or the
error's code and field) is compared. Exit 1 on any mismatch (printed with the request).

    python3 tests/model/estdiff.py [--cases N] [--seed S] [--bin PATH] [-v]
    (env: MODEL_EST_CASES (default 300), MODEL_SEED, BROKER_RULES_BIN)
"""

import argparse
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
import estmodel  # noqa: E402

ROOT = check_vectors.ROOT
PRODUCTS = ["spot", "margin", "futures", "swap", "options"]
CHANNELS = ["api", "oauth", "web", "app"]
SHARES = [["1"], ["0.5", "0.5"], ["0.6", "0.4"], ["0.25", "0.75"], ["0.3", "0.3", "0.4"],
          ["0.7", "0.3"], ["0.1", "0.2", "0.3", "0.4"], ["0.125", "0.875"]]


def thresholds(program):
    return sorted({v for ladder in brmodel.PROGRAMS[program]["ladders"]
                   for _, mins in ladder for m, v in mins.items()
                   if brmodel.PROGRAMS[program]["metrics"][m][0] == "volume"})


def gen_scenario(r, program):
    t = r.choice(thresholds(program))
    k = r.random()
    if k < 0.3:
        volume = t
    elif k < 0.5:
        volume = max(D(0), t - D("0.01"))
    elif k < 0.6:
        volume = D(0)
    else:
        volume = (t * D(r.randint(1, 300)) / 100).quantize(D("0.01"))
    sc = {"volume": str(volume)}
    if r.random() < 0.7 or volume == 0:
        sc["fee_rate"] = r.choice(["0.0002", "0.0005", "0.001", "0.000125", "0.00035"])
    else:
        sc["fees"] = brmodel.fmt_dec(volume * D(r.choice(["0.0002", "0.0005", "0.001"])))
    if r.random() < 0.6:
        shares = r.choice(SHARES)
        sc["mix"] = [{"product": r.choice(PRODUCTS), "channel": r.choice(CHANNELS), "share": s}
                     for s in shares]
    if r.random() < 0.3:
        sc["affiliate_rate"] = r.choice(["0", "0.1", "0.25", "0.3", "0.5"])
        if r.random() < 0.5:
            sc["affiliate_share"] = r.choice(["0", "0.25", "0.5", "1"])
    if r.random() < 0.5:
        sc["active_clients"] = r.choice([0, 3, 5, 9, 10, 12, 20, 49, 50, 100, 150])
    if r.random() < 0.3:
        sc["vip"] = r.choice([0, 4, 5, 6, 7])
    k = r.random()
    if k < 0.03:
        sc["volume"] = "-1"
    elif k < 0.06:
        sc["fee_rate"] = "0.001"
        sc["fees"] = "1"
    elif k < 0.08:
        sc["volume"] = 1000  # a JSON number
    return sc


def engine(binary, request):
    p = subprocess.run([binary, "call", "estimate", "--request", "-"],
                       input=json.dumps(request), capture_output=True, text=True)
    return json.loads(p.stdout)


def compare(binary, request):
    v = {"call": "estimate", "input": request, "expected": engine(binary, request)}
    c = check_vectors.Compare()
    status, n, info = check_vectors.check_estimate(v, c)
    if status == "skip":
        return None
    return n, (info if status == "diff" else [])


def main(argv):
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--cases", type=int, default=int(os.environ.get("MODEL_EST_CASES", "300")))
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
    compared = declined = values = 0
    failures = []
    programs = list(brmodel.PROGRAMS)
    for i in range(a.cases):
        r = random.Random(rng.getrandbits(64))
        program = programs[i % len(programs)]
        request = {"program": program, "scenario": gen_scenario(r, program)}
        res = compare(a.bin, request)
        if res is None:
            declined += 1
            continue
        compared += 1
        values += res[0]
        if res[1]:
            failures.append((i, request, res[1]))
            if a.v:
                print("case %d: %d differences" % (i, len(res[1])))
    for i, request, diffs in failures[:3]:
        print("MISMATCH case %d: %s" % (i, json.dumps(request)))
        for path, m, e in diffs[:8]:
            print("   %s: model %s, engine %s" % (path, json.dumps(m)[:300], json.dumps(e)[:300]))
    print("estimate differential: seed %d, %d scenarios compared, %d values, %d declined by "
          "the model, %d mismatching, %.1fs" % (a.seed, compared, values, declined,
                                                len(failures), time.time() - t0))
    return 1 if failures or compared < a.cases // 2 else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
