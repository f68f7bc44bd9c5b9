"""Check every conformance vector the independent model reaches against it: settle and
explain under a built-in (brmodel.py) or a custom program (progmodel.py), trades as a JSON
array or as CSV / NDJSON / JSON text; estimate (estmodel.py); reconcile (recmodel.py); program
and programs (the program files as data). Per broker its status, reason, commission and
withheld; per period start, end, credit_at, tier, rate, rates, volume, fees, trades,
commission, exact, excluded, metrics, shares, windows, history; the summary; rejected trades
(id, line, code, field); lines; an error's code, field, line, column, id and position. Keys the
model does not compute are ignored; each comparison records the envelope pointers it covers
(Compare.pointers), which tests/model/coverage.py audits. Exit 1 on any disagreement.

    python3 tests/model/check_vectors.py [-v] [--pointers VECTOR]
"""

import glob
import json
import os
import re
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import brmodel  # noqa: E402
import estmodel
import whatifmodel  # noqa: E402
import progmodel  # noqa: E402
import recmodel  # noqa: E402

ROOT = os.path.normpath(os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", ".."))

BROKER_KEYS = ("broker", "status", "reason", "commission", "withheld", "kickback")
PERIOD_KEYS = ("start", "end", "credit_at", "tier", "rate", "rates", "volume", "fees",
               "trades", "commission", "exact", "excluded", "metrics", "to_parent",
               "from_sub_brokers", "attributed", "eligible", "excluded_total", "kickback", "withheld", "metrics_window",
               "history", "metrics_sub_brokers")
SUMMARY_KEYS = ("from", "to", "trades", "duplicates", "rejected", "unknown_fields", "unknown_values",
                "unattributed", "commission", "earliest_trade", "incomplete_history")
LINE_KEYS = ("id", "broker", "period_start", "tier", "rate", "commission", "excluded",
             "attribution", "time", "account", "volume")
REJECT_KEYS = ("id", "line", "code", "field")


class Compare:
    """Counts compared values and collects differences as (path, model, engine)."""

    def __init__(self, prefix="/ok"):
        self.values = 0
        self.diffs = []
        self.paths = set()
        self.prefix = prefix
        self.pointers = set()  # JSON pointers into the envelope whose whole value was compared

    def leaf(self, path, model, engine, pointers=None):
        """Compares one value. `pointers` are the envelope pointers the comparison covers;
        by default the path without its (label)s, when it has no [projection]."""
        self.values += 1
        self.paths.add(re.sub(r"\([^)]*\)", "", path))
        if pointers is None and "[" not in path:
            pointers = [re.sub(r"\([^)]*\)", "", path)]
        for p in pointers or ():
            self.pointers.add(self.prefix + p)
        if model != engine:
            self.diffs.append((path, model, engine))

    def tree(self, path, model, engine):
        """Dicts compared key by key (both key sets), lists element-wise, leaves by value."""
        if isinstance(model, dict) and isinstance(engine, dict) and (model or engine):
            for k in sorted(set(model) | set(engine)):
                self.tree(path + "/" + k, model.get(k, "<absent>"), engine.get(k, "<absent>"))
        else:
            self.leaf(path, model, engine)

    def keys(self, path, keys, model, engine):
        for k in keys:
            if k in engine or k in model:
                self.tree(path + "/" + k, model.get(k, "<absent>"), engine.get(k, "<absent>"))


def compare_statement(c, model, ok):
    """Compares the model's statement with the engine's `ok` body; returns nothing."""
    mb = {b["broker"]: b for b in model["brokers"]}
    eb = ok.get("brokers", [])
    c.leaf("/brokers[codes]", [b["broker"] for b in model["brokers"]],
           [b["broker"] for b in eb],
           ["/brokers/%d/broker" % i for i in range(len(eb))] if eb else ["/brokers"])
    for i, b in enumerate(eb):
        m = mb.get(b["broker"])
        if m is None:
            continue
        path = "/brokers/%d(%s)" % (i, b["broker"])
        c.keys(path, BROKER_KEYS, m, b)
        mp = {p["start"]: p for p in m["periods"]}
        c.leaf(path + "/periods[starts]", [p["start"] for p in m["periods"]],
               [p["start"] for p in b["periods"]],
               ["/brokers/%d/periods/%d/start" % (i, j) for j in range(len(b["periods"]))]
               or ["/brokers/%d/periods" % i])
        for j, p in enumerate(b["periods"]):
            q = mp.get(p["start"])
            if q is not None:
                c.keys("%s/periods/%d(%s)" % (path, j, p["start"]), PERIOD_KEYS, q, p)
    if "summary" in ok:
        c.keys("/summary", SUMMARY_KEYS, model["summary"], ok["summary"])
    if "rejected" in ok:
        compare_rejected(c, model["rejected"], ok["rejected"])
    if ok.get("lines") is not None:
        compare_lines(c, model["all_lines"], ok["lines"])
    elif "lines" in ok:
        c.leaf("/lines", model["lines"], ok["lines"])
    if "program" in ok:
        c.leaf("/program/id", model["program"]["id"], ok["program"]["id"])
        c.leaf("/program/version", model["program"]["version"], ok["program"]["version"])
    if "engine" in ok:
        c.leaf("/engine/name", "broker-rules", ok["engine"]["name"])


def compare_rejected(c, model_rejected, engine_rejected):
    """The rejected trades' id, line, code and field (the message is prose, not compared)."""
    er = [{k: r.get(k) for k in REJECT_KEYS} for r in engine_rejected]
    c.leaf("/rejected[keys]", model_rejected, er,
           ["/rejected/%d/%s" % (i, k) for i, r in enumerate(engine_rejected)
            for k in REJECT_KEYS if k in r] or ["/rejected"])


def compare_lines(c, model_lines, engine_lines):
    ml = {l["id"]: l for l in model_lines}
    c.leaf("/lines[ids]", sorted(ml), sorted(l["id"] for l in engine_lines),
           ["/lines/%d/id" % i for i in range(len(engine_lines))] or ["/lines"])
    for i, l in enumerate(engine_lines):
        m = ml.get(l["id"])
        if m is not None:
            c.keys("/lines/%d(%s)" % (i, l["id"]), LINE_KEYS, m, l)


def builtin_program(name):
    """A built-in program as the `program` call shows it: its file, read as data, with rates
    and thresholds as canonical decimal strings (docs/engine.md: `"25%"` and `"0.25"` are one
    value)."""
    path = os.path.join(ROOT, "rules", "programs", name + ".json")
    if name not in brmodel.PROGRAMS or not os.path.exists(path):
        # docs/limits-and-errors.md: an unknown id names the field `program` in every call
        # (the `program` call's own argument is `id`)
        raise brmodel.ModelError("E_UNKNOWN_PROGRAM", "program")
    with open(path) as f:
        j = json.load(f)
    for lv in j["tiers"]["levels"]:
        lv["rates"] = {k: brmodel.fmt_dec(progmodel.rate_value(r)) for k, r in lv["rates"].items()}
    for ld in j["tiers"]["ladders"]:
        for st in ld["steps"]:
            st["min"] = {k: brmodel.fmt_dec(brmodel.D(x)) for k, x in st["min"].items()}
    return j


def check_catalog(v, c):
    """`programs` (every built-in, in the model's order: SPEC section 4's three, then okx-v5,
    with id, name, version, currency, notes) and `program` (one built-in's definition)."""
    exp = v["expected"]
    if v["call"] == "programs":
        if "ok" not in exp:
            return "skip", 0, "programs error"
        model = []
        for name in brmodel.PROGRAMS:
            j = builtin_program(name)
            model.append({"id": j["id"], "name": j["name"], "version": j["version"],
                          "currency": j["settlement"]["currency"], "notes": j["notes"]})
        ok = exp["ok"]
        c.leaf("/[ids]", [m["id"] for m in model], [e.get("id") for e in ok],
               ["/%d/id" % i for i in range(len(ok))])
        for i, (m, e) in enumerate(zip(model, ok)):
            c.keys("/%d" % i, ("name", "version", "currency", "notes"), m, e)
        return ("ok" if not c.diffs else "diff"), c.values, c.diffs
    inp = v["input"]
    if not isinstance(inp, dict) or not isinstance(inp.get("id"), str) or set(inp) != {"id"}:
        return "skip", 0, "program request the model does not read"
    try:
        j = builtin_program(inp["id"])
    except brmodel.ModelError as e:
        if "error" not in exp:
            return "diff", 1, [("/", "error " + e.code, "ok")]
        c.prefix = ""
        c.leaf("/error/code", e.code, exp["error"]["code"])
        c.leaf("/error/location/field", e.field, exp["error"].get("location", {}).get("field"))
        return ("ok" if not c.diffs else "diff"), c.values, c.diffs
    if "ok" not in exp:
        return "diff", 1, [("/", "ok", "error")]
    c.tree("", j, exp["ok"])
    return ("ok" if not c.diffs else "diff"), c.values, c.diffs


def read_trades_text(text, fmt):
    """A trade log's text -> (trades as JSON objects, their lines, CSV header or None), the
    way docs/engine.md describes the readers: CSV is RFC 4180 with a header row, spaces and
    tabs at either end of every cell and header name are not part of the value, an empty cell
    is an absent field, blank lines are skipped, a record's line is the physical line of its
    first byte; NDJSON is one object per non-blank line; a JSON text is an array (lines are
    positions). Anything else (shape errors, quotes across lines, duplicate keys, unknown
    columns) is declined."""
    if not isinstance(text, str):
        raise brmodel.Unmodeled("trades text that is not a string")
    if fmt == "csv":
        if '"' in text or "\r" in text or text.startswith("\ufeff"):
            raise brmodel.Unmodeled("CSV with quotes, CR or a BOM")
        rows = [(n, l) for n, l in enumerate(text.split("\n"), 1) if l.strip(" \t") != ""]
        if not rows:
            raise brmodel.Unmodeled("empty CSV")
        header = [h.strip(" \t") for h in rows[0][1].split(",")]
        if len(set(header)) != len(header) or set(header) - set(brmodel.TRADE_FIELDS):
            raise brmodel.Unmodeled("CSV header the model does not read")
        missing = [k for k in brmodel.REQUIRED if k not in header]
        if missing:  # a required column absent: the header's mistake, at its line
            raise brmodel.ModelError("E_FIELD", missing[0], rows[0][0])
        trades, lines = [], []
        for n, l in rows[1:]:
            cells = [x.strip(" \t") for x in l.split(",")]
            if len(cells) != len(header):
                raise brmodel.Unmodeled("a CSV record of another width (E_PARSE)")
            t = {}
            for k, x in zip(header, cells):
                if x == "":
                    continue
                t[k] = {"true": True, "false": False}.get(x, x) if k in ("fee_discount", "msa") else x
            trades.append(t)
            lines.append(n)
        return trades, lines, header
    if fmt == "ndjson":
        trades, lines = [], []
        for n, l in enumerate(text.split("\n"), 1):
            if l.strip() == "":
                continue
            trades.append(json.loads(l, object_pairs_hook=_no_duplicates))
            lines.append(n)
        return trades, lines, None
    if fmt == "json":
        trades = json.loads(text, object_pairs_hook=_no_duplicates)
        if not isinstance(trades, list):
            raise brmodel.Unmodeled("a JSON text that is not an array")
        return trades, None, None
    raise brmodel.Unmodeled("format %r" % (fmt,))


def _no_duplicates(pairs):
    if len({k for k, _ in pairs}) != len(pairs):
        raise brmodel.Unmodeled("a duplicate key (E_FIELD / E_PARSE with a column)")
    return dict(pairs)


def check_what_if(v, c):
    """`estimate` from actuals against whatifmodel.py over the model's own statements: every
    key of the answer. Requests that are errors are pinned by their hand checks."""
    inp, exp = v["input"], v["expected"]
    if "ok" not in exp:
        return "skip", 0, "estimate-from-actuals error (hand checks)"
    a, prog = inp.get("actuals"), inp.get("program")
    if (set(inp) - {"program", "actuals", "growth", "broker"} or not isinstance(a, dict)
            or set(a) - {"trades", "format", "registry", "options"}):
        return "skip", 0, "a request shape the model does not read"
    try:
        trades, lines, header = a.get("trades"), None, None
        if "format" in a:
            trades, lines, header = read_trades_text(a["trades"], a["format"])
        options = dict(a.get("options") or {})
        if isinstance(prog, dict):
            def settle(ts):
                return progmodel.settle(prog, ts, a.get("registry"), dict(options), lines,
                                        header is not None)
            program_json = prog
        else:
            def settle(ts):
                return brmodel.settle(prog, ts, a.get("registry"), dict(options), lines,
                                      header is not None)
            program_json = brmodel_program_file(prog)
        model = whatifmodel.what_if(dict(inp, _trades=trades), settle,
                                    program_json["settlement"]["scale"])
    except brmodel.Unmodeled as u:
        return "skip", 0, "unmodeled: %s" % u
    except brmodel.ModelError as e:
        return "diff", 1, [("/", "error " + e.code, "ok")]
    ok = exp["ok"]
    c.keys("", [k for k in ok if k not in ("engine", "program", "rejected")], model, ok)
    compare_rejected(c, model["rejected"], ok["rejected"])
    c.leaf("/program/id", program_json["id"], ok["program"]["id"])
    c.leaf("/program/version", program_json["version"], ok["program"]["version"])
    return ("ok" if not c.diffs else "diff"), c.values, c.diffs


def check_estimate(v, c):
    """`estimate` of a built-in program against estmodel.py: every key of the answer."""
    inp, exp = v["input"], v["expected"]
    if not isinstance(inp, dict):
        return "skip", 0, "input is not an object"
    if "actuals" in inp:
        return check_what_if(v, c)
    extra = set(inp) - {"program", "scenario"}
    try:
        if "program" not in inp:
            raise brmodel.ModelError("E_FIELD", "program")
        if extra:
            raise brmodel.ModelError("E_FIELD", sorted(extra)[0])
        if "scenario" not in inp:
            raise brmodel.ModelError("E_FIELD", "scenario")
        model = estmodel.estimate(inp["program"], inp["scenario"])
    except brmodel.Unmodeled as u:
        return "skip", 0, "unmodeled: %s" % u
    except brmodel.ModelError as e:
        if "error" not in exp:
            return "diff", 1, [("/", "error " + e.code, "ok")]
        c.prefix = ""
        c.leaf("/error/code", e.code, exp["error"]["code"])
        loc = exp["error"].get("location", {})
        if e.field is not None:
            c.leaf("/error/location/field", e.field, loc.get("field"))
        return ("ok" if not c.diffs else "diff"), c.values, c.diffs
    if "ok" not in exp:
        return "diff", 1, [("/", "ok", "error " + exp["error"]["code"])]
    ok = exp["ok"]
    c.keys("", [k for k in ok if k not in ("engine", "program")], model, ok)
    c.leaf("/program/id", model["program"]["id"], ok["program"]["id"])
    c.leaf("/program/version", model["program"]["version"], ok["program"]["version"])
    return ("ok" if not c.diffs else "diff"), c.values, c.diffs


def check_reconcile(v, c):
    """`reconcile` against recmodel.py over the model's own statement: every key."""
    inp, exp = v["input"], v["expected"]
    if "ok" not in exp:
        return "skip", 0, "reconcile error (hand checks)"
    prog = inp.get("program")
    if not isinstance(inp.get("trades"), list) or "format" in inp:
        return "skip", 0, "trades as text"
    if isinstance(prog, str):
        program_json = brmodel_program_file(prog)
        settle = brmodel.settle
    else:
        program_json = prog
        settle = progmodel.settle

    def settle_fn():
        st = settle(prog, inp["trades"], inp.get("registry"), dict(inp.get("options") or {}))
        st["_fees"] = {t["id"]: brmodel.D(t["fee"]) if t.get("fee") not in (None, "") else
                       brmodel.D(t["notional"]) * brmodel.D(t["fee_rate"]) for t in inp["trades"]}
        st["_orders"] = {t["id"]: t.get("order") for t in inp["trades"]}
        st["_settled"] = None
        return st
    try:
        model = recmodel.reconcile(inp, settle_fn, program_json)
    except brmodel.Unmodeled as u:
        return "skip", 0, "unmodeled: %s" % u
    except brmodel.ModelError as e:
        return "diff", 1, [("/", "error " + e.code, "ok")]
    ok = exp["ok"]
    c.keys("", [k for k in ok if k not in ("engine", "program")], model, ok)
    c.leaf("/program/id", program_json["id"], ok["program"]["id"])
    c.leaf("/program/version", program_json["version"], ok["program"]["version"])
    return ("ok" if not c.diffs else "diff"), c.values, c.diffs


def brmodel_program_file(name):
    with open(os.path.join(ROOT, "rules", "programs", name + ".json")) as f:
        return json.load(f)


def check_vector(v, c=None):
    """-> (status, values checked, diffs or skip reason). `c` (a Compare) collects the
    envelope pointers compared, for the coverage audit (coverage.py)."""
    inp = v.get("input")
    c = c if c is not None else Compare()
    if v.get("call") in ("program", "programs"):
        return check_catalog(v, c)
    if v.get("call") == "estimate":
        return check_estimate(v, c)
    if v.get("call") == "reconcile":
        return check_reconcile(v, c)
    if v.get("call") not in ("settle", "explain"):
        return "skip", 0, "call %r is not settle" % v.get("call")
    if not isinstance(inp, dict):
        return "skip", 0, "input is not an object (request parse error)"
    prog = inp.get("program")
    if not isinstance(prog, (str, dict)):
        return "skip", 0, "program is neither a name nor an object"
    if not isinstance(inp.get("trades"), (list, type(None))) and "format" not in inp:
        return "skip", 0, "trades neither an array nor a text with its format"
    if not isinstance(inp.get("options"), (dict, type(None))) or not isinstance(inp.get("registry"), (dict, type(None))):
        return "skip", 0, "options or registry not an object (a request shape error)"
    extra = set(inp) - {"program", "trades", "registry", "options", "format"}
    exp = v["expected"]
    c = c if c is not None else Compare()
    header = None
    try:
        if extra:
            raise brmodel.ModelError("E_FIELD", sorted(extra)[0])
        trades, lines, header = inp.get("trades"), None, None
        if "format" in inp:
            try:
                trades, lines, header = read_trades_text(inp["trades"], inp["format"])
            except ValueError:
                raise brmodel.Unmodeled("malformed text (E_PARSE)")
        options = dict(inp.get("options") or {})
        if v["call"] == "explain":
            options["lines"] = True
        if isinstance(prog, dict):  # a custom program: the program-language model
            model = progmodel.settle(prog, trades, inp.get("registry"), options, lines,
                                     header is not None)
        else:
            model = brmodel.settle(prog, trades, inp.get("registry"), options, lines,
                                   header is not None)
    except brmodel.Unmodeled as u:
        return "skip", 0, "unmodeled: %s" % u
    except brmodel.ModelError as e:
        if "error" not in exp:
            return "diff", 1, [("/", "error " + e.code, "ok")]
        err = exp["error"]
        c.prefix = ""
        c.leaf("/error/code", e.code, err["code"])
        loc = err.get("location", {})
        if e.field is not None and "field" in loc:
            c.leaf("/error/location/field", e.field, loc["field"])
        if e.line is not None and "line" in loc and e.code not in ("E_OVERFLOW",):
            c.leaf("/error/location/line", e.line, loc["line"])
        if e.id is not None and "id" in loc:
            c.leaf("/error/location/id", e.id, loc["id"])
        if header is not None and e.field in header and e.line is not None and "column" in loc:
            # a CSV cell's column is its field's 1-based place in the header
            c.leaf("/error/location/column", header.index(e.field) + 1, loc["column"])
        if getattr(e, "position", None) is not None and "position" in loc:
            c.leaf("/error/location/position", e.position, loc["position"])
        return ("ok" if not c.diffs else "diff"), c.values, c.diffs
    if "error" in exp:
        return "skip", 0, "engine error %s not modeled (%s)" % (
            exp["error"]["code"], exp["error"]["message"][:60])
    ok = exp["ok"]
    c.leaf("/currency", model["currency"], ok["currency"])
    if v["call"] == "explain":
        compare_lines(c, model["all_lines"], ok["lines"])
        compare_rejected(c, model["rejected"], ok["rejected"])
        c.leaf("/program/id", model["program"]["id"], ok["program"]["id"])
        c.leaf("/program/version", model["program"]["version"], ok["program"]["version"])
        c.leaf("/engine/name", "broker-rules", ok["engine"]["name"])
    else:
        compare_statement(c, model, ok)
    return ("ok" if not c.diffs else "diff"), c.values, c.diffs


def main(argv):
    if "--pointers" in argv:  # the envelope pointers the model compared for one vector
        name = argv[argv.index("--pointers") + 1]
        with open(os.path.join(ROOT, "tests", "vectors", name + ".json")) as fh:
            v = json.load(fh)
        c = Compare()
        status, n, info = check_vector(v, c)
        print("%s: %s, %d values" % (name, status, n))
        for p in sorted(c.pointers):
            print("   " + p)
        return 0 if status != "diff" else 1
    verbose = "-v" in argv
    drift = brmodel.program_drift(ROOT)
    for d in drift:
        print("program drift:", d)
    files = sorted(glob.glob(os.path.join(ROOT, "tests", "vectors", "*.json")))
    checked = values = 0
    skipped, failed = [], []
    for f in files:
        with open(f) as fh:
            v = json.load(fh)
        status, n, info = check_vector(v)
        name = os.path.basename(f)[:-5]
        if status == "skip":
            skipped.append((name, info))
            continue
        checked += 1
        values += n
        if status == "diff":
            failed.append((name, info))
        elif verbose:
            print("ok   %-55s %4d values" % (name, n))
    if verbose:
        for name, reason in skipped:
            print("skip %-55s %s" % (name, reason))
    for name, diffs in failed:
        print("DIFF %s" % name)
        for path, m, e in diffs[:20]:
            print("     %s: model %s, engine %s" % (path, json.dumps(m), json.dumps(e)))
    print("model oracle: %d vectors checked (%d values), %d skipped (-v lists them), "
          "%d disagree, %d program drift; the value leaves neither the model nor a hand check "
          "covers: tests/model/coverage.py" % (
              checked, values, len(skipped), len(failed), len(drift)))
    return 1 if failed or drift else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
