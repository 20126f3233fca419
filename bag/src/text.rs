//! [`from_text_files`]: a bag of the lines of text files, as Dask's
//! `read_text`.
//!
//! Files are listed and measured when the bag is made, so a missing file is
//! an error naming it before anything runs; they are read inside the tasks,
//! so the data never passes through the process that builds the graph.
//! With a block size, a large file is split into byte ranges: a range holds
//! the lines that *start* inside it, which is how each task finds line
//! boundaries on its own without reading its neighbours' bytes.

use std::fmt;
use std::fs::File;
use std::io::{self, BufRead, BufReader, Seek, SeekFrom};
use std::path::{Path, PathBuf};

use rask_core::{Error, TaskError, Value};
use serde::{Deserialize, Serialize};

use crate::bag::Bag;
use crate::glob::expand;
use crate::stage::{Flow, Halt, Sink, Stage};

/// Why [`from_text_files`] could not make a bag. Each names the path.
#[derive(Debug)]
#[non_exhaustive]
pub enum TextError {
    /// The path could not be read (missing, not permitted, ...).
    Io {
        /// The path.
        path: PathBuf,
        /// What the system said.
        source: io::Error,
    },
    /// The path exists but is not a regular file.
    NotAFile {
        /// The path.
        path: PathBuf,
    },
    /// The path is not valid Unicode, so it cannot be sent to a worker.
    NotUnicode {
        /// The path.
        path: PathBuf,
    },
    /// A wildcard pattern matched no file.
    NoMatch {
        /// The pattern.
        pattern: PathBuf,
    },
    /// No path was given: a bag needs at least one partition.
    NoFiles,
}

impl fmt::Display for TextError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            TextError::Io { path, source } => {
                write!(f, "cannot read `{}`: {source}", path.display())
            }
            TextError::NotAFile { path } => write!(f, "`{}` is not a regular file", path.display()),
            TextError::NotUnicode { path } => {
                write!(f, "the path `{}` is not valid Unicode", path.display())
            }
            TextError::NoMatch { pattern } => write!(f, "no file matches `{}`", pattern.display()),
            TextError::NoFiles => f.write_str("no text files were given"),
        }
    }
}

impl std::error::Error for TextError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            TextError::Io { source, .. } => Some(source),
            _ => None,
        }
    }
}

/// So that code returning rask's [`Error`] can use `?` on a text bag.
impl From<TextError> for Error {
    fn from(e: TextError) -> Error {
        Error::Backend {
            backend: "bag",
            message: e.to_string(),
        }
    }
}

/// What one partition of a text bag reads: lines of `path` starting in
/// bytes `start..end` (to the end of the file when `end` is `None`).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct TextBlock {
    /// The file, as an absolute path (workers may run elsewhere in the tree).
    pub path: String,
    /// The first byte of the range.
    pub start: u64,
    /// One past the last byte of the range, or `None` for the end of the file.
    pub end: Option<u64>,
}

/// The source stage of a text bag: each partition is a [`TextBlock`], read
/// line by line with `\n` or `\r\n` removed, as `str::lines` does.
#[derive(Clone, Copy, Debug)]
pub struct Lines;

impl Stage for Lines {
    type Input = TextBlock;
    type Output = String;
    fn run<K: Sink<String>>(&self, block: &TextBlock, sink: &mut K) -> Flow {
        let fail = |what: String| Halt::Failed(TaskError::new(what));
        let io = |e: io::Error| fail(format!("cannot read `{}`: {e}", block.path));
        let mut reader = BufReader::new(File::open(&block.path).map_err(io)?);
        let mut pos = block.start;
        let mut line = Vec::new();
        if block.start > 0 {
            // The line running through byte `start - 1` belongs to the
            // previous block; skip to its end (nothing, when that byte is
            // the newline itself).
            reader.seek(SeekFrom::Start(block.start - 1)).map_err(io)?;
            pos = block.start - 1 + reader.read_until(b'\n', &mut line).map_err(io)? as u64;
        }
        while block.end.is_none_or(|end| pos < end) {
            line.clear();
            let n = reader.read_until(b'\n', &mut line).map_err(io)?;
            if n == 0 {
                break;
            }
            let at = pos;
            pos += n as u64;
            if line.last() == Some(&b'\n') {
                line.pop();
                if line.last() == Some(&b'\r') {
                    line.pop();
                }
            }
            let text = String::from_utf8(std::mem::take(&mut line)).map_err(|_| {
                fail(format!(
                    "`{}`: the line at byte {at} is not UTF-8",
                    block.path
                ))
            })?;
            sink.given(text)?;
        }
        Ok(())
    }
}

