//! Network latency: one [`LatencyProbe`] per probe of a target, and the pure figures computed from them, [`loss`]
//! (share of failed probes) and [`jitter_ms`] (mean absolute difference of consecutive round trips), per target and
//! window with [`window_stats`].
//!
//! # How probes travel with samples
//!
//! Probes run on their own schedule (see stabmon-probe), so a probe does not belong to one tick. Each
//! [`Sample::latency`](crate::Sample::latency) holds the probes that **completed** since the previous sample, in
//! the order they completed. Every probe keeps its own start time ([`LatencyProbe::ts`]) and its true duration: a
//! probe that started at 03:12:00 and hung for 5 s arrives with the sample of 03:12:05 or later, stamped 03:12:00.
//! To look at latency over time, flatten the samples' `latency` lists and order them by `ts`.
//!
//! # Honest failures
//!
//! A failed probe has no round trip: [`total_ms`](LatencyProbe::total_ms) is `None` unless a complete answer came
//! back. Phases that did complete before the failure keep their figures (a blackholed HTTP server shows its
//! `connect_ms`, then times out), because they are true and they tell which layer broke. Nothing is ever filled in
//! with a made-up figure.
//!
//! ```
//! use stabmon_core::latency::{jitter_ms, loss, LatencyProbe, ProbeOutcome};
//! use stabmon_core::Timestamp;
//!
//! let at = |s| Timestamp::from_unix_secs(s);
//! let probes = [
//!     LatencyProbe::ok("gw", at(0), 10.0),
//!     LatencyProbe::ok("gw", at(1), 14.0),
//!     LatencyProbe::new("gw", at(2), ProbeOutcome::Timeout),
//!     LatencyProbe::ok("gw", at(3), 12.0),
//! ];
//! assert_eq!(loss(&probes), Some(0.25));
//! // Round trips 10, 14, 12: differences 4 and 2.
//! assert_eq!(jitter_ms(&probes), Some(3.0));
//! ```

use std::collections::BTreeMap;
use std::fmt;

use serde::{Deserialize, Serialize};

use crate::time::Timestamp;

/// How a probe ended.
///
/// Human-readable formats (JSON) get `{"kind": "dns_error", "detail": "..."}`; binary formats (the store's
/// journal) a plain variant index, since adjacently tagged enums cannot be read back from formats that are not
/// self-describing.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Default)]
#[non_exhaustive]
pub enum ProbeOutcome {
    /// The target answered as expected (HTTP: a status from 100 to 399; DNS: NOERROR).
    #[default]
    Ok,
    /// No answer within the probe timeout.
    Timeout,
    /// The connection was refused (nothing listens on the port).
    Refused,
    /// The connection was reset (or broken) by the peer.
    Reset,
    /// A name could not be resolved (system resolver error, or a DNS server's NXDOMAIN, SERVFAIL, REFUSED, ...),
    /// with the message.
    DnsError(String),
    /// The TLS handshake failed (an untrusted certificate, a protocol error), with the message.
    TlsError(String),
    /// An HTTP server answered with an error status (400 to 599, or anything outside 100 to 399).
    HttpStatus(u16),
    /// Any other failure, with the message (for example ICMP sockets that the OS does not permit).
    Other(String),
}

/// [`ProbeOutcome`]'s serde shape, in both flavours: `Tagged` for human-readable formats, `Plain` for binary ones.
mod outcome_serde {
    use serde::{Deserialize, Deserializer, Serialize, Serializer};

    use super::ProbeOutcome;

