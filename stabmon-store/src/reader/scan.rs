//! The bounded read path: coverage without reading samples, a host's system columns for a range, whole samples
//! streamed segment by segment, and whole samples for the windows and instants analysis asks for.

use std::collections::{BTreeMap, VecDeque};
use std::path::Path;

use arrow_array::Array;
use arrow_array::cast::AsArray;
use arrow_array::types::{Float32Type, Int32Type, Int64Type, TimestampMicrosecondType, UInt64Type};
use parquet::file::reader::{FileReader, SerializedFileReader};
use parquet::file::statistics::Statistics;
use stabmon_core::series::{SystemSeries, WindowSource};
use stabmon_core::{Sample, Timestamp};

use super::{
    Cols, Range, StoreReader, read_columns, read_latency, read_samples, read_segment, read_segment_at,
};
use crate::error::{Error, invalid, io, pq};
use crate::layout::{LATENCY, SegmentLoc, TABLES, utc_date};

/// One microsecond: a range ending just after a timestamp includes it.
pub(super) const MICRO: std::time::Duration = std::time::Duration::from_micros(1);

/// What the data holds for one host, from the segments' footers (or a served directory's manifest) and the
/// journal: no sample is decoded from Parquet.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub struct Coverage {
    /// The host.
    pub host: String,
    /// The first sample's time.
    pub first: Timestamp,
    /// The last sample's time.
    pub last: Timestamp,
    /// Samples in Parquet segments (a sample a recovered journal repeats may be counted twice).
    pub segment_samples: u64,
    /// Parquet segments.
    pub segments: usize,
    /// Samples in the journal of a recorder still running (or that died), not yet in a segment.
    pub journal_samples: u64,
}

impl StoreReader {
    /// What the data covers, per host in name order (the [`with_host`](Self::with_host) filter applies): first and
    /// last sample and how many, from the segments' Parquet footers and the journal, without decoding samples from
    /// Parquet. A segment whose footer cannot be read is skipped with a warning ([`warnings`](Self::warnings)).
    pub fn coverage(&self) -> Result<Vec<Coverage>, Error> {
        let mut out: BTreeMap<String, Coverage> = BTreeMap::new();
        let mut add = |host: &str, first: Timestamp, last: Timestamp, rows: u64, journal: bool| {
            let c = out.entry(host.to_owned()).or_insert_with(|| Coverage {
                host: host.to_owned(),
                first,
                last,
                segment_samples: 0,
                segments: 0,
                journal_samples: 0,
            });
            c.first = c.first.min(first);
            c.last = c.last.max(last);
            if journal {
                c.journal_samples += rows;
            } else {
                c.segment_samples += rows;
                c.segments += 1;
            }
        };
        if let Some(r) = &self.remote {
            for s in r.manifest.segments.iter().filter(|s| s.table == TABLES[0]) {
                if self.host.as_ref().is_some_and(|h| *h != s.host) {
                    continue;
                }
                if let (Some(from), Some(to)) = (s.from, s.to) {
                    add(&s.host, from, to, s.rows, false);
                }
            }
            // The journal of a served directory is fetched with the samples it holds.
            self.fetch_remote(r, None, Some(Timestamp::from_unix_micros(i64::MIN)))?;
        } else {
            for seg in self.selected() {
                let path = seg.file(TABLES[0]);
                match footer_range(&path) {
                    Ok(Some((first, last, rows))) => add(&seg.host, first, last, rows, false),
                    Ok(None) => {}
                    Err(e) => self.warn(&path, &e),
                }
            }
        }
        for (host, samples) in self.journal_samples(None, Range::ALL) {
            if let (Some(a), Some(b)) = (samples.front(), samples.back()) {
                add(&host, a.ts, b.ts, samples.len() as u64, true);
            }
        }
        Ok(out.into_values().collect())
    }

