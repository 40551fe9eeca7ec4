//! Inline SVG for one chart, written by hand: every element gets the classes, ids and links the page needs (spike
//! labels link to their table row, gap bands carry their kind), and nothing in it depends on the script.

use std::fmt::Write as _;

use crate::escape::{html, push_html, truncate_chars};
use crate::model::{ChartModel, LABEL_ROW_PX, LANE_PX, Model};
use crate::timefmt::ticks;

/// Minimum distance between time-axis ticks, in pixels.
pub(crate) const TICK_MIN_PX: f64 = 90.0;

fn f1(v: f64) -> String {
    let r = (v * 10.0).round() / 10.0;
    if r == r.trunc() {
        format!("{r:.0}")
    } else {
        format!("{r:.1}")
    }
}

/// The points of `points` a path needs at its resolution (a tenth of a pixel): of a run of points in one column
/// without a break, its first, lowest, highest and last, in time order, which draw the same stroke as all of them.
/// The data behind the chart keeps every point, for zooming in.
pub(crate) fn drawn(
    points: &[(i64, f64, bool)],
    x_px: impl Fn(i64) -> f64,
) -> Vec<(i64, f64, bool)> {
    let column = |t: i64| (x_px(t) * 10.0).round();
    let mut out = Vec::new();
    let mut i = 0;
    while i < points.len() {
        let x = column(points[i].0);
        let mut j = i + 1;
        while j < points.len() && !points[j].2 && column(points[j].0) == x {
            j += 1;
        }
        let run = &points[i..j];
        if run.len() <= 4 {
            out.extend_from_slice(run);
        } else {
            let (mut lo, mut hi) = (0, 0);
            for (k, p) in run.iter().enumerate() {
                if p.1 < run[lo].1 {
                    lo = k;
                }
                if p.1 > run[hi].1 {
                    hi = k;
                }
            }
            let mut keep = [0, lo, hi, run.len() - 1];
            keep.sort_unstable();
            let mut last = None;
            for k in keep {
                if last != Some(k) {
                    out.push(run[k]);
                    last = Some(k);
                }
            }
        }
        i = j;
    }
    out
}

/// The path of a line through `points`, starting a new subpath after each break.
pub(crate) fn line_path(model: &Model, chart: &ChartModel, points: &[(i64, f64, bool)]) -> String {
    let mut d = String::with_capacity(points.len() * 12);
    let mut first = true;
    for &(t, v, brk) in points {
        let cmd = if first || brk { 'M' } else { 'L' };
        first = false;
        let _ = write!(d, "{cmd}{},{}", f1(model.frame.x(t)), f1(chart.y(v)));
    }
    d
}

/// The path of the area under `points`, one closed shape per unbroken run.
pub(crate) fn area_path(model: &Model, chart: &ChartModel, points: &[(i64, f64, bool)]) -> String {
    let base = f1(chart.plot_top + chart.plot_h);
    let mut d = String::with_capacity(points.len() * 12);
    let mut run_start: Option<String> = None;
    let mut last_x = String::new();
    for &(t, v, brk) in points {
        let x = f1(model.frame.x(t));
        if brk && run_start.is_some() {
            let _ = write!(d, "L{last_x},{base}Z");
            run_start = None;
        }
        if run_start.is_none() {
            let _ = write!(d, "M{x},{base}L{x},{}", f1(chart.y(v)));
            run_start = Some(x.clone());
        } else {
            let _ = write!(d, "L{x},{}", f1(chart.y(v)));
        }
        last_x = x;
    }
    if run_start.is_some() {
        let _ = write!(d, "L{last_x},{base}Z");
    }
    d
}

