//! How a worker runs ([`WorkerOptions`]), and the resources it offers
//! as `rask-worker --resources` spells them.

use std::path::PathBuf;

use crate::portable::CodeKey;
use crate::protocol::DEFAULT_MAX_FRAME;

#[derive(Clone, Debug)]
pub struct WorkerOptions {
    /// Threads executing tasks.
    pub nthreads: usize,
    /// Resident bytes above which it takes no new task (0: no limit).
    /// Results past a share of it are spilled to `local_directory`.
    pub memory_limit: u64,
    /// Spill least recently used results to disk under the memory limit
    /// (default true; no effect without a limit).
    pub spill: bool,
    /// Where this worker makes its own spill directory (removed when it
    /// exits); the system's temporary directory if `None`.
    pub local_directory: Option<PathBuf>,
    /// The cluster's shared secret.
    pub token: Option<String>,
    /// Largest frame accepted.
    pub max_frame: usize,
    /// Accept code references made with this key (workers started by
    /// `Client::local` from the client's own binary).
    pub code_key: Option<CodeKey>,
    /// Abstract resources it offers (`("GPU", 2.0)`); a task asking for
    /// some runs here only while that much is not held by other tasks.
    pub resources: Vec<(String, f64)>,
}

impl Default for WorkerOptions {
    fn default() -> Self {
        WorkerOptions {
            nthreads: 1,
            memory_limit: 0,
            spill: true,
            local_directory: None,
            token: None,
            max_frame: DEFAULT_MAX_FRAME,
            code_key: None,
            resources: Vec::new(),
        }
    }
}

/// Parses resources as `rask-worker --resources` takes them:
/// `NAME=AMOUNT` pairs separated by commas or spaces (`GPU=2,MEM=8e9`).
pub fn parse_resources(text: &str) -> Result<Vec<(String, f64)>, String> {
    let mut out: Vec<(String, f64)> = Vec::new();
    for pair in text.split([',', ' ']).filter(|p| !p.is_empty()) {
        let (name, amount) = pair
            .split_once('=')
            .ok_or_else(|| format!("resource `{pair}` is not NAME=AMOUNT"))?;
        let amount: f64 = amount
            .parse()
            .map_err(|e| format!("resource `{name}`: amount `{amount}`: {e}"))?;
        if name.is_empty() || !amount.is_finite() || amount < 0.0 {
            return Err(format!(
                "resource `{pair}` needs a name and a finite amount of at least 0"
            ));
        }
        match out.iter_mut().find(|(n, _)| n == name) {
            Some(e) => e.1 = amount,
            None => out.push((name.to_owned(), amount)),
        }
    }
    Ok(out)
}
