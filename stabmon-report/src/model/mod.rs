//! From a range's columns and incidents to what the page draws: reduced series per chart, placed spike labels, gap
//! bands, hover moments. Deterministic; whole samples are read only through the [`WindowSource`], for the instants
//! and windows the page shows. [`crate::svg`] and [`crate::page`] only format this.

use std::borrow::Cow;
use std::collections::{BTreeMap, HashMap};

use stabmon_core::latency::{jitter_ms, median_rtt_ms};
use stabmon_core::series::{ProbeList, SampleParts, SystemSeries, WindowSource};
use stabmon_core::{ProcessEntry, Sample, Timestamp};

use crate::escape::truncate_chars;
use crate::timefmt::Offsets;
use crate::{Chart, Error};
use stabmon_core::analysis::{GapKind, Incident, IncidentKind, downsample_minmax_iter, median_i64};

mod charts;
mod gaps;
mod labels;
mod latency;
mod lines;
mod moments;
pub use moments::PageMoments;
mod reduce;

pub(crate) use labels::{kind_class, text_width};

/// Bytes in a gigabyte: memory is charted in decimal units, as [`stabmon_core::human::bytes`] writes sizes.
const GB: f64 = 1e9;
/// Samples kept at full resolution on each side of an incident's peak, so zooming into a spike shows it sample by
/// sample and hovering it shows that moment's processes.
const DENSE_SAMPLES: usize = 45;
/// At most this many such samples in all: a month with a hundred incidents keeps fewer on each side (each with its
/// processes, they are most of a long report's size), and never fewer than [`DENSE_MIN`].
const DENSE_BUDGET: usize = 6_000;
/// The fewest samples kept on each side of a peak.
const DENSE_MIN: usize = 10;
/// Height of one row of spike labels above a chart.
pub(crate) const LABEL_ROW_PX: f64 = 17.0;
/// Labels longer than this are cut (the full text is in the label's tooltip and the incident table).
const LABEL_MAX_CHARS: usize = 56;
/// Room below the plot for the time axis (two lines of text).
pub(crate) const AXIS_PX: f64 = 36.0;
/// Left margin for the value axis.
pub(crate) const MARGIN_LEFT: f64 = 62.0;
/// Right margin.
pub(crate) const MARGIN_RIGHT: f64 = 18.0;

/// Maps UTC microseconds to x pixels.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) struct Frame {
    pub(crate) from_us: i64,
    pub(crate) to_us: i64,
    pub(crate) left: f64,
    pub(crate) width: f64,
}

impl Frame {
    /// The frame of the range `from_us..to_us` drawn `width_px` wide, and its number of pixel columns.
    fn of(from_us: i64, to_us: i64, width_px: u32) -> (Frame, usize) {
        let frame = Frame {
            from_us,
            to_us: to_us.max(from_us + 1),
            left: MARGIN_LEFT,
            width: (f64::from(width_px) - MARGIN_LEFT - MARGIN_RIGHT).max(100.0),
        };
        let columns = frame.width.round().max(1.0) as usize;
        (frame, columns)
    }

    pub(crate) fn x(&self, us: i64) -> f64 {
        let span = (self.to_us - self.from_us).max(1) as f64;
        self.left + (us - self.from_us) as f64 / span * self.width
    }
}

/// How a series' values are shown in the legend and tooltips.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Unit {
    Pct,
    /// Gigabytes (10^9 bytes).
    Gb,
    Load,
    /// Milliseconds on a log scale: values are `log10(ms / floor)`.
    LogMs,
}

/// One drawn line.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Series {
    pub(crate) name: String,
    /// CSS class giving the colour (`s-busy`, `s-p0`, ...).
    pub(crate) class: &'static str,
    /// Filled down to zero.
    pub(crate) area: bool,
    /// Points to draw: (µs, value), with `true` where the line breaks before the point. Each pixel column keeps
    /// its first, lowest, highest and last sample, so the script can zoom in a few times before lines coarsen.
    pub(crate) points: Vec<(i64, f64, bool)>,
    /// Scale to integers in the page's JSON.
    pub(crate) json_scale: f64,
}

