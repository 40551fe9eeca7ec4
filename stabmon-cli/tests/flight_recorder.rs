//! The flight recorder through the real binary: SIGKILL and recovery, the lock, reading over HTTP while
//! the recorder is still writing.
//!
//! Unix only: the crash it recovers from is a SIGKILL.
#![cfg(unix)]
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::thread;
use std::time::{Duration, Instant};

use stabmon_core::Timestamp;

fn stabmon() -> Command {
    let mut c = Command::new(assert_cmd::cargo::cargo_bin("stabmon"));
    c.env_remove("STABMON_DATA").stdin(Stdio::null());
    c
}

fn spawn_record(data: &Path, interval: &str) -> Child {
    stabmon()
        .args(["record", "--interval", interval, "--data"])
        .arg(data)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap()
}

/// Waits until the recorder's journal holds at least `n` samples (read through `stabmon dump`).
fn wait_for_samples(data: &str, n: usize) -> Vec<Timestamp> {
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let ts = dump_times(data);
        if ts.as_ref().is_ok_and(|t| t.len() >= n) {
            return ts.unwrap();
        }
        assert!(Instant::now() < deadline, "no {n} samples in time: {ts:?}");
        thread::sleep(Duration::from_millis(200));
    }
}

/// The sample times `stabmon dump --format json` prints, or its stderr.
fn dump_times(data: &str) -> Result<Vec<Timestamp>, String> {
    let out = stabmon()
        .args(["dump", "--format", "json", "--data", data])
        .output()
        .unwrap();
    if !out.status.success() {
        return Err(String::from_utf8_lossy(&out.stderr).into_owned());
    }
    Ok(String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(|l| {
            let v: serde_json::Value = serde_json::from_str(l).unwrap();
            v["ts"].as_str().unwrap().parse().unwrap()
        })
        .collect())
}

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

#[test]
fn sigkill_loses_at_most_the_last_second_and_the_next_start_recovers_it() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let mut child = spawn_record(&data, "1s");
    wait_for_samples(data.to_str().unwrap(), 3);
    thread::sleep(Duration::from_millis(1300));
    let killed_at = Timestamp::now();
    child.kill().unwrap(); // SIGKILL
    child.wait().unwrap();

    // The next start recovers the journal into Parquet.
    let out = stabmon()
        .args(["record", "--duration", "1s", "--data"])
        .arg(&data)
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", stderr(&out));
    let err = stderr(&out);
    assert!(
        err.contains("recovered") && err.contains("did not stop cleanly"),
        "{err}"
    );

    let times = dump_times(data.to_str().unwrap()).unwrap();
    let before_kill: Vec<&Timestamp> = times.iter().filter(|t| **t <= killed_at).collect();
    assert!(before_kill.len() >= 4, "{times:?}");
    let last = **before_kill.last().unwrap();
    let lost = killed_at.duration_since(last).unwrap();
    assert!(
        lost <= Duration::from_secs(1),
        "the last sample before the kill at {killed_at} is {last}: {lost:?} lost"
    );
    // Every tick of the first run is there: one a second, no hole.
    for w in before_kill.windows(2) {
        let gap = w[1].duration_since(*w[0]).unwrap();
        assert!(
            gap <= Duration::from_millis(1500),
            "a hole between {} and {}",
            w[0],
            w[1]
        );
    }
    // No journal left behind, segments listed in the manifest.
    let manifest = std::fs::read_to_string(data.join("manifest.json")).unwrap();
    let parsed: serde_json::Value = serde_json::from_str(&manifest).unwrap();
    // A segment entry lists its tables (manifest version 3).
    let tables: Vec<&str> = parsed["segments"]
        .as_array()
        .map(|segs| {
            segs.iter()
                .filter_map(|s| s["tables"].as_object())
                .flat_map(|t| t.keys().map(String::as_str))
                .collect()
        })
        .unwrap_or_default();
    assert!(tables.contains(&"samples"), "{manifest}");
    assert_eq!(
        parsed["journals"].as_array().map(Vec::len),
        Some(0),
        "{manifest}"
    );
}

#[test]
fn a_second_recorder_on_the_same_directory_is_refused_with_status_2() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let mut child = spawn_record(&data, "200ms");
    wait_for_samples(data.to_str().unwrap(), 1);
    let out = stabmon()
        .args(["record", "--duration", "1s", "--data"])
        .arg(&data)
        .output()
        .unwrap();
    child.kill().unwrap();
    child.wait().unwrap();
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    let err = stderr(&out);
    assert!(
        err.contains("another stabmon recorder") && err.contains(&data.display().to_string()),
        "{err}"
    );
    assert_eq!(err.trim().lines().count(), 1, "{err}");
}

/// A static file server of `root` on 127.0.0.1 (GET only, one request per connection), like nginx or
/// `python3 -m http.server` would be. Returns its base URL.
fn serve(root: PathBuf) -> String {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    thread::spawn(move || {
        for stream in listener.incoming().take(10_000) {
            let Ok(mut stream) = stream else { continue };
            let mut reader = BufReader::new(stream.try_clone().unwrap());
            let mut line = String::new();
            if reader.read_line(&mut line).is_err() {
                continue;
            }
            loop {
                let mut h = String::new();
                if reader.read_line(&mut h).unwrap_or(0) == 0 || h == "\r\n" {
                    break;
                }
            }
            let path = line.split_whitespace().nth(1).unwrap_or("/").to_owned();
            let file = path
                .trim_start_matches('/')
                .split('/')
                .map(|c| c.replace("%3D", "=").replace("%3d", "="))
                .fold(root.clone(), |p, c| p.join(c));
            let mut body = Vec::new();
            let status = match std::fs::File::open(&file).and_then(|mut f| f.read_to_end(&mut body))
            {
                Ok(_) if file.is_file() => "200 OK",
                _ => {
                    body = b"not found".to_vec();
                    "404 Not Found"
                }
            };
            let _ = write!(
                stream,
                "HTTP/1.1 {status}\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
                body.len()
            );
            let _ = stream.write_all(&body);
        }
    });
    format!("http://127.0.0.1:{port}")
}

#[test]
fn a_url_is_read_while_the_recorder_is_still_writing() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let mut child = spawn_record(&data, "200ms");
    let local = wait_for_samples(data.to_str().unwrap(), 3);
    let base = serve(dir.path().to_path_buf());
    let url = format!("{base}/data");
    let remote = dump_times(&url);
    // Unreachable, 404 and not-stabmon URLs: clear errors naming them.
    std::fs::write(dir.path().join("manifest.json"), b"{\"hello\": 1}").unwrap();
    let not_stabmon = dump_times(&base);
    let missing = dump_times(&format!("{base}/nothing-here"));
    let closed = {
        let l = TcpListener::bind("127.0.0.1:0").unwrap();
        let port = l.local_addr().unwrap().port();
        drop(l);
        dump_times(&format!("http://127.0.0.1:{port}/data"))
    };
    child.kill().unwrap();
    child.wait().unwrap();

    let remote = remote.unwrap();
    // The samples come from the journal (no segment is finished yet): the last seconds are there.
    assert!(remote.len() >= local.len(), "{remote:?} vs {local:?}");
    assert_eq!(remote[..local.len()], local[..]);
    let e = not_stabmon.unwrap_err();
    assert!(
        e.contains("not a stabmon manifest") && e.contains(&base),
        "{e}"
    );
    let e = missing.unwrap_err();
    assert!(e.contains("404") && e.contains("nothing-here"), "{e}");
    let e = closed.unwrap_err();
    assert!(e.contains("unreachable") && e.contains("127.0.0.1"), "{e}");
}
