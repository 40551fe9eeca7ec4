//! [`StoreReader`]: finds segments in a data directory (or opens one segment file) and reads samples back.

use std::collections::{HashMap, HashSet};
use std::fs::File;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use arrow_array::cast::AsArray;
use arrow_array::types::{
    Decimal128Type, Float32Type, Int32Type, Int64Type, TimestampMicrosecondType, UInt16Type,
    UInt32Type, UInt64Type,
};
use arrow_array::{
    Array, ArrowPrimitiveType, BooleanArray, DictionaryArray, ListArray, PrimitiveArray,
    RecordBatch, StringArray,
};
use arrow_schema::ArrowError;
use parquet::arrow::ProjectionMask;
use parquet::arrow::arrow_reader::{ArrowPredicateFn, ParquetRecordBatchReaderBuilder, RowFilter};
use parquet::file::metadata::ParquetMetaData;
use parquet::file::statistics::Statistics;
use stabmon_core::{
    CpuUsage, LatencyProbe, LoadAvg, Memory, NameTotal, Pressure, ProbeOutcome, ProcessEntry,
    Sample, Timestamp,
};

use crate::error::{Error, arrow, invalid, io, pq};
use crate::layout::{LATENCY, SegmentLoc, TABLES, parquet_files, parse_segment_path, utc_date};
use crate::manifest::{CleanStop, MANIFEST_FILE, Manifest, abs_path};
use crate::pct;
use crate::recorder::JOURNAL_DIR;
use crate::remote::{self, Got};
use crate::schema::{
    KEY_SCHEMA_VERSION, KEY_TABLE, NAME_EXACT_SLOTS, PROCESS_EXACT_SLOTS, SAMPLES_EXACT_LIST_LEN,
    SAMPLES_EXACT_MACHINE_ABSENT, SAMPLES_EXACT_PRESSURE, SAMPLES_EXACT_ULP, SCHEMA_VERSION,
};
mod scan;
pub use scan::{Coverage, HostWindows, SampleStream};
mod usage;
pub use usage::RangeUsage;

use crate::ranks::{name_order_key, process_sort_key};
use stabmon_core::attribution::{
    cmp_entries_by_cpu, cmp_entries_by_rss, cmp_names_by_cpu, cmp_names_by_rss,
};

/// Reads samples from a data directory written by [`StoreWriter`](crate::StoreWriter), or from one segment.
///
/// [`open`](Self::open) only lists segments; files are opened and checked when samples are read. In a
/// directory, a truncated, corrupt, empty or foreign segment is skipped with one warning naming it
/// ([`warnings`](Self::warnings)) and everything else is read; a segment of a newer schema version is an error.
/// The journal of a segment still being recorded (`DIR/_journal/`) is read too, so the last seconds before a
/// crash, or of a recorder still running, are there.
///
/// A data directory served over HTTP(S) (any static file server, e.g. `python3 -m http.server`) is opened by its
/// URL: the reader fetches `manifest.json`, then only the segments a read's time range needs, and the journal.
#[derive(Debug, Clone)]
pub struct StoreReader {
    path: PathBuf,
    segments: Vec<SegmentLoc>,
    host: Option<String>,
    /// The data directory whose `_journal/` is read (none when opened on a file or a sub-directory).
    journal_root: Option<PathBuf>,
    stops: Vec<CleanStop>,
    warnings: Arc<Mutex<Warnings>>,
    remote: Option<Arc<Remote>>,
}

#[derive(Debug, Default)]
struct Warnings {
    list: Vec<String>,
    seen: HashSet<PathBuf>,
}

/// A data directory behind a URL: its manifest, and a temporary directory holding what was downloaded.
#[derive(Debug)]
struct Remote {
    url: String,
    token: Option<Token>,
    manifest: Manifest,
    dir: tempfile::TempDir,
    fetched: Mutex<HashSet<String>>,
}

/// A bearer token, kept out of `Debug` output.
struct Token(String);

impl std::fmt::Debug for Token {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Token(..)")
    }
}

impl StoreReader {
    /// Opens a data directory (or any directory inside one, e.g. `DIR/samples/host=web-1`) or one segment file
    /// of any table (its companions in the other tables are found by name). Hidden files, such as segments still
    /// being written, are ignored.
    ///
    /// `path` may also be an `http://` or `https://` URL of a data directory ([`open_url`](Self::open_url)).
    pub fn open(path: impl AsRef<Path>) -> Result<StoreReader, Error> {
        if let Some(url) = path.as_ref().to_str()
            && remote::is_url(url)
        {
            return Self::open_url(url);
        }
        let path = path.as_ref().to_path_buf();
        let meta = std::fs::metadata(&path).map_err(io(&path))?;
        let mut segments = Vec::new();
        let mut journal_root = None;
        let mut stops = Vec::new();
        let mut warnings = Warnings::default();
        if meta.is_dir() {
            if path.join(JOURNAL_DIR).is_dir() || path.join(MANIFEST_FILE).is_file() {
                journal_root = Some(path.clone());
            }
            match Manifest::load(&crate::fsio::RealFs, &path) {
                Ok(Some(m)) => stops = m.stops,
                Ok(None) => {}
                Err(e) => warnings.list.push(format!("{e}: clean stops are unknown")),
            }
            let mut files = Vec::new();
            parquet_files(&path, &mut files)?;
            for f in files {
                if let Some((loc, _)) = parse_segment_path(&f) {
                    segments.push(loc);
                }
            }
        } else {
            // A lone file: check it is stabmon data first, for the clearest error.
            drop(open_checked(&path, None)?);
            match parse_segment_path(&path) {
                Some((loc, _)) => segments.push(loc),
                None => {
                    return Err(invalid(
                        &path,
                        "the file is stabmon data but not in the layout <dir>/<table>/host=<host>/date=<date>/<segment>.parquet, so the segment's other tables cannot be found",
                    ));
                }
            }
        }
        segments.sort();
        segments.dedup();
        Ok(StoreReader {
            path,
            segments,
            host: None,
            journal_root,
            stops,
            warnings: Arc::new(Mutex::new(warnings)),
            remote: None,
        })
    }

    /// Opens a data directory served over HTTP(S) by its URL: fetches `URL/manifest.json` now, and the segments a
    /// read needs when it happens. An unreachable server, an HTTP error or a directory without a stabmon
    /// manifest is an [`Error::Remote`] naming the URL.
    pub fn open_url(url: &str) -> Result<StoreReader, Error> {
        Self::open_url_with_token(url, None)
    }

    /// Like [`open_url`](Self::open_url), sending `Authorization: Bearer <token>` with every request when a token
    /// is given (for a server that wants one, such as `stabmon serve --token`). A server that answers 401 or 403
    /// is an [`Error::Remote`] saying that a token is needed or was refused. The token is kept for the reads that
    /// follow and is never shown in errors or in `Debug` output.
    pub fn open_url_with_token(url: &str, token: Option<&str>) -> Result<StoreReader, Error> {
        let base = url.trim_end_matches('/').to_owned();
        let manifest_url = remote::join(&base, MANIFEST_FILE);
        let got = remote::get_all(vec![manifest_url.clone()], token)?;
        let body = match got.into_iter().next() {
            Some(Got::Body(b)) => b,
            _ => {
                return Err(Error::Remote {
                    url: manifest_url,
                    reason: "HTTP 404: there is no manifest.json, so this is not a stabmon data directory \
                             (or the recorder has not started yet)"
                        .into(),
                });
            }
        };
        let manifest =
            Manifest::from_json(&body, &manifest_url).map_err(|reason| Error::Remote {
                url: manifest_url.clone(),
                reason,
            })?;
        if manifest.schema_version > SCHEMA_VERSION {
            return Err(Error::Remote {
                url: manifest_url,
                reason: format!(
                    "it holds stabmon schema version {}, but this stabmon reads versions up to {SCHEMA_VERSION}: upgrade stabmon to read it",
                    manifest.schema_version
                ),
            });
        }
        let dir = tempfile::Builder::new()
            .prefix("stabmon-remote-")
            .tempdir()
            .map_err(io(std::env::temp_dir()))?;
        let mut segments: Vec<SegmentLoc> = manifest
            .segments
            .iter()
            .filter(|s| s.table == TABLES[0])
            .map(|s| SegmentLoc {
                host: s.host.clone(),
                date: s.date.clone(),
                name: s.name.clone(),
                root: dir.path().to_path_buf(),
            })
            .collect();
        segments.sort();
        segments.dedup();
        Ok(StoreReader {
            path: PathBuf::from(&base),
            segments,
            host: None,
            journal_root: Some(dir.path().to_path_buf()),
            stops: manifest.stops.clone(),
            warnings: Arc::new(Mutex::new(Warnings::default())),
            remote: Some(Arc::new(Remote {
                url: base,
                token: token.map(|t| Token(t.to_owned())),
                manifest,
                dir,
                fetched: Mutex::new(HashSet::new()),
            })),
        })
    }

