//! The exactness values that make stored values read back exactly: schema 3-4's `exact` list, and versions
//! 1-2's `ulp_adj` and `kib_rem` lists and per-slot columns.

use std::path::Path;

use arrow_array::types::{Int32Type, UInt16Type};
use arrow_array::{Array, ListArray, PrimitiveArray};

use crate::error::{Error, invalid};
use crate::schema::{
    SAMPLES_EXACT_LIST_LEN, SAMPLES_EXACT_MACHINE_ABSENT, SAMPLES_EXACT_PRESSURE, SAMPLES_EXACT_ULP,
};

use super::cols::{Cols, opt};

/// The (position, value) pairs of row `i` of a pairs column (`exact`; `ulp_adj` and `kib_rem` before schema 3);
/// empty where the list is null or the column absent.
#[inline(always)]
fn row_pairs<'a>(
    list: Option<(&'a ListArray, &'a PrimitiveArray<Int32Type>)>,
    i: usize,
    path: &Path,
    name: &str,
) -> Result<&'a [i32], Error> {
    let Some((l, values)) = list else {
        return Ok(&[]);
    };
    if l.is_null(i) {
        return Ok(&[]);
    }
    let o = l.value_offsets();
    let (a, b) = (
        usize::try_from(o[i]).unwrap_or(0),
        usize::try_from(o[i + 1]).unwrap_or(0),
    );
    if b < a || (b - a) % 2 != 0 || values.null_count() > 0 || b > values.len() {
        return Err(invalid(
            path,
            format!("a {name} list is not (position, value) pairs"),
        ));
    }
    Ok(&values.values()[a..b])
}

/// A stored remainder below 1 KiB, checked.
pub(super) fn remainder(v: i32, path: &Path) -> Result<u64, Error> {
    u64::try_from(v).ok().filter(|r| *r < 1024).ok_or_else(|| {
        invalid(
            path,
            format!("a remainder of {v} below 1 KiB is out of range"),
        )
    })
}

/// The exactness values of a `processes` or `names` row (see the crate docs, "Older versions"), `N` slots: from
/// `exact` (schema 3), or in files of versions 1-2 from a column per slot (`old`, in slot order) and `kib_rem`,
/// whose positions start at the slot after them.
pub(super) struct ExactSlots<'a, const N: usize> {
    exact: Option<(&'a ListArray, &'a PrimitiveArray<Int32Type>)>,
    old: Vec<OldSlot<'a>>,
    kib_rem: Option<(&'a ListArray, &'a PrimitiveArray<Int32Type>)>,
}

/// A version 1-2 column holding one exactness slot.
enum OldSlot<'a> {
    Adj(&'a PrimitiveArray<Int32Type>),
    Pos(&'a PrimitiveArray<UInt16Type>),
}

impl<'a, const N: usize> ExactSlots<'a, N> {
    /// `old`: the version 1-2 columns of the slots before the remainders', as (name, is a ULP adjustment).
    /// Schema 5 has no exactness values: every slot is empty.
    pub(super) fn new(c: &Cols<'a>, version: u32, old: &[(&str, bool)]) -> Result<Self, Error> {
        let exact = c.opt_list::<Int32Type>("exact")?;
        if exact.is_some() || version >= 5 {
            return Ok(ExactSlots {
                exact: with_pairs(exact),
                old: Vec::new(),
                kib_rem: None,
            });
        }
        let mut cols = Vec::with_capacity(old.len());
        for &(name, adj) in old {
            cols.push(if adj {
                OldSlot::Adj(c.prim::<Int32Type>(name)?)
            } else {
                OldSlot::Pos(c.prim::<UInt16Type>(name)?)
            });
        }
        Ok(ExactSlots {
            exact: None,
            old: cols,
            kib_rem: with_pairs(c.opt_list::<Int32Type>("kib_rem")?),
        })
    }

    #[inline(always)]
    pub(super) fn row(&self, i: usize, path: &Path) -> Result<[Option<i32>; N], Error> {
        if self.exact.is_none() && self.old.is_empty() && self.kib_rem.is_none() {
            return Ok([None; N]);
        }
        let mut out = [None; N];
        let mut set = |k: usize, v: i32, name: &str| match out.get_mut(k) {
            Some(slot) => {
                *slot = Some(v);
                Ok(())
            }
            None => Err(invalid(path, format!("a {name} position is out of range"))),
        };
        for pair in row_pairs(self.exact, i, path, "exact")?.chunks_exact(2) {
            set(usize::try_from(pair[0]).unwrap_or(N), pair[1], "exact")?;
        }
        for (k, col) in self.old.iter().enumerate() {
            let v = match col {
                OldSlot::Adj(a) => opt(a, i),
                OldSlot::Pos(a) => opt(a, i).map(i32::from),
            };
            if let Some(v) = v {
                set(k, v, "column")?;
            }
        }
        for pair in row_pairs(self.kib_rem, i, path, "kib_rem")?.chunks_exact(2) {
            let k = usize::try_from(pair[0]).map_or(N, |k| k.saturating_add(self.old.len()));
            set(k, pair[1], "kib_rem")?;
        }
        Ok(out)
    }
}

/// `list` where any row holds pairs: of a list column without values, every row is empty (arrow checks that the
/// offsets stay within the values), so it is not looked at row by row.
fn with_pairs<'a>(list: Pairs<'a>) -> Pairs<'a> {
    list.filter(|(_, values)| !values.is_empty())
}

