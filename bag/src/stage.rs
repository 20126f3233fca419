//! Fused per-partition pipelines: the [`Stage`] chain behind every bag.
//!
//! `bag.map(f).filter(g)` does not add tasks: it wraps the bag's stage in
//! `Filter<Map<P, F>, G>`, and each partition's single task pushes its items
//! through the whole chain into a [`Sink`] (a collector, a counter, a fold),
//! one item at a time. No partition is materialised between steps.
//!
//! The chain is a type, not a list of boxed functions, for a reason beyond
//! speed: a stage made only of zero-sized user functions (fn items and
//! closures that capture nothing) is itself zero-sized, so the op that runs
//! it can be rebuilt from its type alone in another process (see
//! `rask_core::Op::rebuilder`), which is how it reaches distributed workers.

use std::fmt::Display;
use std::marker::PhantomData;

use rask_core::TaskError;

use crate::Element;

/// Why a stage stopped before the end of its partition.
#[derive(Debug)]
pub enum Halt {
    /// The sink has all it wants (`take`).
    Enough,
    /// A user function failed; the task fails with this error.
    Failed(TaskError),
}

/// What every push returns: `Err` stops the partition early.
pub type Flow = Result<(), Halt>;

/// Receives a stage's items. An item is lent when it still lives in the
/// partition's input, and given when a stage made it, so that collecting a
/// mapped bag moves its items instead of cloning them.
pub trait Sink<T> {
    /// An item borrowed from upstream.
    fn lent(&mut self, item: &T) -> Flow;
    /// An item made upstream, now owned by the sink.
    fn given(&mut self, item: T) -> Flow;
}

/// A per-partition pipeline: turns one task argument (a partition's data,
/// or where to read it) into items pushed to a sink.
pub trait Stage: Copy + Send + Sync + 'static {
    /// What a partition's task receives.
    type Input: Element;
    /// The items the pipeline produces.
    type Output: 'static;
    /// Pushes the items of `input` through the pipeline into `sink`.
    fn run<K: Sink<Self::Output>>(&self, input: &Self::Input, sink: &mut K) -> Flow;
}

/// Runs `stage` over `input`; a sink that stopped early is not an error.
pub(crate) fn drive<S: Stage, K: Sink<S::Output>>(
    stage: &S,
    input: &S::Input,
    sink: &mut K,
) -> Result<(), TaskError> {
    match stage.run(input, sink) {
        Ok(()) | Err(Halt::Enough) => Ok(()),
        Err(Halt::Failed(e)) => Err(e),
    }
}

/// Implements `Clone` and `Copy` without requiring them of the phantom
/// type parameters, which `derive` would.
macro_rules! copy_stage {
    ($name:ident < $($p:ident),* >) => {
        impl<$($p),*> Clone for $name<$($p),*>
        where
            Self: Copy,
        {
            fn clone(&self) -> Self {
                *self
            }
        }
    };
}

/// The source of [`from_iter`](crate::from_iter): each partition is a `Vec<T>`.
pub struct FromVec<T>(PhantomData<fn() -> T>);

impl<T> FromVec<T> {
    pub(crate) fn new() -> Self {
        FromVec(PhantomData)
    }
}

impl<T> Copy for FromVec<T> {}
copy_stage!(FromVec<T>);

impl<T> std::fmt::Debug for FromVec<T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "FromVec<{}>", std::any::type_name::<T>())
    }
}

impl<T: Element> Stage for FromVec<T> {
    type Input = Vec<T>;
    type Output = T;
    fn run<K: Sink<T>>(&self, input: &Vec<T>, sink: &mut K) -> Flow {
        input.iter().try_for_each(|x| sink.lent(x))
    }
}

/// `map(f)` over the items of `P`.
#[derive(Debug)]
pub struct Map<P, F, U> {
    prev: P,
    f: F,
    _out: PhantomData<fn() -> U>,
}

/// `filter(f)` over the items of `P`.
#[derive(Debug)]
pub struct Filter<P, F> {
    prev: P,
    f: F,
}

/// `flat_map(f)` over the items of `P`; `I` is what `f` returns.
#[derive(Debug)]
pub struct FlatMap<P, F, I> {
    prev: P,
    f: F,
    _out: PhantomData<fn() -> I>,
}

