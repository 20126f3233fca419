//! `cargo xtask`: rask's project tasks, written in Rust so they run the same
//! on every machine with nothing but cargo installed.
//!
//! - `cargo xtask test`: everything CI checks, in order, stopping at the
//!   first failure (see [`ci`]). `.ci/run` is just this.
//! - `cargo xtask bench`: per-task overhead of every backend (see [`bench`]).
//! - `cargo xtask sim [--full]`: the distributed scheduler driven by
//!   simulated workers at 10 to 10,000 workers (see [`sim`]).
//! - `cargo xtask wasm [--serve]`: builds (and serves) the browser demo
//!   (see [`wasm`]).
//! - `cargo xtask data`: the seed notebook's CSV files in `data1/` (see [`data`]).
//! - `cargo xtask seed-bench`: the seed's heavy workloads, timed (see [`seed`]).
//!
//! The modules here drive things; what the `rask-bench` child shares with
//! them (flags, graphs, the JSON line) is in the `xtask` library.

mod bench;
mod ci;
mod command;
mod data;
mod fuzz;
mod seed;
mod sim;
#[cfg(unix)]
mod wasm;

use std::process::ExitCode;

const USAGE: &str = "\
usage: cargo xtask <task> [flags]

tasks:
  test     format, lint, test, no_std build and a quick bench: what CI runs
  bench    per-task overhead of every backend; `cargo xtask bench --help` for flags
  sim      the distributed scheduler with 10 to 10,000 simulated workers; `--help` for flags
  data     write the seed's CSV files (data1/1.csv … 4.csv, 2,000,000 rows each) if missing
  seed-bench
           the seed's array and CSV workloads per scheduler: wall time and peak memory
           (beside Python Dask's when installed); flags --small, --reps N";

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let result = match args.first().map(String::as_str) {
        Some("test") if args.len() == 1 => ci::run_all(),
        Some("test") => Err(format!("`test` takes no flags, got {:?}", &args[1..])),
        Some("bench") => bench::main(&args[1..]),
        #[cfg(unix)]
        Some("wasm") => wasm::main(&args[1..]),
        Some("sim") => sim::main(&args[1..]),
        Some("data") => data::main(&args[1..]),
        Some("seed-bench") => seed::main(&args[1..]),
        Some("help" | "-h" | "--help") => {
            println!("{USAGE}");
            Ok(())
        }
        Some(other) => Err(format!("unknown task `{other}`\n\n{USAGE}")),
        None => Err(USAGE.to_owned()),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("xtask: {e}");
            ExitCode::FAILURE
        }
    }
}
