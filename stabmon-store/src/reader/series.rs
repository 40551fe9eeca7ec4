//! A host's system values as columns for a range ([`StoreReader::system_series`]): row groups decoded straight
//! into the columns (those of files older than schema 5 read whole, their samples' values and their process and
//! name rows' CPU derived first).

use std::path::{Path, PathBuf};
use std::sync::Arc;

use arrow_array::builder::StringBuilder;
use arrow_array::cast::AsArray;
use arrow_array::types::{
    Float32Type, Int32Type, Int64Type, TimestampMicrosecondType, UInt16Type, UInt32Type, UInt64Type,
};
use arrow_array::{
    Array, ArrayRef, ArrowPrimitiveType, BooleanArray, Float32Array, ListArray, PrimitiveArray,
    RecordBatch, UInt64Array,
};
use arrow_buffer::{OffsetBuffer, ScalarBuffer};
use arrow_schema::{DataType, Field};
use stabmon_core::latency::{OutcomeKind, ProbePoint};
use stabmon_core::series::{MomentColumns, Packed, SystemSeries, busiest_of_each_column};
use stabmon_core::{LoadAvg, Pressure, Sample, Timestamp, TopProcesses};

use super::cols::opt;
use super::group::{TickIndex, two_lanes};
use super::journals::JournalQueue;
use super::latency::bad_outcome;
use super::older::{Keep, OlderBusiest, Rows, read_older};
use super::scan::row_groups;
use super::table::{Strings, TableFile};
use super::{Cols, Range, StoreReader, StrCol};
use crate::error::{Error, arrow, contain, invalid};
use crate::layout::{LATENCY, SegmentLoc, TABLES, stem_start};

impl StoreReader {
    /// The system values of `host` with `from <= ts < to` (either bound optional) as columns, read segment by
    /// segment from the `samples` and `latency` tables only (row groups outside the range are skipped), plus the
    /// journal. Memory: the columns (about 40 bytes a sample and 7 a latency probe at 1 s) and a few row groups: they
    /// are decoded on two threads of the call's own (ended before it returns) while this one appends them in order.
    ///
    /// Damaged segments are skipped with a warning ([`warnings`](Self::warnings)); a segment of a newer schema is
    /// an error.
    pub fn system_series(
        &self,
        host: &str,
        from: Option<Timestamp>,
        to: Option<Timestamp>,
    ) -> Result<SystemSeries, Error> {
        self.system_series_of(host, from, to, SeriesRead::All)
    }

    /// [`system_series`](Self::system_series) filling only the columns `read` asks for: with
    /// [`SeriesRead::Detection`], what incident detection reads, decoding fewer columns.
    pub fn system_series_of(
        &self,
        host: &str,
        from: Option<Timestamp>,
        to: Option<Timestamp>,
        read: SeriesRead,
    ) -> Result<SystemSeries, Error> {
        self.series_and_moments(host, Range { from, to }, read, None)
            .map(|(series, _)| series)
    }

    /// [`system_series_of`](Self::system_series_of), and the samples a page of the series shows on hover
    /// (`moments`: the busiest sample of each pixel column, with the parts it names), where building them costs
    /// little: of files older than schema 5, whose row groups the series reads whole, they are built from what was
    /// decoded, instead of decoding those row groups again when the page asks for them. Other samples (of later
    /// schemas, or of the journal) are left out: read them as usual. The samples are those that
    /// [`samples_at_parts`](stabmon_core::series::WindowSource::samples_at_parts) of
    /// [`HostWindows`](crate::HostWindows) gives, in time order; hand them to
    /// [`HostWindows::with_samples`](crate::HostWindows::with_samples) so that a page's read of them finds them
    /// there.
    ///
    /// ```
    /// # fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// use stabmon_core::series::{MomentColumns, SampleParts};
    /// use stabmon_core::Timestamp;
    /// use stabmon_store::{SeriesRead, StoreReader};
    ///
    /// /// Ten-minute columns, each shown with its processes.
    /// struct TenMinutes;
    /// impl MomentColumns for TenMinutes {
    ///     fn column(&self, ts: Timestamp) -> i64 {
    ///         ts.as_unix_micros().div_euclid(600_000_000)
    ///     }
    ///     fn parts(&self) -> SampleParts {
    ///         SampleParts::PROCESSES
    ///     }
    /// }
    ///
    /// let dir = tempfile::tempdir()?;
    /// stabmon_store::StoreWriter::create(dir.path())?.finish()?;
    /// let reader = StoreReader::open(dir.path())?;
    /// let (series, moments) =
    ///     reader.system_series_with_moments("web-1", None, None, SeriesRead::All, &TenMinutes)?;
    /// let windows = reader.windows("web-1").with_samples(moments, TenMinutes.parts());
    /// # let _ = (series, windows);
    /// # Ok(())
    /// # }
    /// ```
    pub fn system_series_with_moments(
        &self,
        host: &str,
        from: Option<Timestamp>,
        to: Option<Timestamp>,
        read: SeriesRead,
        moments: &dyn MomentColumns,
    ) -> Result<(SystemSeries, Vec<Sample>), Error> {
        self.series_and_moments(host, Range { from, to }, read, Some(moments))
    }

