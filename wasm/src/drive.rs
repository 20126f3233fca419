//! The Web Worker scheduler: the main thread drives the core's [`Hub`]
//! from worker messages and never blocks; the run is one future, awaited
//! by a Promise on the JavaScript side.
//!
//! Placement is the hub's [`Families`] rule: a ready task goes to the
//! worker already holding most of its inputs, a root with its family (the
//! roots whose chains meet at one small join), other roots where the
//! previous root went; dependents whose inputs are all on a worker are sent
//! right behind them, so a worker's queue is primed and it never waits for
//! the main thread between tasks. Inputs held elsewhere are asked for
//! (`Send`) and relayed (`Put`) through the main thread, transferred, not
//! copied between threads; the main thread keeps each relayed value until
//! it is released, so a second worker that needs it gets it at once.

use std::borrow::Cow;
use std::collections::HashMap;

use rask_core::hub::{Families, Hub, HubSink, Workers};
use rask_core::{ExecState, Graph, Job, TaskError, TaskId, Value};
use serde_bytes::ByteBuf;

use crate::error::RunError;
use crate::pool::{Pool, PoolEvent};
use crate::spec::GraphSpec;
use crate::stream::TaskRecord;
use crate::wire::{encode, FromWorker, ToWorker};

/// Runs `spec` on the workers of `pool`; results of `outputs`, in order.
pub async fn run(
    pool: &Pool,
    spec: &GraphSpec,
    outputs: &[u32],
    on_task: &mut dyn FnMut(TaskRecord),
) -> Result<Vec<Value>, RunError> {
    if !pool.claim() {
        return Err(RunError::Browser(
            "this worker pool is already running a graph".into(),
        ));
    }
    let run = pool.next_run();
    let result = drive(pool, run, spec, outputs, on_task).await;
    // Tell every worker to drop the run, whatever happened; a worker that
    // cannot be told has been replaced already.
    if let Ok(end) = encode(&[ToWorker::End { run }]) {
        for w in 0..pool.size() {
            let _ = pool.post(w, &end);
        }
    }
    pool.release();
    result
}

async fn drive(
    pool: &Pool,
    run: u32,
    spec: &GraphSpec,
    outputs: &[u32],
    on_task: &mut dyn FnMut(TaskRecord),
) -> Result<Vec<Value>, RunError> {
    let job = crate::sync::with_registry(|r| spec.build(r)).map_err(RunError::Graph)?;
    let outputs: Vec<TaskId> = outputs.iter().map(|&t| TaskId(t)).collect();
    let plan = job.plan(&outputs)?;
    let state = ExecState::from_plan(job.graph(), plan).map_err(|e| job.graph_error(e))?;
    let load = encode(&[ToWorker::Load {
        run,
        spec: Cow::Borrowed(spec),
    }])
    .map_err(RunError::Browser)?;
    let n = pool.size();
    for w in 0..n {
        pool.post(w, &load)?;
    }
    let mut d = Driver::new(&job, state, run, n);
    while !d.hub.exec().is_finished() {
        d.dispatch();
        d.flush(&mut |w, bytes| pool.post(w, bytes))?;
        if d.hub.in_flight() == 0 {
            return Err(RunError::Browser(format!(
                "the run stalled with {} of {} tasks done",
                d.hub.exec().done(),
                d.hub.exec().plan().needed()
            )));
        }
        match pool.next_event().await {
            PoolEvent::Message { worker, bytes } => {
                let replies: Vec<FromWorker> = postcard::from_bytes(&bytes).map_err(|e| {
                    RunError::Browser(format!("worker {worker} sent a malformed batch: {e}"))
                })?;
                for reply in replies {
                    d.receive(worker, reply, on_task)?;
                }
            }
            PoolEvent::Crash {
                worker,
                message,
                task,
            } => {
                pool.replace(worker)?;
                let key = match task.or_else(|| d.hub.running_on(worker).map(|t| t.0)) {
                    Some(t) => job.key(TaskId(t)).to_string(),
                    None => "(none)".to_owned(),
                };
                return Err(RunError::WorkerCrashed {
                    worker,
                    key,
                    message,
                });
            }
        }
    }
    outputs
        .iter()
        .map(|&t| {
            let bytes = d.outputs.get(&t.0).ok_or_else(|| {
                RunError::Output(format!("output '{}' never arrived", job.key(t)))
            })?;
            let codec = job
                .op(t)
                .and_then(|op| op.codec())
                .ok_or_else(|| RunError::Output(format!("output '{}' has no codec", job.key(t))))?;
            codec
                .decode(bytes)
                .map_err(|e| RunError::Output(format!("output '{}': {}", job.key(t), e.message())))
        })
        .collect()
}

