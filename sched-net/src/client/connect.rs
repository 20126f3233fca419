//! Opening a client: the handshake with the scheduler, the IO thread,
//! and a local cluster started for it.

use std::collections::HashMap;
use std::io;
use std::net::{SocketAddr, TcpStream as StdStream, ToSocketAddrs};
use std::sync::atomic::{AtomicBool, AtomicU32};
use std::sync::mpsc::channel;
use std::sync::{Arc, Condvar, Mutex};
use std::time::Duration;

use mio::net::TcpStream;
use mio::{Poll, Waker};
use rask_core::Error;

use super::commands::{ClusterInfo, Inner};
use super::errors::{self, net_error};
use super::io::{Io, SCHEDULER, WAKER};
use super::Client;
use crate::conn::Conn;
use crate::local::LocalCluster;
use crate::portable::CodeKey;
use crate::protocol::{Hello, Role, Welcome, DEFAULT_MAX_FRAME};

/// How a client connects.
#[derive(Clone, Debug)]
pub struct ClientOptions {
    /// The cluster's shared secret.
    pub token: Option<String>,
    /// Largest frame accepted.
    pub max_frame: usize,
    /// The code key of a local cluster
    /// ([`LocalCluster::client_options`](crate::LocalCluster::client_options)):
    /// another client in the same binary then sends stateless functions
    /// to its workers as code references, as the cluster's own client does.
    pub code_key: Option<CodeKey>,
}

impl Default for ClientOptions {
    fn default() -> Self {
        ClientOptions {
            token: None,
            max_frame: DEFAULT_MAX_FRAME,
            code_key: None,
        }
    }
}

impl Client {
    /// Connects to the scheduler at `addr` with `options` (its token).
    pub fn connect(addr: &str, options: ClientOptions) -> Result<Client, Error> {
        Client::open(addr, options, None)
    }

    /// A cluster on this machine: an embedded scheduler and worker
    /// processes re-executed from this binary (by default one per core,
    /// one thread each), stopped with no process left behind when the
    /// last clone of the client is dropped.
    pub fn local(options: crate::LocalOptions) -> Result<Client, Error> {
        let cluster = LocalCluster::start(&options)
            .map_err(|e| net_error(format!("starting a local cluster: {e}")))?;
        let client = Client::open(
            &cluster.addr().to_string(),
            cluster.client_options(),
            Some(Arc::new(cluster)),
        )?;
        client.wait_for_workers(options.workers, Duration::from_secs(30))?;
        Ok(client)
    }

    fn open(
        addr: &str,
        options: ClientOptions,
        local: Option<Arc<LocalCluster>>,
    ) -> Result<Client, Error> {
        let code_key = options.code_key;
        let target: SocketAddr = addr
            .to_socket_addrs()
            .ok()
            .and_then(|mut a| a.next())
            .ok_or_else(|| errors::unreachable(format!("no address for `{addr}`")))?;
        let no_answer = |e: io::Error| errors::unreachable(format!("scheduler at {addr}: {e}"));
        let io_err = |e: io::Error| net_error(format!("scheduler at {addr}: {e}"));
        let mut sock =
            StdStream::connect_timeout(&target, Duration::from_secs(10)).map_err(no_answer)?;
        sock.set_nodelay(true).map_err(io_err)?;
        crate::conn::send_frame(
            &mut sock,
            &Hello::new(Role::Client, options.token.as_deref()),
        )
        .map_err(no_answer)?;
        sock.set_read_timeout(Some(Duration::from_secs(30)))
            .map_err(io_err)?;
        let body = crate::conn::recv_frame(&mut sock, options.max_frame).map_err(no_answer)?;
        let id = match postcard::from_bytes::<Welcome>(&body) {
            Ok(Welcome::Accepted { id }) => id,
            Ok(Welcome::Refused { reason }) => {
                return Err(errors::refused(format!(
                    "the scheduler at {addr} refused this client: {reason}"
                )));
            }
            Err(e) => return Err(errors::unreachable(format!("bad welcome from {addr}: {e}"))),
        };
        sock.set_read_timeout(None).map_err(io_err)?;
        sock.set_nonblocking(true).map_err(io_err)?;
        let poll = Poll::new().map_err(io_err)?;
        let waker = Waker::new(poll.registry(), WAKER).map_err(io_err)?;
        let sched = Conn::register(
            TcpStream::from_std(sock),
            poll.registry(),
            SCHEDULER,
            options.max_frame,
        )
        .map_err(io_err)?;
        let (tx, rx) = channel();
        let workers = Arc::new((Mutex::new(Vec::new()), Condvar::new()));
        let info: Arc<ClusterInfo> = Arc::new((Mutex::new(None), Condvar::new()));
        let woken = Arc::new(AtomicBool::new(false));
        let mut io = Io {
            woken: woken.clone(),
            info: info.clone(),
            let_go: Vec::new(),
            poll,
            sched,
            options,
            commands: rx,
            jobs: HashMap::new(),
            workers: workers.clone(),
            peers: HashMap::new(),
            by_worker: HashMap::new(),
            next_token: 2,
            fetches: HashMap::new(),
            waiting: HashMap::new(),
            next_fetch: 0,
            asks: HashMap::new(),
            next_ask: 0,
        };
        let thread = std::thread::Builder::new()
            .name("rask-client-io".into())
            .spawn(move || io.run())
            .map_err(io_err)?;
        Ok(Client {
            inner: Arc::new(Inner {
                id,
                pid: std::process::id(),
                next_job: AtomicU32::new(1),
                commands: Mutex::new(tx),
                waker,
                woken,
                io: Mutex::new(Some(thread)),
                code_key,
                workers,
                info,
                pure: Mutex::new(HashMap::new()),
            }),
            local,
        })
    }
}
