//! Frames in and out of a non-blocking socket.
//!
//! [`Inbox`] reads whatever the socket has and hands out complete frame
//! bodies, refusing a length prefix above the connection's limit before
//! reading the body. [`Outbox`] appends messages to an open frame and
//! writes as much as the socket takes; the rest waits for writability.

use std::collections::VecDeque;
use std::io::{self, Read, Write};
use std::ops::Range;
use std::sync::Arc;

use rask_core::{bulk_head, Bulk, FrameInbox, OversizedFrame};
use serde::Serialize;

/// Bytes of the length prefix.
const LEN: usize = 4;
/// A frame being filled is closed past this size, so that one peer's
/// backlog goes out in pieces the receiver can start on.
const SEAL_AT: usize = 1 << 20;
/// A written prefix of the outbox this long, and at least half of it, is
/// dropped: a peer that never quite catches up (the scheduler adds tasks
/// for a worker while the worker reads) would otherwise keep every byte
/// ever sent to it, and each growth of that buffer would copy all of it.
const COMPACT_AT: usize = 4 << 20;
/// A bulk payload up to this size is copied into the outbox rather than
/// queued by reference: copying it costs less than a write of its own.
const INLINE_BULK: usize = 64 << 10;

/// Why a frame cannot be read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FrameError {
    /// The length prefix is above the limit.
    Oversized {
        /// The announced length.
        len: usize,
        /// The limit.
        max: usize,
    },
    /// The body is not a valid message.
    Malformed(String),
}

impl std::fmt::Display for FrameError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            FrameError::Oversized { len, max } => {
                write!(f, "frame of {len} bytes is above the limit of {max}")
            }
            FrameError::Malformed(why) => write!(f, "malformed frame: {why}"),
        }
    }
}

impl std::error::Error for FrameError {}

impl From<OversizedFrame> for FrameError {
    fn from(e: OversizedFrame) -> FrameError {
        FrameError::Oversized {
            len: e.len,
            max: e.max,
        }
    }
}

/// Received bytes, split into frames (and, on peer connections, bulk
/// payloads): [`FrameInbox`] fed from a socket.
#[derive(Debug)]
pub struct Inbox(FrameInbox);

impl Inbox {
    /// An inbox refusing frames above `max_frame` bytes.
    pub fn new(max_frame: usize) -> Inbox {
        Inbox(FrameInbox::new(max_frame))
    }

    /// An inbox that also takes bulk payloads of up to `max_bulk` bytes.
    pub fn with_bulk(max_frame: usize, max_bulk: u64) -> Inbox {
        Inbox(FrameInbox::with_bulk(max_frame, max_bulk))
    }

    /// Reads everything `src` has now, or until a bulk payload has arrived
    /// ([`paused`](Self::paused)). `Ok(true)`: the peer closed.
    pub fn fill(&mut self, src: &mut impl Read) -> io::Result<bool> {
        let mut unbounded = usize::MAX;
        self.fill_up_to(src, &mut unbounded)
    }

    /// [`fill`](Self::fill), stopping once about `budget` bytes are read
    /// (the rest of it is left in `budget`; 0: stopped on it).
    pub fn fill_up_to(&mut self, src: &mut impl Read, budget: &mut usize) -> io::Result<bool> {
        while !self.0.paused() && *budget > 0 {
            match src.read(self.0.spare()) {
                Ok(0) => return Ok(true),
                Ok(n) => {
                    *budget = budget.saturating_sub(n);
                    self.0.filled(n)
                }
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => return Ok(false),
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => return Err(e),
            }
        }
        Ok(false)
    }

    /// Reading stopped at a bulk payload: take the frames, then fill again.
    pub fn paused(&self) -> bool {
        self.0.paused()
    }

    /// Bytes arrived and not yet handed out as frames.
    pub fn buffered(&self) -> usize {
        self.0.buffered()
    }

    /// The range of the next complete frame body, if one has arrived.
    pub fn next_frame(&mut self) -> Result<Option<Range<usize>>, FrameError> {
        Ok(self.0.next_frame()?)
    }

