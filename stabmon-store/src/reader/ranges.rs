//! Objects in a bucket read by byte ranges. Each object is a sparse local file of its listed size in which only
//! the ranges fetched so far are written, with a record of which ranges those are, so the `File`-based Parquet
//! reader works on it as on a local segment. Every read goes through [`Input`], which fetches what is missing
//! before it reads: the footer first (for coverage nothing else), then, for a read of a time range, the column
//! chunks of every table's row groups in that range, every column, whichever the read decodes (one round of
//! requests for the whole range rather than one per row group decoded), and any other byte a read asks for.
//! Nothing is ever read from a part not fetched. The cache's budget counts the bytes fetched, not the objects'
//! sizes; beyond it, least recently used objects are emptied again.

use std::collections::{HashMap, HashSet};
use std::fs::File;
use std::io::{BufReader, Read, Seek, SeekFrom, Write};
use std::ops::Range;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};

use bytes::Bytes;
use parquet::errors::ParquetError;
use parquet::file::metadata::ParquetMetaDataReader;
use parquet::file::reader::{ChunkReader, Length};

use crate::bucket::Bucket;
use crate::error::{Error, io};
use crate::manifest::abs_path;

use super::range::Range as TimeRange;
use super::table::{chunk_bytes, ts_span};

/// How much of an object's end is fetched for its footer at first; a longer footer is fetched in a second request.
const FOOTER_GUESS: u64 = 16 * 1024;

/// Ranges of one object closer than this are fetched as one request (the gap's bytes with them).
const MERGE_GAP: u64 = 16 * 1024;

/// At most this many bytes are fetched in one batch of requests: each batch is written to the local files and
/// recorded before the next is asked for, so a long range's prefetch never holds more than this in memory.
const BATCH_BYTES: u64 = 64 * 1024 * 1024;

/// How many times a read fetches what it needs again when other reads emptied the object meanwhile.
const READ_TRIES: usize = 4;

