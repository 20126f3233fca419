//! The dashboard's listener and connections, served from the scheduler's
//! own mio loop: the loop hands this module the events of its tokens, and
//! answers come from a [`Source`] (the cluster's state) read in place, so
//! serving a page takes no lock and no thread.
//!
//! Routes: `/` (and `/status`) the page, `/api/status.json`,
//! `/api/tasks.json?since=N`; anything else is 404, a method other than
//! GET or HEAD is 405, a request with a body 413.

use std::collections::HashMap;
use std::io;
use std::net::SocketAddr;
use std::time::Instant;

use mio::net::TcpListener;
use mio::{Interest, Registry, Token};

use super::http::{HttpConn, Method, ReadState, Response};

/// The page, with its script and style inline.
const PAGE: &str = include_str!("page.html");
/// Dashboard connections served at once; more are closed on accept.
const MAX_CONNS: usize = 64;

/// What the dashboard shows, computed when asked.
pub trait Source {
    /// The body of `/api/status.json`.
    fn status_json(&self) -> String;
    /// The body of `/api/tasks.json?since=N`.
    fn tasks_json(&self, since: u64) -> String;
}

/// The dashboard's listener and open connections.
#[derive(Debug)]
pub struct Dashboard {
    listener: TcpListener,
    addr: SocketAddr,
    conns: HashMap<Token, HttpConn>,
}

impl Dashboard {
    /// Serves on `listener`, registered under `token`.
    pub fn new(
        listener: std::net::TcpListener,
        registry: &Registry,
        token: Token,
    ) -> io::Result<Dashboard> {
        listener.set_nonblocking(true)?;
        let addr = listener.local_addr()?;
        let mut listener = TcpListener::from_std(listener);
        registry.register(&mut listener, token, Interest::READABLE)?;
        Ok(Dashboard {
            listener,
            addr,
            conns: HashMap::new(),
        })
    }

    /// The address it serves on.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// True if `token` is one of its connections.
    pub fn owns(&self, token: Token) -> bool {
        self.conns.contains_key(&token)
    }

    /// Accepts every waiting connection, numbering them from `next_token`.
    pub fn accept(&mut self, registry: &Registry, next_token: &mut usize) {
        loop {
            match self.listener.accept() {
                Ok((mut sock, peer)) => {
                    if self.conns.len() >= MAX_CONNS {
                        log::warn!("dashboard: refusing {peer}: already {MAX_CONNS} connections");
                        continue; // dropping the socket closes it
                    }
                    let token = Token(*next_token);
                    *next_token += 1;
                    match registry.register(
                        &mut sock,
                        token,
                        Interest::READABLE | Interest::WRITABLE,
                    ) {
                        Ok(()) => {
                            self.conns.insert(token, HttpConn::new(sock, peer));
                        }
                        Err(e) => log::warn!("dashboard: cannot register {peer}: {e}"),
                    }
                }
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => return,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => {
                    log::warn!("dashboard: accept failed: {e}");
                    return;
                }
            }
        }
    }

    /// Reads and answers what arrived on `token`.
    pub fn ready(&mut self, token: Token, registry: &Registry, source: &impl Source) {
        let Some(conn) = self.conns.get_mut(&token) else {
            return;
        };
        loop {
            let state = match conn.read() {
                Ok(state) => state,
                Err(e) => {
                    // A browser closing a tab resets its connections: no
                    // news. Anything else is worth a line.
                    if e.kind() != io::ErrorKind::ConnectionReset {
                        log::warn!(
                            "dashboard: closing connection from {}: read failed: {e}",
                            conn.peer
                        );
                    }
                    self.close(token, registry);
                    return;
                }
            };
            while let Some(request) = conn.take_request() {
                match request {
                    Ok(head) => answer(conn, &head, source),
                    Err((status, why)) => {
                        // Answered, then closed by `flush` once written.
                        conn.respond(&text(status, &format!("{status} {why}\n")), false, true);
                        log::warn!("dashboard: closing connection from {}: {why}", conn.peer);
                    }
                }
            }
            match state {
                ReadState::Full if conn.is_open() => continue,
                ReadState::Closed => {
                    // Answers already queued still go out; then close.
                    conn.finish();
                    return;
                }
                _ => return,
            }
        }
    }

