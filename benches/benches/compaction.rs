//! Peak memory of the flight recorder's hourly compaction (the recorder's peak RSS over an hour).
//!
//! An hour at 1 s with top 10 and ~1,000 synthetic processes is recorded into a journal (generated one sample at
//! a time, never held), then compacted twice, each in a new process of this bench (a fresh heap), after resetting
//! the peak-RSS counter (`/proc/self/clear_refs`, Linux):
//! 1. by the recorder, as `stabmon record` does at each rotation and at the next start (here: the next start
//!    recovers the journal a "crash" left): the journal is streamed record by record into the writer;
//! 2. the way compaction worked before 2631794, for comparison: the whole journal file read into memory, every
//!    sample decoded into a `Vec<Sample>`, then written.
//!
//! Prints each process's peak RSS, the peak above the RSS before the step (MiB), and their ratio; then the
//! streamed compaction once more under the malloc thresholds that `stabmon record` sets (glibc), and each child's
//! anonymous and file-backed RSS before and after (the code pages a compaction touches stay resident).
//!
//! Run: `cargo bench -p stabmon-benches --bench compaction` (`COMPACTION_SECS` changes the hour's length;
//! `COMPACTION_REPLAY=DIR` compacts the samples of a recording in DIR instead, e.g. a real hour with process churn;
//! `COMPACTION_CHURN=K` makes K of each synthetic sample's processes new ones with command lines of their own).
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

/// (files, bytes) of the files under `dir` whose names end in `.{ext}`.
fn file_bytes(dir: &Path, ext: &str) -> (u64, u64) {
    let mut out = (0, 0);
    for e in std::fs::read_dir(dir).into_iter().flatten().flatten() {
        let path = e.path();
        if path.is_dir() {
            let (f, b) = file_bytes(&path, ext);
            out = (out.0 + f, out.1 + b);
        } else if path.extension().is_some_and(|x| x == ext) {
            out = (out.0 + 1, out.1 + e.metadata().map_or(0, |m| m.len()));
        }
    }
    out
}

/// Copies the directory `from` to `to` (a journal left by [`record_journal`], for each way of compacting it).
fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).expect("create a directory");
    for e in std::fs::read_dir(from).expect("read a directory").flatten() {
        let target = to.join(e.file_name());
        if e.path().is_dir() {
            copy_dir(&e.path(), &target);
        } else {
            std::fs::copy(e.path(), &target).expect("copy a file");
        }
    }
}

fn mib(kib: u64) -> f64 {
    kib as f64 / 1024.0
}

/// Records `secs` samples into a journal under `dir` and leaves it there, as a crash would: synthetic ones, or
/// the samples of the recording in `COMPACTION_REPLAY` (a real hour, with its process churn). Returns how many.
fn record_journal(dir: &Path, secs: u64, start: Timestamp) -> u64 {
    let replay = std::env::var("COMPACTION_REPLAY").ok().map(|from| {
        StoreReader::open(&from)
            .and_then(|r| r.samples(None, None))
            .expect("read the recording to replay")
    });
    let n = replay.as_ref().map_or(secs, |v| v.len() as u64);
    let opts = RecorderOptions::new()
        .sync(Duration::from_secs(3600))
        // One journal: a day's window holds the synthetic hour and a replayed one (unless it crosses midnight).
        .rotate(Duration::from_secs(86_400.max(n * 2)))
        .retention(Retention::new().max_age(None));
    let (mut rec, _) = FlightRecorder::open(dir, opts).expect("open");
    match replay {
        Some(samples) => {
            for s in &samples {
                for notice in rec.record(s) {
                    eprintln!("recorder: {notice}");
                }
            }
        }
        None => {
            let synth = Synth::new(start, Duration::from_secs(1))
                .count(secs)
                .processes(1000)
                .top_n(10);
            let churn: usize = std::env::var("COMPACTION_CHURN")
                .ok()
                .and_then(|c| c.parse().ok())
                .unwrap_or(0);
            for (i, mut s) in synth.iter().enumerate() {
                churn_processes(&mut s, i, churn);
                for notice in rec.record(&s) {
                    eprintln!("recorder: {notice}");
                }
            }
        }
    }
    drop(rec);
    n
}