/// The object cache a bucket reader reads its table files through (`None` for a reader of local files).
pub(crate) type Objects<'a> = Option<&'a Arc<ObjectCache>>;

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
    fetched: AtomicU64,
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
    /// A cache of the listed `objects` (relative path and size) of `bucket`, kept under `root`, fetching at most
    /// about `budget` bytes before it empties least recently used objects.
    pub(crate) fn new(
        bucket: Bucket,
        root: &Path,
        objects: impl IntoIterator<Item = (String, u64)>,
        budget: u64,
    ) -> Arc<ObjectCache> {
        let objects = objects
            .into_iter()
            .map(|(rel, size)| {
                let entry = Entry {
                    size,
                    present: Vec::new(),
                    tick: 0,
                    groups: None,
                    gone: false,
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
            fetched: AtomicU64::new(0),
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
        e.groups = None;
        e.gone = true;
        st.bytes -= held;
        let _ = std::fs::remove_file(self.local(rel));
    }

    /// Fetches the footers of `rels`, all at once: the objects' last [`FOOTER_GUESS`] bytes, then the rest of a
    /// longer footer. Gives the objects that are gone.
    pub(crate) fn prefetch_footers(&self, rels: &[&str]) -> Result<Vec<String>, Error> {
        let sizes: Vec<(&str, u64)> = {
            let st = lock(&self.state);
            rels.iter()
                .filter_map(|rel| st.objects.get(*rel).map(|e| (*rel, e.size)))
                .collect()
        };
        let tails: Vec<(&str, Range<u64>)> = sizes
            .iter()
            .map(|(rel, size)| (*rel, size.saturating_sub(FOOTER_GUESS)..*size))
            .filter(|(_, r)| !r.is_empty())
            .collect();
        let mut gone = self.ensure(&tails)?;
        // A footer longer than the guess: its start, from the length in the last eight bytes.
        let mut more = Vec::new();
        for (rel, tail) in &tails {
            if gone.iter().any(|g| g == rel) || tail.end - tail.start < 8 {
                continue;
            }
            let Some(last) = self.read_present(rel, tail.end - 8, 8)? else {
                continue;
            };
            if &last[4..] != b"PAR1" {
                continue; // not Parquet: the reader says so
            }
            let len = u64::from(u32::from_le_bytes([last[0], last[1], last[2], last[3]]));
            let start = tail.end.saturating_sub(len + 8);
            if start < tail.start {
                more.push((*rel, start..tail.start));
            }
        }
        gone.extend(self.ensure(&more)?);
        gone.sort();
        gone.dedup();
        Ok(gone)
    }

    /// Fetches, in as few batches as [`BATCH_BYTES`] allows, the column chunks of the row groups of `rels` whose
    /// time statistics overlap `range` (and of those without statistics), every column: what the reads of that
    /// range will decode, in requests of their own rather than one round of requests per row group read. Objects
    /// whose footer cannot be read are left to the reader, which says what is wrong with them.
    pub(super) fn prefetch_row_groups(
        self: &Arc<Self>,
        rels: &[&str],
        range: TimeRange,
    ) -> Result<(), Error> {
        let mut wants: Vec<(&str, Range<u64>)> = Vec::new();
        for rel in rels {
            let Some(groups) = self.groups(rel) else {
                continue;
            };
            for g in groups.iter() {
                if g.span.is_none_or(|(min, max)| range.overlaps(min, max)) {
                    wants.extend(g.chunks.iter().map(|c| (*rel, c.clone())));
                }
            }
        }
        self.ensure(&wants).map(drop)
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
        let input = Input::Object(ObjectRef {
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

    /// Fetches the parts of `wants` not present yet (ranges of one object closer than [`MERGE_GAP`] in one
    /// request) in batches of at most [`BATCH_BYTES`], writing each batch into the local files and recording it
    /// before the next is fetched; then empties least recently used other objects while over the budget. Gives the
    /// objects that are gone.
    fn ensure(&self, wants: &[(&str, Range<u64>)]) -> Result<Vec<String>, Error> {
        let mut jobs: Vec<(String, Range<u64>)> = Vec::new();
        let mut gone = Vec::new();
        {
            let mut st = lock(&self.state);
            st.tick += 1;
            let tick = st.tick;
            let mut by_object: HashMap<&str, Vec<Range<u64>>> = HashMap::new();
            for (rel, want) in wants {
                let Some(e) = st.objects.get_mut(*rel) else {
                    return Err(self.object_error(rel, "not in the bucket's listing".into()));
                };
                if e.gone {
                    gone.push((*rel).to_owned());
                    continue;
                }
                if want.end > e.size {
                    return Err(self.object_error(
                        rel,
                        format!(
                            "a read asks for bytes {}..{}, but the object was listed at {} bytes (damaged, or \
                             changed since it was listed)",
                            want.start, want.end, e.size
                        ),
                    ));
                }
                e.tick = tick;
                by_object
                    .entry(rel)
                    .or_default()
                    .extend(e.missing(want.clone()));
            }
            for (rel, mut ranges) in by_object {
                ranges.sort_by_key(|r| r.start);
                let mut merged: Vec<Range<u64>> = Vec::new();
                for r in ranges {
                    match merged.last_mut() {
                        Some(last) if r.start <= last.end + MERGE_GAP => {
                            last.end = last.end.max(r.end)
                        }
                        _ => merged.push(r),
                    }
                }
                jobs.extend(merged.into_iter().map(|r| (rel.to_owned(), r)));
            }
        }
        if jobs.is_empty() {
            gone.sort();
            gone.dedup();
            return Ok(gone);
        }
        jobs.sort_by(|a, b| (&a.0, a.1.start).cmp(&(&b.0, b.1.start)));
        for batch in batches(jobs, BATCH_BYTES) {
            let got = self.bucket.get_ranges(batch.clone())?;
            let mut st = lock(&self.state);
            for ((rel, range), bytes) in batch.into_iter().zip(got) {
                let Some(bytes) = bytes else {
                    self.forget_locked(&mut st, &rel);
                    gone.push(rel);
                    continue;
                };
                self.fetched
                    .fetch_add(bytes.len() as u64, Ordering::Relaxed);
                let Some(e) = st.objects.get_mut(&rel) else {
                    continue;
                };
                let size = e.size;
                let path = self.local(&rel);
                write_at(&path, size, range.start, &bytes)?;
                let new = e.add(range);
                st.bytes += new;
            }
        }
        let mut st = lock(&self.state);
        gone.sort();
        gone.dedup();
        // Least recently used objects other than these go while the cache is over its budget.
        let keep: HashSet<&str> = wants.iter().map(|(rel, _)| *rel).collect();
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
                let size = e.size;
                st.bytes -= held;
                empty(&self.local(&victim), size);
            }
        }
        Ok(gone)
    }

    /// `len` bytes of `rel` at `start` from the local file, or `None` when some of them are not fetched (now).
    fn read_present(&self, rel: &str, start: u64, len: usize) -> Result<Option<Vec<u8>>, Error> {
        let st = lock(&self.state);
        let present = st
            .objects
            .get(rel)
            .and_then(|e| e.run_end(start))
            .is_some_and(|end| end >= start + len as u64);
        if !present {
            return Ok(None);
        }
        read_at(&self.local(rel), start, len).map(Some)
    }

    /// `len` bytes of `rel` at `start`, fetched first where missing, and again (a few times) where other reads
    /// emptied them from the local cache meanwhile; an error reading the local file is returned as it is.
    fn read(&self, rel: &str, start: u64, len: usize) -> Result<Vec<u8>, Error> {
        if len == 0 {
            return Ok(Vec::new());
        }
        let want = start..start + len as u64;
        for _ in 0..READ_TRIES {
            if !self.ensure(&[(rel, want.clone())])?.is_empty() {
                return Err(
                    self.object_error(rel, "listed but gone (deleted by a lifecycle rule?)".into())
                );
            }
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

    /// Up to `max` bytes of `rel` from `pos` (fewer where the fetched run ends sooner), fetched first when nothing
    /// at `pos` is present.
    fn read_some(&self, rel: &str, pos: u64, max: usize) -> Result<Vec<u8>, Error> {
        for _ in 0..READ_TRIES {
            {
                let st = lock(&self.state);
                let Some(e) = st.objects.get(rel) else {
                    return Err(self.object_error(rel, "not in the bucket's listing".into()));
                };
                if pos >= e.size || max == 0 {
                    return Ok(Vec::new());
                }
                if let Some(end) = e.run_end(pos) {
                    let n = (end - pos).min(max as u64);
                    return read_at(&self.local(rel), pos, n as usize);
                }
            }
            let size = self.size(rel).unwrap_or(0);
            let want = pos..(pos + max as u64).min(size);
            if !self.ensure(&[(rel, want)])?.is_empty() {
                return Err(
                    self.object_error(rel, "listed but gone (deleted by a lifecycle rule?)".into())
                );
            }
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

/// `jobs` in batches of at most `max` bytes each (a longer range split into pieces of `max` bytes), in order.
fn batches(jobs: Vec<(String, Range<u64>)>, max: u64) -> Vec<Vec<(String, Range<u64>)>> {
    let max = max.max(1);
    let mut out: Vec<Vec<(String, Range<u64>)>> = Vec::new();
    let mut held = max; // a new batch before the first job
    for (rel, range) in jobs {
        let mut pos = range.start;
        while pos < range.end {
            if held >= max {
                out.push(Vec::new());
                held = 0;
            }
            let end = range.end.min(pos + (max - held));
            held += end - pos;
            if let Some(batch) = out.last_mut() {
                batch.push((rel.clone(), pos..end));
            }
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

fn read_at(path: &Path, offset: u64, len: usize) -> Result<Vec<u8>, Error> {
    let mut f = File::open(path).map_err(io(path))?;
    f.seek(SeekFrom::Start(offset)).map_err(io(path))?;
    let mut buf = vec![0; len];
    f.read_exact(&mut buf).map_err(io(path))?;
    Ok(buf)
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

/// An object of a cache, as the Parquet reader reads it.
#[derive(Clone)]
pub(crate) struct ObjectRef {
    cache: Arc<ObjectCache>,
    rel: String,
    size: u64,
}

/// A table file to read: a local file, or an object of a bucket read through its cache.
pub(crate) enum Input {
    /// A local file.
    Local(File),
    /// An object in a bucket.
    Object(ObjectRef),
}

impl Input {
    /// Opens `path`: through `objects` when it is one of theirs, else as a local file.
    pub(crate) fn open(path: &Path, objects: Objects<'_>) -> Result<Input, Error> {
        if let Some(cache) = objects
            && let Some((rel, size)) = lookup(cache, path)
        {
            let cache = Arc::clone(cache);
            return Ok(Input::Object(ObjectRef { cache, rel, size }));
        }
        File::open(path).map(Input::Local).map_err(io(path))
    }

    /// Another handle on the same file.
    pub(crate) fn try_clone(&self, path: &Path) -> Result<Input, Error> {
        match self {
            Input::Local(f) => f.try_clone().map(Input::Local).map_err(io(path)),
            Input::Object(o) => Ok(Input::Object(o.clone())),
        }
    }

    /// Fetches ahead, in as few batches of requests as [`BATCH_BYTES`] allows, the byte ranges a read will ask
    /// for (nothing for a local file).
    pub(crate) fn prefetch(
        &self,
        ranges: impl IntoIterator<Item = Range<u64>>,
    ) -> Result<(), Error> {
        let Input::Object(o) = self else {
            return Ok(());
        };
        let wants: Vec<(&str, Range<u64>)> =
            ranges.into_iter().map(|r| (o.rel.as_str(), r)).collect();
        if !o.cache.ensure(&wants)?.is_empty() {
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
        match self {
            Input::Local(f) => f.len(),
            Input::Object(o) => o.size,
        }
    }
}

impl ChunkReader for Input {
    type T = InputRead;

    fn get_read(&self, start: u64) -> parquet::errors::Result<InputRead> {
        Ok(match self {
            Input::Local(f) => InputRead::Local(f.get_read(start)?),
            Input::Object(o) => InputRead::Object {
                object: o.clone(),
                pos: start,
            },
        })
    }

    fn get_bytes(&self, start: u64, length: usize) -> parquet::errors::Result<Bytes> {
        match self {
            Input::Local(f) => f.get_bytes(start, length),
            Input::Object(o) => o
                .cache
                .read(&o.rel, start, length)
                .map(Bytes::from)
                .map_err(|e| ParquetError::External(Box::new(e))),
        }
    }
}

/// A reader from an offset of an [`Input`].
pub(crate) enum InputRead {
    /// Of a local file.
    Local(BufReader<File>),
    /// Of an object: reads what is fetched, and fetches only where nothing at the position is.
    Object {
        /// The object.
        object: ObjectRef,
        /// The next byte's offset.
        pos: u64,
    },
}

impl Read for InputRead {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        match self {
            InputRead::Local(r) => r.read(buf),
            InputRead::Object { object, pos } => {
                let got = object
                    .cache
                    .read_some(&object.rel, *pos, buf.len())
                    .map_err(std::io::Error::other)?;
                buf[..got.len()].copy_from_slice(&got);
                *pos += got.len() as u64;
                Ok(got.len())
            }
        }
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
        let objects = (0..2).map(|k| (format!("o{k}"), 10_000));
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
        let mut r = Input::Object(ObjectRef {
            cache: Arc::clone(&cache),
            rel: "o0".into(),
            size: 10_000,
        })
        .get_read(9_990)
        .unwrap();
        let mut rest = Vec::new();
        r.read_to_end(&mut rest).unwrap();
        assert_eq!(rest, bodies[0][9_990..]);
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
        assert!(e.contains("/o1") && e.contains("shorter"), "{e}");
        std::fs::remove_file(src.path().join("o1")).unwrap();
        let e = cache.read("o1", 0, 100).unwrap_err().to_string();
        assert!(e.contains("/o1") && e.contains("gone"), "{e}");
    }

    #[test]
    fn batches_hold_at_most_their_bytes_and_cover_every_range_in_order() {
        let jobs = vec![
            ("a".to_owned(), 0..30),
            ("a".to_owned(), 40..45),
            ("b".to_owned(), 10..260),
        ];
        let got = batches(jobs, 100);
        let sizes: Vec<u64> = got
            .iter()
            .map(|b| b.iter().map(|(_, r)| r.end - r.start).sum())
            .collect();
        assert_eq!(sizes, vec![100, 100, 85]);
        let flat: Vec<(String, Range<u64>)> = got.into_iter().flatten().collect();
        assert_eq!(
            flat,
            vec![
                ("a".to_owned(), 0..30),
                ("a".to_owned(), 40..45),
                ("b".to_owned(), 10..75),
                ("b".to_owned(), 75..175),
                ("b".to_owned(), 175..260),
            ]
        );
        assert!(batches(Vec::new(), 100).is_empty());
    }

    #[test]
    fn an_empty_read_is_empty_and_a_local_read_error_is_not_taken_for_a_small_cache() {
        let (_src, root, cache, _) = two_objects(1 << 20);
        assert_eq!(cache.read("o0", 500, 0).unwrap(), Vec::<u8>::new());
        assert_eq!(cache.read_some("o1", 500, 0).unwrap(), Vec::<u8>::new());
        assert_eq!(cache.fetched(), 0);
        cache.read("o0", 0, 100).unwrap();
        // The local file goes behind the cache's back: the read says what failed, on which file.
        let local = root.path().join("o0");
        std::fs::remove_file(&local).unwrap();
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
