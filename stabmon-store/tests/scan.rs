//! The bounded read path: coverage without decoding samples, system columns, a streamed sample iterator and
//! analysis windows, each checked against `StoreReader::samples`, the read-everything path.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::path::Path;
use std::time::Duration;

use stabmon_core::analysis::{DetectOptions, detect_incidents, detect_incidents_in};
use stabmon_core::series::{SampleParts, SystemSeries, WindowSource};
use stabmon_core::synth::Synth;
use stabmon_core::{Sample, Timestamp};
use stabmon_store::{
    FlightRecorder, RecorderOptions, SeriesRead, StoreReader, StoreWriter, WriterOptions,
};

/// 2026-11-24T22:00:00Z: two hours before midnight, so the data spans two dates.
const T0: i64 = 1_795_557_600;

fn at(s: u64) -> Timestamp {
    Timestamp::from_unix_secs(T0).saturating_add(Duration::from_secs(s))
}

fn synth(host: &str, secs: u64) -> Vec<Sample> {
    Synth::new(at(0), Duration::from_secs(1))
        .count(secs)
        .processes(60)
        .host(host)
        .latency_target("router", 2.0, 0.5)
        .cpu_hog("xmrig", "./xmrig", at(1200), at(1500), 180.0)
        .memory_leak("java", "java -jar x", at(3000), at(4200), 4_000_000)
        .gap(at(2000), at(2200))
        .generate()
}

fn write(dir: &Path, samples: &[Sample]) {
    // Small row groups, so that ranges and windows really skip some.
    let mut w =
        StoreWriter::create_with(dir, WriterOptions::default().row_group_samples(600)).unwrap();
    for s in samples {
        w.write(s).unwrap();
    }
    w.finish().unwrap();
}

#[test]
fn columns_stream_and_windows_agree_with_the_whole_read() {
    let dir = tempfile::tempdir().unwrap();
    let a = synth("web-1", 3 * 3600);
    let b = synth("db-1", 1800);
    write(dir.path(), &a);
    write(dir.path(), &b);
    let reader = StoreReader::open(dir.path()).unwrap();

    // Coverage from the footers.
    let cov = reader.coverage().unwrap();
    assert_eq!(cov.len(), 2);
    assert_eq!(cov[0].host, "db-1");
    assert_eq!((cov[0].first, cov[0].last), (b[0].ts, b.last().unwrap().ts));
    assert_eq!(cov[1].segment_samples, a.len() as u64);
    assert_eq!(cov[1].journal_samples, 0);

    // The columns of a range equal the columns of the samples of that range.
    let (from, to) = (Some(at(1000)), Some(at(9000)));
    let whole = reader.clone().with_host("web-1").samples(from, to).unwrap();
    let series = reader.system_series("web-1", from, to).unwrap();
    assert!(series == SystemSeries::from_samples(&whole));
    assert!(!series.latency.is_empty());

    // Detection's columns: the same columns detection reads, the others not read; the same incidents.
    let detection = reader
        .system_series_of("web-1", from, to, SeriesRead::Detection)
        .unwrap();
    let mut want = series.clone();
    let n = want.len();
    want.load = std::array::from_fn(|_| std::iter::repeat_n(f32::NAN, n).collect());
    want.mem_available_bytes = std::iter::repeat_n(0, n).collect();
    want.swap_total_bytes = std::iter::repeat_n(0, n).collect();
    want.utc_offset_secs = std::iter::repeat_n(None, n).collect();
    for k in [1, 3] {
        want.pressure_pct[k] = std::iter::repeat_n(f32::NAN, n).collect();
    }
    assert!(series.load[0].iter().any(|v| !v.is_nan()));
    assert!(detection == want);
    let opts = DetectOptions::default();
    let w = reader.windows("web-1");
    assert_eq!(
        detect_incidents_in(&detection, &w, &opts).unwrap(),
        detect_incidents_in(&series, &w, &opts).unwrap()
    );

    // The stream gives what samples() gives, for both hosts.
    let all = reader.samples(None, None).unwrap();
    let streamed: Vec<Sample> = reader
        .stream(None, None)
        .unwrap()
        .map(Result::unwrap)
        .collect();
    assert_eq!(streamed.len(), all.len());
    assert!(streamed == all);

    // Windows and instants.
    let w = reader.windows("web-1");
    let got = w.samples_between(at(1200), at(1210)).unwrap();
    assert!(got == a[1200..=1210]);
    let instants = [a[5].ts, at(2100), a[4000].ts, a[4001].ts];
    let got = w.samples_at(&instants).unwrap();
    let ts: Vec<Timestamp> = got.iter().map(|s| s.ts).collect();
    assert_eq!(ts, [a[5].ts, a[4000].ts, a[4001].ts]);
    assert!(got == [a[5].clone(), a[4000].clone(), a[4001].clone()]);

    // Detection over columns and windows finds what detection over every sample finds.
    let opts = DetectOptions::default();
    let want = detect_incidents(&whole, &opts);
    assert!(want.len() >= 3, "{want:?}");
    assert_eq!(detect_incidents_in(&series, &w, &opts).unwrap(), want);
}