/// `try_map(f)` over the items of `P`: an `Err` fails the task.
#[derive(Debug)]
pub struct TryMap<P, F, U, E> {
    prev: P,
    f: F,
    _out: PhantomData<fn() -> (U, E)>,
}

impl<P: Copy, F: Copy, U> Copy for Map<P, F, U> {}
copy_stage!(Map<P, F, U>);
impl<P: Copy, F: Copy> Copy for Filter<P, F> {}
copy_stage!(Filter<P, F>);
impl<P: Copy, F: Copy, I> Copy for FlatMap<P, F, I> {}
copy_stage!(FlatMap<P, F, I>);
impl<P: Copy, F: Copy, U, E> Copy for TryMap<P, F, U, E> {}
copy_stage!(TryMap<P, F, U, E>);

impl<P, F, U> Map<P, F, U> {
    pub(crate) fn new(prev: P, f: F) -> Self {
        Map {
            prev,
            f,
            _out: PhantomData,
        }
    }
}

impl<P, F> Filter<P, F> {
    pub(crate) fn new(prev: P, f: F) -> Self {
        Filter { prev, f }
    }
}

impl<P, F, I> FlatMap<P, F, I> {
    pub(crate) fn new(prev: P, f: F) -> Self {
        FlatMap {
            prev,
            f,
            _out: PhantomData,
        }
    }
}

impl<P, F, U, E> TryMap<P, F, U, E> {
    pub(crate) fn new(prev: P, f: F) -> Self {
        TryMap {
            prev,
            f,
            _out: PhantomData,
        }
    }
}

/// The sink a wrapping stage hands to the stage before it.
struct Link<'a, F, K, M> {
    f: &'a F,
    next: &'a mut K,
    _marker: PhantomData<fn() -> M>,
}

impl<'a, F, K, M> Link<'a, F, K, M> {
    fn new(f: &'a F, next: &'a mut K) -> Self {
        Link {
            f,
            next,
            _marker: PhantomData,
        }
    }
}

/// Marks a [`Link`] of each stage kind (so that their `Sink` impls do not overlap).
struct MapLink<U>(PhantomData<U>);
struct FilterLink;
struct FlatMapLink<I>(PhantomData<I>);
struct TryMapLink<U, E>(PhantomData<(U, E)>);

impl<T, U, F, K> Sink<T> for Link<'_, F, K, MapLink<U>>
where
    F: Fn(&T) -> U,
    K: Sink<U>,
{
    fn lent(&mut self, item: &T) -> Flow {
        self.next.given((self.f)(item))
    }
    fn given(&mut self, item: T) -> Flow {
        self.next.given((self.f)(&item))
    }
}

impl<T, F, K> Sink<T> for Link<'_, F, K, FilterLink>
where
    F: Fn(&T) -> bool,
    K: Sink<T>,
{
    fn lent(&mut self, item: &T) -> Flow {
        if (self.f)(item) {
            self.next.lent(item)
        } else {
            Ok(())
        }
    }
    fn given(&mut self, item: T) -> Flow {
        if (self.f)(&item) {
            self.next.given(item)
        } else {
            Ok(())
        }
    }
}

impl<T, I, F, K> Sink<T> for Link<'_, F, K, FlatMapLink<I>>
where
    F: Fn(&T) -> I,
    I: IntoIterator,
    K: Sink<I::Item>,
{
    fn lent(&mut self, item: &T) -> Flow {
        (self.f)(item)
            .into_iter()
            .try_for_each(|x| self.next.given(x))
    }
    fn given(&mut self, item: T) -> Flow {
        self.lent(&item)
    }
}

impl<T, U, E, F, K> Sink<T> for Link<'_, F, K, TryMapLink<U, E>>
where
    F: Fn(&T) -> Result<U, E>,
    E: Display,
    K: Sink<U>,
{
    fn lent(&mut self, item: &T) -> Flow {
        match (self.f)(item) {
            Ok(x) => self.next.given(x),
            Err(e) => Err(Halt::Failed(TaskError::new(e.to_string()))),
        }
    }
    fn given(&mut self, item: T) -> Flow {
        self.lent(&item)
    }
}

