//! Length-prefixed frames (a little-endian `u32` length, then the body)
//! arriving in pieces, split apart without IO: the driver reads into
//! [`FrameInbox::spare`], says how much arrived, and takes whole frames.
//! Every driver that talks to its workers over a byte stream needs this
//! once, with the same care about how big the buffer may grow.
//!
//! An inbox made [`with_bulk`](FrameInbox::with_bulk) also takes **bulk
//! payloads**: the length prefix [`BULK`], a `u64` LE length, then that
//! many raw bytes. Frames stay small (the limit bounds control messages);
//! a payload of any size lands in one buffer of its final size, which
//! [`spare`](FrameInbox::spare) hands out for the reads themselves, so the
//! bytes are copied once, by the kernel. A payload belongs to the frame
//! after it: [`next_frame`](FrameInbox::next_frame) keeps it for
//! [`take_bulk`](FrameInbox::take_bulk).

use alloc::vec::Vec;
#[cfg(test)]
use alloc::string::ToString;
use core::fmt;
use core::ops::Range;

/// Bytes of the length prefix.
const LEN: usize = 4;
/// Least free room offered for one read.
const READ_CHUNK: usize = 64 << 10;
/// The length prefix announcing a bulk payload rather than a frame.
pub const BULK: u32 = u32::MAX;
/// The prefix and the payload's `u64` length.
pub const BULK_HEAD: usize = LEN + 8;
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

/// Why a bulk payload was read past rather than kept.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum BulkRefused {
    /// It is larger than the inbox takes.
    TooLarge {
        /// Its length.
        len: u64,
        /// The limit.
        max: u64,
    },
    /// A buffer of its size could not be allocated.
    NoMemory {
        /// Its length.
        len: u64,
    },
}

impl fmt::Display for BulkRefused {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            BulkRefused::TooLarge { len, max } => {
                write!(f, "{len} bytes are above the limit of {max} bytes")
            }
            BulkRefused::NoMemory { len } => write!(f, "{len} bytes could not be allocated"),
        }
    }
}

/// A bulk payload handed out with the frame after it.
pub type Bulk = Result<Vec<u8>, BulkRefused>;

/// Where the bulk payload in progress stands.
#[derive(Debug)]
enum Payload {
    None,
    /// Arriving: `got` bytes of `len` (`dest.len()`) are in `dest`.
    Receiving { dest: Vec<u8>, got: usize, len: usize },
    /// Refused: `left` bytes still to read past.
    Discarding { left: u64, why: BulkRefused },
    /// Complete; its marker has not been reached by `next_frame` yet.
    Ready(Bulk),
}

/// Received bytes, split into frames (and bulk payloads).
#[derive(Debug)]
pub struct FrameInbox {
    /// Zero-initialised once; `filled` bytes of it are data.
    buf: Vec<u8>,
    filled: usize,
    /// Start of the first frame not handed out yet.
    start: usize,
    /// End of the complete frames (and bulk markers) from `start`: where
    /// the next prefix not looked at yet begins.
    scan: usize,
    max_frame: usize,
    /// `None`: a [`BULK`] prefix is an oversized frame, as any other.
    max_bulk: Option<u64>,
    payload: Payload,
    /// The payload whose marker `next_frame` passed: it goes with the
    /// frame handed out next.
    taken: Option<Bulk>,
}

impl FrameInbox {
    /// An inbox refusing frames above `max_frame` bytes.
    pub fn new(max_frame: usize) -> FrameInbox {
        FrameInbox {
            buf: Vec::new(),
            filled: 0,
            start: 0,
            scan: 0,
            max_frame,
            max_bulk: None,
            payload: Payload::None,
            taken: None,
        }
    }

    /// An inbox that also takes bulk payloads of up to `max_bulk` bytes
    /// (a larger one is read past and handed out as
    /// [`BulkRefused::TooLarge`]).
    pub fn with_bulk(max_frame: usize, max_bulk: u64) -> FrameInbox {
        FrameInbox {
            max_bulk: Some(max_bulk),
            ..FrameInbox::new(max_frame)
        }
    }

    /// The limits it was made with: frames, and bulk payloads (`None`:
    /// none taken).
    pub fn limits(&self) -> (usize, Option<u64>) {
        (self.max_frame, self.max_bulk)
    }