#[test]
fn the_journal_of_a_running_recorder_is_covered_streamed_and_in_the_columns() {
    let dir = tempfile::tempdir().unwrap();
    let samples = synth("nas", 120);
    let (mut rec, _) = FlightRecorder::open(dir.path(), RecorderOptions::new()).unwrap();
    for s in &samples {
        assert!(rec.record(s).is_empty());
    }
    // Still recording: everything is in the journal, nothing in Parquet.
    let reader = StoreReader::open(dir.path()).unwrap();
    let cov = reader.coverage().unwrap();
    assert_eq!(cov.len(), 1, "{cov:?}");
    assert_eq!(cov[0].journal_samples, 120);
    assert_eq!(cov[0].segments, 0);
    assert_eq!(cov[0].last, samples[119].ts);
    let series = reader.system_series("nas", None, None).unwrap();
    assert!(series == SystemSeries::from_samples(&samples));
    let streamed: Vec<Sample> = reader
        .stream(None, None)
        .unwrap()
        .map(Result::unwrap)
        .collect();
    assert!(streamed == samples);

    // The same reader (and its clones) sees what is recorded after its first reading: the journal it decoded
    // once has grown, and is read again.
    let w = reader.windows("nas");
    let first = w.samples_between(samples[0].ts, samples[119].ts).unwrap();
    assert_eq!(first.len(), 120);
    let more = synth("nas", 180);
    for s in &more[120..] {
        assert!(rec.record(s).is_empty());
    }
    let again = w.samples_between(samples[0].ts, more[179].ts).unwrap();
    assert!(
        again == more,
        "{} samples after the journal grew",
        again.len()
    );
    let series = reader.clone().system_series("nas", None, None).unwrap();
    assert!(series == SystemSeries::from_samples(&more));
    drop(rec);
}

#[test]
fn journal_samples_between_segment_rows_are_merged_into_the_columns() {
    // The segments hold the even samples of the first 2,400 (row groups of 300), the journal the odd ones, the
    // rest, and a few the segments also hold (changed, so that the segments' win shows): the columns are
    // appended in runs between journal samples.
    let dir = tempfile::tempdir().unwrap();
    let samples = synth("web-1", 3000);
    let even: Vec<Sample> = samples[..2400].iter().step_by(2).cloned().collect();
    write(dir.path(), &even);
    let (mut rec, _) = FlightRecorder::open(dir.path(), RecorderOptions::new()).unwrap();
    for (i, s) in samples.iter().enumerate() {
        let again = [0, 300, 1024, 2398].contains(&i);
        if i % 2 == 1 || i >= 2400 || again {
            let mut s = s.clone();
            if again {
                s.cpu.busy_pct = 99.5;
            }
            assert!(rec.record(&s).is_empty());
        }
    }
    let reader = StoreReader::open(dir.path()).unwrap();
    let cov = reader.coverage().unwrap();
    assert!(cov[0].segments > 0 && cov[0].journal_samples > 0, "{cov:?}");
    let series = reader.system_series("web-1", None, None).unwrap();
    assert_eq!(series.len(), samples.len());
    assert!(series == SystemSeries::from_samples(&samples));
    // A range that starts and ends inside row groups and journal runs.
    let (from, to) = (Some(at(301)), Some(at(2777)));
    let series = reader.system_series("web-1", from, to).unwrap();
    let want: Vec<Sample> = samples
        .iter()
        .filter(|s| s.ts >= at(301) && s.ts < at(2777))
        .cloned()
        .collect();
    assert!(series == SystemSeries::from_samples(&want));
    drop(rec);
}

