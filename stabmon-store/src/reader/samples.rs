//! The `samples` table: one [`Sample`] per row, without its lists and probes.

use std::path::Path;
use std::time::Duration;

use arrow_array::types::{
    Int32Type, Int64Type, TimestampMicrosecondType, UInt16Type, UInt32Type, UInt64Type,
};
use arrow_array::{Array, BooleanArray, ListArray, PrimitiveArray, RecordBatch};
use stabmon_core::series::SampleParts;
use stabmon_core::{CpuUsage, LoadAvg, Memory, Pressure, Sample, Timestamp};

use crate::error::{Error, invalid};
use crate::pct;

use super::cols::{ByteCount, Cols, PctValues, StrCol, decimal_pct, duration, opt};
use super::exact::SampleExactCols;
use super::range::Range;
use super::ranges::Objects;
use super::table::{Columns, read_table};

/// How the ranks of a sample's four lists (process CPU and memory, name CPU and memory) are stored.
pub(super) type ListLens = [ListLen; 4];

/// How one list's ranks are stored.
#[derive(Clone, Copy)]
pub(super) enum ListLen {
    /// Versions 1-2: the list's length (its ranks derive from the values), `None` where the rows hold them.
    Stored(Option<u16>),
    /// Version 3: ranks derive from the values unless a row holds one in `exact`; the length is this where the
    /// sample stores it, else the rule's (`ranks::rule_lens`).
    Rule(Option<u16>),
}

/// The percentage columns, in the order of `ulp_adj` (see the crate docs).
const PCT_COLUMNS: [&str; 15] = [
    "cpu_busy_pct",
    "cpu_user_pct",
    "cpu_system_pct",
    "cpu_iowait_pct",
    "cpu_steal_pct",
    "load_1m",
    "load_5m",
    "load_15m",
    "pressure_cpu_some_pct",
    "pressure_memory_some_pct",
    "pressure_memory_full_pct",
    "pressure_io_some_pct",
    "pressure_io_full_pct",
    "cpu_nth_pct",
    "name_cpu_nth_pct",
];

/// The place of `name_cpu_nth_pct` in [`PCT_COLUMNS`].
const NAME_CPU_NTH: usize = 14;

/// The per-core percentage lists: busy, user, system, iowait, steal.
const CORE_COLUMNS: [&str; 5] = [
    "core_busy_pct",
    "core_user_pct",
    "core_system_pct",
    "core_iowait_pct",
    "core_steal_pct",
];

/// The columns of the exits counted and the kernel's drops (schema 7 on).
const EXIT_COLUMNS: [&str; 2] = ["exit_count", "exit_dropped"];

/// The byte-count columns, in the order of `kib_rem`'s positions (see the crate docs), and whether each is
/// required.
const BYTE_COLUMNS: [(&str, bool); 7] = [
    ("mem_total", true),
    ("mem_used", false),
    ("mem_available", true),
    ("swap_total", true),
    ("swap_used", true),
    ("rss_nth", true),
    ("name_rss_nth", true),
];

/// The columns of one batch of the `samples` table, of any schema version.
struct SampleCols<'a> {
    ts: &'a PrimitiveArray<TimestampMicrosecondType>,
    boot_time: &'a PrimitiveArray<TimestampMicrosecondType>,
    boot_id: StrCol<'a>,
    timezone: StrCol<'a>,
    utc_offset: &'a PrimitiveArray<Int32Type>,
    interval: &'a PrimitiveArray<Int64Type>,
    lateness: &'a PrimitiveArray<Int64Type>,
    pcts: Vec<PctValues<'a>>,
    /// `None` where the cores are not read.
    cores: Option<[(&'a ListArray, PctValues<'a>); 5]>,
    bytes: Vec<ByteCount<'a>>,
    exact: SampleExactCols<'a>,
    process_count: &'a PrimitiveArray<UInt32Type>,
    /// Versions 1-2 (schema 3 on marks empty pressure in `exact`).
    pressure_present: Option<&'a BooleanArray>,
    oom: &'a PrimitiveArray<UInt64Type>,
    top_n: &'a PrimitiveArray<UInt16Type>,
    /// Versions 1-2 store the lists' lengths; version 3 derives them (see `ranks::rule_lens`).
    lens: Option<[&'a PrimitiveArray<UInt16Type>; 4]>,
    /// Version 7 on: exits counted and kernel drops.
    exits: ExitCols<'a>,
}

