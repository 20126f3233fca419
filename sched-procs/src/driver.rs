//! The parent's side of a run: it owns the [`ExecState`], places each ready
//! task on a child, relays the inputs a child lacks, and collects outputs.
//!
//! Placement follows Dask's "earliest start" rule: a task goes to the child
//! where it would start soonest, estimating the queue ahead of it (tasks in
//! flight × the mean task time measured so far) plus the cost of moving the
//! inputs that child lacks (a fixed cost per transfer plus the bytes). A
//! result's size is known once it has crossed; before that it is estimated
//! from the results of the same op that crossed, or assumed 64 KiB. So a
//! task runs where its inputs are unless that child is backed up. A root
//! task is drawn to where the other inputs of its dependents were placed
//! (for small fan-ins), so the two chunks one kernel combines are made on
//! the same child — the co-assignment Dask does for root tasks.
//!
//! Each child is given only about half a millisecond of work ahead (by the
//! mean task time measured so far); other ready tasks wait in the parent in
//! priority order until the child where they would start soonest has room,
//! so one slow child does not hold back the end of the run, and a task does
//! not leave its inputs just because their child is busy for a moment.

use std::cmp::Reverse;
use std::collections::{BinaryHeap, HashMap};

use nix::poll::{poll, PollFd, PollFlags, PollTimeout};
use rask_core::{Error, Events, ExecState, Graph, Job, Plan, TaskError, TaskId, TaskSpan, Value};
use std::os::fd::AsFd;

use crate::children::Children;
use crate::frame::{parse, push_frame, ToChild, ToParent};

/// Fixed cost of relaying one value child → parent → child.
const TRANSFER_NS: f64 = 30_000.0;
/// Relay cost per byte (pipes move about a gigabyte per second).
const NS_PER_BYTE: f64 = 1.0;
/// Assumed size of a result that has never crossed.
const UNKNOWN_BYTES: f64 = 65_536.0;
/// Work a child is given ahead, in nanoseconds: enough to batch tiny tasks,
/// little enough that a child that runs slow does not hold back the end.
const QUEUED_NS: f64 = 500_000.0;
/// At most this many tasks queued on one child.
const MAX_DEPTH: f64 = 4096.0;
/// Waiting tasks whose best child is full that one assignment pass looks past.
const MAX_PASSED: usize = 64;
/// Sibling affinity looks at this many dependents of a task...
const SIBLING_DEPENDENTS: usize = 4;
/// ...whose fan-in is at most this.
const SIBLING_FAN_IN: u32 = 8;

pub struct Driver<'j, 'e> {
    job: &'j Job,
    state: ExecState<&'j Graph>,
    children: Children,
    events: &'e dyn Events,
    /// Children holding each task's result, as bits.
    holders: Vec<u64>,
    /// The child each placed task went to.
    placed: Vec<Option<u8>>,
    /// Encoded size of each result that has crossed (0: unknown).
    size: Vec<u64>,
    /// Mean encoded size of the results of each op that crossed (0: none
    /// yet): the estimate for its other results.
    op_size: Vec<u64>,
    /// Values asked of a holder, with the children that wait for them.
    fetching: HashMap<u32, Vec<usize>>,
    /// Tasks waiting for a value in transit, per value.
    waiting_on: HashMap<u32, Vec<u32>>,
    /// Per blocked task: its child and how many inputs are still in transit.
    blocked: HashMap<u32, (usize, u32)>,
    outputs: HashMap<u32, Vec<u8>>,
    outputs_missing: usize,
    mean_task_ns: f64,
    /// Ready tasks that no child had room for yet, best priority first.
    waiting: BinaryHeap<Reverse<(u32, TaskId)>>,
    released: Vec<TaskId>,
    /// Scratch for `place`: the inputs the chosen child lacks.
    missing: Vec<u32>,
}

impl<'j, 'e> Driver<'j, 'e> {
    pub fn new(
        job: &'j Job,
        plan: Plan,
        children: Children,
        events: &'e dyn Events,
    ) -> Result<Self, Error> {
        let n = job.len();
        let outputs_missing = job
            .graph()
            .task_ids()
            .filter(|&t| plan.is_output(t))
            .count();
        let state = ExecState::from_plan(job.graph(), plan).map_err(|e| job.graph_error(e))?;
        Ok(Driver {
            job,
            state,
            children,
            events,
            holders: vec![0; n],
            placed: vec![None; n],
            size: vec![0; n],
            op_size: vec![0; job.ops().len()],
            fetching: HashMap::new(),
            waiting_on: HashMap::new(),
            blocked: HashMap::new(),
            outputs: HashMap::new(),
            outputs_missing,
            // Pessimistic until measured: few tasks per child at first.
            mean_task_ns: 100_000.0,
            waiting: BinaryHeap::new(),
            released: Vec::new(),
            missing: Vec::new(),
        })
    }

