//! [`ProbeList`]: one latency target's probes in start order, packed.

use super::Packed;
use crate::latency::{OutcomeKind, ProbePoint};
use crate::time::Timestamp;

/// One target's latency probes as [`ProbePoint`]s in start order (ties in the order they were added), kept as
/// three [`Packed`] columns: start times, round trips and outcomes take about 7 bytes a probe instead of 16.
///
/// ```
/// use stabmon_core::Timestamp;
/// use stabmon_core::latency::{OutcomeKind, ProbePoint};
/// use stabmon_core::series::ProbeList;
///
/// let t = |s: i64| Timestamp::from_unix_secs(1_795_576_320 + s);
/// let mut probes = ProbeList::default();
/// probes.push(ProbePoint::new(t(0), Some(1.5), OutcomeKind::Ok));
/// probes.push(ProbePoint::new(t(2), Some(2.25), OutcomeKind::Ok));
/// // A slow probe that started earlier, added later, goes to its place.
/// probes.push(ProbePoint::new(t(1), None, OutcomeKind::Timeout));
/// assert_eq!(probes.len(), 3);
/// assert_eq!(probes.get(1).outcome, OutcomeKind::Timeout);
/// assert_eq!(probes.get(2).round_trip_ms(), Some(2.25));
/// assert_eq!(probes.partition_point(|p| p.ts < t(2)), 2);
/// ```
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ProbeList {
    ts_us: Packed<i64>,
    /// The round trip plus one, so that a failure's `u32::MAX` packs as 0, beside the round trips.
    rtt_us: Packed<u32>,
    outcome: Packed<u8>,
}

fn code(k: OutcomeKind) -> u8 {
    OutcomeKind::ALL
        .iter()
        .position(|x| *x == k)
        .map_or(u8::MAX, |c| c as u8)
}

/// The probe of its packed columns' values.
fn point(ts_us: i64, rtt_plus_one: u32, outcome: u8) -> ProbePoint {
    ProbePoint {
        ts: Timestamp::from_unix_micros(ts_us),
        rtt_us: rtt_plus_one.wrapping_sub(1),
        outcome: OutcomeKind::ALL
            .get(usize::from(outcome))
            .copied()
            .unwrap_or(OutcomeKind::Other),
    }
}

impl ProbeList {
    /// Adds a probe in its place by start time: after every probe that started at the same time or before (probes
    /// come nearly in start order, so the place is near the end).
    pub fn push(&mut self, p: ProbePoint) {
        let t = p.ts.as_unix_micros();
        let n = self.len();
        let later = (0..n).rev().take_while(|&i| self.ts_us.get(i) > t).count();
        let c = code(p.outcome);
        if later == 0 {
            self.ts_us.push(t);
            self.rtt_us.push(p.rtt_us.wrapping_add(1));
            self.outcome.push(c);
        } else {
            let at = n - later;
            self.ts_us.insert(at, t);
            self.rtt_us.insert(at, p.rtt_us.wrapping_add(1));
            self.outcome.insert(at, c);
        }
    }

    /// Adds `probes` in order, as [`push`](Self::push)ing them one by one does; where they come in start order
    /// from the last probe's start on (as a reader appends them), a column at a time.
    pub fn extend_from_slice(&mut self, probes: &[ProbePoint]) {
        let Some(first) = probes.first() else {
            return;
        };
        let in_order = self
            .ts_us
            .last()
            .is_none_or(|t| t <= first.ts.as_unix_micros())
            && probes.windows(2).all(|w| w[0].ts <= w[1].ts);
        if !in_order {
            for p in probes {
                self.push(*p);
            }
            return;
        }
        let ts: Vec<i64> = probes.iter().map(|p| p.ts.as_unix_micros()).collect();
        self.ts_us.extend_from_slice(&ts);
        let rtt: Vec<u32> = probes.iter().map(|p| p.rtt_us.wrapping_add(1)).collect();
        self.rtt_us.extend_from_slice(&rtt);
        let outcome: Vec<u8> = probes.iter().map(|p| code(p.outcome)).collect();
        self.outcome.extend_from_slice(&outcome);
    }

