//! A table's Parquet file: opened and checked as stabmon data (its footer parsed once), then read row group by
//! row group: the columns asked for, and of schema 5 and later only the rows wanted where a row group reaches
//! outside them.

use std::fs::File;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use arrow_array::cast::AsArray;
use arrow_array::types::TimestampMicrosecondType;
use arrow_array::{Array, BooleanArray, RecordBatch};
use arrow_buffer::BooleanBuffer;
use arrow_schema::{DataType, Field, Schema};
use parquet::arrow::ProjectionMask;
use parquet::arrow::arrow_reader::{
    ArrowReaderMetadata, ArrowReaderOptions, ParquetRecordBatchReaderBuilder, RowSelection,
};
use parquet::basic::Type as PhysicalType;
use parquet::file::metadata::{ColumnChunkMetaData, ParquetMetaData, RowGroupMetaData};
use parquet::file::reader::Length;
use parquet::file::statistics::Statistics;
use stabmon_core::Timestamp;

use super::footers::footer;
use super::range::Range;
use super::ranges::{Input, Objects};
use super::scan::MICRO;
use crate::error::{Error, arrow, contain, invalid, io, pq};
use crate::schema::{KEY_SCHEMA_VERSION, KEY_TABLE, SCHEMA_VERSION};

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
    contain(path, || {
        let file = File::open(path).map_err(io(path))?;
        let file_len = file.metadata().map_err(io(path))?.len();
        let builder = ParquetRecordBatchReaderBuilder::try_new(file).map_err(pq(path))?;
        let md = builder.metadata().clone();
        check_chunks(&md, file_len, path)?;
        let version = schema_version(&md, path, table)?;
        Ok((builder, md, version))
    })
}

/// Reads the batches of a table file whose row groups may hold rows in `range` (by the `ts` statistics), and
/// the file's schema version. With `only` (sorted), a file of schema 5 or later (whose rows derive nothing from
/// other rows) decodes its `ts` column first and the other columns only for the rows at those times; older
/// files are read whole and the caller drops the rest. Only `columns` are decoded, but of a `samples` file older
/// than schema 5 every column (its machine values derive from the per-core ones and its rows' exactness values
/// are read together).
pub(super) fn read_table(
    path: &Path,
    objects: Objects<'_>,
    table: &str,
    range: Range,
    only: Option<&[i64]>,
    columns: Columns<'_>,
) -> Result<(u32, Vec<RecordBatch>), Error> {
    let file = TableFile::open(path, objects, Some(table), Strings::Dictionary)?;
    let groups = file.groups_in(range);
    let fields = file.meta.schema().fields();
    let names: Option<Vec<&str>> = match columns {
        _ if file.version < 5 && table == "samples" => None,
        Columns::All => None,
        Columns::Only(names) => Some(names.to_vec()),
        Columns::Without(left_out) => Some(
            fields
                .iter()
                .map(|f| f.name().as_str())
                .filter(|n| !left_out.contains(n))
                .collect(),
        ),
    };
    Ok((
        file.version,
        file.read(&groups, range, only, names.as_deref())?,
    ))
}

/// The columns a read of a table decodes ([`read_table`]).
#[derive(Clone, Copy)]
pub(super) enum Columns<'a> {
    /// Every column.
    All,
    /// Only these (absent ones are left out).
    Only(&'a [&'a str]),
    /// Every column but these.
    Without(&'a [&'a str]),
}

/// Rows decoded per record batch at most: a column of 8-byte values then takes 128 KiB, under the 1 MiB from which
/// the reading commands have glibc map each block on its own (see the CLI's `malloc`), so that a batch's arrays
/// reuse freed heap instead of being mapped, zeroed page by page and unmapped again (a row group of process rows,
/// 36,000 rows an hour at 1 s with top 10, was 290 KB a column in one batch), and a batch's worth of every column
/// allocated up front stays small.
const BATCH_ROWS: usize = 16 * 1024;

/// A table file opened for reading: the footer is parsed once for all the row groups read from it.
pub(super) struct TableFile {
    pub(super) path: PathBuf,
    file: Input,
    meta: ArrowReaderMetadata,
    /// The file's schema version.
    pub(super) version: u32,
    /// The leaf index of `ts`.
    ts_col: usize,
    /// Each row group's first and last `ts`, where its footer has them.
    spans: Vec<Option<(i64, i64)>>,
}

