//! Table files' footers, parsed once per reader: a month's page reads each segment's three tables once for
//! every row group that holds a hover moment or a culprit window (24 a day of hourly row groups), and a day's
//! `samples` footer alone is 55 KB of Thrift.
//!
//! A [`Footers`] cache belongs to a [`StoreReader`](super::StoreReader) and its clones (so to one command, or one
//! server), keyed by path and checked against the file's length and modification time at each open: a file
//! written again (a compaction, a rewritten segment) is parsed again, never answered from an older footer. Only
//! footers that parse are kept (a damaged one is parsed, and refused, at each open, as without a cache), only of
//! local files (a bucket's objects are read through their own cache), and no more than a budget of their
//! parsed size: the least recently used go first.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, MutexGuard, OnceLock};
use std::time::SystemTime;

use parquet::arrow::arrow_reader::{ArrowReaderMetadata, ArrowReaderOptions};
use parquet::file::metadata::{ParquetMetaData, ParquetMetaDataReader};

use stabmon_core::Timestamp;

use crate::error::{Error, pq};

use super::ranges::{Input, Objects, chunk_bounds};

/// The parsed footers a reader keeps at most, by their estimated size in memory (they take about 1.4 times that
/// on the heap). A day's segment of hourly row groups takes about 0.9 MB parsed (its four tables: `samples` 0.5 MB,
/// `processes` 0.17, `latency` 0.12, `names` 0.08 on the synthetic month), and a page's reads go a day at a time:
/// two days' are enough, and two renders at once hold at most 4 MiB of them.
pub(crate) const FOOTER_BYTES: usize = 2 * 1024 * 1024;

/// What identifies a local file's version: its length and modification time when opened, and on Unix its device,
/// inode and change time (a file renamed over it, as compaction and downloads do, is another inode; a rewrite in
/// place within a coarse file system's timestamp granularity still moves the change time's nanoseconds where it
/// has them).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Stamp {
    pub(crate) len: u64,
    pub(crate) modified: Option<SystemTime>,
    /// Device, inode, change time (s, ns); 0 where the platform has none.
    pub(crate) identity: [i64; 4],
}

impl Stamp {
    /// The stamp of a file of metadata `meta`.
    pub(crate) fn of(meta: &std::fs::Metadata) -> Stamp {
        #[cfg(unix)]
        let identity = {
            use std::os::unix::fs::MetadataExt;
            [
                meta.dev() as i64,
                meta.ino() as i64,
                meta.ctime(),
                meta.ctime_nsec(),
            ]
        };
        #[cfg(not(unix))]
        let identity = [0; 4];
        Stamp {
            len: meta.len(),
            modified: meta.modified().ok(),
            identity,
        }
    }
}

/// A table file's footer, parsed.
pub(super) struct Footer {
    /// The metadata as the parquet crate parsed it.
    pub(super) md: Arc<ParquetMetaData>,
    /// Its Arrow schema, converted at the first open that asks.
    arrow: OnceLock<ArrowReaderMetadata>,
    /// The column chunks' bounds ([`Input::bound_to`]).
    pub(super) chunks: Arc<[(u64, u64)]>,
    /// The estimated bytes it holds.
    size: usize,
}

impl Footer {
    fn parse(path: &Path, file: &Input) -> Result<Footer, Error> {
        let md = ParquetMetaDataReader::new()
            .parse_and_finish(file)
            .map_err(pq(path))?;
        let chunks = chunk_bounds(&md);
        let size = md.memory_size() + chunks.len() * 16 + 256;
        Ok(Footer {
            md: Arc::new(md),
            arrow: OnceLock::new(),
            chunks,
            size,
        })
    }

    /// The metadata with its Arrow schema (the file's own, as `ArrowReaderMetadata::load` gives it).
    pub(super) fn arrow(&self, path: &Path) -> Result<ArrowReaderMetadata, Error> {
        if let Some(m) = self.arrow.get() {
            return Ok(m.clone());
        }
        let m = ArrowReaderMetadata::try_new(Arc::clone(&self.md), ArrowReaderOptions::new())
            .map_err(pq(path))?;
        Ok(self.arrow.get_or_init(|| m).clone())
    }
}

/// Parsed footers of local table files, shared by a reader's clones and threads (see the module docs).
pub(crate) struct Footers {
    budget: usize,
    state: Mutex<State>,
}

/// The first and last `ts` and the row count of each row group of a `samples` file (see `scan::row_groups`).
pub(super) type Spans = Arc<[(Timestamp, Timestamp, u64)]>;

