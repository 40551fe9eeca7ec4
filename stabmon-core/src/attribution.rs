//! Process attribution: from every process's measurements to a sample's [`TopProcesses`].
//!
//! Samplers measure all processes each tick into [`ProcessStat`]s and call [`attribute_with`], which picks the top
//! N by CPU and the top N by resident memory (a process in both is kept once), sums CPU and memory per process
//! name, and remembers a bound for what each list left out. It asks the sampler for the expensive details (command
//! line, user) only for the processes it keeps, so a sampler never reads them for the hundreds of idle ones.
//!
//! # The CPU floor
//!
//! The CPU lists (of processes and of names) keep only entries that used at least
//! [`cpu_floor_pct`](TopSpec::cpu_floor_pct) percent of one core, by default [`DEFAULT_CPU_FLOOR_PCT`] (2.5 %).
//! Linux counts CPU time in clock ticks of 10 ms, so at the default 1 s interval a process that merely woke up
//! shows 1 or 2 % at random; on a busy server those fill the last places of the CPU list with a different process
//! every second, which costs the store more than anything else (40 % of a synthetic day, BENCHMARKS.md) and tells
//! nobody anything. A list cut by the floor is shorter than N, and its bound
//! ([`TopProcesses::cpu_nth_pct`], [`TopProcesses::name_cpu_nth_pct`]) is then the floor: every process (or name)
//! that is not listed used less. Memory lists likewise keep only entries with at least
//! [`rss_floor_bytes`](TopSpec::rss_floor_bytes) resident, by default [`DEFAULT_RSS_FLOOR_BYTES`] (1 KiB): a
//! process or name with no resident memory (kernel threads) says nothing about memory, yet on a box with fewer than
//! N names that have some, the last places of the name memory list went to kernel threads, a different one as
//! their CPU ticks broke the tie at 0 bytes. A memory list cut that way has the floor as its bound. [`attribute`]
//! keeps the strict top N (both floors 0).
//!
//! Ranking rules, so that results are deterministic:
//! - **by CPU**: attributed CPU (the process's own CPU % plus [`children_cpu_pct`](ProcessStat::children_cpu_pct),
//!   so that a parent whose short-lived children burn CPU ranks by what it caused), then resident memory, then the
//!   lower pid;
//! - **by memory**: resident bytes, then attributed CPU, then the lower pid;
//! - **names**: summed own CPU % (children's CPU is not added, it would count the work of other names; the sum is
//!   rounded to 0.01 %, the samplers' resolution) or summed resident bytes, then the name in byte order.

use std::cmp::Ordering;
use std::collections::HashMap;

use crate::sample::{NameTotal, ProcessEntry, TopProcesses};
use crate::time::Timestamp;

/// How many processes each top list keeps unless told otherwise.
pub const DEFAULT_TOP_N: usize = 10;

/// The least CPU, in percent of one core over the interval, that puts a process or a name in a CPU list unless
/// told otherwise: just above two clock ticks at 1 s (see [the module docs](self#the-cpu-floor)).
pub const DEFAULT_CPU_FLOOR_PCT: f32 = 2.5;

/// The least resident memory that puts a process or a name in a memory list unless told otherwise: 1 KiB, so that
/// only entries with no resident memory at all (kernel threads) are left out (see [the module
/// docs](self#the-cpu-floor)).
pub const DEFAULT_RSS_FLOOR_BYTES: u64 = 1024;

/// What [`attribute_with`] keeps: the length of each list and the CPU and memory floors.
///
/// ```
/// use stabmon_core::attribution::{TopSpec, DEFAULT_CPU_FLOOR_PCT};
/// let spec = TopSpec::new(10);
/// assert_eq!(spec.cpu_floor_pct, DEFAULT_CPU_FLOOR_PCT);
/// assert_eq!(spec.with_cpu_floor_pct(0.0).cpu_floor_pct, 0.0);
/// ```
#[derive(Debug, Clone, Copy, PartialEq)]
#[non_exhaustive]
pub struct TopSpec {
    /// The length of each list (0 keeps nothing).
    pub n: usize,
    /// The least attributed CPU, in percent of one core, that a process (or a name's sum) needs to be in a CPU
    /// list; 0 keeps the strict top N. Negative or NaN counts as 0.
    pub cpu_floor_pct: f32,
    /// The least resident memory, in bytes, that a process (or a name's sum) needs to be in a memory list; 0
    /// keeps the strict top N.
    pub rss_floor_bytes: u64,
}

impl TopSpec {
    /// Lists of `n` with the [`DEFAULT_CPU_FLOOR_PCT`] and the [`DEFAULT_RSS_FLOOR_BYTES`].
    pub fn new(n: usize) -> Self {
        TopSpec {
            n,
            cpu_floor_pct: DEFAULT_CPU_FLOOR_PCT,
            rss_floor_bytes: DEFAULT_RSS_FLOOR_BYTES,
        }
    }

    /// Lists of `n` with no floor: the strict top N of each list, as `top` shows them (what [`attribute`] keeps).
    pub fn strict(n: usize) -> Self {
        TopSpec {
            n,
            cpu_floor_pct: 0.0,
            rss_floor_bytes: 0,
        }
    }

