//! `stabmon top` over any range: process and name usage aggregated from the tables' columns, without building
//! samples (schema 5 and later; older files through whole samples).

use std::path::Path;

use arrow_array::types::{
    Float32Type, Int64Type, TimestampMicrosecondType, UInt32Type, UInt64Type,
};
use arrow_array::{Array, RecordBatch};
use stabmon_core::Timestamp;
use stabmon_core::analysis::{NameRow, NameUsage, ProcRow, UsageAcc};

use super::{Cols, Range, StoreReader, read_columns, read_segment};
use crate::error::Error;
use crate::layout::{SegmentLoc, TABLES};

impl StoreReader {
    /// Which process names (and their processes) used the most CPU and memory over `from <= ts < to` for `host`:
    /// [`usage_by_name`](stabmon_core::analysis::usage_by_name) of the range, aggregated row group by row group
    /// from the `samples`, `processes` and `names` columns it needs, without building samples (files of schema
    /// 5 and later; older files are read as whole samples). Also gives how many samples the range holds and the
    /// time they cover.
    ///
    /// Damaged row groups are skipped with a warning ([`warnings`](Self::warnings)).
    pub fn usage(
        &self,
        host: &str,
        from: Option<Timestamp>,
        to: Option<Timestamp>,
    ) -> Result<RangeUsage, Error> {
        let range = Range { from, to };
        let mut acc = UsageAcc::default();
        let mut out = RangeUsage::default();
        let mut last: Option<Timestamp> = None;
        for (seg, chunk) in self.chunks_in(host, range)? {
            match usage_of_chunk(&seg, chunk, &mut acc, &mut out, &mut last) {
                Ok(()) => {}
                Err(e @ Error::NewerSchema { .. }) => return Err(e),
                Err(e) => self.warn(&seg.file(TABLES[0]), &e),
            }
        }
        let journal = self
            .journal_samples(Some(host), range)
            .remove(host)
            .unwrap_or_default();
        for s in journal {
            if last.is_none_or(|l| l < s.ts) {
                out.samples += 1;
                out.covered_secs += s.interval.as_secs_f64();
                acc.push(&s);
                last = Some(s.ts);
            }
        }
        out.names = acc.finish();
        Ok(out)
    }
}

/// What [`StoreReader::usage`] found.
#[derive(Debug, Clone, Default, PartialEq)]
#[non_exhaustive]
pub struct RangeUsage {
    /// The names, ranked by CPU seconds (see [`NameUsage`]).
    pub names: Vec<NameUsage>,
    /// The samples in the range.
    pub samples: u64,
    /// The time those samples cover (the sum of their intervals), seconds.
    pub covered_secs: f64,
}

/// Reads the columns `names` of the row groups of `path` that `range` overlaps (of schema 5 and later, only the
/// rows in `range`).
pub(super) fn columns(
    path: &Path,
    table: &str,
    range: Range,
    names: &[&str],
) -> Result<(u32, Vec<RecordBatch>), Error> {
    read_columns(path, table, range, None, Some(names))
}

