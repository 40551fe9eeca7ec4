//! Embeds the collector in another tool and reacts to a CPU spike.
//!
//! Takes a bounded number of samples at a short interval and prints the moment the machine's CPU crosses a
//! threshold, with the process that used the most CPU at that sample. Reads only the local machine.
//!
//! ```text
//! cargo run -p stabmon-examples --example spike_watch -- [THRESHOLD_PCT] [SAMPLES]
//! ```

use std::time::Duration;

use stabmon_probe::{Collector, SamplerKind};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut args = std::env::args().skip(1);
    let threshold_pct: f32 = args.next().map_or(Ok(80.0), |a| a.parse())?;
    let samples: u32 = args.next().map_or(Ok(20), |a| a.parse())?;

    let mut collector = Collector::builder()
        .interval(Duration::from_millis(250))
        .top_n(3)
        .sampler(SamplerKind::Auto)
        .build()?;
    let mut above = false;
    for _ in 0..samples {
        let Some(sample) = collector.next_sample()? else {
            break; // stopped from elsewhere (a StopHandle)
        };
        let busy = sample.cpu.busy_pct;
        // React on the crossing only, not on every sample above it.
        if busy >= threshold_pct && !above {
            let top = sample
                .top
                .processes
                .iter()
                .filter(|p| p.cpu_rank.is_some())
                .min_by_key(|p| p.cpu_rank);
            match top {
                Some(p) => println!(
                    "{}: CPU {busy:.0}% >= {threshold_pct}%: top is {} (pid {}) at {:.0}% of a core",
                    sample.ts, p.name, p.pid, p.cpu_pct
                ),
                None => println!("{}: CPU {busy:.0}% >= {threshold_pct}%", sample.ts),
            }
        } else if busy < threshold_pct && above {
            println!("{}: CPU back to {busy:.0}%", sample.ts);
        }
        above = busy >= threshold_pct;
    }
    Ok(())
}
