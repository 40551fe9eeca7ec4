//! Objects in a bucket read by byte ranges. Each object is a sparse local file of its listed size in which only
//! the ranges fetched so far are written, with a record of which ranges those are, so the `File`-based Parquet
//! reader works on it as on a local segment. Every read goes through [`Input`], which fetches what is missing
//! before it reads: for a read of a time range, the objects wholly inside it (or small) in one request each, and of
//! the others the end (the footer: at first [`FOOTER_GUESS`] bytes, then as many as its table's footers took so
//! far; for coverage nothing else), then, as each end arrives, the column chunks of every table's row groups in that
//! range, every column, whichever the read decodes (one round of requests for the whole range rather than one per
//! row group decoded), and any other byte a read asks for. Requests overlap, up to [`IN_FLIGHT`] at once and
//! [`HELD_BYTES`] in memory, each written to its file as it arrives. Every range of an object comes from the
//! version the listing saw (its e-tag). Nothing is ever read from a part not fetched. The cache's budget counts the
//! bytes fetched, not the objects' sizes; beyond it, least recently used objects are emptied again.

use std::collections::{HashMap, HashSet, VecDeque};
use std::fs::File;
use std::io::{Read, Seek, SeekFrom, Write};
use std::ops::Range;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};

use bytes::Bytes;
use parquet::errors::ParquetError;
use parquet::file::metadata::{ParquetMetaData, ParquetMetaDataReader};
use parquet::file::reader::{ChunkReader, Length};

use crate::bucket::{Bucket, Version};
use crate::error::{Error, io};
use crate::manifest::abs_path;

use super::footers::{Footers, Stamp};
use super::page_header;
use super::range::Range as TimeRange;
use super::table::{chunk_bytes, ts_span};

/// How much of an object's end is fetched for its footer at first (a shorter object whole) while no footer of its
/// table was seen yet. A stabmon segment's footer is a few KiB to a few tens of KiB (a day of hourly row groups:
/// `samples` 55 KB, `processes` 17 KB, `names` 9 KB), so one request takes all of it; a longer footer's start takes
/// a second.
const FOOTER_GUESS: u64 = 64 * 1024;

/// The most fetched of an object's end at first, whatever the footers of its table seen before.
const FOOTER_MAX: u64 = 1024 * 1024;

/// How much of an object's end to fetch at first for its footer, given the longest footer (with its last eight
/// bytes) seen of its table: that and a quarter more (the footers of one table's segments differ little), else
/// [`FOOTER_GUESS`].
fn footer_guess(seen: Option<u64>) -> u64 {
    seen.map_or(FOOTER_GUESS, |n| (n + n / 4 + 1024).min(FOOTER_MAX))
}

/// The table an object belongs to: the first part of its path.
fn table_of(rel: &str) -> &str {
    rel.split('/').next().unwrap_or_default()
}

/// Ranges of one object closer than this are fetched as one request (the gap's bytes with them).
const MERGE_GAP: u64 = 16 * 1024;

/// Ranges of one object that make up at least this share (percent) of the span from the first one's start to the
/// last one's end are fetched as that one span: a request costs more than the bytes between them.
const COVER_PCT: u64 = 75;

/// At most this many bytes of requests are in flight at once: each body is written to its local file and recorded
/// as it arrives, so a long range's prefetch never holds more than this in memory.
const HELD_BYTES: u64 = 64 * 1024 * 1024;

/// The most one request asks for: a longer range goes in pieces, so that several fit in [`HELD_BYTES`] at once.
const PIECE_BYTES: u64 = 16 * 1024 * 1024;

/// Requests in flight at once, across objects.
const IN_FLIGHT: usize = 16;

/// How much a streaming read of an object takes from the local file at once.
const READ_AHEAD: usize = 64 * 1024;

/// How many times a read fetches what it needs again when other reads emptied the object meanwhile.
const READ_TRIES: usize = 4;
/// The most local files kept open for reading at once.
const OPEN_FILES: usize = 128;

/// How a reader opens its table files: a bucket reader through its object cache, and local files with the
/// footers its cache holds.
#[derive(Clone, Copy, Default)]
pub(crate) struct Objects<'a> {
    /// The object cache a bucket reader reads its table files through (`None` for a reader of local files).
    pub(crate) cache: Option<&'a Arc<ObjectCache>>,
    /// The footers parsed so far (`None`: each open parses its file's).
    pub(crate) footers: Option<&'a Footers>,
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    match m.lock() {
        Ok(g) => g,
        Err(p) => p.into_inner(),
    }
}

/// A bucket's objects as sparse local files under `root`, at their paths relative to the dataset's prefix.
pub(crate) struct ObjectCache {
    bucket: Bucket,
    root: PathBuf,
    budget: u64,
    state: Mutex<State>,
    /// The local files opened for reading, kept open (a day's read takes hundreds of thousands of column chunks).
    files: Mutex<HashMap<String, Arc<Mutex<File>>>>,
    fetched: AtomicU64,
    requests: AtomicU64,
}

impl std::fmt::Debug for ObjectCache {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ObjectCache")
            .field("bucket", &self.bucket)
            .field("root", &self.root)
            .finish()
    }
}

#[derive(Default)]
struct State {
    objects: HashMap<String, Entry>,
    /// Bytes present in the local files.
    bytes: u64,
    tick: u64,
    /// The longest footer seen (with its last eight bytes) by table.
    footers: HashMap<String, u64>,
}

struct Entry {
    /// The size the listing gave.
    size: u64,
    /// The ranges fetched, sorted and disjoint.
    present: Vec<Range<u64>>,
    /// When last read.
    tick: u64,
    /// Its row groups as its footer describes them, once parsed.
    groups: Option<Arc<[Group]>>,
    /// Listed, but found gone since: never fetched again, no local file.
    gone: bool,
    /// The version listed: every range is fetched from it.
    version: Version,
    /// How many times its local file was emptied: a read or write of the file done without the lock counts only
    /// where this did not change meanwhile.
    emptied: u64,
}

/// A range of an object to fetch, and what follows once it is there.
struct Job {
    rel: String,
    range: Range<u64>,
    then: Then,
}

/// What follows a fetched range.
#[derive(Clone, Copy)]
enum Then {
    /// Nothing.
    Nothing,
    /// It is the object's end: the rest of a longer footer follows, then, for a read of a time range, the column
    /// chunks of the row groups in it.
    Footer(Option<TimeRange>),
}

/// A row group: its first and last `ts` where the footer has them, and the byte ranges of its column chunks.
struct Group {
    span: Option<(i64, i64)>,
    chunks: Vec<Range<u64>>,
}

impl Entry {
    /// The end of the fetched run that holds `pos`, if one does.
    fn run_end(&self, pos: u64) -> Option<u64> {
        let i = self.present.partition_point(|r| r.end <= pos);
        self.present
            .get(i)
            .filter(|r| r.start <= pos)
            .map(|r| r.end)
    }

    /// The parts of `want` not fetched yet.
    fn missing(&self, want: Range<u64>) -> Vec<Range<u64>> {
        let mut out = Vec::new();
        let mut pos = want.start;
        for r in &self.present {
            if r.end <= pos {
                continue;
            }
            if r.start >= want.end {
                break;
            }
            if r.start > pos {
                out.push(pos..r.start);
            }
            pos = pos.max(r.end);
            if pos >= want.end {
                break;
            }
        }
        if pos < want.end {
            out.push(pos..want.end);
        }
        out
    }

