"""An independent model of `estimate` for the built-in programs, written from SPEC.md section 5
("Estimate"), docs/engine.md ("Estimate") and the field descriptions of
schemas/scenario.schema.json and schemas/estimate.schema.json; never from the Rust core.

A scenario is a volume V over one tier window, a fee rate f (or total fees F, f = F / V,
which must be exact), a mix of shares per product and channel (default: all on the first
product and channel of the first volume metric the first ladder tests; spot / api when it
names none), the share of volume from affiliate-referred clients and their rate (the share
defaults to 1 when a rate is given, else 0), active clients and VIP. Each mix entry is a class
of trades: its volume is V x share, its fees V x share x f, split into the referred part (at
the affiliate rate) and the rest; the program's exclusions and payout (brmodel) price each
part at the level's rates, exactly, and the sum is rounded once as a period would be.

- metrics: a volume metric is V x the shares of the entries its product and channel filters
  take; an active-clients metric is the scenario's active clients.
- tier / rates: the highest level any ladder step reaches (every threshold `>=`); none: no
  tier, every rate 0.
- curve: per level, lowest first, the least volume with the same mix at which one of its
  steps is met, for the steps whose other thresholds the scenario already meets: the largest
  `threshold / share` over the step's volume metrics, rounded up to the currency's minor unit
  when it does not terminate; a level no step reaches by volume alone has no point. Each
  point's commission is the scenario at that volume, priced at that level.
- next: the first curve level above the scenario's tier (null when none).
- tiers_above: every level above the tier, each with one way per ladder step to it: every
  threshold with `min`, `have` and `more` (0 when met), the step's volume (null when the mix
  feeds none of a volume metric it needs; the scenario's own volume when it already meets
  them) and what is still needed, `met`; the level's
  commission at the volume of its cheapest way (at least V), as if every other threshold were
  met.
"""

import decimal
from decimal import Decimal as D

import brmodel as bm
from brmodel import ModelError, Unmodeled, fmt_dec

SCENARIO_FIELDS = ("volume", "fee_rate", "fees", "mix", "affiliate_share", "affiliate_rate",
                   "active_clients", "vip")


class _Class:
    """A mix entry's part as the trade brmodel's exclusion() and payout() read."""

    def __init__(self, product, channel, vip, affiliate_rate, fee):
        self.product, self.channel, self.vip = product, channel, vip
        self.affiliate_rate, self.fee = affiliate_rate, fee
        self.attribution, self.fee_discount, self.account = "broker_code", False, None
        self.msa = False  # a scenario has no managed sub-accounts


def scenario_decimal(sc, key):
    v = sc.get(key)
    if v is None:
        return None
    if isinstance(v, bool) or not isinstance(v, str):
        raise ModelError("E_DECIMAL", "scenario." + key)
    try:
        return bm.parse_decimal(v, key)
    except bm.Reject:
        raise ModelError("E_DECIMAL", "scenario." + key)


def ceil_div(a, b, scale):
    """a / b, exact when it terminates, else rounded up at `scale` decimals."""
    try:
        return a / b
    except (decimal.Inexact, decimal.Rounded):
        ctx = decimal.Context(prec=1000, rounding=decimal.ROUND_CEILING)
        return ctx.divide(a, b).quantize(D(1).scaleb(-scale), rounding=decimal.ROUND_CEILING,
                                         context=ctx)


