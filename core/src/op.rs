//! Ops: named functions over type-erased values, registered with their types.
//!
//! `registry.op("inc", |x: &i64| x + 1)` turns a plain function or closure
//! of 0 to 8 arguments (taken by reference: results are shared, never
//! copied) into an [`Op`]. A closure over [`Inputs`] takes any number of
//! inputs of one type (`|xs: Inputs<i64>| xs.sum::<i64>()`). Wrap a function
//! that returns `Result` in [`fallible`] to turn `Err` into a task error. A
//! panic inside an op becomes a task error carrying the panic message.
//!
//! Each op registered with [`Registry::op`] carries a postcard [`Codec`] for
//! its result type, so a result is encoded only when it must cross a
//! process, network or worker boundary.

use alloc::boxed::Box;
use alloc::collections::BTreeMap;
use alloc::string::{String, ToString};
use alloc::sync::Arc;
use alloc::vec::Vec;
use core::any::{Any, TypeId};
use core::fmt;
use core::marker::PhantomData;

use serde::de::DeserializeOwned;
use serde::Serialize;

use crate::graph::{Arg, ArgKind, TaskId};
use crate::job::Lit;
use crate::value::Value;

/// Why one task failed: a returned error, a panic, or arguments of the
/// wrong type or number.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TaskError {
    message: String,
    /// The task (key, op) that really failed, when it ran inside another
    /// task (a fused chain): errors then name it, as if it ran alone.
    origin: Option<(String, String)>,
}

impl TaskError {
    /// An error with this message.
    pub fn new(message: impl Into<String>) -> TaskError {
        TaskError { message: message.into(), origin: None }
    }
    /// This error, raised by the task `key` running op `op` inside another
    /// task. An origin already set (a nested chain) is kept.
    pub fn within(self, key: &str, op: &str) -> TaskError {
        let origin = self.origin.or_else(|| Some((key.into(), op.into())));
        TaskError { origin, ..self }
    }
    /// The message.
    pub fn message(&self) -> &str {
        &self.message
    }
    /// The (key, op) of the task that raised it, when not the task that ran.
    pub fn origin(&self) -> Option<(&str, &str)> {
        self.origin.as_ref().map(|(k, o)| (k.as_str(), o.as_str()))
    }
}

impl fmt::Display for TaskError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

/// Where a driver keeps finished results, seen by a running op.
pub trait Fetch {
    /// The result of `task`, if this driver holds it.
    fn fetch(&self, task: TaskId) -> Option<&Value>;
}

/// The arguments of one running task.
pub struct Args<'a> {
    pub(crate) args: &'a [Arg],
    pub(crate) lits: &'a [Lit],
    pub(crate) fetch: &'a dyn Fetch,
}

impl fmt::Debug for Args<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_list().entries(self.args).finish()
    }
}

impl<'a> Args<'a> {
    /// Arguments `args`, resolving literals in `lits` and dependencies through `fetch`.
    pub fn new(args: &'a [Arg], lits: &'a [Lit], fetch: &'a dyn Fetch) -> Self {
        Args { args, lits, fetch }
    }

    /// Number of arguments.
    #[inline]
    pub fn len(&self) -> usize {
        self.args.len()
    }

    /// True when there is no argument.
    #[inline]
    pub fn is_empty(&self) -> bool {
        self.args.is_empty()
    }

