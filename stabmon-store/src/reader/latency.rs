//! The `latency` table: the probes each sample carried.

use std::path::Path;

use arrow_array::PrimitiveArray;
use arrow_array::types::{Int64Type, TimestampMicrosecondType, UInt16Type};
use stabmon_core::{LatencyProbe, ProbeOutcome, Sample, Timestamp};

use crate::error::{Error, invalid};
use crate::layout::LATENCY;

use super::cols::{Cols, opt};
use super::range::Range;
use super::ranges::Objects;
use super::segment::{sample_at, wanted};
use super::table::{Columns, read_table};

/// The latency table's rows in `range` (at `only`, where given), appended in file order to the probes of the sample
/// they belong to.
pub(super) fn read_latency(
    path: &Path,
    objects: Objects<'_>,
    range: Range,
    only: Option<&[i64]>,
    samples: &mut [Sample],
) -> Result<(), Error> {
    for batch in read_table(path, objects, LATENCY, range, only, Columns::All)?.1 {
        let c = Cols {
            batch: &batch,
            path,
        };
        let ts = c.req::<TimestampMicrosecondType>("ts")?;
        let start = c.req::<TimestampMicrosecondType>("start_ts")?;
        let target = c.str("target")?;
        let outcome = c.str("outcome")?;
        let status = c.prim::<UInt16Type>("http_status")?;
        let message = c.str("message")?;
        let dns = c.prim::<Int64Type>("dns_us")?;
        let connect = c.prim::<Int64Type>("connect_us")?;
        let tls = c.prim::<Int64Type>("tls_us")?;
        let first = c.prim::<Int64Type>("first_byte_us")?;
        let total = c.prim::<Int64Type>("total_us")?;
        let ms = |a: &PrimitiveArray<Int64Type>, i: usize| opt(a, i).map(|us| us as f64 / 1000.0);
        for i in 0..batch.num_rows() {
            if !wanted(range, only, ts.value(i)) {
                continue;
            }
            let at = sample_at(samples, ts.value(i), path)?;
            let kind = outcome
                .get(i)
                .ok_or_else(|| invalid(path, "a null outcome"))?;
            let outcome = ProbeOutcome::from_parts(kind, opt(status, i), message.get(i))
                .ok_or_else(|| bad_outcome(path, kind))?;
            let mut p = LatencyProbe::new(
                target
                    .get(i)
                    .ok_or_else(|| invalid(path, "a null target"))?,
                Timestamp::from_unix_micros(start.value(i)),
                outcome,
            );
            p.dns_ms = ms(dns, i);
            p.connect_ms = ms(connect, i);
            p.tls_ms = ms(tls, i);
            p.first_byte_ms = ms(first, i);
            p.total_ms = ms(total, i);
            samples[at].latency.push(p);
        }
    }
    Ok(())
}

/// The error of an outcome that does not read: an unknown name, or `http_status` without a code.
pub(super) fn bad_outcome(path: &Path, kind: &str) -> Error {
    invalid(
        path,
        format!("unknown probe outcome {kind:?} (or http_status without a code)"),
    )
}
