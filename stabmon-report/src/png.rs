//! The charts as PNG images, drawn with plotters' bitmap backend from the same [`Model`] as the page's SVG: the same
//! series, scales, gap bands and culprit labels, for mail bodies (mail clients show no inline SVG) and for files to
//! put in tickets and chat. Text is drawn with DejaVu Sans embedded in the crate, so no system font is needed.

use std::sync::OnceLock;

use plotters::backend::BitMapBackend;
use plotters::drawing::IntoDrawingArea;
use plotters::element::{Circle, PathElement, Polygon, Rectangle, Text};
use plotters::style::text_anchor::{HPos, Pos, VPos};
use plotters::style::{
    Color, FontDesc, FontFamily, FontStyle, RGBAColor, RGBColor, ShapeStyle, TextStyle,
};

use crate::Error;
use crate::escape::truncate_chars;
use crate::mail::one_line;
use crate::model::{ChartModel, LABEL_ROW_PX, LANE_PX, Model, kind_class};
use crate::svg::{TICK_MIN_PX, drawn};
use crate::timefmt::ticks;

/// DejaVu Sans (Bitstream Vera licence, see `assets/DejaVuSans-LICENSE.txt`).
static FONT: &[u8] = include_bytes!("../assets/DejaVuSans.ttf");
/// The name the font is registered under in plotters' font table: one of our own, so that no other user of
/// plotters in the process sees its fonts changed.
const FAMILY: &str = "stabmon-report-dejavu-sans";

/// Height of the title and legend above a chart's labels.
const TITLE_PX: f64 = 22.0;
/// Height of one legend row.
const LEGEND_ROW_PX: f64 = 17.0;

/// One chart drawn as a PNG image.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct PngChart {
    /// A short name for files and content ids: `cpu`, `mem`, `load` or `lat`.
    pub name: &'static str,
    /// The chart's title, as the image shows it (`CPU, % of all cores`).
    pub title: &'static str,
    /// Width of the image in pixels.
    pub width_px: u32,
    /// Height of the image in pixels.
    pub height_px: u32,
    /// The PNG file's bytes.
    pub png: Vec<u8>,
}

/// The colour of a series or incident class (the page's CSS, `report.css`).
pub(crate) fn class_rgb(class: &str) -> RGBColor {
    let hex: u32 = match class {
        "s-busy" | "s-used" => 0x2563eb,
        "s-avail" => 0x16a34a,
        "s-swap" => 0xdc2626,
        "s-load1" => 0x334155,
        "s-load15" => 0x94a3b8,
        "s-p0" => 0xea580c,
        "s-p1" => 0x9333ea,
        "s-p2" => 0x0d9488,
        "s-p3" => 0xdb2777,
        "s-p4" => 0x0891b2,
        "s-p5" => 0xa16207,
        "k-cpu" => 0xc2410c,
        "k-mem" | "k-reboot" => 0x7c3aed,
        "k-swap" => 0xb91c1c,
        "k-oom" => 0x991b1b,
        "k-psi" => 0x0e7490,
        "k-lat" => 0x0369a1,
        "k-loss" => 0xbe123c,
        "k-died" => 0xdc2626,
        "k-stopped" => 0x64748b,
        _ => 0x475569,
    };
    RGBColor((hex >> 16) as u8, (hex >> 8) as u8, hex as u8)
}

const FG: RGBColor = RGBColor(0x1f, 0x23, 0x28);
const MUTED: RGBColor = RGBColor(0x59, 0x63, 0x6e);
const GRID: RGBColor = RGBColor(0xee, 0xf1, 0xf4);
const AXIS: RGBColor = RGBColor(0x8c, 0x95, 0x9f);
const LANE_BG: RGBColor = RGBColor(0xf6, 0xf8, 0xfa);
const FAIL: RGBColor = RGBColor(0xdc, 0x26, 0x26);

/// Registers the embedded font once per process.
fn register_font() -> Result<(), Error> {
    static REGISTERED: OnceLock<bool> = OnceLock::new();
    let ok = *REGISTERED
        .get_or_init(|| plotters::style::register_font(FAMILY, FontStyle::Normal, FONT).is_ok());
    if ok {
        Ok(())
    } else {
        Err(Error::Png {
            chart: "all",
            reason: "the embedded font could not be loaded".to_owned(),
        })
    }
}

