//! Drives a [`Cluster`] in memory: workers and clients are ids, messages
//! land in a [`RecordingSink`], time is a base instant plus a virtual
//! offset, and every step ends with [`Cluster::sanity_check`].

use std::time::{Duration, Instant};

use crate::portable::{External, JobOptions, JobSpec, OpSpec};
use crate::protocol::{DataKey, JobId, RunTime, ToClient, WireError, WorkerId, WorkerInfo};
use crate::scheduler::state::recording::RecordingSink;
use crate::scheduler::state::{ClientId, Cluster, Failure, Placement};

/// The op every test task runs (a worker offers it by name).
pub const OP: &str = "work";
/// The client of every test job.
pub const CLIENT: ClientId = 1;

/// A job's tasks, each listing the tasks it reads, for [`Sim::submit`].
#[derive(Debug, Default, Clone)]
pub struct Spec {
    /// Per task, its inputs.
    pub tasks: Vec<Vec<u32>>,
    pub outputs: Vec<u32>,
    /// Tasks standing for earlier results.
    pub externals: Vec<(u32, DataKey)>,
    pub retries: u32,
    pub workers: Vec<String>,
    pub loose: bool,
    pub resources: Vec<(String, f64)>,
}

impl Spec {
    /// Tasks with these inputs; the last is the output.
    pub fn of(tasks: &[&[u32]]) -> Spec {
        let tasks: Vec<Vec<u32>> = tasks.iter().map(|d| d.to_vec()).collect();
        let outputs = vec![tasks.len() as u32 - 1];
        Spec {
            tasks,
            outputs,
            ..Spec::default()
        }
    }

    /// `n` tasks reading nothing, every one an output.
    pub fn roots(n: u32) -> Spec {
        Spec {
            tasks: vec![Vec::new(); n as usize],
            outputs: (0..n).collect(),
            ..Spec::default()
        }
    }

    /// The spec as a client encodes it.
    pub fn encode(&self) -> Vec<u8> {
        let external_op = |t: u32| self.externals.iter().any(|(e, _)| *e == t);
        let ops = vec![
            OpSpec {
                name: OP,
                code: None,
            },
            OpSpec {
                name: crate::portable::EXTERNAL_OP,
                code: None,
            },
        ];
        let mut args = Vec::new();
        for deps in &self.tasks {
            args.extend(
                deps.iter()
                    .map(|&d| rask_core::Arg::dep(rask_core::TaskId(d)).bits()),
            );
        }
        let type_name = "i64";
        let spec = JobSpec {
            code_id: None,
            ops,
            lits: Vec::new(),
            task_ops: (0..self.tasks.len() as u32)
                .map(|t| u32::from(external_op(t)))
                .collect(),
            arg_counts: self.tasks.iter().map(|d| d.len() as u32).collect(),
            args,
            keys: Vec::new(),
            outputs: self.outputs.clone(),
            externals: self
                .externals
                .iter()
                .map(|(task, key)| External {
                    task: *task,
                    key: *key,
                    codec: crate::portable::CodecSpec {
                        type_name,
                        code: None,
                    },
                })
                .collect(),
            options: JobOptions {
                priority: 0,
                retries: self.retries,
                workers: self.workers.iter().map(String::as_str).collect(),
                allow_other_workers: self.loose,
                resources: self
                    .resources
                    .iter()
                    .map(|(n, a)| (n.as_str(), *a))
                    .collect(),
            },
        };
        postcard::to_allocvec(&spec).expect("a spec encodes")
    }
}

/// What a worker offers: `threads` threads, the test op, and `resources`.
pub fn info(threads: u32, resources: &[(&str, f64)]) -> WorkerInfo {
    WorkerInfo {
        listen: String::new(),
        nthreads: threads,
        memory_limit: 0,
        ops: vec![OP.into()],
        codecs: vec!["i64".into()],
        code_id: None,
        pid: 0,
        resources: resources
            .iter()
            .map(|(n, a)| ((*n).to_owned(), *a))
            .collect(),
    }
}

/// The key of task `task` of job `job`.
pub fn key(job: JobId, task: u32) -> DataKey {
    DataKey { job, task }
}

/// A cluster, the messages it sent since the last look, and a clock.
pub struct Sim {
    pub cluster: Cluster,
    pub sink: RecordingSink,
    pub now: Instant,
    next_job: u32,
    joined: u32,
}

