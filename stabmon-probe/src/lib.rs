//! # stabmon-probe
//!
//! Platform samplers for [stabmon](https://example.invalid/stabmon): they read the system's state at every tick
//! into a [`stabmon_core::Sample`] (system CPU, memory, swap, load, pressure stalls, OOM kills, and the top
//! processes by CPU and by memory).
//!
//! - [`Collector`], built with [`Collector::builder`]: yields samples on a steady schedule (ticks planned on the
//!   monotonic clock, late ticks skipped rather than bunched), stoppable from another thread with a [`StopHandle`].
//! - [`Sampler`]: the trait of the samplers themselves, for embedders and benches:
//!   - `ProcSampler` (Linux only): reads `/proc` directly, one kept-open file per process per pass, the cheapest
//!     way to measure every process;
//!   - [`SysinfoSampler`]: portable, on the sysinfo crate, for macOS and Windows (and Linux when asked for).
//! - [`SamplerKind`]: which one a collector uses; [`SamplerKind::Auto`] picks `/proc` on Linux, sysinfo elsewhere.
//!
//! Process CPU is measured over the interval actually elapsed between two readings, per process identity (pid and
//! start time), in percent of one core; samplers are primed when they are built, so the first sample already has
//! rates.
//!
//! ```
//! use std::time::Duration;
//! use stabmon_probe::{Collector, SamplerKind};
//!
//! let mut collector = Collector::builder()
//!     .interval(Duration::from_millis(100))
//!     .top_n(5)
//!     .sampler(SamplerKind::Auto)
//!     .build()?;
//! let sample = collector.next_sample()?.expect("not stopped");
//! assert!(sample.process_count > 0);
//! assert!(!sample.top.processes.is_empty());
//! println!("{} via {}: {:.0}% CPU", sample.ts, collector.sampler_name(), sample.cpu.busy_pct);
//!
//! // Another thread (a signal handler, say) stops it; the next call returns None at once.
//! collector.stop_handle().stop();
//! assert!(collector.next_sample()?.is_none());
//! # Ok::<(), stabmon_probe::Error>(())
//! ```
#![deny(missing_docs)]

mod collector;
mod error;
#[cfg(target_os = "linux")]
mod linux;
mod sampler;
mod sysinfo_sampler;

pub use collector::{Collector, CollectorBuilder, SamplerKind, StopHandle};
pub use error::Error;
#[cfg(target_os = "linux")]
pub use linux::ProcSampler;
pub use sampler::{Sampler, SamplerOptions};
pub use sysinfo_sampler::SysinfoSampler;
