//! A data directory behind a URL: opened by its manifest, its files downloaded as reads need them.

use std::collections::{HashMap, HashSet};
use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use stabmon_core::Timestamp;

use crate::bucket::{Bucket, Object, Patience};
use crate::error::{Error, io};
use crate::layout::{SegmentLoc, TABLES, parse_segment_path, stem_start, utc_date};
use crate::manifest::{MANIFEST_FILE, Manifest, abs_path};
use crate::remote::{self, Got};
use crate::schema::SCHEMA_VERSION;

use super::ranges::ObjectCache;
use super::{StoreReader, Warnings};

/// A data directory behind a URL (its manifest), or a dataset in object storage (its listing), and a temporary
/// directory holding what was downloaded.
#[derive(Debug)]
pub(super) struct Remote {
    pub(super) url: String,
    pub(super) source: Source,
    pub(super) dir: tempfile::TempDir,
}

/// Where a remote reader's files come from.
#[derive(Debug)]
pub(super) enum Source {
    /// A data directory served over HTTP(S), described by its `manifest.json`.
    Http(Served),
    /// A Hive-partitioned dataset in object storage, described by listing its prefix (no manifest: every host
    /// writes its own objects). It holds finished segments only, no journal. Objects are read by byte ranges.
    Bucket {
        cache: Arc<ObjectCache>,
        objects: Vec<(Object, SegmentLoc)>,
    },
}

/// A data directory served over HTTP(S): how to ask for its files, and what was downloaded of them.
#[derive(Debug)]
pub(super) struct Served {
    token: Option<Token>,
    manifest: Manifest,
    /// The segment files downloaded.
    cache: Mutex<Cache>,
    /// Bytes downloaded so far.
    pub(super) bytes: AtomicU64,
}

impl Served {
    fn lock_cache(&self) -> std::sync::MutexGuard<'_, Cache> {
        match self.cache.lock() {
            Ok(g) => g,
            Err(p) => p.into_inner(),
        }
    }
}

/// The segment files downloaded so far from a served directory (relative path -> size and when last wanted).
/// Beyond [`CACHE_BYTES`], files the current read does not need are deleted, least recently wanted first.
#[derive(Debug, Default)]
pub(super) struct Cache {
    files: HashMap<String, (u64, u64)>,
    bytes: u64,
    tick: u64,
}

/// How many bytes of downloaded segments (of a served directory) or of byte ranges fetched from a bucket a remote
/// reader keeps between reads.
pub const CACHE_BYTES: u64 = 1 << 30;

impl Cache {
    fn has(&self, rel: &str) -> bool {
        self.files.contains_key(rel)
    }

    /// Marks the files a read wants as recently used.
    fn touch<'a>(&mut self, rels: impl Iterator<Item = &'a str>) {
        self.tick += 1;
        for rel in rels {
            if let Some(e) = self.files.get_mut(rel) {
                e.1 = self.tick;
            }
        }
    }

    fn add(&mut self, rel: &str, size: u64) {
        if let Some((old, _)) = self.files.insert(rel.to_owned(), (size, self.tick)) {
            self.bytes -= old;
        }
        self.bytes += size;
    }

    /// Deletes least recently wanted files not wanted now, until the cache is within its budget.
    fn evict(&mut self, dir: &std::path::Path, budget: u64) {
        if self.bytes <= budget {
            return;
        }
        let mut old: Vec<(u64, String)> = self
            .files
            .iter()
            .filter(|(_, (_, t))| *t < self.tick)
            .map(|(rel, (_, t))| (*t, rel.clone()))
            .collect();
        old.sort();
        for (_, rel) in old {
            if self.bytes <= budget {
                break;
            }
            let _ = std::fs::remove_file(abs_path(dir, &rel));
            if let Some((size, _)) = self.files.remove(&rel) {
                self.bytes -= size;
            }
        }
    }
}

impl Remote {
    /// The manifest of a served directory (none for object storage).
    pub(super) fn manifest(&self) -> Option<&Manifest> {
        match &self.source {
            Source::Http(s) => Some(&s.manifest),
            Source::Bucket { .. } => None,
        }
    }
}

