//! Partial states: split, serialized, read back and merged in any order, they finish into the
//! bytes of one settlement; a state of another program, or an altered one, is refused.

use broker_rules::{program, ErrorCode, SettleOptions, Settler, Trade};

fn trades() -> Vec<Trade> {
    // Backpack, June 2026: B1 reaches BKR 2 (10,000,000); three clients with affiliate rates
    // 0 / 0.10 / 0.25 earn 2,000 x 35% + 2,400 x 35% + 600 x 25% = 700 + 840 + 150 = 1,690.
    serde_json::from_str(
        r#"[
      {"id": "a", "time": "2026-06-02T10:00:00Z", "account": "c1", "broker": "B1", "channel": "api",
       "product": "spot", "notional": "4000000", "fee": "2000"},
      {"id": "b", "time": "2026-06-12T10:00:00Z", "account": "c2", "broker": "B1", "channel": "api",
       "product": "futures", "notional": "4000000", "fee": "2400", "affiliate_rate": "0.10"},
      {"id": "c", "time": "2026-06-22T10:00:00Z", "account": "c3", "broker": "B1", "channel": "api",
       "product": "spot", "notional": "2000000", "fee": "600", "affiliate_rate": "0.25"},
      {"id": "d", "time": "2026-06-23T10:00:00Z", "account": "c3", "broker": "B1", "channel": "web",
       "product": "spot", "notional": "500", "fee": "1"},
      {"id": "e", "time": "2026-06-24T10:00:00Z", "account": "c4", "channel": "api",
       "product": "spot", "notional": "100", "fee": "0.1"}
    ]"#,
    )
    .unwrap()
}

fn settle_part(ts: &[Trade]) -> Settler {
    let mut s = Settler::new(
        &program("backpack").unwrap(),
        None,
        &SettleOptions::default(),
    )
    .unwrap();
    assert!(s.is_batch());
    for (i, t) in ts.iter().enumerate() {
        s.push(&t.as_ref().unwrap(), Some(i as u64 + 1)).unwrap();
    }
    s
}

