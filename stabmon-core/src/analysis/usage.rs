//! [`usage_by_name`]: which processes used the most over a window, grouped by name (what `stabmon top` prints).

use serde::Serialize;
use std::collections::HashMap;

use crate::sample::{ProcessKey, Sample};
use crate::time::Timestamp;

/// What one process name used over a window: CPU seconds, peak and growth of resident memory, and the processes
/// (pids) that used the most. Built by [`usage_by_name`].
///
/// # Bounds
///
/// A sample only lists the top N processes and the top N names, so a name absent from a sample's name list used
/// *at most* that list's bound ([`TopProcesses::name_cpu_nth_pct`](crate::TopProcesses::name_cpu_nth_pct): the
/// value at the N-th place, or the CPU floor where the floor cut the list short), not zero.
/// [`cpu_seconds`](NameUsage::cpu_seconds) counts what is known: the name's total where it is listed, else the sum
/// of its processes that are listed: a **lower bound**. [`cpu_seconds_max`](NameUsage::cpu_seconds_max) counts,
/// for every sample between the name's first and last appearance in the window where its total is not listed, the
/// bound of that sample's name list (or what is known, if more): an **upper bound** for that stretch (before
/// its first and after its last appearance it may have used up to the bound too, which is not counted). When the
/// two are equal, the figure is exact. With the default CPU floor (2.5 % of a core) a name that comes and goes
/// (a job every minute) can have an upper bound far above its lower bound: the samples in between say only that
/// it used less than the floor.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[non_exhaustive]
pub struct NameUsage {
    /// The process name.
    pub name: String,
    /// CPU time used, in seconds (1 s = one core busy for one second), counted over the samples where the name is
    /// listed: a lower bound.
    pub cpu_seconds: f64,
    /// An upper bound of the CPU time between the name's first and last appearance: absent samples counted at
    /// their name list's bound (its N-th value, or the CPU floor).
    pub cpu_seconds_max: f64,
    /// The largest summed resident memory of the name's processes in one sample.
    pub peak_rss_bytes: u64,
    /// The largest rise of the summed resident memory: from a low point to a later high point in the window.
    pub rss_growth_bytes: u64,
    /// The most processes of this name seen at once.
    pub max_process_count: u32,
    /// In how many samples of the window the name has a figure (its total, or processes listed).
    pub samples_listed: usize,
    /// The name's processes that were listed, biggest first (by CPU seconds, then by peak resident memory).
    pub pids: Vec<PidUsage>,
}

/// What one process used over a window (only the samples where it is in a top list count); part of a
/// [`NameUsage`].
#[derive(Debug, Clone, PartialEq, Serialize)]
#[non_exhaustive]
pub struct PidUsage {
    /// The process id.
    pub pid: u32,
    /// When the process started (pids are reused: the pid and the start time together name a process).
    pub start_time: Timestamp,
    /// Its command line, when recorded.
    pub cmdline: Option<String>,
    /// CPU time used in the samples where it is listed, in seconds (its own, without reaped children): a lower
    /// bound.
    pub cpu_seconds: f64,
    /// Its largest resident memory in a sample where it is listed.
    pub peak_rss_bytes: u64,
    /// The largest rise of its resident memory from a low point to a later high point.
    pub rss_growth_bytes: u64,
    /// When it was first listed in the window.
    pub first_seen: Timestamp,
    /// When it was last listed in the window.
    pub last_seen: Timestamp,
    /// In how many samples it is listed.
    pub samples_listed: usize,
}

/// The largest rise from a low point to a later high point, tracked one value at a time.
#[derive(Debug, Clone, Copy, Default)]
struct Rise {
    low: Option<u64>,
    best: u64,
}

impl Rise {
    fn push(&mut self, v: u64) {
        let low = self.low.map_or(v, |l| l.min(v));
        self.low = Some(low);
        self.best = self.best.max(v - low);
    }
}