    /// The system values of `host` with `from <= ts < to` (either bound optional) as columns, read segment by
    /// segment from the `samples` and `latency` tables only (row groups outside the range are skipped), plus the
    /// journal. Memory: the columns (about 130 bytes a sample, 24 a latency probe) and one row group at a time.
    ///
    /// Damaged segments are skipped with a warning ([`warnings`](Self::warnings)); a segment of a newer schema is
    /// an error.
    pub fn system_series(
        &self,
        host: &str,
        from: Option<Timestamp>,
        to: Option<Timestamp>,
    ) -> Result<SystemSeries, Error> {
        let range = Range { from, to };
        let mut series = SystemSeries::new(host);
        let mut journal = self
            .journal_samples(Some(host), range)
            .remove(host)
            .unwrap_or_default();
        let push = |s: &Sample, journal: &mut VecDeque<Sample>, series: &mut SystemSeries| {
            push_journal_before(s.ts, journal, series);
            if series.ts.last().is_none_or(|t| *t < s.ts) {
                series.push(s);
            }
        };
        let segments = self.segments_in(Some(host), range)?;
        // The columns sized once from the footers (the rows of the row groups in range, an upper bound), instead of
        // doubling as they grow.
        let mut rows = 0u64;
        for seg in &segments {
            for (first, last, n) in row_groups(&seg.file(TABLES[0])).unwrap_or_default() {
                if range.overlaps(first.as_unix_micros(), last.as_unix_micros()) {
                    rows += n;
                }
            }
        }
        series.reserve(usize::try_from(rows).unwrap_or(0) + journal.len());
        // A row group at a time: memory holds the columns and one row group's samples.
        for (seg, chunk) in self.chunks_of(segments, range) {
            let file = seg.file(TABLES[0]);
            // Schema 5 and later: straight from the columns into the series, no sample built.
            match series_from_columns(&seg, chunk, &mut journal, &mut series) {
                Ok(true) => continue,
                Ok(false) => {}
                Err(e) => {
                    self.warn(&file, &e);
                    continue;
                }
            }
            let mut samples = Vec::new();
            let mut lens = Vec::new();
            let read = read_samples(&file, &seg.host, chunk, None, &mut samples, &mut lens)
                .and_then(|()| match (samples.first(), samples.last()) {
                    (Some(a), Some(b)) if seg.file(LATENCY).exists() => {
                        let whole = Range {
                            from: Some(a.ts),
                            to: Some(b.ts.saturating_add(MICRO)),
                        };
                        read_latency(&seg.file(LATENCY), whole, None, &mut samples)
                    }
                    _ => Ok(()),
                });
            match read {
                Ok(()) => {
                    for s in samples
                        .iter()
                        .filter(|s| chunk.contains(s.ts.as_unix_micros()))
                    {
                        push(s, &mut journal, &mut series);
                    }
                }
                Err(e @ Error::NewerSchema { .. }) => return Err(e),
                Err(e) => self.warn(&file, &e),
            }
        }
        for j in journal {
            if series.ts.last().is_none_or(|t| *t < j.ts) {
                series.push(&j);
            }
        }
        Ok(series)
    }

