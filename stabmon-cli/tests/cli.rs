//! Runs the real `stabmon` binary: exit codes, stdout and stderr.
//!
//! Tests that record keep to a few seconds each; they read the real host, so they assert shapes and invariants,
//! not values.
#![allow(clippy::unwrap_used, clippy::expect_used)]

#[cfg(unix)]
use std::io::{BufRead, BufReader};
use std::path::Path;
#[cfg(unix)]
use std::process::{Child, ExitStatus};
use std::process::{Command as StdCommand, Stdio};
#[cfg(unix)]
use std::sync::mpsc;
use std::thread;
use std::time::Duration;
#[cfg(unix)]
use std::time::Instant;

use assert_cmd::Command;
use serde_json::Value;

fn stabmon() -> Command {
    let mut cmd = Command::cargo_bin("stabmon").unwrap();
    // The tests choose their data directory; an inherited one must not leak in.
    cmd.env_remove("STABMON_DATA");
    cmd
}

/// A minimal RFC 4180 reader, enough to check that `dump` quotes what needs quoting.
fn parse_csv(text: &str) -> Vec<Vec<String>> {
    let mut rows = Vec::new();
    let mut row = Vec::new();
    let mut field = String::new();
    let mut chars = text.chars().peekable();
    let mut quoted = false;
    while let Some(c) = chars.next() {
        match (quoted, c) {
            (true, '"') if chars.peek() == Some(&'"') => {
                chars.next();
                field.push('"');
            }
            (true, '"') => quoted = false,
            (true, c) => field.push(c),
            (false, '"') if field.is_empty() => quoted = true,
            (false, ',') => row.push(std::mem::take(&mut field)),
            (false, '\n') => {
                row.push(std::mem::take(&mut field));
                rows.push(std::mem::take(&mut row));
            }
            (false, c) => field.push(c),
        }
    }
    assert!(!quoted, "unterminated quoted field");
    assert!(
        field.is_empty() && row.is_empty(),
        "last line lacks a newline"
    );
    rows
}

fn record(data: &Path, extra: &[&str]) -> String {
    let out = stabmon()
        .args(["record", "--data"])
        .arg(data)
        .args(extra)
        .timeout(Duration::from_secs(60))
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    assert!(
        out.status.success(),
        "record failed: {:?}\n{stderr}",
        out.status
    );
    assert!(stderr.contains("recording started"), "{stderr}");
    assert!(stderr.contains("recording stopped"), "{stderr}");
    stderr
}

fn dump(data: &Path, extra: &[&str]) -> String {
    let out = stabmon()
        .args(["dump", "--data"])
        .arg(data)
        .args(extra)
        .timeout(Duration::from_secs(60))
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "dump {extra:?} failed: {:?}\n{}",
        out.status,
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
}

fn json_lines(text: &str) -> Vec<Value> {
    text.lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("not JSON ({e}): {l}")))
        .collect()
}

