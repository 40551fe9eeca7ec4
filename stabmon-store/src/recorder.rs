//! [`FlightRecorder`]: the durable recorder. Every sample goes to a journal at once; each rotation period the
//! journal is compacted into Parquet segments; at start the journals a crash left are recovered.

use std::collections::{HashSet, VecDeque};
use std::fmt;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use stabmon_core::{Sample, Timestamp};

use crate::codec::{SampleEncoder, StopRecord, encode, stream_journal};
use crate::error::{Error, io};
use crate::fsio::{Fs, RealFs};
use crate::journal::{AppendError, JournalWriter, Kind};
use crate::layout::{encode_host, parse_own_segment_path};
use crate::lock::DirLock;
use crate::manifest::{CleanStop, Manifest, ManifestJournal, rel_path};
use crate::reader::StoreReader;
use crate::retention::{self, Retention, RetentionReport};
use crate::writer::{StoreWriter, WriterOptions};

/// The journals' directory under the data directory (hidden from Hive readers by its leading `_`).
pub const JOURNAL_DIR: &str = "_journal";

/// Options of a [`FlightRecorder`]. Build with [`RecorderOptions::new`] and the setters.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct RecorderOptions {
    /// How often the journal is fsynced: a power cut loses at most this much.
    pub sync: Duration,
    /// How long a segment covers before the journal is compacted into Parquet.
    pub rotate: Duration,
    /// What to keep.
    pub retention: Retention,
    /// How many samples may wait in memory while the disk cannot be written.
    pub buffer_samples: usize,
    /// The Parquet writer's options.
    pub writer: WriterOptions,
}

impl Default for RecorderOptions {
    fn default() -> Self {
        RecorderOptions {
            sync: Duration::from_secs(1),
            rotate: Duration::from_secs(3600),
            retention: Retention::default(),
            buffer_samples: 900,
            writer: WriterOptions::default(),
        }
    }
}

impl RecorderOptions {
    /// The defaults.
    pub fn new() -> Self {
        Self::default()
    }

    /// The fsync period of the journal.
    ///
    /// By default, this is set to 1 s: at a 1 s interval every sample is fsynced as it is written (one
    /// `fdatasync` a second, measured in BENCHMARKS.md). A longer period saves disk flushes and loses more on a
    /// power cut; a `kill -9` loses at most the sample in flight whatever the period.
    pub fn sync(mut self, period: Duration) -> Self {
        self.sync = period;
        self
    }

    /// The segment length. By default, this is set to one hour; a zero duration is taken as one second.
    pub fn rotate(mut self, period: Duration) -> Self {
        self.rotate = period.max(Duration::from_secs(1));
        self
    }

    /// The retention policy. By default, 30 days and no size limit ([`Retention::default`]).
    pub fn retention(mut self, retention: Retention) -> Self {
        self.retention = retention;
        self
    }

    /// Samples kept in memory while the disk is full or failing. By default, this is set to 900 (15 minutes at
    /// 1 s, a few MB); when it overflows the oldest waiting samples are dropped and counted.
    pub fn buffer_samples(mut self, samples: usize) -> Self {
        self.buffer_samples = samples.max(1);
        self
    }

    /// The Parquet writer's options. By default, [`WriterOptions::default`].
    pub fn writer(mut self, writer: WriterOptions) -> Self {
        self.writer = writer;
        self
    }
}

/// Something a recorder user should log. The recorder reports each trouble once, not every sample.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Notice {
    /// Writing failed (for example a full disk): samples wait in memory from now on.
    WriteFailed {
        /// The file that could not be written.
        path: PathBuf,
        /// The error.
        error: String,
    },
    /// Writing works again; the waiting samples were written.
    Resumed {
        /// The journal written to.
        path: PathBuf,
        /// Samples that had waited and are now written.
        written: u64,
        /// Samples dropped while the buffer was full.
        dropped: u64,
    },
    /// The memory buffer is full: the oldest waiting samples are being dropped (reported once per outage).
    Dropping {
        /// The buffer's capacity, in samples.
        capacity: usize,
    },
    /// An fsync failed: the samples are written but may not survive a power cut.
    SyncFailed {
        /// The journal.
        path: PathBuf,
        /// The error.
        error: String,
    },
    /// A journal could not be compacted into Parquet; it is kept and tried again at the next rotation.
    CompactionFailed {
        /// The journal.
        path: PathBuf,
        /// The error.
        error: String,
    },
    /// Retention deleted old segments.
    Retained {
        /// What was deleted.
        report: RetentionReport,
    },
    /// Some records of a journal did not decode: what did decode is in Parquet, and the journal is kept under a
    /// new name instead of being removed.
    SetAside {
        /// The journal's new name.
        path: PathBuf,
        /// Records that did not decode.
        undecodable: u64,
    },
}

