//! One non-blocking TCP connection: frames in, frames out; and the
//! blocking frame each way of a handshake, before a socket joins a loop.

use std::io::{self, Read, Write};
use std::net::{SocketAddr, TcpStream as StdStream};

use mio::net::TcpStream;
use mio::{Interest, Registry, Token};

use crate::protocol::{Hello, Inbox, Outbox, Role};

/// A socket with its buffers.
#[derive(Debug)]
pub struct Conn {
    /// The socket.
    pub sock: TcpStream,
    /// What arrived.
    pub inbox: Inbox,
    /// What waits to go out.
    pub outbox: Outbox,
    /// The other end, for logs.
    pub peer: SocketAddr,
}

impl Conn {
    /// Wraps `sock` and registers it for reading and writing under `token`.
    pub fn register(
        mut sock: TcpStream,
        registry: &Registry,
        token: Token,
        max_frame: usize,
    ) -> io::Result<Conn> {
        let peer = sock
            .peer_addr()
            .unwrap_or_else(|_| SocketAddr::from(([0, 0, 0, 0], 0)));
        registry.register(&mut sock, token, Interest::READABLE | Interest::WRITABLE)?;
        // Small messages must not wait for the next one to fill a packet.
        let _ = sock.set_nodelay(true);
        Ok(Conn {
            sock,
            inbox: Inbox::new(max_frame),
            outbox: Outbox::new(),
            peer,
        })
    }

    /// Opens a connection to the worker at `addr` for fetching results,
    /// with its peer hello already queued.
    pub fn connect_peer(
        addr: SocketAddr,
        registry: &Registry,
        token: Token,
        max_frame: usize,
        secret: Option<&str>,
    ) -> io::Result<Conn> {
        let mut conn = Conn::register(TcpStream::connect(addr)?, registry, token, max_frame)?;
        conn.outbox.push(&Hello::new(Role::Peer, secret));
        conn.outbox.seal();
        Ok(conn)
    }

    /// Reads what arrived. `Ok(true)`: the peer closed.
    pub fn read(&mut self) -> io::Result<bool> {
        self.inbox.fill(&mut self.sock)
    }

    /// Writes what the socket takes now; the rest goes on a writable event.
    pub fn flush(&mut self) -> io::Result<()> {
        if !self.outbox.is_empty() {
            self.outbox.write_to(&mut self.sock)?;
        }
        Ok(())
    }

    /// Writes everything, waiting up to `timeout` (for a last message before
    /// closing).
    pub fn flush_all(&mut self, timeout: std::time::Duration) {
        let deadline = std::time::Instant::now() + timeout;
        while !self.outbox.is_empty() && std::time::Instant::now() < deadline {
            match self.outbox.write_to(&mut self.sock) {
                Ok(true) | Err(_) => break,
                Ok(false) => std::thread::sleep(std::time::Duration::from_micros(200)),
            }
        }
    }
}

/// Writes one frame holding `msg` on a blocking stream.
pub(crate) fn send_frame<M: serde::Serialize>(sock: &mut StdStream, msg: &M) -> io::Result<()> {
    let mut out = Outbox::new();
    out.push(msg);
    while !out.write_to(sock)? {}
    sock.flush()
}

/// Reads one frame on a blocking stream.
pub(crate) fn recv_frame(sock: &mut StdStream, max: usize) -> io::Result<Vec<u8>> {
    let mut len = [0u8; 4];
    sock.read_exact(&mut len)?;
    let len = u32::from_le_bytes(len) as usize;
    if len > max {
        return Err(io::Error::new(
            io::ErrorKind::InvalidData,
            "oversized frame",
        ));
    }
    let mut body = vec![0; len];
    sock.read_exact(&mut body)?;
    Ok(body)
}