/// A rank or list position from an exactness slot.
pub(super) fn slot_u16(v: Option<i32>, path: &Path) -> Result<Option<u16>, Error> {
    v.map(|v| {
        u16::try_from(v).map_err(|_| {
            invalid(
                path,
                format!("a rank or list position of {v} is out of range"),
            )
        })
    })
    .transpose()
}

/// A remainder below 1 KiB from an exactness slot (0 where not set).
#[inline(always)]
pub(super) fn slot_rem(v: Option<i32>, path: &Path) -> Result<u64, Error> {
    v.map_or(Ok(0), |v| remainder(v, path))
}

/// A pairs column: the list and its values.
type Pairs<'a> = Option<(&'a ListArray, &'a PrimitiveArray<Int32Type>)>;

/// The exactness columns of the `samples` table, of any schema version: `exact` (schema 3 on), or `ulp_adj` and
/// `kib_rem` (versions 1-2) and, in files written before `ulp_adj` existed, the two N-th values' adjustment
/// columns of their own.
pub(super) struct SampleExactCols<'a> {
    /// Whether the file has `exact` (schema 3 on), although no row may hold pairs.
    has_exact: bool,
    exact: Pairs<'a>,
    ulp_adj: Pairs<'a>,
    kib_rem: Pairs<'a>,
    old_adj: [Option<&'a PrimitiveArray<Int32Type>>; 2],
    /// Schema 4: `exact` may mark the whole machine's CPU shares as unknown (else they derive from the cores').
    machine_derived: bool,
}

/// The exactness values of one `samples` row but its ULP adjustments (see [`SampleExactCols::row`]).
pub(super) struct SampleExact {
    /// The remainders below 1 KiB of the byte counts, in `kib_rem` order.
    pub(super) rems: [u64; 7],
    /// Schema 3 on: pressure is present although every value is null.
    pub(super) pressure_empty: bool,
    /// Schema 4: a bit per machine CPU share (user, system, iowait, steal) that is unknown, not derived.
    pub(super) machine_absent: i32,
    /// Schema 3-4: the lists' lengths where the rule does not give them.
    pub(super) stored_lens: [Option<u16>; 4],
}

impl<'a> SampleExactCols<'a> {
    pub(super) fn new(c: &Cols<'a>, version: u32) -> Result<Self, Error> {
        let exact = c.opt_list::<Int32Type>("exact")?;
        Ok(SampleExactCols {
            has_exact: exact.is_some(),
            exact: with_pairs(exact),
            ulp_adj: with_pairs(c.opt_list::<Int32Type>("ulp_adj")?),
            kib_rem: with_pairs(c.opt_list::<Int32Type>("kib_rem")?),
            old_adj: [
                c.opt_prim::<Int32Type>("cpu_nth_pct_ulp_adj")?,
                c.opt_prim::<Int32Type>("name_cpu_nth_pct_ulp_adj")?,
            ],
            machine_derived: version == 4,
        })
    }