    /// Whole samples with `from <= ts < to`, streamed segment by segment in time order (hosts merged by time,
    /// stably in name order), with the journal's: what [`samples`](Self::samples) returns, one segment in memory at
    /// a time. Damaged segments are skipped with a warning; a segment of a newer schema ends the stream with an
    /// error.
    pub fn stream(
        &self,
        from: Option<Timestamp>,
        to: Option<Timestamp>,
    ) -> Result<SampleStream<'_>, Error> {
        let range = Range { from, to };
        let mut journals = self.journal_samples(None, range);
        let mut hosts = Vec::new();
        let mut by_host: BTreeMap<String, Vec<SegmentLoc>> = BTreeMap::new();
        for seg in self.segments_in(None, range)? {
            by_host.entry(seg.host.clone()).or_default().push(seg);
        }
        for h in journals.keys() {
            by_host.entry(h.clone()).or_default();
        }
        for (host, segments) in by_host {
            hosts.push(HostStream {
                journal: journals.remove(&host).unwrap_or_default(),
                segments: segments.into(),
                current: VecDeque::new(),
                chunks: VecDeque::new(),
                last: None,
                host,
            });
        }
        Ok(SampleStream {
            reader: self,
            range,
            hosts,
            failed: false,
        })
    }

    /// Whole samples of `host`, for the windows and instants analysis asks for ([`WindowSource`]).
    pub fn windows(&self, host: &str) -> HostWindows<'_> {
        HostWindows {
            reader: self,
            host: host.to_owned(),
        }
    }

    /// The segments (of one host or all) that may hold samples in `range`, in host and time order; for a served
    /// directory, fetched first.
    pub(super) fn segments_in(
        &self,
        host: Option<&str>,
        range: Range,
    ) -> Result<Vec<SegmentLoc>, Error> {
        if let Some(r) = &self.remote {
            self.fetch_remote(r, range.from, range.to)?;
        }
        let (from_date, to_date) = (range.from.map(utc_date), range.to.map(utc_date));
        Ok(self
            .selected()
            .filter(|s| host.is_none_or(|h| h == s.host))
            .filter(|s| {
                !(from_date.as_ref().is_some_and(|d| s.date < *d)
                    || to_date.as_ref().is_some_and(|d| s.date > *d))
            })
            .filter(|s| self.remote.is_none() || s.file(TABLES[0]).exists())
            .cloned()
            .collect())
    }

    /// The row groups of `host`'s segments that `range` overlaps, each with the part of the range it holds, in
    /// time order; a segment whose footer cannot be read is skipped with a warning.
    pub(super) fn chunks_in(
        &self,
        host: &str,
        range: Range,
    ) -> Result<Vec<(SegmentLoc, Range)>, Error> {
        Ok(self.chunks_of(self.segments_in(Some(host), range)?, range))
    }

    fn chunks_of(&self, segments: Vec<SegmentLoc>, range: Range) -> Vec<(SegmentLoc, Range)> {
        let mut out = Vec::new();
        for seg in segments {
            match row_group_ranges(&seg, range) {
                Ok(chunks) => out.extend(chunks.into_iter().map(|c| (seg.clone(), c))),
                Err(e) => self.warn(&seg.file(TABLES[0]), &e),
            }
        }
        out
    }

    /// The journal's samples in `range`, per host, sorted by time and without repeats.
    pub(super) fn journal_samples(
        &self,
        host: Option<&str>,
        range: Range,
    ) -> BTreeMap<String, VecDeque<Sample>> {
        let mut out: BTreeMap<String, Vec<Sample>> = BTreeMap::new();
        for s in self.read_journals() {
            let keep = host.is_none_or(|h| h == s.host)
                && self.host.as_ref().is_none_or(|h| *h == s.host)
                && range.contains(s.ts.as_unix_micros());
            if keep {
                out.entry(s.host.clone()).or_default().push(s);
            }
        }
        out.into_iter()
            .map(|(h, mut v)| {
                v.sort_by_key(|s| s.ts);
                v.dedup_by_key(|s| s.ts);
                (h, v.into())
            })
            .collect()
    }
}

