//! Incident detection, culprit attribution, gap classification and per-pixel downsampling: the pure analysis
//! behind the report and the terminal commands.
//!
//! - [`detect_incidents`] finds [`Incident`]s in a series of [`Sample`]s: CPU surges, runaway processes, memory
//!   climbs, swap growth, OOM kills, pressure stalls and gaps in the recording, each with the [`Culprit`] that caused it where one can be
//!   named. The rules and their thresholds are in [`DetectOptions`], every default stated there.
//!   [`detect_incident_spans_in`] finds the same incidents without naming their culprits, for a caller that looks
//!   at a sliding window again and again and only needs to know what is new.
//! - [`culprit_for`] answers "which process (or process name) contributed most to the rise in this window, compared
//!   with that baseline?", by CPU share or by resident-memory growth, not just "which was biggest".
//! - [`find_gaps`] finds and classifies the holes in a recording ([`GapKind`]: stopped cleanly, died, rebooted).
//! - [`usage_by_name`] ranks process names (and their biggest pids) by CPU seconds and resident memory over a
//!   window: "which process used the most at 03:12?".
//! - [`downsample_minmax`] picks the samples to draw when there are more samples than pixels, so that no spike
//!   disappears.
//!
//! Everything here is a pure function of its input: no clock, no files, deterministic output.
//!
//! # How detection works
//!
//! **CPU surges** (machine busy %, [`Sample::cpu`]): a rolling robust baseline, the median and the MAD (median
//! absolute deviation, scaled by 1.4826 to estimate a standard deviation σ) of the trailing
//! [`baseline_window`](DetectOptions::baseline_window), recomputed every
//! [`baseline_step`](DetectOptions::baseline_step) from the samples that were not part of an incident (so a long
//! surge does not become its own baseline; after [`max_frozen`](DetectOptions::max_frozen) it does, as a new
//! normal). A surge starts at a sample above the *enter* threshold, the largest of `median + k·σ`
//! ([`mad_k`](DetectOptions::mad_k)), `median + cpu_min_rise_pct` and `cpu_floor_pct`, and lasts while the CPU stays
//! above the *exit* threshold, `median + exit_ratio·(enter - median)` (hysteresis). Surges separated by less than
//! [`merge_gap`](DetectOptions::merge_gap) are merged, then those shorter than
//! [`cpu_min_duration`](DetectOptions::cpu_min_duration) are dropped. At the start of a series (or after a long
//! gap), before a trailing window exists, the baseline is taken from the window that follows instead.
//!
//! The floor and the minimum rise are shares of the machine on small machines and a few cores' worth on large
//! ones ([`cpu_floor_pct`](DetectOptions::cpu_floor_pct) says why).
//!
//! **Runaway processes**: one process, or the processes of one name together, busy on most of a core
//! ([`runaway_cpu_pct`](DetectOptions::runaway_cpu_pct), % of one core) whatever the machine's total. Each
//! sample's busiest process (by its own CPU) and busiest group of one name
//! ([`Sample::busiest_group`](crate::Sample::busiest_group): its listed processes and those that exited within
//! the interval together, so a storm of short-lived workers is a group, labelled `php-cgi (x160 exited) 1.7 cores
//! for 39 s`; not the busiest process's name when that process alone is most of it, so a second runaway beside a
//! busy JVM is seen) are followed: a run starts when one of them is at
//! or above the threshold and goes on while it stays at or above `exit_ratio` times it each time it is the
//! busiest, merged across absences shorter than [`merge_gap`](DetectOptions::merge_gap) (two runaways on two
//! cores take turns at being the busiest). A run counts when it was the busiest for at least
//! [`runaway_min_duration`](DetectOptions::runaway_min_duration) and its mean CPU then was at least
//! [`runaway_min_rise_pct`](DetectOptions::runaway_min_rise_pct) above its own mean over the
//! [`baseline_window`](DetectOptions::baseline_window) before (0 before the process started; where it was not
//! listed, the sample's N-th value, an upper bound). For a process its name must have risen as much too, so a
//! restarted JVM that was already at 150 % is no incident, nor a busy process that was always busy. A subject
//! whose baseline window is less than half recorded (the start of a range) is judged only if it started within
//! the recording. A process and its name over the same time are one runaway: the name when its processes together
//! used at least [`NAME_MARGIN`] times the process's CPU; a group that was one process all along is named by its
//! pid. A runaway overlapping a CPU surge is one incident, the
//! surge, over both spans. Its label reads `ffmpeg (pid 4123) 100% of a core for 3 min`. The busiest process and
//! group of every sample are columns of the series
//! ([`BusiestColumns`](crate::series::BusiestColumns)), so a month is scanned without its process rows; whole
//! samples are read only for each candidate's baseline window and run start.
//!
//! **Memory climbs and swap growth** are about levels, not rates, so they use a rise rule on the level's running
//! maximum over [`climb_smoothing`](DetectOptions::climb_smoothing) (which ignores short dips): from a low point, the
//! level climbs to a peak without falling back by more than [`climb_pullback_ratio`](DetectOptions::climb_pullback_ratio)
//! of the minimum rise; a climb whose rise reaches the minimum rise (memory: the larger of
//! [`memory_min_rise_fraction`](DetectOptions::memory_min_rise_fraction) of total memory and
//! [`memory_min_rise_bytes`](DetectOptions::memory_min_rise_bytes); swap:
//! [`swap_min_rise_bytes`](DetectOptions::swap_min_rise_bytes)) is an incident from where it left its low point to
//! where it reached its peak (within an eighth of the minimum rise of each: noise at either end does not stretch
//! it). A climb also ends when it gains less than an eighth of the minimum rise for
//! [`climb_idle`](DetectOptions::climb_idle). Slow leaks over
//! hours are found this way; a baseline that follows the level would hide them. A climb's culprit must have grown
//! by at least a quarter of the climb, else none is named (swap often fills without any listed process growing).
//!
//! **OOM kills**: an incident at every rise of the kernel's `oom_kill` counter between two samples of the same
//! boot (also across a gap: the kill may be what stopped the recorder). The culprit is the victim, the process whose
//! resident memory vanished at that moment.
//!
//! **Pressure stalls**: memory `full` or io `full` at or above
//! [`pressure_full_floor_pct`](DetectOptions::pressure_full_floor_pct), or cpu `some` at or above
//! [`pressure_cpu_some_floor_pct`](DetectOptions::pressure_cpu_some_floor_pct), for at least
//! [`pressure_min_duration`](DetectOptions::pressure_min_duration) (with the same hysteresis and merging).
//!
//! **Gaps**: see [`find_gaps`]. No incident of another kind spans a gap.
//!
//! **Latency spikes** are found per target ([`Incident::target`]) on the round trips of its successful probes
//! ([`Sample::latency`], ordered by start time), like CPU surges: the same rolling median and MAD (over
//! [`baseline_window`](DetectOptions::baseline_window), recomputed every
//! [`baseline_step`](DetectOptions::baseline_step), frozen during a spike), an enter threshold that is the largest of
//! `median + k·σ`, `median + latency_min_rise_ms` and `latency_min_ratio · median` (so no "spike" from 3 ms to
//! 9 ms, nor from 20 ms to 45 ms), the same hysteresis and merging, and a minimum duration
//! [`latency_min_duration`](DetectOptions::latency_min_duration) counted from the start of the first slow probe to
//! the end of the last (one 2.1 s round trip lasts 2.1 s; merged spikes count only their slow time). Failed probes do not take part. The incident runs from
//! the first slow probe's start to the last one's end and peaks at the slowest; its magnitude is that round trip in
//! milliseconds.
//!
//! **Latency outages**: at each probe of a target, the share of failed probes (every outcome but ok, see
//! [`loss`](crate::latency::loss)) over the trailing [`outage_window`](DetectOptions::outage_window), extended back
//! to at least [`outage_min_probes`](DetectOptions::outage_min_probes) probes; an outage starts when it reaches
//! [`outage_loss_floor`](DetectOptions::outage_loss_floor) (from the first failed probe in that window) and lasts
//! while it stays at or above `exit_ratio · outage_loss_floor`; it ends at the first successful probe after its
//! last failure. Its magnitude is the loss in percent over its probes.
//!
//! Latency incidents name no culprit: a process rarely causes them, and an overlapping CPU surge is reported as its
//! own incident, not as a cause. Their label is the summary, naming the target: `router: 2.1 s (baseline 3.0 ms)`,
//! `vpn: outage 45s (100% loss)`.
//!
//! # Example
//!
//! ```
//! use std::time::Duration;
//! use stabmon_core::{CpuUsage, Sample, Timestamp};
//! use stabmon_core::analysis::{DetectOptions, IncidentKind, detect_incidents};
//! use stabmon_core::attribution::{ProcessDetails, ProcessStat, attribute};
//!
//! // 20 minutes of a quiet NAS at 1 s; at 03:12:00 ffmpeg takes almost two cores for a minute.
//! let t0 = Timestamp::from_unix_secs(1_795_575_600); // 2026-11-25T03:00:00Z
//! let at = |s: u64| t0.saturating_add(Duration::from_secs(s));
//! let samples: Vec<Sample> = (0..1200)
//!     .map(|i| {
//!         let mut s = Sample::new(at(i), "nas");
//!         s.interval = Duration::from_secs(1);
//!         let hog = (720..780).contains(&i);
//!         let mut sshd = ProcessStat::new(800, "sshd", t0);
//!         sshd.cpu_pct = (i % 3) as f32;
//!         let mut procs = vec![sshd];
//!         if hog {
//!             let mut ffmpeg = ProcessStat::new(4123, "ffmpeg", at(720));
//!             ffmpeg.cpu_pct = 187.0;
//!             procs.push(ffmpeg);
//!         }
//!         s.cpu = CpuUsage::new(if hog { 97.0 } else { 3.0 + (i % 3) as f32 });
//!         s.top = attribute(10, &procs, |_| ProcessDetails::default());
//!         s
//!     })
//!     .collect();
//!
//! let incidents = detect_incidents(&samples, &DetectOptions::default());
//! assert_eq!(incidents.len(), 1);
//! let surge = &incidents[0];
//! assert_eq!(surge.kind, IncidentKind::CpuSurge);
//! assert_eq!(surge.start.to_string(), "2026-11-25T03:12:00Z");
//! assert_eq!(surge.summary, "CPU 97% (baseline 4%)");
//! assert_eq!(surge.label(), "ffmpeg (pid 4123) 187% CPU");
//! ```