/// A spike label placed above a chart.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Label {
    /// Index into [`Model::incidents`].
    pub(crate) incident: usize,
    /// The shown text (cut to a readable length).
    pub(crate) text: String,
    /// The full label.
    pub(crate) full: String,
    pub(crate) peak_x: f64,
    /// The marker's y in the plot, in pixels from the plot top; `None` for gaps (no marker).
    pub(crate) marker_y: Option<f64>,
    /// 0 is the row nearest the plot.
    pub(crate) row: usize,
    pub(crate) left: f64,
    pub(crate) width: f64,
    pub(crate) class: &'static str,
}

/// One chart, laid out.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct ChartModel {
    pub(crate) kind: Chart,
    pub(crate) id: &'static str,
    pub(crate) title: &'static str,
    pub(crate) unit: Unit,
    pub(crate) y_max: f64,
    pub(crate) y_ticks: Vec<(f64, String)>,
    pub(crate) series: Vec<Series>,
    pub(crate) labels: Vec<Label>,
    pub(crate) label_rows: usize,
    /// Top of the plot area in the SVG (below the label rows).
    pub(crate) plot_top: f64,
    pub(crate) plot_h: f64,
    pub(crate) svg_h: f64,
    /// Height of the failure band at the bottom of the plot (latency: one lane per target), below the values.
    pub(crate) band_h: f64,
    /// For [`Unit::LogMs`]: the round trip at the bottom of the scale.
    pub(crate) log_floor_ms: f64,
    /// Latency targets: failures and figures per target, in the order of the series.
    pub(crate) lanes: Vec<Lane>,
}

/// One latency target's failures and figures over the range.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Lane {
    pub(crate) name: String,
    pub(crate) class: &'static str,
    /// Start times of the failed probes (µs), at most a few per pixel column (the count is in `failed`).
    pub(crate) fail_us: Vec<i64>,
    pub(crate) probes: u64,
    pub(crate) failed: u64,
    pub(crate) loss: f64,
    pub(crate) jitter_ms: Option<f64>,
    pub(crate) median_ms: Option<f64>,
    pub(crate) max_ms: Option<f64>,
}

/// Height of one failure lane.
pub(crate) const LANE_PX: f64 = 9.0;

impl ChartModel {
    pub(crate) fn y(&self, v: f64) -> f64 {
        let f = if self.y_max > 0.0 {
            v / self.y_max
        } else {
            0.0
        };
        self.plot_top + (self.plot_h - self.band_h) * (1.0 - f.clamp(0.0, 1.0))
    }

    /// The top of failure lane `k`.
    pub(crate) fn lane_y(&self, k: usize) -> f64 {
        self.plot_top + self.plot_h - self.band_h + 7.0 + k as f64 * LANE_PX
    }
}

/// A process as the page names it (deduplicated; hover moments refer to these by index).
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub(crate) struct ProcRef {
    pub(crate) name: String,
    pub(crate) pid: u32,
    pub(crate) cmdline: Option<String>,
    /// The systemd unit or container, else the cgroup path, where the sample recorded a cgroup.
    pub(crate) unit: Option<String>,
}

impl ProcRef {
    pub(crate) fn of(p: &ProcessEntry) -> Self {
        ProcRef {
            name: p.name.clone(),
            pid: p.pid,
            cmdline: p.cmdline.clone(),
            unit: p.unit().or_else(|| p.cgroup.clone().filter(|c| c != "/")),
        }
    }
}

/// One hoverable moment: a real sample's values and top processes.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Moment {
    pub(crate) ts_us: i64,
    pub(crate) busy_pct: f64,
    pub(crate) used_gb: f64,
    pub(crate) avail_gb: f64,
    pub(crate) swap_gb: f64,
    pub(crate) load1: Option<f64>,
    /// (process index, CPU % of one core), highest first.
    pub(crate) top_cpu: Vec<(usize, f64)>,
    /// (process index, resident bytes), highest first.
    pub(crate) top_rss: Vec<(usize, u64)>,
    /// Per latency target (in the order of the lanes): its latest probe started by then, as the round trip in ms or
    /// the failure's kind.
    pub(crate) latency: Vec<Option<Result<f64, &'static str>>>,
}

