//! Store density and speed: one synthetic day at 1 s with top 10 (~300 processes) written with
//! stabmon-store, then read back.
//!
//! Reports bytes per day and per recorded second per table and per column (compressed column-chunk sizes from the
//! Parquet metadata, plus footers), the writer's CPU time per sample, and read times for the whole day and for one
//! hour. Run: `cargo bench -p stabmon-benches --bench store` (add `-- --quick` for two hours instead of a day).
//!
//! The synthetic machine is the `stabmon_core::synth` generator: real recordings differ (real RSS and CPU are
//! noisier or steadier depending on the workload), so also measure real recordings (`benches/record_soak.sh`).
//!
//! Replay: `STORE_BENCH_REPLAY=DIR cargo bench -p stabmon-benches --bench store` reads a recorded data directory
//! (e.g. one kept by `KEEP=DIR bash benches/record_soak.sh`) with `StoreReader`, writes its samples again through
//! the current `StoreWriter` in hourly segments (a new writer at every UTC hour, as the flight recorder's
//! compaction does), checks that they read back equal, and reports the same per-table and per-column figures, so
//! that every format change is measured on real samples too.
#![allow(clippy::unwrap_used, clippy::expect_used)]

#[path = "support/thread_cpu.rs"]
mod thread_cpu;

use std::collections::BTreeMap;
use std::fs::File;
use std::io::{Read, Seek, SeekFrom};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use parquet::file::reader::{FileReader, SerializedFileReader};
use stabmon_core::Timestamp;
use stabmon_core::synth::Synth;
use stabmon_store::{StoreReader, StoreWriter, WriterOptions};
use thread_cpu::thread_cpu;

struct WriteRun {
    samples: u64,
    process_rows: u64,
    name_rows: u64,
    write_cpu: Duration,
    bytes: u64,
}

/// Writes `hours` hours of the synthetic machine, generating an hour at a time outside the timed part.
fn write_day(dir: &Path, synth: &Synth, hours: u64, opts: WriterOptions) -> WriteRun {
    let mut w = StoreWriter::create_with(dir, opts).unwrap();
    let mut it = synth.iter();
    let mut write_cpu = Duration::ZERO;
    for _ in 0..hours {
        let hour: Vec<_> = it.by_ref().take(3600).collect();
        let t = thread_cpu();
        for s in &hour {
            w.write(s).unwrap();
        }
        write_cpu += thread_cpu() - t;
    }
    let t = thread_cpu();
    let summary = w.finish().unwrap();
    write_cpu += thread_cpu() - t;
    WriteRun {
        samples: summary.samples,
        process_rows: summary.process_rows,
        name_rows: summary.name_rows,
        write_cpu,
        bytes: summary.bytes,
    }
}

/// Writes `hours` hours of the synthetic machine with a new writer every hour, as the flight recorder's hourly
/// compaction does (one segment per hour and table: 24 footers a day instead of one); returns the bytes written.
fn write_hourly(dir: &Path, synth: &Synth, hours: u64) -> u64 {
    write_hourly_with(dir, synth, hours, |_, _| {})
}

/// [`write_hourly`] with each sample (and its index) changed by `f` first.
fn write_hourly_with(
    dir: &Path,
    synth: &Synth,
    hours: u64,
    f: impl Fn(u64, &mut stabmon_core::Sample),
) -> u64 {
    let mut it = synth.iter().enumerate();
    let mut bytes = 0;
    for _ in 0..hours {
        let mut w = StoreWriter::create(dir).unwrap();
        for (i, mut s) in it.by_ref().take(3600) {
            f(i as u64, &mut s);
            w.write(&s).unwrap();
        }
        bytes += w.finish().unwrap().bytes;
    }
    bytes
}

