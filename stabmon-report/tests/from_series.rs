//! Rendering from a `SystemSeries` and a `WindowSource`: the same page as from the samples in memory, reading only
//! a bounded part of the samples, and a clear error when the source fails.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::cell::RefCell;
use std::time::Duration;

use stabmon_core::series::{SystemSeries, WindowSource};
use stabmon_core::synth::Synth;
use stabmon_core::{Sample, Timestamp};
use stabmon_report::{Error, ReportBuilder};

fn start() -> Timestamp {
    Timestamp::from_unix_secs(1_795_564_800 - 3600)
}

fn at(s: u64) -> Timestamp {
    start().saturating_add(Duration::from_secs(s))
}

/// Six hours at 1 s: a CPU hog, a memory leak ending in an OOM kill, a crash gap and a reboot, and with `latency`
/// two latency targets and a spike.
fn six_hours_with(latency: bool) -> Vec<Sample> {
    let mut synth = Synth::new(start(), Duration::from_secs(1))
        .count(6 * 3600)
        .host("web-1")
        .top_n(10);
    if latency {
        synth = synth
            .latency_target("router", 2.0, 0.4)
            .latency_target("web", 18.0, 3.0)
            .latency_spike("router", at(18_000), at(18_030), 1500.0);
    }
    synth
        .cpu_hog("xmrig", "./xmrig -o pool:3333", at(3600), at(4200), 190.0)
        .memory_leak("leaky", "/opt/leaky/serve", at(9000), at(9300), 40 << 20)
        .gap(at(12_000), at(12_300))
        .gap(at(15_000), at(15_600))
        .reboot(at(15_600))
        .generate()
}

fn six_hours() -> Vec<Sample> {
    six_hours_with(true)
}

/// The samples in memory, counting what is read: samples returned, calls, and the largest single read.
struct Counting<'a> {
    samples: &'a [Sample],
    read: RefCell<(usize, usize, usize)>,
    fail: Option<&'static str>,
}

impl<'a> Counting<'a> {
    fn new(samples: &'a [Sample]) -> Self {
        Counting {
            samples,
            read: RefCell::new((0, 0, 0)),
            fail: None,
        }
    }

    fn count(&self, got: &[Sample]) {
        let mut r = self.read.borrow_mut();
        r.0 += got.len();
        r.1 += 1;
        r.2 = r.2.max(got.len());
    }
}

impl WindowSource for Counting<'_> {
    fn samples_between(
        &self,
        from: Timestamp,
        to: Timestamp,
    ) -> Result<Vec<Sample>, stabmon_core::Error> {
        if self.fail == Some("between") {
            return Err(stabmon_core::Error::Window {
                from,
                to,
                source: "row group 3 is damaged".into(),
            });
        }
        let got = self.samples.samples_between(from, to)?;
        self.count(&got);
        Ok(got)
    }

    fn samples_at(&self, instants: &[Timestamp]) -> Result<Vec<Sample>, stabmon_core::Error> {
        if self.fail == Some("at") {
            return Err(stabmon_core::Error::Window {
                from: instants[0],
                to: instants[instants.len() - 1],
                source: "file vanished".into(),
            });
        }
        let got: Vec<Sample> = self
            .samples
            .iter()
            .filter(|s| instants.binary_search(&s.ts).is_ok())
            .cloned()
            .collect();
        self.count(&got);
        Ok(got)
    }
}

#[test]
fn columns_and_windows_give_the_page_of_the_samples_reading_a_bounded_part() {
    let samples = six_hours();
    let report = ReportBuilder::new().build();
    let (want, want_summary) = report.render(&samples).unwrap();
    assert!(
        want_summary
            .incidents
            .iter()
            .any(|i| i.label().contains("xmrig")),
        "{:?}",
        want_summary.incidents
    );

    let series = SystemSeries::from_samples(&samples);
    let source = Counting::new(&samples);
    let mut got = Vec::new();
    let summary = report.write_html_from(&series, &source, &mut got).unwrap();
    assert!(got == want.as_bytes(), "the pages differ");
    assert_eq!(summary.incidents, want_summary.incidents);
    assert_eq!(summary.samples, samples.len());

    // What was read: the hover moments (one per pixel column and those near each peak), the incidents' windows and
    // the minute before each gap; far less than the range, and no single read near its size.
    let (read, calls, largest) = *source.read.borrow();
    println!(
        "read {read} samples of {} in {calls} calls, at most {largest} at once",
        samples.len()
    );
    assert!(read < samples.len() / 3, "{read} of {}", samples.len());
    assert!(largest < samples.len() / 6, "{largest}");
}