/// Writes the SVG of chart `ci`, its element ids starting with `ids` (empty on a one-host page, the host's anchor
/// on a fleet page, so that several hosts' charts live on one page).
pub(crate) fn chart_svg(out: &mut String, model: &Model, ci: usize, ids: &str) {
    let Some(c) = model.charts.get(ci) else {
        return;
    };
    let f = &model.frame;
    let (left, right) = (f.left, f.left + f.width);
    let (top, bottom) = (c.plot_top, c.plot_top + c.plot_h);
    let _ = write!(
        out,
        "<svg class=\"chart\" id=\"{ids}chart-{id}\" data-chart=\"{ci}\" width=\"{w}\" height=\"{h}\" \
         viewBox=\"0 0 {w} {h}\" role=\"img\" aria-labelledby=\"{ids}title-{id}\">",
        id = c.id,
        w = f1(model.width_px),
        h = f1(c.svg_h),
    );
    let _ = write!(
        out,
        "<title id=\"{ids}title-{}\">{}</title>",
        c.id,
        html(c.title)
    );

    // Value grid.
    out.push_str("<g class=\"grid\">");
    for (v, label) in &c.y_ticks {
        let y = f1(c.y(*v));
        let _ = write!(
            out,
            "<line x1=\"{}\" x2=\"{}\" y1=\"{y}\" y2=\"{y}\"/><text class=\"yl\" x=\"{}\" y=\"{y}\" dy=\"4\">{}</text>",
            f1(left),
            f1(right),
            f1(left - 6.0),
            html(label)
        );
    }
    out.push_str("</g>");

    // Gap bands and series sit in a nested viewport over the plot area, which clips what the script draws
    // beyond the edges when zoomed in (without a clipPath, whose url(#...) reference the page avoids).
    let _ = write!(
        out,
        "<svg class=\"plot\" x=\"{l}\" y=\"0\" width=\"{w}\" height=\"{h}\" viewBox=\"{l} 0 {w} {h}\">",
        l = f1(left),
        w = f1(right - left),
        h = f1(bottom + 1.0)
    );
    // Gap bands.
    let _ = write!(
        out,
        "<g class=\"gaps\" data-top=\"{}\" data-h=\"{}\">",
        f1(top),
        f1(c.plot_h)
    );
    for &(s, e, i) in &model.gaps {
        let class = model
            .incidents
            .get(i)
            .map_or("k-died", |inc| crate::model::kind_class(&inc.kind));
        let x0 = f.x(s).clamp(left, right);
        let x1 = f.x(e).clamp(left, right).max(x0 + 2.0);
        let title = model
            .incidents
            .get(i)
            .map(|inc| inc.label())
            .unwrap_or_default();
        let _ = write!(
            out,
            "<rect class=\"gap {class}\" data-i=\"{i}\" x=\"{}\" y=\"{}\" width=\"{}\" height=\"{}\"><title>{}</title></rect>",
            f1(x0),
            f1(top),
            f1(x1 - x0),
            f1(c.plot_h),
            html(&title)
        );
    }
    out.push_str("</g>");

    // Series.
    out.push_str("<g class=\"series\">");
    for (si, s) in c.series.iter().enumerate() {
        let points = drawn(&s.points, |t| model.frame.x(t));
        if s.area {
            let _ = write!(
                out,
                "<path class=\"area {}\" data-s=\"{si}\" d=\"{}\"/>",
                s.class,
                area_path(model, c, &points)
            );
        }
        let _ = write!(
            out,
            "<path class=\"ln {}\" data-s=\"{si}\" d=\"{}\"/>",
            s.class,
            line_path(model, c, &points)
        );
    }
    out.push_str("</g>");
    // Failed probes: a red tick per pixel column on the target's lane, never a value on the scale.
    if !c.lanes.is_empty() {
        out.push_str("<g class=\"fails\">");
        for (k, lane) in c.lanes.iter().enumerate() {
            let y = c.lane_y(k);
            let _ = write!(
                out,
                "<rect class=\"laneb\" x=\"{}\" y=\"{}\" width=\"{}\" height=\"{}\"/>",
                f1(left),
                f1(y),
                f1(right - left),
                f1(LANE_PX - 2.0)
            );
            let mut d = String::new();
            let mut last = f64::NEG_INFINITY;
            for &t in &lane.fail_us {
                let x = (f.x(t) * 2.0).round() / 2.0;
                if x - last >= 1.0 {
                    let _ = write!(d, "M{},{}v{}", f1(x), f1(y), f1(LANE_PX - 2.0));
                    last = x;
                }
            }
            let _ = write!(
                out,
                "<path class=\"fl\" data-l=\"{k}\" data-n=\"{n}\" d=\"{d}\"><title>{name}: {n} failed probe{s}</title></path>",
                n = lane.failed,
                s = if lane.failed == 1 { "" } else { "s" },
                name = html(&lane.name),
            );
        }
        out.push_str("</g>");
    }
    out.push_str("</svg>");
    // Lane names in the left margin.
    for (k, lane) in c.lanes.iter().enumerate() {
        let _ = write!(
            out,
            "<text class=\"yl lnn\" x=\"{}\" y=\"{}\">{}<title>{}</title></text>",
            f1(left - 6.0),
            f1(c.lane_y(k) + LANE_PX - 3.0),
            html(&truncate_chars(&lane.name, 9)),
            html(&lane.name)
        );
    }

    // Time axis.
    let _ = write!(
        out,
        "<g class=\"xaxis\"><line class=\"base\" x1=\"{}\" x2=\"{}\" y1=\"{b}\" y2=\"{b}\"/><g class=\"ticks\">",
        f1(left),
        f1(right),
        b = f1(bottom)
    );
    out.push_str(&ticks_svg(model, c));
    out.push_str("</g></g>");

    // Spike labels and their markers.
    out.push_str("<g class=\"incs\">");
    for l in &c.labels {
        let box_y = top - 8.0 - (l.row as f64 + 1.0) * LABEL_ROW_PX + 2.0;
        let cx = l.left + l.width / 2.0;
        let anchor_x = l.peak_x.clamp(l.left + 4.0, l.left + l.width - 4.0);
        let _ = write!(
            out,
            "<g class=\"inc {class}\" id=\"{ids}inc-{i}\" data-i=\"{i}\">",
            class = l.class,
            i = l.incident
        );
        let (tip_y, marker) = match l.marker_y {
            Some(my) => (top + my, true),
            None => (top, false),
        };
        let _ = write!(
            out,
            "<line class=\"lead\" x1=\"{}\" y1=\"{}\" x2=\"{}\" y2=\"{}\"/>",
            f1(anchor_x),
            f1(box_y + LABEL_ROW_PX - 2.0),
            f1(l.peak_x),
            f1(tip_y)
        );
        if marker {
            let _ = write!(
                out,
                "<circle class=\"mark\" cx=\"{}\" cy=\"{}\" r=\"4\"/>",
                f1(l.peak_x),
                f1(tip_y)
            );
        }
        let _ = write!(
            out,
            "<a href=\"#{ids}row-{i}\"><rect class=\"lb\" x=\"{}\" y=\"{}\" width=\"{}\" height=\"{}\" rx=\"3\"/>\
             <text class=\"lt\" x=\"{}\" y=\"{}\">",
            f1(l.left),
            f1(box_y),
            f1(l.width),
            f1(LABEL_ROW_PX - 2.0),
            f1(cx),
            f1(box_y + 11.0),
            i = l.incident
        );
        push_html(out, &l.text);
        out.push_str("</text><title>");
        push_html(out, &l.full);
        out.push_str("</title></a></g>");
    }
    out.push_str("</g></svg>");
}

