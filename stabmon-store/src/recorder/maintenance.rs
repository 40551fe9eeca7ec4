//! Compaction and retention, off the sampling thread: a worker thread of the recorder owns the manifest and
//! turns closed journals into Parquet segments while sampling goes on.
//!
//! The sampling thread only sends it messages (the journals it closed and the one it opened) over a channel and
//! never waits for it; the worker compacts one journal at a time, streaming it, so its memory does not grow with
//! the backlog: a backlog is closed journals on disk (still read by [`StoreReader`]) plus their paths here. With
//! [`RecorderOptions::compact_inline`] there is no thread: the sampling thread does the same work when it sends.

use std::collections::HashSet;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, mpsc};
use std::thread::JoinHandle;

use stabmon_core::{Sample, Timestamp};

use super::{Notice, RecorderOptions, Recovery};
use crate::codec::stream_journal;
use crate::error::{Error, io};
use crate::fsio::Fs;
use crate::layout::parse_own_segment_path;
use crate::manifest::{CleanStop, Manifest, ManifestJournal, rel_path};
use crate::reader::StoreReader;
use crate::retention;
use crate::writer::StoreWriter;

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

/// What compaction and retention work on: the data directory and its manifest.
pub(super) struct Maintenance {
    pub root: PathBuf,
    pub fs: Arc<dyn Fs>,
    pub opts: RecorderOptions,
    pub manifest: Manifest,
    /// The journal being written, as the manifest lists it.
    pub live: Option<ManifestJournal>,
    /// Closed journals not yet compacted (a failed compaction is tried again at the next rotation).
    to_compact: Vec<PathBuf>,
    compaction_failing: bool,
    manifest_failing: bool,
    /// The manifest as this thread last wrote it, so that one that would say the same (but for its time) is not
    /// written again.
    pub(super) stored: Option<Manifest>,
}

impl Maintenance {
    pub(super) fn new(
        root: PathBuf,
        fs: Arc<dyn Fs>,
        opts: RecorderOptions,
        manifest: Manifest,
    ) -> Self {
        Maintenance {
            root,
            fs,
            opts,
            manifest,
            live: None,
            to_compact: Vec::new(),
            compaction_failing: false,
            manifest_failing: false,
            stored: None,
        }
    }

