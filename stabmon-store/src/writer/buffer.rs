//! The rows of the row group in progress: what a sample adds to them.

use std::collections::HashMap;

use stabmon_core::latency::whole_micros;
use stabmon_core::{
    CpuUsage, ExitedName, ExitedProcess, LatencyProbe, OomKill, ProcessEntry, Sample,
};

use super::interner::Interner;
use super::rows::{
    N_CPU_RANK, N_RSS_RANK, NameRow, P_CHILDREN, P_CMDLINE, P_CPU_RANK, P_PARENT, P_RSS_RANK,
    P_USER, ProcIdentity, ProcRow, ProcRows, mark,
};

/// The rows of one row group, stored column by column (samples) or as compact rows (processes, names).
#[derive(Default)]
pub(super) struct Buffer {
    pub(super) ts: Vec<i64>,
    pub(super) boot_time: Vec<i64>,
    pub(super) boot_id: Vec<Option<i32>>,
    pub(super) timezone: Vec<Option<i32>>,
    pub(super) utc_offset_secs: Vec<Option<i32>>,
    pub(super) interval_us: Vec<i64>,
    pub(super) lateness_us: Vec<i64>,
    pub(super) cpu_busy: Vec<f32>,
    /// User, system, iowait and steal.
    pub(super) cpu_parts: [Vec<Option<f32>>; 4],
    pub(super) core_offsets: Vec<i32>,
    pub(super) core_busy: Vec<f32>,
    /// Per core: user, system, iowait and steal.
    pub(super) core_parts: [Vec<Option<f32>>; 4],
    pub(super) load: [Vec<Option<f32>>; 3],
    pub(super) mem: [Vec<u64>; 5],
    pub(super) process_count: Vec<u32>,
    pub(super) pressure_present: Vec<bool>,
    pub(super) pressure: [Vec<Option<f32>>; 5],
    pub(super) oom_kill_count: Vec<Option<u64>>,
    pub(super) top_n: Vec<u16>,
    pub(super) cpu_nth_pct: Vec<f32>,
    pub(super) rss_nth_bytes: Vec<u64>,
    pub(super) name_cpu_nth_pct: Vec<f32>,
    pub(super) name_rss_nth_bytes: Vec<u64>,
    /// The busiest process (pid, start time, name, CPU) and the busiest group of one name (name, CPU).
    pub(super) top_process: Vec<Option<(u32, i64, f32)>>,
    pub(super) top_process_name: Vec<Option<i32>>,
    pub(super) top_group_name: Vec<Option<i32>>,
    pub(super) top_group_cpu_pct: Vec<Option<f32>>,
    pub(super) top_process_names: Interner,
    pub(super) top_group_names: Interner,
    pub(super) sample_strings: Interner,
    pub(super) timezones: Interner,

    pub(super) procs: Vec<ProcRow>,
    /// The processes the rows refer to; each pid's latest identity in `ident_of_pid` (its index).
    pub(super) idents: Vec<ProcIdentity>,
    pub(super) ident_of_pid: HashMap<u32, u32>,
    pub(super) proc_names: Interner,
    pub(super) cmdlines: Interner,
    pub(super) users: Interner,

    pub(super) names: Vec<NameRow>,
    pub(super) name_names: Interner,

    /// Latency probes with the tick of the sample that carried them, in order.
    pub(super) latency: Vec<(i64, LatencyProbe)>,

    /// The processes' cgroups and units, and the unit of each cgroup id (-1: none), for this row group.
    pub(super) cgroups: Interner,
    pub(super) units: Interner,
    pub(super) unit_of_cgroup: HashMap<i32, i32>,
    /// OOM kills with the tick of the sample that carried them, in order.
    pub(super) oom_kills: Vec<(i64, OomKill)>,

    /// Exit counts and dropped-record counts (null: exits not recorded).
    pub(super) exit_count: Vec<Option<u32>>,
    pub(super) exit_dropped: Vec<Option<u32>>,
    /// Exited names and detailed exits with the tick of their sample, in order.
    pub(super) exits: Vec<(i64, ExitRow)>,
}

/// A row of the exits table: a name's totals, or one detailed exit.
pub(super) enum ExitRow {
    Name(ExitedName),
    Process(ExitedProcess),
}

/// A duration in whole microseconds (the resolution of `Sample::interval`/`lateness`); finer ones are refused
/// rather than silently rounded, so that what is read back always equals what was written.
fn duration_us(d: std::time::Duration, what: &str) -> Result<i64, String> {
    if !d.subsec_nanos().is_multiple_of(1000) {
        return Err(format!(
            "{what} of {d:?} is not a whole number of microseconds (samples keep microseconds)"
        ));
    }
    i64::try_from(d.as_micros()).map_err(|_| format!("{what} of {d:?} is too long"))
}

