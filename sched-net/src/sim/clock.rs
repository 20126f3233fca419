//! The one place the simulation's time meets the scheduler's clock type:
//! virtual nanoseconds since the run began, shown to the scheduler as
//! `Instant`s that advance with them, never with the wall clock.

use std::time::{Duration, Instant};

/// Virtual time as the scheduler's handlers take it.
#[derive(Clone, Copy, Debug)]
pub(crate) struct VirtualClock {
    origin: Instant,
}

impl VirtualClock {
    pub(crate) fn new() -> VirtualClock {
        VirtualClock {
            origin: Instant::now(),
        }
    }

    /// The instant `ns` virtual nanoseconds into the run.
    pub(crate) fn at(&self, ns: u64) -> Instant {
        self.origin + Duration::from_nanos(ns)
    }
}