fn usage_of_chunk(
    seg: &SegmentLoc,
    chunk: Range,
    acc: &mut UsageAcc,
    out: &mut RangeUsage,
    last: &mut Option<Timestamp>,
) -> Result<(), Error> {
    let files: Vec<_> = TABLES.iter().map(|t| seg.file(t)).collect();
    let (version, sample_batches) = columns(
        &files[0],
        TABLES[0],
        chunk,
        &["ts", "interval_us", "name_cpu_nth_pct"],
    )?;
    if version < 5 {
        // Older files derive values from other rows: read them as whole samples.
        for s in read_segment(seg, chunk)? {
            if last.is_none_or(|l| l < s.ts) {
                out.samples += 1;
                out.covered_secs += s.interval.as_secs_f64();
                acc.push(&s);
                *last = Some(s.ts);
            }
        }
        return Ok(());
    }
    // The samples of the chunk: (ts, interval, the names list's bound).
    let mut ticks: Vec<(i64, u64, f32)> = Vec::new();
    for b in &sample_batches {
        let c = Cols {
            batch: b,
            path: &files[0],
        };
        let ts = c.req::<TimestampMicrosecondType>("ts")?;
        let interval = c.prim::<Int64Type>("interval_us")?;
        let nth = c.req::<Float32Type>("name_cpu_nth_pct")?;
        for i in 0..b.num_rows() {
            let t = ts.value(i);
            if chunk.contains(t) {
                let iv = if interval.is_null(i) {
                    0
                } else {
                    interval.value(i).max(0) as u64
                };
                ticks.push((t, iv, nth.value(i)));
            }
        }
    }
    if ticks.is_empty() {
        return Ok(());
    }
    let at = |t: i64| ticks.binary_search_by_key(&t, |x| x.0).ok();
    let (_, proc_batches) = columns(
        &files[1],
        TABLES[1],
        chunk,
        &[
            "ts",
            "pid",
            "start_time",
            "name",
            "cmdline",
            "cpu_pct",
            "rss_bytes",
        ],
    )?;
    let (_, name_batches) = columns(
        &files[2],
        TABLES[2],
        chunk,
        &["ts", "name", "process_count", "cpu_pct", "rss_bytes"],
    )?;
    let mut procs: Vec<Vec<ProcRow<'_>>> = vec![Vec::new(); ticks.len()];
    let proc_cols: Vec<Cols<'_>> = proc_batches
        .iter()
        .map(|b| Cols {
            batch: b,
            path: &files[1],
        })
        .collect();
    for c in &proc_cols {
        let ts = c.req::<TimestampMicrosecondType>("ts")?;
        let pid = c.req::<UInt32Type>("pid")?;
        let start = c.req::<TimestampMicrosecondType>("start_time")?;
        let name = c.str("name")?;
        let cmdline = c.str("cmdline")?;
        let cpu = c.req::<Float32Type>("cpu_pct")?;
        let rss = c.req::<UInt64Type>("rss_bytes")?;
        for i in 0..c.batch.num_rows() {
            let Some(k) = at(ts.value(i)) else { continue };
            let name = name
                .get(i)
                .ok_or_else(|| crate::error::invalid(&files[1], "a null name"))?;
            procs[k].push(ProcRow::new(
                pid.value(i),
                Timestamp::from_unix_micros(start.value(i)),
                name,
                cmdline.get(i),
                cpu.value(i),
                rss.value(i),
            ));
        }
    }
    let mut names: Vec<Vec<NameRow<'_>>> = vec![Vec::new(); ticks.len()];
    let name_cols: Vec<Cols<'_>> = name_batches
        .iter()
        .map(|b| Cols {
            batch: b,
            path: &files[2],
        })
        .collect();
    for c in &name_cols {
        let ts = c.req::<TimestampMicrosecondType>("ts")?;
        let name = c.str("name")?;
        let count = c.req::<UInt32Type>("process_count")?;
        let cpu = c.req::<Float32Type>("cpu_pct")?;
        let rss = c.req::<UInt64Type>("rss_bytes")?;
        for i in 0..c.batch.num_rows() {
            let Some(k) = at(ts.value(i)) else { continue };
            let name = name
                .get(i)
                .ok_or_else(|| crate::error::invalid(&files[2], "a null name"))?;
            names[k].push(NameRow::new(
                name,
                cpu.value(i),
                rss.value(i),
                count.value(i),
            ));
        }
    }
    for (k, &(t, iv, nth)) in ticks.iter().enumerate() {
        let ts = Timestamp::from_unix_micros(t);
        if last.is_some_and(|l| l >= ts) {
            continue;
        }
        // The stored lists' order (ranks first) does not change the sums; each list is taken as stored.
        acc.push_rows(
            ts,
            std::time::Duration::from_micros(iv),
            nth,
            &procs[k],
            &names[k],
        );
        out.samples += 1;
        out.covered_secs += std::time::Duration::from_micros(iv).as_secs_f64();
        *last = Some(ts);
    }
    Ok(())
}
