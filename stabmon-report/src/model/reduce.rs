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

/// Values `get(0..n)` at times `ts`, with the missing (`None` or not finite) left out.
pub(super) fn extract<'a>(
    n: usize,
    ts: &'a [Timestamp],
    get: &dyn Fn(usize) -> Option<f64>,
) -> Extracted<'a> {
    let mut values = Vec::with_capacity(n);
    let mut missing = false;
    for i in 0..n {
        match get(i) {
            Some(v) if v.is_finite() => values.push(v),
            _ => {
                missing = true;
                break;
            }
        }
    }
    if !missing {
        return Extracted {
            ts: Cow::Borrowed(ts),
            values,
            map: None,
            missing_prefix: None,
        };
    }
    let mut sub_ts = Vec::new();
    let mut values = Vec::new();
    let mut map = Vec::new();
    let mut prefix = Vec::with_capacity(n + 1);
    let mut count = 0u32;
    prefix.push(0);
    for (i, &t) in ts.iter().enumerate().take(n) {
        match get(i) {
            Some(v) if v.is_finite() => {
                sub_ts.push(t);
                values.push(v);
                map.push(i);
            }
            _ => count += 1,
        }
        prefix.push(count);
    }
    Extracted {
        ts: Cow::Owned(sub_ts),
        values,
        map: Some(map),
        missing_prefix: Some(prefix),
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
