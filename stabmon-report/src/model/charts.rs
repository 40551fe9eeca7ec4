//! The system charts (CPU, memory, load) as series reduced to the pixel columns, and which chart goes where.

use super::lines::Lines;
use super::reduce::{Extracted, extract, nice_max_and_step, reduce, y_ticks};
use super::*;

/// Colour classes of the culprit lines.
const PALETTE: [&str; 6] = ["s-p0", "s-p1", "s-p2", "s-p3", "s-p4", "s-p5"];

/// What every chart is drawn from.
#[derive(Clone, Copy)]
pub(super) struct ChartInput<'a> {
    pub(super) series: &'a SystemSeries,
    /// The samples' times, µs.
    pub(super) ts: &'a [Timestamp],
    /// Pixel columns the series are reduced to.
    pub(super) columns: usize,
    pub(super) kept: &'a Kept,
    /// Where the recording breaks (sample indices).
    pub(super) breaks: &'a [usize],
    pub(super) cores: usize,
    pub(super) median_interval_us: i64,
    /// The latency chart's scale and lanes, where there are probes.
    pub(super) latency: Option<&'a latency::LatencyFigures>,
}

/// A drawn series of a column: its values without the missing ones ([`extract`] of the column's values, a value a
/// sample in order).
/// Extracted into the buffer given (whose values it replaces), so that a chart's series reuse one buffer.
type Values<'g> = Box<dyn FnOnce(Vec<f64>) -> Extracted<'g> + 'g>;

/// The chart `kind`, without its labels and culprit lines ([`add_lines`]); `None` for a latency chart without
/// probes. Reads only the series, so charts are drawn while whole samples are read.
/// `scratch`: a buffer the series' values are extracted into, reused from chart to chart.
pub(super) fn chart(
    input: &ChartInput<'_>,
    kind: Chart,
    scratch: &mut Vec<f64>,
) -> Option<ChartModel> {
    if kind == Chart::Latency {
        return input.latency.map(|figures| {
            latency::latency_chart(
                &input.series.latency,
                figures,
                input.columns,
                &input.kept.lat_keep,
                input.median_interval_us,
            )
        });
    }
    system_chart(input, kind, scratch)
}

/// A chart of the system's columns: a list of series specs (name, colour class, filled, JSON scale, values) plus a
/// y scale.
fn system_chart(input: &ChartInput<'_>, kind: Chart, scratch: &mut Vec<f64>) -> Option<ChartModel> {
    let ChartInput {
        series,
        ts,
        columns,
        kept,
        breaks,
        cores,
        ..
    } = *input;
    let keep = &kept.keep;
    let mut specs: Vec<(String, &'static str, bool, f64, Values<'_>)> = Vec::new();
    let (id, title, unit, plot_h, y_max, y_step) = match kind {
        Chart::Cpu => {
            specs.push((
                "machine busy".into(),
                "s-busy",
                true,
                10.0,
                Box::new(move |buf| {
                    extract(
                        ts,
                        series.cpu_busy_pct.iter().map(|v| Some(f64::from(*v))),
                        buf,
                    )
                }),
            ));
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
                Box::new(move |buf| {
                    extract(
                        ts,
                        series.mem_used_bytes.iter().map(|b| Some(b as f64 / GB)),
                        buf,
                    )
                }),
            ));
            specs.push((
                "available".into(),
                "s-avail",
                false,
                1000.0,
                Box::new(move |buf| {
                    extract(
                        ts,
                        series
                            .mem_available_bytes
                            .iter()
                            .map(|b| Some(b as f64 / GB)),
                        buf,
                    )
                }),
            ));
            specs.push((
                "swap used".into(),
                "s-swap",
                false,
                1000.0,
                Box::new(move |buf| {
                    extract(
                        ts,
                        series.swap_used_bytes.iter().map(|b| Some(b as f64 / GB)),
                        buf,
                    )
                }),
            ));
            let (m, st) = nice_max_and_step(max as f64 / GB, 4.0);
            ("mem", "Memory and swap", Unit::Gb, 150.0, m, st)
        }
        // Drawn by `latency_chart`.
        Chart::Latency => return None,
        Chart::Load => {
            // A sample's load averages are there where its 1-minute one is (see `SystemSeries::load`).
            let [one, five, fifteen] = &series.load;
            let max = one
                .iter()
                .zip(five.iter())
                .zip(fifteen.iter())
                .filter(|((one, _), _)| !one.is_nan())
                .map(|((one, five), fifteen)| f64::from(one.max(five).max(fifteen)))
                .fold(cores as f64, f64::max);
            specs.push((
                "load 1 min".into(),
                "s-load1",
                false,
                100.0,
                Box::new(move |buf| {
                    extract(
                        ts,
                        one.iter()
                            .map(|one| (!one.is_nan()).then(|| f64::from(one))),
                        buf,
                    )
                }),
            ));
            specs.push((
                "load 15 min".into(),
                "s-load15",
                false,
                100.0,
                Box::new(move |buf| {
                    extract(
                        ts,
                        one.iter()
                            .zip(fifteen.iter())
                            .map(|(one, fifteen)| (!one.is_nan()).then(|| f64::from(fifteen))),
                        buf,
                    )
                }),
            ));
            let (m, st) = nice_max_and_step(max * 1.1, 4.0);
            ("load", "Load average", Unit::Load, 110.0, m, st)
        }
    };
    let mut drawn = Vec::new();
    for (name, class, area, json_scale, values) in specs {
        let e = values(std::mem::take(scratch));
        if e.values.is_empty() {
            *scratch = e.into_values();
            continue;
        }
        let points = reduce(&e, columns, keep, breaks);
        *scratch = e.into_values();
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

/// Adds the culprit lines to the CPU and memory charts, after the columns' series: a line per name of `cpu_names`
/// on the CPU chart, then per name of `mem_names` on the memory chart (resident memory), through `lines`.
pub(super) fn add_lines(
    charts: &mut [ChartModel],
    lines: &Lines,
    (cpu_names, mem_names): (&[String], &[String]),
    columns: usize,
    keep: &[i64],
) {
    for chart in charts {
        let drawn: Vec<(String, &'static str, f64, usize)> = match chart.kind {
            Chart::Cpu => cpu_names
                .iter()
                .enumerate()
                .map(|(i, name)| (name.clone(), PALETTE[i % PALETTE.len()], 10.0, i))
                .collect(),
            Chart::Memory => mem_names
                .iter()
                .enumerate()
                .map(|(i, name)| {
                    (
                        format!("{name} (resident)"),
                        PALETTE[(i + 3) % PALETTE.len()],
                        1000.0,
                        cpu_names.len() + i,
                    )
                })
                .collect(),
            Chart::Load | Chart::Latency => continue,
        };
        for (name, class, json_scale, k) in drawn {
            let values = lines.values.iter().map(|v| v.get(k).copied().flatten());
            let e = extract(&lines.ts, values, Vec::new());
            if e.values.is_empty() {
                continue;
            }
            chart.series.push(Series {
                name,
                class,
                area: false,
                points: reduce(&e, columns, keep, &lines.breaks),
                json_scale,
            });
        }
    }
}
