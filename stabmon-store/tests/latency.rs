//! The `latency` table: probes round-trip with the samples that carried them, in order, every outcome
//! and every missing figure intact; a store without probes has no latency files.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::path::Path;
use std::time::Duration;

use stabmon_core::{LatencyProbe, ProbeOutcome, Sample, Timestamp};
use stabmon_store::{KEY_TABLE, StoreReader, StoreWriter, WriterOptions};

/// 2026-11-25T23:59:56Z: a few seconds before a UTC midnight, so the samples span two segments.
const T0: i64 = 1_795_651_196;

fn at(ms: u64) -> Timestamp {
    Timestamp::from_unix_secs(T0).saturating_add(Duration::from_millis(ms))
}

fn probe(target: &str, start_ms: u64, outcome: ProbeOutcome) -> LatencyProbe {
    LatencyProbe::new(target, at(start_ms), outcome)
}

/// Ten samples a second apart; probes of every outcome on some of them, none on others, a slow probe that
/// arrives two samples after it started.
fn samples() -> Vec<Sample> {
    let mut out = Vec::new();
    for i in 0..10u64 {
        let mut s = Sample::new(at(i * 1000), "nas");
        s.interval = Duration::from_secs(1);
        match i {
            1 => {
                let mut ok = probe("web", 500, ProbeOutcome::Ok);
                ok.dns_ms = Some(1.25);
                // Whole microseconds, as probes record them; not round numbers in binary.
                ok.connect_ms = Some(0.3);
                ok.tls_ms = Some(12.001);
                ok.first_byte_ms = Some(33.3);
                ok.total_ms = Some(3_600_047.123);
                let mut err = probe("web-500", 510, ProbeOutcome::HttpStatus(500));
                err.connect_ms = Some(0.5);
                err.first_byte_ms = Some(3.0);
                err.total_ms = Some(4.0);
                s.latency = vec![ok, err, probe("closed", 520, ProbeOutcome::Refused)];
            }
            3 => {
                s.latency = vec![
                    probe(
                        "dns",
                        2500,
                        ProbeOutcome::DnsError("NXDOMAIN (no such name)".into()),
                    ),
                    probe(
                        "tls",
                        2510,
                        ProbeOutcome::TlsError("invalid peer certificate: UnknownIssuer".into()),
                    ),
                    probe("reset", 2520, ProbeOutcome::Reset),
                    probe(
                        "gw",
                        2530,
                        ProbeOutcome::Other("ICMP datagram sockets not permitted".into()),
                    ),
                ];
            }
            // Started at 1.5 s, timed out 5 s later: carried by the sample of 7 s, after a faster probe.
            7 => {
                let mut slow = probe("hole", 1500, ProbeOutcome::Timeout);
                slow.connect_ms = Some(0.2);
                s.latency = vec![LatencyProbe::ok("web", at(6500), 0.75), slow];
            }
            _ => {}
        }
        out.push(s);
    }
    out
}

fn write(dir: &Path, opts: WriterOptions, samples: &[Sample]) -> stabmon_store::WriteSummary {
    let mut w = StoreWriter::create_with(dir, opts).unwrap();
    for s in samples {
        w.write(s).unwrap();
    }
    w.finish().unwrap()
}

fn latency_files(summary: &stabmon_store::WriteSummary) -> Vec<&Path> {
    summary
        .files
        .iter()
        .map(|p| p.as_path())
        .filter(|p| p.components().any(|c| c.as_os_str() == "latency"))
        .collect()
}

