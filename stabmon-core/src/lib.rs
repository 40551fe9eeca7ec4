//! # stabmon-core
//!
//! The sample model and the pure analysis of [stabmon](https://example.invalid/stabmon), a recorder that answers
//! "what happened at 03:12, and which process did it?".
//!
//! - [`Sample`]: what is recorded at each tick: system CPU (total and per core), memory, swap, load, pressure
//!   stalls, the OOM-kill counter, boot identity and time zone, and [`TopProcesses`]: the top N processes by CPU
//!   and by resident memory plus totals per process name.
//! - [`OomKill`]: a victim of the kernel's OOM killer as the kernel log names it; [`cgroup`]: the control group
//!   of a process and the systemd unit or container it names.
//! - [`attribution`]: builds [`TopProcesses`] from every process's measurements, deterministically.
//! - [`analysis`]: incident detection (CPU surges, memory climbs, swap growth, OOM kills, pressure stalls, gaps),
//!   culprit attribution ("which process caused the rise?") and per-pixel downsampling, all pure functions.
//! - [`latency`]: network latency probes ([`LatencyProbe`], [`ProbeOutcome`]) that travel with the samples, and
//!   loss and jitter per target and window.
//! - [`Timestamp`]: UTC microseconds since the Unix epoch; [`time::parse_time`] reads moments as people write them
//!   (`03:12`, `2h ago`, RFC 3339).
//! - [`human`]: durations, sizes and percentages written for people, the same in every frontend.
//! - [`units`]: durations in the form flags take (`500ms`, `2h`), and the resolution samples keep.
//!
//! Feature `test-util` (off by default) adds `synth`: a deterministic generator of realistic synthetic sample
//! series (a server with ~300 processes, plus injected CPU hogs, memory leaks, reboots and gaps) for the tests and
//! benchmarks of the other crates.
//!
//! This crate has no heavy dependencies and does no I/O (but for [`time::LocalZone::system`], which reads the
//! machine's time zone setting): samplers live in `stabmon-probe`, files in
//! `stabmon-store`, rendering in `stabmon-report`.
//!
//! ```
//! use stabmon_core::{Sample, Timestamp, attribution::{attribute, ProcessDetails, ProcessStat}};
//!
//! let mut sample = Sample::new(Timestamp::from_unix_secs(1_795_576_320), "nas");
//! let mut ffmpeg = ProcessStat::new(4123, "ffmpeg", Timestamp::from_unix_secs(1_795_573_600));
//! ffmpeg.cpu_pct = 187.0;
//! sample.top = attribute(10, &[ffmpeg], |_| ProcessDetails::default());
//!
//! let culprit = &sample.top.processes[0];
//! assert_eq!(format!("{} (pid {}) {:.0}% CPU", culprit.name, culprit.pid, culprit.cpu_pct),
//!            "ffmpeg (pid 4123) 187% CPU");
//! assert_eq!(sample.ts.to_string(), "2026-11-25T03:12:00Z");
//! ```
#![deny(missing_docs)]

pub mod analysis;
pub mod attribution;
pub mod cgroup;
mod error;
pub mod exits;
pub mod human;
pub mod latency;
pub mod sample;
pub mod series;
// Also in the crate's own unit tests, so that `cargo test -p stabmon-core` runs those that use it.
#[cfg(any(test, feature = "test-util"))]
pub mod synth;
pub mod time;
pub mod units;

pub use error::Error;
pub use latency::{LatencyProbe, ProbeOutcome};
pub use sample::{
    CpuUsage, LoadAvg, Memory, NameTotal, OomKill, Pressure, ProcessEntry, ProcessKey, Sample,
    TopProcesses,
};
pub use sample::{ExitStatus, ExitedName, ExitedProcess, Exits};
pub use time::Timestamp;
