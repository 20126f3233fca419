//! Headless Chromium driven by chromedriver over plain W3C WebDriver HTTP
//! (a dozen lines of HTTP/1.1 on `std::net`, JSON via serde_json).
//!
//! chromedriver runs in its own process group with Chromium under it; when
//! a [`Browser`] drops, the session is deleted and the whole group killed
//! and reaped, so no test leaves a browser behind. Every wait is bounded.

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::os::unix::process::CommandExt;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::{json, Value};

/// Chromium flags that work on these machines (root, no GPU, no network).
const CHROMIUM_FLAGS: &[&str] = &[
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-dev-shm-usage",
];

/// The longest a script may run (a whole benchmark).
const SCRIPT_TIMEOUT: Duration = Duration::from_secs(540);

/// Where chromedriver is: `$CHROMEDRIVER`, else Debian's path.
pub fn chromedriver_path() -> PathBuf {
    std::env::var_os("CHROMEDRIVER").map_or_else(|| "/usr/bin/chromedriver".into(), PathBuf::from)
}

/// Where Chromium is: `$CHROMIUM`, else Debian's path.
pub fn chromium_path() -> PathBuf {
    std::env::var_os("CHROMIUM").map_or_else(|| "/usr/bin/chromium".into(), PathBuf::from)
}

/// A headless Chromium session.
#[derive(Debug)]
pub struct Browser {
    driver: Child,
    port: u16,
    session: Option<String>,
    profile: PathBuf,
}

