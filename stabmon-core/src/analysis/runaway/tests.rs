#![allow(clippy::unwrap_used)]

use std::cell::Cell;
use std::time::Duration;

use crate::analysis::{
    DetectOptions, Incident, IncidentKind, SpanMemo, detect_incident_spans_in, detect_incidents,
    detect_incidents_in,
};
use crate::attribution::{ProcessDetails, ProcessStat, attribute};
use crate::sample::{CpuUsage, ExitedName, Exits, Sample};
use crate::series::{SystemSeries, WindowSource};
use crate::time::Timestamp;

fn t0() -> Timestamp {
    Timestamp::from_unix_secs(1_795_575_600) // 2026-11-25T03:00:00Z
}

fn at(s: u64) -> Timestamp {
    t0().saturating_add(Duration::from_secs(s))
}

/// A process of a synthetic machine: pid, name, start second (0: before the recording), and its CPU (% of one core) at each second.
struct Proc {
    pid: u32,
    name: &'static str,
    start: u64,
    cpu: Box<dyn Fn(u64) -> Option<f32>>,
}

fn proc(
    pid: u32,
    name: &'static str,
    start: u64,
    cpu: impl Fn(u64) -> Option<f32> + 'static,
) -> Proc {
    Proc {
        pid,
        name,
        start,
        cpu: Box::new(cpu),
    }
}

/// Small CPU noise, deterministic: 0..2 % of a core.
fn noise(i: u64, salt: u64) -> f32 {
    ((i * 7919 + salt * 104_729) % 5) as f32 * 0.5
}

/// The background of a quiet machine: a dozen daemons using a little CPU each.
fn daemons() -> Vec<Proc> {
    let names = [
        "sshd",
        "systemd",
        "cron",
        "rsyslogd",
        "dbus-daemon",
        "nginx",
        "postgres",
        "redis-server",
        "containerd",
        "chronyd",
        "journald",
        "udevd",
    ];
    names
        .iter()
        .enumerate()
        .map(|(k, n)| proc(100 + k as u32, n, 0, move |i| Some(noise(i, k as u64))))
        .collect()
}

/// `secs` samples at 1 s of a machine with `cores` cores running `procs` (top 10 recorded); the machine's busy
/// share is the processes' sum spread over the cores.
fn machine(cores: usize, secs: u64, procs: &[Proc]) -> Vec<Sample> {
    (0..secs)
        .map(|i| {
            let mut s = Sample::new(at(i), "box");
            s.interval = Duration::from_secs(1);
            s.boot_id = Some("boot-1".to_owned());
            s.boot_time = at(0).saturating_sub(Duration::from_secs(86_400));
            let stats: Vec<ProcessStat<'_>> = procs
                .iter()
                .filter(|p| p.start <= i)
                .filter_map(|p| {
                    let cpu = (p.cpu)(i)?;
                    // Start 0: running before the recording began.
                    let born = match p.start {
                        0 => at(0).saturating_sub(Duration::from_secs(3600)),
                        s => at(s),
                    };
                    let mut st = ProcessStat::new(p.pid, p.name, born);
                    st.cpu_pct = cpu;
                    st.children_cpu_pct = Some(0.0);
                    st.rss_bytes = 50 << 20;
                    Some(st)
                })
                .collect();
            let total: f32 = stats.iter().map(|p| p.cpu_pct).sum();
            let busy = (total / cores as f32).min(100.0);
            s.cpu = CpuUsage::new(busy);
            s.per_core = vec![CpuUsage::new(busy); cores];
            s.top = attribute(10, &stats, |p| {
                ProcessDetails::new(Some(format!("/usr/bin/{} --run", p.name)), None)
            });
            s
        })
        .collect()
}

/// Whole samples read from a slice, as a store reader would, counting the samples read.
struct Source<'a>(&'a [Sample], Cell<usize>);

impl WindowSource for Source<'_> {
    fn samples_between(&self, from: Timestamp, to: Timestamp) -> Result<Vec<Sample>, crate::Error> {
        let got = self.0.samples_between(from, to)?;
        self.1.set(self.1.get() + got.len());
        Ok(got)
    }
}

