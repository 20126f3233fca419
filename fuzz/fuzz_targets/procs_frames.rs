//! The processes scheduler's pipe frames on arbitrary bytes: the child's
//! blocking `read_frame` and the parent's non-blocking `FrameInbox` must split
//! the same stream into the same frames (the parent's arriving in pieces),
//! and each frame's header decodes as `ToChild` or `ToParent` or is an
//! error, never a panic. A header that decodes is re-sent with its tail
//! through `push_frame` and must read back unchanged.

#![no_main]

use libfuzzer_sys::fuzz_target;
use rask_core::FrameInbox;
use rask_sched_procs::frame::{parse, push_frame, read_frame, ToChild, ToParent, MAX_FRAME};

/// Re-encodes a frame that parsed as `M` and checks it reads back equal.
fn round_trip<M>(frame: &[u8])
where
    M: serde::de::DeserializeOwned + serde::Serialize + PartialEq + std::fmt::Debug,
{
    let Ok((msg, tail)) = parse::<M>(frame) else {
        return;
    };
    let mut out = Vec::new();
    push_frame(&mut out, &msg, |o| {
        o.extend_from_slice(tail);
        Ok(())
    })
    .expect("a frame smaller than its input fits");
    let mut reader: &[u8] = &out;
    let mut again = Vec::new();
    read_frame(&mut reader, &mut again)
        .expect("our own frame reads")
        .expect("one frame is there");
    let (msg2, tail2) = parse::<M>(&again).expect("our own frame parses");
    assert_eq!((msg, tail), (msg2, tail2));
}

fuzz_target!(|data: &[u8]| {
    let Some((&step, wire)) = data.split_first() else {
        return;
    };

    let mut reader: &[u8] = wire;
    let mut frame = Vec::new();
    let mut blocking = Vec::new();
    while let Ok(Some(())) = read_frame(&mut reader, &mut frame) {
        blocking.push(frame.clone());
    }

    let mut inbox = FrameInbox::new(MAX_FRAME);
    let mut pieces = Vec::new();
    for chunk in wire.chunks(usize::from(step) + 1) {
        let mut rest = chunk;
        while !rest.is_empty() {
            let spare = inbox.spare();
            let n = spare.len().min(rest.len());
            spare[..n].copy_from_slice(&rest[..n]);
            inbox.filled(n);
            rest = &rest[n..];
            while let Ok(Some(body)) = inbox.next_frame() {
                pieces.push(inbox.body(body).to_vec());
            }
        }
    }
    assert_eq!(
        blocking, pieces,
        "the two readers split the stream differently"
    );

    for f in &blocking {
        round_trip::<ToChild>(f);
        round_trip::<ToParent>(f);
    }
});
