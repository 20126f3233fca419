//! Named datasets (Dask's `publish_dataset`): a name for a list of
//! finished results, which it keeps on the cluster until unpublished,
//! whoever published it; and the other questions a client asks about
//! results (their copies, their holders).

use rask_core::TaskId;

use super::{Cluster, Sink};
use crate::protocol::{Answer, AskOp, DataKey};

impl Cluster {
    /// Answers a client's question about datasets or copies of results.
    pub fn ask(&mut self, op: AskOp, sink: &mut impl Sink) -> Answer {
        self.dirty = true;
        match op {
            AskOp::Publish {
                name,
                keys,
                replace,
            } => self.publish(name, keys, replace, sink),
            AskOp::Unpublish { name } => match self.datasets.remove(&name) {
                Some(keys) => {
                    self.unpin_dataset(&keys, sink);
                    Answer::Done
                }
                None => Answer::Error(format!("no dataset named `{name}`")),
            },
            AskOp::List => Answer::Names(self.datasets.keys().cloned().collect()),
            AskOp::Get { name } => match self.datasets.get(&name) {
                Some(keys) => Answer::Keys(keys.clone()),
                None => Answer::Error(format!("no dataset named `{name}`")),
            },
            AskOp::Replicate { keys, n } => self.replicate(&keys, n, sink),
            AskOp::WhoHas { keys } => self.who_has(&keys),
        }
    }

    fn publish(
        &mut self,
        name: String,
        keys: Vec<(DataKey, String)>,
        replace: bool,
        sink: &mut impl Sink,
    ) -> Answer {
        if self.datasets.contains_key(&name) && !replace {
            return Answer::Error(format!(
                "a dataset named `{name}` already exists (publish with replace to overwrite it)"
            ));
        }
        let gone = keys.iter().find(|(k, _)| {
            !self
                .jobs
                .get(&k.job)
                .is_some_and(|j| j.outputs.contains(&TaskId(k.task)))
        });
        if let Some((k, _)) = gone {
            return Answer::Error(format!(
                "cannot publish `{name}`: result {}/{} is not on the cluster",
                k.job, k.task
            ));
        }
        for (k, _) in &keys {
            self.pin_key(*k);
        }
        if let Some(old) = self.datasets.insert(name, keys) {
            self.unpin_dataset(&old, sink);
        }
        Answer::Done
    }

    /// A dataset lets go of its results.
    fn unpin_dataset(&mut self, keys: &[(DataKey, String)], sink: &mut impl Sink) {
        for (k, _) in keys {
            self.unpin_key(*k, sink);
        }
    }
}
