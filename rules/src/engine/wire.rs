//! Partial states as bytes, so they travel between processes (Spark executors, Dask
//! workers, Node shards) and merge anywhere. The encoding is canonical: names and cells are
//! written sorted, integers as LEB128 varints, so equal states give equal bytes. It carries
//! the program hash, engine version, options and registry fingerprint; a state made under
//! any other is refused (`E_PARTIAL`), and so is a truncated or altered one (a checksum
//! covers every byte). Layout, version 4 (3 kept 32-bit content fingerprints, not exact):
//!
//! ```text
//! "BRPS" 0x01 | header: program sha256, engine version, options json, registry sha256
//! counts: accepted, duplicates, unknown_fields
//! brokers, accounts: sorted names | classes: sorted keys | cells: sorted, with sums
//! clients: sorted (broker, account, day, metric) | rejected: in order
//! seen trades, sorted by (id fingerprint, id): id, text fields, rest (each length-prefixed;
//!   the exact content of `engine::seen`, so merges de-duplicate exactly) | xxh3-64 of all
//! ```

use super::accumulate::Batch;
use super::cells::{CellKey, Sums, Wide, NO_BROKER};
use super::plan::{ClassKey, Group};
use super::seen::{rest_well_formed, SeenStore, TEXT_FIELDS};
use crate::dedupe::{Dedupe, Entry, Seen, Text};
use crate::error::{Error, ErrorCode, Result};
use crate::money;
use crate::program::AttributionSource;
use crate::statement::Rejected;
use crate::trade::Liquidity;
use alloc::collections::BTreeMap;
use alloc::string::{String, ToString};
use alloc::vec::Vec;
use rust_decimal::Decimal;
use sha2::{Digest, Sha256};

const MAGIC: &[u8; 4] = b"BRPS";
const VERSION: u8 = 5;

/// The fingerprint of the settlement a state belongs to.
pub(crate) fn header(b: &Batch) -> [String; 4] {
    let reg = match &b.registry_json {
        Some(j) => {
            let d = Sha256::digest(j.as_bytes());
            d.iter().map(|x| alloc::format!("{x:02x}")).collect()
        }
        None => String::new(),
    };
    [
        b.p.sha256().to_string(),
        crate::statement::ENGINE_VERSION.to_string(),
        serde_json::to_string(&b.options).unwrap_or_default(),
        reg,
    ]
}

struct W(Vec<u8>);

impl W {
    fn u(&mut self, mut v: u64) {
        loop {
            let b = (v & 0x7f) as u8;
            v >>= 7;
            if v == 0 {
                self.0.push(b);
                return;
            }
            self.0.push(b | 0x80);
        }
    }
    fn i(&mut self, v: i128) {
        // zigzag, then two varints (low and high 64 bits)
        let z = ((v << 1) ^ (v >> 127)) as u128;
        self.u(z as u64);
        self.u((z >> 64) as u64);
    }
    fn s(&mut self, s: &str) {
        self.b(s.as_bytes());
    }
    fn b(&mut self, b: &[u8]) {
        self.u(b.len() as u64);
        self.0.extend_from_slice(b);
    }
    fn os(&mut self, s: Option<&str>) {
        match s {
            None => self.u(0),
            Some(s) => {
                self.u(1);
                self.s(s);
            }
        }
    }
    fn d(&mut self, d: Decimal) {
        self.s(&money::canonical(d));
    }
}

struct R<'a> {
    b: &'a [u8],
    at: usize,
}

fn corrupt() -> Error {
    Error::new(
        ErrorCode::Partial,
        "the partial state is truncated or corrupt",
    )
}

