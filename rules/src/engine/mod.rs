//! The batch engine: settlement as exact sums. For a program whose formula is
//! `quantity * g(tier, class)` (all built-ins), a trade only adds its notional and fee to the
//! sums of its (broker, hour or day, class) cell; exclusions, metric filters and `g` are
//! decided once per class, and `g` is applied once per cell at the level the broker reaches.
//! The state is sized by brokers x periods x classes, not by trades (de-duplication aside),
//! merges with another state by adding, and serializes to canonical bytes ([`wire`]).
//!
//! Rows arrive one at a time ([`Batch::push_row`]) or as columns ([`Batch::push_columns`]);
//! both land in the same sums, so they give the same statement by construction.

mod accumulate;
mod batch;
mod cells;
mod finish;
#[cfg(feature = "keyed")]
mod keyed;
mod merge;
pub(crate) mod plan;
mod rows;
pub(crate) mod seen;
pub(crate) mod wire;

pub(crate) use accumulate::Batch;
#[cfg(feature = "keyed")]
pub use keyed::KeyParts;
#[cfg(feature = "keyed")]
pub(crate) use keyed::{KeyBy, Keyed};
