//! The wire protocol: frames, the handshake and the messages of each role.
//! `README.md` beside this file is its specification.
//!
//! A frame is a little-endian `u32` body length, then the body: one or more
//! postcard-encoded messages back to back, so that whatever a loop turn
//! produced for one peer goes out as one frame in one write. Byte payloads
//! in messages (job specs) are `serde_bytes` fields decoded as slices
//! borrowed from the receive buffer: no copy between the socket and the
//! decoder. Results travel outside frames, as bulk payloads read straight
//! into a buffer of their size ([`fetching`]).

pub(crate) mod fetching;
mod frame;

pub use frame::{ct_eq, messages, FrameError, Inbox, Outbox};

use serde::{Deserialize, Serialize};

/// The first four bytes of every hello.
pub const MAGIC: [u8; 4] = *b"RASK";
/// Bumped on any change of the messages below that an older peer would
/// decode differently; see "Compatibility" in `README.md`.
pub const VERSION: u16 = 6;
/// Largest frame body accepted unless configured otherwise.
pub const DEFAULT_MAX_FRAME: usize = 256 << 20;

mod handshake;
mod ids;

pub use handshake::{Hello, Role, Welcome, WorkerInfo};
pub use ids::{JobId, WorkerId};

/// Where a result lives: the task that made it, in the job it belongs to.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub struct DataKey {
    /// The job.
    pub job: JobId,
    /// The task, within its job.
    pub task: u32,
}

/// Worker to scheduler.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub enum FromWorker {
    /// A task finished; its result (`bytes` long, encoded) stays on the worker.
    Done {
        /// Which result.
        key: DataKey,
        /// Its encoded size.
        bytes: u64,
        /// How long, when and where it ran.
        run: RunTime,
    },
    /// A task failed.
    Failed {
        /// The task.
        key: DataKey,
        /// What went wrong.
        message: String,
        /// The inner (key, op) that failed, inside a fused task.
        origin: Option<(String, String)>,
        /// How long, when and where it ran; `None` if it never started
        /// (its job or an input could not be loaded).
        run: Option<RunTime>,
    },
    /// An input of `key` could not be fetched from any holder.
    Missing {
        /// The task that could not start.
        key: DataKey,
        /// The input it lacked.
        input: DataKey,
    },
    /// A queued task given back after a [`ToWorker::Steal`].
    Returned {
        /// The task.
        key: DataKey,
    },
    /// This worker now holds a copy of `key`, after a
    /// [`ToWorker::Replicate`].
    Replicated {
        /// The result.
        key: DataKey,
    },
    /// A worker's heartbeat: memory and load.
    Status {
        /// Resident memory, bytes.
        memory: u64,
        /// Tasks executing now.
        executing: u32,
        /// Tasks waiting on the worker (for a thread or for inputs).
        queued: u32,
        /// Above its memory limit: takes no new task.
        paused: bool,
        /// CPU time used since the last heartbeat, per mille of one core
        /// (2000: two cores busy).
        cpu_permille: u32,
        /// Bytes of results spilled to its local directory.
        spilled: u64,
    },
}