    /// Compacts `closed` and the journals whose compaction failed before, applies retention and rewrites the
    /// manifest (listing `live`, `live_bytes` long); trouble becomes notices, each trouble once. Returns how
    /// many journals are done with (compacted or set aside).
    fn maintain(
        &mut self,
        closed: Vec<PathBuf>,
        live: Option<ManifestJournal>,
        live_bytes: u64,
        notices: &mut Vec<Notice>,
    ) -> usize {
        self.live = live;
        self.to_compact.extend(closed);
        let mut still = Vec::new();
        let mut done = 0;
        for path in std::mem::take(&mut self.to_compact) {
            match self.compact(&path, None) {
                Ok(set_aside) => {
                    done += 1;
                    notices.extend(set_aside);
                }
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
        let result = self
            .manifest
            .refresh_segments(&self.root)
            .and_then(|_| {
                retention::apply(
                    &self.root,
                    &mut self.manifest,
                    self.opts.retention,
                    self.opts.keep_unshipped.as_ref(),
                    Timestamp::now(),
                    live_bytes,
                )
            })
            .and_then(|report| {
                if report.segments_deleted > 0 {
                    notices.push(Notice::Retained { report });
                }
                // Usually what the compaction just wrote: then not written again (a file created, fsynced and
                // renamed, its directory fsynced: two file-system commits an hour for nothing).
                self.update_manifest_if_changed()
            });
        match result {
            Ok(()) => self.manifest_failing = false,
            Err(e) => {
                if !self.manifest_failing {
                    notices.push(Notice::WriteFailed {
                        path: self.root.join(crate::manifest::MANIFEST_FILE),
                        error: e.to_string(),
                    });
                }
                self.manifest_failing = true;
            }
        }
        done
    }

    /// Closed journals not compacted yet (their compaction failed).
    pub(super) fn take_failed(&mut self) -> Vec<PathBuf> {
        std::mem::take(&mut self.to_compact)
    }

    pub(super) fn update_manifest(&mut self) -> Result<(), Error> {
        self.manifest.journals = self.live.iter().cloned().collect();
        self.stored = None;
        self.manifest.store(self.fs.as_ref(), &self.root)?;
        self.stored = Some(self.manifest.clone());
        Ok(())
    }

    /// [`update_manifest`](Self::update_manifest), unless the manifest would say what this thread last wrote
    /// (but for the time it was written).
    fn update_manifest_if_changed(&mut self) -> Result<(), Error> {
        self.manifest.journals = self.live.iter().cloned().collect();
        if let Some(last) = &self.stored {
            let mut now = self.manifest.clone();
            now.updated = last.updated;
            if now == *last {
                return Ok(());
            }
        }
        self.update_manifest()
    }

    /// Adds a clean stop that could not be journaled to the manifest.
    pub(super) fn add_stop(&mut self, stop: CleanStop) -> Result<(), Error> {
        self.manifest.stops.push(stop);
        self.stored = None;
        self.manifest.store(self.fs.as_ref(), &self.root)
    }

    /// Compacts one journal into Parquet segments and retires it (its file kept as the spare for the next journal,
    /// or removed: see `journal.rs`, "Recycled files"). Samples already in a segment that the
    /// manifest does not list yet (a crash between a compaction and its manifest update) are not written twice.
    ///
    /// The journal is streamed record by record into the writer, which holds one row group in its compact buffer:
    /// memory does not grow with the journal (an hour's journal at 1 s is ~10 MB on disk, ~25 MB as `Sample`s).
    ///
    /// A journal with records that did not decode is not removed but renamed to `*.journal.undecodable`, and the
    /// notice saying so is returned (and added to `recovery`'s warnings).
    pub(super) fn compact(
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
            // Each directory once (a file system may commit again for each call).
            let mut dirs: Vec<&Path> = summary.files.iter().filter_map(|f| f.parent()).collect();
            dirs.sort_unstable();
            dirs.dedup();
            for dir in dirs {
                crate::fsio::sync_dir(dir).map_err(io(dir))?;
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
            // Its file becomes the spare the next journal is written into, or is deleted.
            crate::journal::retire(
                self.fs.as_ref(),
                path,
                &super::spare_path(&self.root),
                Some(contents.records_end),
            )
            .map_err(io(path))?;
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
}

/// A message to the worker.
enum Job {
    /// A journal was opened (`live`); compact the `closed` ones.
    Maintain {
        closed: Vec<PathBuf>,
        live: Option<ManifestJournal>,
        live_bytes: u64,
    },
    /// Answer when everything sent before is done.
    Flush(mpsc::Sender<()>),
    /// Wait until the test lets go of this lock (a compaction that takes long).
    #[cfg(test)]
    Pause(Arc<Mutex<()>>),
}

/// The worker thread and what it reports.
pub(super) struct Worker {
    tx: Option<mpsc::Sender<Job>>,
    handle: Option<JoinHandle<Maintenance>>,
    notices: Arc<Mutex<Vec<Notice>>>,
    /// Closed journals sent and not yet done with.
    backlog: Arc<AtomicUsize>,
    /// Compaction on the calling thread ([`RecorderOptions::compact_inline`]): no thread, the state is here.
    inline: Option<Maintenance>,
}

impl Worker {
    /// Starts the worker thread with `m`.
    pub(super) fn spawn(m: Maintenance) -> Result<Worker, Error> {
        let (tx, rx) = mpsc::channel::<Job>();
        let notices = Arc::new(Mutex::new(Vec::new()));
        let backlog = Arc::new(AtomicUsize::new(0));
        let root = m.root.clone();
        let (out, left) = (Arc::clone(&notices), Arc::clone(&backlog));
        let handle = std::thread::Builder::new()
            .name("stabmon-compact".into())
            .spawn(move || {
                let mut m = m;
                for job in rx {
                    match job {
                        Job::Maintain {
                            closed,
                            live,
                            live_bytes,
                        } => {
                            let mut notices = Vec::new();
                            let done = m.maintain(closed, live, live_bytes, &mut notices);
                            left.fetch_sub(
                                done.min(left.load(Ordering::Acquire)),
                                Ordering::AcqRel,
                            );
                            lock(&out).extend(notices);
                        }
                        Job::Flush(reply) => {
                            let _ = reply.send(());
                        }
                        #[cfg(test)]
                        Job::Pause(gate) => drop(lock(&gate)),
                    }
                }
                m
            })
            .map_err(io(&root))?;
        Ok(Worker {
            tx: Some(tx),
            handle: Some(handle),
            notices,
            backlog,
            inline: None,
        })
    }

    /// No thread: each [`send`](Self::send) does the work before it returns.
    pub(super) fn inline(m: Maintenance) -> Worker {
        Worker {
            tx: None,
            handle: None,
            notices: Arc::default(),
            backlog: Arc::default(),
            inline: Some(m),
        }
    }

    /// Sends the journals closed and the one opened; returns the backlog (closed journals not done with).
    pub(super) fn send(
        &mut self,
        closed: Vec<PathBuf>,
        live: Option<ManifestJournal>,
        live_bytes: u64,
    ) -> usize {
        let backlog = self.backlog.fetch_add(closed.len(), Ordering::AcqRel) + closed.len();
        if let Some(m) = &mut self.inline {
            let mut notices = Vec::new();
            let done = m.maintain(closed, live, live_bytes, &mut notices);
            self.backlog.fetch_sub(
                done.min(self.backlog.load(Ordering::Acquire)),
                Ordering::AcqRel,
            );
            lock(&self.notices).extend(notices);
            // What is left: journals whose compaction failed, tried again at the next rotation.
            return self.backlog.load(Ordering::Acquire);
        }
        if let Some(tx) = &self.tx {
            let _ = tx.send(Job::Maintain {
                closed,
                live,
                live_bytes,
            });
        }
        backlog
    }

    /// Makes the worker wait for `gate` before its next job.
    #[cfg(test)]
    pub(super) fn pause(&self, gate: Arc<Mutex<()>>) {
        if let Some(tx) = &self.tx {
            let _ = tx.send(Job::Pause(gate));
        }
    }

    /// Closed journals sent and not yet compacted.
    pub(super) fn backlog(&self) -> usize {
        self.backlog.load(Ordering::Acquire)
    }

    /// Moves the worker's notices to `out` without waiting (left for next time if the worker holds them).
    pub(super) fn take_notices(&self, out: &mut Vec<Notice>) {
        if let Ok(mut n) = self.notices.try_lock() {
            out.append(&mut n);
        }
    }

    /// Waits until everything sent so far is done, and moves the worker's notices to `out`.
    pub(super) fn flush(&self, out: &mut Vec<Notice>) {
        let (reply, done) = mpsc::channel();
        if let Some(tx) = &self.tx
            && tx.send(Job::Flush(reply)).is_ok()
        {
            let _ = done.recv();
        }
        out.append(&mut lock(&self.notices));
    }

    /// Stops the worker once everything sent is done and takes its state back (`None` if it panicked), with its
    /// last notices moved to `out`.
    pub(super) fn finish(&mut self, out: &mut Vec<Notice>) -> Option<Maintenance> {
        drop(self.tx.take());
        let m = match self.inline.take() {
            Some(m) => Some(m),
            None => self.handle.take().and_then(|h| h.join().ok()),
        };
        out.append(&mut lock(&self.notices));
        m
    }
}

impl Drop for Worker {
    /// A recorder dropped without [`stop`](super::FlightRecorder::stop) lets the worker finish what it was sent
    /// before it lets go of the directory lock, so a recorder opened next never recovers a journal being compacted.
    fn drop(&mut self) {
        let _ = self.finish(&mut Vec::new());
    }
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    match m.lock() {
        Ok(g) => g,
        Err(p) => p.into_inner(),
    }
}
