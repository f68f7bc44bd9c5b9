"""An independent model of `estimate` from actuals ("what if volume grows 20%?"), written from
docs/estimate.md, the README and schemas/what-if.schema.json; never from the Rust core.

The actual trades are settled by the model (brmodel.py for the built-ins, progmodel.py for a
program object) twice: once as given, once with every trade's notional and fee (when given)
multiplied by 1 + growth, exactly (fee rates and accounts unchanged, so derived fees grow
with the notional and active clients stay). The two statements are set side by side per
broker (the actual statement's brokers, or the one asked) and period:

- a side is the period's tier, rate, metrics, attributed volume (`volume`), eligible volume
  and commission; a period the grown run lacks is tier null, rate / volumes "0", no metrics,
  commission 0 at the currency's scale;
- `difference` = what-if - actual at the currency's scale, per period, per broker and in all;
- the broker's `actual` / `what_if` are its statement commissions; the totals add them;
- a side also has the period's `withheld` and, for programs with client kickbacks, its
  `kickback`; the broker's and the total `withheld` / `kickback` are {actual, what_if,
  difference} from the statements' broker totals (a broker or period the grown run lacks
  counts 0);
- `growth` and `factor` (1 + growth) are canonical decimals; `growth` may be "20%";
- `rejected` and `incomplete_history` are the actual run's.

Requests with an error are pinned by their vectors' hand checks (the model declines them).
"""

import decimal
from decimal import Decimal as D

import brmodel as bm


def growth_of(text):
    if not isinstance(text, str):
        raise bm.Unmodeled("growth that is not a string (E_DECIMAL: hand checks)")
    t = text.strip()
    pct = t.endswith("%")
    g = bm.parse_decimal(t[:-1] if pct else t, "growth")
    g = g / 100 if pct else g
    if g <= -1:
        raise bm.Unmodeled("growth <= -1 (E_OPTIONS: hand checks)")
    return g


def grown(trades, factor):
    out = []
    for t in trades:
        t = dict(t)
        for k in ("notional", "fee"):
            if isinstance(t.get(k), str) and t[k] != "":
                t[k] = bm.fmt_dec(bm.parse_decimal(t[k], k) * factor)
        out.append(t)
    return out


def fixed(d, scale):
    with decimal.localcontext() as ctx:
        ctx.prec = 1000
        ctx.traps[decimal.Inexact] = False
        ctx.traps[decimal.Rounded] = False
        return format(D(d).quantize(D(1).scaleb(-scale), rounding=decimal.ROUND_HALF_EVEN), "f")


def side(p):
    return {"tier": p["tier"], "rate": p["rate"], "metrics": p["metrics"],
            "volume": p["attributed"]["volume"], "eligible_volume": p["eligible"]["volume"],
            "commission": p["commission"], "withheld": p["withheld"],
            **({"kickback": p["kickback"]} if "kickback" in p else {})}


def change(a, w, scale):
    return {"actual": a, "what_if": w, "difference": fixed(D(w) - D(a), scale)}


def what_if(inp, settle, scale):
    """The `ok` body for a request `inp` with `actuals` and `growth`; `settle(trades)` is the
    model's statement of a trade list under the request's program, registry and options."""
    growth = growth_of(inp.get("growth"))
    factor = 1 + growth
    trades = inp["_trades"]
    actual = settle(trades)
    grown_st = settle(grown(trades, factor))
    broker = inp.get("broker")
    if broker is not None and broker not in [b["broker"] for b in actual["brokers"]]:
        raise bm.Unmodeled("a broker without a statement (E_OPTIONS: hand checks)")
    zero = fixed(0, scale)
    by_code = {b["broker"]: b for b in grown_st["brokers"]}
    brokers, total_a, total_w = [], D(0), D(0)
    held, kick = [D(0), D(0)], [D(0), D(0)]
    prog = inp.get("program")
    # the program passes a part to clients: the model's built-in rules, or the object's flag
    kicks = bool((bm.PROGRAMS[prog] if isinstance(prog, str) else prog).get("client_kickback"))
    for a in actual["brokers"]:
        if broker is not None and a["broker"] != broker:
            continue
        w = by_code.get(a["broker"])
        wp = {p["start"]: p for p in (w["periods"] if w else [])}
        periods = []
        for p in a["periods"]:
            q = wp.get(p["start"])
            ws = side(q) if q else {"tier": None, "rate": "0", "metrics": {}, "volume": "0",
                                    "eligible_volume": "0", "commission": zero,
                                    "withheld": zero,
                                    **({"kickback": zero} if "kickback" in p else {})}
            periods.append({"period_start": p["start"], "period_end": p["end"],
                            "history": p["history"], "actual": side(p), "what_if": ws,
                            "difference": fixed(D(ws["commission"]) - D(p["commission"]), scale)})
        wc = w["commission"] if w else zero
        b = {"broker": a["broker"], "status": a["status"], "periods": periods,
             "actual": a["commission"], "what_if": wc,
             "difference": fixed(D(wc) - D(a["commission"]), scale),
             "withheld": change(a["withheld"], w["withheld"] if w else zero, scale)}
        held = [held[0] + D(a["withheld"]), held[1] + D(b["withheld"]["what_if"])]
        if "kickback" in a:
            b["kickback"] = change(a["kickback"], w.get("kickback", zero) if w else zero, scale)
            kick = [kick[0] + D(a["kickback"]), kick[1] + D(b["kickback"]["what_if"])]
        brokers.append(b)
        total_a += D(a["commission"])
        total_w += D(wc)
    return {"currency": actual["currency"], "growth": bm.fmt_dec(growth),
            "factor": bm.fmt_dec(factor), "brokers": brokers, "actual": fixed(total_a, scale),
            "what_if": fixed(total_w, scale), "difference": fixed(total_w - total_a, scale),
            "withheld": change(fixed(held[0], scale), fixed(held[1], scale), scale),
            **({"kickback": change(fixed(kick[0], scale), fixed(kick[1], scale), scale)}
               if kicks else {}),
            "rejected": actual["rejected"],
            "incomplete_history": actual["summary"]["incomplete_history"]}
