//! Entry points for the fuzz targets in the workspace's `fuzz/` directory,
//! hidden from the docs: the CSV scanner, type inference and field parsers
//! are private, and fuzzing them in memory is hundreds of times faster
//! than going through files. Nothing here is API; it may change any time.

use crate::csv_scan::{first_record, for_each_record, quoted, Format};
use crate::parse::{is_f64, is_i64, parse_f64, parse_i64};
use crate::schema::{infer, Dtype};

/// The records a scan handed over (offset and wanted fields) and where it
/// ended: `Ok(Some(offset))` consumed up to there, `Ok(None)` stopped by
/// the callback, `Err` malformed.
pub type Scanned = (Vec<(usize, Vec<Vec<u8>>)>, Result<Option<usize>, String>);

/// How one scan is asked for; the fields of `for_each_record`.
#[derive(Clone, Copy, Debug)]
pub struct ScanArgs {
    /// The field delimiter.
    pub delimiter: u8,
    /// The quote character.
    pub quote: u8,
    /// Records starting at or after this offset are not handed over.
    pub owned_end: usize,
    /// Fields split off per record.
    pub wanted: usize,
    /// Line breaks inside quotes are allowed.
    pub multiline: bool,
    /// The buffer ends the file.
    pub eof: bool,
    /// The callback stops the scan after this many records.
    pub stop_after: usize,
}

fn scan_with(
    args: ScanArgs,
    scanner: impl FnOnce(
        &mut dyn FnMut(usize, &crate::csv_scan::Fields<'_>) -> crate::csv_scan::Flow,
    ) -> Result<crate::csv_scan::Progress, crate::csv_scan::ScanError>,
) -> Scanned {
    let format = Format {
        delimiter: args.delimiter,
        quote: args.quote,
    };
    // `read_csv` refuses these dialects before anything is scanned.
    if let Some(reason) = format.refusal() {
        return (Vec::new(), Err(reason.to_owned()));
    }
    let mut records = Vec::new();
    let mut callback = |offset: usize, fields: &crate::csv_scan::Fields<'_>| {
        let kept = (0..fields.len())
            .map(|i| fields.get(i).unwrap_or_default().to_vec())
            .collect();
        records.push((offset, kept));
        Ok(records.len() < args.stop_after)
    };
    let end = match scanner(&mut callback) {
        Ok(crate::csv_scan::Progress::Consumed(at)) => Ok(Some(at)),
        Ok(crate::csv_scan::Progress::Stopped) => Ok(None),
        Err(crate::csv_scan::ScanError::Malformed(m)) => {
            Err(format!("{} at {}", m.message, m.offset))
        }
        Err(crate::csv_scan::ScanError::Row(r)) => Err(format!("{r:?}")),
    };
    (records, end)
}

/// Scans `buf` as the frame's scan tasks do (the quote-free fast path
/// when `buf` has no quote byte).
pub fn scan(buf: &[u8], args: ScanArgs) -> Scanned {
    let format = Format {
        delimiter: args.delimiter,
        quote: args.quote,
    };
    scan_with(args, |f| {
        for_each_record(
            buf,
            args.owned_end,
            format,
            args.wanted,
            args.multiline,
            args.eof,
            f,
        )
    })
}

/// Scans `buf` with the quote-aware scanner whatever it holds: on a
/// buffer without quotes it must agree with [`scan`].
pub fn scan_quote_aware(buf: &[u8], args: ScanArgs) -> Scanned {
    let format = Format {
        delimiter: args.delimiter,
        quote: args.quote,
    };
    scan_with(args, |f| {
        quoted(
            buf,
            args.owned_end,
            format,
            args.wanted,
            args.multiline,
            args.eof,
            f,
        )
    })
}

/// A file's header fields, the offset past the header, and the column
/// types guessed from what follows.
pub type HeaderAndTypes = (Vec<Vec<u8>>, usize, Vec<Dtype>);

/// What `read_csv` takes from a file's start: the header's fields and the
/// offset past it, and the column types guessed from the rest.
pub fn header_and_types(
    buf: &[u8],
    delimiter: u8,
    quote: u8,
) -> Result<Option<HeaderAndTypes>, String> {
    let format = Format { delimiter, quote };
    if let Some(reason) = format.refusal() {
        return Err(reason.to_owned());
    }
    let Some(header) = first_record(buf, format).map_err(|m| m.message.to_owned())? else {
        return Ok(None);
    };
    let sample = buf.get(header.end..).unwrap_or_default();
    let dtypes = infer(sample, true, header.fields.len(), format);
    Ok(Some((header.fields, header.end, dtypes)))
}

/// A field read as each type: (`is_i64`, `parse_i64`, `is_f64`, `parse_f64`).
pub fn parse_field(b: &[u8]) -> (bool, Option<i64>, bool, Option<f64>) {
    (is_i64(b), parse_i64(b), is_f64(b), parse_f64(b))
}
