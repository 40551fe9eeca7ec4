//! The `processes` table: the process rows of each sample.

use std::path::Path;

use arrow_array::types::{TimestampMicrosecondType, UInt16Type, UInt32Type};
use arrow_array::{PrimitiveArray, RecordBatch};
use stabmon_core::series::SampleParts;
use stabmon_core::{ProcessEntry, Timestamp};

use crate::error::{Error, invalid};
use crate::schema::PROCESS_EXACT_SLOTS;

use super::cols::{ByteCount, Cols, PctValues, decimal_pct, opt};
use super::exact::{ExactSlots, slot_rem, slot_u16};
use super::range::Range;
use super::ranges::Objects;
use super::table::{Columns, read_table};

/// The `cpu_rank` and `rss_rank` columns of schema 5 (`None` for older files, which derive ranks or keep them in
/// exactness slots).
pub(super) type RankCols<'a> = (
    &'a PrimitiveArray<UInt16Type>,
    &'a PrimitiveArray<UInt16Type>,
);

pub(super) fn rank_columns<'a>(c: &Cols<'a>, version: u32) -> Result<Option<RankCols<'a>>, Error> {
    if version < 5 {
        return Ok(None);
    }
    Ok(Some((
        c.prim::<UInt16Type>("cpu_rank")?,
        c.prim::<UInt16Type>("rss_rank")?,
    )))
}

/// The string columns a read may leave out, with the part that keeps each.
pub(super) const DETAILS: [(SampleParts, &str); 3] = [
    (SampleParts::CMDLINE, "cmdline"),
    (SampleParts::USER, "user"),
    (SampleParts::CGROUP, "cgroup"),
];

/// The `processes` rows a read may need, in the row groups `range` selects (at `only`, of schema 5 on): of every
/// schema without the command lines, users or cgroups that `parts` leaves out (not decoded).
pub(super) fn read_processes(
    path: &Path,
    objects: Objects<'_>,
    range: Range,
    only: Option<&[i64]>,
    parts: SampleParts,
) -> Result<(u32, Vec<RecordBatch>), Error> {
    let left_out: Vec<&str> = DETAILS
        .iter()
        .filter(|(part, _)| !parts.contains(*part))
        .map(|(_, column)| *column)
        .collect();
    read_table(
        path,
        objects,
        "processes",
        range,
        only,
        Columns::Without(&left_out),
    )
}

/// What is made of a sample's rows: see [`fill_processes`].
pub(super) struct Fill<'r> {
    /// For each batch, each row's sample (`None`: not one read).
    pub(super) rows_at: &'r [Vec<Option<usize>>],
    /// The samples whose lists are wanted (the others' rows are only read for the values names derive).
    pub(super) kept: &'r [bool],
}