fn text_style(size: f64, color: RGBColor, h: HPos, v: VPos) -> TextStyle<'static> {
    TextStyle {
        font: FontDesc::new(FontFamily::Name(FAMILY), size, FontStyle::Normal),
        color: color.to_backend_color(),
        pos: Pos::new(h, v),
    }
}

fn px(v: f64) -> i32 {
    v.round() as i32
}

/// The legend's entries of a chart: (colour, text).
fn legend(model: &Model, ci: usize, c: &ChartModel) -> Vec<(RGBColor, String)> {
    let mut out: Vec<(RGBColor, String)> = if c.lanes.is_empty() {
        c.series
            .iter()
            .map(|s| (class_rgb(s.class), truncate_chars(&one_line(&s.name), 40)))
            .collect()
    } else {
        c.lanes
            .iter()
            .map(|l| {
                let mut t = truncate_chars(&one_line(&l.name), 24);
                if let Some(m) = l.median_ms {
                    t.push_str(&format!(" median {m:.1} ms"));
                }
                t.push_str(&format!(", loss {:.1} %", l.loss * 100.0));
                (class_rgb(l.class), t)
            })
            .collect()
    };
    if ci == 0 && !model.gaps.is_empty() {
        out.push((class_rgb("k-stopped"), "gap in the recording".to_owned()));
    }
    out
}

/// Lays out legend entries in rows across `width`: (row, x) of each, and the number of rows.
fn legend_layout(
    entries: &[(RGBColor, String)],
    left: f64,
    width: f64,
) -> (Vec<(usize, f64)>, usize) {
    let mut at = Vec::with_capacity(entries.len());
    let (mut row, mut x) = (0, left);
    for (_, text) in entries {
        let w = 20.0 + crate::model::text_width(text) * 13.0 / 11.0;
        if x > left && x + w > left + width {
            row += 1;
            x = left;
        }
        at.push((row, x));
        x += w + 4.0;
    }
    let rows = if entries.is_empty() { 0 } else { row + 1 };
    (at, rows)
}

/// Draws every chart of `model` as a PNG image `model.width_px` wide.
pub(crate) fn charts(model: &Model) -> Result<Vec<PngChart>, Error> {
    register_font()?;
    (0..model.charts.len())
        .map(|ci| chart_png(model, ci))
        .collect()
}

