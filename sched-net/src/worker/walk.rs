//! A task's inputs walked in steps: a task with millions of inputs (a
//! merge) is taken [`WALK_PER_TURN`] inputs per loop turn, so that the
//! loop keeps reading, serving peers and sending heartbeats meanwhile.
//!
//! Each walk is one of three passes over a task's inputs: admitting it
//! (its fetch list indexed, its inputs listed, those here pinned, those
//! elsewhere asked for), starting it (its pinned inputs read into the
//! executor's item) or unpinning them once it ran. A task with at most
//! [`WIDE_INPUTS`] inputs takes its whole pass at once, as before; a
//! wider one is queued and resumed by [`Worker::walk`] each turn, oldest
//! first. While a task is admitted step by step it is already `pending`
//! (not yet `admitted`), so an input that arrives between two steps is
//! counted against it, and the task starts only once the walk is over.

use std::collections::VecDeque;

use rask_core::{TaskId, Value};

use super::exec::Item;
use super::tasks::{FastMap, Pending, Wanted};
use super::Worker;
use crate::portable::SharedJob;
use crate::protocol::{DataKey, FromWorker, JobId, WorkerId};

/// Tasks with more inputs than this are walked over several turns.
pub(super) const WIDE_INPUTS: usize = 1 << 16;

/// Inputs walked per loop turn, over all wide tasks: a few milliseconds.
const WALK_PER_TURN: usize = 1 << 15;

/// A pass over one task's inputs, part way.
pub(super) struct Walk {
    key: DataKey,
    priority: u64,
    job: SharedJob,
    stage: Stage,
    /// How far the current stage has got.
    at: usize,
    /// Its inputs' task ids: sorted and distinct once listed.
    deps: Vec<TaskId>,
    /// Admitting: where the scheduler says the inputs are, as it sent
    /// them, then indexed.
    fetch: Vec<(DataKey, WorkerId)>,
    by_key: FastMap<DataKey, WorkerId>,
    /// Starting: the inputs read so far.
    inputs: Vec<(TaskId, Value)>,
}

/// Admitting is `Index`, `List`, `Pin`; starting is `Start`; then `Unpin`.
#[derive(Clone, Copy, PartialEq)]
enum Stage {
    /// The fetch list goes into `by_key`.
    Index,
    /// The task's inputs go into `deps`.
    List,
    /// Inputs here are pinned, the others asked for.
    Pin,
    /// The pinned inputs are read.
    Start,
    /// The pins go.
    Unpin,
}

impl Walk {
    fn new(key: DataKey, priority: u64, job: &SharedJob, stage: Stage, deps: Vec<TaskId>) -> Walk {
        Walk {
            key,
            priority,
            job: job.clone(),
            stage,
            at: 0,
            deps,
            fetch: Vec::new(),
            by_key: FastMap::default(),
            inputs: Vec::new(),
        }
    }

    /// The end of the next step of a stage `len` long, within `budget`,
    /// which pays for it.
    fn step_end(&self, len: usize, budget: &mut usize) -> usize {
        let end = len.min(self.at.saturating_add(*budget));
        *budget -= end - self.at;
        end
    }
}

/// The queue of wide walks.
#[derive(Default)]
pub(super) struct Walks(VecDeque<Walk>);

impl Walks {
    /// Whether a walk is part way: the loop does not nap meanwhile.
    pub fn busy(&self) -> bool {
        !self.0.is_empty()
    }

    /// Forgets the walks of tasks of `job` (dropped).
    pub fn drop_job(&mut self, job: JobId) {
        self.0.retain(|w| w.key.job != job);
    }
}

impl Worker {
    /// Admits a task the scheduler sent: at once, or step by step if wide.
    pub(super) fn run_task(
        &mut self,
        key: DataKey,
        priority: u64,
        fetch: Vec<(DataKey, WorkerId)>,
    ) {
        let Some(job) = self.jobs.get(&key.job).cloned() else {
            self.sched.outbox.push(&FromWorker::Failed {
                key,
                message: "this worker could not load the task's job".into(),
                origin: None,
                run: None,
            });
            return;
        };
        let wide = fetch
            .len()
            .max(job.job.graph().args(TaskId(key.task)).len())
            > WIDE_INPUTS;
        let mut walk = Walk::new(key, priority, &job, Stage::Index, Vec::new());
        walk.by_key.reserve(fetch.len());
        walk.fetch = fetch;
        self.begin(walk, wide);
    }

    /// Queues a task whose inputs (`deps`, sorted and distinct) are all
    /// here and pinned.
    pub(super) fn start(
        &mut self,
        key: DataKey,
        priority: u64,
        job: &SharedJob,
        deps: Vec<TaskId>,
    ) {
        let wide = deps.len() > WIDE_INPUTS;
        let mut walk = Walk::new(key, priority, job, Stage::Start, deps);
        walk.inputs.reserve(walk.deps.len());
        self.begin(walk, wide);
    }

    /// Drops a task's pins on its inputs (those present); fetched copies
    /// nobody uses any more go.
    pub(super) fn unpin(&mut self, job: &SharedJob, key: DataKey, deps: Vec<TaskId>) {
        let wide = deps.len() > WIDE_INPUTS;
        self.begin(Walk::new(key, 0, job, Stage::Unpin, deps), wide);
    }

    fn begin(&mut self, mut walk: Walk, wide: bool) {
        if wide {
            self.walks.0.push_back(walk);
        } else {
            let mut unbounded = usize::MAX;
            let over = self.step(&mut walk, &mut unbounded);
            debug_assert!(over, "an unbounded step finishes its walk");
        }
    }

