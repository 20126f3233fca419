//! One HTTP/1.1 connection to the dashboard, on the scheduler's mio loop.
//!
//! Requests are parsed with `httparse` from a bounded buffer; responses go
//! to an output buffer written as the socket takes it. Keep-alive follows
//! HTTP/1.1 (on unless `Connection: close`; off for HTTP/1.0 unless asked
//! for). Anything wrong — a malformed or oversized request, a body, a
//! client that does not read — ends in a response where one can be given
//! and a close of this connection only, never an error for the loop.
//!
//! Closing is graceful: after the last response the write side is shut
//! and what the client still sends is read and dropped for a moment, so
//! that unread input does not make the kernel reset the connection and
//! discard the response before the client has read it.

use std::io::{self, Read, Write};
use std::net::{Shutdown, SocketAddr};
use std::time::{Duration, Instant};

use mio::net::TcpStream;

/// Largest request head (request line and headers) accepted.
pub const MAX_HEAD: usize = 16 << 10;
/// Most headers in one request.
const MAX_HEADERS: usize = 32;
/// Most response bytes waiting for a client that does not read.
const MAX_PENDING_OUT: usize = 8 << 20;
/// A request must arrive whole this soon after its first byte.
const REQUEST_TIMEOUT: Duration = Duration::from_secs(10);
/// A kept-alive connection with no request for this long is closed.
const IDLE_TIMEOUT: Duration = Duration::from_secs(60);
/// How long a closing connection's remaining input is drained.
const DRAIN_FOR: Duration = Duration::from_secs(1);

/// The methods the dashboard answers.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Method {
    /// `GET`.
    Get,
    /// `HEAD`: the same headers, no body.
    Head,
    /// Anything else (answered 405).
    Other,
}

/// What a complete request head says, owned, so the input buffer can be
/// consumed before the response is made.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Head {
    /// The method.
    pub method: Method,
    /// The path, without the query.
    pub path: String,
    /// The query, without the `?`.
    pub query: String,
    /// Keep the connection open after the response.
    pub keep_alive: bool,
    /// It announces a body (which the dashboard never takes).
    pub has_body: bool,
}

/// The result of parsing the start of a buffer.
#[derive(Debug, PartialEq, Eq)]
pub enum Parsed {
    /// A request head of this many bytes.
    Complete(Head, usize),
    /// More bytes are needed.
    Partial,
    /// Not HTTP, or too many headers: the status to answer and why.
    Bad(u16, String),
}

/// Parses the request head at the start of `buf`.
pub fn parse(buf: &[u8]) -> Parsed {
    let mut headers = [httparse::EMPTY_HEADER; MAX_HEADERS];
    let mut req = httparse::Request::new(&mut headers);
    let len = match req.parse(buf) {
        Ok(httparse::Status::Complete(len)) => len,
        Ok(httparse::Status::Partial) => return Parsed::Partial,
        Err(httparse::Error::TooManyHeaders) => {
            return Parsed::Bad(431, format!("more than {MAX_HEADERS} headers"))
        }
        Err(e) => return Parsed::Bad(400, format!("malformed request: {e}")),
    };
    let method = match req.method {
        Some("GET") => Method::Get,
        Some("HEAD") => Method::Head,
        _ => Method::Other,
    };
    let target = req.path.unwrap_or("/");
    let (path, query) = target.split_once('?').unwrap_or((target, ""));
    let http11 = req.version == Some(1);
    let mut keep_alive = http11;
    let mut has_body = false;
    for h in req.headers.iter() {
        let value = String::from_utf8_lossy(h.value);
        if h.name.eq_ignore_ascii_case("connection") {
            for token in value.split(',').map(str::trim) {
                if token.eq_ignore_ascii_case("close") {
                    keep_alive = false;
                } else if token.eq_ignore_ascii_case("keep-alive") {
                    keep_alive = true;
                }
            }
        } else if h.name.eq_ignore_ascii_case("transfer-encoding")
            || (h.name.eq_ignore_ascii_case("content-length") && value.trim() != "0")
        {
            has_body = true;
        }
    }
    Parsed::Complete(
        Head {
            method,
            path: path.to_owned(),
            query: query.to_owned(),
            keep_alive,
            has_body,
        },
        len,
    )
}

/// Where a connection is in its life.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Phase {
    /// Reading requests and answering them.
    Open,
    /// The last response is queued; close once it is written.
    Closing,
    /// Written and shut for writing; input is dropped until EOF or
    /// `DRAIN_FOR` after this instant.
    Draining(Instant),
    /// Done: the server drops it.
    Done,
}

