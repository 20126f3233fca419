//! Running cargo and rustup from the repository root, echoing each command
//! first so a CI log shows exactly what ran.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

/// The repository root: the parent of this crate.
pub fn root() -> PathBuf {
    let xtask = Path::new(env!("CARGO_MANIFEST_DIR"));
    xtask.parent().unwrap_or(xtask).to_path_buf()
}

/// Where cargo puts build outputs for this workspace.
pub fn target_dir() -> PathBuf {
    match std::env::var_os("CARGO_TARGET_DIR") {
        Some(dir) => root().join(dir),
        None => root().join("target"),
    }
}

/// `cargo` (the one running us, under `cargo xtask`) with `args`, in the root.
pub fn cargo(args: &[&str]) -> Command {
    // `cargo run` sets CARGO to its own path, so nested builds use the same
    // toolchain as the outer one even when several are installed.
    let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
    let mut cmd = Command::new(cargo);
    cmd.args(args).current_dir(root());
    cmd
}

/// A program other than cargo, in the root.
pub fn tool(program: &str, args: &[&str]) -> Command {
    let mut cmd = Command::new(program);
    cmd.args(args).current_dir(root());
    cmd
}

/// Runs `cmd` with its output streaming through; an error unless it succeeds.
pub fn run(cmd: &mut Command) -> Result<(), String> {
    println!("$ {}", show(cmd));
    let status = cmd
        .status()
        .map_err(|e| format!("cannot start `{}`: {e}", show(cmd)))?;
    if status.success() {
        Ok(())
    } else {
        Err(format!("`{}` failed ({status})", show(cmd)))
    }
}

/// Runs `cmd` quietly: true if it starts and succeeds. For probes.
pub fn succeeds(cmd: &mut Command) -> bool {
    cmd.stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success())
}

/// The stdout of `cmd`, if it starts and succeeds. For probes.
pub fn stdout_of(cmd: &mut Command) -> Option<String> {
    let out = cmd.stderr(Stdio::null()).output().ok()?;
    out.status
        .success()
        .then(|| String::from_utf8_lossy(&out.stdout).into_owned())
}

/// The command as one could type it.
fn show(cmd: &Command) -> String {
    let program = Path::new(cmd.get_program());
    // Show `cargo` rather than the full path of the cargo binary.
    let name = program
        .file_name()
        .unwrap_or(program.as_os_str())
        .to_string_lossy();
    let args = cmd.get_args().map(|a| a.to_string_lossy());
    std::iter::once(name)
        .chain(args)
        .collect::<Vec<_>>()
        .join(" ")
}
