//! Fetching many results in one round, and the client as a [`Scheduler`].

use std::sync::Arc;

use rask_core::{Error, Events as RunEvents, Job, Scheduler, TaskId, Value};

use super::future::{answer, RawFuture};
use super::Client;

impl Client {
    /// Waits for every future and fetches the values in one round.
    pub fn gather(&self, futures: &[RawFuture]) -> Result<Vec<Value>, Error> {
        // Consecutive futures of one job are fetched together; every
        // request is out before the first answer is awaited.
        let mut requests = Vec::new();
        let mut i = 0;
        while i < futures.len() {
            let h = &futures[i].handle;
            let n = futures[i..]
                .iter()
                .take_while(|f| Arc::ptr_eq(&f.handle, h))
                .count();
            requests.push(h.request(&futures[i..i + n]));
            i += n;
        }
        let mut out = Vec::with_capacity(futures.len());
        for rx in requests {
            out.extend(answer(rx)?);
        }
        Ok(out)
    }
}

impl Scheduler for Client {
    fn name(&self) -> &'static str {
        "distributed"
    }

    fn run(
        &self,
        job: &Arc<Job>,
        outputs: &[TaskId],
        events: &dyn RunEvents,
    ) -> Result<Vec<Value>, Error> {
        let info = rask_core::RunInfo {
            tasks: job.len(),
            workers: self.workers().len(),
            job: Some(job.clone()),
        };
        rask_core::report_run(events, info, || {
            let impure = crate::SubmitOptions::default().pure(false);
            let futures = self.submit_job(job, outputs, &[], &impure)?;
            self.gather(&futures)
        })
    }
}
