//! [`FlightRecorder`]: the durable recorder. Every sample goes to a journal at once; each rotation period the
//! journal is compacted into Parquet segments; at start the journals a crash left are recovered.

use std::collections::{HashSet, VecDeque};
use std::fmt;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use stabmon_core::{Sample, Timestamp};

use crate::codec::{SampleEncoder, StopRecord, encode, encode_annexes};
use crate::error::{Error, io};
use crate::fsio::{Fs, RealFs};
use crate::journal::{AppendError, JournalWriter, Kind};
use crate::layout::encode_host;
use crate::lock::DirLock;
use crate::manifest::{CleanStop, Manifest, ManifestJournal, rel_path};
use crate::retention::{self, Retention, RetentionReport};
use crate::writer::WriterOptions;

mod maintenance;

use maintenance::{Maintenance, Worker};

/// From this many closed journals waiting for compaction on, the recorder reports that compaction falls behind.
const BACKLOG_NOTICE: usize = 2;

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
    /// Segments not in this set are kept past the age limit (only the size limit deletes them).
    pub keep_unshipped: Option<crate::ShippedFiles>,
    /// Compaction and retention run on the thread that calls [`FlightRecorder::record`] instead of a worker.
    pub compact_inline: bool,
}

impl Default for RecorderOptions {
    fn default() -> Self {
        RecorderOptions {
            sync: Duration::from_secs(1),
            rotate: Duration::from_secs(3600),
            retention: Retention::default(),
            buffer_samples: 900,
            writer: WriterOptions::default(),
            keep_unshipped: None,
            compact_inline: false,
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

    /// Keeps segments not yet shipped ([`Shipper`](crate::Shipper)) past the age limit: only the size limit
    /// deletes them, and [`Notice::Retained`] counts those. By default, retention does not look at shipping.
    pub fn keep_unshipped(mut self, shipped: crate::ShippedFiles) -> Self {
        self.keep_unshipped = Some(shipped);
        self
    }

    /// Compacts on the sampling thread: the [`record`](FlightRecorder::record) call that rotates the journal
    /// compacts the closed one (and applies retention) before it returns, and no worker thread is started. By
    /// default, this is off: a worker thread compacts, and sampling never waits for it. For embedders that must
    /// not start threads, and for comparing the two in benchmarks.
    pub fn compact_inline(mut self, inline: bool) -> Self {
        self.compact_inline = inline;
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
    /// Compaction falls behind: closed journals wait on disk (still readable) for the worker thread. Reported
    /// once until the backlog is gone.
    CompactionBehind {
        /// Closed journals waiting.
        journals: usize,
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
                "retention deleted {} old segments ({} bytes){}",
                report.segments_deleted,
                report.bytes_freed,
                if report.unshipped_deleted > 0 {
                    format!(
                        ", {} of them not yet shipped (the size limit forced them out)",
                        report.unshipped_deleted
                    )
                } else {
                    String::new()
                }
            ),
            Notice::CompactionBehind { journals } => write!(
                f,
                "compaction falls behind: {journals} closed journals wait to be compacted (they stay readable)"
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
    /// Journals found (compacted, or already compacted and retired).
    pub journals: u64,
    /// Samples recovered into Parquet.
    pub samples: u64,
    /// The last recovered sample's time.
    pub last_sample: Option<Timestamp>,
    /// Clean-stop markers found.
    pub clean_stops: u64,
    /// Bytes of torn records at the journals' ends (a write cut by the crash). From journal format 6 on, a record
    /// cut at the start of the page its append went to is dropped without being counted here: it cannot be told
    /// from an older journal's bytes in a recycled file.
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
    /// Compaction, retention and the manifest, on a thread of their own. Declared before the lock: dropping the
    /// recorder lets the worker finish before the lock is released.
    worker: Worker,
    root: PathBuf,
    fs: Arc<dyn Fs>,
    opts: RecorderOptions,
    _lock: Option<DirLock>,
    journal: Option<JournalWriter>,
    /// Encodes the samples of the open journal.
    encoder: SampleEncoder,
    /// The annex frames of the record being written (the buffer kept between samples).
    annex_frames: Vec<u8>,
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
    /// Closed journals not yet sent to the worker (sent when the next journal opens).
    closed: Vec<PathBuf>,
    /// A [`Notice::CompactionBehind`] was reported and the backlog is not gone yet.
    behind: bool,
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

/// Where a compacted journal's file waits to be used again by the next journal (see `journal.rs`, "Recycled
/// files"): directly in the journals' directory, where neither the readers nor recovery look for journals.
pub(crate) fn spare_path(root: &Path) -> PathBuf {
    root.join(JOURNAL_DIR).join("spare")
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
        let (manifest, loaded) = match Manifest::load(fs.as_ref(), &root) {
            Ok(Some(m)) => (m, true),
            Ok(None) => (Manifest::default(), false),
            Err(e) => {
                recovery
                    .warnings
                    .push(format!("{e}; rebuilding it from the files"));
                (Manifest::default(), false)
            }
        };
        let mut m = Maintenance::new(root.clone(), Arc::clone(&fs), opts.clone(), manifest);
        let journals = journal_files(fs.as_ref(), &root)?;
        let next_seq = journals
            .iter()
            .map(|(s, _)| *s)
            .chain([m.manifest.compacted_journal_seq])
            .max()
            .unwrap_or(0)
            + 1;
        let spare = spare_path(&root);
        // A spare left by the last run is taken by the first journal; one over the cap (never made so) is deleted.
        // Without the manifest, sequence numbers may start again under those of the records left in the spare,
        // whose frames would then check with a new journal's salt: deleted too.
        if !loaded
            || fs
                .file_len(&spare)
                .is_ok_and(|len| len.is_some_and(|l| l > crate::journal::SPARE_MAX_BYTES))
        {
            let _ = fs.remove_file(&spare);
        }
        for (seq, path) in journals {
            recovery.journals += 1;
            if seq <= m.manifest.compacted_journal_seq {
                // Compacted before the crash; only its retirement was lost.
                // Its records' end is not known without reading it: deleted, not kept as the spare.
                let _ = crate::journal::retire(fs.as_ref(), &path, &spare, None);
                continue;
            }
            m.compact(&path, Some(&mut recovery))?;
        }
        m.manifest.journals.clear();
        let warnings = m.manifest.refresh_segments(&root)?;
        recovery.warnings.extend(warnings);
        let report = retention::apply(
            &root,
            &mut m.manifest,
            opts.retention,
            opts.keep_unshipped.as_ref(),
            Timestamp::now(),
            0,
        )?;
        if report.segments_deleted > 0 {
            recovery
                .warnings
                .push(Notice::Retained { report }.to_string());
        }
        // Stored as a whole (not through the maintenance's own update), so what it last wrote is forgotten.
        m.stored = None;
        m.manifest.store(fs.as_ref(), &root)?;
        let rec = FlightRecorder {
            worker: if opts.compact_inline {
                Worker::inline(m)
            } else {
                Worker::spawn(m)?
            },
            root,
            fs,
            opts,
            _lock: lock,
            journal: None,
            encoder: SampleEncoder::new(),
            annex_frames: Vec::new(),
            journal_host: String::new(),
            journal_window: 0,
            journal_last: i64::MIN,
            next_seq,
            pending: VecDeque::new(),
            failing: false,
            dropping: false,
            dropped_in_outage: 0,
            dropped: 0,
            written_in_outage: 0,
            sync_failing: false,
            closed: Vec::new(),
            behind: false,
            samples: 0,
            last_boot_id: None,
            last_host: None,
            payload: Vec::new(),
        };
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

    /// Closed journals waiting for the compaction thread (normally 0; 1 for the minutes after a rotation).
    pub fn compaction_backlog(&self) -> usize {
        self.worker.backlog()
    }

    /// Waits until the compaction thread has done everything asked of it so far (compaction of the closed
    /// journals, retention, the manifest) and returns its notices. [`record`](Self::record) never waits for
    /// it; this is for embedders that want the Parquet files of a closed period now, and for tests.
    #[must_use = "the notices report trouble (a failed compaction, retention) that should be logged"]
    pub fn wait_for_compaction(&mut self) -> Vec<Notice> {
        let mut notices = Vec::new();
        self.worker.flush(&mut notices);
        notices
    }

    /// Records a sample: it is in the journal when this returns (and fsynced as [`RecorderOptions::sync`]
    /// asks), unless writing fails, in which case it waits in memory. I/O trouble never stops recording: it
    /// comes back as [`Notice`]s to log, each trouble once, with those of the compaction thread. A rotation
    /// only hands the closed journal to that thread: this never waits for compaction or retention (unless
    /// [`RecorderOptions::compact_inline`] asks for them here).
    #[must_use = "the notices report write trouble (a full disk, dropped samples) that should be logged"]
    pub fn record(&mut self, sample: &Sample) -> Vec<Notice> {
        let mut notices = Vec::new();
        self.worker.take_notices(&mut notices);
        if self.behind && self.worker.backlog() == 0 {
            self.behind = false;
        }
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
            let mut annex_frames = std::mem::take(&mut self.annex_frames);
            let salt = self.journal.as_ref().map_or(0, JournalWriter::salt);
            encode_annexes(s, salt, &mut annex_frames);
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
            // The annexes go before the sample (its exits are in its record), in one write.
            let appended = j.append_frames(&annex_frames, &[(kind, &payload)], next_in);
            self.payload = payload;
            self.annex_frames = annex_frames;
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
                    // The record is not in the journal: the next one cannot be a delta against it, nor refer to
                    // the processes it named.
                    self.encoder.reset();
                    if e.kind() == std::io::ErrorKind::StorageFull {
                        // The spare's blocks go to the live journal (the next rotation makes a spare again).
                        let _ = self.fs.remove_file(&spare_path(&self.root));
                    }
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

    /// Starts a journal for `host`, and sends the closed journals and the new one to the compaction thread.
    fn open_journal(
        &mut self,
        host: &str,
        ts: i64,
        notices: &mut Vec<Notice>,
    ) -> Result<(), (PathBuf, String)> {
        let seq = self.next_seq;
        let path = journal_path(&self.root, host, seq);
        let spare = spare_path(&self.root);
        let j = JournalWriter::create(self.fs.as_ref(), &path, seq, self.opts.sync, Some(&spare))
            .map_err(|e| (path.clone(), e.to_string()))?;
        self.next_seq += 1;
        let rotate = i64::try_from(self.opts.rotate.as_micros()).unwrap_or(i64::MAX);
        self.journal_window = ts.div_euclid(rotate.max(1));
        self.journal_host = host.to_owned();
        self.journal_last = i64::MIN;
        let live = ManifestJournal {
            host: host.to_owned(),
            path: rel_path(&self.root, j.path()),
            seq: j.seq(),
        };
        let live_bytes = j.len();
        self.journal = Some(j);
        self.encoder.reset();
        let backlog = self
            .worker
            .send(std::mem::take(&mut self.closed), Some(live), live_bytes);
        if backlog >= BACKLOG_NOTICE && !self.behind {
            self.behind = true;
            notices.push(Notice::CompactionBehind { journals: backlog });
        }
        Ok(())
    }

    /// Closes the open journal; it is sent for compaction when the next one opens.
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
            self.closed.push(j.path().to_path_buf());
        }
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
        let mut notices_after = Vec::new();
        let Some(mut m) = self.worker.finish(&mut notices_after) else {
            return Err(Error::Io {
                path: self.root.clone(),
                source: std::io::Error::other(
                    "the compaction thread failed; the journals stay on disk for the next start",
                ),
            });
        };
        if self.journal.is_none()
            && let Some(host) = self.last_host.clone()
        {
            // Nothing could be journaled: the stop goes to the manifest directly.
            m.add_stop(CleanStop::new(host, at, self.last_boot_id.clone()))?;
        }
        self.close_journal(&mut notices);
        m.live = None;
        let before: HashSet<String> = m.manifest.segments.iter().map(|s| s.path.clone()).collect();
        let mut warnings: Vec<String> = notices_after
            .iter()
            .filter(|n| matches!(n, Notice::SetAside { .. }))
            .map(ToString::to_string)
            .collect();
        let mut to_compact = m.take_failed();
        to_compact.append(&mut self.closed);
        for path in to_compact {
            if let Some(n) = m.compact(&path, None)? {
                warnings.push(n.to_string());
            }
        }
        m.update_manifest()?;
        let files = m
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
