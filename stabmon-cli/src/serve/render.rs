//! The live view's renders: a fixed pool of worker threads behind a bounded queue, a short-lived cache keyed by
//! the query, and one render shared by every request for the same view that arrives while it runs.
//!
//! Renders share a memory budget: one starts when its estimate (from the coverage of its range) fits beside the
//! renders running, first come first served, so two pages of a month never hold two months of columns at once.
//!
//! Nothing waits without end: when the queue is full the caller is told [`Outcome::Busy`] at once (the server
//! answers 503 with `Retry-After`), and a caller waits for its render at most the time it is given.

use std::collections::{HashMap, HashSet};
use std::path::PathBuf;
use std::sync::mpsc::{self, Receiver, Sender, SyncSender, TrySendError};
use std::sync::{Arc, Condvar, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use stabmon_core::Timestamp;
use stabmon_core::analysis::detect_incidents_in;
use stabmon_core::series::{MomentColumns, SampleParts};
use stabmon_core::time::LocalZone;
use stabmon_report::{HostSection, Notice, ReportBuilder};
use stabmon_store::{Coverage, DefaultRange, SeriesRead, StoreReader};

use super::view::{DEFAULT_SINCE, View};

/// Renders kept in the cache at most (each is about a megabyte at most: the report downsamples).
const CACHE_ENTRIES: usize = 16;

/// How long a reader of object storage is reused before the prefix is listed again: a bucket lags its hosts by
/// their rotation (an hour by default), so a minute costs nothing in freshness and spares a listing and the
/// fetches of every render.
const RELIST: Duration = Duration::from_secs(60);

/// Warnings printed on stderr at most; beyond, one line says that further ones are left out.
const PRINTED_MAX: usize = 10_000;

/// Where the pages' data is: a data directory, opened afresh by each render (cheap, and it sees the journal grow),
/// or a dataset in object storage, whose reader (its listing and its cache of fetched byte ranges) is shared by
/// the renders and renewed every [`RELIST`].
///
/// A page lists the files its reader skipped ([`StoreReader::warnings`]): of a directory those of its own render,
/// of a bucket those of the shared reader's renders so far. Each warning is printed on stderr once for the life of
/// the server, however many renders meet it.
pub struct Data {
    location: PathBuf,
    remote: bool,
    shared: Mutex<Option<(Instant, StoreReader)>>,
    printed: Mutex<HashSet<String>>,
}

impl Data {
    /// A data directory.
    pub fn dir(dir: PathBuf) -> Data {
        Data {
            location: dir,
            remote: false,
            shared: Mutex::new(None),
            printed: Mutex::default(),
        }
    }

    /// A dataset in object storage (`s3://`, `gs://`, `az://`, `file://`), with its reader opened already.
    pub fn bucket(url: PathBuf, reader: StoreReader) -> Data {
        Data {
            location: url,
            remote: true,
            shared: Mutex::new(Some((Instant::now(), reader))),
            printed: Mutex::default(),
        }
    }

    fn reader(&self) -> Result<StoreReader, stabmon_store::Error> {
        if !self.remote {
            return StoreReader::open(&self.location);
        }
        let mut shared = lock(&self.shared);
        if let Some((at, r)) = &*shared
            && at.elapsed() < RELIST
        {
            return Ok(r.clone());
        }
        let r = StoreReader::open(&self.location)?;
        *shared = Some((Instant::now(), r.clone()));
        Ok(r)
    }

    /// Prints on stderr the warnings of `reader` not printed before: a directory's reader is opened afresh by each
    /// render, and would warn of the same damaged file on every page.
    fn print_new_warnings(&self, reader: &StoreReader) {
        let mut printed = lock(&self.printed);
        for w in reader.warnings() {
            if printed.len() >= PRINTED_MAX {
                if printed.insert(String::new()) {
                    eprintln!(
                        "stabmon: warning: {PRINTED_MAX} warnings printed; further ones are only shown on the pages"
                    );
                }
                return;
            }
            if printed.insert(w.clone()) {
                // A file's name is anyone's choice: no control character reaches the terminal.
                eprintln!("stabmon: warning: {}", crate::table::printable(w));
            }
        }
    }
}

/// A finished page.
#[derive(Debug)]
pub struct Rendered {
    pub status: u16,
    pub body: Vec<u8>,
}

/// What [`Renderer::get`] gives.
pub enum Outcome {
    Page(Arc<Rendered>),
    /// The queue is full, or the render did not finish in time.
    Busy,
}

struct Job {
    key: String,
    view: View,
}

#[derive(Default)]
struct State {
    cache: HashMap<String, (Instant, Arc<Rendered>)>,
    waiting: HashMap<String, Vec<Sender<Arc<Rendered>>>>,
}

/// The memory the renders running at once may count on: a render starts only while the estimates of the renders
/// running and its own fit in it, in the order they came (a render estimated above it runs alone). Two pages of a
/// month at once would otherwise hold two months of columns.
pub const RENDER_MEMORY_BYTES: u64 = 192 << 20;
/// A render's estimated peak heap per sample of its range: its columns, the hover moments' and culprit windows'
/// samples (a month's report peaks near 85 B a sample of 1 s data), with room.
const RENDER_BYTES_PER_SAMPLE: u64 = 100;
/// A render's estimated fixed part (footers, the page being written).
const RENDER_BASE_BYTES: u64 = 8 << 20;

/// The renders' memory budget ([`RENDER_MEMORY_BYTES`]): a first-come, first-served admission of estimates.
struct Budget {
    total: u64,
    state: Mutex<Admission>,
    changed: Condvar,
    /// The data's coverage the estimates are made from, and when it was read: reading it parses every segment's
    /// footer, so renders reuse it for [`RELIST`] (its density changes slowly; a minute more of samples changes
    /// no estimate that matters).
    coverage: Mutex<Option<(Instant, Arc<[Coverage]>)>>,
}

#[derive(Default)]
struct Admission {
    /// The estimates of the renders running.
    used: u64,
    running: usize,
    /// The next ticket to hand out, and the ticket whose turn it is to start.
    next: u64,
    turn: u64,
}

/// A render's share of the budget, given back (after the heap is trimmed) when dropped.
struct Permit<'a> {
    budget: &'a Budget,
    bytes: u64,
}

