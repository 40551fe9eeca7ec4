//! A minimal Chrome DevTools Protocol client over `--remote-debugging-pipe` (fd 3 in, fd 4 out, messages ended by
//! NUL), for the browser test and the report benchmark. No network: the browser is driven through two pipes.
//!
//! Chromium is always started headless with the flags that keep it from reaching for outside hosts, and a fresh
//! profile directory.
#![allow(dead_code, clippy::unwrap_used, clippy::expect_used)]

use std::io::{BufRead, BufReader, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc::{Receiver, RecvTimeoutError, channel};
use std::time::{Duration, Instant};

use serde_json::{Value, json};

/// The flags every Chromium here is started with.
pub const FLAGS: &[&str] = &[
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-extensions",
    "--disable-default-apps",
    "--no-default-browser-check",
    "--mute-audio",
    "--remote-debugging-pipe",
];

/// Where Chromium is: `$STABMON_CHROMIUM`, else `chromium`, `chromium-browser` or `google-chrome` on the PATH.
pub fn find_chromium() -> Option<PathBuf> {
    if let Some(p) = std::env::var_os("STABMON_CHROMIUM") {
        return Some(PathBuf::from(p));
    }
    let path = std::env::var_os("PATH")?;
    for dir in std::env::split_paths(&path) {
        for name in ["chromium", "chromium-browser", "google-chrome"] {
            let p = dir.join(name);
            if p.is_file() {
                return Some(p);
            }
        }
    }
    None
}

/// A running headless Chromium and its browser-level CDP connection.
pub struct Browser {
    child: Child,
    to_browser: std::io::PipeWriter,
    from_browser: Receiver<Value>,
    next_id: u64,
    /// Every event received so far, in order.
    pub events: Vec<Value>,
    _profile: tempfile::TempDir,
}

impl Browser {
    /// Starts `chromium` with a fresh profile and a window of `width` x `height`.
    pub fn launch(chromium: &Path, width: u32, height: u32) -> Browser {
        use std::os::unix::process::CommandExt;

        let profile = tempfile::tempdir().unwrap();
        let (cmd_r, cmd_w) = std::io::pipe().unwrap();
        let (out_r, out_w) = std::io::pipe().unwrap();
        let mut command = Command::new(chromium);
        command
            .args(FLAGS)
            .arg(format!("--user-data-dir={}", profile.path().display()))
            .arg(format!("--window-size={width},{height}"))
            .arg("about:blank")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null());
        use std::os::fd::AsRawFd;
        let (r, w) = (cmd_r.as_raw_fd(), out_w.as_raw_fd());
        // SAFETY: between fork and exec only async-signal-safe calls (fcntl, dup2) on fds we own.
        unsafe {
            command.pre_exec(move || {
                // Move both ends above 10 first, so that dup2 onto 3 and 4 cannot clobber one of them.
                let hr = libc::fcntl(r, libc::F_DUPFD, 10);
                let hw = libc::fcntl(w, libc::F_DUPFD, 10);
                if hr < 0 || hw < 0 || libc::dup2(hr, 3) < 0 || libc::dup2(hw, 4) < 0 {
                    return Err(std::io::Error::last_os_error());
                }
                Ok(())
            });
        }
        let child = command.spawn().unwrap();
        drop(cmd_r);
        drop(out_w);
        let (tx, rx) = channel();
        std::thread::spawn(move || {
            let mut reader = BufReader::new(out_r);
            loop {
                let mut buf = Vec::new();
                match reader.read_until(0, &mut buf) {
                    Ok(0) | Err(_) => break,
                    Ok(_) => {
                        if buf.last() == Some(&0) {
                            buf.pop();
                        }
                        if let Ok(v) = serde_json::from_slice::<Value>(&buf)
                            && tx.send(v).is_err()
                        {
                            break;
                        }
                    }
                }
            }
        });
        Browser {
            child,
            to_browser: cmd_w,
            from_browser: rx,
            next_id: 1,
            events: Vec::new(),
            _profile: profile,
        }
    }

    /// Sends a command (to a page when `session` is given) and waits up to 60 s for its result; panics on a
    /// protocol error or a timeout, naming the method.
    pub fn call(&mut self, session: Option<&str>, method: &str, params: Value) -> Value {
        let id = self.next_id;
        self.next_id += 1;
        let mut msg = json!({"id": id, "method": method, "params": params});
        if let Some(s) = session {
            msg["sessionId"] = json!(s);
        }
        let mut bytes = serde_json::to_vec(&msg).unwrap();
        bytes.push(0);
        self.to_browser.write_all(&bytes).unwrap();
        self.to_browser.flush().unwrap();
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            match self.from_browser.recv_timeout(left) {
                Ok(v) if v.get("id").and_then(Value::as_u64) == Some(id) => {
                    if let Some(e) = v.get("error") {
                        panic!("{method} failed: {e}");
                    }
                    return v.get("result").cloned().unwrap_or(Value::Null);
                }
                Ok(v) => self.events.push(v),
                Err(RecvTimeoutError::Timeout) => panic!("no answer to {method} within 60 s"),
                Err(RecvTimeoutError::Disconnected) => {
                    panic!("chromium closed the pipe during {method}")
                }
            }
        }
    }

    /// Waits up to `timeout` for an event named `method` (already received or new) and returns it.
    pub fn wait_event(&mut self, method: &str, timeout: Duration) -> Option<Value> {
        if let Some(e) = self.events.iter().find(|e| e["method"] == method) {
            return Some(e.clone());
        }
        let deadline = Instant::now() + timeout;
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            match self.from_browser.recv_timeout(left) {
                Ok(v) => {
                    let hit = v["method"] == method;
                    self.events.push(v.clone());
                    if hit {
                        return Some(v);
                    }
                }
                Err(_) => return None,
            }
        }
    }

    /// Opens a page on `url` and returns its session id, with Runtime, Log, Page and Network events on, waiting
    /// for the load event.
    pub fn open(&mut self, url: &str) -> String {
        self.open_with(url, true)
    }

    /// Like [`Browser::open`], with the page's scripts disabled when `scripts` is false (as mail clients do).
    pub fn open_with(&mut self, url: &str, scripts: bool) -> String {
        let target = self.call(None, "Target.createTarget", json!({"url": "about:blank"}));
        let target_id = target["targetId"].as_str().unwrap().to_owned();
        let attached = self.call(
            None,
            "Target.attachToTarget",
            json!({"targetId": target_id, "flatten": true}),
        );
        let session = attached["sessionId"].as_str().unwrap().to_owned();
        for domain in [
            "Runtime.enable",
            "Log.enable",
            "Page.enable",
            "Network.enable",
        ] {
            self.call(Some(&session), domain, json!({}));
        }
        if !scripts {
            self.call(
                Some(&session),
                "Emulation.setScriptExecutionDisabled",
                json!({"value": true}),
            );
        }
        self.events.clear();
        self.call(Some(&session), "Page.navigate", json!({"url": url}));
        self.wait_event("Page.loadEventFired", Duration::from_secs(60))
            .expect("the page did not load within 60 s");
        session
    }

    /// Evaluates `expr` in the page and returns its value (by value: JSON-serializable results only).
    pub fn eval(&mut self, session: &str, expr: &str) -> Value {
        let r = self.call(
            Some(session),
            "Runtime.evaluate",
            json!({"expression": expr, "returnByValue": true, "awaitPromise": true}),
        );
        if let Some(e) = r.get("exceptionDetails") {
            panic!("evaluating {expr:?} threw: {e}");
        }
        r["result"]["value"].clone()
    }

    /// Moves the mouse to (x, y) in CSS pixels of the viewport.
    pub fn mouse(&mut self, session: &str, kind: &str, x: f64, y: f64, clicks: u32) {
        let button = if kind == "mouseMoved" { "none" } else { "left" };
        self.call(
            Some(session),
            "Input.dispatchMouseEvent",
            json!({"type": kind, "x": x, "y": y, "button": button, "clickCount": clicks,
                   "buttons": if kind == "mousePressed" || (kind == "mouseMoved" && clicks > 0) { 1 } else { 0 }}),
        );
    }

    /// Console errors, uncaught exceptions and error log entries (CSP violations land here) seen so far.
    pub fn errors(&self) -> Vec<String> {
        self.events
            .iter()
            .filter_map(|e| match e["method"].as_str() {
                Some("Runtime.exceptionThrown") => {
                    Some(format!("exception: {}", e["params"]["exceptionDetails"]))
                }
                Some("Runtime.consoleAPICalled")
                    if matches!(e["params"]["type"].as_str(), Some("error" | "assert")) =>
                {
                    Some(format!("console.error: {}", e["params"]["args"]))
                }
                Some("Log.entryAdded") if e["params"]["entry"]["level"] == "error" => {
                    Some(format!("log: {}", e["params"]["entry"]["text"]))
                }
                _ => None,
            })
            .collect()
    }

    /// The URLs of every request the pages started.
    pub fn requests(&self) -> Vec<String> {
        self.events
            .iter()
            .filter(|e| e["method"] == "Network.requestWillBeSent")
            .filter_map(|e| e["params"]["request"]["url"].as_str().map(str::to_owned))
            .collect()
    }

    /// A PNG screenshot of the viewport.
    pub fn screenshot(&mut self, session: &str) -> Vec<u8> {
        use base64::Engine as _;
        let r = self.call(
            Some(session),
            "Page.captureScreenshot",
            json!({"format": "png"}),
        );
        base64::engine::general_purpose::STANDARD
            .decode(r["data"].as_str().unwrap_or_default())
            .unwrap()
    }
}

impl Drop for Browser {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
