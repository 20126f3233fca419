//! The `distributed` scheduler: a [`Client`] of a rask cluster.
//!
//! `Client::local()` starts a cluster on this machine (an embedded
//! scheduler and one worker process per core, re-executed from this
//! binary); `Client::connect(addr)` joins a running `rask-scheduler`. The
//! newest client becomes the active one, which `scheduler("distributed")`
//! (and so `compute` with that name) uses, as with Dask's `Client()`.
//! Stateless functions (fn items, closures capturing nothing) run on a
//! local cluster as they are; a remote cluster runs ops its workers
//! registered, by name.
//!
//! [`Client::persist`] keeps a delayed value's result (a [`Future`]) or a
//! collection's chunks (the same collection, over chunks held on the
//! cluster; see [`Persist`]) on the cluster.
//!
//! Submissions take [`SubmitOptions`] (`submit_with`, `map_with`): pure
//! deduplication, priority, retries, worker restrictions and resources,
//! for every task of that one submission. A [`Queue`] carries futures or
//! small values between clients.

use std::any::Any;
use std::marker::PhantomData;
use std::sync::{Arc, Mutex};

use rask_core::{Error, IgnorePoison, IntoOp, Scheduler};
use rask_sched_net::RawFuture;
use serde::de::DeserializeOwned;
use serde::Serialize;

pub use rask_sched_net::{ClientOptions, FutureStatus, LocalOptions, SubmitOptions};

use crate::delayed::{delayed, Delayed, Input, IntoArgs, IntoInput};
pub use crate::persist::Persist;

/// The client `distributed` computes use: the newest one made.
static ACTIVE: Mutex<Option<rask_sched_net::Client>> = Mutex::new(None);

/// A connection to a cluster; clones share it. The cluster of
/// [`Client::local`] stops when the last clone, and the active-client
/// slot, let go of it (see [`Client::close`]).
#[derive(Debug, Clone)]
pub struct Client {
    raw: rask_sched_net::Client,
}

/// A result on the cluster, of type `T`.
#[derive(Debug)]
pub struct Future<T> {
    raw: RawFuture,
    _type: PhantomData<fn() -> T>,
}

fn output<T: Any + Send + Sync + Clone>(value: rask_core::Value) -> Result<T, Error> {
    value.take_output("future")
}

impl<T> Future<T> {
    fn new(raw: RawFuture) -> Self {
        Future {
            raw,
            _type: PhantomData,
        }
    }

    /// True once the task finished, failed or was cancelled.
    pub fn done(&self) -> bool {
        self.raw.status() != FutureStatus::Pending
    }

    /// Where it stands: pending, finished, error, cancelled or lost.
    pub fn status(&self) -> FutureStatus {
        self.raw.status()
    }

    /// Stops it if it has not finished (with the other outputs of its
    /// job: every future of one `map`).
    pub fn cancel(&self) {
        self.raw.cancel()
    }

    /// Runs `f` with this future once it is done (on the client's IO
    /// thread, so `f` must be quick), or at once if it is.
    pub fn add_done_callback(&self, f: impl FnOnce(&Future<T>) + Send + 'static)
    where
        T: 'static,
    {
        let me = self.clone();
        self.raw.on_done(move || f(&me));
    }

    /// Waits until the task has finished; its error if it failed.
    pub fn wait(&self) -> Result<(), Error> {
        self.raw.wait()
    }

    /// The error the task failed with, once it has failed.
    pub fn exception(&self) -> Option<Error> {
        self.raw.error()
    }

    /// The untyped future.
    pub fn raw(&self) -> &RawFuture {
        &self.raw
    }

    /// True if both stand for the same output of the same submission (as
    /// two equal pure submissions do).
    pub fn same_as(&self, other: &Future<T>) -> bool {
        self.raw == other.raw
    }
}

impl<T> Clone for Future<T> {
    fn clone(&self) -> Self {
        Future::new(self.raw.clone())
    }
}

impl<T: Any + Send + Sync + Clone> Future<T> {
    /// Waits for the value.
    pub fn result(&self) -> Result<T, Error> {
        output(self.raw.result(None)?)
    }