impl Browser {
    /// Starts chromedriver and a headless Chromium session.
    pub fn start() -> Result<Browser, String> {
        let port = TcpListener::bind(("127.0.0.1", 0))
            .and_then(|l| l.local_addr())
            .map_err(|e| format!("no free port on 127.0.0.1: {e}"))?
            .port();
        let profile =
            std::env::temp_dir().join(format!("rask-chromium-{}-{port}", std::process::id()));
        let driver = Command::new(chromedriver_path())
            .arg(format!("--port={port}"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .process_group(0)
            .spawn()
            .map_err(|e| format!("cannot start {}: {e}", chromedriver_path().display()))?;
        let mut browser = Browser {
            driver,
            port,
            session: None,
            profile,
        };
        browser.wait_ready()?;
        let mut args: Vec<String> = CHROMIUM_FLAGS.iter().map(|s| s.to_string()).collect();
        args.push(format!("--user-data-dir={}", browser.profile.display()));
        let caps = json!({"capabilities": {"alwaysMatch": {
            "browserName": "chrome",
            "goog:chromeOptions": {"binary": chromium_path(), "args": args},
            "timeouts": {"script": SCRIPT_TIMEOUT.as_millis() as u64, "pageLoad": 60_000},
        }}});
        let reply = browser.call("POST", "/session", Some(&caps))?;
        let id = reply["sessionId"]
            .as_str()
            .ok_or_else(|| format!("chromedriver gave no session id: {reply}"))?;
        browser.session = Some(id.to_owned());
        Ok(browser)
    }

    fn wait_ready(&mut self) -> Result<(), String> {
        let deadline = Instant::now() + Duration::from_secs(20);
        for _ in 0..200 {
            if let Ok(v) = self.call("GET", "/status", None) {
                if v["ready"].as_bool() == Some(true) {
                    return Ok(());
                }
            }
            if let Ok(Some(status)) = self.driver.try_wait() {
                return Err(format!("chromedriver exited at start ({status})"));
            }
            if Instant::now() > deadline {
                break;
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        Err("chromedriver did not become ready within 20 s".into())
    }

    fn session_path(&self, tail: &str) -> Result<String, String> {
        let id = self.session.as_deref().ok_or("no browser session")?;
        Ok(format!("/session/{id}{tail}"))
    }

    /// Opens `url` and waits (bounded) until `window.rask.ready`.
    pub fn open_demo(&self, url: &str) -> Result<(), String> {
        self.call(
            "POST",
            &self.session_path("/url")?,
            Some(&json!({ "url": url })),
        )?;
        for _ in 0..300 {
            let v = self.call(
                "POST",
                &self.session_path("/execute/sync")?,
                Some(&json!({"script": "return !!(window.rask && window.rask.ready)", "args": []})),
            )?;
            if v == json!(true) {
                return Ok(());
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        Err(format!(
            "the page at {url} did not define window.rask within 30 s"
        ))
    }

    /// Awaits the JavaScript expression `expr` (a Promise is fine) in the
    /// page and returns its JSON value; a throw becomes an error.
    pub fn eval(&self, expr: &str) -> Result<Value, String> {
        let script = format!(
            "const done = arguments[arguments.length - 1];\
             Promise.resolve().then(() => ({expr})).then(\
               v => done({{ok: v}}), e => done({{err: String(e && e.stack || e)}}));"
        );
        let v = self.call(
            "POST",
            &self.session_path("/execute/async")?,
            Some(&json!({"script": script, "args": []})),
        )?;
        match v.get("err") {
            Some(e) => Err(format!(
                "`{expr}` threw: {}",
                e.as_str().unwrap_or_default()
            )),
            None => Ok(v.get("ok").cloned().unwrap_or(Value::Null)),
        }
    }

    /// One WebDriver command; the `value` of its reply.
    fn call(&self, method: &str, path: &str, body: Option<&Value>) -> Result<Value, String> {
        let body = body.map(|b| b.to_string()).unwrap_or_default();
        let mut s = TcpStream::connect(("127.0.0.1", self.port))
            .map_err(|e| format!("chromedriver: {e}"))?;
        s.set_read_timeout(Some(SCRIPT_TIMEOUT + Duration::from_secs(30)))
            .map_err(|e| e.to_string())?;
        write!(
            s,
            "{method} {path} HTTP/1.1\r\nHost: 127.0.0.1:{}\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
            self.port,
            body.len()
        )
        .map_err(|e| format!("chromedriver: {e}"))?;
        // chromedriver may keep the connection open: read the head, then
        // exactly Content-Length bytes (or chunks up to the last one).
        let mut raw = Vec::new();
        let mut buf = [0u8; 16384];
        let body = loop {
            let n = s
                .read(&mut buf)
                .map_err(|e| format!("chromedriver reply to {method} {path}: {e}"))?;
            if n == 0 {
                let text = String::from_utf8_lossy(&raw);
                break text
                    .split_once("\r\n\r\n")
                    .map(|(_, b)| b.to_owned())
                    .unwrap_or_default();
            }
            raw.extend_from_slice(&buf[..n]);
            let text = String::from_utf8_lossy(&raw);
            let Some((head, body)) = text.split_once("\r\n\r\n") else {
                continue;
            };
            let lower = head.to_ascii_lowercase();
            let length = lower
                .lines()
                .find_map(|l| l.strip_prefix("content-length:"))
                .and_then(|v| v.trim().parse::<usize>().ok());
            match length {
                Some(len) if body.len() >= len => break body[..len].to_owned(),
                None if lower.contains("transfer-encoding: chunked")
                    && body.ends_with("0\r\n\r\n") =>
                {
                    break dechunk(body)
                }
                _ => continue,
            }
        };
        let text = String::from_utf8_lossy(&raw);
        let head = text.split("\r\n\r\n").next().unwrap_or_default();
        let status: u16 = head
            .split_whitespace()
            .nth(1)
            .and_then(|s| s.parse().ok())
            .unwrap_or(0);
        let json: Value = serde_json::from_str(&body)
            .map_err(|e| format!("chromedriver sent bad JSON ({e}): {body}"))?;
        let value = json.get("value").cloned().unwrap_or(Value::Null);
        match status {
            200 => Ok(value),
            _ => Err(format!(
                "{method} {path} failed ({status}): {}",
                value["message"].as_str().unwrap_or(&body)
            )),
        }
    }
}

/// The body of a chunked HTTP reply.
fn dechunk(mut body: &str) -> String {
    let mut out = String::new();
    while let Some((size, rest)) = body.split_once("\r\n") {
        let n = usize::from_str_radix(size.trim(), 16).unwrap_or(0);
        if n == 0 || rest.len() < n {
            break;
        }
        out.push_str(&rest[..n]);
        body = rest[n..].trim_start_matches("\r\n");
    }
    out
}

impl Drop for Browser {
    fn drop(&mut self) {
        if let Ok(path) = self.session_path("") {
            let _ = self.call("DELETE", &path, None);
        }
        // chromedriver leads its own group, and Chromium runs inside it.
        let group = nix::unistd::Pid::from_raw(self.driver.id() as i32);
        let _ = nix::sys::signal::killpg(group, nix::sys::signal::Signal::SIGKILL);
        let _ = self.driver.wait();
        let _ = std::fs::remove_dir_all(&self.profile);
    }
}
