//! From a range's columns and incidents to what the page draws: reduced series per chart, placed spike labels, gap
//! bands, hover moments. Deterministic; whole samples are read only through the [`WindowSource`], for the instants
//! and windows the page shows. [`crate::svg`] and [`crate::page`] only format this.

use std::borrow::Cow;
use std::collections::{BTreeMap, HashMap};

use stabmon_core::latency::ProbePoint;
use stabmon_core::latency::{jitter_ms, loss};
use stabmon_core::series::{SystemSeries, WindowSource};
use stabmon_core::{ProcessEntry, Sample, Timestamp};

use crate::escape::truncate_chars;
use crate::timefmt::Offsets;
use crate::{Chart, Error};
use stabmon_core::analysis::{GapKind, Incident, IncidentKind, downsample_minmax};

const GIB: f64 = 1024.0 * 1024.0 * 1024.0;
/// Samples kept at full resolution on each side of an incident's peak, so zooming into a spike shows it sample by
/// sample and hovering it shows that moment's processes.
const DENSE_SAMPLES: usize = 45;
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
    pub(crate) fn x(&self, us: i64) -> f64 {
        let span = (self.to_us - self.from_us).max(1) as f64;
        self.left + (us - self.from_us) as f64 / span * self.width
    }
}

/// How a series' values are shown in the legend and tooltips.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Unit {
    Pct,
    Gib,
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
}

/// One hoverable moment: a real sample's values and top processes.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Moment {
    pub(crate) ts_us: i64,
    pub(crate) busy_pct: f64,
    pub(crate) used_gib: f64,
    pub(crate) avail_gib: f64,
    pub(crate) swap_gib: f64,
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
}

/// Values of one series with the samples where it is missing removed.
struct Extracted<'a> {
    ts: Cow<'a, [i64]>,
    values: Vec<f64>,
    /// Raw index of each value, when some samples were missing.
    map: Option<Vec<usize>>,
    /// How many samples were missing before each raw index (length n + 1), when some were.
    missing_prefix: Option<Vec<u32>>,
}

/// Values `get(0..n)` at times `ts`, with the missing (`None` or not finite) left out.
fn extract<'a>(n: usize, ts: &'a [i64], get: &dyn Fn(usize) -> Option<f64>) -> Extracted<'a> {
    let mut values = Vec::with_capacity(n);
    let mut missing = false;
    for i in 0..n {
        match get(i) {
            Some(v) if v.is_finite() => values.push(v),
            _ => {
                missing = true;
                break;
            }
        }
    }
    if !missing {
        return Extracted {
            ts: Cow::Borrowed(ts),
            values,
            map: None,
            missing_prefix: None,
        };
    }
    let mut sub_ts = Vec::new();
    let mut values = Vec::new();
    let mut map = Vec::new();
    let mut prefix = Vec::with_capacity(n + 1);
    let mut count = 0u32;
    prefix.push(0);
    for (i, &t) in ts.iter().enumerate().take(n) {
        match get(i) {
            Some(v) if v.is_finite() => {
                sub_ts.push(t);
                values.push(v);
                map.push(i);
            }
            _ => count += 1,
        }
        prefix.push(count);
    }
    Extracted {
        ts: Cow::Owned(sub_ts),
        values,
        map: Some(map),
        missing_prefix: Some(prefix),
    }
}

/// Reduces `e` to `columns` columns, keeping `keep`, as (µs, value, break-before) points.
fn reduce(
    e: &Extracted<'_>,
    columns: usize,
    keep: &[i64],
    breaks: &[usize],
) -> Vec<(i64, f64, bool)> {
    let mut idx = downsample_minmax(&e.ts, &e.values, columns, keep);
    idx.sort_unstable();
    idx.dedup();
    let mut out = Vec::with_capacity(idx.len());
    let mut prev_raw: Option<usize> = None;
    let mut b = 0usize;
    for i in idx {
        let (Some(&t), Some(&v)) = (e.ts.get(i), e.values.get(i)) else {
            continue;
        };
        let raw = e.map.as_ref().and_then(|m| m.get(i).copied()).unwrap_or(i);
        let brk = match prev_raw {
            None => false,
            Some(p) => {
                while b < breaks.len() && breaks[b] <= p {
                    b += 1;
                }
                let raw_break = b < breaks.len() && breaks[b] <= raw;
                let missing = e.missing_prefix.as_ref().is_some_and(|m| {
                    m.get(raw).copied().unwrap_or(0) > m.get(p + 1).copied().unwrap_or(0)
                });
                raw_break || missing
            }
        };
        out.push((t, v, brk));
        prev_raw = Some(raw);
    }
    out
}

/// A round step for about `count` ticks up to `max`.
pub(crate) fn nice_max_and_step(max: f64, count: f64) -> (f64, f64) {
    let max = if max.is_finite() && max > 0.0 {
        max
    } else {
        1.0
    };
    let raw = max / count;
    let mag = 10f64.powf(raw.log10().floor());
    let step = [1.0, 2.0, 2.5, 4.0, 5.0, 10.0]
        .iter()
        .map(|m| m * mag)
        .find(|s| *s >= raw)
        .unwrap_or(10.0 * mag);
    ((max / step).ceil() * step, step)
}

fn y_ticks(max: f64, step: f64, unit: Unit) -> Vec<(f64, String)> {
    let mut out = Vec::new();
    let mut v = 0.0;
    while v <= max + step * 1e-6 {
        let label = match unit {
            Unit::Pct => format!("{v:.0}%"),
            Unit::Gib => {
                if step < 1.0 {
                    format!("{v:.1} GiB")
                } else {
                    format!("{v:.0} GiB")
                }
            }
            Unit::Load | Unit::LogMs => {
                if step < 1.0 {
                    format!("{v:.1}")
                } else {
                    format!("{v:.0}")
                }
            }
        };
        out.push((v, label));
        v += step;
    }
    out
}