    /// Warnings of the reads so far: segments skipped as truncated, corrupt or not stabmon data (one line each,
    /// naming the file, each file once), journals that could not be read.
    pub fn warnings(&self) -> Vec<String> {
        self.lock_warnings().list.clone()
    }

    fn lock_warnings(&self) -> std::sync::MutexGuard<'_, Warnings> {
        match self.warnings.lock() {
            Ok(g) => g,
            Err(p) => p.into_inner(),
        }
    }

    fn warn(&self, path: &Path, e: &Error) {
        let mut w = self.lock_warnings();
        if w.seen.insert(path.to_path_buf()) {
            w.list.push(format!("skipped {}: {e}", path.display()));
        }
    }

    /// When recorders stopped cleanly (from the manifest and the journals), for a host or all, sorted. A gap in
    /// the data that does not start at a clean stop is a crash or a reboot.
    pub fn clean_stops(&self, host: Option<&str>) -> Vec<Timestamp> {
        let mut v: Vec<Timestamp> = self
            .stops
            .iter()
            .filter(|s| host.is_none_or(|h| h == s.host))
            .map(|s| s.ts)
            .collect();
        if let Some(root) = &self.journal_root {
            for path in local_journals(root) {
                if let Ok(bytes) = std::fs::read(&path)
                    && let Ok(c) = crate::codec::read_journal(&bytes)
                {
                    v.extend(
                        c.stops
                            .iter()
                            .filter(|s| host.is_none_or(|h| h == s.host))
                            .map(|s| s.ts),
                    );
                }
            }
        }
        v.sort();
        v.dedup();
        v
    }

    /// Downloads what a read of `[from, to)` needs from a remote store: the segments in range (once) and the
    /// journals (every time: they grow).
    fn fetch_remote(
        &self,
        r: &Remote,
        from: Option<Timestamp>,
        to: Option<Timestamp>,
    ) -> Result<(), Error> {
        let host = self.host.as_deref();
        let wanted: HashSet<(&str, &str, &str)> = r
            .manifest
            .segments_in_range(TABLES[0], host, from, to)
            .into_iter()
            .map(|s| (s.host.as_str(), s.date.as_str(), s.name.as_str()))
            .collect();
        let mut rels: Vec<String> = {
            let fetched = match r.fetched.lock() {
                Ok(g) => g,
                Err(p) => p.into_inner(),
            };
            r.manifest
                .segments
                .iter()
                .filter(|s| wanted.contains(&(s.host.as_str(), s.date.as_str(), s.name.as_str())))
                .filter(|s| !fetched.contains(&s.path))
                .map(|s| s.path.clone())
                .collect()
        };
        let segment_count = rels.len();
        rels.extend(
            r.manifest
                .journals
                .iter()
                .filter(|j| host.is_none_or(|h| h == j.host))
                .map(|j| j.path.clone()),
        );
        let urls = rels.iter().map(|p| remote::join(&r.url, p)).collect();
        let got = remote::get_all(urls, r.token.as_ref().map(|t| t.0.as_str()))?;
        for (i, (rel, got)) in rels.iter().zip(got).enumerate() {
            let local = abs_path(r.dir.path(), rel);
            match got {
                Got::Body(bytes) => {
                    if let Some(dir) = local.parent() {
                        std::fs::create_dir_all(dir).map_err(io(dir))?;
                    }
                    std::fs::write(&local, bytes).map_err(io(&local))?;
                    if i < segment_count {
                        let mut fetched = match r.fetched.lock() {
                            Ok(g) => g,
                            Err(p) => p.into_inner(),
                        };
                        fetched.insert(rel.clone());
                    }
                }
                // A journal compacted meanwhile, a segment deleted by retention: skip it, say so once.
                Got::NotFound => {
                    let _ = std::fs::remove_file(&local);
                    if i < segment_count {
                        self.warn(
                            &local,
                            &Error::Remote {
                                url: remote::join(&r.url, rel),
                                reason: "HTTP 404: listed in the manifest but gone (deleted by retention?)".into(),
                            },
                        );
                    }
                }
            }
        }
        Ok(())
    }

    /// Restricts reading to one host.
    pub fn with_host(mut self, host: impl Into<String>) -> Self {
        self.host = Some(host.into());
        self
    }

    /// The path this reader was opened on.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The hosts with data, sorted (all of them, even with a [`with_host`](Self::with_host) filter): those with
    /// segments and those with only a journal so far (a recorder's first hour).
    pub fn hosts(&self) -> Vec<String> {
        let mut hosts: Vec<String> = self.segments.iter().map(|s| s.host.clone()).collect();
        if let Some(r) = &self.remote {
            hosts.extend(r.manifest.journals.iter().map(|j| j.host.clone()));
        } else if let Some(root) = &self.journal_root {
            hosts.extend(local_journals(root).iter().filter_map(|p| {
                let dir = p.parent()?.file_name()?.to_str()?;
                crate::layout::decode_host(dir.strip_prefix("host=")?)
            }));
        }
        hosts.sort();
        hosts.dedup();
        hosts
    }

    /// Where the data is, for messages: the URL of a served directory, else the path opened.
    pub fn location(&self) -> String {
        match &self.remote {
            Some(r) => r.url.clone(),
            None => self.path.display().to_string(),
        }
    }

    /// The `samples` file of every segment found (for the selected host), in host and time order.
    pub fn segment_files(&self) -> Vec<PathBuf> {
        self.selected().map(|s| s.file("samples")).collect()
    }

    fn selected(&self) -> impl Iterator<Item = &SegmentLoc> {
        self.segments
            .iter()
            .filter(|s| self.host.as_ref().is_none_or(|h| *h == s.host))
    }

    /// The samples with `from <= ts < to` (either bound optional), sorted by time (stably, hosts in name
    /// order), equal to what was written.
    pub fn samples(
        &self,
        from: Option<Timestamp>,
        to: Option<Timestamp>,
    ) -> Result<Vec<Sample>, Error> {
        let range = Range { from, to };
        let (from_date, to_date) = (from.map(utc_date), to.map(utc_date));
        let mut out = Vec::new();
        if let Some(r) = &self.remote {
            self.fetch_remote(r, from, to)?;
        }
        for seg in self.selected() {
            if from_date.as_ref().is_some_and(|d| seg.date < *d)
                || to_date.as_ref().is_some_and(|d| seg.date > *d)
            {
                continue;
            }
            if self.remote.is_some() && !seg.file(TABLES[0]).exists() {
                continue; // not in range by the manifest, or gone
            }
            match read_segment(seg, range) {
                Ok(v) => out.extend(v),
                Err(e @ Error::NewerSchema { .. }) => return Err(e),
                Err(e) => self.warn(&seg.file(TABLES[0]), &e),
            }
        }
        let mut seen: HashSet<(String, i64)> = out
            .iter()
            .map(|s| (s.host.clone(), s.ts.as_unix_micros()))
            .collect();
        for s in self.read_journals() {
            let keep = self.host.as_ref().is_none_or(|h| *h == s.host)
                && range.contains(s.ts.as_unix_micros())
                && seen.insert((s.host.clone(), s.ts.as_unix_micros()));
            if keep {
                out.push(s);
            }
        }
        out.sort_by_key(|s| s.ts);
        Ok(out)
    }

    /// Every sample of the journals (of a recorder still running, or that died), in file order; an unreadable
    /// journal is reported once in [`warnings`](Self::warnings).
    fn read_journals(&self) -> Vec<Sample> {
        let mut out = Vec::new();
        let Some(root) = &self.journal_root else {
            return out;
        };
        for path in local_journals(root) {
            let Ok(bytes) = std::fs::read(&path) else {
                continue; // compacted and removed meanwhile
            };
            match crate::codec::read_journal(&bytes) {
                Ok(c) => out.extend(c.samples),
                Err(why) => {
                    let mut w = self.lock_warnings();
                    if w.seen.insert(path.clone()) {
                        w.list.push(format!(
                            "skipped {}: not a readable journal ({why})",
                            path.display()
                        ));
                    }
                }
            }
        }
        out
    }

    /// The samples of one host with `from <= ts < to`.
    pub fn samples_for_host(
        &self,
        host: &str,
        from: Option<Timestamp>,
        to: Option<Timestamp>,
    ) -> Result<Vec<Sample>, Error> {
        self.clone().with_host(host).samples(from, to)
    }
}

