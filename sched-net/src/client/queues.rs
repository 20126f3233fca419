//! Queues on the scheduler: futures and values passed between clients.

use std::sync::mpsc::channel;
use std::time::Duration;

use rask_core::{Codec, Error, Value};

use super::commands::Cmd;
use super::errors::{self, net_error};
use super::future::RawFuture;
use super::Client;
use crate::protocol::{Answer, DataKey, Queued};

/// An item taken from a queue.
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

    /// Appends `future` to queue `name` once it has finished (a failed one
    /// is the error); its result stays on the cluster while queued, even
    /// after this client has gone.
    pub fn queue_put_future(&self, name: &str, future: &RawFuture) -> Result<(), Error> {
        future.wait()?;
        let cmd = QueueCmd::PutKey(future.key(), future.codec().type_name().to_owned());
        self.ask_queue(name, cmd).map(drop)
    }

    /// Appends an encoded value of type `type_name` to queue `name`.
    pub fn queue_put_value(
        &self,
        name: &str,
        bytes: Vec<u8>,
        type_name: &str,
    ) -> Result<(), Error> {
        self.ask_queue(name, QueueCmd::PutValue(bytes, type_name.to_owned()))
            .map(drop)
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
