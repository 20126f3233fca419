//! The dashboard in a real browser: headless Chromium, driven over W3C
//! WebDriver by chromedriver, opens the page while graphs run on a local
//! cluster; the DOM must list the workers and draw tasks in the stream.
//! A screenshot is saved as `target/test-output/dashboard.png`.
//!
//! Without `/usr/bin/chromium` and `/usr/bin/chromedriver` the test says
//! it was skipped and why, and passes (`cargo xtask test` installs both).

mod common;
mod http;
mod webdriver;

use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use common::{impure, spin};
use rask_core::{Inputs, Op};
use rask_sched_net::{Client, LocalOptions};
use serde_json::Value;
use webdriver::Browser;

fn load(x: &u64) -> u64 {
    spin(2_000);
    x * 2
}

fn reduce(xs: Inputs<u64>) -> u64 {
    xs.sum()
}

/// Where the screenshot goes: `target/test-output/`.
fn output_dir() -> PathBuf {
    let tmp = PathBuf::from(env!("CARGO_TARGET_TMPDIR"));
    tmp.parent().unwrap_or(&tmp).join("test-output")
}

const DOM_PROBE: &str = r#"
const rows = [...document.querySelectorAll('#workers tbody tr.worker')];
return {
  workers: rows.map(r => r.children[1].textContent),
  tasks: document.querySelectorAll('#task-stream rect.task').length,
  lanes: document.querySelectorAll('#task-stream rect.lane').length,
  progress: [...document.querySelectorAll('#progress .prog')].map(p => p.dataset.prefix),
  live: document.getElementById('conn').className,
};
"#;

#[test]
fn the_dashboard_page_shows_workers_and_the_task_stream_in_chromium() {
    if let Some(why) = webdriver::missing() {
        eprintln!("SKIPPED the dashboard browser test: {why}");
        return;
    }
    let client = Client::local(LocalOptions {
        workers: 2,
        threads_per_worker: 2,
        dashboard_port: Some(0),
        ..LocalOptions::default()
    })
    .unwrap();
    client.wait_for_workers(2, Duration::from_secs(10)).unwrap();
    let link = client.dashboard_link().unwrap();
    let addresses: Vec<String> = client.workers().into_iter().map(|(_, a)| a).collect();

    // Graphs run, one after another, until the page has been checked.
    let stop = Arc::new(AtomicBool::new(false));
    let runner = {
        let client = client.clone();
        let stop = stop.clone();
        std::thread::spawn(move || {
            let mut runs = 0u32;
            while !stop.load(Ordering::Relaxed) && runs < 200 {
                let (load_op, reduce_op) = (Op::new("load", load), Op::new("reduce", reduce));
                let (job, out) =
                    common::fan_in(0..200u64, &load_op, &reduce_op, Some("reduce-all"));
                let v = client
                    .gather(&client.submit_job(&job, &[out], &[], &impure()).unwrap())
                    .unwrap();
                assert_eq!(v[0].downcast_ref::<u64>(), Some(&(199 * 200)));
                runs += 1;
            }
            runs
        })
    };

    let browser = Browser::start(1280, 900).unwrap();
    browser.goto(&link).unwrap();
    let deadline = Instant::now() + Duration::from_secs(30);
    let seen: Value = loop {
        let v = browser.eval(DOM_PROBE).unwrap();
        let ready = v["workers"].as_array().map_or(0, Vec::len) == 2
            && v["tasks"].as_u64().unwrap_or(0) > 0
            && v["progress"].as_array().is_some_and(|p| !p.is_empty());
        if ready || Instant::now() > deadline {
            break v;
        }
        std::thread::sleep(Duration::from_millis(250));
    };
    // Let the stream fill for the picture.
    std::thread::sleep(Duration::from_millis(1500));
    let png = browser.screenshot().unwrap();
    stop.store(true, Ordering::Relaxed);

    let mut listed: Vec<String> = seen["workers"]
        .as_array()
        .unwrap_or(&Vec::new())
        .iter()
        .map(|a| a.as_str().unwrap_or("").to_owned())
        .collect();
    listed.sort();
    let mut expected = addresses.clone();
    expected.sort();
    assert_eq!(
        listed, expected,
        "the workers table lists the workers: {seen}"
    );
    assert!(
        seen["tasks"].as_u64().unwrap_or(0) > 0,
        "the task stream is empty: {seen}"
    );
    assert_eq!(seen["lanes"], 4, "a lane per worker thread: {seen}");
    let prefixes: Vec<&str> = seen["progress"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(Value::as_str)
        .collect();
    assert!(prefixes.contains(&"load"), "{seen}");
    assert_eq!(seen["live"], "ok");

    assert!(png.starts_with(b"\x89PNG\r\n\x1a\n"), "not a PNG");
    let dir = output_dir();
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("dashboard.png");
    std::fs::write(&path, &png).unwrap();
    eprintln!("dashboard screenshot: {}", path.display());

    drop(browser);
    let runs = runner.join().unwrap();
    assert!(runs > 0);
}
