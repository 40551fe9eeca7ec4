//! The HTML page: header, charts, incident table, gap panels, the data for the script, and a Content-Security-Policy
//! that allows only this page's own inline script and style (pinned by their SHA-256), nothing else.

use std::fmt::Write as _;

use base64::Engine as _;
use serde_json::{Value, json};
use sha2::{Digest, Sha256};

use crate::escape::{html, json_for_script, push_html};
use crate::model::{ChartModel, Model, Unit, kind_class};
use crate::svg::{TICK_MIN_PX, chart_svg};
use crate::timefmt::{local_datetime, local_datetime_offset, offset_str};
use stabmon_core::analysis::{GapKind, Incident, IncidentKind};
use stabmon_core::human::{self, bytes, pct};

/// The page's script, inlined.
pub(crate) const SCRIPT: &str = include_str!("../assets/report.js");
/// The page's style sheet, inlined.
pub(crate) const STYLE: &str = include_str!("../assets/report.css");

/// `'sha256-...'` of `text`, as a CSP source.
pub(crate) fn csp_hash(text: &str) -> String {
    let digest = Sha256::digest(text.as_bytes());
    format!(
        "'sha256-{}'",
        base64::engine::general_purpose::STANDARD.encode(digest)
    )
}

/// The Content-Security-Policy of the page.
pub(crate) fn csp() -> String {
    format!(
        "default-src 'none'; script-src {}; style-src {}; img-src 'none'; connect-src 'none'; \
         base-uri 'none'; form-action 'none'",
        csp_hash(SCRIPT),
        csp_hash(STYLE)
    )
}

/// A human name of an incident kind.
pub(crate) fn kind_name(kind: &IncidentKind) -> &'static str {
    match kind {
        IncidentKind::CpuSurge => "CPU surge",
        IncidentKind::MemoryClimb => "memory climb",
        IncidentKind::SwapGrowth => "swap growth",
        IncidentKind::OomKill => "OOM kill",
        IncidentKind::PressureStall => "pressure stall",
        IncidentKind::LatencySpike => "latency spike",
        IncidentKind::LatencyOutage => "latency outage",
        IncidentKind::Runaway => "runaway process",
        IncidentKind::Gap(GapKind::Rebooted) => "gap: machine rebooted",
        IncidentKind::Gap(GapKind::Died) => "gap: recorder died",
        IncidentKind::Gap(GapKind::Unreadable) => "gap: data unreadable",
        IncidentKind::Gap(_) => "gap: recorder stopped",
        #[allow(unreachable_patterns)]
        _ => "incident",
    }
}

/// The magnitude in the unit its kind is measured in.
pub(crate) fn magnitude(inc: &Incident) -> String {
    let m = inc.magnitude;
    match inc.kind {
        IncidentKind::CpuSurge | IncidentKind::PressureStall => pct(m),
        IncidentKind::MemoryClimb | IncidentKind::SwapGrowth => bytes(whole(m)),
        IncidentKind::OomKill => format!("{m:.0}"),
        IncidentKind::Gap(_) => duration(m),
        IncidentKind::LatencySpike => duration(m / 1000.0),
        IncidentKind::LatencyOutage => format!("{} loss", pct(m)),
        IncidentKind::Runaway => format!("{} of a core", pct(m)),
        #[allow(unreachable_patterns)]
        _ => format!("{m:.2}"),
    }
}

/// [`human::duration`] of seconds (not a number or below zero: zero).
pub(crate) fn duration(secs: f64) -> String {
    human::duration(std::time::Duration::try_from_secs_f64(secs).unwrap_or_default())
}

/// A whole count of bytes from a magnitude (below zero: zero).
fn whole(v: f64) -> u64 {
    v.max(0.0).round() as u64
}