/// The files whose row groups' spans a cache keeps at most (a few dozen bytes a row group: a year of daily
/// segments of hourly row groups takes about 300 KB).
const SPAN_FILES: usize = 10_000;

#[derive(Default)]
struct State {
    held: HashMap<PathBuf, Held>,
    /// Row groups' spans of `samples` files, by path, with the file's stamp: every read of a window asks for them,
    /// and they outlive the footers they come from.
    spans: HashMap<PathBuf, (Stamp, Spans)>,
    /// The estimated bytes held.
    bytes: usize,
    tick: u64,
    /// Footers parsed (for tests).
    parsed: u64,
}

struct Held {
    stamp: Stamp,
    footer: Arc<Footer>,
    /// When last asked for.
    tick: u64,
}

impl std::fmt::Debug for Footers {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let st = self.lock();
        f.debug_struct("Footers")
            .field("held", &st.held.len())
            .field("bytes", &st.bytes)
            .field("budget", &self.budget)
            .finish()
    }
}

impl Default for Footers {
    fn default() -> Self {
        Footers::new(FOOTER_BYTES)
    }
}

impl Footers {
    /// A cache keeping at most about `budget` bytes of parsed footers.
    pub(crate) fn new(budget: usize) -> Footers {
        Footers {
            budget,
            state: Mutex::default(),
        }
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        match self.state.lock() {
            Ok(g) => g,
            Err(p) => p.into_inner(),
        }
    }

    /// The footer of `path` as opened in `file` (of `stamp`): the one parsed before where the file is the same,
    /// else parsed now (and kept where it parses).
    fn get(&self, path: &Path, file: &Input, stamp: Stamp) -> Result<Arc<Footer>, Error> {
        {
            let mut st = self.lock();
            st.tick += 1;
            let tick = st.tick;
            if let Some(h) = st.held.get_mut(path) {
                if h.stamp == stamp {
                    h.tick = tick;
                    return Ok(Arc::clone(&h.footer));
                }
                // Another version of the file: the old footer goes, whether or not the new one parses.
                if let Some(old) = st.held.remove(path) {
                    st.bytes -= old.footer.size;
                }
            }
        }
        // Parsed without the lock: other threads read other files meanwhile.
        let footer = Arc::new(Footer::parse(path, file)?);
        let mut st = self.lock();
        st.parsed += 1;
        st.tick += 1;
        let tick = st.tick;
        if footer.size <= self.budget {
            let held = Held {
                stamp,
                footer: Arc::clone(&footer),
                tick,
            };
            st.bytes += footer.size;
            if let Some(old) = st.held.insert(path.to_path_buf(), held) {
                st.bytes -= old.footer.size;
            }
            while st.bytes > self.budget {
                let Some(victim) = st
                    .held
                    .iter()
                    .filter(|(p, _)| p.as_path() != path)
                    .min_by_key(|(_, h)| h.tick)
                    .map(|(p, _)| p.clone())
                else {
                    break;
                };
                if let Some(h) = st.held.remove(&victim) {
                    st.bytes -= h.footer.size;
                }
            }
        }
        Ok(footer)
    }

    /// The row groups' spans of `path` kept while the file is `stamp`.
    pub(super) fn spans(&self, path: &Path, stamp: Stamp) -> Option<Spans> {
        let st = self.lock();
        st.spans
            .get(path)
            .filter(|(s, _)| *s == stamp)
            .map(|(_, spans)| Arc::clone(spans))
    }

    /// Keeps the row groups' spans of `path`, a file of `stamp`.
    pub(super) fn keep_spans(&self, path: &Path, stamp: Stamp, spans: Spans) {
        let mut st = self.lock();
        if st.spans.len() >= SPAN_FILES && !st.spans.contains_key(path) {
            st.spans.clear();
        }
        st.spans.insert(path.to_path_buf(), (stamp, spans));
    }

    /// How many footers were parsed so far.
    #[cfg(test)]
    pub(super) fn parsed(&self) -> u64 {
        self.lock().parsed
    }

    /// How many are kept, and their estimated bytes.
    #[cfg(test)]
    pub(super) fn held(&self) -> (usize, usize) {
        let st = self.lock();
        (st.held.len(), st.bytes)
    }
}

