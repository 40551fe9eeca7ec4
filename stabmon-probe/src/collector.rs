//! The [`Collector`]: a sampler driven on a steady schedule, stoppable from another thread.

use std::fmt;
use std::str::FromStr;
use std::sync::{Arc, Condvar, Mutex, PoisonError};
use std::time::{Duration, Instant};

use stabmon_core::{Sample, Timestamp};

use crate::net::schedule::ProbeSchedule;
use crate::net::{ProbeOptions, Prober, Target};
use crate::sampler::{Sampler, SamplerOptions};
use crate::{Error, SysinfoSampler};

/// Which sampler a [`Collector`] uses.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum SamplerKind {
    /// The `/proc` sampler on Linux, sysinfo elsewhere.
    #[default]
    Auto,
    /// The Linux `/proc` sampler; an error on other platforms.
    Proc,
    /// The portable sysinfo sampler, on every platform.
    Sysinfo,
}

impl SamplerKind {
    /// The name used on the command line: `auto`, `proc` or `sysinfo`.
    pub fn as_str(self) -> &'static str {
        match self {
            SamplerKind::Auto => "auto",
            SamplerKind::Proc => "proc",
            SamplerKind::Sysinfo => "sysinfo",
        }
    }
}

impl fmt::Display for SamplerKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for SamplerKind {
    type Err = Error;

    /// Parses `auto`, `proc` or `sysinfo`.
    fn from_str(s: &str) -> Result<Self, Error> {
        match s {
            "auto" => Ok(SamplerKind::Auto),
            "proc" => Ok(SamplerKind::Proc),
            "sysinfo" => Ok(SamplerKind::Sysinfo),
            other => Err(Error::InvalidConfig {
                setting: "sampler",
                reason: format!("{other:?} is not one of auto, proc, sysinfo"),
            }),
        }
    }
}

/// Builds a [`Collector`]; every setting has a default.
#[derive(Debug, Clone)]
pub struct CollectorBuilder {
    interval: Duration,
    opts: SamplerOptions,
    kind: SamplerKind,
    targets: Vec<Target>,
    probe_interval: Option<Duration>,
    probe_opts: ProbeOptions,
    exits: bool,
    kernel_log: bool,
}

impl CollectorBuilder {
    /// Whether to record every exit between two samples ([`Sample::exits`]): on Linux from the kernel's taskstats
    /// exit records, on a thread of the collector's own. It needs `CAP_NET_ADMIN` in the initial network
    /// namespace; where the kernel refuses, or on another OS, [`build`](Self::build) still succeeds, samples have
    /// no exits, and [`Collector::exits_refused`] says why. By default, this is `false`.
    pub fn exits(mut self, yes: bool) -> Self {
        self.exits = yes;
        self
    }

    /// Whether the kernel log is followed for the OOM killer's victims (Linux `/dev/kmsg`, on a thread of the
    /// collector's own; see [`Collector::kernel_log`]). By default, this is `true`; where the log cannot be read
    /// the collector works without it.
    pub fn kernel_log(mut self, yes: bool) -> Self {
        self.kernel_log = yes;
        self
    }

    /// The time between two samples. By default, this is 1 second; zero is refused by [`build`](Self::build).
    pub fn interval(mut self, interval: Duration) -> Self {
        self.interval = interval;
        self
    }

    /// The length of each top list (by CPU, by memory, and per name). By default, this is
    /// [`DEFAULT_TOP_N`](stabmon_core::attribution::DEFAULT_TOP_N); zero is refused by [`build`](Self::build).
    pub fn top_n(mut self, n: usize) -> Self {
        self.opts.top_n = n;
        self
    }

    /// The least CPU, in percent of one core over the interval, that puts a process (or a name's sum) in a CPU
    /// list; 0 keeps the strict top N. By default, this is
    /// [`DEFAULT_CPU_FLOOR_PCT`](stabmon_core::attribution::DEFAULT_CPU_FLOOR_PCT) (2.5 %, see
    /// [`stabmon_core::attribution`](stabmon_core::attribution#the-cpu-floor)); a negative or non-finite value is
    /// refused by [`build`](Self::build).
    pub fn cpu_floor_pct(mut self, pct: f32) -> Self {
        self.opts.cpu_floor_pct = pct;
        self
    }