/// The legend of the latency chart: per target its colour and its figures over the range.
fn latency_legend(out: &mut String, c: &ChartModel) {
    for l in &c.lanes {
        let _ = write!(
            out,
            "<span class=\"key lstat\" data-target=\"{}\"><i class=\"sw {}\"></i><b>{}</b>: loss {} ({} of {} probes failed)",
            html(&l.name),
            l.class,
            html(&l.name),
            pct(100.0 * l.loss),
            l.failed,
            l.probes
        );
        if let Some(j) = l.jitter_ms {
            let _ = write!(out, ", jitter {}", duration(j / 1000.0));
        }
        if let Some(m) = l.median_ms {
            let _ = write!(out, ", median {}", duration(m / 1000.0));
        }
        if let Some(m) = l.max_ms {
            let _ = write!(out, ", max {}", duration(m / 1000.0));
        }
        out.push_str("</span>");
    }
    out.push_str("<span class=\"key\"><i class=\"sw failkey\"></i>failed probe</span>");
}

/// What the page's script needs, as JSON (times in ms relative to the range start, values as scaled integers).
fn data_json(model: &Model) -> Value {
    let t0 = model.frame.from_us;
    let ms = |us: i64| (us - t0).div_euclid(1000);
    let charts: Vec<Value> = model
        .charts
        .iter()
        .map(|c| {
            let series: Vec<Value> = c
                .series
                .iter()
                .map(|s| {
                    let mut prev = 0i64;
                    let mut t = Vec::with_capacity(s.points.len());
                    let mut v = Vec::with_capacity(s.points.len());
                    let mut b = Vec::new();
                    for (k, &(us, val, brk)) in s.points.iter().enumerate() {
                        let m = ms(us);
                        t.push(m - prev);
                        prev = m;
                        v.push((val * s.json_scale).round() as i64);
                        if brk {
                            b.push(k);
                        }
                    }
                    json!({"c": s.class, "a": s.area, "k": s.json_scale, "n": s.name, "t": t, "v": v, "b": b})
                })
                .collect();
            let unit = match c.unit {
                Unit::Pct => "pct",
                Unit::Gb => "gb",
                Unit::Load => "load",
                Unit::LogMs => "logms",
            };
            let lanes: Vec<Value> = c
                .lanes
                .iter()
                .enumerate()
                .map(|(k, l)| {
                    let mut prev = 0i64;
                    let t: Vec<i64> = l
                        .fail_us
                        .iter()
                        .map(|&us| {
                            let m = ms(us);
                            let d = m - prev;
                            prev = m;
                            d
                        })
                        .collect();
                    json!({"y": c.lane_y(k), "t": t})
                })
                .collect();
            json!({"id": c.id, "top": c.plot_top, "h": c.plot_h, "vh": c.plot_h - c.band_h, "ymax": c.y_max,
                   "unit": unit, "series": series, "lanes": lanes})
        })
        .collect();
    let mut prev = 0i64;
    let mut mt = Vec::with_capacity(model.moments.len());
    let mut mv = Vec::with_capacity(model.moments.len() * 5);
    let mut mp = Vec::with_capacity(model.moments.len());
    let mut mr = Vec::with_capacity(model.moments.len());
    let mut ml = Vec::with_capacity(model.moments.len());
    for m in &model.moments {
        if !m.latency.is_empty() {
            let l: Vec<Value> = m
                .latency
                .iter()
                .map(|x| match x {
                    Some(Ok(v)) => json!((v * 1000.0).round() as i64),
                    Some(Err(kind)) => json!(kind),
                    None => Value::Null,
                })
                .collect();
            ml.push(Value::Array(l));
        }
        let t = ms(m.ts_us);
        mt.push(t - prev);
        prev = t;
        mv.push(json!([
            (m.busy_pct * 10.0).round() as i64,
            (m.used_gb * 1000.0).round() as i64,
            (m.avail_gb * 1000.0).round() as i64,
            (m.swap_gb * 1000.0).round() as i64,
            m.load1.map(|l| (l * 100.0).round() as i64)
        ]));
        let p: Vec<i64> = m
            .top_cpu
            .iter()
            .flat_map(|&(i, c)| [i as i64, (c * 10.0).round() as i64])
            .collect();
        mp.push(p);
        let r: Vec<i64> = m
            .top_rss
            .iter()
            .flat_map(|&(i, b)| [i as i64, (b as f64 / 1e6).round() as i64])
            .collect();
        mr.push(r);
    }
    let procs: Vec<Value> = model
        .procs
        .iter()
        .map(|p| json!([p.name, p.pid, p.cmdline, p.unit]))
        .collect();
    let incidents: Vec<Value> = model
        .charts
        .iter()
        .enumerate()
        .flat_map(|(ci, c)| {
            c.labels.iter().map(move |l| {
                json!({"i": l.incident, "c": ci, "w": l.width, "p": (l.peak_x - model.frame.left) / model.frame.width, "my": l.marker_y})
            })
        })
        .collect();
    let label_peaks: Vec<Value> = incidents
        .iter()
        .map(|v| {
            let i = v.get("i").and_then(Value::as_u64).unwrap_or(0) as usize;
            let inc = &model.incidents[i.min(model.incidents.len().saturating_sub(1))];
            let is_gap = matches!(inc.kind, IncidentKind::Gap(_));
            let peak = if is_gap {
                (inc.start.as_unix_micros() + inc.end.as_unix_micros()) / 2
            } else {
                inc.peak.as_unix_micros()
            };
            json!(ms(peak))
        })
        .collect();
    let incidents: Vec<Value> = incidents
        .into_iter()
        .zip(label_peaks)
        .map(|(mut v, p)| {
            if let Some(o) = v.as_object_mut() {
                o.insert("t".into(), p);
                o.remove("p");
            }
            v
        })
        .collect();
    let gaps: Vec<Value> = model
        .gaps
        .iter()
        .map(|&(s, e, i)| json!([ms(s), ms(e), i]))
        .collect();
    let offs: Vec<Value> = model
        .offsets
        .changes()
        .iter()
        .map(|&(s, o)| json!([s * 1000 - t0.div_euclid(1000), o]))
        .collect();
    json!({
        "v": 1,
        "t0": t0.div_euclid(1000),
        "span": ms(model.frame.to_us),
        "left": model.frame.left,
        "width": model.frame.width,
        "tickPx": TICK_MIN_PX,
        "cores": model.cores,
        "off": offs,
        "charts": charts,
        "inc": incidents,
        "gaps": gaps,
        "m": {"t": mt, "v": mv, "p": mp, "r": mr, "l": ml},
        "latn": model
            .charts
            .iter()
            .find(|c| !c.lanes.is_empty())
            .map(|c| c.lanes.iter().map(|l| l.name.clone()).collect::<Vec<_>>())
            .unwrap_or_default(),
        "procs": procs,
    })
}