    macro_rules! shadow {
        ($name:ident $(, #[$attr:meta])*) => {
            #[derive(Serialize, Deserialize)]
            $(#[$attr])*
            pub(super) enum $name {
                Ok,
                Timeout,
                Refused,
                Reset,
                DnsError(String),
                TlsError(String),
                HttpStatus(u16),
                Other(String),
            }

            impl From<$name> for ProbeOutcome {
                fn from(v: $name) -> Self {
                    match v {
                        $name::Ok => ProbeOutcome::Ok,
                        $name::Timeout => ProbeOutcome::Timeout,
                        $name::Refused => ProbeOutcome::Refused,
                        $name::Reset => ProbeOutcome::Reset,
                        $name::DnsError(m) => ProbeOutcome::DnsError(m),
                        $name::TlsError(m) => ProbeOutcome::TlsError(m),
                        $name::HttpStatus(c) => ProbeOutcome::HttpStatus(c),
                        $name::Other(m) => ProbeOutcome::Other(m),
                    }
                }
            }

            impl From<&ProbeOutcome> for $name {
                fn from(v: &ProbeOutcome) -> Self {
                    match v.clone() {
                        ProbeOutcome::Ok => $name::Ok,
                        ProbeOutcome::Timeout => $name::Timeout,
                        ProbeOutcome::Refused => $name::Refused,
                        ProbeOutcome::Reset => $name::Reset,
                        ProbeOutcome::DnsError(m) => $name::DnsError(m),
                        ProbeOutcome::TlsError(m) => $name::TlsError(m),
                        ProbeOutcome::HttpStatus(c) => $name::HttpStatus(c),
                        ProbeOutcome::Other(m) => $name::Other(m),
                    }
                }
            }
        };
    }

    shadow!(Tagged, #[serde(tag = "kind", content = "detail", rename_all = "snake_case")]);
    shadow!(Plain);

    impl Serialize for ProbeOutcome {
        fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
            if serializer.is_human_readable() {
                Tagged::from(self).serialize(serializer)
            } else {
                Plain::from(self).serialize(serializer)
            }
        }
    }

    impl<'de> Deserialize<'de> for ProbeOutcome {
        fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
            if deserializer.is_human_readable() {
                Tagged::deserialize(deserializer).map(Into::into)
            } else {
                Plain::deserialize(deserializer).map(Into::into)
            }
        }
    }
}

impl ProbeOutcome {
    /// Whether the probe succeeded.
    pub fn is_ok(&self) -> bool {
        matches!(self, ProbeOutcome::Ok)
    }

    /// The outcome's kind as a short snake_case name: `ok`, `timeout`, `refused`, `reset`, `dns_error`,
    /// `tls_error`, `http_status` or `other`. This is what the store and `stabmon dump` write.
    pub fn kind(&self) -> &'static str {
        OutcomeKind::of(self).kind()
    }

    /// The HTTP status code of an [`HttpStatus`](ProbeOutcome::HttpStatus) outcome.
    pub fn http_status(&self) -> Option<u16> {
        match self {
            ProbeOutcome::HttpStatus(code) => Some(*code),
            _ => None,
        }
    }

    /// The message of a [`DnsError`](ProbeOutcome::DnsError), [`TlsError`](ProbeOutcome::TlsError) or
    /// [`Other`](ProbeOutcome::Other) outcome.
    pub fn message(&self) -> Option<&str> {
        match self {
            ProbeOutcome::DnsError(m) | ProbeOutcome::TlsError(m) | ProbeOutcome::Other(m) => {
                Some(m)
            }
            _ => None,
        }
    }

    /// Rebuilds an outcome from its [`kind`](Self::kind), status code and message, as a store keeps them.
    /// Returns `None` for an unknown kind, or for `http_status` without a code.
    pub fn from_parts(kind: &str, http_status: Option<u16>, message: Option<&str>) -> Option<Self> {
        let msg = || message.unwrap_or_default().to_owned();
        Some(
            match OutcomeKind::from_parts(kind, http_status.is_some())? {
                OutcomeKind::Ok => ProbeOutcome::Ok,
                OutcomeKind::Timeout => ProbeOutcome::Timeout,
                OutcomeKind::Refused => ProbeOutcome::Refused,
                OutcomeKind::Reset => ProbeOutcome::Reset,
                OutcomeKind::DnsError => ProbeOutcome::DnsError(msg()),
                OutcomeKind::TlsError => ProbeOutcome::TlsError(msg()),
                OutcomeKind::HttpStatus => ProbeOutcome::HttpStatus(http_status?),
                OutcomeKind::Other => ProbeOutcome::Other(msg()),
            },
        )
    }
}

