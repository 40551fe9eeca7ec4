//! Synthetic latency targets and their probes.

use crate::latency::{LatencyProbe, ProbeOutcome};
use crate::time::Timestamp;

use super::incident::Incident;
use super::iter::SynthIter;

/// A synthetic latency target: its name, typical round trip and noise; see [`Synth::latency_target`](super::Synth::latency_target).
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub struct LatencyTarget {
    /// The target's name, as in [`LatencyProbe::target`].
    pub name: String,
    /// The typical round trip, in milliseconds.
    pub base_ms: f64,
    /// The typical deviation from it, in milliseconds.
    pub jitter_ms: f64,
}

impl LatencyTarget {
    /// A target `name` answering in about `base_ms` ± `jitter_ms`.
    pub fn new(name: impl Into<String>, base_ms: f64, jitter_ms: f64) -> Self {
        LatencyTarget {
            name: name.into(),
            base_ms: base_ms.max(0.001),
            jitter_ms: jitter_ms.max(0.0),
        }
    }
}

/// The synthetic probe timeout.
const PROBE_TIMEOUT_MS: f64 = 5000.0;

impl SynthIter {
    /// Starts the probes due at `ts` (none while the recorder is not running) and returns those completed by `ts`,
    /// in the order they completed.
    pub(super) fn latency_tick(&mut self, ts: Timestamp, recording: bool) -> Vec<LatencyProbe> {
        let now = ts.as_unix_micros();
        if !recording {
            // The recorder is down: nothing is probed, and probes in flight are lost with it.
            self.lat_pending.clear();
            self.lat_busy_until.iter_mut().for_each(|b| *b = i64::MIN);
            return Vec::new();
        }
        let mut done: Vec<(i64, LatencyProbe)> = Vec::new();
        let mut k = 0;
        while k < self.lat_pending.len() {
            if self.lat_pending[k].0 <= now {
                done.push(self.lat_pending.swap_remove(k));
            } else {
                k += 1;
            }
        }
        done.sort_by_key(|(at, p)| (*at, p.ts));
        for ti in 0..self.cfg.latency_targets.len() {
            if self.lat_busy_until[ti] > now {
                continue;
            }
            let target = &self.cfg.latency_targets[ti];
            let (mut outage, mut extra) = (false, 0.0);
            for inc in &self.cfg.incidents {
                match inc {
                    Incident::LatencyOutage {
                        target: t,
                        from,
                        to,
                    } if *t == target.name && *from <= ts && ts < *to => {
                        outage = true;
                    }
                    Incident::LatencySpike {
                        target: t,
                        from,
                        to,
                        extra_ms,
                    } if *t == target.name && *from <= ts && ts < *to => extra += extra_ms,
                    _ => {}
                }
            }
            let rng = &mut self.lat_rng;
            // Noise: a triangular deviation of about jitter_ms, an outlier now and then, a lost probe rarely.
            let noise = target.jitter_ms * 1.5 * (rng.f64() + rng.f64() - 1.0);
            let outlier = if rng.chance(0.003) {
                target.base_ms * (1.0 + 2.0 * rng.f64())
            } else {
                0.0
            };
            let lost = rng.chance(0.0005);
            let (outcome, ms) = if outage {
                if rng.chance(0.5) {
                    (ProbeOutcome::Timeout, PROBE_TIMEOUT_MS)
                } else {
                    (ProbeOutcome::Refused, 0.05 + 0.1 * rng.f64())
                }
            } else if lost {
                (ProbeOutcome::Timeout, PROBE_TIMEOUT_MS)
            } else {
                let floor = target.base_ms * 0.5;
                let rtt = (target.base_ms + noise).max(floor) + outlier + extra;
                (ProbeOutcome::Ok, rtt.min(PROBE_TIMEOUT_MS))
            };
            // Whole microseconds, like the probes record them.
            let us = (ms * 1000.0).round().max(1.0) as i64;
            let mut probe = LatencyProbe::new(target.name.clone(), ts, outcome);
            if probe.outcome.is_ok() {
                probe.total_ms = Some(us as f64 / 1000.0);
            }
            self.lat_busy_until[ti] = now.saturating_add(us);
            self.lat_pending.push((now.saturating_add(us), probe));
        }
        done.into_iter().map(|(_, p)| p).collect()
    }
}