/// The exits of sample `i` (at `ts`) of a quiet day: a health check every 10 s, a cron job every minute, an hourly
/// logrotate.
fn quiet_exits(i: u64, ts: Timestamp) -> stabmon_core::Exits {
    use stabmon_core::{ExitedName, ExitedProcess, Exits};
    let mut jobs: Vec<(&str, u64, u64)> = Vec::new(); // (name, CPU us, peak RSS)
    if i % 10 == 3 {
        jobs.push(("curl", 8_000, 9 << 20));
    }
    if i % 60 == 1 {
        jobs.extend([
            ("cron", 1_000, 3 << 20),
            ("sh", 2_000, 2 << 20),
            ("run-parts", 4_000, 2 << 20),
        ]);
    }
    if i % 3600 == 1800 {
        jobs.push(("logrotate", 40_000, 6 << 20));
    }
    let mut e = Exits::default();
    e.count = jobs.len() as u32;
    for (k, (name, cpu, rss)) in jobs.into_iter().enumerate() {
        let mut n = ExitedName::new(name);
        n.count = 1;
        n.cpu_time = Duration::from_micros(cpu);
        n.peak_rss_bytes = rss;
        e.names.push(n);
        let mut p = ExitedProcess::new(100_000 + (i * 4 + k as u64) as u32 % 4_000_000, name);
        p.parent_pid = if name == "curl" { 812 } else { 611 };
        p.start_time = ts.saturating_sub(Duration::from_millis(700 - 100 * k as u64));
        p.end_time = ts.saturating_sub(Duration::from_millis(300 - 50 * k as u64));
        p.cpu_time = Duration::from_micros(cpu);
        p.peak_rss_bytes = rss;
        e.processes.push(p);
    }
    e
}

fn parquet_files(dir: &Path, out: &mut Vec<PathBuf>) {
    for e in std::fs::read_dir(dir).unwrap() {
        let p = e.unwrap().path();
        if p.is_dir() {
            parquet_files(&p, out);
        } else if p.extension().is_some_and(|x| x == "parquet") {
            out.push(p);
        }
    }
}

fn footer_len(path: &Path) -> u64 {
    let mut f = File::open(path).unwrap();
    f.seek(SeekFrom::End(-8)).unwrap();
    let mut b = [0u8; 4];
    f.read_exact(&mut b).unwrap();
    u64::from(u32::from_le_bytes(b)) + 8
}

#[derive(Default)]
struct TableSize {
    files: u64,
    bytes: u64,
    footers: u64,
    rows: u64,
    columns: BTreeMap<String, u64>,
}

fn sizes(dir: &Path) -> BTreeMap<String, TableSize> {
    let mut files = Vec::new();
    parquet_files(dir, &mut files);
    let mut out: BTreeMap<String, TableSize> = BTreeMap::new();
    for f in files {
        let rel = f.strip_prefix(dir).unwrap();
        let table = rel
            .components()
            .next()
            .unwrap()
            .as_os_str()
            .to_string_lossy()
            .into_owned();
        let t = out.entry(table).or_default();
        t.files += 1;
        t.bytes += std::fs::metadata(&f).unwrap().len();
        t.footers += footer_len(&f);
        let reader = SerializedFileReader::new(File::open(&f).unwrap()).unwrap();
        let md = reader.metadata();
        t.rows += md.file_metadata().num_rows() as u64;
        for rg in md.row_groups() {
            for c in rg.columns() {
                let name = c.column_path().parts()[0].clone();
                *t.columns.entry(name).or_default() += c.compressed_size() as u64;
            }
        }
    }
    out
}

fn per_day(bytes: u64, samples: u64) -> f64 {
    bytes as f64 * 86_400.0 / samples as f64
}

fn median(mut v: Vec<Duration>) -> Duration {
    v.sort();
    v[v.len() / 2]
}

/// Prints bytes per table (per day, per recorded second, footers) and the biggest columns of a written directory.
fn report(dir: &Path, samples: u64, bytes: u64) {
    let tables = sizes(dir);
    println!(
        "\n| table | files | rows | bytes/day | B/s | footers/day |\n|---|---|---|---|---|---|"
    );
    for (name, t) in &tables {
        println!(
            "| {name} | {} | {} | {:.0} | {:.2} | {:.0} |",
            t.files,
            t.rows,
            per_day(t.bytes, samples),
            t.bytes as f64 / samples as f64,
            per_day(t.footers, samples)
        );
    }
    let mut cols: Vec<(String, u64)> = tables
        .iter()
        .flat_map(|(tn, t)| {
            t.columns
                .iter()
                .map(move |(c, b)| (format!("{tn}.{c}"), *b))
        })
        .collect();
    cols.sort_by_key(|c| std::cmp::Reverse(c.1));
    println!("\n| column (compressed chunks) | bytes/day | B/s | share |\n|---|---|---|---|");
    for (c, b) in cols.iter().take(25) {
        println!(
            "| {c} | {:.0} | {:.3} | {:.1} % |",
            per_day(*b, samples),
            *b as f64 / samples as f64,
            *b as f64 * 100.0 / bytes as f64
        );
    }
}

