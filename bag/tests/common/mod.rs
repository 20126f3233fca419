//! What the bag tests share: every backend, and one local cluster per test
//! binary (worker processes re-executed from it) for `distributed`.

// Each test binary uses its own subset of these helpers.
#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::sync::{Arc, OnceLock};

use rask::Scheduler;

/// Starts, once, a cluster of 2 worker processes; it becomes the active
/// client, which the `distributed` scheduler uses.
pub fn cluster() {
    static CLUSTER: OnceLock<rask::Client> = OnceLock::new();
    CLUSTER.get_or_init(|| {
        rask::Client::local_with(rask::distributed::LocalOptions {
            workers: 2,
            ..Default::default()
        })
        .expect("a local cluster starts")
    });
}

/// The backends that run in this process or in forked children.
pub fn in_process() -> Vec<Arc<dyn Scheduler>> {
    [("sync", None), ("threads", Some(2)), ("processes", Some(2))]
        .into_iter()
        .map(|(name, workers)| rask::scheduler_by_name(name, workers).expect("a backend"))
        .collect()
}

/// The distributed backend, over the shared cluster.
pub fn distributed() -> Arc<dyn Scheduler> {
    cluster();
    rask::scheduler_by_name("distributed", None).expect("the distributed backend")
}

/// Every backend: sync, threads, processes and distributed.
pub fn every_backend() -> Vec<Arc<dyn Scheduler>> {
    let mut all = in_process();
    all.push(distributed());
    all
}

/// A fresh directory under the system's temporary directory, removed on drop.
pub struct Scratch(PathBuf);

impl Scratch {
    pub fn new(name: &str) -> Scratch {
        let dir = std::env::temp_dir().join(format!("rask-bag-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).expect("a scratch directory");
        Scratch(dir)
    }

    pub fn path(&self) -> &Path {
        &self.0
    }

    /// Writes `text` to the file `name` in this directory.
    pub fn write(&self, name: &str, text: &str) -> PathBuf {
        let path = self.0.join(name);
        std::fs::write(&path, text).expect("a scratch file");
        path
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}
