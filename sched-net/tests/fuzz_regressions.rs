//! What the `net_frames` fuzz target (`fuzz/`) found in the frame reader:
//! its runs crawled at 28 inputs a second with 2 GB resident, because an
//! `Inbox` zero-filled a buffer the size of any length prefix within the
//! limit the moment the prefix arrived. A peer that has not even said
//! hello could make the scheduler hold 256 MiB per connection with four
//! bytes. This binary counts allocations to prove the buffer now grows
//! with the bytes that arrive.

use std::alloc::{GlobalAlloc, Layout, System};
use std::io::{self, Read};
use std::sync::atomic::{AtomicUsize, Ordering};

use rask_sched_net::protocol::{messages, Hello, Inbox, DEFAULT_MAX_FRAME};

/// The system allocator, remembering the largest block asked for.
struct Largest;

static LARGEST: AtomicUsize = AtomicUsize::new(0);

// SAFETY: every call is passed to the system allocator unchanged.
unsafe impl GlobalAlloc for Largest {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        LARGEST.fetch_max(layout.size(), Ordering::Relaxed);
        // SAFETY: the caller upholds `alloc`'s contract.
        unsafe { System.alloc(layout) }
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        // SAFETY: `ptr` came from `System` through `alloc` or `realloc`.
        unsafe { System.dealloc(ptr, layout) }
    }
    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        LARGEST.fetch_max(new_size, Ordering::Relaxed);
        // SAFETY: the caller upholds `realloc`'s contract.
        unsafe { System.realloc(ptr, layout, new_size) }
    }
}

#[global_allocator]
static ALLOCATOR: Largest = Largest;

/// A socket with these bytes, then nothing yet.
struct Pending<'a>(&'a [u8]);

impl Read for Pending<'_> {
    fn read(&mut self, out: &mut [u8]) -> io::Result<usize> {
        if self.0.is_empty() {
            return Err(io::ErrorKind::WouldBlock.into());
        }
        let n = self.0.len().min(out.len());
        out[..n].copy_from_slice(&self.0[..n]);
        self.0 = &self.0[n..];
        Ok(n)
    }
}

/// One test only: the allocation high-water mark is process-wide.
#[test]
fn a_length_prefix_alone_allocates_no_more_than_a_read() {
    // 255 MiB announced, within the default limit; a byte of body follows.
    let wire = [0x00, 0x00, 0xf0, 0x0f, 0x01];
    let mut inbox = Inbox::new(DEFAULT_MAX_FRAME);
    LARGEST.store(0, Ordering::Relaxed);
    assert!(
        !inbox.fill(&mut Pending(&wire)).unwrap(),
        "the peer is still there"
    );
    assert_eq!(inbox.next_frame(), Ok(None), "the frame is not complete");
    let largest = LARGEST.load(Ordering::Relaxed);
    assert!(
        largest <= 1 << 20,
        "{largest} bytes allocated for 5 bytes received"
    );

    // A frame that does arrive whole is still read whole, however it grows.
    let hello = postcard::to_allocvec(&Hello::new(
        rask_sched_net::protocol::Role::Client,
        Some(&"t".repeat(300_000)),
    ))
    .unwrap();
    let mut wire = (hello.len() as u32).to_le_bytes().to_vec();
    wire.extend_from_slice(&hello);
    let mut inbox = Inbox::new(DEFAULT_MAX_FRAME);
    let mut src = Pending(&wire);
    let range = loop {
        inbox.fill(&mut src).unwrap();
        if let Some(range) = inbox.next_frame().unwrap() {
            break range;
        }
    };
    let got: Vec<Hello> = messages(inbox.body(range)).map(Result::unwrap).collect();
    assert_eq!(got[0].token.as_deref().map(str::len), Some(300_000));
}