#[test]
fn split_serialized_merged_in_any_order_gives_the_same_bytes() {
    let all = trades();
    let one = serde_json::to_string(&settle_part(&all).finish().unwrap()).unwrap();
    assert!(one.contains(r#""commission":"1690.00""#), "{one}");
    for split in 0..=all.len() {
        let (a, b) = all.split_at(split);
        for reversed in [false, true] {
            let parts = [
                settle_part(a).to_bytes().unwrap(),
                settle_part(b).to_bytes().unwrap(),
            ];
            let mut base = settle_part(&[]);
            let order: Vec<&Vec<u8>> = if reversed {
                parts.iter().rev().collect()
            } else {
                parts.iter().collect()
            };
            for bytes in order {
                let s = base.from_bytes(bytes).unwrap();
                base.merge(s).unwrap();
            }
            let merged = serde_json::to_string(&base.finish().unwrap()).unwrap();
            assert_eq!(merged, one, "split at {split}, reversed {reversed}");
        }
    }
}

#[test]
fn serialization_round_trips_canonically() {
    let all = trades();
    let bytes = settle_part(&all).to_bytes().unwrap();
    let back = settle_part(&[]).from_bytes(&bytes).unwrap();
    assert_eq!(back.to_bytes().unwrap(), bytes);
    // Input order does not change the bytes.
    let mut rev = all.clone();
    rev.reverse();
    assert_eq!(settle_part(&rev).to_bytes().unwrap(), bytes);
}

#[test]
fn states_of_another_program_or_altered_bytes_are_refused() {
    let bytes = settle_part(&trades()).to_bytes().unwrap();
    let xt = Settler::new(&program("xt").unwrap(), None, &SettleOptions::default()).unwrap();
    let e = xt.from_bytes(&bytes).unwrap_err();
    assert_eq!(e.code, ErrorCode::Partial);
    assert!(e.message.contains("another program"), "{}", e.message);
    let base = settle_part(&[]);
    for cut in [0, 3, 5, bytes.len() / 2, bytes.len() - 1] {
        assert_eq!(
            base.from_bytes(&bytes[..cut]).unwrap_err().code,
            ErrorCode::Partial,
            "cut {cut}"
        );
    }
    for i in (0..bytes.len()).step_by(7) {
        let mut flipped = bytes.clone();
        flipped[i] ^= 0x10;
        assert_eq!(
            base.from_bytes(&flipped).unwrap_err().code,
            ErrorCode::Partial,
            "byte {i}"
        );
    }
    let mut a = settle_part(&trades());
    let e = a.merge(xt).unwrap_err();
    assert_eq!(e.code, ErrorCode::Partial);
}

#[test]
fn an_id_in_two_states_is_refused_at_merge() {
    let all = trades();
    let mut a = settle_part(&all[..2]);
    let b = settle_part(&all[1..]);
    let b = a.from_bytes(&b.to_bytes().unwrap()).unwrap();
    assert_eq!(a.merge(b).unwrap_err().code, ErrorCode::DuplicateId);
}

#[test]
fn forks_share_ids_so_a_duplicate_across_threads_counts_once() {
    let all = trades();
    let mut a = settle_part(&all);
    let mut f = a.fork().unwrap();
    f.push(&all[0].as_ref().unwrap(), Some(9)).unwrap();
    a.merge(f).unwrap();
    let st = a.finish().unwrap();
    assert_eq!(st.summary.duplicates, 1);
    assert_eq!(st.summary.commission, "1690.00");
}

mod properties {
    use super::*;
    use proptest::prelude::*;

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(64))]
        /// Any assignment of trades to states, serialized and merged in any order, finishes
        /// into the bytes of one settlement (trades with one id stay in one state).
        #[test]
        fn any_partition_and_merge_order_gives_the_same_bytes(
            assign in proptest::collection::vec(0usize..4, 5),
            order in Just(vec![0usize, 1, 2, 3]).prop_shuffle(),
        ) {
            let all = trades();
            let one = serde_json::to_string(&settle_part(&all).finish().unwrap()).unwrap();
            let mut parts: Vec<Vec<Trade>> = vec![Vec::new(); 4];
            for (t, &k) in all.iter().zip(&assign) {
                parts[k].push(t.clone());
            }
            let bytes: Vec<Vec<u8>> = parts.iter().map(|p| settle_part(p).to_bytes().unwrap()).collect();
            let mut base = settle_part(&[]);
            for &i in &order {
                let s = base.from_bytes(&bytes[i]).unwrap();
                base.merge(s).unwrap();
            }
            prop_assert_eq!(serde_json::to_string(&base.finish().unwrap()).unwrap(), one);
        }
    }
}

#[test]
fn a_refused_merge_changes_nothing_and_shared_states_take_serialized_ones() {
    let all = trades();
    let mut a = settle_part(&all[..3]);
    let before = serde_json::to_string(&a.clone().finish().unwrap()).unwrap();
    let overlapping = a
        .from_bytes(&settle_part(&all[2..]).to_bytes().unwrap())
        .unwrap();
    assert_eq!(
        a.merge(overlapping).unwrap_err().code,
        ErrorCode::DuplicateId
    );
    assert_eq!(
        serde_json::to_string(&a.clone().finish().unwrap()).unwrap(),
        before
    );
    // A settler whose ids are shared with a fork (a multi-threaded read) still takes a
    // serialized state of other trades.
    let mut f = a.fork().unwrap();
    f.push(&all[3].as_ref().unwrap(), Some(4)).unwrap();
    a.merge(f).unwrap();
    let rest = a
        .from_bytes(&settle_part(&all[4..]).to_bytes().unwrap())
        .unwrap();
    a.merge(rest).unwrap();
    let one = serde_json::to_string(&settle_part(&all).finish().unwrap()).unwrap();
    assert_eq!(serde_json::to_string(&a.finish().unwrap()).unwrap(), one);
}