/// A `<meta http-equiv="refresh">` reloading the page every `every` (whole seconds), when given: no script, so the
/// Content-Security-Policy is untouched.
pub(crate) fn push_refresh(out: &mut String, every: Option<std::time::Duration>) {
    if let Some(d) = every.filter(|d| d.as_secs() > 0) {
        let _ = write!(
            out,
            "<meta http-equiv=\"refresh\" content=\"{}\">",
            d.as_secs()
        );
    }
}

/// Page-level facts for the header.
pub(crate) struct Header<'a> {
    pub(crate) title: &'a str,
    pub(crate) host: &'a str,
    pub(crate) samples: usize,
    pub(crate) first_us: i64,
    pub(crate) last_us: i64,
    /// Reload the page this often (a live view).
    pub(crate) refresh: Option<std::time::Duration>,
    /// The notice of what was left out (see [`ReportBuilder::warnings`](crate::ReportBuilder::warnings)).
    pub(crate) warnings: &'a [String],
}

/// The host's time zone as the page names it: the zone's name where recorded, and its UTC offsets in the range.
fn zone_text(model: &Model) -> String {
    let offsets = &model.offsets;
    let offs: Vec<String> = offsets
        .distinct()
        .into_iter()
        .map(|o| format!("UTC{}", offset_str(o)))
        .collect();
    match &offsets.zone {
        Some(z) => format!("{} ({})", z, offs.join(" / ")),
        None => offs.join(" / "),
    }
}