/// What the page says about one gap: the last minute before it.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct GapPanel {
    pub(crate) incident: usize,
    pub(crate) kind: GapKind,
    /// Samples in the minute before the gap.
    pub(crate) samples: usize,
    pub(crate) window_from_us: i64,
    pub(crate) last_us: Option<i64>,
    pub(crate) cpu_mean_pct: f64,
    pub(crate) cpu_max_pct: f64,
    pub(crate) mem_used_last: u64,
    pub(crate) mem_used_max: u64,
    pub(crate) mem_total: u64,
    pub(crate) mem_avail_min: u64,
    pub(crate) swap_used_first: u64,
    pub(crate) swap_used_last: u64,
    pub(crate) swap_total: u64,
    /// Highest share stalled in the minute: cpu some, memory some, memory full, io some, io full.
    pub(crate) pressure_max: [Option<f64>; 5],
    pub(crate) oom_first: Option<u64>,
    pub(crate) oom_last: Option<u64>,
    /// The counter in the first sample after the gap.
    pub(crate) oom_after: Option<u64>,
    /// By highest CPU in the minute: (name, pid, cmdline, max CPU %, last RSS).
    pub(crate) top_cpu: Vec<(ProcRef, f64, u64)>,
    /// By resident memory at the last sample: (process, RSS, growth over the minute).
    pub(crate) top_rss: Vec<(ProcRef, u64, i64)>,
}

/// Everything the page shows.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Model {
    pub(crate) frame: Frame,
    pub(crate) width_px: f64,
    pub(crate) charts: Vec<ChartModel>,
    pub(crate) incidents: Vec<Incident>,
    /// Gap bands (µs), with their incident index.
    pub(crate) gaps: Vec<(i64, i64, usize)>,
    pub(crate) gap_panels: Vec<GapPanel>,
    pub(crate) moments: Vec<Moment>,
    pub(crate) procs: Vec<ProcRef>,
    pub(crate) offsets: Offsets,
    pub(crate) cores: usize,
    pub(crate) median_interval_us: i64,
}

/// Model inputs besides the samples.
pub(crate) struct Params<'a> {
    pub(crate) from_us: i64,
    pub(crate) to_us: i64,
    pub(crate) width_px: u32,
    pub(crate) charts: &'a [Chart],
    pub(crate) culprit_lines: usize,
    /// Only the charts are drawn (PNG images, a mail's body): the hover moments and the gap panels, which only the
    /// page shows, are not made.
    pub(crate) charts_only: bool,
    /// Samples handed from this model to the next of the same range at another width, or from the previous one to
    /// this (see [`Handover`]).
    pub(crate) handover: Option<&'a std::cell::RefCell<Handover>>,
}

pub(crate) use moments::Handover;

/// Samples kept at full resolution when the series are reduced to the pixel columns.
pub(super) struct Kept {
    /// Times (µs) kept on the system charts: incident edges and peaks with a dense window around each peak, and
    /// both sides of breaks.
    pub(super) keep: Vec<i64>,
    /// Times (µs) kept on the latency chart: the latency incidents' own, and `keep`.
    pub(super) lat_keep: Vec<i64>,
    /// Sample indices near each incident's peak, every one a hover moment.
    pub(super) dense: Vec<usize>,
}

impl Kept {
    fn new(incidents: &[Incident], ts: &[Timestamp], breaks: &[usize]) -> Kept {
        let n = ts.len();
        let mut keep: Vec<i64> = Vec::new();
        let mut lat_keep: Vec<i64> = Vec::new();
        let mut dense: Vec<usize> = Vec::new();
        let peaks = incidents
            .iter()
            .filter(|i| !matches!(i.kind, IncidentKind::Gap(_)))
            .count();
        let side = (DENSE_BUDGET / (2 * peaks.max(1))).clamp(DENSE_MIN, DENSE_SAMPLES);
        for inc in incidents {
            let is_lat = matches!(
                inc.kind,
                IncidentKind::LatencySpike | IncidentKind::LatencyOutage
            );
            let list = if is_lat { &mut lat_keep } else { &mut keep };
            for t in [inc.start, inc.peak, inc.end] {
                list.push(t.as_unix_micros());
            }
            if !matches!(inc.kind, IncidentKind::Gap(_)) && n > 0 {
                let c = raw_at(ts, inc.peak.as_unix_micros());
                let lo = c.saturating_sub(side);
                let hi = (c + side).min(n - 1);
                dense.extend(lo..=hi);
                list.extend((lo..=hi).map(|i| ts[i].as_unix_micros()));
            }
        }
        for &k in breaks {
            keep.push(ts[k - 1].as_unix_micros());
            keep.push(ts[k].as_unix_micros());
        }
        keep.sort_unstable();
        keep.dedup();
        lat_keep.extend(keep.iter().copied());
        lat_keep.sort_unstable();
        lat_keep.dedup();
        Kept {
            keep,
            lat_keep,
            dense,
        }
    }
}

