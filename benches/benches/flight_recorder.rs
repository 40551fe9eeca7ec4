//! Flight recorder figures: bytes per day at 1 s with top 10 (segments plus the journal's peak), the
//! writer's CPU per sample including the journal and its fsync, and reading one day and one week for a 1-hour
//! range and for the whole range.
//!
//! Run: `cargo bench -p stabmon-benches --bench flight_recorder` (set `FR_DAYS` to change the week's length).
#![allow(clippy::expect_used)]

use std::time::{Duration, Instant};

use stabmon_core::Timestamp;
use stabmon_core::synth::Synth;
use stabmon_store::{FlightRecorder, RecorderOptions, Retention, StoreReader};

fn cpu_time() -> Duration {
    // This process's user + system CPU from /proc/self/stat (Linux; 100 ticks a second), 0 elsewhere.
    let stat = std::fs::read_to_string("/proc/self/stat").unwrap_or_default();
    let after = stat.rsplit(')').next().unwrap_or("");
    let f: Vec<u64> = after
        .split_whitespace()
        .filter_map(|x| x.parse().ok())
        .collect();
    // Fields after ')' start at field 3; utime and stime are fields 14 and 15 -> indices 11, 12 here.
    let ticks = f.get(10).copied().unwrap_or(0) + f.get(11).copied().unwrap_or(0);
    Duration::from_millis(ticks * 10)
}

fn dir_bytes(p: &std::path::Path) -> u64 {
    let mut n = 0;
    if let Ok(rd) = std::fs::read_dir(p) {
        for e in rd.flatten() {
            let path = e.path();
            if path.is_dir() {
                n += dir_bytes(&path);
            } else if let Ok(m) = e.metadata() {
                n += m.len();
            }
        }
    }
    n
}

fn main() {
    let days: u64 = std::env::var("FR_DAYS")
        .ok()
        .and_then(|d| d.parse().ok())
        .unwrap_or(7);
    let start = Timestamp::from_unix_secs(1_795_564_800); // 2026-11-25T00:00:00Z
    let tmp = tempfile::tempdir().expect("tempdir");

    // 1. Writer CPU per sample with the default fsync of every sample (1 s sync at a 1 s interval).
    let n = 3000u64;
    let samples = Synth::new(start, Duration::from_secs(1))
        .count(n)
        .top_n(10)
        .generate();
    let dir = tmp.path().join("fsync");
    let (mut rec, _) = FlightRecorder::open(
        &dir,
        RecorderOptions::new().retention(Retention::new().max_age(None)),
    )
    .expect("open");
    let (c0, w0) = (cpu_time(), Instant::now());
    for s in &samples {
        for notice in rec.record(s) {
            eprintln!("recorder: {notice}");
        }
    }
    let (cpu, wall) = (cpu_time() - c0, w0.elapsed());
    let journal_bytes = dir_bytes(&dir.join("_journal"));
    rec.stop(samples[samples.len() - 1].ts).expect("stop");
    println!(
        "journal+fsync: {n} samples: CPU {:.1} us/sample, wall {:.1} us/sample, journal {:.0} B/sample",
        cpu.as_secs_f64() * 1e6 / n as f64,
        wall.as_secs_f64() * 1e6 / n as f64,
        journal_bytes as f64 / n as f64
    );

    // 2. A week at 1 s with top 10 through the recorder (sync off for speed: the bytes do not depend on it).
    let dir = tmp.path().join("week");
    let opts = RecorderOptions::new()
        .sync(Duration::from_secs(3600))
        .retention(Retention::new().max_age(None));
    let (mut rec, _) = FlightRecorder::open(&dir, opts).expect("open");
    let mut peak_journal = 0u64;
    let (c0, w0) = (cpu_time(), Instant::now());
    for day in 0..days {
        let samples = Synth::new(
            start.saturating_add(Duration::from_secs(day * 86_400)),
            Duration::from_secs(1),
        )
        .count(86_400)
        .top_n(10)
        .seed(day)
        .generate();
        for (i, s) in samples.iter().enumerate() {
            for notice in rec.record(s) {
                eprintln!("recorder: {notice}");
            }
            if i % 3599 == 0 {
                peak_journal = peak_journal.max(dir_bytes(&dir.join("_journal")));
            }
        }
    }
    rec.stop(start.saturating_add(Duration::from_secs(days * 86_400)))
        .expect("stop");
    let (cpu, wall) = (cpu_time() - c0, w0.elapsed());
    // Segments and manifest: not the journals' directory, which keeps a compacted journal's file for the next one.
    let total = dir_bytes(&dir) - dir_bytes(&dir.join("_journal"));
    println!(
        "{days} days at 1 s, top 10: {:.2} MB/day of segments (+ journal peak {:.2} MB, transient); recorder CPU {:.1} us/sample without fsync (wall {:.0} s)",
        total as f64 / days as f64 / 1e6,
        peak_journal as f64 / 1e6,
        cpu.as_secs_f64() * 1e6 / (days * 86_400) as f64,
        wall.as_secs_f64()
    );

    // 3. Reading: one day and the whole week, a 1-hour range and everything.
    let reader = StoreReader::open(&dir).expect("reader");
    let noon = start.saturating_add(Duration::from_secs(12 * 3600));
    let hour = Some(noon.saturating_add(Duration::from_secs(3600)));
    for (what, from, to) in [
        ("1-hour range", Some(noon), hour),
        (
            "one day",
            Some(start),
            Some(start.saturating_add(Duration::from_secs(86_400))),
        ),
        ("whole range", None, None),
    ] {
        let w0 = Instant::now();
        let got = reader.samples(from, to).expect("read");
        println!(
            "read {what}: {} samples in {:.3} s",
            got.len(),
            w0.elapsed().as_secs_f64()
        );
    }
}
