//! `rask-frame`'s CSV scanner on arbitrary bytes, in memory (through the
//! crate's hidden `fuzzing` entry points), with any dialect, any number of
//! wanted fields and any owned range:
//!
//! - the header read and type guess of `read_csv` never panic;
//! - a buffer without a quote byte gives the same records through the
//!   quote-free fast path and the quote-aware scanner;
//! - scanning a prefix of the buffer (more bytes to come) hands over only
//!   records the whole buffer also has, in the same order;
//! - each field's "is it a number" check agrees with its parser, so a
//!   `count` accepts exactly the values a `sum` can read.

#![no_main]

use libfuzzer_sys::fuzz_target;
use rask_frame::fuzzing::{header_and_types, parse_field, scan, scan_quote_aware, ScanArgs};

fuzz_target!(|data: &[u8]| {
    let Some((&[d, q, wanted, cut, flags], buf)) = data.split_first_chunk::<5>() else {
        return;
    };
    let delimiter = [b',', b';', b'\t', d][usize::from(flags & 3)];
    let quote = [b'"', b'\'', b'"', q][usize::from((flags >> 2) & 3)];
    let args = ScanArgs {
        delimiter,
        quote,
        owned_end: if flags & 0x10 != 0 {
            buf.len() * usize::from(cut) / 255
        } else {
            buf.len()
        },
        wanted: if wanted == 255 {
            usize::MAX
        } else {
            usize::from(wanted % 16)
        },
        multiline: flags & 0x20 != 0,
        eof: flags & 0x40 == 0,
        stop_after: if flags & 0x80 != 0 {
            usize::from(cut % 8) + 1
        } else {
            usize::MAX
        },
    };

    let _ = header_and_types(buf, delimiter, quote);

    let whole = scan(buf, args);
    if !buf.contains(&quote) {
        assert_eq!(
            whole,
            scan_quote_aware(buf, args),
            "the fast path and the quote-aware scanner disagree"
        );
    }

    let prefix_len = buf.len() * usize::from(cut) / 255;
    let prefix = scan(&buf[..prefix_len], ScanArgs { eof: false, ..args });
    if whole.1.is_ok() && prefix.1.is_ok() {
        assert!(
            prefix.0.len() <= whole.0.len() && whole.0[..prefix.0.len()] == prefix.0[..],
            "a prefix of the buffer gave records the whole does not have"
        );
    }

    for (_, fields) in &whole.0 {
        for field in fields {
            let (is_int, int, is_float, float) = parse_field(field);
            assert_eq!(
                is_int,
                int.is_some(),
                "is_i64 and parse_i64 disagree on {field:?}"
            );
            assert_eq!(
                is_float,
                float.is_some(),
                "is_f64 and parse_f64 disagree on {field:?}"
            );
        }
    }
});
