//! `delayed`: build a task graph by calling functions lazily, as in Dask.
//!
//! `delayed(f)` wraps a function; `.call((a, b))` records a call whose
//! arguments may be plain values, other [`Delayed`] values, or lists of
//! them, and returns a [`Delayed`] result. Nothing runs until `compute`.
//! Each `Delayed` holds its inputs by `Arc`, so building a fan-in of N
//! values costs O(N) (Dask's is quadratic), and turning the result into a
//! [`Job`] is one linear walk.

use std::any::Any;
use std::collections::HashMap;
use std::convert::Infallible;
use std::hash::{BuildHasherDefault, Hasher};
use std::marker::PhantomData;
use std::sync::Arc;

use rask_core::{
    Arg, Codec, Error, FallibleMarker, Inputs, IntoOp, Job, JobBuilder, Op, TaskId, Value,
    VariadicMarker,
};
use serde::de::DeserializeOwned;
use serde::Serialize;

use rask_core::IgnorePoison;

use crate::compute::compute_job;
use crate::schedulers::Options;

/// One recorded call.
struct Node {
    op: Op,
    inputs: Vec<Input>,
    key: Option<Arc<str>>,
}

/// One argument of a recorded call.
#[derive(Clone)]
pub struct Input(InputKind);

#[derive(Clone)]
enum InputKind {
    Node(Arc<Node>),
    Lit(Value, Option<Codec>),
    /// A result on a cluster (see [`crate::Future`]).
    Future(FutureRef),
}

/// A cluster result an input may stand for; nothing without the `net`
/// feature.
#[cfg(all(feature = "net", unix))]
pub(crate) type FutureRef = rask_sched_net::RawFuture;
#[cfg(not(all(feature = "net", unix)))]
#[derive(Clone, Debug)]
pub(crate) enum FutureRef {}

impl Input {
    /// An input standing for a result on a cluster.
    pub(crate) fn future(raw: FutureRef) -> Input {
        Input(InputKind::Future(raw))
    }
}

impl std::fmt::Debug for Input {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match &self.0 {
            InputKind::Node(n) => write!(f, "Delayed({})", n.op.name()),
            InputKind::Lit(v, _) => v.fmt(f),
            InputKind::Future(r) => write!(f, "Future({r:?})"),
        }
    }
}

impl Drop for Node {
    /// Unlinks long chains iteratively: dropping a million-step chain must
    /// not recurse a million frames deep.
    fn drop(&mut self) {
        if !self
            .inputs
            .iter()
            .any(|i| matches!(i.0, InputKind::Node(_)))
        {
            return;
        }
        let mut stack: Vec<Arc<Node>> = Vec::new();
        let take = |inputs: &mut Vec<Input>, stack: &mut Vec<Arc<Node>>| {
            stack.extend(inputs.drain(..).filter_map(|i| match i.0 {
                InputKind::Node(n) => Some(n),
                InputKind::Lit(..) | InputKind::Future(_) => None,
            }))
        };
        take(&mut self.inputs, &mut stack);
        while let Some(node) = stack.pop() {
            if let Ok(mut node) = Arc::try_unwrap(node) {
                take(&mut node.inputs, &mut stack);
            }
        }
    }
}

/// A lazily computed value of type `T`.
pub struct Delayed<T> {
    node: Arc<Node>,
    _type: PhantomData<fn() -> T>,
}

impl<T> Clone for Delayed<T> {
    fn clone(&self) -> Self {
        Delayed {
            node: self.node.clone(),
            _type: PhantomData,
        }
    }
}

impl<T> std::fmt::Debug for Delayed<T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "Delayed<{}>({})",
            std::any::type_name::<T>(),
            self.node.op.name()
        )
    }
}

/// A wrapped function; [`call`](DelayedFn::call) records calls of it.
pub struct DelayedFn<M, R> {
    op: Op,
    _marker: PhantomData<fn(M) -> R>,
}

impl<M, R> Clone for DelayedFn<M, R> {
    fn clone(&self) -> Self {
        DelayedFn {
            op: self.op.clone(),
            _marker: PhantomData,
        }
    }
}

impl<M, R> std::fmt::Debug for DelayedFn<M, R> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "DelayedFn({})", self.op.name())
    }
}

