//! The Web Worker scheduler: the main thread drives [`ExecState`] from
//! worker messages and never blocks; the run is one future, awaited by a
//! Promise on the JavaScript side.
//!
//! Placement: a ready task goes to the worker already holding most of its
//! inputs, then to the least busy one. A task without inputs (a root) goes
//! where its *family* went: the roots whose chains of single dependents
//! meet at the same small join (`x-i → asin-i → add-i ← acos-i ← y-i`), so
//! the join finds every input local instead of pulling a whole chunk
//! across. Other roots go where the previous root went while that worker
//! has room, so fewer results travel to the wide join they meet at (a
//! reduction over many roots). Inputs held elsewhere are asked for (`Send`) and relayed (`Put`)
//! through the main thread — transferred, not copied between threads.
//!
//! Each worker has a small window of tasks in flight, and a task whose
//! inputs are all on (or on their way to) a worker is sent right behind
//! them, so a worker's queue is primed and it never waits for the main
//! thread between tasks; the window widens when tasks are tiny, so that
//! many of them share one message.

use std::borrow::Cow;
use std::cmp::Reverse;
use std::collections::{BinaryHeap, HashMap};

use rask_core::{ExecState, Graph, Job, Plan, TaskError, TaskId, Value};
use serde_bytes::ByteBuf;

use crate::error::RunError;
use crate::pool::{Pool, PoolEvent};
use crate::spec::GraphSpec;
use crate::stream::TaskRecord;
use crate::wire::{encode, FromWorker, ToWorker};

