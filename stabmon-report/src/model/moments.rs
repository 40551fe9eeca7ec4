//! Hover moments: the samples the script shows on hover, with their processes as indices into one table.

use super::*;
use stabmon_core::series::{MomentColumns, busiest_of_each_column};

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

/// How many of a moment's processes by CPU, then by resident memory, the page shows.
const MOMENT_TOP_CPU: usize = 3;
const MOMENT_TOP_RSS: usize = 2;

/// The processes of `s` ranked by CPU (or by resident memory with `by_rss`), best first, as the page lists them.
fn ranked(s: &Sample, by_rss: bool) -> Vec<&ProcessEntry> {
    let rank = |p: &ProcessEntry| if by_rss { p.rss_rank } else { p.cpu_rank };
    let mut v: Vec<&ProcessEntry> = s
        .top
        .processes
        .iter()
        .filter(|p| rank(p).is_some())
        .collect();
    v.sort_by_key(|p| rank(p));
    v
}

/// What the page reads of a hover moment's sample besides the system values, which the series holds: its name
/// totals and the processes it lists, each named by its command line and unit. Only these are read: a month's
/// page reads thousands of moments.
const MOMENT_PARTS: SampleParts = SampleParts::PROCESSES
    .union(SampleParts::CMDLINE)
    .union(SampleParts::CGROUP)
    .union(SampleParts::NAMES)
    .ranked_processes(MOMENT_TOP_CPU as u16, MOMENT_TOP_RSS as u16);

/// The hover moment of `s`, sample `i` of `series` (whose system values it shows).
fn moment(
    series: &SystemSeries,
    i: usize,
    s: &Sample,
    procs: &mut Vec<ProcRef>,
    index: &mut HashMap<ProcRef, usize>,
) -> Moment {
    let top_cpu = ranked(s, false)
        .into_iter()
        .take(MOMENT_TOP_CPU)
        .map(|p| (proc_index(procs, index, p), f64::from(p.cpu_pct)))
        .collect();
    let top_rss = ranked(s, true)
        .into_iter()
        .take(MOMENT_TOP_RSS)
        .map(|p| (proc_index(procs, index, p), p.rss_bytes))
        .collect();
    Moment {
        ts_us: s.ts.as_unix_micros(),
        busy_pct: f64::from(series.cpu_busy_pct[i]),
        used_gb: series.mem_used_bytes.get(i) as f64 / GB,
        avail_gb: series.mem_available_bytes.get(i) as f64 / GB,
        swap_gb: series.swap_used_bytes.get(i) as f64 / GB,
        load1: series.load(i).map(|l| f64::from(l.one)),
        top_cpu,
        top_rss,
        latency: Vec::new(),
    }
}

/// Samples handed from one model of a range to the next at another width (a mail's charts at the mail's width,
/// then its page): the first hands over the hover moments and the culprit lines' windows it read, and the next reads
/// only what it shows beyond them. The samples are the same either way (trimmed as they are read).
#[derive(Debug, Default)]
pub(crate) struct Handover {
    /// Set for the first model: it hands its samples over (and clears this).
    pub(crate) give: bool,
    /// The first model's hover moments' samples.
    pub(crate) samples: Option<Vec<Sample>>,
    /// The samples of the incidents' windows that the first model's culprit lines read.
    pub(crate) lines: Option<Vec<Sample>>,
}

/// The samples read for hover, and the time zone's name the page shows.
pub(super) struct Fetched {
    /// The hover moments' samples ([`MOMENT_PARTS`]), in time order.
    samples: Vec<Sample>,
    zone: Option<String>,
}

/// The pixel column of a hover moment at `t` (see [`moment_indices`]).
pub(crate) fn column_of(frame: &Frame, columns: usize, t: Timestamp) -> i64 {
    ((frame.x(t.as_unix_micros()) - frame.left) as i64).clamp(0, columns as i64)
}

/// The hover moments of a page ([`crate::Report::moment_columns`]): the pixel columns of which the page shows the
/// busiest sample on hover (the first of equals), and the parts of each sample it reads.
#[derive(Debug, Clone, Copy)]
pub struct PageMoments {
    frame: Frame,
    columns: usize,
}

impl PageMoments {
    /// The moments of a page of `from_us..to_us` drawn `width_px` wide.
    pub(crate) fn of(from_us: i64, to_us: i64, width_px: u32) -> PageMoments {
        let (frame, columns) = Frame::of(from_us, to_us, width_px);
        PageMoments { frame, columns }
    }
}

