//! `cargo xtask wasm [--serve] [--port N]`: builds `rask-wasm` for the
//! browser (release, `wasm-bindgen --target web` into `wasm/www/pkg`),
//! reports the size of the full and the sync-only module, and optionally
//! serves the demo page on 127.0.0.1.
//!
//! The same build backs the browser checks of `cargo xtask test` (the
//! end-to-end run of the demo page in headless Chromium) and the
//! `wasm-sync` / `wasm-workers` backends of `cargo xtask bench`.

pub mod serve;
pub mod webdriver;

use std::path::{Path, PathBuf};
use std::time::Instant;

use serde_json::Value;

use xtask::record::Record;

use crate::command::{cargo, root, run, stdout_of, target_dir, tool};

pub const TARGET: &str = "wasm32-unknown-unknown";

const USAGE: &str = "\
usage: cargo xtask wasm [--serve] [--port N] [--test]

  builds wasm/www/pkg (release) and prints the .wasm sizes;
  --serve   then serves wasm/www on http://127.0.0.1:PORT/ (default 8080)
  --test    then runs the end-to-end browser check of `cargo xtask test`";

/// The demo page's directory.
pub fn www() -> PathBuf {
    root().join("wasm").join("www")
}

/// `cargo xtask wasm [flags]`.
pub fn main(args: &[String]) -> Result<(), String> {
    let mut serve = false;
    let mut test = false;
    let mut port = 8080u16;
    let mut it = args.iter();
    while let Some(a) = it.next() {
        match a.as_str() {
            "--serve" => serve = true,
            "--test" => test = true,
            "--port" => {
                let v = it.next().ok_or("--port needs a number")?;
                port = v
                    .parse()
                    .map_err(|_| format!("--port takes a port number, not `{v}`"))?;
            }
            "-h" | "--help" => {
                println!("{USAGE}");
                return Ok(());
            }
            other => return Err(format!("unknown flag `{other}`\n\n{USAGE}")),
        }
    }
    if test {
        return end_to_end();
    }
    let sizes = build()?;
    println!("{sizes}");
    if serve {
        let server = serve::Server::start(&www(), port)?;
        println!(
            "serving the rask demo at {}  (Ctrl-C to stop)",
            server.url()
        );
        server.wait();
    }
    Ok(())
}

/// Sizes of the two builds of the module, in bytes.
#[derive(Clone, Copy, Debug)]
pub struct Sizes {
    pub full: u64,
    pub sync_only: u64,
}

impl std::fmt::Display for Sizes {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "rask_wasm_bg.wasm: {:.1} KB with workers (wasm/www/pkg), {:.1} KB sync-only (--no-default-features)",
            self.full as f64 / 1000.0,
            self.sync_only as f64 / 1000.0
        )
    }
}

/// Builds the page's module into `wasm/www/pkg`, and the sync-only module
/// into the target dir to measure it.
pub fn build() -> Result<Sizes, String> {
    let full = bindgen(&[], &www().join("pkg"))?;
    let sync_dir = target_dir().join("wasm-pkg-sync");
    let sync_only = bindgen(&["--no-default-features"], &sync_dir)?;
    Ok(Sizes { full, sync_only })
}

/// `cargo build --release` of rask-wasm with `features`, then
/// `wasm-bindgen --target web` into `out`; the size of the `.wasm`.
fn bindgen(features: &[&str], out: &Path) -> Result<u64, String> {
    let mut args = vec!["--lib"];
    args.extend_from_slice(features);
    let wasm = target_dir()
        .join(TARGET)
        .join("release")
        .join("rask_wasm.wasm");
    bindgen_of(&args, &wasm, out, "rask_wasm")
}

/// The custom-op example (a crate of one's own on rask-wasm, with an op of
/// its own) built into `wasm/www/custom-op`, beside the page that runs it.
pub fn build_custom_op() -> Result<u64, String> {
    let wasm = target_dir()
        .join(TARGET)
        .join("release")
        .join("examples")
        .join("custom_op.wasm");
    bindgen_of(
        &["--example", "custom_op"],
        &wasm,
        &www().join("custom-op"),
        "custom_op",
    )
}

