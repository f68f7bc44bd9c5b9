//! Seen-id tracking, exact. A later trade with a seen id is an identical duplicate (dropped)
//! or a different trade (`E_DUPLICATE_ID`); which one must never depend on a hash, in any
//! input order, at any scale. So each id's exact bytes and its trade's exact content (the
//! canonical encoding of [`crate::engine`]'s `seen` module) are kept in an append-only byte
//! arena per shard, and a compact open-addressed table of (64-bit id fingerprint, arena
//! offset) indexes them: 12 bytes a slot, in shards that grow by a quarter at a time (one
//! shard at a time), instead of a hash map of strings.
//!
//! The fingerprint only finds candidates. A fingerprint never seen is a new id (exact); on a
//! match the stored id is compared byte for byte (another id with the same fingerprint is
//! another entry: probing goes on), and for the same id the stored content decides `Same` or
//! `Conflict`. Memory: the arena holds the id and content bytes of every distinct trade
//! (about 60-80 bytes a trade on typical logs) on top of the table.

use crate::error::{Error, ErrorCode, Result};
use alloc::vec;
use alloc::vec::Vec;

const SHARDS: usize = 64;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Seen {
    New,
    /// The same id with the same content: an identical duplicate.
    Same,
    /// The same id with other content.
    Conflict,
}

/// A trade's content for de-duplication: its text fields and the canonical bytes of the rest
/// (time, decimals, flags). Text fields are kept as given (each length-prefixed, absent
/// marked), so comparing them is comparing the strings.
#[derive(Clone, Copy, Debug)]
pub enum Text<'a> {
    /// The fields themselves, in a fixed order.
    Parts(&'a [Option<&'a str>]),
    /// Their encoding, as [`Text::write`] gives it (a stored entry, a partial state).
    Encoded(&'a [u8]),
}

impl Text<'_> {
    /// Appends the encoding: per field, `0` when absent, else the varint `len + 1` and the
    /// bytes. Injective: different fields give different bytes.
    pub fn write(&self, out: &mut Vec<u8>) {
        match self {
            Text::Encoded(b) => out.extend_from_slice(b),
            Text::Parts(parts) => {
                for p in *parts {
                    match p {
                        None => out.push(0),
                        Some(s) => {
                            varint(out, s.len() as u64 + 1);
                            out.extend_from_slice(s.as_bytes());
                        }
                    }
                }
            }
        }
    }

    /// The length of [`Text::write`]'s bytes.
    pub fn encoded_len(&self) -> usize {
        match self {
            Text::Encoded(b) => b.len(),
            Text::Parts(parts) => parts
                .iter()
                .map(|p| match p {
                    None => 1,
                    Some(s) => varint_len(s.len() as u64 + 1) + s.len(),
                })
                .sum(),
        }
    }

    /// Whether this text encodes to exactly `enc`.
    fn equals(&self, enc: &[u8]) -> bool {
        match self {
            Text::Encoded(b) => *b == enc,
            Text::Parts(parts) => {
                let mut at = 0;
                for p in *parts {
                    let Some((n, used)) = read_varint(enc.get(at..).unwrap_or(&[])) else {
                        return false;
                    };
                    at += used;
                    match p {
                        None if n == 0 => {}
                        Some(s) if n == s.len() as u64 + 1 => {
                            if enc.get(at..at + s.len()) != Some(s.as_bytes()) {
                                return false;
                            }
                            at += s.len();
                        }
                        _ => return false,
                    }
                }
                at == enc.len()
            }
        }
    }

    /// Whether `enc` is a well-formed encoding of `fields` text fields (a decoded state's).
    pub fn well_formed(enc: &[u8], fields: usize) -> bool {
        let mut at = 0;
        for _ in 0..fields {
            let Some((n, used)) = read_varint(enc.get(at..).unwrap_or(&[])) else {
                return false;
            };
            at += used;
            if n > 0 {
                let Some(end) = usize::try_from(n - 1).ok().and_then(|l| at.checked_add(l)) else {
                    return false;
                };
                match enc.get(at..end).map(core::str::from_utf8) {
                    Some(Ok(_)) => at = end,
                    _ => return false,
                }
            }
        }
        at == enc.len()
    }
}

/// One stored trade: its id fingerprint, id bytes, text encoding and other content bytes.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub struct Entry<'a> {
    pub key: u64,
    pub id: &'a [u8],
    pub text: &'a [u8],
    pub rest: &'a [u8],
}

