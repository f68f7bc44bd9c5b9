//! Input hardening: duplicate JSON keys are errors wherever the engine reads JSON.

use broker_rules::{program, SettleOptions, Settler};

#[test]
fn duplicate_json_keys_are_errors_in_every_document() {
    let trade = r#"{"id": "a", "time": "2026-06-10T00:00:00Z", "account": "c1", "broker": "B1",
        "channel": "api", "product": "spot", "notional": "4000000", "fee": "2000", "fee": "999999"}"#;
    let out = broker_rules::api::call(
        "settle",
        &format!(r#"{{"program": "backpack", "trades": [{trade}]}}"#),
    );
    assert!(
        out.starts_with(r#"{"error":{"code":"E_FIELD","message":"request: duplicate key \"fee\""#),
        "{out}"
    );
    assert!(out.contains(r#""location":{"line":2"#), "{out}");
    // A spliced second "program" no longer replaces the first.
    let out = broker_rules::api::call(
        "settle",
        r#"{"program": "backpack", "trades": [], "program": "xt"}"#,
    );
    assert!(out.contains("duplicate key \\\"program\\\""), "{out}");
    // NDJSON: the line is rejected with its number; the rest settles.
    let mut s = Settler::new(
        &program("backpack").unwrap(),
        None,
        &SettleOptions::default(),
    )
    .unwrap();
    let text = format!(
        "{}\n{}\n",
        trade.replace('\n', " "),
        r#"{"id": "b", "time": "2026-06-10T00:00:00Z", "account": "c1", "broker": "B1", "channel": "api", "product": "spot", "notional": "1000", "fee": "1"}"#
    );
    broker_rules::read::feed(
        &mut s,
        text.as_bytes(),
        broker_rules::read::Format::Ndjson,
        &mut |_, _| {},
    )
    .unwrap();
    let st = s.finish().unwrap();
    assert_eq!((st.summary.trades, st.rejected.len()), (1, 1));
    assert_eq!(st.rejected[0].line, Some(1));
    assert!(
        st.rejected[0].message.contains("duplicate key \"fee\""),
        "{}",
        st.rejected[0].message
    );
    // Programs and registries too.
    let e = broker_rules::Registry::from_json(r#"{"brokers": [], "brokers": []}"#).unwrap_err();
    assert!(e.message.contains("duplicate"), "{}", e.message);
}
