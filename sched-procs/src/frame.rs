//! The wire between the parent and its forked children.
//!
//! A frame is a little-endian `u32` length, then a postcard-encoded message,
//! then (for messages that carry a value) the value's encoding as the rest
//! of the frame. The value is never copied into the message: the sender
//! encodes it straight after the header, the receiver decodes it from the
//! frame's tail. Overhead per transferred result: 4 bytes of length, 1 of
//! message tag, 1–5 of task id.
//!
//! Several frames go out in one write, so assignments and results are
//! batched per system call.

use std::io::{self, Read};

use serde::{Deserialize, Serialize};

/// Largest frame accepted: the length is a `u32`.
pub const MAX_FRAME: usize = u32::MAX as usize;

/// Most bytes [`read_frame`] reserves before they arrive.
const FIRST_RESERVE: usize = 1 << 20;

/// Parent to child.
#[derive(Debug, Serialize, Deserialize, PartialEq, Eq)]
pub enum ToChild {
    /// Run this task; its inputs are already here.
    Run { task: u32 },
    /// Keep this value (the frame's tail) as `task`'s result.
    Put { task: u32 },
    /// Send back the encoding of `task`'s result.
    Get { task: u32 },
    /// Drop `task`'s result.
    Release { task: u32 },
}

/// Child to parent.
#[derive(Debug, Serialize, Deserialize, PartialEq, Eq)]
pub enum ToParent {
    /// The task succeeded; its result stays here. Times are nanoseconds
    /// since the run started.
    Done {
        task: u32,
        start_ns: u64,
        end_ns: u64,
    },
    /// The task failed; `key`/`op` name the inner task of a fused chain.
    Failed {
        task: u32,
        start_ns: u64,
        end_ns: u64,
        message: String,
        origin: Option<(String, String)>,
    },
    /// The encoding of `task`'s result is the frame's tail.
    Value { task: u32 },
    /// Something other than a task went wrong in the child (a value that
    /// would not encode or decode).
    Broken { message: String },
}

/// Appends one frame: `message`, then whatever `tail` writes.
pub fn push_frame<M: Serialize>(
    out: &mut Vec<u8>,
    message: &M,
    tail: impl FnOnce(&mut Vec<u8>) -> Result<(), String>,
) -> Result<(), String> {
    let start = out.len();
    out.extend_from_slice(&[0; 4]);
    let header = postcard::to_extend(message, core::mem::take(out)).map_err(|e| e.to_string());
    *out = header?;
    tail(out)?;
    let len = out.len() - start - 4;
    let len = u32::try_from(len)
        .map_err(|_| format!("a frame of {len} bytes is over the {MAX_FRAME}-byte limit"))?;
    out[start..start + 4].copy_from_slice(&len.to_le_bytes());
    Ok(())
}

/// Splits a frame into its message and its tail.
pub fn parse<'a, M: Deserialize<'a>>(frame: &'a [u8]) -> Result<(M, &'a [u8]), String> {
    postcard::take_from_bytes(frame).map_err(|e| format!("malformed frame: {e}"))
}

/// Reads one whole frame (blocking); `Ok(None)` at a clean end of stream.
pub fn read_frame(input: &mut impl Read, frame: &mut Vec<u8>) -> io::Result<Option<()>> {
    let mut len = [0u8; 4];
    match input.read_exact(&mut len) {
        Ok(()) => {}
        Err(e) if e.kind() == io::ErrorKind::UnexpectedEof => return Ok(None),
        Err(e) => return Err(e),
    }
    let len = u32::from_le_bytes(len) as usize;
    frame.clear();
    // The buffer grows with the bytes that arrive, not to the announced
    // length up front: a corrupt prefix (up to 4 GiB) must not allocate
    // before the stream turns out to be short. The reserve covers every
    // frame of ordinary size in one step.
    frame.reserve(len.min(FIRST_RESERVE));
    let got = input.take(len as u64).read_to_end(frame)?;
    if got < len {
        return Err(io::ErrorKind::UnexpectedEof.into());
    }
    Ok(Some(()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn frames_round_trip_with_tails_and_small_overhead() {
        let mut out = Vec::new();
        let payload = vec![7u8; 1000];
        push_frame(&mut out, &ToParent::Value { task: 1_000_000 }, |o| {
            o.extend_from_slice(&payload);
            Ok(())
        })
        .unwrap();
        push_frame(&mut out, &ToChild::Run { task: 3 }, |_| Ok(())).unwrap();
        // length 4 + tag 1 + varint(1_000_000) 3 = 8 bytes beyond the payload.
        assert_eq!(out.len(), 1000 + 8 + 4 + 2);

        let mut inbox = rask_core::FrameInbox::new(MAX_FRAME);
        // Arrive in awkward pieces.
        for chunk in out.chunks(7) {
            inbox.spare()[..chunk.len()].copy_from_slice(chunk);
            inbox.filled(chunk.len());
        }
        let next = |inbox: &mut rask_core::FrameInbox| {
            let range = inbox.next_frame().unwrap()?;
            Some(inbox.body(range).to_vec())
        };
        let frame = next(&mut inbox).unwrap();
        let (msg, tail): (ToParent, _) = parse(&frame).unwrap();
        assert_eq!(msg, ToParent::Value { task: 1_000_000 });
        assert_eq!(tail, &payload[..]);
        let frame = next(&mut inbox).unwrap();
        let (msg, tail): (ToChild, _) = parse(&frame).unwrap();
        assert_eq!((msg, tail.len()), (ToChild::Run { task: 3 }, 0));
        assert!(next(&mut inbox).is_none());
    }

    #[test]
    fn malformed_frames_are_errors() {
        assert!(parse::<ToChild>(&[9, 9, 9]).is_err());
        assert!(parse::<ToParent>(&[]).is_err());
        let mut reader: &[u8] = &[5, 0, 0, 0, 1];
        let mut frame = Vec::new();
        assert!(
            read_frame(&mut reader, &mut frame).is_err(),
            "truncated frame"
        );
        let mut empty: &[u8] = &[];
        assert!(
            read_frame(&mut empty, &mut frame).unwrap().is_none(),
            "clean end"
        );
    }
}