/// `cargo build --release -p rask-wasm <what>` for the browser, then
/// `wasm-bindgen --target web` of `wasm` into `out`; the size of the
/// module wasm-bindgen wrote (`<name>_bg.wasm`).
fn bindgen_of(what: &[&str], wasm: &Path, out: &Path, name: &str) -> Result<u64, String> {
    let mut args = vec![
        "build",
        "--release",
        "--quiet",
        "-p",
        "rask-wasm",
        "--target",
        TARGET,
    ];
    args.extend_from_slice(what);
    run(&mut cargo(&args))?;
    let out_str = out.to_string_lossy().into_owned();
    let wasm_str = wasm.to_string_lossy().into_owned();
    run(&mut tool(
        "wasm-bindgen",
        &["--target", "web", "--out-dir", &out_str, &wasm_str],
    ))?;
    std::fs::metadata(out.join(format!("{name}_bg.wasm")))
        .map(|m| m.len())
        .map_err(|e| format!("wasm-bindgen wrote no module to {out_str}: {e}"))
}

/// The `wasm-bindgen` version Cargo.lock resolved (the CLI must match it).
pub fn locked_bindgen_version() -> Result<String, String> {
    let lock = std::fs::read_to_string(root().join("Cargo.lock"))
        .map_err(|e| format!("cannot read Cargo.lock: {e}"))?;
    let mut lines = lock.lines();
    while let Some(line) = lines.next() {
        if line.trim() == "name = \"wasm-bindgen\"" {
            let version = lines
                .next()
                .and_then(|l| l.trim().strip_prefix("version = \"")?.strip_suffix('"'));
            return version
                .map(str::to_owned)
                .ok_or_else(|| "Cargo.lock lists wasm-bindgen without a version".into());
        }
    }
    Err("Cargo.lock has no wasm-bindgen package".into())
}

/// Installs wasm-bindgen-cli at the locked version unless it is there.
/// Not `--locked`: one of its locked dependencies is not served here.
pub fn ensure_bindgen_cli() -> Result<(), String> {
    let want = locked_bindgen_version()?;
    let have = stdout_of(&mut tool("wasm-bindgen", &["--version"])).unwrap_or_default();
    if have.split_whitespace().nth(1) == Some(want.as_str()) {
        println!("wasm-bindgen-cli {want} is installed");
        return Ok(());
    }
    run(&mut cargo(&[
        "install",
        "wasm-bindgen-cli",
        "--version",
        &format!("={want}"),
    ]))
}

/// Installs Chromium and chromedriver with apt unless both are there.
pub fn ensure_chromium() -> Result<(), String> {
    let (chromium, driver) = (webdriver::chromium_path(), webdriver::chromedriver_path());
    if chromium.exists() && driver.exists() {
        println!(
            "{} and {} are installed",
            chromium.display(),
            driver.display()
        );
        return Ok(());
    }
    run(tool("apt-get", &["update"]).env("DEBIAN_FRONTEND", "noninteractive"))?;
    run(
        tool("apt-get", &["install", "-y", "chromium", "chromium-driver"])
            .env("DEBIAN_FRONTEND", "noninteractive"),
    )
}

/// `cargo test -p rask-wasm --target wasm32-unknown-unknown`: the
/// wasm-bindgen tests of core and sync, in headless Chromium.
pub fn browser_unit_tests() -> Result<(u64, u64), String> {
    let mut cmd = cargo(&["test", "-p", "rask-wasm", "--target", TARGET]);
    cmd.env("CHROMEDRIVER", webdriver::chromedriver_path())
        .env("WASM_BINDGEN_TEST_TIMEOUT", "120")
        // The runner reads webdriver.json (Chromium flags) from here.
        .current_dir(root().join("wasm"));
    crate::command::run_tests(&mut cmd)
}