/// A bag of the lines of `paths` (UTF-8 text; line endings removed), one
/// partition per file, or per `blocksize` bytes of a larger file when
/// `blocksize` is `Some` and not 0. Paths may use `*` and `?` in their last
/// component (`logs/*.txt`). Files are checked now: a missing one is an
/// error naming it.
pub fn from_text_files<I>(paths: I, blocksize: Option<u64>) -> Result<Bag<String, Lines>, TextError>
where
    I: IntoIterator,
    I::Item: AsRef<Path>,
{
    let mut parts = Vec::new();
    for pattern in paths {
        for path in expand(pattern.as_ref())? {
            let io = |source| TextError::Io {
                path: path.clone(),
                source,
            };
            let full = path.canonicalize().map_err(io)?;
            let meta = full.metadata().map_err(io)?;
            if !meta.is_file() {
                return Err(TextError::NotAFile { path });
            }
            let name = full
                .to_str()
                .ok_or_else(|| TextError::NotUnicode { path: path.clone() })?;
            parts.extend(blocks(name, meta.len(), blocksize).map(Value::new));
        }
    }
    if parts.is_empty() {
        return Err(TextError::NoFiles);
    }
    Ok(Bag::from_parts(Lines, parts, "read_text"))
}

/// The blocks of a file of `size` bytes; at least one, the last open-ended
/// so that a file that grew is still read to its end.
fn blocks(path: &str, size: u64, blocksize: Option<u64>) -> impl Iterator<Item = TextBlock> + '_ {
    let step = blocksize.filter(|&b| b > 0).unwrap_or(u64::MAX);
    let count = size.div_ceil(step).max(1);
    (0..count).map(move |i| TextBlock {
        path: path.to_owned(),
        start: i * step,
        end: (i + 1 < count).then(|| (i + 1) * step),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::stage::{drive, Collect};
    use proptest::prelude::*;

    fn read(block: &TextBlock) -> Result<Vec<String>, TaskError> {
        let mut out = Collect(Vec::new());
        drive(&Lines, block, &mut out)?;
        Ok(out.0)
    }

    fn scratch(name: &str, bytes: &[u8]) -> PathBuf {
        let path =
            std::env::temp_dir().join(format!("rask-bag-text-{}-{name}", std::process::id()));
        std::fs::write(&path, bytes).unwrap();
        path
    }

    proptest! {
        #[test]
        fn blocks_split_on_line_boundaries(
            lines in proptest::collection::vec("[a-c\r]{0,6}", 0..30),
            trailing in any::<bool>(),
            blocksize in 1u64..40,
        ) {
            let mut text = lines.join("\n");
            if trailing {
                text.push('\n');
            }
            let path = scratch(&format!("{blocksize}-{}", text.len()), text.as_bytes());
            let name = path.to_str().unwrap();
            let mut got = Vec::new();
            for block in blocks(name, text.len() as u64, Some(blocksize)) {
                got.extend(read(&block).unwrap());
            }
            std::fs::remove_file(&path).unwrap();
            let expected: Vec<&str> = text.lines().collect();
            prop_assert_eq!(got, expected);
        }
    }

    #[test]
    fn every_file_has_a_block() {
        assert_eq!(blocks("f", 0, Some(10)).count(), 1);
        assert_eq!(blocks("f", 10, Some(10)).count(), 1);
        assert_eq!(blocks("f", 11, Some(10)).count(), 2);
        assert_eq!(blocks("f", 1 << 40, None).count(), 1);
        assert_eq!(blocks("f", 5, Some(0)).count(), 1);
    }

    #[test]
    fn bad_bytes_and_vanished_files_name_the_file() {
        let path = scratch("latin1", b"ok\ncaf\xe9\n");
        let block = TextBlock {
            path: path.to_str().unwrap().into(),
            start: 0,
            end: None,
        };
        let err = read(&block).unwrap_err();
        assert!(
            err.message().contains("the line at byte 3 is not UTF-8"),
            "{err}"
        );
        std::fs::remove_file(&path).unwrap();
        let err = read(&block).unwrap_err();
        assert!(
            err.message()
                .starts_with(&format!("cannot read `{}`", block.path)),
            "{err}"
        );
    }
}
