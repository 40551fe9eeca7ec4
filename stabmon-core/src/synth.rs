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
//! - Top lists are built with [`attribute_with`] and the recorder's CPU floor, so their semantics are the real ones.
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

use std::time::Duration;

use crate::attribution::{ProcessDetails, ProcessStat, TopSpec, attribute_with};
use crate::latency::{LatencyProbe, ProbeOutcome};
use crate::sample::{CpuUsage, LoadAvg, Memory, Pressure, Sample};
use crate::time::Timestamp;

/// A SplitMix64 pseudo-random generator: tiny, fast and good enough for test data.
#[derive(Debug, Clone)]
struct Rng(u64);

impl Rng {
    fn new(seed: u64) -> Self {
        Rng(seed ^ 0x5DEE_CE66_D1CE_4E5B)
    }

    fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// Uniform in [0, 1).
    fn f64(&mut self) -> f64 {
        (self.next_u64() >> 11) as f64 / (1u64 << 53) as f64
    }

    /// Uniform in [0, n); 0 when n is 0.
    fn below(&mut self, n: u64) -> u64 {
        if n == 0 { 0 } else { self.next_u64() % n }
    }

    fn chance(&mut self, p: f64) -> bool {
        self.f64() < p
    }

    /// Randomized rounding of a non-negative expectation to an integer count.
    fn round(&mut self, expected: f64) -> u64 {
        let e = expected.max(0.0);
        let whole = e.floor();
        whole as u64 + u64::from(self.f64() < e - whole)
    }
}

/// An incident injected into a synthetic series.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub enum Incident {
    /// A process named `name` starts at `from`, burns about `cpu_pct` percent of one core, and exits at `to`.
    CpuHog {
        /// The process name.
        name: String,
        /// Its command line.
        cmdline: String,
        /// When it starts.
        from: Timestamp,
        /// When it exits.
        to: Timestamp,
        /// Percent of one core it burns (above 100 uses several cores, capped by the machine).
        cpu_pct: f32,
    },
    /// A process named `name` starts at `from` with 50 MiB resident and grows by `bytes_per_sec` until `to`, when
    /// the OOM killer ends it (the OOM-kill counter rises by one).
    MemoryLeak {
        /// The process name.
        name: String,
        /// Its command line.
        cmdline: String,
        /// When it starts.
        from: Timestamp,
        /// When it is killed.
        to: Timestamp,
        /// Growth of its resident memory per second.
        bytes_per_sec: u64,
    },
    /// The machine reboots at `at`: from that tick on, samples have a new boot id and boot time (30 s before `at`),
    /// a fresh process table (new pids and start times) and a reset OOM-kill counter. Combine with [`Incident::Gap`]
    /// for the downtime before it.
    Reboot {
        /// The first tick of the new boot.
        at: Timestamp,
    },
    /// No samples for ticks in `[from, to)`: the recorder was not running.
    Gap {
        /// The first missing tick.
        from: Timestamp,
        /// The first tick recorded again.
        to: Timestamp,
    },
    /// A storm of short-lived workers under one name: from `from` to `to`, `workers` processes named `name` run at
    /// once, each burning about `cpu_pct_each` percent of one core and living `lifetime` before a new one (a new
    /// pid) replaces it. A master process of the same name spawns them and reaps their CPU as its children's CPU.
    WorkerStorm {
        /// The workers' (and their master's) name.
        name: String,
        /// The workers' command line.
        cmdline: String,
        /// When the storm starts.
        from: Timestamp,
        /// When it ends (the workers alive then exit).
        to: Timestamp,
        /// How many workers run at once.
        workers: u32,
        /// Percent of one core each worker burns.
        cpu_pct_each: f32,
        /// How long each worker lives.
        lifetime: Duration,
    },
    /// Probes of latency target `target` fail from `from` to `to`: as a timeout (which holds the target for the
    /// 5 s probe timeout) or, about as often, as a refused connection.
    LatencyOutage {
        /// The target's name.
        target: String,
        /// The first probe that fails.
        from: Timestamp,
        /// The first probe that may succeed again.
        to: Timestamp,
    },
    /// Round trips of latency target `target` grow by `extra_ms` from `from` to `to` (bufferbloat, a congested
    /// link).
    LatencySpike {
        /// The target's name.
        target: String,
        /// The first slow probe.
        from: Timestamp,
        /// The first probe at the usual speed again.
        to: Timestamp,
        /// Milliseconds added to each round trip.
        extra_ms: f64,
    },
    /// Swap in use grows by `bytes_per_sec` from `from` to `to` (capped at the swap size) and stays there.
    SwapClimb {
        /// When it starts growing.
        from: Timestamp,
        /// When it stops growing.
        to: Timestamp,
        /// Growth per second.
        bytes_per_sec: u64,
    },
}

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
    /// The CPU floor of the CPU lists, in percent of one core (see [`TopSpec`]).
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

/// A synthetic latency target: its name, typical round trip and noise; see [`Synth::latency_target`].
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub struct LatencyTarget {
    /// The target's name, as in [`LatencyProbe::target`].
    pub name: String,
    /// The typical round trip, in milliseconds.
    pub base_ms: f64,
    /// The typical deviation from it, in milliseconds.
    pub jitter_ms: f64,
}