/// The tick marks and labels of the time axis.
fn ticks_svg(model: &Model, c: &ChartModel) -> String {
    let f = &model.frame;
    let bottom = c.plot_top + c.plot_h;
    let mut out = String::new();
    let from_s = f.from_us.div_euclid(1_000_000);
    let to_s = f.to_us.div_euclid(1_000_000);
    for t in ticks(from_s, to_s, f.width, TICK_MIN_PX, &model.offsets) {
        let x = f1(f.x(t.utc_secs * 1_000_000));
        let _ = write!(
            out,
            "<line x1=\"{x}\" x2=\"{x}\" y1=\"{}\" y2=\"{}\"/><text x=\"{x}\" y=\"{}\">{}</text>",
            f1(c.plot_top),
            f1(bottom + 4.0),
            f1(bottom + 16.0),
            html(&t.label)
        );
        if let Some(day) = t.day {
            let _ = write!(
                out,
                "<text class=\"day\" x=\"{x}\" y=\"{}\">{}</text>",
                f1(bottom + 29.0),
                html(&day)
            );
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::drawn;

    #[test]
    fn a_column_keeps_its_first_lowest_highest_and_last_point() {
        // Ten points in one tenth of a pixel, then three in the next, a break, and two more in that column.
        let mut points: Vec<(i64, f64, bool)> = (0..10)
            .map(|i| (i, [5.0, 1.0, 9.0][i as usize % 3] + i as f64 / 100.0, false))
            .collect();
        points.extend([(100, 3.0, false), (101, 4.0, false), (102, 2.0, false)]);
        points.extend([(103, 7.0, true), (104, 6.0, false)]);
        let got = drawn(&points, |t| t as f64 / 1000.0);
        assert_eq!(
            got,
            vec![
                (0, 5.0, false),
                (1, 1.01, false),
                (8, 9.08, false),
                (9, 5.09, false),
                (100, 3.0, false),
                (101, 4.0, false),
                (102, 2.0, false),
                (103, 7.0, true),
                (104, 6.0, false),
            ]
        );
    }
}