/// A short name for a function type: `crate::module::read_csv` →
/// `read_csv`; a closure defined in `main` → `main-closure`; a
/// [`fallible`](rask_core::fallible) wrapper is seen through.
fn short_name<F>() -> String {
    let full = std::any::type_name::<F>();
    let inner = full
        .strip_prefix("rask_core::op::Fallible<")
        .and_then(|s| s.strip_suffix('>'))
        .unwrap_or(full);
    let trimmed = inner.trim_end_matches("::{{closure}}");
    let base = trimmed.split('<').next().unwrap_or(trimmed);
    let name = base.rsplit("::").next().unwrap_or(base);
    if trimmed.len() != inner.len() {
        format!("{name}-closure")
    } else {
        name.to_owned()
    }
}

/// Wraps a function of 0 to 8 arguments (taken by reference), or a closure
/// over [`Inputs`](rask_core::Inputs), for lazy calls. Its result type must
/// be serde-encodable so that it can cross process boundaries; see
/// [`delayed_local`] for other types.
pub fn delayed<M, F>(f: F) -> DelayedFn<M, F::Output>
where
    F: IntoOp<M>,
    F::Output: Serialize + DeserializeOwned,
{
    DelayedFn {
        op: cached_op(f, |f| Op::new(&short_name::<F>(), f)),
        _marker: PhantomData,
    }
}

/// Like [`delayed`], for result types that stay in this process.
pub fn delayed_local<M, F: IntoOp<M>>(f: F) -> DelayedFn<M, F::Output> {
    DelayedFn {
        op: cached_op(f, |f| Op::local(&short_name::<F>(), f)),
        _marker: PhantomData,
    }
}

/// The op of `f`. A function item or a closure that captures nothing is a
/// zero-sized type: every value of it is the same function, so its op is
/// made once and shared. `(0..n).map(|i| delayed(f).call((i,)))` then adds
/// one op to the graph, not `n`.
fn cached_op<F: 'static>(f: F, make: impl FnOnce(F) -> Op) -> Op {
    use std::any::TypeId;
    use std::sync::{Mutex, OnceLock};
    static CACHE: OnceLock<Mutex<HashMap<TypeId, Op>>> = OnceLock::new();
    if std::mem::size_of::<F>() != 0 {
        return make(f);
    }
    let mut cache = CACHE.get_or_init(Default::default).lock().ignore_poison();
    cache
        .entry(TypeId::of::<F>())
        .or_insert_with(|| make(f))
        .clone()
}

/// Wraps a function over any number of inputs of one type (a `sum`).
pub fn delayed_many<T, R, F>(f: F) -> DelayedFn<VariadicMarker<T, R>, R>
where
    F: IntoOp<VariadicMarker<T, R>, Output = R>,
    R: Serialize + DeserializeOwned,
{
    delayed(f)
}

impl<M, R: Any + Send + Sync> DelayedFn<M, R> {
    /// Records a call; `args` is a tuple matching the function's arguments
    /// (or, for a variadic function, any iterable of inputs).
    pub fn call<A: IntoArgs<M>>(&self, args: A) -> Delayed<R> {
        let mut inputs = Vec::new();
        args.into_inputs(&mut inputs);
        Delayed::from_node(Node {
            op: self.op.clone(),
            inputs,
            key: None,
        })
    }

    /// Names the op (in keys, progress and profiles).
    pub fn name(mut self, name: &str) -> Self {
        self.op = self.op.renamed(name);
        self
    }
}

/// Arguments for a call of a function with marker `M`.
pub trait IntoArgs<M> {
    /// Appends the inputs in argument order.
    fn into_inputs(self, out: &mut Vec<Input>);
}

/// A value usable as an argument of type `T`: a `T`, a `Delayed<T>`, a
/// `Local<T>`, a list of `Delayed` for a `Vec`, or a `&str` for a `String`.
pub trait IntoInput<T> {
    /// The input.
    fn into_input(self) -> Input;
}

impl<T: Serialize + DeserializeOwned + Any + Send + Sync> IntoInput<T> for T {
    fn into_input(self) -> Input {
        Input(InputKind::Lit(Value::new(self), Some(Codec::of::<T>())))
    }
}

impl<T> IntoInput<T> for Delayed<T> {
    fn into_input(self) -> Input {
        Input(InputKind::Node(self.node))
    }
}

impl<T> IntoInput<T> for &Delayed<T> {
    fn into_input(self) -> Input {
        Input(InputKind::Node(self.node.clone()))
    }
}

impl IntoInput<String> for &str {
    fn into_input(self) -> Input {
        self.to_owned().into_input()
    }
}