/// The exits counted and the kernel's drops (schema 7 on; `None` before, or where not read).
type ExitCols<'a> = Option<(
    &'a PrimitiveArray<UInt32Type>,
    &'a PrimitiveArray<UInt32Type>,
)>;

/// The exit columns of a batch, where it has them.
fn exit_cols<'a>(c: &Cols<'a>) -> Result<ExitCols<'a>, Error> {
    Ok(match c.opt_prim::<UInt32Type>(EXIT_COLUMNS[0])? {
        Some(count) => Some((count, c.prim::<UInt32Type>(EXIT_COLUMNS[1])?)),
        None => None,
    })
}

/// Row `i`'s exits (without their names and processes), where counted.
fn exits_at(cols: ExitCols<'_>, i: usize) -> Option<stabmon_core::Exits> {
    let (count, dropped) = cols?;
    let n = opt(count, i)?;
    let mut e = stabmon_core::Exits::default();
    e.count = n;
    e.dropped = opt(dropped, i).unwrap_or(0);
    Some(e)
}

impl<'a> SampleCols<'a> {
    /// `with_cores`: the per-core lists are read (always before schema 5, whose machine values may derive from
    /// them).
    fn new(c: &Cols<'a>, version: u32, with_cores: bool) -> Result<Self, Error> {
        let mut pcts = Vec::with_capacity(PCT_COLUMNS.len());
        for name in PCT_COLUMNS {
            pcts.push(c.pct_values(name)?);
        }
        let cores = match with_cores || version < 5 {
            true => Some([
                c.pct_list(CORE_COLUMNS[0])?,
                c.pct_list(CORE_COLUMNS[1])?,
                c.pct_list(CORE_COLUMNS[2])?,
                c.pct_list(CORE_COLUMNS[3])?,
                c.pct_list(CORE_COLUMNS[4])?,
            ]),
            false => None,
        };
        let exact = SampleExactCols::new(c, version)?;
        let mut bytes = Vec::with_capacity(BYTE_COLUMNS.len());
        for (name, required) in BYTE_COLUMNS {
            bytes.push(c.byte_count(name, required)?);
        }
        let lens = match c.batch.column_by_name("cpu_list_len") {
            None => None,
            Some(_) => Some([
                c.prim::<UInt16Type>("cpu_list_len")?,
                c.prim::<UInt16Type>("rss_list_len")?,
                c.prim::<UInt16Type>("name_cpu_list_len")?,
                c.prim::<UInt16Type>("name_rss_list_len")?,
            ]),
        };
        Ok(SampleCols {
            ts: c.req::<TimestampMicrosecondType>("ts")?,
            boot_time: c.req::<TimestampMicrosecondType>("boot_time")?,
            boot_id: c.str("boot_id")?,
            timezone: c.str("timezone")?,
            utc_offset: c.prim::<Int32Type>("utc_offset_secs")?,
            interval: c.prim::<Int64Type>("interval_us")?,
            lateness: c.req::<Int64Type>("lateness_us")?,
            pcts,
            cores,
            process_count: c.req::<UInt32Type>("process_count")?,
            pressure_present: match exact.has_exact() {
                true => None,
                false => Some(c.bool("pressure_present")?),
            },
            exact,
            bytes,
            oom: c.prim::<UInt64Type>("oom_kill_count")?,
            top_n: c.req::<UInt16Type>("top_n")?,
            lens,
            exits: exit_cols(c)?,
        })
    }
}

