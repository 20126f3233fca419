//! `delayed` end to end on every in-process backend.

use std::sync::Arc;

use rask::{
    compute_many, delayed, delayed_local, delayed_many, fallible, Delayed, Error, Inputs, Local,
    Options, Profiler,
};

const BACKENDS: [&str; 3] = ["sync", "threads", "processes"];

fn on(backend: &str) -> Options<'static> {
    Options::new().scheduler(backend).num_workers(2)
}

fn square(x: &i64) -> i64 {
    x * x
}

#[test]
fn the_seed_map_and_sum() {
    let square = delayed(square);
    let a: Vec<Delayed<i64>> = (1..10).map(|i| square.call((i,))).collect();
    let total = delayed_many(|xs: Inputs<i64>| xs.sum::<i64>()).call(&a);
    for backend in BACKENDS {
        assert_eq!(total.compute_with(&on(backend)).unwrap(), 285);
        assert_eq!(
            compute_many(&a, &on(backend)).unwrap(),
            [1, 4, 9, 16, 25, 36, 49, 64, 81]
        );
    }
}

#[test]
fn arguments_mix_values_delayed_values_and_lists() {
    let add3 =
        delayed(|a: &i64, b: &String, c: &Vec<i64>| a + b.len() as i64 + c.iter().sum::<i64>());
    let x = delayed(square).call((3,));
    let parts: Vec<Delayed<i64>> = (0..4).map(|i| delayed(square).call((i,))).collect();
    let r = add3.call((&x, "four", parts));
    for backend in BACKENDS {
        assert_eq!(r.compute_with(&on(backend)).unwrap(), 9 + 4 + 14);
    }
}

#[test]
fn chaining_fields_and_indexes() {
    #[derive(Clone, serde::Serialize, serde::Deserialize)]
    struct Stats {
        count: u64,
        values: Vec<f64>,
    }
    let stats = delayed(|n: &u64| Stats {
        count: *n,
        values: (0..*n).map(|i| i as f64).collect(),
    })
    .call((5u64,));
    let count = stats.map(|s| s.count);
    let third = stats.map(|s| s.values[3]);
    let both = delayed(|c: &u64, t: &f64| *c as f64 + t).call((count, third));
    for backend in BACKENDS {
        assert_eq!(both.compute_with(&on(backend)).unwrap(), 8.0);
    }
}

/// Counts calls across processes: each call appends one byte to a file.
struct CallLog(std::path::PathBuf);

impl CallLog {
    fn new(name: &str) -> CallLog {
        let path = std::env::temp_dir().join(format!("rask-{name}-{}", std::process::id()));
        std::fs::write(&path, b"").unwrap();
        CallLog(path)
    }
    fn record(path: &std::path::Path) {
        use std::io::Write;
        let mut f = std::fs::OpenOptions::new().append(true).open(path).unwrap();
        f.write_all(b"x").unwrap();
    }
    fn take(&self) -> usize {
        let n = std::fs::read(&self.0).unwrap().len();
        std::fs::write(&self.0, b"").unwrap();
        n
    }
}

impl Drop for CallLog {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.0);
    }
}

#[test]
fn shared_inputs_run_once() {
    let log = CallLog::new("shared");
    let path = log.0.clone();
    let shared = delayed(move |x: &i64| {
        CallLog::record(&path);
        x * 10
    })
    .call((4,));
    let a = shared.map(|x| x + 1);
    let b = shared.map(|x| x + 2);
    for backend in BACKENDS {
        assert_eq!(
            compute_many(&[a.clone(), b.clone()], &on(backend)).unwrap(),
            [41, 42]
        );
        assert_eq!(log.take(), 1, "{backend}");
    }
}

#[test]
fn a_fan_in_of_ten_thousand() {
    let xs: Vec<Delayed<u64>> = (0..10_000u64).map(Delayed::value).collect();
    let total = delayed_many(|xs: Inputs<u64>| xs.sum::<u64>()).call(xs);
    for backend in BACKENDS {
        assert_eq!(total.compute_with(&on(backend)).unwrap(), 49_995_000);
    }
}

#[test]
fn a_long_chain_builds_computes_and_drops_without_recursion() {
    let mut d = Delayed::value(0u64);
    for _ in 0..200_000 {
        d = d.map(|x| x + 1);
    }
    for backend in BACKENDS {
        assert_eq!(d.compute_with(&on(backend)).unwrap(), 200_000);
    }
    drop(d);
}

#[test]
fn errors_name_the_task_and_the_op() {
    let parse = delayed(fallible(|s: &String| s.parse::<i64>())).name("parse");
    let good = parse.call(("12",));
    let bad = parse.call(("twelve",)).named("parse-twelve");
    let sum = delayed(|a: &i64, b: &i64| a + b).call((good, bad));
    for backend in BACKENDS {
        let err = sum.compute_with(&on(backend)).unwrap_err();
        assert_eq!(
            err.to_string(),
            "task `parse-twelve` (op `parse`) failed: invalid digit found in string",
            "{backend}"
        );
        assert!(matches!(err, Error::TaskFailed { .. }));
    }
}

