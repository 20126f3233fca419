//! The driver: simulated workers joined to a real [`Cluster`], one job
//! submitted, then events in virtual time until the client hears the job
//! is done.
//!
//! The scheduler is a single loop, as the real one is: messages that
//! arrive while it is busy wait for its next turn, and a turn handles all
//! of them, then calls `schedule` once. With [`SchedulerTime::Measured`]
//! a turn takes, in virtual time, the time its handlers took (CPU time
//! where the [`Probe`] reads it, else real time), so a
//! scheduler too slow for its cluster shows up in the makespan; with
//! [`SchedulerTime::Free`] it takes no time, and a run is exactly
//! reproducible (what the tests use).

use std::time::{Duration, Instant};

use crate::protocol::{DataKey, JobId, RunTime, WorkerId, WorkerInfo};
use crate::scheduler::state::Cluster;

use super::clock::VirtualClock;
use super::events::EventQueue;
use super::outbox::{JobEnd, Outbox};
use super::worker::{Effect, Order, Report as Told, SimWorker};
use super::workload::{Workload, SIM_OP};

/// The simulated job, as its client would number it: client 1, job 1.
fn job() -> JobId {
    JobId::new(1, 1)
}

/// Where worker `w` sits in the simulator's vectors: ids start at 1.
fn slot(w: WorkerId) -> usize {
    w.get() as usize - 1
}
/// Past this much virtual time beyond any sensible makespan, the run is
/// called stuck.
const SLACK: Duration = Duration::from_secs(60);

/// The simulated cluster: fixed for a run and printed with its results.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Model {
    /// Workers joined before the job is submitted.
    pub workers: u32,
    /// Threads per worker.
    pub threads: u32,
    /// One-way latency of every message: scheduler to worker, worker to
    /// scheduler, worker to worker.
    pub latency_ns: u64,
    /// Bytes per nanosecond a worker receives fetched results at (1.0 is
    /// 1 GB/s); one transfer at a time per receiving worker.
    pub bytes_per_ns: f64,
    /// How long a scheduler turn takes in virtual time.
    pub scheduler_time: SchedulerTime,
}

impl Default for Model {
    /// 10 workers of 4 threads, 100 µs latency, 1 GB/s, scheduler time
    /// measured. (Workers send heartbeats as often as the scheduler tells
    /// them, as real workers do.)
    fn default() -> Model {
        Model {
            workers: 10,
            threads: 4,
            latency_ns: 100_000,
            bytes_per_ns: 1.0,
            scheduler_time: SchedulerTime::Measured,
        }
    }
}

/// How long a scheduler turn takes in virtual time.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SchedulerTime {
    /// The time its handlers took: CPU time where the [`Probe`] reads
    /// it, else real time.
    Measured,
    /// None: the scheduler is infinitely fast, and runs reproduce exactly.
    Free,
}

/// Watches the scheduler's own code: called as each handler call begins
/// and ends (and around the simulator's own work inside one), so a
/// counting allocator can tell the scheduler's memory from the
/// simulator's. Every method has a default that does nothing.
pub trait Probe {
    /// Scheduler code starts running.
    fn enter(&mut self) {}
    /// Scheduler code stops running.
    fn leave(&mut self) {}
    /// Bytes the scheduler's code has allocated and not freed, if known.
    fn held_bytes(&self) -> Option<u64> {
        None
    }
    /// CPU time this thread has used, in nanoseconds, if the probe can
    /// read it: read before and after each call into the scheduler, for a
    /// figure that, unlike real time, leaves out waiting for a core.
    fn cpu_ns(&self) -> Option<u64> {
        None
    }
}

/// A [`Probe`] that measures nothing.
#[derive(Clone, Copy, Debug, Default)]
pub struct NoProbe;

impl Probe for NoProbe {}

/// What one run measured. Times named `*_ns` without "virtual" are real
/// time spent in the scheduler's handlers.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Report {
    /// Tasks in the workload.
    pub tasks: u64,
    /// Virtual time from the submit to the scheduler telling the client
    /// the job is done.
    pub makespan_ns: u64,
    /// Total work over total threads: the makespan of a perfect schedule
    /// with no dependencies and no latency.
    pub ideal_ns: u64,
    /// The workload's critical path.
    pub critical_path_ns: u64,
    /// Real time in `add_worker`, for all workers together.
    pub join_ns: u64,
    /// Real time in `submit` (admitting and planning the job).
    pub submit_ns: u64,
    /// Real time in the handlers of every turn (messages, `schedule`).
    pub turns_ns: u64,
    /// Scheduler turns.
    pub turns: u64,
    /// CPU time in `submit` and every turn, where the probe reads it.
    pub cpu_ns: Option<u64>,
    /// Calls timed for `cpu_ns`: each includes about one clock read.
    pub cpu_reads: u64,
    /// Tasks handed to a worker (`Run` messages), re-sends included.
    pub decisions: u64,
    /// Steal requests sent.
    pub steals: u64,
    /// Messages to the scheduler.
    pub to_scheduler: u64,
    /// Of those, heartbeats: as many as the interval the scheduler tells
    /// the workers gives.
    pub heartbeats: u64,
    /// Messages to workers, membership broadcasts included.
    pub to_workers: u64,
    /// Results fetched between workers, and their bytes.
    pub fetches: u64,
    /// Bytes of results moved between workers.
    pub bytes_moved: u64,
    /// Scheduler memory once every worker joined, before the job.
    pub held_after_join: Option<u64>,
    /// Scheduler memory at its peak while the job ran.
    pub held_peak: Option<u64>,
}

