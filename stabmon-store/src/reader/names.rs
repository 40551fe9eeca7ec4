//! The `names` table: the per-name totals of each sample.

use std::collections::HashMap;
use std::path::Path;

use arrow_array::types::UInt32Type;
use arrow_array::{Array, PrimitiveArray};
use stabmon_core::NameTotal;

use crate::error::{Error, invalid};
use crate::schema::NAME_EXACT_SLOTS;

use super::cols::{Cols, StrCol, opt};
use super::exact::slot_u16;
use super::processes::{LoneValues, RankCols, ValueCols, rank_columns};
use super::range::Range;
use super::ranges::Objects;
use super::segment::samples_of_rows;
use super::table::{Columns, read_table};

/// The name rows of the samples read: each kept sample's appended to its list, every
/// row's values derived where the file left them out (schemas 2-4: from the name's lone process row in the
/// sample, `lone`, when it has one, else from the name's previous row, kept sample or not).
#[allow(clippy::too_many_arguments)]
pub(super) fn read_names(
    path: &Path,
    objects: Objects<'_>,
    range: Range,
    only: Option<&[i64]>,
    times: &[i64],
    kept: &[bool],
    lone: Option<&LoneValues<'_>>,
    lists: &mut [Vec<(Option<u16>, NameTotal)>],
) -> Result<(), Error> {
    let (version, batches) = read_table(path, objects, "names", range, only, Columns::All)?;
    let mut last = LastValues::default();
    let mut row = NO_ROW;
    // Each row's sample first, so that each kept sample's list is allocated once.
    let rows_at = samples_of_rows(&batches, times, range, kept, lists, path)?;
    for (batch, rows_at) in batches.iter().zip(rows_at) {
        let c = Cols { batch, path };
        let mut values = NameValues::new(&c, version)?;
        let ranks = rank_columns(&c, version)?;
        for (i, at) in rows_at.into_iter().enumerate() {
            let Some(at) = at else { continue };
            let wanted = kept.get(at).copied().unwrap_or(false);
            // Later schemas store every value: only the rows kept are read.
            if !wanted && version >= 5 {
                continue;
            }
            values.row((i, at), lone, &mut last, path, &mut row)?;
            if !wanted {
                continue;
            }
            lists[at].push(name_total(row, ranks, i, path)?);
        }
    }
    Ok(())
}

/// Name row `i` as a sample's name total with its list position: its values (as [`NameValues::row`] gives them)
/// and ranks (schema 5 on, from `ranks`; before, from its exactness slots).
pub(super) fn name_total(
    (row_name, process_count, cpu_pct, rss_bytes, x): NameRow<'_>,
    ranks: Option<RankCols<'_>>,
    i: usize,
    path: &Path,
) -> Result<(Option<u16>, NameTotal), Error> {
    let mut n = NameTotal::new(row_name);
    n.process_count = process_count;
    (n.cpu_pct, n.rss_bytes) = (cpu_pct, rss_bytes);
    (n.cpu_rank, n.rss_rank) = match ranks {
        Some((cpu, rss)) => (opt(cpu, i), opt(rss, i)),
        None => (slot_u16(x[1], path)?, slot_u16(x[2], path)?),
    };
    Ok((slot_u16(x[3], path)?, n))
}

/// A name row's name, process count, CPU %, resident bytes and exactness slots ([`NameValues::row`]).
pub(super) type NameRow<'a> = (&'a str, u32, f32, u64, [Option<i32>; NAME_EXACT_SLOTS]);

/// A [`NameRow`] to be written.
pub(super) const NO_ROW: NameRow<'static> = ("", 0, 0.0, 0, [None; NAME_EXACT_SLOTS]);

/// Each name's last (CPU %, resident bytes) in the rows read, for values stored as "same as before" (schemas 2-4).
#[derive(Default)]
pub(super) struct LastValues<'b> {
    /// Each name's place in `values`.
    slots: HashMap<&'b str, u32>,
    values: Vec<Option<(f32, u64)>>,
}

impl<'b> LastValues<'b> {
    /// The place of `name`'s values (a new, empty one for a name not seen yet).
    fn slot(&mut self, name: &'b str) -> u32 {
        if let Some(&s) = self.slots.get(name) {
            return s;
        }
        let s = u32::try_from(self.values.len()).unwrap_or(u32::MAX);
        self.values.push(None);
        self.slots.insert(name, s);
        s
    }
}

