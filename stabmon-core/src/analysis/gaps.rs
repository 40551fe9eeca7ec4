//! Gaps in a recording and why they happened.

use std::time::Duration;

use super::view::View;
use super::{DetectOptions, Gap, GapKind};
use crate::sample::Sample;
use crate::time::Timestamp;

/// How many steps on each side give the local recording interval.
const LOCAL_STEPS: usize = 16;

/// Finds the holes in a recording and classifies them.
///
/// `samples` are sorted by time. The step from one sample to the next is a gap when it is longer than
/// `opts.gap_factor` times the recording interval *and* longer than `opts.min_gap`
/// ([`DetectOptions::gap_factor`], [`DetectOptions::min_gap`]). The recording interval is the median step between
/// samples, over the whole series and, for a step that looks long, over the 16 steps on each side of it (so a series
/// recorded partly at 1 s and partly at 10 s has no false gaps). The measured [`Sample::interval`] is not used: a
/// recorder frozen for 30 s measures a 30 s interval, and that is a gap. A change of boot is always a gap, however
/// short.
///
/// Each gap is classified ([`GapKind`]): **rebooted** when the two samples' boot ids differ (or, when either has
/// none, their boot times differ by more than [`DetectOptions::boot_time_tolerance`]); otherwise **stopped
/// cleanly** when a clean-stop marker from `clean_stops` lies in `[start, end)` (after the last sample before the
/// gap, before the first after it); otherwise **unreadable** when data the read of a series skipped because it
/// could not read it overlaps the gap ([`SystemSeries::unreadable`](crate::series::SystemSeries::unreadable):
/// samples given whole have none); otherwise **died**. `clean_stops` need not be sorted; `opts.clean_stops` is not
/// used here (pass it explicitly: [`detect_incidents`](super::detect_incidents) does).
///
/// ```
/// use std::time::Duration;
/// use stabmon_core::{Sample, Timestamp};
/// use stabmon_core::analysis::{DetectOptions, GapKind, find_gaps};
///
/// let t = |s: i64| Timestamp::from_unix_secs(1_795_575_600 + s);
/// let samples: Vec<Sample> = [0, 1, 2, 3, 60, 61, 62]
///     .into_iter()
///     .map(|s| {
///         let mut x = Sample::new(t(s), "nas");
///         x.boot_id = Some("b1".into());
///         x
///     })
///     .collect();
/// let gaps = find_gaps(&samples, &[], &DetectOptions::default());
/// assert_eq!(gaps.len(), 1);
/// assert_eq!((gaps[0].start, gaps[0].end, gaps[0].kind), (t(3), t(60), GapKind::Died));
/// let gaps = find_gaps(&samples, &[t(4)], &DetectOptions::default());
/// assert_eq!(gaps[0].kind, GapKind::StoppedCleanly);
/// ```
pub fn find_gaps(samples: &[Sample], clean_stops: &[Timestamp], opts: &DetectOptions) -> Vec<Gap> {
    gaps_of(samples, clean_stops, opts)
}

pub(crate) fn gaps_of<V: View + ?Sized>(
    samples: &V,
    clean_stops: &[Timestamp],
    opts: &DetectOptions,
) -> Vec<Gap> {
    let mut stops = clean_stops.to_vec();
    stops.sort_unstable();
    let unreadable = samples.unreadable();
    gap_indices(samples, opts)
        .into_iter()
        .filter_map(|i| {
            if i + 1 >= samples.len() {
                return None;
            }
            let (a_ts, b_ts) = (samples.ts(i), samples.ts(i + 1));
            let at = stops.partition_point(|t| *t < a_ts);
            let clean_stop = stops.get(at).copied().filter(|t| *t < b_ts);
            let kind = if rebooted(samples, i, i + 1, opts.boot_time_tolerance) {
                GapKind::Rebooted
            } else if clean_stop.is_some() {
                GapKind::StoppedCleanly
            } else if unreadable.iter().any(|(s, e)| *s < b_ts && *e > a_ts) {
                GapKind::Unreadable
            } else {
                GapKind::Died
            };
            Some(Gap {
                start: a_ts,
                end: b_ts,
                kind,
                clean_stop,
            })
        })
        .collect()
}

