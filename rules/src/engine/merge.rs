//! Merging two states of one settlement: names and groups are re-keyed, cells added
//! exactly (a fixed-point overflow moves to the side sums), client sets united, ids checked.

use crate::columns::{self};
use crate::dedupe::{Entry, Seen};
use crate::error::{Error, ErrorCode, Result};
use crate::money;
use alloc::format;
use alloc::string::String;
use alloc::vec::Vec;

use super::accumulate::{overflow, Batch};
use super::cells::*;
use super::seen::*;

impl Batch {
    /// Adds another state of the same settlement (its own rows; ids are checked across).
    pub fn merge(&mut self, o: Batch) -> Result<()> {
        // Ids first, checked before anything changes: a refused merge leaves this state as
        // it was.
        let theirs: Vec<Entry<'_>> =
            match (&self.seen, &o.seen) {
                #[cfg(feature = "std")]
                (SeenStore::Shared(a), SeenStore::Shared(b)) if std::sync::Arc::ptr_eq(a, b) => {
                    Vec::new()
                }
                (_, SeenStore::Local(d)) => d.entries().collect(),
                #[cfg(feature = "std")]
                _ => return Err(Error::new(
                    ErrorCode::Partial,
                    "a state that shares de-duplication with live forks merges only into them; \
                     merge the forks first",
                )),
            };
        // Exact: the ids themselves are compared (a shared fingerprint alone is no match).
        if let Some(e) = theirs.iter().find(|e| self.seen.check(**e) != Seen::New) {
            return Err(Error::new(
                ErrorCode::DuplicateId,
                format!(
                    "trade id {:?} is in two partial states; \
                     partition trades by id before settling partitions separately",
                    String::from_utf8_lossy(e.id)
                ),
            )
            .field("id"));
        }
        for e in &theirs {
            self.seen.insert_entry(*e)?;
        }
        let brokers: Vec<u32> = o.brokers.names.iter().map(|b| self.brokers.id(b)).collect();
        let accounts: Vec<u32> = o
            .accounts
            .names
            .iter()
            .map(|a| self.accounts.id(a))
            .collect();
        let classes: Vec<u32> = o.classes.into_iter().map(|g| self.group_of(g)).collect();
        let map_broker = |b: u32| {
            if b == NO_BROKER {
                b
            } else {
                brokers[b as usize]
            }
        };
        #[cfg(feature = "keyed")]
        if self.keyed.is_some() != o.keyed.is_some() {
            return Err(Error::new(
                ErrorCode::Partial,
                "a settlement kept for reconcile merges only with its own forks",
            ));
        }
        #[cfg(feature = "keyed")]
        let mut cells = Vec::with_capacity(if o.keyed.is_some() { o.keys.len() } else { 0 });
        for (i, k) in o.keys.iter().enumerate() {
            let key = CellKey {
                broker: map_broker(k.broker),
                class: if k.broker == NO_BROKER {
                    k.class
                } else {
                    classes[k.class as usize]
                },
                ..*k
            };
            let cell = self.cell_of(key);
            #[cfg(feature = "keyed")]
            if o.keyed.is_some() {
                cells.push(cell);
            }
            let (mine, theirs) = (self.sums[cell as usize], o.sums[i]);
            match mine.add(&theirs) {
                Some(s) => self.sums[cell as usize] = s,
                None => {
                    let d = |x: i128| columns::to_decimal(x).ok_or_else(overflow);
                    let w = self.wide.get(&cell).copied().unwrap_or_default();
                    let w = Wide {
                        notional: money::total(w.notional, d(theirs.notional)?)?,
                        fee_pos: money::total(w.fee_pos, d(theirs.fee_pos)?)?,
                        fee_neg: money::total(w.fee_neg, d(theirs.fee_neg)?)?,
                    };
                    self.wide.insert(cell, w);
                    self.sums[cell as usize].trades += theirs.trades;
                }
            }
            if let Some(w) = o.wide.get(&(i as u32)) {
                let mine = self.wide.get(&cell).copied().unwrap_or_default();
                self.wide.insert(
                    cell,
                    Wide {
                        notional: money::total(mine.notional, w.notional)?,
                        fee_pos: money::total(mine.fee_pos, w.fee_pos)?,
                        fee_neg: money::total(mine.fee_neg, w.fee_neg)?,
                    },
                );
            }
        }
        #[cfg(feature = "keyed")]
        if let (Some(mine), Some(theirs)) = (&mut self.keyed, o.keyed) {
            mine.merge(theirs, &cells)?;
        }
        for k in o.clients {
            let (b, a, d, m) = client_parts(k);
            self.clients
                .insert(client_key(brokers[b as usize], accounts[a as usize], d, m));
        }
        self.accepted += o.accepted;
        self.earliest = self.earliest.min(o.earliest);
        self.over_limit |= o.over_limit;
        self.duplicates += o.duplicates;
        self.unknown_fields += o.unknown_fields;
        crate::general::merge_values(&mut self.unknown_values, o.unknown_values);
        self.rejected.extend(o.rejected);
        Ok(())
    }
}
