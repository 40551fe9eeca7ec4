//! The terminal commands (`incidents`, `top`), the shared data flags and `record --config`, run through the real
//! `stabmon` binary on synthetic data with known incidents.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::path::Path;
use std::time::Duration;

use assert_cmd::Command;
use serde_json::Value;
use stabmon_core::Timestamp;
use stabmon_core::synth::Synth;

/// 2026-11-25T00:00:00Z.
const T0: i64 = 1_795_564_800;

fn at(s: u64) -> Timestamp {
    Timestamp::from_unix_secs(T0).saturating_add(Duration::from_secs(s))
}

fn stabmon() -> Command {
    let mut cmd = Command::cargo_bin("stabmon").unwrap();
    cmd.env_remove("STABMON_DATA")
        .env_remove("STABMON_TOKEN")
        .env_remove("STABMON_CONFIG")
        .env("TZ", "UTC")
        .env("NO_COLOR", "1")
        .timeout(Duration::from_secs(120));
    cmd
}

fn write(dir: &Path, samples: &[stabmon_core::Sample]) {
    let mut w = stabmon_store::StoreWriter::create(dir).unwrap();
    for s in samples {
        w.write(s).unwrap();
    }
    w.finish().unwrap();
}

/// An hour of `web-1` at 1 s: `xmrig` burns 1.9 cores from 00:20 to 00:30, and the recorder is gone from 00:40 to
/// 00:45.
fn fixture(dir: &Path) {
    let samples = Synth::new(at(0), Duration::from_secs(1))
        .count(3600)
        .processes(80)
        .host("web-1")
        .cpu_hog(
            "xmrig",
            "./xmrig -o pool.example:3333",
            at(1200),
            at(1800),
            190.0,
        )
        .gap(at(2400), at(2700))
        .generate();
    write(dir, &samples);
}

struct Out {
    code: Option<i32>,
    stdout: String,
    stderr: String,
}

fn run(args: &[&str], data: &Path) -> Out {
    let out = stabmon()
        .args(args)
        .arg("--data")
        .arg(data)
        .output()
        .unwrap();
    Out {
        code: out.status.code(),
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    }
}

fn secs(v: &Value) -> i64 {
    let s = v.as_str().unwrap();
    s.parse::<jiff::Timestamp>().unwrap().as_second()
}

