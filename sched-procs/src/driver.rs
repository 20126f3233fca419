//! The parent's side of a run: IO around the core's [`Hub`]. The hub owns
//! the [`ExecState`](rask_core::ExecState), places each ready task on a
//! child by Dask's earliest-start rule ([`EarliestStart`]: where it would
//! start soonest, counting the queue there and the inputs that would have
//! to move) and says which values to relay; this file only carries its
//! requests over the children's sockets and feeds it their answers.
//!
//! Each child is given about half a millisecond of work ahead; other ready
//! tasks wait in the state machine's own queue until the child where they
//! would start soonest has room (tasks behind them that would start
//! soonest elsewhere go there meanwhile), so one slow child does not hold
//! back the end of the run, and a task does not leave its inputs just
//! because their child is busy for a moment.

use std::collections::HashMap;

use nix::poll::{poll, PollFd, PollFlags, PollTimeout};
use rask_core::hub::{EarliestStart, Hub, HubSink, Workers};
use rask_core::{
    Error, Events, ExecState, FrameInbox, Graph, Job, Plan, TaskError, TaskId, TaskSpan, Value,
};
use std::os::fd::AsFd;

use crate::children::{Child, Children};
use crate::frame::{parse, push_frame, ToChild, ToParent};

pub struct Driver<'j, 'e> {
    job: &'j Job,
    hub: Hub<&'j Graph, EarliestStart>,
    children: Children,
    events: &'e dyn Events,
    outputs: HashMap<u32, Vec<u8>>,
    outputs_missing: usize,
}

/// The hub's requests, written as frames to the children.
struct Wire<'a> {
    children: &'a mut [Child],
    events: &'a dyn Events,
    /// The value being relayed, while the hub hands it on.
    value: &'a [u8],
}

impl Wire<'_> {
    fn send(&mut self, c: usize, message: &ToChild, tail: &[u8]) {
        // Encoding a message into a Vec cannot fail; the tail is plain bytes.
        let _ = push_frame(&mut self.children[c].out, message, |o| {
            o.extend_from_slice(tail);
            Ok(())
        });
    }
}

impl HubSink for Wire<'_> {
    fn run(&mut self, worker: usize, task: TaskId, _output: bool) {
        self.events.task_start(task, worker);
        self.send(worker, &ToChild::Run { task: task.0 }, &[]);
    }

    fn get(&mut self, holder: usize, task: TaskId) {
        self.send(holder, &ToChild::Get { task: task.0 }, &[]);
    }

    fn put(&mut self, worker: usize, task: TaskId) {
        let value = self.value;
        self.send(worker, &ToChild::Put { task: task.0 }, value);
    }

    fn release(&mut self, task: TaskId, holders: Workers) {
        for h in holders {
            self.send(h, &ToChild::Release { task: task.0 }, &[]);
        }
    }
}

impl<'j, 'e> Driver<'j, 'e> {
    pub fn new(
        job: &'j Job,
        plan: Plan,
        children: Children,
        events: &'e dyn Events,
    ) -> Result<Self, Error> {
        let outputs_missing = job
            .graph()
            .task_ids()
            .filter(|&t| plan.is_output(t))
            .count();
        let state = ExecState::from_plan(job.graph(), plan).map_err(|e| job.graph_error(e))?;
        let workers = children.list.len();
        Ok(Driver {
            job,
            hub: Hub::new(state, workers, EarliestStart::default()),
            children,
            events,
            outputs: HashMap::new(),
            outputs_missing,
        })
    }

    /// Runs to the end; returns the outputs' encodings by task.
    pub fn run(mut self) -> Result<HashMap<u32, Vec<u8>>, Error> {
        loop {
            self.hub.dispatch(&mut Wire {
                children: &mut self.children.list,
                events: self.events,
                value: &[],
            });
            if self.hub.exec().is_finished() && self.outputs_missing == 0 {
                return Ok(std::mem::take(&mut self.outputs));
            }
            self.pump()?;
        }
    }