impl fmt::Display for ProbeOutcome {
    /// `ok`, `timeout`, ..., `http_status 500`, `tls_error: <message>`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.kind())?;
        if let Some(code) = self.http_status() {
            write!(f, " {code}")?;
        }
        if let Some(m) = self.message() {
            write!(f, ": {m}")?;
        }
        Ok(())
    }
}

/// One probe of one target: when it started, how it ended, and the timings of the phases that completed, in
/// milliseconds.
///
/// Timings have microsecond resolution: probes record whole microseconds ([`duration_ms`]), which is what the
/// store keeps, exactly (see [`whole_micros`]).
///
/// Which phases apply depends on the target: HTTP(S) has all of them (DNS only when the host is a name, TLS only
/// for https); `tcp://` has DNS and connect; `icmp://` has DNS and the echo round trip as `total_ms`; `dns://` has
/// the resolution as both `dns_ms` and `total_ms`.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[non_exhaustive]
pub struct LatencyProbe {
    /// The target's name, as the user gave it (`gw` in `--target gw=icmp://192.168.1.1`).
    pub target: String,
    /// When the probe started, in UTC (not when it completed).
    pub ts: Timestamp,
    /// How it ended.
    pub outcome: ProbeOutcome,
    /// Time to resolve the host name; `None` when the host was an IP address or resolution did not finish.
    pub dns_ms: Option<f64>,
    /// Time for the TCP connection to be established.
    pub connect_ms: Option<f64>,
    /// Time for the TLS handshake (https only).
    pub tls_ms: Option<f64>,
    /// HTTP: time from the request being sent to the first byte of the answer.
    pub first_byte_ms: Option<f64>,
    /// The whole round trip, from the start of the probe to the complete answer; `None` when no complete answer
    /// came back (every outcome but [`Ok`](ProbeOutcome::Ok) and [`HttpStatus`](ProbeOutcome::HttpStatus)).
    pub total_ms: Option<f64>,
}

impl LatencyProbe {
    /// A probe of `target` started at `ts` that ended with `outcome`, with no timings.
    pub fn new(target: impl Into<String>, ts: Timestamp, outcome: ProbeOutcome) -> Self {
        LatencyProbe {
            target: target.into(),
            ts,
            outcome,
            ..LatencyProbe::default()
        }
    }

    /// A successful probe with only its round trip known.
    pub fn ok(target: impl Into<String>, ts: Timestamp, total_ms: f64) -> Self {
        LatencyProbe {
            total_ms: Some(total_ms),
            ..LatencyProbe::new(target, ts, ProbeOutcome::Ok)
        }
    }

    /// The round trip of a successful probe: [`total_ms`](Self::total_ms) when the outcome is
    /// [`Ok`](ProbeOutcome::Ok), else `None`.
    pub fn round_trip_ms(&self) -> Option<f64> {
        if self.outcome.is_ok() {
            self.total_ms
        } else {
            None
        }
    }
}

/// A duration in milliseconds with microsecond resolution (whole microseconds, truncated): how probes record
/// their timings.
///
/// ```
/// # use std::time::Duration;
/// assert_eq!(stabmon_core::latency::duration_ms(Duration::from_nanos(1_234_567)), 1.234);
/// ```
pub fn duration_ms(d: std::time::Duration) -> f64 {
    d.as_micros() as f64 / 1000.0
}

/// A timing in milliseconds as whole microseconds, when it is one exactly (as [`duration_ms`] makes them), so that
/// `whole_micros(ms)? as f64 / 1000.0 == ms`; `None` for a finer, negative or non-finite value.
pub fn whole_micros(ms: f64) -> Option<i64> {
    if !(0.0..=1e15).contains(&ms) {
        return None;
    }
    let us = (ms * 1000.0).round();
    (us / 1000.0 == ms).then_some(us as i64)
}

/// How a probe ended, without its details: what analysis and charts need of a [`ProbeOutcome`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum OutcomeKind {
    /// [`ProbeOutcome::Ok`].
    Ok,
    /// [`ProbeOutcome::Timeout`].
    Timeout,
    /// [`ProbeOutcome::Refused`].
    Refused,
    /// [`ProbeOutcome::Reset`].
    Reset,
    /// [`ProbeOutcome::DnsError`].
    DnsError,
    /// [`ProbeOutcome::TlsError`].
    TlsError,
    /// [`ProbeOutcome::HttpStatus`].
    HttpStatus,
    /// [`ProbeOutcome::Other`].
    Other,
}