/// Where an incident is drawn, and at which value its marker sits.
fn incident_chart(kind: &IncidentKind) -> Option<Chart> {
    match kind {
        IncidentKind::CpuSurge => Some(Chart::Cpu),
        IncidentKind::MemoryClimb | IncidentKind::SwapGrowth | IncidentKind::OomKill => {
            Some(Chart::Memory)
        }
        IncidentKind::PressureStall => Some(Chart::Load),
        IncidentKind::LatencySpike | IncidentKind::LatencyOutage => Some(Chart::Latency),
        IncidentKind::Gap(_) => None,
        #[allow(unreachable_patterns)]
        _ => Some(Chart::Cpu),
    }
}

/// CSS class of an incident kind.
pub(crate) fn kind_class(kind: &IncidentKind) -> &'static str {
    match kind {
        IncidentKind::CpuSurge => "k-cpu",
        IncidentKind::MemoryClimb => "k-mem",
        IncidentKind::SwapGrowth => "k-swap",
        IncidentKind::OomKill => "k-oom",
        IncidentKind::PressureStall => "k-psi",
        IncidentKind::LatencySpike => "k-lat",
        IncidentKind::LatencyOutage => "k-loss",
        IncidentKind::Gap(GapKind::Rebooted) => "k-reboot",
        IncidentKind::Gap(GapKind::Died) => "k-died",
        IncidentKind::Gap(_) => "k-stopped",
        #[allow(unreachable_patterns)]
        _ => "k-other",
    }
}

/// DejaVu Sans advance widths of ASCII 32..=126, in 1/2048 em: a wide, common fallback font, so the estimate errs on
/// the wide side for the fonts of other systems.
#[rustfmt::skip]
const DEJAVU_ADVANCE: [u16; 95] = [
    651, 823, 942, 1716, 1303, 1946, 1597, 563, 799, 799, 1024, 1716, 651, 739, 651, 690,
    1303, 1303, 1303, 1303, 1303, 1303, 1303, 1303, 1303, 1303, 690, 690, 1716, 1716, 1716, 1087,
    2048, 1401, 1405, 1430, 1577, 1294, 1178, 1587, 1540, 604, 604, 1343, 1141, 1767, 1532, 1612,
    1235, 1612, 1423, 1300, 1251, 1499, 1401, 2025, 1403, 1251, 1403, 799, 690, 799, 1716, 1024,
    1024, 1255, 1300, 1126, 1300, 1260, 721, 1300, 1298, 569, 569, 1186, 569, 1995, 1298, 1253,
    1300, 1300, 842, 1067, 803, 1298, 1212, 1675, 1212, 1212, 1075, 1303, 690, 1303, 1716,
];

/// Font size of the spike labels, in pixels.
pub(crate) const LABEL_FONT_PX: f64 = 11.0;

/// Width of a label box for `text` at [`LABEL_FONT_PX`], with padding; the script shrinks boxes to the measured
/// text once the page is shown.
pub(crate) fn text_width(text: &str) -> f64 {
    let units: f64 = text
        .chars()
        .map(|c| {
            let i = u32::from(c).wrapping_sub(32) as usize;
            match DEJAVU_ADVANCE.get(i) {
                Some(&w) if c.is_ascii() => f64::from(w),
                _ => 2048.0,
            }
        })
        .sum();
    (units / 2048.0 * LABEL_FONT_PX * 1.04 + 12.0).ceil()
}

/// Places labels in rows so that none overlaps another: each label is centred on its peak (kept inside the plot)
/// and goes to the lowest row where it fits.
pub(crate) fn place_labels(labels: &mut [Label], plot_left: f64, plot_right: f64) -> usize {
    const GAP: f64 = 6.0;
    for l in labels.iter_mut() {
        l.left = (l.peak_x - l.width / 2.0)
            .min(plot_right - l.width)
            .max(plot_left.min(plot_right - l.width));
    }
    let mut order: Vec<usize> = (0..labels.len()).collect();
    order.sort_by(|a, b| {
        labels[*a]
            .left
            .total_cmp(&labels[*b].left)
            .then(labels[*a].incident.cmp(&labels[*b].incident))
    });
    let mut row_right: Vec<f64> = Vec::new();
    for i in order {
        let l = &mut labels[i];
        let row = row_right.iter().position(|r| *r + GAP <= l.left);
        let row = match row {
            Some(r) => r,
            None => {
                row_right.push(f64::NEG_INFINITY);
                row_right.len() - 1
            }
        };
        l.row = row;
        row_right[row] = l.left + l.width;
    }
    row_right.len()
}

fn proc_index(
    procs: &mut Vec<ProcRef>,
    index: &mut HashMap<ProcRef, usize>,
    p: &ProcessEntry,
) -> usize {
    let key = ProcRef {
        name: p.name.clone(),
        pid: p.pid,
        cmdline: p.cmdline.clone(),
    };
    if let Some(i) = index.get(&key) {
        return *i;
    }
    let i = procs.len();
    procs.push(key.clone());
    index.insert(key, i);
    i
}

