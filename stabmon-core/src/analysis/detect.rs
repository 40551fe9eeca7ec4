//! Incident detection over a series of samples.

use std::collections::VecDeque;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Condvar, Mutex, OnceLock, PoisonError};
use std::time::Duration;

use super::gaps::{gap_indices, gaps_of, rebooted};
use super::view::{PressureFigure, SeriesView, View};
use super::{Culprit, DetectOptions, Incident, IncidentKind};
use crate::human;
use crate::sample::{Pressure, Sample};
use crate::series::{Packed, SystemSeries, WindowSource};
use crate::time::Timestamp;

/// A memory or swap culprit must have grown by at least this share of the climb.
const CULPRIT_SHARE: f64 = 0.25;

/// MAD to a normal distribution's standard deviation.
pub(super) const MAD_TO_SIGMA: f64 = 1.4826;

/// Finds the incidents in `samples` (sorted by time): CPU surges, runaway processes, memory climbs, swap growth,
/// OOM kills, pressure stalls, gaps, and latency spikes and outages per target, each with its culprit where one can
/// be named ([`culprit_for`](super::culprit_for)). The result is sorted by start (then by kind, in the order of
/// [`IncidentKind`]'s variants).
///
/// The rules are in the [module docs](super) and every threshold in [`DetectOptions`]. Gaps come from
/// [`find_gaps`](super::find_gaps) with `opts.clean_stops`. A CPU surge's culprit is computed over the surge against the
/// [`baseline_window`](DetectOptions::baseline_window) before it; a climb's over the climb; a stall's over the
/// stall.
///
/// Cost: linear in the number of samples (the baseline is recomputed once per
/// [`baseline_step`](DetectOptions::baseline_step), by selection, not sorting, first among the values near the last
/// median and MAD) plus the culprit attribution of each
/// incident, linear in its length, and for each runaway candidate (a process or group that was the busiest at
/// most of a core for the minimum duration) its baseline window and at most as long of its start; see
/// BENCHMARKS.md for a week at 1 s.
pub fn detect_incidents(samples: &[Sample], opts: &DetectOptions) -> Vec<Incident> {
    detect_with(samples, opts, None)
}

/// [`detect_incidents`] over a [`SystemSeries`], reading whole samples from `source` only inside the windows where
/// it names a culprit: the same incidents as over the series' samples in memory, in the memory of the columns.
///
/// Where `source` can be [shared](WindowSource::shared) between threads (a store reader's windows can), the
/// series has a few thousand samples or more, and the process may use two cores, detection runs on two threads
/// for the time of the call (this one and one scoped thread, no pool): the CPU surges and runaways here, the other
/// detectors there, and both name the surges' culprits, reading their windows at once. The incidents, their order
/// and the error are the same either way.
///
/// Fails with the first error of `source` (in the order of the detectors).
pub fn detect_incidents_in(
    series: &SystemSeries,
    source: &dyn WindowSource,
    opts: &DetectOptions,
) -> Result<Vec<Incident>, crate::Error> {
    detect_in(series, source, opts, None)
}

/// [`detect_incidents_in`] without naming culprits: the same incidents (kinds, starts, ends, peaks, magnitudes),
/// but only a runaway names one (its culprit is what makes it an incident). Whole samples are read only to judge
/// the runaway candidates outside CPU surges, and not again for a candidate `memo` holds from an earlier call.
///
/// For a caller that looks at a sliding window of a series again and again (the recorder's look for new
/// incidents) and needs to know what the incidents are, not who caused them: a surge's or a climb's culprit costs
/// a read of its window and baseline, a runaway's judgement one of its baseline. A judgement depends only on the
/// samples of its candidate's run and baseline window, which do not change once recorded; `memo` keys it by those
/// (the candidate, the run's first, peak and last sample, its CPU, and where its baseline window begins), so a
/// run still growing at the end of the series, or whose baseline the window's start cuts, is judged again, and
/// a finished one with its whole baseline is not. `memo` keeps the judgements of the last call only, forgets them
/// all when `opts` differ from the last call's or a read fails, and assumes recorded samples do not change (else
/// [`SpanMemo::clear`]).
///
/// Fails with the first error of `source`.
pub fn detect_incident_spans_in(
    series: &SystemSeries,
    source: &dyn WindowSource,
    opts: &DetectOptions,
    memo: &mut SpanMemo,
) -> Result<Vec<Incident>, crate::Error> {
    if memo.opts.as_ref() != Some(opts) {
        // Judgements depend on the options too.
        memo.runaways.clear();
        memo.opts = Some(opts.clone());
    }
    memo.generation = memo.generation.wrapping_add(1);
    let out = detect_in(series, source, opts, Some(memo));
    let generation = memo.generation;
    memo.runaways.retain(|_, (g, _)| *g == generation);
    if out.is_err() {
        // A read that failed judged its candidate on no samples: nothing of this call is kept.
        memo.clear();
    }
    out
}

/// The fewest samples for which detection reads on a second thread: below, a thread costs more than it saves.
const PARALLEL_MIN_SAMPLES: usize = 2048;

