//! A real full disk: the recorder writes into a small tmpfs mounted in a mount namespace of the test's own
//! (`unshare -m`, so that a failed run leaves no mount behind), the disk is filled, then freed. Sampling goes on
//! throughout, writing resumes, what was written before stays whole, and the samples dropped are counted in the
//! notice the recorder logs.
//!
//! The test runs itself again inside `unshare -m --propagation private` (a multi-threaded test process cannot
//! enter a mount namespace of its own); where that or the mount is not permitted it is skipped, saying why.
#![cfg(target_os = "linux")]
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::io::Write;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use stabmon_core::synth::Synth;
use stabmon_core::{Sample, Timestamp};
use stabmon_store::{FlightRecorder, Notice, RecorderOptions, StoreReader};

/// Set to the mount point for the run inside the namespace.
const INSIDE: &str = "STABMON_FULL_DISK_MOUNT";
/// Printed by the inside run when it cannot mount, followed by the reason.
const SKIP: &str = "FULL-DISK-SKIPPED:";
/// Samples kept in memory while the disk is full.
const BUFFER: usize = 40;

#[test]
fn a_real_full_disk_is_survived() {
    let dir = tempfile::tempdir().unwrap();
    let mount = dir.path().join("mnt");
    std::fs::create_dir(&mount).unwrap();
    let exe = std::env::current_exe().unwrap();
    let child = Command::new("unshare")
        .args(["-m", "--propagation", "private"])
        .arg(&exe)
        .args([
            "--exact",
            "full_disk_inside",
            "--ignored",
            "--nocapture",
            "--test-threads=1",
        ])
        .env(INSIDE, &mount)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn();
    let child = match child {
        Ok(c) => c,
        Err(e) => {
            println!("skipped: cannot run unshare(1) for a mount namespace: {e}");
            return;
        }
    };
    // Bounded: the run takes a few seconds.
    let pid = child.id();
    let deadline = Instant::now() + Duration::from_secs(120);
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let _ = tx.send(child.wait_with_output());
    });
    let out = loop {
        if let Ok(out) = rx.recv_timeout(Duration::from_millis(200)) {
            break out.unwrap();
        }
        if Instant::now() > deadline {
            let _ = Command::new("kill").args(["-9", &pid.to_string()]).status();
            panic!("the run in the mount namespace took over 120 s");
        }
    };
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    if !out.status.success() && stderr.contains("unshare failed") {
        println!("skipped: no mount namespace here (unshare -m is not permitted): {stderr}");
        return;
    }
    if let Some(why) = stdout.lines().find_map(|l| l.strip_prefix(SKIP)) {
        println!("skipped: {why}");
        return;
    }
    assert!(
        out.status.success(),
        "the run inside failed:\n{stdout}\n{stderr}"
    );
    assert!(
        stdout.contains("1 passed"),
        "the inside test did not run:\n{stdout}\n{stderr}"
    );
    // What the recorder logged inside: the failure, and the resumption with the drop count.
    for line in stdout
        .lines()
        .filter(|l| l.contains("cannot") || l.contains("works again") || l.contains("compaction"))
    {
        println!("{line}");
    }
    // The mount went with the namespace.
    assert!(std::fs::read_dir(&mount).unwrap().next().is_none());
}

/// Fills the filesystem of `dir` with one file until it refuses more.
fn fill(dir: &Path) -> std::path::PathBuf {
    let path = dir.join("filler");
    let mut f = std::fs::File::create(&path).unwrap();
    let chunk = vec![0xA5u8; 64 * 1024];
    loop {
        match f.write(&chunk) {
            Ok(0) => break,
            Ok(_) => {}
            Err(e) => {
                assert_eq!(e.kind(), std::io::ErrorKind::StorageFull, "filling: {e}");
                break;
            }
        }
    }
    // Whatever is left below a page too.
    while f.write(&[0u8; 512]).is_ok_and(|n| n > 0) {}
    path
}