/// A literal argument of a type without serde: it never leaves the process.
#[derive(Clone, Debug)]
pub struct Local<T>(pub T);

impl<T: Any + Send + Sync> IntoInput<T> for Local<T> {
    fn into_input(self) -> Input {
        Input(InputKind::Lit(Value::new(self.0), None))
    }
}

/// The op that gathers list arguments (named fns keep op names readable).
fn list<T: Clone + Any>(xs: rask_core::Inputs<'_, T>) -> Vec<T> {
    xs.cloned().collect()
}

/// The op of [`Delayed::value`].
fn value<T: Clone>(x: &T) -> T {
    x.clone()
}

/// A list of delayed values as one `Vec` argument (an extra task gathers them).
impl<T> IntoInput<Vec<T>> for Vec<Delayed<T>>
where
    T: Clone + Serialize + DeserializeOwned + Any + Send + Sync,
{
    fn into_input(self) -> Input {
        let gather = delayed_many(list::<T>);
        gather.call(self).into_input()
    }
}

impl<T, R, I> IntoArgs<VariadicMarker<T, R>> for I
where
    I: IntoIterator,
    I::Item: IntoInput<T>,
{
    fn into_inputs(self, out: &mut Vec<Input>) {
        out.extend(self.into_iter().map(IntoInput::into_input));
    }
}

impl<M, X: IntoArgs<M>> IntoArgs<FallibleMarker<M>> for X {
    fn into_inputs(self, out: &mut Vec<Input>) {
        IntoArgs::<M>::into_inputs(self, out)
    }
}

macro_rules! impl_into_args {
    ($($X:ident $A:ident),*) => {
        #[allow(non_snake_case)]
        impl<R, $($A, $X: IntoInput<$A>,)*> IntoArgs<fn($(&$A,)*) -> R> for ($($X,)*) {
            fn into_inputs(self, _out: &mut Vec<Input>) {
                let ($($X,)*) = self;
                $(_out.push($X.into_input());)*
            }
        }
    };
}

impl_into_args!();
impl_into_args!(X0 A0);
impl_into_args!(X0 A0, X1 A1);
impl_into_args!(X0 A0, X1 A1, X2 A2);
impl_into_args!(X0 A0, X1 A1, X2 A2, X3 A3);
impl_into_args!(X0 A0, X1 A1, X2 A2, X3 A3, X4 A4);
impl_into_args!(X0 A0, X1 A1, X2 A2, X3 A3, X4 A4, X5 A5);
impl_into_args!(X0 A0, X1 A1, X2 A2, X3 A3, X4 A4, X5 A5, X6 A6);
impl_into_args!(X0 A0, X1 A1, X2 A2, X3 A3, X4 A4, X5 A5, X6 A6, X7 A7);

impl<T: Any + Send + Sync> Delayed<T> {
    fn from_node(node: Node) -> Self {
        Delayed {
            node: Arc::new(node),
            _type: PhantomData,
        }
    }

    /// A delayed value that is already known.
    pub fn value(value: T) -> Self
    where
        T: Clone + Serialize + DeserializeOwned,
    {
        delayed(self::value::<T>).call((value,))
    }

    /// A delayed `f(self)`: chain a step, or reach into a field or index
    /// (`d.map(|df| df.count)`).
    pub fn map<R, F>(&self, f: F) -> Delayed<R>
    where
        F: Fn(&T) -> R + Send + Sync + 'static,
        R: Serialize + DeserializeOwned + Any + Send + Sync,
    {
        delayed(f).call((self,))
    }

    /// Like [`map`](Self::map), for a result that stays in this process.
    pub fn map_local<R, F>(&self, f: F) -> Delayed<R>
    where
        F: Fn(&T) -> R + Send + Sync + 'static,
        R: Any + Send + Sync,
    {
        delayed_local(f).call((self,))
    }

    /// Gives this task an explicit key. Building two tasks with the same
    /// key yields one task, as in Dask.
    pub fn named(self, key: &str) -> Self {
        let mut node = Arc::try_unwrap(self.node).unwrap_or_else(|shared| Node {
            op: shared.op.clone(),
            inputs: shared.inputs.clone(),
            key: None,
        });
        node.key = Some(key.into());
        Self::from_node(node)
    }

    /// The task graph that computes this value, and the output's id.
    /// An input that is a cluster's future becomes a task that only its
    /// client can compute (see [`crate::Client::persist`]).
    pub fn to_job(&self) -> (Arc<Job>, TaskId) {
        let (job, outputs, _) = to_job_many(std::slice::from_ref(self));
        (job, outputs[0])
    }

