//! The broker registry: who is enrolled, which sub-accounts belong to which independent
//! broker, who is whose parent, and which accounts are affiliates. Without a registry every
//! broker code on the trades is an enrolled API broker.

use crate::error::{Error, ErrorCode, Result};
use crate::money;
use alloc::collections::{BTreeMap, BTreeSet};
use alloc::format;
use alloc::string::String;
use alloc::vec::Vec;
use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};

#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(deny_unknown_fields)]
pub struct Registry {
    #[serde(default)]
    pub brokers: Vec<BrokerEntry>,
    /// Accounts (or codes) enrolled as affiliates.
    #[serde(default)]
    pub affiliates: Vec<String>,
    /// Facts about client accounts that decide what their trades earn: an account the
    /// exchange manages for someone else (`msa`, the formula variable of the same name), and
    /// the share of the commission passed back to the client (`kickback`, used by programs
    /// with `client_kickback`). They are properties of the account, not of one fill, so
    /// they are listed once here rather than on every trade.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub clients: Vec<ClientEntry>,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(deny_unknown_fields)]
pub struct ClientEntry {
    pub account: String,
    /// A managed sub-account (OKX's MSA): the formula variable `msa` is true for its trades.
    #[serde(default, skip_serializing_if = "core::ops::Not::not")]
    pub msa: bool,
    /// Share of the commission on this client's trades passed back to the client, in [0, 1].
    #[cfg_attr(feature = "schema", schemars(with = "Option<String>"))]
    #[serde(
        default,
        with = "crate::trade::opt_decimal",
        skip_serializing_if = "Option::is_none"
    )]
    pub kickback: Option<Decimal>,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(deny_unknown_fields)]
pub struct BrokerEntry {
    /// The code orders carry; the broker's name on statements.
    pub code: String,
    /// The broker's own (master) account.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub account: Option<String>,
    #[serde(default)]
    pub model: BrokerModel,
    /// Sub-accounts linked to this broker (independent brokers).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub sub_accounts: Vec<String>,
    /// Parent broker code (sub-broker hierarchy).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub parent: Option<String>,
    /// Share of this broker's commission that goes to its parent, in [0, 1].
    #[cfg_attr(feature = "schema", schemars(with = "Option<String>"))]
    #[serde(
        default,
        with = "crate::trade::opt_decimal",
        skip_serializing_if = "Option::is_none"
    )]
    pub parent_share: Option<Decimal>,
}

#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(rename_all = "snake_case")]
pub enum BrokerModel {
    #[default]
    Api,
    Oauth,
    Independent,
}

/// A registry checked for consistency and indexed for attribution.
#[derive(Clone, Debug, Default)]
pub struct Resolved {
    pub(crate) codes: BTreeSet<String>,
    /// Sub-account -> broker code.
    pub(crate) sub_accounts: BTreeMap<String, String>,
    /// Master account of an independent broker -> broker code.
    pub(crate) masters: BTreeMap<String, String>,
    /// Broker code -> (parent code, share).
    pub(crate) parents: BTreeMap<String, (String, Decimal)>,
    /// Broker codes whose account or code is also an affiliate.
    pub(crate) conflicted: BTreeSet<String>,
    /// Managed sub-accounts (`clients[].msa`).
    pub(crate) msa: BTreeSet<String>,
    /// Client account -> kickback share (`clients[].kickback`, non-zero only).
    pub(crate) kickbacks: BTreeMap<String, Decimal>,
}

/// Size limits of a registry (docs/limits-and-errors.md). Checking and indexing is
/// O(n log n) in its entries; the limits keep one request's registry to what an exchange's
/// broker list plausibly holds, so a runaway input is an error, not minutes of work.
pub const MAX_BROKERS: usize = 1_000_000;
pub const MAX_ACCOUNTS: usize = 10_000_000;

impl Registry {
    pub fn from_json(text: &str) -> Result<Registry> {
        let value = crate::json::parse(text).map_err(|e| Error::from_json(&e, "registry"))?;
        serde_json::from_value(value).map_err(|e| Error::from_json(&e, "registry"))
    }

