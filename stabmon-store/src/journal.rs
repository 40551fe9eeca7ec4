//! The journal of the open segment: an append-only file of length-and-CRC framed records, written record by
//! record straight to the kernel (no user-space buffer) and fsynced every `sync` period.
//!
//! ```text
//! header  "STABMONJ" (8 bytes) | format version, u32 LE | sequence number, u64 LE
//! frame   payload length, u32 LE | CRC32 (IEEE) of kind + payload, u32 LE | kind, u8 | payload
//! ```
//!
//! A reader takes every complete frame whose CRC matches and stops at the first one that is cut short or
//! damaged (a torn write at a crash): a record is either wholly there or not at all. What a frame's payload
//! holds depends on the format version in the header and on the frame's kind (see `codec.rs`):
//! - format 1: kind 1, a sample in record layout 1 (postcard); kind 2, a clean stop;
//! - format 2: kind 3, a key sample (layout 1, zstd-compressed on its own); kind 4, a delta sample (layout 1,
//!   zstd-compressed with the previous sample's layout-1 bytes as the dictionary); kind 2, a clean stop. A
//!   journal starts with a key, and a key follows every [`KEY_EVERY`](crate::codec::KEY_EVERY) records, so a
//!   record that does not decode costs at most the records up to the next key. Kind 5, the exits of the sample
//!   whose record it follows (their own layout, postcard): written only for samples that carry exits, so
//!   journals written before, and samples without exits, have none, and a reader that does not know the kind
//!   skips it.
//! - format 3: as format 2, with each kind-5 frame (a sample's exits) zstd-compressed on its own: exits are new
//!   processes each second, and their layout was over half of a busy machine's journal.
//! - format 4: kinds 3 and 4 as in format 2, in record layout 2 (`codec/layout2.rs`), which holds the sample's
//!   exits (no kind-5 frames) and its processes' cgroups (no kind-17 annexes), names each listed process once per
//!   key interval and writes numbers as changes; a delta's dictionary is the names of the processes named since
//!   the key followed by the previous record's layout-2 bytes.
//! - format 5: the records of format 4 in frames that end and check differently, so that a journal can be
//!   written into the file of a compacted one (see "Recycled files" below):
//!   - each frame's stored CRC is the CRC32 of kind and payload XORed with a salt from the journal's sequence
//!     number ([`salt`]): a frame left in the file by an older journal does not check in a newer one;
//!   - each append writes, in the same `write(2)` after its frames, an end marker: nine zero bytes, a zero frame
//!     header. The next append writes its frames over it. A zero frame header is the end of the journal,
//!     whatever follows it (in a recycled file, the older journal's bytes).
//! - format 6: format 5 with each append kept within one 4 KiB page ([`PAGE_BYTES`]) where it fits (see "Pages"
//!   below): where an end marker is followed, at the start of the next page, by a frame that checks, the records
//!   go on there.
//!
//! Kinds from 16 on are annexes of the sample record that follows them, in every format: kind 16, the OOM
//! kills the sample carries; kind 17 (formats 1 to 3), the cgroups of the sample's processes whose identity (pid
//! and start time) this journal has not named before (each journal names them again, so that it decodes on its
//! own). They are written with their sample in one append, postcard-encoded in layouts of their own (see
//! `codec/annex.rs`), so a sample record's layout never changes for them, and a reader that does not know them
//! skips them. An annex that does not decode costs its own data only.
//!
//! Every format ever written stays readable: `tests/fixtures/journal-v*` hold one journal per format.
//!
//! # Recycled files
//!
//! What a record's `fdatasync` costs a flash device depends on whether the file's size or extents change (see
//! `fsio.rs`): records are written into blocks already written and synced, never past them. A new file needs
//! those blocks written first (zeros, 256 KiB at a time): the journal's bytes once more. So, as databases do with
//! their write-ahead logs, a journal's file is used again: once compaction has made a journal's samples durable
//! in Parquet (and the manifest says so), the file is renamed to the spare name `_journal/spare` (see
//! [`retire`]), unless a spare is already there, the file is over [`SPARE_MAX_BYTES`], or it holds more than
//! [`SPARE_SLACK_BYTES`] past its records (then it is deleted). So a file keeps at most that much of older
//! journals' records after its own, which nothing reads: the spare, and a journal recycled from it, are a journal's
//! records and the slack, whatever was recorded in the file weeks before.
//! The next journal takes the spare (see [`JournalWriter::create`]): its header and an end marker are written
//! over the start of the file and synced, under the spare name, and only then is it renamed to the journal's
//! name and the directories synced. Zeros are laid ahead only past the file's length. In steady state (an hour's
//! journal about as long as the one before) no zeros are written at all. Nothing but the recorder reads the
//! spare: the readers and recovery take `_journal/host=*/*.journal` only. Compaction (on the worker thread while
//! the recorder runs, on the opening thread at recovery) is the only one to make a spare (and only when there is
//! none), the sampling thread the only one to take it or delete it (on a full disk, to give its blocks to the
//! live journal), so the two never race for it. The spare is not data: `--max-size` does not count it (at most
//! [`SPARE_MAX_BYTES`]). Salts come from sequence numbers, which only grow while the manifest is there; a
//! recorder that opens a directory without its manifest deletes the spare, so that no older record can check
//! with a new journal's salt.
//!
//! # Pages
//!
//! A flash device (and the page cache) writes whole pages: an `fdatasync` after a record that crosses from one
//! 4 KiB page into the next writes both, and the next sync writes the second again. From format 6 on, an append
//! (its frames and end marker) that would cross a page boundary, and fits in one page, goes to the start of the
//! next page instead ([`place`]); the end marker the append before left stays where it is, and the page it is in
//! was last written by that append's sync: it is never written again. A reader that meets an end marker reads the
//! frame at the start of the next page ([`jump_target`]): where it checks (its CRC salted with this journal's
//! sequence number) the records go on there; where it does not (zeros, an older journal's bytes in a recycled
//! file, a frame whose sync never came) the marker was the end. No frame of this journal can be found there
//! otherwise: the writer writes only forward, a failed append is zeroed before anything is written after it, and
//! appends not yet synced (several wait for one `fdatasync` at `--sync` above the interval) are synced before an
//! append goes to the next page, so that no power cut keeps a record there and loses one before it (see
//! [`JournalWriter::append_frames`]). The unused end of a page (half a record on average: about 2 % of the
//! journal's bytes at ~170 B a record) keeps what it held before, which nothing reads. A record bigger than a page
//! is written where the records end, across pages, as before.
//!
//! # Crashes and formats 5 and 6
//!
//! - **`kill -9`**: what was written is in the page cache, whole or (a write cut short) a frame's head without
//!   its tail. Its length then covers bytes of the marker before it or of the old file, whose CRC does not
//!   match: the torn frame is counted and dropped, everything before it is read (in format 6, a torn frame at
//!   the start of a page after a marker is dropped without being counted, as below). A frame wholly written is
//!   followed by its marker (same write).
//! - **Power cut, sectors of the unsynced writes persisted in any order**: everything up to the last
//!   `fdatasync`, its end marker included, is on the device. Past it, where the next frame's first sector did not
//!   reach the device, the synced marker is still there: the end, and only unsynced records are lost. Where a
//!   frame's head arrived and a later sector did not, the CRC fails: the frame is dropped as torn. Where a whole
//!   frame arrived but not the sector of its marker, the bytes after it are the old file's: possibly an older
//!   journal's complete, valid frame, which the salt makes fail its CRC here: dropped as torn, never read.
//!   Format 6, where an append went to the next page: the marker before it is synced already; a frame at the
//!   next page's start that did not reach the device whole fails its CRC, so the marker is the end, and only the
//!   unsynced records are lost (such a torn frame is not counted as torn: it cannot be told from an older
//!   journal's bytes, which are not).
//! - **A torn header**: a fresh file gets its header in the write after its first zeros are synced: a crash
//!   leaves a file of zeros (nothing recorded) or a header cut short (counted as torn, nothing recorded). A
//!   recycled file gets its new header under the spare name and is renamed only once that is synced, so no file
//!   named as a journal ever holds an older journal's header, whatever a crash cuts.
//! - **A crash while a journal is retired or taken**: the rename is atomic; a spare left at a crash is taken by
//!   the next journal (or deleted at start if over [`SPARE_MAX_BYTES`]); a compacted journal whose renaming was
//!   lost is deleted at start (its records' end is not known then, so it is not kept as the spare).

use std::io::{self, Read, Seek, SeekFrom};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use crate::fsio::{AppendFile, Fs};

