//! Persisting data frames on a real local cluster (worker processes
//! re-executed from this test binary) and in this process, over CSV files
//! this test writes: the persisted frame answers every query as the frame
//! it came from did, from partitions parsed once; with the CSV files gone
//! it still does, while the frame over the files fails; and its partitions
//! stay on the cluster exactly as long as the persisted frame lives.

use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::time::Duration;

use rask::{Client, Persistable, Scheduler};
use rask_frame::{read_csv, CsvOptions, Frame, Pred};

mod common;
use common::{eventually, finished_before, held};

/// One cluster for the whole file; tests take turns on it, so that the
/// dashboard's counts are theirs alone.
fn cluster() -> std::sync::MutexGuard<'static, Client> {
    static CLUSTER: std::sync::OnceLock<Mutex<Client>> = std::sync::OnceLock::new();
    common::two_workers_and_a_dashboard(&CLUSTER)
}

/// One generated row of `id,key,value,name`; `None` is an empty field.
struct Row {
    key: Option<i64>,
    value: Option<f64>,
    name: Option<&'static str>,
}

const NAMES: [&str; 4] = ["ant", "bee", "cat", "dog"];

/// Rows of file `f`. Values are multiples of 0.25, so sums are exact in
/// any order and the persisted and unpersisted answers can be equal.
fn rows(f: u64, n: u64) -> Vec<Row> {
    (0..n)
        .map(|i| {
            let h = (f * 10_000 + i).wrapping_mul(0x9E37_79B9_7F4A_7C15) >> 40;
            Row {
                key: (!h.is_multiple_of(7)).then_some((h % 5) as i64),
                value: (!h.is_multiple_of(11)).then_some(((h % 801) as f64 - 400.0) * 0.25),
                name: (!h.is_multiple_of(13)).then_some(NAMES[(h % 4) as usize]),
            }
        })
        .collect()
}