/// The incidents of `samples` in memory and through the series' columns, which must agree.
fn incidents(samples: &[Sample]) -> Vec<Incident> {
    let opts = DetectOptions::default();
    let direct = detect_incidents(samples, &opts);
    let series = SystemSeries::from_samples(samples);
    let columns = detect_incidents_in(&series, &Source(samples, Cell::new(0)), &opts).unwrap();
    assert_eq!(direct, columns);
    // Without culprits: the same incidents, only runaways named; called again with the same memo, nothing read.
    let source = Source(samples, Cell::new(0));
    let mut memo = SpanMemo::default();
    let spans = detect_incident_spans_in(&series, &source, &opts, &mut memo).unwrap();
    assert_eq!(spans.len(), direct.len(), "{spans:#?}");
    for (s, d) in spans.iter().zip(&direct) {
        let mut d = d.clone();
        if d.kind != IncidentKind::Runaway {
            d.culprit = None;
        }
        assert_eq!(*s, d);
    }
    let read = source.1.get();
    let again = detect_incident_spans_in(&series, &source, &opts, &mut memo).unwrap();
    assert_eq!(again, spans);
    assert_eq!(source.1.get(), read);
    direct
}

fn labels(incidents: &[Incident]) -> Vec<String> {
    incidents.iter().map(Incident::label).collect()
}

/// A single-threaded loop, pid 4123, born at second `from`, at 97-100 % of a core for `secs` seconds.
fn burner(from: u64, secs: u64) -> Proc {
    proc(4123, "ffmpeg", from, move |i| {
        (i < from + secs).then(|| 97.0 + noise(i, 99) * 1.5)
    })
}

#[test]
fn a_single_core_runaway_is_an_incident_on_2_16_and_64_cores() {
    for cores in [2, 16, 64] {
        let mut procs = daemons();
        procs.push(burner(900, 180));
        let got = incidents(&machine(cores, 1500, &procs));
        assert_eq!(got.len(), 1, "{cores} cores: {got:#?}");
        let inc = &got[0];
        let c = inc.culprit.as_ref().unwrap();
        assert_eq!(
            (c.name.as_str(), c.pid),
            ("ffmpeg", Some(4123)),
            "{cores} cores"
        );
        assert_eq!(c.cmdline.as_deref(), Some("/usr/bin/ffmpeg --run"));
        assert_eq!(inc.start, at(900), "{cores} cores");
        assert_eq!(inc.end, at(1079), "{cores} cores");
        if cores == 2 {
            // Half of a 2-core machine is also a machine-level surge: one incident, the surge, naming it.
            assert_eq!(inc.kind, IncidentKind::CpuSurge, "{inc:#?}");
            assert_eq!(inc.label(), "ffmpeg (pid 4123) 98% CPU");
        } else {
            assert_eq!(inc.kind, IncidentKind::Runaway, "{cores} cores: {inc:#?}");
            assert_eq!(
                inc.label(),
                "ffmpeg (pid 4123) 98% of a core for 2 min 59 s",
                "{cores} cores"
            );
            assert_eq!(
                inc.summary,
                "ffmpeg (pid 4123) 98% of a core for 2 min 59 s (before: 0%)"
            );
        }
    }
}

#[test]
fn a_runaway_shorter_than_the_minimum_or_below_most_of_a_core_is_none() {
    // 8 s at 100 %, then a process at 80 % for 5 minutes: neither is a runaway (on 16 cores, no surge either).
    let mut procs = daemons();
    procs.push(burner(900, 8));
    procs.push(proc(5000, "gzip", 1000, |i| (i < 1300).then_some(80.0)));
    let got = incidents(&machine(16, 1500, &procs));
    assert!(got.is_empty(), "{got:#?}");
}