    fn series_and_moments(
        &self,
        host: &str,
        range: Range,
        read: SeriesRead,
        moments: Option<&dyn MomentColumns>,
    ) -> Result<(SystemSeries, Vec<Sample>), Error> {
        let mut series = SystemSeries::new(host);
        let mut journal = self
            .journal_samples(Some(host), range)
            .remove(host)
            .unwrap_or_default();
        let segments = self.segments_in(Some(host), range)?;
        // The columns sized once from the footers (the rows of the row groups in range, an upper bound), instead of
        // doubling as they grow.
        let mut rows = 0u64;
        for seg in &segments {
            for &(first, last, n) in row_groups(&seg.file(TABLES[0]), self.objects())
                .unwrap_or_default()
                .iter()
            {
                if range.overlaps(first.as_unix_micros(), last.as_unix_micros()) {
                    rows += n;
                }
            }
        }
        let expected = usize::try_from(rows).unwrap_or(0) + journal.len();
        series.reserve(expected);
        let mut scratch = Scratch::default();
        let mut candidates: Vec<Sample> = Vec::new();
        // Where data is skipped (a segment that cannot be opened, a row group that cannot be decoded), within the
        // range: so that a gap there is not taken for a recorder that died.
        let unreadable = std::sync::Mutex::new(Vec::new());
        let skip = |part: Range| {
            let start = part.from.unwrap_or(Timestamp::from_unix_micros(i64::MIN));
            let end = part.to.unwrap_or(Timestamp::from_unix_micros(i64::MAX));
            if start < end {
                unreadable
                    .lock()
                    .unwrap_or_else(std::sync::PoisonError::into_inner)
                    .push((start, end));
            }
        };
        // A row group at a time, decoded on two threads of the call's own while this one appends them in order:
        // memory holds the columns and a few row groups.
        two_lanes(
            segments.len(),
            |i| {
                let seg = &segments[i];
                let file = seg.file(TABLES[0]);
                match contain(&file, || self.open_series_segment(seg, range, read)) {
                    Ok(s) => Ok(Some(s)),
                    Err(e @ Error::NewerSchema { .. }) => Err(e),
                    Err(e) => {
                        self.warn(&file, &e);
                        // Its footer unread: from the time its name says (or, without one, the range's start) to the
                        // next segment's, within the range.
                        let next = segments.get(i + 1).and_then(|n| stem_start(&n.name));
                        skip(range.clip(Range {
                            from: stem_start(&seg.name),
                            to: next,
                        }));
                        Ok(None)
                    }
                }
            },
            |s| s.groups.len(),
            |s, k| match contain(&s.file, || {
                self.decode_series_group(s, s.groups[k], range, moments)
            }) {
                Ok(piece) => Ok(Some(piece)),
                Err(e @ Error::NewerSchema { .. }) => Err(e),
                // Warned in order by the appending thread, whichever lane decoded it.
                Err(e) => Ok(Some(SeriesPiece::Damaged(
                    s.file.clone(),
                    e,
                    s.samples.chunk(s.groups[k], range),
                ))),
            },
            |piece| {
                match piece {
                    SeriesPiece::Columns(mut c) => {
                        // A moment at a time the series had before this row group is another segment's sample
                        // (the one a read of that instant gives): left out.
                        let before = series.ts.last().copied();
                        match c.append(&mut journal, &mut series, &mut scratch) {
                            Ok(()) => {
                                c.moments.retain(|s| before.is_none_or(|b| s.ts > b));
                                candidates.append(&mut c.moments);
                            }
                            Err(e) => {
                                self.warn(&c.path, &e);
                                skip(c.chunk);
                            }
                        }
                    }
                    SeriesPiece::Damaged(path, e, at) => {
                        self.warn(&path, &e);
                        skip(at);
                    }
                }
                Ok(())
            },
        )?;
        for j in journal {
            if series.ts.last().is_none_or(|t| *t < j.ts) {
                series.push(&j);
            }
        }
        let mut unreadable = unreadable
            .into_inner()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        unreadable.sort_unstable();
        series.unreadable = unreadable;
        let moments = match moments {
            Some(m) => moments_of(candidates, &series, m),
            None => Vec::new(),
        };
        Ok((series, moments))
    }
}

/// Of the row groups' moments (each the busiest of its pixel column within its row group, none at a time the
/// series had before its row group), those the series has and that are the busiest of their column across row
/// groups by the series' values, the first of equals: the page's moments among them. Their host is set.
fn moments_of(
    mut candidates: Vec<Sample>,
    series: &SystemSeries,
    m: &dyn MomentColumns,
) -> Vec<Sample> {
    candidates.sort_by_key(|s| s.ts);
    candidates.dedup_by_key(|s| s.ts);
    // Each one's place in the series (their own system values may be trimmed away).
    let (mut found, mut at) = (Vec::with_capacity(candidates.len()), Vec::new());
    for s in candidates {
        if let Ok(k) = series.ts.binary_search(&s.ts) {
            found.push(s);
            at.push(k);
        }
    }
    let values = found
        .iter()
        .zip(&at)
        .map(|(s, &k)| (m.column(s.ts), series.cpu_busy_pct[k]));
    let mut keep = vec![false; found.len()];
    for k in busiest_of_each_column(values) {
        keep[k] = true;
    }
    let host = series.host.clone();
    found
        .into_iter()
        .zip(keep)
        .filter(|(_, k)| *k)
        .map(|(mut s, _)| {
            s.host.clone_from(&host);
            s
        })
        .collect()
}

/// Which columns of a [`SystemSeries`] a read fills ([`StoreReader::system_series_of`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SeriesRead {
    /// Every column.
    All,
    /// The columns incident detection ([`stabmon_core::analysis::detect_incidents_in`]) reads: the load
    /// averages, available memory, configured swap, the UTC offset and the memory-some and io-some pressure
    /// figures are not read from the segments (load and pressure `NaN`, memory and swap 0, offset `None`; a
    /// sample of the journal has them all).
    Detection,
}

/// The `samples` columns detection does not read, left out with [`SeriesRead::Detection`].
const NOT_DETECTION: [&str; 8] = [
    "utc_offset_secs",
    "load_1m",
    "load_5m",
    "load_15m",
    "mem_available_bytes",
    "swap_total_bytes",
    "pressure_memory_some_pct",
    "pressure_io_some_pct",
];

/// The `samples` columns a series is built from.
const SERIES_COLUMNS: [&str; 22] = [
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
];

/// The `samples` columns of the busiest process and group (schema 6 on).
const TOP_COLUMNS: [&str; 6] = [
    "top_process_pid",
    "top_process_start_time",
    "top_process_name",
    "top_process_cpu_pct",
    "top_group_name",
    "top_group_cpu_pct",
];

/// The `processes` columns the busiest process of a row group of schema 5 is found from.
const PROCESS_TOP_COLUMNS: [&str; 5] = ["ts", "pid", "start_time", "name", "cpu_pct"];

/// The `names` columns the busiest group of a row group of schema 5 is found from.
const NAME_TOP_COLUMNS: [&str; 3] = ["ts", "name", "cpu_pct"];

/// The `latency` columns a series keeps of each probe.
const PROBE_COLUMNS: [&str; 6] = [
    "ts",
    "start_ts",
    "target",
    "outcome",
    "http_status",
    "total_us",
];

/// What the decoding threads of [`StoreReader::system_series`] hand over.
enum SeriesPiece {
    /// A row group's system columns and latency rows.
    Columns(Box<SeriesColumns>),
    /// A row group that could not be decoded: the file, why, and the part of the range it holds (from the footer).
    Damaged(PathBuf, Error, Range),
}

/// A segment opened for a series: its tables (footers parsed once, shared by the decoding threads) and its row
/// groups in range.
struct SeriesSegment {
    seg: SegmentLoc,
    /// The `samples` file.
    file: PathBuf,
    samples: TableFile,
    latency: Option<TableFile>,
    /// Schema 5 and older: the `processes` and `names` tables (a segment of schema 5 without one has no rows of
    /// it; before schema 5, where either is missing, no busiest process or group is read).
    lists: Option<(Option<TableFile>, Option<TableFile>)>,
    /// The `samples` columns read.
    columns: Vec<&'static str>,
    read: SeriesRead,
    /// The `samples` row groups `range` may overlap.
    groups: Vec<usize>,
}