/// A sample's CPU shares other than busy: user, system, iowait, steal.
pub(super) fn cpu_parts(c: &CpuUsage) -> [Option<f32>; 4] {
    [c.user_pct, c.system_pct, c.iowait_pct, c.steal_pct]
}

impl Buffer {
    pub(super) fn len(&self) -> usize {
        self.ts.len()
    }

    /// Bytes of the distinct strings the row group holds (see [`WriterOptions::row_group_string_bytes`](super::WriterOptions::row_group_string_bytes)).
    pub(super) fn string_bytes(&self) -> usize {
        [
            &self.sample_strings,
            &self.timezones,
            &self.proc_names,
            &self.cmdlines,
            &self.users,
            &self.name_names,
            &self.top_process_names,
            &self.top_group_names,
            &self.cgroups,
            &self.units,
        ]
        .iter()
        .map(|i| i.bytes)
        .sum()
    }

    pub(super) fn push(&mut self, s: &Sample) -> Result<(), String> {
        // Everything that can fail is checked before any column grows, so a refused sample leaves no half row.
        let interval_us = duration_us(s.interval, "the interval")?;
        let lateness_us = duration_us(s.lateness, "the lateness")?;
        for p in &s.latency {
            for (what, v) in [
                ("dns_ms", p.dns_ms),
                ("connect_ms", p.connect_ms),
                ("tls_ms", p.tls_ms),
                ("first_byte_ms", p.first_byte_ms),
                ("total_ms", p.total_ms),
            ] {
                if let Some(ms) = v
                    && whole_micros(ms).is_none()
                {
                    return Err(format!(
                        "the {what} of {ms} of the probe of {:?} is not a whole number of microseconds \
                         (latency timings keep microseconds)",
                        p.target
                    ));
                }
            }
        }
        let cores_end = self.core_busy.len() + s.per_core.len();
        let core_end =
            i32::try_from(cores_end).map_err(|_| "too many cores in one row group".to_owned())?;

        let ts = s.ts.as_unix_micros();
        // The row group's sample count is bounded by `row_group_samples` (a `usize`); past u32 it is refused.
        let sample = u32::try_from(self.ts.len())
            .map_err(|_| "more than 4,294,967,295 samples in one row group".to_owned())?;
        if u32::try_from(self.idents.len() + s.top.processes.len()).is_err() {
            return Err("more than 4,294,967,295 processes in one row group".to_owned());
        }
        self.ts.push(ts);
        self.boot_time.push(s.boot_time.as_unix_micros());
        self.boot_id
            .push(self.sample_strings.opt(s.boot_id.as_deref()));
        self.timezone
            .push(self.timezones.opt(s.timezone.as_deref()));
        self.utc_offset_secs.push(s.utc_offset_secs);
        self.interval_us.push(interval_us);
        self.lateness_us.push(lateness_us);
        self.cpu_busy.push(s.cpu.busy_pct);
        for (col, v) in self.cpu_parts.iter_mut().zip(cpu_parts(&s.cpu)) {
            col.push(v);
        }
        for c in &s.per_core {
            self.core_busy.push(c.busy_pct);
            for (col, v) in self.core_parts.iter_mut().zip(cpu_parts(c)) {
                col.push(v);
            }
        }
        self.core_offsets.push(core_end);
        let load = s.load.map(|l| [l.one, l.five, l.fifteen]);
        for (i, col) in self.load.iter_mut().enumerate() {
            col.push(load.map(|l| l[i]));
        }
        for (col, v) in self.mem.iter_mut().zip(s.memory.byte_counts()) {
            col.push(v);
        }
        self.process_count.push(s.process_count);
        self.pressure_present.push(s.pressure.is_some());
        let p = s.pressure.unwrap_or_default();
        let pressure = [
            p.cpu_some_pct,
            p.memory_some_pct,
            p.memory_full_pct,
            p.io_some_pct,
            p.io_full_pct,
        ];
        for (col, v) in self.pressure.iter_mut().zip(pressure) {
            col.push(v);
        }
        self.oom_kill_count.push(s.oom_kill_count);
        let t = &s.top;
        self.top_n.push(t.n);
        self.cpu_nth_pct.push(t.cpu_nth_pct);
        self.rss_nth_bytes.push(t.rss_nth_bytes);
        self.name_cpu_nth_pct.push(t.name_cpu_nth_pct);
        self.name_rss_nth_bytes.push(t.name_rss_nth_bytes);
        let top = t.busiest_process();
        self.top_process
            .push(top.map(|p| (p.pid, p.start_time.as_unix_micros(), p.cpu_pct)));
        self.top_process_name
            .push(self.top_process_names.opt(top.map(|p| p.name.as_str())));
        let group = s.busiest_group();
        self.top_group_name
            .push(self.top_group_names.opt(group.map(|(name, _)| name)));
        self.top_group_cpu_pct.push(group.map(|(_, cpu)| cpu));

        for p in &t.processes {
            let ident = self.ident(p);
            let mut flags = 0;
            self.procs.push(ProcRow {
                rss_bytes: p.rss_bytes,
                virtual_bytes: p.virtual_bytes,
                ident,
                sample,
                cpu_pct: p.cpu_pct,
                children_cpu_pct: mark(&mut flags, P_CHILDREN, p.children_cpu_pct),
                cpu_rank: mark(&mut flags, P_CPU_RANK, p.cpu_rank),
                rss_rank: mark(&mut flags, P_RSS_RANK, p.rss_rank),
                flags,
            });
        }
        for n in &t.names {
            let name = self.name_names.id(&n.name);
            let mut flags = 0;
            self.names.push(NameRow {
                rss_bytes: n.rss_bytes,
                sample,
                name,
                process_count: n.process_count,
                cpu_pct: n.cpu_pct,
                cpu_rank: mark(&mut flags, N_CPU_RANK, n.cpu_rank),
                rss_rank: mark(&mut flags, N_RSS_RANK, n.rss_rank),
                flags,
            });
        }
        self.latency
            .extend(s.latency.iter().map(|p| (ts, p.clone())));
        self.exit_count.push(s.exits.as_ref().map(|e| e.count));
        self.exit_dropped.push(s.exits.as_ref().map(|e| e.dropped));
        if let Some(e) = &s.exits {
            self.exits
                .extend(e.names.iter().map(|n| (ts, ExitRow::Name(n.clone()))));
            self.exits.extend(
                e.processes
                    .iter()
                    .map(|p| (ts, ExitRow::Process(p.clone()))),
            );
        }
        self.oom_kills
            .extend(s.oom_kills.iter().map(|k| (ts, k.clone())));
        Ok(())
    }