/// Reads the `samples` table's rows in the row groups that `range` (and `only`) select: every row's time into
/// `out.0` (in range or not: the other tables' rows may derive values from them, see `read_segment`), the rows at
/// the times `wanted` gives as samples into `out.1`, and how their list ranks are stored into `lens_out`; gives
/// the file's schema version. Of schema 5 and later only the columns of `parts` are decoded (the time always); the
/// parts not read are as [`Sample::new`] leaves them.
#[allow(clippy::too_many_arguments)]
pub(super) fn read_samples(
    path: &Path,
    objects: Objects<'_>,
    host: &str,
    range: Range,
    only: Option<&[i64]>,
    parts: SampleParts,
    wanted: &dyn Fn(i64) -> bool,
    out: (&mut Vec<i64>, &mut Vec<Sample>),
    lens_out: &mut Vec<ListLens>,
) -> Result<u32, Error> {
    let (system, cores, exits) = (
        parts.contains(SampleParts::SYSTEM),
        parts.contains(SampleParts::PER_CORE),
        parts.contains(SampleParts::EXITS),
    );
    let mut left_out: Vec<&str> = Vec::new();
    if !cores {
        left_out.extend(CORE_COLUMNS);
    }
    if !exits {
        left_out.extend(EXIT_COLUMNS);
    }
    let times_only = !system && !cores;
    let columns = match times_only {
        true if exits => Columns::Only(&["ts", "exit_count", "exit_dropped"]),
        true => Columns::Only(&["ts"]),
        false => Columns::Without(&left_out),
    };
    let (version, batches) = read_table(path, objects, "samples", range, only, columns)?;
    decode_samples(&batches, version, host, path, parts, wanted, out, lens_out)?;
    Ok(version)
}

/// The rows of `batches` (a `samples` file's whole row groups, in order, of schema `version`): each row's time into
/// `out.0`, and the rows at the times `wanted` gives as samples into `out.1` with how their list ranks are stored
/// into `lens_out` (see [`read_samples`]).
#[allow(clippy::too_many_arguments)]
pub(super) fn decode_samples(
    batches: &[RecordBatch],
    version: u32,
    host: &str,
    path: &Path,
    parts: SampleParts,
    wanted: &dyn Fn(i64) -> bool,
    out: (&mut Vec<i64>, &mut Vec<Sample>),
    lens_out: &mut Vec<ListLens>,
) -> Result<(), Error> {
    let (times, out) = out;
    let (system, cores, exits) = (
        parts.contains(SampleParts::SYSTEM),
        parts.contains(SampleParts::PER_CORE),
        parts.contains(SampleParts::EXITS),
    );
    let times_only = !system && !cores;
    // The previous row's (ts, lateness), for intervals left out; rows of one row group may span batches.
    let mut prev_reading = None;
    let mut adj = Vec::new();
    for batch in batches {
        let c = Cols { batch, path };
        if times_only && version >= 5 {
            let ts = c.req::<TimestampMicrosecondType>("ts")?;
            let exits = if exits { exit_cols(&c)? } else { None };
            for i in 0..batch.num_rows() {
                times.push(ts.value(i));
                if !wanted(ts.value(i)) {
                    continue;
                }
                let mut s = Sample::new(Timestamp::from_unix_micros(ts.value(i)), host);
                s.exits = exits_at(exits, i);
                out.push(s);
                lens_out.push([ListLen::Stored(None); 4]);
            }
            continue;
        }
        let cols = SampleCols::new(&c, version, cores)?;
        for i in 0..batch.num_rows() {
            let t = cols.ts.value(i);
            times.push(t);
            if !wanted(t) {
                // Only what the next row's interval may derive from.
                prev_reading = Some((t, cols.lateness.value(i)));
                continue;
            }
            let mut s = Sample::new(Timestamp::from_unix_micros(t), host);
            let stored_lens =
                fill_sample(&cols, i, version, &mut prev_reading, &mut s, &mut adj, path)?;
            out.push(s);
            lens_out.push(match &cols.lens {
                Some(l) => l.map(|l| ListLen::Stored(opt(l, i))),
                // Schema 5: every row holds its ranks.
                None if version >= 5 => [ListLen::Stored(None); 4],
                None => stored_lens.map(ListLen::Rule),
            });
        }
    }
    Ok(())
}