impl Budget {
    fn new(total: u64) -> Budget {
        Budget {
            total,
            state: Mutex::new(Admission::default()),
            changed: Condvar::new(),
            coverage: Mutex::new(None),
        }
    }

    /// [`estimate`] of rendering `host` (the largest host with `None`) from `from` to `to`, from the coverage of
    /// `reader`'s data read at most [`RELIST`] ago; the fixed part alone where the coverage cannot be read.
    fn estimate(
        &self,
        reader: &StoreReader,
        host: Option<&str>,
        from: Timestamp,
        to: Timestamp,
    ) -> u64 {
        let coverage = {
            let mut memo = lock(&self.coverage);
            match &*memo {
                Some((at, c)) if at.elapsed() < RELIST => Arc::clone(c),
                _ => match reader.coverage() {
                    Ok(c) => {
                        let c: Arc<[Coverage]> = c.into();
                        *memo = Some((Instant::now(), Arc::clone(&c)));
                        c
                    }
                    Err(_) => return RENDER_BASE_BYTES,
                },
            }
        };
        estimate(&coverage, host, from, to)
    }

    /// Waits until `bytes` fit beside the renders running (or none runs) and every render that asked earlier has
    /// started.
    fn admit(&self, bytes: u64) -> Permit<'_> {
        let mut st = lock(&self.state);
        let ticket = st.next;
        st.next += 1;
        while st.turn != ticket || (st.running > 0 && st.used.saturating_add(bytes) > self.total) {
            st = match self.changed.wait(st) {
                Ok(g) => g,
                Err(p) => p.into_inner(),
            };
        }
        st.turn += 1;
        st.used = st.used.saturating_add(bytes);
        st.running += 1;
        self.changed.notify_all();
        Permit {
            budget: self,
            bytes,
        }
    }
}

