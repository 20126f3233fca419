//! A failing user function fails its partition's task, and the error names
//! that task, on every backend; closures that cannot travel are refused
//! with a clear error instead.

mod common;

use rask::Error;
use rask_bag::from_iter;

fn explode_at_five(x: &i64) -> i64 {
    if *x == 5 {
        panic!("boom at {x}");
    }
    *x
}

fn positive(x: &i64) -> Result<u64, String> {
    u64::try_from(*x).map_err(|_| format!("{x} is negative"))
}

fn expect_task_failed(result: Result<impl std::fmt::Debug, Error>) -> (String, String, String) {
    match result {
        Err(Error::TaskFailed { key, op, message }) => (key, op, message),
        other => panic!("expected a task error, got {other:?}"),
    }
}

#[test]
fn a_panic_inside_map_names_the_partition_task() {
    // 0..8 in 4 partitions: 5 is in partition 2.
    let bag = from_iter(0..8i64, 4)
        .map(explode_at_five)
        .filter(|x: &i64| *x > 0);
    for scheduler in common::every_backend() {
        let on = scheduler.name();
        let (key, op, message) = expect_task_failed(bag.compute(&*scheduler));
        assert_eq!(key, "(\"from_iter-map-filter\", 2)", "{on}");
        assert_eq!(op, "from_iter-map-filter", "{on}");
        assert_eq!(message, "panicked: boom at 5", "{on}");
        let (key, _, message) = expect_task_failed(bag.count().compute(&*scheduler));
        assert_eq!(key, "(\"from_iter-map-filter-count\", 2)", "{on}");
        assert_eq!(message, "panicked: boom at 5", "{on}");
    }
}

#[test]
fn an_err_from_try_map_fails_the_task_with_its_message() {
    let bag = from_iter([3i64, 1, -4, 1, 5], 2).try_map(positive);
    for scheduler in common::every_backend() {
        let on = scheduler.name();
        let (key, op, message) = expect_task_failed(bag.sum().compute(&*scheduler));
        assert_eq!(key, "(\"from_iter-try_map-fold\", 0)", "{on}");
        assert_eq!(op, "from_iter-try_map-fold", "{on}");
        assert_eq!(message, "-4 is negative", "{on}");
    }
}

#[test]
fn capturing_closures_run_in_process_and_are_refused_by_distributed() {
    let offset = 10i64;
    let bag = from_iter(0..4i64, 2).map(move |x: &i64| x + offset);
    for scheduler in common::in_process() {
        assert_eq!(bag.compute(&*scheduler).unwrap(), [10, 11, 12, 13]);
    }
    match bag.compute(&*common::distributed()) {
        Err(Error::Backend {
            backend: "distributed",
            message,
        }) => {
            assert!(message.contains("op `from_iter-map`"), "{message}");
            assert!(message.contains("captures variables"), "{message}");
        }
        other => panic!("expected the distributed backend to refuse, got {other:?}"),
    }
}
