//! `stabmon top` over any range: process and name usage aggregated from the tables' columns, without building
//! samples (a row group of schema 1-4 first decoded into today's columns, see `older`).
//!
//! Decoding threads of the call's own each take the next row group: they read its columns, put its process and
//! name rows with their samples, and turn their strings into numbers (each distinct name or command line once: a
//! row of a dictionary-encoded column costs a table look-up, not a string). The calling thread takes the row
//! groups in order and only adds them up, which is cheaper than decoding one: with two cores, both stay busy.

use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};
use std::sync::{Condvar, Mutex, MutexGuard};
use std::time::Duration;

use arrow_array::types::{
    Float32Type, Int32Type, Int64Type, TimestampMicrosecondType, UInt32Type, UInt64Type,
};
use arrow_array::{Array, PrimitiveArray, RecordBatch, StringArray};
use stabmon_core::analysis::{NameRow, NameUsage, ProcRow, UsageAcc};
use stabmon_core::{Sample, Timestamp};

use super::group::{ByTick, TickIndex};
use super::older::{Keep, Rows, read_older};
use super::table::{Strings, TableFile};
use super::{Cols, Range, StoreReader, StrCol};
use crate::error::{Error, contain, invalid};
use crate::layout::{SegmentLoc, TABLES};

impl StoreReader {
    /// Which process names (and their processes) used the most CPU and memory over `from <= ts < to` for `host`:
    /// [`usage_by_name`](stabmon_core::analysis::usage_by_name) of the range, aggregated row group by row group
    /// from the `samples`, `processes` and `names` columns it needs, without building process entries (a row group
    /// of a file older than schema 5 is read whole, its values derived). Also gives how many samples the range
    /// holds and the time they cover.
    ///
    /// Row groups are decoded (their rows put with their samples, their strings numbered) on threads of the call's
    /// own (ended before it returns), as many as there are cores (up to four), while this thread adds them up in
    /// order. Each table file's footer is read once to plan the read, and once by each decoding thread that reads
    /// from it (a thread keeps one segment's files open at a time). Damaged segments and row groups are skipped
    /// with a warning ([`warnings`](Self::warnings)).
    pub fn usage(
        &self,
        host: &str,
        from: Option<Timestamp>,
        to: Option<Timestamp>,
    ) -> Result<RangeUsage, Error> {
        let range = Range { from, to };
        let mut acc = UsageAcc::default();
        let mut out = RangeUsage::default();
        let mut last: Option<Timestamp> = None;
        let mut sum = Summing {
            acc: &mut acc,
            out: &mut out,
            last: &mut last,
        };
        let (work, segs, skipped) = self.plan(host, range)?;
        let spent: Mutex<Vec<Flat>> = Mutex::new(Vec::new());
        let workers = std::thread::available_parallelism().map_or(1, |n| n.get().min(4));
        in_order(
            &work,
            workers,
            |scratch: &mut Scratch, w| self.decode(w, &segs, range, scratch, &spent),
            |done| {
                match done {
                    Done::Nothing => {}
                    Done::Skipped(k) => {
                        let (path, e) = &skipped[k];
                        self.warn(path, e);
                    }
                    Done::Rows(mut rows) => {
                        if let Some(e) = rows.add(&mut sum) {
                            self.warn(&rows.path, e);
                        }
                        rows.clear();
                        lock(&spent).push(*rows);
                    }
                    Done::Warn(path, e) => self.warn(&path, &e),
                    Done::Fail(e) => return Err(e),
                }
                Ok(())
            },
        )?;
        let journal = self
            .journal_samples(Some(host), range)
            .remove(host)
            .unwrap_or_default();
        journal.for_each(|s| sum.sample(&s));
        out.names = acc.finish();
        Ok(out)
    }
}

/// What [`StoreReader::usage`] found.
#[derive(Debug, Clone, Default, PartialEq)]
#[non_exhaustive]
pub struct RangeUsage {
    /// The names, ranked by CPU seconds (see [`NameUsage`]).
    pub names: Vec<NameUsage>,
    /// The samples in the range.
    pub samples: u64,
    /// The time those samples cover (the sum of their intervals), seconds.
    pub covered_secs: f64,
}

/// Where [`StoreReader::usage`] adds up.
struct Summing<'a> {
    acc: &'a mut UsageAcc,
    out: &'a mut RangeUsage,
    /// The last sample counted: a later one at or before it is a repeat.
    last: &'a mut Option<Timestamp>,
}

