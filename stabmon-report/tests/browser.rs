//! The report in a real headless Chromium: it loads from a file with no console error and no request beyond the
//! file itself, hovering a spike shows that moment's top process, dragging zooms, a double-click zooms out, and
//! hostile process names stay text. A screenshot is saved for people to look at.
//!
//! Skips (with a message) only when Chromium is absent and `CI` is not set; under CI a missing Chromium fails.
//! Unix only: Chromium's DevTools pipes are handed over as fds 3 and 4.
#![cfg(unix)]
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod support {
    pub mod cdp;
}

use std::path::{Path, PathBuf};
use std::time::Duration;

use serde_json::Value;
use stabmon_core::Timestamp;
use stabmon_core::synth::Synth;
use stabmon_report::{ReportBuilder, Summary};
use support::cdp::{Browser, find_chromium};

fn chromium_or_skip(test: &str) -> Option<PathBuf> {
    match find_chromium() {
        Some(p) => Some(p),
        None if std::env::var_os("CI").is_some() => {
            panic!(
                "CI is set but Chromium was not found (apt-get install chromium, or set STABMON_CHROMIUM)"
            )
        }
        None => {
            eprintln!(
                "SKIPPED {test}: Chromium not found (install Debian's chromium or set STABMON_CHROMIUM)"
            );
            None
        }
    }
}

fn start() -> Timestamp {
    Timestamp::from_unix_secs(1_795_564_800 - 3600)
}

fn at(s: u64) -> Timestamp {
    start().saturating_add(Duration::from_secs(s))
}

fn render_to(dir: &Path, name: &str, synth: &Synth) -> (PathBuf, Summary) {
    let samples = synth.generate();
    let path = dir.join(name);
    let mut file = std::fs::File::create(&path).unwrap();
    let summary = ReportBuilder::new()
        .build()
        .write_html(&samples, &mut file)
        .unwrap();
    (path, summary)
}

fn url(path: &Path) -> String {
    format!("file://{}", path.display())
}

/// The viewport centre of the first element matching `selector`.
fn centre(b: &mut Browser, s: &str, selector: &str) -> (f64, f64) {
    let js = format!(
        "(() => {{ const e = document.querySelector({sel}); if (!e) return null; e.scrollIntoView({{block: 'center'}}); \
         const r = e.getBoundingClientRect(); return [r.left + r.width / 2, r.top + r.height / 2]; }})()",
        sel = serde_json::to_string(selector).unwrap()
    );
    let v = b.eval(s, &js);
    let a = v
        .as_array()
        .unwrap_or_else(|| panic!("no element {selector}"));
    (a[0].as_f64().unwrap(), a[1].as_f64().unwrap())
}

fn tip_text(b: &mut Browser, s: &str) -> Option<String> {
    let v = b.eval(s, "(() => { const t = document.getElementById('tip'); return t.hidden ? null : t.textContent; })()");
    v.as_str().map(str::to_owned)
}