/// How string columns come back.
#[derive(Clone, Copy, PartialEq, Eq)]
pub(super) enum Strings {
    /// As `StringArray`s.
    Plain,
    /// As dictionaries of the file's own (a key per row, each distinct value decoded once per row group).
    Dictionary,
}

/// The type a column of type `t` is decoded as: strings as dictionaries where asked for, and decimals stored as
/// 32-bit integers (`int32`, the percentages of schemas 1-4: `DECIMAL(9,2)`) as 32-bit decimals, taken as stored
/// rather than widened to 128 bits a value (lists' values likewise). Decimals stored otherwise (another writer's
/// `int64` or bytes) stay 128-bit: the parquet crate narrows only `int32`.
fn read_as(t: &DataType, strings: Strings, stored_int32: bool) -> DataType {
    match t {
        DataType::Utf8 if strings == Strings::Dictionary => {
            DataType::Dictionary(Box::new(DataType::Int32), Box::new(DataType::Utf8))
        }
        DataType::Decimal128(p, s) if *p <= 9 && stored_int32 => DataType::Decimal32(*p, *s),
        DataType::List(item) => {
            let inner = read_as(item.data_type(), strings, stored_int32);
            DataType::List(Arc::new(item.as_ref().clone().with_data_type(inner)))
        }
        t => t.clone(),
    }
}

impl TableFile {
    /// Opens `path`, checking that it is stabmon data of `table` (any table with `None`) of a schema this build
    /// reads.
    pub(super) fn open(
        path: &Path,
        objects: Objects<'_>,
        table: Option<&str>,
        strings: Strings,
    ) -> Result<Self, Error> {
        let mut file = Input::open(path, objects)?;
        let file_len = file.len();
        // Parsed once per reader while the file does not change (see `footers`).
        let footer = footer(path, &file, objects)?;
        let mut meta = footer.arrow(path)?;
        check_chunks(meta.metadata(), file_len, path)?;
        file.bound_to(Arc::clone(&footer.chunks));
        let version = schema_version(meta.metadata(), path, table)?;
        // The top-level columns whose every leaf is stored as `int32`.
        let leaves = meta.metadata().file_metadata().schema_descr().columns();
        let int32 = |name: &str| {
            let mut of = leaves
                .iter()
                .filter(|c| c.path().parts().first().map(String::as_str) == Some(name));
            let first = of.next();
            first.is_some_and(|c| c.physical_type() == PhysicalType::INT32)
                && of.all(|c| c.physical_type() == PhysicalType::INT32)
        };
        let fields: Vec<Field> = meta
            .schema()
            .fields()
            .iter()
            .map(|f| {
                let t = read_as(f.data_type(), strings, int32(f.name()));
                f.as_ref().clone().with_data_type(t)
            })
            .collect();
        if fields
            .iter()
            .zip(meta.schema().fields())
            .any(|(a, b)| a != b.as_ref())
        {
            let schema = Schema::new_with_metadata(fields, meta.schema().metadata().clone());
            meta = ArrowReaderMetadata::try_new(
                meta.metadata().clone(),
                ArrowReaderOptions::new().with_schema(Arc::new(schema)),
            )
            .map_err(pq(path))?;
        }
        let md = meta.metadata();
        let ts_col = md
            .file_metadata()
            .schema_descr()
            .columns()
            .iter()
            .position(|c| c.path().string() == "ts")
            .ok_or_else(|| invalid(path, "no ts column"))?;
        let spans = md
            .row_groups()
            .iter()
            .map(|rg| ts_span(rg, ts_col))
            .collect();
        Ok(TableFile {
            path: path.to_path_buf(),
            file,
            meta,
            version,
            ts_col,
            spans,
        })
    }

    /// The row groups `range` may overlap (those without statistics included), in file order.
    pub(super) fn groups_in(&self, range: Range) -> Vec<usize> {
        self.spans
            .iter()
            .enumerate()
            .filter(|(_, s)| s.is_none_or(|(min, max)| range.overlaps(min, max)))
            .map(|(i, _)| i)
            .collect()
    }