fn moment(s: &Sample, procs: &mut Vec<ProcRef>, index: &mut HashMap<ProcRef, usize>) -> Moment {
    let mut by_cpu: Vec<&ProcessEntry> = s
        .top
        .processes
        .iter()
        .filter(|p| p.cpu_rank.is_some())
        .collect();
    by_cpu.sort_by_key(|p| p.cpu_rank);
    let mut by_rss: Vec<&ProcessEntry> = s
        .top
        .processes
        .iter()
        .filter(|p| p.rss_rank.is_some())
        .collect();
    by_rss.sort_by_key(|p| p.rss_rank);
    let top_cpu = by_cpu
        .iter()
        .take(3)
        .map(|p| (proc_index(procs, index, p), f64::from(p.cpu_pct)))
        .collect();
    let top_rss = by_rss
        .iter()
        .take(2)
        .map(|p| (proc_index(procs, index, p), p.rss_bytes))
        .collect();
    Moment {
        ts_us: s.ts.as_unix_micros(),
        busy_pct: f64::from(s.cpu.busy_pct),
        used_gib: s.memory.used_bytes as f64 / GIB,
        avail_gib: s.memory.available_bytes as f64 / GIB,
        swap_gib: s.memory.swap_used_bytes as f64 / GIB,
        load1: s.load.map(|l| f64::from(l.one)),
        top_cpu,
        top_rss,
        latency: Vec::new(),
    }
}

fn name_cpu(s: &Sample, name: &str) -> f64 {
    s.top
        .names
        .iter()
        .find(|n| n.name == name)
        .map_or(0.0, |n| f64::from(n.cpu_pct))
}

fn name_rss(s: &Sample, name: &str) -> Option<f64> {
    s.top
        .names
        .iter()
        .find(|n| n.name == name)
        .map(|n| n.rss_bytes as f64 / GIB)
}

/// Samples of one incident window read at full resolution for the culprit lines; a longer window is read at this
/// many evenly spaced samples.
const LINE_WINDOW_SAMPLES: usize = 3600;

/// The culprit lines' values: the instants they are drawn through and each line's value there.
struct Lines {
    /// Series index of each instant, sorted.
    idx: Vec<usize>,
    /// The instants, µs.
    ts: Vec<i64>,
    /// Per instant, per line (the CPU lines, then the memory lines): the value.
    values: Vec<Vec<Option<f64>>>,
    /// Where the lines break (indices into `idx`): a recording break lies between two instants.
    breaks: Vec<usize>,
}

/// The culprit lines: per-name CPU (% of all cores) for `cpu_names` and resident memory (GiB) for `mem_names`.
///
/// A line is drawn through the samples read anyway for the hover moments (the busiest sample of each pixel column
/// and every sample within [`DENSE_SAMPLES`] of an incident's peak) and through every sample of the windows of the
/// CPU and memory incidents (evenly spaced beyond [`LINE_WINDOW_SAMPLES`] a window): so each culprit's spike is
/// drawn where its incident is, at full resolution, and the line elsewhere follows the busiest moments, while the
/// samples read stay bounded by the page's width and the incidents, not by the range.
#[allow(clippy::too_many_arguments)]
fn culprit_lines(
    series: &SystemSeries,
    source: &dyn WindowSource,
    incidents: &[Incident],
    moments: &[&Sample],
    cpu_names: &[String],
    mem_names: &[String],
    cores: usize,
    breaks: &[usize],
) -> Result<Lines, Error> {
    let mut by_idx: BTreeMap<usize, Vec<Option<f64>>> = BTreeMap::new();
    let c = cores as f64;
    let mut add = |s: &Sample| {
        let k = series.index_at(s.ts);
        if series.ts.get(k) != Some(&s.ts) {
            return;
        }
        by_idx.entry(k).or_insert_with(|| {
            cpu_names
                .iter()
                .map(|name| Some((name_cpu(s, name) / c).min(100.0)))
                .chain(mem_names.iter().map(|name| name_rss(s, name)))
                .collect()
        });
    };
    let n = series.len();
    if !(cpu_names.is_empty() && mem_names.is_empty()) && n > 0 {
        for s in moments {
            add(s);
        }
        // The CPU and memory incidents' windows, merged where they overlap.
        let mut windows: Vec<(usize, usize)> = incidents
            .iter()
            .filter(|i| {
                matches!(
                    i.kind,
                    IncidentKind::CpuSurge
                        | IncidentKind::MemoryClimb
                        | IncidentKind::SwapGrowth
                        | IncidentKind::OomKill
                )
            })
            .filter_map(|i| {
                let lo = series.index_at(i.start.min(i.end));
                let hi = series.ts.partition_point(|t| *t <= i.end.max(i.start));
                (lo < hi).then(|| (lo, hi - 1))
            })
            .collect();
        windows.sort_unstable();
        let mut merged: Vec<(usize, usize)> = Vec::new();
        for (lo, hi) in windows {
            match merged.last_mut() {
                Some(last) if lo <= last.1 + 1 => last.1 = last.1.max(hi),
                _ => merged.push((lo, hi)),
            }
        }
        for (lo, hi) in merged {
            let (from, to) = (series.ts[lo], series.ts[hi]);
            let read = if hi - lo < LINE_WINDOW_SAMPLES {
                source.samples_between(from, to)
            } else {
                let step = (hi - lo).div_ceil(LINE_WINDOW_SAMPLES);
                let at: Vec<_> = (lo..=hi).step_by(step).map(|i| series.ts[i]).collect();
                source.samples_at(&at)
            };
            let samples = read.map_err(|source| Error::Read {
                what: format!("the samples from {from} to {to} for the culprit lines"),
                source,
            })?;
            for s in &samples {
                add(s);
            }
        }
    }
    let idx: Vec<usize> = by_idx.keys().copied().collect();
    let line_breaks = (1..idx.len())
        .filter(|&k| {
            let j = breaks.partition_point(|b| *b <= idx[k - 1]);
            breaks.get(j).is_some_and(|b| *b <= idx[k])
        })
        .collect();
    Ok(Lines {
        ts: idx.iter().map(|&i| series.ts[i].as_unix_micros()).collect(),
        idx,
        values: by_idx.into_values().collect(),
        breaks: line_breaks,
    })
}