#[derive(Clone, Copy)]
struct Range {
    from: Option<Timestamp>,
    to: Option<Timestamp>,
}

impl Range {
    const ALL: Range = Range {
        from: None,
        to: None,
    };

    fn contains(&self, micros: i64) -> bool {
        self.from.is_none_or(|f| micros >= f.as_unix_micros())
            && self.to.is_none_or(|t| micros < t.as_unix_micros())
    }

    fn overlaps(&self, min: i64, max: i64) -> bool {
        self.from.is_none_or(|f| max >= f.as_unix_micros())
            && self.to.is_none_or(|t| min < t.as_unix_micros())
    }
}

/// The journals under `root/_journal/host=*/`.
fn local_journals(root: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    let Ok(hosts) = std::fs::read_dir(root.join(JOURNAL_DIR)) else {
        return out;
    };
    for h in hosts.flatten() {
        if let Ok(files) = std::fs::read_dir(h.path()) {
            out.extend(
                files
                    .flatten()
                    .map(|f| f.path())
                    .filter(|p| p.extension().is_some_and(|e| e == "journal")),
            );
        }
    }
    out.sort();
    out
}

/// Opens a Parquet file and checks its stabmon metadata (schema version, and table when given); gives the
/// metadata and the schema version too.
fn open_checked(
    path: &Path,
    table: Option<&str>,
) -> Result<
    (
        ParquetRecordBatchReaderBuilder<File>,
        std::sync::Arc<ParquetMetaData>,
        u32,
    ),
    Error,
> {
    let file = File::open(path).map_err(io(path))?;
    let builder = ParquetRecordBatchReaderBuilder::try_new(file).map_err(pq(path))?;
    let md = builder.metadata().clone();
    let kv = md.file_metadata().key_value_metadata();
    let get = |key: &str| {
        kv.and_then(|kv| kv.iter().find(|e| e.key == key))
            .and_then(|e| e.value.clone())
    };
    let version = get(KEY_SCHEMA_VERSION).ok_or_else(|| {
        invalid(
            path,
            format!("no {KEY_SCHEMA_VERSION} in its metadata: not written by stabmon"),
        )
    })?;
    let version: u32 = version.trim().parse().map_err(|_| {
        invalid(
            path,
            format!("{KEY_SCHEMA_VERSION} is {version:?}, not a number"),
        )
    })?;
    if version > SCHEMA_VERSION {
        return Err(Error::NewerSchema {
            path: path.to_path_buf(),
            found: version,
            supported: SCHEMA_VERSION,
        });
    }
    if version == 0 {
        return Err(invalid(path, "schema version 0 does not exist"));
    }
    if let Some(table) = table {
        let found = get(KEY_TABLE).unwrap_or_default();
        if found != table {
            return Err(invalid(
                path,
                format!("it holds the table {found:?}, expected {table:?}"),
            ));
        }
    }
    Ok((builder, md, version))
}

/// Reads the batches of a table file whose row groups may hold rows in `range` (by the `ts` statistics), and
/// the file's schema version. With `only` (sorted), a file of schema 5 or later (whose rows derive nothing from
/// other rows) decodes its `ts` column first and the other columns only for the rows at those times; older
/// files are read whole and the caller drops the rest.
fn read_table(
    path: &Path,
    table: &str,
    range: Range,
    only: Option<&[i64]>,
) -> Result<(u32, Vec<RecordBatch>), Error> {
    read_columns(path, table, range, only, None)
}

/// [`read_table`] of the columns `names` only (all of them with `None`).
fn read_columns(
    path: &Path,
    table: &str,
    range: Range,
    only: Option<&[i64]>,
    names: Option<&[&str]>,
) -> Result<(u32, Vec<RecordBatch>), Error> {
    let (builder, md, version) = open_checked(path, Some(table))?;
    let ts_col = md
        .file_metadata()
        .schema_descr()
        .columns()
        .iter()
        .position(|c| c.path().string() == "ts")
        .ok_or_else(|| invalid(path, "no ts column"))?;
    let groups: Vec<usize> = md
        .row_groups()
        .iter()
        .enumerate()
        .filter(|(_, rg)| match rg.column(ts_col).statistics() {
            Some(Statistics::Int64(s)) => match (s.min_opt(), s.max_opt()) {
                (Some(&min), Some(&max)) => range.overlaps(min, max),
                _ => true,
            },
            _ => true,
        })
        .map(|(i, _)| i)
        .collect();
    let mut builder = builder.with_row_groups(groups).with_batch_size(64 * 1024);
    if let Some(names) = names {
        let mask =
            ProjectionMask::columns(md.file_metadata().schema_descr(), names.iter().copied());
        builder = builder.with_projection(mask);
    }
    // Schema 5 rows derive nothing from other rows: decode `ts` first, then the other columns only for the rows
    // wanted (the instants asked for, or the range where it cuts a row group).
    let bounded = range.from.is_some() || range.to.is_some();
    if version >= 5 && (only.is_some() || bounded) {
        let mask = ProjectionMask::leaves(md.file_metadata().schema_descr(), [ts_col]);
        let only: Option<Arc<[i64]>> = only.map(Into::into);
        let keep = ArrowPredicateFn::new(mask, move |batch: RecordBatch| {
            let ts = batch
                .column(0)
                .as_primitive_opt::<TimestampMicrosecondType>()
                .ok_or_else(|| ArrowError::SchemaError("ts is not a timestamp".into()))?;
            Ok(ts
                .iter()
                .map(|t| {
                    Some(t.is_some_and(|t| {
                        range.contains(t)
                            && only.as_ref().is_none_or(|o| o.binary_search(&t).is_ok())
                    }))
                })
                .collect::<BooleanArray>())
        });
        builder = builder.with_row_filter(RowFilter::new(vec![Box::new(keep)]));
    }
    let reader = builder.build().map_err(pq(path))?;
    let mut out = Vec::new();
    for batch in reader {
        out.push(batch.map_err(arrow(path))?);
    }
    Ok((version, out))
}

/// Typed access to a batch's columns, with errors naming the file.
struct Cols<'a> {
    batch: &'a RecordBatch,
    path: &'a Path,
}

/// A string column, dictionary-encoded or plain.
enum StrCol<'a> {
    Dict(&'a DictionaryArray<Int32Type>, &'a StringArray),
    Plain(&'a StringArray),
}

impl<'a> StrCol<'a> {
    fn get(&self, i: usize) -> Option<&'a str> {
        match self {
            StrCol::Dict(d, values) => {
                if d.is_null(i) {
                    return None;
                }
                let k = usize::try_from(d.keys().value(i)).ok()?;
                (k < values.len() && !values.is_null(k)).then(|| values.value(k))
            }
            StrCol::Plain(s) => (!s.is_null(i)).then(|| s.value(i)),
        }
    }
}

