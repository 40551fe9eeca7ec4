//! A mail of a report: a short HTML summary that stands on its own in mail clients (no script, no SVG, styles
//! inline, PNG charts by `cid:`), its plain-text alternative, a subject line, and the full page as an attachment.
//! Pure: text and bytes out; sending is the caller's.

use std::cell::RefCell;
use std::fmt::Write as _;

use stabmon_core::Timestamp;
use stabmon_core::analysis::{Incident, IncidentKind};
use stabmon_core::series::{SystemSeries, WindowSource};

use crate::escape::{html, truncate_chars};
use crate::model::{Handover, Model, kind_class};
use crate::page::{Header, duration, kind_name, magnitude};
use crate::png::class_rgb;
use crate::timefmt::{local_datetime, local_datetime_offset, offset_str};
use crate::{Error, Pass, PngChart, Report, Sample, Summary, html_page};

/// Incidents listed one by one in a mail; beyond this many, the rest are counted by kind (the attached report has
/// them all). Keeps the HTML part far below the ~102 KB at which Gmail clips a body.
pub const MAIL_MAX_INCIDENTS: usize = 25;
/// Longest process name, command line or host name shown in a mail, in characters.
const NAME_MAX_CHARS: usize = 60;
const CMDLINE_MAX_CHARS: usize = 120;

/// One chart for a mail: the image and the content id its `<img src="cid:...">` names.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct InlineImage {
    /// The Content-ID, without angle brackets (`cpu@stabmon`).
    pub cid: String,
    /// A file name for the part (`cpu.png`).
    pub file_name: String,
    /// The chart.
    pub chart: PngChart,
}

/// Everything a mail of a report is made of; see [`Report::render_mail_from`].
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct MailContent {
    /// The subject line: one line, no control characters, at most 150 characters.
    pub subject: String,
    /// The HTML body (`text/html`), which refers to [`MailContent::images`] by `cid:`.
    pub html: String,
    /// The plain-text alternative (`text/plain`).
    pub text: String,
    /// The charts, to attach inline beside the HTML body (`multipart/related`).
    pub images: Vec<InlineImage>,
    /// The attachment's file name: `stabmon-HOST-FROM-TO.html` (host made safe for a file name, times in UTC).
    pub attachment_name: String,
    /// The full interactive report, to attach.
    pub attachment: String,
    /// What the report contains.
    pub summary: Summary,
}

impl Report {
    /// Makes a mail of `samples`; see [`Report::render_mail_from`].
    pub fn render_mail(&self, samples: &[Sample]) -> Result<MailContent, Error> {
        let (page, summary) = self.render(samples)?;
        let (parts, _) = self.png_sized().make_of_samples(
            samples,
            &mail_parts,
            Pass {
                detected: Some(summary.incidents.clone()),
                charts_only: true,
                handover: None,
            },
        )?;
        Ok(assemble(parts, page, summary))
    }

    /// Makes a mail of a host's `series`: the full page of [`Report::render_from`] as the attachment, and a
    /// summary body of its own (host, range, the charts as PNG at [`ReportBuilder::png_width_px`](crate::ReportBuilder::png_width_px),
    /// incidents with culprit, start, duration and magnitude, gaps, latency per target) with a plain-text
    /// alternative. The body lists at most [`MAIL_MAX_INCIDENTS`] incidents (the largest, in order of start) and
    /// counts the rest. Process names, command lines and the host name are untrusted: they are escaped in the
    /// HTML, stripped of control characters in the text, and kept out of the subject except the busiest culprit's
    /// name, on one line.
    ///
    /// Errors as [`Report::write_html_from`].
    pub fn render_mail_from<S: WindowSource + ?Sized>(
        &self,
        series: &SystemSeries,
        source: &S,
    ) -> Result<MailContent, Error> {
        // The charts first, at the mail's width: they hand the page the incidents they found (detection reads
        // windows of whole samples: once is enough), their hover moments and the samples of their culprit lines'
        // windows, so the page reads only the moments it shows beyond them. The charts' model makes no hover data
        // or gap panels (neither the images nor the body show them).
        let handover = RefCell::new(Handover {
            give: true,
            ..Handover::default()
        });
        let (parts, charts) = self.png_sized().make_of_series(
            series,
            source,
            &mail_parts,
            Pass {
                charts_only: true,
                handover: Some(&handover),
                ..Pass::default()
            },
        )?;
        let (page, summary) = self.make_of_series(
            series,
            source,
            &html_page,
            Pass {
                detected: Some(charts.incidents),
                handover: Some(&handover),
                ..Pass::default()
            },
        )?;
        Ok(assemble(parts, page, summary))
    }
}

