//! Exits between two samples: the [`ExitAggregator`] folds the kernel's exit records into a sample's
//! [`Exits`], in bounded memory whatever the rate.
//!
//! A fork storm can end thousands of processes a second. What a sample keeps of them is bounded:
//!
//! - every exit is counted ([`Exits::count`]);
//! - totals per name (count, CPU time, largest peak resident memory) for at most [`MAX_EXIT_NAMES`] names, the
//!   busiest by CPU time; between two samples at most [`MAX_PENDING_NAMES`] distinct names are summed, exits of
//!   further names are only counted;
//! - the details of at most [`MAX_EXIT_DETAILS`] exits: processes the previous sample listed (so a listed process
//!   that ends gets its exit code or signal), then the busiest by CPU time.
//!
//! # CPU time within the interval
//!
//! A name's [`cpu_time`](crate::ExitedName::cpu_time) is what its exited processes used within the interval, so
//! that it adds up with the live processes' CPU of the same sample: all of it for a process that started within
//! the interval (a short-lived worker), and for an older process the share of its life that fell within the
//! interval (its CPU over the interval is not known from its exit record alone; the live process was measured by
//! the samples before). A detail's [`cpu_time`](crate::ExitedProcess::cpu_time) is the whole life's.
//!
//! ```
//! use std::time::Duration;
//! use stabmon_core::exits::ExitAggregator;
//! use stabmon_core::{ExitedProcess, Timestamp};
//!
//! let t0 = Timestamp::from_unix_micros(1_000_000_000);
//! let mut agg = ExitAggregator::new(t0);
//! for pid in 100..110 {
//!     let mut p = ExitedProcess::new(pid, "php-cgi");
//!     p.start_time = t0.saturating_add(Duration::from_millis(100));
//!     p.end_time = t0.saturating_add(Duration::from_millis(400));
//!     p.cpu_time = Duration::from_millis(250);
//!     agg.push(p);
//! }
//! let exits = agg.take(t0.saturating_add(Duration::from_secs(1)));
//! assert_eq!(exits.count, 10);
//! assert_eq!(exits.names[0].name, "php-cgi");
//! assert_eq!(exits.names[0].cpu_time, Duration::from_millis(2500));
//! ```

use std::collections::HashSet;
use std::time::Duration;

use ahash::AHashMap;

use crate::sample::{ExitedName, ExitedProcess, Exits};
use crate::time::Timestamp;

/// The most names a sample's [`Exits::names`] keeps: the busiest by CPU time.
pub const MAX_EXIT_NAMES: usize = 32;
/// The most exits a sample's [`Exits::processes`] details.
pub const MAX_EXIT_DETAILS: usize = 16;
/// The most distinct names summed between two samples; exits of further names are only counted.
pub const MAX_PENDING_NAMES: usize = 4096;

/// Folds exit records into the [`Exits`] of one interval at a time, in bounded memory (see the
/// [module docs](self)).
#[derive(Debug, Clone)]
pub struct ExitAggregator {
    since: Timestamp,
    count: u32,
    dropped: u32,
    names: AHashMap<String, ExitedName>,
    /// Details of watched processes (listed by the previous sample), at most [`MAX_EXIT_DETAILS`].
    watched_details: Vec<ExitedProcess>,
    /// Details of the busiest other exits, at most [`MAX_EXIT_DETAILS`].
    busiest: Vec<ExitedProcess>,
    watched: HashSet<u32>,
}

impl ExitAggregator {
    /// An aggregator whose first interval starts at `since`.
    pub fn new(since: Timestamp) -> Self {
        ExitAggregator {
            since,
            count: 0,
            dropped: 0,
            names: AHashMap::new(),
            watched_details: Vec::new(),
            busiest: Vec::new(),
            watched: HashSet::new(),
        }
    }

    /// The processes whose exits are detailed first (those the latest sample listed); replaces the previous set.
    pub fn watch(&mut self, pids: impl IntoIterator<Item = u32>) {
        self.watched.clear();
        self.watched.extend(pids);
    }

