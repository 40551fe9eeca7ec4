//! Culprit attribution: who contributed most to a rise.

use std::collections::HashMap;

use super::{Culprit, IncidentKind, slice_excl, slice_incl};
use crate::sample::{ProcessKey, Sample};
use crate::time::Timestamp;

/// How much a process name's rise must beat single processes' rises to be the culprit instead of one of them: it
/// must be at least `NAME_MARGIN` times the largest own rise of any single process, and at least `1 / NAME_MARGIN`
/// of the largest rise counted with reaped children (see [`culprit_for`]).
pub const NAME_MARGIN: f64 = 1.5;

/// Which process, or which process name, contributed most to the rise of an incident over `window` compared with
/// `baseline`; `None` when nobody's share rose (or the kind has no culprit).
///
/// `samples` are sorted by time; `window` is inclusive at both ends, `baseline` is `[from, to)` (typically the
/// minutes before the incident). Processes are told apart by identity (pid and start time), so a reused pid is
/// another process. What counts depends on `kind`:
///
/// - **CPU surge**: the rise of mean CPU, in the window minus in the baseline. A process's CPU is its own plus the
///   CPU of its children it reaped ([`children_cpu_pct`](crate::ProcessEntry::children_cpu_pct)), so a parent
///   whose short-lived children burn CPU is seen, but only in samples without recorded exits: where a sample
///   has [`exits`](crate::Sample::exits), the children's CPU is their own, counted under their names, and the
///   parent counts its own CPU alone. Names count their processes' own CPU plus, where exits are recorded, the
///   CPU of the name's processes that exited within each sample ([`Exits::names`](crate::Exits::names)), so a
///   storm of short-lived workers is named by their name and exit count (`php-cgi (x412 exited) 170% CPU`).
///   The name totals ([`TopProcesses::names`](crate::TopProcesses::names)) catch forty small workers none of
///   which is in the top N: a name is the culprit when its rise is at least [`NAME_MARGIN`] times the largest *own* rise of
///   any single process and at least `1 / NAME_MARGIN` of the largest rise with children (else the process with
///   the largest rise with children is). The culprit's [`cpu_pct`](Culprit::cpu_pct) is its mean in the window.
/// - **Memory climb, swap growth**: resident-memory growth from the first sample of the window to the peak within
///   it (a leak that grows one process is found even when another process is bigger but flat). A name is the
///   culprit when its growth is at least [`NAME_MARGIN`] times that of every single process.
///   [`rss_growth_bytes`](Culprit::rss_growth_bytes) is the growth, [`rss_bytes`](Culprit::rss_bytes) the peak.
/// - **OOM kill**: the victim the kernel log named ([`Sample::oom_kills`] of the samples after `window.0`, logged
///   after `window.0` and at most the end sample's lateness after `window.1`; of several, the one with the most
///   anonymous memory), with its anonymous resident memory and memory cgroup. Where the log named none, a guess
///   ([`guessed`](Culprit::guessed)): the process whose resident memory vanished, present in the last sample at or
///   before `window.0`, absent from one of the two samples after it although its resident memory was above the
///   N-th place stored there (so it did not just drop out of the list). The largest such process;
///   [`rss_bytes`](Culprit::rss_bytes) is its resident memory before.
/// - **Pressure stall**: the stalled resource decides: memory (memory `full` is the larger full share) is
///   attributed like a memory climb, io (io `full` is) has no culprit (per-process io is not recorded), and a stall
///   of cpu `some` alone like a CPU surge.
/// - **Gap**: no culprit.
///
/// # Absent processes
///
/// A sample records only the top N processes and names, plus each list's bound, the value at its N-th place or
/// the CPU floor where the floor cut a CPU list short
/// ([`TopProcesses::cpu_nth_pct`](crate::TopProcesses::cpu_nth_pct), `rss_nth_bytes`, `name_cpu_nth_pct`,
/// `name_rss_nth_bytes`; called "the N-th value" below). A process absent from a sample was *at most* that value,
/// not zero, so:
///
/// - in the **baseline**, an absent process counts as the N-th value: an upper bound of what it used, which can
///   only shrink its rise (a process just below the top N before the incident does not look as if it came from
///   nothing);
/// - in the **window**, an absent process also counts as the N-th value, an upper bound, so a candidate that
///   flickers in and out of the list is not undercounted;
/// - a sample taken before the process started counts as zero (it did not exist), in both;
/// - for memory, a process absent from the window's first sample starts from the N-th value there (or from zero if
///   it started later), so its growth is a lower bound.
///
/// Only processes and names seen in the window at least once are candidates. Names have no start time, so an
/// absent name always counts as the N-th value. With an empty baseline every baseline value is zero.
pub fn culprit_for(
    samples: &[Sample],
    window: (Timestamp, Timestamp),
    baseline: (Timestamp, Timestamp),
    kind: &IncidentKind,
) -> Option<Culprit> {
    if !has_culprit(kind) {
        return None;
    }
    let win = slice_incl(samples, window.0, window.1);
    match kind {
        IncidentKind::CpuSurge => cpu_culprit(win, slice_excl(samples, baseline.0, baseline.1)),
        IncidentKind::MemoryClimb | IncidentKind::SwapGrowth => memory_culprit(win),
        IncidentKind::OomKill => {
            kernel_oom_victim(samples, window).or_else(|| oom_victim(samples, window.0))
        }
        IncidentKind::PressureStall => {
            let mean = |f: fn(&Sample) -> Option<f32>| {
                let n = win.len().max(1) as f64;
                win.iter().filter_map(f).map(f64::from).sum::<f64>() / n
            };
            let mem = mean(|s| s.pressure.and_then(|p| p.memory_full_pct));
            let io = mean(|s| s.pressure.and_then(|p| p.io_full_pct));
            if mem > 0.0 && mem >= io {
                memory_culprit(win)
            } else if io > 0.0 {
                None
            } else {
                cpu_culprit(win, slice_excl(samples, baseline.0, baseline.1))
            }
        }
        _ => None,
    }
}