impl StoreReader {
    /// Opens the tables of `seg` a series reads, for `range`.
    fn open_series_segment(
        &self,
        seg: &SegmentLoc,
        range: Range,
        read: SeriesRead,
    ) -> Result<SeriesSegment, Error> {
        let file = seg.file(TABLES[0]);
        // Strings as dictionaries: the boot id and the busiest names change rarely, and are not copied per row.
        let samples = TableFile::open(&file, self.objects(), Some(TABLES[0]), Strings::Dictionary)?;
        let lat_path = seg.file(LATENCY);
        let latency = if lat_path.exists() {
            Some(TableFile::open(
                &lat_path,
                self.objects(),
                Some(LATENCY),
                Strings::Dictionary,
            )?)
        } else {
            None
        };
        // Schema 5 and older have no busiest columns: they are found from the process and name rows' CPU (five
        // and three columns of those tables, not the whole rows; before schema 5, with the columns the values
        // derive from).
        let lists = if samples.version <= 5 {
            let open = |t: &str| {
                let path = seg.file(t);
                match path.exists() {
                    true => TableFile::open(&path, self.objects(), Some(t), Strings::Dictionary)
                        .map(Some),
                    false => Ok(None),
                }
            };
            Some((open(TABLES[1])?, open(TABLES[2])?))
        } else {
            None
        };
        let top: &[&str] = if samples.version >= 6 {
            &TOP_COLUMNS
        } else {
            &[]
        };
        let columns: Vec<&str> = SERIES_COLUMNS
            .iter()
            .chain(top)
            .filter(|c| read == SeriesRead::All || !NOT_DETECTION.contains(c))
            .copied()
            .collect();
        let groups = samples.groups_in(range);
        Ok(SeriesSegment {
            seg: seg.clone(),
            file,
            samples,
            latency,
            lists,
            columns,
            read,
            groups,
        })
    }

    /// Decodes row group `g` of an opened segment's `samples` for a series: its part of `range`.
    fn decode_series_group(
        &self,
        s: &SeriesSegment,
        g: usize,
        range: Range,
        moments: Option<&dyn MomentColumns>,
    ) -> Result<SeriesPiece, Error> {
        let mut built = Vec::new();
        let chunk = s.samples.chunk(g, range);
        let (batches, tops) = if s.samples.version < 5 {
            // Older files derive values from other rows: the row group is read whole, its samples as the columns
            // a series reads, and each sample's busiest process and group found as its rows' CPU is derived.
            // A name total may be its lone process row's values: without the process rows, no names either (as
            // a whole-sample read of such a segment gives its system values alone).
            let (p, n) = match &s.lists {
                Some((Some(p), Some(n))) => (Some(p), Some(n)),
                _ => (None, None),
            };
            let tables = (&s.samples, p, n);
            let read = |moments| {
                let mut rows = SeriesRows::with_capacity(s.samples.rows_hint(g));
                let mut push = |s: &Sample| {
                    rows.push(s);
                    Ok(())
                };
                let older = read_older(
                    tables,
                    g,
                    chunk,
                    Keep::Busiest,
                    moments,
                    Rows::Samples(&mut push),
                )?;
                Ok::<_, Error>(older.map(|o| (o, rows)))
            };
            // Moments read more of the row group: where that fails, the series is read without them (the page
            // then reads them itself, and warns of what it cannot).
            let older = match read(moments) {
                Err(_) if moments.is_some() => read(None),
                read => read,
            };
            match older? {
                Some((older, rows)) => {
                    built = older.moments;
                    (
                        vec![rows.batch(&s.file)?],
                        older.busiest.map(TopSource::Older),
                    )
                }
                None => (Vec::new(), None),
            }
        } else {
            let batches = s.samples.read(&[g], chunk, None, Some(&s.columns))?;
            let rows = |t: &Option<TableFile>, cols: &[&str]| match t {
                Some(t) => t.read(&t.groups_in(chunk), chunk, None, Some(cols)),
                None => Ok(Vec::new()),
            };
            let tops = match &s.lists {
                Some((p, n)) => Some(TopSource::Lists(
                    rows(p, &PROCESS_TOP_COLUMNS)?,
                    rows(n, &NAME_TOP_COLUMNS)?,
                )),
                None => None,
            };
            (batches, tops)
        };
        let probes = match &s.latency {
            Some(l) => l.read(&l.groups_in(chunk), chunk, None, Some(&PROBE_COLUMNS))?,
            None => Vec::new(),
        };
        Ok(SeriesPiece::Columns(Box::new(SeriesColumns {
            read: s.read,
            path: s.file.clone(),
            latency_path: s.seg.file(LATENCY),
            lists_paths: (s.seg.file(TABLES[1]), s.seg.file(TABLES[2])),
            chunk,
            batches,
            probes,
            tops,
            moments: built,
        })))
    }
}

/// A sample's busiest process (CPU, pid, start time, name) and busiest group (CPU, name), as
/// [`BusiestColumns::push`](stabmon_core::series::BusiestColumns::push) takes them.
type Busiest<'s> = (
    Option<(f32, u32, Timestamp, &'s str)>,
    Option<(f32, &'s str)>,
);

/// A sample's busiest process so far, as [`keep_busier_process`] keeps it: CPU %, pid, start time, name, and what
/// the reader keeps beside them.
pub(super) type TopProcess<'s, T> = Option<(f32, u32, Timestamp, &'s str, T)>;

/// A sample's busiest group so far, as [`keep_busier_group`] keeps it: CPU %, name, and what the reader keeps
/// beside them.
pub(super) type TopGroup<'s, T> = Option<(f32, &'s str, T)>;

/// Puts a process row of a sample (CPU %, pid, start time; named `name`) in `top` where it is busier than the one
/// there, as [`TopProcesses::busiest_process`] picks of the whole list (a row without a measured CPU never).
#[inline]
pub(super) fn keep_busier_process<'s, T>(
    top: &mut TopProcess<'s, T>,
    row: (f32, u32, Timestamp),
    name: &'s str,
    with: T,
) {
    let busier = top
        .as_ref()
        .is_none_or(|p| TopProcesses::cmp_busier_process(row, (p.0, p.1, p.2)).is_lt());
    if !row.0.is_nan() && busier {
        *top = Some((row.0, row.1, row.2, name, with));
    }
}

/// Puts a name row of a sample (its name and CPU %) in `group` where it is busier than the one there and may be
/// the busiest group beside the sample's busiest process `top` (name, CPU %), as
/// [`TopProcesses::busiest_group`] picks of the whole list.
#[inline]
pub(super) fn keep_busier_group<'s, T>(
    group: &mut TopGroup<'s, T>,
    top: Option<(&str, f32)>,
    (name, cpu): (&'s str, f32),
    with: T,
) {
    let busier = group
        .as_ref()
        .is_none_or(|g| TopProcesses::cmp_busier_group((name, cpu), (g.1, g.0)).is_lt());
    if busier && TopProcesses::may_be_busiest_group(top, name, cpu) {
        *group = Some((cpu, name, with));
    }
}

/// What a row group's busiest processes and groups come from, before schema 6.
enum TopSource {
    /// Schema 5: the process rows' [`PROCESS_TOP_COLUMNS`] and the name rows' [`NAME_TOP_COLUMNS`].
    Lists(Vec<RecordBatch>, Vec<RecordBatch>),
    /// Before schema 5: each sample's busiest, found as the row group was read.
    Older(OlderBusiest),
}

