//! Progress per task prefix: how many of a job's tasks of each prefix are
//! waiting, processing, in memory, released after use, or erred.
//!
//! Each task's prefix is found once, when its job is admitted, and kept as
//! a `u16` row index; from then on every transition is an increment of a
//! counter in that row, with no string and no lookup. A job that leaves
//! the scheduler adds what it finished to a per-prefix history, so that
//! the dashboard still shows work done by jobs already forgotten.

use super::prefix::{key_prefix, Prefixes, OTHER};
use crate::portable::{JobSpec, EXTERNAL_OP};
use crate::protocol::WorkerId;

/// A task that is not counted: a stand-in for an earlier job's result, or
/// a task no output needs.
const NOT_COUNTED: u16 = u16::MAX;

/// Tasks of one prefix in one job, by state. Waiting is what is left.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Counts {
    /// Tasks the job will run.
    pub total: u32,
    /// Sent to a worker, not reported back.
    pub processing: u32,
    /// Finished, result held on a worker.
    pub memory: u32,
    /// Finished, result since released (all its users ran).
    pub released: u32,
    /// Failed.
    pub erred: u32,
}

impl Counts {
    /// Tasks not yet sent to a worker.
    pub fn waiting(&self) -> u32 {
        self.total
            .saturating_sub(self.processing + self.memory + self.released + self.erred)
    }

    fn add(&mut self, other: &Counts) {
        self.total += other.total;
        self.processing += other.processing;
        self.memory += other.memory;
        self.released += other.released;
        self.erred += other.erred;
    }
}

/// The counters of one job.
#[derive(Debug)]
pub struct JobProgress {
    /// Per task: its row, or [`NOT_COUNTED`].
    task_row: Vec<u16>,
    /// (prefix id, counts) per distinct prefix of the job.
    rows: Vec<(u32, Counts)>,
}

impl JobProgress {
    /// Counters for `spec`'s tasks; `needed(t)` says whether task `t` is
    /// to run (the plan keeps it).
    pub fn new(spec: &JobSpec, prefixes: &mut Prefixes, needed: impl Fn(u32) -> bool) -> Self {
        let mut rows: Vec<(u32, Counts)> = Vec::new();
        let mut row_of = |prefix: u32| -> u16 {
            match rows.iter().position(|(p, _)| *p == prefix) {
                Some(i) => i as u16,
                // A job with more distinct prefixes than rows lumps the
                // rest into `other`.
                None if rows.len() >= usize::from(NOT_COUNTED) - 1 => row_of_other(&mut rows),
                None => {
                    rows.push((prefix, Counts::default()));
                    (rows.len() - 1) as u16
                }
            }
        };
        // A task without an explicit key is named `op-N`: its prefix is
        // its op's, found once per op.
        let op_rows: Vec<u16> = spec
            .ops
            .iter()
            .map(|op| match op.name {
                EXTERNAL_OP => NOT_COUNTED,
                name => row_of(prefixes.intern(key_prefix(name))),
            })
            .collect();
        let mut task_row: Vec<u16> = spec
            .task_ops
            .iter()
            .map(|&o| op_rows.get(o as usize).copied().unwrap_or(NOT_COUNTED))
            .collect();
        for &(t, key) in &spec.keys {
            if let Some(row) = task_row.get_mut(t as usize) {
                if *row != NOT_COUNTED {
                    *row = row_of(prefixes.intern(key_prefix(key)));
                }
            }
        }
        for (t, row) in task_row.iter_mut().enumerate() {
            if *row == NOT_COUNTED {
                continue;
            }
            if needed(t as u32) {
                rows[usize::from(*row)].1.total += 1;
            } else {
                *row = NOT_COUNTED;
            }
        }
        JobProgress { task_row, rows }
    }

    /// Moves the rows from the prefix ids of `from` (where
    /// [`new`](Self::new) interned them) to those of `into`: a job counted
    /// off the event loop, against a table of its own, joins the
    /// scheduler's table in time that grows with its prefixes, not its
    /// tasks.
    pub fn reintern(&mut self, from: &Prefixes, into: &mut Prefixes) {
        for (prefix, _) in &mut self.rows {
            *prefix = match *prefix {
                OTHER => OTHER,
                id => into.intern(from.name(id)),
            };
        }
    }

