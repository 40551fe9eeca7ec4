//! [`Runs`]: a column of values that rarely change, kept as runs.

/// A column whose values change far less often than samples are taken (installed memory, the boot, the number of
/// cores, the UTC offset), kept as runs of equal values: a few bytes per change instead of a value per sample.
///
/// ```
/// use stabmon_core::series::Runs;
///
/// let mut cores: Runs<u16> = Runs::default();
/// for c in [4, 4, 4, 8, 8] {
///     cores.push(c);
/// }
/// assert_eq!(cores.len(), 5);
/// assert_eq!(cores.runs(), 2);
/// assert_eq!(cores[2], 4);
/// assert_eq!(cores.get(3), Some(&8));
/// assert_eq!(cores.iter().copied().collect::<Vec<_>>(), [4, 4, 4, 8, 8]);
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Runs<T> {
    /// The index of each run's first row, ascending, the first 0.
    starts: Vec<usize>,
    /// Each run's value.
    values: Vec<T>,
    len: usize,
}

impl<T> Default for Runs<T> {
    fn default() -> Self {
        Runs {
            starts: Vec::new(),
            values: Vec::new(),
            len: 0,
        }
    }
}

impl<T: PartialEq> Runs<T> {
    /// Appends a row.
    pub fn push(&mut self, v: T) {
        if self.values.last() != Some(&v) {
            self.starts.push(self.len);
            self.values.push(v);
        }
        self.len += 1;
    }

    /// Appends `n` rows of `v`: as many [`push`](Self::push)es, in one step.
    pub fn push_n(&mut self, v: T, n: usize) {
        if n == 0 {
            return;
        }
        if self.values.last() != Some(&v) {
            self.starts.push(self.len);
            self.values.push(v);
        }
        self.len += n;
    }
}

impl<T> Runs<T> {
    /// The number of rows.
    pub fn len(&self) -> usize {
        self.len
    }

    /// Whether there are no rows.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// The number of runs (changes of value plus one).
    pub fn runs(&self) -> usize {
        self.values.len()
    }

    /// Row `i`, `None` past the end.
    pub fn get(&self, i: usize) -> Option<&T> {
        if i >= self.len {
            return None;
        }
        // The run holding `i` is the last one starting at or before it.
        let k = self.starts.partition_point(|&s| s <= i) - 1;
        self.values.get(k)
    }

    /// The last row.
    pub fn last(&self) -> Option<&T> {
        self.values.last()
    }

    /// The rows in order.
    pub fn iter(&self) -> impl Iterator<Item = &T> + '_ {
        self.values.iter().enumerate().flat_map(move |(k, v)| {
            let end = self.starts.get(k + 1).copied().unwrap_or(self.len);
            std::iter::repeat_n(v, end - self.starts[k])
        })
    }

    /// The runs as (first row, row count, value).
    pub fn iter_runs(&self) -> impl Iterator<Item = (usize, usize, &T)> + '_ {
        self.values.iter().enumerate().map(move |(k, v)| {
            let end = self.starts.get(k + 1).copied().unwrap_or(self.len);
            (self.starts[k], end - self.starts[k], v)
        })
    }

    /// The bytes the runs hold (capacity).
    pub fn heap_bytes(&self) -> usize {
        self.starts.capacity() * std::mem::size_of::<usize>()
            + self.values.capacity() * std::mem::size_of::<T>()
    }
}

impl<T: PartialEq + Clone> Runs<T> {
    /// Rows `lo..hi` (clipped to the rows there are).
    pub fn slice(&self, lo: usize, hi: usize) -> Runs<T> {
        let hi = hi.min(self.len);
        let mut out = Runs::default();
        if lo >= hi {
            return out;
        }
        for (start, n, v) in self.iter_runs() {
            let (a, b) = (start.max(lo), (start + n).min(hi));
            if a < b {
                out.starts.push(a - lo);
                out.values.push(v.clone());
            }
        }
        out.len = hi - lo;
        out
    }
}

impl<T> std::ops::Index<usize> for Runs<T> {
    type Output = T;

    /// Row `i`; panics past the end, as a slice does.
    fn index(&self, i: usize) -> &T {
        match self.get(i) {
            Some(v) => v,
            None => panic!("row {i} of a column of {} rows", self.len),
        }
    }
}

impl<T: PartialEq> FromIterator<T> for Runs<T> {
    fn from_iter<I: IntoIterator<Item = T>>(it: I) -> Self {
        let mut out = Runs::default();
        for v in it {
            out.push(v);
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::Runs;

    #[test]
    fn rows_runs_and_slices_agree_with_a_plain_column() {
        let plain = [1u8, 1, 2, 2, 2, 1, 3, 3];
        let runs: Runs<u8> = plain.iter().copied().collect();
        assert_eq!(runs.len(), plain.len());
        assert_eq!(runs.runs(), 4);
        for (i, v) in plain.iter().enumerate() {
            assert_eq!(runs.get(i), Some(v), "row {i}");
        }
        assert_eq!(runs.get(plain.len()), None);
        // Pushing runs at once gives the same column as row by row.
        let mut pushed: Runs<u8> = Runs::default();
        for (v, n) in [(1u8, 2), (1, 0), (2, 3), (1, 1), (3, 2)] {
            pushed.push_n(v, n);
        }
        assert_eq!(pushed, runs);
        assert_eq!(runs.iter().copied().collect::<Vec<_>>(), plain);
        for lo in 0..=plain.len() {
            for hi in lo..=plain.len() + 1 {
                let s = runs.slice(lo, hi);
                let want = &plain[lo..hi.min(plain.len())];
                assert_eq!(s.iter().copied().collect::<Vec<_>>(), want, "{lo}..{hi}");
                assert_eq!(s, want.iter().copied().collect::<Runs<u8>>(), "{lo}..{hi}");
            }
        }
    }

    #[test]
    fn an_empty_column() {
        let runs: Runs<u64> = Runs::default();
        assert!(runs.is_empty());
        assert_eq!(runs.get(0), None);
        assert_eq!(runs.last(), None);
        assert_eq!(runs.iter().count(), 0);
        assert_eq!(runs.slice(0, 3), runs);
    }
}