/// Makes the first `churn` processes of sample `i` new ones (pid, start) with a 256-byte command line of their own,
/// like compilers of a parallel build: `COMPACTION_CHURN=10` gives 36,000 process identities an hour, the most
/// top 10 lists can hold.
fn churn_processes(s: &mut stabmon_core::Sample, i: usize, churn: usize) {
    let mut x = (i as u64).wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1;
    for (j, p) in s.top.processes.iter_mut().take(churn).enumerate() {
        p.pid = 4_000_000 + u32::try_from(i * churn + j).expect("pid");
        p.start_time = s.ts;
        let mut cmd =
            format!("/usr/bin/rustc --crate-name c{i}_{j} --edition=2021 src/lib.rs -C metadata=");
        while cmd.len() < 256 {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            cmd.push_str(&format!("{:x} ", x & 0xffff_ffff));
        }
        cmd.truncate(256);
        p.cmdline = Some(cmd);
    }
}

/// One compaction in a process of its own (a fresh heap, so that what an earlier step freed but kept does not hide
/// this one's growth): prints the RSS before it and the peak, in KiB.
fn child(how: &str, dir: &Path, secs: u64) {
    let base = reset_peak();
    eprintln!(
        "{how}: before it RssAnon {} KiB, RssFile {} KiB",
        status_kib("RssAnon"),
        status_kib("RssFile")
    );
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
    eprintln!(
        "{how}: after it RssAnon {} KiB, RssFile {} KiB",
        status_kib("RssAnon"),
        status_kib("RssFile")
    );
    println!("{base} {}", status_kib("VmHWM"));
}

/// glibc's malloc thresholds as `stabmon record` sets them with mallopt(3) (`record.rs`, `lean_malloc`).
const RECORDER_MALLOC: &str =
    "glibc.malloc.mmap_threshold=65536:glibc.malloc.trim_threshold=131072";

/// Runs [`child`] in a new process of this bench (with `GLIBC_TUNABLES` when given) and returns (RSS before,
/// peak) in KiB and the wall time.
fn run_child(how: &str, dir: &Path, secs: u64, tunables: Option<&str>) -> (u64, u64, f64) {
    let t0 = Instant::now();
    let mut cmd = std::process::Command::new(std::env::current_exe().expect("exe"));
    if let Some(t) = tunables {
        cmd.env("GLIBC_TUNABLES", t);
    }
    let out = cmd
        .env("COMPACTION_CHILD", format!("{how}:{}", dir.display()))
        .env("COMPACTION_SECS", secs.to_string())
        .output()
        .expect("run the child");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    // The child's RssAnon/RssFile before and after (code pages touched by the compaction stay resident).
    eprint!("{}", String::from_utf8_lossy(&out.stderr));
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
    let (a, b, c) = (
        tmp.path().join("stream"),
        tmp.path().join("whole"),
        tmp.path().join("lean"),
    );
    let secs = record_journal(&a, secs, start);
    copy_dir(&a, &b);
    copy_dir(&a, &c);
    let (_, journal_bytes) = file_bytes(&a.join("_journal"), "journal");
    println!(
        "journal of {secs} samples ({}): {:.1} MB",
        std::env::var("COMPACTION_REPLAY").unwrap_or_else(|_| format!(
            "~1,000 synthetic processes, top 10, {} new a second",
            std::env::var("COMPACTION_CHURN").unwrap_or_else(|_| "none".into())
        )),
        journal_bytes as f64 / 1e6
    );

    let (s_base, s_peak, streamed_s) = run_child("stream", &a, secs, None);
    let (files, segment_bytes) = file_bytes(&a, "parquet");
    println!("segments written: {segment_bytes} B in {files} files");
    let (w_base, w_peak, whole_s) = run_child("whole", &b, secs, None);
    let (l_base, l_peak, _) = run_child("stream", &c, secs, Some(RECORDER_MALLOC));
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
    println!(
        "streamed with the recorder's malloc thresholds ({RECORDER_MALLOC}): peak {:.1} MiB, {:.1} MiB above the \
         RSS before it",
        mib(l_peak),
        mib(l_peak - l_base)
    );
}
