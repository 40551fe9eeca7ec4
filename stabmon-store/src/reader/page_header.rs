//! A Parquet page header checked before the parquet crate parses it.
//!
//! The crate reads a page header (Thrift compact protocol) straight from the file, and two of its habits let a
//! few damaged bytes cost minutes: it skips the elements of a list, set or map of booleans without reading a
//! byte for each (so a list declaring two billion of them is two billion turns of a loop, and lists of such
//! lists multiply), and it skips a `double` or a UUID at the end of its input as if the bytes were there. So
//! before the crate reads a page header of a column chunk, [`check`] walks the same bytes the way the crate's
//! `PageHeader::read_thrift_without_stats` (parquet 60, the reading pages take) does, field by field, and
//! refuses what would make that walk cost more than its bytes:
//! - a list, set or map of booleans that is not empty (no page header of the format has one);
//! - a list, set or map declaring more elements, or a binary declaring more bytes, than the bytes left;
//! - a field the crate reads as a known type (the page's sizes, its kind, its data page header) sent with
//!   another type, after which the crate would read the bytes otherwise than this walk;
//! - nesting deeper than the crate's own limit of 64.
//!
//! A header that passes is read by the crate over exactly the bytes walked here, each element taking at least
//! one byte, so reading it costs at most as many steps as the header has bytes.
//!
//! The crate parses a file's footer with the same skips (from memory, so not past its end): [`check_footer`]
//! walks it with the same rules first.

use std::fmt;

/// Why a page header was not accepted.
#[derive(Debug, PartialEq, Eq)]
pub(super) enum Refused {
    /// The bytes end inside the header: more are needed to tell (or the header runs past its column chunk).
    Short,
    /// The header is damaged; the reason.
    Bad(String),
}

impl fmt::Display for Refused {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Refused::Short => f.write_str("it runs past the end of its bytes"),
            Refused::Bad(why) => f.write_str(why),
        }
    }
}

/// The parquet crate's limit on nested values it skips (`DEFAULT_SKIP_DEPTH`).
const SKIP_DEPTH: u8 = 64;

/// Thrift compact protocol types, as the low four bits of a field header or a container's element type.
mod ty {
    pub const STOP: u8 = 0;
    pub const TRUE: u8 = 1;
    pub const FALSE: u8 = 2;
    pub const BYTE: u8 = 3;
    pub const I16: u8 = 4;
    pub const I32: u8 = 5;
    pub const I64: u8 = 6;
    pub const DOUBLE: u8 = 7;
    pub const BINARY: u8 = 8;
    pub const LIST: u8 = 9;
    pub const SET: u8 = 10;
    pub const MAP: u8 = 11;
    pub const STRUCT: u8 = 12;
    pub const UUID: u8 = 13;
}

/// What the crate reads a field of a page header as, by struct and field id.
#[derive(Clone, Copy)]
enum Known {
    /// An `i32` (or an enum stored as one): a varint, whatever type the field claims.
    I32,
    /// A bool, held in the field header itself.
    Bool,
    /// A struct the crate parses field by field.
    Struct(Shape),
}

/// The structs of a page header the crate parses field by field (others it skips).
#[derive(Clone, Copy)]
enum Shape {
    PageHeader,
    DataPage,
    IndexPage,
    DictionaryPage,
    DataPageV2,
}

impl Shape {
    /// The crate's reading of field `id`, `None` for a field it skips whatever its type.
    fn field(self, id: i16) -> Option<Known> {
        match (self, id) {
            (Shape::PageHeader, 1..=4) => Some(Known::I32),
            (Shape::PageHeader, 5) => Some(Known::Struct(Shape::DataPage)),
            (Shape::PageHeader, 6) => Some(Known::Struct(Shape::IndexPage)),
            (Shape::PageHeader, 7) => Some(Known::Struct(Shape::DictionaryPage)),
            (Shape::PageHeader, 8) => Some(Known::Struct(Shape::DataPageV2)),
            // Field 5 of a data page header (its statistics) is skipped: pages are read without them.
            (Shape::DataPage, 1..=4) => Some(Known::I32),
            (Shape::DictionaryPage, 1 | 2) => Some(Known::I32),
            (Shape::DictionaryPage, 3) => Some(Known::Bool),
            (Shape::DataPageV2, 1..=6) => Some(Known::I32),
            (Shape::DataPageV2, 7) => Some(Known::Bool),
            _ => None,
        }
    }
}