    /// Waits for the value at most `timeout`.
    pub fn result_timeout(&self, timeout: std::time::Duration) -> Result<T, Error> {
        output(self.raw.result(Some(timeout))?)
    }
}

/// `future.await` gives the value: the client's IO thread wakes the task
/// when it arrives; nothing blocks.
impl<T: Any + Send + Sync + Clone> std::future::IntoFuture for Future<T> {
    type Output = Result<T, Error>;
    type IntoFuture = Awaiting<T>;

    fn into_future(self) -> Awaiting<T> {
        Awaiting {
            future: self,
            slot: Arc::new(Mutex::new(Slot::Unasked)),
        }
    }
}

/// The `std::future::Future` of a [`Future`]'s value.
#[derive(Debug)]
pub struct Awaiting<T> {
    future: Future<T>,
    slot: Arc<Mutex<Slot>>,
}

#[derive(Debug)]
enum Slot {
    Unasked,
    Waiting(std::task::Waker),
    Ready(Result<rask_core::Value, Error>),
    Taken,
}

impl<T: Any + Send + Sync + Clone> std::future::Future for Awaiting<T> {
    type Output = Result<T, Error>;

    fn poll(
        self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<Self::Output> {
        let mut slot = self.slot.lock().ignore_poison();
        match std::mem::replace(&mut *slot, Slot::Taken) {
            Slot::Ready(v) => std::task::Poll::Ready(v.and_then(output)),
            Slot::Taken => std::task::Poll::Ready(Err(Error::Backend {
                backend: "distributed",
                message: "polled after it completed".into(),
            })),
            Slot::Waiting(_) => {
                *slot = Slot::Waiting(cx.waker().clone());
                std::task::Poll::Pending
            }
            Slot::Unasked => {
                *slot = Slot::Waiting(cx.waker().clone());
                drop(slot);
                let shared = self.slot.clone();
                self.future.raw.result_then(move |v| {
                    let mut slot = shared.lock().ignore_poison();
                    if let Slot::Waiting(waker) = std::mem::replace(&mut *slot, Slot::Ready(v)) {
                        waker.wake();
                    }
                });
                std::task::Poll::Pending
            }
        }
    }
}

/// Which futures [`Client::wait`] waits for.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ReturnWhen {
    /// Every one is done.
    AllCompleted,
    /// At least one is done.
    FirstCompleted,
}

/// A future as an argument of a delayed call or a `submit`: on its own
/// client the task reads the result where it lives; elsewhere the value
/// is fetched first.
impl<T> IntoInput<T> for &Future<T> {
    fn into_input(self) -> Input {
        Input::future(self.raw.clone())
    }
}

impl<T> IntoInput<T> for Future<T> {
    fn into_input(self) -> Input {
        Input::future(self.raw)
    }
}

/// A list of futures as one `Vec` argument, as Dask's `submit(sum, futures)`.
impl<T> IntoInput<Vec<T>> for &[Future<T>]
where
    T: Clone + Serialize + DeserializeOwned + Any + Send + Sync,
{
    fn into_input(self) -> Input {
        let gather = crate::delayed_many(list::<T>);
        gather.call(self.iter()).into_input()
    }
}

impl<T> IntoInput<Vec<T>> for &Vec<Future<T>>
where
    T: Clone + Serialize + DeserializeOwned + Any + Send + Sync,
{
    fn into_input(self) -> Input {
        self.as_slice().into_input()
    }
}

/// The op gathering a list of futures into one `Vec`.
fn list<T: Clone + Any>(xs: rask_core::Inputs<'_, T>) -> Vec<T> {
    xs.cloned().collect()
}

impl Client {
    fn activate(raw: rask_sched_net::Client) -> Client {
        *ACTIVE.lock().ignore_poison() = Some(raw.clone());
        Client { raw }
    }

    /// A cluster on this machine with one single-threaded worker process
    /// per core.
    pub fn local() -> Result<Client, Error> {
        rask_sched_net::Client::local(LocalOptions::default()).map(Client::activate)
    }

    /// A cluster on this machine, shaped by `options`.
    pub fn local_with(options: LocalOptions) -> Result<Client, Error> {
        rask_sched_net::Client::local(options).map(Client::activate)
    }

