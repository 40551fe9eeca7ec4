//! A table's Parquet file: opened and checked as stabmon data (its footer parsed once), then read row group by
//! row group: the columns asked for, and of schema 5 and later only the rows wanted where a row group reaches
//! outside them.

use std::fs::File;
use std::path::{Path, PathBuf};
use std::sync::{Arc, OnceLock};

use arrow_array::cast::AsArray;
use arrow_array::types::TimestampMicrosecondType;
use arrow_array::{BooleanArray, RecordBatch};
use arrow_schema::{ArrowError, DataType, Field, Schema};
use parquet::arrow::ProjectionMask;
use parquet::arrow::arrow_reader::{
    ArrowPredicateFn, ArrowReaderMetadata, ArrowReaderOptions, ParquetRecordBatchReaderBuilder,
    RowFilter,
};
use parquet::file::metadata::{
    ColumnChunkMetaData, PageIndexPolicy, ParquetMetaData, ParquetMetaDataReader, RowGroupMetaData,
};
use parquet::file::reader::Length;
use parquet::file::statistics::Statistics;
use stabmon_core::Timestamp;

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
/// files are read whole and the caller drops the rest.
pub(super) fn read_table(
    path: &Path,
    objects: Objects<'_>,
    table: &str,
    range: Range,
    only: Option<&[i64]>,
) -> Result<(u32, Vec<RecordBatch>), Error> {
    let file = TableFile::open(path, objects, Some(table), Strings::Plain)?;
    let groups = file.groups_in(range);
    Ok((file.version, file.read(&groups, range, only, None)?))
}

/// Rows decoded per record batch.
const BATCH_ROWS: usize = 64 * 1024;