    /// Records `got` as fetched; the bytes newly present.
    fn add(&mut self, got: Range<u64>) -> u64 {
        let new: u64 = self
            .missing(got.clone())
            .iter()
            .map(|r| r.end - r.start)
            .sum();
        let mut merged = Vec::with_capacity(self.present.len() + 1);
        let mut cur = got;
        for r in self.present.drain(..) {
            if r.end < cur.start || r.start > cur.end {
                merged.push(r);
            } else {
                cur = cur.start.min(r.start)..cur.end.max(r.end);
            }
        }
        merged.push(cur);
        merged.sort_by_key(|r| r.start);
        self.present = merged;
        new
    }
}

impl ObjectCache {
    /// A cache of the listed `objects` (relative path, size and version) of `bucket`, kept under `root`, fetching
    /// at most about `budget` bytes before it empties least recently used objects.
    pub(crate) fn new(
        bucket: Bucket,
        root: &Path,
        objects: impl IntoIterator<Item = (String, u64, Version)>,
        budget: u64,
    ) -> Arc<ObjectCache> {
        let objects = objects
            .into_iter()
            .map(|(rel, size, version)| {
                let entry = Entry {
                    size,
                    present: Vec::new(),
                    tick: 0,
                    groups: None,
                    gone: false,
                    version,
                    emptied: 0,
                };
                (rel, entry)
            })
            .collect();
        Arc::new(ObjectCache {
            bucket,
            root: root.to_path_buf(),
            budget,
            state: Mutex::new(State {
                objects,
                ..State::default()
            }),
            files: Mutex::default(),
            fetched: AtomicU64::new(0),
            requests: AtomicU64::new(0),
        })
    }

    /// The bucket.
    pub(crate) fn bucket(&self) -> &Bucket {
        &self.bucket
    }

    /// Bytes fetched from the bucket so far.
    pub(crate) fn fetched(&self) -> u64 {
        self.fetched.load(Ordering::Relaxed)
    }

    /// Requests for byte ranges sent to the bucket so far.
    pub(crate) fn requests(&self) -> u64 {
        self.requests.load(Ordering::Relaxed)
    }

    fn local(&self, rel: &str) -> PathBuf {
        abs_path(&self.root, rel)
    }

    fn object_error(&self, rel: &str, reason: String) -> Error {
        Error::Remote {
            url: self.bucket.object_url(rel),
            reason,
        }
    }

    /// Creates the sparse local files of `rels` where missing, so that a reader finds them (none for an object
    /// found gone).
    pub(crate) fn placeholders(&self, rels: &[&str]) -> Result<(), Error> {
        for rel in rels {
            let size = lock(&self.state)
                .objects
                .get(*rel)
                .filter(|e| !e.gone)
                .map(|e| e.size);
            if let Some(size) = size {
                self.placeholder(rel, size)?;
            }
        }
        Ok(())
    }

    /// Forgets what was fetched of `rel`, an object found gone: its bytes leave the cache's count, its local file
    /// is removed, and no read fetches it again (each says it is gone).
    pub(crate) fn forget(&self, rel: &str) {
        let mut st = lock(&self.state);
        self.forget_locked(&mut st, rel);
    }

    fn forget_locked(&self, st: &mut State, rel: &str) {
        let Some(e) = st.objects.get_mut(rel) else {
            return;
        };
        let held: u64 = e.present.iter().map(|r| r.end - r.start).sum();
        e.present.clear();
        e.emptied += 1;
        e.groups = None;
        e.gone = true;
        st.bytes -= held;
        lock(&self.files).remove(rel);
        let _ = std::fs::remove_file(self.local(rel));
    }

    /// Prepares a read: fetches the objects `whole` in one request each (where not present yet), and the ends of
    /// the objects `ends`: their last bytes ([`footer_guess`]), the rest of a longer footer, and, for a read of
    /// `range`, as each footer arrives, the column chunks of its row groups whose time statistics overlap `range`
    /// (and of those without statistics), every column: what the reads of that range will decode. All of it
    /// overlapping, as [`fetch`](Self::fetch) does. Objects whose footer cannot be read are left to the reader,
    /// which says what is wrong with them. Gives the objects that are gone.
    pub(super) fn prefetch(
        self: &Arc<Self>,
        whole: &[&str],
        ends: &[&str],
        range: Option<TimeRange>,
    ) -> Result<Vec<String>, Error> {
        let mut jobs = Vec::with_capacity(whole.len() + ends.len());
        {
            let st = lock(&self.state);
            for rel in ends {
                if let Some(e) = st.objects.get(*rel) {
                    // An end already fetched (by coverage) is not asked for again, however the guess grew.
                    let guess = match e.run_end(e.size.saturating_sub(1)) {
                        Some(_) => 1,
                        None => footer_guess(st.footers.get(table_of(rel)).copied()),
                    };
                    jobs.push(Job {
                        rel: (*rel).to_owned(),
                        range: e.size.saturating_sub(guess)..e.size,
                        then: Then::Footer(range),
                    });
                }
            }
            for rel in whole {
                if let Some(e) = st.objects.get(*rel) {
                    jobs.push(Job {
                        rel: (*rel).to_owned(),
                        range: 0..e.size,
                        then: Then::Nothing,
                    });
                }
            }
        }
        self.fetch(jobs)
    }

    /// What follows the end of `rel` being fetched: the rest of a footer longer than that, else, for a read of
    /// `range`, the column chunks of its row groups in range. Nothing for what is not Parquet: the reader says so.
    fn after_end(self: &Arc<Self>, rel: &str, range: Option<TimeRange>) -> Result<Vec<Job>, Error> {
        let Some(size) = self.size(rel) else {
            return Ok(Vec::new());
        };
        let Some(last) = self.read_present(rel, size.saturating_sub(8), 8)? else {
            return Ok(Vec::new());
        };
        if last.len() < 8 || &last[4..] != b"PAR1" {
            return Ok(Vec::new());
        }
        let len = u64::from(u32::from_le_bytes([last[0], last[1], last[2], last[3]]));
        // A footer longer than its object, or than any footer stabmon writes, is damage: left to the reader,
        // which says so naming the object, instead of fetched (and held) whole.
        if len + 8 > size || len > FOOTER_MAX * 64 {
            return Ok(Vec::new());
        }
        let footer = size - (len + 8)..size;
        let missing = {
            let mut st = lock(&self.state);
            let longest = st.footers.entry(table_of(rel).to_owned()).or_default();
            *longest = (*longest).max(len + 8);
            st.objects
                .get(rel)
                .is_some_and(|e| !e.missing(footer.clone()).is_empty())
        };
        if missing {
            return Ok(vec![Job {
                rel: rel.to_owned(),
                range: footer,
                then: Then::Footer(range),
            }]);
        }
        let (Some(range), Some(groups)) = (range, self.groups(rel)) else {
            return Ok(Vec::new());
        };
        Ok(groups
            .iter()
            .filter(|g| g.span.is_none_or(|(min, max)| range.overlaps(min, max)))
            .flat_map(|g| g.chunks.iter())
            .map(|c| Job {
                rel: rel.to_owned(),
                range: c.clone(),
                then: Then::Nothing,
            })
            .collect())
    }

