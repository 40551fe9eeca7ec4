//! # stabmon-report
//!
//! One standalone HTML file that explains a stabmon recording: charts of CPU, memory and load on one shared time
//! axis, where every detected spike carries a label naming the culprit process (`xmrig (pid 4123) 187% CPU`), gaps
//! in the recording are shaded and classified (the recorder stopped, died, the machine rebooted, or the data there
//! could not be read) with a panel showing the last minute before each, and an incident table whose rows link to
//! their place on the charts.
//!
//! - [`ReportBuilder`] configures a [`Report`] (title, time range, width, [`DetectOptions`], [`Chart`]s);
//! - [`Report::write_html`] renders `&[Sample]` (from any source, never store types) to any [`std::io::Write`] and
//!   returns a [`Summary`] with the incidents it drew;
//! - [`Report::write_html_from`] renders the same page from a [`SystemSeries`] (the system values as columns,
//!   about 40 bytes a sample) and a [`WindowSource`] that gives whole samples only for the instants and windows
//!   the page shows: the way to render a week or a month without holding its samples;
//! - [`Report::render_png_from`] draws the same charts, culprit labels included, as PNG images ([`PngChart`]) with
//!   plotters' bitmap backend and an embedded font, for mail bodies and for files;
//! - [`Report::render_mail_from`] makes everything a mail of the range is made of ([`MailContent`]): a short HTML
//!   body that mail clients render (no script, no SVG, PNG charts by `cid:`, under 100 KB), its plain-text
//!   alternative, a one-line subject, and the full page to attach; sending it is the caller's;
//! - [`Notice`] renders a small page of the same make for what is not a report: no samples yet, choose a host, an
//!   error (the live view's status pages);
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
//! From columns and a source of windows, here a synthetic half hour streamed into a [`SystemSeries`] with a source that
//! regenerates only the samples asked for (a store reader reads them from disk instead):
//!
//! ```
//! use std::time::Duration;
//! use stabmon_core::series::{SystemSeries, WindowSource};
//! use stabmon_core::{Sample, Timestamp, synth::Synth};
//! use stabmon_report::ReportBuilder;
//!
//! let start = Timestamp::from_unix_secs(1_795_564_800);
//! let at = |s: u64| start.saturating_add(Duration::from_secs(s));
//! let synth = Synth::new(start, Duration::from_secs(1))
//!     .count(1800)
//!     .cpu_hog("xmrig", "./xmrig -o pool:3333", at(600), at(900), 190.0);
//!
//! struct Regenerate(Synth);
//! impl WindowSource for Regenerate {
//!     fn samples_between(&self, from: Timestamp, to: Timestamp) -> Result<Vec<Sample>, stabmon_core::Error> {
//!         Ok(self.0.iter().skip_while(|s| s.ts < from).take_while(|s| s.ts <= to).collect())
//!     }
//! }
//!
//! let mut series = SystemSeries::new("");
//! for s in synth.iter() {
//!     series.host.clone_from(&s.host);
//!     series.push(&s);
//! }
//! let mut html = Vec::new();
//! let summary = ReportBuilder::new()
//!     .build()
//!     .write_html_from(&series, &Regenerate(synth), &mut html)?;
//! assert!(summary.incidents.iter().any(|i| i.label().contains("xmrig")));
//! assert!(String::from_utf8_lossy(&html).contains("xmrig (pid"));
//! # Ok::<(), stabmon_report::Error>(())
//! ```
//!
//! The charts as PNG images and a mail of the same samples:
//!
//! ```
//! # use std::time::Duration;
//! # use stabmon_core::{Timestamp, synth::Synth};
//! # use stabmon_report::ReportBuilder;
//! # let start = Timestamp::from_unix_secs(1_795_564_800);
//! # let at = |s: u64| start.saturating_add(Duration::from_secs(s));
//! # let samples = Synth::new(start, Duration::from_secs(1))
//! #     .count(1800)
//! #     .cpu_hog("xmrig", "./xmrig -o pool:3333", at(600), at(900), 190.0)
//! #     .generate();
//! let report = ReportBuilder::new().png_width_px(600).build();
//! let (charts, _) = report.render_png(&samples)?;
//! assert_eq!(charts[0].name, "cpu");
//! assert!(charts[0].png.starts_with(b"\x89PNG"));
//!
//! let mail = report.render_mail(&samples)?;
//! assert!(mail.html.contains("src=\"cid:cpu@stabmon\""));
//! assert!(mail.text.contains("xmrig (pid"));
//! assert!(mail.attachment.starts_with("<!DOCTYPE html>"));
//! # Ok::<(), stabmon_report::Error>(())
//! ```
//!
//! (The examples use `stabmon-core`'s `test-util` feature for their synthetic samples.)
#![deny(missing_docs)]