/// Hands worker `w` an encoded batch.
type Post<'a> = dyn FnMut(usize, &[u8]) -> Result<(), RunError> + 'a;

/// The scheduler's state for one run.
struct Driver<'j> {
    job: &'j Job,
    hub: Hub<&'j Graph, Families>,
    run: u32,
    /// Results relayed through the main thread, kept until released.
    relay: HashMap<u32, ByteBuf>,
    /// Messages to send to each worker at the next flush.
    outbox: Vec<Vec<ToWorker<'static>>>,
    outputs: HashMap<u32, ByteBuf>,
}

/// The hub's requests, queued as messages for the next flush.
struct Outbox<'a> {
    outbox: &'a mut [Vec<ToWorker<'static>>],
    relay: &'a mut HashMap<u32, ByteBuf>,
}

impl HubSink for Outbox<'_> {
    fn run(&mut self, worker: usize, task: TaskId, output: bool) {
        self.outbox[worker].push(ToWorker::Run {
            task: task.0,
            output,
        });
    }

    fn get(&mut self, holder: usize, task: TaskId) {
        self.outbox[holder].push(ToWorker::Send { task: task.0 });
    }

    fn put(&mut self, worker: usize, task: TaskId) {
        // The hub puts only what was handed to it, which is kept here.
        if let Some(bytes) = self.relay.get(&task.0) {
            self.outbox[worker].push(ToWorker::Put {
                task: task.0,
                bytes: bytes.clone(),
            });
        }
    }

    fn release(&mut self, task: TaskId, holders: Workers) {
        self.relay.remove(&task.0);
        for w in holders {
            self.outbox[w].push(ToWorker::Release { task: task.0 });
        }
    }
}