/// Builds the model from the range's columns (`series`: sorted by time, non-empty, within the range), reading whole
/// samples from `source` only for the hover moments, the culprit lines and the minute before each gap.
pub(crate) fn build(
    series: &SystemSeries,
    source: &dyn WindowSource,
    mut incidents: Vec<Incident>,
    p: &Params<'_>,
) -> Result<Model, Error> {
    let width_px = f64::from(p.width_px);
    let frame = Frame {
        from_us: p.from_us,
        to_us: p.to_us.max(p.from_us + 1),
        left: MARGIN_LEFT,
        width: (width_px - MARGIN_LEFT - MARGIN_RIGHT).max(100.0),
    };
    let columns = frame.width.round().max(1.0) as usize;
    let ts: Vec<i64> = series.ts.iter().map(|t| t.as_unix_micros()).collect();
    let n = ts.len();
    let cores = series
        .cores
        .iter()
        .copied()
        .max()
        .map_or(0, usize::from)
        .max(1);

    // The typical interval, and the breaks: where the recording paused for clearly longer than that.
    let median_interval_us = {
        let mut d: Vec<i64> = ts.windows(2).map(|w| w[1] - w[0]).collect();
        if d.is_empty() {
            1_000_000
        } else {
            let mid = d.len() / 2;
            *d.select_nth_unstable(mid).1
        }
    };
    let break_after = (median_interval_us * 3).max(median_interval_us + 2_000_000);
    let mut breaks: Vec<usize> = (1..n)
        .filter(|&k| ts[k] - ts[k - 1] > break_after)
        .collect();

    incidents.sort_by(|a, b| a.start.cmp(&b.start).then(a.peak.cmp(&b.peak)));
    let raw_at = |us: i64| ts.partition_point(|t| *t < us).min(n.saturating_sub(1));

    // Gaps: where the analysis says so, and the lines break there too.
    let mut gaps = Vec::new();
    for (i, inc) in incidents.iter().enumerate() {
        if let IncidentKind::Gap(_) = inc.kind {
            let (s, e) = (inc.start.as_unix_micros(), inc.end.as_unix_micros());
            gaps.push((s.min(e), s.max(e), i));
            let k = ts.partition_point(|t| *t <= s.min(e));
            if k > 0 && k < n && ts[k] >= s.max(e) {
                breaks.push(k);
            }
        }
    }
    breaks.sort_unstable();
    breaks.dedup();

    // Samples always kept: incident edges and peaks with a dense window around each peak, and both sides of breaks.
    // Latency incidents keep their samples (probe start times) on the latency chart only; `dense` (hover moments)
    // covers every incident.
    let mut keep: Vec<i64> = Vec::new();
    let mut lat_keep: Vec<i64> = Vec::new();
    let mut dense: Vec<usize> = Vec::new();
    for inc in &incidents {
        let is_lat = matches!(
            inc.kind,
            IncidentKind::LatencySpike | IncidentKind::LatencyOutage
        );
        let list = if is_lat { &mut lat_keep } else { &mut keep };
        for t in [inc.start, inc.peak, inc.end] {
            list.push(t.as_unix_micros());
        }
        if !matches!(inc.kind, IncidentKind::Gap(_)) && n > 0 {
            let c = raw_at(inc.peak.as_unix_micros());
            let lo = c.saturating_sub(DENSE_SAMPLES);
            let hi = (c + DENSE_SAMPLES).min(n - 1);
            dense.extend(lo..=hi);
            list.extend((lo..=hi).map(|i| ts[i]));
        }
    }
    for &k in &breaks {
        keep.push(ts[k - 1]);
        keep.push(ts[k]);
    }
    keep.sort_unstable();
    keep.dedup();
    lat_keep.extend(keep.iter().copied());
    lat_keep.sort_unstable();
    lat_keep.dedup();

    // Hover moments: the busiest sample of each pixel column, and every sample near an incident's peak; read in
    // one go with the first sample (whose zone name the page shows).
    let moment_idx: Vec<usize> = {
        let mut col_best: BTreeMap<i64, usize> = BTreeMap::new();
        for (i, &t) in ts.iter().enumerate() {
            let col = ((frame.x(t) - frame.left) as i64).clamp(0, columns as i64);
            let e = col_best.entry(col).or_insert(i);
            if series.cpu_busy_pct[i] > series.cpu_busy_pct[*e] {
                *e = i;
            }
        }
        let mut v: Vec<usize> = col_best.into_values().collect();
        v.extend(dense.iter().copied());
        v.sort_unstable();
        v.dedup();
        v
    };
    let moment_ts: Vec<Timestamp> = moment_idx.iter().map(|&i| series.ts[i]).collect();
    let mut want = moment_ts.clone();
    want.extend(series.ts.first().copied());
    want.sort_unstable();
    want.dedup();
    let fetched = source.samples_at(&want).map_err(|source| Error::Read {
        what: format!("the samples at {} instants shown on hover", want.len()),
        source,
    })?;
    let zone = fetched.iter().find_map(|s| s.timezone.clone());
    let moment_samples: Vec<&Sample> = fetched
        .iter()
        .filter(|s| moment_ts.binary_search(&s.ts).is_ok())
        .collect();

    // Which processes get their own line: the culprits of CPU surges (largest first), then the names that used the
    // most CPU over the hover moments; the culprits of memory climbs for the memory chart.
    let mut cpu_names: Vec<String> = Vec::new();
    let mut mem_names: Vec<String> = Vec::new();
    {
        let mut by_mag: Vec<&Incident> = incidents.iter().filter(|i| i.culprit.is_some()).collect();
        by_mag.sort_by(|a, b| {
            b.magnitude
                .total_cmp(&a.magnitude)
                .then(a.start.cmp(&b.start))
        });
        for inc in by_mag {
            let Some(c) = &inc.culprit else { continue };
            let list = match inc.kind {
                IncidentKind::CpuSurge => &mut cpu_names,
                IncidentKind::MemoryClimb | IncidentKind::SwapGrowth | IncidentKind::OomKill => {
                    &mut mem_names
                }
                _ => continue,
            };
            if !list.contains(&c.name) {
                list.push(c.name.clone());
            }
        }
        cpu_names.truncate(p.culprit_lines);
        mem_names.truncate(2.min(p.culprit_lines));
        if cpu_names.len() < p.culprit_lines.min(3) {
            let mut totals: HashMap<&str, f64> = HashMap::new();
            for s in &moment_samples {
                for nt in &s.top.names {
                    *totals.entry(nt.name.as_str()).or_default() += f64::from(nt.cpu_pct);
                }
            }
            let mut totals: Vec<(&str, f64)> = totals.into_iter().collect();
            totals.sort_by(|a, b| b.1.total_cmp(&a.1).then(a.0.cmp(b.0)));
            for (name, _) in totals {
                if cpu_names.len() >= p.culprit_lines.min(3) {
                    break;
                }
                if !cpu_names.iter().any(|c| c == name) {
                    cpu_names.push(name.to_owned());
                }
            }
        }
    }

    let lines = culprit_lines(
        series,
        source,
        &incidents,
        &moment_samples,
        &cpu_names,
        &mem_names,
        cores,
        &breaks,
    )?;

    // Each chart is a list of series specs (name, colour class, filled, JSON scale, values) plus a y scale.
    const PALETTE: [&str; 6] = ["s-p0", "s-p1", "s-p2", "s-p3", "s-p4", "s-p5"];
    /// Where a drawn series' values come from.
    enum Values<'g> {
        /// A column of the series, by sample index.
        Column(Box<dyn Fn(usize) -> Option<f64> + 'g>),
        /// Culprit line `k` of [`Lines`].
        Line(usize),
    }
    let mut charts = Vec::new();
    let by_target = &series.latency;
    for &kind in p.charts {
        if kind == Chart::Latency {
            charts.extend(latency_chart(
                by_target,
                &frame,
                columns,
                &lat_keep,
                median_interval_us,
            ));
            continue;
        }
        let mut specs: Vec<(String, &'static str, bool, f64, Values<'_>)> = Vec::new();
        let (id, title, unit, plot_h, y_max, y_step) = match kind {
            Chart::Cpu => {
                specs.push((
                    "machine busy".into(),
                    "s-busy",
                    true,
                    10.0,
                    Values::Column(Box::new(|i| Some(f64::from(series.cpu_busy_pct[i])))),
                ));
                for (i, name) in cpu_names.iter().enumerate() {
                    specs.push((
                        name.clone(),
                        PALETTE[i % PALETTE.len()],
                        false,
                        10.0,
                        Values::Line(i),
                    ));
                }
                ("cpu", "CPU, % of all cores", Unit::Pct, 170.0, 100.0, 25.0)
            }
            Chart::Memory => {
                let max = series
                    .mem_total_bytes
                    .iter()
                    .chain(&series.mem_used_bytes)
                    .chain(&series.swap_used_bytes)
                    .copied()
                    .max()
                    .unwrap_or(0);
                specs.push((
                    "used".into(),
                    "s-used",
                    true,
                    1000.0,
                    Values::Column(Box::new(|i| Some(series.mem_used_bytes[i] as f64 / GIB))),
                ));
                specs.push((
                    "available".into(),
                    "s-avail",
                    false,
                    1000.0,
                    Values::Column(Box::new(|i| {
                        Some(series.mem_available_bytes[i] as f64 / GIB)
                    })),
                ));
                specs.push((
                    "swap used".into(),
                    "s-swap",
                    false,
                    1000.0,
                    Values::Column(Box::new(|i| Some(series.swap_used_bytes[i] as f64 / GIB))),
                ));
                for (i, name) in mem_names.iter().enumerate() {
                    specs.push((
                        format!("{name} (resident)"),
                        PALETTE[(i + 3) % PALETTE.len()],
                        false,
                        1000.0,
                        Values::Line(cpu_names.len() + i),
                    ));
                }
                let (m, st) = nice_max_and_step(max as f64 / GIB, 4.0);
                ("mem", "Memory and swap", Unit::Gib, 150.0, m, st)
            }
            // Drawn by `latency_chart` above.
            Chart::Latency => continue,
            Chart::Load => {
                let max = (0..n)
                    .filter_map(|i| series.load(i))
                    .map(|l| f64::from(l.one.max(l.five).max(l.fifteen)))
                    .fold(cores as f64, f64::max);
                specs.push((
                    "load 1 min".into(),
                    "s-load1",
                    false,
                    100.0,
                    Values::Column(Box::new(|i| series.load(i).map(|l| f64::from(l.one)))),
                ));
                specs.push((
                    "load 15 min".into(),
                    "s-load15",
                    false,
                    100.0,
                    Values::Column(Box::new(|i| series.load(i).map(|l| f64::from(l.fifteen)))),
                ));
                let (m, st) = nice_max_and_step(max * 1.1, 4.0);
                ("load", "Load average", Unit::Load, 110.0, m, st)
            }
        };
        let mut drawn = Vec::new();
        for (name, class, area, json_scale, values) in specs {
            let points = match values {
                Values::Column(get) => {
                    let e = extract(n, &ts, &*get);
                    if e.values.is_empty() {
                        continue;
                    }
                    reduce(&e, columns, &keep, &breaks)
                }
                Values::Line(k) => {
                    let get = |j: usize| lines.values[j].get(k).copied().flatten();
                    let e = extract(lines.idx.len(), &lines.ts, &get);
                    if e.values.is_empty() {
                        continue;
                    }
                    reduce(&e, columns, &keep, &lines.breaks)
                }
            };
            drawn.push(Series {
                name,
                class,
                area,
                points,
                json_scale,
            });
        }
        charts.push(ChartModel {
            kind,
            id,
            title,
            unit,
            y_max,
            y_ticks: y_ticks(y_max, y_step, unit),
            series: drawn,
            labels: Vec::new(),
            label_rows: 0,
            plot_top: 0.0,
            plot_h,
            svg_h: 0.0,
            band_h: 0.0,
            log_floor_ms: 1.0,
            lanes: Vec::new(),
        });
    }

    // Spike labels: each incident on its chart (gaps on the first chart), placed without overlap.
    let first_chart = p.charts.first().copied();
    for c in &mut charts {
        let kind = c.kind;
        let mut labels = Vec::new();
        for (i, inc) in incidents.iter().enumerate() {
            let on = match incident_chart(&inc.kind) {
                Some(c) => c == kind,
                None => Some(kind) == first_chart,
            };
            if !on {
                continue;
            }
            let full = inc.label();
            let text = truncate_chars(&full, LABEL_MAX_CHARS);
            let is_gap = matches!(inc.kind, IncidentKind::Gap(_));
            let peak_us = if is_gap {
                (inc.start.as_unix_micros() + inc.end.as_unix_micros()) / 2
            } else {
                inc.peak.as_unix_micros()
            };
            let marker_value = if is_gap || n == 0 {
                None
            } else {
                let i = raw_at(peak_us);
                Some(match (kind, &inc.kind) {
                    (Chart::Cpu, _) => f64::from(series.cpu_busy_pct[i]),
                    (Chart::Memory, IncidentKind::SwapGrowth) => {
                        series.swap_used_bytes[i] as f64 / GIB
                    }
                    (Chart::Memory, _) => series.mem_used_bytes[i] as f64 / GIB,
                    (Chart::Load, _) => series.load(i).map_or(0.0, |l| f64::from(l.one)),
                    (Chart::Latency, IncidentKind::LatencySpike) => {
                        (inc.magnitude / c.log_floor_ms).log10()
                    }
                    // An outage: at the bottom of the values, above the failure ticks.
                    (Chart::Latency, _) => -1.0,
                })
            };
            labels.push(Label {
                incident: i,
                width: text_width(&text),
                text,
                full,
                peak_x: frame.x(peak_us).clamp(frame.left, frame.left + frame.width),
                marker_y: marker_value,
                row: 0,
                left: 0.0,
                class: kind_class(&inc.kind),
            });
        }
        let rows = place_labels(&mut labels, frame.left, frame.left + frame.width);
        c.label_rows = rows;
        c.plot_top = 8.0 + rows as f64 * LABEL_ROW_PX + if rows > 0 { 8.0 } else { 0.0 };
        c.svg_h = c.plot_top + c.plot_h + AXIS_PX;
        for l in &mut labels {
            l.marker_y = l.marker_y.map(|v| c.y(v) - c.plot_top);
        }
        c.labels = labels;
    }

    let mut procs = Vec::new();
    let mut index = HashMap::new();
    let lane_names: Vec<&str> = charts
        .iter()
        .find(|c| c.kind == Chart::Latency)
        .map(|c| c.lanes.iter().map(|l| l.name.as_str()).collect())
        .unwrap_or_default();
    let moments = moment_samples
        .iter()
        .map(|s| {
            let mut m = moment(s, &mut procs, &mut index);
            for name in &lane_names {
                let latest = by_target.get(&**name).and_then(|ps| {
                    let k = ps.partition_point(|p| p.ts <= s.ts);
                    k.checked_sub(1).map(|k| match ps[k].round_trip_ms() {
                        Some(ms) => Ok(ms),
                        None => Err(ps[k].outcome.kind()),
                    })
                });
                m.latency.push(latest);
            }
            m
        })
        .collect();

    let mut gap_panels = Vec::new();
    for (i, inc) in incidents.iter().enumerate() {
        if let IncidentKind::Gap(kind) = inc.kind {
            gap_panels.push(gap_panel(series, source, &ts, i, inc, kind)?);
        }
    }

    Ok(Model {
        frame,
        width_px,
        charts,
        incidents,
        gaps,
        gap_panels,
        moments,
        procs,
        offsets: Offsets::from_series(series, zone),
        cores,
        median_interval_us,
    })
}

