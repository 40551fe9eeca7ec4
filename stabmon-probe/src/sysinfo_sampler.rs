//! The portable sampler, on the sysinfo crate: macOS, Windows, and Linux when asked for.

use std::collections::HashMap;
use std::time::Instant;

use stabmon_core::attribution::{
    ProcessDetails, ProcessStat, attribute_with, shorten_command_line,
};
use stabmon_core::units::round_bytes;
use stabmon_core::{CpuUsage, Memory, ProcessKey, Sample, Timestamp};
use sysinfo::{Pid, ProcessRefreshKind, ProcessesToUpdate, System, UpdateKind};

use crate::Error;
use crate::sampler::{HostInfo, Sampler, SamplerOptions, round_pct, whole_micros};

/// What the sampler remembers about one process between refreshes.
#[derive(Debug)]
struct ProcState {
    start_secs: u64,
    cpu_ms: u64,
    /// CPU milliseconds used over the last interval (all of them for a process born during it).
    delta_ms: u64,
    name: String,
    generation: u64,
}

/// The portable sampler, built on [sysinfo](https://docs.rs/sysinfo).
///
/// Each pass refreshes only what a sample needs: CPU, memory and the process list narrowed to CPU time and memory,
/// without threads (`ProcessRefreshKind::nothing().with_cpu().with_memory().without_tasks()`). Process CPU is the
/// delta of sysinfo's accumulated CPU time over the time measured between two passes, per process identity (pid and
/// start time), so that a process born during the interval counts all of its time and a reused pid starts afresh.
/// Command line and user are refreshed only for the processes that make the top lists, and cached.
///
/// What sysinfo does not report stays empty: the user/system split of CPU time (`None`, like iowait and steal), children's CPU (`None`), pressure stalls, the OOM-kill counter and the boot id.
#[derive(Debug)]
pub struct SysinfoSampler {
    opts: SamplerOptions,
    host: HostInfo,
    sys: System,
    boot_time: Timestamp,
    procs: HashMap<u32, ProcState>,
    details: HashMap<ProcessKey, ProcessDetails>,
    #[cfg(unix)]
    users: crate::sampler::Users,
    generation: u64,
    last_read: Instant,
}

fn narrowed() -> ProcessRefreshKind {
    ProcessRefreshKind::nothing()
        .with_cpu()
        .with_memory()
        .without_tasks()
}

impl SysinfoSampler {
    /// Sets sysinfo up and primes every counter with a first refresh.
    pub fn new(opts: SamplerOptions) -> Result<Self, Error> {
        opts.validate()?;
        let sys = System::new().map_err(|source| Error::Sysinfo {
            what: "the system",
            source,
        })?;
        let boot_time = System::boot_time()
            .ok()
            .and_then(|b| i64::try_from(b).ok())
            .map_or(Timestamp::UNIX_EPOCH, Timestamp::from_unix_secs);
        let mut s = SysinfoSampler {
            opts,
            host: HostInfo::new(),
            sys,
            boot_time,
            procs: HashMap::new(),
            details: HashMap::new(),
            #[cfg(unix)]
            users: crate::sampler::Users::default(),
            generation: 0,
            last_read: Instant::now(),
        };
        s.last_read = Instant::now();
        s.sys.refresh_cpu_usage();
        s.refresh_processes();
        Ok(s)
    }

    fn refresh_processes(&mut self) {
        self.sys
            .refresh_processes_specifics(ProcessesToUpdate::All, true, narrowed());
        self.generation += 1;
        let generation = self.generation;
        for (pid, p) in self.sys.processes() {
            let pid = pid.as_u32();
            let start_secs = p.start_time();
            let cpu_ms = p.accumulated_cpu_time();
            match self.procs.get_mut(&pid) {
                Some(st) if st.start_secs == start_secs => {
                    st.delta_ms = cpu_ms.saturating_sub(st.cpu_ms);
                    st.cpu_ms = cpu_ms;
                    st.generation = generation;
                    let name = p.name();
                    if st.name.as_str() != name {
                        st.name = name.to_string_lossy().into_owned();
                    }
                }
                _ => {
                    self.procs.insert(
                        pid,
                        ProcState {
                            start_secs,
                            cpu_ms,
                            delta_ms: cpu_ms,
                            name: p.name().to_string_lossy().into_owned(),
                            generation,
                        },
                    );
                }
            }
        }
        self.procs.retain(|_, st| st.generation == generation);
    }

    fn user_name(&mut self, pid: Pid) -> Option<String> {
        let uid = self.sys.process(pid)?.user_id()?;
        #[cfg(unix)]
        {
            Some(self.users.name(**uid))
        }
        #[cfg(not(unix))]
        {
            Some(format!("{}", **uid))
        }
    }