impl Summing<'_> {
    fn sample(&mut self, s: &Sample) {
        if self.last.is_none_or(|l| l < s.ts) {
            self.out.samples += 1;
            self.out.covered_secs += s.interval.as_secs_f64();
            self.acc.push(s);
            *self.last = Some(s.ts);
        }
    }
}

/// A piece of [`StoreReader::usage`]'s work, in the order it is added up.
enum Work {
    /// Row group `.1` of the plan's segment `.0`.
    Group(usize, usize),
    /// A segment that does not open: the plan's skip `.0`.
    Skipped(usize),
}

/// What a decoding thread made of a piece of work.
enum Done {
    Nothing,
    Skipped(usize),
    /// A row group's samples with their rows.
    Rows(Box<Flat>),
    /// A row group that does not read, skipped with a warning naming the file.
    Warn(PathBuf, Error),
    /// What ends the read (a newer schema).
    Fail(Error),
}

/// What a decoding thread keeps from row group to row group: the tables of the segment it read last (one
/// segment's files open at a time), and buffers (a chunk's rows are in the hundred thousands: allocating them
/// afresh each time costs more in page faults than the grouping itself).
#[derive(Default)]
struct Scratch {
    open: Option<(usize, Tables)>,
    procs: ByTick,
    names: ByTick,
}

impl StoreReader {
    /// The work of [`usage`](Self::usage) in order: the row groups of each segment of `host` in `range` (its
    /// files opened and checked, then closed: a month of hourly segments would hold thousands of files open),
    /// with the segments, and the segments that do not open (with why).
    #[allow(clippy::type_complexity)]
    fn plan(
        &self,
        host: &str,
        range: Range,
    ) -> Result<(Vec<Work>, Vec<SegmentLoc>, Vec<(PathBuf, Error)>), Error> {
        let (mut work, mut segs, mut skipped) = (Vec::new(), Vec::new(), Vec::new());
        for seg in self.segments_in(Some(host), range)? {
            let path = seg.file(TABLES[0]);
            let opened = contain(&path, || {
                self.open_tables(&seg).map(|t| t.samples.groups_in(range))
            });
            match opened {
                Ok(groups) => {
                    let n = segs.len();
                    work.extend(groups.into_iter().map(|g| Work::Group(n, g)));
                    segs.push(seg);
                }
                Err(e @ Error::NewerSchema { .. }) => return Err(e),
                Err(e) => {
                    work.push(Work::Skipped(skipped.len()));
                    skipped.push((path, e));
                }
            }
        }
        Ok((work, segs, skipped))
    }

    /// The three tables of `seg`, checked.
    fn open_tables(&self, seg: &SegmentLoc) -> Result<Tables, Error> {
        let files: Vec<_> = TABLES.iter().map(|t| seg.file(t)).collect();
        let samples = TableFile::open(&files[0], self.objects(), Some(TABLES[0]), Strings::Plain)?;
        let open = |i: usize| {
            TableFile::open(
                &files[i],
                self.objects(),
                Some(TABLES[i]),
                Strings::Dictionary,
            )
        };
        Ok(Tables {
            samples,
            processes: open(1)?,
            names: open(2)?,
        })
    }

    /// Does a piece of [`usage`](Self::usage)'s work, on a decoding thread: a row group whose columns do not read
    /// is skipped with a warning naming its samples file.
    fn decode(
        &self,
        work: &Work,
        segs: &[SegmentLoc],
        range: Range,
        scratch: &mut Scratch,
        spent: &Mutex<Vec<Flat>>,
    ) -> Done {
        match work {
            Work::Skipped(k) => Done::Skipped(*k),
            Work::Group(n, g) => {
                let Some(seg) = segs.get(*n) else {
                    return Done::Nothing;
                };
                let path = seg.file(TABLES[0]);
                let Scratch { open, procs, names } = scratch;
                if open.as_ref().is_none_or(|(o, _)| o != n) {
                    *open = None;
                    match contain(&path, || self.open_tables(seg)) {
                        Ok(t) => *open = Some((*n, t)),
                        Err(e @ Error::NewerSchema { .. }) => return Done::Fail(e),
                        Err(e) => return Done::Warn(path, e),
                    }
                }
                let Some((_, t)) = open.as_ref() else {
                    return Done::Nothing;
                };
                let chunk = t.samples.chunk(*g, range);
                let flat = contain(&path, || {
                    let Some(d) = t.decode(*g, chunk)? else {
                        return Ok(None);
                    };
                    let mut flat = Box::new(lock(spent).pop().unwrap_or_default());
                    flat.fill(&d, procs, names);
                    Ok(Some(flat))
                });
                match flat {
                    Ok(Some(flat)) => Done::Rows(flat),
                    Ok(None) => Done::Nothing,
                    Err(e) => Done::Warn(path, e),
                }
            }
        }
    }
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
}