    /// Joins the scheduler at `addr` (`host:port`).
    pub fn connect(addr: &str) -> Result<Client, Error> {
        rask_sched_net::Client::connect(addr, ClientOptions::default()).map(Client::activate)
    }

    /// Joins with options (a token).
    pub fn connect_with(addr: &str, options: ClientOptions) -> Result<Client, Error> {
        rask_sched_net::Client::connect(addr, options).map(Client::activate)
    }

    /// The lower-level client: jobs, raw futures, the local cluster.
    pub fn raw(&self) -> &rask_sched_net::Client {
        &self.raw
    }

    /// Workers now: (id, address).
    pub fn workers(&self) -> Vec<(u32, String)> {
        let workers = self.raw.workers().into_iter();
        workers.map(|(id, addr)| (id.get(), addr)).collect()
    }

    /// The local cluster this client started, if any.
    pub fn cluster(&self) -> Option<&rask_sched_net::LocalCluster> {
        self.raw.cluster()
    }

    /// The dashboard's page (`http://127.0.0.1:8787/`), if the cluster
    /// serves one: a local cluster's, or the address a scheduler reported
    /// when this client connected.
    pub fn dashboard_link(&self) -> Option<String> {
        self.raw.dashboard_link()
    }

    /// Lets `future`'s submission run to its end even when every handle
    /// to it is dropped and this client disconnects (Dask's
    /// `fire_and_forget`); its results are released once it has finished.
    pub fn fire_and_forget<T>(&self, future: &Future<T>) {
        future.raw.fire_and_forget();
    }

    /// The named queue `name` on the cluster (made by its first use).
    pub fn queue(&self, name: &str) -> Queue {
        Queue {
            client: self.clone(),
            name: name.to_owned(),
        }
    }

    /// Stops being the active client (a local cluster then stops when this
    /// value and its clones are dropped).
    pub fn close(self) {
        let mut active = ACTIVE.lock().ignore_poison();
        if active.as_ref().is_some_and(|a| *a == self.raw) {
            *active = None;
        }
    }

    /// Runs `f(args)` on the cluster; `args` as for [`delayed`] calls.
    /// Pure: submitting the same function on the same arguments again,
    /// while a future of the first lives, returns the same future.
    pub fn submit<M, F, A>(&self, f: F, args: A) -> Result<Future<F::Output>, Error>
    where
        F: IntoOp<M>,
        F::Output: Serialize + DeserializeOwned,
        A: IntoArgs<M>,
    {
        self.submit_with(f, args, &SubmitOptions::default())
    }

    /// [`submit`](Self::submit) with options (purity, priority, retries,
    /// workers, resources).
    pub fn submit_with<M, F, A>(
        &self,
        f: F,
        args: A,
        options: &SubmitOptions,
    ) -> Result<Future<F::Output>, Error>
    where
        F: IntoOp<M>,
        F::Output: Serialize + DeserializeOwned,
        A: IntoArgs<M>,
    {
        self.persist_many_with(&[delayed(f).call(args)], options)?
            .pop()
            .ok_or_else(no_future)
    }

    /// Runs `f(item)` for each item, as one job (pure, as
    /// [`submit`](Self::submit)).
    pub fn map<T, R, F, I>(&self, f: F, items: I) -> Result<Vec<Future<R>>, Error>
    where
        F: Fn(&T) -> R + Send + Sync + 'static,
        R: Serialize + DeserializeOwned + Any + Send + Sync,
        T: Serialize + DeserializeOwned + Any + Send + Sync,
        I: IntoIterator<Item = T>,
    {
        self.map_with(f, items, &SubmitOptions::default())
    }

    /// [`map`](Self::map) with options, which hold for every item's task.
    pub fn map_with<T, R, F, I>(
        &self,
        f: F,
        items: I,
        options: &SubmitOptions,
    ) -> Result<Vec<Future<R>>, Error>
    where
        F: Fn(&T) -> R + Send + Sync + 'static,
        R: Serialize + DeserializeOwned + Any + Send + Sync,
        T: Serialize + DeserializeOwned + Any + Send + Sync,
        I: IntoIterator<Item = T>,
    {
        let f = delayed(f);
        let calls: Vec<Delayed<R>> = items.into_iter().map(|x| f.call((x,))).collect();
        self.persist_many_with(&calls, options)
    }