/// Detection over `series`, reading windows from `source`; on two threads where the source can be
/// [shared](WindowSource::shared) between them and there are two cores: this one finds the CPU surges and
/// runaways (which depend on each other), the other one the rest, then helps name the surges' culprits
/// ([`SurgeBoard`]). The incidents and the error are those of
/// [`detect_with`] over one view: the same detectors, their incidents in the same order, and the error of the
/// first detector that failed.
fn detect_in(
    series: &SystemSeries,
    source: &dyn WindowSource,
    opts: &DetectOptions,
    spans: Option<&mut SpanMemo>,
) -> Result<Vec<Incident>, crate::Error> {
    let view = SeriesView::new(series, source);
    let shared = source
        .shared()
        .filter(|_| series.len() >= PARALLEL_MIN_SAMPLES && two_cores());
    let out = match shared {
        None => detect_with(&view, opts, spans),
        Some(shared) => {
            let names = spans.is_none();
            let breaks = breaks_of(&view, opts);
            let board = SurgeBoard::default();
            let (mut out, (rest, rest_error)) = std::thread::scope(|scope| {
                let rest = std::thread::Builder::new()
                    .name("stabmon-detect".to_owned())
                    .spawn_scoped(scope, || {
                        let view = SeriesView::new(series, shared);
                        let found = other_incidents(&view, &breaks, opts, names);
                        // Then help with the surges' culprits, if some are still to be named.
                        board.work(series, shared);
                        (found, view.into_error())
                    });
                let mut name = |windows: Vec<SurgeWindow>| {
                    board
                        .name_all(windows, series, shared)
                        .into_iter()
                        .map(|named| {
                            named.unwrap_or_else(|e| {
                                view.keep_error(e);
                                None
                            })
                        })
                        .collect()
                };
                let out = cpu_incidents(&view, &breaks, opts, spans, Some(&mut name));
                let rest = match rest {
                    Ok(handle) => handle
                        .join()
                        .unwrap_or_else(|panic| std::panic::resume_unwind(panic)),
                    // No thread to be had: this one does it all.
                    Err(_) => (other_incidents(&view, &breaks, opts, names), None),
                };
                (out, rest)
            });
            out.extend(rest);
            sort_incidents(&mut out);
            if let Some(e) = rest_error {
                view.keep_error(e);
            }
            out
        }
    };
    match view.into_error() {
        Some(e) => Err(e),
        None => Ok(out),
    }
}

/// The CPU surges' culprits, named by both threads of a detection: the one that finds the surges posts their
/// windows and names them one after another, and the other one, done with its own detectors, takes the next
/// window not yet taken. Each culprit is named over its own view, so a failed read is the error of its surge.
#[derive(Default)]
struct SurgeBoard {
    windows: OnceLock<Vec<SurgeWindow>>,
    /// The next window not yet taken.
    next: AtomicUsize,
    named: Mutex<Vec<Naming>>,
    changed: Condvar,
}

/// Where the naming of one surge's culprit is.
enum Naming {
    Pending,
    Done(Result<Option<Culprit>, crate::Error>),
    /// Its thread panicked before naming it (the panic is that thread's to report).
    Abandoned,
}

impl SurgeBoard {
    /// Names culprits of the posted windows not yet taken, until none is left (none if none are posted yet).
    fn work(&self, series: &SystemSeries, source: &(dyn WindowSource + Sync)) {
        let Some(windows) = self.windows.get() else {
            return;
        };
        loop {
            let k = self.next.fetch_add(1, Ordering::Relaxed);
            let Some(&(window, baseline)) = windows.get(k) else {
                return;
            };
            let mut guard = Abandon(self, k, true);
            let named = name_one(series, source, window, baseline);
            guard.2 = false;
            self.set(k, Naming::Done(named));
        }
    }

    fn set(&self, k: usize, naming: Naming) {
        let mut named = self.named.lock().unwrap_or_else(PoisonError::into_inner);
        named[k] = naming;
        self.changed.notify_all();
    }

    /// Posts `windows`, names their culprits with the other thread's help, and gives them in order.
    fn name_all(
        &self,
        windows: Vec<SurgeWindow>,
        series: &SystemSeries,
        source: &(dyn WindowSource + Sync),
    ) -> Vec<Result<Option<Culprit>, crate::Error>> {
        if self.windows.get().is_some() {
            // Windows are posted once per detection; any others are named here.
            return windows
                .into_iter()
                .map(|(window, baseline)| name_one(series, source, window, baseline))
                .collect();
        }
        *self.named.lock().unwrap_or_else(PoisonError::into_inner) =
            (0..windows.len()).map(|_| Naming::Pending).collect();
        self.windows.get_or_init(|| windows);
        self.work(series, source);
        let mut named = self.named.lock().unwrap_or_else(PoisonError::into_inner);
        loop {
            if let Some(k) = named.iter().position(|s| matches!(s, Naming::Abandoned)) {
                // The other thread panicked on it: name it here (its panic is reported when it is joined).
                drop(named);
                let (window, baseline) = self.windows.get().map(|w| w[k]).unwrap_or_default();
                let done = name_one(series, source, window, baseline);
                named = self.named.lock().unwrap_or_else(PoisonError::into_inner);
                named[k] = Naming::Done(done);
                continue;
            }
            if named.iter().all(|s| matches!(s, Naming::Done(_))) {
                break;
            }
            named = self
                .changed
                .wait(named)
                .unwrap_or_else(PoisonError::into_inner);
        }
        std::mem::take(&mut *named)
            .into_iter()
            .map(|s| match s {
                Naming::Done(named) => named,
                Naming::Pending | Naming::Abandoned => Ok(None),
            })
            .collect()
    }
}