/// `work` of each item on up to `workers` threads of the call's own (each taking the next item, at most a few
/// items ahead of `take`), and `take` of each result on this thread, in the items' order; both on this thread, in
/// turn, where no thread can be started. Stops at `take`'s first error, and returns it.
fn in_order<T: Sync, S: Default, R: Send>(
    items: &[T],
    workers: usize,
    work: impl Fn(&mut S, &T) -> R + Sync,
    mut take: impl FnMut(R) -> Result<(), Error>,
) -> Result<(), Error> {
    struct Queue<R> {
        /// The next item to start, and the next to take.
        next: usize,
        taken: usize,
        done: BTreeMap<usize, R>,
        stop: bool,
    }
    /// Stops the queue when a thread unwinds: `take` waits for no result of a worker that panicked, and no worker
    /// waits for `take` to go on.
    struct StopOnPanic<'q, R>(&'q Mutex<Queue<R>>, &'q Condvar);
    impl<R> Drop for StopOnPanic<'_, R> {
        fn drop(&mut self) {
            if std::thread::panicking() {
                lock(self.0).stop = true;
                self.1.notify_all();
            }
        }
    }
    let ahead = workers + 1;
    let queue = Mutex::new(Queue {
        next: 0,
        taken: 0,
        done: BTreeMap::new(),
        stop: false,
    });
    let changed = Condvar::new();
    fn wait<'q, Q>(changed: &Condvar, q: MutexGuard<'q, Q>) -> MutexGuard<'q, Q> {
        changed
            .wait(q)
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }
    std::thread::scope(|scope| {
        let worker = || {
            let _guard = StopOnPanic(&queue, &changed);
            let mut state = S::default();
            loop {
                let i = {
                    let mut q = lock(&queue);
                    while !q.stop && q.next < items.len() && q.next >= q.taken + ahead {
                        q = wait(&changed, q);
                    }
                    if q.stop || q.next >= items.len() {
                        return;
                    }
                    q.next += 1;
                    q.next - 1
                };
                let r = work(&mut state, &items[i]);
                lock(&queue).done.insert(i, r);
                changed.notify_all();
            }
        };
        let started = (0..workers.max(1))
            .filter(|_| {
                std::thread::Builder::new()
                    .name("stabmon-decode".into())
                    .spawn_scoped(scope, worker)
                    .is_ok()
            })
            .count();
        // A panic of `take` stops the workers too, so that the scope's end does not wait for them forever.
        let _guard = StopOnPanic(&queue, &changed);
        let mut result = Ok(());
        if started == 0 {
            let mut state = S::default();
            for item in items {
                result = take(work(&mut state, item));
                if result.is_err() {
                    break;
                }
            }
            return result;
        }
        for i in 0..items.len() {
            let r = {
                let mut q = lock(&queue);
                loop {
                    if let Some(r) = q.done.remove(&i) {
                        q.taken = i + 1;
                        break Some(r);
                    }
                    if q.stop {
                        break None;
                    }
                    q = wait(&changed, q);
                }
            };
            changed.notify_all();
            // None: a worker panicked, and the scope raises it again.
            let Some(r) = r else { break };
            result = take(r);
            if result.is_err() {
                break;
            }
        }
        lock(&queue).stop = true;
        changed.notify_all();
        result
    })
}

/// The three tables of a segment.
struct Tables {
    samples: TableFile,
    processes: TableFile,
    names: TableFile,
}

impl Tables {
    /// Row group `group` of the samples (the part in `chunk`) with the process and name rows of its samples;
    /// `None` where the chunk holds no sample.
    fn decode(&self, group: usize, chunk: Range) -> Result<Option<Decoded>, Error> {
        if self.samples.version < 5 {
            return self.decode_older(group, chunk);
        }
        let path = &self.samples.path;
        let sample_batches = self.samples.read(
            &[group],
            chunk,
            None,
            Some(&["ts", "interval_us", "name_cpu_nth_pct"]),
        )?;
        // The samples of the chunk: (ts, interval, the names list's bound).
        let mut ticks: Vec<(i64, u64, f32)> = Vec::new();
        for b in &sample_batches {
            let c = Cols { batch: b, path };
            let ts = c.req::<TimestampMicrosecondType>("ts")?;
            let interval = c.prim::<Int64Type>("interval_us")?;
            let nth = c.req::<Float32Type>("name_cpu_nth_pct")?;
            for i in 0..b.num_rows() {
                let t = ts.value(i);
                if chunk.contains(t) {
                    let iv = if interval.is_null(i) {
                        0
                    } else {
                        interval.value(i).max(0) as u64
                    };
                    ticks.push((t, iv, nth.value(i)));
                }
            }
        }
        if ticks.is_empty() {
            return Ok(None);
        }
        let proc_batches = self.processes.read(
            &self.processes.groups_in(chunk),
            chunk,
            None,
            Some(&[
                "ts",
                "pid",
                "start_time",
                "name",
                "cmdline",
                "cpu_pct",
                "rss_bytes",
            ]),
        )?;
        let name_batches = self.names.read(
            &self.names.groups_in(chunk),
            chunk,
            None,
            Some(&["ts", "name", "process_count", "cpu_pct", "rss_bytes"]),
        )?;
        Ok(Some(Decoded {
            path: path.clone(),
            ticks,
            proc_batches,
            proc_path: self.processes.path.clone(),
            name_batches,
            name_path: self.names.path.clone(),
        }))
    }
}

