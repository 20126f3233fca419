//! The scan task: read one partition, parse only the columns the query
//! needs, and reduce them to a [`Partial`].
//!
//! A `count` or `len` without a filter never builds an array: it checks
//! each wanted field parses as its column's type and counts it. Everything
//! else parses the needed columns into Arrow arrays, filters them with
//! Arrow's kernel and reduces the arrays. A persisted frame's partitions
//! are batches parsed once ([`scan_held`]): only the filters and the
//! reduction run again.

use std::collections::HashMap;
use std::sync::Arc;

use arrow_array::builder::{Float64Builder, Int64Builder, StringBuilder};
use arrow_array::{
    Array, ArrayRef, BooleanArray, Float64Array, Int64Array, RecordBatch, RecordBatchOptions,
    StringArray,
};
use arrow_select::filter::filter_record_batch;

use crate::agg::{Key, Moments, Number, Partial};
use crate::csv_scan::{for_each_record, Fields, Flow, ScanError};
use crate::error::FrameError;
use crate::ipc::Batch;
use crate::parse::{is_f64, is_i64, parse_f64, parse_i64};
use crate::partition::{self, Partition};
use crate::query::{Agg, Pred, Query};
use crate::schema::Dtype;

/// A field that does not parse as its column's type: the record's offset
/// in the scanned buffer, the column, and the text.
#[derive(Debug)]
pub(crate) struct RowError {
    offset: usize,
    column: usize,
    text: Vec<u8>,
}

/// Scans `part` for `q`. The op every frame graph starts with.
pub(crate) fn scan(part: &Partition, q: &Query) -> Result<Partial, FrameError> {
    match &q.agg {
        Agg::Count(cols) if q.filters.is_empty() => count(part, q, cols).map(Partial::Counts),
        Agg::Len if q.filters.is_empty() => {
            let mut n = 0;
            records(part, q, 0, |_, _| {
                n += 1;
                Ok(true)
            })?;
            Ok(Partial::Len(n))
        }
        _ => reduce(load(part, q)?, q),
    }
}

