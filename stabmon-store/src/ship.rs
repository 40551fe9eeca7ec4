//! Shipping finished segments to object storage: each file to the same relative path under the URL's prefix
//! (`samples/host=H/date=D/SEGMENT.parquet`, ...), so a bucket that many hosts ship into is one Hive-partitioned
//! dataset, and no object is ever written by two hosts.

use std::path::{Path, PathBuf};

use crate::bucket::{Bucket, Patience};
use crate::error::{Error, io};
use crate::layout::{TABLES, parquet_files, parse_own_segment_path};
use crate::manifest::rel_path;

/// What one shipping round did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct ShipSummary {
    /// Files uploaded.
    pub uploaded: usize,
    /// Bytes uploaded.
    pub uploaded_bytes: u64,
    /// Files already there with the same size, left alone.
    pub already_there: usize,
}

/// Uploads every finished segment file of the data directory `dir` that the bucket at `url` (`s3://bucket/prefix`,
/// `gs://...`, `az://...`) does not hold yet, and returns what it did. Idempotent: a file is its segment's
/// relative path, and one already there with the same size is not sent again, so running it twice (or after an
/// interrupted run) uploads nothing twice and a reader never counts a row twice. Within a segment the `samples`
/// file goes last, so a reader that lists a segment finds its companions. `options` as for
/// [`StoreReader::open_bucket_with`](crate::StoreReader::open_bucket_with).
///
/// Errors: a missing bucket, refused credentials or an unreachable endpoint is an [`Error::Remote`] naming the
/// URL; an unreadable local file an [`Error::Io`] naming it.
pub fn ship_dir(dir: &Path, url: &str, options: &[(String, String)]) -> Result<ShipSummary, Error> {
    let bucket = Bucket::open(url, options, Patience::Command)?;
    ship_with(&bucket, dir)
}

/// The finished segment files of `dir` with their paths relative to it, companions before `samples` files.
pub(crate) fn local_segment_files(dir: &Path) -> Result<Vec<(PathBuf, String)>, Error> {
    let mut files = Vec::new();
    parquet_files(dir, &mut files)?;
    let mut out: Vec<(bool, PathBuf, String)> = files
        .into_iter()
        .filter_map(|f| {
            let (_, table) = parse_own_segment_path(dir, &f)?;
            let rel = rel_path(dir, &f);
            Some((table == TABLES[0], f, rel))
        })
        .collect();
    out.sort();
    Ok(out.into_iter().map(|(_, f, rel)| (f, rel)).collect())
}

/// Uploads what the bucket lacks of `dir`'s segment files; `done` hears of every file now in the bucket (with
/// whether it was uploaded and its size) and says whether to go on.
fn ship_files(
    bucket: &Bucket,
    dir: &Path,
    mut done: impl FnMut(String, bool, u64) -> bool,
) -> Result<(), Error> {
    let there: std::collections::HashMap<String, u64> = bucket
        .list()?
        .into_iter()
        .map(|o| (o.rel, o.size))
        .collect();
    for (file, rel) in local_segment_files(dir)? {
        // Deleted by retention meanwhile: nothing to ship.
        let size = match std::fs::metadata(&file) {
            Ok(m) => m.len(),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => continue,
            Err(e) => return Err(io(file)(e)),
        };
        let upload = there.get(&rel) != Some(&size);
        if upload {
            let bytes = match std::fs::read(&file) {
                Ok(b) => b,
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => continue,
                Err(e) => return Err(io(file)(e)),
            };
            bucket.upload(&rel, bytes)?;
        }
        if !done(rel, upload, size) {
            break;
        }
    }
    Ok(())
}

fn ship_with(bucket: &Bucket, dir: &Path) -> Result<ShipSummary, Error> {
    let mut summary = ShipSummary::default();
    ship_files(bucket, dir, |_, uploaded, size| {
        if uploaded {
            summary.uploaded += 1;
            summary.uploaded_bytes += size;
        } else {
            summary.already_there += 1;
        }
        true
    })?;
    Ok(summary)
}