pub(crate) fn varint(out: &mut Vec<u8>, mut v: u64) {
    loop {
        let b = (v & 0x7f) as u8;
        v >>= 7;
        if v == 0 {
            out.push(b);
            return;
        }
        out.push(b | 0x80);
    }
}

fn varint_len(v: u64) -> usize {
    (64 - (v | 1).leading_zeros() as usize).div_ceil(7)
}

/// A varint and how many bytes it took, or `None` when cut short or past 64 bits.
fn read_varint(b: &[u8]) -> Option<(u64, usize)> {
    let mut v = 0u64;
    for (i, &x) in b.iter().enumerate().take(10) {
        v |= ((x & 0x7f) as u64) << (7 * i);
        if x & 0x80 == 0 {
            return Some((v, i + 1));
        }
    }
    None
}

#[derive(Clone, Debug)]
pub struct Dedupe {
    shards: Vec<Shard>,
    len: u64,
}

#[derive(Clone, Debug, Default)]
struct Shard {
    /// Id fingerprints; 0 marks an empty slot.
    keys: Vec<u64>,
    /// Where each slot's entry starts in `arena`.
    offs: Vec<u32>,
    len: usize,
    /// Entries back to back: varint id length, id, varint text length, text, varint rest
    /// length, rest. Append-only: one allocation per shard, none per trade.
    arena: Vec<u8>,
}

impl Default for Dedupe {
    fn default() -> Self {
        Dedupe {
            shards: vec![Shard::default(); SHARDS],
            len: 0,
        }
    }
}

const FULL: &str = "more than 4 GiB of trade ids and contents in one de-duplication shard";

fn full() -> Error {
    Error::new(
        ErrorCode::Overflow,
        alloc::format!("{FULL} (about 256 GiB in all): settle the input in partitions by id"),
    )
}

/// Whether `e` is the table's own limit: fatal on every path (as the batch path's is), never
/// one trade's rejection.
pub(crate) fn is_full(e: &Error) -> bool {
    e.code == ErrorCode::Overflow && e.message.starts_with(FULL)
}

pub fn fingerprint(id: &str) -> u64 {
    fingerprint_bytes(id.as_bytes())
}

pub fn fingerprint_bytes(id: &[u8]) -> u64 {
    match xxhash_rust::xxh3::xxh3_64(id) {
        0 => 1, // 0 marks an empty slot
        h => h,
    }
}

/// A bijective 64-bit mix (the splitmix64 finalizer).
fn mix(mut x: u64) -> u64 {
    x ^= x >> 30;
    x = x.wrapping_mul(0xbf58_476d_1ce4_e5b9);
    x ^= x >> 27;
    x = x.wrapping_mul(0x94d0_49bb_1331_11eb);
    x ^ (x >> 31)
}

/// A step near `cap` times the golden ratio's fraction, coprime to `cap`: walking a table
/// with it visits every slot once, in an order spread evenly over the table.
fn stride(cap: usize) -> usize {
    fn gcd(mut a: usize, mut b: usize) -> usize {
        while b != 0 {
            (a, b) = (b, a % b);
        }
        a
    }
    if cap < 2 {
        return 1;
    }
    let mut s = ((cap as u128 * 0x9e37_79b9_7f4a_7c15) >> 64) as usize | 1;
    while gcd(s, cap) != 1 {
        s += 2;
    }
    s % cap
}

impl Dedupe {
    /// Distinct ids stored.
    #[cfg(any(test, feature = "std"))]
    pub fn len(&self) -> u64 {
        self.len
    }

    /// Bytes held: tables and arenas (their capacity).
    #[cfg(test)]
    pub fn bytes(&self) -> usize {
        self.shards
            .iter()
            .map(|s| s.keys.capacity() * 12 + s.arena.capacity())
            .sum()
    }

    /// Every stored trade. Each table is walked with a stride coprime to its size, not slot
    /// by slot: in slot order the entries would reach another table (a merge) sorted by home
    /// slot and pile into one run there while it grows.
    pub fn entries(&self) -> impl Iterator<Item = Entry<'_>> + '_ {
        self.shards.iter().flat_map(|s| {
            let cap = s.keys.len();
            let stride = stride(cap);
            let mut at = 0usize;
            (0..cap).filter_map(move |_| {
                let i = at;
                at += stride;
                if at >= cap {
                    at -= cap;
                }
                let k = s.keys[i];
                if k == 0 {
                    return None;
                }
                let (id, text, rest) = s.entry(s.offs[i]);
                Some(Entry {
                    key: k,
                    id,
                    text,
                    rest,
                })
            })
        })
    }