/// Replays a recorded data directory through the current writer (see the crate docs).
fn replay(src: &Path) {
    let original = StoreReader::open(src).unwrap().samples(None, None).unwrap();
    assert!(!original.is_empty(), "no samples in {}", src.display());
    let tmp = tempfile::tempdir().unwrap();
    let dir = std::env::var_os("STORE_BENCH_KEEP")
        .map_or_else(|| tmp.path().to_path_buf(), PathBuf::from);
    let mut bytes = 0;
    let mut segments = 0;
    let mut write_cpu = Duration::ZERO;
    let hour_of = |s: &stabmon_core::Sample| s.ts.as_unix_micros().div_euclid(3_600_000_000);
    for hour in original.chunk_by(|a, b| hour_of(a) == hour_of(b)) {
        let t = thread_cpu();
        let mut w = StoreWriter::create(&dir).unwrap();
        for s in hour {
            w.write(s).unwrap();
        }
        let summary = w.finish().unwrap();
        write_cpu += thread_cpu() - t;
        bytes += summary.bytes;
        segments += 1;
    }
    let samples = original.len() as u64;
    let (first, last) = (original[0].ts, original[original.len() - 1].ts);
    let rows: usize = original.iter().map(|s| s.top.processes.len()).sum();
    let names: usize = original.iter().map(|s| s.top.names.len()).sum();
    println!(
        "## store replay of {}: {samples} samples from {first} to {last} in {segments} hourly segments, {rows} process rows ({:.1}/sample), {names} name rows ({:.1}/sample)",
        src.display(),
        rows as f64 / samples as f64,
        names as f64 / samples as f64
    );
    println!(
        "total: {bytes} bytes = {:.1} bytes per recorded second = {:.2} MB/day if extrapolated (goal < 25 B/s, < 2 MB/day); writer CPU {:.1} us/sample",
        bytes as f64 / samples as f64,
        per_day(bytes, samples) / 1e6,
        write_cpu.as_secs_f64() * 1e6 / samples as f64
    );
    report(&dir, samples, bytes);
    let back = StoreReader::open(&dir)
        .unwrap()
        .samples(None, None)
        .unwrap();
    assert!(
        back == original,
        "the replayed samples do not read back equal"
    );
    println!("\nround trip: the {samples} samples read back equal");
}