#[test]
fn a_steady_busy_jvm_is_no_incident_but_a_new_process_beside_it_is() {
    // A JVM at 130-170 % all day (started before the recording), restarted once with a new pid at the same level.
    let jvm = |pid: u32, from: u64, to: u64| {
        proc(pid, "java", from, move |i| {
            (i < to).then(|| 150.0 + 20.0 * ((i as f32) * 0.05).sin() + noise(i, 7))
        })
    };
    let mut procs = daemons();
    procs.push(jvm(812, 0, 3000));
    procs.push(jvm(813, 3000, 7200));
    for cores in [2, 16, 64] {
        let got = incidents(&machine(cores, 7200, &procs));
        assert!(got.is_empty(), "{cores} cores: {got:#?}");
    }
    // A new process at 100 % for 10 minutes beside it is (the JVM stays the busiest process throughout).
    procs.push(burner(5000, 600));
    let got = incidents(&machine(16, 7200, &procs));
    assert_eq!(
        labels(&got),
        ["ffmpeg (pid 4123) 98% of a core for 9 min 59 s"],
        "{got:#?}"
    );
    assert_eq!(got[0].kind, IncidentKind::Runaway);
}

#[test]
fn a_group_of_short_lived_processes_of_one_name_is_a_runaway_of_the_name() {
    // A build: cc1 processes of 4 s each, two at a time at 95 %, for 5 minutes on 64 cores.
    let mut procs = daemons();
    for k in 0..150u64 {
        let from = 900 + 2 * k;
        procs.push(proc(20_000 + k as u32, "cc1", from, move |i| {
            (i < from + 4).then(|| 90.0 + noise(i, k))
        }));
    }
    let got = incidents(&machine(64, 1500, &procs));
    assert_eq!(got.len(), 1, "{got:#?}");
    let c = got[0].culprit.as_ref().unwrap();
    assert_eq!((c.name.as_str(), c.pid), ("cc1", None), "{got:#?}");
    assert!(c.process_count >= 2, "{c:?}");
    assert_eq!(got[0].kind, IncidentKind::Runaway);
    assert!(got[0].label().starts_with("cc1 (x"), "{}", got[0].label());
}

/// Records, in every sample, that no process exited, and from second `from` for `secs` seconds that `per_sec`
/// processes named `name` exited each second with `cpu_pct` of CPU between them (added to the machine's busy share).
fn with_exit_storm(
    samples: &mut [Sample],
    name: &str,
    (from, secs): (usize, usize),
    per_sec: u32,
    cpu_pct: f32,
) {
    for (i, s) in samples.iter_mut().enumerate() {
        let mut exits = Exits::default();
        if (from..from + secs).contains(&i) {
            let mut n = ExitedName::new(name);
            n.count = per_sec;
            n.cpu_time = Duration::from_secs_f32(cpu_pct / 100.0);
            exits.count = per_sec;
            exits.names.push(n);
            let cores = s.per_core.len() as f32;
            s.cpu.busy_pct += cpu_pct / cores;
            s.per_core = vec![s.cpu; s.per_core.len()];
        }
        s.exits = Some(exits);
    }
}

#[test]
fn a_storm_of_short_lived_workers_is_a_runaway_of_their_name_whatever_the_machine() {
    // php-cgi workers that each live under a second, 4 exiting every second with 1.7 s of CPU between them, for
    // 40 s: never listed by a sample, and on 16 cores 11 % of the machine, under its floor. Named by their exits.
    for cores in [2, 16, 64] {
        let mut samples = machine(cores, 1500, &daemons());
        with_exit_storm(&mut samples, "php-cgi", (900, 40), 4, 170.0);
        let got = incidents(&samples);
        assert_eq!(got.len(), 1, "{cores} cores: {got:#?}");
        let c = got[0].culprit.as_ref().unwrap();
        assert_eq!(
            (c.name.as_str(), c.pid, c.exited_count),
            ("php-cgi", None, 160),
            "{cores} cores: {got:#?}"
        );
        // On 2 cores the machine's surge (85 %) is the incident, labelled by the same culprit.
        let (kind, label) = match cores {
            2 => (IncidentKind::CpuSurge, "php-cgi (x160 exited) 170% CPU"),
            _ => (
                IncidentKind::Runaway,
                "php-cgi (x160 exited) 1.7 cores for 39 s",
            ),
        };
        assert_eq!(
            (got[0].kind, got[0].label().as_str()),
            (kind, label),
            "{cores} cores"
        );
    }
    // Exiting workers below most of a core are no runaway (and on 16 cores under the machine floor too).
    let mut samples = machine(16, 1500, &daemons());
    with_exit_storm(&mut samples, "php-cgi", (900, 40), 4, 40.0);
    assert!(incidents(&samples).is_empty());
}

