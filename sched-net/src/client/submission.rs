//! Submitting jobs: encoding, one future per output, and holding back a
//! job until the earlier futures it uses have finished ([`Deferred`]).

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, Weak};

use rask_core::{Codec, Error, IgnorePoison, Inputs, Job, JobBuilder, Op, TaskId};

use super::commands::{Cmd, Inner};
use super::errors::net_error;
use super::future::{JobHandle, OutputHold, RawFuture, Status};
use super::Client;
use crate::portable::encode_job_with;
use crate::protocol::{DataKey, JobId};
use crate::submit::SubmitOptions;

/// A job waiting for earlier futures it uses before it is submitted.
struct Deferred {
    client: Weak<Inner>,
    job: JobId,
    spec: Mutex<Option<Vec<u8>>>,
    /// Held so that their results stay on the cluster until the job is in.
    earlier: Vec<RawFuture>,
    left: std::sync::atomic::AtomicUsize,
}

impl Deferred {
    fn start(client: &Arc<Inner>, job: JobId, spec: Vec<u8>, earlier: Vec<RawFuture>) {
        let d = Arc::new(Deferred {
            client: Arc::downgrade(client),
            job,
            spec: Mutex::new(Some(spec)),
            left: std::sync::atomic::AtomicUsize::new(earlier.len()),
            earlier,
        });
        for f in &d.earlier {
            let d = d.clone();
            f.on_done(move || d.one_settled());
        }
    }

    /// Runs when one earlier future settles; the last one sends the job.
    fn one_settled(&self) {
        if self.left.fetch_sub(1, Ordering::AcqRel) != 1 {
            return;
        }
        let Some(client) = self.client.upgrade() else {
            return;
        };
        let spec = self.spec.lock().ignore_poison().take();
        let launch = match self.earlier.iter().find_map(RawFuture::error) {
            Some(e) => Err(e),
            None => spec.ok_or_else(|| net_error("the job was sent twice")),
        };
        client.send(Cmd::Launch(self.job, launch));
    }
}

/// A job encoded for the scheduler, not sent yet.
pub(super) struct Encoded {
    /// The job's spec, as the scheduler decodes it.
    pub(super) spec: Vec<u8>,
    /// Per output: its task, its codec, and the earlier result it stands
    /// for if it is an external.
    pub(super) outputs: Vec<(TaskId, Codec, Option<DataKey>)>,
    /// Earlier futures it uses that have not finished.
    pub(super) waiting: Vec<RawFuture>,
}

impl Client {
    /// Submits `outputs` of `job` with `options`; returns one future per
    /// output. `externals` are tasks of `job` that stand for results of
    /// earlier submissions, and so are tasks standing for results held by
    /// futures ([`JobBuilder::held`](rask_core::JobBuilder::held)). A pure
    /// submission (the options' default) equal to one whose futures all
    /// live returns those futures.
    pub fn submit_job(
        &self,
        job: &Job,
        outputs: &[TaskId],
        externals: &[(TaskId, &RawFuture)],
        options: &SubmitOptions,
    ) -> Result<Vec<RawFuture>, Error> {
        let held = job
            .held_tasks()
            .filter_map(|(t, h)| Some((t, h.holder::<RawFuture>()?)))
            .filter(|(_, f)| Arc::ptr_eq(&f.handle.client, &self.inner));
        let externals: Vec<(TaskId, &RawFuture)> = externals.iter().copied().chain(held).collect();
        let wire: Vec<(TaskId, DataKey, Codec)> = externals
            .iter()
            .map(|(t, f)| (*t, f.key(), f.codec()))
            .collect();
        let waiting: Vec<RawFuture> = externals
            .iter()
            .filter(|(_, f)| !f.done() || f.error().is_some())
            .map(|(_, f)| (*f).clone())
            .collect();
        self.submit_wire(job, outputs, &wire, waiting, options)
    }

    /// Submits a job whose externals are `wire`; `waiting` are the earlier
    /// futures not finished yet: the job goes to the scheduler once they
    /// have (the scheduler needs their results in place), or fails with
    /// the first one's error.
    fn submit_wire(
        &self,
        job: &Job,
        outputs: &[TaskId],
        externals: &[(TaskId, DataKey, Codec)],
        waiting: Vec<RawFuture>,
        options: &SubmitOptions,
    ) -> Result<Vec<RawFuture>, Error> {
        job.plan(outputs)?;
        let spec = encode_job_with(
            job,
            outputs,
            externals,
            self.inner.code_key.as_ref(),
            &options.job_options(),
        )?;
        let mut coded = Vec::with_capacity(outputs.len());
        for &t in outputs {
            let external = externals.iter().find(|(e, ..)| *e == t);
            let codec = external
                .map(|(.., c)| *c)
                .or_else(|| job.op(t).and_then(|op| op.codec()))
                .ok_or_else(|| net_error(format!("output `{}` has no codec", job.key(t))))?;
            coded.push((t, codec, external.map(|(_, k, _)| *k)));
        }
        let encoded = Encoded {
            spec,
            outputs: coded,
            waiting,
        };
        if options.is_pure() {
            return self.submit_pure(encoded);
        }
        self.submit_spec(encoded)
    }

    /// Submits an encoded job: one future per output.
    pub(super) fn submit_spec(&self, encoded: Encoded) -> Result<Vec<RawFuture>, Error> {
        let Encoded {
            spec,
            outputs,
            waiting,
        } = encoded;
        let id = JobId::new(
            self.inner.id,
            self.inner.next_job.fetch_add(1, Ordering::Relaxed),
        );
        let handle = Arc::new(JobHandle {
            client: self.inner.clone(),
            job: id,
            status: Mutex::new((Status::Pending, Vec::new())),
            waiting: AtomicBool::new(false),
        });
        if waiting.is_empty() {
            self.inner
                .send(Cmd::Submit(id, Some(spec), Arc::downgrade(&handle)));
        } else {
            self.inner
                .send(Cmd::Submit(id, None, Arc::downgrade(&handle)));
            Deferred::start(&self.inner, id, spec, waiting);
        }
        Ok(outputs
            .into_iter()
            .map(|(task, codec, external)| RawFuture {
                hold: Arc::new(OutputHold {
                    handle: handle.clone(),
                    task: task.0,
                }),
                handle: handle.clone(),
                task,
                key: external.unwrap_or(DataKey {
                    job: id,
                    task: task.0,
                }),
                codec,
            })
            .collect())
    }

    /// Futures for results already on the cluster (`keys`, decoded with
    /// `codec`), holding them there while these futures live.
    pub(super) fn hold(
        &self,
        name: &str,
        keys: &[DataKey],
        codec: Codec,
    ) -> Result<Vec<RawFuture>, Error> {
        fn placeholder(_: Inputs<()>) {}
        let mut b = JobBuilder::new();
        let op = b.op(&Op::new("rask-held", placeholder));
        let mut externals = Vec::with_capacity(keys.len());
        for (i, key) in keys.iter().enumerate() {
            let t = b.keyed_task(&format!("{name}-{i}"), op, &[]);
            externals.push((t, *key, codec));
        }
        let outputs: Vec<TaskId> = externals.iter().map(|(t, ..)| *t).collect();
        let impure = SubmitOptions::default().pure(false);
        self.submit_wire(&b.finish(), &outputs, &externals, Vec::new(), &impure)
    }
}
