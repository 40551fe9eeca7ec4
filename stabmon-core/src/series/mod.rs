//! A host's system values over a range as columns: what detection, charts and summaries read for every sample,
//! without the per-sample process lists.
//!
//! A [`Sample`] carries its top process lists, a few kilobytes; a month at 1 s of them does not fit in the memory of
//! the small servers stabmon explains. [`SystemSeries`] keeps only the system values, one column each (about 40
//! bytes a sample of a recording at 1 s, 88 at most: sizes, intervals and pressure are [`Packed`] in blocks as
//! narrow as their values allow; values that rarely change, such as installed memory or the boot, are kept as
//! [`Runs`]; about 7 bytes a latency probe, in a [`ProbeList`]), and analysis asks a [`WindowSource`] for whole
//! samples only inside the windows where it names a culprit ([`detect_incidents_in`](crate::analysis::detect_incidents_in)).
//!
//! ```
//! use std::time::Duration;
//! use stabmon_core::{CpuUsage, Sample, Timestamp};
//! use stabmon_core::series::SystemSeries;
//!
//! let t0 = Timestamp::from_unix_secs(1_795_576_320);
//! let mut series = SystemSeries::new("nas");
//! for i in 0..3 {
//!     let mut s = Sample::new(t0.saturating_add(Duration::from_secs(i)), "nas");
//!     s.cpu = CpuUsage::new(10.0 * i as f32);
//!     series.push(&s);
//! }
//! assert_eq!(series.len(), 3);
//! assert_eq!(series.cpu_busy_pct[2], 20.0);
//! assert_eq!(series.range(), Some((t0, t0.saturating_add(Duration::from_secs(2)))));
//! ```

use std::time::Duration;

use std::collections::{BTreeMap, HashMap};

use crate::latency::{LatencyProbe, ProbePoint};
use crate::sample::{LoadAvg, Memory, Pressure, Sample, TopProcesses};
use crate::time::Timestamp;

mod packed;
mod parts;
mod probes;
mod runs;

pub use packed::{Packable, Packed, PackedIter};
pub use parts::SampleParts;
pub use probes::ProbeList;
pub use runs::Runs;

/// A host's system values, one column per value and one row per sample, sorted by time.
///
/// Optional values are `NaN` (floats) or `None` where the sample did not have them. Build it with
/// [`push`](Self::push) (one sample at a time, so a reader can stream into it) or [`from_samples`](Self::from_samples).
/// Two series are equal when every column holds the same values, a missing (`NaN`) float equal to another.
#[derive(Debug, Clone, Default)]
#[non_exhaustive]
pub struct SystemSeries {
    /// The host the samples belong to.
    pub host: String,
    /// When each sample was taken (its tick).
    pub ts: Vec<Timestamp>,
    /// The time each sample's rates cover, microseconds.
    pub interval_us: Packed<u64>,
    /// Whole-machine CPU busy, % of all cores.
    pub cpu_busy_pct: Vec<f32>,
    /// Installed memory, bytes.
    pub mem_total_bytes: Runs<u64>,
    /// Memory in use, bytes.
    pub mem_used_bytes: Packed<u64>,
    /// Memory available, bytes.
    pub mem_available_bytes: Packed<u64>,
    /// Swap in use, bytes.
    pub swap_used_bytes: Packed<u64>,
    /// Swap configured, bytes.
    pub swap_total_bytes: Runs<u64>,
    /// Load averages over 1, 5 and 15 minutes (`NaN` where the OS has none).
    pub load: [Packed<f32>; 3],
    /// Pressure stalls, % of the interval: cpu some, memory some, memory full, io some, io full (`NaN` where not
    /// read).
    pub pressure_pct: [Packed<f32>; 5],
    /// Whether the sample carried pressure information at all.
    pub pressure_present: Runs<bool>,
    /// The kernel's cumulative OOM-kill counter.
    pub oom_kill_count: Runs<Option<u64>>,
    /// When the machine booted.
    pub boot_time: Runs<Timestamp>,
    /// Index into [`boot_ids`](Self::boot_ids) of the sample's boot id.
    pub boot_id: Runs<u32>,
    /// The distinct boot ids, in order of first appearance (`None`: the sample had none).
    pub boot_ids: Vec<Option<String>>,
    /// The host's offset from UTC at each sample, seconds east.
    pub utc_offset_secs: Runs<Option<i32>>,
    /// The number of cores each sample had.
    pub cores: Runs<u16>,
    /// Who was busiest at each sample (the process and the group of one name with the most CPU): what runaway
    /// detection reads without the process lists.
    pub busiest: BusiestColumns,
    /// The latency probes the samples carried, per target, each list sorted by start time (ties in the samples'
    /// order): about 7 bytes a probe.
    pub latency: BTreeMap<String, ProbeList>,
    /// Where the read left out data it could not read (a damaged segment or row group, of which the reader
    /// warned): each part skipped as `[start, end)`, as far as the reader can tell (a segment whose footer is
    /// unreadable, from the time its name says to the next segment's), sorted. A gap that one of these overlaps is
    /// [`GapKind::Unreadable`](crate::analysis::GapKind::Unreadable), not a recorder that died.
    pub unreadable: Vec<(Timestamp, Timestamp)>,
}