impl OutcomeKind {
    /// Every kind.
    pub const ALL: [OutcomeKind; 8] = [
        OutcomeKind::Ok,
        OutcomeKind::Timeout,
        OutcomeKind::Refused,
        OutcomeKind::Reset,
        OutcomeKind::DnsError,
        OutcomeKind::TlsError,
        OutcomeKind::HttpStatus,
        OutcomeKind::Other,
    ];

    /// The kind named `kind` ([`kind`](Self::kind)'s inverse).
    pub fn from_kind(kind: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|k| k.kind() == kind)
    }

    /// The kind of a stored outcome: named `kind`, with or without an HTTP status code. `None` for an unknown name
    /// or `http_status` without a code (the rule [`ProbeOutcome::from_parts`] reads outcomes by).
    pub fn from_parts(kind: &str, has_http_status: bool) -> Option<Self> {
        Self::from_kind(kind).filter(|k| *k != OutcomeKind::HttpStatus || has_http_status)
    }

    /// The kind of `outcome`.
    pub fn of(outcome: &ProbeOutcome) -> Self {
        match outcome {
            ProbeOutcome::Ok => OutcomeKind::Ok,
            ProbeOutcome::Timeout => OutcomeKind::Timeout,
            ProbeOutcome::Refused => OutcomeKind::Refused,
            ProbeOutcome::Reset => OutcomeKind::Reset,
            ProbeOutcome::DnsError(_) => OutcomeKind::DnsError,
            ProbeOutcome::TlsError(_) => OutcomeKind::TlsError,
            ProbeOutcome::HttpStatus(_) => OutcomeKind::HttpStatus,
            ProbeOutcome::Other(_) => OutcomeKind::Other,
        }
    }

    /// Whether the probe succeeded.
    pub fn is_ok(self) -> bool {
        self == OutcomeKind::Ok
    }

    /// The short snake_case name, as [`ProbeOutcome::kind`] gives it.
    pub fn kind(self) -> &'static str {
        match self {
            OutcomeKind::Ok => "ok",
            OutcomeKind::Timeout => "timeout",
            OutcomeKind::Refused => "refused",
            OutcomeKind::Reset => "reset",
            OutcomeKind::DnsError => "dns_error",
            OutcomeKind::TlsError => "tls_error",
            OutcomeKind::HttpStatus => "http_status",
            OutcomeKind::Other => "other",
        }
    }
}

/// A probe as analysis and charts read it (16 bytes, where a [`LatencyProbe`] takes about 170 with its target's
/// name): when it started, its round trip, and how it ended. A series keeps these per target.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub struct ProbePoint {
    /// When the probe started.
    pub ts: Timestamp,
    /// The round trip of a successful probe in whole microseconds, as the store keeps it ([`u32::MAX`] for a
    /// failure or where it was not measured; a round trip of 71 minutes or more is kept as just under).
    pub rtt_us: u32,
    /// How it ended.
    pub outcome: OutcomeKind,
}

impl ProbePoint {
    /// A point: when the probe started, its round trip in milliseconds where it succeeded (kept to the nearest
    /// microsecond), and how it ended.
    pub fn new(ts: Timestamp, rtt_ms: Option<f64>, outcome: OutcomeKind) -> Self {
        let rtt_us = rtt_ms.filter(|ms| !ms.is_nan()).map_or(u32::MAX, |ms| {
            (ms * 1000.0).round().clamp(0.0, f64::from(u32::MAX - 1)) as u32
        });
        ProbePoint {
            ts,
            rtt_us,
            outcome,
        }
    }

    /// The point of `p`.
    pub fn of(p: &LatencyProbe) -> Self {
        ProbePoint::new(p.ts, p.round_trip_ms(), OutcomeKind::of(&p.outcome))
    }

    /// The round trip of a successful probe, milliseconds.
    pub fn round_trip_ms(&self) -> Option<f64> {
        (self.rtt_us != u32::MAX).then(|| f64::from(self.rtt_us) / 1000.0)
    }
}