#[test]
fn overlapping_segments_give_each_sample_once() {
    // Two writes of overlapping spans (as a recovered crash leaves them): the second segment's rows up to the
    // first's end are left out, the rest appended after them.
    let dir = tempfile::tempdir().unwrap();
    let samples = synth("web-1", 2400);
    write(dir.path(), &samples[..1500]);
    write(dir.path(), &samples[700..]);
    let reader = StoreReader::open(dir.path()).unwrap();
    assert!(reader.segment_files().len() >= 2);
    let series = reader.system_series("web-1", None, None).unwrap();
    assert_eq!(series.len(), samples.len());
    assert!(series == SystemSeries::from_samples(&samples));
}

/// Three hours of `web-1` in two segments, the first segment's `samples` file damaged by `damage`: the samples
/// read as columns, streamed and counted by `usage`, and the one warning, which must name the damaged file.
fn read_damaged(damage: impl FnOnce(&Path)) -> (usize, usize, usize, u64) {
    let dir = tempfile::tempdir().unwrap();
    let samples = synth("web-1", 3 * 3600);
    write(dir.path(), &samples);
    let reader = StoreReader::open(dir.path()).unwrap();
    let files = reader.segment_files();
    assert!(files.len() >= 2, "{files:?}");
    damage(&files[0]);
    let series = reader.system_series("web-1", None, None).unwrap();
    let streamed = reader
        .stream(None, None)
        .unwrap()
        .map(Result::unwrap)
        .count();
    let usage = reader.usage("web-1", None, None).unwrap().samples;
    let warnings = reader.warnings();
    assert_eq!(warnings.len(), 1, "{warnings:?}");
    // Named once, whatever the error's own text says.
    let shown = files[0].display().to_string();
    assert_eq!(warnings[0].matches(&shown).count(), 1, "{warnings:?}");
    // The series says where it left data out: a part holding samples it lost and none it kept.
    assert_eq!(series.unreadable.len(), 1, "{:?}", series.unreadable);
    let (start, end) = series.unreadable[0];
    let inside = |t: &Timestamp| start <= *t && *t < end;
    assert!(!series.ts.iter().any(inside), "{:?}", series.unreadable);
    let lost = samples
        .iter()
        .filter(|s| series.ts.binary_search(&s.ts).is_err())
        .count();
    assert!(lost > 0, "nothing lost");
    assert_eq!(
        samples.iter().filter(|s| inside(&s.ts)).count(),
        lost,
        "{:?}",
        series.unreadable
    );
    (samples.len(), series.len(), streamed, usage)
}

/// A journal that is not one (garbage) and one that cannot be read at all (a directory named like one) are each
/// reported once, and the segments are read.
#[test]
fn unreadable_journals_are_each_reported_once() {
    let dir = tempfile::tempdir().unwrap();
    let samples = synth("web-1", 3600);
    write(dir.path(), &samples);
    let journals = dir.path().join("_journal/host=web-1");
    std::fs::create_dir_all(journals.join("00000000000000000099.journal")).unwrap();
    std::fs::write(
        journals.join("00000000000000000098.journal"),
        b"not a journal",
    )
    .unwrap();
    let reader = StoreReader::open(dir.path()).unwrap();
    let series = reader.system_series("web-1", None, None).unwrap();
    assert_eq!(series.len(), samples.len());
    let again = reader.system_series("web-1", None, None).unwrap();
    assert_eq!(again.len(), samples.len());
    let mut warnings = reader.warnings();
    warnings.sort();
    assert_eq!(warnings.len(), 2, "{warnings:?}");
    assert!(
        warnings[0].contains("00000000000000000098.journal")
            && warnings[0].contains("not a readable journal"),
        "{warnings:?}"
    );
    assert!(
        warnings[1].contains("00000000000000000099.journal")
            && warnings[1].contains("cannot read the journal"),
        "{warnings:?}"
    );
}

#[test]
fn a_damaged_segment_in_the_middle_is_skipped_with_one_warning() {
    let (all, series, streamed, usage) =
        read_damaged(|f| std::fs::write(f, b"PAR1 this is not parquet PAR1").unwrap());
    assert!(series > 0 && series < all, "{series} of {all}");
    assert_eq!(streamed, series);
    assert_eq!(usage, series as u64);
}