/// Why [`HttpConn::read`] stopped.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ReadState {
    /// The socket has nothing more now.
    Drained,
    /// The input buffer is full: answer what is in it, then read again.
    Full,
    /// The client closed its side.
    Closed,
}

/// A response to queue.
#[derive(Debug)]
pub struct Response<'a> {
    /// Status code.
    pub status: u16,
    /// `Content-Type`.
    pub content_type: &'a str,
    /// The body.
    pub body: &'a [u8],
    /// Extra header lines, each ending in `\r\n`.
    pub extra_headers: &'a str,
}

/// A dashboard connection.
#[derive(Debug)]
pub struct HttpConn {
    /// The socket.
    pub sock: TcpStream,
    /// The client, for logs.
    pub peer: SocketAddr,
    input: Vec<u8>,
    output: Vec<u8>,
    /// Bytes of `output` already written.
    written: usize,
    phase: Phase,
    /// When the connection last finished a request (or opened).
    idle_since: Instant,
    /// When the first byte of the request being read arrived.
    request_since: Option<Instant>,
}

impl HttpConn {
    /// Wraps an accepted socket.
    pub fn new(sock: TcpStream, peer: SocketAddr) -> HttpConn {
        HttpConn {
            sock,
            peer,
            input: Vec::new(),
            output: Vec::new(),
            written: 0,
            phase: Phase::Open,
            idle_since: Instant::now(),
            request_since: None,
        }
    }

    /// True once the connection can be dropped.
    pub fn is_done(&self) -> bool {
        self.phase == Phase::Done
    }

    /// True while requests are read and answered.
    pub fn is_open(&self) -> bool {
        self.phase == Phase::Open
    }

    /// Reads what the socket has, stopping when a request head's worth of
    /// bytes waits unparsed.
    pub fn read(&mut self) -> io::Result<ReadState> {
        let mut chunk = [0u8; 4096];
        loop {
            if let Phase::Draining(_) = self.phase {
                match self.sock.read(&mut chunk) {
                    Ok(0) => {
                        self.phase = Phase::Done;
                        return Ok(ReadState::Closed);
                    }
                    Ok(_) => continue,
                    Err(e) if e.kind() == io::ErrorKind::WouldBlock => {
                        return Ok(ReadState::Drained)
                    }
                    Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                    Err(e) => return Err(e),
                }
            }
            // The caller answers what is buffered, then reads on; a head
            // this large unparsed is answered 431.
            if self.input.len() > MAX_HEAD {
                return Ok(ReadState::Full);
            }
            match self.sock.read(&mut chunk) {
                Ok(0) => return Ok(ReadState::Closed),
                Ok(n) => {
                    self.request_since.get_or_insert_with(Instant::now);
                    self.input.extend_from_slice(&chunk[..n]);
                }
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => return Ok(ReadState::Drained),
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => return Err(e),
            }
        }
    }

    /// The next complete request in the input, consumed; `Err` holds the
    /// status to answer and why (the connection then closes).
    pub fn take_request(&mut self) -> Option<Result<Head, (u16, String)>> {
        if !self.is_open() || self.input.is_empty() {
            return None;
        }
        match parse(&self.input) {
            Parsed::Complete(head, len) => {
                self.input.drain(..len);
                self.request_since = (!self.input.is_empty()).then(Instant::now);
                self.idle_since = Instant::now();
                Some(Ok(head))
            }
            Parsed::Partial if self.input.len() > MAX_HEAD => {
                Some(Err((431, format!("request head above {MAX_HEAD} bytes"))))
            }
            Parsed::Partial => None,
            Parsed::Bad(status, why) => Some(Err((status, why))),
        }
    }

    /// Queues a response; `close` makes it the last one.
    pub fn respond(&mut self, r: &Response<'_>, head_only: bool, close: bool) {
        let head = format!(
            "HTTP/1.1 {} {}\r\nContent-Type: {}\r\nContent-Length: {}\r\n\
             Cache-Control: no-store\r\nX-Content-Type-Options: nosniff\r\n\
             Connection: {}\r\n{}\r\n",
            r.status,
            reason(r.status),
            r.content_type,
            r.body.len(),
            if close { "close" } else { "keep-alive" },
            r.extra_headers,
        );
        self.output.extend_from_slice(head.as_bytes());
        if !head_only {
            self.output.extend_from_slice(r.body);
        }
        if close {
            self.phase = Phase::Closing;
        }
    }

