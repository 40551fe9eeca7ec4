//! Report benchmark: a synthetic week at 1 s with top 10 (604,800 samples), with injected CPU hogs,
//! memory leaks ending in OOM kills, a crash gap and a reboot.
//!
//! Measures: time to render the HTML (best and median of 3), its size, the peak RSS of the process (the week of
//! `Vec<Sample>` dominates), the same from the week's columns (`Report::render_from` over a `SystemSeries` streamed
//! from `Synth::iter()` and a source regenerating whole samples from hourly checkpoints of the generator; run first,
//! so that its peak RSS is its own, once, and checked to give the same page), whether every injected spike is labelled with the right culprit, and, when Chromium is
//! installed, the page's ready time measured inside the page with the Performance API (`performance.mark` at the
//! end of the report's script, relative to navigation start; the browser's own start-up is not counted).
//!
//! Three latency targets are probed every second (router, vpn, web), with a 30 s spike of +1.5 s on the router and a
//! 60 s outage of the vpn every day; they are checked like the culprits (`-- --no-latency` leaves them out).
//!
//! `cargo bench -p stabmon-benches --bench report` (`-- --days 1` for a shorter run; `--out FILE` keeps the page).
#![allow(clippy::unwrap_used, clippy::expect_used)]

// The browser is driven over pipes on fds 3 and 4, which only Unix can hand to a child.
#[cfg(unix)]
#[path = "../../stabmon-report/tests/support/cdp.rs"]
mod cdp;
#[path = "support/peak_rss.rs"]
mod peak_rss;

use std::time::{Duration, Instant};

use std::cell::Cell;

use peak_rss::peak_rss_mib;
use stabmon_core::analysis::IncidentKind;
use stabmon_core::series::{SystemSeries, WindowSource};
use stabmon_core::synth::{Synth, SynthIter};
use stabmon_core::{Sample, Timestamp};
use stabmon_report::ReportBuilder;

const HOGS: [&str; 14] = [
    "xmrig",
    "ffmpeg",
    "stress-ng",
    "gzip",
    "rsync",
    "pg_dump",
    "clamscan",
    "backup.sh",
    "convert",
    "make",
    "cc1plus",
    "tar",
    "borg",
    "updatedb",
];

/// Whole samples of a synthetic range, regenerated from checkpoints of the generator: what a store reader gives,
/// without holding the range.
struct Regenerate {
    /// The generator's state before the sample at each checkpoint (hourly), with that sample's time.
    checkpoints: Vec<(Timestamp, SynthIter)>,
    spent: Cell<Duration>,
    read: Cell<usize>,
    calls: Cell<usize>,
}

impl Regenerate {
    /// The checkpoint to start from for `t`, and where the next one starts.
    fn checkpoint(&self, t: Timestamp) -> (usize, Option<Timestamp>) {
        let c = self
            .checkpoints
            .partition_point(|c| c.0 <= t)
            .saturating_sub(1);
        (c, self.checkpoints.get(c + 1).map(|c| c.0))
    }

    fn account(&self, t: Instant, got: &[Sample]) {
        self.spent.set(self.spent.get() + t.elapsed());
        self.read.set(self.read.get() + got.len());
        self.calls.set(self.calls.get() + 1);
    }
}

impl WindowSource for Regenerate {
    fn samples_between(
        &self,
        from: Timestamp,
        to: Timestamp,
    ) -> Result<Vec<Sample>, stabmon_core::Error> {
        let t = Instant::now();
        let (c, _) = self.checkpoint(from);
        let got: Vec<Sample> = self.checkpoints[c]
            .1
            .clone()
            .skip_while(|s| s.ts < from)
            .take_while(|s| s.ts <= to)
            .collect();
        self.account(t, &got);
        Ok(got)
    }