impl Drop for Permit<'_> {
    fn drop(&mut self) {
        // What the render freed goes back to the system before the next render starts, so two renders one after
        // the other on different threads do not each keep a heap of their own.
        crate::malloc::trim();
        let mut st = lock(&self.budget.state);
        st.used = st.used.saturating_sub(self.bytes);
        st.running -= 1;
        self.budget.changed.notify_all();
    }
}

/// The estimated peak heap of rendering `host` (every host with `None`: the largest) from `from` to `to`: the
/// samples in the range, from each host's coverage (footers and journal, no sample decoded), assumed evenly
/// spread between its first and last sample.
fn estimate(coverage: &[Coverage], host: Option<&str>, from: Timestamp, to: Timestamp) -> u64 {
    let samples = coverage
        .iter()
        .filter(|c| host.is_none_or(|h| h == c.host))
        .map(|c| {
            let all = c.segment_samples.saturating_add(c.journal_samples);
            let span = c
                .last
                .as_unix_micros()
                .saturating_sub(c.first.as_unix_micros());
            let lo = from.as_unix_micros().max(c.first.as_unix_micros());
            let hi = to.as_unix_micros().min(c.last.as_unix_micros());
            if span <= 0 {
                return if lo <= hi { all } else { 0 };
            }
            let part = (hi.saturating_sub(lo)).clamp(0, span) as f64 / span as f64;
            (all as f64 * part).ceil() as u64
        })
        .max()
        .unwrap_or(0);
    samples
        .saturating_mul(RENDER_BYTES_PER_SAMPLE)
        .saturating_add(RENDER_BASE_BYTES)
}

/// The render pool and its cache.
pub struct Renderer {
    jobs: SyncSender<Job>,
    state: Arc<Mutex<State>>,
    ttl: Duration,
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    match m.lock() {
        Ok(g) => g,
        Err(p) => p.into_inner(),
    }
}

impl Renderer {
    /// Starts `workers` render threads over `data` (a directory or a bucket), with room for `queue` views waiting,
    /// running at once only renders whose estimates fit in `memory_bytes` (see [`RENDER_MEMORY_BYTES`]).
    pub fn start(
        data: Data,
        workers: usize,
        queue: usize,
        ttl: Duration,
        memory_bytes: u64,
    ) -> std::io::Result<Renderer> {
        let (tx, rx) = mpsc::sync_channel::<Job>(queue);
        let rx = Arc::new(Mutex::new(rx));
        let state = Arc::new(Mutex::new(State::default()));
        let data = Arc::new(data);
        let budget = Arc::new(Budget::new(memory_bytes));
        for i in 0..workers {
            let rx = Arc::clone(&rx);
            let state = Arc::clone(&state);
            let data = Arc::clone(&data);
            let budget = Arc::clone(&budget);
            std::thread::Builder::new()
                .name(format!("stabmon-render-{i}"))
                .spawn(move || worker(&data, &budget, &rx, &state, ttl))?;
        }
        Ok(Renderer {
            jobs: tx,
            state,
            ttl,
        })
    }