/// A row group's columns for a series: the system values of its samples in `chunk` and their
/// probes.
struct SeriesColumns {
    read: SeriesRead,
    /// The `samples` file.
    path: PathBuf,
    latency_path: PathBuf,
    /// The `processes` and `names` files.
    lists_paths: (PathBuf, PathBuf),
    chunk: Range,
    batches: Vec<RecordBatch>,
    probes: Vec<RecordBatch>,
    /// Schema 5 and older: what each sample's busiest process and group come from (later schemas store them in
    /// the samples' own columns).
    tops: Option<TopSource>,
    /// The hover moments built from the row group, where asked for (see [`read_older`]).
    moments: Vec<Sample>,
}

/// A row group's probes grouped by the sample they belong to, in the order stored within each sample (a counting
/// sort, no list per sample).
struct TickProbes<'a, 'b> {
    /// The distinct targets.
    targets: Vec<&'a str>,
    /// The probes, by sample.
    buf: &'b ProbeBuffers,
}

/// The buffers of [`TickProbes`], kept for the whole read.
#[derive(Default)]
struct ProbeBuffers {
    /// (sample, target index, point), by sample.
    rows: Vec<(u32, u32, ProbePoint)>,
    /// Where each sample's probes start in `rows` (one more entry than samples).
    starts: Vec<u32>,
}

impl TickProbes<'_, '_> {
    /// Adds the probes of samples `ks` to `series`, target by target (each target's probes in the order of their
    /// samples, then as stored).
    /// `points` is a buffer a target's probes are gathered in, to be appended a column at a time.
    fn push(
        &self,
        ks: std::ops::Range<usize>,
        series: &mut SystemSeries,
        points: &mut Vec<ProbePoint>,
    ) {
        let starts = &self.buf.starts;
        let (Some(&a), Some(&b)) = (starts.get(ks.start), starts.get(ks.end)) else {
            return;
        };
        let rows = &self.buf.rows[a as usize..b as usize];
        for (t, target) in (0u32..).zip(&self.targets) {
            points.clear();
            points.extend(rows.iter().filter(|r| r.1 == t).map(|r| r.2));
            if points.is_empty() {
                continue;
            }
            let list = match series.latency.get_mut(*target) {
                Some(l) => l,
                None => series.latency.entry((*target).to_owned()).or_default(),
            };
            list.extend_from_slice(points);
        }
    }
}

/// Buffers a row group's values are gathered in before they are appended a column at a time, and its probes
/// sorted in (kept for the whole read: no allocation per row group).
#[derive(Default)]
struct Scratch {
    cols: ColumnScratch,
    probes: ProbeBuffers,
}

/// The buffers of [`Scratch`] a batch's columns are gathered in.
#[derive(Default)]
struct ColumnScratch {
    u64s: Vec<u64>,
    f32s: Vec<f32>,
    group_f32s: Vec<f32>,
    u32s: Vec<u32>,
    probes: Vec<ProbePoint>,
}

impl SeriesColumns {
    /// Appends the samples to `series` (the journal's samples before each first, a sample the series already has
    /// left out), each with its probes: runs of rows between journal samples and left-out rows are appended a
    /// column at a time. Nothing is appended where a column does not read.
    fn append(
        &self,
        journal: &mut JournalQueue,
        series: &mut SystemSeries,
        scratch: &mut Scratch,
    ) -> Result<(), Error> {
        let file = &self.path;
        let chunk = self.chunk;
        let cols: Vec<SeriesCols<'_>> = self
            .batches
            .iter()
            .map(|b| SeriesCols::new(b, file, self.read))
            .collect::<Result<_, _>>()?;
        let ticks: Vec<i64> = cols
            .iter()
            .flat_map(|c| c.ts.values().iter().copied())
            .filter(|t| chunk.contains(*t))
            .collect();
        let Scratch {
            cols: scratch,
            probes: probe_buf,
        } = scratch;
        let probes = self.probes(&ticks, probe_buf)?;
        let tops = match &self.tops {
            Some(TopSource::Older(b)) => Some(self.older_tops(&ticks, b)?),
            Some(TopSource::Lists(procs, names)) => Some(self.tops(&ticks, (procs, names))?),
            None => None,
        };
        // Rows `run.0..i` of a batch, samples `run.1..` of `ticks`, are appended together.
        let flush = |c: &SeriesCols<'_>,
                     run: Option<(usize, usize)>,
                     end: usize,
                     series: &mut SystemSeries,
                     scratch: &mut ColumnScratch| {
            let Some((a, k)) = run else {
                return;
            };
            let ks = k..k + (end - a);
            c.extend(a..end, series, scratch);
            match (&c.top, &tops) {
                (Some(cols), _) => cols.extend(a..end, series, scratch),
                (None, Some(t)) => t[ks.clone()]
                    .iter()
                    .for_each(|(p, g)| series.busiest.push(*p, *g)),
                (None, None) => {
                    (a..end).for_each(|_| series.busiest.push_top(&TopProcesses::default()))
                }
            }
            probes.push(ks, series, &mut scratch.probes);
        };
        let mut k = 0usize;
        for c in &cols {
            let ts = c.ts.values();
            let mut run: Option<(usize, usize)> = None;
            for (i, &t) in ts.iter().enumerate() {
                if !chunk.contains(t) {
                    flush(c, run.take(), i, series, scratch);
                    continue;
                }
                let at = Timestamp::from_unix_micros(t);
                if journal.front_ts().is_some_and(|j| j <= at) {
                    flush(c, run.take(), i, series, scratch);
                    push_journal_before(at, journal, series);
                }
                let mine = k;
                k += 1;
                // The series' last sample: the run's last row while one is pending.
                let last = match run {
                    Some(_) => Some(ts[i - 1]),
                    None => series.ts.last().map(|l| l.as_unix_micros()),
                };
                if last.is_some_and(|l| l >= t) {
                    flush(c, run.take(), i, series, scratch);
                    continue;
                }
                run.get_or_insert((i, mine));
            }
            flush(c, run.take(), ts.len(), series, scratch);
        }
        Ok(())
    }