    /// Takes the wide walks on by up to [`WALK_PER_TURN`] inputs in all;
    /// true while some are left.
    pub(super) fn walk(&mut self) -> bool {
        let mut budget = WALK_PER_TURN;
        while budget > 0 {
            let Some(mut walk) = self.walks.0.pop_front() else {
                break;
            };
            if !self.step(&mut walk, &mut budget) {
                self.walks.0.push_front(walk);
            }
        }
        self.walks.busy()
    }

    /// Walks on by at most `budget` inputs (taking what it used); true
    /// when the walk is over, done or given up.
    fn step(&mut self, w: &mut Walk, budget: &mut usize) -> bool {
        loop {
            match w.stage {
                Stage::Index => {
                    let end = w.step_end(w.fetch.len(), budget);
                    w.by_key.extend(w.fetch[w.at..end].iter().copied());
                    w.at = end;
                    if w.at < w.fetch.len() {
                        return false;
                    }
                    w.fetch = Vec::new();
                    (w.stage, w.at) = (Stage::List, 0);
                }
                Stage::List => {
                    let args = w.job.job.graph().args(TaskId(w.key.task));
                    let end = w.step_end(args.len(), budget);
                    w.deps
                        .extend(args[w.at..end].iter().filter_map(|a| a.as_dep()));
                    w.at = end;
                    if w.at < args.len() {
                        return false;
                    }
                    // A merge lists its inputs in order already.
                    if !w.deps.is_sorted() {
                        w.deps.sort_unstable();
                    }
                    w.deps.dedup();
                    (w.stage, w.at) = (Stage::Pin, 0);
                    self.pending.insert(
                        w.key,
                        Pending {
                            priority: w.priority,
                            missing: 0,
                            admitted: false,
                            deps: Vec::new(),
                        },
                    );
                }
                Stage::Pin => return self.pin(w, budget),
                Stage::Start => return self.read_inputs(w, budget),
                Stage::Unpin => {
                    let end = w.step_end(w.deps.len(), budget);
                    for &dep in &w.deps[w.at..end] {
                        let input = Self::data_key(w.key.job, &w.job, dep);
                        if let Some(s) = self.data.get_mut(&input) {
                            s.users = s.users.saturating_sub(1);
                            if s.users == 0 && !s.own {
                                self.data.remove(input);
                            }
                        }
                    }
                    w.at = end;
                    return w.at == w.deps.len();
                }
            }
        }
    }

    /// Pins the inputs here and asks for the others, from `w.at` on;
    /// true when the admission is over (the task waits for its inputs,
    /// is started, or is given up).
    fn pin(&mut self, w: &mut Walk, budget: &mut usize) -> bool {
        if self.pending.get(&w.key).is_none_or(|p| p.admitted) {
            // Given up meanwhile (an input was lost, the scheduler told):
            // only the pins taken so far go.
            let pinned = w.deps[..w.at].to_vec();
            self.unpin(&w.job, w.key, pinned);
            return true;
        }
        let end = w.step_end(w.deps.len(), budget);
        let mut missing = 0;
        for i in w.at..end {
            let dep = w.deps[i];
            let input = Self::data_key(w.key.job, &w.job, dep);
            if let Some(s) = self.data.get_mut(&input) {
                s.users += 1;
                continue;
            }
            missing += 1;
            if let Some(want) = self.wanted.get_mut(&input) {
                want.waiters.push((w.key, dep));
                continue;
            }
            let Some(&from) = w.by_key.get(&input) else {
                self.pending.remove(&w.key);
                let pinned = w.deps[..i].to_vec();
                self.unpin(&w.job, w.key, pinned);
                self.sched
                    .outbox
                    .push(&FromWorker::Missing { key: w.key, input });
                return true;
            };
            self.wanted.insert(
                input,
                Wanted {
                    from,
                    keep: false,
                    waiters: vec![(w.key, dep)],
                },
            );
            self.to_get.entry(from).or_default().push(input);
        }
        w.at = end;
        // Inputs asked for in this step arrive in a later turn, so the
        // count is up before any of them is taken off it.
        let Some(p) = self.pending.get_mut(&w.key) else {
            return true;
        };
        p.missing += missing;
        if w.at < w.deps.len() {
            return false;
        }
        let deps = std::mem::take(&mut w.deps);
        if p.missing > 0 {
            p.admitted = true;
            p.deps = deps;
        } else {
            self.pending.remove(&w.key);
            self.start(w.key, w.priority, &w.job, deps);
        }
        true
    }

    /// Reads the pinned inputs from `w.at` on, and queues the task once all
    /// are read; true when the walk is over (queued, or an input is gone
    /// and the scheduler told).
    fn read_inputs(&mut self, w: &mut Walk, budget: &mut usize) -> bool {
        let end = w.step_end(w.deps.len(), budget);
        for i in w.at..end {
            let dep = w.deps[i];
            let input = Self::data_key(w.key.job, &w.job, dep);
            let spilled = match self.data.value(input) {
                Some(Ok(value)) => {
                    w.inputs.push((dep, value));
                    continue;
                }
                Some(Err(e)) => {
                    // Lost to the disk: the scheduler recomputes it.
                    log::warn!("{e}");
                    true
                }
                None => false,
            };
            let deps = std::mem::take(&mut w.deps);
            self.unpin(&w.job, w.key, deps);
            if spilled {
                self.data.remove(input);
            }
            self.sched
                .outbox
                .push(&FromWorker::Missing { key: w.key, input });
            return true;
        }
        w.at = end;
        if w.at < w.deps.len() {
            return false;
        }
        self.exec.push(Item {
            priority: w.priority,
            key: w.key,
            job: w.job.clone(),
            inputs: std::mem::take(&mut w.inputs),
        });
        // Inputs read back from disk count again.
        self.spill_if_over();
        true
    }
}
