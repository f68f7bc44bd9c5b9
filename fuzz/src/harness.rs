//! Fuzz harness functions: one per cargo-fuzz target, each taking the raw input bytes.
//!
//! They call only the public API of `broker-rules`, and besides "no panic" they assert
//! invariants that are cheap to check: every envelope is JSON with exactly one of `ok` /
//! `error`; no input yields `E_INTERNAL` (that code means a bug); `validate` and load agree;
//! a program's canonical JSON loads to the same hash; the per-trade engine, the batch engine,
//! partitioned partial states (serialized, read back and merged) and reordered input all give
//! the same statement bytes; a partial state read from bytes re-encodes canonically.
//!
//! This file is compiled twice: by the fuzz crate (`fuzz/`, libFuzzer) and by
//! `rules/tests/fuzz_corpus.rs`, which replays the committed corpus in `cargo test`.

use broker_rules::api::{self, Path};
use broker_rules::formula::{Expr, Scope, Ty, Vars};
use broker_rules::read::{self, Format};
use broker_rules::settle::EngineChoice;
use broker_rules::{Program, ProgramSpec, Registry, SettleOptions, Settler};
use rust_decimal::Decimal;
use serde_json::{json, Map, Value};

/// A harness function: the input bytes of one run.
pub type Harness = fn(&[u8]);

/// Every target, by name (the directory name under `fuzz/corpus/`).
pub const TARGETS: [(&str, Harness); 9] = [
    ("program_json", program_json),
    ("formula", formula),
    ("trades_csv", trades_csv),
    ("trades_ndjson", trades_ndjson),
    ("trades_json", trades_json),
    ("registry_json", registry_json),
    ("settle_request", settle_request),
    ("settle_generated", settle_generated),
    ("partial_state", partial_state),
];

const BUILTINS: [&str; 3] = ["backpack", "xt", "okx"];

/// Parses an envelope and checks its shape; returns it.
fn envelope(function: &str, out: &str) -> Value {
    let v: Value = serde_json::from_str(out)
        .unwrap_or_else(|e| panic!("{function}: the envelope is not JSON ({e}): {out}"));
    let obj = v
        .as_object()
        .unwrap_or_else(|| panic!("{function}: the envelope is not an object: {out}"));
    assert!(
        obj.len() == 1 && (obj.contains_key("ok") || obj.contains_key("error")),
        "{function}: the envelope has not exactly one of ok / error: {out}"
    );
    if let Some(e) = obj.get("error") {
        assert!(
            e["code"].is_string() && e["message"].is_string(),
            "{function}: an error without code or message: {out}"
        );
        assert_ne!(e["code"], "E_INTERNAL", "{function}: internal error: {out}");
    }
    v
}

fn is_ok(v: &Value) -> bool {
    v.get("ok").is_some()
}

fn text(data: &[u8]) -> Option<&str> {
    core::str::from_utf8(data).ok()
}

/// A program file: `validate` and load agree, and a loaded program's canonical JSON loads
/// again to the same hash.
pub fn program_json(data: &[u8]) {
    let Some(s) = text(data) else { return };
    let problems = broker_rules::validate_program(s);
    for e in &problems {
        assert_ne!(e.code, broker_rules::ErrorCode::Internal, "{e:?}");
    }
    let loaded = Program::from_json(s);
    assert_eq!(
        problems.is_empty(),
        loaded.is_ok(),
        "validate_program and Program::from_json disagree: {problems:?} vs {:?}",
        loaded.as_ref().err()
    );
    if let Ok(p) = loaded {
        let again = Program::from_json(&p.to_json())
            .unwrap_or_else(|e| panic!("canonical JSON does not load: {e:?}\n{}", p.to_json()));
        assert_eq!(
            again.sha256(),
            p.sha256(),
            "the hash changes on a round trip"
        );
        assert_eq!(again.to_json(), p.to_json());
        // The same program through the JSON API: validate says valid, an empty settle works.
        let v = json!({"program": serde_json::from_str::<Value>(&p.to_json()).unwrap()});
        let out = envelope("validate", &api::call("validate", &v.to_string()));
        assert_eq!(out["ok"]["valid"], true, "{out}");
        let out = envelope("settle", &api::call("settle", &v.to_string()));
        assert!(
            is_ok(&out),
            "an empty settle of a valid program fails: {out}"
        );
    }
    // The request form: whatever the text, the envelope is well formed.
    let req = format!("{{\"program\": {s}}}");
    envelope("validate", &api::call("validate", &req));
}