/// Whether [`culprit_for`] may name a culprit for `kind` (a reader need not fetch processes for the others).
pub(crate) fn has_culprit(kind: &IncidentKind) -> bool {
    // A process rarely causes a network latency incident; none is named, and a gap has no samples.
    !matches!(
        kind,
        IncidentKind::Gap(_) | IncidentKind::LatencySpike | IncidentKind::LatencyOutage
    )
}

/// Sums of a per-sample upper bound (the N-th value) over a run of samples, to fill in absences quickly.
struct NthSums {
    ts: Vec<Timestamp>,
    /// `prefix[i]` = sum of the first `i` values.
    prefix: Vec<f64>,
}

impl NthSums {
    fn new(samples: &[Sample], nth: impl Fn(&Sample) -> f64) -> Self {
        let mut prefix = Vec::with_capacity(samples.len() + 1);
        let mut acc = 0.0;
        prefix.push(acc);
        for s in samples {
            acc += nth(s);
            prefix.push(acc);
        }
        NthSums {
            ts: samples.iter().map(|s| s.ts).collect(),
            prefix,
        }
    }

    fn total(&self) -> f64 {
        self.prefix.last().copied().unwrap_or(0.0)
    }

    /// The sum over samples at or after `t`.
    fn since(&self, t: Timestamp) -> f64 {
        let i = self.ts.partition_point(|x| *x < t);
        self.total() - self.prefix[i]
    }
}

/// One candidate's sums over a run of samples: values where present, and the N-th values of those same samples
/// (to subtract them from the absences' fill).
#[derive(Default, Clone, Copy)]
struct Acc {
    attributed: f64,
    own: f64,
    nth_present: f64,
}

impl Acc {
    /// The mean over `n` samples, absences filled with the N-th value (`fill` = the N-th values summed over the
    /// samples where the candidate could have existed).
    fn mean(&self, value: f64, fill: f64, n: usize) -> f64 {
        if n == 0 {
            return 0.0;
        }
        (value + (fill - self.nth_present).max(0.0)) / n as f64
    }
}

struct ProcCandidate {
    name: String,
    cmdline: Option<String>,
    start_time: Timestamp,
    win: Acc,
    base: Acc,
}

#[derive(Default)]
struct NameCandidate {
    cmdline: Option<String>,
    max_count: u32,
    exited: u32,
    win: Acc,
    base: Acc,
}

/// A listed process's CPU for attribution: its own, plus its reaped children's where the sample has no recorded
/// exits (with them, the children are counted under their own names).
fn attributed_cpu(s: &Sample, p: &crate::ProcessEntry) -> f64 {
    let children = if s.exits.is_some() {
        0.0
    } else {
        p.children_cpu_pct.unwrap_or(0.0)
    };
    f64::from(p.cpu_pct + children)
}

