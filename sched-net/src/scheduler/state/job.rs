//! A submitted job and its per-task books: who holds each result, where
//! each task was sent, result sizes and deaths; and how it gets on the
//! active list ([`admit`](super::admit) prepares and installs it).
//!
//! Each job is driven by the core's [`ExecState`](rask_core::ExecState).
//! Data never passes through here: a task is sent with the list of its
//! inputs held elsewhere, and workers fetch from each other.

use std::collections::{HashMap, HashSet};
use std::sync::Arc;

use rask_core::TaskId;

use super::constraints::Constraints;
use super::exec::Exec;
use super::wide::Wide;
use super::{ClientId, Cluster, Prepared, Sink};
use crate::dashboard::JobProgress;
use crate::portable::decode_spec;
use crate::protocol::{DataKey, JobId, ToClient, WireError, WorkerId};

/// What a worker must offer to run a job: an op (or a type) by name,
/// unless the worker has the job's code and the need travels as code.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct Need {
    pub name: String,
    /// It travels as a code reference too.
    pub has_code: bool,
    /// An op (else a type to decode).
    pub is_op: bool,
}

pub(super) struct Job {
    pub client: ClientId,
    pub spec: Arc<[u8]>,
    pub code_id: Option<u64>,
    /// What a worker must have: each op, then each literal and external type.
    pub needs: Vec<Need>,
    pub exec: Exec,
    pub outputs: Vec<TaskId>,
    /// Tasks standing for earlier jobs' results.
    pub externals: HashMap<u32, DataKey>,
    /// Per task: the worker holding its result.
    pub holder: Vec<Option<WorkerId>>,
    /// Workers besides the holder with a copy of a task's result.
    pub replicas: HashMap<u32, Vec<WorkerId>>,
    /// Per task: the worker it was sent to and has not reported back.
    pub sent: Vec<Option<WorkerId>>,
    /// Per task: its result's encoded size, once known.
    pub bytes: Vec<u64>,
    /// Per task: workers that died while running it.
    pub deaths: Vec<u8>,
    /// Which workers can run this job at all, decided once per worker.
    pub eligible: HashMap<WorkerId, bool>,
    /// The workers it may run on, as of a membership count: kept between
    /// turns while no worker joins or leaves.
    pub eligible_now: Option<(u64, Vec<WorkerId>)>,
    /// Outputs reported to the client; results kept until released.
    pub finished: bool,
    pub released: bool,
    /// Later jobs and datasets using this job's results.
    pub pins: u32,
    /// Earlier jobs whose results this job uses.
    pub pinned: Vec<JobId>,
    /// Those results, each pinned by key.
    pub pinned_keys: Vec<DataKey>,
    /// Priority, retries, worker restrictions and resources.
    pub constraints: Constraints,
    /// Per failed task: runs that failed, and the worker of the last.
    pub retried: HashMap<u32, (u32, WorkerId)>,
    /// Runs to its end whoever lets go of it (`fire_and_forget`).
    pub forgotten: bool,
    /// Outputs the client let go of: each goes once the job has finished
    /// and nothing pins it.
    pub dropped: HashSet<u32>,
    /// Its tasks by prefix and state, for the dashboard.
    pub progress: JobProgress,
    /// Results all of whose users have run, not yet released (see
    /// [`holds`](super::holds)).
    pub releasing: Vec<TaskId>,
    /// The task with many inputs being placed or sent over several turns
    /// (see [`wide`](super::wide)).
    pub wide: Option<Wide>,
}

impl Cluster {
    /// A client asks to run a job. Errors are reported to the client.
    pub fn submit(&mut self, client: ClientId, job: JobId, spec: &[u8], sink: &mut impl Sink) {
        self.install(client, job, Prepared::new(spec.into()), sink);
    }

    /// Puts a job [prepared](Prepared::new) elsewhere on the cluster, or
    /// reports to the client why it cannot run.
    pub fn install(
        &mut self,
        client: ClientId,
        job: JobId,
        prepared: Result<Prepared, WireError>,
        sink: &mut impl Sink,
    ) {
        self.dirty = true;
        match prepared.and_then(|p| self.admit(client, job, p)) {
            Ok(()) => {
                self.activate(job);
                self.return_lent(client, job, sink);
            }
            Err(error) => sink.to_client(client, &ToClient::Failed { job, error }),
        }
    }

    /// Puts `job` on the active list: after every job of its priority or
    /// higher, so that higher priorities are scheduled first and equal
    /// ones oldest first.
    pub(super) fn activate(&mut self, job: JobId) {
        let priority = self.jobs.get(&job).map_or(0, |j| j.constraints.priority);
        let at = self
            .active
            .iter()
            .rposition(|a| {
                self.jobs
                    .get(a)
                    .is_none_or(|j| j.constraints.priority >= priority)
            })
            .map_or(0, |i| i + 1);
        self.active.insert(at, job);
    }

    /// Job `job` fails with `error`: its client is told, and it is
    /// released (it stays while later jobs or datasets hold its results).
    pub(super) fn fail_job(&mut self, job: JobId, error: WireError, sink: &mut impl Sink) {
        let Some(j) = self.jobs.get_mut(&job) else {
            return;
        };
        j.forgotten = false;
        sink.to_client(j.client, &ToClient::Failed { job, error });
        self.release(job, sink);
    }
}

impl Job {
    /// `task`'s key and op name, for errors. Only errors need them, so
    /// they are read from the spec then rather than kept per task.
    pub fn names(&self, task: u32) -> (String, String) {
        match decode_spec(&self.spec) {
            Ok(spec) => (spec.task_name(task), spec.op_name(task).to_owned()),
            Err(_) => (format!("task-{task}"), String::new()),
        }
    }

    /// A root task makes data from nothing this job computes: its inputs,
    /// if any, are all results of earlier jobs. Roots are what saturation
    /// holds back (see [`Placement`](super::Placement)).
    pub fn is_root(&self, t: TaskId) -> bool {
        self.exec
            .graph
            .deps(t)
            .all(|d| self.externals.contains_key(&d.0))
    }

    /// The name of a task using op `op`, for the error saying no worker
    /// has it.
    pub fn first_task_with_op(&self, op: &str) -> String {
        let Ok(spec) = decode_spec(&self.spec) else {
            return String::new();
        };
        let task = spec
            .ops
            .iter()
            .position(|o| o.name == op)
            .and_then(|idx| spec.task_ops.iter().position(|&o| o as usize == idx));
        task.map(|t| spec.task_name(t as u32)).unwrap_or_default()
    }
}