    /// One pass over each hour holding an instant.
    fn samples_at(&self, instants: &[Timestamp]) -> Result<Vec<Sample>, stabmon_core::Error> {
        let t = Instant::now();
        let mut out = Vec::new();
        let mut k = 0;
        while k < instants.len() {
            let (c, end) = self.checkpoint(instants[k]);
            for s in self.checkpoints[c].1.clone() {
                if end.is_some_and(|e| s.ts >= e) {
                    break;
                }
                while k < instants.len() && instants[k] < s.ts {
                    k += 1;
                }
                if k == instants.len() {
                    break;
                }
                if instants[k] == s.ts {
                    out.push(s);
                    k += 1;
                }
            }
            match end {
                Some(e) => {
                    while k < instants.len() && instants[k] < e {
                        k += 1;
                    }
                }
                None => break,
            }
        }
        self.account(t, &out);
        Ok(out)
    }
}

/// The columns of `synth`'s samples, streamed, and a source regenerating them from hourly checkpoints.
fn stream_week(synth: &Synth) -> (SystemSeries, Regenerate) {
    let mut series = SystemSeries::new("");
    let mut checkpoints = Vec::new();
    let mut it = synth.iter();
    for i in 0u64.. {
        let before = (i % 3600 == 0).then(|| it.clone());
        let Some(s) = it.next() else { break };
        if let Some(b) = before {
            checkpoints.push((s.ts, b));
        }
        if series.is_empty() {
            series.host.clone_from(&s.host);
        }
        series.push(&s);
    }
    let source = Regenerate {
        checkpoints,
        spent: Cell::new(Duration::ZERO),
        read: Cell::new(0),
        calls: Cell::new(0),
    };
    (series, source)
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let arg = |name: &str| {
        args.iter()
            .position(|a| a == name)
            .and_then(|i| args.get(i + 1))
            .cloned()
    };
    let days: u64 = arg("--days").map(|d| d.parse().unwrap()).unwrap_or(7);
    let out = arg("--out");
    let latency = !args.iter().any(|a| a == "--no-latency");

    let start = Timestamp::from_unix_secs(1_795_392_000 - 3600); // Mon 2026-11-23 00:00 in Berlin
    let at = |s: u64| start.saturating_add(Duration::from_secs(s));
    let mut synth = Synth::new(start, Duration::from_secs(1))
        .count(days * 86_400)
        .host("bench-week")
        .top_n(10);
    // Two CPU hogs a day (at 03:00 and 15:00 + day offsets), one leak a day ending in an OOM kill (at 09:00).
    let mut hogs = Vec::new();
    let mut leaks = Vec::new();
    for d in 0..days {
        for (k, hour) in [3u64, 15].iter().enumerate() {
            let name = HOGS[((d * 2) as usize + k) % HOGS.len()];
            let from = d * 86_400 + hour * 3600 + d * 600;
            let len = 300 + 120 * ((d + k as u64) % 4);
            let pct = 120.0 + 10.0 * ((d * 2 + k as u64) % 8) as f32;
            synth = synth.cpu_hog(
                name,
                format!("/usr/bin/{name} --job {d}-{k}"),
                at(from),
                at(from + len),
                pct,
            );
            hogs.push((name.to_owned(), at(from), at(from + len)));
        }
        let name = format!("leaky-{d}");
        let from = d * 86_400 + 9 * 3600;
        synth = synth.memory_leak(
            name.clone(),
            format!("/opt/{name}/bin/serve"),
            at(from),
            at(from + 300),
            40 << 20,
        );
        leaks.push((name, at(from), at(from + 300)));
    }
    let mut lat_incidents = Vec::new();
    if latency {
        synth = synth
            .latency_target("router", 2.0, 0.4)
            .latency_target("vpn", 30.0, 5.0)
            .latency_target("web", 18.0, 3.0);
        for d in 0..days {
            let from = d * 86_400 + 12 * 3600 + d * 300;
            synth = synth.latency_spike("router", at(from), at(from + 30), 1500.0);
            lat_incidents.push((
                IncidentKind::LatencySpike,
                "router",
                at(from),
                at(from + 30),
            ));
            let from = d * 86_400 + 21 * 3600 + d * 300;
            synth = synth.latency_outage("vpn", at(from), at(from + 60));
            lat_incidents.push((IncidentKind::LatencyOutage, "vpn", at(from), at(from + 60)));
        }
    }
    if days >= 2 {
        synth = synth.gap(at(86_400 + 20 * 3600), at(86_400 + 20 * 3600 + 180));
        synth = synth
            .gap(at(2 * 86_400 - 3600), at(2 * 86_400 - 3600 + 600))
            .reboot(at(2 * 86_400 - 3600 + 600));
    }

    // First, before any `Vec<Sample>` exists (peak RSS only grows): the same week rendered from its columns, built
    // by streaming `Synth::iter()`, with whole samples regenerated from hourly checkpoints of the generator for
    // what the report asks; the week's samples are never held.
    let report = ReportBuilder::new().build();
    let rss_start = peak_rss_mib();
    let t = Instant::now();
    let (series, source) = stream_week(&synth);
    let stream_s = t.elapsed().as_secs_f64();
    let rss_series = peak_rss_mib();
    let t = Instant::now();
    let (html_from, _) = report.render_from(&series, &source).unwrap();
    let from_s = t.elapsed().as_secs_f64();
    let regen_s = source.spent.get().as_secs_f64();
    println!(
        "columns: {} samples streamed in {stream_s:.1} s, {:.0} MB of columns (latency probes: {}); peak RSS {rss_start:.0} MiB -> {rss_series:.0} MiB",
        series.len(),
        series.heap_bytes() as f64 / 1e6,
        series.latency.len(),
    );
    println!(
        "render_from: {from_s:.2} s, of which {regen_s:.2} s regenerating {} samples in {} reads (a store reader reads them instead): the report's own {:.2} s; peak RSS {:.0} MiB",
        source.read.get(),
        source.calls.get(),
        from_s - regen_s,
        peak_rss_mib()
    );
    drop((series, source));

    let rss0 = peak_rss_mib();
    let t = Instant::now();
    let samples = synth.generate();
    let gen_s = t.elapsed().as_secs_f64();
    let rss1 = peak_rss_mib();
    println!(
        "generated {} samples in {gen_s:.1} s; peak RSS {rss0:.0} MiB -> {rss1:.0} MiB ({:.0} B/sample)",
        samples.len(),
        (rss1 - rss0) * 1_048_576.0 / samples.len() as f64
    );

    let mut times = Vec::new();
    let mut html = String::new();
    let mut summary = None;
    for _ in 0..3 {
        let t = Instant::now();
        let (h, s) = report.render(&samples).unwrap();
        times.push(t.elapsed().as_secs_f64());
        html = h;
        summary = Some(s);
    }
    let summary = summary.unwrap();
    println!(
        "render_from gives the page of render: {}",
        if html_from == html { "yes" } else { "NO" }
    );
    times.sort_by(f64::total_cmp);
    println!(
        "render: best {:.2} s, median {:.2} s (3 runs); HTML {:.2} MB ({} bytes); peak RSS {:.0} MiB",
        times[0],
        times[1],
        html.len() as f64 / 1e6,
        html.len(),
        peak_rss_mib()
    );

    // Every injected spike labelled with the right culprit, and the label drawn on the page.
    let drawn = |label: &str| {
        let esc = label
            .replace('&', "&amp;")
            .replace('<', "&lt;")
            .replace('>', "&gt;");
        html.contains(&format!(">{esc}</text>"))
    };
    let mut ok = 0;
    let mut missing = Vec::new();
    for (name, from, to) in &hogs {
        let hit = summary
            .incidents
            .iter()
            .find(|i| i.kind == IncidentKind::CpuSurge && i.start < *to && i.end >= *from);
        match hit {
            Some(i) if i.culprit.as_ref().is_some_and(|c| &c.name == name) && drawn(&i.label()) => {
                ok += 1
            }
            other => missing.push(format!(
                "hog {name} at {from}: {:?}",
                other.map(|i| i.label())
            )),
        }
    }
    for (name, from, to) in &leaks {
        for kind in [IncidentKind::MemoryClimb, IncidentKind::OomKill] {
            let hit = summary.incidents.iter().find(|i| {
                i.kind == kind
                    && i.start <= to.saturating_add(Duration::from_secs(5))
                    && i.end >= *from
            });
            match hit {
                Some(i)
                    if i.culprit.as_ref().is_some_and(|c| &c.name == name) && drawn(&i.label()) =>
                {
                    ok += 1
                }
                other => missing.push(format!(
                    "{kind} {name} at {from}: {:?}",
                    other.map(|i| i.label())
                )),
            }
        }
    }
    for (kind, target, from, to) in &lat_incidents {
        let hit = summary.incidents.iter().find(|i| {
            i.kind == *kind
                && i.target.as_deref() == Some(*target)
                && i.start < *to
                && i.end >= *from
        });
        match hit {
            Some(i) if drawn(&i.label()) => ok += 1,
            other => missing.push(format!(
                "{kind} {target} at {from}: {:?}",
                other.map(|i| i.label())
            )),
        }
    }
    let probes: usize = samples.iter().map(|s| s.latency.len()).sum();
    println!(
        "latency: {probes} probes of 3 targets; {} injected latency incidents",
        lat_incidents.len()
    );
    let expected = hogs.len() + 2 * leaks.len() + lat_incidents.len();
    let gaps = summary
        .incidents
        .iter()
        .filter(|i| matches!(i.kind, IncidentKind::Gap(_)))
        .count();
    println!(
        "labels: {ok}/{expected} injected spikes labelled with the right culprit; {} incidents in all ({gaps} gaps)",
        summary.incidents.len()
    );
    for m in &missing {
        println!("  NOT LABELLED RIGHT: {m}");
    }

    let dir = tempfile::tempdir().unwrap();
    let path = match &out {
        Some(p) => std::path::PathBuf::from(p),
        None => dir.path().join("week.html"),
    };
    std::fs::write(&path, &html).unwrap();
    drop(samples);

    browser_ready_time(&path);
    if !missing.is_empty() || html_from != html {
        std::process::exit(1);
    }
}

