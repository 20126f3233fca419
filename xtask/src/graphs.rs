//! The benchmark graphs. Their ops do (almost) nothing, so a run's time is
//! the scheduler's per-task overhead: building the graph, planning it,
//! handing tasks out, moving results and releasing them.
//!
//! Each graph's output is a count that only comes out right if every task
//! ran and every dependency was honoured, so a benchmark also checks the
//! scheduler's answer.

use std::hint::black_box;
use std::sync::Arc;
use std::time::{Duration, Instant};

use rask_core::{Arg, Inputs, Job, JobBuilder, Op, TaskId, Value};

/// Tree reductions combine this many children per node, like `dask.array`'s
/// default `split_every` for tree reductions.
pub const TREE_FAN_IN: usize = 8;

/// A benchmark graph shape.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Shape {
    /// N independent null tasks into one variadic merge (N+1 tasks): the
    /// embarrassingly parallel best case.
    Merge,
    /// N tasks, each depending on the previous: no parallelism at all, so it
    /// measures the latency of handing a just-made task to a worker.
    Chain,
    /// N leaves reduced with fan-in [`TREE_FAN_IN`] until one root.
    Tree,
    /// One source used by N tasks, then one merge (N+2 tasks): many
    /// dependents of one result.
    Fanin,
    /// N tasks that each burn ~5 ms of CPU, then a merge: the speedup row,
    /// where a parallel backend should approach its worker count.
    Busy,
    /// Chains of 10 tasks passing 10 MB vectors along (make, 8 steps that
    /// each produce a new vector, a last step that returns a count), then a
    /// merge: N chain tasks in all. Shows what moving data costs, and that a
    /// backend keeps a chain's data where it is.
    Bigdata,
    /// One one-task graph computed N times in a row; reports the median
    /// latency of one compute (a `submit(...).result()` on `distributed`).
    /// Only run when named: a fresh fork per compute makes it slow on
    /// `processes`.
    Submit,
    /// One call of a `rask::delayed` function computed N times in a row
    /// with `compute_with`, exactly as a user writes it (the one-task graph
    /// is built, planned and run each time); reports the median latency of
    /// one compute. Only run when named, like `submit`.
    Compute,
    /// `client.submit(f, x).result()` N times in a row through `rask`'s
    /// futures API, as a user calls it; reports the median latency of one.
    /// Only on `distributed`, and only when named, like `submit`.
    FuturesSubmit,
    /// `client.map(f, 0..N)` then one `gather`; reports µs per task. Only
    /// on `distributed`, and only when named.
    FuturesMap,
    /// N separate `client.submit(f, i)` then one `gather` of them all;
    /// reports µs per task. Only on `distributed`, and only when named.
    FuturesMany,
    /// `merge` built the way users build it: N calls of a `rask::delayed`
    /// function summed by a `delayed_many`, then `to_job`. Shows that a
    /// fan-in of N delayed values costs O(N) to build.
    Delayed,
}

impl Shape {
    /// Every shape, in report order.
    pub const ALL: [Shape; 7] = [
        Shape::Merge,
        Shape::Chain,
        Shape::Tree,
        Shape::Fanin,
        Shape::Delayed,
        Shape::Busy,
        Shape::Bigdata,
    ];

    /// The shapes that measure overhead only (every one but `busy`).
    pub const OVERHEAD: [Shape; 5] = [
        Shape::Merge,
        Shape::Chain,
        Shape::Tree,
        Shape::Fanin,
        Shape::Delayed,
    ];

    /// The shapes run only when named: latency rows, and the futures rows
    /// (which only `distributed` has).
    pub const NAMED_ONLY: [Shape; 5] = [
        Shape::Submit,
        Shape::Compute,
        Shape::FuturesSubmit,
        Shape::FuturesMap,
        Shape::FuturesMany,
    ];

    /// Whether the shape is a run of `rask`'s futures API rather than a
    /// graph.
    pub fn is_futures(self) -> bool {
        matches!(
            self,
            Shape::FuturesSubmit | Shape::FuturesMap | Shape::FuturesMany
        )
    }

