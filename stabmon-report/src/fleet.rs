//! The fleet page: one standalone page over many hosts, an overview table ranked by incidents whose rows link to
//! each host's section, that section holding the host's charts, incidents and gaps as its own report draws them.
//!
//! Hosts are rendered one at a time into a [`HostSection`] (the caller drops each host's columns once its section
//! is made), and the page is assembled from the sections, so memory is that of one host's columns plus the page.

use std::fmt::Write as _;

use stabmon_core::analysis::{Incident, IncidentKind};
use stabmon_core::human::{bytes, pct};
use stabmon_core::series::SystemSeries;

use crate::escape::{html, push_html};
use crate::page::{duration, kind_name, push_head, push_warnings};
use crate::timefmt::{Offsets, local_datetime};

/// Columns of the CPU sparkline in the overview.
const SPARK_COLUMNS: usize = 120;
/// Its height in pixels.
const SPARK_H: f64 = 22.0;

/// One host of a fleet page, rendered: its figures for the overview and its section's HTML.
///
/// Made by [`Report::render_host_section_from`](crate::Report::render_host_section_from) (or
/// [`HostSection::without_samples`] for a host with no sample in the range), and put on a page by
/// [`Report::render_fleet`](crate::Report::render_fleet).
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct HostSection {
    /// The host's name.
    pub host: String,
    /// How many samples of the range it has.
    pub samples: usize,
    /// Its incidents in the range, in order of start (gaps included).
    pub incidents: Vec<Incident>,
    /// The highest CPU busy % of the range (`None` without samples).
    pub peak_cpu_pct: Option<f64>,
    /// The most memory used in the range, with the host's memory then (`None` without samples).
    pub peak_mem: Option<(u64, u64)>,
    /// The share of the range (0 to 1) its samples cover: the sum of their intervals over the range's length.
    pub coverage: f64,
    /// The range the section was rendered for (µs), `None` without samples.
    pub(crate) range_us: Option<(i64, i64)>,
    /// The section's HTML, empty without samples.
    pub(crate) html: String,
    /// The overview's CPU sparkline (an inline SVG), empty without samples.
    pub(crate) spark: String,
}

impl HostSection {
    /// A host listed in the overview with no sample in the range, and no section.
    pub fn without_samples(host: impl Into<String>) -> Self {
        HostSection {
            host: host.into(),
            samples: 0,
            incidents: Vec::new(),
            peak_cpu_pct: None,
            peak_mem: None,
            coverage: 0.0,
            range_us: None,
            html: String::new(),
            spark: String::new(),
        }
    }

    /// A host's overview row without a section (for an index of hosts whose rows link to their own pages): its
    /// `incidents` and the figures of `series` in `[from, to)`, which may be empty.
    pub fn overview_only(
        series: &SystemSeries,
        mut incidents: Vec<Incident>,
        from: stabmon_core::Timestamp,
        to: stabmon_core::Timestamp,
    ) -> Self {
        let mut out = HostSection::without_samples(series.host.clone());
        let lo = series.ts.partition_point(|t| *t < from);
        let hi = series.ts.partition_point(|t| *t < to).max(lo);
        if hi > lo {
            figures(
                &mut out,
                series,
                (lo, hi),
                (from.as_unix_micros(), to.as_unix_micros()),
            );
        }
        incidents.sort_by(|a, b| a.start.cmp(&b.start).then(a.peak.cmp(&b.peak)));
        out.incidents = incidents;
        out
    }

    /// How many incidents are not gaps in the recording.
    pub fn events(&self) -> usize {
        self.incidents.iter().filter(|i| !is_gap(i)).count()
    }

    /// How many gaps in the recording, and their total length.
    pub fn gaps(&self) -> (usize, std::time::Duration) {
        self.incidents
            .iter()
            .filter(|i| is_gap(i))
            .fold((0, std::time::Duration::ZERO), |(n, d), i| {
                (n + 1, d + i.duration())
            })
    }