/// Client to scheduler.
///
/// On the wire its variants are numbered after [`FromWorker`]'s: the
/// first six numbers are held by variants that can have no value, so a
/// worker's message read on a client's connection (or a client's on a
/// worker's) is a malformed frame, never a message of the other role.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
// The placeholders are never built: they only hold wire numbers.
#[allow(dead_code)]
pub enum FromClient<'a> {
    #[doc(hidden)]
    WorkerDone(Unsent),
    #[doc(hidden)]
    WorkerFailed(Unsent),
    #[doc(hidden)]
    WorkerMissing(Unsent),
    #[doc(hidden)]
    WorkerReturned(Unsent),
    #[doc(hidden)]
    WorkerReplicated(Unsent),
    #[doc(hidden)]
    WorkerStatus(Unsent),
    /// A client submits a job: a [`JobSpec`](crate::portable::JobSpec), encoded.
    Submit {
        /// The job's id.
        job: JobId,
        /// The encoded spec.
        #[serde(borrow, with = "serde_bytes")]
        spec: &'a [u8],
    },
    /// The client no longer needs this job's results.
    Release {
        /// The job.
        job: JobId,
    },
    /// The client no longer needs these outputs of a job (the others
    /// stay): each goes once the job has finished, unless a dataset, a
    /// queue or a later job holds it.
    ReleaseOutputs {
        /// The job.
        job: JobId,
        /// Its output tasks.
        tasks: Vec<u32>,
    },
    /// Run this job to its end even if the client releases it or goes
    /// away (`fire_and_forget`); its results go once it has finished.
    Forget {
        /// The job.
        job: JobId,
    },
    /// A client's question about datasets or about where results are,
    /// answered by [`ToClient::Reply`] with the same `request`.
    Ask {
        /// Chosen by the client, echoed in the reply.
        request: u64,
        /// What to do.
        op: AskOp,
    },
    /// A client's request about a named queue, answered by
    /// [`ToClient::Reply`] with the same `request`.
    Queue {
        /// Chosen by the client, echoed in the reply.
        request: u64,
        /// The queue.
        name: String,
        /// What to do.
        #[serde(borrow)]
        op: QueueOp<'a>,
    },
}

/// A value that cannot exist: it fills the wire numbers of one role's
/// messages in the other role's enum, and fails to decode.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Unsent {}

impl Serialize for Unsent {
    fn serialize<S: serde::Serializer>(&self, _: S) -> Result<S::Ok, S::Error> {
        match *self {}
    }
}

impl<'de> Deserialize<'de> for Unsent {
    fn deserialize<D: serde::Deserializer<'de>>(_: D) -> Result<Unsent, D::Error> {
        // serde's `skip` would renumber the variants after it when
        // decoding (not when encoding), so the placeholders are decoded
        // and refused here instead.
        Err(serde::de::Error::custom(
            "a message of the other role on this connection",
        ))
    }
}

/// How a task ran, for the dashboard's task stream: three varints, a few
/// bytes per task. The worker's clock is not the scheduler's, so times are
/// relative to the message: the scheduler places the end `ago_us` before
/// it read the message (the loopback or LAN trip is ignored) and the start
/// `nanos` before that.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct RunTime {
    /// How long the task ran, including encoding its result.
    pub nanos: u64,
    /// Microseconds from the task's end to the message being queued.
    pub ago_us: u32,
    /// The executor thread that ran it, from 0.
    pub thread: u16,
}

/// What a client asks of the scheduler besides its queues: its named
/// datasets, and copies of results. A dataset is a list of results, each
/// with its type's name; it keeps them on the cluster, whoever published
/// it, until it is unpublished.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum AskOp {
    /// Name these results; a taken name is an error unless `replace`.
    Publish {
        /// The name.
        name: String,
        /// The results, each with its type's name.
        keys: Vec<(DataKey, String)>,
        /// Replace a dataset of the same name.
        replace: bool,
    },
    /// Forget a name; its results go when nothing else holds them.
    Unpublish {
        /// The name.
        name: String,
    },
    /// Every name.
    List,
    /// The results named `name`.
    Get {
        /// The name.
        name: String,
    },
    /// Copy finished results to more workers: until each is on `n`
    /// workers (0: on every worker). Answered once the copies are asked
    /// for; [`AskOp::WhoHas`] tells when they are made.
    Replicate {
        /// The results.
        keys: Vec<DataKey>,
        /// Workers each should be on; 0 for all.
        n: u32,
    },
    /// The workers holding each of these results (none: not on the
    /// cluster).
    WhoHas {
        /// The results.
        keys: Vec<DataKey>,
    },
}

