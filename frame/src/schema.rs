//! Column names and types: read from the header, types guessed from a
//! sample of rows (integer if every value is one, else float, else text),
//! as pandas does from its first chunk.

use std::sync::Arc;

use arrow_schema::{DataType, Field};
use serde::{Deserialize, Serialize};

use crate::csv_scan::{for_each_record, Format};
use crate::parse::{is_f64, parse_i64};

/// The type of a column.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum Dtype {
    /// 64-bit signed integers (Arrow `Int64`).
    Int64,
    /// 64-bit floats (Arrow `Float64`).
    Float64,
    /// UTF-8 text (Arrow `Utf8`).
    Utf8,
}

impl Dtype {
    /// The Arrow type.
    pub fn arrow(self) -> DataType {
        match self {
            Dtype::Int64 => DataType::Int64,
            Dtype::Float64 => DataType::Float64,
            Dtype::Utf8 => DataType::Utf8,
        }
    }

    /// True for the number types.
    pub fn is_numeric(self) -> bool {
        matches!(self, Dtype::Int64 | Dtype::Float64)
    }

    /// "an integer", for messages about one value.
    pub(crate) fn described(self) -> &'static str {
        match self {
            Dtype::Int64 => "an integer (Int64)",
            Dtype::Float64 => "a number (Float64)",
            Dtype::Utf8 => "valid UTF-8 text (Utf8)",
        }
    }

    /// "integers", for messages about a column.
    pub(crate) fn plural(self) -> &'static str {
        match self {
            Dtype::Int64 => "integers (Int64)",
            Dtype::Float64 => "floats (Float64)",
            Dtype::Utf8 => "text (Utf8)",
        }
    }
}

/// The columns of a frame, in file order.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Schema {
    names: Vec<String>,
    dtypes: Vec<Dtype>,
}

impl Schema {
    /// A schema from names and types of equal length.
    pub(crate) fn new(names: Vec<String>, dtypes: Vec<Dtype>) -> Schema {
        debug_assert_eq!(names.len(), dtypes.len());
        Schema { names, dtypes }
    }

    /// Column names.
    pub fn names(&self) -> &[String] {
        &self.names
    }

    /// Column types.
    pub fn dtypes(&self) -> &[Dtype] {
        &self.dtypes
    }

    /// Number of columns.
    pub fn len(&self) -> usize {
        self.names.len()
    }

    /// True if there is no column.
    pub fn is_empty(&self) -> bool {
        self.names.is_empty()
    }

    /// The position of column `name`.
    pub fn index_of(&self, name: &str) -> Option<usize> {
        self.names.iter().position(|n| n == name)
    }

    /// The name of column `i`.
    pub(crate) fn name(&self, i: usize) -> &str {
        &self.names[i]
    }

    /// The type of column `i`.
    pub(crate) fn dtype(&self, i: usize) -> Dtype {
        self.dtypes[i]
    }

    /// The Arrow schema of the columns `columns` (nullable fields).
    pub(crate) fn arrow(&self, columns: &[usize]) -> Arc<arrow_schema::Schema> {
        let fields: Vec<Field> = columns
            .iter()
            .map(|&i| Field::new(self.names[i].clone(), self.dtypes[i].arrow(), true))
            .collect();
        Arc::new(arrow_schema::Schema::new(fields))
    }
}

/// What the sample says a column can be.
#[derive(Clone, Copy)]
struct Guess {
    int: bool,
    float: bool,
    seen: bool,
}

/// Guesses the type of each of `ncols` columns from the complete records of
/// `sample` (header excluded; `eof`: it ends the file). A column without a value in the sample is
/// Float64, as in pandas (all null reads as NaN).
pub(crate) fn infer(sample: &[u8], eof: bool, ncols: usize, format: Format) -> Vec<Dtype> {
    let mut guesses = vec![
        Guess {
            int: true,
            float: true,
            seen: false
        };
        ncols
    ];
    // The sample may end mid-record (that record is left out), and may be
    // malformed further on: what was seen until then stands.
    let _ = for_each_record(
        sample,
        sample.len(),
        format,
        ncols,
        true,
        eof,
        |_, fields| {
            for (i, g) in guesses.iter_mut().enumerate() {
                let Some(v) = fields.get(i).filter(|v| !v.is_empty()) else {
                    continue;
                };
                g.seen = true;
                g.int = g.int && parse_i64(v).is_some();
                g.float = g.float && (g.int || is_f64(v));
            }
            Ok(true)
        },
    );
    guesses
        .into_iter()
        .map(|g| match g {
            Guess { seen: false, .. } => Dtype::Float64,
            Guess { int: true, .. } => Dtype::Int64,
            Guess { float: true, .. } => Dtype::Float64,
            _ => Dtype::Utf8,
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn types_are_guessed_from_the_sample() {
        let sample = b"1,1.5,x,,7\n2,3,y,,8.0\n-3,,\"z\",,9\n4,5";
        let dtypes = infer(sample, false, 5, Format::default());
        assert_eq!(
            dtypes,
            [
                Dtype::Int64,
                Dtype::Float64,
                Dtype::Utf8,
                Dtype::Float64,
                Dtype::Float64
            ]
        );
    }
}
