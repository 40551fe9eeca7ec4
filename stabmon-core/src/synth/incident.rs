//! The incidents a test injects into a series.

use std::time::Duration;

use crate::time::Timestamp;

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
