//! The PNG charts: every image decodes, is as wide as asked, and on known data the series colour is where the
//! injected spike is and the culprit's label is drawn above it. The images are saved for people to look at.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::path::Path;
use std::time::Duration;

use stabmon_core::Timestamp;
use stabmon_core::analysis::IncidentKind;
use stabmon_core::synth::Synth;
use stabmon_report::{PngChart, ReportBuilder};

fn start() -> Timestamp {
    Timestamp::from_unix_secs(1_795_564_800 - 3600)
}

fn at(s: u64) -> Timestamp {
    start().saturating_add(Duration::from_secs(s))
}

/// A decoded RGB image.
struct Image {
    w: usize,
    h: usize,
    rgb: Vec<u8>,
}

impl Image {
    fn decode(chart: &PngChart) -> Image {
        let mut dec = png::Decoder::new(std::io::Cursor::new(&chart.png))
            .read_info()
            .expect("a PNG");
        let mut buf = vec![0; dec.output_buffer_size().unwrap()];
        let info = dec.next_frame(&mut buf).expect("its pixels");
        assert_eq!(info.color_type, png::ColorType::Rgb);
        assert_eq!((info.width, info.height), (chart.width_px, chart.height_px));
        buf.truncate(info.buffer_size());
        Image {
            w: info.width as usize,
            h: info.height as usize,
            rgb: buf,
        }
    }

    fn px(&self, x: usize, y: usize) -> (u8, u8, u8) {
        let i = (y * self.w + x) * 3;
        (self.rgb[i], self.rgb[i + 1], self.rgb[i + 2])
    }

    /// Pixels within `tol` of `c` in the columns `x0..x1` and rows `y0..y1`.
    fn count(
        &self,
        c: (u8, u8, u8),
        tol: i32,
        xs: std::ops::Range<usize>,
        ys: std::ops::Range<usize>,
    ) -> usize {
        let near = |a: u8, b: u8| (i32::from(a) - i32::from(b)).abs() <= tol;
        let mut n = 0;
        for y in ys.start..ys.end.min(self.h) {
            for x in xs.start..xs.end.min(self.w) {
                let p = self.px(x, y);
                if near(p.0, c.0) && near(p.1, c.1) && near(p.2, c.2) {
                    n += 1;
                }
            }
        }
        n
    }

    /// The highest row (smallest y) in the columns `xs` holding a pixel near `c`.
    fn top_of(&self, c: (u8, u8, u8), xs: std::ops::Range<usize>, below: usize) -> Option<usize> {
        (below..self.h).find(|&y| self.count(c, 10, xs.clone(), y..y + 1) > 0)
    }
}

const BUSY: (u8, u8, u8) = (0x25, 0x63, 0xeb);
const K_CPU: (u8, u8, u8) = (0xc2, 0x41, 0x0c);

#[test]
fn cpu_chart_shows_the_spike_where_it_is_and_labels_it() {
    // Two hours, a CPU hog in minutes 60-70: at 600 px the hog spans x of about 62 + 520 * (3600..4200) / 7200.
    let samples = Synth::new(start(), Duration::from_secs(1))
        .count(2 * 3600)
        .host("web-1")
        .cpu_hog(
            "xmrig",
            "./xmrig -o pool.example:3333",
            at(3600),
            at(4200),
            190.0,
        )
        .generate();
    let (charts, summary) = ReportBuilder::new().build().render_png(&samples).unwrap();
    assert!(
        summary
            .incidents
            .iter()
            .any(|i| i.kind == IncidentKind::CpuSurge && i.label().contains("xmrig")),
        "{:?}",
        summary.incidents
    );
    let names: Vec<&str> = charts.iter().map(|c| c.name).collect();
    assert_eq!(names, ["cpu", "mem", "load"]);
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR"));
    for c in &charts {
        assert_eq!(c.width_px, 600);
        assert!(c.height_px > 150 && c.height_px < 400, "{}", c.height_px);
        assert!(c.png.len() < 150_000, "{}: {} bytes", c.name, c.png.len());
        std::fs::write(dir.join(format!("chart-{}.png", c.name)), &c.png).unwrap();
    }
    eprintln!("charts: {}", dir.join("chart-cpu.png").display());
    assert_eq!(
        summary.bytes,
        charts.iter().map(|c| c.png.len()).sum::<usize>()
    );

    let img = Image::decode(&charts[0]);
    let plot_w = 600.0 - 62.0 - 18.0;
    let x_of = |s: f64| (62.0 + plot_w * s / 7200.0) as usize;
    let (hog, calm) = (x_of(3700.0)..x_of(4100.0), x_of(600.0)..x_of(3000.0));
    // The busy line's top within the hog stands far above its top on a calm stretch.
    let hog_top = img
        .top_of(BUSY, hog.clone(), 60)
        .expect("the busy line over the hog");
    let calm_top = img
        .top_of(BUSY, calm.clone(), 60)
        .expect("the busy line elsewhere");
    assert!(
        hog_top + 40 < calm_top,
        "hog top {hog_top}, calm top {calm_top}"
    );
    // The label: its box's border and text in the CPU incident colour, above the plot around the hog (the
    // label is centred on the peak), and nowhere over the calm stretch.
    let label_rows = 0..hog_top;
    let around = x_of(3000.0)..x_of(4800.0);
    let in_label = img.count(K_CPU, 24, around, label_rows.clone());
    assert!(in_label > 150, "{in_label} label pixels");
    assert_eq!(
        img.count(K_CPU, 24, x_of(100.0)..x_of(1200.0), label_rows),
        0
    );
}

#[test]
fn latency_and_a_gap_draw_too() {
    let samples = Synth::new(start(), Duration::from_secs(1))
        .count(3600)
        .host("web-1")
        .latency_target("gw", 2.0, 0.5)
        .latency_outage("gw", at(1200), at(1300))
        .gap(at(2400), at(2700))
        .generate();
    let (charts, _) = ReportBuilder::new()
        .png_width_px(800)
        .build()
        .render_png(&samples)
        .unwrap();
    let names: Vec<&str> = charts.iter().map(|c| c.name).collect();
    assert_eq!(names, ["cpu", "mem", "load", "lat"]);
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR"));
    for c in &charts {
        assert_eq!(c.width_px, 800);
        let img = Image::decode(c);
        assert!(img.h > 100);
        std::fs::write(dir.join(format!("chart-gap-{}.png", c.name)), &c.png).unwrap();
    }
    // Failed probes: red ticks on the latency chart's lane, where the outage is.
    let img = Image::decode(&charts[3]);
    let plot_w = 800.0 - 62.0 - 18.0;
    let x_of = |s: f64| (62.0 + plot_w * s / 3600.0) as usize;
    let red = (0xdc, 0x26, 0x26);
    assert!(img.count(red, 10, x_of(1210.0)..x_of(1290.0), 0..img.h) > 20);
    assert_eq!(img.count(red, 10, x_of(100.0)..x_of(1000.0), 0..img.h), 0);
}