    /// What [`Dedupe::insert`] would answer, without recording anything.
    pub fn check(&self, key: u64, id: &[u8], text: Text<'_>, rest: &[u8]) -> Seen {
        self.shards[key as usize % SHARDS].find(key, id, text, rest)
    }

    /// Room for about `more` more ids, spread over the shards: a reader that knows how many
    /// trades are coming saves the rebuilds of growing by a quarter at a time.
    pub fn reserve(&mut self, more: u64) {
        let per = (more / SHARDS as u64) as usize + 1;
        for s in &mut self.shards {
            s.reserve(per);
        }
    }

    /// Records the trade (when its id is new) and reports what was there. `key` is
    /// [`fingerprint`] of `id` (callers compute it ahead, to group inserts by shard).
    pub fn insert(&mut self, key: u64, id: &[u8], text: Text<'_>, rest: &[u8]) -> Result<Seen> {
        let shard = &mut self.shards[key as usize % SHARDS];
        let seen = shard.find(key, id, text, rest);
        if seen == Seen::New {
            shard.add(key, id, text, rest)?;
            self.len += 1;
        }
        Ok(seen)
    }

    /// An entry of another table (a merge, a decoded state).
    pub fn insert_entry(&mut self, e: Entry<'_>) -> Result<Seen> {
        self.insert(e.key, e.id, Text::Encoded(e.text), e.rest)
    }
}

impl Shard {
    /// Home slot from the high bits of the mixed key (the shard came from the key's low
    /// bits, so the two do not correlate). Mixing (a bijection) keeps keys that arrive
    /// sorted, as a decoded partial state's do, from all landing at the front of a table
    /// that is still growing: sorted keys there pile into one run that every insert walks,
    /// quadratic in the state's size.
    fn slot(key: u64, cap: usize) -> usize {
        ((mix(key) as u128 * cap as u128) >> 64) as usize
    }

    /// The (id, text, rest) stored at `off`; empty slices if the arena is not well formed
    /// there (it always is: only [`Shard::add`] writes it).
    fn entry(&self, off: u32) -> (&[u8], &[u8], &[u8]) {
        let mut at = off as usize;
        let mut next = || -> &[u8] {
            let tail = self.arena.get(at..).unwrap_or(&[]);
            let Some((n, used)) = read_varint(tail) else {
                return &[];
            };
            let start = at + used;
            let end = start.saturating_add(n as usize);
            at = end;
            self.arena.get(start..end).unwrap_or(&[])
        };
        let id = next();
        let text = next();
        let rest = next();
        (id, text, rest)
    }

    fn find(&self, key: u64, id: &[u8], text: Text<'_>, rest: &[u8]) -> Seen {
        let cap = self.keys.len();
        if cap == 0 {
            return Seen::New;
        }
        let mut i = Self::slot(key, cap);
        loop {
            match self.keys[i] {
                0 => return Seen::New,
                k if k == key => {
                    let (sid, stext, srest) = self.entry(self.offs[i]);
                    // Another id with the same fingerprint is another entry: probe on.
                    if sid == id {
                        return if srest == rest && text.equals(stext) {
                            Seen::Same
                        } else {
                            Seen::Conflict
                        };
                    }
                }
                _ => {}
            }
            i = if i + 1 == cap { 0 } else { i + 1 };
        }
    }

    fn add(&mut self, key: u64, id: &[u8], text: Text<'_>, rest: &[u8]) -> Result<()> {
        let off = u32::try_from(self.arena.len()).map_err(|_| full())?;
        varint(&mut self.arena, id.len() as u64);
        self.arena.extend_from_slice(id);
        varint(&mut self.arena, text.encoded_len() as u64);
        text.write(&mut self.arena);
        varint(&mut self.arena, rest.len() as u64);
        self.arena.extend_from_slice(rest);
        self.put(key, off);
        Ok(())
    }

    fn put(&mut self, key: u64, off: u32) {
        if (self.len + 1) * 8 > self.keys.len() * 7 {
            self.grow();
        }
        let cap = self.keys.len();
        let mut i = Self::slot(key, cap);
        while self.keys[i] != 0 {
            i = if i + 1 == cap { 0 } else { i + 1 };
        }
        self.keys[i] = key;
        self.offs[i] = off;
        self.len += 1;
    }

    fn grow(&mut self) {
        let cap = (self.keys.len() + self.keys.len() / 4).max(64);
        self.resize(cap);
    }

