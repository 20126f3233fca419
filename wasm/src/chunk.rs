//! `Chunk`: one block of a chunked n-d array of `f64`, and the kernels the
//! built-in array ops run on it (counter-based random, elementwise math,
//! sums over axes, concatenation).
//!
//! Kernels are plain loops in row-major order, so the same chunk gives the
//! same bits on every backend: sync and workers must agree exactly.

use serde::{Deserialize, Serialize};

/// A dense row-major block of `f64`s.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Chunk {
    shape: Vec<u32>,
    #[serde(with = "le_bytes")]
    data: Vec<f64>,
}

/// The most elements one chunk may hold (2^28 f64s: 2 GiB), so that a typo
/// in a shape is an error, not an out-of-memory abort of the tab.
const MAX_ELEMENTS: u64 = 1 << 28;

impl Chunk {
    /// A chunk of `shape` holding `data`; an error when the sizes disagree.
    pub fn new(shape: Vec<u32>, data: Vec<f64>) -> Result<Chunk, String> {
        let n = elements(&shape)?;
        if n != data.len() {
            return Err(format!(
                "shape {shape:?} holds {n} elements, but {} were given",
                data.len()
            ));
        }
        Ok(Chunk { shape, data })
    }

    /// The shape.
    pub fn shape(&self) -> &[u32] {
        &self.shape
    }

    /// The elements, row-major.
    pub fn data(&self) -> &[f64] {
        &self.data
    }

    /// Uniform values in [0, 1): element `i` of chunk `index` of a random
    /// array seeded with `seed` depends on those three numbers only, so any
    /// worker can make any chunk.
    pub fn random(shape: &[u32], seed: u64, index: u64) -> Result<Chunk, String> {
        let n = elements(shape)?;
        let base = splitmix(seed ^ splitmix(index));
        let data = (0..n as u64)
            .map(|i| (splitmix(base.wrapping_add(i)) >> 11) as f64 * (1.0 / (1u64 << 53) as f64))
            .collect();
        Ok(Chunk {
            shape: shape.to_vec(),
            data,
        })
    }

    /// `f` applied to every element.
    pub fn map(&self, f: fn(f64) -> f64) -> Chunk {
        Chunk {
            shape: self.shape.clone(),
            data: self.data.iter().map(|&x| f(x)).collect(),
        }
    }

    /// `f` applied to matching elements of two chunks of one shape.
    pub fn zip(&self, other: &Chunk, f: fn(f64, f64) -> f64) -> Result<Chunk, String> {
        if self.shape != other.shape {
            return Err(format!(
                "shapes {:?} and {:?} differ",
                self.shape, other.shape
            ));
        }
        let data = self
            .data
            .iter()
            .zip(&other.data)
            .map(|(&a, &b)| f(a, b))
            .collect();
        Ok(Chunk {
            shape: self.shape.clone(),
            data,
        })
    }

    /// The sum of all elements.
    pub fn sum(&self) -> f64 {
        self.data.iter().sum()
    }

    /// Sums over `axes`; the result keeps the other axes in order.
    pub fn sum_axes(&self, axes: &[u32]) -> Result<Chunk, String> {
        let rank = self.shape.len();
        if let Some(a) = axes.iter().find(|&&a| a as usize >= rank) {
            return Err(format!(
                "axis {a} is out of range for shape {:?}",
                self.shape
            ));
        }
        let keep: Vec<usize> = (0..rank).filter(|d| !axes.contains(&(*d as u32))).collect();
        let out_shape: Vec<u32> = keep.iter().map(|&d| self.shape[d]).collect();
        // The stride in the output of each input axis (0 for summed axes),
        // so an input position walks the output without division.
        let mut out_stride = vec![0usize; rank];
        let mut s = 1;
        for &d in keep.iter().rev() {
            out_stride[d] = s;
            s *= self.shape[d] as usize;
        }
        let mut out = vec![0.0; s];
        let mut index = vec![0usize; rank];
        let mut at = 0usize;
        for &x in &self.data {
            out[at] += x;
            // Advance the row-major counter, keeping `at` in step.
            for d in (0..rank).rev() {
                index[d] += 1;
                at += out_stride[d];
                if index[d] < self.shape[d] as usize {
                    break;
                }
                at -= out_stride[d] * index[d];
                index[d] = 0;
            }
        }
        Ok(Chunk {
            shape: out_shape,
            data: out,
        })
    }