/// A footer whose column chunks lie past the file's end (its first half cut out, the footer kept) is refused
/// before a page is read, with a warning naming the file and the chunk: its offsets are what the Parquet reader
/// would allocate and seek by.
#[test]
fn a_footer_pointing_outside_its_file_is_refused_before_reading() {
    let dir = tempfile::tempdir().unwrap();
    let samples = synth("web-1", 3 * 3600);
    write(dir.path(), &samples);
    let reader = StoreReader::open(dir.path()).unwrap();
    let files = reader.segment_files();
    let bytes = std::fs::read(&files[0]).unwrap();
    let mut cut = bytes[..4].to_vec();
    cut.extend_from_slice(&bytes[bytes.len() / 2..]);
    std::fs::write(&files[0], &cut).unwrap();
    let streamed = reader
        .stream(None, None)
        .unwrap()
        .map(Result::unwrap)
        .count();
    assert!(streamed > 0 && streamed < samples.len(), "{streamed}");
    let warnings = reader.warnings();
    assert_eq!(warnings.len(), 1, "{warnings:?}");
    assert!(
        warnings[0].contains(&files[0].display().to_string())
            && warnings[0].contains("is not inside the file"),
        "{warnings:?}"
    );
}

#[test]
fn a_damaged_row_group_costs_only_its_own_samples() {
    // Bytes a third of the way into the file: inside a row group, not the footer.
    let (all, series, streamed, usage) = read_damaged(|f| {
        let mut bytes = std::fs::read(f).unwrap();
        let at = bytes.len() / 3;
        for b in &mut bytes[at..at + 64] {
            *b = 0xff;
        }
        std::fs::write(f, &bytes).unwrap();
    });
    assert!(streamed > 0 && streamed < all, "{streamed} of {all}");
    // The columns read fewer of the file's bytes than whole samples do: they lose at most what the stream loses.
    assert!(series >= streamed, "{series} columns, {streamed} streamed");
    // Usage reads fewer columns still (the damage may miss them all).
    assert!(
        usage >= streamed as u64 && usage <= all as u64,
        "{usage} in usage, {streamed} streamed, {all} written"
    );
}

#[test]
fn usage_from_columns_is_usage_by_name_of_the_samples() {
    let dir = tempfile::tempdir().unwrap();
    let a = synth("web-1", 3 * 3600);
    write(dir.path(), &a);
    let reader = StoreReader::open(dir.path()).unwrap();
    let (from, to) = (Some(at(1000)), Some(at(9000)));
    let whole = reader.samples(from, to).unwrap();
    let want = stabmon_core::analysis::usage_by_name(&whole, None, None);
    let got = reader.usage("web-1", from, to).unwrap();
    assert_eq!(got.samples, whole.len() as u64);
    let secs: f64 = whole.iter().map(|s| s.interval.as_secs_f64()).sum();
    assert!((got.covered_secs - secs).abs() < 1e-6);
    assert_eq!(got.names.len(), want.len());
    assert!(want.iter().any(|u| u.name == "xmrig"));
    for (g, w) in got.names.iter().zip(&want) {
        assert_eq!(g.name, w.name);
        assert!(
            (g.cpu_seconds - w.cpu_seconds).abs() < 1e-6,
            "{}: {} {}",
            g.name,
            g.cpu_seconds,
            w.cpu_seconds
        );
        assert!(
            (g.cpu_seconds_max - w.cpu_seconds_max).abs() < 1e-3 * w.cpu_seconds_max.max(1.0),
            "{}",
            g.name
        );
        assert_eq!(
            (
                g.peak_rss_bytes,
                g.rss_growth_bytes,
                g.max_process_count,
                g.samples_listed
            ),
            (
                w.peak_rss_bytes,
                w.rss_growth_bytes,
                w.max_process_count,
                w.samples_listed
            ),
            "{}",
            g.name
        );
        assert_eq!(g.pids, w.pids, "{}", g.name);
    }
}