impl LatencyTarget {
    /// A target `name` answering in about `base_ms` ± `jitter_ms`.
    pub fn new(name: impl Into<String>, base_ms: f64, jitter_ms: f64) -> Self {
        LatencyTarget {
            name: name.into(),
            base_ms: base_ms.max(0.001),
            jitter_ms: jitter_ms.max(0.0),
        }
    }
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

const PAGE: u64 = 4096;
const MIB: u64 = 1 << 20;
const PID_MAX: u32 = 4_194_304;

/// How a simulated process uses the CPU.
#[derive(Debug, Clone, Copy, PartialEq)]
enum CpuProfile {
    /// A clock tick with this probability per second.
    Idle(f64),
    /// Around this percent of one core, with noise.
    Busy(f64),
    /// Exactly this much (incidents).
    Fixed(f64),
}

/// How a simulated process's resident memory moves.
#[derive(Debug, Clone, Copy, PartialEq)]
enum MemProfile {
    /// A few pages change with this probability per second.
    Steady(f64),
    /// Grows and shrinks often (a JVM heap, a database cache).
    Breathing,
    /// Grows by this many bytes per second.
    Leak(u64),
}

#[derive(Debug, Clone)]
struct SimProc {
    pid: u32,
    ppid: u32,
    name: String,
    cmdline: Option<String>,
    user: Option<String>,
    start_time: Timestamp,
    rss_pages: u64,
    base_pages: u64,
    vsz_bytes: u64,
    cpu: CpuProfile,
    mem: MemProfile,
    /// The tick index at which it exits, if it is short-lived.
    exit_at: Option<u64>,
    /// Children's ticks reaped this interval.
    child_ticks: u64,
    kernel: bool,
    /// The index of the worker storm this process is a worker of.
    storm: Option<usize>,
    /// Ticks used over its life (reaped by the parent of a storm worker when it exits).
    life_ticks: u64,
}

/// A template of the processes of a typical server: (name, cmdline, user, rss MiB, profile, count).
struct Template {
    name: &'static str,
    cmdline: &'static str,
    user: &'static str,
    rss_mib: u64,
    cpu: CpuProfile,
    mem: MemProfile,
    count: usize,
}

const fn t(
    name: &'static str,
    cmdline: &'static str,
    user: &'static str,
    rss_mib: u64,
    cpu: CpuProfile,
    mem: MemProfile,
    count: usize,
) -> Template {
    Template {
        name,
        cmdline,
        user,
        rss_mib,
        cpu,
        mem,
        count,
    }
}

use CpuProfile::{Busy, Idle};
use MemProfile::{Breathing, Steady};

#[rustfmt::skip]
const USERLAND: &[Template] = &[
    t("systemd", "/sbin/init splash", "root", 12, Idle(0.05), Steady(0.001), 1),
    t("systemd-journal", "/lib/systemd/systemd-journald", "root", 48, Idle(0.2), Steady(0.01), 1),
    t("systemd-udevd", "/lib/systemd/systemd-udevd", "root", 7, Idle(0.001), Steady(0.0005), 1),
    t("systemd-network", "/lib/systemd/systemd-networkd", "systemd-network", 9, Idle(0.01), Steady(0.0005), 1),
    t("systemd-resolve", "/lib/systemd/systemd-resolved", "systemd-resolve", 13, Idle(0.02), Steady(0.001), 1),
    t("systemd-logind", "/lib/systemd/systemd-logind", "root", 8, Idle(0.005), Steady(0.0005), 1),
    t("systemd-timesyn", "/lib/systemd/systemd-timesyncd", "systemd-timesync", 7, Idle(0.002), Steady(0.0002), 1),
    t("dbus-daemon", "@dbus-daemon --system --address=systemd: --nofork --nopidfile --systemd-activation --syslog-only", "messagebus", 5, Idle(0.01), Steady(0.0005), 1),
    t("rsyslogd", "/usr/sbin/rsyslogd -n -iNONE", "syslog", 6, Idle(0.05), Steady(0.002), 1),
    t("cron", "/usr/sbin/cron -f -P", "root", 3, Idle(0.001), Steady(0.0002), 1),
    t("sshd", "sshd: /usr/sbin/sshd -D [listener] 0 of 10-100 startups", "root", 9, Idle(0.002), Steady(0.0002), 1),
    t("sshd", "sshd: alice@pts/0", "alice", 7, Idle(0.01), Steady(0.0005), 1),
    t("bash", "-bash", "alice", 5, Idle(0.003), Steady(0.0005), 1),
    t("tmux: server", "tmux new -s ops", "alice", 4, Idle(0.02), Steady(0.001), 1),
    t("agetty", "/sbin/agetty -o -p -- \\u --noclear tty1 linux", "root", 2, Idle(0.0), Steady(0.0), 1),
    t("polkitd", "/usr/libexec/polkitd --no-debug", "polkitd", 11, Idle(0.001), Steady(0.0002), 1),
    t("multipathd", "/sbin/multipathd -d -s", "root", 27, Idle(0.1), Steady(0.0005), 1),
    t("containerd", "/usr/bin/containerd", "root", 45, Idle(0.3), Steady(0.01), 1),
    t("dockerd", "/usr/bin/dockerd -H fd:// --containerd=/run/containerd/containerd.sock", "root", 80, Idle(0.2), Steady(0.01), 1),
    t("node_exporter", "/usr/local/bin/node_exporter --collector.systemd --web.listen-address=:9100", "prometheus", 22, Idle(0.1), Steady(0.02), 1),
    t("nginx", "nginx: master process /usr/sbin/nginx -g daemon on; master_process on;", "root", 3, Idle(0.0), Steady(0.0), 1),
    t("nginx", "nginx: worker process", "www-data", 9, Idle(0.3), Steady(0.02), 4),
    t("php-fpm8.2", "php-fpm: master process (/etc/php/8.2/fpm/php-fpm.conf)", "root", 20, Idle(0.01), Steady(0.0005), 1),
    t("php-fpm8.2", "php-fpm: pool www", "www-data", 38, Idle(0.15), Steady(0.05), 12),
    t("postgres", "/usr/lib/postgresql/16/bin/postgres -D /var/lib/postgresql/16/main -c config_file=/etc/postgresql/16/main/postgresql.conf", "postgres", 220, Idle(0.01), Steady(0.001), 1),
    t("postgres", "postgres: 16/main: checkpointer", "postgres", 60, Idle(0.05), Steady(0.01), 1),
    t("postgres", "postgres: 16/main: background writer", "postgres", 12, Idle(0.2), Steady(0.005), 1),
    t("postgres", "postgres: 16/main: walwriter", "postgres", 9, Idle(0.2), Steady(0.002), 1),
    t("postgres", "postgres: 16/main: autovacuum launcher", "postgres", 8, Idle(0.02), Steady(0.001), 1),
    t("postgres", "postgres: 16/main: app appdb 10.0.0.5(52314) idle", "postgres", 35, Idle(0.1), Steady(0.02), 14),
    t("postgres", "postgres: 16/main: app appdb 10.0.0.6(40122) SELECT", "postgres", 140, Busy(25.0), Breathing, 1),
    t("java", "/usr/lib/jvm/java-17-openjdk-amd64/bin/java -Xms2g -Xmx4g -XX:+UseG1GC -Dspring.profiles.active=prod -jar /opt/app/app.jar", "app", 2600, Busy(45.0), Breathing, 1),
    t("node", "node /srv/web/server.js --port 3000", "app", 180, Busy(6.0), Breathing, 1),
    t("redis-server", "/usr/bin/redis-server 127.0.0.1:6379", "redis", 95, Idle(0.5), Steady(0.05), 1),
    t("python3", "/usr/bin/python3 /opt/worker/worker.py --queue default --concurrency 1", "app", 70, Idle(0.4), Steady(0.03), 8),
    t("gunicorn", "/srv/api/venv/bin/python3 /srv/api/venv/bin/gunicorn api.wsgi:application --workers 6 --bind 127.0.0.1:8000", "app", 110, Idle(0.3), Steady(0.03), 6),
    t("snapd", "/usr/lib/snapd/snapd", "root", 30, Idle(0.01), Steady(0.001), 1),
    t("unattended-upgr", "/usr/bin/python3 /usr/share/unattended-upgrades/unattended-upgrade-shutdown --wait-for-signal", "root", 21, Idle(0.0), Steady(0.0), 1),
];

/// Kernel thread names; `{}` is replaced by a CPU number.
const KTHREADS: &[&str] = &[
    "ksoftirqd/{}",
    "migration/{}",
    "cpuhp/{}",
    "kworker/{}:0-events",
    "kworker/{}:1H-kblockd",
    "kworker/{}:2-mm_percpu_wq",
    "idle_inject/{}",
];
const KTHREADS_GLOBAL: &[&str] = &[
    "kthreadd",
    "rcu_gp",
    "rcu_par_gp",
    "rcu_sched",
    "kworker/u8:1-events_unbound",
    "kworker/u8:3-flush-8:0",
    "kcompactd0",
    "khugepaged",
    "kswapd0",
    "jbd2/sda1-8",
    "ext4-rsv-conver",
    "kauditd",
    "oom_reaper",
    "writeback",
    "kintegrityd",
    "kblockd",
    "watchdogd",
    "ksmd",
    "scsi_eh_0",
    "xfsaild/dm-0",
];

/// The streaming generator returned by [`Synth::iter`].
#[derive(Debug, Clone)]
pub struct SynthIter {
    cfg: Synth,
    rng: Rng,
    /// Live processes, sorted by pid.
    procs: Vec<SimProc>,
    tick: u64,
    next_pid: u32,
    boot_time: Timestamp,
    boot_id: String,
    boot_index: u64,
    prev_lateness_ns: u64,
    load: [f64; 3],
    oom_kills: u64,
    cache_bytes: u64,
    swap_used_bytes: u64,
    /// Incidents already started (by index), so each spawns its process once.
    started: Vec<bool>,
    /// Latency's own random stream, so that targets do not change the rest of the series.
    lat_rng: Rng,
    /// Per latency target: until when its probe is in flight (µs).
    lat_busy_until: Vec<i64>,
    /// Probes in flight or completed but not yet handed to a sample: (completion µs, probe).
    lat_pending: Vec<(i64, LatencyProbe)>,
}

/// The synthetic probe timeout.
const PROBE_TIMEOUT_MS: f64 = 5000.0;

impl SynthIter {
    fn new(cfg: Synth) -> Self {
        let rng = Rng::new(cfg.seed);
        let started = vec![false; cfg.incidents.len()];
        let lat_rng = Rng::new(cfg.seed ^ 0x1A7E_0C1E_5EED_0004);
        let lat_busy_until = vec![i64::MIN; cfg.latency_targets.len()];
        let mut it = SynthIter {
            lat_rng,
            lat_busy_until,
            lat_pending: Vec::new(),
            rng,
            procs: Vec::new(),
            tick: 0,
            next_pid: 1,
            boot_time: Timestamp::UNIX_EPOCH,
            boot_id: String::new(),
            boot_index: 0,
            prev_lateness_ns: 0,
            load: [0.0; 3],
            oom_kills: 0,
            cache_bytes: 0,
            swap_used_bytes: 0,
            started,
            cfg,
        };
        // Booted a few days before the series starts.
        let uptime = Duration::from_secs(3 * 86_400 + it.rng.below(86_400));
        it.boot(it.cfg.start.saturating_sub(uptime));
        it
    }