/// Draws chart `ci`.
fn chart_png(model: &Model, ci: usize) -> Result<PngChart, Error> {
    let c = &model.charts[ci];
    let fail = |e: String| Error::Png {
        chart: c.id,
        reason: e,
    };
    let f = &model.frame;
    let (left, right) = (f.left, f.left + f.width);
    let entries = legend(model, ci, c);
    let (legend_at, legend_rows) = legend_layout(&entries, 8.0, model.width_px - 16.0);
    // Everything of the SVG's layout moves down by the title and legend.
    let dy = TITLE_PX + legend_rows as f64 * LEGEND_ROW_PX;
    let width = px(model.width_px).max(1) as u32;
    let height = px(dy + c.svg_h).max(1) as u32;
    let mut buf = vec![255u8; width as usize * height as usize * 3];
    {
        let root = BitMapBackend::with_buffer(&mut buf, (width, height)).into_drawing_area();
        let e = |r: Result<(), _>| {
            r.map_err(|err: plotters::drawing::DrawingAreaErrorKind<_>| fail(err.to_string()))
        };
        let top = dy + c.plot_top;
        let bottom = top + c.plot_h;
        let y = |v: f64| dy + c.y(v);

        // Title and legend.
        e(root.draw(&Text::new(
            c.title.to_owned(),
            (8, 11),
            text_style(14.0, FG, HPos::Left, VPos::Center),
        )))?;
        for ((color, text), (row, x)) in entries.iter().zip(&legend_at) {
            let ly = TITLE_PX + *row as f64 * LEGEND_ROW_PX + 7.0;
            e(root.draw(&Rectangle::new(
                [(px(*x), px(ly - 2.0)), (px(x + 14.0), px(ly + 2.0))],
                color.filled(),
            )))?;
            e(root.draw(&Text::new(
                text.clone(),
                (px(x + 18.0), px(ly)),
                text_style(13.0, MUTED, HPos::Left, VPos::Center),
            )))?;
        }

        // Value grid and its labels.
        for (v, label) in &c.y_ticks {
            let yy = px(y(*v));
            e(root.draw(&PathElement::new(
                vec![(px(left), yy), (px(right), yy)],
                GRID.stroke_width(1),
            )))?;
            e(root.draw(&Text::new(
                label.clone(),
                (px(left - 6.0), yy),
                text_style(12.0, MUTED, HPos::Right, VPos::Center),
            )))?;
        }

        // Gap bands.
        for &(s, end, i) in &model.gaps {
            let class = model
                .incidents
                .get(i)
                .map_or("k-died", |inc| kind_class(&inc.kind));
            let x0 = f.x(s).clamp(left, right);
            let x1 = f.x(end).clamp(left, right).max(x0 + 2.0);
            e(root.draw(&Rectangle::new(
                [(px(x0), px(top)), (px(x1), px(bottom))],
                class_rgb(class).mix(0.11).filled(),
            )))?;
        }

        // Series: areas first, then the lines over them.
        for s in &c.series {
            let color = class_rgb(s.class);
            let points = drawn(&s.points, |t| f.x(t));
            if s.area {
                for run in runs(&points) {
                    let mut poly: Vec<(i32, i32)> = Vec::with_capacity(run.len() + 2);
                    poly.push((px(f.x(run[0].0)), px(bottom)));
                    poly.extend(run.iter().map(|p| (px(f.x(p.0)), px(y(p.1)))));
                    poly.push((px(f.x(run[run.len() - 1].0)), px(bottom)));
                    e(root.draw(&Polygon::new(poly, color.mix(0.13).filled())))?;
                }
            }
        }
        // The machine's own series are dense (up to four points a pixel column) and drawn 1 px wide; the culprit
        // lines 2 px wide, segment by segment (plotters joins a wide path with miters, which spike out at the
        // sharp turns of a noisy line).
        for s in &c.series {
            let culprit = s.class.starts_with("s-p") && c.lanes.is_empty();
            let style = ShapeStyle {
                color: class_rgb(s.class).to_rgba(),
                filled: false,
                stroke_width: if culprit { 2 } else { 1 },
            };
            for run in runs(&drawn(&s.points, |t| f.x(t))) {
                let line: Vec<(i32, i32)> =
                    run.iter().map(|p| (px(f.x(p.0)), px(y(p.1)))).collect();
                if culprit {
                    for seg in line.windows(2) {
                        e(root.draw(&PathElement::new(seg.to_vec(), style)))?;
                    }
                } else {
                    e(root.draw(&PathElement::new(line, style)))?;
                }
            }
        }

        // Failed probes: a red tick per pixel column on each target's lane, the lane's name in the margin.
        for (k, lane) in c.lanes.iter().enumerate() {
            let ly = dy + c.lane_y(k);
            e(root.draw(&Rectangle::new(
                [(px(left), px(ly)), (px(right), px(ly + LANE_PX - 2.0))],
                LANE_BG.filled(),
            )))?;
            let mut last = i32::MIN;
            for &t in &lane.fail_us {
                let x = px(f.x(t).clamp(left, right));
                if x != last {
                    e(root.draw(&PathElement::new(
                        vec![(x, px(ly)), (x, px(ly + LANE_PX - 2.0))],
                        FAIL.stroke_width(1),
                    )))?;
                    last = x;
                }
            }
            e(root.draw(&Text::new(
                truncate_chars(&one_line(&lane.name), 9),
                (px(left - 6.0), px(ly + (LANE_PX - 2.0) / 2.0)),
                text_style(9.5, MUTED, HPos::Right, VPos::Center),
            )))?;
        }

        // Time axis.
        e(root.draw(&PathElement::new(
            vec![(px(left), px(bottom)), (px(right), px(bottom))],
            AXIS.stroke_width(1),
        )))?;
        let (from_s, to_s) = (
            f.from_us.div_euclid(1_000_000),
            f.to_us.div_euclid(1_000_000),
        );
        for t in ticks(from_s, to_s, f.width, TICK_MIN_PX, &model.offsets) {
            let x = px(f.x(t.utc_secs * 1_000_000));
            e(root.draw(&PathElement::new(
                vec![(x, px(bottom)), (x, px(bottom + 4.0))],
                AXIS.stroke_width(1),
            )))?;
            e(root.draw(&Text::new(
                t.label,
                (x, px(bottom + 12.0)),
                text_style(12.0, MUTED, HPos::Center, VPos::Center),
            )))?;
            if let Some(day) = t.day {
                e(root.draw(&Text::new(
                    day,
                    (x, px(bottom + 26.0)),
                    text_style(12.0, FG, HPos::Center, VPos::Center),
                )))?;
            }
        }

        // Spike labels: a box naming the culprit, a lead line down to a marker on the spike.
        for l in &c.labels {
            let color = class_rgb(l.class);
            let box_y = top - 8.0 - (l.row as f64 + 1.0) * LABEL_ROW_PX + 2.0;
            let anchor_x = l.peak_x.clamp(l.left + 4.0, l.left + l.width - 4.0);
            let tip_y = l.marker_y.map_or(top, |my| top + my);
            e(root.draw(&PathElement::new(
                vec![
                    (px(anchor_x), px(box_y + LABEL_ROW_PX - 2.0)),
                    (px(l.peak_x), px(tip_y)),
                ],
                color.mix(0.7).stroke_width(1),
            )))?;
            if l.marker_y.is_some() {
                e(root.draw(&Circle::new(
                    (px(l.peak_x), px(tip_y)),
                    5,
                    RGBAColor(255, 255, 255, 1.0).filled(),
                )))?;
                e(root.draw(&Circle::new((px(l.peak_x), px(tip_y)), 4, color.filled())))?;
            }
            let (x0, y0) = (px(l.left), px(box_y));
            let (x1, y1) = (px(l.left + l.width), px(box_y + LABEL_ROW_PX - 2.0));
            e(root.draw(&Rectangle::new(
                [(x0, y0), (x1, y1)],
                RGBColor(255, 255, 255).filled(),
            )))?;
            e(root.draw(&Rectangle::new([(x0, y0), (x1, y1)], color.stroke_width(1))))?;
            e(root.draw(&Text::new(
                one_line(&l.text),
                (
                    px(l.left + l.width / 2.0),
                    px(box_y + (LABEL_ROW_PX - 2.0) / 2.0),
                ),
                text_style(11.0, color, HPos::Center, VPos::Center),
            )))?;
        }
        root.present().map_err(|err| fail(err.to_string()))?;
    }
    let png = encode(&buf, width, height).map_err(|err| fail(err.to_string()))?;
    Ok(PngChart {
        name: c.id,
        title: c.title,
        width_px: width,
        height_px: height,
        png,
    })
}

