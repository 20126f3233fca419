//! A hash map that grows a slice at a time.
//!
//! A hash map doubles its table when it fills, moving every entry at
//! once: at five million results (half a ten-million-task merge) that one
//! insert took the worker's loop over a second of CPU, and at ten million
//! over three, while heartbeats waited. [`SpreadMap`] splits its entries
//! over [`SHARDS`] maps of unequal shares, in steps of 2^(1/64): their
//! lengths stay in those ratios, so no two reach a doubling at the same
//! size, and each one doubles once per doubling of the whole. A growth
//! then moves about a 64th of the entries, a few tens of milliseconds at
//! ten million, spread evenly over the growth of the whole.

use std::hash::Hash;

use super::tasks::FastMap;

/// How many maps the entries are split over.
const SHARDS: usize = 64;

pub(super) struct SpreadMap<K, V> {
    shards: Vec<FastMap<K, V>>,
    /// Shard `i` takes the keys whose hash's top 32 bits are below
    /// `bounds[i]` and not below `bounds[i - 1]`.
    bounds: [u32; SHARDS],
    hasher: ahash::RandomState,
}

impl<K: Hash + Eq, V> Default for SpreadMap<K, V> {
    fn default() -> Self {
        let weight = |i: usize| (i as f64 / SHARDS as f64).exp2();
        let total: f64 = (0..SHARDS).map(weight).sum();
        let mut bounds = [u32::MAX; SHARDS];
        let mut sum = 0.0;
        for (i, b) in bounds.iter_mut().enumerate().take(SHARDS - 1) {
            sum += weight(i);
            *b = (sum / total * f64::from(u32::MAX)) as u32;
        }
        SpreadMap {
            shards: (0..SHARDS).map(|_| FastMap::default()).collect(),
            bounds,
            hasher: ahash::RandomState::new(),
        }
    }
}

impl<K: Hash + Eq, V> SpreadMap<K, V> {
    fn shard(&self, key: &K) -> usize {
        let top = (self.hasher.hash_one(key) >> 32) as u32;
        self.bounds.partition_point(|&b| b <= top).min(SHARDS - 1)
    }

    pub fn insert(&mut self, key: K, value: V) -> Option<V> {
        let s = self.shard(&key);
        self.shards[s].insert(key, value)
    }

    pub fn get(&self, key: &K) -> Option<&V> {
        self.shards[self.shard(key)].get(key)
    }

    pub fn get_mut(&mut self, key: &K) -> Option<&mut V> {
        let s = self.shard(key);
        self.shards[s].get_mut(key)
    }

    pub fn remove(&mut self, key: &K) -> Option<V> {
        let s = self.shard(key);
        self.shards[s].remove(key)
    }

    pub fn iter(&self) -> impl Iterator<Item = (&K, &V)> {
        self.shards.iter().flat_map(|m| m.iter())
    }

    pub fn values_mut(&mut self) -> impl Iterator<Item = &mut V> {
        self.shards.iter_mut().flat_map(|m| m.values_mut())
    }

    #[cfg(test)]
    fn shard_lens(&self) -> Vec<usize> {
        self.shards.iter().map(|m| m.len()).collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keeps_what_a_map_keeps() {
        let mut m = SpreadMap::default();
        for k in 0..10_000u64 {
            assert_eq!(m.insert(k, k * 2), None);
        }
        assert_eq!(m.insert(7, 1), Some(14));
        assert_eq!(m.get(&7), Some(&1));
        *m.get_mut(&8).unwrap() += 1;
        assert_eq!(m.remove(&8), Some(17));
        assert_eq!(m.get(&8), None);
        assert_eq!(m.iter().count(), 9_999);
        for v in m.values_mut() {
            *v = 0;
        }
        assert!(m.iter().all(|(_, v)| *v == 0));
    }

    #[test]
    fn shards_fill_in_unequal_shares_so_they_double_apart() {
        let mut m = SpreadMap::default();
        for k in 0..1_000_000u64 {
            m.insert(k, ());
        }
        let lens = m.shard_lens();
        // The largest share is twice the smallest (2^(63/64)), near enough.
        let ratio = lens[SHARDS - 1] as f64 / lens[0] as f64;
        assert!((1.8..2.2).contains(&ratio), "{lens:?}");
        assert!(lens.windows(8).all(|w| w[0] < w[7]), "{lens:?}");
    }
}
