//! `rask-worker ADDR [--nthreads N] [--memory-limit BYTES] [--no-spill]
//! [--local-directory DIR] [--token T] [--resources GPU=2,...]`: joins the
//! scheduler at ADDR with the built-in ops and works until the scheduler
//! goes away.

use std::process::ExitCode;

use rask_sched_net::worker::{parse_resources, run, WorkerOptions};

const USAGE: &str = "usage: rask-worker ADDR [--nthreads N] [--memory-limit BYTES] [--no-spill] \
                     [--local-directory DIR] [--token T] [--resources NAME=AMOUNT,...]";

fn main() -> ExitCode {
    rask_sched_net::log_to_stderr(&format!("rask-worker[{}]", std::process::id()));
    let mut addr = None;
    let mut options = WorkerOptions::default();
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        let mut value = |name: &str| args.next().ok_or_else(|| format!("{name} needs a value"));
        let parsed: Result<(), String> = match arg.as_str() {
            "--nthreads" => value("--nthreads").and_then(|v| {
                v.parse()
                    .map(|n| options.nthreads = n)
                    .map_err(|e| format!("--nthreads: {e}"))
            }),
            "--memory-limit" => value("--memory-limit").and_then(|v| {
                v.parse()
                    .map(|m| options.memory_limit = m)
                    .map_err(|e| format!("--memory-limit: {e}"))
            }),
            "--no-spill" => {
                options.spill = false;
                Ok(())
            }
            "--local-directory" => {
                value("--local-directory").map(|v| options.local_directory = Some(v.into()))
            }
            "--token" => value("--token").map(|v| options.token = Some(v)),
            "--resources" => value("--resources").and_then(|v| {
                parse_resources(&v)
                    .map(|r| options.resources = r)
                    .map_err(|e| format!("--resources: {e}"))
            }),
            "-h" | "--help" => {
                println!("{USAGE}");
                return ExitCode::SUCCESS;
            }
            a if !a.starts_with('-') && addr.is_none() => {
                addr = Some(a.to_owned());
                Ok(())
            }
            other => Err(format!("unknown argument `{other}`")),
        };
        if let Err(e) = parsed {
            eprintln!("rask-worker: {e}");
            return ExitCode::from(2);
        }
    }
    let Some(addr) = addr else {
        eprintln!("rask-worker: {USAGE}");
        return ExitCode::from(2);
    };
    match run(rask_sched_net::builtin::registry(), &addr, options) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("rask-worker: {e}");
            ExitCode::FAILURE
        }
    }
}
