//! `rask-scheduler [--host H] [--port 8786] [--token T] [--max-frame BYTES]
//! [--dashboard-port 8787 | --no-dashboard]`: runs a scheduler until killed.
//!
//! The dashboard listens on the scheduler's host; if its port is taken the
//! next free one is used and named in a log line; `--dashboard-port 0`
//! takes any free port.

use std::net::TcpListener;
use std::process::ExitCode;
use std::time::Duration;

use rask_sched_net::scheduler::{serve, SchedulerConfig};

fn main() -> ExitCode {
    rask_sched_net::log_to_stderr("rask-scheduler");
    let mut host = "127.0.0.1".to_owned();
    let mut port = 8786u16;
    let mut config = SchedulerConfig::default();
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        let mut value = |name: &str| args.next().ok_or_else(|| format!("{name} needs a value"));
        let parsed: Result<(), String> = match arg.as_str() {
            "--host" => value("--host").map(|v| host = v),
            "--port" => value("--port").and_then(|v| {
                v.parse()
                    .map(|p| port = p)
                    .map_err(|e| format!("--port: {e}"))
            }),
            "--token" => value("--token").map(|v| config.token = Some(v)),
            "--max-frame" => value("--max-frame").and_then(|v| {
                v.parse()
                    .map(|m| config.max_frame = m)
                    .map_err(|e| format!("--max-frame: {e}"))
            }),
            "--dashboard-port" => value("--dashboard-port").and_then(|v| {
                v.parse()
                    .map(|p| config.dashboard_port = Some(p))
                    .map_err(|e| format!("--dashboard-port: {e}"))
            }),
            "--heartbeat-timeout" => value("--heartbeat-timeout").and_then(|v| {
                v.parse::<f64>()
                    .map_err(|e| e.to_string())
                    .and_then(|s| Duration::try_from_secs_f64(s).map_err(|e| e.to_string()))
                    .map(|t| config.heartbeat_timeout = t)
                    .map_err(|e| format!("--heartbeat-timeout: {e}"))
            }),
            "--no-dashboard" => {
                config.dashboard_port = None;
                Ok(())
            }
            "-h" | "--help" => {
                println!(
                    "usage: rask-scheduler [--host H] [--port 8786] [--token T] [--max-frame BYTES] \
                     [--heartbeat-timeout SECONDS] [--dashboard-port 8787 | --no-dashboard]"
                );
                return ExitCode::SUCCESS;
            }
            other => Err(format!("unknown argument `{other}`")),
        };
        if let Err(e) = parsed {
            eprintln!("rask-scheduler: {e}");
            return ExitCode::from(2);
        }
    }
    let listener = match TcpListener::bind((host.as_str(), port)) {
        Ok(l) => l,
        Err(e) => {
            eprintln!("rask-scheduler: cannot listen on {host}:{port}: {e}");
            return ExitCode::FAILURE;
        }
    };
    match listener.local_addr() {
        Ok(addr) => eprintln!("rask-scheduler: listening on {addr}"),
        Err(e) => eprintln!("rask-scheduler: {e}"),
    }
    match serve(listener, config) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("rask-scheduler: {e}");
            ExitCode::FAILURE
        }
    }
}