    /// The row groups of `rel`, from its footer (parsed once, kept); `None` where the footer cannot be read.
    fn groups(self: &Arc<Self>, rel: &str) -> Option<Arc<[Group]>> {
        let size = {
            let st = lock(&self.state);
            let e = st.objects.get(rel)?;
            if let Some(g) = &e.groups {
                return Some(Arc::clone(g));
            }
            e.size
        };
        let input = Input::object(ObjectRef {
            cache: Arc::clone(self),
            rel: rel.to_owned(),
            size,
        });
        let md = ParquetMetaDataReader::new().parse_and_finish(&input).ok()?;
        let ts = md
            .file_metadata()
            .schema_descr()
            .columns()
            .iter()
            .position(|c| c.path().string() == "ts");
        let groups: Arc<[Group]> = md
            .row_groups()
            .iter()
            .map(|rg| Group {
                span: ts.and_then(|i| ts_span(rg, i)),
                chunks: rg
                    .columns()
                    .iter()
                    .filter_map(chunk_bytes)
                    .filter(|bytes| bytes.end <= size)
                    .collect(),
            })
            .collect();
        if let Some(e) = lock(&self.state).objects.get_mut(rel) {
            e.groups = Some(Arc::clone(&groups));
        }
        Some(groups)
    }

    /// The local file of `rel` at its listed size (sparse, nothing fetched) when it is not there yet.
    fn placeholder(&self, rel: &str, size: u64) -> Result<(), Error> {
        let path = self.local(rel);
        if path.exists() {
            return Ok(());
        }
        // Under the lock, never truncating: another read may be writing what it fetched into it.
        let _st = lock(&self.state);
        open_sized(&path, size).map(drop)
    }

    /// Fetches the parts of `jobs` not present yet, up to [`IN_FLIGHT`] requests at once and at most
    /// [`HELD_BYTES`] of them at once, each written into its local file and recorded as it arrives; where an
    /// object's end arrives, what follows it is asked for at once, while the other requests are still in flight.
    /// Every request asks for the version of the object that was listed. Then empties least recently used other
    /// objects while the cache is over its budget. Gives the objects that are gone.
    fn fetch(self: &Arc<Self>, jobs: Vec<Job>) -> Result<Vec<String>, Error> {
        let mut keep: HashSet<String> = jobs.iter().map(|j| j.rel.clone()).collect();
        let mut queue = VecDeque::new();
        let mut ends = Vec::new();
        let mut gone = Vec::new();
        self.plan(jobs, &mut queue, &mut ends, &mut gone)?;
        let (tx, rx) = std::sync::mpsc::channel();
        let mut flying: HashMap<u64, Job> = HashMap::new();
        let mut held = 0;
        let mut id = 0;
        loop {
            while let Some((rel, range)) = ends.pop() {
                let more = self.after_end(&rel, range)?;
                keep.extend(more.iter().map(|j| j.rel.clone()));
                self.plan(more, &mut queue, &mut ends, &mut gone)?;
            }
            while let Some(job) = queue.front() {
                let len = job.range.end - job.range.start;
                if flying.len() >= IN_FLIGHT || (!flying.is_empty() && held + len > HELD_BYTES) {
                    break;
                }
                let Some(job) = queue.pop_front() else { break };
                let version = match lock(&self.state).objects.get(&job.rel) {
                    Some(e) => e.version.clone(),
                    None => Version::default(),
                };
                self.bucket
                    .start_get(id, &job.rel, job.range.clone(), &version, &tx)?;
                self.requests.fetch_add(1, Ordering::Relaxed);
                held += len;
                flying.insert(id, job);
                id += 1;
            }
            if flying.is_empty() {
                break;
            }
            // Each request answers once, even from a failed task (and `tx` is still here).
            let Ok((done, got)) = rx.recv() else { break };
            let Some(job) = flying.remove(&done) else {
                continue;
            };
            held -= job.range.end - job.range.start;
            let Some(bytes) = got? else {
                self.forget(&job.rel);
                queue.retain(|j| j.rel != job.rel);
                gone.push(job.rel);
                continue;
            };
            self.fetched
                .fetch_add(bytes.len() as u64, Ordering::Relaxed);
            // Written without the lock (reads of other objects go on meanwhile), recorded only where the file was not
            // emptied meanwhile.
            let Some((size, emptied)) = lock(&self.state)
                .objects
                .get(&job.rel)
                .filter(|e| !e.gone)
                .map(|e| (e.size, e.emptied))
            else {
                continue;
            };
            write_at(&self.local(&job.rel), size, job.range.start, &bytes)?;
            {
                let mut st = lock(&self.state);
                let Some(e) = st.objects.get_mut(&job.rel) else {
                    continue;
                };
                if e.gone || e.emptied != emptied {
                    continue;
                }
                let new = e.add(job.range.clone());
                st.bytes += new;
            }
            if let Then::Footer(range) = job.then {
                ends.push((job.rel, range));
            }
        }
        self.evict(&keep);
        gone.sort();
        gone.dedup();
        Ok(gone)
    }

    /// Queues the parts of `jobs` not present yet as requests ([`requests`]); an object's end already present
    /// goes to `ends` instead, an object gone to `gone`.
    fn plan(
        &self,
        jobs: Vec<Job>,
        queue: &mut VecDeque<Job>,
        ends: &mut Vec<(String, Option<TimeRange>)>,
        gone: &mut Vec<String>,
    ) -> Result<(), Error> {
        let mut st = lock(&self.state);
        st.tick += 1;
        let tick = st.tick;
        // The missing parts by object and by whether they are its end, in the order first asked for.
        let mut order: Vec<(String, Then)> = Vec::new();
        let mut missing: HashMap<(String, bool), Vec<Range<u64>>> = HashMap::new();
        for job in jobs {
            let Some(e) = st.objects.get_mut(&job.rel) else {
                return Err(self.object_error(&job.rel, "not in the bucket's listing".into()));
            };
            if e.gone {
                gone.push(job.rel);
                continue;
            }
            if job.range.end > e.size {
                return Err(self.object_error(
                    &job.rel,
                    format!(
                        "a read asks for bytes {}..{}, but the object was listed at {} bytes (damaged, or \
                         changed since it was listed)",
                        job.range.start, job.range.end, e.size
                    ),
                ));
            }
            e.tick = tick;
            let parts = e.missing(job.range);
            let end = matches!(job.then, Then::Footer(_));
            if parts.is_empty() {
                if let Then::Footer(range) = job.then {
                    ends.push((job.rel, range));
                }
                continue;
            }
            let key = (job.rel, end);
            if !missing.contains_key(&key) {
                order.push((key.0.clone(), job.then));
            }
            missing.entry(key).or_default().extend(parts);
        }
        for (rel, then) in order {
            let end = matches!(then, Then::Footer(_));
            let Some(parts) = missing.remove(&(rel.clone(), end)) else {
                continue;
            };
            // An object's end is one request, whatever its length: what follows it waits for all of it.
            let piece = if end { u64::MAX } else { PIECE_BYTES };
            let present = st.objects.get(&rel).map_or(&[][..], |e| &e.present[..]);
            for range in requests(parts, present, piece) {
                queue.push_back(Job {
                    rel: rel.clone(),
                    range,
                    then,
                });
            }
        }
        Ok(())
    }

    /// Empties least recently used objects other than `keep` while the cache is over its budget.
    fn evict(&self, keep: &HashSet<String>) {
        let mut st = lock(&self.state);
        while st.bytes > self.budget {
            let victim = st
                .objects
                .iter()
                .filter(|(rel, e)| !e.present.is_empty() && !keep.contains(rel.as_str()))
                .min_by_key(|(_, e)| e.tick)
                .map(|(rel, _)| rel.clone());
            let Some(victim) = victim else { break };
            if let Some(e) = st.objects.get_mut(&victim) {
                let held: u64 = e.present.iter().map(|r| r.end - r.start).sum();
                e.present.clear();
                e.emptied += 1;
                let size = e.size;
                st.bytes -= held;
                lock(&self.files).remove(&victim);
                empty(&self.local(&victim), size);
            }
        }
    }