    /// Room for `more` ids without growing (the table is rebuilt once, now).
    fn reserve(&mut self, more: usize) {
        let want = (self.len + more) * 8 / 7 + 1;
        if want > self.keys.len() {
            self.resize(want);
        }
    }

    fn resize(&mut self, cap: usize) {
        let old_keys = core::mem::replace(&mut self.keys, vec![0; cap]);
        let old_offs = core::mem::replace(&mut self.offs, vec![0; cap]);
        self.len = 0;
        for (k, o) in old_keys.into_iter().zip(old_offs) {
            if k != 0 {
                self.put(k, o);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use alloc::format;
    use alloc::string::String;

    /// Longest run of occupied slots a lookup may walk: short runs mean keys spread out.
    fn longest_cluster(d: &Dedupe) -> usize {
        let mut longest = 0;
        for s in &d.shards {
            let mut run = 0;
            for k in &s.keys {
                run = if *k == 0 { 0 } else { run + 1 };
                longest = longest.max(run);
            }
        }
        longest
    }

    fn put(d: &mut Dedupe, id: &str, content: &str) -> Seen {
        d.insert(
            fingerprint(id),
            id.as_bytes(),
            Text::Parts(&[Some(content)]),
            b"r",
        )
        .unwrap()
    }

    #[test]
    fn keys_spread_over_every_shard_and_slot() {
        let mut d = Dedupe::default();
        for i in 0..200_000u32 {
            put(&mut d, &format!("trade-{i:09}"), "c");
        }
        // 200,000 keys at <= 7/8 load: runs stay in the hundreds; keys crowded into one part
        // of each table (the slot and the shard read the same bits) leave runs of thousands.
        assert!(
            longest_cluster(&d) < 1_000,
            "longest cluster {}",
            longest_cluster(&d)
        );
        let per_shard: Vec<usize> = d.shards.iter().map(|s| s.len).collect();
        assert!(
            per_shard.iter().all(|&n| n > 2_500 && n < 3_800),
            "{per_shard:?}"
        );
    }

    #[test]
    fn sorted_keys_and_merged_tables_do_not_pile_up() {
        // A decoded partial state inserts its keys sorted; a merge inserts another table's
        // entries. Neither may crowd one run (each insert would walk it: quadratic).
        let mut ids: Vec<(u64, String)> = (0..200_000u32)
            .map(|i| {
                let id = format!("trade-{i:09}");
                (fingerprint(&id), id)
            })
            .collect();
        ids.sort_unstable();
        let mut sorted = Dedupe::default();
        for (_, id) in &ids {
            assert_eq!(put(&mut sorted, id, "c"), Seen::New);
        }
        assert!(
            longest_cluster(&sorted) < 1_000,
            "sorted: {}",
            longest_cluster(&sorted)
        );
        let (mut a, mut b) = (Dedupe::default(), Dedupe::default());
        for (i, (_, id)) in ids.iter().enumerate() {
            put(if i % 2 == 0 { &mut a } else { &mut b }, id, "c");
        }
        for e in b.entries() {
            assert_eq!(a.insert_entry(e).unwrap(), Seen::New);
        }
        assert_eq!(a.len(), 200_000);
        assert!(
            longest_cluster(&a) < 1_000,
            "merged: {}",
            longest_cluster(&a)
        );
        let mut all: Vec<(u64, String)> = a
            .entries()
            .map(|e| (e.key, String::from_utf8(e.id.to_vec()).unwrap()))
            .collect();
        all.sort_unstable();
        assert_eq!(all, ids);
        // Entries carry their exact content across.
        assert_eq!(put(&mut a, "trade-000000001", "c"), Seen::Same);
        assert_eq!(put(&mut a, "trade-000000001", "d"), Seen::Conflict);
    }

    #[test]
    fn tells_new_same_and_conflict() {
        let mut d = Dedupe::default();
        for i in 0..100_000u32 {
            let id = format!("t{i}");
            assert_eq!(put(&mut d, &id, &format!("{i}")), Seen::New);
        }
        assert_eq!(d.len(), 100_000);
        assert_eq!(put(&mut d, "t5", "5"), Seen::Same);
        assert_eq!(put(&mut d, "t5", "6"), Seen::Conflict);
        let t5 = fingerprint("t5");
        assert_eq!(
            d.check(t5, b"t5", Text::Parts(&[Some("5")]), b"r"),
            Seen::Same
        );
        // The rest's bytes count as much as the text.
        assert_eq!(
            d.check(t5, b"t5", Text::Parts(&[Some("5")]), b"s"),
            Seen::Conflict
        );
        assert_eq!(
            d.check(t5, b"t5", Text::Parts(&[None]), b"r"),
            Seen::Conflict
        );
        let t = fingerprint("t100000");
        assert_eq!(
            d.check(t, b"t100000", Text::Parts(&[Some("0")]), b"r"),
            Seen::New
        );
        assert_eq!(d.len(), 100_000);
    }

    /// A real collision of the 64-bit id fingerprint cannot be found by search (2^32 work
    /// for a birthday pair), so the test hook is the key itself: `insert` takes it from the
    /// caller. Here many different ids share one key, as colliding fingerprints would.
    #[test]
    fn ids_with_one_fingerprint_stay_apart() {
        let mut d = Dedupe::default();
        let key = 0x1234_5678_9abc_def0;
        let ids: Vec<String> = (0..300).map(|i| format!("id-{i}")).collect();
        for (i, id) in ids.iter().enumerate() {
            let c = format!("content-{}", i % 7);
            let got = d
                .insert(key, id.as_bytes(), Text::Parts(&[Some(&c)]), b"")
                .unwrap();
            assert_eq!(got, Seen::New, "{id}");
        }
        assert_eq!(d.len(), 300);
        for (i, id) in ids.iter().enumerate().rev() {
            let same = format!("content-{}", i % 7);
            let other = format!("content-{}", (i + 1) % 7);
            let ins = |d: &mut Dedupe, c: &str| {
                d.insert(key, id.as_bytes(), Text::Parts(&[Some(c)]), b"")
                    .unwrap()
            };
            assert_eq!(ins(&mut d, &same), Seen::Same, "{id}");
            assert_eq!(ins(&mut d, &other), Seen::Conflict, "{id}");
        }
        assert_eq!(d.len(), 300);
        // ...and survive a merge into another table with their ids and contents.
        let mut m = Dedupe::default();
        for e in d.entries() {
            assert_eq!(m.insert_entry(e).unwrap(), Seen::New);
        }
        let got = m.insert(key, b"id-8", Text::Parts(&[Some("content-1")]), b"");
        assert_eq!(got.unwrap(), Seen::Same);
        let got = m.insert(key, b"id-8", Text::Parts(&[Some("content-2")]), b"");
        assert_eq!(got.unwrap(), Seen::Conflict);
    }

    #[test]
    fn text_encoding_is_injective_and_checked() {
        let cases: [&[Option<&str>]; 6] = [
            &[Some("ab"), Some("c")],
            &[Some("a"), Some("bc")],
            &[Some(""), Some("abc")],
            &[None, Some("abc")],
            &[Some("abc"), None],
            &[Some("abc"), Some("")],
        ];
        let mut encs = Vec::new();
        for c in cases {
            let t = Text::Parts(c);
            let mut b = Vec::new();
            t.write(&mut b);
            assert_eq!(b.len(), t.encoded_len());
            assert!(Text::well_formed(&b, 2));
            assert!(!Text::well_formed(&b, 3));
            assert!(t.equals(&b));
            encs.push(b);
        }
        for (i, a) in encs.iter().enumerate() {
            for (j, b) in encs.iter().enumerate() {
                assert_eq!(a == b, i == j, "{i} {j}");
                assert_eq!(Text::Parts(cases[i]).equals(b), i == j, "{i} {j}");
            }
        }
        assert!(!Text::well_formed(&[5, b'a'], 1));
        assert!(!Text::well_formed(&[2, 0xff], 1));
    }

    #[test]
    fn the_table_limit_is_its_own_error() {
        let e = full();
        assert!(is_full(&e), "{e:?}");
        assert!(!is_full(&Error::new(
            ErrorCode::Overflow,
            "a total of volume"
        )));
        assert_eq!(
            e.message,
            "more than 4 GiB of trade ids and contents in one de-duplication shard \
             (about 256 GiB in all): settle the input in partitions by id"
        );
    }

    #[test]
    fn memory_per_trade() {
        let mut d = Dedupe::default();
        d.reserve(100_000);
        for i in 0..100_000u32 {
            let id = format!("T{i:010}");
            put(&mut d, &id, "acct000684,BR188,api,futures");
        }
        // 11-byte id + 30-byte text + 1-byte rest + 3 length bytes = 45 in the arena, and
        // ~14 bytes of table (12 a slot at <= 7/8 load); arenas may hold up to twice that.
        let per = d.bytes() / 100_000;
        assert!(
            (45 + 12..=2 * 45 + 16).contains(&per),
            "{per} bytes a trade"
        );
    }
}