impl fmt::Display for Notice {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Notice::WriteFailed { path, error } => write!(
                f,
                "cannot write {}: {error}; samples wait in memory until writing works again",
                path.display()
            ),
            Notice::Resumed {
                path,
                written,
                dropped,
            } => write!(
                f,
                "writing to {} works again: {written} waiting samples written, {dropped} dropped",
                path.display()
            ),
            Notice::Dropping { capacity } => write!(
                f,
                "the memory buffer of {capacity} samples is full: dropping the oldest waiting samples"
            ),
            Notice::SyncFailed { path, error } => write!(
                f,
                "fsync of {} failed: {error}; recent samples may not survive a power cut",
                path.display()
            ),
            Notice::CompactionFailed { path, error } => write!(
                f,
                "cannot compact {} into Parquet: {error}; it is kept and tried again later",
                path.display()
            ),
            Notice::Retained { report } => write!(
                f,
                "retention deleted {} old segments ({} bytes)",
                report.segments_deleted, report.bytes_freed
            ),
            Notice::SetAside { path, undecodable } => write!(
                f,
                "{undecodable} records of the journal {} did not decode; the rest is in Parquet and the journal \
                 is kept as it is",
                path.display()
            ),
        }
    }
}

/// What [`FlightRecorder::open`] recovered from the journals a previous run left.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct Recovery {
    /// Journals found (compacted, or already compacted and removed).
    pub journals: u64,
    /// Samples recovered into Parquet.
    pub samples: u64,
    /// The last recovered sample's time.
    pub last_sample: Option<Timestamp>,
    /// Clean-stop markers found.
    pub clean_stops: u64,
    /// Bytes of torn records at the journals' ends (a write cut by the crash).
    pub torn_bytes: u64,
    /// Journals that could not be read (not a journal, or a newer format), renamed to `*.unreadable` and left,
    /// and journals with records that did not decode, renamed to `*.undecodable` once what did decode was
    /// compacted.
    pub set_aside: Vec<PathBuf>,
    /// Everything worth logging (one line each).
    pub warnings: Vec<String>,
}

/// The summary of a clean [`FlightRecorder::stop`].
#[derive(Debug, Clone, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct StopSummary {
    /// Samples recorded in this run (written to the journal).
    pub samples: u64,
    /// Samples dropped because the memory buffer overflowed.
    pub dropped: u64,
    /// Segment files written by the final compaction.
    pub files: Vec<PathBuf>,
    /// Everything worth logging (one line each): a journal set aside because records did not decode.
    pub warnings: Vec<String>,
}