/// Stores written by every version (committed fixtures) give the same columns, stream and usage as their whole
/// samples: the bounded path reads what users already have (the busiest process and group of schema 5 and
/// older included, which those files do not store). `store-v4-probes` was written by 894ff4d's `StoreWriter`
/// (schema 4) from `Synth`: 3,000 samples at 1 s from 2026-11-02T00:35:00Z, host `probes-1`, top 5, latency
/// targets `router` (2 ms) and `web` (18 ms), an `xmrig` hog at 130 % from 600 to 900 s, a `web` outage from 1,400
/// to 1,460 s and a 1.5 s `router` spike from 2,000 to 2,030 s.
#[test]
fn committed_fixtures_of_every_schema_read_the_same_through_the_bounded_path() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures");
    let stores = (1..=stabmon_store::SCHEMA_VERSION)
        .map(|v| (v, format!("store-v{v}")))
        .chain([(4, "store-v4-probes".to_owned())]);
    for (v, name) in stores {
        let dir = root.join(name);
        let reader = StoreReader::open(&dir).unwrap();
        for host in reader.hosts() {
            let whole = reader
                .clone()
                .with_host(host.clone())
                .samples(None, None)
                .unwrap();
            assert!(!whole.is_empty(), "v{v} {host}");
            let series = reader.system_series(&host, None, None).unwrap();
            let mut want = SystemSeries::from_samples(&whole);
            if v == 7 {
                // Version 7 stored the busiest group of the listed processes only (exited ones not counted), and
                // the columns read what the files hold.
                let mut listed_only = stabmon_core::series::BusiestColumns::default();
                for s in &whole {
                    listed_only.push_top(&s.top);
                }
                want.busiest = listed_only;
            }
            if series != want {
                let d = format!("{series:?}");
                let w = format!("{want:?}");
                let k = d
                    .bytes()
                    .zip(w.bytes())
                    .position(|(a, b)| a != b)
                    .unwrap_or(0);
                panic!(
                    "v{v} {host}: series differ at {k}: got ...{}... want ...{}...",
                    &d[k.saturating_sub(200)..(k + 100).min(d.len())],
                    &w[k.saturating_sub(200)..(k + 100).min(w.len())]
                );
            }
            let streamed: Vec<Sample> = reader
                .clone()
                .with_host(host.clone())
                .stream(None, None)
                .unwrap()
                .map(Result::unwrap)
                .collect();
            if streamed != whole {
                let k = streamed.iter().zip(&whole).position(|(a, b)| a != b);
                panic!(
                    "v{v} {host}: {} streamed, {} whole, first difference at {k:?}: {:?} vs {:?}",
                    streamed.len(),
                    whole.len(),
                    k.map(|k| &streamed[k].ts),
                    k.map(|k| &whole[k].ts)
                );
            }
            let usage = reader.usage(&host, None, None).unwrap();
            assert_eq!(usage.samples, whole.len() as u64, "v{v} {host}");
            let by_name = stabmon_core::analysis::usage_by_name(&whole, None, None);
            assert_eq!(usage.names.len(), by_name.len(), "v{v} {host}");
            for (g, w) in usage.names.iter().zip(&by_name) {
                assert_eq!(
                    (&g.name, g.peak_rss_bytes, g.samples_listed, g.pids.len()),
                    (&w.name, w.peak_rss_bytes, w.samples_listed, w.pids.len()),
                    "v{v} {host}"
                );
                assert!(
                    (g.cpu_seconds - w.cpu_seconds).abs() < 1e-6 * w.cpu_seconds.max(1.0),
                    "v{v} {host} {}: {} {}",
                    g.name,
                    g.cpu_seconds,
                    w.cpu_seconds
                );
                // The bound of what a name not listed may have used: from each sample's names list bound.
                assert!(
                    (g.cpu_seconds_max - w.cpu_seconds_max).abs()
                        < 1e-6 * w.cpu_seconds_max.max(1.0),
                    "v{v} {host} {}: {} {}",
                    g.name,
                    g.cpu_seconds_max,
                    w.cpu_seconds_max
                );
            }
            // Windows without the processes' command lines, users and cgroups (what a series or a culprit line
            // asks for) are the whole samples without them: of schemas before 5 too, which are otherwise read
            // whole to derive the values they leave out.
            let parts = SampleParts::ALL
                .without(SampleParts::CMDLINE)
                .without(SampleParts::USER)
                .without(SampleParts::CGROUP);
            let mut want = whole.clone();
            want.iter_mut().for_each(|s| parts.trim(s));
            let w = reader.windows(&host);
            let (first, last) = (whole[0].ts, whole[whole.len() - 1].ts);
            assert_eq!(
                w.samples_between_parts(first, last, parts).unwrap(),
                want,
                "v{v} {host}"
            );
            let instants: Vec<Timestamp> = whole.iter().step_by(3).map(|s| s.ts).collect();
            let at: Vec<Sample> = want.iter().step_by(3).cloned().collect();
            assert_eq!(
                w.samples_at_parts(&instants, parts).unwrap(),
                at,
                "v{v} {host}"
            );
        }
        assert!(
            reader.warnings().is_empty(),
            "v{v}: {:?}",
            reader.warnings()
        );
    }
}