    /// Chunks joined along axis 0; the other axes must agree.
    pub fn concat<'a>(parts: impl Iterator<Item = &'a Chunk>) -> Result<Chunk, String> {
        let mut shape: Option<Vec<u32>> = None;
        let mut data = Vec::new();
        for (i, part) in parts.enumerate() {
            match &mut shape {
                None if part.shape.is_empty() => {
                    return Err("cannot concatenate 0-dimensional chunks".into())
                }
                None => shape = Some(part.shape.clone()),
                Some(s) => {
                    if s.len() != part.shape.len() || s[1..] != part.shape[1..] {
                        return Err(format!(
                            "part {i} has shape {:?}, which does not stack on {s:?}",
                            part.shape
                        ));
                    }
                    s[0] += part.shape[0];
                }
            }
            data.extend_from_slice(&part.data);
        }
        let shape = shape.ok_or("nothing to concatenate")?;
        Ok(Chunk { shape, data })
    }
}

/// `f64`s as one byte string of little-endian values: postcard then copies
/// a slice instead of visiting every element (several times faster for
/// the chunks that cross between workers).
mod le_bytes {
    use serde::{Deserialize, Deserializer, Serializer};

    pub fn serialize<S: Serializer>(data: &[f64], s: S) -> Result<S::Ok, S::Error> {
        let bytes: Vec<u8> = data.iter().flat_map(|x| x.to_le_bytes()).collect();
        s.serialize_bytes(&bytes)
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<f64>, D::Error> {
        let bytes = serde_bytes::ByteBuf::deserialize(d)?;
        if bytes.len() % 8 != 0 {
            return Err(serde::de::Error::custom(format!(
                "{} bytes are not a whole number of f64s",
                bytes.len()
            )));
        }
        Ok(bytes
            .chunks_exact(8)
            .map(|b| f64::from_le_bytes([b[0], b[1], b[2], b[3], b[4], b[5], b[6], b[7]]))
            .collect())
    }
}

/// Elements in `shape`, refusing absurd sizes.
fn elements(shape: &[u32]) -> Result<usize, String> {
    let n = shape.iter().try_fold(1u64, |n, &d| n.checked_mul(d as u64));
    match n {
        Some(n) if n <= MAX_ELEMENTS => Ok(n as usize),
        _ => Err(format!(
            "shape {shape:?} is larger than {MAX_ELEMENTS} elements"
        )),
    }
}

/// SplitMix64's step from `x`: a fast bijective mixer; good enough for
/// uniform test data.
fn splitmix(x: u64) -> u64 {
    rask_core::splitmix::mix(x.wrapping_add(rask_core::splitmix::GAMMA))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sum_axes_matches_a_naive_sum() {
        let c = Chunk::random(&[3, 4, 5], 7, 1).unwrap();
        let s = c.sum_axes(&[1, 2]).unwrap();
        assert_eq!(s.shape(), &[3]);
        for i in 0..3 {
            let naive: f64 = c.data()[i * 20..(i + 1) * 20].iter().sum();
            assert!((s.data()[i] - naive).abs() < 1e-12);
        }
        let m = c.sum_axes(&[0]).unwrap();
        assert_eq!(m.shape(), &[4, 5]);
        let naive: f64 = (0..3).map(|i| c.data()[i * 20 + 7]).sum();
        assert!((m.data()[7] - naive).abs() < 1e-12);
        assert!((c.sum_axes(&[0, 1, 2]).unwrap().data()[0] - c.sum()).abs() < 1e-9);
    }

    #[test]
    fn random_is_a_function_of_seed_and_index() {
        let a = Chunk::random(&[10], 1, 2).unwrap();
        assert_eq!(a, Chunk::random(&[10], 1, 2).unwrap());
        assert_ne!(a, Chunk::random(&[10], 1, 3).unwrap());
        assert!(a.data().iter().all(|&x| (0.0..1.0).contains(&x)));
    }

    #[test]
    fn round_trips_through_postcard() {
        let c = Chunk::random(&[3, 5], 9, 0).unwrap();
        let bytes = postcard::to_allocvec(&c).unwrap();
        assert_eq!(postcard::from_bytes::<Chunk>(&bytes).unwrap(), c);
        assert!(postcard::from_bytes::<Chunk>(&bytes[..bytes.len() - 3]).is_err());
    }

    #[test]
    fn errors_name_the_shapes() {
        let a = Chunk::random(&[2, 3], 0, 0).unwrap();
        let b = Chunk::random(&[3, 2], 0, 0).unwrap();
        assert!(a.zip(&b, |x, y| x + y).unwrap_err().contains("[2, 3]"));
        assert!(a.sum_axes(&[4]).unwrap_err().contains("axis 4"));
        assert!(Chunk::concat([&a, &b].into_iter())
            .unwrap_err()
            .contains("part 1"));
        assert!(Chunk::random(&[1 << 20, 1 << 20], 0, 0).is_err());
        let c = Chunk::concat([&a, &a].into_iter()).unwrap();
        assert_eq!(c.shape(), &[4, 3]);
    }
}