impl<'a> Cols<'a> {
    fn col(&self, name: &str) -> Result<&'a dyn Array, Error> {
        self.batch
            .column_by_name(name)
            .map(|c| c.as_ref())
            .ok_or_else(|| invalid(self.path, format!("the column {name} is missing")))
    }

    fn bad_type(&self, name: &str) -> Error {
        invalid(
            self.path,
            format!("the column {name} has an unexpected type"),
        )
    }

    fn prim<T: ArrowPrimitiveType>(&self, name: &str) -> Result<&'a PrimitiveArray<T>, Error> {
        self.col(name)?
            .as_primitive_opt::<T>()
            .ok_or_else(|| self.bad_type(name))
    }

    /// A column that must have no nulls.
    fn req<T: ArrowPrimitiveType>(&self, name: &str) -> Result<&'a PrimitiveArray<T>, Error> {
        let a = self.prim::<T>(name)?;
        if a.null_count() > 0 {
            return Err(invalid(self.path, format!("the column {name} has nulls")));
        }
        Ok(a)
    }

    fn bool(&self, name: &str) -> Result<&'a BooleanArray, Error> {
        self.col(name)?
            .as_boolean_opt()
            .ok_or_else(|| self.bad_type(name))
    }

    fn list<T: ArrowPrimitiveType>(
        &self,
        name: &str,
    ) -> Result<(&'a ListArray, &'a PrimitiveArray<T>), Error> {
        let l = self
            .col(name)?
            .as_list_opt::<i32>()
            .ok_or_else(|| self.bad_type(name))?;
        let v = l
            .values()
            .as_primitive_opt::<T>()
            .ok_or_else(|| self.bad_type(name))?;
        Ok((l, v))
    }

    /// A byte count: `<base>_bytes` (schema 5, and files of version 1 written before counts were stored in KiB),
    /// or `<base>_kib` (versions 1-4; see the crate docs, "Older versions"). `required`: the column must have no
    /// nulls.
    fn byte_count(&self, base: &str, required: bool) -> Result<ByteCount<'a>, Error> {
        let kib = format!("{base}_kib");
        let (name, scale) = if self.batch.column_by_name(&kib).is_some() {
            (kib, 1024)
        } else {
            (format!("{base}_bytes"), 1)
        };
        let values = if required {
            self.req::<UInt64Type>(&name)?
        } else {
            self.prim::<UInt64Type>(&name)?
        };
        Ok(ByteCount {
            values,
            scale,
            name,
        })
    }

    /// A column that may be absent (added to the schema later).
    fn opt_prim<T: ArrowPrimitiveType>(
        &self,
        name: &str,
    ) -> Result<Option<&'a PrimitiveArray<T>>, Error> {
        match self.batch.column_by_name(name) {
            None => Ok(None),
            Some(_) => self.prim(name).map(Some),
        }
    }

    fn opt_list<T: ArrowPrimitiveType>(
        &self,
        name: &str,
    ) -> Result<Option<(&'a ListArray, &'a PrimitiveArray<T>)>, Error> {
        match self.batch.column_by_name(name) {
            None => Ok(None),
            Some(_) => self.list(name).map(Some),
        }
    }

    fn pct_of(&self, name: &str, a: &'a dyn Array) -> Result<PctValues<'a>, Error> {
        if let Some(d) = a.as_primitive_opt::<Decimal128Type>() {
            return Ok(PctValues::Decimal(d));
        }
        a.as_primitive_opt::<Float32Type>()
            .map(PctValues::Float)
            .ok_or_else(|| self.bad_type(name))
    }

    fn pct_values(&self, name: &str) -> Result<PctValues<'a>, Error> {
        self.pct_of(name, self.col(name)?)
    }

    fn pct_list(&self, name: &str) -> Result<(&'a ListArray, PctValues<'a>), Error> {
        let l = self
            .col(name)?
            .as_list_opt::<i32>()
            .ok_or_else(|| self.bad_type(name))?;
        Ok((l, self.pct_of(name, l.values().as_ref())?))
    }

    fn str(&self, name: &str) -> Result<StrCol<'a>, Error> {
        let c = self.col(name)?;
        if let Some(d) = c.as_dictionary_opt::<Int32Type>() {
            let values = d
                .values()
                .as_string_opt::<i32>()
                .ok_or_else(|| self.bad_type(name))?;
            return Ok(StrCol::Dict(d, values));
        }
        c.as_string_opt::<i32>()
            .map(StrCol::Plain)
            .ok_or_else(|| self.bad_type(name))
    }
}

fn opt<T: ArrowPrimitiveType>(a: &PrimitiveArray<T>, i: usize) -> Option<T::Native> {
    (!a.is_null(i)).then(|| a.value(i))
}

fn duration(us: i64, path: &Path, what: &str) -> Result<Duration, Error> {
    u64::try_from(us)
        .map(Duration::from_micros)
        .map_err(|_| invalid(path, format!("a negative {what}: {us} us")))
}

/// How the ranks of a sample's four lists (process CPU and memory, name CPU and memory) are stored.
type ListLens = [ListLen; 4];

/// How one list's ranks are stored.
#[derive(Clone, Copy)]
enum ListLen {
    /// Versions 1-2: the list's length (its ranks derive from the values), `None` where the rows hold them.
    Stored(Option<u16>),
    /// Version 3: ranks derive from the values unless a row holds one in `exact`; the length is this where the
    /// sample stores it, else the rule's (`ranks::rule_lens`).
    Rule(Option<u16>),
}

