//! `stabmon record`: sample on a schedule and write every sample to the store until told to stop.

use std::process::ExitCode;
use std::thread;

use anyhow::Context;
use stabmon_core::units::format_duration;
use stabmon_probe::{Collector, SamplerKind, StopHandle};
use stabmon_store::{FlightRecorder, RecorderOptions, Retention};

use crate::{NetPreset, RecordArgs, SamplerArg, datadir};

/// After this many sampling errors in a row the recorder gives up (one may be a passing hiccup; ten are not).
const MAX_CONSECUTIVE_SAMPLE_ERRORS: u32 = 10;

fn log(msg: &str) {
    eprintln!("stabmon: {msg}");
}

/// Keeps the recorder's resident memory to what it uses (see [`crate::malloc`]). The hourly compaction peaked
/// 0.9 MiB higher without fixed thresholds (the recovery of a real hour's journal) and left ~4 MiB of freed heap
/// resident until the next one. Blocks of 64 KiB and more mapped on their own, free heap above 128 KiB given back,
/// cost no system call between compactions (strace, 1,600 processes) and one `mmap` per big block in them
/// (BENCHMARKS.md, "Recorder: peak memory"). One arena for every thread: the threads that read and render a mail
/// (and those a reading starts) would each get an arena of their own, whose freed blocks stay resident beside the
/// others'. One arena peaked 6-9 MiB lower for a mail of half an hour read back from Parquet, and a recorder
/// mailing three times in 10 minutes 1.9 MiB lower, at the same CPU per sample (BENCHMARKS.md, "Recorder: mail on
/// and off").
fn lean_malloc() {
    if !(crate::malloc::fixed_thresholds(64 << 10, 128 << 10) && crate::malloc::one_arena()) {
        log("could not set malloc's thresholds: memory use may be higher after each compaction");
    }
}

