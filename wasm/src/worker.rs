//! The worker side of the Web Worker scheduler, as a pure state machine:
//! one batch of [`ToWorker`] messages in, batches of [`FromWorker`]
//! replies out through a `post` callback. `worker.js` feeds it what
//! `onmessage` receives and posts back what it is handed; nothing here
//! touches the browser except the clock and the callback it is given, so
//! it is tested natively.
//!
//! Replies leave while the batch is still running, as soon as
//! [`FLUSH_MS`] have gone by since the last post: the main thread
//! then learns that a long task is done (and sends the next ones) without
//! waiting for the rest of the batch, while tiny tasks still share one
//! message.
//!
//! Results stay here until the main thread releases them: a dependent task
//! is sent to the worker that holds its inputs, and only inputs held
//! elsewhere arrive (as `Put`).

use std::sync::Arc;

use rask_core::{Fetch, Job, Registry, Results, TaskError, TaskId};
use serde_bytes::ByteBuf;

use crate::wire::{encode, FromWorker, ToWorker};

/// Post the replies gathered so far once this much time has passed since
/// the last post (checked after each task). Short against the work queued
/// on a worker (a block's family, tens of ms), long enough that a run of
/// short tasks wakes the main thread once, not once per task: on two
/// cores, every wake-up takes a core from a worker for a moment.
pub const FLUSH_MS: f64 = 4.0;

thread_local! {
    /// The task running now: a panic traps the module mid-batch, and the
    /// crash report must name the task that was running, not the batch.
    static RUNNING: std::cell::Cell<Option<u32>> = const { std::cell::Cell::new(None) };
}

/// The task this thread's worker is running, if any.
pub fn running_task() -> Option<u32> {
    RUNNING.try_with(|r| r.get()).ok().flatten()
}

/// What one worker holds.
#[derive(Debug)]
pub struct WorkerState {
    registry: Registry,
    run: u32,
    job: Option<Arc<Job>>,
    results: Results,
}

impl WorkerState {
    /// A worker that knows the ops of `registry`.
    pub fn new(registry: Registry) -> WorkerState {
        WorkerState {
            registry,
            run: 0,
            job: None,
            results: Results::default(),
        }
    }

