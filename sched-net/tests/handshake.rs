//! The handshake and the rule that each role speaks only its own messages,
//! byte by byte as a peer of another build would send them: a
//! `rask-scheduler` on 127.0.0.1 and raw TCP, no rask code on our side, so
//! the bytes below are the wire format of protocol version 6.

mod common;

use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::Duration;

use common::scheduler;

/// A frame: the little-endian length, then the body.
fn frame(body: &[u8]) -> Vec<u8> {
    let mut out = (body.len() as u32).to_le_bytes().to_vec();
    out.extend_from_slice(body);
    out
}

/// A hello of protocol `version` for `role` (its encoded bytes) with
/// token `t`.
fn hello(version: u8, role: &[u8]) -> Vec<u8> {
    let mut body = b"RASK".to_vec();
    body.push(version);
    body.extend_from_slice(role);
    body.extend_from_slice(&[1, 1, b't']);
    frame(&body)
}

const CLIENT: &[u8] = &[0];

/// `Role::Worker` with a `WorkerInfo`: listening on 127.0.0.1:1, one
/// thread, no memory limit, no ops, codecs or code id, pid 1, no resources.
fn worker_role() -> Vec<u8> {
    let listen = b"127.0.0.1:1";
    let mut role = vec![1, listen.len() as u8];
    role.extend_from_slice(listen);
    role.extend_from_slice(&[1, 0, 0, 0, 0, 1, 0]);
    role
}

/// Connects and sends `bytes`.
fn send(addr: &str, bytes: &[u8]) -> TcpStream {
    let mut sock = TcpStream::connect(addr).unwrap();
    sock.set_read_timeout(Some(Duration::from_secs(10)))
        .unwrap();
    sock.write_all(bytes).unwrap();
    sock
}

/// The body of the next frame.
fn read_frame(sock: &mut TcpStream) -> Vec<u8> {
    let mut len = [0u8; 4];
    sock.read_exact(&mut len).unwrap();
    let mut body = vec![0u8; u32::from_le_bytes(len) as usize];
    sock.read_exact(&mut body).unwrap();
    body
}

/// True once the scheduler has closed `sock`, after whatever it still sent.
fn closed_by_server(sock: &mut TcpStream) -> bool {
    let mut buf = [0u8; 4096];
    for _ in 0..1000 {
        match sock.read(&mut buf) {
            Ok(0) => return true,
            Ok(_) => continue,
            Err(e) => return e.kind() == std::io::ErrorKind::ConnectionReset,
        }
    }
    false
}

#[test]
fn a_peer_of_another_version_is_refused_with_both_versions_named() {
    let (mut sched, addr) = scheduler("t");
    for (version, role) in [(5, CLIENT.to_vec()), (7, worker_role())] {
        let mut sock = send(&addr, &hello(version, &role));
        let welcome = read_frame(&mut sock);
        let reason = format!("protocol version {version} is not 6");
        // `Welcome::Refused { reason }`: variant 1, then the string.
        let mut want = vec![1, reason.len() as u8];
        want.extend_from_slice(reason.as_bytes());
        assert_eq!(welcome, want, "{:?}", String::from_utf8_lossy(&welcome));
        assert!(closed_by_server(&mut sock));
        sched.expect(&format!("refused: {reason}"));
    }
}

#[test]
fn a_client_sending_a_workers_message_is_closed_with_a_log_line() {
    let (mut sched, addr) = scheduler("t");
    let mut sock = send(&addr, &hello(6, CLIENT));
    // `Welcome::Accepted { id: 1 }`.
    assert_eq!(read_frame(&mut sock), [0, 1]);
    // `FromWorker::Returned { key: DataKey { job: 1, task: 0 } }`.
    sock.write_all(&frame(&[3, 1, 0])).unwrap();
    assert!(closed_by_server(&mut sock));
    let line = sched.expect("closing connection from");
    assert!(
        line.contains("malformed frame") && line.contains("not a client's message"),
        "the reason is logged: {line}"
    );
}

#[test]
fn a_worker_sending_a_clients_message_is_closed_with_a_log_line() {
    let (mut sched, addr) = scheduler("t");
    let mut sock = send(&addr, &hello(6, &worker_role()));
    // `Welcome::Accepted { id: 0 }`: the id is the scheduler's to give.
    assert_eq!(read_frame(&mut sock), [0, 0]);
    // `FromClient::Release { job: 1 }`: numbered after the six worker
    // messages.
    sock.write_all(&frame(&[7, 1])).unwrap();
    assert!(closed_by_server(&mut sock));
    let line = sched.expect("closing connection from");
    assert!(
        line.contains("malformed frame") && line.contains("not a worker's message"),
        "the reason is logged: {line}"
    );
}
