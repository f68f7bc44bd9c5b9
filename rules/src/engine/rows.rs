//! The row path: one validated trade at a time (hosts with rows, and readers' rows that are
//! not clean enough for a column batch). Same sums as the batch path, by construction.

use super::plan::ClassKey;
use crate::attribution::{attribute, Attributed};
use crate::columns::{self};
use crate::dedupe::Seen;
use crate::error::{ErrorCode, Result};
use crate::general::{duplicate_id, known_values};
use crate::trade::TradeRef;
use rust_decimal::Decimal;

use super::accumulate::Batch;
use super::cells::*;

impl Batch {
    /// Counts an accepted trade's channel and product when they are not known values.
    fn note_values(&mut self, t: &crate::trade::TradeRef<'_>) {
        use crate::trade::{KNOWN_CHANNELS, KNOWN_PRODUCTS};
        let u = &mut self.unknown_values;
        crate::general::note_value(u, "channel", t.channel, &KNOWN_CHANNELS, 1);
        crate::general::note_value(u, "product", t.product, &KNOWN_PRODUCTS, 1);
    }

    /// The row path (same contract as the per-trade engine's `push`).
    pub fn push_row(&mut self, t: &TradeRef<'_>, line: Option<u64>) -> Result<()> {
        match self.try_row(t) {
            Ok(()) => Ok(()),
            Err(e) if crate::dedupe::is_full(&e) => Err(e),
            Err(e) if e.code == ErrorCode::DuplicateId => Err(match line {
                Some(l) => e.line(l),
                None => e,
            }),
            // A total past its limit is the settlement's error, naming no trade
            // (money::sum_limit); only ids are checked from here on.
            Err(e) if crate::money::is_sum_limit(&e) => {
                self.over_limit = true;
                Ok(())
            }
            Err(e) => self.reject(Some(t.id), line, e.id(t.id)),
        }
    }

    fn try_row(&mut self, t: &TradeRef<'_>) -> Result<()> {
        if self.options.strict {
            known_values(t.channel, t.product)?;
        }
        let notional = (columns::fixed(t.notional), t.notional);
        let fee = (columns::fixed(t.fee), t.fee);
        match self.seen.insert(t)? {
            Seen::New => {}
            Seen::Same => {
                self.duplicates += 1;
                return Ok(());
            }
            Seen::Conflict => return Err(duplicate_id(t.id)),
        }
        if self.over_limit {
            return Ok(());
        }
        let settled = self.settled(t.time);
        let unit = self.unit(t.time);
        let sources = &self.p.spec().attribution.sources;
        let (broker, source) = match attribute(t, sources, self.reg.as_ref()) {
            Attributed::Broker { code, source } => (self.brokers.id(code), source),
            Attributed::None { reason } => {
                if settled {
                    let cell = self.cell_of(CellKey {
                        broker: NO_BROKER,
                        class: (reason == REASONS[1]) as u32,
                        unit: 0,
                        settled: true,
                    });
                    self.add(cell, notional, fee)?;
                    #[cfg(feature = "keyed")]
                    self.add_key((t.id, t.order, t.account, t.time), cell, notional, fee)?;
                }
                self.note_values(t);
                self.accepted += 1;
                self.earliest = self.earliest.min(t.time);
                return Ok(());
            }
        };
        let class = self.class_of(ClassKey {
            channel: t.channel.into(),
            product: t.product.into(),
            liquidity: t.liquidity,
            vip: t.vip,
            fee_discount: t.fee_discount,
            affiliate_rate: t.affiliate_rate,
            attribution: source,
        })?;
        let q = if self.plan.quantity == crate::formula::Var::Fee {
            t.fee
        } else {
            t.notional
        };
        if !self.classes[class as usize].exact_for(q) {
            self.check_commission(t, broker, source)?;
        }
        // Outside `from..to`: only what the volume metrics need (see `Batch::sums_needed`).
        let zero = (Some(0), Decimal::ZERO);
        let fee = if settled { fee } else { zero };
        let notional = if self.sums_needed(class, settled) {
            notional
        } else {
            zero
        };
        let cell = self.cell_of(CellKey {
            broker,
            class,
            unit,
            settled,
        });
        self.add(cell, notional, fee)?;
        #[cfg(feature = "keyed")]
        if settled {
            self.add_key((t.id, t.order, t.account, t.time), cell, notional, fee)?;
        }
        self.note_values(t);
        self.accepted += 1;
        self.earliest = self.earliest.min(t.time);
        if self.plan.clients {
            let day = self.client_day(unit);
            self.count_client(broker, class, t.account, day);
        }
        Ok(())
    }
}
