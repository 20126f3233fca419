//! `cargo xtask test`: every check CI makes, in order, stopping at the first
//! failure. Running it locally gives the same answer as CI, so nothing is
//! only discovered after a push.
//!
//! A step is a title and a function. Tools that a later check needs (a
//! target, a CLI, a browser) are "ensure" steps at the front: one function
//! each, that does nothing when the tool is already there.

use std::time::Instant;

use crate::bench;
use std::sync::atomic::{AtomicU64, Ordering};

use crate::command::{cargo, run, run_tests, stdout_of, succeeds, tool};

/// Test counts of the `test` step, for the closing line.
static TESTS_PASSED: AtomicU64 = AtomicU64::new(0);
static TESTS_FAILED: AtomicU64 = AtomicU64::new(0);

/// The target that proves `rask-core` and `rask-sched-sync` build without `std`.
const NO_STD_TARGET: &str = "thumbv7em-none-eabihf";

type Step = (&'static str, fn() -> Result<(), String>);

const STEPS: &[Step] = &[
    ("ensure rustfmt and clippy", ensure_rustfmt_and_clippy),
    ("ensure the no_std target", || ensure_target(NO_STD_TARGET)),
    ("ensure the wasm target", || {
        ensure_target(crate::wasm::TARGET)
    }),
    (
        "ensure wasm-bindgen-cli (the version in Cargo.lock)",
        crate::wasm::ensure_bindgen_cli,
    ),
    (
        "ensure chromium and chromedriver",
        crate::wasm::ensure_chromium,
    ),
    (
        "ensure cargo-fuzz and the nightly toolchain",
        crate::fuzz::ensure_cargo_fuzz,
    ),
    ("format", || {
        run(&mut cargo(&["fmt", "--all", "--", "--check"]))
    }),
    ("lint", || {
        run(&mut cargo(&[
            "clippy",
            "--workspace",
            "--all-targets",
            "--",
            "-D",
            "warnings",
        ]))
    }),
    ("test", || {
        let (passed, failed) = run_tests(&mut cargo(&["test", "--workspace"]))?;
        TESTS_PASSED.store(passed, Ordering::Relaxed);
        TESTS_FAILED.store(failed, Ordering::Relaxed);
        Ok(())
    }),
    ("no_std build", || {
        build_core_and_sync(NO_STD_TARGET, &["--no-default-features"])
    }),
    ("wasm build (core and sync for wasm32)", || {
        build_core_and_sync(crate::wasm::TARGET, &[])
    }),
    (
        "browser tests: core and sync in headless Chromium (wasm-bindgen-test)",
        || {
            let (passed, failed) = crate::wasm::browser_unit_tests()?;
            TESTS_PASSED.fetch_add(passed, Ordering::Relaxed);
            TESTS_FAILED.fetch_add(failed, Ordering::Relaxed);
            Ok(())
        },
    ),
    (
        "browser tests: the demo page end to end in headless Chromium",
        crate::wasm::end_to_end,
    ),
    ("bench smoke run (cargo xtask bench --quick)", || {
        bench::main(&["--quick".to_owned()])
    }),
    ("sim smoke run (cargo xtask sim --tasks 20000)", || {
        crate::sim::main(&["--tasks".to_owned(), "20000".to_owned()])
    }),
    (
        "fuzz smoke run (every decoder target, seconds each)",
        crate::fuzz::smoke,
    ),
];

/// Builds `rask-core` and `rask-sched-sync` for `target`.
fn build_core_and_sync(target: &str, extra: &[&str]) -> Result<(), String> {
    let mut args = vec![
        "build",
        "-p",
        "rask-core",
        "-p",
        "rask-sched-sync",
        "--target",
        target,
    ];
    args.extend_from_slice(extra);
    run(&mut cargo(&args))
}

/// Runs every step; the error names the step that failed.
pub fn run_all() -> Result<(), String> {
    if std::env::var_os("CI").is_some() {
        println!("CI is set: running non-interactively");
    }
    let all = Instant::now();
    for (i, (title, step)) in STEPS.iter().enumerate() {
        println!("\n==> [{}/{}] {title}", i + 1, STEPS.len());
        let start = Instant::now();
        step().map_err(|e| format!("step `{title}` failed: {e}"))?;
        println!("==> {title}: ok ({:.1} s)", start.elapsed().as_secs_f64());
    }
    println!(
        "\nall {} steps passed in {:.0} s",
        STEPS.len(),
        all.elapsed().as_secs_f64()
    );
    // The plain closing line CI readers look for.
    println!(
        "tests: {} passed, {} failed",
        TESTS_PASSED.load(Ordering::Relaxed),
        TESTS_FAILED.load(Ordering::Relaxed)
    );
    Ok(())
}

fn ensure_rustfmt_and_clippy() -> Result<(), String> {
    let have = |sub| succeeds(&mut cargo(&[sub, "--version"]));
    if have("fmt") && have("clippy") {
        println!("rustfmt and clippy are installed");
        return Ok(());
    }
    run(&mut tool(
        "rustup",
        &["component", "add", "rustfmt", "clippy"],
    ))
}

/// Installs the standard library for `target` unless rustup already has it.
fn ensure_target(target: &str) -> Result<(), String> {
    let installed =
        stdout_of(&mut tool("rustup", &["target", "list", "--installed"])).unwrap_or_default();
    if installed.lines().any(|l| l.trim() == target) {
        println!("target {target} is installed");
        return Ok(());
    }
    run(&mut tool("rustup", &["target", "add", target]))
}