/// Appends the system values of a schema-5 segment's row groups in `chunk` to `series`, read from the `samples`
/// and `latency` columns alone (journal samples before each row are put in first); `false` for an older file,
/// which derives values from other rows and is read as whole samples instead.
fn series_from_columns(
    seg: &SegmentLoc,
    chunk: Range,
    journal: &mut VecDeque<Sample>,
    series: &mut SystemSeries,
) -> Result<bool, Error> {
    let file = seg.file(TABLES[0]);
    let (version, batches) = read_columns(
        &file,
        TABLES[0],
        chunk,
        None,
        Some(&[
            "ts",
            "boot_time",
            "boot_id",
            "utc_offset_secs",
            "interval_us",
            "cpu_busy_pct",
            "core_busy_pct",
            "load_1m",
            "load_5m",
            "load_15m",
            "mem_total_bytes",
            "mem_used_bytes",
            "mem_available_bytes",
            "swap_total_bytes",
            "swap_used_bytes",
            "pressure_present",
            "pressure_cpu_some_pct",
            "pressure_memory_some_pct",
            "pressure_memory_full_pct",
            "pressure_io_some_pct",
            "pressure_io_full_pct",
            "oom_kill_count",
        ]),
    )?;
    if version < 5 {
        return Ok(false);
    }
    // The probes of the chunk, by the sample that carried them (read_latency's order within a sample).
    let mut carried: Vec<Sample> = Vec::new();
    let lat = seg.file(LATENCY);
    let mut ticks: Vec<i64> = Vec::new();
    for b in &batches {
        let c = Cols {
            batch: b,
            path: &file,
        };
        let ts = c.req::<TimestampMicrosecondType>("ts")?;
        ticks.extend(ts.values().iter().copied().filter(|t| chunk.contains(*t)));
    }
    if lat.exists() && !ticks.is_empty() {
        carried = ticks
            .iter()
            .map(|t| Sample::new(Timestamp::from_unix_micros(*t), ""))
            .collect();
        let whole = Range {
            from: ticks.first().map(|t| Timestamp::from_unix_micros(*t)),
            to: ticks
                .last()
                .map(|t| Timestamp::from_unix_micros(*t).saturating_add(MICRO)),
        };
        read_latency(&lat, whole, None, &mut carried)?;
    }
    let mut k = 0usize;
    for b in &batches {
        let c = Cols {
            batch: b,
            path: &file,
        };
        let ts = c.req::<TimestampMicrosecondType>("ts")?;
        let boot_time = c.req::<TimestampMicrosecondType>("boot_time")?;
        let boot_id = c.str("boot_id")?;
        let utc = c.prim::<Int32Type>("utc_offset_secs")?;
        let interval = c.prim::<Int64Type>("interval_us")?;
        let busy = c.req::<Float32Type>("cpu_busy_pct")?;
        let cores = c
            .col("core_busy_pct")?
            .as_list_opt::<i32>()
            .ok_or_else(|| invalid(&file, "core_busy_pct is not a list"))?;
        let load = [
            c.prim::<Float32Type>("load_1m")?,
            c.prim::<Float32Type>("load_5m")?,
            c.prim::<Float32Type>("load_15m")?,
        ];
        let mem = [
            c.req::<UInt64Type>("mem_total_bytes")?,
            c.req::<UInt64Type>("mem_used_bytes")?,
            c.req::<UInt64Type>("mem_available_bytes")?,
            c.req::<UInt64Type>("swap_total_bytes")?,
            c.req::<UInt64Type>("swap_used_bytes")?,
        ];
        let present = c.bool("pressure_present")?;
        let pressure = [
            c.prim::<Float32Type>("pressure_cpu_some_pct")?,
            c.prim::<Float32Type>("pressure_memory_some_pct")?,
            c.prim::<Float32Type>("pressure_memory_full_pct")?,
            c.prim::<Float32Type>("pressure_io_some_pct")?,
            c.prim::<Float32Type>("pressure_io_full_pct")?,
        ];
        let oom = c.prim::<UInt64Type>("oom_kill_count")?;
        let f = |a: &arrow_array::Float32Array, i: usize| {
            if a.is_null(i) { f32::NAN } else { a.value(i) }
        };
        for i in 0..b.num_rows() {
            let t = ts.value(i);
            if !chunk.contains(t) {
                continue;
            }
            let at = Timestamp::from_unix_micros(t);
            push_journal_before(at, journal, series);
            let probes = carried.get_mut(k).map(|s| std::mem::take(&mut s.latency));
            k += 1;
            if series.ts.last().is_some_and(|l| *l >= at) {
                continue;
            }
            series.ts.push(at);
            series.interval_us.push(if interval.is_null(i) {
                0
            } else {
                u64::try_from(interval.value(i)).unwrap_or(0)
            });
            series.cpu_busy_pct.push(busy.value(i));
            series.mem_total_bytes.push(mem[0].value(i));
            series.mem_used_bytes.push(mem[1].value(i));
            series.mem_available_bytes.push(mem[2].value(i));
            series.swap_total_bytes.push(mem[3].value(i));
            series.swap_used_bytes.push(mem[4].value(i));
            for (col, a) in series.load.iter_mut().zip(&load) {
                col.push(f(a, i));
            }
            let has_pressure = !present.is_null(i) && present.value(i);
            for (col, a) in series.pressure_pct.iter_mut().zip(&pressure) {
                col.push(if has_pressure { f(a, i) } else { f32::NAN });
            }
            series.pressure_present.push(has_pressure);
            series
                .oom_kill_count
                .push((!oom.is_null(i)).then(|| oom.value(i)));
            series
                .boot_time
                .push(Timestamp::from_unix_micros(boot_time.value(i)));
            series.push_boot_id(boot_id.get(i));
            series
                .utc_offset_secs
                .push((!utc.is_null(i)).then(|| utc.value(i)));
            series
                .cores
                .push(u16::try_from(cores.value_length(i)).unwrap_or(u16::MAX));
            for p in probes.unwrap_or_default() {
                series.push_probe(&p);
            }
        }
    }
    Ok(true)
}