impl Report {
    /// Real time in the scheduler for the job: submit and every turn.
    pub fn scheduler_ns(&self) -> u64 {
        self.submit_ns + self.turns_ns
    }
}

/// Why a run gave no report.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum SimError {
    /// The workload could not be encoded as a job.
    Spec(String),
    /// The scheduler failed the job.
    JobFailed(String),
    /// Nothing is left to happen and the job has not finished.
    Stalled {
        /// Virtual time of the last event.
        at_ns: u64,
    },
    /// The job ran far past any makespan it could need.
    TooLong {
        /// The virtual time it gave up at.
        at_ns: u64,
    },
}

impl std::fmt::Display for SimError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            SimError::Spec(e) => write!(f, "cannot submit the workload: {e}"),
            SimError::JobFailed(e) => write!(f, "the scheduler failed the job: {e}"),
            SimError::Stalled { at_ns } => write!(
                f,
                "the job stalled: nothing left to happen at {:.3} s of virtual time",
                *at_ns as f64 / 1e9
            ),
            SimError::TooLong { at_ns } => write!(
                f,
                "the job did not finish within {:.3} s of virtual time",
                *at_ns as f64 / 1e9
            ),
        }
    }
}

impl std::error::Error for SimError {}

/// What happens, and to whom.
#[derive(Debug)]
enum Event {
    /// An order reaches a worker.
    Order(WorkerId, Order),
    /// A worker's message reaches the scheduler.
    Told(WorkerId, Told),
    /// The scheduler's loop comes round.
    Turn,
    /// A request for `input` reaches its holder.
    FetchAsked {
        holder: WorkerId,
        by: WorkerId,
        input: u32,
    },
    /// A fetched result, or the holder's "not here", reaches the asker.
    Fetched {
        by: WorkerId,
        input: u32,
        found: bool,
    },
    /// A thread finishes a task.
    TaskEnd(WorkerId, u32),
    /// A worker's heartbeat is due.
    Heartbeat(WorkerId),
}

/// Runs `work` on the cluster `model` describes, through the real
/// scheduler's handlers; `probe` watches the scheduler's code.
pub fn run(work: &Workload, model: &Model, probe: &mut impl Probe) -> Result<Report, SimError> {
    let spec = work.encode_spec().map_err(SimError::Spec)?;
    let mut sim = Sim::new(work, model, probe);
    sim.join();
    sim.submit(&spec)?;
    sim.until_done()?;
    Ok(sim.report)
}

struct Sim<'a, 'p, P> {
    work: &'a Workload,
    model: Model,
    cluster: Cluster,
    outbox: Outbox<'p, P>,
    workers: Vec<SimWorker>,
    /// When each worker's incoming link is next free.
    link_free: Vec<u64>,
    events: EventQueue<Event>,
    clock: VirtualClock,
    /// Messages for the scheduler's next turn.
    inbox: Vec<(WorkerId, Told)>,
    turn_queued: bool,
    busy_until: u64,
    effects: Vec<Effect>,
    /// CPU time of the last timed call, where the probe reads it.
    last_cpu: Option<u64>,
    report: Report,
}

impl<'a, 'p, P: Probe> Sim<'a, 'p, P> {
    fn new(work: &'a Workload, model: &Model, probe: &'p mut P) -> Sim<'a, 'p, P> {
        let threads = u64::from(model.workers.max(1)) * u64::from(model.threads.max(1));
        let report = Report {
            tasks: work.len() as u64,
            ideal_ns: work.total_work_ns().div_ceil(threads),
            critical_path_ns: work.critical_path_ns(),
            ..Report::default()
        };
        // Made inside the probe, so that what it allocates and later
        // frees counts as the scheduler's. Liveness is not simulated: no
        // worker is ever silent too long.
        let clock = VirtualClock::new();
        probe.enter();
        let cluster = Cluster::new(Duration::MAX, None, clock.at(0));
        probe.leave();
        Sim {
            work,
            model: *model,
            cluster,
            outbox: Outbox::new(probe),
            workers: Vec::new(),
            link_free: Vec::new(),
            events: EventQueue::new(),
            clock,
            inbox: Vec::new(),
            turn_queued: false,
            busy_until: 0,
            effects: Vec::new(),
            last_cpu: None,
            report,
        }
    }

