//! The seed notebook's data: `1.csv` … `4.csv`, each 2,000,000 rows of
//! `Key` (integer), `Value` (float) and `Name` (short text), the same bytes
//! on every machine. `cargo xtask data` and the quickstart call [`write`].

use std::fs;
use std::io;
use std::path::{Path, PathBuf};

/// Files the seed reads.
pub const FILES: usize = 4;
/// Rows per file.
pub const ROWS: u64 = 2_000_000;
/// The seed every file is generated from.
pub const SEED: u64 = 2019;
/// The header line.
pub const HEADER: &str = "Key,Value,Name\n";

const NAMES: [&str; 16] = [
    "Alice", "Bob", "Charlie", "Dan", "Edith", "Frank", "George", "Hannah", "Ingrid", "Jerry",
    "Kevin", "Laura", "Michael", "Norbert", "Oliver", "Patricia",
];

/// Appends the decimal digits of `n`, at least `width` of them.
fn push_digits(out: &mut Vec<u8>, mut n: u64, width: usize) {
    let mut digits = [b'0'; 20];
    let mut i = digits.len();
    while n > 0 || digits.len() - i < width.max(1) {
        i -= 1;
        digits[i] = b'0' + (n % 10) as u8;
        n /= 10;
    }
    out.extend_from_slice(&digits[i..]);
}

/// The bytes of one file: the header, then `rows` rows from `seed`.
pub fn generate(rows: u64, seed: u64) -> Vec<u8> {
    let mut rng = rask_core::splitmix::SplitMix64(seed);
    let mut out = Vec::with_capacity(HEADER.len() + rows as usize * 24);
    out.extend_from_slice(HEADER.as_bytes());
    for _ in 0..rows {
        let r = rng.next_u64();
        // Key in [0, 10^6); Value in [0, 1000) with six decimals.
        push_digits(&mut out, r % 1_000_000, 1);
        out.push(b',');
        let micros = (r >> 20) % 1_000_000_000;
        push_digits(&mut out, micros / 1_000_000, 1);
        out.push(b'.');
        push_digits(&mut out, micros % 1_000_000, 6);
        out.push(b',');
        out.extend_from_slice(NAMES[(r >> 60) as usize].as_bytes());
        out.push(b'\n');
    }
    out
}

/// True if `path` already holds the header and `rows` rows.
fn complete(path: &Path, rows: u64) -> bool {
    let Ok(bytes) = fs::read(path) else {
        return false;
    };
    bytes.starts_with(HEADER.as_bytes())
        && bytes.ends_with(b"\n")
        && memchr::memchr_iter(b'\n', &bytes).count() as u64 == rows + 1
}

/// Writes `files` files `1.csv`, `2.csv`, … of `rows` rows into `dir`
/// (created if missing), file `i` from `seed + i`, in parallel. Files that
/// already hold the right number of rows are kept. Returns the paths.
pub fn write_with(
    dir: impl AsRef<Path>,
    files: usize,
    rows: u64,
    seed: u64,
) -> io::Result<Vec<PathBuf>> {
    let dir = dir.as_ref();
    fs::create_dir_all(dir)?;
    let paths: Vec<PathBuf> = (1..=files).map(|i| dir.join(format!("{i}.csv"))).collect();
    std::thread::scope(|s| {
        let jobs: Vec<_> = paths
            .iter()
            .enumerate()
            .filter(|(_, p)| !complete(p, rows))
            .map(|(i, path)| {
                s.spawn(move || {
                    // Written aside and renamed: a file with the final name is always complete.
                    let partial = path.with_extension("csv.partial");
                    fs::write(&partial, generate(rows, seed.wrapping_add(i as u64)))?;
                    fs::rename(&partial, path)
                })
            })
            .collect();
        jobs.into_iter().try_for_each(|j| {
            j.join()
                .unwrap_or_else(|_| Err(io::Error::other("generator panicked")))
        })
    })?;
    Ok(paths)
}

/// Writes the seed's four files of 2,000,000 rows into `dir` unless they
/// are already there. Returns their paths.
pub fn write(dir: impl AsRef<Path>) -> io::Result<Vec<PathBuf>> {
    write_with(dir, FILES, ROWS, SEED)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn digits() {
        let mut out = Vec::new();
        push_digits(&mut out, 0, 1);
        push_digits(&mut out, 42, 6);
        push_digits(&mut out, u64::MAX, 1);
        assert_eq!(out, b"000004218446744073709551615");
    }
}
