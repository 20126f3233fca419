//! The results a worker holds: in memory, or spilled to its local
//! directory once the results in memory pass a share of its memory limit.
//!
//! Every result made here is kept with its encoding (peers are sent those
//! bytes), so spilling one is writing bytes that already exist and
//! dropping both copies; reading it back decodes the file once and keeps
//! it in memory again. The least recently used results go first, and only
//! results no queued task has pinned: a pinned input is about to be read.
//!
//! Each job's tasks held here are listed beside the map, so dropping a job
//! visits its own results, not every result of every job (ten thousand
//! one-task jobs dropped one by one scanned the store ten thousand times).

use std::collections::HashMap;
use std::fs;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use rask_core::{Codec, Value};

use super::spread::SpreadMap;
use crate::protocol::{DataKey, JobId};

/// A result held here.
pub(super) struct Stored {
    held: Held,
    /// Its encoded size: what the value takes in memory, near enough.
    size: u64,
    /// Decodes it when it comes back from disk.
    codec: Option<Codec>,
    /// Made here (the scheduler knows) rather than fetched for a task.
    pub own: bool,
    /// Tasks queued or running here that use it.
    pub users: u32,
    /// When it was last used, in [`Store`] ticks.
    used: u64,
}

enum Held {
    /// The value, and its encoding for peers (empty for fetched copies).
    Memory { value: Value, bytes: Arc<Vec<u8>> },
    /// In the spill file named after its key.
    Disk,
}

impl Stored {
    /// Bytes of memory it takes: the value and any encoding kept beside.
    fn in_memory(&self) -> u64 {
        match &self.held {
            Held::Memory { bytes, .. } => self.size + bytes.len() as u64,
            Held::Disk => 0,
        }
    }
}

/// Where spilled results go.
pub(super) struct SpillDir {
    path: PathBuf,
}

impl SpillDir {
    /// This worker's own directory inside `local` (the system's temporary
    /// directory if `None`), so that workers can share one; created when
    /// the first result is spilled, removed when the worker exits.
    pub fn new(local: Option<&Path>) -> SpillDir {
        let parent = local.map_or_else(std::env::temp_dir, Path::to_path_buf);
        SpillDir {
            path: parent.join(format!("rask-worker-{}", std::process::id())),
        }
    }

    fn file(&self, key: DataKey) -> PathBuf {
        self.path.join(format!("{:016x}-{}", key.job, key.task))
    }
}

impl Drop for SpillDir {
    fn drop(&mut self) {
        let _ = fs::remove_dir_all(&self.path);
    }
}

/// The results held here, and how many bytes are in memory and on disk.
pub(super) struct Store {
    map: SpreadMap<DataKey, Stored>,
    /// The sum of `in_memory`.
    memory: u64,
    /// The sum of `size` of spilled results.
    disk: u64,
    tick: u64,
    /// `None`: spilling is off (or broke, and was logged).
    dir: Option<SpillDir>,
    /// Per job, the tasks it has here, and how many of them are still
    /// held: the list is pruned lazily, when it is over twice that.
    by_job: HashMap<JobId, JobKeys>,
}

/// One job's entry in [`Store::by_job`].
#[derive(Default)]
struct JobKeys {
    /// Tasks stored for it since the last prune (some since removed).
    tasks: Vec<u32>,
    /// How many of `tasks` are still in the map.
    live: usize,
}

impl Store {
    pub fn new(dir: Option<SpillDir>) -> Store {
        Store {
            map: SpreadMap::default(),
            memory: 0,
            disk: 0,
            tick: 0,
            dir,
            by_job: HashMap::new(),
        }
    }

    /// Bytes of results in memory (values and encodings).
    pub fn memory(&self) -> u64 {
        self.memory
    }

    /// Bytes of results spilled to disk.
    pub fn spilled(&self) -> u64 {
        self.disk
    }

    /// Keeps a result: `bytes` is its encoding (empty for a fetched copy,
    /// whose encoded size is `size`).
    pub fn insert(
        &mut self,
        key: DataKey,
        value: Value,
        bytes: Vec<u8>,
        size: u64,
        codec: Option<Codec>,
        own: bool,
    ) {
        self.tick += 1;
        let stored = Stored {
            held: Held::Memory {
                value,
                bytes: Arc::new(bytes),
            },
            size,
            codec,
            own,
            users: 0,
            used: self.tick,
        };
        self.memory += stored.in_memory();
        match self.map.insert(key, stored) {
            Some(old) => self.forget(key, old),
            None => {
                let keys = self.by_job.entry(key.job).or_default();
                keys.tasks.push(key.task);
                keys.live += 1;
            }
        }
    }

    /// Whether results go to disk past the limit: only then is a
    /// result's codec needed.
    pub fn spills(&self) -> bool {
        self.dir.is_some()
    }

    pub fn get(&self, key: &DataKey) -> Option<&Stored> {
        self.map.get(key)
    }

    pub fn get_mut(&mut self, key: &DataKey) -> Option<&mut Stored> {
        self.map.get_mut(key)
    }