/// What [`loss`] and [`jitter_ms`] read of a probe: a [`LatencyProbe`] or a [`ProbePoint`].
pub trait Probe {
    /// When it started.
    fn started(&self) -> Timestamp;
    /// Its round trip where it succeeded, milliseconds.
    fn rtt_ms(&self) -> Option<f64>;
    /// Whether it succeeded.
    fn succeeded(&self) -> bool;
}

impl Probe for LatencyProbe {
    fn started(&self) -> Timestamp {
        self.ts
    }
    fn rtt_ms(&self) -> Option<f64> {
        self.round_trip_ms()
    }
    fn succeeded(&self) -> bool {
        self.outcome.is_ok()
    }
}

impl<P: Probe + ?Sized> Probe for &P {
    fn started(&self) -> Timestamp {
        (**self).started()
    }
    fn rtt_ms(&self) -> Option<f64> {
        (**self).rtt_ms()
    }
    fn succeeded(&self) -> bool {
        (**self).succeeded()
    }
}

impl Probe for ProbePoint {
    fn started(&self) -> Timestamp {
        self.ts
    }
    fn rtt_ms(&self) -> Option<f64> {
        self.round_trip_ms()
    }
    fn succeeded(&self) -> bool {
        self.outcome.is_ok()
    }
}

/// The share of failed probes (every outcome but [`Ok`](ProbeOutcome::Ok), an HTTP error status included), from
/// 0 to 1; `None` when there are no probes.
///
/// Give it the probes of one target (see [`window_stats`] for grouping).
pub fn loss<P: Probe>(probes: impl IntoIterator<Item = P>) -> Option<f64> {
    let (mut all, mut failed) = (0u64, 0u64);
    for p in probes {
        all += 1;
        if !p.succeeded() {
            failed += 1;
        }
    }
    (all > 0).then(|| failed as f64 / all as f64)
}

/// Jitter: the mean absolute difference between consecutive round trips, in milliseconds (as RFC 3550 defines
/// the difference, without its smoothing); `None` with fewer than two successful probes.
///
/// Only successful probes have a round trip ([`LatencyProbe::round_trip_ms`]); failures in between are skipped,
/// so the round trips on either side of a timeout count as consecutive. Probes are taken in the order of their
/// start time (ties keep the order given). Give it the probes of one target.
pub fn jitter_ms<P: Probe>(probes: impl IntoIterator<Item = P, IntoIter: Clone>) -> Option<f64> {
    // Probes nearly always come in start order: sum as they come, and sort a copy only if one comes out of order.
    let all = probes.into_iter();
    let (mut sum, mut n) = (0.0f64, 0u64);
    let mut prev: Option<(Timestamp, f64)> = None;
    for p in all.clone() {
        let Some(ms) = p.rtt_ms() else { continue };
        let t = p.started();
        if let Some((pt, pms)) = prev {
            if t < pt {
                let mut rtts: Vec<(Timestamp, f64)> = all
                    .filter_map(|p| p.rtt_ms().map(|ms| (p.started(), ms)))
                    .collect();
                rtts.sort_by_key(|&(ts, _)| ts);
                let sum: f64 = rtts.windows(2).map(|w| (w[1].1 - w[0].1).abs()).sum();
                return Some(sum / (rtts.len() - 1) as f64);
            }
            sum += (ms - pms).abs();
            n += 1;
        }
        prev = Some((t, ms));
    }
    (n > 0).then(|| sum / n as f64)
}

