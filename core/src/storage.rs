//! Where a graph and its run state keep their arrays: on the heap or in fixed
//! capacity. Everything in the core is generic over [`Storage`], so the same
//! code runs a million-task graph in `Vec`s or a small one with no heap.

use core::fmt;
use core::ops::{Deref, DerefMut};

/// A growable array of `T` that may have a fixed capacity.
pub trait Buf<T>: Deref<Target = [T]> + DerefMut {
    /// An empty buffer.
    fn empty() -> Self;
    /// Appends `value`, or reports that the buffer is full.
    fn try_push(&mut self, value: T) -> Result<(), CapacityError>;
    /// Removes and returns the last element.
    fn pop_last(&mut self) -> Option<T>;
    /// Grows or shrinks to `len` elements, filling with `value`.
    fn try_resize(&mut self, len: usize, value: T) -> Result<(), CapacityError>
    where
        T: Clone;
}

/// A family of buffers: one choice of storage for every array of a graph.
pub trait Storage {
    /// The buffer type used for elements of type `T`.
    type Vec<T>: Buf<T>;
}

/// A fixed-capacity buffer was full.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct CapacityError;

impl fmt::Display for CapacityError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("fixed-capacity storage is full")
    }
}

/// Fixed-capacity storage: every array holds at most `N` elements and lives
/// inline (no heap). Pick `N` at least the number of tasks and of arguments.
#[derive(Debug)]
pub struct Fixed<const N: usize>;

impl<const N: usize> Storage for Fixed<N> {
    type Vec<T> = heapless::Vec<T, N>;
}

impl<T, const N: usize> Buf<T> for heapless::Vec<T, N> {
    fn empty() -> Self {
        heapless::Vec::new()
    }
    fn try_push(&mut self, value: T) -> Result<(), CapacityError> {
        self.push(value).map_err(|_| CapacityError)
    }
    fn pop_last(&mut self) -> Option<T> {
        self.pop()
    }
    fn try_resize(&mut self, len: usize, value: T) -> Result<(), CapacityError>
    where
        T: Clone,
    {
        self.resize(len, value).map_err(|_| CapacityError)
    }
}

/// Heap storage (`alloc::vec::Vec`); the default. Without the `alloc`
/// feature there is no heap, and `Heap` buffers hold nothing: use [`Fixed`].
#[derive(Debug)]
pub struct Heap;

#[cfg(not(feature = "alloc"))]
impl Storage for Heap {
    type Vec<T> = heapless::Vec<T, 0>;
}

#[cfg(feature = "alloc")]
impl Storage for Heap {
    type Vec<T> = alloc::vec::Vec<T>;
}

#[cfg(feature = "alloc")]
impl<T> Buf<T> for alloc::vec::Vec<T> {
    fn empty() -> Self {
        alloc::vec::Vec::new()
    }
    fn try_push(&mut self, value: T) -> Result<(), CapacityError> {
        self.push(value);
        Ok(())
    }
    fn pop_last(&mut self) -> Option<T> {
        self.pop()
    }
    fn try_resize(&mut self, len: usize, value: T) -> Result<(), CapacityError>
    where
        T: Clone,
    {
        self.resize(len, value);
        Ok(())
    }
}
