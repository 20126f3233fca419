//! Submit options, as Dask's `submit(..., pure=, priority=, retries=,
//! workers=, allow_other_workers=, resources=)`. They hold for every task
//! of one submission (one `submit`, one `map`), travel in the job's spec
//! ([`JobOptions`]), and cost nothing when left at their defaults.

use crate::portable::JobOptions;

/// How a submission runs; build one from the defaults with its methods.
///
/// ```
/// use rask_sched_net::SubmitOptions;
/// let opts = SubmitOptions::default().priority(10).retries(2).resources(&[("GPU", 1.0)]);
/// assert_ne!(opts, SubmitOptions::default().priority(10));
/// ```
#[derive(Clone, Debug, PartialEq)]
pub struct SubmitOptions {
    pure: bool,
    priority: i32,
    retries: u32,
    workers: Vec<String>,
    allow_other_workers: bool,
    resources: Vec<(String, f64)>,
}

/// The defaults: pure, priority 0, no retries, any worker, no resources.
impl Default for SubmitOptions {
    fn default() -> Self {
        SubmitOptions {
            pure: true,
            priority: 0,
            retries: 0,
            workers: Vec::new(),
            allow_other_workers: false,
            resources: Vec::new(),
        }
    }
}

impl SubmitOptions {
    /// Pure (the default): submitting the same ops on the same arguments
    /// with the same options again, while a future of the first
    /// submission lives, returns that submission's futures and computes
    /// nothing more. Impure: a new job every time (for functions with
    /// side effects or randomness).
    pub fn pure(mut self, pure: bool) -> Self {
        self.pure = pure;
        self
    }

    /// Higher runs first among queued tasks, on the scheduler and in each
    /// worker's queue (default 0; negative is lower).
    pub fn priority(mut self, priority: i32) -> Self {
        self.priority = priority;
        self
    }

    /// A failing task runs again up to `n` times, on another worker when
    /// one can take it, before its job fails.
    pub fn retries(mut self, n: u32) -> Self {
        self.retries = n;
        self
    }

    /// Only these workers, by id (`"3"`) or address (`"127.0.0.1:4000"`),
    /// may run the tasks.
    pub fn workers<S: AsRef<str>>(mut self, workers: &[S]) -> Self {
        self.workers = workers.iter().map(|w| w.as_ref().to_owned()).collect();
        self
    }

    /// With [`workers`](Self::workers): the named workers are preferred,
    /// but others run the tasks when none of them is in the cluster.
    pub fn allow_other_workers(mut self, allow: bool) -> Self {
        self.allow_other_workers = allow;
        self
    }

    /// Each task holds these amounts of abstract resources on its worker
    /// while it is there: it runs only on a worker that declared them
    /// (`rask-worker --resources GPU=2`) and has them free.
    pub fn resources<S: AsRef<str>>(mut self, resources: &[(S, f64)]) -> Self {
        self.resources = resources
            .iter()
            .map(|(n, a)| (n.as_ref().to_owned(), *a))
            .collect();
        self
    }

    /// Whether equal submissions share one job.
    pub(crate) fn is_pure(&self) -> bool {
        self.pure
    }

    /// The options as the job's spec carries them.
    pub(crate) fn job_options(&self) -> JobOptions<'_> {
        JobOptions {
            priority: self.priority,
            retries: self.retries,
            workers: self.workers.iter().map(String::as_str).collect(),
            allow_other_workers: self.allow_other_workers,
            resources: self
                .resources
                .iter()
                .map(|(n, a)| (n.as_str(), *a))
                .collect(),
        }
    }
}