/// The unbroken runs of `points` (a run starts at each break).
fn runs(points: &[(i64, f64, bool)]) -> Vec<&[(i64, f64, bool)]> {
    let mut out = Vec::new();
    let mut start = 0;
    for i in 1..=points.len() {
        if i == points.len() || points[i].2 {
            if i > start {
                out.push(&points[start..i]);
            }
            start = i;
        }
    }
    out
}

/// Encodes an RGB buffer as PNG, with the png crate's fast compression (fdeflate, each row's filter chosen): a
/// chart 600 px wide is encoded in about a millisecond instead of about ten at the default level (and thirty at the
/// highest), for files about 1.6 times as large (some 20 KB a chart), far below a mail's size limits.
fn encode(rgb: &[u8], width: u32, height: u32) -> Result<Vec<u8>, png::EncodingError> {
    let mut out = Vec::new();
    let mut enc = png::Encoder::new(&mut out, width, height);
    enc.set_color(png::ColorType::Rgb);
    enc.set_depth(png::BitDepth::Eight);
    enc.set_compression(png::Compression::Fast);
    let mut w = enc.write_header()?;
    w.write_image_data(rgb)?;
    w.finish()?;
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn runs_split_at_breaks() {
        let p = [
            (0, 1.0, false),
            (1, 2.0, false),
            (2, 3.0, true),
            (3, 4.0, false),
            (4, 5.0, true),
        ];
        let r = runs(&p);
        assert_eq!(r.len(), 3);
        assert_eq!((r[0].len(), r[1].len(), r[2].len()), (2, 2, 1));
        assert!(runs(&[]).is_empty());
    }
}
