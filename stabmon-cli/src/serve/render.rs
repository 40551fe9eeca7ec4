//! The live view's renders: a fixed pool of worker threads behind a bounded queue, a short-lived cache keyed by
//! the query, and one render shared by every request for the same view that arrives while it runs.
//!
//! Nothing waits without end: when the queue is full the caller is told [`Outcome::Busy`] at once (the server
//! answers 503 with `Retry-After`), and a caller waits for its render at most the time it is given.

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::mpsc::{self, Receiver, Sender, SyncSender, TrySendError};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use stabmon_core::Timestamp;
use stabmon_core::analysis::detect_incidents_in;
use stabmon_core::time::LocalZone;
use stabmon_report::{HostSection, Notice, ReportBuilder};
use stabmon_store::{DefaultRange, StoreReader};

use super::view::{DEFAULT_SINCE, View};

/// Renders kept in the cache at most (each is about a megabyte at most: the report downsamples).
const CACHE_ENTRIES: usize = 16;

/// How long a reader of object storage is reused before the prefix is listed again: a bucket lags its hosts by
/// their rotation (an hour by default), so a minute costs nothing in freshness and spares a listing and the
/// fetches of every render.
const RELIST: Duration = Duration::from_secs(60);

/// Where the pages' data is: a data directory, opened afresh by each render (cheap, and it sees the journal grow),
/// or a dataset in object storage, whose reader (its listing and its cache of fetched byte ranges) is shared by
/// the renders and renewed every [`RELIST`].
pub struct Data {
    location: PathBuf,
    remote: bool,
    shared: Mutex<Option<(Instant, StoreReader)>>,
}

impl Data {
    /// A data directory.
    pub fn dir(dir: PathBuf) -> Data {
        Data {
            location: dir,
            remote: false,
            shared: Mutex::new(None),
        }
    }

    /// A dataset in object storage (`s3://`, `gs://`, `az://`, `file://`), with its reader opened already.
    pub fn bucket(url: PathBuf, reader: StoreReader) -> Data {
        Data {
            location: url,
            remote: true,
            shared: Mutex::new(Some((Instant::now(), reader))),
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
    /// Starts `workers` render threads over `data` (a directory or a bucket), with room for `queue` views waiting.
    pub fn start(
        data: Data,
        workers: usize,
        queue: usize,
        ttl: Duration,
    ) -> std::io::Result<Renderer> {
        let (tx, rx) = mpsc::sync_channel::<Job>(queue);
        let rx = Arc::new(Mutex::new(rx));
        let state = Arc::new(Mutex::new(State::default()));
        let data = Arc::new(data);
        for i in 0..workers {
            let rx = Arc::clone(&rx);
            let state = Arc::clone(&state);
            let data = Arc::clone(&data);
            std::thread::Builder::new()
                .name(format!("stabmon-render-{i}"))
                .spawn(move || worker(&data, &rx, &state, ttl))?;
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

fn worker(data: &Data, rx: &Mutex<Receiver<Job>>, state: &Mutex<State>, ttl: Duration) {
    loop {
        let job = match lock(rx).recv() {
            Ok(j) => j,
            Err(_) => return,
        };
        let page = Arc::new(render(data, &job.view));
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

fn render(data: &Data, view: &View) -> Rendered {
    let now = Timestamp::now();
    let (from, to) = match view.range(now, &LocalZone::system()) {
        Ok(r) => r,
        Err(e) => return notice(400, Notice::new("stabmon: bad range").paragraph(e)),
    };
    let refresh = Duration::from_secs(view.refresh_secs);
    let fail = |e: &dyn std::fmt::Display| {
        let page = Notice::new("stabmon: cannot read the data").paragraph(e.to_string());
        notice(500, page.refresh(refresh))
    };
    let reader = match data.reader() {
        Ok(r) => r,
        Err(e) => return fail(&e),
    };
    // stabmon-store's host rules; the page offers a link per host where the choice is the user's.
    let (asked_missing, hosts) = match reader.choose_host(view.host.as_deref()) {
        Ok(h) => (None, vec![h]),
        // No host asked and none there: nothing recorded yet.
        Err(stabmon_store::Error::UnknownHost { .. }) if view.host.is_none() => {
            let page = Notice::new("stabmon: no samples yet")
                .paragraph("The data directory holds no samples yet; this page reloads by itself.");
            return notice(200, page.refresh(refresh));
        }
        Err(stabmon_store::Error::UnknownHost { host, hosts, .. }) => (Some(host), hosts),
        Err(stabmon_store::Error::SeveralHosts { hosts, .. }) => {
            return index(&reader, view, &hosts, (from, to), now);
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
                Notice::new("stabmon: choose a host").paragraph(format!("{what}Choose one:")),
                |page, h| page.link(h, format!("/?{}", view.with_host(h).query_string())),
            );
            return notice(if missing.is_some() { 404 } else { 200 }, page);
        }
    };
    let reader = reader.with_host(host.clone());
    // Nothing asked: the last hour of data (ending at the newest sample, starting no earlier than the oldest), so a
    // recorder started a minute ago fills the page.
    let (from, to) = if no_range(view) {
        match reader.resolve_range(
            Some(&host),
            None,
            None,
            DefaultRange::Last(DEFAULT_SINCE),
            now,
        ) {
            Ok(r) => r,
            Err(e) => return fail(&e),
        }
    } else {
        (from, to)
    };
    let series = match reader.system_series(&host, Some(from), Some(to)) {
        Ok(s) => s,
        Err(e) => return fail(&e),
    };
    if series.is_empty() {
        let page = Notice::new(format!("stabmon: no samples of {host}")).paragraph(format!(
            "No samples of {host} from {from} to {to}; this page reloads by itself."
        ));
        return notice(200, page.refresh(refresh));
    }
    let report = ReportBuilder::new()
        .title(format!("stabmon live: {host}"))
        .range(from, to)
        .detect_options(reader.detect_options(&host))
        .refresh(refresh)
        .build();
    // The columns of the range, and whole samples only for what the page shows.
    match report.render_from(&series, &reader.windows(&host)) {
        Ok((html, _)) => Rendered {
            status: 200,
            body: html.into_bytes(),
        },
        Err(e) => fail(&e),
    }
}

/// Whether the view names no range (the page then shows the last hour of data).
fn no_range(view: &View) -> bool {
    view.since.is_none() && view.from.is_none() && view.to.is_none() && view.at.is_none()
}

/// The index of a fleet: a row per host, ranked by incidents in the range (by kind, peak CPU and memory, gaps,
/// coverage, a CPU sparkline), each linking to that host's live page of the same range. Hosts are read one at a
/// time, each dropped before the next.
fn index(
    reader: &StoreReader,
    view: &View,
    hosts: &[String],
    (from, to): (Timestamp, Timestamp),
    now: Timestamp,
) -> Rendered {
    let refresh = Duration::from_secs(view.refresh_secs);
    let fail = |e: &dyn std::fmt::Display| {
        let page = Notice::new("stabmon: cannot read the data").paragraph(e.to_string());
        notice(500, page.refresh(refresh))
    };
    // Nothing asked: the last hour of the fleet's newest data.
    let (from, to) = if no_range(view) {
        match reader.resolve_range(None, None, None, DefaultRange::Last(DEFAULT_SINCE), now) {
            Ok(r) => r,
            Err(e) => return fail(&e),
        }
    } else {
        (from, to)
    };
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
        .build()
        .render_fleet_index(&sections, &|h| {
            format!("/?{}", view.with_host(h).query_string())
        });
    Rendered {
        status: 200,
        body: page.into_bytes(),
    }
}
