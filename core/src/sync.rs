//! Locks that outlive a panic. A panic inside an op or a callback poisons
//! the locks it held; rask's locks guard queues, tables and status words
//! whose every update leaves them consistent, so the next holder takes
//! the data as it is instead of spreading the panic to every thread.

use std::sync::{LockResult, PoisonError};

/// Takes a lock's guard whether or not a panic poisoned it:
/// `mutex.lock().ignore_poison()`, and the same after `RwLock::read`,
/// `RwLock::write` and every `Condvar` wait.
///
/// ```
/// use std::sync::{Arc, Mutex};
/// use rask_core::IgnorePoison;
///
/// let queue = Arc::new(Mutex::new(vec![1]));
/// let held = queue.clone();
/// let _ = std::thread::spawn(move || {
///     let _guard = held.lock().ignore_poison();
///     panic!("a task failed while holding the queue");
/// })
/// .join();
/// assert!(queue.is_poisoned());
/// assert_eq!(*queue.lock().ignore_poison(), [1]);
/// ```
pub trait IgnorePoison<G> {
    /// The guard (or the guard and the wait's outcome), poisoned or not.
    fn ignore_poison(self) -> G;
}

impl<G> IgnorePoison<G> for LockResult<G> {
    fn ignore_poison(self) -> G {
        self.unwrap_or_else(PoisonError::into_inner)
    }
}
