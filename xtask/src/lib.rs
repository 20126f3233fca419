//! Code shared by the two binaries of `xtask`.
//!
//! `xtask` (the `cargo xtask` driver) and `rask-bench` (the child process
//! that runs one benchmark and reports it) must agree on three things, so
//! those live here: how flags are split ([`flags`]), what the benchmark
//! graphs are ([`graphs`]), and the JSON line a child prints ([`record`]).

pub mod flags;
pub mod graphs;
pub mod record;
