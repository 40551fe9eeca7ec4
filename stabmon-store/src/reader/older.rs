//! A row group of schemas 1-4 as today's columns: those files leave out values that other rows give (an interval
//! from the row before, a name's total from its lone process row or from its previous row) and store CPU as
//! decimals with ULP adjustments and sizes in KiB with remainders, so the row group is read whole, its samples
//! decoded, and its process and name rows' CPU and memory derived a column at a time into `cpu_pct` (Float32) and
//! `rss_bytes` (UInt64) beside the file's own columns (shared, not copied). The readers of later schemas' columns
//! then take it as they take those: no entry or string is built per row.

use std::path::Path;
use std::sync::Arc;

use arrow_array::{ArrayRef, Float32Array, RecordBatch, UInt64Array};
use arrow_schema::{DataType, Field, Schema};
use stabmon_core::series::SampleParts;
use stabmon_core::{Sample, Timestamp};

use super::cols::Cols;
use super::names::{LastValues, NameValues};
use super::processes::{Lone, LoneValues, VALUE_COLUMNS, ValueCols};
use super::range::Range;
use super::samples::decode_samples;
use super::segment::samples_of_rows;
use super::table::TableFile;
use crate::error::{Error, arrow, invalid};

/// A row group of a file older than schema 5, read by [`read_older`].
pub(super) struct Older {
    /// Every sample of the row group, in order (the range asked for may cut it), with the parts asked for.
    pub(super) samples: Vec<Sample>,
    /// The process rows of those samples: the columns asked for, then `cpu_pct` and `rss_bytes`.
    pub(super) processes: Vec<RecordBatch>,
    /// Their name rows likewise, the values the file left out derived.
    pub(super) names: Vec<RecordBatch>,
}

