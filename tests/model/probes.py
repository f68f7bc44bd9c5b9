"""Targeted probes: hand-made cases settled by the CLI and by the model, compared like the
differential. `AGREE` probes must agree (exit 1 otherwise). `KNOWN` probes are disagreements
where SPEC.md says the engine is wrong; they are reported, not failed, until the engine is
fixed ("now agrees" then means: move the probe to AGREE, or turn it into a vector).

    python3 tests/model/probes.py
"""

import json
import os
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import differential  # noqa: E402
import progdiff  # noqa: E402


def tr(i, time, account, broker, notional, fee, channel="api", product="spot", **kw):
    t = {"id": i, "time": time, "account": account, "broker": broker, "channel": channel,
         "product": product, "notional": notional, "fee": fee}
    t.update(kw)
    return t


def okx_l2_history():
    return [tr("h%d" % i, "2026-05-10T10:00:00Z", "m%d" % i, "K1", "100000", "0")
            for i in range(10)]


AGREE = [
    ("xt: a 28-decimal fee at no tier (rate 0) is accepted, commission 0",
     "xt", [tr("a", "2026-06-05T00:00:00Z", "c1", "X1", "1000",
               "0.0000000000000000000000000001")], None, {}),
    ("okx: a 27-decimal fee at L2 (30%) is exact: 0.0000000000000000000000000003",
     "okx", okx_l2_history() + [tr("a", "2026-06-05T00:00:00Z", "c1", "K1", "1000",
                                   "0.000000000000000000000000001")], None,
     {"from": "2026-06-01"}),
    ("backpack without lines: the same 27-decimal fee at BKR 0 is exact (batch engine)",
     "backpack", [tr("a", "2026-06-05T00:00:00Z", "c1", "B1", "1",
                     "0.000000000000000000000000001"),
                  tr("b", "2026-06-05T00:00:00Z", "c1", "B1", "1000", "1")], None, {}),
    ("backpack: trailing zeros are not significant digits",
     "backpack", [tr("a", "2026-06-05T00:00:00Z", "c1", "B1", "1000",
                     "1.000000000000000000000000000000")], None, {}),
    ("okx: from given as a bare date is midnight UTC",
     "okx", [tr("a", "2026-06-04T23:59:59.999Z", "c1", "K1", "1", "1"),
             tr("b", "2026-06-05T00:00:00Z", "c1", "K1", "1", "1")], None,
     {"from": "2026-06-05"}),

    ("backpack with lines: a trade is priced only at the level it gets (SPEC 3; issue 11 "
     "item 2), and asking for lines must not change the statement (fixed: tests/vectors/backpack-lines-unreached-level-inexact.json). B1 is at BKR 0 (20%); fee "
     "0.000000000000000000000000001 x 20% = 0.0000000000000000000000000002 is exact. Without "
     "--lines the engine agrees (volume 1001, exact 0.2000000000000000000000000002, 2 "
     "trades); with --lines (the per-trade engine) it rejects trade a with E_INEXACT naming "
     "35% (BKR 2's rate): volume 1000, 1 trade, 1 rejected.",
     "backpack", [tr("a", "2026-06-05T00:00:00Z", "c1", "B1", "1",
                     "0.000000000000000000000000001"),
                  tr("b", "2026-06-05T00:00:00Z", "c1", "B1", "1000", "1")], None,
     {"lines": True}),
    ("okx: summary.from must be RFC 3339 UTC ('...Z', SPEC 5: 'Times are RFC 3339 UTC'); "
     "--from 2026-06-05T07:00:00+08:00 was echoed as given instead of "
     "2026-06-04T23:00:00Z (fixed: tests/vectors/okx-summary-bounds-in-utc.json).",
     "okx", [tr("a", "2026-06-04T23:00:00Z", "c1", "K1", "1000", "1")], None,
     {"from": "2026-06-05T07:00:00+08:00", "to": "2026-06-06T00:00:00-01:00"}),
]

def quantity_exclusion_program():
    """A custom program whose exclusion reads the quantity (`fee`) of its formula."""
    here = os.path.dirname(os.path.abspath(__file__))
    with open(os.path.join(here, "..", "vectors", "custom-rounding-half-even-0_005.json")) as f:
        p = json.load(f)["input"]["program"]
    p["exclusions"] = [{"reason": "big_fee", "when": "fee > 5"}]
    p["tiers"]["levels"] = [{"name": "T1", "rates": {"rate": "50%"}}]
    p["formula"] = "fee * tier_rate"
    return p


QUANTITY_TRADES = [tr("a", "2026-06-05T06:00:00Z", "c1", "B1", "50000", "10"),
                   tr("b", "2026-06-05T07:00:00Z", "c1", "B1", "100", "1")]

AGREE.append(
    ("custom program with lines (the per-trade engine): exclusion `fee > 5` stops trade a "
     "(fee 10): B1 earns 1 x 50% = 0.50",
     quantity_exclusion_program(), QUANTITY_TRADES, None, {"lines": True}))

AGREE.append(
    ("custom program without lines: an exclusion that reads the formula's quantity "
     "(`fee > 5` with `fee * tier_rate`) is decided per trade, as with lines: 0.50. The "
     "batch engine once saw the quantity as 1 there and paid 5.50 (found by progdiff.py; "
     "fixed: such programs settle trade by trade; vector "
     "custom-exclusion-reads-formula-quantity).",
     quantity_exclusion_program(), QUANTITY_TRADES, None, {}))

KNOWN: list = []


def run(runner, probe):
    name, program, trades, registry, opts = probe
    if isinstance(program, dict):  # a custom program: progdiff's comparison, from a file
        path = os.path.join(runner.tmp, "program.json")
        with open(path, "w") as f:
            json.dump(program, f)
        res = progdiff.compare(program, path, trades, registry, opts, runner)
    else:
        res = differential.compare(program, trades, registry, opts, runner)
    if res is None:
        return None
    return res[1]


def main():
    binary = os.environ.get("BROKER_RULES_BIN", os.path.join(
        differential.ROOT, "target", "release", "broker-rules"))
    runner = differential.Runner(binary, tempfile.mkdtemp(prefix="br-probes-"))
    bad = 0
    for p in AGREE:
        diffs = run(runner, p)
        if diffs:
            bad += 1
            print("DISAGREE %s" % p[0])
            for path, m, e in diffs[:8]:
                print("   %s: model %s, engine %s" % (path, json.dumps(m), json.dumps(e)))
        else:
            print("agree    %s" % p[0])
    still = 0
    for p in KNOWN:
        diffs = run(runner, p)
        if diffs:
            still += 1
            print("KNOWN    %s" % p[0])
            for path, m, e in diffs[:8]:
                print("   %s: model %s, engine %s" % (path, json.dumps(m), json.dumps(e)))
        else:
            print("FIXED    %s\n   (now agrees: move it to AGREE or make it a vector)" % p[0])
    print("model probes: %d agree, %d unexpected disagreements, %d known engine "
          "disagreements still open" % (len(AGREE) - bad, bad, still))
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