    /// Whether command lines are recorded; `false` records none, for privacy. By default, this is `true`.
    pub fn cmdline(mut self, yes: bool) -> Self {
        self.opts.cmdline = yes;
        self
    }

    /// The longest command line kept, in bytes (cut at a character boundary). By default, this is
    /// [`DEFAULT_CMDLINE_MAX_BYTES`](stabmon_core::attribution::DEFAULT_CMDLINE_MAX_BYTES).
    pub fn cmdline_max_bytes(mut self, max: usize) -> Self {
        self.opts.cmdline_max_bytes = max;
        self
    }

    /// Which sampler to use. By default, this is [`SamplerKind::Auto`].
    pub fn sampler(mut self, kind: SamplerKind) -> Self {
        self.kind = kind;
        self
    }

    /// Adds a network latency target, probed on threads of the collector's own (see the crate docs for the
    /// schedule). By default, there are none and no latency is recorded. Names must be unique.
    pub fn target(mut self, target: Target) -> Self {
        self.targets.push(target);
        self
    }

    /// Adds several latency targets; see [`target`](Self::target).
    pub fn targets(mut self, targets: impl IntoIterator<Item = Target>) -> Self {
        self.targets.extend(targets);
        self
    }

    /// The time between two probes of each target. By default, this is the sample
    /// [`interval`](Self::interval); zero is refused by [`build`](Self::build).
    pub fn probe_interval(mut self, interval: Duration) -> Self {
        self.probe_interval = Some(interval);
        self
    }

    /// The longest a probe may take before it is recorded as a timeout. By default, this is 5 seconds
    /// ([`DEFAULT_PROBE_TIMEOUT`](crate::DEFAULT_PROBE_TIMEOUT)), so that a 2 s stall is measured rather than
    /// hidden; it may exceed the probe interval (ticks that pass during a probe start nothing). Zero is refused by
    /// [`build`](Self::build).
    pub fn probe_timeout(mut self, timeout: Duration) -> Self {
        self.probe_opts.timeout = timeout;
        self
    }

    /// Trusts an extra root certificate (DER) for https targets, beside the compiled-in Mozilla roots: for a
    /// router or intranet server with its own CA. By default, there are none.
    pub fn probe_root_certificate(mut self, der: impl Into<Vec<u8>>) -> Self {
        self.probe_opts.extra_root_certs_der.push(der.into());
        self
    }

    /// Checks the settings, creates the sampler and primes its counters, so that the first sample already has
    /// rates, and starts one probe thread per latency target. The first tick is one interval after this call.
    pub fn build(self) -> Result<Collector, Error> {
        if self.interval.is_zero() {
            return Err(Error::InvalidConfig {
                setting: "interval",
                reason: "it must be greater than zero".into(),
            });
        }
        self.opts.validate()?;
        let probe_interval = self.probe_interval.unwrap_or(self.interval);
        if probe_interval.is_zero() {
            return Err(Error::InvalidConfig {
                setting: "probe_interval",
                reason: "it must be greater than zero".into(),
            });
        }
        let mut names = std::collections::HashSet::new();
        if let Some(dup) = self.targets.iter().find(|t| !names.insert(t.name())) {
            return Err(Error::InvalidTarget {
                target: dup.to_string(),
                reason: format!("the name {:?} is used by another target", dup.name()),
            });
        }
        let prober = Prober::new(&self.probe_opts)?;
        let sampler = make_sampler(self.kind, self.opts)?;
        let mut collector = Collector::with_sampler(sampler, self.interval);
        collector.kernel_log = if self.kernel_log {
            KernelLogState::start()
        } else {
            KernelLogState::Off("it was not asked for".into())
        };
        if !self.targets.is_empty() {
            // Half a probe interval out of phase with the samples: probes then do not compete with the system
            // sample for the CPU at its tick, and a healthy target's probe is complete before the next sample.
            let schedule = ProbeSchedule::start(
                &self.targets,
                &prober,
                collector.start,
                probe_interval / 2,
                probe_interval,
                &collector.stop.state,
            )?;
            collector.probes = Some(schedule);
            collector.targets = self.targets;
            collector.probe_interval = probe_interval;
            collector.probe_timeout = prober.timeout();
        }
        if self.exits {
            collector.exits = Exits::start();
        }
        Ok(collector)
    }
}

