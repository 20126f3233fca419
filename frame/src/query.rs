//! What one scan task computes, as plain serde data: it travels to the
//! worker as a literal of the task, next to the partition.

use serde::{Deserialize, Serialize};

use crate::csv_scan::Format;
use crate::error::FrameError;
use crate::schema::{Dtype, Schema};

/// A value to compare a column with.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub enum Literal {
    /// An integer.
    Int(i64),
    /// A float.
    Float(f64),
    /// Text.
    Str(String),
}

impl From<i64> for Literal {
    fn from(v: i64) -> Self {
        Literal::Int(v)
    }
}

impl From<i32> for Literal {
    fn from(v: i32) -> Self {
        Literal::Int(v.into())
    }
}

impl From<f64> for Literal {
    fn from(v: f64) -> Self {
        Literal::Float(v)
    }
}

impl From<&str> for Literal {
    fn from(v: &str) -> Self {
        Literal::Str(v.to_owned())
    }
}

impl From<String> for Literal {
    fn from(v: String) -> Self {
        Literal::Str(v)
    }
}

/// A condition on one column, for [`Frame::filter`](crate::Frame::filter).
/// A null value satisfies only [`Pred::IsNull`].
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub enum Pred {
    /// Greater than (numeric columns).
    Gt(f64),
    /// Greater than or equal (numeric columns).
    Ge(f64),
    /// Less than (numeric columns).
    Lt(f64),
    /// Less than or equal (numeric columns).
    Le(f64),
    /// Equal to a number (numeric columns) or text (text columns).
    Eq(Literal),
    /// Not equal to a number or text (null values excluded).
    Ne(Literal),
    /// The value is null (empty).
    IsNull,
    /// The value is not null.
    NotNull,
}

impl Pred {
    /// `Pred::Eq(value.into())`.
    pub fn eq(value: impl Into<Literal>) -> Pred {
        Pred::Eq(value.into())
    }

    /// `Pred::Ne(value.into())`.
    pub fn ne(value: impl Into<Literal>) -> Pred {
        Pred::Ne(value.into())
    }

    /// An error unless this predicate applies to a column of type `dtype`.
    pub(crate) fn check(&self, column: &str, dtype: Dtype) -> Result<(), FrameError> {
        let fits = match self {
            Pred::Gt(_) | Pred::Ge(_) | Pred::Lt(_) | Pred::Le(_) => dtype.is_numeric(),
            Pred::Eq(Literal::Str(_)) | Pred::Ne(Literal::Str(_)) => dtype == Dtype::Utf8,
            Pred::Eq(_) | Pred::Ne(_) => dtype.is_numeric(),
            Pred::IsNull | Pred::NotNull => true,
        };
        if fits {
            Ok(())
        } else {
            Err(FrameError::WrongType {
                op: format!("filter {self:?}"),
                column: column.to_owned(),
                dtype,
            })
        }
    }

    /// Whether a number satisfies the predicate.
    #[inline]
    pub(crate) fn test_f64(&self, v: f64) -> bool {
        match self {
            Pred::Gt(x) => v > *x,
            Pred::Ge(x) => v >= *x,
            Pred::Lt(x) => v < *x,
            Pred::Le(x) => v <= *x,
            Pred::Eq(l) => literal_f64(l).is_some_and(|x| v == x),
            Pred::Ne(l) => literal_f64(l).is_some_and(|x| v != x),
            Pred::IsNull => false,
            Pred::NotNull => true,
        }
    }

    /// Whether an integer satisfies the predicate (exactly, for integer literals).
    #[inline]
    pub(crate) fn test_i64(&self, v: i64) -> bool {
        match self {
            Pred::Eq(Literal::Int(x)) => v == *x,
            Pred::Ne(Literal::Int(x)) => v != *x,
            _ => self.test_f64(v as f64),
        }
    }

    /// Whether text satisfies the predicate.
    #[inline]
    pub(crate) fn test_str(&self, v: &str) -> bool {
        match self {
            Pred::Eq(Literal::Str(x)) => v == x,
            Pred::Ne(Literal::Str(x)) => v != x,
            Pred::NotNull => true,
            _ => false,
        }
    }
}

fn literal_f64(l: &Literal) -> Option<f64> {
    match l {
        Literal::Int(x) => Some(*x as f64),
        Literal::Float(x) => Some(*x),
        Literal::Str(_) => None,
    }
}

/// The reduction a scan feeds.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub(crate) enum Agg {
    /// Non-null values of each column.
    Count(Vec<usize>),
    /// Rows.
    Len,
    /// Count and sum of a numeric column (for sum and mean).
    Sum(usize),
    /// Smallest (`max: false`) or largest value of a numeric column.
    Extreme { column: usize, max: bool },
    /// The rows themselves, these columns, at most `limit` of them.
    Rows {
        columns: Vec<usize>,
        limit: Option<u64>,
    },
    /// Count and sum of `value` per value of `key`.
    Group { key: usize, value: usize },
}

/// Everything a scan task needs besides its partition.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub(crate) struct Query {
    pub format: Format,
    pub schema: Schema,
    /// Conditions every row kept must meet.
    pub filters: Vec<(usize, Pred)>,
    pub agg: Agg,
}

impl Query {
    /// The columns the scan must read, ascending.
    pub(crate) fn needed(&self) -> Vec<usize> {
        let mut cols: Vec<usize> = self.filters.iter().map(|(c, _)| *c).collect();
        match &self.agg {
            Agg::Count(c) => cols.extend(c),
            Agg::Len => {}
            Agg::Sum(c) | Agg::Extreme { column: c, .. } => cols.push(*c),
            Agg::Rows { columns, .. } => cols.extend(columns),
            Agg::Group { key, value } => cols.extend([*key, *value]),
        }
        cols.sort_unstable();
        cols.dedup();
        cols
    }
}
