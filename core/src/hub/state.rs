//! The hub's bookkeeping: which worker each task went to, who holds each
//! result, what is in transit, and which placed tasks wait for it.
//!
//! It drives the run's [`ExecState`] with `peek_ready` / `start`, so the
//! ready queue is the state machine's own: the hub keeps no second one.

use alloc::collections::BTreeMap;
use alloc::vec;
use alloc::vec::Vec;
use core::ops::Deref;

use crate::exec::{ExecError, ExecState, TaskState};
use crate::graph::{Graph, TaskId};

use super::holders::{Holders, MAX_WORKERS};
use super::measure::{Durations, Sizes};
use super::placement::{Placement, View, NOWHERE};
use super::sink::HubSink;

/// Places ready tasks on workers and relays the inputs they lack; pure and
/// IO-free (see the [module docs](super)).
pub struct Hub<G, P> {
    exec: ExecState<G>,
    policy: P,
    holders: Holders,
    /// Tasks placed on each worker and not finished.
    load: Vec<u32>,
    /// The worker each task was placed on, or [`NOWHERE`].
    placed: Vec<u8>,
    /// Per placed task, its inputs still in transit (0: none).
    missing: Vec<u32>,
    /// Values asked of a holder, with the workers to put each to.
    asked: BTreeMap<u32, Vec<u8>>,
    /// Per value in transit, the placed tasks waiting for it.
    waiters: BTreeMap<u32, Vec<u32>>,
    /// Values the driver kept a copy of: put from there, not asked again.
    kept: Vec<bool>,
    times: Durations,
    sizes: Sizes,
    /// Scratch: the inputs a placed task lacks; released results; the
    /// ready tasks behind one that waits.
    scratch: Vec<TaskId>,
    released: Vec<TaskId>,
    behind: Vec<TaskId>,
}

/// Ready tasks behind one that waits for its worker that one round of
/// [`Hub::dispatch`] considers.
pub const MAX_PASSED: usize = 64;

impl<G, P> core::fmt::Debug for Hub<G, P> {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("Hub")
            .field("exec", &self.exec)
            .field("load", &self.load)
            .field("in_transit", &self.asked.len())
            .finish()
    }
}

