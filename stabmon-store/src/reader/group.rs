//! Rows of a row group put with the sample they belong to (the tables order rows by process or target, not by
//! time), and reading on a second thread while this one builds.

use super::StoreReader;
use crate::error::{Error, contain};
use crate::layout::{SegmentLoc, TABLES};

/// Finds a sample of a chunk by its time: a slot per second of the chunk points at the first sample in it (rows
/// come ordered by process, not by time, so each row is looked up). Times out of order (a damaged file) are found
/// through a sorted copy instead.
pub(super) struct TickIndex<'t> {
    ticks: &'t [i64],
    first_us: i64,
    /// Per second from the first sample: the index of the first sample in that second.
    slots: Vec<u32>,
    /// (time, index) sorted by time, where `ticks` are not in increasing order.
    unsorted: Option<Vec<(i64, usize)>>,
}

impl<'t> TickIndex<'t> {
    /// Seconds beyond which the index falls back to a binary search (a chunk is a row group: an hour).
    const MAX_SLOTS: i64 = 4 * 86_400;

    pub(super) fn new(ticks: &'t [i64]) -> Self {
        let first_us = ticks.first().copied().unwrap_or(0);
        if !ticks.windows(2).all(|w| w[0] < w[1]) {
            let mut sorted: Vec<(i64, usize)> = ticks.iter().copied().zip(0..).collect();
            sorted.sort_unstable();
            return TickIndex {
                ticks,
                first_us,
                slots: Vec::new(),
                unsorted: Some(sorted),
            };
        }
        let second = |t: i64| t.saturating_sub(first_us) / 1_000_000;
        let span = ticks.last().map_or(0, |t| second(*t));
        let mut slots = Vec::new();
        if span < Self::MAX_SLOTS {
            slots = vec![u32::MAX; usize::try_from(span).unwrap_or(0) + 1];
            for (k, t) in ticks.iter().enumerate().rev() {
                if let Some(slot) = usize::try_from(second(*t))
                    .ok()
                    .and_then(|s| slots.get_mut(s))
                {
                    *slot = u32::try_from(k).unwrap_or(u32::MAX);
                }
            }
        }
        TickIndex {
            ticks,
            first_us,
            slots,
            unsorted: None,
        }
    }

    /// The index of the sample at `ts`, if the chunk has one.
    pub(super) fn find(&self, ts: i64) -> Option<usize> {
        if let Some(sorted) = &self.unsorted {
            let at = sorted.binary_search_by_key(&ts, |x| x.0).ok()?;
            return sorted.get(at).map(|x| x.1);
        }
        if self.slots.is_empty() {
            return self.ticks.binary_search(&ts).ok();
        }
        if ts < self.first_us {
            return None;
        }
        let slot = *self
            .slots
            .get(usize::try_from(ts.saturating_sub(self.first_us) / 1_000_000).ok()?)?;
        let from = usize::try_from(slot).ok()?;
        self.ticks
            .get(from..)?
            .iter()
            .take_while(|t| **t <= ts)
            .position(|t| *t == ts)
            .map(|p| from + p)
    }
}

/// A table's rows of a chunk grouped by the sample they belong to, in the order read within each sample: a
/// counting sort of (batch, row) positions.
#[derive(Default)]
pub(super) struct ByTick {
    /// Each row's sample, or `u32::MAX` for a row of no sample in the chunk.
    tick_of_row: Vec<u32>,
    /// Where each sample's rows start in `order` (one more entry than samples).
    starts: Vec<u32>,
    /// (batch, row) positions, by sample.
    order: Vec<(u32, u32)>,
}

impl ByTick {
    pub(super) fn group<'b>(
        &mut self,
        index: &TickIndex<'_>,
        batches: impl Iterator<Item = &'b [i64]> + Clone,
    ) {
        let n = index.ticks.len();
        self.tick_of_row.clear();
        self.starts.clear();
        self.starts.resize(n + 1, 0);
        for ts in batches.clone() {
            for &t in ts {
                let k = index.find(t).map_or(u32::MAX, |k| k as u32);
                if k != u32::MAX {
                    self.starts[k as usize + 1] += 1;
                }
                self.tick_of_row.push(k);
            }
        }
        for k in 0..n {
            self.starts[k + 1] += self.starts[k];
        }
        self.order.clear();
        self.order.resize(self.starts[n] as usize, (0, 0));
        let mut next: Vec<u32> = self.starts[..n].to_vec();
        let mut row = 0usize;
        for (b, ts) in batches.enumerate() {
            for i in 0..ts.len() {
                let k = self.tick_of_row[row];
                row += 1;
                if k != u32::MAX {
                    let at = &mut next[k as usize];
                    self.order[*at as usize] = (b as u32, i as u32);
                    *at += 1;
                }
            }
        }
    }

    /// The (batch, row) positions of sample `k`'s rows.
    pub(super) fn of(&self, k: usize) -> &[(u32, u32)] {
        &self.order[self.starts[k] as usize..self.starts[k + 1] as usize]
    }
}

