//! A simulated worker: a sans-IO state machine that does what a real
//! worker does with the scheduler's orders, in the same order, with no
//! threads and no data. Time is the driver's business: the worker says
//! "start this task" or "fetch that input" and hears back when it is done.
//!
//! Like the real worker it pins the inputs a task needs while the task
//! waits or runs, fetches what is missing from the worker the scheduler
//! named, drops fetched copies once no task here needs them, keeps its own
//! results until the scheduler releases them, and gives back queued (not
//! waiting, not running) tasks when asked to steal, the last to run first.

use std::cmp::Reverse;
use std::collections::hash_map::Entry;
use std::collections::{BinaryHeap, HashMap};

use crate::protocol::WorkerId;

use super::workload::Workload;

/// The heartbeat interval of a worker not yet told one: 500 ms.
const FIRST_BEAT_NS: u64 = 500_000_000;

/// What the scheduler tells a worker, as far as the simulation needs it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum Order {
    /// Run `task`; inputs not here are fetched from the workers named.
    Run {
        task: u32,
        priority: u64,
        fetch: Vec<(u32, WorkerId)>,
    },
    /// Drop these results.
    Release(Vec<u32>),
    /// Give back up to this many queued tasks.
    Steal(u32),
    /// Send heartbeats this many nanoseconds apart (from `Peers`).
    Beat(u64),
}

/// What a worker tells the scheduler: the messages a real worker sends.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Report {
    Done { task: u32, bytes: u64, nanos: u64 },
    Missing { task: u32, input: u32 },
    Returned { task: u32 },
    Status { executing: u32, queued: u32 },
}

/// What a worker asks of the world after a step.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Effect {
    /// Ask worker `from` for result `input`.
    Fetch { from: WorkerId, input: u32 },
    /// A thread starts `task`; tell [`SimWorker::finished`] when it ends.
    Start { task: u32 },
    /// Send this to the scheduler.
    Tell(Report),
}

/// A result on this worker.
#[derive(Clone, Copy, Debug)]
struct Held {
    /// Made here: kept until the scheduler releases it.
    own: bool,
    /// Tasks here that wait for it or run with it.
    users: u32,
}

/// One simulated worker.
#[derive(Debug)]
pub(crate) struct SimWorker {
    threads: u32,
    /// Nanoseconds between its heartbeats, as the scheduler last said.
    beat_ns: u64,
    running: u32,
    /// Tasks with every input here, lowest priority number first.
    ready: BinaryHeap<Reverse<(u64, u32)>>,
    /// Tasks waiting for fetches: (priority, inputs still missing).
    waiting: HashMap<u32, (u64, u32)>,
    /// Inputs being fetched, with the tasks waiting for each.
    wanted: HashMap<u32, Vec<u32>>,
    data: HashMap<u32, Held>,
}

impl SimWorker {
    /// An idle worker with `threads` threads.
    pub(crate) fn new(threads: u32) -> SimWorker {
        SimWorker {
            threads: threads.max(1),
            beat_ns: FIRST_BEAT_NS,
            running: 0,
            ready: BinaryHeap::new(),
            waiting: HashMap::new(),
            wanted: HashMap::new(),
            data: HashMap::new(),
        }
    }

    /// True if result `task` is here (made here or fetched).
    pub(crate) fn holds(&self, task: u32) -> bool {
        self.data.contains_key(&task)
    }

    /// How long after a heartbeat the next is due: what the scheduler
    /// last told it, at first 500 ms as a real worker.
    pub(crate) fn beat_ns(&self) -> u64 {
        self.beat_ns
    }

    /// Its heartbeat.
    pub(crate) fn status(&self) -> Report {
        Report::Status {
            executing: self.running,
            queued: (self.ready.len() + self.waiting.len()) as u32,
        }
    }

