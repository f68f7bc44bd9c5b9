//! Which broker a trade belongs to. Sources are tried in the program's precedence order;
//! the first that names a broker wins.

use crate::program::AttributionSource;
use crate::registry::Resolved;
use crate::trade::TradeRef;

/// The outcome of attribution.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Attributed<'a> {
    Broker {
        code: &'a str,
        source: AttributionSource,
    },
    /// No source named a broker (`no_broker`), or the code is not enrolled (`unenrolled_broker`).
    None { reason: &'static str },
}

pub fn attribute<'a>(
    t: &TradeRef<'a>,
    sources: &[AttributionSource],
    registry: Option<&'a Resolved>,
) -> Attributed<'a> {
    let mut unenrolled = false;
    for &source in sources {
        let code = match (source, registry) {
            (AttributionSource::BrokerCode, None) => t.broker,
            (AttributionSource::BrokerCode, Some(r)) => match t.broker {
                Some(c) if r.codes.contains(c) => Some(c),
                Some(_) => {
                    unenrolled = true;
                    None
                }
                None => None,
            },
            // Without a registry no account is known to be a sub-account: any exchange
            // user may have sub-accounts, so a trade's `master` alone never names a broker
            // (it would override the broker code on the order).
            (AttributionSource::SubAccount, None) => None,
            (AttributionSource::SubAccount, Some(r)) => r
                .sub_accounts
                .get(t.account)
                .or_else(|| t.master.and_then(|m| r.masters.get(m)))
                .map(|s| s.as_str()),
        };
        if let Some(code) = code {
            return Attributed::Broker { code, source };
        }
    }
    Attributed::None {
        reason: if unenrolled {
            "unenrolled_broker"
        } else {
            "no_broker"
        },
    }
}
