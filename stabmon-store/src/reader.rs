//! [`StoreReader`]: finds segments in a data directory (or opens one segment file) and reads samples back.
//!
//! - here: [`StoreReader`], which finds the segments (in a directory, or through [`url`] behind a URL) and reads
//!   them with the journals ([`journals`]);
//! - [`segment`]: one segment read into whole samples, from its tables: [`samples`], [`processes`], [`names`],
//!   [`latency`], each file opened and checked by [`table`], its columns read through [`cols`], the values made
//!   exact again by [`exact`];
//! - [`scan`]: reads of long ranges, a chunk at a time; [`usage`]: a range's totals per name; [`older`]: a row
//!   group of schemas 1-4 as today's columns, for the series and usage.

use std::collections::HashSet;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use stabmon_core::{Sample, Timestamp};

use crate::error::{Error, invalid, io};
use crate::layout::{SegmentLoc, TABLES, parquet_files, parse_segment_path, utc_date};
use crate::manifest::{CleanStop, MANIFEST_FILE, Manifest};
use crate::recorder::JOURNAL_DIR;

mod cols;
mod exact;
mod exits;
mod footers;
mod group;
mod journals;
mod latency;
mod names;
mod older;
mod oom_kills;
mod page_header;
mod processes;
mod range;
mod ranges;
mod samples;
mod scan;
mod segment;
mod series;
mod table;
mod unzstd;
mod url;
mod usage;

pub use scan::{Coverage, HostWindows, SampleStream};
pub use series::SeriesRead;
pub use url::CACHE_BYTES;
pub use usage::RangeUsage;

use self::cols::{Cols, StrCol};
use self::journals::local_journals;
use self::range::Range;
use self::segment::{read_segment, read_segment_at};
use self::table::open_checked;
// Named here by scan.rs's tests.
#[cfg(test)]
use self::table::read_table;
use self::url::Remote;

/// Reads samples from a data directory written by [`StoreWriter`](crate::StoreWriter), or from one segment.
///
/// [`open`](Self::open) only lists segments; files are opened and checked when samples are read. In a
/// directory, a truncated, corrupt, empty or foreign segment is skipped with one warning naming it
/// ([`warnings`](Self::warnings)) and everything else is read; a segment of a newer schema version is an error.
/// The journal of a segment still being recorded (`DIR/_journal/`) is read too, so the last seconds before a
/// crash, or of a recorder still running, are there.
///
/// A reader keeps the footers of the local table files it has read (about 2 MiB at most, the least recently used
/// let go first), shared by its clones, so that reads of the same segments do not parse them again; a file
/// written again or replaced since (another length, modification time or, on Unix, inode or change time) is
/// parsed again.
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
    /// The journals' samples as last decoded, shared by clones of this reader (see `read_journals`).
    journal_memo: Arc<Mutex<journals::JournalMemo>>,
    /// The table files' footers parsed so far, shared by clones of this reader.
    footers: Arc<footers::Footers>,
}

#[derive(Debug, Default)]
struct Warnings {
    list: Vec<String>,
    seen: HashSet<PathBuf>,
}

impl StoreReader {
    /// Opens a data directory (or any directory inside one, e.g. `DIR/samples/host=web-1`) or one segment file
    /// of any table (its companions in the other tables are found by name). Hidden files, such as segments still
    /// being written, are ignored.
    ///
    /// `path` may also be an `http://` or `https://` URL of a data directory ([`open_url`](Self::open_url)), an
    /// `s3://`, `gs://` or `az://` URL of a dataset in object storage ([`open_bucket`](Self::open_bucket)), or a
    /// `file://` URL of a directory. Another scheme is an [`Error::Remote`] naming the URL.
    pub fn open(path: impl AsRef<Path>) -> Result<StoreReader, Error> {
        let mut path = path.as_ref().to_path_buf();
        if let Some(url) = path.to_str()
            && let Some(scheme) = crate::bucket::scheme(url)
        {
            match scheme.as_str() {
                "http" | "https" => return Self::open_url(url),
                "file" => path = file_url_path(url)?,
                _ => return Self::open_bucket(url),
            }
        }
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
            journal_memo: Arc::default(),
            footers: Arc::default(),
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
        let shown = self.shown(path);
        self.warn_once(path, skipped(&shown, &path.display().to_string(), e));
    }

