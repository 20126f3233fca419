//! Jobs across the wire: the graph, its ops and its literals as a
//! [`JobSpec`], and how a worker turns one back into a runnable [`Job`].
//!
//! An op reaches a worker in one of two ways:
//! - **by name**, looked up in the worker's [`Registry`] (the built-in ops of
//!   `rask-worker`, or the ops a user's own worker binary registers);
//! - **by code reference**, for stateless functions (fn items and closures
//!   that capture nothing, see [`Op::rebuilder`]) on workers started from
//!   the same binary by [`Client::local`](crate::Client::local). The
//!   reference is the function's offset from an anchor function in this
//!   binary, which is the same in every process running it, whatever the
//!   address-space randomisation. Each reference carries a SipHash tag
//!   keyed with a secret only the client and the workers it started know,
//!   so a worker calls no address it was not given by that client.
//!
//! Literal and result types travel the same way: by a codec reference, or
//! by type name among the codecs the worker knows.

use std::collections::HashMap;
use std::io::Read;
use std::sync::Arc;

use rask_core::{Arg, Codec, Error, Job, JobBuilder, Op, Registry, TaskId, Value};
use serde::{Deserialize, Serialize};

use crate::protocol::DataKey;

/// The op of a task whose result comes from an earlier job (a future
/// passed as an argument); it never runs.
pub const EXTERNAL_OP: &str = "rask-external";

/// A function in this binary, as an offset from [`anchor`], with its tag.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct CodeRef {
    offset: u64,
    tag: u64,
}

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

/// Code references are offsets from this function.
#[inline(never)]
fn anchor() {}

const KIND_OP: u8 = 1;
const KIND_CODEC: u8 = 2;

/// The secret that makes code references unforgeable. [`Client::local`]
/// makes one and hands it to the workers it starts.
///
/// [`Client::local`]: crate::Client::local
#[derive(Clone, Copy, PartialEq, Eq)]
pub struct CodeKey {
    k0: u64,
    k1: u64,
}

impl std::fmt::Debug for CodeKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "CodeKey({:016x})", self.id())
    }
}

impl CodeKey {
    /// A fresh random key.
    pub fn random() -> std::io::Result<CodeKey> {
        let mut bytes = [0u8; 16];
        std::fs::File::open("/dev/urandom")?.read_exact(&mut bytes)?;
        let (a, b) = bytes.split_at(8);
        Ok(CodeKey {
            k0: u64::from_le_bytes(a.try_into().unwrap_or_default()),
            k1: u64::from_le_bytes(b.try_into().unwrap_or_default()),
        })
    }

    /// The key as 32 hex digits, for handing to a child process.
    pub fn to_hex(&self) -> String {
        format!("{:016x}{:016x}", self.k0, self.k1)
    }

    /// A key from [`to_hex`](Self::to_hex)'s form.
    pub fn from_hex(s: &str) -> Option<CodeKey> {
        if s.len() != 32 || !s.is_ascii() {
            return None;
        }
        Some(CodeKey {
            k0: u64::from_str_radix(&s[..16], 16).ok()?,
            k1: u64::from_str_radix(&s[16..], 16).ok()?,
        })
    }

    /// A public name of this key: workers report it so the scheduler knows
    /// which of them can run a job's code references.
    pub fn id(&self) -> u64 {
        siphash(self.k0, self.k1, b"rask code id")
    }

    fn tag(&self, kind: u8, offset: u64, name: &str) -> u64 {
        let mut msg = Vec::with_capacity(9 + name.len());
        msg.push(kind);
        msg.extend_from_slice(&offset.to_le_bytes());
        msg.extend_from_slice(name.as_bytes());
        siphash(self.k0, self.k1, &msg)
    }

    fn reference(&self, kind: u8, addr: usize, name: &str) -> CodeRef {
        let offset = addr.wrapping_sub(anchor as fn() as usize) as u64;
        CodeRef {
            offset,
            tag: self.tag(kind, offset, name),
        }
    }

    /// The address a reference stands for, if its tag is right.
    fn resolve(&self, kind: u8, code: CodeRef, name: &str) -> Option<usize> {
        let tag = self.tag(kind, code.offset, name);
        crate::protocol::ct_eq(&tag.to_le_bytes(), &code.tag.to_le_bytes())
            .then(|| (anchor as fn() as usize).wrapping_add(code.offset as usize))
    }
}

/// SipHash-2-4 of `data` under the key (k0, k1).
fn siphash(k0: u64, k1: u64, data: &[u8]) -> u64 {
    let mut v = [
        k0 ^ 0x736f_6d65_7073_6575,
        k1 ^ 0x646f_7261_6e64_6f6d,
        k0 ^ 0x6c79_6765_6e65_7261,
        k1 ^ 0x7465_6462_7974_6573,
    ];
    fn round(v: &mut [u64; 4]) {
        v[0] = v[0].wrapping_add(v[1]);
        v[1] = v[1].rotate_left(13) ^ v[0];
        v[0] = v[0].rotate_left(32);
        v[2] = v[2].wrapping_add(v[3]);
        v[3] = v[3].rotate_left(16) ^ v[2];
        v[0] = v[0].wrapping_add(v[3]);
        v[3] = v[3].rotate_left(21) ^ v[0];
        v[2] = v[2].wrapping_add(v[1]);
        v[1] = v[1].rotate_left(17) ^ v[2];
        v[2] = v[2].rotate_left(32);
    }
    let compress = |m: u64, v: &mut [u64; 4]| {
        v[3] ^= m;
        round(v);
        round(v);
        v[0] ^= m;
    };
    let mut chunks = data.chunks_exact(8);
    for c in &mut chunks {
        compress(u64::from_le_bytes(c.try_into().unwrap_or_default()), &mut v);
    }
    let mut last = (data.len() as u64) << 56;
    for (i, b) in chunks.remainder().iter().enumerate() {
        last |= u64::from(*b) << (8 * i);
    }
    compress(last, &mut v);
    v[2] ^= 0xff;
    for _ in 0..4 {
        round(&mut v);
    }
    v[0] ^ v[1] ^ v[2] ^ v[3]
}

