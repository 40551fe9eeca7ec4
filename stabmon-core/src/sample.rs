//! The sample model: one [`Sample`] per tick, with the system's state and the processes that mattered.
//!
//! All public structs are `#[non_exhaustive]` so that fields can be added without breaking embedders; build them
//! with their constructor (or `Default`) and then assign the public fields.

use std::cmp::Ordering;
use std::time::Duration;

use serde::{Deserialize, Serialize};

use crate::latency::LatencyProbe;
use crate::time::Timestamp;

/// Everything stabmon records at one tick.
///
/// Counters that only make sense over time (CPU busy %, a process's CPU %, pressure stalls) cover
/// [`interval`](Sample::interval): the time actually measured since the previous sample, not the nominal one.
///
/// # Resolution
///
/// Durations ([`interval`](Sample::interval), [`lateness`](Sample::lateness)) are whole microseconds, like
/// [`Timestamp`]; the store refuses finer ones. The collector records lateness to 100 us
/// ([`LATENESS_RESOLUTION`](crate::units::LATENESS_RESOLUTION)), and the interval it measures follows.
/// Percentages from the samplers are on the 0.01 % grid, and the store keeps values on that grid compactly (any
/// `f32` still round-trips exactly, at a higher cost). CPU time comes in clock ticks (Linux: 1/100 s, so one tick
/// is 1 % of a core at 1 s), and Linux's `/proc` sampler rounds CPU percentages (of the machine, of each core, of
/// each process and its children) to that resolution: the power of ten at or just below one tick's share, between
/// 0.01 % and 1 % (at 1 s: whole percent per core and per process, 0.1 % for a machine of 2 to 12 cores), which
/// loses nothing measurable. Pressure stalls, counted in microseconds, are rounded to 0.1 %
/// ([`stall_pct`](crate::units::stall_pct)). Sizes that move all the time (resident and virtual size of processes
/// and their per-name sums, available memory, used swap) are kept to 10 significant bits, three significant digits
/// ([`round_bytes`](crate::units::round_bytes)); installed memory and swap are exact.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[non_exhaustive]
pub struct Sample {
    /// When the sample was scheduled (the tick), in UTC; not when its work finished.
    pub ts: Timestamp,
    /// The host name of the machine.
    pub host: String,
    /// When the machine booted, in UTC. It drifts when the clock is adjusted; prefer [`boot_id`](Sample::boot_id)
    /// to tell reboots apart.
    pub boot_time: Timestamp,
    /// The kernel's random boot id (Linux: `/proc/sys/kernel/random/boot_id`); a reboot changes it.
    pub boot_id: Option<String>,
    /// The host's IANA time zone name (e.g. `Europe/Berlin`) where it is known, so reports can show local time.
    pub timezone: Option<String>,
    /// The host's offset from UTC at [`ts`](Sample::ts), in seconds east of UTC.
    pub utc_offset_secs: Option<i32>,
    /// The time this sample's rates cover: measured since the previous sample, in whole microseconds.
    pub interval: Duration,
    /// How long after its tick the sample's reading started. A recorder starved by a CPU or memory storm shows it
    /// here, and the schedule's regularity is measured with it. Recorded to 100 us by the collector.
    pub lateness: Duration,
    /// CPU use of the whole machine, in percent of all cores (0 to 100).
    pub cpu: CpuUsage,
    /// CPU use per core, in percent of that core, in the order the OS numbers them.
    pub per_core: Vec<CpuUsage>,
    /// Load averages where the OS has them.
    pub load: Option<LoadAvg>,
    /// Memory and swap.
    pub memory: Memory,
    /// How many processes exist.
    pub process_count: u32,
    /// Pressure stall information (Linux `/proc/pressure`), as the share of the interval spent stalled.
    pub pressure: Option<Pressure>,
    /// The kernel's cumulative OOM-kill counter (Linux `/proc/vmstat` `oom_kill`); it rises when the OOM killer
    /// strikes.
    pub oom_kill_count: Option<u64>,
    /// The processes that used the most CPU and memory, and totals per process name.
    pub top: TopProcesses,
    /// The network latency probes that completed since the previous sample, in the order they completed; each
    /// carries its own start time and true duration (see [`latency`](crate::latency)). Empty when no latency
    /// target is configured.
    pub latency: Vec<LatencyProbe>,
    /// The processes that exited since the previous sample (Linux, from the kernel's exit records); `None` where
    /// exits are not recorded (another OS, no privilege, or a recording made before they were).
    pub exits: Option<Exits>,
    /// The OOM killer's victims that the kernel log reported since the previous sample (Linux `/dev/kmsg`), each
    /// with the time the kernel logged it. Empty where the log cannot be read (see [`OomKill`]).
    pub oom_kills: Vec<OomKill>,
}

