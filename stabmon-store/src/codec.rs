//! The journal's records: samples and clean-stop markers, and reading a journal back: streamed record by
//! record, or whole.
//!
//! A sample is stored in a record layout of the journal's own ([`layout1`]), never as the in-memory [`Sample`]
//! itself, so the sample model can change without changing what an old journal means. Format 2 compresses each
//! sample with zstd against the previous one (a delta: a process seen a second ago costs a few bytes, its name
//! and command line nothing), with a key record compressed on its own every [`KEY_EVERY`] records. A sample's
//! exits ride in a frame of their own after its record ([`exits1`]; plain in format 2, compressed on its own in
//! format 3), and its OOM kills and its new processes' cgroups in annex frames before it ([`annex`]), so layout 1
//! stays as it is. Format 4 writes record layout 2 ([`layout2`]) the same way, keys and deltas: a listed
//! process's names and cgroup once per key interval, numbers as changes, and the sample's exits inside its record
//! (no exits frame; only the OOM kills still ride in an annex).

use std::io::Read;

use serde::{Deserialize, Serialize};
use stabmon_core::{Sample, Timestamp};
use zstd::zstd_safe::{CCtx, DCtx};

use crate::journal::{FrameReader, Kind, NotAJournal};

mod annex;
mod bounded;
mod exits1;
mod layout1;
mod layout2;

use annex::AnnexDecoder;
pub(crate) use annex::encode_annexes;
use exits1::ExitsV1;
use layout1::SampleV1;
use layout2::{Layout2State, SampleV2};

/// A key record (compressed on its own) is written at least every this many sample records; a delta needs the
/// record before it, so one record that does not decode costs at most the records up to the next key.
pub(crate) const KEY_EVERY: u32 = 60;
/// The zstd level of a record. Records are small (a few kB before compression): a high level costs little here
/// and finds more of the previous record in the next one.
const ZSTD_LEVEL: i32 = 9;
/// No sample's record is this big, in layout 1 or 2 (before compression); a compressed record that claims more
/// is damage.
const MAX_RECORD: u64 = 16 << 20;

/// The payload of a [`Kind::Stop`] record (the same bytes in every format).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct StopRecord {
    pub host: String,
    pub ts: Timestamp,
    pub boot_id: Option<String>,
}

pub(crate) fn encode<T: Serialize>(value: &T) -> Vec<u8> {
    // Serializing our own plain structs into a Vec cannot fail; an empty payload would be refused on decoding.
    postcard::to_allocvec(value).unwrap_or_default()
}

/// Encodes the samples of one journal, in order: a key first and every [`KEY_EVERY`] records, deltas between.
pub(crate) struct SampleEncoder {
    cctx: CCtx<'static>,
    /// What the records since the key named (layout 2 refers to it).
    state: Layout2State,
    /// The layout-2 bytes of the previous record (the end of the next delta's dictionary), when it was written.
    base: Option<Vec<u8>>,
    since_key: u32,
    raw: Vec<u8>,
    /// The dictionary of the record being encoded.
    dict: Vec<u8>,
    /// A key at least every this many records ([`KEY_EVERY`]).
    key_every: u32,
    /// The zstd level ([`ZSTD_LEVEL`]).
    level: i32,
}

impl std::fmt::Debug for SampleEncoder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SampleEncoder")
            .field("since_key", &self.since_key)
            .finish_non_exhaustive()
    }
}

impl Default for SampleEncoder {
    fn default() -> Self {
        Self::new()
    }
}

impl SampleEncoder {
    pub(crate) fn new() -> Self {
        SampleEncoder {
            cctx: CCtx::create(),
            state: Layout2State::default(),
            base: None,
            since_key: 0,
            raw: Vec::new(),
            dict: Vec::new(),
            key_every: KEY_EVERY,
            level: ZSTD_LEVEL,
        }
    }

    /// An encoder with another key period and zstd level, to compare them.
    #[cfg(test)]
    pub(crate) fn tuned(key_every: u32, level: i32) -> Self {
        SampleEncoder {
            key_every,
            level,
            ..Self::new()
        }
    }

    /// The next record will be a key: call it for a new journal, and when a record could not be written (the
    /// next delta would refer to a record that is not in the file).
    pub(crate) fn reset(&mut self) {
        self.base = None;
    }

    /// Encodes `s` with its exits into `out` (cleared first) and returns the record's kind. The record becomes the
    /// next delta's dictionary: call [`reset`](Self::reset) if it is not written.
    pub(crate) fn encode(&mut self, s: &Sample, out: &mut Vec<u8>) -> Kind {
        let key =
            self.base.is_none() || self.since_key + 1 >= self.key_every || self.state.needs_key();
        if key {
            self.state.reset();
        }
        // A delta's dictionary: the names of the identities named since the key, then the record before.
        self.dict.clear();
        if let (Some(b), false) = (&self.base, key) {
            self.dict.extend_from_slice(self.state.history());
            self.dict.extend_from_slice(b);
        }
        self.raw.clear();
        let raw = postcard::to_extend(&self.state.encode(s), std::mem::take(&mut self.raw));
        // Serializing plain structs into a Vec cannot fail.
        self.raw = raw.unwrap_or_default();
        out.clear();
        out.reserve(zstd::zstd_safe::compress_bound(self.raw.len()));
        let kind = match self
            .cctx
            .compress_using_dict(out, &self.raw, &self.dict, self.level)
        {
            Ok(_) if key => Kind::Key,
            Ok(_) => Kind::Delta,
            // zstd cannot fail with a buffer of the bound's size; should it, the record goes out plain.
            Err(_) => {
                out.clear();
                out.extend_from_slice(&self.raw);
                self.base = None;
                return Kind::Sample;
            }
        };
        self.since_key = if key { 0 } else { self.since_key + 1 };
        let base = self.base.get_or_insert_with(Vec::new);
        std::mem::swap(base, &mut self.raw);
        kind
    }
}

/// Why a record did not decode.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Undecodable {
    /// The record's bytes are not what its kind says.
    Damaged,
    /// A delta whose previous record did not decode.
    NoBase,
    /// A kind this journal's format does not have.
    WrongKind,
}

/// A journal record.
#[derive(Debug, Clone)]
pub(crate) enum Record {
    Sample(Box<Sample>),
    Stop(StopRecord),
    /// The exits of the sample of the record before.
    Exits(stabmon_core::Exits),
    /// An annex, kept for the next sample.
    Annex,
}

/// Decodes the records of one journal, in order (a delta needs the record before it).
pub(crate) struct RecordDecoder {
    version: u32,
    dctx: Option<DCtx<'static>>,
    base: Option<Vec<u8>>,
    raw: Vec<u8>,
    annex: AnnexDecoder,
    /// What the layout-2 records since the key named.
    state: Layout2State,
    /// The dictionary of the record being decoded.
    dict: Vec<u8>,
}