#[test]
fn same_key_same_task() {
    let log = CallLog::new("same-key");
    let path = log.0.clone();
    let f = delayed(move |x: &i64| {
        CallLog::record(&path);
        *x
    });
    let a = f.call((1,)).named("x");
    let b = f.call((1,)).named("x");
    let both = delayed(|a: &i64, b: &i64| a + b).call((a, b));
    for backend in BACKENDS {
        assert_eq!(both.compute_with(&on(backend)).unwrap(), 2);
        assert_eq!(
            log.take(),
            1,
            "{backend}: two calls with key `x` are one task"
        );
    }
}

#[test]
fn local_values_stay_in_process() {
    struct Handle(std::sync::Mutex<i64>);
    let make = delayed_local(|x: &i64| Arc::new(Handle(std::sync::Mutex::new(*x))));
    let read = delayed(|h: &Arc<Handle>, extra: &i64| *h.0.lock().unwrap() + extra);
    let h = make.call((Local(40i64),));
    let r = read.call((&h, 2));
    for backend in BACKENDS {
        // With processes, `make` and `read` fuse into one task: the local
        // value never has to leave the child that made it.
        assert_eq!(r.compute_with(&on(backend)).unwrap(), 42, "{backend}");
    }
    // Used by two tasks, it might have to cross: refused before any fork.
    let both = [r.clone(), read.call((&h, 3))];
    assert_eq!(compute_many(&both, &on("threads")).unwrap(), [42, 43]);
    let err = compute_many(&both, &on("processes"))
        .unwrap_err()
        .to_string();
    assert!(err.contains("returns a value with no codec"), "{err}");
    assert!(
        err.contains("local_values_stay_in_process-closure"),
        "{err}"
    );
}

#[test]
fn the_profiler_records_every_task_and_writes_a_chrome_trace() {
    let square = delayed(square);
    let a: Vec<Delayed<i64>> = (1..10).map(|i| square.call((i,))).collect();
    let total = delayed_many(|xs: Inputs<i64>| xs.sum::<i64>())
        .call(a)
        .named("total");
    for backend in BACKENDS {
        let profiler = Profiler::new();
        let progress = rask::ProgressBar::new();
        let options = on(backend).events(&profiler).events(&progress);
        assert_eq!(total.compute_with(&options).unwrap(), 285);
        let records = profiler.records();
        assert_eq!(records.len(), 10, "{backend}");
        assert_eq!(progress.position(), (10, 10));
        assert!(records.iter().any(|r| r.key == "total"));
        assert_eq!(records.iter().filter(|r| r.op == "square").count(), 9);
        assert!(records.iter().all(|r| r.start_ns <= r.end_ns));
        let total_rec = records.iter().find(|r| r.key == "total").unwrap();
        assert!(records
            .iter()
            .filter(|r| r.op == "square")
            .all(|r| r.end_ns <= total_rec.start_ns));

        let dir = std::env::temp_dir().join(format!("rask-trace-{}-{backend}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("trace.json");
        profiler.write_chrome_trace(&path).unwrap();
        let trace: serde_json::Value =
            serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
        let events = trace.as_array().unwrap();
        assert_eq!(events.len(), 10);
        assert!(events
            .iter()
            .all(|e| e["ph"] == "X" && e["dur"].as_f64().unwrap() >= 0.0));
        assert!(events.iter().any(|e| e["name"] == "total"));
        std::fs::remove_dir_all(&dir).unwrap();
    }
}

#[test]
fn a_task_in_a_worker_process_can_compute_on_threads() {
    // The parent's pool exists before the fork; the child inherits the
    // pool list but not its threads, and must start a pool of its own.
    let warm = delayed(square).call((3,));
    assert_eq!(warm.compute_with(&on("threads")).unwrap(), 9);
    let inner = delayed(|n: &i64| {
        let parts: Vec<Delayed<i64>> = (0..*n).map(|i| delayed(square).call((i,))).collect();
        let total = delayed_many(|xs: Inputs<i64>| xs.sum::<i64>()).call(parts);
        total.compute_with(&on("threads")).unwrap_or(-1)
    });
    let outer: Vec<Delayed<i64>> = (1..5).map(|n| inner.call((n * 10,))).collect();
    let sums = compute_many(&outer, &on("processes")).unwrap();
    let expected: Vec<i64> = (1..5).map(|n| (0..n * 10).map(|i| i * i).sum()).collect();
    assert_eq!(sums, expected);
}

#[test]
fn values_of_different_types_share_one_graph() {
    let log = CallLog::new("tuple");
    let path = log.0.clone();
    let data = delayed(move |n: &u64| {
        CallLog::record(&path);
        (1..=*n).collect::<Vec<u64>>()
    })
    .call((4u64,));
    let total = data.map(|v| v.iter().sum::<u64>());
    let label = data.map(|v| format!("{} values", v.len()));
    let mean = data.map(|v| v.iter().sum::<u64>() as f64 / v.len() as f64);
    for backend in BACKENDS {
        let (t, l, m) = rask::compute_all((&total, &label, &mean), &on(backend)).unwrap();
        assert_eq!((t, l.as_str(), m), (10, "4 values", 2.5), "{backend}");
        assert_eq!(log.take(), 1, "{backend}: the shared input ran once");
    }
}
