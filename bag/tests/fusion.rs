//! Element-wise steps are fused: one task per partition whatever the chain,
//! items stream through it one at a time, and reductions add only their
//! combine tree.

mod common;

use rask_bag::from_iter;

fn halve(x: &i64) -> i64 {
    x / 2
}

fn pairs(x: &i64) -> [i64; 2] {
    [*x, -x]
}

#[test]
fn a_chain_of_steps_is_one_task_per_partition() {
    let bag = from_iter(0..100i64, 7)
        .map(halve)
        .filter(|x: &i64| x % 3 != 0)
        .flat_map(pairs)
        .map(halve);
    let (job, outputs) = bag.to_job();
    assert_eq!(job.len(), 7);
    assert_eq!(outputs.len(), 7);
    assert_eq!(job.ops().len(), 1, "one fused op for the whole chain");
    assert_eq!(job.ops()[0].name(), "from_iter-map-filter-flat_map-map");
    assert!(
        job.ops()[0].rebuilder().is_some(),
        "fn items make a stateless op"
    );
}

#[test]
fn reductions_add_only_a_combine_tree() {
    let bag = from_iter(0..100i64, 10).map(halve).split_every(3);
    // 10 partials -> 4 (three combines, one passed through) -> 2 -> 1.
    let (job, _) = bag.count().to_job();
    assert_eq!(job.len(), 10 + 3 + 1 + 1);
    let (job, _) = bag.frequencies().to_job();
    assert_eq!(job.len(), 10 + 3 + 1 + 1 + 1, "and one task to sort");
    let (job, _) = from_iter(0..5i64, 1).sum().to_job();
    assert_eq!(job.len(), 1, "a single partition needs no combine");
}

#[test]
fn items_stream_through_the_chain_one_at_a_time() {
    // With the whole partition in one task, `take` stops the chain after two
    // items: `map` never sees the third, which would panic.
    let bag =
        from_iter(0..10i64, 1).map(|x: &i64| if *x >= 2 { panic!("went too far") } else { *x });
    for scheduler in common::every_backend() {
        assert_eq!(
            bag.take(2).compute(&*scheduler).unwrap(),
            [0, 1],
            "{}",
            scheduler.name()
        );
    }
}

#[test]
fn events_see_one_task_per_partition_and_the_tree() {
    let bag = from_iter(0..40i64, 4)
        .map(halve)
        .filter(|x: &i64| x % 2 == 0);
    for scheduler in common::in_process() {
        let profiler = rask::Profiler::new();
        let items = bag.compute_with_events(&*scheduler, &profiler).unwrap();
        assert_eq!(items.len(), 20);
        let mut keys: Vec<String> = profiler.records().into_iter().map(|r| r.key).collect();
        keys.sort();
        let expected: Vec<String> = (0..4)
            .map(|i| format!("(\"from_iter-map-filter\", {i})"))
            .collect();
        assert_eq!(keys, expected, "{}", scheduler.name());

        let profiler = rask::Profiler::new();
        assert_eq!(
            bag.count()
                .compute_with_events(&*scheduler, &profiler)
                .unwrap(),
            20
        );
        assert_eq!(profiler.records().len(), 4 + 1, "{}", scheduler.name());
    }
}