/// The culprit of the CPU surge over `window` after `baseline`, or the error of its read.
fn name_one(
    series: &SystemSeries,
    source: &dyn WindowSource,
    window: (Timestamp, Timestamp),
    baseline: (Timestamp, Timestamp),
) -> Result<Option<Culprit>, crate::Error> {
    let view = SeriesView::new(series, source);
    let culprit = view.culprit(window, baseline, &IncidentKind::CpuSurge);
    match view.into_error() {
        Some(e) => Err(e),
        None => Ok(culprit),
    }
}

/// Marks window `.1` abandoned if dropped while `.2` (its naming unwinds).
struct Abandon<'b>(&'b SurgeBoard, usize, bool);

impl Drop for Abandon<'_> {
    fn drop(&mut self) {
        if self.2 {
            self.0.set(self.1, Naming::Abandoned);
        }
    }
}

/// Whether this process may run on two cores or more.
fn two_cores() -> bool {
    std::thread::available_parallelism().is_ok_and(|n| n.get() >= 2)
}

/// What [`detect_incident_spans_in`] keeps from one call to the next: the runaway candidates it judged.
#[derive(Debug, Default)]
pub struct SpanMemo {
    /// Per candidate: the call that last used it, and its judgement.
    runaways: std::collections::HashMap<super::runaway::RunKey, (u64, Option<Incident>)>,
    generation: u64,
    /// The options the judgements were made with (a call with others starts afresh).
    opts: Option<DetectOptions>,
}

impl SpanMemo {
    /// Forgets every judgement: for a caller whose samples changed under the times already judged (samples
    /// added to a window that had a hole, a source replaced).
    pub fn clear(&mut self) {
        self.runaways.clear();
    }

    /// How many judgements it holds.
    pub fn len(&self) -> usize {
        self.runaways.len()
    }

    /// Whether it holds none.
    pub fn is_empty(&self) -> bool {
        self.runaways.is_empty()
    }

    /// The judgement of `key`, made by `judge` unless held; marked as used by this call.
    pub(super) fn judge(
        &mut self,
        key: super::runaway::RunKey,
        judge: impl FnOnce() -> Option<Incident>,
    ) -> Option<Incident> {
        let generation = self.generation;
        let entry = self
            .runaways
            .entry(key)
            .or_insert_with(|| (generation, judge()));
        entry.0 = generation;
        entry.1.clone()
    }
}

/// Detection; with `spans` (see [`detect_incident_spans_in`]) without culprits, runaway judgements kept there.
fn detect_with<V: View + ?Sized>(
    samples: &V,
    opts: &DetectOptions,
    spans: Option<&mut SpanMemo>,
) -> Vec<Incident> {
    if samples.len() == 0 {
        return Vec::new();
    }
    let names = spans.is_none();
    let breaks = breaks_of(samples, opts);
    let mut out = cpu_incidents(samples, &breaks, opts, spans, None);
    out.extend(other_incidents(samples, &breaks, opts, names));
    sort_incidents(&mut out);
    out
}

/// Where the series breaks (a gap or a reboot follows the sample): no run goes on across one.
fn breaks_of<V: View + ?Sized>(samples: &V, opts: &DetectOptions) -> Vec<bool> {
    let mut breaks = vec![false; samples.len()];
    for i in gap_indices(samples, opts) {
        breaks[i] = true;
    }
    breaks
}

/// The CPU surges and the runaways (absorbed by the surges they overlap), with culprits unless `spans` is given;
/// the surges' culprits named by `name_surges` where given, else one after another from `samples`.
fn cpu_incidents<V: View + ?Sized>(
    samples: &V,
    breaks: &[bool],
    opts: &DetectOptions,
    spans: Option<&mut SpanMemo>,
    name_surges: Option<SurgeNamer<'_>>,
) -> Vec<Incident> {
    let mut out = Vec::new();
    if samples.len() == 0 {
        return out;
    }
    let names = spans.is_none();
    let mut one_by_one = |windows: Vec<SurgeWindow>| {
        windows
            .into_iter()
            .map(|(window, baseline)| samples.culprit(window, baseline, &IncidentKind::CpuSurge))
            .collect()
    };
    let namer: Option<SurgeNamer<'_>> = match name_surges {
        _ if !names => None,
        Some(namer) => Some(namer),
        None => Some(&mut one_by_one),
    };
    cpu_surges(samples, breaks, opts, namer, &mut out);
    // A runaway wholly inside a surge that names a culprit is absorbed by it without changing it, so it is not
    // judged. Without culprits, that holds of every surge: one that named none would only take the runaway's
    // name, which is not asked for.
    let named_surges: Vec<_> = out
        .iter()
        .filter(|i| i.kind == IncidentKind::CpuSurge && (i.culprit.is_some() || !names))
        .map(|i| (i.start, i.end))
        .collect();
    let mut runaways = Vec::new();
    super::runaway::runaways(samples, breaks, opts, &named_surges, spans, &mut runaways);
    absorb_runaways(&mut out, runaways);
    out
}