#[derive(Default)]
struct PidAcc {
    name: String,
    cmdline: Option<String>,
    cpu_seconds: f64,
    peak_rss_bytes: u64,
    rise: Rise,
    first_seen: Option<Timestamp>,
    last_seen: Timestamp,
    samples_listed: usize,
}

#[derive(Default)]
struct NameAcc {
    /// Samples where the name has a figure (its total, or the sum of its listed processes).
    samples_listed: usize,
    /// CPU seconds where it has a figure: the lower bound.
    cpu_seconds: f64,
    /// The sum of the absent-name bounds of every sample before its first appearance, and through its last.
    nth_before_first: f64,
    nth_through_last: f64,
    /// Over the samples where it has a figure: what the upper bound counts there minus that sample's bound.
    max_minus_nth: f64,
    peak_rss_bytes: u64,
    rise: Rise,
    max_process_count: u32,
}

/// Ranks process names by what they used in the samples with `from <= ts < to` (samples sorted by time; either
/// bound optional), biggest CPU user first (ties: by peak resident memory, then by name).
///
/// CPU seconds of a sample are `cpu_pct / 100 × interval` (the interval the sample measured). Name figures come
/// from the per-name totals of each sample ([`NameTotal`](crate::NameTotal)), which count every process of the
/// name, listed or not; a sample without name totals (older data) falls back to the sum of the name's listed
/// processes. See [`NameUsage`] for the lower and upper bounds. Per-pid figures count the samples where the
/// process is listed (its own CPU, without reaped children's).
///
/// ```
/// use std::time::Duration;
/// use stabmon_core::{Sample, Timestamp};
/// use stabmon_core::analysis::usage_by_name;
/// use stabmon_core::attribution::{ProcessDetails, ProcessStat, attribute};
///
/// let t0 = Timestamp::from_unix_secs(1_795_575_600);
/// let samples: Vec<Sample> = (0..60)
///     .map(|i| {
///         let mut s = Sample::new(t0.saturating_add(Duration::from_secs(i)), "nas");
///         s.interval = Duration::from_secs(1);
///         let mut ffmpeg = ProcessStat::new(4123, "ffmpeg", t0);
///         ffmpeg.cpu_pct = 150.0;
///         let mut sshd = ProcessStat::new(800, "sshd", t0);
///         sshd.cpu_pct = 1.0;
///         s.top = attribute(10, &[ffmpeg, sshd], |_| ProcessDetails::default());
///         s
///     })
///     .collect();
/// let usage = usage_by_name(&samples, None, None);
/// assert_eq!(usage[0].name, "ffmpeg");
/// assert!((usage[0].cpu_seconds - 90.0).abs() < 1e-6); // 1.5 cores for 60 s
/// assert_eq!(usage[0].pids[0].pid, 4123);
/// ```
pub fn usage_by_name(
    samples: &[Sample],
    from: Option<Timestamp>,
    to: Option<Timestamp>,
) -> Vec<NameUsage> {
    let a = from.map_or(0, |f| samples.partition_point(|s| s.ts < f));
    let b = to
        .map_or(samples.len(), |t| samples.partition_point(|s| s.ts < t))
        .max(a);
    let mut acc = UsageAcc::default();
    for s in &samples[a..b] {
        acc.push(s);
    }
    acc.finish()
}

/// A listed process of one sample, borrowed: what [`UsageAcc::push_rows`] counts.
#[derive(Debug, Clone, Copy)]
#[non_exhaustive]
pub struct ProcRow<'a> {
    /// The process id.
    pub pid: u32,
    /// When it started.
    pub start_time: Timestamp,
    /// Its name.
    pub name: &'a str,
    /// Its command line, when recorded.
    pub cmdline: Option<&'a str>,
    /// CPU % of one core over the sample's interval.
    pub cpu_pct: f32,
    /// Resident memory, bytes.
    pub rss_bytes: u64,
}