/// A table file opened for reading: the footer is parsed once for all the row groups read from it.
pub(super) struct TableFile {
    pub(super) path: PathBuf,
    file: Input,
    meta: ArrowReaderMetadata,
    /// The schema the batches come in (strings as dictionaries where asked).
    schema: Arc<Schema>,
    /// `meta` with the file's page index, loaded at the first read that picks rows out of a row group: `None`
    /// where the file has none (written before it had one) or it does not fit the file.
    indexed: OnceLock<Option<ArrowReaderMetadata>>,
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

impl TableFile {
    /// Opens `path`, checking that it is stabmon data of `table` (any table with `None`) of a schema this build
    /// reads.
    pub(super) fn open(
        path: &Path,
        objects: Objects<'_>,
        table: Option<&str>,
        strings: Strings,
    ) -> Result<Self, Error> {
        let file = Input::open(path, objects)?;
        let file_len = file.len();
        let mut meta =
            ArrowReaderMetadata::load(&file, ArrowReaderOptions::new()).map_err(pq(path))?;
        check_chunks(meta.metadata(), file_len, path)?;
        let version = schema_version(meta.metadata(), path, table)?;
        if strings == Strings::Dictionary {
            let fields: Vec<Field> = meta
                .schema()
                .fields()
                .iter()
                .map(|f| match f.data_type() {
                    DataType::Utf8 => f.as_ref().clone().with_data_type(DataType::Dictionary(
                        Box::new(DataType::Int32),
                        Box::new(DataType::Utf8),
                    )),
                    _ => f.as_ref().clone(),
                })
                .collect();
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
            schema: meta.schema().clone(),
            meta,
            indexed: OnceLock::new(),
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
        // Decode `ts` first, then the other columns only for the rows wanted; not needed where every row group
        // read lies inside the range. Pages without a row wanted are skipped undecoded, found through the offset
        // index where the file has one.
        let inside = |g: &usize| {
            self.spans
                .get(*g)
                .copied()
                .flatten()
                .is_some_and(|(min, max)| range.contains(min) && range.contains(max))
        };
        let pick = self.version >= 5 && (only.is_some() || !groups.iter().all(inside));
        let indexed = if pick { self.indexed() } else { None };
        let meta = indexed.unwrap_or(&self.meta).clone();
        let input = self.file.try_clone(&self.path)?;
        let mut builder = ParquetRecordBatchReaderBuilder::new_with_metadata(input, meta)
            .with_row_groups(groups.to_vec())
            .with_batch_size(BATCH_ROWS);
        if let Some(projection) = projection {
            builder = builder.with_projection(projection);
        }
        if pick {
            let mask = ProjectionMask::leaves(descr, [self.ts_col]);
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
        let reader = builder.build().map_err(pq(&self.path))?;
        reader.map(|b| b.map_err(arrow(&self.path))).collect()
    }

    /// The file's metadata with its page index, loaded once (see `indexed`).
    fn indexed(&self) -> Option<&ArrowReaderMetadata> {
        self.indexed
            .get_or_init(|| {
                let md = self.meta.metadata();
                // Files written without a page index have no offsets of one in their footer: nothing to read.
                let any = md.row_groups().iter().any(|rg| {
                    rg.columns()
                        .iter()
                        .any(|c| c.offset_index_offset().is_some())
                });
                if !any {
                    return None;
                }
                let mut with_index = ParquetMetaDataReader::new_with_metadata(md.as_ref().clone())
                    .with_page_index_policy(PageIndexPolicy::Optional);
                with_index.read_page_indexes(&self.file).ok()?;
                let md = with_index.finish().ok()?;
                // Pages are read where the offset index says: each must lie inside its column chunk.
                let index = md.page_index()?;
                for (g, rg) in md.row_groups().iter().enumerate() {
                    for (c, col) in rg.columns().iter().enumerate() {
                        let chunk = chunk_bytes(col)?;
                        for page in index.offset_index(g, c)?.page_locations() {
                            let start = u64::try_from(page.offset).ok()?;
                            let end = start
                                .checked_add(u64::try_from(page.compressed_page_size).ok()?)?;
                            if start < chunk.start || end > chunk.end {
                                return None;
                            }
                        }
                    }
                }
                ArrowReaderMetadata::try_new(
                    Arc::new(md),
                    ArrowReaderOptions::new().with_schema(self.schema.clone()),
                )
                .ok()
            })
            .as_ref()
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

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]
    use super::*;
    use crate::StoreWriter;
    use crate::layout::LATENCY;
    use crate::reader::StoreReader;
    use stabmon_core::synth::Synth;

    /// The tables read at instants are written in pages small enough to skip, with an offset index; reading
    /// instants and windows through it gives what reading without it gives.
    #[test]
    fn reads_through_the_page_index_equal_reads_without() {
        let dir = tempfile::tempdir().unwrap();
        let t0 = Timestamp::from_unix_secs(1_795_564_800);
        let samples = Synth::new(t0, std::time::Duration::from_secs(1))
            .count(3600)
            .processes(40)
            .latency_target("gw", 2.0, 0.5)
            .generate();
        let mut w = StoreWriter::create(dir.path()).unwrap();
        for s in &samples {
            w.write(s).unwrap();
        }
        w.finish().unwrap();
        let reader = StoreReader::open(dir.path()).unwrap();
        let seg = reader.selected().next().unwrap().clone();
        let micros = |i: usize| samples[i].ts.as_unix_micros();
        let only = [micros(10), micros(1800), micros(1801), micros(3599)];
        let window = Range {
            from: Some(samples[2000].ts),
            to: Some(samples[2300].ts),
        };
        for table in ["samples", "processes", "names", LATENCY] {
            let path = seg.file(table);
            let file = TableFile::open(&path, None, Some(table), Strings::Plain).unwrap();
            let indexed = file.indexed().expect("a page index");
            let md = indexed.metadata();
            let index = md.page_index().unwrap();
            let most_pages = (0..md.file_metadata().schema_descr().num_columns())
                .map(|c| index.offset_index(0, c).unwrap().page_locations().len())
                .max()
                .unwrap();
            if table == "processes" || table == "names" {
                assert!(most_pages > 3, "{table}: {most_pages} pages at most");
            }
            let mut without = TableFile::open(&path, None, Some(table), Strings::Plain).unwrap();
            without.indexed = OnceLock::from(None);
            let groups = file.groups_in(Range::ALL);
            for (range, only) in [(Range::ALL, Some(&only[..])), (window, None)] {
                let got = file.read(&groups, range, only, None).unwrap();
                let want = without.read(&groups, range, only, None).unwrap();
                let rows: usize = got.iter().map(RecordBatch::num_rows).sum();
                assert!(rows > 0, "{table}");
                assert_eq!(got, want, "{table}");
            }
        }
    }

    /// A file written before the offset index (the schema-6 fixture) has no page index, and reads as before.
    #[test]
    fn a_file_without_an_offset_index_reads_as_before() {
        let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/store-v6");
        let reader = StoreReader::open(&root).unwrap();
        let (file, all) = reader
            .selected()
            .find_map(|seg| {
                let file = TableFile::open(
                    &seg.file("processes"),
                    None,
                    Some("processes"),
                    Strings::Plain,
                )
                .ok()?;
                let all = file
                    .read(&file.groups_in(Range::ALL), Range::ALL, None, None)
                    .unwrap();
                all.iter().any(|b| b.num_rows() > 0).then_some((file, all))
            })
            .unwrap();
        assert!(
            file.version < 7 && file.indexed().is_none(),
            "{}",
            file.path.display()
        );
        let all: Vec<RecordBatch> = all.into_iter().filter(|b| b.num_rows() > 0).collect();
        let ts = all[0]
            .column_by_name("ts")
            .unwrap()
            .as_primitive::<TimestampMicrosecondType>();
        let only = [ts.value(0)];
        let got = file
            .read(&file.groups_in(Range::ALL), Range::ALL, Some(&only), None)
            .unwrap();
        let rows: usize = got.iter().map(RecordBatch::num_rows).sum();
        let want = ts.iter().filter(|t| *t == Some(only[0])).count();
        assert!(rows > 0);
        assert_eq!(rows, want);
    }
}
