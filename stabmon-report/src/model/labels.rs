//! Spike labels: which chart an incident is labelled on, how wide a label is, and where labels sit without
//! overlapping.

use super::*;

/// Where an incident is drawn, and at which value its marker sits.
pub(super) fn incident_chart(kind: &IncidentKind) -> Option<Chart> {
    match kind {
        IncidentKind::CpuSurge | IncidentKind::Runaway => Some(Chart::Cpu),
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
        IncidentKind::CpuSurge | IncidentKind::Runaway => "k-cpu",
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

/// Labels each incident on its chart (gaps on the first chart, `first_chart`), placed without overlap, and sizes
/// each chart for its rows of labels.
pub(super) fn label_spikes(
    charts: &mut [ChartModel],
    incidents: &[Incident],
    series: &SystemSeries,
    frame: &Frame,
    ts: &[Timestamp],
    first_chart: Option<Chart>,
) {
    for c in charts.iter_mut() {
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
            let marker_value = if is_gap || ts.is_empty() {
                None
            } else {
                let i = raw_at(ts, peak_us);
                Some(match (kind, &inc.kind) {
                    (Chart::Cpu, _) => f64::from(series.cpu_busy_pct[i]),
                    (Chart::Memory, IncidentKind::SwapGrowth) => {
                        series.swap_used_bytes.get(i) as f64 / GB
                    }
                    (Chart::Memory, _) => series.mem_used_bytes.get(i) as f64 / GB,
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
}