impl<G, P> Hub<G, P>
where
    G: Deref<Target = Graph>,
    P: Placement,
{
    /// A hub over `workers` workers (at most [`MAX_WORKERS`]; more are not
    /// used) that places the tasks of `exec` by `policy`.
    pub fn new(exec: ExecState<G>, workers: usize, mut policy: P) -> Hub<G, P> {
        let n = exec.plan().len();
        policy.prepare(exec.graph(), exec.plan());
        Hub {
            policy,
            holders: Holders::new(n),
            load: vec![0; workers.clamp(1, MAX_WORKERS)],
            placed: vec![NOWHERE; n],
            missing: vec![0; n],
            asked: BTreeMap::new(),
            waiters: BTreeMap::new(),
            kept: vec![false; n],
            times: Durations::default(),
            sizes: Sizes::new(n),
            scratch: Vec::new(),
            released: Vec::new(),
            behind: Vec::new(),
            exec,
        }
    }

    /// The run's state machine.
    pub fn exec(&self) -> &ExecState<G> {
        &self.exec
    }

    /// Where each result is held.
    pub fn holders(&self) -> &Holders {
        &self.holders
    }

    /// Tasks placed on `worker` and not finished.
    pub fn load(&self, worker: usize) -> usize {
        self.load.get(worker).map_or(0, |&l| l as usize)
    }

    /// Tasks placed and not finished, on every worker.
    pub fn in_flight(&self) -> usize {
        self.load.iter().map(|&l| l as usize).sum()
    }

    /// The worker `task` was placed on, if it was.
    pub fn placed(&self, task: TaskId) -> Option<usize> {
        match self.placed.get(task.index()) {
            Some(&w) if w != NOWHERE => Some(usize::from(w)),
            _ => None,
        }
    }

    /// A task placed on `worker` and still running there (the lowest id),
    /// to name when that worker is lost.
    pub fn running_on(&self, worker: usize) -> Option<TaskId> {
        self.exec.graph().task_ids().find(|&t| {
            self.placed(t) == Some(worker) && self.exec.state(t) == Some(TaskState::Running)
        })
    }

    /// Places the best ready tasks while a worker has room and the policy
    /// finds one for them. When the best must wait for its worker, up to
    /// [`MAX_PASSED`] tasks behind it may still go where there is room.
    pub fn dispatch(&mut self, sink: &mut impl HubSink) {
        loop {
            let depth = self.policy.depth(&self.times);
            if self.full(depth) {
                return;
            }
            let Some(task) = self.exec.peek_ready() else {
                return;
            };
            let Some(worker) = self.choose(task, depth) else {
                self.look_past(depth, sink);
                return;
            };
            self.take_with_companions(task, worker, depth, sink);
            if self.exec.state(task) == Some(TaskState::Ready) {
                return; // it could not start: never spin on it
            }
        }
    }

    /// Records that `worker` finished `task` in `took_ns`; the result stays
    /// there. Releases what nothing needs any more.
    pub fn on_done(
        &mut self,
        worker: usize,
        task: TaskId,
        took_ns: f64,
        sink: &mut impl HubSink,
    ) -> Result<(), ExecError> {
        let mut released = core::mem::take(&mut self.released);
        released.clear();
        let result = self.exec.complete(task, |r| released.push(r));
        if result.is_ok() {
            if let Some(l) = self.load.get_mut(worker) {
                *l = l.saturating_sub(1);
            }
            self.holders.add(task, worker);
            self.times.record(took_ns);
            // Dependents sent ahead are running already: say so now that
            // they are ready, before their own completion arrives.
            if self.policy.runs_ahead() {
                for i in 0..self.exec.plan().dependents(task).len() {
                    let d = self.exec.plan().dependents(task)[i];
                    if self.placed(d).is_some() && self.exec.state(d) == Some(TaskState::Ready) {
                        let _ = self.exec.start(d);
                    }
                }
            }
            for &r in &released {
                self.kept[r.index()] = false;
                sink.release(r, self.holders.take(r));
            }
        }
        self.released = released;
        result.map(|_| ())
    }

    /// The driver has `task`'s result (`bytes` long), asked of a holder:
    /// it goes to every worker waiting for it, and tasks that waited only
    /// for it are sent. With `keep`, the driver keeps a copy until
    /// [`HubSink::release`], and later placements are put from it.
    pub fn on_value(&mut self, task: TaskId, bytes: u64, keep: bool, sink: &mut impl HubSink) {
        self.sizes.record(self.exec.graph(), task, bytes);
        for w in self.asked.remove(&task.0).unwrap_or_default() {
            let w = usize::from(w);
            self.holders.add(task, w);
            sink.put(w, task);
        }
        if let Some(k) = self.kept.get_mut(task.index()) {
            *k = keep && self.exec.state(task) != Some(TaskState::Released);
        }
        for t in self.waiters.remove(&task.0).unwrap_or_default() {
            let t = TaskId(t);
            let m = &mut self.missing[t.index()];
            *m = m.saturating_sub(1);
            if *m == 0 {
                if let Some(w) = self.placed(t) {
                    self.send(t, w, sink);
                }
            }
        }
    }

    /// The driver wants `task`'s result itself (an output): asks a holder,
    /// unless it is on its way already. It arrives through
    /// [`on_value`](Self::on_value).
    pub fn want(&mut self, task: TaskId, sink: &mut impl HubSink) {
        if self.asked.contains_key(&task.0) {
            return;
        }
        if let Some(holder) = self.holders.of(task).first() {
            self.asked.insert(task.0, Vec::new());
            sink.get(holder, task);
        }
    }

    /// True when every worker has `depth` tasks.
    fn full(&self, depth: usize) -> bool {
        self.load.iter().all(|&l| l as usize >= depth)
    }

    /// The policy's worker for `task`, if it has one now.
    fn choose(&mut self, task: TaskId, depth: usize) -> Option<usize> {
        let view = View {
            graph: self.exec.graph(),
            plan: self.exec.plan(),
            holders: &self.holders,
            load: &self.load,
            placed: &self.placed,
            times: &self.times,
            sizes: &self.sizes,
            depth,
        };
        let workers = self.load.len();
        self.policy.choose(task, &view).filter(|&w| w < workers)
    }

    /// The best ready task waits for its worker: the tasks behind it, best
    /// first, go where the policy finds room for them now. Without this, a
    /// worker with room would idle while the best task waits elsewhere.
    fn look_past(&mut self, depth: usize, sink: &mut impl HubSink) {
        let mut behind = core::mem::take(&mut self.behind);
        behind.clear();
        behind.extend(self.exec.ready_by_priority().skip(1).take(MAX_PASSED));
        for &t in &behind {
            if self.full(depth) {
                break;
            }
            // Placed meanwhile as another task's companion.
            if self.exec.state(t) != Some(TaskState::Ready) {
                continue;
            }
            if let Some(w) = self.choose(t, depth) {
                self.take_with_companions(t, w, depth, sink);
            }
        }
        self.behind = behind;
    }

    /// Starts `task` and the policy's companions of it on `worker`.
    fn take_with_companions(
        &mut self,
        task: TaskId,
        worker: usize,
        depth: usize,
        sink: &mut impl HubSink,
    ) {
        let group: Vec<TaskId> = self.policy.companions(task).to_vec();
        for t in group {
            if self.exec.state(t) == Some(TaskState::Ready) && self.placed(t).is_none() {
                self.take(t, worker, depth, sink);
            }
        }
        // Alone, or not among its companions.
        if self.exec.state(task) == Some(TaskState::Ready) {
            self.take(task, worker, depth, sink);
        }
    }

    /// Starts a ready `task` and places it on `worker`.
    fn take(&mut self, task: TaskId, worker: usize, depth: usize, sink: &mut impl HubSink) {
        if self.exec.start(task).is_ok() {
            self.place(task, worker, depth, sink);
        }
    }

    /// Sends `task` to `worker`: at once when its inputs are there, else
    /// once the ones it lacks have been relayed.
    fn place(&mut self, task: TaskId, worker: usize, depth: usize, sink: &mut impl HubSink) {
        self.placed[task.index()] = worker as u8;
        self.load[worker] += 1;
        let mut lacking = core::mem::take(&mut self.scratch);
        lacking.clear();
        lacking.extend(
            self.exec
                .graph()
                .deps(task)
                .filter(|&d| !self.holders.has(d, worker)),
        );
        // A task may use one input twice; it waits for it once.
        lacking.sort_unstable();
        lacking.dedup();
        let mut missing = 0;
        for &dep in &lacking {
            if self.kept[dep.index()] {
                self.holders.add(dep, worker);
                sink.put(worker, dep);
                continue;
            }
            match self.asked.get_mut(&dep.0) {
                Some(targets) => {
                    if !targets.contains(&(worker as u8)) {
                        targets.push(worker as u8);
                    }
                }
                None => {
                    let Some(holder) = self.holders.of(dep).first() else {
                        continue; // cannot happen: a ready task's inputs are held
                    };
                    self.asked.insert(dep.0, vec![worker as u8]);
                    sink.get(holder, dep);
                }
            }
            self.waiters.entry(dep.0).or_default().push(task.0);
            missing += 1;
        }
        self.scratch = lacking;
        self.missing[task.index()] = missing;
        if missing == 0 {
            self.send(task, worker, sink);
            if self.policy.runs_ahead() {
                self.run_ahead(task, worker, 2 * depth, sink);
            }
        }
    }

    fn send(&mut self, task: TaskId, worker: usize, sink: &mut impl HubSink) {
        sink.run(worker, task, self.exec.plan().is_output(task));
    }

    /// Sends dependents of `task` to `worker` right behind it when all
    /// their inputs are (or will be) there, while it has fewer than `limit`
    /// tasks: it runs its messages in order, so they need no round trip.
    fn run_ahead(&mut self, task: TaskId, worker: usize, limit: usize, sink: &mut impl HubSink) {
        let mut stack = vec![task];
        while let Some(t) = stack.pop() {
            let plan = self.exec.plan();
            for i in 0..plan.dependents(t).len() {
                let d = self.exec.plan().dependents(t)[i];
                if self.load[worker] as usize >= limit {
                    return;
                }
                if self.placed(d).is_some() {
                    continue;
                }
                let local = self.exec.graph().deps(d).all(|dep| {
                    self.holders.has(dep, worker)
                        || (self.placed(dep) == Some(worker) && self.missing[dep.index()] == 0)
                });
                if !local {
                    continue;
                }
                if self.exec.state(d) == Some(TaskState::Ready) {
                    let _ = self.exec.start(d);
                }
                self.placed[d.index()] = worker as u8;
                self.load[worker] += 1;
                self.send(d, worker, sink);
                stack.push(d);
            }
        }
    }
}
