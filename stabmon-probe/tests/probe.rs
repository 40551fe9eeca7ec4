//! Probe tests on the real host, with both samplers: shapes and invariants, not exact values.
//!
//! Tests that load the machine take a global lock, so they run one at a time.
//!
//! Unix only: the load comes from `sh` and `python3` children. The `/proc` sampler's tests are Linux only.
#![cfg(unix)]
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::sync::{Mutex, MutexGuard};
use std::thread;
use std::time::{Duration, Instant};

use stabmon_core::units::round_bytes;
use stabmon_core::{ProcessEntry, Sample, Timestamp};
#[cfg(target_os = "linux")]
use stabmon_probe::ProcSampler;
use stabmon_probe::{Collector, Sampler, SamplerKind, SamplerOptions, SysinfoSampler};

static SERIAL: Mutex<()> = Mutex::new(());

fn serial() -> MutexGuard<'static, ()> {
    SERIAL.lock().unwrap_or_else(|e| e.into_inner())
}

/// The samplers of this OS.
#[cfg(target_os = "linux")]
const KINDS: &[SamplerKind] = &[SamplerKind::Proc, SamplerKind::Sysinfo];
#[cfg(not(target_os = "linux"))]
const KINDS: &[SamplerKind] = &[SamplerKind::Sysinfo];

/// A child process that is killed and reaped when dropped, whatever happens to the test.
struct ChildGuard(Child);

impl ChildGuard {
    fn pid(&self) -> u32 {
        self.0.id()
    }
}

