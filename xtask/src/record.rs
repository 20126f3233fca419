//! The one JSON line a `rask-bench` child prints, and how `xtask` reads it
//! back. The fields are flat strings and numbers, so a few lines of
//! hand-written JSON replace a serialization crate.

use std::fmt::Write as _;

/// The measurements of one (backend, graph, n) run.
#[derive(Clone, Debug, PartialEq)]
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
    /// Peak resident memory of the child process (`VmHWM`).
    pub peak_rss_bytes: u64,
    /// Graph IR plus per-run plan state, per task.
    pub ir_bytes_per_task: f64,
    /// Median time to build the graph alone, in seconds.
    pub build_s: f64,
}

/// What one child reports.
#[derive(Clone, Debug, PartialEq)]
pub enum Outcome {
    /// The run worked.
    Ran(Record),
    /// The backend is not compiled in; `note` says how to enable it.
    Skipped {
        backend: String,
        graph: String,
        n: u64,
        note: String,
    },
    /// The run failed: a scheduler error, a wrong answer, a crash.
    Failed {
        backend: String,
        graph: String,
        n: u64,
        error: String,
    },
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
        let mut line = JsonLine::default();
        let (backend, graph, n) = self.key();
        line.str("backend", backend)
            .str("graph", graph)
            .num("n", n as f64);
        match self {
            Outcome::Ran(r) => {
                line.num("tasks", r.tasks as f64)
                    .num("workers", r.workers as f64)
                    .num("reps", r.reps as f64)
                    .num("wall_s", r.wall_s)
                    .num("us_per_task", r.us_per_task)
                    .num("tasks_per_s", r.tasks_per_s)
                    .num("peak_rss_bytes", r.peak_rss_bytes as f64)
                    .num("ir_bytes_per_task", r.ir_bytes_per_task)
                    .num("build_s", r.build_s);
            }
            Outcome::Skipped { note, .. } => {
                line.str("skipped", note);
            }
            Outcome::Failed { error, .. } => {
                line.str("error", error);
            }
        }
        line.finish()
    }

    /// Reads a line written by [`to_json`](Self::to_json).
    pub fn from_json(line: &str) -> Result<Outcome, String> {
        let fields = parse_flat_object(line)?;
        let get = |key: &str| fields.iter().find(|(k, _)| k == key).map(|(_, v)| v);
        let text = |key: &str| match get(key) {
            Some(Json::Str(s)) => Ok(s.clone()),
            _ => Err(format!(
                "field `{key}` is missing or not a string in {line}"
            )),
        };
        let num = |key: &str| match get(key) {
            Some(Json::Num(x)) => Ok(*x),
            _ => Err(format!(
                "field `{key}` is missing or not a number in {line}"
            )),
        };
        let (backend, graph, n) = (text("backend")?, text("graph")?, num("n")? as u64);
        if let Ok(error) = text("error") {
            return Ok(Outcome::Failed {
                backend,
                graph,
                n,
                error,
            });
        }
        if let Ok(note) = text("skipped") {
            return Ok(Outcome::Skipped {
                backend,
                graph,
                n,
                note,
            });
        }
        Ok(Outcome::Ran(Record {
            backend,
            graph,
            n,
            tasks: num("tasks")? as u64,
            workers: num("workers")? as u64,
            reps: num("reps")? as u64,
            wall_s: num("wall_s")?,
            us_per_task: num("us_per_task")?,
            tasks_per_s: num("tasks_per_s")?,
            peak_rss_bytes: num("peak_rss_bytes")? as u64,
            ir_bytes_per_task: num("ir_bytes_per_task")?,
            build_s: num("build_s")?,
        }))
    }
}

/// Writes `{"k":v,...}` field by field.
#[derive(Default)]
struct JsonLine {
    out: String,
}

impl JsonLine {
    fn key(&mut self, key: &str) {
        self.out.push(if self.out.is_empty() { '{' } else { ',' });
        quote(key, &mut self.out);
        self.out.push(':');
    }

    fn str(&mut self, key: &str, value: &str) -> &mut Self {
        self.key(key);
        quote(value, &mut self.out);
        self
    }

    fn num(&mut self, key: &str, value: f64) -> &mut Self {
        self.key(key);
        // JSON has no NaN or infinity; `{}` never writes an exponent, so a
        // finite f64 always prints as a valid JSON number.
        if value.is_finite() {
            let _ = write!(self.out, "{value}");
        } else {
            self.out.push_str("null");
        }
        self
    }

