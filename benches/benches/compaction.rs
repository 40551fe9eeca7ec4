//! Peak memory of the flight recorder's hourly compaction (issue 2: the recorder's peak RSS over an hour).
//!
//! An hour at 1 s with top 10 and ~1,000 synthetic processes is recorded into a journal (generated one sample at
//! a time, never held), then compacted twice, each in a new process of this bench (a fresh heap), after resetting
//! the peak-RSS counter (`/proc/self/clear_refs`, Linux):
//! 1. by the recorder, as `stabmon record` does at each rotation and at the next start (here: the next start
//!    recovers the journal a "crash" left): the journal is streamed record by record into the writer;
//! 2. the way compaction worked before 2631794, for comparison: the whole journal file read into memory, every
//!    sample decoded into a `Vec<Sample>`, then written.
//!
//! Prints each process's peak RSS, the peak above the RSS before the step (MiB), and their ratio.
//!
//! Run: `cargo bench -p stabmon-benches --bench compaction` (`COMPACTION_SECS` changes the hour's length).
#![allow(clippy::expect_used)]

use std::path::Path;
use std::time::{Duration, Instant};

use stabmon_core::Timestamp;
use stabmon_core::synth::Synth;
use stabmon_store::{FlightRecorder, RecorderOptions, Retention, StoreReader, StoreWriter};

/// A field of `/proc/self/status` in KiB (`VmRSS`, `VmHWM`), 0 where unknown.
fn status_kib(field: &str) -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .unwrap_or_default()
        .lines()
        .find_map(|l| l.strip_prefix(field)?.strip_prefix(':'))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .unwrap_or(0)
}

/// Resets `VmHWM` to the current RSS and returns that RSS in KiB.
fn reset_peak() -> u64 {
    std::fs::write("/proc/self/clear_refs", "5").expect("reset the peak RSS (Linux clear_refs)");
    status_kib("VmRSS")
}

fn mib(kib: u64) -> f64 {
    kib as f64 / 1024.0
}

/// Records `secs` samples into a journal under `dir` and leaves it there, as a crash would.
fn record_journal(dir: &Path, secs: u64, start: Timestamp) {
    let opts = RecorderOptions::new()
        .sync(Duration::from_secs(3600))
        .rotate(Duration::from_secs(secs * 2))
        .retention(Retention::new().max_age(None));
    let (mut rec, _) = FlightRecorder::open(dir, opts).expect("open");
    let synth = Synth::new(start, Duration::from_secs(1))
        .count(secs)
        .processes(1000)
        .top_n(10);
    for s in synth.iter() {
        rec.record(&s);
    }
    drop(rec);
}

/// One compaction in a process of its own (a fresh heap, so that what an earlier step freed but kept does not hide
/// this one's growth): prints the RSS before it and the peak, in KiB.
fn child(how: &str, dir: &Path, secs: u64) {
    let base = reset_peak();
    match how {
        // The recorder: the next start recovers the journal, streamed into segments.
        "stream" => {
            let (rec, recovery) = FlightRecorder::open(
                dir,
                RecorderOptions::new().retention(Retention::new().max_age(None)),
            )
            .expect("recover");
            assert_eq!(recovery.samples, secs, "every sample compacted");
            drop(rec);
        }
        // The former way: the whole journal in memory, every sample decoded, then written.
        _ => {
            let reader = StoreReader::open(dir).expect("open");
            let samples = reader.samples(None, None).expect("read the journal");
            assert_eq!(samples.len() as u64, secs);
            let mut w = StoreWriter::create(dir.join("out")).expect("writer");
            for s in &samples {
                w.write(s).expect("write");
            }
            w.finish().expect("finish");
        }
    }
    println!("{base} {}", status_kib("VmHWM"));
}

/// Runs [`child`] in a new process of this bench and returns (RSS before, peak) in KiB and the wall time.
fn run_child(how: &str, dir: &Path, secs: u64) -> (u64, u64, f64) {
    let t0 = Instant::now();
    let out = std::process::Command::new(std::env::current_exe().expect("exe"))
        .env("COMPACTION_CHILD", format!("{how}:{}", dir.display()))
        .env("COMPACTION_SECS", secs.to_string())
        .output()
        .expect("run the child");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let text = String::from_utf8_lossy(&out.stdout);
    let v: Vec<u64> = text
        .split_whitespace()
        .filter_map(|x| x.parse().ok())
        .collect();
    (v[0], v[1], t0.elapsed().as_secs_f64())
}

fn main() {
    let secs: u64 = std::env::var("COMPACTION_SECS")
        .ok()
        .and_then(|d| d.parse().ok())
        .unwrap_or(3600);
    let start = Timestamp::from_unix_secs(1_795_575_600); // 2026-11-25T03:00:00Z
    if let Ok(dir) = std::env::var("COMPACTION_RECORD_ONLY") {
        // Leaves a journal in DIR for a profiler: `COMPACTION_CHILD=stream:DIR valgrind --tool=massif <bench>`.
        record_journal(Path::new(&dir), secs, start);
        return;
    }
    if let Ok(spec) = std::env::var("COMPACTION_CHILD") {
        let (how, dir) = spec.split_once(':').expect("how:dir");
        child(how, Path::new(dir), secs);
        return;
    }
    let tmp = tempfile::tempdir().expect("tempdir");
    let (a, b) = (tmp.path().join("stream"), tmp.path().join("whole"));
    record_journal(&a, secs, start);
    record_journal(&b, secs, start);
    let journal_bytes: u64 = std::fs::read_dir(a.join("_journal"))
        .into_iter()
        .flatten()
        .flatten()
        .flat_map(|host| {
            std::fs::read_dir(host.path())
                .into_iter()
                .flatten()
                .flatten()
        })
        .filter_map(|f| f.metadata().ok())
        .map(|m| m.len())
        .sum();
    println!(
        "journal of {secs} samples (~1,000 processes, top 10): {:.1} MB",
        journal_bytes as f64 / 1e6
    );

    let (s_base, s_peak, streamed_s) = run_child("stream", &a, secs);
    let (w_base, w_peak, whole_s) = run_child("whole", &b, secs);
    let (streamed, whole) = (s_peak - s_base, w_peak - w_base);
    println!(
        "process peak RSS: streamed {:.1} MiB, whole journal {:.1} MiB",
        mib(s_peak),
        mib(w_peak)
    );
    println!(
        "compaction peak above the RSS before it: streamed {:.1} MiB ({streamed_s:.2} s), whole journal {:.1} MiB \
         ({whole_s:.2} s): {:.2}x",
        mib(streamed),
        mib(whole),
        streamed as f64 / whole.max(1) as f64
    );
}