/// Usage read from the columns equals `usage_by_name` of the whole samples, figure for figure, over segments of
/// several days and writers, a recorder's journal after them, and a damaged segment in the middle (skipped by
/// both, with one warning naming it).
#[test]
fn usage_over_segments_and_a_journal_equals_the_whole_read_with_a_damaged_segment_skipped() {
    let dir = tempfile::tempdir().unwrap();
    let later = |start: u64, secs: u64| {
        Synth::new(at(start), Duration::from_secs(1))
            .count(secs)
            .processes(60)
            .host("web-1")
            .cpu_hog("xmrig", "./xmrig", at(start + 60), at(start + 400), 150.0)
            .generate()
    };
    // Two dates from one writer, a third segment from another, then a recorder still running.
    write(dir.path(), &synth("web-1", 3 * 3600));
    write(dir.path(), &later(86_400, 1800));
    let (mut rec, _) = FlightRecorder::open(dir.path(), RecorderOptions::new()).unwrap();
    for s in &later(2 * 86_400, 600) {
        assert!(rec.record(s).is_empty());
    }
    let reader = StoreReader::open(dir.path()).unwrap();
    let cov = reader.coverage().unwrap();
    assert!(cov[0].journal_samples > 0, "{cov:?}");
    let files = reader.segment_files();
    assert!(files.len() >= 3, "{files:?}");
    std::fs::write(&files[1], b"PAR1 this is not parquet PAR1").unwrap();

    for (from, to) in [(None, None), (Some(at(1000)), Some(at(2 * 86_400 + 300)))] {
        let whole = reader.clone().with_host("web-1").samples(from, to).unwrap();
        let want = stabmon_core::analysis::usage_by_name(&whole, None, None);
        let got = reader.usage("web-1", from, to).unwrap();
        assert_eq!(got.samples, whole.len() as u64);
        let secs: f64 = whole.iter().map(|s| s.interval.as_secs_f64()).sum();
        assert_eq!(got.covered_secs, secs);
        assert!(want.iter().any(|u| u.name == "xmrig"), "{want:?}");
        assert!(
            whole.iter().any(|s| s.ts >= at(2 * 86_400)),
            "the journal is read"
        );
        assert_eq!(got.names.len(), want.len());
        for (g, w) in got.names.iter().zip(&want) {
            assert_eq!(g, w);
        }
    }
    let warnings = reader.warnings();
    assert!(!warnings.is_empty());
    assert!(
        warnings
            .iter()
            .all(|w| w.contains(&files[1].display().to_string())),
        "{warnings:?}"
    );
}

/// Detection's columns read from segments and a live journal together (the journal's samples carry every column)
/// find the incidents that every column finds.
#[test]
fn detection_columns_with_a_live_journal_find_the_same_incidents() {
    let dir = tempfile::tempdir().unwrap();
    let a = synth("web-1", 2 * 3600);
    write(dir.path(), &a[..3600]);
    // Kept open, so its samples stay in the journal.
    let (mut rec, _) = FlightRecorder::open(dir.path(), RecorderOptions::new()).unwrap();
    for s in &a[3600..] {
        assert!(rec.record(s).is_empty());
    }
    let reader = StoreReader::open(dir.path()).unwrap();
    let cov = reader.coverage().unwrap();
    assert!(
        cov[0].journal_samples > 0 && cov[0].segment_samples > 0,
        "{cov:?}"
    );
    let all = reader.system_series("web-1", None, None).unwrap();
    let detection = reader
        .system_series_of("web-1", None, None, SeriesRead::Detection)
        .unwrap();
    assert_eq!(detection.len(), a.len());
    let opts = DetectOptions::default();
    let w = reader.windows("web-1");
    let want = detect_incidents_in(&all, &w, &opts).unwrap();
    assert!(want.len() >= 2, "{want:?}");
    assert_eq!(detect_incidents_in(&detection, &w, &opts).unwrap(), want);
    assert!(reader.warnings().is_empty(), "{:?}", reader.warnings());
    drop(rec);
}