    /// Counts `times` the kernel dropped records (each time at least one exit is lost).
    pub fn record_dropped(&mut self, times: u32) {
        self.dropped = self.dropped.saturating_add(times);
    }

    /// Adds one exit.
    pub fn push(&mut self, p: ExitedProcess) {
        self.count = self.count.saturating_add(1);
        let cpu = self.cpu_within(&p);
        if let Some(n) = self.names.get_mut(p.name.as_str()) {
            n.count = n.count.saturating_add(1);
            n.cpu_time = n.cpu_time.saturating_add(cpu);
            n.peak_rss_bytes = n.peak_rss_bytes.max(p.peak_rss_bytes);
        } else if self.names.len() < MAX_PENDING_NAMES {
            let mut n = ExitedName::new(p.name.clone());
            n.count = 1;
            n.cpu_time = cpu;
            n.peak_rss_bytes = p.peak_rss_bytes;
            self.names.insert(p.name.clone(), n);
        }
        if self.watched.contains(&p.pid) && p.start_time < self.since {
            if self.watched_details.len() < MAX_EXIT_DETAILS {
                self.watched_details.push(p);
            }
            return;
        }
        if self.busiest.len() < MAX_EXIT_DETAILS {
            self.busiest.push(p);
        } else if let Some((i, least)) = self
            .busiest
            .iter()
            .enumerate()
            .min_by_key(|(_, q)| q.cpu_time)
            && p.cpu_time > least.cpu_time
        {
            self.busiest[i] = p;
        }
    }

    /// The CPU time of `p` that falls within the current interval (see the [module docs](self)).
    fn cpu_within(&self, p: &ExitedProcess) -> Duration {
        if p.start_time >= self.since {
            return p.cpu_time;
        }
        let life = p.end_time.duration_since(p.start_time).unwrap_or_default();
        let inside = p.end_time.duration_since(self.since).unwrap_or_default();
        if life.is_zero() || inside >= life {
            return p.cpu_time;
        }
        let share = inside.as_secs_f64() / life.as_secs_f64();
        Duration::from_micros((p.cpu_time.as_micros() as f64 * share).round() as u64)
    }

    /// The exits since the previous call (or since [`new`](Self::new)), and the start of the next interval at
    /// `now`.
    pub fn take(&mut self, now: Timestamp) -> Exits {
        let mut names: Vec<ExitedName> = self.names.drain().map(|(_, n)| n).collect();
        names.sort_unstable_by(|a, b| {
            b.cpu_time
                .cmp(&a.cpu_time)
                .then_with(|| a.name.cmp(&b.name))
        });
        names.truncate(MAX_EXIT_NAMES);
        // The busiest first among the others, ties to the earliest end.
        let mut busiest = std::mem::take(&mut self.busiest);
        busiest.sort_by(|a, b| {
            b.cpu_time
                .cmp(&a.cpu_time)
                .then(a.end_time.cmp(&b.end_time))
                .then(a.pid.cmp(&b.pid))
        });
        let mut processes = std::mem::take(&mut self.watched_details);
        processes.extend(busiest);
        processes.truncate(MAX_EXIT_DETAILS);
        let exits = Exits {
            count: self.count,
            dropped: self.dropped,
            names,
            processes,
        };
        self.count = 0;
        self.dropped = 0;
        self.since = now;
        exits
    }
}

#[cfg(test)]
#[allow(clippy::expect_used)]
mod tests {
    use super::*;

    fn at(ms: u64) -> Timestamp {
        Timestamp::from_unix_micros(1_800_000_000_000_000).saturating_add(Duration::from_millis(ms))
    }

    fn exit(pid: u32, name: &str, start_ms: u64, end_ms: u64, cpu_us: u64) -> ExitedProcess {
        let mut p = ExitedProcess::new(pid, name);
        p.start_time = at(start_ms);
        p.end_time = at(end_ms);
        p.cpu_time = Duration::from_micros(cpu_us);
        p.peak_rss_bytes = u64::from(pid) * 1024;
        p
    }

