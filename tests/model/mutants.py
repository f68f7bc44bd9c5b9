"""Proof that the oracle can fail: each mutant below breaks one rule of the model, and the
differential (a short seeded run against the real CLI) must report a mismatch for every one.
A mutant that survives means the generator no longer reaches that rule. Exit 1 if any
survives.

    python3 tests/model/mutants.py [--cases N]
"""

import argparse
import contextlib
import io
import os
import sys
from decimal import Decimal as D

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import brmodel  # noqa: E402
import differential  # noqa: E402


def patch(obj, name, value):
    old = getattr(obj, name)
    setattr(obj, name, value)
    return lambda: setattr(obj, name, old)


def m_xt_window_includes_day():
    old = brmodel.Tiers.window_days

    def wd(self, day):
        lo, hi = old(self, day)
        return (lo + 1, hi + 1) if self.P["window"][0] == "rolling_days" else (lo, hi)
    return patch(brmodel.Tiers, "window_days", wd)


def m_threshold_strict():
    old = brmodel.Tiers.level

    def level(self, broker, day):
        name, rates, metrics = old(self, broker, day)
        for ladder in self.P["ladders"]:
            for lv, mins in ladder:
                if lv == name and any(metrics[m] == v for m, v in mins.items()):
                    return None, {r: D(0) for r in self.P["rate_names"]}, metrics
        return name, rates, metrics
    return patch(brmodel.Tiers, "level", level)


def m_okx_same_month():
    w = brmodel.PROGRAMS["okx"]["window"]
    brmodel.PROGRAMS["okx"]["window"] = ("calendar_month", "same")
    return lambda: brmodel.PROGRAMS["okx"].__setitem__("window", w)


def m_no_bound_rate():
    old = brmodel.payout

    def payout(prog, t, rates):
        if prog == "okx":
            return max(D(0), t.fee * rates["rate"])
        return old(prog, t, rates)
    return patch(brmodel, "payout", payout)


def m_backpack_no_affiliate_cap():
    old = brmodel.payout

    def payout(prog, t, rates):
        if prog == "backpack":
            return max(D(0), t.fee * rates["rate"])
        return old(prog, t, rates)
    return patch(brmodel, "payout", payout)


def m_negative_fees_net():
    old = brmodel.payout

    def payout(prog, t, rates):
        c = old(prog, t, rates)
        if c == 0 and t.fee < 0 and prog == "xt":
            return t.fee * rates["rate"]
        return c
    return patch(brmodel, "payout", payout)


def m_half_up():
    import decimal

    def rounded(d, scale):
        return d.quantize(D(1).scaleb(-scale), rounding=decimal.ROUND_HALF_UP,
                          context=decimal.Context(prec=1000))
    return patch(brmodel, "rounded", rounded)


def m_vip6_earns():
    old = brmodel.exclusion

    def exclusion(prog, t, reg=None):
        r = old(prog, t, reg)
        return None if r == "vip6_plus" else r
    return patch(brmodel, "exclusion", exclusion)


def m_clients_not_distinct():
    old = brmodel.Tiers.metrics

    def metrics(self, broker, day):
        out = old(self, broker, day)
        return {m: (v + 1 if "clients" in m and v > 0 else v) for m, v in out.items()}
    return patch(brmodel.Tiers, "metrics", metrics)


def m_sub_account_after_code():
    s = brmodel.PROGRAMS["xt"]["sources"]
    brmodel.PROGRAMS["xt"]["sources"] = ["broker_code", "sub_account"]
    return lambda: brmodel.PROGRAMS["xt"].__setitem__("sources", s)


def m_no_withholding():
    return patch(brmodel.Registry, "is_affiliate", lambda self, code: False)


def m_credit_same_time():
    d = brmodel.PROGRAMS["xt"]["credit_delay"]
    brmodel.PROGRAMS["xt"]["credit_delay"] = 0
    return lambda: brmodel.PROGRAMS["xt"].__setitem__("credit_delay", d)


def m_msa_earns():
    old = brmodel.exclusion

    def exclusion(prog, t, reg=None):
        r = old(prog, t, reg)
        return None if r == "msa_account" else r
    return patch(brmodel, "exclusion", exclusion)


def m_v5_cap_at_600():
    P = brmodel.PROGRAMS["okx-v5"]
    old = P["client_cap"]
    P["client_cap"] = (brmodel.D(600), old[1])
    return lambda: P.__setitem__("client_cap", old)


def m_v5_cap_from_vip6():
    P = brmodel.PROGRAMS["okx-v5"]
    old = P["client_cap"]
    P["client_cap"] = (old[0], 6)
    return lambda: P.__setitem__("client_cap", old)


MUTANTS = [m_xt_window_includes_day, m_threshold_strict, m_okx_same_month, m_no_bound_rate,
           m_backpack_no_affiliate_cap, m_negative_fees_net, m_half_up, m_vip6_earns,
           m_clients_not_distinct, m_sub_account_after_code, m_no_withholding,
           m_credit_same_time, m_msa_earns, m_v5_cap_at_600, m_v5_cap_from_vip6]


def main(argv):
    ap = argparse.ArgumentParser()
    ap.add_argument("--cases", type=int, default=360)
    a = ap.parse_args(argv)
    survivors = []
    for m in MUTANTS:
        undo = m()
        try:
            out = io.StringIO()
            with contextlib.redirect_stdout(out):
                rc = differential.main(["--cases", str(a.cases), "--no-shrink"])
        finally:
            undo()
        caught = rc == 1 and "0 mismatching" not in out.getvalue()
        print("%-32s %s" % (m.__name__[2:], "caught" if caught else "SURVIVED"))
        if not caught:
            survivors.append(m.__name__)
    print("model mutants: %d of %d caught by the differential" % (
        len(MUTANTS) - len(survivors), len(MUTANTS)))
    return 1 if survivors else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