    /// The size of the section and its sparkline in bytes.
    pub fn html_bytes(&self) -> usize {
        self.html.len() + self.spark.len()
    }
}

fn is_gap(i: &Incident) -> bool {
    matches!(i.kind, IncidentKind::Gap(_))
}

/// The order of the overview: the most incidents (not counting gaps) first, then the most gaps, then by name.
pub fn rank(sections: &mut [HostSection]) {
    sections.sort_by(|a, b| {
        b.events()
            .cmp(&a.events())
            .then(b.gaps().0.cmp(&a.gaps().0))
            .then(a.host.cmp(&b.host))
    });
}

/// The figures of the overview row that come from samples `lo..hi` of `series` (non-empty, within `[from_us,
/// to_us)`): peak CPU, peak memory, coverage and the sparkline.
pub(crate) fn figures(
    section: &mut HostSection,
    series: &SystemSeries,
    (lo, hi): (usize, usize),
    (from_us, to_us): (i64, i64),
) {
    let cpu = series.cpu_busy_pct.get(lo..hi).unwrap_or_default();
    section.samples = hi - lo;
    section.range_us = Some((from_us, to_us));
    section.peak_cpu_pct = cpu
        .iter()
        .copied()
        .filter(|v| v.is_finite())
        .map(f64::from)
        .reduce(f64::max);
    let rows = lo..hi.min(series.mem_used_bytes.len());
    section.peak_mem = rows
        .clone()
        .map(|i| (i, series.mem_used_bytes.get(i)))
        .max_by_key(|(_, b)| *b)
        .map(|(i, b)| (b, series.mem_total_bytes.get(i).copied().unwrap_or(0)));
    let span_us = (to_us - from_us).max(1) as f64;
    let covered_us: f64 = rows
        .map(|i| (series.interval_us.get(i) as f64).min(span_us))
        .sum();
    section.coverage = (covered_us / span_us).clamp(0.0, 1.0);
    let ts = series.ts.get(lo..hi).unwrap_or_default();
    section.spark = sparkline(ts, cpu, from_us, to_us);
}

/// CPU busy % as a small inline SVG: each of [`SPARK_COLUMNS`] columns of the range at its highest, broken where
/// a column has no sample.
fn sparkline(ts: &[stabmon_core::Timestamp], cpu: &[f32], from_us: i64, to_us: i64) -> String {
    let span = (to_us - from_us).max(1) as f64;
    let mut cols: Vec<Option<f32>> = vec![None; SPARK_COLUMNS];
    for (t, v) in ts.iter().zip(cpu) {
        if !v.is_finite() {
            continue;
        }
        let x = ((t.as_unix_micros() - from_us) as f64 / span * SPARK_COLUMNS as f64) as isize;
        if let Some(c) = usize::try_from(x).ok().and_then(|x| cols.get_mut(x)) {
            *c = Some(c.map_or(*v, |m| m.max(*v)));
        }
    }
    let mut d = String::new();
    let mut pen_up = true;
    for (x, c) in cols.iter().enumerate() {
        match c {
            Some(v) => {
                let y = SPARK_H - 1.0 - f64::from(v.clamp(0.0, 100.0)) / 100.0 * (SPARK_H - 2.0);
                let _ = write!(d, "{}{x} {y:.1}", if pen_up { "M" } else { "L" });
                pen_up = false;
            }
            None => pen_up = true,
        }
    }
    format!(
        "<svg class=\"spark\" width=\"{w}\" height=\"{h}\" viewBox=\"0 0 {w} {h}\" role=\"img\" \
         aria-label=\"CPU busy over the range\"><rect class=\"sb\" width=\"{w}\" height=\"{h}\"/>\
         <path d=\"{d}\"/></svg>",
        w = SPARK_COLUMNS,
        h = SPARK_H
    )
}

