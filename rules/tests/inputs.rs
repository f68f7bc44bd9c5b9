//! Input hardening: duplicate JSON keys are errors wherever the engine reads JSON.
//! A duplicate key is E_PARSE wherever it is (request, NDJSON line, JSON-array log).

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
        out.starts_with(r#"{"error":{"code":"E_PARSE","message":"request: duplicate key \"fee\""#),
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

/// One whitespace rule for every CSV cell: spaces and tabs at either end are not part of the
/// value. Once, `, B1` and `, api` settled as broker " B1" on channel " api": commission 0.
#[test]
fn padded_csv_cells_read_as_their_values() {
    let plain = "id,time,account,broker,channel,product,notional,fee,vip,fee_discount\n\
                 t1,2026-06-03T10:00:00Z,alice,B1,api,spot,4000000,2000,0,false\n";
    let padded = "id , time,account,broker,channel,product,notional,fee,vip,fee_discount\n\
                  t1 , 2026-06-03T10:00:00Z,\talice, B1, api ,\"spot \", 4000000 ,2000, 0 , false\n";
    let settle = |text: &str| {
        let mut s = Settler::new(
            &program("backpack").unwrap(),
            None,
            &SettleOptions::default(),
        )
        .unwrap();
        broker_rules::read::feed(
            &mut s,
            text.as_bytes(),
            broker_rules::read::Format::Csv,
            &mut |_, _| {},
        )
        .unwrap();
        serde_json::to_string(&s.finish().unwrap()).unwrap()
    };
    let a = settle(plain);
    assert!(a.contains(r#""commission":"400.00""#), "{a}"); // 2,000 x 20% (BKR 0)
    assert_eq!(settle(padded), a);
}