fn make_sampler(kind: SamplerKind, opts: SamplerOptions) -> Result<Box<dyn Sampler>, Error> {
    match kind {
        #[cfg(target_os = "linux")]
        SamplerKind::Auto | SamplerKind::Proc => Ok(Box::new(crate::ProcSampler::new(opts)?)),
        #[cfg(not(target_os = "linux"))]
        SamplerKind::Proc => Err(Error::Unsupported {
            sampler: "proc",
            reason: "it reads /proc, which only Linux has; use sysinfo",
        }),
        #[cfg(not(target_os = "linux"))]
        SamplerKind::Auto => Ok(Box::new(SysinfoSampler::new(opts)?)),
        SamplerKind::Sysinfo => Ok(Box::new(SysinfoSampler::new(opts)?)),
    }
}

#[derive(Debug, Default)]
pub(crate) struct StopState {
    stopped: Mutex<bool>,
    wake: Condvar,
}

impl StopState {
    fn stop(&self) {
        let mut stopped = self.stopped.lock().unwrap_or_else(PoisonError::into_inner);
        *stopped = true;
        self.wake.notify_all();
    }

    /// Waits until `due` or until stopped; returns whether stopped.
    pub(crate) fn wait_until(&self, due: Instant) -> bool {
        let mut stopped = self.stopped.lock().unwrap_or_else(PoisonError::into_inner);
        loop {
            if *stopped {
                return true;
            }
            let now = Instant::now();
            if now >= due {
                return false;
            }
            stopped = self
                .wake
                .wait_timeout(stopped, due - now)
                .unwrap_or_else(PoisonError::into_inner)
                .0;
        }
    }
}

/// Stops a [`Collector`] from any thread (a signal handler's thread, for instance); cheap to clone.
#[derive(Debug, Clone)]
pub struct StopHandle {
    state: Arc<StopState>,
}

impl StopHandle {
    /// Stops the collector: a [`Collector::next_sample`] that is waiting for its tick returns `Ok(None)` at once,
    /// and so does every later call.
    pub fn stop(&self) {
        self.state.stop();
    }

    /// Whether [`stop`](Self::stop) was called.
    pub fn is_stopped(&self) -> bool {
        *self
            .state
            .stopped
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
    }
}

/// The exit listener of a collector, or why there is none.
enum Exits {
    Off,
    Refused(String),
    #[cfg(target_os = "linux")]
    On(crate::linux::taskstats::ExitListener),
}

impl Exits {
    #[cfg(target_os = "linux")]
    fn start() -> Exits {
        match crate::linux::taskstats::ExitListener::start(Timestamp::now()) {
            Ok(l) => Exits::On(l),
            Err(reason) => Exits::Refused(reason),
        }
    }

    #[cfg(not(target_os = "linux"))]
    fn start() -> Exits {
        Exits::Refused("exits are recorded on Linux only".into())
    }

    /// The exits since the previous sample, for `sample`, whose listed processes are detailed first should they
    /// exit before the next.
    fn fill(&self, sample: &mut Sample) {
        #[cfg(target_os = "linux")]
        if let Exits::On(l) = self {
            let listed = sample.top.processes.iter().map(|p| p.pid);
            sample.exits = Some(l.take(Timestamp::now(), listed));
            return;
        }
        sample.exits = None;
    }
}

