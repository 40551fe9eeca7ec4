//! `stabmon top` over any range: process and name usage aggregated from the tables' columns, without building
//! samples (schema 5 and later; older files through whole samples).
//!
//! The work is split over two threads: the decoding thread reads a row group's columns, puts its process and name
//! rows with their samples, and turns their strings into numbers (each distinct name or command line once: a
//! row of a dictionary-encoded column costs a table look-up, not a string); this thread only adds them up.

use std::cell::RefCell;
use std::collections::HashMap;
use std::path::{Path, PathBuf};

use arrow_array::types::{
    Float32Type, Int32Type, Int64Type, TimestampMicrosecondType, UInt32Type, UInt64Type,
};
use arrow_array::{Array, PrimitiveArray, RecordBatch, StringArray};
use stabmon_core::analysis::{NameRow, NameUsage, ProcRow, UsageAcc};
use stabmon_core::{Sample, Timestamp};

use super::group::{ByTick, TickIndex, pipelined};
use super::scan::row_group_ranges;
use super::table::{Strings, TableFile};
use super::{Cols, Range, StoreReader, StrCol, read_segment};
use crate::error::{Error, invalid};
use crate::layout::{SegmentLoc, TABLES};

impl StoreReader {
    /// Which process names (and their processes) used the most CPU and memory over `from <= ts < to` for `host`:
    /// [`usage_by_name`](stabmon_core::analysis::usage_by_name) of the range, aggregated row group by row group
    /// from the `samples`, `processes` and `names` columns it needs, without building samples (files of schema
    /// 5 and later; older files are read as whole samples). Also gives how many samples the range holds and the
    /// time they cover.
    ///
    /// Each table file's footer is read once; one row group is decoded (its rows put with their samples, their
    /// strings numbered) on a second thread of the call's own (ended before it returns) while the last is added
    /// up. Damaged row groups are skipped with a warning ([`warnings`](Self::warnings)).
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
        let mut strings: Vec<Box<str>> = Vec::new();
        let segments = self.segments_in(Some(host), range)?;
        let mut sum = Summing {
            acc: &mut acc,
            strings: &mut strings,
            out: &mut out,
            last: &mut last,
        };
        pipelined(
            |sink| {
                let flat = RefCell::new(Flattener::default());
                self.decode_segments(&segments, sink, |seg, sink| {
                    self.decode_segment(seg, range, &flat, sink)
                })
            },
            |piece| self.add_piece(piece, &mut sum),
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
    /// The strings the decoding thread numbered, by number.
    strings: &'a mut Vec<Box<str>>,
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

/// What the decoding thread of [`StoreReader::usage`] hands over.
enum Piece {
    /// Whole samples, of files older than schema 5.
    Samples(Vec<Sample>),
    /// A row group's samples with their rows, strings numbered.
    Rows(Box<Flat>),
}

impl StoreReader {
    /// Decodes the row groups of `seg` in `range`, one at a time, for usage, handing each to `sink` (its rows
    /// put with their samples by `flat`); `false` once the sink wants no more. A damaged row group is skipped
    /// with a warning.
    fn decode_segment(
        &self,
        seg: &SegmentLoc,
        range: Range,
        flat: &RefCell<Flattener>,
        sink: &mut dyn FnMut(Result<Piece, Error>) -> bool,
    ) -> Result<bool, Error> {
        let files: Vec<_> = TABLES.iter().map(|t| seg.file(t)).collect();
        let samples = TableFile::open(&files[0], self.objects(), Some(TABLES[0]), Strings::Plain)?;
        if samples.version < 5 {
            // Older files derive values from other rows: read them as whole samples.
            for chunk in row_group_ranges(seg, self.objects(), range)? {
                let go_on = match read_segment(seg, self.objects(), chunk) {
                    Ok(list) => {
                        flat.borrow_mut().saw_samples(&list);
                        sink(Ok(Piece::Samples(list)))
                    }
                    Err(e @ Error::NewerSchema { .. }) => return Err(e),
                    Err(e) => {
                        self.warn(&files[0], &e);
                        true
                    }
                };
                if !go_on {
                    return Ok(false);
                }
            }
            return Ok(true);
        }
        let tables = Tables {
            samples,
            processes: TableFile::open(
                &files[1],
                self.objects(),
                Some(TABLES[1]),
                Strings::Dictionary,
            )?,
            names: TableFile::open(
                &files[2],
                self.objects(),
                Some(TABLES[2]),
                Strings::Dictionary,
            )?,
        };
        for g in tables.samples.groups_in(range) {
            let chunk = tables.samples.chunk(g, range);
            match tables.decode(g, chunk) {
                Ok(Some(d)) => {
                    let rows = flat.borrow_mut().flatten(&d);
                    if !sink(Ok(Piece::Rows(Box::new(rows)))) {
                        return Ok(false);
                    }
                }
                Ok(None) => {}
                Err(e) => self.warn(&files[0], &e),
            }
        }
        Ok(true)
    }

    /// Adds a piece the decoder handed over (a row group whose columns do not read is skipped with a warning,
    /// after the samples before the damage).
    fn add_piece(&self, piece: Result<Piece, Error>, sum: &mut Summing<'_>) -> Result<(), Error> {
        match piece? {
            Piece::Samples(list) => list.iter().for_each(|s| sum.sample(s)),
            Piece::Rows(mut rows) => {
                sum.strings.append(&mut rows.fresh);
                rows.add(sum);
                if let Some(e) = &rows.err {
                    self.warn(&rows.path, e);
                }
            }
        }
        Ok(())
    }
}

/// The three tables of a schema-5 segment.
struct Tables {
    samples: TableFile,
    processes: TableFile,
    names: TableFile,
}

impl Tables {
    /// Row group `group` of the samples (the part in `chunk`) with the process and name rows of its samples;
    /// `None` where the chunk holds no sample.
    fn decode(&self, group: usize, chunk: Range) -> Result<Option<Decoded>, Error> {
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
struct FlatName {
    name: u32,
    cpu_pct: f32,
    rss_bytes: u64,
    process_count: u32,
}

/// A row group's samples to count (repeats of earlier samples left out), each with its rows in the order read:
/// what the decoding thread hands over.
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
    /// The strings numbered since the last piece, in the order of their numbers.
    fresh: Vec<Box<str>>,
    /// Why the row group's samples after `ticks` are not there.
    err: Option<Error>,
}

impl Flat {
    /// Adds the samples to `sum`, each with its process and name rows.
    fn add(&self, sum: &mut Summing<'_>) {
        let strings: &[Box<str>] = sum.strings;
        let text = |n: u32| strings.get(n as usize).map_or("", |s| &**s);
        let mut proc_rows: Vec<ProcRow<'_>> = Vec::new();
        let mut name_rows: Vec<NameRow<'_>> = Vec::new();
        let (mut p0, mut n0) = (0, 0);
        for (k, &(t, iv, nth)) in self.ticks.iter().enumerate() {
            let (p1, n1) = (self.proc_ends[k] as usize, self.name_ends[k] as usize);
            proc_rows.clear();
            proc_rows.extend(self.procs[p0..p1].iter().map(|p| {
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
                self.names[n0..n1]
                    .iter()
                    .map(|n| NameRow::new(text(n.name), n.cpu_pct, n.rss_bytes, n.process_count)),
            );
            (p0, n0) = (p1, n1);
            let ts = Timestamp::from_unix_micros(t);
            let interval = std::time::Duration::from_micros(iv);
            // The stored lists' order (ranks first) does not change the sums; each list is taken as stored.
            sum.acc.push_rows(ts, interval, nth, &proc_rows, &name_rows);
            sum.out.samples += 1;
            sum.out.covered_secs += interval.as_secs_f64();
            *sum.last = Some(ts);
        }
    }
}

/// Numbers strings, each distinct one once.
#[derive(Default)]
struct Numbering {
    numbers: HashMap<Box<str>, u32>,
    /// The strings numbered since the last [`Flat`] took them.
    fresh: Vec<Box<str>>,
}

impl Numbering {
    fn number(&mut self, s: &str) -> u32 {
        if let Some(&n) = self.numbers.get(s) {
            return n;
        }
        // Never NO_STRING: four billion distinct strings do not fit in memory first.
        let n = u32::try_from(self.numbers.len()).unwrap_or(NO_STRING - 1);
        self.numbers.insert(s.into(), n);
        self.fresh.push(s.into());
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
    fn new(col: &StrCol<'a>, numbering: &mut Numbering) -> Self {
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
    fn get(&self, i: usize, numbering: &mut Numbering) -> Option<u32> {
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

/// The decoding thread's side of [`StoreReader::usage`]: puts rows with their samples and numbers their strings,
/// leaving out samples at or before the last one counted (a repeat), as the adding side would.
#[derive(Default)]
struct Flattener {
    numbering: Numbering,
    /// The last sample counted, microseconds.
    last: Option<i64>,
    /// Buffers kept from chunk to chunk (a chunk's rows are in the hundred thousands: allocating them afresh
    /// each time costs more in page faults than the grouping itself).
    procs: ByTick,
    names: ByTick,
}

impl Flattener {
    /// Notes whole samples handed over as they are (the adding side counts those after the last one).
    fn saw_samples(&mut self, list: &[Sample]) {
        for s in list {
            let t = s.ts.as_unix_micros();
            if self.last.is_none_or(|l| l < t) {
                self.last = Some(t);
            }
        }
    }

    /// `d`'s samples to count, each with its rows; where a row does not read, the samples before it (and the
    /// error).
    fn flatten(&mut self, d: &Decoded) -> Flat {
        let mut flat = Flat {
            path: d.path.clone(),
            ticks: Vec::with_capacity(d.ticks.len()),
            procs: Vec::new(),
            proc_ends: Vec::with_capacity(d.ticks.len()),
            names: Vec::new(),
            name_ends: Vec::with_capacity(d.ticks.len()),
            fresh: Vec::new(),
            err: None,
        };
        if let Err(e) = self.fill(d, &mut flat) {
            flat.err = Some(e);
        }
        flat.fresh = std::mem::take(&mut self.numbering.fresh);
        flat
    }

    fn fill(&mut self, d: &Decoded, flat: &mut Flat) -> Result<(), Error> {
        let procs: Vec<ProcCols<'_>> = d
            .proc_batches
            .iter()
            .map(|b| ProcCols::new(b, &d.proc_path, &mut self.numbering))
            .collect::<Result<_, _>>()?;
        let names: Vec<NameCols<'_>> = d
            .name_batches
            .iter()
            .map(|b| NameCols::new(b, &d.name_path, &mut self.numbering))
            .collect::<Result<_, _>>()?;
        let times: Vec<i64> = d.ticks.iter().map(|t| t.0).collect();
        let index = TickIndex::new(&times);
        self.procs
            .group(&index, procs.iter().map(|c| c.ts.values().as_ref()));
        self.names
            .group(&index, names.iter().map(|c| c.ts.values().as_ref()));
        let numbering = &mut self.numbering;
        for (k, &tick) in d.ticks.iter().enumerate() {
            if self.last.is_some_and(|l| l >= tick.0) {
                continue;
            }
            let (p0, n0) = (flat.procs.len(), flat.names.len());
            let mut rows = || -> Result<(), Error> {
                for &(b, i) in self.procs.of(k) {
                    flat.procs
                        .push(procs[b as usize].row(i as usize, &d.proc_path, numbering)?);
                }
                for &(b, i) in self.names.of(k) {
                    flat.names
                        .push(names[b as usize].row(i as usize, &d.name_path, numbering)?);
                }
                Ok(())
            };
            if let Err(e) = rows() {
                flat.procs.truncate(p0);
                flat.names.truncate(n0);
                return Err(e);
            }
            flat.ticks.push(tick);
            flat.proc_ends.push(ends(flat.procs.len()));
            flat.name_ends.push(ends(flat.names.len()));
            self.last = Some(tick.0);
        }
        Ok(())
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
        numbering: &mut Numbering,
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

    fn row(&self, i: usize, path: &Path, numbering: &mut Numbering) -> Result<FlatProc, Error> {
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
        numbering: &mut Numbering,
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

    fn row(&self, i: usize, path: &Path, numbering: &mut Numbering) -> Result<FlatName, Error> {
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
