//! How often workers send heartbeats, and how long a silent worker is
//! given, as the cluster grows.
//!
//! Every heartbeat costs the scheduler a turn. At a fixed 500 ms, 10,000
//! workers send 20,000 a second, and a long chain of short tasks pays for
//! W / 50 heartbeats per task. As Dask does, the interval grows with the
//! cluster (0.5 s up to 10 workers, 1 s under 50, 2 s under 200, then
//! n / 200 + 1 s), so the scheduler's heartbeat load levels off near 200
//! a second. Workers are told the interval in every `Peers` update, which
//! goes out whenever the membership changed (and so the interval).
//!
//! The liveness timeout stays the same multiple of the interval: the
//! configured timeout at the smallest interval, scaled with it (10 s is
//! 20 heartbeats of 500 ms; at 10,000 workers 20 of 51 s). When the
//! cluster shrinks, a worker may not have heard of the shorter interval
//! yet, so the timeout in force before stays for one more of its span.

use std::time::{Duration, Instant};

/// The interval a cluster of at most 10 workers beats at, and a real
/// worker beats at before it is told one.
pub const FIRST_INTERVAL: Duration = Duration::from_millis(500);

/// The heartbeat interval for a cluster of `workers`, Dask's rule.
pub fn interval(workers: usize) -> Duration {
    match workers {
        0..=10 => FIRST_INTERVAL,
        11..=49 => Duration::from_secs(1),
        50..=199 => Duration::from_secs(2),
        n => Duration::from_millis(u64::try_from(n).unwrap_or(u64::MAX).saturating_mul(5))
            .saturating_add(Duration::from_secs(1)),
    }
}

/// `base` scaled by `interval` / [`FIRST_INTERVAL`], saturating.
fn scaled(base: Duration, interval: Duration) -> Duration {
    let ns = base.as_nanos().saturating_mul(interval.as_nanos()) / FIRST_INTERVAL.as_nanos();
    let secs = u64::try_from(ns / 1_000_000_000).unwrap_or(u64::MAX);
    Duration::new(secs, (ns % 1_000_000_000) as u32)
}

/// The interval workers are told and the timeout that goes with it.
#[derive(Debug)]
pub(super) struct Beat {
    /// The timeout at [`FIRST_INTERVAL`].
    base: Duration,
    interval: Duration,
    /// A longer timeout, from before the cluster shrank, honoured until
    /// the time given.
    grace: Option<(Duration, Instant)>,
}

impl Beat {
    /// An empty cluster's, with `base` the timeout at the first interval.
    pub fn new(base: Duration) -> Beat {
        Beat {
            base,
            interval: FIRST_INTERVAL,
            grace: None,
        }
    }

    /// The interval workers are told now.
    pub fn interval(&self) -> Duration {
        self.interval
    }

    /// The cluster has `workers` as of `now`.
    pub fn resize(&mut self, workers: usize, now: Instant) {
        let next = interval(workers);
        if next < self.interval {
            let before = self.timeout(now);
            self.grace = Some((before, now.checked_add(before).unwrap_or(now)));
        }
        self.interval = next;
    }

    /// How long a worker may be silent at `now` before it counts as gone.
    pub fn timeout(&self, now: Instant) -> Duration {
        let own = scaled(self.base, self.interval);
        match self.grace {
            Some((longer, until)) if now < until => own.max(longer),
            _ => own,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_interval_grows_with_the_cluster_as_dask_s() {
        let ms = |n| interval(n).as_millis();
        assert_eq!([ms(0), ms(1), ms(10)], [500, 500, 500]);
        assert_eq!([ms(11), ms(49)], [1_000, 1_000]);
        assert_eq!([ms(50), ms(199)], [2_000, 2_000]);
        assert_eq!([ms(200), ms(1_000), ms(10_000)], [2_000, 6_000, 51_000]);
        assert!(interval(usize::MAX) > Duration::from_secs(1 << 40));
    }

    #[test]
    fn the_timeout_is_a_fixed_multiple_of_the_interval() {
        let now = Instant::now();
        let mut beat = Beat::new(Duration::from_secs(10));
        assert_eq!(beat.timeout(now), Duration::from_secs(10));
        beat.resize(10_000, now);
        assert_eq!(beat.interval(), Duration::from_secs(51));
        assert_eq!(beat.timeout(now), Duration::from_secs(20 * 51));
        beat.resize(30, now);
        let later = now + Duration::from_secs(20 * 51);
        assert_eq!(beat.timeout(later), Duration::from_secs(20));
        // An unbounded base stays unbounded.
        let mut never = Beat::new(Duration::MAX);
        never.resize(10_000, now);
        assert!(never.timeout(now) >= Duration::from_secs(u64::MAX));
    }

    #[test]
    fn a_shrinking_cluster_keeps_the_longer_timeout_for_its_span() {
        let now = Instant::now();
        let mut beat = Beat::new(Duration::from_secs(10));
        beat.resize(1_000, now); // 6 s: 120 s
        beat.resize(5, now); // 0.5 s: 10 s, but workers may beat at 6 s
        assert_eq!(beat.interval(), FIRST_INTERVAL);
        assert_eq!(beat.timeout(now), Duration::from_secs(120));
        let t = now + Duration::from_secs(119);
        assert_eq!(beat.timeout(t), Duration::from_secs(120));
        let t = now + Duration::from_secs(120);
        assert_eq!(beat.timeout(t), Duration::from_secs(10));
    }
}
