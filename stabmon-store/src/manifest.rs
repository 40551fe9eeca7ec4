//! `manifest.json` at the root of a data directory: what a reader without a directory listing (an HTTP server)
//! needs to find the data. Replaced atomically (temporary file, fsync, rename, directory fsync) on every change.

use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};

use parquet::file::metadata::ParquetMetaDataReader;
use parquet::file::statistics::Statistics;
use serde::{Deserialize, Serialize};
use stabmon_core::Timestamp;

use crate::error::{Error, invalid, io, pq};
use crate::fsio::{Fs, replace_atomically};
use crate::layout::{parquet_files, parse_own_segment_path};
use crate::schema::SCHEMA_VERSION;

/// The manifest's file name at the data directory's root.
pub const MANIFEST_FILE: &str = "manifest.json";
/// The value of [`Manifest::format`].
pub const MANIFEST_FORMAT: &str = "stabmon-manifest";
/// The manifest version this crate writes and the newest it reads.
pub const MANIFEST_VERSION: u32 = 3;

/// The index of a data directory, kept in `DIR/manifest.json` by the recorder.
///
/// ```json
/// {"format": "stabmon-manifest", "version": 3, "schema_version": 4, "updated": "2026-11-25T04:00:00Z",
///  "segments": [{"dir": "host=nas/date=2026-11-25", "name": "20261125T030000Z",
///                "from": "2026-11-25T03:00:00Z", "to": "2026-11-25T03:59:59Z",
///                "tables": {"names": [36000, 9310], "processes": [38000, 27441], "samples": [3600, 27792]}}],
///  "journals": [{"host": "nas", "path": "_journal/host=nas/00000000000000000042.journal", "seq": 42}],
///  "stops": [{"host": "nas", "ts": "2026-11-24T22:00:00Z", "boot_id": "..."}],
///  "compacted_journal_seq": 41}
/// ```
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct Manifest {
    /// Always [`MANIFEST_FORMAT`]: tells a stabmon manifest from any other JSON.
    pub format: String,
    /// The manifest's own version ([`MANIFEST_VERSION`]).
    pub version: u32,
    /// The Parquet schema version of the segments ([`SCHEMA_VERSION`](crate::SCHEMA_VERSION)).
    pub schema_version: u32,
    /// When the manifest was written.
    pub updated: Timestamp,
    /// Every finished segment file, by table, host and time. Written grouped by segment (one entry for its
    /// tables: directory, name, time range, each table's rows and bytes); versions 1 and 2, one entry per file,
    /// still read.
    #[serde(
        default,
        serialize_with = "serialize_segments",
        deserialize_with = "deserialize_segments"
    )]
    pub segments: Vec<ManifestSegment>,
    /// The journals of segments still being recorded: the last seconds, not yet in Parquet.
    #[serde(default)]
    pub journals: Vec<ManifestJournal>,
    /// When recorders stopped cleanly; a gap without a stop is a crash or a reboot.
    #[serde(default)]
    pub stops: Vec<CleanStop>,
    /// Journals with this sequence number or lower are already in the segments.
    #[serde(default)]
    pub compacted_journal_seq: u64,
}

/// One finished Parquet file.
///
/// Its table, host, date and name are not written to the JSON since manifest version 2: [`Manifest::from_json`]
/// fills them in from its path (version 2 wrote the path; version 3 writes one entry per segment, with the parts
/// the path is made of; version 1 wrote them all, a third of every entry).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct ManifestSegment {
    /// The table (`samples`, `processes`, `names`, ...).
    #[serde(default, skip_serializing)]
    pub table: String,
    /// The host.
    #[serde(default, skip_serializing)]
    pub host: String,
    /// The UTC date partition, `YYYY-MM-DD`.
    #[serde(default, skip_serializing)]
    pub date: String,
    /// The segment's name (the same in every table).
    #[serde(default, skip_serializing)]
    pub name: String,
    /// The file, relative to the data directory, with `/` separators.
    pub path: String,
    /// The first `ts` in it (`None` for an empty file).
    pub from: Option<Timestamp>,
    /// The last `ts` in it.
    pub to: Option<Timestamp>,
    /// Rows.
    pub rows: u64,
    /// Size in bytes.
    pub bytes: u64,
}

