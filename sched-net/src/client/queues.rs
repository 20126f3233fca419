//! Queues on the scheduler: futures and values passed between clients.

use std::sync::mpsc::channel;
use std::time::Duration;

use rask_core::{Codec, Error, Value};

use super::commands::Cmd;
use super::errors::{self, net_error};
use super::future::RawFuture;
use super::Client;
use crate::protocol::{Answer, DataKey, Queued};

/// An item of a queue: what [`Client::queue_put`] appends and
/// [`Client::queue_get`] takes.
#[derive(Debug)]
pub enum QueueItem {
    /// A result on the cluster.
    Future(RawFuture),
    /// A value put on the queue.
    Value(Value),
}

/// A queue request, owned until the IO thread sends it.
#[derive(Debug)]
pub(super) enum QueueCmd {
    PutKey(DataKey, String),
    PutValue(Vec<u8>, String),
    Get(String, u64),
    Size,
}

impl Client {
    fn ask_queue(&self, name: &str, cmd: QueueCmd) -> Result<Answer, Error> {
        let (tx, rx) = channel();
        self.inner.send(Cmd::Queue(name.to_owned(), cmd, tx));
        match rx.recv() {
            Ok(Answer::Error(message)) => Err(net_error(message)),
            Ok(reply) => Ok(reply),
            Err(_) => Err(errors::disconnected()),
        }
    }

    /// Appends `item` to queue `name` as an item of `codec`'s type: a
    /// value, encoded here with `codec`, or a future once it has finished
    /// (a failed one is the error), whose result then stays on the cluster
    /// while queued, even after this client has gone. A future of another
    /// type than `codec`'s is an error naming both.
    pub fn queue_put(&self, name: &str, item: QueueItem, codec: Codec) -> Result<(), Error> {
        let type_name = codec.type_name().to_owned();
        let cmd = match item {
            QueueItem::Future(future) => {
                if future.codec().type_name() != type_name {
                    return Err(net_error(format!(
                        "a future of `{}` cannot go on queue `{name}` as `{type_name}`",
                        future.codec().type_name()
                    )));
                }
                future.wait()?;
                QueueCmd::PutKey(future.key(), type_name)
            }
            QueueItem::Value(value) => {
                let mut bytes = Vec::new();
                codec
                    .encode(&value, &mut bytes)
                    .map_err(|e| net_error(format!("encoding a value for queue `{name}`: {e}")))?;
                QueueCmd::PutValue(bytes, type_name)
            }
        };
        self.ask_queue(name, cmd).map(drop)
    }

    /// Takes the oldest item of queue `name`, waiting up to `timeout` for
    /// one (`None` if none came); decoded with `codec`, and an error
    /// naming both types if the item is of another type (it then stays
    /// queued).
    pub fn queue_get(
        &self,
        name: &str,
        codec: Codec,
        timeout: Duration,
    ) -> Result<Option<QueueItem>, Error> {
        let cmd = QueueCmd::Get(
            codec.type_name().to_owned(),
            u64::try_from(timeout.as_millis()).unwrap_or(u64::MAX),
        );
        match self.ask_queue(name, cmd)? {
            Answer::Empty => Ok(None),
            Answer::Item(Queued::Value(bytes)) => codec
                .decode(&bytes)
                .map(|v| Some(QueueItem::Value(v)))
                .map_err(|e| net_error(format!("decoding an item of queue `{name}`: {e}"))),
            Answer::Item(Queued::Key(key)) => {
                let mut held = self.hold(name, &[key], codec)?;
                held.pop()
                    .map(|f| Some(QueueItem::Future(f)))
                    .ok_or_else(|| net_error("no future"))
            }
            other => Err(net_error(format!("unexpected reply {other:?}"))),
        }
    }

    /// How many items queue `name` holds.
    pub fn queue_size(&self, name: &str) -> Result<u64, Error> {
        match self.ask_queue(name, QueueCmd::Size)? {
            Answer::Size(n) => Ok(n),
            other => Err(net_error(format!("unexpected reply {other:?}"))),
        }
    }
}
