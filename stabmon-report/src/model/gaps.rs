//! Gaps in the recording: their bands on the charts, and the panel of the minute before each.

use super::*;

/// The gap bands `(start µs, end µs, incident index)` of the incidents that are gaps, adding a line break at each
/// gap to `breaks` (sorted and without repeats after).
pub(super) fn bands(
    incidents: &[Incident],
    ts: &[Timestamp],
    breaks: &mut Vec<usize>,
) -> Vec<(i64, i64, usize)> {
    let n = ts.len();
    let mut gaps = Vec::new();
    for (i, inc) in incidents.iter().enumerate() {
        if let IncidentKind::Gap(_) = inc.kind {
            let (s, e) = (inc.start.as_unix_micros(), inc.end.as_unix_micros());
            gaps.push((s.min(e), s.max(e), i));
            let k = ts.partition_point(|t| t.as_unix_micros() <= s.min(e));
            if k > 0 && k < n && ts[k].as_unix_micros() >= s.max(e) {
                breaks.push(k);
            }
        }
    }
    breaks.sort_unstable();
    breaks.dedup();
    gaps
}

/// The panel of each gap: the minute before it, read from `source`.
pub(super) fn panels(
    series: &SystemSeries,
    source: &dyn WindowSource,
    ts: &[Timestamp],
    incidents: &[Incident],
) -> Result<Vec<GapPanel>, Error> {
    let mut gap_panels = Vec::new();
    for (i, inc) in incidents.iter().enumerate() {
        if let IncidentKind::Gap(kind) = inc.kind {
            gap_panels.push(gap_panel(series, source, ts, i, inc, kind)?);
        }
    }
    Ok(gap_panels)
}

/// What a gap panel reads of the minute before the gap: the system values and the processes, each named by its
/// command line and unit.
const GAP_PARTS: SampleParts = SampleParts::SYSTEM
    .union(SampleParts::PROCESSES)
    .union(SampleParts::CMDLINE)
    .union(SampleParts::CGROUP);

/// The gap panel of incident `incident` (a gap): the minute before it, read from `source`.
fn gap_panel(
    series: &SystemSeries,
    source: &dyn WindowSource,
    ts: &[Timestamp],
    incident: usize,
    inc: &Incident,
    kind: GapKind,
) -> Result<GapPanel, Error> {
    let start = inc.start.as_unix_micros().min(inc.end.as_unix_micros());
    let end_idx = ts.partition_point(|t| t.as_unix_micros() <= start);
    let from = start - 60_000_000;
    let begin = ts.partition_point(|t| t.as_unix_micros() < from);
    let win = if begin < end_idx {
        let (a, b) = (series.ts[begin], series.ts[end_idx - 1]);
        source
            .samples_between_parts(a, b, GAP_PARTS)
            .map_err(|source| Error::Read {
                what: format!("the minute before the gap at {}", inc.start),
                source,
            })?
    } else {
        Vec::new()
    };
    let after =
        ts.partition_point(|t| t.as_unix_micros() < inc.end.as_unix_micros().max(start + 1));
    let mut p = GapPanel {
        incident,
        kind,
        samples: win.len(),
        window_from_us: from,
        last_us: win.last().map(|s| s.ts.as_unix_micros()),
        cpu_mean_pct: 0.0,
        cpu_max_pct: 0.0,
        mem_used_last: win.last().map_or(0, |s| s.memory.used_bytes),
        mem_used_max: 0,
        mem_total: win.last().map_or(0, |s| s.memory.total_bytes),
        mem_avail_min: u64::MAX,
        swap_used_first: win.first().map_or(0, |s| s.memory.swap_used_bytes),
        swap_used_last: win.last().map_or(0, |s| s.memory.swap_used_bytes),
        swap_total: win.last().map_or(0, |s| s.memory.swap_total_bytes),
        pressure_max: [None; 5],
        oom_first: win.first().and_then(|s| s.oom_kill_count),
        oom_last: win.last().and_then(|s| s.oom_kill_count),
        oom_after: series.oom_kill_count.get(after).copied().flatten(),
        top_cpu: Vec::new(),
        top_rss: Vec::new(),
    };
    if win.is_empty() {
        p.mem_avail_min = 0;
        return Ok(p);
    }
    let mut cpu_by: BTreeMap<ProcRef, (f64, u64)> = BTreeMap::new();
    let mut first_rss: BTreeMap<ProcRef, u64> = BTreeMap::new();
    for s in &win {
        let busy = f64::from(s.cpu.busy_pct);
        p.cpu_mean_pct += busy / win.len() as f64;
        p.cpu_max_pct = p.cpu_max_pct.max(busy);
        p.mem_used_max = p.mem_used_max.max(s.memory.used_bytes);
        p.mem_avail_min = p.mem_avail_min.min(s.memory.available_bytes);
        if let Some(ps) = s.pressure {
            let vals = [
                ps.cpu_some_pct,
                ps.memory_some_pct,
                ps.memory_full_pct,
                ps.io_some_pct,
                ps.io_full_pct,
            ];
            for (m, v) in p.pressure_max.iter_mut().zip(vals) {
                if let Some(v) = v {
                    *m = Some(m.unwrap_or(0.0).max(f64::from(v)));
                }
            }
        }
        for e in &s.top.processes {
            let key = ProcRef::of(e);
            first_rss.entry(key.clone()).or_insert(e.rss_bytes);
            let ent = cpu_by.entry(key).or_insert((0.0, 0));
            ent.0 = ent.0.max(f64::from(e.cpu_pct));
            ent.1 = e.rss_bytes;
        }
    }
    let mut cpu: Vec<(ProcRef, f64, u64)> =
        cpu_by.into_iter().map(|(k, (c, r))| (k, c, r)).collect();
    cpu.sort_by(|a, b| b.1.total_cmp(&a.1).then(a.0.cmp(&b.0)));
    cpu.truncate(5);
    p.top_cpu = cpu;
    if let Some(last) = win.last() {
        let mut rss: Vec<&ProcessEntry> = last
            .top
            .processes
            .iter()
            .filter(|e| e.rss_rank.is_some())
            .collect();
        rss.sort_by_key(|e| e.rss_rank);
        p.top_rss = rss
            .into_iter()
            .take(5)
            .map(|e| {
                let key = ProcRef::of(e);
                let first = first_rss.get(&key).copied().unwrap_or(e.rss_bytes);
                let growth = i64::try_from(e.rss_bytes).unwrap_or(i64::MAX)
                    - i64::try_from(first).unwrap_or(i64::MAX);
                (key, e.rss_bytes, growth)
            })
            .collect();
    }
    Ok(p)
}
