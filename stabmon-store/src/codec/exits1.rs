//! Exits layout 1: a sample's exits as the journal stores them (frame kind 5), frozen.
//!
//! Plain types only, in this order (postcard): times are `i64` microseconds, CPU time `u64` microseconds, the
//! exit status a code or a signal. Never edit these structs: when the journal has to hold more about exits, add
//! a layout 2 with a frame kind of its own, and keep decoding this one.

use std::time::Duration;

use serde::{Deserialize, Serialize};
use stabmon_core::{ExitStatus, ExitedName, ExitedProcess, Exits, Timestamp};

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub(crate) struct ExitsV1 {
    count: u32,
    dropped: u32,
    #[serde(deserialize_with = "super::bounded::seq")]
    names: Vec<ExitedNameV1>,
    #[serde(deserialize_with = "super::bounded::seq")]
    processes: Vec<ExitedProcessV1>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
struct ExitedNameV1 {
    name: String,
    count: u32,
    cpu_us: u64,
    peak_rss_bytes: u64,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
struct ExitedProcessV1 {
    pid: u32,
    parent_pid: u32,
    name: String,
    uid: u32,
    start_time: i64,
    end_time: i64,
    cpu_us: u64,
    peak_rss_bytes: u64,
    status: StatusV1,
}

#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub(crate) enum StatusV1 {
    Code(i32),
    Signal(i32),
}

pub(crate) fn micros(d: Duration) -> u64 {
    u64::try_from(d.as_micros()).unwrap_or(u64::MAX)
}

impl From<&Exits> for ExitsV1 {
    fn from(e: &Exits) -> Self {
        ExitsV1 {
            count: e.count,
            dropped: e.dropped,
            names: e
                .names
                .iter()
                .map(|n| ExitedNameV1 {
                    name: n.name.clone(),
                    count: n.count,
                    cpu_us: micros(n.cpu_time),
                    peak_rss_bytes: n.peak_rss_bytes,
                })
                .collect(),
            processes: e
                .processes
                .iter()
                .map(|p| ExitedProcessV1 {
                    pid: p.pid,
                    parent_pid: p.parent_pid,
                    name: p.name.clone(),
                    uid: p.uid,
                    start_time: p.start_time.as_unix_micros(),
                    end_time: p.end_time.as_unix_micros(),
                    cpu_us: micros(p.cpu_time),
                    peak_rss_bytes: p.peak_rss_bytes,
                    status: match p.status {
                        ExitStatus::Code(c) => StatusV1::Code(c),
                        ExitStatus::Signal(s) => StatusV1::Signal(s),
                    },
                })
                .collect(),
        }
    }
}

impl ExitsV1 {
    pub(crate) fn into_exits(self) -> Exits {
        let mut e = Exits::default();
        e.count = self.count;
        e.dropped = self.dropped;
        e.names = self
            .names
            .into_iter()
            .map(|n| {
                let mut x = ExitedName::new(n.name);
                x.count = n.count;
                x.cpu_time = Duration::from_micros(n.cpu_us);
                x.peak_rss_bytes = n.peak_rss_bytes;
                x
            })
            .collect();
        e.processes = self
            .processes
            .into_iter()
            .map(|p| {
                let mut x = ExitedProcess::new(p.pid, p.name);
                x.parent_pid = p.parent_pid;
                x.uid = p.uid;
                x.start_time = Timestamp::from_unix_micros(p.start_time);
                x.end_time = Timestamp::from_unix_micros(p.end_time);
                x.cpu_time = Duration::from_micros(p.cpu_us);
                x.peak_rss_bytes = p.peak_rss_bytes;
                x.status = match p.status {
                    StatusV1::Code(c) => ExitStatus::Code(c),
                    StatusV1::Signal(s) => ExitStatus::Signal(s),
                };
                x
            })
            .collect();
        e
    }
}
