//! A row group of schemas 1-4 as today's columns: those files leave out values that other rows give (an interval
//! from the row before, a name's total from its lone process row or from its previous row) and store CPU as
//! decimals with ULP adjustments and sizes in KiB with remainders, so the row group is read whole, its samples
//! decoded, and its process and name rows' CPU and memory derived in the order stored. `top` takes them as
//! `cpu_pct` (Float32) and `rss_bytes` (UInt64) columns beside the file's own (shared, not copied), as it takes
//! later schemas' columns; a series takes only each sample's busiest process and group, found as the rows are
//! derived. No entry or string is built per row.

use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use arrow_array::types::{TimestampMicrosecondType, UInt32Type};
use arrow_array::{ArrayRef, Float32Array, RecordBatch, UInt64Array};
use arrow_schema::{DataType, Field, Schema};
use stabmon_core::series::{MomentColumns, SampleParts, busiest_of_each_column};
use stabmon_core::{NameTotal, ProcessEntry, Sample, Timestamp};

use super::cols::Cols;
use super::names::{LastValues, NO_ROW, NameValues, name_total};
use super::processes::{DETAILS, Fill, Lone, LoneValues, VALUE_COLUMNS, ValueCols, fill_processes};
use super::range::Range;
use super::samples::{TICK_COLUMNS, decode_samples, each_sample, each_tick};
use super::segment::{order_lists, samples_of_rows};
use super::series::{TopGroup, TopProcess, keep_busier_group, keep_busier_process};
use super::table::TableFile;
use crate::error::{Error, arrow, invalid};

/// A row group of a file older than schema 5, read by [`read_older`].
pub(super) struct Older {
    /// With [`Keep::Columns`], the process rows of its samples: the columns asked for, then `cpu_pct` and
    /// `rss_bytes` (with [`Keep::Busiest`], none).
    pub(super) processes: Vec<RecordBatch>,
    /// Their name rows likewise, the values the file left out derived.
    pub(super) names: Vec<RecordBatch>,
    /// The hover moments asked for, built whole: of each pixel column, the busiest sample of the row group in
    /// range, with the moments' parts (see [`MomentColumns`]); in time order, their host left empty.
    pub(super) moments: Vec<Sample>,
    /// With [`Keep::Busiest`] (and both tables), each sample's busiest process and group.
    pub(super) busiest: Option<OlderBusiest>,
}

/// What [`read_older`] keeps of the process and name rows.
#[derive(Clone, Copy)]
pub(super) enum Keep<'k> {
    /// These columns (processes', names'), with the values derived: [`Older::processes`] and [`Older::names`].
    Columns(&'k [&'k str], &'k [&'k str]),
    /// Only each sample's busiest process and group, found as the rows are read ([`Older::busiest`]): no rows
    /// are kept.
    Busiest,
}

/// Where a row is among the batches read: (batch, row).
type RowAt = (u32, u32);

/// A process row's CPU %, pid and start time, and where its name is in [`OlderBusiest::procs`].
type BusiestProcess = (f32, u32, Timestamp, RowAt);

/// A name row's CPU %, and where its name is in [`OlderBusiest::names`].
type BusiestGroup = (f32, RowAt);

/// Each sample's busiest process and busiest group of a row group older than schema 5 ([`Keep::Busiest`]), as
/// [`TopProcesses::busiest_process`](stabmon_core::TopProcesses::busiest_process) and
/// [`TopProcesses::busiest_group`](stabmon_core::TopProcesses::busiest_group) give them of the whole lists.
pub(super) struct OlderBusiest {
    /// The time of each sample of the row group, in order.
    pub(super) times: Vec<i64>,
    /// By sample: its busiest process and its busiest group.
    pub(super) rows: Vec<(Option<BusiestProcess>, Option<BusiestGroup>)>,
    /// The process rows' `name` columns, by batch.
    pub(super) procs: Vec<RecordBatch>,
    /// The name rows' `name` columns, by batch.
    pub(super) names: Vec<RecordBatch>,
}

/// The parts of a sample [`read_older`] can build hover moments with.
const MOMENT_PARTS: SampleParts = SampleParts::SYSTEM
    .union(SampleParts::PER_CORE)
    .union(SampleParts::PROCESSES)
    .union(SampleParts::CMDLINE)
    .union(SampleParts::USER)
    .union(SampleParts::CGROUP)
    .union(SampleParts::NAMES);