    /// Runs to the end; returns the outputs' encodings by task.
    pub fn run(mut self) -> Result<HashMap<u32, Vec<u8>>, Error> {
        loop {
            while let Some(task) = self.state.pop_ready() {
                let priority = self.state.plan().priority(task);
                self.waiting.push(Reverse((priority, task)));
            }
            self.assign();
            if self.state.is_finished() && self.outputs_missing == 0 {
                return Ok(std::mem::take(&mut self.outputs));
            }
            self.pump()?;
        }
    }

    /// How many tasks a child may hold: about [`QUEUED_NS`] of work at the
    /// mean task time measured so far, at least two so a child never idles
    /// between one task and the next.
    fn depth(&self) -> usize {
        (QUEUED_NS / self.mean_task_ns.max(1.0)).clamp(2.0, MAX_DEPTH) as usize
    }

    fn has_room(&self) -> bool {
        let depth = self.depth();
        self.children.list.iter().any(|c| c.load() < depth)
    }

    /// Hands out waiting tasks, best first, each to the child where it would
    /// start soonest, if that child has room; otherwise the task keeps
    /// waiting (sending it elsewhere would be slower, by the same estimate).
    /// Looks past at most [`MAX_PASSED`] such tasks per call.
    fn assign(&mut self) {
        let depth = self.depth();
        let mut passed = Vec::new();
        while passed.len() < MAX_PASSED && self.has_room() {
            let Some(Reverse((priority, task))) = self.waiting.pop() else {
                break;
            };
            let c = self.best_child(task);
            if self.children.list[c].load() < depth {
                self.place(task, c);
            } else {
                passed.push(Reverse((priority, task)));
            }
        }
        self.waiting.extend(passed);
    }

    /// Where `task` would start soonest.
    fn best_child(&self, task: TaskId) -> usize {
        let job = self.job;
        let n = self.children.list.len();
        let mut cost = [0.0f64; crate::MAX_WORKERS];
        for (c, child) in self.children.list.iter().enumerate() {
            cost[c] = child.load() as f64 * self.mean_task_ns;
        }
        // Inputs the chosen child lacks must be moved.
        for dep in job.graph().deps(task) {
            let moving = TRANSFER_NS + self.estimated_size(dep) * NS_PER_BYTE;
            for (c, slot) in cost.iter_mut().enumerate().take(n) {
                if self.holders[dep.index()] & (1 << c) == 0 {
                    *slot += moving;
                }
            }
        }
        // A root task (no inputs, so no locality of its own) goes where the
        // other inputs of its dependents went, so that what one task
        // combines is made on one child. Only small fan-ins: for a merge of
        // thousands every child is as good as another. (A task with inputs
        // stays with them: moving it would only move the transfer.)
        if job.graph().args(task).iter().all(|a| a.as_dep().is_none()) {
            for &dependent in self
                .state
                .plan()
                .dependents(task)
                .iter()
                .take(SIBLING_DEPENDENTS)
            {
                if self.state.plan().dep_count(dependent) > SIBLING_FAN_IN {
                    continue;
                }
                for sibling in job.graph().deps(dependent).filter(|&s| s != task) {
                    let Some(there) = self.placed[sibling.index()] else {
                        continue;
                    };
                    let moving = TRANSFER_NS + self.estimated_size(task) * NS_PER_BYTE;
                    for (c, slot) in cost.iter_mut().enumerate().take(n) {
                        if c != usize::from(there) {
                            *slot += moving;
                        }
                    }
                }
            }
        }
        let mut best = (f64::INFINITY, 0);
        for (c, &slot) in cost.iter().enumerate().take(n) {
            if slot < best.0 {
                best = (slot, c);
            }
        }
        best.1
    }

    /// Sends `task` to child `c`, asking for the inputs it lacks first.
    fn place(&mut self, task: TaskId, c: usize) {
        let job = self.job;
        self.placed[task.index()] = Some(c as u8);
        let mut missing = std::mem::take(&mut self.missing);
        missing.clear();
        missing.extend(
            job.graph()
                .deps(task)
                .filter(|dep| self.holders[dep.index()] & (1 << c) == 0)
                .map(|dep| dep.0),
        );
        // A task may use one input twice; it waits for it once.
        missing.sort_unstable();
        missing.dedup();
        for &d in &missing {
            self.waiting_on.entry(d).or_default().push(task.0);
            self.fetch(d, Some(c));
        }
        let missing_count = missing.len() as u32;
        self.missing = missing;
        self.events.task_start(task, c);
        if missing_count == 0 {
            self.send_run(c, task.0);
        } else {
            self.children.list[c].blocked += 1;
            self.blocked.insert(task.0, (c, missing_count));
        }
    }