/// A segment's files as manifest version 3 writes them: one entry for the tables of a segment, which share a
/// directory below the table's (`host=.../date=...`), a name and, nearly always, their time range. The files are
/// `<table>/<dir>/<name>.parquet`; a table's `[rows, bytes]`, or `[rows, bytes, from, to]` where its range is
/// not the entry's. Versions 1 and 2 wrote every file's path and range: 450 against 190 bytes for a segment's
/// three files, in a manifest that lists a month of hourly segments and is rewritten every hour.
#[derive(Debug, Serialize, Deserialize)]
struct SegmentGroup {
    dir: String,
    name: String,
    from: Option<Timestamp>,
    to: Option<Timestamp>,
    tables: BTreeMap<String, TableEntry>,
}

/// One table's file of a [`SegmentGroup`].
#[derive(Debug, Serialize, Deserialize)]
#[serde(untagged)]
enum TableEntry {
    /// Rows and bytes; the range is the group's.
    Same(u64, u64),
    /// Rows, bytes and the file's own range.
    Own(u64, u64, Option<Timestamp>, Option<Timestamp>),
}

/// A segment entry as read: a version 3 group, or a version 1-2 file.
#[derive(Debug, Serialize, Deserialize)]
#[serde(untagged)]
enum SegmentEntry {
    Group(SegmentGroup),
    File(ManifestSegment),
}

/// `table`, `dir` and `name` of a segment file's relative path `<table>/<dir>/<name>.parquet`.
fn split_segment_path(path: &str) -> Option<(&str, &str, &str)> {
    let (table, rest) = path.split_once('/')?;
    let (dir, file) = rest.rsplit_once('/')?;
    Some((table, dir, file.strip_suffix(".parquet")?))
}

/// A segment's `dir` and `name`, and its files with their tables.
type FileGroup<'a> = (&'a str, &'a str, Vec<(&'a str, &'a ManifestSegment)>);

fn serialize_segments<S: serde::Serializer>(
    segments: &[ManifestSegment],
    ser: S,
) -> Result<S::Ok, S::Error> {
    // A segment's files grouped by (dir, name), each with its table; a path of another shape is written as it is.
    let mut groups: Vec<FileGroup<'_>> = Vec::new();
    let mut group_of: HashMap<(&str, &str), usize> = HashMap::new();
    let mut entries = Vec::new();
    for seg in segments {
        let Some((table, dir, name)) = split_segment_path(&seg.path) else {
            entries.push(SegmentEntry::File(seg.clone()));
            continue;
        };
        let at = *group_of.entry((dir, name)).or_insert_with(|| {
            groups.push((dir, name, Vec::new()));
            groups.len() - 1
        });
        groups[at].2.push((table, seg));
    }
    entries.extend(groups.into_iter().map(|(dir, name, files)| {
        // The group's range is the samples file's (every other table's rows are some of its samples').
        let (_, ranged) = files
            .iter()
            .find(|(t, _)| *t == "samples")
            .unwrap_or(&files[0]);
        let (from, to) = (ranged.from, ranged.to);
        let tables = files
            .iter()
            .map(|(table, seg)| {
                let entry = if (seg.from, seg.to) == (from, to) {
                    TableEntry::Same(seg.rows, seg.bytes)
                } else {
                    TableEntry::Own(seg.rows, seg.bytes, seg.from, seg.to)
                };
                ((*table).to_owned(), entry)
            })
            .collect();
        SegmentEntry::Group(SegmentGroup {
            dir: dir.to_owned(),
            name: name.to_owned(),
            from,
            to,
            tables,
        })
    }));
    // By host, time and name, as a reader of the JSON expects (the segments come sorted by table first).
    fn key(e: &SegmentEntry) -> (&str, Option<Timestamp>, &str) {
        match e {
            SegmentEntry::Group(g) => (&g.dir, g.from, &g.name),
            SegmentEntry::File(f) => (&f.path, f.from, ""),
        }
    }
    entries.sort_by(|a, b| key(a).cmp(&key(b)));
    entries.serialize(ser)
}