/// What [`read_older`] hands over of each sample: every row, in order (the range asked for may cut it).
pub(super) enum Rows<'e> {
    /// The sample, with its system values and cores but not its lists.
    Samples(&'e mut dyn FnMut(&Sample) -> Result<(), Error>),
    /// Its time, interval and names list's bound (`name_cpu_nth_pct`): only those are decoded.
    Ticks(&'e mut dyn FnMut(i64, Duration, f32) -> Result<(), Error>),
}

/// Reads row group `group` of `tables` (`samples`, and `processes` and `names` where the segment has them: without
/// them, no rows) of a file older than schema 5 whole: hands each of its samples to `rows`, and keeps of the
/// process and name rows what `keep` asks for; `None` where the part of the row group in `chunk` holds no sample
/// (`rows` may have been given its samples). With `moments`
/// (and both tables, whole samples, and parts it can build), also builds those samples whole: their lists from
/// the process and name rows already read, the samples themselves decoded again (only those rows), so that the
/// page does not read the row group again for them.
pub(super) fn read_older(
    tables: (&TableFile, Option<&TableFile>, Option<&TableFile>),
    group: usize,
    chunk: Range,
    keep: Keep<'_>,
    moments: Option<&dyn MomentColumns>,
    rows: Rows<'_>,
) -> Result<Option<Older>, Error> {
    let (samples_file, procs, names) = tables;
    let moments = moments.filter(|m| {
        procs.is_some()
            && names.is_some()
            && MOMENT_PARTS.contains(m.parts())
            && matches!(rows, Rows::Samples(_))
    });
    let version = samples_file.version;
    let path = &samples_file.path;
    let columns = match rows {
        Rows::Samples(_) => None,
        Rows::Ticks(_) => Some(&TICK_COLUMNS[..]),
    };
    let batches = samples_file.read(&[group], chunk, None, columns)?;
    // Each row's time, and its CPU busy where moments are picked by it.
    let n: usize = batches.iter().map(RecordBatch::num_rows).sum();
    let mut times = Vec::with_capacity(n);
    let mut busy = Vec::with_capacity(if moments.is_some() { n } else { 0 });
    match rows {
        Rows::Samples(each) => each_sample(&batches, version, path, &mut |s| {
            times.push(s.ts.as_unix_micros());
            if moments.is_some() {
                busy.push(s.cpu.busy_pct);
            }
            each(s)
        })?,
        Rows::Ticks(each) => each_tick(&batches, version, path, &mut |t, interval, nth| {
            times.push(t);
            each(t, interval, nth)
        })?,
    }
    if !times.iter().any(|t| chunk.contains(*t)) {
        return Ok(None);
    }
    let (Some(&first), Some(&last)) = (times.first(), times.last()) else {
        return Ok(None);
    };
    if !times.windows(2).all(|w| w[0] < w[1]) {
        return Err(invalid(
            path,
            "timestamps do not increase within the segment",
        ));
    }
    let whole = Range {
        from: Some(Timestamp::from_unix_micros(first)),
        // Unbounded after a last row at the last representable time.
        to: last.checked_add(1).map(Timestamp::from_unix_micros),
    };
    // The moments' samples (decoded again whole, with how their lists' ranks are stored), and their lists as the
    // rows are read.
    let picked = match moments {
        Some(m) => busiest_per_column(&times, &busy, chunk, m),
        None => Vec::new(),
    };
    let (mut picked_samples, mut lens) = (Vec::new(), Vec::new());
    if let Some(m) = moments {
        let at: Vec<i64> = (times.iter().zip(&picked))
            .filter(|(_, p)| **p)
            .map(|(t, _)| *t)
            .collect();
        decode_samples(
            &batches,
            version,
            "",
            path,
            SampleParts::SYSTEM.union(m.parts()),
            &|t| at.binary_search(&t).is_ok(),
            (&mut Vec::new(), &mut picked_samples),
            &mut lens,
        )?;
    }
    drop(batches);
    let mut proc_lists: Vec<Vec<(Option<u16>, ProcessEntry)>> = Vec::new();
    let mut name_lists: Vec<Vec<(Option<u16>, NameTotal)>> = Vec::new();
    if moments.is_some() {
        proc_lists = vec![Vec::new(); times.len()];
        name_lists = vec![Vec::new(); times.len()];
    }
    let mut no_lists: [Vec<()>; 0] = [];
    let (mut proc_batches, mut name_batches) = (Vec::new(), Vec::new());
    let (keep_procs, keep_names) = match keep {
        Keep::Columns(p, n) => (Some(p), Some(n)),
        Keep::Busiest => (None, None),
    };
    // With `Keep::Busiest`, each sample's busiest process and group so far, with where each is.
    let mut top_process: Vec<TopProcess<'_, RowAt>> = Vec::new();
    let mut top_group: Vec<TopGroup<'_, RowAt>> = Vec::new();
    if keep_procs.is_none() {
        top_process = vec![None; times.len()];
        top_group = vec![None; times.len()];
    }
    // Each process row's values by sample, for the name totals that are their lone process's (no rows without
    // the table).
    let mut lone = LoneValues::with_rows(&[], times.len(), &samples_file.path);
    // The process rows' batches outlive their read: the lone process values names derive from point into them.
    let mut proc_read = Vec::new();
    if let Some(t) = procs {
        let path = &t.path;
        // Where moments are built, the columns their processes are read from too.
        let mut columns: Vec<&str> = keep_procs
            .unwrap_or(&BUSIEST_PROCESS_COLUMNS)
            .iter()
            .chain(&["name"])
            .chain(&VALUE_COLUMNS)
            .copied()
            .collect();
        if let Some(m) = moments {
            columns.extend(MOMENT_COLUMNS);
            let details = DETAILS.iter().filter(|(part, _)| m.parts().contains(*part));
            columns.extend(details.map(|(_, column)| *column));
        }
        proc_read = t.read(&t.groups_in(whole), whole, None, Some(&columns))?;
        let rows_at = samples_of_rows(&proc_read, &times, whole, &[], &mut no_lists, path)?;
        lone = LoneValues::with_rows(&rows_at, times.len(), path);
        for (b, (batch, rows_at)) in (0u32..).zip(proc_read.iter().zip(&rows_at)) {
            let c = Cols { batch, path };
            let values = ValueCols::new(&c, version)?;
            let name = c.str("name")?;
            let identity = match keep_procs {
                Some(_) => None,
                None => Some((
                    c.req::<UInt32Type>("pid")?,
                    c.req::<TimestampMicrosecondType>("start_time")?,
                )),
            };
            let mut derived = keep_procs.map(|_| Derived::with_capacity(rows_at.len()));
            for (i, at) in (0u32..).zip(rows_at) {
                let Some(at) = *at else {
                    Derived::push_to(&mut derived, 0.0, 0);
                    continue;
                };
                let (cpu_pct, rss_bytes, _) = values.row(i as usize, path)?;
                let n = name
                    .get(i as usize)
                    .ok_or_else(|| invalid(path, "a null name"))?;
                lone.place(at, n, Lone::Values(cpu_pct, rss_bytes));
                Derived::push_to(&mut derived, cpu_pct, rss_bytes);
                if let (Some((pid, start)), Some(top)) = (identity, top_process.get_mut(at)) {
                    let row = (
                        cpu_pct,
                        pid.value(i as usize),
                        Timestamp::from_unix_micros(start.value(i as usize)),
                    );
                    keep_busier_process(top, row, n, (b, i));
                }
            }
            if let (Some(kept), Some(d)) = (keep_procs, derived) {
                proc_batches.push(d.beside(batch, kept, path)?);
            }
        }
        if let Some(m) = moments.filter(|m| m.parts().contains(SampleParts::PROCESSES)) {
            let fill = Fill {
                rows_at: &rows_at,
                kept: &picked,
            };
            fill_processes(
                &proc_read,
                version,
                path,
                m.parts(),
                &fill,
                &mut proc_lists,
                false,
            )?;
        }
    }
    let mut name_read = Vec::new();
    if let Some(t) = names {
        let path = &t.path;
        let columns: Vec<&str> = keep_names
            .unwrap_or(&[])
            .iter()
            .chain(&["name", "process_count"])
            .chain(&VALUE_COLUMNS)
            .copied()
            .collect();
        name_read = t.read(&t.groups_in(whole), whole, None, Some(&columns))?;
        let rows_at = samples_of_rows(&name_read, &times, whole, &[], &mut no_lists, path)?;
        let listed = moments.is_some_and(|m| m.parts().contains(SampleParts::NAMES));
        let mut last = LastValues::default();
        let mut row = NO_ROW;
        for (b, (batch, rows_at)) in (0u32..).zip(name_read.iter().zip(&rows_at)) {
            let c = Cols { batch, path };
            let mut values = NameValues::new(&c, version)?;
            let mut derived = keep_names.map(|_| Derived::with_capacity(rows_at.len()));
            for (i, at) in (0u32..).zip(rows_at) {
                let Some(at) = *at else {
                    Derived::push_to(&mut derived, 0.0, 0);
                    continue;
                };
                values.row((i as usize, at), Some(&lone), &mut last, path, &mut row)?;
                Derived::push_to(&mut derived, row.2, row.3);
                if let Some(group) = top_group.get_mut(at) {
                    let top = top_process.get(at).copied().flatten().map(|p| (p.3, p.0));
                    keep_busier_group(group, top, (row.0, row.2), (b, i));
                }
                if listed && picked.get(at).copied().unwrap_or(false) {
                    name_lists[at].push(name_total(row, None, i as usize, path)?);
                }
            }
            if let (Some(kept), Some(d)) = (keep_names, derived) {
                name_batches.push(d.beside(batch, kept, path)?);
            }
        }
    }
    drop(lone);
    let busiest = match (keep, procs, names) {
        (Keep::Busiest, Some(_), Some(_)) => {
            let rows = (top_process.into_iter().zip(top_group))
                .map(|(p, g)| (p.map(|p| (p.0, p.1, p.2, p.4)), g.map(|g| (g.0, g.2))))
                .collect();
            // Only their names are kept of the rows.
            let names_of = |batches: Vec<RecordBatch>| {
                let project = |b: &RecordBatch| {
                    let k = b.schema().index_of("name").map_err(arrow(path))?;
                    b.project(&[k]).map_err(arrow(path))
                };
                batches
                    .iter()
                    .map(project)
                    .collect::<Result<Vec<_>, Error>>()
            };
            Some(OlderBusiest {
                times,
                rows,
                procs: names_of(proc_read)?,
                names: names_of(name_read)?,
            })
        }
        _ => None,
    };
    let mut built = Vec::new();
    if let (Some(m), Some(p), Some(n)) = (moments, procs, names) {
        let files = [path.clone(), p.path.clone(), n.path.clone()];
        let lists = (proc_lists.into_iter().zip(name_lists).zip(&picked))
            .filter(|(_, picked)| **picked)
            .map(|(lists, _)| lists);
        for ((mut s, (p, n)), lens) in picked_samples.into_iter().zip(lists).zip(lens) {
            order_lists(&mut s, p, n, lens, &files)?;
            m.parts().trim(&mut s);
            built.push(s);
        }
    }
    Ok(Some(Older {
        processes: proc_batches,
        names: name_batches,
        moments: built,
        busiest,
    }))
}

/// The `processes` columns each sample's busiest process is found from besides its name and [`VALUE_COLUMNS`].
const BUSIEST_PROCESS_COLUMNS: [&str; 3] = ["ts", "pid", "start_time"];

/// The `processes` columns a moment's processes are read from besides [`VALUE_COLUMNS`] and the [`DETAILS`] its
/// parts keep (see [`fill_processes`]).
const MOMENT_COLUMNS: [&str; 8] = [
    "ts",
    "pid",
    "start_time",
    "parent_pid",
    "name",
    "children_cpu_pct",
    "virtual_kib",
    "virtual_bytes",
];

/// Of each pixel column, the sample in `chunk` with the highest machine CPU busy % (`busy`, by sample at `times`;
/// the first of equals), as [`MomentColumns`] picks them: one flag per sample.
fn busiest_per_column(
    times: &[i64],
    busy: &[f32],
    chunk: Range,
    m: &dyn MomentColumns,
) -> Vec<bool> {
    let mut picked = vec![false; times.len()];
    let inside: Vec<usize> = (0..times.len())
        .filter(|&i| chunk.contains(times[i]))
        .collect();
    let values = inside.iter().map(|&i| {
        let busy = busy.get(i).copied().unwrap_or(f32::NAN);
        (m.column(Timestamp::from_unix_micros(times[i])), busy)
    });
    for k in busiest_of_each_column(values) {
        picked[inside[k]] = true;
    }
    picked
}

/// The CPU % and resident bytes derived for a batch's rows (0 for a row of no sample read).
struct Derived {
    cpu: Vec<f32>,
    rss: Vec<u64>,
}

impl Derived {
    fn with_capacity(n: usize) -> Self {
        Derived {
            cpu: Vec::with_capacity(n),
            rss: Vec::with_capacity(n),
        }
    }

    /// Adds a row's values where rows are kept.
    fn push_to(derived: &mut Option<Self>, cpu_pct: f32, rss_bytes: u64) {
        if let Some(d) = derived {
            d.cpu.push(cpu_pct);
            d.rss.push(rss_bytes);
        }
    }

    /// `batch`'s columns `kept`, then `cpu_pct` and `rss_bytes` of these values.
    fn beside(self, batch: &RecordBatch, kept: &[&str], path: &Path) -> Result<RecordBatch, Error> {
        let schema = batch.schema();
        let mut fields = Vec::with_capacity(kept.len() + 2);
        let mut columns: Vec<ArrayRef> = Vec::with_capacity(kept.len() + 2);
        for name in kept {
            let (k, field) = schema
                .column_with_name(name)
                .ok_or_else(|| invalid(path, format!("the column {name} is missing")))?;
            fields.push(field.clone());
            columns.push(batch.column(k).clone());
        }
        fields.push(Field::new("cpu_pct", DataType::Float32, false));
        columns.push(Arc::new(Float32Array::from(self.cpu)));
        fields.push(Field::new("rss_bytes", DataType::UInt64, false));
        columns.push(Arc::new(UInt64Array::from(self.rss)));
        RecordBatch::try_new(Arc::new(Schema::new(fields)), columns).map_err(arrow(path))
    }
}