    /// Writes what is pending, waits for traffic, handles what arrived.
    fn pump(&mut self) -> Result<(), Error> {
        for c in 0..self.children.list.len() {
            if let Err(e) = self.children.list[c].flush() {
                return Err(self.died(c, Some(e)));
            }
        }
        let ready: Vec<(bool, bool)> = {
            let mut fds: Vec<PollFd> = self
                .children
                .list
                .iter()
                .map(|child| {
                    let mut flags = PollFlags::POLLIN;
                    if child.wants_write() {
                        flags |= PollFlags::POLLOUT;
                    }
                    PollFd::new(child.socket.as_fd(), flags)
                })
                .collect();
            // Spin briefly first: answers usually come within microseconds,
            // and waking from a blocking poll costs more than that.
            let deadline = std::time::Instant::now() + crate::child::SPIN;
            let mut timeout = PollTimeout::ZERO;
            loop {
                match poll(&mut fds, timeout) {
                    Ok(0) if timeout == PollTimeout::ZERO => {
                        if std::time::Instant::now() >= deadline {
                            timeout = PollTimeout::from(1000u16);
                        }
                        std::hint::spin_loop();
                    }
                    Ok(_) => break,
                    Err(nix::errno::Errno::EINTR) => return Ok(()),
                    Err(e) => return Err(backend(format!("poll failed: {e}"))),
                }
            }
            fds.iter()
                .map(|fd| {
                    let r = fd.revents().unwrap_or(PollFlags::empty());
                    let readable =
                        r.intersects(PollFlags::POLLIN | PollFlags::POLLHUP | PollFlags::POLLERR);
                    (readable, r.contains(PollFlags::POLLOUT))
                })
                .collect()
        };
        for (c, &(readable, writable)) in ready.iter().enumerate() {
            if readable {
                let open = self.children.list[c].receive();
                self.handle_frames(c)?;
                match open {
                    Ok(true) => {}
                    Ok(false) => return Err(self.died(c, None)),
                    Err(e) => return Err(self.died(c, Some(e))),
                }
            }
            if writable {
                if let Err(e) = self.children.list[c].flush() {
                    return Err(self.died(c, Some(e)));
                }
            }
        }
        Ok(())
    }

    fn handle_frames(&mut self, c: usize) -> Result<(), Error> {
        // Taken out while its frames are handled, which borrows the driver.
        let placeholder = FrameInbox::new(0);
        let mut inbox = std::mem::replace(&mut self.children.list[c].inbox, placeholder);
        let mut result = Ok(());
        loop {
            match inbox.next_frame() {
                Ok(Some(frame)) => result = self.handle(c, inbox.body(frame)),
                Ok(None) => break,
                Err(e) => result = Err(backend(e.to_string())),
            }
            if result.is_err() {
                break;
            }
        }
        self.children.list[c].inbox = inbox;
        result
    }

    fn handle(&mut self, c: usize, frame: &[u8]) -> Result<(), Error> {
        let (message, tail) = parse::<ToParent>(frame).map_err(backend)?;
        match message {
            ToParent::Done {
                task,
                start_ns,
                end_ns,
            } => {
                let t = TaskId(task);
                self.events.task_finish(
                    t,
                    c,
                    TaskSpan {
                        start_ns,
                        end_ns,
                        result_bytes: None,
                    },
                );
                let wire = &mut Wire {
                    children: &mut self.children.list,
                    events: self.events,
                    value: &[],
                };
                let took = end_ns.saturating_sub(start_ns) as f64;
                self.hub
                    .on_done(c, t, took, wire)
                    .map_err(|e| backend(e.to_string()))?;
                if self.hub.exec().plan().is_output(t) {
                    self.hub.want(t, wire);
                }
                Ok(())
            }
            ToParent::Failed {
                task,
                start_ns,
                end_ns,
                message,
                origin,
            } => {
                let t = TaskId(task);
                self.events.task_finish(
                    t,
                    c,
                    TaskSpan {
                        start_ns,
                        end_ns,
                        result_bytes: None,
                    },
                );
                let mut error = TaskError::new(message);
                if let Some((key, op)) = origin {
                    error = error.within(&key, &op);
                }
                Err(self.job.task_failed(t, error))
            }
            ToParent::Value { task } => {
                let t = TaskId(task);
                let wire = &mut Wire {
                    children: &mut self.children.list,
                    events: self.events,
                    value: tail,
                };
                self.hub.on_value(t, tail.len() as u64, false, wire);
                if self.hub.exec().plan().is_output(t) && !self.outputs.contains_key(&task) {
                    self.outputs.insert(task, tail.to_vec());
                    self.outputs_missing -= 1;
                }
                Ok(())
            }
            ToParent::Broken { message } => Err(backend(message)),
        }
    }

    /// The error for child `c` having gone: it names the task it was running.
    fn died(&mut self, c: usize, io: Option<std::io::Error>) -> Error {
        let child = &mut self.children.list[c];
        let pid = child.pid;
        let how = child.reap(io.is_some());
        match self.children.running.get(c) {
            Some(task) => self.job.task_failed(
                TaskId(task),
                TaskError::new(format!("its worker process (pid {pid}) {how}")),
            ),
            None => backend(format!("worker process {pid} {how} while idle")),
        }
    }
}

fn backend(message: impl Into<String>) -> Error {
    Error::Backend {
        backend: "processes",
        message: message.into(),
    }
}

/// Decodes the outputs' encodings with their ops' codecs.
pub fn decode_outputs(
    job: &Job,
    outputs: &[TaskId],
    bytes: &HashMap<u32, Vec<u8>>,
) -> Result<Vec<Value>, Error> {
    outputs
        .iter()
        .map(|&o| {
            let codec = job.op(o).and_then(|op| op.codec());
            let data = bytes
                .get(&o.0)
                .ok_or_else(|| backend(format!("output `{}` never arrived", job.key(o))))?;
            codec
                .ok_or_else(|| backend(format!("output `{}` has no codec", job.key(o))))?
                .decode(data)
                .map_err(|e| backend(format!("output `{}`: {e}", job.key(o))))
        })
        .collect()
}