/// The median round trip of the successful probes, milliseconds (of an even count, the upper of the two middle
/// values); `None` without any.
///
/// Exact, in memory bounded whatever the count: it walks the probes a few times (a radix selection on the round
/// trips' bits, 16 bits a pass) instead of copying a month of round trips to sort them.
pub fn median_rtt_ms<P: Probe>(
    probes: impl IntoIterator<Item = P, IntoIter: Clone>,
) -> Option<f64> {
    // Keys that order like `f64::total_cmp`.
    fn key(ms: f64) -> u64 {
        let b = ms.to_bits();
        if b >> 63 == 1 { !b } else { b | (1 << 63) }
    }
    const SMALL: u64 = 4096;
    let all = probes.into_iter();
    let keys = || all.clone().filter_map(|p| p.rtt_ms()).map(key);
    let n = keys().count() as u64;
    if n == 0 {
        return None;
    }
    // The wanted rank among the keys that share `prefix` in their top `bits` bits.
    let (mut prefix, mut bits, mut rank, mut left) = (0u64, 0u32, n / 2, n);
    while left > SMALL && bits < 64 {
        let in_prefix = |k: u64| bits == 0 || k >> (64 - bits) == prefix;
        let shift = 64 - bits - 16;
        let mut counts = vec![0u64; 1 << 16];
        for k in keys().filter(|&k| in_prefix(k)) {
            counts[((k >> shift) & 0xffff) as usize] += 1;
        }
        let mut digit = 0usize;
        for (d, &c) in counts.iter().enumerate() {
            if rank < c {
                digit = d;
                break;
            }
            rank -= c;
        }
        left = counts[digit];
        prefix = (prefix << 16) | digit as u64;
        bits += 16;
    }
    let in_prefix = |k: u64| bits == 0 || k >> (64 - bits) == prefix;
    let mut rest: Vec<u64> = keys().filter(|&k| in_prefix(k)).collect();
    let (_, &mut k, _) = rest.select_nth_unstable(usize::try_from(rank).ok()?);
    let b = if k >> 63 == 1 { k & !(1 << 63) } else { !k };
    Some(f64::from_bits(b))
}

/// Figures for one target over one window.
#[derive(Debug, Clone, PartialEq, Default, Serialize)]
#[non_exhaustive]
pub struct TargetStats {
    /// The target's name.
    pub target: String,
    /// Probes started in the window.
    pub probes: u64,
    /// Of which failed.
    pub failed: u64,
    /// [`loss`], from 0 to 1.
    pub loss: f64,
    /// [`jitter_ms`]; `None` with fewer than two successful probes.
    pub jitter_ms: Option<f64>,
    /// Mean round trip of the successful probes.
    pub mean_ms: Option<f64>,
    /// Largest round trip of the successful probes.
    pub max_ms: Option<f64>,
}