impl<'a> ProcRow<'a> {
    /// A row with every figure given.
    pub fn new(
        pid: u32,
        start_time: Timestamp,
        name: &'a str,
        cmdline: Option<&'a str>,
        cpu_pct: f32,
        rss_bytes: u64,
    ) -> Self {
        ProcRow {
            pid,
            start_time,
            name,
            cmdline,
            cpu_pct,
            rss_bytes,
        }
    }
}

/// A name total of one sample, borrowed: what [`UsageAcc::push_rows`] counts.
#[derive(Debug, Clone, Copy)]
#[non_exhaustive]
pub struct NameRow<'a> {
    /// The process name.
    pub name: &'a str,
    /// Summed CPU % of one core.
    pub cpu_pct: f32,
    /// Summed resident memory, bytes.
    pub rss_bytes: u64,
    /// How many processes had the name.
    pub process_count: u32,
}

impl<'a> NameRow<'a> {
    /// A row with every figure given.
    pub fn new(name: &'a str, cpu_pct: f32, rss_bytes: u64, process_count: u32) -> Self {
        NameRow {
            name,
            cpu_pct,
            rss_bytes,
            process_count,
        }
    }
}

/// [`usage_by_name`] one sample at a time, so a range can be streamed from a store: memory grows with the names
/// and processes seen, not with the samples.
///
/// ```
/// use stabmon_core::analysis::UsageAcc;
/// # let samples: Vec<stabmon_core::Sample> = Vec::new();
/// let mut acc = UsageAcc::default();
/// for s in &samples {
///     acc.push(s);
/// }
/// let usage = acc.finish();
/// # assert!(usage.is_empty());
/// ```
#[derive(Default)]
pub struct UsageAcc {
    names: HashMap<String, NameAcc, ahash::RandomState>,
    pids: HashMap<ProcessKey, PidAcc, ahash::RandomState>,
    /// The sum of every sample's absent-name bound so far (CPU seconds).
    nth_total: f64,
}

impl std::fmt::Debug for UsageAcc {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("UsageAcc")
            .field("names", &self.names.len())
            .field("pids", &self.pids.len())
            .finish()
    }
}

/// `a == b`, at once where both are the same string in memory (rows read from one dictionary).
fn same_name(a: &str, b: &str) -> bool {
    a.len() == b.len() && (std::ptr::eq(a.as_ptr(), b.as_ptr()) || a == b)
}

impl UsageAcc {
    /// Counts one sample (samples in time order).
    pub fn push(&mut self, s: &Sample) {
        let procs: Vec<ProcRow<'_>> = s
            .top
            .processes
            .iter()
            .map(|p| ProcRow {
                pid: p.pid,
                start_time: p.start_time,
                name: &p.name,
                cmdline: p.cmdline.as_deref(),
                cpu_pct: p.cpu_pct,
                rss_bytes: p.rss_bytes,
            })
            .collect();
        let names: Vec<NameRow<'_>> = s
            .top
            .names
            .iter()
            .map(|n| NameRow {
                name: &n.name,
                cpu_pct: n.cpu_pct,
                rss_bytes: n.rss_bytes,
                process_count: n.process_count,
            })
            .collect();
        self.push_rows(s.ts, s.interval, s.top.name_cpu_nth_pct, &procs, &names);
    }