/// Ships a data directory's finished segments from a thread of its own (`stabmon-ship`, with the bucket's two
/// I/O threads), while a recorder writes them: the directory is the queue. Every `every`, or at once after
/// [`nudge`](Self::nudge), it uploads what the bucket lacks ([`ship_dir`]'s rules, so nothing is sent twice and a
/// restart resumes where it was). A failing round is retried with backoff (1 s doubling up to `every`), for as long
/// as it takes: nothing is lost, segments wait on disk. The recorder's sampling never waits for it.
///
/// Trouble is reported as lines to log ([`notices`](Self::notices)): one when shipping starts failing and one when it
/// recovers, not one per try.
#[derive(Debug)]
pub struct Shipper {
    shared: std::sync::Arc<Shared>,
    thread: Option<std::thread::JoinHandle<()>>,
}

#[derive(Debug, Default)]
struct Shared {
    state: std::sync::Mutex<State>,
    wake: std::sync::Condvar,
    shipped: ShippedFiles,
}

#[derive(Debug, Default)]
struct State {
    stop: bool,
    nudged: bool,
    /// A last round is asked for ([`Shipper::finish`]).
    finish: bool,
    /// The last round is over: whether it shipped everything.
    finished: Option<bool>,
    notices: Vec<String>,
    uploaded: usize,
}

/// The segment files known to be in the bucket (paths relative to the data directory), shared by a [`Shipper`]
/// that fills it and a recorder whose retention keeps the others
/// ([`RecorderOptions::keep_unshipped`](crate::RecorderOptions::keep_unshipped)).
#[derive(Clone, Default)]
pub struct ShippedFiles(std::sync::Arc<std::sync::Mutex<std::collections::HashSet<String>>>);

impl ShippedFiles {
    /// An empty set.
    pub fn new() -> Self {
        Self::default()
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, std::collections::HashSet<String>> {
        match self.0.lock() {
            Ok(g) => g,
            Err(p) => p.into_inner(),
        }
    }

    /// Whether the file at `rel` (relative to the data directory, `/`-separated) is in the bucket.
    pub fn contains(&self, rel: &str) -> bool {
        self.lock().contains(rel)
    }

    fn insert(&self, rel: String) {
        self.lock().insert(rel);
    }
}

impl std::fmt::Debug for ShippedFiles {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "ShippedFiles({} files)", self.lock().len())
    }
}

/// Two handles are equal when they share one set.
impl PartialEq for ShippedFiles {
    fn eq(&self, other: &Self) -> bool {
        std::sync::Arc::ptr_eq(&self.0, &other.0)
    }
}

impl Eq for ShippedFiles {}

impl Shared {
    fn lock(&self) -> std::sync::MutexGuard<'_, State> {
        match self.state.lock() {
            Ok(g) => g,
            Err(p) => p.into_inner(),
        }
    }
}

impl Shipper {
    /// Starts shipping `dir` to `url` (see [`ship_dir`] for the URL and `options`), recording in `shipped` the
    /// files the bucket holds. Only a bad URL or option is an error here; an unreachable endpoint or a missing
    /// bucket shows as a notice and is retried.
    pub fn start(
        dir: &Path,
        url: &str,
        options: &[(String, String)],
        every: std::time::Duration,
        shipped: ShippedFiles,
    ) -> Result<Shipper, Error> {
        let bucket = Bucket::open(url, options, Patience::Background)?;
        let shared = std::sync::Arc::new(Shared {
            shipped,
            ..Shared::default()
        });
        let dir = dir.to_path_buf();
        let worker = std::sync::Arc::clone(&shared);
        let thread = std::thread::Builder::new()
            .name("stabmon-ship".into())
            .spawn(move || run(&bucket, &dir, &worker, every))
            .map_err(io(std::path::PathBuf::from(url)))?;
        Ok(Shipper {
            shared,
            thread: Some(thread),
        })
    }

    /// Ships now (after a segment was written) rather than at the next period or retry.
    pub fn nudge(&self) {
        self.shared.lock().nudged = true;
        self.shared.wake.notify_all();
    }

    /// The lines to log since the last call: shipping started failing, or recovered.
    pub fn notices(&self) -> Vec<String> {
        std::mem::take(&mut self.shared.lock().notices)
    }

