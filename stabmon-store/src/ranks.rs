//! Ranks derived from values: attribution's lists are ordered by values the rows already hold, so a sample's
//! ranks are not stored when sorting its rows by those values gives them back (always, for lists built by
//! `stabmon_core::attribution`). Only the length of each list is stored (in `samples`), and the ranks of a list
//! that does not follow that order are stored explicitly.

use std::cmp::Ordering;

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

/// How one list's ranks of one sample are stored: its length when they derive from the values (`Some`, the
/// rows store nothing), or `None` when the rows must store them explicitly.
pub(crate) fn list_len<T>(
    items: &[T],
    rank: impl Fn(&T) -> Option<u16>,
    cmp: impl Fn(&T, &T) -> Ordering,
) -> Option<u16> {
    let given: Vec<Option<u16>> = items.iter().map(&rank).collect();
    let len = given.iter().filter(|r| r.is_some()).count();
    let len16 = u16::try_from(len).ok()?;
    (derive(items, len, cmp) == given).then_some(len16)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn derives_and_detects_lists_out_of_value_order() {
        let v = [5, 9, 1, 7];
        let desc = |a: &i32, b: &i32| b.cmp(a);
        assert_eq!(derive(&v, 2, desc), [None, Some(1), None, Some(2)]);
        let rank_of = |ranks: [Option<u16>; 4]| {
            move |x: &i32| ranks[v.iter().position(|y| y == x).unwrap_or(0)]
        };
        assert_eq!(
            list_len(&v, rank_of([None, Some(1), None, Some(2)]), desc),
            Some(2)
        );
        assert_eq!(list_len(&v, rank_of([None; 4]), desc), Some(0));
        // Out of value order, a gap, a rank 0: stored explicitly.
        assert_eq!(
            list_len(&v, rank_of([None, Some(2), None, Some(1)]), desc),
            None
        );
        assert_eq!(
            list_len(&v, rank_of([None, Some(1), None, Some(3)]), desc),
            None
        );
        assert_eq!(
            list_len(&v, rank_of([None, Some(0), None, None]), desc),
            None
        );
    }
}