    /// The ULP adjustment of row `i`'s percentage `k` (in `ulp_adj` order) alone, as [`row`](Self::row) gives it
    /// (the row's other exactness values not checked).
    pub(super) fn adj_of(&self, i: usize, k: usize, path: &Path) -> Result<i32, Error> {
        let mut adj = 0;
        let Ok(key) = i32::try_from(k) else {
            return Ok(0);
        };
        for pair in row_pairs(self.ulp_adj, i, path, "ulp_adj")?.chunks_exact(2) {
            if pair[0] == key {
                adj = pair[1];
            }
        }
        for pair in row_pairs(self.exact, i, path, "exact")?.chunks_exact(2) {
            if pair[0].checked_sub(SAMPLES_EXACT_ULP) == Some(key) {
                adj = pair[1];
            }
        }
        if let Some((_, Some(a))) = self.old_adj().into_iter().find(|(slot, _)| *slot == k) {
            adj = opt(a, i).unwrap_or(0);
        }
        Ok(adj)
    }

    /// The adjustment columns of the two N-th values in files written before `ulp_adj` existed, with the place of
    /// their percentage (`cpu_nth_pct`, `name_cpu_nth_pct`) in `ulp_adj` order.
    fn old_adj(&self) -> [(usize, Option<&'a PrimitiveArray<Int32Type>>); 2] {
        [(13, self.old_adj[0]), (14, self.old_adj[1])]
    }

    /// Whether the file keeps its exactness values in `exact` (schema 3 on).
    pub(super) fn has_exact(&self) -> bool {
        self.has_exact
    }

    /// The exactness values of row `i`, whose percentages number `pcts`: the ULP adjustment of each percentage
    /// into `adj` (the columns' in `ulp_adj` order, then the cores', 5 per core), the rest given.
    pub(super) fn row(
        &self,
        i: usize,
        pcts: usize,
        adj: &mut Vec<i32>,
        path: &Path,
    ) -> Result<SampleExact, Error> {
        adj.clear();
        adj.resize(pcts, 0);
        let mut x = SampleExact {
            rems: [0; 7],
            pressure_empty: false,
            machine_absent: 0,
            stored_lens: [None; 4],
        };
        let out_of_range = |name: &str| invalid(path, format!("a {name} position is out of range"));
        for pair in row_pairs(self.ulp_adj, i, path, "ulp_adj")?.chunks_exact(2) {
            let slot = usize::try_from(pair[0]).ok().and_then(|k| adj.get_mut(k));
            *slot.ok_or_else(|| out_of_range("ulp_adj"))? = pair[1];
        }
        for pair in row_pairs(self.kib_rem, i, path, "kib_rem")?.chunks_exact(2) {
            let slot = usize::try_from(pair[0])
                .ok()
                .and_then(|k| x.rems.get_mut(k));
            *slot.ok_or_else(|| out_of_range("kib_rem"))? = remainder(pair[1], path)?;
        }
        for pair in row_pairs(self.exact, i, path, "exact")?.chunks_exact(2) {
            let (k, v) = (pair[0], pair[1]);
            if let Some(slot) = usize::try_from(k).ok().and_then(|k| x.rems.get_mut(k)) {
                *slot = remainder(v, path)?;
            } else if k == SAMPLES_EXACT_PRESSURE && v == 1 {
                x.pressure_empty = true;
            } else if k == SAMPLES_EXACT_MACHINE_ABSENT && self.machine_derived && v & !0xf == 0 {
                x.machine_absent = v;
            } else if let Some(slot) = k
                .checked_sub(SAMPLES_EXACT_LIST_LEN)
                .and_then(|j| usize::try_from(j).ok())
                .and_then(|j| x.stored_lens.get_mut(j))
            {
                *slot = Some(u16::try_from(v).map_err(|_| out_of_range("exact"))?);
            } else {
                let slot = k
                    .checked_sub(SAMPLES_EXACT_ULP)
                    .and_then(|k| usize::try_from(k).ok())
                    .and_then(|k| adj.get_mut(k));
                *slot.ok_or_else(|| out_of_range("exact"))? = v;
            }
        }
        // Files written before `ulp_adj` existed: the two N-th values had adjustment columns of their own.
        for (k, a) in self.old_adj() {
            if let (Some(a), Some(slot)) = (a, adj.get_mut(k)) {
                *slot = opt(a, i).unwrap_or(0);
            }
        }
        Ok(x)
    }
}
