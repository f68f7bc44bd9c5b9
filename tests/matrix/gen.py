#!/usr/bin/env python3
"""Writes the bad-input matrix (issue 11, item 7) as conformance vectors
tests/vectors/error-m-*.json: one mistake per vector, on every argument of every entry point
and every text format the request carries (JSON array, CSV, NDJSON, JSON text). Each vector's
`checks` pin by hand the code, the field and the line / column where they apply; `expected`
is left null for the bless step (`cargo run -p broker-rules-conformance -- bless`), which
refuses to write an envelope that contradicts the checks.

    python3 tests/matrix/gen.py        # rewrites the vectors whose input or checks changed
"""
import copy, json, os, sys

OUT = os.path.join(os.path.dirname(__file__), '..', 'vectors')

T = {"id": "t1", "time": "2026-06-01T10:00:00Z", "account": "c1", "broker": "B1",
     "channel": "api", "product": "spot", "notional": "1000", "fee": "1"}
STRICT = {"strict": True}
CUSTOM = {"id": "custom", "name": "Custom test program", "version": "1", "notes": ["a test program"],
          "utc_offset": "+00:00", "attribution": {"sources": ["broker_code"]}, "exclusions": [],
          "tiers": {"window": {"kind": "calendar_month", "month": "same"}, "basis": "attributed",
                    "mode": "volume", "metrics": {"vol": {"kind": "volume"}}, "rates": ["rate"],
                    "levels": [{"name": "T1", "rates": {"rate": "50%"}}],
                    "ladders": [{"name": "main", "steps": [{"level": "T1", "min": {"vol": "0"}}]}]},
          "formula": "fee * rate", "negative_fees": "floor", "caps": [], "sub_broker_share": False,
          "broker_affiliate_exclusive": False,
          "settlement": {"period": "month", "credit_delay_minutes": 0, "currency": "USD", "scale": 2,
                         "rounding": "half_even"}}
HEADER = "id,time,account,broker,channel,product,notional,fee"
ROW = "t1,2026-06-01T10:00:00Z,c1,B1,api,spot,1000,1"

cases = []


def case(name, description, call, inp, code=None, field=None, line=None, column=None, id=None,
         position=None, extra=(), prefix="/error"):
    checks = []
    if code is not None:
        checks.append({"path": f"{prefix}/code", "value": code})
    loc = "/location" if prefix == "/error" else ""
    for k, v in (("field", field), ("line", line), ("column", column), ("id", id), ("position", position)):
        if v is not None:
            checks.append({"path": f"{prefix}{loc}/{k}", "value": v})
    checks.extend({"path": p, "value": v} for p, v in extra)
    cases.append({"name": f"error-m-{name}", "description": description, "call": call,
                  "input": inp, "checks": checks, "expected": None})


def trade(**kw):
    t = dict(T)
    for k, v in kw.items():
        if v is DROP:
            t.pop(k, None)
        else:
            t[k] = v
    return t


DROP = object()


def settle(trades, options=STRICT, program="xt", **more):
    r = {"program": program}
    if options is not None:
        r["options"] = options
    r["trades"] = trades
    r.update(more)
    return r


