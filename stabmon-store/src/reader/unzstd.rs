//! Whole row groups of a table read with one zstd decompressor per thread, kept from one column chunk to the next.
//!
//! The parquet crate makes a codec for every column chunk it reads, and its zstd codec makes a compressor and a
//! decompressor each time: both ask the CPU what it supports (`cpuid`), which a virtual machine answers slowly. A
//! month's series reads about 25,000 column chunks, and making their codecs took a third of the decoding
//! threads' time. Here the crate reads each zstd chunk's pages as they are stored (its metadata saying
//! "uncompressed"), and the pages are decompressed by this thread's decompressor before the crate decodes them.
//! Reads of some rows (a time range inside a row group, the instants of hover moments) read the time column
//! this way first and then the columns wanted for the rows it selects.

use std::cell::RefCell;
use std::sync::Arc;

use bytes::Bytes;
use parquet::arrow::arrow_reader::{
    ArrowReaderMetadata, ParquetRecordBatchReader, RowGroups, RowSelection,
};
use parquet::arrow::{ProjectionMask, parquet_to_arrow_field_levels};
use parquet::basic::Compression;
use parquet::column::page::{Page, PageIterator, PageMetadata, PageReader};
use parquet::errors::{ParquetError, Result as PqResult};
use parquet::file::metadata::{ParquetMetaData, RowGroupMetaData};
use parquet::file::reader::{ChunkReader, Length};
use parquet::file::serialized_reader::SerializedPageReader;

/// The most a page may decompress to whatever its column chunk claims (a stabmon page holds at most a few MB; a
/// damaged footer or frame header must not size an allocation).
const MAX_PAGE_BYTES: u64 = 1 << 30;

thread_local! {
    /// This thread's decompressor, made at its first page.
    static DECOMPRESSOR: RefCell<Option<zstd::bulk::Decompressor<'static>>> = const { RefCell::new(None) };
}

/// A reader of the columns `mask` of row groups `groups` (all of their rows, or those `selection` keeps), in
/// batches of `batch_rows`: what the parquet crate's reader gives, its zstd pages decompressed by [`Unzstd`].
pub(super) fn reader<R: ChunkReader + 'static>(
    input: R,
    meta: &ArrowReaderMetadata,
    groups: &[usize],
    mask: ProjectionMask,
    batch_rows: usize,
    selection: Option<RowSelection>,
) -> PqResult<ParquetRecordBatchReader> {
    let md = meta.metadata();
    let levels = parquet_to_arrow_field_levels(
        md.file_metadata().schema_descr(),
        mask,
        Some(meta.schema().fields()),
    )?;
    let groups = Groups {
        input: Arc::new(input),
        meta: Arc::clone(md),
        groups: groups.to_vec(),
    };
    ParquetRecordBatchReader::try_new_with_row_groups(&levels, &groups, batch_rows, selection)
}

/// The row groups read, in order.
struct Groups<R> {
    input: Arc<R>,
    meta: Arc<ParquetMetaData>,
    groups: Vec<usize>,
}

impl<R: ChunkReader + 'static> RowGroups for Groups<R> {
    fn num_rows(&self) -> usize {
        self.row_groups()
            .map(|rg| usize::try_from(rg.num_rows()).unwrap_or(0))
            .sum()
    }

    fn column_chunks(&self, i: usize) -> PqResult<Box<dyn PageIterator>> {
        Ok(Box::new(Chunks {
            input: Arc::clone(&self.input),
            meta: Arc::clone(&self.meta),
            column: i,
            groups: self.groups.clone().into_iter(),
        }))
    }

    fn row_groups(&self) -> Box<dyn Iterator<Item = &RowGroupMetaData> + '_> {
        Box::new(self.groups.iter().map(|g| self.meta.row_group(*g)))
    }

    fn metadata(&self) -> &ParquetMetaData {
        &self.meta
    }
}