    /// Handles one order from the scheduler.
    pub(crate) fn order(&mut self, order: Order, work: &Workload, out: &mut Vec<Effect>) {
        match order {
            Order::Run {
                task,
                priority,
                fetch,
            } => self.run(task, priority, fetch, work, out),
            Order::Release(tasks) => {
                for t in tasks {
                    if let Entry::Occupied(mut e) = self.data.entry(t) {
                        if e.get().users == 0 {
                            e.remove();
                        } else {
                            e.get_mut().own = false;
                        }
                    }
                }
            }
            Order::Steal(max) => {
                let mut queued = std::mem::take(&mut self.ready).into_vec();
                // Ascending in `Reverse` order: the last to run come first.
                queued.sort_unstable();
                let n = (max as usize).min(queued.len());
                for Reverse((_, task)) in queued.drain(..n) {
                    self.unpin(task, work);
                    out.push(Effect::Tell(Report::Returned { task }));
                }
                self.ready = queued.into();
            }
            // A real worker never beats more often than every 500 ms.
            Order::Beat(ns) => self.beat_ns = ns.max(FIRST_BEAT_NS),
        }
        self.fill(out);
    }

    fn run(
        &mut self,
        task: u32,
        priority: u64,
        mut fetch: Vec<(u32, WorkerId)>,
        work: &Workload,
        out: &mut Vec<Effect>,
    ) {
        let mut missing = 0u32;
        let inputs = distinct(work.inputs(task));
        fetch.sort_unstable();
        for (i, &input) in inputs.iter().enumerate() {
            if let Some(h) = self.data.get_mut(&input) {
                h.users += 1;
                continue;
            }
            if let Some(waiters) = self.wanted.get_mut(&input) {
                waiters.push(task);
                missing += 1;
                continue;
            }
            let holder = fetch.binary_search_by_key(&input, |(k, _)| *k);
            let Some(&(_, from)) = holder.ok().and_then(|i| fetch.get(i)) else {
                // Told of no holder: as the real worker, it says so and lets
                // go of what it pinned.
                for &earlier in &inputs[..i] {
                    if let Some(waiters) = self.wanted.get_mut(&earlier) {
                        waiters.retain(|w| *w != task);
                    } else {
                        self.unpin_one(earlier);
                    }
                }
                out.push(Effect::Tell(Report::Missing { task, input }));
                return;
            };
            self.wanted.insert(input, vec![task]);
            out.push(Effect::Fetch { from, input });
            missing += 1;
        }
        if missing == 0 {
            self.ready.push(Reverse((priority, task)));
        } else {
            self.waiting.insert(task, (priority, missing));
        }
    }

    /// A fetched copy of `input` arrived.
    pub(crate) fn fetched(&mut self, input: u32, out: &mut Vec<Effect>) {
        let waiters = self.wanted.remove(&input).unwrap_or_default();
        let mut users = 0;
        for task in waiters {
            let Some((priority, missing)) = self.waiting.get_mut(&task) else {
                continue; // gave up on it meanwhile
            };
            users += 1;
            *missing -= 1;
            if *missing == 0 {
                let priority = *priority;
                self.waiting.remove(&task);
                self.ready.push(Reverse((priority, task)));
            }
        }
        if users > 0 {
            let h = self.data.entry(input).or_insert(Held {
                own: false,
                users: 0,
            });
            h.users += users;
        }
        self.fill(out);
    }

    /// `input` could not be fetched (its holder no longer has it): the
    /// tasks waiting for it go back to the scheduler.
    pub(crate) fn fetch_failed(&mut self, input: u32, work: &Workload, out: &mut Vec<Effect>) {
        for task in self.wanted.remove(&input).unwrap_or_default() {
            if self.waiting.remove(&task).is_some() {
                self.unpin(task, work);
                out.push(Effect::Tell(Report::Missing { task, input }));
            }
        }
    }

    /// A thread finished `task`.
    pub(crate) fn finished(&mut self, task: u32, work: &Workload, out: &mut Vec<Effect>) {
        self.running = self.running.saturating_sub(1);
        self.unpin(task, work);
        self.data
            .entry(task)
            .and_modify(|h| h.own = true)
            .or_insert(Held {
                own: true,
                users: 0,
            });
        out.push(Effect::Tell(Report::Done {
            task,
            bytes: work.bytes(task),
            nanos: work.duration_ns(task),
        }));
        self.fill(out);
    }

    /// Starts queued tasks on free threads.
    fn fill(&mut self, out: &mut Vec<Effect>) {
        while self.running < self.threads {
            let Some(Reverse((_, task))) = self.ready.pop() else {
                return;
            };
            self.running += 1;
            out.push(Effect::Start { task });
        }
    }

