//! # stabmon-report
//!
//! One standalone HTML file that explains a stabmon recording: charts of CPU, memory and load on one shared time
//! axis, where every detected spike carries a label naming the culprit process (`xmrig (pid 4123) 187% CPU`), gaps
//! in the recording are shaded and classified (the recorder stopped, died, or the machine rebooted) with a panel
//! showing the last minute before each, and an incident table whose rows link to their place on the charts.
//!
//! - [`ReportBuilder`] configures a [`Report`] (title, time range, width, [`DetectOptions`], [`Chart`]s);
//! - [`Report::write_html`] renders `&[Sample]` (from any source, never store types) to any [`std::io::Write`] and
//!   returns a [`Summary`] with the incidents it drew;
//! - [`Error`] is what can go wrong.
//!
//! The page is self-contained and safe to open from anywhere: CSS, script and SVG are inline, a
//! Content-Security-Policy (`default-src 'none'`) allows only the page's own script and style, pinned by their
//! SHA-256, and no URL to any other address appears in it. Process names and command lines are untrusted text: they
//! are escaped in HTML text, attributes, SVG and the script's JSON. The same input gives the same bytes.
//!
//! Long ranges are reduced to each pixel column's minimum and maximum with
//! [`downsample_minmax`](stabmon_core::analysis::downsample_minmax), keeping every incident's samples, so no spike
//! disappears: a week at 1 s (604,800 samples) gives a page of about a megabyte. With scripts on, hovering shows the
//! time, values and that moment's top processes, dragging zooms all charts together, and a double-click zooms out;
//! with scripts off (mail clients), the charts, their labels and the table read as they are.
//!
//! ```
//! use std::time::Duration;
//! use stabmon_core::{Timestamp, synth::Synth};
//! use stabmon_report::ReportBuilder;
//!
//! let start = Timestamp::from_unix_secs(1_795_564_800);
//! let at = |s: u64| start.saturating_add(Duration::from_secs(s));
//! let samples = Synth::new(start, Duration::from_secs(1))
//!     .count(1800)
//!     .cpu_hog("xmrig", "./xmrig -o pool:3333", at(600), at(900), 190.0)
//!     .generate();
//!
//! let report = ReportBuilder::new().title("web-1 last night").build();
//! let mut html = Vec::new();
//! let summary = report.write_html(&samples, &mut html)?;
//! let html = String::from_utf8_lossy(&html);
//! assert!(html.starts_with("<!DOCTYPE html>"));
//! assert!(summary.incidents.iter().any(|i| i.label().contains("xmrig")));
//! assert!(html.contains("xmrig (pid"));
//! # Ok::<(), stabmon_report::Error>(())
//! ```
//!
//! (The example uses `stabmon-core`'s `test-util` feature for its synthetic samples.)
#![deny(missing_docs)]

mod error;
mod escape;
mod model;
mod page;
mod svg;
mod timefmt;

use std::io::Write;

use stabmon_core::analysis;
use stabmon_core::{Sample, Timestamp};

pub use crate::error::Error;
pub use stabmon_core::analysis::{DetectOptions, Incident};

/// Version of the report's HTML layout and embedded data.
pub const REPORT_FORMAT_VERSION: u32 = 1;

/// A chart the report can show. Charts share one time axis and appear in the order given.
///
/// [`Latency`](Chart::Latency) is shown only when the samples carry latency probes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Chart {
    /// Machine busy %, and lines for the processes that caused CPU surges (in % of all cores).
    Cpu,
    /// Memory used and available, swap used, and the resident memory of processes that caused memory climbs.
    Memory,
    /// Load averages over 1 and 15 minutes.
    Load,
    /// Network latency: a line per target through its successful round trips on a log scale, failed probes as
    /// ticks on a lane per target below them (never as values), and loss, jitter and median per target for the
    /// range. Shown only when the samples carry latency probes.
    Latency,
}

/// Configures a [`Report`]. Every setting has a default; see each setter.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct ReportBuilder {
    title: Option<String>,
    from: Option<Timestamp>,
    to: Option<Timestamp>,
    width_px: u32,
    detect: DetectOptions,
    charts: Vec<Chart>,
    culprit_lines: usize,
}

impl Default for ReportBuilder {
    fn default() -> Self {
        Self::new()
    }
}

impl ReportBuilder {
    /// A builder with the defaults.
    pub fn new() -> Self {
        ReportBuilder {
            title: None,
            from: None,
            to: None,
            width_px: 1200,
            detect: DetectOptions::default(),
            charts: vec![Chart::Cpu, Chart::Memory, Chart::Load, Chart::Latency],
            culprit_lines: 4,
        }
    }

    /// The page's title. By default, this is `stabmon report: HOST`.
    pub fn title(mut self, title: impl Into<String>) -> Self {
        self.title = Some(title.into());
        self
    }

    /// The time range shown, `[from, to)`: samples outside it are left out, and the time axis spans exactly this
    /// range even where there is no data. By default, the axis spans the samples given.
    pub fn range(mut self, from: Timestamp, to: Timestamp) -> Self {
        self.from = Some(from);
        self.to = Some(to);
        self
    }