/// The columns of a batch of `names` that give each row's name, process count, CPU % and resident bytes, of any
/// schema (before schema 5 decimals and KiB with their exactness values, and left out where derived).
pub(super) struct NameValues<'a> {
    version: u32,
    name: StrCol<'a>,
    count: &'a PrimitiveArray<UInt32Type>,
    values: ValueCols<'a, NAME_EXACT_SLOTS>,
    /// Of a dictionary-encoded name column, each dictionary value's place in [`LastValues`] once looked up
    /// (`u32::MAX` before): a name is hashed once per batch, not once per row.
    key_slots: Vec<u32>,
}

impl<'a> NameValues<'a> {
    pub(super) fn new(c: &Cols<'a>, version: u32) -> Result<Self, Error> {
        let name = c.str("name")?;
        let key_slots = match name {
            StrCol::Dict(_, values) => vec![u32::MAX; values.len()],
            StrCol::Plain(_) => Vec::new(),
        };
        Ok(NameValues {
            version,
            key_slots,
            name,
            count: c.req::<UInt32Type>("process_count")?,
            // Slots: CPU adjustment, CPU and memory ranks, list position, remainder.
            values: ValueCols::of(
                c,
                version,
                false,
                &[
                    ("cpu_pct_ulp_adj", true),
                    ("cpu_rank_explicit", false),
                    ("rss_rank_explicit", false),
                    ("list_pos", false),
                ],
                4,
            )?,
        })
    }

    /// Row `i` (of sample `at`): its name, process count, CPU % and resident bytes, and its exactness slots. Values
    /// not stored are derived as the writer elided them (schemas 2-4; later ones store both): from the name's lone
    /// process row in the sample (`lone`) when it has one, else from the name's previous row (`last`, which rows
    /// must be given in order). Written to `out`, which a caller reads a field at a time (a row returned by value
    /// is copied whole, and the copy's wide loads stall on the narrower stores the row was written with).
    pub(super) fn row(
        &mut self,
        (i, at): (usize, usize),
        lone: Option<&LoneValues<'_>>,
        last: &mut LastValues<'a>,
        path: &Path,
        out: &mut NameRow<'a>,
    ) -> Result<(), Error> {
        let name = self
            .name
            .get(i)
            .ok_or_else(|| invalid(path, "a null name"))?;
        let count = self.count.value(i);
        // Later schemas store every value: no last values are kept.
        let slot = match self.version < 5 {
            true => Some(self.slot_of(i, name, last) as usize),
            false => None,
        };
        let (cpu_pct, rss_bytes, x) = self.values.row_stored(i, path)?;
        let (cpu_pct, rss_bytes) = match (cpu_pct, rss_bytes) {
            (Some(cpu_pct), Some(rss_bytes)) => (cpu_pct, rss_bytes),
            (cpu_pct, rss_bytes) => {
                let lone = match lone.filter(|_| count == 1) {
                    Some(l) => l.lone(at, name)?,
                    None => None,
                };
                let before = slot.and_then(|s| last.values.get(s).copied().flatten());
                let (c, r) = lone.or(before).ok_or_else(|| {
                    invalid(
                        path,
                        format!("a total of {name:?} without a value to derive"),
                    )
                })?;
                (cpu_pct.unwrap_or(c), rss_bytes.unwrap_or(r))
            }
        };
        if let Some(v) = slot.and_then(|s| last.values.get_mut(s)) {
            *v = Some((cpu_pct, rss_bytes));
        }
        *out = (name, count, cpu_pct, rss_bytes, x);
        Ok(())
    }

    /// Row `i`'s place (its name `name`) in `last`.
    fn slot_of(&mut self, i: usize, name: &'a str, last: &mut LastValues<'a>) -> u32 {
        if let StrCol::Dict(d, _) = self.name
            && let Ok(k) = usize::try_from(d.keys().value(i))
            && let Some(s) = self.key_slots.get_mut(k)
        {
            if *s == u32::MAX {
                *s = last.slot(name);
            }
            return *s;
        }
        last.slot(name)
    }
}