    /// The one size a shape runs at unless `--n` names it: shapes of real
    /// work, whose cost grows too fast for the overhead sizes.
    pub fn fixed_n(self, quick: bool) -> Option<usize> {
        match self {
            Shape::Busy => Some(if quick { 16 } else { 200 }),
            Shape::Submit | Shape::Compute | Shape::FuturesSubmit => {
                Some(if quick { 50 } else { 1000 })
            }
            Shape::FuturesMap => Some(if quick { 10_000 } else { 100_000 }),
            Shape::FuturesMany => Some(if quick { 1_000 } else { 10_000 }),
            Shape::Bigdata => Some(if quick { 20 } else { 100 }),
            _ => None,
        }
    }

    /// The name used on the command line and in reports.
    pub fn name(self) -> &'static str {
        match self {
            Shape::Merge => "merge",
            Shape::Chain => "chain",
            Shape::Tree => "tree",
            Shape::Fanin => "fanin",
            Shape::Busy => "busy",
            Shape::Delayed => "delayed",
            Shape::Bigdata => "bigdata",
            Shape::Submit => "submit",
            Shape::Compute => "compute",
            Shape::FuturesSubmit => "futures-submit",
            Shape::FuturesMap => "futures-map",
            Shape::FuturesMany => "futures-many",
        }
    }

    /// The shape called `name`.
    pub fn from_name(name: &str) -> Result<Shape, String> {
        let every = || Shape::ALL.into_iter().chain(Shape::NAMED_ONLY);
        every().find(|s| s.name() == name).ok_or_else(|| {
            let names: Vec<_> = every().map(|s| s.name()).collect();
            format!(
                "unknown graph `{name}`; expected one of {}",
                names.join(", ")
            )
        })
    }
}

/// How long one `busy` task burns the CPU.
pub const BUSY_TASK: Duration = Duration::from_millis(5);

/// Burns the CPU for `iters` steps of a linear congruential generator. The
/// `black_box` in the loop keeps the compiler from folding it away.
pub fn burn(iters: u64) -> u64 {
    let mut x: u64 = 0x9E37_79B9_7F4A_7C15;
    for _ in 0..iters {
        x = black_box(x)
            .wrapping_mul(6_364_136_223_846_793_005)
            .wrapping_add(1_442_695_040_888_963_407);
    }
    x
}

/// The number of [`burn`] steps that take about `target` on this machine.
pub fn calibrate(target: Duration) -> u64 {
    // Double until one measurement is long enough to trust the clock
    // (>= 20 ms), then scale linearly. 40 doublings is far past any CPU.
    let mut iters: u64 = 1_000;
    for _ in 0..40 {
        let start = Instant::now();
        black_box(burn(black_box(iters)));
        let took = start.elapsed();
        if took >= Duration::from_millis(20) {
            let per_iter = took.as_secs_f64() / iters as f64;
            return ((target.as_secs_f64() / per_iter) as u64).max(1);
        }
        iters *= 2;
    }
    iters
}

/// The ops of every benchmark graph, made once per process: an op is an
/// `Arc`, and the builder interns it by identity, so reusing them keeps op
/// creation out of the measured build time.
#[derive(Debug)]
pub struct Ops {
    null: Op,
    step: Op,
    count: Op,
    sum: Op,
    one: Op,
    inc: Op,
    busy: Op,
    make: Op,
    step_data: Op,
    finish: Op,
}

/// Bytes in each vector of the `bigdata` shape.
pub const BIGDATA_BYTES: usize = 10 << 20;
/// Tasks per chain of the `bigdata` shape.
pub const BIGDATA_CHAIN: usize = 10;

impl Ops {
    /// The ops; a `busy` task burns `busy_iters` steps (see [`calibrate`]).
    pub fn new(busy_iters: u64) -> Ops {
        Ops {
            null: Op::new("null", || ()),
            step: Op::new("step", |_: &()| ()),
            count: Op::new("count", |xs: Inputs<()>| xs.count_all() as u64),
            sum: Op::new("sum", |xs: Inputs<u64>| xs.sum::<u64>()),
            one: Op::new("one", || 1u64),
            inc: Op::new("inc", |x: &u64| x + 1),
            busy: Op::new("busy", move || {
                black_box(burn(busy_iters));
            }),
            make: Op::new("make", || vec![1u8; BIGDATA_BYTES]),
            step_data: Op::new("step", |v: &Vec<u8>| {
                v.iter().map(|x| x.wrapping_add(1)).collect::<Vec<u8>>()
            }),
            finish: Op::new("finish", |v: &Vec<u8>, len: &u64| {
                black_box(v.len());
                *len
            }),
        }
    }
}

