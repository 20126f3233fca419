//! Pure submissions are deduplicated on their encoded spec: an equal
//! spec whose futures all live gets those futures back.

use std::collections::HashMap;
use std::sync::{Arc, Weak};

use rask_core::{Codec, Error, IgnorePoison, TaskId};

use super::future::{JobHandle, OutputHold, RawFuture, Status};
use super::submission::Encoded;
use super::Client;
use crate::protocol::DataKey;

/// Pure submissions by a hash of their spec.
pub(super) type PureJobs = HashMap<u64, Vec<PureJob>>;

/// A pure submission, found again by its spec while its futures live.
pub(super) struct PureJob {
    spec: Arc<[u8]>,
    handle: Weak<JobHandle>,
    outputs: Vec<(Weak<OutputHold>, TaskId, DataKey, Codec)>,
}

impl PureJob {
    /// Its futures again, if every one still lives and the job was not
    /// cancelled or lost.
    fn futures(&self) -> Option<Vec<RawFuture>> {
        let handle = self.handle.upgrade()?;
        if matches!(handle.status(), Status::Cancelled | Status::Lost(_)) {
            return None;
        }
        self.outputs
            .iter()
            .map(|(hold, task, key, codec)| {
                Some(RawFuture {
                    handle: handle.clone(),
                    task: *task,
                    key: *key,
                    codec: *codec,
                    hold: hold.upgrade()?,
                })
            })
            .collect()
    }
}

impl Client {
    /// Submits pure `encoded` unless an equal spec's futures all live,
    /// which it returns instead; either way the job is then findable.
    pub(super) fn submit_pure(&self, encoded: Encoded) -> Result<Vec<RawFuture>, Error> {
        use std::hash::{Hash, Hasher};
        let mut hasher = std::collections::hash_map::DefaultHasher::new();
        encoded.spec.hash(&mut hasher);
        let hash = hasher.finish();
        let mut pure = self.inner.pure.lock().ignore_poison();
        if let Some(same) = pure
            .get(&hash)
            .into_iter()
            .flatten()
            .filter(|p| *p.spec == *encoded.spec)
            .find_map(PureJob::futures)
        {
            return Ok(same);
        }
        let spec: Arc<[u8]> = encoded.spec.as_slice().into();
        let futures = self.submit_spec(encoded)?;
        let entry = PureJob {
            spec,
            handle: futures
                .first()
                .map_or_else(Weak::new, |f| Arc::downgrade(&f.handle)),
            outputs: futures
                .iter()
                .map(|f| (Arc::downgrade(&f.hold), f.task, f.key, f.codec))
                .collect(),
        };
        let bucket = pure.entry(hash).or_default();
        bucket.retain(|p| p.handle.strong_count() > 0);
        bucket.push(entry);
        // Now and then, forget submissions whose futures have all gone.
        if pure.len().is_multiple_of(256) {
            pure.retain(|_, b| {
                b.retain(|p| p.handle.strong_count() > 0);
                !b.is_empty()
            });
        }
        Ok(futures)
    }
}
