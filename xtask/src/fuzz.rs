//! The fuzzing smoke run of `cargo xtask test`: every libFuzzer target in
//! `fuzz/` runs for a few seconds from its checked-in seeds
//! (`fuzz/seeds/corpus/<target>`), so that a decoder change that panics on
//! an input the seeds already reach fails the build. The long runs (ten
//! minutes a target) are done by hand; `fuzz/README.md` says how.
//!
//! cargo-fuzz needs a nightly toolchain (for `-Zsanitizer`); both are
//! installed here when missing, like the other tools `cargo xtask test`
//! needs.

use std::process::Command;

use crate::command::{root, run, stdout_of, succeeds};

/// The targets, as `fuzz/Cargo.toml` names them.
const TARGETS: &[&str] = &[
    "net_frames",
    "procs_frames",
    "job_spec",
    "csv_scan",
    "csv_read",
];

/// Seconds of fuzzing per target: the whole run stays under a minute.
const SECONDS_PER_TARGET: u32 = 10;

/// The toolchain cargo-fuzz builds with.
const NIGHTLY: &str = "nightly";

/// `cargo +nightly args…` in the repository root. The rustup proxy picks
/// the toolchain, so the `cargo` running `xtask` (named by `CARGO`) is not
/// used; the fuzz build keeps its own target directory (`fuzz/target`),
/// whatever `CARGO_TARGET_DIR` the outer build uses.
fn nightly_cargo(args: &[&str]) -> Command {
    let mut cmd = Command::new("cargo");
    cmd.arg(format!("+{NIGHTLY}"))
        .args(args)
        .current_dir(root())
        .env_remove("CARGO")
        .env_remove("CARGO_TARGET_DIR")
        .env_remove("RUSTC")
        .env_remove("RUSTFLAGS");
    cmd
}

/// Installs the nightly toolchain and cargo-fuzz unless they are there.
pub fn ensure_cargo_fuzz() -> Result<(), String> {
    let toolchains =
        stdout_of(Command::new("rustup").args(["toolchain", "list"])).unwrap_or_default();
    if !toolchains.lines().any(|l| l.starts_with(NIGHTLY)) {
        run(Command::new("rustup").args([
            "toolchain",
            "install",
            NIGHTLY,
            "--profile",
            "minimal",
        ]))?;
    }
    if succeeds(&mut nightly_cargo(&["fuzz", "--version"])) {
        println!("cargo-fuzz is installed");
        return Ok(());
    }
    // `--locked`: cargo-fuzz's own Cargo.lock, the versions it was released
    // with; should one of those not be served, the newest compatible ones.
    run(Command::new("cargo").args(["install", "--locked", "cargo-fuzz"]))
        .or_else(|_| run(Command::new("cargo").args(["install", "cargo-fuzz"])))
}

/// Builds every target once, then runs each for [`SECONDS_PER_TARGET`];
/// a crash (or a leak, or a timeout) fails the step and leaves the input
/// in `fuzz/artifacts/<target>/`.
pub fn smoke() -> Result<(), String> {
    ensure_cargo_fuzz()?;
    // `-a`: debug assertions and overflow checks on, as in the long runs.
    run(&mut nightly_cargo(&["fuzz", "build", "-O", "-a"]))?;
    let fuzz = root().join("fuzz");
    for target in TARGETS {
        // New inputs go to the first directory, which git ignores; the
        // checked-in seeds are only read.
        let corpus = fuzz.join("corpus").join(target);
        std::fs::create_dir_all(&corpus)
            .map_err(|e| format!("cannot make {}: {e}", corpus.display()))?;
        let seeds = fuzz.join("seeds").join("corpus").join(target);
        let (corpus, seeds) = (corpus.display().to_string(), seeds.display().to_string());
        let max_time = format!("-max_total_time={SECONDS_PER_TARGET}");
        run(&mut nightly_cargo(&[
            "fuzz", "run", "-O", "-a", target, &corpus, &seeds, "--", &max_time,
        ]))?;
    }
    Ok(())
}
