//! A worker turns a spec back into a runnable [`Job`]: ops from its
//! registry or from trusted code references, codecs by type name.

use std::collections::HashMap;
use std::sync::Arc;

use rask_core::{Arg, Codec, Job, JobBuilder, Op, Registry, TaskId, Value};

use super::code::{CodeKey, KIND_CODEC, KIND_OP};
use super::spec::{CodecSpec, JobSpec, OpSpec};
use super::EXTERNAL_OP;
use crate::protocol::DataKey;

/// What a worker can run: its registry, the codecs it knows by type name,
/// and the code key it was started with.
#[derive(Debug, Clone)]
pub struct Loader {
    registry: Registry,
    codecs: HashMap<String, Codec>,
    key: Option<CodeKey>,
}

/// A job ready to run on a worker.
#[derive(Debug)]
pub struct LoadedJob {
    /// The runnable job.
    pub job: Job,
    /// Tasks standing for earlier results: where each result is, and its codec.
    pub externals: HashMap<u32, (DataKey, Codec)>,
}

impl LoadedJob {
    /// The codec of `task`'s result.
    pub fn codec(&self, task: TaskId) -> Option<Codec> {
        match self.externals.get(&task.0) {
            Some((_, codec)) => Some(*codec),
            None => self.job.op(task).and_then(Op::codec),
        }
    }
}

/// Types every worker can decode by name, besides its ops' result types.
fn basic_codecs() -> [Codec; 16] {
    [
        Codec::of::<bool>(),
        Codec::of::<i32>(),
        Codec::of::<i64>(),
        Codec::of::<u8>(),
        Codec::of::<u32>(),
        Codec::of::<u64>(),
        Codec::of::<usize>(),
        Codec::of::<f32>(),
        Codec::of::<f64>(),
        Codec::of::<String>(),
        Codec::of::<Vec<u8>>(),
        Codec::of::<Vec<i64>>(),
        Codec::of::<Vec<u64>>(),
        Codec::of::<Vec<f64>>(),
        Codec::of::<Vec<String>>(),
        Codec::of::<()>(),
    ]
}

impl Loader {
    /// A loader for `registry`, accepting code references made with `key`.
    pub fn new(registry: Registry, key: Option<CodeKey>) -> Loader {
        let mut codecs: HashMap<String, Codec> = basic_codecs()
            .into_iter()
            .map(|c| (c.type_name().to_owned(), c))
            .collect();
        for name in registry.names() {
            if let Some(c) = registry.get(name).and_then(Op::codec) {
                codecs.insert(c.type_name().to_owned(), c);
            }
        }
        Loader {
            registry,
            codecs,
            key,
        }
    }

    /// The registry's op names.
    pub fn op_names(&self) -> Vec<String> {
        self.registry.names().map(str::to_owned).collect()
    }

    /// The type names it can decode without code references.
    pub fn codec_names(&self) -> Vec<String> {
        let mut names: Vec<String> = self.codecs.keys().cloned().collect();
        names.sort();
        names
    }

    /// The id of its code key, if it has one.
    pub fn code_id(&self) -> Option<u64> {
        self.key.as_ref().map(CodeKey::id)
    }

    fn trusted_key(&self, spec_code_id: Option<u64>) -> Option<&CodeKey> {
        self.key.as_ref().filter(|k| spec_code_id == Some(k.id()))
    }

    fn op(&self, spec: &OpSpec, code_id: Option<u64>) -> Result<Op, String> {
        if spec.name == EXTERNAL_OP {
            return Ok(Op::raw(EXTERNAL_OP, None, |_| {
                Err(rask_core::TaskError::new("an earlier result is not here"))
            }));
        }
        if let (Some(code), Some(key)) = (spec.code, self.trusted_key(code_id)) {
            let addr = key
                .resolve(KIND_OP, code, spec.name)
                .ok_or_else(|| format!("op `{}` has a forged code reference", spec.name))?;
            // SAFETY: the tag proves this offset was taken, by the client
            // holding this worker's code key, from an `Op::rebuilder` of the
            // same binary (workers with a key are started from the client's
            // own executable), so it is the address of a `fn(&str) -> Op`.
            let rebuild: fn(&str) -> Op =
                unsafe { std::mem::transmute::<usize, fn(&str) -> Op>(addr) };
            return Ok(rebuild(spec.name));
        }
        self.registry
            .get(spec.name)
            .cloned()
            .ok_or_else(|| format!("op `{}` is not registered on this worker", spec.name))
    }

    fn codec(&self, spec: &CodecSpec, code_id: Option<u64>) -> Result<Codec, String> {
        if let (Some(code), Some(key)) = (spec.code, self.trusted_key(code_id)) {
            let addr = key
                .resolve(KIND_CODEC, code, spec.type_name)
                .ok_or_else(|| format!("type `{}` has a forged code reference", spec.type_name))?;
            // SAFETY: as for ops: the tag proves this is the address of a
            // `Codec::rebuilder` (a `fn() -> Codec`) of this same binary.
            let rebuild: fn() -> Codec =
                unsafe { std::mem::transmute::<usize, fn() -> Codec>(addr) };
            return Ok(rebuild());
        }
        self.codecs
            .get(spec.type_name)
            .copied()
            .ok_or_else(|| format!("this worker cannot decode a `{}`", spec.type_name))
    }

    /// Turns a spec into a runnable job, or says what this worker lacks.
    pub fn load(&self, spec: &JobSpec) -> Result<LoadedJob, String> {
        let mut b = JobBuilder::new();
        let mut op_ids = Vec::with_capacity(spec.ops.len());
        for op in &spec.ops {
            op_ids.push(b.op(&self.op(op, spec.code_id)?));
        }
        let mut lits = Vec::with_capacity(spec.lits.len());
        for (i, lit) in spec.lits.iter().enumerate() {
            let codec = self.codec(&lit.codec, spec.code_id)?;
            let value: Value = codec
                .decode(lit.bytes)
                .map_err(|e| format!("literal #{i}: {e}"))?;
            lits.push(b.lit_value(value, Some(codec)));
        }
        let mut next = 0usize;
        let mut args = Vec::new();
        for (op, &count) in spec.task_ops.iter().zip(&spec.arg_counts) {
            args.clear();
            for &bits in &spec.args[next..next + count as usize] {
                // Literal ids are renumbered only if the builder interned
                // them differently; it does not, but map them anyway.
                let arg = Arg::from_bits(bits);
                args.push(match arg.kind() {
                    rask_core::ArgKind::Lit(l) => *lits
                        .get(l.0 as usize)
                        .ok_or_else(|| format!("literal #{} out of range", l.0))?,
                    rask_core::ArgKind::Dep(_) => arg,
                });
            }
            next += count as usize;
            b.task(op_ids[*op as usize], &args);
        }
        for (t, k) in &spec.keys {
            b.name(TaskId(*t), k);
        }
        let mut externals = HashMap::with_capacity(spec.externals.len());
        for e in &spec.externals {
            externals.insert(e.task, (e.key, self.codec(&e.codec, spec.code_id)?));
        }
        Ok(LoadedJob {
            job: b.finish(),
            externals,
        })
    }
}

/// A job a worker loaded, shared with its executor threads.
pub type SharedJob = Arc<LoadedJob>;