    /// Counts one sample given as its listed processes and name totals (what [`push`](Self::push) takes from a
    /// [`Sample`]), so a columnar reader need not build samples.
    pub fn push_rows(
        &mut self,
        ts: Timestamp,
        interval: std::time::Duration,
        name_cpu_nth_pct: f32,
        processes: &[ProcRow<'_>],
        names: &[NameRow<'_>],
    ) {
        let secs = interval.as_secs_f64();
        let cpu_s = |pct: f32| f64::from(pct.max(0.0)) / 100.0 * secs;
        for p in processes {
            let key = ProcessKey {
                pid: p.pid,
                start_time: p.start_time,
            };
            let acc = self.pids.entry(key).or_default();
            if acc.first_seen.is_none() {
                acc.first_seen = Some(ts);
                p.name.clone_into(&mut acc.name);
            }
            if acc.cmdline.is_none() {
                acc.cmdline = p.cmdline.map(str::to_owned);
            }
            acc.last_seen = ts;
            acc.samples_listed += 1;
            acc.cpu_seconds += cpu_s(p.cpu_pct);
            acc.peak_rss_bytes = acc.peak_rss_bytes.max(p.rss_bytes);
            acc.rise.push(p.rss_bytes);
        }
        // Name totals from the sample's list; names not in it get the sum of their listed processes.
        let mut totals: Vec<(&str, f32, u64, u32, bool)> = names
            .iter()
            .map(|n| (n.name, n.cpu_pct, n.rss_bytes, n.process_count, true))
            .collect();
        let listed_names = totals.len();
        for p in processes {
            if totals[..listed_names]
                .iter()
                .any(|t| same_name(t.0, p.name))
            {
                continue;
            }
            match totals[listed_names..]
                .iter_mut()
                .find(|t| same_name(t.0, p.name))
            {
                Some(t) => {
                    t.1 += p.cpu_pct;
                    t.2 += p.rss_bytes;
                    t.3 += 1;
                }
                None => totals.push((p.name, p.cpu_pct, p.rss_bytes, 1, false)),
            }
        }
        let nth = cpu_s(name_cpu_nth_pct);
        let before = self.nth_total;
        self.nth_total += nth;
        for (name, cpu_pct, rss, count, exact) in totals {
            let acc = match self.names.get_mut(name) {
                Some(acc) => acc,
                None => self
                    .names
                    .entry(name.to_owned())
                    .or_insert_with(|| NameAcc {
                        nth_before_first: before,
                        ..NameAcc::default()
                    }),
            };
            let v = cpu_s(cpu_pct);
            acc.samples_listed += 1;
            acc.cpu_seconds += v;
            // Upper bound: a name's own total where listed; a sum of its listed processes at least the bound.
            acc.max_minus_nth += if exact { v } else { v.max(nth) } - nth;
            acc.nth_through_last = self.nth_total;
            acc.peak_rss_bytes = acc.peak_rss_bytes.max(rss);
            acc.rise.push(rss);
            acc.max_process_count = acc.max_process_count.max(count);
        }
    }

    /// The names ranked by CPU seconds (then peak resident memory, then name), each with its processes.
    pub fn finish(self) -> Vec<NameUsage> {
        let mut by_name: HashMap<String, Vec<PidUsage>> = HashMap::new();
        for (key, acc) in self.pids {
            let Some(first_seen) = acc.first_seen else {
                continue;
            };
            by_name.entry(acc.name).or_default().push(PidUsage {
                pid: key.pid,
                start_time: key.start_time,
                cmdline: acc.cmdline,
                cpu_seconds: acc.cpu_seconds,
                peak_rss_bytes: acc.peak_rss_bytes,
                rss_growth_bytes: acc.rise.best,
                first_seen,
                last_seen: acc.last_seen,
                samples_listed: acc.samples_listed,
            });
        }
        let mut out: Vec<NameUsage> = self
            .names
            .into_iter()
            .map(|(name, acc)| {
                // Lower bound: what is known. Upper bound: between the first and the last appearance, a sample
                // without the name's total counts at the N-th value of the names list (at least what is known).
                let cpu_seconds_max =
                    (acc.nth_through_last - acc.nth_before_first) + acc.max_minus_nth;
                let mut pids = by_name.remove(&name).unwrap_or_default();
                pids.sort_by(|x, y| {
                    y.cpu_seconds
                        .total_cmp(&x.cpu_seconds)
                        .then(y.peak_rss_bytes.cmp(&x.peak_rss_bytes))
                        .then(x.pid.cmp(&y.pid))
                        .then(x.start_time.cmp(&y.start_time))
                });
                NameUsage {
                    name,
                    cpu_seconds: acc.cpu_seconds,
                    cpu_seconds_max: cpu_seconds_max.max(acc.cpu_seconds),
                    peak_rss_bytes: acc.peak_rss_bytes,
                    rss_growth_bytes: acc.rise.best,
                    max_process_count: acc.max_process_count,
                    samples_listed: acc.samples_listed,
                    pids,
                }
            })
            .collect();
        out.sort_by(|x, y| {
            y.cpu_seconds
                .total_cmp(&x.cpu_seconds)
                .then(y.peak_rss_bytes.cmp(&x.peak_rss_bytes))
                .then(x.name.cmp(&y.name))
        });
        out
    }
}

/// Ranks names as [`usage_by_name`] does, but by memory: the largest peak resident memory first (then the
/// largest growth, then by name), and each name's processes by their peak resident memory (then by pid).
pub fn rank_by_memory(names: &mut [NameUsage]) {
    names.sort_by(|a, b| {
        b.peak_rss_bytes
            .cmp(&a.peak_rss_bytes)
            .then(b.rss_growth_bytes.cmp(&a.rss_growth_bytes))
            .then(a.name.cmp(&b.name))
    });
    for u in names {
        u.pids.sort_by(|a, b| {
            b.peak_rss_bytes
                .cmp(&a.peak_rss_bytes)
                .then(a.pid.cmp(&b.pid))
        });
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use std::time::Duration;

    use super::*;
    use crate::attribution::{ProcessDetails, ProcessStat, attribute};
    use crate::units::round_bytes;

    const MIB: u64 = 1 << 20;

    fn t(s: u64) -> Timestamp {
        Timestamp::from_unix_secs(1_795_575_600).saturating_add(Duration::from_secs(s))
    }

    /// (pid, name, cpu %, rss) per process; top-N of `n`.
    fn sample(i: u64, n: usize, procs: &[(u32, &'static str, f32, u64)]) -> Sample {
        let mut s = Sample::new(t(i), "h");
        s.interval = Duration::from_secs(2);
        let stats: Vec<ProcessStat<'_>> = procs
            .iter()
            .map(|&(pid, name, cpu, rss)| {
                let mut p = ProcessStat::new(pid, name, t(0));
                p.cpu_pct = cpu;
                p.rss_bytes = rss;
                p
            })
            .collect();
        s.top = attribute(n, &stats, |p| ProcessDetails {
            cmdline: Some(format!("/usr/bin/{} --pid {}", p.name, p.pid)),
            ..ProcessDetails::default()
        });
        s
    }

    #[test]
    fn ranks_names_by_cpu_seconds_with_their_pids() {
        // Every 2 s: two php workers at 50 % each (100 % for the name), one ffmpeg at 80 %, sshd idle; php's
        // memory grows from 100 to 160 MiB then falls back, ffmpeg's stays at 500 MiB.
        let samples: Vec<Sample> = (0..10)
            .map(|i| {
                let php_rss = if i < 7 { 100 + 10 * i } else { 90 };
                sample(
                    2 * i,
                    10,
                    &[
                        (10, "php", 50.0, php_rss * MIB),
                        (11, "php", 50.0, MIB),
                        (20, "ffmpeg", 80.0, 500 * MIB),
                        (30, "sshd", 0.0, 5 * MIB),
                    ],
                )
            })
            .collect();
        let u = usage_by_name(&samples, None, None);
        let names: Vec<&str> = u.iter().map(|n| n.name.as_str()).collect();
        assert_eq!(names, ["php", "ffmpeg", "sshd"]);
        // 100 % of a core for 10 samples of 2 s.
        assert!(
            (u[0].cpu_seconds - 20.0).abs() < 1e-3,
            "{}",
            u[0].cpu_seconds
        );
        assert_eq!(
            u[0].cpu_seconds, u[0].cpu_seconds_max,
            "every sample lists php"
        );
        assert_eq!(u[0].max_process_count, 2);
        assert_eq!(u[0].pids.len(), 2);
        assert!((u[0].pids[0].cpu_seconds - 10.0).abs() < 1e-3);
        // pid 10 and 11 used the same CPU: the bigger memory comes first.
        assert_eq!(u[0].pids[0].pid, 10);
        assert_eq!(u[0].pids[0].peak_rss_bytes, 160 * MIB);
        assert_eq!(u[0].pids[0].rss_growth_bytes, 60 * MIB);
        assert_eq!(
            u[0].pids[0].cmdline.as_deref(),
            Some("/usr/bin/php --pid 10")
        );
        // Sizes in MiB: exact at the 10 significant bits attribution keeps for per-name sums.
        assert_eq!(u[0].peak_rss_bytes, 161 * MIB);
        assert_eq!(round_bytes(161 * MIB), 161 * MIB);
        assert_eq!(u[0].rss_growth_bytes, 60 * MIB);
        assert!((u[1].cpu_seconds - 16.0).abs() < 1e-3);
        assert_eq!(u[1].rss_growth_bytes, 0);
        assert_eq!(u[1].pids[0].first_seen, t(0));
        assert_eq!(u[1].pids[0].last_seen, t(18));

        // A window: [t(4), t(10)) holds the samples at 4, 6 and 8.
        let u = usage_by_name(&samples, Some(t(4)), Some(t(10)));
        assert!(
            (u[0].cpu_seconds - 6.0).abs() < 1e-3,
            "{}",
            u[0].cpu_seconds
        );
        assert_eq!(u[0].samples_listed, 3);
        assert!(usage_by_name(&samples, Some(t(100)), None).is_empty());
    }

    #[test]
    fn ranks_by_memory_on_request() {
        // php: 2 pids, up to 161 MiB in all; ffmpeg: 500 MiB; sshd 5 MiB. By memory: ffmpeg, php, sshd, and php's
        // pids by their peak (10 at 160 MiB before 11 at 1 MiB).
        let samples: Vec<Sample> = (0..4)
            .map(|i| {
                sample(
                    2 * i,
                    10,
                    &[
                        (11, "php", 90.0, MIB),
                        (10, "php", 10.0, 160 * MIB),
                        (20, "ffmpeg", 5.0, 500 * MIB),
                        (30, "sshd", 0.0, 5 * MIB),
                    ],
                )
            })
            .collect();
        let mut u = usage_by_name(&samples, None, None);
        assert_eq!(u[0].name, "php");
        assert_eq!(u[0].pids[0].pid, 11, "by CPU first");
        rank_by_memory(&mut u);
        let names: Vec<&str> = u.iter().map(|n| n.name.as_str()).collect();
        assert_eq!(names, ["ffmpeg", "php", "sshd"]);
        let pids: Vec<u32> = u[1].pids.iter().map(|p| p.pid).collect();
        assert_eq!(pids, [10, 11]);
    }

    #[test]
    fn absent_samples_count_at_most_the_nth_value() {
        // Top 1: "batch" at 30 % is listed at samples 0 and 4 only; in between "hog" (90 %, and always the
        // biggest in memory) takes both places, so batch is absent at 1..=3 and used at most the N-th value of
        // the names list (hog's 90 %) there.
        let samples: Vec<Sample> = (0..5)
            .map(|i| {
                let hog = if (1..=3).contains(&i) { 90.0 } else { 0.0 };
                sample(2 * i, 1, &[(1, "batch", 30.0, 500), (2, "hog", hog, 1_000)])
            })
            .collect();
        let u = usage_by_name(&samples, None, None);
        let batch = u.iter().find(|n| n.name == "batch").unwrap();
        // Known: 2 samples × 30 % × 2 s.
        assert!(
            (batch.cpu_seconds - 1.2).abs() < 1e-3,
            "{}",
            batch.cpu_seconds
        );
        assert_eq!(batch.samples_listed, 2);
        // The upper bound adds 3 samples at the N-th value, 90 % of 2 s.
        assert!(
            (batch.cpu_seconds_max - (1.2 + 3.0 * 1.8)).abs() < 1e-3,
            "{}",
            batch.cpu_seconds_max
        );
        assert_eq!(u[0].name, "hog");
        assert!((u[0].cpu_seconds - 5.4).abs() < 1e-3);
    }
}