/// The prefix of every element id of a host's section: `host-NAME-` where the name is safe in an id and a URL
/// fragment (letters, digits, `.`, `_`, `-`; at most 64), else `hx-` and the start of the name's SHA-256, so that
/// links to a host stay the same from one page to the next.
pub(crate) fn anchor(host: &str) -> String {
    let plain = !host.is_empty()
        && host.len() <= 64
        && host
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-'));
    if plain {
        format!("host-{host}-")
    } else {
        use sha2::Digest as _;
        let digest = sha2::Sha256::digest(host.as_bytes());
        let hex: String = digest.iter().take(8).map(|b| format!("{b:02x}")).collect();
        format!("hx-{hex}-")
    }
}

/// Where a host's row in the overview links to: its section on the same page, or another page.
pub(crate) enum Links<'a> {
    /// `#{anchor}host`, the sections following the overview.
    Sections,
    /// The URL made of the host's name (percent-encoded by the caller); no sections.
    Pages(&'a dyn Fn(&str) -> String),
}

/// A fleet page's head and facts.
pub(crate) struct Page<'a> {
    pub(crate) title: &'a str,
    pub(crate) from_us: i64,
    pub(crate) to_us: i64,
    pub(crate) refresh: Option<std::time::Duration>,
    /// The notice of what was left out (see [`ReportBuilder::warnings`](crate::ReportBuilder::warnings)).
    pub(crate) warnings: &'a [String],
}

/// The page, hosts in the order of `sections`.
pub(crate) fn render(p: &Page<'_>, sections: &[HostSection], links: &Links<'_>) -> String {
    let (title, from_us, to_us) = (p.title, p.from_us, p.to_us);
    let offsets = &Offsets::from_series(&SystemSeries::new(""), None);
    let ts = stabmon_core::Timestamp::from_unix_micros;
    let body: usize = sections.iter().map(HostSection::html_bytes).sum();
    let mut out = String::with_capacity(body + 64 * 1024);
    push_head(&mut out, title, p.refresh);
    let with_data = sections.iter().filter(|s| s.samples > 0).count();
    let events: usize = sections.iter().map(HostSection::events).sum();
    out.push_str("<header><h1>");
    push_html(&mut out, title);
    let _ = write!(
        out,
        "</h1><p class=\"meta\">{} host{} ({} with samples) · {} to {} UTC · {} incident{} besides gaps</p>",
        sections.len(),
        if sections.len() == 1 { "" } else { "s" },
        with_data,
        html(&local_datetime(ts(from_us), offsets)),
        html(&local_datetime(ts(to_us), offsets)),
        events,
        if events == 1 { "" } else { "s" },
    );
    push_warnings(&mut out, p.warnings);
    out.push_str("</header>");
    out.push_str(
        "<section id=\"fleet\"><h2>Hosts, most incidents first</h2><table class=\"fleet\"><thead><tr>\
         <th>Host</th><th>Incidents</th><th>By kind</th><th>Peak CPU</th><th>Peak memory used</th><th>Gaps</th>\
         <th>Coverage</th><th>CPU busy</th></tr></thead><tbody>",
    );
    for s in sections {
        let ids = anchor(&s.host);
        let (host_href, incidents_href) = match links {
            Links::Sections => (format!("#{ids}host"), format!("#{ids}incidents")),
            Links::Pages(f) => {
                let url = f(&s.host);
                (url.clone(), url)
            }
        };
        if s.samples == 0 {
            let _ = write!(
                out,
                "<tr><td><a href=\"{}\">{}</a></td><td colspan=\"7\" class=\"pid\">no samples in this range</td></tr>",
                html(&host_href),
                html(&s.host)
            );
            continue;
        }
        let _ = write!(
            out,
            "<tr><td><a href=\"{}\">{}</a></td><td class=\"num\"><a href=\"{}\">{}</a></td>\
             <td class=\"kinds\">{}</td><td class=\"num\">{}</td><td class=\"num\">{}</td><td class=\"num\">{}</td>\
             <td class=\"num\">{}</td><td>{}</td></tr>",
            html(&host_href),
            html(&s.host),
            html(&incidents_href),
            s.events(),
            html(&by_kind(&s.incidents)),
            s.peak_cpu_pct.map(pct).unwrap_or_default(),
            html(&s.peak_mem.map(mem_text).unwrap_or_default()),
            html(&gaps_text(s.gaps())),
            pct(100.0 * s.coverage),
            s.spark,
        );
    }
    out.push_str("</tbody></table></section>");
    if matches!(links, Links::Sections) {
        for s in sections {
            out.push_str(&s.html);
        }
    }
    let _ = writeln!(
        out,
        "<footer>Made by stabmon-report {} from {} hosts. Times in the overview are UTC; each host's {} \
         shows the host's local time.</footer></body></html>",
        env!("CARGO_PKG_VERSION"),
        sections.len(),
        match links {
            Links::Sections => "section",
            Links::Pages(_) => "page",
        },
    );
    out
}

