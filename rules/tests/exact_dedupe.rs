//! De-duplication is exact (issue 11 item 4): two different trades with one id are
//! `E_DUPLICATE_ID` in either order, on every path, even when a fast fingerprint of them
//! collides. The pair below is a real collision of the 32-bit content fingerprint used up to
//! partial-state version 3 (found by a birthday search, `engine::seen` unit tests): trade
//! `t1` with fee 480.045257 or 480.077107. That fingerprint dropped the second as an
//! "identical duplicate", so B1's commission depended on the input order (20% of the fee:
//! 96.01 or 96.02). A real collision of the 64-bit id fingerprint cannot be searched for;
//! `dedupe` unit tests give many ids one fingerprint through the key `insert` takes.

use broker_rules::columns::ColumnsBuilder;
use broker_rules::settle::EngineChoice;
use broker_rules::{program, ErrorCode, SettleOptions, Settler, Trade};

const FEES: [&str; 2] = ["480.045257", "480.077107"];

fn trade(fee: &str) -> Trade {
    serde_json::from_str(&format!(
        r#"{{"id": "t1", "time": "2026-06-05T00:00:00Z", "account": "c1", "broker": "B1",
            "channel": "api", "product": "spot", "notional": "1000000", "fee": "{fee}"}}"#
    ))
    .unwrap()
}

fn settler(engine: EngineChoice) -> Settler {
    let p = program("backpack").unwrap();
    Settler::with_engine(&p, None, &SettleOptions::default(), engine).unwrap()
}

fn orders() -> [[Trade; 2]; 2] {
    [
        [trade(FEES[0]), trade(FEES[1])],
        [trade(FEES[1]), trade(FEES[0])],
    ]
}

fn assert_duplicate_id(r: broker_rules::Result<()>, what: &str) {
    let e = r.expect_err(what);
    assert_eq!(e.code, ErrorCode::DuplicateId, "{what}: {e:?}");
    assert_eq!(e.location.id.as_deref(), Some("t1"), "{what}: {e:?}");
}

#[test]
fn row_paths_reject_the_colliding_pair_in_both_orders() {
    for engine in [EngineChoice::Auto, EngineChoice::PerTrade] {
        for pair in orders() {
            let mut s = settler(engine);
            assert_eq!(s.is_batch(), engine == EngineChoice::Auto);
            s.push(&pair[0].as_ref().unwrap(), Some(1)).unwrap();
            let r = s.push(&pair[1].as_ref().unwrap(), Some(2));
            assert_duplicate_id(r, &format!("{engine:?} {:?}", pair[0].fee));
            // The identical copy is still a duplicate, not a conflict.
            let mut s = settler(engine);
            s.push(&pair[0].as_ref().unwrap(), Some(1)).unwrap();
            s.push(&pair[0].as_ref().unwrap(), Some(2)).unwrap();
            let st = serde_json::to_value(s.finish().unwrap()).unwrap();
            assert_eq!(st["summary"]["duplicates"], 1);
            let fee = pair[0].fee.as_ref().unwrap().to_string();
            let want = if fee == FEES[0] { "96.01" } else { "96.02" };
            assert_eq!(st["brokers"][0]["commission"], want, "{st}");
        }
    }
}

#[test]
fn the_batch_path_rejects_the_colliding_pair_in_one_batch_and_across_batches() {
    for pair in orders() {
        // One batch.
        let mut b = ColumnsBuilder::default();
        for (i, t) in pair.iter().enumerate() {
            assert!(b.push(&t.as_ref().unwrap(), i as u64 + 1));
        }
        let r = settler(EngineChoice::Auto).push_columns(&b.take());
        assert_duplicate_id(r, "one batch");
        // Two batches, and a row after a batch: both paths share one exact store.
        let mut s = settler(EngineChoice::Auto);
        assert!(b.push(&pair[0].as_ref().unwrap(), 1));
        s.push_columns(&b.take()).unwrap();
        let mut again = s.clone();
        assert!(b.push(&pair[1].as_ref().unwrap(), 2));
        assert_duplicate_id(s.push_columns(&b.take()), "two batches");
        assert_duplicate_id(
            again.push(&pair[1].as_ref().unwrap(), Some(2)),
            "row after batch",
        );
    }
}

#[test]
fn a_merge_of_two_partial_states_refuses_the_colliding_pair_in_both_orders() {
    for pair in orders() {
        let part = |t: &Trade| {
            let mut s = settler(EngineChoice::Auto);
            s.push(&t.as_ref().unwrap(), Some(1)).unwrap();
            s.to_bytes().unwrap()
        };
        let (a, b) = (part(&pair[0]), part(&pair[1]));
        let mut base = settler(EngineChoice::Auto);
        let first = base.from_bytes(&a).unwrap();
        base.merge(first).unwrap();
        let second = base.from_bytes(&b).unwrap();
        let e = base.merge(second).unwrap_err();
        assert_eq!(e.code, ErrorCode::DuplicateId, "{e:?}");
        assert!(e.message.contains("\"t1\""), "{}", e.message);
        // Threads: a fork shares the exact store.
        let mut s = settler(EngineChoice::Auto);
        let mut fork = s.fork().unwrap();
        s.push(&pair[0].as_ref().unwrap(), Some(1)).unwrap();
        let r = fork.push(&pair[1].as_ref().unwrap(), Some(2));
        assert_duplicate_id(r, "fork");
    }
}

#[test]
fn an_old_partial_state_version_is_a_clear_error() {
    let mut bytes = {
        let mut s = settler(EngineChoice::Auto);
        s.push(&trade(FEES[0]).as_ref().unwrap(), Some(1)).unwrap();
        s.to_bytes().unwrap()
    };
    assert_eq!(bytes[4], 5);
    bytes[4] = 3;
    let e = settler(EngineChoice::Auto).from_bytes(&bytes).unwrap_err();
    assert_eq!(e.code, ErrorCode::Partial);
    assert_eq!(
        e.message,
        "partial state format version 3 (this engine reads version 5)"
    );
}