    /// The rows of row group `group` as its footer states them, at most [`BATCH_ROWS`] (a count to size buffers by,
    /// not to trust: a damaged footer may state any).
    pub(super) fn rows_hint(&self, group: usize) -> usize {
        let md = self.meta.metadata();
        let rows = md.row_groups().get(group).map_or(0, |g| g.num_rows());
        usize::try_from(rows).unwrap_or(0).min(BATCH_ROWS)
    }

    /// The part of `range` row group `group` holds (all of it where the footer has no statistics).
    pub(super) fn chunk(&self, group: usize, range: Range) -> Range {
        let Some((first, last)) = self.spans.get(group).copied().flatten() else {
            return range;
        };
        let (first, end) = (
            Timestamp::from_unix_micros(first),
            Timestamp::from_unix_micros(last).saturating_add(MICRO),
        );
        Range {
            from: Some(range.from.map_or(first, |f| f.max(first))),
            to: Some(range.to.map_or(end, |t| t.min(end))),
        }
    }

    /// The columns `names` (all with `None`) of the row groups `groups`; of schema 5 and later only the rows in
    /// `range` and, with `only`, at those instants (sorted). Older files derive values from other rows, so their
    /// row groups come whole.
    pub(super) fn read(
        &self,
        groups: &[usize],
        range: Range,
        only: Option<&[i64]>,
        names: Option<&[&str]>,
    ) -> Result<Vec<RecordBatch>, Error> {
        let descr = self.meta.metadata().file_metadata().schema_descr();
        let projection = names.map(|names| ProjectionMask::columns(descr, names.iter().copied()));
        // From a bucket, the column chunks this read decodes are fetched first, in one batch of requests.
        let md = self.meta.metadata();
        self.file.prefetch(groups.iter().flat_map(|&g| {
            md.row_group(g)
                .columns()
                .iter()
                .enumerate()
                .filter(|(i, _)| {
                    *i == self.ts_col || projection.as_ref().is_none_or(|p| p.leaf_included(*i))
                })
                .filter_map(|(_, c)| chunk_bytes(c))
        }))?;
        let input = self.file.try_clone(&self.path)?;
        // Batches no larger than the rows read: the reader allocates (and zeroes) a batch's worth of every column
        // up front, which for a row group of an hour is twenty times what it holds.
        let rows: i64 = groups
            .iter()
            .filter_map(|&g| md.row_groups().get(g))
            .map(RowGroupMetaData::num_rows)
            .try_fold(0i64, i64::checked_add)
            .unwrap_or(-1);
        let batch_rows = usize::try_from(rows)
            .unwrap_or(BATCH_ROWS)
            .clamp(1, BATCH_ROWS);
        // Where a row group reaches outside the range (or only some instants are wanted), `ts` is decoded
        // first, then the other columns only for the rows wanted.
        let inside = |g: &usize| {
            self.spans
                .get(*g)
                .copied()
                .flatten()
                .is_some_and(|(min, max)| range.contains(min) && range.contains(max))
        };
        let filtered = self.version >= 5 && (only.is_some() || !groups.iter().all(inside));
        if !filtered {
            // Every row of the row groups: read with this thread's zstd decompressor.
            let mask = projection.unwrap_or_else(ProjectionMask::all);
            let reader = super::unzstd::reader(input, &self.meta, groups, mask, batch_rows, None)
                .map_err(pq(&self.path))?;
            return reader.map(|b| b.map_err(arrow(&self.path))).collect();
        }
        // The rows wanted, from `ts` alone, then the columns wanted for those rows only.
        let ts_mask = ProjectionMask::leaves(descr, [self.ts_col]);
        let ts_input = self.file.try_clone(&self.path)?;
        let from = range.from.map_or(i64::MIN, Timestamp::as_unix_micros);
        let to = range.to.map(Timestamp::as_unix_micros);
        // `Range::contains` on plain integers: an open end keeps every later time.
        let inside = |t: i64| from <= t && to.is_none_or(|to| t < to);
        // With instants, the first of them at or after the last row's time: rows of one process or name run in
        // time order, so this mostly moves a step at a time instead of searching every row's time.
        let mut next = 0usize;
        let mut last = i64::MIN;
        let mut wanted = |t: i64| {
            let Some(o) = only else {
                return inside(t);
            };
            if t < last {
                next = o.partition_point(|x| *x < t);
            }
            last = t;
            while o.get(next).is_some_and(|x| *x < t) {
                next += 1;
            }
            inside(t) && o.get(next) == Some(&t)
        };
        let mut keep: Vec<BooleanArray> = Vec::new();
        for batch in super::unzstd::reader(ts_input, &self.meta, groups, ts_mask, batch_rows, None)
            .map_err(pq(&self.path))?
        {
            let batch = batch.map_err(arrow(&self.path))?;
            let ts = batch
                .column(0)
                .as_primitive_opt::<TimestampMicrosecondType>()
                .ok_or_else(|| invalid(&self.path, "ts is not a timestamp"))?;
            // A bit a row, straight from the values (a null time is never wanted).
            let values = ts.values();
            let bits = match ts.nulls() {
                None => BooleanBuffer::collect_bool(values.len(), |i| wanted(values[i])),
                Some(nulls) => BooleanBuffer::collect_bool(values.len(), |i| {
                    nulls.is_valid(i) && wanted(values[i])
                }),
            };
            keep.push(BooleanArray::new(bits, None));
        }
        // A damaged time column with fewer (or more) values than its row groups' rows would shift the selection
        // onto other rows.
        let values: usize = keep.iter().map(Array::len).sum();
        if i64::try_from(values).ok() != Some(rows) {
            return Err(invalid(
                &self.path,
                format!("its time column holds {values} values for {rows} rows"),
            ));
        }
        let selection = RowSelection::from_filters(&keep);
        let mask = projection.unwrap_or_else(ProjectionMask::all);
        let reader =
            super::unzstd::reader(input, &self.meta, groups, mask, batch_rows, Some(selection))
                .map_err(pq(&self.path))?;
        reader.map(|b| b.map_err(arrow(&self.path))).collect()
    }
}

