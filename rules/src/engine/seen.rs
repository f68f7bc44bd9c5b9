//! Trade ids already seen, and the content fingerprints that tell an identical duplicate
//! from a different trade with the same id. Rows and column batches fingerprint the same
//! values the same way, so both paths de-duplicate against each other.

use crate::dedupe::{Dedupe, Seen};
use crate::trade::Liquidity;
use alloc::vec::Vec;
use rust_decimal::Decimal;

/// Seen ids: this state's own, or shared by threads settling one input together.
#[derive(Clone, Debug)]
pub(crate) enum SeenStore {
    Local(Dedupe),
    #[cfg(feature = "std")]
    Shared(std::sync::Arc<[std::sync::Mutex<Dedupe>]>),
}

impl SeenStore {
    /// Inserts many ids; the answer for each, as if inserted one by one in order.
    pub(crate) fn insert_many(&mut self, keys: &[(u64, u32)]) -> Vec<Seen> {
        const GROUPS: usize = 64;
        let (n_groups, shared) = match self {
            SeenStore::Local(_) => (GROUPS, false),
            #[cfg(feature = "std")]
            SeenStore::Shared(locks) => (locks.len(), true),
        };
        let group = |k: u64| {
            if shared {
                (k >> 8) as usize % n_groups
            } else {
                k as usize % n_groups
            }
        };
        // A stable counting sort of row indices by group keeps input order within a group.
        let mut starts = alloc::vec![0usize; n_groups + 1];
        for (k, _) in keys {
            starts[group(*k) + 1] += 1;
        }
        for i in 0..n_groups {
            starts[i + 1] += starts[i];
        }
        let mut order = alloc::vec![0u32; keys.len()];
        let mut at = starts.clone();
        for (row, (k, _)) in keys.iter().enumerate() {
            let g = group(*k);
            order[at[g]] = row as u32;
            at[g] += 1;
        }
        let mut out = alloc::vec![Seen::New; keys.len()];
        for g in 0..n_groups {
            let rows = &order[starts[g]..starts[g + 1]];
            if rows.is_empty() {
                continue;
            }
            match self {
                SeenStore::Local(d) => {
                    for &r in rows {
                        let (k, v) = keys[r as usize];
                        out[r as usize] = d.insert(k, v);
                    }
                }
                #[cfg(feature = "std")]
                SeenStore::Shared(locks) => {
                    let mut d = match locks[g].lock() {
                        Ok(d) => d,
                        Err(p) => p.into_inner(),
                    };
                    for &r in rows {
                        let (k, v) = keys[r as usize];
                        out[r as usize] = d.insert(k, v);
                    }
                }
            }
        }
        out
    }

    /// Room for about `more` more ids.
    pub(crate) fn reserve(&mut self, more: u64) {
        match self {
            SeenStore::Local(d) => d.reserve(more),
            #[cfg(feature = "std")]
            SeenStore::Shared(locks) => {
                let per = more / locks.len() as u64 + 1;
                for l in locks.iter() {
                    match l.lock() {
                        Ok(mut d) => d.reserve(per),
                        Err(p) => p.into_inner().reserve(per),
                    }
                }
            }
        }
    }

    /// What `insert` would answer, without inserting.
    pub(crate) fn check(&self, key: u64, content: u32) -> Seen {
        match self {
            SeenStore::Local(d) => d.check(key, content),
            #[cfg(feature = "std")]
            SeenStore::Shared(locks) => {
                let i = (key >> 8) as usize % locks.len();
                match locks[i].lock() {
                    Ok(d) => d.check(key, content),
                    Err(p) => p.into_inner().check(key, content),
                }
            }
        }
    }

    pub(crate) fn insert(&mut self, key: u64, content: u32) -> Seen {
        match self {
            SeenStore::Local(d) => d.insert(key, content),
            #[cfg(feature = "std")]
            SeenStore::Shared(locks) => {
                let i = (key >> 8) as usize % locks.len();
                match locks[i].lock() {
                    Ok(mut d) => d.insert(key, content),
                    Err(p) => p.into_inner().insert(key, content),
                }
            }
        }
    }
}

/// Per-string hash used in content fingerprints (absent values hash to a fixed marker).
pub(crate) fn h(s: Option<&str>) -> u64 {
    match s {
        Some(s) => xxhash_rust::xxh3::xxh3_64(s.as_bytes()),
        None => 0x9e37_79b9_7f4a_7c15,
    }
}

/// A decimal's bytes for fingerprints: its fixed-point value, or (when it has none) its
/// normalized 96-bit form behind a marker no fixed value produces.
pub(crate) fn num(fixed: Option<i128>, d: Decimal) -> [u8; 17] {
    let mut b = [0u8; 17];
    match fixed {
        Some(v) => b[..16].copy_from_slice(&v.to_le_bytes()),
        None => {
            b[..16].copy_from_slice(&d.normalize().serialize());
            b[16] = 1;
        }
    }
    b
}

/// The content fingerprint of a trade, from its parts (the same for rows and columns).
#[allow(clippy::too_many_arguments)]
pub(crate) fn content(
    time: i64,
    hashes: [u64; 5],
    notional: [u8; 17],
    fee: [u8; 17],
    fee_rate: Option<[u8; 17]>,
    liquidity: Option<Liquidity>,
    vip: u32,
    fee_discount: bool,
    affiliate_rate: [u8; 17],
) -> u32 {
    let mut buf = [0u8; 8 + 40 + 17 * 4 + 1 + 4 + 1 + 1];
    buf[..8].copy_from_slice(&time.to_le_bytes());
    for (i, x) in hashes.iter().enumerate() {
        buf[8 + i * 8..16 + i * 8].copy_from_slice(&x.to_le_bytes());
    }
    let mut o = 48;
    for n in [
        notional,
        fee,
        fee_rate.unwrap_or([0xee; 17]),
        affiliate_rate,
    ] {
        buf[o..o + 17].copy_from_slice(&n);
        o += 17;
    }
    buf[o] = match liquidity {
        None => 0,
        Some(Liquidity::Maker) => 1,
        Some(Liquidity::Taker) => 2,
    };
    buf[o + 1..o + 5].copy_from_slice(&vip.to_le_bytes());
    buf[o + 5] = fee_discount as u8;
    buf[o + 6] = fee_rate.is_some() as u8;
    xxhash_rust::xxh3::xxh3_64(&buf) as u32
}