/// The first bytes of every journal.
pub(crate) const MAGIC: &[u8; 8] = b"STABMONJ";
/// The journal format this crate writes; it reads this one and every older one. Bump it when a record's encoding
/// changes, and add a fixture of the new format next to the old ones.
pub(crate) const JOURNAL_VERSION: u32 = 6;
pub(crate) const HEADER_LEN: usize = 20;
pub(crate) const FRAME_HEADER_LEN: usize = 9;
/// The page a write of format 6 keeps within where it can (see "Pages" in the module docs): the page of the page
/// cache and of most file systems and flash translation layers.
pub(crate) const PAGE_BYTES: u64 = 4096;
/// The end marker written after each append from format 5 on: a zero frame header, which no frame has (kind 0 is
/// never written).
pub(crate) const END_MARKER: [u8; FRAME_HEADER_LEN] = [0; FRAME_HEADER_LEN];
/// The largest compacted journal kept as the spare: a bigger one (a long `--rotate` on a busy machine) is
/// deleted, so that the spare never holds much disk.
pub(crate) const SPARE_MAX_BYTES: u64 = 64 << 20;
/// The most a spare holds past its journal's records: the zeros a writer lays ahead, one step of
/// [`PREALLOCATE_BYTES`](crate::fsio::PREALLOCATE_BYTES) and the step after it.
pub(crate) const SPARE_SLACK_BYTES: u64 = 2 * crate::fsio::PREALLOCATE_BYTES;
/// No record is this big; a length over it is damage, not a record.
const MAX_PAYLOAD: u32 = 64 << 20;
/// The biggest payload of a frame at the start of a page that the records jumped to: an append jumps only when it
/// fits in a page with its end marker (see [`place`]), so a longer length there is not this journal's.
const MAX_JUMPED_PAYLOAD: u32 = (PAGE_BYTES as u32) - 2 * FRAME_HEADER_LEN as u32;

/// What a frame holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[repr(u8)]
pub(crate) enum Kind {
    /// One sample, plain (format 1).
    Sample = 1,
    /// The recorder stopped cleanly.
    Stop = 2,
    /// One sample, compressed on its own (formats 2 to 6).
    Key = 3,
    /// One sample, compressed against the previous one (formats 2 to 6).
    Delta = 4,
    /// The exits of the sample of the record before (format 2 plain, format 3 compressed; formats 4 to 6 hold
    /// them in the sample's record).
    Exits = 5,
    /// The OOM kills the next sample carries (an annex, any format).
    OomKills = 16,
    /// The cgroups of the next sample's processes first seen in this journal (an annex, formats 1 to 3).
    Cgroups = 17,
}

impl Kind {
    fn from_u8(b: u8) -> Option<Kind> {
        match b {
            1 => Some(Kind::Sample),
            2 => Some(Kind::Stop),
            3 => Some(Kind::Key),
            4 => Some(Kind::Delta),
            5 => Some(Kind::Exits),
            16 => Some(Kind::OomKills),
            17 => Some(Kind::Cgroups),
            _ => None,
        }
    }
}

/// The header of a new journal.
pub(crate) fn header(seq: u64) -> [u8; HEADER_LEN] {
    let mut h = [0u8; HEADER_LEN];
    h[..8].copy_from_slice(MAGIC);
    h[8..12].copy_from_slice(&JOURNAL_VERSION.to_le_bytes());
    h[12..20].copy_from_slice(&seq.to_le_bytes());
    h
}

/// What the CRC of each frame of the format-5 journal with sequence number `seq` is XORed with: two journals
/// whose numbers differ by less than 2^32 have different salts, so a complete frame an older journal left in a
/// recycled file never checks in a newer one.
pub(crate) fn salt(seq: u64) -> u32 {
    // Truncation intended: the two halves folded into one.
    ((seq ^ (seq >> 32)) & u64::from(u32::MAX)) as u32
}

/// Appends one frame to `out`, its CRC XORed with `salt` (the journal's [`salt`] from format 5 on, 0 before).
pub(crate) fn encode_frame(kind: Kind, payload: &[u8], salt: u32, out: &mut Vec<u8>) {
    let len = u32::try_from(payload.len()).unwrap_or(u32::MAX);
    let mut crc = crc32fast::Hasher::new();
    crc.update(&[kind as u8]);
    crc.update(payload);
    out.extend_from_slice(&len.to_le_bytes());
    out.extend_from_slice(&(crc.finalize() ^ salt).to_le_bytes());
    out.push(kind as u8);
    out.extend_from_slice(payload);
}

/// Where a write of `batch` bytes (frames and their end marker) goes in a journal of format 6 whose records end
/// at `at` (where the end marker is): at `at` when it fits in the rest of that page, when it starts a page, when
/// it is bigger than a page, or when the end marker at `at` itself reaches into the next page; otherwise at the
/// start of the next page ([`jump_target`] of `at`), so that the page it leaves is never written again.
pub(crate) fn place(at: u64, batch: u64) -> u64 {
    match jump_target(at) {
        Some(next) if batch > next - at && batch <= PAGE_BYTES => next,
        _ => at,
    }
}

/// Where the records of a journal of format 6 go on when its end marker is at `at`: the start of the next page,
/// unless `at` starts a page or the marker reaches into the next page (then no write ever jumps from `at`).
pub(crate) fn jump_target(at: u64) -> Option<u64> {
    let room = PAGE_BYTES - at % PAGE_BYTES;
    (room < PAGE_BYTES && room >= FRAME_HEADER_LEN as u64).then_some(at + room)
}

/// Why a file is not a journal this crate can read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum NotAJournal {
    /// The first bytes are not the magic.
    BadMagic,
    /// Written by a newer stabmon.
    NewerVersion(u32),
}

impl std::fmt::Display for NotAJournal {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            NotAJournal::BadMagic => {
                f.write_str("it does not start with the stabmon journal magic")
            }
            NotAJournal::NewerVersion(v) => write!(
                f,
                "it is journal format {v}, but this stabmon reads formats 1 to {JOURNAL_VERSION}: upgrade stabmon"
            ),
        }
    }
}

/// The records of a journal, read whole (tests; the recorder and readers stream with [`FrameReader`]).
#[cfg(test)]
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub(crate) struct Parsed {
    /// The sequence number in the header (0 when the header itself was cut short).
    pub seq: u64,
    /// The complete records, in order.
    pub frames: Vec<(Kind, Vec<u8>)>,
    /// Where the header and the complete records end (from format 6 on, unused ends of pages included).
    pub good_len: u64,
    /// Bytes after them: a torn or damaged frame (0 after a clean stop).
    pub torn_bytes: u64,
    /// Frames of a kind this version does not know (skipped).
    pub unknown_frames: u64,
    /// Zeros after the last record (written ahead by the writer; from format 5 on, the end marker's).
    pub zero_tail: u64,
}

/// Reads every complete record of a journal held in memory, through the same [`FrameReader`] the recorder uses.
#[cfg(test)]
pub(crate) fn parse(bytes: &[u8]) -> Result<Parsed, NotAJournal> {
    let mut r = match FrameReader::open(bytes) {
        Ok(r) => r?,
        Err(e) => unreachable!("reading a slice cannot fail: {e}"),
    };
    let mut frames = Vec::new();
    let mut payload = Vec::new();
    while let Ok(Some(kind)) = r.next_frame(&mut payload) {
        frames.push((kind, std::mem::take(&mut payload)));
    }
    Ok(Parsed {
        seq: r.seq,
        frames,
        good_len: r.good_len,
        torn_bytes: r.torn_bytes,
        unknown_frames: r.unknown_frames,
        zero_tail: r.zero_tail,
    })
}

/// Where a journal held in memory ends, for a reader that need not look past it: from format 5 on, the first zero
/// frame header found by following the frames' lengths (their CRCs unchecked, but for a frame at the start of the
/// next page after a marker in format 6, which is followed only where it checks), so that the rest of a recycled file
/// is not hashed or decoded; the whole length before format 5, or when the lengths run past the end. A frame
/// reader stops at or before this point, so what it reads from `bytes[..end]` is what it reads from `bytes`.
pub(crate) fn records_end(bytes: &[u8]) -> usize {
    let len = bytes.len() as u64;
    match records_end_of(&mut io::Cursor::new(bytes), len) {
        Ok(end) => usize::try_from(end).unwrap_or(bytes.len()),
        Err(_) => bytes.len(),
    }
}