/// The incidents of every other detector, in this order: memory climbs, swap growth, OOM kills, pressure stalls,
/// latency spikes and outages, gaps.
fn other_incidents<V: View + ?Sized>(
    samples: &V,
    breaks: &[bool],
    opts: &DetectOptions,
    names: bool,
) -> Vec<Incident> {
    let mut out = Vec::new();
    if samples.len() == 0 {
        return out;
    }
    climbs(samples, breaks, opts, Level::Memory, names, &mut out);
    climbs(samples, breaks, opts, Level::Swap, names, &mut out);
    oom_kills(samples, opts, names, &mut out);
    pressure_stalls(samples, breaks, opts, names, &mut out);
    super::latency::latency_incidents(samples, opts, &mut out);
    for gap in gaps_of(samples, &opts.clean_stops, opts) {
        let mut inc = Incident::new(IncidentKind::Gap(gap.kind), gap.start, gap.end);
        inc.magnitude = gap.duration().as_secs_f64();
        inc.summary = format!(
            "{}, no data for {}",
            gap.kind.describe(),
            human::duration(gap.duration())
        );
        out.push(inc);
    }
    out
}

/// Sorts incidents found in detector order by start, then kind; a stable sort, so ties keep that order.
fn sort_incidents(out: &mut [Incident]) {
    out.sort_by_key(|i| (i.start, kind_order(i.kind)));
}

fn kind_order(k: IncidentKind) -> u8 {
    match k {
        IncidentKind::CpuSurge => 0,
        IncidentKind::MemoryClimb => 1,
        IncidentKind::SwapGrowth => 2,
        IncidentKind::OomKill => 3,
        IncidentKind::PressureStall => 4,
        IncidentKind::Gap(_) => 5,
        IncidentKind::LatencySpike => 6,
        IncidentKind::LatencyOutage => 7,
        IncidentKind::Runaway => 8,
    }
}

/// Adds `runaways` to `out`, where the CPU surges are: a runaway overlapping a surge is one incident, the surge
/// (over both spans, named after the runaway's culprit when the surge named none); the others are added as they
/// are.
fn absorb_runaways(out: &mut Vec<Incident>, runaways: Vec<Incident>) {
    for r in runaways {
        let surge = out
            .iter_mut()
            .find(|s| s.kind == IncidentKind::CpuSurge && s.start <= r.end && r.start <= s.end);
        match surge {
            Some(s) => {
                s.start = s.start.min(r.start);
                s.end = s.end.max(r.end);
                if s.culprit.is_none() {
                    s.culprit = r.culprit;
                }
            }
            None => out.push(r),
        }
    }
}

pub(super) fn micros(d: Duration) -> i64 {
    i64::try_from(d.as_micros()).unwrap_or(i64::MAX)
}

/// A stretch of samples (or probes) `start..=end` above a threshold, worst at `peak`.
#[derive(Debug, Clone, Copy)]
pub(super) struct Run {
    pub(super) start: usize,
    pub(super) end: usize,
    pub(super) peak: usize,
    /// The baseline when it started.
    pub(super) base: f64,
}

/// One step of the hysteresis at index `i` with value `v`: a run starts above `enter`, goes on while the value
/// stays at or above `exit` (following its peak by `value_at`), and ends, into `runs`, at the first value below.
pub(super) fn hysteresis_step(
    current: &mut Option<Run>,
    runs: &mut Vec<Run>,
    i: usize,
    v: f64,
    (enter, exit): (f64, f64),
    base: f64,
    value_at: impl Fn(usize) -> f64,
) {
    match current {
        None if v > enter => {
            *current = Some(Run {
                start: i,
                end: i,
                peak: i,
                base,
            })
        }
        Some(r) if v >= exit => {
            r.end = i;
            if v > value_at(r.peak) {
                r.peak = i;
            }
        }
        Some(r) => {
            runs.push(*r);
            *current = None;
        }
        None => {}
    }
}