mod error;
mod escape;
mod fleet;
mod mail;
mod model;
mod notice;
mod page;
mod png;
mod svg;
mod timefmt;

use std::io::Write;
use std::time::Duration;

use stabmon_core::analysis;
use stabmon_core::series::{SampleParts, SystemSeries, WindowSource};
use stabmon_core::{Sample, Timestamp};

pub use crate::error::Error;
pub use crate::fleet::{HostSection, rank as rank_hosts};
pub use crate::mail::{InlineImage, MAIL_MAX_INCIDENTS, MailContent};
pub use crate::model::PageMoments;
pub use crate::notice::Notice;
pub use crate::png::PngChart;
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
    refresh: Option<Duration>,
    png_width_px: u32,
    warnings: Vec<String>,
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
            refresh: None,
            png_width_px: 600,
            warnings: Vec::new(),
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

    /// Makes the page reload itself every `every` (whole seconds, at least one), for a live view: a
    /// `<meta http-equiv="refresh">` in its head, no script, so the Content-Security-Policy stays as strict. Zero
    /// turns it off. By default, the page does not reload.
    pub fn refresh(mut self, every: Duration) -> Self {
        self.refresh = (!every.is_zero()).then(|| every.max(Duration::from_secs(1)));
        self
    }

    /// The width of the PNG charts ([`Report::render_png`]) in pixels (clamped to 400..=4000). By default, this is
    /// 600, the width of a mail body.
    pub fn png_width_px(mut self, width_px: u32) -> Self {
        self.png_width_px = width_px.clamp(400, 4000);
        self
    }

    /// Lines of a short notice under the heading of the HTML page and of the fleet pages, such as the files a
    /// reader skipped as damaged: plain text, escaped when rendered. By default, there are none and the page has
    /// no notice.
    ///
    /// ```
    /// use stabmon_core::series::SystemSeries;
    /// use stabmon_report::{HostSection, ReportBuilder};
    ///
    /// let (from, to) = (stabmon_core::Timestamp::from_unix_secs(0), stabmon_core::Timestamp::from_unix_secs(60));
    /// let quiet = HostSection::overview_only(&SystemSeries::new("db-1"), Vec::new(), from, to);
    /// let page = ReportBuilder::new()
    ///     .range(from, to)
    ///     .warnings(["skipped /data/<b>.parquet: corrupt footer"])
    ///     .build()
    ///     .render_fleet_index(&[quiet], &|h| format!("/?host={h}"));
    /// assert!(page.contains("<li>skipped /data/&lt;b&gt;.parquet: corrupt footer</li>"));
    /// ```
    pub fn warnings<I, S>(mut self, lines: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        self.warnings = lines.into_iter().map(Into::into).collect();
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
    /// The size of what was made: the page, or the PNG images in all.
    pub bytes: usize,
}

impl Report {
    /// Renders `samples` (of one host, in any order) as one HTML page to `out`.
    ///
    /// Errors: no sample in the range, a range that ends before it starts, samples of several hosts, or a write
    /// error. Nothing is written unless the page was made. This holds every sample in memory; for long ranges, see
    /// [`Report::write_html_from`].
    pub fn write_html<W: Write + ?Sized>(
        &self,
        samples: &[Sample],
        out: &mut W,
    ) -> Result<Summary, Error> {
        let (html, summary) = self.render(samples)?;
        write_page(&html, out)?;
        Ok(summary)
    }

    /// Renders a host's `series` (the system values as columns, sorted by time) as one HTML page to `out`, reading
    /// whole samples (with their process lists) from `source` only for what the page shows of them: the moments
    /// shown on hover (one per pixel column and those near each incident's peak), the windows of the CPU and memory
    /// incidents for the culprits' lines, the minute before each gap, and the windows where detection names a
    /// culprit. Memory stays about that of the columns plus those samples, whatever the range.
    ///
    /// The page is the one [`Report::write_html`] makes of the same samples. Samples of `series` outside the
    /// builder's range are left out (and latency probes started outside it).
    ///
    /// Errors: no sample in the range, a range that ends before it starts, a write error, or [`Error::Read`] when
    /// `source` fails. Nothing is written unless the page was made.
    pub fn write_html_from<S: WindowSource + ?Sized, W: Write + ?Sized>(
        &self,
        series: &SystemSeries,
        source: &S,
        out: &mut W,
    ) -> Result<Summary, Error> {
        let (html, summary) = self.render_from(series, source)?;
        write_page(&html, out)?;
        Ok(summary)
    }

