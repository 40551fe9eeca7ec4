//! The streaming generator: its state, and one sample per tick.

use std::time::Duration;

use crate::latency::LatencyProbe;
use crate::sample::Sample;
use crate::time::Timestamp;

use super::Synth;
use super::machine::SimProc;
use super::rng::Rng;

/// The streaming generator returned by [`Synth::iter`].
#[derive(Debug, Clone)]
pub struct SynthIter {
    pub(super) cfg: Synth,
    pub(super) rng: Rng,
    /// Live processes, sorted by pid.
    pub(super) procs: Vec<SimProc>,
    pub(super) tick: u64,
    pub(super) next_pid: u32,
    pub(super) boot_time: Timestamp,
    pub(super) boot_id: String,
    pub(super) boot_index: u64,
    pub(super) prev_lateness_ns: u64,
    pub(super) load: [f64; 3],
    pub(super) oom_kills: u64,
    pub(super) cache_bytes: u64,
    pub(super) swap_used_bytes: u64,
    /// Incidents already started (by index), so each spawns its process once.
    pub(super) started: Vec<bool>,
    /// Latency's own random stream, so that targets do not change the rest of the series.
    pub(super) lat_rng: Rng,
    /// Per latency target: until when its probe is in flight (µs).
    pub(super) lat_busy_until: Vec<i64>,
    /// Probes in flight or completed but not yet handed to a sample: (completion µs, probe).
    pub(super) lat_pending: Vec<(i64, LatencyProbe)>,
}

impl SynthIter {
    pub(super) fn new(cfg: Synth) -> Self {
        let rng = Rng::new(cfg.seed);
        let started = vec![false; cfg.incidents.len()];
        let lat_rng = Rng::new(cfg.seed ^ 0x1A7E_0C1E_5EED_0004);
        let lat_busy_until = vec![i64::MIN; cfg.latency_targets.len()];
        let mut it = SynthIter {
            lat_rng,
            lat_busy_until,
            lat_pending: Vec::new(),
            rng,
            procs: Vec::new(),
            tick: 0,
            next_pid: 1,
            boot_time: Timestamp::UNIX_EPOCH,
            boot_id: String::new(),
            boot_index: 0,
            prev_lateness_ns: 0,
            load: [0.0; 3],
            oom_kills: 0,
            cache_bytes: 0,
            swap_used_bytes: 0,
            started,
            cfg,
        };
        // Booted a few days before the series starts.
        let uptime = Duration::from_secs(3 * 86_400 + it.rng.below(86_400));
        it.boot(it.cfg.start.saturating_sub(uptime));
        it
    }

    fn tick_time(&self, tick: u64) -> Timestamp {
        let micros = self
            .cfg
            .interval
            .as_micros()
            .saturating_mul(u128::from(tick));
        self.cfg.start.saturating_add(Duration::from_micros(
            u64::try_from(micros).unwrap_or(u64::MAX),
        ))
    }

    pub(super) fn tick_at_or_after(&self, t: Timestamp) -> u64 {
        let step = self.cfg.interval.as_micros().max(1);
        match t.duration_since(self.cfg.start) {
            Some(d) => u64::try_from(d.as_micros().div_ceil(step)).unwrap_or(u64::MAX),
            None => 0,
        }
    }
}

impl Iterator for SynthIter {
    type Item = Sample;

    fn next(&mut self) -> Option<Sample> {
        while self.tick < self.cfg.count {
            let tick = self.tick;
            self.tick += 1;
            let ts = self.tick_time(tick);
            self.events(tick, ts);
            let gap = self.in_gap(ts);
            let latency = if self.cfg.latency_targets.is_empty() {
                Vec::new()
            } else {
                self.latency_tick(ts, !gap)
            };
            if gap {
                // The machine goes on; nothing is recorded. Keep the schedule's jitter honest after the gap.
                self.prev_lateness_ns = 0;
                continue;
            }
            let mut s = self.sample(tick, ts);
            s.latency = latency;
            return Some(s);
        }
        None
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        let left = usize::try_from(self.cfg.count.saturating_sub(self.tick)).unwrap_or(usize::MAX);
        (0, Some(left))
    }
}
