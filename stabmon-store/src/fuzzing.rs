//! Entry points for the fuzz targets in `benches/fuzz`: each takes untrusted bytes the way the store meets them
//! (a journal file, a manifest, a segment's Parquet files, a served directory's manifest) and runs the code that
//! parses them. Built only with the `fuzzing` feature; not part of the API.

use std::path::Path;

use stabmon_core::series::{MomentColumns, SampleParts};

use crate::layout::TABLES;
use crate::manifest::Manifest;
use crate::{SeriesRead, StoreReader};

/// Decodes `bytes` as a journal file, frames and records, as recovery and readers do.
pub fn journal(bytes: &[u8]) {
    if let Ok(c) = crate::codec::read_journal(bytes) {
        // Records are handed out in the order written; none is invented past the bytes given.
        assert!(c.samples.len() as u64 <= bytes.len() as u64);
    }
}

/// Parses `bytes` as a local `manifest.json` and runs the queries readers make of it; a manifest that parses
/// must write and parse again to the same segments.
pub fn manifest(bytes: &[u8]) {
    let Ok(mut m) = Manifest::from_json(bytes, "manifest.json") else {
        return;
    };
    let _ = m.clean_stops(None);
    let _ = m.segments_in_range(TABLES[0], None, None, None);
    let json = serde_json::to_vec(&m);
    let Ok(json) = json else {
        return;
    };
    match Manifest::from_json(&json, "rewritten manifest.json") {
        Ok(again) => {
            m.segments.sort_by(|a, b| a.path.cmp(&b.path));
            let mut back = again.segments;
            back.sort_by(|a, b| a.path.cmp(&b.path));
            let paths =
                |v: &[crate::ManifestSegment]| v.iter().map(|s| s.path.clone()).collect::<Vec<_>>();
            assert_eq!(
                paths(&m.segments),
                paths(&back),
                "a manifest written back lists other segments"
            );
        }
        Err(e) => panic!("a manifest that parsed does not parse once written back: {e}"),
    }
}

/// The file name of the segment [`segment`] writes.
const SEGMENT: &str = "20261125T031200Z";

/// Writes `files` (samples, processes, names, latency; an empty one is left out) as one segment of host `f`
/// under `dir` (emptied first) and reads it back every way a command does: coverage, whole samples, the system
/// series (alone and with a page's hover moments), usage and the stream. Damage must come back as errors or
/// warnings, never as a panic. Gives the reader's warnings.
pub fn segment(dir: &Path, files: [&[u8]; 4]) -> Vec<String> {
    let _ = std::fs::remove_dir_all(dir);
    let tables = [TABLES[0], TABLES[1], TABLES[2], crate::layout::LATENCY];
    for (table, bytes) in tables.iter().zip(files) {
        if bytes.is_empty() {
            continue;
        }
        let part = dir.join(table).join("host=f").join("date=2026-11-25");
        if std::fs::create_dir_all(&part).is_err()
            || std::fs::write(part.join(format!("{SEGMENT}.parquet")), bytes).is_err()
        {
            return Vec::new();
        }
    }
    let Ok(reader) = StoreReader::open(dir) else {
        return Vec::new();
    };
    let _ = reader.coverage();
    let _ = reader.samples(None, None);
    let series = reader.system_series("f", None, None);
    // With the hover moments a page asks for (schemas 1-4 build them from the same decoding): the series is the
    // same whether or not they could be built.
    let with = reader.system_series_with_moments("f", None, None, SeriesRead::All, &SevenSeconds);
    if let (Ok(a), Ok((b, _))) = (&series, &with) {
        assert_eq!(a, b, "the series differs when moments are built with it");
    }
    let _ = reader.usage("f", None, None);
    if let Ok(stream) = reader.stream(None, None) {
        for s in stream {
            let _ = s;
        }
    }
    reader.warnings()
}

/// Hover moments over 7-second columns, with what a page reads of each.
struct SevenSeconds;

impl MomentColumns for SevenSeconds {
    fn column(&self, ts: stabmon_core::Timestamp) -> i64 {
        ts.as_unix_micros().div_euclid(7_000_000)
    }

    fn parts(&self) -> SampleParts {
        SampleParts::PROCESSES
            .union(SampleParts::CMDLINE)
            .union(SampleParts::NAMES)
            .ranked_processes(3, 2)
    }
}

/// Takes `bytes` as the `manifest.json` a server sent for the data directory at `base`, as
/// [`StoreReader::open_url`] does, and checks every file a read would then download: its URL is under `base`
/// and its local copy inside the download directory.
pub fn remote_manifest(base: &str, bytes: &[u8]) {
    let Ok(reader) = StoreReader::from_remote_manifest(base, bytes, None) else {
        return;
    };
    let Some((url, dir, rels)) = reader.remote_downloads() else {
        panic!("a reader opened from a served manifest is not remote");
    };
    let _ = reader.hosts();
    for rel in &rels {
        let got = crate::remote::join(&url, rel);
        assert!(
            got.starts_with(&format!("{url}/")) && !got.contains("/../") && !got.ends_with("/.."),
            "{rel:?} is fetched from {got}, outside {url}"
        );
        let local = crate::manifest::abs_path(&dir, rel);
        assert!(
            local.starts_with(&dir)
                && local.components().all(|c| matches!(
                    c,
                    std::path::Component::Normal(_) | std::path::Component::RootDir
                )),
            "{rel:?} is downloaded to {}, outside {}",
            local.display(),
            dir.display()
        );
    }
}
