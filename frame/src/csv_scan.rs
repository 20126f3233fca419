//! Splitting CSV bytes into records and fields without building anything.
//!
//! The scanner hands each record to a callback as [`Fields`]: byte slices of
//! the first `wanted` fields only, so a `count` of the first column never
//! looks past the first delimiter of a line. Buffers without a quote byte
//! (checked once, with SIMD) take the plain path: one `memchr` for the line
//! end and one per wanted field. Buffers with quotes take a quote-aware path
//! that unescapes `""` into a scratch buffer.
//!
//! Rules: records end at `\n` (a `\r` before it is dropped); blank lines
//! are skipped; an empty field is null; a line with fewer fields than the
//! header has nulls for the missing ones; fields past the wanted ones are
//! not looked at.

use memchr::{memchr, memchr2};
use serde::{Deserialize, Serialize};

/// The CSV dialect.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Format {
    /// The field delimiter.
    pub delimiter: u8,
    /// The quote character; doubled inside a quoted field, it stands for itself.
    pub quote: u8,
}

impl Format {
    /// Why the scanner cannot read this dialect, if it cannot. Records end
    /// at `\n` and a `\r` before it is dropped, so neither can be a
    /// delimiter or a quote (with a `\n` delimiter the fast path made a
    /// field that ends before it starts, and panicked); a delimiter that
    /// is also the quote makes every field ambiguous.
    pub(crate) fn refusal(&self) -> Option<&'static str> {
        if matches!(self.delimiter, b'\n' | b'\r') {
            Some("the delimiter cannot be a line break (`\\n` or `\\r`)")
        } else if matches!(self.quote, b'\n' | b'\r') {
            Some("the quote cannot be a line break (`\\n` or `\\r`)")
        } else if self.delimiter == self.quote {
            Some("the delimiter and the quote must be different bytes")
        } else {
            None
        }
    }
}

impl Default for Format {
    fn default() -> Self {
        Format {
            delimiter: b',',
            quote: b'"',
        }
    }
}

/// Where a field's bytes are.
#[derive(Clone, Copy, Debug)]
enum Span {
    Buf(usize, usize),
    Scratch(usize, usize),
}

/// The wanted fields of one record.
#[derive(Debug)]
pub(crate) struct Fields<'a> {
    buf: &'a [u8],
    scratch: &'a [u8],
    spans: &'a [Span],
}

impl<'a> Fields<'a> {
    /// Field `i`, or `None` if the record has no such field (or `i` was not wanted).
    #[inline]
    pub(crate) fn get(&self, i: usize) -> Option<&'a [u8]> {
        match *self.spans.get(i)? {
            Span::Buf(s, e) => Some(&self.buf[s..e]),
            Span::Scratch(s, e) => Some(&self.scratch[s..e]),
        }
    }

    /// How many fields were split off (at most the number wanted).
    pub(crate) fn len(&self) -> usize {
        self.spans.len()
    }
}

/// A record the scanner could not split, at byte `offset` of the buffer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Malformed {
    pub offset: usize,
    pub message: &'static str,
}

/// What a callback says after a record: go on (`true`) or stop.
pub(crate) type Flow = Result<bool, crate::scan::RowError>;

/// The outcome of a scan: a malformed record, or the callback's error.
#[derive(Debug)]
pub(crate) enum ScanError {
    Malformed(Malformed),
    Row(crate::scan::RowError),
}

/// How far a scan of one buffer got.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Progress {
    /// Every record before this offset was handed over; the rest of the
    /// buffer is an incomplete record (or nothing, or past `owned_end`).
    Consumed(usize),
    /// The callback asked to stop.
    Stopped,
}