    /// Fetches `want` of `rel` where missing; an error when the object is gone.
    fn ensure(self: &Arc<Self>, rel: &str, want: Range<u64>) -> Result<(), Error> {
        let job = Job {
            rel: rel.to_owned(),
            range: want,
            then: Then::Nothing,
        };
        if self.fetch(vec![job])?.is_empty() {
            Ok(())
        } else {
            Err(self.object_error(rel, "listed but gone (deleted by a lifecycle rule?)".into()))
        }
    }

    /// `len` bytes of `rel` at `start` from the local file, or `None` when some of them are not fetched (now).
    /// Read without the lock, so that reads of other objects (and of this one) go on meanwhile; taken only where
    /// the file was not emptied meanwhile.
    fn read_present(&self, rel: &str, start: u64, len: usize) -> Result<Option<Vec<u8>>, Error> {
        let Some(emptied) = self
            .present_run(rel, start)
            .and_then(|(end, emptied)| (end >= start + len as u64).then_some(emptied))
        else {
            return Ok(None);
        };
        let bytes = self.read_at(rel, start, len)?;
        Ok(self.unchanged(rel, emptied).then_some(bytes))
    }

    /// `len` bytes at `offset` of the local file of `rel`, through a handle kept open.
    fn read_at(&self, rel: &str, offset: u64, len: usize) -> Result<Vec<u8>, Error> {
        let mut buf = vec![0; len];
        self.read_into(rel, offset, &mut buf)?;
        Ok(buf)
    }

    /// Fills `out` from `offset` of the local file of `rel`, through a handle kept open.
    fn read_into(&self, rel: &str, offset: u64, out: &mut [u8]) -> Result<(), Error> {
        let path = self.local(rel);
        let file = {
            let mut files = lock(&self.files);
            match files.get(rel) {
                Some(f) => Arc::clone(f),
                None => {
                    let f = Arc::new(Mutex::new(File::open(&path).map_err(io(&path))?));
                    // A fleet's week is thousands of objects: keep a bounded number open (a handle dropped here
                    // stays open until its last read ends), far below a process's default limit of files.
                    if files.len() >= OPEN_FILES
                        && let Some(other) = files.keys().next().cloned()
                    {
                        files.remove(&other);
                    }
                    files.insert(rel.to_owned(), Arc::clone(&f));
                    f
                }
            }
        };
        let mut f = lock(&file);
        f.seek(SeekFrom::Start(offset)).map_err(io(&path))?;
        f.read_exact(out).map_err(io(&path))
    }

    /// The end of the fetched run of `rel` that holds `pos`, and how many times its file was emptied so far.
    fn present_run(&self, rel: &str, pos: u64) -> Option<(u64, u64)> {
        let st = lock(&self.state);
        let e = st.objects.get(rel)?;
        e.run_end(pos).map(|end| (end, e.emptied))
    }

    /// Whether the local file of `rel` was not emptied since it had been `emptied` times.
    fn unchanged(&self, rel: &str, emptied: u64) -> bool {
        lock(&self.state)
            .objects
            .get(rel)
            .is_some_and(|e| !e.gone && e.emptied == emptied)
    }

    /// `len` bytes of `rel` at `start`, fetched first where missing, and again (a few times) where other reads
    /// emptied them from the local cache meanwhile; an error reading the local file is returned as it is.
    fn read(self: &Arc<Self>, rel: &str, start: u64, len: usize) -> Result<Vec<u8>, Error> {
        if len == 0 {
            return Ok(Vec::new());
        }
        // Most reads find their bytes prefetched: read them without planning a fetch.
        if let Some(bytes) = self.read_present(rel, start, len)? {
            return Ok(bytes);
        }
        let want = start..start + len as u64;
        for _ in 0..READ_TRIES {
            self.ensure(rel, want.clone())?;
            if let Some(bytes) = self.read_present(rel, start, len)? {
                return Ok(bytes);
            }
        }
        Err(self.object_error(
            rel,
            "other reads keep emptying the local cache before this one reads: it is too small"
                .into(),
        ))
    }

    /// Up to `out.len()` bytes of `rel` from `pos` into `out` (fewer where the fetched run ends sooner), fetched
    /// first when nothing at `pos` is present; how many.
    fn read_some(self: &Arc<Self>, rel: &str, pos: u64, out: &mut [u8]) -> Result<usize, Error> {
        for _ in 0..READ_TRIES {
            let run = {
                let st = lock(&self.state);
                let Some(e) = st.objects.get(rel) else {
                    return Err(self.object_error(rel, "not in the bucket's listing".into()));
                };
                if pos >= e.size || out.is_empty() {
                    return Ok(0);
                }
                e.run_end(pos).map(|end| (end, e.emptied))
            };
            if let Some((end, emptied)) = run {
                let n = (end - pos).min(out.len() as u64) as usize;
                self.read_into(rel, pos, &mut out[..n])?;
                if self.unchanged(rel, emptied) {
                    return Ok(n);
                }
                continue;
            }
            let size = self.size(rel).unwrap_or(0);
            self.ensure(rel, pos..(pos + out.len() as u64).min(size))?;
        }
        Err(self.object_error(
            rel,
            "other reads keep emptying the local cache before this one reads: it is too small"
                .into(),
        ))
    }

    fn size(&self, rel: &str) -> Option<u64> {
        lock(&self.state).objects.get(rel).map(|e| e.size)
    }
}

/// The requests that fetch `parts` (missing ranges of one object whose fetched ranges are `present`): sorted,
/// those closer than [`MERGE_GAP`] joined, all of them as one span where they make up [`COVER_PCT`] percent of
/// it or more, then cut in pieces of at most `piece` bytes. Nothing present is fetched again.
fn requests(mut parts: Vec<Range<u64>>, present: &[Range<u64>], piece: u64) -> Vec<Range<u64>> {
    let free = |gap: Range<u64>| {
        !present
            .iter()
            .any(|p| p.start < gap.end && gap.start < p.end)
    };
    parts.sort_by_key(|r| r.start);
    let mut merged: Vec<Range<u64>> = Vec::new();
    for r in parts {
        match merged.last_mut() {
            Some(last) if r.start <= last.end + MERGE_GAP && free(last.end..r.start) => {
                last.end = last.end.max(r.end)
            }
            _ => merged.push(r),
        }
    }
    if let (Some(first), Some(last)) = (merged.first(), merged.last()) {
        let span = first.start..last.end;
        let wanted: u64 = merged.iter().map(|r| r.end - r.start).sum();
        if wanted * 100 >= (span.end - span.start) * COVER_PCT && free(span.clone()) {
            merged = vec![span];
        }
    }
    let piece = piece.max(1);
    let mut out = Vec::with_capacity(merged.len());
    for r in merged {
        let mut pos = r.start;
        while pos < r.end {
            let end = r.end.min(pos.saturating_add(piece));
            out.push(pos..end);
            pos = end;
        }
    }
    out
}

/// Writes `bytes` at `offset` into the sparse file at `path` of `size` bytes, creating it when missing.
fn write_at(path: &Path, size: u64, offset: u64, bytes: &[u8]) -> Result<(), Error> {
    let mut f = open_sized(path, size)?;
    f.seek(SeekFrom::Start(offset)).map_err(io(path))?;
    f.write_all(bytes).map_err(io(path))
}

/// The file at `path` opened for writing, created when missing (sparse, `size` bytes long), never truncated.
fn open_sized(path: &Path, size: u64) -> Result<File, Error> {
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir).map_err(io(dir))?;
    }
    let f = std::fs::OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(false)
        .open(path)
        .map_err(io(path))?;
    if f.metadata().map_err(io(path))?.len() != size {
        f.set_len(size).map_err(io(path))?;
    }
    Ok(f)
}