fn read_samples(
    path: &Path,
    host: &str,
    range: Range,
    only: Option<&[i64]>,
    out: &mut Vec<Sample>,
    lens_out: &mut Vec<ListLens>,
) -> Result<(), Error> {
    // The previous row's (ts, lateness), for intervals left out; rows of one row group may span batches.
    let mut prev_reading = None;
    let (version, batches) = read_table(path, "samples", range, only)?;
    // Schema 4 derives the whole machine's user, system, iowait and steal shares from the cores'.
    let machine_derived = version == 4;
    for batch in batches {
        let c = Cols {
            batch: &batch,
            path,
        };
        let ts = c.req::<TimestampMicrosecondType>("ts")?;
        let boot_time = c.req::<TimestampMicrosecondType>("boot_time")?;
        let boot_id = c.str("boot_id")?;
        let timezone = c.str("timezone")?;
        let utc_offset = c.prim::<Int32Type>("utc_offset_secs")?;
        let interval = c.prim::<Int64Type>("interval_us")?;
        let lateness = c.req::<Int64Type>("lateness_us")?;
        // The percentages, in the order of `ulp_adj` (see the crate docs).
        let pcts = [
            "cpu_busy_pct",
            "cpu_user_pct",
            "cpu_system_pct",
            "cpu_iowait_pct",
            "cpu_steal_pct",
            "load_1m",
            "load_5m",
            "load_15m",
            "pressure_cpu_some_pct",
            "pressure_memory_some_pct",
            "pressure_memory_full_pct",
            "pressure_io_some_pct",
            "pressure_io_full_pct",
            "cpu_nth_pct",
            "name_cpu_nth_pct",
        ]
        .map(|name| c.pct_values(name).map(|a| (name, a)));
        let mut cols = Vec::with_capacity(pcts.len());
        for p in pcts {
            cols.push(p?);
        }
        let cores = [
            c.pct_list("core_busy_pct")?,
            c.pct_list("core_user_pct")?,
            c.pct_list("core_system_pct")?,
            c.pct_list("core_iowait_pct")?,
            c.pct_list("core_steal_pct")?,
        ];
        // Schema 3 keeps every exactness value in `exact`; versions 1-2 had `ulp_adj`, `kib_rem` and
        // `pressure_present`.
        let exact = c.opt_list::<Int32Type>("exact")?;
        let ulp_adj = c.opt_list::<Int32Type>("ulp_adj")?;
        let old_adj = [
            c.opt_prim::<Int32Type>("cpu_nth_pct_ulp_adj")?,
            c.opt_prim::<Int32Type>("name_cpu_nth_pct_ulp_adj")?,
        ];
        // In the order of `kib_rem`'s positions (see the crate docs).
        let mem = [
            c.byte_count("mem_total", true)?,
            c.byte_count("mem_used", false)?,
            c.byte_count("mem_available", true)?,
            c.byte_count("swap_total", true)?,
            c.byte_count("swap_used", true)?,
            c.byte_count("rss_nth", true)?,
            c.byte_count("name_rss_nth", true)?,
        ];
        let kib_rem = c.opt_list::<Int32Type>("kib_rem")?;
        let process_count = c.req::<UInt32Type>("process_count")?;
        let pressure_present = match exact {
            Some(_) => None,
            None => Some(c.bool("pressure_present")?),
        };
        let oom = c.prim::<UInt64Type>("oom_kill_count")?;
        let top_n = c.req::<UInt16Type>("top_n")?;
        // Versions 1-2 store the lists' lengths; version 3 derives them (see `ranks::rule_lens`).
        let lens = match batch.column_by_name("cpu_list_len") {
            None => None,
            Some(_) => Some([
                c.prim::<UInt16Type>("cpu_list_len")?,
                c.prim::<UInt16Type>("rss_list_len")?,
                c.prim::<UInt16Type>("name_cpu_list_len")?,
                c.prim::<UInt16Type>("name_rss_list_len")?,
            ]),
        };

        // Every row of the row groups read, in range or not: the other tables' rows may derive values from them
        // (see `read_segment`).
        for i in 0..batch.num_rows() {
            let mut s = Sample::new(Timestamp::from_unix_micros(ts.value(i)), host);
            s.boot_time = Timestamp::from_unix_micros(boot_time.value(i));
            s.boot_id = boot_id.get(i).map(str::to_owned);
            s.timezone = timezone.get(i).map(str::to_owned);
            s.utc_offset_secs = opt(utc_offset, i);
            // Null where it is the time between the previous row's reading and this one's (always in the same
            // row group, which is read whole): see `writer::stored_intervals`.
            let this = (ts.value(i), lateness.value(i));
            let interval_us = match opt(interval, i) {
                Some(us) => us,
                None => prev_reading
                    .and_then(|p| derived_interval(p, this))
                    .ok_or_else(|| {
                        invalid(path, "interval_us is null where it cannot be derived")
                    })?,
            };
            prev_reading = Some(this);
            s.interval = duration(interval_us, path, "interval")?;
            s.lateness = duration(lateness.value(i), path, "lateness")?;
            let range_of = |l: &ListArray| {
                if l.is_null(i) {
                    None
                } else {
                    let o = l.value_offsets();
                    usize::try_from(o[i])
                        .ok()
                        .zip(usize::try_from(o[i + 1]).ok())
                }
            };
            let ranges: Vec<Option<(usize, usize)>> = cores.iter().map(|c| range_of(c.0)).collect();
            let Some((start, end)) = ranges[0] else {
                return Err(invalid(path, "core_busy_pct has a null list"));
            };
            let n_cores = end - start;
            if ranges
                .iter()
                .any(|r| r.is_none_or(|(a, b)| b - a != n_cores))
            {
                return Err(invalid(path, "the core_* lists of a row differ in length"));
            }
            let mut adj = vec![0i32; cols.len() + 5 * n_cores];
            let mut rems = [0u64; 7];
            let mut pressure_empty = false;
            let mut machine_absent = 0;
            let mut stored_lens = [None; 4];
            let out_of_range =
                |name: &str| invalid(path, format!("a {name} position is out of range"));
            for pair in row_pairs(ulp_adj, i, path, "ulp_adj")?.chunks_exact(2) {
                let slot = usize::try_from(pair[0]).ok().and_then(|k| adj.get_mut(k));
                *slot.ok_or_else(|| out_of_range("ulp_adj"))? = pair[1];
            }
            for pair in row_pairs(kib_rem, i, path, "kib_rem")?.chunks_exact(2) {
                let slot = usize::try_from(pair[0]).ok().and_then(|k| rems.get_mut(k));
                *slot.ok_or_else(|| out_of_range("kib_rem"))? = remainder(pair[1], path)?;
            }
            for pair in row_pairs(exact, i, path, "exact")?.chunks_exact(2) {
                let (k, v) = (pair[0], pair[1]);
                if let Some(slot) = usize::try_from(k).ok().and_then(|k| rems.get_mut(k)) {
                    *slot = remainder(v, path)?;
                } else if k == SAMPLES_EXACT_PRESSURE && v == 1 {
                    pressure_empty = true;
                } else if k == SAMPLES_EXACT_MACHINE_ABSENT && machine_derived && v & !0xf == 0 {
                    machine_absent = v;
                } else if let Some(slot) = k
                    .checked_sub(SAMPLES_EXACT_LIST_LEN)
                    .and_then(|j| usize::try_from(j).ok())
                    .and_then(|j| stored_lens.get_mut(j))
                {
                    *slot = Some(u16::try_from(v).map_err(|_| out_of_range("exact"))?);
                } else {
                    let slot = k
                        .checked_sub(SAMPLES_EXACT_ULP)
                        .and_then(|k| usize::try_from(k).ok())
                        .and_then(|k| adj.get_mut(k));
                    *slot.ok_or_else(|| out_of_range("exact"))? = v;
                }
            }
            // Files written before `ulp_adj` existed: the two N-th values had adjustment columns of their own.
            for (k, a) in [(13, old_adj[0]), (14, old_adj[1])] {
                if let Some(a) = a {
                    adj[k] = opt(a, i).unwrap_or(0);
                }
            }
            let dec = |a: PctValues<'_>, at: usize, k: usize, name: &str| {
                decimal_pct(a, at, adj[k], path, name)
            };
            let mut v = Vec::with_capacity(cols.len());
            for (k, (name, a)) in cols.iter().enumerate() {
                v.push(dec(*a, i, k, name)?);
            }
            let req = |x: Option<f32>, name: &str| {
                x.ok_or_else(|| invalid(path, format!("the column {name} has nulls")))
            };
            // A busy share, stored or derived, must be there.
            let busy = |b: Option<f32>, name: &str| {
                b.ok_or_else(|| invalid(path, format!("{name} is null where it cannot be derived")))
            };
            const CORE_NAMES: [&str; 5] = [
                "core_busy_pct",
                "core_user_pct",
                "core_system_pct",
                "core_iowait_pct",
                "core_steal_pct",
            ];
            let mut per_core = Vec::with_capacity(n_cores);
            for k in 0..n_cores {
                let mut f = [None; 5];
                for (j, slot) in f.iter_mut().enumerate() {
                    let at = ranges[j].map_or(0, |(a, _)| a) + k;
                    *slot = dec(cores[j].1, at, cols.len() + 5 * k + j, CORE_NAMES[j])?;
                }
                // A core's null busy share is its user + system + steal (`pct::busy_from_parts`).
                let derived = f[0].or_else(|| pct::busy_from_parts(f[1], f[2], f[4]));
                let mut cu = CpuUsage::new(busy(derived, "core_busy_pct")?);
                cu.user_pct = f[1];
                cu.system_pct = f[2];
                cu.iowait_pct = f[3];
                cu.steal_pct = f[4];
                per_core.push(cu);
            }
            // A null machine share derives from the cores' (schema 4) unless `exact` marks it unknown.
            let mut parts = [v[1], v[2], v[3], v[4]];
            let machine_busy = if machine_derived {
                for (k, (part, get)) in parts.iter_mut().zip(pct::MACHINE_PARTS).enumerate() {
                    if part.is_none() && machine_absent & (1 << k) == 0 {
                        *part = pct::machine_part(&per_core, get);
                    }
                }
                v[0].or_else(|| pct::machine_busy(&per_core, [parts[0], parts[1], parts[3]]))
            } else {
                v[0].or_else(|| pct::busy_from_parts(parts[0], parts[1], parts[3]))
            };
            let mut cpu = CpuUsage::new(busy(machine_busy, "cpu_busy_pct")?);
            [cpu.user_pct, cpu.system_pct, cpu.iowait_pct, cpu.steal_pct] = parts;
            s.cpu = cpu;
            s.per_core = per_core;
            s.load = match (v[5], v[6], v[7]) {
                (Some(a), Some(b), Some(c)) => Some(LoadAvg::new(a, b, c)),
                (None, None, None) => None,
                _ => return Err(invalid(path, "load_1m/5m/15m are partly null")),
            };
            let mut stored = [None; 7];
            for (k, v) in stored.iter_mut().enumerate() {
                *v = mem[k].get(i, rems[k], path)?;
            }
            let bytes = stored.map(|v| v.unwrap_or(0));
            // Null used memory is total minus available (what `Memory::new` derives).
            let mut m = Memory::new(bytes[0], bytes[2]);
            if let Some(used) = stored[1] {
                m.used_bytes = used;
            }
            m.swap_total_bytes = bytes[3];
            m.swap_used_bytes = bytes[4];
            s.memory = m;
            s.process_count = process_count.value(i);
            let present = match pressure_present {
                Some(col) if col.is_null(i) => {
                    return Err(invalid(path, "the column pressure_present has nulls"));
                }
                Some(col) => col.value(i),
                // Schema 3: present where a value is, or where `exact` marks it present and empty.
                None => pressure_empty || v[8..13].iter().any(Option::is_some),
            };
            s.pressure = if present {
                let mut p = Pressure::default();
                p.cpu_some_pct = v[8];
                p.memory_some_pct = v[9];
                p.memory_full_pct = v[10];
                p.io_some_pct = v[11];
                p.io_full_pct = v[12];
                Some(p)
            } else {
                None
            };
            s.oom_kill_count = opt(oom, i);
            s.top.n = top_n.value(i);
            s.top.cpu_nth_pct = req(v[13], "cpu_nth_pct")?;
            s.top.rss_nth_bytes = bytes[5];
            s.top.name_cpu_nth_pct = req(v[14], "name_cpu_nth_pct")?;
            s.top.name_rss_nth_bytes = bytes[6];
            out.push(s);
            lens_out.push(match &lens {
                Some(cols) => cols.map(|l| ListLen::Stored(opt(l, i))),
                // Schema 5: every row holds its ranks.
                None if version >= 5 => [ListLen::Stored(None); 4],
                None => stored_lens.map(ListLen::Rule),
            });
        }
    }
    Ok(())
}