impl RecordDecoder {
    pub(crate) fn new(version: u32) -> Self {
        RecordDecoder {
            version,
            dctx: None,
            base: None,
            raw: Vec::new(),
            annex: AnnexDecoder::default(),
            state: Layout2State::default(),
            dict: Vec::new(),
        }
    }

    /// Decodes one record; a sample gets the annexes read before it.
    pub(crate) fn decode(&mut self, kind: Kind, payload: &[u8]) -> Result<Record, Undecodable> {
        let mut rec = self.decode_record(kind, payload);
        if let Ok(Record::Sample(s)) = &mut rec {
            self.annex.apply(s);
        }
        rec
    }

    fn decode_record(&mut self, kind: Kind, payload: &[u8]) -> Result<Record, Undecodable> {
        match (self.version, kind) {
            (_, Kind::OomKills | Kind::Cgroups) => {
                if self.annex.take(kind, payload) {
                    Ok(Record::Annex)
                } else {
                    Err(Undecodable::Damaged)
                }
            }
            (_, Kind::Stop) => postcard::from_bytes::<StopRecord>(payload)
                .map(Record::Stop)
                .map_err(|_| Undecodable::Damaged),
            (1, Kind::Sample) => sample_from(payload).map(|s| Record::Sample(Box::new(s))),
            (2, Kind::Exits) => postcard::from_bytes::<ExitsV1>(payload)
                .map(|e| Record::Exits(e.into_exits()))
                .map_err(|_| Undecodable::Damaged),
            (3, Kind::Exits) => {
                let raw = self.decompress(payload, &[])?;
                let exits = postcard::from_bytes::<ExitsV1>(&raw)
                    .map(|e| Record::Exits(e.into_exits()))
                    .map_err(|_| Undecodable::Damaged);
                self.raw = raw;
                exits
            }
            (2.., Kind::Key | Kind::Delta) => {
                let base = self.base.take();
                let mut dict = std::mem::take(&mut self.dict);
                dict.clear();
                match (kind, &base) {
                    (Kind::Key, _) => {}
                    (_, Some(b)) => {
                        if self.version >= 4 {
                            dict.extend_from_slice(self.state.history());
                        }
                        dict.extend_from_slice(b);
                    }
                    (_, None) => return Err(Undecodable::NoBase),
                };
                let raw = self.decompress(payload, &dict);
                self.dict = dict;
                let raw = raw?;
                let decoded = if self.version >= 4 {
                    if kind == Kind::Key {
                        self.state.reset();
                    }
                    sample_v2_from(&raw, &mut self.state)
                } else {
                    sample_from(&raw)
                };
                let s = match decoded {
                    Ok(s) => s,
                    Err(e) => {
                        self.raw = raw;
                        return Err(e);
                    }
                };
                self.raw = base.unwrap_or_default();
                self.base = Some(raw);
                Ok(Record::Sample(Box::new(s)))
            }
            _ => Err(Undecodable::WrongKind),
        }
    }
}

impl RecordDecoder {
    /// Decompresses one zstd frame against `dict` into the decoder's buffer (taken out; put it back). The size
    /// the frame claims is checked before anything is allocated for it.
    fn decompress(&mut self, payload: &[u8], dict: &[u8]) -> Result<Vec<u8>, Undecodable> {
        let size = match zstd::zstd_safe::get_frame_content_size(payload) {
            Ok(Some(n)) if n <= MAX_RECORD => n as usize,
            _ => return Err(Undecodable::Damaged),
        };
        let mut raw = std::mem::take(&mut self.raw);
        raw.clear();
        raw.reserve_exact(size);
        let dctx = self.dctx.get_or_insert_with(DCtx::create);
        match dctx.decompress_using_dict(&mut raw, payload, dict) {
            Ok(n) if n == size => Ok(raw),
            _ => {
                self.raw = raw;
                Err(Undecodable::Damaged)
            }
        }
    }
}

fn sample_from(bytes: &[u8]) -> Result<Sample, Undecodable> {
    postcard::from_bytes::<SampleV1>(bytes)
        .ok()
        .and_then(SampleV1::into_sample)
        .ok_or(Undecodable::Damaged)
}

fn sample_v2_from(bytes: &[u8], state: &mut Layout2State) -> Result<Sample, Undecodable> {
    postcard::from_bytes::<SampleV2>(bytes)
        .ok()
        .and_then(|v| state.decode(v))
        .ok_or(Undecodable::Damaged)
}

/// What a journal holds.
#[derive(Debug, Clone, Default)]
pub(crate) struct JournalContents {
    pub seq: u64,
    /// The journal's format version.
    #[cfg_attr(not(test), allow(dead_code))]
    pub version: u32,
    /// The samples, in order (`read_journal`; empty after [`stream_journal`], which hands them out one by one).
    #[cfg_attr(not(any(test, feature = "fuzzing")), allow(dead_code))]
    pub samples: Vec<Sample>,
    pub stops: Vec<StopRecord>,
    /// Bytes after the last complete record (a torn write).
    pub torn_bytes: u64,
    /// Bytes of the header and the complete records: where the records end (a recycled file holds older bytes
    /// after them).
    pub records_end: u64,
    /// Records whose CRC matched but that did not decode (damage, a delta after one, or a kind this version
    /// does not know): counted and skipped; the journal is then set aside, not deleted.
    pub undecodable: u64,
}

/// Reads a journal held in memory: its samples and stops, up to its first torn or damaged record.
// Readers stream journals; whole ones are read by the tests and the fuzz targets.
#[cfg(any(test, feature = "fuzzing"))]
pub(crate) fn read_journal(bytes: &[u8]) -> Result<JournalContents, NotAJournal> {
    let mut samples = Vec::new();
    let streamed = stream_journal(bytes, |s| {
        samples.push(s);
        Ok::<(), std::io::Error>(())
    });
    match streamed {
        Ok(Ok(mut c)) => {
            c.samples = samples;
            Ok(c)
        }
        Ok(Err(why)) => Err(why),
        // Reading a slice cannot fail, and the closure never does.
        Err(_) => Ok(JournalContents::default()),
    }
}