/// Hover moments over `secs`-second columns, with `parts`.
struct Columns {
    secs: i64,
    parts: SampleParts,
}

impl stabmon_core::series::MomentColumns for Columns {
    fn column(&self, ts: Timestamp) -> i64 {
        ts.as_unix_micros().div_euclid(self.secs * 1_000_000)
    }
    fn parts(&self) -> SampleParts {
        self.parts
    }
}

/// The moments a series read builds of files older than schema 5 (whose row groups it decodes whole) are the
/// busiest sample of each column, the first of equals, and the very samples a read of them gives: a page's windows
/// given them serve them unread. Later schemas build none (their rows are read where they are).
#[test]
fn moments_built_with_a_series_of_older_files_are_the_columns_busiest_samples_as_read() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures");
    let stores = (1..=stabmon_store::SCHEMA_VERSION)
        .map(|v| (v, format!("store-v{v}")))
        .chain([(4, "store-v4-probes".to_owned())]);
    let page = SampleParts::PROCESSES
        .union(SampleParts::CMDLINE)
        .union(SampleParts::CGROUP)
        .union(SampleParts::NAMES)
        .ranked_processes(3, 2);
    let whole_lists = SampleParts::SYSTEM
        .union(SampleParts::PROCESSES)
        .union(SampleParts::USER)
        .union(SampleParts::NAMES);
    let mut built = 0;
    for (v, name) in stores {
        let reader = StoreReader::open(root.join(name)).unwrap();
        for host in reader.hosts() {
            for m in [
                Columns {
                    secs: 37,
                    parts: page,
                },
                Columns {
                    secs: 5,
                    parts: whole_lists,
                },
            ] {
                let (series, moments) = reader
                    .system_series_with_moments(&host, None, None, SeriesRead::All, &m)
                    .unwrap();
                assert_eq!(series, reader.system_series(&host, None, None).unwrap());
                if v >= 5 {
                    assert!(moments.is_empty(), "v{v} {host}");
                    continue;
                }
                // The busiest of each column, the first of equals.
                let mut want: Vec<Timestamp> = Vec::new();
                let mut best: Option<(i64, usize)> = None;
                for (i, t) in series.ts.iter().enumerate() {
                    let col = stabmon_core::series::MomentColumns::column(&m, *t);
                    match &mut best {
                        Some((c, b)) if *c == col => {
                            if series.cpu_busy_pct[i] > series.cpu_busy_pct[*b] {
                                *b = i;
                            }
                        }
                        _ => {
                            want.extend(best.map(|(_, b)| series.ts[b]));
                            best = Some((col, i));
                        }
                    }
                }
                want.extend(best.map(|(_, b)| series.ts[b]));
                let got: Vec<Timestamp> = moments.iter().map(|s| s.ts).collect();
                assert_eq!(got, want, "v{v} {host}");
                let read = reader
                    .windows(&host)
                    .samples_at_parts(&want, m.parts)
                    .unwrap();
                assert_eq!(moments, read, "v{v} {host}");
                built += moments.len();
                // Given to the windows, they are served from there (marked here to tell), for those parts only.
                let mut marked = moments.clone();
                marked.iter_mut().for_each(|s| s.host = "given".into());
                let marked = reader.windows(&host).with_samples(marked, m.parts);
                let served = marked.samples_at_parts(&want, m.parts).unwrap();
                assert!(served.iter().all(|s| s.host == "given"), "v{v} {host}");
                let other = marked.samples_at_parts(&want, SampleParts::SYSTEM).unwrap();
                assert!(other.iter().all(|s| s.host == host), "v{v} {host}");
                // And with the other instants read around them, the same as a read of all.
                let given = reader.windows(&host).with_samples(moments, m.parts);
                let instants: Vec<Timestamp> = series.ts.iter().step_by(2).copied().collect();
                assert_eq!(
                    given.samples_at_parts(&instants, m.parts).unwrap(),
                    reader
                        .windows(&host)
                        .samples_at_parts(&instants, m.parts)
                        .unwrap(),
                    "v{v} {host}"
                );
            }
        }
    }
    assert!(built > 0, "no moments were built");
}