/// Drops every fetched byte of a local file, keeping it at its size (sparse): a reader still finds it.
fn empty(path: &Path, size: u64) {
    if let Ok(f) = std::fs::OpenOptions::new().write(true).open(path) {
        let _ = f.set_len(0).and_then(|()| f.set_len(size));
    }
}

/// The object of `cache` at `path` (under the cache's directory): its path relative to it, and its size.
fn lookup(cache: &ObjectCache, path: &Path) -> Option<(String, u64)> {
    let rel = path.strip_prefix(&cache.root).ok()?;
    let rel = rel
        .components()
        .map(|p| p.as_os_str().to_str())
        .collect::<Option<Vec<_>>>()?
        .join("/");
    let size = cache.size(&rel)?;
    Some((rel, size))
}

/// The column chunks of `md` as an [`Input`] bounds its reads by ([`Input::bound_to`]).
pub(crate) fn chunk_bounds(md: &ParquetMetaData) -> Arc<[(u64, u64)]> {
    bounds_of(
        md.row_groups()
            .iter()
            .flat_map(|rg| rg.columns().iter().filter_map(chunk_bytes)),
    )
}

/// `chunks` by start, each with the furthest end of the chunks up to it.
fn bounds_of(chunks: impl IntoIterator<Item = Range<u64>>) -> Arc<[(u64, u64)]> {
    let mut v: Vec<(u64, u64)> = chunks
        .into_iter()
        .filter(|c| !c.is_empty())
        .map(|c| (c.start, c.end))
        .collect();
    v.sort_unstable();
    let mut reach = 0;
    for c in &mut v {
        reach = reach.max(c.1);
        c.1 = reach;
    }
    v.into()
}

/// An object of a cache, as the Parquet reader reads it.
#[derive(Clone)]
pub(crate) struct ObjectRef {
    cache: Arc<ObjectCache>,
    rel: String,
    size: u64,
}

/// A table file to read: a local file, or an object of a bucket read through its cache.
pub(crate) struct Input {
    source: Source,
    /// The file's column chunks, once its footer is read and checked ([`bound_to`](Input::bound_to)):
    /// a read that starts in one reads a page header, which is checked before it is handed out, and nothing past
    /// the chunk's end. By start, each with the furthest end of the chunks up to it (a damaged footer's chunks
    /// may overlap).
    chunks: Arc<[(u64, u64)]>,
    /// The file's length when opened (table files are not written again in place): the reader asks it for every
    /// page.
    len: u64,
    /// A local file's length and modification time when opened.
    stamp: Option<Stamp>,
}

/// Where an [`Input`]'s bytes are.
enum Source {
    /// A local file, shared by the reads of it (each reads at its own offsets).
    Local(Arc<File>),
    /// An object in a bucket.
    Object(ObjectRef),
}

/// Reads from `pos` without moving the file's offset (where the platform has a positional read).
fn pread(f: &File, out: &mut [u8], pos: u64) -> std::io::Result<usize> {
    #[cfg(unix)]
    {
        std::os::unix::fs::FileExt::read_at(f, out, pos)
    }
    #[cfg(windows)]
    {
        std::os::windows::fs::FileExt::seek_read(f, out, pos)
    }
    #[cfg(not(any(unix, windows)))]
    {
        let mut f = f;
        f.seek(SeekFrom::Start(pos))?;
        f.read(out)
    }
}