    /// A frame body handed out by [`next_frame`](Self::next_frame).
    #[cfg(any(test, feature = "fuzzing"))]
    pub fn body(&self, range: Range<usize>) -> &[u8] {
        self.0.body(range)
    }

    /// Hands each complete frame body to `f`, in order, until none is left
    /// or an error (a frame that cannot be read, or `f`'s) stops it.
    pub fn drain(&mut self, mut f: impl FnMut(&[u8]) -> Result<(), String>) -> Result<(), String> {
        self.drain_bulk(|body, _| f(body))
    }

    /// [`drain`](Self::drain), handing `f` each frame with the bulk payload
    /// that came right before it.
    pub fn drain_bulk(
        &mut self,
        mut f: impl FnMut(&[u8], Option<Bulk>) -> Result<(), String>,
    ) -> Result<(), String> {
        while let Some(range) = self.next_frame().map_err(|e| e.to_string())? {
            let (body, bulk) = self.0.body_and_bulk(range);
            f(body, bulk)?;
        }
        Ok(())
    }

    /// Takes the inbox out of its connection (leaving an empty one), so
    /// its frames can be handled while the connection's owner is borrowed
    /// mutably; put it back afterwards.
    pub fn take(&mut self) -> Inbox {
        let (max_frame, max_bulk) = self.0.limits();
        let empty = match max_bulk {
            Some(b) => FrameInbox::with_bulk(max_frame, b),
            None => FrameInbox::new(max_frame),
        };
        Inbox(std::mem::replace(&mut self.0, empty))
    }

    /// True when no partial frame is waiting.
    #[cfg(test)]
    pub fn is_idle(&self) -> bool {
        self.0.is_idle()
    }
}

/// Decodes every message of a frame body, in order.
pub fn messages<'a, M: serde::Deserialize<'a>>(
    mut body: &'a [u8],
) -> impl Iterator<Item = Result<M, FrameError>> + 'a {
    std::iter::from_fn(move || {
        if body.is_empty() {
            return None;
        }
        match postcard::take_from_bytes::<M>(body) {
            Ok((msg, rest)) => {
                body = rest;
                Some(Ok(msg))
            }
            Err(e) => {
                body = &[];
                Some(Err(FrameError::Malformed(e.to_string())))
            }
        }
    })
}

/// Bytes waiting to be written, as frames.
#[derive(Debug, Default)]
pub struct Outbox {
    /// Frames sealed before `buf`, oldest first: runs of bytes, and byte
    /// payloads shared with their owner ([`push_shared`](Self::push_shared)).
    queued: VecDeque<Chunk>,
    /// How much of the first queued chunk is written.
    queued_written: usize,
    buf: Vec<u8>,
    /// Start of the frame being filled.
    open: Option<usize>,
    written: usize,
}

#[derive(Debug)]
enum Chunk {
    Own(Vec<u8>),
    Shared(Arc<[u8]>),
    /// A bulk payload: a result's encoding as its holder keeps it.
    Bulk(Arc<Vec<u8>>),
}

impl Chunk {
    fn bytes(&self) -> &[u8] {
        match self {
            Chunk::Own(v) => v,
            Chunk::Shared(b) => b,
            Chunk::Bulk(b) => b,
        }
    }
}

impl Outbox {
    /// An empty outbox.
    pub fn new() -> Outbox {
        Outbox::default()
    }

    /// Appends `msg` to the frame being filled (opening one if needed).
    pub fn push<M: Serialize>(&mut self, msg: &M) {
        let start = *self.open.get_or_insert_with(|| {
            self.buf.extend_from_slice(&[0; LEN]);
            self.buf.len() - LEN
        });
        // Encoding into a Vec fails only for types serde cannot express,
        // which no message of this protocol is.
        if postcard::to_io(msg, &mut self.buf).is_err() {
            self.buf.truncate(start + LEN);
        }
        if self.buf.len() - start > SEAL_AT {
            self.seal();
        }
    }

