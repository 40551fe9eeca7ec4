//! What the tests on the real host that run alone share: the quiet-machine check, a uniquely named copy of a
//! program, running the recorder to its end, and its incidents. Each test uses part of it.
#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::thread::sleep;
use std::time::{Duration, Instant};

use serde_json::Value;

/// The machine's busy share over `d`, from `/proc/stat`'s first line.
fn machine_busy_pct(d: Duration) -> Option<f64> {
    fn read() -> Option<(u64, u64)> {
        let stat = std::fs::read_to_string("/proc/stat").ok()?;
        let v: Vec<u64> = stat
            .lines()
            .next()?
            .split_whitespace()
            .skip(1)
            .filter_map(|x| x.parse().ok())
            .collect();
        let idle = v.get(3)? + v.get(4).copied().unwrap_or(0);
        Some((v.iter().take(8).sum(), idle))
    }
    let (t0, i0) = read()?;
    sleep(d);
    let (t1, i1) = read()?;
    let total = t1.checked_sub(t0)?.max(1);
    Some(100.0 * (total - (i1 - i0).min(total)) as f64 / total as f64)
}

/// Whether the machine is quiet (at most 40 % of one core busy over 3 s); prints why the test is skipped if not.
pub fn quiet_or_skip(what: &str) -> bool {
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
    match machine_busy_pct(Duration::from_secs(3)) {
        Some(busy) if busy * cores as f64 <= 40.0 => true,
        Some(busy) => {
            println!(
                "SKIPPED: the machine is not quiet ({busy:.0} % of {cores} cores busy before the test): {what} \
                 cannot be told from the rest"
            );
            false
        }
        None => {
            println!("SKIPPED: /proc/stat is unreadable");
            false
        }
    }
}

/// A copy of `yes` named `name` in `dir` (a name nothing else on the machine has: at most 15 bytes, the kernel's
/// `comm`); `None`, with the reason printed, where there is no `yes`.
pub fn named_yes(dir: &Path, name: &str) -> Option<PathBuf> {
    let Some(yes) = ["/usr/bin/yes", "/bin/yes"]
        .into_iter()
        .find(|p| Path::new(p).exists())
    else {
        println!("SKIPPED: no `yes` binary to burn CPU with");
        return None;
    };
    let copy = dir.join(name);
    std::fs::copy(yes, &copy).unwrap();
    Some(copy)
}

/// Starts `stabmon record` into `data` for `duration` (like `50s`), its log piped; returns it and when it started.
pub fn start_recorder(data: &Path, duration: &str) -> (Child, Instant) {
    let started = Instant::now();
    let child = stabmon()
        .args(["record", "--duration", duration, "--data"])
        .arg(data)
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    (child, started)
}

pub fn stabmon() -> Command {
    let mut c = Command::new(assert_cmd::cargo::cargo_bin("stabmon"));
    c.env_remove("STABMON_DATA");
    c
}

/// Waits for the recorder started at `started` to stop by itself; kills it and fails after 90 s.
pub fn wait_recorder(recorder: &mut Child, started: Instant) -> ExitStatus {
    loop {
        if let Some(s) = recorder.try_wait().unwrap() {
            return s;
        }
        if started.elapsed() > Duration::from_secs(90) {
            recorder.kill().unwrap();
            panic!("the recorder did not stop after 90 s");
        }
        sleep(Duration::from_millis(200));
    }
}

/// The incidents of `data` as `stabmon incidents --json` prints them.
pub fn incidents(data: &Path) -> Vec<Value> {
    let out = stabmon()
        .args(["incidents", "--json", "--data"])
        .arg(data)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "incidents failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let v: Value = serde_json::from_slice(&out.stdout).unwrap();
    v["incidents"].as_array().cloned().unwrap_or_default()
}

/// The incidents of `data` as `stabmon incidents` prints its table, without colour.
pub fn incidents_table(data: &Path) -> String {
    let out = stabmon()
        .args(["incidents", "--data"])
        .arg(data)
        .env("NO_COLOR", "1")
        .output()
        .unwrap();
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// What a stopped recorder logged on stderr.
pub fn recorder_log(recorder: &mut Child) -> String {
    let mut log = String::new();
    if let Some(mut e) = recorder.stderr.take() {
        use std::io::Read;
        e.read_to_string(&mut log).unwrap();
    }
    log
}