/// Merges runs closer than `merge_gap` (never across a break) and drops those shorter than `min_duration`.
fn merge_and_filter<V: View + ?Sized>(
    samples: &V,
    breaks: &[bool],
    values: &dyn Fn(usize) -> f64,
    runs: Vec<Run>,
    merge_gap: Duration,
    min_duration: Duration,
) -> Vec<Run> {
    let mut merged: Vec<Run> = Vec::with_capacity(runs.len());
    for r in runs {
        if let Some(last) = merged.last_mut() {
            let close = samples
                .ts(r.start)
                .duration_since(samples.ts(last.end))
                .is_some_and(|d| d < merge_gap);
            let broken = breaks[last.end..r.start].iter().any(|b| *b);
            if close && !broken {
                last.end = r.end;
                if values(r.peak) > values(last.peak) {
                    last.peak = r.peak;
                }
                continue;
            }
        }
        merged.push(r);
    }
    merged.retain(|r| {
        let span = samples
            .ts(r.end)
            .duration_since(samples.ts(r.start))
            .unwrap_or_default();
        span + samples.interval(r.start) >= min_duration
    });
    merged
}

/// A rolling median and MAD over a trailing time window, recomputed on a coarse grid.
struct Baseline {
    window: i64,
    step: i64,
    ring: VecDeque<(i64, f32)>,
    /// The [`order_key`]s of the values a recomputation selects from.
    scratch: Vec<i32>,
    band: Vec<i32>,
    median: f64,
    sigma: f64,
    /// The last median and MAD (none before the first).
    last: Option<(f64, f64)>,
    next_update: i64,
}

/// `v` as an integer that orders as [`f32::total_cmp`] orders the values (the same transform it makes), so a
/// selection compares integers; [`from_order_key`] gives `v` back, bit for bit.
pub(super) fn order_key(v: f32) -> i32 {
    // The bits of a negative value, but its sign, are flipped: larger magnitudes order lower.
    let bits = v.to_bits().cast_signed();
    bits ^ (((bits >> 31).cast_unsigned() >> 1).cast_signed())
}

/// The value of an [`order_key`].
fn from_order_key(key: i32) -> f32 {
    // The transform keeps the sign bit, so it undoes itself.
    f32::from_bits((key ^ (((key >> 31).cast_unsigned() >> 1).cast_signed())).cast_unsigned())
}

/// The median of the values of `keys` (their [`order_key`]s) and their median absolute deviation from it, by
/// selection (the slice is reordered and overwritten); `None` for none.
pub(super) fn median_mad(keys: &mut [i32]) -> Option<(f64, f64)> {
    if keys.is_empty() {
        return None;
    }
    let mid = keys.len() / 2;
    let m = from_order_key(*keys.select_nth_unstable(mid).1);
    for k in keys.iter_mut() {
        *k = order_key((from_order_key(*k) - m).abs());
    }
    let mad = from_order_key(*keys.select_nth_unstable(mid).1);
    Some((f64::from(m), f64::from(mad)))
}

/// [`median_mad`], looked for first near `near` (the last recomputation's median and MAD, which a window moved
/// by a step seldom leaves far behind): each is selected among the keys in a band around its last value where it
/// lies there (a count of the keys below the band tells), else among all. The same values, bit for bit; `band` is
/// scratch.
pub(super) fn median_mad_near(
    keys: &mut [i32],
    near: Option<(f64, f64)>,
    band: &mut Vec<i32>,
) -> Option<(f64, f64)> {
    let Some((m0, mad0)) = near else {
        return median_mad(keys);
    };
    if keys.is_empty() {
        return None;
    }
    let mid = keys.len() / 2;
    // Both were `f32`s: back exactly. The bands' widths only make finding them quicker or slower.
    let (m0, mad0) = (m0 as f32, mad0 as f32);
    let width = 0.25 * mad0;
    let m = nth_near(
        keys,
        mid,
        (order_key(m0 - width), order_key(m0 + width)),
        band,
    )
    .unwrap_or_else(|| *keys.select_nth_unstable(mid).1);
    let m = from_order_key(m);
    for k in keys.iter_mut() {
        *k = order_key((from_order_key(*k) - m).abs());
    }
    let mad = nth_near(
        keys,
        mid,
        (order_key(0.8 * mad0), order_key(1.25 * mad0)),
        band,
    )
    .unwrap_or_else(|| *keys.select_nth_unstable(mid).1);
    Some((f64::from(m), f64::from(from_order_key(mad))))
}

/// The `n`th smallest of `keys` (from 0) where it lies in `lo..=hi`, selected among the keys there; `None` where
/// it does not (or `lo > hi`).
fn nth_near(keys: &[i32], n: usize, (lo, hi): (i32, i32), band: &mut Vec<i32>) -> Option<i32> {
    let below: usize = keys.iter().map(|&k| usize::from(k < lo)).sum();
    if below > n {
        return None;
    }
    band.clear();
    band.resize(keys.len(), 0);
    // Every key is written, the next one over it unless it is in the band: no branch on the keys.
    let mut w = 0;
    for &k in keys {
        band[w] = k;
        w += usize::from(lo <= k && k <= hi);
    }
    let at = n - below;
    if at >= w {
        return None;
    }
    Some(*band[..w].select_nth_unstable(at).1)
}

