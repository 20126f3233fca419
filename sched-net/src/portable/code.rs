//! Code references: a stateless function of this binary named by its
//! offset from an anchor, tagged with SipHash under a [`CodeKey`] that only
//! the client and the workers it started know.

use std::io::Read;

use serde::{Deserialize, Serialize};

/// A function in this binary, as an offset from [`anchor`], with its tag.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct CodeRef {
    pub(super) offset: u64,
    tag: u64,
}

/// Code references are offsets from this function.
#[inline(never)]
fn anchor() {}

pub(super) const KIND_OP: u8 = 1;
pub(super) const KIND_CODEC: u8 = 2;

/// The secret that makes code references unforgeable. [`Client::local`]
/// makes one and hands it to the workers it starts.
///
/// [`Client::local`]: crate::Client::local
#[derive(Clone, Copy, PartialEq, Eq)]
pub struct CodeKey {
    k0: u64,
    k1: u64,
}

impl std::fmt::Debug for CodeKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "CodeKey({:016x})", self.id())
    }
}

impl CodeKey {
    /// A fresh random key.
    pub(crate) fn random() -> std::io::Result<CodeKey> {
        let mut bytes = [0u8; 16];
        std::fs::File::open("/dev/urandom")?.read_exact(&mut bytes)?;
        let (a, b) = bytes.split_at(8);
        Ok(CodeKey {
            k0: u64::from_le_bytes(a.try_into().unwrap_or_default()),
            k1: u64::from_le_bytes(b.try_into().unwrap_or_default()),
        })
    }

    /// The key as 32 hex digits, for handing to a child process.
    pub(crate) fn to_hex(self) -> String {
        format!("{:016x}{:016x}", self.k0, self.k1)
    }

    /// A key from [`to_hex`](Self::to_hex)'s form.
    pub(crate) fn from_hex(s: &str) -> Option<CodeKey> {
        if s.len() != 32 || !s.is_ascii() {
            return None;
        }
        Some(CodeKey {
            k0: u64::from_str_radix(&s[..16], 16).ok()?,
            k1: u64::from_str_radix(&s[16..], 16).ok()?,
        })
    }

    /// A public name of this key: workers report it so the scheduler knows
    /// which of them can run a job's code references.
    pub(crate) fn id(&self) -> u64 {
        siphash(self.k0, self.k1, b"rask code id")
    }

    fn tag(&self, kind: u8, offset: u64, name: &str) -> u64 {
        let mut msg = Vec::with_capacity(9 + name.len());
        msg.push(kind);
        msg.extend_from_slice(&offset.to_le_bytes());
        msg.extend_from_slice(name.as_bytes());
        siphash(self.k0, self.k1, &msg)
    }

    pub(super) fn reference(&self, kind: u8, addr: usize, name: &str) -> CodeRef {
        let offset = addr.wrapping_sub(anchor as fn() as usize) as u64;
        CodeRef {
            offset,
            tag: self.tag(kind, offset, name),
        }
    }

    /// The address a reference stands for, if its tag is right.
    pub(super) fn resolve(&self, kind: u8, code: CodeRef, name: &str) -> Option<usize> {
        let tag = self.tag(kind, code.offset, name);
        crate::protocol::ct_eq(&tag.to_le_bytes(), &code.tag.to_le_bytes())
            .then(|| (anchor as fn() as usize).wrapping_add(code.offset as usize))
    }
}

/// SipHash-2-4 of `data` under the key (k0, k1).
fn siphash(k0: u64, k1: u64, data: &[u8]) -> u64 {
    let mut v = [
        k0 ^ 0x736f_6d65_7073_6575,
        k1 ^ 0x646f_7261_6e64_6f6d,
        k0 ^ 0x6c79_6765_6e65_7261,
        k1 ^ 0x7465_6462_7974_6573,
    ];
    fn round(v: &mut [u64; 4]) {
        v[0] = v[0].wrapping_add(v[1]);
        v[1] = v[1].rotate_left(13) ^ v[0];
        v[0] = v[0].rotate_left(32);
        v[2] = v[2].wrapping_add(v[3]);
        v[3] = v[3].rotate_left(16) ^ v[2];
        v[0] = v[0].wrapping_add(v[3]);
        v[3] = v[3].rotate_left(21) ^ v[0];
        v[2] = v[2].wrapping_add(v[1]);
        v[1] = v[1].rotate_left(17) ^ v[2];
        v[2] = v[2].rotate_left(32);
    }
    let compress = |m: u64, v: &mut [u64; 4]| {
        v[3] ^= m;
        round(v);
        round(v);
        v[0] ^= m;
    };
    let mut chunks = data.chunks_exact(8);
    for c in &mut chunks {
        compress(u64::from_le_bytes(c.try_into().unwrap_or_default()), &mut v);
    }
    let mut last = (data.len() as u64) << 56;
    for (i, b) in chunks.remainder().iter().enumerate() {
        last |= u64::from(*b) << (8 * i);
    }
    compress(last, &mut v);
    v[2] ^= 0xff;
    for _ in 0..4 {
        round(&mut v);
    }
    v[0] ^ v[1] ^ v[2] ^ v[3]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    #[allow(deprecated)]
    fn siphash_matches_the_reference() {
        use std::hash::Hasher;
        for len in [0usize, 1, 7, 8, 9, 15, 16, 63] {
            let data: Vec<u8> = (0..len as u8).collect();
            let mut h = std::hash::SipHasher::new_with_keys(0x0706050403020100, 0x0f0e0d0c0b0a0908);
            h.write(&data);
            assert_eq!(
                siphash(0x0706050403020100, 0x0f0e0d0c0b0a0908, &data),
                h.finish(),
                "len {len}"
            );
        }
    }
}
