//! What detection reads of a series: samples in memory, or a [`SystemSeries`] with a [`WindowSource`] for the
//! windows where a culprit is named.

use std::borrow::Cow;
use std::cell::RefCell;
use std::collections::BTreeMap;
use std::time::Duration;

use super::culprit::has_culprit;
use super::{Culprit, IncidentKind, culprit_for};
use crate::latency::ProbePoint;
use crate::sample::{Pressure, Sample};
use crate::series::{BusiestColumns, ProbeList, SampleParts, SystemSeries, WindowSource};
use crate::time::Timestamp;

/// One figure of a [`Pressure`]: its field, and its column in [`SystemSeries::pressure_pct`].
#[derive(Clone, Copy)]
pub(crate) struct PressureFigure {
    pub(crate) pick: fn(Pressure) -> Option<f32>,
    pub(crate) column: usize,
}

/// Row access to a host's samples, sorted by time.
pub(crate) trait View {
    fn len(&self) -> usize;
    fn ts(&self, i: usize) -> Timestamp;
    fn interval(&self, i: usize) -> Duration;
    fn busy_pct(&self, i: usize) -> f32;
    fn mem_used(&self, i: usize) -> u64;
    fn mem_total(&self, i: usize) -> u64;
    fn swap_used(&self, i: usize) -> u64;
    fn pressure(&self, i: usize) -> Option<Pressure>;
    /// One figure of sample `i`'s [`pressure`](Self::pressure), 0 where it was not measured.
    fn pressure_pct(&self, i: usize, figure: PressureFigure) -> f64 {
        self.pressure(i)
            .and_then(figure.pick)
            .map_or(0.0, f64::from)
    }
    fn oom_kill_count(&self, i: usize) -> Option<u64>;
    fn boot_id(&self, i: usize) -> Option<&str>;
    fn boot_time(&self, i: usize) -> Timestamp;
    /// The number of cores of sample `i` (0: unknown).
    fn cores(&self, i: usize) -> u16;
    /// The latency probes per target, each list in start order (ties in the samples' order).
    fn probes(&self) -> Cow<'_, BTreeMap<String, ProbeList>>;
    /// Who was busiest at each sample.
    fn busiest(&self) -> Cow<'_, BusiestColumns>;
    /// Where the read skipped data it could not read: see [`SystemSeries::unreadable`].
    fn unreadable(&self) -> &[(Timestamp, Timestamp)] {
        &[]
    }
    /// The samples with `from <= ts <= to`, holding at least what attribution reads ([`ATTRIBUTION`]; empty
    /// after a read error, which is kept).
    fn window(&self, from: Timestamp, to: Timestamp) -> Cow<'_, [Sample]>;
    /// [`culprit_for`] over these samples.
    fn culprit(
        &self,
        window: (Timestamp, Timestamp),
        baseline: (Timestamp, Timestamp),
        kind: &IncidentKind,
    ) -> Option<Culprit>;
}

impl View for [Sample] {
    fn len(&self) -> usize {
        <[Sample]>::len(self)
    }
    fn ts(&self, i: usize) -> Timestamp {
        self[i].ts
    }
    fn interval(&self, i: usize) -> Duration {
        self[i].interval
    }
    fn busy_pct(&self, i: usize) -> f32 {
        self[i].cpu.busy_pct
    }
    fn mem_used(&self, i: usize) -> u64 {
        self[i].memory.used_bytes
    }
    fn mem_total(&self, i: usize) -> u64 {
        self[i].memory.total_bytes
    }
    fn swap_used(&self, i: usize) -> u64 {
        self[i].memory.swap_used_bytes
    }
    fn pressure(&self, i: usize) -> Option<Pressure> {
        self[i].pressure
    }
    fn oom_kill_count(&self, i: usize) -> Option<u64> {
        self[i].oom_kill_count
    }
    fn boot_id(&self, i: usize) -> Option<&str> {
        self[i].boot_id.as_deref()
    }
    fn boot_time(&self, i: usize) -> Timestamp {
        self[i].boot_time
    }
    fn cores(&self, i: usize) -> u16 {
        u16::try_from(self[i].per_core.len()).unwrap_or(u16::MAX)
    }
    fn busiest(&self) -> Cow<'_, BusiestColumns> {
        let mut out = BusiestColumns::default();
        for s in self {
            out.push_sample(s);
        }
        Cow::Owned(out)
    }
    fn window(&self, from: Timestamp, to: Timestamp) -> Cow<'_, [Sample]> {
        Cow::Borrowed(super::slice_incl(self, from, to))
    }
    fn probes(&self) -> Cow<'_, BTreeMap<String, ProbeList>> {
        let mut lists: BTreeMap<String, Vec<ProbePoint>> = BTreeMap::new();
        for p in self.iter().flat_map(|s| &s.latency) {
            lists
                .entry(p.target.clone())
                .or_default()
                .push(ProbePoint::of(p));
        }
        Cow::Owned(
            lists
                .into_iter()
                .map(|(target, mut list)| {
                    list.sort_by_key(|p| p.ts);
                    (target, list.into_iter().collect())
                })
                .collect(),
        )
    }
    fn culprit(
        &self,
        window: (Timestamp, Timestamp),
        baseline: (Timestamp, Timestamp),
        kind: &IncidentKind,
    ) -> Option<Culprit> {
        culprit_for(self, window, baseline, kind)
    }
}

/// A [`SystemSeries`] whose culprits come from the samples read for each window, only the parts attribution reads;
/// the first read error is kept. One view per thread: detection on two threads gives each its own.
pub(crate) struct SeriesView<'a> {
    series: &'a SystemSeries,
    source: &'a dyn WindowSource,
    error: RefCell<Option<crate::Error>>,
}