impl<'a> R<'a> {
    fn byte(&mut self) -> Result<u8> {
        let x = *self.b.get(self.at).ok_or_else(corrupt)?;
        self.at += 1;
        Ok(x)
    }
    fn u(&mut self) -> Result<u64> {
        let mut v = 0u64;
        for shift in (0..64).step_by(7) {
            let b = self.byte()?;
            v |= ((b & 0x7f) as u64) << shift;
            if b & 0x80 == 0 {
                return Ok(v);
            }
        }
        Err(corrupt())
    }
    fn n(&mut self) -> Result<usize> {
        let v = self.u()?;
        // A count can never exceed the bytes left.
        if v > (self.b.len() - self.at) as u64 {
            return Err(corrupt());
        }
        Ok(v as usize)
    }
    fn i(&mut self) -> Result<i128> {
        let z = self.u()? as u128 | (self.u()? as u128) << 64;
        Ok(((z >> 1) as i128) ^ -((z & 1) as i128))
    }
    fn s(&mut self) -> Result<String> {
        String::from_utf8(self.b()?.to_vec()).map_err(|_| corrupt())
    }
    fn b(&mut self) -> Result<&'a [u8]> {
        let n = self.n()?;
        let bytes = self.b.get(self.at..self.at + n).ok_or_else(corrupt)?;
        self.at += n;
        Ok(bytes)
    }
    fn os(&mut self) -> Result<Option<String>> {
        match self.u()? {
            0 => Ok(None),
            1 => self.s().map(Some),
            _ => Err(corrupt()),
        }
    }
    fn d(&mut self) -> Result<Decimal> {
        money::parse(&self.s()?).map_err(|_| corrupt())
    }
}

fn sorted_ids(names: &[String]) -> (Vec<usize>, Vec<u32>) {
    let mut order: Vec<usize> = (0..names.len()).collect();
    order.sort_by(|a, b| names[*a].cmp(&names[*b]));
    let mut new_id = alloc::vec![0u32; names.len()];
    for (n, &o) in order.iter().enumerate() {
        new_id[o] = n as u32;
    }
    (order, new_id)
}

pub(crate) fn encode(b: &Batch) -> Vec<u8> {
    let mut w = W(Vec::new());
    w.0.extend_from_slice(MAGIC);
    w.0.push(VERSION);
    for h in header(b) {
        w.s(&h);
    }
    w.u(b.accepted);
    w.u(b.earliest as u64);
    w.u(b.duplicates);
    w.u(b.unknown_fields);
    w.u(b.unknown_values.values().map(|m| m.len() as u64).sum());
    for (field, values) in &b.unknown_values {
        for (v, n) in values {
            w.s(field);
            w.s(v);
            w.u(*n);
        }
    }
    let (border, bid) = sorted_ids(&b.brokers.names);
    w.u(border.len() as u64);
    for &i in &border {
        w.s(&b.brokers.names[i]);
    }
    let (aorder, aid) = sorted_ids(&b.accounts.names);
    w.u(aorder.len() as u64);
    for &i in &aorder {
        w.s(&b.accounts.names[i]);
    }
    let mut corder: Vec<usize> = (0..b.classes.len()).collect();
    corder.sort_by(|x, y| b.classes[*x].cmp(&b.classes[*y]));
    let mut cid = alloc::vec![0u32; b.classes.len()];
    for (n, &o) in corder.iter().enumerate() {
        cid[o] = n as u32;
    }
    w.u(corder.len() as u64);
    for &i in &corder {
        let g = &b.classes[i];
        w.u(g.excluded.map_or(0, |x| x as u64 + 1));
        w.u(g.metrics);
        w.u(g.g.len() as u64);
        for x in &g.g {
            w.d(*x);
        }
        match &g.failing {
            None => w.u(0),
            Some(k) => {
                w.u(1);
                w.s(&k.channel);
                w.s(&k.product);
                w.u(match k.liquidity {
                    None => 0,
                    Some(Liquidity::Maker) => 1,
                    Some(Liquidity::Taker) => 2,
                });
                w.u(k.vip as u64);
                w.u(k.fee_discount as u64);
                w.d(k.affiliate_rate);
                w.u((k.attribution == AttributionSource::SubAccount) as u64);
            }
        }
    }
    let remap = |k: &CellKey| CellKey {
        broker: if k.broker == NO_BROKER {
            NO_BROKER
        } else {
            bid[k.broker as usize]
        },
        class: if k.broker == NO_BROKER {
            k.class
        } else {
            cid[k.class as usize]
        },
        ..*k
    };
    let mut cells: Vec<(CellKey, usize)> = b
        .keys
        .iter()
        .enumerate()
        .map(|(i, k)| (remap(k), i))
        .collect();
    cells.sort();
    w.u(cells.len() as u64);
    for (k, i) in cells {
        w.u(if k.broker == NO_BROKER {
            0
        } else {
            k.broker as u64 + 1
        });
        w.u(k.class as u64);
        w.i(k.unit as i128);
        w.u(k.settled as u64);
        let s = &b.sums[i];
        w.u(s.trades);
        w.i(s.notional);
        w.i(s.fee_pos);
        w.i(s.fee_neg);
        match b.wide.get(&(i as u32)) {
            None => w.u(0),
            Some(x) => {
                w.u(1);
                w.d(x.notional);
                w.d(x.fee_pos);
                w.d(x.fee_neg);
            }
        }
    }
    let mut clients: Vec<(u32, u32, i64, u8)> = b
        .clients
        .iter()
        .map(|&k| {
            let (br, a, d, m) = super::cells::client_parts(k);
            (bid[br as usize], aid[a as usize], d, m)
        })
        .collect();
    clients.sort_unstable();
    w.u(clients.len() as u64);
    for (br, a, d, m) in clients {
        w.u(br as u64);
        w.u(a as u64);
        w.i(d as i128);
        w.u(m as u64);
    }
    let mut rejected: Vec<&Rejected> = b.rejected.iter().collect();
    rejected.sort_by_key(|r| r.line);
    w.u(rejected.len() as u64);
    for r in rejected {
        w.os(r.id.as_deref());
        match r.line {
            None => w.u(0),
            Some(l) => w.u(l + 1),
        }
        w.s(r.code.as_str());
        w.s(&r.message);
        w.os(r.field.as_deref());
    }
    b.seen.sorted_entries(|seen| {
        w.u(seen.len() as u64);
        for e in seen.iter() {
            w.b(e.id);
            w.b(e.text);
            w.b(e.rest);
        }
    });
    let sum = xxhash_rust::xxh3::xxh3_64(&w.0);
    w.0.extend_from_slice(&sum.to_le_bytes());
    w.0
}