/// Appends the process rows of each kept sample to its list. Where `values` is set (files
/// before schema 5, whose name totals may be their lone process's values), also gives every row's name by sample
/// with its CPU and resident bytes (of a row not kept, where to read them).
pub(super) fn fill_processes<'b>(
    batches: &'b [RecordBatch],
    version: u32,
    path: &'b Path,
    parts: SampleParts,
    fill: &Fill<'_>,
    lists: &mut [Vec<(Option<u16>, ProcessEntry)>],
    values: bool,
) -> Result<Option<LoneValues<'b>>, Error> {
    let read = |part: SampleParts| parts.contains(part);
    let mut lone = values.then(|| LoneValues::with_rows(fill.rows_at, lists.len(), path));
    let mut value_cols = Vec::with_capacity(batches.len());
    for (b, (batch, rows_at)) in batches.iter().zip(fill.rows_at).enumerate() {
        let c = Cols { batch, path };
        let pid = c.req::<UInt32Type>("pid")?;
        let start = c.req::<TimestampMicrosecondType>("start_time")?;
        let ppid = c.prim::<UInt32Type>("parent_pid")?;
        let name = c.str("name")?;
        let cmdline = match read(SampleParts::CMDLINE) {
            true => Some(c.str("cmdline")?),
            false => None,
        };
        let user = match read(SampleParts::USER) {
            true => Some(c.str("user")?),
            false => None,
        };
        let values_of = ValueCols::new(&c, version)?;
        let child = c.pct_values("children_cpu_pct")?;
        let vsz = c.byte_count("virtual", true)?;
        let ranks = rank_columns(&c, version)?;
        // Schema 7 on: the cgroup (the unit is derived from it again).
        let cgroup = if version >= 7 && read(SampleParts::CGROUP) {
            Some(c.str("cgroup")?)
        } else {
            None
        };
        for (i, at) in rows_at.iter().enumerate() {
            let Some(at) = *at else { continue };
            let wanted = fill.kept.get(at).copied().unwrap_or(false);
            if !wanted && !values {
                continue;
            }
            let row_name = name.get(i).ok_or_else(|| invalid(path, "a null name"))?;
            if !wanted {
                // Its values are read only if a name total turns out to be them.
                let row = (u32::try_from(b), u32::try_from(i));
                let (Ok(b), Ok(i)) = row else {
                    return Err(invalid(path, "too many rows"));
                };
                if let Some(l) = &mut lone {
                    l.place(at, row_name, Lone::Row(b, i));
                }
                continue;
            }
            let (cpu_pct, rss_bytes, x) = values_of.row(i, path)?;
            if let Some(l) = &mut lone {
                l.place(at, row_name, Lone::Values(cpu_pct, rss_bytes));
            }
            let start_time = Timestamp::from_unix_micros(start.value(i));
            let mut p = ProcessEntry::new(pid.value(i), row_name);
            p.parent_pid = opt(ppid, i);
            p.cmdline = cmdline.as_ref().and_then(|c| c.get(i)).map(str::to_owned);
            p.user = user.as_ref().and_then(|c| c.get(i)).map(str::to_owned);
            p.cgroup = cgroup.as_ref().and_then(|c| c.get(i)).map(str::to_owned);
            p.cpu_pct = cpu_pct;
            p.children_cpu_pct =
                decimal_pct(child, i, x[1].unwrap_or(0), path, "children_cpu_pct")?;
            p.rss_bytes = rss_bytes;
            p.virtual_bytes = vsz.get(i, slot_rem(x[6], path)?, path)?.unwrap_or(0);
            p.start_time = start_time;
            (p.cpu_rank, p.rss_rank) = match ranks {
                Some((cpu, rss)) => (opt(cpu, i), opt(rss, i)),
                None => (slot_u16(x[2], path)?, slot_u16(x[3], path)?),
            };
            lists[at].push((slot_u16(x[4], path)?, p));
        }
        value_cols.push(values_of);
    }
    Ok(lone.map(|l| l.with_cols(value_cols)))
}

/// The columns a process row's or a name row's values are read from, of every schema ([`ValueCols`],
/// [`NameValues`](super::names::NameValues)), and the time.
pub(super) const VALUE_COLUMNS: [&str; 11] = [
    "cpu_pct",
    "rss_kib",
    "rss_bytes",
    "exact",
    "kib_rem",
    "cpu_pct_ulp_adj",
    "children_cpu_pct_ulp_adj",
    "cpu_rank_explicit",
    "rss_rank_explicit",
    "list_pos",
    "ts",
];

/// The columns of a batch of `processes` or `names` that give each row's CPU % and resident bytes, of any schema
/// (before schema 5 decimals and KiB, with their exactness values, `N` slots).
pub(super) struct ValueCols<'a, const N: usize = PROCESS_EXACT_SLOTS> {
    cpu: PctValues<'a>,
    rss: ByteCount<'a>,
    exact: ExactSlots<'a, N>,
    /// The slot of the resident bytes' remainder below 1 KiB.
    rem_slot: usize,
}

impl<'a> ValueCols<'a> {
    /// Of a batch of `processes`.
    pub(super) fn new(c: &Cols<'a>, version: u32) -> Result<Self, Error> {
        // Slots: CPU and children's CPU adjustments, CPU and memory ranks, list position, two remainders.
        let old = [
            ("cpu_pct_ulp_adj", true),
            ("children_cpu_pct_ulp_adj", true),
            ("cpu_rank_explicit", false),
            ("rss_rank_explicit", false),
            ("list_pos", false),
        ];
        ValueCols::of(c, version, true, &old, 5)
    }

    /// Row `i`'s CPU % and resident bytes (both required), and its exactness slots.
    #[allow(clippy::type_complexity)]
    pub(super) fn row(
        &self,
        i: usize,
        path: &Path,
    ) -> Result<(f32, u64, [Option<i32>; PROCESS_EXACT_SLOTS]), Error> {
        let (cpu_pct, rss_bytes, x) = self.row_stored(i, path)?;
        let cpu_pct = cpu_pct.ok_or_else(|| invalid(path, "the column cpu_pct has nulls"))?;
        Ok((cpu_pct, rss_bytes.unwrap_or(0), x))
    }
}