    /// Whether the file at `rel` (relative to the data directory) is known to be in the bucket.
    pub fn is_shipped(&self, rel: &str) -> bool {
        self.shared.shipped.contains(rel)
    }

    /// Files uploaded since the start.
    pub fn uploaded(&self) -> usize {
        self.shared.lock().uploaded
    }

    /// Ships once more, what the directory holds now (the segments its recorder compacted when it stopped), then
    /// stops, waiting at most `timeout`: a dead endpoint never holds up the caller longer. Gives whether the last
    /// round shipped everything (`false` when it failed or ran out of time: what is left waits in the directory for
    /// the next start), and the files uploaded since the start. Past the timeout, the thread is told to stop and
    /// left to end by itself.
    pub fn finish(mut self, timeout: std::time::Duration) -> (bool, usize) {
        let deadline = std::time::Instant::now() + timeout;
        self.shared.lock().finish = true;
        self.shared.wake.notify_all();
        let st = self.shared.lock();
        let (mut st, _) = match self.shared.wake.wait_timeout_while(
            st,
            deadline.saturating_duration_since(std::time::Instant::now()),
            |s| s.finished.is_none(),
        ) {
            Ok(r) => r,
            Err(p) => p.into_inner(),
        };
        let (done, uploaded) = (st.finished, st.uploaded);
        st.stop = true;
        drop(st);
        self.shared.wake.notify_all();
        match done {
            Some(ok) => {
                self.halt();
                (ok, uploaded)
            }
            None => {
                // An upload hangs on the endpoint: detach the thread rather than wait for it.
                self.thread.take();
                (false, uploaded)
            }
        }
    }

    /// Stops the thread (an upload under way is finished or abandoned, and sent again at the next start).
    pub fn stop(mut self) {
        self.halt();
    }

    fn halt(&mut self) {
        self.shared.lock().stop = true;
        self.shared.wake.notify_all();
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

impl Drop for Shipper {
    fn drop(&mut self) {
        self.halt();
    }
}

fn run(bucket: &Bucket, dir: &Path, shared: &Shared, every: std::time::Duration) {
    let first_backoff = std::time::Duration::from_secs(1);
    let mut backoff = first_backoff;
    let mut failing: Option<std::time::Instant> = None;
    loop {
        // Asked before this round started: the round sees every file there is by then.
        let last = shared.lock().finish;
        let result = ship_round(bucket, dir, shared);
        let ok = result.is_ok();
        let wait = {
            let mut st = shared.lock();
            match result {
                Ok(()) => {
                    if let Some(since) = failing.take() {
                        st.notices.push(format!(
                            "shipping to {} recovered after {} s; the segments that waited are uploaded",
                            bucket.url(),
                            since.elapsed().as_secs()
                        ));
                    }
                    backoff = first_backoff;
                    every
                }
                Err(e) => {
                    if failing.is_none() {
                        failing = Some(std::time::Instant::now());
                        st.notices.push(format!(
                            "shipping fails: {e}; segments stay in the data directory and are uploaded when it \
                             works again (retrying with backoff)"
                        ));
                    }
                    let wait = backoff.min(every);
                    backoff = (backoff * 2).min(every);
                    wait
                }
            }
        };
        if last {
            shared.lock().finished = Some(ok);
            shared.wake.notify_all();
            return;
        }
        let st = shared.lock();
        let (mut st, _) = match shared
            .wake
            .wait_timeout_while(st, wait, |s| !s.stop && !s.nudged && !s.finish)
        {
            Ok(r) => r,
            Err(p) => p.into_inner(),
        };
        if st.stop {
            return;
        }
        st.nudged = false;
    }
}

/// One round: what the bucket lacks, uploaded; what it holds, remembered as shipped.
fn ship_round(bucket: &Bucket, dir: &Path, shared: &Shared) -> Result<(), Error> {
    ship_files(bucket, dir, |rel, uploaded, _| {
        shared.shipped.insert(rel);
        let mut st = shared.lock();
        st.uploaded += usize::from(uploaded);
        !st.stop
    })
}