/// The end-to-end check: builds the page, serves it, and drives it in
/// headless Chromium. Sync and workers must give identical results, a
/// failing task must be named on both, a crashing worker must be named and
/// replaced.
pub fn end_to_end() -> Result<(), String> {
    println!("{}", build()?);
    let server = serve::Server::start(&www(), 0)?;
    let browser = webdriver::Browser::start()?;
    browser.open_demo(&server.url())?;

    let demo = browser.eval("window.rask.demo({workers: 2, reps: 1})")?;
    if demo["same"] != Value::Bool(true) {
        return Err(format!(
            "sync and workers disagree: {} vs {}",
            demo["sync_result"], demo["workers_result"]
        ));
    }
    // One partial sum per row of axis 0.
    let shape = &demo["sync_result"]["shape"];
    let rows = &demo["shape"][0];
    if !rows.is_u64() || shape != &serde_json::json!([rows]) {
        return Err(format!(
            "the demo result has shape {shape}, not [{rows}] (the demo's first axis)"
        ));
    }
    println!(
        "demo: {} tasks, identical results on sync and 2 workers (sync {:.1} ms, workers {:.1} ms)",
        demo["tasks"],
        demo["sync_ms"].as_f64().unwrap_or(0.0),
        demo["workers_ms"].as_f64().unwrap_or(0.0)
    );
    for backend in ["sync", "workers"] {
        let r = browser.eval(&format!("window.rask.failing('{backend}', 2)"))?;
        let error = r["error"].as_str().unwrap_or_default();
        if !error.contains("'bad-3'") || !error.contains("deliberate failure") {
            return Err(format!(
                "a failing task on {backend} gave {:?}, which does not name 'bad-3'",
                r["error"]
            ));
        }
        println!("failing task on {backend}: {error}");
    }
    let r = browser.eval("window.rask.crashing(2)")?;
    let error = r["error"].as_str().unwrap_or_default();
    if !error.contains("'boom-1'")
        || !error.contains("crashed")
        || !error.contains("deliberate panic")
    {
        return Err(format!(
            "a crashing worker gave {:?}, which does not name 'boom-1' and the panic",
            r["error"]
        ));
    }
    if r["after"].as_f64() != Some(42.0) {
        return Err(format!(
            "after a crash the pool computed {} instead of 42",
            r["after"]
        ));
    }
    println!("crashing worker: {error}; the pool ran on afterwards");
    custom_op(&browser, &server.url())?;
    drop(browser);
    drop(server);
    Ok(())
}

/// A crate's own op, registered from its start function, runs in the
/// workers of a pool that loads that crate's module (and on the sync
/// scheduler), computed through the Rust `compute` future; a pool of the
/// plain rask-wasm module refuses the graph, naming the op.
fn custom_op(browser: &webdriver::Browser, url: &str) -> Result<(), String> {
    build_custom_op()?;
    browser.open_demo(&format!("{url}custom-op.html"))?;
    let n = 30u64;
    let want = ((n * (n - 1) / 2) * (n * (n - 1) / 2)) as f64;
    let own = "./worker.js?module=./custom-op/custom_op.js";
    for (workers, script) in [(0, own), (2, own), (3, own)] {
        let r = browser.eval(&format!(
            "window.rask.sumOfCubes({n}, {workers}, '{script}')"
        ))?;
        if r["value"].as_f64() != Some(want) {
            return Err(format!(
                "the custom op on {workers} workers (0: sync) gave {r}, not {want}"
            ));
        }
    }
    let r = browser.eval(&format!("window.rask.sumOfCubes({n}, 2, './worker.js')"))?;
    let error = r["error"].as_str().unwrap_or_default();
    if !error.contains("'user.cube'") || !error.contains("not registered") {
        return Err(format!(
            "workers without the custom op gave {r}, not an error naming 'user.cube'"
        ));
    }
    println!(
        "custom op: user.cube from the example crate gives {want} on sync and on 2 and 3 workers; \
         workers of the plain module refuse it: {error}"
    );
    Ok(())
}