/// Decodes every row of `batches` (a `samples` file's whole row groups, in order, of schema `version`) with its
/// system values and cores, and hands each to `each` in order: one sample is filled row after row, its strings'
/// and cores' buffers kept (what a series read takes of each row is a few values).
pub(super) fn each_sample(
    batches: &[RecordBatch],
    version: u32,
    path: &Path,
    each: &mut dyn FnMut(&Sample) -> Result<(), Error>,
) -> Result<(), Error> {
    let mut prev_reading = None;
    let (mut s, mut adj) = (Sample::new(Timestamp::from_unix_micros(0), ""), Vec::new());
    for batch in batches {
        let cols = SampleCols::new(&Cols { batch, path }, version, true)?;
        for i in 0..batch.num_rows() {
            fill_sample(&cols, i, version, &mut prev_reading, &mut s, &mut adj, path)?;
            each(&s)?;
        }
    }
    Ok(())
}

/// Sets `s` to row `i` (but its host, lists and probes: a sample may be filled row after row, its strings' and
/// cores' buffers kept), and gives the list lengths the row's exactness values store. `adj` is a buffer for the
/// row's ULP adjustments.
fn fill_sample(
    cols: &SampleCols<'_>,
    i: usize,
    version: u32,
    prev_reading: &mut Option<(i64, i64)>,
    s: &mut Sample,
    adj: &mut Vec<i32>,
    path: &Path,
) -> Result<[Option<u16>; 4], Error> {
    s.ts = Timestamp::from_unix_micros(cols.ts.value(i));
    s.boot_time = Timestamp::from_unix_micros(cols.boot_time.value(i));
    set_str(&mut s.boot_id, cols.boot_id.get(i));
    set_str(&mut s.timezone, cols.timezone.get(i));
    s.utc_offset_secs = opt(cols.utc_offset, i);
    s.interval = row_interval(
        (cols.ts, cols.lateness, cols.interval),
        i,
        prev_reading,
        path,
    )?;
    s.lateness = duration(cols.lateness.value(i), path, "lateness")?;
    let ranges = match &cols.cores {
        Some(cores) => Some(core_ranges(cores, i, path)?),
        None => None,
    };
    let n_cores = ranges.map_or(0, |r| r[0].1 - r[0].0);
    let x = cols
        .exact
        .row(i, cols.pcts.len() + 5 * n_cores, adj, path)?;
    let mut v = [None; PCT_COLUMNS.len()];
    for (k, ((a, name), v)) in cols.pcts.iter().zip(PCT_COLUMNS).zip(&mut v).enumerate() {
        *v = decimal_pct(*a, i, adj[k], path, name)?;
    }
    s.per_core.clear();
    s.per_core.reserve(n_cores);
    if let (Some(cores), Some(ranges)) = (&cols.cores, &ranges) {
        per_core(
            cores,
            ranges,
            &adj[cols.pcts.len()..],
            &mut s.per_core,
            path,
        )?;
    }
    s.cpu = machine_cpu(&v, &s.per_core, version == 4, x.machine_absent, path)?;
    s.load = match (v[5], v[6], v[7]) {
        (Some(a), Some(b), Some(c)) => Some(LoadAvg::new(a, b, c)),
        (None, None, None) => None,
        _ => return Err(invalid(path, "load_1m/5m/15m are partly null")),
    };
    let mut stored = [None; 7];
    for (k, v) in stored.iter_mut().enumerate() {
        *v = cols.bytes[k].get(i, x.rems[k], path)?;
    }
    let bytes = stored.map(|v| v.unwrap_or(0));
    s.memory = memory(stored);
    s.process_count = cols.process_count.value(i);
    let present = match cols.pressure_present {
        Some(col) if col.is_null(i) => {
            return Err(invalid(path, "the column pressure_present has nulls"));
        }
        Some(col) => col.value(i),
        // Schema 3: present where a value is, or where `exact` marks it present and empty.
        None => x.pressure_empty || v[8..13].iter().any(Option::is_some),
    };
    s.pressure = present.then(|| pressure(&v[8..13]));
    s.oom_kill_count = opt(cols.oom, i);
    let req = |x: Option<f32>, name: &str| {
        x.ok_or_else(|| invalid(path, format!("the column {name} has nulls")))
    };
    s.top.n = cols.top_n.value(i);
    s.top.cpu_nth_pct = req(v[13], "cpu_nth_pct")?;
    s.top.rss_nth_bytes = bytes[5];
    s.top.name_cpu_nth_pct = req(v[NAME_CPU_NTH], "name_cpu_nth_pct")?;
    s.top.name_rss_nth_bytes = bytes[6];
    s.exits = exits_at(cols.exits, i);
    Ok(x.stored_lens)
}

