"""An independent model of *custom* programs: settles a trade log under any program given as
JSON data, the way docs/engine.md ("Programs", "Expressions", "Tiers", "Settlement") and
SPEC.md section 3 describe the program language. Written from those pages, never from the
Rust core; it shares only brmodel.py's input reading (trades, registry, attribution), which
is program independent.

It models: `utc_offset` (days, months and hours at the offset; a bare-date bound is midnight
there), attribution sources in order, exclusions as predicates, tier windows (rolling N days
with or without the current day, calendar month same / previous), basis `attributed` /
`eligible`, metrics (`volume` / `active_clients`, product and channel filters, a `when`
predicate), several ladders combined by max, named rates, volume and graduated mode, the
formula, negative fees `floor` / `net`, caps `client_month` (with `when`, history before
`from` counted) and `broker_period`, sub-broker shares, broker/affiliate exclusivity, and
settlement periods, credit delay, scale and the three rounding modes (one rounding per broker
per period). It declines (`brmodel.Unmodeled`) `count_sub_brokers`, `client_kickback`, a
formula that fails on a trade (division by zero, inexact), and any sum past 28 significant
digits.

Money is exact (brmodel's 1,000-digit context trapping Inexact and Rounded).
"""

import datetime as _dt
import decimal
import re
from decimal import Decimal as D

import brmodel as bm
from brmodel import DAY, HOUR, NS, ModelError, Unmodeled, Reject, fmt_dec, fmt_time

# --- expressions (docs/engine.md "Expressions") --------------------------------------------

_TOKEN = re.compile(r"\s*(?:(?P<num>\d+(?:\.\d+)?%?|\.\d+%?)|(?P<str>'[^']*'|\"[^\"]*\")"
                    r"|(?P<name>[A-Za-z_][A-Za-z_0-9]*)|(?P<op>==|!=|<=|>=|[-+*/<>(),\[\]]))")


def tokenize(text):
    """-> [(kind, text)] and the character position (0-based) of each token."""
    out, pos, i = [], [], 0
    while i < len(text):
        if text[i:].strip() == "":
            break
        m = _TOKEN.match(text, i)
        if not m:
            raise Unmodeled("an expression the model cannot read")
        kind = m.lastgroup
        out.append((kind, m.group(kind)))
        pos.append(m.start(kind))
        i = m.end()
    return out, pos


INEXACT = object()  # a variable whose value does not terminate (fee_rate = fee / notional)


class FormulaError(Exception):
    """E_DIV_ZERO / E_INEXACT at the operator's character position."""

    def __init__(self, code, position):
        super().__init__(code)
        self.code, self.position = code, position


def exact(d, position):
    """The engine holds 28 fractional digits: a result needing more is E_INEXACT (docs/engine.md
    "Expressions"); past 28 significant digits the model declines (a limit, not a rule)."""
    t = d.normalize().as_tuple()
    if t.exponent < -28:
        raise FormulaError("E_INEXACT", position)
    if len(t.digits) > 28:
        raise Unmodeled("a formula value past 28 significant digits")
    return d