    /// The page for `view`: from the cache when fresh, else rendered (or joined to a render of the same view
    /// already running), waiting at most `wait`.
    pub fn get(&self, view: View, wait: Duration) -> Outcome {
        let key = view.key();
        let (tx, rx) = mpsc::channel();
        {
            let mut st = lock(&self.state);
            if let Some((at, page)) = st.cache.get(&key)
                && at.elapsed() < self.ttl
            {
                return Outcome::Page(Arc::clone(page));
            }
            if let Some(w) = st.waiting.get_mut(&key) {
                w.push(tx);
            } else {
                match self.jobs.try_send(Job {
                    key: key.clone(),
                    view,
                }) {
                    Ok(()) => {
                        st.waiting.insert(key, vec![tx]);
                    }
                    Err(TrySendError::Full(_) | TrySendError::Disconnected(_)) => {
                        return Outcome::Busy;
                    }
                }
            }
        }
        match rx.recv_timeout(wait) {
            Ok(page) => Outcome::Page(page),
            Err(_) => Outcome::Busy,
        }
    }
}

fn worker(
    data: &Data,
    budget: &Budget,
    rx: &Mutex<Receiver<Job>>,
    state: &Mutex<State>,
    ttl: Duration,
) {
    loop {
        let job = match lock(rx).recv() {
            Ok(j) => j,
            Err(_) => return,
        };
        let page = Arc::new(render(data, budget, &job.view));
        let mut st = lock(state);
        st.cache.retain(|_, (at, _)| at.elapsed() < ttl);
        if st.cache.len() >= CACHE_ENTRIES
            && let Some(oldest) = st
                .cache
                .iter()
                .min_by_key(|(_, (at, _))| *at)
                .map(|(k, _)| k.clone())
        {
            st.cache.remove(&oldest);
        }
        st.cache
            .insert(job.key.clone(), (Instant::now(), Arc::clone(&page)));
        for w in st.waiting.remove(&job.key).unwrap_or_default() {
            let _ = w.send(Arc::clone(&page));
        }
    }
}

/// A status page (stabmon-report's [`Notice`]) with its HTTP status.
fn notice(status: u16, page: Notice) -> Rendered {
    Rendered {
        status,
        body: page.to_html().into_bytes(),
    }
}

/// The page for data that could not be read: why, and what the reads skipped before.
fn cannot_read(reader: &StoreReader, refresh: Duration, e: &dyn std::fmt::Display) -> Rendered {
    let page = Notice::new("stabmon: cannot read the data")
        .paragraph(e.to_string())
        .warnings(reader.warnings());
    notice(500, page.refresh(refresh))
}

/// "; this page reloads by itself" when it does.
fn reloads(refresh: Duration) -> &'static str {
    if refresh.is_zero() {
        ""
    } else {
        "; this page reloads by itself"
    }
}

fn render(data: &Data, budget: &Budget, view: &View) -> Rendered {
    let now = Timestamp::now();
    let asked = match view.request(now, &LocalZone::system()) {
        Ok(r) => r.bounds(now),
        Err(e) => return notice(400, Notice::new("stabmon: bad range").paragraph(e)),
    };
    let reader = match data.reader() {
        Ok(r) => r,
        Err(e) => {
            let page = Notice::new("stabmon: cannot read the data").paragraph(e.to_string());
            return notice(500, page.refresh(Duration::from_secs(view.refresh_secs)));
        }
    };
    let page = render_with(&reader, budget, view, asked, now);
    // Before the page is handed out: whoever reads stderr sees the warning by the time the page arrives.
    data.print_new_warnings(&reader);
    page
}

