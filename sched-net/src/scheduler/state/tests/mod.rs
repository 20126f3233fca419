//! In-memory tests of the scheduler's state machine: no socket, no
//! process. Each file is one behaviour; every step ends with
//! `sanity_check` (see [`harness`]).

mod harness;

mod admission;
mod bounded_release;
mod datasets;
mod dirty;
mod full_workers;
mod keep_for_holder;
mod killed_worker;
mod liveness;
mod locality;
mod pause;
mod queues;
mod replicas;
mod restrictions;
mod retries;
mod root_queuing;
mod runs_per_turn;
mod sanity;
mod stealing;
mod wide_tasks;
mod worker_lost;