/// [`records_end`] of a journal file of `len` bytes, read from `r` (positioned anywhere) by following the frames'
/// lengths, through a buffer: payloads are skipped within it, never copied out or checked.
pub(crate) fn records_end_of(r: &mut (impl Read + Seek), len: u64) -> io::Result<u64> {
    // Buffered, and frames skipped within the buffer: a read call per 64 KiB, not a seek and a read per frame.
    let mut r = io::BufReader::with_capacity(64 << 10, r);
    r.seek(SeekFrom::Start(0))?;
    let mut head = [0u8; HEADER_LEN];
    if read_full(&mut r, &mut head)? < HEADER_LEN || &head[..8] != MAGIC {
        return Ok(len);
    }
    let version = u32::from_le_bytes([head[8], head[9], head[10], head[11]]);
    if version < 5 {
        return Ok(len);
    }
    let mut seq = [0u8; 8];
    seq.copy_from_slice(&head[12..20]);
    let salt = salt(u64::from_le_bytes(seq));
    let mut at = HEADER_LEN as u64;
    let mut frame = [0u8; FRAME_HEADER_LEN];
    let mut payload = Vec::new();
    while at.saturating_add(FRAME_HEADER_LEN as u64) <= len {
        if read_full(&mut r, &mut frame)? < FRAME_HEADER_LEN {
            break;
        }
        if frame == END_MARKER {
            // From format 6 on the records may go on at the next page: where a frame there checks (the CRC is
            // the only sign; an older journal's bytes or zeros do not check).
            let Some(next) = jump_target(at).filter(|_| version >= 6) else {
                return Ok(at);
            };
            if next.saturating_add(FRAME_HEADER_LEN as u64) > len {
                return Ok(at);
            }
            r.seek_relative(
                i64::try_from(next - at).unwrap_or(i64::MAX) - FRAME_HEADER_LEN as i64,
            )?;
            if read_full(&mut r, &mut frame)? < FRAME_HEADER_LEN || frame == END_MARKER {
                return Ok(at);
            }
            let claimed = u32::from_le_bytes([frame[0], frame[1], frame[2], frame[3]]);
            if claimed > MAX_JUMPED_PAYLOAD {
                return Ok(at);
            }
            payload.clear();
            let got = (&mut r)
                .take(u64::from(claimed))
                .read_to_end(&mut payload)?;
            if got < claimed as usize || !checks(&frame, &payload, salt) {
                return Ok(at);
            }
            at = next + (FRAME_HEADER_LEN + got) as u64;
            continue;
        }
        let payload = u32::from_le_bytes([frame[0], frame[1], frame[2], frame[3]]);
        at = at.saturating_add(FRAME_HEADER_LEN as u64 + u64::from(payload));
        r.seek_relative(i64::from(payload))?;
    }
    Ok(len)
}

/// Whether a frame's stored CRC is that of its kind and `payload`, XORed with `salt`.
fn checks(head: &[u8; FRAME_HEADER_LEN], payload: &[u8], salt: u32) -> bool {
    let crc = u32::from_le_bytes([head[4], head[5], head[6], head[7]]);
    let mut h = crc32fast::Hasher::new();
    h.update(&head[8..9]);
    h.update(payload);
    h.finalize() ^ salt == crc
}

/// The bytes of a journal file that a reader needs: up to its end marker from format 5 on (the rest of a recycled
/// file is an older journal's; from format 6 on, past a marker to the records that go on at the next page's start),
/// the whole file before. For a server or copier that sends journals, so that what
/// it sends is what a reader reads; `len` is the file's length (what it held when opened, for a journal that may
/// grow meanwhile). The file's position is left anywhere.
///
/// ```
/// # fn main() -> std::io::Result<()> {
/// let mut not_a_journal = std::io::Cursor::new(vec![7u8; 100]);
/// assert_eq!(stabmon_store::journal_records_len(&mut not_a_journal, 100)?, 100);
/// # Ok(())
/// # }
/// ```
pub fn journal_records_len(file: &mut (impl Read + Seek), len: u64) -> io::Result<u64> {
    records_end_of(file, len)
}

