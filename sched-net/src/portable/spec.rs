//! The job as it crosses the wire ([`JobSpec`]), borrowed from its frame,
//! and the checks a decoded spec passes before anyone reads it.

use rask_core::Arg;
use serde::{Deserialize, Serialize};

use super::code::CodeRef;
use crate::protocol::DataKey;

/// A job as it crosses the wire; every string and byte slice borrows from
/// the frame it was decoded from.
#[derive(Debug, Serialize, Deserialize)]
pub struct JobSpec<'a> {
    /// The code key its code references were made with.
    pub code_id: Option<u64>,
    /// Ops, indexed by the tasks' op ids.
    #[serde(borrow)]
    pub ops: Vec<OpSpec<'a>>,
    /// Literals, indexed by literal ids.
    #[serde(borrow)]
    pub lits: Vec<LitSpec<'a>>,
    /// Per task: its op id.
    pub task_ops: Vec<u32>,
    /// Per task: how many arguments it has (they follow each other in `args`).
    pub arg_counts: Vec<u32>,
    /// Every task's arguments, packed ([`Arg::bits`]).
    pub args: Vec<u32>,
    /// Explicit task keys.
    #[serde(borrow)]
    pub keys: Vec<(u32, &'a str)>,
    /// The tasks the client wants.
    pub outputs: Vec<u32>,
    /// Tasks whose results are those of earlier jobs.
    #[serde(borrow)]
    pub externals: Vec<External<'a>>,
    /// How the scheduler treats every task of the job.
    #[serde(borrow)]
    pub options: JobOptions<'a>,
}

/// Submit options, for every task of one job (one `submit` or one `map`).
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct JobOptions<'a> {
    /// Higher runs first among queued tasks.
    pub priority: i32,
    /// Times a failing task is run again (elsewhere when another worker
    /// can) before its job fails.
    pub retries: u32,
    /// Workers allowed to run its tasks, by id (`"3"`) or address
    /// (`"127.0.0.1:4000"`); empty: any.
    #[serde(borrow)]
    pub workers: Vec<&'a str>,
    /// With `workers`: run elsewhere when none of them can.
    pub allow_other_workers: bool,
    /// Resources each task holds on its worker while there.
    #[serde(borrow)]
    pub resources: Vec<(&'a str, f64)>,
}

/// An op: its name, and its code reference when it is stateless.
#[derive(Debug, Serialize, Deserialize)]
pub struct OpSpec<'a> {
    /// The op's name.
    pub name: &'a str,
    /// How to rebuild it without a registry.
    pub code: Option<CodeRef>,
}

/// A value type: its name, and its codec's code reference.
#[derive(Debug, Clone, Copy, Serialize, Deserialize)]
pub struct CodecSpec<'a> {
    /// The type's name.
    pub type_name: &'a str,
    /// How to rebuild its codec without a table of types.
    pub code: Option<CodeRef>,
}

/// A literal: its type and its encoding.
#[derive(Debug, Serialize, Deserialize)]
pub struct LitSpec<'a> {
    /// Its type.
    #[serde(borrow)]
    pub codec: CodecSpec<'a>,
    /// Its encoding.
    #[serde(with = "serde_bytes")]
    pub bytes: &'a [u8],
}

/// A task standing for the result of an earlier job.
#[derive(Debug, Serialize, Deserialize)]
pub struct External<'a> {
    /// The task in this job.
    pub task: u32,
    /// The result it stands for.
    pub key: DataKey,
    /// The result's type.
    #[serde(borrow)]
    pub codec: CodecSpec<'a>,
}

/// Decodes a spec, or says why it is malformed.
pub fn decode_spec(bytes: &[u8]) -> Result<JobSpec<'_>, String> {
    let spec: JobSpec =
        postcard::from_bytes(bytes).map_err(|e| format!("malformed job spec: {e}"))?;
    let n = spec.task_ops.len();
    if spec.arg_counts.len() != n
        || spec.arg_counts.iter().map(|&c| c as u64).sum::<u64>() != spec.args.len() as u64
    {
        return Err("malformed job spec: argument counts do not add up".into());
    }
    if let Some(t) = spec
        .task_ops
        .iter()
        .find(|&&op| op as usize >= spec.ops.len())
    {
        return Err(format!("malformed job spec: op id {t} out of range"));
    }
    let in_range = |t: u32| (t as usize) < n;
    if !spec.outputs.iter().all(|&t| in_range(t))
        || !spec.externals.iter().all(|e| in_range(e.task))
        || !spec.keys.iter().all(|(t, _)| in_range(*t))
    {
        return Err("malformed job spec: a task id out of range".into());
    }
    if let Some((name, amount)) = spec
        .options
        .resources
        .iter()
        .find(|(_, a)| !a.is_finite() || *a < 0.0)
    {
        return Err(format!(
            "malformed job spec: resource `{name}` asks for {amount}"
        ));
    }
    Ok(spec)
}

impl JobSpec<'_> {
    /// The graph alone, with the ops as ids (the scheduler needs no more).
    pub fn graph(&self) -> rask_core::Graph {
        let mut g = rask_core::Graph::new();
        let mut next = 0usize;
        let mut args = Vec::new();
        for (op, &count) in self.task_ops.iter().zip(&self.arg_counts) {
            args.clear();
            args.extend(
                self.args[next..next + count as usize]
                    .iter()
                    .map(|&b| Arg::from_bits(b)),
            );
            next += count as usize;
            // Heap storage has no capacity limit below 2^31 tasks, which a
            // frame of at most 4 GiB cannot describe.
            let _ = g.add_task(rask_core::OpId(*op), &args);
        }
        g
    }

    /// The name of `task` for messages: its key, or `op-id`.
    pub fn task_name(&self, task: u32) -> String {
        if let Some((_, k)) = self.keys.iter().find(|(t, _)| *t == task) {
            return (*k).to_owned();
        }
        let op = self
            .task_ops
            .get(task as usize)
            .and_then(|&o| self.ops.get(o as usize))
            .map_or("task", |o| o.name);
        format!("{op}-{task}")
    }

    /// The name of `task`'s op.
    pub fn op_name(&self, task: u32) -> &str {
        self.task_ops
            .get(task as usize)
            .and_then(|&o| self.ops.get(o as usize))
            .map_or("", |o| o.name)
    }
}