#[test]
fn report_works_in_chromium() {
    let Some(chromium) = chromium_or_skip("report_works_in_chromium") else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let synth = Synth::new(start(), Duration::from_secs(1))
        .count(4 * 3600)
        .host("web-1")
        .cpu_hog(
            "xmrig",
            "./xmrig -o pool.example:3333",
            at(1800),
            at(2400),
            190.0,
        )
        .memory_leak("leaky", "/opt/leaky --serve", at(7200), at(7500), 40 << 20)
        .gap(at(10_000), at(10_300))
        .reboot(at(10_300))
        .latency_target("router", 2.0, 0.4)
        .latency_target("vpn", 35.0, 6.0)
        .latency_target("web", 18.0, 3.0)
        .latency_spike("router", at(4000), at(4030), 2100.0)
        .latency_outage("vpn", at(12_000), at(12_045));
    let (path, summary) = render_to(dir.path(), "report.html", &synth);
    let (hog_index, hog) = summary
        .incidents
        .iter()
        .enumerate()
        .find(|(_, i)| i.culprit.as_ref().is_some_and(|c| c.name == "xmrig"))
        .expect("the hog is an incident");
    let pid = hog
        .culprit
        .as_ref()
        .and_then(|c| c.pid)
        .expect("the hog's pid");

    let mut b = Browser::launch(&chromium, 1280, 1000);
    let s = b.open(&url(&path));
    assert_eq!(
        b.eval(&s, "document.documentElement.getAttribute('data-ready')"),
        "1",
        "the script did not run"
    );
    let ready_ms = b.eval(
        &s,
        "performance.getEntriesByName('stabmon-ready')[0].startTime",
    );
    assert!(
        ready_ms.as_f64().is_some(),
        "no stabmon-ready mark: {ready_ms}"
    );

    // Hover the hog's peak marker: the tooltip names it with its pid.
    let (x, y) = centre(&mut b, &s, &format!("#inc-{hog_index} circle.mark"));
    b.mouse(&s, "mouseMoved", x, y, 0);
    let tip = tip_text(&mut b, &s).expect("the tooltip is shown on hover");
    assert!(
        tip.contains(&format!("xmrig (pid {pid})")),
        "tooltip: {tip}"
    );
    assert!(tip.contains("Top CPU"), "tooltip: {tip}");
    // Away from the hog, the tooltip does not name it as top CPU.
    let (x0, _) = centre(&mut b, &s, "#chart-cpu path.ln.s-busy");
    b.mouse(&s, "mouseMoved", x0 + 300.0, y, 0);
    let tip_away = tip_text(&mut b, &s).expect("the tooltip follows the mouse");
    assert!(
        !tip_away.contains("xmrig"),
        "tooltip far from the hog: {tip_away}"
    );

    // Drag across the CPU chart around the hog: every chart zooms; the hog's label stays, the leak's goes.
    let leak_index = summary
        .incidents
        .iter()
        .position(|i| i.culprit.as_ref().is_some_and(|c| c.name == "leaky"))
        .expect("the leak is an incident");
    let before = b.eval(
        &s,
        "document.querySelector('#chart-mem path.ln').getAttribute('d')",
    );
    b.mouse(&s, "mousePressed", x - 40.0, y, 1);
    b.mouse(&s, "mouseMoved", x + 40.0, y, 1);
    b.mouse(&s, "mouseReleased", x + 40.0, y, 1);
    assert_eq!(
        b.eval(&s, "document.getElementById('zoomout').disabled"),
        false
    );
    let view = b.eval(&s, "document.getElementById('view').textContent");
    assert!(
        view.as_str().is_some_and(|v| v.starts_with("Showing ")),
        "{view}"
    );
    let after = b.eval(
        &s,
        "document.querySelector('#chart-mem path.ln').getAttribute('d')",
    );
    assert_ne!(before, after, "the memory chart did not follow the zoom");
    let zoomed = b.screenshot(&s);
    std::fs::write(
        Path::new(env!("CARGO_TARGET_TMPDIR")).join("report-browser-zoomed.png"),
        zoomed,
    )
    .unwrap();
    let shown = |b: &mut Browser, i: usize| {
        b.eval(
            &s,
            &format!("getComputedStyle(document.getElementById('inc-{i}')).display"),
        )
    };
    assert_ne!(shown(&mut b, hog_index), "none");
    assert_eq!(shown(&mut b, leak_index), "none");
    // Double-click zooms back out.
    b.mouse(&s, "mousePressed", x, y, 2);
    b.mouse(&s, "mouseReleased", x, y, 2);
    assert_eq!(
        b.eval(&s, "document.getElementById('zoomout').disabled"),
        true
    );
    assert_ne!(shown(&mut b, leak_index), "none");

    // A screenshot with the tooltip over the hog, for people to look at.
    let (x, y) = centre(&mut b, &s, &format!("#inc-{hog_index} circle.mark"));
    b.mouse(&s, "mouseMoved", x, y, 0);
    let png = b.screenshot(&s);
    assert!(png.starts_with(b"\x89PNG"), "not a PNG");
    let shot = Path::new(env!("CARGO_TARGET_TMPDIR")).join("report-browser.png");
    std::fs::write(&shot, &png).unwrap();
    std::fs::copy(
        &path,
        Path::new(env!("CARGO_TARGET_TMPDIR")).join("report-browser.html"),
    )
    .unwrap();
    eprintln!("screenshot: {}", shot.display());

    // Hover the latency spike's marker: the tooltip shows each target's latest probe, the router's at 2 s.
    let spike = summary
        .incidents
        .iter()
        .position(|i| i.kind == stabmon_core::analysis::IncidentKind::LatencySpike)
        .expect("the latency spike is an incident");
    let (x, y) = centre(&mut b, &s, &format!("#inc-{spike} circle.mark"));
    b.mouse(&s, "mouseMoved", x, y, 0);
    let tip = tip_text(&mut b, &s).expect("the tooltip is shown on the latency chart");
    assert!(tip.contains("Latency (latest probe)"), "tooltip: {tip}");
    assert!(tip.contains("router 2.1 s"), "tooltip: {tip}");
    assert!(
        tip.contains("vpn ") && tip.contains("web "),
        "tooltip: {tip}"
    );
    let png = b.screenshot(&s);
    std::fs::write(
        Path::new(env!("CARGO_TARGET_TMPDIR")).join("report-browser-latency.png"),
        png,
    )
    .unwrap();

    let errors = b.errors();
    assert!(errors.is_empty(), "console errors: {errors:#?}");
    let requests = b.requests();
    assert_eq!(
        requests,
        vec![url(&path)],
        "the page made requests beyond itself"
    );
}