/// The body's parts, from the model at the charts' width.
struct Parts {
    subject: String,
    html: String,
    text: String,
    images: Vec<InlineImage>,
    attachment_name: String,
}

fn assemble(parts: Parts, attachment: String, summary: Summary) -> MailContent {
    MailContent {
        subject: parts.subject,
        html: parts.html,
        text: parts.text,
        images: parts.images,
        attachment_name: parts.attachment_name,
        attachment,
        summary,
    }
}

fn mail_parts(model: &Model, h: &Header<'_>) -> Result<(Parts, usize), Error> {
    let charts = crate::png::charts(model)?;
    let images: Vec<InlineImage> = charts
        .into_iter()
        .map(|chart| InlineImage {
            cid: format!("{}@stabmon", chart.name),
            file_name: format!("{}.png", chart.name),
            chart,
        })
        .collect();
    let b = Body::new(model, h);
    let parts = Parts {
        subject: b.subject(),
        html: b.html(&images),
        text: b.text(),
        images,
        attachment_name: attachment_name(h.host, model.frame.from_us, model.frame.to_us),
    };
    let n = parts.html.len();
    Ok((parts, n))
}

/// Text safe on one line: control characters (CR, LF, tab, escapes) become spaces, runs of spaces one.
pub(crate) fn one_line(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        let c = if c.is_control() || c == '\u{2028}' || c == '\u{2029}' {
            ' '
        } else {
            c
        };
        if !(c == ' ' && out.ends_with(' ')) {
            out.push(c);
        }
    }
    out.trim().to_owned()
}

/// `stabmon-HOST-YYYYMMDDTHHMMZ-YYYYMMDDTHHMMZ.html`, the host reduced to letters, digits, `.`, `_` and `-`.
fn attachment_name(host: &str, from_us: i64, to_us: i64) -> String {
    let safe: String = host
        .chars()
        .take(NAME_MAX_CHARS)
        .map(|c| {
            if c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-') {
                c
            } else {
                '_'
            }
        })
        .collect();
    let safe = if safe.is_empty() {
        "host".to_owned()
    } else {
        safe
    };
    let stamp = |us: i64| {
        let c = crate::timefmt::civil(us.div_euclid(1_000_000));
        format!(
            "{:04}{:02}{:02}T{:02}{:02}Z",
            c.year, c.month, c.day, c.hour, c.minute
        )
    };
    format!("stabmon-{safe}-{}-{}.html", stamp(from_us), stamp(to_us))
}

/// What the body says, gathered once for the HTML, the text and the subject.
struct Body<'a> {
    model: &'a Model,
    host: String,
    range: String,
    samples: usize,
    /// Indices of the incidents listed, in order of start.
    listed: Vec<usize>,
    /// Counts by kind of the incidents not listed.
    more: Vec<(&'static str, usize)>,
    gaps: Vec<usize>,
}

