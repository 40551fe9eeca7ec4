//! Renders a stabmon HTML report from samples made in code, without a recorder or a data directory.
//!
//! Ten minutes at 1 s of a hand-made machine in which `backup` takes two cores for two minutes: the report labels
//! the spike with it. Writes `report-from-code.html` (or the path given).
//!
//! ```text
//! cargo run -p stabmon-examples --example report_from_code -- [OUT.html]
//! ```

use std::time::Duration;

use stabmon_core::{CpuUsage, Memory, ProcessEntry, Sample, Timestamp};
use stabmon_report::ReportBuilder;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let out = std::env::args()
        .nth(1)
        .unwrap_or_else(|| "report-from-code.html".to_owned());
    let t0 = Timestamp::from_unix_secs(1_795_576_320); // 2026-11-25T03:12:00Z
    let boot = t0.saturating_sub(Duration::from_secs(86_400));
    let samples: Vec<Sample> = (0..600u64)
        .map(|i| {
            let mut s = Sample::new(t0.saturating_add(Duration::from_secs(i)), "example-host");
            s.boot_time = boot;
            s.interval = Duration::from_secs(1);
            let spiking = (240..360).contains(&i);
            let backup_pct = if spiking { 200.0 } else { 1.0 };
            // Four cores: busy % of the machine is the processes' share of 400 %.
            s.cpu = CpuUsage::new((backup_pct + 20.0) / 4.0);
            s.memory = Memory::new(8 << 30, 5 << 30);
            s.process_count = 2;
            let mut backup = ProcessEntry::new(4242, "backup");
            backup.cmdline = Some("backup --all /srv".to_owned());
            backup.cpu_pct = backup_pct;
            backup.rss_bytes = 300 << 20;
            backup.start_time = boot;
            let mut web = ProcessEntry::new(1000, "nginx");
            web.cpu_pct = 20.0;
            web.rss_bytes = 100 << 20;
            web.start_time = boot;
            let (first, second) = if backup_pct > 20.0 {
                (backup, web)
            } else {
                (web, backup)
            };
            let mut first = first;
            let mut second = second;
            first.cpu_rank = Some(1);
            second.cpu_rank = Some(2);
            s.top.n = 2;
            s.top.processes = vec![first, second];
            s
        })
        .collect();

    let report = ReportBuilder::new().title("made in code").build();
    let mut file = std::io::BufWriter::new(std::fs::File::create(&out)?);
    let summary = report.write_html(&samples, &mut file)?;
    println!(
        "wrote {out}: {} samples, {} incident(s){}",
        summary.samples,
        summary.incidents.len(),
        summary
            .incidents
            .first()
            .map(|i| format!(", first: {}", i.label()))
            .unwrap_or_default()
    );
    Ok(())
}
