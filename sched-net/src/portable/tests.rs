//! Jobs through encode, decode and load, as a worker receives them.

use rask_core::{Arg, Job, JobBuilder, Op, Registry, TaskId, Value};

use super::load::LoadedJob;
use super::*;

fn square(x: &i64) -> i64 {
    x * x
}

fn sample() -> (Job, TaskId) {
    let mut b = JobBuilder::new();
    let sq = b.op(&Op::new("square", square));
    let add = b.op(&Op::new("add", |a: &i64, b: &i64| a + b));
    let three = b.lit(3i64);
    let t = b.task(sq, &[three]);
    let u = b.keyed_task("sum", add, &[Arg::dep(t), Arg::dep(t)]);
    (b.finish(), u)
}

fn run(loaded: &LoadedJob, out: TaskId) -> i64 {
    let job = &loaded.job;
    struct Memo(Vec<Option<Value>>);
    impl rask_core::Fetch for Memo {
        fn fetch(&self, t: TaskId) -> Option<&Value> {
            self.0[t.index()].as_ref()
        }
    }
    let mut memo = Memo(vec![None; job.len()]);
    for t in job.graph().task_ids() {
        memo.0[t.index()] = Some(job.execute(t, &memo).unwrap());
    }
    *memo.0[out.index()]
        .as_ref()
        .unwrap()
        .downcast_ref::<i64>()
        .unwrap()
}

#[test]
fn stateless_ops_travel_by_code_reference_with_the_key() {
    let key = CodeKey::random().unwrap();
    let (job, out) = sample();
    let bytes = encode_job(&job, &[out], &[], Some(&key)).unwrap();
    let spec = decode_spec(&bytes).unwrap();
    assert_eq!(spec.task_name(out.0), "sum");
    let loaded = Loader::new(Registry::new(), Some(key)).load(&spec).unwrap();
    assert_eq!(run(&loaded, out), 18);

    // Without the key, only the registry helps, and the error names the op.
    let err = Loader::new(Registry::new(), None).load(&spec).unwrap_err();
    assert_eq!(err, "op `square` is not registered on this worker");
    // A worker with another key does not trust the references.
    let other = CodeKey::random().unwrap();
    assert!(Loader::new(Registry::new(), Some(other))
        .load(&spec)
        .is_err());
}

#[test]
fn a_forged_reference_is_refused() {
    let key = CodeKey::random().unwrap();
    let (job, out) = sample();
    let bytes = encode_job(&job, &[out], &[], Some(&key)).unwrap();
    let mut spec = decode_spec(&bytes).unwrap();
    let code = spec.ops[0].code.as_mut().unwrap();
    code.offset = code.offset.wrapping_add(16);
    let err = Loader::new(Registry::new(), Some(key))
        .load(&spec)
        .unwrap_err();
    assert_eq!(err, "op `square` has a forged code reference");
}

#[test]
fn named_ops_come_from_the_registry() {
    let (job, out) = sample();
    let bytes = encode_job(&job, &[out], &[], None).unwrap();
    let spec = decode_spec(&bytes).unwrap();
    let mut registry = Registry::new();
    registry.op("square", |x: &i64| x * x * 10);
    registry.op("add", |a: &i64, b: &i64| a + b);
    let loaded = Loader::new(registry, None).load(&spec).unwrap();
    assert_eq!(run(&loaded, out), 180, "the worker's own `square` ran");
}

#[test]
fn local_values_cannot_be_encoded() {
    let mut b = JobBuilder::new();
    let op = b.op(&Op::local("keep", || std::rc::Rc::new(1).as_ref() + 1));
    let t = b.task(op, &[]);
    let err = encode_job(&b.finish(), &[t], &[], None).unwrap_err();
    assert!(
        err.to_string()
            .contains("op `keep` returns a value that cannot leave"),
        "{err}"
    );
}

#[test]
fn malformed_specs_are_errors() {
    assert!(decode_spec(&[1, 2, 3]).is_err());
    let (job, out) = sample();
    let bytes = encode_job(&job, &[out], &[], None).unwrap();
    let mut spec = decode_spec(&bytes).unwrap();
    spec.arg_counts[0] += 5;
    let bad = postcard::to_allocvec(&spec).unwrap();
    assert_eq!(
        decode_spec(&bad).unwrap_err(),
        "malformed job spec: argument counts do not add up"
    );
}