/// The sample at or just after `us` (the last one after all).
fn raw_at(ts: &[Timestamp], us: i64) -> usize {
    ts.partition_point(|t| t.as_unix_micros() < us)
        .min(ts.len().saturating_sub(1))
}

/// Microseconds from `a` to `b`.
fn micros_between(a: Timestamp, b: Timestamp) -> i64 {
    b.as_unix_micros() - a.as_unix_micros()
}

/// The typical interval between samples (µs), and the breaks: where the recording paused for clearly longer than
/// that (indices of the sample after each pause).
fn intervals(ts: &[Timestamp]) -> (i64, Vec<usize>) {
    let n = ts.len();
    let median_interval_us =
        median_i64(ts.windows(2).map(|w| micros_between(w[0], w[1]))).unwrap_or(1_000_000);
    let break_after = (median_interval_us * 3).max(median_interval_us + 2_000_000);
    let breaks: Vec<usize> = (1..n)
        .filter(|&k| micros_between(ts[k - 1], ts[k]) > break_after)
        .collect();
    (median_interval_us, breaks)
}

/// What a model reads of the columns alone, without the incidents: made while they are detected (see [`prepare`]).
pub(crate) struct Prepared {
    median_interval_us: i64,
    /// Where the recording paused (see [`intervals`]).
    breaks: Vec<usize>,
    latency: Option<latency::LatencyFigures>,
}

/// The parts of the model of `series` over `from_us..to_us` drawn `width_px` wide that do not depend on the
/// incidents: the typical interval and the breaks, the latency chart's scale and lanes.
pub(crate) fn prepare(series: &SystemSeries, from_us: i64, to_us: i64, width_px: u32) -> Prepared {
    let (frame, _) = Frame::of(from_us, to_us, width_px);
    let (median_interval_us, breaks) = intervals(&series.ts);
    Prepared {
        median_interval_us,
        breaks,
        latency: latency::latency_figures(&series.latency, &frame),
    }
}

/// Builds the model from the range's columns (`series`: sorted by time, non-empty, within the range), reading whole
/// samples from `source` only for the hover moments, the culprit lines and the minute before each gap. `prepared` is
/// [`prepare`] of the same series, range and width, where it was made already.
pub(crate) fn build(
    series: &SystemSeries,
    source: &dyn WindowSource,
    mut incidents: Vec<Incident>,
    prepared: Option<Prepared>,
    p: &Params<'_>,
) -> Result<Model, Error> {
    let width_px = f64::from(p.width_px);
    let (frame, columns) = Frame::of(p.from_us, p.to_us, p.width_px);
    // The samples' times, read where they are (not copied: a month has millions).
    let ts: &[Timestamp] = &series.ts;
    let cores = series
        .cores
        .iter()
        .copied()
        .max()
        .map_or(0, usize::from)
        .max(1);
    let Prepared {
        median_interval_us,
        mut breaks,
        latency,
    } = prepared.unwrap_or_else(|| prepare(series, p.from_us, p.to_us, p.width_px));
    incidents.sort_by(|a, b| a.start.cmp(&b.start).then(a.peak.cmp(&b.peak)));
    // Gaps: where the analysis says so, and the lines break there too.
    let gaps = gaps::bands(&incidents, ts, &mut breaks);
    let kept = Kept::new(&incidents, ts, &breaks);
    // The charts' columns are drawn on a thread of their own while whole samples are read on this one (the hover
    // moments, the culprit lines' windows, the minute before each gap): neither waits for the other.
    let input = charts::ChartInput {
        series,
        ts,
        columns,
        kept: &kept,
        breaks: &breaks,
        cores,
        median_interval_us,
        latency: latency.as_ref(),
    };
    let kinds = p.charts;
    let (mut charts, reads) = std::thread::scope(|scope| {
        let draw = || {
            kinds
                .iter()
                .scan(Vec::new(), |scratch, &kind| {
                    Some(charts::chart(&input, kind, scratch))
                })
                .flatten()
                .collect::<Vec<ChartModel>>()
        };
        // Where no thread can be started, the charts are drawn here after the reads.
        let drawing = std::thread::Builder::new()
            .name("stabmon-charts".into())
            .spawn_scoped(scope, draw);
        let reads = read_samples(
            series,
            source,
            &incidents,
            (&frame, columns, cores),
            &kept,
            &breaks,
            p,
        );
        let charts = match drawing {
            // A panic while drawing is the caller's panic, as it was on one thread.
            Ok(h) => h.join().unwrap_or_else(|e| std::panic::resume_unwind(e)),
            Err(_) => draw(),
        };
        (charts, reads)
    });
    let Read {
        fetched,
        names: (cpu_names, mem_names),
        lines,
        gap_panels,
        hands_over,
    } = reads?;
    charts::add_lines(
        &mut charts,
        &lines,
        (&cpu_names, &mem_names),
        columns,
        &kept.keep,
    );
    labels::label_spikes(
        &mut charts,
        &incidents,
        series,
        &frame,
        ts,
        p.charts.first().copied(),
    );
    let moment_samples = fetched.moments();
    let (moments, procs) = if p.charts_only {
        (Vec::new(), Vec::new())
    } else {
        moments::moments(&moment_samples, &charts, series)
    };
    drop(moment_samples);
    let offsets = Offsets::from_series(series, fetched.zone());
    if hands_over && let Some(h) = p.handover {
        let mut h = h.borrow_mut();
        h.samples = Some(fetched.into_samples());
        h.give = false;
    }
    Ok(Model {
        frame,
        width_px,
        charts,
        incidents,
        gaps,
        gap_panels: gap_panels.unwrap_or_default(),
        moments,
        procs,
        offsets,
        cores,
        median_interval_us,
    })
}