/// The footer of the table file `path`, opened as `file`: through the reader's cache where it has one and the
/// file is local, else parsed now.
pub(super) fn footer(
    path: &Path,
    file: &Input,
    objects: Objects<'_>,
) -> Result<Arc<Footer>, Error> {
    match (objects.footers, file.stamp()) {
        (Some(footers), Some(stamp)) => footers.get(path, file, stamp),
        _ => Ok(Arc::new(Footer::parse(path, file)?)),
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use crate::StoreWriter;
    use stabmon_core::Timestamp;
    use stabmon_core::synth::Synth;

    /// A data directory of `count` synthetic samples of 12 processes every `every_secs` from `t0`.
    fn store(
        count: u64,
        t0: i64,
        every_secs: u64,
    ) -> (tempfile::TempDir, Vec<stabmon_core::Sample>) {
        let samples = Synth::new(
            Timestamp::from_unix_secs(t0),
            std::time::Duration::from_secs(every_secs),
        )
        .count(count)
        .processes(12)
        .generate();
        let dir = tempfile::tempdir().unwrap();
        let mut w = StoreWriter::create(dir.path()).unwrap();
        for s in &samples {
            w.write(s).unwrap();
        }
        w.finish().unwrap();
        (dir, samples)
    }

    /// A data directory of one segment of `count` synthetic samples at 1 s, and its `samples` file.
    fn segment(count: u64, t0: i64) -> (tempfile::TempDir, PathBuf) {
        let (dir, _) = store(count, t0, 1);
        let reader = super::super::StoreReader::open(dir.path()).unwrap();
        let path = reader.segment_files().remove(0);
        (dir, path)
    }

    fn get(footers: &Footers, path: &Path) -> Result<Arc<Footer>, Error> {
        let file = Input::open(path, Objects::default())?;
        footer(
            path,
            &file,
            Objects {
                cache: None,
                footers: Some(footers),
            },
        )
    }

    #[test]
    fn a_footer_is_parsed_once_while_its_file_is_unchanged() {
        let (_dir, path) = segment(60, 1_795_564_800);
        let footers = Footers::default();
        let a = get(&footers, &path).unwrap();
        let b = get(&footers, &path).unwrap();
        assert!(Arc::ptr_eq(&a, &b));
        assert_eq!(footers.parsed(), 1);
        assert_eq!(a.md.file_metadata().num_rows(), 60);
    }

    #[test]
    fn a_file_written_again_is_parsed_again_not_answered_from_the_old_footer() {
        let (_dir, path) = segment(60, 1_795_564_800);
        let (_other, other) = segment(90, 1_795_564_800);
        let footers = Footers::default();
        assert_eq!(
            get(&footers, &path).unwrap().md.file_metadata().num_rows(),
            60
        );
        // Replaced in place by another segment's file (another length).
        std::fs::copy(&other, &path).unwrap();
        let again = get(&footers, &path).unwrap();
        assert_eq!(again.md.file_metadata().num_rows(), 90);
        assert_eq!(footers.parsed(), 2);
        // The same length, another modification time: parsed again too.
        let f = std::fs::OpenOptions::new().write(true).open(&path).unwrap();
        f.set_modified(SystemTime::UNIX_EPOCH + std::time::Duration::from_secs(1_000_000))
            .unwrap();
        drop(f);
        get(&footers, &path).unwrap();
        assert_eq!(footers.parsed(), 3);
        assert_eq!(footers.held().0, 1, "one entry per path");
    }

    /// A `samples` file's row groups' spans are kept past its footer's eviction, and read again from a file
    /// written again.
    #[test]
    fn row_group_spans_are_kept_while_their_file_is_unchanged() {
        let (_dir, path) = segment(60, 1_795_564_800);
        let (_other, other) = segment(90, 1_795_564_800);
        // A budget that keeps no footer.
        let footers = Footers::new(0);
        let objects = Objects {
            cache: None,
            footers: Some(&footers),
        };
        let spans = |path: &Path| super::super::scan::row_groups(path, objects).unwrap();
        let a = spans(&path);
        assert_eq!(a.iter().map(|g| g.2).sum::<u64>(), 60);
        let b = spans(&path);
        assert!(Arc::ptr_eq(&a, &b));
        assert_eq!(footers.parsed(), 1);
        assert_eq!(footers.held().0, 0);
        std::fs::copy(&other, &path).unwrap();
        let c = spans(&path);
        assert_eq!(c.iter().map(|g| g.2).sum::<u64>(), 90);
        assert_eq!(footers.parsed(), 2);
    }

    /// A file renamed over the path (compaction and downloads replace files so) with the same length and
    /// modification time is another inode: parsed again.
    #[cfg(unix)]
    #[test]
    fn a_file_renamed_over_the_path_is_parsed_again() {
        let (dir, path) = segment(60, 1_795_564_800);
        let footers = Footers::default();
        get(&footers, &path).unwrap();
        let tmp = dir.path().join("replacement");
        std::fs::copy(&path, &tmp).unwrap();
        let modified = std::fs::metadata(&path).unwrap().modified().unwrap();
        std::fs::File::options()
            .write(true)
            .open(&tmp)
            .unwrap()
            .set_modified(modified)
            .unwrap();
        std::fs::rename(&tmp, &path).unwrap();
        let meta = std::fs::metadata(&path).unwrap();
        assert_eq!(meta.modified().unwrap(), modified);
        get(&footers, &path).unwrap();
        assert_eq!(footers.parsed(), 2);
        assert_eq!(footers.held().0, 1, "one entry per path");
    }

    #[test]
    fn a_damaged_footer_is_refused_at_every_open_and_not_kept() {
        let (_dir, path) = segment(60, 1_795_564_800);
        let mut bytes = std::fs::read(&path).unwrap();
        let n = bytes.len();
        // The footer's length says more than the file holds.
        bytes[n - 8..n - 4].copy_from_slice(&u32::MAX.to_le_bytes());
        std::fs::write(&path, &bytes).unwrap();
        let footers = Footers::default();
        for _ in 0..2 {
            assert!(get(&footers, &path).is_err());
        }
        assert_eq!(footers.parsed(), 0);
        assert_eq!(footers.held(), (0, 0));
    }

    #[test]
    fn the_budget_lets_the_least_recently_used_go() {
        let segs: Vec<_> = (0..3)
            .map(|k| segment(60, 1_795_564_800 + 86_400 * k))
            .collect();
        let one = get(&Footers::default(), &segs[0].1).unwrap().size;
        // Room for two.
        let footers = Footers::new(one * 2 + one / 2);
        get(&footers, &segs[0].1).unwrap();
        get(&footers, &segs[1].1).unwrap();
        get(&footers, &segs[0].1).unwrap();
        assert_eq!(footers.parsed(), 2);
        // The third pushes out the second (the first was asked for since).
        get(&footers, &segs[2].1).unwrap();
        assert_eq!(footers.held().0, 2);
        get(&footers, &segs[0].1).unwrap();
        assert_eq!(footers.parsed(), 3);
        get(&footers, &segs[1].1).unwrap();
        assert_eq!(footers.parsed(), 4);
        assert!(footers.held().1 <= footers.budget);
        // A footer larger than the whole budget is used, not kept.
        let tiny = Footers::new(16);
        get(&tiny, &segs[0].1).unwrap();
        get(&tiny, &segs[0].1).unwrap();
        assert_eq!((tiny.parsed(), tiny.held()), (2, (0, 0)));
    }

    /// A reader's reads share its footers: a second read of the same instants parses none, and a table file
    /// damaged between two reads is refused (its segment warned about once, whatever the reads after) while the
    /// other segment is still read from the footers kept.
    #[test]
    fn reads_share_the_footers_and_a_file_damaged_between_reads_is_warned_about_once() {
        use stabmon_core::series::{SampleParts, WindowSource};
        // Two hours at 10 s across midnight: two segments.
        let (dir, samples) = store(720, 1_795_564_800 - 3_600, 10);
        let reader = super::super::StoreReader::open(dir.path()).unwrap();
        let segs: Vec<_> = reader.selected().cloned().collect();
        assert_eq!(segs.len(), 2);
        let source = reader.windows(&samples[0].host);
        let at: Vec<Timestamp> = [5, 200, 359, 360, 500, 719]
            .iter()
            .map(|&i| samples[i].ts)
            .collect();
        let parts = SampleParts::PROCESSES | SampleParts::NAMES;
        let first = source.samples_at_parts(&at, parts).unwrap();
        assert_eq!(first.len(), 6);
        let parsed = reader.footers.parsed();
        // Each segment's samples, processes and names once.
        assert_eq!(parsed, 6);
        assert_eq!(source.samples_at_parts(&at, parts).unwrap(), first);
        assert_eq!(reader.footers.parsed(), parsed, "nothing parsed again");
        // The second segment's processes file is damaged.
        std::fs::write(segs[1].file("processes"), b"not parquet").unwrap();
        for _ in 0..2 {
            let got = source.samples_at_parts(&at, parts).unwrap();
            assert_eq!(got, first[..3], "the first segment's samples");
        }
        let warnings = reader.warnings();
        assert_eq!(warnings.len(), 1, "{warnings:?}");
        assert!(
            warnings[0].contains(&segs[1].file("samples").display().to_string()),
            "{warnings:?}"
        );
        assert_eq!(
            reader.footers.parsed(),
            parsed,
            "only the damaged file was opened anew, and it is not kept"
        );
    }
}