impl Tables {
    /// [`decode`](Self::decode) of a file older than schema 5, whose values derive from other rows: its process
    /// and name rows as today's columns ([`read_older`]).
    fn decode_older(&self, group: usize, chunk: Range) -> Result<Option<Decoded>, Error> {
        let tables = (&self.samples, Some(&self.processes), Some(&self.names));
        let keep = Keep::Columns(
            &["ts", "pid", "start_time", "name", "cmdline"],
            &["ts", "name", "process_count"],
        );
        let mut ticks: Vec<(i64, u64, f32)> = Vec::new();
        let mut tick = |t: i64, interval: Duration, nth: f32| {
            if chunk.contains(t) {
                let interval = u64::try_from(interval.as_micros()).unwrap_or(u64::MAX);
                ticks.push((t, interval, nth));
            }
            Ok(())
        };
        let older = read_older(tables, group, chunk, keep, None, Rows::Ticks(&mut tick))?;
        let Some(older) = older else {
            return Ok(None);
        };
        if ticks.is_empty() {
            return Ok(None);
        }
        Ok(Some(Decoded {
            path: self.samples.path.clone(),
            ticks,
            proc_batches: older.processes,
            proc_path: self.processes.path.clone(),
            name_batches: older.names,
            name_path: self.names.path.clone(),
        }))
    }
}

/// A row group's samples, decoded: (ts, interval, the names list's bound) of each, and the columns of their
/// process and name rows.
struct Decoded {
    /// The samples file.
    path: PathBuf,
    ticks: Vec<(i64, u64, f32)>,
    proc_batches: Vec<RecordBatch>,
    proc_path: PathBuf,
    name_batches: Vec<RecordBatch>,
    name_path: PathBuf,
}

/// The number of no string (a null command line).
const NO_STRING: u32 = u32::MAX;

/// A listed process of a [`Flat`] sample, its strings numbered.
#[derive(Clone, Copy, Default)]
struct FlatProc {
    pid: u32,
    start_us: i64,
    name: u32,
    /// [`NO_STRING`] where not recorded.
    cmdline: u32,
    cpu_pct: f32,
    rss_bytes: u64,
}

/// A name total of a [`Flat`] sample, its name numbered.
#[derive(Clone, Copy, Default)]
struct FlatName {
    name: u32,
    cpu_pct: f32,
    rss_bytes: u64,
    process_count: u32,
}

/// A row group's samples, each with its rows in the order read, their strings numbered: what a decoding thread
/// hands over.
#[derive(Default)]
struct Flat {
    /// The samples file.
    path: PathBuf,
    /// (ts, interval, the names list's bound) of each sample.
    ticks: Vec<(i64, u64, f32)>,
    procs: Vec<FlatProc>,
    /// Where each sample's processes end in `procs`.
    proc_ends: Vec<u32>,
    names: Vec<FlatName>,
    /// Where each sample's names end in `names`.
    name_ends: Vec<u32>,
    /// The strings, by number.
    strings: Vec<Box<str>>,
    /// The samples whose rows do not read (without rows), and why, in order.
    broken: Vec<(usize, Error)>,
    /// Why the samples after `ticks` are not there.
    err: Option<Error>,
}

impl Flat {
    /// Empties it for another row group, its buffers kept.
    fn clear(&mut self) {
        self.ticks.clear();
        self.procs.clear();
        self.proc_ends.clear();
        self.names.clear();
        self.name_ends.clear();
        self.strings.clear();
        self.broken.clear();
        self.err = None;
    }

