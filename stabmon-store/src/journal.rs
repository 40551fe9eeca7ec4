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
//!
//! Kinds from 16 on are annexes of the sample record that follows them, in every format: kind 16, the OOM
//! kills the sample carries; kind 17 (formats 1 to 3), the cgroups of the sample's processes whose identity (pid
//! and start time) this journal has not named before (each journal names them again, so that it decodes on its
//! own). They are written with their sample in one append, postcard-encoded in layouts of their own (see
//! `codec/annex.rs`), so a sample record's layout never changes for them, and a reader that does not know them
//! skips them. An annex that does not decode costs its own data only.
//!
//! Every format ever written stays readable: `tests/fixtures/journal-v*` hold one journal per format.

use std::io::{self, Read};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use crate::fsio::{AppendFile, Fs};

/// The first bytes of every journal.
pub(crate) const MAGIC: &[u8; 8] = b"STABMONJ";
/// The journal format this crate writes; it reads this one and every older one. Bump it when a record's encoding
/// changes, and add a fixture of the new format next to the old ones.
pub(crate) const JOURNAL_VERSION: u32 = 4;
pub(crate) const HEADER_LEN: usize = 20;
const FRAME_HEADER_LEN: usize = 9;
/// No record is this big; a length over it is damage, not a record.
const MAX_PAYLOAD: u32 = 64 << 20;

/// What a frame holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[repr(u8)]
pub(crate) enum Kind {
    /// One sample, plain (format 1).
    Sample = 1,
    /// The recorder stopped cleanly.
    Stop = 2,
    /// One sample, compressed on its own (formats 2 to 4).
    Key = 3,
    /// One sample, compressed against the previous one (formats 2 to 4).
    Delta = 4,
    /// The exits of the sample of the record before (format 2 plain, format 3 compressed; format 4 holds them in
    /// the sample's record).
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

/// Appends one frame to `out`.
pub(crate) fn encode_frame(kind: Kind, payload: &[u8], out: &mut Vec<u8>) {
    let len = u32::try_from(payload.len()).unwrap_or(u32::MAX);
    let mut crc = crc32fast::Hasher::new();
    crc.update(&[kind as u8]);
    crc.update(payload);
    out.extend_from_slice(&len.to_le_bytes());
    out.extend_from_slice(&crc.finalize().to_le_bytes());
    out.push(kind as u8);
    out.extend_from_slice(payload);
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
    /// Bytes of the header and the complete records.
    pub good_len: u64,
    /// Bytes after them: a torn or damaged frame (0 after a clean stop).
    pub torn_bytes: u64,
    /// Frames of a kind this version does not know (skipped).
    pub unknown_frames: u64,
    /// Zeros after the last record (written ahead by the writer).
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
    /// Bytes of the header and the complete records read so far.
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
        out.good_len = HEADER_LEN as u64;
        Ok(Ok(out))
    }