    /// The hover moments of the page [`render_from`](Self::render_from) makes of this builder's range (both of
    /// its ends set): the busiest sample of each pixel column, with the parts the page reads of each. A reader that
    /// decodes whole row groups for a series can build those samples as it goes
    /// (`stabmon_store::StoreReader::system_series_with_moments`), so that the page's source has them already.
    /// `None` where an end of the range is left to the samples.
    pub fn moment_columns(&self) -> Option<PageMoments> {
        let (from, to) = self.axis(self.cfg.from?, self.cfg.to?);
        Some(PageMoments::of(
            from.as_unix_micros(),
            to.as_unix_micros(),
            self.cfg.width_px,
        ))
    }

    /// The range the time axis spans: the builder's ends where set, else the samples' first and last; at least a
    /// second.
    fn axis(&self, first: Timestamp, last: Timestamp) -> (Timestamp, Timestamp) {
        let from = self.cfg.from.unwrap_or(first);
        let to = self.cfg.to.unwrap_or(last);
        (from, to.max(from.saturating_add(Duration::from_secs(1))))
    }

    /// Renders `samples` to a string; see [`Report::write_html`].
    pub fn render(&self, samples: &[Sample]) -> Result<(String, Summary), Error> {
        self.make_of_samples(samples, &html_page, Pass::default())
    }

    /// Renders `series` to a string, reading whole samples from `source`; see [`Report::write_html_from`].
    pub fn render_from<S: WindowSource + ?Sized>(
        &self,
        series: &SystemSeries,
        source: &S,
    ) -> Result<(String, Summary), Error> {
        self.make_of_series(series, source, &html_page, Pass::default())
    }

    /// [`render_from`](Self::render_from), naming on the page what could not be read
    /// ([`ReportBuilder::warnings`]): `warnings` gives them as they stand (a store reader's warnings), before the
    /// page is made and again after; where the page's own reads of whole samples (culprits, hover data) added
    /// some, it is made once more, naming them too.
    pub fn render_from_naming<S: WindowSource + ?Sized>(
        &self,
        series: &SystemSeries,
        source: &S,
        warnings: &dyn Fn() -> Vec<String>,
    ) -> Result<(String, Summary), Error> {
        let with = |lines: Vec<String>| Report {
            cfg: ReportBuilder {
                warnings: lines,
                ..self.cfg.clone()
            },
        };
        let before = warnings();
        let known = before.len();
        let page = with(before).render_from(series, source)?;
        let after = warnings();
        if after.len() > known {
            return with(after).render_from(series, source);
        }
        Ok(page)
    }

    /// Draws the page's charts of `samples` as PNG images, [`ReportBuilder::png_width_px`] wide: the same series,
    /// gap bands and culprit labels as the page's, for mail bodies and for files. Errors as
    /// [`Report::write_html`].
    ///
    /// Text is drawn with a copy of DejaVu Sans embedded in the crate, so no system font is needed; the first call
    /// registers it in plotters' font table under a name of its own.
    pub fn render_png(&self, samples: &[Sample]) -> Result<(Vec<PngChart>, Summary), Error> {
        self.png_sized()
            .make_of_samples(samples, &png_charts, Pass::charts())
    }

    /// Draws the charts of `series` as PNG images, reading whole samples from `source` as
    /// [`Report::write_html_from`] does; see [`Report::render_png`].
    pub fn render_png_from<S: WindowSource + ?Sized>(
        &self,
        series: &SystemSeries,
        source: &S,
    ) -> Result<(Vec<PngChart>, Summary), Error> {
        self.png_sized()
            .make_of_series(series, source, &png_charts, Pass::charts())
    }