    /// Adds the samples after the last one counted to `sum`, each with its process and name rows; at a sample
    /// whose rows do not read, stops and gives why (the samples before it are counted).
    fn add(&self, sum: &mut Summing<'_>) -> Option<&Error> {
        let strings = &self.strings;
        let text = |n: u32| strings.get(n as usize).map_or("", |s| &**s);
        let mut proc_rows: Vec<ProcRow<'_>> = Vec::new();
        let mut name_rows: Vec<NameRow<'_>> = Vec::new();
        let mut broken = self.broken.iter().peekable();
        let (mut p0, mut n0) = (0, 0);
        for (k, &(t, iv, nth)) in self.ticks.iter().enumerate() {
            let (p1, n1) = (self.proc_ends[k] as usize, self.name_ends[k] as usize);
            let (rows_p, rows_n) = (p0..p1, n0..n1);
            (p0, n0) = (p1, n1);
            let ts = Timestamp::from_unix_micros(t);
            if sum.last.is_some_and(|l| l >= ts) {
                continue;
            }
            while broken.peek().is_some_and(|(b, _)| *b < k) {
                broken.next();
            }
            if let Some((_, e)) = broken.peek().filter(|(b, _)| *b == k) {
                return Some(e);
            }
            proc_rows.clear();
            proc_rows.extend(self.procs[rows_p].iter().map(|p| {
                ProcRow::new(
                    p.pid,
                    Timestamp::from_unix_micros(p.start_us),
                    text(p.name),
                    (p.cmdline != NO_STRING).then(|| text(p.cmdline)),
                    p.cpu_pct,
                    p.rss_bytes,
                )
            }));
            name_rows.clear();
            name_rows.extend(
                self.names[rows_n]
                    .iter()
                    .map(|n| NameRow::new(text(n.name), n.cpu_pct, n.rss_bytes, n.process_count)),
            );
            let interval = std::time::Duration::from_micros(iv);
            // Each list is taken as stored (ranks first from schema 5, by process before): a name summed from three
            // or more of its processes may differ from a sum in rank order in its last bits.
            sum.acc.push_rows(ts, interval, nth, &proc_rows, &name_rows);
            sum.out.samples += 1;
            sum.out.covered_secs += interval.as_secs_f64();
            *sum.last = Some(ts);
        }
        self.err.as_ref()
    }

    /// Fills it with `d`'s samples and their rows (where the columns do not read, with no sample and the error).
    fn fill(&mut self, d: &Decoded, procs: &mut ByTick, names: &mut ByTick) {
        self.path.clone_from(&d.path);
        if let Err(e) = self.fill_rows(d, procs, names) {
            self.ticks.clear();
            self.proc_ends.clear();
            self.name_ends.clear();
            self.err = Some(e);
        }
    }

    fn fill_rows(
        &mut self,
        d: &Decoded,
        by_proc: &mut ByTick,
        by_name: &mut ByTick,
    ) -> Result<(), Error> {
        let mut numbering = Numbering {
            numbers: HashMap::new(),
            strings: std::mem::take(&mut self.strings),
        };
        let procs: Result<Vec<ProcCols<'_>>, Error> = d
            .proc_batches
            .iter()
            .map(|b| ProcCols::new(b, &d.proc_path, &mut numbering))
            .collect();
        let names: Result<Vec<NameCols<'_>>, Error> = d
            .name_batches
            .iter()
            .map(|b| NameCols::new(b, &d.name_path, &mut numbering))
            .collect();
        let (procs, names) = match (procs, names) {
            (Ok(p), Ok(n)) => (p, n),
            (Err(e), _) | (_, Err(e)) => {
                self.strings = numbering.strings;
                return Err(e);
            }
        };
        let times: Vec<i64> = d.ticks.iter().map(|t| t.0).collect();
        let index = TickIndex::new(&times);
        by_proc.count(&index, procs.iter().map(|c| c.ts.values().as_ref()));
        by_name.count(&index, names.iter().map(|c| c.ts.values().as_ref()));
        // Each row is written where its sample's rows go, the rows taken in the order stored: those of files
        // before schema 5 run by process, then time, and taking them in their samples' order would read from
        // all over the row group. A sample with a row that does not read keeps no rows, and the error of its
        // first such row (its process rows before its name rows).
        let mut broken: BTreeMap<usize, (usize, Error)> = BTreeMap::new();
        let mut fail = |k: usize, at: usize, e: Error| match broken.get_mut(&k) {
            Some(first) if at < first.0 => *first = (at, e),
            Some(_) => {}
            None => {
                broken.insert(k, (at, e));
            }
        };
        let (p_base, n_base) = (self.procs.len(), self.names.len());
        self.procs
            .resize(p_base + by_proc.rows(), FlatProc::default());
        self.names
            .resize(n_base + by_name.rows(), FlatName::default());
        let p_out = &mut self.procs[p_base..];
        place_rows(
            by_proc,
            &procs,
            |c| c.ts.len(),
            p_out,
            |c, i| c.row(i, &d.proc_path, &mut numbering),
            &mut fail,
        );
        // A sample's name rows come after its process rows.
        let mut fail_name = |k: usize, at: usize, e: Error| fail(k, by_proc.span(k).len() + at, e);
        let n_out = &mut self.names[n_base..];
        place_rows(
            by_name,
            &names,
            |c| c.ts.len(),
            n_out,
            |c, i| c.row(i, &d.name_path, &mut numbering),
            &mut fail_name,
        );
        // Each sample with where its rows end; a broken sample's rows left out.
        let (mut p_to, mut n_to) = (p_base, n_base);
        for (k, &tick) in d.ticks.iter().enumerate() {
            let (p, n) = (by_proc.span(k), by_name.span(k));
            match broken.remove(&k) {
                Some((_, e)) => self.broken.push((k, e)),
                None => {
                    if p_to != p_base + p.start {
                        self.procs
                            .copy_within(p_base + p.start..p_base + p.end, p_to);
                    }
                    if n_to != n_base + n.start {
                        self.names
                            .copy_within(n_base + n.start..n_base + n.end, n_to);
                    }
                    p_to += p.len();
                    n_to += n.len();
                }
            }
            self.ticks.push(tick);
            self.proc_ends.push(ends(p_to));
            self.name_ends.push(ends(n_to));
        }
        self.procs.truncate(p_to);
        self.names.truncate(n_to);
        self.strings = numbering.strings;
        Ok(())
    }
}

