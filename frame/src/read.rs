//! `read_csv`: from paths or glob patterns to a [`Frame`] of byte-range
//! partitions. This is the only eager step: it lists the files, reads each
//! header (which must agree) and guesses column types from the start of the
//! first file. No row is read until a result is computed.

use std::fs::File;
use std::io::Read;
use std::path::{Path, PathBuf};

use crate::csv_scan::{first_record, Format, Record};
use crate::error::FrameError;
use crate::frame::Frame;
use crate::partition::{split, Partition};
use crate::schema::{infer, Dtype, Schema};

/// How to read CSV files.
#[derive(Clone, Debug)]
pub struct CsvOptions {
    /// The field delimiter (default `,`).
    pub delimiter: u8,
    /// The quote character (default `"`).
    pub quote: u8,
    /// Target bytes per partition (default 32 MiB); `None` reads each file
    /// as one partition, which quoted fields with line breaks require.
    pub blocksize: Option<u64>,
    /// Bytes from the start of the first file used to guess column types
    /// (default 1 MiB).
    pub sample_bytes: usize,
    /// Column types that override the guess.
    pub dtypes: Vec<(String, Dtype)>,
}

impl Default for CsvOptions {
    fn default() -> Self {
        CsvOptions {
            delimiter: b',',
            quote: b'"',
            blocksize: Some(32 << 20),
            sample_bytes: 1 << 20,
            dtypes: Vec::new(),
        }
    }
}

impl CsvOptions {
    /// Sets the field delimiter.
    pub fn delimiter(mut self, delimiter: u8) -> Self {
        self.delimiter = delimiter;
        self
    }

    /// Sets the quote character.
    pub fn quote(mut self, quote: u8) -> Self {
        self.quote = quote;
        self
    }

    /// Sets the target partition size; `None`: one partition per file.
    pub fn blocksize(mut self, bytes: Option<u64>) -> Self {
        self.blocksize = bytes;
        self
    }

    /// Sets how many bytes of the first file are used to guess types.
    pub fn sample_bytes(mut self, bytes: usize) -> Self {
        self.sample_bytes = bytes;
        self
    }

    /// Reads column `column` as `dtype`, whatever the sample suggests.
    pub fn dtype(mut self, column: &str, dtype: Dtype) -> Self {
        self.dtypes.push((column.to_owned(), dtype));
        self
    }
}

/// Files to read: a path, a glob pattern (`data/*.csv`), or a list of them.
pub trait IntoSources {
    /// The paths and patterns, in order.
    fn into_sources(self) -> Vec<PathBuf>;
}

impl IntoSources for &str {
    fn into_sources(self) -> Vec<PathBuf> {
        vec![self.into()]
    }
}

impl IntoSources for String {
    fn into_sources(self) -> Vec<PathBuf> {
        vec![self.into()]
    }
}

impl IntoSources for &String {
    fn into_sources(self) -> Vec<PathBuf> {
        vec![self.into()]
    }
}

impl IntoSources for &Path {
    fn into_sources(self) -> Vec<PathBuf> {
        vec![self.into()]
    }
}

impl IntoSources for PathBuf {
    fn into_sources(self) -> Vec<PathBuf> {
        vec![self]
    }
}

impl IntoSources for &PathBuf {
    fn into_sources(self) -> Vec<PathBuf> {
        vec![self.clone()]
    }
}

impl<P: AsRef<Path>> IntoSources for Vec<P> {
    fn into_sources(self) -> Vec<PathBuf> {
        self.iter().map(|p| p.as_ref().to_path_buf()).collect()
    }
}

impl<P: AsRef<Path>> IntoSources for &[P] {
    fn into_sources(self) -> Vec<PathBuf> {
        self.iter().map(|p| p.as_ref().to_path_buf()).collect()
    }
}

impl<P: AsRef<Path>, const N: usize> IntoSources for [P; N] {
    fn into_sources(self) -> Vec<PathBuf> {
        self.iter().map(|p| p.as_ref().to_path_buf()).collect()
    }
}