impl Sample {
    /// A sample at `ts` for `host`, with every measurement empty or zero.
    pub fn new(ts: Timestamp, host: impl Into<String>) -> Self {
        Sample {
            ts,
            host: host.into(),
            ..Sample::default()
        }
    }

    /// The CPU of the processes named `name` that exited over this sample's interval, in % of one core (0 when
    /// none did, or exits are not recorded).
    pub fn exited_cpu_pct(&self, name: &str) -> f64 {
        self.exits
            .iter()
            .flat_map(|e| &e.names)
            .filter(|n| n.name == name)
            .map(|n| n.cpu_pct(self.interval))
            .sum()
    }

    /// The name whose processes used the most CPU over the interval: the listed ones' summed
    /// [`cpu_pct`](NameTotal::cpu_pct) plus those that [exited](Exits::names) within it, so a storm of
    /// short-lived workers is a group like a pool of long-lived ones. As [`TopProcesses::busiest_group`] (which it
    /// is where no exits are recorded), the busiest process's name is left out where that process alone used more
    /// than two thirds of it; ties go to the first name in byte order. Returns the name and its CPU, % of one core.
    pub fn busiest_group(&self) -> Option<(&str, f32)> {
        let Some(exits) = self.exits.as_ref().filter(|e| !e.names.is_empty()) else {
            return self
                .top
                .busiest_group()
                .map(|n| (n.name.as_str(), n.cpu_pct));
        };
        let top = self.top.busiest_process();
        let listed = self
            .top
            .names
            .iter()
            .filter(|n| !n.cpu_pct.is_nan())
            .map(|n| {
                (
                    n.name.as_str(),
                    n.cpu_pct + self.exited_cpu_pct(&n.name) as f32,
                )
            });
        let exited_only = exits
            .names
            .iter()
            .filter(|e| !self.top.names.iter().any(|n| n.name == e.name))
            .map(|e| (e.name.as_str(), self.exited_cpu_pct(&e.name) as f32));
        listed
            .chain(exited_only)
            .filter(|(name, cpu)| top.is_none_or(|p| p.name != *name || 1.5 * p.cpu_pct < *cpu))
            .min_by(|a, b| b.1.total_cmp(&a.1).then_with(|| a.0.cmp(b.0)))
    }
}

/// CPU time split by kind, in percent of the capacity measured (all cores for [`Sample::cpu`], one core for
/// [`Sample::per_core`]).
#[derive(Debug, Clone, Copy, PartialEq, Default, Serialize, Deserialize)]
#[non_exhaustive]
pub struct CpuUsage {
    /// Busy: everything but idle and iowait (user, nice, system, irq, softirq, steal).
    pub busy_pct: f32,
    /// User and nice time, where the OS reports the split (sysinfo does not: `None` there).
    pub user_pct: Option<f32>,
    /// System time, including hard and soft interrupts, where the OS reports the split.
    pub system_pct: Option<f32>,
    /// Time idle while waiting for I/O, where the OS reports it.
    pub iowait_pct: Option<f32>,
    /// Time stolen by the hypervisor, where the OS reports it.
    pub steal_pct: Option<f32>,
}

impl CpuUsage {
    /// Usage with the given busy share and nothing else known.
    pub fn new(busy_pct: f32) -> Self {
        CpuUsage {
            busy_pct,
            ..CpuUsage::default()
        }
    }

