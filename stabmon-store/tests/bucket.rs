//! A fleet's dataset in object storage, against a real S3 server (moto) on 127.0.0.1: shipped by two hosts into
//! one prefix, shipped again without duplicates, read back by stabmon and by pyarrow, and bad input explained.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod moto;

use std::collections::BTreeMap;
use std::path::Path;
use std::time::Duration;

use stabmon_core::synth::Synth;
use stabmon_core::{Sample, Timestamp};
use stabmon_store::{FlightRecorder, RecorderOptions, StoreReader, StoreWriter, ship_dir};

use moto::{Forwarder, Moto};

const T0: i64 = 1_795_557_600;

/// `secs` seconds of `host` from 23:40 UTC, so that it spans two dates, recorded with 20-minute segments.
fn record(dir: &Path, host: &str, secs: u64) -> Vec<Sample> {
    let start = Timestamp::from_unix_secs(T0 + 23 * 3600 + 40 * 60);
    let samples = Synth::new(start, Duration::from_secs(1))
        .count(secs)
        .processes(30)
        .host(host)
        .generate();
    let opts = RecorderOptions::new().rotate(Duration::from_secs(1200));
    let (mut rec, _) = FlightRecorder::open(dir, opts).unwrap();
    for s in &samples {
        let _ = rec.record(s);
    }
    let last = samples.last().unwrap().ts;
    rec.stop(last.saturating_add(Duration::from_secs(1)))
        .unwrap();
    samples
}

/// A copy in `dir` of ten hours of host `web-1` from 2026-11-26 00:00 UTC at 1 s, written as one segment of
/// hourly row groups (the `samples` object over 256 KiB, the others smaller): the store a bucket's narrow and
/// whole-day reads are measured on. Written once per run of these tests (it takes a while unoptimised), under
/// cargo's directory for test files.
fn ten_hours(dir: &Path) {
    static WRITTEN: std::sync::OnceLock<std::path::PathBuf> = std::sync::OnceLock::new();
    let src = WRITTEN.get_or_init(|| {
        let src = Path::new(env!("CARGO_TARGET_TMPDIR")).join("bucket-ten-hours");
        let _ = std::fs::remove_dir_all(&src);
        let start = Timestamp::from_unix_secs(T0 + 26 * 3600);
        let synth = Synth::new(start, Duration::from_secs(1))
            .count(10 * 3600)
            .processes(30)
            .host("web-1");
        let mut w = StoreWriter::create(&src).unwrap();
        for s in synth.iter() {
            w.write(&s).unwrap();
        }
        w.finish().unwrap();
        src
    });
    for (rel, bytes) in parquet_objects(src) {
        let to = dir.join(rel);
        std::fs::create_dir_all(to.parent().unwrap()).unwrap();
        std::fs::write(to, bytes).unwrap();
    }
}

/// Reading everything from `reader` fails with a one-line error saying that `object` (a URL) changed since it was
/// listed.
fn assert_changed(reader: &StoreReader, object: &str) {
    let e = reader
        .samples(None, None)
        .map(|v| v.len())
        .unwrap_err()
        .to_string();
    assert!(
        e.contains(object) && e.contains("changed since it was listed"),
        "{e}"
    );
    assert!(!e.contains('\n'), "{e}");
}

/// [`ten_hours`] shipped to a bucket of a local S3 server under `prefix`.
struct Shipped {
    moto: Moto,
    opts: Vec<(String, String)>,
    dir: std::path::PathBuf,
    url: String,
    _tmp: tempfile::TempDir,
}

/// Ships [`ten_hours`] to `s3://fleet/PREFIX` of a local S3 server; `None` where moto is not installed.
fn ship_ten_hours(prefix: &str) -> Option<Shipped> {
    let moto = Moto::start()?;
    moto.create_bucket("fleet");
    let opts = moto.options();
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("a");
    ten_hours(&dir);
    let url = format!("s3://fleet/{prefix}");
    ship_dir(&dir, &url, &opts).unwrap();
    Some(Shipped {
        moto,
        opts,
        dir,
        url,
        _tmp: tmp,
    })
}