/// Moves the journal's samples before `at` into `series` (those it already has left out) and drops one at `at`,
/// which the segment's sample replaces.
fn push_journal_before(at: Timestamp, journal: &mut VecDeque<Sample>, series: &mut SystemSeries) {
    while let Some(j) = journal.front().filter(|j| j.ts <= at) {
        if j.ts < at && series.ts.last().is_none_or(|l| *l < j.ts) {
            series.push(j);
        }
        journal.pop_front();
    }
}

/// The first and last `ts` and the row count of a `samples` file, from its footer.
fn footer_range(path: &Path) -> Result<Option<(Timestamp, Timestamp, u64)>, Error> {
    let groups = row_groups(path)?;
    let first = groups.iter().map(|g| g.0).min();
    let last = groups.iter().map(|g| g.1).max();
    let rows = groups.iter().map(|g| g.2).sum();
    Ok(first.zip(last).map(|(a, b)| (a, b, rows)))
}

/// The first and last `ts` and the row count of each row group of a `samples` file, from its footer (row groups
/// without statistics are left out).
fn row_groups(path: &Path) -> Result<Vec<(Timestamp, Timestamp, u64)>, Error> {
    let file = std::fs::File::open(path).map_err(io(path))?;
    let reader = SerializedFileReader::new(file).map_err(pq(path))?;
    let md = reader.metadata();
    let Some(col) = md
        .file_metadata()
        .schema_descr()
        .columns()
        .iter()
        .position(|c| c.path().string() == "ts")
    else {
        return Ok(Vec::new());
    };
    let mut out = Vec::new();
    for rg in md.row_groups() {
        if let Some(Statistics::Int64(s)) = rg.column(col).statistics()
            && let (Some(&a), Some(&b)) = (s.min_opt(), s.max_opt())
        {
            out.push((
                Timestamp::from_unix_micros(a),
                Timestamp::from_unix_micros(b),
                u64::try_from(rg.num_rows()).unwrap_or(0),
            ));
        }
    }
    Ok(out)
}

/// The part of `range` each row group of a segment holds, in order (the whole range where the footer has no
/// statistics).
pub(super) fn row_group_ranges(loc: &SegmentLoc, range: Range) -> Result<Vec<Range>, Error> {
    let groups = row_groups(&loc.file(TABLES[0]))?;
    if groups.is_empty() {
        return Ok(vec![range]);
    }
    Ok(groups
        .into_iter()
        .map(|(first, last, _)| {
            let end = last.saturating_add(MICRO);
            Range {
                from: Some(range.from.map_or(first, |f| f.max(first))),
                to: Some(range.to.map_or(end, |t| t.min(end))),
            }
        })
        .filter(|c| c.from < c.to)
        .collect())
}

/// One host's part of a [`SampleStream`].
struct HostStream {
    host: String,
    segments: VecDeque<SegmentLoc>,
    /// The row groups of the segment being read that are still to come: one is decoded at a time.
    chunks: VecDeque<(SegmentLoc, Range)>,
    journal: VecDeque<Sample>,
    current: VecDeque<Sample>,
    last: Option<Timestamp>,
}