    /// The width of the charts in CSS pixels, which is also the number of columns long ranges are reduced to
    /// (clamped to 400..=4000). By default, this is 1200.
    pub fn width_px(mut self, width_px: u32) -> Self {
        self.width_px = width_px.clamp(400, 4000);
        self
    }

    /// How incidents are detected. By default, [`DetectOptions::default()`].
    pub fn detect_options(mut self, options: DetectOptions) -> Self {
        self.detect = options;
        self
    }

    /// Which charts to show, in order; an empty list is taken as the default. By default, this is CPU, memory,
    /// load, latency (when there is latency data).
    pub fn charts(mut self, charts: impl IntoIterator<Item = Chart>) -> Self {
        let mut list: Vec<Chart> = Vec::new();
        for c in charts {
            if !list.contains(&c) {
                list.push(c);
            }
        }
        if !list.is_empty() {
            self.charts = list;
        }
        self
    }

    /// How many processes get their own line on the CPU chart: the culprits of CPU surges, largest first, then the
    /// busiest names (at most 3 of those); at most 6. By default, this is 4.
    pub fn culprit_lines(mut self, lines: usize) -> Self {
        self.culprit_lines = lines.min(6);
        self
    }

    /// The report.
    pub fn build(self) -> Report {
        Report { cfg: self }
    }
}

/// A configured report; render it with [`Report::write_html`].
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct Report {
    cfg: ReportBuilder,
}

/// What a rendered report contains.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct Summary {
    /// The incidents detected and drawn, in order of start.
    pub incidents: Vec<Incident>,
    /// How many samples were in the range.
    pub samples: usize,
    /// The range the time axis spans.
    pub from: Timestamp,
    /// The end of the time axis.
    pub to: Timestamp,
    /// The size of the page written.
    pub bytes: usize,
}

impl Report {
    /// Renders `samples` (of one host, in any order) as one HTML page to `out`.
    ///
    /// Errors: no sample in the range, a range that ends before it starts, samples of several hosts, or a write
    /// error. Nothing is written unless the page was made.
    pub fn write_html<W: Write + ?Sized>(
        &self,
        samples: &[Sample],
        out: &mut W,
    ) -> Result<Summary, Error> {
        let (html, summary) = self.render(samples)?;
        out.write_all(html.as_bytes())
            .and_then(|()| out.flush())
            .map_err(|source| Error::Write { source })?;
        Ok(summary)
    }

    /// Renders `samples` to a string; see [`Report::write_html`].
    pub fn render(&self, samples: &[Sample]) -> Result<(String, Summary), Error> {
        let cfg = &self.cfg;
        if let (Some(from), Some(to)) = (cfg.from, cfg.to)
            && from >= to
        {
            return Err(Error::InvalidRange { from, to });
        }
        // Sorted by time (copied only when the caller's are not).
        let sorted: std::borrow::Cow<'_, [Sample]> =
            if samples.windows(2).all(|w| w[0].ts <= w[1].ts) {
                std::borrow::Cow::Borrowed(samples)
            } else {
                let mut v = samples.to_vec();
                v.sort_by_key(|s| s.ts);
                std::borrow::Cow::Owned(v)
            };
        let all: &[Sample] = &sorted;
        let covered = all.first().zip(all.last()).map(|(a, b)| (a.ts, b.ts));
        let lo = cfg.from.map_or(0, |f| all.partition_point(|s| s.ts < f));
        let hi = cfg
            .to
            .map_or(all.len(), |t| all.partition_point(|s| s.ts < t));
        let in_range = &all[lo..hi.max(lo)];
        let (Some(first), Some(last)) = (in_range.first(), in_range.last()) else {
            return Err(Error::NoSamples {
                from: cfg.from,
                to: cfg.to,
                covered,
            });
        };
        let mut hosts: Vec<String> = Vec::new();
        for s in in_range {
            if !hosts.contains(&s.host) {
                hosts.push(s.host.clone());
                if hosts.len() > 8 {
                    break;
                }
            }
        }
        if hosts.len() > 1 {
            hosts.sort();
            return Err(Error::MixedHosts { hosts });
        }
        let host = first.host.clone();
        let from = cfg.from.unwrap_or(first.ts);
        let to = cfg
            .to
            .unwrap_or(last.ts)
            .max(from.saturating_add(std::time::Duration::from_secs(1)));

        let incidents = analysis::detect_incidents(in_range, &cfg.detect);
        let model = model::build(
            in_range,
            incidents,
            &model::Params {
                from_us: from.as_unix_micros(),
                to_us: to.as_unix_micros(),
                width_px: cfg.width_px,
                charts: &cfg.charts,
                culprit_lines: cfg.culprit_lines,
            },
        );
        let title = cfg
            .title
            .clone()
            .unwrap_or_else(|| format!("stabmon report: {host}"));
        let html = page::render(
            &model,
            &page::Header {
                title: &title,
                host: &host,
                samples: in_range.len(),
                first_us: first.ts.as_unix_micros(),
                last_us: last.ts.as_unix_micros(),
            },
        )
        .map_err(|source| Error::Json { source })?;
        let summary = Summary {
            incidents: model.incidents,
            samples: in_range.len(),
            from,
            to,
            bytes: html.len(),
        };
        Ok((html, summary))
    }
}