class Expr:
    """Parsed into nested tuples; evaluated over a dict of variables."""

    def __init__(self, text):
        if len(text) > 4096 or text.count("(") > 64 or text.count("-") > 64:
            raise Unmodeled("an expression near the engine's limits (limits not modeled)")
        self.toks, self.pos = tokenize(text)
        self.i = 0
        self.tree = self.parse_or()
        if self.i != len(self.toks):
            raise Unmodeled("trailing tokens in an expression")

    def peek(self):
        return self.toks[self.i] if self.i < len(self.toks) else (None, None)

    def take(self, value=None):
        tok = self.peek()
        if value is not None and tok[1] != value:
            raise Unmodeled("expected %r in an expression" % value)
        self.i += 1
        return tok

    def parse_or(self):
        a = self.parse_and()
        while self.peek() == ("name", "or"):
            self.take()
            a = ("or", a, self.parse_and())
        return a

    def parse_and(self):
        a = self.parse_not()
        while self.peek() == ("name", "and"):
            self.take()
            a = ("and", a, self.parse_not())
        return a

    def parse_not(self):
        if self.peek() == ("name", "not"):
            self.take()
            return ("not", self.parse_not())
        return self.parse_cmp()

    def parse_cmp(self):
        a = self.parse_add()
        tok = self.peek()
        if tok[1] in ("==", "!=", "<", "<=", ">", ">="):
            self.take()
            return ("cmp", tok[1], a, self.parse_add())
        if tok == ("name", "in"):
            self.take()
            return ("in", a, self.parse_list())
        if tok == ("name", "not") and self.toks[self.i + 1:self.i + 2] == [("name", "in")]:
            self.take(), self.take()
            return ("not", ("in", a, self.parse_list()))
        return a

    def parse_list(self):
        self.take("[")
        items = []
        while self.peek()[1] != "]":
            items.append(self.parse_add())
            if self.peek()[1] == ",":
                self.take()
        self.take("]")
        return items

    def parse_add(self):
        a = self.parse_mul()
        while self.peek()[1] in ("+", "-") and self.peek()[0] == "op":
            at = self.pos[self.i]
            op = self.take()[1]
            a = ("arith", op, a, self.parse_mul(), at)
        return a

    def parse_mul(self):
        a = self.parse_unary()
        while self.peek()[1] in ("*", "/") and self.peek()[0] == "op":
            at = self.pos[self.i]
            op = self.take()[1]
            a = ("arith", op, a, self.parse_unary(), at)
        return a

    def parse_unary(self):
        if self.peek() == ("op", "-"):
            self.take()
            return ("neg", self.parse_unary())
        return self.parse_primary()

    def parse_primary(self):
        at = self.pos[self.i] if self.i < len(self.pos) else None
        kind, val = self.take()
        if kind == "num":
            return ("lit", D(val[:-1]) / 100 if val.endswith("%") else D(val))
        if kind == "str":
            return ("lit", val[1:-1])
        if kind == "op" and val == "(":
            e = self.parse_or()
            self.take(")")
            return e
        if kind == "name":
            if val in ("true", "false"):
                return ("lit", val == "true")
            if self.peek()[1] == "(":
                self.take()
                args = []
                while self.peek()[1] != ")":
                    args.append(self.parse_or())
                    if self.peek()[1] == ",":
                        self.take()
                self.take(")")
                return ("call", val, args)
            return ("var", val, at)
        raise Unmodeled("an expression the model cannot read")

    def eval(self, env):
        return _eval(self.tree, env)


def _eval(e, env):
    k = e[0]
    if k == "lit":
        return e[1]
    if k == "var":
        if e[1] not in env:
            raise Unmodeled("variable %r" % e[1])
        if env[e[1]] is INEXACT:  # a derived value that cannot be held: E_INEXACT where read
            raise FormulaError("E_INEXACT", e[2])
        return env[e[1]]
    if k == "or":
        return _eval(e[1], env) or _eval(e[2], env)
    if k == "and":
        return _eval(e[1], env) and _eval(e[2], env)
    if k == "not":
        return not _eval(e[1], env)
    if k == "neg":
        return -_eval(e[1], env)
    if k == "in":
        x = _eval(e[1], env)
        return any(x == _eval(i, env) for i in e[2])
    if k == "cmp":
        a, b = _eval(e[2], env), _eval(e[3], env)
        return {"==": a == b, "!=": a != b}[e[1]] if e[1] in ("==", "!=") else \
            {"<": a < b, "<=": a <= b, ">": a > b, ">=": a >= b}[e[1]]
    if k == "arith":
        a, b = _eval(e[2], env), _eval(e[3], env)
        if e[1] == "+":
            return exact(a + b, e[4])
        if e[1] == "-":
            return exact(a - b, e[4])
        if e[1] == "*":
            return exact(a * b, e[4])
        if b == 0:
            raise FormulaError("E_DIV_ZERO", e[4])
        try:
            return exact(a / b, e[4])
        except (decimal.Inexact, decimal.Rounded):  # does not terminate
            raise FormulaError("E_INEXACT", e[4])
    if k == "call":
        args = [_eval(a, env) for a in e[2]] if e[1] != "if" else None
        if e[1] == "min":
            return min(args)
        if e[1] == "max":
            return max(args)
        if e[1] == "abs":
            return abs(args[0])
        if e[1] == "if":
            return _eval(e[2][1], env) if _eval(e[2][0], env) else _eval(e[2][2], env)
    raise Unmodeled("expression node %r" % (k,))


# --- the program ---------------------------------------------------------------------------

def rate_value(v):
    v = v.strip()
    return D(v[:-1]) / 100 if v.endswith("%") else D(v)


