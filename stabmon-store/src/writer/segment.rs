//! The open segment: one Parquet file per table for one host and UTC date, written a row group at a time.

use std::fs::File;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use parquet::arrow::ArrowWriter;
use parquet::arrow::arrow_writer::{ArrowRowGroupWriterFactory, ArrowWriterOptions};
use parquet::file::writer::SerializedFileWriter;

use crate::error::{Error, arrow, io, pq};
use crate::layout::{EXITS, LATENCY, OOM_KILLS, partition_dir};
use crate::schema::{Variant, schema, writer_properties};

use super::buffer::Buffer;
use super::encode::write_row_group;

/// One table's file of the open segment.
pub(super) struct SegmentFile {
    pub(super) writer: SerializedFileWriter<File>,
    /// Makes the column writers of each row group.
    pub(super) columns: ArrowRowGroupWriterFactory,
    /// Make column writers of the other [`Variant`]s, tried for small chunks.
    pub(super) alternatives: [ArrowRowGroupWriterFactory; 2],
    pub(super) tmp: PathBuf,
    pub(super) path: PathBuf,
}

/// An open segment: one file per table for one host and UTC date, and the rows of its row group in progress.
pub(super) struct Segment {
    pub(super) host: String,
    pub(super) date: String,
    /// The file name shared by the segment's tables.
    pub(super) name: String,
    pub(super) last_ts: i64,
    pub(super) files: Vec<SegmentFile>,
    /// The latency table's file, opened when the first probe arrives.
    pub(super) latency: Option<SegmentFile>,
    /// The exits table's file, opened when the first exited name arrives.
    pub(super) exits: Option<SegmentFile>,
    /// The OOM-kill table's file, opened when the first kill arrives.
    pub(super) oom_kills: Option<SegmentFile>,
    pub(super) zstd_level: i32,
    pub(super) buf: Buffer,
    /// The buffer's string bytes after the row group's first sample (see
    /// [`WriterOptions::row_group_string_bytes`](super::WriterOptions::row_group_string_bytes)).
    pub(super) first_string_bytes: usize,
}

pub(super) fn flush_row_group(seg: &mut Segment, root: &Path) -> Result<(), Error> {
    if seg.buf.len() == 0 {
        return Ok(());
    }
    // One table at a time, and of `processes` and `names` (an hour is ~100,000 rows) one column at a time: the
    // buffer's rows and one column's array are what is held, never a whole record batch.
    let [samples, processes, names] = &mut seg.files[..] else {
        return Err(Error::Invalid {
            path: root.to_path_buf(),
            reason: "a segment without its three table files".into(),
        });
    };
    // `samples` last: the process and name rows refer to its ticks (`Buffer::ts`) by index, which it empties.
    let rows = seg.buf.take_process_rows();
    let sample_ts = std::mem::take(&mut seg.buf.ts);
    write_row_group(processes, &schema("processes"), |i| {
        seg.buf.process_column(&rows, &sample_ts, i)
    })?;
    drop(rows);
    let rows = seg.buf.take_name_rows();
    write_row_group(names, &schema("names"), |i| {
        seg.buf.name_column(&rows, &sample_ts, i)
    })?;
    drop(rows);
    seg.buf.ts = sample_ts;
    let batch = seg.buf.samples_batch().map_err(arrow(root))?;
    write_row_group(samples, &schema("samples"), |i| {
        Ok(Arc::clone(batch.column(i)))
    })?;
    drop(batch);
    // The tables only some segments have: their file is opened with their first rows.
    let optional = [
        (LATENCY, seg.buf.take_latency_batch().map_err(arrow(root))?),
        (EXITS, seg.buf.take_exits_batch().map_err(arrow(root))?),
        (
            OOM_KILLS,
            seg.buf.take_oom_kill_batch().map_err(arrow(root))?,
        ),
    ];
    for (table, batch) in optional {
        let Some(batch) = batch else { continue };
        let slot = match table {
            LATENCY => &mut seg.latency,
            EXITS => &mut seg.exits,
            _ => &mut seg.oom_kills,
        };
        let f = optional_file(
            slot,
            root,
            table,
            &seg.host,
            &seg.date,
            &seg.name,
            seg.zstd_level,
        )?;
        write_row_group(f, &batch.schema(), |i| Ok(Arc::clone(batch.column(i))))?;
    }
    Ok(())
}

/// The file of a table that only some segments have (latency, exits, OOM kills), opened with its directory when its
/// first rows arrive.
fn optional_file<'a>(
    slot: &'a mut Option<SegmentFile>,
    root: &Path,
    table: &str,
    host: &str,
    date: &str,
    name: &str,
    zstd_level: i32,
) -> Result<&'a mut SegmentFile, Error> {
    if let Some(f) = slot {
        return Ok(f);
    }
    let dir = partition_dir(root, table, host, date);
    std::fs::create_dir_all(&dir).map_err(|source| Error::CreateDir {
        path: dir.clone(),
        source,
    })?;
    let file = open_file(&dir, name, table, host, zstd_level)?;
    Ok(slot.insert(file))
}

/// Creates a table's file of a segment under its hidden temporary name.
pub(super) fn open_file(
    dir: &Path,
    name: &str,
    table: &str,
    host: &str,
    zstd_level: i32,
) -> Result<SegmentFile, Error> {
    let tmp = dir.join(format!(".{name}.parquet.tmp"));
    let path = dir.join(format!("{name}.parquet"));
    let file = File::options()
        .write(true)
        .create_new(true)
        .open(&tmp)
        .map_err(io(&tmp))?;
    // No embedded Arrow schema: it would add kilobytes to every footer, and the Parquet types already say
    // everything (the reader accepts plain or dictionary strings).
    let options = |variant| {
        ArrowWriterOptions::new()
            .with_properties(writer_properties(table, host, zstd_level, variant))
            .with_skip_arrow_metadata(true)
    };
    let (writer, columns) =
        ArrowWriter::try_new_with_options(file, schema(table), options(Variant::Chosen))
            .and_then(ArrowWriter::into_serialized_writer)
            .map_err(pq(&tmp))?;
    // The alternatives' column writers encode into memory; their file writers only carry the properties.
    let alternative = |variant| {
        ArrowWriter::try_new_with_options(std::io::sink(), schema(table), options(variant))
            .and_then(ArrowWriter::into_serialized_writer)
            .map(|(_, factory)| factory)
            .map_err(pq(&tmp))
    };
    Ok(SegmentFile {
        writer,
        columns,
        alternatives: [
            alternative(Variant::Uncompressed)?,
            alternative(Variant::UncompressedNoDictionary)?,
        ],
        tmp,
        path,
    })
}
