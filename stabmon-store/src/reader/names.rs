//! The `names` table: the per-name totals of each sample.

use std::collections::HashMap;
use std::path::Path;

use arrow_array::types::UInt32Type;
use stabmon_core::{NameTotal, ProcessEntry, Sample};

use crate::error::{Error, invalid};
use crate::schema::NAME_EXACT_SLOTS;

use super::cols::{Cols, decimal_pct, opt};
use super::exact::{ExactSlots, slot_rem, slot_u16};
use super::processes::rank_columns;
use super::range::Range;
use super::ranges::Objects;
use super::segment::samples_of_rows;
use super::table::{Columns, read_table};

/// (Schemas 2-4.) The single process row of a sample that a name total with `process_count == 1` sums, if the
/// sample has it: where the name's values are null, they are that row's.
fn lone_process<'a>(
    n: &NameTotal,
    processes: impl IntoIterator<Item = &'a ProcessEntry>,
) -> Option<&'a ProcessEntry> {
    if n.process_count != 1 {
        return None;
    }
    let mut it = processes.into_iter().filter(|p| p.name == n.name);
    let p = it.next()?;
    it.next().is_none().then_some(p)
}

pub(super) fn read_names(
    path: &Path,
    objects: Objects<'_>,
    range: Range,
    only: Option<&[i64]>,
    samples: &[Sample],
    procs: &[Vec<(Option<u16>, ProcessEntry)>],
    lists: &mut [Vec<(Option<u16>, NameTotal)>],
) -> Result<(), Error> {
    // Each name's last (CPU %, resident bytes), for values stored as "same as before".
    let mut last: HashMap<String, (f32, u64)> = HashMap::new();
    let (version, batches) = read_table(path, objects, "names", range, only, Columns::All)?;
    // Each row's sample first, so that each sample's list is allocated once.
    let rows_at = samples_of_rows(&batches, samples, range, lists, path)?;
    for (batch, rows_at) in batches.iter().zip(rows_at) {
        let c = Cols { batch, path };
        let name = c.str("name")?;
        let count = c.req::<UInt32Type>("process_count")?;
        let cpu = c.pct_values("cpu_pct")?;
        let rss = c.byte_count("rss", false)?;
        // Slots: CPU adjustment, CPU and memory ranks, list position, remainder.
        let exact = ExactSlots::<NAME_EXACT_SLOTS>::new(
            &c,
            version,
            &[
                ("cpu_pct_ulp_adj", true),
                ("cpu_rank_explicit", false),
                ("rss_rank_explicit", false),
                ("list_pos", false),
            ],
        )?;
        let ranks = rank_columns(&c, version)?;
        for (i, at) in rows_at.into_iter().enumerate() {
            let Some(at) = at else { continue };
            let mut n = NameTotal::new(name.get(i).ok_or_else(|| invalid(path, "a null name"))?);
            n.process_count = count.value(i);
            // Values not stored are derived as the writer elided them: from the name's lone process row in the
            // sample when it has one, else from the name's previous row (schemas 2-4; later ones store both).
            let base = |n: &NameTotal| {
                let base = match lone_process(n, procs[at].iter().map(|(_, p)| p)) {
                    Some(p) => Some((p.cpu_pct, p.rss_bytes)),
                    None => last.get(&n.name).copied(),
                };
                base.ok_or_else(|| {
                    invalid(
                        path,
                        format!("a total of {:?} without a value to derive", n.name),
                    )
                })
            };
            let x = exact.row(i, path)?;
            let (cpu_pct, rss_bytes) = (
                decimal_pct(cpu, i, x[0].unwrap_or(0), path, "cpu_pct")?,
                rss.get(i, slot_rem(x[4], path)?, path)?,
            );
            (n.cpu_pct, n.rss_bytes) = match (cpu_pct, rss_bytes) {
                (Some(cpu_pct), Some(rss_bytes)) => (cpu_pct, rss_bytes),
                (cpu_pct, rss_bytes) => {
                    let (c, r) = base(&n)?;
                    (cpu_pct.unwrap_or(c), rss_bytes.unwrap_or(r))
                }
            };
            if version < 5 {
                last.insert(n.name.clone(), (n.cpu_pct, n.rss_bytes));
            }
            (n.cpu_rank, n.rss_rank) = match ranks {
                Some((cpu, rss)) => (opt(cpu, i), opt(rss, i)),
                None => (slot_u16(x[1], path)?, slot_u16(x[2], path)?),
            };
            lists[at].push((slot_u16(x[3], path)?, n));
        }
    }
    Ok(())
}