def parse_offset(text):
    m = re.match(r"^([+-])(\d{2}):(\d{2})$", text)
    if not m:
        raise Unmodeled("utc_offset %r" % text)
    s = (int(m.group(2)) * 3600 + int(m.group(3)) * 60) * NS
    return s if m.group(1) == "+" else -s


class Program:
    def __init__(self, j):
        t = j["tiers"]
        if j.get("client_kickback"):
            raise Unmodeled("client_kickback (not in the custom model)")
        self.count_sub = bool(t.get("count_sub_brokers", False))
        self.id, self.version = j["id"], j["version"]
        self.offset = parse_offset(j.get("utc_offset", "+00:00"))
        self.sources = j["attribution"]["sources"]
        self.exclusions = [(x["reason"], Expr(x["when"])) for x in j.get("exclusions", [])]
        self.window = t["window"]
        self.basis = t.get("basis", "attributed")
        self.mode = t.get("mode", "volume")
        self.metrics = {m: (s["kind"], s.get("products"), s.get("channels"),
                            Expr(s["when"]) if s.get("when") else None)
                        for m, s in t["metrics"].items()}
        self.rate_names = t["rates"]
        self.levels = [(lv["name"], {r: rate_value(v) for r, v in lv["rates"].items()})
                       for lv in t["levels"]]
        self.ladders = [[(st["level"], {m: D(v) for m, v in st["min"].items()})
                         for st in ld["steps"]] for ld in t["ladders"]]
        self.formula = Expr(j["formula"])
        self.negative = j.get("negative_fees", "floor")
        self.caps = j.get("caps", [])
        self.share = j.get("sub_broker_share", False)
        self.exclusive = j.get("broker_affiliate_exclusive", False)
        s = j["settlement"]
        self.period, self.delay = s["period"], s["credit_delay_minutes"]
        self.currency, self.scale, self.rounding = s["currency"], s["scale"], s["rounding"]
        known = {"id", "name", "version", "notes", "utc_offset", "attribution", "exclusions",
                 "tiers", "formula", "negative_fees", "caps", "sub_broker_share",
                 "broker_affiliate_exclusive", "settlement"}
        names = [n for n, _ in self.levels]
        if (set(j) - known or self.rounding not in ("half_even", "half_up", "down")
                or self.period not in ("hour", "day", "month")
                or self.negative not in ("floor", "net") or self.mode not in ("volume", "graduated")
                or self.basis not in ("attributed", "eligible")
                or any(s not in ("broker_code", "sub_account") for s in self.sources)
                or self.window.get("kind") not in ("rolling_days", "calendar_month")
                or any(k not in ("volume", "active_clients") for k, _, _, _ in self.metrics.values())
                or any(lv not in names or set(mins) - set(self.metrics)
                       for ld in self.ladders for lv, mins in ld)
                or any(set(r) != set(self.rate_names) for _, r in self.levels)
                or len(set(names)) != len(names)):
            raise Unmodeled("a program the engine refuses or the model does not read")
        if not (isinstance(self.delay, int) and 0 <= self.delay <= 366 * 24 * 60
                and isinstance(self.scale, int) and 0 <= self.scale <= 18):
            raise Unmodeled("settlement values near the engine's limits (limits not modeled)")
        if self.count_sub and self.mode == "graduated":
            raise Unmodeled("count_sub_brokers with graduated mode (E_PROGRAM)")
        if self.mode == "graduated" and (len(self.ladders) != 1 or len(self.metrics) != 1):
            raise Unmodeled("graduated mode past one ladder and one metric")

    # local days and months at the offset
    def day(self, ns):
        return (ns + self.offset) // DAY

    def day_start(self, day):
        return day * DAY - self.offset

    def month(self, day):
        return bm.month_of(day)

    def month_first_day(self, m):
        return bm.month_start_ns(m) // DAY

    def period_of(self, ns):
        if self.period == "hour":
            local = ns + self.offset
            s = local - local % HOUR - self.offset
            return s, s + HOUR
        d = self.day(ns)
        if self.period == "day":
            return self.day_start(d), self.day_start(d + 1)
        m = self.month(d)
        return self.day_start(self.month_first_day(m)), self.day_start(self.month_first_day(m + 1))

    def window_days(self, day):
        w = self.window
        if w["kind"] == "rolling_days":
            n = w["days"]
            return (day - n + 1, day + 1) if w.get("include_current_day") else (day - n, day)
        m = self.month(day) - (1 if w.get("month") == "previous" else 0)
        return self.month_first_day(m), self.month_first_day(m + 1)

    def round(self, d):
        mode = {"half_even": decimal.ROUND_HALF_EVEN, "half_up": decimal.ROUND_HALF_UP,
                "down": decimal.ROUND_DOWN}[self.rounding]
        return d.quantize(D(1).scaleb(-self.scale), rounding=mode,
                          context=decimal.Context(prec=1000, traps=[decimal.InvalidOperation]))