#[test]
fn incidents_name_the_hog_and_the_gap() {
    let dir = tempfile::tempdir().unwrap();
    fixture(dir.path());

    let out = run(&["incidents", "--json"], dir.path());
    assert_eq!(out.code, Some(0), "{}", out.stderr);
    assert!(
        out.stderr.is_empty(),
        "no progress bar off a terminal: {}",
        out.stderr
    );
    let doc: Value = serde_json::from_str(&out.stdout).unwrap();
    assert_eq!(doc["host"], "web-1");
    assert_eq!(doc["samples"], 3300);
    let list = doc["incidents"].as_array().unwrap();
    assert_eq!(list.len(), 2, "{list:#?}");
    let (surge, gap) = (&list[0], &list[1]);
    assert_eq!(surge["kind"], "cpu_surge");
    assert!(surge["gap_kind"].is_null());
    assert!(
        (secs(&surge["start"]) - (T0 + 1200)).abs() <= 5,
        "{}",
        surge["start"]
    );
    let d = surge["duration_secs"].as_f64().unwrap();
    assert!((590.0..=610.0).contains(&d), "{d}");
    assert_eq!(surge["magnitude_unit"], "percent");
    assert!(surge["magnitude"].as_f64().unwrap() > 40.0);
    let c = &surge["culprit"];
    assert_eq!(c["name"], "xmrig");
    assert!(c["pid"].as_u64().unwrap() > 0);
    assert_eq!(c["cmdline"], "./xmrig -o pool.example:3333");
    assert!(c["cpu_pct"].as_f64().unwrap() > 150.0, "{c}");
    // The gap, newest last: the last sample before it and the first after.
    assert_eq!(gap["kind"], "gap");
    assert_eq!(gap["gap_kind"], "died");
    assert_eq!(secs(&gap["start"]), T0 + 2399);
    assert_eq!(secs(&gap["end"]), T0 + 2700);
    assert_eq!(gap["duration_secs"].as_f64(), Some(301.0));
    assert!(gap["culprit"].is_null());

    // The table: fits 80 columns, names the culprit and the gap, in the time zone said (TZ=UTC), no colour.
    let out = stabmon()
        .env("COLUMNS", "80")
        .args(["incidents", "--data"])
        .arg(dir.path())
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success());
    let lines: Vec<&str> = text.lines().collect();
    assert!(lines[0].starts_with("2 incidents for web-1"), "{text}");
    assert!(lines[1].starts_with("START"), "{text}");
    for l in &lines[1..] {
        assert!(l.chars().count() <= 80, "wider than 80: {l:?}");
    }
    assert!(lines[2].starts_with("2026-11-25 00:20:0"), "{text}");
    assert!(
        lines[2].contains("CPU surge") && lines[2].contains("xmrig (pid"),
        "{text}"
    );
    assert!(lines[3].starts_with("2026-11-25 00:39:59") && lines[3].contains("gap: died"));
    assert!(!text.contains('\x1b'), "colour off a terminal: {text:?}");

    // A range around the hog only: the gap is outside.
    let out = run(
        &[
            "incidents",
            "--json",
            "--at",
            "2026-11-25T00:25:00Z",
            "--window",
            "20m",
        ],
        dir.path(),
    );
    let doc: Value = serde_json::from_str(&out.stdout).unwrap();
    let kinds: Vec<&str> = doc["incidents"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| i["kind"].as_str().unwrap())
        .collect();
    assert_eq!(kinds, ["cpu_surge"]);
    assert_eq!(doc["from"], "2026-11-25T00:15:00Z");
    assert_eq!(doc["to"], "2026-11-25T00:35:00Z");
}

#[test]
fn top_answers_which_process_used_the_most_at_a_time() {
    let dir = tempfile::tempdir().unwrap();
    fixture(dir.path());

    let out = run(
        &[
            "top",
            "--json",
            "--at",
            "2026-11-25T00:25:00Z",
            "--window",
            "5m",
        ],
        dir.path(),
    );
    assert_eq!(out.code, Some(0), "{}", out.stderr);
    let doc: Value = serde_json::from_str(&out.stdout).unwrap();
    assert_eq!(doc["samples"], 300);
    assert_eq!(doc["by"], "cpu");
    let names = doc["names"].as_array().unwrap();
    let first = &names[0];
    assert_eq!(first["name"], "xmrig");
    // 1.9 cores for 300 s.
    let cpu = first["cpu_seconds"].as_f64().unwrap();
    assert!((540.0..=600.0).contains(&cpu), "{cpu}");
    assert!(first["cpu_seconds_max"].as_f64().unwrap() >= cpu);
    let avg = first["avg_cpu_pct"].as_f64().unwrap();
    assert!((180.0..=200.0).contains(&avg), "{avg}");
    assert_eq!(first["pids"][0]["cmdline"], "./xmrig -o pool.example:3333");
    // Ranked by CPU seconds.
    let cpus: Vec<f64> = names
        .iter()
        .map(|n| n["cpu_seconds"].as_f64().unwrap())
        .collect();
    assert!(cpus.windows(2).all(|w| w[0] >= w[1]), "{cpus:?}");
    assert!(names.len() <= 15);

    // Before the hog it is nowhere.
    let out = run(
        &[
            "top",
            "--json",
            "--from",
            "2026-11-25T00:00:00Z",
            "--to",
            "2026-11-25T00:10:00Z",
            "--limit",
            "0",
        ],
        dir.path(),
    );
    let doc: Value = serde_json::from_str(&out.stdout).unwrap();
    assert!(
        doc["names"]
            .as_array()
            .unwrap()
            .iter()
            .all(|n| n["name"] != "xmrig"),
        "{doc}"
    );

    // By memory: ranked by peak resident memory.
    let out = run(&["top", "--json", "--by", "memory"], dir.path());
    let doc: Value = serde_json::from_str(&out.stdout).unwrap();
    let peaks: Vec<u64> = doc["names"]
        .as_array()
        .unwrap()
        .iter()
        .map(|n| n["peak_rss_bytes"].as_u64().unwrap())
        .collect();
    assert!(
        peaks.len() > 1 && peaks.windows(2).all(|w| w[0] >= w[1]),
        "{peaks:?}"
    );

    // The table fits the width given.
    let out = stabmon()
        .env("COLUMNS", "60")
        .args(["top", "--at", "2026-11-25T00:25:00Z", "--data"])
        .arg(dir.path())
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success());
    let lines: Vec<&str> = text.lines().collect();
    assert!(
        lines[1].trim_start().starts_with('#') && lines[2].contains("xmrig"),
        "{text}"
    );
    for l in &lines[1..] {
        assert!(l.chars().count() <= 60, "wider than 60: {l:?}");
    }
}

