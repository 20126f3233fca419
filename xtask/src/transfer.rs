//! The `transfer` row of `cargo xtask bench`: one result of `n` bytes
//! gathered from a worker process to the client through the public
//! [`Client`] API, beside the physical reference measured in the same
//! run: a plain TCP copy of the same bytes between two processes, into a
//! fresh buffer each time. Repetitions alternate the two, so a noisy
//! machine slows both alike; each side's median is reported.
//!
//! The reference's sender is this binary again, started with
//! [`SEND_FLAG`], so that it is a process of its own as a worker is.

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use rask_core::{JobBuilder, Op};
use rask_sched_net::{Client, LocalOptions, SubmitOptions};

/// `rask-bench --tcp-send ADDR N REPS`: the reference's sender.
pub const SEND_FLAG: &str = "--tcp-send";

/// What one transfer run measured: median seconds of each side.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Transfer {
    /// Bytes moved each time.
    pub bytes: u64,
    /// `gather` of the result, from asking to holding the value.
    pub rask_s: f64,
    /// The plain TCP copy into a fresh buffer.
    pub tcp_s: f64,
}

impl Transfer {
    /// The line a child prints and the driver reads back.
    pub fn to_line(self) -> String {
        format!("transfer {} {} {}", self.bytes, self.rask_s, self.tcp_s)
    }

    /// Reads [`to_line`](Self::to_line)'s output.
    pub fn from_line(line: &str) -> Option<Transfer> {
        let mut words = line.strip_prefix("transfer ")?.split(' ');
        let mut next = || words.next()?.parse::<f64>().ok();
        Some(Transfer {
            bytes: next()? as u64,
            rask_s: next()?,
            tcp_s: next()?,
        })
    }

    /// GB/s of each side, and rask's as a share of the reference's.
    pub fn rates(self) -> (f64, f64, f64) {
        let gb = self.bytes as f64 / 1e9;
        (gb / self.rask_s, gb / self.tcp_s, self.tcp_s / self.rask_s)
    }
}

/// `n` bytes of a result, every page touched: a `Vec<u8>`, which crosses
/// as its bytes.
fn payload(n: &u64) -> Vec<u8> {
    vec![0xa5u8; *n as usize]
}

/// Measures `reps` alternating transfers of `n` bytes each way.
pub fn measure(n: u64, reps: usize) -> Result<Transfer, String> {
    let client = Client::local(LocalOptions {
        workers: 1,
        dashboard_port: None,
        ..LocalOptions::default()
    })
    .map_err(|e| e.to_string())?;
    client
        .wait_for_workers(1, Duration::from_secs(30))
        .map_err(|e| e.to_string())?;
    let mut b = JobBuilder::new();
    let op = b.op(&Op::new("payload", payload));
    let l = b.lit(n);
    let t = b.task(op, &[l]);
    let held = client
        .submit_job(
            &b.finish(),
            &[t],
            &[],
            &SubmitOptions::default().pure(false),
        )
        .map_err(|e| e.to_string())?;
    // The first gather also waits for the task: it is not timed.
    client.gather(&held).map_err(|e| e.to_string())?;

    let (mut sock, mut sender) = reference_sender(n, reps)?;
    let (mut rask, mut tcp) = (Vec::new(), Vec::new());
    for _ in 0..reps {
        let start = Instant::now();
        let got = client.gather(&held).map_err(|e| e.to_string())?;
        rask.push(start.elapsed());
        let len = got[0].downcast_ref::<Vec<u8>>().map(|b| b.len() as u64);
        if len != Some(n) {
            return Err(format!("gathered {len:?} bytes, not {n}"));
        }
        drop(got);

        let start = Instant::now();
        sock.write_all(&[1]).map_err(|e| e.to_string())?;
        let mut fresh = vec![0u8; n as usize];
        sock.read_exact(&mut fresh).map_err(|e| e.to_string())?;
        tcp.push(start.elapsed());
        std::hint::black_box(&fresh);
    }
    let _ = sender.wait();
    Ok(Transfer {
        bytes: n,
        rask_s: median(&mut rask),
        tcp_s: median(&mut tcp),
    })
}

/// Starts the reference's sender process, connected to us.
fn reference_sender(n: u64, reps: usize) -> Result<(TcpStream, std::process::Child), String> {
    let listener = TcpListener::bind("127.0.0.1:0").map_err(|e| e.to_string())?;
    let addr = listener.local_addr().map_err(|e| e.to_string())?;
    let exe = std::env::current_exe().map_err(|e| e.to_string())?;
    let child = Command::new(exe)
        .args([
            SEND_FLAG,
            &addr.to_string(),
            &n.to_string(),
            &reps.to_string(),
        ])
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .spawn()
        .map_err(|e| format!("cannot start the reference sender: {e}"))?;
    let (sock, _) = listener.accept().map_err(|e| e.to_string())?;
    let _ = sock.set_nodelay(true);
    Ok((sock, child))
}

/// The reference's sender: `reps` times, waits for a byte, then writes `n`
/// bytes made once (as a worker holds a result's encoding).
pub fn send(args: &[String]) -> Result<(), String> {
    let [addr, n, reps] = args else {
        return Err(format!("{SEND_FLAG} takes ADDR N REPS"));
    };
    let n: usize = n.parse().map_err(|e| format!("N: {e}"))?;
    let reps: usize = reps.parse().map_err(|e| format!("REPS: {e}"))?;
    let bytes = vec![0xa5u8; n];
    let mut sock = TcpStream::connect(addr).map_err(|e| e.to_string())?;
    let _ = sock.set_nodelay(true);
    for _ in 0..reps {
        let mut go = [0u8];
        sock.read_exact(&mut go).map_err(|e| e.to_string())?;
        sock.write_all(&bytes).map_err(|e| e.to_string())?;
    }
    Ok(())
}

fn median(xs: &mut [Duration]) -> f64 {
    xs.sort();
    xs.get(xs.len() / 2).map_or(f64::NAN, Duration::as_secs_f64)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_line_round_trips_and_rates_follow() {
        let t = Transfer {
            bytes: 100_000_000,
            rask_s: 0.1,
            tcp_s: 0.08,
        };
        assert_eq!(Transfer::from_line(&t.to_line()), Some(t));
        let (rask, tcp, ratio) = t.rates();
        assert!((rask - 1.0).abs() < 1e-9 && (tcp - 1.25).abs() < 1e-9);
        assert!((ratio - 0.8).abs() < 1e-9);
        assert_eq!(Transfer::from_line("transfer 1 x 2"), None);
    }
}