/// A built benchmark graph.
#[derive(Debug)]
pub struct Built {
    /// The job to run.
    pub job: Arc<Job>,
    /// Its one output.
    pub output: TaskId,
}

/// Builds `shape` with parameter `n` (see [`Shape`]).
pub fn build(shape: Shape, n: usize, ops: &Ops) -> Built {
    let mut b = JobBuilder::new();
    let output = match shape {
        Shape::Merge => {
            let null = b.op(&ops.null);
            let leaves: Vec<Arg> = (0..n).map(|_| Arg::dep(b.task(null, &[]))).collect();
            let count = b.op(&ops.count);
            b.task(count, &leaves)
        }
        // The futures rows build their tasks through `rask::Client`; as a
        // graph each is the one task of `submit`.
        Shape::Submit
        | Shape::Compute
        | Shape::FuturesSubmit
        | Shape::FuturesMap
        | Shape::FuturesMany => {
            let one = b.op(&ops.one);
            b.task(one, &[])
        }
        Shape::Chain => {
            let (one, inc) = (b.op(&ops.one), b.op(&ops.inc));
            let mut last = b.task(one, &[]);
            for _ in 1..n {
                last = b.task(inc, &[Arg::dep(last)]);
            }
            last
        }
        Shape::Tree => {
            let null = b.op(&ops.null);
            let leaves: Vec<TaskId> = (0..n).map(|_| b.task(null, &[])).collect();
            // The first level counts `()` leaves, the ones above sum counts.
            let (count, sum) = (b.op(&ops.count), b.op(&ops.sum));
            let mut level = reduce_level(&mut b, count, &leaves);
            // Each level has ceil(len / 8) < len nodes, so this ends.
            while level.len() > 1 {
                level = reduce_level(&mut b, sum, &level);
            }
            level[0]
        }
        Shape::Fanin => {
            let (null, step) = (b.op(&ops.null), b.op(&ops.step));
            let source = b.task(null, &[]);
            let users: Vec<Arg> = (0..n)
                .map(|_| Arg::dep(b.task(step, &[Arg::dep(source)])))
                .collect();
            let count = b.op(&ops.count);
            b.task(count, &users)
        }
        Shape::Delayed => {
            let one = rask::delayed(one_for_each);
            let calls: Vec<_> = (0..n as u64).map(|i| one.call((i,))).collect();
            let (job, output) = rask::delayed_many(sum_all).call(calls).to_job();
            return Built { job, output };
        }
        Shape::Bigdata => {
            let (make, step, finish, one) = (
                b.op(&ops.make),
                b.op(&ops.step_data),
                b.op(&ops.finish),
                b.op(&ops.one),
            );
            let mut ends = Vec::new();
            let mut left = n;
            while left > 0 {
                let len = left.min(BIGDATA_CHAIN);
                left -= len;
                if len == 1 {
                    ends.push(Arg::dep(b.task(one, &[])));
                    continue;
                }
                let mut t = b.task(make, &[]);
                for _ in 2..len {
                    t = b.task(step, &[Arg::dep(t)]);
                }
                let count = b.lit(len as u64);
                ends.push(Arg::dep(b.task(finish, &[Arg::dep(t), count])));
            }
            let sum = b.op(&ops.sum);
            b.task(sum, &ends)
        }
        Shape::Busy => {
            let busy = b.op(&ops.busy);
            let tasks: Vec<Arg> = (0..n).map(|_| Arg::dep(b.task(busy, &[]))).collect();
            let count = b.op(&ops.count);
            b.task(count, &tasks)
        }
    };
    Built {
        job: Arc::new(b.finish()),
        output,
    }
}

/// The leaf of the `delayed` shape: 1 whatever the input, so the sum counts.
fn one_for_each(_: &u64) -> u64 {
    1
}

/// The merge of the `delayed` shape.
fn sum_all(xs: Inputs<u64>) -> u64 {
    xs.sum()
}