/// The latency chart: one line per target through its successful round trips on a log scale (so a few
/// milliseconds stay readable beside a 2 s stall), and a lane per target at the bottom where failed probes are
/// ticks, never values. A line breaks where three or more probes in a row failed, or where probing paused. `None`
/// without any probe.
fn latency_chart(
    by_target: &BTreeMap<String, Vec<ProbePoint>>,
    frame: &Frame,
    columns: usize,
    keep: &[i64],
    median_interval_us: i64,
) -> Option<ChartModel> {
    const PALETTE: [&str; 6] = ["s-p0", "s-p1", "s-p2", "s-p3", "s-p4", "s-p5"];
    if by_target.is_empty() {
        return None;
    }
    let (mut lo, mut hi) = (f64::INFINITY, 0.0f64);
    for ms in by_target
        .values()
        .flatten()
        .filter_map(|p| p.round_trip_ms())
        .filter(|ms| ms.is_finite() && *ms > 0.0)
    {
        lo = lo.min(ms);
        hi = hi.max(ms);
    }
    if !lo.is_finite() {
        (lo, hi) = (1.0, 10.0);
    }
    // The scale: from the decade below the fastest round trip to 1, 2 or 5 times the decade above the slowest.
    let floor = 10f64.powf(lo.max(0.001).log10().floor());
    let top = {
        let d = 10f64.powf(hi.max(floor).log10().floor());
        [1.0, 2.0, 5.0, 10.0]
            .iter()
            .map(|m| m * d)
            .find(|t| *t >= hi * 0.999)
            .unwrap_or(10.0 * d)
            .max(floor * 10.0)
    };
    let y_max = (top / floor).log10();
    let decades = y_max.ceil() as i32;
    let mut y_ticks = Vec::new();
    for d in 0..=decades {
        let base = floor * 10f64.powi(d);
        let mults: &[f64] = if decades <= 2 {
            &[1.0, 2.0, 5.0]
        } else {
            &[1.0]
        };
        for m in mults {
            let v = base * m;
            if v <= top * 1.0001 {
                y_ticks.push(((v / floor).log10(), ms_label(v)));
            }
        }
    }
    let break_after_us = (median_interval_us * 3).max(median_interval_us + 2_000_000);
    let (from_us, to_us) = (frame.from_us, frame.to_us);
    let mut series = Vec::new();
    let mut lanes = Vec::new();
    for (i, (name, probes)) in by_target.iter().enumerate() {
        let class = PALETTE[i % PALETTE.len()];
        let (mut ts, mut values, mut brk_prefix) = (Vec::new(), Vec::new(), Vec::new());
        let (mut breaks, mut fails_since) = (0u32, 0u32);
        let mut last_end: Option<i64> = None;
        let mut fail_us: Vec<i64> = Vec::new();
        let mut last_fail_col = i64::MIN;
        for p in probes {
            let t = p.ts.as_unix_micros();
            match p.round_trip_ms().filter(|ms| ms.is_finite() && *ms > 0.0) {
                Some(ms) => {
                    if fails_since >= 3 || last_end.is_some_and(|e| t - e > break_after_us) {
                        breaks += 1;
                    }
                    fails_since = 0;
                    last_end = Some(t.saturating_add((ms * 1000.0) as i64));
                    ts.push(t);
                    values.push((ms / floor).log10());
                    brk_prefix.push(breaks);
                }
                None => {
                    fails_since += 1;
                    // Keep a few failure times per pixel column: enough to draw and zoom a little.
                    let col = ((frame.x(t) - frame.left) * 4.0) as i64;
                    if col != last_fail_col {
                        fail_us.push(t);
                        last_fail_col = col;
                    }
                }
            }
        }
        let mut idx = downsample_minmax(&ts, &values, columns, keep);
        idx.sort_unstable();
        idx.dedup();
        let mut points = Vec::with_capacity(idx.len());
        let mut prev: Option<usize> = None;
        for k in idx {
            let brk = prev.is_some_and(|p| brk_prefix[k] > brk_prefix[p]);
            points.push((ts[k], values[k], brk));
            prev = Some(k);
        }
        if !points.is_empty() {
            series.push(Series {
                name: (*name).to_owned(),
                class,
                area: false,
                points,
                json_scale: 1000.0,
            });
        }
        // Figures over the probes that started in the range (stabmon-core's loss and jitter).
        let in_range = || {
            probes.iter().filter(|p| {
                let t = p.ts.as_unix_micros();
                t >= from_us && t <= to_us
            })
        };
        let mut rtts: Vec<f64> = in_range().filter_map(|p| p.round_trip_ms()).collect();
        let max_ms = rtts.iter().copied().reduce(f64::max);
        let median_ms = (!rtts.is_empty()).then(|| {
            let mid = rtts.len() / 2;
            *rtts.select_nth_unstable_by(mid, f64::total_cmp).1
        });
        lanes.push(Lane {
            name: (*name).to_owned(),
            class,
            fail_us,
            probes: in_range().count() as u64,
            failed: in_range().filter(|p| !p.outcome.is_ok()).count() as u64,
            loss: loss(in_range()).unwrap_or(0.0),
            jitter_ms: jitter_ms(in_range()),
            median_ms,
            max_ms,
        });
    }
    // Room for the lowest value label above the lanes, then a lane per target.
    let band_h = lanes.len() as f64 * LANE_PX + 9.0;
    Some(ChartModel {
        kind: Chart::Latency,
        id: "lat",
        title: "Network latency, round trip (log scale)",
        unit: Unit::LogMs,
        y_max,
        y_ticks,
        series,
        labels: Vec::new(),
        label_rows: 0,
        plot_top: 0.0,
        plot_h: 150.0 + band_h,
        svg_h: 0.0,
        band_h,
        log_floor_ms: floor,
        lanes,
    })
}