/// A schema-4 segment whose `processes` file is missing still gives its system values and probes in the columns,
/// without a busiest process or group (the name totals may be their lone process's values, which are gone), as
/// a whole-sample read of it always did, and without a warning.
#[test]
fn a_schema_4_segment_without_its_process_rows_gives_its_system_values() {
    let fixture = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/store-v4-probes");
    let dir = tempfile::tempdir().unwrap();
    for table in ["samples", "names", "latency"] {
        copy_tree(&fixture.join(table), &dir.path().join(table));
    }
    let full = StoreReader::open(&fixture).unwrap();
    let host = full.hosts().into_iter().next().unwrap();
    let mut want = full.system_series(&host, None, None).unwrap();
    assert!(want.ts.len() > 1000 && !want.latency.is_empty());
    let mut none = stabmon_core::series::BusiestColumns::default();
    for _ in 0..want.ts.len() {
        none.push_top(&stabmon_core::TopProcesses::default());
    }
    assert_ne!(want.busiest, none, "the fixture has busy processes");
    want.busiest = none;
    let reader = StoreReader::open(dir.path()).unwrap();
    let got = reader.system_series(&host, None, None).unwrap();
    assert!(reader.warnings().is_empty(), "{:?}", reader.warnings());
    assert_eq!(got, want);
}

fn copy_tree(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for entry in std::fs::read_dir(from).unwrap() {
        let entry = entry.unwrap();
        let target = to.join(entry.file_name());
        if entry.file_type().unwrap().is_dir() {
            copy_tree(&entry.path(), &target);
        } else {
            std::fs::copy(entry.path(), &target).unwrap();
        }
    }
}

/// Where a schema-4 row group's hover moments cannot be built (its process rows lack `parent_pid` here, which only
/// the moments' process lists read), the series is still read whole, the same as without moments, and no moment is
/// given: the page then reads (and warns of) what it cannot build.
#[test]
fn a_schema_4_row_group_whose_moments_fail_still_gives_its_series() {
    use parquet::arrow::ArrowWriter;
    use parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder;
    use parquet::file::properties::WriterProperties;

    let fixture = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/store-v4-probes");
    let dir = tempfile::tempdir().unwrap();
    for table in ["samples", "processes", "names", "latency"] {
        copy_tree(&fixture.join(table), &dir.path().join(table));
    }
    let part = dir.path().join("processes/host=probes-1/date=2026-11-02");
    let file = std::fs::read_dir(&part)
        .unwrap()
        .next()
        .unwrap()
        .unwrap()
        .path();
    let builder =
        ParquetRecordBatchReaderBuilder::try_new(std::fs::File::open(&file).unwrap()).unwrap();
    let kv = builder
        .metadata()
        .file_metadata()
        .key_value_metadata()
        .cloned();
    let batches: Vec<_> = builder.build().unwrap().map(Result::unwrap).collect();
    let without = |b: &arrow_array::RecordBatch| {
        let keep: Vec<usize> = (0..b.num_columns())
            .filter(|&k| b.schema().field(k).name() != "parent_pid")
            .collect();
        b.project(&keep).unwrap()
    };
    let batches: Vec<_> = batches.iter().map(without).collect();
    let props = WriterProperties::builder()
        .set_key_value_metadata(kv)
        .build();
    let out = std::fs::File::create(&file).unwrap();
    let mut w = ArrowWriter::try_new(out, batches[0].schema(), Some(props)).unwrap();
    batches.iter().for_each(|b| w.write(b).unwrap());
    w.close().unwrap();

    let reader = StoreReader::open(dir.path()).unwrap();
    let plain = reader.system_series("probes-1", None, None).unwrap();
    assert!(plain.ts.len() > 1000, "{}", plain.ts.len());
    let page = Columns {
        secs: 37,
        parts: SampleParts::PROCESSES.union(SampleParts::NAMES),
    };
    let (with, moments) = reader
        .system_series_with_moments("probes-1", None, None, SeriesRead::All, &page)
        .unwrap();
    assert_eq!(with, plain);
    assert!(moments.is_empty(), "{} moments", moments.len());
    // The same moments of the untouched fixture are built.
    let full = StoreReader::open(&fixture).unwrap();
    let (_, built) = full
        .system_series_with_moments("probes-1", None, None, SeriesRead::All, &page)
        .unwrap();
    assert!(!built.is_empty());
}