/// Writes two CSV files into a fresh directory named after `test`; returns
/// the directory and the rows written.
fn write_files(test: &str) -> (PathBuf, Vec<Row>) {
    let dir =
        std::env::temp_dir().join(format!("rask-frame-persist-{}-{test}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    let mut all = Vec::new();
    for (f, n) in [(0, 600), (1, 250)] {
        let rows = rows(f, n);
        let mut text = String::from("id,key,value,name\n");
        for (i, r) in rows.iter().enumerate() {
            let field = |v: Option<String>| v.unwrap_or_default();
            text += &format!(
                "{i},{},{},{}\n",
                field(r.key.map(|k| k.to_string())),
                field(r.value.map(|v| v.to_string())),
                field(r.name.map(str::to_owned)),
            );
        }
        std::fs::write(dir.join(format!("part-{f}.csv")), text).unwrap();
        all.extend(rows);
    }
    (dir, all)
}

/// The frame over the files in `dir`, cut into ~2 KiB partitions.
fn frame(dir: &Path) -> Frame {
    let pattern = format!("{}/*.csv", dir.display());
    let df = read_csv(
        pattern.as_str(),
        CsvOptions::default().blocksize(Some(2048)),
    )
    .unwrap();
    assert!(df.npartitions() > 4, "{} partitions", df.npartitions());
    df
}

/// The frame that gets persisted: a filter and a column selection, which
/// the persist applies once.
fn narrowed(df: &Frame) -> Frame {
    df.filter("value", Pred::Ge(-50.0))
        .unwrap()
        .select(&["key", "value", "name"])
        .unwrap()
}

/// The answers of the queries this file asks of a frame, as text (they
/// have different types), each computed on `s`.
fn answers(df: &Frame, s: &dyn Scheduler) -> Result<Vec<String>, rask_frame::FrameError> {
    let by_key = df.groupby("key")?;
    let cats = df.filter("name", Pred::eq("cat"))?;
    Ok(vec![
        format!("len {}", df.len().compute_with(s)?),
        format!("count {:?}", df.count().compute_with(s)?),
        format!("sum {}", df.column("value")?.sum()?.compute_with(s)?),
        format!("max {:?}", df.column("key")?.max()?.compute_with(s)?),
        format!("group mean {:?}", by_key.mean("value")?.compute_with(s)?),
        format!("group sum {:?}", by_key.sum("value")?.compute_with(s)?),
        format!(
            "cat group count {:?}",
            cats.groupby("key")?.count("value")?.compute_with(s)?
        ),
        format!(
            "cat mean {:?}",
            cats.column("value")?.mean()?.compute_with(s)?
        ),
        format!("head {:?}", df.head(7).compute_with(s)?),
    ])
}

#[test]
fn a_persisted_frame_answers_from_its_kept_partitions_after_the_csv_is_gone() {
    let turn = cluster();
    let client = turn.clone();
    let sync = rask::scheduler_by_name("sync", None).unwrap();
    let (dir, rows) = write_files("answers");
    let df = narrowed(&frame(&dir));
    let expected = answers(&df, &client).unwrap();
    // The filter ran: the rows are those the generator made with a value
    // of at least -50, not all of them.
    let kept = rows.iter().filter(|r| r.value.is_some_and(|v| v >= -50.0));
    assert_eq!(expected[0], format!("len {}", kept.count()));
    assert!(rows.len() > 600, "{}", rows.len());

    let persisted = client.persist(&df).unwrap();
    assert_eq!(persisted.npartitions(), df.npartitions());
    assert_eq!(persisted.columns(), ["key", "value", "name"]);
    assert!(
        persisted.partitions().is_empty(),
        "no byte ranges behind it"
    );
    // Its results start from one held partition each; no task reads CSV.
    let (job, _) = persisted
        .groupby("key")
        .unwrap()
        .sum("value")
        .unwrap()
        .job();
    assert_eq!(job.held_tasks().count(), df.npartitions());
    assert!(job
        .ops()
        .iter()
        .all(|op| !op.name().starts_with("read_csv")));
    assert_eq!(answers(&persisted, &client).unwrap(), expected);

    // The files go away: the frame over them now fails, naming a file,
    // and the persisted frame answers as before, on the cluster and on a
    // scheduler that fetches the kept partitions from it.
    std::fs::remove_dir_all(&dir).unwrap();
    let err = answers(&df, &client).unwrap_err().to_string();
    assert!(
        err.contains("part-0.csv") || err.contains("part-1.csv"),
        "{err}"
    );
    assert_eq!(answers(&persisted, &client).unwrap(), expected);
    assert_eq!(answers(&persisted, &*sync).unwrap(), expected);
}

#[test]
fn dropping_a_persisted_frame_releases_its_partitions_on_the_cluster() {
    let turn = cluster();
    let client = turn.clone();
    let link = client.dashboard_link().unwrap();
    let (dir, _) = write_files("release");
    let df = frame(&dir);
    let n = df.npartitions() as u64;
    // Kept partitions are the persist's tasks `("read_csv-partition", i)`;
    // another test's may still be on their way out.
    let prefix = "read_csv-partition";
    eventually(0, || held(&link, prefix).0);
    let before = finished_before(&link, prefix);

    let persisted = client.persist(&df).unwrap();
    let rows = persisted.len().compute_with(&client).unwrap();
    eventually((n, 0), || held(&link, prefix));

    // A clone, and a result built on it, hold the partitions too.
    let clone = persisted.clone();
    let names = persisted.column("name").unwrap().count();
    drop(persisted);
    drop(clone);
    std::thread::sleep(Duration::from_millis(200));
    assert_eq!(held(&link, prefix), (n, 0));
    assert!(names.compute_with(&client).unwrap() <= rows);

    // The last handle gone, the persist's job leaves the scheduler with
    // its finished partitions, none held any more.
    drop(names);
    let gone = || (held(&link, prefix).0, finished_before(&link, prefix));
    eventually((0, before + n), gone);
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn persisting_on_threads_keeps_the_partitions_in_this_process() {
    let threads = rask::scheduler_by_name("threads", Some(2)).unwrap();
    let (dir, _) = write_files("threads");
    let df = narrowed(&frame(&dir));
    let expected = answers(&df, &*threads).unwrap();
    let persisted = df.persist_with(&*threads).unwrap();
    // The partitions are values in the graph, not tasks.
    let (job, _) = persisted.len().job();
    assert_eq!(job.held_tasks().count(), 0);

    // A persisted frame narrowed again persists from its kept rows.
    let dogs = persisted.filter("name", Pred::eq("dog")).unwrap();
    let dogs_expected = answers(&df.filter("name", Pred::eq("dog")).unwrap(), &*threads).unwrap();
    let dogs_kept = dogs.persist_with(&*threads).unwrap();

    std::fs::remove_dir_all(&dir).unwrap();
    assert!(answers(&df, &*threads).is_err(), "the files are gone");
    assert_eq!(answers(&persisted, &*threads).unwrap(), expected);
    assert_eq!(answers(&dogs_kept, &*threads).unwrap(), dogs_expected);
    assert_ne!(dogs_expected[0], expected[0], "the filter kept fewer rows");
}

#[test]
fn kept_partitions_that_do_not_fit_the_frame_are_errors_saying_why() {
    let (dir, _) = write_files("misfit");
    let df = frame(&dir);
    let err = df.with_held_chunks(Vec::new()).unwrap_err().to_string();
    let want = format!("has {} chunks, but 0 were given", df.npartitions());
    assert!(err.contains(&want), "{err}");

    // Batches of another shape (one text column for four) are refused
    // when scanned, naming both sets of columns.
    let other = arrow_array::RecordBatch::try_from_iter([(
        "word",
        std::sync::Arc::new(arrow_array::StringArray::from(vec!["a", "b"])) as _,
    )])
    .unwrap();
    let misfit = rask::Held::here(rask::Value::new(rask_frame::Batch(other)), None);
    let wrong = df.with_held_chunks(vec![misfit; df.npartitions()]).unwrap();
    let sync = rask::scheduler_by_name("sync", None).unwrap();
    let err = wrong.len().compute_with(&*sync).unwrap_err().to_string();
    assert!(
        err.contains("a held partition has columns [\"word: Utf8\"]"),
        "{err}"
    );
    assert!(err.contains("\"id: Int64\""), "{err}");
    std::fs::remove_dir_all(&dir).unwrap();
}
