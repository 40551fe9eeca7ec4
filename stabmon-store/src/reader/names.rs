//! The `names` table: the per-name totals of each sample.

use std::collections::HashMap;
use std::path::Path;

use arrow_array::PrimitiveArray;
use arrow_array::types::UInt32Type;
use stabmon_core::NameTotal;

use crate::error::{Error, invalid};
use crate::schema::NAME_EXACT_SLOTS;

use super::cols::{ByteCount, Cols, PctValues, StrCol, decimal_pct, opt};
use super::exact::{ExactSlots, slot_rem, slot_u16};
use super::processes::{LoneValues, rank_columns};
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
    // Each row's sample first, so that each kept sample's list is allocated once.
    let rows_at = samples_of_rows(&batches, times, range, kept, lists, path)?;
    for (batch, rows_at) in batches.iter().zip(rows_at) {
        let c = Cols { batch, path };
        let values = NameValues::new(&c, version)?;
        let ranks = rank_columns(&c, version)?;
        for (i, at) in rows_at.into_iter().enumerate() {
            let Some(at) = at else { continue };
            let wanted = kept.get(at).copied().unwrap_or(false);
            // Later schemas store every value: only the rows kept are read.
            if !wanted && version >= 5 {
                continue;
            }
            let (row_name, process_count, cpu_pct, rss_bytes, x) =
                values.row(i, at, lone, &mut last, path)?;
            if !wanted {
                continue;
            }
            let mut n = NameTotal::new(row_name);
            n.process_count = process_count;
            (n.cpu_pct, n.rss_bytes) = (cpu_pct, rss_bytes);
            (n.cpu_rank, n.rss_rank) = match ranks {
                Some((cpu, rss)) => (opt(cpu, i), opt(rss, i)),
                None => (slot_u16(x[1], path)?, slot_u16(x[2], path)?),
            };
            lists[at].push((slot_u16(x[3], path)?, n));
        }
    }
    Ok(())
}

/// Each name's last (CPU %, resident bytes) in the rows read, for values stored as "same as before" (schemas 2-4).
pub(super) type LastValues<'b> = HashMap<&'b str, (f32, u64)>;

/// The columns of a batch of `names` that give each row's name, process count, CPU % and resident bytes, of any
/// schema (before schema 5 decimals and KiB with their exactness values, and left out where derived).
pub(super) struct NameValues<'a> {
    version: u32,
    name: StrCol<'a>,
    count: &'a PrimitiveArray<UInt32Type>,
    cpu: PctValues<'a>,
    rss: ByteCount<'a>,
    exact: ExactSlots<'a, NAME_EXACT_SLOTS>,
}

impl<'a> NameValues<'a> {
    pub(super) fn new(c: &Cols<'a>, version: u32) -> Result<Self, Error> {
        Ok(NameValues {
            version,
            name: c.str("name")?,
            count: c.req::<UInt32Type>("process_count")?,
            cpu: c.pct_values("cpu_pct")?,
            rss: c.byte_count("rss", false)?,
            // Slots: CPU adjustment, CPU and memory ranks, list position, remainder.
            exact: ExactSlots::new(
                c,
                version,
                &[
                    ("cpu_pct_ulp_adj", true),
                    ("cpu_rank_explicit", false),
                    ("rss_rank_explicit", false),
                    ("list_pos", false),
                ],
            )?,
        })
    }

    /// Row `i` (of sample `at`): its name, process count, CPU % and resident bytes, and its exactness slots. Values
    /// not stored are derived as the writer elided them (schemas 2-4; later ones store both): from the name's lone
    /// process row in the sample (`lone`) when it has one, else from the name's previous row (`last`, which rows
    /// must be given in order).
    #[allow(clippy::type_complexity)]
    pub(super) fn row(
        &self,
        i: usize,
        at: usize,
        lone: Option<&LoneValues<'_>>,
        last: &mut LastValues<'a>,
        path: &Path,
    ) -> Result<(&'a str, u32, f32, u64, [Option<i32>; NAME_EXACT_SLOTS]), Error> {
        let name = self
            .name
            .get(i)
            .ok_or_else(|| invalid(path, "a null name"))?;
        let count = self.count.value(i);
        let x = self.exact.row(i, path)?;
        let (cpu_pct, rss_bytes) = match (
            decimal_pct(self.cpu, i, x[0].unwrap_or(0), path, "cpu_pct")?,
            self.rss.get(i, slot_rem(x[4], path)?, path)?,
        ) {
            (Some(cpu_pct), Some(rss_bytes)) => (cpu_pct, rss_bytes),
            (cpu_pct, rss_bytes) => {
                let lone = match lone.filter(|_| count == 1) {
                    Some(l) => l.lone(at, name)?,
                    None => None,
                };
                let (c, r) = lone.or_else(|| last.get(name).copied()).ok_or_else(|| {
                    invalid(
                        path,
                        format!("a total of {name:?} without a value to derive"),
                    )
                })?;
                (cpu_pct.unwrap_or(c), rss_bytes.unwrap_or(r))
            }
        };
        if self.version < 5 {
            last.insert(name, (cpu_pct, rss_bytes));
        }
        Ok((name, count, cpu_pct, rss_bytes, x))
    }
}