    /// The whole machine's usage as the mean of its cores': each share by
    /// [`mean_pct`](crate::units::mean_pct) (unknown where a core lacks it); `None` without cores or when a core's
    /// busy share is not finite. This is how samplers that read per-core times give the whole machine, so that its
    /// figures follow from the cores' exactly (storage leaves them out).
    ///
    /// ```
    /// use stabmon_core::CpuUsage;
    /// let mut a = CpuUsage::new(4.0);
    /// a.user_pct = Some(3.0);
    /// let mut b = CpuUsage::new(7.0);
    /// b.user_pct = Some(4.0);
    /// let m = CpuUsage::mean_of(&[a, b]).unwrap();
    /// assert_eq!((m.busy_pct, m.user_pct, m.system_pct), (5.5, Some(3.5), None));
    /// assert!(CpuUsage::mean_of(&[]).is_none());
    /// ```
    pub fn mean_of(cores: &[CpuUsage]) -> Option<CpuUsage> {
        let mean = |f: fn(&CpuUsage) -> Option<f32>| crate::units::mean_pct(cores.iter().map(f));
        Some(CpuUsage {
            busy_pct: mean(|c| Some(c.busy_pct))?,
            user_pct: mean(|c| c.user_pct),
            system_pct: mean(|c| c.system_pct),
            iowait_pct: mean(|c| c.iowait_pct),
            steal_pct: mean(|c| c.steal_pct),
        })
    }
}

/// Load averages over 1, 5 and 15 minutes.
#[derive(Debug, Clone, Copy, PartialEq, Default, Serialize, Deserialize)]
#[non_exhaustive]
pub struct LoadAvg {
    /// Over the last minute.
    pub one: f32,
    /// Over the last 5 minutes.
    pub five: f32,
    /// Over the last 15 minutes.
    pub fifteen: f32,
}

impl LoadAvg {
    /// Load averages from their three values.
    pub fn new(one: f32, five: f32, fifteen: f32) -> Self {
        LoadAvg { one, five, fifteen }
    }
}

/// Memory and swap, in bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[non_exhaustive]
pub struct Memory {
    /// Physical memory installed.
    pub total_bytes: u64,
    /// In use: total minus available.
    pub used_bytes: u64,
    /// Available for new work without swapping (Linux `MemAvailable`).
    pub available_bytes: u64,
    /// Swap configured.
    pub swap_total_bytes: u64,
    /// Swap in use.
    pub swap_used_bytes: u64,
}

impl Memory {
    /// The five figures in the order of the stored columns: memory total, used and available, swap total and used.
    pub fn byte_counts(&self) -> [u64; 5] {
        [
            self.total_bytes,
            self.used_bytes,
            self.available_bytes,
            self.swap_total_bytes,
            self.swap_used_bytes,
        ]
    }

    /// Memory figures from total and available physical memory; used is derived, swap is zero.
    pub fn new(total_bytes: u64, available_bytes: u64) -> Self {
        Memory {
            total_bytes,
            used_bytes: total_bytes.saturating_sub(available_bytes),
            available_bytes,
            ..Memory::default()
        }
    }

    /// Memory figures as a sampler records them: available memory and used swap rounded to the resolution samples
    /// keep ([`round_bytes`](crate::units::round_bytes): 10 significant bits), the totals exact, used derived.
    ///
    /// ```
    /// use stabmon_core::Memory;
    /// let m = Memory::measured(16 << 30, (9 << 30) + 12_345, 2 << 30, 4096);
    /// assert_eq!(m.available_bytes, 9 << 30);
    /// assert_eq!(m.used_bytes, 7 << 30);
    /// assert_eq!(m.swap_used_bytes, 4096);
    /// ```
    pub fn measured(
        total_bytes: u64,
        available_bytes: u64,
        swap_total_bytes: u64,
        swap_used_bytes: u64,
    ) -> Self {
        Memory {
            swap_total_bytes,
            swap_used_bytes: crate::units::round_bytes(swap_used_bytes),
            ..Memory::new(total_bytes, crate::units::round_bytes(available_bytes))
        }
    }
}