#[test]
#[ignore = "the inside of a_real_full_disk_is_survived, which runs it in a mount namespace"]
fn full_disk_inside() {
    let Some(mount) = std::env::var_os(INSIDE) else {
        panic!("run by a_real_full_disk_is_survived, with {INSIDE} set");
    };
    let mount = Path::new(&mount);
    let mounted = Command::new("mount")
        .args(["-t", "tmpfs", "-o", "size=4m", "tmpfs"])
        .arg(mount)
        .output();
    match mounted {
        Ok(o) if o.status.success() => {}
        Ok(o) => {
            println!(
                "{SKIP} mounting a tmpfs is not permitted here: {}",
                String::from_utf8_lossy(&o.stderr).trim()
            );
            return;
        }
        Err(e) => {
            println!("{SKIP} no mount(8): {e}");
            return;
        }
    }
    let data = mount.join("data");
    let t0 = Timestamp::from_unix_secs(1_795_576_320); // 2026-11-25T03:12:00Z
    let all: Vec<Sample> = Synth::new(t0, Duration::from_secs(1))
        .count(3000)
        .processes(200)
        .host("nas")
        .iter()
        .collect();
    // A segment a minute: compactions run into the full disk too.
    let opts = RecorderOptions::new()
        .buffer_samples(BUFFER)
        .rotate(Duration::from_secs(60));
    let (mut rec, _) = FlightRecorder::open(&data, opts).unwrap();
    let mut notices = Vec::new();
    let before = 150;

    for s in &all[..before] {
        notices.extend(rec.record(s));
    }
    notices.extend(rec.wait_for_compaction());
    assert!(
        notices
            .iter()
            .all(|n| matches!(n, Notice::CompactionBehind { .. })),
        "{notices:?}"
    );
    let filler = fill(mount);

    // Sampling goes on while the disk is full: every sample is taken, the oldest waiting ones are dropped.
    // The file system may still take a few records (its last block); from the first failure on, enough samples for the
    // buffer to overflow.
    let mut full = before;
    let mut last = all.len() - 100;
    while full < last {
        let n = rec.record(&all[full]);
        if n.iter().any(|n| matches!(n, Notice::WriteFailed { .. })) {
            last = full + BUFFER + 30;
        }
        notices.extend(n);
        assert!(rec.pending() <= BUFFER);
        full += 1;
    }
    notices.extend(rec.wait_for_compaction());
    let failed = notices
        .iter()
        .position(|n| matches!(n, Notice::WriteFailed { .. }))
        .unwrap_or_else(|| panic!("no write failure on a full disk: {notices:?}"));
    assert!(
        notices
            .iter()
            .any(|n| matches!(n, Notice::Dropping { capacity } if *capacity == BUFFER)),
        "{notices:?}"
    );
    let dropped = rec.dropped();
    assert!(dropped > 0, "nothing dropped: {notices:?}");
    println!("{}", notices[failed]);

    std::fs::remove_file(&filler).unwrap();
    let after = notices.len();
    let all = &all[..full + 100];
    for s in &all[full..] {
        notices.extend(rec.record(s));
    }
    notices.extend(rec.wait_for_compaction());
    let resumed: Vec<&Notice> = notices[after..]
        .iter()
        .filter(|n| matches!(n, Notice::Resumed { .. }))
        .collect();
    let [
        Notice::Resumed {
            written,
            dropped: logged,
            ..
        },
    ] = resumed[..]
    else {
        panic!("writing did not resume once: {:?}", &notices[after..]);
    };
    // The drop count is in the line the recorder logs.
    let line = resumed[0].to_string();
    println!("{line}");
    assert_eq!(*logged, dropped);
    assert!(line.contains(&format!("{dropped} dropped")), "{line}");
    // The full buffer, and the sample of the tick at which writing worked again.
    assert_eq!(*written, BUFFER as u64 + 1, "{line}");
    assert_eq!(rec.pending(), 0);
    for n in &notices {
        println!("{n}");
    }
    let summary = rec.stop(all[all.len() - 1].ts).unwrap();
    assert_eq!(summary.dropped, dropped);

    // Everything written is whole; the samples lost are the oldest of the outage, and only those.
    let reader = StoreReader::open(&data).unwrap();
    let back = reader.samples(None, None).unwrap();
    assert!(reader.warnings().is_empty(), "{:?}", reader.warnings());
    assert_eq!(back.len() as u64, all.len() as u64 - dropped);
    let missing: Vec<usize> = all
        .iter()
        .enumerate()
        .filter(|(_, s)| !back.iter().any(|b| b.ts == s.ts))
        .map(|(i, _)| i)
        .collect();
    assert_eq!(missing.len() as u64, dropped);
    assert!(
        missing.windows(2).all(|w| w[1] == w[0] + 1),
        "the samples lost are not one run: {missing:?}"
    );
    assert!(
        missing.iter().all(|&i| i >= before && i < full),
        "a sample outside the outage was lost: {missing:?}"
    );
    for b in &back {
        let s = all.iter().find(|s| s.ts == b.ts).unwrap();
        assert_eq!(b, s, "a sample came back changed");
    }
}