fn deserialize_segments<'de, D: serde::Deserializer<'de>>(
    de: D,
) -> Result<Vec<ManifestSegment>, D::Error> {
    use serde::de::Error as _;
    let mut out = Vec::new();
    for entry in Vec::<SegmentEntry>::deserialize(de)? {
        match entry {
            SegmentEntry::File(seg) => out.push(seg),
            SegmentEntry::Group(g) => {
                // The parts must make a segment path as the writer lays it out, or the entry would name another
                // file than it seems to (a table key `x/samples` would put a `samples` segment under `x`).
                let dir_ok = g.dir.split_once('/').is_some_and(|(host, date)| {
                    host.starts_with("host=") && date.starts_with("date=") && !date.contains('/')
                });
                let plain = |p: &str| !p.is_empty() && !p.contains('/');
                if !dir_ok || !plain(&g.name) || !g.tables.keys().all(|t| plain(t)) {
                    return Err(D::Error::custom(format!(
                        "the segment entry {:?}/{:?} is not a path inside the data directory laid out by stabmon",
                        g.dir, g.name
                    )));
                }
                for (table, t) in g.tables {
                    let (rows, bytes, from, to) = match t {
                        TableEntry::Same(rows, bytes) => (rows, bytes, g.from, g.to),
                        TableEntry::Own(rows, bytes, from, to) => (rows, bytes, from, to),
                    };
                    out.push(ManifestSegment {
                        table: String::new(),
                        host: String::new(),
                        date: String::new(),
                        name: String::new(),
                        // Checked like every path by `Manifest::from_json`.
                        path: format!("{table}/{}/{}.parquet", g.dir, g.name),
                        from,
                        to,
                        rows,
                        bytes,
                    });
                }
            }
        }
    }
    Ok(out)
}

/// A journal being written (the open segment).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct ManifestJournal {
    /// The host it records.
    pub host: String,
    /// The file, relative to the data directory.
    pub path: String,
    /// Its sequence number.
    pub seq: u64,
}

/// A clean stop of a recorder.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct CleanStop {
    /// The host.
    pub host: String,
    /// When it stopped (the last sample's tick or later).
    pub ts: Timestamp,
    /// The boot it stopped in, where known.
    pub boot_id: Option<String>,
}

impl CleanStop {
    /// A clean stop of `host` at `ts`.
    pub fn new(host: impl Into<String>, ts: Timestamp, boot_id: Option<String>) -> Self {
        CleanStop {
            host: host.into(),
            ts,
            boot_id,
        }
    }
}

impl Default for Manifest {
    fn default() -> Self {
        Manifest {
            format: MANIFEST_FORMAT.to_owned(),
            version: MANIFEST_VERSION,
            schema_version: SCHEMA_VERSION,
            updated: Timestamp::UNIX_EPOCH,
            segments: Vec::new(),
            journals: Vec::new(),
            stops: Vec::new(),
            compacted_journal_seq: 0,
        }
    }
}

/// Whether `p` is a relative path of plain names separated by `/` (no `..`, `.`, root, drive or backslash).
fn is_plain_relative(p: &str) -> bool {
    !p.is_empty()
        && !p.contains('\\')
        && p.split('/')
            .all(|c| !c.is_empty() && c != "." && c != ".." && !c.contains(':'))
}

/// A relative path with `/` separators.
/// No manifest is this big (a year of hourly segments of one host is ~2 MB): a bigger file is refused before it is
/// read into memory.
pub(crate) const MAX_MANIFEST_BYTES: u64 = 64 << 20;

fn too_big(source: &str, n: u64) -> String {
    format!(
        "{source} is not a stabmon manifest: {n} bytes or more, over the {} MiB a manifest may have",
        MAX_MANIFEST_BYTES >> 20
    )
}