    /// The same lists with another CPU floor.
    pub fn with_cpu_floor_pct(mut self, pct: f32) -> Self {
        self.cpu_floor_pct = pct;
        self
    }

    /// The same lists with another memory floor.
    pub fn with_rss_floor_bytes(mut self, bytes: u64) -> Self {
        self.rss_floor_bytes = bytes;
        self
    }

    /// The floor as used: 0 for anything that is not a positive number.
    fn floor(&self) -> f32 {
        if self.cpu_floor_pct > 0.0 {
            self.cpu_floor_pct
        } else {
            0.0
        }
    }
}

/// The longest command line kept, in bytes, unless told otherwise. Longer ones are shortened in the middle (see
/// [`shorten_command_line`]).
///
/// 256 bytes keep the program, its first options and its last arguments (a Java main class, a script and its
/// options) of nearly every command line; the rest is mostly paths and flags that differ from process to process,
/// and it was most of what the store spent on command lines: 1 KB lines cost 3.3 times as much (BENCHMARKS.md).
pub const DEFAULT_CMDLINE_MAX_BYTES: usize = 256;

/// What marks the middle of a shortened command line.
pub const CMDLINE_ELISION: &str = " \u{2026} ";

/// Shortens a command line longer than `max_bytes` in the middle: it keeps about two thirds of the bytes from its
/// head (the program and its first options) and the rest from its tail (the last arguments, where `java` puts its
/// main class and interpreters their script's options), joined by [`CMDLINE_ELISION`], cut at character
/// boundaries. Below 32 bytes there is no room for both ends and the head alone is kept.
///
/// ```
/// use stabmon_core::attribution::shorten_command_line;
/// let mut s = format!("java -Xmx2g -cp {} com.example.Main --port 8080", "/opt/lib/a.jar:".repeat(20));
/// shorten_command_line(&mut s, 96);
/// assert!(s.len() <= 96);
/// assert!(s.starts_with("java -Xmx2g -cp /opt/lib/a.jar:"));
/// assert!(s.ends_with("com.example.Main --port 8080"));
/// ```
pub fn shorten_command_line(s: &mut String, max_bytes: usize) {
    if s.len() <= max_bytes {
        return;
    }
    if max_bytes < 32 {
        truncate_to_char_boundary(s, max_bytes);
        return;
    }
    let room = max_bytes - CMDLINE_ELISION.len();
    let mut head = room * 2 / 3;
    while !s.is_char_boundary(head) {
        head -= 1;
    }
    let mut tail = s.len() - (room - room * 2 / 3);
    while !s.is_char_boundary(tail) {
        tail += 1;
    }
    let end = s[tail..].to_owned();
    s.truncate(head);
    s.push_str(CMDLINE_ELISION);
    s.push_str(&end);
}

/// One process's measurements over one interval, as a sampler hands them to [`attribute`].
///
/// The name is borrowed so that a sampler can keep names in its own per-process state and allocate nothing per tick.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub struct ProcessStat<'a> {
    /// The process id.
    pub pid: u32,
    /// The parent's process id, where known.
    pub parent_pid: Option<u32>,
    /// The process name.
    pub name: &'a str,
    /// When the process started, in UTC.
    pub start_time: Timestamp,
    /// CPU used over the interval, in percent of one core.
    pub cpu_pct: f32,
    /// CPU used over the interval by reaped children, in percent of one core, where known.
    pub children_cpu_pct: Option<f32>,
    /// Resident memory.
    pub rss_bytes: u64,
    /// Virtual memory size.
    pub virtual_bytes: u64,
}

impl<'a> ProcessStat<'a> {
    /// Measurements for `pid` named `name`, all zero.
    pub fn new(pid: u32, name: &'a str, start_time: Timestamp) -> Self {
        ProcessStat {
            pid,
            parent_pid: None,
            name,
            start_time,
            cpu_pct: 0.0,
            children_cpu_pct: None,
            rss_bytes: 0,
            virtual_bytes: 0,
        }
    }

    /// Own CPU plus reaped children's CPU: what the CPU ranking uses.
    pub fn attributed_cpu_pct(&self) -> f32 {
        self.cpu_pct + self.children_cpu_pct.unwrap_or(0.0)
    }
}

/// The details [`attribute`] asks for, only for the processes it keeps.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
#[non_exhaustive]
pub struct ProcessDetails {
    /// The command line (already cut to length, see [`shorten_command_line`]), if recorded.
    pub cmdline: Option<String>,
    /// The owning user's name, where known.
    pub user: Option<String>,
}

impl ProcessDetails {
    /// Details from a command line and a user.
    pub fn new(cmdline: Option<String>, user: Option<String>) -> Self {
        ProcessDetails { cmdline, user }
    }
}

/// The CPU ranking from its keys: attributed CPU descending, then resident bytes descending, then lower pid.
fn cpu_order(a: (f32, u64, u32), b: (f32, u64, u32)) -> Ordering {
    b.0.total_cmp(&a.0).then(b.1.cmp(&a.1)).then(a.2.cmp(&b.2))
}