    /// The busiest process and group of each of the samples at `ticks` (schema 5), found from its process
    /// rows' identity and CPU and its name rows' CPU: what [`TopProcesses::busiest_process`] and
    /// [`TopProcesses::busiest_group`] give of the whole lists (see [`Busiest`]).
    fn tops<'s>(
        &'s self,
        ticks: &[i64],
        (procs, names): (&'s [RecordBatch], &'s [RecordBatch]),
    ) -> Result<Vec<Busiest<'s>>, Error> {
        let (Some(&first), Some(&last)) = (ticks.first(), ticks.last()) else {
            return Ok(vec![(None, None); ticks.len()]);
        };
        let index = TickIndex::new(ticks);
        // The sample a row belongs to (`None` outside the ticks' span; an error where a row has no sample).
        let tick_of = |t: i64, path: &Path| -> Result<Option<usize>, Error> {
            if t < first || t > last {
                return Ok(None);
            }
            index.find(t).map(Some).ok_or_else(|| {
                invalid(
                    path,
                    format!(
                        "a row at {} has no sample in the samples table",
                        Timestamp::from_unix_micros(t)
                    ),
                )
            })
        };
        // Each sample's busiest process and group so far.
        let mut process: Vec<TopProcess<'_, ()>> = vec![None; ticks.len()];
        let path = &self.lists_paths.0;
        for b in procs {
            let c = Cols { batch: b, path };
            let ts = c.req::<TimestampMicrosecondType>("ts")?;
            let pid = c.req::<UInt32Type>("pid")?;
            let start = c.req::<TimestampMicrosecondType>("start_time")?;
            let name = c.str("name")?;
            let cpu = c.req::<Float32Type>("cpu_pct")?;
            for i in 0..b.num_rows() {
                let Some(k) = tick_of(ts.value(i), path)? else {
                    continue;
                };
                let name = name.get(i).ok_or_else(|| invalid(path, "a null name"))?;
                let row = (
                    cpu.value(i),
                    pid.value(i),
                    Timestamp::from_unix_micros(start.value(i)),
                );
                keep_busier_process(&mut process[k], row, name, ());
            }
        }
        let mut group: Vec<TopGroup<'_, ()>> = vec![None; ticks.len()];
        let path = &self.lists_paths.1;
        for b in names {
            let c = Cols { batch: b, path };
            let ts = c.req::<TimestampMicrosecondType>("ts")?;
            let name = c.str("name")?;
            let cpu = c.req::<Float32Type>("cpu_pct")?;
            for i in 0..b.num_rows() {
                let Some(k) = tick_of(ts.value(i), path)? else {
                    continue;
                };
                let name = name.get(i).ok_or_else(|| invalid(path, "a null name"))?;
                let top = process[k].map(|p| (p.3, p.0));
                keep_busier_group(&mut group[k], top, (name, cpu.value(i)), ());
            }
        }
        let busiest = (process.into_iter().zip(group))
            .map(|(p, g)| (p.map(|p| (p.0, p.1, p.2, p.3)), g.map(|g| (g.0, g.1))));
        Ok(busiest.collect())
    }

    /// The busiest process and group of each of the samples at `ticks` of a file before schema 5, as the row
    /// group's read found them (see [`Busiest`]).
    fn older_tops<'s>(
        &'s self,
        ticks: &[i64],
        b: &'s OlderBusiest,
    ) -> Result<Vec<Busiest<'s>>, Error> {
        let strs = |batches: &'s [RecordBatch], path: &'s Path| {
            batches
                .iter()
                .map(|batch| Cols { batch, path }.str("name"))
                .collect::<Result<Vec<_>, Error>>()
        };
        let (procs, names) = (
            strs(&b.procs, &self.lists_paths.0)?,
            strs(&b.names, &self.lists_paths.1)?,
        );
        let name_at = |cols: &[StrCol<'s>], (batch, row): (u32, u32), path: &Path| {
            cols.get(batch as usize)
                .and_then(|c| c.get(row as usize))
                .ok_or_else(|| invalid(path, "a null name"))
        };
        // The ticks are the row group's samples in the chunk, in order.
        let mut k = 0usize;
        let mut out = Vec::with_capacity(ticks.len());
        for &t in ticks {
            while b.times.get(k).is_some_and(|&x| x < t) {
                k += 1;
            }
            let Some((p, g)) = b.rows.get(k).filter(|_| b.times.get(k) == Some(&t)) else {
                return Err(invalid(
                    &self.path,
                    "a sample has no busiest process and group read",
                ));
            };
            let process = match p {
                Some((cpu, pid, start, at)) => Some((
                    *cpu,
                    *pid,
                    *start,
                    name_at(&procs, *at, &self.lists_paths.0)?,
                )),
                None => None,
            };
            let group = match g {
                Some((cpu, at)) => Some((*cpu, name_at(&names, *at, &self.lists_paths.1)?)),
                None => None,
            };
            out.push((process, group));
        }
        Ok(out)
    }

    /// The probes of each of the samples at `ticks`, in the order stored, gathered in `buf`.
    fn probes<'b>(
        &self,
        ticks: &[i64],
        buf: &'b mut ProbeBuffers,
    ) -> Result<TickProbes<'_, 'b>, Error> {
        let path = &self.latency_path;
        let mut targets: Vec<&str> = Vec::new();
        buf.rows.clear();
        buf.starts.clear();
        buf.starts.resize(ticks.len() + 1, 0);
        if let (Some(&first), Some(&last)) = (ticks.first(), ticks.last()) {
            let index = TickIndex::new(ticks);
            // Rows come in the order of their samples (then sorting is not needed).
            let mut in_order = true;
            // The last outcome read (its text's address, whether it has a status) and its kind: a dictionary
            // gives each row of one outcome the same text.
            let mut last_outcome: Option<((*const u8, usize, bool), OutcomeKind)> = None;
            for b in &self.probes {
                let c = Cols { batch: b, path };
                let ts = c.req::<TimestampMicrosecondType>("ts")?;
                let start = c.req::<TimestampMicrosecondType>("start_ts")?;
                let target = c.str("target")?;
                let outcome = c.str("outcome")?;
                let status = c.prim::<UInt16Type>("http_status")?;
                let total = c.prim::<Int64Type>("total_us")?;
                buf.rows.reserve(b.num_rows());
                for i in 0..b.num_rows() {
                    let t = ts.value(i);
                    if t < first || t > last {
                        continue;
                    }
                    let k = index.find(t).ok_or_else(|| {
                        invalid(
                            path,
                            format!(
                                "a row at {} has no sample in the samples table",
                                Timestamp::from_unix_micros(t)
                            ),
                        )
                    })?;
                    let name = outcome
                        .get(i)
                        .ok_or_else(|| invalid(path, "a null outcome"))?;
                    let key = (name.as_ptr(), name.len(), !status.is_null(i));
                    let kind = match last_outcome {
                        Some((k, kind)) if k == key => kind,
                        _ => {
                            let kind = OutcomeKind::from_parts(name, key.2)
                                .ok_or_else(|| bad_outcome(path, name))?;
                            last_outcome = Some((key, kind));
                            kind
                        }
                    };
                    let rtt_ms =
                        (kind.is_ok() && !total.is_null(i)).then(|| total.value(i) as f64 / 1000.0);
                    let target = target
                        .get(i)
                        .ok_or_else(|| invalid(path, "a null target"))?;
                    let at = match targets.iter().rposition(|x| *x == target) {
                        Some(at) => at,
                        None => {
                            targets.push(target);
                            targets.len() - 1
                        }
                    };
                    let point =
                        ProbePoint::new(Timestamp::from_unix_micros(start.value(i)), rtt_ms, kind);
                    in_order &= buf.rows.last().is_none_or(|r| r.0 as usize <= k);
                    buf.starts[k + 1] += 1;
                    buf.rows.push((k as u32, at as u32, point));
                }
            }
            if !in_order {
                // Stable: a sample's probes stay in the order stored.
                buf.rows.sort_by_key(|r| r.0);
            }
            for k in 0..ticks.len() {
                buf.starts[k + 1] += buf.starts[k];
            }
        }
        Ok(TickProbes { targets, buf })
    }
}

