//! What [`Client::persist`] takes, and what it gives back.
//!
//! A delayed value persists to a [`Future`] of its result. A collection
//! (anything [`Persistable`]: an array, a bag, a data frame) persists to
//! the same kind of collection whose chunks are results held on the
//! cluster: its graphs read them where they live instead of recomputing
//! them, and dropping the persisted collection (with its clones and what
//! was built from it) releases them, as with Dask's
//! `client.persist(collection)`. On other schedulers,
//! [`Persistable::persist_with`] keeps the chunks in this process instead.

use std::any::Any;

use rask_core::{Error, Held, Persistable};

use crate::delayed::Delayed;
use crate::distributed::{Client, Future};

/// A value [`Client::persist`] can start computing on its cluster.
pub trait Persist {
    /// What the caller holds while the result stays on the cluster.
    type Persisted;

    /// Submits the computation to `client`'s cluster and returns at once.
    fn persist_on(&self, client: &Client) -> Result<Self::Persisted, Error>;
}

impl<T: Any + Send + Sync> Persist for Delayed<T> {
    type Persisted = Future<T>;

    fn persist_on(&self, client: &Client) -> Result<Future<T>, Error> {
        client
            .persist_many(std::slice::from_ref(self))?
            .pop()
            .ok_or_else(crate::distributed::no_future)
    }
}

impl<C: Persistable> Persist for C {
    type Persisted = C::Persisted;

    fn persist_on(&self, client: &Client) -> Result<C::Persisted, Error> {
        let (job, outputs) = self.chunks_job()?;
        // Chunks of a collection that was itself built on persisted chunks
        // are read where they live (the client finds them in the job).
        let impure = crate::distributed::SubmitOptions::default().pure(false);
        let futures = client.raw().submit_job(&job, &outputs, &[], &impure)?;
        self.with_held_chunks(futures.into_iter().map(Held::elsewhere).collect())
    }
}
