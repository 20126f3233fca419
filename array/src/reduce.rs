//! Reductions over a set of axes: each chunk folds into a partial block
//! (reduced axes kept with length 1) in the same task that computes its
//! elements, then partials combine in a tree, `split_every` blocks per
//! axis per step, as Dask's `reduction` does.

use std::sync::Arc;

use serde::{Deserialize, Serialize};

use crate::block::Block;
use crate::expr::Core;
use crate::program::Sink;

/// What a reduction computes.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum Reduction {
    /// The sum (0 over nothing).
    Sum,
    /// The arithmetic mean (NaN over nothing).
    Mean,
    /// The least element. NaNs are skipped, as in `f64::min`.
    Min,
    /// The greatest element. NaNs are skipped, as in `f64::max`.
    Max,
}

impl Reduction {
    /// The name, for errors and task keys.
    pub fn name(self) -> &'static str {
        match self {
            Reduction::Sum => "sum",
            Reduction::Mean => "mean",
            Reduction::Min => "min",
            Reduction::Max => "max",
        }
    }

    pub(crate) fn fold(self) -> Fold {
        match self {
            Reduction::Sum | Reduction::Mean => Fold::Sum,
            Reduction::Min => Fold::Min,
            Reduction::Max => Fold::Max,
        }
    }
}

/// How partial results combine: a mean is a sum divided at the end.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) enum Fold {
    Sum,
    Min,
    Max,
}

impl Fold {
    fn identity(self) -> f64 {
        match self {
            Fold::Sum => 0.0,
            Fold::Min => f64::INFINITY,
            Fold::Max => f64::NEG_INFINITY,
        }
    }

    #[inline(always)]
    fn combine(self, a: f64, b: f64) -> f64 {
        match self {
            Fold::Sum => a + b,
            Fold::Min => a.min(b),
            Fold::Max => a.max(b),
        }
    }

    /// Folds a contiguous run. Eight independent lanes let the loop
    /// vectorise (and make the sum more accurate than one running total).
    #[inline(always)]
    fn run(self, values: &[f64]) -> f64 {
        let mut lanes = [self.identity(); 8];
        let mut groups = values.chunks_exact(8);
        for g in &mut groups {
            for (l, &v) in lanes.iter_mut().zip(g) {
                *l = self.combine(*l, v);
            }
        }
        let tail = groups
            .remainder()
            .iter()
            .fold(self.identity(), |a, &v| self.combine(a, v));
        let l = lanes;
        let quads = [
            self.combine(l[0], l[4]),
            self.combine(l[1], l[5]),
            self.combine(l[2], l[6]),
            self.combine(l[3], l[7]),
        ];
        let pairs = self.combine(
            self.combine(quads[0], quads[2]),
            self.combine(quads[1], quads[3]),
        );
        self.combine(pairs, tail)
    }

    /// `acc[i] = acc[i] ∘ values[i]`.
    #[inline(always)]
    fn accumulate(self, acc: &mut [f64], values: &[f64]) {
        match self {
            Fold::Sum => acc.iter_mut().zip(values).for_each(|(a, &v)| *a += v),
            Fold::Min => acc.iter_mut().zip(values).for_each(|(a, &v)| *a = a.min(v)),
            Fold::Max => acc.iter_mut().zip(values).for_each(|(a, &v)| *a = a.max(v)),
        }
    }
}

/// A reduction's parameters, as a literal of its tasks.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub(crate) struct ReduceSpec {
    pub(crate) fold: Fold,
    /// Per axis of the input: reduced or not.
    pub(crate) axes: Vec<bool>,
    /// Set on the tasks that produce final blocks: drop the reduced axes
    /// from the shape, and divide (for a mean) by this.
    pub(crate) finish: Option<Finish>,
}

/// The last step of a reduction.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
pub(crate) struct Finish {
    pub(crate) divide_by: Option<f64>,
}

impl ReduceSpec {
    /// Turns a partial block (reduced axes of length 1) into the result
    /// when this is the last step.
    pub(crate) fn finish(&self, mut block: Block) -> Block {
        if let Some(finish) = self.finish {
            if let Some(n) = finish.divide_by {
                block.data.iter_mut().for_each(|x| *x /= n);
            }
            block.shape = block
                .shape
                .iter()
                .zip(&self.axes)
                .filter(|(_, &r)| !r)
                .map(|(&n, _)| n)
                .collect();
        }
        block
    }

    /// Combines same-shaped partial blocks elementwise.
    pub(crate) fn combine(&self, blocks: &[&Block]) -> Block {
        let mut out = blocks.first().map(|b| (*b).clone()).unwrap_or_default();
        for b in &blocks[1..] {
            self.fold.accumulate(&mut out.data, &b.data);
        }
        self.finish(out)
    }
}

/// Folds the blocks of one chunk, as they are computed, into its partial.
pub(crate) struct ChunkReducer {
    fold: Fold,
    /// Outer groups of merged axes, innermost first: (length, stride in
    /// the output, 0 when reduced).
    outer: Vec<(usize, usize)>,
    /// Length of the innermost group of merged axes, and whether it is reduced.
    inner: usize,
    inner_reduced: bool,
    shape: Vec<usize>,
    out: Vec<f64>,
}

