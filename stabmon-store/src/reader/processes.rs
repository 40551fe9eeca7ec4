//! The `processes` table: the process rows of each sample.

use std::path::Path;

use arrow_array::PrimitiveArray;
use arrow_array::types::{TimestampMicrosecondType, UInt16Type, UInt32Type};
use stabmon_core::series::SampleParts;
use stabmon_core::{ProcessEntry, Sample, Timestamp};

use crate::error::{Error, invalid};
use crate::schema::PROCESS_EXACT_SLOTS;

use super::cols::{Cols, decimal_pct, opt};
use super::exact::{ExactSlots, slot_rem, slot_u16};
use super::range::Range;
use super::ranges::Objects;
use super::segment::samples_of_rows;
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
const DETAILS: [(SampleParts, &str); 3] = [
    (SampleParts::CMDLINE, "cmdline"),
    (SampleParts::USER, "user"),
    (SampleParts::CGROUP, "cgroup"),
];

/// The process rows of the samples read, each appended to its sample's list; of schema 5 and later without the
/// command lines, users or cgroups that `parts` leaves out (not decoded).
pub(super) fn read_processes(
    path: &Path,
    objects: Objects<'_>,
    range: Range,
    only: Option<&[i64]>,
    parts: SampleParts,
    samples: &[Sample],
    lists: &mut [Vec<(Option<u16>, ProcessEntry)>],
) -> Result<(), Error> {
    let left_out: Vec<&str> = DETAILS
        .iter()
        .filter(|(part, _)| !parts.contains(*part))
        .map(|(_, column)| *column)
        .collect();
    let (version, batches) = read_table(
        path,
        objects,
        "processes",
        range,
        only,
        Columns::Without(&left_out),
    )?;
    // Older files are read whole; the details not asked for are not copied (see `read_segment_files`).
    let read = |part: SampleParts| parts.contains(part);
    // Each row's sample first, so that each sample's list is allocated once.
    let rows_at = samples_of_rows(&batches, samples, range, lists, path)?;
    for (batch, rows_at) in batches.iter().zip(rows_at) {
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
        let cpu = c.pct_values("cpu_pct")?;
        let child = c.pct_values("children_cpu_pct")?;
        let rss = c.byte_count("rss", true)?;
        let vsz = c.byte_count("virtual", true)?;
        // Slots: CPU and children's CPU adjustments, CPU and memory ranks, list position, two remainders.
        let exact = ExactSlots::<PROCESS_EXACT_SLOTS>::new(
            &c,
            version,
            &[
                ("cpu_pct_ulp_adj", true),
                ("children_cpu_pct_ulp_adj", true),
                ("cpu_rank_explicit", false),
                ("rss_rank_explicit", false),
                ("list_pos", false),
            ],
        )?;
        let ranks = rank_columns(&c, version)?;
        // Schema 7 on: the cgroup (the unit is derived from it again).
        let cgroup = if version >= 7 && read(SampleParts::CGROUP) {
            Some(c.str("cgroup")?)
        } else {
            None
        };
        for (i, at) in rows_at.into_iter().enumerate() {
            let Some(at) = at else { continue };
            let mut p = ProcessEntry::new(
                pid.value(i),
                name.get(i).ok_or_else(|| invalid(path, "a null name"))?,
            );
            p.parent_pid = opt(ppid, i);
            p.cmdline = cmdline.as_ref().and_then(|c| c.get(i)).map(str::to_owned);
            p.user = user.as_ref().and_then(|c| c.get(i)).map(str::to_owned);
            p.cgroup = cgroup.as_ref().and_then(|c| c.get(i)).map(str::to_owned);
            let x = exact.row(i, path)?;
            p.cpu_pct = decimal_pct(cpu, i, x[0].unwrap_or(0), path, "cpu_pct")?
                .ok_or_else(|| invalid(path, "the column cpu_pct has nulls"))?;
            p.children_cpu_pct =
                decimal_pct(child, i, x[1].unwrap_or(0), path, "children_cpu_pct")?;
            p.rss_bytes = rss.get(i, slot_rem(x[5], path)?, path)?.unwrap_or(0);
            p.virtual_bytes = vsz.get(i, slot_rem(x[6], path)?, path)?.unwrap_or(0);
            p.start_time = Timestamp::from_unix_micros(start.value(i));
            (p.cpu_rank, p.rss_rank) = match ranks {
                Some((cpu, rss)) => (opt(cpu, i), opt(rss, i)),
                None => (slot_u16(x[2], path)?, slot_u16(x[3], path)?),
            };
            lists[at].push((slot_u16(x[4], path)?, p));
        }
    }
    Ok(())
}