/// Checks every output form of `dump` on a recording, and returns the samples as JSON.
fn check_dump(data: &Path, min_samples: usize) -> Vec<Value> {
    // CSV: a header, then one row per sample, each as wide as the header.
    let rows = parse_csv(&dump(data, &[]));
    let header = &rows[0];
    for col in [
        "ts",
        "host",
        "cpu_busy_pct",
        "mem_used_bytes",
        "mem_available_bytes",
        "swap_used_bytes",
        "load_1",
        "process_count",
        "oom_kill_count",
        "top_cpu_name",
        "top_cpu_pid",
        "top_cpu_pct",
        "top_rss_name",
        "top_rss_bytes",
    ] {
        assert!(
            header.iter().any(|h| h == col),
            "no column {col} in {header:?}"
        );
    }
    let samples = &rows[1..];
    assert!(samples.len() >= min_samples, "{} rows", samples.len());
    let col = |name: &str| header.iter().position(|h| h == name).unwrap();
    for r in samples {
        assert_eq!(r.len(), header.len(), "{r:?}");
        assert!(
            r[col("ts")].ends_with('Z') && r[col("ts")].contains('T'),
            "{r:?}"
        );
        assert!(
            r[col("mem_total_bytes")].parse::<u64>().unwrap() > 0,
            "{r:?}"
        );
        assert!(r[col("process_count")].parse::<u32>().unwrap() > 0, "{r:?}");
        assert!(!r[col("top_rss_name")].is_empty(), "{r:?}");
    }

    // JSON Lines: the same samples, each a full object.
    let json = json_lines(&dump(data, &["--format", "json"]));
    assert_eq!(json.len(), samples.len());
    for (v, r) in json.iter().zip(samples) {
        for key in [
            "ts",
            "host",
            "interval",
            "cpu",
            "per_core",
            "memory",
            "process_count",
            "top",
        ] {
            assert!(v.get(key).is_some(), "no key {key} in {v}");
        }
        assert_eq!(v["ts"].as_str(), Some(r[col("ts")].as_str()));
        assert_eq!(v["host"].as_str(), Some(r[col("host")].as_str()));
        assert!(v["memory"]["total_bytes"].as_u64().unwrap() > 0);
        assert!(!v["top"]["processes"].as_array().unwrap().is_empty(), "{v}");
    }
    // RFC 3339 strings with and without a fraction do not sort as text ("…:52Z" > "…:51.500Z" < "…:52.500Z"),
    // so compare the instants they name.
    let ts: Vec<stabmon_core::Timestamp> = json
        .iter()
        .map(|v| v["ts"].as_str().unwrap().parse().unwrap())
        .collect();
    assert!(
        ts.windows(2).all(|w| w[0] < w[1]),
        "timestamps not increasing: {ts:?}"
    );

    // The long process format, in CSV and JSON: one row per process entry per sample.
    let entries: usize = json
        .iter()
        .map(|v| v["top"]["processes"].as_array().unwrap().len())
        .sum();
    let rows = parse_csv(&dump(data, &["--processes"]));
    let header = &rows[0];
    for col in [
        "ts",
        "pid",
        "name",
        "cpu_pct",
        "rss_bytes",
        "cpu_rank",
        "rss_rank",
        "cmdline",
    ] {
        assert!(
            header.iter().any(|h| h == col),
            "no column {col} in {header:?}"
        );
    }
    assert_eq!(rows.len() - 1, entries);
    assert!(rows[1..].iter().all(|r| r.len() == header.len()));
    let procs = json_lines(&dump(data, &["--processes", "--format", "json"]));
    assert_eq!(procs.len(), entries);
    for p in &procs {
        for key in [
            "ts",
            "host",
            "pid",
            "name",
            "cpu_pct",
            "rss_bytes",
            "cpu_rank",
            "rss_rank",
            "cmdline",
        ] {
            assert!(p.get(key).is_some(), "no key {key} in {p}");
        }
    }
    json
}

#[test]
fn record_for_a_duration_then_dump() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let stderr = record(&data, &["--duration", "3s", "--interval", "1s"]);
    for part in ["interval 1s", "top 10", &data.display().to_string()] {
        assert!(stderr.contains(part), "start line lacks {part:?}: {stderr}");
    }
    let json = check_dump(&data, 2);
    assert!(json.iter().all(|v| v["top"]["n"] == 10), "top n is not 10");

    // $STABMON_DATA stands in for --data.
    let out = stabmon()
        .args(["dump", "--format", "json"])
        .env("STABMON_DATA", &data)
        .output()
        .unwrap();
    assert!(out.status.success());
    assert_eq!(json_lines(&String::from_utf8(out.stdout).unwrap()), json);
}

#[test]
fn record_with_the_portable_sampler_and_no_command_lines() {
    let dir = tempfile::tempdir().unwrap();
    let stderr = record(
        dir.path(),
        &[
            "--sampler",
            "sysinfo",
            "--no-cmdline",
            "--top",
            "3",
            "--duration",
            "3s",
            "--interval",
            "1s",
        ],
    );
    assert!(stderr.contains("sysinfo"), "{stderr}");
    let json = check_dump(dir.path(), 2);
    for v in &json {
        assert_eq!(v["top"]["n"], 3);
        for p in v["top"]["processes"].as_array().unwrap() {
            assert!(p["cmdline"].is_null(), "--no-cmdline recorded {p}");
        }
    }
}

/// Asserts a run failed with status 2 and exactly one line on stderr naming `value`, nothing on stdout.
fn assert_bad_input(args: &[&str], value: &str) {
    let out = stabmon()
        .args(args)
        .timeout(Duration::from_secs(30))
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{args:?}: {stderr}");
    assert_eq!(
        stderr.trim_end().lines().count(),
        1,
        "{args:?}: not one line: {stderr}"
    );
    assert!(
        stderr.contains(value),
        "{args:?}: {stderr} does not name {value:?}"
    );
    assert!(!stderr.contains("panicked"), "{stderr}");
    assert!(out.stdout.is_empty(), "{args:?} printed to stdout");
}

