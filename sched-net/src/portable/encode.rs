//! Encoding a job for a cluster: ops and codecs by name, and by code
//! reference when the client holds a code key.

use rask_core::{Codec, Error, Job, TaskId};

use super::code::{CodeKey, KIND_CODEC, KIND_OP};
use super::spec::{CodecSpec, External, JobOptions, JobSpec, LitSpec, OpSpec};
use super::EXTERNAL_OP;
use crate::protocol::DataKey;

/// The job cannot go to a cluster: sending it again fails the same way.
fn unfit(message: String) -> Error {
    Error::JobRefused {
        backend: "distributed",
        message,
    }
}

fn codec_spec(codec: Codec, key: Option<&CodeKey>) -> CodecSpec<'static> {
    let type_name = codec.type_name();
    CodecSpec {
        type_name,
        code: key.map(|k| k.reference(KIND_CODEC, codec.rebuilder() as usize, type_name)),
    }
}

/// Encodes `job` for a cluster. `externals` are tasks standing for results
/// of earlier jobs. With `key`, stateless ops and every codec also travel
/// as code references. Fails, naming the op or the literal, when something
/// cannot leave this process.
#[cfg(any(test, feature = "fuzzing"))]
pub fn encode_job(
    job: &Job,
    outputs: &[TaskId],
    externals: &[(TaskId, DataKey, Codec)],
    key: Option<&CodeKey>,
) -> Result<Vec<u8>, Error> {
    encode_job_with(job, outputs, externals, key, &JobOptions::default())
}

/// [`encode_job`] with submit options.
pub fn encode_job_with(
    job: &Job,
    outputs: &[TaskId],
    externals: &[(TaskId, DataKey, Codec)],
    key: Option<&CodeKey>,
    options: &JobOptions<'_>,
) -> Result<Vec<u8>, Error> {
    if let Some((name, amount)) = options
        .resources
        .iter()
        .find(|(_, a)| !a.is_finite() || *a < 0.0)
    {
        return Err(unfit(format!(
            "resource `{name}`: {amount} is not a finite amount of at least 0"
        )));
    }
    let external_ops: Vec<bool> = {
        let mut only_external = vec![false; job.ops().len()];
        for (t, ..) in externals {
            if let Some(op) = job.graph().op(*t) {
                only_external[op.0 as usize] = true;
            }
        }
        only_external
    };
    let mut ops = Vec::with_capacity(job.ops().len());
    for (i, op) in job.ops().iter().enumerate() {
        if external_ops[i] {
            ops.push(OpSpec {
                name: EXTERNAL_OP,
                code: None,
            });
            continue;
        }
        if op.codec().is_none() {
            return Err(unfit(format!(
                "op `{}` returns a value that cannot leave this process (made with \
                 `delayed_local` or `Op::local`), so it cannot run on a cluster",
                op.name()
            )));
        }
        ops.push(OpSpec {
            name: op.name(),
            code: key
                .zip(op.rebuilder())
                .map(|(k, f)| k.reference(KIND_OP, f as usize, op.name())),
        });
    }
    let mut lit_bytes = Vec::with_capacity(job.lits().len());
    for (i, lit) in job.lits().iter().enumerate() {
        let codec = lit.codec().ok_or_else(|| {
            unfit(format!(
                "literal #{i} (a {}) cannot leave this process (made with `local_lit` or \
                 `Local`), so its job cannot run on a cluster",
                lit.value().type_name()
            ))
        })?;
        let mut bytes = Vec::new();
        codec
            .encode(lit.value(), &mut bytes)
            .map_err(|e| unfit(format!("literal #{i}: {e}")))?;
        lit_bytes.push((codec, bytes));
    }
    let graph = job.graph();
    let mut task_ops = Vec::with_capacity(graph.len());
    let mut arg_counts = Vec::with_capacity(graph.len());
    let mut args = Vec::with_capacity(graph.arg_count());
    for t in graph.task_ids() {
        let op = graph.op(t).ok_or_else(|| Error::UndefinedTask {
            key: job.key(t).to_string(),
        })?;
        task_ops.push(op.0);
        arg_counts.push(graph.args(t).len() as u32);
        args.extend(graph.args(t).iter().map(|a| a.bits()));
    }
    let spec = JobSpec {
        code_id: key.map(CodeKey::id),
        ops,
        lits: lit_bytes
            .iter()
            .map(|(codec, bytes)| LitSpec {
                codec: codec_spec(*codec, key),
                bytes,
            })
            .collect(),
        task_ops,
        arg_counts,
        args,
        keys: job.explicit_keys().map(|(t, k)| (t.0, k)).collect(),
        outputs: outputs.iter().map(|t| t.0).collect(),
        externals: externals
            .iter()
            .map(|(t, data, codec)| External {
                task: t.0,
                key: *data,
                codec: codec_spec(*codec, key),
            })
            .collect(),
        options: options.clone(),
    };
    postcard::to_allocvec(&spec).map_err(|e| unfit(format!("encoding the job: {e}")))
}