#[test]
fn a_range_of_the_series_gives_the_page_of_that_range() {
    // Without latency probes: a range of the series keeps the probes started in it, while a range of samples keeps
    // those its samples carry (a probe is carried by the sample after it completed), so the edges may differ.
    let samples = six_hours_with(false);
    let series = SystemSeries::from_samples(&samples);
    let report = ReportBuilder::new().range(at(3000), at(10_000)).build();
    let (want, want_summary) = report.render(&samples).unwrap();
    let (got, summary) = report.render_from(&series, &samples[..]).unwrap();
    assert!(got == want, "the pages differ");
    assert_eq!(summary.samples, 7000);
    assert_eq!(summary.incidents, want_summary.incidents);

    let err = ReportBuilder::new()
        .range(at(100_000), at(200_000))
        .build()
        .render_from(&series, &samples[..])
        .unwrap_err();
    assert!(
        err.to_string().contains(&format!(
            "the data covers {} to {}",
            at(0),
            at(6 * 3600 - 1)
        )),
        "{err}"
    );
}

#[test]
fn a_failing_source_is_an_error_naming_what_could_not_be_read() {
    let samples = six_hours();
    let series = SystemSeries::from_samples(&samples);
    let report = ReportBuilder::new().build();

    let mut source = Counting::new(&samples);
    source.fail = Some("at");
    let mut out = Vec::new();
    let err = report
        .write_html_from(&series, &source, &mut out)
        .unwrap_err();
    assert!(matches!(err, Error::Read { .. }), "{err:?}");
    let msg = err.to_string();
    assert!(
        msg.contains("instants shown on hover") && msg.contains("file vanished"),
        "{msg}"
    );
    assert!(
        out.is_empty(),
        "nothing is written when the page was not made"
    );

    source.fail = Some("between");
    let err = report.render_from(&series, &source).unwrap_err();
    let msg = err.to_string();
    assert!(matches!(err, Error::Read { .. }), "{err:?}");
    assert!(msg.contains("row group 3 is damaged"), "{msg}");
}

/// The samples in memory, counting the samples read at instants (the hover moments) apart from those read by
/// window.
struct AtCounting<'a>(&'a [Sample], std::cell::Cell<usize>, std::cell::Cell<usize>);

impl WindowSource for AtCounting<'_> {
    fn samples_between(
        &self,
        from: Timestamp,
        to: Timestamp,
    ) -> Result<Vec<Sample>, stabmon_core::Error> {
        let got = self.0.samples_between(from, to)?;
        self.2.set(self.2.get() + got.len());
        Ok(got)
    }

    fn samples_at(&self, instants: &[Timestamp]) -> Result<Vec<Sample>, stabmon_core::Error> {
        let got: Vec<Sample> = self
            .0
            .iter()
            .filter(|s| instants.binary_search(&s.ts).is_ok())
            .cloned()
            .collect();
        self.1.set(self.1.get() + got.len());
        Ok(got)
    }
}

#[test]
fn a_mail_from_the_series_is_the_mail_of_the_samples_its_page_reading_what_its_charts_did_not() {
    // Without latency probes: a series counts those of the samples of its range that started before it too.
    let samples = six_hours_with(false);
    let series = SystemSeries::from_samples(&samples);
    let report = ReportBuilder::new()
        .range(at(3000), at(10_000))
        .width_px(1100)
        .build();
    let want = report.render_mail(&samples).unwrap();
    let source = AtCounting(&samples, Default::default(), Default::default());
    let got = report.render_mail_from(&series, &source).unwrap();
    assert_eq!(got.subject, want.subject);
    assert_eq!(got.html, want.html);
    assert_eq!(got.text, want.text);
    assert_eq!(got.images, want.images);
    assert_eq!(got.attachment, want.attachment);
    assert!(want.summary.incidents.len() >= 2, "{:?}", want.summary);
    // The page alone, and the charts alone, each read their own hover moments; the mail reads the charts' and
    // then only those of the page's that the charts do not show (most of the charts' are among the page's), and by
    // window what the page alone reads (the page takes the charts' incidents and the samples of their culprit
    // lines' windows).
    let page = AtCounting(&samples, Default::default(), Default::default());
    report.render_from(&series, &page).unwrap();
    let charts = AtCounting(&samples, Default::default(), Default::default());
    report.render_png_from(&series, &charts).unwrap();
    let (page_at, charts_at, mail_at) = (page.1.get(), charts.1.get(), source.1.get());
    assert!(
        page_at < mail_at && mail_at < page_at + charts_at / 4,
        "at instants: page {page_at}, charts {charts_at}, mail {mail_at}"
    );
    assert!(charts.2.get() > 0);
    assert_eq!(
        source.2.get(),
        page.2.get(),
        "by window: page {}, charts {}, mail {}",
        page.2.get(),
        charts.2.get(),
        source.2.get()
    );
}