    /// Renders one host's section of a fleet page ([`Report::render_fleet`]) from its `series` and `source`, as
    /// [`Report::write_html_from`] renders its page: the same charts (at the builder's width), incident table and
    /// gap panels, without the hover data (a fleet page has no script), and the figures of its overview row. Element
    /// ids in the section start with the host's anchor, so many sections share a page. Errors as
    /// [`Report::write_html_from`]; a host with no sample in the range is [`HostSection::without_samples`].
    pub fn render_host_section_from<S: WindowSource + ?Sized>(
        &self,
        series: &SystemSeries,
        source: &S,
    ) -> Result<HostSection, Error> {
        let ids = fleet::anchor(&series.host);
        let section = |m: &model::Model, h: &page::Header<'_>| {
            let s = fleet::section(m, h, &ids);
            let n = s.len();
            Ok((s, n))
        };
        let (html, summary) = self.make_of_series(series, source, &section, Pass::default())?;
        let (lo, hi) = self.indices(series);
        let mut out = HostSection::without_samples(series.host.clone());
        fleet::figures(
            &mut out,
            series,
            (lo, hi),
            (summary.from.as_unix_micros(), summary.to.as_unix_micros()),
        );
        out.incidents = summary.incidents;
        out.html = html;
        Ok(out)
    }

    /// The fleet page of `sections` (see [`Report::render_host_section_from`]), in their order (see
    /// [`rank_hosts`]): the title (by default `stabmon fleet report`), an overview table with a row per host
    /// (incidents by kind, peak CPU and memory, gaps, coverage, a CPU sparkline) linking to its section, then the
    /// sections. The page has no script; the same Content-Security-Policy as the report's.
    ///
    /// ```
    /// use std::time::Duration;
    /// use stabmon_core::series::SystemSeries;
    /// use stabmon_core::{Timestamp, synth::Synth};
    /// use stabmon_report::{HostSection, ReportBuilder};
    ///
    /// let start = Timestamp::from_unix_secs(1_795_564_800);
    /// let at = |s: u64| start.saturating_add(Duration::from_secs(s));
    /// let report = ReportBuilder::new().range(start, at(1800)).width_px(600).build();
    /// let mut sections = Vec::new();
    /// for (host, hog) in [("web-1", true), ("db-1", false)] {
    ///     let mut synth = Synth::new(start, Duration::from_secs(1)).count(1800).host(host);
    ///     if hog {
    ///         synth = synth.cpu_hog("xmrig", "./xmrig", at(600), at(900), 190.0);
    ///     }
    ///     let samples = synth.generate();
    ///     let series = SystemSeries::from_samples(&samples);
    ///     sections.push(report.render_host_section_from(&series, samples.as_slice())?);
    /// }
    /// sections.push(HostSection::without_samples("cache-1"));
    /// stabmon_report::rank_hosts(&mut sections);
    /// assert_eq!(sections[0].host, "web-1");
    /// let page = report.render_fleet(&sections);
    /// assert!(page.contains("<a href=\"#host-web-1-host\">web-1</a>"));
    /// assert!(page.contains("id=\"host-db-1-host\""));
    /// assert!(page.contains("xmrig (pid"));
    /// # Ok::<(), stabmon_report::Error>(())
    /// ```
    pub fn render_fleet(&self, sections: &[HostSection]) -> String {
        fleet::render(
            &self.fleet_page(sections),
            sections,
            &fleet::Links::Sections,
        )
    }

    /// An index of hosts: the overview table of [`Report::render_fleet`] alone, each host's row linking to
    /// `href(host)` (a URL the caller has percent-encoded; escaped here) instead of a section, with the builder's
    /// [refresh](ReportBuilder::refresh). Sections are made with [`HostSection::overview_only`] (or rendered ones,
    /// whose HTML is left out).
    ///
    /// ```
    /// use stabmon_core::series::SystemSeries;
    /// use stabmon_report::{HostSection, ReportBuilder};
    ///
    /// let (from, to) = (stabmon_core::Timestamp::from_unix_secs(0), stabmon_core::Timestamp::from_unix_secs(60));
    /// let quiet = HostSection::overview_only(&SystemSeries::new("db-1"), Vec::new(), from, to);
    /// let page = ReportBuilder::new().range(from, to).build().render_fleet_index(&[quiet], &|h| format!("/?host={h}"));
    /// assert!(page.contains("<a href=\"/?host=db-1\">db-1</a>"));
    /// ```
    pub fn render_fleet_index(
        &self,
        sections: &[HostSection],
        href: &dyn Fn(&str) -> String,
    ) -> String {
        fleet::render(
            &self.fleet_page(sections),
            sections,
            &fleet::Links::Pages(href),
        )
    }

    /// The range and head of a fleet page: the builder's range, else what the sections span.
    fn fleet_page(&self, sections: &[HostSection]) -> fleet::Page<'_> {
        let ranges = sections.iter().filter_map(|s| s.range_us);
        let from = self
            .cfg
            .from
            .map(Timestamp::as_unix_micros)
            .or_else(|| ranges.clone().map(|r| r.0).min());
        let to = self
            .cfg
            .to
            .map(Timestamp::as_unix_micros)
            .or_else(|| ranges.map(|r| r.1).max());
        fleet::Page {
            title: self.cfg.title.as_deref().unwrap_or("stabmon fleet report"),
            from_us: from.unwrap_or(0),
            to_us: to.unwrap_or(0),
            refresh: self.cfg.refresh,
            warnings: &self.cfg.warnings,
        }
    }

    /// The indices of `series` within the builder's range.
    fn indices(&self, series: &SystemSeries) -> (usize, usize) {
        let ts = &series.ts;
        let lo = self.cfg.from.map_or(0, |f| ts.partition_point(|t| *t < f));
        let hi = self
            .cfg
            .to
            .map_or(ts.len(), |t| ts.partition_point(|x| *x < t));
        (lo, hi.max(lo))
    }

    /// This report at the width of its PNG charts.
    fn png_sized(&self) -> Report {
        let mut cfg = self.cfg.clone();
        cfg.width_px = cfg.png_width_px;
        Report { cfg }
    }

    /// Selects the range of `samples` (of one host) and formats its model with `format`.
    fn make_of_samples<T>(
        &self,
        samples: &[Sample],
        format: Format<'_, T>,
        pass: Pass<'_>,
    ) -> Result<(T, Summary), Error> {
        let cfg = &self.cfg;
        self.check_range()?;
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
        if in_range.is_empty() {
            return Err(Error::NoSamples {
                from: cfg.from,
                to: cfg.to,
                covered,
            });
        }
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
        self.render_range(
            &SystemSeries::from_samples(in_range),
            &Dyn(in_range),
            format,
            pass,
        )
    }

    /// Selects the range of `series` and formats its model with `format`, reading whole samples from `source`.
    fn make_of_series<T, S: WindowSource + ?Sized>(
        &self,
        series: &SystemSeries,
        source: &S,
        format: Format<'_, T>,
        pass: Pass<'_>,
    ) -> Result<(T, Summary), Error> {
        let source = &Dyn(source);
        let cfg = &self.cfg;
        self.check_range()?;
        let ts = &series.ts;
        let (lo, hi) = self.indices(series);
        if lo >= hi {
            return Err(Error::NoSamples {
                from: cfg.from,
                to: cfg.to,
                covered: series.range(),
            });
        }
        if lo == 0 && hi == ts.len() {
            self.render_range(series, source, format, pass)
        } else {
            self.render_range(
                &series.slice(lo, hi, cfg.from, cfg.to),
                source,
                format,
                pass,
            )
        }
    }

    fn check_range(&self) -> Result<(), Error> {
        match (self.cfg.from, self.cfg.to) {
            (Some(from), Some(to)) if from >= to => Err(Error::InvalidRange { from, to }),
            _ => Ok(()),
        }
    }

    /// Renders `series`, non-empty and all within the range, with `format`.
    fn render_range<T>(
        &self,
        series: &SystemSeries,
        source: &dyn WindowSource,
        format: Format<'_, T>,
        pass: Pass<'_>,
    ) -> Result<(T, Summary), Error> {
        let cfg = &self.cfg;
        let (first, last) = series.range().ok_or(Error::NoSamples {
            from: cfg.from,
            to: cfg.to,
            covered: None,
        })?;
        let host = series.host.clone();
        let (from, to) = self.axis(first, last);

        let (from_us, to_us) = (from.as_unix_micros(), to.as_unix_micros());
        let (incidents, prepared) = match pass.detected {
            Some(found) => (Ok(found), None),
            // What the model reads of the columns alone is made on another core while incidents are detected
            // (which reads the source on this one).
            // Where no thread can be started, one after the other here.
            None => std::thread::scope(|scope| {
                let prepare = || model::prepare(series, from_us, to_us, cfg.width_px);
                let preparing = std::thread::Builder::new()
                    .name("stabmon-prepare".into())
                    .spawn_scoped(scope, prepare);
                let found = analysis::detect_incidents_in(series, source, &cfg.detect);
                let prepared = match preparing {
                    // A panic while preparing is the caller's panic, as it was on one thread.
                    Ok(h) => h.join().unwrap_or_else(|e| std::panic::resume_unwind(e)),
                    Err(_) => prepare(),
                };
                (found, Some(prepared))
            }),
        };
        let incidents = incidents.map_err(|source| Error::Read {
            what: "the samples of an incident's window".to_owned(),
            source,
        })?;
        let model = model::build(
            series,
            source,
            incidents,
            prepared,
            &model::Params {
                from_us,
                to_us,
                width_px: cfg.width_px,
                charts: &cfg.charts,
                culprit_lines: cfg.culprit_lines,
                charts_only: pass.charts_only,
                handover: pass.handover,
            },
        )?;
        let title = cfg
            .title
            .clone()
            .unwrap_or_else(|| format!("stabmon report: {host}"));
        let (out, bytes) = format(
            &model,
            &page::Header {
                title: &title,
                host: &host,
                samples: series.len(),
                first_us: first.as_unix_micros(),
                last_us: last.as_unix_micros(),
                refresh: self.cfg.refresh,
                warnings: &self.cfg.warnings,
            },
        )?;
        let summary = Summary {
            incidents: model.incidents,
            samples: series.len(),
            from,
            to,
            bytes,
        };
        Ok((out, summary))
    }
}

