//! Culprit lines: a line per culprit process name on the CPU and memory charts.

use super::*;

fn name_cpu(s: &Sample, name: &str) -> f64 {
    s.top
        .names
        .iter()
        .find(|n| n.name == name)
        .map_or(0.0, |n| f64::from(n.cpu_pct))
}

fn name_rss(s: &Sample, name: &str) -> Option<f64> {
    s.top
        .names
        .iter()
        .find(|n| n.name == name)
        .map(|n| n.rss_bytes as f64 / GB)
}

/// Samples of one incident window read at full resolution for the culprit lines; a longer window is read at this
/// many evenly spaced samples.
const LINE_WINDOW_SAMPLES: usize = 3600;

/// The culprit lines' values: the instants they are drawn through and each line's value there.
pub(super) struct Lines {
    /// The instants, sorted.
    pub(super) ts: Vec<Timestamp>,
    /// Per instant, per line (the CPU lines, then the memory lines): the value.
    pub(super) values: Vec<Vec<Option<f64>>>,
    /// Where the lines break (indices into `idx`): a recording break lies between two instants.
    pub(super) breaks: Vec<usize>,
}

/// Each culprit line's value at a sample: the CPU lines (% of all cores), then the memory lines (GB).
type Values = Vec<Option<f64>>;

/// The culprit lines' names: (CPU, memory).
pub(super) type Names = (Vec<String>, Vec<String>);

/// The culprit lines' values at the samples of the CPU and memory incidents' windows, by series index.
pub(super) struct WindowValues(BTreeMap<usize, Values>);

/// The values of `names`'s lines in `s`, keyed by its series index (`None` for a sample the series does not hold).
fn values_of(
    series: &SystemSeries,
    s: &Sample,
    (cpu_names, mem_names): (&[String], &[String]),
    cores: f64,
) -> Option<(usize, Values)> {
    let k = series.index_at(s.ts);
    if series.ts.get(k) != Some(&s.ts) {
        return None;
    }
    let v = cpu_names
        .iter()
        .map(|name| Some((name_cpu(s, name) / cores).min(100.0)))
        .chain(mem_names.iter().map(|name| name_rss(s, name)))
        .collect();
    Some((k, v))
}

/// Reads the samples of the CPU and memory incidents' windows (evenly spaced beyond [`LINE_WINDOW_SAMPLES`] a
/// window) for the lines of `names`: from `source`, or those handed over by the model before; the first model keeps
/// them for the next (see [`Handover`]). Nothing is read without a line.
pub(super) fn window_values(
    series: &SystemSeries,
    source: &dyn WindowSource,
    incidents: &[Incident],
    (cpu_names, mem_names): (&[String], &[String]),
    cores: usize,
    handover: Option<(&std::cell::RefCell<Handover>, bool)>,
) -> Result<WindowValues, Error> {
    let mut by_idx: BTreeMap<usize, Values> = BTreeMap::new();
    // The windows' samples handed over by the model before, or to keep for the next (`true`).
    let keep = handover.is_some_and(|(_, first)| first);
    let given = handover
        .filter(|_| !keep)
        .and_then(|(h, _)| h.borrow_mut().lines.take());
    if (cpu_names.is_empty() && mem_names.is_empty()) || series.is_empty() {
        return Ok(WindowValues(by_idx));
    }
    let mut kept: Vec<Sample> = Vec::new();
    // The CPU and memory incidents' windows, merged where they overlap.
    let mut windows: Vec<(usize, usize)> = incidents
        .iter()
        .filter(|i| {
            matches!(
                i.kind,
                IncidentKind::CpuSurge
                    | IncidentKind::Runaway
                    | IncidentKind::MemoryClimb
                    | IncidentKind::SwapGrowth
                    | IncidentKind::OomKill
            )
        })
        .filter_map(|i| {
            let lo = series.index_at(i.start.min(i.end));
            let hi = series.ts.partition_point(|t| *t <= i.end.max(i.start));
            (lo < hi).then(|| (lo, hi - 1))
        })
        .collect();
    windows.sort_unstable();
    let mut merged: Vec<(usize, usize)> = Vec::new();
    for (lo, hi) in windows {
        match merged.last_mut() {
            Some(last) if lo <= last.1 + 1 => last.1 = last.1.max(hi),
            _ => merged.push((lo, hi)),
        }
    }
    let given = given.as_deref().map(crate::Dyn);
    let source: &dyn WindowSource = match &given {
        Some(g) => g,
        None => source,
    };
    for (lo, hi) in merged {
        let (from, to) = (series.ts[lo], series.ts[hi]);
        let read = if hi - lo < LINE_WINDOW_SAMPLES {
            source.samples_between_parts(from, to, SampleParts::NAMES)
        } else {
            let step = (hi - lo).div_ceil(LINE_WINDOW_SAMPLES);
            let at: Vec<_> = (lo..=hi).step_by(step).map(|i| series.ts[i]).collect();
            source.samples_at_parts(&at, SampleParts::NAMES)
        };
        let samples = read.map_err(|source| Error::Read {
            what: format!("the samples from {from} to {to} for the culprit lines"),
            source,
        })?;
        for s in &samples {
            if let Some((k, v)) = values_of(series, s, (cpu_names, mem_names), cores as f64) {
                by_idx.entry(k).or_insert(v);
            }
        }
        if keep {
            kept.extend(samples);
        }
    }
    if let Some((h, true)) = handover {
        h.borrow_mut().lines = Some(kept);
    }
    Ok(WindowValues(by_idx))
}