/// What a model reads of whole samples.
struct Read {
    /// The hover moments' samples.
    fetched: moments::Fetched,
    /// The culprit lines' names: (CPU, memory).
    names: (Vec<String>, Vec<String>),
    lines: lines::Lines,
    /// The gap panels, where the page shows them.
    gap_panels: Option<Vec<GapPanel>>,
    /// Whether this model hands its samples over to the next.
    hands_over: bool,
}

/// Reads the whole samples the model shows from `source` (or takes them from the model before, see [`Handover`]):
/// the hover moments, the culprit lines' windows, and the minute before each gap (unless only the charts are drawn).
fn read_samples(
    series: &SystemSeries,
    source: &dyn WindowSource,
    incidents: &[Incident],
    (frame, columns, cores): (&Frame, usize, usize),
    kept: &Kept,
    breaks: &[usize],
    p: &Params<'_>,
) -> Result<Read, Error> {
    let ts: &[Timestamp] = &series.ts;
    // This model hands its samples over to the next, or takes those of the model before.
    let hands_over = p.handover.is_some_and(|h| h.borrow().give);
    let given = p
        .handover
        .filter(|_| !hands_over)
        .and_then(|h| h.borrow_mut().samples.take());
    let handover_lines = p.handover.map(|h| (h, hands_over));
    // The culprit lines' windows are read first where their names do not wait for the hover moments: a window is
    // read on one core, while the charts are drawn on the other; the moments' read then takes both.
    let early = match lines::names_without_moments(incidents, p.culprit_lines) {
        Some(names) => {
            let names_ref = (&names.0[..], &names.1[..]);
            // Its error is returned after the moments' (the order of the reads before).
            let w =
                lines::window_values(series, source, incidents, names_ref, cores, handover_lines);
            Some((names, w))
        }
        None => None,
    };
    let fetched = moments::Fetched::read(series, source, (ts, frame, columns), &kept.dense, given)?;
    let early = match early {
        Some((names, w)) => Some((names, w?)),
        None => None,
    };
    let moment_samples = fetched.moments();
    let (names, windows) = match early {
        Some(done) => done,
        None => {
            let names = lines::names(incidents, &moment_samples, p.culprit_lines);
            let names_ref = (&names.0[..], &names.1[..]);
            let w =
                lines::window_values(series, source, incidents, names_ref, cores, handover_lines)?;
            (names, w)
        }
    };
    let lines = lines::culprit_lines(
        series,
        &moment_samples,
        (&names.0, &names.1),
        windows,
        cores,
        breaks,
    );
    drop(moment_samples);
    let (cpu_names, mem_names) = names;
    let gap_panels = if p.charts_only {
        None
    } else {
        Some(gaps::panels(series, source, ts, incidents)?)
    };
    Ok(Read {
        fetched,
        names: (cpu_names, mem_names),
        lines,
        gap_panels,
        hands_over,
    })
}