/// Writes each row of `batches` (of one table; `len` gives a batch's rows, `by` their samples) to its sample's
/// place in `out`, the rows taken in the order stored. A row that does not read (`row`'s error) is handed to
/// `fail` with its sample and its place among that sample's rows.
fn place_rows<C, R>(
    by: &ByTick,
    batches: &[C],
    len: impl Fn(&C) -> usize,
    out: &mut [R],
    mut row: impl FnMut(&C, usize) -> Result<R, Error>,
    fail: &mut impl FnMut(usize, usize, Error),
) {
    let mut next = by.starts();
    let mut ticks = by.ticks();
    for c in batches {
        let (mine, rest) = ticks.split_at(len(c).min(ticks.len()));
        ticks = rest;
        for (i, &k) in mine.iter().enumerate() {
            let Some(at) = next.get_mut(k as usize) else {
                continue;
            };
            let slot = *at as usize;
            *at += 1;
            match row(c, i) {
                Ok(r) => {
                    if let Some(o) = out.get_mut(slot) {
                        *o = r;
                    }
                }
                Err(e) => fail(k as usize, slot - by.span(k as usize).start, e),
            }
        }
    }
}

/// Numbers the strings of one row group, each distinct one once.
struct Numbering<'a> {
    numbers: HashMap<&'a str, u32>,
    /// The strings, by number.
    strings: Vec<Box<str>>,
}

impl<'a> Numbering<'a> {
    fn number(&mut self, s: &'a str) -> u32 {
        if let Some(&n) = self.numbers.get(s) {
            return n;
        }
        // Never NO_STRING: a row group's rows are far fewer.
        let n = u32::try_from(self.strings.len()).unwrap_or(NO_STRING - 1);
        self.numbers.insert(s, n);
        self.strings.push(s.into());
        n
    }
}

/// A string column of one batch, its strings numbered: a dictionary's values once, a plain column row by row.
enum Numbered<'a> {
    /// The keys, and each dictionary value's number ([`NO_STRING`] for a null value).
    Dict(&'a PrimitiveArray<Int32Type>, Vec<u32>),
    Plain(&'a StringArray),
}

impl<'a> Numbered<'a> {
    fn new(col: &StrCol<'a>, numbering: &mut Numbering<'a>) -> Self {
        match *col {
            StrCol::Dict(d, values) => Numbered::Dict(
                d.keys(),
                values
                    .iter()
                    .map(|v| v.map_or(NO_STRING, |v| numbering.number(v)))
                    .collect(),
            ),
            StrCol::Plain(s) => Numbered::Plain(s),
        }
    }

    /// Row `i`'s string's number; `None` where null.
    fn get(&self, i: usize, numbering: &mut Numbering<'a>) -> Option<u32> {
        match self {
            Numbered::Dict(keys, numbers) => {
                if keys.is_null(i) {
                    return None;
                }
                let k = usize::try_from(keys.value(i)).ok()?;
                numbers.get(k).copied().filter(|n| *n != NO_STRING)
            }
            Numbered::Plain(s) => (!s.is_null(i)).then(|| numbering.number(s.value(i))),
        }
    }
}

/// A row count as a position in a [`Flat`] (a row group's rows are far below four billion).
fn ends(n: usize) -> u32 {
    u32::try_from(n).unwrap_or(u32::MAX)
}

/// The `processes` columns [`StoreReader::usage`] reads, of one batch.
struct ProcCols<'a> {
    ts: &'a PrimitiveArray<TimestampMicrosecondType>,
    pid: &'a PrimitiveArray<UInt32Type>,
    start: &'a PrimitiveArray<TimestampMicrosecondType>,
    name: Numbered<'a>,
    cmdline: Numbered<'a>,
    cpu: &'a PrimitiveArray<Float32Type>,
    rss: &'a PrimitiveArray<UInt64Type>,
}

