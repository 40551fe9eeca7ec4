//! [`SampleParts`]: which parts of each sample a window read keeps, so that a store decodes only those.

use std::ops::{BitOr, BitOrAssign};

use crate::sample::{ProcessEntry, Sample, TopProcesses};

/// Which parts of a [`Sample`] a read of a window keeps ([`WindowSource::samples_between_parts`]): a set of parts,
/// combined with `|`, and optionally a cut of the process list to its first few by rank.
///
/// The time ([`Sample::ts`]) and the host are always kept. A part left out is as [`Sample::new`] leaves it (zero,
/// empty or `None`), whoever reads the window: a store reader does not decode it at all, any other source reads
/// whole samples and [`trim`](Self::trim)s them, so both give the same samples.
///
/// ```
/// use stabmon_core::series::SampleParts;
///
/// // A chart's hover data: the machine's figures and the processes with their command lines.
/// let parts = SampleParts::SYSTEM | SampleParts::PROCESSES | SampleParts::CMDLINE;
/// assert!(parts.contains(SampleParts::CMDLINE));
/// assert!(!parts.contains(SampleParts::LATENCY));
/// assert_eq!(SampleParts::ALL.without(SampleParts::PER_CORE).contains(SampleParts::PER_CORE), false);
/// ```
///
/// [`WindowSource::samples_between_parts`]: super::WindowSource::samples_between_parts
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct SampleParts {
    bits: u16,
    /// Of the processes, only the first `.0` by CPU rank and the first `.1` by memory rank.
    ranked: Option<(u16, u16)>,
}

impl SampleParts {
    /// Nothing but the time and the host.
    pub const NONE: SampleParts = SampleParts::of(0);
    /// The machine's single values: boot, time zone, interval and lateness, CPU, load, memory and swap, process
    /// count, pressure, the OOM-kill counter, and the top lists' N and N-th values ([`TopProcesses::n`],
    /// [`cpu_nth_pct`](TopProcesses::cpu_nth_pct), ...).
    pub const SYSTEM: SampleParts = SampleParts::of(1);
    /// Each core's CPU ([`Sample::per_core`]).
    pub const PER_CORE: SampleParts = SampleParts::of(1 << 1);
    /// The top processes ([`TopProcesses::processes`]), without their command lines, users and cgroups unless
    /// [`CMDLINE`](Self::CMDLINE), [`USER`](Self::USER) and [`CGROUP`](Self::CGROUP) are kept too.
    pub const PROCESSES: SampleParts = SampleParts::of(1 << 2);
    /// The processes' command lines ([`ProcessEntry::cmdline`]), with [`PROCESSES`](Self::PROCESSES).
    pub const CMDLINE: SampleParts = SampleParts::of(1 << 3);
    /// The processes' users ([`ProcessEntry::user`]), with [`PROCESSES`](Self::PROCESSES).
    pub const USER: SampleParts = SampleParts::of(1 << 4);
    /// The processes' cgroups ([`ProcessEntry::cgroup`]), with [`PROCESSES`](Self::PROCESSES).
    pub const CGROUP: SampleParts = SampleParts::of(1 << 5);
    /// The per-name totals ([`TopProcesses::names`]).
    pub const NAMES: SampleParts = SampleParts::of(1 << 6);
    /// The exits recorded ([`Sample::exits`]): their count, drops and per-name totals, without each exited
    /// process unless [`EXITED_PROCESSES`](Self::EXITED_PROCESSES) is kept too.
    pub const EXITS: SampleParts = SampleParts::of(1 << 7);
    /// Each exited process ([`Exits::processes`](crate::Exits::processes)), with [`EXITS`](Self::EXITS).
    pub const EXITED_PROCESSES: SampleParts = SampleParts::of(1 << 8);
    /// The latency probes ([`Sample::latency`]).
    pub const LATENCY: SampleParts = SampleParts::of(1 << 9);
    /// The OOM kills the kernel logged ([`Sample::oom_kills`]).
    pub const OOM_KILLS: SampleParts = SampleParts::of(1 << 10);
    /// The whole sample.
    pub const ALL: SampleParts = SampleParts::of((1 << 11) - 1);

    const fn of(bits: u16) -> SampleParts {
        SampleParts { bits, ranked: None }
    }