/// One column's chunks of the row groups read.
struct Chunks<R> {
    input: Arc<R>,
    meta: Arc<ParquetMetaData>,
    column: usize,
    groups: std::vec::IntoIter<usize>,
}

impl<R: ChunkReader + 'static> Chunks<R> {
    fn pages(&self, g: usize) -> PqResult<Box<dyn PageReader>> {
        let rg = self.meta.row_group(g);
        let chunk = rg.column(self.column);
        let rows = usize::try_from(rg.num_rows()).unwrap_or(0);
        // The whole chunk in one read (its pages are read from memory).
        let bytes = super::table::chunk_bytes(chunk).ok_or_else(|| {
            ParquetError::General("a column chunk's offset or size is out of range".into())
        })?;
        let length = usize::try_from(bytes.end - bytes.start).map_err(|_| {
            ParquetError::General("a column chunk too large for this machine".into())
        })?;
        let input = Arc::new(ChunkBytes {
            start: bytes.start,
            bytes: self.input.get_bytes(bytes.start, length)?,
            file_len: self.input.len(),
        });
        if matches!(chunk.compression(), Compression::ZSTD(_)) {
            // The pages as stored; `Unzstd` decompresses them.
            let stored = chunk
                .clone()
                .into_builder()
                .set_compression(Compression::UNCOMPRESSED)
                .build()?;
            let pages = SerializedPageReader::new(input, &stored, rows, None)?;
            // No page of a chunk holds more than the whole chunk's uncompressed bytes.
            let bound = u64::try_from(chunk.uncompressed_size())
                .unwrap_or(0)
                .min(MAX_PAGE_BYTES);
            return Ok(Box::new(Unzstd { pages, bound }));
        }
        Ok(Box::new(SerializedPageReader::new(
            input, chunk, rows, None,
        )?))
    }
}

impl<R: ChunkReader + 'static> Iterator for Chunks<R> {
    type Item = PqResult<Box<dyn PageReader>>;

    fn next(&mut self) -> Option<Self::Item> {
        let g = self.groups.next()?;
        Some(self.pages(g))
    }
}

impl<R: ChunkReader + 'static> PageIterator for Chunks<R> {}

/// A column chunk's bytes, read at once: the parquet crate reads each page's header and then its body, two reads
/// of the file a page, which here come from memory. Each page header is checked before the crate parses it, as
/// [`Input`](super::ranges::Input)'s reads check them (see [`page_header`](super::page_header)).
struct ChunkBytes {
    /// The chunk's offset in its file.
    start: u64,
    bytes: Bytes,
    /// The file's length.
    file_len: u64,
}

impl ChunkBytes {
    /// Where `length` bytes from the file's offset `start` are in the chunk, if they are all in it.
    fn at(&self, start: u64, length: usize) -> PqResult<usize> {
        start
            .checked_sub(self.start)
            .and_then(|at| usize::try_from(at).ok())
            .filter(|at| at.checked_add(length).is_some_and(|end| end <= self.bytes.len()))
            .ok_or_else(|| {
                ParquetError::EOF(format!(
                    "a read of {length} bytes at offset {start}, outside its column chunk ({} bytes at offset {})",
                    self.bytes.len(),
                    self.start
                ))
            })
    }
}

impl Length for ChunkBytes {
    fn len(&self) -> u64 {
        self.file_len
    }
}

impl ChunkReader for ChunkBytes {
    type T = ChunkRead;

    fn get_read(&self, start: u64) -> PqResult<ChunkRead> {
        let at = self.at(start, 0)?;
        Ok(ChunkRead {
            bytes: self.bytes.slice(at..),
            at: 0,
            offset: start,
            checked: false,
        })
    }

    fn get_bytes(&self, start: u64, length: usize) -> PqResult<Bytes> {
        let at = self.at(start, length)?;
        Ok(self.bytes.slice(at..at + length))
    }
}

