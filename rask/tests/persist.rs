//! Persisting collections on a real local cluster (worker processes
//! re-executed from this test binary) and in this process: the persisted
//! chunks are computed once, later graphs start from them, and they stay
//! on the cluster exactly as long as the persisted collection lives.
//!
//! User functions count their runs in files every process of the test
//! shares, so that a chunk computed again, anywhere, shows.

use std::io::Write;
use std::path::PathBuf;
use std::sync::Mutex;
use std::time::Duration;

use rask::{Client, Persistable};
use rask_array::{random, Array};

mod common;
use common::{eventually, finished_before, held};

/// One cluster for the whole file; tests take turns on it, so that the
/// dashboard's counts are theirs alone.
fn cluster() -> std::sync::MutexGuard<'static, Client> {
    static CLUSTER: std::sync::OnceLock<Mutex<Client>> = std::sync::OnceLock::new();
    common::two_workers_and_a_dashboard(&CLUSTER)
}

/// The file counting runs of `name`. The workers are this binary
/// re-executed, so the binary's path names the same file in every process.
fn runs_file(name: &str) -> PathBuf {
    use std::hash::{Hash, Hasher};
    let mut h = std::collections::hash_map::DefaultHasher::new();
    std::env::current_exe().unwrap().hash(&mut h);
    std::env::temp_dir().join(format!("rask-persist-{:x}-{name}", h.finish()))
}

/// Records one run of `name` (one byte appended).
fn count_run(name: &str) {
    std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(runs_file(name))
        .and_then(|mut f| f.write_all(b"."))
        .unwrap();
}

/// How many runs of `name` were recorded.
fn runs(name: &str) -> u64 {
    std::fs::metadata(runs_file(name)).map_or(0, |m| m.len())
}

fn forget_runs(name: &str) {
    let _ = std::fs::remove_file(runs_file(name));
}

/// The element function of the arrays: counted, per element.
fn counted_affine(x: f64) -> f64 {
    count_run("array");
    2.0 * x + 1.0
}

fn counted_affine_local(x: f64) -> f64 {
    count_run("array-local");
    2.0 * x + 1.0
}

fn close(a: f64, b: f64) -> bool {
    (a - b).abs() <= 1e-12 * a.abs().max(b.abs()).max(1.0)
}

fn scalar(a: &Array, scheduler: &dyn rask::Scheduler) -> f64 {
    a.compute_with(scheduler)
        .unwrap()
        .into_iter()
        .next()
        .unwrap()
}

#[test]
fn a_persisted_array_gives_two_reductions_without_running_its_chunks_again() {
    let turn = cluster();
    let client = turn.clone();
    let sync = rask::scheduler_by_name("sync", None).unwrap();
    forget_runs("array");
    let x = random(&[40, 30], &[10, 10], 7).unwrap().map(counted_affine);
    let elements = 40 * 30;

    // Unpersisted, every compute evaluates every element: the counter
    // sees each run.
    let sum = scalar(&x.sum_all(), &*sync);
    let col_means = x.mean(&[0]).compute_with(&*sync).unwrap();
    assert_eq!(runs("array"), 2 * elements);

    let persisted = client.persist(&x).unwrap();
    assert_eq!(persisted.shape(), x.shape());
    assert_eq!(persisted.chunks(), x.chunks());
    // Its graphs start from the 12 held chunks; the element function is
    // not in them.
    let (job, _) = persisted.sum_all().chunks_job().unwrap();
    assert_eq!(job.held_tasks().count(), 12);
    assert!(job.ops().iter().all(|op| op.name() != "array-eval-map"));

    let again = scalar(&persisted.sum_all(), &client);
    assert!(close(again, sum), "{again} != {sum}");
    let means = persisted.mean(&[0]).compute_with(&client).unwrap();
    assert_eq!(means.shape(), col_means.shape());
    for (a, b) in means.iter().zip(&col_means) {
        assert!(close(*a, *b), "{a} != {b}");
    }
    // Further elementwise work fuses onto the held chunks.
    let shifted = scalar(&(&persisted - 1.0).sum_all(), &client);
    assert!(close(shifted, sum - elements as f64), "{shifted}");
    // The persist ran each element once on the cluster; nothing since.
    assert_eq!(runs("array"), 3 * elements);

    // Another scheduler fetches the held chunks from the cluster.
    assert!(close(scalar(&persisted.sum_all(), &*sync), sum));
    assert_eq!(runs("array"), 3 * elements);
}