# ---- trades as a JSON array: one bad field each, strict (the error) and lenient (listed) ----
FIELD_CASES = [
    # name, field, value, code
    ("notional-number", "notional", 1000.5, "E_DECIMAL"),
    ("fee-number", "fee", 0.1, "E_DECIMAL"),
    ("fee-rate-number", "fee_rate", 0.0005, "E_DECIMAL"),
    ("affiliate-rate-number", "affiliate_rate", 0.1, "E_DECIMAL"),
    ("notional-huge-number", "notional", 1e300, "E_DECIMAL"),
    ("notional-exponent", "notional", "1e3", "E_DECIMAL"),
    ("notional-nan-text", "notional", "NaN", "E_DECIMAL"),
    ("notional-infinity-text", "notional", "Infinity", "E_DECIMAL"),
    ("fee-not-a-number", "fee", "abc", "E_DECIMAL"),
    ("fee-empty", "fee", "", "E_FIELD"),
    ("notional-too-many-digits", "notional", "123456789012345678901234567890", "E_DECIMAL"),
    ("notional-negative", "notional", "-1", "E_VALUE"),
    ("affiliate-rate-above-one", "affiliate_rate", "1.5", "E_VALUE"),
    ("affiliate-rate-negative", "affiliate_rate", "-0.1", "E_VALUE"),
    ("time-before-1970", "time", "1969-12-31T23:59:59Z", "E_TIME"),
    ("time-2200", "time", "2200-01-01T00:00:00Z", "E_TIME"),
    ("time-1677", "time", "1677-09-21T00:12:44Z", "E_TIME"),
    ("time-2262", "time", "2262-04-11T23:47:16Z", "E_TIME"),
    ("time-february-30", "time", "2026-02-30T00:00:00Z", "E_TIME"),
    ("time-number", "time", 1780000000, "E_FIELD"),
    ("time-garbage", "time", "yesterday", "E_TIME"),
    ("id-number", "id", 7, "E_FIELD"),
    ("account-null", "account", None, "E_FIELD"),
    ("channel-number", "channel", 1, "E_FIELD"),
    ("vip-text", "vip", "six", "E_VALUE"),
    ("vip-negative", "vip", -1, "E_VALUE"),
    ("fee-discount-text", "fee_discount", "yes", "E_VALUE"),
    ("msa-number", "msa", 1, "E_VALUE"),
    ("liquidity-unknown", "liquidity", "both", "E_VALUE"),
]
for name, f, v, code in FIELD_CASES:
    bad = trade(**{f: v})
    if f == "id":
        tid = None
    else:
        tid = "t1"
    case(f"trade-{name}", f"A trade whose {f} is {json.dumps(v)} (strict): {code} naming {f}, line 1.",
         "settle", settle([bad]), code, f, 1, id=tid)
for f in ["id", "time", "account", "channel", "product", "notional"]:
    case(f"trade-missing-{f}", f"A trade without its required field {f} (strict, second trade): E_FIELD naming {f}, line 2.",
         "settle", settle([trade(id="t0"), trade(**{f: DROP})]), "E_FIELD", f, 2)
case("trade-no-fee-no-rate", "A trade with neither fee nor fee_rate (strict): E_FIELD at line 1.",
     "settle", settle([trade(fee=DROP)]), "E_FIELD", None, 1, id="t1")
case("trade-not-object", "The second trade is the number 5 (strict): E_FIELD at line 2.",
     "settle", settle([trade(), 5]), "E_FIELD", None, 2)
case("trade-unknown-field", "Strict mode: an unknown trade field 'colour': E_FIELD naming it, line 1.",
     "settle", settle([trade(colour="red")]), "E_FIELD", "colour", 1, id="t1")
case("trade-padded-channel-strict", "Strict mode: channel ' api' (padded in JSON, where whitespace is data) is an unknown channel: E_UNKNOWN_VALUE naming channel.",
     "settle", settle([trade(channel=" api")]), "E_UNKNOWN_VALUE", "channel", 1, id="t1")
case("trade-miscased-channel-strict", "Strict mode: channel 'API' is unknown (channels are lower case): E_UNKNOWN_VALUE.",
     "settle", settle([trade(channel="API")]), "E_UNKNOWN_VALUE", "channel", 1, id="t1")
case("trade-unknown-product-strict", "Strict mode: product 'bonds': E_UNKNOWN_VALUE naming product.",
     "settle", settle([trade(product="bonds")]), "E_UNKNOWN_VALUE", "product", 1, id="t1")
case("trade-duplicate-id-different", "Two different trades with id t1 (notional 1000 then 2000): E_DUPLICATE_ID at line 2, whichever engine.",
     "settle", settle([trade(), trade(notional="2000")], options=None), "E_DUPLICATE_ID", None, 2, id="t1")
case("trade-duplicate-id-reversed", "The same two trades in the other order: still E_DUPLICATE_ID at line 2 (the result never depends on order).",
     "settle", settle([trade(notional="2000"), trade()], options=None), "E_DUPLICATE_ID", None, 2, id="t1")
case("trade-overflow", "fee_rate 2 on the largest notional: the fee (notional x fee_rate) needs more than 96 bits: E_OVERFLOW (strict), naming fee_rate, the field given.",
     "settle", settle([trade(fee=DROP, notional="79228162514264337593543950335", fee_rate="2")]), "E_OVERFLOW", "fee_rate", 1, id="t1")
case("trade-volume-sum-inexact", "Table row: notionals 99999999.99999999999999999999 + 0.000000000000000000009 need 30 significant digits: the settlement stops with E_OVERFLOW (no location: the same trades in any order give this error), never rounded to 100,000,000 (strict).",
     "settle", settle([trade(notional="99999999.99999999999999999999"),
                       trade(id="t2", notional="0.000000000000000000009")], program="backpack"), "E_OVERFLOW",
     extra=[("/error/message", "a total of volume, fees or commission cannot be held exactly in a 96-bit decimal (28 to 29 significant digits); it is never rounded, so the settlement stops (the same trades in any order or split give this error)")])

