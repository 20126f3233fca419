//! A tiny HTTP/1.1 client over `std::net` for the tests: one request per
//! connection (`Connection: close`), bodies framed by `Content-Length`,
//! chunked encoding or the end of the stream.

#![allow(dead_code)] // each test file uses part of it

use std::io::{self, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::time::Duration;

/// A response.
#[derive(Debug)]
pub struct Response {
    pub status: u16,
    /// Header names lower-cased.
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

impl Response {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
    }

    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }
}

/// Sends one request to `addr` and reads the whole response (10 s limit).
pub fn request(
    addr: SocketAddr,
    method: &str,
    path: &str,
    body: Option<&str>,
) -> io::Result<Response> {
    let mut sock = TcpStream::connect_timeout(&addr, Duration::from_secs(5))?;
    sock.set_read_timeout(Some(Duration::from_secs(10)))?;
    let mut req = format!("{method} {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n");
    if let Some(b) = body {
        req += &format!(
            "Content-Type: application/json\r\nContent-Length: {}\r\n",
            b.len()
        );
    }
    req += "\r\n";
    req += body.unwrap_or("");
    sock.write_all(req.as_bytes())?;
    // Servers may keep the connection open regardless, so the response
    // ends where its framing says, or at the end of the stream.
    let mut raw = Vec::new();
    let mut buf = [0u8; 8192];
    loop {
        if method == "HEAD" {
            if let Some(end) = raw.windows(4).position(|w| w == b"\r\n\r\n") {
                let mut r = parse_response(&raw[..end + 4]).or_else(|_| {
                    // No body follows a HEAD answer whatever its length says.
                    let mut head = raw[..end + 4].to_vec();
                    head.extend(std::iter::repeat_n(0, 1 << 20));
                    parse_response(&head)
                })?;
                r.body.clear();
                return Ok(r);
            }
        } else if let Some(r) = complete(&raw) {
            return r;
        }
        match sock.read(&mut buf)? {
            0 => return parse_response(&raw),
            n => raw.extend_from_slice(&buf[..n]),
        }
    }
}

/// The response in `raw` if it is complete by its own framing.
fn complete(raw: &[u8]) -> Option<io::Result<Response>> {
    let end = raw.windows(4).position(|w| w == b"\r\n\r\n")?;
    let head = String::from_utf8_lossy(&raw[..end]).to_ascii_lowercase();
    let rest = &raw[end + 4..];
    let length = head
        .lines()
        .find_map(|l| l.strip_prefix("content-length:"))
        .and_then(|v| v.trim().parse::<usize>().ok());
    let done = match length {
        Some(len) => rest.len() >= len,
        None if head.contains("chunked") => rest.ends_with(b"0\r\n\r\n"),
        None => false,
    };
    done.then(|| parse_response(raw))
}
/// `GET path`, which must answer 200; the body as text.
pub fn get(addr: SocketAddr, path: &str) -> String {
    let r = request(addr, "GET", path, None).unwrap();
    assert_eq!(r.status, 200, "GET {path}: {}", r.text());
    r.text()
}

/// Parses one response from `raw`.
pub fn parse_response(raw: &[u8]) -> io::Result<Response> {
    let bad = |why: &str| io::Error::new(io::ErrorKind::InvalidData, why.to_owned());
    let end = raw
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .ok_or_else(|| bad("no end of headers"))?;
    let head = String::from_utf8_lossy(&raw[..end]);
    let mut lines = head.split("\r\n");
    let status: u16 = lines
        .next()
        .and_then(|l| l.split(' ').nth(1))
        .and_then(|s| s.parse().ok())
        .ok_or_else(|| bad("no status"))?;
    let headers: Vec<(String, String)> = lines
        .filter_map(|l| l.split_once(':'))
        .map(|(n, v)| (n.trim().to_ascii_lowercase(), v.trim().to_owned()))
        .collect();
    let rest = &raw[end + 4..];
    let find = |n: &str| headers.iter().find(|(h, _)| h == n).map(|(_, v)| v.clone());
    let body = if let Some(len) = find("content-length") {
        let len: usize = len.parse().map_err(|_| bad("bad length"))?;
        rest.get(..len).ok_or_else(|| bad("short body"))?.to_vec()
    } else if find("transfer-encoding").is_some_and(|v| v.contains("chunked")) {
        dechunk(rest).ok_or_else(|| bad("bad chunked body"))?
    } else {
        rest.to_vec()
    };
    Ok(Response {
        status,
        headers,
        body,
    })
}

fn dechunk(mut rest: &[u8]) -> Option<Vec<u8>> {
    let mut out = Vec::new();
    loop {
        let eol = rest.windows(2).position(|w| w == b"\r\n")?;
        let size_line = std::str::from_utf8(&rest[..eol]).ok()?;
        let size = usize::from_str_radix(size_line.split(';').next()?.trim(), 16).ok()?;
        rest = &rest[eol + 2..];
        if size == 0 {
            return Some(out);
        }
        out.extend_from_slice(rest.get(..size)?);
        rest = rest.get(size + 2..)?;
    }
}