/// How a rendering of a range relates to others of the same range (a mail's charts, then its page).
#[derive(Default)]
pub(crate) struct Pass<'a> {
    /// The incidents of the same range and options, where a rendering of it already detected them.
    pub(crate) detected: Option<Vec<Incident>>,
    /// Only the charts are drawn: no hover data, no gap panels.
    pub(crate) charts_only: bool,
    /// The samples handed from the first rendering to the next (see [`model::Handover`]).
    pub(crate) handover: Option<&'a std::cell::RefCell<model::Handover>>,
}

impl Pass<'_> {
    /// A rendering of the charts alone.
    fn charts() -> Self {
        Pass {
            charts_only: true,
            ..Pass::default()
        }
    }
}

/// What a range's model is made into, with its size in bytes.
type Format<'f, T> = &'f dyn Fn(&model::Model, &page::Header<'_>) -> Result<(T, usize), Error>;

fn html_page(model: &model::Model, header: &page::Header<'_>) -> Result<(String, usize), Error> {
    let html = page::render(model, header).map_err(|source| Error::Json { source })?;
    let n = html.len();
    Ok((html, n))
}

fn png_charts(model: &model::Model, _: &page::Header<'_>) -> Result<(Vec<PngChart>, usize), Error> {
    let charts = png::charts(model)?;
    let n = charts.iter().map(|c| c.png.len()).sum();
    Ok((charts, n))
}

/// Any [`WindowSource`], sized or not (a slice of samples), as a `dyn WindowSource`.
struct Dyn<'a, S: ?Sized>(&'a S);