# lenient: the same mistakes are listed in `rejected` with line and field, nothing dropped
for name, f, v, code in [("notional-number", "notional", 1000.5, "E_DECIMAL"),
                         ("notional-negative", "notional", "-1", "E_VALUE"),
                         ("time-2200", "time", "2200-01-01T00:00:00Z", "E_TIME"),
                         ("fee-discount-text", "fee_discount", "yes", "E_VALUE")]:
    case(f"lenient-{name}", f"Lenient mode: the second trade's {f} is {json.dumps(v)}: listed in rejected with {code}, line 2, field {f}; the first settles (commission 0 below XT VIP 1).",
         "settle", settle([trade(), trade(id="t2", **{f: v})], options=None),
         prefix="/ok/rejected/0", code=code, field=f, line=2, id="t2")

# ---- trades as CSV text (format csv) ----
def csv(rows, header=HEADER):
    return "\n".join([header] + rows) + "\n"


def csv_case(name, desc, text, code, field=None, line=None, column=None, options=STRICT, program="xt", **kw):
    case(f"csv-{name}", desc, "settle", settle(text, options=options, program=program, format="csv"),
         code, field, line, column, **kw)


csv_case("notional-bad", "CSV: row 2 (line 3) notional 'abc': E_DECIMAL, line 3, column 7 (notional).",
         csv([ROW, "t2,2026-06-01T10:00:00Z,c1,B1,api,spot,abc,1"]), "E_DECIMAL", "notional", 3, 7)
csv_case("notional-exponent", "CSV: notional 1e3: E_DECIMAL at line 2, column 7.",
         csv(["t1,2026-06-01T10:00:00Z,c1,B1,api,spot,1e3,1"]), "E_DECIMAL", "notional", 2, 7)
csv_case("notional-negative", "CSV: notional -5: E_VALUE at line 2, column 7.",
         csv(["t1,2026-06-01T10:00:00Z,c1,B1,api,spot,-5,1"]), "E_VALUE", "notional", 2, 7)
csv_case("time-bad", "CSV: time '2026-06-01 10:00': E_TIME at line 2, column 2.",
         csv(["t1,2026-06-01 10:00,c1,B1,api,spot,1000,1"]), "E_TIME", "time", 2, 2)
csv_case("time-2262", "CSV: time 2262-04-11T23:47:16Z is past 2199: E_TIME at line 2, column 2.",
         csv(["t1,2262-04-11T23:47:16Z,c1,B1,api,spot,1000,1"]), "E_TIME", "time", 2, 2)
csv_case("missing-column", "CSV: no notional column: E_FIELD naming notional, line 1 (the header).",
         csv(["t1,2026-06-01T10:00:00Z,c1,B1,api,spot,1"], header="id,time,account,broker,channel,product,fee"),
         "E_FIELD", "notional", 1)
csv_case("duplicate-column", "Table row: a second fee column (even lenient) is E_FIELD naming fee at line 1, column 9, not last-wins.",
         csv([ROW + ",949999.05"], header=HEADER + ",fee"), "E_FIELD", "fee", 1, 9, options=None)
csv_case("unknown-column-strict", "CSV strict: an unknown column 'colour': E_FIELD naming it, line 1, column 9.",
         csv([ROW + ",red"], header=HEADER + ",colour"), "E_FIELD", "colour", 1, 9)
csv_case("too-many-cells", "CSV: line 2 has 9 cells under an 8-column header: E_PARSE at line 2.",
         csv([ROW + ",x"]), "E_PARSE", None, 2)
csv_case("too-few-cells", "CSV: line 2 has 7 cells under an 8-column header: E_PARSE at line 2.",
         csv(["t1,2026-06-01T10:00:00Z,c1,B1,api,spot,1000"]), "E_PARSE", None, 2)
csv_case("unclosed-quote", "CSV: a quote opened in line 2 and never closed: E_PARSE at line 2, where the record starts.",
         csv(['"t1,2026-06-01T10:00:00Z,c1,B1,api,spot,1000,1']), "E_PARSE", None, 2)
