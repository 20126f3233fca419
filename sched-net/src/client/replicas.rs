//! Copies of results on more workers, and who holds each result.

use std::time::{Duration, Instant};

use rask_core::Error;

use super::errors::{self, net_error};
use super::future::RawFuture;
use super::Client;
use crate::protocol::{Answer, AskOp, DataKey, WorkerId};

impl Client {
    /// Copies the results of `futures` (once finished; a failed one is the
    /// error) to more workers, until each is on `n` of them (`None`: on
    /// every worker), and waits up to `timeout` for the copies. A task
    /// placed where a copy is reads it without a fetch, and the result
    /// outlives the worker that made it while a copy lives.
    pub fn replicate(
        &self,
        futures: &[RawFuture],
        n: Option<usize>,
        timeout: Duration,
    ) -> Result<(), Error> {
        for f in futures {
            f.wait()?;
        }
        let keys: Vec<DataKey> = futures.iter().map(RawFuture::key).collect();
        let n = n.map_or(0, |n| n.max(1));
        self.ask(AskOp::Replicate {
            keys: keys.clone(),
            n: n.min(u32::MAX as usize) as u32,
        })?;
        let deadline = Instant::now() + timeout;
        loop {
            let workers = self.workers().len();
            let want = if n == 0 { workers } else { n.min(workers) };
            let holders = self.who_has(&keys)?;
            let short = holders.iter().zip(&keys).find(|(h, _)| h.len() < want);
            let Some((h, key)) = short else {
                return Ok(());
            };
            if Instant::now() >= deadline {
                return Err(errors::timeout(format!(
                    "result {}/{} is on {} of {want} workers after {timeout:?}",
                    key.job,
                    key.task,
                    h.len()
                )));
            }
            std::thread::sleep(Duration::from_millis(2));
        }
    }

    /// The workers holding each result of `keys` (a future's
    /// [`key`](RawFuture::key); none: not finished, or released or lost).
    /// A key outlives its future, so this also tells when a released
    /// result has left the cluster.
    pub fn who_has(&self, keys: &[DataKey]) -> Result<Vec<Vec<WorkerId>>, Error> {
        match self.ask(AskOp::WhoHas {
            keys: keys.to_vec(),
        })? {
            Answer::Holders(h) => Ok(h),
            other => Err(net_error(format!("unexpected reply {other:?}"))),
        }
    }
}