    /// Argument `i` as a value.
    pub fn get(&self, i: usize) -> Result<&'a Value, TaskError> {
        let arg = self
            .args
            .get(i)
            .ok_or_else(|| TaskError::new(alloc::format!("argument {i} is missing")))?;
        match arg.kind() {
            ArgKind::Lit(l) => self
                .lits
                .get(l.0 as usize)
                .map(|lit| &lit.value)
                .ok_or_else(|| TaskError::new(alloc::format!("literal #{} is missing", l.0))),
            ArgKind::Dep(t) => self
                .fetch
                .fetch(t)
                .ok_or_else(|| TaskError::new(alloc::format!("the result of {t} is not available"))),
        }
    }

    /// Argument `i` as a `&T`, or an error naming both types.
    #[inline]
    pub fn typed<T: Any>(&self, i: usize) -> Result<&'a T, TaskError> {
        let value = self.get(i)?;
        value.downcast_ref::<T>().ok_or_else(|| {
            TaskError::new(alloc::format!(
                "argument {i} has type {}, expected {}",
                value.type_name(),
                core::any::type_name::<T>()
            ))
        })
    }

    fn expect_len(&self, n: usize) -> Result<(), TaskError> {
        if self.args.len() == n {
            Ok(())
        } else {
            Err(TaskError::new(alloc::format!(
                "expected {n} arguments, got {}",
                self.args.len()
            )))
        }
    }
}

/// Any number of inputs of one type, for variadic ops (`sum` of N values).
pub struct Inputs<'a, T> {
    args: &'a Args<'a>,
    next: usize,
    _type: PhantomData<&'a T>,
}

impl<T> fmt::Debug for Inputs<'_, T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Inputs({} left)", self.args.len() - self.next)
    }
}

impl<'a, T: Any> Inputs<'a, T> {
    /// Number of inputs.
    pub fn count_all(&self) -> usize {
        self.args.len()
    }
    /// Input `i`.
    pub fn get(&self, i: usize) -> Option<&'a T> {
        self.args.typed(i).ok()
    }
}

impl<'a, T: Any> Iterator for Inputs<'a, T> {
    type Item = &'a T;
    fn next(&mut self) -> Option<&'a T> {
        while self.next < self.args.len() {
            self.next += 1;
            // Types were checked before the op was called.
            if let Ok(v) = self.args.typed(self.next - 1) {
                return Some(v);
            }
        }
        None
    }
    fn size_hint(&self) -> (usize, Option<usize>) {
        let n = self.args.len() - self.next;
        (n, Some(n))
    }
}

impl<T: Any> ExactSizeIterator for Inputs<'_, T> {}

/// A function that can become an op. `M` is a marker that tells the
/// arities apart; users never name it.
pub trait IntoOp<M>: Send + Sync + 'static {
    /// The result type.
    type Output: Any + Send + Sync;
    /// Runs the function on `args`.
    fn call(&self, args: &Args<'_>) -> Result<Self::Output, TaskError>;
}

/// Marks a function returning `Result<T, E>` whose `Err` is a task error.
#[derive(Clone, Copy, Debug)]
pub struct Fallible<F>(pub F);

/// Wraps a function returning `Result<T, E: Display>` so that `Err` fails the task.
pub fn fallible<F>(f: F) -> Fallible<F> {
    Fallible(f)
}

#[doc(hidden)]
#[derive(Debug)]
pub struct VariadicMarker<T, R>(PhantomData<fn(T) -> R>);
#[doc(hidden)]
#[derive(Debug)]
pub struct FallibleMarker<M>(PhantomData<M>);

macro_rules! impl_into_op {
    ($n:expr; $($A:ident $i:tt),*) => {
        impl<F, R, $($A,)*> IntoOp<fn($(&$A,)*) -> R> for F
        where
            F: Fn($(&$A),*) -> R + Send + Sync + 'static,
            R: Any + Send + Sync,
            $($A: Any,)*
        {
            type Output = R;
            #[inline]
            fn call(&self, args: &Args<'_>) -> Result<R, TaskError> {
                args.expect_len($n)?;
                Ok(self($(args.typed::<$A>($i)?),*))
            }
        }

        impl<F, R, E, $($A,)*> IntoOp<FallibleMarker<fn($(&$A,)*) -> R>> for Fallible<F>
        where
            F: Fn($(&$A),*) -> Result<R, E> + Send + Sync + 'static,
            R: Any + Send + Sync,
            E: fmt::Display,
            $($A: Any,)*
        {
            type Output = R;
            #[inline]
            fn call(&self, args: &Args<'_>) -> Result<R, TaskError> {
                args.expect_len($n)?;
                (self.0)($(args.typed::<$A>($i)?),*).map_err(|e| TaskError::new(e.to_string()))
            }
        }
    };
}