impl Drop for ChildGuard {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn sh(script: &str) -> ChildGuard {
    ChildGuard(
        Command::new("sh")
            .args(["-c", script])
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .spawn()
            .unwrap(),
    )
}

fn spinner() -> ChildGuard {
    sh("while :; do :; done")
}

const RSS_TARGET: u64 = 200_000_000;

/// A python child holding 200 MB resident (every page touched); returns once it is ready.
fn memory_hog() -> ChildGuard {
    let script = "import sys, time\n\
                  b = bytearray(200 * 10**6)\n\
                  for i in range(0, len(b), 4096): b[i] = 1\n\
                  print('ready', flush=True)\n\
                  time.sleep(600)\n";
    let mut child = Command::new("python3")
        .args(["-c", script])
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let out = child.stdout.take().unwrap();
    let guard = ChildGuard(child);
    let mut line = String::new();
    BufReader::new(out).read_line(&mut line).unwrap();
    assert_eq!(line.trim(), "ready");
    guard
}

fn collector(kind: SamplerKind, interval: Duration) -> Collector {
    Collector::builder()
        .interval(interval)
        .sampler(kind)
        .build()
        .unwrap()
}

fn find(sample: &Sample, pid: u32) -> Option<&ProcessEntry> {
    sample.top.processes.iter().find(|p| p.pid == pid)
}

fn sampler(kind: SamplerKind) -> Box<dyn Sampler> {
    match kind {
        #[cfg(target_os = "linux")]
        SamplerKind::Proc => Box::new(ProcSampler::new(SamplerOptions::new()).unwrap()),
        _ => Box::new(SysinfoSampler::new(SamplerOptions::new()).unwrap()),
    }
}

fn check_shape(s: &Sample, kind: SamplerKind) {
    assert!(!s.host.is_empty(), "{kind}: host");
    assert!(
        s.boot_time > Timestamp::from_unix_secs(946_684_800),
        "{kind}: boot time"
    );
    assert!(s.boot_time < s.ts, "{kind}: boot before ts");
    assert!(s.memory.total_bytes > 0 && s.memory.used_bytes <= s.memory.total_bytes);
    assert_eq!(
        s.memory.used_bytes + s.memory.available_bytes,
        s.memory.total_bytes,
        "{kind}"
    );
    assert!(s.memory.swap_used_bytes <= s.memory.swap_total_bytes);
    assert!(s.process_count > 1, "{kind}: process count");
    // Online cores; a cgroup CPU quota does not hide cores from /proc/stat or sysinfo.
    assert!(!s.per_core.is_empty(), "{kind}");
    assert!(
        s.per_core.len() >= thread::available_parallelism().unwrap().get(),
        "{kind}"
    );
    for c in std::iter::once(&s.cpu).chain(&s.per_core) {
        assert!((0.0..=100.5).contains(&c.busy_pct), "{kind}: {c:?}");
    }
    assert!(s.load.is_some(), "{kind}: load on Linux");
    assert!(s.utc_offset_secs.is_some(), "{kind}: utc offset");
    assert!(s.interval > Duration::ZERO);
    assert_eq!(s.top.n, 10);
    assert!(
        !s.top.processes.is_empty() && s.top.processes.len() <= 20,
        "{kind}"
    );
    // The memory list: full, or cut at the memory floor (a box with fewer than 10 processes that have memory;
    // kernel threads have none) with the floor as its bound.
    let by_rss: Vec<_> = s
        .top
        .processes
        .iter()
        .filter(|p| p.rss_rank.is_some())
        .collect();
    let floor = stabmon_core::attribution::DEFAULT_RSS_FLOOR_BYTES;
    assert!(by_rss.iter().all(|p| p.rss_bytes >= floor), "{kind}");
    assert!(
        by_rss.len() == usize::from(s.top.n) || s.top.rss_nth_bytes == floor,
        "{kind}: {} in the memory list, bound {}",
        by_rss.len(),
        s.top.rss_nth_bytes
    );
    assert!(!s.top.names.is_empty());
    for p in &s.top.processes {
        assert!(p.cpu_rank.is_some() || p.rss_rank.is_some());
        assert!(p.start_time <= s.ts, "{kind}: {p:?}");
        assert!(!p.name.is_empty());
    }
    // The resolution samples keep: sizes that move to 10 significant bits, pressure stalls to 0.1 %.
    let sizes = s
        .top
        .processes
        .iter()
        .flat_map(|p| [p.rss_bytes, p.virtual_bytes])
        .chain(s.top.names.iter().map(|n| n.rss_bytes))
        .chain([s.memory.available_bytes, s.memory.swap_used_bytes]);
    for b in sizes {
        assert_eq!(
            round_bytes(b),
            b,
            "{kind}: {b} has more than 10 significant bits"
        );
    }
    assert!(
        s.top.processes.iter().any(|p| p.rss_bytes > 4 << 20),
        "{kind}: some process above 4 MiB, where rounding shows"
    );
    let p = s.pressure.unwrap_or_default();
    for v in [
        p.cpu_some_pct,
        p.memory_some_pct,
        p.memory_full_pct,
        p.io_some_pct,
        p.io_full_pct,
    ]
    .into_iter()
    .flatten()
    {
        let tenths = f64::from(v) * 10.0;
        assert!(
            (tenths - tenths.round()).abs() < 1e-3,
            "{kind}: stall {v} %"
        );
    }
}

#[test]
fn spinning_child_is_in_top_n_within_two_samples() {
    let _serial = serial();
    for &kind in KINDS {
        let child = spinner();
        let mut c = collector(kind, Duration::from_millis(500));
        let mut seen = None;
        for _ in 0..2 {
            let s = c.next_sample().unwrap().unwrap();
            check_shape(&s, kind);
            if let Some(p) = find(&s, child.pid()).filter(|p| p.cpu_pct > 50.0) {
                seen = Some(p.clone());
                break;
            }
        }
        let p = seen.unwrap_or_else(|| panic!("{kind}: spinner not in the top N with > 50 %"));
        assert_eq!(p.name, "sh", "{kind}");
        assert!(p.cpu_rank.is_some(), "{kind}");
        assert!(
            p.cpu_pct <= 110.0,
            "{kind}: one thread cannot use more than a core: {p:?}"
        );
        assert_eq!(p.parent_pid, Some(std::process::id()), "{kind}");
        let cmd = p.cmdline.as_deref().unwrap_or_default();
        assert!(cmd.starts_with("sh -c while"), "{kind}: {cmd:?}");
        assert!(p.user.as_deref().is_some_and(|u| !u.is_empty()), "{kind}");
    }
}

#[test]
fn first_sample_after_build_has_cpu_rates() {
    let _serial = serial();
    for &kind in KINDS {
        let child = spinner();
        thread::sleep(Duration::from_millis(100));
        let mut c = collector(kind, Duration::from_millis(300));
        let s = c.next_sample().unwrap().unwrap();
        assert!(s.cpu.busy_pct > 20.0, "{kind}: {:?}", s.cpu);
        assert!(s.top.cpu_nth_pct >= 0.0);
        let p = find(&s, child.pid()).unwrap_or_else(|| panic!("{kind}: spinner missing"));
        assert!(p.cpu_pct > 50.0, "{kind}: first sample shows {p:?}");
    }
}

#[test]
fn child_touching_200_mb_shows_its_rss() {
    let _serial = serial();
    let hog = memory_hog();
    for &kind in KINDS {
        let mut c = collector(kind, Duration::from_millis(200));
        let s = c.next_sample().unwrap().unwrap();
        let p = find(&s, hog.pid()).unwrap_or_else(|| panic!("{kind}: hog not in the top N"));
        assert!(p.rss_bytes >= RSS_TARGET, "{kind}: {p:?}");
        assert!(p.virtual_bytes >= p.rss_bytes, "{kind}: {p:?}");
        assert!(p.rss_rank.is_some(), "{kind}");
        assert!(s.top.rss_nth_bytes <= p.rss_bytes);
    }
}

#[test]
fn cpu_of_short_lived_children_shows_on_the_parent() {
    let _serial = serial();
    let parent =
        sh(r#"while :; do sh -c 'i=0; while [ $i -lt 20000 ]; do i=$((i+1)); done'; done"#);
    for &kind in KINDS {
        let mut c = collector(kind, Duration::from_millis(700));
        let mut best: Option<ProcessEntry> = None;
        for _ in 0..3 {
            let s = c.next_sample().unwrap().unwrap();
            if kind == SamplerKind::Sysinfo {
                // sysinfo does not report reaped children's CPU: the field must say "unknown", not 0.
                assert!(s.top.processes.iter().all(|p| p.children_cpu_pct.is_none()));
            }
            if let Some(p) = find(&s, parent.pid()) {
                let better = best.as_ref().is_none_or(|b| {
                    p.children_cpu_pct.unwrap_or(0.0) > b.children_cpu_pct.unwrap_or(0.0)
                });
                if better {
                    best = Some(p.clone());
                }
            }
        }
        if kind == SamplerKind::Proc {
            let p = best.unwrap_or_else(|| panic!("proc: the spawning parent is not in the top N"));
            let children = p.children_cpu_pct.unwrap_or(0.0);
            assert!(children > 30.0, "proc: {p:?}");
            assert!(p.cpu_pct < children, "proc: own CPU should be small: {p:?}");
            assert!(
                p.cpu_rank.is_some(),
                "proc: ranked by own + children's CPU: {p:?}"
            );
        }
    }
}

#[cfg(target_os = "linux")]
#[test]
fn the_two_samplers_agree() {
    let _serial = serial();
    let spin = spinner();
    let hog = memory_hog();
    let mut proc = sampler(SamplerKind::Proc);
    let mut sys = sampler(SamplerKind::Sysinfo);
    thread::sleep(Duration::from_millis(700));
    let a = proc.sample(Timestamp::now()).unwrap();
    let b = sys.sample(Timestamp::now()).unwrap();
    assert_eq!(proc.name(), "proc");
    assert_eq!(sys.name(), "sysinfo");
    check_shape(&a, SamplerKind::Proc);
    check_shape(&b, SamplerKind::Sysinfo);

    let within = |x: u64, y: u64, frac: f64| (x as f64 - y as f64).abs() <= frac * x.max(y) as f64;
    assert!(
        within(a.memory.total_bytes, b.memory.total_bytes, 0.01),
        "{:?} {:?}",
        a.memory,
        b.memory
    );
    assert!(within(
        a.memory.swap_total_bytes,
        b.memory.swap_total_bytes,
        0.01
    ));
    assert!(
        a.process_count.abs_diff(b.process_count) <= 5,
        "{} {}",
        a.process_count,
        b.process_count
    );
    assert_eq!(a.per_core.len(), b.per_core.len());
    assert_eq!(a.host, b.host);
    assert_eq!(a.timezone, b.timezone);
    assert!(
        a.boot_time
            .as_unix_secs()
            .abs_diff(b.boot_time.as_unix_secs())
            <= 2
    );

    for s in [&a, &b] {
        let p = find(s, spin.pid()).expect("spinner in both");
        assert!(p.cpu_pct > 50.0, "{p:?}");
    }
    let (ha, hb) = (find(&a, hog.pid()).unwrap(), find(&b, hog.pid()).unwrap());
    assert!(within(ha.rss_bytes, hb.rss_bytes, 0.10), "{ha:?} {hb:?}");
    // Identity is (pid, start time): the same process gets the same start time (sysinfo has whole seconds).
    assert!(
        ha.start_time
            .as_unix_secs()
            .abs_diff(hb.start_time.as_unix_secs())
            <= 1
    );
    assert_eq!(ha.name, hb.name);
    assert_eq!(ha.cmdline, hb.cmdline);
    assert_eq!(ha.user, hb.user);

    // What only /proc has.
    assert!(a.boot_id.is_some());
    assert!(a.cpu.iowait_pct.is_some() && a.cpu.steal_pct.is_some());
    assert!(a.oom_kill_count.is_some());
    if std::path::Path::new("/proc/pressure/cpu").exists() {
        let p = a.pressure.expect("pressure");
        assert!(p.cpu_some_pct.is_some_and(|v| (0.0..=100.0).contains(&v)));
    }
}

#[test]
fn no_cmdline_records_none() {
    let _serial = serial();
    for &kind in KINDS {
        let mut c = Collector::builder()
            .interval(Duration::from_millis(100))
            .cmdline(false)
            .sampler(kind)
            .build()
            .unwrap();
        assert_eq!(c.sampler_name(), kind.as_str());
        let s = c.next_sample().unwrap().unwrap();
        assert!(!s.top.processes.is_empty());
        assert!(
            s.top.processes.iter().all(|p| p.cmdline.is_none()),
            "{kind}"
        );
        assert!(s.top.processes.iter().any(|p| p.user.is_some()), "{kind}");
    }
    // And a short limit cuts them.
    let spin = spinner();
    let mut c = Collector::builder()
        .interval(Duration::from_millis(300))
        .cmdline_max_bytes(8)
        .sampler(SamplerKind::Auto)
        .build()
        .unwrap();
    let s = c.next_sample().unwrap().unwrap();
    let p = find(&s, spin.pid()).unwrap();
    assert_eq!(p.cmdline.as_deref(), Some("sh -c wh"));
}

#[test]
fn ticks_do_not_drift() {
    let _serial = serial();
    for &kind in KINDS {
        let interval = Duration::from_millis(100);
        let mut c = collector(kind, interval);
        let samples: Vec<Sample> = (0..8).map(|_| c.next_sample().unwrap().unwrap()).collect();
        let first = samples[0].ts;
        let step = interval.as_micros() as i64;
        for s in &samples {
            // Every tick sits exactly on the wall-clock grid (multiples of the interval since the epoch), whole
            // intervals apart however long sampling took.
            assert_eq!(
                s.ts.as_unix_micros() % step,
                0,
                "{kind}: {} is off the grid",
                s.ts
            );
            assert!(s.interval > Duration::ZERO && s.interval < Duration::from_secs(1));
            assert_eq!(
                s.lateness.as_micros() % 100,
                0,
                "{kind}: lateness {:?} is recorded to 100 us",
                s.lateness
            );
        }
        let span = samples[7].ts.duration_since(first).unwrap();
        assert!(span >= 7 * interval, "{kind}: ticks came early: {span:?}");
        // The interval is measured between the readings the lateness reports: exactly the ticks' spacing plus the
        // change in lateness, which the store derives instead of storing.
        for w in samples.windows(2) {
            let us = |d: Duration| d.as_micros() as i64;
            let spacing = w[1].ts.as_unix_micros() - w[0].ts.as_unix_micros();
            assert_eq!(
                us(w[1].interval),
                spacing + us(w[1].lateness) - us(w[0].lateness),
                "{kind}: at {} then {}, lateness {:?} then {:?}",
                w[0].ts,
                w[1].ts,
                w[0].lateness,
                w[1].lateness
            );
        }
    }
}

#[test]
fn a_late_consumer_skips_ticks_instead_of_bunching() {
    let _serial = serial();
    let interval = Duration::from_millis(400);
    let mut c = collector(SamplerKind::Auto, interval);
    let a = c.next_sample().unwrap().unwrap();
    thread::sleep(Duration::from_millis(680));
    let b = c.next_sample().unwrap().unwrap();
    let gap = b.ts.duration_since(a.ts).unwrap();
    // Tick 2 was more than half an interval past: skipped, tick 3 taken on time.
    assert!(
        gap.abs_diff(2 * interval) < Duration::from_millis(5),
        "gap {gap:?}"
    );
    assert!(b.lateness < interval / 2, "{:?}", b.lateness);
    // The rates cover the time actually measured since the previous reading.
    assert!(b.interval > interval, "{:?}", b.interval);
}

#[test]
fn stop_wakes_a_waiting_collector() {
    let _serial = serial();
    let mut c = collector(SamplerKind::Auto, Duration::from_secs(60));
    let stop = c.stop_handle();
    assert!(!stop.is_stopped());
    let t0 = Instant::now();
    let stopper = thread::spawn(move || {
        thread::sleep(Duration::from_millis(200));
        stop.stop();
    });
    assert!(c.next_sample().unwrap().is_none());
    assert!(
        t0.elapsed() < Duration::from_secs(2),
        "stop took {:?}",
        t0.elapsed()
    );
    stopper.join().unwrap();
    // Once stopped, always stopped.
    assert!(c.next_sample().unwrap().is_none());
    assert!(c.stop_handle().is_stopped());
}

#[test]
fn stop_handle_is_send_and_sync() {
    fn check<T: Send + Sync + Clone>() {}
    check::<stabmon_probe::StopHandle>();
    fn send<T: Send>() {}
    send::<Collector>();
}

#[test]
#[ignore = "prints a sample for a human to look at"]
fn print_a_sample() {
    for &kind in KINDS {
        let mut c = collector(kind, Duration::from_millis(500));
        let s = c.next_sample().unwrap().unwrap();
        println!("{kind}: {s:#?}");
    }
}

#[cfg(target_os = "linux")]
#[test]
fn proc_sampler_beyond_the_open_file_cap_reads_the_same() {
    let _serial = serial();
    let spin = spinner();
    let mut capped = ProcSampler::new(SamplerOptions::new()).unwrap();
    assert!(capped.max_open_files() > 0);
    capped.set_max_open_files(0);
    thread::sleep(Duration::from_millis(400));
    let s = capped.sample(Timestamp::now()).unwrap();
    let p = find(&s, spin.pid()).expect("spinner found without kept-open files");
    assert!(p.cpu_pct > 50.0, "{p:?}");
    // A second pass after the cap is lowered still measures deltas, not totals since start.
    thread::sleep(Duration::from_millis(400));
    let s = capped.sample(Timestamp::now()).unwrap();
    let p = find(&s, spin.pid()).expect("spinner still there");
    assert!(p.cpu_pct > 50.0 && p.cpu_pct <= 110.0, "{p:?}");
}

#[test]
fn a_process_born_during_the_interval_counts_all_its_cpu() {
    let _serial = serial();
    for &kind in KINDS {
        let mut s = sampler(kind);
        // Born after priming: all of its CPU time falls in this interval, none of it may be dropped.
        let spin = spinner();
        thread::sleep(Duration::from_millis(600));
        let sample = s.sample(Timestamp::now()).unwrap();
        let p = find(&sample, spin.pid()).unwrap_or_else(|| panic!("{kind}: newborn missing"));
        assert!(p.cpu_pct > 50.0, "{kind}: {p:?}");
        assert!(
            p.start_time.as_unix_secs() + 2 >= sample.ts.as_unix_secs() - 1,
            "{kind}: {p:?}"
        );
    }
}

/// A listed process carries the cgroup `/proc/PID/cgroup` names (the same this test's child is in), and the
/// collector follows the kernel log where it may, or says why not.
#[cfg(target_os = "linux")]
#[test]
fn listed_processes_carry_their_cgroup_and_the_kernel_log_is_followed_or_explained() {
    let _serial = serial();
    let child = spinner();
    let want = std::fs::read_to_string(format!("/proc/{}/cgroup", child.pid()))
        .ok()
        .and_then(|t| stabmon_core::cgroup::process_cgroup(&t));
    let mut c = collector(SamplerKind::Proc, Duration::from_millis(500));
    match c.kernel_log() {
        Ok(()) => {}
        Err(why) => {
            assert!(why.contains("/dev/kmsg"), "{why}");
            eprintln!("the kernel log is not followed here: {why}");
        }
    }
    let mut seen = None;
    for _ in 0..4 {
        let s = c.next_sample().unwrap().unwrap();
        if let Some(p) = find(&s, child.pid()) {
            seen = Some(p.clone());
            break;
        }
    }
    let p = seen.expect("the spinner is listed");
    assert!(want.is_some(), "no cgroup for the child");
    assert_eq!(p.cgroup, want);
    let off = Collector::builder().kernel_log(false).build().unwrap();
    assert!(off.kernel_log().is_err());
}