impl<'a> SeriesView<'a> {
    pub(crate) fn new(series: &'a SystemSeries, source: &'a dyn WindowSource) -> Self {
        SeriesView {
            series,
            source,
            error: RefCell::new(None),
        }
    }

    /// Keeps `e` unless an error is already kept.
    pub(crate) fn keep_error(&self, e: crate::Error) {
        self.error.borrow_mut().get_or_insert(e);
    }

    /// The first read error.
    pub(crate) fn into_error(self) -> Option<crate::Error> {
        self.error.into_inner()
    }
}

impl View for SeriesView<'_> {
    fn len(&self) -> usize {
        self.series.len()
    }
    fn ts(&self, i: usize) -> Timestamp {
        self.series.ts[i]
    }
    fn interval(&self, i: usize) -> Duration {
        self.series.interval(i)
    }
    fn busy_pct(&self, i: usize) -> f32 {
        self.series.cpu_busy_pct[i]
    }
    fn mem_used(&self, i: usize) -> u64 {
        self.series.mem_used_bytes.get(i)
    }
    fn mem_total(&self, i: usize) -> u64 {
        self.series.mem_total_bytes[i]
    }
    fn swap_used(&self, i: usize) -> u64 {
        self.series.swap_used_bytes.get(i)
    }
    fn pressure(&self, i: usize) -> Option<Pressure> {
        self.series.pressure(i)
    }
    /// The figure's column alone, not the five of a [`Pressure`].
    fn pressure_pct(&self, i: usize, figure: PressureFigure) -> f64 {
        if !self.series.pressure_present[i] {
            return 0.0;
        }
        let v = self.series.pressure_pct[figure.column].get(i);
        if v.is_nan() { 0.0 } else { f64::from(v) }
    }
    fn oom_kill_count(&self, i: usize) -> Option<u64> {
        self.series.oom_kill_count[i]
    }
    fn boot_id(&self, i: usize) -> Option<&str> {
        self.series.boot_id(i)
    }
    fn boot_time(&self, i: usize) -> Timestamp {
        self.series.boot_time[i]
    }
    fn cores(&self, i: usize) -> u16 {
        self.series.cores[i]
    }
    fn probes(&self) -> Cow<'_, BTreeMap<String, ProbeList>> {
        Cow::Borrowed(&self.series.latency)
    }
    fn busiest(&self) -> Cow<'_, BusiestColumns> {
        Cow::Borrowed(&self.series.busiest)
    }
    fn unreadable(&self) -> &[(Timestamp, Timestamp)] {
        &self.series.unreadable
    }
    fn window(&self, from: Timestamp, to: Timestamp) -> Cow<'_, [Sample]> {
        match self.source.samples_between_parts(from, to, ATTRIBUTION) {
            Ok(samples) => Cow::Owned(samples),
            Err(e) => {
                self.keep_error(e);
                Cow::Owned(Vec::new())
            }
        }
    }
    fn culprit(
        &self,
        window: (Timestamp, Timestamp),
        baseline: (Timestamp, Timestamp),
        kind: &IncidentKind,
    ) -> Option<Culprit> {
        if !has_culprit(kind) {
            return None;
        }
        // What `culprit_for` can look at: the baseline (a memory climb's culprit is named from the climb alone),
        // the window, the sample at or before the window's start and the two after its end (an OOM victim is the
        // process missing from the next samples).
        let ts = &self.series.ts;
        let first = match kind {
            IncidentKind::MemoryClimb | IncidentKind::SwapGrowth => window.0,
            _ => window.0.min(baseline.0),
        };
        let lo = ts.partition_point(|t| *t < first);
        let at_start = ts.partition_point(|t| *t <= window.0).saturating_sub(1);
        let lo = lo.min(at_start);
        let hi = (ts.partition_point(|t| *t <= window.1) + 2).min(ts.len());
        if lo >= hi {
            return None;
        }
        // The samples before that at the window's start are the baseline's, of which only the figures count: read
        // without the command lines and cgroups that name a culprit, since a baseline is typically ten times as
        // long as a CPU surge.
        let split = at_start.min(hi - 1);
        let read = || -> Result<Vec<Sample>, crate::Error> {
            if split > lo && ts[split - 1] < ts[split] {
                let mut samples =
                    self.source
                        .samples_between_parts(ts[lo], ts[split - 1], BASELINE)?;
                samples.extend(self.source.samples_between_parts(
                    ts[split],
                    ts[hi - 1],
                    ATTRIBUTION,
                )?);
                Ok(samples)
            } else {
                self.source
                    .samples_between_parts(ts[lo], ts[hi - 1], ATTRIBUTION)
            }
        };
        match read() {
            Ok(samples) => culprit_for(&samples, window, baseline, kind),
            Err(e) => {
                self.keep_error(e);
                None
            }
        }
    }
}

/// What attribution ([`culprit_for`] and the runaway check) reads of a sample: its figures, its top lists (with
/// command lines and cgroups, which name the culprit), the exits' name totals and the OOM kills. The rest (each
/// core, users, each exited process, latency probes) is not read, so a window costs the decoding and the memory
/// of what attribution looks at.
pub(crate) const ATTRIBUTION: SampleParts = SampleParts::ALL.without(
    SampleParts::PER_CORE
        .union(SampleParts::USER)
        .union(SampleParts::EXITED_PROCESSES)
        .union(SampleParts::LATENCY),
);

/// [`ATTRIBUTION`] for the samples of a baseline, before the window: attribution compares their figures and
/// names, and takes command lines and cgroups from the window's samples only.
pub(crate) const BASELINE: SampleParts =
    ATTRIBUTION.without(SampleParts::CMDLINE.union(SampleParts::CGROUP));
