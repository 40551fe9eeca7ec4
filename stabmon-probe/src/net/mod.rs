//! Network latency probes: targets, the checkers, gateway discovery and the per-target schedule.

mod dns;
mod gateway;
mod http;
mod icmp;
#[cfg(any(windows, test))]
pub(crate) mod iphlp;
pub(crate) mod schedule;
mod target;

use std::io;
use std::net::{IpAddr, SocketAddr, ToSocketAddrs};
use std::sync::{Arc, mpsc};
use std::thread;
use std::time::{Duration, Instant};

use rustls::pki_types::CertificateDer;
use stabmon_core::{LatencyProbe, ProbeOutcome, Timestamp};

pub use gateway::{NetAuto, default_gateway, net_auto_targets};
pub use target::{Target, TargetKind};

use crate::Error;

/// The probe timeout used when none is given: long enough that a 2 s bufferbloat stall is measured, not hidden.
pub const DEFAULT_PROBE_TIMEOUT: Duration = Duration::from_secs(5);

/// How probes are run.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct ProbeOptions {
    /// The longest a probe may take, from its start to its complete answer; past it the probe is a
    /// [`Timeout`](ProbeOutcome::Timeout). By default, this is [`DEFAULT_PROBE_TIMEOUT`] (5 s).
    pub timeout: Duration,
    /// Extra trusted root certificates (DER) for https targets, beside the compiled-in Mozilla roots: for a
    /// router or an intranet server with its own CA. By default, there are none.
    pub extra_root_certs_der: Vec<Vec<u8>>,
}

impl ProbeOptions {
    /// The defaults: a 5 s timeout, no extra roots.
    pub fn new() -> Self {
        ProbeOptions {
            timeout: DEFAULT_PROBE_TIMEOUT,
            extra_root_certs_der: Vec::new(),
        }
    }
}

impl Default for ProbeOptions {
    fn default() -> Self {
        Self::new()
    }
}

/// Runs probes: holds the options and the TLS configuration built once from them.
///
/// [`Prober::probe`] blocks the calling thread for at most about the timeout; the [`Collector`](crate::Collector)
/// calls it from threads of its own. Everything is blocking std I/O: no async runtime is used or needed, so it
/// works the same inside a tokio application.
#[derive(Debug, Clone)]
pub struct Prober {
    timeout: Duration,
    tls: Arc<rustls::ClientConfig>,
}

impl Prober {
    /// Checks the options and builds the TLS configuration (ring provider, Mozilla roots plus the extra ones;
    /// session resumption off, so that every probe measures a full handshake).
    pub fn new(opts: &ProbeOptions) -> Result<Self, Error> {
        if opts.timeout.is_zero() {
            return Err(Error::InvalidConfig {
                setting: "probe_timeout",
                reason: "it must be greater than zero".into(),
            });
        }
        let mut roots = rustls::RootCertStore::empty();
        roots.extend(webpki_roots::TLS_SERVER_ROOTS.iter().cloned());
        for (i, der) in opts.extra_root_certs_der.iter().enumerate() {
            roots
                .add(CertificateDer::from(der.clone()))
                .map_err(|e| Error::InvalidConfig {
                    setting: "probe_root_certificate",
                    reason: format!("extra root certificate #{} is not usable: {e}", i + 1),
                })?;
        }
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let mut config = rustls::ClientConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .map_err(|e| Error::InvalidConfig {
                setting: "tls",
                reason: e.to_string(),
            })?
            .with_root_certificates(roots)
            .with_no_client_auth();
        config.resumption = rustls::client::Resumption::disabled();
        Ok(Prober {
            timeout: opts.timeout,
            tls: Arc::new(config),
        })
    }

    /// The probe timeout.
    pub fn timeout(&self) -> Duration {
        self.timeout
    }

    /// Probes `target` once, now, and returns what happened; never an error: an unreachable target is data.
    pub fn probe(&self, target: &Target) -> LatencyProbe {
        let ts = Timestamp::now();
        let clock = Clock::start(self.timeout);
        let mut p = LatencyProbe::new(target.name(), ts, ProbeOutcome::Ok);
        let result = match target.kind() {
            TargetKind::Http {
                tls,
                host,
                port,
                path,
            } => {
                let tls = tls.then_some(&self.tls);
                http::probe(&mut p, &clock, tls, host, *port, path)
            }
            TargetKind::Tcp { host, port } => tcp_probe(&mut p, &clock, host, *port),
            TargetKind::Icmp { host } => icmp::probe(&mut p, &clock, host),
            TargetKind::Dns { name, server: None } => dns::probe_system(&mut p, &clock, name),
            TargetKind::Dns {
                name,
                server: Some((host, port)),
            } => dns::probe_server(&mut p, &clock, name, host, *port),
        };
        match result {
            Ok(()) => {
                if p.total_ms.is_none() {
                    p.total_ms = Some(clock.elapsed_ms());
                }
            }
            Err(outcome) => {
                p.outcome = outcome;
                if !matches!(p.outcome, ProbeOutcome::HttpStatus(_)) {
                    p.total_ms = None;
                }
            }
        }
        p
    }
}