    fn counts(&mut self, t: usize) -> Option<&mut Counts> {
        let row = *self.task_row.get(t)?;
        self.rows.get_mut(usize::from(row)).map(|(_, c)| c)
    }

    /// The prefix id of task `t` ([`OTHER`] if it is not counted).
    pub fn prefix(&self, t: usize) -> u32 {
        self.task_row
            .get(t)
            .and_then(|&row| self.rows.get(usize::from(row)))
            .map_or(OTHER, |(p, _)| *p)
    }

    /// `t` was sent to a worker.
    pub fn sent(&mut self, t: usize) {
        if let Some(c) = self.counts(t) {
            c.processing += 1;
        }
    }

    /// `t` came back from a worker unfinished (stolen, its worker died, or
    /// it finished: [`done`](Self::done) follows).
    pub fn unsent(&mut self, t: usize) {
        if let Some(c) = self.counts(t) {
            c.processing = c.processing.saturating_sub(1);
        }
    }

    /// `t` finished and its result is held.
    pub fn done(&mut self, t: usize) {
        if let Some(c) = self.counts(t) {
            c.memory += 1;
        }
    }

    /// `t`'s result was released.
    pub fn released(&mut self, t: usize) {
        if let Some(c) = self.counts(t) {
            c.memory = c.memory.saturating_sub(1);
            c.released += 1;
        }
    }

    /// `t` failed.
    pub fn erred(&mut self, t: usize) {
        if let Some(c) = self.counts(t) {
            c.erred += 1;
        }
    }

    /// Counts again after a re-plan (results lost with a worker): the
    /// tasks the new plan runs, those held, and those still out.
    pub fn recount(
        &mut self,
        needed: impl Fn(usize) -> bool,
        held: &[Option<WorkerId>],
        sent: &[Option<WorkerId>],
    ) {
        for (_, c) in &mut self.rows {
            *c = Counts {
                erred: c.erred,
                ..Counts::default()
            };
        }
        for t in 0..self.task_row.len() {
            let is_held = held.get(t).is_some_and(Option::is_some);
            let is_sent = sent.get(t).is_some_and(Option::is_some);
            if !(needed(t) || is_held) {
                continue;
            }
            if let Some(c) = self.counts(t) {
                c.total += 1;
                c.memory += u32::from(is_held);
                c.processing += u32::from(is_sent && !is_held);
            }
        }
    }

    /// (prefix id, counts) for each prefix of the job.
    #[cfg(test)]
    pub fn rows(&self) -> &[(u32, Counts)] {
        &self.rows
    }
}

fn row_of_other(rows: &mut Vec<(u32, Counts)>) -> u16 {
    match rows.iter().position(|(p, _)| *p == OTHER) {
        Some(i) => i as u16,
        None => {
            rows.push((OTHER, Counts::default()));
            (rows.len() - 1) as u16
        }
    }
}

/// What jobs that have left the scheduler finished, per prefix.
#[derive(Debug, Default)]
pub struct History {
    /// Indexed by prefix id: (tasks finished, tasks erred).
    by_prefix: Vec<(u64, u64)>,
}

impl History {
    /// Adds what a leaving job finished.
    pub fn fold(&mut self, job: &JobProgress) {
        for (prefix, c) in &job.rows {
            let i = *prefix as usize;
            if self.by_prefix.len() <= i {
                self.by_prefix.resize(i + 1, (0, 0));
            }
            self.by_prefix[i].0 += u64::from(c.memory + c.released);
            self.by_prefix[i].1 += u64::from(c.erred);
        }
    }
}

/// One prefix's line on the dashboard.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct PrefixProgress {
    /// The prefix id.
    pub prefix: u32,
    /// Summed over the jobs the scheduler holds now.
    pub live: Counts,
    /// Tasks finished by jobs that have left.
    pub finished_before: u64,
    /// Tasks erred in jobs that have left.
    pub erred_before: u64,
}

