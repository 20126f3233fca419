//! The one JSON line a `rask-bench` child prints, and how `xtask` reads it
//! back (serde; the same lines go to `--json` for other tools).

use serde::{Deserialize, Serialize};

/// The measurements of one (backend, graph, n) run.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Record {
    /// Scheduler name.
    pub backend: String,
    /// Graph shape name.
    pub graph: String,
    /// The shape's parameter N.
    pub n: u64,
    /// Tasks in the graph.
    pub tasks: u64,
    /// Workers the scheduler ran with.
    pub workers: u64,
    /// Measured repetitions.
    pub reps: u64,
    /// Median wall time of build + run, in seconds.
    pub wall_s: f64,
    /// `wall_s` per task, in microseconds.
    pub us_per_task: f64,
    /// Tasks per second of wall time.
    pub tasks_per_s: f64,
    /// Peak resident memory of the bench process (`VmHWM`).
    pub peak_rss_bytes: u64,
    /// Peak resident memory of the largest worker process the backend
    /// forked (0 for in-process backends).
    #[serde(default)]
    pub children_peak_rss_bytes: u64,
    /// Graph IR plus per-run plan state, per task.
    pub ir_bytes_per_task: f64,
    /// Median time to build the graph alone, in seconds.
    pub build_s: f64,
    /// What only a simulated run reports (`backend` "sim"); there
    /// `wall_s`, `us_per_task` and `tasks_per_s` are the scheduler's own
    /// time, and `ir_bytes_per_task` its memory per task.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sim: Option<Box<SimFigures>>,
}

/// A `cargo xtask sim` row beyond the common fields: the simulated
/// cluster's fixed parameters, then what the run measured.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct SimFigures {
    /// Threads per simulated worker.
    pub threads: u64,
    /// One-way latency of every message, in microseconds.
    pub latency_us: f64,
    /// Bandwidth into each worker, in GB/s.
    pub bandwidth_gb_s: f64,
    /// Real time in the scheduler's handlers per task (submit and every
    /// turn), in microseconds.
    pub scheduler_us_per_task: f64,
    /// The same in the thread's CPU time (less the clock reads' own
    /// cost): what the handlers cost on a machine shared with others.
    #[serde(default)]
    pub scheduler_cpu_us_per_task: Option<f64>,
    /// CPU time the simulating process got over its wall time (1.0 on an
    /// idle machine): on a shared machine the real time above includes
    /// time the process waited for a core, about `1 / cpu_share` too much.
    #[serde(default)]
    pub cpu_share: Option<f64>,
    /// Of that, admitting and planning the job, in seconds.
    pub submit_s: f64,
    /// Real time per worker joining, in microseconds.
    pub join_us_per_worker: f64,
    /// Tasks handed to workers per second of scheduler time.
    pub decisions_per_s: f64,
    /// Tasks handed out, re-sends after steals included.
    pub decisions: u64,
    /// Scheduler turns (each: the messages that came, then `schedule`).
    pub turns: u64,
    /// Steal requests the scheduler sent.
    pub steals: u64,
    /// How the scheduler's memory was measured.
    pub memory_by: String,
    /// Scheduler memory at its peak during the job, per task.
    pub scheduler_bytes_per_task: f64,
    /// Scheduler memory with every worker joined and no job, per worker.
    pub scheduler_bytes_per_worker: f64,
    /// Bytes of results moved between workers.
    pub bytes_moved: u64,
    /// Virtual time from submit to the client hearing the job is done.
    pub makespan_s: f64,
    /// Total work over total threads.
    pub ideal_s: f64,
    /// The workload's critical path.
    pub critical_path_s: f64,
    /// Makespan over the larger of the ideal and the critical path.
    pub makespan_ratio: f64,
    /// Real time the whole simulation took, simulated workers included.
    pub sim_wall_s: f64,
}

impl Record {
    /// A run timed from outside any process the bench can measure (in a
    /// browser): wall time only, memory and build figures left at 0.
    pub fn timed(
        backend: &str,
        graph: &str,
        (n, tasks): (u64, u64),
        (workers, reps): (u64, u64),
        wall_s: f64,
    ) -> Record {
        let per = tasks.max(1) as f64;
        Record {
            backend: backend.to_owned(),
            graph: graph.to_owned(),
            n,
            tasks,
            workers,
            reps,
            wall_s,
            us_per_task: wall_s * 1e6 / per,
            tasks_per_s: per / wall_s,
            peak_rss_bytes: 0,
            children_peak_rss_bytes: 0,
            ir_bytes_per_task: 0.0,
            build_s: 0.0,
            sim: None,
        }
    }
}