/// Runs `merge` at each n on the wasm backends asked for, and the demo
/// workload, in one headless Chromium session.
pub fn bench(
    backends: &[String],
    ns: &[usize],
    reps: usize,
    workers: usize,
) -> Result<Vec<Record>, String> {
    let sizes = build()?;
    println!("{sizes}");
    let server = serve::Server::start(&www(), 0)?;
    let browser = webdriver::Browser::start()?;
    browser.open_demo(&server.url())?;
    let mut out = Vec::new();
    for &n in ns {
        for backend in backends {
            let which = backend.strip_prefix("wasm-").unwrap_or(backend);
            let v = browser.eval(&format!(
                "window.rask.merge('{which}', {n}, {reps}, {workers})"
            ))?;
            if v["result"] != v["expected"] {
                return Err(format!(
                    "{backend} merge-{n} computed {} instead of {}",
                    v["result"], v["expected"]
                ));
            }
            let w = if which == "sync" { 1 } else { workers as u64 };
            out.push(Record::timed(
                backend,
                "merge",
                (n as u64, v["tasks"].as_u64().unwrap_or(0)),
                (w, reps as u64),
                v["ms"].as_f64().unwrap_or(f64::NAN) / 1000.0,
            ));
        }
    }
    // The speedup can be no better than the cores the machine has free.
    let headroom = parallel_headroom(workers);
    let v = browser.eval(&format!(
        "window.rask.demo({{workers: {workers}, reps: {}}})",
        reps.max(5)
    ))?;
    let after = parallel_headroom(workers);
    let times = |key: &str| {
        v[key]
            .as_array()
            .map(|a| {
                a.iter()
                    .map(|t| format!("{:.0}", t.as_f64().unwrap_or(f64::NAN)))
                    .collect::<Vec<_>>()
                    .join(" ")
            })
            .unwrap_or_default()
    };
    eprintln!(
        "  demo {} in blocks of {} rows: sync ms [{}], workers ms [{}] (alternating rounds)",
        v["shape"],
        v["rows"],
        times("sync_times"),
        times("workers_times")
    );
    eprintln!(
        "  machine: {workers} native threads ran {headroom:.2}x as fast as 1 before the demo, \
         {after:.2}x after; load average {}",
        load_average()
    );
    if v["same"] != Value::Bool(true) {
        return Err("the demo workload gave different results on sync and workers".into());
    }
    eprintln!(
        "  wasm-workers demo speedup over wasm-sync: {:.2}x",
        v["speedup"].as_f64().unwrap_or(f64::NAN)
    );
    let tasks = v["tasks"].as_u64().unwrap_or(0);
    for (backend, key, w) in [
        ("wasm-sync", "sync_ms", 1),
        ("wasm-workers", "workers_ms", workers as u64),
    ] {
        out.push(Record::timed(
            backend,
            "demo",
            (tasks, tasks),
            (w, reps.max(5) as u64),
            v[key].as_f64().unwrap_or(f64::NAN) / 1000.0,
        ));
    }
    Ok(out)
}

/// How much faster `threads` threads finish `threads` equal pieces of pure
/// CPU work than one thread finishes them in turn: what the machine's free
/// cores allow a parallel backend right now (about `threads` when idle,
/// less when others are busy on it).
pub fn parallel_headroom(threads: usize) -> f64 {
    fn spin() {
        let mut x = 0u64;
        for i in 0..40_000_000u64 {
            x = std::hint::black_box(x.wrapping_mul(6364136223846793005).wrapping_add(i));
        }
        std::hint::black_box(x);
    }
    let threads = threads.max(1);
    let start = Instant::now();
    for _ in 0..threads {
        spin();
    }
    let one = start.elapsed();
    let start = Instant::now();
    std::thread::scope(|s| {
        for _ in 0..threads {
            s.spawn(spin);
        }
    });
    one.as_secs_f64() / start.elapsed().as_secs_f64()
}

/// The first three fields of /proc/loadavg ("?" where there is none).
fn load_average() -> String {
    std::fs::read_to_string("/proc/loadavg")
        .map(|l| l.split_whitespace().take(3).collect::<Vec<_>>().join(" "))
        .unwrap_or_else(|_| "?".into())
}
