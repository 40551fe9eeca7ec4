//! The directory layout: `DIR/<table>/host=<HOST>/date=<YYYY-MM-DD>/<segment>.parquet`.
//!
//! The host is percent-encoded (every byte but `A-Z a-z 0-9 . _ -`), which is reversible and what Hive-style
//! readers (pyarrow, DuckDB, Spark) decode. The date is the UTC date of the segment's samples. A segment has the
//! same file name in every table; a file being written is hidden as `.<segment>.parquet.tmp` until it is complete.

use std::path::{Path, PathBuf};

use stabmon_core::Timestamp;

use crate::error::{Error, io};

/// The tables of a store, in the order their files are opened.
pub(crate) const TABLES: [&str; 3] = ["samples", "processes", "names"];

/// The latency table: one row per probe. Its file exists only for segments whose samples carry probes, so a
/// store without latency targets pays no footer for it.
pub(crate) const LATENCY: &str = "latency";

/// The exits table: exited names and detailed exits per sample. Its file exists only for segments whose samples
/// carry exits.
pub(crate) const EXITS: &str = "exits";

/// The OOM-kill table: one row per victim the kernel log named. Like [`LATENCY`], its file exists only for
/// segments whose samples carry kills.
pub(crate) const OOM_KILLS: &str = "oom_kills";

/// Every table a segment file may belong to.
const ALL_TABLES: [&str; 6] = ["samples", "processes", "names", LATENCY, EXITS, OOM_KILLS];

/// Percent-encodes a host name for a path segment.
pub(crate) fn encode_host(host: &str) -> String {
    let mut out = String::with_capacity(host.len());
    for b in host.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'-') {
            out.push(char::from(b));
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// Decodes [`encode_host`]; `None` when the text is not valid percent-encoded UTF-8.
pub(crate) fn decode_host(encoded: &str) -> Option<String> {
    let bytes = encoded.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' {
            let hex = encoded.get(i + 1..i + 3)?;
            out.push(u8::from_str_radix(hex, 16).ok()?);
            i += 3;
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    String::from_utf8(out).ok()
}

/// The UTC date of a timestamp, `YYYY-MM-DD`.
pub(crate) fn utc_date(ts: Timestamp) -> String {
    let s = ts.to_string();
    s.split('T').next().unwrap_or_default().to_owned()
}

/// A segment name from its first timestamp: `20261125T031200Z`.
pub(crate) fn segment_stem(ts: Timestamp) -> String {
    let s = ts.to_string();
    let (date, time) = s.split_once('T').unwrap_or((&s, ""));
    let time: String = time.chars().take(8).filter(|c| *c != ':').collect();
    format!("{}T{}Z", date.replace('-', ""), time)
}

/// The time a segment's name says it starts at (`20261125T031200Z...`), when it says.
pub(crate) fn stem_start(name: &str) -> Option<Timestamp> {
    let s = name.get(..16)?;
    let b = s.as_bytes();
    if b[8] != b'T'
        || b[15] != b'Z'
        || !s[..8]
            .bytes()
            .chain(s[9..15].bytes())
            .all(|c| c.is_ascii_digit())
    {
        return None;
    }
    let text = format!(
        "{}-{}-{}T{}:{}:{}Z",
        &s[..4],
        &s[4..6],
        &s[6..8],
        &s[9..11],
        &s[11..13],
        &s[13..15]
    );
    text.parse().ok()
}

/// The directory of a table's partition.
pub(crate) fn partition_dir(root: &Path, table: &str, host: &str, date: &str) -> PathBuf {
    root.join(table)
        .join(format!("host={}", encode_host(host)))
        .join(format!("date={date}"))
}

/// Where a segment is, as parsed from one of its files' paths.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) struct SegmentLoc {
    pub host: String,
    pub date: String,
    pub name: String,
    pub root: PathBuf,
}

impl SegmentLoc {
    pub(crate) fn file(&self, table: &str) -> PathBuf {
        partition_dir(&self.root, table, &self.host, &self.date)
            .join(format!("{}.parquet", self.name))
    }
}

