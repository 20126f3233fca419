//! Inputs the `csv_scan` fuzz target (`fuzz/`) found, kept as found: each
//! must give an error that says what is wrong, never a panic.

use rask_frame::{read_csv, CsvOptions, FrameError};

fn file(name: &str, bytes: &[u8]) -> std::path::PathBuf {
    let dir = std::env::temp_dir().join(format!("rask-frame-fuzz-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join(name);
    std::fs::write(&path, bytes).unwrap();
    path
}

/// A line break as the delimiter made the scanner's fast path end a field
/// before it started (`slice index starts at 2 but ends at 1` in
/// `Fields::get`), from `read_csv` itself, while it read the header.
#[test]
fn a_line_break_delimiter_is_refused_not_a_panic() {
    // The fuzzer's input after its five option bytes (delimiter `\n`, quote `1`).
    let crash: &[u8] = b"\x0a\x31\x3b\xff\xff\xff\xff\xff\xff\xff\x01\x20\x38\x20\x3b\x78\x0a\x2d\x39\x32\x18\x33\x33\x33\x66\x3b\x4e\x61\x2b\x4e\x0a";
    let path = file("newline-delimiter.csv", &crash[5..]);
    let err = read_csv(&path, CsvOptions::default().delimiter(b'\n').quote(b'1')).unwrap_err();
    assert!(
        matches!(
            err,
            FrameError::Dialect {
                delimiter: b'\n',
                ..
            }
        ),
        "{err:?}"
    );
    assert_eq!(
        err.to_string(),
        "cannot read CSV with delimiter '\\n' and quote '1': the delimiter cannot be a line break (`\\n` or `\\r`)"
    );
}

#[test]
fn every_dialect_the_scanner_cannot_read_is_refused() {
    let path = file("plain.csv", b"a,b\n1,2\n");
    for (delimiter, quote) in [(b'\r', b'"'), (b',', b'\n'), (b',', b'\r'), (b';', b';')] {
        let options = CsvOptions::default().delimiter(delimiter).quote(quote);
        let err = read_csv(&path, options).unwrap_err();
        assert!(matches!(err, FrameError::Dialect { .. }), "{err:?}");
    }
    let ok = read_csv(&path, CsvOptions::default().delimiter(b'\t').quote(b'\''));
    assert!(ok.is_ok(), "an ordinary dialect is read");
}
