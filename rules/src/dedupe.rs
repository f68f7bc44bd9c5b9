//! Seen-id tracking in about 12 bytes a trade. A 10-million-trade log must settle in well
//! under 200 MB, and de-duplication is the one piece of state that grows with trades: each
//! id is kept as a 64-bit fingerprint with a 32-bit content fingerprint, in open-addressed
//! shards that grow by a quarter at a time (one shard at a time), instead of a hash map of
//! strings. Two different ids share a 64-bit fingerprint with probability ~n²/2⁶⁵.

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

#[derive(Clone, Debug)]
pub struct Dedupe {
    shards: Vec<Shard>,
    len: u64,
}

#[derive(Clone, Debug, Default)]
struct Shard {
    keys: Vec<u64>,
    vals: Vec<u32>,
    len: usize,
}

impl Default for Dedupe {
    fn default() -> Self {
        Dedupe {
            shards: vec![Shard::default(); SHARDS],
            len: 0,
        }
    }
}

pub fn fingerprint(id: &str) -> u64 {
    match xxhash_rust::xxh3::xxh3_64(id.as_bytes()) {
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
    #[cfg(test)]
    pub fn len(&self) -> u64 {
        self.len
    }

    /// Every (fingerprint, content) pair. Each table is walked with a stride coprime to its
    /// size, not slot by slot: in slot order the pairs would reach another table (a merge)
    /// sorted by home slot and pile into one run there while it grows.
    pub fn entries(&self) -> impl Iterator<Item = (u64, u32)> + '_ {
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
                (k != 0).then(|| (k, s.vals[i]))
            })
        })
    }

    /// Whether `id` was seen, without recording it.
    pub fn check(&self, key: u64, content: u32) -> Seen {
        self.shards[key as usize % SHARDS].find(key, content)
    }

    /// Records `id` (when new) and reports what was there.
    /// Room for about `more` more ids, spread over the shards: a reader that knows how many
    /// trades are coming saves the rebuilds of growing by a quarter at a time.
    pub fn reserve(&mut self, more: u64) {
        let per = (more / SHARDS as u64) as usize + 1;
        for s in &mut self.shards {
            s.reserve(per);
        }
    }

    pub fn insert(&mut self, key: u64, content: u32) -> Seen {
        let shard = &mut self.shards[key as usize % SHARDS];
        let seen = shard.find(key, content);
        if seen == Seen::New {
            shard.put(key, content);
            self.len += 1;
        }
        seen
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

    fn find(&self, key: u64, content: u32) -> Seen {
        let cap = self.keys.len();
        if cap == 0 {
            return Seen::New;
        }
        let mut i = Self::slot(key, cap);
        loop {
            match self.keys[i] {
                0 => return Seen::New,
                k if k == key => {
                    return if self.vals[i] == content {
                        Seen::Same
                    } else {
                        Seen::Conflict
                    }
                }
                _ => i = if i + 1 == cap { 0 } else { i + 1 },
            }
        }
    }

    fn put(&mut self, key: u64, content: u32) {
        if (self.len + 1) * 8 > self.keys.len() * 7 {
            self.grow();
        }
        let cap = self.keys.len();
        let mut i = Self::slot(key, cap);
        while self.keys[i] != 0 {
            i = if i + 1 == cap { 0 } else { i + 1 };
        }
        self.keys[i] = key;
        self.vals[i] = content;
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
        let old_vals = core::mem::replace(&mut self.vals, vec![0; cap]);
        self.len = 0;
        for (k, v) in old_keys.into_iter().zip(old_vals) {
            if k != 0 {
                self.put(k, v);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

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

    #[test]
    fn keys_spread_over_every_shard_and_slot() {
        let mut d = Dedupe::default();
        for i in 0..200_000u32 {
            d.insert(fingerprint(&alloc::format!("trade-{i:09}")), i);
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
        let mut keys: Vec<u64> = (0..200_000u32)
            .map(|i| fingerprint(&alloc::format!("trade-{i:09}")))
            .collect();
        keys.sort_unstable();
        let mut sorted = Dedupe::default();
        for (i, k) in keys.iter().enumerate() {
            assert_eq!(sorted.insert(*k, i as u32), Seen::New);
        }
        assert!(
            longest_cluster(&sorted) < 1_000,
            "sorted: {}",
            longest_cluster(&sorted)
        );
        let (mut a, mut b) = (Dedupe::default(), Dedupe::default());
        for (i, k) in keys.iter().enumerate() {
            if i % 2 == 0 {
                a.insert(*k, 1)
            } else {
                b.insert(*k, 1)
            };
        }
        for (k, v) in b.entries() {
            assert_eq!(a.insert(k, v), Seen::New);
        }
        assert_eq!(a.len(), 200_000);
        assert!(
            longest_cluster(&a) < 1_000,
            "merged: {}",
            longest_cluster(&a)
        );
        let mut all: Vec<u64> = a.entries().map(|(k, _)| k).collect();
        all.sort_unstable();
        assert_eq!(all, keys);
    }

    #[test]
    fn tells_new_same_and_conflict() {
        let mut d = Dedupe::default();
        for i in 0..100_000u32 {
            let id = alloc::format!("t{i}");
            assert_eq!(d.insert(fingerprint(&id), i), Seen::New);
        }
        assert_eq!(d.len(), 100_000);
        assert_eq!(d.insert(fingerprint("t5"), 5), Seen::Same);
        assert_eq!(d.insert(fingerprint("t5"), 6), Seen::Conflict);
        assert_eq!(d.check(fingerprint("t100000"), 0), Seen::New);
        assert_eq!(d.len(), 100_000);
    }
}
