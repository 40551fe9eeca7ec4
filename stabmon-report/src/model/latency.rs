//! The latency chart: a line per target on a log scale, and a lane of failed probes per target.

use super::*;

/// What the latency chart shows that does not depend on the incidents: the scale and each target's lane (its
/// failures and figures). Made while incidents are detected.
pub(crate) struct LatencyFigures {
    /// The round trip at the bottom of the log scale.
    floor_ms: f64,
    y_max: f64,
    y_ticks: Vec<(f64, String)>,
    /// A lane per target, in the order of the targets.
    lanes: Vec<Lane>,
}

/// Colour classes of the targets' lines and lanes.
const PALETTE: [&str; 6] = ["s-p0", "s-p1", "s-p2", "s-p3", "s-p4", "s-p5"];

/// The latency chart's scale and lanes (see [`LatencyFigures`]); `None` without any probe.
pub(super) fn latency_figures(
    by_target: &BTreeMap<String, ProbeList>,
    frame: &Frame,
) -> Option<LatencyFigures> {
    if by_target.is_empty() {
        return None;
    }
    let (mut lo, mut hi) = (f64::INFINITY, 0.0f64);
    for ms in by_target
        .values()
        .flat_map(ProbeList::iter)
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
    let (from_us, to_us) = (frame.from_us, frame.to_us);
    let mut lanes = Vec::new();
    for (i, (name, probes)) in by_target.iter().enumerate() {
        // Keep a few failure times per pixel column: enough to draw and zoom a little.
        let mut fail_us: Vec<i64> = Vec::new();
        let mut last_fail_col = i64::MIN;
        for p in probes.iter() {
            if p.round_trip_ms()
                .filter(|ms| ms.is_finite() && *ms > 0.0)
                .is_none()
            {
                let t = p.ts.as_unix_micros();
                let col = ((frame.x(t) - frame.left) * 4.0) as i64;
                if col != last_fail_col {
                    fail_us.push(t);
                    last_fail_col = col;
                }
            }
        }
        // Figures over the probes that started in the range (stabmon-core's loss and jitter); they are in start
        // order.
        let lo = probes.partition_point(|p| p.ts.as_unix_micros() < from_us);
        let hi = probes.partition_point(|p| p.ts.as_unix_micros() <= to_us);
        let in_range = || probes.range(lo..hi);
        // The slowest round trip and the failures in one pass; the loss is the failures' share (as `loss` counts
        // it).
        let (mut max_ms, mut failed) = (None, 0u64);
        for p in in_range() {
            if let Some(ms) = p.round_trip_ms() {
                max_ms = Some(max_ms.map_or(ms, |m: f64| m.max(ms)));
            }
            failed += u64::from(!p.outcome.is_ok());
        }
        let count = hi.saturating_sub(lo) as u64;
        let median_ms = median_rtt_ms(in_range());
        lanes.push(Lane {
            name: (*name).to_owned(),
            class: PALETTE[i % PALETTE.len()],
            fail_us,
            probes: count,
            failed,
            loss: if count > 0 {
                failed as f64 / count as f64
            } else {
                0.0
            },
            jitter_ms: jitter_ms(in_range()),
            median_ms,
            max_ms,
        });
    }
    Some(LatencyFigures {
        floor_ms: floor,
        y_max,
        y_ticks,
        lanes,
    })
}

/// The latency chart: one line per target through its successful round trips on a log scale (so a few
/// milliseconds stay readable beside a 2 s stall), and a lane per target at the bottom where failed probes are
/// ticks, never values (`figures`, of the same probes and frame). A line breaks where three or more probes in a
/// row failed, or where probing paused.
pub(super) fn latency_chart(
    by_target: &BTreeMap<String, ProbeList>,
    figures: &LatencyFigures,
    columns: usize,
    keep: &[i64],
    median_interval_us: i64,
) -> ChartModel {
    let LatencyFigures {
        floor_ms: floor,
        y_max,
        ref y_ticks,
        ref lanes,
    } = *figures;
    let break_after_us = (median_interval_us * 3).max(median_interval_us + 2_000_000);
    let mut series = Vec::new();
    for (i, (name, probes)) in by_target.iter().enumerate() {
        let class = PALETTE[i % PALETTE.len()];
        // The successful probes' (time, log value), walked again rather than copied: a month has millions.
        let ok = || {
            probes.iter().filter_map(move |p| {
                let ms = p.round_trip_ms().filter(|ms| ms.is_finite() && *ms > 0.0)?;
                Some((p.ts.as_unix_micros(), (ms / floor).log10()))
            })
        };
        let idx = downsample_minmax_iter(ok(), columns, keep);
        // The line breaks before a probe after three or more failed ones, or after a pause in probing.
        let (mut breaks, mut fails_since) = (0u32, 0u32);
        let mut last_end: Option<i64> = None;
        let mut points = Vec::with_capacity(idx.len());
        let (mut k, mut wanted) = (0usize, idx.iter().peekable());
        let mut drawn_breaks: Option<u32> = None;
        for p in probes.iter() {
            let t = p.ts.as_unix_micros();
            match p.round_trip_ms().filter(|ms| ms.is_finite() && *ms > 0.0) {
                Some(ms) => {
                    if fails_since >= 3 || last_end.is_some_and(|e| t - e > break_after_us) {
                        breaks += 1;
                    }
                    fails_since = 0;
                    last_end = Some(t.saturating_add((ms * 1000.0) as i64));
                    if wanted.next_if_eq(&&k).is_some() {
                        let brk = drawn_breaks.is_some_and(|b| breaks > b);
                        points.push((t, (ms / floor).log10(), brk));
                        drawn_breaks = Some(breaks);
                    }
                    k += 1;
                }
                None => fails_since += 1,
            }
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
    }
    // Room for the lowest value label above the lanes, then a lane per target.
    let band_h = lanes.len() as f64 * LANE_PX + 9.0;
    ChartModel {
        kind: Chart::Latency,
        id: "lat",
        title: "Network latency, round trip (log scale)",
        unit: Unit::LogMs,
        y_max,
        y_ticks: y_ticks.clone(),
        series,
        labels: Vec::new(),
        label_rows: 0,
        plot_top: 0.0,
        plot_h: 150.0 + band_h,
        svg_h: 0.0,
        band_h,
        log_floor_ms: floor,
        lanes: lanes.clone(),
    }
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