/// Yields [`Sample`]s on a steady schedule.
///
/// Ticks are planned on the monotonic clock, tick k at `start + k * interval`, so the period does not drift. A
/// sample taken late (the machine was busy, or the previous sample ran long) keeps the schedule: when the next
/// tick is already more than half an interval past, it is skipped rather than taken in a burst. Each sample's
/// [`ts`](Sample::ts) is the wall-clock time of its tick, and [`lateness`](Sample::lateness) how long after the tick
/// its reading started.
///
/// Ticks are aligned to the wall clock: with a 1 s interval they fall on whole seconds, with 10 s on multiples of
/// ten seconds since the epoch, so that recordings of several hosts line up. The timestamps sit exactly on that
/// grid; when the wall clock is stepped (by more than [`CLOCK_STEP_TOLERANCE`]: NTP, a suspended VM, a user) the
/// grid is re-anchored to the new wall time at the next tick, so timestamps never stray further than that from
/// the system clock.
///
/// With latency targets, each [`Sample::latency`] holds the probes that completed since the previous sample's
/// reading started, up to this one's (see the crate docs for the probe schedule). Dropping the collector stops its
/// probe threads.
pub struct Collector {
    sampler: Box<dyn Sampler>,
    interval: Duration,
    start: Instant,
    /// The wall-clock time of tick 0 (at `start`); tick k's timestamp is `wall_start + k * interval`.
    wall_start: Timestamp,
    tick: u64,
    stop: StopHandle,
    probes: Option<ProbeSchedule>,
    targets: Vec<Target>,
    probe_interval: Duration,
    probe_timeout: Duration,
    dropped_probes: u64,
    /// Probes taken for a reading that failed: they ride the next sample.
    unclaimed: Vec<stabmon_core::LatencyProbe>,
    exits: Exits,
    kernel_log: KernelLogState,
    dropped_oom_kills: u64,
    lost_kernel_records: u64,
    /// OOM kills taken for a reading that failed: they ride the next sample.
    unclaimed_kills: Vec<stabmon_core::OomKill>,
}

/// Whether the kernel log is followed, and if not, why.
#[derive(Debug)]
enum KernelLogState {
    #[cfg(target_os = "linux")]
    On(crate::linux::kmsg::KernelLog),
    Off(String),
}

impl KernelLogState {
    #[cfg(target_os = "linux")]
    fn start() -> Self {
        use crate::linux::kmsg::{KMSG, KernelLog};
        match KernelLog::start() {
            Ok(log) => KernelLogState::On(log),
            Err(e) => {
                let hint = match e.raw_os_error() {
                    Some(libc::EPERM | libc::EACCES) => {
                        "; reading it needs CAP_SYSLOG where kernel.dmesg_restrict=1 (systemd: \
                         AmbientCapabilities=CAP_SYSLOG, no ProtectKernelLogs=)"
                    }
                    Some(libc::ENOENT | libc::ENXIO) => {
                        " (systemd's PrivateDevices=yes hides it; containers often have none)"
                    }
                    _ => "",
                };
                KernelLogState::Off(format!("cannot read {KMSG}: {e}{hint}"))
            }
        }
    }

    #[cfg(not(target_os = "linux"))]
    fn start() -> Self {
        KernelLogState::Off("the kernel log is only read on Linux".into())
    }

    /// The kills found since the last call, how many were dropped, and how many kernel records were overwritten
    /// before they were read.
    fn take(&self) -> (Vec<stabmon_core::OomKill>, u64, u64) {
        match self {
            #[cfg(target_os = "linux")]
            KernelLogState::On(log) => {
                let t = log.take();
                (t.kills, t.dropped, t.overwritten)
            }
            KernelLogState::Off(_) => (Vec::new(), 0, 0),
        }
    }
}

impl Drop for Collector {
    fn drop(&mut self) {
        if self.probes.is_some() {
            self.stop.stop();
        }
    }
}

impl fmt::Debug for Collector {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Collector")
            .field("sampler", &self.sampler.name())
            .field("interval", &self.interval)
            .field("tick", &self.tick)
            .field("targets", &self.targets)
            .finish_non_exhaustive()
    }
}