    /// The latency rows of the row group, `None` when its samples carried no probe; empties them.
    /// The process rows of the row group, sorted by identity, then time: each column becomes a smooth
    /// per-process series that delta and RLE shrink. Empties them from the buffer.
    pub(super) fn take_process_rows(&mut self) -> ProcRows {
        let mut rows = std::mem::take(&mut self.procs);
        let idents = std::mem::take(&mut self.idents);
        self.ident_of_pid = HashMap::new();
        // The cgroup interner is emptied when its column is made.
        self.unit_of_cgroup = HashMap::new();
        rows.sort_unstable_by_key(|r| {
            let id = &idents[r.ident as usize];
            (id.pid, id.start_time, r.sample)
        });
        ProcRows { rows, idents }
    }

    /// The index in `idents` of `p`'s identity, added when it is new (or when the pid's latest one differs).
    pub(super) fn ident(&mut self, p: &ProcessEntry) -> u32 {
        let mut flags = 0;
        let cmdline = self.cmdlines.opt(p.cmdline.as_deref());
        let user = self.users.opt(p.user.as_deref());
        let (cgroup, unit) = match p.cgroup.as_deref() {
            Some(cg) => {
                let id = self.cgroups.id(cg);
                let unit = match self.unit_of_cgroup.get(&id) {
                    Some(&u) => u,
                    None => {
                        let u = stabmon_core::cgroup::unit_of(cg).map_or(-1, |u| self.units.id(&u));
                        self.unit_of_cgroup.insert(id, u);
                        u
                    }
                };
                (id, unit)
            }
            None => (-1, -1),
        };
        let id = ProcIdentity {
            start_time: p.start_time.as_unix_micros(),
            pid: p.pid,
            parent_pid: mark(&mut flags, P_PARENT, p.parent_pid),
            name: self.proc_names.id(&p.name),
            cmdline: mark(&mut flags, P_CMDLINE, cmdline),
            user: mark(&mut flags, P_USER, user),
            cgroup,
            unit,
            flags,
        };
        if let Some(&k) = self.ident_of_pid.get(&p.pid)
            && self.idents.get(k as usize) == Some(&id)
        {
            return k;
        }
        // `push` checked that the row group's processes fit in a u32.
        let k = u32::try_from(self.idents.len()).unwrap_or(u32::MAX);
        self.idents.push(id);
        self.ident_of_pid.insert(p.pid, k);
        k
    }

    /// The name rows of the row group, sorted by name, then time. Empties them from the buffer.
    pub(super) fn take_name_rows(&mut self) -> Vec<NameRow> {
        let mut rows = std::mem::take(&mut self.names);
        let order = &self.name_names.values;
        rows.sort_unstable_by(|a, b| {
            let (na, nb) = (order.get(a.name as usize), order.get(b.name as usize));
            na.cmp(&nb).then(a.sample.cmp(&b.sample))
        });
        rows
    }
}