    /// Queues `message(payload)` as a frame of its own without copying
    /// `payload`, which the caller keeps sharing: a job spec sent to many
    /// workers is held once, not once per worker. The message's last field
    /// must be the payload as a `serde_bytes` field, so that its encoding
    /// ends with the payload's length and bytes.
    pub fn push_shared<'p, M: Serialize>(
        &mut self,
        payload: &'p Arc<[u8]>,
        message: impl Fn(&'p [u8]) -> M,
    ) {
        // The message around an empty payload ends with its length, 0.
        let Ok(mut head) = postcard::to_allocvec(&message(&payload[..0])) else {
            return;
        };
        if head.pop() != Some(0) {
            // Not a payload at the end after all: sent the plain way.
            self.push(&message(&payload[..]));
            return;
        }
        let mut len = Vec::with_capacity(10);
        let _ = postcard::to_io(&payload.len(), &mut len);
        self.seal();
        self.buf.drain(..self.written);
        self.written = 0;
        let body = (head.len() + len.len() + payload.len()) as u32;
        self.buf.extend_from_slice(&body.to_le_bytes());
        self.buf.extend_from_slice(&head);
        self.buf.extend_from_slice(&len);
        self.queued
            .push_back(Chunk::Own(std::mem::take(&mut self.buf)));
        self.queued.push_back(Chunk::Shared(payload.clone()));
    }

    /// Queues `payload` as a bulk payload (its bytes are not copied, and
    /// are no frame: the frame limit does not bound them), then `msg` in a
    /// frame of its own, which the receiver hands out with the payload.
    pub fn push_bulk<M: Serialize>(&mut self, payload: Arc<Vec<u8>>, msg: &M) {
        self.seal();
        if payload.len() <= INLINE_BULK {
            // A small payload is copied in with its head: the same bytes
            // on the wire, in one write with the frames around it rather
            // than two writes of their own (100k small results answer a
            // `gather` of a 100k-task `map`).
            self.buf.extend_from_slice(&bulk_head(payload.len() as u64));
            self.buf.extend_from_slice(&payload);
            self.push(msg);
            self.seal();
            return;
        }
        self.buf.drain(..self.written);
        self.written = 0;
        self.buf.extend_from_slice(&bulk_head(payload.len() as u64));
        self.queued
            .push_back(Chunk::Own(std::mem::take(&mut self.buf)));
        self.queued.push_back(Chunk::Bulk(payload));
        self.push(msg);
        self.seal();
    }

    /// Closes the frame being filled: its length is now known.
    pub fn seal(&mut self) {
        if let Some(start) = self.open.take() {
            let len = (self.buf.len() - start - LEN) as u32;
            self.buf[start..start + LEN].copy_from_slice(&len.to_le_bytes());
        }
    }

    /// True when nothing waits.
    pub fn is_empty(&self) -> bool {
        self.queued.is_empty() && self.buf.len() == self.written
    }

    /// Seals and writes what `dst` takes. `Ok(true)`: all written.
    pub fn write_to(&mut self, dst: &mut impl Write) -> io::Result<bool> {
        self.seal();
        while let Some(chunk) = self.queued.front() {
            let bytes = chunk.bytes();
            if self.queued_written == bytes.len() {
                self.queued.pop_front();
                self.queued_written = 0;
                continue;
            }
            match dst.write(&bytes[self.queued_written..]) {
                Ok(0) => return Err(io::ErrorKind::WriteZero.into()),
                Ok(n) => self.queued_written += n,
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => return Ok(false),
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => return Err(e),
            }
        }
        while self.written < self.buf.len() {
            match dst.write(&self.buf[self.written..]) {
                Ok(0) => return Err(io::ErrorKind::WriteZero.into()),
                Ok(n) => self.written += n,
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => {
                    if self.written >= COMPACT_AT && 2 * self.written >= self.buf.len() {
                        // Sealed just above: no frame is open to move.
                        self.buf.drain(..self.written);
                        self.written = 0;
                    }
                    return Ok(false);
                }
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => return Err(e),
            }
        }
        self.buf.clear();
        self.written = 0;
        if self.buf.capacity() > 4 * COMPACT_AT {
            // A job spec went out: its room goes back.
            self.buf = Vec::new();
        }
        Ok(true)
    }
}