#[test]
fn bad_flags_get_one_line_and_status_2() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path().to_str().unwrap();
    for (args, value, allowed) in [
        (vec!["--interval", "0"], "'0'", "more than zero"),
        (vec!["--interval", "-1"], "'-1'", "negative"),
        (vec!["--interval=-1"], "'-1'", "negative"),
        (vec!["--interval", "abc"], "'abc'", "such as 500ms"),
        (vec!["--interval", "1ms"], "'1ms'", "at least 10ms"),
        (vec!["--top", "0"], "'0'", "1 to 1000"),
        (vec!["--top", "-1"], "'-1'", "1 to 1000"),
        (vec!["--duration", "0s"], "'0s'", "more than zero"),
        (vec!["--sampler", "fast"], "'fast'", "auto, proc, sysinfo"),
        (vec!["--cmdline-max", "8"], "'8'", "16 to 65536"),
        (vec!["--cmdline-max", "lots"], "'lots'", "16 to 65536"),
        (vec!["--cpu-floor", "-1"], "'-1'", "from 0 to 100000"),
        (
            vec!["--cpu-floor", "lots"],
            "'lots'",
            "percentage of one core",
        ),
        (vec!["--cpu-floor", "NaN"], "'NaN'", "from 0 to 100000"),
        (vec!["--bogus"], "'--bogus'", "--help"),
    ] {
        let mut full = vec!["record", "--data", d];
        full.extend(args);
        assert_bad_input(&full, value);
        assert_bad_input(&full, allowed);
    }
    assert_bad_input(&["dump", "--format", "xml"], "'xml'");
    assert_bad_input(&["dump", "--format", "xml"], "csv, json");
    assert_bad_input(&["frobnicate"], "'frobnicate'");
    // Nothing was recorded by any of them.
    assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 0);
}

#[test]
fn unusable_data_directory_gets_one_line_and_status_2() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("a-file");
    std::fs::write(&file, "not a directory").unwrap();
    let under_file = file.join("data");
    for path in [&file, &under_file] {
        let shown = path.to_str().unwrap();
        assert_bad_input(&["record", "--duration", "1s", "--data", shown], shown);
    }
    // An existing directory that nobody, not even root, can create files in.
    #[cfg(target_os = "linux")]
    assert_bad_input(
        &["record", "--duration", "1s", "--data", "/proc/self"],
        "/proc/self is not writable",
    );
}

#[test]
fn dump_without_data_fails_naming_the_path() {
    let dir = tempfile::tempdir().unwrap();
    let missing = dir.path().join("missing");
    let garbage = dir.path().join("garbage.parquet");
    std::fs::write(&garbage, b"this is not a parquet file\n").unwrap();
    let empty = dir.path().join("empty");
    std::fs::create_dir(&empty).unwrap();
    for path in [&missing, &empty, &garbage] {
        let out = stabmon()
            .arg("dump")
            .arg("--data")
            .arg(path)
            .output()
            .unwrap();
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(1), "{path:?}: {stderr}");
        assert!(
            stderr.contains(path.to_str().unwrap()),
            "{stderr} does not name {path:?}"
        );
        assert_eq!(stderr.trim_end().lines().count(), 1, "{stderr}");
        assert!(!stderr.contains("panicked"), "{stderr}");
        assert!(out.stdout.is_empty());
    }
}

/// Starts `stabmon record` with stderr piped and waits for its start line; returns the child and a channel of the
/// remaining stderr lines. (The tests that use it stop the recorder with a Unix signal.)
#[cfg(unix)]
fn spawn_recorder(data: &Path) -> (Child, mpsc::Receiver<String>) {
    let mut child = StdCommand::new(assert_cmd::cargo::cargo_bin("stabmon"))
        .args(["record", "--interval", "500ms", "--data"])
        .arg(data)
        .env_remove("STABMON_DATA")
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let stderr = child.stderr.take().unwrap();
    let (tx, rx) = mpsc::channel();
    thread::spawn(move || {
        for line in BufReader::new(stderr).lines() {
            let Ok(line) = line else { break };
            if tx.send(line).is_err() {
                break;
            }
        }
    });
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        match rx.recv_timeout(left) {
            Ok(line) if line.contains("recording started") => break,
            Ok(_) => {}
            Err(e) => {
                let _ = child.kill();
                panic!("no start line from the recorder: {e}");
            }
        }
    }
    (child, rx)
}

/// Waits for the recorder to exit, killing it (and failing) after 30 s.
#[cfg(unix)]
fn wait_with_deadline(child: &mut Child, after: &str) -> ExitStatus {
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        if let Some(status) = child.try_wait().unwrap() {
            return status;
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            panic!("the recorder did not stop within 30 s of {after}");
        }
        thread::sleep(Duration::from_millis(50));
    }
}

