//! Synthetic sample series for tests and benchmarks (feature `test-util`).
//!
//! [`Synth`] describes a made-up but realistic Linux server and yields one [`Sample`] per tick, deterministically
//! from a seed: the same configuration always gives the same samples, on every machine. It is pure (no clock, no
//! files, no `rand` crate: a SplitMix64 generator) and streams: [`Synth::iter`] keeps only the live process table,
//! so a week at 1 s (604,800 samples) can be generated without holding it in memory.
//!
//! # The machine
//!
//! - About [`processes`](Synth::processes) processes (300 by default): roughly 40 % kernel threads (`kworker/0:1`,
//!   no resident memory, no command line), the usual daemons (`systemd`, `sshd`, `cron`, `rsyslogd`, `dbus-daemon`),
//!   and an application stack (nginx and php-fpm workers, postgres backends, a JVM, python workers, redis, node)
//!   with command lines and user names like real ones. Most are idle (a clock tick now and then) with steady
//!   resident memory that changes by a few pages once in a while; a few are busy (the JVM, one postgres backend,
//!   node) and a few have "breathing" memory.
//! - Short-lived processes: every minute `cron` runs a job for two seconds (new pid each time, so process identity
//!   churns, and `cron` later shows the job's CPU as [`children_cpu_pct`](crate::ProcessEntry::children_cpu_pct)).
//! - CPU is counted the way Linux counts it, in clock ticks of 1/100 s, divided by the interval actually measured,
//!   and rounded to the tick's resolution as the /proc sampler records it
//!   ([`cpu_pct_of_ticks`](crate::units::cpu_pct_of_ticks)); the measured interval and the lateness jitter by a fraction of a
//!   millisecond, like a real recorder's. [`cores`](Synth::cores) cores (4 by default), 16 GiB of memory, 2 GiB of
//!   swap, load averages, pressure stalls and the OOM-kill counter are filled in like on Linux.
//! - Top lists are built with [`attribute_with`](crate::attribution::attribute_with) and the recorder's CPU floor, so their semantics are the real ones.
//!
//! # Incidents
//!
//! Inject what a test wants to find: a CPU hog ([`Synth::cpu_hog`]), a memory leak ending in an OOM kill
//! ([`Synth::memory_leak`]), a storm of short-lived workers under one name ([`Synth::worker_storm`]), swap growth
//! ([`Synth::swap_climb`]), a reboot ([`Synth::reboot`]) and a gap in the recording ([`Synth::gap`]). Times are [`Timestamp`]s; an incident
//! is active at ticks `t` with `from <= t < to`.
//!
//! # Latency (opt-in)
//!
//! [`Synth::latency_target`] adds a probed network target: one probe per tick (at most one in flight, like the
//! recorder), a round trip around `base_ms` with about `jitter_ms` of noise, an occasional outlier and a rare lost
//! probe (a 5 s timeout). Each sample carries the probes that completed since the previous one
//! ([`Sample::latency`]). Inject an outage ([`Synth::latency_outage`]: probes fail as timeouts or refused
//! connections) or a spike ([`Synth::latency_spike`]: round trips grow by `extra_ms`). Latency has its own random
//! stream, so adding targets leaves every other part of the series exactly as it was.
//!
//! ```
//! use std::time::Duration;
//! use stabmon_core::{Timestamp, synth::Synth};
//!
//! let start = Timestamp::from_unix_secs(1_795_564_800); // 2026-11-25T00:00:00Z
//! let at = |s: u64| start.saturating_add(Duration::from_secs(s));
//! let synth = Synth::new(start, Duration::from_secs(1))
//!     .count(120)
//!     .host("web-1")
//!     .seed(7)
//!     .cpu_hog("xmrig", "./xmrig -o pool.example:3333", at(30), at(60), 190.0);
//!
//! let samples: Vec<_> = synth.iter().collect();
//! assert_eq!(samples.len(), 120);
//! let top = &samples[45].top.processes[0];
//! assert_eq!(top.name, "xmrig");
//! assert!(top.cpu_pct > 150.0);
//! // Deterministic: the same configuration gives the same samples.
//! assert_eq!(synth.iter().nth(45).as_ref(), Some(&samples[45]));
//! ```