/// Pressure stall information: the share of the interval in which some (or all) runnable tasks were stalled
/// waiting for a resource, in percent, computed from the kernel's cumulative `total=` stall counters.
#[derive(Debug, Clone, Copy, PartialEq, Default, Serialize, Deserialize)]
#[non_exhaustive]
pub struct Pressure {
    /// Some tasks waited for a CPU.
    pub cpu_some_pct: Option<f32>,
    /// Some tasks waited for memory (reclaim, swap-in, thrashing).
    pub memory_some_pct: Option<f32>,
    /// All non-idle tasks waited for memory at once.
    pub memory_full_pct: Option<f32>,
    /// Some tasks waited for I/O.
    pub io_some_pct: Option<f32>,
    /// All non-idle tasks waited for I/O at once.
    pub io_full_pct: Option<f32>,
}

/// The process attribution of one sample: the top N processes by CPU and by resident memory, and the top N process
/// names by summed CPU and summed resident memory.
///
/// A process in both lists is stored once. Each list keeps a bound, the value at its N-th place (or the floor when
/// a floor cut the list short, see [`attribution`](crate::attribution#the-cpu-floor)), so that a process absent
/// from this sample is known to have been *at most* that, not zero.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[non_exhaustive]
pub struct TopProcesses {
    /// N, the length of each list asked for.
    pub n: u16,
    /// The union of the top N by CPU and the top N by resident memory; ordered by CPU rank, then by memory rank.
    pub processes: Vec<ProcessEntry>,
    /// The union of the top N names by summed CPU and by summed resident memory; ordered like `processes`.
    pub names: Vec<NameTotal>,
    /// What every process not in the CPU list used at most, in % of one core: the attributed CPU of the process at
    /// the N-th place by CPU; the CPU floor when the floor cut the list short; 0 when no process was left out.
    pub cpu_nth_pct: f32,
    /// What every process not in the memory list had at most, in resident bytes: that of the process at the N-th
    /// place by memory; the memory floor when the floor cut the list short; 0 when no process was left out.
    pub rss_nth_bytes: u64,
    /// What every name not in the CPU list used at most: the summed CPU % of the name at the N-th place by CPU;
    /// the CPU floor when the floor cut the list short; 0 when no name was left out.
    pub name_cpu_nth_pct: f32,
    /// What every name not in the memory list had at most: the summed resident bytes of the name at the N-th
    /// place by memory; the memory floor when the floor cut the list short; 0 when no name was left out.
    pub name_rss_nth_bytes: u64,
}

impl TopProcesses {
    /// The listed process with the most CPU of its own ([`cpu_pct`](ProcessEntry::cpu_pct), children's CPU not
    /// counted), `None` when no process with a measured CPU is listed. Ties go to the lowest pid, then the
    /// earliest start: the same process whatever the list's order.
    pub fn busiest_process(&self) -> Option<&ProcessEntry> {
        self.processes
            .iter()
            .filter(|p| !p.cpu_pct.is_nan())
            .min_by(|a, b| {
                Self::cmp_busier_process(
                    (a.cpu_pct, a.pid, a.start_time),
                    (b.cpu_pct, b.pid, b.start_time),
                )
            })
    }

    /// The order [`busiest_process`](Self::busiest_process) picks by, of two processes given as (CPU %, pid, start
    /// time): `Less` where `a` is the busier (more CPU, then the lower pid, then the earlier start). For a reader
    /// that finds the busiest process without building the list.
    pub fn cmp_busier_process(a: (f32, u32, Timestamp), b: (f32, u32, Timestamp)) -> Ordering {
        b.0.total_cmp(&a.0).then(a.1.cmp(&b.1)).then(a.2.cmp(&b.2))
    }

    /// The listed name with the most summed CPU, leaving out the [busiest process](Self::busiest_process)'s name
    /// where that process alone used more than two thirds of it (the name would only repeat the process, and the
    /// next name may be a second runaway); `None` when no other name with a measured CPU is listed. Ties go to
    /// the first name in byte order.
    pub fn busiest_group(&self) -> Option<&NameTotal> {
        let top = self.busiest_process().map(|p| (p.name.as_str(), p.cpu_pct));
        self.names
            .iter()
            .filter(|n| Self::may_be_busiest_group(top, &n.name, n.cpu_pct))
            .min_by(|a, b| Self::cmp_busier_group((&a.name, a.cpu_pct), (&b.name, b.cpu_pct)))
    }