def estimate(program, scenario):
    if not isinstance(program, str):
        raise Unmodeled("a custom program's estimate")
    if program not in bm.PROGRAMS:
        raise ModelError("E_UNKNOWN_PROGRAM", "program")
    P = bm.PROGRAMS[program]
    if not isinstance(scenario, dict):
        raise ModelError("E_FIELD", "scenario")
    if set(scenario) - set(SCENARIO_FIELDS):
        raise ModelError("E_FIELD", "scenario")
    V = scenario_decimal(scenario, "volume")
    if V is None:
        raise Unmodeled("a scenario without a volume")
    fee_rate, fees = scenario_decimal(scenario, "fee_rate"), scenario_decimal(scenario, "fees")
    if (fee_rate is None) == (fees is None):
        raise ModelError("E_OPTIONS", "scenario.fee_rate")
    if V < 0:
        raise ModelError("E_OPTIONS", "scenario.volume")
    if fee_rate is None:
        if V == 0:
            raise Unmodeled("fees over a zero volume")
        try:
            fee_rate = fees / V
        except (decimal.Inexact, decimal.Rounded):
            raise Unmodeled("fees / volume that does not terminate (E_INEXACT)")
    aff_rate = scenario_decimal(scenario, "affiliate_rate") or D(0)
    aff_share = scenario_decimal(scenario, "affiliate_share")
    if aff_share is None:
        aff_share = D(1) if "affiliate_rate" in scenario else D(0)
    clients = scenario.get("active_clients")
    vip = scenario.get("vip", 0)
    if not isinstance(vip, int) or (clients is not None and not isinstance(clients, int)):
        raise Unmodeled("vip / active_clients that are not integers")
    if "mix" in scenario:
        mix = [(m["product"], m["channel"], D(m["share"])) for m in scenario["mix"]]
    else:
        first = P["ladders"][0][0][1]
        metric = next((m for m in first if P["metrics"][m][0] == "volume"), None)
        spec = P["metrics"][metric] if metric else (None, None, None)
        mix = [((spec[1] or ("spot",))[0], (spec[2] or ("api",))[0], D(1))]

    shares = {m: sum((s for prod, ch, s in mix
                      if (spec[1] is None or prod in spec[1])
                      and (spec[2] is None or ch in spec[2])), D(0))
              for m, spec in P["metrics"].items() if spec[0] == "volume"}

    def metrics_at(volume):
        out = {}
        for m, spec in P["metrics"].items():
            out[m] = volume * shares[m] if spec[0] == "volume" else D(clients or 0)
        return out

    names = [n for n, _ in P["levels"]]

    def level_of(ms):
        best = -1
        for ladder in P["ladders"]:
            for name, mins in ladder:
                if all(ms[m] >= v for m, v in mins.items()):
                    best = max(best, names.index(name))
        return best

    def rates_of(best):
        return dict(P["levels"][best][1]) if best >= 0 else {r: D(0) for r in P["rate_names"]}

    def commission(volume, best):
        rates = rates_of(best)
        total = D(0)
        for prod, ch, s in mix:
            for part, r in ((aff_share, aff_rate), (1 - aff_share, D(0))):
                if part == 0:
                    continue
                k = _Class(prod, ch, vip, r, volume * s * part * fee_rate)
                if bm.exclusion(program, k) is None:
                    total += bm.payout(program, k, rates)
        return format(bm.rounded(total, P["scale"]), "f")

    def step_volume(mins):
        """The least total volume meeting the step's volume thresholds, or None."""
        need = D(0)
        for m, v in mins.items():
            if P["metrics"][m][0] != "volume" or v == 0:
                continue
            if shares[m] == 0:
                return None
            need = max(need, ceil_div(v, shares[m], P["scale"]))
        return need

    have = metrics_at(V)
    best = level_of(have)
    rates = rates_of(best)
    ladder_names = [ld["name"] for ld in bm_program_file(program)["tiers"]["ladders"]]

    curve = []
    for i, name in enumerate(names):
        vols = []
        for ladder in P["ladders"]:
            for lv, mins in ladder:
                if lv != name:
                    continue
                if any(P["metrics"][m][0] != "volume" and have[m] < v for m, v in mins.items()):
                    continue
                sv = step_volume(mins)
                if sv is not None:
                    vols.append(sv)
        if vols:
            x = min(vols)
            curve.append({"tier": name, "rate": fmt_dec(P["levels"][i][1][P["rate_names"][0]]),
                          "volume": fmt_dec(x), "volume_needed": fmt_dec(max(D(0), x - V)),
                          "commission": commission(x, i)})
    nxt = next((p for p in curve if names.index(p["tier"]) > best), None)

    above = []
    for i in range(best + 1, len(names)):
        ways = []
        for li, ladder in enumerate(P["ladders"]):
            for lv, mins in ladder:
                if lv != names[i]:
                    continue
                needs = {m: {"min": fmt_dec(v), "have": fmt_dec(have[m]),
                             "more": fmt_dec(max(D(0), v - have[m]))}
                         for m, v in sorted(mins.items())}
                sv = step_volume(mins)
                if sv is not None:  # the scenario's volume when it already meets them
                    sv = max(sv, V)
                ways.append({"ladder": ladder_names[li], "needs": needs,
                             "volume": fmt_dec(sv) if sv is not None else None,
                             "volume_needed": fmt_dec(max(D(0), sv - V)) if sv is not None else None,
                             "met": all(have[m] >= v for m, v in mins.items()), "_v": sv})
        vols = [w["_v"] for w in ways if w["_v"] is not None]
        at = max(V, min(vols)) if vols else V
        for w in ways:
            del w["_v"]
        above.append({"tier": names[i], "rate": fmt_dec(P["levels"][i][1][P["rate_names"][0]]),
                      "ways": ways, "commission": commission(at, i)})

    return {
        "program": {"id": P["id"], "version": bm.program_version(program)},
        "currency": P["currency"],
        "volume": fmt_dec(V),
        "fees": fmt_dec(V * fee_rate) if fees is None else fmt_dec(fees),
        "tier": names[best] if best >= 0 else None,
        "rate": fmt_dec(rates[P["rate_names"][0]]),
        "rates": {r: fmt_dec(v) for r, v in sorted(rates.items())},
        "metrics": {m: fmt_dec(v) for m, v in sorted(have.items())},
        "commission": commission(V, best),
        "next": {k: nxt[k] for k in ("tier", "rate", "volume", "volume_needed", "commission")}
        if nxt else None,
        "curve": curve,
        "tiers_above": above,
    }


def bm_program_file(name):
    """The built-in's file, read as data (for its ladders' names, which are labels)."""
    import json
    import os
    path = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "rules",
                        "programs", name + ".json")
    with open(path) as f:
        return json.load(f)
