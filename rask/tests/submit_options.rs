//! Submit options on real local clusters (worker processes re-executed
//! from this test binary): pure submissions computed once, priorities
//! deciding what runs first, retries surviving injected failures, worker
//! restrictions and resources. Ops leave their traces in files, so what
//! they count holds across worker processes.

use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::time::Duration;

use rask::distributed::{LocalOptions, SubmitOptions};
use rask::Client;

mod common;

/// A fresh directory for one test's files.
fn scratch(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("rask-opts-{}-{name}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

fn text(path: &Path) -> String {
    std::fs::read_to_string(path).unwrap_or_default()
}

/// Appends a line to the file at `path`; how many lines it has then.
fn count_run(path: &String) -> u64 {
    use std::io::Write;
    let mut f = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(path)
        .unwrap();
    writeln!(f, "ran").unwrap();
    text(Path::new(path)).lines().count() as u64
}

/// Fails while the counter in `dir` is below 2, counting each failure.
fn flaky(dir: &String) -> Result<u64, String> {
    let counter = Path::new(dir).join("failures");
    let n: u64 = text(&counter).trim().parse().unwrap_or(0);
    if n < 2 {
        std::fs::write(&counter, (n + 1).to_string()).map_err(|e| e.to_string())?;
        return Err(format!("injected failure {}", n + 1));
    }
    Ok(n)
}

/// Appends `label` to the file `path` (after `ms` milliseconds).
fn record(path: &String, label: &String, ms: &u64) -> u64 {
    use std::io::Write;
    std::thread::sleep(Duration::from_millis(*ms));
    let mut f = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(path)
        .unwrap();
    writeln!(f, "{label}").unwrap();
    0
}

fn pid_of(_: &u64) -> u32 {
    std::process::id()
}

/// Holds the "device" in `dir` for 50 ms; an error if another task held
/// it at the same time.
fn use_device(dir: &String, _item: &u64) -> Result<u32, String> {
    let marker = Path::new(dir).join("busy");
    std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .open(&marker)
        .map_err(|_| "two tasks held the device at once".to_owned())?;
    std::thread::sleep(Duration::from_millis(50));
    std::fs::remove_file(&marker).map_err(|e| e.to_string())?;
    Ok(std::process::id())
}

/// Two single-threaded workers, shared by the tests of this file in turn.
fn pair() -> std::sync::MutexGuard<'static, Client> {
    static CLUSTER: std::sync::OnceLock<Mutex<Client>> = std::sync::OnceLock::new();
    let options = LocalOptions {
        workers: 2,
        dashboard_port: None,
        ..LocalOptions::default()
    };
    common::shared_cluster(&CLUSTER, options)
}

#[test]
fn a_pure_submission_is_computed_once_and_an_impure_one_each_time() {
    let client = pair();
    let dir = scratch("pure");
    let log = dir.join("runs").to_string_lossy().into_owned();
    let a = client.submit(count_run, (log.clone(),)).unwrap();
    let b = client.submit(count_run, (log.clone(),)).unwrap();
    assert!(a.same_as(&b), "equal pure submissions share one future");
    assert_eq!(a.result().unwrap(), 1);
    assert_eq!(b.result().unwrap(), 1);
    // A one-item map of the same call is the same job, too.
    let m = client.map(count_run, [log.clone()]).unwrap();
    assert!(m[0].same_as(&a));
    assert_eq!(m[0].result().unwrap(), 1);
    let other = client
        .map(count_run, [log.clone(), log.clone() + "-2"])
        .unwrap();
    assert_eq!(client.gather(&other).unwrap(), [2, 1]);
    assert_eq!(
        text(Path::new(&log)).lines().count(),
        2,
        "ran once per distinct job"
    );

    let impure = SubmitOptions::default().pure(false);
    let c = client
        .submit_with(count_run, (log.clone(),), &impure)
        .unwrap();
    assert!(!c.same_as(&a));
    assert_eq!(c.result().unwrap(), 3);

    // Once every future of it is gone, a pure job is submitted afresh.
    drop((a, b, m));
    let d = client.submit(count_run, (log.clone(),)).unwrap();
    assert_eq!(d.result().unwrap(), 4);
}

#[test]
fn retries_rerun_a_failing_task_until_it_succeeds() {
    let client = pair();
    let dir = scratch("retries").to_string_lossy().into_owned();
    let ok = client
        .submit_with(
            rask::fallible(flaky),
            (dir.clone(),),
            &SubmitOptions::default().retries(2),
        )
        .unwrap();
    assert_eq!(ok.result().unwrap(), 2, "two failures, then the third run");
    assert_eq!(text(&Path::new(&dir).join("failures")), "2");

    // One retry is not enough for two failures: the job fails with the
    // last failure's message.
    let dir = scratch("retries-short").to_string_lossy().into_owned();
    let short = client
        .submit_with(
            rask::fallible(flaky),
            (dir,),
            &SubmitOptions::default().retries(1),
        )
        .unwrap();
    let err = short.result().unwrap_err().to_string();
    assert!(err.contains("injected failure 2"), "{err}");
}

#[test]
fn workers_restrict_where_tasks_run() {
    let client = pair();
    let workers = client.workers();
    assert_eq!(workers.len(), 2);
    let (id0, addr0) = workers[0].clone();
    let (id1, _) = workers[1].clone();
    let on = |w: &[String]| {
        let opts = SubmitOptions::default().workers(w);
        let futures = client.map_with(pid_of, 0..8u64, &opts).unwrap();
        client.gather(&futures).unwrap()
    };
    let by_addr = on(&[addr0]);
    let by_id = on(&[id1.to_string()]);
    assert!(by_addr.iter().all(|p| *p == by_addr[0]), "{by_addr:?}");
    assert!(by_id.iter().all(|p| *p == by_id[0]), "{by_id:?}");
    assert_ne!(
        by_addr[0], by_id[0],
        "workers {id0} and {id1} are two processes"
    );

    let nowhere = SubmitOptions::default().workers(&["127.0.0.1:1"]);
    let err = client
        .submit_with(pid_of, (1u64,), &nowhere)
        .unwrap()
        .result()
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("127.0.0.1:1") && err.contains("none of them"),
        "{err}"
    );
    let loose = nowhere.allow_other_workers(true);
    assert!(client
        .submit_with(pid_of, (1u64,), &loose)
        .unwrap()
        .result()
        .is_ok());
}

