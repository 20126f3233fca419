//! Inputs the `procs_frames` fuzz target (`fuzz/`) found, each kept as it
//! was found: the pipe frame reader must answer them with an error, not a
//! panic or an allocation the size of a corrupt length prefix.

use std::io;

use rask_sched_procs::frame::{parse, read_frame, ToChild, ToParent};

/// A stream of valid frames, then one whose prefix announces 4,244,635,652
/// bytes with a few bytes behind it. `read_frame` zero-filled a buffer of
/// the announced size before reading (libFuzzer: out-of-memory).
const HUGE_PREFIX: &[u8] = &[
    0x02, 0x00, 0x00, 0x00, 0x00, 0x01, 0x07, 0x00, 0x00, 0x00, 0x01, 0xac, 0x02, 0x03, 0x02, 0x03,
    0x06, 0x02, 0x00, 0x00, 0x00, 0x02, 0x02, 0x02, 0x00, 0x00, 0x00, 0x03, 0x02, 0x04, 0x00, 0x00,
    0xfd, 0xff, 0x01, 0x0a, 0x63, 0x14, 0x00, 0x00, 0x00, 0x01, 0xac, 0x02, 0x03, 0x02, 0x03, 0x06,
    0x02, 0xf9, 0x00, 0x00, 0x02, 0x02, 0x02, 0x00, 0x00, 0x00, 0x03, 0x02, 0x04, 0x00, 0x00, 0x00,
    0x00, 0x01, 0x0a, 0x63, 0x14, 0x00, 0x00, 0x00, 0x01, 0x01, 0x0a, 0x63, 0x04,
];

#[test]
fn a_huge_length_prefix_is_an_early_end_not_a_huge_buffer() {
    let mut reader = HUGE_PREFIX;
    let mut frame = Vec::new();
    let mut frames = 0;
    let end = loop {
        match read_frame(&mut reader, &mut frame) {
            Ok(Some(())) => {
                frames += 1;
                // The frames before it are decoded as the child and the parent would.
                let _ = parse::<ToChild>(&frame);
                let _ = parse::<ToParent>(&frame);
            }
            other => break other,
        }
    };
    assert!(frames > 0, "the valid frames before it are read");
    let err = end.expect_err("a frame cut short is an error");
    assert_eq!(err.kind(), io::ErrorKind::UnexpectedEof);
    assert!(
        frame.capacity() < 4 << 20,
        "{} bytes reserved for a frame of {} bytes",
        frame.capacity(),
        HUGE_PREFIX.len()
    );
}
