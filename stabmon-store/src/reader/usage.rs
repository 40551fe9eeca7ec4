//! `stabmon top` over any range: process and name usage aggregated from the tables' columns, without building
//! samples (schema 5 and later; older files through whole samples).

use arrow_array::types::{
    Float32Type, Int64Type, TimestampMicrosecondType, UInt32Type, UInt64Type,
};
use std::path::{Path, PathBuf};

use arrow_array::{Array, PrimitiveArray, RecordBatch};
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
    /// Each table file's footer is read once; one row group is decoded on a second thread of the call's own (ended
    /// before it returns) while the last is added up. Damaged row groups are skipped with a warning
    /// ([`warnings`](Self::warnings)).
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
        let mut scratch = Scratch::default();
        let segments = self.segments_in(Some(host), range)?;
        let mut sum = Summing {
            acc: &mut acc,
            scratch: &mut scratch,
            out: &mut out,
            last: &mut last,
        };
        pipelined(
            |sink| {
                self.decode_segments(&segments, sink, |seg, sink| {
                    self.decode_segment(seg, range, sink)
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
    scratch: &'a mut Scratch,
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
    /// A row group's columns.
    Columns(Box<Decoded>),
}

impl StoreReader {
    /// Decodes the row groups of `seg` in `range`, one at a time, for usage, handing each to `sink`; `false` once
    /// the sink wants no more. A damaged row group is skipped with a warning.
    fn decode_segment(
        &self,
        seg: &SegmentLoc,
        range: Range,
        sink: &mut dyn FnMut(Result<Piece, Error>) -> bool,
    ) -> Result<bool, Error> {
        let files: Vec<_> = TABLES.iter().map(|t| seg.file(t)).collect();
        let samples = TableFile::open(&files[0], self.objects(), Some(TABLES[0]), Strings::Plain)?;
        if samples.version < 5 {
            // Older files derive values from other rows: read them as whole samples.
            for chunk in row_group_ranges(seg, self.objects(), range)? {
                let go_on = match read_segment(seg, self.objects(), chunk) {
                    Ok(list) => sink(Ok(Piece::Samples(list))),
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
                    if !sink(Ok(Piece::Columns(Box::new(d)))) {
                        return Ok(false);
                    }
                }
                Ok(None) => {}
                Err(e) => self.warn(&files[0], &e),
            }
        }
        Ok(true)
    }

    /// Adds a piece the decoder handed over (a row group whose columns do not read is skipped with a warning).
    fn add_piece(&self, piece: Result<Piece, Error>, sum: &mut Summing<'_>) -> Result<(), Error> {
        match piece? {
            Piece::Samples(list) => list.iter().for_each(|s| sum.sample(s)),
            Piece::Columns(d) => {
                if let Err(e) = d.add(sum) {
                    self.warn(&d.path, &e);
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

impl Decoded {
    /// Adds the samples to `sum`, each with its process and name rows.
    fn add(&self, sum: &mut Summing<'_>) -> Result<(), Error> {
        let ticks = &self.ticks;
        let procs: Vec<ProcCols<'_>> = self
            .proc_batches
            .iter()
            .map(|b| ProcCols::new(b, &self.proc_path))
            .collect::<Result<_, _>>()?;
        let names: Vec<NameCols<'_>> = self
            .name_batches
            .iter()
            .map(|b| NameCols::new(b, &self.name_path))
            .collect::<Result<_, _>>()?;
        let times: Vec<i64> = ticks.iter().map(|t| t.0).collect();
        let index = TickIndex::new(&times);
        let scratch = &mut *sum.scratch;
        scratch
            .procs
            .group(&index, procs.iter().map(|c| c.ts.values().as_ref()));
        scratch
            .names
            .group(&index, names.iter().map(|c| c.ts.values().as_ref()));
        let mut proc_rows: Vec<ProcRow<'_>> = Vec::new();
        let mut name_rows: Vec<NameRow<'_>> = Vec::new();
        for (k, &(t, iv, nth)) in ticks.iter().enumerate() {
            let ts = Timestamp::from_unix_micros(t);
            if sum.last.is_some_and(|l| l >= ts) {
                continue;
            }
            proc_rows.clear();
            for &(b, i) in scratch.procs.of(k) {
                proc_rows.push(procs[b as usize].row(i as usize, &self.proc_path)?);
            }
            name_rows.clear();
            for &(b, i) in scratch.names.of(k) {
                name_rows.push(names[b as usize].row(i as usize, &self.name_path)?);
            }
            let interval = std::time::Duration::from_micros(iv);
            // The stored lists' order (ranks first) does not change the sums; each list is taken as stored.
            sum.acc.push_rows(ts, interval, nth, &proc_rows, &name_rows);
            sum.out.samples += 1;
            sum.out.covered_secs += interval.as_secs_f64();
            *sum.last = Some(ts);
        }
        Ok(())
    }
}

/// The `processes` columns [`StoreReader::usage`] reads, of one batch.
struct ProcCols<'a> {
    ts: &'a PrimitiveArray<TimestampMicrosecondType>,
    pid: &'a PrimitiveArray<UInt32Type>,
    start: &'a PrimitiveArray<TimestampMicrosecondType>,
    name: StrCol<'a>,
    cmdline: StrCol<'a>,
    cpu: &'a PrimitiveArray<Float32Type>,
    rss: &'a PrimitiveArray<UInt64Type>,
}

impl<'a> ProcCols<'a> {
    fn new(batch: &'a RecordBatch, path: &'a Path) -> Result<Self, Error> {
        let c = Cols { batch, path };
        Ok(ProcCols {
            ts: c.req("ts")?,
            pid: c.req("pid")?,
            start: c.req("start_time")?,
            name: c.str("name")?,
            cmdline: c.str("cmdline")?,
            cpu: c.req("cpu_pct")?,
            rss: c.req("rss_bytes")?,
        })
    }

    fn row(&self, i: usize, path: &Path) -> Result<ProcRow<'a>, Error> {
        Ok(ProcRow::new(
            self.pid.value(i),
            Timestamp::from_unix_micros(self.start.value(i)),
            self.name
                .get(i)
                .ok_or_else(|| invalid(path, "a null name"))?,
            self.cmdline.get(i),
            self.cpu.value(i),
            self.rss.value(i),
        ))
    }
}

/// The `names` columns [`StoreReader::usage`] reads, of one batch.
struct NameCols<'a> {
    ts: &'a PrimitiveArray<TimestampMicrosecondType>,
    name: StrCol<'a>,
    count: &'a PrimitiveArray<UInt32Type>,
    cpu: &'a PrimitiveArray<Float32Type>,
    rss: &'a PrimitiveArray<UInt64Type>,
}

impl<'a> NameCols<'a> {
    fn new(batch: &'a RecordBatch, path: &'a Path) -> Result<Self, Error> {
        let c = Cols { batch, path };
        Ok(NameCols {
            ts: c.req("ts")?,
            name: c.str("name")?,
            count: c.req("process_count")?,
            cpu: c.req("cpu_pct")?,
            rss: c.req("rss_bytes")?,
        })
    }

    fn row(&self, i: usize, path: &Path) -> Result<NameRow<'a>, Error> {
        Ok(NameRow::new(
            self.name
                .get(i)
                .ok_or_else(|| invalid(path, "a null name"))?,
            self.cpu.value(i),
            self.rss.value(i),
            self.count.value(i),
        ))
    }
}

/// Buffers kept from chunk to chunk (a chunk's rows are in the hundred thousands: allocating them afresh each
/// time costs more in page faults than the grouping itself).
#[derive(Default)]
struct Scratch {
    procs: ByTick,
    names: ByTick,
}