#[cfg(unix)]
fn stops_cleanly_on(signal: libc::c_int, name: &str) {
    let dir = tempfile::tempdir().unwrap();
    let (mut child, rx) = spawn_recorder(dir.path());
    thread::sleep(Duration::from_millis(2500));
    let pid = libc::pid_t::try_from(child.id()).unwrap();
    // SAFETY: kill(2) with a pid we spawned and have not reaped.
    assert_eq!(unsafe { libc::kill(pid, signal) }, 0);
    let status = wait_with_deadline(&mut child, name);
    let rest: Vec<String> = rx.iter().collect();
    assert!(status.success(), "{name}: {status:?}: {rest:?}");
    assert!(rest.iter().any(|l| l.contains(name)), "{rest:?}");
    assert!(
        rest.iter().any(|l| l.contains("recording stopped")),
        "{rest:?}"
    );
    check_dump(dir.path(), 2);
}

#[cfg(unix)]
#[test]
fn sigterm_finishes_the_data_and_exits_0() {
    stops_cleanly_on(libc::SIGTERM, "SIGTERM");
}

#[cfg(unix)]
#[test]
fn ctrl_c_finishes_the_data_and_exits_0() {
    stops_cleanly_on(libc::SIGINT, "SIGINT");
}

/// A store that cannot be finished (here: its directory removed under the recorder) is a failure that says so,
/// not a silent exit 0.
#[cfg(unix)]
#[test]
fn losing_the_data_directory_while_recording_exits_1() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let (mut child, rx) = spawn_recorder(&data);
    thread::sleep(Duration::from_millis(1200));
    std::fs::remove_dir_all(&data).unwrap();
    let pid = libc::pid_t::try_from(child.id()).unwrap();
    // SAFETY: kill(2) with a pid we spawned and have not reaped.
    assert_eq!(unsafe { libc::kill(pid, libc::SIGTERM) }, 0);
    let status = wait_with_deadline(&mut child, "the stop");
    let rest: Vec<String> = rx.iter().collect();
    assert_eq!(status.code(), Some(1), "{rest:?}");
    let last = rest.last().unwrap();
    assert!(last.starts_with("stabmon: error:"), "{rest:?}");
    assert!(last.contains(data.to_str().unwrap()), "{rest:?}");
    assert!(!rest.iter().any(|l| l.contains("panicked")), "{rest:?}");
}

#[test]
fn dump_into_a_closed_pipe_is_success() {
    let dir = tempfile::tempdir().unwrap();
    record(dir.path(), &["--duration", "1s", "--interval", "200ms"]);
    for format in ["csv", "json"] {
        let (reader, writer) = std::io::pipe().unwrap();
        drop(reader);
        let out = StdCommand::new(assert_cmd::cargo::cargo_bin("stabmon"))
            .args(["dump", "--processes", "--format", format, "--data"])
            .arg(dir.path())
            .stdout(writer)
            .stderr(Stdio::piped())
            .output()
            .unwrap();
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(out.status.success(), "{format}: {:?}: {stderr}", out.status);
        assert!(stderr.is_empty(), "{stderr}");
    }
}

#[test]
fn help_explains_every_flag_and_its_default() {
    let out = stabmon().args(["record", "--help"]).output().unwrap();
    assert!(out.status.success());
    // Help text wraps at the terminal width: compare with whitespace collapsed.
    let words = |b: Vec<u8>| {
        String::from_utf8(b)
            .unwrap()
            .split_whitespace()
            .collect::<Vec<_>>()
            .join(" ")
    };
    let help = words(out.stdout);
    for part in [
        "--data",
        "STABMON_DATA",
        "/var/lib/stabmon",
        ".local/share/stabmon",
        "--interval",
        "[default: 1s]",
        "--top",
        "[default: 10]",
        "--duration",
        "until Ctrl-C or SIGTERM",
        "--no-cmdline",
        "--sampler",
        "[default: auto]",
        "sysinfo",
    ] {
        assert!(help.contains(part), "record --help lacks {part:?}:\n{help}");
    }
    let out = stabmon().args(["dump", "--help"]).output().unwrap();
    assert!(out.status.success());
    let help = words(out.stdout);
    for part in [
        "--data",
        "--format",
        "[default: csv]",
        "json",
        "--processes",
    ] {
        assert!(help.contains(part), "dump --help lacks {part:?}:\n{help}");
    }
}

// ---- Latency targets: only servers on 127.0.0.1, never --net auto. ----