impl PartialEq for SystemSeries {
    fn eq(&self, o: &Self) -> bool {
        fn same(a: &[f32], b: &[f32]) -> bool {
            a.len() == b.len() && a.iter().zip(b).all(|(x, y)| x.to_bits() == y.to_bits())
        }
        self.host == o.host
            && self.ts == o.ts
            && self.interval_us == o.interval_us
            && same(&self.cpu_busy_pct, &o.cpu_busy_pct)
            && self.mem_total_bytes == o.mem_total_bytes
            && self.mem_used_bytes == o.mem_used_bytes
            && self.mem_available_bytes == o.mem_available_bytes
            && self.swap_used_bytes == o.swap_used_bytes
            && self.swap_total_bytes == o.swap_total_bytes
            && self.load == o.load
            && self.pressure_pct == o.pressure_pct
            && self.pressure_present == o.pressure_present
            && self.oom_kill_count == o.oom_kill_count
            && self.boot_time == o.boot_time
            && self.boot_id == o.boot_id
            && self.boot_ids == o.boot_ids
            && self.utc_offset_secs == o.utc_offset_secs
            && self.cores == o.cores
            && self.busiest == o.busiest
            && self.latency == o.latency
            && self.unreadable == o.unreadable
    }
}

impl SystemSeries {
    /// An empty series of `host`.
    pub fn new(host: impl Into<String>) -> Self {
        SystemSeries {
            host: host.into(),
            ..SystemSeries::default()
        }
    }

    /// The series of `samples` (sorted by time, one host; the host is the first sample's).
    pub fn from_samples(samples: &[Sample]) -> Self {
        let mut s = SystemSeries::new(samples.first().map_or("", |s| s.host.as_str()));
        for x in samples {
            s.push(x);
        }
        s
    }

    /// Reserves room for `additional` more samples in the columns that keep a value a sample (a reader that knows
    /// how many are coming avoids their doubling on growth; [`Packed`] columns grow a block at a time).
    pub fn reserve(&mut self, additional: usize) {
        self.ts.reserve_exact(additional);
        self.cpu_busy_pct.reserve_exact(additional);
    }

    /// Appends one sample's system values and latency probes (its process lists are not kept).
    pub fn push(&mut self, s: &Sample) {
        self.ts.push(s.ts);
        self.interval_us
            .push(u64::try_from(s.interval.as_micros()).unwrap_or(u64::MAX));
        self.cpu_busy_pct.push(s.cpu.busy_pct);
        self.push_memory(&s.memory);
        self.push_load(s.load);
        self.push_pressure(s.pressure);
        self.oom_kill_count.push(s.oom_kill_count);
        self.boot_time.push(s.boot_time);
        self.push_boot_id(s.boot_id.as_deref());
        self.utc_offset_secs.push(s.utc_offset_secs);
        self.cores
            .push(u16::try_from(s.per_core.len()).unwrap_or(u16::MAX));
        self.busiest.push_sample(s);
        for p in &s.latency {
            self.push_probe(p);
        }
    }

    /// Adds one latency probe to its target's list, in start order (after any probe that started at the same
    /// time).
    pub fn push_probe(&mut self, p: &LatencyProbe) {
        self.push_point(&p.target, ProbePoint::of(p));
    }

    /// [`push_probe`](Self::push_probe) of a probe already reduced to its point.
    pub fn push_point(&mut self, target: &str, point: ProbePoint) {
        match self.latency.get_mut(target) {
            Some(l) => l.push(point),
            None => self
                .latency
                .entry(target.to_owned())
                .or_default()
                .push(point),
        }
    }

