//! The ids that cross the wire, as types that cannot hold a wrong value:
//! a [`WorkerId`] is never 0 (no worker is `Option<WorkerId>`), and a
//! [`JobId`] names its client, so nothing checks `job >> 32` by hand.
//!
//! Both encode exactly as the plain integers they replace (a `u32` and a
//! `u64` varint), so the wire format is unchanged.

use std::fmt;
use std::num::NonZeroU32;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

/// A worker, numbered by the scheduler from 1; never reused. A 0 on the
/// wire fails to decode.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(transparent)]
pub struct WorkerId(NonZeroU32);

impl WorkerId {
    /// The first worker a scheduler numbers.
    pub(crate) const FIRST: WorkerId = WorkerId(NonZeroU32::MIN);

    crate::fuzzing_pub! {
        /// Worker `n`; `None` for 0, which names no worker.
        fn new(n: u32) -> Option<WorkerId> {
            NonZeroU32::new(n).map(WorkerId)
        }
    }

    /// Its number.
    pub fn get(self) -> u32 {
        self.0.get()
    }

    /// The id after this one; `None` once every `u32` is used.
    pub(crate) fn next(self) -> Option<WorkerId> {
        self.0.checked_add(1).map(WorkerId)
    }
}

impl fmt::Display for WorkerId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(&self.0, f)
    }
}

impl FromStr for WorkerId {
    type Err = String;

    fn from_str(s: &str) -> Result<WorkerId, String> {
        let n: u32 = s
            .parse()
            .map_err(|e| format!("`{s}` is not a worker id: {e}"))?;
        WorkerId::new(n).ok_or_else(|| format!("`{s}` is not a worker id: ids start at 1"))
    }
}

/// A job, unique on its cluster: the client that submitted it and that
/// client's own count of its jobs. On the wire it is one `u64`, the
/// client in the high half.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(from = "u64", into = "u64")]
pub struct JobId {
    client: u32,
    seq: u32,
}

impl JobId {
    crate::fuzzing_pub! {
        /// Job `seq` of client `client`.
        fn new(client: u32, seq: u32) -> JobId {
            JobId { client, seq }
        }
    }

    /// The client that submitted it.
    pub(crate) fn client(self) -> u32 {
        self.client
    }

    /// As one number: the client in the high half.
    pub(crate) fn as_u64(self) -> u64 {
        (u64::from(self.client) << 32) | u64::from(self.seq)
    }
}

impl From<u64> for JobId {
    fn from(n: u64) -> JobId {
        JobId {
            client: (n >> 32) as u32,
            seq: n as u32,
        }
    }
}

impl From<JobId> for u64 {
    fn from(id: JobId) -> u64 {
        id.as_u64()
    }
}

/// `JobId(client:seq)`.
impl fmt::Debug for JobId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "JobId({}:{})", self.client, self.seq)
    }
}

/// The one-number form, as logs and file names have always shown it.
impl fmt::Display for JobId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(&self.as_u64(), f)
    }
}

impl fmt::LowerHex for JobId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::LowerHex::fmt(&self.as_u64(), f)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn worker_ids_are_never_zero_on_the_wire() {
        assert_eq!(WorkerId::new(0), None);
        let w = WorkerId::new(7).unwrap();
        let bytes = postcard::to_allocvec(&w).unwrap();
        assert_eq!(bytes, postcard::to_allocvec(&7u32).unwrap());
        assert_eq!(postcard::from_bytes::<WorkerId>(&bytes).unwrap(), w);
        let zero = postcard::to_allocvec(&0u32).unwrap();
        assert!(postcard::from_bytes::<WorkerId>(&zero).is_err());
        assert_eq!("0".parse::<WorkerId>().ok(), None);
        assert_eq!("12".parse::<WorkerId>().ok(), WorkerId::new(12));
        assert_eq!(WorkerId::FIRST.next(), WorkerId::new(2));
        assert_eq!(WorkerId::new(u32::MAX).unwrap().next(), None);
    }

    #[test]
    fn job_ids_encode_as_the_u64_they_replace() {
        let id = JobId::new(3, 9);
        assert_eq!(id.as_u64(), (3 << 32) | 9);
        let bytes = postcard::to_allocvec(&id).unwrap();
        assert_eq!(bytes, postcard::to_allocvec(&id.as_u64()).unwrap());
        let back: JobId = postcard::from_bytes(&bytes).unwrap();
        assert_eq!((back, back.client()), (id, 3));
        assert_eq!(format!("{id:#x}"), "0x300000009");
        assert_eq!(format!("{id:016x}"), "0000000300000009");
        assert_eq!(format!("{id:?}"), "JobId(3:9)");
    }
}
