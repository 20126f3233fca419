//! Code shared by the binaries of `xtask`.
//!
//! `xtask` (the `cargo xtask` driver) and its children `rask-bench` (runs
//! one benchmark and reports it) and `rask-sim` (runs one simulation)
//! must agree on four things, so those live here: how flags are split
//! ([`flags`]), what the benchmark graphs are ([`graphs`]) and the
//! simulated ones ([`workloads`]), the JSON line a child prints
//! ([`record`]), and the transfer row's two sides ([`transfer`]).

pub mod flags;
pub mod graphs;
pub mod record;
pub mod transfer;
pub mod workloads;