    /// Probe `i`; panics past the end, as a slice does.
    pub fn get(&self, i: usize) -> ProbePoint {
        point(self.ts_us.get(i), self.rtt_us.get(i), self.outcome.get(i))
    }

    /// Probe `i`'s start time; panics past the end.
    pub fn ts(&self, i: usize) -> Timestamp {
        Timestamp::from_unix_micros(self.ts_us.get(i))
    }

    /// The number of probes.
    pub fn len(&self) -> usize {
        self.ts_us.len()
    }

    /// Whether there are none.
    pub fn is_empty(&self) -> bool {
        self.ts_us.is_empty()
    }

    /// The probes in order (their columns unpacked a block at a time).
    pub fn iter(&self) -> impl ExactSizeIterator<Item = ProbePoint> + Clone + '_ {
        self.range(0..self.len())
    }

    /// Probes `range` in order (clipped to the probes there are), their columns unpacked a block at a time: what a
    /// loop over many probes reads instead of [`get`](Self::get) by index.
    pub fn range(
        &self,
        range: std::ops::Range<usize>,
    ) -> impl ExactSizeIterator<Item = ProbePoint> + Clone + '_ {
        let end = range.end.min(self.len());
        ProbeIter {
            list: self,
            next: range.start.min(end),
            end,
            ts_us: Vec::new(),
            rtt_us: Vec::new(),
            outcome: Vec::new(),
            pos: 0,
        }
    }

    /// The number of leading probes for which `pred` holds, which must hold for a prefix only (as
    /// [`slice::partition_point`]).
    pub fn partition_point(&self, pred: impl Fn(&ProbePoint) -> bool) -> usize {
        let (mut lo, mut hi) = (0, self.len());
        while lo < hi {
            let mid = lo + (hi - lo) / 2;
            if pred(&self.get(mid)) {
                lo = mid + 1;
            } else {
                hi = mid;
            }
        }
        lo
    }

    /// Probes `lo..hi` (clipped to the probes there are).
    pub fn slice(&self, lo: usize, hi: usize) -> ProbeList {
        ProbeList {
            ts_us: self.ts_us.slice(lo, hi),
            rtt_us: self.rtt_us.slice(lo, hi),
            outcome: self.outcome.slice(lo, hi),
        }
    }

    /// The bytes the list holds.
    pub fn heap_bytes(&self) -> usize {
        self.ts_us.heap_bytes() + self.rtt_us.heap_bytes() + self.outcome.heap_bytes()
    }
}

/// Probes of a [`ProbeList`] in order, its three columns unpacked together a block at a time (one check a probe,
/// not one a column).
#[derive(Debug, Clone)]
struct ProbeIter<'a> {
    list: &'a ProbeList,
    /// The next probe to unpack.
    next: usize,
    end: usize,
    /// Probes unpacked and not yet given (`pos..`), a column each.
    ts_us: Vec<i64>,
    rtt_us: Vec<u32>,
    outcome: Vec<u8>,
    pos: usize,
}

impl Iterator for ProbeIter<'_> {
    type Item = ProbePoint;

    fn next(&mut self) -> Option<ProbePoint> {
        if self.pos >= self.ts_us.len() {
            if self.next >= self.end {
                return None;
            }
            let (list, i, end) = (self.list, self.next, self.end);
            // The columns have the same rows in the same blocks: each fill stops at the same row.
            self.next = list.ts_us.fill(i, end, &mut self.ts_us);
            list.rtt_us.fill(i, end, &mut self.rtt_us);
            list.outcome.fill(i, end, &mut self.outcome);
            self.pos = 0;
        }
        let k = self.pos;
        self.pos += 1;
        match (self.ts_us.get(k), self.rtt_us.get(k), self.outcome.get(k)) {
            (Some(&t), Some(&rtt), Some(&o)) => Some(point(t, rtt, o)),
            _ => None,
        }
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        let n = self.ts_us.len().saturating_sub(self.pos) + (self.end - self.next);
        (n, Some(n))
    }
}

impl ExactSizeIterator for ProbeIter<'_> {}