csv_case("duplicate-id", "CSV: two different trades with id t1: E_DUPLICATE_ID at line 3.",
         csv([ROW, "t1,2026-06-01T10:00:00Z,c1,B1,api,spot,2000,1"]), "E_DUPLICATE_ID", None, 3, options=None, id="t1")
csv_case("unknown-channel-strict", "CSV strict: channel 'desk': E_UNKNOWN_VALUE at line 2, column 5.",
         csv(["t1,2026-06-01T10:00:00Z,c1,B1,desk,spot,1000,1"]), "E_UNKNOWN_VALUE", "channel", 2, 5)
csv_case("vip-text", "CSV: vip 'six': E_FIELD at line 2, column 9.",
         csv([ROW + ",six"], header=HEADER + ",vip"), "E_VALUE", "vip", 2, 9)
csv_case("fee-discount-text", "CSV: fee_discount 'maybe': E_FIELD at line 2, column 9.",
         csv([ROW + ",maybe"], header=HEADER + ",fee_discount"), "E_VALUE", "fee_discount", 2, 9)
csv_case("msa-text", "CSV: msa 'maybe': E_VALUE at line 2, column 9.",
         csv([ROW + ",maybe"], header=HEADER + ",msa"), "E_VALUE", "msa", 2, 9)
csv_case("affiliate-rate-above-one", "CSV: affiliate_rate 2: E_VALUE at line 2, column 9.",
         csv([ROW + ",2"], header=HEADER + ",affiliate_rate"), "E_VALUE", "affiliate_rate", 2, 9)
case("csv-lenient-rejected-keeps-column", "CSV lenient: line 3's notional 'abc' is listed in rejected with code E_DECIMAL, line 3, field notional (and its column); line 2 settles.",
     "settle", settle(csv([ROW, "t2,2026-06-01T10:00:00Z,c1,B1,api,spot,abc,1"]), options=None, format="csv"),
     prefix="/ok/rejected/0", code="E_DECIMAL", field="notional", line=3, id="t2")
case("csv-padded-cells-trimmed", "Table row: CSV cells with a space after the comma (' B1', ' api') are trimmed like every cell: broker B1 is paid, not a silent 0. Backpack BKR 0: fee 1 x 20% = 0.20.",
     "settle", settle(csv(["t1, 2026-06-01T10:00:00Z, c1, B1, api, spot, 1000, 1"]), options=STRICT, program="backpack", format="csv"),
     extra=[("/ok/brokers/0/broker", "B1"), ("/ok/brokers/0/commission", "0.20")])
case("csv-trailing-zeros-significant", "Table row: fee 1.000000000000000000000000000000 has one significant digit: accepted; backpack BKR 0 pays 1 x 20% = 0.20.",
     "settle", settle(csv(["t1,2026-06-01T10:00:00Z,c1,B1,api,spot,1000,1.000000000000000000000000000000"]), program="backpack", format="csv"),
     extra=[("/ok/brokers/0/commission", "0.20")])

# ---- NDJSON and JSON text ----
def nd(*objs_or_text):
    return "\n".join(o if isinstance(o, str) else json.dumps(o, separators=(",", ":")) for o in objs_or_text) + "\n"


case("ndjson-malformed-line", "NDJSON: line 2 is not JSON: E_PARSE at line 2, column 12 (the line `{\"id\": \"t2\",` ends after its 12th character; columns are 1-based within the line).",
     "settle", settle(nd(trade(), '{"id": "t2",'), format="ndjson"), "E_PARSE", None, 2, 12)
case("ndjson-decimal-number", "NDJSON strict: line 2's notional is the JSON number 5.5: E_DECIMAL naming notional, line 2.",
     "settle", settle(nd(trade(), trade(id="t2", notional=5.5)), format="ndjson"), "E_DECIMAL", "notional", 2, id="t2")
case("ndjson-duplicate-key", "Table row: NDJSON line 1 has the key fee twice: refused (duplicate keys are never last-wins), at line 1, column 137: the second \"fee\" takes columns 132-136 and the reader stops at the colon after it, the column the JSON-array reader names for the same object (138 there, after the '[').",
     "settle", settle('{"id":"t1","time":"2026-06-01T10:00:00Z","account":"c1","broker":"B1","channel":"api","product":"spot","notional":"1000","fee":"1","fee":"949999.05"}\n', format="ndjson"),
     "E_PARSE", None, 1, 137)
case("ndjson-not-object", "NDJSON strict: line 2 is an array: E_FIELD at line 2.",
     "settle", settle(nd(trade(), "[1]"), format="ndjson"), "E_FIELD", None, 2)