    fn tick_time(&self, tick: u64) -> Timestamp {
        let micros = self
            .cfg
            .interval
            .as_micros()
            .saturating_mul(u128::from(tick));
        self.cfg.start.saturating_add(Duration::from_micros(
            u64::try_from(micros).unwrap_or(u64::MAX),
        ))
    }

    fn boot(&mut self, boot_time: Timestamp) {
        self.boot_time = boot_time;
        self.boot_index += 1;
        let a = self.rng.next_u64();
        let b = self.rng.next_u64();
        self.boot_id = format!(
            "{:08x}-{:04x}-4{:03x}-{:04x}-{:012x}",
            a >> 32,
            (a >> 16) & 0xffff,
            a & 0xfff,
            0x8000 | (b >> 48) & 0x3fff,
            b & 0xffff_ffff_ffff
        );
        self.procs.clear();
        self.next_pid = 1;
        self.oom_kills = 0;
        self.load = [0.8, 0.9, 1.0];
        self.cache_bytes = 3 * (1 << 30) + self.rng.below(1 << 30);
        self.swap_used_bytes = 40 * MIB + self.rng.below(64) * PAGE * 16;
        self.populate();
    }

    fn alloc_pid(&mut self) -> u32 {
        loop {
            let pid = self.next_pid;
            self.next_pid = if pid + 1 >= PID_MAX { 300 } else { pid + 1 };
            if self.procs.binary_search_by_key(&pid, |p| p.pid).is_err() {
                return pid;
            }
        }
    }

    fn insert(&mut self, p: SimProc) {
        let at = self.procs.partition_point(|q| q.pid < p.pid);
        self.procs.insert(at, p);
    }

    /// Creates the process table of a freshly booted machine (started a little after boot).
    fn populate(&mut self) {
        let target = self.cfg.processes.max(1);
        let cores = self.cfg.cores;
        let boot = self.boot_time;
        let mut kernel_names: Vec<String> =
            KTHREADS_GLOBAL.iter().map(|s| (*s).to_owned()).collect();
        for c in 0..cores {
            for k in KTHREADS {
                kernel_names.push(k.replace("{}", &c.to_string()));
            }
        }
        let n_user: usize = USERLAND.iter().map(|t| t.count).sum();
        let n_kernel =
            (target * 2 / 5).min(target.saturating_sub(n_user.min(target)).max(target / 5));
        // Kernel threads first (low pids), like on a real machine.
        let mut extra = 0;
        for i in 0..n_kernel {
            let name = match kernel_names.get(i) {
                Some(n) => n.clone(),
                None => {
                    extra += 1;
                    format!("kworker/u{}:{}-events_unbound", cores * 2, extra)
                }
            };
            let pid = self.alloc_pid();
            let wake = 0.01 + self.rng.f64() * 0.05;
            let start = boot.saturating_add(Duration::from_millis(10 + i as u64 * 3));
            self.insert(SimProc {
                pid,
                ppid: if pid == 1 { 0 } else { 2 },
                name,
                cmdline: None,
                user: Some("root".to_owned()),
                start_time: start,
                rss_pages: 0,
                base_pages: 0,
                vsz_bytes: 0,
                cpu: Idle(wake),
                mem: Steady(0.0),
                exit_at: None,
                child_ticks: 0,
                kernel: true,
                storm: None,
                life_ticks: 0,
            });
        }
        // Then the userland, repeating worker templates until the target is met.
        let mut remaining = target.saturating_sub(n_kernel);
        let mut round = 0;
        while remaining > 0 {
            let before = remaining;
            for tpl in USERLAND {
                let count = if round == 0 {
                    tpl.count
                } else if tpl.count > 1 {
                    tpl.count.div_ceil(2)
                } else {
                    0
                };
                for _ in 0..count.min(remaining) {
                    self.spawn_from_template(tpl, round);
                    remaining -= 1;
                }
                if remaining == 0 {
                    break;
                }
            }
            round += 1;
            if remaining == before {
                break;
            }
        }
    }