impl Baseline {
    fn new(opts: &DetectOptions) -> Self {
        Baseline {
            window: micros(opts.baseline_window).max(1),
            step: micros(opts.baseline_step).max(1),
            ring: VecDeque::new(),
            scratch: Vec::new(),
            band: Vec::new(),
            median: 0.0,
            sigma: 0.0,
            last: None,
            next_update: i64::MIN,
        }
    }

    fn push(&mut self, ts: i64, v: f32) {
        self.ring.push_back((ts, v));
    }

    /// Recomputes the baseline at sample `i` if it is due; `value` reads the series (for the forward warm-up).
    fn update<V: View + ?Sized>(&mut self, samples: &V, i: usize, value: &dyn Fn(usize) -> f32) {
        let ts = samples.ts(i).as_unix_micros();
        if ts < self.next_update {
            return;
        }
        self.next_update = ts.saturating_add(self.step);
        let cutoff = ts.saturating_sub(self.window);
        while self.ring.front().is_some_and(|(t, _)| *t < cutoff) {
            self.ring.pop_front();
        }
        let covered = self
            .ring
            .front()
            .is_some_and(|(t, _)| ts - *t >= self.window / 2);
        self.scratch.clear();
        if covered && self.ring.len() >= 5 {
            self.scratch
                .extend(self.ring.iter().map(|(_, v)| order_key(*v)));
        } else {
            // Warm-up: no trailing history yet, take the window that follows.
            let end = ts.saturating_add(self.window);
            self.scratch.extend(
                (i..samples.len())
                    .take_while(|&k| samples.ts(k).as_unix_micros() < end)
                    .map(|k| order_key(value(k))),
            );
        }
        if let Some((m, mad)) = median_mad_near(&mut self.scratch, self.last, &mut self.band) {
            self.median = m;
            self.sigma = MAD_TO_SIGMA * mad;
            self.last = Some((m, mad));
        }
    }
}

/// Appends the CPU surges to `out`, their culprits named by `names` (none without).
fn cpu_surges<V: View + ?Sized>(
    samples: &V,
    breaks: &[bool],
    opts: &DetectOptions,
    names: Option<SurgeNamer<'_>>,
    out: &mut Vec<Incident>,
) {
    let first = out.len();
    let value = |i: usize| samples.busy_pct(i);
    let mut base = Baseline::new(opts);
    let max_frozen = opts.max_frozen;
    let mut runs = Vec::new();
    let mut current: Option<Run> = None;
    // The thresholds of the last number of cores seen (it rarely changes).
    let mut thresholds: Option<(u16, (f64, f64))> = None;
    for (i, &broken) in breaks.iter().enumerate() {
        let v = value(i);
        let ts = samples.ts(i);
        let frozen = current.is_some_and(|r| {
            ts.duration_since(samples.ts(r.start))
                .is_none_or(|d| d < max_frozen)
        });
        if !frozen {
            base.update(samples, i, &value);
        }
        let med = base.median;
        let cores = samples.cores(i);
        let (min_rise, floor) = match thresholds {
            Some((c, t)) if c == cores => t,
            _ => {
                let t = cpu_thresholds(opts, cores);
                thresholds = Some((cores, t));
                t
            }
        };
        let enter = (med + opts.mad_k * base.sigma)
            .max(med + min_rise)
            .max(floor);
        let exit = med + opts.exit_ratio * (enter - med);
        hysteresis_step(
            &mut current,
            &mut runs,
            i,
            f64::from(v),
            (enter, exit),
            med,
            |k| f64::from(value(k)),
        );
        if current.is_none() || !frozen {
            base.push(ts.as_unix_micros(), v);
        }
        if broken && let Some(r) = current.take() {
            runs.push(r);
        }
    }
    runs.extend(current);
    let v64 = |i: usize| f64::from(value(i));
    for r in merge_and_filter(
        samples,
        breaks,
        &v64,
        runs,
        opts.merge_gap,
        opts.cpu_min_duration,
    ) {
        let (start, end, peak) = (samples.ts(r.start), samples.ts(r.end), samples.ts(r.peak));
        let mut inc = Incident::new(IncidentKind::CpuSurge, start, end);
        inc.peak = peak;
        inc.magnitude = v64(r.peak);
        inc.summary = format!(
            "CPU {} (baseline {})",
            human::pct(inc.magnitude),
            human::pct(r.base)
        );
        out.push(inc);
    }
    if let Some(name) = names {
        let windows: Vec<SurgeWindow> = out[first..]
            .iter()
            .map(|inc| {
                let baseline = (inc.start.saturating_sub(opts.baseline_window), inc.start);
                ((inc.start, inc.end), baseline)
            })
            .collect();
        for (inc, culprit) in out[first..].iter_mut().zip(name(windows)) {
            inc.culprit = culprit;
        }
    }
}

/// A CPU surge's window and the baseline before it, for its culprit.
pub(super) type SurgeWindow = ((Timestamp, Timestamp), (Timestamp, Timestamp));