impl FromIterator<ProbePoint> for ProbeList {
    /// The probes in their start order (probes that started together in the order given).
    fn from_iter<I: IntoIterator<Item = ProbePoint>>(it: I) -> Self {
        let mut out = ProbeList::default();
        it.into_iter().for_each(|x| out.push(x));
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Extending by slices gives the list that pushing the same probes one by one gives: slices in order after
    /// the last probe, slices out of order, and slices reaching back before the last probe.
    #[test]
    fn extending_by_slices_is_pushing_one_by_one() {
        let t0 = 1_795_576_320_000_000i64;
        let probes: Vec<ProbePoint> = (0..6000i64)
            .map(|i| {
                // Mostly in order, with every 13th a few seconds early and ties every 5th.
                let ts = t0 + (i - i % 5 / 4) * 1_000_000 - if i % 13 == 0 { 3_500_000 } else { 0 };
                let rtt = (i % 31 != 0).then_some(0.25 + (i % 17) as f64);
                let kind = if rtt.is_some() {
                    OutcomeKind::Ok
                } else {
                    OutcomeKind::ALL[2]
                };
                ProbePoint::new(Timestamp::from_unix_micros(ts), rtt, kind)
            })
            .collect();
        for size in [1, 2, 7, 500, 1024, 3000] {
            let (mut pushed, mut extended) = (ProbeList::default(), ProbeList::default());
            for chunk in probes.chunks(size) {
                for p in chunk {
                    pushed.push(*p);
                }
                extended.extend_from_slice(chunk);
            }
            extended.extend_from_slice(&[]);
            assert_eq!(pushed.len(), probes.len());
            assert!(pushed.iter().eq(extended.iter()), "slices of {size}");
            assert_eq!(pushed, extended, "slices of {size}");
        }
    }

    #[test]
    fn a_month_of_probes_in_any_order_reads_back_sorted() {
        // Probes a second apart with jitter, one in 50 failed, one in 97 arriving 3 probes late; over several
        // blocks, so that late ones land in packed blocks too.
        let t0 = 1_795_576_320_000_000i64;
        let mut want: Vec<ProbePoint> = Vec::new();
        let mut list = ProbeList::default();
        let mut held: Vec<ProbePoint> = Vec::new();
        for i in 0..5000i64 {
            let ts = Timestamp::from_unix_micros(t0 + i * 1_000_000 + (i * 7919) % 3000);
            let p = if i % 50 == 0 {
                ProbePoint::new(ts, None, OutcomeKind::ALL[1 + (i as usize / 50) % 7])
            } else {
                ProbePoint::new(ts, Some(0.5 + (i % 40) as f64 / 8.0), OutcomeKind::Ok)
            };
            want.push(p);
            if i % 97 == 0 {
                held.push(p);
            } else {
                list.push(p);
            }
            if i % 97 == 3 {
                for h in held.drain(..) {
                    list.push(h);
                }
            }
        }
        for h in held {
            list.push(h);
        }
        // Late probes into packed blocks.
        let mut late: Vec<ProbePoint> = (0..3)
            .map(|k| {
                ProbePoint::new(
                    Timestamp::from_unix_micros(t0 + k * 1_500_000_000 + 1),
                    Some(9.0),
                    OutcomeKind::Ok,
                )
            })
            .collect();
        for p in &late {
            list.push(*p);
        }
        want.append(&mut late);
        want.sort_by_key(|p| p.ts);
        assert_eq!(list.iter().collect::<Vec<_>>(), want);
        // Less than the 16 bytes of a `ProbePoint`, with the unpacked tail.
        assert!(list.heap_bytes() < want.len() * 12);
        let cut = list.partition_point(|p| p.ts < want[2500].ts);
        assert_eq!(cut, 2500);
        assert_eq!(
            list.slice(cut, cut + 3).iter().collect::<Vec<_>>(),
            want[2500..2503]
        );
        assert_eq!(list.slice(10, 12), want[10..12].iter().copied().collect());
        assert!(list.range(1020..3100).eq(want[1020..3100].iter().copied()));
        assert!(
            list.range(want.len() - 2..want.len() + 5)
                .eq(want[want.len() - 2..].iter().copied())
        );
        let (lo, hi) = (9, 3);
        assert_eq!(list.range(lo..hi).count(), 0);
    }
}