/// A row group's first and last `ts` (the leaf `ts_col`), where its footer's statistics have both.
pub(super) fn ts_span(rg: &RowGroupMetaData, ts_col: usize) -> Option<(i64, i64)> {
    match rg.column(ts_col).statistics() {
        Some(Statistics::Int64(s)) => s.min_opt().copied().zip(s.max_opt().copied()),
        _ => None,
    }
}

/// A column chunk's bytes in its file (its dictionary page first), where the footer's offset and size are neither
/// negative nor past `u64`.
pub(super) fn chunk_bytes(c: &ColumnChunkMetaData) -> Option<std::ops::Range<u64>> {
    let start = u64::try_from(c.dictionary_page_offset().unwrap_or(c.data_page_offset())).ok()?;
    let end = start.checked_add(u64::try_from(c.compressed_size()).ok()?)?;
    Some(start..end)
}

/// Checks that every column chunk the footer lists lies inside the file, before a page of it is read: a damaged
/// footer's offsets and sizes are what the Parquet reader allocates and seeks by (a negative one makes it panic,
/// a huge one would allocate that much).
pub(super) fn check_chunks(md: &ParquetMetaData, file_len: u64, path: &Path) -> Result<(), Error> {
    for (g, rg) in md.row_groups().iter().enumerate() {
        for col in rg.columns() {
            let inside = chunk_bytes(col).is_some_and(|bytes| bytes.end <= file_len);
            if !inside {
                let start = col
                    .dictionary_page_offset()
                    .unwrap_or(col.data_page_offset());
                let len = col.compressed_size();
                return Err(invalid(
                    path,
                    format!(
                        "row group {g}, column {}: its data ({len} bytes at offset {start}) is not inside the \
                         file of {file_len} bytes",
                        col.column_path().string()
                    ),
                ));
            }
        }
    }
    Ok(())
}

/// The schema version in a file's footer, checked: stabmon data, of `table` where given, not newer than this
/// build reads.
pub(super) fn schema_version(
    md: &ParquetMetaData,
    path: &Path,
    table: Option<&str>,
) -> Result<u32, Error> {
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
    Ok(version)
}
