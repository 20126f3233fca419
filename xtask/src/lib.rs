//! Code shared by the binaries of `xtask`.
//!
//! `xtask` (the `cargo xtask` driver) and its children `rask-bench` (runs
//! one benchmark and reports it) and `rask-sim` (runs one simulation)
//! must agree on four things, so those live here: how flags are split
//! ([`flags`]), what the benchmark graphs are ([`graphs`]) and the
//! simulated ones ([`workloads`]), and the JSON line a child prints
//! ([`record`]).

pub mod flags;
pub mod graphs;
pub mod record;
pub mod workloads;
