//! The stderr logger of rask's own processes: `rask-scheduler`,
//! `rask-worker`, and the workers that [`Client::local`](crate::Client::local)
//! re-executes from the client's binary. The library itself only calls
//! `log` macros; a program that embeds a client or a scheduler picks its
//! own logger, or none.

use std::io::Write;

/// Shows this process's log records on stderr as `PROGRAM: message`: at
/// `info` and above, unless `RUST_LOG` says otherwise (env_logger's
/// syntax, `RUST_LOG=rask_sched_net=debug`). A process that has a logger
/// already keeps it.
pub fn log_to_stderr(program: &str) {
    let program = program.to_owned();
    let env = env_logger::Env::default().default_filter_or("info");
    // `try_init` fails only when a logger is set, which is then kept.
    let _ = env_logger::Builder::from_env(env)
        .format(move |out, record| writeln!(out, "{program}: {}", record.args()))
        .try_init();
}
