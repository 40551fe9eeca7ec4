//! # stabmon-probe
//!
//! Platform samplers for [stabmon](https://example.invalid/stabmon): they read the system's state at every tick
//! into a [`stabmon_core::Sample`] (system CPU, memory, swap, load, pressure stalls, OOM kills, and the top
//! processes by CPU and by memory), and network latency probes of the targets a user names.
//!
//! - [`Collector`], built with [`Collector::builder`]: yields samples on a steady schedule (ticks planned on the
//!   monotonic clock, late ticks skipped rather than bunched), stoppable from another thread with a [`StopHandle`].
//! - [`Sampler`]: the trait of the samplers themselves, for embedders and benches:
//!   - `ProcSampler` (Linux only): reads `/proc` directly, one kept-open file per process per pass, the cheapest
//!     way to measure every process (a program sampling thousands of processes raises its open-file limit first,
//!     with [`raise_open_file_limit`]: the crate never changes that process-wide limit by itself);
//!   - [`SysinfoSampler`]: portable, on the sysinfo crate, for macOS and Windows (and Linux when asked for).
//! - [`SamplerKind`]: which one a collector uses; [`SamplerKind::Auto`] picks `/proc` on Linux, sysinfo elsewhere.
//!
//! ## OOM victims and cgroups (Linux)
//!
//! A collector built by [`Collector::builder`] follows the kernel log (`/dev/kmsg`, non-blocking, on a thread of
//! its own, from the log's end when it starts) for the OOM killer's lines, and each sample's
//! [`oom_kills`](stabmon_core::Sample::oom_kills) holds the victims logged since the previous sample: pid, name,
//! anonymous and file resident memory, the constraint and the memory cgroup, as the kernel printed them. Lines of
//! another form are ignored. Where `kernel.dmesg_restrict=1`, reading needs `CAP_SYSLOG`; where the log cannot be
//! read, [`Collector::kernel_log`] says why, and samples carry no victims (an OOM kill is still counted).
//! Each listed process carries its cgroup ([`ProcessEntry::cgroup`](stabmon_core::ProcessEntry::cgroup), from
//! `/proc/PID/cgroup`, read once per process identity like the command line).
//!
//! Process CPU is measured over the interval actually elapsed between two readings, per process identity (pid and
//! start time), in percent of one core; samplers are primed when they are built, so the first sample already has
//! rates.
//!
//! ## Network latency
//!
//! A collector built with latency [`Target`]s (`NAME=URL`, see [`Target::parse`]) also probes them, and each
//! sample's [`latency`](stabmon_core::Sample::latency) holds the probes that completed since the previous sample
//! (before its reading started: a probe that completes during a slow reading rides the next sample).
//! Targets:
//!
//! - `http://host[:port][/path]`, `https://...`: a `HEAD` request of our own over a std `TcpStream` (rustls with
//!   the ring provider for https, Mozilla's roots plus any given with
//!   [`CollectorBuilder::probe_root_certificate`]; an untrusted certificate is a `TlsError` with rustls's
//!   message), timing DNS, connect, TLS handshake, first byte (from the request being sent) and total. A status
//!   from 100 to 399 is `Ok`; anything else is `HttpStatus(code)`, a failure.
//! - `tcp://host:port`: connect time. `icmp://host`: an echo round trip, without administrator rights. On Linux
//!   and macOS (IPv4) over an unprivileged ICMP datagram socket, or a raw socket where only that is allowed; when
//!   neither is, an `Other` outcome says so (on Linux: `net.ipv4.ping_group_range`). On Windows (IPv4, or IPv6
//!   for a host without an IPv4 address) through the IP Helper API (`IcmpSendEcho2`, `Icmp6SendEcho2`).
//! - `dns://name`: resolution through the system resolver; `dns://name@host[:port]`: one UDP query to that server
//!   (NXDOMAIN, SERVFAIL, REFUSED are `DnsError`s).
//!
//! The schedule: each target is probed every probe interval (by default the sample interval), half an interval
//! out of phase with the samples, with a probe timeout (5 s by default). Each target has a thread of its own, so
//! at most one probe per target is in flight: ticks that pass during a slow probe start nothing, and the slow
//! probe is recorded at its own start time with its true duration. Nothing the probes do can delay the system
//! sample or another target: a sample only takes the completed probes from a shared buffer. Everything is
//! blocking std I/O on the crate's own threads, so the collector works the same inside a tokio application.
//! [`Prober`] runs single probes for embedders and benches; [`net_auto_targets`] is the `--net auto` preset
//! (default gateway, system resolver, one public HTTPS host), which sends traffic off the machine, so it is
//! only ever used when a user asks.
//!
//! ```no_run
//! use std::time::Duration;
//! use stabmon_probe::{Collector, Target};
//!
//! let mut collector = Collector::builder()
//!     .target(Target::parse("gw=icmp://192.168.1.1")?)
//!     .target(Target::parse("web=https://example.com/favicon.ico")?)
//!     .probe_timeout(Duration::from_secs(5))
//!     .build()?;
//! while let Some(sample) = collector.next_sample()? {
//!     for p in &sample.latency {
//!         println!("{} {} {}: {:?} ms", p.ts, p.target, p.outcome, p.total_ms);
//!     }
//! }
//! # Ok::<(), stabmon_probe::Error>(())
//! ```
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
mod net;
mod open_files;
mod sampler;
mod sysinfo_sampler;
#[cfg(windows)]
mod windows;

pub use collector::{CLOCK_STEP_TOLERANCE, Collector, CollectorBuilder, SamplerKind, StopHandle};
pub use error::Error;
#[cfg(target_os = "linux")]
pub use linux::ProcSampler;
pub use net::{
    DEFAULT_PROBE_TIMEOUT, NetAuto, ProbeOptions, Prober, Target, TargetKind, default_gateway,
    net_auto_targets,
};
pub use open_files::raise_open_file_limit;
pub use sampler::{Sampler, SamplerOptions};
pub use sysinfo_sampler::SysinfoSampler;