#[test]
fn hostile_names_stay_text_in_chromium() {
    let Some(chromium) = chromium_or_skip("hostile_names_stay_text_in_chromium") else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let script_name = "<script>alert(1)</script>";
    let img_name = "\"><img src=x onerror=alert(1)>";
    let synth = Synth::new(start(), Duration::from_secs(1))
        .count(3600)
        .cpu_hog(script_name, img_name, at(600), at(900), 190.0)
        .cpu_hog(img_name, script_name, at(2400), at(2700), 190.0);
    let (path, summary) = render_to(dir.path(), "hostile.html", &synth);
    let labels: Vec<(usize, String)> = summary
        .incidents
        .iter()
        .enumerate()
        .filter(|(_, i)| i.culprit.is_some())
        .map(|(k, i)| (k, i.label()))
        .collect();
    assert_eq!(labels.len(), 2, "{labels:?}");

    let mut b = Browser::launch(&chromium, 1280, 1000);
    let s = b.open(&url(&path));
    assert_eq!(
        b.eval(&s, "document.documentElement.getAttribute('data-ready')"),
        "1"
    );
    assert_eq!(
        b.eval(&s, "document.images.length"),
        0,
        "an <img> from the data was parsed as markup"
    );
    assert_eq!(
        b.eval(&s, "document.scripts.length"),
        2,
        "a <script> from the data was parsed as markup"
    );
    for (k, label) in &labels {
        let shown = b.eval(
            &s,
            &format!("document.querySelector('#inc-{k} text.lt').textContent"),
        );
        assert_eq!(shown, Value::String(label.clone()), "label {k}");
        let (x, y) = centre(&mut b, &s, &format!("#inc-{k} circle.mark"));
        b.mouse(&s, "mouseMoved", x, y, 0);
        let tip = tip_text(&mut b, &s).expect("tooltip");
        let name = if label.starts_with('<') {
            script_name
        } else {
            img_name
        };
        assert!(tip.contains(name), "tooltip shows the name as text: {tip}");
    }
    let cells = b.eval(&s, "Array.from(document.querySelectorAll('td.culprit b, td.cmd code')).map(e => e.textContent)");
    let cells: Vec<&str> = cells
        .as_array()
        .unwrap()
        .iter()
        .filter_map(Value::as_str)
        .collect();
    assert_eq!(cells, vec![script_name, img_name, img_name, script_name]);
    assert!(
        b.wait_event("Page.javascriptDialogOpening", Duration::from_millis(300))
            .is_none(),
        "an alert() from the data ran"
    );
    let errors = b.errors();
    assert!(errors.is_empty(), "console errors: {errors:#?}");
    assert_eq!(b.requests(), vec![url(&path)]);
}

#[test]
fn readable_with_scripts_off() {
    let Some(chromium) = chromium_or_skip("readable_with_scripts_off") else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let synth = Synth::new(start(), Duration::from_secs(1))
        .count(2 * 3600)
        .cpu_hog(
            "xmrig",
            "./xmrig -o pool.example:3333",
            at(1800),
            at(2400),
            190.0,
        )
        .gap(at(5000), at(5300))
        .reboot(at(5300));
    let (path, summary) = render_to(dir.path(), "noscript.html", &synth);
    let mut b = Browser::launch(&chromium, 1280, 1000);
    let s = b.open_with(&url(&path), false);
    assert_eq!(
        b.eval(&s, "document.documentElement.getAttribute('data-ready')"),
        Value::Null,
        "the script ran"
    );
    assert_eq!(
        b.eval(&s, "document.getElementById('toolbar').hidden"),
        true,
        "zoom controls shown without script"
    );
    // Every label is laid out with its text inside its box and inside its chart, and no two boxes overlap.
    let boxes = b.eval(
        &s,
        "Array.from(document.querySelectorAll('g.inc')).map(g => { const r = g.querySelector('rect.lb').getBoundingClientRect(); \
         const t = g.querySelector('text.lt').getBoundingClientRect(); const c = g.closest('svg').getBoundingClientRect(); \
         return [r.left, r.right, r.top, r.bottom, t.left, t.right, c.left, c.right, g.closest('svg').id]; })",
    );
    let boxes = boxes.as_array().unwrap();
    assert_eq!(boxes.len(), summary.incidents.len());
    for (i, bx) in boxes.iter().enumerate() {
        let v: Vec<f64> = (0..8).map(|k| bx[k].as_f64().unwrap()).collect();
        assert!(
            v[1] - v[0] > 20.0 && v[3] - v[2] > 10.0,
            "label {i} not laid out: {bx}"
        );
        assert!(
            v[4] >= v[0] - 0.5 && v[5] <= v[1] + 0.5,
            "label {i} text overflows its box: {bx}"
        );
        assert!(
            v[0] >= v[6] && v[1] <= v[7],
            "label {i} outside its chart: {bx}"
        );
        for (j, other) in boxes.iter().enumerate().skip(i + 1) {
            let w: Vec<f64> = (0..4).map(|k| other[k].as_f64().unwrap()).collect();
            let apart = v[1] <= w[0] || w[1] <= v[0] || v[3] <= w[2] || w[3] <= v[2];
            assert!(
                apart || bx[8] != other[8],
                "labels {i} and {j} overlap: {bx} {other}"
            );
        }
    }
    let rows = b.eval(
        &s,
        "document.querySelectorAll('table.incidents tbody tr').length",
    );
    assert_eq!(rows.as_u64(), Some(summary.incidents.len() as u64));
    let png = b.screenshot(&s);
    std::fs::write(
        Path::new(env!("CARGO_TARGET_TMPDIR")).join("report-noscript.png"),
        png,
    )
    .unwrap();
    assert!(b.errors().is_empty(), "{:#?}", b.errors());
}