/// Whether the machine rebooted between `a` and `b`.
pub(crate) fn rebooted<V: View + ?Sized>(v: &V, a: usize, b: usize, tolerance: Duration) -> bool {
    match (v.boot_id(a), v.boot_id(b)) {
        // A series keeps each boot id once: the same text is the same boot without comparing it.
        (Some(x), Some(y)) => !std::ptr::eq(x, y) && x != y,
        _ => {
            let diff = v
                .boot_time(a)
                .as_unix_micros()
                .abs_diff(v.boot_time(b).as_unix_micros());
            u128::from(diff) > tolerance.as_micros()
        }
    }
}

fn median(v: &mut [i64]) -> Option<i64> {
    if v.is_empty() {
        return None;
    }
    let mid = v.len() / 2;
    let (_, m, _) = v.select_nth_unstable(mid);
    Some(*m)
}

/// The median of `values` (of an even count the upper middle one, as a sort would give it; `None` without any),
/// exact, in little memory where values repeat: the steps between samples, which a recorder ticking at a steady
/// interval repeats, are counted by distinct value instead of copied (a month has millions). Only thousands of
/// distinct values are copied and selected in.
///
/// ```
/// use stabmon_core::analysis::median_i64;
///
/// assert_eq!(median_i64([3, 1, 2, 2].into_iter()), Some(2));
/// assert_eq!(median_i64(std::iter::empty()), None);
/// ```
pub fn median_i64(values: impl Iterator<Item = i64> + Clone) -> Option<i64> {
    const DISTINCT: usize = 4096;
    let mut counts: std::collections::HashMap<i64, usize> = std::collections::HashMap::new();
    let mut n = 0usize;
    // Runs of one value are counted before they are looked up: most steps equal the one before.
    let mut run: Option<(i64, usize)> = None;
    for v in values.clone().map(Some).chain([None]) {
        n += usize::from(v.is_some());
        match (&mut run, v) {
            (Some((r, c)), Some(v)) if *r == v => *c += 1,
            (_, v) => {
                if let Some((r, c)) = run {
                    *counts.entry(r).or_default() += c;
                }
                run = v.map(|v| (v, 1));
            }
        }
        if counts.len() > DISTINCT {
            let mut all: Vec<i64> = values.collect();
            return median(&mut all);
        }
    }
    let mut sorted: Vec<(i64, usize)> = counts.into_iter().collect();
    sorted.sort_unstable();
    let mut below = 0;
    for (v, c) in sorted {
        below += c;
        if below > n / 2 {
            return Some(v);
        }
    }
    None
}

/// The indices `i` such that the step from sample `i` to `i + 1` is a gap (see [`find_gaps`]).
pub(crate) fn gap_indices<V: View + ?Sized>(samples: &V, opts: &DetectOptions) -> Vec<usize> {
    if samples.len() < 2 {
        return Vec::new();
    }
    // Step `i`: from sample `i` to `i + 1`.
    let step = |i: usize| {
        samples
            .ts(i + 1)
            .as_unix_micros()
            .saturating_sub(samples.ts(i).as_unix_micros())
    };
    let n_steps = samples.len() - 1;
    let global = median_i64((0..n_steps).map(step).filter(|s| *s > 0)).unwrap_or(0);
    let min_gap = i64::try_from(opts.min_gap.as_micros()).unwrap_or(i64::MAX);
    let long = |step: i64, interval: i64| {
        step > min_gap && (step as f64) > opts.gap_factor * interval as f64
    };
    let mut out = Vec::new();
    let mut scratch: Vec<i64> = Vec::new();
    for i in 0..n_steps {
        let is_gap = if rebooted(samples, i, i + 1, opts.boot_time_tolerance) {
            true
        } else if long(step(i), global) {
            // Confirm against the local interval, leaving this step out.
            scratch.clear();
            let lo = i.saturating_sub(LOCAL_STEPS);
            let hi = (i + 1 + LOCAL_STEPS).min(n_steps);
            scratch.extend((lo..i).chain(i + 1..hi).map(step).filter(|s| *s > 0));
            long(step(i), median(&mut scratch).unwrap_or(global))
        } else {
            false
        };
        if is_gap {
            out.push(i);
        }
    }
    out
}
