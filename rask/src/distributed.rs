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

use std::any::Any;
use std::marker::PhantomData;
use std::sync::{Arc, Mutex};

use rask_core::{Error, IntoOp, Scheduler};
use rask_sched_net::RawFuture;
use serde::de::DeserializeOwned;
use serde::Serialize;

pub use rask_sched_net::{ClientOptions, LocalOptions};

use crate::delayed::{delayed, Delayed, IntoArgs};

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
#[derive(Debug, Clone)]
pub struct Future<T> {
    raw: RawFuture,
    _type: PhantomData<fn() -> T>,
}

fn output<T: Any + Send + Sync + Clone>(value: rask_core::Value) -> Result<T, Error> {
    let found = value.type_name();
    value.take::<T>().map_err(|_| Error::OutputType {
        key: "future".into(),
        expected: std::any::type_name::<T>(),
        found,
    })
}

impl<T: Any + Send + Sync + Clone> Future<T> {
    /// Waits for the value.
    pub fn result(&self) -> Result<T, Error> {
        output(self.raw.result()?)
    }

    /// True once the task finished or failed.
    pub fn done(&self) -> bool {
        self.raw.done()
    }
}

impl Client {
    fn activate(raw: rask_sched_net::Client) -> Client {
        *ACTIVE.lock().unwrap_or_else(|e| e.into_inner()) = Some(raw.clone());
        Client { raw }
    }

    /// A cluster on this machine with one single-threaded worker process
    /// per core.
    pub fn local() -> Result<Client, Error> {
        rask_sched_net::Client::local().map(Client::activate)
    }

    /// A cluster on this machine, shaped by `options`.
    pub fn local_with(options: LocalOptions) -> Result<Client, Error> {
        rask_sched_net::Client::local_with(options).map(Client::activate)
    }

    /// Joins the scheduler at `addr` (`host:port`).
    pub fn connect(addr: &str) -> Result<Client, Error> {
        rask_sched_net::Client::connect(addr).map(Client::activate)
    }

    /// Joins with options (a token).
    pub fn connect_with(addr: &str, options: ClientOptions) -> Result<Client, Error> {
        rask_sched_net::Client::connect_with(addr, options).map(Client::activate)
    }

    /// The lower-level client: jobs, raw futures, the local cluster.
    pub fn raw(&self) -> &rask_sched_net::Client {
        &self.raw
    }

    /// Workers now: (id, address).
    pub fn workers(&self) -> Vec<(u32, String)> {
        self.raw.workers()
    }

    /// Stops being the active client (a local cluster then stops when this
    /// value and its clones are dropped).
    pub fn close(self) {
        let mut active = ACTIVE.lock().unwrap_or_else(|e| e.into_inner());
        if active.as_ref().is_some_and(|a| a.same_as(&self.raw)) {
            *active = None;
        }
    }

    /// Runs `f(args)` on the cluster; `args` as for [`delayed`] calls.
    pub fn submit<M, F, A>(&self, f: F, args: A) -> Result<Future<F::Output>, Error>
    where
        F: IntoOp<M>,
        F::Output: Serialize + DeserializeOwned,
        A: IntoArgs<M>,
    {
        self.persist(&delayed(f).call(args))
    }

    /// Runs `f(item)` for each item, as one job.
    pub fn map<T, R, F, I>(&self, f: F, items: I) -> Result<Vec<Future<R>>, Error>
    where
        F: Fn(&T) -> R + Send + Sync + 'static,
        R: Serialize + DeserializeOwned + Any + Send + Sync,
        T: Serialize + DeserializeOwned + Any + Send + Sync,
        I: IntoIterator<Item = T>,
    {
        let f = delayed(f);
        let calls: Vec<Delayed<R>> = items.into_iter().map(|x| f.call((x,))).collect();
        let (job, outputs) = crate::delayed::to_job_many(&calls);
        Ok(self
            .raw
            .submit_job(&job, &outputs, &[])?
            .into_iter()
            .map(|raw| Future {
                raw,
                _type: PhantomData,
            })
            .collect())
    }

    /// Starts computing a delayed value; its result stays on the cluster.
    pub fn persist<T: Any + Send + Sync>(&self, value: &Delayed<T>) -> Result<Future<T>, Error> {
        let (job, out) = value.to_job();
        let raw = self
            .raw
            .submit_job(&job, &[out], &[])?
            .pop()
            .ok_or_else(|| Error::Backend {
                backend: "distributed",
                message: "no future".into(),
            })?;
        Ok(Future {
            raw,
            _type: PhantomData,
        })
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

/// The active client, as a scheduler.
pub(crate) fn active() -> Result<Arc<dyn Scheduler>, Error> {
    match &*ACTIVE.lock().unwrap_or_else(|e| e.into_inner()) {
        Some(client) => Ok(Arc::new(client.clone())),
        None => Err(Error::Backend {
            backend: "distributed",
            message:
                "no client is active: create one with `Client::local()` or `Client::connect(addr)`"
                    .into(),
        }),
    }
}
