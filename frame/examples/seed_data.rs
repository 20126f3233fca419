//! Writes the seed notebook's CSV files (what `cargo xtask data` runs).
//!
//! `cargo run --release -p rask-frame --example seed_data -- [DIR]`
//! (default `data1`); files already complete are kept.

use std::time::Instant;

fn main() -> std::process::ExitCode {
    let dir = std::env::args()
        .nth(1)
        .unwrap_or_else(|| "data1".to_owned());
    let start = Instant::now();
    match rask_frame::seed_data::write(&dir) {
        Ok(paths) => {
            for p in &paths {
                println!("{}", p.display());
            }
            println!(
                "{} files ready in {dir} ({:.2} s)",
                paths.len(),
                start.elapsed().as_secs_f64()
            );
            std::process::ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("seed_data: cannot write into {dir}: {e}");
            std::process::ExitCode::FAILURE
        }
    }
}
