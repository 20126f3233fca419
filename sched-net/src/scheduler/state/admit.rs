//! Admitting a job in two steps, so that a big one never holds the event
//! loop.
//!
//! [`Prepared::new`] does everything whose cost grows with the job and
//! needs nothing of the cluster: decoding the spec, building the graph,
//! planning it (`ExecState`), the per-task vectors and the dashboard's
//! per-task rows. It is a pure function of the spec's bytes, so the loop
//! can run it on another thread. [`Cluster::admit`] then installs the
//! prepared job against the cluster as it is at that moment: it resolves
//! the results passed in from earlier jobs, pins them and interns the
//! job's task prefixes, all in time that grows with the number of those
//! results and prefixes, not with the number of tasks.
//!
//! The way out can be the same: a job that leaves can be handed back as
//! [`Retired`] ([`Cluster::take_retired`]), so that freeing its memory,
//! which takes time in its size too, happens off the loop.

use std::collections::{HashMap, HashSet};
use std::sync::Arc;

use rask_core::TaskId;

use super::constraints::Constraints;
use super::exec::Exec;
use super::job::{Job, Need};
use super::{ClientId, Cluster};
use crate::dashboard::prefix::Prefixes;
use crate::dashboard::JobProgress;
use crate::portable::{decode_spec, JobSpec};
use crate::protocol::{DataKey, JobId, WireError, WorkerId};

/// A job decoded and planned, not yet on the cluster.
pub struct Prepared {
    spec: Arc<[u8]>,
    code_id: Option<u64>,
    needs: Vec<Need>,
    exec: Exec,
    outputs: Vec<TaskId>,
    /// Per result passed in from an earlier job: its task here, the key
    /// the spec names, and the task's name for an error.
    externals: Vec<(u32, DataKey, String)>,
    constraints: Constraints,
    /// The dashboard's rows, with prefix ids of `prefixes`, a table of this
    /// job's own: the cluster's table is only touched on the loop.
    progress: JobProgress,
    prefixes: Prefixes,
    tasks: usize,
}

impl std::fmt::Debug for Prepared {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Prepared")
            .field("tasks", &self.tasks)
            .field("spec_bytes", &self.spec.len())
            .finish()
    }
}

impl Prepared {
    /// Decodes and plans the job in `spec`. Results passed in from earlier
    /// jobs are planned as held: [`Cluster::admit`] refuses the job if one
    /// is not.
    pub fn new(spec: Arc<[u8]>) -> Result<Prepared, WireError> {
        let refused = |message: String| WireError::Refused { message };
        let decoded = decode_spec(&spec).map_err(refused)?;
        let externals: Vec<(u32, DataKey, String)> = decoded
            .externals
            .iter()
            .map(|e| (e.task, e.key, decoded.task_name(e.task)))
            .collect();
        let held: HashSet<u32> = externals.iter().map(|(t, ..)| *t).collect();
        let outputs: Vec<TaskId> = decoded.outputs.iter().map(|&t| TaskId(t)).collect();
        let graph = Arc::new(decoded.graph());
        let tasks = graph.len();
        let exec = Exec::new(graph, &outputs, |t| held.contains(&t.0))
            .map_err(|e| refused(format!("invalid graph: {e}")))?;
        let mut prefixes = Prefixes::new();
        let plan = exec.state.plan();
        let progress = JobProgress::new(&decoded, &mut prefixes, |t| plan.is_needed(TaskId(t)));
        Ok(Prepared {
            code_id: decoded.code_id,
            needs: needs_of(&decoded),
            constraints: Constraints::of(&decoded.options),
            exec,
            outputs,
            externals,
            progress,
            prefixes,
            tasks,
            spec,
        })
    }

    /// How many tasks the job has.
    pub fn tasks(&self) -> usize {
        self.tasks
    }
}

impl Cluster {
    /// Puts a prepared job on the cluster as `id` of `client`; refused if
    /// the id is taken or a result it uses from an earlier job is gone.
    pub(super) fn admit(
        &mut self,
        client: ClientId,
        id: JobId,
        prepared: Prepared,
    ) -> Result<(), WireError> {
        let refused = |message: String| WireError::Refused { message };
        if self.jobs.contains_key(&id) {
            return Err(refused(format!("job {id:#x} was already submitted")));
        }
        let Prepared {
            spec,
            code_id,
            needs,
            exec,
            outputs,
            externals: passed_in,
            constraints,
            mut progress,
            prefixes,
            tasks,
        } = prepared;
        let mut holder: Vec<Option<WorkerId>> = vec![None; tasks];
        let mut externals = HashMap::new();
        let mut replicas = HashMap::new();
        let mut pinned = Vec::new();
        let mut pinned_keys = Vec::with_capacity(passed_in.len());
        for (task, named, name) in passed_in {
            // A result that itself stands for an earlier one is fetched, and
            // held, under the original's key.
            let mut key = named;
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
                    "the result `{name}` passed in from an earlier job is no longer on the cluster"
                )));
            };
            if let Some(copies) = from.and_then(|j| j.replicas.get(&key.task)) {
                replicas.insert(task, copies.clone());
            }
            holder[task as usize] = Some(held);
            externals.insert(task, key);
            pinned_keys.push(key);
            if !pinned.contains(&key.job) {
                pinned.push(key.job);
            }
        }
        for j in &pinned {
            if let Some(j) = self.jobs.get_mut(j) {
                j.pins += 1;
            }
        }
        for k in &pinned_keys {
            *self.key_pins.entry(*k).or_default() += 1;
        }
        progress.reintern(&prefixes, &mut self.board.prefixes);
        self.jobs.insert(
            id,
            Job {
                client,
                spec,
                code_id,
                needs,
                exec,
                outputs,
                externals,
                holder,
                replicas,
                sent: vec![None; tasks],
                bytes: vec![0; tasks],
                deaths: vec![0; tasks],
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
                releasing: Vec::new(),
                wide: None,
            },
        );
        Ok(())
    }
}

/// A job that left the cluster, kept only to be freed.
pub struct Retired(Job);

impl From<Job> for Retired {
    fn from(job: Job) -> Retired {
        Retired(job)
    }
}

impl std::fmt::Debug for Retired {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Retired")
            .field("tasks", &self.0.holder.len())
            .finish()
    }
}

impl Cluster {
    /// From now on, jobs that leave are kept for
    /// [`take_retired`](Self::take_retired) instead of being freed at once.
    pub fn hand_back_retired(&mut self) {
        self.retired.get_or_insert_with(Vec::new);
    }

    /// The jobs that left since the last call: dropping them frees their
    /// memory.
    pub fn take_retired(&mut self) -> Vec<Retired> {
        self.retired
            .as_mut()
            .map(std::mem::take)
            .unwrap_or_default()
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
    // results merely held (a dataset read) need nothing. Scanned only for
    // a job that has externals: hashing every argument of a
    // ten-million-task job costs more than planning it.
    let passed_in: HashSet<u32> = spec.externals.iter().map(|e| e.task).collect();
    let used: HashSet<u32> = if passed_in.is_empty() {
        HashSet::new()
    } else {
        spec.args
            .iter()
            .filter_map(|&a| rask_core::Arg::from_bits(a).as_dep())
            .map(|t| t.0)
            .filter(|t| passed_in.contains(t))
            .collect()
    };
    for e in spec.externals.iter().filter(|e| used.contains(&e.task)) {
        add(e.codec.type_name, e.codec.code.is_some(), false);
    }
    needs
}