case("ndjson-time-1969", "NDJSON strict: time 1969-12-31T23:59:59Z is before 1970: E_TIME at line 1.",
     "settle", settle(nd(trade(time="1969-12-31T23:59:59Z")), format="ndjson"), "E_TIME", "time", 1, id="t1")
case("json-text-malformed", "A JSON-array trade log cut short: E_PARSE at line 1, column 11 (the text ends after its 11th character).",
     "settle", settle('[{"id":"t1"', format="json"), "E_PARSE", None, 1, 11)
case("json-text-duplicate-key", "Table row: a JSON-array trade log whose trade has notional twice: refused, not last-wins.",
     "settle", settle('[{"id":"t1","time":"2026-06-01T10:00:00Z","account":"c1","broker":"B1","channel":"api","product":"spot","notional":"1","notional":"1000","fee":"1"}]', format="json"),
     "E_PARSE", line=1, column=130)
case("json-text-decimal-number", "A JSON-array trade log whose fee is the number 0.5: E_DECIMAL naming fee (strict).",
     "settle", settle(json.dumps([trade(fee=0.5)]), format="json"), "E_DECIMAL", "fee", 1, id="t1")

# ---- the request itself ----
case("request-text-without-format", "trades given as text without format: E_FIELD naming format.",
     "settle", settle(csv([ROW])), "E_FIELD", "format")
case("request-format-unknown", "format 'xml': E_OPTIONS naming format.",
     "settle", settle(csv([ROW]), format="xml"), "E_OPTIONS", "format")
case("request-format-binary", "format 'parquet' as request text: E_OPTIONS naming format (binary logs travel as bytes through a host).",
     "settle", settle("PAR1", format="parquet"), "E_OPTIONS", "format")
case("request-format-not-string", "format 7: E_FIELD naming format.",
     "settle", settle(csv([ROW]), format=7), "E_FIELD", "format")
case("request-format-with-array", "format csv with trades as an array: E_FIELD naming format.",
     "settle", settle([trade()], format="csv"), "E_FIELD", "format")
case("request-trades-object", "trades is one object, not an array: E_FIELD naming trades.",
     "settle", settle(trade()), "E_FIELD", "trades")
case("request-unknown-field-explain", "explain with an unknown request field 'trade': E_FIELD naming it.",
     "explain", {"program": "xt", "trade": []}, "E_FIELD", "trade")
case("request-unknown-field-estimate", "estimate with an unknown request field 'trades': E_FIELD naming it.",
     "estimate", {"program": "xt", "scenario": {"volume": "1", "fees": "1"}, "trades": []}, "E_FIELD", "trades")
case("request-unknown-field-validate", "validate with an unknown request field 'prog': E_FIELD naming it.",
     "validate", {"prog": "xt"}, "E_FIELD", "prog")
case("request-validate-empty", "validate with nothing to validate: E_FIELD.",
     "validate", {}, "E_FIELD")
case("request-program-call-id-number", "program with id 7: E_FIELD naming id.",
     "program", {"id": 7}, "E_FIELD", "id")
case("request-program-call-unknown-field", "program with an unknown field 'name': E_FIELD naming it.",
     "program", {"id": "xt", "name": "XT"}, "E_FIELD", "name")

# ---- the program argument ----
def prog(**changes):
    p = copy.deepcopy(CUSTOM)
    for path, v in changes.items():
        keys = path.split("__")
        cur = p
        for k in keys[:-1]:
            cur = cur[int(k)] if isinstance(cur, list) else cur[k]
        if v is DROP:
            del cur[keys[-1]]
        elif isinstance(cur, list):
            cur[int(keys[-1])] = v
        else:
            cur[keys[-1]] = v
    return p


case("program-number", "program 7: E_FIELD naming program.", "settle", settle([trade()], program=7), "E_FIELD", "program")
case("program-unknown-id-settle", "settle with program 'binance': E_UNKNOWN_PROGRAM.", "settle", settle([trade()], program="binance"), "E_UNKNOWN_PROGRAM", "program")
case("program-unknown-id-estimate", "estimate with program 'binance': E_UNKNOWN_PROGRAM.", "estimate", {"program": "binance", "scenario": {"volume": "1", "fees": "1"}}, "E_UNKNOWN_PROGRAM", "program")
case("program-unknown-id-explain", "explain with program 'binance': E_UNKNOWN_PROGRAM.", "explain", settle([trade()], program="binance"), "E_UNKNOWN_PROGRAM", "program")
case("program-missing-estimate", "estimate without a program: E_FIELD naming program.", "estimate", {"scenario": {"volume": "1", "fees": "1"}}, "E_FIELD", "program")
case("program-rate-number", "A program level rate given as the JSON number 0.5: E_DECIMAL naming the rate, like a trade's decimal.",
     "settle", settle([trade()], program=prog(tiers__levels__0__rates__rate=0.5)), "E_DECIMAL", "program.tiers.levels[0].rates.rate")
