//! The forked children of one run: their sockets, buffers, and their end.
//! Every child is killed and reaped when the run ends, however it ends.

use std::io::{self, Read};
use std::os::fd::AsRawFd;
use std::os::unix::net::UnixStream;
use std::time::{Duration, Instant};

use nix::sys::signal::{kill, Signal};
use nix::sys::wait::{waitpid, WaitPidFlag, WaitStatus};
use nix::unistd::{fork, ForkResult, Pid};
use rask_core::Job;
use std::sync::Arc;

use crate::frame::Inbox;
use crate::running::Running;

/// One forked child, seen from the parent.
#[derive(Debug)]
pub struct Child {
    pub pid: Pid,
    pub socket: UnixStream,
    /// Frames waiting to be written, and how much of them already was.
    pub out: Vec<u8>,
    written: usize,
    pub inbox: Inbox,
    /// Set once the child has been reaped.
    pub exit: Option<String>,
}

impl Child {
    /// True if frames wait to be written.
    pub fn wants_write(&self) -> bool {
        self.written < self.out.len()
    }

    /// Writes as much as the socket takes without blocking.
    pub fn flush(&mut self) -> io::Result<()> {
        use nix::sys::socket::{send, MsgFlags};
        while self.written < self.out.len() {
            // `send` with MSG_NOSIGNAL: a child that died makes this an
            // EPIPE error, never a SIGPIPE that would kill the parent.
            let sent = send(
                self.socket.as_raw_fd(),
                &self.out[self.written..],
                MsgFlags::MSG_NOSIGNAL,
            )
            .map_err(io::Error::from);
            match sent {
                Ok(0) => return Err(io::ErrorKind::WriteZero.into()),
                Ok(n) => self.written += n,
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => return Ok(()),
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => return Err(e),
            }
        }
        self.out.clear();
        self.written = 0;
        Ok(())
    }

    /// Reads what has arrived; `Ok(false)` when the child closed its end.
    pub fn receive(&mut self) -> io::Result<bool> {
        const CHUNK: usize = 1 << 16;
        loop {
            let spare = self.inbox.spare(CHUNK);
            match self.socket.read(spare) {
                Ok(0) => {
                    self.inbox.filled(CHUNK, 0);
                    return Ok(false);
                }
                Ok(n) => self.inbox.filled(CHUNK, n),
                Err(e) => {
                    self.inbox.filled(CHUNK, 0);
                    match e.kind() {
                        io::ErrorKind::WouldBlock => return Ok(true),
                        io::ErrorKind::Interrupted => {}
                        _ => return Err(e),
                    }
                }
            }
        }
    }

    /// Waits for the child to end (killing it if it lingers) and says how
    /// it ended: "exited with status 3", "was killed by signal SIGABRT".
    pub fn reap(&mut self, force: bool) -> String {
        if let Some(exit) = &self.exit {
            return exit.clone();
        }
        if force {
            let _ = kill(self.pid, Signal::SIGKILL);
        }
        let deadline = Instant::now() + Duration::from_secs(2);
        let status = loop {
            match waitpid(self.pid, Some(WaitPidFlag::WNOHANG)) {
                Ok(WaitStatus::StillAlive) if Instant::now() < deadline => {
                    std::thread::sleep(Duration::from_millis(1));
                }
                Ok(WaitStatus::StillAlive) => {
                    // It closed its socket but lives on: end it.
                    let _ = kill(self.pid, Signal::SIGKILL);
                    break waitpid(self.pid, None);
                }
                other => break other,
            }
        };
        let exit = match status {
            Ok(WaitStatus::Exited(_, code)) => format!("exited with status {code}"),
            Ok(WaitStatus::Signaled(_, signal, _)) => format!("was killed by signal {signal}"),
            Ok(other) => format!("ended ({other:?})"),
            Err(e) => format!("could not be waited for ({e})"),
        };
        self.exit = Some(exit.clone());
        exit
    }
}

/// The children of one run, and what each is running.
#[derive(Debug)]
pub struct Children {
    pub list: Vec<Child>,
    pub running: Arc<Running>,
}

impl Children {
    /// Forks `n` children, each serving `job` over its own socket pair.
    pub fn fork(n: usize, job: &Job, start: Instant) -> io::Result<Children> {
        let parent = std::process::id();
        let mut children = Children {
            list: Vec::with_capacity(n),
            running: Arc::new(Running::new(n)?),
        };
        for index in 0..n {
            let (parent_end, child_end) = UnixStream::pair()?;
            // SAFETY: the child only runs `crate::child::main`, which serves
            // frames with the job it inherited and ends with `_exit`.
            match unsafe { fork() }.map_err(io::Error::from)? {
                ForkResult::Child => {
                    // Sockets of earlier children would keep them from ever
                    // seeing the parent hang up.
                    for sibling in &children.list {
                        let _ = nix::unistd::close(sibling.socket.as_raw_fd());
                    }
                    let _ = nix::unistd::close(parent_end.as_raw_fd());
                    crate::child::main(child_end, job, &children.running, index, parent, start);
                }
                ForkResult::Parent { child } => {
                    drop(child_end);
                    parent_end.set_nonblocking(true)?;
                    children.list.push(Child {
                        pid: child,
                        socket: parent_end,
                        out: Vec::new(),
                        written: 0,
                        inbox: Inbox::default(),
                        exit: None,
                    });
                }
            }
        }
        Ok(children)
    }
}

impl Drop for Children {
    /// Kills and reaps every child still there: no zombie, no orphan.
    fn drop(&mut self) {
        for child in &mut self.list {
            child.reap(true);
        }
    }
}