/// A bearer token, kept out of `Debug` output.
pub(super) struct Token(String);

impl std::fmt::Debug for Token {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Token(..)")
    }
}

impl StoreReader {
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
        Self::from_remote_manifest(&base, &body, token)
    }

    /// The reader of the data directory at `base` (no trailing `/`) whose server sent `body` as its manifest.
    pub(crate) fn from_remote_manifest(
        base: &str,
        body: &[u8],
        token: Option<&str>,
    ) -> Result<StoreReader, Error> {
        let manifest_url = remote::join(base, MANIFEST_FILE);
        let manifest =
            Manifest::from_json(body, &manifest_url).map_err(|reason| Error::Remote {
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
            path: PathBuf::from(base),
            segments,
            host: None,
            journal_root: Some(dir.path().to_path_buf()),
            stops: manifest.stops.clone(),
            warnings: Arc::new(Mutex::new(Warnings::default())),
            journal_memo: Arc::default(),
            footers: Arc::default(),
            remote: Some(Arc::new(Remote {
                url: base.to_owned(),
                source: Source::Http(Served {
                    token: token.map(|t| Token(t.to_owned())),
                    manifest,
                    cache: Mutex::new(Cache::default()),
                    bytes: AtomicU64::new(0),
                }),
                dir,
            })),
        })
    }

    /// Opens a Hive-partitioned dataset in object storage (`s3://bucket/prefix`, `gs://...`, `az://...`): lists
    /// its objects now (hosts and dates come from the `host=`/`date=` paths), and fetches what a read needs when
    /// it happens, by byte ranges, many requests at once: the objects of the segments wholly inside its range (and
    /// small ones) whole, one request each; of the other segments of the partitions (host, date) in range the
    /// footers, then the column chunks of the row groups whose time statistics overlap it, of every table and every
    /// column, whichever of them the read decodes ([`coverage`](Self::coverage) needs the `samples` footers only,
    /// [`hosts`](Self::hosts) only the listing). Every range of an object comes from the version listed: an object
    /// replaced since is an [`Error::Remote`] naming its URL. What was fetched is kept in a local cache of at most
    /// [`CACHE_BYTES`](crate::CACHE_BYTES) fetched bytes between reads, least recently used objects dropped first.
    /// Credentials and endpoint come from the cloud's standard environment (for S3 `AWS_ACCESS_KEY_ID`,
    /// `AWS_SECRET_ACCESS_KEY`, `AWS_REGION`, `AWS_ENDPOINT_URL`, `AWS_ALLOW_HTTP`). A missing bucket, refused
    /// credentials or an unreachable endpoint is an [`Error::Remote`] naming the URL.
    pub fn open_bucket(url: &str) -> Result<StoreReader, Error> {
        Self::open_bucket_with(url, &[])
    }

    /// Like [`open_bucket`](Self::open_bucket), with `object_store` configuration keys applied over the
    /// environment's (`("aws_endpoint", "http://127.0.0.1:5000")`, `("aws_allow_http", "true")`, ...); an unknown
    /// key is an [`Error::Remote`].
    pub fn open_bucket_with(url: &str, options: &[(String, String)]) -> Result<StoreReader, Error> {
        let bucket = Bucket::open(url, options, Patience::Command)?;
        let dir = tempfile::Builder::new()
            .prefix("stabmon-bucket-")
            .tempdir()
            .map_err(io(std::env::temp_dir()))?;
        let mut objects = Vec::new();
        let mut segments = Vec::new();
        for o in bucket.list()? {
            if o.rel
                .split('/')
                .any(|p| p.starts_with('.') || p.starts_with('_'))
            {
                continue;
            }
            if let Some((loc, table)) = parse_segment_path(&abs_path(dir.path(), &o.rel)) {
                if loc.root != dir.path() {
                    continue; // a copy of other data kept below the prefix
                }
                if table == TABLES[0] {
                    segments.push(loc.clone());
                }
                objects.push((o, loc));
            }
        }
        segments.sort();
        segments.dedup();
        let url = bucket.url().to_owned();
        let cache = ObjectCache::new(
            bucket,
            dir.path(),
            objects
                .iter()
                .map(|(o, _)| (o.rel.clone(), o.size, o.version.clone())),
            CACHE_BYTES,
        );
        Ok(StoreReader {
            path: PathBuf::from(&url),
            segments,
            host: None,
            journal_root: None,
            stops: Vec::new(),
            warnings: Arc::new(Mutex::new(Warnings::default())),
            journal_memo: Arc::default(),
            footers: Arc::default(),
            remote: Some(Arc::new(Remote {
                url,
                source: Source::Bucket { cache, objects },
                dir,
            })),
        })
    }

    /// Requests for byte ranges this reader and its clones sent to the bucket it reads so far (`0` for a local
    /// directory or a served one): a read of a range that holds a whole segment sends one for each of its objects.
    pub fn fetch_requests(&self) -> u64 {
        match self.remote.as_deref().map(|r| &r.source) {
            Some(Source::Bucket { cache, .. }) => cache.requests(),
            _ => 0,
        }
    }

    /// Downloads what a read of `[from, to)` needs from a remote store: the segments in range (once, while the
    /// cache keeps them) and, from a served directory, the journals (every time: they grow).
    pub(super) fn fetch_remote(
        &self,
        r: &Remote,
        from: Option<Timestamp>,
        to: Option<Timestamp>,
    ) -> Result<(), Error> {
        match &r.source {
            Source::Http(served) => self.fetch_http(r, served, from, to),
            Source::Bucket { cache, objects } => {
                self.fetch_bucket(r, cache, objects, from, to, None)
            }
        }
    }

    /// Prepares a read of `[from, to)` from a bucket: creates the local sparse files of the objects of the
    /// partitions in range, then fetches, all overlapping, the objects wholly inside the range or smaller than
    /// [`SMALL_OBJECT`] whole (one request each), and of the others the footers, then (for all tables, not for one
    /// `table`'s footers) the column chunks of their row groups in range. An object listed but gone is skipped
    /// with a warning.
    pub(super) fn fetch_bucket(
        &self,
        r: &Remote,
        cache: &Arc<ObjectCache>,
        objects: &[(Object, SegmentLoc)],
        from: Option<Timestamp>,
        to: Option<Timestamp>,
        table: Option<&str>,
    ) -> Result<(), Error> {
        let (from_date, to_date) = (from.map(utc_date), to.map(utc_date));
        let wanted: Vec<(&Object, &SegmentLoc)> = objects
            .iter()
            .filter(|(_, loc)| self.host.as_ref().is_none_or(|h| *h == loc.host))
            .filter(|(_, loc)| {
                from_date.as_ref().is_none_or(|d| loc.date >= *d)
                    && to_date.as_ref().is_none_or(|d| loc.date <= *d)
                    // A segment is named by its first sample's time: one starting at or after `to` is out.
                    && to.zip(stem_start(&loc.name)).is_none_or(|(t, s)| s < t)
            })
            .map(|(o, loc)| (o, loc))
            .collect();
        // Every table's file of a segment, so that a later read of it finds its companions.
        let rels: Vec<&str> = wanted.iter().map(|(o, _)| o.rel.as_str()).collect();
        cache.placeholders(&rels)?;
        let (mut whole, mut ends) = (Vec::new(), Vec::new());
        for (o, loc) in wanted {
            match table {
                // A read of the range: most of a small object or of one inside the range is read, and a request
                // costs more than the bytes of its footer and of the row groups out of range.
                None if o.size <= SMALL_OBJECT || inside(loc, from, to) => {
                    whole.push(o.rel.as_str())
                }
                None => ends.push(o.rel.as_str()),
                Some(t) if o.rel.split('/').next() == Some(t) => ends.push(o.rel.as_str()),
                Some(_) => {}
            }
        }
        let range = table.is_none().then_some(super::range::Range { from, to });
        let gone = cache.prefetch(&whole, &ends, range)?;
        for rel in gone {
            let local = abs_path(r.dir.path(), &rel);
            cache.forget(&rel);
            self.warn(
                &local,
                &Error::Remote {
                    url: cache.bucket().object_url(&rel),
                    reason: "listed but gone (deleted by a lifecycle rule?)".into(),
                },
            );
        }
        Ok(())
    }

    fn fetch_http(
        &self,
        r: &Remote,
        served: &Served,
        from: Option<Timestamp>,
        to: Option<Timestamp>,
    ) -> Result<(), Error> {
        let (rels, segment_count) = self.remote_files(served, from, to);
        let urls = rels.iter().map(|p| remote::join(&r.url, p)).collect();
        let token = served.token.as_ref().map(|t| t.0.as_str());
        let got = remote::get_all(urls, token)?;
        for (i, (rel, got)) in rels.iter().zip(got).enumerate() {
            let local = abs_path(r.dir.path(), rel);
            match got {
                Got::Body(bytes) => {
                    served
                        .bytes
                        .fetch_add(bytes.len() as u64, Ordering::Relaxed);
                    if let Some(dir) = local.parent() {
                        std::fs::create_dir_all(dir).map_err(io(dir))?;
                    }
                    std::fs::write(&local, &bytes).map_err(io(&local))?;
                    if i < segment_count {
                        served.lock_cache().add(rel, bytes.len() as u64);
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
        served.lock_cache().evict(r.dir.path(), CACHE_BYTES);
        Ok(())
    }

    /// The files (relative paths from the manifest) a read of `[from, to)` downloads: the segments in range not
    /// downloaded yet, then the journals; and how many of them are segments.
    fn remote_files(
        &self,
        served: &Served,
        from: Option<Timestamp>,
        to: Option<Timestamp>,
    ) -> (Vec<String>, usize) {
        let manifest = &served.manifest;
        let host = self.host.as_deref();
        let wanted: HashSet<(&str, &str, &str)> = manifest
            .segments_in_range(TABLES[0], host, from, to)
            .into_iter()
            .map(|s| (s.host.as_str(), s.date.as_str(), s.name.as_str()))
            .collect();
        let wanted_paths: Vec<&str> = manifest
            .segments
            .iter()
            .filter(|s| wanted.contains(&(s.host.as_str(), s.date.as_str(), s.name.as_str())))
            .map(|s| s.path.as_str())
            .collect();
        let mut rels: Vec<String> = {
            let mut cache = served.lock_cache();
            cache.touch(wanted_paths.iter().copied());
            wanted_paths
                .iter()
                .filter(|p| !cache.has(p))
                .map(|p| (*p).to_owned())
                .collect()
        };
        let segment_count = rels.len();
        rels.extend(
            manifest
                .journals
                .iter()
                .filter(|j| host.is_none_or(|h| h == j.host))
                .map(|j| j.path.clone()),
        );
        (rels, segment_count)
    }

    /// For a served directory: its URL, the download directory, and every file a read of the whole range would
    /// download.
    #[cfg(feature = "fuzzing")]
    pub(crate) fn remote_downloads(&self) -> Option<(String, PathBuf, Vec<String>)> {
        let r = self.remote.as_deref()?;
        let Source::Http(served) = &r.source else {
            return None;
        };
        let (rels, _) = self.remote_files(served, None, None);
        Some((r.url.clone(), r.dir.path().to_path_buf(), rels))
    }
}

/// Objects of a read's range this small or smaller are fetched whole, in one request, without their footer first.
const SMALL_OBJECT: u64 = 256 * 1024;

/// Whether the segment `loc` lies wholly inside `[from, to)`: it starts at or after `from` (by its name, else by
/// its date) and its date partition ends by `to`.
fn inside(loc: &SegmentLoc, from: Option<Timestamp>, to: Option<Timestamp>) -> bool {
    let starts_in = from.is_none_or(|f| match stem_start(&loc.name) {
        Some(start) => start >= f,
        None => utc_date(f) < loc.date,
    });
    starts_in && to.is_none_or(|t| utc_date(t) > loc.date)
}