fn net_error(message: String) -> Error {
    Error::Backend {
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
        return Err(net_error(format!(
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
            return Err(net_error(format!(
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
            net_error(format!(
                "literal #{i} (a {}) cannot leave this process (made with `local_lit` or \
                 `Local`), so its job cannot run on a cluster",
                lit.value().type_name()
            ))
        })?;
        let mut bytes = Vec::new();
        codec
            .encode(lit.value(), &mut bytes)
            .map_err(|e| net_error(format!("literal #{i}: {e}")))?;
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
    postcard::to_allocvec(&spec).map_err(|e| net_error(format!("encoding the job: {e}")))
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    #[allow(deprecated)]
    fn siphash_matches_the_reference() {
        use std::hash::Hasher;
        for len in [0usize, 1, 7, 8, 9, 15, 16, 63] {
            let data: Vec<u8> = (0..len as u8).collect();
            let mut h = std::hash::SipHasher::new_with_keys(0x0706050403020100, 0x0f0e0d0c0b0a0908);
            h.write(&data);
            assert_eq!(
                siphash(0x0706050403020100, 0x0f0e0d0c0b0a0908, &data),
                h.finish(),
                "len {len}"
            );
        }
    }

    fn square(x: &i64) -> i64 {
        x * x
    }

    fn sample() -> (Job, TaskId) {
        let mut b = JobBuilder::new();
        let sq = b.op(&Op::new("square", square));
        let add = b.op(&Op::new("add", |a: &i64, b: &i64| a + b));
        let three = b.lit(3i64);
        let t = b.task(sq, &[three]);
        let u = b.keyed_task("sum", add, &[Arg::dep(t), Arg::dep(t)]);
        (b.finish(), u)
    }

    fn run(loaded: &LoadedJob, out: TaskId) -> i64 {
        let job = &loaded.job;
        struct Memo(Vec<Option<Value>>);
        impl rask_core::Fetch for Memo {
            fn fetch(&self, t: TaskId) -> Option<&Value> {
                self.0[t.index()].as_ref()
            }
        }
        let mut memo = Memo(vec![None; job.len()]);
        for t in job.graph().task_ids() {
            memo.0[t.index()] = Some(job.execute(t, &memo).unwrap());
        }
        *memo.0[out.index()]
            .as_ref()
            .unwrap()
            .downcast_ref::<i64>()
            .unwrap()
    }

    #[test]
    fn stateless_ops_travel_by_code_reference_with_the_key() {
        let key = CodeKey::random().unwrap();
        let (job, out) = sample();
        let bytes = encode_job(&job, &[out], &[], Some(&key)).unwrap();
        let spec = decode_spec(&bytes).unwrap();
        assert_eq!(spec.task_name(out.0), "sum");
        let loaded = Loader::new(Registry::new(), Some(key)).load(&spec).unwrap();
        assert_eq!(run(&loaded, out), 18);

        // Without the key, only the registry helps, and the error names the op.
        let err = Loader::new(Registry::new(), None).load(&spec).unwrap_err();
        assert_eq!(err, "op `square` is not registered on this worker");
        // A worker with another key does not trust the references.
        let other = CodeKey::random().unwrap();
        assert!(Loader::new(Registry::new(), Some(other))
            .load(&spec)
            .is_err());
    }

    #[test]
    fn a_forged_reference_is_refused() {
        let key = CodeKey::random().unwrap();
        let (job, out) = sample();
        let bytes = encode_job(&job, &[out], &[], Some(&key)).unwrap();
        let mut spec = decode_spec(&bytes).unwrap();
        let code = spec.ops[0].code.as_mut().unwrap();
        code.offset = code.offset.wrapping_add(16);
        let err = Loader::new(Registry::new(), Some(key))
            .load(&spec)
            .unwrap_err();
        assert_eq!(err, "op `square` has a forged code reference");
    }

    #[test]
    fn named_ops_come_from_the_registry() {
        let (job, out) = sample();
        let bytes = encode_job(&job, &[out], &[], None).unwrap();
        let spec = decode_spec(&bytes).unwrap();
        let mut registry = Registry::new();
        registry.op("square", |x: &i64| x * x * 10);
        registry.op("add", |a: &i64, b: &i64| a + b);
        let loaded = Loader::new(registry, None).load(&spec).unwrap();
        assert_eq!(run(&loaded, out), 180, "the worker's own `square` ran");
    }

    #[test]
    fn local_values_cannot_be_encoded() {
        let mut b = JobBuilder::new();
        let op = b.op(&Op::local("keep", || std::rc::Rc::new(1).as_ref() + 1));
        let t = b.task(op, &[]);
        let err = encode_job(&b.finish(), &[t], &[], None).unwrap_err();
        assert!(
            err.to_string()
                .contains("op `keep` returns a value that cannot leave"),
            "{err}"
        );
    }

    #[test]
    fn malformed_specs_are_errors() {
        assert!(decode_spec(&[1, 2, 3]).is_err());
        let (job, out) = sample();
        let bytes = encode_job(&job, &[out], &[], None).unwrap();
        let mut spec = decode_spec(&bytes).unwrap();
        spec.arg_counts[0] += 5;
        let bad = postcard::to_allocvec(&spec).unwrap();
        assert_eq!(
            decode_spec(&bad).unwrap_err(),
            "malformed job spec: argument counts do not add up"
        );
    }
}