impl<'a> Body<'a> {
    fn new(model: &'a Model, h: &Header<'_>) -> Body<'a> {
        let ts = |us: i64| Timestamp::from_unix_micros(us);
        let o = &model.offsets;
        let range = format!(
            "{} to {} (UTC{})",
            local_datetime(ts(model.frame.from_us), o),
            local_datetime(ts(model.frame.to_us), o),
            offset_str(o.at(model.frame.from_us.div_euclid(1_000_000)))
        );
        let (gaps, spikes): (Vec<usize>, Vec<usize>) = (0..model.incidents.len())
            .partition(|&i| matches!(model.incidents[i].kind, IncidentKind::Gap(_)));
        // The largest incidents of each kind first: the magnitude's units differ by kind, so rank within a kind,
        // then take kinds in turn.
        let mut by_kind: Vec<Vec<usize>> = Vec::new();
        for &i in &spikes {
            let name = kind_name(&model.incidents[i].kind);
            match by_kind
                .iter_mut()
                .find(|v| kind_name(&model.incidents[v[0]].kind) == name)
            {
                Some(v) => v.push(i),
                None => by_kind.push(vec![i]),
            }
        }
        for v in &mut by_kind {
            v.sort_by(|a, b| {
                model.incidents[*b]
                    .magnitude
                    .total_cmp(&model.incidents[*a].magnitude)
            });
        }
        let mut listed = Vec::new();
        let mut round = 0;
        while listed.len() < MAIL_MAX_INCIDENTS && listed.len() < spikes.len() {
            for v in &by_kind {
                if let Some(&i) = v.get(round)
                    && listed.len() < MAIL_MAX_INCIDENTS
                {
                    listed.push(i);
                }
            }
            round += 1;
        }
        listed.sort_unstable();
        let mut more: Vec<(&'static str, usize)> = Vec::new();
        for &i in &spikes {
            if listed.binary_search(&i).is_err() {
                let name = kind_name(&model.incidents[i].kind);
                match more.iter_mut().find(|m| m.0 == name) {
                    Some(m) => m.1 += 1,
                    None => more.push((name, 1)),
                }
            }
        }
        let gaps = gaps.into_iter().take(MAIL_MAX_INCIDENTS).collect();
        Body {
            model,
            host: truncate_chars(&one_line(h.host), NAME_MAX_CHARS),
            range,
            samples: h.samples,
            listed,
            more,
            gaps,
        }
    }

    fn spikes(&self) -> usize {
        self.model
            .incidents
            .iter()
            .filter(|i| !matches!(i.kind, IncidentKind::Gap(_)))
            .count()
    }

    fn gap_count(&self) -> usize {
        self.model.incidents.len() - self.spikes()
    }

    fn headline(&self) -> String {
        let n = self.spikes();
        let mut s = match n {
            0 => "no incidents".to_owned(),
            1 => "1 incident".to_owned(),
            n => format!("{n} incidents"),
        };
        match self.gap_count() {
            0 => {}
            1 => s.push_str(", 1 gap"),
            g => s.push_str(&format!(", {g} gaps")),
        }
        s
    }

    fn subject(&self) -> String {
        // The biggest CPU or memory culprit's name, for a subject that says who.
        let who = self
            .listed
            .iter()
            .map(|&i| &self.model.incidents[i])
            .filter_map(|inc| inc.culprit.as_ref().map(|c| (inc, c)))
            .max_by(|a, b| a.0.magnitude.total_cmp(&b.0.magnitude))
            .map(|(inc, c)| {
                format!(
                    " ({}: {})",
                    kind_name(&inc.kind),
                    truncate_chars(&one_line(&c.name), 32)
                )
            })
            .unwrap_or_default();
        let s = format!(
            "stabmon {}: {}{} {}",
            self.host,
            self.headline(),
            who,
            self.range
        );
        truncate_chars(&one_line(&s), 150)
    }

    fn start(&self, inc: &Incident) -> String {
        local_datetime_offset(inc.start, &self.model.offsets)
    }

    fn length(inc: &Incident) -> String {
        duration(
            inc.end
                .duration_since(inc.start)
                .map_or(0.0, |d| d.as_secs_f64()),
        )
    }

    fn more_text(&self) -> Option<String> {
        let n: usize = self.more.iter().map(|m| m.1).sum();
        (n > 0).then(|| {
            let kinds: Vec<String> = self
                .more
                .iter()
                .map(|(k, c)| format!("{c} × {k}"))
                .collect();
            format!(
                "and {n} more incident{} ({}): all are in the attached report",
                if n == 1 { "" } else { "s" },
                kinds.join(", ")
            )
        })
    }

    fn latency_rows(&self) -> Vec<(String, &'static str, String)> {
        let mut out = Vec::new();
        for c in &self.model.charts {
            for l in &c.lanes {
                let mut figures = format!("{} probes, {:.1} % lost", l.probes, l.loss * 100.0);
                if let Some(m) = l.median_ms {
                    let _ = write!(figures, ", median {m:.1} ms");
                }
                if let Some(j) = l.jitter_ms {
                    let _ = write!(figures, ", jitter {j:.1} ms");
                }
                if let Some(m) = l.max_ms {
                    let _ = write!(figures, ", max {m:.0} ms");
                }
                out.push((
                    truncate_chars(&one_line(&l.name), NAME_MAX_CHARS),
                    l.class,
                    figures,
                ));
            }
        }
        out
    }