/// Names the culprits of CPU surges, given their windows; one culprit (or none) per window, in their order.
type SurgeNamer<'n> = &'n mut dyn FnMut(Vec<SurgeWindow>) -> Vec<Option<Culprit>>;

/// A CPU surge's minimum rise and floor on a machine of `cores` cores (0: unknown), in % of the machine: the
/// options' shares, or their cores' worth where that is less.
pub(super) fn cpu_thresholds(opts: &DetectOptions, cores: u16) -> (f64, f64) {
    if cores == 0 {
        return (opts.cpu_min_rise_pct, opts.cpu_floor_pct);
    }
    let share = |n: f64| 100.0 * n / f64::from(cores);
    (
        opts.cpu_min_rise_pct.min(share(opts.cpu_min_rise_cores)),
        opts.cpu_floor_pct.min(share(opts.cpu_floor_cores)),
    )
}

#[derive(Debug, Clone, Copy, PartialEq)]
enum Level {
    Memory,
    Swap,
}

fn climbs<V: View + ?Sized>(
    samples: &V,
    breaks: &[bool],
    opts: &DetectOptions,
    level: Level,
    names: bool,
    out: &mut Vec<Incident>,
) {
    let raw = |i: usize| match level {
        Level::Memory => samples.mem_used(i),
        Level::Swap => samples.swap_used(i),
    };
    let envelope = upper_envelope(samples, breaks, opts.climb_smoothing, raw);
    let value = |i: usize| envelope.get(i);
    let min_rise = |i: usize| {
        match level {
            Level::Memory => {
                let share = opts.memory_min_rise_fraction * samples.mem_total(i) as f64;
                (share as u64).max(opts.memory_min_rise_bytes)
            }
            Level::Swap => opts.swap_min_rise_bytes,
        }
        .max(1)
    };
    let idle = opts.climb_idle;
    let mut found: Vec<(usize, usize)> = Vec::new();
    let (mut lo, mut hi) = (0usize, 0usize);
    // The level at `lo` and at `hi`, and what `lo` needs (`min_rise(lo)`), kept as they change.
    let (mut v_lo, mut v_hi) = (value(0), value(0));
    let mut need = min_rise(0);
    // The last time the level made progress: rose by an eighth of the minimum rise above the previous mark.
    let (mut mark, mut mark_ts) = (value(0), samples.ts(0));
    // The level in order, a block at a time.
    let mut levels = envelope.iter();
    for (i, &broken) in breaks.iter().enumerate() {
        let Some(v) = levels.next() else {
            break;
        };
        let ts = samples.ts(i);
        let tolerance = (opts.climb_pullback_ratio * need as f64) as u64;
        if v > v_hi {
            (hi, v_hi) = (i, v);
        }
        if v > mark.saturating_add(need / 8) {
            (mark, mark_ts) = (v, ts);
        }
        let pulled_back = v_hi.saturating_sub(v) > tolerance || v < v_lo;
        let stalled = ts.duration_since(mark_ts).is_some_and(|d| d > idle);
        let last = broken || i + 1 == samples.len();
        if pulled_back || stalled || last {
            if v_hi.saturating_sub(v_lo) >= need {
                found.push((lo, hi));
            }
            let next = if pulled_back || stalled { i } else { i + 1 };
            (lo, hi) = (next, next);
            if next < samples.len() {
                let at = if next == i { v } else { value(next) };
                (v_lo, v_hi, need) = (at, at, min_rise(next));
                (mark, mark_ts) = (at, samples.ts(next));
            }
        }
    }
    let kind = match level {
        Level::Memory => IncidentKind::MemoryClimb,
        Level::Swap => IncidentKind::SwapGrowth,
    };
    for (lo, hi) in found {
        // Start where the level left its low point: the last sample within an eighth of the minimum rise of it.
        let band = min_rise(lo) / 8;
        let floor = value(lo).saturating_add(band);
        let start = (lo..=hi).rev().find(|&j| value(j) <= floor).unwrap_or(lo);
        // And end where it reached its plateau: the first sample within that band of the peak.
        let top = value(hi).saturating_sub(band);
        let end = (start..=hi).find(|&j| value(j) >= top).unwrap_or(hi);
        let (from, to) = (value(lo), value(hi));
        let rise = to.saturating_sub(from);
        let mut inc = Incident::new(kind, samples.ts(start), samples.ts(end));
        inc.peak = samples.ts(end);
        inc.magnitude = rise as f64;
        let what = match level {
            Level::Memory => "memory",
            Level::Swap => "swap",
        };
        inc.summary = format!(
            "{what} +{} ({} → {} used)",
            human::bytes(rise),
            human::bytes(from),
            human::bytes(to)
        );
        let baseline = (inc.start.saturating_sub(opts.baseline_window), inc.start);
        // A culprit must explain a fair share of the rise, else nobody in the top lists did it (memory that is not
        // any listed process's, or swap filled by processes being swapped out).
        if names {
            inc.culprit = samples
                .culprit((inc.start, inc.end), baseline, &kind)
                .filter(|c| {
                    c.rss_growth_bytes
                        .is_some_and(|g| g as f64 >= CULPRIT_SHARE * rise as f64)
                });
        }
        out.push(inc);
    }
}