    /// Computes the value with the scheduler chosen by the settings.
    pub fn compute(&self) -> Result<T, Error>
    where
        T: Clone,
    {
        self.compute_with(&Options::new())
    }

    /// Computes the value with `options`.
    pub fn compute_with(&self, options: &Options<'_>) -> Result<T, Error>
    where
        T: Clone,
    {
        let mut values = compute_many(std::slice::from_ref(self), options)?;
        values.pop().ok_or_else(|| Error::Backend {
            backend: "rask",
            message: "no output".into(),
        })
    }
}

/// Computes several values of one type that share one graph (shared tasks
/// run once).
pub fn compute_many<T: Any + Send + Sync + Clone>(
    items: &[Delayed<T>],
    options: &Options<'_>,
) -> Result<Vec<T>, Error> {
    let nodes: Vec<&Arc<Node>> = items.iter().map(|d| &d.node).collect();
    let Computed {
        job,
        outputs,
        values,
    } = compute_nodes(&nodes, options)?;
    values
        .into_iter()
        .zip(&outputs)
        .map(|(v, &task)| take_output(&job, task, v))
        .collect()
}

/// Computes a tuple of delayed values of different types over one shared
/// graph, as Dask's `compute(a, b)`: `rask::compute_all((&a, &b), &options)`.
pub fn compute_all<T: DelayedTuple>(items: T, options: &Options<'_>) -> Result<T::Output, Error> {
    items.compute_all(options)
}

/// A tuple of `&Delayed` values (2 to 4) computed together by [`compute_all`].
pub trait DelayedTuple {
    /// The tuple of their values.
    type Output;
    /// Computes them over one graph.
    fn compute_all(self, options: &Options<'_>) -> Result<Self::Output, Error>;
}

macro_rules! impl_delayed_tuple {
    ($($T:ident $i:tt),+) => {
        impl<$($T: Any + Send + Sync + Clone),+> DelayedTuple for ($(&Delayed<$T>,)+) {
            type Output = ($($T,)+);
            fn compute_all(self, options: &Options<'_>) -> Result<Self::Output, Error> {
                let nodes = [$(&self.$i.node),+];
                let Computed { job, outputs, values } = compute_nodes(&nodes, options)?;
                let mut values = values.into_iter();
                Ok(($(
                    take_output::<$T>(&job, outputs[$i], values.next().ok_or_else(missing_output)?)?,
                )+))
            }
        }
    };
}

impl_delayed_tuple!(A 0, B 1);
impl_delayed_tuple!(A 0, B 1, C 2);
impl_delayed_tuple!(A 0, B 1, C 2, D 3);

/// The outputs of one compute, with the job that names them.
struct Computed {
    job: Arc<Job>,
    outputs: Vec<TaskId>,
    values: Vec<Value>,
}

fn compute_nodes(nodes: &[&Arc<Node>], options: &Options<'_>) -> Result<Computed, Error> {
    let (job, outputs) = build_fetching(nodes)?;
    let values = compute_job(&job, &outputs, options)?;
    Ok(Computed {
        job,
        outputs,
        values,
    })
}

fn take_output<T: Any + Send + Sync + Clone>(
    job: &Job,
    task: TaskId,
    value: Value,
) -> Result<T, Error> {
    value.take_output(job.key(task))
}

fn missing_output() -> Error {
    Error::Backend {
        backend: "rask",
        message: "a scheduler returned fewer outputs than asked".into(),
    }
}

/// Hashes node addresses (already well spread) with one multiply.
#[derive(Default)]
struct AddrHasher(u64);

impl Hasher for AddrHasher {
    fn finish(&self) -> u64 {
        self.0
    }
    fn write(&mut self, bytes: &[u8]) {
        for &b in bytes {
            self.0 = (self.0 ^ u64::from(b)).wrapping_mul(0x100_0000_01b3);
        }
    }
    fn write_usize(&mut self, n: usize) {
        self.0 = (n as u64)
            .wrapping_mul(0x9E37_79B9_7F4A_7C15)
            .rotate_left(29);
    }
}

/// One graph computing all of `items`, their output ids, and the tasks
/// standing for cluster futures (what a client submits as externals).
pub(crate) fn to_job_many<T>(items: &[Delayed<T>]) -> (Arc<Job>, Vec<TaskId>, Externals) {
    let nodes: Vec<&Arc<Node>> = items.iter().map(|d| &d.node).collect();
    let mut externals = Vec::new();
    let built = build(&nodes, &mut |b, f| {
        let task = future_task(b, f);
        externals.push((task, f.clone()));
        Ok::<_, Infallible>(Arg::dep(task))
    });
    let Ok((job, outputs)) = built;
    (job, outputs, externals)
}

/// Tasks of a job standing for cluster futures.
pub(crate) type Externals = Vec<(TaskId, FutureRef)>;

/// The result a task stands for has no value here: it lives on a cluster,
/// and only its client submits the task as a reference to it.
fn on_cluster(_: Inputs<()>) -> Result<(), &'static str> {
    Err("this task stands for a future on a cluster; compute it with that cluster's client")
}

/// A task standing for `future`, keyed by the result it names so that the
/// same future used twice is one task.
fn future_task(b: &mut JobBuilder, future: &FutureRef) -> TaskId {
    #[cfg(all(feature = "net", unix))]
    {
        let op = b.op(&Op::new("future", rask_core::fallible(on_cluster)));
        let key = future.key();
        b.keyed_task(&format!("future-{:x}-{}", key.job, key.task), op, &[])
    }
    #[cfg(not(all(feature = "net", unix)))]
    match *future {}
}

/// Turns the calls reachable from `roots` into a job, one task per call
/// (shared calls once), in one iterative post-order walk; `on_future`
/// makes the argument for an input that is a cluster future.
fn build<E>(
    roots: &[&Arc<Node>],
    on_future: &mut dyn FnMut(&mut JobBuilder, &FutureRef) -> Result<Arg, E>,
) -> Result<(Arc<Job>, Vec<TaskId>), E> {
    let mut b = JobBuilder::new();
    let mut ids: HashMap<usize, TaskId, BuildHasherDefault<AddrHasher>> = HashMap::default();
    let addr = |n: &Node| n as *const Node as usize;
    let mut stack: Vec<(&Node, usize)> = Vec::new();
    let mut args: Vec<Arg> = Vec::new();
    for root in roots {
        if ids.contains_key(&addr(root)) {
            continue;
        }
        stack.push((root, 0));
        while let Some((node, next)) = stack.last_mut() {
            let node: &Node = node;
            if let Some(input) = node.inputs.get(*next) {
                *next += 1;
                if let InputKind::Node(child) = &input.0 {
                    if !ids.contains_key(&addr(child)) {
                        stack.push((child, 0));
                    }
                }
                continue;
            }
            stack.pop();
            args.clear();
            for input in &node.inputs {
                args.push(match &input.0 {
                    InputKind::Node(child) => Arg::dep(ids[&addr(child)]),
                    InputKind::Lit(value, codec) => b.lit_value(value.clone(), *codec),
                    InputKind::Future(f) => on_future(&mut b, f)?,
                });
            }
            let op = b.op(&node.op);
            let task = match &node.key {
                Some(key) => b.keyed_task(key, op, &args),
                None => b.task(op, &args),
            };
            ids.insert(addr(node), task);
        }
    }
    let outputs = roots.iter().map(|r| ids[&addr(r)]).collect();
    Ok((Arc::new(b.finish()), outputs))
}

/// [`build`] for schedulers other than a future's client: each future's
/// value is fetched and becomes a literal.
fn build_fetching(roots: &[&Arc<Node>]) -> Result<(Arc<Job>, Vec<TaskId>), Error> {
    build(roots, &mut |b, f| fetch_future(b, f))
}

fn fetch_future(b: &mut JobBuilder, future: &FutureRef) -> Result<Arg, Error> {
    #[cfg(all(feature = "net", unix))]
    {
        Ok(b.lit_value(future.result(None)?, Some(future.codec())))
    }
    #[cfg(not(all(feature = "net", unix)))]
    match (b, *future) {}
}

#[cfg(test)]
mod tests {
    use super::*;

    fn read_csv(_: &String) -> u64 {
        0
    }

    #[test]
    fn op_names_are_short() {
        assert_eq!(delayed(read_csv).op.name(), "read_csv");
        assert_eq!(
            delayed(|x: &i64| *x).op.name(),
            "op_names_are_short-closure"
        );
        let parse = delayed(rask_core::fallible(|s: &String| s.parse::<i64>()));
        assert_eq!(parse.op.name(), "op_names_are_short-closure");
        assert_eq!(Delayed::value(3u8).node.op.name(), "value");
    }
}
