//! Plain functions over one file, for `rask::delayed`: the seed's
//! `delayed(pd.read_csv)(file)["Key"].count()` is
//! `delayed(fallible(count_column)).call((file, "Key"))`.

use crate::error::FrameError;
use crate::read::{read_csv, CsvOptions};

/// Non-null values of `column` in the CSV file `path`, read whole on the
/// calling thread (the task is the unit of parallelism here).
// Op arguments are borrowed from the task's values, which are `String`s.
#[allow(clippy::ptr_arg)]
pub fn count_column(path: &String, column: &String) -> Result<u64, FrameError> {
    read_csv(path, CsvOptions::default().blocksize(None))?
        .column(column)?
        .count()
        .compute_here()
}