    fn push_memory(&mut self, m: &Memory) {
        self.mem_total_bytes.push(m.total_bytes);
        self.mem_used_bytes.push(m.used_bytes);
        self.mem_available_bytes.push(m.available_bytes);
        self.swap_used_bytes.push(m.swap_used_bytes);
        self.swap_total_bytes.push(m.swap_total_bytes);
    }

    fn push_load(&mut self, l: Option<LoadAvg>) {
        let v = l.map_or([f32::NAN; 3], |l| [l.one, l.five, l.fifteen]);
        for (col, v) in self.load.iter_mut().zip(v) {
            col.push(v);
        }
    }

    fn push_pressure(&mut self, p: Option<Pressure>) {
        let v = p.map_or([None; 5], |p| {
            [
                p.cpu_some_pct,
                p.memory_some_pct,
                p.memory_full_pct,
                p.io_some_pct,
                p.io_full_pct,
            ]
        });
        for (col, v) in self.pressure_pct.iter_mut().zip(v) {
            col.push(v.unwrap_or(f32::NAN));
        }
        self.pressure_present.push(p.is_some());
    }

    /// Appends one sample's boot id to [`boot_id`](Self::boot_id), interned in [`boot_ids`](Self::boot_ids) (for a
    /// reader that fills the columns itself).
    pub fn push_boot_id(&mut self, id: Option<&str>) {
        // Boot ids change at reboots only: the last one is nearly always the one.
        let k = match self.boot_id.last().copied() {
            Some(k) if self.boot_ids.get(k as usize).map(Option::as_deref) == Some(id) => k,
            _ => match self.boot_ids.iter().position(|b| b.as_deref() == id) {
                Some(k) => k as u32,
                None => {
                    self.boot_ids.push(id.map(str::to_owned));
                    (self.boot_ids.len() - 1) as u32
                }
            },
        };
        self.boot_id.push(k);
    }

    /// [`push_boot_id`](Self::push_boot_id) `n` times, in one step.
    pub fn push_boot_ids(&mut self, id: Option<&str>, n: usize) {
        if n == 0 {
            return;
        }
        self.push_boot_id(id);
        if let Some(k) = self.boot_id.last().copied() {
            self.boot_id.push_n(k, n - 1);
        }
    }

    /// The number of samples.
    pub fn len(&self) -> usize {
        self.ts.len()
    }

    /// Whether there are no samples.
    pub fn is_empty(&self) -> bool {
        self.ts.is_empty()
    }

    /// The first and last sample's time.
    pub fn range(&self) -> Option<(Timestamp, Timestamp)> {
        Some((*self.ts.first()?, *self.ts.last()?))
    }

    /// Sample `i`'s interval.
    pub fn interval(&self, i: usize) -> Duration {
        Duration::from_micros(self.interval_us.get(i))
    }

    /// Sample `i`'s boot id.
    pub fn boot_id(&self, i: usize) -> Option<&str> {
        self.boot_ids
            .get(self.boot_id[i] as usize)
            .and_then(|b| b.as_deref())
    }

    /// Sample `i`'s load averages.
    pub fn load(&self, i: usize) -> Option<LoadAvg> {
        let one = self.load[0].get(i);
        (!one.is_nan()).then(|| LoadAvg::new(one, self.load[1].get(i), self.load[2].get(i)))
    }

    /// Sample `i`'s pressure stalls.
    pub fn pressure(&self, i: usize) -> Option<Pressure> {
        if !self.pressure_present[i] {
            return None;
        }
        let v = |k: usize| Some(self.pressure_pct[k].get(i)).filter(|v| !v.is_nan());
        Some(Pressure {
            cpu_some_pct: v(0),
            memory_some_pct: v(1),
            memory_full_pct: v(2),
            io_some_pct: v(3),
            io_full_pct: v(4),
        })
    }

    /// The index of the first sample at or after `t`.
    pub fn index_at(&self, t: Timestamp) -> usize {
        self.ts.partition_point(|x| *x < t)
    }

