//! Usage per systemd unit or container over a range: `stabmon top --by unit`.

use std::collections::HashMap;

use crate::sample::Sample;

/// What the listed processes of one unit used over a range (see [`UnitUsageAcc`]).
#[derive(Debug, Clone, PartialEq, Default)]
#[non_exhaustive]
pub struct UnitUsage {
    /// The systemd unit or container ([`ProcessEntry::unit`](crate::ProcessEntry::unit)); where none is
    /// recognisable, the cgroup path itself; `None` for processes whose cgroup is not known (not Linux, or data
    /// recorded before cgroups were).
    pub unit: Option<String>,
    /// CPU seconds of its listed processes (their own CPU over each sample's interval): a lower bound, as only
    /// the processes in a sample's top lists are recorded.
    pub cpu_seconds: f64,
    /// The most resident memory its listed processes held together in one sample.
    pub peak_rss_bytes: u64,
    /// The most of its processes listed in one sample.
    pub max_process_count: u32,
    /// The samples where at least one of its processes was listed.
    pub samples_listed: u64,
    /// Its process names with their CPU seconds, most first.
    pub names: Vec<(String, f64)>,
}

/// Adds up samples per unit, one sample at a time, so that a month streams through in bounded memory.
///
/// ```
/// use stabmon_core::analysis::UnitUsageAcc;
/// use stabmon_core::{ProcessEntry, Sample, Timestamp};
///
/// let mut s = Sample::new(Timestamp::from_unix_secs(0), "h");
/// s.interval = std::time::Duration::from_secs(10);
/// let mut p = ProcessEntry::new(812, "java");
/// p.cpu_pct = 50.0;
/// p.cgroup = Some("/system.slice/app.service".into());
/// s.top.processes.push(p);
/// let mut acc = UnitUsageAcc::default();
/// acc.push(&s);
/// let units = acc.finish();
/// assert_eq!(units[0].unit.as_deref(), Some("app.service"));
/// assert_eq!(units[0].cpu_seconds, 5.0);
/// ```
#[derive(Debug, Default)]
pub struct UnitUsageAcc {
    units: HashMap<Option<String>, Entry>,
    /// The unit of each cgroup path met (parsed once).
    unit_of: HashMap<String, Option<String>>,
}

#[derive(Debug, Default)]
struct Entry {
    cpu_seconds: f64,
    peak_rss_bytes: u64,
    max_process_count: u32,
    samples_listed: u64,
    names: HashMap<String, f64>,
}

impl UnitUsageAcc {
    /// Adds one sample's listed processes.
    pub fn push(&mut self, s: &Sample) {
        let secs = s.interval.as_secs_f64();
        let mut here: HashMap<Option<String>, (u64, u32)> = HashMap::new();
        for p in &s.top.processes {
            let key = p.cgroup.as_ref().map(|cg| {
                self.unit_of
                    .entry(cg.clone())
                    .or_insert_with(|| crate::cgroup::unit_of(cg))
                    .clone()
                    .unwrap_or_else(|| cg.clone())
            });
            let cpu = if p.cpu_pct.is_finite() {
                f64::from(p.cpu_pct) / 100.0 * secs
            } else {
                0.0
            };
            let e = self.units.entry(key.clone()).or_default();
            e.cpu_seconds += cpu;
            *e.names.entry(p.name.clone()).or_default() += cpu;
            let h = here.entry(key).or_default();
            h.0 = h.0.saturating_add(p.rss_bytes);
            h.1 += 1;
        }
        for (key, (rss, count)) in here {
            let e = self.units.entry(key).or_default();
            e.peak_rss_bytes = e.peak_rss_bytes.max(rss);
            e.max_process_count = e.max_process_count.max(count);
            e.samples_listed += 1;
        }
    }

    /// The units, most CPU seconds first (ties: most peak memory, then by name).
    pub fn finish(self) -> Vec<UnitUsage> {
        let mut out: Vec<UnitUsage> = self
            .units
            .into_iter()
            .map(|(unit, e)| {
                let mut names: Vec<(String, f64)> = e.names.into_iter().collect();
                names.sort_by(|a, b| b.1.total_cmp(&a.1).then_with(|| a.0.cmp(&b.0)));
                UnitUsage {
                    unit,
                    cpu_seconds: e.cpu_seconds,
                    peak_rss_bytes: e.peak_rss_bytes,
                    max_process_count: e.max_process_count,
                    samples_listed: e.samples_listed,
                    names,
                }
            })
            .collect();
        out.sort_by(|a, b| {
            b.cpu_seconds
                .total_cmp(&a.cpu_seconds)
                .then(b.peak_rss_bytes.cmp(&a.peak_rss_bytes))
                .then_with(|| a.unit.cmp(&b.unit))
        });
        out
    }
}

/// Ranks units by peak resident memory (then CPU seconds), for `--by unit` with memory first.
pub fn rank_units_by_memory(units: &mut [UnitUsage]) {
    units.sort_by(|a, b| {
        b.peak_rss_bytes
            .cmp(&a.peak_rss_bytes)
            .then(b.cpu_seconds.total_cmp(&a.cpu_seconds))
            .then_with(|| a.unit.cmp(&b.unit))
    });
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use std::time::Duration;

    use super::*;
    use crate::{ProcessEntry, Timestamp};

    fn proc(pid: u32, name: &str, cpu: f32, rss: u64, cgroup: Option<&str>) -> ProcessEntry {
        let mut p = ProcessEntry::new(pid, name);
        p.cpu_pct = cpu;
        p.rss_bytes = rss;
        p.cgroup = cgroup.map(str::to_owned);
        p
    }

    #[test]
    fn units_containers_bare_cgroups_and_unknown_are_told_apart() {
        let docker = format!("/system.slice/docker-{}.scope", "ab".repeat(32));
        let mut acc = UnitUsageAcc::default();
        for i in 0..4u64 {
            let mut s = Sample::new(Timestamp::from_unix_secs(i as i64), "h");
            s.interval = Duration::from_secs(1);
            s.top.processes = vec![
                proc(1, "php-fpm", 40.0, 100, Some("/system.slice/php.service")),
                proc(2, "php-fpm", 60.0, 200, Some("/system.slice/php.service")),
                proc(3, "java", 150.0, 5000, Some(&docker)),
                proc(4, "job", 10.0, 10, Some("/process_api/42")),
                proc(5, "old", 5.0, 1, None),
            ];
            if i == 3 {
                s.top.processes.pop();
            }
            acc.push(&s);
        }
        let u = acc.finish();
        let keys: Vec<Option<&str>> = u.iter().map(|u| u.unit.as_deref()).collect();
        assert_eq!(
            keys,
            [
                Some("docker:abababababab"),
                Some("php.service"),
                Some("/process_api/42"),
                None
            ]
        );
        assert!((u[0].cpu_seconds - 6.0).abs() < 1e-9);
        assert!((u[1].cpu_seconds - 4.0).abs() < 1e-9);
        assert_eq!((u[1].peak_rss_bytes, u[1].max_process_count), (300, 2));
        assert_eq!(u[1].names, [("php-fpm".to_owned(), 4.0)]);
        assert_eq!(u[3].samples_listed, 3);
        let mut by_mem = u.clone();
        rank_units_by_memory(&mut by_mem);
        assert_eq!(by_mem[1].unit.as_deref(), Some("php.service"));
    }
}
