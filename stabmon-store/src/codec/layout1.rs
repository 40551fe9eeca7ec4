//! Record layout 1: a sample as the journal stores it, frozen.
//!
//! These structs are a copy of the in-memory sample model as it was when journal format 1 was written (postcard,
//! field by field, in this order), made of plain types only: timestamps are `i64` microseconds, durations
//! `(secs, nanos)`, the probe outcome an enum of its own. Journals of format 1 (plain) and 2 (compressed, with
//! deltas) hold records in this layout, so a change of [`Sample`] never changes how an old journal decodes. Never
//! edit these structs: when the journal has to hold more, add a layout 2 next to this one and a journal format
//! that uses it, and keep decoding this one.

use std::time::Duration;

use serde::{Deserialize, Serialize};
use stabmon_core::latency::{LatencyProbe, ProbeOutcome};
use stabmon_core::{
    CpuUsage, LoadAvg, Memory, NameTotal, Pressure, ProcessEntry, Sample, Timestamp,
};

#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub(crate) struct Dur {
    secs: u64,
    nanos: u32,
}

impl From<Duration> for Dur {
    fn from(d: Duration) -> Self {
        Dur {
            secs: d.as_secs(),
            nanos: d.subsec_nanos(),
        }
    }
}

impl Dur {
    /// `None` for nanoseconds out of range (only damage writes that).
    fn get(self) -> Option<Duration> {
        (self.nanos < 1_000_000_000).then(|| Duration::new(self.secs, self.nanos))
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub(crate) struct SampleV1 {
    ts: i64,
    host: String,
    boot_time: i64,
    boot_id: Option<String>,
    timezone: Option<String>,
    utc_offset_secs: Option<i32>,
    interval: Dur,
    lateness: Dur,
    cpu: CpuV1,
    #[serde(deserialize_with = "super::bounded::seq")]
    per_core: Vec<CpuV1>,
    load: Option<LoadV1>,
    memory: MemoryV1,
    process_count: u32,
    pressure: Option<PressureV1>,
    oom_kill_count: Option<u64>,
    top: TopV1,
    #[serde(deserialize_with = "super::bounded::seq")]
    latency: Vec<ProbeV1>,
}

#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
struct CpuV1 {
    busy_pct: f32,
    user_pct: Option<f32>,
    system_pct: Option<f32>,
    iowait_pct: Option<f32>,
    steal_pct: Option<f32>,
}

#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
struct LoadV1 {
    one: f32,
    five: f32,
    fifteen: f32,
}

#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
struct MemoryV1 {
    total_bytes: u64,
    used_bytes: u64,
    available_bytes: u64,
    swap_total_bytes: u64,
    swap_used_bytes: u64,
}

#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
struct PressureV1 {
    cpu_some_pct: Option<f32>,
    memory_some_pct: Option<f32>,
    memory_full_pct: Option<f32>,
    io_some_pct: Option<f32>,
    io_full_pct: Option<f32>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
struct TopV1 {
    n: u16,
    #[serde(deserialize_with = "super::bounded::seq")]
    processes: Vec<ProcessV1>,
    #[serde(deserialize_with = "super::bounded::seq")]
    names: Vec<NameV1>,
    cpu_nth_pct: f32,
    rss_nth_bytes: u64,
    name_cpu_nth_pct: f32,
    name_rss_nth_bytes: u64,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
struct ProcessV1 {
    pid: u32,
    parent_pid: Option<u32>,
    name: String,
    cmdline: Option<String>,
    user: Option<String>,
    cpu_pct: f32,
    children_cpu_pct: Option<f32>,
    rss_bytes: u64,
    virtual_bytes: u64,
    start_time: i64,
    cpu_rank: Option<u16>,
    rss_rank: Option<u16>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
struct NameV1 {
    name: String,
    process_count: u32,
    cpu_pct: f32,
    rss_bytes: u64,
    cpu_rank: Option<u16>,
    rss_rank: Option<u16>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
struct ProbeV1 {
    target: String,
    ts: i64,
    outcome: OutcomeV1,
    dns_ms: Option<f64>,
    connect_ms: Option<f64>,
    tls_ms: Option<f64>,
    first_byte_ms: Option<f64>,
    total_ms: Option<f64>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
enum OutcomeV1 {
    Ok,
    Timeout,
    Refused,
    Reset,
    DnsError(String),
    TlsError(String),
    HttpStatus(u16),
    Other(String),
}

impl From<CpuUsage> for CpuV1 {
    fn from(c: CpuUsage) -> Self {
        CpuV1 {
            busy_pct: c.busy_pct,
            user_pct: c.user_pct,
            system_pct: c.system_pct,
            iowait_pct: c.iowait_pct,
            steal_pct: c.steal_pct,
        }
    }
}

impl From<CpuV1> for CpuUsage {
    fn from(c: CpuV1) -> Self {
        let mut out = CpuUsage::new(c.busy_pct);
        out.user_pct = c.user_pct;
        out.system_pct = c.system_pct;
        out.iowait_pct = c.iowait_pct;
        out.steal_pct = c.steal_pct;
        out
    }
}

impl From<&ProbeOutcome> for OutcomeV1 {
    fn from(o: &ProbeOutcome) -> Self {
        match o {
            ProbeOutcome::Ok => OutcomeV1::Ok,
            ProbeOutcome::Timeout => OutcomeV1::Timeout,
            ProbeOutcome::Refused => OutcomeV1::Refused,
            ProbeOutcome::Reset => OutcomeV1::Reset,
            ProbeOutcome::DnsError(m) => OutcomeV1::DnsError(m.clone()),
            ProbeOutcome::TlsError(m) => OutcomeV1::TlsError(m.clone()),
            ProbeOutcome::HttpStatus(c) => OutcomeV1::HttpStatus(*c),
            ProbeOutcome::Other(m) => OutcomeV1::Other(m.clone()),
            // An outcome added to the model later: kept as a failure with its message.
            other => OutcomeV1::Other(other.message().unwrap_or(other.kind()).to_owned()),
        }
    }
}

impl From<OutcomeV1> for ProbeOutcome {
    fn from(o: OutcomeV1) -> Self {
        match o {
            OutcomeV1::Ok => ProbeOutcome::Ok,
            OutcomeV1::Timeout => ProbeOutcome::Timeout,
            OutcomeV1::Refused => ProbeOutcome::Refused,
            OutcomeV1::Reset => ProbeOutcome::Reset,
            OutcomeV1::DnsError(m) => ProbeOutcome::DnsError(m),
            OutcomeV1::TlsError(m) => ProbeOutcome::TlsError(m),
            OutcomeV1::HttpStatus(c) => ProbeOutcome::HttpStatus(c),
            OutcomeV1::Other(m) => ProbeOutcome::Other(m),
        }
    }
}

impl From<&Sample> for SampleV1 {
    fn from(s: &Sample) -> Self {
        let m = &s.memory;
        SampleV1 {
            ts: s.ts.as_unix_micros(),
            host: s.host.clone(),
            boot_time: s.boot_time.as_unix_micros(),
            boot_id: s.boot_id.clone(),
            timezone: s.timezone.clone(),
            utc_offset_secs: s.utc_offset_secs,
            interval: s.interval.into(),
            lateness: s.lateness.into(),
            cpu: s.cpu.into(),
            per_core: s.per_core.iter().map(|&c| c.into()).collect(),
            load: s.load.map(|l| LoadV1 {
                one: l.one,
                five: l.five,
                fifteen: l.fifteen,
            }),
            memory: MemoryV1 {
                total_bytes: m.total_bytes,
                used_bytes: m.used_bytes,
                available_bytes: m.available_bytes,
                swap_total_bytes: m.swap_total_bytes,
                swap_used_bytes: m.swap_used_bytes,
            },
            process_count: s.process_count,
            pressure: s.pressure.map(|p| PressureV1 {
                cpu_some_pct: p.cpu_some_pct,
                memory_some_pct: p.memory_some_pct,
                memory_full_pct: p.memory_full_pct,
                io_some_pct: p.io_some_pct,
                io_full_pct: p.io_full_pct,
            }),
            oom_kill_count: s.oom_kill_count,
            top: TopV1 {
                n: s.top.n,
                processes: s
                    .top
                    .processes
                    .iter()
                    .map(|p| ProcessV1 {
                        pid: p.pid,
                        parent_pid: p.parent_pid,
                        name: p.name.clone(),
                        cmdline: p.cmdline.clone(),
                        user: p.user.clone(),
                        cpu_pct: p.cpu_pct,
                        children_cpu_pct: p.children_cpu_pct,
                        rss_bytes: p.rss_bytes,
                        virtual_bytes: p.virtual_bytes,
                        start_time: p.start_time.as_unix_micros(),
                        cpu_rank: p.cpu_rank,
                        rss_rank: p.rss_rank,
                    })
                    .collect(),
                names: s
                    .top
                    .names
                    .iter()
                    .map(|n| NameV1 {
                        name: n.name.clone(),
                        process_count: n.process_count,
                        cpu_pct: n.cpu_pct,
                        rss_bytes: n.rss_bytes,
                        cpu_rank: n.cpu_rank,
                        rss_rank: n.rss_rank,
                    })
                    .collect(),
                cpu_nth_pct: s.top.cpu_nth_pct,
                rss_nth_bytes: s.top.rss_nth_bytes,
                name_cpu_nth_pct: s.top.name_cpu_nth_pct,
                name_rss_nth_bytes: s.top.name_rss_nth_bytes,
            },
            latency: s
                .latency
                .iter()
                .map(|p| ProbeV1 {
                    target: p.target.clone(),
                    ts: p.ts.as_unix_micros(),
                    outcome: (&p.outcome).into(),
                    dns_ms: p.dns_ms,
                    connect_ms: p.connect_ms,
                    tls_ms: p.tls_ms,
                    first_byte_ms: p.first_byte_ms,
                    total_ms: p.total_ms,
                })
                .collect(),
        }
    }
}

impl SampleV1 {
    /// Layout 1 of `s` without its time and its processes: the part of a sample that layout 2 keeps as it is.
    pub(crate) fn without_time_and_processes(s: &Sample) -> Self {
        let mut v = SampleV1::from(s);
        v.ts = 0;
        v.top.processes.clear();
        v
    }

    /// The sample; `None` when a value is out of range (a damaged record that still parsed).
    pub(crate) fn into_sample(self) -> Option<Sample> {
        let mut s = Sample::new(Timestamp::from_unix_micros(self.ts), self.host);
        s.boot_time = Timestamp::from_unix_micros(self.boot_time);
        s.boot_id = self.boot_id;
        s.timezone = self.timezone;
        s.utc_offset_secs = self.utc_offset_secs;
        s.interval = self.interval.get()?;
        s.lateness = self.lateness.get()?;
        s.cpu = self.cpu.into();
        s.per_core = self.per_core.into_iter().map(Into::into).collect();
        s.load = self.load.map(|l| LoadAvg::new(l.one, l.five, l.fifteen));
        let m = self.memory;
        let mut memory = Memory::new(m.total_bytes, m.available_bytes);
        memory.used_bytes = m.used_bytes;
        memory.swap_total_bytes = m.swap_total_bytes;
        memory.swap_used_bytes = m.swap_used_bytes;
        s.memory = memory;
        s.process_count = self.process_count;
        s.pressure = self.pressure.map(|p| {
            let mut out = Pressure::default();
            out.cpu_some_pct = p.cpu_some_pct;
            out.memory_some_pct = p.memory_some_pct;
            out.memory_full_pct = p.memory_full_pct;
            out.io_some_pct = p.io_some_pct;
            out.io_full_pct = p.io_full_pct;
            out
        });
        s.oom_kill_count = self.oom_kill_count;
        let t = self.top;
        s.top.n = t.n;
        s.top.processes = t
            .processes
            .into_iter()
            .map(|p| {
                let mut e = ProcessEntry::new(p.pid, p.name);
                e.parent_pid = p.parent_pid;
                e.cmdline = p.cmdline;
                e.user = p.user;
                e.cpu_pct = p.cpu_pct;
                e.children_cpu_pct = p.children_cpu_pct;
                e.rss_bytes = p.rss_bytes;
                e.virtual_bytes = p.virtual_bytes;
                e.start_time = Timestamp::from_unix_micros(p.start_time);
                e.cpu_rank = p.cpu_rank;
                e.rss_rank = p.rss_rank;
                e
            })
            .collect();
        s.top.names = t
            .names
            .into_iter()
            .map(|n| {
                let mut out = NameTotal::new(n.name);
                out.process_count = n.process_count;
                out.cpu_pct = n.cpu_pct;
                out.rss_bytes = n.rss_bytes;
                out.cpu_rank = n.cpu_rank;
                out.rss_rank = n.rss_rank;
                out
            })
            .collect();
        s.top.cpu_nth_pct = t.cpu_nth_pct;
        s.top.rss_nth_bytes = t.rss_nth_bytes;
        s.top.name_cpu_nth_pct = t.name_cpu_nth_pct;
        s.top.name_rss_nth_bytes = t.name_rss_nth_bytes;
        s.latency = self
            .latency
            .into_iter()
            .map(|p| {
                let mut out = LatencyProbe::new(
                    p.target,
                    Timestamp::from_unix_micros(p.ts),
                    p.outcome.into(),
                );
                out.dns_ms = p.dns_ms;
                out.connect_ms = p.connect_ms;
                out.tls_ms = p.tls_ms;
                out.first_byte_ms = p.first_byte_ms;
                out.total_ms = p.total_ms;
                out
            })
            .collect();
        Some(s)
    }
}