    /// Starts computing `value` on the cluster and returns at once; the
    /// result stays there. A delayed value gives a [`Future`]; a collection
    /// (an array, a bag) gives the same collection over chunks held on the
    /// cluster, from which later graphs start, released once it, its clones
    /// and whatever was built from it are dropped.
    pub fn persist<P: Persist + ?Sized>(&self, value: &P) -> Result<P::Persisted, Error> {
        value.persist_on(self)
    }

    /// Starts computing delayed values as one job; futures used as inputs
    /// are read where they live on the cluster.
    pub fn persist_many<T: Any + Send + Sync>(
        &self,
        values: &[Delayed<T>],
    ) -> Result<Vec<Future<T>>, Error> {
        self.persist_many_with(values, &SubmitOptions::default().pure(false))
    }

    /// [`persist_many`](Self::persist_many) with options.
    pub fn persist_many_with<T: Any + Send + Sync>(
        &self,
        values: &[Delayed<T>],
        options: &SubmitOptions,
    ) -> Result<Vec<Future<T>>, Error> {
        let (job, outputs, externals) = crate::delayed::to_job_many(values);
        let externals: Vec<(rask_core::TaskId, &RawFuture)> =
            externals.iter().map(|(t, f)| (*t, f)).collect();
        Ok(self
            .raw
            .submit_job(&job, &outputs, &externals, options)?
            .into_iter()
            .map(Future::new)
            .collect())
    }

    /// Names `futures` on the cluster as dataset `name` once they have
    /// finished: they stay there, readable by any client, after this one
    /// has gone, until unpublished. A taken name is an error naming it.
    pub fn publish_dataset<T>(&self, name: &str, futures: &[Future<T>]) -> Result<(), Error> {
        let raw: Vec<RawFuture> = futures.iter().map(|f| f.raw.clone()).collect();
        self.raw.publish(name, &raw, false)
    }

    /// [`publish_dataset`](Self::publish_dataset), replacing a dataset of
    /// the same name.
    pub fn republish_dataset<T>(&self, name: &str, futures: &[Future<T>]) -> Result<(), Error> {
        let raw: Vec<RawFuture> = futures.iter().map(|f| f.raw.clone()).collect();
        self.raw.publish(name, &raw, true)
    }

    /// Puts `value` on the cluster and publishes it as dataset `name`.
    pub fn publish_value<T>(&self, name: &str, value: T) -> Result<Future<T>, Error>
    where
        T: Clone + Serialize + DeserializeOwned + Any + Send + Sync,
    {
        let future = self.persist(&Delayed::value(value))?;
        self.publish_dataset(name, std::slice::from_ref(&future))?;
        Ok(future)
    }

    /// The names of the published datasets, sorted.
    pub fn list_datasets(&self) -> Result<Vec<String>, Error> {
        self.raw.list_datasets()
    }

    /// The futures of dataset `name`, of type `T`; a missing name, or
    /// results of another type, is an error naming it.
    pub fn get_dataset<T>(&self, name: &str) -> Result<Vec<Future<T>>, Error>
    where
        T: Serialize + DeserializeOwned + Any + Send + Sync,
    {
        Ok(self
            .raw
            .get_dataset(name, rask_core::Codec::of::<T>())?
            .into_iter()
            .map(Future::new)
            .collect())
    }

    /// Forgets dataset `name`; its results go once no future holds them.
    pub fn unpublish_dataset(&self, name: &str) -> Result<(), Error> {
        self.raw.unpublish(name)
    }

    /// `f` over `items` as a stream: at most `max_in_flight` tasks on the
    /// cluster at once, the input pulled only as results come back, and
    /// results yielded in the order they finish.
    pub fn map_stream<T, R, F, I>(
        &self,
        f: F,
        items: I,
        max_in_flight: usize,
    ) -> MapStream<T, R, F, I::IntoIter>
    where
        F: Fn(&T) -> R + Clone + Send + Sync + 'static,
        R: Clone + Serialize + DeserializeOwned + Any + Send + Sync,
        T: Serialize + DeserializeOwned + Any + Send + Sync,
        I: IntoIterator<Item = T>,
    {
        MapStream {
            client: self.clone(),
            f,
            items: items.into_iter(),
            max_in_flight: max_in_flight.max(1),
            in_flight: self.as_completed(std::iter::empty()),
            _types: PhantomData,
        }
    }