    /// Samples `lo..hi` (clipped to the samples there are), with the latency probes that started in
    /// `[from, to)` (either end open where `None`).
    pub fn slice(
        &self,
        lo: usize,
        hi: usize,
        from: Option<Timestamp>,
        to: Option<Timestamp>,
    ) -> SystemSeries {
        fn cut<T: Clone>(col: &[T], lo: usize, hi: usize) -> Vec<T> {
            col.get(lo..hi.min(col.len()))
                .map(<[T]>::to_vec)
                .unwrap_or_default()
        }
        let mut s = SystemSeries::new(self.host.clone());
        s.ts = cut(&self.ts, lo, hi);
        s.interval_us = self.interval_us.slice(lo, hi);
        s.cpu_busy_pct = cut(&self.cpu_busy_pct, lo, hi);
        s.mem_total_bytes = self.mem_total_bytes.slice(lo, hi);
        s.mem_used_bytes = self.mem_used_bytes.slice(lo, hi);
        s.mem_available_bytes = self.mem_available_bytes.slice(lo, hi);
        s.swap_used_bytes = self.swap_used_bytes.slice(lo, hi);
        s.swap_total_bytes = self.swap_total_bytes.slice(lo, hi);
        for (d, c) in s.load.iter_mut().zip(&self.load) {
            *d = c.slice(lo, hi);
        }
        for (d, c) in s.pressure_pct.iter_mut().zip(&self.pressure_pct) {
            *d = c.slice(lo, hi);
        }
        s.pressure_present = self.pressure_present.slice(lo, hi);
        s.oom_kill_count = self.oom_kill_count.slice(lo, hi);
        s.boot_time = self.boot_time.slice(lo, hi);
        s.boot_id = self.boot_id.slice(lo, hi);
        s.boot_ids.clone_from(&self.boot_ids);
        s.utc_offset_secs = self.utc_offset_secs.slice(lo, hi);
        s.cores = self.cores.slice(lo, hi);
        s.busiest = self.busiest.slice(lo, hi);
        // The skipped parts that reach between the first and the last sample kept (gaps lie there).
        if let (Some(first), Some(last)) = (s.ts.first().copied(), s.ts.last().copied()) {
            s.unreadable = (self.unreadable.iter())
                .filter(|(start, end)| *start <= last && *end > first)
                .copied()
                .collect();
        }
        s.latency = self
            .latency
            .iter()
            .map(|(target, probes)| {
                let a = from.map_or(0, |f| probes.partition_point(|p| p.ts < f));
                let b = to.map_or(probes.len(), |t| probes.partition_point(|p| p.ts < t));
                (target.clone(), probes.slice(a, b))
            })
            .filter(|(_, kept)| !kept.is_empty())
            .collect();
        s
    }

    /// The bytes the columns and probe lists hold (capacity): what a range costs.
    pub fn heap_bytes(&self) -> usize {
        fn b<T>(v: &Vec<T>) -> usize {
            v.capacity() * std::mem::size_of::<T>()
        }
        b(&self.ts)
            + self.interval_us.heap_bytes()
            + b(&self.cpu_busy_pct)
            + self.mem_total_bytes.heap_bytes()
            + self.mem_used_bytes.heap_bytes()
            + self.mem_available_bytes.heap_bytes()
            + self.swap_used_bytes.heap_bytes()
            + self.swap_total_bytes.heap_bytes()
            + self.load.iter().map(Packed::heap_bytes).sum::<usize>()
            + self
                .pressure_pct
                .iter()
                .map(Packed::heap_bytes)
                .sum::<usize>()
            + self.pressure_present.heap_bytes()
            + self.oom_kill_count.heap_bytes()
            + self.boot_time.heap_bytes()
            + self.boot_id.heap_bytes()
            + self.utc_offset_secs.heap_bytes()
            + self.cores.heap_bytes()
            + self.busiest.heap_bytes()
            + self
                .latency
                .values()
                .map(ProbeList::heap_bytes)
                .sum::<usize>()
    }
}

/// The busiest process of a sample: the listed process with the most CPU of its own
/// ([`TopProcesses::busiest_process`]).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub struct BusiestProcess {
    /// The process id.
    pub pid: u32,
    /// When it started (with the pid, its identity).
    pub start_time: Timestamp,
    /// The process name.
    pub name: String,
}

impl BusiestProcess {
    /// Process `pid` started at `start_time`, named `name`.
    pub fn new(pid: u32, start_time: Timestamp, name: impl Into<String>) -> Self {
        BusiestProcess {
            pid,
            start_time,
            name: name.into(),
        }
    }
}

