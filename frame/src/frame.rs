//! [`Frame`], [`Column`] and [`GroupBy`]: the lazy, partitioned view of CSV
//! files that users hold. Selecting columns and filtering only change what
//! the scan tasks will read; the reductions return [`Lazy`] results.

use std::sync::Arc;

use rask_core::Held;

use crate::agg::{self, Key, Number};
use crate::csv_scan::Format;
use crate::error::FrameError;
use crate::ipc::Batch;
use crate::lazy::Lazy;
use crate::partition::Partition;
use crate::persist::Source;
use crate::query::{Agg, Pred, Query};
use crate::schema::{Dtype, Schema};

/// A lazy, partitioned data frame over CSV files (see [`read_csv`](crate::read_csv)),
/// or over partitions a persist parsed and kept (see [`Persistable`](rask_core::Persistable)).
/// Cheap to clone.
#[derive(Clone, Debug)]
pub struct Frame {
    source: Source,
    schema: Arc<Schema>,
    format: Format,
    /// The columns in view, in order (a projection of the files' columns).
    columns: Vec<usize>,
    filters: Vec<(usize, Pred)>,
}

impl Frame {
    pub(crate) fn new(partitions: Vec<Partition>, schema: Schema, format: Format) -> Frame {
        let columns = (0..schema.len()).collect();
        Frame {
            source: Source::Csv(partitions.into()),
            schema: Arc::new(schema),
            format,
            columns,
            filters: Vec::new(),
        }
    }

    /// This frame over `held`, one kept batch per partition holding the
    /// columns in view and the rows that pass the filters: so the new
    /// frame's schema is the columns in view, and it has no filter.
    pub(crate) fn over_held(&self, held: Arc<[Held]>) -> Frame {
        let schema = Schema::new(
            self.columns
                .iter()
                .map(|&c| self.schema.name(c).to_owned())
                .collect(),
            self.columns.iter().map(|&c| self.schema.dtype(c)).collect(),
        );
        Frame {
            source: Source::Held(held),
            columns: (0..schema.len()).collect(),
            schema: Arc::new(schema),
            format: self.format,
            filters: Vec::new(),
        }
    }

    pub(crate) fn source(&self) -> &Source {
        &self.source
    }

    /// The query of a scan keeping this frame's rows and columns in view:
    /// what a persist computes per partition.
    pub(crate) fn rows_query(&self) -> Query {
        self.query(Agg::Rows {
            columns: self.columns.clone(),
            limit: None,
        })
    }

    /// The names of the columns in view.
    pub fn columns(&self) -> Vec<&str> {
        self.columns.iter().map(|&c| self.schema.name(c)).collect()
    }

    /// The type of column `name`.
    pub fn dtype(&self, name: &str) -> Result<Dtype, FrameError> {
        self.index(name).map(|c| self.schema.dtype(c))
    }

    /// The byte ranges the scan tasks read, one task each; none for a
    /// persisted frame, whose partitions are kept rows.
    pub fn partitions(&self) -> &[Partition] {
        match &self.source {
            Source::Csv(p) => p,
            Source::Held(_) => &[],
        }
    }

    /// Number of partitions.
    pub fn npartitions(&self) -> usize {
        self.source.len()
    }

    /// The file column called `name`, if it is in view.
    fn index(&self, name: &str) -> Result<usize, FrameError> {
        self.schema
            .index_of(name)
            .filter(|c| self.columns.contains(c))
            .ok_or_else(|| FrameError::MissingColumn {
                column: name.to_owned(),
                available: self.columns().into_iter().map(str::to_owned).collect(),
            })
    }

    /// Only the columns `names`, in that order.
    pub fn select(&self, names: &[&str]) -> Result<Frame, FrameError> {
        let columns = names
            .iter()
            .map(|n| self.index(n))
            .collect::<Result<_, _>>()?;
        Ok(Frame {
            columns,
            ..self.clone()
        })
    }

    /// One column (`df["Key"]`).
    pub fn column(&self, name: &str) -> Result<Column, FrameError> {
        let index = self.index(name)?;
        Ok(Column {
            frame: Frame {
                columns: vec![index],
                ..self.clone()
            },
            index,
        })
    }

    /// The rows whose `column` satisfies `pred` (all filters must hold).
    pub fn filter(&self, column: &str, pred: Pred) -> Result<Frame, FrameError> {
        let c = self.index(column)?;
        pred.check(column, self.schema.dtype(c))?;
        let mut filters = self.filters.clone();
        filters.push((c, pred));
        Ok(Frame {
            filters,
            ..self.clone()
        })
    }

    /// The query of a scan computing `agg` over this frame's rows.
    fn query(&self, agg: Agg) -> Query {
        Query {
            format: self.format,
            schema: (*self.schema).clone(),
            filters: self.filters.clone(),
            agg,
        }
    }

    fn lazy<T, F>(&self, name: &str, agg: Agg, finish: F) -> Lazy<T>
    where
        T: std::any::Any + Send + Sync + Clone + serde::Serialize + serde::de::DeserializeOwned,
        F: Fn(&agg::Partial, &Query) -> Result<T, FrameError> + Copy + Send + Sync + 'static,
    {
        Lazy::new(name, self.source.clone(), self.query(agg), finish)
    }

    /// Number of rows (`len(df)`).
    pub fn len(&self) -> Lazy<u64> {
        self.lazy("len", Agg::Len, agg::finish_len)
    }