impl_into_op!(0;);
impl_into_op!(1; A 0);
impl_into_op!(2; A 0, B 1);
impl_into_op!(3; A 0, B 1, C 2);
impl_into_op!(4; A 0, B 1, C 2, D 3);
impl_into_op!(5; A 0, B 1, C 2, D 3, E2 4);
impl_into_op!(6; A 0, B 1, C 2, D 3, E2 4, G 5);
impl_into_op!(7; A 0, B 1, C 2, D 3, E2 4, G 5, H 6);
impl_into_op!(8; A 0, B 1, C 2, D 3, E2 4, G 5, H 6, I 7);

fn check_inputs<T: Any>(args: &Args<'_>) -> Result<(), TaskError> {
    (0..args.len()).try_for_each(|i| args.typed::<T>(i).map(|_| ()))
}

impl<F, R, T> IntoOp<VariadicMarker<T, R>> for F
where
    F: for<'a> Fn(Inputs<'a, T>) -> R + Send + Sync + 'static,
    R: Any + Send + Sync,
    T: Any,
{
    type Output = R;
    fn call(&self, args: &Args<'_>) -> Result<R, TaskError> {
        check_inputs::<T>(args)?;
        Ok(self(Inputs { args, next: 0, _type: PhantomData }))
    }
}

impl<F, R, E, T> IntoOp<FallibleMarker<VariadicMarker<T, R>>> for Fallible<F>
where
    F: for<'a> Fn(Inputs<'a, T>) -> Result<R, E> + Send + Sync + 'static,
    R: Any + Send + Sync,
    E: fmt::Display,
    T: Any,
{
    type Output = R;
    fn call(&self, args: &Args<'_>) -> Result<R, TaskError> {
        check_inputs::<T>(args)?;
        (self.0)(Inputs { args, next: 0, _type: PhantomData }).map_err(|e| TaskError::new(e.to_string()))
    }
}