/// A tick label in milliseconds or seconds: `0.1 ms`, `2 ms`, `500 ms`, `1 s`, `20 s`.
pub(crate) fn ms_label(v: f64) -> String {
    let trim = |x: f64| {
        let s = format!("{x:.3}");
        s.trim_end_matches('0').trim_end_matches('.').to_owned()
    };
    if v >= 1000.0 {
        format!("{} s", trim(v / 1000.0))
    } else {
        format!("{} ms", trim(v))
    }
}

/// The gap panel of incident `incident` (a gap): the minute before it, read from `source`.
fn gap_panel(
    series: &SystemSeries,
    source: &dyn WindowSource,
    ts: &[i64],
    incident: usize,
    inc: &Incident,
    kind: GapKind,
) -> Result<GapPanel, Error> {
    let start = inc.start.as_unix_micros().min(inc.end.as_unix_micros());
    let end_idx = ts.partition_point(|t| *t <= start);
    let from = start - 60_000_000;
    let begin = ts.partition_point(|t| *t < from);
    let win = if begin < end_idx {
        let (a, b) = (series.ts[begin], series.ts[end_idx - 1]);
        source.samples_between(a, b).map_err(|source| Error::Read {
            what: format!("the minute before the gap at {}", inc.start),
            source,
        })?
    } else {
        Vec::new()
    };
    let after = ts.partition_point(|t| *t < inc.end.as_unix_micros().max(start + 1));
    let mut p = GapPanel {
        incident,
        kind,
        samples: win.len(),
        window_from_us: from,
        last_us: win.last().map(|s| s.ts.as_unix_micros()),
        cpu_mean_pct: 0.0,
        cpu_max_pct: 0.0,
        mem_used_last: win.last().map_or(0, |s| s.memory.used_bytes),
        mem_used_max: 0,
        mem_total: win.last().map_or(0, |s| s.memory.total_bytes),
        mem_avail_min: u64::MAX,
        swap_used_first: win.first().map_or(0, |s| s.memory.swap_used_bytes),
        swap_used_last: win.last().map_or(0, |s| s.memory.swap_used_bytes),
        swap_total: win.last().map_or(0, |s| s.memory.swap_total_bytes),
        pressure_max: [None; 5],
        oom_first: win.first().and_then(|s| s.oom_kill_count),
        oom_last: win.last().and_then(|s| s.oom_kill_count),
        oom_after: series.oom_kill_count.get(after).copied().flatten(),
        top_cpu: Vec::new(),
        top_rss: Vec::new(),
    };
    if win.is_empty() {
        p.mem_avail_min = 0;
        return Ok(p);
    }
    let mut cpu_by: BTreeMap<ProcRef, (f64, u64)> = BTreeMap::new();
    let mut first_rss: BTreeMap<ProcRef, u64> = BTreeMap::new();
    for s in &win {
        let busy = f64::from(s.cpu.busy_pct);
        p.cpu_mean_pct += busy / win.len() as f64;
        p.cpu_max_pct = p.cpu_max_pct.max(busy);
        p.mem_used_max = p.mem_used_max.max(s.memory.used_bytes);
        p.mem_avail_min = p.mem_avail_min.min(s.memory.available_bytes);
        if let Some(ps) = s.pressure {
            let vals = [
                ps.cpu_some_pct,
                ps.memory_some_pct,
                ps.memory_full_pct,
                ps.io_some_pct,
                ps.io_full_pct,
            ];
            for (m, v) in p.pressure_max.iter_mut().zip(vals) {
                if let Some(v) = v {
                    *m = Some(m.unwrap_or(0.0).max(f64::from(v)));
                }
            }
        }
        for e in &s.top.processes {
            let key = ProcRef {
                name: e.name.clone(),
                pid: e.pid,
                cmdline: e.cmdline.clone(),
            };
            first_rss.entry(key.clone()).or_insert(e.rss_bytes);
            let ent = cpu_by.entry(key).or_insert((0.0, 0));
            ent.0 = ent.0.max(f64::from(e.cpu_pct));
            ent.1 = e.rss_bytes;
        }
    }
    let mut cpu: Vec<(ProcRef, f64, u64)> =
        cpu_by.into_iter().map(|(k, (c, r))| (k, c, r)).collect();
    cpu.sort_by(|a, b| b.1.total_cmp(&a.1).then(a.0.cmp(&b.0)));
    cpu.truncate(5);
    p.top_cpu = cpu;
    if let Some(last) = win.last() {
        let mut rss: Vec<&ProcessEntry> = last
            .top
            .processes
            .iter()
            .filter(|e| e.rss_rank.is_some())
            .collect();
        rss.sort_by_key(|e| e.rss_rank);
        p.top_rss = rss
            .into_iter()
            .take(5)
            .map(|e| {
                let key = ProcRef {
                    name: e.name.clone(),
                    pid: e.pid,
                    cmdline: e.cmdline.clone(),
                };
                let first = first_rss.get(&key).copied().unwrap_or(e.rss_bytes);
                let growth = i64::try_from(e.rss_bytes).unwrap_or(i64::MAX)
                    - i64::try_from(first).unwrap_or(i64::MAX);
                (key, e.rss_bytes, growth)
            })
            .collect();
    }
    Ok(p)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn label(incident: usize, peak_x: f64, width: f64) -> Label {
        Label {
            incident,
            text: String::new(),
            full: String::new(),
            peak_x,
            marker_y: None,
            row: 0,
            left: 0.0,
            width,
            class: "k-cpu",
        }
    }

    #[test]
    fn labels_never_overlap_in_a_row() {
        let mut ls: Vec<Label> = (0..12)
            .map(|i| label(i, 100.0 + (i as f64) * 37.0, 150.0))
            .collect();
        ls.push(label(12, 5.0, 150.0));
        ls.push(label(13, 2000.0, 150.0));
        let rows = place_labels(&mut ls, 60.0, 1000.0);
        assert!(rows >= 4, "{rows}");
        for a in &ls {
            assert!(a.left >= 60.0 && a.left + a.width <= 1000.0, "{}", a.left);
            for b in &ls {
                if a.incident != b.incident && a.row == b.row {
                    assert!(
                        a.left + a.width <= b.left || b.left + b.width <= a.left,
                        "{} / {}",
                        a.incident,
                        b.incident
                    );
                }
            }
        }
        // A lone label sits on the first row, centred on its peak.
        let mut one = vec![label(0, 500.0, 100.0)];
        assert_eq!(place_labels(&mut one, 60.0, 1000.0), 1);
        assert_eq!((one[0].row, one[0].left), (0, 450.0));
    }

    #[test]
    fn nice_steps() {
        assert_eq!(nice_max_and_step(16.0, 4.0), (16.0, 4.0));
        assert_eq!(nice_max_and_step(9.3, 4.0), (10.0, 2.5));
        assert_eq!(nice_max_and_step(13.0, 4.0), (16.0, 4.0));
        assert_eq!(nice_max_and_step(0.0, 4.0), (1.0, 0.25));
    }
}