/// A state from its bytes, for the settlement `like` belongs to.
pub(crate) fn decode(like: &Batch, bytes: &[u8]) -> Result<Batch> {
    if bytes.len() < MAGIC.len() + 1 + 8 || &bytes[..4] != MAGIC {
        return Err(Error::new(
            ErrorCode::Partial,
            "not a broker-rules partial state (no BRPS header)",
        ));
    }
    if bytes[4] != VERSION {
        return Err(Error::new(
            ErrorCode::Partial,
            alloc::format!(
                "partial state format version {} (this engine reads version {VERSION})",
                bytes[4]
            ),
        ));
    }
    let (body, sum) = bytes.split_at(bytes.len() - 8);
    let mut s8 = [0u8; 8];
    s8.copy_from_slice(sum);
    if xxhash_rust::xxh3::xxh3_64(body) != u64::from_le_bytes(s8) {
        return Err(corrupt());
    }
    let mut r = R { b: body, at: 5 };
    let want = header(like);
    let names = ["program", "engine version", "options", "registry"];
    for (i, h) in want.iter().enumerate() {
        let got = r.s()?;
        if &got != h {
            return Err(Error::new(
                ErrorCode::Partial,
                alloc::format!(
                    "the partial state was made with another {} ({:?}, here {:?})",
                    names[i],
                    got,
                    h
                ),
            ));
        }
    }
    let mut b = like.empty();
    b.accepted = r.u()?;
    b.earliest = r.u()? as i64;
    b.duplicates = r.u()?;
    b.unknown_fields = r.u()?;
    let n = r.n()?;
    for _ in 0..n {
        let (field, value, count) = (r.s()?, r.s()?, r.u()?);
        if field != "channel" && field != "product" {
            return Err(corrupt());
        }
        *b.unknown_values
            .entry(field)
            .or_default()
            .entry(value)
            .or_default() += count;
    }
    let n = r.n()?;
    let mut brokers = Vec::with_capacity(n);
    for _ in 0..n {
        let name = r.s()?;
        brokers.push(b.brokers.id(&name));
    }
    let n = r.n()?;
    let mut accounts = Vec::with_capacity(n);
    for _ in 0..n {
        let name = r.s()?;
        accounts.push(b.accounts.id(&name));
    }
    let n = r.n()?;
    let mut classes = Vec::with_capacity(n);
    for _ in 0..n {
        let excluded = match r.u()? {
            0 => None,
            x if (x as usize) <= b.p.exclusions.len() => Some(x as usize - 1),
            _ => return Err(corrupt()),
        };
        let metrics = r.u()?;
        if metrics >> b.p.metrics.len() != 0 {
            return Err(corrupt());
        }
        let ng = r.n()?;
        if ng != 0 && ng != b.p.level_rates.len() {
            return Err(corrupt());
        }
        let mut g = Vec::with_capacity(ng);
        for _ in 0..ng {
            g.push(r.d()?);
        }
        let failing = match r.u()? {
            0 => None,
            1 => Some(ClassKey {
                channel: r.s()?,
                product: r.s()?,
                liquidity: match r.u()? {
                    0 => None,
                    1 => Some(Liquidity::Maker),
                    2 => Some(Liquidity::Taker),
                    _ => return Err(corrupt()),
                },
                vip: u32::try_from(r.u()?).map_err(|_| corrupt())?,
                fee_discount: r.u()? != 0,
                affiliate_rate: r.d()?,
                attribution: match r.u()? {
                    0 => AttributionSource::BrokerCode,
                    1 => AttributionSource::SubAccount,
                    _ => return Err(corrupt()),
                },
            }),
            _ => return Err(corrupt()),
        };
        classes.push(b.group_of(Group {
            excluded,
            metrics,
            g,
            failing,
        }));
    }
    let n = r.n()?;
    let mut wide = BTreeMap::new();
    for _ in 0..n {
        let broker = match r.u()? {
            0 => NO_BROKER,
            x => *brokers.get(x as usize - 1).ok_or_else(corrupt)?,
        };
        let class = r.u()? as usize;
        let class = if broker == NO_BROKER {
            if class > 1 {
                return Err(corrupt());
            }
            class as u32
        } else {
            *classes.get(class).ok_or_else(corrupt)?
        };
        let unit = i64::try_from(r.i()?).map_err(|_| corrupt())?;
        let settled = r.u()? != 0;
        let sums = Sums {
            trades: r.u()?,
            notional: r.i()?,
            fee_pos: r.i()?,
            fee_neg: r.i()?,
        };
        let cell = b.cell_of(CellKey {
            broker,
            class,
            unit,
            settled,
        });
        b.sums[cell as usize] = sums;
        if r.u()? == 1 {
            wide.insert(
                cell,
                Wide {
                    notional: r.d()?,
                    fee_pos: r.d()?,
                    fee_neg: r.d()?,
                },
            );
        }
    }
    b.wide = wide;
    let n = r.n()?;
    for _ in 0..n {
        let br = *brokers.get(r.u()? as usize).ok_or_else(corrupt)?;
        let a = *accounts.get(r.u()? as usize).ok_or_else(corrupt)?;
        let d = i64::try_from(r.i()?).map_err(|_| corrupt())?;
        let m = u8::try_from(r.u()?).map_err(|_| corrupt())?;
        if m as usize >= b.p.metrics.len() {
            return Err(corrupt());
        }
        b.clients.insert(super::cells::client_key(br, a, d, m));
    }
    let n = r.n()?;
    for _ in 0..n {
        let id = r.os()?;
        let line = match r.u()? {
            0 => None,
            l => Some(l - 1),
        };
        let code = r.s()?;
        let code = ErrorCode::ALL
            .iter()
            .copied()
            .find(|c| c.as_str() == code)
            .ok_or_else(corrupt)?;
        let message = r.s()?;
        let field = r.os()?;
        b.rejected.push(Rejected {
            id,
            line,
            code,
            message,
            field,
        });
    }
    let n = r.n()?;
    let mut seen = Dedupe::default();
    seen.reserve(n as u64);
    for _ in 0..n {
        let (id, text, rest) = (r.b()?, r.b()?, r.b()?);
        if core::str::from_utf8(id).is_err()
            || !Text::well_formed(text, TEXT_FIELDS)
            || !rest_well_formed(rest)
        {
            return Err(corrupt());
        }
        let e = Entry {
            key: crate::dedupe::fingerprint_bytes(id),
            id,
            text,
            rest,
        };
        if seen.insert_entry(e)? != Seen::New {
            return Err(corrupt());
        }
    }
    b.seen = SeenStore::Local(seen);
    if r.at != body.len() {
        return Err(corrupt());
    }
    Ok(b)
}