impl HostStream {
    /// The host's next sample time, reading its next segment when the current one is used up.
    fn peek(&mut self, reader: &StoreReader, range: Range) -> Result<Option<Timestamp>, Error> {
        loop {
            let seg = self.current.front().map(|s| s.ts);
            let jour = self.journal.front().map(|s| s.ts);
            if seg.is_some() || (self.chunks.is_empty() && self.segments.is_empty()) {
                return Ok(match (seg, jour) {
                    (Some(a), Some(b)) => Some(a.min(b)),
                    (a, b) => a.or(b),
                });
            }
            if let Some((loc, chunk)) = self.chunks.pop_front() {
                match read_segment(&loc, chunk) {
                    Ok(v) => self.current = v.into(),
                    Err(e @ Error::NewerSchema { .. }) => return Err(e),
                    // A damaged row group: one warning for the file, its other row groups still read.
                    Err(e) => reader.warn(&loc.file(TABLES[0]), &e),
                }
                continue;
            }
            let Some(loc) = self.segments.pop_front() else {
                continue;
            };
            // One row group at a time, so the first sample is out after one row group is decoded.
            match row_group_ranges(&loc, range) {
                Ok(chunks) => self
                    .chunks
                    .extend(chunks.into_iter().map(|c| (loc.clone(), c))),
                Err(e) => reader.warn(&loc.file(TABLES[0]), &e),
            }
        }
    }

    /// Takes the sample at `ts` (from the segment, or the journal when only it has one), dropping repeats.
    fn take(&mut self, ts: Timestamp) -> Option<Sample> {
        let from_seg = self.current.front().is_some_and(|s| s.ts == ts);
        let from_journal = self.journal.front().is_some_and(|s| s.ts == ts);
        let s = if from_seg {
            if from_journal {
                self.journal.pop_front();
            }
            self.current.pop_front()
        } else {
            self.journal.pop_front()
        }?;
        if self.last.is_some_and(|l| l >= s.ts) {
            return None;
        }
        self.last = Some(s.ts);
        Some(s)
    }
}

/// Whole samples in time order, one segment per host in memory at a time ([`StoreReader::stream`]).
pub struct SampleStream<'a> {
    reader: &'a StoreReader,
    range: Range,
    hosts: Vec<HostStream>,
    failed: bool,
}

impl std::fmt::Debug for SampleStream<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SampleStream")
            .field(
                "hosts",
                &self.hosts.iter().map(|h| &h.host).collect::<Vec<_>>(),
            )
            .finish()
    }
}

impl Iterator for SampleStream<'_> {
    type Item = Result<Sample, Error>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.failed {
            return None;
        }
        loop {
            let mut best: Option<(usize, Timestamp)> = None;
            for (k, h) in self.hosts.iter_mut().enumerate() {
                match h.peek(self.reader, self.range) {
                    Ok(Some(t)) if best.is_none_or(|(_, b)| t < b) => best = Some((k, t)),
                    Ok(_) => {}
                    Err(e) => {
                        self.failed = true;
                        return Some(Err(e));
                    }
                }
            }
            let (k, ts) = best?;
            if let Some(s) = self.hosts[k].take(ts) {
                return Some(Ok(s));
            }
        }
    }
}

/// Whole samples of one host for analysis windows and instants ([`StoreReader::windows`]): each read touches only
/// the row groups that hold them.
#[derive(Debug)]
pub struct HostWindows<'a> {
    reader: &'a StoreReader,
    host: String,
}

impl HostWindows<'_> {
    fn read(&self, from: Timestamp, to: Timestamp) -> Result<Vec<Sample>, Error> {
        let to_excl = to.saturating_add(std::time::Duration::from_micros(1));
        let mut out = Vec::new();
        for s in self
            .reader
            .stream_host(&self.host, Some(from), Some(to_excl))?
        {
            out.push(s?);
        }
        Ok(out)
    }
}

impl StoreReader {
    fn stream_host(
        &self,
        host: &str,
        from: Option<Timestamp>,
        to: Option<Timestamp>,
    ) -> Result<SampleStream<'_>, Error> {
        let mut stream = self.stream(from, to)?;
        stream.hosts.retain(|h| h.host == host);
        Ok(stream)
    }
}