/// What a client asks of a named queue. A queue is created by its first
/// use and holds, first in first out, results on the cluster (held there
/// while queued, as a dataset holds them) or small encoded values.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum QueueOp<'a> {
    /// Appends an item.
    Put(#[serde(borrow)] QueuedRef<'a>),
    /// Takes the oldest item if it is of type `type_name`; with none,
    /// waits up to `timeout_ms` for one (answered `Empty` then).
    Get {
        /// The type the client will decode.
        type_name: String,
        /// How long to wait for an item, milliseconds.
        timeout_ms: u64,
    },
    /// How many items wait.
    Size,
}

/// An item put on a queue, borrowing the frame.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum QueuedRef<'a> {
    /// A result on the cluster, with its type's name.
    Key(DataKey, &'a str),
    /// An encoded value, with its type's name.
    Value(#[serde(with = "serde_bytes")] &'a [u8], &'a str),
}

/// An item taken from a queue.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum Queued {
    /// A result on the cluster: the scheduler holds it for the client
    /// that took it until that client's next job referring to it is in,
    /// or the client goes.
    Key(DataKey),
    /// An encoded value.
    Value(#[serde(with = "serde_bytes")] Vec<u8>),
}

/// The scheduler's answer to an [`AskOp`] or a [`QueueOp`].
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum Answer {
    /// Done.
    Done,
    /// The names, sorted.
    Names(Vec<String>),
    /// A dataset's results, each with its type's name.
    Keys(Vec<(DataKey, String)>),
    /// Refused: why, naming the dataset or queue.
    Error(String),
    /// The item taken from a queue.
    Item(Queued),
    /// No item came within the timeout.
    Empty,
    /// How many items a queue holds.
    Size(u64),
    /// The workers holding each result asked about.
    Holders(Vec<Vec<WorkerId>>),
}

/// Scheduler to worker.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum ToWorker<'a> {
    /// A job's spec, sent once before its first task.
    Job {
        /// The job.
        job: JobId,
        /// The encoded spec.
        #[serde(borrow, with = "serde_bytes")]
        spec: &'a [u8],
    },
    /// Run a task; inputs not here are fetched from the workers named.
    Run {
        /// The task.
        key: DataKey,
        /// Lower runs first: the job's user priority (negated, biased)
        /// in the high 32 bits, the task's order in its graph below.
        priority: u64,
        /// Inputs held elsewhere, with a worker holding each.
        fetch: Vec<(DataKey, WorkerId)>,
    },
    /// Drop these results.
    Release {
        /// The results.
        keys: Vec<DataKey>,
    },
    /// Fetch this result from worker `from` and hold a copy of it as if
    /// made here (answered with [`FromWorker::Replicated`]).
    Replicate {
        /// The result.
        key: DataKey,
        /// A worker holding it.
        from: WorkerId,
    },
    /// Forget a job: its spec, its queued tasks and every result of it.
    DropJob {
        /// The job.
        job: JobId,
    },
    /// Give back up to `max` tasks that have not started.
    Steal {
        /// How many at most.
        max: u32,
    },
    /// Workers that joined (id, address) or left, and how often to send
    /// heartbeats now: sent whenever the membership changes.
    Peers {
        /// Joined.
        add: Vec<(WorkerId, String)>,
        /// Left.
        remove: Vec<WorkerId>,
        /// The heartbeat interval, in milliseconds.
        heartbeat_ms: u32,
    },
    /// Exit.
    Shutdown,
    /// Part of the fetch list of task `key`, whose `Run` (with the rest)
    /// follows: a task with millions of inputs is sent in parts.
    Fetch {
        /// The task.
        key: DataKey,
        /// Inputs held elsewhere, with a worker holding each.
        fetch: Vec<(DataKey, WorkerId)>,
    },
}