/// Row `i`'s interval from the columns `ts`, `lateness_us` and `interval_us`: null where it is the time between the
/// previous row's reading (`prev_reading`, then set to this row's) and this one's (always in the same row group,
/// which is read whole) in schemas 2-4: see `derived_interval`.
fn row_interval(
    (ts, lateness, interval): (
        &PrimitiveArray<TimestampMicrosecondType>,
        &PrimitiveArray<Int64Type>,
        &PrimitiveArray<Int64Type>,
    ),
    i: usize,
    prev_reading: &mut Option<(i64, i64)>,
    path: &Path,
) -> Result<Duration, Error> {
    let this = (ts.value(i), lateness.value(i));
    let interval_us = match opt(interval, i) {
        Some(us) => us,
        None => prev_reading
            .and_then(|p| derived_interval(p, this))
            .ok_or_else(|| invalid(path, "interval_us is null where it cannot be derived"))?,
    };
    *prev_reading = Some(this);
    duration(interval_us, path, "interval")
}

/// The `samples` columns [`each_tick`] reads.
pub(super) const TICK_COLUMNS: [&str; 7] = [
    "ts",
    "interval_us",
    "lateness_us",
    "name_cpu_nth_pct",
    "exact",
    "ulp_adj",
    "name_cpu_nth_pct_ulp_adj",
];

/// Hands `each` every row of `batches` (a `samples` file's whole row groups, in order, of schema `version`, read
/// with at least [`TICK_COLUMNS`]) as its time, interval and names list's bound (`name_cpu_nth_pct`): only those
/// values are decoded and checked.
pub(super) fn each_tick(
    batches: &[RecordBatch],
    version: u32,
    path: &Path,
    each: &mut dyn FnMut(i64, Duration, f32) -> Result<(), Error>,
) -> Result<(), Error> {
    let mut prev_reading = None;
    for batch in batches {
        let c = Cols { batch, path };
        let ts = c.req::<TimestampMicrosecondType>("ts")?;
        let cols = (
            ts,
            c.req::<Int64Type>("lateness_us")?,
            c.prim::<Int64Type>("interval_us")?,
        );
        let nth = c.pct_values(PCT_COLUMNS[NAME_CPU_NTH])?;
        let exact = SampleExactCols::new(&c, version)?;
        for i in 0..batch.num_rows() {
            let interval = row_interval(cols, i, &mut prev_reading, path)?;
            let adj = exact.adj_of(i, NAME_CPU_NTH, path)?;
            let nth = decimal_pct(nth, i, adj, path, PCT_COLUMNS[NAME_CPU_NTH])?
                .ok_or_else(|| invalid(path, "the column name_cpu_nth_pct has nulls"))?;
            each(ts.value(i), interval, nth)?;
        }
    }
    Ok(())
}

/// Sets a sample's string to `v`, in the buffer it has.
fn set_str(s: &mut Option<String>, v: Option<&str>) {
    match (s.as_mut(), v) {
        (Some(s), Some(v)) => {
            s.clear();
            s.push_str(v);
        }
        (_, v) => *s = v.map(str::to_owned),
    }
}