impl<'j> Driver<'j> {
    fn new(job: &'j Job, state: ExecState<&'j Graph>, run: u32, workers: usize) -> Driver<'j> {
        Driver {
            job,
            hub: Hub::new(state, workers, Families::default()),
            run,
            relay: HashMap::new(),
            outbox: vec![Vec::new(); workers],
            outputs: HashMap::new(),
        }
    }

    fn sink(&mut self) -> (&mut Hub<&'j Graph, Families>, Outbox<'_>) {
        let sink = Outbox {
            outbox: &mut self.outbox,
            relay: &mut self.relay,
        };
        (&mut self.hub, sink)
    }

    /// Hands ready tasks to workers while any has room.
    fn dispatch(&mut self) {
        let (hub, mut sink) = self.sink();
        hub.dispatch(&mut sink);
    }

    /// Posts each worker's waiting messages as one batch.
    fn flush(&mut self, post: &mut Post<'_>) -> Result<(), RunError> {
        for (w, batch) in self.outbox.iter_mut().enumerate() {
            if !batch.is_empty() {
                post(w, &encode(batch).map_err(RunError::Browser)?)?;
                batch.clear();
            }
        }
        Ok(())
    }

    fn receive(
        &mut self,
        worker: usize,
        reply: FromWorker,
        on_task: &mut dyn FnMut(TaskRecord),
    ) -> Result<(), RunError> {
        match reply {
            FromWorker::Done {
                run,
                task,
                start_ms,
                end_ms,
                value,
            } if run == self.run => {
                on_task(TaskRecord {
                    task,
                    worker: worker as u32,
                    start_ms,
                    end_ms,
                });
                if let Some(v) = value {
                    self.outputs.insert(task, v);
                }
                let (hub, mut sink) = self.sink();
                hub.on_done(worker, TaskId(task), (end_ms - start_ms) * 1e6, &mut sink)
                    .map_err(|e| {
                        RunError::Browser(format!("worker {worker} reported task #{task}: {e}"))
                    })?;
            }
            FromWorker::Data { run, task, bytes } if run == self.run => {
                let len = bytes.len() as u64;
                self.relay.insert(task, bytes);
                let (hub, mut sink) = self.sink();
                hub.on_value(TaskId(task), len, true, &mut sink);
            }
            FromWorker::Failed { run, task, message } if run == self.run => {
                return Err(self
                    .job
                    .task_failed(TaskId(task), TaskError::new(message))
                    .into());
            }
            FromWorker::Refused { run, message } if run == self.run => {
                return Err(RunError::Browser(format!(
                    "worker {worker} refused the run: {message}"
                )));
            }
            // A late reply of an earlier run.
            _ => {}
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    //! The driver against real [`WorkerState`]s, natively: the browser only
    //! carries the bytes, so what crosses between workers is decided here.

    use std::collections::VecDeque;

    use super::*;
    use crate::chunk::Chunk;
    use crate::worker::WorkerState;

    fn clock() -> f64 {
        0.0
    }

    /// Runs `spec` to `out` on `n` simulated workers that answer in turn;
    /// returns the output and the bytes relayed between workers.
    fn simulate(spec: &GraphSpec, out: u32, n: usize) -> (Value, usize) {
        let registry = crate::ops::registry();
        let job = spec.build(&registry).unwrap();
        let plan = job.plan(&[TaskId(out)]).unwrap();
        let state = ExecState::from_plan(job.graph(), plan).unwrap();
        let mut workers: Vec<WorkerState> =
            (0..n).map(|_| WorkerState::new(registry.clone())).collect();
        let load = encode(&[ToWorker::Load {
            run: 1,
            spec: Cow::Borrowed(spec),
        }])
        .unwrap();
        let mut inbox: VecDeque<(usize, Vec<u8>)> = VecDeque::new();
        for (i, w) in workers.iter_mut().enumerate() {
            w.handle(&load, clock, &mut |b| inbox.push_back((i, b)));
        }
        let mut d = Driver::new(&job, state, 1, n);
        let mut relayed = 0;
        let mut to_workers: Vec<(usize, Vec<u8>)> = Vec::new();
        while !d.hub.exec().is_finished() {
            d.dispatch();
            d.flush(&mut |w, bytes| {
                to_workers.push((w, bytes.to_vec()));
                Ok(())
            })
            .unwrap();
            for (w, bytes) in to_workers.drain(..) {
                let batch: Vec<ToWorker> = postcard::from_bytes(&bytes).unwrap();
                for m in &batch {
                    if let ToWorker::Put { bytes, .. } = m {
                        relayed += bytes.len();
                    }
                }
                workers[w].handle(&bytes, clock, &mut |b| inbox.push_back((w, b)));
            }
            let (w, bytes) = inbox.pop_front().expect("the run stalled");
            let replies: Vec<FromWorker> = postcard::from_bytes(&bytes).unwrap();
            for r in replies {
                d.receive(w, r, &mut |_| {}).unwrap();
            }
        }
        let bytes = &d.outputs[&out];
        let value = job.op(TaskId(out)).unwrap().codec().unwrap();
        (value.decode(bytes).unwrap(), relayed)
    }

    #[test]
    fn demo_chunks_stay_on_their_worker_and_the_result_matches_sync() {
        // 12 blocks of 8×50×4 f64s (12.8 KB each); each block's partial sum
        // is 8 f64s (64 bytes).
        let (spec, out) = crate::spec::demo([96, 50, 4], 8, 3).unwrap();
        let (sync, _) = crate::sync::run(&spec, &[out], false).unwrap();
        let sync = sync[0].downcast_ref::<Chunk>().unwrap();
        for n in [1, 2, 3] {
            let (value, relayed) = simulate(&spec, out, n);
            assert_eq!(value.downcast_ref::<Chunk>(), Some(sync), "{n} workers");
            // Only partial sums travel (to the worker that concatenates):
            // at most one per block, never a block itself.
            assert!(
                relayed <= 12 * (8 * 8 + 16),
                "{relayed} bytes relayed on {n} workers"
            );
        }
    }

    #[test]
    fn a_wide_reduction_matches_sync() {
        // Where its roots go is the hub's test (`roots_of_a_wide_reduction_are_spread`).
        let (spec, out) = crate::spec::merge(40).unwrap();
        let (value, _) = simulate(&spec, out, 2);
        assert_eq!(value.downcast_ref::<f64>(), Some(&(40.0 * 41.0 / 2.0)));
    }
}