/// Reads row group `group` of `tables` (`samples`, and `processes` and `names` where the segment has them: without
/// them, no rows) of a file older than schema 5 whole, its samples with `parts`, and keeps of the process and name
/// rows the columns `keep` names (processes', names') with their values derived; `None` where the part of the row
/// group in `chunk` holds no sample.
pub(super) fn read_older(
    tables: (&TableFile, Option<&TableFile>, Option<&TableFile>),
    group: usize,
    chunk: Range,
    parts: SampleParts,
    keep: (&[&str], &[&str]),
) -> Result<Option<Older>, Error> {
    let (samples_file, procs, names) = tables;
    let version = samples_file.version;
    let path = &samples_file.path;
    let batches = samples_file.read(&[group], chunk, None, None)?;
    let (mut times, mut samples) = (Vec::new(), Vec::new());
    decode_samples(
        &batches,
        version,
        "",
        path,
        parts,
        &|_| true,
        (&mut times, &mut samples),
        &mut Vec::new(),
    )?;
    drop(batches);
    if !samples
        .iter()
        .any(|s| chunk.contains(s.ts.as_unix_micros()))
    {
        return Ok(None);
    }
    let (Some(first), Some(last)) = (samples.first(), samples.last()) else {
        return Ok(None);
    };
    if !samples.windows(2).all(|w| w[0].ts < w[1].ts) {
        return Err(invalid(
            path,
            "timestamps do not increase within the segment",
        ));
    }
    let whole = Range {
        from: Some(first.ts),
        // Unbounded after a last row at the last representable time.
        to: last
            .ts
            .as_unix_micros()
            .checked_add(1)
            .map(Timestamp::from_unix_micros),
    };
    let mut no_lists: [Vec<()>; 0] = [];
    let (mut proc_batches, mut name_batches) = (Vec::new(), Vec::new());
    // Each process row's values by sample, for the name totals that are their lone process's.
    let mut by_row = Vec::new();
    let proc_read = match procs {
        Some(t) => {
            let columns: Vec<&str> = keep
                .0
                .iter()
                .chain(&["name"])
                .chain(&VALUE_COLUMNS)
                .copied()
                .collect();
            t.read(&t.groups_in(whole), whole, None, Some(&columns))?
        }
        None => Vec::new(),
    };
    if let Some(t) = procs {
        let path = &t.path;
        let rows_at = samples_of_rows(&proc_read, &times, whole, &[], &mut no_lists, path)?;
        for (batch, rows_at) in proc_read.iter().zip(&rows_at) {
            let c = Cols { batch, path };
            let values = ValueCols::new(&c, version)?;
            let name = c.str("name")?;
            let mut derived = Derived::with_capacity(rows_at.len());
            for (i, at) in rows_at.iter().enumerate() {
                let Some(at) = *at else {
                    derived.push(0.0, 0);
                    continue;
                };
                let (cpu_pct, rss_bytes, _) = values.row(i, path)?;
                let n = name.get(i).ok_or_else(|| invalid(path, "a null name"))?;
                by_row.push((at, n, Lone::Values(cpu_pct, rss_bytes)));
                derived.push(cpu_pct, rss_bytes);
            }
            proc_batches.push(derived.beside(batch, keep.0, path)?);
        }
    }
    let lone = LoneValues::new(by_row, samples.len(), Vec::new(), &samples_file.path);
    if let Some(t) = names {
        let path = &t.path;
        let columns: Vec<&str> = keep
            .1
            .iter()
            .chain(&["name", "process_count"])
            .chain(&VALUE_COLUMNS)
            .copied()
            .collect();
        let name_read = t.read(&t.groups_in(whole), whole, None, Some(&columns))?;
        let rows_at = samples_of_rows(&name_read, &times, whole, &[], &mut no_lists, path)?;
        let mut last = LastValues::default();
        for (batch, rows_at) in name_read.iter().zip(&rows_at) {
            let c = Cols { batch, path };
            let mut values = NameValues::new(&c, version)?;
            let mut derived = Derived::with_capacity(rows_at.len());
            for (i, at) in rows_at.iter().enumerate() {
                let Some(at) = *at else {
                    derived.push(0.0, 0);
                    continue;
                };
                let (_, _, cpu_pct, rss_bytes, _) =
                    values.row(i, at, Some(&lone), &mut last, path)?;
                derived.push(cpu_pct, rss_bytes);
            }
            name_batches.push(derived.beside(batch, keep.1, path)?);
        }
    }
    drop(lone);
    Ok(Some(Older {
        samples,
        processes: proc_batches,
        names: name_batches,
    }))
}

/// The CPU % and resident bytes derived for a batch's rows (0 for a row of no sample read).
struct Derived {
    cpu: Vec<f32>,
    rss: Vec<u64>,
}

impl Derived {
    fn with_capacity(n: usize) -> Self {
        Derived {
            cpu: Vec::with_capacity(n),
            rss: Vec::with_capacity(n),
        }
    }

    fn push(&mut self, cpu_pct: f32, rss_bytes: u64) {
        self.cpu.push(cpu_pct);
        self.rss.push(rss_bytes);
    }

    /// `batch`'s columns `kept`, then `cpu_pct` and `rss_bytes` of these values.
    fn beside(self, batch: &RecordBatch, kept: &[&str], path: &Path) -> Result<RecordBatch, Error> {
        let schema = batch.schema();
        let mut fields = Vec::with_capacity(kept.len() + 2);
        let mut columns: Vec<ArrayRef> = Vec::with_capacity(kept.len() + 2);
        for name in kept {
            let (k, field) = schema
                .column_with_name(name)
                .ok_or_else(|| invalid(path, format!("the column {name} is missing")))?;
            fields.push(field.clone());
            columns.push(batch.column(k).clone());
        }
        fields.push(Field::new("cpu_pct", DataType::Float32, false));
        columns.push(Arc::new(Float32Array::from(self.cpu)));
        fields.push(Field::new("rss_bytes", DataType::UInt64, false));
        columns.push(Arc::new(UInt64Array::from(self.rss)));
        RecordBatch::try_new(Arc::new(Schema::new(fields)), columns).map_err(arrow(path))
    }
}
