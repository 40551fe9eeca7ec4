//! Series reduced to the pixel columns: the values of a column without its missing samples, min/max per column
//! keeping the samples that must stay, and the value axis's nice maximum and ticks.

use super::*;

/// Values of one series with the samples where it is missing removed.
pub(super) struct Extracted<'a> {
    ts: Cow<'a, [Timestamp]>,
    pub(super) values: Vec<f64>,
    /// Raw index of each value, when some samples were missing.
    map: Option<Vec<usize>>,
    /// How many samples were missing before each raw index (length n + 1), when some were.
    missing_prefix: Option<Vec<u32>>,
}

/// The samples left out so far of a series that misses some: the times and raw indices of those kept, and how many
/// were missing before each raw index.
struct Missing {
    ts: Vec<Timestamp>,
    map: Vec<usize>,
    prefix: Vec<u32>,
    count: u32,
}

/// `values` (one a time of `ts`, read in one pass) at times `ts`, with the missing (`None` or not finite) left out;
/// the values kept go to `buf` (cleared first), so a caller can reuse one buffer for many series.
pub(super) fn extract<'a>(
    ts: &'a [Timestamp],
    values: impl Iterator<Item = Option<f64>>,
    mut buf: Vec<f64>,
) -> Extracted<'a> {
    let n = ts.len();
    buf.clear();
    buf.reserve(n);
    let mut kept = buf;
    let mut missing: Option<Missing> = None;
    for (i, v) in values.take(n).enumerate() {
        match (v.filter(|v| v.is_finite()), &mut missing) {
            (Some(v), None) => kept.push(v),
            (Some(v), Some(m)) => {
                m.ts.push(ts[i]);
                kept.push(v);
                m.map.push(i);
                m.prefix.push(m.count);
            }
            (None, Some(m)) => {
                m.count += 1;
                m.prefix.push(m.count);
            }
            (None, None) => {
                // The first one missing: the samples before it were all kept.
                let mut prefix = Vec::with_capacity(n + 1);
                prefix.resize(i + 1, 0);
                prefix.push(1);
                missing = Some(Missing {
                    ts: ts[..i].to_vec(),
                    map: (0..i).collect(),
                    prefix,
                    count: 1,
                });
            }
        }
    }
    match missing {
        None => Extracted {
            ts: Cow::Borrowed(ts),
            values: kept,
            map: None,
            missing_prefix: None,
        },
        Some(m) => Extracted {
            ts: Cow::Owned(m.ts),
            values: kept,
            map: Some(m.map),
            missing_prefix: Some(m.prefix),
        },
    }
}

impl Extracted<'_> {
    /// The values' buffer, to reuse.
    pub(super) fn into_values(self) -> Vec<f64> {
        self.values
    }
}

/// Reduces `e` to `columns` columns, keeping `keep`, as (µs, value, break-before) points.
pub(super) fn reduce(
    e: &Extracted<'_>,
    columns: usize,
    keep: &[i64],
    breaks: &[usize],
) -> Vec<(i64, f64, bool)> {
    let mut idx = downsample_minmax_iter(
        e.ts.iter()
            .map(|t| t.as_unix_micros())
            .zip(e.values.iter().copied()),
        columns,
        keep,
    );
    idx.sort_unstable();
    idx.dedup();
    let mut out = Vec::with_capacity(idx.len());
    let mut prev_raw: Option<usize> = None;
    let mut b = 0usize;
    for i in idx {
        let (Some(&t), Some(&v)) = (e.ts.get(i), e.values.get(i)) else {
            continue;
        };
        let raw = e.map.as_ref().and_then(|m| m.get(i).copied()).unwrap_or(i);
        let brk = match prev_raw {
            None => false,
            Some(p) => {
                while b < breaks.len() && breaks[b] <= p {
                    b += 1;
                }
                let raw_break = b < breaks.len() && breaks[b] <= raw;
                let missing = e.missing_prefix.as_ref().is_some_and(|m| {
                    m.get(raw).copied().unwrap_or(0) > m.get(p + 1).copied().unwrap_or(0)
                });
                raw_break || missing
            }
        };
        out.push((t.as_unix_micros(), v, brk));
        prev_raw = Some(raw);
    }
    out
}

/// A round step for about `count` ticks up to `max`.
pub(crate) fn nice_max_and_step(max: f64, count: f64) -> (f64, f64) {
    let max = if max.is_finite() && max > 0.0 {
        max
    } else {
        1.0
    };
    let raw = max / count;
    let mag = 10f64.powf(raw.log10().floor());
    let step = [1.0, 2.0, 2.5, 4.0, 5.0, 10.0]
        .iter()
        .map(|m| m * mag)
        .find(|s| *s >= raw)
        .unwrap_or(10.0 * mag);
    ((max / step).ceil() * step, step)
}

pub(super) fn y_ticks(max: f64, step: f64, unit: Unit) -> Vec<(f64, String)> {
    let mut out = Vec::new();
    let mut v = 0.0;
    while v <= max + step * 1e-6 {
        let label = match unit {
            Unit::Pct => format!("{v:.0}%"),
            Unit::Gb => {
                if step < 1.0 {
                    format!("{v:.1} GB")
                } else {
                    format!("{v:.0} GB")
                }
            }
            Unit::Load | Unit::LogMs => {
                if step < 1.0 {
                    format!("{v:.1}")
                } else {
                    format!("{v:.0}")
                }
            }
        };
        out.push((v, label));
        v += step;
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nice_steps() {
        assert_eq!(nice_max_and_step(16.0, 4.0), (16.0, 4.0));
        assert_eq!(nice_max_and_step(9.3, 4.0), (10.0, 2.5));
        assert_eq!(nice_max_and_step(13.0, 4.0), (16.0, 4.0));
        assert_eq!(nice_max_and_step(0.0, 4.0), (1.0, 0.25));
    }
}
