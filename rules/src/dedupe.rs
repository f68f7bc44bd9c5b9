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

impl Dedupe {
    #[cfg(test)]
    pub fn len(&self) -> u64 {
        self.len
    }

    /// Every (fingerprint, content) pair, in table order.
    pub fn entries(&self) -> impl Iterator<Item = (u64, u32)> + '_ {
        self.shards.iter().flat_map(|s| {
            s.keys
                .iter()
                .zip(&s.vals)
                .filter(|(k, _)| **k != 0)
                .map(|(k, v)| (*k, *v))
        })
    }

    /// Whether `id` was seen, without recording it.
    pub fn check(&self, key: u64, content: u32) -> Seen {
        self.shards[key as usize % SHARDS].find(key, content)
    }

    /// Records `id` (when new) and reports what was there.
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
    /// Home slot from the key's high bits (the shard came from its low bits, so the two
    /// choices are independent and keys spread over the whole table).
    fn slot(key: u64, cap: usize) -> usize {
        ((key as u128 * cap as u128) >> 64) as usize
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