/// A durable recorder: the flight recorder of the [crate docs](crate#durability).
///
/// ```
/// use std::time::Duration;
/// use stabmon_core::{Sample, Timestamp};
/// use stabmon_store::{FlightRecorder, RecorderOptions, StoreReader};
///
/// # fn main() -> Result<(), stabmon_store::Error> {
/// # let tmp = tempfile::tempdir().map_err(|source| stabmon_store::Error::Io { path: "tmp".into(), source })?;
/// let dir = tmp.path().join("data");
/// let t0 = Timestamp::from_unix_secs(1_795_576_320);
/// let (mut rec, _recovered) = FlightRecorder::open(&dir, RecorderOptions::new())?;
/// for i in 0..3 {
///     let s = Sample::new(t0.saturating_add(Duration::from_secs(i)), "nas");
///     for notice in rec.record(&s) {
///         eprintln!("{notice}");
///     }
/// }
/// // Already readable, from the journal, before any Parquet is written:
/// assert_eq!(StoreReader::open(&dir)?.samples(None, None)?.len(), 3);
/// rec.stop(t0.saturating_add(Duration::from_secs(3)))?; // compacts into Parquet, marks a clean stop
/// assert_eq!(StoreReader::open(&dir)?.clean_stops(None).len(), 1);
/// # Ok(())
/// # }
/// ```
pub struct FlightRecorder {
    root: PathBuf,
    fs: Arc<dyn Fs>,
    opts: RecorderOptions,
    _lock: Option<DirLock>,
    manifest: Manifest,
    journal: Option<JournalWriter>,
    /// Encodes the samples of the open journal.
    encoder: SampleEncoder,
    /// The host, rotation window and last timestamp of the open journal.
    journal_host: String,
    journal_window: i64,
    journal_last: i64,
    next_seq: u64,
    /// Samples not yet in the journal (only while writing fails).
    pending: VecDeque<Sample>,
    failing: bool,
    dropping: bool,
    dropped_in_outage: u64,
    dropped: u64,
    written_in_outage: u64,
    sync_failing: bool,
    /// Closed journals not yet compacted.
    to_compact: Vec<PathBuf>,
    compaction_failing: bool,
    samples: u64,
    last_boot_id: Option<String>,
    last_host: Option<String>,
    /// The encoded record being written (its buffer kept between samples).
    payload: Vec<u8>,
}

impl fmt::Debug for FlightRecorder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("FlightRecorder")
            .field("root", &self.root)
            .field("opts", &self.opts)
            .field(
                "journal",
                &self.journal.as_ref().map(|j| j.path().to_path_buf()),
            )
            .field("pending", &self.pending.len())
            .field("samples", &self.samples)
            .finish_non_exhaustive()
    }
}

/// Why streaming a journal into segments stopped: reading the journal, or writing the segments.
enum CompactError {
    Read(std::io::Error),
    Store(Error),
}

impl From<std::io::Error> for CompactError {
    fn from(e: std::io::Error) -> Self {
        CompactError::Read(e)
    }
}

impl From<Error> for CompactError {
    fn from(e: Error) -> Self {
        CompactError::Store(e)
    }
}

/// The journals under `root`, by sequence number.
fn journal_files(fs: &dyn Fs, root: &Path) -> Result<Vec<(u64, PathBuf)>, Error> {
    let jdir = root.join(JOURNAL_DIR);
    let mut out = Vec::new();
    for h in fs.list_dirs(&jdir).map_err(io(&jdir))? {
        for f in fs.list_files(&h).map_err(io(&h))? {
            let seq = f
                .file_name()
                .and_then(|n| n.to_str())
                .and_then(|n| n.strip_suffix(".journal"))
                .and_then(|n| n.parse::<u64>().ok());
            if let Some(seq) = seq {
                out.push((seq, f));
            }
        }
    }
    out.sort();
    Ok(out)
}

pub(crate) fn journal_path(root: &Path, host: &str, seq: u64) -> PathBuf {
    root.join(JOURNAL_DIR)
        .join(format!("host={}", encode_host(host)))
        .join(format!("{seq:020}.journal"))
}

impl FlightRecorder {
    /// Opens (creating it if needed) and locks a data directory, recovers what a previous run left in its
    /// journals into Parquet, applies retention, and writes the manifest.
    ///
    /// Fails with [`Error::Locked`] when another recorder holds the directory, and with
    /// [`Error::CreateDir`] when it cannot be created or written.
    pub fn open(
        data_dir: impl AsRef<Path>,
        opts: RecorderOptions,
    ) -> Result<(FlightRecorder, Recovery), Error> {
        let root = data_dir.as_ref().to_path_buf();
        std::fs::create_dir_all(&root).map_err(|source| Error::CreateDir {
            path: root.clone(),
            source,
        })?;
        let lock = DirLock::acquire(&root).map_err(|e| match e {
            Error::Io { path, source } => Error::CreateDir { path, source },
            e => e,
        })?;
        Self::open_with(root, opts, Arc::new(RealFs), Some(lock))
    }