    /// Handles one encoded batch, handing `post` each encoded batch of
    /// replies (never an empty one): after a task when [`FLUSH_MS`] have
    /// passed since the last post, and at the end.
    pub fn handle(&mut self, input: &[u8], clock: fn() -> f64, post: &mut dyn FnMut(Vec<u8>)) {
        let mut out = Vec::new();
        let mut flush = |out: &mut Vec<FromWorker>| {
            if !out.is_empty() {
                // Every field of a reply encodes infallibly into a Vec.
                post(encode(out).unwrap_or_default());
                out.clear();
            }
        };
        match postcard::from_bytes::<Vec<ToWorker<'_>>>(input) {
            Ok(batch) => {
                let mut last_post = clock();
                for message in batch {
                    let ran = matches!(message, ToWorker::Run { .. });
                    self.apply(message, clock, &mut out);
                    if ran {
                        // A finished task's end time is the time now.
                        let now = match out.last() {
                            Some(FromWorker::Done { end_ms, .. }) => *end_ms,
                            _ => clock(),
                        };
                        if now - last_post >= FLUSH_MS {
                            flush(&mut out);
                            last_post = now;
                        }
                    }
                }
            }
            Err(e) => out.push(FromWorker::Refused {
                run: self.run,
                message: format!("malformed message batch ({} bytes): {e}", input.len()),
            }),
        }
        flush(&mut out);
    }

    fn apply(&mut self, message: ToWorker<'_>, clock: fn() -> f64, out: &mut Vec<FromWorker>) {
        let run = self.run;
        match message {
            ToWorker::Load { run, spec } => {
                self.run = run;
                self.results.reset(0);
                match spec.build(&self.registry) {
                    Ok(job) => {
                        self.results.reset(job.len());
                        self.job = Some(job);
                    }
                    Err(message) => {
                        self.job = None;
                        out.push(FromWorker::Refused { run, message });
                    }
                }
            }
            ToWorker::End { run: ended } if ended == run => {
                self.job = None;
                self.results = Results::default();
            }
            ToWorker::End { .. } => {}
            // Messages of a run that has ended (or failed to load) are
            // late, not wrong: the main thread has moved on.
            _ if self.job.is_none() => {}
            ToWorker::Run { task, output } => out.push(self.run_task(task, output, clock)),
            ToWorker::Put { task, bytes } => {
                if let Err(message) = self.put(task, &bytes) {
                    out.push(FromWorker::Failed { run, task, message });
                }
            }
            ToWorker::Send { task } => out.push(match self.encoded(task) {
                Ok(bytes) => FromWorker::Data { run, task, bytes },
                Err(message) => FromWorker::Failed { run, task, message },
            }),
            ToWorker::Release { task } => {
                self.results.release(TaskId(task));
            }
        }
    }

    fn run_task(&mut self, task: u32, output: bool, clock: fn() -> f64) -> FromWorker {
        let run = self.run;
        let Some(job) = self.job.clone() else {
            return FromWorker::Refused {
                run,
                message: "no graph is loaded".into(),
            };
        };
        let id = TaskId(task);
        if task as usize >= job.len() {
            let message = format!("task #{task} is not in the graph of {} tasks", job.len());
            return FromWorker::Failed { run, task, message };
        }
        let start_ms = clock();
        RUNNING.with(|r| r.set(Some(task)));
        let result = job.execute(id, &self.results);
        RUNNING.with(|r| r.set(None));
        let end_ms = clock();
        let value = match result {
            Ok(value) => value,
            Err(e) => {
                return FromWorker::Failed {
                    run,
                    task,
                    message: message_of(&job, id, e),
                }
            }
        };
        self.results.put(TaskId(task), value);
        let value = match output {
            true => match self.encoded(task) {
                Ok(bytes) => Some(bytes),
                Err(message) => return FromWorker::Failed { run, task, message },
            },
            false => None,
        };
        FromWorker::Done {
            run,
            task,
            start_ms,
            end_ms,
            value,
        }
    }

    fn put(&mut self, task: u32, bytes: &[u8]) -> Result<(), String> {
        let job = self.job.as_ref().ok_or("no graph is loaded")?;
        let codec = job
            .op(TaskId(task))
            .and_then(|op| op.codec())
            .ok_or_else(|| {
                format!(
                    "the result of task '{}' cannot be decoded here",
                    job.key(TaskId(task))
                )
            })?;
        if task as usize >= job.len() {
            return Err(format!("task #{task} is not in the graph"));
        }
        let value = codec.decode(bytes).map_err(|e| e.message().to_owned())?;
        self.results.put(TaskId(task), value);
        Ok(())
    }

    fn encoded(&self, task: u32) -> Result<ByteBuf, String> {
        let job = self.job.as_ref().ok_or("no graph is loaded")?;
        let id = TaskId(task);
        let value = self.results.fetch(id).ok_or_else(|| {
            format!(
                "the result of task '{}' is not held by this worker",
                job.key(id)
            )
        })?;
        let codec = job.op(id).and_then(|op| op.codec()).ok_or_else(|| {
            format!(
                "the result of task '{}' cannot leave its worker",
                job.key(id)
            )
        })?;
        let mut bytes = Vec::new();
        codec
            .encode(value, &mut bytes)
            .map_err(|e| e.message().to_owned())?;
        Ok(ByteBuf::from(bytes))
    }
}