/// Formula text: parse and check as a number and a predicate, evaluate with a few trades.
pub fn formula(data: &[u8]) {
    let Some(src) = text(data) else { return };
    let scopes = [
        Scope {
            tier: true,
            rate_names: vec!["rate".into(), "bound_rate".into()],
        },
        Scope::default(),
    ];
    let rates = [Decimal::new(4, 1), Decimal::new(5, 2)];
    let vars = [
        vars(
            Decimal::new(25_000_000, 0),
            Decimal::new(2000, 0),
            None,
            &rates,
        ),
        vars(Decimal::ZERO, Decimal::new(-3, 0), None, &rates),
        vars(Decimal::MAX, Decimal::MAX, Some(Decimal::new(1, 28)), &[]),
        vars(
            Decimal::new(1, 28),
            Decimal::MIN,
            Some(Decimal::MAX),
            &rates,
        ),
    ];
    for scope in &scopes {
        for want in [Ty::Num, Ty::Bool] {
            let Ok(e) = Expr::compile(src, scope, want) else {
                continue;
            };
            assert_eq!(e.ty(), want);
            let again = Expr::compile(e.source(), scope, want).expect("the source compiles again");
            assert_eq!(again, e);
            for v in &vars {
                let r = match want {
                    Ty::Num => e.eval_num(v).map(|_| ()),
                    _ => e.eval_bool(v).map(|_| ()),
                };
                if let Err(err) = r {
                    assert_ne!(
                        err.code,
                        broker_rules::ErrorCode::Internal,
                        "{src:?}: {err:?}"
                    );
                }
            }
        }
    }
}

fn vars<'a>(
    notional: Decimal,
    fee: Decimal,
    fee_rate: Option<Decimal>,
    rates: &'a [Decimal],
) -> Vars<'a> {
    Vars {
        notional,
        fee,
        fee_rate,
        vip: Decimal::new(6, 0),
        affiliate_rate: Decimal::new(3, 1),
        channel: "api",
        product: "spot",
        liquidity: "maker",
        account: "c1",
        broker: "B1",
        master: "",
        attribution: "broker_code",
        fee_discount: false,
        msa: false,
        tier_level: rates.len() as u32,
        tier: "VIP 1",
        rates,
    }
}

/// The program and options a reader target settles under, drawn from the input's length so
/// the file itself stays a plain trade log.
fn reader_setup(data: &[u8]) -> (Program, SettleOptions) {
    let p = broker_rules::program(BUILTINS[data.len() % 3]).unwrap();
    let options = SettleOptions {
        strict: data.len() / 3 % 2 == 1,
        lines: data.len() / 6 % 2 == 1,
        ..SettleOptions::default()
    };
    (p, options)
}

/// Reads `data` in `format` with both engines; the envelopes must be equal bytes.
fn trades_in(format: Format, data: &[u8]) {
    let (p, options) = reader_setup(data);
    let run = |engine: EngineChoice| {
        let r = Settler::with_engine(&p, None, &options, engine).and_then(|mut s| {
            read::feed(&mut s, data, format, &mut |_, _| {})?;
            s.finish()
        });
        api::envelope(r)
    };
    let auto = run(EngineChoice::Auto);
    let v = envelope("read", &auto);
    let per_trade = run(EngineChoice::PerTrade);
    assert_eq!(
        auto, per_trade,
        "batch and per-trade engines disagree on {format:?} input"
    );
    if let Some(ok) = v.get("ok") {
        let n = ok["summary"]["rejected"].as_u64().unwrap();
        assert_eq!(n as usize, ok["rejected"].as_array().unwrap().len());
    }
}

/// CSV trade logs.
pub fn trades_csv(data: &[u8]) {
    trades_in(Format::Csv, data);
}

/// NDJSON trade logs.
pub fn trades_ndjson(data: &[u8]) {
    trades_in(Format::Ndjson, data);
}