/// Encodes and decodes values of one type with postcard, for crossing
/// process, network and worker boundaries. One pointer wide.
#[derive(Clone, Copy)]
pub struct Codec(&'static CodecFns);

struct CodecFns {
    type_name: fn() -> &'static str,
    rebuild: fn() -> Codec,
    encode: fn(&Value, &mut Vec<u8>) -> Result<(), TaskError>,
    decode: fn(&[u8]) -> Result<Value, TaskError>,
    decode_owned: fn(Vec<u8>) -> Result<Value, TaskError>,
}

/// The codec functions of `T`, as a constant so that `Codec::of` can hand
/// out a `'static` reference to them.
struct PostcardCodec<T>(PhantomData<T>);

impl<T: Serialize + DeserializeOwned + Any + Send + Sync> PostcardCodec<T> {
    const FNS: CodecFns = CodecFns {
        type_name: core::any::type_name::<T>,
        rebuild: Codec::of::<T>,
        encode: Self::encode,
        decode: Self::decode,
        decode_owned: Self::decode_owned,
    };

    fn encode(value: &Value, out: &mut Vec<u8>) -> Result<(), TaskError> {
        let v = value.downcast_ref::<T>().ok_or_else(|| {
            TaskError::new(alloc::format!(
                "cannot encode a {} as {}",
                value.type_name(),
                core::any::type_name::<T>()
            ))
        })?;
        if let Some(raw) = (v as &dyn Any).downcast_ref::<Vec<u8>>() {
            // The same bytes serde writes, without a call per element.
            let len = postcard::to_allocvec(&raw.len())
                .map_err(|e| TaskError::new(alloc::format!("encoding failed: {e}")))?;
            out.reserve_exact(len.len() + raw.len());
            out.extend_from_slice(&len);
            out.extend_from_slice(raw);
            return Ok(());
        }
        let bytes = postcard::to_allocvec(v)
            .map_err(|e| TaskError::new(alloc::format!("encoding failed: {e}")))?;
        // Most callers hand an empty buffer: take the encoding as it is
        // rather than hold a second copy of a large result.
        if out.is_empty() {
            *out = bytes;
        } else {
            out.extend_from_slice(&bytes);
        }
        Ok(())
    }

    fn decode(bytes: &[u8]) -> Result<Value, TaskError> {
        if let Some(raw) = Self::byte_vector(bytes) {
            return Ok(Value::new(raw.to_vec()));
        }
        postcard::from_bytes::<T>(bytes).map(Value::new).map_err(|e| {
            TaskError::new(alloc::format!(
                "cannot decode a {}: {e}",
                core::any::type_name::<T>()
            ))
        })
    }

    /// The bytes of a `Vec<u8>`'s encoding (its length, then its bytes), if
    /// `T` is one: serde would decode them one element at a time.
    fn byte_vector(bytes: &[u8]) -> Option<&[u8]> {
        if TypeId::of::<T>() != TypeId::of::<Vec<u8>>() {
            return None;
        }
        let (len, raw) = postcard::take_from_bytes::<usize>(bytes).ok()?;
        (raw.len() == len).then_some(raw)
    }

    fn decode_owned(mut bytes: Vec<u8>) -> Result<Value, TaskError> {
        // A byte vector keeps the buffer it arrived in: one move of its
        // bytes over the length in front, rather than a fresh copy.
        if let Some(raw) = Self::byte_vector(&bytes) {
            let head = bytes.len() - raw.len();
            bytes.drain(..head);
            return Ok(Value::new(bytes));
        }
        Self::decode(&bytes)
    }
}

impl fmt::Debug for Codec {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Codec<{}>", self.type_name())
    }
}

impl Codec {
    /// The postcard codec of `T`.
    pub fn of<T: Serialize + DeserializeOwned + Any + Send + Sync>() -> Codec {
        Codec(&PostcardCodec::<T>::FNS)
    }
    /// The function that makes this codec: in another process running the
    /// same binary, the same function makes the same codec, which is how a
    /// network worker started from this binary decodes literals of any type.
    pub fn rebuilder(&self) -> fn() -> Codec {
        self.0.rebuild
    }
    /// The type this codec handles.
    pub fn type_name(&self) -> &'static str {
        (self.0.type_name)()
    }
    /// Appends the encoding of `value` to `out`.
    pub fn encode(&self, value: &Value, out: &mut Vec<u8>) -> Result<(), TaskError> {
        (self.0.encode)(value, out)
    }
    /// Decodes a value.
    pub fn decode(&self, bytes: &[u8]) -> Result<Value, TaskError> {
        (self.0.decode)(bytes)
    }
    /// Decodes a value from bytes it may keep: a `Vec<u8>` becomes its
    /// value without a second buffer.
    pub fn decode_owned(&self, bytes: Vec<u8>) -> Result<Value, TaskError> {
        (self.0.decode_owned)(bytes)
    }
}

type OpFn = dyn Fn(&Args<'_>) -> Result<Value, TaskError> + Send + Sync;

/// A named operation: a function over values, with the codec of its result
/// where the result type can be encoded. Cloning is one reference count.
#[derive(Clone)]
pub struct Op(Arc<OpInner>);

struct OpInner {
    name: Box<str>,
    func: Arc<OpFn>,
    codec: Option<Codec>,
    /// Makes this op again from its name alone; set for zero-sized
    /// functions, which carry no state (see [`Op::rebuilder`]).
    rebuild: Option<fn(&str) -> Op>,
}

/// Makes the op of the zero-sized function type `F` without a value of it.
fn rebuild_stateless<M, F>(name: &str) -> Op
where
    F: IntoOp<M>,
    F::Output: Serialize + DeserializeOwned,
{
    debug_assert_eq!(core::mem::size_of::<F>(), 0);
    // SAFETY: this function is only ever taken (in `Op::new`) for a
    // zero-sized `F` of which a value existed. A zero-sized value has no
    // bytes, so every value of `F` is that same value: this conjures a copy
    // of the function (a fn item or a closure that captures nothing), not
    // something new.
    let f: F = unsafe { core::mem::zeroed() };
    Op::new(name, f)
}

impl fmt::Debug for Op {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Op({})", self.0.name)
    }
}

