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

use crate::csv_scan::Progress;
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

/// Bytes read per step: small enough that the scan finds them in cache
/// right after the copy out of the page cache.
pub(crate) const BLOCK: usize = 256 << 10;

/// One step of a partition's bytes: records start at `buf[0]`; those
/// starting before `owned_end` are the partition's.
#[derive(Debug)]
pub(crate) struct Block<'a> {
    pub buf: &'a [u8],
    pub owned_end: usize,
    /// The file offset of `buf[0]`.
    pub base: u64,
    /// `buf` ends at the end of the file.
    pub eof: bool,
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

/// Appends up to `n` bytes of `file` to `buf`; true at the end of the file.
fn fill(file: &mut File, buf: &mut Vec<u8>, n: usize) -> std::io::Result<bool> {
    let got = file.take(n as u64).read_to_end(buf)?;
    Ok(got < n)
}

/// Streams `part` to `scan` block by block, aligned on records as the
/// module explains. `scan` returns how far it got in the block: the bytes
/// after that (an incomplete record) start the next block.
pub(crate) fn stream(
    part: &Partition,
    mut scan: impl FnMut(Block<'_>) -> Result<Progress, FrameError>,
) -> Result<(), FrameError> {
    let err = |e| io_error(&part.path, e);
    let mut file = File::open(&part.path).map_err(err)?;
    let mut base = if part.start > part.data_start {
        part.start - 1
    } else {
        part.start
    };
    file.seek(SeekFrom::Start(base)).map_err(err)?;
    let mut buf: Vec<u8> = Vec::with_capacity(BLOCK);
    let mut eof = false;
    if base < part.start {
        // `buf[0]` is the byte before the range: skip to the first record
        // that starts inside it.
        loop {
            eof = fill(&mut file, &mut buf, BLOCK).map_err(err)?;
            if let Some(i) = memchr::memchr(b'\n', &buf) {
                buf.drain(..=i);
                base += i as u64 + 1;
                break;
            }
            if eof {
                return Ok(());
            }
            base += buf.len() as u64;
            buf.clear();
        }
    }
    let mut room = BLOCK;
    while base < part.end {
        if !eof {
            // Within the range, read up to a block; past it, only enough to
            // complete the last record (a little at first, then doubling).
            let in_range = base + (buf.len() as u64) < part.end;
            let want = if in_range {
                room.saturating_sub(buf.len())
            } else {
                0
            };
            let want = want.max(buf.len()).max(4096);
            eof = fill(&mut file, &mut buf, want).map_err(err)?;
        }
        let owned_end = (part.end - base).min(usize::MAX as u64) as usize;
        match scan(Block {
            buf: &buf,
            owned_end,
            base,
            eof,
        })? {
            Progress::Stopped => return Ok(()),
            Progress::Consumed(_) if eof => return Ok(()),
            Progress::Consumed(n) => {
                if n == 0 {
                    // One record fills the buffer: make room for it.
                    room = room.max(buf.len()) * 2;
                }
                buf.drain(..n);
                base += n as u64;
            }
        }
    }
    Ok(())
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