fn cpu_culprit(win: &[Sample], base: &[Sample]) -> Option<Culprit> {
    if win.is_empty() {
        return None;
    }
    let mut procs: HashMap<ProcessKey, ProcCandidate> = HashMap::new();
    let mut names: HashMap<&str, NameCandidate> = HashMap::new();
    for s in win {
        let nth = f64::from(s.top.cpu_nth_pct);
        for p in &s.top.processes {
            let c = procs.entry(p.key()).or_insert_with(|| ProcCandidate {
                name: p.name.clone(),
                cmdline: None,
                start_time: p.start_time,
                win: Acc::default(),
                base: Acc::default(),
            });
            c.win.attributed += attributed_cpu(s, p);
            c.win.own += f64::from(p.cpu_pct);
            c.win.nth_present += nth;
            if c.cmdline.is_none() {
                c.cmdline.clone_from(&p.cmdline);
            }
        }
        let name_nth = f64::from(s.top.name_cpu_nth_pct);
        for n in &s.top.names {
            let c = names.entry(n.name.as_str()).or_default();
            c.win.own += f64::from(n.cpu_pct);
            c.win.nth_present += name_nth;
            c.max_count = c.max_count.max(n.process_count);
        }
        for n in s.exits.iter().flat_map(|e| &e.names) {
            let c = names.entry(n.name.as_str()).or_default();
            c.win.own += n.cpu_pct(s.interval);
            c.exited = c.exited.saturating_add(n.count);
        }
    }
    for s in base {
        let nth = f64::from(s.top.cpu_nth_pct);
        for p in &s.top.processes {
            if let Some(c) = procs.get_mut(&p.key()) {
                c.base.attributed += attributed_cpu(s, p);
                c.base.own += f64::from(p.cpu_pct);
                c.base.nth_present += nth;
            }
        }
        let name_nth = f64::from(s.top.name_cpu_nth_pct);
        for n in &s.top.names {
            if let Some(c) = names.get_mut(n.name.as_str()) {
                c.base.own += f64::from(n.cpu_pct);
                c.base.nth_present += name_nth;
            }
        }
        for n in s.exits.iter().flat_map(|e| &e.names) {
            if let Some(c) = names.get_mut(n.name.as_str()) {
                c.base.own += n.cpu_pct(s.interval);
            }
        }
    }
    // A name's command line: that of its busiest process in the window by own CPU (a master that reaps the
    // workers' CPU is not what the name stands for).
    let mut best_cmd: HashMap<&str, (f64, &str)> = HashMap::new();
    for c in procs.values() {
        if let Some(cmd) = &c.cmdline {
            let e = best_cmd.entry(c.name.as_str()).or_insert((f64::MIN, cmd));
            if c.win.own > e.0 {
                *e = (c.win.own, cmd);
            }
        }
    }
    for (name, c) in names.iter_mut() {
        c.cmdline = best_cmd.get(name).map(|(_, cmd)| (*cmd).to_owned());
    }

    let win_nth = NthSums::new(win, |s| f64::from(s.top.cpu_nth_pct));
    let base_nth = NthSums::new(base, |s| f64::from(s.top.cpu_nth_pct));
    let win_name_nth = NthSums::new(win, |s| f64::from(s.top.name_cpu_nth_pct));
    let base_name_nth = NthSums::new(base, |s| f64::from(s.top.name_cpu_nth_pct));

    // (rise with children, own rise, mean in window with children, key)
    let mut best_proc: Option<(f64, f64, ProcessKey)> = None;
    let mut best_own_rise = f64::MIN;
    for (key, c) in &procs {
        let w_fill = win_nth.since(c.start_time);
        let b_fill = base_nth.since(c.start_time);
        let w_attr = c.win.mean(c.win.attributed, w_fill, win.len());
        let b_attr = c.base.mean(c.base.attributed, b_fill, base.len());
        let w_own = c.win.mean(c.win.own, w_fill, win.len());
        let b_own = c.base.mean(c.base.own, b_fill, base.len());
        best_own_rise = best_own_rise.max(w_own - b_own);
        let rise = w_attr - b_attr;
        let better = match &best_proc {
            None => true,
            Some((r, w, k)) => {
                rise > *r || (rise == *r && (w_attr > *w || (w_attr == *w && key < k)))
            }
        };
        if better {
            best_proc = Some((rise, w_attr, *key));
        }
    }
    let mut best_name: Option<(f64, f64, &str)> = None;
    for (name, c) in &names {
        let w = c.win.mean(c.win.own, win_name_nth.total(), win.len());
        let b = c.base.mean(c.base.own, base_name_nth.total(), base.len());
        let rise = w - b;
        let better = match &best_name {
            None => true,
            Some((r, _, n)) => rise > *r || (rise == *r && name < n),
        };
        if better {
            best_name = Some((rise, w, name));
        }
    }

    let proc_rise = best_proc.map_or(f64::MIN, |p| p.0);
    if let Some((rise, mean, name)) = best_name
        && rise > 0.0
        && rise >= NAME_MARGIN * best_own_rise.max(0.0)
        && rise >= proc_rise / NAME_MARGIN
    {
        let c = names.get(name)?;
        return Some(Culprit {
            name: name.to_owned(),
            pid: None,
            cmdline: c.cmdline.clone(),
            process_count: c.max_count.max(1),
            cpu_pct: Some(mean as f32),
            rss_growth_bytes: None,
            rss_bytes: None,
            exited_count: c.exited,
            ..Culprit::default()
        });
    }
    let (rise, mean, key) = best_proc?;
    if rise <= 0.0 {
        return None;
    }
    let c = procs.get(&key)?;
    Some(with_cgroup(
        Culprit {
            name: c.name.clone(),
            pid: Some(key.pid),
            cmdline: c.cmdline.clone(),
            process_count: 1,
            cpu_pct: Some(mean as f32),
            rss_growth_bytes: None,
            rss_bytes: None,
            ..Culprit::default()
        },
        win,
        key,
    ))
}

