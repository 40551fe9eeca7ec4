//! Sampling lateness across a rotation, under a CPU storm on every core: compaction on the worker thread against
//! compaction on the sampling thread, in the same build.
//!
//! A rotation period (an hour by default) at 1 s with top 10 and ~1,000 synthetic processes is recorded into a
//! journal as fast as it can be generated (timestamps are synthetic); then the recorder is driven in real time,
//! one sample a second (the synthetic samples are generated ahead of time so the schedule measures the recorder
//! only), starting at the rotation, while busy threads keep every core loaded. The first sample of the new period
//! rotates the journal, and the previous period has to be compacted: by the recorder's worker thread, or, with
//! `ROTATION_INLINE=1` (`RecorderOptions::compact_inline`), by the rotating `record()` call itself, as the
//! recorder did before it had a worker.
//!
//! Printed per run: how long the rotating `record()` call took, the largest lateness of any sample (how late its
//! `record()` call started after its tick) and the 99th percentile, how many were more than 50 ms late and how many
//! ticks were missed altogether (a call that returned a whole interval after its tick), the largest compaction
//! backlog seen and when it was gone (seconds after the rotation), and the peak RSS of the measured phase
//! (`VmHWM` after `/proc/self/clear_refs`, Linux, read after the stop so that the compaction is in it whichever
//! thread ran it). `benches/rotation_ab.sh` runs both ways alternately.
//!
//! Run: `cargo bench -p stabmon-benches --bench rotation_lateness` (`ROTATION_PROCESSES`, `ROTATION_HOURS` for the
//! rotation period and so the journal compacted, default 1, `ROTATION_SECS` for the phase's length, default 30,
//! `ROTATION_STORM=0` without the CPU storm, `ROTATION_INLINE=1` to compact on the sampling thread).
#![allow(clippy::expect_used)]

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use stabmon_core::Timestamp;
use stabmon_core::synth::Synth;
use stabmon_store::{FlightRecorder, RecorderOptions};

/// A field of `/proc/self/status` in KiB.
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
    let hours = env_u64("ROTATION_HOURS", 1).max(1);
    let phase = env_u64("ROTATION_SECS", 30);
    let storm = env_u64("ROTATION_STORM", 1) != 0;
    let inline = env_u64("ROTATION_INLINE", 0) != 0;
    let label = std::env::var("ROTATION_LABEL").unwrap_or_else(|_| {
        if inline {
            "inline".into()
        } else {
            "worker".into()
        }
    });
    let interval = Duration::from_secs(1);
    let period = hours * 3600;
    // A rotation boundary at or before 2026-11-25T03:00:00Z.
    let step = i64::try_from(period).expect("a rotation period in range");
    let start = Timestamp::from_unix_secs(1_795_575_600 / step * step);
    let synth = Synth::new(start, interval)
        .count(period + phase)
        .processes(processes)
        .top_n(10)
        .cores(2);
    let dir = tempfile::tempdir_in(std::env::var_os("ROTATION_DIR").unwrap_or_else(|| ".".into()))
        .expect("temporary directory");
    let opts = RecorderOptions::new()
        .rotate(Duration::from_secs(period))
        .compact_inline(inline);
    let (mut rec, _) = FlightRecorder::open(dir.path(), opts).expect("open");
    let mut samples = synth.into_iter();
    let t = Instant::now();
    for s in samples.by_ref().take(period as usize) {
        for notice in rec.record(&s) {
            eprintln!("recorder: {notice}");
        }
    }
    let journal_bytes = walk_bytes(&dir.path().join("_journal"));
    eprintln!(
        "{label}: recorded {period} samples in {:.1} s; journal {:.1} MB ({:.0} B/sample)",
        t.elapsed().as_secs_f64(),
        journal_bytes as f64 / 1e6,
        journal_bytes as f64 / period as f64
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
    let mut lateness = Vec::with_capacity(ahead.len());
    let mut missed = 0;
    let mut rotating_call = Duration::ZERO;
    let mut backlog_max = 0;
    let mut compacted_after = None;
    for (i, s) in ahead.iter().enumerate() {
        let tick = t0 + interval * i as u32;
        let now = Instant::now();
        if now < tick {
            std::thread::sleep(tick - now);
        }
        let began = Instant::now();
        let late = began.saturating_duration_since(tick);
        lateness.push(late);
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
        let backlog = rec.compaction_backlog();
        backlog_max = backlog_max.max(backlog);
        if backlog == 0 && compacted_after.is_none() {
            compacted_after = Some(t0.elapsed().as_secs_f64());
        }
    }
    stop.store(true, Ordering::Relaxed);
    for b in busy {
        let _ = b.join();
    }
    // The stop waits for (or does) what is left of the compaction: the peak covers all of it.
    let t = Instant::now();
    rec.stop(Timestamp::now()).expect("stop");
    let stop_secs = t.elapsed().as_secs_f64();
    let peak = status_kib("VmHWM");
    let late_over_50ms = lateness
        .iter()
        .filter(|l| **l > Duration::from_millis(50))
        .count();
    let late_max = lateness.iter().max().copied().unwrap_or_default();
    lateness.sort();
    let p99 = lateness
        .get((lateness.len() * 99).div_ceil(100).saturating_sub(1))
        .copied()
        .unwrap_or_default();
    println!(
        "{label}: {processes} processes, journal of {period} samples ({:.1} MB), {phase} s at 1 s{}: rotating \
         record() {:.0} ms; lateness p99 {:.1} ms, max {:.1} ms; {late_over_50ms} samples > 50 ms late; {missed} \
         ticks missed; backlog at most {backlog_max}, gone {}; stop {stop_secs:.1} s; peak RSS {:.1} MiB ({:.1} MiB \
         above the phase's start)",
        journal_bytes as f64 / 1e6,
        if storm {
            " under a 2-core CPU storm"
        } else {
            ""
        },
        rotating_call.as_secs_f64() * 1e3,
        p99.as_secs_f64() * 1e3,
        late_max.as_secs_f64() * 1e3,
        compacted_after.map_or_else(
            || "only at the stop".to_owned(),
            |s| format!("{s:.1} s after the rotation")
        ),
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