    /// The client closed its side: close once what is queued is written.
    pub fn finish(&mut self) {
        match self.phase {
            Phase::Open => self.phase = Phase::Closing,
            Phase::Draining(_) => self.phase = Phase::Done,
            Phase::Closing | Phase::Done => {}
        }
    }

    /// Bytes queued and not yet written.
    pub fn pending_out(&self) -> usize {
        self.output.len() - self.written
    }

    /// Writes what the socket takes; moves a closing connection on once
    /// everything is out.
    pub fn flush(&mut self) -> io::Result<()> {
        while self.written < self.output.len() {
            match self.sock.write(&self.output[self.written..]) {
                Ok(0) => return Err(io::ErrorKind::WriteZero.into()),
                Ok(n) => self.written += n,
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => break,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => return Err(e),
            }
        }
        if self.written == self.output.len() {
            self.output.clear();
            self.written = 0;
            if self.phase == Phase::Closing {
                let _ = self.sock.shutdown(Shutdown::Write);
                self.phase = Phase::Draining(Instant::now());
                self.input = Vec::new();
            }
        } else if self.pending_out() > MAX_PENDING_OUT {
            return Err(io::Error::other(format!(
                "more than {MAX_PENDING_OUT} bytes of responses unread"
            )));
        }
        Ok(())
    }

    /// Why this connection should be closed now, if it should.
    pub fn expired(&mut self, now: Instant) -> Option<&'static str> {
        match self.phase {
            Phase::Draining(since) if now.duration_since(since) > DRAIN_FOR => {
                self.phase = Phase::Done;
                None
            }
            Phase::Open => match self.request_since {
                Some(t) if now.duration_since(t) > REQUEST_TIMEOUT => {
                    Some("no complete request in time")
                }
                None if now.duration_since(self.idle_since) > IDLE_TIMEOUT
                    && self.pending_out() == 0 =>
                {
                    self.phase = Phase::Done;
                    None
                }
                _ => None,
            },
            _ => None,
        }
    }
}

fn reason(status: u16) -> &'static str {
    match status {
        200 => "OK",
        400 => "Bad Request",
        404 => "Not Found",
        405 => "Method Not Allowed",
        408 => "Request Timeout",
        413 => "Content Too Large",
        431 => "Request Header Fields Too Large",
        503 => "Service Unavailable",
        _ => "Error",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_heads_and_keep_alive() {
        let req = b"GET /api/tasks.json?since=5 HTTP/1.1\r\nHost: x\r\n\r\nGET";
        match parse(req) {
            Parsed::Complete(head, len) => {
                assert_eq!(len, req.len() - 3);
                assert_eq!(head.method, Method::Get);
                assert_eq!(head.path, "/api/tasks.json");
                assert_eq!(head.query, "since=5");
                assert!(head.keep_alive);
                assert!(!head.has_body);
            }
            other => panic!("{other:?}"),
        }
        let Parsed::Complete(head, _) = parse(b"HEAD / HTTP/1.0\r\nConnection: keep-alive\r\n\r\n")
        else {
            panic!()
        };
        assert_eq!(head.method, Method::Head);
        assert!(head.keep_alive);
        let Parsed::Complete(head, _) =
            parse(b"POST / HTTP/1.1\r\nConnection: close\r\nContent-Length: 3\r\n\r\nabc")
        else {
            panic!()
        };
        assert_eq!(head.method, Method::Other);
        assert!(!head.keep_alive);
        assert!(head.has_body);
        let Parsed::Complete(head, _) = parse(b"GET / HTTP/1.0\r\n\r\n") else {
            panic!()
        };
        assert!(!head.keep_alive);
    }

    #[test]
    fn refuses_garbage_and_waits_for_partial_heads() {
        assert_eq!(parse(b"GET / HTTP/1.1\r\nHost"), Parsed::Partial);
        assert!(matches!(
            parse(b"\x00\x01garbage\r\n\r\n"),
            Parsed::Bad(400, _)
        ));
        let mut many = b"GET / HTTP/1.1\r\n".to_vec();
        for i in 0..40 {
            many.extend_from_slice(format!("X-{i}: y\r\n").as_bytes());
        }
        many.extend_from_slice(b"\r\n");
        assert!(matches!(parse(&many), Parsed::Bad(431, _)));
    }
}