/// The culprit with the cgroup and unit of process `key`, as the window's samples recorded it.
fn with_cgroup(mut c: Culprit, win: &[Sample], key: ProcessKey) -> Culprit {
    c.cgroup = win
        .iter()
        .flat_map(|s| &s.top.processes)
        .find(|p| p.key() == key && p.cgroup.is_some())
        .and_then(|p| p.cgroup.clone());
    c.unit = c.cgroup.as_deref().and_then(crate::cgroup::unit_of);
    c
}

fn memory_culprit(win: &[Sample]) -> Option<Culprit> {
    let first = win.first()?;
    // Process: (name, cmdline, start value, peak)
    let mut procs: HashMap<ProcessKey, (String, Option<String>, u64, u64)> = HashMap::new();
    for s in win {
        for p in &s.top.processes {
            let e = procs.entry(p.key()).or_insert_with(|| {
                let start = if s.ts == first.ts {
                    p.rss_bytes
                } else if p.start_time > first.ts {
                    0
                } else {
                    first.top.rss_nth_bytes
                };
                (p.name.clone(), None, start, 0)
            });
            e.3 = e.3.max(p.rss_bytes);
            if e.1.is_none() {
                e.1.clone_from(&p.cmdline);
            }
        }
    }
    let mut names: HashMap<&str, (u64, u64, u32)> = HashMap::new();
    for s in win {
        for n in &s.top.names {
            let e = names.entry(n.name.as_str()).or_insert_with(|| {
                let start = if s.ts == first.ts {
                    n.rss_bytes
                } else {
                    first.top.name_rss_nth_bytes
                };
                (start, 0, 0)
            });
            e.1 = e.1.max(n.rss_bytes);
            e.2 = e.2.max(n.process_count);
        }
    }
    let growth = |start: u64, peak: u64| {
        i64::try_from(peak).unwrap_or(i64::MAX) - i64::try_from(start).unwrap_or(i64::MAX)
    };
    let best_proc = procs
        .iter()
        .map(|(k, v)| (growth(v.2, v.3), *k))
        .max_by(|a, b| a.0.cmp(&b.0).then(b.1.cmp(&a.1)));
    let best_name = names
        .iter()
        .map(|(n, v)| (growth(v.0, v.1), *n))
        .max_by(|a, b| a.0.cmp(&b.0).then(b.1.cmp(a.1)));
    let proc_growth = best_proc.map_or(0, |p| p.0);
    if let Some((g, name)) = best_name
        && g > 0
        && g as f64 >= NAME_MARGIN * proc_growth.max(0) as f64
    {
        let (_, peak, count) = names.get(name).copied()?;
        // The command line of its fastest-growing process.
        let cmdline = procs
            .values()
            .filter(|v| v.0 == name && v.1.is_some())
            .max_by_key(|v| growth(v.2, v.3))
            .and_then(|v| v.1.clone());
        return Some(Culprit {
            name: name.to_owned(),
            pid: None,
            cmdline,
            process_count: count.max(1),
            cpu_pct: None,
            rss_growth_bytes: Some(g),
            rss_bytes: Some(peak),
            ..Culprit::default()
        });
    }
    let (g, key) = best_proc?;
    if g <= 0 {
        return None;
    }
    let (name, cmdline, _, peak) = procs.get(&key)?;
    Some(with_cgroup(
        Culprit {
            name: name.clone(),
            pid: Some(key.pid),
            cmdline: cmdline.clone(),
            process_count: 1,
            cpu_pct: None,
            rss_growth_bytes: Some(g),
            rss_bytes: Some(*peak),
            ..Culprit::default()
        },
        win,
        key,
    ))
}