impl Collector {
    /// A builder with every setting at its default.
    pub fn builder() -> CollectorBuilder {
        CollectorBuilder {
            interval: Duration::from_secs(1),
            opts: SamplerOptions::new(),
            kind: SamplerKind::Auto,
            targets: Vec::new(),
            probe_interval: None,
            probe_opts: ProbeOptions::new(),
            exits: false,
            kernel_log: true,
        }
    }

    /// A collector around an already primed sampler of your own; the first tick is one interval from now.
    /// A zero interval is raised to one millisecond.
    pub fn with_sampler(sampler: Box<dyn Sampler>, interval: Duration) -> Self {
        let interval = interval.max(Duration::from_millis(1));
        let (start, wall_start) = aligned_start(interval, Instant::now(), Timestamp::now());
        Collector {
            sampler,
            interval,
            start,
            wall_start,
            tick: 0,
            stop: StopHandle {
                state: Arc::new(StopState::default()),
            },
            probes: None,
            targets: Vec::new(),
            probe_interval: interval,
            probe_timeout: crate::DEFAULT_PROBE_TIMEOUT,
            dropped_probes: 0,
            unclaimed: Vec::new(),
            exits: Exits::Off,
            kernel_log: KernelLogState::Off(
                "the collector was made around a sampler of its own".into(),
            ),
            dropped_oom_kills: 0,
            lost_kernel_records: 0,
            unclaimed_kills: Vec::new(),
        }
    }

    /// Whether the kernel log is followed for the OOM killer's victims ([`Sample::oom_kills`]): `Ok` when it is,
    /// else why not (not Linux, not asked for, `/dev/kmsg` missing or refused), for one line at start. Without it
    /// an OOM kill is still counted, and its victim guessed from the memory that vanished.
    pub fn kernel_log(&self) -> Result<(), &str> {
        match &self.kernel_log {
            #[cfg(target_os = "linux")]
            KernelLogState::On(_) => Ok(()),
            KernelLogState::Off(why) => Err(why),
        }
    }

    /// How many OOM kills read from the kernel log were dropped because samples were not taken for a long time
    /// (over 10,000 waiting); 0 for a collector that is polled on schedule.
    pub fn dropped_oom_kills(&self) -> u64 {
        self.dropped_oom_kills
    }

    /// How many kernel log records the kernel overwrote in its ring buffer before the reader got to them (a burst
    /// of kernel messages, or a reader starved of CPU): an OOM kill among them is not named from the log, and
    /// the vanished-memory guess stands in for it. 0 where the log is not read.
    pub fn lost_kernel_records(&self) -> u64 {
        self.lost_kernel_records
    }

    /// The latency targets probed (empty when none is configured).
    pub fn targets(&self) -> &[Target] {
        &self.targets
    }

    /// The time between two probes of each target.
    pub fn probe_interval(&self) -> Duration {
        self.probe_interval
    }

    /// The probe timeout.
    pub fn probe_timeout(&self) -> Duration {
        self.probe_timeout
    }

    /// How many completed probes were dropped because samples were not taken for a long time (over 100,000
    /// probes waiting); 0 for a collector that is polled on schedule.
    pub fn dropped_probes(&self) -> u64 {
        self.dropped_probes
    }

    /// Why exits are not recorded although [`CollectorBuilder::exits`] asked for them (no `CAP_NET_ADMIN`, a
    /// container's network namespace, another OS); `None` when they are recorded or were not asked for.
    pub fn exits_refused(&self) -> Option<&str> {
        match &self.exits {
            Exits::Refused(reason) => Some(reason),
            _ => None,
        }
    }

