//! The scheduler contract on random graphs: every backend gives the result
//! of a plain recursive evaluation, or the same error naming the same task.

use std::collections::HashMap;
use std::sync::Arc;

use proptest::prelude::*;
use rask::{
    fallible, scheduler_by_name, Arg, Error, Inputs, Job, JobBuilder, NoEvents, Op, TaskId,
};

/// A small deterministic generator (SplitMix64), so a failing case is one seed.
struct Rng(rask_core::splitmix::SplitMix64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0.next_u64()
    }
    fn below(&mut self, n: usize) -> usize {
        (self.next() % n.max(1) as u64) as usize
    }
}

/// What the random graph is, independent of any scheduler.
struct Spec {
    /// Per task: its seed literal and its dependencies.
    tasks: Vec<(u64, Vec<usize>)>,
    failing: Option<usize>,
    outputs: Vec<usize>,
}

fn random_spec(seed: u64, n: usize, with_failure: bool) -> Spec {
    let mut rng = Rng(rask_core::splitmix::SplitMix64(seed));
    let mut tasks = Vec::with_capacity(n);
    for i in 0..n {
        // Mostly small fan-in, sometimes wide; dependencies on earlier tasks,
        // biased toward recent ones so that long chains appear too.
        let fan_in = match rng.below(10) {
            0 => 0,
            1..=6 => 1 + rng.below(3),
            7 | 8 => rng.below(8),
            _ => rng.below(40),
        };
        let deps = (0..fan_in.min(i))
            .map(|_| {
                if rng.below(2) == 0 {
                    i - 1 - rng.below(i.min(8))
                } else {
                    rng.below(i)
                }
            })
            .collect();
        tasks.push((rng.next() % 1000, deps));
    }
    let failing = (with_failure && n > 0).then(|| rng.below(n));
    let outputs = (0..1 + rng.below(3))
        .map(|_| n - 1 - rng.below(n.min(20)))
        .collect();
    Spec {
        tasks,
        failing,
        outputs,
    }
}

fn mix(seed: u64, inputs: impl Iterator<Item = u64>) -> u64 {
    inputs.fold(seed.wrapping_mul(31).wrapping_add(7), |acc, x| {
        acc.rotate_left(5) ^ x.wrapping_mul(0x100_0000_01b3)
    })
}

fn build(spec: &Spec) -> (Arc<Job>, Vec<TaskId>) {
    let mix_op = Op::new("mix", |xs: Inputs<u64>| {
        let mut xs = xs;
        let seed = xs.next().copied().unwrap_or(0);
        mix(seed, xs.copied())
    });
    let fail_op = Op::new(
        "fail",
        fallible(|xs: Inputs<u64>| -> Result<u64, String> {
            Err(format!("refused {}", xs.count()))
        }),
    );
    let mut b = JobBuilder::new();
    let (mix_id, fail_id) = (b.op(&mix_op), b.op(&fail_op));
    let mut ids = Vec::new();
    for (i, (seed, deps)) in spec.tasks.iter().enumerate() {
        let mut args = vec![b.lit(*seed)];
        args.extend(deps.iter().map(|&d| Arg::dep(ids[d])));
        let op = if spec.failing == Some(i) {
            fail_id
        } else {
            mix_id
        };
        ids.push(b.keyed_task(&format!("t-{i}"), op, &args));
    }
    let outputs = spec.outputs.iter().map(|&o| ids[o]).collect();
    (Arc::new(b.finish()), outputs)
}

/// The reference: evaluate each output recursively, memoised.
fn evaluate(spec: &Spec) -> Result<Vec<u64>, String> {
    fn eval(
        spec: &Spec,
        i: usize,
        memo: &mut HashMap<usize, Result<u64, String>>,
    ) -> Result<u64, String> {
        if let Some(r) = memo.get(&i) {
            return r.clone();
        }
        let (seed, deps) = &spec.tasks[i];
        let mut inputs = Vec::new();
        for &d in deps {
            inputs.push(eval(spec, d, memo)?);
        }
        let r = if spec.failing == Some(i) {
            Err(format!("t-{i}"))
        } else {
            Ok(mix(*seed, inputs.into_iter()))
        };
        memo.insert(i, r.clone());
        r
    }
    let mut memo = HashMap::new();
    spec.outputs
        .iter()
        .map(|&o| eval(spec, o, &mut memo))
        .collect()
}

fn run(
    backend: &str,
    workers: Option<usize>,
    job: &Arc<Job>,
    outputs: &[TaskId],
) -> Result<Vec<u64>, Error> {
    let scheduler = scheduler_by_name(backend, workers)?;
    let values = scheduler.run(job, outputs, &NoEvents)?;
    Ok(values
        .iter()
        .map(|v| *v.downcast_ref::<u64>().expect("u64 result"))
        .collect())
}

/// One local cluster of 2 worker processes for the whole test binary; it
/// becomes the active client, which the `distributed` scheduler uses.
fn cluster() {
    static CLUSTER: std::sync::OnceLock<rask::Client> = std::sync::OnceLock::new();
    CLUSTER.get_or_init(|| {
        rask::Client::local_with(rask::distributed::LocalOptions {
            workers: 2,
            ..Default::default()
        })
        .expect("a local cluster starts")
    });
}

fn check(seed: u64, n: usize, with_failure: bool) {
    cluster();
    let spec = random_spec(seed, n, with_failure);
    let (job, outputs) = build(&spec);
    let expected = evaluate(&spec);
    for (backend, workers) in [
        ("sync", None),
        ("threads", Some(2)),
        ("threads", Some(4)),
        ("processes", Some(2)),
        ("processes", Some(3)),
        ("distributed", None),
    ] {
        let got = run(backend, workers, &job, &outputs);
        match (&expected, &got) {
            (Ok(e), Ok(g)) => assert_eq!(e, g, "{backend} x{workers:?}, seed {seed}"),
            (
                Err(key),
                Err(Error::TaskFailed {
                    key: k,
                    op,
                    message,
                }),
            ) => {
                assert_eq!(key, k, "{backend}: the failing task is named");
                assert_eq!(op, "fail");
                assert!(message.starts_with("refused"), "{message}");
            }
            _ => panic!("{backend} x{workers:?}, seed {seed}: expected {expected:?}, got {got:?}"),
        }
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 48, ..ProptestConfig::default() })]

    #[test]
    fn every_backend_matches_recursive_evaluation(seed in any::<u64>(), n in 1usize..2000) {
        check(seed, n, false);
    }

    #[test]
    fn every_backend_reports_the_same_failure(seed in any::<u64>(), n in 1usize..2000) {
        check(seed, n, true);
    }
}

#[test]
fn large_graphs_agree() {
    check(7, 2000, false);
    check(8, 2000, true);
}