    /// These parts and `other`'s. The processes are cut as [`ranked_processes`](Self::ranked_processes) only when
    /// every side that keeps them cuts them (of two cuts, the wider); a side without the processes adds no cut.
    pub const fn union(self, other: SampleParts) -> SampleParts {
        let p = SampleParts::PROCESSES.bits;
        let uncut = (self.bits & p != 0 && self.ranked.is_none())
            || (other.bits & p != 0 && other.ranked.is_none());
        let ranked = match (self.ranked, other.ranked) {
            _ if uncut => None,
            (Some(a), Some(b)) => Some((max(a.0, b.0), max(a.1, b.1))),
            (Some(a), None) | (None, Some(a)) => Some(a),
            (None, None) => None,
        };
        SampleParts {
            bits: self.bits | other.bits,
            ranked,
        }
    }

    /// These parts without `other`'s (the process cut stays).
    pub const fn without(self, other: SampleParts) -> SampleParts {
        SampleParts {
            bits: self.bits & !other.bits,
            ranked: self.ranked,
        }
    }

    /// Whether every part of `other` is kept.
    pub const fn contains(self, other: SampleParts) -> bool {
        self.bits & other.bits == other.bits
    }

    /// Of the processes, keeps only the first `cpu` by CPU rank and the first `rss` by memory rank
    /// ([`ProcessEntry::cpu_rank`], [`rss_rank`](ProcessEntry::rss_rank)): what a page lists of a sample. A
    /// process without either rank is dropped.
    pub const fn ranked_processes(self, cpu: u16, rss: u16) -> SampleParts {
        SampleParts {
            bits: self.bits,
            ranked: Some((cpu, rss)),
        }
    }

    /// The process cut of [`ranked_processes`](Self::ranked_processes), if any: (first by CPU, first by memory).
    pub const fn process_ranks(self) -> Option<(u16, u16)> {
        self.ranked
    }

    /// Whether this is the whole sample, uncut.
    pub const fn is_all(self) -> bool {
        self.contains(SampleParts::ALL) && self.ranked.is_none()
    }

    /// Leaves out of `s` what these parts do not keep: what a source that reads whole samples does with each.
    pub fn trim(self, s: &mut Sample) {
        if self.is_all() {
            return;
        }
        let has = |p: SampleParts| self.contains(p);
        if !has(Self::SYSTEM) {
            let mut kept = Sample::new(s.ts, std::mem::take(&mut s.host));
            kept.per_core = std::mem::take(&mut s.per_core);
            kept.top = TopProcesses {
                processes: std::mem::take(&mut s.top.processes),
                names: std::mem::take(&mut s.top.names),
                ..TopProcesses::default()
            };
            kept.latency = std::mem::take(&mut s.latency);
            kept.exits = s.exits.take();
            kept.oom_kills = std::mem::take(&mut s.oom_kills);
            *s = kept;
        }
        if !has(Self::PER_CORE) {
            s.per_core = Vec::new();
        }
        if has(Self::PROCESSES) {
            if let Some((cpu, rss)) = self.ranked {
                let shown = ranked_keys(&s.top.processes, cpu, rss);
                s.top
                    .processes
                    .retain(|p| shown.contains(&(p.pid, p.start_time)));
                s.top.processes.shrink_to_fit();
            }
            for p in &mut s.top.processes {
                if !has(Self::CMDLINE) {
                    p.cmdline = None;
                }
                if !has(Self::USER) {
                    p.user = None;
                }
                if !has(Self::CGROUP) {
                    p.cgroup = None;
                }
            }
        } else {
            s.top.processes = Vec::new();
        }
        if !has(Self::NAMES) {
            s.top.names = Vec::new();
        }
        if !has(Self::EXITS) {
            s.exits = None;
        } else if !has(Self::EXITED_PROCESSES)
            && let Some(e) = &mut s.exits
        {
            e.processes = Vec::new();
        }
        if !has(Self::LATENCY) {
            s.latency = Vec::new();
        }
        if !has(Self::OOM_KILLS) {
            s.oom_kills = Vec::new();
        }
    }
}

/// The identities of the first `cpu` processes by CPU rank and the first `rss` by memory rank.
fn ranked_keys(
    processes: &[ProcessEntry],
    cpu: u16,
    rss: u16,
) -> Vec<(u32, crate::time::Timestamp)> {
    let first = |rank: fn(&ProcessEntry) -> Option<u16>, n: u16| {
        let mut v: Vec<&ProcessEntry> = processes.iter().filter(|p| rank(p).is_some()).collect();
        v.sort_by_key(|p| rank(p));
        v.truncate(usize::from(n));
        v
    };
    first(|p| p.cpu_rank, cpu)
        .into_iter()
        .chain(first(|p| p.rss_rank, rss))
        .map(|p| (p.pid, p.start_time))
        .collect()
}

