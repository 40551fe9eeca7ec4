//! Per-pixel downsampling that keeps every spike.

/// The indices of the points to draw when `ts_micros.len()` points must fit in `columns` pixel columns.
///
/// The time range from the first to the last timestamp is cut into `columns` equal columns; in each, the first,
/// the smallest, the largest and the last value are kept (so no spike disappears and the line enters and leaves
/// each column where it really does), plus the first missing value (`NaN`) of the column, so a break in the data
/// stays a break in the line. On top of those, the index nearest to each timestamp in `keep` (incident peaks) is
/// kept. The result is sorted and has no duplicates: at most 5 indices per column plus one per `keep`.
///
/// `ts_micros` must be sorted; only the first `min(ts_micros.len(), values.len())` points are considered. When there
/// are no more than 4 points per column, every index is returned. `columns == 0` returns only the `keep` indices.
///
/// ```
/// use stabmon_core::analysis::downsample_minmax;
///
/// let ts: Vec<i64> = (0..1000).collect();
/// let mut values = vec![1.0; 1000];
/// values[501] = 99.0; // a one-sample spike
/// let idx = downsample_minmax(&ts, &values, 10, &[]);
/// assert!(idx.len() <= 40);
/// assert!(idx.contains(&501));
/// ```
pub fn downsample_minmax(
    ts_micros: &[i64],
    values: &[f64],
    columns: usize,
    keep: &[i64],
) -> Vec<usize> {
    let n = ts_micros.len().min(values.len());
    let ts = &ts_micros[..n];
    if n == 0 {
        return Vec::new();
    }
    let mut out: Vec<usize> = Vec::new();
    if columns > 0 && n <= columns.saturating_mul(4) {
        out.extend(0..n);
    } else if columns > 0 {
        out.reserve(columns * 4 + keep.len());
        let t0 = ts[0];
        let span = (ts[n - 1] as i128 - t0 as i128).max(0) + 1;
        let column_of = |t: i64| -> usize {
            let c = (t as i128 - t0 as i128).max(0) * columns as i128 / span;
            usize::try_from(c).unwrap_or(columns - 1).min(columns - 1)
        };
        let mut i = 0;
        while i < n {
            let col = column_of(ts[i]);
            let first = i;
            let (mut lo, mut hi, mut nan): (Option<usize>, Option<usize>, Option<usize>) =
                (None, None, None);
            while i < n && column_of(ts[i]) == col {
                let v = values[i];
                if v.is_nan() {
                    nan.get_or_insert(i);
                } else {
                    if lo.is_none_or(|j| v < values[j]) {
                        lo = Some(i);
                    }
                    if hi.is_none_or(|j| v > values[j]) {
                        hi = Some(i);
                    }
                }
                i += 1;
            }
            out.push(first);
            out.extend([lo, hi, nan].into_iter().flatten());
            out.push(i - 1);
        }
    }
    for &k in keep {
        let j = ts.partition_point(|t| *t < k);
        let nearest = match (j.checked_sub(1), (j < n).then_some(j)) {
            (Some(a), Some(b)) => {
                if (k as i128 - ts[a] as i128) <= (ts[b] as i128 - k as i128) {
                    a
                } else {
                    b
                }
            }
            (Some(a), None) => a,
            (None, Some(b)) => b,
            (None, None) => continue,
        };
        out.push(nearest);
    }
    out.sort_unstable();
    out.dedup();
    out
}
