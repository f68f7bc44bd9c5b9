//! Registry consistency: an account claimed by two brokers names both; the parent-cycle
//! check is linear (a 10,000-deep chain validates at once).

use broker_rules::{ErrorCode, Registry};
use serde_json::json;

fn problems(v: serde_json::Value) -> Vec<(String, String)> {
    let r: Registry = serde_json::from_value(v).unwrap();
    r.problems()
        .into_iter()
        .map(|e| {
            assert_eq!(e.code, ErrorCode::Registry);
            (e.location.field.unwrap_or_default(), e.message)
        })
        .collect()
}

#[test]
fn two_independent_brokers_claiming_one_master_account_name_both() {
    let p = problems(json!({"brokers": [
        {"code": "IND1", "account": "master-1", "model": "independent"},
        {"code": "IND2", "account": "master-1", "model": "independent"}
    ]}));
    assert_eq!(
        p,
        vec![(
            "brokers[1].account".to_string(),
            r#"account "master-1" is claimed by both "IND1" and "IND2""#.to_string()
        )]
    );
}

#[test]
fn a_sub_account_of_one_broker_that_is_another_brokers_account_names_both() {
    let p = problems(json!({"brokers": [
        {"code": "A", "account": "acc-a", "model": "api"},
        {"code": "X", "account": "x-master", "model": "independent", "sub_accounts": ["s1", "acc-a"]},
        {"code": "Y", "account": "y-master", "model": "independent", "sub_accounts": ["s1"]}
    ]}));
    assert_eq!(
        p,
        vec![
            (
                "brokers[1].sub_accounts".to_string(),
                r#"account "acc-a" is claimed by both "A" and "X""#.to_string()
            ),
            (
                "brokers[2].sub_accounts".to_string(),
                r#"account "s1" is claimed by both "X" and "Y""#.to_string()
            ),
        ]
    );
}

#[test]
fn parent_chains_are_checked_in_linear_time() {
    let n = 10_000;
    let brokers: Vec<_> = (0..n)
        .map(|i| {
            if i + 1 < n {
                json!({"code": format!("B{i}"), "parent": format!("B{}", i + 1), "parent_share": "0.1"})
            } else {
                json!({"code": format!("B{i}")})
            }
        })
        .collect();
    // The old check walked every chain from every broker (~50 million steps, 14 s); each
    // broker is now visited once.
    assert!(problems(json!({ "brokers": brokers })).is_empty());
    let mut cyclic = brokers.clone();
    cyclic[n - 1] = json!({"code": format!("B{}", n - 1), "parent": "B0", "parent_share": "0.1"});
    let p = problems(json!({ "brokers": cyclic }));
    assert_eq!(p.len(), n);
    assert_eq!(p[0].1, r#"the parent chain of "B0" is a cycle"#);
}