#[test]
fn range_flags_conflict_or_apply() {
    let dir = tempfile::tempdir().unwrap();
    fixture(dir.path());
    for bad in [
        &["incidents", "--since", "1h", "--from", "00:00"][..],
        &["top", "--at", "00:10", "--to", "00:20"],
        &["dump", "--window", "5m"],
        &["report", "--since", "1h", "--at", "00:10"],
    ] {
        let out = run(bad, dir.path());
        assert_eq!(out.code, Some(2), "{bad:?}: {}", out.stderr);
        assert_eq!(
            out.stderr.trim().lines().count(),
            1,
            "{bad:?}: {}",
            out.stderr
        );
        assert!(out.stderr.starts_with("stabmon: error:"), "{}", out.stderr);
    }
    let out = run(&["top", "--at", "soonish"], dir.path());
    assert_eq!(out.code, Some(2));
    assert!(
        out.stderr
            .contains("--at: cannot read the time \"soonish\""),
        "{}",
        out.stderr
    );

    // dump takes the same range: --at/--window.
    let out = run(
        &["dump", "--at", "2026-11-25T00:10:00Z", "--window", "1m"],
        dir.path(),
    );
    assert_eq!(out.code, Some(0), "{}", out.stderr);
    assert_eq!(out.stdout.lines().count(), 1 + 60, "header and 60 rows");
    assert!(
        out.stdout
            .lines()
            .nth(1)
            .unwrap()
            .starts_with("2026-11-25T00:09:30")
    );

    // --since counts back from now: samples of the last 10 minutes (at 10 s) of a store ending now.
    let now = jiff::Timestamp::now().as_second();
    let recent = tempfile::tempdir().unwrap();
    let start = Timestamp::from_unix_secs(now - 3600);
    write(
        recent.path(),
        &Synth::new(start, Duration::from_secs(10))
            .count(360)
            .processes(20)
            .host("db-1")
            .generate(),
    );
    let out = run(&["dump", "--since", "10m"], recent.path());
    assert_eq!(out.code, Some(0), "{}", out.stderr);
    let rows = out.stdout.lines().count() - 1;
    assert!((59..=61).contains(&rows), "{rows} rows");
}

#[test]
fn several_hosts_need_a_host_and_the_error_lists_them() {
    let dir = tempfile::tempdir().unwrap();
    for host in ["web-1", "db-1"] {
        let s = Synth::new(at(0), Duration::from_secs(1))
            .count(30)
            .processes(20)
            .host(host)
            .generate();
        write(dir.path(), &s);
    }
    for cmd in ["incidents", "top", "report"] {
        let out = run(&[cmd], dir.path());
        assert_eq!(out.code, Some(2), "{cmd}: {}", out.stderr);
        assert!(
            out.stderr.contains("several hosts (db-1, web-1)") && out.stderr.contains("--host"),
            "{cmd}: {}",
            out.stderr
        );
    }
    let out = run(&["top", "--json", "--host", "db-1"], dir.path());
    assert_eq!(out.code, Some(0), "{}", out.stderr);
    assert_eq!(
        serde_json::from_str::<Value>(&out.stdout).unwrap()["host"],
        "db-1"
    );
    // dump prints every host without --host.
    let out = run(&["dump"], dir.path());
    assert_eq!(out.code, Some(0), "{}", out.stderr);
    assert_eq!(out.stdout.lines().count(), 1 + 60);
}