/// The bounds of row `i`'s entries in each per-core list, checked to be there and of one length.
fn core_ranges(
    cores: &[(&ListArray, PctValues<'_>); 5],
    i: usize,
    path: &Path,
) -> Result<[(usize, usize); 5], Error> {
    let range_of = |l: &ListArray| {
        if l.is_null(i) {
            None
        } else {
            let o = l.value_offsets();
            usize::try_from(o[i])
                .ok()
                .zip(usize::try_from(o[i + 1]).ok())
        }
    };
    let ranges = cores.map(|c| range_of(c.0));
    let Some((start, end)) = ranges[0] else {
        return Err(invalid(path, "core_busy_pct has a null list"));
    };
    let n_cores = end - start;
    let mut out = [(0, 0); 5];
    for (slot, r) in out.iter_mut().zip(ranges) {
        match r {
            Some((a, b)) if b - a == n_cores => *slot = (a, b),
            _ => return Err(invalid(path, "the core_* lists of a row differ in length")),
        }
    }
    Ok(out)
}

/// The cores' CPU shares, with each core's ULP adjustments (5 per core) in `adj`, appended to `out`. A core's null busy share is its
/// user + system + steal (`pct::busy_from_parts`).
fn per_core(
    cores: &[(&ListArray, PctValues<'_>); 5],
    ranges: &[(usize, usize); 5],
    adj: &[i32],
    out: &mut Vec<CpuUsage>,
    path: &Path,
) -> Result<(), Error> {
    let n_cores = ranges[0].1 - ranges[0].0;
    for k in 0..n_cores {
        let mut f = [None; 5];
        for (j, slot) in f.iter_mut().enumerate() {
            let at = ranges[j].0 + k;
            *slot = decimal_pct(cores[j].1, at, adj[5 * k + j], path, CORE_COLUMNS[j])?;
        }
        let derived = f[0].or_else(|| pct::busy_from_parts(f[1], f[2], f[4]));
        let mut cu = CpuUsage::new(busy(derived, "core_busy_pct", path)?);
        cu.user_pct = f[1];
        cu.system_pct = f[2];
        cu.iowait_pct = f[3];
        cu.steal_pct = f[4];
        out.push(cu);
    }
    Ok(())
}

/// The whole machine's CPU from the row's percentages `v` (in [`PCT_COLUMNS`] order). A null busy share derives
/// from the parts; in schema 4 (`machine_derived`) a null part derives from the cores' unless `machine_absent`
/// marks it unknown.
fn machine_cpu(
    v: &[Option<f32>],
    per_core: &[CpuUsage],
    machine_derived: bool,
    machine_absent: i32,
    path: &Path,
) -> Result<CpuUsage, Error> {
    let mut parts = [v[1], v[2], v[3], v[4]];
    let machine_busy = if machine_derived {
        for (k, (part, get)) in parts.iter_mut().zip(pct::MACHINE_PARTS).enumerate() {
            if part.is_none() && machine_absent & (1 << k) == 0 {
                *part = pct::machine_part(per_core, get);
            }
        }
        v[0].or_else(|| pct::machine_busy(per_core, [parts[0], parts[1], parts[3]]))
    } else {
        v[0].or_else(|| pct::busy_from_parts(parts[0], parts[1], parts[3]))
    };
    let mut cpu = CpuUsage::new(busy(machine_busy, "cpu_busy_pct", path)?);
    [cpu.user_pct, cpu.system_pct, cpu.iowait_pct, cpu.steal_pct] = parts;
    Ok(cpu)
}

/// A busy share, stored or derived, must be there.
fn busy(b: Option<f32>, name: &str, path: &Path) -> Result<f32, Error> {
    b.ok_or_else(|| invalid(path, format!("{name} is null where it cannot be derived")))
}

/// Memory and swap from the byte counts (in [`BYTE_COLUMNS`] order). Null used memory is total minus available
/// (what `Memory::new` derives).
fn memory(stored: [Option<u64>; 7]) -> Memory {
    let bytes = stored.map(|v| v.unwrap_or(0));
    let mut m = Memory::new(bytes[0], bytes[2]);
    if let Some(used) = stored[1] {
        m.used_bytes = used;
    }
    m.swap_total_bytes = bytes[3];
    m.swap_used_bytes = bytes[4];
    m
}

/// Pressure stalls from the five pressure percentages: CPU some, memory some and full, I/O some and full.
fn pressure(v: &[Option<f32>]) -> Pressure {
    let mut p = Pressure::default();
    p.cpu_some_pct = v[0];
    p.memory_some_pct = v[1];
    p.memory_full_pct = v[2];
    p.io_some_pct = v[3];
    p.io_full_pct = v[4];
    p
}

/// (Schemas 2-4.) `(ts - ts') + (lateness - lateness')` in microseconds, from the row before (`prev`) to this
/// one: the interval of a row that stores none.
fn derived_interval(prev: (i64, i64), this: (i64, i64)) -> Option<i64> {
    this.0
        .checked_sub(prev.0)?
        .checked_add(this.1.checked_sub(prev.1)?)
        .filter(|d| *d >= 0)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use crate::reader::table::{Columns, Strings, TableFile};

    /// The `samples` files of the committed fixtures of schemas 1-4.
    fn older_fixtures() -> Vec<std::path::PathBuf> {
        let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures");
        let mut out = Vec::new();
        let mut dirs = vec![root];
        while let Some(d) = dirs.pop() {
            for e in std::fs::read_dir(&d).unwrap() {
                let p = e.unwrap().path();
                let name = p.to_string_lossy().into_owned();
                if p.is_dir() {
                    dirs.push(p);
                } else if name.contains("/samples/") && name.ends_with(".parquet") {
                    out.push(p);
                }
            }
        }
        out.sort();
        out
    }

    /// A row's time, interval and names list's bound read alone (`each_tick`, from its columns only) are those of
    /// the whole sample, bit for bit: the fixtures hold the bound's ULP adjustments in `ulp_adj` (schema 2) and
    /// `exact` (schemas 3-4), and intervals left out.
    #[test]
    fn ticks_are_the_whole_samples_values() {
        let mut adjusted = 0;
        let mut older = 0;
        for path in older_fixtures() {
            let (version, whole) = read_table(
                &path,
                Default::default(),
                "samples",
                Range::ALL,
                None,
                Columns::All,
            )
            .unwrap();
            if version >= 5 {
                continue;
            }
            older += 1;
            let mut want = Vec::new();
            each_sample(&whole, version, &path, &mut |s| {
                want.push((
                    s.ts.as_unix_micros(),
                    s.interval,
                    s.top.name_cpu_nth_pct.to_bits(),
                ));
                Ok(())
            })
            .unwrap();
            // As `read_older` reads them: those columns alone.
            let file = TableFile::open(&path, Default::default(), Some("samples"), Strings::Plain)
                .unwrap();
            let groups = file.groups_in(Range::ALL);
            let ticks = file
                .read(&groups, Range::ALL, None, Some(&TICK_COLUMNS))
                .unwrap();
            assert!(ticks[0].num_columns() < whole[0].num_columns());
            let mut got = Vec::new();
            each_tick(&ticks, version, &path, &mut |t, interval, nth| {
                got.push((t, interval, nth.to_bits()));
                Ok(())
            })
            .unwrap();
            assert_eq!(got, want, "{}", path.display());
            // Values off the 0.01 grid: an adjustment was applied.
            adjusted += got
                .iter()
                .filter(|g| {
                    let v = f32::from_bits(g.2);
                    pct::grid(pct::encode(v).0).to_bits() != g.2
                })
                .count();
        }
        assert!(older >= 4, "{older} files of schemas 1-4");
        assert!(adjusted > 0, "no adjusted bound in the fixtures");
    }
}
