//! Typed access to a batch's columns and the stored values they decode to.

use std::path::Path;
use std::time::Duration;

use arrow_array::cast::AsArray;
use arrow_array::types::{Decimal32Type, Decimal128Type, Float32Type, Int32Type, UInt64Type};
use arrow_array::{
    Array, ArrowPrimitiveType, BooleanArray, DictionaryArray, ListArray, PrimitiveArray,
    RecordBatch, StringArray,
};

use crate::error::{Error, invalid};
use crate::pct;

/// Typed access to a batch's columns, with errors naming the file.
pub(super) struct Cols<'a> {
    pub(super) batch: &'a RecordBatch,
    pub(super) path: &'a Path,
}

/// A string column, dictionary-encoded or plain.
pub(super) enum StrCol<'a> {
    Dict(&'a DictionaryArray<Int32Type>, &'a StringArray),
    Plain(&'a StringArray),
}

impl<'a> StrCol<'a> {
    #[inline]
    pub(super) fn get(&self, i: usize) -> Option<&'a str> {
        match self {
            StrCol::Dict(d, values) => {
                if d.is_null(i) {
                    return None;
                }
                let k = usize::try_from(d.keys().value(i)).ok()?;
                (k < values.len() && !values.is_null(k)).then(|| values.value(k))
            }
            StrCol::Plain(s) => (!s.is_null(i)).then(|| s.value(i)),
        }
    }

    /// The value of every row of `rows`, where a dictionary gives them all one key; `None` otherwise (read
    /// them row by row).
    pub(super) fn same_over(&self, rows: std::ops::Range<usize>) -> Option<Option<&'a str>> {
        match self {
            StrCol::Dict(d, _) if d.null_count() == 0 => {
                let keys = d.keys().values().get(rows.clone())?;
                let first = *keys.first()?;
                keys.iter()
                    .all(|k| *k == first)
                    .then(|| self.get(rows.start))
            }
            _ => None,
        }
    }
}

impl<'a> Cols<'a> {
    pub(super) fn col(&self, name: &str) -> Result<&'a dyn Array, Error> {
        self.batch
            .column_by_name(name)
            .map(|c| c.as_ref())
            .ok_or_else(|| invalid(self.path, format!("the column {name} is missing")))
    }

    fn bad_type(&self, name: &str) -> Error {
        invalid(
            self.path,
            format!("the column {name} has an unexpected type"),
        )
    }

    pub(super) fn prim<T: ArrowPrimitiveType>(
        &self,
        name: &str,
    ) -> Result<&'a PrimitiveArray<T>, Error> {
        self.col(name)?
            .as_primitive_opt::<T>()
            .ok_or_else(|| self.bad_type(name))
    }

    /// A column that must have no nulls.
    pub(super) fn req<T: ArrowPrimitiveType>(
        &self,
        name: &str,
    ) -> Result<&'a PrimitiveArray<T>, Error> {
        let a = self.prim::<T>(name)?;
        if a.null_count() > 0 {
            return Err(invalid(self.path, format!("the column {name} has nulls")));
        }
        Ok(a)
    }

    pub(super) fn bool(&self, name: &str) -> Result<&'a BooleanArray, Error> {
        self.col(name)?
            .as_boolean_opt()
            .ok_or_else(|| self.bad_type(name))
    }

    pub(super) fn list<T: ArrowPrimitiveType>(
        &self,
        name: &str,
    ) -> Result<(&'a ListArray, &'a PrimitiveArray<T>), Error> {
        let l = self
            .col(name)?
            .as_list_opt::<i32>()
            .ok_or_else(|| self.bad_type(name))?;
        let v = l
            .values()
            .as_primitive_opt::<T>()
            .ok_or_else(|| self.bad_type(name))?;
        Ok((l, v))
    }

    /// A byte count: `<base>_bytes` (schema 5, and files of version 1 written before counts were stored in KiB),
    /// or `<base>_kib` (versions 1-4; see the crate docs, "Older versions"). `required`: the column must have no
    /// nulls.
    pub(super) fn byte_count(&self, base: &str, required: bool) -> Result<ByteCount<'a>, Error> {
        let kib = format!("{base}_kib");
        let (name, scale) = if self.batch.column_by_name(&kib).is_some() {
            (kib, 1024)
        } else {
            (format!("{base}_bytes"), 1)
        };
        let values = if required {
            self.req::<UInt64Type>(&name)?
        } else {
            self.prim::<UInt64Type>(&name)?
        };
        Ok(ByteCount {
            values,
            scale,
            name,
        })
    }

    /// A column that may be absent (added to the schema later).
    pub(super) fn opt_prim<T: ArrowPrimitiveType>(
        &self,
        name: &str,
    ) -> Result<Option<&'a PrimitiveArray<T>>, Error> {
        match self.batch.column_by_name(name) {
            None => Ok(None),
            Some(_) => self.prim(name).map(Some),
        }
    }

    pub(super) fn opt_list<T: ArrowPrimitiveType>(
        &self,
        name: &str,
    ) -> Result<Option<(&'a ListArray, &'a PrimitiveArray<T>)>, Error> {
        match self.batch.column_by_name(name) {
            None => Ok(None),
            Some(_) => self.list(name).map(Some),
        }
    }

    fn pct_of(&self, name: &str, a: &'a dyn Array) -> Result<PctValues<'a>, Error> {
        if let Some(d) = a.as_primitive_opt::<Decimal32Type>() {
            return Ok(PctValues::Decimal32(d));
        }
        if let Some(d) = a.as_primitive_opt::<Decimal128Type>() {
            return Ok(PctValues::Decimal(d));
        }
        a.as_primitive_opt::<Float32Type>()
            .map(PctValues::Float)
            .ok_or_else(|| self.bad_type(name))
    }

    pub(super) fn pct_values(&self, name: &str) -> Result<PctValues<'a>, Error> {
        self.pct_of(name, self.col(name)?)
    }

    pub(super) fn pct_list(&self, name: &str) -> Result<(&'a ListArray, PctValues<'a>), Error> {
        let l = self
            .col(name)?
            .as_list_opt::<i32>()
            .ok_or_else(|| self.bad_type(name))?;
        Ok((l, self.pct_of(name, l.values().as_ref())?))
    }

    pub(super) fn str(&self, name: &str) -> Result<StrCol<'a>, Error> {
        let c = self.col(name)?;
        if let Some(d) = c.as_dictionary_opt::<Int32Type>() {
            let values = d
                .values()
                .as_string_opt::<i32>()
                .ok_or_else(|| self.bad_type(name))?;
            return Ok(StrCol::Dict(d, values));
        }
        c.as_string_opt::<i32>()
            .map(StrCol::Plain)
            .ok_or_else(|| self.bad_type(name))
    }
}