/// The memory ranking from its keys: resident bytes descending, then attributed CPU descending, then lower pid.
fn rss_order(a: (f32, u64, u32), b: (f32, u64, u32)) -> Ordering {
    b.1.cmp(&a.1).then(b.0.total_cmp(&a.0)).then(a.2.cmp(&b.2))
}

fn stat_keys(p: &ProcessStat<'_>) -> (f32, u64, u32) {
    (p.attributed_cpu_pct(), p.rss_bytes, p.pid)
}

fn entry_keys(p: &ProcessEntry) -> (f32, u64, u32) {
    (
        p.cpu_pct + p.children_cpu_pct.unwrap_or(0.0),
        p.rss_bytes,
        p.pid,
    )
}

fn by_cpu(a: &ProcessStat<'_>, b: &ProcessStat<'_>) -> Ordering {
    cpu_order(stat_keys(a), stat_keys(b))
}

fn by_rss(a: &ProcessStat<'_>, b: &ProcessStat<'_>) -> Ordering {
    rss_order(stat_keys(a), stat_keys(b))
}

/// The order of the CPU list that [`attribute`] builds, on kept entries: attributed CPU (own plus children's,
/// summed in `f32` as attribution does) descending, then resident bytes descending, then the lower pid. The
/// store derives ranks with it instead of storing them.
pub fn cmp_entries_by_cpu(a: &ProcessEntry, b: &ProcessEntry) -> Ordering {
    cpu_order(entry_keys(a), entry_keys(b))
}

/// The order of the memory list that [`attribute`] builds, on kept entries: resident bytes descending, then
/// attributed CPU descending, then the lower pid.
pub fn cmp_entries_by_rss(a: &ProcessEntry, b: &ProcessEntry) -> Ordering {
    rss_order(entry_keys(a), entry_keys(b))
}

fn name_cpu_order(a: (&str, f32, u64), b: (&str, f32, u64)) -> Ordering {
    b.1.total_cmp(&a.1)
        .then(b.2.cmp(&a.2))
        .then_with(|| a.0.cmp(b.0))
}

fn name_rss_order(a: (&str, f32, u64), b: (&str, f32, u64)) -> Ordering {
    b.2.cmp(&a.2)
        .then(b.1.total_cmp(&a.1))
        .then_with(|| a.0.cmp(b.0))
}

/// The order of the by-CPU name list that [`attribute`] builds: summed CPU descending, then summed resident
/// bytes descending, then the name in byte order.
pub fn cmp_names_by_cpu(a: &NameTotal, b: &NameTotal) -> Ordering {
    name_cpu_order(
        (&a.name, a.cpu_pct, a.rss_bytes),
        (&b.name, b.cpu_pct, b.rss_bytes),
    )
}

/// The order of the by-memory name list that [`attribute`] builds: summed resident bytes descending, then
/// summed CPU descending, then the name in byte order.
pub fn cmp_names_by_rss(a: &NameTotal, b: &NameTotal) -> Ordering {
    name_rss_order(
        (&a.name, a.cpu_pct, a.rss_bytes),
        (&b.name, b.cpu_pct, b.rss_bytes),
    )
}

/// Cuts a CPU list (indices, best first) at its first entry below `floor`; returns whether it cut anything. With
/// floor 0 nothing is cut (the strict top N, whatever the values); a NaN, which sorts first, keeps its place.
fn cut_at_floor(list: &mut Vec<usize>, floor: f32, cpu: impl Fn(usize) -> f32) -> bool {
    let reaches = |v: f32| floor <= 0.0 || v.is_nan() || v >= floor;
    cut_where(list, |i| reaches(cpu(i)))
}

/// Cuts a ranked list before its first entry with less than `floor` resident bytes; whether it cut anything.
fn cut_at_rss_floor(list: &mut Vec<usize>, floor: u64, rss: impl Fn(usize) -> u64) -> bool {
    cut_where(list, |i| rss(i) >= floor)
}

/// Keeps the entries of a ranked list up to the first that does not `reach`; whether it cut anything.
fn cut_where(list: &mut Vec<usize>, reaches: impl Fn(usize) -> bool) -> bool {
    let above = list.iter().take_while(|&&i| reaches(i)).count();
    let cut = above < list.len();
    list.truncate(above);
    cut
}

/// Indices of the `n` best items under `cmp`, best first, without sorting the whole slice.
fn top_indices<T>(items: &[T], n: usize, cmp: impl Fn(&T, &T) -> Ordering) -> Vec<usize> {
    let mut idx: Vec<usize> = (0..items.len()).collect();
    let ord = |a: &usize, b: &usize| cmp(&items[*a], &items[*b]);
    if n < idx.len() {
        if n > 0 {
            idx.select_nth_unstable_by(n - 1, ord);
        }
        idx.truncate(n);
    }
    idx.sort_unstable_by(ord);
    idx
}

fn rank(position: usize) -> u16 {
    u16::try_from(position + 1).unwrap_or(u16::MAX)
}