/// Streams a journal: each sample is decoded and handed to `each` in order, one at a time, so memory holds one
/// record however long the journal is; stops are collected. Stops at the first torn or damaged record. The outer
/// error is the stream's or `each`'s; the inner says the stream is no journal (nothing was handed out then).
pub(crate) fn stream_journal<R: Read, E: From<std::io::Error>>(
    r: R,
    mut each: impl FnMut(Sample) -> Result<(), E>,
) -> Result<Result<JournalContents, NotAJournal>, E> {
    let mut frames = match FrameReader::open(r)? {
        Ok(f) => f,
        Err(why) => return Ok(Err(why)),
    };
    let mut out = JournalContents {
        seq: frames.seq,
        version: frames.version,
        ..JournalContents::default()
    };
    let mut decoder = RecordDecoder::new(frames.version);
    let mut payload = Vec::new();
    // A sample is handed out once the next record is known not to be its exits.
    let mut held: Option<Box<Sample>> = None;
    while let Some(kind) = frames.next_frame(&mut payload)? {
        match decoder.decode(kind, &payload) {
            Ok(Record::Exits(e)) => match held.as_mut() {
                Some(s) if s.exits.is_none() => s.exits = Some(e),
                // Exits without their sample (it did not decode): nothing to attach them to.
                _ => out.undecodable += 1,
            },
            Ok(Record::Sample(s)) => {
                if let Some(prev) = held.replace(s) {
                    each(*prev)?;
                }
            }
            // Annexes precede the next sample, so the held one's exits are not coming.
            Ok(Record::Annex) => {
                if let Some(prev) = held.take() {
                    each(*prev)?;
                }
            }
            Ok(Record::Stop(s)) => {
                if let Some(prev) = held.take() {
                    each(*prev)?;
                }
                out.stops.push(s);
            }
            Err(_) => {
                if let Some(prev) = held.take() {
                    each(*prev)?;
                }
                out.undecodable += 1;
            }
        }
    }
    if let Some(prev) = held.take() {
        each(*prev)?;
    }
    out.torn_bytes = frames.torn_bytes;
    out.records_end = frames.good_len;
    out.undecodable += frames.unknown_frames;
    Ok(Ok(out))
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
pub(crate) mod tests {
    use std::time::Duration;

    use stabmon_core::latency::{LatencyProbe, ProbeOutcome};
    use stabmon_core::{CpuUsage, LoadAvg, Memory, NameTotal, Pressure, ProcessEntry};

    use super::*;
    use crate::journal::{END_MARKER, encode_frame, header, salt};

    /// A sample with every field set to something other than its default.
    pub(crate) fn full_sample() -> Sample {
        let t = Timestamp::from_unix_micros(1_795_576_320_250_001);
        let mut s = Sample::new(t, "nas-01");
        s.boot_time = Timestamp::from_unix_secs(1_795_000_000);
        s.boot_id = Some("5f0c3c1e-0d7a-4c43-9d1b-2a4c1f7e9b10".into());
        s.timezone = Some("Europe/Berlin".into());
        s.utc_offset_secs = Some(3600);
        s.interval = Duration::from_millis(1001);
        s.lateness = Duration::from_micros(250);
        let mut cpu = CpuUsage::new(42.5);
        cpu.user_pct = Some(30.25);
        cpu.system_pct = Some(10.0);
        cpu.iowait_pct = Some(2.25);
        cpu.steal_pct = Some(0.5);
        s.cpu = cpu;
        s.per_core = vec![cpu, CpuUsage::new(f32::NAN)];
        s.load = Some(LoadAvg::new(1.5, 1.25, 0.75));
        let mut m = Memory::new(16 << 30, 9 << 30);
        m.swap_total_bytes = 4 << 30;
        m.swap_used_bytes = 1 << 20;
        s.memory = m;
        s.process_count = 612;
        let mut p = Pressure::default();
        p.cpu_some_pct = Some(1.5);
        p.memory_full_pct = Some(0.25);
        s.pressure = Some(p);
        s.oom_kill_count = Some(3);
        s.top.n = 10;
        let mut e = ProcessEntry::new(4242, "postgres");
        e.parent_pid = Some(1);
        e.cmdline = Some("postgres: checkpointer ünïcode".into());
        e.user = Some("postgres".into());
        e.cpu_pct = 97.5;
        e.children_cpu_pct = Some(3.0);
        e.rss_bytes = 1 << 30;
        e.virtual_bytes = 4 << 30;
        e.start_time = Timestamp::from_unix_secs(1_795_500_000);
        e.cpu_rank = Some(1);
        e.rss_rank = Some(2);
        s.top.processes = vec![e, ProcessEntry::new(7, "kworker/0:1")];
        let mut n = NameTotal::new("postgres");
        n.process_count = 12;
        n.cpu_pct = 101.25;
        n.rss_bytes = 3 << 30;
        n.cpu_rank = Some(1);
        n.rss_rank = Some(1);
        s.top.names = vec![n];
        s.top.cpu_nth_pct = 0.5;
        s.top.rss_nth_bytes = 1 << 20;
        s.top.name_cpu_nth_pct = 0.25;
        s.top.name_rss_nth_bytes = 2 << 20;
        let mut probe = LatencyProbe::ok("gw", t, 1.25);
        probe.dns_ms = Some(0.5);
        s.latency = vec![
            probe,
            LatencyProbe::new("db", t, ProbeOutcome::DnsError("NXDOMAIN".into())),
        ];
        s
    }

    fn synth(count: u64) -> Vec<Sample> {
        let t0 = Timestamp::from_unix_secs(1_795_576_320);
        let synth = stabmon_core::synth::Synth::new(t0, Duration::from_secs(1))
            .count(count)
            .processes(200)
            .latency_target("gw", 1.5, 0.5);
        synth.into_iter().collect()
    }

    /// A journal of the current format of `samples` (and a stop after the first), as the recorder writes it.
    fn journal_now(samples: &[Sample], stop: &StopRecord) -> Vec<u8> {
        let mut enc = SampleEncoder::new();
        let mut bytes = header(3).to_vec();
        let mut payload = Vec::new();
        for (i, s) in samples.iter().enumerate() {
            let kind = enc.encode(s, &mut payload);
            encode_frame(kind, &payload, salt(3), &mut bytes);
            if i == 0 {
                encode_frame(Kind::Stop, &encode(stop), salt(3), &mut bytes);
            }
        }
        bytes
    }

    #[test]
    fn samples_and_stops_round_trip_through_a_journal() {
        let mut samples = vec![full_sample()];
        samples.extend(synth(150));
        let stop = StopRecord {
            host: "nas-01".into(),
            ts: Timestamp::from_unix_secs(5),
            boot_id: None,
        };
        let mut bytes = journal_now(&samples, &stop);
        bytes.extend_from_slice(&[1, 2, 3]); // a torn frame
        let c = read_journal(&bytes).unwrap();
        assert_eq!((c.seq, c.version), (3, crate::journal::JOURNAL_VERSION));
        assert_eq!(c.samples.len(), samples.len());
        // NaN != NaN: compare the debug text, which shows every field.
        for (got, want) in c.samples.iter().zip(&samples) {
            assert_eq!(format!("{got:?}"), format!("{want:?}"));
        }
        assert_eq!(c.stops, [stop]);
        assert_eq!((c.torn_bytes, c.undecodable), (3, 0));
    }

    /// Exits of a storm, for the journal and store tests.
    pub(crate) fn storm_exits(k: u32) -> stabmon_core::Exits {
        use stabmon_core::{ExitStatus, ExitedName, ExitedProcess};
        let mut e = stabmon_core::Exits::default();
        e.count = 20 + k;
        e.dropped = k % 2;
        let mut n = ExitedName::new("php-cgi");
        n.count = 19 + k;
        n.cpu_time = Duration::from_micros(1_700_123);
        n.peak_rss_bytes = 31 << 20;
        e.names = vec![n, ExitedName::new("sh")];
        e.names[1].count = 1;
        let t = Timestamp::from_unix_micros(1_795_576_321_250_000);
        let mut p = ExitedProcess::new(4000 + k, "php-cgi");
        p.parent_pid = 3999;
        p.uid = 33;
        p.start_time = t;
        p.end_time = t.saturating_add(Duration::from_micros(400_001));
        p.cpu_time = Duration::from_micros(390_007);
        p.peak_rss_bytes = 30 << 20;
        p.status = ExitStatus::Code(0);
        let mut q = p.clone();
        q.pid += 1;
        q.status = ExitStatus::Signal(9);
        e.processes = vec![p, q];
        e
    }

    /// Samples with exits keep them whole through a journal; a sample without exits gets none, and exits whose
    /// sample did not decode attach to no other sample.
    #[test]
    fn exits_ride_beside_their_sample() {
        let mut samples = synth(130);
        for (k, s) in samples.iter_mut().enumerate() {
            if k % 3 != 1 {
                s.exits = Some(storm_exits(k as u32));
            }
        }
        samples[5].exits = Some(stabmon_core::Exits::default());
        let stop = StopRecord {
            host: "h".into(),
            ts: Timestamp::from_unix_secs(5),
            boot_id: None,
        };
        let bytes = journal_now(&samples, &stop);
        let c = read_journal(&bytes).unwrap();
        assert_eq!(c.undecodable, 0);
        assert_eq!(c.samples.len(), samples.len());
        for (got, want) in c.samples.iter().zip(&samples) {
            assert_eq!(got.exits, want.exits);
            assert_eq!(format!("{got:?}"), format!("{want:?}"));
        }
        // Damage the third sample's record (a delta): it and the deltas after it up to the next key are lost,
        // and so are their exits, which do not attach to the sample before.
        let f = frames(&bytes)
            .into_iter()
            .filter(|f| f.0 == Kind::Delta as u8)
            .nth(1)
            .unwrap();
        let mut damaged = bytes.clone();
        damage(&mut damaged, f);
        let c = read_journal(&damaged).unwrap();
        assert!(c.samples.len() < samples.len());
        for got in &c.samples {
            let want = samples.iter().find(|s| s.ts == got.ts).unwrap();
            assert_eq!(got.exits, want.exits, "sample at {}", got.ts);
        }
    }

    /// A journal of the current format of `samples` with their annexes before them, as the recorder writes it.
    fn journal_annexed(samples: &[Sample]) -> Vec<u8> {
        let mut enc = SampleEncoder::new();
        let mut bytes = header(4).to_vec();
        let (mut payload, mut frames) = (Vec::new(), Vec::new());
        for s in samples {
            encode_annexes(s, salt(4), &mut frames);
            bytes.extend_from_slice(&frames);
            let kind = enc.encode(s, &mut payload);
            encode_frame(kind, &payload, salt(4), &mut bytes);
        }
        bytes
    }

    /// A sample's annexes (before it) and exits (in its record) each reach that sample, not a neighbour, also where
    /// an annex does not decode.
    #[test]
    fn annexes_and_exits_reach_their_own_sample() {
        let mut samples = annexed(12);
        for (k, s) in samples.iter_mut().enumerate() {
            if k % 2 == 0 {
                s.exits = Some(storm_exits(k as u32));
            }
        }
        let bytes = journal_annexed(&samples);
        let c = read_journal(&bytes).unwrap();
        assert_eq!((c.samples.len(), c.undecodable), (12, 0));
        for (got, want) in c.samples.iter().zip(&samples) {
            assert_eq!(format!("{got:?}"), format!("{want:?}"));
        }
        // Damage the kills' annex (before the seventh sample, after the sixth's exits): the kills are lost, and
        // every sample keeps its own exits.
        let mut damaged = bytes.clone();
        let kills = *frames(&bytes)
            .iter()
            .find(|f| f.0 == Kind::OomKills as u8)
            .unwrap();
        no_postcard(&mut damaged, kills);
        let c = read_journal(&damaged).unwrap();
        assert_eq!((c.samples.len(), c.undecodable), (12, 1));
        for (i, (got, want)) in c.samples.iter().zip(&samples).enumerate() {
            assert!(got.oom_kills.is_empty(), "{i}");
            assert_eq!(got.exits, want.exits, "{i}");
        }
    }

    /// Samples whose processes have cgroups (a new process from the fifth on) and, at the seventh, two OOM kills.
    fn annexed(count: u64) -> Vec<Sample> {
        let t0 = Timestamp::from_unix_secs(1_795_576_320);
        let mut samples: Vec<Sample> = (0..count)
            .map(|i| {
                let mut s = Sample::new(t0.saturating_add(Duration::from_secs(i)), "nas");
                s.interval = Duration::from_secs(1);
                s.top.n = 5;
                s.top.processes = (10..13)
                    .map(|pid| {
                        let mut p = ProcessEntry::new(pid, "app");
                        p.cpu_pct = (i + u64::from(pid)) as f32;
                        p.start_time = Timestamp::from_unix_secs(1_795_500_000);
                        p
                    })
                    .collect();
                s
            })
            .collect();
        for (i, s) in samples.iter_mut().enumerate() {
            for p in &mut s.top.processes {
                p.cgroup = Some(format!("/system.slice/app-{}.service", p.pid));
            }
            if i >= 4 {
                let mut p = ProcessEntry::new(31_000, "newcomer");
                p.start_time = t0.saturating_add(Duration::from_secs(4));
                p.cgroup = Some("/user.slice/user-1000.slice/session-3.scope".into());
                s.top.processes.push(p);
            }
            if i == 6 {
                for pid in [4000, 4001] {
                    let mut k = stabmon_core::OomKill::new(s.ts, pid, "hog");
                    k.anon_rss_bytes = Some(u64::from(pid) << 20);
                    k.memcg = true;
                    k.cgroup = Some("/system.slice/batch.service".into());
                    s.oom_kills.push(k);
                }
            }
        }
        samples
    }

    #[test]
    fn annexes_round_trip_and_cgroups_ride_in_the_record() {
        let samples = annexed(20);
        let bytes = journal_annexed(&samples);
        let c = read_journal(&bytes).unwrap();
        assert_eq!((c.samples.len(), c.undecodable), (20, 0));
        for (got, want) in c.samples.iter().zip(&samples) {
            assert_eq!(format!("{got:?}"), format!("{want:?}"));
        }
        let kinds: Vec<u8> = frames(&bytes).iter().map(|f| f.0).collect();
        // One kill annex; the cgroups are named with their processes in the sample records, not in annexes.
        assert_eq!(
            kinds.iter().filter(|k| **k == Kind::OomKills as u8).count(),
            1
        );
        assert!(!kinds.contains(&(Kind::Cgroups as u8)));
    }

    /// A format-3 journal (as the release before format 4 wrote it) with a cgroup annex before a key and a delta:
    /// the cgroups reach the processes they name, in this sample and the next.
    #[test]
    fn cgroup_annexes_of_format_3_still_apply() {
        let samples = annexed(2);
        let mut bytes = header(9).to_vec();
        bytes[8..12].copy_from_slice(&3u32.to_le_bytes());
        let procs = samples[0]
            .top
            .processes
            .iter()
            .map(|p| {
                let cg = p.cgroup.clone().unwrap();
                (p.pid, p.start_time.as_unix_micros(), cg)
            })
            .collect();
        bytes.extend_from_slice(&annex::cgroups_frame(procs));
        let mut cctx = CCtx::create();
        let mut prev: Vec<u8> = Vec::new();
        for (i, s) in samples.iter().enumerate() {
            let raw = encode(&SampleV1::from(s));
            let mut out = Vec::with_capacity(zstd::zstd_safe::compress_bound(raw.len()));
            cctx.compress_using_dict(&mut out, &raw, &prev, ZSTD_LEVEL)
                .unwrap();
            let kind = if i == 0 { Kind::Key } else { Kind::Delta };
            encode_frame(kind, &out, 0, &mut bytes);
            prev = raw;
        }
        let c = read_journal(&bytes).unwrap();
        assert_eq!((c.version, c.samples.len(), c.undecodable), (3, 2, 0));
        for (got, want) in c.samples.iter().zip(&samples) {
            assert!(want.top.processes.iter().all(|p| p.cgroup.is_some()));
            assert_eq!(format!("{got:?}"), format!("{want:?}"));
        }
    }

    /// An annex that does not decode costs its own data: the samples, with their cgroups and exits, are there.
    #[test]
    fn a_damaged_annex_costs_only_its_data() {
        let mut samples = annexed(10);
        samples[6].exits = Some(storm_exits(6));
        let mut bytes = journal_annexed(&samples);
        let kills = *frames(&bytes)
            .iter()
            .find(|f| f.0 == Kind::OomKills as u8)
            .unwrap();
        no_postcard(&mut bytes, kills);
        let c = read_journal(&bytes).unwrap();
        assert_eq!((c.samples.len(), c.undecodable), (10, 1));
        for (i, (got, want)) in c.samples.iter().zip(&samples).enumerate() {
            assert!(got.oom_kills.is_empty(), "{i}");
            assert_eq!(got.exits, want.exits, "{i}");
            let mut want = want.clone();
            want.oom_kills.clear();
            assert_eq!(format!("{got:?}"), format!("{want:?}"), "{i}");
        }
    }

    /// The frames of a journal up to its end (a zero frame header): (kind byte, start of the payload, payload
    /// length).
    fn frames(bytes: &[u8]) -> Vec<(u8, usize, usize)> {
        let mut out = Vec::new();
        let mut at = crate::journal::HEADER_LEN;
        while at + 9 <= bytes.len() && bytes[at..at + 9].iter().any(|&b| b != 0) {
            let len = u32::from_le_bytes([bytes[at], bytes[at + 1], bytes[at + 2], bytes[at + 3]])
                as usize;
            out.push((bytes[at + 8], at + 9, len));
            at += 9 + len;
        }
        out
    }

    /// What the journal's frames' CRCs are XORed with, from its header.
    fn journal_salt(bytes: &[u8]) -> u32 {
        let version = u32::from_le_bytes(bytes[8..12].try_into().unwrap());
        let seq = u64::from_le_bytes(bytes[12..20].try_into().unwrap());
        if version >= 5 { salt(seq) } else { 0 }
    }

    /// Replaces a frame's payload with bytes that are no postcard (an endless varint), under a matching CRC.
    fn no_postcard(bytes: &mut [u8], frame: (u8, usize, usize)) {
        let (kind, start, len) = frame;
        bytes[start..start + len].fill(0xff);
        let mut crc = crc32fast::Hasher::new();
        crc.update(&[kind]);
        crc.update(&bytes[start..start + len]);
        let crc = crc.finalize() ^ journal_salt(bytes);
        bytes[start - 5..start - 1].copy_from_slice(&crc.to_le_bytes());
    }

    /// Damages a payload byte and fixes the frame's CRC: the frame is complete, its record does not decode.
    fn damage(bytes: &mut [u8], frame: (u8, usize, usize)) {
        let (kind, start, len) = frame;
        for b in &mut bytes[start + len / 2..start + len] {
            *b ^= 0x5a;
        }
        let mut crc = crc32fast::Hasher::new();
        crc.update(&[kind]);
        crc.update(&bytes[start..start + len]);
        let crc = crc.finalize() ^ journal_salt(bytes);
        bytes[start - 5..start - 1].copy_from_slice(&crc.to_le_bytes());
    }

    #[test]
    fn keys_bound_what_one_undecodable_record_costs() {
        let mut samples = synth(3 * u64::from(KEY_EVERY));
        // Exits in every other record, and a cgroup for every listed process: all of it rides in the records.
        for (k, s) in samples.iter_mut().enumerate() {
            if k % 2 == 0 {
                s.exits = Some(storm_exits(k as u32));
            }
            for p in &mut s.top.processes {
                p.cgroup = Some(format!("/system.slice/{}.service", p.name));
            }
        }
        let stop = StopRecord {
            host: "h".into(),
            ts: Timestamp::from_unix_secs(5),
            boot_id: None,
        };
        let bytes = journal_now(&samples, &stop);
        let f: Vec<_> = frames(&bytes)
            .into_iter()
            .filter(|f| f.0 != Kind::Stop as u8)
            .collect();
        let kinds: Vec<u8> = f.iter().map(|f| f.0).collect();
        assert_eq!(kinds[0], Kind::Key as u8);
        assert_eq!(kinds[KEY_EVERY as usize], Kind::Key as u8);
        assert_eq!(
            kinds[1..KEY_EVERY as usize],
            [Kind::Delta as u8; KEY_EVERY as usize - 1]
        );
        // A delta 10 records before the second key is damaged: it and the 9 deltas after it are lost, the
        // key and everything after it decode.
        let hit = KEY_EVERY as usize - 10;
        let mut b = bytes.clone();
        damage(&mut b, f[hit]);
        let c = read_journal(&b).unwrap();
        assert_eq!(c.undecodable, 10);
        assert_eq!(c.samples.len(), samples.len() - 10);
        let want: Vec<_> = samples[..hit]
            .iter()
            .chain(&samples[hit + 10..])
            .map(|s| s.ts)
            .collect();
        let got: Vec<_> = c.samples.iter().map(|s| s.ts).collect();
        assert_eq!(got, want);
        // What decoded is whole: the records after the next key decode with every value, exits and cgroups too.
        for got in &c.samples {
            let want = samples.iter().find(|s| s.ts == got.ts).unwrap();
            assert_eq!(format!("{got:?}"), format!("{want:?}"));
        }
        // A damaged key costs the records up to the next key.
        let mut b = bytes.clone();
        damage(&mut b, f[KEY_EVERY as usize]);
        assert_eq!(read_journal(&b).unwrap().undecodable, u64::from(KEY_EVERY));
        // A format-1 record in a format-2 journal (or the reverse) is not misread.
        let mut b = header(1).to_vec();
        encode_frame(
            Kind::Sample,
            &encode(&SampleV1::from(&samples[0])),
            salt(1),
            &mut b,
        );
        assert_eq!(read_journal(&b).unwrap().undecodable, 1);
    }

    #[test]
    fn a_record_that_was_not_written_is_followed_by_a_key() {
        let samples = synth(5);
        let mut enc = SampleEncoder::new();
        let mut payload = Vec::new();
        let mut bytes = header(1).to_vec();
        for (i, s) in samples.iter().enumerate() {
            let kind = enc.encode(s, &mut payload);
            if i == 2 {
                enc.reset(); // the append failed
                continue;
            }
            assert_eq!(kind == Kind::Key, i == 0 || i == 3, "record {i}");
            encode_frame(kind, &payload, salt(1), &mut bytes);
        }
        let c = read_journal(&bytes).unwrap();
        assert_eq!((c.samples.len(), c.undecodable), (4, 0));
    }

    /// However long the key period, the encoder starts a key before the identities named since the last one cost
    /// more than the decoder keeps: a journal of samples that each list a new process with a 4 MiB command line
    /// decodes whole.
    #[test]
    fn long_names_bring_a_key_before_the_decoder_would_refuse() {
        let big = "z".repeat(4 << 20);
        let t0 = Timestamp::from_unix_secs(1_795_576_320);
        let mut enc = SampleEncoder::tuned(u32::MAX, 1);
        let mut payload = Vec::new();
        let mut bytes = header(1).to_vec();
        let mut kinds = Vec::new();
        for i in 0..20u32 {
            let mut s = Sample::new(t0.saturating_add(Duration::from_secs(i.into())), "h");
            let mut p = ProcessEntry::new(100 + i, "app");
            p.cmdline = Some(big.clone());
            s.top.processes = vec![p];
            let kind = enc.encode(&s, &mut payload);
            kinds.push(kind == Kind::Key);
            encode_frame(kind, &payload, salt(1), &mut bytes);
        }
        // Eight identities of 4 MiB and a bit cost more than half the decoder's bound: the ninth record is a key.
        let keys: Vec<usize> = (0..kinds.len()).filter(|&i| kinds[i]).collect();
        assert_eq!(keys, [0, 8, 16]);
        let mut decoded = 0;
        let streamed = stream_journal(bytes.as_slice(), |s| {
            assert_eq!(s.top.processes[0].cmdline.as_deref(), Some(big.as_str()));
            decoded += 1;
            Ok::<_, std::io::Error>(())
        })
        .unwrap()
        .unwrap();
        assert_eq!((decoded, streamed.undecodable), (20, 0));
    }

    /// Removes the fields of `got` that `want` does not have (fields added to the model after the fixture).
    fn only_known_fields(got: &mut serde_json::Value, want: &serde_json::Value) {
        match (got, want) {
            (serde_json::Value::Object(g), serde_json::Value::Object(w)) => {
                g.retain(|k, _| w.contains_key(k));
                for (k, v) in g.iter_mut() {
                    only_known_fields(v, &w[k]);
                }
            }
            (serde_json::Value::Array(g), serde_json::Value::Array(w)) => {
                for (g, w) in g.iter_mut().zip(w) {
                    only_known_fields(g, w);
                }
            }
            _ => {}
        }
    }

    /// A journal left by a crashed recorder of every earlier format is recovered whole: every sample and stop
    /// with every value it had, the torn last frame counted.
    #[test]
    fn committed_journals_of_every_format_decode_exactly() {
        let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures");
        for version in 1..=crate::journal::JOURNAL_VERSION {
            let fixture = dir.join(format!("journal-v{version}"));
            let bytes = std::fs::read(fixture.join("00000000000000000042.journal")).unwrap();
            let want: serde_json::Value =
                serde_json::from_slice(&std::fs::read(fixture.join("expected.json")).unwrap())
                    .unwrap();
            let c = read_journal(&bytes).unwrap();
            assert_eq!(c.version, version);
            assert_eq!(c.seq, want["seq"]);
            assert_eq!(c.undecodable, 0, "format {version}");
            assert_eq!(c.torn_bytes, want["torn_bytes"], "format {version}");
            let stops: Vec<_> = c
                .stops
                .iter()
                .map(|s| serde_json::json!({"host": s.host, "ts": s.ts, "boot_id": s.boot_id}))
                .collect();
            assert_eq!(
                serde_json::Value::from(stops),
                want["stops"],
                "format {version}"
            );
            let mut got = serde_json::to_value(&c.samples).unwrap();
            only_known_fields(&mut got, &want["samples"]);
            assert_eq!(
                got.as_array().map(Vec::len),
                want["samples"].as_array().map(Vec::len)
            );
            // Through text and back, as the expected values went (the JSON parser rounds some floats).
            let got: serde_json::Value = serde_json::from_str(&got.to_string()).unwrap();
            assert!(
                got == want["samples"],
                "format {version}: the samples differ"
            );
        }
    }

    /// Writes the fixture of the current format from the samples and stop of the format-1 fixture: run it once
    /// when the format changes (`cargo test -p stabmon-store --lib write_journal_fixture -- --ignored`) and
    /// commit the result; never rewrite the fixture of an older format. From format 5 on the journal is in a
    /// recycled file: an older journal's frames follow the torn one (and, from format 6 on, fill the unused ends
    /// of pages, where the records jump to the next page).
    #[test]
    #[ignore = "writes the fixture of a new journal format"]
    fn write_journal_fixture() {
        let version = crate::journal::JOURNAL_VERSION;
        let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures");
        let v1 = std::fs::read(dir.join("journal-v1/00000000000000000042.journal")).unwrap();
        let c = read_journal(&v1).unwrap();
        // Exits on every third sample from format 3 on, the stop after the 21st.
        let mut samples = c.samples.clone();
        for (i, s) in samples.iter_mut().enumerate() {
            if i % 3 == 1 {
                s.exits = Some(storm_exits(i as u32));
            }
        }
        // The older journal whose file this one takes (the same samples in reverse, laid out as the writer lays
        // them), then this journal written over it: each append's frames and end marker where the writer puts
        // them.
        let mut old = vec![0u8; 24 << 10];
        let mut enc = SampleEncoder::new();
        let mut payload = Vec::new();
        let mut at = lay(&mut old, 0, &header(c.seq - 1), false);
        for s in samples.iter().rev().cycle().take(3 * samples.len()) {
            let mut batch = Vec::new();
            let kind = enc.encode(s, &mut payload);
            encode_frame(kind, &payload, salt(c.seq - 1), &mut batch);
            at = lay(&mut old, at, &batch, true);
        }
        let mut bytes = old.clone();
        let mut enc = SampleEncoder::new();
        let mut at = lay(&mut bytes, 0, &header(c.seq), false);
        let mut jumps = 0;
        for (i, s) in samples.iter().enumerate() {
            let mut batch = Vec::new();
            let kind = enc.encode(s, &mut payload);
            encode_frame(kind, &payload, salt(c.seq), &mut batch);
            let to = lay(&mut bytes, at, &batch, true);
            jumps += usize::from(to - batch.len() != at);
            at = to;
            if i == 20 {
                let mut batch = Vec::new();
                encode_frame(Kind::Stop, &encode(&c.stops[0]), salt(c.seq), &mut batch);
                at = lay(&mut bytes, at, &batch, true);
            }
        }
        assert!(jumps > 0, "no record went on at the next page");
        // The first half of one more frame, where the writer would put it: a write cut by the crash. It claims
        // the older journal's bytes after it as its own tail.
        let mut torn = Vec::new();
        let kind = enc.encode(&c.samples[3], &mut payload);
        encode_frame(kind, &payload, salt(c.seq), &mut torn);
        let from =
            crate::journal::place(at as u64, (torn.len() + END_MARKER.len()) as u64) as usize;
        assert_eq!(
            from, at,
            "the torn frame is read as torn only where it does not jump"
        );
        bytes[from..from + torn.len() / 2].copy_from_slice(&torn[..torn.len() / 2]);
        let torn_bytes = torn.len();
        let out = dir.join(format!("journal-v{version}"));
        std::fs::create_dir_all(&out).unwrap();
        std::fs::write(out.join("00000000000000000042.journal"), &bytes).unwrap();
        let stops: Vec<_> = c
            .stops
            .iter()
            .map(|s| serde_json::json!({"host": s.host, "ts": s.ts, "boot_id": s.boot_id}))
            .collect();
        let expected = serde_json::json!({
            "seq": c.seq, "samples": samples, "stops": stops, "torn_bytes": torn_bytes
        });
        std::fs::write(out.join("expected.json"), expected.to_string()).unwrap();
    }

    /// Writes `batch` and an end marker into `file` as the journal writer does when its records end at `at`
    /// (placed within a page where it fits, when `paged`); returns where the records end now.
    fn lay(file: &mut [u8], at: usize, batch: &[u8], paged: bool) -> usize {
        let mut with_marker = batch.to_vec();
        with_marker.extend_from_slice(&END_MARKER);
        let from = if paged {
            crate::journal::place(at as u64, with_marker.len() as u64) as usize
        } else {
            at
        };
        file[from..from + with_marker.len()].copy_from_slice(&with_marker);
        from + batch.len()
    }

    /// What a journal's records cost, by kind; what the current format makes of its samples at other key periods
    /// and zstd levels; and what each part of a record costs (the bytes saved when that part is made constant):
    /// `JOURNAL_BYTES=FILE cargo test -p stabmon-store --lib journal_bytes -- --ignored --nocapture` (a journal
    /// that `stabmon record` left, or any other), or the synthetic series without it.
    #[test]
    #[ignore = "prints figures for a journal given in JOURNAL_BYTES"]
    fn journal_bytes() {
        let samples = match std::env::var("JOURNAL_BYTES") {
            Ok(path) => {
                let bytes = std::fs::read(&path).unwrap();
                let mut by_kind = std::collections::BTreeMap::<u8, (u64, u64)>::new();
                let parsed = crate::journal::parse(&bytes).unwrap();
                for (kind, payload) in &parsed.frames {
                    let e = by_kind.entry(*kind as u8).or_default();
                    e.0 += 1;
                    e.1 += payload.len() as u64 + 9;
                }
                let c = read_journal(&bytes).unwrap();
                let n = c.samples.len().max(1) as f64;
                println!(
                    "format {}, {} samples; {:.0} B a sample in the file (from format 6 on, unused ends of pages \
                     included)",
                    c.version,
                    c.samples.len(),
                    (parsed.good_len as f64 - crate::journal::HEADER_LEN as f64) / n
                );
                for (kind, (k, b)) in &by_kind {
                    println!(
                        "kind {kind}: {k} frames, {b} B, {:.0} B each, {:.0} B a sample",
                        *b as f64 / *k as f64,
                        *b as f64 / n
                    );
                }
                c.samples
            }
            Err(_) => stabmon_core::synth::Synth::new(
                Timestamp::from_unix_secs(1_795_575_600),
                Duration::from_secs(1),
            )
            .count(600)
            .processes(1000)
            .top_n(10)
            .generate(),
        };
        let n = samples.len() as f64;
        let cost = |samples: &[Sample], key_every: u32, level: i32| {
            let mut enc = SampleEncoder::tuned(key_every, level);
            let mut payload = Vec::new();
            let (mut keys, mut deltas) = ((0, 0), (0, 0));
            for s in samples {
                let kind = enc.encode(s, &mut payload);
                let e = if kind == Kind::Key {
                    &mut keys
                } else {
                    &mut deltas
                };
                e.0 += 1;
                e.1 += payload.len() + 9;
            }
            (keys, deltas)
        };
        let v1: usize = samples
            .iter()
            .map(|s| encode(&SampleV1::from(s)).len())
            .sum();
        println!(
            "layout 1 {:.0} B a sample before compression",
            v1 as f64 / n
        );
        // Format 3 in the same run: layout 1 against the record before, the exits compressed on their own.
        let (mut cctx, mut prev, mut v3) = (CCtx::create(), Vec::new(), 0);
        for (i, s) in samples.iter().enumerate() {
            let raw = encode(&SampleV1::from(s));
            let dict: &[u8] = if i % KEY_EVERY as usize == 0 {
                &[]
            } else {
                &prev
            };
            let mut out = Vec::with_capacity(zstd::zstd_safe::compress_bound(raw.len()));
            cctx.compress_using_dict(&mut out, &raw, dict, ZSTD_LEVEL)
                .unwrap();
            v3 += out.len() + 9;
            if let Some(e) = &s.exits {
                let raw = encode(&ExitsV1::from(e));
                out.clear();
                out.reserve(zstd::zstd_safe::compress_bound(raw.len()));
                cctx.compress_using_dict(&mut out, &raw, &[], ZSTD_LEVEL)
                    .unwrap();
                v3 += out.len() + 9;
            }
            prev = raw;
        }
        println!(
            "format 3, key every {KEY_EVERY}, level {ZSTD_LEVEL}: {:.0} B a sample (cgroup annexes not counted)",
            v3 as f64 / n
        );
        for key_every in [60, 300] {
            for level in [9, 15] {
                let t = std::time::Instant::now();
                let (keys, deltas) = cost(&samples, key_every, level);
                println!(
                    "format {}, key every {key_every}, level {level}: {:.0} B a sample (keys {} x {:.0} B, deltas {} x \
                     {:.0} B), {:.0} us a sample",
                    crate::journal::JOURNAL_VERSION,
                    (keys.1 + deltas.1) as f64 / n,
                    keys.0,
                    keys.1 as f64 / keys.0.max(1) as f64,
                    deltas.0,
                    deltas.1 as f64 / deltas.0.max(1) as f64,
                    t.elapsed().as_secs_f64() * 1e6 / n
                );
            }
        }
        // In the file: each append (one frame here, and the end marker) within a page where it fits.
        let (mut enc, mut payload) = (SampleEncoder::new(), Vec::new());
        let (mut at, mut framed) = (crate::journal::HEADER_LEN as u64, 0u64);
        for s in &samples {
            enc.encode(s, &mut payload);
            let len = (payload.len() + 9) as u64;
            framed += len;
            at = crate::journal::place(at, len + END_MARKER.len() as u64) + len;
        }
        let in_file = (at - crate::journal::HEADER_LEN as u64) as f64;
        println!(
            "format {} in the file, appends within a page where they fit: {:.0} B a sample, {:.1} % more than \
             its frames",
            crate::journal::JOURNAL_VERSION,
            in_file / n,
            (in_file / framed as f64 - 1.0) * 100.0
        );
        let total = |samples: &[Sample]| {
            let (k, d) = cost(samples, KEY_EVERY, ZSTD_LEVEL);
            (k.1 + d.1) as f64 / n
        };
        let all = total(&samples);
        type Blank = fn(&mut Sample);
        let parts: [(&str, Blank); 9] = [
            ("processes' CPU", |s| {
                for p in &mut s.top.processes {
                    (p.cpu_pct, p.children_cpu_pct) = (0.0, None);
                }
            }),
            ("processes' memory", |s| {
                for p in &mut s.top.processes {
                    (p.rss_bytes, p.virtual_bytes) = (0, 0);
                }
            }),
            ("processes' ranks", |s| {
                for p in &mut s.top.processes {
                    (p.cpu_rank, p.rss_rank) = (None, None);
                }
            }),
            ("processes' names, command lines, users, cgroups", |s| {
                for p in &mut s.top.processes {
                    p.name.clear();
                    (p.cmdline, p.user, p.cgroup) = (None, None, None);
                }
            }),
            ("names' totals", |s| {
                for t in &mut s.top.names {
                    (t.process_count, t.cpu_pct, t.rss_bytes) = (0, 0.0, 0);
                    (t.cpu_rank, t.rss_rank) = (None, None);
                }
            }),
            ("system CPU, memory, load, pressure", |s| {
                s.cpu = stabmon_core::CpuUsage::new(0.0);
                for c in &mut s.per_core {
                    *c = stabmon_core::CpuUsage::new(0.0);
                }
                s.memory = stabmon_core::Memory::new(0, 0);
                (s.load, s.pressure, s.process_count) = (None, None, 0);
            }),
            ("time, interval, lateness", |s| {
                s.ts = Timestamp::from_unix_secs(0);
                (s.interval, s.lateness) = (Duration::ZERO, Duration::ZERO);
            }),
            ("exits", |s| s.exits = None),
            ("latency", |s| s.latency.clear()),
        ];
        // What naming each identity once per key interval has to write, before compression.
        let mut named = std::collections::HashSet::new();
        let (mut ids, mut strings) = (0, 0);
        for (i, s) in samples.iter().enumerate() {
            if i % KEY_EVERY as usize == 0 {
                named.clear();
            }
            for p in &s.top.processes {
                if named.insert(p.key()) {
                    ids += 1;
                    strings += p.name.len()
                        + [&p.cmdline, &p.user, &p.cgroup]
                            .iter()
                            .map(|x| x.as_ref().map_or(0, String::len))
                            .sum::<usize>();
                }
            }
        }
        println!(
            "identities named once per key interval: {:.2} a sample, their strings {:.0} B a sample before \
             compression",
            ids as f64 / n,
            strings as f64 / n
        );
        let (ep, en) = samples
            .iter()
            .filter_map(|s| s.exits.as_ref())
            .fold((0, 0), |(p, m), e| {
                (p + e.processes.len(), m + e.names.len())
            });
        println!(
            "exits: {:.1} processes and {:.1} names a sample",
            ep as f64 / n,
            en as f64 / n
        );
        println!("a sample in all {all:.0} B; each part costs:");
        for (name, blank) in parts {
            let mut v = samples.clone();
            v.iter_mut().for_each(blank);
            println!("  {name}: {:.0} B", all - total(&v));
        }
    }

    /// Layout 1 is frozen: these are the bytes format 1 wrote for [`full_sample`], and format 2 compresses.
    #[test]
    fn layout_1_is_frozen() {
        let bytes = encode(&SampleV1::from(&full_sample()));
        let hex: String = bytes.iter().map(|b| format!("{b:02x}")).collect();
        assert_eq!(hex, GOLDEN_V1, "layout 1 must never change");
        let back = postcard::from_bytes::<SampleV1>(&bytes)
            .unwrap()
            .into_sample()
            .unwrap();
        assert_eq!(format!("{back:?}"), format!("{:?}", full_sample()));
    }
    const GOLDEN_V1: &str = concat!(
        "a2c2e28ba6c4b006066e61732d303180c0f995e0a2b006012435663063336331652d306437612d346334332d39643162",
        "2d326134633166376539623130010d4575726f70652f4265726c696e01a03801c0843d0090a10f00002a42010000f241",
        "01000020410100001040010000003f0200002a42010000f24101000020410100001040010000003f0000c07f00000000",
        "010000c03f0000a03f0000403f8080808040808080801c80808080248080808010808040e40401010000c03f00010000",
        "803e000001030a029221010108706f7374677265730120706f7374677265733a20636865636b706f696e74657220c3bc",
        "6ec3af636f64650108706f7374677265730000c34201000040408080808004808080801080e08dbbedbfb00601010102",
        "07000b6b776f726b65722f303a310000000000000000000000000108706f7374677265730c0080ca42808080800c0101",
        "01010000003f8080400000803e8080800102026777a2c2e28ba6c4b0060001000000000000e03f000000010000000000",
        "00f43f026462a2c2e28ba6c4b00604084e58444f4d41494e0000000000",
    );
}