    fn html(&self, images: &[InlineImage]) -> String {
        const FONT: &str = "font-family:Arial,Helvetica,sans-serif";
        let hex = |class: &str| {
            let c = class_rgb(class);
            format!("#{:02x}{:02x}{:02x}", c.0, c.1, c.2)
        };
        let mut o = String::with_capacity(16_384);
        let _ = write!(
            o,
            "<!DOCTYPE html><html><head><meta charset=\"utf-8\">\
             <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\
             <title>{}</title></head>\
             <body style=\"margin:0;padding:0;background:#ffffff\">\
             <table role=\"presentation\" width=\"100%\" cellpadding=\"0\" cellspacing=\"0\" border=\"0\"><tr><td align=\"center\">\
             <table role=\"presentation\" width=\"600\" cellpadding=\"0\" cellspacing=\"0\" border=\"0\" \
             style=\"width:100%;max-width:600px;{FONT};color:#1f2328;font-size:14px;line-height:1.45\">",
            html(&self.subject())
        );
        let _ = write!(
            o,
            "<tr><td style=\"padding:12px 8px 4px\"><h1 style=\"margin:0;font-size:20px\">{}: {}</h1>\
             <p style=\"margin:4px 0 0;color:#59636e\">{} · {} samples</p></td></tr>",
            html(&self.host),
            html(&self.headline()),
            html(&self.range),
            self.samples
        );
        for img in images {
            let _ = write!(
                o,
                "<tr><td style=\"padding:10px 0 0\"><img src=\"cid:{}\" width=\"{}\" alt=\"{}\" \
                 style=\"display:block;width:100%;max-width:{}px;height:auto;border:0\"></td></tr>",
                html(&img.cid),
                img.chart.width_px.min(600),
                html(img.chart.title),
                img.chart.width_px.min(600),
            );
        }
        let section = |o: &mut String, title: &str| {
            let _ = write!(
                o,
                "<tr><td style=\"padding:16px 8px 4px\"><h2 style=\"margin:0;font-size:16px\">{}</h2></td></tr>",
                html(title)
            );
        };
        section(&mut o, "Incidents");
        if self.listed.is_empty() {
            o.push_str(
                "<tr><td style=\"padding:4px 8px\">No incidents found in this range.</td></tr>",
            );
        }
        for &i in &self.listed {
            let inc = &self.model.incidents[i];
            let color = hex(kind_class(&inc.kind));
            let _ = write!(
                o,
                "<tr><td style=\"padding:6px 8px;border-left:4px solid {color};border-bottom:1px solid #eef1f4\">\
                 <b style=\"color:{color}\">{}</b> · {} · {} · {}<br>",
                html(kind_name(&inc.kind)),
                html(&self.start(inc)),
                html(&Self::length(inc)),
                html(&magnitude(inc)),
            );
            match (&inc.culprit, &inc.target) {
                (Some(c), _) => {
                    let _ = write!(
                        o,
                        "<b>{}</b>",
                        html(&truncate_chars(&one_line(&c.label()), NAME_MAX_CHARS + 40))
                    );
                    if let Some(cmd) = &c.cmdline {
                        let _ = write!(
                            o,
                            "<br><code style=\"font-size:12px;color:#59636e;word-break:break-all\">{}</code>",
                            html(&truncate_chars(&one_line(cmd), CMDLINE_MAX_CHARS))
                        );
                    }
                }
                (None, Some(t)) => {
                    let _ = write!(
                        o,
                        "target <b>{}</b>",
                        html(&truncate_chars(&one_line(t), NAME_MAX_CHARS))
                    );
                }
                (None, None) => {
                    o.push_str(&html(&truncate_chars(&one_line(&inc.summary), 160)));
                }
            }
            o.push_str("</td></tr>");
        }
        if let Some(more) = self.more_text() {
            let _ = write!(
                o,
                "<tr><td style=\"padding:6px 8px;color:#59636e\">{}</td></tr>",
                html(&more)
            );
        }
        if !self.gaps.is_empty() {
            section(&mut o, "Gaps in the recording");
            for &i in &self.gaps {
                let inc = &self.model.incidents[i];
                let _ = write!(
                    o,
                    "<tr><td style=\"padding:6px 8px;border-left:4px solid {};border-bottom:1px solid #eef1f4\">\
                     {} · {} · {}</td></tr>",
                    hex(kind_class(&inc.kind)),
                    html(&self.start(inc)),
                    html(&Self::length(inc)),
                    html(&truncate_chars(&one_line(&inc.label()), 160)),
                );
            }
        }
        let lat = self.latency_rows();
        if !lat.is_empty() {
            section(&mut o, "Latency per target");
            for (name, class, figures) in lat {
                let _ = write!(
                    o,
                    "<tr><td style=\"padding:4px 8px\"><b style=\"color:{}\">{}</b>: {}</td></tr>",
                    hex(class),
                    html(&name),
                    html(&figures)
                );
            }
        }
        o.push_str(
            "<tr><td style=\"padding:18px 8px 24px;color:#59636e;font-size:12.5px\">The interactive report (hover, \
             zoom, every incident and gap) is attached; open it in a browser. Times are the host's local time. \
             Made by stabmon.</td></tr></table></td></tr></table></body></html>\n",
        );
        o
    }