/// The culprit lines of `names` (see [`names`]): per-name CPU (% of all cores) and resident memory (GB), through
/// the hover moments' samples and the windows' ([`window_values`], of the same names).
///
/// A line is drawn through the samples read anyway for the hover moments (the busiest sample of each pixel column
/// and every sample near an incident's peak, see [`DENSE_SAMPLES`]) and through every sample of the windows of the
/// CPU and memory incidents (evenly spaced beyond [`LINE_WINDOW_SAMPLES`] a window): so each culprit's spike is
/// drawn where its incident is, at full resolution, and the line elsewhere follows the busiest moments, while the
/// samples read stay bounded by the page's width and the incidents, not by the range.
pub(super) fn culprit_lines(
    series: &SystemSeries,
    moments: &[&Sample],
    (cpu_names, mem_names): (&[String], &[String]),
    windows: WindowValues,
    cores: usize,
    breaks: &[usize],
) -> Lines {
    let mut by_idx: BTreeMap<usize, Values> = BTreeMap::new();
    let drawn = !(cpu_names.is_empty() && mem_names.is_empty());
    if drawn && !series.is_empty() {
        // A moment's values first, as the windows' samples of the same instant hold the same.
        for s in moments {
            if let Some((k, v)) = values_of(series, s, (cpu_names, mem_names), cores as f64) {
                by_idx.entry(k).or_insert(v);
            }
        }
        for (k, v) in windows.0 {
            by_idx.entry(k).or_insert(v);
        }
    }
    let idx: Vec<usize> = by_idx.keys().copied().collect();
    let line_breaks = (1..idx.len())
        .filter(|&k| {
            let j = breaks.partition_point(|b| *b <= idx[k - 1]);
            breaks.get(j).is_some_and(|b| *b <= idx[k])
        })
        .collect();
    Lines {
        ts: idx.iter().map(|&i| series.ts[i]).collect(),
        values: by_idx.into_values().collect(),
        breaks: line_breaks,
    }
}

/// Which processes get their own line: the culprits of CPU surges (largest first, at most `culprit_lines`), then
/// the names that used the most CPU over the hover moments (up to 3 lines); the culprits of memory climbs for the
/// memory chart (at most 2). Returns (CPU names, memory names).
pub(super) fn names(
    incidents: &[Incident],
    moment_samples: &[&Sample],
    culprit_lines: usize,
) -> Names {
    let (mut cpu_names, mem_names) = culprits(incidents, culprit_lines);
    if cpu_names.len() < culprit_lines.min(3) {
        let mut totals: HashMap<&str, f64> = HashMap::new();
        for s in moment_samples {
            for nt in &s.top.names {
                *totals.entry(nt.name.as_str()).or_default() += f64::from(nt.cpu_pct);
            }
        }
        let mut totals: Vec<(&str, f64)> = totals.into_iter().collect();
        totals.sort_by(|a, b| b.1.total_cmp(&a.1).then(a.0.cmp(b.0)));
        for (name, _) in totals {
            if cpu_names.len() >= culprit_lines.min(3) {
                break;
            }
            if !cpu_names.iter().any(|c| c == name) {
                cpu_names.push(name.to_owned());
            }
        }
    }
    (cpu_names, mem_names)
}

/// [`names`] where the incidents' culprits alone decide them (enough CPU culprits that the hover moments add no
/// name): known before the moments are read.
pub(super) fn names_without_moments(incidents: &[Incident], culprit_lines: usize) -> Option<Names> {
    let names = culprits(incidents, culprit_lines);
    (names.0.len() >= culprit_lines.min(3)).then_some(names)
}

/// The culprits' names of CPU surges (largest first, at most `culprit_lines`) and memory climbs (at most 2).
fn culprits(incidents: &[Incident], culprit_lines: usize) -> Names {
    let mut cpu_names: Vec<String> = Vec::new();
    let mut mem_names: Vec<String> = Vec::new();
    {
        let mut by_mag: Vec<&Incident> = incidents.iter().filter(|i| i.culprit.is_some()).collect();
        by_mag.sort_by(|a, b| {
            b.magnitude
                .total_cmp(&a.magnitude)
                .then(a.start.cmp(&b.start))
        });
        for inc in by_mag {
            let Some(c) = &inc.culprit else { continue };
            let list = match inc.kind {
                IncidentKind::CpuSurge | IncidentKind::Runaway => &mut cpu_names,
                IncidentKind::MemoryClimb | IncidentKind::SwapGrowth | IncidentKind::OomKill => {
                    &mut mem_names
                }
                _ => continue,
            };
            if !list.contains(&c.name) {
                list.push(c.name.clone());
            }
        }
        cpu_names.truncate(culprit_lines);
        mem_names.truncate(2.min(culprit_lines));
    }
    (cpu_names, mem_names)
}