    pub(crate) fn open_with(
        root: PathBuf,
        opts: RecorderOptions,
        fs: Arc<dyn Fs>,
        lock: Option<DirLock>,
    ) -> Result<(FlightRecorder, Recovery), Error> {
        let mut recovery = Recovery::default();
        fs.create_dir_all(&root)
            .map_err(|source| Error::CreateDir {
                path: root.clone(),
                source,
            })?;
        let manifest = match Manifest::load(fs.as_ref(), &root) {
            Ok(m) => m.unwrap_or_default(),
            Err(e) => {
                recovery
                    .warnings
                    .push(format!("{e}; rebuilding it from the files"));
                Manifest::default()
            }
        };
        let mut rec = FlightRecorder {
            root,
            fs,
            opts,
            _lock: lock,
            manifest,
            journal: None,
            encoder: SampleEncoder::new(),
            journal_host: String::new(),
            journal_window: 0,
            journal_last: i64::MIN,
            next_seq: 1,
            pending: VecDeque::new(),
            failing: false,
            dropping: false,
            dropped_in_outage: 0,
            dropped: 0,
            written_in_outage: 0,
            sync_failing: false,
            to_compact: Vec::new(),
            compaction_failing: false,
            samples: 0,
            last_boot_id: None,
            last_host: None,
            payload: Vec::new(),
        };
        let journals = journal_files(rec.fs.as_ref(), &rec.root)?;
        rec.next_seq = journals
            .iter()
            .map(|(s, _)| *s)
            .chain([rec.manifest.compacted_journal_seq])
            .max()
            .unwrap_or(0)
            + 1;
        for (seq, path) in journals {
            recovery.journals += 1;
            if seq <= rec.manifest.compacted_journal_seq {
                // Compacted before the crash; only its removal was lost.
                let _ = rec.fs.remove_file(&path);
                continue;
            }
            rec.compact(&path, Some(&mut recovery))?;
        }
        rec.manifest.journals.clear();
        let warnings = rec.manifest.refresh_segments(&rec.root)?;
        recovery.warnings.extend(warnings);
        let report = retention::apply(
            &rec.root,
            &mut rec.manifest,
            rec.opts.retention,
            Timestamp::now(),
            0,
        )?;
        if report.segments_deleted > 0 {
            recovery
                .warnings
                .push(Notice::Retained { report }.to_string());
        }
        rec.manifest.store(rec.fs.as_ref(), &rec.root)?;
        Ok((rec, recovery))
    }

    /// The data directory.
    pub fn data_dir(&self) -> &Path {
        &self.root
    }

    /// Samples written to the journal so far in this run.
    pub fn samples(&self) -> u64 {
        self.samples
    }

    /// Samples waiting in memory (while writing fails).
    pub fn pending(&self) -> usize {
        self.pending.len()
    }

    /// Samples dropped so far because the memory buffer overflowed.
    pub fn dropped(&self) -> u64 {
        self.dropped
    }

    /// Records a sample: it is in the journal when this returns (and fsynced as [`RecorderOptions::sync`]
    /// asks), unless writing fails, in which case it waits in memory. I/O trouble never stops recording: it
    /// comes back as [`Notice`]s to log, each trouble once.
    pub fn record(&mut self, sample: &Sample) -> Vec<Notice> {
        let mut notices = Vec::new();
        let ts = sample.ts.as_unix_micros();
        let rotate = i64::try_from(self.opts.rotate.as_micros()).unwrap_or(i64::MAX);
        let window = ts.div_euclid(rotate.max(1));
        if self.journal.is_some()
            && (window != self.journal_window
                || sample.host != self.journal_host
                || ts <= self.journal_last)
        {
            self.close_journal(&mut notices);
        }
        self.last_boot_id.clone_from(&sample.boot_id);
        self.last_host = Some(sample.host.clone());
        self.pending.push_back(sample.clone());
        self.drain(&mut notices);
        while self.pending.len() > self.opts.buffer_samples {
            self.pending.pop_front();
            self.dropped += 1;
            self.dropped_in_outage += 1;
            if !self.dropping {
                self.dropping = true;
                notices.push(Notice::Dropping {
                    capacity: self.opts.buffer_samples,
                });
            }
        }
        notices
    }