    /// Writes pending responses and drops finished connections; called
    /// once per loop turn.
    pub fn flush(&mut self, registry: &Registry) {
        if self.conns.is_empty() {
            return;
        }
        let mut gone = Vec::new();
        for (token, conn) in &mut self.conns {
            if let Err(e) = conn.flush() {
                let quiet = matches!(
                    e.kind(),
                    io::ErrorKind::ConnectionReset | io::ErrorKind::BrokenPipe
                );
                if !quiet {
                    log::warn!("dashboard: closing connection from {}: {e}", conn.peer);
                }
                gone.push(*token);
            } else if conn.is_done() {
                gone.push(*token);
            }
        }
        for token in gone {
            self.close(token, registry);
        }
    }

    /// Closes connections that took too long to send a request, and idle
    /// or drained ones.
    pub fn sweep(&mut self, registry: &Registry) {
        let now = Instant::now();
        let mut slow = Vec::new();
        for (token, conn) in &mut self.conns {
            if let Some(why) = conn.expired(now) {
                slow.push((*token, conn.peer, why));
            }
        }
        for (token, peer, why) in slow {
            log::warn!("dashboard: closing connection from {peer}: {why}");
            if let Some(conn) = self.conns.get_mut(&token) {
                conn.respond(&text(408, "408 request timeout\n"), false, true);
            }
        }
        self.flush(registry);
    }

    fn close(&mut self, token: Token, registry: &Registry) {
        if let Some(mut conn) = self.conns.remove(&token) {
            let _ = registry.deregister(&mut conn.sock);
        }
    }
}

fn text(status: u16, body: &str) -> Response<'_> {
    Response {
        status,
        content_type: "text/plain; charset=utf-8",
        body: body.as_bytes(),
        extra_headers: "",
    }
}

/// Routes one request and queues the answer.
fn answer(conn: &mut HttpConn, head: &super::http::Head, source: &impl Source) {
    let head_only = head.method == Method::Head;
    if head.has_body {
        let r = text(413, "413 the dashboard takes no request body\n");
        conn.respond(&r, head_only, true);
        return;
    }
    if head.method == Method::Other {
        let r = Response {
            extra_headers: "Allow: GET, HEAD\r\n",
            ..text(405, "405 only GET and HEAD\n")
        };
        conn.respond(&r, false, !head.keep_alive);
        return;
    }
    let close = !head.keep_alive;
    match head.path.as_str() {
        "/" | "/status" | "/index.html" => {
            let r = Response {
                status: 200,
                content_type: "text/html; charset=utf-8",
                body: PAGE.as_bytes(),
                extra_headers: "",
            };
            conn.respond(&r, head_only, close);
        }
        "/api/status.json" => {
            let body = source.status_json();
            conn.respond(&json_response(body.as_bytes()), head_only, close);
        }
        "/api/tasks.json" => match since(&head.query) {
            Ok(since) => {
                let body = source.tasks_json(since);
                conn.respond(&json_response(body.as_bytes()), head_only, close);
            }
            Err(why) => conn.respond(&text(400, &why), head_only, close),
        },
        _ => conn.respond(&text(404, "404 not found\n"), head_only, close),
    }
}

fn json_response(body: &[u8]) -> Response<'_> {
    Response {
        status: 200,
        content_type: "application/json",
        body,
        extra_headers: "",
    }
}

/// The `since` parameter of a query (0 when absent).
fn since(query: &str) -> Result<u64, String> {
    for pair in query.split('&') {
        if let Some(v) = pair.strip_prefix("since=") {
            return v
                .parse()
                .map_err(|_| format!("400 since must be a whole number, not `{v}`\n"));
        }
    }
    Ok(0)
}

#[cfg(test)]
mod tests {
    use super::since;

    #[test]
    fn since_is_read_from_the_query() {
        assert_eq!(since(""), Ok(0));
        assert_eq!(since("since=42"), Ok(42));
        assert_eq!(since("x=1&since=7"), Ok(7));
        assert!(since("since=-1").is_err());
    }
}
