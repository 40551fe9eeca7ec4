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
    downsample_minmax_iter(
        ts_micros.iter().copied().zip(values.iter().copied()),
        columns,
        keep,
    )
}

/// [`downsample_minmax`] of points `(ts_micros, value)` given by an iterator (sorted by time), which is walked
/// twice instead of the points being copied into columns: the indices are the points' positions in it.
///
/// ```
/// use stabmon_core::analysis::{downsample_minmax, downsample_minmax_iter};
///
/// let points = (0..1000i64).map(|t| (t, if t == 501 { 99.0 } else { 1.0 }));
/// let idx = downsample_minmax_iter(points.clone(), 10, &[]);
/// let (ts, values): (Vec<i64>, Vec<f64>) = points.unzip();
/// assert_eq!(idx, downsample_minmax(&ts, &values, 10, &[]));
/// ```
pub fn downsample_minmax_iter(
    points: impl Iterator<Item = (i64, f64)> + Clone,
    columns: usize,
    keep: &[i64],
) -> Vec<usize> {
    let (mut n, mut t0, mut t_last) = (0usize, 0i64, 0i64);
    for (t, _) in points.clone() {
        if n == 0 {
            t0 = t;
        }
        t_last = t;
        n += 1;
    }
    if n == 0 {
        return Vec::new();
    }
    let every = columns > 0 && n <= columns.saturating_mul(4);
    let mut out: Vec<usize> = Vec::with_capacity(if every { n } else { columns * 5 } + keep.len());
    let span = (t_last as i128 - t0 as i128).max(0) + 1;
    let column_of = |t: i64| -> usize {
        let c = (t as i128 - t0 as i128).max(0) * columns as i128 / span;
        usize::try_from(c).unwrap_or(columns - 1).min(columns - 1)
    };
    let mut keep_sorted = keep.to_vec();
    keep_sorted.sort_unstable();
    let mut next_keep = 0usize;
    let mut prev: Option<(usize, i64)> = None;
    // The open column: its number, first index, lowest and highest (index, value), first NaN.
    type Column = (
        usize,
        usize,
        Option<(usize, f64)>,
        Option<(usize, f64)>,
        Option<usize>,
    );
    let mut open: Option<Column> = None;
    let close = |c: Column, last: usize, out: &mut Vec<usize>| {
        out.push(c.1);
        out.extend(
            [c.2.map(|x| x.0), c.3.map(|x| x.0), c.4]
                .into_iter()
                .flatten(),
        );
        out.push(last);
    };
    for (i, (t, v)) in points.enumerate() {
        // Each kept instant takes the nearer of the last point before it and the first at or after it.
        while let Some(&k) = keep_sorted.get(next_keep).filter(|&&k| k <= t) {
            let nearest = match prev {
                Some((a, ta)) if (k as i128 - ta as i128) <= (t as i128 - k as i128) => a,
                _ => i,
            };
            out.push(nearest);
            next_keep += 1;
        }
        if every {
            out.push(i);
        } else if columns > 0 {
            let col = column_of(t);
            if let Some(c) = open.filter(|c| c.0 != col) {
                close(c, i - 1, &mut out);
                open = None;
            }
            let c = open.get_or_insert((col, i, None, None, None));
            if v.is_nan() {
                c.4.get_or_insert(i);
            } else {
                if c.2.is_none_or(|(_, lo)| v < lo) {
                    c.2 = Some((i, v));
                }
                if c.3.is_none_or(|(_, hi)| v > hi) {
                    c.3 = Some((i, v));
                }
            }
        }
        prev = Some((i, t));
    }
    if let Some(c) = open {
        close(c, n - 1, &mut out);
    }
    if let Some((a, _)) = prev {
        out.extend(std::iter::repeat_n(a, keep_sorted.len() - next_keep));
    }
    out.sort_unstable();
    out.dedup();
    out
}