/// Loss, jitter, mean and largest round trip per target, over the probes that **started** in `[from, to)`;
/// sorted by target name. Targets without a probe in the window are left out.
pub fn window_stats(probes: &[LatencyProbe], from: Timestamp, to: Timestamp) -> Vec<TargetStats> {
    let mut by_target: BTreeMap<&str, Vec<&LatencyProbe>> = BTreeMap::new();
    for p in probes.iter().filter(|p| p.ts >= from && p.ts < to) {
        by_target.entry(p.target.as_str()).or_default().push(p);
    }
    by_target
        .into_iter()
        .map(|(target, ps)| {
            let rtts: Vec<f64> = ps.iter().filter_map(|p| p.round_trip_ms()).collect();
            let failed = ps.iter().filter(|p| !p.outcome.is_ok()).count() as u64;
            TargetStats {
                target: target.to_owned(),
                probes: ps.len() as u64,
                failed,
                loss: loss(ps.iter().copied()).unwrap_or(0.0),
                jitter_ms: jitter_ms(ps.iter().copied()),
                mean_ms: (!rtts.is_empty()).then(|| rtts.iter().sum::<f64>() / rtts.len() as f64),
                max_ms: rtts.iter().copied().reduce(f64::max),
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(s: i64) -> Timestamp {
        Timestamp::from_unix_secs(s)
    }

    #[test]
    fn loss_counts_every_failure_including_http_errors() {
        assert_eq!(loss::<&LatencyProbe>(&[]), None);
        let probes = [
            LatencyProbe::ok("a", at(0), 1.0),
            LatencyProbe::new("a", at(1), ProbeOutcome::HttpStatus(500)),
            LatencyProbe::new("a", at(2), ProbeOutcome::Refused),
            LatencyProbe::ok("a", at(3), 1.0),
        ];
        assert_eq!(loss(&probes), Some(0.5));
        assert_eq!(loss(&probes[..1]), Some(0.0));
        assert_eq!(loss(&probes[1..3]), Some(1.0));
    }

    #[test]
    fn median_round_trip_is_exact_at_any_count() {
        let sorted_median = |ms: &[f64]| {
            let mut v = ms.to_vec();
            v.sort_by(f64::total_cmp);
            v.get(v.len() / 2).copied()
        };
        // Spread values, values that share their top bits, and a count large enough for several passes.
        let mut x = 12_345u64;
        let mut next = || {
            x = x.wrapping_mul(6_364_136_223_846_793_005).wrapping_add(1);
            (x >> 33) as f64 / (1u64 << 31) as f64
        };
        for (count, spread) in [
            (0, 1.0),
            (1, 1.0),
            (2, 1.0),
            (5, 50.0),
            (10_000, 2_000.0),
            (20_001, 1e-9),
        ] {
            let ms: Vec<f64> = (0..count).map(|_| 0.3 + next() * spread).collect();
            let probes: Vec<ProbePoint> = ms
                .iter()
                .enumerate()
                .map(|(i, &v)| ProbePoint::new(at(i as i64), Some(v), OutcomeKind::Ok))
                .chain([ProbePoint::new(at(-1), None, OutcomeKind::Timeout)])
                .collect();
            // Through the points' round trips in microseconds, as the series keeps them.
            let kept: Vec<f64> = probes
                .iter()
                .filter_map(ProbePoint::round_trip_ms)
                .collect();
            assert_eq!(
                median_rtt_ms(&probes),
                sorted_median(&kept),
                "{count} values"
            );
        }
        let same = vec![LatencyProbe::ok("a", at(0), 7.0); 9_000];
        assert_eq!(median_rtt_ms(&same), Some(7.0));
    }

    #[test]
    fn jitter_is_mean_absolute_difference_in_start_order() {
        // Given out of order: sorted by start time, round trips are 10, 20, 5 -> |10| and |15|: 12.5.
        let probes = [
            LatencyProbe::ok("a", at(2), 5.0),
            LatencyProbe::ok("a", at(0), 10.0),
            LatencyProbe::ok("a", at(1), 20.0),
        ];
        assert_eq!(jitter_ms(&probes), Some(12.5));
        // A steady target has no jitter.
        let steady: Vec<_> = (0..5).map(|s| LatencyProbe::ok("a", at(s), 7.0)).collect();
        assert_eq!(jitter_ms(&steady), Some(0.0));
    }

    #[test]
    fn jitter_needs_two_round_trips_and_skips_failures() {
        assert_eq!(jitter_ms::<&LatencyProbe>(&[]), None);
        assert_eq!(jitter_ms(&[LatencyProbe::ok("a", at(0), 3.0)]), None);
        // An HTTP 500 has a real total, but it is not a successful round trip.
        let mut err = LatencyProbe::new("a", at(1), ProbeOutcome::HttpStatus(500));
        err.total_ms = Some(100.0);
        let probes = [
            LatencyProbe::ok("a", at(0), 3.0),
            err,
            LatencyProbe::new("a", at(2), ProbeOutcome::Timeout),
            LatencyProbe::ok("a", at(3), 5.0),
        ];
        assert_eq!(jitter_ms(&probes), Some(2.0));
    }

    #[test]
    fn window_stats_group_by_target_and_window() {
        let probes = [
            LatencyProbe::ok("gw", at(0), 2.0),
            LatencyProbe::ok("web", at(0), 40.0),
            LatencyProbe::ok("gw", at(1), 4.0),
            LatencyProbe::new("web", at(1), ProbeOutcome::Timeout),
            LatencyProbe::ok("gw", at(2), 3.0),
            LatencyProbe::ok("web", at(2), 60.0),
            // Outside [0, 3).
            LatencyProbe::new("gw", at(3), ProbeOutcome::Timeout),
            LatencyProbe::new("dns", at(5), ProbeOutcome::Timeout),
        ];
        let stats = window_stats(&probes, at(0), at(3));
        assert_eq!(stats.len(), 2);
        let gw = &stats[0];
        assert_eq!(gw.target, "gw");
        assert_eq!((gw.probes, gw.failed), (3, 0));
        assert_eq!(gw.loss, 0.0);
        assert_eq!(gw.jitter_ms, Some(1.5));
        assert_eq!(gw.mean_ms, Some(3.0));
        assert_eq!(gw.max_ms, Some(4.0));
        let web = &stats[1];
        assert_eq!(web.target, "web");
        assert_eq!((web.probes, web.failed), (3, 1));
        assert!((web.loss - 1.0 / 3.0).abs() < 1e-12);
        assert_eq!(web.jitter_ms, Some(20.0));
        assert_eq!(web.mean_ms, Some(50.0));
        // A window where a target only failed: full loss, no round-trip figures.
        let stats = window_stats(&probes, at(3), at(10));
        assert_eq!(stats.len(), 2);
        assert_eq!(stats[0].target, "dns");
        assert_eq!(stats[0].loss, 1.0);
        assert_eq!((stats[0].jitter_ms, stats[0].mean_ms), (None, None));
    }

    #[test]
    fn microsecond_timings_round_trip_through_whole_micros() {
        use std::time::Duration;
        for ns in [
            0u64,
            999,
            1_000,
            1_234_567,
            47_123_456_789,
            5_000_000_000,
            3_600_000_000_123,
        ] {
            let ms = duration_ms(Duration::from_nanos(ns));
            let us = whole_micros(ms);
            assert_eq!(
                us,
                Some(i64::try_from(ns / 1000).unwrap_or_default()),
                "{ns} ns"
            );
            assert_eq!(us.map(|us| us as f64 / 1000.0), Some(ms));
        }
        assert_eq!(whole_micros(0.1 + 0.2), None, "finer than a microsecond");
        assert_eq!(whole_micros(0.3), Some(300));
        assert_eq!(whole_micros(1.0004), None);
        assert_eq!(whole_micros(-1.0), None);
        assert_eq!(whole_micros(f64::NAN), None);
        assert_eq!(whole_micros(f64::INFINITY), None);
    }

    #[test]
    fn round_trip_only_for_success() {
        let mut p = LatencyProbe::new("a", at(0), ProbeOutcome::HttpStatus(503));
        p.total_ms = Some(12.0);
        assert_eq!(p.round_trip_ms(), None);
        assert_eq!(
            LatencyProbe::ok("a", at(0), 12.0).round_trip_ms(),
            Some(12.0)
        );
    }

    #[test]
    fn outcomes_round_trip_through_parts_and_display() {
        let all = [
            ProbeOutcome::Ok,
            ProbeOutcome::Timeout,
            ProbeOutcome::Refused,
            ProbeOutcome::Reset,
            ProbeOutcome::DnsError("NXDOMAIN".into()),
            ProbeOutcome::TlsError("invalid peer certificate: UnknownIssuer".into()),
            ProbeOutcome::HttpStatus(500),
            ProbeOutcome::Other("ICMP datagram sockets not permitted".into()),
        ];
        for o in &all {
            let back = ProbeOutcome::from_parts(o.kind(), o.http_status(), o.message());
            assert_eq!(back.as_ref(), Some(o));
        }
        assert_eq!(ProbeOutcome::from_parts("lost", None, None), None);
        assert_eq!(ProbeOutcome::from_parts("http_status", None, None), None);
        assert_eq!(ProbeOutcome::HttpStatus(500).to_string(), "http_status 500");
        assert_eq!(
            ProbeOutcome::DnsError("NXDOMAIN".into()).to_string(),
            "dns_error: NXDOMAIN"
        );
        assert_eq!(ProbeOutcome::Timeout.to_string(), "timeout");
    }

    #[test]
    fn serializes_outcome_with_kind_and_detail() {
        let mut p = LatencyProbe::new("web", at(0), ProbeOutcome::HttpStatus(500));
        p.connect_ms = Some(1.5);
        let json = serde_json::to_value(&p).unwrap_or_default();
        assert_eq!(json["outcome"]["kind"], "http_status");
        assert_eq!(json["outcome"]["detail"], 500);
        assert_eq!(json["connect_ms"], 1.5);
        assert!(json["total_ms"].is_null());
        assert_eq!(json["ts"], "1970-01-01T00:00:00Z");
    }
}