impl ChunkReducer {
    pub(crate) fn new(fold: Fold, axes: &[bool], chunk_shape: &[usize]) -> ChunkReducer {
        // Neighbouring axes that are both reduced (or both kept) act as one
        // axis; axes of length 1 do not matter at all. The chunk then is a
        // stack of rows of `inner` contiguous elements.
        let mut groups: Vec<(usize, bool)> = Vec::new();
        for (&n, &r) in chunk_shape.iter().zip(axes) {
            if n == 1 {
                continue;
            }
            match groups.last_mut() {
                Some((len, red)) if *red == r => *len *= n,
                _ => groups.push((n, r)),
            }
        }
        let (inner, inner_reduced) = groups.pop().unwrap_or((1, false));
        let mut stride = if inner_reduced { 1 } else { inner };
        let mut outer = Vec::with_capacity(groups.len());
        for &(len, reduced) in groups.iter().rev() {
            if reduced {
                outer.push((len, 0));
            } else {
                outer.push((len, stride));
                stride *= len;
            }
        }
        let shape: Vec<usize> = chunk_shape
            .iter()
            .zip(axes)
            .map(|(&n, &r)| if r { 1 } else { n })
            .collect();
        let out = vec![fold.identity(); shape.iter().product()];
        ChunkReducer {
            fold,
            outer,
            inner,
            inner_reduced,
            shape,
            out,
        }
    }

    pub(crate) fn into_block(self) -> Block {
        Block::new(self.shape, self.out)
    }
}

impl Sink for ChunkReducer {
    #[inline(always)]
    fn take(&mut self, start: usize, values: &[f64]) {
        let mut e = start;
        let mut i = 0;
        while i < values.len() {
            let (mut row, pos) = (e / self.inner, e % self.inner);
            let seg = (self.inner - pos).min(values.len() - i);
            let mut base = 0;
            for &(len, stride) in &self.outer {
                base += (row % len) * stride;
                row /= len;
            }
            let run = &values[i..i + seg];
            if self.inner_reduced {
                self.out[base] = self.fold.combine(self.out[base], self.fold.run(run));
            } else {
                self.fold
                    .accumulate(&mut self.out[base + pos..base + pos + seg], run);
            }
            i += seg;
            e += seg;
        }
    }
}

/// A lazy reduction of an array.
#[derive(Debug)]
pub(crate) struct ReduceNode {
    pub(crate) input: Arc<Core>,
    pub(crate) reduction: Reduction,
    /// Per axis of the input: reduced or not.
    pub(crate) axes: Vec<bool>,
    /// Per axis: how many blocks one tree step combines.
    pub(crate) split_every: Vec<usize>,
}

/// Dask's default: about 16 blocks combined per step, spread evenly over
/// the reduced axes.
pub(crate) const DEFAULT_SPLIT_EVERY: usize = 16;

/// Per-axis fan-in for a total fan-in of `split_every` over `reduced` axes.
pub(crate) fn per_axis(split_every: usize, reduced: usize) -> usize {
    let n = (split_every.max(2) as f64).powf(1.0 / reduced.max(1) as f64);
    // Guard against 16^(1/2) coming out as 3.9999.
    ((n + 1e-9).floor() as usize).max(2)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn reduce(fold: Fold, axes: &[bool], shape: &[usize], data: &[f64], block: usize) -> Block {
        let mut r = ChunkReducer::new(fold, axes, shape);
        for (k, piece) in data.chunks(block).enumerate() {
            r.take(k * block, piece);
        }
        r.into_block()
    }

    #[test]
    fn folds_any_axes_in_any_block_size() {
        let shape = [3, 4, 5];
        let data: Vec<f64> = (0..60).map(|i| (i * 7 % 11) as f64).collect();
        let a = ndarray::ArrayD::from_shape_vec(ndarray::IxDyn(&shape), data.clone()).unwrap();
        for mask in 0..8u32 {
            let axes: Vec<bool> = (0..3).map(|k| mask & (1 << k) != 0).collect();
            let mut want = a.clone();
            for k in (0..3).rev().filter(|&k| axes[k]) {
                want = want
                    .sum_axis(ndarray::Axis(k))
                    .insert_axis(ndarray::Axis(k));
            }
            for block in [1, 3, 7, 60] {
                let got = reduce(Fold::Sum, &axes, &shape, &data, block);
                assert_eq!(got.shape, want.shape(), "{axes:?}");
                assert_eq!(
                    got.data,
                    want.iter().copied().collect::<Vec<_>>(),
                    "{axes:?} block {block}"
                );
            }
        }
        let max = reduce(Fold::Max, &[true, false, true], &shape, &data, 4);
        assert_eq!(max.data, [10.0, 10.0, 10.0, 10.0]);
    }

    #[test]
    fn fan_in_per_axis() {
        assert_eq!(per_axis(16, 1), 16);
        assert_eq!(per_axis(16, 2), 4);
        assert_eq!(per_axis(16, 3), 2);
        assert_eq!(per_axis(1, 1), 2);
    }
}