/// What one child reports. On the wire the three kinds are told apart by
/// their fields (`error`, `skipped`, or the measurements), so every line is
/// one flat object.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum Outcome {
    /// The run failed: a scheduler error, a wrong answer, a crash.
    Failed {
        backend: String,
        graph: String,
        n: u64,
        error: String,
    },
    /// The backend is not compiled in; `note` says how to enable it.
    Skipped {
        backend: String,
        graph: String,
        n: u64,
        #[serde(rename = "skipped")]
        note: String,
    },
    /// The run worked.
    Ran(Record),
}

impl Outcome {
    /// The backend, graph and n this outcome is about.
    pub fn key(&self) -> (&str, &str, u64) {
        match self {
            Outcome::Ran(r) => (&r.backend, &r.graph, r.n),
            Outcome::Skipped {
                backend, graph, n, ..
            }
            | Outcome::Failed {
                backend, graph, n, ..
            } => (backend, graph, *n),
        }
    }

    /// One JSON object on one line, without the newline.
    pub fn to_json(&self) -> String {
        // Plain strings and numbers always serialize.
        serde_json::to_string(self).unwrap_or_default()
    }

    /// Reads a line written by [`to_json`](Self::to_json).
    pub fn from_json(line: &str) -> Result<Outcome, String> {
        serde_json::from_str(line).map_err(|e| format!("bad result line {line:?}: {e}"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn record() -> Record {
        Record {
            backend: "threads".into(),
            graph: "merge".into(),
            n: 100_000,
            tasks: 100_001,
            workers: 8,
            reps: 5,
            wall_s: 0.0123,
            us_per_task: 0.123,
            tasks_per_s: 8.13e6,
            peak_rss_bytes: 52_428_800,
            children_peak_rss_bytes: 0,
            ir_bytes_per_task: 41.5,
            build_s: 1.5e-9,
            sim: None,
        }
    }

    #[test]
    fn outcomes_round_trip_through_one_line() {
        let outcomes = [
            Outcome::Ran(record()),
            Outcome::Skipped {
                backend: "processes".into(),
                graph: "chain".into(),
                n: 10,
                note: "off".into(),
            },
            Outcome::Failed {
                backend: "sync".into(),
                graph: "tree".into(),
                n: 7,
                error: "task `a\"b` failed:\n\tC:\\x \u{1}".into(),
            },
        ];
        for outcome in outcomes {
            let line = outcome.to_json();
            assert!(!line.contains('\n'), "{line}");
            assert_eq!(Outcome::from_json(&line), Ok(outcome));
        }
    }

    #[test]
    fn writes_the_documented_field_names() {
        let line = Outcome::Ran(record()).to_json();
        assert!(
            line.starts_with(r#"{"backend":"threads","graph":"merge","n":100000,"tasks":100001,"#),
            "{line}"
        );
        for key in [
            "workers",
            "reps",
            "wall_s",
            "us_per_task",
            "tasks_per_s",
            "peak_rss_bytes",
            "ir_bytes_per_task",
        ] {
            assert!(
                line.contains(&format!("\"{key}\":")),
                "{key} missing from {line}"
            );
        }
        assert!(line.contains(r#""build_s":1.5e-9}"#), "{line}");
    }

    #[test]
    fn a_simulated_row_round_trips_with_its_figures() {
        let figures = SimFigures {
            threads: 4,
            latency_us: 100.0,
            bandwidth_gb_s: 1.0,
            scheduler_us_per_task: 6.5,
            scheduler_cpu_us_per_task: Some(2.6),
            cpu_share: Some(0.4),
            submit_s: 0.03,
            join_us_per_worker: 1.2,
            decisions_per_s: 1.5e5,
            decisions: 100_000,
            turns: 101_000,
            steals: 2,
            memory_by: "counting allocator".into(),
            scheduler_bytes_per_task: 76.0,
            scheduler_bytes_per_worker: 306.0,
            bytes_moved: 720_000,
            makespan_s: 250.5,
            ideal_s: 250.3,
            critical_path_s: 0.15,
            makespan_ratio: 1.001,
            sim_wall_s: 1.3,
        };
        let row = Outcome::Ran(Record {
            backend: "sim".into(),
            sim: Some(Box::new(figures)),
            ..record()
        });
        let line = row.to_json();
        assert!(line.contains(r#""sim":{"threads":4,"#), "{line}");
        assert_eq!(Outcome::from_json(&line), Ok(row));
    }

    #[test]
    fn rejects_malformed_lines() {
        for line in [
            "",
            "not json",
            "{\"backend\":\"x\"",
            "{\"n\":abc}",
            "{\"a\":1} trailing",
            "{\"a\" 1}",
        ] {
            assert!(Outcome::from_json(line).is_err(), "{line:?} parsed");
        }
        assert!(Outcome::from_json(r#"{"backend":"sync","graph":"merge"}"#).is_err());
        assert!(
            Outcome::from_json(r#"{"backend":"sync","graph":"merge","n":1,"tasks":2}"#).is_err()
        );
    }
}