#[test]
fn a_storm_longer_than_the_baseline_window_counts_every_exit() {
    // 30 minutes of exiting workers, three baseline windows: the count covers the whole run.
    let mut samples = machine(16, 4000, &daemons());
    with_exit_storm(&mut samples, "php-cgi", (900, 1800), 2, 120.0);
    let got = incidents(&samples);
    assert_eq!(got.len(), 1, "{got:#?}");
    assert_eq!(
        got[0].culprit.as_ref().unwrap().exited_count,
        3600,
        "{got:#?}"
    );
}

#[test]
fn a_quiet_hour_gives_no_incident() {
    // An hour of daemons with short bursts (a cron job at 100 % for 5 s every 10 minutes).
    let mut procs = daemons();
    for k in 0..6u64 {
        let from = 300 + 600 * k;
        procs.push(proc(30_000 + k as u32, "logrotate", from, move |i| {
            (i < from + 5).then_some(100.0)
        }));
    }
    for cores in [2, 4, 16, 64] {
        let got = incidents(&machine(cores, 3600, &procs));
        assert!(got.is_empty(), "{cores} cores: {got:#?}");
    }
}

#[test]
fn the_machine_level_floor_is_a_share_on_small_machines_and_cores_on_large_ones() {
    let opts = DetectOptions::default();
    let t = |cores| crate::analysis::detect::cpu_thresholds(&opts, cores);
    assert_eq!(t(0), (25.0, 50.0));
    assert_eq!(t(2), (25.0, 50.0));
    assert_eq!(t(8), (25.0, 50.0));
    assert_eq!(t(16), (12.5, 25.0));
    assert_eq!(t(64), (3.125, 6.25));
    // Eight busy workers of one name on 64 cores (12.5 % of the machine) are a surge, as the whole machine got
    // busier by eight cores.
    let mut procs = daemons();
    for k in 0..8u32 {
        procs.push(proc(40_000 + k, "worker", 900, move |i| {
            (i < 1200).then(|| 60.0 + noise(u64::from(k), 3))
        }));
    }
    let got = incidents(&machine(64, 1500, &procs));
    assert_eq!(
        got.iter().map(|i| i.kind).collect::<Vec<_>>(),
        [IncidentKind::CpuSurge],
        "{got:#?}"
    );
    assert_eq!(got[0].culprit.as_ref().unwrap().name, "worker");
}

#[test]
fn runaways_are_found_from_the_columns_reading_whole_samples_only_around_each_candidate() {
    // Eight hours of a machine with a JVM busy all along: nothing to judge, nothing read.
    let jvm = proc(812, "java", 0, |i| Some(150.0 + noise(i, 7)));
    let mut procs = daemons();
    procs.push(jvm);
    let quiet = machine(16, 8 * 3600, &procs);
    let opts = DetectOptions::default();
    let series = SystemSeries::from_samples(&quiet);
    let source = Source(&quiet, Cell::new(0));
    assert!(
        detect_incidents_in(&series, &source, &opts)
            .unwrap()
            .is_empty()
    );
    assert_eq!(source.1.get(), 0);

    // A 3-minute runaway in the middle: its baseline window (600 samples) and its run (180) are read, nothing
    // else.
    procs.push(burner(4 * 3600, 180));
    let busy = machine(16, 8 * 3600, &procs);
    let series = SystemSeries::from_samples(&busy);
    let source = Source(&busy, Cell::new(0));
    let got = detect_incidents_in(&series, &source, &opts).unwrap();
    assert_eq!(
        labels(&got),
        ["ffmpeg (pid 4123) 98% of a core for 2 min 59 s"]
    );
    assert!(
        source.1.get() <= 600 + 180,
        "read {} samples",
        source.1.get()
    );
    assert!(source.1.get() >= 180, "read {} samples", source.1.get());
}