/// Scheduler to client.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum ToClient {
    /// Workers that joined (id, address) or left.
    Workers {
        /// Joined.
        add: Vec<(WorkerId, String)>,
        /// Left.
        remove: Vec<WorkerId>,
    },
    /// A job finished: where each output is.
    Done {
        /// The job.
        job: JobId,
        /// (output task, a worker holding it).
        outputs: Vec<(u32, WorkerId)>,
    },
    /// A job failed.
    Failed {
        /// The job.
        job: JobId,
        /// Why.
        error: WireError,
    },
    /// About the cluster, sent once after the welcome.
    Cluster {
        /// The dashboard's address (`host:port`), if it has one.
        dashboard: Option<String>,
    },
    /// The answer to a [`FromClient::Ask`] or
    /// [`FromClient::Queue`] request.
    Reply {
        /// The request's number.
        request: u64,
        /// The answer.
        reply: Answer,
    },
    /// A job is admitted but the cluster has no worker to run it: it
    /// starts once one joins. Sent when the job is admitted with no worker
    /// connected, and again for each unfinished job whenever the last
    /// worker leaves; the next [`ToClient::Workers`] that adds a worker
    /// ends the wait.
    Waiting {
        /// The job.
        job: JobId,
    },
}

/// Why a job failed, as it crosses the wire.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum WireError {
    /// A task failed.
    Task {
        /// The task's key.
        key: String,
        /// Its op.
        op: String,
        /// What went wrong.
        message: String,
    },
    /// A task was on `workers` workers that died.
    KilledWorker {
        /// The task's key.
        key: String,
        /// Its op.
        op: String,
        /// How many died.
        workers: u32,
    },
    /// No worker can run this op.
    UnknownOp {
        /// A task using it.
        key: String,
        /// The op.
        op: String,
    },
    /// The job was refused or could not go on (a malformed spec, an invalid
    /// graph, a lost result that cannot be recomputed).
    Refused {
        /// Why.
        message: String,
    },
}

/// Worker or client to worker, and the answers.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum PeerMsg {
    /// Send these results.
    Get {
        /// The results.
        keys: Vec<DataKey>,
    },
    /// A result: its encoding is the bulk payload right before this
    /// message's frame ([`Outbox::push_bulk`]), so that a result of any
    /// size moves without a frame of its size.
    Data {
        /// Which.
        key: DataKey,
    },
    /// This worker does not hold that result.
    Missing {
        /// Which.
        key: DataKey,
    },
}