    /// Writes the waiting samples to the journal (opening one when needed).
    fn drain(&mut self, notices: &mut Vec<Notice>) {
        while let Some(s) = self.pending.front() {
            if self.journal.is_none() {
                let ts = s.ts.as_unix_micros();
                let host = s.host.clone();
                if let Err(e) = self.open_journal(&host, ts, notices) {
                    self.fail(e.0, e.1, notices);
                    return;
                }
            }
            let Some(s) = self.pending.front() else {
                break;
            };
            let mut payload = std::mem::take(&mut self.payload);
            let kind = self.encoder.encode(s, &mut payload);
            let next_in = if s.interval.is_zero() {
                Duration::from_secs(1)
            } else {
                s.interval
            };
            let ts = s.ts.as_unix_micros();
            let Some(j) = self.journal.as_mut() else {
                break;
            };
            let path = j.path().to_path_buf();
            let appended = j.append(kind, &payload, next_in);
            self.payload = payload;
            match appended {
                Ok(()) => self.sync_ok(),
                Err(AppendError::Sync(e)) => {
                    if !self.sync_failing {
                        self.sync_failing = true;
                        notices.push(Notice::SyncFailed {
                            path: path.clone(),
                            error: e.to_string(),
                        });
                    }
                }
                Err(AppendError::Write(e)) => {
                    // The record is not in the journal: the next one cannot be a delta against it.
                    self.encoder.reset();
                    self.fail(path, e.to_string(), notices);
                    return;
                }
            }
            self.journal_last = ts;
            self.pending.pop_front();
            self.samples += 1;
            if self.failing {
                self.written_in_outage += 1;
            }
        }
        if self.failing {
            self.failing = false;
            self.dropping = false;
            let path = self
                .journal
                .as_ref()
                .map(|j| j.path().to_path_buf())
                .unwrap_or_default();
            notices.push(Notice::Resumed {
                path,
                written: std::mem::take(&mut self.written_in_outage),
                dropped: std::mem::take(&mut self.dropped_in_outage),
            });
        }
    }

    fn sync_ok(&mut self) {
        self.sync_failing = false;
    }

    fn fail(&mut self, path: PathBuf, error: String, notices: &mut Vec<Notice>) {
        if !self.failing {
            self.failing = true;
            notices.push(Notice::WriteFailed { path, error });
        }
    }

    /// Starts a journal for `host`; compacts closed journals first and updates the manifest.
    fn open_journal(
        &mut self,
        host: &str,
        ts: i64,
        notices: &mut Vec<Notice>,
    ) -> Result<(), (PathBuf, String)> {
        let seq = self.next_seq;
        let path = journal_path(&self.root, host, seq);
        let j = JournalWriter::create(self.fs.as_ref(), &path, seq, self.opts.sync)
            .map_err(|e| (path.clone(), e.to_string()))?;
        self.next_seq += 1;
        let rotate = i64::try_from(self.opts.rotate.as_micros()).unwrap_or(i64::MAX);
        self.journal_window = ts.div_euclid(rotate.max(1));
        self.journal_host = host.to_owned();
        self.journal_last = i64::MIN;
        self.journal = Some(j);
        self.encoder.reset();
        self.maintain(notices);
        Ok(())
    }

    /// Closes the open journal; it is compacted when the next one opens.
    fn close_journal(&mut self, notices: &mut Vec<Notice>) {
        if let Some(mut j) = self.journal.take() {
            if let Err(e) = j.sync()
                && !self.sync_failing
            {
                self.sync_failing = true;
                notices.push(Notice::SyncFailed {
                    path: j.path().to_path_buf(),
                    error: e.to_string(),
                });
            }
            self.to_compact.push(j.path().to_path_buf());
        }
    }