#[inline]
pub(super) fn opt<T: ArrowPrimitiveType>(a: &PrimitiveArray<T>, i: usize) -> Option<T::Native> {
    (!a.is_null(i)).then(|| a.value(i))
}

pub(super) fn duration(us: i64, path: &Path, what: &str) -> Result<Duration, Error> {
    u64::try_from(us)
        .map(Duration::from_micros)
        .map_err(|_| invalid(path, format!("a negative {what}: {us} us")))
}

/// A byte-count column and its unit (1024 for KiB, 1 for bytes).
pub(super) struct ByteCount<'a> {
    pub(super) values: &'a PrimitiveArray<UInt64Type>,
    pub(super) scale: u64,
    pub(super) name: String,
}

impl ByteCount<'_> {
    /// The count in bytes at row `i`, with its remainder below 1 KiB; `None` where null.
    #[inline(always)]
    pub(super) fn get(&self, i: usize, rem: u64, path: &Path) -> Result<Option<u64>, Error> {
        let Some(v) = opt(self.values, i) else {
            return if rem == 0 {
                Ok(None)
            } else {
                Err(invalid(
                    path,
                    format!("{} is null but has a remainder", self.name),
                ))
            };
        };
        v.checked_mul(self.scale)
            .and_then(|b| b.checked_add(rem))
            .map(Some)
            .ok_or_else(|| invalid(path, format!("{} out of range", self.name)))
    }
}

/// The values of a percentage column: `DECIMAL(9,2)` with ULP adjustments (see `pct.rs`; read as 32-bit
/// decimals where stored as `int32`, else as 128-bit ones), or `float32` as files written before the decimals
/// stored them.
#[derive(Clone, Copy)]
pub(super) enum PctValues<'a> {
    Decimal32(&'a PrimitiveArray<Decimal32Type>),
    Decimal(&'a PrimitiveArray<Decimal128Type>),
    Float(&'a PrimitiveArray<Float32Type>),
}

/// A percentage and its ULP adjustment; a null carries adjustment 0.
#[inline(always)]
pub(super) fn decimal_pct(
    a: PctValues<'_>,
    i: usize,
    adj: i32,
    path: &Path,
    name: &str,
) -> Result<Option<f32>, Error> {
    let q = match a {
        PctValues::Float(f) if adj == 0 => return Ok(opt(f, i)),
        PctValues::Float(_) => None,
        PctValues::Decimal32(d) => opt(d, i).map(i128::from),
        PctValues::Decimal(d) => opt(d, i),
    };
    match q {
        Some(q) => {
            let q = i32::try_from(q).map_err(|_| invalid(path, format!("{name} out of range")))?;
            Ok(Some(pct::decode(q, adj)))
        }
        None if adj == 0 => Ok(None),
        None => Err(invalid(
            path,
            format!("{name} is null but has a ULP adjustment"),
        )),
    }
}