    /// Waits until `futures` are done (all, or the first), or `timeout`
    /// passes; returns the indices of those done and of those not.
    pub fn wait<T>(
        &self,
        futures: &[Future<T>],
        when: ReturnWhen,
        timeout: Option<std::time::Duration>,
    ) -> (Vec<usize>, Vec<usize>) {
        let (tx, rx) = std::sync::mpsc::channel();
        for f in futures {
            let tx = tx.clone();
            f.raw.on_done(move || {
                let _ = tx.send(());
            });
        }
        drop(tx);
        let need = match when {
            ReturnWhen::AllCompleted => futures.len(),
            ReturnWhen::FirstCompleted => futures.len().min(1),
        };
        let deadline = timeout.map(|t| std::time::Instant::now() + t);
        for _ in 0..need {
            let got = match deadline {
                Some(d) => rx
                    .recv_timeout(d.saturating_duration_since(std::time::Instant::now()))
                    .is_ok(),
                None => rx.recv().is_ok(),
            };
            if !got {
                break;
            }
        }
        (0..futures.len()).partition(|&i| futures[i].done())
    }

    /// Yields `futures` as they finish, with their values; more can be
    /// added while iterating ([`AsCompleted::add`]).
    pub fn as_completed<T>(&self, futures: impl IntoIterator<Item = Future<T>>) -> AsCompleted<T>
    where
        T: Any + Send + Sync + Clone,
    {
        let (done, finished) = std::sync::mpsc::channel();
        let mut it = AsCompleted {
            waiting: std::collections::HashMap::new(),
            next: 0,
            done,
            finished,
        };
        for f in futures {
            it.add(f);
        }
        it
    }

    /// Cancels every future not yet finished.
    pub fn cancel<T>(&self, futures: &[Future<T>]) {
        futures.iter().for_each(Future::cancel);
    }

    /// Puts `values` on the cluster, one future each.
    pub fn scatter<T>(&self, values: impl IntoIterator<Item = T>) -> Result<Vec<Future<T>>, Error>
    where
        T: Clone + Serialize + DeserializeOwned + Any + Send + Sync,
    {
        let values: Vec<Delayed<T>> = values.into_iter().map(Delayed::value).collect();
        self.persist_many(&values)
    }

    /// [`scatter`](Self::scatter) with a copy of every value on every
    /// worker (Dask's `scatter(broadcast=True)`): for data that every task
    /// reads, such as a lookup table, which then never crosses the network
    /// again and outlives any one worker.
    pub fn scatter_broadcast<T>(
        &self,
        values: impl IntoIterator<Item = T>,
    ) -> Result<Vec<Future<T>>, Error>
    where
        T: Clone + Serialize + DeserializeOwned + Any + Send + Sync,
    {
        let futures = self.scatter(values)?;
        self.replicate(&futures, None)?;
        Ok(futures)
    }

    /// Copies the results of `futures` to more workers until each is on
    /// `n` of them (`None`: every worker), waiting for the copies (up to a
    /// minute). Tasks placed where a copy is read it without a fetch.
    pub fn replicate<T>(&self, futures: &[Future<T>], n: Option<usize>) -> Result<(), Error> {
        let raw: Vec<RawFuture> = futures.iter().map(|f| f.raw.clone()).collect();
        self.raw
            .replicate(&raw, n, std::time::Duration::from_secs(60))
    }

    /// The ids of the workers holding each future's result (empty while
    /// it is not finished, or once it is lost).
    pub fn who_has<T>(&self, futures: &[Future<T>]) -> Result<Vec<Vec<u32>>, Error> {
        let keys: Vec<_> = futures.iter().map(|f| f.raw.key()).collect();
        let holders = self.raw.who_has(&keys)?;
        Ok(holders
            .into_iter()
            .map(|h| h.into_iter().map(|w| w.get()).collect())
            .collect())
    }

