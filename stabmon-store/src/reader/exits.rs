//! The `exits` table: the exited names and detailed exits of each sample (schema 7 on).

use std::path::Path;
use std::time::Duration;

use arrow_array::types::{Int32Type, Int64Type, TimestampMicrosecondType, UInt32Type, UInt64Type};
use stabmon_core::{ExitStatus, ExitedName, ExitedProcess, Sample, Timestamp};

use crate::error::{Error, invalid};
use crate::layout::EXITS;

use super::cols::{Cols, opt};
use super::range::Range;
use super::ranges::Objects;
use super::segment::{sample_at, wanted};
use super::table::{Columns, read_table};

/// The exits table's rows in `range` (at `only`, where given), appended in file order to the exits of the sample they
/// belong to (whose count the `samples` table gave).
pub(super) fn read_exits(
    path: &Path,
    objects: Objects<'_>,
    range: Range,
    only: Option<&[i64]>,
    samples: &mut [Sample],
) -> Result<(), Error> {
    for batch in read_table(path, objects, EXITS, range, only, Columns::All)?.1 {
        let c = Cols {
            batch: &batch,
            path,
        };
        let ts = c.req::<TimestampMicrosecondType>("ts")?;
        let name = c.str("name")?;
        let count = c.req::<UInt32Type>("count")?;
        let cpu_us = c.req::<Int64Type>("cpu_us")?;
        let peak = c.req::<UInt64Type>("peak_rss_bytes")?;
        let pid = c.prim::<UInt32Type>("pid")?;
        let parent = c.prim::<UInt32Type>("parent_pid")?;
        let uid = c.prim::<UInt32Type>("uid")?;
        let start = c.prim::<TimestampMicrosecondType>("start_time")?;
        let end = c.prim::<TimestampMicrosecondType>("end_time")?;
        let code = c.prim::<Int32Type>("exit_code")?;
        let signal = c.prim::<Int32Type>("exit_signal")?;
        for i in 0..batch.num_rows() {
            if !wanted(range, only, ts.value(i)) {
                continue;
            }
            let at = sample_at(samples, ts.value(i), path)?;
            let n = name.get(i).ok_or_else(|| invalid(path, "a null name"))?;
            let cpu = Duration::from_micros(
                u64::try_from(cpu_us.value(i)).map_err(|_| invalid(path, "a negative cpu_us"))?,
            );
            let Some(exits) = samples[at].exits.as_mut() else {
                return Err(invalid(
                    path,
                    format!(
                        "exits at {} of a sample whose exit_count is null",
                        Timestamp::from_unix_micros(ts.value(i))
                    ),
                ));
            };
            match opt(pid, i) {
                None => {
                    let mut x = ExitedName::new(n);
                    x.count = count.value(i);
                    x.cpu_time = cpu;
                    x.peak_rss_bytes = peak.value(i);
                    exits.names.push(x);
                }
                Some(pid) => {
                    let mut x = ExitedProcess::new(pid, n);
                    let need = |v: Option<u32>, what: &str| {
                        v.ok_or_else(|| invalid(path, format!("an exit without its {what}")))
                    };
                    let time = |v: Option<i64>, what: &str| {
                        v.map(Timestamp::from_unix_micros)
                            .ok_or_else(|| invalid(path, format!("an exit without its {what}")))
                    };
                    x.parent_pid = need(opt(parent, i), "parent_pid")?;
                    x.uid = need(opt(uid, i), "uid")?;
                    x.start_time = time(opt(start, i), "start_time")?;
                    x.end_time = time(opt(end, i), "end_time")?;
                    x.cpu_time = cpu;
                    x.peak_rss_bytes = peak.value(i);
                    x.status = match (opt(code, i), opt(signal, i)) {
                        (Some(c), None) => ExitStatus::Code(c),
                        (None, Some(s)) => ExitStatus::Signal(s),
                        _ => {
                            return Err(invalid(
                                path,
                                "an exit with both or neither of exit_code and exit_signal",
                            ));
                        }
                    };
                    exits.processes.push(x);
                }
            }
        }
    }
    Ok(())
}
