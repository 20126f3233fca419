//! A submitted job and its per-task books: who holds each result, where
//! each task was sent, result sizes and deaths; and its admission.
//!
//! Each job is driven by the core's [`ExecState`](rask_core::ExecState).
//! Data never passes through here: a task is sent with the list of its
//! inputs held elsewhere, and workers fetch from each other.

use std::collections::{HashMap, HashSet};
use std::sync::Arc;

use rask_core::TaskId;

use super::constraints::Constraints;
use super::exec::Exec;
use super::{ClientId, Cluster, Sink};
use crate::dashboard::JobProgress;
use crate::portable::{decode_spec, JobSpec};
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
}

impl Cluster {
    /// A client asks to run a job. Errors are reported to the client.
    pub fn submit(&mut self, client: ClientId, job: JobId, spec: &[u8], sink: &mut impl Sink) {
        match self.admit(client, job, spec) {
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

    fn admit(&mut self, client: ClientId, id: JobId, bytes: &[u8]) -> Result<(), WireError> {
        let refused = |message: String| WireError::Refused { message };
        if self.jobs.contains_key(&id) {
            return Err(refused(format!("job {id:#x} was already submitted")));
        }
        let spec = decode_spec(bytes).map_err(refused)?;
        let graph = Arc::new(spec.graph());
        let n = graph.len();
        let mut holder = vec![None; n];
        let mut externals = HashMap::new();
        let mut replicas = HashMap::new();
        let mut pinned = Vec::new();
        let mut pinned_keys = Vec::with_capacity(spec.externals.len());
        for e in &spec.externals {
            // A result that itself stands for an earlier one is fetched, and
            // held, under the original's key.
            let mut key = e.key;
            while let Some(k) = self
                .jobs
                .get(&key.job)
                .and_then(|j| j.externals.get(&key.task))
            {
                key = *k;
            }
            // A released job still here is held by a dataset or a later job.
            let from = self.jobs.get(&key.job);
            let Some(held) = from.and_then(|j| j.holder.get(key.task as usize).copied().flatten())
            else {
                return Err(refused(format!(
                    "the result `{}` passed in from an earlier job is no longer on the cluster",
                    spec.task_name(e.task)
                )));
            };
            if let Some(copies) = from.and_then(|j| j.replicas.get(&key.task)) {
                replicas.insert(e.task, copies.clone());
            }
            holder[e.task as usize] = Some(held);
            externals.insert(e.task, key);
            pinned_keys.push(key);
            if !pinned.contains(&key.job) {
                pinned.push(key.job);
            }
        }
        let outputs: Vec<TaskId> = spec.outputs.iter().map(|&t| TaskId(t)).collect();
        let exec = Exec::new(graph, &outputs, |t| holder[t.index()].is_some())
            .map_err(|e| refused(format!("invalid graph: {e}")))?;
        for j in &pinned {
            if let Some(j) = self.jobs.get_mut(j) {
                j.pins += 1;
            }
        }
        for k in &pinned_keys {
            *self.key_pins.entry(*k).or_default() += 1;
        }
        let constraints = Constraints::of(&spec.options);
        let needs = needs_of(&spec);
        let plan = exec.state.plan();
        let progress = JobProgress::new(&spec, &mut self.board.prefixes, |t| {
            plan.is_needed(TaskId(t))
        });
        self.jobs.insert(
            id,
            Job {
                client,
                spec: bytes.into(),
                code_id: spec.code_id,
                needs,
                exec,
                outputs,
                externals,
                holder,
                replicas,
                sent: vec![None; n],
                bytes: vec![0; n],
                deaths: vec![0; n],
                eligible: HashMap::new(),
                eligible_now: None,
                finished: false,
                released: false,
                pins: 0,
                pinned,
                pinned_keys,
                constraints,
                retried: HashMap::new(),
                forgotten: false,
                dropped: HashSet::new(),
                progress,
            },
        );
        Ok(())
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

/// What a worker must have to run `spec`: each op, and each literal or
/// external type.
fn needs_of(spec: &JobSpec) -> Vec<Need> {
    let mut needs: Vec<Need> = Vec::new();
    let mut add = |name: &str, has_code: bool, is_op: bool| {
        let need = Need {
            name: name.to_owned(),
            has_code,
            is_op,
        };
        if !needs.contains(&need) {
            needs.push(need);
        }
    };
    for op in &spec.ops {
        if op.name != crate::portable::EXTERNAL_OP {
            add(op.name, op.code.is_some(), true);
        }
    }
    for lit in &spec.lits {
        add(lit.codec.type_name, lit.codec.code.is_some(), false);
    }
    // A worker decodes an earlier result only to feed a task of this job;
    // results merely held (a dataset read) need nothing.
    let used: HashSet<u32> = spec
        .args
        .iter()
        .filter_map(|&a| rask_core::Arg::from_bits(a).as_dep())
        .map(|t| t.0)
        .collect();
    for e in spec.externals.iter().filter(|e| used.contains(&e.task)) {
        add(e.codec.type_name, e.codec.code.is_some(), false);
    }
    needs
}