    /// Puts the values of a map on the cluster: the same keys, each with
    /// the future of its value (Dask's `scatter` of a dict).
    pub fn scatter_map<K, T>(
        &self,
        values: impl IntoIterator<Item = (K, T)>,
    ) -> Result<std::collections::HashMap<K, Future<T>>, Error>
    where
        K: Eq + std::hash::Hash,
        T: Clone + Serialize + DeserializeOwned + Any + Send + Sync,
    {
        let (keys, values): (Vec<K>, Vec<T>) = values.into_iter().unzip();
        Ok(keys.into_iter().zip(self.scatter(values)?).collect())
    }

    /// The values of the futures that finished, skipping those that
    /// failed (Dask's `gather(errors="skip")`); each value with its index.
    pub fn gather_skipping_errors<T: Any + Send + Sync + Clone>(
        &self,
        futures: &[Future<T>],
    ) -> Vec<(usize, T)> {
        futures
            .iter()
            .enumerate()
            .filter_map(|(i, f)| f.result().ok().map(|v| (i, v)))
            .collect()
    }

    /// The values of `futures`, fetched together.
    pub fn gather<T: Any + Send + Sync + Clone>(
        &self,
        futures: &[Future<T>],
    ) -> Result<Vec<T>, Error> {
        let raw: Vec<RawFuture> = futures.iter().map(|f| f.raw.clone()).collect();
        self.raw.gather(&raw)?.into_iter().map(output).collect()
    }

    /// Computes a delayed value on this cluster.
    pub fn compute<T: Any + Send + Sync + Clone>(&self, value: &Delayed<T>) -> Result<T, Error> {
        self.persist(value)?.result()
    }
}

pub(crate) fn no_future() -> Error {
    Error::Backend {
        backend: "distributed",
        message: "no future".into(),
    }
}

/// The client is a scheduler: `array.compute_with(&client)`. Chunks of
/// collections persisted on its cluster are read where they live.
impl Scheduler for Client {
    fn name(&self) -> &'static str {
        self.raw.name()
    }

    fn run(
        &self,
        job: &Arc<rask_core::Job>,
        outputs: &[rask_core::TaskId],
        events: &dyn rask_core::Events,
    ) -> Result<Vec<rask_core::Value>, Error> {
        self.raw.run(job, outputs, events)
    }
}

/// A named queue on the cluster, first in first out, shared by every
/// client that names it: it carries futures (their results stay on the
/// cluster while queued, after the putting client has gone) or small
/// values (up to 1 MiB encoded).
#[derive(Debug, Clone)]
pub struct Queue {
    client: Client,
    name: String,
}

/// What [`Queue::get`] took: a future or a value, as it was put.
#[derive(Debug)]
pub enum QueueItem<T> {
    /// A future put with [`Queue::put_future`].
    Future(Future<T>),
    /// A value put with [`Queue::put`].
    Value(T),
}

impl<T: Any + Send + Sync + Clone> QueueItem<T> {
    /// The value: a future's result (waiting for it), or the value itself.
    pub fn value(self) -> Result<T, Error> {
        match self {
            QueueItem::Future(f) => f.result(),
            QueueItem::Value(v) => Ok(v),
        }
    }
}

impl Queue {
    /// The queue's name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// Appends `future` once it has finished (a failed one is the error).
    pub fn put_future<T>(&self, future: &Future<T>) -> Result<(), Error> {
        let item = rask_sched_net::QueueItem::Future(future.raw.clone());
        self.client
            .raw
            .queue_put(&self.name, item, future.raw.codec())
    }

    /// Appends a small value (at most 1 MiB encoded).
    pub fn put<T>(&self, value: T) -> Result<(), Error>
    where
        T: Serialize + DeserializeOwned + Any + Send + Sync,
    {
        let item = rask_sched_net::QueueItem::Value(rask_core::Value::new(value));
        let codec = rask_core::Codec::of::<T>();
        self.client.raw.queue_put(&self.name, item, codec)
    }