/// Every prefix with live tasks or history, by prefix id (the order
/// prefixes were first seen).
pub fn summary<'a>(
    jobs: impl Iterator<Item = &'a JobProgress>,
    history: &History,
) -> Vec<PrefixProgress> {
    let mut out: Vec<PrefixProgress> = history
        .by_prefix
        .iter()
        .enumerate()
        .filter(|(_, (f, e))| f + e > 0)
        .map(|(i, &(f, e))| PrefixProgress {
            prefix: i as u32,
            finished_before: f,
            erred_before: e,
            ..PrefixProgress::default()
        })
        .collect();
    for job in jobs {
        // A row whose tasks all carry keys of another prefix counts nothing.
        for (prefix, c) in job.rows.iter().filter(|(_, c)| c.total > 0) {
            match out.iter_mut().find(|p| p.prefix == *prefix) {
                Some(p) => p.live.add(c),
                None => out.push(PrefixProgress {
                    prefix: *prefix,
                    live: *c,
                    ..PrefixProgress::default()
                }),
            }
        }
    }
    out.sort_by_key(|p| p.prefix);
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::portable::encode_job;
    use rask_core::{Arg, JobBuilder, Op};

    fn inc(x: &i64) -> i64 {
        x + 1
    }

    #[test]
    fn a_job_counted_against_its_own_table_joins_the_schedulers() {
        let mut b = JobBuilder::new();
        let op = b.op(&Op::new("inc", inc));
        let x = b.lit(1i64);
        let a = b.task(op, &[x]);
        let c = b.keyed_task("load-data-7", op, &[Arg::dep(a)]);
        let job = b.finish();
        let bytes = encode_job(&job, &[c], &[], None).unwrap();
        let spec = crate::portable::decode_spec(&bytes).unwrap();
        let mut own = Prefixes::new();
        let mut p = JobProgress::new(&spec, &mut own, |_| true);
        let mut cluster = Prefixes::new();
        let earlier = cluster.intern("shuffle");
        p.reintern(&own, &mut cluster);
        let (inc_id, load) = (cluster.intern("inc"), cluster.intern("load-data"));
        assert!(earlier != inc_id && earlier != load && inc_id != load);
        assert_eq!(p.prefix(a.index()), inc_id);
        assert_eq!(p.prefix(c.index()), load);
        let mut ids: Vec<u32> = p.rows().iter().map(|(id, _)| *id).collect();
        ids.sort_unstable();
        let mut want = vec![inc_id, load];
        want.sort_unstable();
        assert_eq!(ids, want);
    }

    #[test]
    fn counts_follow_transitions_by_prefix() {
        let mut b = JobBuilder::new();
        let op = b.op(&Op::new("inc", inc));
        let x = b.lit(1i64);
        let a = b.task(op, &[x]);
        let c = b.keyed_task("load-data-7", op, &[Arg::dep(a)]);
        let unused = b.task(op, &[x]);
        let job = b.finish();
        let bytes = encode_job(&job, &[c], &[], None).unwrap();
        let spec = crate::portable::decode_spec(&bytes).unwrap();
        let mut prefixes = Prefixes::new();
        let mut p = JobProgress::new(&spec, &mut prefixes, |t| t != unused.0);
        let inc_id = prefixes.intern("inc");
        let load = prefixes.intern("load-data");
        let row = |p: &JobProgress, id| p.rows().iter().find(|(i, _)| *i == id).unwrap().1;
        assert_eq!(row(&p, inc_id).total, 1, "the culled task is not counted");
        assert_eq!(row(&p, load).total, 1);
        assert_eq!(row(&p, inc_id).waiting(), 1);
        let (a, c) = (a.index(), c.index());
        p.sent(a);
        assert_eq!(row(&p, inc_id).processing, 1);
        p.unsent(a);
        p.done(a);
        p.sent(c);
        p.released(a);
        assert_eq!(
            row(&p, inc_id),
            Counts {
                total: 1,
                released: 1,
                ..Counts::default()
            }
        );
        p.unsent(c);
        p.erred(c);
        assert_eq!(row(&p, load).erred, 1);
        assert_eq!(row(&p, load).waiting(), 0);
        p.sent(unused.index()); // not counted: no effect
        p.sent(1_000_000); // out of range: no effect
        let mut history = History::default();
        history.fold(&p);
        let s = summary(std::iter::empty(), &history);
        assert_eq!(s.len(), 2);
        assert_eq!((s[0].prefix, s[0].finished_before), (inc_id, 1));
        assert_eq!((s[1].prefix, s[1].erred_before), (load, 1));
        let live = summary([&p].into_iter(), &History::default());
        assert_eq!(live[1].live.erred, 1);
        p.recount(|t| t == a || t == c, &[None; 4], &[None; 4]);
        assert_eq!(row(&p, inc_id).waiting(), 1);
    }
}