    fn finish(mut self) -> String {
        if self.out.is_empty() {
            self.out.push('{');
        }
        self.out.push('}');
        self.out
    }
}

fn quote(s: &str, out: &mut String) {
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c if (c as u32) < 0x20 => {
                let _ = write!(out, "\\u{:04x}", c as u32);
            }
            c => out.push(c),
        }
    }
    out.push('"');
}

/// A value in a flat JSON object.
#[derive(Clone, Debug, PartialEq)]
enum Json {
    Str(String),
    Num(f64),
    Null,
}

/// Parses `{"key": "text" | number | null, ...}`: enough for [`Outcome`] lines.
fn parse_flat_object(line: &str) -> Result<Vec<(String, Json)>, String> {
    let bad = |why: &str| format!("malformed JSON line ({why}): {line}");
    let mut p = Parser {
        chars: line.trim().chars().collect(),
        at: 0,
    };
    if !p.eat('{') {
        return Err(bad("no `{`"));
    }
    let mut fields = Vec::new();
    if p.eat('}') {
        return p
            .at_end()
            .then_some(fields)
            .ok_or_else(|| bad("text after `}`"));
    }
    // Each iteration consumes at least one field, or returns.
    loop {
        let key = p.string().ok_or_else(|| bad("expected a key"))?;
        if !p.eat(':') {
            return Err(bad("expected `:`"));
        }
        let value = if p.peek() == Some('"') {
            Json::Str(p.string().ok_or_else(|| bad("unterminated string"))?)
        } else {
            let token = p.token();
            match token.as_str() {
                "null" => Json::Null,
                _ => Json::Num(
                    token
                        .parse()
                        .map_err(|_| bad(&format!("`{token}` is not a number")))?,
                ),
            }
        };
        fields.push((key, value));
        if p.eat('}') {
            return p
                .at_end()
                .then_some(fields)
                .ok_or_else(|| bad("text after `}`"));
        }
        if !p.eat(',') {
            return Err(bad("expected `,` or `}`"));
        }
    }
}

struct Parser {
    chars: Vec<char>,
    at: usize,
}

impl Parser {
    fn skip_space(&mut self) {
        while self.chars.get(self.at).is_some_and(|c| c.is_whitespace()) {
            self.at += 1;
        }
    }

    fn peek(&mut self) -> Option<char> {
        self.skip_space();
        self.chars.get(self.at).copied()
    }

    fn eat(&mut self, c: char) -> bool {
        let hit = self.peek() == Some(c);
        self.at += usize::from(hit);
        hit
    }

    fn at_end(&mut self) -> bool {
        self.peek().is_none()
    }

    /// A number or literal: everything up to the next `,`, `}` or space.
    fn token(&mut self) -> String {
        self.skip_space();
        let start = self.at;
        while self
            .chars
            .get(self.at)
            .is_some_and(|&c| c != ',' && c != '}' && !c.is_whitespace())
        {
            self.at += 1;
        }
        self.chars[start..self.at].iter().collect()
    }

    /// A quoted string with JSON escapes; `None` if malformed.
    fn string(&mut self) -> Option<String> {
        if !self.eat('"') {
            return None;
        }
        let mut s = String::new();
        // Each iteration consumes at least one char; the end of input returns.
        loop {
            let c = *self.chars.get(self.at)?;
            self.at += 1;
            match c {
                '"' => return Some(s),
                '\\' => {
                    let e = *self.chars.get(self.at)?;
                    self.at += 1;
                    s.push(match e {
                        'n' => '\n',
                        'r' => '\r',
                        't' => '\t',
                        'b' => '\u{8}',
                        'f' => '\u{c}',
                        'u' => {
                            let hex: String =
                                self.chars.get(self.at..self.at + 4)?.iter().collect();
                            self.at += 4;
                            char::from_u32(u32::from_str_radix(&hex, 16).ok()?)?
                        }
                        other => other,
                    });
                }
                c => s.push(c),
            }
        }
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
            ir_bytes_per_task: 41.5,
            build_s: 1.5e-9,
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
        assert!(line.contains(r#""build_s":0.0000000015}"#), "{line}");
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
            assert!(parse_flat_object(line).is_err(), "{line:?} parsed");
        }
        assert!(Outcome::from_json(r#"{"backend":"sync","graph":"merge"}"#).is_err());
        assert_eq!(parse_flat_object(" { } ").unwrap(), []);
        assert_eq!(
            parse_flat_object(r#"{"x": null}"#).unwrap(),
            [("x".to_owned(), Json::Null)]
        );
    }
}