pub(crate) fn rel_path(root: &Path, path: &Path) -> String {
    let rel = path.strip_prefix(root).unwrap_or(path);
    rel.components()
        .map(|c| c.as_os_str().to_string_lossy())
        .collect::<Vec<_>>()
        .join("/")
}

impl Manifest {
    /// An empty manifest.
    pub fn new() -> Self {
        Self::default()
    }

    /// Parses a manifest; `source` (a path or URL) names it in errors.
    pub fn from_json(bytes: &[u8], source: &str) -> Result<Manifest, String> {
        if bytes.len() as u64 > MAX_MANIFEST_BYTES {
            return Err(too_big(source, bytes.len() as u64));
        }
        let v: serde_json::Value = serde_json::from_slice(bytes)
            .map_err(|e| format!("{source} is not a stabmon manifest (not JSON: {e})"))?;
        if v.get("format").and_then(|f| f.as_str()) != Some(MANIFEST_FORMAT) {
            return Err(format!(
                "{source} is not a stabmon manifest (no \"format\": \"{MANIFEST_FORMAT}\")"
            ));
        }
        let version = v.get("version").and_then(|f| f.as_u64()).unwrap_or(0);
        if version > u64::from(MANIFEST_VERSION) {
            return Err(format!(
                "{source} is manifest version {version}, but this stabmon reads versions up to {MANIFEST_VERSION}: upgrade stabmon to read it"
            ));
        }
        let mut m: Manifest = serde_json::from_value(v)
            .map_err(|e| format!("{source} is a damaged stabmon manifest: {e}"))?;
        // Every path must stay inside the data directory: a remote reader fetches them into a local one.
        let paths = m.segments.iter().map(|s| &s.path);
        if let Some(bad) = paths
            .chain(m.journals.iter().map(|j| &j.path))
            .find(|p| !is_plain_relative(p))
        {
            return Err(format!(
                "{source} is a damaged stabmon manifest: {bad:?} is not a path inside the data directory"
            ));
        }
        // An entry whose path names no segment of a known table (one a newer stabmon added), or one under a
        // directory of its own (`old/samples/host=a/...`, a copy of other data, never written by stabmon), is left
        // out.
        m.segments.retain_mut(|seg| {
            let Some((loc, table)) = parse_own_segment_path(Path::new(""), Path::new(&seg.path))
            else {
                return false;
            };
            seg.table = table.to_owned();
            seg.host = loc.host;
            seg.date = loc.date;
            seg.name = loc.name;
            true
        });
        // A file named twice (a damaged or hand-made manifest) is one segment: read twice, its samples would be
        // doubled. The first entry stays.
        let mut seen = std::collections::HashSet::new();
        m.segments.retain(|seg| seen.insert(seg.path.clone()));
        sort_segments(&mut m.segments);
        Ok(m)
    }

    /// Loads `DIR/manifest.json`; `None` when there is none.
    pub(crate) fn load(fs: &dyn Fs, root: &Path) -> Result<Option<Manifest>, Error> {
        let path = root.join(MANIFEST_FILE);
        match fs.read_at_most(&path, MAX_MANIFEST_BYTES) {
            Ok(None) => Err(invalid(
                &path,
                too_big(&path.display().to_string(), MAX_MANIFEST_BYTES + 1),
            )),
            Ok(Some(bytes)) => Manifest::from_json(&bytes, &path.display().to_string())
                .map(Some)
                .map_err(|reason| invalid(&path, reason)),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(Error::Io { path, source: e }),
        }
    }

    /// Writes `DIR/manifest.json` atomically, as compact JSON (`jq .` shows it indented): it lists every segment
    /// the retention keeps (three a recorded hour), and indentation was a third of its bytes.
    pub(crate) fn store(&mut self, fs: &dyn Fs, root: &Path) -> Result<(), Error> {
        self.updated = Timestamp::now();
        // Written in this version's layout, so labelled with it (a loaded older manifest is upgraded), and with
        // the newest schema its segments may now hold.
        self.version = MANIFEST_VERSION;
        self.schema_version = self.schema_version.max(SCHEMA_VERSION);
        let path = root.join(MANIFEST_FILE);
        let json = serde_json::to_vec(self).map_err(|e| invalid(&path, e.to_string()))?;
        replace_atomically(fs, &path, &json).map_err(io(&path))
    }

