//! Every reduction of a frame over generated CSV files equals the same
//! reduction computed directly from the generated rows, on every backend:
//! sync, threads, forked processes, and a local cluster of two worker
//! processes. The files have nulls, quoted fields (with delimiters and
//! doubled quotes), CRLF line ends, and one is split into many byte ranges.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::{Arc, OnceLock};

use arrow_array::{Array, Float64Array, Int64Array, StringArray};
use rask::{delayed, delayed_many, fallible, Inputs, Options, Scheduler};
use rask_frame::{read_csv, CsvOptions, Frame, Key, Number, Pred};

/// One generated row: `id,key,value,name`.
#[derive(Clone, Debug)]
struct Row {
    id: i64,
    key: Option<i64>,
    value: Option<f64>,
    name: Option<String>,
}

const NAMES: [&str; 5] = ["plain", "with, comma", "say \"hi\"", "x", "ünï"];

/// Rows of file `f`: values are multiples of 0.25, so every sum is exact
/// in any order.
fn rows(f: usize, n: usize) -> Vec<Row> {
    (0..n)
        .map(|i| {
            let id = (f * 100_000 + i) as i64;
            let h = (id as u64).wrapping_mul(0x9E37_79B9_7F4A_7C15) >> 40;
            Row {
                id,
                key: (!h.is_multiple_of(7)).then_some((h % 5) as i64 - 2),
                value: (!h.is_multiple_of(11)).then_some(((h % 4001) as f64 - 2000.0) * 0.25),
                name: (!h.is_multiple_of(13)).then(|| NAMES[(h % 5) as usize].to_owned()),
            }
        })
        .collect()
}

fn write_csv(path: &PathBuf, rows: &[Row], crlf: bool) {
    let eol = if crlf { "\r\n" } else { "\n" };
    let mut text = format!("id,key,value,name{eol}");
    for (i, r) in rows.iter().enumerate() {
        let key = r.key.map_or(String::new(), |k| k.to_string());
        let value = r.value.map_or(String::new(), |v| v.to_string());
        let name = match &r.name {
            // Quote text that needs it, and now and then text that does not.
            Some(n) if n.contains([',', '"']) || i.is_multiple_of(3) => {
                format!("\"{}\"", n.replace('"', "\"\""))
            }
            Some(n) => n.clone(),
            None => String::new(),
        };
        text += &format!("{},{key},{value},{name}{eol}", r.id);
        if i.is_multiple_of(97) {
            text += eol; // blank lines are skipped
        }
    }
    std::fs::write(path, text).unwrap();
}

struct Data {
    dir: PathBuf,
    rows: Vec<Row>,
}