/// Checks a file's footer metadata (`FileMetaData`, the bytes before its last eight), before the parquet crate
/// parses it from a slice: walked as a plain Thrift struct with the rules above on every value it skips. The
/// crate parses the footer's known fields by their types without looking at the types sent, so this walk
/// takes the crate's path only where those agree (they do in any footer a writer wrote): it stops the
/// damage random bytes do, not every footer made to hang the crate.
pub(super) fn check_footer(bytes: &[u8]) -> Result<(), Refused> {
    let mut w = Walk {
        bytes,
        at: 0,
        total: bytes.len() as u64,
    };
    w.skip(ty::STRUCT, SKIP_DEPTH)
}

/// Checks the page header at the start of `bytes`, the first bytes of the `total` from the header's start to the
/// end of its column chunk; gives the header's length in bytes. [`Refused::Short`] where `bytes` end inside it.
pub(super) fn check(bytes: &[u8], total: u64) -> Result<usize, Refused> {
    let mut w = Walk {
        bytes,
        at: 0,
        total: total.max(bytes.len() as u64),
    };
    w.parsed(Shape::PageHeader)?;
    Ok(w.at)
}

struct Walk<'a> {
    bytes: &'a [u8],
    at: usize,
    /// The bytes to the end of the column chunk, from the start of `bytes`.
    total: u64,
}

fn bad(why: String) -> Refused {
    Refused::Bad(why)
}

fn type_name(t: u8) -> &'static str {
    match t {
        ty::TRUE | ty::FALSE => "bool",
        ty::BYTE => "byte",
        ty::I16 => "i16",
        ty::I32 => "i32",
        ty::I64 => "i64",
        ty::DOUBLE => "double",
        ty::BINARY => "binary",
        ty::LIST => "list",
        ty::SET => "set",
        ty::MAP => "map",
        ty::STRUCT => "struct",
        ty::UUID => "uuid",
        _ => "unknown",
    }
}