/// Who was busiest at a sample: the process with the most CPU of its own, and the busiest group of processes of
/// one name (either may be missing).
#[derive(Debug, Clone, PartialEq, Eq, Hash, Default)]
#[non_exhaustive]
pub struct Busiest {
    /// The listed process with the most CPU of its own.
    pub process: Option<BusiestProcess>,
    /// The name whose processes together used the most CPU, other than the busiest process's alone
    /// ([`Sample::busiest_group`]: its exited processes counted).
    pub group: Option<String>,
}

/// Per sample, the busiest process's and the busiest group's CPU and who they were, [`Packed`]: a few bytes a
/// sample (two CPU figures, mostly whole percents, and an index into the distinct [`Busiest`] pairs, which change
/// far less often than samples are taken).
#[derive(Debug, Clone, Default)]
pub struct BusiestColumns {
    /// The busiest process's own CPU, % of one core (`NaN`: no process listed).
    pub cpu_pct: Packed<f32>,
    /// The busiest group's summed CPU, % of one core (`NaN`: none).
    pub group_cpu_pct: Packed<f32>,
    /// Index into [`whos`](Self::whos) of each sample's pair.
    pub who: Packed<u32>,
    /// The distinct pairs, in order of first appearance.
    pub whos: Vec<Busiest>,
    /// The index in [`whos`](Self::whos) of each pair by its hash (a pair whose hash another pair has is found by
    /// a scan).
    index: HashMap<u64, u32, ahash::RandomState>,
    /// The hasher of the pairs (keyed at random: process names are chosen by whoever runs the processes).
    hasher: ahash::RandomState,
}

impl PartialEq for BusiestColumns {
    fn eq(&self, o: &Self) -> bool {
        self.cpu_pct == o.cpu_pct
            && self.group_cpu_pct == o.group_cpu_pct
            && self.who.len() == o.who.len()
            && (0..self.who.len()).all(|i| self.get(i) == o.get(i))
    }
}

impl BusiestColumns {
    /// Appends the busiest process and group of a sample's top lists (exited processes not counted: for a
    /// recording without exits).
    pub fn push_top(&mut self, top: &TopProcesses) {
        let p = top
            .busiest_process()
            .map(|p| (p.cpu_pct, p.pid, p.start_time, p.name.as_str()));
        let n = top.busiest_group().map(|n| (n.cpu_pct, n.name.as_str()));
        self.push(p, n);
    }

    /// Appends a sample's busiest process and [busiest group](Sample::busiest_group) (its exited processes
    /// counted).
    pub fn push_sample(&mut self, s: &Sample) {
        let p = s
            .top
            .busiest_process()
            .map(|p| (p.cpu_pct, p.pid, p.start_time, p.name.as_str()));
        let n = s.busiest_group().map(|(name, cpu)| (cpu, name));
        self.push(p, n);
    }

    /// Appends one sample's busiest process (CPU, pid, start time, name) and busiest group (CPU, name), for a
    /// reader that fills the columns itself.
    pub fn push(
        &mut self,
        process: Option<(f32, u32, Timestamp, &str)>,
        group: Option<(f32, &str)>,
    ) {
        self.cpu_pct.push(process.map_or(f32::NAN, |p| p.0));
        self.group_cpu_pct.push(group.map_or(f32::NAN, |n| n.0));
        // The busiest is mostly the one of the sample before.
        let last = self.who.last();
        let k = self.intern(last, process.map(|p| (p.1, p.2, p.3)), group.map(|n| n.1));
        self.who.push(k);
    }

    /// The index in [`whos`](Self::whos) of the pair of `process` (pid, start time, name) and `group` (its name),
    /// added if new: for a reader that fills [`who`](Self::who) itself, a block of samples at a time. `recent`, an
    /// index the pair is likely to have (the sample before's), is tried first.
    pub fn intern(
        &mut self,
        recent: Option<u32>,
        process: Option<(u32, Timestamp, &str)>,
        group: Option<&str>,
    ) -> u32 {
        let same = |b: &Busiest| {
            b.process
                .as_ref()
                .map(|p| (p.pid, p.start_time, p.name.as_str()))
                == process
                && b.group.as_deref() == group
        };
        if let Some(k) = recent
            && self.whos.get(k as usize).is_some_and(same)
        {
            return k;
        }
        let hash = self.hasher.hash_one((process, group));
        if let Some(&k) = self.index.get(&hash) {
            if self.whos.get(k as usize).is_some_and(same) {
                return k;
            }
            // Another pair of the same hash: a scan finds this one (never in practice: 64-bit hashes).
            if let Some(k) = self.whos.iter().position(same) {
                return u32::try_from(k).unwrap_or(u32::MAX);
            }
        }
        let k = u32::try_from(self.whos.len()).unwrap_or(u32::MAX);
        self.whos.push(Busiest {
            process: process.map(|p| BusiestProcess::new(p.0, p.1, p.2)),
            group: group.map(str::to_owned),
        });
        self.index.entry(hash).or_insert(k);
        k
    }

