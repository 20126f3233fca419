//! A simulator that plans the distributed scheduler past the machines we
//! have: the real scheduler state machine (the same [`Cluster`] handlers
//! the socket loop calls, not a model of them) driven by thousands of
//! simulated workers in virtual time.
//!
//! - A [`Workload`] is a task graph with a duration and a result size per
//!   task; it reaches the scheduler as the job spec a client would submit.
//! - Each simulated worker is a small sans-IO state machine that runs
//!   tasks on its threads, fetches inputs from peers over links with a
//!   latency and a bandwidth, and answers with the messages a real worker
//!   sends ([`Model`] fixes its parameters).
//! - An event queue (a binary heap by virtual time) drives both; [`run`]
//!   returns what the scheduler cost in real time and memory, and the
//!   makespan beside the ideal and the critical path ([`Report`]).
//!
//! `cargo xtask sim` runs the standard workloads at 10 to 10,000 workers.
//! Only built with the `sim` feature.
//!
//! ```
//! use rask_sched_net::sim::{run, Model, NoProbe, SchedulerTime, Workload};
//!
//! // 16 tasks of 1 ms on 4 workers of 2 threads: two rounds.
//! let mut work = Workload::new("flat");
//! for _ in 0..16 {
//!     work.task(&[], 1_000_000, 8).unwrap();
//! }
//! let model = Model {
//!     workers: 4,
//!     threads: 2,
//!     scheduler_time: SchedulerTime::Free,
//!     ..Model::default()
//! };
//! let report = run(&work, &model, &mut NoProbe).unwrap();
//! // Orders out, two rounds, the last result back.
//! assert_eq!(report.makespan_ns, 2 * model.latency_ns + 2_000_000);
//! ```
//!
//! [`Cluster`]: crate::scheduler

mod clock;
mod events;
mod outbox;
mod run;
mod worker;
mod workload;

pub use run::{run, Model, NoProbe, Probe, Report, SchedulerTime, SimError};
pub use workload::{Workload, WorkloadError};