impl MomentColumns for PageMoments {
    fn column(&self, ts: Timestamp) -> i64 {
        column_of(&self.frame, self.columns, ts)
    }

    fn parts(&self) -> SampleParts {
        MOMENT_PARTS
    }
}

/// The hover moments' sample indices: the busiest sample of each pixel column, and every sample near an incident's
/// peak (`dense`); sorted.
fn moment_indices(
    series: &SystemSeries,
    ts: &[Timestamp],
    frame: &Frame,
    columns: usize,
    dense: &[usize],
) -> Vec<usize> {
    // The times are sorted, so a column's samples follow one another: one pass, a column at a time.
    let busy = &series.cpu_busy_pct;
    let mut v: Vec<usize> = Vec::with_capacity(columns + 1 + dense.len());
    v.extend(busiest_of_each_column(
        ts.iter()
            .enumerate()
            .map(|(i, t)| (column_of(frame, columns, *t), busy[i])),
    ));
    v.extend(dense.iter().copied());
    v.sort_unstable();
    v.dedup();
    v
}

impl Fetched {
    /// The hover moments (see [`moment_indices`]), read in one go; those among `given` (handed over by the model
    /// before) are taken from it instead. And the time zone's name, of the first sample (else of the first moment
    /// that has one).
    pub(super) fn read(
        series: &SystemSeries,
        source: &dyn WindowSource,
        (ts, frame, columns): (&[Timestamp], &Frame, usize),
        dense: &[usize],
        given: Option<Vec<Sample>>,
    ) -> Result<Fetched, Error> {
        let moment_ts: Vec<Timestamp> = moment_indices(series, ts, frame, columns, dense)
            .iter()
            .map(|&i| series.ts[i])
            .collect();
        let read = |at: &[Timestamp], parts: SampleParts| {
            source
                .samples_at_parts(at, parts)
                .map_err(|source| Error::Read {
                    what: format!("the samples at {} instants shown on hover", at.len()),
                    source,
                })
        };
        let mut given = given.unwrap_or_default();
        given.retain(|s| moment_ts.binary_search(&s.ts).is_ok());
        let mut to_read = moment_ts.clone();
        to_read.retain(|t| given.binary_search_by_key(t, |s| s.ts).is_err());
        let mut samples = if to_read.is_empty() {
            Vec::new()
        } else {
            read(&to_read, MOMENT_PARTS)?
        };
        if !given.is_empty() {
            samples.extend(given);
            samples.sort_by_key(|s| s.ts);
        }
        let zone_of = |v: Vec<Sample>| v.into_iter().find_map(|s| s.timezone);
        let first = series.ts.first().map_or(&[][..], std::slice::from_ref);
        let mut zone = zone_of(read(first, SampleParts::SYSTEM)?);
        if zone.is_none() {
            zone = zone_of(read(&moment_ts, SampleParts::SYSTEM)?);
        }
        Ok(Fetched { samples, zone })
    }

    /// The samples read, to hand over to the next model.
    pub(super) fn into_samples(self) -> Vec<Sample> {
        self.samples
    }

    /// The time zone's name, where a sample read has one.
    pub(super) fn zone(&self) -> Option<String> {
        self.zone.clone()
    }

    /// The hover moments' samples, in time order.
    pub(super) fn moments(&self) -> Vec<&Sample> {
        self.samples.iter().collect()
    }
}

/// The hover moments as the page's data, with the process table they index into; each moment carries the latest
/// round trip (or failure) of each target on the latency chart.
pub(super) fn moments(
    moment_samples: &[&Sample],
    charts: &[ChartModel],
    series: &SystemSeries,
) -> (Vec<Moment>, Vec<ProcRef>) {
    let mut procs = Vec::new();
    let mut index = HashMap::new();
    let lane_names: Vec<&str> = charts
        .iter()
        .find(|c| c.kind == Chart::Latency)
        .map(|c| c.lanes.iter().map(|l| l.name.as_str()).collect())
        .unwrap_or_default();
    // A sample at a time the series does not hold (a source that answered with another instant) is left out: its
    // system values would be another sample's.
    let moments = moment_samples
        .iter()
        .filter_map(|s| Some((series.ts.binary_search(&s.ts).ok()?, s)))
        .map(|(i, s)| {
            let mut m = moment(series, i, s, &mut procs, &mut index);
            for name in &lane_names {
                let latest = series.latency.get(&**name).and_then(|ps| {
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