/// A task error's message, naming the inner task when it came from one.
fn message_of(_job: &Job, _task: TaskId, e: TaskError) -> String {
    match e.origin() {
        Some((key, op)) => format!("in task '{key}' (op {op}): {}", e.message()),
        None => e.message().to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use std::borrow::Cow;

    use super::*;
    use crate::spec::{ArgSpec, GraphSpec};

    fn clock() -> f64 {
        1.0
    }

    /// The replies to `batch`, from however many posts they came in.
    fn send(w: &mut WorkerState, batch: &[ToWorker<'_>]) -> Vec<FromWorker> {
        let mut replies = Vec::new();
        w.handle(&encode(batch).unwrap(), clock, &mut |bytes| {
            replies.extend(postcard::from_bytes::<Vec<FromWorker>>(&bytes).unwrap())
        });
        replies
    }

    #[test]
    fn runs_holds_sends_and_fails_by_message() {
        let mut g = GraphSpec::new();
        let a = g.add("a", "value", vec![ArgSpec::Num(2.0)]).unwrap();
        let b = g.add("b", "inc", vec![ArgSpec::Task(a)]).unwrap();
        let f = g
            .add("f", "fail", vec![ArgSpec::Text("boom".into())])
            .unwrap();
        let mut w = WorkerState::new(crate::ops::registry());
        let load = ToWorker::Load {
            run: 7,
            spec: Cow::Borrowed(&g),
        };
        let replies = send(
            &mut w,
            &[
                load,
                ToWorker::Run {
                    task: a,
                    output: false,
                },
                ToWorker::Send { task: a },
            ],
        );
        assert!(matches!(
            replies[0],
            FromWorker::Done {
                run: 7,
                task: 0,
                value: None,
                ..
            }
        ));
        let FromWorker::Data { bytes, .. } = &replies[1] else {
            panic!("{replies:?}")
        };
        assert_eq!(postcard::from_bytes::<f64>(bytes).unwrap(), 2.0);

        // A second worker gets `a` by Put and computes `b` from it.
        let mut w2 = WorkerState::new(crate::ops::registry());
        let replies = send(
            &mut w2,
            &[
                ToWorker::Load {
                    run: 7,
                    spec: Cow::Borrowed(&g),
                },
                ToWorker::Put {
                    task: a,
                    bytes: bytes.clone(),
                },
                ToWorker::Run {
                    task: b,
                    output: true,
                },
                ToWorker::Run {
                    task: f,
                    output: false,
                },
            ],
        );
        let FromWorker::Done { value: Some(v), .. } = &replies[0] else {
            panic!("{replies:?}")
        };
        assert_eq!(postcard::from_bytes::<f64>(v).unwrap(), 3.0);
        assert!(
            matches!(&replies[1], FromWorker::Failed { task: 2, message, .. } if message == "boom")
        );

        // After End, late messages are ignored; released results are gone.
        let replies = send(
            &mut w,
            &[ToWorker::Release { task: a }, ToWorker::Send { task: a }],
        );
        assert!(
            matches!(&replies[0], FromWorker::Failed { message, .. } if message.contains("'a'"))
        );
        assert!(send(
            &mut w,
            &[
                ToWorker::End { run: 7 },
                ToWorker::Run {
                    task: a,
                    output: true
                }
            ]
        )
        .is_empty());
    }

    #[test]
    fn long_tasks_are_posted_as_they_finish_and_short_ones_together() {
        use std::sync::atomic::{AtomicU64, Ordering};
        static NOW: AtomicU64 = AtomicU64::new(0);
        // Every reading is FLUSH_MS later than the last: each task is long.
        fn slow() -> f64 {
            NOW.fetch_add(1, Ordering::Relaxed) as f64 * FLUSH_MS
        }
        let mut g = GraphSpec::new();
        let a = g.add("a", "value", vec![ArgSpec::Num(1.0)]).unwrap();
        let b = g.add("b", "inc", vec![ArgSpec::Task(a)]).unwrap();
        let c = g.add("c", "inc", vec![ArgSpec::Task(b)]).unwrap();
        let batch = encode(&[
            ToWorker::Load {
                run: 1,
                spec: Cow::Borrowed(&g),
            },
            ToWorker::Run {
                task: a,
                output: false,
            },
            ToWorker::Run {
                task: b,
                output: false,
            },
            ToWorker::Run {
                task: c,
                output: true,
            },
        ])
        .unwrap();
        let mut posts = Vec::new();
        let mut w = WorkerState::new(crate::ops::registry());
        w.handle(&batch, slow, &mut |b| {
            posts.push(postcard::from_bytes::<Vec<FromWorker>>(&b).unwrap())
        });
        assert_eq!(posts.len(), 3, "{posts:?}");
        assert!(posts.iter().all(|p| p.len() == 1));
        posts.clear();
        // A clock that stands still: the three replies share one post.
        w.handle(&batch, clock, &mut |b| {
            posts.push(postcard::from_bytes::<Vec<FromWorker>>(&b).unwrap())
        });
        assert_eq!(posts.len(), 1);
        assert_eq!(posts[0].len(), 3);
    }

    #[test]
    fn refuses_bad_input_and_unknown_ops() {
        let mut w = WorkerState::new(crate::ops::registry());
        let mut replies: Vec<FromWorker> = Vec::new();
        w.handle(&[200, 1, 2], clock, &mut |b| {
            replies = postcard::from_bytes(&b).unwrap()
        });
        assert!(
            matches!(&replies[0], FromWorker::Refused { message, .. } if message.contains("malformed"))
        );
        let mut g = GraphSpec::new();
        g.add("x", "no-such-op", vec![]).unwrap();
        let replies = send(
            &mut w,
            &[ToWorker::Load {
                run: 1,
                spec: Cow::Borrowed(&g),
            }],
        );
        assert!(
            matches!(&replies[0], FromWorker::Refused { message, .. } if message.contains("no-such-op"))
        );
    }
}