/// The priority a worker sorts a task by (lower first): the job's user
/// priority (higher first, as Dask's) above the task's place in its
/// graph's order.
pub fn run_priority(user: i32, order: u32) -> u64 {
    let rank = !((user as u32) ^ 0x8000_0000);
    (u64::from(rank) << 32) | u64::from(order)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn higher_user_priority_sorts_first() {
        assert!(run_priority(10, 5) < run_priority(0, 0));
        assert!(run_priority(0, 0) < run_priority(0, 1));
        assert!(run_priority(i32::MAX, u32::MAX) < run_priority(i32::MIN, 0));
        assert!(run_priority(-1, 7) > run_priority(0, 7));
    }

    #[test]
    fn hello_refusals_name_the_reason() {
        let hello = Hello::new(Role::Client, Some("s3cret"));
        assert_eq!(hello.refusal(Some("s3cret")), None);
        assert_eq!(hello.refusal(None), None);
        assert_eq!(hello.refusal(Some("other")).as_deref(), Some("wrong token"));
        let bare = Hello::new(Role::Client, None);
        assert_eq!(
            bare.refusal(Some("x")).as_deref(),
            Some("a token is required")
        );
        let old = Hello {
            version: 0,
            ..bare.clone()
        };
        assert_eq!(
            old.refusal(None),
            Some(format!("protocol version 0 is not {VERSION}"))
        );
        let alien = Hello {
            magic: *b"HTTP",
            ..bare
        };
        assert_eq!(
            alien.refusal(None).as_deref(),
            Some("not a rask peer (bad magic)")
        );
    }

    /// How many variants [`FromWorker`] has: the wire numbers that
    /// [`FromClient`] leaves to it.
    const WORKER_MESSAGES: u32 = 6;

    fn key() -> DataKey {
        DataKey {
            job: JobId::from(7 << 32 | 1),
            task: 3,
        }
    }

    /// Each worker message's wire number. The match has no wildcard, so a
    /// variant added to [`FromWorker`] fails to compile here until it is
    /// numbered, listed below, and given a placeholder in [`FromClient`].
    fn wire_number(msg: &FromWorker) -> u32 {
        match msg {
            FromWorker::Done { .. } => 0,
            FromWorker::Failed { .. } => 1,
            FromWorker::Missing { .. } => 2,
            FromWorker::Returned { .. } => 3,
            FromWorker::Replicated { .. } => 4,
            FromWorker::Status { .. } => 5,
        }
    }

    fn worker_messages() -> Vec<FromWorker> {
        let key = key();
        vec![
            FromWorker::Done {
                key,
                bytes: 8,
                run: RunTime::default(),
            },
            FromWorker::Failed {
                key,
                message: "boom".into(),
                origin: Some(("k".into(), "op".into())),
                run: None,
            },
            FromWorker::Missing { key, input: key },
            FromWorker::Returned { key },
            FromWorker::Replicated { key },
            FromWorker::Status {
                memory: 1,
                executing: 2,
                queued: 3,
                paused: false,
                cpu_permille: 4,
                spilled: 5,
            },
        ]
    }

    fn client_messages(spec: &[u8]) -> Vec<FromClient<'_>> {
        let job = key().job;
        vec![
            FromClient::Submit { job, spec },
            FromClient::Release { job },
            FromClient::ReleaseOutputs {
                job,
                tasks: vec![1, 2],
            },
            FromClient::Forget { job },
            FromClient::Ask {
                request: 9,
                op: AskOp::List,
            },
            FromClient::Queue {
                request: 10,
                name: "q".into(),
                op: QueueOp::Size,
            },
        ]
    }

    /// The scheduler decodes a connection's frames by its role, so a
    /// message of the other role must not read as one of this role's.
    #[test]
    fn a_message_of_one_role_is_malformed_as_the_others() {
        let workers = worker_messages();
        assert_eq!(workers.len() as u32, WORKER_MESSAGES);
        for msg in &workers {
            let bytes = postcard::to_allocvec(msg).unwrap();
            assert_eq!(u32::from(bytes[0]), wire_number(msg));
            assert_eq!(postcard::from_bytes::<FromWorker>(&bytes).unwrap(), *msg);
            let as_client: Vec<_> = messages::<FromClient>(&bytes).collect();
            assert!(
                matches!(as_client.as_slice(), [Err(FrameError::Malformed(_))]),
                "{msg:?} read as {as_client:?}"
            );
        }
        let spec = [1u8, 2, 3];
        for (i, msg) in client_messages(&spec).iter().enumerate() {
            let bytes = postcard::to_allocvec(msg).unwrap();
            assert_eq!(
                u32::from(bytes[0]),
                WORKER_MESSAGES + i as u32,
                "client messages are numbered after the worker's"
            );
            assert_eq!(postcard::from_bytes::<FromClient>(&bytes).unwrap(), *msg);
            let as_worker: Vec<_> = messages::<FromWorker>(&bytes).collect();
            assert!(
                matches!(as_worker.as_slice(), [Err(FrameError::Malformed(_))]),
                "{msg:?} read as {as_worker:?}"
            );
        }
    }

    /// A peer of another version must still read why it is refused: the
    /// hello and the welcome keep their encoding across versions.
    #[test]
    fn the_handshake_encoding_is_the_same_in_every_version() {
        let hello = Hello {
            version: 4,
            ..Hello::new(Role::Client, None)
        };
        assert_eq!(
            postcard::to_allocvec(&hello).unwrap(),
            [b'R', b'A', b'S', b'K', 4, 0, 0]
        );
        let refused = Welcome::Refused {
            reason: "no".into(),
        };
        assert_eq!(postcard::to_allocvec(&refused).unwrap(), [1, 2, b'n', b'o']);
        assert_eq!(
            postcard::to_allocvec(&Welcome::Accepted { id: 3 }).unwrap(),
            [0, 3]
        );
    }
}