case("program-threshold-number", "A ladder threshold given as the JSON number 0: E_DECIMAL.",
     "settle", settle([trade()], program=prog(tiers__ladders__0__steps__0__min__vol=0)), "E_DECIMAL", "program.tiers.ladders[0].steps[0].min.vol")
case("program-missing-formula", "A program without formula: E_FIELD.",
     "settle", settle([trade()], program=prog(formula=DROP)), "E_FIELD", "program")
case("program-unknown-field", "A program with an unknown top-level field 'fees': E_FIELD.",
     "settle", settle([trade()], program=prog(fees="1")), "E_FIELD", "program")
case("program-credit-delay-negative", "credit_delay_minutes -1: E_FIELD (an unsigned number).",
     "settle", settle([trade()], program=prog(settlement__credit_delay_minutes=-1)), "E_FIELD", "program")
case("program-credit-delay-huge", "credit_delay_minutes 10^12: beyond the one-year bound: E_PROGRAM naming it.",
     "settle", settle([trade()], program=prog(settlement__credit_delay_minutes=1000000000000)), "E_FIELD", "program")
case("program-utc-offset-bad", "utc_offset '+25:00': rejected when the program loads.",
     "settle", settle([trade()], program=prog(utc_offset="+25:00")), "E_PROGRAM", "utc_offset")
case("program-scale-huge", "settlement scale 40: E_PROGRAM, the scale is at most 18.",
     "settle", settle([trade()], program=prog(settlement__scale=40)), "E_PROGRAM", "settlement.scale")
case("program-rounding-unknown", "rounding 'banker': E_FIELD.",
     "settle", settle([trade()], program=prog(settlement__rounding="banker")), "E_FIELD", "program")
case("program-level-unknown-rate", "A level with a rate name not declared in tiers.rates: E_PROGRAM naming the rate, tiers.levels[0].rates.other.",
     "settle", settle([trade()], program=prog(tiers__levels__0__rates={"rate": "50%", "other": "1%"})), "E_PROGRAM", "tiers.levels[0].rates.other")
case("program-formula-unknown-name", "Formula 'fee * rat': E_EXPR at position 6 naming rat.",
     "settle", settle([trade()], program=prog(formula="fee * rat")), "E_EXPR", "formula", position=6)
case("program-formula-nested-65", "65 nested parentheses (the limit is 64): E_EXPR naming formula, at the 65th parenthesis (position 64, 0-based).",
     "settle", settle([trade()], program=prog(formula="(" * 65 + "fee" + ")" * 65)), "E_EXPR", "formula", position=64)
case("program-formula-unary-8000", "Table row: 8,000 unary minuses (over 4,096 characters): E_EXPR, no stack overflow; the length is checked before parsing, so the position is 4096, the first character past the limit (not the 65th minus).",
     "settle", settle([trade()], program=prog(formula="-" * 8000 + "fee")), "E_EXPR", "formula", position=4096)
case("program-formula-flat-sum-long", "Table row: a flat sum of 7,000 terms (27,999 characters, over 4,096): E_EXPR from settle at position 4096, the first character past the limit.",
     "settle", settle([trade()], program=prog(formula="+".join(["fee"] * 7000))), "E_EXPR", "formula", position=4096)
case("program-formula-deep-4400", "Table row: a formula nested 4,400 deep: E_EXPR, the instance survives. 2,040 parentheses each side (4,083 characters, under the length limit): the 65th parenthesis crosses the nesting limit, position 64.",
     "settle", settle([trade()], program=prog(formula="(" * 2040 + "fee" + ")" * 2040)), "E_EXPR", "formula", position=64)
case("program-formula-bool", "Formula 'fee > 1' is a comparison, not money: E_EXPR (type), at position 0, where the boolean expression starts.",
     "settle", settle([trade()], program=prog(formula="fee > 1")), "E_EXPR", "formula", position=0)