    /// Compacts closed journals, applies retention and rewrites the manifest; trouble becomes notices.
    fn maintain(&mut self, notices: &mut Vec<Notice>) {
        let mut still = Vec::new();
        for path in std::mem::take(&mut self.to_compact) {
            match self.compact(&path, None) {
                Ok(set_aside) => notices.extend(set_aside),
                Err(e) => {
                    if !self.compaction_failing {
                        notices.push(Notice::CompactionFailed {
                            path: path.clone(),
                            error: e.to_string(),
                        });
                    }
                    self.compaction_failing = true;
                    still.push(path);
                }
            }
        }
        if still.is_empty() {
            self.compaction_failing = false;
        }
        self.to_compact = still;
        let live_bytes = self.journal.as_ref().map_or(0, JournalWriter::len);
        let result = self
            .manifest
            .refresh_segments(&self.root)
            .and_then(|_| {
                retention::apply(
                    &self.root,
                    &mut self.manifest,
                    self.opts.retention,
                    Timestamp::now(),
                    live_bytes,
                )
            })
            .and_then(|report| {
                if report.segments_deleted > 0 {
                    notices.push(Notice::Retained { report });
                }
                self.update_manifest()
            });
        if let Err(e) = result
            && !self.failing
        {
            notices.push(Notice::WriteFailed {
                path: self.root.join(crate::manifest::MANIFEST_FILE),
                error: e.to_string(),
            });
        }
    }

    fn update_manifest(&mut self) -> Result<(), Error> {
        self.manifest.journals = self
            .journal
            .iter()
            .map(|j| ManifestJournal {
                host: self.journal_host.clone(),
                path: rel_path(&self.root, j.path()),
                seq: j.seq(),
            })
            .collect();
        self.manifest.store(self.fs.as_ref(), &self.root)
    }

    /// Compacts one journal into Parquet segments and removes it. Samples already in a segment that the
    /// manifest does not list yet (a crash between a compaction and its manifest update) are not written twice.
    ///
    /// The journal is streamed record by record into the writer, which holds one row group in its compact buffer:
    /// memory does not grow with the journal (an hour's journal at 1 s is ~10 MB on disk, ~25 MB as `Sample`s).
    ///
    /// A journal with records that did not decode is not removed but renamed to `*.journal.undecodable`, and the
    /// notice saying so is returned (and added to `recovery`'s warnings).
    fn compact(
        &mut self,
        path: &Path,
        recovery: Option<&mut Recovery>,
    ) -> Result<Option<Notice>, Error> {
        let known = self.unlisted_sample_times()?;
        let file = self.fs.open_read(path).map_err(io(path))?;
        let mut writer = None;
        let mut written = 0u64;
        let mut last = None;
        let (root, writer_opts) = (&self.root, &self.opts.writer);
        let streamed = stream_journal(file, |s: Sample| -> Result<(), CompactError> {
            if known.contains(&(s.host.clone(), s.ts.as_unix_micros())) {
                return Ok(());
            }
            let w = match &mut writer {
                Some(w) => w,
                None => writer.insert(StoreWriter::create_with(root, writer_opts.clone())?),
            };
            match w.write(&s) {
                Ok(()) => {}
                // A sample the format cannot hold is refused alone.
                Err(Error::Unrepresentable { .. }) => return Ok(()),
                Err(e) => return Err(e.into()),
            }
            written += 1;
            last = Some(s.ts);
            Ok(())
        });
        let contents = match streamed {
            Ok(Ok(c)) => c,
            Ok(Err(why)) => {
                let aside = path.with_extension("journal.unreadable");
                self.fs.rename(path, &aside).map_err(io(path))?;
                if let Some(r) = recovery {
                    r.warnings.push(format!(
                        "{} is not a readable journal ({why}): left as {}",
                        path.display(),
                        aside.display()
                    ));
                    r.set_aside.push(aside);
                }
                return Ok(None);
            }
            Err(CompactError::Read(e)) => return Err(io(path)(e)),
            Err(CompactError::Store(e)) => return Err(e),
        };
        if let Some(w) = writer {
            let summary = w.finish()?;
            for f in &summary.files {
                if let Some(dir) = f.parent() {
                    crate::fsio::sync_dir(dir).map_err(io(dir))?;
                }
            }
        }
        for stop in &contents.stops {
            let entry = CleanStop::new(stop.host.clone(), stop.ts, stop.boot_id.clone());
            if !self.manifest.stops.contains(&entry) {
                self.manifest.stops.push(entry);
            }
        }
        self.manifest.compacted_journal_seq = self.manifest.compacted_journal_seq.max(contents.seq);
        self.manifest.refresh_segments(&self.root)?;
        self.update_manifest()?;
        let set_aside = if contents.undecodable > 0 {
            let aside = path.with_extension("journal.undecodable");
            self.fs.rename(path, &aside).map_err(io(path))?;
            Some(Notice::SetAside {
                path: aside,
                undecodable: contents.undecodable,
            })
        } else {
            self.fs.remove_file(path).map_err(io(path))?;
            None
        };
        if let Some(dir) = path.parent() {
            self.fs.sync_dir(dir).map_err(io(dir))?;
        }
        if let Some(r) = recovery {
            r.samples += written;
            r.clean_stops += contents.stops.len() as u64;
            r.torn_bytes += contents.torn_bytes;
            if last > r.last_sample {
                r.last_sample = last;
            }
            if contents.torn_bytes > 0 {
                r.warnings.push(format!(
                    "{}: {} bytes of a record cut by the crash were dropped",
                    path.display(),
                    contents.torn_bytes
                ));
            }
            if let Some(n @ Notice::SetAside { path, .. }) = &set_aside {
                r.warnings.push(n.to_string());
                r.set_aside.push(path.clone());
            }
        }
        Ok(set_aside)
    }