    /// Room to read into; report what arrived with
    /// [`filled`](Self::filled). The room grows toward the whole of a frame
    /// whose length is known, but at most to twice what has arrived: a
    /// length prefix alone must not make the buffer the size of the limit.
    /// While a bulk payload arrives, the room is its own buffer. Empty
    /// while [`paused`](Self::paused).
    pub fn spare(&mut self) -> &mut [u8] {
        let discard = match &mut self.payload {
            Payload::Receiving { .. } => None,
            Payload::Ready(_) => Some(0),
            Payload::Discarding { left, .. } => Some(usize::try_from(*left).unwrap_or(usize::MAX)),
            Payload::None => Some(usize::MAX),
        };
        let Some(limit) = discard else {
            let Payload::Receiving { dest, got, .. } = &mut self.payload else {
                unreachable!("matched just above")
            };
            return &mut dest[*got..];
        };
        if limit == 0 {
            return &mut [];
        }
        self.make_room();
        let room = &mut self.buf[self.filled..];
        let n = limit.min(room.len());
        &mut room[..n]
    }

    fn make_room(&mut self) {
        if self.start == self.filled {
            self.start = 0;
            self.filled = 0;
            self.scan = 0;
        }
        let pending = self.filled - self.start;
        let want = match self.peek_len(self.start) {
            Some(len) if len <= self.max_frame => (LEN + len)
                .min(2 * pending.max(READ_CHUNK))
                .max(pending + READ_CHUNK),
            _ => pending + READ_CHUNK,
        };
        if self.buf.len() - self.start < want {
            self.move_to_front();
            if self.buf.len() < want {
                self.buf.resize(want, 0);
            }
        } else if self.buf.len() - self.filled < READ_CHUNK / 4 && self.start > 0 {
            self.move_to_front();
        }
    }

    /// Moves the unread bytes to the front of the buffer.
    fn move_to_front(&mut self) {
        self.buf.copy_within(self.start..self.filled, 0);
        self.filled -= self.start;
        self.scan -= self.start;
        self.start = 0;
    }

    /// A bulk payload has arrived and waits for the frames before it to be
    /// taken: reading stops (the driver takes frames, then reads again),
    /// so that a second payload never lands in the frame buffer.
    pub fn paused(&self) -> bool {
        matches!(self.payload, Payload::Ready(_))
    }

    /// Keeps the first `n` bytes just read into [`spare`](Self::spare).
    pub fn filled(&mut self, n: usize) {
        match &mut self.payload {
            Payload::Receiving { dest, got, len } => {
                *got = (*got + n).min(dest.len());
                if *got == *len {
                    let dest = core::mem::take(dest);
                    self.payload = Payload::Ready(Ok(dest));
                }
            }
            Payload::Discarding { left, why } => {
                *left = left.saturating_sub(n as u64);
                if *left == 0 {
                    self.payload = Payload::Ready(Err(*why));
                }
            }
            Payload::Ready(_) => {}
            Payload::None => {
                self.filled = (self.filled + n).min(self.buf.len());
                self.walk();
            }
        }
    }

    /// Moves `scan` past the complete frames that arrived, and starts the
    /// payload whose head it reaches.
    fn walk(&mut self) {
        while matches!(self.payload, Payload::None) {
            let Some(len) = self.peek_len(self.scan) else {
                return;
            };
            if len == BULK as usize && self.max_bulk.is_some() {
                if self.filled - self.scan < BULK_HEAD {
                    return;
                }
                let mut n = [0u8; 8];
                n.copy_from_slice(&self.buf[self.scan + LEN..self.scan + BULK_HEAD]);
                self.begin_payload(u64::from_le_bytes(n));
                self.scan += BULK_HEAD;
                continue;
            }
            if len > self.max_frame || self.filled - self.scan < LEN + len {
                return;
            }
            self.scan += LEN + len;
        }
    }