    /// Whether a name total of `cpu_pct` may be the [busiest group](Self::busiest_group) beside the busiest process
    /// `top` (its name and CPU %): its CPU is measured, and it is not the process's name where that process alone
    /// used more than two thirds of it.
    pub fn may_be_busiest_group(top: Option<(&str, f32)>, name: &str, cpu_pct: f32) -> bool {
        !cpu_pct.is_nan() && top.is_none_or(|(p, p_cpu)| 1.5 * p_cpu < cpu_pct || p != name)
    }

    /// The order [`busiest_group`](Self::busiest_group) picks by, of two names given as (name, CPU %): `Less`
    /// where `a` is the busier (more CPU, then the first in byte order).
    pub fn cmp_busier_group(a: (&str, f32), b: (&str, f32)) -> Ordering {
        b.1.total_cmp(&a.1).then_with(|| a.0.cmp(b.0))
    }
}

/// A process identity: pids are reused, so a process is known by its pid and its start time together.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default, Serialize, Deserialize,
)]
pub struct ProcessKey {
    /// The process id.
    pub pid: u32,
    /// When the process started, in UTC.
    pub start_time: Timestamp,
}

/// One process in a sample's top lists.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[non_exhaustive]
pub struct ProcessEntry {
    /// The process id.
    pub pid: u32,
    /// The parent's process id, where known.
    pub parent_pid: Option<u32>,
    /// The process name (Linux: `comm`, at most 15 bytes; elsewhere what the OS reports).
    pub name: String,
    /// The command line, arguments joined by spaces and cut to a bounded length; `None` when command lines are not
    /// recorded (`--no-cmdline`) or cannot be read.
    pub cmdline: Option<String>,
    /// The owning user's name (or numeric id when it has no name), where the OS reports it.
    pub user: Option<String>,
    /// CPU used over the interval, in percent of one core (as `top` shows it: 200 means two cores busy).
    pub cpu_pct: f32,
    /// CPU used over the interval by children of this process that exited and were waited for, in percent of one
    /// core (Linux: the delta of `cutime + cstime`); `None` where the OS does not report it.
    pub children_cpu_pct: Option<f32>,
    /// Resident memory.
    pub rss_bytes: u64,
    /// Virtual memory size.
    pub virtual_bytes: u64,
    /// When the process started, in UTC.
    pub start_time: Timestamp,
    /// 1-based rank in the CPU list, when the process is in it.
    pub cpu_rank: Option<u16>,
    /// 1-based rank in the resident-memory list, when the process is in it.
    pub rss_rank: Option<u16>,
    /// The control group the process is in (Linux: from `/proc/PID/cgroup`, see
    /// [`process_cgroup`](crate::cgroup::process_cgroup)), read once per process identity; `None` where the OS
    /// has none or it cannot be read. [`unit`](Self::unit) names the systemd unit or container from it.
    pub cgroup: Option<String>,
}

impl ProcessEntry {
    /// An entry for `pid` named `name`, with every measurement zero.
    pub fn new(pid: u32, name: impl Into<String>) -> Self {
        ProcessEntry {
            pid,
            name: name.into(),
            ..ProcessEntry::default()
        }
    }

    /// The identity of this process.
    pub fn key(&self) -> ProcessKey {
        ProcessKey {
            pid: self.pid,
            start_time: self.start_time,
        }
    }

    /// The systemd unit or container the process belongs to, from its [`cgroup`](Self::cgroup) (see
    /// [`unit_of`](crate::cgroup::unit_of)): `nginx.service`, `docker:4f1c0b3a9d2e`; `None` where none is
    /// recognisable.
    pub fn unit(&self) -> Option<String> {
        self.cgroup.as_deref().and_then(crate::cgroup::unit_of)
    }
}

