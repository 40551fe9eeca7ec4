//! Incident detection and per-pixel downsampling over a synthetic week at 1 s with top 10.
//!
//! Generates the series first (not timed; its generation time and the process's peak RSS are printed), with one
//! injected incident a day (CPU hogs, a leak ending in an OOM kill, a storm of short workers, a gap and a reboot),
//! then times, in the same run, median of `STABMON_BENCH_RUNS` runs (default 5):
//!
//! - `detect_incidents` over the whole series (with culprit attribution);
//! - extracting the CPU column (timestamps and values) from the samples, as a report does;
//! - `downsample_minmax` of that column to 1,600 columns, keeping the incident peaks.
//!
//! It then checks that every injected incident was found with the right culprit and prints the incidents. Run:
//! `cargo bench -p stabmon-benches --bench analysis`. Environment: `STABMON_BENCH_SECS` (series length in seconds,
//! default 604800, a week), `STABMON_BENCH_PROCS` (simulated processes, default 300), `STABMON_BENCH_RUNS`.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::time::{Duration, Instant};

use stabmon_core::analysis::{
    DetectOptions, GapKind, IncidentKind, detect_incidents, downsample_minmax,
};
use stabmon_core::synth::Synth;
use stabmon_core::{Sample, Timestamp};

fn env_u64(name: &str, default: u64) -> u64 {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

/// Peak resident memory of this process (Linux `VmHWM`), in MiB; 0 elsewhere.
fn peak_rss_mib() -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("VmHWM:"))
                .and_then(|l| l.split_whitespace().nth(1))
                .and_then(|kb| kb.parse::<u64>().ok())
        })
        .map_or(0, |kb| kb / 1024)
}

fn median(mut v: Vec<Duration>) -> Duration {
    v.sort();
    v[v.len() / 2]
}

fn ms(d: Duration) -> String {
    format!("{:.1} ms", d.as_secs_f64() * 1e3)
}