/// The `samples` columns of one batch that a series keeps.
struct SeriesCols<'a> {
    ts: &'a PrimitiveArray<TimestampMicrosecondType>,
    boot_time: &'a PrimitiveArray<TimestampMicrosecondType>,
    boot_id: StrCol<'a>,
    /// `None`: not read ([`SeriesRead::Detection`]), as the other `Option`s.
    utc: Option<&'a PrimitiveArray<Int32Type>>,
    interval: &'a PrimitiveArray<Int64Type>,
    busy: &'a Float32Array,
    cores: &'a ListArray,
    load: [Option<&'a Float32Array>; 3],
    mem: [Option<&'a PrimitiveArray<UInt64Type>>; 5],
    present: &'a BooleanArray,
    pressure: [Option<&'a Float32Array>; 5],
    oom: &'a PrimitiveArray<UInt64Type>,
    /// Schema 6 on: the busiest process and group.
    top: Option<TopCols<'a>>,
}

/// The `samples` columns of the busiest process and group (schema 6 on).
struct TopCols<'a> {
    pid: &'a PrimitiveArray<UInt32Type>,
    start: &'a PrimitiveArray<TimestampMicrosecondType>,
    name: StrCol<'a>,
    cpu: &'a Float32Array,
    group: StrCol<'a>,
    group_cpu: &'a Float32Array,
}

impl<'a> TopCols<'a> {
    fn new(c: &Cols<'a>) -> Result<Option<Self>, Error> {
        if c.batch.column_by_name(TOP_COLUMNS[0]).is_none() {
            return Ok(None);
        }
        Ok(Some(TopCols {
            pid: c.prim("top_process_pid")?,
            start: c.prim("top_process_start_time")?,
            name: c.str("top_process_name")?,
            cpu: c.prim("top_process_cpu_pct")?,
            group: c.str("top_group_name")?,
            group_cpu: c.prim("top_group_cpu_pct")?,
        }))
    }

    /// Row `i`'s busiest process (CPU, pid, start time, name) and group (CPU, name); a process with a null field
    /// is none.
    #[allow(clippy::type_complexity)]
    fn get(
        &self,
        i: usize,
    ) -> (
        Option<(f32, u32, Timestamp, &'a str)>,
        Option<(f32, &'a str)>,
    ) {
        let process = (!self.pid.is_null(i) && !self.start.is_null(i) && !self.cpu.is_null(i))
            .then(|| {
                self.name.get(i).map(|n| {
                    (
                        self.cpu.value(i),
                        self.pid.value(i),
                        Timestamp::from_unix_micros(self.start.value(i)),
                        n,
                    )
                })
            })
            .flatten();
        let group = (!self.group_cpu.is_null(i))
            .then(|| self.group.get(i).map(|n| (self.group_cpu.value(i), n)))
            .flatten();
        (process, group)
    }
}

impl TopCols<'_> {
    /// Appends rows `rows`' busiest processes and groups to `series`, a column at a time.
    fn extend(
        &self,
        rows: std::ops::Range<usize>,
        series: &mut SystemSeries,
        scratch: &mut ColumnScratch,
    ) {
        let (cpu, group_cpu, who) = (
            &mut scratch.f32s,
            &mut scratch.group_f32s,
            &mut scratch.u32s,
        );
        cpu.clear();
        group_cpu.clear();
        who.clear();
        let mut recent = series.busiest.who.last();
        for i in rows {
            let (process, group) = self.get(i);
            cpu.push(process.map_or(f32::NAN, |p| p.0));
            group_cpu.push(group.map_or(f32::NAN, |g| g.0));
            let k =
                series
                    .busiest
                    .intern(recent, process.map(|p| (p.1, p.2, p.3)), group.map(|g| g.1));
            recent = Some(k);
            who.push(k);
        }
        series.busiest.cpu_pct.extend_from_slice(cpu);
        series.busiest.group_cpu_pct.extend_from_slice(group_cpu);
        series.busiest.who.extend_from_slice(who);
    }
}

impl<'a> SeriesCols<'a> {
    fn new(batch: &'a RecordBatch, path: &'a Path, read: SeriesRead) -> Result<Self, Error> {
        let c = Cols { batch, path };
        // A column detection does not read is absent from its reads; any other is required.
        let unread = |name: &str| read == SeriesRead::Detection && NOT_DETECTION.contains(&name);
        let prim = |name: &str| match unread(name) {
            true => Ok(None),
            false => c.prim::<Float32Type>(name).map(Some),
        };
        let req = |name: &str| match unread(name) {
            true => Ok(None),
            false => c.req::<UInt64Type>(name).map(Some),
        };
        Ok(SeriesCols {
            ts: c.req("ts")?,
            boot_time: c.req("boot_time")?,
            boot_id: c.str("boot_id")?,
            utc: match unread("utc_offset_secs") {
                true => None,
                false => Some(c.prim("utc_offset_secs")?),
            },
            interval: c.prim("interval_us")?,
            busy: c.req("cpu_busy_pct")?,
            cores: c
                .col("core_busy_pct")?
                .as_list_opt::<i32>()
                .ok_or_else(|| invalid(path, "core_busy_pct is not a list"))?,
            load: [prim("load_1m")?, prim("load_5m")?, prim("load_15m")?],
            mem: [
                req("mem_total_bytes")?,
                req("mem_used_bytes")?,
                req("mem_available_bytes")?,
                req("swap_total_bytes")?,
                req("swap_used_bytes")?,
            ],
            present: c.bool("pressure_present")?,
            pressure: [
                prim("pressure_cpu_some_pct")?,
                prim("pressure_memory_some_pct")?,
                prim("pressure_memory_full_pct")?,
                prim("pressure_io_some_pct")?,
                prim("pressure_io_full_pct")?,
            ],
            oom: c.prim("oom_kill_count")?,
            top: TopCols::new(&c)?,
        })
    }

    /// Appends rows `rows`' system values to `series` (not their probes), a column at a time.
    fn extend(
        &self,
        rows: std::ops::Range<usize>,
        series: &mut SystemSeries,
        scratch: &mut ColumnScratch,
    ) {
        let r = rows;
        series.ts.extend(
            self.ts.values()[r.clone()]
                .iter()
                .map(|t| Timestamp::from_unix_micros(*t)),
        );
        let u64s = &mut scratch.u64s;
        u64s.clear();
        u64s.extend(r.clone().map(|i| {
            if self.interval.is_null(i) {
                0
            } else {
                u64::try_from(self.interval.value(i)).unwrap_or(0)
            }
        }));
        series.interval_us.extend_from_slice(u64s);
        series
            .cpu_busy_pct
            .extend_from_slice(&self.busy.values()[r.clone()]);
        for &v in u64_rows(r.clone(), self.mem[0], &mut scratch.u64s) {
            series.mem_total_bytes.push(v);
        }
        series.mem_used_bytes.extend_from_slice(u64_rows(
            r.clone(),
            self.mem[1],
            &mut scratch.u64s,
        ));
        series.mem_available_bytes.extend_from_slice(u64_rows(
            r.clone(),
            self.mem[2],
            &mut scratch.u64s,
        ));
        for &v in u64_rows(r.clone(), self.mem[3], &mut scratch.u64s) {
            series.swap_total_bytes.push(v);
        }
        series.swap_used_bytes.extend_from_slice(u64_rows(
            r.clone(),
            self.mem[4],
            &mut scratch.u64s,
        ));
        for (col, a) in series.load.iter_mut().zip(&self.load) {
            extend_floats(col, *a, r.clone(), None, &mut scratch.f32s);
        }
        let has_pressure = |i: usize| !self.present.is_null(i) && self.present.value(i);
        // Pressure read at every row (the usual case): no row to blank.
        let everywhere = r.clone().all(has_pressure);
        for (col, a) in series.pressure_pct.iter_mut().zip(&self.pressure) {
            let kept: Option<&dyn Fn(usize) -> bool> = (!everywhere).then_some(&has_pressure);
            extend_floats(col, *a, r.clone(), kept, &mut scratch.f32s);
        }
        // The columns that rarely change, as runs: at once where the rows all hold one value (the usual case), else
        // row by row.
        let n = r.len();
        match everywhere {
            true => series.pressure_present.push_n(true, n),
            false => r
                .clone()
                .for_each(|i| series.pressure_present.push(has_pressure(i))),
        }
        match all_same(self.oom, r.clone()) {
            Some(v) => series.oom_kill_count.push_n(v, n),
            None => r
                .clone()
                .for_each(|i| series.oom_kill_count.push(opt(self.oom, i))),
        }
        let boot_time = |v: i64| Timestamp::from_unix_micros(v);
        match all_same(self.boot_time, r.clone()) {
            Some(Some(v)) => series.boot_time.push_n(boot_time(v), n),
            _ => r.clone().for_each(|i| {
                series.boot_time.push(boot_time(self.boot_time.value(i)));
            }),
        }
        match self.boot_id.same_over(r.clone()) {
            Some(id) => series.push_boot_ids(id, n),
            None => r
                .clone()
                .for_each(|i| series.push_boot_id(self.boot_id.get(i))),
        }
        match self.utc.map(|u| (u, all_same(u, r.clone()))) {
            None => series.utc_offset_secs.push_n(None, n),
            Some((_, Some(v))) => series.utc_offset_secs.push_n(v, n),
            Some((u, None)) => r
                .clone()
                .for_each(|i| series.utc_offset_secs.push(opt(u, i))),
        }
        let cores = |len: i32| u16::try_from(len).unwrap_or(u16::MAX);
        let offsets = self
            .cores
            .value_offsets()
            .get(r.start..=r.end)
            .unwrap_or(&[]);
        match offsets {
            [a, b, ..] if offsets.windows(2).all(|w| w[1] - w[0] == b - a) => {
                series.cores.push_n(cores(b - a), n);
            }
            _ => r
                .clone()
                .for_each(|i| series.cores.push(cores(self.cores.value_length(i)))),
        }
    }
}

/// The value of every row of `rows` of `a`, where they all hold the same (`Some(None)`: all null); `None`
/// otherwise, or for no rows.
fn all_same<T: ArrowPrimitiveType>(
    a: &PrimitiveArray<T>,
    rows: std::ops::Range<usize>,
) -> Option<Option<T::Native>> {
    let values = a.values().get(rows)?;
    let first = *values.first()?;
    match a.null_count() {
        0 => values.iter().all(|v| *v == first).then_some(Some(first)),
        n if n == a.len() => Some(None),
        _ => None,
    }
}

/// Rows `rows` of `a`, or as many zeros (gathered in `unread`) where the column was not read.
fn u64_rows<'c>(
    rows: std::ops::Range<usize>,
    a: Option<&'c PrimitiveArray<UInt64Type>>,
    unread: &'c mut Vec<u64>,
) -> &'c [u64] {
    match a {
        Some(a) => &a.values()[rows],
        None => {
            unread.clear();
            unread.resize(rows.len(), 0);
            unread
        }
    }
}