/// `2 × CPU surge, 1 × memory climb`: the incidents besides gaps, by kind, most frequent first.
fn by_kind(incidents: &[Incident]) -> String {
    let mut counts: Vec<(&'static str, usize)> = Vec::new();
    for inc in incidents.iter().filter(|i| !is_gap(i)) {
        let name = kind_name(&inc.kind);
        match counts.iter_mut().find(|c| c.0 == name) {
            Some(c) => c.1 += 1,
            None => counts.push((name, 1)),
        }
    }
    counts.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(b.0)));
    counts
        .iter()
        .map(|(n, c)| format!("{c} × {n}"))
        .collect::<Vec<_>>()
        .join(", ")
}

fn mem_text((used, total): (u64, u64)) -> String {
    if total > 0 {
        format!(
            "{} of {} ({})",
            bytes(used),
            bytes(total),
            pct(100.0 * used as f64 / total as f64)
        )
    } else {
        bytes(used)
    }
}

fn gaps_text((n, d): (usize, std::time::Duration)) -> String {
    if n == 0 {
        "none".to_owned()
    } else {
        format!("{n}, {}", duration(d.as_secs_f64()))
    }
}

pub(crate) use crate::page::section;

#[cfg(test)]
mod tests {
    use super::*;
    use stabmon_core::Timestamp;

    #[test]
    fn anchors_are_the_name_where_safe_and_a_hash_elsewhere() {
        assert_eq!(anchor("web-1.example_2"), "host-web-1.example_2-");
        let odd = anchor("db <1>\"");
        assert!(
            odd.starts_with("hx-") && odd.len() == "hx-".len() + 16 + 1,
            "{odd}"
        );
        assert!(
            odd[3..odd.len() - 1].chars().all(|c| c.is_ascii_hexdigit()),
            "{odd}"
        );
        assert_ne!(anchor("db <1>\""), anchor("db <2>\""));
        assert!(anchor("").starts_with("hx-"));
        assert!(anchor(&"a".repeat(65)).starts_with("hx-"));
    }

    #[test]
    fn hosts_rank_by_incidents_then_gaps_then_name() {
        let t = Timestamp::from_unix_secs;
        let with = |host: &str, kinds: &[IncidentKind]| {
            let mut s = HostSection::without_samples(host);
            s.incidents = kinds
                .iter()
                .map(|k| Incident::new(*k, t(0), t(60)))
                .collect();
            s
        };
        let gap = IncidentKind::Gap(stabmon_core::analysis::GapKind::Died);
        let mut list = vec![
            with("c", &[]),
            with("b", &[gap, gap]),
            with("a", &[IncidentKind::CpuSurge]),
            with("d", &[IncidentKind::CpuSurge, IncidentKind::OomKill, gap]),
            with("a2", &[]),
        ];
        rank(&mut list);
        let order: Vec<&str> = list.iter().map(|s| s.host.as_str()).collect();
        assert_eq!(order, ["d", "a", "b", "a2", "c"]);
        assert_eq!(list[0].events(), 2);
        assert_eq!(list[0].gaps(), (1, std::time::Duration::from_secs(60)));
        assert_eq!(by_kind(&list[0].incidents), "1 × CPU surge, 1 × OOM kill");
    }
}
