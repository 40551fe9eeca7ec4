//! Encoding a row group column by column, each small chunk in the variant that makes it smallest.

use arrow_array::ArrayRef;
use parquet::arrow::arrow_writer::{ArrowColumnChunk, compute_leaves};

use crate::error::{Error, arrow, pq};

use super::segment::SegmentFile;

/// Chunks up to this size (compressed, page headers included) are also encoded as the other [`Variant`](crate::schema::Variant)s, and
/// the smallest is kept: constant and all-null columns, most of a short segment's columns, shrink from ~40-58 to
/// ~25-40 bytes (BENCHMARKS.md). Larger chunks gain nothing from it and would cost memory.
const TRY_VARIANTS_BELOW_BYTES: i64 = 512;

/// Writes one row group of `schema`, asking `column(i)` for each column in turn and encoding it before asking for
/// the next: each column's array is dropped and its writer closed (its zstd context freed) before the next one
/// starts. `ArrowWriter` keeps every column's writer, with a zstd context of up to a few hundred KB each, until
/// the row group is flushed: 14.5 MB of an hour's compaction peak (valgrind massif; BENCHMARKS.md). The encoded
/// chunks wait in memory, compressed, until the row group is written. The writers of the other [`Variant`](crate::schema::Variant)s
/// (uncompressed: no zstd context) exist for every column of the row group, and encode only chunks of at most
/// [`TRY_VARIANTS_BELOW_BYTES`].
pub(super) fn write_row_group(
    f: &mut SegmentFile,
    schema: &arrow_schema::Schema,
    mut column: impl FnMut(usize) -> Result<ArrayRef, arrow_schema::ArrowError>,
) -> Result<(), Error> {
    let index = f.writer.flushed_row_groups().len();
    let mut writers = f
        .columns
        .create_column_writers(index)
        .map_err(pq(&f.tmp))?
        .into_iter();
    let mut alternatives = Vec::with_capacity(f.alternatives.len());
    for factory in &f.alternatives {
        alternatives.push(
            factory
                .create_column_writers(index)
                .map_err(pq(&f.tmp))?
                .into_iter(),
        );
    }
    let mut chunks = Vec::with_capacity(schema.fields().len());
    for (i, field) in schema.fields().iter().enumerate() {
        let array = column(i).map_err(arrow(&f.tmp))?;
        if array.data_type() != field.data_type() {
            return Err(Error::Invalid {
                path: f.tmp.clone(),
                reason: format!(
                    "column {} is {}, not {}",
                    field.name(),
                    array.data_type(),
                    field.data_type()
                ),
            });
        }
        for leaf in compute_leaves(field, &array).map_err(pq(&f.tmp))? {
            let too_many = || Error::Invalid {
                path: f.tmp.clone(),
                reason: "more leaf columns than column writers".into(),
            };
            let mut w = writers.next().ok_or_else(too_many)?;
            w.write(&leaf).map_err(pq(&f.tmp))?;
            let mut chunk = w.close().map_err(pq(&f.tmp))?;
            // The first alternative changes the codec only; the second also drops the dictionary, so it is
            // tried only for a chunk that has one.
            let has_dictionary = chunk.close().metadata.dictionary_page_offset().is_some();
            for (k, alt) in alternatives.iter_mut().enumerate() {
                let mut w = alt.next().ok_or_else(too_many)?;
                let size = |c: &ArrowColumnChunk| c.close().metadata.compressed_size();
                if size(&chunk) <= TRY_VARIANTS_BELOW_BYTES && (k == 0 || has_dictionary) {
                    w.write(&leaf).map_err(pq(&f.tmp))?;
                    let other = w.close().map_err(pq(&f.tmp))?;
                    if size(&other) < size(&chunk) {
                        chunk = other;
                    }
                }
            }
            // No page encoding statistics in the footer: they are optional, no reader needs them (the chunk's
            // list of encodings stays), and they cost ~11 bytes per column per row group: 0.8 KB of every
            // segment's fixed cost (BENCHMARKS.md).
            let close = chunk.close_mut();
            close.metadata = close
                .metadata
                .clone()
                .into_builder()
                .clear_page_encoding_stats()
                .build()
                .map_err(pq(&f.tmp))?;
            chunks.push(chunk);
        }
    }
    let mut rg = f.writer.next_row_group().map_err(pq(&f.tmp))?;
    for chunk in chunks {
        chunk.append_to_row_group(&mut rg).map_err(pq(&f.tmp))?;
    }
    rg.close().map_err(pq(&f.tmp))?;
    Ok(())
}
