//! A tick's reading of the simulated machine, as the recorder would take it.

use std::time::Duration;

use crate::attribution::{ProcessDetails, ProcessStat, TopSpec, attribute_with};
use crate::sample::{CpuUsage, LoadAvg, Memory, Pressure, Sample};
use crate::time::Timestamp;

use super::iter::SynthIter;
use super::machine::CpuProfile::{Busy, Idle};
use super::machine::MemProfile::{Breathing, Steady};
use super::machine::{CpuProfile, MIB, MemProfile, PAGE};
use super::rng::Rng;

impl SynthIter {
    pub(super) fn sample(&mut self, tick: u64, ts: Timestamp) -> Sample {
        let cores = self.cfg.cores;
        // Lateness of this reading, in ns: usually 60-400 us, sometimes a few ms.
        let lateness_ns = if self.rng.chance(0.002) {
            1_000_000 + self.rng.below(8_000_000)
        } else {
            60_000 + self.rng.below(340_000)
        } / 100_000
            * 100_000; // 100 us, the collector's resolution (`units::LATENESS_RESOLUTION`)
        let nominal_ns = u64::try_from(self.cfg.interval.as_nanos()).unwrap_or(u64::MAX);
        let elapsed_ns = if tick == 0 {
            nominal_ns
        } else {
            (nominal_ns + lateness_ns)
                .saturating_sub(self.prev_lateness_ns)
                .max(1)
        };
        self.prev_lateness_ns = lateness_ns;
        let elapsed_s = elapsed_ns as f64 / 1e9;
        // Process CPU: clock ticks (100 a second) over the measured interval, at the tick's resolution like the
        // /proc sampler records it.
        let ticks_per_core = elapsed_ns as f64 / 1e7;
        let pct = |ticks: u64| crate::units::cpu_pct_of_ticks(ticks as f64, ticks_per_core);

        // Per-process ticks and memory.
        let hour = (ts.as_unix_secs().rem_euclid(86_400) / 3600) as f64;
        let daytime = 0.6 + 0.4 * ((hour - 4.0) / 24.0 * std::f64::consts::TAU).sin().abs();
        let cap_ticks = (100.0 * elapsed_s * cores as f64) as u64;
        let mut ticks: Vec<u64> = Vec::with_capacity(self.procs.len());
        let mut total_ticks = 0u64;
        for i in 0..self.procs.len() {
            let p = &self.procs[i];
            let (cpu, mem) = (p.cpu, p.mem);
            let t = match cpu {
                Idle(prob) => u64::from(self.rng.chance(prob * daytime)) * (1 + self.rng.below(2)),
                Busy(mean) => {
                    let noisy = mean * daytime * (0.5 + self.rng.f64());
                    self.rng.round(noisy * elapsed_s)
                }
                CpuProfile::Fixed(v) => self.rng.round(v * elapsed_s),
            };
            let t = t.min(cap_ticks.saturating_sub(total_ticks));
            total_ticks += t;
            ticks.push(t);
            let p = &mut self.procs[i];
            p.life_ticks += t;
            match mem {
                Steady(prob) => {
                    if prob > 0.0 && self.rng.chance(prob) {
                        let delta = 1 + self.rng.below(8);
                        p.rss_pages = if self.rng.chance(0.5) || p.rss_pages <= p.base_pages {
                            p.rss_pages + delta
                        } else {
                            p.rss_pages.saturating_sub(delta).max(1)
                        };
                    }
                }
                Breathing => {
                    let swing = p.base_pages / 20 + 1;
                    let step = self.rng.below(swing / 50 + 2);
                    p.rss_pages = if p.rss_pages < p.base_pages || self.rng.chance(0.45) {
                        p.rss_pages + step
                    } else {
                        p.rss_pages.saturating_sub(step)
                    }
                    .clamp(
                        p.base_pages.saturating_sub(swing).max(1),
                        p.base_pages + swing,
                    );
                }
                MemProfile::Leak(rate) => {
                    p.rss_pages += self.rng.round(rate as f64 * elapsed_s / PAGE as f64);
                    p.vsz_bytes = p.vsz_bytes.max(p.rss_pages * PAGE + 64 * MIB);
                }
            }
        }

        let with_cmdlines = self.cfg.cmdlines;
        let procs = &mut self.procs;
        let stats: Vec<ProcessStat<'_>> = procs
            .iter()
            .zip(&ticks)
            .map(|(p, &t)| {
                let mut s = ProcessStat::new(p.pid, &p.name, p.start_time);
                s.parent_pid = Some(p.ppid);
                s.cpu_pct = pct(t);
                s.children_cpu_pct = Some(pct(p.child_ticks));
                // At the samplers' resolution (`units::round_bytes`).
                s.rss_bytes = crate::units::round_bytes(p.rss_pages * PAGE);
                s.virtual_bytes = crate::units::round_bytes(p.vsz_bytes);
                s
            })
            .collect();
        let spec = TopSpec::new(self.cfg.top_n).with_cpu_floor_pct(self.cfg.cpu_floor_pct);
        let top = attribute_with(spec, &stats, |s| {
            let p = procs
                .binary_search_by_key(&s.pid, |p| p.pid)
                .ok()
                .and_then(|i| procs.get(i));
            ProcessDetails::new(
                p.and_then(|p| p.cmdline.clone()).filter(|_| with_cmdlines),
                p.and_then(|p| p.user.clone()),
            )
        });
        let rss_sum: u64 = stats.iter().map(|s| s.rss_bytes).sum();
        let running = stats.iter().filter(|s| s.cpu_pct > 20.0).count();
        drop(stats);
        for p in self.procs.iter_mut() {
            p.child_ticks = 0;
        }

        // Per-core CPU: spread the processes' ticks (plus a little kernel time) over the cores, in ticks.
        let core_total = ((100.0 * elapsed_s).round() as u64).max(1);
        let mut remaining = total_ticks + self.rng.round(cores as f64 * 0.8);
        let mut per_core = Vec::with_capacity(cores);
        for c in 0..cores {
            let left = (cores - c) as u64;
            let share = if left == 1 {
                remaining
            } else {
                {
                    let jitter = 0.7 + 0.6 * self.rng.f64();
                    self.rng.round(remaining as f64 / left as f64 * jitter)
                }
            };
            let busy = share.min(core_total).min(remaining);
            remaining -= busy;
            let sys = self.rng.round(busy as f64 * 0.25);
            let user = busy - sys;
            let io = if busy < core_total {
                u64::from(self.rng.chance(0.1)).min(core_total - busy)
            } else {
                0
            };
            let q = |x: u64| crate::units::cpu_pct_of_ticks(x as f64, core_total as f64);
            let mut u = CpuUsage::new(q(busy));
            u.user_pct = Some(q(user));
            u.system_pct = Some(q(sys));
            u.iowait_pct = Some(q(io));
            u.steal_pct = Some(0.0);
            per_core.push(u);
        }
        // The whole machine as the mean of its cores, as the samplers compute it.
        let cpu = CpuUsage::mean_of(&per_core).unwrap_or_default();

        // Load averages, exponentially smoothed like the kernel's and shown with two decimals.
        let runnable = running as f64 + self.rng.f64();
        for (l, minutes) in self.load.iter_mut().zip([1.0, 5.0, 15.0]) {
            let k = (-elapsed_s / (60.0 * minutes)).exp();
            *l = *l * k + runnable * (1.0 - k);
        }
        let two = |x: f64| ((x * 100.0).round() / 100.0) as f32;

        // Memory: processes plus kernel and a page cache that drifts a little every second.
        let total = 16u64 << 30;
        if self.rng.chance(0.7) {
            let step = self.rng.below(64) * 1024;
            self.cache_bytes = if self.rng.chance(0.5) {
                (self.cache_bytes + step).min(6 << 30)
            } else {
                self.cache_bytes.saturating_sub(step).max(1 << 30)
            };
        }
        if self.rng.chance(0.001) {
            self.swap_used_bytes += self.rng.below(32) * PAGE;
        }
        let used = (rss_sum / 2 + 900 * MIB).min(total);
        let available = total
            .saturating_sub(used)
            .saturating_sub(self.cache_bytes / 4)
            / 1024
            * 1024;
        let memory = Memory::measured(total, available, 2 << 30, self.swap_used_bytes);

        let mut pressure = Pressure::default();
        let some = |rng: &mut Rng, p: f64, scale: f64| {
            if rng.chance(p) {
                // Stalled microseconds over the interval, at the /proc sampler's resolution (0.1 %).
                let stalled_us = rng.below((scale * 1e4) as u64 + 1) as f64;
                crate::units::stall_pct(stalled_us, elapsed_s * 1e6).unwrap_or(0.0)
            } else {
                0.0
            }
        };
        pressure.cpu_some_pct = Some(some(&mut self.rng, 0.3 * daytime, 2.0));
        pressure.memory_some_pct = Some(some(&mut self.rng, 0.01, 0.5));
        pressure.memory_full_pct = Some(some(&mut self.rng, 0.002, 0.2));
        pressure.io_some_pct = Some(some(&mut self.rng, 0.05, 1.0));
        pressure.io_full_pct = Some(some(&mut self.rng, 0.02, 0.5));

        let mut s = Sample::new(ts, self.cfg.host.clone());
        s.boot_time = self.boot_time;
        s.boot_id = Some(self.boot_id.clone());
        s.timezone = Some("Europe/Berlin".to_owned());
        s.utc_offset_secs = Some(3600);
        s.interval = Duration::from_nanos(elapsed_ns);
        s.lateness = Duration::from_nanos(lateness_ns);
        s.cpu = cpu;
        s.per_core = per_core;
        s.load = Some(LoadAvg::new(
            two(self.load[0]),
            two(self.load[1]),
            two(self.load[2]),
        ));
        s.memory = memory;
        s.process_count = u32::try_from(self.procs.len()).unwrap_or(u32::MAX);
        s.pressure = Some(pressure);
        s.oom_kill_count = Some(self.oom_kills);
        s.top = top;
        s
    }
}