/// The running maximum of `raw` over the trailing `window` (restarting after each break), in one pass with a
/// monotonic queue: it follows rises at once and ignores dips shorter than the window (a garbage collector's
/// sawtooth on a leaking heap).
fn upper_envelope<V: View + ?Sized>(
    samples: &V,
    breaks: &[bool],
    window: Duration,
    raw: impl Fn(usize) -> u64,
) -> Packed<u64> {
    let window = micros(window);
    // Packed: a month's envelope is mostly runs of one peak (2.6 MB, not 21).
    let mut out = Packed::default();
    let mut queue: VecDeque<(i64, u64)> = VecDeque::new();
    for (i, &broken) in breaks.iter().enumerate() {
        let ts = samples.ts(i).as_unix_micros();
        let v = raw(i);
        while queue.back().is_some_and(|(_, b)| *b <= v) {
            queue.pop_back();
        }
        queue.push_back((ts, v));
        while queue
            .front()
            .is_some_and(|(t, _)| *t < ts.saturating_sub(window))
        {
            queue.pop_front();
        }
        out.push(queue.front().map_or(v, |(_, m)| *m));
        if broken {
            queue.clear();
        }
    }
    out
}

fn oom_kills<V: View + ?Sized>(
    samples: &V,
    opts: &DetectOptions,
    names: bool,
    out: &mut Vec<Incident>,
) {
    for i in 1..samples.len() {
        let (Some(before), Some(after)) =
            (samples.oom_kill_count(i - 1), samples.oom_kill_count(i))
        else {
            continue;
        };
        if after <= before || rebooted(samples, i - 1, i, opts.boot_time_tolerance) {
            continue;
        }
        let (a_ts, b_ts) = (samples.ts(i - 1), samples.ts(i));
        let kills = after - before;
        let mut inc = Incident::new(IncidentKind::OomKill, a_ts, b_ts);
        inc.peak = b_ts;
        inc.magnitude = kills as f64;
        inc.summary = if kills == 1 {
            "OOM kill".to_owned()
        } else {
            format!("{kills} OOM kills")
        };
        if names {
            inc.culprit = samples.culprit((a_ts, b_ts), (a_ts, a_ts), &inc.kind);
        }
        out.push(inc);
    }
}

fn pressure_stalls<V: View + ?Sized>(
    samples: &V,
    breaks: &[bool],
    opts: &DetectOptions,
    names: bool,
    out: &mut Vec<Incident>,
) {
    let figure = |pick: fn(Pressure) -> Option<f32>, column: usize| PressureFigure { pick, column };
    // Columns as in `SystemSeries::pressure_pct`.
    let resources: [(&str, &str, PressureFigure, f64); 3] = [
        (
            "memory",
            "full",
            figure(|p| p.memory_full_pct, 2),
            opts.pressure_full_floor_pct,
        ),
        (
            "io",
            "full",
            figure(|p| p.io_full_pct, 4),
            opts.pressure_full_floor_pct,
        ),
        (
            "cpu",
            "some",
            figure(|p| p.cpu_some_pct, 0),
            opts.pressure_cpu_some_floor_pct,
        ),
    ];
    for (resource, which, figure, floor) in resources {
        let value = |i: usize| samples.pressure_pct(i, figure);
        let exit = floor * opts.exit_ratio;
        let mut runs = Vec::new();
        let mut current: Option<Run> = None;
        for (i, &broken) in breaks.iter().enumerate() {
            let v = value(i);
            match &mut current {
                None if v >= floor && floor > 0.0 => {
                    current = Some(Run {
                        start: i,
                        end: i,
                        peak: i,
                        base: 0.0,
                    })
                }
                Some(r) if v >= exit => {
                    r.end = i;
                    if v > value(r.peak) {
                        r.peak = i;
                    }
                }
                Some(r) => {
                    runs.push(*r);
                    current = None;
                }
                None => {}
            }
            if broken && let Some(r) = current.take() {
                runs.push(r);
            }
        }
        runs.extend(current);
        for r in merge_and_filter(
            samples,
            breaks,
            &value,
            runs,
            opts.merge_gap,
            opts.pressure_min_duration,
        ) {
            let (start, end) = (samples.ts(r.start), samples.ts(r.end));
            let mut inc = Incident::new(IncidentKind::PressureStall, start, end);
            inc.peak = samples.ts(r.peak);
            inc.magnitude = value(r.peak);
            inc.summary = format!("{resource} pressure: {which} {}", human::pct(inc.magnitude));
            inc.culprit = match resource {
                _ if !names => None,
                "io" => None,
                "memory" => {
                    samples.culprit((start, end), (start, start), &IncidentKind::MemoryClimb)
                }
                _ => {
                    let baseline = (start.saturating_sub(opts.baseline_window), start);
                    samples.culprit((start, end), baseline, &IncidentKind::CpuSurge)
                }
            };
            out.push(inc);
        }
    }
}