    /// Lists the finished segment files of `root` again: entries of unchanged files (same path and size) are
    /// kept, new files are described from their Parquet footer, vanished files are dropped. Files whose footer
    /// cannot be read are left out and returned as warnings.
    pub(crate) fn refresh_segments(&mut self, root: &Path) -> Result<Vec<String>, Error> {
        let mut files = Vec::new();
        if root.exists() {
            parquet_files(root, &mut files)?;
        }
        let old: HashMap<String, ManifestSegment> = std::mem::take(&mut self.segments)
            .into_iter()
            .map(|s| (s.path.clone(), s))
            .collect();
        let mut warnings = Vec::new();
        for f in files {
            let Some((loc, table)) = parse_own_segment_path(root, &f) else {
                continue;
            };
            let rel = rel_path(root, &f);
            let bytes = match std::fs::metadata(&f) {
                Ok(m) => m.len(),
                Err(_) => continue, // deleted meanwhile
            };
            if let Some(e) = old.get(&rel).filter(|e| e.bytes == bytes) {
                self.segments.push(e.clone());
                continue;
            }
            match footer_summary(&f) {
                Ok((rows, from, to)) => self.segments.push(ManifestSegment {
                    table: table.to_owned(),
                    host: loc.host,
                    date: loc.date,
                    name: loc.name,
                    path: rel,
                    from,
                    to,
                    rows,
                    bytes,
                }),
                Err(e) => warnings.push(format!("skipped {}: {e}", f.display())),
            }
        }
        sort_segments(&mut self.segments);
        Ok(warnings)
    }

    /// The clean stops of `host` (all hosts with `None`), sorted by time.
    pub fn clean_stops(&self, host: Option<&str>) -> Vec<Timestamp> {
        let mut v: Vec<Timestamp> = self
            .stops
            .iter()
            .filter(|s| host.is_none_or(|h| h == s.host))
            .map(|s| s.ts)
            .collect();
        v.sort();
        v
    }

    /// The files of the segments of `table` that may hold rows in `[from, to)`, as relative paths.
    pub fn segments_in_range(
        &self,
        table: &str,
        host: Option<&str>,
        from: Option<Timestamp>,
        to: Option<Timestamp>,
    ) -> Vec<&ManifestSegment> {
        self.segments
            .iter()
            .filter(|s| s.table == table && host.is_none_or(|h| h == s.host))
            .filter(|s| match (s.from, s.to) {
                (Some(a), Some(b)) => from.is_none_or(|f| b >= f) && to.is_none_or(|t| a < t),
                _ => false,
            })
            .collect()
    }
}

/// Segments in the manifest's order: by table, host, time and name.
fn sort_segments(segments: &mut [ManifestSegment]) {
    segments.sort_by(|a, b| {
        (&a.table, &a.host, a.from, &a.name).cmp(&(&b.table, &b.host, b.from, &b.name))
    });
}

/// Rows and the `ts` range of a Parquet file, from its footer alone.
pub(crate) fn footer_summary(
    path: &Path,
) -> Result<(u64, Option<Timestamp>, Option<Timestamp>), Error> {
    crate::error::contain(path, || footer_summary_here(path))
}