fn ts_of(v: &[Sample]) -> Vec<(String, i64)> {
    v.iter()
        .map(|s| (s.host.clone(), s.ts.as_unix_micros()))
        .collect()
}

#[test]
fn two_hosts_ship_into_one_prefix_and_read_back_without_duplicates() {
    let Some(moto) = Moto::start() else { return };
    moto.create_bucket("fleet");
    let opts = moto.options();
    let tmp = tempfile::tempdir().unwrap();
    let (a, b) = (tmp.path().join("a"), tmp.path().join("b"));
    let web = record(&a, "web-1", 3000);
    let db = record(&b, "db-1", 1500);
    let url = "s3://fleet/prod";

    let first = ship_dir(&a, url, &opts).unwrap();
    assert!(
        first.uploaded >= 6,
        "segments of two dates, three tables: {first:?}"
    );
    assert_eq!(first.already_there, 0);
    let again = ship_dir(&a, url, &opts).unwrap();
    assert_eq!(again.uploaded, 0, "{again:?}");
    assert_eq!(again.already_there, first.uploaded);
    ship_dir(&b, url, &opts).unwrap();

    let reader = StoreReader::open_bucket_with(url, &opts).unwrap();
    assert_eq!(reader.hosts(), ["db-1", "web-1"]);
    assert_eq!(reader.location(), url);
    let got = reader.samples_for_host("web-1", None, None).unwrap();
    assert_eq!(ts_of(&got), ts_of(&web));
    assert_eq!(got, web);
    let got = reader.samples_for_host("db-1", None, None).unwrap();
    assert_eq!(got, db);
    // A range inside the second date: its samples only.
    let from = Timestamp::from_unix_secs(T0 + 24 * 3600 + 600);
    let to = Timestamp::from_unix_secs(T0 + 24 * 3600 + 1200);
    let want: Vec<&Sample> = web.iter().filter(|s| s.ts >= from && s.ts < to).collect();
    let got = reader
        .samples_for_host("web-1", Some(from), Some(to))
        .unwrap();
    assert_eq!(got.len(), want.len());
    assert!(got.iter().zip(want).all(|(g, w)| g == w));
    // Coverage from the segments' footers.
    let cov = reader.coverage().unwrap();
    let rows: Vec<(String, u64)> = cov
        .iter()
        .map(|c| (c.host.clone(), c.segment_samples))
        .collect();
    assert_eq!(
        rows,
        [("db-1".to_owned(), 1500), ("web-1".to_owned(), 3000)]
    );
    assert!(reader.warnings().is_empty(), "{:?}", reader.warnings());

    // pyarrow reads the same dataset through its own S3 client, counts per host as stabmon's.
    let script = format!(
        r#"
import pyarrow.dataset as ds, pyarrow.fs as fs, collections
s3 = fs.S3FileSystem(endpoint_override="{endpoint}", scheme="http", access_key="testing",
                     secret_key="testing", region="us-east-1")
t = ds.dataset("fleet/prod/samples", filesystem=s3, format="parquet", partitioning="hive").to_table(columns=["host"])
c = collections.Counter(t.column("host").to_pylist())
for h in sorted(c): print(h, c[h])
"#,
        endpoint = moto.endpoint.trim_start_matches("http://")
    );
    let out = std::process::Command::new("python3")
        .args(["-c", &script])
        .output()
        .unwrap();
    if String::from_utf8_lossy(&out.stderr).contains("No module named 'pyarrow'") {
        eprintln!("SKIPPED the pyarrow part: pyarrow is not installed here");
        return;
    }
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let counts: BTreeMap<String, u64> = String::from_utf8_lossy(&out.stdout)
        .lines()
        .filter_map(|l| {
            let (h, n) = l.split_once(' ')?;
            Some((h.to_owned(), n.parse().ok()?))
        })
        .collect();
    let ours: BTreeMap<String, u64> = rows.into_iter().collect();
    assert_eq!(counts, ours);
}

