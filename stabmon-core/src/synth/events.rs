//! What happens at a tick: incidents, churn, worker storms.

use std::time::Duration;

use crate::time::Timestamp;

use super::incident::Incident;
use super::iter::SynthIter;
use super::machine::CpuProfile::{Busy, Idle};
use super::machine::MemProfile::Steady;
use super::machine::{CpuProfile, MIB, MemProfile};

impl SynthIter {
    pub(super) fn in_gap(&self, ts: Timestamp) -> bool {
        self.cfg
            .incidents
            .iter()
            .any(|i| matches!(i, Incident::Gap { from, to } if *from <= ts && ts < *to))
    }

    /// Applies incidents and churn at tick `tick` (time `ts`, scheduled reading start).
    pub(super) fn events(&mut self, tick: u64, ts: Timestamp) {
        for idx in 0..self.cfg.incidents.len() {
            let incident = self.cfg.incidents[idx].clone();
            match incident {
                Incident::Reboot { at } if !self.started[idx] && at <= ts => {
                    self.started[idx] = true;
                    self.boot(at.saturating_sub(Duration::from_secs(30)));
                }
                Incident::CpuHog {
                    name,
                    cmdline,
                    from,
                    to,
                    cpu_pct,
                } if !self.started[idx] && from <= ts && ts < to => {
                    self.started[idx] = true;
                    let cap = 100.0 * self.cfg.cores as f64;
                    let exit = self.tick_at_or_after(to);
                    self.spawn(
                        &name,
                        &cmdline,
                        "app",
                        1,
                        ts,
                        8 * MIB,
                        CpuProfile::Fixed(f64::from(cpu_pct).min(cap)),
                        Steady(0.01),
                        Some(exit),
                    );
                }
                Incident::MemoryLeak {
                    name,
                    cmdline,
                    from,
                    to,
                    bytes_per_sec,
                } if !self.started[idx] && from <= ts && ts < to => {
                    self.started[idx] = true;
                    let exit = self.tick_at_or_after(to);
                    self.spawn(
                        &name,
                        &cmdline,
                        "app",
                        1,
                        ts,
                        50 * MIB,
                        Busy(3.0),
                        MemProfile::Leak(bytes_per_sec),
                        Some(exit),
                    );
                }
                Incident::SwapClimb {
                    from,
                    to,
                    bytes_per_sec,
                } if from <= ts && ts < to => {
                    let step = (bytes_per_sec as f64 * self.cfg.interval.as_secs_f64()) as u64;
                    self.swap_used_bytes = (self.swap_used_bytes + step).min(2 << 30);
                }
                _ => {}
            }
        }
        // Exits (short-lived jobs, ended incidents); a leaker's end is an OOM kill. The parent reaps the CPU.
        let mut i = 0;
        while i < self.procs.len() {
            if self.procs[i].exit_at.is_some_and(|e| e <= tick) {
                let gone = self.procs.remove(i);
                if matches!(gone.mem, MemProfile::Leak(_)) {
                    self.oom_kills += 1;
                }
                if let Ok(parent) = self.procs.binary_search_by_key(&gone.ppid, |p| p.pid) {
                    // A storm worker hands its real ticks to the parent that reaps it, like Linux's cutime.
                    self.procs[parent].child_ticks += if gone.storm.is_some() {
                        gone.life_ticks
                    } else {
                        20 + self.rng.below(40)
                    };
                }
            } else {
                i += 1;
            }
        }
        // Worker storms replace their exited workers (after the exits, so the count stays steady).
        for idx in 0..self.cfg.incidents.len() {
            if let Incident::WorkerStorm {
                name,
                cmdline,
                from,
                to,
                workers,
                cpu_pct_each,
                lifetime,
            } = self.cfg.incidents[idx].clone()
                && from <= ts
                && ts < to
            {
                self.storm_tick(
                    idx,
                    tick,
                    ts,
                    &name,
                    &cmdline,
                    to,
                    workers,
                    cpu_pct_each,
                    lifetime,
                );
            }
        }
        // Every minute cron runs a two-second job.
        let secs = self.cfg.interval.as_secs().max(1);
        let every = (60 / secs).max(1);
        if tick % every == 7 % every {
            let cron = self
                .procs
                .iter()
                .find(|p| p.name == "cron")
                .map_or(1, |p| p.pid);
            let exit = tick + (2 / secs).max(1);
            let (name, cmd) = if (tick / every).is_multiple_of(5) {
                ("logrotate", "/usr/sbin/logrotate /etc/logrotate.conf")
            } else {
                (
                    "sh",
                    "/bin/sh -c /usr/local/bin/healthcheck.sh >/dev/null 2>&1",
                )
            };
            self.spawn(
                name,
                cmd,
                "root",
                cron,
                ts,
                4 * MIB,
                Busy(30.0),
                Steady(0.2),
                Some(exit),
            );
        }
    }

    /// Keeps a worker storm going at `tick`: its master exists, and `workers` workers are alive.
    #[allow(clippy::too_many_arguments)]
    fn storm_tick(
        &mut self,
        idx: usize,
        tick: u64,
        ts: Timestamp,
        name: &str,
        cmdline: &str,
        to: Timestamp,
        workers: u32,
        cpu_pct_each: f32,
        lifetime: Duration,
    ) {
        let end = self.tick_at_or_after(to);
        let step = self.cfg.interval.as_micros().max(1);
        let life = u64::try_from(lifetime.as_micros().div_ceil(step))
            .unwrap_or(u64::MAX)
            .max(1);
        let master_cmd = format!("{name}: master process");
        if !self.started[idx] {
            self.started[idx] = true;
            self.spawn(
                name,
                &master_cmd,
                "app",
                1,
                ts,
                30 * MIB,
                Idle(0.01),
                Steady(0.001),
                Some(end),
            );
        }
        let master = self
            .procs
            .iter()
            .find(|p| p.name == name && p.cmdline.as_deref() == Some(master_cmd.as_str()))
            .map_or(1, |p| p.pid);
        let alive = self.procs.iter().filter(|p| p.storm == Some(idx)).count();
        let first = alive == 0;
        for k in alive..usize::try_from(workers).unwrap_or(usize::MAX) {
            // The first batch exits staggered, so that replacements come steadily.
            let exit = if first {
                tick + 1 + (k as u64 % life)
            } else {
                tick + life
            };
            let pid = self.spawn(
                name,
                cmdline,
                "app",
                master,
                ts,
                12 * MIB,
                CpuProfile::Fixed(f64::from(cpu_pct_each)),
                Steady(0.05),
                Some(exit.min(end)),
            );
            if let Ok(i) = self.procs.binary_search_by_key(&pid, |p| p.pid) {
                self.procs[i].storm = Some(idx);
            }
        }
    }
}
