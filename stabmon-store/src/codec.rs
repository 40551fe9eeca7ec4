//! The journal's records: samples and clean-stop markers, postcard-encoded (compact, and independent of the
//! Parquet columns), and reading a journal back: streamed record by record, or whole.

use std::io::Read;

use serde::{Deserialize, Serialize};
use stabmon_core::{Sample, Timestamp};

use crate::journal::{FrameReader, Kind, NotAJournal};

/// The payload of a [`Kind::Stop`] record.
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

/// What a journal holds.
#[derive(Debug, Clone, Default)]
pub(crate) struct JournalContents {
    pub seq: u64,
    /// The samples, in order ([`read_journal`]; empty after [`stream_journal`], which hands them out one by one).
    pub samples: Vec<Sample>,
    pub stops: Vec<StopRecord>,
    /// Bytes after the last complete record (a torn write).
    pub torn_bytes: u64,
    /// Records whose CRC matched but that did not decode (should not happen; counted, skipped).
    pub undecodable: u64,
}

/// Reads a journal held in memory: its samples and stops, up to its first torn or damaged record.
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
        ..JournalContents::default()
    };
    let mut payload = Vec::new();
    while let Some(kind) = frames.next_frame(&mut payload)? {
        match kind {
            Kind::Sample => match postcard::from_bytes::<Sample>(&payload) {
                Ok(s) => each(s)?,
                Err(_) => out.undecodable += 1,
            },
            Kind::Stop => match postcard::from_bytes::<StopRecord>(&payload) {
                Ok(s) => out.stops.push(s),
                Err(_) => out.undecodable += 1,
            },
        }
    }
    out.torn_bytes = frames.torn_bytes;
    out.undecodable += frames.unknown_frames;
    Ok(Ok(out))
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use std::time::Duration;

    use stabmon_core::latency::{LatencyProbe, ProbeOutcome};
    use stabmon_core::{CpuUsage, LoadAvg, Memory, NameTotal, Pressure, ProcessEntry};

    use super::*;
    use crate::journal::{encode_frame, header};

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

    #[test]
    fn samples_and_stops_round_trip_through_a_journal() {
        let s = full_sample();
        let stop = StopRecord {
            host: "nas-01".into(),
            ts: Timestamp::from_unix_secs(5),
            boot_id: None,
        };
        let mut bytes = header(3).to_vec();
        encode_frame(Kind::Sample, &encode(&s), &mut bytes);
        encode_frame(Kind::Stop, &encode(&stop), &mut bytes);
        bytes.extend_from_slice(&[1, 2, 3]); // a torn frame
        let c = read_journal(&bytes).unwrap();
        assert_eq!(c.seq, 3);
        assert_eq!(c.samples.len(), 1);
        // NaN != NaN: compare the debug text, which shows every field.
        assert_eq!(format!("{:?}", c.samples[0]), format!("{s:?}"));
        assert_eq!(c.stops, [stop]);
        assert_eq!((c.torn_bytes, c.undecodable), (3, 0));
    }

    /// The encoding of a sample, pinned. When the sample model changes this test fails: bump
    /// `journal::JOURNAL_VERSION` (old journals are then set aside, not misread) and update the bytes.
    #[test]
    fn sample_encoding_is_pinned_to_the_journal_version() {
        let bytes = encode(&full_sample());
        let hex: String = bytes.iter().map(|b| format!("{b:02x}")).collect();
        assert_eq!(crate::journal::JOURNAL_VERSION, 1);
        assert_eq!(
            hex, GOLDEN_V1,
            "the sample's encoding changed: bump JOURNAL_VERSION"
        );
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