/// A read of a chunk's bytes from a page header on, to the chunk's end: the header is checked at the first read;
/// a read past the end is an error (`UnexpectedEof`), as [`Input`](super::ranges::Input)'s.
struct ChunkRead {
    bytes: Bytes,
    /// How much of `bytes` was handed out.
    at: usize,
    /// The file offset of `bytes`.
    offset: u64,
    checked: bool,
}

impl std::io::Read for ChunkRead {
    fn read(&mut self, out: &mut [u8]) -> std::io::Result<usize> {
        use std::io::{Error as IoError, ErrorKind};
        if !self.checked {
            match super::page_header::check(&self.bytes, self.bytes.len() as u64) {
                Ok(_) => self.checked = true,
                Err(super::page_header::Refused::Short) => {
                    return Err(IoError::new(
                        ErrorKind::UnexpectedEof,
                        format!(
                            "the page header at offset {} runs past the end of its column chunk (offset {})",
                            self.offset,
                            self.offset + self.bytes.len() as u64
                        ),
                    ));
                }
                Err(why) => {
                    return Err(IoError::new(
                        ErrorKind::InvalidData,
                        format!(
                            "the page header at offset {} is damaged: {why}",
                            self.offset
                        ),
                    ));
                }
            }
        }
        if out.is_empty() {
            return Ok(0);
        }
        let rest = self.bytes.get(self.at..).unwrap_or_default();
        if rest.is_empty() {
            return Err(IoError::new(
                ErrorKind::UnexpectedEof,
                format!(
                    "a read past offset {}, the end of its column chunk",
                    self.offset + self.bytes.len() as u64
                ),
            ));
        }
        let n = rest.len().min(out.len());
        out[..n].copy_from_slice(&rest[..n]);
        self.at += n;
        Ok(n)
    }
}

/// The pages of a zstd column chunk read as stored, decompressed here.
struct Unzstd<P> {
    pages: P,
    /// The most one page may decompress to: its chunk's uncompressed size in the footer, at most
    /// [`MAX_PAGE_BYTES`].
    bound: u64,
}

impl<P: PageReader> Iterator for Unzstd<P> {
    type Item = PqResult<Page>;

    fn next(&mut self) -> Option<Self::Item> {
        self.get_next_page().transpose()
    }
}

impl<P: PageReader> PageReader for Unzstd<P> {
    fn get_next_page(&mut self) -> PqResult<Option<Page>> {
        let bound = self.bound;
        self.pages
            .get_next_page()?
            .map(|p| decompress_page(p, bound))
            .transpose()
    }

    fn peek_next_page(&mut self) -> PqResult<Option<PageMetadata>> {
        self.pages.peek_next_page()
    }

    fn skip_next_page(&mut self) -> PqResult<()> {
        self.pages.skip_next_page()
    }

    fn supports_deferred_dictionary(&self) -> bool {
        self.pages.supports_deferred_dictionary()
    }

    fn take_deferred_dictionary(&mut self) -> PqResult<Option<Page>> {
        let bound = self.bound;
        self.pages
            .take_deferred_dictionary()?
            .map(|p| decompress_page(p, bound))
            .transpose()
    }

    fn at_record_boundary(&mut self) -> PqResult<bool> {
        self.pages.at_record_boundary()
    }
}

/// `page` with its stored bytes decompressed: all of them, or of a version-2 data page those after its levels
/// (where it says they are compressed), as the parquet crate's own reading does; to at most `bound` bytes.
fn decompress_page(mut page: Page, bound: u64) -> PqResult<Page> {
    match &mut page {
        Page::DataPage { buf, .. } | Page::DictionaryPage { buf, .. } => {
            *buf = decompress(buf, 0, bound)?;
        }
        Page::DataPageV2 {
            buf,
            def_levels_byte_len,
            rep_levels_byte_len,
            is_compressed,
            ..
        } => {
            let levels =
                usize::try_from(u64::from(*def_levels_byte_len) + u64::from(*rep_levels_byte_len))
                    .map_err(|_| ParquetError::General("implausible level lengths".into()))?;
            if *is_compressed {
                *buf = decompress(buf, levels, bound)?;
            }
        }
    }
    Ok(page)
}

