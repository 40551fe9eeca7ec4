//! Rows of a row group put with the sample they belong to (the tables order rows by process or target, not by
//! time), and reading row groups on threads of the call's own, handed over in order.

use crate::error::Error;

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
    #[inline]
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

/// Which sample each of a table's rows of a chunk belongs to, and where each sample's rows go when they are
/// put in their samples' order, the order read kept within each sample (a counting sort).
#[derive(Default)]
pub(super) struct ByTick {
    /// Each row's sample, or `u32::MAX` for a row of no sample in the chunk.
    tick_of_row: Vec<u32>,
    /// Where each sample's rows start (one more entry than samples).
    starts: Vec<u32>,
}

impl ByTick {
    /// Counts the rows of each sample of `index` in `batches` (each batch's times).
    pub(super) fn count<'b>(
        &mut self,
        index: &TickIndex<'_>,
        batches: impl Iterator<Item = &'b [i64]>,
    ) {
        let n = index.ticks.len();
        self.tick_of_row.clear();
        self.starts.clear();
        self.starts.resize(n + 1, 0);
        for ts in batches {
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
    }

    /// Each row's sample, the batches' rows one after another (`u32::MAX`: of no sample).
    pub(super) fn ticks(&self) -> &[u32] {
        &self.tick_of_row
    }

    /// Where each sample's rows start, to be advanced as they are placed.
    pub(super) fn starts(&self) -> Vec<u32> {
        self.starts[..self.starts.len().saturating_sub(1)].to_vec()
    }

    /// The rows of samples.
    pub(super) fn rows(&self) -> usize {
        self.starts.last().map_or(0, |&n| n as usize)
    }

    /// Where sample `k`'s rows are once placed.
    pub(super) fn span(&self, k: usize) -> std::ops::Range<usize> {
        match (self.starts.get(k), self.starts.get(k + 1)) {
            (Some(&a), Some(&b)) => a as usize..b as usize,
            _ => 0..0,
        }
    }
}

/// What a decoding lane of [`two_lanes`] hands over.
enum LaneMsg<P> {
    /// Piece `.1` of item `.0`.
    Piece((usize, usize), P),
    /// The lane has nothing more of item `.0`.
    Done(usize),
    /// The read cannot go on at piece `.0` (an item that cannot be opened: its piece 0): the error is handed over
    /// after every piece before it.
    Fatal((usize, usize), Error),
}

impl<P> LaneMsg<P> {
    /// Where the message falls in the order of the pieces (an item's end after its pieces).
    fn key(&self) -> (usize, usize) {
        match self {
            LaneMsg::Piece(k, _) => *k,
            LaneMsg::Done(i) => (*i, usize::MAX),
            LaneMsg::Fatal(k, _) => *k,
        }
    }
}

