//! Hover moments: the samples the script shows on hover, with their processes as indices into one table.

use super::*;

fn proc_index(
    procs: &mut Vec<ProcRef>,
    index: &mut HashMap<ProcRef, usize>,
    p: &ProcessEntry,
) -> usize {
    let key = ProcRef::of(p);
    if let Some(i) = index.get(&key) {
        return *i;
    }
    let i = procs.len();
    procs.push(key.clone());
    index.insert(key, i);
    i
}

pub(super) fn moment(
    s: &Sample,
    procs: &mut Vec<ProcRef>,
    index: &mut HashMap<ProcRef, usize>,
) -> Moment {
    let mut by_cpu: Vec<&ProcessEntry> = s
        .top
        .processes
        .iter()
        .filter(|p| p.cpu_rank.is_some())
        .collect();
    by_cpu.sort_by_key(|p| p.cpu_rank);
    let mut by_rss: Vec<&ProcessEntry> = s
        .top
        .processes
        .iter()
        .filter(|p| p.rss_rank.is_some())
        .collect();
    by_rss.sort_by_key(|p| p.rss_rank);
    let top_cpu = by_cpu
        .iter()
        .take(MOMENT_CPU)
        .map(|p| (proc_index(procs, index, p), f64::from(p.cpu_pct)))
        .collect();
    let top_rss = by_rss
        .iter()
        .take(MOMENT_RSS)
        .map(|p| (proc_index(procs, index, p), p.rss_bytes))
        .collect();
    Moment {
        ts_us: s.ts.as_unix_micros(),
        busy_pct: f64::from(s.cpu.busy_pct),
        used_gb: s.memory.used_bytes as f64 / GB,
        avail_gb: s.memory.available_bytes as f64 / GB,
        swap_gb: s.memory.swap_used_bytes as f64 / GB,
        load1: s.load.map(|l| f64::from(l.one)),
        top_cpu,
        top_rss,
        latency: Vec::new(),
    }
}

/// Hover moments read per call to the source.
const FETCH_CHUNK: usize = 512;
/// The processes of a moment shown on hover: the busiest by CPU and by resident memory.
const MOMENT_CPU: usize = 3;
const MOMENT_RSS: usize = 2;

/// What the page uses of a hover moment's sample: its system values, time zone, totals per name (for the culprit
/// lines) and the processes [`moment`] shows; the other processes, per-core values, probes and exits are dropped.
fn kept_for_moment(mut s: Sample) -> Sample {
    let lowest = |rank: fn(&ProcessEntry) -> Option<u16>, n: usize| {
        let mut r: Vec<u16> = s.top.processes.iter().filter_map(rank).collect();
        r.sort_unstable();
        r.get(n - 1).copied()
    };
    let (cpu_max, rss_max) = (
        lowest(|p| p.cpu_rank, MOMENT_CPU),
        lowest(|p| p.rss_rank, MOMENT_RSS),
    );
    let within = |r: Option<u16>, max: Option<u16>| r.is_some_and(|r| max.is_none_or(|m| r <= m));
    s.top
        .processes
        .retain(|p| within(p.cpu_rank, cpu_max) || within(p.rss_rank, rss_max));
    s.top.processes.shrink_to_fit();
    s.per_core = Vec::new();
    s.latency = Vec::new();
    s.exits = None;
    s.oom_kills = Vec::new();
    s
}

/// The samples read for hover: the moments' and the first one (whose zone name the page shows).
pub(super) struct Fetched {
    samples: Vec<Sample>,
    /// The hover moments' times, sorted.
    moment_ts: Vec<Timestamp>,
}

impl Fetched {
    /// The hover moments: the busiest sample of each pixel column, and every sample near an incident's peak
    /// (`dense`); read in one go with the first sample.
    pub(super) fn read(
        series: &SystemSeries,
        source: &dyn WindowSource,
        ts: &[Timestamp],
        frame: &Frame,
        columns: usize,
        dense: &[usize],
    ) -> Result<Fetched, Error> {
        let moment_idx: Vec<usize> = {
            let mut col_best: BTreeMap<i64, usize> = BTreeMap::new();
            for (i, t) in ts.iter().enumerate() {
                let col =
                    ((frame.x(t.as_unix_micros()) - frame.left) as i64).clamp(0, columns as i64);
                let e = col_best.entry(col).or_insert(i);
                if series.cpu_busy_pct[i] > series.cpu_busy_pct[*e] {
                    *e = i;
                }
            }
            let mut v: Vec<usize> = col_best.into_values().collect();
            v.extend(dense.iter().copied());
            v.sort_unstable();
            v.dedup();
            v
        };
        let moment_ts: Vec<Timestamp> = moment_idx.iter().map(|&i| series.ts[i]).collect();
        let mut want = moment_ts.clone();
        want.extend(series.ts.first().copied());
        want.sort_unstable();
        want.dedup();
        // Read a chunk at a time and cut down to what the page uses of them: memory holds the kept parts and one
        // chunk of whole samples, not every moment's whole sample.
        let mut fetched = Vec::with_capacity(want.len());
        for chunk in want.chunks(FETCH_CHUNK) {
            let got = source.samples_at(chunk).map_err(|source| Error::Read {
                what: format!("the samples at {} instants shown on hover", want.len()),
                source,
            })?;
            fetched.extend(got.into_iter().map(kept_for_moment));
        }
        Ok(Fetched {
            samples: fetched,
            moment_ts,
        })
    }

    /// The time zone's name, where a sample read has one.
    pub(super) fn zone(&self) -> Option<String> {
        self.samples.iter().find_map(|s| s.timezone.clone())
    }

    /// The hover moments' samples, in time order.
    pub(super) fn moments(&self) -> Vec<&Sample> {
        self.samples
            .iter()
            .filter(|s| self.moment_ts.binary_search(&s.ts).is_ok())
            .collect()
    }
}

/// The hover moments as the page's data, with the process table they index into; each moment carries the latest
/// round trip (or failure) of each target on the latency chart.
pub(super) fn moments(
    moment_samples: &[&Sample],
    charts: &[ChartModel],
    series_latency: &BTreeMap<String, ProbeList>,
) -> (Vec<Moment>, Vec<ProcRef>) {
    let mut procs = Vec::new();
    let mut index = HashMap::new();
    let lane_names: Vec<&str> = charts
        .iter()
        .find(|c| c.kind == Chart::Latency)
        .map(|c| c.lanes.iter().map(|l| l.name.as_str()).collect())
        .unwrap_or_default();
    let moments = moment_samples
        .iter()
        .map(|s| {
            let mut m = moment(s, &mut procs, &mut index);
            for name in &lane_names {
                let latest = series_latency.get(&**name).and_then(|ps| {
                    let k = ps.partition_point(|p| p.ts <= s.ts);
                    k.checked_sub(1).map(|k| {
                        let p = ps.get(k);
                        match p.round_trip_ms() {
                            Some(ms) => Ok(ms),
                            None => Err(p.outcome.kind()),
                        }
                    })
                });
                m.latency.push(latest);
            }
            m
        })
        .collect();
    (moments, procs)
}