/// Calls `f` on each record of `part`, block by block, with the first
/// `wanted` fields.
fn records(
    part: &Partition,
    q: &Query,
    wanted: usize,
    mut f: impl FnMut(usize, &Fields<'_>) -> Flow,
) -> Result<(), FrameError> {
    partition::stream(part, |block| {
        for_each_record(
            block.buf,
            block.owned_end,
            q.format,
            wanted,
            part.whole_file,
            block.eof,
            &mut f,
        )
        .map_err(|e| locate(e, part, block.base, q))
    })
}

fn arrow_error(e: arrow_schema::ArrowError) -> FrameError {
    FrameError::Arrow {
        message: e.to_string(),
    }
}

/// A scanner error, with the file, line and column named.
fn locate(e: ScanError, part: &Partition, base: u64, q: &Query) -> FrameError {
    match e {
        ScanError::Malformed(m) => FrameError::Malformed {
            path: part.path.clone(),
            line: partition::line_of(&part.path, base + m.offset as u64),
            message: m.message.to_owned(),
        },
        ScanError::Row(r) => FrameError::BadRow {
            path: part.path.clone(),
            line: partition::line_of(&part.path, base + r.offset as u64),
            column: q.schema.name(r.column).to_owned(),
            text: String::from_utf8_lossy(&r.text).into_owned(),
            expected: q.schema.dtype(r.column),
        },
    }
}

/// True if `v` (not empty) is a value of type `dtype`.
#[inline]
fn valid(v: &[u8], dtype: Dtype) -> bool {
    match dtype {
        Dtype::Int64 => is_i64(v),
        Dtype::Float64 => is_f64(v),
        Dtype::Utf8 => std::str::from_utf8(v).is_ok(),
    }
}

/// Non-null values of `cols`, each checked against its type.
fn count(part: &Partition, q: &Query, cols: &[usize]) -> Result<Vec<u64>, FrameError> {
    if let [c] = *cols {
        // One column, the common case: the type's check is chosen once,
        // not per value.
        let n = match q.schema.dtype(c) {
            Dtype::Int64 => count_one(part, q, c, is_i64),
            Dtype::Float64 => count_one(part, q, c, is_f64),
            Dtype::Utf8 => count_one(part, q, c, |v| std::str::from_utf8(v).is_ok()),
        }?;
        return Ok(vec![n]);
    }
    let typed: Vec<(usize, Dtype)> = cols.iter().map(|&c| (c, q.schema.dtype(c))).collect();
    let wanted = cols.iter().max().map_or(0, |&c| c + 1);
    let mut counts = vec![0u64; cols.len()];
    records(part, q, wanted, |offset, fields| {
        for (n, &(c, dtype)) in counts.iter_mut().zip(&typed) {
            match fields.get(c) {
                Some(v) if !v.is_empty() => {
                    if !valid(v, dtype) {
                        return Err(RowError {
                            offset,
                            column: c,
                            text: v.to_vec(),
                        });
                    }
                    *n += 1;
                }
                _ => {}
            }
        }
        Ok(true)
    })?;
    Ok(counts)
}

/// Non-null values of column `c` that pass `valid`.
fn count_one(
    part: &Partition,
    q: &Query,
    c: usize,
    valid: impl Fn(&[u8]) -> bool,
) -> Result<u64, FrameError> {
    let mut n = 0;
    records(part, q, c + 1, |offset, fields| {
        if let Some(v) = fields.get(c).filter(|v| !v.is_empty()) {
            if !valid(v) {
                return Err(RowError {
                    offset,
                    column: c,
                    text: v.to_vec(),
                });
            }
            n += 1;
        }
        Ok(true)
    })?;
    Ok(n)
}

/// Arrow builders for one column.
enum Builder {
    Int(Int64Builder),
    Float(Float64Builder),
    Str(StringBuilder),
}

impl Builder {
    fn new(dtype: Dtype) -> Builder {
        match dtype {
            Dtype::Int64 => Builder::Int(Int64Builder::new()),
            Dtype::Float64 => Builder::Float(Float64Builder::new()),
            Dtype::Utf8 => Builder::Str(StringBuilder::new()),
        }
    }

    /// Appends field `v` (`None` or empty: null); false if it does not parse.
    #[inline]
    fn push(&mut self, v: Option<&[u8]>) -> bool {
        let v = v.filter(|v| !v.is_empty());
        match (self, v) {
            (Builder::Int(b), None) => b.append_null(),
            (Builder::Float(b), None) => b.append_null(),
            (Builder::Str(b), None) => b.append_null(),
            (Builder::Int(b), Some(v)) => match parse_i64(v) {
                Some(x) => b.append_value(x),
                None => return false,
            },
            (Builder::Float(b), Some(v)) => match parse_f64(v) {
                Some(x) => b.append_value(x),
                None => return false,
            },
            (Builder::Str(b), Some(v)) => match std::str::from_utf8(v) {
                Ok(s) => b.append_value(s),
                Err(_) => return false,
            },
        }
        true
    }

    fn finish(self) -> ArrayRef {
        match self {
            Builder::Int(mut b) => Arc::new(b.finish()),
            Builder::Float(mut b) => Arc::new(b.finish()),
            Builder::Str(mut b) => Arc::new(b.finish()),
        }
    }
}

/// The needed columns of the partition's rows that pass the filters, as
/// one batch (columns in ascending column order).
struct Loaded {
    needed: Vec<usize>,
    batch: RecordBatch,
}

impl Loaded {
    fn column(&self, c: usize) -> &ArrayRef {
        // `needed` holds every column the query names.
        let i = self.needed.binary_search(&c).unwrap_or(0);
        self.batch.column(i)
    }
}

fn load(part: &Partition, q: &Query) -> Result<Loaded, FrameError> {
    let needed = q.needed();
    let mut builders: Vec<Builder> = needed
        .iter()
        .map(|&c| Builder::new(q.schema.dtype(c)))
        .collect();
    let wanted = needed.last().map_or(0, |&c| c + 1);
    // Without filters, `head(n)` needs only the first n rows.
    let limit = match &q.agg {
        Agg::Rows { limit: Some(n), .. } if q.filters.is_empty() => *n,
        _ => u64::MAX,
    };
    let mut rows = 0u64;
    if limit > 0 {
        records(part, q, wanted, |offset, fields| {
            for (b, &c) in builders.iter_mut().zip(&needed) {
                if !b.push(fields.get(c)) {
                    let text = fields.get(c).unwrap_or_default().to_vec();
                    return Err(RowError {
                        offset,
                        column: c,
                        text,
                    });
                }
            }
            rows += 1;
            Ok(rows < limit)
        })?;
    }
    let arrays: Vec<ArrayRef> = builders.into_iter().map(Builder::finish).collect();
    let options = RecordBatchOptions::new().with_row_count(Some(rows as usize));
    let batch = RecordBatch::try_new_with_options(q.schema.arrow(&needed), arrays, &options)
        .map_err(arrow_error)?;
    filtered(Loaded { needed, batch }, q)
}

/// The rows of `loaded` that pass every filter of `q`.
fn filtered(mut loaded: Loaded, q: &Query) -> Result<Loaded, FrameError> {
    if !q.filters.is_empty() {
        let mut keep = vec![true; loaded.batch.num_rows()];
        for (c, pred) in &q.filters {
            mask(loaded.column(*c), pred, &mut keep);
        }
        loaded.batch =
            filter_record_batch(&loaded.batch, &BooleanArray::from(keep)).map_err(arrow_error)?;
    }
    Ok(loaded)
}

/// Scans a held partition of a persisted frame for `q`: the CSV was parsed
/// when the frame was persisted, so this only picks the needed columns
/// (no copy), filters and reduces. The batch holds every column of
/// `q.schema`, in order.
pub(crate) fn scan_held(part: &Batch, q: &Query) -> Result<Partial, FrameError> {
    let expected = q.schema.arrow(&(0..q.schema.len()).collect::<Vec<_>>());
    let found = part.schema();
    let fits = found.fields().len() == expected.fields().len()
        && found
            .fields()
            .iter()
            .zip(expected.fields())
            .all(|(f, e)| f.data_type() == e.data_type());
    if !fits {
        // Only a partition from another frame can differ: say what each has.
        return Err(FrameError::Arrow {
            message: format!(
                "a held partition has columns {:?}, but the persisted frame has {:?}",
                fields(&found),
                fields(&expected)
            ),
        });
    }
    let needed = q.needed();
    let batch = part.project(&needed).map_err(arrow_error)?;
    reduce(filtered(Loaded { needed, batch }, q)?, q)
}

/// `name: type` of each field, for messages.
fn fields(schema: &arrow_schema::Schema) -> Vec<String> {
    schema
        .fields()
        .iter()
        .map(|f| format!("{}: {}", f.name(), f.data_type()))
        .collect()
}

/// Clears `keep[i]` where row `i` of `array` fails `pred`.
fn mask(array: &ArrayRef, pred: &Pred, keep: &mut [bool]) {
    let any = array.as_any();
    for (i, k) in keep.iter_mut().enumerate() {
        if !*k {
            continue;
        }
        *k = if array.is_null(i) {
            matches!(pred, Pred::IsNull)
        } else if let Some(a) = any.downcast_ref::<Int64Array>() {
            pred.test_i64(a.value(i))
        } else if let Some(a) = any.downcast_ref::<Float64Array>() {
            pred.test_f64(a.value(i))
        } else if let Some(a) = any.downcast_ref::<StringArray>() {
            pred.test_str(a.value(i))
        } else {
            false
        };
    }
}

/// Adds the non-null value `i` of `array` to `m`.
#[inline]
fn add(m: &mut Moments, array: &dyn Array, i: usize) {
    if array.is_null(i) {
        return;
    }
    m.count += 1;
    let any = array.as_any();
    if let Some(a) = any.downcast_ref::<Int64Array>() {
        m.int += i128::from(a.value(i));
    } else if let Some(a) = any.downcast_ref::<Float64Array>() {
        m.float += a.value(i);
    }
}

fn reduce(loaded: Loaded, q: &Query) -> Result<Partial, FrameError> {
    Ok(match &q.agg {
        Agg::Count(cols) => Partial::Counts(
            cols.iter()
                .map(|&c| {
                    let a = loaded.column(c);
                    (a.len() - a.null_count()) as u64
                })
                .collect(),
        ),
        Agg::Len => Partial::Len(loaded.batch.num_rows() as u64),
        Agg::Sum(c) => {
            let a = loaded.column(*c);
            let mut m = Moments::default();
            (0..a.len()).for_each(|i| add(&mut m, a.as_ref(), i));
            Partial::Sum(m)
        }
        Agg::Extreme { column, max } => Partial::Extreme {
            value: extreme(loaded.column(*column), *max),
            max: *max,
        },
        Agg::Rows { columns, limit } => {
            let indices: Vec<usize> = columns
                .iter()
                .map(|c| loaded.needed.binary_search(c).unwrap_or(0))
                .collect();
            let batch = loaded.batch.project(&indices).map_err(arrow_error)?;
            let n = limit.map_or(batch.num_rows(), |l| batch.num_rows().min(l as usize));
            Partial::Rows {
                batch: Batch(batch.slice(0, n)),
                limit: *limit,
            }
        }
        Agg::Group { key, value } => {
            Partial::Groups(groups(loaded.column(*key), loaded.column(*value)))
        }
    })
}

/// The smallest or largest non-null, non-NaN value.
fn extreme(array: &ArrayRef, max: bool) -> Option<Number> {
    let any = array.as_any();
    let pick = |a, b| if (a > b) == max { a } else { b };
    if let Some(a) = any.downcast_ref::<Int64Array>() {
        a.iter()
            .flatten()
            .reduce(|x, y| if (x > y) == max { x } else { y })
            .map(Number::Int)
    } else if let Some(a) = any.downcast_ref::<Float64Array>() {
        a.iter()
            .flatten()
            .filter(|v| !v.is_nan())
            .reduce(pick)
            .map(Number::Float)
    } else {
        None
    }
}

/// Moments of `values` per non-null value of `keys`.
fn groups(keys: &ArrayRef, values: &ArrayRef) -> Vec<(Key, Moments)> {
    let any = keys.as_any();
    if let Some(k) = any.downcast_ref::<Int64Array>() {
        let mut g: HashMap<i64, Moments> = HashMap::new();
        for i in (0..k.len()).filter(|&i| k.is_valid(i)) {
            add(g.entry(k.value(i)).or_default(), values.as_ref(), i);
        }
        g.into_iter().map(|(k, m)| (Key::Int(k), m)).collect()
    } else if let Some(k) = any.downcast_ref::<StringArray>() {
        let mut g: HashMap<&str, Moments> = HashMap::new();
        for i in (0..k.len()).filter(|&i| k.is_valid(i)) {
            add(g.entry(k.value(i)).or_default(), values.as_ref(), i);
        }
        g.into_iter()
            .map(|(k, m)| (Key::Str(k.to_owned()), m))
            .collect()
    } else {
        Vec::new()
    }
}