/// Totals over every process that shares a name, so that forty small workers show up as one culprit.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[non_exhaustive]
pub struct NameTotal {
    /// The process name.
    pub name: String,
    /// How many processes had this name.
    pub process_count: u32,
    /// Their summed CPU, in percent of one core.
    pub cpu_pct: f32,
    /// Their summed resident memory, to 10 significant bits ([`round_bytes`](crate::units::round_bytes)).
    pub rss_bytes: u64,
    /// 1-based rank in the by-CPU name list, when the name is in it.
    pub cpu_rank: Option<u16>,
    /// 1-based rank in the by-memory name list, when the name is in it.
    pub rss_rank: Option<u16>,
}

impl NameTotal {
    /// A total for `name` with every measurement zero.
    pub fn new(name: impl Into<String>) -> Self {
        NameTotal {
            name: name.into(),
            ..NameTotal::default()
        }
    }
}

/// The processes that exited over a sample's interval: how many, their totals per name, and the details of a
/// bounded few (see [`exits`](crate::exits) for the bounds and how CPU time is counted).
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[non_exhaustive]
pub struct Exits {
    /// How many processes exited (every one the kernel reported, whether or not its name is in
    /// [`names`](Exits::names)).
    pub count: u32,
    /// How many times the kernel dropped exit records because the listener's buffer was full (Linux `ENOBUFS`):
    /// each time at least one exit is missing from [`count`](Exits::count).
    pub dropped: u32,
    /// Totals per name, by CPU time (most first); at most [`MAX_EXIT_NAMES`](crate::exits::MAX_EXIT_NAMES)
    /// names, the rest only counted in [`count`](Exits::count).
    pub names: Vec<ExitedName>,
    /// The details of at most [`MAX_EXIT_DETAILS`](crate::exits::MAX_EXIT_DETAILS) exits: those of processes the
    /// previous sample listed first, then the busiest by CPU time; each is also counted in its name's total.
    pub processes: Vec<ExitedProcess>,
}

/// The processes of one name that exited over a sample's interval.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[non_exhaustive]
pub struct ExitedName {
    /// The process name (Linux: `comm`, at most 15 bytes).
    pub name: String,
    /// How many exited.
    pub count: u32,
    /// Their CPU time within the interval, user plus system, in whole microseconds.
    pub cpu_time: Duration,
    /// The largest peak resident memory of any of them.
    pub peak_rss_bytes: u64,
}

impl ExitedName {
    /// A total for `name` with nothing counted.
    pub fn new(name: impl Into<String>) -> Self {
        ExitedName {
            name: name.into(),
            ..ExitedName::default()
        }
    }

    /// Their CPU time as a share of `interval`, in % of one core (0 for an empty interval).
    pub fn cpu_pct(&self, interval: Duration) -> f64 {
        let secs = interval.as_secs_f64();
        if secs <= 0.0 {
            return 0.0;
        }
        100.0 * self.cpu_time.as_secs_f64() / secs
    }
}

/// How a process ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum ExitStatus {
    /// It exited with this code (0 to 255).
    Code(i32),
    /// A signal killed it (9 for `SIGKILL`, as the OOM killer does).
    Signal(i32),
}

impl Default for ExitStatus {
    fn default() -> Self {
        ExitStatus::Code(0)
    }
}

impl ExitStatus {
    /// Decodes a wait status as `waitpid` and the kernel's exit records give it: the low 7 bits are the signal
    /// that killed the process (0 if none), bits 8 to 15 its exit code.
    ///
    /// ```
    /// use stabmon_core::ExitStatus;
    /// assert_eq!(ExitStatus::from_wait_status(3 << 8), ExitStatus::Code(3));
    /// assert_eq!(ExitStatus::from_wait_status(9), ExitStatus::Signal(9));
    /// assert_eq!(ExitStatus::from_wait_status(0x80 | 11), ExitStatus::Signal(11));
    /// ```
    pub fn from_wait_status(status: u32) -> Self {
        let signal = status & 0x7f;
        if signal == 0 {
            ExitStatus::Code(((status >> 8) & 0xff) as i32)
        } else {
            ExitStatus::Signal(signal as i32)
        }
    }
}