    /// Adds `warning` about `path`, unless one about it was added already.
    fn warn_once(&self, path: &Path, warning: String) {
        let mut w = self.lock_warnings();
        if w.seen.insert(path.to_path_buf()) {
            w.list.push(warning);
        }
    }

    /// A file for messages: of a remote store its URL rather than its local copy.
    fn shown(&self, path: &Path) -> String {
        if let Some(r) = &self.remote
            && let Ok(rel) = path.strip_prefix(r.dir.path())
        {
            let parts: Vec<_> = rel
                .components()
                .map(|c| c.as_os_str().to_string_lossy())
                .collect();
            return format!("{}/{}", r.url, parts.join("/"));
        }
        path.display().to_string()
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
        // The journals' stops, decoded with their samples (once for as long as the journals do not change).
        v.extend(
            self.read_journals()
                .stops
                .iter()
                .filter(|s| host.is_none_or(|h| h == s.host))
                .map(|s| s.ts),
        );
        v.sort();
        v.dedup();
        v
    }

    /// Restricts reading to one host.
    pub fn with_host(mut self, host: impl Into<String>) -> Self {
        self.host = Some(host.into());
        self
    }

    /// The object cache a bucket reader reads its table files through.
    fn objects(&self) -> ranges::Objects<'_> {
        let cache = self.remote.as_deref().and_then(|r| match &r.source {
            url::Source::Bucket { cache, .. } => Some(cache),
            url::Source::Http(_) => None,
        });
        ranges::Objects {
            cache,
            footers: Some(&self.footers),
        }
    }

    /// Bytes this reader and its clones fetched so far from the server or bucket it reads (`0` for a local
    /// directory): from a bucket the byte ranges requested, from a served directory the files downloaded.
    pub fn fetched_bytes(&self) -> u64 {
        use std::sync::atomic::Ordering;
        match self.remote.as_deref() {
            None => 0,
            Some(r) => match &r.source {
                url::Source::Bucket { cache, .. } => cache.fetched(),
                url::Source::Http(served) => served.bytes.load(Ordering::Relaxed),
            },
        }
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
            if let Some(m) = r.manifest() {
                hosts.extend(m.journals.iter().map(|j| j.host.clone()));
            }
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
            match read_segment(seg, self.objects(), range) {
                Ok(v) => out.extend(v),
                Err(e @ Error::NewerSchema { .. }) => return Err(e),
                Err(e) => self.warn(&seg.file(TABLES[0]), &e),
            }
        }
        let seen: HashSet<(String, i64)> = out
            .iter()
            .map(|s| (s.host.clone(), s.ts.as_unix_micros()))
            .collect();
        for (host, mut journal) in self.journal_samples(None, range) {
            journal.retain_ts(|t| !seen.contains(&(host.clone(), t)));
            out.extend(journal);
        }
        out.sort_by_key(|s| s.ts);
        Ok(out)
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

/// The path of a `file://` URL (`file:///srv/fleet`); percent-escapes are decoded.
pub(crate) fn file_url_path(url: &str) -> Result<PathBuf, Error> {
    let rest = &url["file://".len()..];
    // `file://localhost/path` names the local host too.
    let rest = rest.strip_prefix("localhost").unwrap_or(rest);
    let decoded = crate::layout::decode_host(rest).filter(|p| p.starts_with('/'));
    match decoded {
        Some(p) => Ok(PathBuf::from(p)),
        None => Err(Error::Remote {
            url: url.to_owned(),
            reason: "a file:// URL names an absolute path: file:///path/to/data".into(),
        }),
    }
}

/// The warning for a file skipped because of `e`, naming it once as `shown` (a remote store's URL rather than its
/// local copy at `local`): most errors name their file already.
fn skipped(shown: &str, local: &str, e: &Error) -> String {
    let text = e.to_string().replace(local, shown);
    if text.contains(shown) {
        format!("skipped: {text}")
    } else {
        format!("skipped {shown}: {text}")
    }
}