impl WindowSource for HostWindows<'_> {
    fn samples_between(
        &self,
        from: Timestamp,
        to: Timestamp,
    ) -> Result<Vec<Sample>, stabmon_core::Error> {
        self.read(from, to)
            .map_err(|e| stabmon_core::Error::Window {
                from,
                to,
                source: Box::new(e),
            })
    }

    fn samples_at(&self, instants: &[Timestamp]) -> Result<Vec<Sample>, stabmon_core::Error> {
        let (Some(&first), Some(&last)) = (instants.first(), instants.last()) else {
            return Ok(Vec::new());
        };
        let err = |e: Error| stabmon_core::Error::Window {
            from: first,
            to: last,
            source: Box::new(e),
        };
        let micros: Vec<i64> = instants.iter().map(|t| t.as_unix_micros()).collect();
        let range = Range {
            from: Some(first),
            to: Some(last.saturating_add(MICRO)),
        };
        let mut out: Vec<Sample> = Vec::new();
        // Row group by row group, decoding only the rows at the instants (schema 5; older files whole).
        for (seg, chunk) in self.reader.chunks_in(&self.host, range).map_err(err)? {
            let file = seg.file(TABLES[0]);
            let lo =
                micros.partition_point(|t| chunk.from.is_some_and(|f| *t < f.as_unix_micros()));
            let hi = micros.partition_point(|t| chunk.to.is_none_or(|e| *t < e.as_unix_micros()));
            if lo >= hi {
                continue;
            }
            match read_segment_at(&seg, chunk, Some(&micros[lo..hi])) {
                Ok(v) => out.extend(v),
                Err(e @ Error::NewerSchema { .. }) => return Err(err(e)),
                Err(e) => self.reader.warn(&file, &e),
            }
        }
        let journal = self
            .reader
            .journal_samples(Some(&self.host), range)
            .remove(&self.host)
            .unwrap_or_default();
        out.extend(
            journal
                .into_iter()
                .filter(|s| micros.binary_search(&s.ts.as_unix_micros()).is_ok()),
        );
        out.sort_by_key(|s| s.ts);
        out.dedup_by_key(|s| s.ts);
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use crate::StoreWriter;
    use arrow_array::Array;
    use stabmon_core::synth::Synth;

    /// With instants, a schema-5 table decodes only the rows at those times, in every table.
    #[test]
    fn instants_decode_only_their_rows() {
        let dir = tempfile::tempdir().unwrap();
        let t0 = Timestamp::from_unix_secs(1_795_564_800);
        let samples = Synth::new(t0, std::time::Duration::from_secs(1))
            .count(600)
            .processes(40)
            .latency_target("gw", 2.0, 0.5)
            .generate();
        let mut w = StoreWriter::create(dir.path()).unwrap();
        for s in &samples {
            w.write(s).unwrap();
        }
        w.finish().unwrap();
        let reader = StoreReader::open(dir.path()).unwrap();
        let seg = reader.selected().next().unwrap().clone();
        let only = [
            samples[10].ts.as_unix_micros(),
            samples[400].ts.as_unix_micros(),
        ];
        for table in ["samples", "processes", "names", LATENCY] {
            let (version, batches) =
                super::super::read_table(&seg.file(table), table, Range::ALL, Some(&only)).unwrap();
            assert!(version >= 5);
            let rows: usize = batches.iter().map(|b| b.num_rows()).sum();
            assert!(rows > 0 && rows < 60, "{table}: {rows} rows");
            for b in &batches {
                let ts = b.column_by_name("ts").unwrap();
                let ts = ts
                    .as_any()
                    .downcast_ref::<arrow_array::TimestampMicrosecondArray>()
                    .unwrap();
                assert!(
                    ts.iter().all(|t| t.is_some_and(|t| only.contains(&t))),
                    "{table}"
                );
                assert_eq!(ts.null_count(), 0);
            }
        }
    }
}