impl<'a> ProcCols<'a> {
    fn new(
        batch: &'a RecordBatch,
        path: &'a Path,
        numbering: &mut Numbering<'a>,
    ) -> Result<Self, Error> {
        let c = Cols { batch, path };
        Ok(ProcCols {
            ts: c.req("ts")?,
            pid: c.req("pid")?,
            start: c.req("start_time")?,
            name: Numbered::new(&c.str("name")?, numbering),
            cmdline: Numbered::new(&c.str("cmdline")?, numbering),
            cpu: c.req("cpu_pct")?,
            rss: c.req("rss_bytes")?,
        })
    }

    fn row(&self, i: usize, path: &Path, numbering: &mut Numbering<'a>) -> Result<FlatProc, Error> {
        Ok(FlatProc {
            pid: self.pid.value(i),
            start_us: self.start.value(i),
            name: self
                .name
                .get(i, numbering)
                .ok_or_else(|| invalid(path, "a null name"))?,
            cmdline: self.cmdline.get(i, numbering).unwrap_or(NO_STRING),
            cpu_pct: self.cpu.value(i),
            rss_bytes: self.rss.value(i),
        })
    }
}

/// The `names` columns [`StoreReader::usage`] reads, of one batch.
struct NameCols<'a> {
    ts: &'a PrimitiveArray<TimestampMicrosecondType>,
    name: Numbered<'a>,
    count: &'a PrimitiveArray<UInt32Type>,
    cpu: &'a PrimitiveArray<Float32Type>,
    rss: &'a PrimitiveArray<UInt64Type>,
}

impl<'a> NameCols<'a> {
    fn new(
        batch: &'a RecordBatch,
        path: &'a Path,
        numbering: &mut Numbering<'a>,
    ) -> Result<Self, Error> {
        let c = Cols { batch, path };
        Ok(NameCols {
            ts: c.req("ts")?,
            name: Numbered::new(&c.str("name")?, numbering),
            count: c.req("process_count")?,
            cpu: c.req("cpu_pct")?,
            rss: c.req("rss_bytes")?,
        })
    }

