//! Runaway processes: one process, or the processes of one name, keeping most of a core busy well above their own
//! recent level, whatever the machine's total.
//!
//! Found in two steps. The candidates come from the series' busiest columns alone
//! ([`BusiestColumns`](crate::series::BusiestColumns): each sample's busiest process and busiest group of one
//! name, with their CPU), so a month is scanned without its process rows. Each candidate's own recent level is then read from the
//! whole samples of its baseline window and the start of its run (at most two baseline windows per candidate).

use std::cmp::Ordering;
use std::collections::HashMap;
use std::time::Duration;

use super::detect::SpanMemo;
use super::view::View;
use super::{Culprit, DetectOptions, Incident, IncidentKind, NAME_MARGIN};
use crate::human;
use crate::sample::{ProcessKey, Sample};
use crate::time::Timestamp;

/// Who a run belongs to: one process, or a name's processes together.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
enum Subject<'a> {
    Process(ProcessKey, &'a str),
    Name(&'a str),
}

impl Subject<'_> {
    fn name(&self) -> &str {
        match self {
            Subject::Process(_, n) | Subject::Name(n) => n,
        }
    }
}

/// A subject's stretch as the busiest at or above the exit threshold.
#[derive(Debug, Clone, Copy)]
struct Run {
    start: usize,
    end: usize,
    peak: usize,
    /// Sum of its CPU over the samples where it was the busiest, and their count and time.
    sum: f64,
    n: u32,
    seen: Duration,
    /// The index of the first sample after the last break before the run.
    segment_start: usize,
}

impl Run {
    fn mean(&self) -> f64 {
        self.sum / f64::from(self.n.max(1))
    }
}

/// `100% of a core`, `2.5 cores`: a runaway's CPU in words.
pub(super) fn cores_phrase(cpu_pct: f64) -> String {
    if cpu_pct < 150.0 {
        format!("{} of a core", human::pct(cpu_pct))
    } else {
        format!("{:.1} cores", cpu_pct / 100.0)
    }
}

