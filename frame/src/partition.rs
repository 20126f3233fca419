//! Partitions: byte ranges of files, and reading one aligned on lines.
//!
//! A partition owns the records that *start* in its range `[start, end)`.
//! Reading it takes the byte before `start` too: if that byte is a line
//! break, a record starts at `start`; otherwise the partition skips to the
//! next line. It reads past `end` to the end of its last record. So every
//! record belongs to exactly one partition, whatever the split, and no
//! partition needs its neighbour's bytes. The header is read once, from the
//! file's start, when the frame is made.

use std::fs::File;
use std::io::{Read, Seek, SeekFrom};

use serde::{Deserialize, Serialize};

use crate::error::FrameError;

/// One byte range of one file; a literal of the task that scans it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Partition {
    /// The file.
    pub path: String,
    /// First byte of the range; never inside the header.
    pub start: u64,
    /// One past the last byte of the range.
    pub end: u64,
    /// Where the header ends and the records begin.
    pub data_start: u64,
    /// The range is the whole file (after the header): quoted fields may
    /// then hold line breaks.
    pub whole_file: bool,
}

/// The ranges of a file of `len` bytes whose records begin at
/// `data_start`, each about `blocksize` bytes (`None`: one range).
pub(crate) fn split(
    path: &str,
    data_start: u64,
    len: u64,
    blocksize: Option<u64>,
) -> Vec<Partition> {
    let body = len.saturating_sub(data_start);
    let n = match blocksize {
        Some(b) if b > 0 && body > b => body.div_ceil(b),
        _ => 1,
    };
    (0..n)
        .map(|i| Partition {
            path: path.to_owned(),
            start: data_start + body * i / n,
            end: data_start + body * (i + 1) / n,
            data_start,
            whole_file: n == 1,
        })
        .collect()
}

/// The bytes of a partition: records start at `first`; those starting
/// before `owned_end` are the partition's.
#[derive(Debug)]
pub(crate) struct Chunk {
    pub buf: Vec<u8>,
    /// The file offset of `buf[0]`.
    pub base: u64,
    pub first: usize,
    pub owned_end: usize,
}

fn io_error(path: &str, e: std::io::Error) -> FrameError {
    if e.kind() == std::io::ErrorKind::NotFound {
        FrameError::MissingFile {
            path: path.to_owned(),
        }
    } else {
        FrameError::Io {
            path: path.to_owned(),
            message: e.to_string(),
        }
    }
}

/// Reads `part`, aligned on lines as the module explains.
pub(crate) fn read(part: &Partition) -> Result<Chunk, FrameError> {
    let err = |e| io_error(&part.path, e);
    let mut file = File::open(&part.path).map_err(err)?;
    let from = if part.start > part.data_start {
        part.start - 1
    } else {
        part.start
    };
    let want = part.end.saturating_sub(from) as usize;
    file.seek(SeekFrom::Start(from)).map_err(err)?;
    let mut buf = Vec::with_capacity(want + 4096);
    (&mut file)
        .take(want as u64)
        .read_to_end(&mut buf)
        .map_err(err)?;
    let owned_end = buf.len().min(want);
    // Complete the last record: read on to the line break at or after
    // `end - 1`. A whole-file range already ends at the end of the file.
    if !part.whole_file && owned_end > 0 {
        let mut scan_from = owned_end - 1;
        while memchr::memchr(b'\n', &buf[scan_from..]).is_none() {
            scan_from = buf.len();
            let got = (&mut file)
                .take(64 * 1024)
                .read_to_end(&mut buf)
                .map_err(err)?;
            if got == 0 {
                break;
            }
        }
    }
    let first = if from == part.start {
        0
    } else {
        // `buf[0]` is the byte before the range: skip to the first line
        // that starts inside it.
        memchr::memchr(b'\n', &buf[..owned_end]).map_or(owned_end, |i| i + 1)
    };
    Ok(Chunk {
        buf,
        base: from,
        first,
        owned_end,
    })
}

/// The 1-based line number of the byte at `offset` of `path`. Only errors
/// need it, so it rereads the file's start rather than counting lines on
/// the hot path.
pub(crate) fn line_of(path: &str, offset: u64) -> u64 {
    let Ok(file) = File::open(path) else { return 0 };
    let mut reader = file.take(offset);
    let mut block = vec![0u8; 1 << 20];
    let mut lines = 1;
    loop {
        match reader.read(&mut block) {
            Ok(0) | Err(_) => return lines,
            Ok(n) => lines += memchr::memchr_iter(b'\n', &block[..n]).count() as u64,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ranges_cover_the_body_exactly() {
        let parts = split("f", 10, 1010, Some(300));
        assert_eq!(parts.len(), 4);
        assert_eq!(parts[0].start, 10);
        assert_eq!(parts.last().unwrap().end, 1010);
        assert!(parts.windows(2).all(|w| w[0].end == w[1].start));
        assert!(parts.iter().all(|p| !p.whole_file));
        let one = split("f", 10, 1010, None);
        assert_eq!(one.len(), 1);
        assert!(one[0].whole_file);
    }
}