/// JSON-array trade logs; also the same text as the `trades` of an API request.
pub fn trades_json(data: &[u8]) {
    trades_in(Format::Json, data);
    if let Some(s) = text(data) {
        let req = format!("{{\"program\": \"xt\", \"trades\": {s}}}");
        envelope("settle", &api::call("settle", &req));
    }
}

/// Registry JSON: `problems` and `resolve` agree; a consistent registry settles a few
/// trades on every built-in program with equal bytes from both engines.
pub fn registry_json(data: &[u8]) {
    let Some(s) = text(data) else { return };
    let req = format!("{{\"registry\": {s}}}");
    envelope("validate", &api::call("validate", &req));
    let Ok(r) = Registry::from_json(s) else {
        return;
    };
    let problems = r.problems();
    assert_eq!(problems.is_empty(), r.resolve().is_ok());
    if !problems.is_empty() {
        return;
    }
    let trades = json!([
        {"id": "a", "time": "2026-06-10T13:45:00Z", "account": "c1", "broker": "B1",
         "channel": "api", "product": "spot", "notional": "25000000", "fee": "2000"},
        {"id": "b", "time": "2026-06-11T01:00:00Z", "account": "sub1", "broker": null,
         "channel": "web", "product": "futures", "notional": "1000", "fee": "1"},
        {"id": "c", "time": "2026-05-11T01:00:00Z", "account": "M1", "broker": "B2",
         "channel": "oauth", "product": "swap", "notional": "1000", "fee": "-1",
         "affiliate_rate": "0.1", "master": "M1"},
    ]);
    for (i, id) in BUILTINS.iter().enumerate() {
        let registry: Value = serde_json::from_str(s).unwrap();
        let req = json!({"program": id, "trades": trades, "registry": registry,
                         "options": {"lines": i == 0}})
        .to_string();
        check_settle(&req);
    }
}

/// A request to settle is settled by every path: same bytes.
fn check_settle(req: &str) -> Value {
    let out = api::call("settle", req);
    let v = envelope("settle", &out);
    let per_trade = api::settle_with(req, Path::PerTrade);
    assert_eq!(out, per_trade, "the per-trade engine differs");
    for (parts, seed) in [(2, 7), (3, 0x9e37_79b9_7f4a_7c15)] {
        let part = api::settle_with(req, Path::Partitioned { parts, seed });
        assert_eq!(
            out, part,
            "partitioned into {parts} states, merged, it differs"
        );
    }
    v
}

/// A request to one entry point, as text: `<function>\n<request JSON>`.
pub fn settle_request(data: &[u8]) {
    let Some(s) = text(data) else { return };
    let (function, req) = s.split_once('\n').unwrap_or(("settle", s));
    let out = api::call(function, req);
    envelope(function, &out);
    if function == "settle" {
        check_settle(req);
        check_reordered(req);
    }
}

/// Settling the trades in reverse order gives the same statement (rejected trades keep
/// their own line numbers, so those are compared as a set without lines).
fn check_reordered(req: &str) {
    // The engine's own reader (duplicate keys refused): serde_json's keeps the last of two
    // equal keys, and the re-serialized request would be another request.
    let Ok(Value::Object(mut m)) = broker_rules::json::parse(req) else {
        return;
    };
    let Some(Value::Array(trades)) = m.get_mut("trades") else {
        return;
    };
    trades.reverse();
    let strict = m
        .get("options")
        .and_then(|o| o.get("strict"))
        .and_then(Value::as_bool)
        == Some(true);
    let reversed = Value::Object(m).to_string();
    let a = envelope("settle", &api::call("settle", req));
    let b = envelope("settle", &api::call("settle", &reversed));
    assert_eq!(
        is_ok(&a),
        is_ok(&b),
        "reordering changes success: {a} vs {b}"
    );
    if strict {
        return; // the first bad trade in input order is the error
    }
    match (a.get("ok"), b.get("ok")) {
        (Some(x), Some(y)) => assert_eq!(
            unordered(x),
            unordered(y),
            "reordering the trades changes the statement"
        ),
        _ => assert_eq!(a["error"]["code"], b["error"]["code"], "{a} vs {b}"),
    }
}