    /// The sampler's name, `"proc"` or `"sysinfo"`, for the log.
    pub fn sampler_name(&self) -> &'static str {
        self.sampler.name()
    }

    /// The time between two ticks.
    pub fn interval(&self) -> Duration {
        self.interval
    }

    /// A handle that stops this collector from another thread.
    pub fn stop_handle(&self) -> StopHandle {
        self.stop.clone()
    }

    fn tick_instant(&self, k: u64) -> Instant {
        let offset = self
            .interval
            .checked_mul(u32::try_from(k).unwrap_or(u32::MAX))
            .unwrap_or(Duration::MAX);
        self.start.checked_add(offset).unwrap_or(self.start)
    }

    /// Which tick to take next: the one after the last, unless it is already more than half an interval past, in
    /// which case the schedule skips to the next tick still ahead.
    fn next_tick(&self, now: Instant) -> u64 {
        let k = self.tick + 1;
        let due = self.tick_instant(k);
        if now <= due || now.duration_since(due) <= self.interval / 2 {
            return k;
        }
        let since_start = now.duration_since(self.start).as_nanos();
        let period = self.interval.as_nanos().max(1);
        u64::try_from(since_start / period + 1).unwrap_or(u64::MAX)
    }

    /// Waits until `due` or until stopped; returns whether stopped.
    fn wait_until(&self, due: Instant) -> bool {
        self.stop.state.wait_until(due)
    }

    /// Blocks until the next tick and returns its sample; `Ok(None)` once stopped (see [`StopHandle`]).
    ///
    /// An error reading the system is returned as is; the schedule goes on, so the caller may log it and call
    /// again.
    pub fn next_sample(&mut self) -> Result<Option<Sample>, Error> {
        let k = self.next_tick(Instant::now());
        let due = self.tick_instant(k);
        if self.wait_until(due) {
            return Ok(None);
        }
        self.tick = k;
        // Cut to the resolution samples keep (100 us).
        let lateness = crate::sampler::cut_lateness(Instant::now().saturating_duration_since(due));
        let observed = Timestamp::now().saturating_sub(lateness);
        let since_start = due.saturating_duration_since(self.start);
        let on_grid = self.wall_start.saturating_add(since_start);
        let drift = on_grid.as_unix_micros().abs_diff(observed.as_unix_micros());
        let ts = if drift <= CLOCK_STEP_TOLERANCE.as_micros() as u64 {
            on_grid
        } else {
            // The wall clock was stepped: follow it from this tick on.
            self.wall_start = observed.saturating_sub(since_start);
            observed
        };
        // The reading's instant is the tick plus the lateness as recorded, so that the interval the
        // sampler measures between two readings is the ticks' spacing plus the change in lateness, exactly.
        let reading = due.checked_add(lateness).unwrap_or_else(Instant::now);
        // The probes completed before the reading starts: one completing during a slow reading (a loaded box)
        // rides the next sample, so that every probe started before the sample that carries it was taken.
        if let Some((latency, dropped)) = self.probes.as_ref().map(ProbeSchedule::take) {
            self.unclaimed.extend(latency);
            self.dropped_probes += dropped;
        }
        // Likewise the OOM kills logged before the reading starts.
        let (kills, dropped, overwritten) = self.kernel_log.take();
        self.unclaimed_kills.extend(kills);
        self.dropped_oom_kills += dropped;
        self.lost_kernel_records += overwritten;
        let mut sample = self.sampler.sample_at(ts, reading)?;
        sample.lateness = lateness;
        sample.latency = std::mem::take(&mut self.unclaimed);
        self.exits.fill(&mut sample);
        sample.oom_kills = std::mem::take(&mut self.unclaimed_kills);
        Ok(Some(sample))
    }
}

/// How far the wall clock may move away from the tick grid before the grid is re-anchored to it.
pub const CLOCK_STEP_TOLERANCE: Duration = Duration::from_millis(100);

/// Plans tick 0 so that tick 1 falls on the next multiple of `interval` since the epoch (in wall time) that is at
/// least half an interval away, giving the primed counters time to move. Returns tick 0's monotonic instant and its
/// wall time.
fn aligned_start(interval: Duration, now: Instant, wall_now: Timestamp) -> (Instant, Timestamp) {
    let step = i64::try_from(interval.as_micros())
        .unwrap_or(i64::MAX)
        .max(1);
    let now_us = wall_now.as_unix_micros();
    let earliest = now_us.saturating_add(step / 2);
    let first = earliest
        .div_euclid(step)
        .saturating_add(1)
        .saturating_mul(step);
    let tick0_us = first.saturating_sub(step);
    let wall_start = Timestamp::from_unix_micros(tick0_us);
    // tick0 may lie before or after `now`.
    let start = if tick0_us >= now_us {
        now.checked_add(Duration::from_micros(tick0_us.abs_diff(now_us)))
    } else {
        now.checked_sub(Duration::from_micros(tick0_us.abs_diff(now_us)))
    };
    (start.unwrap_or(now), wall_start)
}

