//! Uniform random numbers from a counter-based generator: element `i` of
//! chunk `c` is a pure function of `(seed, c, i)`, so a chunk can be made
//! block by block, on any backend, in any order, and always comes out the
//! same.
//!
//! The generator is SplitMix64's output function applied to a Weyl
//! sequence: `mix(key + (i + 1) * GAMMA)`, with `key` mixed from the seed
//! and the chunk's index. Each element is a handful of integer operations
//! with no carried state, so the loop vectorises. The top 52 bits become
//! the mantissa of a float in [1, 2), minus one: uniform on [0, 1) in
//! steps of 2^-52.

use rask_core::splitmix::{mix, GAMMA};

/// The key of chunk `chunk` of the array made with `seed`.
pub(crate) fn chunk_key(seed: u64, chunk: u64) -> u64 {
    mix(
        mix(seed ^ 0x6A09_E667_F3BC_C909).wrapping_add(chunk.wrapping_mul(GAMMA))
            ^ 0xBB67_AE85_84CA_A73B,
    )
}

/// Writes elements `start .. start + out.len()` of the chunk keyed `key`.
#[inline(always)]
pub(crate) fn fill(key: u64, start: u64, out: &mut [f64]) {
    let base = key.wrapping_add(start.wrapping_add(1).wrapping_mul(GAMMA));
    for (i, o) in out.iter_mut().enumerate() {
        let bits = mix(base.wrapping_add((i as u64).wrapping_mul(GAMMA)));
        *o = f64::from_bits(0x3FF0_0000_0000_0000 | (bits >> 12)) - 1.0;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn blocks_agree_with_the_whole() {
        let key = chunk_key(42, 7);
        let mut whole = vec![0.0; 1000];
        fill(key, 0, &mut whole);
        let mut part = vec![0.0; 300];
        fill(key, 500, &mut part);
        assert_eq!(&whole[500..800], &part[..]);
    }

    #[test]
    fn uniform_on_unit_interval() {
        let mut xs = vec![0.0; 100_000];
        fill(chunk_key(1, 0), 0, &mut xs);
        assert!(xs.iter().all(|&x| (0.0..1.0).contains(&x)));
        let mean = xs.iter().sum::<f64>() / xs.len() as f64;
        let var = xs.iter().map(|x| (x - mean).powi(2)).sum::<f64>() / xs.len() as f64;
        // Standard error of the mean is 0.29 / sqrt(1e5) ≈ 0.0009.
        assert!((mean - 0.5).abs() < 0.005, "{mean}");
        assert!((var - 1.0 / 12.0).abs() < 0.002, "{var}");
        // Tenths are evenly filled.
        let mut bins = [0usize; 10];
        xs.iter().for_each(|&x| bins[(x * 10.0) as usize] += 1);
        assert!(
            bins.iter().all(|&b| (9_500..10_500).contains(&b)),
            "{bins:?}"
        );
    }

    #[test]
    fn seeds_and_chunks_differ() {
        let mut a = vec![0.0; 8];
        let mut b = vec![0.0; 8];
        let mut c = vec![0.0; 8];
        fill(chunk_key(1, 0), 0, &mut a);
        fill(chunk_key(2, 0), 0, &mut b);
        fill(chunk_key(1, 1), 0, &mut c);
        assert_ne!(a, b);
        assert_ne!(a, c);
    }
}
