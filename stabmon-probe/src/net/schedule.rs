//! The probe schedule: one worker thread per target, each probing on its own grid of ticks, at most one probe in
//! flight per target; completed probes wait in a shared buffer until the collector takes them into its next sample.

use std::collections::VecDeque;
use std::sync::{Arc, Mutex, PoisonError};
use std::thread;
use std::time::{Duration, Instant};

use stabmon_core::LatencyProbe;

use super::{Prober, Target};
use crate::Error;
use crate::collector::StopState;

/// The most completed probes kept while nobody takes them (an embedder that stops calling `next_sample`); the
/// oldest are dropped beyond it.
const MAX_BUFFERED: usize = 100_000;

/// Probes running on their own threads; dropped probes are counted.
#[derive(Debug)]
pub(crate) struct ProbeSchedule {
    done: Arc<Mutex<Buffer>>,
}

#[derive(Debug, Default)]
struct Buffer {
    probes: VecDeque<LatencyProbe>,
    dropped: u64,
}

impl ProbeSchedule {
    /// Starts one worker per target. Tick k of every target is at `start + offset + k * interval`; a worker still
    /// probing when a tick comes starts nothing for it, and takes the first tick after its probe ends.
    pub(crate) fn start(
        targets: &[Target],
        prober: &Prober,
        start: Instant,
        offset: Duration,
        interval: Duration,
        stop: &Arc<StopState>,
    ) -> Result<Self, Error> {
        let done = Arc::new(Mutex::new(Buffer::default()));
        for target in targets {
            let worker = Worker {
                target: target.clone(),
                prober: prober.clone(),
                first: start.checked_add(offset).unwrap_or(start),
                interval,
                stop: Arc::clone(stop),
                done: Arc::clone(&done),
            };
            thread::Builder::new()
                .name(format!("stabmon-probe-{}", target.name()))
                .spawn(move || worker.run())
                .map_err(|e| Error::Spawn {
                    what: format!("the probe thread of target {}", target.name()),
                    source: e,
                })?;
        }
        Ok(ProbeSchedule { done })
    }

    /// The probes completed since the last call, in the order they completed, and how many were dropped because
    /// nobody took them in time.
    pub(crate) fn take(&self) -> (Vec<LatencyProbe>, u64) {
        let mut buf = self.done.lock().unwrap_or_else(PoisonError::into_inner);
        let dropped = std::mem::take(&mut buf.dropped);
        (buf.probes.drain(..).collect(), dropped)
    }
}

struct Worker {
    target: Target,
    prober: Prober,
    first: Instant,
    interval: Duration,
    stop: Arc<StopState>,
    done: Arc<Mutex<Buffer>>,
}

impl Worker {
    fn tick(&self, k: u64) -> Instant {
        let offset = self
            .interval
            .checked_mul(u32::try_from(k).unwrap_or(u32::MAX))
            .unwrap_or(Duration::MAX);
        self.first.checked_add(offset).unwrap_or(self.first)
    }

    fn run(self) {
        let mut k: u64 = 0;
        loop {
            if self.stop.wait_until(self.tick(k)) {
                return;
            }
            let probe = self.prober.probe(&self.target);
            {
                let mut buf = self.done.lock().unwrap_or_else(PoisonError::into_inner);
                if buf.probes.len() >= MAX_BUFFERED {
                    buf.probes.pop_front();
                    buf.dropped += 1;
                }
                buf.probes.push_back(probe);
            }
            k = next_tick(k, self.first, self.interval, Instant::now());
        }
    }
}

/// The tick after `k` that is still ahead at `now`: ticks that passed while a probe ran start nothing.
fn next_tick(k: u64, first: Instant, interval: Duration, now: Instant) -> u64 {
    let elapsed = now.saturating_duration_since(first).as_nanos();
    let period = interval.as_nanos().max(1);
    let ahead = u64::try_from(elapsed / period + 1).unwrap_or(u64::MAX);
    ahead.max(k.saturating_add(1))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_slow_probe_skips_the_ticks_it_overran() {
        let t0 = Instant::now();
        let s = Duration::from_secs(1);
        // Finished within its own interval: the next tick.
        assert_eq!(next_tick(0, t0, s, t0 + Duration::from_millis(20)), 1);
        assert_eq!(next_tick(3, t0, s, t0 + Duration::from_millis(3020)), 4);
        // A 5 s timeout from tick 2: ticks 3 to 7 start nothing, tick 8 is next.
        assert_eq!(next_tick(2, t0, s, t0 + Duration::from_millis(7010)), 8);
        // Woken a little early (clock granularity): never the same tick again.
        assert_eq!(next_tick(5, t0, s, t0 + Duration::from_millis(4999)), 6);
    }
}
