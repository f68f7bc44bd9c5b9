//! The batch path: clean rows in columns. Per batch, attribution, account ids and class
//! lookups are resolved once per dictionary value; per row, the work is a fingerprint, a
//! de-duplication probe, a class and a cell lookup, and four integer additions.

use super::plan::ClassKey;
use crate::columns::{self, Columns, NULL};
use crate::dedupe::{self, Seen};
use crate::error::{Error, ErrorCode, Result};
use crate::general::{duplicate_id, known_values};
use crate::program::{AttributionSource, Basis};
use crate::trade::Liquidity;
use alloc::vec;
use alloc::vec::Vec;
use rust_decimal::Decimal;

use super::accumulate::{overflow, Batch};
use super::cells::*;
use super::seen::*;

impl Batch {
    /// The batch path: clean rows in columns (see [`crate::columns`]).
    pub fn push_columns(&mut self, c: &Columns) -> Result<()> {
        let strict = self.options.strict;
        let known: Vec<bool> = c
            .channel
            .values
            .iter()
            .map(|v| crate::trade::KNOWN_CHANNELS.contains(&v.as_str()))
            .collect();
        let known_p: Vec<bool> = c
            .product
            .values
            .iter()
            .map(|v| crate::trade::KNOWN_PRODUCTS.contains(&v.as_str()))
            .collect();
        // Accepted trades per unknown channel / product value (folded in after the batch).
        let mut unknown_ch = vec![0u64; c.channel.values.len()];
        let mut unknown_pr = vec![0u64; c.product.values.len()];
        // Attribution tables, once per dictionary value.
        let reg = self.reg.clone();
        let by_code: Vec<Option<u32>> = c
            .broker
            .values
            .iter()
            .map(|b| match &reg {
                Some(r) if !r.codes.contains(b.as_str()) => None,
                _ => Some(self.brokers.id(b)),
            })
            .collect();
        let sources = self.p.spec().attribution.sources.clone();
        let uses_sub = sources.contains(&AttributionSource::SubAccount);
        let by_master: Vec<Option<u32>> = if uses_sub {
            c.master
                .values
                .iter()
                .map(|m| match &reg {
                    // Without a registry sub-account attribution is off (attribution.rs).
                    None => None,
                    Some(r) => r.masters.get(m.as_str()).map(|b| self.brokers.id(b)),
                })
                .collect()
        } else {
            Vec::new()
        };
        let by_account: Vec<Option<u32>> = match (&reg, uses_sub) {
            (Some(r), true) => c
                .account
                .values
                .iter()
                .map(|a| r.sub_accounts.get(a.as_str()).map(|b| self.brokers.id(b)))
                .collect(),
            _ => Vec::new(),
        };
        let accounts: Vec<u32> = if self.plan.clients {
            c.account
                .values
                .iter()
                .map(|a| self.accounts.id(a))
                .collect()
        } else {
            Vec::new()
        };
        type Local = (
            u32,
            u32,
            Option<Liquidity>,
            u32,
            bool,
            i128,
            AttributionSource,
        );
        let mut local: hashbrown::HashMap<Local, u32, Fast> = hashbrown::HashMap::default();
        let v = self.plan.vars;
        let mut last: Option<(CellKey, u32)> = None;
        // Reconciliation by order: each order id's key, once per batch (see `key_row`).
        #[cfg(feature = "keyed")]
        let mut orders: Vec<u32> = match &self.keyed {
            Some(k) if k.by_order() => vec![u32::MAX; c.order.values.len()],
            _ => Vec::new(),
        };
        // Per group: the quantity bound below which its commissions are exact.
        let mut limits: Vec<Option<Option<i128>>> = Vec::new();
        let by_q_fee = self.plan.quantity == crate::formula::Var::Fee;

        // Ids first, all rows at once, grouped by table shard so each shard's inserts run
        // while it is in cache (the id tables are the one state that grows with trades).
        let mut keys = Vec::with_capacity(c.len());
        let mut rest: Vec<u8> = Vec::with_capacity(c.len() * 48);
        let mut rest_end: Vec<usize> = Vec::with_capacity(c.len());
        for row in 0..c.len() {
            keys.push(dedupe::fingerprint(c.id(row)));
            let r = Rest::new(
                c.time[row],
                Num::Fixed(c.notional[row]),
                Num::Fixed(c.fee[row]),
                c.fee_rate[row].map(Num::Fixed),
                c.liquidity[row],
                c.vip[row],
                c.fee_discount[row],
                c.msa[row],
                Num::Fixed(c.affiliate_rate[row]),
            );
            rest.extend_from_slice(r.bytes());
            rest_end.push(rest.len());
        }
        let seen = self.seen.insert_many(&keys, |row| {
            let from = if row == 0 { 0 } else { rest_end[row - 1] };
            (
                c.id(row),
                [
                    c.account.get(row),
                    c.broker.get(row),
                    c.channel.get(row),
                    c.product.get(row),
                    c.master.get(row),
                    c.order.get(row),
                    c.instrument.get(row),
                ],
                &rest[from..rest_end[row]],
            )
        })?;

        for row in 0..c.len() {
            let line = c.line[row];
            let (ch, pr) = (c.channel.keys[row], c.product.keys[row]);
            if strict && !(known[ch as usize] && known_p[pr as usize]) {
                let e = known_values(
                    &c.channel.values[ch as usize],
                    &c.product.values[pr as usize],
                )
                .err()
                .unwrap_or_else(|| Error::new(ErrorCode::Internal, "unknown value"));
                return Err(e.id(c.id(row)).line(line));
            }
            let (notional, fee, aff) = (c.notional[row], c.fee[row], c.affiliate_rate[row]);
            match seen[row] {
                Seen::New => {}
                Seen::Same => {
                    self.duplicates += 1;
                    continue;
                }
                Seen::Conflict => return Err(duplicate_id(c.id(row)).line(line)),
            }
            if self.over_limit {
                continue;
            }
            let t = c.time[row];
            let settled = self.settled(t);
            let unit = self.unit(t);
            // Attribution, in the program's precedence order.
            let mut found = None;
            let mut unenrolled = false;
            for s in &sources {
                let g = match s {
                    AttributionSource::BrokerCode => match c.broker.keys[row] {
                        NULL => None,
                        k => {
                            let g = by_code[k as usize];
                            unenrolled |= g.is_none();
                            g
                        }
                    },
                    AttributionSource::SubAccount => {
                        let by_acc = by_account
                            .get(c.account.keys[row] as usize)
                            .copied()
                            .flatten();
                        by_acc.or_else(|| match c.master.keys[row] {
                            NULL => None,
                            k => by_master[k as usize],
                        })
                    }
                };
                if let Some(g) = g {
                    found = Some((g, *s));
                    break;
                }
            }
            let Some((broker, source)) = found else {
                if settled {
                    let cell = self.cell_of(CellKey {
                        broker: NO_BROKER,
                        class: unenrolled as u32,
                        unit: 0,
                        settled: true,
                    });
                    // A total past its limit is the settlement's error (money::sum_limit).
                    let added = self.add(
                        cell,
                        (Some(notional), Decimal::ZERO),
                        (Some(fee), Decimal::ZERO),
                    );
                    #[cfg(feature = "keyed")]
                    let added = added
                        .and_then(|()| self.key_row(c, row, cell, (notional, fee), &mut orders));
                    if added.is_err() {
                        self.over_limit = true;
                        continue;
                    }
                }
                unknown_ch[ch as usize] += !known[ch as usize] as u64;
                unknown_pr[pr as usize] += !known_p[pr as usize] as u64;
                self.accepted += 1;
                self.earliest = self.earliest.min(t);
                continue;
            };
            let lk: Local = (
                ch,
                pr,
                if v.liquidity { c.liquidity[row] } else { None },
                if v.vip { c.vip[row] } else { 0 },
                v.fee_discount && c.fee_discount[row],
                if v.affiliate_rate { aff } else { 0 },
                if v.attribution {
                    source
                } else {
                    AttributionSource::BrokerCode
                },
            );
            let class = match local.get(&lk) {
                Some(&k) => k,
                None => {
                    let key = ClassKey {
                        channel: c.channel.values[ch as usize].clone(),
                        product: c.product.values[pr as usize].clone(),
                        liquidity: lk.2,
                        vip: lk.3,
                        fee_discount: lk.4,
                        affiliate_rate: columns::to_decimal(lk.5).unwrap_or_default(),
                        attribution: lk.6,
                    };
                    let k = match self.class_of(key) {
                        Ok(k) => k,
                        // A predicate that fails for this class fails for each of its
                        // trades: the row path rejects them one by one.
                        Err(e) => {
                            self.reject(Some(c.id(row)), Some(line), e.id(c.id(row)))?;
                            continue;
                        }
                    };
                    local.insert(lk, k);
                    k
                }
            };
            // A commission the class cannot prove exact is checked trade by trade, as the
            // per-trade engine does: the same trades are rejected with the same error.
            if limits.len() <= class as usize {
                limits.resize(class as usize + 1, None);
            }
            let limit = *limits[class as usize]
                .get_or_insert_with(|| self.classes[class as usize].exact_below());
            let q = if by_q_fee { fee } else { notional };
            if limit.is_none_or(|l| q.unsigned_abs() >= l.unsigned_abs()) {
                if let Err(e) = self.check_commission(&c.trade(row), broker, source) {
                    self.reject(Some(c.id(row)), Some(line), e.id(c.id(row)))?;
                    continue;
                }
            }
            // Outside `from..to` a trade only feeds the volume metrics: its fee is not
            // summed, nor its notional when its group feeds none (the per-trade engine sums
            // neither; found by fuzzing: such an unused sum passed its limit).
            let fee = if settled { fee } else { 0 };
            let notional = if self.sums_needed(class, settled) {
                notional
            } else {
                0
            };
            let ck = CellKey {
                broker,
                class,
                unit,
                settled,
            };
            let cell = match last {
                Some((k, i)) if k == ck => i,
                _ => {
                    let i = self.cell_of(ck);
                    last = Some((ck, i));
                    i
                }
            };
            let s = &mut self.sums[cell as usize];
            match s.plus(notional, fee) {
                Some(next) => *s = next,
                None => {
                    // Past i128: the exact side sums take it, or the settlement stops
                    // (money::sum_limit: which trade crosses a limit depends on the order).
                    let d = |x: i128| columns::to_decimal(x).ok_or_else(overflow);
                    let added = match (d(notional), d(fee)) {
                        (Ok(n), Ok(f)) => self.add(cell, (None, n), (None, f)),
                        (Err(e), _) | (_, Err(e)) => Err(e),
                    };
                    if added.is_err() {
                        self.over_limit = true;
                        continue;
                    }
                }
            }
            #[cfg(feature = "keyed")]
            if settled
                && self.keyed.is_some()
                && self
                    .key_row(c, row, cell, (notional, fee), &mut orders)
                    .is_err()
            {
                self.over_limit = true;
                continue;
            }
            unknown_ch[ch as usize] += !known[ch as usize] as u64;
            unknown_pr[pr as usize] += !known_p[pr as usize] as u64;
            self.accepted += 1;
            self.earliest = self.earliest.min(t);
            if self.plan.clients {
                let day = self.client_day(unit);
                let cl = &self.classes[class as usize];
                let counts =
                    self.p.spec().tiers.basis == Basis::Attributed || cl.excluded.is_none();
                let bits = cl.metrics & self.client_metrics;
                if counts && bits != 0 {
                    let a = accounts[c.account.keys[row] as usize];
                    for i in 0..64u8 {
                        if bits & (1 << i) != 0 {
                            self.clients.insert(client_key(broker, a, day, i));
                        }
                    }
                }
            }
        }
        for (field, values, counts, known) in [
            (
                "channel",
                &c.channel.values,
                &unknown_ch,
                &crate::trade::KNOWN_CHANNELS[..],
            ),
            (
                "product",
                &c.product.values,
                &unknown_pr,
                &crate::trade::KNOWN_PRODUCTS[..],
            ),
        ] {
            for (v, &n) in values.iter().zip(counts.iter()) {
                crate::general::note_value(&mut self.unknown_values, field, v, known, n);
            }
        }
        Ok(())
    }

    #[cfg(feature = "keyed")]
    /// Adds a settled row to reconciliation's keys (see `keyed.rs`). `orders` caches the
    /// key of each order id of the batch's dictionary (a few fills share an order).
    fn key_row(
        &mut self,
        c: &Columns,
        row: usize,
        cell: u32,
        (notional, fee): (i128, i128),
        orders: &mut [u32],
    ) -> Result<()> {
        let Some(k) = &mut self.keyed else {
            return Ok(());
        };
        let (id, t, order) = (c.id(row), c.time[row], c.order.get(row));
        let account = c.account.get(row).unwrap_or("");
        let key = match orders.get_mut(c.order.keys[row] as usize) {
            Some(cached) if *cached != u32::MAX => *cached,
            Some(cached) => {
                *cached = k.key_of(id, order, account, t)?;
                *cached
            }
            None => k.key_of(id, order, account, t)?,
        };
        let zero = Decimal::ZERO;
        k.add(
            key,
            (id, t),
            cell,
            (Some(notional), zero),
            (Some(fee), zero),
        )
    }
}
