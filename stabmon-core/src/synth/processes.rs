//! The process table: a booted machine's processes, and new ones.

use std::time::Duration;

use crate::time::Timestamp;

use super::iter::SynthIter;
use super::machine::CpuProfile::{Busy, Idle};
use super::machine::MemProfile::Steady;
use super::machine::{
    CpuProfile, KTHREADS, KTHREADS_GLOBAL, MIB, MemProfile, PAGE, PID_MAX, SimProc, Template,
    USERLAND,
};

impl SynthIter {
    pub(super) fn boot(&mut self, boot_time: Timestamp) {
        self.boot_time = boot_time;
        self.boot_index += 1;
        let a = self.rng.next_u64();
        let b = self.rng.next_u64();
        self.boot_id = format!(
            "{:08x}-{:04x}-4{:03x}-{:04x}-{:012x}",
            a >> 32,
            (a >> 16) & 0xffff,
            a & 0xfff,
            0x8000 | (b >> 48) & 0x3fff,
            b & 0xffff_ffff_ffff
        );
        self.procs.clear();
        self.next_pid = 1;
        self.oom_kills = 0;
        self.load = [0.8, 0.9, 1.0];
        self.cache_bytes = 3 * (1 << 30) + self.rng.below(1 << 30);
        self.swap_used_bytes = 40 * MIB + self.rng.below(64) * PAGE * 16;
        self.populate();
    }

    fn alloc_pid(&mut self) -> u32 {
        loop {
            let pid = self.next_pid;
            self.next_pid = if pid + 1 >= PID_MAX { 300 } else { pid + 1 };
            if self.procs.binary_search_by_key(&pid, |p| p.pid).is_err() {
                return pid;
            }
        }
    }

    fn insert(&mut self, p: SimProc) {
        let at = self.procs.partition_point(|q| q.pid < p.pid);
        self.procs.insert(at, p);
    }

    /// Creates the process table of a freshly booted machine (started a little after boot).
    fn populate(&mut self) {
        let target = self.cfg.processes.max(1);
        let cores = self.cfg.cores;
        let boot = self.boot_time;
        let mut kernel_names: Vec<String> =
            KTHREADS_GLOBAL.iter().map(|s| (*s).to_owned()).collect();
        for c in 0..cores {
            for k in KTHREADS {
                kernel_names.push(k.replace("{}", &c.to_string()));
            }
        }
        let n_user: usize = USERLAND.iter().map(|t| t.count).sum();
        let n_kernel =
            (target * 2 / 5).min(target.saturating_sub(n_user.min(target)).max(target / 5));
        // Kernel threads first (low pids), like on a real machine.
        let mut extra = 0;
        for i in 0..n_kernel {
            let name = match kernel_names.get(i) {
                Some(n) => n.clone(),
                None => {
                    extra += 1;
                    format!("kworker/u{}:{}-events_unbound", cores * 2, extra)
                }
            };
            let pid = self.alloc_pid();
            let wake = 0.01 + self.rng.f64() * 0.05;
            let start = boot.saturating_add(Duration::from_millis(10 + i as u64 * 3));
            self.insert(SimProc {
                pid,
                ppid: if pid == 1 { 0 } else { 2 },
                name,
                cmdline: None,
                user: Some("root".to_owned()),
                start_time: start,
                rss_pages: 0,
                base_pages: 0,
                vsz_bytes: 0,
                cpu: Idle(wake),
                mem: Steady(0.0),
                exit_at: None,
                child_ticks: 0,
                kernel: true,
                storm: None,
                life_ticks: 0,
            });
        }
        // Then the userland, repeating worker templates until the target is met.
        let mut remaining = target.saturating_sub(n_kernel);
        let mut round = 0;
        while remaining > 0 {
            let before = remaining;
            for tpl in USERLAND {
                let count = if round == 0 {
                    tpl.count
                } else if tpl.count > 1 {
                    tpl.count.div_ceil(2)
                } else {
                    0
                };
                for _ in 0..count.min(remaining) {
                    self.spawn_from_template(tpl, round);
                    remaining -= 1;
                }
                if remaining == 0 {
                    break;
                }
            }
            round += 1;
            if remaining == before {
                break;
            }
        }
    }

    fn spawn_from_template(&mut self, tpl: &Template, round: usize) {
        let pid = self.alloc_pid();
        let started_after =
            Duration::from_secs(5 + self.rng.below(if round == 0 { 60 } else { 86_400 }));
        let start = self.boot_time.saturating_add(started_after);
        let rss_mib = tpl.rss_mib.max(1) as f64 * (0.8 + 0.4 * self.rng.f64());
        let rss_pages = ((rss_mib * MIB as f64) as u64 / PAGE).max(1);
        let vsz_bytes = (rss_pages * PAGE * (3 + self.rng.below(6)) + 100 * MIB) / PAGE * PAGE;
        let ppid = self
            .procs
            .iter()
            .find(|p| p.name == tpl.name && p.pid < pid && !p.kernel)
            .map_or(1, |p| p.pid);
        let cpu = match tpl.cpu {
            Busy(pct) if round > 0 => Idle((pct / 100.0).min(0.5)),
            other => other,
        };
        self.insert(SimProc {
            pid,
            ppid,
            name: tpl.name.to_owned(),
            cmdline: Some(tpl.cmdline.to_owned()),
            user: Some(tpl.user.to_owned()),
            start_time: start,
            rss_pages,
            base_pages: rss_pages,
            vsz_bytes,
            cpu,
            mem: tpl.mem,
            exit_at: None,
            child_ticks: 0,
            kernel: false,
            storm: None,
            life_ticks: 0,
        });
    }

    #[allow(clippy::too_many_arguments)]
    pub(super) fn spawn(
        &mut self,
        name: &str,
        cmdline: &str,
        user: &str,
        ppid: u32,
        start: Timestamp,
        rss_bytes: u64,
        cpu: CpuProfile,
        mem: MemProfile,
        exit_at: Option<u64>,
    ) -> u32 {
        let pid = self.alloc_pid();
        let rss_pages = (rss_bytes / PAGE).max(1);
        self.insert(SimProc {
            pid,
            ppid,
            name: name.to_owned(),
            cmdline: Some(cmdline.to_owned()),
            user: Some(user.to_owned()),
            start_time: start,
            rss_pages,
            base_pages: rss_pages,
            vsz_bytes: (rss_pages * PAGE * 2 + 64 * MIB) / PAGE * PAGE,
            cpu,
            mem,
            exit_at,
            child_ticks: 0,
            kernel: false,
            storm: None,
            life_ticks: 0,
        });
        pid
    }
}