/// A byte-count column and its unit (1024 for KiB, 1 for bytes).
struct ByteCount<'a> {
    values: &'a PrimitiveArray<UInt64Type>,
    scale: u64,
    name: String,
}

impl ByteCount<'_> {
    /// The count in bytes at row `i`, with its remainder below 1 KiB; `None` where null.
    fn get(&self, i: usize, rem: u64, path: &Path) -> Result<Option<u64>, Error> {
        let Some(v) = opt(self.values, i) else {
            return if rem == 0 {
                Ok(None)
            } else {
                Err(invalid(
                    path,
                    format!("{} is null but has a remainder", self.name),
                ))
            };
        };
        v.checked_mul(self.scale)
            .and_then(|b| b.checked_add(rem))
            .map(Some)
            .ok_or_else(|| invalid(path, format!("{} out of range", self.name)))
    }
}

/// The (position, value) pairs of row `i` of a pairs column (`exact`; `ulp_adj` and `kib_rem` before schema 3);
/// empty where the list is null or the column absent.
fn row_pairs<'a>(
    list: Option<(&'a ListArray, &'a PrimitiveArray<Int32Type>)>,
    i: usize,
    path: &Path,
    name: &str,
) -> Result<&'a [i32], Error> {
    let Some((l, values)) = list else {
        return Ok(&[]);
    };
    if l.is_null(i) {
        return Ok(&[]);
    }
    let o = l.value_offsets();
    let (a, b) = (
        usize::try_from(o[i]).unwrap_or(0),
        usize::try_from(o[i + 1]).unwrap_or(0),
    );
    if b < a || (b - a) % 2 != 0 || values.null_count() > 0 || b > values.len() {
        return Err(invalid(
            path,
            format!("a {name} list is not (position, value) pairs"),
        ));
    }
    Ok(&values.values()[a..b])
}

/// A stored remainder below 1 KiB, checked.
fn remainder(v: i32, path: &Path) -> Result<u64, Error> {
    u64::try_from(v).ok().filter(|r| *r < 1024).ok_or_else(|| {
        invalid(
            path,
            format!("a remainder of {v} below 1 KiB is out of range"),
        )
    })
}

/// The exactness values of a `processes` or `names` row (see the crate docs, "Older versions"), `N` slots: from
/// `exact` (schema 3), or in files of versions 1-2 from a column per slot (`old`, in slot order) and `kib_rem`,
/// whose positions start at the slot after them.
struct ExactSlots<'a, const N: usize> {
    exact: Option<(&'a ListArray, &'a PrimitiveArray<Int32Type>)>,
    old: Vec<OldSlot<'a>>,
    kib_rem: Option<(&'a ListArray, &'a PrimitiveArray<Int32Type>)>,
}

/// A version 1-2 column holding one exactness slot.
enum OldSlot<'a> {
    Adj(&'a PrimitiveArray<Int32Type>),
    Pos(&'a PrimitiveArray<UInt16Type>),
}

impl<'a, const N: usize> ExactSlots<'a, N> {
    /// `old`: the version 1-2 columns of the slots before the remainders', as (name, is a ULP adjustment).
    /// Schema 5 has no exactness values: every slot is empty.
    fn new(c: &Cols<'a>, version: u32, old: &[(&str, bool)]) -> Result<Self, Error> {
        let exact = c.opt_list::<Int32Type>("exact")?;
        if exact.is_some() || version >= 5 {
            return Ok(ExactSlots {
                exact,
                old: Vec::new(),
                kib_rem: None,
            });
        }
        let mut cols = Vec::with_capacity(old.len());
        for &(name, adj) in old {
            cols.push(if adj {
                OldSlot::Adj(c.prim::<Int32Type>(name)?)
            } else {
                OldSlot::Pos(c.prim::<UInt16Type>(name)?)
            });
        }
        Ok(ExactSlots {
            exact: None,
            old: cols,
            kib_rem: c.opt_list::<Int32Type>("kib_rem")?,
        })
    }

    fn row(&self, i: usize, path: &Path) -> Result<[Option<i32>; N], Error> {
        let mut out = [None; N];
        let mut set = |k: usize, v: i32, name: &str| match out.get_mut(k) {
            Some(slot) => {
                *slot = Some(v);
                Ok(())
            }
            None => Err(invalid(path, format!("a {name} position is out of range"))),
        };
        for pair in row_pairs(self.exact, i, path, "exact")?.chunks_exact(2) {
            set(usize::try_from(pair[0]).unwrap_or(N), pair[1], "exact")?;
        }
        for (k, col) in self.old.iter().enumerate() {
            let v = match col {
                OldSlot::Adj(a) => opt(a, i),
                OldSlot::Pos(a) => opt(a, i).map(i32::from),
            };
            if let Some(v) = v {
                set(k, v, "column")?;
            }
        }
        for pair in row_pairs(self.kib_rem, i, path, "kib_rem")?.chunks_exact(2) {
            let k = usize::try_from(pair[0]).map_or(N, |k| k.saturating_add(self.old.len()));
            set(k, pair[1], "kib_rem")?;
        }
        Ok(out)
    }
}

/// The `cpu_rank` and `rss_rank` columns of schema 5 (`None` for older files, which derive ranks or keep them in
/// exactness slots).
type RankCols<'a> = (
    &'a PrimitiveArray<UInt16Type>,
    &'a PrimitiveArray<UInt16Type>,
);

fn rank_columns<'a>(c: &Cols<'a>, version: u32) -> Result<Option<RankCols<'a>>, Error> {
    if version < 5 {
        return Ok(None);
    }
    Ok(Some((
        c.prim::<UInt16Type>("cpu_rank")?,
        c.prim::<UInt16Type>("rss_rank")?,
    )))
}