    /// Keeps a fetched copy as if made here (a replica): encoded now, so
    /// that peers can be served it.
    pub fn adopt(&mut self, key: DataKey) -> Result<(), String> {
        let Some(s) = self.map.get_mut(&key) else {
            return Ok(());
        };
        if let (false, Some(codec), Held::Memory { value, bytes }) = (s.own, s.codec, &mut s.held) {
            let mut encoded = Vec::new();
            codec.encode(value, &mut encoded).map_err(|e| {
                format!(
                    "cannot keep a copy of {:x}/{}: {}",
                    key.job,
                    key.task,
                    e.message()
                )
            })?;
            self.memory += encoded.len() as u64;
            *bytes = Arc::new(encoded);
        }
        s.own = true;
        Ok(())
    }

    /// Drops a result, from memory or disk.
    pub fn remove(&mut self, key: DataKey) {
        let Some(s) = self.map.remove(&key) else {
            return;
        };
        self.forget(key, s);
        let Some(keys) = self.by_job.get_mut(&key.job) else {
            return;
        };
        keys.live -= 1;
        if keys.live == 0 {
            self.by_job.remove(&key.job);
        } else if keys.tasks.len() > 2 * keys.live + 64 {
            // Each prune halves the list at least, so its cost is paid
            // for by the removals since the last one.
            let map = &self.map;
            keys.tasks.sort_unstable();
            keys.tasks.dedup();
            keys.tasks
                .retain(|&task| map.get(&DataKey { job: key.job, task }).is_some());
        }
    }

    /// Takes a result that left the map off the counts (and the disk).
    fn forget(&mut self, key: DataKey, s: Stored) {
        match s.held {
            Held::Memory { .. } => self.memory -= s.in_memory(),
            Held::Disk => {
                self.disk -= s.size;
                if let Some(dir) = &self.dir {
                    let _ = fs::remove_file(dir.file(key));
                }
            }
        }
    }

    /// Drops every result of `job`.
    pub fn remove_job(&mut self, job: JobId) {
        let Some(keys) = self.by_job.remove(&job) else {
            return;
        };
        // The job's list is gone, so `remove` only drops each result.
        for task in keys.tasks {
            self.remove(DataKey { job, task });
        }
    }

    /// The value of `key`, read back from disk (and kept in memory again)
    /// if it was spilled. `Err` names what went wrong with the file.
    pub fn value(&mut self, key: DataKey) -> Option<Result<Value, String>> {
        self.tick += 1;
        let tick = self.tick;
        let s = self.map.get_mut(&key)?;
        s.used = tick;
        if let Held::Memory { value, .. } = &s.held {
            return Some(Ok(value.clone()));
        }
        let loaded = self
            .dir
            .as_ref()
            .ok_or("its spill directory is gone".to_owned())
            .and_then(|dir| {
                let path = dir.file(key);
                let bytes =
                    fs::read(&path).map_err(|e| format!("reading {}: {e}", path.display()))?;
                let codec = s.codec.ok_or("its type is unknown here")?;
                let value = codec
                    .decode(&bytes)
                    .map_err(|e| format!("decoding {}: {}", path.display(), e.message()))?;
                let _ = fs::remove_file(&path);
                Ok((value, bytes))
            });
        Some(match loaded {
            Ok((value, bytes)) => {
                s.held = Held::Memory {
                    value: value.clone(),
                    bytes: Arc::new(bytes),
                };
                self.disk -= s.size;
                self.memory += s.in_memory();
                Ok(value)
            }
            Err(e) => Err(format!(
                "result {:x}/{} was spilled and cannot be read back: {e}",
                key.job, key.task
            )),
        })
    }

    /// The encoding of a result made here, for a peer: from memory, or
    /// read from its spill file (which stays on disk).
    pub fn own_bytes(&mut self, key: DataKey) -> Option<Arc<Vec<u8>>> {
        self.tick += 1;
        let tick = self.tick;
        let s = self.map.get_mut(&key).filter(|s| s.own)?;
        s.used = tick;
        match &s.held {
            Held::Memory { bytes, .. } => Some(bytes.clone()),
            Held::Disk => {
                let dir = self.dir.as_ref()?;
                fs::read(dir.file(key)).ok().map(Arc::new)
            }
        }
    }

    /// Spills the least recently used results, of those made here that no
    /// task has pinned, until at most `target` bytes are in memory. `Err`:
    /// a file could not be written, and spilling is now off.
    pub fn spill_to(&mut self, target: u64) -> Result<u64, String> {
        if self.memory <= target || self.dir.is_none() {
            return Ok(0);
        }
        let mut candidates: Vec<(u64, DataKey)> = self
            .map
            .iter()
            .filter(|(_, s)| {
                s.own
                    && s.users == 0
                    && s.codec.is_some()
                    && matches!(&s.held, Held::Memory { bytes, .. } if !bytes.is_empty())
            })
            .map(|(k, s)| (s.used, *k))
            .collect();
        candidates.sort_unstable();
        let mut spilled = 0;
        for (_, key) in candidates {
            if self.memory <= target {
                break;
            }
            if let Err(e) = self.spill_one(key) {
                self.dir = None;
                return Err(e);
            }
            spilled += 1;
        }
        Ok(spilled)
    }