case("program-div-zero", "Formula 'fee / (rate - rate)' divides by zero for the trade (strict): E_DIV_ZERO at line 1.",
     "settle", settle([trade()], program=prog(formula="fee / (rate - rate)")), "E_DIV_ZERO", None, 1, id="t1")
case("program-estimate-bad-formula", "estimate with a program whose formula does not parse: E_EXPR at position 5, the end of the 5-character 'fee *' where a value is missing.",
     "estimate", {"program": prog(formula="fee *"), "scenario": {"volume": "1", "fees": "1"}}, "E_EXPR", "formula", position=5)
case("validate-program-flat-sum", "Table row: validate calls a 7,000-term formula invalid, not valid: problems[0] is E_EXPR at position 4096 (the first character past the length limit).",
     "validate", {"program": prog(formula="+".join(["fee"] * 7000))},
     extra=[("/ok/valid", False), ("/ok/problems/0/code", "E_EXPR"), ("/ok/problems/0/location/field", "formula"),
            ("/ok/problems/0/location/position", 4096)])
case("validate-program-rate-number", "validate: a level rate as the JSON number 0.5 is a problem (E_DECIMAL), the program is invalid.",
     "validate", {"program": prog(tiers__levels__0__rates__rate=0.5)},
     extra=[("/ok/valid", False), ("/ok/problems/0/code", "E_DECIMAL"), ("/ok/problems/0/location/field", "program.tiers.levels[0].rates.rate")])

# ---- the registry argument ----
def reg(*brokers, **kw):
    r = {"brokers": list(brokers)}
    r.update(kw)
    return r


case("registry-account-twice", "Two brokers claim account acc1: E_REGISTRY naming both, at the second claim, brokers[1].account.",
     "settle", settle([trade()], registry=reg({"code": "A", "account": "acc1"}, {"code": "B", "account": "acc1"})), "E_REGISTRY", "brokers[1].account")
case("registry-master-twice", "Table row: two independent brokers claim master m1: E_REGISTRY, not the last one silently; at the second claim, brokers[1].account.",
     "settle", settle([trade()], registry=reg({"code": "A", "account": "m1", "model": "independent"}, {"code": "B", "account": "m1", "model": "independent"})), "E_REGISTRY", "brokers[1].account")
case("registry-sub-account-twice", "Two brokers link sub-account s1: E_REGISTRY.",
     "settle", settle([trade()], registry=reg({"code": "A", "account": "m1", "model": "independent", "sub_accounts": ["s1"]}, {"code": "B", "account": "m2", "model": "independent", "sub_accounts": ["s1"]})), "E_REGISTRY")
case("registry-parent-cycle", "Parents A -> B -> A: E_REGISTRY (a cycle), naming the first broker on it in registry order, brokers[0].parent.",
     "settle", settle([trade()], program="okx", registry=reg({"code": "A", "parent": "B", "parent_share": "0.1"}, {"code": "B", "parent": "A", "parent_share": "0.1"})), "E_REGISTRY", "brokers[0].parent")
case("registry-share-number", "parent_share as the JSON number 0.1: E_DECIMAL, as in a trade.",
     "settle", settle([trade()], program="okx", registry=reg({"code": "A"}, {"code": "S", "parent": "A", "parent_share": 0.1})), "E_DECIMAL", "registry.brokers[1].parent_share")
case("registry-share-above-one", "parent_share 1.5: out of range.",
     "settle", settle([trade()], program="okx", registry=reg({"code": "A"}, {"code": "S", "parent": "A", "parent_share": "1.5"})), "E_REGISTRY", "brokers[1].parent_share")
case("registry-unknown-field", "A broker entry with an unknown field 'name': E_FIELD naming registry.",
     "settle", settle([trade()], registry=reg({"code": "A", "name": "x"})), "E_FIELD", "registry")
case("registry-model-unknown", "model 'desk': E_FIELD naming registry.",
     "settle", settle([trade()], registry=reg({"code": "A", "model": "desk"})), "E_FIELD", "registry")
case("registry-not-object", "registry is an array: E_FIELD naming registry.",
     "settle", settle([trade()], registry=[1]), "E_FIELD", "registry")
case("registry-code-twice", "Two entries with code A: E_REGISTRY.",
     "settle", settle([trade()], registry=reg({"code": "A"}, {"code": "A"})), "E_REGISTRY")