#[test]
fn a_resource_is_held_by_one_task_at_a_time() {
    // One worker with three threads and one "GPU".
    let client = Client::local_with(LocalOptions {
        workers: 1,
        threads_per_worker: 3,
        dashboard_port: None,
        resources: vec![("GPU".into(), 1.0)],
        ..LocalOptions::default()
    })
    .unwrap();
    let gpu = SubmitOptions::default().resources(&[("GPU", 1.0)]);
    let dir = scratch("gpu").to_string_lossy().into_owned();
    let device = rask::delayed(rask::fallible(use_device));
    let six = |dir: &str| -> Vec<_> {
        (0..6u64)
            .map(|i| device.call((dir.to_owned(), i)))
            .collect()
    };
    let held = client.persist_many_with(&six(&dir), &gpu).unwrap();
    assert_eq!(client.gather(&held).unwrap().len(), 6);

    // Without the resource the three threads do overlap: the check above
    // could have failed.
    let dir = scratch("no-gpu").to_string_lossy().into_owned();
    let free = client
        .persist_many_with(&six(&dir), &SubmitOptions::default())
        .unwrap();
    let err = client.gather(&free).unwrap_err().to_string();
    assert!(err.contains("at once"), "{err}");

    // More than any worker offers is an error naming the resource.
    let two = SubmitOptions::default().resources(&[("GPU", 2.0)]);
    let err = client
        .submit_with(pid_of, (1u64,), &two)
        .unwrap()
        .result()
        .unwrap_err()
        .to_string();
    assert!(err.contains("`GPU`"), "{err}");
}

#[test]
fn higher_priority_runs_first_among_queued_tasks() {
    // One single-threaded worker: queued tasks wait in its queue.
    let client = Client::local_with(LocalOptions {
        workers: 1,
        dashboard_port: None,
        ..LocalOptions::default()
    })
    .unwrap();
    let dir = scratch("priority");
    let log = dir.join("order").to_string_lossy().into_owned();
    let at = |label: &str, ms: u64, priority: i32| {
        let opts = SubmitOptions::default().priority(priority);
        client
            .submit_with(record, (log.clone(), label.to_owned(), ms), &opts)
            .unwrap()
    };
    let blocker = at("blocker", 600, 0);
    // The blocker starts; the rest queue behind it, the urgent one last.
    std::thread::sleep(Duration::from_millis(150));
    let low: Vec<_> = (0..3).map(|i| at(&format!("low{i}"), 0, -1)).collect();
    let normal = at("normal", 0, 0);
    let urgent = at("urgent", 0, 10);
    for f in low.iter().chain([&blocker, &normal, &urgent]) {
        f.wait().unwrap();
    }
    let order: Vec<String> = text(Path::new(&log)).lines().map(str::to_owned).collect();
    assert_eq!(
        order,
        ["blocker", "urgent", "normal", "low0", "low1", "low2"],
        "higher priority first, then oldest first"
    );
}