    /// The size of `task`'s result: known if it crossed, else the mean of
    /// its op's results that crossed, else a guess.
    fn estimated_size(&self, task: TaskId) -> f64 {
        let op = self.job.graph().op(task).map_or(0, |op| op.0 as usize);
        match (
            self.size[task.index()],
            self.op_size.get(op).copied().unwrap_or(0),
        ) {
            (0, 0) => UNKNOWN_BYTES,
            (0, typical) => typical as f64,
            (known, _) => known as f64,
        }
    }

    /// Asks a holder for `task`'s value, for child `to` (or for the parent).
    fn fetch(&mut self, task: u32, to: Option<usize>) {
        if let Some(targets) = self.fetching.get_mut(&task) {
            if let Some(c) = to {
                if !targets.contains(&c) {
                    targets.push(c);
                }
            }
            return;
        }
        self.fetching.insert(task, to.into_iter().collect());
        let holder = self.holders[task as usize].trailing_zeros() as usize;
        self.send(holder, &ToChild::Get { task }, None);
    }

    fn send_run(&mut self, c: usize, task: u32) {
        self.children.list[c].sent.push_back(task);
        self.send(c, &ToChild::Run { task }, None);
    }

    fn send(&mut self, c: usize, message: &ToChild, tail: Option<&[u8]>) {
        // Encoding a message into a Vec cannot fail; the tail is plain bytes.
        let _ = push_frame(&mut self.children.list[c].out, message, |o| {
            o.extend_from_slice(tail.unwrap_or_default());
            Ok(())
        });
    }

    /// Writes what is pending, waits for traffic, handles what arrived.
    fn pump(&mut self) -> Result<(), Error> {
        for c in 0..self.children.list.len() {
            if let Err(e) = self.children.list[c].flush() {
                return Err(self.died(c, Some(e)));
            }
        }
        let ready: Vec<(bool, bool)> = {
            let mut fds: Vec<PollFd> = self
                .children
                .list
                .iter()
                .map(|child| {
                    let mut flags = PollFlags::POLLIN;
                    if child.wants_write() {
                        flags |= PollFlags::POLLOUT;
                    }
                    PollFd::new(child.socket.as_fd(), flags)
                })
                .collect();
            // Spin briefly first: answers usually come within microseconds,
            // and waking from a blocking poll costs more than that.
            let deadline = std::time::Instant::now() + crate::child::SPIN;
            let mut timeout = PollTimeout::ZERO;
            loop {
                match poll(&mut fds, timeout) {
                    Ok(0) if timeout == PollTimeout::ZERO => {
                        if std::time::Instant::now() >= deadline {
                            timeout = PollTimeout::from(1000u16);
                        }
                        std::hint::spin_loop();
                    }
                    Ok(_) => break,
                    Err(nix::errno::Errno::EINTR) => return Ok(()),
                    Err(e) => return Err(backend(format!("poll failed: {e}"))),
                }
            }
            fds.iter()
                .map(|fd| {
                    let r = fd.revents().unwrap_or(PollFlags::empty());
                    let readable =
                        r.intersects(PollFlags::POLLIN | PollFlags::POLLHUP | PollFlags::POLLERR);
                    (readable, r.contains(PollFlags::POLLOUT))
                })
                .collect()
        };
        for (c, &(readable, writable)) in ready.iter().enumerate() {
            if readable {
                let open = self.children.list[c].receive();
                self.handle_frames(c)?;
                match open {
                    Ok(true) => {}
                    Ok(false) => return Err(self.died(c, None)),
                    Err(e) => return Err(self.died(c, Some(e))),
                }
            }
            if writable {
                if let Err(e) = self.children.list[c].flush() {
                    return Err(self.died(c, Some(e)));
                }
            }
        }
        Ok(())
    }

    fn handle_frames(&mut self, c: usize) -> Result<(), Error> {
        let mut inbox = std::mem::take(&mut self.children.list[c].inbox);
        let mut result = Ok(());
        while let Some(frame) = inbox.next_frame() {
            result = self.handle(c, frame);
            if result.is_err() {
                break;
            }
        }
        inbox.compact();
        self.children.list[c].inbox = inbox;
        result
    }