/// Where decoding hands its pieces: `false` when the reader wants no more.
pub(super) type Sink<'a, P> = dyn FnMut(Result<P, Error>) -> bool + 'a;

impl StoreReader {
    /// Decodes `segments` one at a time with `decode`, which hands its pieces to `sink` and says whether to go on.
    /// A segment that fails is skipped with a warning naming its samples file; a newer schema is handed to `sink`
    /// as the error that ends the read.
    pub(super) fn decode_segments<P>(
        &self,
        segments: &[SegmentLoc],
        sink: &mut Sink<'_, P>,
        decode: impl Fn(&SegmentLoc, &mut Sink<'_, P>) -> Result<bool, Error>,
    ) {
        for seg in segments {
            match contain(&seg.file(TABLES[0]), || decode(seg, sink)) {
                Ok(true) => {}
                Ok(false) => return,
                Err(e @ Error::NewerSchema { .. }) => {
                    sink(Err(e));
                    return;
                }
                Err(e) => self.warn(&seg.file(TABLES[0]), &e),
            }
        }
    }
}

/// Runs `produce` on a second thread, handing each piece it makes to `consume` on this one through a queue of two
/// (so one piece is decoded while the last is used); where no thread can be started, both run here, in turn.
/// `produce` stops when its sink returns `false`: `consume` failed, and its error is returned.
pub(super) fn pipelined<P: Send>(
    produce: impl Fn(&mut dyn FnMut(P) -> bool) + Sync,
    mut consume: impl FnMut(P) -> Result<(), Error>,
) -> Result<(), Error> {
    std::thread::scope(|scope| {
        let (tx, rx) = std::sync::mpsc::sync_channel::<P>(2);
        let produce = &produce;
        let started = std::thread::Builder::new()
            .name("stabmon-decode".into())
            .spawn_scoped(scope, move || produce(&mut |p| tx.send(p).is_ok()));
        if started.is_err() {
            let mut failed = Ok(());
            produce(&mut |p| {
                failed = consume(p);
                failed.is_ok()
            });
            return failed;
        }
        for piece in rx {
            consume(piece)?;
        }
        Ok(())
    })
}

/// `f` of each item, in order, on up to `workers` threads of the call's own (each taking the next item as it
/// finishes one); on this thread alone where `workers` is 1 or no thread can be started.
pub(super) fn parallel_map<T: Sync, R: Send>(
    items: &[T],
    workers: usize,
    f: impl Fn(&T) -> R + Sync,
) -> Vec<R> {
    let workers = workers.min(items.len());
    if workers <= 1 {
        return items.iter().map(&f).collect();
    }
    let next = std::sync::atomic::AtomicUsize::new(0);
    let work = || {
        let mut done = Vec::new();
        loop {
            let i = next.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
            let Some(item) = items.get(i) else {
                return done;
            };
            done.push((i, f(item)));
        }
    };
    let mut all: Vec<(usize, R)> = std::thread::scope(|scope| {
        let handles: Vec<_> = (1..workers)
            .filter_map(|_| {
                std::thread::Builder::new()
                    .name("stabmon-read".into())
                    .spawn_scoped(scope, work)
                    .ok()
            })
            .collect();
        let mut all = work();
        for h in handles {
            // A worker that panicked re-raises here, as the same code on this thread would have.
            match h.join() {
                Ok(done) => all.extend(done),
                Err(panic) => std::panic::resume_unwind(panic),
            }
        }
        all
    });
    all.sort_by_key(|(i, _)| *i);
    all.into_iter().map(|(_, r)| r).collect()
}

#[cfg(test)]
mod tests {
    use super::{TickIndex, parallel_map};

    #[test]
    fn ticks_are_found_in_order_out_of_order_and_far_apart() {
        let s = 1_000_000;
        let cases: [&[i64]; 4] = [
            &[0, s, 2 * s, 2 * s + 500_000, 10 * s],
            &[5 * s, s, 3 * s, i64::MIN, i64::MAX],
            &[0, 30 * 86_400 * s],
            &[],
        ];
        for ticks in cases {
            let index = TickIndex::new(ticks);
            for (k, t) in ticks.iter().enumerate() {
                assert_eq!(index.find(*t), Some(k), "{ticks:?} at {t}");
            }
            for t in [-1, 1, s + 1, 7 * s] {
                if !ticks.contains(&t) {
                    assert_eq!(index.find(t), None, "{ticks:?} at {t}");
                }
            }
        }
    }

    #[test]
    fn parallel_map_keeps_the_order_and_every_item() {
        let items: Vec<u64> = (0..1000).collect();
        for workers in [1, 2, 4] {
            let got = parallel_map(&items, workers, |x| x * 3);
            assert_eq!(got, items.iter().map(|x| x * 3).collect::<Vec<_>>());
        }
        assert!(parallel_map(&[] as &[u64], 2, |x| *x).is_empty());
    }
}