fn unordered(statement: &Value) -> Value {
    let mut s = statement.clone();
    if let Some(Value::Array(r)) = s.get_mut("rejected") {
        for x in r.iter_mut() {
            x.as_object_mut().unwrap().remove("line");
        }
        r.sort_by_key(|x| x.to_string());
    }
    s
}

/// Reads choices from the input; past its end every choice is the first.
struct Choices<'a>(&'a [u8]);

impl Choices<'_> {
    fn byte(&mut self) -> u8 {
        match self.0.split_first() {
            Some((b, rest)) => {
                self.0 = rest;
                *b
            }
            None => 0,
        }
    }
    fn pick<T: Clone>(&mut self, xs: &[T]) -> T {
        xs[self.byte() as usize % xs.len()].clone()
    }
    fn flag(&mut self) -> bool {
        self.byte() & 1 == 1
    }
}

const TIMES: [&str; 16] = [
    "2026-06-10T13:45:00Z",
    "2026-06-01T00:00:00Z",
    "2026-05-31T23:59:59.999999999Z",
    "2026-06-30T16:00:00Z",
    "2026-07-01T00:00:00Z",
    "2026-05-15T08:00:00Z",
    "2026-06-10T13:45:00.5Z",
    "2026-04-30T23:00:00Z",
    "1970-01-01T00:00:00Z",
    "2199-12-31T23:59:59Z",
    "2262-04-11T23:47:16Z",
    "1677-09-21T00:12:44Z",
    "2026-06-10T13:45:00+08:00",
    "2026-02-28T23:59:59Z",
    "2024-02-29T12:00:00Z",
    "yesterday",
];
const DECIMALS: [&str; 16] = [
    "0",
    "1",
    "0.01",
    "2000",
    "25000000",
    "10000000",
    "99999999.99999999999999999999",
    "0.000000000000000000009",
    "79228162514264337593543950335",
    "-3",
    "1.000000000000000000000000000000",
    "0.00000001",
    "1000.00000000500000000000000001",
    "-79228162514264337593543950335",
    "0.005",
    "1e3",
];

fn decimal(c: &mut Choices<'_>) -> Value {
    match c.byte() % 8 {
        0 => json!(1.5),
        1 => json!(7),
        _ => json!(c.pick(&DECIMALS)),
    }
}

fn trade(c: &mut Choices<'_>) -> Value {
    let mut t = Map::new();
    t.insert("id".into(), json!(format!("t{}", c.byte() % 12)));
    t.insert("time".into(), json!(c.pick(&TIMES)));
    t.insert(
        "account".into(),
        json!(c.pick(&["c1", "c2", "c3", "sub1", "M1"])),
    );
    t.insert(
        "broker".into(),
        c.pick(&[
            json!(null),
            json!("B1"),
            json!("B2"),
            json!("P1"),
            json!(" B1"),
            json!(""),
        ]),
    );
    t.insert(
        "channel".into(),
        json!(c.pick(&["api", "api", "oauth", "web", "app", "API"])),
    );
    t.insert(
        "product".into(),
        json!(c.pick(&["spot", "futures", "margin", "swap", "options", "x"])),
    );
    let flags = c.byte();
    t.insert("notional".into(), decimal(c));
    if flags & 1 == 0 {
        t.insert("fee".into(), decimal(c));
    }
    if flags & 2 != 0 {
        t.insert(
            "fee_rate".into(),
            c.pick(&[
                json!("0.0002"),
                json!("1"),
                json!("-0.0001"),
                json!("0.3333333333333333333333333333"),
            ]),
        );
    }
    if flags & 4 != 0 {
        t.insert(
            "vip".into(),
            c.pick(&[json!(5), json!(6), json!(7), json!(-1), json!("6")]),
        );
    }
    if flags & 8 != 0 {
        t.insert("fee_discount".into(), json!(c.flag()));
    }
    if flags & 16 != 0 {
        t.insert(
            "affiliate_rate".into(),
            json!(c.pick(&["0", "0.1", "0.3", "0.5", "1", "1.5"])),
        );
    }
    if flags & 32 != 0 {
        t.insert("master".into(), json!(c.pick(&["M1", "M2"])));
    }
    if flags & 64 != 0 {
        t.insert(
            "liquidity".into(),
            json!(c.pick(&["maker", "taker", "both"])),
        );
    }
    if flags & 128 != 0 {
        t.insert("order".into(), json!("o1"));
    }
    Value::Object(t)
}

