//! A table's Parquet file: opened and checked as stabmon data, its batches read for a time range.

use std::fs::File;
use std::path::Path;
use std::sync::Arc;

use arrow_array::cast::AsArray;
use arrow_array::types::TimestampMicrosecondType;
use arrow_array::{BooleanArray, RecordBatch};
use arrow_schema::ArrowError;
use parquet::arrow::ProjectionMask;
use parquet::arrow::arrow_reader::{ArrowPredicateFn, ParquetRecordBatchReaderBuilder, RowFilter};
use parquet::file::metadata::ParquetMetaData;
use parquet::file::statistics::Statistics;

use crate::error::{Error, arrow, invalid, io, pq};
use crate::schema::{KEY_SCHEMA_VERSION, KEY_TABLE, SCHEMA_VERSION};

use super::range::Range;

/// Opens a Parquet file and checks its stabmon metadata (schema version, and table when given); gives the
/// metadata and the schema version too.
pub(super) fn open_checked(
    path: &Path,
    table: Option<&str>,
) -> Result<
    (
        ParquetRecordBatchReaderBuilder<File>,
        std::sync::Arc<ParquetMetaData>,
        u32,
    ),
    Error,
> {
    let file = File::open(path).map_err(io(path))?;
    let builder = ParquetRecordBatchReaderBuilder::try_new(file).map_err(pq(path))?;
    let md = builder.metadata().clone();
    let kv = md.file_metadata().key_value_metadata();
    let get = |key: &str| {
        kv.and_then(|kv| kv.iter().find(|e| e.key == key))
            .and_then(|e| e.value.clone())
    };
    let version = get(KEY_SCHEMA_VERSION).ok_or_else(|| {
        invalid(
            path,
            format!("no {KEY_SCHEMA_VERSION} in its metadata: not written by stabmon"),
        )
    })?;
    let version: u32 = version.trim().parse().map_err(|_| {
        invalid(
            path,
            format!("{KEY_SCHEMA_VERSION} is {version:?}, not a number"),
        )
    })?;
    if version > SCHEMA_VERSION {
        return Err(Error::NewerSchema {
            path: path.to_path_buf(),
            found: version,
            supported: SCHEMA_VERSION,
        });
    }
    if version == 0 {
        return Err(invalid(path, "schema version 0 does not exist"));
    }
    if let Some(table) = table {
        let found = get(KEY_TABLE).unwrap_or_default();
        if found != table {
            return Err(invalid(
                path,
                format!("it holds the table {found:?}, expected {table:?}"),
            ));
        }
    }
    Ok((builder, md, version))
}

/// Reads the batches of a table file whose row groups may hold rows in `range` (by the `ts` statistics), and
/// the file's schema version. With `only` (sorted), a file of schema 5 or later (whose rows derive nothing from
/// other rows) decodes its `ts` column first and the other columns only for the rows at those times; older
/// files are read whole and the caller drops the rest.
pub(super) fn read_table(
    path: &Path,
    table: &str,
    range: Range,
    only: Option<&[i64]>,
) -> Result<(u32, Vec<RecordBatch>), Error> {
    read_columns(path, table, range, only, None)
}

/// [`read_table`] of the columns `names` only (all of them with `None`).
pub(super) fn read_columns(
    path: &Path,
    table: &str,
    range: Range,
    only: Option<&[i64]>,
    names: Option<&[&str]>,
) -> Result<(u32, Vec<RecordBatch>), Error> {
    let (builder, md, version) = open_checked(path, Some(table))?;
    let ts_col = md
        .file_metadata()
        .schema_descr()
        .columns()
        .iter()
        .position(|c| c.path().string() == "ts")
        .ok_or_else(|| invalid(path, "no ts column"))?;
    let groups: Vec<usize> = md
        .row_groups()
        .iter()
        .enumerate()
        .filter(|(_, rg)| match rg.column(ts_col).statistics() {
            Some(Statistics::Int64(s)) => match (s.min_opt(), s.max_opt()) {
                (Some(&min), Some(&max)) => range.overlaps(min, max),
                _ => true,
            },
            _ => true,
        })
        .map(|(i, _)| i)
        .collect();
    let mut builder = builder.with_row_groups(groups).with_batch_size(64 * 1024);
    if let Some(names) = names {
        let mask =
            ProjectionMask::columns(md.file_metadata().schema_descr(), names.iter().copied());
        builder = builder.with_projection(mask);
    }
    // Schema 5 rows derive nothing from other rows: decode `ts` first, then the other columns only for the rows
    // wanted (the instants asked for, or the range where it cuts a row group).
    let bounded = range.from.is_some() || range.to.is_some();
    if version >= 5 && (only.is_some() || bounded) {
        let mask = ProjectionMask::leaves(md.file_metadata().schema_descr(), [ts_col]);
        let only: Option<Arc<[i64]>> = only.map(Into::into);
        let keep = ArrowPredicateFn::new(mask, move |batch: RecordBatch| {
            let ts = batch
                .column(0)
                .as_primitive_opt::<TimestampMicrosecondType>()
                .ok_or_else(|| ArrowError::SchemaError("ts is not a timestamp".into()))?;
            Ok(ts
                .iter()
                .map(|t| {
                    Some(t.is_some_and(|t| {
                        range.contains(t)
                            && only.as_ref().is_none_or(|o| o.binary_search(&t).is_ok())
                    }))
                })
                .collect::<BooleanArray>())
        });
        builder = builder.with_row_filter(RowFilter::new(vec![Box::new(keep)]));
    }
    let reader = builder.build().map_err(pq(path))?;
    let mut out = Vec::new();
    for batch in reader {
        out.push(batch.map_err(arrow(path))?);
    }
    Ok((version, out))
}