    /// Calls scheduler code, timing it and telling the probe.
    fn timed(&mut self, call: impl FnOnce(&mut Cluster, &mut Outbox<'p, P>)) -> u64 {
        let cpu = self.outbox.probe.cpu_ns();
        let start = Instant::now();
        self.outbox.probe.enter();
        call(&mut self.cluster, &mut self.outbox);
        self.outbox.probe.leave();
        let took = start.elapsed().as_nanos() as u64;
        self.last_cpu = cpu
            .zip(self.outbox.probe.cpu_ns())
            .map(|(a, b)| b.saturating_sub(a));
        took
    }

    /// Adds the last timed call's CPU time to the job's.
    fn count_cpu(&mut self) {
        if let Some(c) = self.last_cpu {
            *self.report.cpu_ns.get_or_insert(0) += c;
            self.report.cpu_reads += 1;
        }
    }

    /// Every worker joins, each with its first heartbeat due at a
    /// different time within the interval the scheduler will tell them
    /// (as if they had been up a while).
    fn join(&mut self) {
        let mut joined = Vec::new();
        for i in 0..self.model.workers {
            let info = WorkerInfo {
                listen: format!("sim:{i}"),
                nthreads: self.model.threads.max(1),
                memory_limit: 0,
                ops: vec![SIM_OP.to_owned()],
                codecs: Vec::new(),
                code_id: None,
                pid: 0,
                resources: Vec::new(),
            };
            let (mut id, now) = (None, self.clock.at(0));
            self.report.join_ns += self.timed(|c, out| id = c.add_worker(info, now, out, &[]));
            let Some(id) = id else {
                break; // every worker id is taken: no more can join
            };
            self.workers.push(SimWorker::new(self.model.threads));
            self.link_free.push(0);
            joined.push(id);
        }
        let period = u64::from(self.cluster.heartbeat_ms()) * 1_000_000;
        let n = joined.len() as u64;
        for (i, id) in (0..).zip(joined) {
            self.events
                .push((period / n * i).max(1), Event::Heartbeat(id));
        }
        // Membership broadcasts change nothing a simulated worker does.
        self.outbox.orders.clear();
        self.report.held_after_join = self.outbox.probe.held_bytes();
    }

    fn submit(&mut self, spec: &[u8]) -> Result<(), SimError> {
        self.report.submit_ns = self.timed(|c, out| c.submit(1, job(), spec, out));
        self.count_cpu();
        if let Some(JobEnd::Failed(e)) = self.outbox.end.take() {
            return Err(SimError::JobFailed(e));
        }
        self.events.push(0, Event::Turn);
        self.turn_queued = true;
        Ok(())
    }

    fn until_done(&mut self) -> Result<(), SimError> {
        let threads = u64::from(self.model.workers.max(1)) * u64::from(self.model.threads.max(1));
        let hops = (self.work.len() as u64 + 1) * 4 * self.model.latency_ns;
        let limit = 10
            * (self.report.critical_path_ns + self.work.total_work_ns() / threads + hops)
            + SLACK.as_nanos() as u64;
        let mut now = 0;
        while let Some((at, event)) = self.events.pop() {
            now = at;
            if now > limit {
                return Err(SimError::TooLong { at_ns: now });
            }
            self.handle(now, event);
            match self.outbox.end.take() {
                Some(JobEnd::Done) => {
                    self.report.makespan_ns = self.busy_until;
                    self.finish_counts();
                    return Ok(());
                }
                Some(JobEnd::Failed(e)) => return Err(SimError::JobFailed(e)),
                None => {}
            }
        }
        Err(SimError::Stalled { at_ns: now })
    }

    fn finish_counts(&mut self) {
        self.report.decisions = self.outbox.sent.runs;
        self.report.steals = self.outbox.sent.steals;
        self.report.to_workers = self.outbox.sent.to_workers;
    }

    fn handle(&mut self, now: u64, event: Event) {
        let lat = self.model.latency_ns;
        match event {
            Event::Turn => self.turn(now),
            Event::Told(w, told) => {
                self.report.to_scheduler += 1;
                self.inbox.push((w, told));
                if !self.turn_queued {
                    self.turn_queued = true;
                    self.events.push(now.max(self.busy_until), Event::Turn);
                }
            }
            Event::Order(w, order) => {
                if let Some(worker) = self.workers.get_mut(slot(w)) {
                    worker.order(order, self.work, &mut self.effects);
                }
                self.apply(now, w);
            }
            Event::FetchAsked { holder, by, input } => {
                let found = self
                    .workers
                    .get(slot(holder))
                    .is_some_and(|h| h.holds(input));
                let mut arrives = now + lat;
                if found {
                    let bytes = self.work.bytes(input);
                    let link = &mut self.link_free[slot(by)];
                    let start = now.max(*link);
                    *link = start + (bytes as f64 / self.model.bytes_per_ns).ceil() as u64;
                    arrives = *link + lat;
                    self.report.fetches += 1;
                    self.report.bytes_moved += bytes;
                }
                self.events
                    .push(arrives, Event::Fetched { by, input, found });
            }
            Event::Fetched { by, input, found } => {
                if let Some(worker) = self.workers.get_mut(slot(by)) {
                    if found {
                        worker.fetched(input, &mut self.effects);
                    } else {
                        worker.fetch_failed(input, self.work, &mut self.effects);
                    }
                }
                self.apply(now, by);
            }
            Event::TaskEnd(w, task) => {
                if let Some(worker) = self.workers.get_mut(slot(w)) {
                    worker.finished(task, self.work, &mut self.effects);
                }
                self.apply(now, w);
            }
            Event::Heartbeat(w) => {
                let Some(worker) = self.workers.get(slot(w)) else {
                    return;
                };
                self.effects.push(Effect::Tell(worker.status()));
                self.report.heartbeats += 1;
                let next = now + worker.beat_ns().max(1);
                self.apply(now, w);
                self.events.push(next, Event::Heartbeat(w));
            }
        }
    }

    /// Queues what worker `w`'s last step asked for.
    fn apply(&mut self, now: u64, w: WorkerId) {
        let lat = self.model.latency_ns;
        for effect in self.effects.drain(..) {
            match effect {
                Effect::Fetch { from, input } => self.events.push(
                    now + lat,
                    Event::FetchAsked {
                        holder: from,
                        by: w,
                        input,
                    },
                ),
                Effect::Start { task } => self
                    .events
                    .push(now + self.work.duration_ns(task), Event::TaskEnd(w, task)),
                Effect::Tell(told) => self.events.push(now + lat, Event::Told(w, told)),
            }
        }
    }

    /// One turn of the scheduler's loop: every message that came, then
    /// `schedule`, as the real loop does after reading its sockets.
    fn turn(&mut self, now: u64) {
        self.turn_queued = false;
        let received = self.clock.at(now);
        let inbox = std::mem::take(&mut self.inbox);
        let took = self.timed(|c, out| {
            for &(w, told) in &inbox {
                c.seen(w, received);
                match told {
                    Told::Done { task, bytes, nanos } => {
                        let run = RunTime {
                            nanos,
                            ago_us: 0,
                            thread: 0,
                        };
                        c.on_done(w, key(task), bytes, run, received, out);
                    }
                    Told::Missing { task, input } => c.on_missing(w, key(task), key(input), out),
                    Told::Returned { task } => c.on_returned(w, key(task)),
                    Told::Status { executing, queued } => {
                        c.on_status(w, (0, 0), (executing, queued, 0), false, received)
                    }
                }
            }
            c.schedule(out);
            c.expire_gets(received, out);
        });
        self.inbox = inbox;
        self.inbox.clear();
        self.report.turns += 1;
        self.report.turns_ns += took;
        self.count_cpu();
        // CPU time where the probe reads it: on a machine shared with
        // other work, real time also counts waiting for a core, which a
        // scheduler on its own core would not.
        let cost = match self.model.scheduler_time {
            SchedulerTime::Measured => self.last_cpu.unwrap_or(took),
            SchedulerTime::Free => 0,
        };
        self.busy_until = now + cost;
        let arrive = self.busy_until + self.model.latency_ns;
        for (w, order) in self.outbox.orders.drain(..) {
            self.events.push(arrive, Event::Order(w, order));
        }
        if let Some(held) = self.outbox.probe.held_bytes() {
            let peak = self.report.held_peak.get_or_insert(0);
            *peak = (*peak).max(held);
        }
        // Work a turn left for the next ones (releases, a wide task's
        // tally and send) goes on as soon as the scheduler is free, as the
        // real loop polls without sleeping then.
        if !self.turn_queued && self.cluster.held_over() {
            self.turn_queued = true;
            self.events.push(self.busy_until, Event::Turn);
        }
    }
}

fn key(task: u32) -> DataKey {
    DataKey { job: job(), task }
}