const FORMULAS: [&str; 11] = [
    "fee * tier_rate * 0.5",
    "tier_rate * notional * 0.001",
    "2 * fee * tier_rate",
    "fee * tier_rate",
    "notional * fee_rate * min(tier_rate, max(0, 50% - affiliate_rate))",
    "if(affiliate_rate > 0, fee * 5%, fee * tier_rate)",
    "notional * 0.0001",
    "fee * tier_rate - 1",
    "fee / notional * tier_rate",
    "fee * tier_rate / 3",
    "max(fee, 0) * tier_rate",
];

/// A program: a built-in, with some knobs turned.
fn program(c: &mut Choices<'_>) -> Value {
    let id = c.pick(&BUILTINS);
    let knobs = c.byte();
    if knobs == 0 {
        return json!(id);
    }
    let spec: &ProgramSpec = &broker_rules::program(id).unwrap().spec().clone();
    let mut p = serde_json::to_value(spec).unwrap();
    if knobs & 1 != 0 {
        let s = &mut p["settlement"];
        s["period"] = json!(c.pick(&["hour", "day", "month"]));
        s["credit_delay_minutes"] = json!(c.pick(&[0u32, 60, 540, 44_640, 4_294_967_295]));
        s["scale"] = json!(c.pick(&[0u32, 2, 8, 28, 29]));
        s["rounding"] = json!(c.pick(&["half_even", "half_up", "down"]));
    }
    if knobs & 2 != 0 {
        p["utc_offset"] = json!(c.pick(&["+00:00", "+08:00", "-05:30", "+14:00", "-12:00"]));
    }
    if knobs & 4 != 0 {
        p["tiers"]["mode"] = json!(c.pick(&["volume", "graduated"]));
        p["tiers"]["basis"] = json!(c.pick(&["attributed", "eligible"]));
    }
    if knobs & 8 != 0 {
        p["tiers"]["window"] = c.pick(&[
            json!({"kind": "rolling_days", "days": 30, "include_current_day": true}),
            json!({"kind": "rolling_days", "days": 1, "include_current_day": false}),
            json!({"kind": "rolling_days", "days": 0, "include_current_day": true}),
            json!({"kind": "rolling_days", "days": 100000, "include_current_day": false}),
            json!({"kind": "calendar_month", "month": "same"}),
            json!({"kind": "calendar_month", "month": "previous"}),
        ]);
    }
    if knobs & 16 != 0 {
        p["formula"] = json!(c.pick(&FORMULAS));
        p["negative_fees"] = json!(c.pick(&["floor", "net"]));
    }
    if knobs & 32 != 0 {
        p["caps"] = c.pick(&[
            json!([{"scope": "client_month", "amount": "100"}]),
            json!([{"scope": "broker_period", "amount": "0.01"}]),
            json!([{"scope": "client_month", "amount": "5", "when": "vip >= 5"}]),
        ]);
    }
    if knobs & 128 != 0 {
        // Rates that make commissions long or inexact (12.5%: 3 digits; 1/3 to 28 digits).
        let rate = c.pick(&["0.125", "0.3333333333333333333333333333", "1", "0", "100"]);
        let levels = p["tiers"]["levels"].as_array_mut().unwrap();
        let i = c.byte() as usize % levels.len();
        let rates = levels[i]["rates"].as_object_mut().unwrap();
        for v in rates.values_mut() {
            *v = json!(rate);
        }
    }
    if knobs & 64 != 0 {
        p["sub_broker_share"] = json!(c.flag());
        p["broker_affiliate_exclusive"] = json!(c.flag());
    }
    p
}

