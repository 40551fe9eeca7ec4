//! Renders a report of a synthetic recording: `cargo run -p stabmon-report --example synth_report -- OUT.html [HOURS]`.
//!
//! The series has CPU hogs, a memory leak that ends in an OOM kill, a crash gap and a reboot, so every part of the
//! page shows.
use std::time::Duration;

use stabmon_core::Timestamp;
use stabmon_core::synth::Synth;
use stabmon_report::ReportBuilder;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut args = std::env::args().skip(1);
    let out = args.next().unwrap_or_else(|| "report.html".to_owned());
    let hours: u64 = args.next().map(|h| h.parse()).transpose()?.unwrap_or(6);
    let start = Timestamp::from_unix_secs(1_795_564_800 - 3600); // 2026-11-25 00:00 in Berlin
    let at = |s: u64| start.saturating_add(Duration::from_secs(s));
    let span = hours * 3600;
    let samples = Synth::new(start, Duration::from_secs(1))
        .count(span)
        .host("web-1")
        .cpu_hog(
            "xmrig",
            "./xmrig -o pool.example:3333 --threads 2",
            at(span / 8),
            at(span / 8 + 600),
            190.0,
        )
        .cpu_hog(
            "ffmpeg",
            "ffmpeg -i in.mkv -c:v libx264 out.mp4",
            at(span / 3),
            at(span / 3 + 900),
            150.0,
        )
        .memory_leak(
            "leaky",
            "/opt/leaky/bin/leaky --serve",
            at(span / 2),
            at(span / 2 + 300),
            40 << 20,
        )
        .gap(at(span * 2 / 3), at(span * 2 / 3 + 120))
        .gap(at(span * 5 / 6), at(span * 5 / 6 + 300))
        .reboot(at(span * 5 / 6 + 300))
        .generate();
    let report = ReportBuilder::new().build();
    let mut file = std::io::BufWriter::new(std::fs::File::create(&out)?);
    let summary = report.write_html(&samples, &mut file)?;
    eprintln!(
        "{out}: {} bytes, {} incidents",
        summary.bytes,
        summary.incidents.len()
    );
    for inc in &summary.incidents {
        eprintln!("  {} {}", inc.start, inc.label());
    }
    Ok(())
}
