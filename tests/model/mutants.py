"""Proof that the oracle can fail: each mutant below breaks one rule of the model, and the
differential (a short seeded run against the real CLI) must report a mismatch for every one.
A mutant that survives means the generator no longer reaches that rule. The vector mutants
break one rule of the custom-program, estimate or reconcile model (progmodel.py, estmodel.py,
recmodel.py), and check_vectors.py must then disagree with at least one vector; the program
mutants break one rule of progmodel.py that progdiff.py's random programs must catch. Exit 1
if any survives.

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


# --- vector mutants: the custom-program, estimate and reconcile models ---------------------

import check_vectors  # noqa: E402
import estmodel  # noqa: E402
import progmodel  # noqa: E402
import recmodel  # noqa: E402


def _program_init(change):
    old = progmodel.Program.__init__

    def init(self, j):
        old(self, j)
        change(self)
    return patch(progmodel.Program, "__init__", init)


def v_half_up_is_half_even():
    return _program_init(lambda P: setattr(P, "rounding", "half_even")
                         if P.rounding == "half_up" else None)


def v_net_is_floor():
    return _program_init(lambda P: setattr(P, "negative", "floor"))


def v_no_broker_cap():
    return _program_init(lambda P: setattr(P, "caps", [c for c in P.caps
                                                       if c["scope"] != "broker_period"]))


def v_utc_offset_ignored():
    return _program_init(lambda P: setattr(P, "offset", 0))


def v_rolling_current_day_ignored():
    return _program_init(lambda P: P.window.pop("include_current_day", None))


def v_graduated_is_volume():
    return _program_init(lambda P: setattr(P, "mode", "volume"))


def v_basis_eligible_ignored():
    return _program_init(lambda P: setattr(P, "basis", "attributed"))


def v_estimate_volume_rounded_down():
    import decimal

    def ceil_div(a, b, scale):
        ctx = decimal.Context(prec=1000, rounding=decimal.ROUND_FLOOR)
        return ctx.divide(a, b).quantize(D(1).scaleb(-scale), rounding=decimal.ROUND_FLOOR,
                                         context=ctx)
    return patch(estmodel, "ceil_div", ceil_div)


def v_estimate_affiliate_share_default_0():
    old = estmodel.scenario_decimal

    def sd(sc, key):
        if key == "affiliate_share" and sc.get(key) is None:
            return D(0)
        return old(sc, key)
    return patch(estmodel, "scenario_decimal", sd)


def v_reconcile_tolerance_zero():
    old = recmodel.reconcile

    def rec(inp, settle_fn, program_json):
        return old(dict(inp, tolerance=inp.get("tolerance", "0")), settle_fn, program_json)
    return patch(recmodel, "reconcile", rec)


def v_reconcile_fee_base_first():
    old = recmodel.cause_of

    def cause_of(o, t, tol, levels):
        if o is not None and t["fee"] is not None and abs(t["fee"] - o["fee"]) > tol:
            return "fee_base", {"fee_difference": brmodel.fmt_dec(t["fee"] - o["fee"])}
        return old(o, t, tol, levels)
    return patch(recmodel, "cause_of", cause_of)


# program mutants: rules of progmodel.py the random custom programs (progdiff.py) must reach

def p_exclusions_ignored():
    return _program_init(lambda P: setattr(P, "exclusions", []))


def p_metric_when_ignored():
    def change(P):
        P.metrics = {m: (k, pr, ch, None) for m, (k, pr, ch, w) in P.metrics.items()}
    return _program_init(change)


def p_previous_month_is_same():
    return _program_init(lambda P: P.window.update(month="same")
                         if P.window.get("month") == "previous" else None)


def p_client_cap_ignored():
    return _program_init(lambda P: setattr(P, "caps", [c for c in P.caps
                                                       if c["scope"] != "client_month"]))


def p_sub_broker_share_ignored():
    return _program_init(lambda P: setattr(P, "share", False))


def p_credit_delay_ignored():
    return _program_init(lambda P: setattr(P, "delay", 0))


PROGRAM_MUTANTS = [p_exclusions_ignored, p_metric_when_ignored, p_previous_month_is_same,
                   p_client_cap_ignored, p_sub_broker_share_ignored, p_credit_delay_ignored]


VECTOR_MUTANTS = [v_half_up_is_half_even, v_net_is_floor, v_no_broker_cap, v_utc_offset_ignored,
                  v_rolling_current_day_ignored, v_graduated_is_volume, v_basis_eligible_ignored,
                  v_estimate_volume_rounded_down, v_estimate_affiliate_share_default_0,
                  v_reconcile_tolerance_zero, v_reconcile_fee_base_first]


def vectors_disagree():
    import glob
    import json
    n = 0
    for f in sorted(glob.glob(os.path.join(check_vectors.ROOT, "tests", "vectors", "*.json"))):
        with open(f) as fh:
            v = json.load(fh)
        try:
            status = check_vectors.check_vector(v)[0]
        except Exception:  # a broken model may also crash: that is caught too
            status = "diff"
        n += status == "diff"
    return n


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
                rc = differential.main(["--cases", str(a.cases), "--no-shrink", "--first"])
        finally:
            undo()
        caught = rc == 1 and "0 mismatching" not in out.getvalue()
        print("%-32s %s" % (m.__name__[2:], "caught" if caught else "SURVIVED"))
        if not caught:
            survivors.append(m.__name__)
    print("model mutants: %d of %d caught by the differential" % (
        len(MUTANTS) - len(survivors), len(MUTANTS)))
    if vectors_disagree():
        print("the unmutated models disagree with the vectors: python3 tests/model/check_vectors.py")
        return 1
    vsurvivors = []
    for m in VECTOR_MUTANTS:
        undo = m()
        try:
            n = vectors_disagree()
        finally:
            undo()
        print("%-32s %s" % (m.__name__[2:], "caught by %d vectors" % n if n else "SURVIVED"))
        if not n:
            vsurvivors.append(m.__name__)
    print("vector mutants: %d of %d caught by the vectors" % (
        len(VECTOR_MUTANTS) - len(vsurvivors), len(VECTOR_MUTANTS)))
    import progdiff
    psurvivors = []
    for m in PROGRAM_MUTANTS:
        undo = m()
        try:
            out = io.StringIO()
            with contextlib.redirect_stdout(out):
                rc = progdiff.main(["--cases", "200", "--first"])
        finally:
            undo()
        caught = rc == 1 and "0 mismatching" not in out.getvalue()
        print("%-32s %s" % (m.__name__[2:], "caught" if caught else "SURVIVED"))
        if not caught:
            psurvivors.append(m.__name__)
    print("program mutants: %d of %d caught by the custom-program differential" % (
        len(PROGRAM_MUTANTS) - len(psurvivors), len(PROGRAM_MUTANTS)))
    return 1 if survivors or vsurvivors or psurvivors else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