#[test]
fn probes_round_trip_with_their_samples() {
    let want = samples();
    // Small row groups: probes land in some row groups and not in others.
    for rg in [1, 3, 1000] {
        let dir = tempfile::tempdir().unwrap();
        let summary = write(
            dir.path(),
            WriterOptions::new().row_group_samples(rg),
            &want,
        );
        let got = StoreReader::open(dir.path())
            .unwrap()
            .samples(None, None)
            .unwrap();
        assert_eq!(got.len(), want.len());
        for (g, w) in got.iter().zip(&want) {
            assert_eq!(
                g.latency, w.latency,
                "probes of the sample at {} (row groups of {rg})",
                w.ts
            );
            // Bit for bit, not just ==.
            for (gp, wp) in g.latency.iter().zip(&w.latency) {
                assert_eq!(gp.total_ms.map(f64::to_bits), wp.total_ms.map(f64::to_bits));
                assert_eq!(
                    gp.connect_ms.map(f64::to_bits),
                    wp.connect_ms.map(f64::to_bits)
                );
            }
        }
        assert_eq!(got, want);
        // Samples span midnight: two segments, both with probes, so two latency files in the hive layout.
        let files = latency_files(&summary);
        assert_eq!(files.len(), 2, "{files:?}");
        for f in &files {
            let s = f.to_string_lossy();
            assert!(s.contains("/latency/host=nas/date=2026-11-2"), "{s}");
        }
    }
}

#[test]
fn latency_files_are_tagged_and_readable_alone_by_range() {
    let dir = tempfile::tempdir().unwrap();
    let summary = write(dir.path(), WriterOptions::new(), &samples());
    let file = latency_files(&summary)[0].to_path_buf();
    let reader = parquet::file::serialized_reader::SerializedFileReader::new(
        std::fs::File::open(&file).unwrap(),
    )
    .unwrap();
    use parquet::file::reader::FileReader;
    let kv = reader
        .metadata()
        .file_metadata()
        .key_value_metadata()
        .cloned()
        .unwrap_or_default();
    assert!(
        kv.iter()
            .any(|k| k.key == KEY_TABLE && k.value.as_deref() == Some("latency")),
        "{kv:?}"
    );
    // The first segment holds the samples of 23:59:56 to 23:59:59: 3 + 4 probes.
    assert_eq!(reader.metadata().file_metadata().num_rows(), 7);

    // A time range gives each sample in it with its own probes.
    let got = StoreReader::open(dir.path())
        .unwrap()
        .samples(Some(at(3000)), Some(at(8000)))
        .unwrap();
    assert_eq!(got.len(), 5);
    assert_eq!(got[0].latency.len(), 4);
    assert!(got[1].latency.is_empty());
    assert_eq!(got[4].latency.len(), 2);
    assert_eq!(got[4].latency[1].target, "hole");
    assert_eq!(got[4].latency[1].ts, at(1500));
    assert_eq!(got[4].latency[1].total_ms, None);
}

#[test]
fn a_timing_finer_than_a_microsecond_is_refused_alone() {
    let dir = tempfile::tempdir().unwrap();
    let mut w = StoreWriter::create(dir.path()).unwrap();
    let mut bad = Sample::new(at(0), "nas");
    bad.latency = vec![LatencyProbe::ok("web", at(0), 0.1 + 0.2)];
    let err = w
        .write(&bad)
        .err()
        .map(|e| e.to_string())
        .unwrap_or_default();
    assert!(
        err.contains("\"web\"") && err.contains("microseconds"),
        "{err}"
    );
    // The writer goes on; the refused sample left nothing behind.
    let mut good = Sample::new(at(1000), "nas");
    good.latency = vec![LatencyProbe::ok("web", at(900), 0.3)];
    w.write(&good).unwrap();
    w.finish().unwrap();
    let got = StoreReader::open(dir.path())
        .unwrap()
        .samples(None, None)
        .unwrap();
    assert_eq!(got, [good]);
}

#[test]
fn without_probes_there_is_no_latency_file() {
    let dir = tempfile::tempdir().unwrap();
    let mut plain = samples();
    for s in &mut plain {
        s.latency.clear();
    }
    let summary = write(dir.path(), WriterOptions::new(), &plain);
    assert!(latency_files(&summary).is_empty(), "{:?}", summary.files);
    assert!(!dir.path().join("latency").exists());
    let got = StoreReader::open(dir.path())
        .unwrap()
        .samples(None, None)
        .unwrap();
    assert_eq!(got, plain);
}