/// Parses `ROOT/<table>/host=H/date=D/<name>.parquet`; `None` when the path is not in that layout.
pub(crate) fn parse_segment_path(path: &Path) -> Option<(SegmentLoc, &'static str)> {
    // A segment has a name: `.parquet` alone is no file stabmon writes (and one its manifest could not name).
    let name = path
        .file_name()?
        .to_str()?
        .strip_suffix(".parquet")
        .filter(|n| !n.is_empty())?;
    let date_dir = path.parent()?;
    let date = date_dir.file_name()?.to_str()?.strip_prefix("date=")?;
    let host_dir = date_dir.parent()?;
    let host = decode_host(host_dir.file_name()?.to_str()?.strip_prefix("host=")?)?;
    let table_dir = host_dir.parent()?;
    let table_name = table_dir.file_name()?.to_str()?;
    let table = ALL_TABLES.into_iter().find(|t| *t == table_name)?;
    let root = table_dir.parent()?.to_path_buf();
    Some((
        SegmentLoc {
            host,
            date: date.to_owned(),
            name: name.to_owned(),
            root,
        },
        table,
    ))
}

/// [`parse_segment_path`] for a segment of the data directory `root` itself (`""` for a path relative to it):
/// `None` for one of a copy of other data kept below it (`ROOT/old/samples/...`), which the recorder neither lists,
/// deletes nor takes for its own.
pub(crate) fn parse_own_segment_path(
    root: &Path,
    path: &Path,
) -> Option<(SegmentLoc, &'static str)> {
    parse_segment_path(path).filter(|(loc, _)| loc.root == root)
}

/// Every finished `.parquet` file under `dir`, recursively, skipping hidden entries (files being written).
pub(crate) fn parquet_files(dir: &Path, out: &mut Vec<PathBuf>) -> Result<(), Error> {
    let entries = std::fs::read_dir(dir).map_err(io(dir))?;
    for entry in entries {
        let entry = entry.map_err(io(dir))?;
        let path = entry.path();
        let name = entry.file_name();
        let name = name.to_string_lossy();
        if name.starts_with('.') || name.starts_with('_') {
            continue;
        }
        let ty = entry.file_type().map_err(io(&path))?;
        if ty.is_dir() {
            parquet_files(&path, out)?;
        } else if name.ends_with(".parquet") {
            out.push(path);
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn host_encoding_round_trips() {
        for h in [
            "web-1",
            "a.b_c",
            "",
            "my/host",
            "ünï cödé",
            "%41",
            "..",
            "C:\\x",
        ] {
            let e = encode_host(h);
            assert!(
                e.bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b"._-%".contains(&b)),
                "{e}"
            );
            assert_eq!(decode_host(&e).as_deref(), Some(h));
        }
        assert_eq!(encode_host("my/host"), "my%2Fhost");
        assert_eq!(decode_host("%zz"), None);
        assert_eq!(decode_host("%C3"), None);
    }

    #[test]
    fn names_and_paths() {
        let ts = Timestamp::from_unix_micros(1_795_576_320_250_000);
        assert_eq!(utc_date(ts), "2026-11-25");
        assert_eq!(segment_stem(ts), "20261125T031200Z");
        let p = partition_dir(Path::new("/d"), "samples", "a b", "2026-11-25").join("x.parquet");
        assert_eq!(
            p,
            Path::new("/d/samples/host=a%20b/date=2026-11-25/x.parquet")
        );
        let (loc, table) = parse_segment_path(&p).unwrap_or_else(|| panic!("parse"));
        assert_eq!(table, "samples");
        assert_eq!(loc.host, "a b");
        assert_eq!(
            loc.file("names"),
            Path::new("/d/names/host=a%20b/date=2026-11-25/x.parquet")
        );
        assert!(parse_segment_path(Path::new("/d/other/host=a/date=x/y.parquet")).is_none());
    }
}