    fn text(&self) -> String {
        let mut o = String::new();
        let _ = writeln!(o, "{}: {}", self.host, self.headline());
        let _ = writeln!(o, "{} · {} samples", self.range, self.samples);
        o.push_str("\nIncidents\n");
        if self.listed.is_empty() {
            o.push_str("  No incidents found in this range.\n");
        }
        for &i in &self.listed {
            let inc = &self.model.incidents[i];
            let _ = writeln!(
                o,
                "- {} · {} · {} · {}",
                kind_name(&inc.kind),
                self.start(inc),
                Self::length(inc),
                magnitude(inc)
            );
            match (&inc.culprit, &inc.target) {
                (Some(c), _) => {
                    let _ = writeln!(
                        o,
                        "  {}",
                        truncate_chars(&one_line(&c.label()), NAME_MAX_CHARS + 40)
                    );
                    if let Some(cmd) = &c.cmdline {
                        let _ = writeln!(
                            o,
                            "  $ {}",
                            truncate_chars(&one_line(cmd), CMDLINE_MAX_CHARS)
                        );
                    }
                }
                (None, Some(t)) => {
                    let _ = writeln!(
                        o,
                        "  target {}",
                        truncate_chars(&one_line(t), NAME_MAX_CHARS)
                    );
                }
                (None, None) => {
                    let _ = writeln!(o, "  {}", truncate_chars(&one_line(&inc.summary), 160));
                }
            }
        }
        if let Some(more) = self.more_text() {
            let _ = writeln!(o, "  {more}");
        }
        if !self.gaps.is_empty() {
            o.push_str("\nGaps in the recording\n");
            for &i in &self.gaps {
                let inc = &self.model.incidents[i];
                let _ = writeln!(
                    o,
                    "- {} · {} · {}",
                    self.start(inc),
                    Self::length(inc),
                    truncate_chars(&one_line(&inc.label()), 160)
                );
            }
        }
        let lat = self.latency_rows();
        if !lat.is_empty() {
            o.push_str("\nLatency per target\n");
            for (name, _, figures) in lat {
                let _ = writeln!(o, "- {name}: {figures}");
            }
        }
        o.push_str(
            "\nThe interactive report (hover, zoom, every incident and gap) is attached; open it in a browser.\n\
             Times are the host's local time.\n",
        );
        o
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_line_removes_line_breaks_and_controls() {
        assert_eq!(one_line("a\r\nBcc: x@y\r\n\tz"), "a Bcc: x@y z");
        assert_eq!(one_line("  \u{1b}[31mred\u{2028}"), "[31mred");
    }

    #[test]
    fn attachment_names_are_safe_file_names() {
        let from = 1_795_564_800_000_000;
        assert_eq!(
            attachment_name("web-1", from, from + 3_600_000_000),
            "stabmon-web-1-20261125T0000Z-20261125T0100Z.html"
        );
        assert_eq!(
            attachment_name("../e\u{0}vil/\"x", from, from),
            "stabmon-.._e_vil__x-20261125T0000Z-20261125T0000Z.html"
        );
    }
}
