//! The `oom_kills` table: the victims the kernel log named, with the sample that carried each.

use std::path::Path;

use arrow_array::Array;
use arrow_array::types::{Int32Type, TimestampMicrosecondType, UInt32Type, UInt64Type};
use stabmon_core::{OomKill, Sample, Timestamp};

use crate::error::{Error, invalid};
use crate::layout::OOM_KILLS;

use super::cols::{Cols, opt};
use super::range::Range;
use super::ranges::Objects;
use super::segment::{sample_at, wanted};
use super::table::{Columns, read_table};

/// The OOM-kill table's rows in `range` (at `only`, where given), appended in file order to the kills of the sample
/// they belong to.
pub(super) fn read_oom_kills(
    path: &Path,
    objects: Objects<'_>,
    range: Range,
    only: Option<&[i64]>,
    samples: &mut [Sample],
) -> Result<(), Error> {
    for batch in read_table(path, objects, OOM_KILLS, range, only, Columns::All)?.1 {
        let c = Cols {
            batch: &batch,
            path,
        };
        let ts = c.req::<TimestampMicrosecondType>("ts")?;
        let kill_ts = c.req::<TimestampMicrosecondType>("kill_ts")?;
        let pid = c.req::<UInt32Type>("pid")?;
        let name = c.str("name")?;
        let anon = c.prim::<UInt64Type>("anon_rss_bytes")?;
        let file = c.prim::<UInt64Type>("file_rss_bytes")?;
        let shmem = c.prim::<UInt64Type>("shmem_rss_bytes")?;
        let vm = c.prim::<UInt64Type>("total_vm_bytes")?;
        let uid = c.prim::<UInt32Type>("uid")?;
        let adj = c.prim::<Int32Type>("oom_score_adj")?;
        let constraint = c.str("constraint")?;
        let memcg = c.bool("memcg")?;
        let cgroup = c.str("cgroup")?;
        let oom_cgroup = c.str("oom_cgroup")?;
        for i in 0..batch.num_rows() {
            if !wanted(range, only, ts.value(i)) {
                continue;
            }
            let at = sample_at(samples, ts.value(i), path)?;
            let mut k = OomKill::new(
                Timestamp::from_unix_micros(kill_ts.value(i)),
                pid.value(i),
                name.get(i).ok_or_else(|| invalid(path, "a null name"))?,
            );
            k.anon_rss_bytes = opt(anon, i);
            k.file_rss_bytes = opt(file, i);
            k.shmem_rss_bytes = opt(shmem, i);
            k.total_vm_bytes = opt(vm, i);
            k.uid = opt(uid, i);
            k.oom_score_adj = opt(adj, i);
            k.constraint = constraint.get(i).map(str::to_owned);
            k.memcg = memcg.is_valid(i) && memcg.value(i);
            k.cgroup = cgroup.get(i).map(str::to_owned);
            k.oom_cgroup = oom_cgroup.get(i).map(str::to_owned);
            samples[at].oom_kills.push(k);
        }
    }
    Ok(())
}