/// Reads into `out` from offset `pos` of `f` without moving its offset; fills it unless the file ends sooner. How
/// many.
fn pread_full(f: &File, pos: u64, out: &mut [u8]) -> std::io::Result<usize> {
    let mut got = 0;
    while got < out.len() {
        match pread(f, &mut out[got..], pos + got as u64) {
            Ok(0) => break,
            Ok(n) => got += n,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    Ok(got)
}

impl Source {
    /// Another handle on the same bytes.
    fn try_clone(&self) -> std::io::Result<Source> {
        Ok(match self {
            Source::Local(f) => Source::Local(Arc::clone(f)),
            Source::Object(o) => Source::Object(o.clone()),
        })
    }

    /// Reads into `out` from offset `pos`; fills it unless the bytes end sooner. How many.
    fn read_at(&mut self, pos: u64, out: &mut [u8]) -> std::io::Result<usize> {
        let mut got = 0;
        while got < out.len() {
            let n = match self {
                // Positional: the handle's offset is shared with its clones, which other threads read through.
                Source::Local(f) => match pread(f, &mut out[got..], pos + got as u64) {
                    Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
                    r => r?,
                },
                Source::Object(o) => o
                    .cache
                    .read_some(&o.rel, pos + got as u64, &mut out[got..])
                    .map_err(std::io::Error::other)?,
            };
            if n == 0 {
                break;
            }
            got += n;
        }
        Ok(got)
    }
}

impl Input {
    /// Opens `path`: through `objects` when it is one of theirs, else as a local file.
    pub(crate) fn open(path: &Path, objects: Objects<'_>) -> Result<Input, Error> {
        if let Some(cache) = objects.cache
            && let Some((rel, size)) = lookup(cache, path)
        {
            let cache = Arc::clone(cache);
            return Ok(Input::object(ObjectRef { cache, rel, size }));
        }
        let file = File::open(path).map_err(io(path))?;
        let meta = file.metadata().map_err(io(path))?;
        let len = meta.len();
        Ok(Input {
            source: Source::Local(Arc::new(file)),
            chunks: Arc::new([]),
            len,
            stamp: Some(Stamp::of(&meta)),
        })
    }

    /// A local file's length and modification time when opened (`None` for an object).
    pub(crate) fn stamp(&self) -> Option<Stamp> {
        self.stamp
    }

    /// An object of a cache.
    fn object(o: ObjectRef) -> Input {
        Input {
            len: o.size,
            source: Source::Object(o),
            chunks: Arc::new([]),
            stamp: None,
        }
    }

    /// Another handle on the same file.
    pub(crate) fn try_clone(&self, path: &Path) -> Result<Input, Error> {
        Ok(Input {
            source: self.source.try_clone().map_err(io(path))?,
            chunks: Arc::clone(&self.chunks),
            len: self.len,
            stamp: self.stamp,
        })
    }

    /// Takes the column chunks of the file's footer (checked to lie inside the file), as [`chunk_bounds`] gives
    /// them: from then on, a read that starts inside one is taken for the reading of a page header. The parquet
    /// crate reads page headers from a stream, and on damaged bytes it would read past the chunk (to the end of
    /// the file, and there take "no more bytes" for an answer many times over) or skip a declared list of
    /// booleans without reading it: such a read ends in an error at the chunk's end, and each header is checked
    /// first ([`page_header::check`]), so that a damaged one is refused before the crate parses it.
    pub(crate) fn bound_to(&mut self, chunks: Arc<[(u64, u64)]>) {
        self.chunks = chunks;
    }

    /// Takes `chunks` for the file's column chunks (see [`bound_to`](Input::bound_to)).
    #[cfg(test)]
    fn set_chunks(&mut self, chunks: impl IntoIterator<Item = Range<u64>>) {
        self.chunks = bounds_of(chunks);
    }

    /// Where a read from `start` must stop, and whether it starts at a page header: the furthest end of the
    /// column chunks holding `start`, else the end of the file.
    fn bound(&self, start: u64) -> (u64, bool) {
        // Of the chunks starting at or before `start`, those ending after it hold it: the furthest end of all of
        // them is past `start` only where one does, and is then the furthest end of those.
        let i = self.chunks.partition_point(|c| c.0 <= start);
        match i
            .checked_sub(1)
            .and_then(|i| self.chunks.get(i))
            .map(|c| c.1)
        {
            Some(end) if end > start => (end.min(self.len()), true),
            _ => (self.len(), false),
        }
    }

    /// Fetches ahead, all at once, the byte ranges a read will ask for (nothing for a local file).
    pub(crate) fn prefetch(
        &self,
        ranges: impl IntoIterator<Item = Range<u64>>,
    ) -> Result<(), Error> {
        let Source::Object(o) = &self.source else {
            return Ok(());
        };
        let jobs = ranges
            .into_iter()
            .map(|range| Job {
                rel: o.rel.clone(),
                range,
                then: Then::Nothing,
            })
            .collect();
        if !o.cache.fetch(jobs)?.is_empty() {
            return Err(o.cache.object_error(
                &o.rel,
                "listed but gone (deleted by a lifecycle rule?)".into(),
            ));
        }
        Ok(())
    }
}

impl Length for Input {
    fn len(&self) -> u64 {
        self.len
    }
}

impl ChunkReader for Input {
    type T = InputRead;

    fn get_read(&self, start: u64) -> parquet::errors::Result<InputRead> {
        let len = self.len();
        if start > len {
            return Err(ParquetError::EOF(format!(
                "a read from offset {start} of a file of {len} bytes"
            )));
        }
        let (end, header) = self.bound(start);
        let ahead = match self.source {
            Source::Local(_) => LOCAL_READ_AHEAD,
            Source::Object(_) => READ_AHEAD,
        };
        Ok(InputRead {
            source: self.source.try_clone()?,
            pos: start,
            end,
            header,
            ahead,
            buf: Vec::new(),
            at: 0,
        })
    }

    fn get_bytes(&self, start: u64, length: usize) -> parquet::errors::Result<Bytes> {
        let bytes = match &self.source {
            // One positional read into a buffer of the size asked (no handle cloned, no offset moved).
            Source::Local(f) => {
                let mut buf = vec![0u8; length];
                let got = pread_full(f, start, &mut buf)?;
                if got != length {
                    return Err(ParquetError::EOF(format!(
                        "{length} bytes at offset {start} asked, {got} read"
                    )));
                }
                Bytes::from(buf)
            }
            Source::Object(o) => o
                .cache
                .read(&o.rel, start, length)
                .map(Bytes::from)
                .map_err(|e| ParquetError::External(Box::new(e)))?,
        };
        // Before the footer is parsed, a read that ends where the file's last eight bytes start is of its footer
        // metadata: checked before the crate parses it (see `page_header::check_footer`).
        let footer =
            self.chunks.is_empty() && start.saturating_add(length as u64 + 8) == self.len();
        if footer && let Err(why) = page_header::check_footer(&bytes) {
            return Err(ParquetError::General(format!(
                "its footer ({length} bytes at offset {start}) is damaged: {why}"
            )));
        }
        Ok(bytes)
    }
}

/// What a read of a local file reads ahead (as much as the `BufReader` the parquet crate would use).
const LOCAL_READ_AHEAD: usize = 8 * 1024;

/// What is read first of a page header (the crate reads a page's body with a read of its own): a stabmon page's
/// header is 20 to 60 bytes (no page statistics), and a read of the whole read-ahead for each of them copied
/// (and first zeroed) 8 KiB a page.
const HEADER_GUESS: usize = 256;

/// A reader from an offset of an [`Input`], to the end of the column chunk it starts in (else of the file): reads
/// what it read ahead, and reads ahead where nothing is (an object's bytes are fetched first where they are not
/// yet). The parquet crate reads page headers through it a few bytes at a time. A read past the end is an error
/// (`UnexpectedEof`), not the zero bytes of an ordinary end: the crate takes those for bytes skipped.
pub(crate) struct InputRead {
    source: Source,
    /// The offset of the byte after `buf`.
    pos: u64,
    /// The offset where reading stops.
    end: u64,
    /// Whether the read starts at a page header not yet checked.
    header: bool,
    /// How much to read ahead.
    ahead: usize,
    /// Bytes read ahead.
    buf: Vec<u8>,
    /// How much of `buf` was handed out.
    at: usize,
}

impl InputRead {
    /// Reads the page header at `pos`, as far as it goes, into `buf` (at least [`InputRead::ahead`] bytes where
    /// the chunk has them) and checks it.
    fn check_header(&mut self) -> std::io::Result<()> {
        use std::io::{Error as IoError, ErrorKind};
        let (start, total) = (self.pos, self.end.saturating_sub(self.pos));
        // Most page headers are a few dozen bytes: a short read first, twice as long again while it is not enough.
        let mut want = total.min(self.ahead.min(HEADER_GUESS) as u64);
        loop {
            self.buf.resize(want as usize, 0);
            let got = self.source.read_at(start, &mut self.buf)?;
            self.buf.truncate(got);
            match page_header::check(&self.buf, total) {
                Ok(_) => break,
                Err(page_header::Refused::Short) if got as u64 == want && want < total => {
                    want = want.saturating_mul(2).min(total);
                }
                Err(page_header::Refused::Short) if got as u64 == want => {
                    return Err(IoError::new(
                        ErrorKind::UnexpectedEof,
                        format!(
                            "the page header at offset {start} runs past the end of its column chunk \
                             (offset {})",
                            self.end
                        ),
                    ));
                }
                Err(page_header::Refused::Short) => {
                    return Err(IoError::new(
                        ErrorKind::UnexpectedEof,
                        format!(
                            "the file ends at offset {} inside the page header at offset {start}",
                            start + got as u64
                        ),
                    ));
                }
                Err(why) => {
                    return Err(IoError::new(
                        ErrorKind::InvalidData,
                        format!("the page header at offset {start} is damaged: {why}"),
                    ));
                }
            }
        }
        self.header = false;
        self.pos = start + self.buf.len() as u64;
        self.at = 0;
        Ok(())
    }

    /// Reads ahead from `pos`.
    fn fill(&mut self) -> std::io::Result<()> {
        use std::io::{Error as IoError, ErrorKind};
        if self.pos >= self.end {
            return Err(IoError::new(
                ErrorKind::UnexpectedEof,
                format!(
                    "a read past offset {}, the end of its column chunk or of the file",
                    self.end
                ),
            ));
        }
        let want = (self.end - self.pos).min(self.ahead as u64) as usize;
        self.buf.resize(want, 0);
        let got = self.source.read_at(self.pos, &mut self.buf)?;
        if got == 0 {
            return Err(IoError::new(
                ErrorKind::UnexpectedEof,
                format!(
                    "the file ends at offset {}, before offset {}",
                    self.pos, self.end
                ),
            ));
        }
        self.buf.truncate(got);
        self.pos += got as u64;
        self.at = 0;
        Ok(())
    }
}

impl Read for InputRead {
    fn read(&mut self, out: &mut [u8]) -> std::io::Result<usize> {
        if out.is_empty() {
            return Ok(0);
        }
        if self.at == self.buf.len() {
            if self.header {
                self.check_header()?;
            } else {
                self.fill()?;
            }
        }
        let n = out.len().min(self.buf.len() - self.at);
        out[..n].copy_from_slice(&self.buf[self.at..self.at + n]);
        self.at += n;
        Ok(n)
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use crate::bucket::Patience;

    /// A cache of `budget` bytes over two 10,000-byte objects of a `file://` bucket.
    fn two_objects(
        budget: u64,
    ) -> (
        tempfile::TempDir,
        tempfile::TempDir,
        Arc<ObjectCache>,
        Vec<Vec<u8>>,
    ) {
        let src = tempfile::tempdir().unwrap();
        let bodies: Vec<Vec<u8>> = (0..2u8)
            .map(|k| (0..10_000u32).map(|i| (i % 251) as u8 ^ k).collect())
            .collect();
        for (k, b) in bodies.iter().enumerate() {
            std::fs::write(src.path().join(format!("o{k}")), b).unwrap();
        }
        let url = format!("file://{}", src.path().display());
        let bucket = Bucket::open(&url, &[], Patience::Command).unwrap();
        let root = tempfile::tempdir().unwrap();
        let objects: Vec<_> = bucket
            .list()
            .unwrap()
            .into_iter()
            .map(|o| (o.rel, o.size, o.version))
            .collect();
        assert_eq!(objects.len(), 2);
        assert!(
            objects
                .iter()
                .all(|(_, size, v)| *size == 10_000 && v.e_tag.is_some())
        );
        let cache = ObjectCache::new(bucket, root.path(), objects, budget);
        (src, root, cache, bodies)
    }

    #[test]
    fn reads_fetch_only_what_is_missing_and_the_budget_empties_the_least_recently_used() {
        let (_src, root, cache, bodies) = two_objects(6_000);
        assert_eq!(cache.read("o0", 100, 50).unwrap(), bodies[0][100..150]);
        assert_eq!(cache.fetched(), 50);
        assert_eq!(cache.read("o0", 120, 10).unwrap(), bodies[0][120..130]);
        assert_eq!(cache.fetched(), 50, "present: nothing fetched");
        // A read past what is present fetches only the rest.
        assert_eq!(cache.read("o0", 100, 5_000).unwrap(), bodies[0][100..5_100]);
        assert_eq!(cache.fetched(), 5_000);
        // The local file has the object's size; what was not fetched is a hole of zeros.
        let local = root.path().join("o0");
        assert_eq!(std::fs::metadata(&local).unwrap().len(), 10_000);
        // The other object pushes the cache over its budget: the first is emptied, still there at its size.
        assert_eq!(cache.read("o1", 0, 4_000).unwrap(), bodies[1][..4_000]);
        assert_eq!(lock(&cache.state).bytes, 4_000);
        assert!(std::fs::read(&local).unwrap().iter().all(|b| *b == 0));
        // Read again, it is fetched again, and right.
        assert_eq!(cache.read("o0", 9_000, 1_000).unwrap(), bodies[0][9_000..]);
        assert_eq!(cache.fetched(), 10_000);
        // A streaming read takes the fetched run, then fetches where nothing is.
        let mut r = Input::object(ObjectRef {
            cache: Arc::clone(&cache),
            rel: "o0".into(),
            size: 10_000,
        })
        .get_read(9_990)
        .unwrap();
        let mut rest = [0u8; 10];
        r.read_exact(&mut rest).unwrap();
        assert_eq!(rest, bodies[0][9_990..]);
        // Past the end a read is an error, not the zero bytes the parquet crate would take for bytes skipped.
        let e = r.read(&mut [0u8; 16]).unwrap_err();
        assert_eq!(e.kind(), std::io::ErrorKind::UnexpectedEof, "{e}");
    }

    /// A local file of three "column chunks": a page header the parquet crate writes at 0 (and its 18 bytes of
    /// page), a damaged one at 40, a long one at 100 whose unknown field holds 20,000 bytes.
    fn local_chunks() -> (tempfile::NamedTempFile, Input, Vec<u8>) {
        let good = [
            0x15, 0x00, 0x15, 0x24, 0x15, 0x24, 0x2c, 0x15, 0x06, 0x15, 0x12, 0x15, 0x06, 0x15,
            0x06, 0x00, 0x00,
        ];
        let mut bytes = vec![0u8; 100];
        bytes[..good.len()].copy_from_slice(&good);
        // At 40: the page's type as a list of 126,680,298 UUIDs.
        bytes[40..47].copy_from_slice(&[0x19, 0xfd, 0xea, 0xf9, 0xb3, 0x3c, 0x00]);
        // At 100: the same header with a field 9 of 20,000 bytes (a varint of 3 bytes), then its stop.
        bytes.extend_from_slice(&good[..16]);
        bytes.extend_from_slice(&[0x48, 0xa0, 0x9c, 0x01]);
        bytes.extend(std::iter::repeat_n(0xee, 20_000));
        bytes.push(0);
        let mut f = tempfile::NamedTempFile::new().unwrap();
        f.write_all(&bytes).unwrap();
        let mut input = Input::open(f.path(), Objects::default()).unwrap();
        input.set_chunks([0..40, 40..100, 100..bytes.len() as u64]);
        (f, input, bytes)
    }

    #[test]
    fn a_page_header_is_checked_before_it_is_read_and_no_read_passes_its_chunk() {
        let (_f, input, bytes) = local_chunks();
        // A good header reads, to the end of its chunk and no further.
        let mut r = input.get_read(0).unwrap();
        let mut chunk = Vec::new();
        let e = r.read_to_end(&mut chunk).unwrap_err();
        assert_eq!(chunk, bytes[..40]);
        assert_eq!(e.kind(), std::io::ErrorKind::UnexpectedEof, "{e}");
        assert!(e.to_string().contains("past offset 40"), "{e}");
        // A damaged header is refused at the first byte asked for.
        let e = input.get_read(40).unwrap().read(&mut [0u8]).unwrap_err();
        assert_eq!(e.kind(), std::io::ErrorKind::InvalidData, "{e}");
        assert!(
            e.to_string()
                .contains("page header at offset 40 is damaged: field 1 is stored as a list"),
            "{e}"
        );
        // A header longer than what is read ahead is read whole, then checked.
        let mut r = input.get_read(100).unwrap();
        let mut head = vec![0u8; 16 + 4 + 20_000 + 1];
        r.read_exact(&mut head).unwrap();
        assert_eq!(head, bytes[100..]);
        // Outside the chunks, a read goes to the end of the file, and no further.
        let (_f, mut input, bytes) = local_chunks();
        input.set_chunks([]);
        let mut all = Vec::new();
        let e = input
            .get_read(40)
            .unwrap()
            .read_to_end(&mut all)
            .unwrap_err();
        assert_eq!(all, bytes[40..]);
        assert_eq!(e.kind(), std::io::ErrorKind::UnexpectedEof, "{e}");
        assert!(input.get_read(bytes.len() as u64 + 1).is_err());
        // Overlapping chunks (a damaged footer): a read in two of them may go to the further end.
        input.set_chunks([30..100, 0..40, 10..20, 200..300]);
        let len = bytes.len() as u64;
        assert_eq!(input.bound(15), (40, true));
        assert_eq!(input.bound(35), (100, true));
        assert_eq!(input.bound(100), (len, false));
        assert_eq!(input.bound(250), (300, true));
        assert_eq!(input.bound(len - 1), (len, false));
    }

    #[test]
    fn reads_beyond_the_listed_size_or_of_an_object_shorter_than_listed_are_errors_naming_it() {
        let (src, _root, cache, _) = two_objects(1 << 20);
        let e = cache.read("o0", 9_990, 20).unwrap_err().to_string();
        assert!(
            e.contains("/o0") && e.contains("listed at 10000 bytes"),
            "{e}"
        );
        std::fs::write(src.path().join("o1"), b"short").unwrap();
        let e = cache.read("o1", 0, 100).unwrap_err().to_string();
        assert!(
            e.contains("/o1") && e.contains("changed since it was listed"),
            "{e}"
        );
        // From a store that gives no version, the length still tells.
        for e in lock(&cache.state).objects.values_mut() {
            e.version = Version::default();
        }
        let e = cache.read("o1", 0, 100).unwrap_err().to_string();
        assert!(e.contains("/o1") && e.contains("shorter"), "{e}");
        std::fs::remove_file(src.path().join("o1")).unwrap();
        let e = cache.read("o1", 0, 100).unwrap_err().to_string();
        assert!(e.contains("/o1") && e.contains("gone"), "{e}");
    }

    #[test]
    #[allow(clippy::single_range_in_vec_init)]
    fn requests_join_near_or_mostly_covering_ranges_and_cut_long_ones_in_pieces() {
        // Far apart and covering little of their span: one request each, in order.
        let far = requests(vec![500_000..510_000, 0..10_000], &[], u64::MAX);
        assert_eq!(far, vec![0..10_000, 500_000..510_000]);
        // Closer than the gap: one request, the gap's bytes with it.
        assert_eq!(
            requests(
                vec![0..100, 100 + MERGE_GAP..200 + MERGE_GAP],
                &[],
                u64::MAX
            ),
            vec![0..200 + MERGE_GAP]
        );
        // Apart, but most of their span: the span.
        let mostly = requests(vec![0..400_000, 450_000..1_000_000], &[], u64::MAX);
        assert_eq!(mostly, vec![0..1_000_000]);
        // But never over bytes already fetched.
        let around = requests(
            vec![0..400_000, 450_000..1_000_000],
            &[420_000..430_000],
            u64::MAX,
        );
        assert_eq!(around, vec![0..400_000, 450_000..1_000_000]);
        assert_eq!(
            requests(vec![0..100, 200..300], &[150..160], u64::MAX),
            vec![0..100, 200..300]
        );
        // Cut in pieces of at most `piece` bytes, covering every byte once.
        assert_eq!(
            requests(vec![10..260], &[], 100),
            vec![10..110, 110..210, 210..260]
        );
        assert!(requests(Vec::new(), &[], 100).is_empty());
    }

    #[test]
    fn the_footer_guess_follows_the_footers_seen_of_a_table() {
        assert_eq!(footer_guess(None), FOOTER_GUESS);
        assert_eq!(footer_guess(Some(8_000)), 11_024);
        assert_eq!(footer_guess(Some(55_000)), 69_774);
        assert_eq!(footer_guess(Some(10 << 20)), FOOTER_MAX);
        assert_eq!(
            table_of("samples/host=a/date=2026-11-02/x.parquet"),
            "samples"
        );
    }

    #[test]
    fn an_object_changed_since_it_was_listed_is_an_error_naming_it_not_a_mix_of_versions() {
        let (src, _root, cache, bodies) = two_objects(1 << 20);
        assert_eq!(cache.read("o0", 0, 100).unwrap(), bodies[0][..100]);
        // Replaced by another version of the same size (and another time), between two reads of it.
        let path = src.path().join("o0");
        let other: Vec<u8> = bodies[0].iter().map(|b| b ^ 0xff).collect();
        std::fs::write(&path, &other).unwrap();
        let f = std::fs::OpenOptions::new().write(true).open(&path).unwrap();
        f.set_modified(
            std::time::SystemTime::UNIX_EPOCH + std::time::Duration::from_secs(1_000_000),
        )
        .unwrap();
        drop(f);
        let e = cache.read("o0", 5_000, 100).unwrap_err().to_string();
        assert!(
            e.contains("/o0") && e.contains("changed since it was listed"),
            "{e}"
        );
        assert!(!e.contains('\n'), "{e}");
        // What was fetched of the listed version is still read as it was; the other object is untouched.
        assert_eq!(cache.read("o0", 0, 100).unwrap(), bodies[0][..100]);
        assert_eq!(cache.read("o1", 0, 100).unwrap(), bodies[1][..100]);
    }

    #[test]
    fn a_prefetch_fetches_whole_objects_in_one_request_each_and_ends_in_one() {
        let (_src, _root, cache, bodies) = two_objects(1 << 20);
        // o0 whole, o1's end (not Parquet: nothing follows it).
        assert!(cache.prefetch(&["o0"], &["o1"], None).unwrap().is_empty());
        assert_eq!(cache.requests(), 2);
        assert_eq!(
            cache.fetched(),
            20_000,
            "o1 is shorter than the footer's guess"
        );
        assert_eq!(cache.read("o0", 0, 10_000).unwrap(), bodies[0]);
        assert_eq!(cache.read("o1", 0, 10_000).unwrap(), bodies[1]);
        assert_eq!(cache.requests(), 2, "everything was there");
    }

    #[test]
    fn an_empty_read_is_empty_and_a_local_read_error_is_not_taken_for_a_small_cache() {
        let (_src, root, cache, _) = two_objects(1 << 20);
        assert_eq!(cache.read("o0", 500, 0).unwrap(), Vec::<u8>::new());
        assert_eq!(cache.read_some("o1", 500, &mut []).unwrap(), 0);
        assert_eq!(cache.fetched(), 0);
        cache.read("o0", 0, 100).unwrap();
        // The local file is cut short behind the cache's back: the read says what failed, on which file.
        let local = root.path().join("o0");
        std::fs::OpenOptions::new()
            .write(true)
            .open(&local)
            .unwrap()
            .set_len(50)
            .unwrap();
        let e = cache.read("o0", 0, 100).unwrap_err().to_string();
        assert!(!e.contains("too small"), "{e}");
        assert!(e.contains(&local.display().to_string()), "{e}");
    }

    #[test]
    fn a_gone_object_is_forgotten_and_never_comes_back_as_zeros() {
        let (src, root, cache, bodies) = two_objects(1 << 20);
        assert_eq!(cache.read("o0", 0, 1_000).unwrap(), bodies[0][..1_000]);
        assert_eq!(cache.read("o1", 0, 300).unwrap(), bodies[1][..300]);
        assert_eq!(lock(&cache.state).bytes, 1_300);
        cache.forget("o0");
        let local = root.path().join("o0");
        assert!(!local.exists());
        assert_eq!(lock(&cache.state).bytes, 300);
        cache.placeholders(&["o0", "o1"]).unwrap();
        assert!(!local.exists(), "a gone object gets no local file");
        // Even once back in the bucket, it is not read, and nothing "present" is read as zeros.
        let e = cache.read("o0", 0, 1_000).unwrap_err().to_string();
        assert!(e.contains("/o0") && e.contains("gone"), "{e}");
        // Found gone by a fetch, it is forgotten the same way.
        std::fs::remove_file(src.path().join("o1")).unwrap();
        assert!(cache.read("o1", 300, 100).is_err());
        assert!(!root.path().join("o1").exists());
        assert_eq!(lock(&cache.state).bytes, 0);
    }

    fn entry(present: &[Range<u64>]) -> Entry {
        Entry {
            size: 1000,
            present: present.to_vec(),
            tick: 0,
            groups: None,
            gone: false,
            version: Version::default(),
            emptied: 0,
        }
    }

    #[test]
    fn missing_and_add() {
        let mut e = entry(&[10..20, 30..40]);
        assert_eq!(e.missing(0..50), vec![0..10, 20..30, 40..50]);
        assert_eq!(e.missing(12..18), Vec::<Range<u64>>::new());
        assert_eq!(e.missing(15..35), vec![20..30]);
        assert_eq!(e.run_end(10), Some(20));
        assert_eq!(e.run_end(20), None);
        assert_eq!(e.run_end(5), None);
        assert_eq!(e.add(15..35), 10);
        assert_eq!(e.present, vec![10..40]);
        assert_eq!(e.add(40..45), 5);
        assert_eq!(e.present, vec![10..45]);
        assert_eq!(e.add(50..60), 10);
        assert_eq!(e.present, vec![10..45, 50..60]);
        assert_eq!(e.add(0..100), 100 - 35 - 10);
        assert_eq!(e.present, vec![0..100]);
    }
}