/// Builds a sample's [`TopProcesses`] from every process's measurements: the strict top `n` of each list, with no
/// floor ([`attribute_with`] with [`TopSpec::strict`]).
///
/// `n` is the length of each list (0 keeps nothing). `details` is called once for every process that is kept, in
/// the order of the result, to fetch its command line and user. Per-name resident sums are rounded to 10
/// significant bits ([`round_bytes`](crate::units::round_bytes)); the samplers round each process's sizes the
/// same way before calling this, so that the lists rank by the values a sample keeps.
///
/// ```
/// use stabmon_core::{Timestamp, attribution::{attribute, ProcessDetails, ProcessStat}};
///
/// let t0 = Timestamp::from_unix_secs(0);
/// let mut hog = ProcessStat::new(10, "ffmpeg", t0);
/// hog.cpu_pct = 187.0;
/// let mut big = ProcessStat::new(11, "java", t0);
/// big.rss_bytes = 2 << 30;
/// let idle = ProcessStat::new(12, "sshd", t0);
///
/// let top = attribute(1, &[hog, big, idle], |_| ProcessDetails::default());
/// let names: Vec<&str> = top.processes.iter().map(|p| p.name.as_str()).collect();
/// assert_eq!(names, ["ffmpeg", "java"]);
/// assert_eq!(top.cpu_nth_pct, 187.0);
/// ```
pub fn attribute<'a>(
    n: usize,
    procs: &[ProcessStat<'a>],
    details: impl FnMut(&ProcessStat<'a>) -> ProcessDetails,
) -> TopProcesses {
    attribute_with(TopSpec::strict(n), procs, details)
}

/// Builds a sample's [`TopProcesses`] from every process's measurements, keeping what `spec` says: the top
/// `spec.n` of each list, the CPU lists cut at the CPU floor and the memory lists at the memory floor (see [the
/// module docs](self#the-cpu-floor)).
///
/// Each list's bound (`cpu_nth_pct`, `rss_nth_bytes`, `name_cpu_nth_pct`, `name_rss_nth_bytes`) is what every
/// process or name left out of it used at most: the value at the N-th place when the list is full, the floor when
/// the floor cut it, 0 when nothing was left out. `details` is called as for [`attribute`].
///
/// ```
/// use stabmon_core::{Timestamp, attribution::{attribute_with, ProcessDetails, ProcessStat, TopSpec}};
///
/// let t0 = Timestamp::from_unix_secs(0);
/// let mut hog = ProcessStat::new(10, "ffmpeg", t0);
/// hog.cpu_pct = 187.0;
/// let mut woke = ProcessStat::new(11, "cron", t0);
/// woke.cpu_pct = 1.0; // one clock tick at 1 s
///
/// let top = attribute_with(TopSpec::new(10), &[hog, woke], |_| ProcessDetails::default());
/// let by_cpu: Vec<&str> =
///     top.processes.iter().filter(|p| p.cpu_rank.is_some()).map(|p| p.name.as_str()).collect();
/// assert_eq!(by_cpu, ["ffmpeg"]);
/// assert_eq!(top.cpu_nth_pct, 2.5); // cron used less than the floor
/// ```
pub fn attribute_with<'a>(
    spec: TopSpec,
    procs: &[ProcessStat<'a>],
    mut details: impl FnMut(&ProcessStat<'a>) -> ProcessDetails,
) -> TopProcesses {
    let n = spec.n;
    let floor = spec.floor();
    let mut cpu_top = top_indices(procs, n, by_cpu);
    let cpu_cut = cut_at_floor(&mut cpu_top, floor, |i| procs[i].attributed_cpu_pct());
    let mut rss_top = top_indices(procs, n, by_rss);
    let rss_floor = spec.rss_floor_bytes;
    let rss_cut = cut_at_rss_floor(&mut rss_top, rss_floor, |i| procs[i].rss_bytes);

    let mut cpu_rank_of: HashMap<usize, u16> = HashMap::with_capacity(cpu_top.len());
    for (pos, &i) in cpu_top.iter().enumerate() {
        cpu_rank_of.insert(i, rank(pos));
    }
    let mut rss_rank_of: HashMap<usize, u16> = HashMap::with_capacity(rss_top.len());
    for (pos, &i) in rss_top.iter().enumerate() {
        rss_rank_of.insert(i, rank(pos));
    }

    let order = cpu_top
        .iter()
        .chain(rss_top.iter().filter(|i| !cpu_rank_of.contains_key(i)));
    let processes = order
        .map(|&i| {
            let p = &procs[i];
            let d = details(p);
            ProcessEntry {
                pid: p.pid,
                parent_pid: p.parent_pid,
                name: p.name.to_owned(),
                cmdline: d.cmdline,
                user: d.user,
                cpu_pct: p.cpu_pct,
                children_cpu_pct: p.children_cpu_pct,
                rss_bytes: p.rss_bytes,
                virtual_bytes: p.virtual_bytes,
                start_time: p.start_time,
                cpu_rank: cpu_rank_of.get(&i).copied(),
                rss_rank: rss_rank_of.get(&i).copied(),
                cgroup: None,
            }
        })
        .collect();

    let (names, name_cpu_nth_pct, name_rss_nth_bytes) = name_totals(n, floor, rss_floor, procs);

    let nth = |list: &[usize]| (n > 0 && list.len() == n).then(|| &procs[list[n - 1]]);
    let cpu_nth_pct = match nth(&cpu_top) {
        Some(p) => p.attributed_cpu_pct(),
        None if cpu_cut => floor,
        None => 0.0,
    };
    TopProcesses {
        n: u16::try_from(n).unwrap_or(u16::MAX),
        processes,
        names,
        cpu_nth_pct,
        rss_nth_bytes: match nth(&rss_top) {
            Some(p) => p.rss_bytes,
            None if rss_cut => rss_floor,
            None => 0,
        },
        name_cpu_nth_pct,
        name_rss_nth_bytes,
    }
}

fn name_totals(
    n: usize,
    floor: f32,
    rss_floor: u64,
    procs: &[ProcessStat<'_>],
) -> (Vec<NameTotal>, f32, u64) {
    // CPU summed in f64 and rounded to 0.01 %, the samplers' resolution: an f32 running sum drifts a few ULPs
    // off that grid, which costs the store an exact correction per value.
    let mut sums: HashMap<&str, (u32, f64, u64)> = HashMap::new();
    for p in procs {
        let e = sums.entry(p.name).or_insert((0, 0.0, 0));
        e.0 += 1;
        e.1 += f64::from(p.cpu_pct);
        e.2 = e.2.saturating_add(p.rss_bytes);
    }
    let all: Vec<(&str, (u32, f32, u64))> = sums
        .into_iter()
        .map(|(name, (count, cpu, rss))| {
            // Resident sums at the samplers' resolution for sizes (10 significant bits): a sum of 40 workers
            // moves whenever one of them does, and its low digits are noise (rounding a lone process's size
            // again changes nothing).
            let rss = crate::units::round_bytes(rss);
            (name, (count, ((cpu * 100.0).round() / 100.0) as f32, rss))
        })
        .collect();
    let mut cpu_top = top_indices(&all, n, |a, b| {
        name_cpu_order((a.0, a.1.1, a.1.2), (b.0, b.1.1, b.1.2))
    });
    let cpu_cut = cut_at_floor(&mut cpu_top, floor, |i| all[i].1.1);
    let mut rss_top = top_indices(&all, n, |a, b| {
        name_rss_order((a.0, a.1.1, a.1.2), (b.0, b.1.1, b.1.2))
    });
    let rss_cut = cut_at_rss_floor(&mut rss_top, rss_floor, |i| all[i].1.2);
    let cpu_nth = if n > 0 && cpu_top.len() == n {
        all[cpu_top[n - 1]].1.1
    } else if cpu_cut {
        floor
    } else {
        0.0
    };
    let rss_nth = if n > 0 && rss_top.len() == n {
        all[rss_top[n - 1]].1.2
    } else if rss_cut {
        rss_floor
    } else {
        0
    };
    let mut names: Vec<NameTotal> = Vec::with_capacity(cpu_top.len() + rss_top.len());
    for (pos, &i) in cpu_top.iter().enumerate() {
        let (name, (count, cpu, rss)) = all[i];
        names.push(NameTotal {
            name: name.to_owned(),
            process_count: count,
            cpu_pct: cpu,
            rss_bytes: rss,
            cpu_rank: Some(rank(pos)),
            rss_rank: rss_top.iter().position(|&j| j == i).map(rank),
        });
    }
    for (pos, &i) in rss_top.iter().enumerate() {
        if cpu_top.contains(&i) {
            continue;
        }
        let (name, (count, cpu, rss)) = all[i];
        names.push(NameTotal {
            name: name.to_owned(),
            process_count: count,
            cpu_pct: cpu,
            rss_bytes: rss,
            cpu_rank: None,
            rss_rank: Some(rank(pos)),
        });
    }
    (names, cpu_nth, rss_nth)
}

/// Cuts `s` to at most `max_bytes` bytes without splitting a character.
pub(crate) fn truncate_to_char_boundary(s: &mut String, max_bytes: usize) {
    if s.len() <= max_bytes {
        return;
    }
    let mut end = max_bytes;
    while end > 0 && !s.is_char_boundary(end) {
        end -= 1;
    }
    s.truncate(end);
}

#[cfg(test)]
mod tests {
    use super::*;

    fn stat(pid: u32, name: &str, cpu: f32, rss: u64) -> ProcessStat<'_> {
        let mut p = ProcessStat::new(pid, name, Timestamp::from_unix_secs(1000 + i64::from(pid)));
        p.cpu_pct = cpu;
        p.rss_bytes = rss;
        p
    }

    fn no_details(_: &ProcessStat<'_>) -> ProcessDetails {
        ProcessDetails::default()
    }

    fn pids(top: &TopProcesses) -> Vec<u32> {
        top.processes.iter().map(|p| p.pid).collect()
    }

    /// The pids in the CPU list, in list order.
    fn cpu_listed(top: &TopProcesses) -> Vec<u32> {
        top.processes
            .iter()
            .filter(|p| p.cpu_rank.is_some())
            .map(|p| p.pid)
            .collect()
    }

    #[test]
    fn top_n_by_cpu_and_memory() {
        let procs = vec![
            stat(1, "a", 5.0, 100),
            stat(2, "b", 90.0, 10),
            stat(3, "c", 50.0, 1000),
            stat(4, "d", 0.0, 5000),
            stat(5, "e", 1.0, 1),
        ];
        let top = attribute(2, &procs, no_details);
        // CPU list: 2, 3; memory list: 4, 3 (3 is in both and kept once).
        assert_eq!(pids(&top), vec![2, 3, 4]);
        let p3 = &top.processes[1];
        assert_eq!((p3.cpu_rank, p3.rss_rank), (Some(2), Some(2)));
        let p4 = &top.processes[2];
        assert_eq!((p4.cpu_rank, p4.rss_rank), (None, Some(1)));
        assert_eq!(top.cpu_nth_pct, 50.0);
        assert_eq!(top.rss_nth_bytes, 1000);
        assert_eq!(top.n, 2);
    }

    #[test]
    fn fewer_processes_than_n() {
        let procs = vec![stat(1, "a", 5.0, 100), stat(2, "b", 7.0, 50)];
        let top = attribute(10, &procs, no_details);
        assert_eq!(pids(&top), vec![2, 1]);
        assert_eq!(top.cpu_nth_pct, 0.0);
        assert_eq!(top.rss_nth_bytes, 0);
        assert_eq!(top.names.len(), 2);
        assert_eq!(top.name_cpu_nth_pct, 0.0);
        let empty = attribute(10, &[], no_details);
        assert!(empty.processes.is_empty() && empty.names.is_empty());
        let none = attribute(0, &procs, no_details);
        assert!(none.processes.is_empty() && none.names.is_empty());
    }

    #[test]
    fn ties_are_broken_deterministically() {
        // Equal CPU: more memory first; equal both: lower pid first.
        let procs = vec![
            stat(9, "x", 10.0, 5),
            stat(3, "y", 10.0, 5),
            stat(7, "z", 10.0, 8),
        ];
        let top = attribute(3, &procs, no_details);
        assert_eq!(pids(&top), vec![7, 3, 9]);
        let mut reversed = procs.clone();
        reversed.reverse();
        assert_eq!(attribute(3, &reversed, no_details), top);
    }

    #[test]
    fn name_totals_catch_many_small_workers() {
        let mut procs: Vec<ProcessStat<'_>> = (100..140)
            .map(|pid| stat(pid, "worker", 4.0, 10 << 20))
            .collect();
        procs.push(stat(1, "db", 30.0, 300 << 20));
        procs.push(stat(2, "web", 20.0, 100 << 20));
        let top = attribute(2, &procs, no_details);
        // No single worker is in the top 2 by CPU or by memory...
        assert!(top.processes.iter().all(|p| p.name != "worker"));
        // ...but as a name they lead both lists: 40 x 4 % = 160 %, 40 x 10 MiB = 400 MiB.
        let w = &top.names[0];
        assert_eq!(w.name, "worker");
        assert_eq!(w.process_count, 40);
        assert!((w.cpu_pct - 160.0).abs() < 1e-3);
        assert_eq!(w.rss_bytes, 400 << 20);
        assert_eq!((w.cpu_rank, w.rss_rank), (Some(1), Some(1)));
        assert_eq!(top.names[1].name, "db");
        assert_eq!(top.name_cpu_nth_pct, 30.0);
        assert_eq!(top.name_rss_nth_bytes, 300 << 20);
    }

    #[test]
    fn reused_pid_keeps_identity_apart() {
        // The same pid with a different start time is another process: it keeps its own start time and key.
        let mut old = stat(42, "old", 1.0, 10);
        old.start_time = Timestamp::from_unix_secs(5);
        let mut new = stat(42, "new", 80.0, 10);
        new.start_time = Timestamp::from_unix_secs(500);
        let a = attribute(1, &[old], no_details);
        let b = attribute(1, &[new], no_details);
        assert_eq!(a.processes[0].pid, b.processes[0].pid);
        assert_ne!(a.processes[0].key(), b.processes[0].key());
        assert_eq!(b.processes[0].name, "new");
    }

    #[test]
    fn children_cpu_counts_towards_cpu_rank() {
        let mut spawner = stat(1, "make", 0.5, 10);
        spawner.children_cpu_pct = Some(95.0);
        let procs = vec![spawner, stat(2, "busy", 40.0, 10)];
        let top = attribute(1, &procs, no_details);
        assert_eq!(top.processes[0].pid, 1);
        assert_eq!(top.processes[0].children_cpu_pct, Some(95.0));
        assert_eq!(top.cpu_nth_pct, 95.5);
        // Name totals stay on own CPU, so children's work is not counted twice.
        assert_eq!(top.names[0].name, "busy");
    }

    #[test]
    fn details_fetched_only_for_kept_processes() {
        let procs: Vec<ProcessStat<'_>> = (1..=100)
            .map(|pid| stat(pid, "p", pid as f32, u64::from(pid)))
            .collect();
        let mut asked = Vec::new();
        let top = attribute(3, &procs, |p| {
            asked.push(p.pid);
            ProcessDetails::new(Some(format!("cmd {}", p.pid)), Some("root".into()))
        });
        assert_eq!(asked, vec![100, 99, 98]);
        assert_eq!(top.processes[0].cmdline.as_deref(), Some("cmd 100"));
        assert_eq!(top.processes[0].user.as_deref(), Some("root"));
    }

    #[test]
    fn cpu_floor_cuts_the_cpu_lists_and_bounds_what_it_left_out() {
        // Two real users of CPU, forty workers that each woke for a tick, and a big idle process.
        let mut procs = vec![
            stat(1, "db", 30.0, 300 << 20),
            stat(2, "web", 2.5, 100 << 20),
            stat(3, "cache", 0.0, 900 << 20),
        ];
        procs.extend((100..140).map(|pid| stat(pid, "worker", 1.0, 1 << 20)));
        let top = attribute_with(TopSpec::new(5), &procs, no_details);
        let by_cpu = cpu_listed(&top);
        // At the floor is in, below it is out; the list is short and its bound is the floor.
        assert_eq!(by_cpu, [1, 2]);
        assert_eq!(top.cpu_nth_pct, DEFAULT_CPU_FLOOR_PCT);
        // The memory list is untouched: full, with its N-th value, and a worker in it has no CPU rank.
        let by_rss = top
            .processes
            .iter()
            .filter(|p| p.rss_rank.is_some())
            .count();
        assert_eq!(by_rss, 5);
        assert_eq!(top.rss_nth_bytes, 1 << 20);
        assert!(
            top.processes
                .iter()
                .filter(|p| p.name == "worker")
                .all(|p| p.cpu_rank.is_none() && p.rss_rank.is_some())
        );
        // Canonical order: the CPU list first, then the rest by memory rank.
        assert_eq!(pids(&top)[..3], [1, 2, 3]);
        // Names: the forty workers sum to 40 % and lead; "cache" (0 %) is out of the CPU list, in the memory list.
        let names_by_cpu: Vec<&str> = top
            .names
            .iter()
            .filter(|n| n.cpu_rank.is_some())
            .map(|n| n.name.as_str())
            .collect();
        assert_eq!(names_by_cpu, ["worker", "db", "web"]);
        assert_eq!(top.name_cpu_nth_pct, DEFAULT_CPU_FLOOR_PCT);
        let cache = top.names.iter().find(|n| n.name == "cache");
        assert_eq!(
            cache.map(|n| (n.cpu_rank, n.rss_rank)),
            Some((None, Some(1)))
        );
    }

    #[test]
    fn memory_lists_leave_out_what_has_no_resident_memory() {
        // Two processes with memory, two kernel threads without, one of them busy: lists of 3.
        let procs = [
            stat(1, "db", 0.0, 4 << 20),
            stat(2, "web", 0.0, 1 << 20),
            stat(3, "kworker", 30.0, 0),
            stat(4, "kthreadd", 0.0, 0),
        ];
        let top = attribute_with(TopSpec::new(3), &procs, no_details);
        let by_rss = |top: &TopProcesses| -> Vec<u32> {
            let mut v: Vec<(u16, u32)> = top
                .processes
                .iter()
                .filter_map(|p| Some((p.rss_rank?, p.pid)))
                .collect();
            v.sort();
            v.into_iter().map(|(_, pid)| pid).collect()
        };
        assert_eq!(by_rss(&top), [1, 2]);
        // Its bound is the floor: everything left out has less resident memory.
        assert_eq!(top.rss_nth_bytes, DEFAULT_RSS_FLOOR_BYTES);
        // The busy kernel thread is still in the CPU list.
        assert!(
            top.processes
                .iter()
                .any(|p| p.pid == 3 && p.cpu_rank == Some(1))
        );
        let names_by_rss: Vec<&str> = top
            .names
            .iter()
            .filter(|n| n.rss_rank.is_some())
            .map(|n| n.name.as_str())
            .collect();
        assert_eq!(names_by_rss, ["db", "web"]);
        assert_eq!(top.name_rss_nth_bytes, DEFAULT_RSS_FLOOR_BYTES);
        // Floor 0 and `attribute` keep the strict top 3, a kernel thread in third place; a full list's bound is
        // its third value.
        let strict = attribute_with(TopSpec::strict(3), &procs, no_details);
        assert_eq!(strict, attribute(3, &procs, no_details));
        assert_eq!(by_rss(&strict), [1, 2, 3]);
        assert_eq!(strict.rss_nth_bytes, 0);
        let full = attribute_with(TopSpec::new(2), &procs, no_details);
        assert_eq!(by_rss(&full), [1, 2]);
        assert_eq!(full.rss_nth_bytes, 1 << 20);
    }

    #[test]
    fn cpu_floor_leaves_full_lists_and_floor_zero_alone() {
        let procs: Vec<ProcessStat<'_>> = (1..=6)
            .map(|pid| stat(pid, "p", 10.0 * pid as f32, u64::from(pid)))
            .collect();
        // Every candidate is above the floor: the full list and its N-th value, as without a floor.
        let floored = attribute_with(TopSpec::new(3).with_rss_floor_bytes(0), &procs, no_details);
        assert_eq!(floored, attribute(3, &procs, no_details));
        assert_eq!(floored.cpu_nth_pct, 40.0);
        // Floor 0 (and anything not positive) keeps idle processes ranked, as `top` lists them.
        let idle = [stat(1, "a", 0.0, 10), stat(2, "b", 0.0, 20)];
        for floor in [0.0, -1.0, f32::NAN] {
            let spec = TopSpec::strict(2).with_cpu_floor_pct(floor);
            let top = attribute_with(spec, &idle, no_details);
            assert_eq!(top, attribute(2, &idle, no_details), "floor {floor}");
            assert!(top.processes.iter().all(|p| p.cpu_rank.is_some()));
        }
        // Hand-made odd values: with floor 0 a NaN or a negative CPU keeps its place (strict top N); with a
        // floor a NaN (sorted first) stays and a negative one is cut.
        let odd = [
            stat(1, "nan", f32::NAN, 1),
            stat(2, "neg", -5.0, 2),
            stat(3, "ok", 50.0, 3),
        ];
        let strict = attribute(3, &odd, no_details);
        assert!(strict.processes.iter().all(|p| p.cpu_rank.is_some()));
        // (Memory floor 0 here and below: these processes have a few bytes, so that memory lists stay.)
        let floored = attribute_with(TopSpec::new(3).with_rss_floor_bytes(0), &odd, no_details);
        assert_eq!(cpu_listed(&floored), [1, 3]);
        // A floor above everyone: no CPU list at all, bounded by the floor; fewer processes than N and none cut: 0.
        let spec = TopSpec::strict(5).with_cpu_floor_pct(99.0);
        let none = attribute_with(spec, &procs, no_details);
        assert_eq!(none.processes.len(), 5, "the memory list");
        assert!(none.processes.iter().all(|p| p.cpu_rank.is_none()));
        assert_eq!((none.cpu_nth_pct, none.name_cpu_nth_pct), (99.0, 0.0));
        let few = attribute_with(TopSpec::new(10), &procs, no_details);
        assert_eq!(few.cpu_nth_pct, 0.0);
    }

    #[test]
    fn truncates_at_char_boundary() {
        let mut s = String::from("aé€b");
        truncate_to_char_boundary(&mut s, 4);
        assert_eq!(s, "aé");
        let mut s = String::from("short");
        truncate_to_char_boundary(&mut s, 100);
        assert_eq!(s, "short");
        let mut s = String::from("€");
        truncate_to_char_boundary(&mut s, 2);
        assert_eq!(s, "");
    }

    #[test]
    fn long_command_lines_keep_their_head_and_tail() {
        let mut s = format!("{}{}", "a".repeat(300), "é".repeat(100));
        shorten_command_line(&mut s, 256);
        assert!(s.len() <= 256, "{}", s.len());
        assert!(s.starts_with(&"a".repeat(167)));
        assert!(s.contains(CMDLINE_ELISION));
        assert!(s.ends_with(&"é".repeat(41)), "{s}");
        // Short enough already: unchanged; tiny limits keep the head.
        let mut t = "ls -l".to_owned();
        shorten_command_line(&mut t, 5);
        assert_eq!(t, "ls -l");
        let mut u = "sh -c while true".to_owned();
        shorten_command_line(&mut u, 8);
        assert_eq!(u, "sh -c wh");
    }
}

#[cfg(test)]
mod order_tests {
    use super::*;

    fn stat(pid: u32, name: &str, cpu: f32, rss: u64) -> ProcessStat<'_> {
        let mut p = ProcessStat::new(pid, name, Timestamp::from_unix_secs(1000 + i64::from(pid)));
        p.cpu_pct = cpu;
        p.rss_bytes = rss;
        p
    }

    #[test]
    fn entry_and_name_orders_give_back_the_ranks() {
        // Ties on CPU, on memory and on both; a name shared by two processes; children's CPU.
        let mut procs = vec![
            stat(1, "a", 5.0, 100),
            stat(2, "b", 5.0, 100),
            stat(3, "c", 5.0, 300),
            stat(4, "a", 0.0, 300),
            stat(5, "e", 0.5, 50),
            stat(6, "f", 0.0, 0),
        ];
        procs[4].children_cpu_pct = Some(9.0);
        let top = attribute(3, &procs, |_| ProcessDetails::default());
        let mut by_cpu: Vec<&ProcessEntry> = top.processes.iter().collect();
        by_cpu.sort_by(|a, b| cmp_entries_by_cpu(a, b));
        let ranked: Vec<Option<u16>> = by_cpu.iter().map(|p| p.cpu_rank).collect();
        assert_eq!(ranked, [Some(1), Some(2), Some(3), None]);
        let mut by_rss: Vec<&ProcessEntry> = top.processes.iter().collect();
        by_rss.sort_by(|a, b| cmp_entries_by_rss(a, b));
        let ranked: Vec<Option<u16>> = by_rss.iter().map(|p| p.rss_rank).collect();
        assert_eq!(ranked, [Some(1), Some(2), Some(3), None]);
        let mut names: Vec<&NameTotal> = top.names.iter().collect();
        names.sort_by(|a, b| cmp_names_by_cpu(a, b));
        assert_eq!(names[0].cpu_rank, Some(1));
        assert_eq!(names[0].name, "a");
        names.sort_by(|a, b| cmp_names_by_rss(a, b));
        let ranked: Vec<Option<u16>> = names.iter().map(|n| n.rss_rank).collect();
        assert_eq!(&ranked[..3], [Some(1), Some(2), Some(3)]);
    }
}