def variables(t, reg):
    """The trade's variables for predicates and the formula (docs/engine.md)."""
    c = t.content  # (id, time, account, broker, channel, product, notional, fee, fee_rate,
    #               liquidity, vip, fee_discount, affiliate_rate, master, order, instrument)
    fee_rate = t.fee_rate
    if fee_rate is None and t.notional != 0:
        try:  # docs/engine.md: a trade that gave only `fee` has fee_rate = fee / notional,
            # and reading one that does not terminate is E_INEXACT (never rounded)
            fee_rate = exact(t.fee / t.notional, None)
        except (decimal.Inexact, decimal.Rounded, FormulaError):
            fee_rate = INEXACT
    env = {"notional": t.notional, "fee": t.fee, "vip": D(t.vip),
           "affiliate_rate": t.affiliate_rate, "channel": t.channel, "product": t.product,
           "account": t.account, "fee_discount": t.fee_discount,
           "attribution": t.attribution, "msa": t.msa or (reg is not None and t.account in reg.msa)}
    if fee_rate is not None:
        env["fee_rate"] = fee_rate
    for k, v in (("liquidity", c[9]), ("broker", t.broker), ("master", t.master)):
        if v is not None:
            env[k] = v
    return env


def parse_bound(value, field, offset):
    if value is None:
        return None
    if isinstance(value, str) and bm._DATE.match(value):
        sign = "+" if offset >= 0 else "-"
        minutes = abs(offset) // NS // 60
        value = "%sT00:00:00%s%02d:%02d" % (value, sign, minutes // 60, minutes % 60)
    try:
        return bm.parse_time(value, field)
    except Reject:
        raise ModelError("E_OPTIONS", field)


# --- settle --------------------------------------------------------------------------------

def settle(program, trades, registry=None, options=None, lines=None, csv=False):
    """The statement's `ok` body for a program given as a dict, or raises ModelError."""
    try:
        P = Program(program)
    except (KeyError, TypeError, AttributeError, ValueError, IndexError,
            decimal.InvalidOperation, RecursionError) as e:
        raise Unmodeled("a program the model cannot load (%s)" % type(e).__name__)
    options = options or {}
    for k in options:
        if k not in ("from", "to", "strict", "lines", "complete_history"):
            raise Unmodeled("option %r" % k)
    strict = bool(options.get("strict", False))
    frm = parse_bound(options.get("from"), "options.from", P.offset)
    to = parse_bound(options.get("to"), "options.to", P.offset)
    if frm is not None and to is not None and frm >= to:
        raise ModelError("E_OPTIONS", "options.from")
    if not isinstance(trades, list):
        raise ModelError("E_FIELD", "trades")
    reg = bm.Registry(registry) if registry is not None else None

    accepted, order, rejected = {}, [], []
    duplicates = unknown = 0
    # `lines`: each trade's line when read from text (CSV / NDJSON); else its 1-based position
    for line, raw in zip(lines or range(1, len(trades) + 1), trades):
        try:
            t, _ = bm.parse_trade(raw, line, strict)
        except Reject as r:
            if isinstance(raw, dict) and not strict:
                # a CSV row's unknown cells are all read; a JSON object's up to the bad field
                unknown += bm.unknown_read(raw, None if csv else r.field, r.code)
            tid = raw.get("id") if isinstance(raw, dict) else None
            if strict:
                raise ModelError(r.code, r.field, line, tid)
            rejected.append({"id": tid if isinstance(tid, str) else None, "line": line,
                             "code": r.code, "field": r.field})
            continue
        if not strict:
            unknown += bm.unknown_read(raw, None)
        prev = accepted.get(t.id)
        if prev is not None:
            if prev.content == t.content:
                duplicates += 1
                continue
            raise ModelError("E_DUPLICATE_ID", "id", line, t.id)
        accepted[t.id] = t
        order.append(t)

    PB = {"sources": P.sources}
    gone = set()  # trades rejected by a predicate that cannot be evaluated exactly
    env = {}
    for t in order:
        bm.attribute(PB, t, reg)
        t.day = P.day(t.time)
        env[t.id] = variables(t, reg)
        t.excluded = t.unattributed
        if t.owner is not None:
            try:
                for reason, pred in P.exclusions:
                    if pred.eval(env[t.id]):
                        t.excluded = reason
                        break
            except FormulaError as f:
                # the engine names the field `formula` for a predicate too; the position
                # is inside the predicate's text
                if strict:
                    err = ModelError(f.code, "formula", t.line, t.id)
                    err.position = f.position
                    raise err
                rejected.append({"id": t.id, "line": t.line, "code": f.code, "field": "formula"})
                gone.add(t.id)
    order = [t for t in order if t.id not in gone]
    attributed = [t for t in order if t.owner is not None]

    names = [n for n, _ in P.levels]

    def level_at(values):
        best = -1
        for ladder in P.ladders:
            for name, mins in ladder:
                if all(values[m] >= v for m, v in mins.items()):
                    best = max(best, names.index(name))
        return best

    def tier_of(best):
        if best < 0:
            return None, {r: D(0) for r in P.rate_names}
        return names[best], dict(P.levels[best][1])

    def price(t, best):
        tier, rates = tier_of(best)
        e = dict(env[t.id])
        e.update(rates)
        e.update({"tier_rate": rates[P.rate_names[0]], "tier_level": D(best + 1),
                  "tier": tier or ""})
        try:
            return P.formula.eval(e)
        except FormulaError:
            # exact at some level but not at the one reached: the engine stops the whole
            # settlement (E_OVERFLOW, bookkeeping of its engines), which the model declines
            raise Unmodeled("a formula that is not exact at the level reached only")

    # A trade whose formula fails at every level (none included) cannot be priced at any
    # level it could get: it is rejected before it touches any state (lenient) or stops the
    # batch (strict), E_DIV_ZERO / E_INEXACT with the operator's position, field `formula`.
    # Its id stays recorded, so identical copies of it are duplicates.
    for t in list(attributed):
        if t.excluded:
            continue
        errors = []
        for best in range(-1, len(P.levels)):
            try:
                price(t, best)
            except Unmodeled:
                e = dict(env[t.id])
                tier, rates = tier_of(best)
                e.update(rates)
                e.update({"tier_rate": rates[P.rate_names[0]], "tier_level": D(best + 1),
                          "tier": tier or ""})
                try:
                    P.formula.eval(e)
                except FormulaError as f:
                    errors.append(f)
        if len(errors) == len(P.levels) + 1:
            f = errors[0]
            if strict:
                err = ModelError(f.code, "formula", t.line, t.id)
                err.position = f.position
                raise err
            rejected.append({"id": t.id, "line": t.line, "code": f.code, "field": "formula"})
            attributed.remove(t)
            order.remove(t)
    rejected.sort(key=lambda r: r["line"])


    # tier metrics per broker per local day: volume sums and account sets
    def contributes(t, spec):
        kind, products, channels, when = spec
        if P.basis == "eligible" and t.excluded:
            return False
        if products is not None and t.product not in products:
            return False
        if channels is not None and t.channel not in channels:
            return False
        return when is None or bool(when.eval(env[t.id]))

    cells = {}
    for t in attributed:
        cell = cells.setdefault(t.owner, {}).setdefault(t.day, {})
        for m, spec in P.metrics.items():
            if contributes(t, spec):
                if spec[0] == "volume":
                    cell[m] = cell.get(m, D(0)) + t.notional
                else:
                    cell.setdefault(m, set()).add(t.account)

    def under(b):
        """count_sub_brokers: every broker below b in the registry's parent links."""
        if not P.count_sub or reg is None:
            return []
        out, todo = set(), [b]
        while todo:
            x = todo.pop()
            for child, (parent, _) in reg.parent.items():
                if parent == x and child not in out and child != b:
                    out.add(child)
                    todo.append(child)
        return sorted(out)

    def metrics(b, day):
        lo, hi = P.window_days(day)
        out = {m: (set() if s[0] == "active_clients" else D(0)) for m, s in P.metrics.items()}
        for x in [b] + under(b):  # a client active under several counts once
            for d, cell in cells.get(x, {}).items():
                if lo <= d < hi:
                    for m, v in cell.items():
                        out[m] = out[m] | v if isinstance(v, set) else out[m] + v
        return {m: D(len(v)) if isinstance(v, set) else v for m, v in out.items()}

    client_caps = [(D(c["amount"]), Expr(c["when"]) if c.get("when") else None)
                   for c in P.caps if c["scope"] == "client_month"]
    broker_caps = [D(c["amount"]) for c in P.caps if c["scope"] == "broker_period"]
    if len(client_caps) > 1 or any(c["scope"] not in ("client_month", "broker_period")
                                   for c in P.caps):
        raise Unmodeled("caps past one client_month and broker_period")
    def settled(t):
        return (frm is None or t.time >= frm) and (to is None or t.time < to)

    def unpaid(t):
        """Excluded, or history outside from / to that no client cap counts: not priced."""
        if t.excluded:
            return True
        if settled(t):
            return False
        return not (client_caps and frm is not None and t.time < frm)

    # each attributed trade's commission at its level (graduated: slice by slice)
    level_cache = {}

    def day_level(b, day):
        if (b, day) not in level_cache:
            ms = metrics(b, day)
            level_cache[(b, day)] = (level_at(ms), ms)
        return level_cache[(b, day)]

    commission, line_level = {}, {}
    if P.mode == "graduated":
        (metric, spec), = P.metrics.items()
        ladder = P.ladders[0]
        running = {}  # broker -> [(day, volume)] of trades before, in (time, id) order
        for t in sorted(attributed, key=lambda t: (t.time, t.id)):
            lo, hi = P.window_days(t.day)
            vol = t.notional if contributes(t, spec) else D(0)
            if hi <= t.day:  # the window ends before the trade's day: volume mode
                best = day_level(t.owner, t.day)[0]
                commission[t.id] = D(0) if unpaid(t) else price(t, best)
                line_level[t.id] = best
            else:
                before = sum((v for d, v in running.get(t.owner, []) if lo <= d < hi), D(0))
                cuts = sorted({v for _, mins in ladder for v in mins.values()
                               if before < v < before + vol})
                points = [before] + cuts + [before + vol]
                total, best = D(0), level_at({metric: before})
                if vol == 0:  # adds no volume: paid whole at the level reached so far
                    total = D(0) if unpaid(t) else price(t, best)
                    points = []
                for a, z in zip(points, points[1:]):
                    best = level_at({metric: a})
                    if unpaid(t):  # an excluded or unsettled trade: no slice is priced
                        continue
                    c = price(t, best)
                    if c <= 0 and P.negative == "floor":
                        continue  # floored to 0 per trade: nothing to split
                    try:
                        # the trade's commission at the slice's level times the slice's share
                        # of its volume: (commission x slice) / volume, exact or E_INEXACT
                        total += c * (z - a) / vol
                    except (decimal.Inexact, decimal.Rounded):
                        if not settled(t):  # history priced for a cap only: not modeled
                            raise Unmodeled("an inexact slice of a history trade")
                        # a slice that is not exact stops the settlement, naming the trade
                        raise ModelError("E_INEXACT", None, t.line, t.id)
                commission[t.id], line_level[t.id] = total, best
            running.setdefault(t.owner, []).append((t.day, vol))
    else:
        for t in attributed:
            best = day_level(t.owner, t.day)[0]
            commission[t.id] = D(0) if unpaid(t) else price(t, best)
            line_level[t.id] = best

    cap = client_caps[0] if client_caps else None

    def capped(t):
        return cap is not None and not t.excluded and (cap[1] is None or cap[1].eval(env[t.id]))

    def trade_amount(t):
        c = commission[t.id]
        return max(D(0), c) if P.negative == "floor" else c

    periods, unattributed, lines, used, history = {}, {}, [], {}, []
    for t in order:
        start, end = P.period_of(t.time)
        if t.owner is None:
            if settled(t):
                u = unattributed.setdefault(t.unattributed, {"trades": 0, "volume": D(0), "fees": D(0)})
                u["trades"] += 1
                u["volume"] += t.notional
                u["fees"] += t.fee
                lines.append({"id": t.id, "broker": None, "period_start": fmt_time(start),
                              "tier": None, "rate": "0", "commission": "0",
                              "excluded": t.unattributed, "attribution": None,
                              "time": fmt_time(t.time), "account": t.account,
                              "volume": fmt_dec(t.notional)})
            continue
        if not settled(t):
            if capped(t) and frm is not None and t.time < frm:
                history.append(((t.time, t.id), (t.owner, t.account, P.month(t.day)),
                                trade_amount(t)))
            continue
        best = line_level[t.id]
        tier, rates = tier_of(best)
        c = D(0) if t.excluded else trade_amount(t)
        p = periods.get((t.owner, start))
        if p is None:
            p = periods[(t.owner, start)] = bm.new_period(start, end, None)
            p["last"] = None
        p["trades"] += 1
        p["volume"] += t.notional
        p["fees"] += t.fee
        if capped(t):
            p["capped"].setdefault(t.account, []).append(((t.time, t.id), c))
        else:
            p["own"] += c
        key = (t.time, t.id)
        if p["last"] is None or key > p["last"][0]:
            p["last"] = (key, best, bool(t.excluded))
        if not t.excluded and (p.get("last_paid") is None or key > p["last_paid"][0]):
            p["last_paid"] = (key, best)
        p["last_day"] = t.day if p["last_day"] is None else max(p["last_day"], t.day)
        if t.excluded:
            e = p["excluded"].setdefault(t.excluded, {"trades": 0, "volume": D(0), "fees": D(0)})
            e["trades"] += 1
            e["volume"] += t.notional
            e["fees"] += t.fee
        lines.append({"id": t.id, "broker": t.owner, "period_start": fmt_time(start),
                      "tier": tier, "rate": fmt_dec(rates[P.rate_names[0]]),
                      "commission": fmt_dec(D(0) if t.excluded else trade_amount(t)),
                      "excluded": t.excluded, "attribution": t.attribution,
                      "time": fmt_time(t.time), "account": t.account,
                      "volume": fmt_dec(t.notional)})

    # A client-month cap runs over the client's trades in time order: what the client has
    # earned so far this month is min(cap, earned before + this trade), history before `from`
    # first (counted, not paid); a trade pays the step it adds (a later negative one takes
    # off what it nets). Then per period: net floor -> broker cap.
    for _, k, amount in sorted(history):
        used[k] = min(cap[0], used.get(k, D(0)) + amount)
    for key in sorted(periods, key=lambda k: periods[k]["start"]):
        p = periods[key]
        for acc, items in sorted(p["capped"].items()):
            k = (key[0], acc, P.month(P.day(p["start"])))
            for _, amount in sorted(items):
                new = min(cap[0], used.get(k, D(0)) + amount)
                p["own"] += new - used.get(k, D(0))
                used[k] = new
        p["own"] = max(D(0), p["own"])
        for amount in broker_caps:
            p["own"] = min(p["own"], amount)
    for p in periods.values():
        p["to_parent"] = D(0)
    if P.share and reg is not None:
        for (b, start), p in list(periods.items()):
            if b in reg.parent:
                parent, share = reg.parent[b]
                amount = p["own"] * share
                p["to_parent"] = amount
                q = periods.get((parent, start))
                if q is None:
                    q = periods[(parent, start)] = bm.new_period(start, p["end"], None)
                    q["to_parent"], q["last"] = D(0), None
                q["from_sub"] += amount

    sums = [v for p in periods.values() for v in (p["volume"], p["fees"], p["own"])]
    sums += [v for days in cells.values() for cell in days.values() for v in cell.values()
             if not isinstance(v, set)]
    if any(not bm.fits(v) for v in sums):
        raise Unmodeled("a sum past 28 significant digits (the engine's E_INEXACT limit)")

    brokers = {t.owner: [] for t in attributed}
    for (b, start), p in periods.items():
        brokers.setdefault(b, []).append(p)
    out_brokers, total = [], D(0)
    first_day = min(t.day for t in order) if order else None
    incomplete = []
    zero = P.round(D(0))
    for b in sorted(brokers):
        withheld = P.exclusive and reg is not None and reg.is_affiliate(b)
        out_periods, sum_rounded, short = [], D(0), None
        for p in sorted(brokers[b], key=lambda p: p["start"]):
            day = p["last_day"] if p["last_day"] is not None else P.day(p["start"])
            best, ms = day_level(b, day)
            if P.mode == "graduated":
                # docs/engine.md: "the period's tier is the level of its last trade's last
                # slice"; the engine reads "trade" as a paid (not excluded) one, and a period
                # with none shows its last trading day's level, as in volume mode: the model
                # follows that reading (reported to the docs)
                if p.get("last_paid") is not None:
                    best = p["last_paid"][1]
            tier, rates = tier_of(best)
            exact = p["own"] - p["to_parent"] + p["from_sub"]
            com = P.round(exact)
            sum_rounded += com
            lo, hi = P.window_days(day)
            lo0 = P.window_days(P.day(p["start"]))[0]
            history = "complete"
            if (first_day is not None and not options.get("complete_history")
                    and lo0 < min(first_day, P.day(p["start"]))):
                history = "incomplete"
                if short is None:
                    short = {"broker": b, "periods": 0, "first": fmt_time(p["start"])}
                short["periods"] += 1
                short["last"] = fmt_time(p["start"])
            ex = p["excluded"].values()
            ex_n = sum(e["trades"] for e in ex)
            ex_v = sum((e["volume"] for e in ex), D(0))
            ex_f = sum((e["fees"] for e in ex), D(0))
            out_periods.append({
                "start": fmt_time(p["start"]), "end": fmt_time(p["end"]),
                "credit_at": fmt_time(p["end"] + P.delay * 60 * NS),
                "tier": tier, "rate": fmt_dec(rates[P.rate_names[0]]),
                "volume": fmt_dec(p["volume"]), "fees": fmt_dec(p["fees"]),
                "commission": format(zero if withheld else com, "f"),
                "trades": p["trades"],
                "excluded": {r: {"trades": e["trades"], "volume": fmt_dec(e["volume"]),
                                 "fees": fmt_dec(e["fees"])}
                             for r, e in sorted(p["excluded"].items())},
                "rates": {r: fmt_dec(v) for r, v in sorted(rates.items())},
                "metrics": {m: fmt_dec(v) for m, v in sorted(ms.items())},
                "exact": fmt_dec(D(0) if withheld else exact),
                "to_parent": fmt_dec(p["to_parent"]),
                "from_sub_brokers": fmt_dec(p["from_sub"]),
                "attributed": {"trades": p["trades"], "volume": fmt_dec(p["volume"]),
                               "fees": fmt_dec(p["fees"])},
                "eligible": {"trades": p["trades"] - ex_n, "volume": fmt_dec(p["volume"] - ex_v),
                             "fees": fmt_dec(p["fees"] - ex_f)},
                "excluded_total": {"trades": ex_n, "volume": fmt_dec(ex_v), "fees": fmt_dec(ex_f)},
                "withheld": format(com if withheld else zero, "f"),
                "metrics_window": {"start": fmt_time(P.day_start(lo)),
                                   "end": fmt_time(P.day_start(hi))},
                "history": history,
            })
            if P.count_sub:
                out_periods[-1]["metrics_sub_brokers"] = under(b)
        if short is not None:
            incomplete.append(short)
        payable = zero if withheld else P.round(sum_rounded)
        total += payable
        out_brokers.append({
            "broker": b, "status": "withheld" if withheld else "eligible",
            "reason": "broker_affiliate_conflict" if withheld else None,
            "commission": format(payable, "f"), "periods": out_periods,
            "withheld": format(P.round(sum_rounded) if withheld else zero, "f"),
        })
    return {
        "program": {"id": P.id, "version": P.version},
        "currency": P.currency,
        "brokers": out_brokers,
        "rejected": rejected,
        "lines": lines if options.get("lines") else None,
        "all_lines": lines,
        "summary": {
            "from": fmt_time(frm) if frm is not None else None,
            "to": fmt_time(to) if to is not None else None,
            "trades": len(order), "duplicates": duplicates, "rejected": len(rejected),
            "unknown_fields": unknown,
            "unknown_values": bm.unknown_values(order),
            "unattributed": {r: {"trades": u["trades"], "volume": fmt_dec(u["volume"]),
                                 "fees": fmt_dec(u["fees"])}
                             for r, u in sorted(unattributed.items())},
            "commission": format(P.round(total), "f"),
            "earliest_trade": fmt_time(min(t.time for t in order)) if order else None,
            "incomplete_history": incomplete,
        },
    }