    /// (host, ts) of the samples in `samples` segments on disk that the manifest does not list.
    fn unlisted_sample_times(&self) -> Result<HashSet<(String, i64)>, Error> {
        let listed: HashSet<&str> = self
            .manifest
            .segments
            .iter()
            .map(|s| s.path.as_str())
            .collect();
        let mut files = Vec::new();
        let samples_dir = self.root.join("samples");
        if samples_dir.exists() {
            crate::layout::parquet_files(&samples_dir, &mut files)?;
        }
        let mut out = HashSet::new();
        for f in files {
            if listed.contains(rel_path(&self.root, &f).as_str())
                || parse_own_segment_path(&self.root, &f).is_none()
            {
                continue;
            }
            // A damaged file is skipped here; the reader warns about it.
            if let Ok(r) = StoreReader::open(&f)
                && let Ok(samples) = r.samples(None, None)
            {
                out.extend(samples.into_iter().map(|s| (s.host, s.ts.as_unix_micros())));
            }
        }
        Ok(out)
    }

    /// Stops cleanly: writes what waits, a clean-stop marker (at `at`, normally the time of the stop), compacts
    /// the journal into Parquet and updates the manifest. If the final compaction fails, the journal stays on
    /// disk and the next start recovers it; the error says why.
    pub fn stop(mut self, at: Timestamp) -> Result<StopSummary, Error> {
        let mut notices = Vec::new();
        self.drain(&mut notices);
        let host = self.last_host.clone();
        if let (Some(host), Some(j)) = (host, self.journal.as_mut()) {
            let stop = StopRecord {
                host,
                ts: at,
                boot_id: self.last_boot_id.clone(),
            };
            let path = j.path().to_path_buf();
            match j.append(Kind::Stop, &encode(&stop), Duration::ZERO) {
                Ok(()) | Err(AppendError::Sync(_)) => {}
                Err(AppendError::Write(e)) => {
                    return Err(Error::Io { path, source: e });
                }
            }
        }
        if self.journal.is_none()
            && let Some(host) = self.last_host.clone()
        {
            // Nothing could be journaled: the stop goes to the manifest directly.
            self.manifest
                .stops
                .push(CleanStop::new(host, at, self.last_boot_id.clone()));
            self.manifest.store(self.fs.as_ref(), &self.root)?;
        }
        self.close_journal(&mut notices);
        let before: HashSet<String> = self
            .manifest
            .segments
            .iter()
            .map(|s| s.path.clone())
            .collect();
        let mut warnings = Vec::new();
        for path in std::mem::take(&mut self.to_compact) {
            if let Some(n) = self.compact(&path, None)? {
                warnings.push(n.to_string());
            }
        }
        let files = self
            .manifest
            .segments
            .iter()
            .filter(|s| !before.contains(&s.path))
            .map(|s| crate::manifest::abs_path(&self.root, &s.path))
            .collect();
        if !self.pending.is_empty() {
            let lost = self.pending.len();
            return Err(Error::Io {
                path: self.root.clone(),
                source: std::io::Error::other(format!(
                    "{lost} samples could not be written before the stop"
                )),
            });
        }
        Ok(StopSummary {
            samples: self.samples,
            dropped: self.dropped,
            files,
            warnings,
        })
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests;