    fn row(&self, i: usize, path: &Path, numbering: &mut Numbering<'a>) -> Result<FlatName, Error> {
        Ok(FlatName {
            name: self
                .name
                .get(i, numbering)
                .ok_or_else(|| invalid(path, "a null name"))?,
            cpu_pct: self.cpu.value(i),
            rss_bytes: self.rss.value(i),
            process_count: self.count.value(i),
        })
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use std::path::PathBuf;
    use std::sync::Arc;

    use arrow_array::types::{Float32Type, TimestampMicrosecondType, UInt32Type, UInt64Type};
    use arrow_array::{ArrayRef, PrimitiveArray, RecordBatch, StringArray};

    use super::{ByTick, Decoded, Flat, in_order};
    use crate::error::invalid;

    fn batch(columns: Vec<(&str, ArrayRef)>) -> RecordBatch {
        RecordBatch::try_from_iter(columns).unwrap()
    }

    fn times(v: &[i64]) -> ArrayRef {
        Arc::new(PrimitiveArray::<TimestampMicrosecondType>::from(v.to_vec()))
    }

    fn names(v: &[Option<&str>]) -> ArrayRef {
        Arc::new(StringArray::from(v.to_vec()))
    }

    /// Rows stored by process, then time (as files before schema 5 store them) are put with their samples in the
    /// order stored; a sample with a row that does not read keeps none, with its first such row's error (a process
    /// row's before a name row's), and the samples after it keep theirs.
    #[test]
    fn rows_stored_by_process_go_to_their_samples_and_a_broken_sample_keeps_none() {
        let procs = batch(vec![
            ("ts", times(&[10, 20, 30, 10, 20, 30, 99])),
            (
                "pid",
                Arc::new(PrimitiveArray::<UInt32Type>::from(vec![
                    1, 1, 1, 2, 2, 2, 3,
                ])),
            ),
            ("start_time", times(&[0; 7])),
            (
                "name",
                names(&[
                    Some("a"),
                    Some("a"),
                    Some("a"),
                    Some("b"),
                    None,
                    Some("b"),
                    Some("c"),
                ]),
            ),
            ("cmdline", names(&[None; 7])),
            (
                "cpu_pct",
                Arc::new(PrimitiveArray::<Float32Type>::from(vec![
                    1.0, 2.0, 3.0, 4.0, 5.0, 6.0, 7.0,
                ])),
            ),
            (
                "rss_bytes",
                Arc::new(PrimitiveArray::<UInt64Type>::from(vec![0u64; 7])),
            ),
        ]);
        let name_rows = |ts: &[i64], n: &[Option<&str>]| {
            batch(vec![
                ("ts", times(ts)),
                ("name", names(n)),
                (
                    "process_count",
                    Arc::new(PrimitiveArray::<UInt32Type>::from(vec![1u32; ts.len()])),
                ),
                (
                    "cpu_pct",
                    Arc::new(PrimitiveArray::<Float32Type>::from(vec![9.0f32; ts.len()])),
                ),
                (
                    "rss_bytes",
                    Arc::new(PrimitiveArray::<UInt64Type>::from(vec![0u64; ts.len()])),
                ),
            ])
        };
        let d = Decoded {
            path: PathBuf::from("samples.parquet"),
            ticks: vec![(10, 1, 0.0), (20, 1, 0.0), (30, 1, 0.0)],
            proc_batches: vec![procs.slice(0, 2), procs.slice(2, 5)],
            proc_path: PathBuf::from("processes.parquet"),
            // In two batches, the name rows of the sample broken too.
            name_batches: vec![
                name_rows(&[10, 20], &[Some("a"), None]),
                name_rows(&[30, 10], &[Some("a"), Some("b")]),
            ],
            name_path: PathBuf::from("names.parquet"),
        };
        let mut flat = Flat::default();
        flat.fill(&d, &mut ByTick::default(), &mut ByTick::default());
        assert!(flat.err.is_none(), "{:?}", flat.err);
        assert_eq!(flat.ticks.len(), 3);
        let text = |n: u32| &*flat.strings[n as usize];
        let cpu: Vec<f32> = flat.procs.iter().map(|p| p.cpu_pct).collect();
        assert_eq!(cpu, [1.0, 4.0, 3.0, 6.0]);
        assert_eq!(flat.proc_ends, [2, 2, 4]);
        let named: Vec<&str> = flat.names.iter().map(|n| text(n.name)).collect();
        assert_eq!(named, ["a", "b", "a"]);
        assert_eq!(flat.name_ends, [2, 2, 3]);
        assert_eq!(flat.broken.len(), 1);
        let (k, e) = &flat.broken[0];
        assert_eq!(*k, 1);
        assert!(e.to_string().contains("processes.parquet"), "{e}");
    }

    /// Results are taken in the items' order whatever thread made them, each item's work once; the first error of
    /// `take` ends the run with it, and nothing after it is taken.
    #[test]
    fn in_order_takes_every_result_in_order_and_stops_at_an_error() {
        let items: Vec<u64> = (0..300).collect();
        for workers in [0, 1, 2, 4] {
            let mut got = Vec::new();
            let work = |made: &mut u64, x: &u64| {
                *made += 1;
                // Uneven work, so that later items often finish first.
                std::thread::sleep(std::time::Duration::from_micros((x * 7919) % 300));
                x * 3
            };
            in_order(&items, workers, work, |r| {
                got.push(r);
                Ok(())
            })
            .unwrap();
            assert_eq!(
                got,
                items.iter().map(|x| x * 3).collect::<Vec<_>>(),
                "{workers}"
            );

            let mut taken = 0;
            let stopped = in_order(
                &items,
                workers,
                |_: &mut (), x| *x,
                |x| {
                    if x == 100 {
                        return Err(invalid("x", "stop"));
                    }
                    taken += 1;
                    Ok(())
                },
            );
            assert!(stopped.is_err(), "{workers}");
            assert_eq!(taken, 100, "{workers}");
        }
        assert!(in_order(&[] as &[u64], 2, |_: &mut (), x| *x, |_| Ok(())).is_ok());
    }
}
