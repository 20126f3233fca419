//! Partial results of scans, how partials combine, and how the combined
//! partial becomes the value a user asked for.
//!
//! A scan returns a [`Partial`]; one `combine` task merges the partials of
//! all partitions in partition order (so float sums and `head` are
//! deterministic); a `finish` task turns the merge into a typed result.

use std::collections::BTreeMap;
use std::fmt;

use arrow_select::concat::concat_batches;
use rask_core::Inputs;
use serde::{Deserialize, Serialize};

use crate::error::FrameError;
use crate::ipc::Batch;
use crate::query::{Agg, Query};
use crate::schema::Dtype;

/// A number from an integer or a float column.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
pub enum Number {
    /// From an Int64 column.
    Int(i64),
    /// From a Float64 column.
    Float(f64),
}

impl Number {
    /// The number as a float.
    pub fn as_f64(self) -> f64 {
        match self {
            Number::Int(v) => v as f64,
            Number::Float(v) => v,
        }
    }

    /// The integer, if this is one.
    pub fn as_i64(self) -> Option<i64> {
        match self {
            Number::Int(v) => Some(v),
            Number::Float(_) => None,
        }
    }

    fn better(self, other: Number, max: bool) -> Number {
        let greater = match (self, other) {
            (Number::Int(a), Number::Int(b)) => a > b,
            (a, b) => a.as_f64() > b.as_f64(),
        };
        if greater == max {
            self
        } else {
            other
        }
    }
}

impl fmt::Display for Number {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Number::Int(v) => v.fmt(f),
            Number::Float(v) => v.fmt(f),
        }
    }
}

/// A group-by key: a value of an integer or text column.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub enum Key {
    /// From an Int64 column.
    Int(i64),
    /// From a Utf8 column.
    Str(String),
}

impl fmt::Display for Key {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Key::Int(v) => v.fmt(f),
            Key::Str(v) => v.fmt(f),
        }
    }
}

/// Count and sum of the non-null values seen; integers add up exactly.
#[derive(Clone, Copy, Debug, Default, PartialEq, Serialize, Deserialize)]
pub(crate) struct Moments {
    pub count: u64,
    pub int: i128,
    pub float: f64,
}

impl Moments {
    fn merge(&mut self, other: &Moments) {
        self.count += other.count;
        self.int += other.int;
        self.float += other.float;
    }

    fn sum(&self, dtype: Dtype, column: &str) -> Result<Number, FrameError> {
        match dtype {
            Dtype::Int64 => {
                i64::try_from(self.int)
                    .map(Number::Int)
                    .map_err(|_| FrameError::Overflow {
                        column: column.to_owned(),
                    })
            }
            _ => Ok(Number::Float(self.float)),
        }
    }

    fn mean(&self, dtype: Dtype) -> Option<f64> {
        let total = if dtype == Dtype::Int64 {
            self.int as f64
        } else {
            self.float
        };
        (self.count > 0).then(|| total / self.count as f64)
    }
}

/// What one partition contributes.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub(crate) enum Partial {
    Counts(Vec<u64>),
    Len(u64),
    Sum(Moments),
    Extreme { value: Option<Number>, max: bool },
    Rows { batch: Batch, limit: Option<u64> },
    Groups(Vec<(Key, Moments)>),
}

fn mismatch() -> FrameError {
    FrameError::Compute(rask_core::Error::Backend {
        backend: "rask-frame",
        message: "partials of different kinds cannot be combined".into(),
    })
}

/// The combine op: [`merge`] of its inputs.
pub(crate) fn combine(parts: Inputs<'_, Partial>) -> Result<Partial, FrameError> {
    merge(&parts.collect::<Vec<_>>())
}

