//! The network protocol's receive path on arbitrary bytes: `Inbox` splits
//! a byte stream (arriving in pieces, with `WouldBlock` between them) into
//! frames under a size limit (and bulk payloads, at the default limit), and every frame body is decoded as each
//! message type of `rask-sched-net` (`Hello`, `Welcome`, `FromWorker`,
//! `ToWorker`, `FromClient`, `ToClient`, `PeerMsg`), because a peer may
//! send any of them in any state.
//!
//! Beyond "no panic": each message that decodes must survive the real
//! sending path (`Outbox` then a fresh `Inbox`) unchanged, so that what a
//! receiver accepts is exactly what a sender can say.

#![no_main]

use std::io::{self, Read};

use libfuzzer_sys::fuzz_target;
use rask_sched_net::protocol::{
    messages, FromClient, FromWorker, Hello, Inbox, Outbox, PeerMsg, ToClient, ToWorker, Welcome,
    DEFAULT_MAX_FRAME,
};

/// A socket that has `step` bytes ready at a time, then would block once.
struct Trickle<'a> {
    data: &'a [u8],
    step: usize,
    blocked: bool,
}

impl Read for Trickle<'_> {
    fn read(&mut self, out: &mut [u8]) -> io::Result<usize> {
        if self.data.is_empty() || std::mem::take(&mut self.blocked) {
            return Err(io::ErrorKind::WouldBlock.into());
        }
        let n = self.step.min(self.data.len()).min(out.len());
        out[..n].copy_from_slice(&self.data[..n]);
        self.data = &self.data[n..];
        self.blocked = true;
        Ok(n)
    }
}

/// Decodes every message of `body` as `$ty`, then sends the ones that
/// decoded through an `Outbox` and reads them back: they must come out equal.
macro_rules! decode_as {
    ($body:expr, $ty:ty, $check:expr) => {{
        let decoded: Vec<$ty> = messages::<$ty>($body).map_while(Result::ok).collect();
        for msg in &decoded {
            $check(msg);
        }
        let mut out = Outbox::new();
        for msg in &decoded {
            out.push(msg);
        }
        let mut wire = Vec::new();
        assert!(out.write_to(&mut wire).expect("a Vec takes every byte"));
        let mut inbox = Inbox::new(usize::MAX);
        let mut src: &[u8] = &wire;
        inbox.fill(&mut src).expect("a slice reads");
        let mut ranges = Vec::new();
        while let Some(range) = inbox.next_frame().expect("our own frames are in limits") {
            ranges.push(range);
        }
        let mut again: Vec<$ty> = Vec::new();
        for range in ranges {
            for msg in messages::<$ty>(inbox.body(range)) {
                again.push(msg.expect("what we encoded decodes"));
            }
        }
        // Compared as text: a NaN in a message is not equal to itself.
        assert_eq!(
            format!("{decoded:?}"),
            format!("{again:?}"),
            "a message changed on its way through Outbox and Inbox"
        );
    }};
}

fn decode_body(body: &[u8]) {
    decode_as!(body, Hello, |h: &Hello| {
        let _ = h.refusal(Some("s3cret"));
        let _ = h.refusal(None);
    });
    decode_as!(body, Welcome, |_: &Welcome| {});
    decode_as!(body, FromWorker, |_: &FromWorker| {});
    decode_as!(body, FromClient<'_>, |_: &FromClient<'_>| {});
    decode_as!(body, ToWorker<'_>, |_: &ToWorker<'_>| {});
    decode_as!(body, ToClient, |_: &ToClient| {});
    decode_as!(body, PeerMsg, |_: &PeerMsg| {});
}

fuzz_target!(|data: &[u8]| {
    let Some((&[limit, step], wire)) = data.split_first_chunk::<2>() else {
        return;
    };
    // Small limits make oversized frames common; the largest ones check
    // that a length prefix alone does not make the inbox allocate it.
    let max_frame = match limit % 4 {
        0 => usize::from(limit),
        1 => 64 << 10,
        2 => DEFAULT_MAX_FRAME,
        _ => u32::MAX as usize,
    };
    // At the default limit it reads as a fetching connection does, taking
    // bulk payloads (up to 1 MiB) before the frames they belong to.
    let mut inbox = match limit % 4 {
        2 => Inbox::with_bulk(max_frame, 1 << 20),
        _ => Inbox::new(max_frame),
    };
    let mut src = Trickle {
        data: wire,
        step: usize::from(step) * 8 + 1,
        blocked: false,
    };
    loop {
        let closed = inbox.fill(&mut src).expect("the socket never fails");
        loop {
            match inbox.next_frame() {
                Ok(Some(range)) => decode_body(inbox.body(range)),
                Ok(None) => break,
                // A connection with an oversized frame is closed.
                Err(_) => return,
            }
        }
        if (closed || src.data.is_empty()) && !inbox.paused() {
            break;
        }
    }
});