/// Calls `f(offset, fields)` for each record of `buf` that starts before
/// `owned_end`, with the first `wanted` fields. `f` returns `Ok(false)` to
/// stop early. Unless `eof`, a record cut off by the buffer's end is left
/// for the caller to complete with more bytes. When `multiline` is false, a
/// line break inside quotes is an error: a file read in byte ranges cannot
/// tell such a break from a record boundary.
pub(crate) fn for_each_record(
    buf: &[u8],
    owned_end: usize,
    format: Format,
    wanted: usize,
    multiline: bool,
    eof: bool,
    f: impl FnMut(usize, &Fields<'_>) -> Flow,
) -> Result<Progress, ScanError> {
    if memchr(format.quote, buf).is_none() {
        plain(buf, owned_end, format.delimiter, wanted, eof, f)
    } else {
        quoted(buf, owned_end, format, wanted, multiline, eof, f)
    }
}

/// True for a line holding nothing but an optional `\r`.
#[inline]
fn blank(line: &[u8]) -> bool {
    line.is_empty() || line == b"\r"
}

/// The low bits of the eight bytes of `w` (each 0 or 1), gathered into
/// eight bits: the multiplication moves byte `j`'s bit to bit `56 + j`,
/// and no two products overlap, so nothing carries.
#[inline(always)]
fn gather(w: u64) -> u64 {
    (w & 0x0101_0101_0101_0101).wrapping_mul(0x0102_0408_1020_4080) >> 56
}

/// Masks of line breaks and delimiters in up to 64 bytes. The byte
/// comparisons are written over whole arrays so that the compiler turns
/// them into vector compares; the gather packs them into bits.
#[inline(always)]
fn masks(chunk: &[u8], delimiter: u8) -> (u64, u64) {
    let (mut nl, mut dl) = (0u64, 0u64);
    if let Ok(chunk) = <&[u8; 64]>::try_from(chunk) {
        let lines: [u8; 64] = std::array::from_fn(|i| u8::from(chunk[i] == b'\n'));
        let fields: [u8; 64] = std::array::from_fn(|i| u8::from(chunk[i] == delimiter));
        for (k, (l, f)) in lines
            .chunks_exact(8)
            .zip(fields.chunks_exact(8))
            .enumerate()
        {
            nl |= gather(l.try_into().map_or(0, u64::from_le_bytes)) << (8 * k);
            dl |= gather(f.try_into().map_or(0, u64::from_le_bytes)) << (8 * k);
        }
    } else {
        for (i, &b) in chunk.iter().enumerate() {
            nl |= u64::from(b == b'\n') << i;
            dl |= u64::from(b == delimiter) << i;
        }
    }
    (nl, dl)
}

/// The scanner for buffers without quotes: 64 bytes at a time, it makes
/// bit masks of line breaks and delimiters and walks their set bits, so a
/// record costs a few bit operations per wanted field, whatever its length.
fn plain(
    buf: &[u8],
    owned_end: usize,
    delimiter: u8,
    wanted: usize,
    eof: bool,
    mut f: impl FnMut(usize, &Fields<'_>) -> Flow,
) -> Result<Progress, ScanError> {
    let mut spans: Vec<Span> = Vec::with_capacity(wanted.min(256));
    let limit = owned_end.min(buf.len());
    // The current line, and the current field in it.
    let mut line = 0;
    let mut field = 0;
    // Ends the line at `p` (a line break, or the end of the buffer).
    let mut end_line =
        |line: usize, field: usize, p: usize, spans: &mut Vec<Span>| -> Result<bool, ScanError> {
            if spans.len() < wanted {
                let end = if p > field && buf[p - 1] == b'\r' {
                    p - 1
                } else {
                    p
                };
                spans.push(Span::Buf(field, end));
            }
            let blank = p == line || (p == line + 1 && buf[line] == b'\r');
            let go_on = blank
                || f(
                    line,
                    &Fields {
                        buf,
                        scratch: &[],
                        spans,
                    },
                )
                .map_err(ScanError::Row)?;
            spans.clear();
            Ok(go_on)
        };
    let mut window = 0;
    while window < buf.len() && line < limit {
        let (mut nl, mut dl) = masks(&buf[window..(window + 64).min(buf.len())], delimiter);
        loop {
            // Delimiters matter only until the wanted fields are split off.
            let d = if spans.len() < wanted { dl } else { 0 };
            let bits = nl | d;
            if bits == 0 {
                break;
            }
            let i = bits.trailing_zeros();
            let p = window + i as usize;
            if (d >> i) & 1 == 1 {
                spans.push(Span::Buf(field, p));
                field = p + 1;
                dl &= dl - 1;
            } else {
                nl &= nl - 1;
                // The line's remaining delimiters are not wanted.
                dl &= (u64::MAX << i) << 1;
                if line >= limit {
                    return Ok(Progress::Consumed(line));
                }
                if !end_line(line, field, p, &mut spans)? {
                    return Ok(Progress::Stopped);
                }
                line = p + 1;
                field = p + 1;
            }
        }
        window += 64;
    }
    if line < limit && line < buf.len() {
        // The last line has no line break yet.
        if !eof {
            return Ok(Progress::Consumed(line));
        }
        if !end_line(line, field, buf.len(), &mut spans)? {
            return Ok(Progress::Stopped);
        }
        line = buf.len();
    }
    Ok(Progress::Consumed(line.min(buf.len())))
}

pub(crate) fn quoted(
    buf: &[u8],
    owned_end: usize,
    format: Format,
    wanted: usize,
    multiline: bool,
    eof: bool,
    mut f: impl FnMut(usize, &Fields<'_>) -> Flow,
) -> Result<Progress, ScanError> {
    let Format { delimiter, quote } = format;
    let mut spans: Vec<Span> = Vec::with_capacity(wanted.min(256));
    let mut scratch: Vec<u8> = Vec::new();
    let mut pos = 0;
    let bad = |offset, message| Err(ScanError::Malformed(Malformed { offset, message }));
    while pos < owned_end.min(buf.len()) {
        let record = pos;
        let incomplete = Ok(Progress::Consumed(record));
        spans.clear();
        scratch.clear();
        let mut field = 0usize;
        // Parse field by field until the record's line break (or the end).
        let next = loop {
            let keep = field < wanted;
            if pos < buf.len() && buf[pos] == quote {
                let mut i = pos + 1;
                let from = scratch.len();
                let mut pieces = false;
                let close = loop {
                    let Some(q) = memchr(quote, &buf[i..]).map(|q| i + q) else {
                        if !eof {
                            return incomplete;
                        }
                        return bad(record, "a quoted field is never closed");
                    };
                    if !multiline && memchr(b'\n', &buf[i..q]).is_some() {
                        return bad(
                            record,
                            "a quoted field holds a line break, which a file read in byte ranges cannot have (read it with `blocksize(None)`)",
                        );
                    }
                    if q + 1 == buf.len() && !eof {
                        // Is the quote doubled? The next buffer will say.
                        return incomplete;
                    }
                    if buf.get(q + 1) == Some(&quote) {
                        // A doubled quote: keep one, unescaped, in scratch.
                        if keep {
                            scratch.extend_from_slice(&buf[i..=q]);
                        }
                        pieces = true;
                        i = q + 2;
                    } else {
                        break q;
                    }
                };
                if keep {
                    if pieces {
                        scratch.extend_from_slice(&buf[i..close]);
                        spans.push(Span::Scratch(from, scratch.len()));
                    } else {
                        spans.push(Span::Buf(pos + 1, close));
                    }
                }
                pos = close + 1;
                match buf.get(pos) {
                    None if eof => break buf.len(),
                    None => return incomplete,
                    Some(&b) if b == delimiter => pos += 1,
                    Some(b'\n') => break pos + 1,
                    Some(b'\r') if buf.get(pos + 1) == Some(&b'\n') => break pos + 2,
                    Some(b'\r') if pos + 1 == buf.len() && eof => break buf.len(),
                    Some(b'\r') if pos + 1 == buf.len() => return incomplete,
                    Some(_) => return bad(record, "text follows a closing quote in a field"),
                }
            } else {
                let stop = memchr2(delimiter, b'\n', &buf[pos..]).map_or(buf.len(), |i| pos + i);
                if stop == buf.len() && !eof {
                    return incomplete;
                }
                let at_line_end = stop == buf.len() || buf[stop] == b'\n';
                let end = if at_line_end && stop > pos && buf[stop - 1] == b'\r' {
                    stop - 1
                } else {
                    stop
                };
                if keep {
                    spans.push(Span::Buf(pos, end));
                }
                if at_line_end {
                    break stop + 1;
                }
                pos = stop + 1;
            }
            field += 1;
        };
        let line = &buf[record..next.min(buf.len())];
        if !blank(line.strip_suffix(b"\n").unwrap_or(line)) {
            let fields = Fields {
                buf,
                scratch: &scratch,
                spans: &spans,
            };
            if !f(record, &fields).map_err(ScanError::Row)? {
                return Ok(Progress::Stopped);
            }
        }
        pos = next;
    }
    Ok(Progress::Consumed(pos.min(buf.len())))
}

/// A record read whole: every field, and the offset just past it.
#[derive(Debug)]
pub(crate) struct Record {
    pub fields: Vec<Vec<u8>>,
    pub end: usize,
}

/// The first record of `buf`; `None` for a buffer without a record.
pub(crate) fn first_record(buf: &[u8], format: Format) -> Result<Option<Record>, Malformed> {
    let mut out = None;
    let mut ends = 0;
    let result = for_each_record(
        buf,
        buf.len(),
        format,
        usize::MAX,
        true,
        true,
        |offset, fields| {
            out = Some(
                (0..fields.len())
                    .filter_map(|i| fields.get(i))
                    .map(<[u8]>::to_vec)
                    .collect(),
            );
            ends = offset;
            Ok(false)
        },
    );
    match result {
        // The callback never fails, so only the scanner can.
        Ok(_) | Err(ScanError::Row(_)) => {}
        Err(ScanError::Malformed(m)) => return Err(m),
    }
    Ok(out.map(|fields| Record {
        fields,
        end: record_end(buf, ends, format),
    }))
}

/// The offset just past the record starting at `start` (after its `\n`).
fn record_end(buf: &[u8], start: usize, format: Format) -> usize {
    let mut in_quotes = false;
    let mut i = start;
    while i < buf.len() {
        let b = buf[i];
        if b == format.quote {
            in_quotes = !in_quotes;
        } else if b == b'\n' && !in_quotes {
            return i + 1;
        }
        i += 1;
    }
    buf.len()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn records(
        text: &str,
        wanted: usize,
        multiline: bool,
    ) -> Result<Vec<Vec<Option<String>>>, ScanError> {
        let mut out = Vec::new();
        for_each_record(
            text.as_bytes(),
            text.len(),
            Format::default(),
            wanted,
            multiline,
            true,
            |_, f| {
                out.push(
                    (0..wanted)
                        .map(|i| f.get(i).map(|b| String::from_utf8_lossy(b).into_owned()))
                        .collect(),
                );
                Ok(true)
            },
        )?;
        Ok(out)
    }

    fn s(x: &str) -> Option<String> {
        Some(x.to_owned())
    }

    #[test]
    fn plain_fields_crlf_blank_lines_and_short_rows() {
        let got = records("a,b,c\r\n\n1,,3\n4\n", 3, false).unwrap();
        assert_eq!(
            got,
            [
                vec![s("a"), s("b"), s("c")],
                vec![s("1"), s(""), s("3")],
                vec![s("4"), None, None]
            ]
        );
    }

    #[test]
    fn quoted_fields_unescape_and_may_hold_delimiters() {
        let text = "\"x,y\",\"say \"\"hi\"\"\",3\r\n\"\",b\"c,\n";
        let got = records(text, 3, false).unwrap();
        assert_eq!(
            got,
            [
                vec![s("x,y"), s("say \"hi\""), s("3")],
                vec![s(""), s("b\"c"), s("")]
            ]
        );
    }

    #[test]
    fn line_breaks_in_quotes_only_when_reading_whole_files() {
        let text = "\"a\nb\",1\n2,3\n";
        assert_eq!(
            records(text, 2, true).unwrap(),
            [vec![s("a\nb"), s("1")], vec![s("2"), s("3")]]
        );
        assert!(matches!(
            records(text, 2, false),
            Err(ScanError::Malformed(_))
        ));
    }

    #[test]
    fn malformed_quotes_are_errors() {
        assert!(matches!(
            records("\"abc,1\n", 2, true),
            Err(ScanError::Malformed(_))
        ));
        assert!(matches!(
            records("\"a\"b,1\n", 2, true),
            Err(ScanError::Malformed(_))
        ));
    }

    #[test]
    fn only_records_starting_before_the_end_are_scanned() {
        let text = "1,a\n2,b\n3,c\n";
        let mut firsts = Vec::new();
        for_each_record(
            text.as_bytes(),
            5,
            Format::default(),
            1,
            false,
            true,
            |_, f| {
                firsts.push(f.get(0).unwrap().to_vec());
                Ok(true)
            },
        )
        .unwrap();
        assert_eq!(firsts, [b"1".to_vec(), b"2".to_vec()]);
    }

    #[test]
    fn a_record_cut_off_by_the_buffer_is_left_for_the_next() {
        let cases = [
            ("1,a\n2,b", 4, 1),
            ("1,\"a\n", 0, 0),
            ("1,\"a\"", 0, 0),
            ("1,\"a\"\r", 0, 0),
            ("12", 0, 0),
        ];
        for (text, consumed, records) in cases {
            let mut seen = 0;
            let got = for_each_record(
                text.as_bytes(),
                text.len(),
                Format::default(),
                2,
                true,
                false,
                |_, _| {
                    seen += 1;
                    Ok(true)
                },
            )
            .unwrap();
            assert_eq!(
                (got, seen),
                (Progress::Consumed(consumed), records),
                "{text:?}"
            );
        }
    }

    #[test]
    fn the_first_record_is_the_header() {
        let Record { fields, end } = first_record(b"\"K,1\",V\r\n1,2\n", Format::default())
            .unwrap()
            .unwrap();
        assert_eq!(fields, [b"K,1".to_vec(), b"V".to_vec()]);
        assert_eq!(end, 9);
    }

    /// Every record of `text` as its first `wanted` fields, scanning it in
    /// buffers that end at `cut` first, as the partition reader does.
    fn streamed(
        text: &[u8],
        wanted: usize,
        cut: usize,
        use_plain: bool,
    ) -> Vec<Vec<Option<Vec<u8>>>> {
        let mut out = Vec::new();
        let mut start = 0;
        let mut end = cut.min(text.len());
        loop {
            let buf = &text[start..end];
            let eof = end == text.len();
            let record = |_: usize, f: &Fields<'_>| {
                out.push((0..wanted).map(|i| f.get(i).map(<[u8]>::to_vec)).collect());
                Ok(true)
            };
            let progress = if use_plain {
                plain(buf, buf.len(), b',', wanted, eof, record)
            } else {
                quoted(buf, buf.len(), Format::default(), wanted, true, eof, record)
            };
            let Ok(Progress::Consumed(n)) = progress else {
                panic!("{progress:?}")
            };
            if eof {
                return out;
            }
            start += n;
            end = text.len();
        }
    }

    proptest::proptest! {
        #[test]
        fn both_scanners_agree_however_the_bytes_are_cut(
            text in proptest::collection::vec(proptest::sample::select(b"a1,\r\n".to_vec()), 0..300),
            wanted in 0usize..5,
            cut in 0usize..300,
        ) {
            let whole = streamed(&text, wanted, usize::MAX, false);
            proptest::prop_assert_eq!(&streamed(&text, wanted, usize::MAX, true), &whole);
            proptest::prop_assert_eq!(&streamed(&text, wanted, cut, true), &whole);
            proptest::prop_assert_eq!(&streamed(&text, wanted, cut, false), &whole);
        }
    }
}