case("validate-registry-account-twice", "validate a registry where two brokers claim acc1: problems[0] is E_REGISTRY at the second claim, brokers[1].account.",
     "validate", {"registry": reg({"code": "A", "account": "acc1"}, {"code": "B", "account": "acc1"})},
     extra=[("/ok/valid", False), ("/ok/problems/0/code", "E_REGISTRY"), ("/ok/problems/0/location/field", "brokers[1].account")])

# ---- the scenario argument ----
def est(scenario, program="xt"):
    return {"program": program, "scenario": scenario}


case("scenario-volume-number", "Scenario volume as the JSON number 1000000: E_DECIMAL naming the field, as in a trade.",
     "estimate", est({"volume": 1000000, "fees": "1"}), "E_DECIMAL", "scenario.volume")
case("scenario-fees-number", "Scenario fees as the JSON number 0.5: E_DECIMAL.",
     "estimate", est({"volume": "1", "fees": 0.5}), "E_DECIMAL", "scenario.fees")
case("scenario-volume-text", "Scenario volume 'lots': E_DECIMAL.",
     "estimate", est({"volume": "lots", "fees": "1"}), "E_DECIMAL", "scenario.volume")
case("scenario-volume-negative", "Scenario volume -1: rejected.",
     "estimate", est({"volume": "-1", "fees": "1"}), "E_OPTIONS", "scenario.volume")
case("scenario-no-rate", "Scenario with neither fee_rate nor fees: E_OPTIONS.",
     "estimate", est({"volume": "1"}), "E_OPTIONS")
case("scenario-unknown-field", "Scenario with an unknown field 'clients': E_FIELD.",
     "estimate", est({"volume": "1", "fees": "1", "clients": 3}), "E_FIELD", "scenario")
case("scenario-not-object", "Scenario is a string: E_FIELD naming scenario.",
     "estimate", est("big"), "E_FIELD", "scenario")

# ---- the options argument ----
case("options-from-garbage", "options.from 'soon': E_OPTIONS naming options.from (a bad option, whatever its type).",
     "settle", settle([trade()], options={"from": "soon"}), "E_OPTIONS", "options.from")
case("options-to-2300", "options.to 2300-01-01T00:00:00Z is past 2199: E_OPTIONS naming options.to.",
     "settle", settle([trade()], options={"to": "2300-01-01T00:00:00Z"}), "E_OPTIONS", "options.to")
case("options-strict-text", "options.strict 'yes': E_FIELD naming options.",
     "settle", settle([trade()], options={"strict": "yes"}), "E_FIELD", "options")
case("options-unknown-field", "options with an unknown field 'strcit': E_FIELD naming options.",
     "settle", settle([trade()], options={"strcit": True}), "E_FIELD", "options")
case("options-not-object", "options is a number: E_FIELD naming options.",
     "settle", settle([trade()], options=1), "E_FIELD", "options")
case("options-validate-strict-unknown-channel", "validate trades with strict options: an unknown channel is a problem (E_UNKNOWN_VALUE, line 1), not fatal.",
     "validate", {"trades": [trade(channel="desk")], "program": "xt", "options": {"strict": True}},
     extra=[("/ok/valid", False), ("/ok/problems/0/code", "E_UNKNOWN_VALUE"), ("/ok/problems/0/location/line", 1),
            ("/ok/problems/0/location/field", "channel")])
case("validate-trades-csv", "validate a CSV trade log: line 3's notional 'abc' is a problem E_DECIMAL at line 3.",
     "validate", {"program": "xt", "format": "csv", "trades": csv([ROW, "t2,2026-06-01T10:00:00Z,c1,B1,api,spot,abc,1"])},
     extra=[("/ok/valid", False), ("/ok/problems/0/code", "E_DECIMAL"), ("/ok/problems/0/location/line", 3),
            ("/ok/problems/0/location/field", "notional"), ("/ok/problems/0/location/id", "t2")])
# an unknown function name: error-options-unknown-function.json (the corpus allows one, "nope")

if __name__ == "__main__":
    names = set()
    for c in cases:
        assert c["name"] not in names, c["name"]
        names.add(c["name"])
        path = os.path.join(OUT, c["name"] + ".json")
        if os.path.exists(path):
            old = json.load(open(path))
            if old.get("input") == c["input"] and old.get("checks") == c["checks"] and old.get("call") == c["call"]:
                continue
        with open(path, "w") as f:
            json.dump(c, f, indent=2, ensure_ascii=False)
            f.write("\n")
    print(len(cases), "matrix vectors", file=sys.stderr)