/// Reads as many bytes as `buf` holds, fewer only at the end of the stream.
fn read_full(r: &mut impl Read, buf: &mut [u8]) -> io::Result<usize> {
    let mut n = 0;
    while n < buf.len() {
        match r.read(&mut buf[n..]) {
            Ok(0) => break,
            Ok(k) => n += k,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    Ok(n)
}

/// Reads a journal record by record from a stream, holding one record at a time: an hour's journal is compacted
/// without reading the whole file into memory. It takes every complete frame whose CRC matches and stops at the
/// first one that is cut short or damaged (a torn write at a crash).
pub(crate) struct FrameReader<R> {
    r: R,
    /// The sequence number in the header (0 when the header itself was cut short).
    pub seq: u64,
    /// The format version in the header ([`JOURNAL_VERSION`] when the header itself was cut short).
    pub version: u32,
    /// What the frames' CRCs are XORed with (format 5 on; 0 before).
    salt: u32,
    /// Where the header and the complete records read so far end (from format 6 on, unused ends of pages
    /// included).
    pub good_len: u64,
    /// Bytes after the last complete record: a torn or damaged frame (known once [`next_frame`](Self::next_frame)
    /// returned `None`).
    pub torn_bytes: u64,
    /// Frames of a kind this version does not know (skipped).
    pub unknown_frames: u64,
    /// Zeros after the last record: blocks the writer wrote ahead, not damage (known once
    /// [`next_frame`](Self::next_frame) returned `None`).
    pub zero_tail: u64,
    done: bool,
}

impl<R: Read> FrameReader<R> {
    /// Reads and checks the header. The outer error is the stream's; the inner says the file is no journal.
    pub(crate) fn open(mut r: R) -> io::Result<Result<FrameReader<R>, NotAJournal>> {
        let mut head = [0u8; HEADER_LEN];
        let n = read_full(&mut r, &mut head)?;
        let mut out = FrameReader {
            r,
            seq: 0,
            version: JOURNAL_VERSION,
            salt: 0,
            good_len: 0,
            torn_bytes: 0,
            unknown_frames: 0,
            zero_tail: 0,
            done: false,
        };
        if n > 0 && head[..n].iter().all(|&b| b == 0) {
            // Zeros where the header should be (a file extended but never written, a preallocating writer): nothing
            // was recorded in it.
            out.end_at_zeros(n as u64)?;
            return Ok(Ok(out));
        }
        if n < HEADER_LEN {
            // A crash while the header was written: nothing was recorded in it yet.
            let m = n.min(MAGIC.len());
            if head[..m] != MAGIC[..m] {
                return Ok(Err(NotAJournal::BadMagic));
            }
            out.done = true;
            out.torn_bytes = n as u64;
            return Ok(Ok(out));
        }
        if &head[..8] != MAGIC {
            return Ok(Err(NotAJournal::BadMagic));
        }
        let version = u32::from_le_bytes([head[8], head[9], head[10], head[11]]);
        if version > JOURNAL_VERSION || version == 0 {
            return Ok(Err(NotAJournal::NewerVersion(version)));
        }
        let mut seq = [0u8; 8];
        seq.copy_from_slice(&head[12..20]);
        out.seq = u64::from_le_bytes(seq);
        out.version = version;
        if version >= 5 {
            out.salt = salt(out.seq);
        }
        out.good_len = HEADER_LEN as u64;
        Ok(Ok(out))
    }

    /// Reads the next complete record into `payload` and returns its kind; `None` at the end of the journal or at
    /// its first torn or damaged frame (up to format 4 everything from there on is counted in `torn_bytes`; from
    /// format 5 on, the frame as far as it claims, not what follows: the rest of a recycled file). Frames of an
    /// unknown kind are skipped and counted.
    pub(crate) fn next_frame(&mut self, payload: &mut Vec<u8>) -> io::Result<Option<Kind>> {
        loop {
            if self.done {
                return Ok(None);
            }
            let mut head = [0u8; FRAME_HEADER_LEN];
            let n = read_full(&mut self.r, &mut head)?;
            if n > 0 && head[..n].iter().all(|&b| b == 0) {
                if self.version >= 6
                    && n == FRAME_HEADER_LEN
                    && let Some(next) = jump_target(self.good_len)
                    && let Some(kind) = self.jump(next, payload)?
                {
                    match Kind::from_u8(kind) {
                        Some(kind) => return Ok(Some(kind)),
                        None => {
                            self.unknown_frames += 1;
                            continue;
                        }
                    }
                }
                if self.version >= 5 {
                    // The end marker: the end, whatever follows (an older journal's bytes in a recycled file).
                    self.done = true;
                    self.zero_tail = n as u64;
                    return Ok(None);
                }
                // No frame starts with nine zero bytes (the CRC of kind 0 and no payload is not 0): a zero tail (a
                // file extended past its data at a crash, or preallocated) is the end, unless more than zeros follow.
                return self.end_at_zeros(n as u64);
            }
            if n < FRAME_HEADER_LEN {
                return self.stop_at(n as u64);
            }
            let len = u32::from_le_bytes([head[0], head[1], head[2], head[3]]);
            if len > MAX_PAYLOAD {
                return self.stop_at(n as u64);
            }
            payload.clear();
            // `take` grows the buffer as bytes arrive: a damaged length is never allocated up front.
            let got = (&mut self.r).take(u64::from(len)).read_to_end(payload)?;
            if got < len as usize || !checks(&head, payload, self.salt) {
                return self.stop_at((n + got) as u64);
            }
            self.good_len += (FRAME_HEADER_LEN + got) as u64;
            match Kind::from_u8(head[8]) {
                Some(kind) => return Ok(Some(kind)),
                None => self.unknown_frames += 1,
            }
        }
    }

    /// After an end marker (read up to the end of its nine bytes) at `good_len` in a journal of format 6: reads
    /// the frame at the start of the next page, `next`, and returns its kind byte when it checks (the records go on
    /// there: `good_len` moves past it), `None` when it does not (the end marker was the end: an older journal's
    /// bytes, zeros, or a frame torn before its sync follow; none of it is counted as torn, as it cannot be told
    /// from the first two).
    fn jump(&mut self, next: u64, payload: &mut Vec<u8>) -> io::Result<Option<u8>> {
        let gap = next - self.good_len - FRAME_HEADER_LEN as u64;
        if io::copy(&mut (&mut self.r).take(gap), &mut io::sink())? < gap {
            return Ok(None);
        }
        let mut head = [0u8; FRAME_HEADER_LEN];
        if read_full(&mut self.r, &mut head)? < FRAME_HEADER_LEN || head == END_MARKER {
            return Ok(None);
        }
        let len = u32::from_le_bytes([head[0], head[1], head[2], head[3]]);
        if len > MAX_JUMPED_PAYLOAD {
            return Ok(None);
        }
        payload.clear();
        let got = (&mut self.r).take(u64::from(len)).read_to_end(payload)?;
        if got < len as usize || !checks(&head, payload, self.salt) {
            return Ok(None);
        }
        self.good_len = next + (FRAME_HEADER_LEN + got) as u64;
        Ok(Some(head[8]))
    }

    /// Stops where zeros begin: the end of the journal when nothing but zeros follows (counted in `zero_tail`),
    /// else damage (counted in `torn_bytes`).
    fn end_at_zeros(&mut self, consumed: u64) -> io::Result<Option<Kind>> {
        self.done = true;
        let mut rest = 0u64;
        let mut nonzero = false;
        let mut buf = [0u8; 8192];
        loop {
            let n = read_full(&mut self.r, &mut buf)?;
            nonzero |= buf[..n].iter().any(|&b| b != 0);
            rest += n as u64;
            if n < buf.len() {
                break;
            }
        }
        if nonzero {
            self.torn_bytes = consumed + rest;
        } else {
            self.zero_tail = consumed + rest;
        }
        Ok(None)
    }

    /// Stops at a torn or damaged frame: `consumed` bytes of it were read; up to format 4 the rest of the stream is
    /// counted too (from format 5 on it is not read: in a recycled file it is an older journal's).
    fn stop_at(&mut self, consumed: u64) -> io::Result<Option<Kind>> {
        self.done = true;
        if self.version >= 5 {
            self.torn_bytes = consumed;
            return Ok(None);
        }
        let rest = io::copy(&mut self.r, &mut io::sink())?;
        self.torn_bytes = consumed + rest;
        Ok(None)
    }
}

/// An append failed.
#[derive(Debug)]
pub(crate) enum AppendError {
    /// The record was not written (the file was cut back to its last complete record, or will be before the
    /// next append): write it again later.
    Write(io::Error),
    /// The record was written, but the fsync failed: it may not survive a power cut. Do not write it again.
    Sync(io::Error),
}

/// Writes a journal.
#[derive(Debug)]
pub(crate) struct JournalWriter {
    file: Box<dyn AppendFile>,
    path: PathBuf,
    seq: u64,
    /// What the frames' CRCs are XORed with.
    salt: u32,
    /// Where the header and complete records end (where the end marker is; unused ends of pages included).
    len: u64,
    sync_every: Duration,
    /// When the oldest record not yet fsynced was written.
    unsynced_since: Option<Instant>,
    /// A failed append may have left part of a frame at the end: cut it before the next one.
    needs_repair: bool,
    records: u64,
    /// Whether the journal went into a recycled file.
    recycled: bool,
    buf: Vec<u8>,
}

impl JournalWriter {
    /// Starts a new journal at `path` (its directory is created): in the file at `spare` when there is one (see
    /// "Recycled files" in the module docs), else in a new file. The header and an end marker are written and
    /// fsynced, and the directories fsynced, so the journal survives a power cut. A spare that cannot be used
    /// (an I/O error) is deleted and a new file made.
    pub(crate) fn create(
        fs: &dyn Fs,
        path: &Path,
        seq: u64,
        sync_every: Duration,
        spare: Option<&Path>,
    ) -> io::Result<JournalWriter> {
        let dir = path.parent().unwrap_or(Path::new("."));
        fs.create_dir_all(dir)?;
        if let Some(spare) = spare {
            match Self::recycle(fs, spare, path, seq) {
                Ok(Some(file)) => return Ok(Self::new(file, path, seq, sync_every, true)),
                Ok(None) => {}
                Err(_) => {
                    let _ = fs.remove_file(spare);
                }
            }
        }
        let mut file = fs.open_append(path)?;
        file.truncate(0)?;
        let written = file
            .append(&Self::first_bytes(seq), END_MARKER.len())
            .and_then(|()| file.sync());
        if let Err(e) = written {
            let _ = fs.remove_file(path);
            return Err(e);
        }
        fs.sync_dir(dir)?;
        Ok(Self::new(file, path, seq, sync_every, false))
    }

    /// The header of journal `seq` and an end marker.
    fn first_bytes(seq: u64) -> Vec<u8> {
        let mut b = header(seq).to_vec();
        b.extend_from_slice(&END_MARKER);
        b
    }

    /// Takes the spare's file for journal `seq` at `path`: header and end marker written over its start and
    /// synced under the spare name, then renamed, then both directories synced. `None` when there is no spare.
    fn recycle(
        fs: &dyn Fs,
        spare: &Path,
        path: &Path,
        seq: u64,
    ) -> io::Result<Option<Box<dyn AppendFile>>> {
        if fs.file_len(spare)?.is_none() {
            return Ok(None);
        }
        let mut file = fs.open_append(spare)?;
        file.rewind();
        file.append(&Self::first_bytes(seq), END_MARKER.len())?;
        file.sync()?;
        fs.rename(spare, path)?;
        let dir = path.parent().unwrap_or(Path::new("."));
        fs.sync_dir(dir)?;
        if let Some(spare_dir) = spare.parent()
            && spare_dir != dir
        {
            fs.sync_dir(spare_dir)?;
        }
        Ok(Some(file))
    }

    fn new(
        file: Box<dyn AppendFile>,
        path: &Path,
        seq: u64,
        sync_every: Duration,
        recycled: bool,
    ) -> JournalWriter {
        JournalWriter {
            file,
            path: path.to_path_buf(),
            seq,
            salt: salt(seq),
            len: HEADER_LEN as u64,
            sync_every,
            unsynced_since: None,
            needs_repair: false,
            records: 0,
            recycled,
            buf: Vec::with_capacity(4096),
        }
    }

    /// What the CRCs of this journal's frames are XORed with (for frames encoded elsewhere, see
    /// [`append_frames`](Self::append_frames)).
    pub(crate) fn salt(&self) -> u32 {
        self.salt
    }

    /// Whether the journal went into a recycled file (the spare) rather than a new one.
    #[cfg_attr(not(test), allow(dead_code))]
    pub(crate) fn recycled(&self) -> bool {
        self.recycled
    }

    pub(crate) fn path(&self) -> &Path {
        &self.path
    }

    pub(crate) fn seq(&self) -> u64 {
        self.seq
    }

    /// Where the header and complete records end (unused ends of pages included).
    pub(crate) fn len(&self) -> u64 {
        self.len
    }

    /// Records written.
    #[cfg(test)]
    pub(crate) fn records(&self) -> u64 {
        self.records
    }

    /// Appends one record. It is fsynced now when, by the time the next record is due (`next_in`), the oldest
    /// unsynced record would be `sync_every` old: so a power cut loses at most the last `sync_every`.
    pub(crate) fn append(
        &mut self,
        kind: Kind,
        payload: &[u8],
        next_in: Duration,
    ) -> Result<(), AppendError> {
        self.append_frames(&[], &[(kind, payload)], next_in)
    }

    /// Appends records that belong together (a sample and its exits) after `annexes`, frames already encoded
    /// with this journal's [`salt`](Self::salt) (see [`encode_frame`]), in one write, like
    /// [`append`](Self::append): the annexes, the sample and its exits are in the file together, or the torn
    /// tail is cut like any other. The end marker follows them in the same write, all of it at the start of the
    /// next page where it would cross into it and fits in one (see "Pages" in the module docs).
    pub(crate) fn append_frames(
        &mut self,
        annexes: &[u8],
        frames: &[(Kind, &[u8])],
        next_in: Duration,
    ) -> Result<(), AppendError> {
        if self.needs_repair {
            self.file.truncate(self.len).map_err(AppendError::Write)?;
            self.needs_repair = false;
        }
        self.buf.clear();
        self.buf.extend_from_slice(annexes);
        for (kind, payload) in frames {
            encode_frame(*kind, payload, self.salt, &mut self.buf);
        }
        self.buf.extend_from_slice(&END_MARKER);
        // Within one page where it fits: the page left behind keeps this journal's end marker, which tells a
        // reader to look at the next page, and is never written again.
        let at = place(self.len, self.buf.len() as u64);
        if at != self.len {
            // Appends before this one (in the page left behind) are made durable first: a power cut could
            // otherwise keep this append and lose one before it, whose page still holds the synced end marker
            // that sends a reader here, past the lost record. That page is final, so this writes no page more.
            // Nothing of this append is written if that fails: it is to be written again.
            self.sync().map_err(AppendError::Write)?;
            self.file.skip_to(at);
        }
        if let Err(e) = self.file.append(&self.buf, END_MARKER.len()) {
            self.needs_repair = true;
            // Cut the partial frame now if we can (a full disk still allows shrinking a file).
            if self.file.truncate(self.len).is_ok() {
                self.needs_repair = false;
            }
            return Err(AppendError::Write(e));
        }
        self.len = at + (self.buf.len() - END_MARKER.len()) as u64;
        self.records += frames.len() as u64;
        let now = Instant::now();
        let since = *self.unsynced_since.get_or_insert(now);
        if now.saturating_duration_since(since) + next_in >= self.sync_every {
            self.sync().map_err(AppendError::Sync)?;
        }
        Ok(())
    }

    /// Fsyncs what was written.
    pub(crate) fn sync(&mut self) -> io::Result<()> {
        if self.unsynced_since.is_none() {
            return Ok(());
        }
        self.file.sync()?;
        self.unsynced_since = None;
        Ok(())
    }
}

/// Done with a journal whose samples are durable elsewhere (compacted, the manifest updated): its file becomes the
/// spare at `spare` for the next journal to take, unless a spare is there already, the file is over
/// [`SPARE_MAX_BYTES`], its records' end (`records_end`: header and complete records) is not known, or the file
/// holds more than [`SPARE_SLACK_BYTES`] past that end (an older, longer journal's records, which a spare would
/// keep on disk for as long as shorter journals follow), or the renaming fails; then it is deleted. So a spare
/// holds its journal's records and at most [`SPARE_SLACK_BYTES`] of older ones. The spare's directory is synced
/// after a renaming; the journal's is the caller's to sync. Returns whether the file was kept as the spare.
pub(crate) fn retire(
    fs: &dyn Fs,
    journal: &Path,
    spare: &Path,
    records_end: Option<u64>,
) -> io::Result<bool> {
    let keep = match (fs.file_len(journal), fs.file_len(spare), records_end) {
        (Ok(Some(len)), Ok(None), Some(end)) => {
            len <= SPARE_MAX_BYTES && len <= end.saturating_add(SPARE_SLACK_BYTES)
        }
        _ => false,
    };
    if keep && fs.rename(journal, spare).is_ok() {
        if let Some(dir) = spare.parent() {
            // A failed sync is not a failed retirement: after a power cut the journal is back under its name,
            // its sequence number at or under the manifest's compacted one, and retired again at the next start.
            let _ = fs.sync_dir(dir);
        }
        return Ok(true);
    }
    fs.remove_file(journal)?;
    Ok(false)
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use crate::fsio::FaultFs;

    fn journal(records: &[(&[u8], Kind)]) -> Vec<u8> {
        let mut out = header(7).to_vec();
        for (p, k) in records {
            encode_frame(*k, p, salt(7), &mut out);
        }
        out
    }

    /// The same records in a format-4 journal (no salt): what the release before format 5 wrote.
    fn journal_v4(records: &[(&[u8], Kind)]) -> Vec<u8> {
        let mut out = header(7).to_vec();
        out[8..12].copy_from_slice(&4u32.to_le_bytes());
        for (p, k) in records {
            encode_frame(*k, p, 0, &mut out);
        }
        out
    }

    #[test]
    fn round_trip_and_every_cut_point() {
        let recs: Vec<(&[u8], Kind)> = vec![
            (b"first", Kind::Sample),
            (b"", Kind::Sample),
            (b"third record", Kind::Sample),
            (b"stop", Kind::Stop),
        ];
        let bytes = journal(&recs);
        let p = parse(&bytes).unwrap();
        assert_eq!(p.seq, 7);
        assert_eq!(p.frames.len(), 4);
        assert_eq!(p.frames[2], (Kind::Sample, b"third record".to_vec()));
        assert_eq!(p.frames[3].0, Kind::Stop);
        assert_eq!((p.good_len, p.torn_bytes), (bytes.len() as u64, 0));
        // Cut anywhere: every record wholly before the cut is read, nothing after it, no error.
        let ends: Vec<usize> = {
            let mut v = vec![HEADER_LEN];
            for (pl, _) in &recs {
                let last = *v.last().unwrap();
                v.push(last + FRAME_HEADER_LEN + pl.len());
            }
            v
        };
        for cut in 0..bytes.len() {
            let p = parse(&bytes[..cut]).unwrap();
            let complete = ends.iter().filter(|&&e| e <= cut).count().saturating_sub(1);
            assert_eq!(p.frames.len(), complete, "cut at {cut}");
            // A cut inside the zero length of the empty record leaves zeros only, taken for the end.
            assert_eq!(p.good_len + p.torn_bytes + p.zero_tail, cut as u64);
        }
    }

    #[test]
    fn zeros_written_ahead_are_the_end_and_not_damage() {
        let recs: Vec<(&[u8], Kind)> = vec![(b"first", Kind::Sample), (b"second", Kind::Sample)];
        // Format 4 (no end marker): a zero tail is the end only when nothing but zeros follows, and all of it is
        // read. Format 5: a zero frame header is the end whatever follows, and nothing after it is read.
        let marker = FRAME_HEADER_LEN as u64;
        for (bytes, zero_tail, after_zeros) in [
            (journal_v4(&recs), 5000, (5000, 0)),
            (journal(&recs), marker, (0, marker)),
        ] {
            let mut ahead = bytes.clone();
            ahead.resize(bytes.len() + 5000, 0);
            let p = parse(&ahead).unwrap();
            assert_eq!(p.frames.len(), 2);
            assert_eq!(
                (p.good_len, p.torn_bytes, p.zero_tail),
                (bytes.len() as u64, 0, zero_tail)
            );
            // A frame torn at a crash, then the zeros: the frame is damage, as without them.
            let mut torn = bytes[..bytes.len() - 2].to_vec();
            torn.resize(bytes.len() + 5000, 0);
            let p = parse(&torn).unwrap();
            assert_eq!(p.frames.len(), 1);
            assert!(p.torn_bytes > 0 && p.zero_tail == 0, "{p:?}");
            // Zeros and then anything else: damage in format 4 (a lost page, not the end), the end in format 5.
            let mut lost = ahead.clone();
            lost[bytes.len() + 4000] = 1;
            let p = parse(&lost).unwrap();
            assert_eq!(p.frames.len(), 2);
            assert_eq!((p.torn_bytes, p.zero_tail), after_zeros);
        }
        // A file of zeros only: a crash before the header was written, so no journal content at all.
        let p = parse(&[0u8; 300]).unwrap();
        assert_eq!((p.frames.len(), p.torn_bytes, p.zero_tail), (0, 0, 300));
    }

    /// Whether a complete frame that checks with `salt` starts at `at`.
    /// Journal 42 as a power cut during its write `k` leaves it (the sectors of `mask` written): the records of the
    /// writes before `k`, and of `k` itself or not, each whole and in order.
    fn parsed_after_cut(disk: &[u8], k: usize, mask: u64) -> Parsed {
        let p = parse(disk).unwrap();
        let n = p.frames.len();
        assert!(
            n == k - 1 || n == k,
            "write {k}, mask {mask:b}: {n} records"
        );
        for (i, f) in p.frames.iter().enumerate() {
            assert!(f.1.starts_with(format!("j42r{i}:").as_bytes()), "write {k}");
        }
        p
    }

    fn frame_checks(bytes: &[u8], at: usize, salt: u32) -> bool {
        let Some(head) = bytes.get(at..at + FRAME_HEADER_LEN) else {
            return false;
        };
        let len = u32::from_le_bytes([head[0], head[1], head[2], head[3]]) as usize;
        let crc = u32::from_le_bytes([head[4], head[5], head[6], head[7]]);
        let Some(payload) = bytes.get(at + FRAME_HEADER_LEN..at + FRAME_HEADER_LEN + len) else {
            return false;
        };
        let mut h = crc32fast::Hasher::new();
        h.update(&head[8..9]);
        h.update(payload);
        head[8] != 0 && h.finalize() ^ salt == crc
    }

    /// The records journal `seq` holds, one per payload length in `lens` (its bytes say which journal and which
    /// record), written by the journal writer into `fs` at `path` from `spare` when given; the file's bytes after
    /// each append (the first after the header).
    /// Where the records of the journal at `path` end (what compaction knows when it retires it).
    fn end_of(fs: &FaultFs, path: &Path) -> Option<u64> {
        Some(parse(&fs.contents(path).unwrap()).unwrap().good_len)
    }

    /// A spare holds at most one journal's records and SPARE_SLACK_BYTES more: a file with more past its records
    /// (an older, longer journal's), or whose records' end is not known, is deleted.
    #[test]
    fn a_file_with_much_past_its_records_is_not_kept() {
        let fs = FaultFs::new();
        let dir = Path::new("/data/_journal/host=a");
        let spare = Path::new("/data/_journal/spare");
        let path = dir.join("00000000000000000003.journal");
        write_journal(&fs, &path, None, 3, &[50; 4]);
        let end = end_of(&fs, &path).unwrap();
        let mut bytes = fs.contents(&path).unwrap();
        bytes.resize(usize::try_from(end + SPARE_SLACK_BYTES).unwrap() + 1, 0xA5);
        fs.write_synced(&path, &bytes).unwrap();
        assert!(!retire(&fs, &path, spare, Some(end)).unwrap());
        assert!(fs.contents(&path).is_none() && fs.contents(spare).is_none());
        // Within the slack: kept.
        write_journal(&fs, &path, None, 3, &[50; 4]);
        bytes.truncate(usize::try_from(end + SPARE_SLACK_BYTES).unwrap());
        fs.write_synced(&path, &bytes).unwrap();
        assert!(retire(&fs, &path, spare, Some(end)).unwrap());
        assert!(fs.contents(spare).is_some());
        // Its records' end not known: deleted.
        fs.remove_file(spare).unwrap();
        write_journal(&fs, &path, None, 3, &[50; 4]);
        assert!(!retire(&fs, &path, spare, None).unwrap());
        assert!(fs.contents(spare).is_none());
    }

    /// A write not yet synced, as a power cut may leave it: `before` with any of the sectors (of `size` bytes)
    /// that `after` changed.
    struct Unsynced<'a> {
        before: &'a [u8],
        after: &'a [u8],
        size: usize,
        /// The sectors that differ, by index.
        changed: Vec<usize>,
    }

    impl<'a> Unsynced<'a> {
        fn new(before: &'a [u8], after: &'a [u8], size: usize) -> Self {
            let changed = (0..after.len().div_ceil(size))
                .filter(|&i| {
                    let r = i * size..((i + 1) * size).min(after.len());
                    before.get(r.clone()) != after.get(r)
                })
                .collect();
            Unsynced {
                before,
                after,
                size,
                changed,
            }
        }

        /// `before` with the changed sectors whose bit is set in `mask` (bit i: the i-th changed sector).
        fn disk(&self, mask: u64) -> Vec<u8> {
            let mut disk = self.before.to_vec();
            disk.resize(disk.len().max(self.after.len()), 0);
            for (bit, &i) in self.changed.iter().enumerate() {
                if bit < 64 && mask & (1 << bit) != 0 {
                    let r = i * self.size..((i + 1) * self.size).min(self.after.len());
                    disk[r.clone()].copy_from_slice(&self.after[r]);
                }
            }
            disk
        }
    }

    fn write_journal(
        fs: &FaultFs,
        path: &Path,
        spare: Option<&Path>,
        seq: u64,
        lens: &[usize],
    ) -> Vec<Vec<u8>> {
        let mut w = JournalWriter::create(fs, path, seq, Duration::ZERO, spare).unwrap();
        let mut states = vec![fs.contents(path).unwrap()];
        for (i, &len) in lens.iter().enumerate() {
            let mut payload = format!("j{seq}r{i}:").into_bytes();
            payload.resize(len, b'.');
            w.append(Kind::Sample, &payload, Duration::ZERO).unwrap();
            states.push(fs.contents(path).unwrap());
        }
        states
    }

    /// A recycled file: an older journal's complete, valid frames after the end marker, their boundaries where the
    /// new journal's are (same lengths), are never read, with the marker there or lost.
    #[test]
    fn stale_frames_of_a_recycled_file_are_never_read() {
        let fs = FaultFs::new();
        let dir = Path::new("/data/_journal/host=a");
        let spare = Path::new("/data/_journal/spare");
        let lens = [30, 44, 30, 61, 30, 30, 52, 30];
        let old_path = dir.join("00000000000000000041.journal");
        let old = write_journal(&fs, &old_path, None, 41, &lens);
        let old = old.last().unwrap().clone();
        assert_eq!(parse(&old).unwrap().frames.len(), lens.len());
        assert!(retire(&fs, &old_path, spare, end_of(&fs, &old_path)).unwrap());
        let path = dir.join("00000000000000000042.journal");
        let states = write_journal(&fs, &path, Some(spare), 42, &lens[..3]);
        assert!(fs.contents(spare).is_none(), "the spare was taken");
        let now = states.last().unwrap();
        assert_eq!(now.len(), old.len(), "the file kept its length");
        // The marker is there: the end, the older journal's frames after it untouched.
        let p = parse(now).unwrap();
        let names: Vec<String> = p
            .frames
            .iter()
            .map(|f| String::from_utf8_lossy(&f.1[..5]).into_owned())
            .collect();
        assert_eq!(names, ["j42r0", "j42r1", "j42r2"]);
        assert_eq!((p.seq, p.torn_bytes), (42, 0));
        let end = p.good_len as usize;
        assert_eq!(&now[end..end + FRAME_HEADER_LEN], &END_MARKER);
        let stale = end + FRAME_HEADER_LEN;
        assert_eq!(&now[stale..], &old[stale..]);
        // The marker lost (its sector never reached the device): a complete, valid frame of the older journal
        // starts right there, and does not check in this one.
        let mut lost = now.clone();
        lost[end..end + FRAME_HEADER_LEN].copy_from_slice(&old[end..end + FRAME_HEADER_LEN]);
        assert!(frame_checks(&lost, end, salt(41)), "a valid older frame");
        let p = parse(&lost).unwrap();
        assert_eq!(p.frames.len(), 3);
        assert_eq!(p.torn_bytes, (FRAME_HEADER_LEN + lens[3]) as u64);
        // A reader may stop at the marker: what is before it reads the same.
        assert_eq!(records_end(now), end);
        assert_eq!(
            parse(&now[..records_end(now)]).unwrap().frames,
            parse(now).unwrap().frames
        );
        // The marker lost: the lengths lead on through the older journal's frames to its own marker.
        let lost_end = records_end(&lost);
        assert!(lost_end > end && lost_end < lost.len(), "{lost_end}");
        assert_eq!(parse(&lost[..lost_end]).unwrap().frames.len(), 3);
        let v4 = journal_v4(&[(b"a", Kind::Sample)]);
        let mut v4_ahead = v4.clone();
        v4_ahead.resize(v4.len() + 100, 0);
        assert_eq!(records_end(&v4_ahead), v4_ahead.len());
    }

    /// Power cuts in a recycled file, each unsynced write's sectors (8 bytes here, so that a frame spans several)
    /// persisted in every combination: the journal reads as the records synced before the write, or those and
    /// the record written, never an older journal's record and never part of one.
    #[test]
    fn a_power_cut_in_a_recycled_file_never_reads_stale_records() {
        const SECTOR: usize = 8;
        let fs = FaultFs::new();
        let dir = Path::new("/data/_journal/host=a");
        let spare = Path::new("/data/_journal/spare");
        let lens = [19, 27, 19, 35, 19, 23];
        let old_path = dir.join("00000000000000000041.journal");
        write_journal(
            &fs,
            &old_path,
            None,
            41,
            &[19, 27, 19, 35, 19, 23, 40, 40, 40],
        );
        assert!(retire(&fs, &old_path, spare, end_of(&fs, &old_path)).unwrap());
        let path = dir.join("00000000000000000042.journal");
        let states = write_journal(&fs, &path, Some(spare), 42, &lens);
        let mut stale_valid = 0;
        for k in 1..states.len() {
            let (before, after) = (&states[k - 1], &states[k]);
            let cut = Unsynced::new(before, after, SECTOR);
            assert!(cut.changed.len() <= 12, "{} sectors", cut.changed.len());
            for mask in 0u64..1 << cut.changed.len() {
                let disk = cut.disk(mask);
                let p = parsed_after_cut(&disk, k, mask);
                assert_eq!(p.seq, 42);
                let end = p.good_len as usize;
                if frame_checks(&disk, end, salt(41)) {
                    stale_valid += 1;
                }
            }
        }
        assert!(
            stale_valid > 0,
            "some combinations leave a valid older frame right after the last record"
        );
    }

    /// A journal in a recycled file survives a power cut like one in a new file: what was synced is there, no
    /// stale record, and the spare is gone.
    #[test]
    fn a_recycled_journal_survives_a_power_cut() {
        let fs = FaultFs::new();
        fs.set_preallocate(256);
        let dir = Path::new("/data/_journal/host=a");
        let spare = Path::new("/data/_journal/spare");
        let old_path = dir.join("00000000000000000001.journal");
        write_journal(&fs, &old_path, None, 1, &[100; 12]);
        assert!(retire(&fs, &old_path, spare, end_of(&fs, &old_path)).unwrap());
        // A spare already there: the next retired journal is deleted instead.
        let other = dir.join("00000000000000000002.journal");
        write_journal(&fs, &other, None, 2, &[10]);
        assert!(!retire(&fs, &other, spare, end_of(&fs, &other)).unwrap());
        assert!(fs.contents(&other).is_none());
        let old_len = fs.contents(spare).unwrap().len();
        let path = dir.join("00000000000000000003.journal");
        let mut w =
            JournalWriter::create(&fs, &path, 3, Duration::from_secs(3600), Some(spare)).unwrap();
        assert!(w.recycled());
        for i in 0u8..4 {
            w.append(Kind::Sample, &[i; 50], Duration::ZERO).unwrap();
        }
        w.sync().unwrap();
        for i in 4u8..6 {
            w.append(Kind::Sample, &[i; 50], Duration::ZERO).unwrap();
        }
        assert_eq!(fs.contents(&path).unwrap().len(), old_len, "no zeros laid");
        drop(w);
        fs.power_cut();
        assert!(fs.contents(spare).is_none());
        let p = parse(&fs.contents(&path).unwrap()).unwrap();
        assert_eq!(p.seq, 3);
        let got: Vec<u8> = p.frames.iter().map(|f| f.1[0]).collect();
        assert_eq!(got, [0, 1, 2, 3]);
        assert_eq!(p.torn_bytes, 0);
        // Without a spare, a new file; one over the cap is not kept.
        let path = dir.join("00000000000000000004.journal");
        let w = JournalWriter::create(&fs, &path, 4, Duration::ZERO, Some(spare)).unwrap();
        assert!(!w.recycled());
    }

    /// Format 6: an append that would cross a page boundary goes to the next page, and the page it leaves is never
    /// written again; a record bigger than a page goes where the records end. Read back whole, in a new file and
    /// in a recycled one whose older journal has its own frames at the starts of pages.
    #[test]
    fn appends_stay_within_a_page_and_pages_left_are_never_written_again() {
        let fs = FaultFs::new();
        fs.set_preallocate(256 << 10);
        let dir = Path::new("/data/_journal/host=a");
        let spare = Path::new("/data/_journal/spare");
        let lens: Vec<usize> = (0..60).map(|i| [700, 310, 1500, 90, 5000][i % 5]).collect();
        let old_path = dir.join("00000000000000000041.journal");
        let old = write_journal(&fs, &old_path, None, 41, &lens);
        assert!(retire(&fs, &old_path, spare, end_of(&fs, &old_path)).unwrap());
        let path = dir.join("00000000000000000042.journal");
        let new = write_journal(&fs, &path, Some(spare), 42, &lens);
        let page = PAGE_BYTES as usize;
        for (states, seq) in [(&old, 41u64), (&new, 42)] {
            let mut jumps = 0;
            for k in 1..states.len() {
                let (before, after) = (&states[k - 1], &states[k]);
                let changed: Vec<usize> = (0..after.len())
                    .filter(|&i| before.get(i) != after.get(i))
                    .collect();
                let (first, last) = (changed[0], changed[changed.len() - 1]);
                let batch = FRAME_HEADER_LEN + lens[k - 1] + FRAME_HEADER_LEN;
                if batch <= page {
                    assert_eq!(
                        first / page,
                        last / page,
                        "journal {seq}, append {k} crosses a page"
                    );
                }
                // Nothing is written but the append, where `place` puts it.
                let prev_end = parse(before).unwrap().good_len as usize;
                let at = place(prev_end as u64, batch as u64) as usize;
                assert!(
                    first >= at && last < at + batch,
                    "journal {seq}, append {k}"
                );
                let p = parse(after).unwrap();
                assert_eq!((p.seq, p.frames.len(), p.torn_bytes), (seq, k, 0));
                for (i, f) in p.frames.iter().enumerate() {
                    assert!(f.1.starts_with(format!("j{seq}r{i}:").as_bytes()));
                }
                if at != prev_end {
                    jumps += 1;
                    assert_eq!(at % page, 0, "a jump lands on a page start");
                    assert_eq!(&after[prev_end..prev_end + FRAME_HEADER_LEN], &END_MARKER);
                }
                // A reader that stops where the records end reads the same.
                let end = records_end(after);
                assert_eq!(end as u64, p.good_len);
                assert_eq!(parse(&after[..end]).unwrap().frames, p.frames);
            }
            assert!(jumps >= 10, "journal {seq}: {jumps} jumps");
        }
    }

    /// The sync before an append goes to the next page fails: the append is not written (to be written again),
    /// and once syncs work the records read are every one appended, in order.
    #[test]
    fn a_failed_sync_before_a_jump_writes_nothing_and_loses_nothing() {
        let fs = FaultFs::new();
        let path = Path::new("/data/_journal/host=a/00000000000000000042.journal");
        let mut w = JournalWriter::create(&fs, path, 42, Duration::from_secs(3600), None).unwrap();
        let payload = |k: usize| {
            let mut p = format!("j42r{k}:").into_bytes();
            p.resize(700, b'.');
            p
        };
        let mut written = 0;
        let mut refused = 0;
        for _ in 0..12 {
            let before = fs.contents(path).unwrap();
            let at_len = w.len;
            fs.fail_syncs(1);
            match w.append(Kind::Sample, &payload(written), Duration::ZERO) {
                Ok(()) => written += 1,
                Err(AppendError::Write(_)) => {
                    refused += 1;
                    assert_ne!(
                        place(at_len, (700 + FRAME_HEADER_LEN + END_MARKER.len()) as u64),
                        at_len
                    );
                    assert_eq!(fs.contents(path).unwrap(), before, "nothing written");
                    fs.fail_syncs(0);
                    w.append(Kind::Sample, &payload(written), Duration::ZERO)
                        .unwrap();
                    written += 1;
                }
                Err(AppendError::Sync(e)) => panic!("a sync of its own failed: {e}"),
            }
            fs.fail_syncs(0);
        }
        assert!(
            refused >= 2,
            "{refused} appends met a failing sync at a jump"
        );
        w.sync().unwrap();
        let p = parse(&fs.contents(path).unwrap()).unwrap();
        assert_eq!(p.frames.len(), written);
        for (i, f) in p.frames.iter().enumerate() {
            assert!(f.1.starts_with(format!("j42r{i}:").as_bytes()));
        }
    }

    /// Several appends waiting for one sync (`--sync` above the interval), one of them going to the next page:
    /// whichever of the unsynced sectors a power cut keeps, the records read are the first n written, never one
    /// after a lost one.
    #[test]
    fn a_power_cut_with_appends_unsynced_across_a_jump_never_skips_a_lost_record() {
        const SECTOR: usize = 512;
        let fs = FaultFs::new();
        let path = Path::new("/data/_journal/host=a/00000000000000000042.journal");
        let mut w = JournalWriter::create(&fs, path, 42, Duration::from_secs(3600), None).unwrap();
        let lens = [
            700, 640, 1100, 900, 300, 1500, 800, 650, 1200, 400, 1000, 700, 350, 900,
        ];
        let mut masks_tried = 0u64;
        let mut seed = 0x9e37_79b9_7f4a_7c15u64;
        for (k, &len) in lens.iter().enumerate() {
            let mut payload = format!("j42r{k}:").into_bytes();
            payload.resize(len, b'.');
            w.append(Kind::Sample, &payload, Duration::ZERO).unwrap();
            let durable = fs.durable_contents(path).unwrap();
            let now = fs.contents(path).unwrap();
            let synced = parse(&durable).unwrap().frames.len();
            let cut = Unsynced::new(&durable, &now, SECTOR);
            // Every subset of the unsynced sectors where there are few, else 4,096 drawn at random.
            let masks: Vec<u64> = if cut.changed.len() <= 12 {
                (0..1u64 << cut.changed.len()).collect()
            } else {
                (0..4096)
                    .map(|_| {
                        seed ^= seed << 13;
                        seed ^= seed >> 7;
                        seed ^= seed << 17;
                        seed
                    })
                    .collect()
            };
            for mask in masks {
                let p = parse(&cut.disk(mask)).unwrap();
                assert!(
                    p.frames.len() >= synced,
                    "append {k}, mask {mask:b}: a synced record lost"
                );
                for (i, f) in p.frames.iter().enumerate() {
                    assert!(
                        f.1.starts_with(format!("j42r{i}:").as_bytes()),
                        "append {k}, mask {mask:b}: record {i} read as {:?}",
                        String::from_utf8_lossy(&f.1[..8])
                    );
                }
                masks_tried += 1;
            }
        }
        assert!(masks_tried > 100, "{masks_tried} power cuts tried");
    }

    /// Power cuts in a recycled file of format 6, each unsynced write's 512-byte sectors persisted in every
    /// combination: the journal reads as the records synced before the write, or those and the record written,
    /// never an older journal's record, though the older journal has complete, valid frames at the page starts
    /// the records jump to.
    #[test]
    fn a_power_cut_after_a_jump_never_reads_stale_records() {
        const SECTOR: usize = 512;
        let fs = FaultFs::new();
        let dir = Path::new("/data/_journal/host=a");
        let spare = Path::new("/data/_journal/spare");
        let lens: Vec<usize> = (0..24).map(|i| [700, 640, 1100][i % 3]).collect();
        let old_path = dir.join("00000000000000000041.journal");
        write_journal(&fs, &old_path, None, 41, &lens);
        assert!(retire(&fs, &old_path, spare, end_of(&fs, &old_path)).unwrap());
        let path = dir.join("00000000000000000042.journal");
        let states = write_journal(&fs, &path, Some(spare), 42, &lens[..20]);
        let mut stale_at_jump = 0;
        for k in 1..states.len() {
            let (before, after) = (&states[k - 1], &states[k]);
            let prev_end = parse(before).unwrap().good_len as usize;
            let cut = Unsynced::new(before, after, SECTOR);
            assert!(cut.changed.len() <= 4, "{} sectors", cut.changed.len());
            let jumped = cut.changed[0] * SECTOR > prev_end;
            if jumped
                && let Some(next) = jump_target(prev_end as u64)
                && frame_checks(before, next as usize, salt(41))
            {
                stale_at_jump += 1;
            }
            for mask in 0u64..1 << cut.changed.len() {
                let disk = cut.disk(mask);
                let p = parsed_after_cut(&disk, k, mask);
                let end = records_end(&disk);
                assert!(end as u64 >= p.good_len, "write {k}, mask {mask:b}");
                assert_eq!(parse(&disk[..end]).unwrap().frames, p.frames);
            }
        }
        assert!(
            stale_at_jump > 0,
            "no jump found an older journal's valid frame at its target"
        );
    }

    #[test]
    fn damage_stops_reading_at_the_damaged_frame() {
        let bytes = journal(&[
            (b"aaaa", Kind::Sample),
            (b"bbbb", Kind::Sample),
            (b"cccc", Kind::Sample),
        ]);
        for flip in HEADER_LEN..bytes.len() {
            let mut b = bytes.clone();
            b[flip] ^= 0x40;
            let p = parse(&b).unwrap();
            let frame = (flip - HEADER_LEN) / (FRAME_HEADER_LEN + 4);
            assert_eq!(p.frames.len(), frame, "flip at {flip}");
            assert!(p.frames.iter().all(|(_, pl)| pl.len() == 4));
        }
        // A huge length is damage, not an allocation.
        let mut b = bytes.clone();
        b[HEADER_LEN..HEADER_LEN + 4].copy_from_slice(&u32::MAX.to_le_bytes());
        assert_eq!(parse(&b).unwrap().frames.len(), 0);
    }

    #[test]
    fn not_a_journal() {
        assert_eq!(
            parse(b"PAR1 garbage that is long enough"),
            Err(NotAJournal::BadMagic)
        );
        assert_eq!(parse(b"xyz"), Err(NotAJournal::BadMagic));
        let mut b = journal(&[]);
        b[8..12].copy_from_slice(&(JOURNAL_VERSION + 1).to_le_bytes());
        assert_eq!(
            parse(&b),
            Err(NotAJournal::NewerVersion(JOURNAL_VERSION + 1))
        );
        // An empty file, or a header cut short: an empty journal.
        assert_eq!(parse(b"").unwrap().frames.len(), 0);
        assert_eq!(parse(b"STABM").unwrap().torn_bytes, 5);
    }

    #[test]
    fn unknown_kinds_are_skipped() {
        let mut b = journal(&[(b"a", Kind::Sample)]);
        let mut crc = crc32fast::Hasher::new();
        crc.update(&[9, b'z']);
        b.extend_from_slice(&1u32.to_le_bytes());
        b.extend_from_slice(&(crc.finalize() ^ salt(7)).to_le_bytes());
        b.extend_from_slice(&[9, b'z']);
        encode_frame(Kind::Sample, b"b", salt(7), &mut b);
        let p = parse(&b).unwrap();
        assert_eq!(p.frames.len(), 2);
        assert_eq!(p.unknown_frames, 1);
    }

    #[test]
    fn power_cut_loses_at_most_the_sync_period() {
        let fs = FaultFs::new();
        let path = Path::new("/data/_journal/host=a/00000000000000000001.journal");
        // sync every 3 records' worth of time: with next_in = 1 s and sync_every = 3 s, a record is fsynced when
        // the oldest unsynced one is 2 s old (by the clock) or, here, never by the clock: the tests run fast.
        let mut w = JournalWriter::create(&fs, path, 1, Duration::from_secs(3), None).unwrap();
        let before = fs.fsyncs();
        for i in 0u8..10 {
            w.append(Kind::Sample, &[i], Duration::from_secs(1))
                .unwrap();
        }
        // The test is fast, so no record aged: nothing was synced after the header.
        assert_eq!(fs.fsyncs(), before);
        w.sync().unwrap();
        assert_eq!(fs.fsyncs(), before + 1);
        for i in 10u8..13 {
            w.append(Kind::Sample, &[i], Duration::from_secs(1))
                .unwrap();
        }
        fs.power_cut();
        let bytes = fs.read(path).unwrap();
        let p = parse(&bytes).unwrap();
        assert_eq!(p.frames.len(), 10, "only the synced records survive");
        assert_eq!(p.torn_bytes, 0);

        // With sync_every <= next_in every record is fsynced as it is written.
        let path2 = Path::new("/data/_journal/host=a/00000000000000000002.journal");
        let mut w = JournalWriter::create(&fs, path2, 2, Duration::from_secs(1), None).unwrap();
        let before = fs.fsyncs();
        for i in 0u8..5 {
            w.append(Kind::Sample, &[i], Duration::from_secs(1))
                .unwrap();
        }
        assert_eq!(fs.fsyncs(), before + 5);
        fs.power_cut();
        assert_eq!(parse(&fs.read(path2).unwrap()).unwrap().frames.len(), 5);
    }

    #[test]
    fn sync_by_the_clock() {
        let fs = FaultFs::new();
        let path = Path::new("/j/x.journal");
        let mut w = JournalWriter::create(&fs, path, 1, Duration::from_millis(30), None).unwrap();
        let before = fs.fsyncs();
        w.append(Kind::Sample, b"a", Duration::ZERO).unwrap();
        assert_eq!(fs.fsyncs(), before);
        std::thread::sleep(Duration::from_millis(40));
        w.append(Kind::Sample, b"b", Duration::ZERO).unwrap();
        assert_eq!(fs.fsyncs(), before + 1, "the oldest record was 40 ms old");
    }

    #[test]
    fn a_full_disk_leaves_no_torn_frame_and_writing_resumes() {
        let fs = FaultFs::new();
        let path = Path::new("/j/x.journal");
        let mut w = JournalWriter::create(&fs, path, 1, Duration::ZERO, None).unwrap();
        w.append(Kind::Sample, b"before", Duration::ZERO).unwrap();
        let used = fs.read(path).unwrap().len() as u64;
        fs.set_capacity(Some(used + 5));
        for _ in 0..3 {
            match w.append(Kind::Sample, b"does not fit", Duration::ZERO) {
                Err(AppendError::Write(e)) => assert_eq!(e.kind(), io::ErrorKind::StorageFull),
                other => panic!("{other:?}"),
            }
            // The partial frame was cut back.
            assert_eq!(fs.read(path).unwrap().len() as u64, used);
        }
        fs.set_capacity(None);
        w.append(Kind::Sample, b"after", Duration::ZERO).unwrap();
        let bytes = fs.read(path).unwrap();
        let p = parse(&bytes).unwrap();
        let payloads: Vec<&[u8]> = p.frames.iter().map(|f| f.1.as_slice()).collect();
        assert_eq!(payloads, [&b"before"[..], b"after"]);
        assert_eq!(p.torn_bytes, 0);
        assert_eq!(w.records(), 2);
    }
}
