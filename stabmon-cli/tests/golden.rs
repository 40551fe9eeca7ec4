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
    let path = golden(name);
    if std::env::var_os("STABMON_BLESS").is_some() {
        std::fs::write(&path, got).unwrap();
        return;
    }
    let want = std::fs::read_to_string(&path)
        .unwrap_or_else(|e| panic!("{}: {e} (STABMON_BLESS=1 writes it)", path.display()));
    if want != got {
        let diff: Vec<String> = want
            .lines()
            .zip(got.lines())
            .enumerate()
            .filter(|(_, (a, b))| a != b)
            .take(5)
            .map(|(i, (a, b))| format!("line {}:\n  want {a}\n  got  {b}", i + 1))
            .collect();
        panic!(
            "{} differs ({} lines wanted, {} got):\n{}",
            path.display(),
            want.lines().count(),
            got.lines().count(),
            diff.join("\n")
        );
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

/// The spike labels of a report page, one line each: chart, incident index and the label's text.
fn labels(html: &str) -> String {
    let mut out = String::new();
    for (chart, svg) in html.split("<svg class=\"chart\"").skip(1).enumerate() {
        for g in svg.split("<g class=\"inc ").skip(1) {
            let i = g
                .split("data-i=\"")
                .nth(1)
                .and_then(|r| r.split('"').next())
                .unwrap_or("?");
            let between = |open: &str, close: &str| {
                g.split(open)
                    .nth(1)
                    .and_then(|r| r.split_once('>'))
                    .and_then(|(_, r)| r.split(close).next())
                    .unwrap_or_default()
                    .to_string()
            };
            let text = format!(
                "{} | {}",
                between("<text ", "</text>"),
                between("<title", "</title>")
            );
            out.push_str(&format!("chart {chart} incident {i}: {}\n", text.trim()));
        }
    }
    out
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
        &(serde_json::to_string_pretty(&json).unwrap() + "\n"),
    );

    let html = dir.path().join("day.html");
    run_ok(
        &[
            &["report", "--data", data, "-o", html.to_str().unwrap()][..],
            &range,
        ]
        .concat(),
    );
    let labels = labels(&std::fs::read_to_string(&html).unwrap());
    assert!(labels.contains("xmrig (pid"), "{labels}");
    check("day-labels.txt", &labels);
}