impl Walk<'_> {
    /// The bytes left to the end of the column chunk.
    fn left(&self) -> u64 {
        self.total - self.at as u64
    }

    fn byte(&mut self) -> Result<u8, Refused> {
        let b = *self.bytes.get(self.at).ok_or(Refused::Short)?;
        self.at += 1;
        Ok(b)
    }

    fn skip_bytes(&mut self, n: u64) -> Result<(), Refused> {
        match usize::try_from(n).ok().and_then(|n| self.at.checked_add(n)) {
            Some(to) if to <= self.bytes.len() => {
                self.at = to;
                Ok(())
            }
            _ => Err(Refused::Short),
        }
    }

    /// A varint, as the crate reads it (any number of bytes; past 64 bits the shift wraps around, as in its reader).
    fn varint(&mut self) -> Result<u64, Refused> {
        let mut v = 0u64;
        let mut shift = 0u32;
        loop {
            let b = self.byte()?;
            v |= u64::from(b & 0x7f).wrapping_shl(shift);
            if b & 0x80 == 0 {
                return Ok(v);
            }
            shift = shift.saturating_add(7);
        }
    }

    /// A field header: its type (`STOP` at the end of a struct) and id, as the crate's `read_field_begin`.
    fn field(&mut self, last: i16) -> Result<(u8, i16), Refused> {
        let b = self.byte()?;
        let t = b & 0x0f;
        if t == ty::STOP {
            return Ok((ty::STOP, 0));
        }
        if t > ty::UUID {
            return Err(bad(format!("a field of unknown type {t}")));
        }
        let delta = b >> 4;
        let id = if delta == 0 {
            // A zigzag varint, cut to i16 as the crate does.
            let v = self.varint()?;
            ((v >> 1) as i64 ^ -((v & 1) as i64)) as i16
        } else {
            last.checked_add(i16::from(delta))
                .ok_or_else(|| bad(format!("field ids past {last} overflow")))?
        };
        Ok((t, id))
    }

    /// A struct the crate parses field by field.
    fn parsed(&mut self, shape: Shape) -> Result<(), Refused> {
        let mut last = 0i16;
        loop {
            let (t, id) = self.field(last)?;
            if t == ty::STOP {
                return Ok(());
            }
            match shape.field(id) {
                Some(Known::I32) if t == ty::I32 => {
                    self.varint()?;
                }
                Some(Known::Bool) if t == ty::TRUE || t == ty::FALSE => {}
                Some(Known::Struct(inner)) if t == ty::STRUCT => self.parsed(inner)?,
                Some(_) => {
                    return Err(bad(format!(
                        "field {id} is stored as a {}, not as the format's type",
                        type_name(t)
                    )));
                }
                None => self.skip(t, SKIP_DEPTH)?,
            }
            last = id;
        }
    }

    /// A container's element type, as the crate's `ElementType` reads it; booleans refused.
    fn element(&mut self, t: u8, count: u64, what: &str) -> Result<u8, Refused> {
        match t {
            ty::TRUE | ty::FALSE if count > 0 => Err(bad(format!(
                "a {what} of {count} booleans (the Parquet reader would skip them without reading them)"
            ))),
            ty::TRUE..=ty::UUID => Ok(t),
            _ => Err(bad(format!("a {what} of elements of unknown type {t}"))),
        }
    }

    /// Checks that `count` elements of at least a byte each can be in what is left.
    fn fits(&self, count: u64, what: &str) -> Result<(), Refused> {
        if count > self.left() {
            return Err(bad(format!(
                "a {what} of {count} elements in {} bytes",
                self.left()
            )));
        }
        Ok(())
    }

    /// A value of type `t` the crate skips, at `depth` levels from its limit (`skip_till_depth`).
    fn skip(&mut self, t: u8, depth: u8) -> Result<(), Refused> {
        if depth == 0 {
            return Err(bad(format!(
                "values nested deeper than {SKIP_DEPTH} levels"
            )));
        }
        match t {
            ty::TRUE | ty::FALSE => Ok(()),
            ty::BYTE => self.skip_bytes(1),
            ty::I16 | ty::I32 | ty::I64 => self.varint().map(drop),
            ty::DOUBLE => self.skip_bytes(8),
            ty::UUID => self.skip_bytes(16),
            ty::BINARY => {
                let len = self.varint()?;
                if len > self.left() {
                    return Err(bad(format!(
                        "a binary of {len} bytes in {} bytes",
                        self.left()
                    )));
                }
                self.skip_bytes(len)
            }
            ty::STRUCT => loop {
                let (t, _) = self.field(0)?;
                if t == ty::STOP {
                    return Ok(());
                }
                self.skip(t, depth - 1)?;
            },
            ty::LIST | ty::SET => {
                let what = if t == ty::LIST { "list" } else { "set" };
                let h = self.byte()?;
                if h == 0 {
                    return Ok(());
                }
                let count = match h >> 4 {
                    15 => self.varint()?,
                    n => u64::from(n),
                };
                if count > i32::MAX as u64 {
                    return Err(bad(format!("a {what} of {count} elements")));
                }
                let e = self.element(h & 0x0f, count, what)?;
                self.fits(count, what)?;
                for _ in 0..count {
                    self.skip(e, depth - 1)?;
                }
                Ok(())
            }
            ty::MAP => {
                let count = self.varint()?;
                if count > i32::MAX as u64 {
                    return Err(bad(format!("a map of {count} elements")));
                }
                if count == 0 {
                    return Ok(());
                }
                let kv = self.byte()?;
                let k = self.element(kv >> 4, count, "map")?;
                let v = self.element(kv & 0x0f, count, "map")?;
                self.fits(count, "map")?;
                for _ in 0..count {
                    self.skip(k, depth - 1)?;
                    self.skip(v, depth - 1)?;
                }
                Ok(())
            }
            _ => Err(bad(format!("a value of unknown type {t}"))),
        }
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    /// A data page header as the parquet crate writes it: a data page of 3 values, 18 bytes, encodings 9, 3, 3.
    const DATA_PAGE: [u8; 16] = [
        0x15, 0x00, 0x15, 0x24, 0x15, 0x24, 0x2c, 0x15, 0x06, 0x15, 0x12, 0x15, 0x06, 0x15, 0x06,
        0x00,
    ];

    /// The data page header with `fields` after its own (the last was id 5) and its stop.
    fn with_stop(fields: &[u8]) -> Vec<u8> {
        [&DATA_PAGE[..], fields, &[0]].concat()
    }

    /// Checks `bytes` as the whole rest of a column chunk.
    fn check_all(bytes: &[u8]) -> Result<usize, Refused> {
        check(bytes, bytes.len() as u64)
    }

    #[test]
    fn a_written_header_passes_with_its_length() {
        let mut bytes = DATA_PAGE.to_vec();
        bytes.push(0); // its stop
        bytes.extend_from_slice(&[0xaa; 18]); // the page
        assert_eq!(check(&bytes, bytes.len() as u64), Ok(DATA_PAGE.len() + 1));
        // Cut anywhere inside, more bytes are needed.
        for n in 0..=DATA_PAGE.len() {
            assert_eq!(
                check(&bytes[..n], bytes.len() as u64),
                Err(Refused::Short),
                "{n}"
            );
        }
    }

    #[test]
    fn unknown_fields_are_walked_as_the_crate_skips_them() {
        // Field 9 as a list of two i64, then field 10 as a binary of 3 bytes; a list of no booleans.
        let bytes = with_stop(&[
            0x49, 0x26, 0x02, 0x04, 0x18, 0x03, b'a', b'b', b'c', 0x19, 0x02,
        ]);
        assert_eq!(check(&bytes, bytes.len() as u64), Ok(bytes.len()));
    }

    #[test]
    fn lists_of_booleans_and_oversized_lists_are_refused() {
        // Field 9: a list of 2^31 - 1 booleans, which the crate would skip a billion times without reading.
        let e = check_all(&with_stop(&[0x49, 0xf2, 0xff, 0xff, 0xff, 0xff, 0x07])).unwrap_err();
        assert!(e.to_string().contains("2147483647 booleans"), "{e}");
        // A map with boolean values.
        let e = check_all(&with_stop(&[0x4b, 0x01, 0x52, 0x00])).unwrap_err();
        assert!(e.to_string().contains("booleans"), "{e}");
        // A list of a million doubles in a few bytes.
        let e = check_all(&with_stop(&[0x49, 0xf7, 0xc0, 0x84, 0x3d])).unwrap_err();
        assert!(e.to_string().contains("1000000 elements"), "{e}");
        // A binary longer than what is left.
        let e = check_all(&with_stop(&[0x48, 0x80, 0x01, 0x00])).unwrap_err();
        assert!(e.to_string().contains("binary of 128 bytes"), "{e}");
        // The same where the chunk goes on past the bytes at hand: more are needed to tell.
        assert_eq!(
            check(&with_stop(&[0x48, 0x80, 0x01, 0x00]), 200),
            Err(Refused::Short)
        );
    }

    #[test]
    fn a_footer_is_walked_as_a_struct_and_lists_of_booleans_in_it_are_refused() {
        // Field 1 (version) 1, field 2 a list of one struct holding field 4 "ts" and a list of no booleans.
        let good = [
            0x15, 0x02, 0x19, 0x1c, 0x48, 0x02, b't', b's', 0x19, 0x02, 0x00, 0x00,
        ];
        assert_eq!(check_footer(&good), Ok(()));
        assert_eq!(check_footer(&good[..good.len() - 1]), Err(Refused::Short));
        // The same struct with a list of 300,000,000 booleans, which the crate skips a boolean at a time.
        let bad = [
            0x15, 0x02, 0x19, 0x1c, 0x19, 0xf2, 0x80, 0xc6, 0x86, 0x8f, 0x01, 0x00, 0x00,
        ];
        let e = check_footer(&bad).unwrap_err();
        assert!(e.to_string().contains("300000000 booleans"), "{e}");
    }

    #[test]
    fn known_fields_of_another_type_and_deep_nesting_are_refused() {
        // Field 8 (data page header v2) as a list: the crate would parse its bytes as the struct.
        let e = check_all(&with_stop(&[0x39, 0x39, 0x39])).unwrap_err();
        assert!(e.to_string().contains("field 8 is stored as a list"), "{e}");
        // The page's type as a binary.
        let e = check_all(&[0x18, 0x01, 0x00, 0x00]).unwrap_err();
        assert!(
            e.to_string().contains("field 1 is stored as a binary"),
            "{e}"
        );
        // Field 9: lists of one list, 70 deep.
        let mut deep = vec![0x49];
        deep.extend(std::iter::repeat_n(0x19, 70));
        let e = check_all(&with_stop(&deep)).unwrap_err();
        assert!(e.to_string().contains("deeper than 64"), "{e}");
    }
}