pub fn run(args: &RecordArgs) -> anyhow::Result<ExitCode> {
    lean_malloc();
    let data_dir = datadir::resolve(args.data.as_deref())?;
    datadir::ensure_writable(&data_dir)?;
    // Mail and webhook flags are checked before anything starts (bad input: exit 2).
    let notify_cfg = crate::notify::NotifyConfig::from_args(&args.notify)?;

    let sampler = match args.sampler {
        SamplerArg::Auto => SamplerKind::Auto,
        SamplerArg::Proc => SamplerKind::Proc,
        SamplerArg::Sysinfo => SamplerKind::Sysinfo,
    };
    let mut targets = args.targets.clone();
    if args.net == Some(NetPreset::Auto) {
        let preset = stabmon_probe::net_auto_targets();
        for note in &preset.notes {
            log(&format!("--net auto: {note}"));
        }
        for t in preset.targets {
            if targets.iter().any(|have| have.name() == t.name()) {
                log(&format!(
                    "--net auto: keeping your --target {} instead of the preset's {t}",
                    t.name()
                ));
            } else {
                targets.push(t);
            }
        }
    }
    // The /proc sampler keeps a file open per process: a recorder gets room for every process of a busy machine.
    stabmon_probe::raise_open_file_limit();
    let mut builder = Collector::builder()
        .interval(args.interval)
        .top_n(usize::from(args.top))
        .cpu_floor_pct(args.cpu_floor)
        .cmdline(!args.no_cmdline)
        .cmdline_max_bytes(args.cmdline_max)
        .sampler(sampler)
        .targets(targets)
        .probe_timeout(args.probe_timeout)
        // Every exit between two samples, from the kernel's exit records (Linux only).
        .exits(cfg!(target_os = "linux"));
    if let Some(every) = args.probe_interval {
        builder = builder.probe_interval(every);
    }
    let mut collector = match builder.build() {
        Ok(c) => c,
        // Two targets with one name: bad input, exit 2.
        Err(e @ stabmon_probe::Error::InvalidTarget { .. }) => {
            return Err(crate::UsageError(e.to_string()).into());
        }
        Err(e) => return Err(anyhow::Error::new(e).context("cannot start the sampler")),
    };
    if let Some(reason) = collector.exits_refused() {
        log(&format!(
            "exits are not recorded ({reason}); short-lived processes show only as their parent's reaped \
             children's CPU (recording exits needs root or CAP_NET_ADMIN, outside a container)"
        ));
    }
    // Only Linux has the kernel log (and the OOM-kill counter) stabmon reads.
    if let Err(why) = collector.kernel_log()
        && cfg!(target_os = "linux")
    {
        // One line: OOM kills are still counted, their victims guessed from the memory that vanished.
        log(&format!(
            "OOM victims are not read from the kernel log ({why}); an OOM kill's victim will be a guess"
        ));
    }
    let shipped = stabmon_store::ShippedFiles::new();
    let mut opts = RecorderOptions::new()
        .sync(args.sync)
        .rotate(args.rotate)
        .retention(
            Retention::new()
                .max_age(args.retain.0)
                .max_bytes(args.max_disk),
        );
    if args.ship.is_some() {
        // Retention keeps segments the bucket lacks past --retain; only --max-disk forces them out.
        opts = opts.keep_unshipped(shipped.clone());
    }
    let (mut recorder, recovery) = match FlightRecorder::open(&data_dir, opts) {
        Ok(r) => r,
        // Another recorder on the same directory: bad input, exit 2.
        Err(e @ stabmon_store::Error::Locked { .. }) => {
            return Err(crate::UsageError(e.to_string()).into());
        }
        Err(e) => {
            return Err(anyhow::Error::new(e)
                .context(format!("cannot open the store in {}", data_dir.display())));
        }
    };
    for w in &recovery.warnings {
        log(&format!("recovery: {w}"));
    }
    if recovery.journals > 0 {
        log(&format!(
            "recovered {} samples (up to {}) from {} journal(s) the previous run left{}",
            recovery.samples,
            recovery
                .last_sample
                .map_or_else(|| "-".to_owned(), |t| t.to_string()),
            recovery.journals,
            if recovery.clean_stops > 0 {
                " (it stopped cleanly)"
            } else {
                " (it did not stop cleanly)"
            }
        ));
    }

    // Digest and incident mail: a worker of its own, which sampling never waits for.
    let notifier = match notify_cfg {
        Some(cfg) => {
            log(&cfg.describe());
            Some(
                crate::notify::Notifier::start(cfg, &data_dir)
                    .context("cannot start the mail worker")?,
            )
        }
        None => None,
    };

    let mut shipper = match &args.ship {
        Some(url) => Some(
            crate::ship::start_shipper(&data_dir, url, args.rotate, shipped)
                .map_err(crate::UsageError)?,
        ),
        None => None,
    };

    let stop = collector.stop_handle();
    stop_on_signals(stop.clone()).context("cannot install the Ctrl-C/SIGTERM handler")?;
    if let Some(d) = args.duration {
        let stop = stop.clone();
        thread::Builder::new()
            .name("stabmon-duration".into())
            .spawn(move || {
                thread::sleep(d);
                stop.stop();
            })
            .context("cannot start the --duration timer")?;
    }

    log(&format!(
        "recording started: sampler {}, interval {}, top {} (by CPU from {} of a core), command lines {}, data dir \
         {}; {}",
        collector.sampler_name(),
        format_duration(args.interval),
        args.top,
        stabmon_core::human::pct(f64::from(args.cpu_floor)),
        if args.no_cmdline {
            "off".to_owned()
        } else {
            format!("up to {} bytes", args.cmdline_max)
        },
        data_dir.display(),
        match args.duration {
            Some(d) => format!("stopping after {}", format_duration(d)),
            None => "stop with Ctrl-C or SIGTERM".to_owned(),
        },
    ));
    if collector.targets().is_empty() {
        log(
            "no latency targets: network latency is not recorded (add --target NAME=URL, such as \
             --target gw=icmp://192.168.1.1, or --net auto)",
        );
    } else {
        let names: Vec<String> = collector
            .targets()
            .iter()
            .map(ToString::to_string)
            .collect();
        log(&format!(
            "probing {} every {} (timeout {}): {}",
            if names.len() == 1 {
                "1 target".to_owned()
            } else {
                format!("{} targets", names.len())
            },
            format_duration(collector.probe_interval()),
            format_duration(collector.probe_timeout()),
            names.join(", ")
        ));
    }

    let mut written: u64 = 0;
    let mut consecutive_errors = 0;
    // The first failure that ends recording early; the data written so far is still finished below.
    let mut failure: Option<anyhow::Error> = None;
    let mut target_states = TargetStates::default();
    let mut kernel_loss_logged = false;
    loop {
        match collector.next_sample() {
            Ok(Some(sample)) => {
                consecutive_errors = 0;
                // Write trouble (a full disk) never stops sampling: samples wait in memory, and each trouble
                // is logged once.
                for notice in recorder.record(&sample) {
                    log(&notice.to_string());
                }
                for change in target_states.update(&sample.latency) {
                    log(&change);
                }
                if let Some(n) = &notifier {
                    n.push(&sample);
                }
                if !kernel_loss_logged
                    && collector.lost_kernel_records() + collector.dropped_oom_kills() > 0
                {
                    kernel_loss_logged = true;
                    log(
                        "kernel log: records were lost before they were read (the kernel overwrote them): an OOM \
                         kill among them is not named from the log, and the vanished-memory guess stands in; the \
                         count is logged at the stop",
                    );
                }
                if let Some(shipper) = &mut shipper {
                    for n in shipper.notices(recorder.compaction_backlog()) {
                        log(&n);
                    }
                }
                written += 1;
            }
            Ok(None) => break,
            Err(e) => {
                consecutive_errors += 1;
                log(&format!("error: sampling failed: {e}"));
                if consecutive_errors >= MAX_CONSECUTIVE_SAMPLE_ERRORS {
                    failure = Some(anyhow::Error::new(e).context(format!(
                        "sampling failed {MAX_CONSECUTIVE_SAMPLE_ERRORS} times in a row"
                    )));
                    break;
                }
            }
        }
    }

    let dropped = recorder.dropped();
    // The mail worker is asked to stop now, without waiting (it is waited for once the data is finished): an idle
    // worker frees its look-back of samples before the last compaction needs memory.
    if let Some(n) = &notifier {
        n.request_stop();
    }
    let stopped = recorder.stop(stabmon_core::Timestamp::now());
    // The segments compacted at stop go up in a last round, bounded in time; what does not wait in the data
    // directory for the next start (or `stabmon ship`).
    if let Some(mut shipper) = shipper {
        for n in shipper.notices(0) {
            log(&n);
        }
        log(&shipper.finish());
    }
    match stopped {
        Ok(summary) => {
            for w in &summary.warnings {
                log(w);
            }
            log(&format!(
                "recording stopped: {} samples ({} dropped while the disk could not be written) in {}{}",
                summary.samples,
                dropped,
                data_dir.display(),
                losses(
                    collector.lost_kernel_records(),
                    collector.dropped_oom_kills(),
                    collector.dropped_probes()
                )
            ))
        }
        Err(e) => {
            let e = anyhow::Error::new(e).context(format!(
                "cannot finish the data files in {} after {written} samples",
                data_dir.display()
            ));
            // Report the first failure as the cause, and this one beside it.
            return Err(match failure {
                Some(first) => first.context(crate::one_line_error(&e)),
                None => e,
            });
        }
    }
    // The data is finished first: a mail being sent cannot delay it.
    if let Some(n) = notifier {
        n.stop();
    }
    match failure {
        Some(e) => Err(e),
        None => Ok(ExitCode::SUCCESS),
    }
}

