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

/// Builds xtask's binary `name` in release mode and returns its path: the
/// bench and sim children are measured as users run them, optimised.
pub fn release_bin(name: &str) -> Result<PathBuf, String> {
    run(&mut cargo(&[
        "build",
        "--release",
        "--quiet",
        "-p",
        "xtask",
        "--bin",
        name,
    ]))?;
    Ok(target_dir()
        .join("release")
        .join(format!("{name}{}", std::env::consts::EXE_SUFFIX)))
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

/// Runs `cargo test`-like `cmd`, streaming its stdout through, and adds up
/// its `test result:` lines: (passed, failed).
pub fn run_tests(cmd: &mut Command) -> Result<(u64, u64), String> {
    use std::io::{BufRead, BufReader};
    println!("$ {}", show(cmd));
    let mut child = cmd
        .stdout(Stdio::piped())
        .spawn()
        .map_err(|e| format!("cannot start `{}`: {e}", show(cmd)))?;
    let (mut passed, mut failed) = (0, 0);
    if let Some(out) = child.stdout.take() {
        for line in BufReader::new(out).lines().map_while(Result::ok) {
            println!("{line}");
            if let Some((p, f)) = test_counts(&line) {
                passed += p;
                failed += f;
            }
        }
    }
    let status = child
        .wait()
        .map_err(|e| format!("`{}` vanished: {e}", show(cmd)))?;
    if status.success() {
        Ok((passed, failed))
    } else {
        Err(format!(
            "`{}` failed ({status}): {passed} passed, {failed} failed",
            show(cmd)
        ))
    }
}

/// The counts of a `test result: ok. 3 passed; 0 failed; ...` line.
fn test_counts(line: &str) -> Option<(u64, u64)> {
    let rest = line.trim().strip_prefix("test result: ")?;
    let count = |word: &str| {
        rest.split(';')
            .find_map(|part| part.trim().strip_suffix(word))
            .and_then(|n| n.trim().rsplit(' ').next()?.parse::<u64>().ok())
    };
    Some((count(" passed")?, count(" failed")?))
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

#[cfg(test)]
mod tests {
    use super::test_counts;

    #[test]
    fn reads_cargo_test_summaries() {
        let line = "test result: ok. 12 passed; 0 failed; 0 ignored; 0 measured; 0 filtered out; finished in 0.33s";
        assert_eq!(test_counts(line), Some((12, 0)));
        let line = "test result: FAILED. 4 passed; 1 failed; 0 ignored; 0 measured";
        assert_eq!(test_counts(line), Some((4, 1)));
        assert_eq!(test_counts("running 3 tests"), None);
    }
}