    /// Samples `lo..hi` (clipped to the samples there are).
    pub fn slice(&self, lo: usize, hi: usize) -> BusiestColumns {
        let hi = hi.min(self.len());
        let lo = lo.min(hi);
        BusiestColumns {
            cpu_pct: self.cpu_pct.slice(lo, hi),
            group_cpu_pct: self.group_cpu_pct.slice(lo, hi),
            who: self.who.slice(lo, hi),
            whos: self.whos.clone(),
            index: self.index.clone(),
            hasher: self.hasher.clone(),
        }
    }

    /// Sample `i`'s pair.
    pub fn get(&self, i: usize) -> &Busiest {
        static NONE: Busiest = Busiest {
            process: None,
            group: None,
        };
        (i < self.who.len())
            .then(|| self.who.get(i))
            .and_then(|k| self.whos.get(k as usize))
            .unwrap_or(&NONE)
    }

    /// The number of samples.
    pub fn len(&self) -> usize {
        self.who.len()
    }

    /// Whether there are no samples.
    pub fn is_empty(&self) -> bool {
        self.who.is_empty()
    }

    /// The bytes the columns and the distinct pairs hold.
    pub fn heap_bytes(&self) -> usize {
        let strings: usize = self
            .whos
            .iter()
            .map(|b| {
                b.process.as_ref().map_or(0, |p| p.name.capacity())
                    + b.group.as_ref().map_or(0, String::capacity)
            })
            .sum();
        self.cpu_pct.heap_bytes()
            + self.group_cpu_pct.heap_bytes()
            + self.who.heap_bytes()
            + self.whos.capacity() * std::mem::size_of::<Busiest>()
            + self.index.capacity() * (std::mem::size_of::<u64>() + 4)
            + strings
    }
}

/// The samples a chart shows on hover, as a page picks them: of each pixel column, the sample with the highest
/// machine CPU busy % ([`SystemSeries::cpu_busy_pct`]), the first of equals.
///
/// A store reader that decodes whole row groups to read a series (files of older schemas) can build those samples
/// from what it decoded, instead of decoding the row groups again when the page asks for them: see
/// `stabmon_store::StoreReader::system_series_with_moments`.
pub trait MomentColumns: Sync {
    /// The pixel column of a sample at `ts`.
    fn column(&self, ts: Timestamp) -> i64;
    /// The parts of each sample the page reads.
    fn parts(&self) -> SampleParts;
}

/// Of items given in time order as (pixel column, machine CPU busy %), the index of the busiest of each run of one
/// column, the first of equals: how [`MomentColumns`] picks a page's hover moments. A value replaces the one
/// picked only where it is greater (a `NaN` never is, nor is a value greater than a `NaN` picked first).
pub fn busiest_of_each_column(items: impl IntoIterator<Item = (i64, f32)>) -> Vec<usize> {
    let mut picked = Vec::new();
    // The current column, and its busiest item so far with its value.
    let mut current: Option<(i64, usize, f32)> = None;
    for (i, (col, busy)) in items.into_iter().enumerate() {
        match &mut current {
            Some((c, best, value)) if *c == col => {
                if busy > *value {
                    (*best, *value) = (i, busy);
                }
            }
            _ => {
                picked.extend(current.map(|(_, best, _)| best));
                current = Some((col, i, busy));
            }
        }
    }
    picked.extend(current.map(|(_, best, _)| best));
    picked
}

/// Whole samples, with their process lists, for a window: what analysis reads where it names a culprit.
///
/// A store reader implements it by reading only that window; a slice of samples in memory implements it too. A
/// caller that needs only some parts of each sample asks for them ([`SampleParts`],
/// [`samples_between_parts`](Self::samples_between_parts)), which a store reader maps to the tables and columns it
/// decodes.
pub trait WindowSource {
    /// The samples with `from <= ts <= to`, sorted by time.
    fn samples_between(&self, from: Timestamp, to: Timestamp) -> Result<Vec<Sample>, crate::Error>;