/// The line under a host's heading: the range, the host's time zone, how many samples and how often, and where the
/// data starts or ends inside the range.
fn push_meta(out: &mut String, model: &Model, h: &Header<'_>, zone: &str) {
    let ts = stabmon_core::Timestamp::from_unix_micros;
    let offsets = &model.offsets;
    let _ = write!(
        out,
        "Host <b>{}</b> · {} to {} · local time of the host: {} · {} samples, every {}",
        html(h.host),
        html(&local_datetime(ts(model.frame.from_us), offsets)),
        html(&local_datetime(ts(model.frame.to_us), offsets)),
        html(zone),
        h.samples,
        html(&duration(model.median_interval_us as f64 / 1e6)),
    );
    if h.samples > 0 && (h.first_us > model.frame.from_us || h.last_us < model.frame.to_us) {
        let _ = write!(
            out,
            " (data from {} to {})",
            html(&local_datetime(ts(h.first_us), offsets)),
            html(&local_datetime(ts(h.last_us), offsets))
        );
    }
}

/// The charts, each a figure with its legend, element ids starting with `ids`.
fn push_figures(out: &mut String, model: &Model, ids: &str) {
    for (ci, c) in model.charts.iter().enumerate() {
        let _ = write!(
            out,
            "<figure class=\"fig\" id=\"{ids}fig-{}\"><figcaption><span class=\"ct\">{}</span>",
            c.id,
            html(c.title)
        );
        out.push_str("<span class=\"legend\">");
        if !c.lanes.is_empty() {
            latency_legend(out, c);
        }
        for s in c.series.iter().filter(|_| c.lanes.is_empty()) {
            let _ = write!(
                out,
                "<span class=\"key\"><i class=\"sw {}\"></i>{}</span>",
                s.class,
                html(&s.name)
            );
        }
        if ci == 0 && !model.gaps.is_empty() {
            out.push_str(
                "<span class=\"key\"><i class=\"sw gapkey\"></i>gap in the recording</span>",
            );
        }
        out.push_str("</span></figcaption>");
        chart_svg(out, model, ci, ids);
        out.push_str("</figure>");
    }
}