/// The OOM victim the kernel log named for a kill between the samples at `window.0` and `window.1`.
fn kernel_oom_victim(samples: &[Sample], window: (Timestamp, Timestamp)) -> Option<Culprit> {
    let i = samples.partition_point(|s| s.ts <= window.0);
    let j = samples.partition_point(|s| s.ts <= window.1);
    // The sample at the window's end read the counter `lateness` after its tick; the log's line can ride it or
    // one of the two samples after it.
    let end = samples
        .get(j.saturating_sub(1))
        .map_or(window.1, |s| s.ts.saturating_add(s.lateness));
    let carriers = samples.get(i..(j + 2).min(samples.len()))?;
    let kill = carriers
        .iter()
        .flat_map(|s| &s.oom_kills)
        .filter(|k| k.ts > window.0 && k.ts <= end)
        .max_by(|a, b| {
            a.anon_rss_bytes
                .cmp(&b.anon_rss_bytes)
                .then(b.ts.cmp(&a.ts))
        })?;
    let cmdline = samples[..j.min(samples.len())]
        .iter()
        .rev()
        .take(3)
        .flat_map(|s| &s.top.processes)
        .find(|p| p.pid == kill.pid && p.name == kill.name)
        .and_then(|p| p.cmdline.clone());
    Some(Culprit {
        name: kill.name.clone(),
        pid: Some(kill.pid),
        cmdline,
        process_count: 1,
        cpu_pct: None,
        rss_growth_bytes: None,
        rss_bytes: kill.anon_rss_bytes.map(|a| {
            a.saturating_add(kill.file_rss_bytes.unwrap_or(0))
                .saturating_add(kill.shmem_rss_bytes.unwrap_or(0))
        }),
        anon_rss_bytes: kill.anon_rss_bytes,
        cgroup: kill.cgroup.clone(),
        unit: kill.unit(),
        guessed: false,
        exited_count: 0,
    })
}

/// The victim of an OOM kill noticed after the last sample at or before `before`.
fn oom_victim(samples: &[Sample], before: Timestamp) -> Option<Culprit> {
    let i = samples.partition_point(|s| s.ts <= before).checked_sub(1)?;
    let prev = &samples[i];
    let after = samples.get(i + 1..(i + 3).min(samples.len()))?;
    let vanished = |p: &crate::ProcessEntry| {
        after.iter().any(|s| {
            p.rss_bytes > s.top.rss_nth_bytes && !s.top.processes.iter().any(|q| q.key() == p.key())
        })
    };
    let victim = prev
        .top
        .processes
        .iter()
        .filter(|p| p.rss_bytes > 0 && vanished(p))
        .max_by(|a, b| a.rss_bytes.cmp(&b.rss_bytes).then(b.pid.cmp(&a.pid)))?;
    Some(Culprit {
        name: victim.name.clone(),
        pid: Some(victim.pid),
        cmdline: victim.cmdline.clone(),
        process_count: 1,
        cpu_pct: None,
        rss_growth_bytes: None,
        rss_bytes: Some(victim.rss_bytes),
        cgroup: victim.cgroup.clone(),
        unit: victim.unit(),
        guessed: true,
        ..Culprit::default()
    })
}