#[test]
fn a_missing_bucket_an_unreachable_endpoint_and_an_unknown_scheme_are_one_line_errors_naming_the_url()
 {
    let tmp = tempfile::tempdir().unwrap();
    let e = StoreReader::open("ftp://example.invalid/data")
        .unwrap_err()
        .to_string();
    assert!(
        e.contains("ftp://example.invalid/data") && e.contains("unknown URL scheme"),
        "{e}"
    );
    assert!(!e.contains('\n'), "{e}");

    // Nothing listens on this port.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let opts: Vec<(String, String)> = [
        ("aws_endpoint_url", format!("http://127.0.0.1:{port}")),
        ("aws_allow_http", "true".into()),
        ("aws_access_key_id", "testing".into()),
        ("aws_secret_access_key", "testing".into()),
        ("aws_region", "us-east-1".into()),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_owned(), v))
    .collect();
    let e = StoreReader::open_bucket_with("s3://fleet/prod", &opts)
        .unwrap_err()
        .to_string();
    assert!(
        e.contains("s3://fleet/prod") && e.contains("unreachable"),
        "{e}"
    );
    assert!(!e.contains('\n'), "{e}");
    let e = ship_dir(tmp.path(), "s3://fleet/prod", &opts)
        .unwrap_err()
        .to_string();
    assert!(
        e.contains("s3://fleet/prod") && e.contains("unreachable"),
        "{e}"
    );

    let Some(moto) = Moto::start() else { return };
    let e = StoreReader::open_bucket_with("s3://no-such-bucket/x", &moto.options())
        .unwrap_err()
        .to_string();
    assert!(
        e.contains("s3://no-such-bucket/x") && e.contains("bucket does not exist"),
        "{e}"
    );
    assert!(!e.contains('\n'), "{e}");
}