    /// Starts a payload of `len` bytes whose head ends at `scan`: the bytes
    /// of it already read move out of the frame buffer into its own.
    fn begin_payload(&mut self, len: u64) {
        let max = self.max_bulk.unwrap_or(0);
        self.payload = match usize::try_from(len) {
            _ if len > max => Payload::Discarding {
                left: len,
                why: BulkRefused::TooLarge { len, max },
            },
            Ok(n) => match zeroed(n) {
                Some(dest) => Payload::Receiving { dest, got: 0, len: n },
                None => Payload::Discarding {
                    left: len,
                    why: BulkRefused::NoMemory { len },
                },
            },
            _ => Payload::Discarding {
                left: len,
                why: BulkRefused::NoMemory { len },
            },
        };
        let from = self.scan + BULK_HEAD;
        let here = self.filled - from;
        let take = usize::try_from(len).unwrap_or(usize::MAX).min(here);
        match &mut self.payload {
            Payload::Receiving { dest, got, .. } => {
                dest[..take].copy_from_slice(&self.buf[from..from + take]);
                *got = take;
            }
            Payload::Discarding { left, .. } => *left -= take as u64,
            _ => {}
        }
        self.buf.copy_within(from + take..self.filled, from);
        self.filled -= take;
        // A payload that arrived whole is complete now.
        self.filled(0);
    }

    fn peek_len(&self, at: usize) -> Option<usize> {
        let head = self.buf.get(at..at + LEN)?;
        (self.filled - at >= LEN)
            .then(|| u32::from_le_bytes([head[0], head[1], head[2], head[3]]) as usize)
    }

    /// Where the next complete frame body lies, if one has arrived: read
    /// it with [`body`](Self::body). A bulk payload passed on the way is
    /// kept for [`take_bulk`](Self::take_bulk).
    pub fn next_frame(&mut self) -> Result<Option<Range<usize>>, OversizedFrame> {
        loop {
            let Some(len) = self.peek_len(self.start) else {
                return Ok(None);
            };
            if len == BULK as usize && self.max_bulk.is_some() {
                // Walked past (so begun), and complete: it is the next frame's.
                if self.start == self.scan || !self.paused() {
                    return Ok(None);
                }
                if let Payload::Ready(bulk) = core::mem::replace(&mut self.payload, Payload::None)
                {
                    self.taken = Some(bulk);
                }
                self.start += BULK_HEAD;
                // What arrived after it while it was read may hold frames.
                self.walk();
                continue;
            }
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
            return Ok(Some(body));
        }
    }

    /// The bulk payload that came right before the frame
    /// [`next_frame`](Self::next_frame) handed out last, if one did.
    pub fn take_bulk(&mut self) -> Option<Bulk> {
        self.taken.take()
    }

    /// A frame body handed out by [`next_frame`](Self::next_frame).
    pub fn body(&self, range: Range<usize>) -> &[u8] {
        self.buf.get(range).unwrap_or_default()
    }

    /// A frame body, and the bulk payload before it, if any.
    pub fn body_and_bulk(&mut self, range: Range<usize>) -> (&[u8], Option<Bulk>) {
        let bulk = self.taken.take();
        (self.buf.get(range).unwrap_or_default(), bulk)
    }

    /// Bytes arrived in the frame buffer and not yet handed out as frames.
    pub fn buffered(&self) -> usize {
        self.filled - self.start
    }

    /// True when no partial frame (or payload) is waiting.
    pub fn is_idle(&self) -> bool {
        self.start == self.filled && matches!(self.payload, Payload::None)
    }
}

/// `n` zero bytes, or `None` if they cannot be allocated. Zeroed by the
/// allocator: a large block comes from the system as untouched zero pages,
/// so each page is first touched by the read that fills it, as a plain
/// `vec![0; n]` would be, but without aborting the process when `n` is
/// more than it can have.
fn zeroed(n: usize) -> Option<Vec<u8>> {
    if n == 0 {
        return Some(Vec::new());
    }
    let layout = alloc::alloc::Layout::array::<u8>(n).ok()?;
    // SAFETY: the layout's size is not zero (checked above). A non-null
    // pointer is `n` zeroed bytes from the global allocator with the
    // layout of `[u8; n]`: exactly what a `Vec<u8>` of length and
    // capacity `n` owns and later frees.
    unsafe {
        let ptr = alloc::alloc::alloc_zeroed(layout);
        (!ptr.is_null()).then(|| Vec::from_raw_parts(ptr, n, n))
    }
}