/// Remembers how each latency target's last probe ended, to log a line only when that changes (a target that
/// starts failing, fails differently, or recovers), not at every probe: failures are data, recorded anyway.
#[derive(Debug, Default)]
struct TargetStates {
    last: std::collections::HashMap<String, stabmon_core::ProbeOutcome>,
}

impl TargetStates {
    fn update(&mut self, probes: &[stabmon_core::LatencyProbe]) -> Vec<String> {
        let mut lines = Vec::new();
        for p in probes {
            let before = self.last.insert(p.target.clone(), p.outcome.clone());
            let changed = match &before {
                None => !p.outcome.is_ok(),
                Some(b) => b != &p.outcome && !(b.is_ok() && p.outcome.is_ok()),
            };
            if !changed {
                continue;
            }
            lines.push(if p.outcome.is_ok() {
                format!("latency: target {} answers again", p.target)
            } else {
                format!(
                    "latency: target {} failed ({}) at {}; recording goes on",
                    p.target, p.outcome, p.ts
                )
            });
        }
        lines
    }
}

/// Stops the collector on SIGINT (Ctrl-C) or SIGTERM, so that the store is finished and the exit status is 0.
/// A second signal while finishing exits at once, with status 130.
#[cfg(unix)]
fn stop_on_signals(stop: StopHandle) -> std::io::Result<()> {
    use signal_hook::consts::{SIGINT, SIGTERM};
    use signal_hook::iterator::Signals;

    let mut signals = Signals::new([SIGINT, SIGTERM])?;
    thread::Builder::new()
        .name("stabmon-signals".into())
        .spawn(move || {
            let mut seen = 0;
            for sig in signals.forever() {
                seen += 1;
                let name = if sig == SIGINT { "SIGINT" } else { "SIGTERM" };
                if seen == 1 {
                    log(&format!("{name} received: finishing the data file"));
                    stop.stop();
                } else {
                    log(&format!(
                        "{name} received again: exiting without finishing the data file"
                    ));
                    std::process::exit(130);
                }
            }
        })?;
    Ok(())
}