/// Appends rows `rows` of `a` to `col`, `NaN` where null or where `kept` (if given) is false (every row where
/// the column was not read); straight from the column where it has no nulls and every row is kept.
fn extend_floats(
    col: &mut Packed<f32>,
    a: Option<&Float32Array>,
    rows: std::ops::Range<usize>,
    kept: Option<&dyn Fn(usize) -> bool>,
    scratch: &mut Vec<f32>,
) {
    let Some(a) = a else {
        scratch.clear();
        scratch.resize(rows.len(), f32::NAN);
        col.extend_from_slice(scratch);
        return;
    };
    if kept.is_none() && a.null_count() == 0 {
        col.extend_from_slice(&a.values()[rows]);
        return;
    }
    scratch.clear();
    scratch.extend(rows.map(|i| {
        if kept.is_none_or(|k| k(i)) && !a.is_null(i) {
            a.value(i)
        } else {
            f32::NAN
        }
    }));
    col.extend_from_slice(scratch);
}

/// Moves the journal's samples before `at` into `series` (those it already has left out) and drops one at `at`,
/// which the segment's sample replaces.
fn push_journal_before(at: Timestamp, journal: &mut JournalQueue, series: &mut SystemSeries) {
    while let Some(t) = journal.front_ts().filter(|t| *t <= at) {
        if t < at && series.ts.last().is_none_or(|l| *l < t) {
            if let Some(j) = journal.pop() {
                series.push(&j);
            }
        } else {
            journal.drop_front();
        }
    }
}

/// A row group's samples (of a file older than schema 5, decoded whole) gathered as the `samples` columns a series
/// reads ([`SERIES_COLUMNS`]), each value as the sample holds it: [`push`](Self::push) each, then
/// [`batch`](Self::batch).
struct SeriesRows {
    ts: Vec<i64>,
    boot_time: Vec<i64>,
    boot_id: StringBuilder,
    utc_offset_secs: Vec<Option<i32>>,
    interval_us: Vec<Option<i64>>,
    cpu_busy_pct: Vec<f32>,
    core_busy_pct: Vec<f32>,
    /// Where each sample's cores end in `core_busy_pct`.
    core_ends: Vec<i32>,
    load: [Vec<Option<f32>>; 3],
    /// Memory total, used and available, swap total and used.
    bytes: [Vec<u64>; 5],
    pressure_present: Vec<bool>,
    /// CPU some, memory some and full, I/O some and full.
    pressure: [Vec<Option<f32>>; 5],
    oom_kill_count: Vec<Option<u64>>,
}