fn footer_summary_here(path: &Path) -> Result<(u64, Option<Timestamp>, Option<Timestamp>), Error> {
    let file = std::fs::File::open(path).map_err(io(path))?;
    let md = ParquetMetaDataReader::new()
        .parse_and_finish(&file)
        .map_err(pq(path))?;
    let ts_col = md
        .file_metadata()
        .schema_descr()
        .columns()
        .iter()
        .position(|c| c.path().string() == "ts");
    let rows = u64::try_from(md.file_metadata().num_rows()).unwrap_or(0);
    let (mut from, mut to): (Option<i64>, Option<i64>) = (None, None);
    if let Some(col) = ts_col {
        for rg in md.row_groups() {
            if let Some(Statistics::Int64(s)) = rg.column(col).statistics() {
                if let Some(&m) = s.min_opt() {
                    from = Some(from.map_or(m, |f| f.min(m)));
                }
                if let Some(&m) = s.max_opt() {
                    to = Some(to.map_or(m, |t| t.max(m)));
                }
            }
        }
    }
    Ok((
        rows,
        from.map(Timestamp::from_unix_micros),
        to.map(Timestamp::from_unix_micros),
    ))
}

/// Absolute paths of a manifest's relative ones.
pub(crate) fn abs_path(root: &Path, rel: &str) -> PathBuf {
    rel.split('/').fold(root.to_path_buf(), |p, c| p.join(c))
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use crate::fsio::FaultFs;

    #[test]
    fn json_round_trip_and_refusals() {
        let mut m = Manifest::new();
        m.stops
            .push(CleanStop::new("nas", Timestamp::from_unix_secs(100), None));
        m.journals.push(ManifestJournal {
            host: "nas".into(),
            path: "_journal/host=nas/1.journal".into(),
            seq: 1,
        });
        let fs = FaultFs::new();
        let root = Path::new("/d");
        fs.create_dir_all(root).unwrap();
        m.store(&fs, root).unwrap();
        fs.power_cut();
        let back = Manifest::load(&fs, root).unwrap().unwrap();
        assert_eq!(back, m);
        assert_eq!(
            back.clean_stops(Some("nas")),
            [Timestamp::from_unix_secs(100)]
        );
        assert!(back.clean_stops(Some("other")).is_empty());

        let e = Manifest::from_json(b"<html>404</html>", "http://x/manifest.json").unwrap_err();
        assert!(
            e.contains("http://x/manifest.json") && e.contains("not JSON"),
            "{e}"
        );
        let e = Manifest::from_json(br#"{"format": "other"}"#, "m").unwrap_err();
        assert!(e.contains("not a stabmon manifest"), "{e}");
        let e = Manifest::from_json(br#"{"format": "stabmon-manifest", "version": 99}"#, "m")
            .unwrap_err();
        assert!(e.contains("version 99") && e.contains("upgrade"), "{e}");
        let e = Manifest::from_json(br#"{"format": "stabmon-manifest", "version": 1}"#, "m")
            .unwrap_err();
        assert!(e.contains("damaged"), "{e}");

        // A file named twice is listed once, the first entry's figures kept (found by fuzzing: written back, the
        // manifest named it once, so the two disagreed).
        let twice = br#"{"format":"stabmon-manifest","version":2,"schema_version":2,
            "updated":"2027-11-25T04:00:00Z","journals":[],"stops":[],"segments":[
            {"path":"samples/host=a/date=2026-11-26/x.parquet","from":null,"to":null,"rows":1,"bytes":1},
            {"path":"names/host=)a/date=2026-11-25/x.parquet","from":null,"to":null,"rows":3600,"bytes":1000},
            {"path":"names/host=)a/date=2026-11-25/x.parquet","from":null,"to":null,"rows":0,"bytes":0}]}"#;
        let m = Manifest::from_json(twice, "m").unwrap();
        let rows: Vec<_> = m
            .segments
            .iter()
            .map(|s| (s.path.as_str(), s.rows))
            .collect();
        assert_eq!(
            rows,
            [
                ("names/host=)a/date=2026-11-25/x.parquet", 3600),
                ("samples/host=a/date=2026-11-26/x.parquet", 1)
            ]
        );
        let back = Manifest::from_json(&serde_json::to_vec(&m).unwrap(), "m").unwrap();
        assert_eq!(back.segments, m.segments);

        // A file without a name (`.parquet`) is no segment: left out, as the manifest written back could not
        // name it (found by fuzzing).
        let nameless = br#"{"format":"stabmon-manifest","version":2,"schema_version":2,
            "updated":"2027-11-25T04:00:00Z","journals":[],"stops":[],"segments":[
            {"path":"samples/host=a/date=2026-11-26/.parquet","from":null,"to":null,"rows":1,"bytes":1},
            {"path":"names/host=a/date=2026-11-25/x.parquet","from":null,"to":null,"rows":0,"bytes":0}]}"#;
        let m = Manifest::from_json(nameless, "m").unwrap();
        assert_eq!(m.segments.len(), 1);
        let back = Manifest::from_json(&serde_json::to_vec(&m).unwrap(), "m").unwrap();
        assert_eq!(back.segments, m.segments);

        // A manifest too big to be one is refused before it is read (a sparse file: nothing is written).
        let tmp = tempfile::tempdir().unwrap();
        let big = std::fs::File::create(tmp.path().join(MANIFEST_FILE)).unwrap();
        big.set_len(MAX_MANIFEST_BYTES + 1).unwrap();
        let e = Manifest::load(&crate::fsio::RealFs, tmp.path())
            .unwrap_err()
            .to_string();
        assert!(e.contains(MANIFEST_FILE) && e.contains("64 MiB"), "{e}");
        let e = Manifest::from_json(&vec![b' '; MAX_MANIFEST_BYTES as usize + 1], "m").unwrap_err();
        assert!(e.contains("64 MiB"), "{e}");
    }

    #[test]
    fn segment_entries_name_their_file_once() {
        let seg = ManifestSegment {
            table: "names".into(),
            host: "odd host".into(),
            date: "2026-11-25".into(),
            name: "20261125T030000Z".into(),
            path: "names/host=odd%20host/date=2026-11-25/20261125T030000Z.parquet".into(),
            from: Some(Timestamp::from_unix_secs(1_795_575_600)),
            to: Some(Timestamp::from_unix_secs(1_795_579_199)),
            rows: 36_000,
            bytes: 1234,
        };
        let mut m = Manifest::new();
        m.segments.push(seg.clone());
        let json = serde_json::to_string(&m).unwrap();
        // Version 3: the segment's directory and name once, the table as a key; no path, host or date field...
        for field in ["\"table\"", "\"host\"", "\"date\"", "\"path\""] {
            assert!(!json.contains(field), "{field} in {json}");
        }
        assert!(
            json.contains(r#""tables":{"names":[36000,1234]}"#),
            "{json}"
        );
        // ...and back from it.
        assert_eq!(
            Manifest::from_json(json.as_bytes(), "m").unwrap().segments,
            std::slice::from_ref(&seg)
        );
        // A segment's tables share one entry; a table with a range of its own keeps it.
        let mut three = Manifest::new();
        for table in ["samples", "processes", "latency"] {
            let mut s = seg.clone();
            s.table = table.into();
            s.path = s.path.replacen("names", table, 1);
            if table == "latency" {
                s.from = Some(Timestamp::from_unix_secs(1_795_576_000));
            }
            three.segments.push(s);
        }
        sort_segments(&mut three.segments);
        let json3 = serde_json::to_string(&three).unwrap();
        assert_eq!(json3.matches("\"dir\"").count(), 1, "{json3}");
        assert!(
            json3.contains(
                r#""latency":[36000,1234,"2026-11-25T03:06:40Z","2026-11-25T03:59:59Z"]"#
            ),
            "{json3}"
        );
        assert_eq!(
            Manifest::from_json(json3.as_bytes(), "m").unwrap().segments,
            three.segments
        );
        // Version 2 manifests, one entry per file, still read.
        let v2 = r#"{"format":"stabmon-manifest","version":2,"schema_version":3,"updated":"2026-11-25T04:00:00Z",
            "segments":[{"path":"names/host=odd%20host/date=2026-11-25/20261125T030000Z.parquet",
            "from":"2026-11-25T03:00:00Z","to":"2026-11-25T03:59:59Z","rows":36000,"bytes":1234}]}"#;
        assert_eq!(
            Manifest::from_json(v2.as_bytes(), "m").unwrap().segments,
            std::slice::from_ref(&seg)
        );
        // Version 1 manifests, which wrote them, still read.
        let v1 = r#"{"format":"stabmon-manifest","version":1,"schema_version":2,"updated":"2026-11-25T04:00:00Z",
            "segments":[{"table":"names","host":"odd host","date":"2026-11-25","name":"20261125T030000Z",
            "path":"names/host=odd%20host/date=2026-11-25/20261125T030000Z.parquet",
            "from":"2026-11-25T03:00:00Z","to":"2026-11-25T03:59:59Z","rows":36000,"bytes":1234}]}"#;
        let mut old = Manifest::from_json(v1.as_bytes(), "m").unwrap();
        assert_eq!(old.segments, std::slice::from_ref(&seg));
        // Stored again, it is labelled with the layout it is written in (older stabmon then says "upgrade").
        let fs = FaultFs::new();
        let root = Path::new("/d");
        fs.create_dir_all(root).unwrap();
        old.store(&fs, root).unwrap();
        let text = fs.read(&root.join(MANIFEST_FILE)).unwrap();
        let stored: serde_json::Value = serde_json::from_slice(&text).unwrap();
        assert_eq!(stored["version"], MANIFEST_VERSION);
        assert_eq!(stored["schema_version"], SCHEMA_VERSION);
        // An entry of a table this stabmon does not know (a newer one's) is left out, the rest read.
        let later = r#"},{"path":"later/host=a/date=2026-11-25/x.parquet","from":null,"to":null,"rows":0,"bytes":0}]"#;
        let newer = json.replace("}]", later);
        assert_eq!(
            Manifest::from_json(newer.as_bytes(), "m").unwrap().segments,
            [seg]
        );
        // A path leading out of the data directory is a damaged manifest, named: a remote reader writes the files
        // it fetches under a local directory.
        let good = "names/host=odd%20host/date=2026-11-25/20261125T030000Z.parquet";
        for bad in [
            "../../etc/x.parquet",
            "/etc/x.parquet",
            "names/host=a/date=2026-11-25/../../../../x.parquet",
            "names\\host=a\\date=2026-11-25\\x.parquet",
        ] {
            let text = v2.replace(good, &bad.replace('\\', "\\\\"));
            let e = Manifest::from_json(text.as_bytes(), "http://x/manifest.json").unwrap_err();
            assert!(
                e.contains("http://x/manifest.json") && e.contains("not a path inside"),
                "{e}"
            );
        }
        // The same in version 3's parts: a directory, name or table that leads out.
        for (part, bad) in [
            ("host=odd%20host/date=2026-11-25", "../../etc"),
            ("20261125T030000Z", "../../../x"),
            ("\"names\"", "\"../..\""),
            ("host=odd%20host/date=2026-11-25", "/etc"),
        ] {
            let text = json.replacen(part, bad, 1);
            let e = Manifest::from_json(text.as_bytes(), "m").unwrap_err();
            assert!(e.contains("not a path inside"), "{text}: {e}");
        }
        // A version 1-2 path under a directory of its own names no segment of this directory: left out.
        let nested = v2.replace(good, &format!("old/{good}"));
        assert!(
            Manifest::from_json(nested.as_bytes(), "m")
                .unwrap()
                .segments
                .is_empty()
        );
        let journal = r#"{"format":"stabmon-manifest","version":2,"schema_version":3,
            "updated":"2026-11-25T04:00:00Z","journals":[{"host":"a","path":"_journal/../../x.journal","seq":1}]}"#;
        let e = Manifest::from_json(journal.as_bytes(), "m").unwrap_err();
        assert!(e.contains("x.journal"), "{e}");
    }

    #[test]
    fn relative_paths() {
        let root = Path::new("/d");
        let p = root.join("samples").join("host=a").join("x.parquet");
        assert_eq!(rel_path(root, &p), "samples/host=a/x.parquet");
        assert_eq!(abs_path(root, "samples/host=a/x.parquet"), p);
    }
}
