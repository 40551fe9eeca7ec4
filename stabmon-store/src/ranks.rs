//! The ranks of a sample's lists, as the writer leaves them out and the reader gives them back.
//!
//! - The canonical order of a list ([`process_sort_key`], [`name_order_key`]): by rank, the order attribution
//!   produces, in which the reader gives every list back whatever order its rows are stored in.
//! - (Schemas 1-4.) Ranks derived from values: attribution's lists are ordered by values the rows already hold, so
//!   those schemas did not store a sample's ranks when sorting its rows by those values gives them back, nor (3-4)
//!   a list's length where [`rule_lens`] gives it. Schema 5 stores every rank.

use std::cmp::Ordering;

use stabmon_core::{NameTotal, ProcessEntry, TopProcesses};

/// Like [`process_sort_key`] for name totals.
pub(crate) fn name_order_key(n: &NameTotal) -> (bool, Option<u16>, bool, Option<u16>, &str) {
    (
        n.cpu_rank.is_none(),
        n.cpu_rank,
        n.rss_rank.is_none(),
        n.rss_rank,
        n.name.as_str(),
    )
}

/// The canonical order of a sample's process list, in which the reader gives it back: the order
/// [`stabmon_core::attribution::attribute`] produces (by CPU rank, then by memory rank; a rank sorts before no
/// rank), ties by identity.
pub(crate) fn process_sort_key(
    p: &ProcessEntry,
) -> (bool, Option<u16>, bool, Option<u16>, u32, i64) {
    (
        p.cpu_rank.is_none(),
        p.cpu_rank,
        p.rss_rank.is_none(),
        p.rss_rank,
        p.pid,
        p.start_time.as_unix_micros(),
    )
}

/// The length of each of a sample's four lists (process CPU and memory, name CPU and memory) as the rule of
/// schema 3 gives it: `min(N, rows at or above the list's bound)`, the bound being what the list left out used at
/// most (`cpu_nth_pct`, `rss_nth_bytes`, ...). For lists built by `stabmon_core::attribution` this is the length:
/// a full list has N rows at or above its N-th value (more with ties, hence the `min`); a list a floor cut (the CPU
/// floor, or the memory floor of 1 KiB) has its bound at the floor, which every listed row reaches and every other
/// row is below; a list of every process has bound 0, which every row reaches.
///
/// `t` gives N and the bounds; `procs` and `names` are the sample's rows (`t`'s own, or the rows being read).
pub(crate) fn rule_lens<'a>(
    t: &TopProcesses,
    procs: impl Iterator<Item = &'a ProcessEntry> + Clone,
    names: impl Iterator<Item = &'a NameTotal> + Clone,
) -> [u16; 4] {
    let n = usize::from(t.n);
    let len = |count: usize| u16::try_from(count.min(n)).unwrap_or(u16::MAX);
    let procs = |f: &dyn Fn(&ProcessEntry) -> bool| len(procs.clone().filter(|p| f(p)).count());
    let names = |f: &dyn Fn(&NameTotal) -> bool| len(names.clone().filter(|x| f(x)).count());
    [
        procs(&|p| p.cpu_pct + p.children_cpu_pct.unwrap_or(0.0) >= t.cpu_nth_pct),
        procs(&|p| p.rss_bytes >= t.rss_nth_bytes),
        names(&|x| x.cpu_pct >= t.name_cpu_nth_pct),
        names(&|x| x.rss_bytes >= t.name_rss_nth_bytes),
    ]
}

/// The ranks that sorting `items` by `cmp` gives: the first `len` get 1, 2, ..., the others none.
pub(crate) fn derive<T>(
    items: &[T],
    len: usize,
    cmp: impl Fn(&T, &T) -> Ordering,
) -> Vec<Option<u16>> {
    let mut idx: Vec<usize> = (0..items.len()).collect();
    idx.sort_by(|&a, &b| cmp(&items[a], &items[b]));
    let mut out = vec![None; items.len()];
    for (pos, &i) in idx.iter().enumerate().take(len) {
        out[i] = u16::try_from(pos + 1).ok();
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The rule gives every list's length for lists built by attribution: with the CPU floor (lists cut), without
    /// it (full lists, ties at 0 %), and with N above the number of processes.
    #[test]
    fn rule_lens_match_what_attribution_builds() {
        use stabmon_core::Timestamp;
        use stabmon_core::synth::Synth;
        let start = Timestamp::from_unix_secs(1_795_564_800);
        let mut cut = 0;
        for (floor, n, processes) in [
            (2.5, 10, 300),
            (0.0, 10, 300),
            (2.5, 400, 150),
            (0.0, 1, 50),
        ] {
            let samples = Synth::new(start, std::time::Duration::from_secs(1))
                .count(120)
                .cpu_floor_pct(floor)
                .top_n(n)
                .processes(processes)
                .generate();
            for s in &samples {
                let t = &s.top;
                let count =
                    |f: fn(&ProcessEntry) -> bool| t.processes.iter().filter(|p| f(p)).count();
                let names = |f: fn(&NameTotal) -> bool| t.names.iter().filter(|x| f(x)).count();
                let actual = [
                    count(|p| p.cpu_rank.is_some()),
                    count(|p| p.rss_rank.is_some()),
                    names(|x| x.cpu_rank.is_some()),
                    names(|x| x.rss_rank.is_some()),
                ]
                .map(|c| u16::try_from(c).unwrap_or(u16::MAX));
                let rule = rule_lens(t, t.processes.iter(), t.names.iter());
                assert_eq!(rule, actual, "floor {floor}, N {n}, at {}", s.ts);
                cut += usize::from(actual[0] < t.n && usize::from(actual[0]) < t.processes.len());
            }
        }
        assert!(cut > 0, "no list was cut by the floor");
    }

    #[test]
    fn derives_ranks_from_the_value_order() {
        let v = [5, 9, 1, 7];
        let desc = |a: &i32, b: &i32| b.cmp(a);
        assert_eq!(derive(&v, 2, desc), [None, Some(1), None, Some(2)]);
    }
}