    /// Takes the oldest item, waiting up to `timeout` for one; `None` if
    /// none came. An item of another type than `T` is an error naming
    /// both, and stays queued.
    pub fn get<T>(&self, timeout: std::time::Duration) -> Result<Option<QueueItem<T>>, Error>
    where
        T: Clone + Serialize + DeserializeOwned + Any + Send + Sync,
    {
        let codec = rask_core::Codec::of::<T>();
        Ok(
            match self.client.raw.queue_get(&self.name, codec, timeout)? {
                None => None,
                Some(rask_sched_net::QueueItem::Future(f)) => {
                    Some(QueueItem::Future(Future::new(f)))
                }
                Some(rask_sched_net::QueueItem::Value(v)) => Some(QueueItem::Value(output(v)?)),
            },
        )
    }

    /// How many items wait.
    pub fn qsize(&self) -> Result<u64, Error> {
        self.client.raw.queue_size(&self.name)
    }
}

/// The active client, as a scheduler.
pub(crate) fn active() -> Result<Arc<dyn Scheduler>, Error> {
    match &*ACTIVE.lock().ignore_poison() {
        Some(client) => Ok(Arc::new(client.clone())),
        None => Err(Error::Backend {
            backend: "distributed",
            message:
                "no client is active: create one with `Client::local()` or `Client::connect(addr)`"
                    .into(),
        }),
    }
}

/// The iterator of [`Client::map_stream`]: results in completion order.
pub struct MapStream<T, R, F, I> {
    client: Client,
    f: F,
    items: I,
    max_in_flight: usize,
    /// The tasks submitted and not yielded, in the order they settle.
    in_flight: AsCompleted<R>,
    _types: PhantomData<fn(T)>,
}

impl<T, R, F, I> std::fmt::Debug for MapStream<T, R, F, I> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MapStream")
            .field("in_flight", &self.in_flight.len())
            .field("max_in_flight", &self.max_in_flight)
            .finish()
    }
}

impl<T, R, F, I> MapStream<T, R, F, I> {
    /// Tasks submitted whose results have not been yielded.
    pub fn in_flight(&self) -> usize {
        self.in_flight.len()
    }
}

impl<T, R, F, I> Iterator for MapStream<T, R, F, I>
where
    F: Fn(&T) -> R + Clone + Send + Sync + 'static,
    R: Clone + Serialize + DeserializeOwned + Any + Send + Sync,
    T: Serialize + DeserializeOwned + Any + Send + Sync,
    I: Iterator<Item = T>,
{
    type Item = Result<R, Error>;

    fn next(&mut self) -> Option<Self::Item> {
        while self.in_flight.len() < self.max_in_flight {
            let Some(item) = self.items.next() else { break };
            match self.client.submit(self.f.clone(), (item,)) {
                Ok(future) => self.in_flight.add(future),
                Err(e) => return Some(Err(e)),
            }
        }
        self.in_flight.next().map(|(_, value)| value)
    }
}

/// The iterator of [`Client::as_completed`]: each future, with its value
/// or error, in the order they finish.
#[derive(Debug)]
pub struct AsCompleted<T> {
    waiting: std::collections::HashMap<u64, Future<T>>,
    next: u64,
    done: std::sync::mpsc::Sender<u64>,
    finished: std::sync::mpsc::Receiver<u64>,
}

impl<T: Any + Send + Sync + Clone> AsCompleted<T> {
    /// Adds a future to wait for.
    pub fn add(&mut self, future: Future<T>) {
        let (n, done) = (self.next, self.done.clone());
        self.next += 1;
        future.raw.on_done(move || {
            let _ = done.send(n);
        });
        self.waiting.insert(n, future);
    }
}

impl<T> AsCompleted<T> {
    /// Futures not yielded yet.
    pub fn len(&self) -> usize {
        self.waiting.len()
    }

    /// True when every future has been yielded.
    pub fn is_empty(&self) -> bool {
        self.waiting.is_empty()
    }
}

impl<T: Any + Send + Sync + Clone> Iterator for AsCompleted<T> {
    type Item = (Future<T>, Result<T, Error>);

    fn next(&mut self) -> Option<Self::Item> {
        if self.waiting.is_empty() {
            return None;
        }
        let future = self
            .finished
            .recv()
            .ok()
            .and_then(|n| self.waiting.remove(&n))?;
        let value = future.result();
        Some((future, value))
    }
}
