//! The seed data generator: the row counts asked for, the same bytes for
//! the same seed, and files already complete left alone.

use rask_frame::seed_data::{generate, write_with, HEADER};
use rask_frame::{read_csv, CsvOptions, Dtype};

#[test]
fn files_have_the_rows_and_columns_asked_for() {
    let dir = std::env::temp_dir().join(format!("rask-frame-seed-{}", std::process::id()));
    let paths = write_with(&dir, 3, 1000, 7).unwrap();
    assert_eq!(
        paths
            .iter()
            .map(|p| p.file_name().unwrap().to_str().unwrap())
            .collect::<Vec<_>>(),
        ["1.csv", "2.csv", "3.csv"]
    );
    let frame = read_csv(
        format!("{}/*.csv", dir.display()).as_str(),
        CsvOptions::default(),
    )
    .unwrap();
    assert_eq!(frame.columns(), ["Key", "Value", "Name"]);
    let dtypes: Vec<_> = ["Key", "Value", "Name"]
        .iter()
        .map(|c| frame.dtype(c).unwrap())
        .collect();
    assert_eq!(dtypes, [Dtype::Int64, Dtype::Float64, Dtype::Utf8]);
    let sync = rask::scheduler_by_name("sync", None).unwrap();
    assert_eq!(
        frame
            .column("Key")
            .unwrap()
            .count()
            .compute_with(&*sync)
            .unwrap(),
        3000
    );
    assert_eq!(frame.len().compute_with(&*sync).unwrap(), 3000);
    // File i comes from seed + i - 1.
    assert_eq!(std::fs::read(&paths[1]).unwrap(), generate(1000, 8));

    // A complete file is kept; a wrong one is written again.
    let kept = std::fs::metadata(&paths[0]).unwrap().modified().unwrap();
    std::fs::write(&paths[2], "Key,Value,Name\n1,2.0,x\n").unwrap();
    std::thread::sleep(std::time::Duration::from_millis(20));
    write_with(&dir, 3, 1000, 7).unwrap();
    assert_eq!(
        std::fs::metadata(&paths[0]).unwrap().modified().unwrap(),
        kept
    );
    assert_eq!(std::fs::read(&paths[2]).unwrap(), generate(1000, 9));
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn the_same_seed_gives_the_same_bytes() {
    let a = generate(500, 42);
    assert_eq!(a, generate(500, 42));
    assert_ne!(a, generate(500, 43));
    assert!(a.starts_with(HEADER.as_bytes()));
    assert_eq!(a.iter().filter(|&&b| b == b'\n').count(), 501);
    assert_eq!(generate(0, 42), HEADER.as_bytes());
}