    fn handle(&mut self, c: usize, frame: &[u8]) -> Result<(), Error> {
        let (message, tail) = parse::<ToParent>(frame).map_err(backend)?;
        match message {
            ToParent::Done {
                task,
                start_ns,
                end_ns,
            } => {
                self.children.list[c].sent.pop_front();
                let t = TaskId(task);
                self.holders[t.index()] |= 1 << c;
                let took = end_ns.saturating_sub(start_ns) as f64;
                self.mean_task_ns = 0.9 * self.mean_task_ns + 0.1 * took;
                self.events.task_finish(
                    t,
                    c,
                    TaskSpan {
                        start_ns,
                        end_ns,
                        result_bytes: None,
                    },
                );
                let mut released = std::mem::take(&mut self.released);
                self.state
                    .complete(t, |r| released.push(r))
                    .map_err(|e| backend(e.to_string()))?;
                for r in released.drain(..) {
                    let mut holders = std::mem::take(&mut self.holders[r.index()]);
                    while holders != 0 {
                        let h = holders.trailing_zeros() as usize;
                        holders &= holders - 1;
                        self.send(h, &ToChild::Release { task: r.0 }, None);
                    }
                }
                self.released = released;
                if self.state.plan().is_output(t) {
                    self.fetch(task, None);
                }
                Ok(())
            }
            ToParent::Failed {
                task,
                start_ns,
                end_ns,
                message,
                origin,
            } => {
                let t = TaskId(task);
                self.events.task_finish(
                    t,
                    c,
                    TaskSpan {
                        start_ns,
                        end_ns,
                        result_bytes: None,
                    },
                );
                let mut error = TaskError::new(message);
                if let Some((key, op)) = origin {
                    error = error.within(&key, &op);
                }
                Err(self.job.task_failed(t, error))
            }
            ToParent::Value { task } => {
                let bytes = tail.len() as u64;
                self.size[task as usize] = bytes;
                if let Some(op) = self.job.graph().op(TaskId(task)) {
                    let typical = &mut self.op_size[op.0 as usize];
                    *typical = if *typical == 0 {
                        bytes
                    } else {
                        (*typical + bytes) / 2
                    };
                }
                for target in self.fetching.remove(&task).unwrap_or_default() {
                    self.holders[task as usize] |= 1 << target;
                    self.send(target, &ToChild::Put { task }, Some(tail));
                }
                for waiting in self.waiting_on.remove(&task).unwrap_or_default() {
                    if let Some((child, missing)) = self.blocked.get_mut(&waiting) {
                        *missing -= 1;
                        if *missing == 0 {
                            let child = *child;
                            self.blocked.remove(&waiting);
                            self.children.list[child].blocked -= 1;
                            self.send_run(child, waiting);
                        }
                    }
                }
                if self.state.plan().is_output(TaskId(task)) && !self.outputs.contains_key(&task) {
                    self.outputs.insert(task, tail.to_vec());
                    self.outputs_missing -= 1;
                }
                Ok(())
            }
            ToParent::Broken { message } => Err(backend(message)),
        }
    }

    /// The error for child `c` having gone: it names the task it was running.
    fn died(&mut self, c: usize, io: Option<std::io::Error>) -> Error {
        let child = &mut self.children.list[c];
        let pid = child.pid;
        let how = child.reap(io.is_some());
        match self.children.running.get(c) {
            Some(task) => self.job.task_failed(
                TaskId(task),
                TaskError::new(format!("its worker process (pid {pid}) {how}")),
            ),
            None => backend(format!("worker process {pid} {how} while idle")),
        }
    }
}

fn backend(message: impl Into<String>) -> Error {
    Error::Backend {
        backend: "processes",
        message: message.into(),
    }
}

/// Decodes the outputs' encodings with their ops' codecs.
pub fn decode_outputs(
    job: &Job,
    outputs: &[TaskId],
    bytes: &HashMap<u32, Vec<u8>>,
) -> Result<Vec<Value>, Error> {
    outputs
        .iter()
        .map(|&o| {
            let codec = job.op(o).and_then(|op| op.codec());
            let data = bytes
                .get(&o.0)
                .ok_or_else(|| backend(format!("output `{}` never arrived", job.key(o))))?;
            codec
                .ok_or_else(|| backend(format!("output `{}` has no codec", job.key(o))))?
                .decode(data)
                .map_err(|e| backend(format!("output `{}`: {e}", job.key(o))))
        })
        .collect()
}