#[test]
fn malformed_targets_get_one_line_and_status_2() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path().to_str().unwrap();
    for (target, why) in [
        ("=http://127.0.0.1/", "name is missing"),
        ("x=ftp://127.0.0.1/", "unknown scheme"),
        ("x=tcp://127.0.0.1:99999", "bad port"),
        ("x=tcp://127.0.0.1", "port is missing"),
        ("x=http://", "host is empty"),
        ("x=icmp://", "host is empty"),
        ("just-a-name", "NAME=URL"),
    ] {
        let args = ["record", "--data", d, "--target", target];
        assert_bad_input(&args, &format!("'{target}'"));
        assert_bad_input(&args, why);
    }
    assert_bad_input(
        &["record", "--data", d, "--probe-timeout", "0s"],
        "more than zero",
    );
    assert_bad_input(
        &["record", "--data", d, "--net", "everything"],
        "'everything'",
    );
    // Two targets with one name.
    assert_bad_input(
        &[
            "record",
            "--data",
            d,
            "--duration",
            "1s",
            "--target",
            "a=tcp://127.0.0.1:9",
            "--target",
            "a=icmp://127.0.0.1",
        ],
        "used by another target",
    );
}

#[test]
fn without_targets_record_says_once_that_no_latency_is_recorded() {
    let dir = tempfile::tempdir().unwrap();
    let stderr = record(dir.path(), &["--duration", "1s", "--interval", "500ms"]);
    assert_eq!(stderr.matches("no latency targets").count(), 1, "{stderr}");
    assert!(
        stderr.contains("--net auto"),
        "the hint is missing: {stderr}"
    );
}

#[test]
fn unreachable_targets_are_data_not_errors() {
    use std::io::{Read, Write};
    use std::net::TcpListener;

    let server = TcpListener::bind("127.0.0.1:0").unwrap();
    let web = server.local_addr().unwrap().port();
    thread::spawn(move || {
        for mut s in server.incoming().flatten() {
            let mut buf = [0u8; 1024];
            let _ = s.read(&mut buf);
            let _ = s.write_all(b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n");
        }
    });
    let closed = TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let dir = tempfile::tempdir().unwrap();
    let web_target = format!("web=http://127.0.0.1:{web}/");
    let closed_target = format!("closed=tcp://127.0.0.1:{closed}");
    let stderr = record(
        dir.path(),
        &[
            "--duration",
            "3s",
            "--interval",
            "1s",
            "--probe-interval",
            "500ms",
            "--probe-timeout",
            "1s",
            "--target",
            &web_target,
            "--target",
            &closed_target,
        ],
    );
    assert!(
        stderr.contains("probing 2 targets every 500ms (timeout 1s)"),
        "{stderr}"
    );
    assert!(!stderr.contains("no latency targets"), "{stderr}");
    // The refusing target is logged once, when it starts failing, not at every probe.
    assert_eq!(
        stderr.matches("target closed failed (refused)").count(),
        1,
        "{stderr}"
    );
    assert!(!stderr.contains("target web failed"), "{stderr}");

    // dump --latency: one row per probe, the refused ones recorded as data with no latency figure.
    let rows = parse_csv(&dump(dir.path(), &["--latency"]));
    assert_eq!(
        rows[0],
        [
            "ts",
            "host",
            "target",
            "outcome",
            "http_status",
            "message",
            "dns_ms",
            "connect_ms",
            "tls_ms",
            "first_byte_ms",
            "total_ms"
        ]
    );
    let web: Vec<_> = rows[1..].iter().filter(|r| r[2] == "web").collect();
    let closed: Vec<_> = rows[1..].iter().filter(|r| r[2] == "closed").collect();
    assert!(web.len() >= 3 && closed.len() >= 3, "{rows:?}");
    for r in &web {
        assert_eq!(r[3], "ok", "{r:?}");
        let total: f64 = r[10].parse().unwrap();
        assert!(total > 0.0 && total < 1000.0, "{r:?}");
    }
    for r in &closed {
        assert_eq!((r[3].as_str(), r[10].as_str()), ("refused", ""), "{r:?}");
    }
    // The same in JSON Lines.
    let json = json_lines(&dump(dir.path(), &["--latency", "--format", "json"]));
    assert_eq!(json.len(), rows.len() - 1);
    assert!(
        json.iter().any(|v| v["target"] == "closed"
            && v["outcome"] == "refused"
            && v["total_ms"].is_null())
    );
}

#[test]
fn help_explains_the_latency_flags() {
    let out = stabmon().args(["record", "--help"]).output().unwrap();
    assert!(out.status.success());
    let help = String::from_utf8(out.stdout)
        .unwrap()
        .split_whitespace()
        .collect::<Vec<_>>()
        .join(" ");
    for part in [
        "--target <NAME=URL>",
        "icmp://host",
        "dns://name@host[:port]",
        "--net <PRESET>",
        "default gateway",
        "--probe-interval",
        "[default: the --interval]",
        "--probe-timeout",
        "[default: 5s]",
    ] {
        assert!(help.contains(part), "record --help lacks {part:?}:\n{help}");
    }
    let out = stabmon().args(["dump", "--help"]).output().unwrap();
    let help = String::from_utf8(out.stdout).unwrap();
    assert!(help.contains("--latency"), "{help}");
}

/// A store with two hours of synthetic samples (host `web-1`, from 2026-11-25T00:00:00Z) in which `xmrig` burns
/// two cores from 00:30 to 00:40.
fn synthetic_store(dir: &Path) {
    use stabmon_core::Timestamp;
    use stabmon_core::synth::Synth;
    let start = Timestamp::from_unix_secs(1_795_564_800);
    let at = |s: u64| start.saturating_add(Duration::from_secs(s));
    let samples = Synth::new(start, Duration::from_secs(1))
        .count(7200)
        .host("web-1")
        .cpu_hog(
            "xmrig",
            "./xmrig -o pool.example:3333",
            at(1800),
            at(2400),
            190.0,
        )
        .generate();
    let mut w = stabmon_store::StoreWriter::create(dir).unwrap();
    for s in &samples {
        w.write(s).unwrap();
    }
    w.finish().unwrap();
}

#[test]
fn report_writes_a_page_naming_the_culprit() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    synthetic_store(&data);
    let html = dir.path().join("out.html");
    let out = stabmon()
        .args(["report", "--data"])
        .arg(&data)
        .args([
            "--from",
            "2026-11-25T00:15:00Z",
            "--to",
            "2026-11-25T01:00:00Z",
            "-o",
        ])
        .arg(&html)
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stderr}");
    assert!(stderr.contains("2700 samples of web-1"), "{stderr}");
    assert!(stderr.contains("1 incident"), "{stderr}");
    let page = std::fs::read_to_string(&html).unwrap();
    assert!(page.starts_with("<!DOCTYPE html>"));
    assert!(page.contains("\">xmrig (pid "), "no culprit label");
    assert!(page.contains("<code>./xmrig -o pool.example:3333</code>"));

    // Without --from/--to: the last 24 hours of data, which here is all of it.
    let out = stabmon()
        .current_dir(dir.path())
        .args(["report", "--data"])
        .arg(&data)
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stderr}");
    assert!(
        stderr.contains("wrote report.html") && stderr.contains("7200 samples"),
        "{stderr}"
    );
    assert!(dir.path().join("report.html").is_file());
}