/// The page's ready time in headless Chromium, measured inside the page (three loads).
#[cfg(unix)]
fn browser_ready_time(path: &std::path::Path) {
    match cdp::find_chromium() {
        None => println!("browser: Chromium not found, ready time not measured"),
        Some(chromium) => {
            let mut ready = Vec::new();
            let mut b = cdp::Browser::launch(&chromium, 1280, 1000);
            for _ in 0..3 {
                let s = b.open(&format!("file://{}", path.display()));
                let v = b.eval(
                    &s,
                    "(() => { const m = performance.getEntriesByName('stabmon-ready')[0]; \
                     const n = performance.getEntriesByType('navigation')[0]; \
                     return [m ? m.startTime : null, n ? n.loadEventEnd : null]; })()",
                );
                ready.push((
                    v[0].as_f64().unwrap_or(f64::NAN),
                    v[1].as_f64().unwrap_or(f64::NAN),
                ));
                assert!(b.errors().is_empty(), "console errors: {:?}", b.errors());
            }
            ready.sort_by(|a, b| a.0.total_cmp(&b.0));
            println!(
                "browser: ready (script done) median {:.0} ms, best {:.0} ms; load event end {:.0} ms (3 loads)",
                ready[1].0, ready[0].0, ready[1].1
            );
        }
    }
}

#[cfg(not(unix))]
fn browser_ready_time(_: &std::path::Path) {
    println!(
        "browser: not measured on this OS (Chromium is driven over pipes on fds 3 and 4, a Unix feature)"
    );
}