    fn spawn_from_template(&mut self, tpl: &Template, round: usize) {
        let pid = self.alloc_pid();
        let started_after =
            Duration::from_secs(5 + self.rng.below(if round == 0 { 60 } else { 86_400 }));
        let start = self.boot_time.saturating_add(started_after);
        let rss_mib = tpl.rss_mib.max(1) as f64 * (0.8 + 0.4 * self.rng.f64());
        let rss_pages = ((rss_mib * MIB as f64) as u64 / PAGE).max(1);
        let vsz_bytes = (rss_pages * PAGE * (3 + self.rng.below(6)) + 100 * MIB) / PAGE * PAGE;
        let ppid = self
            .procs
            .iter()
            .find(|p| p.name == tpl.name && p.pid < pid && !p.kernel)
            .map_or(1, |p| p.pid);
        let cpu = match tpl.cpu {
            Busy(pct) if round > 0 => Idle((pct / 100.0).min(0.5)),
            other => other,
        };
        self.insert(SimProc {
            pid,
            ppid,
            name: tpl.name.to_owned(),
            cmdline: Some(tpl.cmdline.to_owned()),
            user: Some(tpl.user.to_owned()),
            start_time: start,
            rss_pages,
            base_pages: rss_pages,
            vsz_bytes,
            cpu,
            mem: tpl.mem,
            exit_at: None,
            child_ticks: 0,
            kernel: false,
            storm: None,
            life_ticks: 0,
        });
    }

    #[allow(clippy::too_many_arguments)]
    fn spawn(
        &mut self,
        name: &str,
        cmdline: &str,
        user: &str,
        ppid: u32,
        start: Timestamp,
        rss_bytes: u64,
        cpu: CpuProfile,
        mem: MemProfile,
        exit_at: Option<u64>,
    ) -> u32 {
        let pid = self.alloc_pid();
        let rss_pages = (rss_bytes / PAGE).max(1);
        self.insert(SimProc {
            pid,
            ppid,
            name: name.to_owned(),
            cmdline: Some(cmdline.to_owned()),
            user: Some(user.to_owned()),
            start_time: start,
            rss_pages,
            base_pages: rss_pages,
            vsz_bytes: (rss_pages * PAGE * 2 + 64 * MIB) / PAGE * PAGE,
            cpu,
            mem,
            exit_at,
            child_ticks: 0,
            kernel: false,
            storm: None,
            life_ticks: 0,
        });
        pid
    }

    fn in_gap(&self, ts: Timestamp) -> bool {
        self.cfg
            .incidents
            .iter()
            .any(|i| matches!(i, Incident::Gap { from, to } if *from <= ts && ts < *to))
    }

    /// Applies incidents and churn at tick `tick` (time `ts`, scheduled reading start).
    fn events(&mut self, tick: u64, ts: Timestamp) {
        for idx in 0..self.cfg.incidents.len() {
            let incident = self.cfg.incidents[idx].clone();
            match incident {
                Incident::Reboot { at } if !self.started[idx] && at <= ts => {
                    self.started[idx] = true;
                    self.boot(at.saturating_sub(Duration::from_secs(30)));
                }
                Incident::CpuHog {
                    name,
                    cmdline,
                    from,
                    to,
                    cpu_pct,
                } if !self.started[idx] && from <= ts && ts < to => {
                    self.started[idx] = true;
                    let cap = 100.0 * self.cfg.cores as f64;
                    let exit = self.tick_at_or_after(to);
                    self.spawn(
                        &name,
                        &cmdline,
                        "app",
                        1,
                        ts,
                        8 * MIB,
                        CpuProfile::Fixed(f64::from(cpu_pct).min(cap)),
                        Steady(0.01),
                        Some(exit),
                    );
                }
                Incident::MemoryLeak {
                    name,
                    cmdline,
                    from,
                    to,
                    bytes_per_sec,
                } if !self.started[idx] && from <= ts && ts < to => {
                    self.started[idx] = true;
                    let exit = self.tick_at_or_after(to);
                    self.spawn(
                        &name,
                        &cmdline,
                        "app",
                        1,
                        ts,
                        50 * MIB,
                        Busy(3.0),
                        MemProfile::Leak(bytes_per_sec),
                        Some(exit),
                    );
                }
                Incident::SwapClimb {
                    from,
                    to,
                    bytes_per_sec,
                } if from <= ts && ts < to => {
                    let step = (bytes_per_sec as f64 * self.cfg.interval.as_secs_f64()) as u64;
                    self.swap_used_bytes = (self.swap_used_bytes + step).min(2 << 30);
                }
                _ => {}
            }
        }
        // Exits (short-lived jobs, ended incidents); a leaker's end is an OOM kill. The parent reaps the CPU.
        let mut i = 0;
        while i < self.procs.len() {
            if self.procs[i].exit_at.is_some_and(|e| e <= tick) {
                let gone = self.procs.remove(i);
                if matches!(gone.mem, MemProfile::Leak(_)) {
                    self.oom_kills += 1;
                }
                if let Ok(parent) = self.procs.binary_search_by_key(&gone.ppid, |p| p.pid) {
                    // A storm worker hands its real ticks to the parent that reaps it, like Linux's cutime.
                    self.procs[parent].child_ticks += if gone.storm.is_some() {
                        gone.life_ticks
                    } else {
                        20 + self.rng.below(40)
                    };
                }
            } else {
                i += 1;
            }
        }
        // Worker storms replace their exited workers (after the exits, so the count stays steady).
        for idx in 0..self.cfg.incidents.len() {
            if let Incident::WorkerStorm {
                name,
                cmdline,
                from,
                to,
                workers,
                cpu_pct_each,
                lifetime,
            } = self.cfg.incidents[idx].clone()
                && from <= ts
                && ts < to
            {
                self.storm_tick(
                    idx,
                    tick,
                    ts,
                    &name,
                    &cmdline,
                    to,
                    workers,
                    cpu_pct_each,
                    lifetime,
                );
            }
        }
        // Every minute cron runs a two-second job.
        let secs = self.cfg.interval.as_secs().max(1);
        let every = (60 / secs).max(1);
        if tick % every == 7 % every {
            let cron = self
                .procs
                .iter()
                .find(|p| p.name == "cron")
                .map_or(1, |p| p.pid);
            let exit = tick + (2 / secs).max(1);
            let (name, cmd) = if (tick / every).is_multiple_of(5) {
                ("logrotate", "/usr/sbin/logrotate /etc/logrotate.conf")
            } else {
                (
                    "sh",
                    "/bin/sh -c /usr/local/bin/healthcheck.sh >/dev/null 2>&1",
                )
            };
            self.spawn(
                name,
                cmd,
                "root",
                cron,
                ts,
                4 * MIB,
                Busy(30.0),
                Steady(0.2),
                Some(exit),
            );
        }
    }