/// The `<head>` of a page (a report, a fleet page, a notice) and the opening `<body>`, with the strict policy.
pub(crate) fn push_head(out: &mut String, title: &str, refresh: Option<std::time::Duration>) {
    out.push_str("<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">");
    push_refresh(out, refresh);
    let _ = write!(
        out,
        "<meta http-equiv=\"Content-Security-Policy\" content=\"{}\">",
        // Written as is: the policy is ours (quotes and base64), nothing from the data is in it.
        csp()
    );
    out.push_str("<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">");
    out.push_str("<meta name=\"referrer\" content=\"no-referrer\">");
    let _ = write!(out, "<title>{}</title>", html(title));
    let _ = write!(out, "<style>{STYLE}</style></head><body>");
}

/// The notice of what could not be read and is left out of a page (a report, a fleet page, a notice), each line
/// escaped; nothing without lines.
pub(crate) fn push_warnings(out: &mut String, warnings: &[String]) {
    if warnings.is_empty() {
        return;
    }
    out.push_str(
        "<div class=\"warnings\" role=\"note\"><p>Some data could not be read and is left out of this page:</p><ul>",
    );
    for w in warnings {
        out.push_str("<li>");
        push_html(out, w);
        out.push_str("</li>");
    }
    out.push_str("</ul></div>");
}

/// Renders the page.
pub(crate) fn render(model: &Model, h: &Header<'_>) -> Result<String, serde_json::Error> {
    let mut out = String::with_capacity(1 << 20);
    let zone = zone_text(model);
    push_head(&mut out, h.title, h.refresh);

    // Header.
    out.push_str("<header><h1>");
    push_html(&mut out, h.title);
    out.push_str("</h1><p class=\"meta\">");
    push_meta(&mut out, model, h, &zone);
    out.push_str("</p>");
    out.push_str(&summary(model, ""));
    push_warnings(&mut out, h.warnings);
    out.push_str("</header>");

    out.push_str(
        "<div id=\"toolbar\" class=\"toolbar\" hidden><button type=\"button\" id=\"zoomout\" disabled>Zoom out</button>\
         <span id=\"view\"></span><span class=\"hint\">Drag across a chart to zoom in; double-click to zoom out.</span></div>",
    );

    // Charts.
    out.push_str("<main id=\"charts\">");
    push_figures(&mut out, model, "");
    out.push_str("</main><div id=\"tip\" class=\"tip\" hidden></div>");

    out.push_str(&incident_table(model, ""));
    out.push_str(&gap_panels(model, ""));

    let _ = write!(
        out,
        "<footer>Made by stabmon-report {} from {} samples of {}. Times are the host's local time ({}).</footer>",
        env!("CARGO_PKG_VERSION"),
        h.samples,
        html(h.host),
        html(&zone)
    );

    let data = serde_json::to_string(&data_json(model))?;
    let _ = write!(
        out,
        "<script type=\"application/json\" id=\"data\">{}</script><script>{SCRIPT}</script></body></html>",
        json_for_script(&data)
    );
    out.push('\n');
    Ok(out)
}

/// One host's section of a fleet page: its heading, the same line of facts, summary, charts (for a host with
/// incidents), incident table and gap panels as its own report, without the script's data (the fleet page has no
/// script); every element id starts with `ids`, the section's own is `{ids}host`.
pub(crate) fn section(model: &Model, h: &Header<'_>, ids: &str) -> String {
    let mut out = String::with_capacity(64 << 10);
    let zone = zone_text(model);
    let _ = write!(
        out,
        "<section class=\"host\" id=\"{ids}host\"><h2 class=\"hosth\"><a href=\"#{ids}host\">{}</a></h2><p class=\"meta\">",
        html(h.host)
    );
    push_meta(&mut out, model, h, &zone);
    out.push_str("</p>");
    out.push_str(&summary(model, ids));
    // A quiet host's charts would say what the overview's sparkline says: they are left out, which keeps a page of
    // many hosts small.
    if model.incidents.is_empty() {
        let _ = write!(
            out,
            "<p class=\"sub\">No charts for a host without incidents: its CPU is the sparkline in the overview, and \
             its own report (<code>stabmon report --host {}</code>) has every chart.</p>",
            html(h.host)
        );
    } else {
        push_figures(&mut out, model, ids);
    }
    out.push_str(&incident_table(model, ids));
    out.push_str(&gap_panels(model, ids));
    out.push_str("<p class=\"back\"><a href=\"#fleet\">Back to the overview</a></p></section>");
    out
}

fn summary(model: &Model, ids: &str) -> String {
    let mut counts: Vec<(&'static str, usize)> = Vec::new();
    for inc in &model.incidents {
        let name = kind_name(&inc.kind);
        match counts.iter_mut().find(|c| c.0 == name) {
            Some(c) => c.1 += 1,
            None => counts.push((name, 1)),
        }
    }
    if counts.is_empty() {
        return "<p class=\"summary\">No incidents found in this range.</p>".to_owned();
    }
    let parts: Vec<String> = counts.iter().map(|(n, c)| format!("{c} × {n}")).collect();
    format!(
        "<p class=\"summary\"><a href=\"#{ids}incidents\">{} incident{}</a>: {}.</p>",
        model.incidents.len(),
        if model.incidents.len() == 1 { "" } else { "s" },
        html(&parts.join(", "))
    )
}

fn incident_table(model: &Model, ids: &str) -> String {
    let offsets = &model.offsets;
    let mut out = String::new();
    let _ = write!(out, "<section id=\"{ids}incidents\"><h2>Incidents</h2>");
    if model.incidents.is_empty() {
        out.push_str("<p>No incidents found in this range.</p></section>");
        return out;
    }
    out.push_str(
        "<table class=\"incidents\"><thead><tr><th>Start (local)</th><th>Duration</th><th>Kind</th><th>Magnitude</th>\
         <th>Culprit</th><th>Command</th><th>What happened</th></tr></thead><tbody>",
    );
    for (i, inc) in model.incidents.iter().enumerate() {
        let secs = inc
            .end
            .duration_since(inc.start)
            .map_or(0.0, |d| d.as_secs_f64());
        let _ = write!(
            out,
            "<tr id=\"{ids}row-{i}\" class=\"{}\"><td><a href=\"#{ids}inc-{i}\"><time datetime=\"{}\">{}</time></a></td><td>{}</td>\
             <td><i class=\"dot {}\"></i>{}</td><td class=\"num\">{}</td>",
            kind_class(&inc.kind),
            inc.start,
            html(&local_datetime_offset(inc.start, offsets)),
            html(&duration(secs)),
            kind_class(&inc.kind),
            kind_name(&inc.kind),
            html(&magnitude(inc)),
        );
        match (&inc.culprit, &inc.target) {
            (None, Some(target)) => {
                out.push_str("<td class=\"culprit\">target <b>");
                push_html(&mut out, target);
                out.push_str("</b></td><td></td>");
            }
            (Some(c), _) => {
                out.push_str("<td class=\"culprit\"><b>");
                push_html(&mut out, &c.name);
                out.push_str("</b>");
                if let Some(pid) = c.pid {
                    let _ = write!(out, " <span class=\"pid\">pid {pid}</span>");
                }
                if c.process_count > 1 {
                    let _ = write!(
                        out,
                        " <span class=\"pid\">{} processes</span>",
                        c.process_count
                    );
                }
                if let Some(unit) = &c.unit {
                    let _ = write!(
                        out,
                        " <span class=\"unit\" title=\"{}\">{}</span>",
                        html(c.cgroup.as_deref().unwrap_or("")),
                        html(unit)
                    );
                } else if let Some(cg) = &c.cgroup {
                    let _ = write!(out, " <span class=\"unit\">{}</span>", html(cg));
                }
                if let Some(anon) = c.anon_rss_bytes {
                    let _ = write!(
                        out,
                        " <span class=\"pid\">{} anon RSS, named by the kernel</span>",
                        html(&bytes(anon))
                    );
                }
                if c.guessed {
                    out.push_str(" <span class=\"pid\">a guess: its memory vanished</span>");
                }
                out.push_str("</td><td class=\"cmd\">");
                if let Some(cmd) = &c.cmdline {
                    out.push_str("<code>");
                    push_html(&mut out, cmd);
                    out.push_str("</code>");
                }
                out.push_str("</td>");
            }
            (None, None) => out.push_str("<td></td><td></td>"),
        }
        out.push_str("<td>");
        push_html(&mut out, &inc.summary);
        out.push_str("</td></tr>");
    }
    out.push_str("</tbody></table></section>");
    out
}

/// The unit (or cgroup) of a listed process, as a span after its pid; empty where none was recorded.
fn unit_span(p: &crate::model::ProcRef) -> String {
    p.unit
        .as_deref()
        .map(|u| format!(" <span class=\"unit\">{}</span>", html(u)))
        .unwrap_or_default()
}

fn pct_opt(v: Option<f64>) -> String {
    pct(v.unwrap_or(f64::NAN))
}

fn gap_panels(model: &Model, ids: &str) -> String {
    let offsets = &model.offsets;
    let ts = stabmon_core::Timestamp::from_unix_micros;
    let mut out = String::new();
    if model.gap_panels.is_empty() {
        return out;
    }
    let _ = write!(
        out,
        "<section id=\"{ids}gaps\"><h2>Gaps in the recording</h2>"
    );
    for p in &model.gap_panels {
        let Some(inc) = model.incidents.get(p.incident) else {
            continue;
        };
        let secs = inc
            .end
            .duration_since(inc.start)
            .map_or(0.0, |d| d.as_secs_f64());
        let verdict = match p.kind {
            GapKind::Rebooted => "The machine rebooted (a new boot id after the gap).",
            GapKind::Died => {
                "The recorder died: it did not stop cleanly and the machine did not reboot."
            }
            GapKind::StoppedCleanly => "The recorder was stopped cleanly.",
            GapKind::Unreadable => {
                "Data recorded here could not be read: a damaged file was skipped (the warnings name it)."
            }
            _ => "The recording has a hole.",
        };
        let _ = write!(
            out,
            "<article class=\"gap-panel {cls}\" id=\"{ids}gap-{i}\"><h3><a href=\"#{ids}inc-{i}\">{kind}</a>: {from} to {to} ({dur})</h3>\
             <p>{verdict}</p>",
            cls = kind_class(&inc.kind),
            i = p.incident,
            kind = html(kind_name(&inc.kind)),
            from = html(&local_datetime_offset(inc.start, offsets)),
            to = html(&local_datetime_offset(inc.end, offsets)),
            dur = html(&duration(secs)),
        );
        if p.samples == 0 {
            out.push_str("<p>No samples in the minute before it.</p></article>");
            continue;
        }
        let _ = write!(
            out,
            "<p class=\"sub\">The last minute before it: {} samples from {} to {}.</p><div class=\"facts\"><dl>",
            p.samples,
            html(&local_datetime(ts(p.window_from_us), offsets)),
            html(&local_datetime(
                ts(p.last_us.unwrap_or(p.window_from_us)),
                offsets
            )),
        );
        let fact = |out: &mut String, k: &str, v: String| {
            let _ = write!(out, "<dt>{}</dt><dd>{}</dd>", html(k), html(&v));
        };
        fact(
            &mut out,
            "CPU busy",
            format!("{} mean, {} max", pct(p.cpu_mean_pct), pct(p.cpu_max_pct)),
        );
        fact(
            &mut out,
            "Memory used",
            format!(
                "{} at the end, {} max, of {}",
                bytes(p.mem_used_last),
                bytes(p.mem_used_max),
                bytes(p.mem_total)
            ),
        );
        fact(
            &mut out,
            "Memory available",
            format!("{} at the least", bytes(p.mem_avail_min)),
        );
        fact(
            &mut out,
            "Swap used",
            format!(
                "{} (from {}), of {}",
                bytes(p.swap_used_last),
                bytes(p.swap_used_first),
                bytes(p.swap_total)
            ),
        );
        let pm = p.pressure_max;
        fact(
            &mut out,
            "CPU pressure (max)",
            format!("some {}", pct_opt(pm[0])),
        );
        fact(
            &mut out,
            "Memory pressure (max)",
            format!("some {}, full {}", pct_opt(pm[1]), pct_opt(pm[2])),
        );
        fact(
            &mut out,
            "IO pressure (max)",
            format!("some {}, full {}", pct_opt(pm[3]), pct_opt(pm[4])),
        );
        let oom = match (p.oom_first, p.oom_last) {
            (Some(a), Some(b)) => {
                let after = p
                    .oom_after
                    .map(|x| format!("; {x} after the gap"))
                    .unwrap_or_default();
                if b > a {
                    format!("rose from {a} to {b} (+{}){after}", b - a)
                } else {
                    format!("{b}, unchanged{after}")
                }
            }
            _ => "not recorded".to_owned(),
        };
        fact(&mut out, "OOM kills", oom);
        out.push_str("</dl>");
        out.push_str("<table class=\"mini\"><caption>Top processes by CPU</caption><thead><tr><th>Process</th><th>Max CPU</th><th>Resident</th></tr></thead><tbody>");
        for (pr, cpu, rss) in &p.top_cpu {
            let _ = write!(
                out,
                "<tr><td title=\"{}\"><b>{}</b> <span class=\"pid\">pid {}</span>{}</td><td class=\"num\">{}</td><td class=\"num\">{}</td></tr>",
                html(pr.cmdline.as_deref().unwrap_or("")),
                html(&pr.name),
                pr.pid,
                unit_span(pr),
                pct(*cpu),
                html(&bytes(*rss))
            );
        }
        out.push_str("</tbody></table>");
        out.push_str("<table class=\"mini\"><caption>Top processes by memory, at the end</caption><thead><tr><th>Process</th><th>Resident</th><th>Change in the minute</th></tr></thead><tbody>");
        for (pr, rss, growth) in &p.top_rss {
            let _ = write!(
                out,
                "<tr><td title=\"{}\"><b>{}</b> <span class=\"pid\">pid {}</span>{}</td><td class=\"num\">{}</td><td class=\"num\">{}</td></tr>",
                html(pr.cmdline.as_deref().unwrap_or("")),
                html(&pr.name),
                pr.pid,
                unit_span(pr),
                html(&bytes(*rss)),
                html(&human::signed_bytes(*growth))
            );
        }
        out.push_str("</tbody></table></div></article>");
    }
    out.push_str("</section>");
    out
}