    /// Every problem (empty when consistent).
    pub fn problems(&self) -> Vec<Error> {
        match self.resolve_all() {
            Ok(_) => Vec::new(),
            Err(v) => v,
        }
    }

    /// Checks and indexes the registry; the first problem is the error.
    pub fn resolve(&self) -> Result<Resolved> {
        self.resolve_all().map_err(|mut v| v.remove(0))
    }

    fn resolve_all(&self) -> core::result::Result<Resolved, Vec<Error>> {
        let mut r = Resolved::default();
        let mut problems = Vec::new();
        let accounts = self.affiliates.len()
            + self.clients.len()
            + self
                .brokers
                .iter()
                .map(|b| b.sub_accounts.len() + 1)
                .sum::<usize>();
        if self.brokers.len() > MAX_BROKERS || accounts > MAX_ACCOUNTS {
            let (field, msg) = if self.brokers.len() > MAX_BROKERS {
                (
                    "brokers",
                    format!("at most {MAX_BROKERS} brokers, got {}", self.brokers.len()),
                )
            } else {
                (
                    "sub_accounts",
                    format!(
                        "at most {MAX_ACCOUNTS} accounts (sub-accounts, masters, affiliates and clients together), got {accounts}"
                    ),
                )
            };
            return Err(alloc::vec![
                Error::new(ErrorCode::Registry, msg).field(field)
            ]);
        }
        let bad = |p: &mut Vec<Error>, i: usize, f: &str, m: String| {
            p.push(Error::new(ErrorCode::Registry, m).field(format!("brokers[{i}].{f}")))
        };
        let affiliates: BTreeSet<&str> = self.affiliates.iter().map(|s| s.as_str()).collect();
        let mut listed: BTreeSet<&str> = BTreeSet::new();
        for (i, c) in self.clients.iter().enumerate() {
            let at = |f: &str| format!("clients[{i}].{f}");
            if c.account.is_empty() || !listed.insert(c.account.as_str()) {
                problems.push(
                    Error::new(
                        ErrorCode::Registry,
                        if c.account.is_empty() {
                            "client account is empty".into()
                        } else {
                            format!("client {:?} is listed twice", c.account)
                        },
                    )
                    .field(at("account")),
                );
            }
            if c.msa {
                r.msa.insert(c.account.clone());
            }
            match c.kickback {
                Some(k) if k < Decimal::ZERO || k > Decimal::ONE => problems.push(
                    Error::new(
                        ErrorCode::Registry,
                        format!(
                            "kickback of {:?} must be between 0 and 1, got {k}",
                            c.account
                        ),
                    )
                    .field(at("kickback")),
                ),
                Some(k) if !k.is_zero() => {
                    r.kickbacks.insert(c.account.clone(), k);
                }
                _ => {}
            }
        }
        let mut claimed: BTreeMap<&str, (&str, &str)> = BTreeMap::new();
        for (i, b) in self.brokers.iter().enumerate() {
            if b.code.is_empty() {
                bad(&mut problems, i, "code", "broker code is empty".into());
            }
            if !r.codes.insert(b.code.clone()) {
                bad(
                    &mut problems,
                    i,
                    "code",
                    format!("broker code {:?} is listed twice", b.code),
                );
            }
            for s in &b.sub_accounts {
                r.sub_accounts.insert(s.clone(), b.code.clone());
            }
            if let (BrokerModel::Independent, Some(acc)) = (b.model, &b.account) {
                r.masters.insert(acc.clone(), b.code.clone());
            }
            // Every account a broker claims (its own, its sub-accounts) belongs to it alone:
            // otherwise the last one listed would silently get the other's trades.
            let own = b.account.iter().map(|a| (a, "account"));
            for (acc, what) in own.chain(b.sub_accounts.iter().map(|s| (s, "sub_accounts"))) {
                match claimed.get(acc.as_str()) {
                    Some((prev, _)) if *prev != b.code.as_str() => bad(
                        &mut problems,
                        i,
                        what,
                        format!(
                            "account {acc:?} is claimed by both {prev:?} and {:?}",
                            b.code
                        ),
                    ),
                    Some(_) if what == "sub_accounts" => bad(
                        &mut problems,
                        i,
                        what,
                        format!("account {acc:?} is listed twice by {:?}", b.code),
                    ),
                    _ => {
                        claimed.insert(acc.as_str(), (b.code.as_str(), what));
                    }
                }
            }
            match (&b.parent, b.parent_share) {
                (Some(p), share) => {
                    let share = share.unwrap_or_default();
                    if share < Decimal::ZERO || share > Decimal::ONE {
                        bad(
                            &mut problems,
                            i,
                            "parent_share",
                            format!(
                                "parent_share must be between 0 and 1, got {}",
                                money::canonical(share)
                            ),
                        );
                    }
                    r.parents.insert(b.code.clone(), (p.clone(), share));
                }
                (None, Some(_)) => bad(
                    &mut problems,
                    i,
                    "parent_share",
                    "parent_share without a parent".into(),
                ),
                (None, None) => {}
            }
            if affiliates.contains(b.code.as_str())
                || b.account.as_deref().is_some_and(|a| affiliates.contains(a))
            {
                r.conflicted.insert(b.code.clone());
            }
        }
        for (i, b) in self.brokers.iter().enumerate() {
            if let Some(p) = &b.parent {
                if !r.codes.contains(p) {
                    bad(
                        &mut problems,
                        i,
                        "parent",
                        format!("parent {p:?} is not a broker in the registry"),
                    );
                    continue;
                }
            }
        }
        // A cycle would make shares flow forever. Each broker is walked once (linear in the
        // registry): a walk ends at a broker already decided, or at one of its own steps (a
        // cycle). Every broker whose chain runs into a cycle is reported.
        const WALKING: u8 = 1;
        const CLEAR: u8 = 2;
        const CYCLE: u8 = 3;
        let mut state: BTreeMap<&str, u8> = BTreeMap::new();
        for b in &self.brokers {
            let mut walk = Vec::new();
            let mut cur = b.code.as_str();
            let verdict = loop {
                match state.get(cur) {
                    Some(&CLEAR) => break CLEAR,
                    Some(&CYCLE) | Some(&WALKING) => break CYCLE,
                    _ => {}
                }
                state.insert(cur, WALKING);
                walk.push(cur);
                match r.parents.get(cur) {
                    Some((next, _)) if r.codes.contains(next) => cur = next,
                    _ => break CLEAR,
                }
            };
            for c in walk {
                state.insert(c, verdict);
            }
        }
        for (i, b) in self.brokers.iter().enumerate() {
            let known_parent = b.parent.as_ref().is_some_and(|p| r.codes.contains(p));
            if known_parent && state.get(b.code.as_str()) == Some(&CYCLE) {
                bad(
                    &mut problems,
                    i,
                    "parent",
                    format!("the parent chain of {:?} is a cycle", b.code),
                );
            }
        }
        if problems.is_empty() {
            Ok(r)
        } else {
            Err(problems)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn broker(code: String) -> BrokerEntry {
        BrokerEntry {
            code,
            account: None,
            model: BrokerModel::Api,
            sub_accounts: Vec::new(),
            parent: None,
            parent_share: None,
        }
    }

    #[test]
    fn a_registry_past_its_size_limits_is_one_clear_error() {
        let mut r = Registry {
            brokers: (0..MAX_BROKERS).map(|i| broker(format!("B{i}"))).collect(),
            affiliates: Vec::new(),
            clients: Vec::new(),
        };
        assert!(r.problems().is_empty());
        r.brokers.push(broker("one-more".into()));
        let p = r.problems();
        assert_eq!(p.len(), 1);
        assert_eq!(p[0].code, ErrorCode::Registry);
        assert_eq!(p[0].message, "at most 1000000 brokers, got 1000001");
        assert_eq!(p[0].location.field.as_deref(), Some("brokers"));

        let mut one = broker("IB".into());
        one.sub_accounts = (0..MAX_ACCOUNTS).map(|i| format!("s{i}")).collect();
        let r = Registry {
            brokers: alloc::vec![one],
            affiliates: Vec::new(),
            clients: Vec::new(),
        };
        let p = r.problems();
        assert_eq!(
            p[0].message,
            "at most 10000000 accounts (sub-accounts, masters, affiliates and clients together), got 10000001"
        );
    }
}