const fn max(a: u16, b: u16) -> u16 {
    if a > b { a } else { b }
}

impl BitOr for SampleParts {
    type Output = SampleParts;
    fn bitor(self, other: SampleParts) -> SampleParts {
        self.union(other)
    }
}

impl BitOrAssign for SampleParts {
    fn bitor_assign(&mut self, other: SampleParts) {
        *self = self.union(other);
    }
}

impl Default for SampleParts {
    /// The whole sample.
    fn default() -> Self {
        SampleParts::ALL
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn trim_keeps_what_the_parts_say() {
        use crate::synth::Synth;
        use crate::time::Timestamp;
        let t0 = Timestamp::from_unix_secs(1_795_564_800);
        let samples = Synth::new(t0, std::time::Duration::from_secs(1))
            .count(30)
            .processes(40)
            .latency_target("gw", 2.0, 0.5)
            .generate();
        let s = samples[20].clone();
        assert!(!s.top.processes.is_empty() && !s.latency.is_empty() && !s.per_core.is_empty());

        let mut all = s.clone();
        SampleParts::ALL.trim(&mut all);
        assert_eq!(all, s);

        let mut names = s.clone();
        SampleParts::NAMES.trim(&mut names);
        let mut want = Sample::new(s.ts, s.host.clone());
        want.top.names = s.top.names.clone();
        assert_eq!(names, want);

        let parts = (SampleParts::SYSTEM | SampleParts::PROCESSES | SampleParts::CMDLINE)
            .ranked_processes(3, 2);
        let mut shown = s.clone();
        parts.trim(&mut shown);
        assert!(shown.per_core.is_empty() && shown.latency.is_empty());
        assert!(shown.top.names.is_empty() && shown.exits.is_none());
        assert_eq!(
            (shown.cpu, shown.memory, shown.top.n),
            (s.cpu, s.memory, s.top.n)
        );
        let first = |rank: fn(&ProcessEntry) -> Option<u16>, n: u16| -> Vec<u32> {
            s.top
                .processes
                .iter()
                .filter(|p| rank(p).is_some_and(|r| r <= n))
                .map(|p| p.pid)
                .collect()
        };
        let mut want: Vec<u32> = first(|p| p.cpu_rank, 3);
        want.extend(first(|p| p.rss_rank, 2));
        want.sort_unstable();
        want.dedup();
        let mut got: Vec<u32> = shown.top.processes.iter().map(|p| p.pid).collect();
        got.sort_unstable();
        assert_eq!(got, want);
        assert!(
            shown
                .top
                .processes
                .iter()
                .all(|p| p.user.is_none() && p.cgroup.is_none())
        );
        assert!(shown.top.processes.iter().any(|p| p.cmdline.is_some()));
        // Trimming again changes nothing: a store's projected read may be trimmed once more.
        let again = {
            let mut a = shown.clone();
            parts.trim(&mut a);
            a
        };
        assert_eq!(again, shown);
    }

    #[test]
    fn sets_combine() {
        let p = SampleParts::SYSTEM | SampleParts::NAMES;
        assert!(p.contains(SampleParts::SYSTEM | SampleParts::NAMES));
        assert!(!p.contains(SampleParts::PROCESSES));
        assert!(SampleParts::ALL.is_all() && !p.is_all());
        assert!(!SampleParts::ALL.ranked_processes(1, 1).is_all());
        assert_eq!(p.without(SampleParts::NAMES), SampleParts::SYSTEM);
        assert_eq!(
            (p.ranked_processes(3, 2) | SampleParts::NONE.ranked_processes(1, 5)).process_ranks(),
            Some((3, 5))
        );
        assert_eq!(SampleParts::default(), SampleParts::ALL);
        // Processes kept uncut by one side are not cut by the other's ranks.
        let cut = SampleParts::PROCESSES.ranked_processes(3, 2);
        assert_eq!((cut | SampleParts::PROCESSES).process_ranks(), None);
        assert_eq!((SampleParts::PROCESSES | cut).process_ranks(), None);
        assert_eq!((cut | SampleParts::NAMES).process_ranks(), Some((3, 2)));
    }
}