fn main() {
    if let Some(dir) = std::env::var_os("STORE_BENCH_REPLAY") {
        replay(Path::new(&dir));
        return;
    }
    let quick = std::env::args().any(|a| a == "--quick");
    let hours: u64 = if quick { 2 } else { 24 };
    let start = Timestamp::from_unix_secs(1_795_564_800); // 2026-11-25T00:00:00Z
    let synth = Synth::new(start, Duration::from_secs(1))
        .count(hours * 3600)
        .host("bench-host")
        .seed(2)
        .processes(300)
        .top_n(10);

    // Generator cost alone, so that it is not mistaken for the writer's.
    let t = thread_cpu();
    let n = synth.iter().take(3600).count();
    let gen_cpu = thread_cpu() - t;

    // STORE_BENCH_KEEP=DIR keeps the day's files in DIR (which must not exist) for inspection with other tools.
    let keep = std::env::var_os("STORE_BENCH_KEEP").map(PathBuf::from);
    let tmp = tempfile::tempdir().unwrap();
    let dir_path = keep.unwrap_or_else(|| tmp.path().to_path_buf());
    let run = write_day(&dir_path, &synth, hours, WriterOptions::default());
    let samples = run.samples;
    println!(
        "## store bench: {} samples ({} h at 1 s, top 10, ~300 processes), {} process rows ({:.1}/sample), {} name rows ({:.1}/sample)",
        samples,
        hours,
        run.process_rows,
        run.process_rows as f64 / samples as f64,
        run.name_rows,
        run.name_rows as f64 / samples as f64
    );
    println!(
        "total: {} bytes = {:.0} bytes/day = {:.2} MB/day, {:.1} bytes per recorded second (goal < 25 B/s, < 2 MB/day; Python tool 6.2 MB/day)",
        run.bytes,
        per_day(run.bytes, samples),
        per_day(run.bytes, samples) / 1e6,
        run.bytes as f64 / samples as f64
    );
    println!(
        "writer CPU: {:.1} us/sample ({:.2} s total); synth generator alone: {:.1} us/sample",
        run.write_cpu.as_secs_f64() * 1e6 / samples as f64,
        run.write_cpu.as_secs_f64(),
        gen_cpu.as_secs_f64() * 1e6 / n as f64
    );

    report(&dir_path, samples, run.bytes);

    // Reads: the whole day and one hour (12:00-13:00, or the second hour in quick mode).
    let reader = StoreReader::open(&dir_path).unwrap();
    let mut whole = Vec::new();
    let mut hour = Vec::new();
    let from = start.saturating_add(Duration::from_secs(if quick { 3600 } else { 12 * 3600 }));
    let to = from.saturating_add(Duration::from_secs(3600));
    for _ in 0..3 {
        let t = Instant::now();
        let all = reader.samples(None, None).unwrap();
        whole.push(t.elapsed());
        assert_eq!(all.len() as u64, samples);
        drop(all);
        let t = Instant::now();
        let h = reader.samples(Some(from), Some(to)).unwrap();
        hour.push(t.elapsed());
        assert_eq!(h.len(), 3600);
    }
    println!(
        "\nread (median of 3, wall): whole range {:.2} s ({:.1} us/sample), one hour {:.3} s",
        median(whole.clone()).as_secs_f64(),
        median(whole).as_secs_f64() * 1e6 / samples as f64,
        median(hour).as_secs_f64()
    );

    // Hourly segments, as `stabmon record` writes them: the fixed costs per segment (footers, column chunks) are
    // paid 24 times a day.
    let d = tempfile::tempdir().unwrap();
    let hourly = write_hourly(d.path(), &synth, hours);
    println!(
        "\nhourly segments (as the flight recorder writes them): {hourly} bytes = {:.2} MB/day, {:.1} bytes per recorded second",
        per_day(hourly, samples) / 1e6,
        hourly as f64 / samples as f64
    );

    // Exits recorded on a quiet day, hourly segments like the line above: every sample says how many processes
    // exited (mostly none), and the quiet day's churn is a health check every 10 s and a cron job every minute
    // (cron, sh, run-parts) and an hourly logrotate, each exit detailed.
    let d = tempfile::tempdir().unwrap();
    let with_exits = write_hourly_with(d.path(), &synth, hours, |i, s| {
        s.exits = Some(quiet_exits(i, s.ts));
    });
    println!(
        "quiet day with exits recorded (~{:.2} exits/s), hourly segments: {with_exits} bytes = {:.2} MB/day, {:.1} \
         bytes per recorded second, {:.3}x the day without",
        (8640.0 + 3.0 * 1440.0 + 24.0) / 86_400.0,
        per_day(with_exits, samples) / 1e6,
        with_exits as f64 / samples as f64,
        with_exits as f64 / hourly as f64
    );

    // Variants through the public options, on the same data.
    if !quick {
        println!("\n| variant | bytes/day | writer us/sample |\n|---|---|---|");
        for (label, opts) in [
            ("zstd 1", WriterOptions::new().zstd_level(1)),
            ("zstd 3", WriterOptions::new().zstd_level(3)),
            ("zstd 9", WriterOptions::new().zstd_level(9)),
            (
                "row group 600 samples",
                WriterOptions::new().row_group_samples(600),
            ),
        ] {
            let d = tempfile::tempdir().unwrap();
            let r = write_day(d.path(), &synth, hours, opts);
            println!(
                "| {label} | {:.0} | {:.1} |",
                per_day(r.bytes, r.samples),
                r.write_cpu.as_secs_f64() * 1e6 / r.samples as f64
            );
        }
    }
}
