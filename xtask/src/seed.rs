//! `cargo xtask seed-bench [--small] [--reps N]`: the seed notebook's heavy
//! workloads (the full-size array and the CSV key count) on several
//! schedulers, each run in a fresh process for its own wall time and peak
//! memory, beside Python Dask's when it is installed.
//!
//! The workloads live in `rask`'s `seed_bench` example, which links the
//! collections; running it from here keeps Arrow out of the xtask binary.

use crate::command::{cargo, root, run};

/// Runs the `seed_bench` example from the workspace root (where `data1/` is).
pub fn main(args: &[String]) -> Result<(), String> {
    let mut cmd = cargo(&[
        "run",
        "--release",
        "--quiet",
        "-p",
        "rask",
        "--example",
        "seed_bench",
        "--",
    ]);
    cmd.args(args).current_dir(root());
    run(&mut cmd)
}