/// Stops the collector on Ctrl-C (and SIGTERM where the platform has it).
#[cfg(not(unix))]
fn stop_on_signals(stop: StopHandle) -> std::io::Result<()> {
    use std::sync::Arc;
    use std::sync::atomic::{AtomicBool, Ordering};

    let flag = Arc::new(AtomicBool::new(false));
    signal_hook::flag::register(signal_hook::consts::SIGINT, Arc::clone(&flag))?;
    signal_hook::flag::register(signal_hook::consts::SIGTERM, Arc::clone(&flag))?;
    thread::Builder::new()
        .name("stabmon-signals".into())
        .spawn(move || {
            while !flag.load(Ordering::Relaxed) {
                thread::sleep(std::time::Duration::from_millis(50));
            }
            log("interrupted: finishing the data file");
            stop.stop();
        })?;
    Ok(())
}

/// What the collector lost on the way, for the stop line: `""` when nothing was.
fn losses(kernel_records: u64, oom_kills: u64, probes: u64) -> String {
    let parts: Vec<String> = [
        (
            kernel_records,
            "kernel log record(s) overwritten before they were read",
        ),
        (oom_kills, "OOM kill(s) dropped"),
        (probes, "latency probe(s) dropped"),
    ]
    .into_iter()
    .filter(|(n, _)| *n > 0)
    .map(|(n, what)| format!("{n} {what}"))
    .collect();
    if parts.is_empty() {
        String::new()
    } else {
        format!("; lost: {}", parts.join(", "))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn target_changes_are_logged_once() {
        use stabmon_core::{LatencyProbe, ProbeOutcome, Timestamp};
        let at = Timestamp::from_unix_secs;
        let mut st = TargetStates::default();
        // A healthy first probe says nothing; the first failure does, once.
        assert!(st.update(&[LatencyProbe::ok("web", at(0), 1.0)]).is_empty());
        let fail = |s| LatencyProbe::new("web", at(s), ProbeOutcome::Timeout);
        let lines = st.update(&[fail(1), fail(2)]);
        assert_eq!(lines.len(), 1, "{lines:?}");
        assert!(
            lines[0].contains("target web failed (timeout)"),
            "{lines:?}"
        );
        // Failing differently is news; recovering too.
        let lines = st.update(&[LatencyProbe::new("web", at(3), ProbeOutcome::Refused)]);
        assert_eq!(lines.len(), 1);
        let lines = st.update(&[
            LatencyProbe::ok("web", at(4), 2.0),
            LatencyProbe::ok("web", at(5), 3.0),
        ]);
        assert_eq!(lines, ["latency: target web answers again"]);
        // A target that fails from the start is logged at its first probe.
        let lines = st.update(&[LatencyProbe::new(
            "gw",
            at(6),
            ProbeOutcome::Other("no ICMP".into()),
        )]);
        assert!(lines[0].contains("gw failed (other: no ICMP)"), "{lines:?}");
    }

    #[test]
    fn the_stop_line_names_what_was_lost_and_only_that() {
        assert_eq!(super::losses(0, 0, 0), "");
        assert_eq!(
            super::losses(3, 0, 12),
            "; lost: 3 kernel log record(s) overwritten before they were read, 12 latency probe(s) dropped"
        );
        assert_eq!(super::losses(0, 1, 0), "; lost: 1 OOM kill(s) dropped");
    }
}