    /// Reads the next complete record into `payload` and returns its kind; `None` at the end of the journal or at
    /// its first torn or damaged frame (everything from there on is counted in `torn_bytes`). Frames of an
    /// unknown kind are skipped and counted.
    pub(crate) fn next_frame(&mut self, payload: &mut Vec<u8>) -> io::Result<Option<Kind>> {
        loop {
            if self.done {
                return Ok(None);
            }
            let mut head = [0u8; FRAME_HEADER_LEN];
            let n = read_full(&mut self.r, &mut head)?;
            if n > 0 && head[..n].iter().all(|&b| b == 0) {
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
            let crc = u32::from_le_bytes([head[4], head[5], head[6], head[7]]);
            let mut h = crc32fast::Hasher::new();
            h.update(&head[8..9]);
            h.update(payload);
            if got < len as usize || h.finalize() != crc {
                return self.stop_at((n + got) as u64);
            }
            self.good_len += (FRAME_HEADER_LEN + got) as u64;
            match Kind::from_u8(head[8]) {
                Some(kind) => return Ok(Some(kind)),
                None => self.unknown_frames += 1,
            }
        }
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

    /// Stops at a torn or damaged frame: `consumed` bytes of it were read; the rest of the stream is counted.
    fn stop_at(&mut self, consumed: u64) -> io::Result<Option<Kind>> {
        self.done = true;
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
    /// Bytes of the header and complete records.
    len: u64,
    sync_every: Duration,
    /// When the oldest record not yet fsynced was written.
    unsynced_since: Option<Instant>,
    /// A failed append may have left part of a frame at the end: cut it before the next one.
    needs_repair: bool,
    records: u64,
    buf: Vec<u8>,
}

impl JournalWriter {
    /// Creates a new journal at `path` (its directory is created), writes and fsyncs the header, and fsyncs the
    /// directory so the file itself survives a power cut.
    pub(crate) fn create(
        fs: &dyn Fs,
        path: &Path,
        seq: u64,
        sync_every: Duration,
    ) -> io::Result<JournalWriter> {
        let dir = path.parent().unwrap_or(Path::new("."));
        fs.create_dir_all(dir)?;
        let mut file = fs.open_append(path)?;
        file.truncate(0)?;
        let h = header(seq);
        let written = file.append(&h).and_then(|()| file.sync());
        if let Err(e) = written {
            let _ = fs.remove_file(path);
            return Err(e);
        }
        fs.sync_dir(dir)?;
        Ok(JournalWriter {
            file,
            path: path.to_path_buf(),
            seq,
            len: HEADER_LEN as u64,
            sync_every,
            unsynced_since: None,
            needs_repair: false,
            records: 0,
            buf: Vec::with_capacity(4096),
        })
    }

    pub(crate) fn path(&self) -> &Path {
        &self.path
    }

    pub(crate) fn seq(&self) -> u64 {
        self.seq
    }

    /// Bytes of the header and complete records.
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
    /// (see [`encode_frame`]), in one write, like [`append`](Self::append): the annexes, the sample and its exits
    /// are in the file together, or the torn tail is cut like any other.
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
            encode_frame(*kind, payload, &mut self.buf);
        }
        if let Err(e) = self.file.append(&self.buf) {
            self.needs_repair = true;
            // Cut the partial frame now if we can (a full disk still allows shrinking a file).
            if self.file.truncate(self.len).is_ok() {
                self.needs_repair = false;
            }
            return Err(AppendError::Write(e));
        }
        self.len += self.buf.len() as u64;
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

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use crate::fsio::FaultFs;

    fn journal(records: &[(&[u8], Kind)]) -> Vec<u8> {
        let mut out = header(7).to_vec();
        for (p, k) in records {
            encode_frame(*k, p, &mut out);
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
        let bytes = journal(&recs);
        let mut ahead = bytes.clone();
        ahead.resize(bytes.len() + 5000, 0);
        let p = parse(&ahead).unwrap();
        assert_eq!(p.frames.len(), 2);
        assert_eq!(
            (p.good_len, p.torn_bytes, p.zero_tail),
            (bytes.len() as u64, 0, 5000)
        );
        // A frame torn at a crash, then the zeros: the frame is damage, as without them.
        let mut torn = bytes[..bytes.len() - 2].to_vec();
        torn.resize(bytes.len() + 5000, 0);
        let p = parse(&torn).unwrap();
        assert_eq!(p.frames.len(), 1);
        assert!(p.torn_bytes > 0 && p.zero_tail == 0, "{p:?}");
        // Zeros and then anything else are damage too (a lost page, not the end).
        let mut lost = ahead.clone();
        lost[bytes.len() + 4000] = 1;
        let p = parse(&lost).unwrap();
        assert_eq!(p.frames.len(), 2);
        assert_eq!((p.torn_bytes, p.zero_tail), (5000, 0));
        // A file of zeros only: a crash before the header was written, so no journal content at all.
        let p = parse(&[0u8; 300]).unwrap();
        assert_eq!((p.frames.len(), p.torn_bytes, p.zero_tail), (0, 0, 300));
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
        b.extend_from_slice(&crc.finalize().to_le_bytes());
        b.extend_from_slice(&[9, b'z']);
        encode_frame(Kind::Sample, b"b", &mut b);
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
        let mut w = JournalWriter::create(&fs, path, 1, Duration::from_secs(3)).unwrap();
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
        let mut w = JournalWriter::create(&fs, path2, 2, Duration::from_secs(1)).unwrap();
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
        let mut w = JournalWriter::create(&fs, path, 1, Duration::from_millis(30)).unwrap();
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
        let mut w = JournalWriter::create(&fs, path, 1, Duration::ZERO).unwrap();
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