    fn spill_one(&mut self, key: DataKey) -> Result<(), String> {
        let (Some(dir), Some(s)) = (self.dir.as_mut(), self.map.get_mut(&key)) else {
            return Ok(());
        };
        let Held::Memory { bytes, .. } = &s.held else {
            return Ok(());
        };
        fs::create_dir_all(&dir.path)
            .map_err(|e| format!("creating {}: {e}", dir.path.display()))?;
        let path = dir.file(key);
        fs::write(&path, bytes.as_slice())
            .map_err(|e| format!("writing {}: {e}", path.display()))?;
        self.memory -= s.in_memory();
        s.held = Held::Disk;
        self.disk += s.size;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(task: u32) -> DataKey {
        DataKey {
            job: JobId::from(7),
            task,
        }
    }

    /// A store spilling under a fresh directory, and that directory.
    fn store(name: &str) -> (Store, PathBuf) {
        let parent = std::env::temp_dir().join(format!("rask-store-{name}-{}", std::process::id()));
        let dir = SpillDir::new(Some(&parent));
        (Store::new(Some(dir)), parent)
    }

    fn put(s: &mut Store, task: u32, v: Vec<u64>) {
        let codec = Codec::of::<Vec<u64>>();
        let mut bytes = Vec::new();
        let value = Value::new(v);
        codec.encode(&value, &mut bytes).unwrap();
        let size = bytes.len() as u64;
        s.insert(key(task), value, bytes, size, Some(codec), true);
    }

    #[test]
    fn spills_least_recently_used_unpinned_results_and_reads_them_back() {
        let (mut s, parent) = store("lru");
        for t in 0..4 {
            put(&mut s, t, vec![u64::from(t); 100]);
        }
        let each = s.memory() / 4;
        // Task 0 is used again, task 1 is pinned by a queued task.
        s.value(key(0)).unwrap().unwrap();
        s.get_mut(&key(1)).unwrap().users = 1;
        s.spill_to(2 * each).unwrap();
        let on_disk = |s: &Store, t| matches!(s.get(&key(t)).unwrap().held, Held::Disk);
        assert!(
            on_disk(&s, 2) && on_disk(&s, 3),
            "the least recent go first"
        );
        assert!(!on_disk(&s, 0) && !on_disk(&s, 1));
        // In memory a result is its value and its encoding; on disk, one
        // encoding: two spilled take what one took in memory.
        assert_eq!((s.memory(), s.spilled()), (2 * each, each));

        let back = s.value(key(2)).unwrap().unwrap();
        assert_eq!(*back.downcast_ref::<Vec<u64>>().unwrap(), vec![2u64; 100]);
        assert!(!on_disk(&s, 2));
        assert_eq!(s.own_bytes(key(3)).unwrap().len() as u64 * 2, each);
        s.remove(key(3));
        assert_eq!(s.spilled(), 0);
        drop(s);
        assert!(
            std::fs::read_dir(&parent).unwrap().next().is_none(),
            "its directory goes with it"
        );
        let _ = std::fs::remove_dir_all(parent);
    }

    #[test]
    fn an_unreadable_spill_file_is_an_error_naming_the_result() {
        let (mut s, parent) = store("broken");
        put(&mut s, 5, vec![1, 2, 3]);
        s.spill_to(0).unwrap();
        let file = s.dir.as_ref().unwrap().file(key(5));
        std::fs::write(&file, [0xff]).unwrap();
        let err = s.value(key(5)).unwrap().unwrap_err();
        assert!(
            err.contains("result 7/5 was spilled and cannot be read back"),
            "{err}"
        );
        drop(s);
        let _ = std::fs::remove_dir_all(parent);
    }

    #[test]
    fn dropping_a_job_drops_its_results_only_through_removals_and_prunes() {
        let mut s = Store::new(None);
        let other = |task| DataKey {
            job: JobId::from(8),
            task,
        };
        let put_in = |s: &mut Store, key: DataKey| {
            let value = Value::new(vec![key.task as u64]);
            s.insert(key, value, vec![0; 8], 8, None, true);
        };
        for t in 0..300 {
            put_in(&mut s, key(t));
            put_in(&mut s, other(t));
        }
        // Most of job 7's results go one by one (its list is pruned on the
        // way), one comes back, and one is stored twice.
        for t in 0..250 {
            s.remove(key(t));
        }
        put_in(&mut s, key(3));
        put_in(&mut s, key(299));
        let kept = s.memory();
        s.remove_job(JobId::from(7));
        assert!(
            (0..300).all(|t| s.get(&key(t)).is_none()),
            "a result of the dropped job stayed"
        );
        assert!(
            (0..300).all(|t| s.get(&other(t)).is_some()),
            "another job's result went"
        );
        assert_eq!(s.memory(), kept - 51 * 16, "the counts follow what went");
        s.remove_job(JobId::from(8));
        assert_eq!(s.memory(), 0);
        assert!(s.by_job.is_empty());
    }
}