/// Decodes the pieces of `items` on two threads of the call's own and hands them to `consume` on this one, in
/// order: item by item, piece by piece. Lane 0 opens each item (`open`: `None` where it is skipped, an error ends
/// the read) and passes it to lane 1; lane 0 decodes the even pieces of each, lane 1 the odd ones (`decode`:
/// `None` where a piece is skipped, an error ends the read), each a queue of two ahead of `consume`, so memory
/// holds a few pieces. Where no thread can be started, it all runs here, in turn. An error of `consume` ends the
/// read and is returned.
pub(super) fn two_lanes<S: Send + Sync, P: Send>(
    items: usize,
    open: impl Fn(usize) -> Result<Option<S>, Error> + Sync,
    pieces: impl Fn(&S) -> usize + Sync,
    decode: impl Fn(&S, usize) -> Result<Option<P>, Error> + Sync,
    mut consume: impl FnMut(P) -> Result<(), Error>,
) -> Result<(), Error> {
    use std::sync::Arc;
    use std::sync::mpsc::{Receiver, SyncSender, sync_channel};

    let (open, pieces, decode) = (&open, &pieces, &decode);
    // Lane `lane`'s work: the items it is handed (lane 0 opens them), its pieces of each.
    let lane = |lane: usize,
                items_in: Option<Receiver<Option<Arc<S>>>>,
                items_out: Option<SyncSender<Option<Arc<S>>>>,
                out: SyncSender<LaneMsg<P>>| {
        for i in 0..items {
            let item = match &items_in {
                Some(rx) => match rx.recv() {
                    Ok(item) => item,
                    Err(_) => return,
                },
                None => match open(i) {
                    Ok(item) => item.map(Arc::new),
                    Err(e) => {
                        let _ = out.send(LaneMsg::Fatal((i, 0), e));
                        return;
                    }
                },
            };
            if let Some(tx) = &items_out
                && tx.send(item.clone()).is_err()
            {
                return;
            }
            if let Some(item) = item {
                for k in (lane..pieces(&item)).step_by(2) {
                    let msg = match decode(&item, k) {
                        Ok(Some(p)) => LaneMsg::Piece((i, k), p),
                        Ok(None) => continue,
                        Err(e) => LaneMsg::Fatal((i, k), e),
                    };
                    let fatal = matches!(msg, LaneMsg::Fatal(..));
                    if out.send(msg).is_err() || fatal {
                        return;
                    }
                }
            }
            if out.send(LaneMsg::Done(i)).is_err() {
                return;
            }
        }
    };
    std::thread::scope(|scope| {
        let (tx0, rx0) = sync_channel::<LaneMsg<P>>(2);
        let (tx1, rx1) = sync_channel::<LaneMsg<P>>(2);
        // Opened items ahead of lane 1, room for all of them, so that lane 0 never waits for lane 1 (only for
        // this thread); lane 0 is held back by its own queue, so few are ever in it.
        let (item_tx, item_rx) = sync_channel::<Option<Arc<S>>>(items.max(1));
        let lane = &lane;
        // Lane 1 first, waiting for the items lane 0 opens; where either cannot start, everything runs here.
        let one = std::thread::Builder::new()
            .name("stabmon-decode".into())
            .spawn_scoped(scope, move || lane(1, Some(item_rx), None, tx1));
        let zero = match one {
            Ok(_) => std::thread::Builder::new()
                .name("stabmon-decode".into())
                .spawn_scoped(scope, move || lane(0, None, Some(item_tx), tx0))
                .is_ok(),
            Err(_) => false,
        };
        if !zero {
            // Lane 1, if it started, ends once the items' queue is dropped.
            for i in 0..items {
                let Some(item) = open(i)? else {
                    continue;
                };
                for k in 0..pieces(&item) {
                    if let Some(p) = decode(&item, k)? {
                        consume(p)?;
                    }
                }
            }
            return Ok(());
        }
        let rx: [Receiver<LaneMsg<P>>; 2] = [rx0, rx1];
        let mut next: [Option<LaneMsg<P>>; 2] = [None, None];
        let mut open_lanes = [true, true];
        loop {
            for l in 0..2 {
                if next[l].is_none() && open_lanes[l] {
                    match rx[l].recv() {
                        Ok(m) => next[l] = Some(m),
                        Err(_) => open_lanes[l] = false,
                    }
                }
            }
            let l = match (&next[0], &next[1]) {
                (None, None) => return Ok(()),
                (Some(_), None) => 0,
                (None, Some(_)) => 1,
                (Some(a), Some(b)) => usize::from(b.key() < a.key()),
            };
            match next[l].take() {
                Some(LaneMsg::Piece(_, p)) => consume(p)?,
                Some(LaneMsg::Fatal(_, e)) => return Err(e),
                Some(LaneMsg::Done(_)) | None => {}
            }
        }
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
    use super::{TickIndex, parallel_map, two_lanes};
    use crate::error::{Error, invalid};

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

    /// Items of 0 to 7 pieces (item 3 skipped at opening, piece 2 of each skipped at decoding), handed over in
    /// order; an error opening an item, decoding a piece or consuming one ends the read with it.
    #[test]
    fn two_lanes_hand_over_every_piece_in_order_and_stop_at_an_error() {
        let counts: Vec<usize> = (0..40).map(|i| (i * 5) % 8).collect();
        let run = |bad_item: Option<usize>, bad_piece: Option<(usize, usize)>, stop_at: usize| {
            let mut got = Vec::new();
            let r = two_lanes(
                counts.len(),
                |i| match i {
                    3 => Ok(None),
                    _ if Some(i) == bad_item => Err(invalid("x", format!("item {i}"))),
                    _ => Ok(Some(i)),
                },
                |i| counts[*i],
                |i, k| match k {
                    2 => Ok(None),
                    _ if Some((*i, k)) == bad_piece => Err(invalid("x", format!("piece {i}.{k}"))),
                    _ => Ok(Some((*i, k))),
                },
                |p| {
                    if got.len() == stop_at {
                        return Err(invalid("x", "consumer"));
                    }
                    got.push(p);
                    Ok(())
                },
            );
            (r.map_err(|e: Error| e.to_string()), got)
        };
        let want: Vec<(usize, usize)> = (0..counts.len())
            .filter(|i| *i != 3)
            .flat_map(|i| (0..counts[i]).filter(|k| *k != 2).map(move |k| (i, k)))
            .collect();
        let (r, got) = run(None, None, usize::MAX);
        assert_eq!(r, Ok(()));
        assert_eq!(got, want);

        let (r, got) = run(Some(20), None, usize::MAX);
        assert!(r.is_err_and(|e| e.contains("item 20")));
        assert_eq!(
            got,
            want.iter()
                .copied()
                .filter(|p| p.0 < 20)
                .collect::<Vec<_>>()
        );

        let (r, got) = run(None, Some((9, 3)), usize::MAX);
        assert!(r.is_err_and(|e| e.contains("piece 9.3")));
        assert_eq!(
            got,
            want.iter()
                .copied()
                .filter(|p| *p < (9, 3))
                .collect::<Vec<_>>()
        );

        let (r, got) = run(None, None, 25);
        assert!(r.is_err_and(|e| e.contains("consumer")));
        assert_eq!(got, want[..25]);

        // Many items of one piece: lane 1 has nothing to do but wait for the items lane 0 opens.
        let mut got = Vec::new();
        let r = two_lanes(
            500,
            |i| Ok(Some(i)),
            |_| 1,
            |i, _| Ok(Some(*i)),
            |p| {
                got.push(p);
                Ok(())
            },
        );
        assert!(r.is_ok());
        assert_eq!(got, (0..500).collect::<Vec<_>>());
    }
}