/// (Schemas 2-4.) `(ts - ts') + (lateness - lateness')` in microseconds, from the row before (`prev`) to this
/// one: the interval of a row that stores none.
fn derived_interval(prev: (i64, i64), this: (i64, i64)) -> Option<i64> {
    this.0
        .checked_sub(prev.0)?
        .checked_add(this.1.checked_sub(prev.1)?)
        .filter(|d| *d >= 0)
}

/// (Schemas 2-4.) The single process row of a sample that a name total with `process_count == 1` sums, if the
/// sample has it: where the name's values are null, they are that row's.
fn lone_process<'a>(
    n: &NameTotal,
    processes: impl IntoIterator<Item = &'a ProcessEntry>,
) -> Option<&'a ProcessEntry> {
    if n.process_count != 1 {
        return None;
    }
    let mut it = processes.into_iter().filter(|p| p.name == n.name);
    let p = it.next()?;
    it.next().is_none().then_some(p)
}

/// A rank or list position from an exactness slot.
fn slot_u16(v: Option<i32>, path: &Path) -> Result<Option<u16>, Error> {
    v.map(|v| {
        u16::try_from(v).map_err(|_| {
            invalid(
                path,
                format!("a rank or list position of {v} is out of range"),
            )
        })
    })
    .transpose()
}

/// A remainder below 1 KiB from an exactness slot (0 where not set).
fn slot_rem(v: Option<i32>, path: &Path) -> Result<u64, Error> {
    v.map_or(Ok(0), |v| remainder(v, path))
}

