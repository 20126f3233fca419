//! Every bag operation gives what the same computation over a plain
//! iterator gives, for random items, partition counts and tree widths, on
//! every backend.

mod common;

use std::collections::BTreeMap;

use proptest::prelude::*;
use rask::Scheduler;
use rask_bag::from_iter;

fn triple(x: &i64) -> i64 {
    x * 3
}

fn not_multiple_of_four(x: &i64) -> bool {
    x % 4 != 0
}

/// 0, 1 or 2 copies of an item, so flat_map both drops and grows.
fn copies(x: &i64) -> Vec<i64> {
    vec![*x; x.rem_euclid(3) as usize]
}

fn residue(x: &i64) -> i64 {
    x.rem_euclid(7)
}

fn label(x: &i64) -> String {
    format!("w{}", x.rem_euclid(5))
}

/// The expected value of each operation, straight from iterators.
fn chain(items: &[i64]) -> Vec<i64> {
    items
        .iter()
        .map(triple)
        .filter(not_multiple_of_four)
        .flat_map(|x| copies(&x))
        .collect()
}

fn frequencies<T: Ord + Clone>(items: impl Iterator<Item = T>) -> Vec<(T, u64)> {
    let mut counts = BTreeMap::new();
    for x in items {
        *counts.entry(x).or_insert(0u64) += 1;
    }
    let mut pairs: Vec<(T, u64)> = counts.into_iter().collect();
    pairs.sort_by_key(|p| std::cmp::Reverse(p.1));
    pairs
}

fn check(
    scheduler: &dyn Scheduler,
    items: &[i64],
    npartitions: usize,
    split_every: usize,
    n: usize,
) {
    let on = scheduler.name();
    let bag = from_iter(items.iter().copied(), npartitions).split_every(split_every);
    assert_eq!(bag.npartitions(), npartitions, "{on}");
    assert_eq!(
        bag.compute(scheduler).unwrap(),
        items,
        "{on}: compute keeps partition order"
    );

    let chained = bag
        .map(triple)
        .filter(not_multiple_of_four)
        .flat_map(copies);
    let expected = chain(items);
    assert_eq!(
        chained.compute(scheduler).unwrap(),
        expected,
        "{on}: map/filter/flat_map"
    );
    assert_eq!(
        chained.count().compute(scheduler).unwrap(),
        expected.len() as u64,
        "{on}: count"
    );
    assert_eq!(
        chained.sum().compute(scheduler).unwrap(),
        expected.iter().sum::<i64>(),
        "{on}: sum"
    );
    assert_eq!(
        chained.take(n).compute(scheduler).unwrap(),
        expected.iter().copied().take(n).collect::<Vec<_>>(),
        "{on}: take({n})"
    );

    // A fold whose partial results (min, max, count) differ in type from the items.
    let fold = bag.fold(
        (i64::MAX, i64::MIN, 0u64),
        |(lo, hi, k), x: &i64| (lo.min(*x), hi.max(*x), k + 1),
        |(lo, hi, k), p: &(i64, i64, u64)| (lo.min(p.0), hi.max(p.1), k + p.2),
    );
    let lo = items.iter().copied().min().unwrap_or(i64::MAX);
    let hi = items.iter().copied().max().unwrap_or(i64::MIN);
    assert_eq!(
        fold.compute(scheduler).unwrap(),
        (lo, hi, items.len() as u64),
        "{on}: fold"
    );

    assert_eq!(
        bag.map(residue).frequencies().compute(scheduler).unwrap(),
        frequencies(items.iter().map(residue)),
        "{on}: frequencies"
    );
    let labels = bag.map(label);
    assert_eq!(
        labels.frequencies().compute(scheduler).unwrap(),
        frequencies(items.iter().map(label)),
        "{on}: frequencies of strings"
    );
    assert_eq!(
        labels
            .try_map(|s: &String| s[1..].parse::<i64>())
            .compute(scheduler)
            .unwrap(),
        items.iter().map(|x| x.rem_euclid(5)).collect::<Vec<_>>(),
        "{on}: try_map"
    );
}

fn inputs() -> impl Strategy<Value = (Vec<i64>, usize, usize, usize)> {
    (
        proptest::collection::vec(-60i64..60, 0..200),
        1usize..12,
        2usize..5,
        0usize..40,
    )
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 24, ..ProptestConfig::default() })]

    #[test]
    fn on_sync_threads_and_processes((items, npartitions, split_every, n) in inputs()) {
        for scheduler in common::in_process() {
            check(&*scheduler, &items, npartitions, split_every, n);
        }
    }
}

proptest! {
    // A cluster run costs a few round trips per compute: fewer cases.
    #![proptest_config(ProptestConfig { cases: 16, ..ProptestConfig::default() })]

    #[test]
    fn on_distributed((items, npartitions, split_every, n) in inputs()) {
        check(&*common::distributed(), &items, npartitions, split_every, n);
    }
}

#[test]
fn empty_and_tiny_bags() {
    for scheduler in common::every_backend() {
        let s = &*scheduler;
        let empty = from_iter(Vec::<i64>::new(), 3);
        assert_eq!(empty.compute(s).unwrap(), Vec::<i64>::new());
        assert_eq!(empty.count().compute(s).unwrap(), 0);
        assert_eq!(empty.sum().compute(s).unwrap(), 0);
        assert_eq!(empty.frequencies().compute(s).unwrap(), vec![]);
        assert_eq!(empty.take(5).compute(s).unwrap(), Vec::<i64>::new());
        let one = from_iter([7i64], 1);
        assert_eq!(one.map(triple).compute(s).unwrap(), [21]);
        assert_eq!(
            one.fold(1, |a, x: &i64| a * x, |a, b: &i64| a * b)
                .compute(s)
                .unwrap(),
            7
        );
    }
}