/// A probe's start and deadline on the monotonic clock.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Clock {
    start: Instant,
    deadline: Instant,
}

impl Clock {
    fn start(timeout: Duration) -> Self {
        let start = Instant::now();
        Clock {
            start,
            deadline: start.checked_add(timeout).unwrap_or(start),
        }
    }

    /// Time left before the deadline; `Err(Timeout)` once it has passed.
    pub(crate) fn remaining(&self) -> Result<Duration, ProbeOutcome> {
        let left = self.deadline.saturating_duration_since(Instant::now());
        if left < Duration::from_micros(100) {
            Err(ProbeOutcome::Timeout)
        } else {
            Ok(left)
        }
    }

    pub(crate) fn elapsed_ms(&self) -> f64 {
        ms_since(self.start)
    }
}

/// Milliseconds since `t`, in whole microseconds (the resolution the store keeps exactly).
pub(crate) fn ms_since(t: Instant) -> f64 {
    stabmon_core::latency::duration_ms(t.elapsed())
}

/// Maps an I/O error of a probe to its outcome; `what` says what was being done, for the message.
pub(crate) fn io_outcome(e: &io::Error, what: &str) -> ProbeOutcome {
    use io::ErrorKind as K;
    match e.kind() {
        K::ConnectionRefused => ProbeOutcome::Refused,
        K::ConnectionReset | K::ConnectionAborted | K::BrokenPipe => ProbeOutcome::Reset,
        K::TimedOut | K::WouldBlock => ProbeOutcome::Timeout,
        _ => ProbeOutcome::Other(format!("{what}: {e}")),
    }
}

/// Resolves `host` with the system resolver, on a thread of its own so that a hung resolver cannot outlast the
/// deadline. IP addresses are not resolved: the second value is the resolution time, `None` for an address.
pub(crate) fn resolve(
    clock: &Clock,
    host: &str,
    port: u16,
) -> Result<(Vec<SocketAddr>, Option<f64>), ProbeOutcome> {
    if let Ok(ip) = host.parse::<IpAddr>() {
        return Ok((vec![SocketAddr::new(ip, port)], None));
    }
    let left = clock.remaining()?;
    let started = Instant::now();
    let (tx, rx) = mpsc::channel();
    let name = host.to_owned();
    thread::Builder::new()
        .name("stabmon-resolve".into())
        .spawn(move || {
            let _ = tx.send((name.as_str(), port).to_socket_addrs());
        })
        .map_err(|e| ProbeOutcome::Other(format!("cannot start a resolver thread: {e}")))?;
    match rx.recv_timeout(left) {
        Ok(Ok(addrs)) => {
            let ms = ms_since(started);
            let addrs: Vec<SocketAddr> = addrs.collect();
            if addrs.is_empty() {
                Err(ProbeOutcome::DnsError(format!("{host} has no address")))
            } else {
                Ok((addrs, Some(ms)))
            }
        }
        Ok(Err(e)) => Err(ProbeOutcome::DnsError(format!(
            "cannot resolve {host}: {e}"
        ))),
        Err(mpsc::RecvTimeoutError::Timeout) => Err(ProbeOutcome::Timeout),
        Err(mpsc::RecvTimeoutError::Disconnected) => Err(ProbeOutcome::Other(format!(
            "the resolver thread for {host} ended without an answer"
        ))),
    }
}

/// Connects to the first address that accepts, within the deadline; records `connect_ms`.
pub(crate) fn connect(
    p: &mut LatencyProbe,
    clock: &Clock,
    addrs: &[SocketAddr],
) -> Result<std::net::TcpStream, ProbeOutcome> {
    let started = Instant::now();
    let mut last = ProbeOutcome::Other("no address to connect to".into());
    for addr in addrs {
        let left = clock.remaining()?;
        match std::net::TcpStream::connect_timeout(addr, left) {
            Ok(stream) => {
                p.connect_ms = Some(ms_since(started));
                let _ = stream.set_nodelay(true);
                return Ok(stream);
            }
            Err(e) => last = io_outcome(&e, &format!("connect to {addr}")),
        }
    }
    Err(last)
}

fn tcp_probe(
    p: &mut LatencyProbe,
    clock: &Clock,
    host: &str,
    port: u16,
) -> Result<(), ProbeOutcome> {
    let (addrs, dns_ms) = resolve(clock, host, port)?;
    p.dns_ms = dns_ms;
    let _stream = connect(p, clock, &addrs)?;
    p.total_ms = Some(clock.elapsed_ms());
    Ok(())
}