/// Compares secrets in time independent of where they differ.
pub fn ct_eq(a: &[u8], b: &[u8]) -> bool {
    if a.len() != b.len() {
        return false;
    }
    let diff = a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y));
    std::hint::black_box(diff) == 0
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::protocol::{DataKey, Hello, JobId, PeerMsg, Role, DEFAULT_MAX_FRAME};

    /// A reader that hands out its bytes in small pieces, then WouldBlock.
    struct Trickle<'a>(&'a [u8], usize);
    impl Read for Trickle<'_> {
        fn read(&mut self, out: &mut [u8]) -> io::Result<usize> {
            if self.0.is_empty() {
                return Err(io::ErrorKind::WouldBlock.into());
            }
            let n = self.1.min(self.0.len()).min(out.len());
            out[..n].copy_from_slice(&self.0[..n]);
            self.0 = &self.0[n..];
            Ok(n)
        }
    }

    #[test]
    fn batched_messages_round_trip_through_partial_reads() {
        let mut out = Outbox::new();
        let payload = vec![7u8; 100_000];
        out.push(&PeerMsg::Get {
            keys: vec![DataKey {
                job: JobId::from(1),
                task: 2,
            }],
        });
        let key = DataKey {
            job: JobId::from(1),
            task: 2,
        };
        // Small payloads are copied in, large ones queued by reference:
        // either way the bytes keep their order.
        out.push_bulk(Arc::new(vec![7u8; 5_000]), &PeerMsg::Data { key });
        out.push_bulk(Arc::new(payload), &PeerMsg::Data { key });
        out.push_bulk(Arc::new(vec![7u8; 3_000]), &PeerMsg::Data { key });
        out.push(&PeerMsg::Missing {
            key: DataKey {
                job: JobId::from(3),
                task: 4,
            },
        });
        let mut wire = Vec::new();
        assert!(out.write_to(&mut wire).unwrap());

        // The payloads are above the frame limit: they are no frames.
        let mut inbox = Inbox::with_bulk(1000, 1 << 20);
        let mut src = Trickle(&wire, 777);
        let mut got = Vec::new();
        loop {
            let closed = inbox.fill(&mut src).unwrap();
            assert!(!closed);
            inbox
                .drain_bulk(|body, mut bulk| {
                    for m in messages::<PeerMsg>(body) {
                        got.push(match m.unwrap() {
                            PeerMsg::Get { keys } => format!("get {keys:?}"),
                            PeerMsg::Data { key } => {
                                let bytes = bulk.take().unwrap().unwrap();
                                assert!(bytes.iter().all(|b| *b == 7));
                                format!("data {key:?} {}", bytes.len())
                            }
                            PeerMsg::Missing { key } => format!("missing {key:?}"),
                        });
                    }
                    Ok(())
                })
                .unwrap();
            if src.0.is_empty() && !inbox.paused() {
                break;
            }
        }
        assert_eq!(
            got,
            [
                "get [DataKey { job: JobId(0:1), task: 2 }]",
                "data DataKey { job: JobId(0:1), task: 2 } 5000",
                "data DataKey { job: JobId(0:1), task: 2 } 100000",
                "data DataKey { job: JobId(0:1), task: 2 } 3000",
                "missing DataKey { job: JobId(0:3), task: 4 }",
            ]
        );
        assert!(inbox.is_idle());
    }

    /// A writer that takes at most `1` bytes a call, and refuses every
    /// other call (WouldBlock), as a full socket does.
    struct Choking(Vec<u8>, usize, bool);
    impl Write for Choking {
        fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
            self.2 = !self.2;
            if self.2 {
                return Err(io::ErrorKind::WouldBlock.into());
            }
            let n = self.1.min(buf.len());
            self.0.extend_from_slice(&buf[..n]);
            Ok(n)
        }
        fn flush(&mut self) -> io::Result<()> {
            Ok(())
        }
    }

    #[test]
    fn a_shared_payload_goes_out_as_if_copied_in_order() {
        use crate::protocol::ToWorker;
        let spec: Arc<[u8]> = (0..300_000u32).map(|i| i as u8).collect();
        let job = |spec| ToWorker::Job {
            job: JobId::new(0, 9),
            spec,
        };
        let steal = ToWorker::Steal { max: 3 };
        let (mut shared, mut copied) = (Outbox::new(), Outbox::new());
        for out in [&mut shared, &mut copied] {
            out.push(&steal);
        }
        let mut partial = Choking(Vec::new(), 1000, false);
        assert!(!shared.write_to(&mut partial).unwrap());
        shared.push_shared(&spec, job);
        shared.push(&steal);
        copied.push(&job(&spec));
        copied.push(&steal);
        while !shared.write_to(&mut partial).unwrap() {}
        assert!(shared.is_empty());
        let mut plain = Vec::new();
        assert!(copied.write_to(&mut plain).unwrap());

        let decode = |wire: &[u8]| {
            let mut inbox = Inbox::new(1 << 20);
            inbox.fill(&mut Trickle(wire, 4096)).unwrap();
            let mut got = Vec::new();
            while let Some(r) = inbox.next_frame().unwrap() {
                for m in messages::<ToWorker>(inbox.body(r)) {
                    got.push(format!("{:?}", m.unwrap()));
                }
            }
            got
        };
        let got = decode(&partial.0);
        assert_eq!(got.len(), 3);
        assert_eq!(got, decode(&plain), "same messages, in the same order");
    }

    #[test]
    fn oversized_prefix_is_refused_before_the_body_arrives() {
        let mut inbox = Inbox::new(1024);
        let mut src = Trickle(&[0xff, 0xff, 0xff, 0x7f, 1, 2], 6);
        inbox.fill(&mut src).unwrap();
        assert_eq!(
            inbox.next_frame(),
            Err(FrameError::Oversized {
                len: 0x7fff_ffff,
                max: 1024
            })
        );
    }

    /// What the `net_frames` fuzz target found: its runs crawled at 28
    /// inputs a second with 2 GB resident, because an inbox zero-filled a
    /// buffer the size of any length prefix within the limit the moment
    /// the prefix arrived. A peer that has not even said hello could make
    /// the scheduler hold 256 MiB per connection with four bytes.
    #[test]
    fn a_length_prefix_alone_allocates_no_more_than_a_read() {
        // 255 MiB announced, within the default limit; a byte of body follows.
        let wire = [0x00, 0x00, 0xf0, 0x0f, 0x01];
        let mut inbox = Inbox::new(DEFAULT_MAX_FRAME);
        assert!(
            !inbox.fill(&mut Trickle(&wire, wire.len())).unwrap(),
            "the peer is still there"
        );
        assert_eq!(inbox.next_frame(), Ok(None), "the frame is not complete");
        // (How little it holds is rask_core::FrameInbox's own test.)

        // A frame that does arrive whole is still read whole, however it grows.
        let hello =
            postcard::to_allocvec(&Hello::new(Role::Client, Some(&"t".repeat(300_000)))).unwrap();
        let mut wire = (hello.len() as u32).to_le_bytes().to_vec();
        wire.extend_from_slice(&hello);
        let mut inbox = Inbox::new(DEFAULT_MAX_FRAME);
        let mut src = Trickle(&wire, 64 << 10);
        let mut range = None;
        for _ in 0..wire.len() {
            inbox.fill(&mut src).unwrap();
            range = inbox.next_frame().unwrap();
            if range.is_some() {
                break;
            }
        }
        let range = range.expect("the whole frame arrived");
        let got: Vec<Hello> = messages(inbox.body(range)).map(Result::unwrap).collect();
        assert_eq!(got[0].token.as_deref().map(str::len), Some(300_000));
    }

    #[test]
    fn garbage_is_malformed_not_a_panic() {
        let bad = [0xffu8, 0xff, 0xff, 0xff, 0xff, 0x0f, 9];
        let r: Vec<_> = messages::<PeerMsg>(&bad).collect();
        assert!(matches!(r.as_slice(), [Err(FrameError::Malformed(_))]));
    }

    #[test]
    fn constant_time_compare() {
        assert!(ct_eq(b"abc", b"abc"));
        assert!(!ct_eq(b"abc", b"abd"));
        assert!(!ct_eq(b"abc", b"ab"));
    }
}
