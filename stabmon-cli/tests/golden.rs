//! Golden answers: `stabmon incidents --json` and the report's spike labels for a synthetic day with every kind of
//! incident, compared with files committed under `tests/golden/`. They pin what users are told, so that a change
//! in how data is read (or a schema change) that moves an incident, a culprit or a label fails here.
//!
//! `STABMON_BLESS=1 cargo test -p stabmon-cli --test golden` rewrites the files from the current build; review the
//! diff before committing it.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::path::{Path, PathBuf};
use std::time::Duration;

use assert_cmd::Command;
use stabmon_benches::golden;
use stabmon_core::Timestamp;
use stabmon_core::synth::Synth;

/// 2026-11-25T00:00:00Z.
const T0: i64 = 1_795_564_800;

fn at(s: u64) -> Timestamp {
    Timestamp::from_unix_secs(T0).saturating_add(Duration::from_secs(s))
}

/// A day of `golden-1` at 2 s with top 10 and two latency targets: CPU hogs, a worker storm, a memory leak ending
/// in an OOM kill, a swap climb, a crash gap, a reboot, a latency spike and an outage.
fn synthetic_day() -> Synth {
    Synth::new(at(0), Duration::from_secs(2))
        .count(43_200)
        .processes(120)
        .host("golden-1")
        .top_n(10)
        .seed(14)
        .latency_target("router", 2.0, 0.5)
        .latency_target("web", 40.0, 6.0)
        .cpu_hog(
            "xmrig",
            "./xmrig -o pool:3333",
            at(3 * 3600),
            at(3 * 3600 + 600),
            190.0,
        )
        .cpu_hog(
            "ffmpeg",
            "/usr/bin/ffmpeg -i in.mkv out.mp4",
            at(15 * 3600),
            at(15 * 3600 + 420),
            150.0,
        )
        .worker_storm(
            "php-fpm",
            "php-fpm: pool www",
            at(11 * 3600),
            at(11 * 3600 + 300),
            12,
            15.0,
            Duration::from_secs(4),
        )
        .memory_leak(
            "java",
            "java -jar leaky.jar",
            at(8 * 3600),
            at(9 * 3600),
            3_000_000,
        )
        .swap_climb(at(20 * 3600), at(20 * 3600 + 1800), 200_000)
        .gap(at(6 * 3600), at(6 * 3600 + 240))
        .reboot(at(18 * 3600))
        .latency_spike("router", at(13 * 3600), at(13 * 3600 + 60), 1500.0)
        .latency_outage("web", at(22 * 3600), at(22 * 3600 + 120))
}

fn write_store(dir: &Path) {
    let mut w = stabmon_store::StoreWriter::create(dir).unwrap();
    for s in synthetic_day().iter() {
        w.write(&s).unwrap();
    }
    w.finish().unwrap();
}

fn stabmon() -> Command {
    let mut cmd = Command::cargo_bin("stabmon").unwrap();
    cmd.env_remove("STABMON_DATA")
        .env_remove("STABMON_TOKEN")
        .env_remove("STABMON_CONFIG")
        .env("TZ", "UTC")
        .env("NO_COLOR", "1")
        .timeout(Duration::from_secs(300));
    cmd
}

fn golden(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/golden")
        .join(name)
}

/// Compares `got` with the golden file `name`, or writes it under `STABMON_BLESS=1`.
fn check(name: &str, got: &str) {
    if let Err(e) = golden::compare(&golden(name), got, golden::bless_requested()) {
        panic!("{e}");
    }
}

/// Runs `stabmon` with `args`, which must succeed; gives its stdout.
fn run_ok(args: &[&str]) -> Vec<u8> {
    let out = stabmon().args(args).output().unwrap();
    assert_eq!(
        out.status.code(),
        Some(0),
        "stabmon {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    out.stdout
}

#[test]
fn a_synthetic_day_gives_the_golden_incidents_and_labels() {
    let dir = tempfile::tempdir().unwrap();
    write_store(dir.path());
    let range = [
        "--from",
        "2026-11-25T00:00:00Z",
        "--to",
        "2026-11-26T00:00:00Z",
    ];

    let data = dir.path().to_str().unwrap();
    let stdout = run_ok(&[&["incidents", "--json", "--data", data][..], &range].concat());
    let json: serde_json::Value = serde_json::from_slice(&stdout).unwrap();
    assert!(json["incidents"].as_array().unwrap().len() >= 8, "{json:#}");
    check(
        "day-incidents.json",
        &golden::incidents_json(&stdout).unwrap(),
    );

    let html = dir.path().join("day.html");
    run_ok(
        &[
            &["report", "--data", data, "-o", html.to_str().unwrap()][..],
            &range,
        ]
        .concat(),
    );
    let labels = golden::spike_labels(&std::fs::read_to_string(&html).unwrap());
    assert!(labels.contains("xmrig (pid"), "{labels}");
    check("day-labels.txt", &labels);
}
