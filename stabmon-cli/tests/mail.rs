//! `stabmon report --png` and `stabmon mail`: the charts as files, and the mail as a real SMTP server on 127.0.0.1
//! receives it.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::path::Path;
use std::time::Duration;

use assert_cmd::Command;

fn stabmon() -> Command {
    let mut cmd = Command::cargo_bin("stabmon").unwrap();
    cmd.env_remove("STABMON_DATA");
    cmd.env_remove("STABMON_SMTP_PASSWORD");
    cmd
}

/// A store with two hours of synthetic samples (host `web-1`, from 2026-11-25T00:00:00Z) in which a process with a
/// hostile name (`name`, command line `cmdline`) burns two cores from 00:30 to 00:40, plus `extra` short CPU
/// surges of other processes after 01:00.
fn store_with_hog(dir: &Path, name: &str, cmdline: &str, extra: u64) {
    use stabmon_core::Timestamp;
    use stabmon_core::synth::Synth;
    let start = Timestamp::from_unix_secs(1_795_564_800);
    let at = |s: u64| start.saturating_add(Duration::from_secs(s));
    let mut synth = Synth::new(start, Duration::from_secs(1))
        .count(7200)
        .host("web-1")
        .cpu_hog(name, cmdline, at(1800), at(2400), 190.0);
    for k in 0..extra {
        let t = 3700 + k * 60;
        synth = synth.cpu_hog(format!("burst{k}"), "./burst", at(t), at(t + 25), 190.0);
    }
    let samples = synth.generate();
    let mut w = stabmon_store::StoreWriter::create(dir).unwrap();
    for s in &samples {
        w.write(s).unwrap();
    }
    w.finish().unwrap();
}

#[test]
fn report_png_writes_the_charts_alone_or_beside_the_page() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    store_with_hog(&data, "xmrig", "./xmrig -o pool.example:3333", 0);
    let pngs = dir.path().join("charts");
    let out = stabmon()
        .current_dir(dir.path())
        .args(["report", "--data"])
        .arg(&data)
        .arg("--png")
        .arg(&pngs)
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stderr}");
    assert!(stderr.contains("cpu.png, mem.png, load.png in"), "{stderr}");
    for name in ["cpu", "mem", "load"] {
        let bytes = std::fs::read(pngs.join(format!("{name}.png"))).unwrap();
        assert!(bytes.starts_with(b"\x89PNG\r\n\x1a\n"), "{name}");
        let dec = png::Decoder::new(std::io::Cursor::new(bytes))
            .read_info()
            .unwrap();
        assert_eq!(dec.info().width, 600, "{name}");
    }
    // Only the charts were asked for: no page.
    assert!(!dir.path().join("report.html").exists());

    // With -o as well: both.
    let html = dir.path().join("r.html");
    let out = stabmon()
        .args(["report", "--data"])
        .arg(&data)
        .arg("-o")
        .arg(&html)
        .arg("--png")
        .arg(&pngs)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        std::fs::read_to_string(&html)
            .unwrap()
            .contains("xmrig (pid")
    );

    // A directory that cannot be made: exit 2, naming it.
    let blocker = dir.path().join("file");
    std::fs::write(&blocker, "x").unwrap();
    let out = stabmon()
        .args(["report", "--data"])
        .arg(&data)
        .arg("--png")
        .arg(blocker.join("sub"))
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert!(stderr.contains("file/sub"), "{stderr}");
    assert_eq!(stderr.trim().lines().count(), 1, "{stderr}");
}