/// Tasks in flight per worker when tasks take a while: one running, one
/// queued behind it.
const WINDOW: u32 = 8;
/// Tasks in flight per worker when the mean task is shorter than
/// [`TINY_TASK_MS`]: messages, not tasks, are then the cost.
const WIDE_WINDOW: u32 = 256;
const TINY_TASK_MS: f64 = 0.05;
/// A join with more inputs than this is a reduction over many roots, not a
/// family: its roots are spread for parallelism, and their (small, reduced)
/// results travel.
const FAMILY_MAX_INPUTS: usize = 8;
/// How far down a chain of single dependents a root's join is looked for.
const FAMILY_MAX_DEPTH: usize = 16;

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
    while !d.state.is_finished() {
        d.dispatch();
        d.flush(&mut |w, bytes| pool.post(w, bytes))?;
        if d.in_flight.iter().all(Vec::is_empty) {
            return Err(RunError::Browser(format!(
                "the run stalled with {} of {} tasks done",
                d.state.done(),
                d.state.plan().needed()
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
                let key = match task.or_else(|| d.in_flight[worker].first().copied()) {
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

/// A task sent to a worker that lacks some inputs, waiting for them.
struct Waiting {
    task: u32,
    worker: usize,
    missing: Vec<u32>,
    output: bool,
}

/// The scheduler's state for one run.
struct Driver<'j> {
    job: &'j Job,
    state: ExecState<&'j Graph>,
    run: u32,
    /// Which workers hold each task's result, as a bit mask.
    holders: Vec<u64>,
    /// Tasks sent to each worker and not yet done.
    in_flight: Vec<Vec<u32>>,
    waiting: Vec<Waiting>,
    /// Results on their way between workers, by task.
    relay: HashMap<u32, ByteBuf>,
    /// Messages to send to each worker at the next flush.
    outbox: Vec<Vec<ToWorker<'static>>>,
    outputs: HashMap<u32, ByteBuf>,
    /// Sum and count of task durations, for the window width.
    task_ms: (f64, u32),
    /// Roots that go together, by the join their chains meet at.
    by_join: HashMap<u32, Vec<u32>>,
    /// The join of each root that has a family.
    join_of: HashMap<u32, u32>,
    /// The worker the last root went to.
    last_root: usize,
    /// Tasks taken from `state` (all marked running there), by priority.
    ready: BinaryHeap<Reverse<(u32, u32)>>,
    /// The worker each task was sent to, or [`UNASSIGNED`].
    assigned: Vec<u8>,
}

const UNASSIGNED: u8 = u8::MAX;

impl<'j> Driver<'j> {
    fn new(job: &'j Job, state: ExecState<&'j Graph>, run: u32, workers: usize) -> Driver<'j> {
        let (by_join, join_of) = Self::families(job, state.plan());
        Driver {
            job,
            state,
            run,
            holders: vec![0; job.len()],
            in_flight: vec![Vec::new(); workers],
            waiting: Vec::new(),
            relay: HashMap::new(),
            outbox: vec![Vec::new(); workers],
            outputs: HashMap::new(),
            task_ms: (0.0, 0),
            by_join,
            join_of,
            last_root: 0,
            ready: BinaryHeap::new(),
            assigned: vec![UNASSIGNED; job.len()],
        }
    }

    fn window(&self) -> u32 {
        let (sum, count) = self.task_ms;
        match count >= 8 && sum / (count as f64) < TINY_TASK_MS {
            true => WIDE_WINDOW,
            false => WINDOW,
        }
    }

    /// Hands ready tasks to workers while any has room.
    /// Moves every ready task of `state` into `ready`. A task sent ahead
    /// by `chase` may finish before `state` sees it ready; draining first
    /// makes it running there, so its completion is accepted.
    fn drain_ready(&mut self) {
        while let Some(t) = self.state.pop_ready() {
            self.ready
                .push(Reverse((self.state.plan().priority(t), t.0)));
        }
    }

    /// Sends dependents of `task` to `worker` right behind it when all
    /// their inputs are (or will be) there: the worker runs its messages in
    /// order, so they need no round trip through the main thread.
    fn chase(&mut self, task: u32, worker: usize, limit: usize) {
        let mut stack = vec![task];
        while let Some(t) = stack.pop() {
            let dependents: Vec<u32> = self
                .state
                .plan()
                .dependents(TaskId(t))
                .iter()
                .map(|d| d.0)
                .collect();
            for d in dependents {
                if self.in_flight[worker].len() >= limit {
                    return;
                }
                if self.assigned[d as usize] != UNASSIGNED {
                    continue;
                }
                let local = self.job.graph().deps(TaskId(d)).all(|dep| {
                    let i = dep.index();
                    self.holders[i] & (1 << worker) != 0
                        || (self.assigned[i] == worker as u8
                            && !self.waiting.iter().any(|w| w.task == dep.0))
                });
                if local {
                    self.assigned[d as usize] = worker as u8;
                    self.in_flight[worker].push(d);
                    let output = self.state.plan().is_output(TaskId(d));
                    self.outbox[worker].push(ToWorker::Run { task: d, output });
                    stack.push(d);
                }
            }
        }
    }

    /// The join a root's chain of single dependents leads to, when that
    /// join has at most [`FAMILY_MAX_INPUTS`] distinct inputs: the roots
    /// meeting there are one family and should run on one worker.
    fn family_of(job: &Job, plan: &Plan, root: TaskId) -> Option<u32> {
        let mut t = root;
        for _ in 0..FAMILY_MAX_DEPTH {
            // One dependent, perhaps using the result more than once.
            let next = match plan.dependents(t) {
                [first, rest @ ..] if rest.iter().all(|d| d == first) => *first,
                _ => return None,
            };
            // The edge count bounds the distinct inputs and costs nothing:
            // the roots of a wide reduction stop here, before its inputs
            // are gathered once per root.
            if plan.dep_count(next) as usize > FAMILY_MAX_INPUTS {
                return None;
            }
            let mut inputs: Vec<TaskId> = job.graph().deps(next).collect();
            inputs.sort_unstable();
            inputs.dedup();
            match inputs.len() {
                1 => t = next,
                n if n <= FAMILY_MAX_INPUTS => return Some(next.0),
                _ => return None,
            }
        }
        None
    }

    /// Every needed root's family, once per run: roots by join, in
    /// priority order, and the join of each root.
    fn families(job: &Job, plan: &Plan) -> (HashMap<u32, Vec<u32>>, HashMap<u32, u32>) {
        let mut by_join: HashMap<u32, Vec<u32>> = HashMap::new();
        let mut join_of = HashMap::new();
        let roots = job.graph().task_ids().filter(|&t| {
            plan.is_needed(t) && plan.dep_count(t) == 0 && job.graph().deps(t).next().is_none()
        });
        for root in roots {
            if let Some(j) = Self::family_of(job, plan, root) {
                by_join.entry(j).or_default().push(root.0);
                join_of.insert(root.0, j);
            }
        }
        for members in by_join.values_mut() {
            members.sort_unstable_by_key(|&t| plan.priority(TaskId(t)));
        }
        (by_join, join_of)
    }

    fn dispatch(&mut self) {
        self.drain_ready();
        let window = self.window() as usize;
        loop {
            if self.in_flight.iter().all(|f| f.len() >= window) {
                return;
            }
            let Some(Reverse((_, t))) = self.ready.pop() else {
                return;
            };
            if self.assigned[t as usize] != UNASSIGNED {
                continue; // already sent with its family or behind its inputs
            }
            let deps: Vec<u32> = self.job.graph().deps(TaskId(t)).map(|t| t.0).collect();
            let has_room = |w: usize| self.in_flight[w].len() < window;
            let family = self.join_of.get(&t).and_then(|j| self.by_join.get(j));
            let worker = match deps.is_empty() && family.is_none() {
                // Other roots popped one after another feed the same
                // dependents (priorities finish one chain at a time), so
                // they go together while the worker has room: fewer results
                // to relay to the wide join they meet at.
                true if has_room(self.last_root) => self.last_root,
                _ => (0..self.in_flight.len())
                    .filter(|&w| has_room(w))
                    .max_by_key(|&w| {
                        let held = deps
                            .iter()
                            .filter(|&&d| self.holders[d as usize] & (1 << w) != 0)
                            .count();
                        // More inputs here first, then fewer tasks in
                        // flight, then the lower index.
                        (held, usize::MAX - self.in_flight[w].len(), usize::MAX - w)
                    })
                    .unwrap_or(0),
            };
            if deps.is_empty() {
                self.last_root = worker;
            }
            // A root takes its whole family along, in one message: the
            // worker then has the join's inputs without asking the main
            // thread again, and a chunk's worth of work queued.
            match family {
                Some(members) => {
                    for m in members.clone() {
                        if self.assigned[m as usize] == UNASSIGNED {
                            self.place(m, worker, window);
                        }
                    }
                }
                None => self.place(t, worker, window),
            }
        }
    }

    /// Sends `task` to `worker`: at once when its inputs are there (and its
    /// dependents behind it, see [`Driver::chase`]), else once they arrive.
    fn place(&mut self, t: u32, worker: usize, window: usize) {
        let task = TaskId(t);
        let deps: Vec<u32> = self.job.graph().deps(task).map(|t| t.0).collect();
        self.in_flight[worker].push(t);
        self.assigned[task.index()] = worker as u8;
        let mut missing = Vec::new();
        for &dep in &deps {
            if self.holders[dep as usize] & (1 << worker) != 0 || missing.contains(&dep) {
                continue;
            }
            if let Some(bytes) = self.relay.get(&dep) {
                self.outbox[worker].push(ToWorker::Put {
                    task: dep,
                    bytes: bytes.clone(),
                });
                self.holders[dep as usize] |= 1 << worker;
                continue;
            }
            let asked = self.waiting.iter().any(|w| w.missing.contains(&dep));
            if !asked {
                let holder = self.holders[dep as usize].trailing_zeros() as usize;
                self.outbox[holder].push(ToWorker::Send { task: dep });
            }
            missing.push(dep);
        }
        let output = self.state.plan().is_output(task);
        match missing.is_empty() {
            true => {
                self.outbox[worker].push(ToWorker::Run { task: t, output });
                self.chase(t, worker, 2 * window);
            }
            false => self.waiting.push(Waiting {
                task: t,
                worker,
                missing,
                output,
            }),
        }
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
                self.drain_ready();
                self.in_flight[worker].retain(|&t| t != task);
                self.holders[task as usize] |= 1 << worker;
                self.task_ms.0 += end_ms - start_ms;
                self.task_ms.1 += 1;
                on_task(TaskRecord {
                    task,
                    worker: worker as u32,
                    start_ms,
                    end_ms,
                });
                if let Some(v) = value {
                    self.outputs.insert(task, v);
                }
                let mut released = Vec::new();
                self.state
                    .complete(TaskId(task), |t| released.push(t.0))
                    .map_err(|e| {
                        RunError::Browser(format!("worker {worker} reported task #{task}: {e}"))
                    })?;
                for t in released {
                    self.relay.remove(&t);
                    let mut mask = std::mem::take(&mut self.holders[t as usize]);
                    while mask != 0 {
                        let w = mask.trailing_zeros() as usize;
                        mask &= mask - 1;
                        self.outbox[w].push(ToWorker::Release { task: t });
                    }
                }
            }
            FromWorker::Data { run, task, bytes } if run == self.run => {
                let outbox = &mut self.outbox;
                let holders = &mut self.holders;
                self.waiting.retain_mut(|w| {
                    if let Some(i) = w.missing.iter().position(|&m| m == task) {
                        w.missing.swap_remove(i);
                        outbox[w.worker].push(ToWorker::Put {
                            task,
                            bytes: bytes.clone(),
                        });
                        holders[task as usize] |= 1 << w.worker;
                        if w.missing.is_empty() {
                            outbox[w.worker].push(ToWorker::Run {
                                task: w.task,
                                output: w.output,
                            });
                            return false;
                        }
                    }
                    true
                });
                self.relay.insert(task, bytes);
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
        while !d.state.is_finished() {
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
    fn roots_of_a_wide_reduction_are_spread() {
        let (spec, out) = crate::spec::merge(40).unwrap();
        let registry = crate::ops::registry();
        let job = spec.build(&registry).unwrap();
        let plan = job.plan(&[TaskId(out)]).unwrap();
        let state = ExecState::from_plan(job.graph(), plan).unwrap();
        let mut d = Driver::new(&job, state, 1, 2);
        d.dispatch();
        assert!(
            d.in_flight.iter().all(|f| !f.is_empty()),
            "{:?}",
            d.in_flight
        );
        let (value, _) = simulate(&spec, out, 2);
        assert_eq!(value.downcast_ref::<f64>(), Some(&(40.0 * 41.0 / 2.0)));
    }
}
