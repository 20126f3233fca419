//! `cargo xtask data`: writes the seed notebook's CSV files into `data1/`
//! at the workspace root, unless they are already there.
//!
//! The generator lives in `rask-frame` (`rask_frame::seed_data`), which the
//! quickstart example calls too; this task runs it as that crate's
//! `seed_data` example, so the xtask binary does not link Arrow.

use crate::command::{cargo, root, run};

/// Runs the generator into `<root>/data1` (or the directory given).
pub fn main(args: &[String]) -> Result<(), String> {
    let dir = match args {
        [] => root().join("data1"),
        [dir] if !dir.starts_with('-') => root().join(dir),
        _ => return Err(format!("`data` takes at most a directory, got {args:?}")),
    };
    let dir = dir.to_string_lossy().into_owned();
    run(&mut cargo(&[
        "run",
        "--release",
        "--quiet",
        "-p",
        "rask-frame",
        "--example",
        "seed_data",
        "--",
        &dir,
    ]))
}