use std::time::Duration;

use serde::Serialize;

use crate::human;
use crate::sample::Sample;
use crate::time::Timestamp;

mod culprit;
mod detect;
mod downsample;
mod gaps;
mod latency;
mod runaway;
mod unit_usage;
mod usage;
mod view;

pub use culprit::{NAME_MARGIN, culprit_for};
pub use detect::{SpanMemo, detect_incident_spans_in, detect_incidents, detect_incidents_in};
pub use downsample::{downsample_minmax, downsample_minmax_iter};
pub use gaps::{find_gaps, median_i64};
pub use unit_usage::{UnitUsage, UnitUsageAcc, rank_units_by_memory};
pub use usage::{NameRow, NameUsage, PidUsage, ProcRow, UsageAcc, rank_by_memory, usage_by_name};

const MIB: u64 = 1 << 20;

macro_rules! options {
    ($( $(#[doc = $doc:expr])* $field:ident : $ty:ty = $default:expr ; )*) => {
        /// The thresholds and windows of [`detect_incidents`] and [`find_gaps`]; see the [module docs](self) for
        /// how they combine.
        ///
        /// Build it with [`DetectOptions::default`] and the builder-style setters, which share the fields' names:
        ///
        /// ```
        /// use std::time::Duration;
        /// use stabmon_core::analysis::DetectOptions;
        ///
        /// let opts = DetectOptions::default()
        ///     .cpu_floor_pct(40.0)
        ///     .cpu_min_duration(Duration::from_secs(30));
        /// assert_eq!(opts.cpu_min_rise_pct, 25.0);
        /// ```
        #[derive(Debug, Clone, PartialEq, Serialize)]
        #[non_exhaustive]
        pub struct DetectOptions {
            $( $(#[doc = $doc])* pub $field: $ty, )*
        }

        impl Default for DetectOptions {
            fn default() -> Self {
                DetectOptions { $( $field: $default, )* }
            }
        }

        impl DetectOptions {
            $(
                $(#[doc = $doc])*
                #[must_use]
                pub fn $field(mut self, $field: $ty) -> Self {
                    self.$field = $field;
                    self
                }
            )*
        }
    };
}

options! {
    /// The trailing window over which the CPU baseline (median and MAD) is computed. By default, this is 10
    /// minutes.
    baseline_window: Duration = Duration::from_secs(600);
    /// How often the baseline is recomputed (it is constant in between, which keeps a week of 1 s samples cheap).
    /// By default, this is 1 minute.
    baseline_step: Duration = Duration::from_secs(60);
    /// k: how many robust standard deviations (1.4826 · MAD) above the median the enter threshold is at least. By
    /// default, this is 5.
    mad_k: f64 = 5.0;
    /// Hysteresis: an incident lasts while the value stays above `baseline + exit_ratio · (enter - baseline)`
    /// (for pressure stalls: `exit_ratio · floor`). By default, this is 0.5.
    exit_ratio: f64 = 0.5;
    /// Incidents of the same kind separated by less than this are merged into one. By default, this is 30 seconds.
    merge_gap: Duration = Duration::from_secs(30);
    /// How long a CPU surge keeps the baseline frozen; after that its samples enter the baseline, which catches up
    /// with a lasting new level and ends the incident. By default, this is 1 hour.
    max_frozen: Duration = Duration::from_secs(3600);
    /// A CPU surge must exceed the baseline by at least this many percentage points of the machine's CPU, or by
    /// [`cpu_min_rise_cores`](Self::cpu_min_rise_cores) cores' worth where that is less. By default, this is 25.
    cpu_min_rise_pct: f64 = 25.0;
    /// A CPU surge must exceed the baseline by at most this many cores' worth of CPU (where a sample's core count
    /// is known): on 16 cores the minimum rise is 12.5 points, on 64 cores 3.1, not 25 points (16 cores of extra
    /// work). By default, this is 2.
    cpu_min_rise_cores: f64 = 2.0;
    /// A CPU surge must reach at least this machine-wide busy percentage (no incident for 3 % to 6 %), or
    /// [`cpu_floor_cores`](Self::cpu_floor_cores) cores' worth where that is less. By default, this is 50.
    ///
    /// Why both: a machine-level surge is the whole machine getting busier, many processes together; one process
    /// busy on a core is a [runaway](Self::runaway_cpu_pct), found per process whatever the machine's size. On a
    /// small machine a share is what matters: on 2 cores 50 % is one core's work, on 4 cores two, on 8 cores
    /// four. On a large one a share is blind: 50 % of 64 cores is 32 busy cores before anything would be
    /// reported, and a fixed share below 10 % would turn every cron job of a small machine into an incident. So
    /// the floor is the smaller of the two: 50 % up to 8 cores, 25 % on 16, 6.25 % (four cores) on 64.
    cpu_floor_pct: f64 = 50.0;
    /// The machine-level floor in cores' worth of CPU, used where it is lower than
    /// [`cpu_floor_pct`](Self::cpu_floor_pct) (machines with more than 8 cores by default). By default, this is
    /// 4.
    cpu_floor_cores: f64 = 4.0;
    /// A CPU surge shorter than this is dropped. By default, this is 10 seconds.
    cpu_min_duration: Duration = Duration::from_secs(10);
    /// A runaway process: one process (or the processes of one name together) using at least this much CPU, in
    /// % of one core, for [`runaway_min_duration`](Self::runaway_min_duration), well above its own recent level,
    /// whatever the machine's total. It goes on while it stays at or above `exit_ratio` times this. By default,
    /// this is 90 (most of a core: a single-threaded loop measures 95 % to 100 %).
    runaway_cpu_pct: f64 = 90.0;
    /// How long a runaway must be the busiest process (or name) at or above
    /// [`runaway_cpu_pct`](Self::runaway_cpu_pct) to be an incident. By default, this is 10 seconds.
    runaway_min_duration: Duration = Duration::from_secs(10);
    /// How far above its recent level (its mean over the [`baseline_window`](Self::baseline_window) before) a
    /// runaway must be, in percentage points of one core; a process always that busy (a JVM at 150 % all day) is
    /// none. By default, this is 50.
    runaway_min_rise_pct: f64 = 50.0;
    /// A memory climb must raise used memory by at least this share of total memory (and by
    /// `memory_min_rise_bytes`). By default, this is 0.05 (5 %).
    memory_min_rise_fraction: f64 = 0.05;
    /// A memory climb must raise used memory by at least this many bytes. By default, this is 256 MiB.
    memory_min_rise_bytes: u64 = 256 * MIB;
    /// Swap growth must raise swap in use by at least this many bytes. By default, this is 128 MiB.
    swap_min_rise_bytes: u64 = 128 * MIB;
    /// A climb (memory or swap) ends when the level falls back from its peak by more than this share of the
    /// minimum rise. By default, this is 0.5.
    climb_pullback_ratio: f64 = 0.5;
    /// A climb also ends when it gains less than an eighth of its minimum rise for this long (a plateau; a later
    /// climb from there is another incident). By default, this is 10 minutes.
    climb_idle: Duration = Duration::from_secs(600);
    /// Climbs are found on the running maximum of the level over this trailing window, so that dips shorter than it
    /// (a garbage collector's sawtooth on a leaking heap) do not break a climb. By default, this is 1 minute.
    climb_smoothing: Duration = Duration::from_secs(60);
    /// A memory or io `full` pressure stall is at least this share of the interval. By default, this is 10 %.
    pressure_full_floor_pct: f64 = 10.0;
    /// A cpu `some` pressure stall is at least this share of the interval. By default, this is 50 %.
    pressure_cpu_some_floor_pct: f64 = 50.0;
    /// A pressure stall shorter than this is dropped. By default, this is 10 seconds.
    pressure_min_duration: Duration = Duration::from_secs(10);
    /// A step between samples longer than `gap_factor` times the recording interval (the median step around it) is
    /// a gap, if it is also longer than `min_gap`. By default, this is 3.
    gap_factor: f64 = 3.0;
    /// A step between samples must be longer than this to be a gap. By default, this is 2 seconds.
    min_gap: Duration = Duration::from_secs(2);
    /// A latency spike must exceed the target's baseline (median round trip) by at least this many milliseconds.
    /// By default, this is 50.
    latency_min_rise_ms: f64 = 50.0;
    /// A latency spike must reach at least this many times the target's baseline. By default, this is 3.
    latency_min_ratio: f64 = 3.0;
    /// A latency spike shorter than this is dropped, counted from the start of its first slow probe to the end of
    /// its last one. By default, this is 2 seconds.
    latency_min_duration: Duration = Duration::from_secs(2);
    /// A latency outage: at least this share of a target's probes failed over the outage window. By default, this
    /// is 0.5 (50 %).
    outage_loss_floor: f64 = 0.5;
    /// The trailing window over which a target's loss is measured for outages (extended to
    /// `outage_min_probes` probes). By default, this is 10 seconds.
    outage_window: Duration = Duration::from_secs(10);
    /// The fewest probes the outage window holds (it reaches further back when needed). By default, this is 5.
    outage_min_probes: u32 = 5;
    /// Without boot ids, a boot time that moved by more than this means a reboot (clock adjustments move it a
    /// little). By default, this is 60 seconds.
    boot_time_tolerance: Duration = Duration::from_secs(60);
    /// When the recorder stopped cleanly (the store's clean-stop markers), to tell [`GapKind::StoppedCleanly`] from
    /// [`GapKind::Died`]. By default, this is empty (every gap without a reboot is then "died").
    clean_stops: Vec<Timestamp> = Vec::new();
}

/// Why the recording has a hole.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[non_exhaustive]
pub enum GapKind {
    /// The recorder stopped cleanly (a clean-stop marker lies in the gap) and the machine did not reboot.
    StoppedCleanly,
    /// No clean-stop marker and the same boot: the recorder died (killed, crashed) or the machine hung.
    Died,
    /// The machine rebooted: a new boot id (or, without boot ids, a boot time that moved). Takes precedence over a
    /// clean stop; [`Gap::clean_stop`] tells an orderly reboot from a crash.
    Rebooted,
    /// Data recorded there could not be read (a damaged file the reader skipped, which it warned of): neither a
    /// reboot nor a clean stop shows, and the hole is not the recorder's.
    Unreadable,
}

impl GapKind {
    /// A short description: `recorder stopped cleanly`, `recorder died`, `machine rebooted`, `data unreadable`.
    pub fn describe(self) -> &'static str {
        match self {
            GapKind::StoppedCleanly => "recorder stopped cleanly",
            GapKind::Died => "recorder died",
            GapKind::Rebooted => "machine rebooted",
            GapKind::Unreadable => "data unreadable",
        }
    }
}

/// What kind of incident.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[non_exhaustive]
pub enum IncidentKind {
    /// The machine's CPU rose well above its baseline.
    CpuSurge,
    /// Used memory climbed.
    MemoryClimb,
    /// Swap in use grew.
    SwapGrowth,
    /// The kernel's OOM killer killed a process.
    OomKill,
    /// Tasks stalled waiting for memory, io (`full`) or CPU (`some`).
    PressureStall,
    /// A hole in the recording.
    Gap(GapKind),
    /// A latency target's round trips rose well above its baseline ([`Incident::target`] names it).
    LatencySpike,
    /// Most probes of a latency target failed ([`Incident::target`] names it).
    LatencyOutage,
    /// One process, or the processes of one name, kept most of a core busy well above their recent level
    /// ([`Incident::culprit`] names it).
    Runaway,
}

impl IncidentKind {
    /// A short name for tables: `CPU surge`, `memory climb`, `swap growth`, `OOM kill`, `pressure stall`,
    /// `gap`, `latency spike`, `latency outage`, `runaway`.
    pub fn name(self) -> &'static str {
        match self {
            IncidentKind::CpuSurge => "CPU surge",
            IncidentKind::MemoryClimb => "memory climb",
            IncidentKind::SwapGrowth => "swap growth",
            IncidentKind::OomKill => "OOM kill",
            IncidentKind::PressureStall => "pressure stall",
            IncidentKind::Gap(_) => "gap",
            IncidentKind::LatencySpike => "latency spike",
            IncidentKind::LatencyOutage => "latency outage",
            IncidentKind::Runaway => "runaway",
        }
    }
}

impl std::fmt::Display for IncidentKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

/// The process, or the process name, held responsible for an incident.
#[derive(Debug, Clone, PartialEq, Default, Serialize)]
#[non_exhaustive]
pub struct Culprit {
    /// The process name.
    pub name: String,
    /// The process id; `None` when the culprit is a name total (many processes sharing the name).
    pub pid: Option<u32>,
    /// The command line (for a name total: that of one of its processes), when recorded.
    pub cmdline: Option<String>,
    /// How many processes: 1 for a single process; for a name total the most seen at once in the window.
    pub process_count: u32,
    /// For CPU: mean CPU over the incident, in percent of one core (for a process, its own plus its reaped
    /// children's).
    pub cpu_pct: Option<f32>,
    /// For memory: resident-memory growth over the incident (from its start to its peak).
    pub rss_growth_bytes: Option<i64>,
    /// Resident memory: at the peak for a climb, just before death for an OOM victim.
    pub rss_bytes: Option<u64>,
    /// For a name total: how many of its processes exited within the incident (recorded exits, Linux); 0 when
    /// none did or exits were not recorded.
    pub exited_count: u32,
    /// For an OOM victim the kernel named: its anonymous resident memory when killed (`anon-rss`).
    pub anon_rss_bytes: Option<u64>,
    /// The process's control group (for an OOM victim the kernel named: its memory cgroup).
    pub cgroup: Option<String>,
    /// The systemd unit or container of [`cgroup`](Self::cgroup), where one is recognisable
    /// ([`unit_of`](crate::cgroup::unit_of)).
    pub unit: Option<String>,
    /// Whether the culprit is inferred rather than reported: an OOM victim guessed from the resident memory that
    /// vanished, where the kernel log named none. The label then says so.
    pub guessed: bool,
}

impl Culprit {
    /// A culprit named `name`, one process, nothing measured.
    pub fn new(name: impl Into<String>) -> Self {
        Culprit {
            name: name.into(),
            process_count: 1,
            ..Culprit::default()
        }
    }

    /// The text drawn on a chart: who, then what.
    ///
    /// An OOM victim the kernel named reads in the kernel's terms: `java (pid 812), 6.3 GB anon RSS, cgroup
    /// /system.slice/app.service` (from [`anon_rss_bytes`](Culprit::anon_rss_bytes) and
    /// [`cgroup`](Culprit::cgroup)); a [guessed](Culprit::guessed) one ends with `(a guess)`.
    ///
    /// Who: `name (pid N)` for a process, `name (xN exited)` for a name total whose processes exited within the
    /// incident (a storm of short-lived workers), `name (xN)` for a name total of several processes, else `name`.
    /// What:
    /// `187% CPU` when [`cpu_pct`](Culprit::cpu_pct) is known, `+2.1 GB RSS` when
    /// [`rss_growth_bytes`](Culprit::rss_growth_bytes) is, else `5.6 GB RSS` from
    /// [`rss_bytes`](Culprit::rss_bytes); several are joined with `, `. Bytes are decimal (1 GB = 10^9 bytes).
    ///
    /// ```
    /// use stabmon_core::analysis::Culprit;
    ///
    /// let mut c = Culprit::new("php-fpm");
    /// c.process_count = 40;
    /// c.cpu_pct = Some(160.4);
    /// assert_eq!(c.label(), "php-fpm (x40) 160% CPU");
    ///
    /// let mut storm = Culprit::new("php-cgi");
    /// storm.exited_count = 412;
    /// storm.cpu_pct = Some(170.0);
    /// assert_eq!(storm.label(), "php-cgi (x412 exited) 170% CPU");
    /// ```
    pub fn label(&self) -> String {
        let who = self.who();
        if let Some(anon) = self.anon_rss_bytes {
            // An OOM victim in the kernel's terms.
            let mut out = format!("{who}, {} anon RSS", human::bytes(anon));
            if let Some(cg) = &self.cgroup {
                out.push_str(", cgroup ");
                out.push_str(cg);
            }
            return out;
        }
        let mut what = Vec::new();
        if let Some(cpu) = self.cpu_pct {
            what.push(format!("{} CPU", human::pct(f64::from(cpu))));
        }
        match (self.rss_growth_bytes, self.rss_bytes) {
            (Some(g), _) => what.push(format!("{} RSS", human::signed_bytes(g))),
            (None, Some(b)) => what.push(format!("{} RSS", human::bytes(b))),
            (None, None) => {}
        }
        let label = if what.is_empty() {
            who
        } else {
            format!("{who} {}", what.join(", "))
        };
        if self.guessed {
            format!("{label} (a guess)")
        } else {
            label
        }
    }
}

impl Culprit {
    /// Who, as [`label`](Self::label) opens: `name (pid N)`, `name (xN exited)`, `name (xN)` or `name`.
    pub fn who(&self) -> String {
        match self.pid {
            Some(pid) => format!("{} (pid {pid})", self.name),
            None if self.exited_count > 0 => {
                format!("{} (x{} exited)", self.name, self.exited_count)
            }
            None if self.process_count > 1 => format!("{} (x{})", self.name, self.process_count),
            None => self.name.clone(),
        }
    }
}

/// Something that went wrong, over a time span, and who did it.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[non_exhaustive]
pub struct Incident {
    /// What kind.
    pub kind: IncidentKind,
    /// The first sample of the incident (for an OOM kill or a gap: the last sample before it).
    pub start: Timestamp,
    /// The last sample of the incident (for an OOM kill or a gap: the first sample after it).
    pub end: Timestamp,
    /// The sample where it was worst (where a chart should put its label).
    pub peak: Timestamp,
    /// How bad, in the kind's unit: CPU surge: peak busy %; memory climb and swap growth: the rise in bytes; OOM
    /// kill: how many kills; pressure stall: peak stall %; gap: its length in seconds; latency spike: the slowest
    /// round trip in milliseconds; latency outage: the share of its probes that failed, in percent; runaway: the
    /// culprit's mean CPU while it was the busiest, in % of one core.
    pub magnitude: f64,
    /// What happened, in a few words: `CPU 97% (baseline 4%)`, `memory +2.8 GB (6.1 GB → 8.9 GB used)`.
    pub summary: String,
    /// Who did it, where one can be named.
    pub culprit: Option<Culprit>,
    /// The latency target a latency spike or outage happened on (as the user named it); `None` for the other
    /// kinds.
    pub target: Option<String>,
}

impl Incident {
    /// An incident of `kind` from `start` to `end`, peaking at `start`, with no magnitude, summary or culprit.
    pub fn new(kind: IncidentKind, start: Timestamp, end: Timestamp) -> Self {
        Incident {
            kind,
            start,
            end,
            peak: start,
            magnitude: 0.0,
            summary: String::new(),
            culprit: None,
            target: None,
        }
    }

    /// How long it lasted: `end - start` (zero if they are reversed).
    pub fn duration(&self) -> Duration {
        self.end.duration_since(self.start).unwrap_or_default()
    }

    /// The text drawn on the chart: the culprit's [label](Culprit::label) (for an OOM kill prefixed with
    /// `OOM killed `; for a runaway `ffmpeg (pid 4123) 100% of a core for 3 min`), or the summary when there is
    /// no culprit.
    pub fn label(&self) -> String {
        match (&self.culprit, self.kind) {
            (Some(c), IncidentKind::OomKill) => format!("OOM killed {}", c.label()),
            (Some(c), IncidentKind::Runaway) => format!(
                "{} {} for {}",
                c.who(),
                runaway::cores_phrase(c.cpu_pct.map_or(0.0, f64::from)),
                human::duration(self.duration())
            ),
            (Some(c), _) => c.label(),
            (None, _) => self.summary.clone(),
        }
    }
}

/// A hole in the recording, between two samples.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[non_exhaustive]
pub struct Gap {
    /// The last sample before the hole.
    pub start: Timestamp,
    /// The first sample after it.
    pub end: Timestamp,
    /// Why.
    pub kind: GapKind,
    /// The clean-stop marker found in the hole, if any (also for an orderly reboot).
    pub clean_stop: Option<Timestamp>,
}

impl Gap {
    /// A gap from `start` to `end` of `kind`, with no clean-stop marker.
    pub fn new(start: Timestamp, end: Timestamp, kind: GapKind) -> Self {
        Gap {
            start,
            end,
            kind,
            clean_stop: None,
        }
    }

    /// How long no sample was recorded: `end - start`.
    pub fn duration(&self) -> Duration {
        self.end.duration_since(self.start).unwrap_or_default()
    }
}

/// The samples with `from <= ts <= to`, by binary search (samples are sorted by time).
pub(crate) fn slice_incl(samples: &[Sample], from: Timestamp, to: Timestamp) -> &[Sample] {
    let a = samples.partition_point(|s| s.ts < from);
    let b = samples.partition_point(|s| s.ts <= to).max(a);
    &samples[a..b]
}

/// The samples with `from <= ts < to`.
pub(crate) fn slice_excl(samples: &[Sample], from: Timestamp, to: Timestamp) -> &[Sample] {
    let a = samples.partition_point(|s| s.ts < from);
    let b = samples.partition_point(|s| s.ts < to).max(a);
    &samples[a..b]
}

#[cfg(test)]
mod tests;