/// Polls `cond` for up to 60 s.
fn wait_until(what: &str, mut cond: impl FnMut() -> bool) {
    let deadline = std::time::Instant::now() + Duration::from_secs(60);
    while !cond() {
        assert!(
            std::time::Instant::now() < deadline,
            "timed out waiting for {what}"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
}

#[test]
fn shipping_while_recording_survives_an_outage_and_catches_up_without_duplicates() {
    use stabmon_store::Shipper;
    let Some(moto) = Moto::start() else { return };
    moto.create_bucket("fleet");
    let switch = Forwarder::new(moto.endpoint.trim_start_matches("http://").to_owned());
    let mut via_switch = moto.options();
    for (k, v) in &mut via_switch {
        if k == "aws_endpoint_url" {
            *v = format!("http://127.0.0.1:{}", switch.port);
        }
    }
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("data");
    let samples = Synth::new(Timestamp::from_unix_secs(T0), Duration::from_secs(1))
        .count(900)
        .processes(20)
        .host("edge-1")
        .generate();
    let opts = RecorderOptions::new().rotate(Duration::from_secs(120));
    let (mut rec, _) = FlightRecorder::open(&dir, opts).unwrap();
    let url = "s3://fleet/edge";
    let shipper = Shipper::start(
        &dir,
        url,
        &via_switch,
        Duration::from_millis(300),
        stabmon_store::ShippedFiles::new(),
    )
    .unwrap();
    let mut notices = Vec::new();

    for s in &samples[..300] {
        let _ = rec.record(s);
    }
    let _ = rec.wait_for_compaction();
    shipper.nudge();
    wait_until("the first segments shipped", || shipper.uploaded() > 0);

    // The endpoint goes away; samples keep coming and are compacted locally.
    switch.set(false);
    for s in &samples[300..600] {
        let _ = rec.record(s);
    }
    let _ = rec.wait_for_compaction();
    wait_until("the failure notice", || {
        notices.extend(shipper.notices());
        notices.iter().any(|n| n.contains("shipping fails"))
    });
    // Several more failing rounds, still one line.
    std::thread::sleep(Duration::from_secs(3));
    notices.extend(shipper.notices());
    assert_eq!(notices.len(), 1, "{notices:?}");
    assert!(notices[0].contains(url), "{notices:?}");

    switch.set(true);
    for s in &samples[600..] {
        let _ = rec.record(s);
    }
    rec.stop(
        samples
            .last()
            .unwrap()
            .ts
            .saturating_add(Duration::from_secs(1)),
    )
    .unwrap();
    shipper.nudge();
    let local = {
        let mut files = Vec::new();
        for table in ["samples", "processes", "names"] {
            let root = dir.join(table);
            for e in walk(&root) {
                files.push(
                    e.strip_prefix(&dir)
                        .unwrap()
                        .to_string_lossy()
                        .replace('\\', "/"),
                );
            }
        }
        files
    };
    assert!(local.len() >= 6, "{local:?}");
    wait_until("everything shipped", || {
        local.iter().all(|f| shipper.is_shipped(f))
    });
    notices.extend(shipper.notices());
    assert_eq!(notices.len(), 2, "{notices:?}");
    assert!(notices[1].contains("recovered"), "{notices:?}");
    shipper.stop();

    // Nothing left to send, and the bucket holds each sample once.
    let again = ship_dir(&dir, url, &moto.options()).unwrap();
    assert_eq!(again.uploaded, 0, "{again:?}");
    let reader = StoreReader::open_bucket_with(url, &moto.options()).unwrap();
    let got = reader.samples(None, None).unwrap();
    assert_eq!(ts_of(&got), ts_of(&samples));
}

/// Every file below `dir`, recursively, skipping hidden ones.
fn walk(dir: &Path) -> Vec<std::path::PathBuf> {
    let mut out = Vec::new();
    for e in std::fs::read_dir(dir).into_iter().flatten().flatten() {
        let p = e.path();
        if e.file_name().to_string_lossy().starts_with('.') {
            continue;
        }
        if p.is_dir() {
            out.extend(walk(&p));
        } else {
            out.push(p);
        }
    }
    out
}

#[test]
fn retention_keeps_unshipped_segments_past_their_age_unless_the_size_limit_forces_them_out() {
    use stabmon_store::{Notice, Retention, ShippedFiles};
    let tmp = tempfile::tempdir().unwrap();
    // Old samples (November 2026): every segment is past a one-day age limit.
    let samples = Synth::new(Timestamp::from_unix_secs(T0), Duration::from_secs(1))
        .count(1800)
        .processes(20)
        .host("edge-1")
        .generate();
    let run = |dir: &Path, retention: Retention| {
        let opts = RecorderOptions::new()
            .rotate(Duration::from_secs(300))
            .retention(retention)
            .keep_unshipped(ShippedFiles::new());
        let (mut rec, _) = FlightRecorder::open(dir, opts).unwrap();
        let mut notices = Vec::new();
        for s in &samples {
            notices.extend(rec.record(s));
        }
        notices.extend(rec.wait_for_compaction());
        rec.stop(
            samples
                .last()
                .unwrap()
                .ts
                .saturating_add(Duration::from_secs(1)),
        )
        .unwrap();
        let left = StoreReader::open(dir)
            .unwrap()
            .samples(None, None)
            .unwrap()
            .len();
        (notices, left)
    };
    let day = Some(Duration::from_secs(86_400));
    let (notices, left) = run(&tmp.path().join("a"), Retention::new().max_age(day));
    assert_eq!(
        left,
        samples.len(),
        "nothing shipped, nothing deleted for age"
    );
    assert!(
        !notices.iter().any(|n| matches!(n, Notice::Retained { .. })),
        "{notices:?}"
    );

    let (notices, left) = run(
        &tmp.path().join("b"),
        Retention::new().max_age(day).max_bytes(Some(1)),
    );
    assert!(left < samples.len(), "the size limit deletes them");
    let text: Vec<String> = notices.iter().map(ToString::to_string).collect();
    assert!(
        text.iter()
            .any(|n| n.contains("not yet shipped") && n.contains("size limit")),
        "{text:?}"
    );
}

/// The `.parquet` files below `dir` (relative path with `/`, bytes), hidden ones left out.
fn parquet_objects(dir: &Path) -> Vec<(String, Vec<u8>)> {
    walk(dir)
        .into_iter()
        .filter(|p| p.extension().is_some_and(|e| e == "parquet"))
        .map(|p| {
            let rel = p.strip_prefix(dir).unwrap();
            let rel: Vec<_> = rel.iter().map(|c| c.to_str().unwrap().to_owned()).collect();
            (rel.join("/"), std::fs::read(&p).unwrap())
        })
        .filter(|(rel, _)| {
            !rel.split('/')
                .any(|c| c.starts_with('.') || c.starts_with('_'))
        })
        .collect()
}

#[test]
fn a_narrow_read_fetches_footers_and_the_row_groups_in_range_not_whole_objects() {
    let Some(shipped) = ship_ten_hours("narrow") else {
        return;
    };
    let (url, opts, dir) = (shipped.url.as_str(), &shipped.opts, &shipped.dir);
    let objects = parquet_objects(dir);
    let total: u64 = objects.iter().map(|(_, b)| b.len() as u64).sum();
    eprintln!(
        "objects: {:?}",
        objects
            .iter()
            .map(|(rel, b)| (rel, b.len()))
            .collect::<Vec<_>>()
    );
    assert_eq!(objects.len(), 3);
    let local = StoreReader::open(dir).unwrap();

    // Listing hosts fetches nothing; coverage fetches the `samples` footers only.
    let reader = StoreReader::open_bucket_with(url, opts).unwrap();
    assert_eq!(reader.hosts(), ["web-1"]);
    assert_eq!(reader.fetched_bytes(), 0);
    let cov = reader.coverage().unwrap();
    let want = local.coverage().unwrap();
    assert_eq!(format!("{cov:?}"), format!("{want:?}"));
    let samples_total: u64 = objects
        .iter()
        .filter(|(rel, _)| rel.starts_with("samples/"))
        .map(|(_, b)| b.len() as u64)
        .sum();
    let after_coverage = reader.fetched_bytes();
    assert!(
        after_coverage > 0 && after_coverage < samples_total,
        "coverage fetched {after_coverage} bytes of the samples objects' {samples_total}"
    );
    assert_eq!(reader.fetch_requests(), 1, "the samples object's end");

    // A minute: the same samples as the directory's, for fewer bytes than half the objects'.
    let from = Timestamp::from_unix_secs(T0 + 26 * 3600 + 5 * 3600 + 300);
    let to = Timestamp::from_unix_secs(T0 + 26 * 3600 + 5 * 3600 + 360);
    let got = reader.samples(Some(from), Some(to)).unwrap();
    assert_eq!(got.len(), 60);
    assert_eq!(got, local.samples(Some(from), Some(to)).unwrap());
    let narrow = reader.fetched_bytes() - after_coverage;
    eprintln!("objects {total} B; coverage fetched {after_coverage} B, the minute {narrow} B more");
    assert!(
        narrow < total / 2,
        "a minute fetched {narrow} bytes, the objects hold {total}"
    );
    // Read again: nothing new is fetched.
    let before = reader.fetched_bytes();
    assert_eq!(reader.samples(Some(from), Some(to)).unwrap(), got);
    assert_eq!(reader.fetched_bytes(), before);
    // The whole range: every sample, as the directory has them, and at most each object once.
    assert_eq!(
        reader.samples(None, None).unwrap(),
        local.samples(None, None).unwrap()
    );
    assert!(
        reader.fetched_bytes() <= total,
        "{} > {total}",
        reader.fetched_bytes()
    );
    assert!(reader.warnings().is_empty(), "{:?}", reader.warnings());

    // The minute from a reader that fetched nothing yet: a small object whole, of a larger one its end in one
    // request and the minute's row group in one more.
    let fresh = StoreReader::open_bucket_with(url, opts).unwrap();
    assert_eq!(fresh.samples(Some(from), Some(to)).unwrap(), got);
    let requests = fresh.fetch_requests();
    let n = objects.len() as u64;
    assert!(
        requests > n && requests <= 2 * n,
        "{requests} requests for {n} objects"
    );
}

#[test]
fn a_read_of_a_whole_day_fetches_each_object_of_it_in_one_request() {
    let Some(shipped) = ship_ten_hours("day") else {
        return;
    };
    let (url, opts, dir) = (shipped.url.as_str(), &shipped.opts, &shipped.dir);
    let local = StoreReader::open(dir).unwrap();
    let objects = parquet_objects(dir);
    let total: u64 = objects.iter().map(|(_, b)| b.len() as u64).sum();
    assert_eq!(objects.len(), 3);

    let reader = StoreReader::open_bucket_with(url, opts).unwrap();
    let from = Timestamp::from_unix_secs(T0 + 26 * 3600);
    let to = Timestamp::from_unix_secs(T0 + 50 * 3600);
    let got = reader.samples(Some(from), Some(to)).unwrap();
    assert_eq!(got.len(), 10 * 3600);
    assert_eq!(got, local.samples(Some(from), Some(to)).unwrap());
    assert_eq!(reader.fetch_requests(), objects.len() as u64);
    assert_eq!(reader.fetched_bytes(), total);
    assert!(reader.warnings().is_empty(), "{:?}", reader.warnings());
}

#[test]
fn an_object_replaced_by_another_of_its_size_between_two_requests_is_an_error_naming_it() {
    let Some(shipped) = ship_ten_hours("replaced") else {
        return;
    };
    let (url, opts, dir) = (shipped.url.as_str(), &shipped.opts, &shipped.dir);
    let moto = &shipped.moto;
    let objects = parquet_objects(dir);
    let (rel, bytes) = objects
        .iter()
        .find(|(rel, _)| rel.starts_with("samples/"))
        .unwrap();

    // Its end fetched (coverage), then another version of the same size put in its place: the rest is not taken
    // from the new one.
    let reader = StoreReader::open_bucket_with(url, opts).unwrap();
    reader.coverage().unwrap();
    let mut other = bytes.clone();
    other[4..64].fill(0x5a);
    moto.put_object("fleet", &format!("replaced/{rel}"), &other);
    assert_changed(&reader, &format!("{url}/{rel}"));
    // Opened again, the new version is read (and found damaged where it was overwritten, with a warning).
    let reader = StoreReader::open_bucket_with(url, opts).unwrap();
    reader.samples(None, None).unwrap();
    assert!(
        reader
            .warnings()
            .iter()
            .any(|w| w.contains(&format!("{url}/{rel}"))),
        "{:?}",
        reader.warnings()
    );
}

#[test]
fn an_object_changed_since_it_was_listed_or_shorter_than_its_footer_says_is_an_error_naming_its_url()
 {
    let Some(moto) = Moto::start() else { return };
    moto.create_bucket("fleet");
    let opts = moto.options();
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("a");
    let web = record(&dir, "web-1", 1500);
    let url = "s3://fleet/changed";
    ship_dir(&dir, url, &opts).unwrap();
    let objects = parquet_objects(&dir);
    let (rel, bytes) = objects
        .iter()
        .find(|(rel, _)| rel.starts_with("samples/"))
        .unwrap();
    let put = |body: &[u8]| moto.put_object("fleet", &format!("changed/{rel}"), body);

    // Listed whole, then replaced by its first half before it is read.
    let reader = StoreReader::open_bucket_with(url, &opts).unwrap();
    put(&bytes[..bytes.len() / 2]);
    assert_changed(&reader, &format!("{url}/{rel}"));

    // Listed as it is, with its footer intact but a part before it gone: skipped with a warning naming its URL,
    // the other segments still read.
    let mut cut = bytes[..bytes.len() / 3].to_vec();
    cut.extend_from_slice(&bytes[bytes.len() / 2..]);
    put(&cut);
    let reader = StoreReader::open_bucket_with(url, &opts).unwrap();
    let got = reader.samples(None, None).unwrap();
    assert!(got.len() < web.len() && !got.is_empty(), "{}", got.len());
    let warnings = reader.warnings();
    assert!(
        warnings.len() == 1 && warnings[0].contains(&format!("{url}/{rel}")),
        "{warnings:?}"
    );
}