impl std::fmt::Display for ExitStatus {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            ExitStatus::Code(c) => write!(f, "exit {c}"),
            ExitStatus::Signal(s) => write!(f, "signal {s}"),
        }
    }
}

/// One process that exited.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[non_exhaustive]
pub struct ExitedProcess {
    /// The process id.
    pub pid: u32,
    /// The parent's process id.
    pub parent_pid: u32,
    /// The process name (Linux: `comm`, at most 15 bytes).
    pub name: String,
    /// The numeric user id it ran as.
    pub uid: u32,
    /// When it started, in UTC: [`end_time`](ExitedProcess::end_time) less its elapsed time, which the kernel
    /// gives to the microsecond.
    pub start_time: Timestamp,
    /// When it ended, in UTC (Linux: when the recorder read its exit record, at most ~50 ms after).
    pub end_time: Timestamp,
    /// Its CPU time over its whole life, user plus system, in whole microseconds.
    pub cpu_time: Duration,
    /// Its peak resident memory.
    pub peak_rss_bytes: u64,
    /// How it ended.
    pub status: ExitStatus,
}

impl ExitedProcess {
    /// An exit of `pid` named `name`, with every measurement zero.
    pub fn new(pid: u32, name: impl Into<String>) -> Self {
        ExitedProcess {
            pid,
            name: name.into(),
            ..ExitedProcess::default()
        }
    }

    /// The identity of this process.
    pub fn key(&self) -> ProcessKey {
        ProcessKey {
            pid: self.pid,
            start_time: self.start_time,
        }
    }
}

/// A process the kernel's OOM killer killed, as the kernel log reports it (Linux: the `Out of memory: Killed
/// process ...` or `Memory cgroup out of memory: Killed process ...` line and the `oom-kill:constraint=...` line
/// before it). Sizes are what the kernel printed (in KiB there), exact.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[non_exhaustive]
pub struct OomKill {
    /// When the kernel logged the kill, in UTC (from the log's time since boot, to the microsecond).
    pub ts: Timestamp,
    /// The victim's process id.
    pub pid: u32,
    /// The victim's name (`comm`, at most 15 bytes).
    pub name: String,
    /// The victim's anonymous resident memory when it was killed (`anon-rss`): what the kill frees.
    pub anon_rss_bytes: Option<u64>,
    /// Its file-backed resident memory (`file-rss`).
    pub file_rss_bytes: Option<u64>,
    /// Its shared-memory resident pages (`shmem-rss`).
    pub shmem_rss_bytes: Option<u64>,
    /// Its virtual size (`total-vm`).
    pub total_vm_bytes: Option<u64>,
    /// Its user id (`UID`).
    pub uid: Option<u32>,
    /// Its `oom_score_adj` (-1000 to 1000).
    pub oom_score_adj: Option<i32>,
    /// Why memory ran out, in the kernel's words: `CONSTRAINT_NONE` (the whole machine), `CONSTRAINT_MEMCG` (a
    /// memory cgroup's limit), `CONSTRAINT_CPUSET`, `CONSTRAINT_MEMORY_POLICY`.
    pub constraint: Option<String>,
    /// Whether the limit of a memory cgroup was reached (`Memory cgroup out of memory`, or the constraint says so),
    /// rather than the whole machine's memory.
    pub memcg: bool,
    /// The victim's memory cgroup (`task_memcg`).
    pub cgroup: Option<String>,
    /// The memory cgroup whose limit was reached (`oom_memcg`), for a cgroup OOM.
    pub oom_cgroup: Option<String>,
}

impl OomKill {
    /// A kill of `pid` named `name` at `ts`, with nothing else known.
    pub fn new(ts: Timestamp, pid: u32, name: impl Into<String>) -> Self {
        OomKill {
            ts,
            pid,
            name: name.into(),
            ..OomKill::default()
        }
    }

    /// The systemd unit or container of the victim's cgroup (see [`unit_of`](crate::cgroup::unit_of)).
    pub fn unit(&self) -> Option<String> {
        self.cgroup.as_deref().and_then(crate::cgroup::unit_of)
    }
}
