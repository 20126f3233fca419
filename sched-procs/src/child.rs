//! A forked child: serves one run's frames until the parent closes the
//! socket, then exits without running the parent's destructors.

use std::io::{BufReader, Write};
use std::os::unix::net::UnixStream;
use std::time::Instant;

use rask_core::{Fetch, Job, Results, TaskId};

use crate::frame::{parse, push_frame, read_frame, ToChild, ToParent};
use crate::running::Running;

/// The child's whole life. Never returns: it ends with `_exit`, so nothing
/// inherited from the parent (buffers, destructors, atexit handlers) runs.
/// Hands the free memory inherited from the parent back to the kernel.
/// Otherwise the allocator reuses it, and every first write to a reused
/// page copies the parent's page (copy-on-write) instead of mapping a
/// fresh zero page.
fn forget_inherited_free_memory() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    // SAFETY: `malloc_trim` only releases free memory of this process's
    // allocator; this thread is the only one in the child.
    unsafe {
        nix::libc::malloc_trim(0);
    }
}

pub fn main(
    socket: UnixStream,
    job: &Job,
    running: &Running,
    me: usize,
    parent: u32,
    start: Instant,
) -> ! {
    forget_inherited_free_memory();
    // If the parent dies without reaping us, we die too: no orphan. (Had it
    // died before this call, our parent is already someone else.)
    #[cfg(target_os = "linux")]
    {
        let _ = nix::sys::prctl::set_pdeathsig(nix::sys::signal::Signal::SIGKILL);
        if nix::unistd::getppid().as_raw() as u32 != parent {
            // SAFETY: as below.
            unsafe { nix::libc::_exit(72) }
        }
    }
    let code = match std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        serve(&socket, job, running, me, start)
    })) {
        Ok(Ok(())) => 0,
        Ok(Err(_)) => 71,
        Err(_) => 70,
    };
    // SAFETY: `_exit` ends the process at once; it is what a forked child
    // of a multi-threaded parent must use.
    unsafe { nix::libc::_exit(code) }
}

fn serve(
    socket: &UnixStream,
    job: &Job,
    running: &Running,
    me: usize,
    start: Instant,
) -> std::io::Result<()> {
    let mut reader = BufReader::with_capacity(1 << 16, socket);
    let mut writer = socket;
    // Results this child holds, by task id.
    let mut store = Results::new(job.len());
    let mut frame = Vec::new();
    let mut out = Vec::new();
    // Always timed: the parent's placement needs task durations even when
    // no events sink listens.
    let now = || start.elapsed().as_nanos() as u64;
    loop {
        // Answers go out in one write, when there is nothing left to read
        // without blocking: one system call per batch, not per task.
        if !out.is_empty() && reader.buffer().is_empty() {
            writer.write_all(&out)?;
            out.clear();
        }
        if reader.buffer().is_empty() {
            spin_until_readable(socket);
        }
        if read_frame(&mut reader, &mut frame)?.is_none() {
            return Ok(());
        }
        let (message, tail) = parse::<ToChild>(&frame).map_err(std::io::Error::other)?;
        let sent = match message {
            ToChild::Run { task } => {
                let t = TaskId(task);
                running.set(me, Some(task));
                let start_ns = now();
                let outcome = job.execute(t, &store);
                let end_ns = now();
                running.set(me, None);
                match outcome {
                    Ok(value) => {
                        store.put(t, value);
                        push_frame(
                            &mut out,
                            &ToParent::Done {
                                task,
                                start_ns,
                                end_ns,
                            },
                            |_| Ok(()),
                        )
                    }
                    Err(e) => {
                        let origin = e.origin().map(|(k, o)| (k.to_owned(), o.to_owned()));
                        let message = e.message().to_owned();
                        let failed = ToParent::Failed {
                            task,
                            start_ns,
                            end_ns,
                            message,
                            origin,
                        };
                        push_frame(&mut out, &failed, |_| Ok(()))
                    }
                }
            }
            ToChild::Put { task } => {
                let t = TaskId(task);
                let codec = job.op(t).and_then(|op| op.codec());
                match codec.map(|c| c.decode(tail)) {
                    Some(Ok(value)) => {
                        store.put(t, value);
                        Ok(())
                    }
                    Some(Err(e)) => broken(
                        &mut out,
                        format!("cannot decode the result of `{}`: {e}", job.key(t)),
                    ),
                    None => broken(
                        &mut out,
                        format!("the result of `{}` has no codec", job.key(t)),
                    ),
                }
            }
            ToChild::Get { task } => {
                let t = TaskId(task);
                let value = store.fetch(t);
                let codec = job.op(t).and_then(|op| op.codec());
                match (value, codec) {
                    (Some(value), Some(codec)) => {
                        let mark = out.len();
                        let sent = push_frame(&mut out, &ToParent::Value { task }, |o| {
                            codec.encode(value, o).map_err(|e| e.message().to_owned())
                        });
                        if let Err(e) = sent {
                            out.truncate(mark);
                            broken(
                                &mut out,
                                format!("cannot send the result of `{}`: {e}", job.key(t)),
                            )
                        } else {
                            Ok(())
                        }
                    }
                    _ => broken(
                        &mut out,
                        format!("the result of `{}` is not here", job.key(t)),
                    ),
                }
            }
            ToChild::Release { task } => {
                store.release(TaskId(task));
                Ok(())
            }
        };
        sent.map_err(std::io::Error::other)?;
    }
}

/// Waits a few microseconds for the next frame before blocking: the parent
/// usually answers that fast, and a sleeping process takes much longer to
/// wake than that.
fn spin_until_readable(socket: &UnixStream) {
    use nix::poll::{poll, PollFd, PollFlags, PollTimeout};
    use std::os::fd::AsFd;
    let deadline = Instant::now() + SPIN;
    while Instant::now() < deadline {
        let mut fds = [PollFd::new(socket.as_fd(), PollFlags::POLLIN)];
        if poll(&mut fds, PollTimeout::ZERO).unwrap_or(1) > 0 {
            return;
        }
        std::hint::spin_loop();
    }
}

/// How long a child or the parent spins before sleeping.
pub const SPIN: std::time::Duration = std::time::Duration::from_micros(30);

fn broken(out: &mut Vec<u8>, message: String) -> Result<(), String> {
    push_frame(out, &ToParent::Broken { message }, |_| Ok(()))
}
