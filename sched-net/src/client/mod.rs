//! The client: a blocking API over a background IO thread.
//!
//! The IO thread owns the connection to the scheduler and one connection
//! per worker it fetches results from; callers hand it commands through a
//! channel and a mio waker. A job's status lives in a
//! [`JobHandle`](future::JobHandle) shared by the futures of its outputs;
//! when the last future of one output goes, that output is released on
//! the cluster, and when the last of the job goes, the whole job is. Pure
//! submissions (the default) are deduplicated here, on their encoded spec:
//! an equal spec whose futures all live gets those futures back.
//!
//! - [`connect`]: the handshake, the IO thread, a local cluster;
//! - [`submission`], [`pure`]: jobs in, futures out;
//! - [`future`]: what a caller holds, and how it waits;
//! - [`gather`], [`datasets`], [`queues`], [`replicas`]: results out,
//!   named, passed between clients, copied;
//! - [`commands`], [`io`], [`fetch`]: the IO thread's side.

mod commands;
mod connect;
mod datasets;
mod errors;
mod fetch;
mod future;
mod gather;
mod io;
mod pure;
mod queues;
mod replicas;
mod submission;

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use rask_core::{Error, IgnorePoison};

use crate::local::LocalCluster;
use crate::protocol::WorkerId;
use commands::Inner;

pub use connect::ClientOptions;
pub use future::{FutureStatus, RawFuture};
pub use queues::QueueItem;

/// A connection to a cluster. Cloning shares it; the last clone closes it
/// (and stops a local cluster).
#[derive(Debug, Clone)]
pub struct Client {
    inner: Arc<Inner>,
    // Declared after `inner`: a local cluster stops after the client is off.
    local: Option<Arc<LocalCluster>>,
}

/// Clients are equal when they are clones of one connection.
impl PartialEq for Client {
    fn eq(&self, other: &Client) -> bool {
        Arc::ptr_eq(&self.inner, &other.inner)
    }
}

impl Eq for Client {}

impl Client {
    /// Workers now: (id, address).
    pub fn workers(&self) -> Vec<(WorkerId, String)> {
        self.inner.workers.0.lock().ignore_poison().clone()
    }

    /// Waits until at least `n` workers are connected.
    pub fn wait_for_workers(&self, n: usize, timeout: Duration) -> Result<(), Error> {
        let (lock, cond) = &*self.inner.workers;
        let guard = lock.lock().ignore_poison();
        let (guard, _) = cond
            .wait_timeout_while(guard, timeout, |w| w.len() < n)
            .ignore_poison();
        if guard.len() < n {
            return Err(errors::timeout(format!(
                "only {} of {n} workers joined within {timeout:?}",
                guard.len()
            )));
        }
        Ok(())
    }

    /// The local cluster this client started, if any.
    pub fn cluster(&self) -> Option<&LocalCluster> {
        self.local.as_deref()
    }

    /// The dashboard's page (`http://host:port/`), if the scheduler serves
    /// one: a local cluster's, or the one a scheduler named on connecting.
    pub fn dashboard_link(&self) -> Option<String> {
        if let Some(local) = self.cluster() {
            return local.dashboard_link();
        }
        let (lock, cond) = &*self.inner.info;
        let guard = lock.lock().ignore_poison();
        // Sent right after the welcome; waiting covers a first call made
        // before the IO thread has read it.
        let (guard, _) = cond
            .wait_timeout_while(guard, Duration::from_secs(5), |i| i.is_none())
            .ignore_poison();
        let addr = guard.clone().flatten()?;
        let addr: SocketAddr = addr.parse().ok()?;
        // A scheduler listening on every interface is reached where this
        // client reached it.
        if addr.ip().is_unspecified() {
            return None;
        }
        Some(format!("http://{addr}/"))
    }
}