/// The range a page of `host` (or of every host) shows: the bounds `asked`, open ends filled in from the data as
/// for the commands (stabmon-store's [`resolve_range`](StoreReader::resolve_range): an open end at the newest
/// sample; without a range, the last hour of data). Else the page to answer with: a range without an end that
/// starts after the data, a range too long, or the data not read.
fn resolve(
    reader: &StoreReader,
    host: Option<&str>,
    view: &View,
    (from, to): (Option<Timestamp>, Option<Timestamp>),
    now: Timestamp,
) -> Result<(Timestamp, Timestamp), Rendered> {
    let refresh = Duration::from_secs(view.refresh_secs);
    let fail = |e: &dyn std::fmt::Display| cannot_read(reader, refresh, e);
    let asked_end = to.is_some();
    let (from, to) = reader
        .resolve_range(host, from, to, DefaultRange::Last(DEFAULT_SINCE), now)
        .map_err(|e| fail(&e))?;
    // The newest sample, for a range asked without an end (filled in up to now where the data ends before it).
    let newest = match asked_end {
        true => None,
        false => (reader.coverage().map_err(|e| fail(&e))?.into_iter())
            .filter(|c| host.is_none_or(|h| h == c.host))
            .map(|c| c.last)
            .max(),
    };
    if to <= from || newest.is_some_and(|n| n < from) {
        // A range that starts after the data (and maybe after now): nothing to draw, however long it is.
        let covers = reader.describe_coverage(host).map_err(|e| fail(&e))?;
        let who = host.unwrap_or("any host");
        let page = Notice::new(format!("stabmon: no samples of {who}"))
            .paragraph(format!(
                "No samples of {who} from {from} on ({covers}){}.",
                reloads(refresh)
            ))
            .warnings(reader.warnings());
        return Err(notice(200, page.refresh(refresh)));
    }
    view.check(from, to)
        .map_err(|e| notice(400, Notice::new("stabmon: bad range").paragraph(e)))?;
    Ok((from, to))
}

/// The page of `view` from `reader`, naming the files the reads skipped.
fn render_with(
    reader: &StoreReader,
    budget: &Budget,
    view: &View,
    asked: (Option<Timestamp>, Option<Timestamp>),
    now: Timestamp,
) -> Rendered {
    let refresh = Duration::from_secs(view.refresh_secs);
    let fail = |e: &dyn std::fmt::Display| cannot_read(reader, refresh, e);
    // stabmon-store's host rules; the page offers a link per host where the choice is the user's.
    let (asked_missing, hosts) = match reader.choose_host(view.host.as_deref()) {
        Ok(h) => (None, vec![h]),
        // No host asked and none there: nothing recorded yet.
        Err(stabmon_store::Error::UnknownHost { .. }) if view.host.is_none() => {
            let page = Notice::new("stabmon: no samples yet")
                .paragraph(format!(
                    "The data directory holds no samples yet{}.",
                    reloads(refresh)
                ))
                .warnings(reader.warnings());
            return notice(200, page.refresh(refresh));
        }
        Err(stabmon_store::Error::UnknownHost { host, hosts, .. }) => (Some(host), hosts),
        Err(stabmon_store::Error::SeveralHosts { hosts, .. }) => {
            return index(reader, budget, view, &hosts, asked, now);
        }
        Err(e) => return fail(&e),
    };
    let host = match (asked_missing, hosts.as_slice()) {
        (None, [one]) => one.clone(),
        (missing, many) => {
            let what = match &missing {
                Some(h) => format!("There is no data for host {h}. "),
                None => "The data holds no host. ".to_owned(),
            };
            let page = many.iter().fold(
                Notice::new("stabmon: choose a host")
                    .paragraph(format!("{what}Choose one:"))
                    .warnings(reader.warnings()),
                |page, h| page.link(h, format!("/?{}", view.with_host(h).query_string())),
            );
            return notice(if missing.is_some() { 404 } else { 200 }, page);
        }
    };
    let reader = reader.clone().with_host(host.clone());
    // Open ends filled in from the host's data; nothing asked: the last hour of data (ending at the newest sample,
    // starting no earlier than the oldest), so a recorder started a minute ago fills the page.
    let (from, to) = match resolve(&reader, Some(&host), view, asked, now) {
        Ok(r) => r,
        Err(page) => return page,
    };
    let _permit = budget.admit(budget.estimate(&reader, Some(&host), from, to));
    let report = ReportBuilder::new()
        .title(format!("stabmon live: {host}"))
        .range(from, to)
        .detect_options(reader.detect_options(&host))
        .refresh(refresh)
        .build();
    // The hover moments are built as the series is read where the files are decoded whole anyway.
    let read = match report.moment_columns() {
        Some(m) => reader
            .system_series_with_moments(&host, Some(from), Some(to), SeriesRead::All, &m)
            .map(|(series, given)| (series, given, m.parts())),
        None => reader
            .system_series(&host, Some(from), Some(to))
            .map(|series| (series, Vec::new(), SampleParts::NONE)),
    };
    // As a one-host read of the CLI does: the decoding threads' freed heap given back before the page is made.
    crate::malloc::trim();
    let (series, given, parts) = match read {
        Ok(r) => r,
        Err(e) => return fail(&e),
    };
    if series.is_empty() {
        // What the data covers instead, as the commands say it (stabmon-store's words).
        let covers = match reader.describe_coverage(Some(&host)) {
            Ok(c) => c,
            Err(e) => return fail(&e),
        };
        let page = Notice::new(format!("stabmon: no samples of {host}"))
            .paragraph(format!(
                "No samples of {host} from {from} to {to} ({covers}){}.",
                reloads(refresh)
            ))
            .warnings(reader.warnings());
        return notice(200, page.refresh(refresh));
    }
    // The columns of the range, and whole samples only for what the page shows.
    let windows = reader.windows(&host).with_samples(given, parts);
    match report.render_from_naming(&series, &windows, &|| reader.warnings()) {
        Ok((html, _)) => Rendered {
            status: 200,
            body: html.into_bytes(),
        },
        Err(e) => fail(&e),
    }
}

