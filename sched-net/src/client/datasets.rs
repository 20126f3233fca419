//! Datasets: results named on the cluster, outliving the client that
//! published them; and the scheduler questions they are asked with.

use std::sync::mpsc::channel;

use rask_core::{Codec, Error};

use super::commands::Cmd;
use super::errors::{self, net_error};
use super::future::RawFuture;
use super::Client;
use crate::protocol::{Answer, AskOp, DataKey};

impl Client {
    pub(super) fn ask(&self, op: AskOp) -> Result<Answer, Error> {
        let (tx, rx) = channel();
        self.inner.send(Cmd::Ask(op, tx));
        match rx.recv() {
            Ok(Answer::Error(message)) => Err(net_error(message)),
            Ok(reply) => Ok(reply),
            Err(_) => Err(errors::disconnected()),
        }
    }

    /// Names `futures` on the cluster as dataset `name`, once they have
    /// finished (a failed one is the error): they stay there,
    /// readable by any client, after this one has gone, until
    /// [`unpublish`](Self::unpublish). A taken name is an error unless
    /// `replace`.
    pub fn publish(&self, name: &str, futures: &[RawFuture], replace: bool) -> Result<(), Error> {
        for f in futures {
            f.wait()?;
        }
        let keys = futures
            .iter()
            .map(|f| (f.key(), f.codec().type_name().to_owned()))
            .collect();
        self.ask(AskOp::Publish {
            name: name.to_owned(),
            keys,
            replace,
        })
        .map(drop)
    }

    /// Forgets dataset `name`; an unknown name is an error naming it.
    pub fn unpublish(&self, name: &str) -> Result<(), Error> {
        self.ask(AskOp::Unpublish {
            name: name.to_owned(),
        })
        .map(drop)
    }

    /// The names of the published datasets, sorted.
    pub fn list_datasets(&self) -> Result<Vec<String>, Error> {
        match self.ask(AskOp::List)? {
            Answer::Names(names) => Ok(names),
            other => Err(net_error(format!("unexpected reply {other:?}"))),
        }
    }

    /// Futures of dataset `name`'s results, decoded with `codec`: an
    /// unknown name, or results of another type, is an error naming it.
    pub fn get_dataset(&self, name: &str, codec: Codec) -> Result<Vec<RawFuture>, Error> {
        let keys = match self.ask(AskOp::Get {
            name: name.to_owned(),
        })? {
            Answer::Keys(keys) => keys,
            other => return Err(net_error(format!("unexpected reply {other:?}"))),
        };
        if let Some((_, other)) = keys.iter().find(|(_, t)| t != codec.type_name()) {
            return Err(net_error(format!(
                "dataset `{name}` holds `{other}` values, not `{}`",
                codec.type_name()
            )));
        }
        let keys: Vec<DataKey> = keys.into_iter().map(|(k, _)| k).collect();
        self.hold(name, &keys, codec)
    }
}