#[test]
fn report_without_data_in_range_says_what_the_data_covers() {
    let dir = tempfile::tempdir().unwrap();
    synthetic_store(dir.path());
    let html = dir.path().join("none.html");
    let out = stabmon()
        .args(["report", "--data"])
        .arg(dir.path())
        .args([
            "--from",
            "2026-11-26T00:00:00Z",
            "--to",
            "2026-11-26T01:00:00Z",
            "-o",
        ])
        .arg(&html)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("no samples from 2026-11-26T00:00:00Z to 2026-11-26T01:00:00Z")
            && stderr.contains("covers 2026-11-25T00:00:00Z to 2026-11-25T01:59:59Z"),
        "{stderr}"
    );
    assert!(!html.exists(), "a report was written for an empty range");

    // Bad times and a bad host are usage errors (exit 2) that name the input.
    let out = stabmon()
        .args(["report", "--data"])
        .arg(dir.path())
        .args(["--from", "soonish"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("--from: cannot read the time \"soonish\""),
        "{stderr}"
    );
    let out = stabmon()
        .args(["report", "--data"])
        .arg(dir.path())
        .args(["--host", "db-9"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("no data for host \"db-9\""));
}

/// A process that names itself with terminal control sequences cannot drive the terminal of whoever reads the
/// answers: `incidents` and `top` print its name without a control character (`dump` exports the data as it is,
/// quoted as CSV or JSON), and a warning names a file named likewise without one.
#[test]
fn a_hostile_process_name_reaches_the_terminal_without_control_characters() {
    use stabmon_core::Timestamp;
    use stabmon_core::synth::Synth;
    let dir = tempfile::tempdir().unwrap();
    let start = Timestamp::from_unix_secs(1_795_564_800);
    let at = |s: u64| start.saturating_add(Duration::from_secs(s));
    let hostile = "evil\x1b]0;pwned\x07\x1b[2J\r\x08";
    let samples = Synth::new(start, Duration::from_secs(1))
        .count(3600)
        .host("web-1")
        .cpu_hog(
            hostile,
            format!("./{hostile} --now"),
            at(1800),
            at(2400),
            190.0,
        )
        .generate();
    let mut w = stabmon_store::StoreWriter::create(dir.path()).unwrap();
    for s in &samples {
        w.write(s).unwrap();
    }
    w.finish().unwrap();
    // A file named likewise, which the warning names.
    let journals = dir.path().join("_journal/host=web-1");
    std::fs::create_dir_all(&journals).unwrap();
    std::fs::write(journals.join(format!("{hostile}.journal")), b"garbage").unwrap();
    for args in [&["incidents"][..], &["top"], &["top", "--by", "memory"]] {
        let out = stabmon()
            .args(args)
            .arg("--data")
            .arg(dir.path())
            .output()
            .unwrap();
        let (stdout, stderr) = (
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr),
        );
        assert_eq!(out.status.code(), Some(0), "{args:?}: {stdout}");
        assert!(stdout.contains("evil"), "{args:?}: {stdout}");
        assert!(stderr.contains("evil"), "{args:?}: {stderr}");
        for text in [&stdout, &stderr] {
            let bad: Vec<char> = text
                .chars()
                .filter(|c| c.is_control() && *c != '\n')
                .collect();
            assert!(bad.is_empty(), "{args:?}: {bad:?} in {text:?}");
        }
    }
}