/// The index of a fleet: a row per host, ranked by incidents in the range (by kind, peak CPU and memory, gaps,
/// coverage, a CPU sparkline), each linking to that host's live page of the same range. Hosts are read one at a
/// time, each dropped before the next.
fn index(
    reader: &StoreReader,
    budget: &Budget,
    view: &View,
    hosts: &[String],
    asked: (Option<Timestamp>, Option<Timestamp>),
    now: Timestamp,
) -> Rendered {
    let refresh = Duration::from_secs(view.refresh_secs);
    let fail = |e: &dyn std::fmt::Display| cannot_read(reader, refresh, e);
    // Open ends filled in from the fleet's data; nothing asked: the last hour of the fleet's newest data.
    let (from, to) = match resolve(reader, None, view, asked, now) {
        Ok(r) => r,
        Err(page) => return page,
    };
    // Hosts one at a time: the largest one's estimate.
    let _permit = budget.admit(budget.estimate(reader, None, from, to));
    let mut sections = Vec::with_capacity(hosts.len());
    for host in hosts {
        let reader = reader.clone().with_host(host.clone());
        let series = match reader.system_series(host, Some(from), Some(to)) {
            Ok(s) => s,
            Err(e) => return fail(&format!("host {host}: {e}")),
        };
        let incidents = if series.is_empty() {
            Vec::new()
        } else {
            match detect_incidents_in(&series, &reader.windows(host), &reader.detect_options(host))
            {
                Ok(i) => i,
                Err(e) => return fail(&format!("host {host}: {e}")),
            }
        };
        sections.push(HostSection::overview_only(&series, incidents, from, to));
    }
    stabmon_report::rank_hosts(&mut sections);
    let page = ReportBuilder::new()
        .title(format!("stabmon live: {} hosts", hosts.len()))
        .range(from, to)
        .refresh(refresh)
        .warnings(reader.warnings())
        .build()
        .render_fleet_index(&sections, &|h| {
            format!("/?{}", view.with_host(h).query_string())
        });
    Rendered {
        status: 200,
        body: page.into_bytes(),
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::Budget;
    use std::sync::Arc;
    use std::sync::mpsc::{self, Receiver, Sender};
    use std::time::Duration;

    /// Asks for `bytes` on a thread of its own, which says when it is admitted and holds the permit until told.
    fn ask(budget: &Arc<Budget>, bytes: u64) -> (Receiver<()>, Sender<()>) {
        let (admitted_tx, admitted) = mpsc::channel();
        let (release, release_rx) = mpsc::channel::<()>();
        let budget = Arc::clone(budget);
        std::thread::spawn(move || {
            let _permit = budget.admit(bytes);
            admitted_tx.send(()).unwrap();
            let _ = release_rx.recv();
        });
        (admitted, release)
    }

    /// The estimate is the samples of the range (from the coverage, evenly spread) at the bytes a sample costs,
    /// plus the fixed part; nothing but the fixed part outside the data.
    #[test]
    fn the_estimate_counts_the_samples_in_the_range() {
        use super::{RENDER_BASE_BYTES, RENDER_BYTES_PER_SAMPLE, estimate};
        use stabmon_core::Timestamp;
        use stabmon_core::synth::Synth;
        let dir = tempfile::tempdir().unwrap();
        let t0 = Timestamp::from_unix_secs(1_795_564_800);
        let at = |s: u64| t0.saturating_add(Duration::from_secs(s));
        let mut w = stabmon_store::StoreWriter::create(dir.path()).unwrap();
        for s in &Synth::new(t0, Duration::from_secs(1)).count(601).generate() {
            w.write(s).unwrap();
        }
        w.finish().unwrap();
        let coverage = stabmon_store::StoreReader::open(dir.path())
            .unwrap()
            .coverage()
            .unwrap();
        let bytes = |n: u64| n * RENDER_BYTES_PER_SAMPLE + RENDER_BASE_BYTES;
        assert_eq!(estimate(&coverage, None, at(0), at(600)), bytes(601));
        assert_eq!(estimate(&coverage, None, at(0), at(86_400)), bytes(601));
        let half = estimate(&coverage, None, at(0), at(300));
        assert!((bytes(300)..=bytes(302)).contains(&half), "{half}");
        assert_eq!(
            estimate(&coverage, None, at(700), at(800)),
            RENDER_BASE_BYTES
        );
        assert_eq!(
            estimate(&coverage, Some("no-such-host"), at(0), at(600)),
            RENDER_BASE_BYTES
        );
    }

    const SOON: Duration = Duration::from_secs(30);
    const A_WHILE: Duration = Duration::from_millis(300);

    /// Renders run at once while their estimates fit; one above the budget runs alone; and a render never jumps
    /// ahead of one that asked before it.
    #[test]
    fn renders_run_together_only_within_the_budget_in_order() {
        let budget = Arc::new(Budget::new(100));
        let (a, release_a) = ask(&budget, 40);
        a.recv_timeout(SOON).unwrap();
        let (b, release_b) = ask(&budget, 50);
        b.recv_timeout(SOON).unwrap();
        // 40 + 50 + 20 is over 100: it waits for one of them.
        let (c, release_c) = ask(&budget, 20);
        assert!(c.recv_timeout(A_WHILE).is_err(), "admitted over the budget");
        release_a.send(()).unwrap();
        c.recv_timeout(SOON).unwrap();
        // Above the whole budget: it waits until nothing runs.
        let (big, release_big) = ask(&budget, 500);
        assert!(big.recv_timeout(A_WHILE).is_err(), "admitted beside others");
        // A small one that would fit beside b and c waits behind the big one, which asked first.
        let (small, release_small) = ask(&budget, 10);
        assert!(small.recv_timeout(A_WHILE).is_err(), "jumped the queue");
        release_b.send(()).unwrap();
        assert!(big.recv_timeout(A_WHILE).is_err(), "admitted beside c");
        assert!(small.recv_timeout(A_WHILE).is_err(), "jumped the queue");
        release_c.send(()).unwrap();
        big.recv_timeout(SOON).unwrap();
        assert!(
            small.recv_timeout(A_WHILE).is_err(),
            "admitted beside the big one"
        );
        release_big.send(()).unwrap();
        small.recv_timeout(SOON).unwrap();
        release_small.send(()).unwrap();
    }
}