/// The head announcing a bulk payload of `len` bytes.
pub fn bulk_head(len: u64) -> [u8; BULK_HEAD] {
    let mut head = [0u8; BULK_HEAD];
    head[..LEN].copy_from_slice(&BULK.to_le_bytes());
    head[LEN..].copy_from_slice(&len.to_le_bytes());
    head
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

    /// Feeds `bytes` in reads of at most `step`, taking frames (with the
    /// payload before each) as they complete, as a driver does.
    fn split_bulk(inbox: &mut FrameInbox, mut bytes: &[u8], step: usize) -> Vec<(Vec<u8>, Option<Bulk>)> {
        let mut out = Vec::new();
        loop {
            while let Some(r) = inbox.next_frame().unwrap() {
                let (body, bulk) = inbox.body_and_bulk(r);
                out.push((body.to_vec(), bulk));
            }
            if bytes.is_empty() {
                return out;
            }
            let spare = inbox.spare();
            let n = step.min(spare.len()).min(bytes.len());
            spare[..n].copy_from_slice(&bytes[..n]);
            inbox.filled(n);
            bytes = &bytes[n..];
        }
    }

    fn bulk(payload: &[u8]) -> Vec<u8> {
        let mut b = bulk_head(payload.len() as u64).to_vec();
        b.extend_from_slice(payload);
        b
    }

    #[test]
    fn bulk_payloads_go_with_the_frame_after_them_whatever_the_pieces() {
        let big: Vec<u8> = (0..5_000_000u32).map(|i| (i % 251) as u8).collect();
        let mut bytes = frame(b"a");
        bytes.extend(bulk(&big));
        bytes.extend(frame(b"b"));
        bytes.extend(bulk(&[]));
        bytes.extend(frame(b"c"));
        bytes.extend(bulk(&[1, 2, 3]));
        bytes.extend(bulk(&[4]));
        bytes.extend(frame(b"d"));
        for step in [1, 5, 13, 4096, 1 << 20, usize::MAX] {
            // Byte-at-a-time is slow over 5 MB: those steps get a small one.
            let mut bytes = bytes.clone();
            if step < 4096 {
                let small = bulk(&big[..1000]);
                let at = bytes.windows(4).position(|w| w == BULK.to_le_bytes()).unwrap();
                bytes.splice(at..at + BULK_HEAD + big.len(), small);
            }
            let mut inbox = FrameInbox::with_bulk(1 << 20, 1 << 30);
            let got = split_bulk(&mut inbox, &bytes, step);
            let want_big = if step < 4096 { &big[..1000] } else { &big[..] };
            let expect: Vec<(Vec<u8>, Option<Bulk>)> = vec![
                (b"a".to_vec(), None),
                (b"b".to_vec(), Some(Ok(want_big.to_vec()))),
                (b"c".to_vec(), Some(Ok(Vec::new()))),
                // Two payloads before one frame: the later one goes with it.
                (b"d".to_vec(), Some(Ok(vec![4]))),
            ];
            assert!(got == expect, "pieces of {step}");
            assert!(inbox.is_idle());
        }
    }

    #[test]
    fn a_payload_above_the_limit_is_read_past_and_named() {
        let mut bytes = bulk(&[7u8; 300_000]);
        bytes.extend(frame(b"x"));
        bytes.extend(frame(b"y"));
        let mut inbox = FrameInbox::with_bulk(1 << 20, 100_000);
        let got = split_bulk(&mut inbox, &bytes, 64 << 10);
        let refused = BulkRefused::TooLarge { len: 300_000, max: 100_000 };
        assert!(got == vec![(b"x".to_vec(), Some(Err(refused))), (b"y".to_vec(), None)]);
        assert_eq!(
            refused.to_string(),
            "300000 bytes are above the limit of 100000 bytes"
        );
        // Without bulk payloads, the prefix is an oversized frame.
        let mut plain = FrameInbox::new(1 << 20);
        plain.spare()[..BULK_HEAD].copy_from_slice(&bulk_head(5));
        plain.filled(BULK_HEAD);
        assert!(plain.next_frame().is_err());
    }
}
