//! `rask-frame`'s whole read path on arbitrary file contents: the bytes go
//! to a file, `read_csv` reads its header and guesses types, and every
//! reduction a user can ask for (len, count, sum, mean, min, max, head,
//! group-by, a filter) runs on the calling thread (`compute_here`) over
//! partitions cut every few bytes, so that records straddle partition
//! and block boundaries. Errors are fine; panics are not.
//!
//! The same file read as one partition must give the same row count as
//! the cut one whenever both succeed: every record belongs to exactly one
//! partition.

#![no_main]

use std::path::PathBuf;
use std::sync::OnceLock;

use libfuzzer_sys::fuzz_target;
use rask_frame::{read_csv, CsvOptions, Pred};

/// One file per fuzzing process, rewritten for each input.
fn path() -> &'static PathBuf {
    static PATH: OnceLock<PathBuf> = OnceLock::new();
    PATH.get_or_init(|| {
        let dir = std::env::temp_dir().join(format!("rask-fuzz-csv-{}", std::process::id()));
        std::fs::create_dir_all(&dir).expect("a temporary directory");
        dir.join("input.csv")
    })
}

fuzz_target!(|data: &[u8]| {
    let Some((&[flags, block], body)) = data.split_first_chunk::<2>() else {
        return;
    };
    let path = path();
    std::fs::write(path, body).expect("the temporary file is writable");
    let options = CsvOptions::default()
        .delimiter([b',', b';', b'\t', b'|'][usize::from(flags & 3)])
        .quote(if flags & 4 == 0 { b'"' } else { b'\'' })
        .sample_bytes(if flags & 8 == 0 { 1 << 20 } else { 16 })
        .blocksize(Some(16 + u64::from(block) * 8));
    let Ok(df) = read_csv(path, options.clone()) else {
        return;
    };

    let rows = df.len().compute_here();
    let _ = df.count().compute_here();
    let _ = df.head(3).compute_here();
    let names: Vec<String> = df.columns().into_iter().map(str::to_owned).collect();
    for name in names.iter().take(4) {
        let Ok(column) = df.column(name) else {
            continue;
        };
        let _ = column.count().compute_here();
        if let Ok(sum) = column.sum() {
            let _ = sum.compute_here();
        }
        if let Ok(mean) = column.mean() {
            let _ = mean.compute_here();
        }
        if let Ok(min) = column.min() {
            let _ = min.compute_here();
        }
        if let Ok(max) = column.max() {
            let _ = max.compute_here();
        }
        if let Ok(filtered) = df.filter(name, Pred::Gt(0.5)) {
            let _ = filtered.len().compute_here();
        }
    }
    if let [key, value, ..] = &names[..] {
        if let Ok(g) = df.groupby(key) {
            if let Ok(mean) = g.mean(value) {
                let _ = mean.compute_here();
            }
            if let Ok(count) = g.count(value) {
                let _ = count.compute_here();
            }
        }
    }

    if let (Ok(rows), Ok(whole)) = (rows, read_csv(path, options.blocksize(None))) {
        if let Ok(whole_rows) = whole.len().compute_here() {
            assert_eq!(
                rows, whole_rows,
                "cut partitions and the whole file count different rows"
            );
        }
    }
});