/// The files `sources` name, patterns expanded (sorted), in order.
fn expand(sources: Vec<PathBuf>) -> Result<Vec<String>, FrameError> {
    let mut files = Vec::new();
    for source in sources {
        let text = source.to_string_lossy().into_owned();
        if text.contains(['*', '?', '[']) {
            let matches = glob::glob(&text).map_err(|e| FrameError::Io {
                path: text.clone(),
                message: format!("not a valid pattern: {e}"),
            })?;
            let mut found: Vec<String> = matches
                .filter_map(Result::ok)
                .filter(|p| p.is_file())
                .map(|p| p.to_string_lossy().into_owned())
                .collect();
            if found.is_empty() {
                return Err(FrameError::NoMatch { pattern: text });
            }
            found.sort();
            files.extend(found);
        } else if source.is_file() {
            files.push(text);
        } else if source.exists() {
            return Err(FrameError::Io {
                path: text,
                message: "it is not a file".into(),
            });
        } else {
            return Err(FrameError::MissingFile { path: text });
        }
    }
    if files.is_empty() {
        return Err(FrameError::NoMatch {
            pattern: String::new(),
        });
    }
    Ok(files)
}

/// The start of `path`: at least `want` bytes (or the whole file) and at
/// least the whole header. Returns the bytes and the file's length.
fn head_of(
    path: &str,
    want: usize,
    format: Format,
) -> Result<(Vec<u8>, Vec<String>, u64, u64), FrameError> {
    let err = |e: std::io::Error| FrameError::Io {
        path: path.to_owned(),
        message: e.to_string(),
    };
    let mut file = File::open(path).map_err(err)?;
    let len = file.metadata().map_err(err)?.len();
    let mut buf = Vec::new();
    let mut limit = want.max(1 << 16) as u64;
    loop {
        buf.clear();
        (&mut file).take(limit).read_to_end(&mut buf).map_err(err)?;
        let eof = buf.len() as u64 >= len;
        let header = first_record(&buf, format).map_err(|m| FrameError::Malformed {
            path: path.to_owned(),
            line: 1,
            message: m.message.to_owned(),
        });
        // A header cut off by the read limit is read again, longer.
        match header {
            Ok(Some(Record { fields, end })) if eof || buf[..end].ends_with(b"\n") => {
                let mut names: Vec<String> = fields
                    .iter()
                    .map(|f| String::from_utf8_lossy(f).into_owned())
                    .collect();
                if let Some(first) = names.first_mut() {
                    // A UTF-8 byte order mark is not part of the first name.
                    *first = first.trim_start_matches('\u{feff}').to_owned();
                }
                return Ok((buf, names, end as u64, len));
            }
            Ok(None) if eof => {
                return Err(FrameError::NoHeader {
                    path: path.to_owned(),
                })
            }
            Err(e) if eof => return Err(e),
            _ => {
                use std::io::{Seek, SeekFrom};
                file.seek(SeekFrom::Start(0)).map_err(err)?;
                limit *= 4;
            }
        }
    }
}

/// A lazy frame over the CSV files `sources` names: a path, a glob
/// pattern, or a list of either. Each file is one partition or more (byte
/// ranges of about `options.blocksize`); all must have the same header.
pub fn read_csv(sources: impl IntoSources, options: CsvOptions) -> Result<Frame, FrameError> {
    let format = Format {
        delimiter: options.delimiter,
        quote: options.quote,
    };
    if let Some(reason) = format.refusal() {
        return Err(FrameError::Dialect {
            delimiter: options.delimiter,
            quote: options.quote,
            reason: reason.to_owned(),
        });
    }
    let files = expand(sources.into_sources())?;
    let mut partitions: Vec<Partition> = Vec::new();
    let mut schema: Option<Schema> = None;
    for path in &files {
        let want = if schema.is_none() {
            options.sample_bytes
        } else {
            0
        };
        let (head, names, data_start, len) = head_of(path, want, format)?;
        match &schema {
            None => {
                let sample = &head[data_start as usize..];
                let sample = &sample[..sample.len().min(options.sample_bytes)];
                let eof = data_start + sample.len() as u64 >= len;
                let mut dtypes = infer(sample, eof, names.len(), format);
                for (column, dtype) in &options.dtypes {
                    let i = names.iter().position(|n| n == column).ok_or_else(|| {
                        FrameError::MissingColumn {
                            column: column.clone(),
                            available: names.clone(),
                        }
                    })?;
                    dtypes[i] = *dtype;
                }
                schema = Some(Schema::new(names, dtypes));
            }
            Some(s) if s.names() != names.as_slice() => {
                return Err(FrameError::HeaderMismatch {
                    path: path.clone(),
                    first: files[0].clone(),
                    expected: s.names().to_vec(),
                    found: names,
                });
            }
            Some(_) => {}
        }
        partitions.extend(split(path, data_start, len, options.blocksize));
    }
    let schema = schema.ok_or(FrameError::NoMatch {
        pattern: String::new(),
    })?;
    Ok(Frame::new(partitions, schema, format))
}