    /// A second at 50,000 exits (more than 2 cores can fork): every exit is counted, every name's CPU summed
    /// exactly, and what is kept stays within its bounds, with the busiest exits detailed.
    #[test]
    fn fifty_thousand_exits_a_second_fold_into_bounded_totals() {
        let mut agg = ExitAggregator::new(at(0));
        let mut expect: AHashMap<String, (u32, u64)> = AHashMap::new();
        for i in 0..50_000u32 {
            // Three busy names, and a long tail of 10,000 one-off names (more than are summed).
            let name = match i % 5 {
                0 | 1 => "php-cgi".to_owned(),
                2 => "sh".to_owned(),
                3 => "curl".to_owned(),
                _ => format!("tail-{i}"),
            };
            let cpu = u64::from(i % 97) * 10 + 1;
            let e = expect.entry(name.clone()).or_default();
            e.0 += 1;
            e.1 += cpu;
            let start = u64::from(i) / 50;
            agg.push(exit(100_000 + i, &name, start, start + 5, cpu));
        }
        // One exceptional worker, whose details must be kept.
        agg.push(exit(7, "php-cgi", 10, 900, 800_000));
        agg.record_dropped(3);
        let exits = agg.take(at(1000));
        assert_eq!(exits.count, 50_001);
        assert_eq!(exits.dropped, 3);
        assert_eq!(exits.names.len(), MAX_EXIT_NAMES);
        let php = &exits.names[0];
        assert_eq!(php.name, "php-cgi");
        assert_eq!(php.count, expect["php-cgi"].0 + 1);
        assert_eq!(
            php.cpu_time,
            Duration::from_micros(expect["php-cgi"].1 + 800_000)
        );
        for n in &exits.names {
            let (count, cpu) = expect.get(&n.name).copied().unwrap_or((1, 0));
            if n.name != "php-cgi" {
                assert_eq!((n.count, n.cpu_time), (count, Duration::from_micros(cpu)));
            }
        }
        assert_eq!(exits.processes.len(), MAX_EXIT_DETAILS);
        assert_eq!(
            (exits.processes[0].pid, exits.processes[0].cpu_time),
            (7, Duration::from_millis(800))
        );
        assert!(
            exits.processes[1..]
                .iter()
                .all(|p| p.cpu_time == Duration::from_micros(961))
        );
        // The next interval starts empty.
        let next = agg.take(at(2000));
        assert_eq!(
            (next.count, next.names.len(), next.processes.len()),
            (0, 0, 0)
        );
    }

    /// A process the previous sample listed is detailed even when busier exits fill the details.
    #[test]
    fn a_listed_process_that_exits_is_detailed() {
        let mut agg = ExitAggregator::new(at(1000));
        agg.watch([42]);
        agg.push(exit(42, "java", 0, 1500, 10));
        for pid in 0..100 {
            agg.push(exit(1000 + pid, "make", 1100, 1200, 50_000));
        }
        let exits = agg.take(at(2000));
        assert_eq!(exits.processes[0].pid, 42);
        assert_eq!(exits.processes.len(), MAX_EXIT_DETAILS);
        // Its CPU within the interval is the share of its life inside it: a third.
        let java = exits.names.iter().find(|n| n.name == "java").expect("java");
        assert_eq!(java.cpu_time, Duration::from_micros(3));
    }

    /// A pid that was listed but came back as a new process within the interval is not the listed one.
    #[test]
    fn a_reused_pid_is_not_the_listed_process() {
        let mut agg = ExitAggregator::new(at(1000));
        agg.watch([42]);
        agg.push(exit(42, "sh", 1100, 1200, 5));
        agg.push(exit(43, "sh", 1100, 1200, 9));
        let exits = agg.take(at(2000));
        assert_eq!(exits.processes[0].pid, 43);
    }
}