impl Sim {
    /// A cluster whose tasks are assumed to take about a millisecond
    /// (comparable to the round trip the policy covers).
    pub fn new() -> Sim {
        Sim::with(Placement::with_mean_task_ns(1_000_000.0))
    }

    /// A cluster placing with `placement`.
    pub fn with(placement: Placement) -> Sim {
        let now = Instant::now();
        let cluster = Cluster::with_placement(Duration::from_secs(10), None, now, placement);
        let sim = Sim {
            cluster,
            sink: RecordingSink::default(),
            now,
            next_job: 1,
            joined: 0,
        };
        sim.check();
        sim
    }

    /// Fails the test if an invariant is broken.
    pub fn check(&self) {
        if let Err(why) = self.cluster.sanity_check() {
            panic!("invariant broken: {why}");
        }
    }

    /// Moves the clock on.
    pub fn wait(&mut self, d: Duration) {
        self.now += d;
    }

    /// What was sent since the last look.
    pub fn sent(&mut self) -> RecordingSink {
        self.sink.take()
    }

    /// A worker joins.
    pub fn join(&mut self, mut info: WorkerInfo) -> WorkerId {
        self.joined += 1;
        info.listen = format!("10.0.0.{}:7000", self.joined);
        let w = self
            .cluster
            .add_worker(info, self.now, &mut self.sink, &[CLIENT])
            .expect("an id is left");
        self.check();
        w
    }

    /// Submits `spec` as the next job of [`CLIENT`].
    pub fn submit(&mut self, spec: &Spec) -> JobId {
        let job = JobId::new(CLIENT, self.next_job);
        self.next_job += 1;
        self.cluster
            .submit(CLIENT, job, &spec.encode(), &mut self.sink);
        self.check();
        job
    }

    /// One turn of scheduling; returns what it sent.
    pub fn schedule(&mut self) -> RecordingSink {
        self.cluster.schedule(&mut self.sink);
        self.check();
        self.sent()
    }

    /// Worker `w` finished `key`, whose result is `bytes` long.
    pub fn done(&mut self, w: WorkerId, key: DataKey, bytes: u64) {
        let run = RunTime {
            nanos: 1_000_000,
            ago_us: 0,
            thread: 0,
        };
        self.cluster
            .on_done(w, key, bytes, run, self.now, &mut self.sink);
        self.check();
    }

    /// Worker `w` ran `key`, and it failed.
    pub fn fail(&mut self, w: WorkerId, key: DataKey) {
        let failure = Failure {
            key,
            message: "boom".into(),
            origin: None,
            run: Some(RunTime::default()),
        };
        self.cluster.on_failed(w, failure, self.now, &mut self.sink);
        self.check();
    }

    /// Worker `w` is gone.
    pub fn lose(&mut self, w: WorkerId) {
        self.cluster.remove_worker(w, &mut self.sink, &[CLIENT]);
        self.check();
    }

    /// Worker `w`'s heartbeat: over its memory limit or not.
    pub fn status(&mut self, w: WorkerId, paused: bool) {
        self.cluster
            .on_status(w, (1 << 20, 0), (0, 0, 0), paused, self.now);
        self.check();
    }

    /// Schedules and finishes every task sent, on the worker it went to,
    /// until `job` is done or failed or `turns` turns pass; returns the
    /// client's message about it.
    pub fn run_to_end(&mut self, job: JobId, turns: usize) -> Option<ToClient> {
        for _ in 0..turns {
            let sent = self.schedule();
            if let Some(end) = end_of(&sent, job) {
                return Some(end);
            }
            for (w, key, _) in sent.runs() {
                self.done(w, key, 8);
            }
            if let Some(end) = end_of(&self.sink, job) {
                return Some(end);
            }
        }
        None
    }
}

/// The client's message that `job` finished or failed, if one was sent.
pub fn end_of(sent: &RecordingSink, job: JobId) -> Option<ToClient> {
    sent.to_clients()
        .iter()
        .map(|(_, m)| m)
        .find(|m| {
            matches!(m, ToClient::Done { job: j, .. } | ToClient::Failed { job: j, .. } if *j == job)
        })
        .cloned()
}

/// The error `job` failed with, if it did.
pub fn failure_of(sent: &RecordingSink, job: JobId) -> Option<WireError> {
    match end_of(sent, job)? {
        ToClient::Failed { error, .. } => Some(error),
        _ => None,
    }
}