impl Op {
    /// An op whose result can cross process boundaries.
    pub fn new<M, F>(name: &str, f: F) -> Op
    where
        F: IntoOp<M>,
        F::Output: Serialize + DeserializeOwned,
    {
        let rebuild = (core::mem::size_of::<F>() == 0)
            .then_some(rebuild_stateless::<M, F> as fn(&str) -> Op);
        Op::build(name, Some(Codec::of::<F::Output>()), rebuild, move |args: &Args<'_>| {
            f.call(args).map(Value::new)
        })
    }

    /// An op whose result stays in the process that made it (no codec).
    pub fn local<M, F: IntoOp<M>>(name: &str, f: F) -> Op {
        Op::raw(name, None, move |args: &Args<'_>| f.call(args).map(Value::new))
    }

    /// An op straight over type-erased arguments.
    pub fn raw(
        name: &str,
        codec: Option<Codec>,
        f: impl Fn(&Args<'_>) -> Result<Value, TaskError> + Send + Sync + 'static,
    ) -> Op {
        Op::build(name, codec, None, f)
    }

    fn build(
        name: &str,
        codec: Option<Codec>,
        rebuild: Option<fn(&str) -> Op>,
        f: impl Fn(&Args<'_>) -> Result<Value, TaskError> + Send + Sync + 'static,
    ) -> Op {
        Op(Arc::new(OpInner {
            name: name.into(),
            func: Arc::new(f),
            codec,
            rebuild,
        }))
    }

    /// The same function under another name.
    pub fn renamed(&self, name: &str) -> Op {
        Op(Arc::new(OpInner {
            name: name.into(),
            func: self.0.func.clone(),
            codec: self.0.codec,
            rebuild: self.0.rebuild,
        }))
    }

    /// For an op made by [`Op::new`] from a zero-sized function (a fn item
    /// or a closure that captures nothing): the function that makes the op
    /// again from its name. Another process running the same binary gets
    /// the same op from it, so such ops need no registry on network workers
    /// started from this binary. `None` for ops with state.
    pub fn rebuilder(&self) -> Option<fn(&str) -> Op> {
        self.0.rebuild
    }

    /// The op's name.
    pub fn name(&self) -> &str {
        &self.0.name
    }

    /// The codec of the op's result type, if it has one.
    pub fn codec(&self) -> Option<Codec> {
        self.0.codec
    }

    /// Identity of this op (name and function), for interning.
    pub(crate) fn identity(&self) -> usize {
        Arc::as_ptr(&self.0) as usize
    }

    /// Runs the op. With `std`, a panic is caught and becomes a task error
    /// carrying the panic message.
    #[inline]
    pub fn call(&self, args: &Args<'_>) -> Result<Value, TaskError> {
        #[cfg(feature = "std")]
        {
            std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| (self.0.func)(args)))
                .unwrap_or_else(|payload| Err(TaskError::new(panic_message(payload.as_ref()))))
        }
        #[cfg(not(feature = "std"))]
        {
            (self.0.func)(args)
        }
    }
}

#[cfg(feature = "std")]
fn panic_message(payload: &(dyn Any + Send)) -> String {
    use alloc::borrow::ToOwned;
    let text = payload
        .downcast_ref::<&str>()
        .map(|s| (*s).to_owned())
        .or_else(|| payload.downcast_ref::<String>().cloned())
        .unwrap_or_else(|| "a non-string payload".to_owned());
    alloc::format!("panicked: {text}")
}