fn registry(c: &mut Choices<'_>) -> Value {
    let mut brokers = Vec::new();
    for code in ["B1", "B2", "P1"] {
        if !c.flag() {
            continue;
        }
        let mut b = Map::new();
        b.insert("code".into(), json!(code));
        b.insert(
            "model".into(),
            json!(c.pick(&["api", "oauth", "independent"])),
        );
        let f = c.byte();
        if f & 1 != 0 {
            b.insert("account".into(), json!(c.pick(&["M1", "c1", "B1acct"])));
        }
        if f & 2 != 0 {
            b.insert(
                "sub_accounts".into(),
                json!(["sub1", c.pick(&["c2", "c3"])]),
            );
        }
        if f & 4 != 0 && code != "P1" {
            b.insert("parent".into(), json!("P1"));
            b.insert("parent_share".into(), json!(c.pick(&["0.1", "0.5", "1"])));
        }
        brokers.push(Value::Object(b));
    }
    let affiliates = if c.flag() { json!(["c1"]) } else { json!([]) };
    json!({"brokers": brokers, "affiliates": affiliates})
}

/// Settle on a generated program (a built-in with knobs turned), registry, options and up
/// to 24 trades drawn from edge values (range ends, 28-digit decimals, duplicates with equal
/// and different content, floats, padded codes); every path and reordering must agree.
pub fn settle_generated(data: &[u8]) {
    let mut c = Choices(data);
    let mut req = Map::new();
    req.insert("program".into(), program(&mut c));
    let f = c.byte();
    if f & 1 != 0 {
        req.insert("registry".into(), registry(&mut c));
    }
    let mut options = Map::new();
    if f & 2 != 0 {
        options.insert(
            "from".into(),
            json!(c.pick(&[
                "2026-06-01",
                "2026-06-10T13:45:00Z",
                "2026-06-01T00:00:00+08:00"
            ])),
        );
    }
    if f & 4 != 0 {
        options.insert(
            "to".into(),
            json!(c.pick(&["2026-07-01", "2026-06-10T14:00:00Z", "2026-05-01"])),
        );
    }
    options.insert("lines".into(), json!(f & 8 != 0));
    options.insert("strict".into(), json!(f & 16 != 0));
    req.insert("options".into(), Value::Object(options));
    let n = c.byte() % 25;
    let mut trades: Vec<Value> = Vec::new();
    for _ in 0..n {
        let t = match c.byte() % 8 {
            0 if !trades.is_empty() => {
                let i = c.byte() as usize % trades.len();
                trades[i].clone()
            }
            _ => trade(&mut c),
        };
        trades.push(t);
    }
    req.insert("trades".into(), Value::Array(trades));
    let req = Value::Object(req).to_string();
    if std::env::var_os("FUZZ_PRINT").is_some() {
        eprintln!("{req}"); // the request an input stands for (docs/fuzzing.md)
    }
    check_settle(&req);
    check_reordered(&req);
    envelope("explain", &api::call("explain", &req));
}

/// Partial-state bytes (first byte: the program): reading never panics; a state read back
/// re-encodes to the same bytes and finishes to the same statement.
pub fn partial_state(data: &[u8]) {
    let Some((&which, bytes)) = data.split_first() else {
        return;
    };
    let p = broker_rules::program(BUILTINS[which as usize % 3]).unwrap();
    let options = SettleOptions::default();
    let base = Settler::new(&p, None, &options).unwrap();
    if !base.is_batch() {
        return;
    }
    let Ok(state) = base.from_bytes(bytes) else {
        return;
    };
    let again = state.to_bytes().expect("a batch state encodes");
    let reread = base
        .from_bytes(&again)
        .unwrap_or_else(|e| panic!("a re-encoded state does not read back: {e:?}"));
    assert_eq!(
        reread.to_bytes().unwrap(),
        again,
        "encoding is not canonical"
    );
    let a = api::envelope(state.clone().finish());
    let b = api::envelope(reread.finish());
    envelope("finish", &a);
    assert_eq!(a, b, "a state and its re-encoding finish differently");
    let mut merged = base.clone();
    let r = merged.merge(state.clone()).and_then(|_| merged.finish());
    envelope("merge", &api::envelope(r));
    // Merging the state with itself: its ids meet twice, identical content.
    let mut twice = state.clone();
    let r = twice.merge(state).and_then(|_| twice.finish());
    envelope("merge", &api::envelope(r));
}