/// A damaged segment in the middle of the range is skipped with one warning naming it once, by each command that
/// reads it (`report` and `incidents` read it for their columns and again for their windows), the rest is read,
/// and the hole it leaves is not blamed on the recorder.
#[test]
fn a_damaged_segment_is_one_warning_in_every_command() {
    use stabmon_core::Timestamp;
    use stabmon_core::synth::Synth;
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    // Three days at one minute: a segment a day.
    let start = Timestamp::from_unix_secs(1_795_478_400);
    let samples = Synth::new(start, Duration::from_secs(60))
        .count(3 * 1440)
        .host("web-1")
        .generate();
    let mut w = stabmon_store::StoreWriter::create(&data).unwrap();
    for s in &samples {
        w.write(s).unwrap();
    }
    w.finish().unwrap();
    let middle = data.join("samples/host=web-1/date=2026-11-25/20261125T000000Z.parquet");
    assert!(middle.is_file(), "{}", middle.display());
    std::fs::write(&middle, b"PAR1 this is not parquet PAR1").unwrap();
    let shown = middle.display().to_string();
    let range = [
        "--from",
        "2026-11-24T00:00:00Z",
        "--to",
        "2026-11-27T00:00:00Z",
    ];
    let html = dir.path().join("out.html");
    let html = html.to_str().unwrap();
    for args in [
        &["report", "-o", html][..],
        &["incidents"],
        &["incidents", "--json"],
        &["top"],
        &["dump"],
    ] {
        let out = stabmon()
            .args(args)
            .arg("--data")
            .arg(&data)
            .args(range)
            .output()
            .unwrap();
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(0), "{args:?}: {stderr}");
        let warnings: Vec<&str> = stderr.lines().filter(|l| l.contains("warning")).collect();
        assert_eq!(warnings.len(), 1, "{args:?}: {stderr}");
        assert_eq!(warnings[0].matches(&shown).count(), 1, "{args:?}: {stderr}");
    }
    // The page names the file too, where its gap panel says the warnings do.
    let page = std::fs::read_to_string(html).unwrap();
    let notice = page
        .split("<div class=\"warnings\"")
        .nth(1)
        .and_then(|n| n.split("</div>").next())
        .expect("no notice of the skipped file on the page");
    assert!(notice.contains(&shown), "{notice}");
    assert!(
        page.contains("gap: data unreadable"),
        "no unreadable gap on the page"
    );
    // The day left out is a gap of unreadable data, not a recorder that died.
    let out = stabmon()
        .args(["incidents", "--json", "--data"])
        .arg(&data)
        .args(range)
        .output()
        .unwrap();
    let json: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let gaps: Vec<(&str, &str)> = json["incidents"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|i| i["kind"] == "gap")
        .map(|i| {
            (
                i["gap_kind"].as_str().unwrap(),
                i["start"].as_str().unwrap(),
            )
        })
        .collect();
    assert_eq!(gaps, [("unreadable", "2026-11-24T23:59:00Z")], "{json:#}");
}