fn record_with(config: &Path, extra: &[&str]) -> Out {
    let out = stabmon()
        .args(["record", "--config"])
        .arg(config)
        .args(extra)
        .output()
        .unwrap();
    Out {
        code: out.status.code(),
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    }
}

#[test]
fn config_file_values_apply_and_flags_override_them() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let cfg = dir.path().join("stabmon.toml");
    std::fs::write(
        &cfg,
        format!(
            "data = {:?}\ninterval = \"250ms\"\ntop = 3\ncpu_floor = 1.5\nduration = \"1s\"\nno_cmdline = true\nsampler = \"sysinfo\"\n\
             retain = \"7d\"\nmax_disk = \"1GB\"\nsync = \"0\"\nrotate = \"1h\"\nprobe_timeout = \"2s\"\ntargets = []\n",
            data.to_str().unwrap()
        ),
    )
    .unwrap();
    let out = record_with(&cfg, &[]);
    assert_eq!(out.code, Some(0), "{}", out.stderr);
    assert!(
        out.stderr
            .contains("interval 250ms, top 3 (by CPU from 1.5% of a core), command lines off")
            && out.stderr.contains(data.to_str().unwrap()),
        "{}",
        out.stderr
    );
    assert!(data.is_dir());
    // Flags win over the file.
    let out = record_with(
        &cfg,
        &["--top", "5", "--interval", "500ms", "--cpu-floor", "0%"],
    );
    assert_eq!(out.code, Some(0), "{}", out.stderr);
    assert!(
        out.stderr
            .contains("interval 500ms, top 5 (by CPU from 0% of a core), command lines off"),
        "{}",
        out.stderr
    );
    let _ = out.stdout;

    // Bad files: one line, exit 2, naming the file and the key.
    let shown = cfg.display().to_string();
    for (text, want) in [
        ("intervall = \"1s\"\n", "unknown key `intervall`"),
        ("interval = \"0s\"\n", "key `interval`"),
        ("top = 5000\n", "key `top`"),
        ("cpu_floor = -1\n", "key `cpu_floor`"),
        ("cpu_floor = true\n", "key `cpu_floor`"),
        ("top = 3.0\n", "key `top`"),
        ("no_cmdline = \"yes\"\n", "key `no_cmdline`"),
        ("targets = [\"x=ftp://h\"]\n", "key `targets`"),
        ("interval = \n", "line 1"),
    ] {
        std::fs::write(&cfg, text).unwrap();
        let out = record_with(&cfg, &[]);
        assert_eq!(out.code, Some(2), "{text}: {}", out.stderr);
        assert!(
            out.stderr.contains(&shown) && out.stderr.contains(want),
            "{text}: {}",
            out.stderr
        );
        assert_eq!(out.stderr.trim().lines().count(), 1, "{}", out.stderr);
    }
    // The shipped example is a valid config.
    let shipped = Path::new(env!("CARGO_MANIFEST_DIR")).join("../dist/stabmon.toml");
    let other = dir.path().join("other");
    let out = record_with(
        &shipped,
        &["--data", other.to_str().unwrap(), "--duration", "1s"],
    );
    assert_eq!(out.code, Some(0), "{}", out.stderr);
    assert!(
        out.stderr
            .contains("interval 1s, top 10 (by CPU from 2.5% of a core)"),
        "{}",
        out.stderr
    );

    let out = record_with(&dir.path().join("missing.toml"), &[]);
    assert_eq!(out.code, Some(2));
    assert!(out.stderr.contains("missing.toml"), "{}", out.stderr);
}
