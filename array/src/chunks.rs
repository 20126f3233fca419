//! Chunk grids: how an array's shape is cut into blocks along each axis,
//! and how a block's position in the grid maps to its place in the array.

use crate::error::ArrayError;

/// Per axis, the lengths of its chunks (the last one may be shorter).
pub(crate) type Chunks = Vec<Vec<usize>>;

/// Cuts `shape` into blocks of `sizes` along each axis. An axis of length
/// 0 has one empty chunk, so the grid is never empty.
pub(crate) fn regular(shape: &[usize], sizes: &[usize]) -> Result<Chunks, ArrayError> {
    let bad = |reason: String| ArrayError::BadChunks {
        shape: shape.to_vec(),
        chunks: sizes.to_vec(),
        reason,
    };
    if shape.len() != sizes.len() {
        return Err(bad(format!(
            "{} chunk sizes for {} dimensions",
            sizes.len(),
            shape.len()
        )));
    }
    shape
        .iter()
        .zip(sizes)
        .enumerate()
        .map(|(axis, (&n, &c))| {
            if c == 0 {
                return Err(bad(format!("chunk size 0 on axis {axis}")));
            }
            if n == 0 {
                return Ok(vec![0]);
            }
            Ok((0..n).step_by(c).map(|start| c.min(n - start)).collect())
        })
        .collect()
}

/// Number of chunks along each axis.
pub(crate) fn counts(chunks: &[Vec<usize>]) -> Vec<usize> {
    chunks.iter().map(Vec::len).collect()
}

/// Total number of chunks.
pub(crate) fn total(chunks: &[Vec<usize>]) -> usize {
    chunks.iter().map(Vec::len).product()
}

/// The grid position of the `flat`-th chunk, in C order.
pub(crate) fn position(mut flat: usize, counts: &[usize]) -> Vec<usize> {
    let mut pos = vec![0; counts.len()];
    for (p, &n) in pos.iter_mut().zip(counts).rev() {
        *p = flat % n;
        flat /= n;
    }
    pos
}

/// The flat (C order) index of a grid position.
pub(crate) fn flat(pos: &[usize], counts: &[usize]) -> usize {
    pos.iter().zip(counts).fold(0, |acc, (&p, &n)| acc * n + p)
}

/// The shape of the chunk at `pos`.
pub(crate) fn chunk_shape(chunks: &[Vec<usize>], pos: &[usize]) -> Vec<usize> {
    chunks.iter().zip(pos).map(|(c, &p)| c[p]).collect()
}

/// Where the chunk at `pos` starts, per axis.
pub(crate) fn chunk_start(chunks: &[Vec<usize>], pos: &[usize]) -> Vec<usize> {
    chunks
        .iter()
        .zip(pos)
        .map(|(c, &p)| c[..p].iter().sum())
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn edge_chunks_are_shorter() {
        assert_eq!(
            regular(&[10, 4], &[3, 4]).unwrap(),
            vec![vec![3, 3, 3, 1], vec![4]]
        );
        assert_eq!(regular(&[0], &[5]).unwrap(), vec![vec![0]]);
        let e = regular(&[4, 4], &[2]).unwrap_err().to_string();
        assert!(e.contains("1 chunk sizes for 2 dimensions"), "{e}");
        let e = regular(&[4], &[0]).unwrap_err().to_string();
        assert!(e.contains("chunk size 0 on axis 0"), "{e}");
    }

    #[test]
    fn positions_round_trip() {
        let counts = [2, 3, 4];
        for i in 0..24 {
            assert_eq!(flat(&position(i, &counts), &counts), i);
        }
        assert_eq!(position(5, &counts), vec![0, 1, 1]);
    }
}