    /// Keeps a worker storm going at `tick`: its master exists, and `workers` workers are alive.
    #[allow(clippy::too_many_arguments)]
    fn storm_tick(
        &mut self,
        idx: usize,
        tick: u64,
        ts: Timestamp,
        name: &str,
        cmdline: &str,
        to: Timestamp,
        workers: u32,
        cpu_pct_each: f32,
        lifetime: Duration,
    ) {
        let end = self.tick_at_or_after(to);
        let step = self.cfg.interval.as_micros().max(1);
        let life = u64::try_from(lifetime.as_micros().div_ceil(step))
            .unwrap_or(u64::MAX)
            .max(1);
        let master_cmd = format!("{name}: master process");
        if !self.started[idx] {
            self.started[idx] = true;
            self.spawn(
                name,
                &master_cmd,
                "app",
                1,
                ts,
                30 * MIB,
                Idle(0.01),
                Steady(0.001),
                Some(end),
            );
        }
        let master = self
            .procs
            .iter()
            .find(|p| p.name == name && p.cmdline.as_deref() == Some(master_cmd.as_str()))
            .map_or(1, |p| p.pid);
        let alive = self.procs.iter().filter(|p| p.storm == Some(idx)).count();
        let first = alive == 0;
        for k in alive..usize::try_from(workers).unwrap_or(usize::MAX) {
            // The first batch exits staggered, so that replacements come steadily.
            let exit = if first {
                tick + 1 + (k as u64 % life)
            } else {
                tick + life
            };
            let pid = self.spawn(
                name,
                cmdline,
                "app",
                master,
                ts,
                12 * MIB,
                CpuProfile::Fixed(f64::from(cpu_pct_each)),
                Steady(0.05),
                Some(exit.min(end)),
            );
            if let Ok(i) = self.procs.binary_search_by_key(&pid, |p| p.pid) {
                self.procs[i].storm = Some(idx);
            }
        }
    }

    /// Starts the probes due at `ts` (none while the recorder is not running) and returns those completed by `ts`,
    /// in the order they completed.
    fn latency_tick(&mut self, ts: Timestamp, recording: bool) -> Vec<LatencyProbe> {
        let now = ts.as_unix_micros();
        if !recording {
            // The recorder is down: nothing is probed, and probes in flight are lost with it.
            self.lat_pending.clear();
            self.lat_busy_until.iter_mut().for_each(|b| *b = i64::MIN);
            return Vec::new();
        }
        let mut done: Vec<(i64, LatencyProbe)> = Vec::new();
        let mut k = 0;
        while k < self.lat_pending.len() {
            if self.lat_pending[k].0 <= now {
                done.push(self.lat_pending.swap_remove(k));
            } else {
                k += 1;
            }
        }
        done.sort_by_key(|(at, p)| (*at, p.ts));
        for ti in 0..self.cfg.latency_targets.len() {
            if self.lat_busy_until[ti] > now {
                continue;
            }
            let target = &self.cfg.latency_targets[ti];
            let (mut outage, mut extra) = (false, 0.0);
            for inc in &self.cfg.incidents {
                match inc {
                    Incident::LatencyOutage {
                        target: t,
                        from,
                        to,
                    } if *t == target.name && *from <= ts && ts < *to => {
                        outage = true;
                    }
                    Incident::LatencySpike {
                        target: t,
                        from,
                        to,
                        extra_ms,
                    } if *t == target.name && *from <= ts && ts < *to => extra += extra_ms,
                    _ => {}
                }
            }
            let rng = &mut self.lat_rng;
            // Noise: a triangular deviation of about jitter_ms, an outlier now and then, a lost probe rarely.
            let noise = target.jitter_ms * 1.5 * (rng.f64() + rng.f64() - 1.0);
            let outlier = if rng.chance(0.003) {
                target.base_ms * (1.0 + 2.0 * rng.f64())
            } else {
                0.0
            };
            let lost = rng.chance(0.0005);
            let (outcome, ms) = if outage {
                if rng.chance(0.5) {
                    (ProbeOutcome::Timeout, PROBE_TIMEOUT_MS)
                } else {
                    (ProbeOutcome::Refused, 0.05 + 0.1 * rng.f64())
                }
            } else if lost {
                (ProbeOutcome::Timeout, PROBE_TIMEOUT_MS)
            } else {
                let floor = target.base_ms * 0.5;
                let rtt = (target.base_ms + noise).max(floor) + outlier + extra;
                (ProbeOutcome::Ok, rtt.min(PROBE_TIMEOUT_MS))
            };
            // Whole microseconds, like the probes record them.
            let us = (ms * 1000.0).round().max(1.0) as i64;
            let mut probe = LatencyProbe::new(target.name.clone(), ts, outcome);
            if probe.outcome.is_ok() {
                probe.total_ms = Some(us as f64 / 1000.0);
            }
            self.lat_busy_until[ti] = now.saturating_add(us);
            self.lat_pending.push((now.saturating_add(us), probe));
        }
        done.into_iter().map(|(_, p)| p).collect()
    }

    fn tick_at_or_after(&self, t: Timestamp) -> u64 {
        let step = self.cfg.interval.as_micros().max(1);
        match t.duration_since(self.cfg.start) {
            Some(d) => u64::try_from(d.as_micros().div_ceil(step)).unwrap_or(u64::MAX),
            None => 0,
        }
    }