#[test]
fn dropping_a_persisted_array_releases_its_chunks_on_the_cluster() {
    let turn = cluster();
    let client = turn.clone();
    let link = client.dashboard_link().unwrap();
    // `exp` names the chunk tasks (`exp-1(0, 0)`): no other test here
    // makes such tasks.
    let x = random(&[40, 30], &[10, 10], 3).unwrap().exp();
    let persisted = client.persist(&x).unwrap();
    let total = scalar(&persisted.sum_all(), &client);
    eventually((12, 0), || held(&link, "exp"));

    // A clone, and an array built on it, hold the chunks too.
    let clone = persisted.clone();
    let built = &persisted * 2.0;
    drop(persisted);
    drop(clone);
    std::thread::sleep(Duration::from_millis(200));
    assert_eq!(held(&link, "exp"), (12, 0));
    assert!(close(scalar(&built.sum_all(), &client), 2.0 * total));

    // The last handle gone, the job leaves the scheduler with its 12
    // finished chunks, none held any more.
    drop(built);
    let gone = || (held(&link, "exp").0, finished_before(&link, "exp"));
    eventually((0, 12), gone);
}

fn counted_square(x: &i64) -> i64 {
    count_run("bag");
    x * x
}

fn plus_one(x: &i64) -> i64 {
    x + 1
}

fn is_even(x: &i64) -> bool {
    x % 2 == 0
}

#[test]
fn a_persisted_bag_is_mapped_over_without_running_its_steps_again() {
    let turn = cluster();
    let client = turn.clone();
    let link = client.dashboard_link().unwrap();
    let sync = rask::scheduler_by_name("sync", None).unwrap();
    forget_runs("bag");
    let squares = rask_bag::from_iter(0..100i64, 5)
        .filter(|x: &i64| *x >= 0)
        .map(counted_square);
    let expected_sum = squares.map(plus_one).sum().compute(&*sync).unwrap();
    assert_eq!(runs("bag"), 100);

    let persisted = client.persist(&squares).unwrap();
    assert_eq!(persisted.npartitions(), 5);
    assert_eq!(persisted.name(), "from_iter-filter-map-persisted");
    assert_eq!(
        persisted.map(plus_one).sum().compute(&client).unwrap(),
        expected_sum
    );
    let evens = persisted.filter(is_even).count().compute(&client).unwrap();
    assert_eq!(evens, 50);
    let items = persisted.compute(&client).unwrap();
    assert_eq!(items, (0..100i64).map(|x| x * x).collect::<Vec<_>>());
    // The persist ran the steps once per item; the three computes, none.
    assert_eq!(runs("bag"), 200);

    // Held partitions are tasks of the persist's job
    // (`("from_iter-filter-map", i)`), which leaves the scheduler with the
    // last handle.
    let prefix = "from_iter-filter-map";
    eventually((5, 0), || held(&link, prefix));
    drop(persisted);
    eventually((0, 5), || {
        (held(&link, prefix).0, finished_before(&link, prefix))
    });
}

#[test]
fn persisting_on_threads_keeps_the_chunks_in_this_process() {
    let threads = rask::scheduler_by_name("threads", Some(2)).unwrap();
    forget_runs("array-local");
    let x = random(&[40, 30], &[10, 10], 11)
        .unwrap()
        .map(counted_affine_local);
    let persisted = x.persist_with(&*threads).unwrap();
    assert_eq!(runs("array-local"), 1200);
    // The chunks are values in the graph, not tasks.
    let (job, _) = persisted.sum_all().chunks_job().unwrap();
    assert_eq!(job.held_tasks().count(), 0);
    let sum = scalar(&persisted.sum_all(), &*threads);
    let max = scalar(&persisted.max_all(), &*threads);
    assert_eq!(runs("array-local"), 1200);
    // The same answers as computing from scratch (which runs again).
    assert!(close(sum, scalar(&x.sum_all(), &*threads)));
    assert!(close(max, scalar(&x.max_all(), &*threads)));
    assert_eq!(runs("array-local"), 3 * 1200);

    let bag = rask_bag::from_iter(0..10i64, 3).map(plus_one);
    let kept = bag.persist_with(&*threads).unwrap();
    assert_eq!(kept.map(plus_one).sum().compute(&*threads).unwrap(), 65);
}

#[test]
fn chunks_held_on_a_cluster_are_refused_in_forked_processes_with_a_reason() {
    let turn = cluster();
    let client = turn.clone();
    let procs = rask::scheduler_by_name("processes", Some(2)).unwrap();
    let persisted = client
        .persist(&random(&[20], &[10], 5).unwrap().sqrt())
        .unwrap();
    let err = persisted.sum_all().compute_with(&*procs).unwrap_err();
    assert!(err.to_string().contains("held on a cluster"), "{err}");
    assert!(err.to_string().contains("forked process"), "{err}");
}

#[test]
fn a_wrong_number_of_held_chunks_is_an_error_saying_both() {
    let x = random(&[40, 30], &[10, 10], 1).unwrap();
    let err = x.with_held_chunks(Vec::new()).unwrap_err();
    assert!(
        err.to_string().contains("has 12 chunks, but 0 were given"),
        "{err}"
    );
    let bag = rask_bag::from_iter(0..4i64, 2);
    let err = bag.with_held_chunks(Vec::new()).unwrap_err();
    assert!(err.to_string().contains("has 2 chunks"), "{err}");
}