/// Without a range, the report covers the last day of data ending at the newest sample and starting no earlier
/// than the oldest: two hours of data fill the chart instead of being a sliver at the right of a 24-hour axis.
#[test]
fn report_without_a_range_fills_the_chart_with_the_data() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    synthetic_store(&data);
    let html = dir.path().join("out.html");
    let out = stabmon()
        .args(["report", "--data"])
        .arg(&data)
        .arg("-o")
        .arg(&html)
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stderr}");
    assert!(
        stderr.contains("7200 samples of web-1 from 2026-11-25T00:00:00Z to 2026-11-25T01:59:59"),
        "{stderr}"
    );
    let page = std::fs::read_to_string(&html).unwrap();
    let span = page.split("\"span\":").nth(1).unwrap();
    let span_ms: i64 = span[..span.find(|c: char| !c.is_ascii_digit()).unwrap()]
        .parse()
        .unwrap();
    assert!(
        (7_199_000..=7_200_000).contains(&span_ms),
        "span {span_ms} ms"
    );
}

/// A recorder that may not read the kernel log (an unprivileged user where `kernel.dmesg_restrict=1`) says so in one
/// line at start, with what it needs, and records anyway.
#[cfg(target_os = "linux")]
#[test]
fn a_refused_kernel_log_is_one_line_at_start() {
    let restricted =
        std::fs::read_to_string("/proc/sys/kernel/dmesg_restrict").is_ok_and(|v| v.trim() == "1");
    let setpriv = Path::new("/usr/bin/setpriv");
    // SAFETY: geteuid has no preconditions.
    let root = unsafe { libc::geteuid() } == 0;
    if !(restricted && root && setpriv.exists()) {
        eprintln!(
            "SKIPPED: needs root, /usr/bin/setpriv and kernel.dmesg_restrict=1 to run the recorder as a user the \
             kernel refuses the log to"
        );
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    std::fs::create_dir(&data).unwrap();
    std::fs::set_permissions(&data, std::os::unix::fs::PermissionsExt::from_mode(0o777)).unwrap();
    let out = StdCommand::new(setpriv)
        .args(["--reuid=65534", "--regid=65534", "--clear-groups"])
        .arg(assert_cmd::cargo::cargo_bin("stabmon"))
        .args(["record", "--duration", "2s", "--data"])
        .arg(&data)
        .env_remove("STABMON_DATA")
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{err}");
    let lines: Vec<&str> = err.lines().filter(|l| l.contains("kernel log")).collect();
    assert_eq!(lines.len(), 1, "{err}");
    assert!(
        lines[0].contains("/dev/kmsg") && lines[0].contains("CAP_SYSLOG"),
        "{}",
        lines[0]
    );
}

/// The committed schema-7 store: `top --by unit` adds up the listed processes per systemd unit or container, and
/// `incidents` names the OOM victim the kernel log named, with its unit.
#[test]
fn top_by_unit_and_the_kernels_oom_victim_from_a_schema_7_store() {
    let fixture =
        Path::new(env!("CARGO_MANIFEST_DIR")).join("../stabmon-store/tests/fixtures/store-v7");
    let json_of = |args: &[&str]| -> Value {
        let out = stabmon()
            .args(args)
            .args(["--json", "--host", "nas", "--data"])
            .arg(&fixture)
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        serde_json::from_slice(&out.stdout).unwrap()
    };
    let v = json_of(&["top", "--by", "unit"]);
    assert_eq!(v["by"], "unit");
    let units: Vec<(&str, f64)> = v["units"]
        .as_array()
        .unwrap()
        .iter()
        .map(|u| {
            (
                u["unit"].as_str().unwrap_or("-"),
                u["cpu_seconds"].as_f64().unwrap(),
            )
        })
        .collect();
    assert_eq!(
        units.iter().map(|u| u.0).collect::<Vec<_>>(),
        ["transcode.service", "docker:ab12ab12ab12"]
    );
    // ffmpeg at 187 % over three intervals of 1.00025 s.
    assert!(
        (units[0].1 - 3.0 * 1.870 * 1.000_25).abs() < 1e-3,
        "{units:?}"
    );
    let v = json_of(&["incidents"]);
    let oom = &v["incidents"][0];
    assert_eq!(oom["kind"], "oom_kill");
    let c = &oom["culprit"];
    assert_eq!(
        (&c["name"], &c["pid"], &c["guessed"], &c["unit"]),
        (
            &Value::from("convert"),
            &Value::from(977),
            &Value::from(false),
            &Value::from("transcode.service")
        )
    );
    assert_eq!(c["anon_rss_bytes"], 1_834_012u64 * 1024);
}
