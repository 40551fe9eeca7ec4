//! The system charts (CPU, memory, load) as series reduced to the pixel columns, and which chart goes where.

use super::lines::Lines;
use super::reduce::{extract, nice_max_and_step, reduce, y_ticks};
use super::*;

/// Colour classes of the culprit lines.
const PALETTE: [&str; 6] = ["s-p0", "s-p1", "s-p2", "s-p3", "s-p4", "s-p5"];

/// What every chart is drawn from.
#[derive(Clone, Copy)]
pub(super) struct ChartInput<'a> {
    pub(super) series: &'a SystemSeries,
    /// The samples' times, µs.
    pub(super) ts: &'a [Timestamp],
    pub(super) frame: &'a Frame,
    /// Pixel columns the series are reduced to.
    pub(super) columns: usize,
    pub(super) kept: &'a Kept,
    /// Where the recording breaks (sample indices).
    pub(super) breaks: &'a [usize],
    pub(super) lines: &'a Lines,
    pub(super) cpu_names: &'a [String],
    pub(super) mem_names: &'a [String],
    pub(super) cores: usize,
    pub(super) median_interval_us: i64,
}

/// Where a drawn series' values come from.
enum Values<'g> {
    /// A column of the series, by sample index.
    Column(Box<dyn Fn(usize) -> Option<f64> + 'g>),
    /// Culprit line `k` of [`Lines`].
    Line(usize),
}

/// The chart `kind`, without its labels; `None` for a latency chart without probes.
pub(super) fn chart(input: &ChartInput<'_>, kind: Chart) -> Option<ChartModel> {
    if kind == Chart::Latency {
        return latency::latency_chart(
            &input.series.latency,
            input.frame,
            input.columns,
            &input.kept.lat_keep,
            input.median_interval_us,
        );
    }
    system_chart(input, kind)
}

/// A chart of the system's columns, with the culprit lines on the CPU and memory charts: each is a list of series
/// specs (name, colour class, filled, JSON scale, values) plus a y scale.
fn system_chart(input: &ChartInput<'_>, kind: Chart) -> Option<ChartModel> {
    let ChartInput {
        series,
        ts,
        columns,
        kept,
        breaks,
        lines,
        cpu_names,
        mem_names,
        cores,
        ..
    } = *input;
    let keep = &kept.keep;
    let n = ts.len();
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
                .copied()
                .chain(series.mem_used_bytes.iter())
                .chain(series.swap_used_bytes.iter())
                .max()
                .unwrap_or(0);
            specs.push((
                "used".into(),
                "s-used",
                true,
                1000.0,
                Values::Column(Box::new(|i| Some(series.mem_used_bytes.get(i) as f64 / GB))),
            ));
            specs.push((
                "available".into(),
                "s-avail",
                false,
                1000.0,
                Values::Column(Box::new(|i| {
                    Some(series.mem_available_bytes.get(i) as f64 / GB)
                })),
            ));
            specs.push((
                "swap used".into(),
                "s-swap",
                false,
                1000.0,
                Values::Column(Box::new(|i| {
                    Some(series.swap_used_bytes.get(i) as f64 / GB)
                })),
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
            let (m, st) = nice_max_and_step(max as f64 / GB, 4.0);
            ("mem", "Memory and swap", Unit::Gb, 150.0, m, st)
        }
        // Drawn by `latency_chart`.
        Chart::Latency => return None,
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
                let e = extract(n, ts, &*get);
                if e.values.is_empty() {
                    continue;
                }
                reduce(&e, columns, keep, breaks)
            }
            Values::Line(k) => {
                let get = |j: usize| lines.values[j].get(k).copied().flatten();
                let e = extract(lines.idx.len(), &lines.ts, &get);
                if e.values.is_empty() {
                    continue;
                }
                reduce(&e, columns, keep, &lines.breaks)
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
    Some(ChartModel {
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
    })
}
