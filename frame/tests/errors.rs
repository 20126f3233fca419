//! Every failure is one clear sentence naming the file, the line, the
//! column or the type: at `read_csv` and frame-building time where it can
//! be known then, and from the scan task otherwise.

use std::path::PathBuf;

use rask_frame::{read_csv, CsvOptions, Dtype, FrameError, Pred};

fn dir(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("rask-frame-errors-{}-{name}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

fn file(dir: &std::path::Path, name: &str, text: &str) -> String {
    let path = dir.join(name);
    std::fs::write(&path, text).unwrap();
    path.display().to_string()
}

fn sync() -> std::sync::Arc<dyn rask::Scheduler> {
    rask::scheduler_by_name("sync", None).unwrap()
}

#[test]
fn a_missing_file_is_named() {
    let err = read_csv("/nonexistent/rask/data.csv", CsvOptions::default()).unwrap_err();
    assert_eq!(
        err,
        FrameError::MissingFile {
            path: "/nonexistent/rask/data.csv".into()
        }
    );
    assert_eq!(
        err.to_string(),
        "file `/nonexistent/rask/data.csv` does not exist"
    );
    let err = read_csv("/nonexistent/rask/*.csv", CsvOptions::default()).unwrap_err();
    assert_eq!(err.to_string(), "no file matches `/nonexistent/rask/*.csv`");
}

#[test]
fn a_file_removed_after_read_csv_is_named_by_the_task() {
    let d = dir("removed");
    let path = file(&d, "gone.csv", "a\n1\n");
    let frame = read_csv(&path, CsvOptions::default()).unwrap();
    std::fs::remove_file(&path).unwrap();
    let err = frame.len().compute_with(&*sync()).unwrap_err().to_string();
    assert!(
        err.contains(&format!("file `{path}` does not exist")),
        "{err}"
    );
}

#[test]
fn a_missing_column_is_named_with_the_columns_there_are() {
    let d = dir("column");
    let path = file(&d, "a.csv", "Key,Value\n1,2.5\n");
    let frame = read_csv(&path, CsvOptions::default()).unwrap();
    let expected = "no column `Kye`; the columns are [\"Key\", \"Value\"]";
    assert_eq!(frame.column("Kye").unwrap_err().to_string(), expected);
    assert_eq!(
        frame.select(&["Key", "Kye"]).unwrap_err().to_string(),
        expected
    );
    assert_eq!(
        frame.filter("Kye", Pred::IsNull).unwrap_err().to_string(),
        expected
    );
    assert_eq!(frame.groupby("Kye").unwrap_err().to_string(), expected);
    // A column left out by `select` is gone from the view.
    let only_value = frame.select(&["Value"]).unwrap();
    assert!(matches!(
        only_value.column("Key"),
        Err(FrameError::MissingColumn { .. })
    ));
    let err = read_csv(&path, CsvOptions::default().dtype("Kye", Dtype::Utf8)).unwrap_err();
    assert!(matches!(err, FrameError::MissingColumn { .. }), "{err}");
}

#[test]
fn a_bad_row_names_file_line_column_and_text() {
    let d = dir("bad-row");
    // Many rows, so the bad one is deep inside a later byte range.
    let mut text = String::from("Key,Value,Name\n");
    for i in 0..500 {
        text += &format!("{i},{}.5,n{i}\n", i % 7);
    }
    text += "500,oops,n500\n501,1.5,n501\n";
    let path = file(&d, "bad.csv", &text);
    let options = CsvOptions::default().blocksize(Some(512)).sample_bytes(200);
    let frame = read_csv(&path, options).unwrap();
    assert!(frame.npartitions() > 5);
    assert_eq!(frame.dtype("Value").unwrap(), Dtype::Float64);
    let expected = format!("`{path}` line 502, column `Value`: \"oops\" is not a number (Float64)");
    for backend in ["sync", "processes"] {
        let s = rask::scheduler_by_name(backend, Some(2)).unwrap();
        let value = frame.column("Value").unwrap();
        for err in [
            value.sum().unwrap().compute_with(&*s).unwrap_err(),
            value.count().compute_with(&*s).unwrap_err(),
            frame.head(1000).compute_with(&*s).unwrap_err(),
        ] {
            let message = err.to_string();
            assert!(message.ends_with(&expected), "{backend}: {message}");
        }
        // Columns that are fine still compute: only what is read is parsed.
        assert_eq!(
            frame
                .column("Key")
                .unwrap()
                .count()
                .compute_with(&*s)
                .unwrap(),
            502
        );
    }
}

#[test]
fn an_integer_column_with_a_float_later_is_a_bad_row() {
    let d = dir("int");
    let path = file(&d, "a.csv", "n\r\n1\r\n2\r\n2.5\r\n");
    let frame = read_csv(&path, CsvOptions::default().sample_bytes(8)).unwrap();
    assert_eq!(frame.dtype("n").unwrap(), Dtype::Int64);
    let err = frame
        .column("n")
        .unwrap()
        .sum()
        .unwrap()
        .compute_with(&*sync())
        .unwrap_err();
    assert!(
        err.to_string().ends_with(&format!(
            "`{path}` line 4, column `n`: \"2.5\" is not an integer (Int64)"
        )),
        "{err}"
    );
    // Read as floats, it sums.
    let frame = read_csv(&path, CsvOptions::default().dtype("n", Dtype::Float64)).unwrap();
    let sum = frame
        .column("n")
        .unwrap()
        .sum()
        .unwrap()
        .compute_with(&*sync())
        .unwrap();
    assert_eq!(sum.as_f64(), 5.5);
}

#[test]
fn a_wrong_type_for_an_aggregation_names_column_and_type() {
    let d = dir("type");
    let path = file(&d, "a.csv", "Key,Name,Value\n1,a,0.5\n2,b,1.5\n");
    let frame = read_csv(&path, CsvOptions::default()).unwrap();
    let name = frame.column("Name").unwrap();
    assert_eq!(
        name.sum().unwrap_err().to_string(),
        "cannot take the sum of column `Name`: it holds text (Utf8)"
    );
    assert_eq!(
        name.mean().unwrap_err().to_string(),
        "cannot take the mean of column `Name`: it holds text (Utf8)"
    );
    assert!(matches!(
        name.max(),
        Err(FrameError::WrongType {
            dtype: Dtype::Utf8,
            ..
        })
    ));
    let err = frame.filter("Name", Pred::Gt(1.0)).unwrap_err();
    assert_eq!(
        err.to_string(),
        "cannot take the filter Gt(1.0) of column `Name`: it holds text (Utf8)"
    );
    assert!(matches!(
        frame.filter("Key", Pred::eq("a")),
        Err(FrameError::WrongType { .. })
    ));
    let err = frame.groupby("Value").unwrap_err();
    assert_eq!(
        err.to_string(),
        "cannot take the group-by of column `Value`: it holds floats (Float64)"
    );
    assert!(matches!(
        frame.groupby("Key").unwrap().sum("Name"),
        Err(FrameError::WrongType { .. })
    ));
}

#[test]
fn files_with_different_headers_are_refused() {
    let d = dir("headers");
    file(&d, "1.csv", "a,b\n1,2\n");
    let second = file(&d, "2.csv", "a,c\n1,2\n");
    let err = read_csv(
        format!("{}/*.csv", d.display()).as_str(),
        CsvOptions::default(),
    )
    .unwrap_err();
    assert!(
        err.to_string()
            .starts_with(&format!("file `{second}` has columns [\"a\", \"c\"], but")),
        "{err}"
    );
    let empty = file(&d, "empty.txt", "");
    let err = read_csv(&empty, CsvOptions::default()).unwrap_err();
    assert_eq!(err, FrameError::NoHeader { path: empty });
}

#[test]
fn line_breaks_in_quotes_need_whole_files() {
    let d = dir("multiline");
    let mut text = String::from("id,note\n");
    for i in 0..200 {
        text += &format!("{i},\"line one\nline two of {i}\"\n");
    }
    let path = file(&d, "notes.csv", &text);
    let whole = read_csv(&path, CsvOptions::default().blocksize(None)).unwrap();
    let batch = whole.head(2).compute_with(&*sync()).unwrap();
    let notes = batch
        .column(1)
        .as_any()
        .downcast_ref::<arrow_array::StringArray>()
        .unwrap();
    assert_eq!(notes.value(1), "line one\nline two of 1");
    assert_eq!(
        whole
            .column("id")
            .unwrap()
            .count()
            .compute_with(&*sync())
            .unwrap(),
        200
    );
    let split = read_csv(&path, CsvOptions::default().blocksize(Some(256))).unwrap();
    let err = split
        .column("id")
        .unwrap()
        .count()
        .compute_with(&*sync())
        .unwrap_err()
        .to_string();
    assert!(err.contains("blocksize(None)"), "{err}");
}

#[test]
fn an_unterminated_quote_names_the_line() {
    let d = dir("quote");
    let path = file(&d, "q.csv", "a,b\n1,\"x\n2,y\n");
    let frame = read_csv(&path, CsvOptions::default().blocksize(None)).unwrap();
    let err = frame.len().compute_with(&*sync()).unwrap_err().to_string();
    assert!(
        err.ends_with(&format!("`{path}` line 2: a quoted field is never closed")),
        "{err}"
    );
}