mod events;
mod incident;
mod iter;
mod latency;
mod machine;
mod processes;
mod rng;
mod sample;
#[cfg(test)]
mod tests;

pub use incident::Incident;
pub use iter::SynthIter;
pub use latency::LatencyTarget;

use std::time::Duration;

use crate::sample::Sample;
use crate::time::Timestamp;

/// The description of a synthetic series; see the [module docs](self). Build it with [`Synth::new`] and the
/// setters, then call [`Synth::iter`].
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub struct Synth {
    /// The first tick.
    pub start: Timestamp,
    /// The nominal interval between ticks.
    pub interval: Duration,
    /// How many ticks (samples, minus those removed by gaps).
    pub count: u64,
    /// The host name in every sample.
    pub host: String,
    /// The seed of the generator.
    pub seed: u64,
    /// About how many processes run.
    pub processes: usize,
    /// N of the top lists.
    pub top_n: usize,
    /// The CPU floor of the CPU lists, in percent of one core (see [`TopSpec`](crate::attribution::TopSpec)).
    pub cpu_floor_pct: f32,
    /// How many CPU cores.
    pub cores: usize,
    /// Whether command lines are recorded (like the recorder's `--no-cmdline` when false).
    pub cmdlines: bool,
    /// The injected incidents.
    pub incidents: Vec<Incident>,
    /// The probed latency targets (none by default).
    pub latency_targets: Vec<LatencyTarget>,
}

impl Synth {
    /// A series starting at `start` with ticks every `interval`.
    ///
    /// Defaults: 3,600 ticks, host `synth-host`, seed 1, 300 processes, top 10, 4 cores, command lines recorded,
    /// no incidents. A zero interval is taken as 1 s.
    pub fn new(start: Timestamp, interval: Duration) -> Self {
        Synth {
            start,
            interval: if interval.is_zero() {
                Duration::from_secs(1)
            } else {
                interval
            },
            count: 3600,
            host: "synth-host".to_owned(),
            seed: 1,
            processes: 300,
            top_n: 10,
            cpu_floor_pct: crate::attribution::DEFAULT_CPU_FLOOR_PCT,
            cores: 4,
            cmdlines: true,
            incidents: Vec::new(),
            latency_targets: Vec::new(),
        }
    }

    /// How many ticks to generate (by default 3,600). Gaps remove samples from these ticks.
    pub fn count(mut self, count: u64) -> Self {
        self.count = count;
        self
    }

    /// The host name (by default `synth-host`).
    pub fn host(mut self, host: impl Into<String>) -> Self {
        self.host = host.into();
        self
    }

    /// The generator's seed (by default 1). Different seeds give different but equally realistic machines.
    pub fn seed(mut self, seed: u64) -> Self {
        self.seed = seed;
        self
    }

    /// About how many processes run (by default 300; at least the 20 or so a minimal system has).
    pub fn processes(mut self, processes: usize) -> Self {
        self.processes = processes;
        self
    }

    /// N of the top lists (by default 10).
    pub fn top_n(mut self, top_n: usize) -> Self {
        self.top_n = top_n;
        self
    }

    /// The CPU floor of the CPU lists, in percent of one core (by default
    /// [`DEFAULT_CPU_FLOOR_PCT`](crate::attribution::DEFAULT_CPU_FLOOR_PCT), like the recorder's; 0 keeps the strict
    /// top N).
    pub fn cpu_floor_pct(mut self, pct: f32) -> Self {
        self.cpu_floor_pct = pct;
        self
    }

    /// How many CPU cores (by default 4; at least 1).
    pub fn cores(mut self, cores: usize) -> Self {
        self.cores = cores.max(1);
        self
    }

    /// Whether command lines are recorded (by default true; false gives `cmdline: None` everywhere).
    pub fn cmdlines(mut self, cmdlines: bool) -> Self {
        self.cmdlines = cmdlines;
        self
    }

    /// Adds an incident.
    pub fn incident(mut self, incident: Incident) -> Self {
        self.incidents.push(incident);
        self
    }