/// Appends the runaway incidents of `samples` to `out` (the rules are in [`DetectOptions::runaway_cpu_pct`] and
/// the module docs of [`analysis`](super)).
///
/// `named_surges` are the spans of the CPU surges that name a culprit: a runaway wholly inside one would be
/// absorbed by it without changing it, so such candidates are not judged (which would read their samples again).
pub(super) fn runaways<V: View + ?Sized>(
    samples: &V,
    breaks: &[bool],
    opts: &DetectOptions,
    named_surges: &[(Timestamp, Timestamp)],
    mut memo: Option<&mut SpanMemo>,
    out: &mut Vec<Incident>,
) {
    let busiest = samples.busiest();
    let enter = opts.runaway_cpu_pct;
    let exit = enter * opts.exit_ratio;
    // Looked up once or twice a sample: aHash, keyed at random as SipHash is, and quicker on short names.
    let mut open: HashMap<Subject<'_>, Run, ahash::RandomState> = HashMap::default();
    let mut runs: Vec<(Subject<'_>, Run)> = Vec::new();
    let mut segment_start = 0usize;
    // A run not seen for `merge_gap` (or before a break) has ended.
    let ended = |r: &Run, ts: Timestamp, segment_start: usize| {
        r.segment_start != segment_start
            || ts
                .duration_since(samples.ts(r.end))
                .is_none_or(|d| d >= opts.merge_gap)
    };
    // When the runs still open are next looked over for those that ended, so that `open` empties after the last
    // run and a quiet sample is passed over without a lookup (they are sorted below, so when they leave `open`
    // does not change the result).
    let mut next_sweep = Timestamp::from_unix_micros(i64::MIN);
    for (i, &broken) in breaks.iter().enumerate() {
        let who = busiest.get(i);
        let ts = samples.ts(i);
        if !open.is_empty() && ts >= next_sweep {
            next_sweep = ts.saturating_add(opts.merge_gap);
            open.retain(|subject, r| {
                let gone = ended(r, ts, segment_start);
                if gone {
                    runs.push((*subject, *r));
                }
                !gone
            });
        }
        let subjects = [
            who.process.as_ref().map(|p| {
                let key = ProcessKey {
                    pid: p.pid,
                    start_time: p.start_time,
                };
                (
                    Subject::Process(key, p.name.as_str()),
                    busiest.cpu_pct.get(i),
                )
            }),
            who.group
                .as_deref()
                .map(|n| (Subject::Name(n), busiest.group_cpu_pct.get(i))),
        ];
        for (subject, cpu) in subjects.into_iter().flatten() {
            let cpu = f64::from(cpu);
            if open.is_empty() && cpu.partial_cmp(&enter).is_none_or(Ordering::is_lt) {
                continue;
            }
            let open_run = match open.get_mut(&subject) {
                Some(r) if ended(r, ts, segment_start) => {
                    runs.push((subject, *r));
                    open.remove(&subject);
                    None
                }
                r => r,
            };
            match open_run {
                Some(r) if cpu >= exit => {
                    r.end = i;
                    r.sum += cpu;
                    r.n += 1;
                    r.seen += samples.interval(i);
                    let peak_cpu = |k: usize| match subject {
                        Subject::Process(..) => busiest.cpu_pct.get(k),
                        Subject::Name(_) => busiest.group_cpu_pct.get(k),
                    };
                    if peak_cpu(i) > peak_cpu(r.peak) {
                        r.peak = i;
                    }
                }
                Some(r) => {
                    runs.push((subject, *r));
                    open.remove(&subject);
                }
                None if cpu >= enter => {
                    open.insert(
                        subject,
                        Run {
                            start: i,
                            end: i,
                            peak: i,
                            sum: cpu,
                            n: 1,
                            seen: samples.interval(i),
                            segment_start,
                        },
                    );
                }
                None => {}
            }
        }
        if broken {
            segment_start = i + 1;
        }
    }
    runs.extend(open.drain());
    runs.retain(|(_, r)| r.seen >= opts.runaway_min_duration);
    runs.sort_by(|a, b| (a.1.start, a.1.end, a.0).cmp(&(b.1.start, b.1.end, b.0)));

    // A process and its name over the same time are one runaway: the name when its processes together used
    // clearly more than the one process (NAME_MARGIN), else the process.
    let overlaps = |a: &Run, b: &Run| a.start <= b.end && b.start <= a.end;
    let partners = |a: &(Subject<'_>, Run), b: &(Subject<'_>, Run)| {
        a.0.name() == b.0.name()
            && matches!(a.0, Subject::Process(..)) != matches!(b.0, Subject::Process(..))
            && overlaps(&a.1, &b.1)
    };
    let inside = |r: &Run| {
        let (from, to) = (samples.ts(r.start), samples.ts(r.end));
        named_surges.iter().any(|(a, b)| *a <= from && to <= *b)
    };
    let mut found: Vec<(Subject<'_>, Run, Incident)> = Vec::new();
    for (subject, run) in &runs {
        // Inside a surge that names a culprit, with every partner inside too: nothing it could change.
        let moot = inside(run)
            && runs
                .iter()
                .filter(|o| partners(&(*subject, *run), o))
                .all(|o| inside(&o.1));
        if moot {
            continue;
        }
        let judged = match memo.as_deref_mut() {
            Some(memo) => memo.judge(RunKey::of(samples, *subject, run, opts), || {
                judge(samples, *subject, run, opts)
            }),
            None => judge(samples, *subject, run, opts),
        };
        if let Some(inc) = judged {
            found.push((*subject, *run, inc));
        }
    }
    let mut keep = vec![true; found.len()];
    for (a, (sa, ra, ia)) in found.iter().enumerate() {
        for (b, (sb, rb, ib)) in found.iter().enumerate() {
            if let (Subject::Process(..), Subject::Name(n)) = (sa, sb)
                && sa.name() == *n
                && overlaps(ra, rb)
            {
                if ib.magnitude >= NAME_MARGIN * ia.magnitude {
                    keep[a] = false;
                } else {
                    keep[b] = false;
                }
            }
        }
    }
    out.extend(
        found
            .into_iter()
            .zip(keep)
            .filter(|(_, k)| *k)
            .map(|((_, _, inc), _)| inc),
    );
}

/// What [`judge`] reads of a candidate, besides the samples from where its baseline window begins to its end,
/// which do not change once recorded: equal keys, equal judgements.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub(super) struct RunKey {
    process: Option<ProcessKey>,
    name: String,
    start: Timestamp,
    peak: Timestamp,
    end: Timestamp,
    base_from: Timestamp,
    born_in_view: bool,
    /// The run's CPU: its sum's bits and its count of samples.
    cpu: (u64, u32),
}

impl RunKey {
    fn of<V: View + ?Sized>(
        samples: &V,
        subject: Subject<'_>,
        run: &Run,
        opts: &DetectOptions,
    ) -> RunKey {
        let (base_from, born_in_view) = baseline_from(samples, subject, run, opts);
        RunKey {
            process: match subject {
                Subject::Process(k, _) => Some(k),
                Subject::Name(_) => None,
            },
            name: subject.name().to_owned(),
            start: samples.ts(run.start),
            peak: samples.ts(run.peak),
            end: samples.ts(run.end),
            base_from,
            born_in_view,
            cpu: (run.sum.to_bits(), run.n),
        }
    }
}

/// Where a candidate's baseline window begins (cut at the start of its segment), and whether its process was seen
/// starting.
fn baseline_from<V: View + ?Sized>(
    samples: &V,
    subject: Subject<'_>,
    run: &Run,
    opts: &DetectOptions,
) -> (Timestamp, bool) {
    let start = samples.ts(run.start);
    let first = samples.ts(run.segment_start);
    let base_from = start.saturating_sub(opts.baseline_window).max(first);
    let born_in_view = matches!(subject, Subject::Process(k, _) if k.start_time >= first);
    (base_from, born_in_view)
}

/// The incident of a candidate run, if it is well above its subject's recent level.
fn judge<V: View + ?Sized>(
    samples: &V,
    subject: Subject<'_>,
    run: &Run,
    opts: &DetectOptions,
) -> Option<Incident> {
    let (start, end) = (samples.ts(run.start), samples.ts(run.end));
    let (base_from, born_in_view) = baseline_from(samples, subject, run, opts);
    let covered = start
        .duration_since(base_from)
        .is_some_and(|d| d.saturating_mul(2) >= opts.baseline_window);
    // A process seen starting has a known past (it did not exist); any other subject needs a baseline window at
    // least half covered, else it may be one that is always that busy.
    if !covered && !born_in_view {
        return None;
    }
    let read_to = end.min(start.saturating_add(opts.baseline_window));
    let window = samples.window(base_from, read_to);
    let split = window.partition_point(|s| s.ts < start);
    let (base, during) = window.split_at(split);
    if during.is_empty() {
        return None;
    }
    let name = subject.name();
    let name_before = mean(base, |s| name_level(s, name));
    let name_during = mean(during, |s| name_level(s, name));
    let mean_cpu = run.mean();
    let rise = match subject {
        Subject::Process(key, _) => {
            let own_before = mean(base, |s| process_level(s, key));
            // Its own rise, and its name's: a restarted process of a name that was already that busy (a JVM at
            // 150 % restarted, a worker pool renewing its pids) is no runaway.
            (mean_cpu - own_before).min(name_during - name_before)
        }
        Subject::Name(_) => mean_cpu - name_before,
    };
    if rise
        .partial_cmp(&opts.runaway_min_rise_pct)
        .is_none_or(Ordering::is_lt)
    {
        return None;
    }
    let mut culprit = Culprit::new(name);
    culprit.cpu_pct = Some(mean_cpu as f32);
    let before = match subject {
        Subject::Process(key, _) => {
            culprit.pid = Some(key.pid);
            culprit.cmdline = during
                .iter()
                .flat_map(|s| &s.top.processes)
                .find(|p| p.key() == key && p.cmdline.is_some())
                .and_then(|p| p.cmdline.clone());
            mean(base, |s| process_level(s, key))
        }
        Subject::Name(_) => {
            culprit.process_count = during
                .iter()
                .flat_map(|s| &s.top.names)
                .filter(|n| n.name == name)
                .map(|n| n.process_count)
                .max()
                .unwrap_or(1)
                .max(1);
            let members = || {
                during
                    .iter()
                    .flat_map(|s| &s.top.processes)
                    .filter(|p| p.name == name)
            };
            culprit.exited_count = exited_count(samples, name, during, read_to, end, opts);
            // A group that was one and the same process all along is that process.
            let mut keys = members().map(|p| p.key());
            if culprit.process_count == 1
                && culprit.exited_count == 0
                && let Some(k) = keys.next()
                && keys.all(|x| x == k)
            {
                culprit.pid = Some(k.pid);
            }
            // The command line of its busiest process.
            culprit.cmdline = members()
                .filter(|p| p.cmdline.is_some())
                .max_by(|a, b| a.cpu_pct.partial_cmp(&b.cpu_pct).unwrap_or(Ordering::Equal))
                .and_then(|p| p.cmdline.clone());
            name_before
        }
    };
    let mut inc = Incident::new(IncidentKind::Runaway, start, end);
    inc.peak = samples.ts(run.peak);
    inc.magnitude = mean_cpu;
    inc.summary = format!(
        "{} {} for {} (before: {})",
        culprit.who(),
        cores_phrase(mean_cpu),
        human::duration(inc.duration()),
        human::pct(before.max(0.0))
    );
    inc.culprit = Some(culprit);
    Some(inc)
}

/// The mean of `level` over `samples`, 0 for none.
fn mean(samples: &[Sample], level: impl Fn(&Sample) -> f64) -> f64 {
    if samples.is_empty() {
        return 0.0;
    }
    samples.iter().map(level).sum::<f64>() / samples.len() as f64
}

/// A process's own CPU at a sample: as listed; 0 before it started; else at most the sample's N-th value.
fn process_level(s: &Sample, key: ProcessKey) -> f64 {
    match s.top.processes.iter().find(|p| p.key() == key) {
        Some(p) => f64::from(p.cpu_pct),
        None if key.start_time > s.ts => 0.0,
        None => f64::from(s.top.cpu_nth_pct),
    }
}

/// A name's summed CPU at a sample: as listed (else at most the sample's N-th value), plus its processes that
/// exited over the interval.
fn name_level(s: &Sample, name: &str) -> f64 {
    let listed = match s.top.names.iter().find(|n| n.name == name) {
        Some(n) => f64::from(n.cpu_pct),
        None => f64::from(s.top.name_cpu_nth_pct),
    };
    listed + s.exited_cpu_pct(name)
}

/// How many processes named `name` exited over a run: those in `during` (its samples read up to `read_to`), then,
/// where it had exits, the rest of the run up to `end` read a baseline window at a time (whole samples of one
/// window in memory at once, only for a run judged a runaway).
fn exited_count<V: View + ?Sized>(
    samples: &V,
    name: &str,
    during: &[Sample],
    read_to: Timestamp,
    end: Timestamp,
    opts: &DetectOptions,
) -> u32 {
    let count = |w: &[Sample]| {
        w.iter()
            .flat_map(|s| s.exits.iter().flat_map(|e| &e.names))
            .filter(|n| n.name == name)
            .fold(0u32, |a, n| a.saturating_add(n.count))
    };
    let mut total = count(during);
    if total == 0 {
        return 0;
    }
    let step = opts.baseline_window.max(Duration::from_secs(1));
    let mut from = read_to;
    while from < end {
        let to = end.min(from.saturating_add(step));
        // Windows include both ends: start a microsecond after the last one read.
        let next = Timestamp::from_unix_micros(from.as_unix_micros().saturating_add(1));
        total = total.saturating_add(count(&samples.window(next, to)));
        from = to;
    }
    total
}

#[cfg(test)]
mod tests;