    fn sample(&mut self, tick: u64, ts: Timestamp) -> Sample {
        let cores = self.cfg.cores;
        // Lateness of this reading, in ns: usually 60-400 us, sometimes a few ms.
        let lateness_ns = if self.rng.chance(0.002) {
            1_000_000 + self.rng.below(8_000_000)
        } else {
            60_000 + self.rng.below(340_000)
        } / 100_000
            * 100_000; // 100 us, the collector's resolution (`units::LATENESS_RESOLUTION`)
        let nominal_ns = u64::try_from(self.cfg.interval.as_nanos()).unwrap_or(u64::MAX);
        let elapsed_ns = if tick == 0 {
            nominal_ns
        } else {
            (nominal_ns + lateness_ns)
                .saturating_sub(self.prev_lateness_ns)
                .max(1)
        };
        self.prev_lateness_ns = lateness_ns;
        let elapsed_s = elapsed_ns as f64 / 1e9;
        // Process CPU: clock ticks (100 a second) over the measured interval, at the tick's resolution like the
        // /proc sampler records it.
        let ticks_per_core = elapsed_ns as f64 / 1e7;
        let pct = |ticks: u64| crate::units::cpu_pct_of_ticks(ticks as f64, ticks_per_core);

        // Per-process ticks and memory.
        let hour = (ts.as_unix_secs().rem_euclid(86_400) / 3600) as f64;
        let daytime = 0.6 + 0.4 * ((hour - 4.0) / 24.0 * std::f64::consts::TAU).sin().abs();
        let cap_ticks = (100.0 * elapsed_s * cores as f64) as u64;
        let mut ticks: Vec<u64> = Vec::with_capacity(self.procs.len());
        let mut total_ticks = 0u64;
        for i in 0..self.procs.len() {
            let p = &self.procs[i];
            let (cpu, mem) = (p.cpu, p.mem);
            let t = match cpu {
                Idle(prob) => u64::from(self.rng.chance(prob * daytime)) * (1 + self.rng.below(2)),
                Busy(mean) => {
                    let noisy = mean * daytime * (0.5 + self.rng.f64());
                    self.rng.round(noisy * elapsed_s)
                }
                CpuProfile::Fixed(v) => self.rng.round(v * elapsed_s),
            };
            let t = t.min(cap_ticks.saturating_sub(total_ticks));
            total_ticks += t;
            ticks.push(t);
            let p = &mut self.procs[i];
            p.life_ticks += t;
            match mem {
                Steady(prob) => {
                    if prob > 0.0 && self.rng.chance(prob) {
                        let delta = 1 + self.rng.below(8);
                        p.rss_pages = if self.rng.chance(0.5) || p.rss_pages <= p.base_pages {
                            p.rss_pages + delta
                        } else {
                            p.rss_pages.saturating_sub(delta).max(1)
                        };
                    }
                }
                Breathing => {
                    let swing = p.base_pages / 20 + 1;
                    let step = self.rng.below(swing / 50 + 2);
                    p.rss_pages = if p.rss_pages < p.base_pages || self.rng.chance(0.45) {
                        p.rss_pages + step
                    } else {
                        p.rss_pages.saturating_sub(step)
                    }
                    .clamp(
                        p.base_pages.saturating_sub(swing).max(1),
                        p.base_pages + swing,
                    );
                }
                MemProfile::Leak(rate) => {
                    p.rss_pages += self.rng.round(rate as f64 * elapsed_s / PAGE as f64);
                    p.vsz_bytes = p.vsz_bytes.max(p.rss_pages * PAGE + 64 * MIB);
                }
            }
        }

        let with_cmdlines = self.cfg.cmdlines;
        let procs = &mut self.procs;
        let stats: Vec<ProcessStat<'_>> = procs
            .iter()
            .zip(&ticks)
            .map(|(p, &t)| {
                let mut s = ProcessStat::new(p.pid, &p.name, p.start_time);
                s.parent_pid = Some(p.ppid);
                s.cpu_pct = pct(t);
                s.children_cpu_pct = Some(pct(p.child_ticks));
                // At the samplers' resolution (`units::round_bytes`).
                s.rss_bytes = crate::units::round_bytes(p.rss_pages * PAGE);
                s.virtual_bytes = crate::units::round_bytes(p.vsz_bytes);
                s
            })
            .collect();
        let spec = TopSpec::new(self.cfg.top_n).with_cpu_floor_pct(self.cfg.cpu_floor_pct);
        let top = attribute_with(spec, &stats, |s| {
            let p = procs
                .binary_search_by_key(&s.pid, |p| p.pid)
                .ok()
                .and_then(|i| procs.get(i));
            ProcessDetails::new(
                p.and_then(|p| p.cmdline.clone()).filter(|_| with_cmdlines),
                p.and_then(|p| p.user.clone()),
            )
        });
        let rss_sum: u64 = stats.iter().map(|s| s.rss_bytes).sum();
        let running = stats.iter().filter(|s| s.cpu_pct > 20.0).count();
        drop(stats);
        for p in self.procs.iter_mut() {
            p.child_ticks = 0;
        }

        // Per-core CPU: spread the processes' ticks (plus a little kernel time) over the cores, in ticks.
        let core_total = ((100.0 * elapsed_s).round() as u64).max(1);
        let mut remaining = total_ticks + self.rng.round(cores as f64 * 0.8);
        let mut per_core = Vec::with_capacity(cores);
        for c in 0..cores {
            let left = (cores - c) as u64;
            let share = if left == 1 {
                remaining
            } else {
                {
                    let jitter = 0.7 + 0.6 * self.rng.f64();
                    self.rng.round(remaining as f64 / left as f64 * jitter)
                }
            };
            let busy = share.min(core_total).min(remaining);
            remaining -= busy;
            let sys = self.rng.round(busy as f64 * 0.25);
            let user = busy - sys;
            let io = if busy < core_total {
                u64::from(self.rng.chance(0.1)).min(core_total - busy)
            } else {
                0
            };
            let q = |x: u64| crate::units::cpu_pct_of_ticks(x as f64, core_total as f64);
            let mut u = CpuUsage::new(q(busy));
            u.user_pct = Some(q(user));
            u.system_pct = Some(q(sys));
            u.iowait_pct = Some(q(io));
            u.steal_pct = Some(0.0);
            per_core.push(u);
        }
        // The whole machine as the mean of its cores, as the samplers compute it.
        let cpu = CpuUsage::mean_of(&per_core).unwrap_or_default();

        // Load averages, exponentially smoothed like the kernel's and shown with two decimals.
        let runnable = running as f64 + self.rng.f64();
        for (l, minutes) in self.load.iter_mut().zip([1.0, 5.0, 15.0]) {
            let k = (-elapsed_s / (60.0 * minutes)).exp();
            *l = *l * k + runnable * (1.0 - k);
        }
        let two = |x: f64| ((x * 100.0).round() / 100.0) as f32;

        // Memory: processes plus kernel and a page cache that drifts a little every second.
        let total = 16u64 << 30;
        if self.rng.chance(0.7) {
            let step = self.rng.below(64) * 1024;
            self.cache_bytes = if self.rng.chance(0.5) {
                (self.cache_bytes + step).min(6 << 30)
            } else {
                self.cache_bytes.saturating_sub(step).max(1 << 30)
            };
        }
        if self.rng.chance(0.001) {
            self.swap_used_bytes += self.rng.below(32) * PAGE;
        }
        let used = (rss_sum / 2 + 900 * MIB).min(total);
        let available = total
            .saturating_sub(used)
            .saturating_sub(self.cache_bytes / 4)
            / 1024
            * 1024;
        let memory = Memory::measured(total, available, 2 << 30, self.swap_used_bytes);

        let mut pressure = Pressure::default();
        let some = |rng: &mut Rng, p: f64, scale: f64| {
            if rng.chance(p) {
                // Stalled microseconds over the interval, at the /proc sampler's resolution (0.1 %).
                let stalled_us = rng.below((scale * 1e4) as u64 + 1) as f64;
                crate::units::stall_pct(stalled_us, elapsed_s * 1e6).unwrap_or(0.0)
            } else {
                0.0
            }
        };
        pressure.cpu_some_pct = Some(some(&mut self.rng, 0.3 * daytime, 2.0));
        pressure.memory_some_pct = Some(some(&mut self.rng, 0.01, 0.5));
        pressure.memory_full_pct = Some(some(&mut self.rng, 0.002, 0.2));
        pressure.io_some_pct = Some(some(&mut self.rng, 0.05, 1.0));
        pressure.io_full_pct = Some(some(&mut self.rng, 0.02, 0.5));

        let mut s = Sample::new(ts, self.cfg.host.clone());
        s.boot_time = self.boot_time;
        s.boot_id = Some(self.boot_id.clone());
        s.timezone = Some("Europe/Berlin".to_owned());
        s.utc_offset_secs = Some(3600);
        s.interval = Duration::from_nanos(elapsed_ns);
        s.lateness = Duration::from_nanos(lateness_ns);
        s.cpu = cpu;
        s.per_core = per_core;
        s.load = Some(LoadAvg::new(
            two(self.load[0]),
            two(self.load[1]),
            two(self.load[2]),
        ));
        s.memory = memory;
        s.process_count = u32::try_from(self.procs.len()).unwrap_or(u32::MAX);
        s.pressure = Some(pressure);
        s.oom_kill_count = Some(self.oom_kills);
        s.top = top;
        s
    }
}

impl Iterator for SynthIter {
    type Item = Sample;