impl SeriesRows {
    /// Room for `n` samples of a few cores.
    fn with_capacity(n: usize) -> Self {
        let f32s = || Vec::with_capacity(n);
        SeriesRows {
            ts: Vec::with_capacity(n),
            boot_time: Vec::with_capacity(n),
            boot_id: StringBuilder::with_capacity(n, 0),
            utc_offset_secs: Vec::with_capacity(n),
            interval_us: Vec::with_capacity(n),
            cpu_busy_pct: Vec::with_capacity(n),
            core_busy_pct: Vec::with_capacity(4 * n),
            core_ends: Vec::with_capacity(n),
            load: [f32s(), f32s(), f32s()],
            bytes: std::array::from_fn(|_| Vec::with_capacity(n)),
            pressure_present: Vec::with_capacity(n),
            pressure: std::array::from_fn(|_| Vec::with_capacity(n)),
            oom_kill_count: Vec::with_capacity(n),
        }
    }

    /// Appends a sample's values.
    fn push(&mut self, s: &Sample) {
        self.ts.push(s.ts.as_unix_micros());
        self.boot_time.push(s.boot_time.as_unix_micros());
        self.boot_id.append_option(s.boot_id.as_deref());
        self.utc_offset_secs.push(s.utc_offset_secs);
        self.interval_us
            .push(i64::try_from(s.interval.as_micros()).ok());
        self.cpu_busy_pct.push(s.cpu.busy_pct);
        self.core_busy_pct
            .extend(s.per_core.iter().map(|c| c.busy_pct));
        self.core_ends
            .push(i32::try_from(self.core_busy_pct.len()).unwrap_or(i32::MAX));
        let load = s.load.as_ref();
        for (col, get) in self.load.iter_mut().zip([
            |l: &LoadAvg| l.one,
            |l: &LoadAvg| l.five,
            |l: &LoadAvg| l.fifteen,
        ]) {
            col.push(load.map(get));
        }
        for (col, v) in self.bytes.iter_mut().zip(s.memory.byte_counts()) {
            col.push(v);
        }
        self.pressure_present.push(s.pressure.is_some());
        let p = s.pressure.as_ref();
        for (col, get) in self.pressure.iter_mut().zip([
            |p: &Pressure| p.cpu_some_pct,
            |p: &Pressure| p.memory_some_pct,
            |p: &Pressure| p.memory_full_pct,
            |p: &Pressure| p.io_some_pct,
            |p: &Pressure| p.io_full_pct,
        ]) {
            col.push(p.and_then(get));
        }
        self.oom_kill_count.push(s.oom_kill_count);
    }

    /// The samples pushed as one batch.
    fn batch(self, path: &Path) -> Result<RecordBatch, Error> {
        let f32s = |v: Vec<Option<f32>>| -> ArrayRef { Arc::new(Float32Array::from(v)) };
        let times = |v: Vec<i64>| -> ArrayRef {
            Arc::new(PrimitiveArray::<TimestampMicrosecondType>::from(v))
        };
        let [total, used, available, swap_total, swap_used] = self
            .bytes
            .map(|v| Arc::new(UInt64Array::from(v)) as ArrayRef);
        let [load_1m, load_5m, load_15m] = self.load.map(f32s);
        let [cpu_some, memory_some, memory_full, io_some, io_full] = self.pressure.map(f32s);
        let ends = std::iter::once(0).chain(self.core_ends);
        let offsets = OffsetBuffer::new(ScalarBuffer::from_iter(ends));
        let cores = ListArray::try_new(
            Arc::new(Field::new_list_field(DataType::Float32, true)),
            offsets,
            Arc::new(Float32Array::from(self.core_busy_pct)),
            None,
        )
        .map_err(arrow(path))?;
        let mut boot_id = self.boot_id;
        let columns: Vec<(&str, ArrayRef)> = vec![
            ("ts", times(self.ts)),
            ("boot_time", times(self.boot_time)),
            ("boot_id", Arc::new(boot_id.finish())),
            (
                "utc_offset_secs",
                Arc::new(PrimitiveArray::<Int32Type>::from(self.utc_offset_secs)),
            ),
            (
                "interval_us",
                Arc::new(PrimitiveArray::<Int64Type>::from(self.interval_us)),
            ),
            (
                "cpu_busy_pct",
                Arc::new(Float32Array::from(self.cpu_busy_pct)),
            ),
            ("core_busy_pct", Arc::new(cores)),
            ("load_1m", load_1m),
            ("load_5m", load_5m),
            ("load_15m", load_15m),
            ("mem_total_bytes", total),
            ("mem_used_bytes", used),
            ("mem_available_bytes", available),
            ("swap_total_bytes", swap_total),
            ("swap_used_bytes", swap_used),
            (
                "pressure_present",
                Arc::new(BooleanArray::from(self.pressure_present)),
            ),
            ("pressure_cpu_some_pct", cpu_some),
            ("pressure_memory_some_pct", memory_some),
            ("pressure_memory_full_pct", memory_full),
            ("pressure_io_some_pct", io_some),
            ("pressure_io_full_pct", io_full),
            (
                "oom_kill_count",
                Arc::new(PrimitiveArray::<UInt64Type>::from(self.oom_kill_count)),
            ),
        ];
        RecordBatch::try_from_iter(columns).map_err(arrow(path))
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use stabmon_core::series::SampleParts;

    /// Columns of `secs` seconds.
    struct Columns(i64);

    impl MomentColumns for Columns {
        fn column(&self, ts: Timestamp) -> i64 {
            ts.as_unix_micros().div_euclid(self.0 * 1_000_000)
        }
        fn parts(&self) -> SampleParts {
            SampleParts::PROCESSES
        }
    }

    /// Row groups' moments, each the busiest of its column within its row group and trimmed of its system values,
    /// are merged into the busiest of each column by the series' values: a column across two row groups takes the
    /// busier (the first of equals), and a sample the series does not have is left out.
    #[test]
    fn moments_across_row_groups_are_the_busiest_of_their_column_by_the_series_values() {
        let busy = [5.0, 7.0, 1.0, 9.0, 2.0, 2.0, 9.0, 3.0, 8.0, 1.0];
        let mut series = SystemSeries::new("h");
        for (i, b) in busy.iter().enumerate() {
            let mut s = Sample::new(Timestamp::from_unix_secs(i as i64), "h");
            s.cpu.busy_pct = *b;
            series.push(&s);
        }
        let m = Columns(4);
        // Row groups 0-2, 3-6 and 7-9 (and a sample at 20 s the series does not have): their columns' busiest.
        let local = [1, 3, 6, 7, 8, 20];
        let candidates = local
            .iter()
            .map(|&t| {
                let mut s = Sample::new(Timestamp::from_unix_secs(t), "");
                m.parts().trim(&mut s);
                s
            })
            .collect();
        let got: Vec<i64> = moments_of(candidates, &series, &m)
            .iter()
            .map(|s| {
                assert_eq!(s.host, "h");
                s.ts.as_unix_micros() / 1_000_000
            })
            .collect();
        // Column 0 (0-3 s): 9 at 3 s over 7 at 1 s. Column 1 (4-7 s): 9 at 6 s over 3 at 7 s. Column 2: 8 at 8 s.
        assert_eq!(got, [3, 6, 8]);
    }
}