impl<S: WindowSource + ?Sized> WindowSource for Dyn<'_, S> {
    fn samples_between(
        &self,
        from: Timestamp,
        to: Timestamp,
    ) -> Result<Vec<Sample>, stabmon_core::Error> {
        self.0.samples_between(from, to)
    }

    fn samples_at(&self, instants: &[Timestamp]) -> Result<Vec<Sample>, stabmon_core::Error> {
        self.0.samples_at(instants)
    }

    fn samples_at_parts(
        &self,
        instants: &[Timestamp],
        parts: SampleParts,
    ) -> Result<Vec<Sample>, stabmon_core::Error> {
        self.0.samples_at_parts(instants, parts)
    }

    fn samples_between_parts(
        &self,
        from: Timestamp,
        to: Timestamp,
        parts: SampleParts,
    ) -> Result<Vec<Sample>, stabmon_core::Error> {
        self.0.samples_between_parts(from, to, parts)
    }

    fn shared(&self) -> Option<&(dyn WindowSource + Sync)> {
        self.0.shared()
    }
}

fn write_page<W: Write + ?Sized>(html: &str, out: &mut W) -> Result<(), Error> {
    out.write_all(html.as_bytes())
        .and_then(|()| out.flush())
        .map_err(|source| Error::Write { source })
}