    fn next(&mut self) -> Option<Sample> {
        while self.tick < self.cfg.count {
            let tick = self.tick;
            self.tick += 1;
            let ts = self.tick_time(tick);
            self.events(tick, ts);
            let gap = self.in_gap(ts);
            let latency = if self.cfg.latency_targets.is_empty() {
                Vec::new()
            } else {
                self.latency_tick(ts, !gap)
            };
            if gap {
                // The machine goes on; nothing is recorded. Keep the schedule's jitter honest after the gap.
                self.prev_lateness_ns = 0;
                continue;
            }
            let mut s = self.sample(tick, ts);
            s.latency = latency;
            return Some(s);
        }
        None
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        let left = usize::try_from(self.cfg.count.saturating_sub(self.tick)).unwrap_or(usize::MAX);
        (0, Some(left))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn start() -> Timestamp {
        Timestamp::from_unix_secs(1_795_564_800)
    }

    fn at(s: u64) -> Timestamp {
        start().saturating_add(Duration::from_secs(s))
    }

    #[test]
    fn same_seed_same_samples_other_seed_differs() {
        let a = Synth::new(start(), Duration::from_secs(1))
            .count(200)
            .seed(42);
        let first = a.generate();
        assert_eq!(first, a.generate());
        assert_eq!(first.len(), 200);
        let b = a.clone().seed(43).generate();
        assert_ne!(first, b);
    }

    #[test]
    fn realistic_shape() {
        let samples = Synth::new(start(), Duration::from_secs(1))
            .count(120)
            .generate();
        for (i, s) in samples.iter().enumerate() {
            assert_eq!(s.ts, at(i as u64));
            assert!(
                (290..=320).contains(&s.process_count),
                "{}",
                s.process_count
            );
            assert_eq!(s.per_core.len(), 4);
            assert!(s.cpu.busy_pct >= 0.0 && s.cpu.busy_pct <= 100.0);
            let t = &s.top;
            assert_eq!(t.n, 10);
            assert!(t.processes.len() >= 10 && t.processes.len() <= 20);
            assert!(t.names.len() >= 10);
            assert!(s.memory.used_bytes + s.memory.available_bytes <= s.memory.total_bytes);
            assert!(
                s.interval > Duration::from_millis(990) && s.interval < Duration::from_millis(1010)
            );
        }
        // The JVM is the biggest process, with its command line and user.
        let java = &samples[60]
            .top
            .processes
            .iter()
            .find(|p| p.rss_rank == Some(1));
        let java = java.map(|p| (p.name.as_str(), p.user.as_deref(), p.cmdline.is_some()));
        assert_eq!(java, Some(("java", Some("app"), true)));
    }

    #[test]
    fn injected_hog_tops_cpu_only_in_its_window() {
        let synth = Synth::new(start(), Duration::from_secs(1))
            .count(300)
            .cpu_hog("stress-ng", "stress-ng --cpu 2", at(100), at(200), 195.0);
        for (i, s) in synth.iter().enumerate() {
            let top = &s.top.processes[0];
            let hog_present = s.top.processes.iter().any(|p| p.name == "stress-ng");
            if (100..200).contains(&i) {
                assert_eq!(top.name, "stress-ng", "tick {i}");
                assert_eq!(top.cpu_rank, Some(1));
                assert!(top.cpu_pct > 150.0, "tick {i}: {}", top.cpu_pct);
                assert_eq!(top.start_time, at(100));
            } else {
                assert!(!hog_present, "tick {i}");
            }
        }
    }

    #[test]
    fn leak_grows_then_oom_kill() {
        let synth = Synth::new(start(), Duration::from_secs(1))
            .count(200)
            .memory_leak("leaky", "/opt/leaky --serve", at(10), at(150), 40 * MIB);
        let s = synth.generate();
        let rss = |i: usize| {
            s[i].top
                .processes
                .iter()
                .find(|p| p.name == "leaky")
                .map(|p| p.rss_bytes)
        };
        let (a, b) = (rss(20).unwrap_or(0), rss(140).unwrap_or(0));
        assert!(b > a + 4000 * MIB, "{a} -> {b}");
        assert_eq!(
            s[140]
                .top
                .processes
                .iter()
                .find(|p| p.rss_rank == Some(1))
                .map(|p| p.name.as_str()),
            Some("leaky")
        );
        assert_eq!(rss(160), None);
        assert_eq!(s[149].oom_kill_count, Some(0));
        assert_eq!(s[160].oom_kill_count, Some(1));
    }

    #[test]
    fn reboot_and_gap() {
        let synth = Synth::new(start(), Duration::from_secs(1))
            .count(100)
            .gap(at(40), at(60))
            .reboot(at(60));
        let s = synth.generate();
        assert_eq!(s.len(), 80);
        assert_eq!(s[39].ts, at(39));
        assert_eq!(s[40].ts, at(60));
        assert_ne!(s[39].boot_id, s[40].boot_id);
        assert_eq!(s[40].boot_time, at(30));
        assert!(s[39].boot_time < at(0));
        assert_eq!(s[40].boot_id, s[79].boot_id);
    }

    #[test]
    fn worker_storm_keeps_its_count_and_churns_pids() {
        let synth = Synth::new(start(), Duration::from_secs(1))
            .count(120)
            .worker_storm(
                "convert",
                "convert in.png out.jpg",
                at(30),
                at(90),
                40,
                4.0,
                Duration::from_secs(5),
            );
        let s = synth.generate();
        let convert = |i: usize| {
            s[i].top
                .names
                .iter()
                .find(|n| n.name == "convert")
                .map(|n| (n.process_count, n.cpu_pct))
        };
        assert_eq!(convert(20), None);
        for i in 35..90 {
            let (count, cpu) = convert(i).unwrap_or_default();
            // 40 workers and their master.
            assert_eq!(count, 41, "tick {i}");
            assert!(cpu > 140.0 && cpu < 180.0, "tick {i}: {cpu}");
        }
        assert_eq!(convert(95), None);
        // Workers are replaced: pids seen over the storm are many more than 40.
        let mut pids: Vec<u32> = s[30..90]
            .iter()
            .flat_map(|x| {
                x.top
                    .processes
                    .iter()
                    .filter(|p| p.name == "convert")
                    .map(|p| p.pid)
            })
            .collect();
        pids.sort_unstable();
        pids.dedup();
        assert!(pids.len() > 60, "{}", pids.len());
        // The master reaps their CPU.
        let master_children = s[60]
            .top
            .processes
            .iter()
            .find(|p| p.cmdline.as_deref() == Some("convert: master process"))
            .and_then(|p| p.children_cpu_pct);
        assert!(
            master_children.is_some_and(|c| c > 100.0),
            "{master_children:?}"
        );
    }

    #[test]
    fn swap_climb_grows_swap() {
        let synth = Synth::new(start(), Duration::from_secs(1))
            .count(200)
            .swap_climb(at(50), at(150), 4 * MIB);
        let s = synth.generate();
        let swap = |i: usize| s[i].memory.swap_used_bytes;
        assert!(swap(49) < 200 * MIB);
        assert!(
            swap(160) >= swap(49) + 399 * MIB,
            "{} -> {}",
            swap(49),
            swap(160)
        );
        assert!(swap(199) - swap(160) < MIB);
    }

    #[test]
    fn latency_is_opt_in_and_leaves_the_rest_unchanged() {
        let plain = Synth::new(start(), Duration::from_secs(1)).count(300);
        let with = plain
            .clone()
            .latency_target("gw", 2.0, 0.3)
            .latency_target("vpn", 30.0, 4.0)
            .latency_outage("vpn", at(100), at(145))
            .latency_spike("gw", at(200), at(220), 2000.0);
        let (a, b) = (plain.generate(), with.generate());
        assert!(a.iter().all(|s| s.latency.is_empty()));
        assert_eq!(a.len(), b.len());
        for (x, y) in a.iter().zip(&b) {
            let mut y = y.clone();
            y.latency.clear();
            assert_eq!(x, &y);
        }
        assert_eq!(b, with.generate(), "deterministic");
        let probes: Vec<&LatencyProbe> = b.iter().flat_map(|s| &s.latency).collect();
        // Every probe arrives with a sample after its start, and a completed round trip within that time.
        for s in &b {
            for p in &s.latency {
                assert!(p.ts < s.ts, "{} at {}", p.ts, s.ts);
            }
        }
        let of = |name: &str, from: u64, to: u64| -> Vec<&LatencyProbe> {
            probes
                .iter()
                .copied()
                .filter(|p| p.target == name && p.ts >= at(from) && p.ts < at(to))
                .collect()
        };
        let normal = of("gw", 0, 200);
        assert!(normal.len() > 190, "{}", normal.len());
        let rtts: Vec<f64> = normal.iter().filter_map(|p| p.round_trip_ms()).collect();
        let mean = rtts.iter().sum::<f64>() / rtts.len() as f64;
        assert!((1.7..2.5).contains(&mean), "{mean}");
        for p in of("gw", 200, 220) {
            assert!(p.round_trip_ms().is_some_and(|ms| ms > 2000.0), "{p:?}");
        }
        // A 2 s round trip holds the target: the next probe starts at the tick after it, one per 3 s.
        assert!((6..=8).contains(&of("gw", 200, 220).len()));
        let outage = of("vpn", 100, 145);
        assert!(
            outage
                .iter()
                .all(|p| !p.outcome.is_ok() && p.total_ms.is_none())
        );
        assert!(outage.iter().any(|p| p.outcome == ProbeOutcome::Timeout));
        assert!(outage.iter().any(|p| p.outcome == ProbeOutcome::Refused));
        assert!(
            of("vpn", 150, 300)
                .iter()
                .filter(|p| p.outcome.is_ok())
                .count()
                > 140
        );
    }

    #[test]
    fn no_cmdlines_and_sizes() {
        let s = Synth::new(start(), Duration::from_millis(500))
            .count(10)
            .processes(1000)
            .top_n(3)
            .cores(16)
            .cmdlines(false)
            .generate();
        assert_eq!(s[9].ts, start().saturating_add(Duration::from_millis(4500)));
        assert!(s[5].process_count >= 990, "{}", s[5].process_count);
        assert_eq!(s[5].per_core.len(), 16);
        assert!(
            s.iter()
                .all(|x| x.top.processes.iter().all(|p| p.cmdline.is_none()))
        );
        assert!(s.iter().all(|x| x.top.processes.len() <= 6));
    }
}