    /// The samples taken exactly at `instants` (sorted), sorted by time; an instant without a sample is left out.
    ///
    /// By default one [`samples_between`](Self::samples_between) per run of instants less than a minute apart; a
    /// store reader reads each file once instead.
    fn samples_at(&self, instants: &[Timestamp]) -> Result<Vec<Sample>, crate::Error> {
        let mut out: Vec<Sample> = Vec::new();
        let mut k = 0;
        while k < instants.len() {
            let from = instants[k];
            let mut to = from;
            while k < instants.len()
                && instants[k]
                    .duration_since(from)
                    .is_some_and(|d| d.as_secs() < 60)
            {
                to = instants[k];
                k += 1;
            }
            let mut got = self.samples_between(from, to)?;
            got.retain(|s| instants.binary_search(&s.ts).is_ok());
            out.extend(got);
        }
        Ok(out)
    }

    /// [`samples_between`](Self::samples_between), keeping of each sample only `parts`: a caller that reads a
    /// few fields of many samples (a culprit's window, a page's hover data) then never holds, nor has a store
    /// decode, the rest.
    ///
    /// By default the whole samples are read, then [trimmed](SampleParts::trim); a store reader decodes only the
    /// tables and columns that hold `parts`. Either way the samples are the same.
    fn samples_between_parts(
        &self,
        from: Timestamp,
        to: Timestamp,
        parts: SampleParts,
    ) -> Result<Vec<Sample>, crate::Error> {
        let mut samples = self.samples_between(from, to)?;
        samples.iter_mut().for_each(|s| parts.trim(s));
        Ok(samples)
    }

    /// [`samples_at`](Self::samples_at), keeping of each sample only `parts` (see
    /// [`samples_between_parts`](Self::samples_between_parts)).
    fn samples_at_parts(
        &self,
        instants: &[Timestamp],
        parts: SampleParts,
    ) -> Result<Vec<Sample>, crate::Error> {
        let mut samples = self.samples_at(instants)?;
        samples.iter_mut().for_each(|s| parts.trim(s));
        Ok(samples)
    }

    /// This source as one that several threads may read at once, where it is [`Sync`]: analysis then reads its
    /// windows on two threads ([`detect_incidents_in`](crate::analysis::detect_incidents_in)). By default `None`:
    /// every read is made on the calling thread. A `Sync` source returns `Some(self)`.
    fn shared(&self) -> Option<&(dyn WindowSource + Sync)> {
        None
    }
}