/// One level of a tree reduction: a task of `op` per group of up to
/// [`TREE_FAN_IN`] `inputs`.
fn reduce_level(b: &mut JobBuilder, op: rask_core::OpId, inputs: &[TaskId]) -> Vec<TaskId> {
    let mut args = Vec::with_capacity(TREE_FAN_IN);
    inputs
        .chunks(TREE_FAN_IN)
        .map(|group| {
            args.clear();
            args.extend(group.iter().map(|&t| Arg::dep(t)));
            b.task(op, &args)
        })
        .collect()
}

/// Checks a run's outputs: exactly one value, the count `n`.
pub fn check(shape: Shape, n: usize, outputs: &[Value]) -> Result<(), String> {
    let [value] = outputs else {
        return Err(format!("expected 1 output, got {}", outputs.len()));
    };
    let n = if matches!(shape, Shape::Submit | Shape::Compute) {
        1
    } else {
        n
    };
    match value.downcast_ref::<u64>() {
        Some(&got) if got == n as u64 => Ok(()),
        Some(&got) => Err(format!("{}-{n} computed {got}, expected {n}", shape.name())),
        None => Err(format!(
            "{}-{n} returned a {}, expected a u64",
            shape.name(),
            value.type_name()
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn task_counts_match_the_shapes() {
        let ops = Ops::new(1);
        let tasks = |shape, n| build(shape, n, &ops).job.len();
        assert_eq!(tasks(Shape::Merge, 10), 11);
        assert_eq!(tasks(Shape::Chain, 10), 10);
        // 64 leaves, 8 nodes, 1 root; 65 leaves need a second group at each level.
        assert_eq!(tasks(Shape::Tree, 64), 64 + 8 + 1);
        assert_eq!(tasks(Shape::Tree, 65), 65 + 9 + 2 + 1);
        assert_eq!(tasks(Shape::Tree, 1), 2);
        assert_eq!(tasks(Shape::Fanin, 10), 12);
        assert_eq!(tasks(Shape::Busy, 3), 4);
        assert_eq!(tasks(Shape::Delayed, 10), 11);
        assert_eq!(
            tasks(Shape::Bigdata, 21),
            22,
            "two chains of 10, one of 1, a merge"
        );
        assert_eq!(
            build(Shape::Delayed, 1000, &ops).job.ops().len(),
            2,
            "one op per function"
        );
    }

    #[test]
    fn check_rejects_wrong_answers() {
        assert!(check(Shape::Merge, 3, &[Value::new(3u64)]).is_ok());
        assert!(check(Shape::Merge, 3, &[Value::new(2u64)]).is_err());
        assert!(check(Shape::Merge, 3, &[Value::new(())]).is_err());
        assert!(check(Shape::Merge, 3, &[]).is_err());
    }

    #[test]
    fn every_shape_computes_its_count_on_sync_and_threads() {
        let ops = Ops::new(10);
        for backend in ["sync", "threads"] {
            let scheduler = rask::scheduler_by_name(backend, Some(2)).unwrap();
            for shape in Shape::ALL {
                // Bigdata moves 10 MB per task: keep it small in a debug build.
                let sizes: &[usize] = if shape == Shape::Bigdata {
                    &[1, 2]
                } else {
                    &[1, 9, 100]
                };
                for &n in sizes {
                    let built = build(shape, n, &ops);
                    let values = scheduler
                        .run(&built.job, &[built.output], &rask_core::NoEvents)
                        .unwrap();
                    check(shape, n, &values).unwrap_or_else(|e| panic!("{backend}: {e}"));
                }
            }
        }
    }

    #[test]
    fn burn_is_deterministic_and_calibration_positive() {
        // Timing itself belongs to the bench; here only the arithmetic.
        assert_eq!(burn(1000), burn(1000));
        assert_ne!(burn(1000), burn(1001));
        assert!(calibrate(Duration::from_millis(1)) >= 1);
    }

    #[test]
    fn names_round_trip() {
        for shape in Shape::ALL.into_iter().chain(Shape::NAMED_ONLY) {
            assert_eq!(Shape::from_name(shape.name()), Ok(shape));
        }
        assert!(Shape::from_name("mege").is_err());
    }
}
