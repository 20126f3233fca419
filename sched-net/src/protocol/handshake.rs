//! The handshake: the [`Hello`] that opens every connection and the
//! [`Welcome`] that answers it, with what a worker says about itself.

use serde::{Deserialize, Serialize};

use super::{ct_eq, MAGIC, VERSION};

/// The first frame on every connection, from the side that connected.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Hello {
    /// [`MAGIC`].
    pub magic: [u8; 4],
    /// [`VERSION`].
    pub version: u16,
    /// Who is connecting.
    pub role: Role,
    /// The cluster's shared secret, if it has one.
    pub token: Option<String>,
}

/// Who is on the other end of a connection.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub enum Role {
    /// A client, to the scheduler.
    Client,
    /// A worker, to the scheduler.
    Worker(WorkerInfo),
    /// A worker or client fetching results from a worker.
    Peer,
}

/// What a worker tells the scheduler about itself.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct WorkerInfo {
    /// Address other workers and clients fetch its results from.
    pub listen: String,
    /// Threads executing tasks.
    pub nthreads: u32,
    /// Bytes of memory above which it takes no new task (0: no limit).
    pub memory_limit: u64,
    /// Ops of its registry, by name.
    pub ops: Vec<String>,
    /// Types it can decode, by name.
    pub codecs: Vec<String>,
    /// Identifies the binary and code key it was started with (see
    /// `portable`): set on workers that can run any stateless function
    /// of that binary.
    pub code_id: Option<u64>,
    /// Its process id, for logs.
    pub pid: u32,
    /// Abstract resources it offers (`("GPU", 2.0)`): a task asking for
    /// some runs here only while that much is free.
    pub resources: Vec<(String, f64)>,
}

/// The answer to a [`Hello`].
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum Welcome {
    /// Accepted; `id` is the new client's or worker's id (0 for peers).
    Accepted {
        /// The id.
        id: u32,
    },
    /// Refused; the connection closes after this frame.
    Refused {
        /// Why.
        reason: String,
    },
}

impl Hello {
    /// A hello for `role` with `token`.
    pub fn new(role: Role, token: Option<&str>) -> Hello {
        Hello {
            magic: MAGIC,
            version: VERSION,
            role,
            token: token.map(str::to_owned),
        }
    }

    /// Why this hello is refused by a side expecting `token`, if it is.
    pub fn refusal(&self, token: Option<&str>) -> Option<String> {
        if self.magic != MAGIC {
            return Some("not a rask peer (bad magic)".into());
        }
        if self.version != VERSION {
            return Some(format!(
                "protocol version {} is not {VERSION}",
                self.version
            ));
        }
        match (token, &self.token) {
            (None, _) => None,
            (Some(want), Some(got)) if ct_eq(want.as_bytes(), got.as_bytes()) => None,
            (Some(_), Some(_)) => Some("wrong token".into()),
            (Some(_), None) => Some("a token is required".into()),
        }
    }
}