impl WindowSource for [Sample] {
    fn samples_between(&self, from: Timestamp, to: Timestamp) -> Result<Vec<Sample>, crate::Error> {
        let lo = self.partition_point(|s| s.ts < from);
        let hi = self.partition_point(|s| s.ts <= to);
        Ok(self[lo..hi.max(lo)].to_vec())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::CpuUsage;

    /// The busiest of each run of one column, the first of equals; a `NaN` is never picked over a value, nor a value
    /// over a `NaN` picked first.
    #[test]
    fn busiest_of_each_column_takes_the_first_of_the_highest_in_each_run() {
        let items = [
            (0, 1.0),
            (0, 3.0),
            (0, 3.0),
            (1, 2.0),
            (1, f32::NAN),
            (1, 5.0),
            (2, f32::NAN),
            (2, 9.0),
            (5, 0.0),
        ];
        assert_eq!(busiest_of_each_column(items), [1, 5, 6, 8]);
        assert!(busiest_of_each_column([]).is_empty());
    }

    #[test]
    fn columns_give_back_what_was_pushed() {
        let t0 = Timestamp::from_unix_secs(1_795_576_320);
        let mut samples = Vec::new();
        for i in 0..4u64 {
            let mut s = Sample::new(t0.saturating_add(Duration::from_secs(i)), "h");
            s.cpu = CpuUsage::new(i as f32);
            s.interval = Duration::from_secs(1);
            s.boot_id = Some(if i < 2 { "a" } else { "b" }.into());
            s.load = (i % 2 == 0).then(|| LoadAvg::new(1.0, 2.0, 3.0));
            s.pressure = (i == 3).then(|| Pressure {
                io_full_pct: Some(7.5),
                ..Pressure::default()
            });
            s.memory = Memory::new(1000, 400 - i * 10);
            samples.push(s);
        }
        let series = SystemSeries::from_samples(&samples);
        assert_eq!(series.host, "h");
        assert_eq!(series.len(), 4);
        assert_eq!(series.boot_ids.len(), 2);
        for (i, s) in samples.iter().enumerate() {
            assert_eq!(series.ts[i], s.ts);
            assert_eq!(series.interval(i), s.interval);
            assert_eq!(series.boot_id(i), s.boot_id.as_deref());
            assert_eq!(series.load(i), s.load);
            assert_eq!(series.pressure(i), s.pressure);
            assert_eq!(series.mem_used_bytes.get(i), s.memory.used_bytes);
        }
        assert_eq!(
            series.index_at(t0.saturating_add(Duration::from_millis(1500))),
            2
        );
        let window = samples[..]
            .samples_between(samples[1].ts, samples[2].ts)
            .unwrap_or_default();
        assert_eq!(window, samples[1..3].to_vec());
        let at = samples[..]
            .samples_at(&[
                samples[0].ts,
                samples[0].ts.saturating_add(Duration::from_millis(1)),
                samples[3].ts,
            ])
            .unwrap_or_default();
        assert_eq!(at, vec![samples[0].clone(), samples[3].clone()]);

        // Probes go to their target's list in start order; a slow one arriving with a later sample is put back
        // in its place, and probes that started together keep their arrival order.
        let mut series = SystemSeries::new("h");
        let t = |s: u64| t0.saturating_add(Duration::from_secs(s));
        let mut a = Sample::new(t(2), "h");
        a.latency.push(LatencyProbe::ok("gw", t(1), 1.5));
        a.latency.push(LatencyProbe::ok("web", t(1), 20.0));
        let mut b = Sample::new(t(3), "h");
        b.latency.push(LatencyProbe::ok("gw", t(2), 1.25));
        b.latency
            .push(LatencyProbe::new("gw", t(0), crate::ProbeOutcome::Timeout));
        b.latency.push(LatencyProbe::ok("gw", t(2), 1.75));
        series.push(&a);
        series.push(&b);
        let gw: Vec<(u64, Option<f64>)> = series.latency["gw"]
            .iter()
            .map(|p| {
                (
                    p.ts.as_unix_secs() as u64 - t0.as_unix_secs() as u64,
                    p.round_trip_ms(),
                )
            })
            .collect();
        assert_eq!(
            gw,
            [(0, None), (1, Some(1.5)), (2, Some(1.25)), (2, Some(1.75))]
        );
        assert_eq!(series.latency["web"].len(), 1);
    }

    #[test]
    fn busiest_pairs_are_kept_once_and_given_back_per_sample() {
        // Pairs that come back after others, differ in one field only, or have a part missing.
        let t = |s: i64| Timestamp::from_unix_secs(1_795_576_320 + s);
        type Pair<'a> = (Option<(u32, Timestamp, &'a str)>, Option<&'a str>);
        let pairs: Vec<Pair<'_>> = vec![
            (Some((1, t(0), "a")), Some("g")),
            (Some((1, t(0), "a")), Some("g")),
            (Some((1, t(1), "a")), Some("g")),
            (Some((2, t(0), "a")), Some("g")),
            (Some((1, t(0), "b")), Some("g")),
            (Some((1, t(0), "a")), None),
            (None, Some("g")),
            (None, None),
            (Some((1, t(0), "a")), Some("g")),
            (None, Some("h")),
            (None, None),
        ];
        let mut cols = BusiestColumns::default();
        for (i, (p, g)) in pairs.iter().enumerate() {
            cols.push(p.map(|p| (i as f32, p.0, p.1, p.2)), g.map(|g| (0.5, g)));
        }
        assert_eq!(cols.len(), pairs.len());
        assert_eq!(cols.whos.len(), 8);
        for (i, (p, g)) in pairs.iter().enumerate() {
            let b = cols.get(i);
            let got = b
                .process
                .as_ref()
                .map(|p| (p.pid, p.start_time, p.name.as_str()));
            assert_eq!((got, b.group.as_deref()), (*p, *g), "sample {i}");
            assert_eq!(cols.cpu_pct.get(i).is_nan(), p.is_none());
        }
        // The index of a pair seen before, whatever the hint.
        assert_eq!(cols.intern(Some(5), Some((2, t(0), "a")), Some("g")), 2);
        assert_eq!(cols.intern(None, None, None), 6);
        assert_eq!(cols.intern(Some(99), None, Some("new")), 8);
        assert_eq!(cols.whos.len(), 9);
    }
}