/// `stored` with the zstd frame after its first `levels` bytes (kept as they are) decompressed, to at most `bound`
/// bytes; nothing after them is a page without values.
fn decompress(stored: &Bytes, levels: usize, bound: u64) -> PqResult<Bytes> {
    let (head, frame) = match (stored.get(..levels), stored.get(levels..)) {
        (Some(h), Some(f)) => (h, f),
        _ => return Err(ParquetError::General("invalid page header".into())),
    };
    if frame.is_empty() {
        return Ok(stored.clone());
    }
    // The frames' own sizes where they state them (every writer that compresses a page at once does; a page may
    // hold several frames), else the most the page may hold; either within the bound before anything is allocated.
    // A page of several frames is sized by its bound (the first frame's size is not the page's).
    let one_frame =
        zstd::zstd_safe::find_frame_compressed_size(frame).is_ok_and(|n| n == frame.len());
    let (room, exact) = match zstd::zstd_safe::get_frame_content_size(frame) {
        Ok(Some(_)) if !one_frame => (bound, false),
        Ok(Some(n)) if n <= bound => (n, true),
        Ok(Some(n)) => {
            return Err(ParquetError::General(format!(
                "a page says it holds {n} bytes, more than its column chunk's {bound}"
            )));
        }
        Ok(None) => (bound, false),
        Err(_) => {
            return Err(ParquetError::General(
                "a page's zstd frame header is damaged".into(),
            ));
        }
    };
    let room = usize::try_from(room)
        .map_err(|_| ParquetError::General("a page too large for this machine".into()))?;
    let mut out = Vec::with_capacity(head.len() + room);
    out.extend_from_slice(head);
    // Written after the levels, into the room reserved (as the parquet crate's codec writes).
    let mut cursor = std::io::Cursor::new(&mut out);
    cursor.set_position(head.len() as u64);
    DECOMPRESSOR.with(|d| {
        let mut d = d.borrow_mut();
        let d = match &mut *d {
            Some(d) => d,
            none => none.insert(
                zstd::bulk::Decompressor::new().map_err(|e| ParquetError::External(Box::new(e)))?,
            ),
        };
        d.decompress_to_buffer(frame, &mut cursor)
            .map_err(|e| ParquetError::External(Box::new(e)))
    })?;
    if !exact {
        out.shrink_to_fit();
    }
    if exact && out.len() != head.len() + room {
        return Err(ParquetError::General(format!(
            "a page decompressed to {} bytes, its frame says {room}",
            out.len() - head.len()
        )));
    }
    Ok(Bytes::from(out))
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    fn page_bytes() -> Vec<u8> {
        (0..50_000u32)
            .flat_map(|i| (i % 251).to_le_bytes())
            .collect()
    }

    /// A chunk read at once is read as a file's chunk is: a page header checked before it is read, no read
    /// outside the chunk.
    #[test]
    fn a_chunk_read_at_once_checks_its_page_headers_and_ends_at_its_end() {
        use std::io::Read;
        // At 1000 in the file: a page header the parquet crate writes (and its 18 bytes of page), then at 1040 the
        // page's type as a list of 126,680,298 UUIDs.
        let good = [
            0x15, 0x00, 0x15, 0x24, 0x15, 0x24, 0x2c, 0x15, 0x06, 0x15, 0x12, 0x15, 0x06, 0x15,
            0x06, 0x00, 0x00,
        ];
        let mut bytes = vec![0u8; 60];
        bytes[..good.len()].copy_from_slice(&good);
        bytes[40..47].copy_from_slice(&[0x19, 0xfd, 0xea, 0xf9, 0xb3, 0x3c, 0x00]);
        // At 1052, the first 8 bytes of the good header, cut by the chunk's end.
        bytes[52..].copy_from_slice(&good[..8]);
        let chunk = ChunkBytes {
            start: 1000,
            bytes: Bytes::from(bytes.clone()),
            file_len: 5000,
        };
        let mut r = chunk.get_read(1000).unwrap();
        let mut all = Vec::new();
        let e = r.read_to_end(&mut all).unwrap_err();
        assert_eq!(all, bytes);
        assert_eq!(e.kind(), std::io::ErrorKind::UnexpectedEof, "{e}");
        assert!(e.to_string().contains("past offset 1060"), "{e}");
        let e = chunk.get_read(1040).unwrap().read(&mut [0u8]).unwrap_err();
        assert_eq!(e.kind(), std::io::ErrorKind::InvalidData, "{e}");
        assert!(
            e.to_string()
                .contains("page header at offset 1040 is damaged: field 1 is stored as a list"),
            "{e}"
        );
        // A header cut by the chunk's end.
        let e = chunk.get_read(1052).unwrap().read(&mut [0u8]).unwrap_err();
        assert_eq!(e.kind(), std::io::ErrorKind::UnexpectedEof, "{e}");
        assert!(e.to_string().contains("runs past the end"), "{e}");
        assert_eq!(chunk.get_bytes(1018, 20).unwrap(), bytes[18..38]);
        assert!(chunk.get_bytes(1050, 11).is_err());
        assert!(chunk.get_bytes(999, 1).is_err());
        assert!(chunk.get_read(1061).is_err());
        assert_eq!(chunk.len(), 5000);
    }

    #[test]
    fn a_frame_that_states_its_size_is_decompressed_after_the_levels() {
        let data = page_bytes();
        let mut stored = b"LEVELS".to_vec();
        stored.extend(zstd::bulk::compress(&data, 3).unwrap());
        let out = decompress(&Bytes::from(stored), 6, 1 << 20).unwrap();
        assert_eq!(&out[..6], b"LEVELS");
        assert_eq!(&out[6..], &data[..]);
    }

    #[test]
    fn a_frame_without_its_size_is_decompressed_within_the_chunks_bound() {
        let data = page_bytes();
        // A streaming encoder does not know the size when it writes the frame header.
        let mut enc = zstd::stream::Encoder::new(Vec::new(), 3).unwrap();
        std::io::Write::write_all(&mut enc, &data[..1000]).unwrap();
        std::io::Write::flush(&mut enc).unwrap();
        std::io::Write::write_all(&mut enc, &data[1000..]).unwrap();
        let frame = enc.finish().unwrap();
        assert!(matches!(
            zstd::zstd_safe::get_frame_content_size(&frame),
            Ok(None)
        ));
        let out = decompress(&Bytes::from(frame.clone()), 0, data.len() as u64).unwrap();
        assert_eq!(&out[..], &data[..]);
        // More than the chunk may hold is an error, not a larger allocation.
        let err = decompress(&Bytes::from(frame), 0, data.len() as u64 - 1).unwrap_err();
        assert!(err.to_string().contains("too small"), "{err}");
    }

    #[test]
    fn a_page_of_two_frames_is_decompressed_whole() {
        let data = page_bytes();
        let mut frames = zstd::bulk::compress(&data[..70_000], 3).unwrap();
        frames.extend(zstd::bulk::compress(&data[70_000..], 3).unwrap());
        let out = decompress(&Bytes::from(frames), 0, 1 << 20).unwrap();
        assert_eq!(&out[..], &data[..]);
    }

    #[test]
    fn a_frame_claiming_more_than_its_chunk_holds_is_refused_before_allocating() {
        let data = page_bytes();
        let frame = zstd::bulk::compress(&data, 3).unwrap();
        let err = decompress(&Bytes::from(frame), 0, 1000).unwrap_err();
        assert!(
            err.to_string()
                .contains("more than its column chunk's 1000"),
            "{err}"
        );
        let err = decompress(&Bytes::from_static(b"not a zstd frame"), 0, 1000).unwrap_err();
        assert!(err.to_string().contains("damaged"), "{err}");
    }
}