    /// Lets go of the inputs of `task` that are here.
    fn unpin(&mut self, task: u32, work: &Workload) {
        for input in distinct(work.inputs(task)) {
            self.unpin_one(input);
        }
    }

    fn unpin_one(&mut self, input: u32) {
        if let Entry::Occupied(mut e) = self.data.entry(input) {
            let h = e.get_mut();
            h.users = h.users.saturating_sub(1);
            if h.users == 0 && !h.own {
                e.remove();
            }
        }
    }
}

/// `inputs` without repeats (a task may use one result twice), sorted:
/// a merge of a million inputs must not cost a million squared.
fn distinct(inputs: &[u32]) -> Vec<u32> {
    let mut out = inputs.to_vec();
    out.sort_unstable();
    out.dedup();
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn id(n: u32) -> WorkerId {
        WorkerId::new(n).unwrap()
    }

    fn work() -> Workload {
        let mut w = Workload::new("t");
        let a = w.task(&[], 5, 10).unwrap();
        let b = w.task(&[], 5, 10).unwrap();
        w.task(&[a, b], 7, 3).unwrap();
        w
    }

    #[test]
    fn fetches_missing_inputs_then_runs_and_reports() {
        let w = work();
        let mut sim = SimWorker::new(1);
        let mut out = Vec::new();
        sim.finished(0, &w, &mut out);
        assert_eq!(
            out,
            [Effect::Tell(Report::Done {
                task: 0,
                bytes: 10,
                nanos: 5
            })]
        );
        out.clear();
        let run = Order::Run {
            task: 2,
            priority: 0,
            fetch: vec![(1, id(9))],
        };
        sim.order(run, &w, &mut out);
        assert_eq!(
            out,
            [Effect::Fetch {
                from: id(9),
                input: 1
            }]
        );
        out.clear();
        sim.fetched(1, &mut out);
        assert_eq!(out, [Effect::Start { task: 2 }]);
        out.clear();
        sim.finished(2, &w, &mut out);
        assert!(!sim.holds(1), "the fetched copy goes once used");
        assert!(sim.holds(0) && sim.holds(2), "own results stay");
        sim.order(Order::Release(vec![0, 2]), &w, &mut out);
        assert!(!sim.holds(0) && !sim.holds(2));
    }

    #[test]
    fn runs_lowest_priority_first_and_steals_the_last() {
        let w = work();
        let mut sim = SimWorker::new(1);
        let mut out = Vec::new();
        for (task, priority) in [(0, 5), (1, 1)] {
            let run = Order::Run {
                task,
                priority,
                fetch: vec![],
            };
            sim.order(run, &w, &mut out);
        }
        assert_eq!(
            out,
            [Effect::Start { task: 0 }],
            "the first takes the thread"
        );
        out.clear();
        let mut sim = SimWorker::new(1);
        for (task, priority) in [(0, 0), (1, 5), (2, 1)] {
            let run = Order::Run {
                task,
                priority,
                fetch: vec![(0, id(3)), (1, id(3))],
            };
            sim.order(run, &w, &mut out);
        }
        out.clear();
        sim.order(Order::Steal(1), &w, &mut out);
        assert_eq!(out, [Effect::Tell(Report::Returned { task: 1 })]);
        assert_eq!(
            sim.status(),
            Report::Status {
                executing: 1,
                queued: 1
            }
        );
    }

    #[test]
    fn a_task_told_of_no_holder_is_reported_missing() {
        let w = work();
        let mut sim = SimWorker::new(2);
        let mut out = Vec::new();
        let run = Order::Run {
            task: 2,
            priority: 0,
            fetch: vec![(0, id(4))],
        };
        sim.order(run, &w, &mut out);
        assert_eq!(
            out,
            [
                Effect::Fetch {
                    from: id(4),
                    input: 0
                },
                Effect::Tell(Report::Missing { task: 2, input: 1 })
            ]
        );
        out.clear();
        sim.fetched(0, &mut out);
        assert!(out.is_empty() && !sim.holds(0), "no task wants it any more");
    }
}