/// Merges the partials of all partitions, in order.
pub(crate) fn merge(parts: &[&Partial]) -> Result<Partial, FrameError> {
    let Some(first) = parts.first() else {
        return Err(mismatch());
    };
    Ok(match first {
        Partial::Counts(c) => {
            let mut total = vec![0; c.len()];
            for p in parts {
                let Partial::Counts(c) = p else {
                    return Err(mismatch());
                };
                total.iter_mut().zip(c).for_each(|(t, c)| *t += c);
            }
            Partial::Counts(total)
        }
        Partial::Len(_) => {
            let mut total = 0;
            for p in parts {
                let Partial::Len(n) = p else {
                    return Err(mismatch());
                };
                total += n;
            }
            Partial::Len(total)
        }
        Partial::Sum(_) => {
            let mut total = Moments::default();
            for p in parts {
                let Partial::Sum(m) = p else {
                    return Err(mismatch());
                };
                total.merge(m);
            }
            Partial::Sum(total)
        }
        Partial::Extreme { max, .. } => {
            let mut best: Option<Number> = None;
            for p in parts {
                let Partial::Extreme { value, .. } = p else {
                    return Err(mismatch());
                };
                best = match (best, *value) {
                    (Some(a), Some(b)) => Some(a.better(b, *max)),
                    (a, b) => a.or(b),
                };
            }
            Partial::Extreme {
                value: best,
                max: *max,
            }
        }
        Partial::Rows { batch, limit } => {
            let mut batches = Vec::with_capacity(parts.len());
            for p in parts {
                let Partial::Rows { batch, .. } = p else {
                    return Err(mismatch());
                };
                batches.push(&batch.0);
            }
            let all = concat_batches(&batch.schema(), batches).map_err(|e| FrameError::Arrow {
                message: e.to_string(),
            })?;
            let n = limit.map_or(all.num_rows(), |l| all.num_rows().min(l as usize));
            Partial::Rows {
                batch: Batch(all.slice(0, n)),
                limit: *limit,
            }
        }
        Partial::Groups(_) => {
            let mut groups: BTreeMap<Key, Moments> = BTreeMap::new();
            for p in parts {
                let Partial::Groups(g) = p else {
                    return Err(mismatch());
                };
                for (k, m) in g {
                    groups.entry(k.clone()).or_default().merge(m);
                }
            }
            Partial::Groups(groups.into_iter().collect())
        }
    })
}

/// The column an aggregation reads, with its name and type.
fn target(q: &Query) -> (&str, Dtype) {
    let c = match &q.agg {
        Agg::Sum(c) | Agg::Extreme { column: c, .. } | Agg::Group { value: c, .. } => *c,
        Agg::Count(cols) => cols.first().copied().unwrap_or(0),
        Agg::Len | Agg::Rows { .. } => 0,
    };
    (q.schema.name(c), q.schema.dtype(c))
}

pub(crate) fn finish_count(p: &Partial, _: &Query) -> Result<u64, FrameError> {
    match p {
        Partial::Counts(c) => Ok(c.first().copied().unwrap_or(0)),
        _ => Err(mismatch()),
    }
}

pub(crate) fn finish_counts(p: &Partial, q: &Query) -> Result<Vec<(String, u64)>, FrameError> {
    match (p, &q.agg) {
        (Partial::Counts(c), Agg::Count(cols)) => Ok(cols
            .iter()
            .zip(c)
            .map(|(&i, &n)| (q.schema.name(i).to_owned(), n))
            .collect()),
        _ => Err(mismatch()),
    }
}

pub(crate) fn finish_len(p: &Partial, _: &Query) -> Result<u64, FrameError> {
    match p {
        Partial::Len(n) => Ok(*n),
        _ => Err(mismatch()),
    }
}

pub(crate) fn finish_sum(p: &Partial, q: &Query) -> Result<Number, FrameError> {
    let (column, dtype) = target(q);
    match p {
        Partial::Sum(m) => m.sum(dtype, column),
        _ => Err(mismatch()),
    }
}

pub(crate) fn finish_mean(p: &Partial, q: &Query) -> Result<Option<f64>, FrameError> {
    match p {
        Partial::Sum(m) => Ok(m.mean(target(q).1)),
        _ => Err(mismatch()),
    }
}

pub(crate) fn finish_extreme(p: &Partial, _: &Query) -> Result<Option<Number>, FrameError> {
    match p {
        Partial::Extreme { value, .. } => Ok(*value),
        _ => Err(mismatch()),
    }
}

pub(crate) fn finish_rows(p: &Partial, _: &Query) -> Result<Batch, FrameError> {
    match p {
        Partial::Rows { batch, .. } => Ok(batch.clone()),
        _ => Err(mismatch()),
    }
}

pub(crate) fn finish_group_sum(p: &Partial, q: &Query) -> Result<Vec<(Key, Number)>, FrameError> {
    let (column, dtype) = target(q);
    match p {
        Partial::Groups(g) => g
            .iter()
            .map(|(k, m)| Ok((k.clone(), m.sum(dtype, column)?)))
            .collect(),
        _ => Err(mismatch()),
    }
}

pub(crate) fn finish_group_count(p: &Partial, _: &Query) -> Result<Vec<(Key, u64)>, FrameError> {
    match p {
        Partial::Groups(g) => Ok(g.iter().map(|(k, m)| (k.clone(), m.count)).collect()),
        _ => Err(mismatch()),
    }
}

pub(crate) fn finish_group_mean(p: &Partial, q: &Query) -> Result<Vec<(Key, f64)>, FrameError> {
    let dtype = target(q).1;
    match p {
        // A group whose values are all null has a NaN mean, as in pandas.
        Partial::Groups(g) => Ok(g
            .iter()
            .map(|(k, m)| (k.clone(), m.mean(dtype).unwrap_or(f64::NAN)))
            .collect()),
        _ => Err(mismatch()),
    }
}