#[test]
fn a_sliding_look_judges_a_runaway_again_only_while_it_grows_or_its_baseline_is_cut() {
    // 40 minutes of 16 cores, a runaway from 25:00 to 28:00, looked at as the recorder's mail worker does: the
    // last 20 minutes, once a minute.
    let mut procs = daemons();
    procs.push(burner(1500, 180));
    let all = machine(16, 2400, &procs);
    let opts = DetectOptions::default();
    let mut memo = SpanMemo::default();
    let look = |memo: &mut SpanMemo, now: usize| {
        let window = &all[now.saturating_sub(1200)..now];
        let series = SystemSeries::from_samples(window);
        let source = Source(window, Cell::new(0));
        let got = detect_incident_spans_in(&series, &source, &opts, memo).unwrap();
        let runaways: Vec<(Timestamp, Timestamp)> = got
            .iter()
            .filter(|i| i.kind == IncidentKind::Runaway)
            .map(|i| (i.start, i.end))
            .collect();
        (runaways, source.1.get())
    };
    // While it runs, each look judges it again (it has grown).
    let (found, read) = look(&mut memo, 1560);
    assert_eq!(found, [(at(1500), at(1559))]);
    assert!(read > 0);
    let (found, read) = look(&mut memo, 1620);
    assert_eq!(found, [(at(1500), at(1619))]);
    assert!(read > 0);
    // Once it ended, with its whole baseline in the look: judged once more (its end), then never again.
    let (found, read) = look(&mut memo, 1740);
    assert_eq!(found, [(at(1500), at(1679))]);
    assert!(read > 0);
    for now in (1800..=2100).step_by(60) {
        let (found, read) = look(&mut memo, now);
        assert_eq!(found, [(at(1500), at(1679))], "at {now}");
        assert_eq!(read, 0, "at {now}");
        assert_eq!(memo.len(), 1, "at {now}");
    }
    // When the look's start cuts into its baseline window (from 15:00), it is judged again, and the memo keeps
    // only what the last look used.
    let (found, read) = look(&mut memo, 2160);
    assert_eq!(found, [(at(1500), at(1679))]);
    assert!(read > 0);
    assert_eq!(memo.len(), 1);
    let (found, _) = look(&mut memo, 2400);
    assert_eq!(found, [(at(1500), at(1679))]);
    assert_eq!(memo.len(), 1);
}

/// A source whose first window read fails.
struct FailsOnce<'a>(&'a [Sample], Cell<bool>);

impl WindowSource for FailsOnce<'_> {
    fn samples_between(&self, from: Timestamp, to: Timestamp) -> Result<Vec<Sample>, crate::Error> {
        if self.1.replace(false) {
            return Err(crate::Error::Window {
                from,
                to,
                source: "a file removed while it was read".into(),
            });
        }
        self.0.samples_between(from, to)
    }
}

#[test]
fn a_look_whose_read_failed_keeps_no_judgement() {
    let mut procs = daemons();
    procs.push(burner(1500, 180));
    let all = machine(16, 1800, &procs);
    let window = &all[600..1800];
    let series = SystemSeries::from_samples(window);
    let opts = DetectOptions::default();
    let mut memo = SpanMemo::default();
    let failing = FailsOnce(window, Cell::new(true));
    assert!(detect_incident_spans_in(&series, &failing, &opts, &mut memo).is_err());
    assert!(memo.is_empty(), "nothing judged on a failed read is kept");
    // The next look, with the same samples, finds the runaway.
    let got = detect_incident_spans_in(&series, &failing, &opts, &mut memo).unwrap();
    assert!(
        got.iter().any(|i| i.kind == IncidentKind::Runaway),
        "{got:#?}"
    );
    // Other options: judged afresh, not answered from the memo.
    let source = Source(window, Cell::new(0));
    let mut other = opts.clone();
    other.runaway_min_rise_pct += 1.0;
    detect_incident_spans_in(&series, &source, &other, &mut memo).unwrap();
    assert!(source.1.get() > 0, "read again with other options");
}