    /// Adds a CPU hog: a process `name` running from `from` to `to` at about `cpu_pct` % of one core.
    pub fn cpu_hog(
        self,
        name: impl Into<String>,
        cmdline: impl Into<String>,
        from: Timestamp,
        to: Timestamp,
        cpu_pct: f32,
    ) -> Self {
        self.incident(Incident::CpuHog {
            name: name.into(),
            cmdline: cmdline.into(),
            from,
            to,
            cpu_pct,
        })
    }

    /// Adds a memory leak: a process `name` growing by `bytes_per_sec` from `from` until the OOM killer ends it
    /// at `to`.
    pub fn memory_leak(
        self,
        name: impl Into<String>,
        cmdline: impl Into<String>,
        from: Timestamp,
        to: Timestamp,
        bytes_per_sec: u64,
    ) -> Self {
        self.incident(Incident::MemoryLeak {
            name: name.into(),
            cmdline: cmdline.into(),
            from,
            to,
            bytes_per_sec,
        })
    }

    /// Adds a reboot at `at`.
    pub fn reboot(self, at: Timestamp) -> Self {
        self.incident(Incident::Reboot { at })
    }

    /// Adds a gap: no samples for ticks in `[from, to)`.
    pub fn gap(self, from: Timestamp, to: Timestamp) -> Self {
        self.incident(Incident::Gap { from, to })
    }

    /// Adds a storm of `workers` short-lived processes named `name`, each at about `cpu_pct_each` % of one core
    /// and living `lifetime`, from `from` to `to` (see [`Incident::WorkerStorm`]).
    #[allow(clippy::too_many_arguments)]
    pub fn worker_storm(
        self,
        name: impl Into<String>,
        cmdline: impl Into<String>,
        from: Timestamp,
        to: Timestamp,
        workers: u32,
        cpu_pct_each: f32,
        lifetime: Duration,
    ) -> Self {
        self.incident(Incident::WorkerStorm {
            name: name.into(),
            cmdline: cmdline.into(),
            from,
            to,
            workers,
            cpu_pct_each,
            lifetime,
        })
    }

    /// Adds a swap climb: swap in use grows by `bytes_per_sec` from `from` to `to`.
    pub fn swap_climb(self, from: Timestamp, to: Timestamp, bytes_per_sec: u64) -> Self {
        self.incident(Incident::SwapClimb {
            from,
            to,
            bytes_per_sec,
        })
    }

    /// Adds a latency target `name`, probed every tick, answering in about `base_ms` ± `jitter_ms` milliseconds
    /// (see the [module docs](self#latency-opt-in)).
    pub fn latency_target(mut self, name: impl Into<String>, base_ms: f64, jitter_ms: f64) -> Self {
        self.latency_targets
            .push(LatencyTarget::new(name, base_ms, jitter_ms));
        self
    }

    /// Adds a latency outage: probes of `target` started in `[from, to)` fail (see [`Incident::LatencyOutage`]).
    pub fn latency_outage(self, target: impl Into<String>, from: Timestamp, to: Timestamp) -> Self {
        self.incident(Incident::LatencyOutage {
            target: target.into(),
            from,
            to,
        })
    }

    /// Adds a latency spike: probes of `target` started in `[from, to)` take `extra_ms` longer.
    pub fn latency_spike(
        self,
        target: impl Into<String>,
        from: Timestamp,
        to: Timestamp,
        extra_ms: f64,
    ) -> Self {
        self.incident(Incident::LatencySpike {
            target: target.into(),
            from,
            to,
            extra_ms,
        })
    }

    /// The samples, streamed one at a time.
    pub fn iter(&self) -> SynthIter {
        SynthIter::new(self.clone())
    }

    /// All samples in a vector (convenient for short series; prefer [`iter`](Synth::iter) for long ones).
    pub fn generate(&self) -> Vec<Sample> {
        self.iter().collect()
    }
}

impl IntoIterator for &Synth {
    type Item = Sample;
    type IntoIter = SynthIter;
    fn into_iter(self) -> SynthIter {
        self.iter()
    }
}
