//! Reads a data directory written by `stabmon record` and prints the process that used the most CPU in a range.
//!
//! The range is the last `MINUTES` of the data (default 60), ending at its newest sample, chosen as the `stabmon`
//! commands choose it (from the data's coverage, without reading samples). CPU seconds are added up row group by
//! row group by [`StoreReader::usage`], per name and per process identity (pid and start time) from the top lists
//! of each sample: memory stays bounded whatever the range.
//!
//! ```text
//! stabmon record --data ./data --duration 30s
//! cargo run -p stabmon-examples --example top_process -- ./data [MINUTES]
//! ```

use std::time::Duration;

use stabmon_store::{DefaultRange, StoreReader};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut args = std::env::args().skip(1);
    let dir = args.next().ok_or("usage: top_process DATA_DIR [MINUTES]")?;
    let minutes: u64 = args.next().map_or(Ok(60), |a| a.parse())?;

    let reader = StoreReader::open(&dir)?;
    let Some(host) = reader.hosts().into_iter().next() else {
        println!("no samples in {dir}");
        return Ok(());
    };
    let last = DefaultRange::Last(Duration::from_secs(minutes * 60));
    let (from, to) = reader.resolve_range(
        Some(&host),
        None,
        None,
        last,
        stabmon_core::Timestamp::now(),
    )?;
    let usage = reader.usage(&host, Some(from), Some(to))?;
    for w in reader.warnings() {
        eprintln!("warning: {w}");
    }
    let busiest = usage
        .names
        .iter()
        .flat_map(|n| n.pids.iter().map(move |p| (n, p)))
        .max_by(|a, b| a.1.cpu_seconds.total_cmp(&b.1.cpu_seconds));
    match busiest {
        Some((name, p)) => println!(
            "{host}, {} samples from {from} to {to}: {} (pid {}) used the most CPU, {:.1} s",
            usage.samples, name.name, p.pid, p.cpu_seconds
        ),
        None => println!("{host}: no process entries from {from} to {to}"),
    }
    Ok(())
}
