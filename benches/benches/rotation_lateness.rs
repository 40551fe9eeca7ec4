//! Sampling lateness across an hourly rotation, under a CPU storm on every core.
//!
//! An hour at 1 s with top 10 and ~1,000 synthetic processes is recorded into a journal as fast as it can be
//! generated (timestamps are synthetic); then the recorder is driven in real time, one sample a second (the
//! synthetic samples are generated ahead of time so the schedule measures the recorder only), starting at the
//! rotation, while busy threads keep every core loaded. The first sample of the new hour rotates the journal,
//! and the previous hour has to be compacted.
//!
//! Printed per run: how long the rotating `record()` call took, the largest lateness of any sample (how late its
//! `record()` call started after its tick), how many were more than 50 ms late and how many ticks were missed
//! altogether (a call that returned a whole interval after its tick), and the peak RSS of the measured phase
//! (`VmHWM` after `/proc/self/clear_refs`, Linux, read after the stop so that the hour's compaction is in it
//! whichever thread ran it). The same file builds against older releases of the store:
//! `benches/rotation_ab.sh` runs it for the release at a given commit and for this tree in one go.
//!
//! Run: `cargo bench -p stabmon-benches --bench rotation_lateness` (`ROTATION_PROCESSES`, `ROTATION_SECS` for
//! the phase's length, default 30, `ROTATION_STORM=0` without the CPU storm).
#![allow(clippy::expect_used)]

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use stabmon_core::Timestamp;
use stabmon_core::synth::Synth;
use stabmon_store::{FlightRecorder, RecorderOptions};

/// A field of `/proc/self/status` in KiB. Kept in this file (not the benches library) so that the file builds
/// unchanged against older trees (`benches/rotation_ab.sh`).
fn status_kib(field: &str) -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .unwrap_or_default()
        .lines()
        .find_map(|l| l.strip_prefix(field)?.strip_prefix(':'))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .unwrap_or(0)
}

fn env_u64(name: &str, default: u64) -> u64 {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

fn main() {
    let processes = env_u64("ROTATION_PROCESSES", 1000) as usize;
    let phase = env_u64("ROTATION_SECS", 30);
    let storm = env_u64("ROTATION_STORM", 1) != 0;
    let label = std::env::var("ROTATION_LABEL").unwrap_or_else(|_| "this tree".into());
    let interval = Duration::from_secs(1);
    // 2026-11-25T03:00:00Z: an hour boundary.
    let start = Timestamp::from_unix_secs(1_795_575_600);
    let synth = Synth::new(start, interval)
        .count(3600 + phase)
        .processes(processes)
        .top_n(10)
        .cores(2);
    let dir = tempfile::tempdir_in(std::env::var_os("ROTATION_DIR").unwrap_or_else(|| ".".into()))
        .expect("temporary directory");
    let (mut rec, _) = FlightRecorder::open(dir.path(), RecorderOptions::new()).expect("open");
    let mut samples = synth.into_iter();
    let t = Instant::now();
    for s in samples.by_ref().take(3600) {
        for notice in rec.record(&s) {
            eprintln!("recorder: {notice}");
        }
    }
    let journal_bytes = walk_bytes(&dir.path().join("_journal"));
    eprintln!(
        "{label}: recorded the first hour in {:.1} s; journal {:.1} MB ({:.0} B/sample)",
        t.elapsed().as_secs_f64(),
        journal_bytes as f64 / 1e6,
        journal_bytes as f64 / 3600.0
    );
    let ahead: Vec<_> = samples.collect();

    let stop = Arc::new(AtomicBool::new(false));
    let busy: Vec<_> = (0..if storm { 2 } else { 0 })
        .map(|_| {
            let stop = Arc::clone(&stop);
            std::thread::spawn(move || {
                let mut x = 0u64;
                while !stop.load(Ordering::Relaxed) {
                    x = std::hint::black_box(x.wrapping_mul(6364136223846793005).wrapping_add(1));
                }
            })
        })
        .collect();

    std::fs::write("/proc/self/clear_refs", "5").expect("reset the peak RSS (Linux clear_refs)");
    let rss_before = status_kib("VmRSS");
    let t0 = Instant::now() + Duration::from_millis(100);
    let mut late_max = Duration::ZERO;
    let mut late_over_50ms = 0;
    let mut missed = 0;
    let mut rotating_call = Duration::ZERO;
    for (i, s) in ahead.iter().enumerate() {
        let tick = t0 + interval * i as u32;
        let now = Instant::now();
        if now < tick {
            std::thread::sleep(tick - now);
        }
        let began = Instant::now();
        let late = began.saturating_duration_since(tick);
        late_max = late_max.max(late);
        if late > Duration::from_millis(50) {
            late_over_50ms += 1;
        }
        if late >= interval {
            // The collector would have skipped this tick.
            missed += 1;
        }
        for notice in rec.record(s) {
            eprintln!("recorder: {notice}");
        }
        if i == 0 {
            rotating_call = began.elapsed();
        }
    }
    stop.store(true, Ordering::Relaxed);
    for b in busy {
        let _ = b.join();
    }
    // The stop waits for (or does) what is left of the hour's compaction: the peak covers all of it.
    let t = Instant::now();
    rec.stop(Timestamp::now()).expect("stop");
    let stop_secs = t.elapsed().as_secs_f64();
    let peak = status_kib("VmHWM");
    println!(
        "{label}: {processes} processes, {phase} s at 1 s{}: rotating record() {:.0} ms; max lateness {:.1} ms; \
         {late_over_50ms} samples > 50 ms late; {missed} ticks missed; stop {stop_secs:.1} s; peak RSS {:.1} MiB \
         ({:.1} MiB above the phase's start)",
        if storm {
            " under a 2-core CPU storm"
        } else {
            ""
        },
        rotating_call.as_secs_f64() * 1e3,
        late_max.as_secs_f64() * 1e3,
        peak as f64 / 1024.0,
        peak.saturating_sub(rss_before) as f64 / 1024.0,
    );
}

fn walk_bytes(dir: &std::path::Path) -> u64 {
    let mut n = 0;
    for e in std::fs::read_dir(dir).into_iter().flatten().flatten() {
        let p = e.path();
        n += if p.is_dir() {
            walk_bytes(&p)
        } else {
            e.metadata().map_or(0, |m| m.len())
        };
    }
    n
}