#[cfg(test)]
mod tests {
    use super::*;

    struct Fake;

    impl Sampler for Fake {
        fn name(&self) -> &'static str {
            "fake"
        }
        fn sample(&mut self, ts: Timestamp) -> Result<Sample, Error> {
            Ok(Sample::new(ts, "test"))
        }
    }

    #[test]
    fn late_ticks_are_skipped_not_bunched() {
        let c = Collector::with_sampler(Box::new(Fake), Duration::from_secs(10));
        let s = c.start;
        // On time or a little late: the next tick.
        assert_eq!(c.next_tick(s), 1);
        assert_eq!(c.next_tick(s + Duration::from_secs(12)), 1);
        // More than half an interval late: skip to the next tick ahead.
        assert_eq!(c.next_tick(s + Duration::from_secs(16)), 2);
        assert_eq!(c.next_tick(s + Duration::from_secs(35)), 4);
        assert_eq!(c.tick_instant(3), s + Duration::from_secs(30));
    }

    #[test]
    fn ticks_align_to_the_wall_clock() {
        let now = Instant::now() + Duration::from_secs(10);
        let sec = Duration::from_secs(1);
        // At 12.3 s: tick 1 at the next whole second at least half a second away, 13.0; tick 0 at 12.0.
        let wall = Timestamp::from_unix_micros(1_000_012_300_000);
        let (start, wall0) = aligned_start(sec, now, wall);
        assert_eq!(wall0.as_unix_micros(), 1_000_012_000_000);
        assert_eq!(now.duration_since(start), Duration::from_millis(300));
        // 12.8 s: 13.0 is too close, so tick 1 is 14.0 and tick 0 is 13.0.
        let wall = Timestamp::from_unix_micros(1_000_012_800_000);
        let (start, wall0) = aligned_start(sec, now, wall);
        assert_eq!(wall0.as_unix_micros(), 1_000_013_000_000);
        assert_eq!(start.duration_since(now), Duration::from_millis(200));
        // 10 s interval at 1,000,012.3 s: tick 1 at 1,000,020 s, tick 0 at 1,000,010 s, 2.3 s ago.
        let wall = Timestamp::from_unix_micros(1_000_012_300_000);
        let (start, wall0) = aligned_start(Duration::from_secs(10), now, wall);
        assert_eq!(wall0.as_unix_micros(), 1_000_010_000_000);
        assert_eq!(now.duration_since(start), Duration::from_millis(2300));
    }

    #[test]
    fn kinds_parse_and_display() {
        for k in [SamplerKind::Auto, SamplerKind::Proc, SamplerKind::Sysinfo] {
            assert_eq!(k.to_string().parse::<SamplerKind>().ok(), Some(k));
        }
        assert!("top".parse::<SamplerKind>().is_err());
    }

    #[test]
    fn bad_settings_are_refused() {
        let err = Collector::builder().interval(Duration::ZERO).build().err();
        assert!(matches!(
            err,
            Some(Error::InvalidConfig {
                setting: "interval",
                ..
            })
        ));
        let err = Collector::builder().top_n(0).build().err();
        assert!(matches!(
            err,
            Some(Error::InvalidConfig {
                setting: "top_n",
                ..
            })
        ));
        for bad in [-1.0, f32::NAN, f32::INFINITY] {
            let err = Collector::builder().cpu_floor_pct(bad).build().err();
            assert!(
                matches!(
                    err,
                    Some(Error::InvalidConfig {
                        setting: "cpu_floor_pct",
                        ..
                    })
                ),
                "{bad}"
            );
        }
    }
}