/// Ops by name. Out-of-process backends look ops up by name on the other
/// side, so every worker builds the same registry.
#[derive(Clone, Default)]
pub struct Registry {
    ops: BTreeMap<Arc<str>, Op>,
}

impl fmt::Debug for Registry {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_set().entries(self.ops.keys()).finish()
    }
}

impl Registry {
    /// An empty registry.
    pub fn new() -> Self {
        Self::default()
    }

    /// Registers `f` as `name` (replacing an op of that name) and returns it.
    pub fn op<M, F>(&mut self, name: &str, f: F) -> Op
    where
        F: IntoOp<M>,
        F::Output: Serialize + DeserializeOwned,
    {
        self.insert(Op::new(name, f))
    }

    /// Registers an op whose result never leaves the process.
    pub fn local_op<M, F: IntoOp<M>>(&mut self, name: &str, f: F) -> Op {
        self.insert(Op::local(name, f))
    }

    /// Registers a ready-made op under its own name.
    pub fn insert(&mut self, op: Op) -> Op {
        self.ops.insert(op.name().into(), op.clone());
        op
    }

    /// The op called `name`.
    pub fn get(&self, name: &str) -> Option<&Op> {
        self.ops.get(name)
    }

    /// Names of all ops, sorted.
    pub fn names(&self) -> impl Iterator<Item = &str> {
        self.ops.keys().map(|k| &**k)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::job::JobBuilder;
    use alloc::vec;

    struct NoResults;
    impl Fetch for NoResults {
        fn fetch(&self, _: TaskId) -> Option<&Value> {
            None
        }
    }

    fn call_with(op: &Op, lits: Vec<Value>) -> Result<Value, TaskError> {
        let mut b = JobBuilder::new();
        let args: Vec<Arg> = lits.into_iter().map(|v| b.lit_value(v, None)).collect();
        let job = b.finish();
        op.call(&Args::new(&args, job.lits(), &NoResults))
    }

    #[test]
    fn typed_ops_of_every_arity() {
        let mut r = Registry::new();
        let zero = r.op("zero", || 0i64);
        let six = r.op("six", |a: &i64, b: &i64, c: &i64, d: &i64, e: &i64, f: &i64| a + b + c + d + e + f);
        let eight = r.op(
            "eight",
            |a: &u8, b: &u8, c: &u8, d: &u8, e: &u8, f: &u8, g: &u8, h: &u8| [*a, *b, *c, *d, *e, *f, *g, *h],
        );
        assert_eq!(call_with(&zero, vec![]).unwrap().downcast_ref::<i64>(), Some(&0));
        let ones = (0..6).map(|_| Value::new(1i64)).collect();
        assert_eq!(call_with(&six, ones).unwrap().downcast_ref::<i64>(), Some(&6));
        let bytes = (0..8u8).map(Value::new).collect();
        assert_eq!(
            call_with(&eight, bytes).unwrap().downcast_ref::<[u8; 8]>(),
            Some(&[0, 1, 2, 3, 4, 5, 6, 7])
        );
        assert_eq!(r.names().collect::<Vec<_>>(), ["eight", "six", "zero"]);
    }

    #[test]
    fn variadic_sum_of_many() {
        let sum = Op::new("sum", |xs: Inputs<i64>| xs.sum::<i64>());
        let xs = (1..=10_000).map(|i| Value::new(i as i64)).collect();
        assert_eq!(call_with(&sum, xs).unwrap().downcast_ref::<i64>(), Some(&50_005_000));
    }

    #[test]
    fn wrong_types_and_counts_are_task_errors() {
        let inc = Op::new("inc", |x: &i64| x + 1);
        let err = call_with(&inc, vec![Value::new(1.5f64)]).unwrap_err();
        assert_eq!(err.message(), "argument 0 has type f64, expected i64");
        let err = call_with(&inc, vec![]).unwrap_err();
        assert_eq!(err.message(), "expected 1 arguments, got 0");
    }

    #[test]
    fn errors_and_panics_become_task_errors() {
        let parse = Op::new("parse", fallible(|s: &String| s.parse::<i64>()));
        assert_eq!(
            call_with(&parse, vec![Value::new(String::from("42"))]).unwrap().downcast_ref::<i64>(),
            Some(&42)
        );
        let err = call_with(&parse, vec![Value::new(String::from("x"))]).unwrap_err();
        assert_eq!(err.message(), "invalid digit found in string");
        let boom = Op::new("boom", |x: &i64| -> i64 { panic!("boom at {x}") });
        let err = call_with(&boom, vec![Value::new(3i64)]).unwrap_err();
        assert_eq!(err.message(), "panicked: boom at 3");
    }

    #[test]
    fn stateless_ops_rebuild_from_their_name() {
        fn double(x: &i64) -> i64 {
            x * 2
        }
        let op = Op::new("double", double);
        let again = (op.rebuilder().expect("a fn item is stateless"))("double-2");
        assert_eq!(again.name(), "double-2");
        let out = call_with(&again, vec![Value::new(21i64)]).unwrap();
        assert_eq!(out.downcast_ref::<i64>(), Some(&42));
        let k = 5i64;
        assert!(Op::new("add-k", move |x: &i64| x + k).rebuilder().is_none());
        assert!(Op::local("l", || 1u8).rebuilder().is_none());
        let codec = (again.codec().unwrap().rebuilder())();
        assert_eq!(codec.type_name(), "i64");
    }

    #[test]
    fn codec_round_trips() {
        let op = Op::new("v", || alloc::vec![1.5f64, 2.5]);
        let codec = op.codec().unwrap();
        let mut buf = Vec::new();
        codec.encode(&Value::new(alloc::vec![1.5f64, 2.5]), &mut buf).unwrap();
        let back = codec.decode(&buf).unwrap();
        assert_eq!(back.downcast_ref::<Vec<f64>>(), Some(&alloc::vec![1.5, 2.5]));
        assert!(codec.decode(&[0xff, 0xff]).is_err());
        assert!(codec.encode(&Value::new(1u8), &mut buf).is_err());
        assert!(Op::local("l", || 1u8).codec().is_none());
    }

    #[test]
    fn byte_vectors_take_the_fast_path_to_the_same_bytes_as_serde() {
        let codec = Codec::of::<Vec<u8>>();
        for v in [alloc::vec![], alloc::vec![7u8; 3], (0..300u32).map(|i| i as u8).collect()] {
            let mut fast = alloc::vec![9u8];
            codec.encode(&Value::new(v.clone()), &mut fast).unwrap();
            let mut serde = alloc::vec![9u8];
            serde.extend(postcard::to_allocvec(&v).unwrap());
            assert_eq!(fast, serde, "an encoding any postcard peer reads");
            let back = codec.decode(&serde[1..]).unwrap();
            assert_eq!(back.downcast_ref::<Vec<u8>>(), Some(&v));
            let owned = codec.decode_owned(serde[1..].to_vec()).unwrap();
            assert_eq!(owned.downcast_ref::<Vec<u8>>(), Some(&v));
        }
        // A length that does not match is refused as before.
        assert!(codec.decode(&[5, 1]).is_err());
        assert!(codec.decode_owned(alloc::vec![5, 1]).is_err());
        // Other types take the owned path through serde.
        let f = Codec::of::<Vec<f64>>();
        let bytes = postcard::to_allocvec(&alloc::vec![1.5f64]).unwrap();
        let back = f.decode_owned(bytes).unwrap();
        assert_eq!(back.downcast_ref::<Vec<f64>>(), Some(&alloc::vec![1.5]));
    }
}