    /// Non-null values of each column in view (`df.count()`).
    pub fn count(&self) -> Lazy<Vec<(String, u64)>> {
        self.lazy(
            "count",
            Agg::Count(self.columns.clone()),
            agg::finish_counts,
        )
    }

    /// The first `n` rows, in file order.
    pub fn head(&self, n: u64) -> Lazy<Batch> {
        let agg = Agg::Rows {
            columns: self.columns.clone(),
            limit: Some(n),
        };
        self.lazy("head", agg, agg::finish_rows)
    }

    /// Every row, as one batch.
    pub fn collect(&self) -> Lazy<Batch> {
        let agg = Agg::Rows {
            columns: self.columns.clone(),
            limit: None,
        };
        self.lazy("collect", agg, agg::finish_rows)
    }

    /// Groups rows by the integer or text column `key` (null keys dropped).
    pub fn groupby(&self, key: &str) -> Result<GroupBy, FrameError> {
        let c = self.index(key)?;
        let dtype = self.schema.dtype(c);
        if dtype == Dtype::Float64 {
            return Err(FrameError::WrongType {
                op: "group-by".into(),
                column: key.to_owned(),
                dtype,
            });
        }
        Ok(GroupBy {
            frame: self.clone(),
            key: c,
        })
    }

    fn numeric(&self, op: &str, c: usize) -> Result<(), FrameError> {
        let dtype = self.schema.dtype(c);
        if dtype.is_numeric() {
            Ok(())
        } else {
            Err(FrameError::WrongType {
                op: op.to_owned(),
                column: self.schema.name(c).to_owned(),
                dtype,
            })
        }
    }
}

/// One column of a frame (`df["Key"]`), with the frame's filters.
#[derive(Clone, Debug)]
pub struct Column {
    frame: Frame,
    index: usize,
}

impl Column {
    /// The column's name.
    pub fn name(&self) -> &str {
        self.frame.schema.name(self.index)
    }

    /// The column's type.
    pub fn dtype(&self) -> Dtype {
        self.frame.schema.dtype(self.index)
    }

    /// Non-null values (`df["Key"].count()`).
    pub fn count(&self) -> Lazy<u64> {
        self.frame
            .lazy("count", Agg::Count(vec![self.index]), agg::finish_count)
    }

    /// Number of rows, null or not.
    pub fn len(&self) -> Lazy<u64> {
        self.frame.len()
    }

    /// Sum of the non-null values: an integer for an integer column.
    pub fn sum(&self) -> Result<Lazy<Number>, FrameError> {
        self.frame.numeric("sum", self.index)?;
        Ok(self
            .frame
            .lazy("sum", Agg::Sum(self.index), agg::finish_sum))
    }

    /// Mean of the non-null values; `None` when there is none.
    pub fn mean(&self) -> Result<Lazy<Option<f64>>, FrameError> {
        self.frame.numeric("mean", self.index)?;
        Ok(self
            .frame
            .lazy("mean", Agg::Sum(self.index), agg::finish_mean))
    }

    /// Smallest non-null value (NaN skipped); `None` when there is none.
    pub fn min(&self) -> Result<Lazy<Option<Number>>, FrameError> {
        self.frame.numeric("min", self.index)?;
        Ok(self.frame.lazy(
            "min",
            Agg::Extreme {
                column: self.index,
                max: false,
            },
            agg::finish_extreme,
        ))
    }

    /// Largest non-null value (NaN skipped); `None` when there is none.
    pub fn max(&self) -> Result<Lazy<Option<Number>>, FrameError> {
        self.frame.numeric("max", self.index)?;
        Ok(self.frame.lazy(
            "max",
            Agg::Extreme {
                column: self.index,
                max: true,
            },
            agg::finish_extreme,
        ))
    }

    /// The first `n` values, as a one-column batch.
    pub fn head(&self, n: u64) -> Lazy<Batch> {
        self.frame.head(n)
    }
}

/// Rows grouped by one column; results are sorted by key.
#[derive(Clone, Debug)]
pub struct GroupBy {
    frame: Frame,
    key: usize,
}

impl GroupBy {
    fn agg(&self, value: &str) -> Result<Agg, FrameError> {
        Ok(Agg::Group {
            key: self.key,
            value: self.frame.index(value)?,
        })
    }

    /// Sum of `value` per key (0 for a group whose values are all null).
    pub fn sum(&self, value: &str) -> Result<Lazy<Vec<(Key, Number)>>, FrameError> {
        let agg = self.agg(value)?;
        self.frame.numeric("sum", self.frame.index(value)?)?;
        Ok(self.frame.lazy("groupby-sum", agg, agg::finish_group_sum))
    }

    /// Non-null values of `value` per key.
    pub fn count(&self, value: &str) -> Result<Lazy<Vec<(Key, u64)>>, FrameError> {
        let agg = self.agg(value)?;
        Ok(self
            .frame
            .lazy("groupby-count", agg, agg::finish_group_count))
    }

    /// Mean of `value` per key (NaN for a group whose values are all null).
    pub fn mean(&self, value: &str) -> Result<Lazy<Vec<(Key, f64)>>, FrameError> {
        let agg = self.agg(value)?;
        self.frame.numeric("mean", self.frame.index(value)?)?;
        Ok(self.frame.lazy("groupby-mean", agg, agg::finish_group_mean))
    }
}