/// Three files: 1,500 rows (LF), 40 rows (CRLF), 0 rows (header only).
fn data() -> &'static Data {
    static DATA: OnceLock<Data> = OnceLock::new();
    DATA.get_or_init(|| {
        let dir = std::env::temp_dir().join(format!("rask-frame-backends-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let (a, b) = (rows(0, 1500), rows(1, 40));
        write_csv(&dir.join("a.csv"), &a, false);
        write_csv(&dir.join("b.csv"), &b, true);
        write_csv(&dir.join("c.csv"), &[], false);
        Data {
            dir,
            rows: [a, b].concat(),
        }
    })
}

/// One local cluster of 2 worker processes for the whole test binary; it
/// becomes the active client, which the `distributed` scheduler uses.
fn cluster() {
    static CLUSTER: OnceLock<rask::Client> = OnceLock::new();
    CLUSTER.get_or_init(|| {
        rask::Client::local_with(rask::distributed::LocalOptions {
            workers: 2,
            ..Default::default()
        })
        .expect("a local cluster starts")
    });
}

fn backends() -> Vec<(&'static str, Arc<dyn Scheduler>)> {
    cluster();
    [
        ("sync", None),
        ("threads", Some(2)),
        ("processes", Some(2)),
        ("distributed", None),
    ]
    .into_iter()
    .map(|(name, n)| (name, rask::scheduler_by_name(name, n).unwrap()))
    .collect()
}

/// The frame over all three files, `a.csv` split into ~2 KiB ranges.
fn frame() -> Frame {
    let frame = read_csv(
        format!("{}/*.csv", data().dir.display()).as_str(),
        CsvOptions::default().blocksize(Some(2048)),
    )
    .unwrap();
    assert!(
        frame.npartitions() > 10,
        "a.csv is split: {}",
        frame.npartitions()
    );
    frame
}

fn count<T>(xs: impl Iterator<Item = Option<T>>) -> u64 {
    xs.filter(Option::is_some).count() as u64
}

#[test]
fn types_are_guessed_from_the_first_file() {
    use rask_frame::Dtype::*;
    let f = frame();
    assert_eq!(f.columns(), ["id", "key", "value", "name"]);
    let dtypes: Vec<_> = f.columns().iter().map(|c| f.dtype(c).unwrap()).collect();
    assert_eq!(dtypes, [Int64, Int64, Float64, Utf8]);
}

#[test]
fn counts_sums_means_and_extremes() {
    let rows = &data().rows;
    let f = frame();
    let values: Vec<f64> = rows.iter().filter_map(|r| r.value).collect();
    let keys: Vec<i64> = rows.iter().filter_map(|r| r.key).collect();
    let expected_counts: Vec<(String, u64)> = vec![
        ("id".into(), rows.len() as u64),
        ("key".into(), keys.len() as u64),
        ("value".into(), values.len() as u64),
        ("name".into(), count(rows.iter().map(|r| r.name.as_ref()))),
    ];
    for (name, s) in backends() {
        let s = &*s;
        assert_eq!(
            f.len().compute_with(s).unwrap(),
            rows.len() as u64,
            "{name}"
        );
        assert_eq!(
            f.count().compute_with(s).unwrap(),
            expected_counts,
            "{name}"
        );
        assert_eq!(
            f.column("name").unwrap().count().compute_with(s).unwrap(),
            expected_counts[3].1,
            "{name}"
        );
        let value = f.column("value").unwrap();
        assert_eq!(
            value.sum().unwrap().compute_with(s).unwrap(),
            Number::Float(values.iter().sum()),
            "{name}"
        );
        let mean = values.iter().sum::<f64>() / values.len() as f64;
        assert_eq!(
            value.mean().unwrap().compute_with(s).unwrap(),
            Some(mean),
            "{name}"
        );
        let min = values.iter().copied().fold(f64::INFINITY, f64::min);
        assert_eq!(
            value.min().unwrap().compute_with(s).unwrap(),
            Some(Number::Float(min)),
            "{name}"
        );
        let key = f.column("key").unwrap();
        assert_eq!(
            key.sum().unwrap().compute_with(s).unwrap(),
            Number::Int(keys.iter().sum()),
            "{name}"
        );
        let max = keys.iter().max().copied().map(Number::Int);
        assert_eq!(key.max().unwrap().compute_with(s).unwrap(), max, "{name}");
    }
}

#[test]
fn group_by_sum_count_mean() {
    let rows = &data().rows;
    let f = frame();
    let mut by_key: BTreeMap<i64, (u64, f64)> = BTreeMap::new();
    let mut by_name: BTreeMap<String, (u64, i64)> = BTreeMap::new();
    for r in rows {
        if let Some(k) = r.key {
            let e = by_key.entry(k).or_default();
            e.0 += u64::from(r.value.is_some());
            e.1 += r.value.unwrap_or(0.0);
        }
        if let Some(n) = &r.name {
            let e = by_name.entry(n.clone()).or_default();
            e.0 += u64::from(r.key.is_some());
            e.1 += r.key.unwrap_or(0);
        }
    }
    let sums: Vec<(Key, Number)> = by_key
        .iter()
        .map(|(k, v)| (Key::Int(*k), Number::Float(v.1)))
        .collect();
    let counts: Vec<(Key, u64)> = by_key.iter().map(|(k, v)| (Key::Int(*k), v.0)).collect();
    let means: Vec<(Key, f64)> = by_key
        .iter()
        .map(|(k, v)| (Key::Int(*k), v.1 / v.0 as f64))
        .collect();
    let name_sums: Vec<(Key, Number)> = by_name
        .iter()
        .map(|(k, v)| (Key::Str(k.clone()), Number::Int(v.1)))
        .collect();
    for (name, s) in backends() {
        let s = &*s;
        let g = f.groupby("key").unwrap();
        assert_eq!(
            g.sum("value").unwrap().compute_with(s).unwrap(),
            sums,
            "{name}"
        );
        assert_eq!(
            g.count("value").unwrap().compute_with(s).unwrap(),
            counts,
            "{name}"
        );
        assert_eq!(
            g.mean("value").unwrap().compute_with(s).unwrap(),
            means,
            "{name}"
        );
        let g = f.groupby("name").unwrap();
        assert_eq!(
            g.sum("key").unwrap().compute_with(s).unwrap(),
            name_sums,
            "{name}"
        );
    }
}

#[test]
fn filters_keep_the_rows_that_match() {
    let rows = &data().rows;
    let f = frame();
    let big: Vec<&Row> = rows
        .iter()
        .filter(|r| r.value.is_some_and(|v| v > 100.0))
        .collect();
    let commas: Vec<&Row> = rows
        .iter()
        .filter(|r| r.name.as_deref() == Some("with, comma"))
        .collect();
    let no_key = rows.iter().filter(|r| r.key.is_none()).count() as u64;
    let both = rows
        .iter()
        .filter(|r| r.value.is_some_and(|v| v > 100.0) && r.key == Some(1))
        .count() as u64;
    for (name, s) in backends() {
        let s = &*s;
        let big_frame = f.filter("value", Pred::Gt(100.0)).unwrap();
        assert_eq!(
            big_frame.len().compute_with(s).unwrap(),
            big.len() as u64,
            "{name}"
        );
        let sum = big.iter().map(|r| r.id).sum::<i64>();
        let got = big_frame
            .column("id")
            .unwrap()
            .sum()
            .unwrap()
            .compute_with(s)
            .unwrap();
        assert_eq!(got, Number::Int(sum), "{name}");
        let with_comma = f.filter("name", Pred::eq("with, comma")).unwrap();
        assert_eq!(
            with_comma
                .column("id")
                .unwrap()
                .count()
                .compute_with(s)
                .unwrap(),
            commas.len() as u64
        );
        assert_eq!(
            f.filter("key", Pred::IsNull)
                .unwrap()
                .len()
                .compute_with(s)
                .unwrap(),
            no_key,
            "{name}"
        );
        let two = big_frame.filter("key", Pred::eq(1)).unwrap();
        assert_eq!(two.len().compute_with(s).unwrap(), both, "{name}");
        // The rows themselves, in file order.
        let batch = with_comma
            .select(&["id", "name"])
            .unwrap()
            .collect()
            .compute_with(s)
            .unwrap();
        let ids = batch
            .column(0)
            .as_any()
            .downcast_ref::<Int64Array>()
            .unwrap();
        assert_eq!(
            ids.values().to_vec(),
            commas.iter().map(|r| r.id).collect::<Vec<_>>(),
            "{name}"
        );
        let names = batch
            .column(1)
            .as_any()
            .downcast_ref::<StringArray>()
            .unwrap();
        assert!(names.iter().all(|n| n == Some("with, comma")), "{name}");
    }
}

#[test]
fn head_is_the_first_rows_in_file_order() {
    let rows = &data().rows;
    let f = frame();
    for (name, s) in backends() {
        let batch = f.head(5).compute_with(&*s).unwrap();
        assert_eq!(batch.num_rows(), 5, "{name}");
        assert_eq!(batch.schema().fields().len(), 4);
        let ids = batch
            .column(0)
            .as_any()
            .downcast_ref::<Int64Array>()
            .unwrap();
        let values = batch
            .column(2)
            .as_any()
            .downcast_ref::<Float64Array>()
            .unwrap();
        let names = batch
            .column(3)
            .as_any()
            .downcast_ref::<StringArray>()
            .unwrap();
        for (i, r) in rows.iter().take(5).enumerate() {
            assert_eq!(ids.value(i), r.id, "{name}");
            assert_eq!(values.is_null(i), r.value.is_none(), "{name}");
            assert_eq!(
                names.is_valid(i).then(|| names.value(i).to_owned()),
                r.name,
                "{name}"
            );
        }
        // More rows than there are: all of them.
        let all = f
            .select(&["value"])
            .unwrap()
            .head(1 << 20)
            .compute_with(&*s)
            .unwrap();
        assert_eq!(all.num_rows(), rows.len(), "{name}");
    }
}

#[test]
fn the_seed_cell_per_file_with_delayed() {
    let rows = &data().rows;
    let files: Vec<String> = ["a.csv", "b.csv", "c.csv"]
        .iter()
        .map(|f| data().dir.join(f).display().to_string())
        .collect();
    let count = delayed(fallible(rask_frame::count_column));
    let tasks: Vec<_> = files
        .iter()
        .map(|f| count.call((f.clone(), "key")))
        .collect();
    let total = delayed_many(|xs: Inputs<u64>| xs.sum::<u64>()).call(tasks);
    let expected = count_of(rows.iter().map(|r| r.key));
    cluster();
    for backend in ["sync", "threads", "processes", "distributed"] {
        assert_eq!(
            total
                .compute_with(&Options::new().scheduler(backend))
                .unwrap(),
            expected,
            "{backend}"
        );
    }
}

fn count_of(xs: impl Iterator<Item = Option<i64>>) -> u64 {
    count(xs)
}

#[test]
fn any_blocksize_gives_the_same_answer() {
    let rows = &data().rows;
    let path = data().dir.join("a.csv");
    let a = &rows[..1500];
    let expected: i64 = a.iter().filter_map(|r| r.key).sum();
    let sync = rask::scheduler_by_name("sync", None).unwrap();
    for blocksize in [None, Some(1), Some(7), Some(64), Some(333), Some(4096)] {
        let f = read_csv(&path, CsvOptions::default().blocksize(blocksize)).unwrap();
        let got = f
            .column("key")
            .unwrap()
            .sum()
            .unwrap()
            .compute_with(&*sync)
            .unwrap();
        assert_eq!(got, Number::Int(expected), "blocksize {blocksize:?}");
        assert_eq!(
            f.len().compute_with(&*sync).unwrap(),
            1500,
            "blocksize {blocksize:?}"
        );
    }
}