/// The values of a percentage column: `DECIMAL(9,2)` with ULP adjustments (see `pct.rs`), or `float32` as
/// files written before the decimals stored them.
#[derive(Clone, Copy)]
enum PctValues<'a> {
    Decimal(&'a PrimitiveArray<Decimal128Type>),
    Float(&'a PrimitiveArray<Float32Type>),
}

/// A percentage and its ULP adjustment; a null carries adjustment 0.
fn decimal_pct(
    a: PctValues<'_>,
    i: usize,
    adj: i32,
    path: &Path,
    name: &str,
) -> Result<Option<f32>, Error> {
    let q = match a {
        PctValues::Float(f) if adj == 0 => return Ok(opt(f, i)),
        PctValues::Float(_) => None,
        PctValues::Decimal(d) => opt(d, i),
    };
    match q {
        Some(q) => {
            let q = i32::try_from(q).map_err(|_| invalid(path, format!("{name} out of range")))?;
            Ok(Some(pct::decode(q, adj)))
        }
        None if adj == 0 => Ok(None),
        None => Err(invalid(
            path,
            format!("{name} is null but has a ULP adjustment"),
        )),
    }
}

/// The index of the sample at `ts` in a segment's samples (sorted, unique).
fn sample_at(samples: &[Sample], ts: i64, path: &Path) -> Result<usize, Error> {
    samples
        .binary_search_by_key(&ts, |s| s.ts.as_unix_micros())
        .map_err(|_| {
            invalid(
                path,
                format!(
                    "a row at {} has no sample in the samples table",
                    Timestamp::from_unix_micros(ts)
                ),
            )
        })
}

fn read_processes(
    path: &Path,
    range: Range,
    only: Option<&[i64]>,
    samples: &[Sample],
    lists: &mut [Vec<(Option<u16>, ProcessEntry)>],
) -> Result<(), Error> {
    let (version, batches) = read_table(path, "processes", range, only)?;
    for batch in batches {
        let c = Cols {
            batch: &batch,
            path,
        };
        let ts = c.req::<TimestampMicrosecondType>("ts")?;
        let pid = c.req::<UInt32Type>("pid")?;
        let start = c.req::<TimestampMicrosecondType>("start_time")?;
        let ppid = c.prim::<UInt32Type>("parent_pid")?;
        let name = c.str("name")?;
        let cmdline = c.str("cmdline")?;
        let user = c.str("user")?;
        let cpu = c.pct_values("cpu_pct")?;
        let child = c.pct_values("children_cpu_pct")?;
        let rss = c.byte_count("rss", true)?;
        let vsz = c.byte_count("virtual", true)?;
        // Slots: CPU and children's CPU adjustments, CPU and memory ranks, list position, two remainders.
        let exact = ExactSlots::<PROCESS_EXACT_SLOTS>::new(
            &c,
            version,
            &[
                ("cpu_pct_ulp_adj", true),
                ("children_cpu_pct_ulp_adj", true),
                ("cpu_rank_explicit", false),
                ("rss_rank_explicit", false),
                ("list_pos", false),
            ],
        )?;
        let ranks = rank_columns(&c, version)?;
        for i in 0..batch.num_rows() {
            if !range.contains(ts.value(i)) {
                continue;
            }
            let at = sample_at(samples, ts.value(i), path)?;
            let mut p = ProcessEntry::new(
                pid.value(i),
                name.get(i).ok_or_else(|| invalid(path, "a null name"))?,
            );
            p.parent_pid = opt(ppid, i);
            p.cmdline = cmdline.get(i).map(str::to_owned);
            p.user = user.get(i).map(str::to_owned);
            let x = exact.row(i, path)?;
            p.cpu_pct = decimal_pct(cpu, i, x[0].unwrap_or(0), path, "cpu_pct")?
                .ok_or_else(|| invalid(path, "the column cpu_pct has nulls"))?;
            p.children_cpu_pct =
                decimal_pct(child, i, x[1].unwrap_or(0), path, "children_cpu_pct")?;
            p.rss_bytes = rss.get(i, slot_rem(x[5], path)?, path)?.unwrap_or(0);
            p.virtual_bytes = vsz.get(i, slot_rem(x[6], path)?, path)?.unwrap_or(0);
            p.start_time = Timestamp::from_unix_micros(start.value(i));
            (p.cpu_rank, p.rss_rank) = match ranks {
                Some((cpu, rss)) => (opt(cpu, i), opt(rss, i)),
                None => (slot_u16(x[2], path)?, slot_u16(x[3], path)?),
            };
            lists[at].push((slot_u16(x[4], path)?, p));
        }
    }
    Ok(())
}

fn read_names(
    path: &Path,
    range: Range,
    only: Option<&[i64]>,
    samples: &[Sample],
    procs: &[Vec<(Option<u16>, ProcessEntry)>],
    lists: &mut [Vec<(Option<u16>, NameTotal)>],
) -> Result<(), Error> {
    // Each name's last (CPU %, resident bytes), for values stored as "same as before".
    let mut last: HashMap<String, (f32, u64)> = HashMap::new();
    let (version, batches) = read_table(path, "names", range, only)?;
    for batch in batches {
        let c = Cols {
            batch: &batch,
            path,
        };
        let ts = c.req::<TimestampMicrosecondType>("ts")?;
        let name = c.str("name")?;
        let count = c.req::<UInt32Type>("process_count")?;
        let cpu = c.pct_values("cpu_pct")?;
        let rss = c.byte_count("rss", false)?;
        // Slots: CPU adjustment, CPU and memory ranks, list position, remainder.
        let exact = ExactSlots::<NAME_EXACT_SLOTS>::new(
            &c,
            version,
            &[
                ("cpu_pct_ulp_adj", true),
                ("cpu_rank_explicit", false),
                ("rss_rank_explicit", false),
                ("list_pos", false),
            ],
        )?;
        let ranks = rank_columns(&c, version)?;
        for i in 0..batch.num_rows() {
            if !range.contains(ts.value(i)) {
                continue;
            }
            let at = sample_at(samples, ts.value(i), path)?;
            let mut n = NameTotal::new(name.get(i).ok_or_else(|| invalid(path, "a null name"))?);
            n.process_count = count.value(i);
            // Values not stored are derived as the writer elided them: from the name's lone process row in the
            // sample when it has one, else from the name's previous row.
            let base = match lone_process(&n, procs[at].iter().map(|(_, p)| p)) {
                Some(p) => Some((p.cpu_pct, p.rss_bytes)),
                None => last.get(&n.name).copied(),
            };
            let missing = || {
                invalid(
                    path,
                    format!("a total of {:?} without a value to derive", n.name),
                )
            };
            let x = exact.row(i, path)?;
            n.cpu_pct = match decimal_pct(cpu, i, x[0].unwrap_or(0), path, "cpu_pct")? {
                Some(v) => v,
                None => base.ok_or_else(missing)?.0,
            };
            n.rss_bytes = match rss.get(i, slot_rem(x[4], path)?, path)? {
                Some(v) => v,
                None => base.ok_or_else(missing)?.1,
            };
            last.insert(n.name.clone(), (n.cpu_pct, n.rss_bytes));
            (n.cpu_rank, n.rss_rank) = match ranks {
                Some((cpu, rss)) => (opt(cpu, i), opt(rss, i)),
                None => (slot_u16(x[1], path)?, slot_u16(x[2], path)?),
            };
            lists[at].push((slot_u16(x[3], path)?, n));
        }
    }
    Ok(())
}

/// Puts a sample's list back in its written order: by the stored positions when there are any, else by the
/// canonical key.
fn restore_order<T>(
    mut items: Vec<(Option<u16>, T)>,
    cmp: impl Fn(&T, &T) -> std::cmp::Ordering,
    path: &Path,
) -> Result<Vec<T>, Error> {
    let explicit = items.iter().filter(|(p, _)| p.is_some()).count();
    if explicit == 0 {
        items.sort_by(|a, b| cmp(&a.1, &b.1));
    } else if explicit == items.len() {
        items.sort_by_key(|(p, _)| *p);
    } else {
        return Err(invalid(
            path,
            "list_pos is set for some rows of a sample but not all",
        ));
    }
    Ok(items.into_iter().map(|(_, t)| t).collect())
}

/// Sets the ranks of one list of a sample from the values, when its length is stored (else the rows held them).
fn derive_ranks<T>(
    items: &mut [(Option<u16>, T)],
    len: Option<u16>,
    cmp: impl Fn(&T, &T) -> std::cmp::Ordering,
    set: impl Fn(&mut T, Option<u16>),
) {
    let Some(len) = len else { return };
    let ranks = crate::ranks::derive(items, usize::from(len), |a, b| cmp(&a.1, &b.1));
    for (item, r) in items.iter_mut().zip(ranks) {
        set(&mut item.1, r);
    }
}

/// The latency table's rows, appended in file order to the probes of the sample they belong to.
fn read_latency(
    path: &Path,
    range: Range,
    only: Option<&[i64]>,
    samples: &mut [Sample],
) -> Result<(), Error> {
    for batch in read_table(path, LATENCY, range, only)?.1 {
        let c = Cols {
            batch: &batch,
            path,
        };
        let ts = c.req::<TimestampMicrosecondType>("ts")?;
        let start = c.req::<TimestampMicrosecondType>("start_ts")?;
        let target = c.str("target")?;
        let outcome = c.str("outcome")?;
        let status = c.prim::<UInt16Type>("http_status")?;
        let message = c.str("message")?;
        let dns = c.prim::<Int64Type>("dns_us")?;
        let connect = c.prim::<Int64Type>("connect_us")?;
        let tls = c.prim::<Int64Type>("tls_us")?;
        let first = c.prim::<Int64Type>("first_byte_us")?;
        let total = c.prim::<Int64Type>("total_us")?;
        let ms = |a: &PrimitiveArray<Int64Type>, i: usize| opt(a, i).map(|us| us as f64 / 1000.0);
        for i in 0..batch.num_rows() {
            if !range.contains(ts.value(i)) {
                continue;
            }
            let at = sample_at(samples, ts.value(i), path)?;
            let kind = outcome
                .get(i)
                .ok_or_else(|| invalid(path, "a null outcome"))?;
            let outcome = ProbeOutcome::from_parts(kind, opt(status, i), message.get(i))
                .ok_or_else(|| {
                    invalid(
                        path,
                        format!("unknown probe outcome {kind:?} (or http_status without a code)"),
                    )
                })?;
            let mut p = LatencyProbe::new(
                target
                    .get(i)
                    .ok_or_else(|| invalid(path, "a null target"))?,
                Timestamp::from_unix_micros(start.value(i)),
                outcome,
            );
            p.dns_ms = ms(dns, i);
            p.connect_ms = ms(connect, i);
            p.tls_ms = ms(tls, i);
            p.first_byte_ms = ms(first, i);
            p.total_ms = ms(total, i);
            samples[at].latency.push(p);
        }
    }
    Ok(())
}

fn read_segment(seg: &SegmentLoc, range: Range) -> Result<Vec<Sample>, Error> {
    read_segment_at(seg, range, None)
}

/// [`read_segment`], only the samples at `only` (sorted) where the files allow reading just those rows (see
/// [`read_table`]); otherwise whole row groups are decoded and the other samples dropped.
fn read_segment_at(
    seg: &SegmentLoc,
    range: Range,
    only: Option<&[i64]>,
) -> Result<Vec<Sample>, Error> {
    let files: Vec<PathBuf> = TABLES.iter().map(|t| seg.file(t)).collect();
    for (table, f) in TABLES.iter().zip(&files) {
        if !f.exists() {
            return Err(Error::MissingCompanion {
                path: f.clone(),
                table,
                segment: files[0].clone(),
            });
        }
    }
    let mut samples = Vec::new();
    let mut lens = Vec::new();
    read_samples(&files[0], &seg.host, range, only, &mut samples, &mut lens)?;
    // The other tables are read over the whole row groups of the samples read (names derive values from earlier
    // rows and from process rows); the requested range is applied at the end.
    let (Some(first), Some(last)) = (samples.first(), samples.last()) else {
        return Ok(Vec::new());
    };
    let whole = Range {
        from: Some(first.ts),
        to: Some(last.ts.saturating_add(Duration::from_micros(1))),
    };
    if !samples.windows(2).all(|w| w[0].ts < w[1].ts) {
        return Err(invalid(
            &files[0],
            "timestamps do not increase within the segment",
        ));
    }
    let mut procs: Vec<Vec<(Option<u16>, ProcessEntry)>> = vec![Vec::new(); samples.len()];
    read_processes(&files[1], whole, only, &samples, &mut procs)?;
    let mut names: Vec<Vec<(Option<u16>, NameTotal)>> = vec![Vec::new(); samples.len()];
    read_names(&files[2], whole, only, &samples, &procs, &mut names)?;
    for (((s, mut p), mut n), lens) in samples.iter_mut().zip(procs).zip(names).zip(lens) {
        let rule = crate::ranks::rule_lens(&s.top, p.iter().map(|x| &x.1), n.iter().map(|x| &x.1));
        let explicit = [
            p.iter().any(|x| x.1.cpu_rank.is_some()),
            p.iter().any(|x| x.1.rss_rank.is_some()),
            n.iter().any(|x| x.1.cpu_rank.is_some()),
            n.iter().any(|x| x.1.rss_rank.is_some()),
        ];
        let len = |j: usize| match lens[j] {
            ListLen::Stored(len) => len,
            ListLen::Rule(_) if explicit[j] => None,
            ListLen::Rule(len) => Some(len.unwrap_or(rule[j])),
        };
        derive_ranks(&mut p, len(0), cmp_entries_by_cpu, |e, r| e.cpu_rank = r);
        derive_ranks(&mut p, len(1), cmp_entries_by_rss, |e, r| e.rss_rank = r);
        derive_ranks(&mut n, len(2), cmp_names_by_cpu, |e, r| e.cpu_rank = r);
        derive_ranks(&mut n, len(3), cmp_names_by_rss, |e, r| e.rss_rank = r);
        s.top.processes = restore_order(
            p,
            |a, b| process_sort_key(a).cmp(&process_sort_key(b)),
            &files[1],
        )?;
        s.top.names = restore_order(
            n,
            |a, b| name_order_key(a).cmp(&name_order_key(b)),
            &files[2],
        )?;
    }
    // Only segments whose samples carried probes have a latency file.
    let latency = seg.file(LATENCY);
    if latency.exists() {
        read_latency(&latency, whole, only, &mut samples)?;
    }
    samples.retain(|s| {
        let t = s.ts.as_unix_micros();
        range.contains(t) && only.is_none_or(|o| o.binary_search(&t).is_ok())
    });
    Ok(samples)
}
