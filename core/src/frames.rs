//! Length-prefixed frames (a little-endian `u32` length, then the body)
//! arriving in pieces, split apart without IO: the driver reads into
//! [`FrameInbox::spare`], says how much arrived, and takes whole frames.
//! Every driver that talks to its workers over a byte stream needs this
//! once, with the same care about how big the buffer may grow.

use alloc::vec::Vec;
use core::fmt;
use core::ops::Range;

/// Bytes of the length prefix.
const LEN: usize = 4;
/// Least free room offered for one read.
const READ_CHUNK: usize = 64 << 10;

/// A frame's length prefix is above the inbox's limit.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct OversizedFrame {
    /// The announced length.
    pub len: usize,
    /// The limit.
    pub max: usize,
}

impl fmt::Display for OversizedFrame {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "frame of {} bytes is above the limit of {}",
            self.len, self.max
        )
    }
}

/// Received bytes, split into frames.
#[derive(Debug)]
pub struct FrameInbox {
    /// Zero-initialised once; `filled` bytes of it are data.
    buf: Vec<u8>,
    filled: usize,
    /// Start of the first frame not handed out yet.
    start: usize,
    max_frame: usize,
}

impl FrameInbox {
    /// An inbox refusing frames above `max_frame` bytes.
    pub fn new(max_frame: usize) -> FrameInbox {
        FrameInbox {
            buf: Vec::new(),
            filled: 0,
            start: 0,
            max_frame,
        }
    }

    /// Room to read into; report what arrived with
    /// [`filled`](Self::filled). The room grows toward the whole of a frame
    /// whose length is known, but at most to twice what has arrived: a
    /// length prefix alone must not make the buffer the size of the limit.
    pub fn spare(&mut self) -> &mut [u8] {
        if self.start == self.filled {
            self.start = 0;
            self.filled = 0;
        }
        let pending = self.filled - self.start;
        let want = match self.peek_len() {
            Some(len) if len <= self.max_frame => (LEN + len)
                .min(2 * pending.max(READ_CHUNK))
                .max(pending + READ_CHUNK),
            _ => pending + READ_CHUNK,
        };
        if self.buf.len() - self.start < want {
            self.buf.copy_within(self.start..self.filled, 0);
            self.filled = pending;
            self.start = 0;
            if self.buf.len() < want {
                self.buf.resize(want, 0);
            }
        } else if self.buf.len() - self.filled < READ_CHUNK / 4 && self.start > 0 {
            self.buf.copy_within(self.start..self.filled, 0);
            self.filled = pending;
            self.start = 0;
        }
        &mut self.buf[self.filled..]
    }

    /// Keeps the first `n` bytes just read into [`spare`](Self::spare).
    pub fn filled(&mut self, n: usize) {
        self.filled = (self.filled + n).min(self.buf.len());
    }

    fn peek_len(&self) -> Option<usize> {
        let head = self.buf.get(self.start..self.start + LEN)?;
        (self.filled - self.start >= LEN)
            .then(|| u32::from_le_bytes([head[0], head[1], head[2], head[3]]) as usize)
    }

    /// Where the next complete frame body lies, if one has arrived: read
    /// it with [`body`](Self::body).
    pub fn next_frame(&mut self) -> Result<Option<Range<usize>>, OversizedFrame> {
        let Some(len) = self.peek_len() else {
            return Ok(None);
        };
        if len > self.max_frame {
            return Err(OversizedFrame {
                len,
                max: self.max_frame,
            });
        }
        let body = self.start + LEN..self.start + LEN + len;
        if body.end > self.filled {
            return Ok(None);
        }
        self.start = body.end;
        Ok(Some(body))
    }

    /// A frame body handed out by [`next_frame`](Self::next_frame).
    pub fn body(&self, range: Range<usize>) -> &[u8] {
        self.buf.get(range).unwrap_or_default()
    }

    /// True when no partial frame is waiting.
    pub fn is_idle(&self) -> bool {
        self.start == self.filled
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use alloc::vec;

    fn frame(body: &[u8]) -> Vec<u8> {
        let mut f = (body.len() as u32).to_le_bytes().to_vec();
        f.extend_from_slice(body);
        f
    }

    /// Feeds `bytes` in reads of at most `step`, as a socket would,
    /// taking frames as they complete.
    fn split(inbox: &mut FrameInbox, mut bytes: &[u8], step: usize) -> Vec<Vec<u8>> {
        let mut out = Vec::new();
        while !bytes.is_empty() {
            let spare = inbox.spare();
            assert!(spare.len() >= READ_CHUNK);
            let n = step.min(spare.len()).min(bytes.len());
            spare[..n].copy_from_slice(&bytes[..n]);
            inbox.filled(n);
            bytes = &bytes[n..];
            while let Some(r) = inbox.next_frame().unwrap() {
                out.push(inbox.body(r).to_vec());
            }
        }
        out
    }

    #[test]
    fn frames_arriving_in_any_pieces_come_out_whole() {
        let bodies = [vec![1u8; 3], vec![], vec![7u8; 200_000], vec![9u8; 5]];
        let bytes: Vec<u8> = bodies.iter().flat_map(|b| frame(b)).collect();
        for step in [1, 3, 4096, 1 << 20] {
            let mut inbox = FrameInbox::new(1 << 20);
            assert_eq!(split(&mut inbox, &bytes, step), bodies, "pieces of {step}");
            assert!(inbox.is_idle());
        }
    }

    #[test]
    fn an_oversized_prefix_is_refused_before_its_body_arrives() {
        let mut inbox = FrameInbox::new(100);
        let spare = inbox.spare();
        spare[..4].copy_from_slice(&101u32.to_le_bytes());
        inbox.filled(4);
        assert_eq!(
            inbox.next_frame(),
            Err(OversizedFrame { len: 101, max: 100 })
        );
        // A huge announced length does not grow the buffer to match.
        let mut inbox = FrameInbox::new(usize::MAX);
        inbox.spare()[..4].copy_from_slice(&u32::MAX.to_le_bytes());
        inbox.filled(4);
        assert!(inbox.spare().len() <= 2 * READ_CHUNK);
        assert_eq!(inbox.next_frame(), Ok(None));
    }
}