impl<P, F, U> Stage for Map<P, F, U>
where
    P: Stage,
    F: Fn(&P::Output) -> U + Copy + Send + Sync + 'static,
    U: 'static,
{
    type Input = P::Input;
    type Output = U;
    fn run<K: Sink<U>>(&self, input: &P::Input, sink: &mut K) -> Flow {
        self.prev
            .run(input, &mut Link::<_, _, MapLink<U>>::new(&self.f, sink))
    }
}

impl<P, F> Stage for Filter<P, F>
where
    P: Stage,
    F: Fn(&P::Output) -> bool + Copy + Send + Sync + 'static,
{
    type Input = P::Input;
    type Output = P::Output;
    fn run<K: Sink<P::Output>>(&self, input: &P::Input, sink: &mut K) -> Flow {
        self.prev
            .run(input, &mut Link::<_, _, FilterLink>::new(&self.f, sink))
    }
}

impl<P, F, I> Stage for FlatMap<P, F, I>
where
    P: Stage,
    F: Fn(&P::Output) -> I + Copy + Send + Sync + 'static,
    I: IntoIterator + 'static,
    I::Item: 'static,
{
    type Input = P::Input;
    type Output = I::Item;
    fn run<K: Sink<I::Item>>(&self, input: &P::Input, sink: &mut K) -> Flow {
        self.prev
            .run(input, &mut Link::<_, _, FlatMapLink<I>>::new(&self.f, sink))
    }
}

impl<P, F, U, E> Stage for TryMap<P, F, U, E>
where
    P: Stage,
    F: Fn(&P::Output) -> Result<U, E> + Copy + Send + Sync + 'static,
    U: 'static,
    E: Display + 'static,
{
    type Input = P::Input;
    type Output = U;
    fn run<K: Sink<U>>(&self, input: &P::Input, sink: &mut K) -> Flow {
        self.prev.run(
            input,
            &mut Link::<_, _, TryMapLink<U, E>>::new(&self.f, sink),
        )
    }
}

/// Collects a partition's items, moving those a stage made.
pub(crate) struct Collect<T>(pub Vec<T>);

impl<T: Clone> Sink<T> for Collect<T> {
    fn lent(&mut self, item: &T) -> Flow {
        self.0.push(item.clone());
        Ok(())
    }
    fn given(&mut self, item: T) -> Flow {
        self.0.push(item);
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run_all<S: Stage>(stage: S, input: &S::Input) -> Result<Vec<S::Output>, TaskError>
    where
        S::Output: Clone,
    {
        let mut out = Collect(Vec::new());
        drive(&stage, input, &mut out)?;
        Ok(out.0)
    }

    #[test]
    fn stages_compose_in_order() {
        let src = FromVec::<i64>::new();
        let chain = Filter::new(
            FlatMap::<_, _, Vec<i64>>::new(
                Map::<_, _, i64>::new(src, |x: &i64| x * 10),
                |x: &i64| vec![*x, x + 1],
            ),
            |x: &i64| x % 2 == 0,
        );
        assert_eq!(run_all(chain, &vec![1, 2, 3]).unwrap(), [10, 20, 30]);
    }

    #[test]
    fn zero_sized_functions_make_zero_sized_stages() {
        let chain = Map::<_, _, i64>::new(FromVec::<i64>::new(), |x: &i64| x + 1);
        let chain = Filter::new(chain, |x: &i64| *x > 0);
        assert_eq!(std::mem::size_of_val(&chain), 0);
        let k = 3i64;
        let capturing = Map::<_, _, i64>::new(FromVec::<i64>::new(), move |x: &i64| x + k);
        assert_ne!(std::mem::size_of_val(&capturing), 0);
    }

    #[test]
    fn try_map_stops_at_the_first_error() {
        let parse = TryMap::<_, _, i32, std::num::ParseIntError>::new(
            FromVec::<String>::new(),
            |s: &String| s.parse::<i32>(),
        );
        let ok = run_all(parse, &vec!["1".into(), "2".into()]).unwrap();
        assert_eq!(ok, [1, 2]);
        let err = run_all(parse, &vec!["1".into(), "x".into()]).unwrap_err();
        assert_eq!(err.message(), "invalid digit found in string");
    }
}
