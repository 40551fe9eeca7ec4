//! Reads a data directory written by `stabmon record` and prints the process that used the most CPU in a range.
//!
//! The range is the last `MINUTES` of the data (default 60). CPU seconds are summed per process identity (pid and
//! start time) from the top lists of each sample: a process's `cpu_pct` over the sample's interval.
//!
//! ```text
//! stabmon record --data ./data --duration 30s
//! cargo run -p stabmon-examples --example top_process -- ./data [MINUTES]
//! ```

use std::collections::HashMap;
use std::time::Duration;

use stabmon_store::StoreReader;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut args = std::env::args().skip(1);
    let dir = args.next().ok_or("usage: top_process DATA_DIR [MINUTES]")?;
    let minutes: u64 = args.next().map_or(Ok(60), |a| a.parse())?;

    let reader = StoreReader::open(&dir)?;
    let hosts = reader.hosts();
    let Some(host) = hosts.first() else {
        println!("no samples in {dir}");
        return Ok(());
    };
    let reader = reader.with_host(host.clone());
    let all = reader.samples(None, None)?;
    let Some(last) = all.last() else {
        println!("no samples of {host} in {dir}");
        return Ok(());
    };
    let from = last.ts.saturating_sub(Duration::from_secs(minutes * 60));
    let samples = reader.samples(Some(from), None)?;

    // (pid, start time) -> (name, CPU seconds)
    let mut used: HashMap<(u32, i64), (String, f64)> = HashMap::new();
    for s in &samples {
        for p in &s.top.processes {
            let e = used
                .entry((p.pid, p.start_time.as_unix_micros()))
                .or_insert_with(|| (p.name.clone(), 0.0));
            e.1 += f64::from(p.cpu_pct) / 100.0 * s.interval.as_secs_f64();
        }
    }
    match used.iter().max_by(|a, b| a.1.1.total_cmp(&b.1.1)) {
        Some(((pid, _), (name, secs))) => println!(
            "{host}, {} samples from {} to {}: {name} (pid {pid}) used the most CPU, {secs:.1} s",
            samples.len(),
            from,
            last.ts
        ),
        None => println!("{host}: no process entries from {from} to {}", last.ts),
    }
    Ok(())
}