impl<'a, const N: usize> ValueCols<'a, N> {
    /// `old`: the version 1-2 columns of the slots before the remainders' (see [`ExactSlots::new`]); slot 0 is
    /// the CPU's ULP adjustment, `rem_slot` the resident bytes' remainder.
    pub(super) fn of(
        c: &Cols<'a>,
        version: u32,
        rss_required: bool,
        old: &[(&str, bool)],
        rem_slot: usize,
    ) -> Result<Self, Error> {
        Ok(ValueCols {
            cpu: c.pct_values("cpu_pct")?,
            rss: c.byte_count("rss", rss_required)?,
            exact: ExactSlots::new(c, version, old)?,
            rem_slot,
        })
    }

    /// Row `i`'s CPU % and resident bytes as stored (`None` where null), and its exactness slots.
    #[allow(clippy::type_complexity)]
    #[inline(always)]
    pub(super) fn row_stored(
        &self,
        i: usize,
        path: &Path,
    ) -> Result<(Option<f32>, Option<u64>, [Option<i32>; N]), Error> {
        let x = self.exact.row(i, path)?;
        let cpu_pct = decimal_pct(self.cpu, i, x[0].unwrap_or(0), path, "cpu_pct")?;
        let rem = slot_rem(x.get(self.rem_slot).copied().flatten(), path)?;
        let rss_bytes = self.rss.get(i, rem, path)?;
        Ok((cpu_pct, rss_bytes, x))
    }
}

/// Every process row's name and CPU % and resident bytes (or where to read them), by sample (see
/// [`fill_processes`]).
pub(super) struct LoneValues<'b> {
    /// Where each sample's rows start in `rows` (one more entry than samples).
    starts: Vec<usize>,
    /// Where each sample's next row is placed.
    next: Vec<usize>,
    rows: Vec<(&'b str, Lone)>,
    /// The batches' columns a [`Lone::Row`] is read from.
    cols: Vec<ValueCols<'b>>,
    path: &'b Path,
}

/// A process row's CPU % and resident bytes, or where to read them.
#[derive(Clone, Copy)]
pub(super) enum Lone {
    Values(f32, u64),
    /// (batch, row) in [`LoneValues`]'s columns.
    Row(u32, u32),
}

impl<'b> LoneValues<'b> {
    /// Room for the rows that `rows_at` (each batch's rows' samples, of `samples`) puts with a sample, each to be
    /// [placed](Self::place) in the order read (a counting sort: the rows of a file before schema 5 run by process,
    /// then time, and each sample's keep their order). `path` reads a [`Lone::Row`] from the
    /// [columns](Self::with_cols).
    pub(super) fn with_rows(
        rows_at: &[Vec<Option<usize>>],
        samples: usize,
        path: &'b Path,
    ) -> Self {
        let mut starts = vec![0usize; samples + 1];
        for &at in rows_at.iter().flatten().flatten() {
            if let Some(n) = starts.get_mut(at + 1) {
                *n += 1;
            }
        }
        for k in 0..samples {
            starts[k + 1] += starts[k];
        }
        LoneValues {
            next: starts[..samples].to_vec(),
            rows: vec![("", Lone::Row(0, 0)); starts[samples]],
            starts,
            cols: Vec::new(),
            path,
        }
    }

    /// Puts a row of sample `at` after the sample's rows placed before it.
    #[inline]
    pub(super) fn place(&mut self, at: usize, name: &'b str, lone: Lone) {
        if let Some(slot) = self.next.get_mut(at)
            && let Some(row) = self.rows.get_mut(*slot)
        {
            *row = (name, lone);
            *slot += 1;
        }
    }

    /// With the batches' columns a [`Lone::Row`] is read from.
    pub(super) fn with_cols(mut self, cols: Vec<ValueCols<'b>>) -> Self {
        self.cols = cols;
        self
    }

    /// The CPU % and resident bytes of sample `at`'s single row named `name`; `None` where it has no such row or
    /// several.
    pub(super) fn lone(&self, at: usize, name: &str) -> Result<Option<(f32, u64)>, Error> {
        let (Some(&a), Some(&b)) = (self.starts.get(at), self.starts.get(at + 1)) else {
            return Ok(None);
        };
        let mut it = self
            .rows
            .get(a..b)
            .unwrap_or(&[])
            .iter()
            .filter(|r| r.0 == name);
        let (Some(r), None) = (it.next(), it.next()) else {
            return Ok(None);
        };
        match r.1 {
            Lone::Values(cpu_pct, rss_bytes) => Ok(Some((cpu_pct, rss_bytes))),
            Lone::Row(b, i) => match self.cols.get(b as usize) {
                Some(cols) => cols
                    .row(i as usize, self.path)
                    .map(|(c, r, _)| Some((c, r))),
                None => Ok(None),
            },
        }
    }
}