    /// Fetches command line and user for the kept processes that are not cached yet, in one sysinfo refresh.
    fn fill_details(&mut self, entries: &mut [stabmon_core::ProcessEntry]) {
        let missing: Vec<Pid> = entries
            .iter()
            .filter(|e| !self.details.contains_key(&e.key()))
            .map(|e| Pid::from_u32(e.pid))
            .collect();
        if !missing.is_empty() {
            let mut kind = ProcessRefreshKind::nothing()
                .with_user(UpdateKind::OnlyIfNotSet)
                .without_tasks();
            if self.opts.cmdline {
                kind = kind.with_cmd(UpdateKind::OnlyIfNotSet);
            }
            self.sys
                .refresh_processes_specifics(ProcessesToUpdate::Some(&missing), false, kind);
            for pid in missing {
                let Some(entry) = entries.iter().find(|e| e.pid == pid.as_u32()) else {
                    continue;
                };
                let key = entry.key();
                let cmdline = if self.opts.cmdline {
                    self.sys.process(pid).and_then(|p| {
                        let args: Vec<String> = p
                            .cmd()
                            .iter()
                            .map(|a| a.to_string_lossy().into_owned())
                            .collect();
                        let mut joined = args.join(" ");
                        if joined.trim().is_empty() {
                            return None;
                        }
                        shorten_command_line(&mut joined, self.opts.cmdline_max_bytes);
                        Some(joined)
                    })
                } else {
                    None
                };
                let user = self.user_name(pid);
                self.details.insert(key, ProcessDetails::new(cmdline, user));
            }
        }
        for e in entries.iter_mut() {
            if let Some(d) = self.details.get(&e.key()) {
                e.cmdline = d.cmdline.clone();
                e.user = d.user.clone();
            }
        }
    }
}

impl Sampler for SysinfoSampler {
    fn name(&self) -> &'static str {
        "sysinfo"
    }

    fn sample(&mut self, ts: Timestamp) -> Result<Sample, Error> {
        self.sample_at(ts, Instant::now())
    }

    fn sample_at(&mut self, ts: Timestamp, now: Instant) -> Result<Sample, Error> {
        let elapsed = whole_micros(now.duration_since(self.last_read));
        self.last_read = now;

        self.sys.refresh_cpu_usage();
        self.sys.refresh_memory();
        self.refresh_processes();

        let mut sample = self.host.new_sample(ts, elapsed);
        sample.boot_time = self.boot_time;
        // sysinfo's own figure for the whole machine, not the mean of its cores as the Linux sampler gives: the
        // cores read 0 % in the first sample after the priming refresh, the whole machine does not.
        sample.cpu = CpuUsage::new(round_pct(f64::from(self.sys.global_cpu_usage())));
        sample.per_core = self
            .sys
            .cpus()
            .iter()
            .map(|c| CpuUsage::new(round_pct(f64::from(c.usage()))))
            .collect();
        #[cfg(not(windows))]
        {
            sample.load = System::load_average()
                .ok()
                .map(|l| stabmon_core::LoadAvg::new(l.one as f32, l.five as f32, l.fifteen as f32));
        }
        sample.memory = Memory::measured(
            self.sys.total_memory(),
            self.sys.available_memory(),
            self.sys.total_swap(),
            self.sys.used_swap(),
        );
        sample.process_count = u32::try_from(self.procs.len()).unwrap_or(u32::MAX);

        let elapsed_ms = elapsed.as_secs_f64() * 1000.0;
        let stats: Vec<ProcessStat<'_>> = self
            .sys
            .processes()
            .iter()
            .filter_map(|(pid, p)| {
                let st = self.procs.get(&pid.as_u32())?;
                let start = Timestamp::from_unix_secs(i64::try_from(st.start_secs).unwrap_or(0));
                let mut s = ProcessStat::new(pid.as_u32(), &st.name, start);
                s.parent_pid = p.parent().map(Pid::as_u32);
                s.cpu_pct = if elapsed_ms > 0.0 {
                    round_pct(st.delta_ms as f64 / elapsed_ms * 100.0)
                } else {
                    0.0
                };
                s.rss_bytes = round_bytes(p.memory());
                s.virtual_bytes = round_bytes(p.virtual_memory());
                Some(s)
            })
            .collect();
        let mut top = attribute_with(self.opts.top_spec(), &stats, |_| ProcessDetails::default());
        drop(stats);
        self.fill_details(&mut top.processes);
        let procs = &self.procs;
        self.details.retain(|k, _| {
            procs.get(&k.pid).is_some_and(|st| {
                i64::try_from(st.start_secs).ok() == Some(k.start_time.as_unix_secs())
            })
        });
        sample.top = top;
        Ok(sample)
    }
}