fn main() {
    let secs = env_u64("STABMON_BENCH_SECS", 604_800);
    let procs = env_u64("STABMON_BENCH_PROCS", 300) as usize;
    let runs = env_u64("STABMON_BENCH_RUNS", 5).max(1);
    let start = Timestamp::from_unix_secs(1_795_564_800); // 2026-11-25T00:00:00Z
    let at = |s: u64| start.saturating_add(Duration::from_secs(s));
    let day = 86_400;
    let h = 3600;

    // One incident a day (as far as the series reaches), each with the culprit it must get.
    let mut synth = Synth::new(start, Duration::from_secs(1))
        .count(secs)
        .processes(procs)
        .seed(11);
    let mut expected: Vec<(IncidentKind, Timestamp, &str)> = Vec::new();
    let mut add = |d: u64,
                   f: &dyn Fn(Synth) -> Synth,
                   kind: IncidentKind,
                   name: &'static str,
                   s: &mut Synth| {
        if (d + 1) * day <= secs {
            *s = f(s.clone());
            expected.push((kind, at(d * day), name));
        }
    };
    add(
        0,
        &|s| {
            s.cpu_hog(
                "xmrig",
                "./xmrig -o pool.example:3333",
                at(3 * h),
                at(3 * h + 1200),
                190.0,
            )
        },
        IncidentKind::CpuSurge,
        "xmrig",
        &mut synth,
    );
    add(
        1,
        &|s| {
            s.memory_leak(
                "leaky",
                "/opt/leaky/bin/leaky --serve",
                at(day + 14 * h),
                at(day + 14 * h + 150),
                40 << 20,
            )
        },
        IncidentKind::MemoryClimb,
        "leaky",
        &mut synth,
    );
    add(1, &|s| s, IncidentKind::OomKill, "leaky", &mut synth);
    add(
        2,
        &|s| {
            s.worker_storm(
                "php-fpm8.2",
                "php-fpm: pool www",
                at(2 * day + 10 * h),
                at(2 * day + 10 * h + 900),
                40,
                4.0,
                Duration::from_secs(3),
            )
        },
        IncidentKind::CpuSurge,
        "php-fpm8.2",
        &mut synth,
    );
    add(
        3,
        &|s| s.gap(at(3 * day + 2 * h), at(3 * day + 2 * h + 300)),
        IncidentKind::Gap(GapKind::Died),
        "",
        &mut synth,
    );
    add(
        4,
        &|s| {
            s.gap(at(4 * day + 4 * h), at(4 * day + 4 * h + 120))
                .reboot(at(4 * day + 4 * h + 120))
        },
        IncidentKind::Gap(GapKind::Rebooted),
        "",
        &mut synth,
    );
    add(
        5,
        &|s| {
            s.cpu_hog(
                "ffmpeg",
                "ffmpeg -i in.mkv -c:v libx264 out.mp4",
                at(5 * day + 20 * h),
                at(5 * day + 20 * h + 300),
                187.0,
            )
        },
        IncidentKind::CpuSurge,
        "ffmpeg",
        &mut synth,
    );
    add(
        6,
        &|s| s.swap_climb(at(6 * day + 9 * h), at(6 * day + 9 * h + 600), 1 << 20),
        IncidentKind::SwapGrowth,
        "",
        &mut synth,
    );

    println!("# analysis bench: {secs} samples at 1 s, {procs} simulated processes, top 10");
    let t = Instant::now();
    let samples: Vec<Sample> = synth.generate();
    let generated = t.elapsed();
    println!(
        "generated {} samples in {:.1} s (not timed below); peak RSS after generation: {} MiB",
        samples.len(),
        generated.as_secs_f64(),
        peak_rss_mib()
    );

    let opts = DetectOptions::default();
    let mut detect_times = Vec::new();
    let mut incidents = Vec::new();
    for _ in 0..runs {
        let t = Instant::now();
        incidents = detect_incidents(std::hint::black_box(&samples), &opts);
        detect_times.push(t.elapsed());
    }

    let mut extract_times = Vec::new();
    let mut cols = (Vec::new(), Vec::new());
    for _ in 0..runs {
        let t = Instant::now();
        let ts: Vec<i64> = samples.iter().map(|s| s.ts.as_unix_micros()).collect();
        let cpu: Vec<f64> = samples.iter().map(|s| f64::from(s.cpu.busy_pct)).collect();
        extract_times.push(t.elapsed());
        cols = (ts, cpu);
    }
    let keep: Vec<i64> = incidents.iter().map(|i| i.peak.as_unix_micros()).collect();
    let mut down_times = Vec::new();
    let mut kept = Vec::new();
    for _ in 0..runs {
        let t = Instant::now();
        kept = downsample_minmax(std::hint::black_box(&cols.0), &cols.1, 1600, &keep);
        down_times.push(t.elapsed());
    }

    println!();
    println!("| step | median of {runs} | per sample |");
    println!("|---|---|---|");
    for (name, times) in [
        ("detect_incidents (with culprits)", &detect_times),
        ("extract ts + CPU columns", &extract_times),
        ("downsample_minmax to 1,600 columns", &down_times),
    ] {
        let m = median(times.clone());
        println!(
            "| {name} | {} | {:.0} ns |",
            ms(m),
            m.as_secs_f64() * 1e9 / samples.len().max(1) as f64
        );
    }
    println!();
    println!(
        "downsampled {} points to {} ({:.2} per column, {} incident peaks kept)",
        samples.len(),
        kept.len(),
        kept.len() as f64 / 1600.0,
        keep.len()
    );
    println!("peak RSS: {} MiB", peak_rss_mib());

    println!();
    println!("{} incidents:", incidents.len());
    for i in &incidents {
        println!(
            "  {} {:>6}s {:<14} {} | {}",
            i.start,
            i.duration().as_secs(),
            i.kind.to_string(),
            i.summary,
            i.label()
        );
    }
    let mut missing = 0;
    for (kind, day_start, name) in &expected {
        let day_end = day_start.saturating_add(Duration::from_secs(day));
        let found = incidents.iter().any(|i| {
            i.kind == *kind
                && i.start >= *day_start
                && i.start < day_end
                && i.culprit.as_ref().map_or("", |c| c.name.as_str()) == *name
        });
        if !found {
            missing += 1;
            println!("MISSING: {kind:?} on {day_start} with culprit {name:?}");
        }
    }
    let unexpected = incidents.len().saturating_sub(expected.len());
    println!(
        "{} of {} injected incidents found with the right culprit; {} other incidents",
        expected.len() - missing,
        expected.len(),
        unexpected
    );
}
