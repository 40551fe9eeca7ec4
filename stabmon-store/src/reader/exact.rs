//! The exactness values that make stored values read back exactly: schema 3-4's `exact` list, and versions
//! 1-2's `ulp_adj` and `kib_rem` lists and per-slot columns.

use std::path::Path;

use arrow_array::types::{Int32Type, UInt16Type};
use arrow_array::{Array, ListArray, PrimitiveArray};

use crate::error::{Error, invalid};

use super::cols::{Cols, opt};

/// The (position, value) pairs of row `i` of a pairs column (`exact`; `ulp_adj` and `kib_rem` before schema 3);
/// empty where the list is null or the column absent.
pub(super) fn row_pairs<'a>(
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
    pub(super) exact: Option<(&'a ListArray, &'a PrimitiveArray<Int32Type>)>,
    pub(super) old: Vec<OldSlot<'a>>,
    pub(super) kib_rem: Option<(&'a ListArray, &'a PrimitiveArray<Int32Type>)>,
}

/// A version 1-2 column holding one exactness slot.
pub(super) enum OldSlot<'a> {
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
                exact,
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
            kib_rem: c.opt_list::<Int32Type>("kib_rem")?,
        })
    }

    pub(super) fn row(&self, i: usize, path: &Path) -> Result<[Option<i32>; N], Error> {
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
pub(super) fn slot_rem(v: Option<i32>, path: &Path) -> Result<u64, Error> {
    v.map_or(Ok(0), |v| remainder(v, path))
}
