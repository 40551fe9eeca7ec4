//! [`Packed`]: a column of numbers kept in blocks, each block as narrow as its values allow.

/// Rows per block (a power of two).
const BLOCK_SHIFT: u32 = 10;
const BLOCK: usize = 1 << BLOCK_SHIFT;

/// A number a [`Packed`] column holds (sizes, intervals, times, percentages, codes), packed by its bits, so every
/// value comes back exactly as it went in (a `NaN` too).
pub trait Packable: Copy + sealed::Sealed {
    /// The value's bits.
    #[doc(hidden)]
    fn to_bits64(self) -> u64;
    /// The value of `bits`.
    #[doc(hidden)]
    fn from_bits64(bits: u64) -> Self;
    /// Whether the bits are an `f32`'s (which a block may keep as decimals).
    #[doc(hidden)]
    const FLOAT: bool = false;
    /// Whether the bits fit in 32 (a block's least and largest are then found 32 bits at a time).
    #[doc(hidden)]
    const BITS32: bool = false;
}

mod sealed {
    pub trait Sealed {}
    impl Sealed for u64 {}
    impl Sealed for i64 {}
    impl Sealed for u32 {}
    impl Sealed for u8 {}
    impl Sealed for f32 {}
}

macro_rules! packable_int {
    ($($t:ty),*) => {$(
        impl Packable for $t {
            fn to_bits64(self) -> u64 {
                self as u64
            }
            fn from_bits64(bits: u64) -> Self {
                bits as $t
            }
        }
    )*};
}

packable_int!(i64);

macro_rules! packable_int32 {
    ($($t:ty),*) => {$(
        impl Packable for $t {
            const BITS32: bool = true;
            fn to_bits64(self) -> u64 {
                u64::from(self)
            }
            fn from_bits64(bits: u64) -> Self {
                bits as $t
            }
        }
    )*};
}

packable_int32!(u32, u8);

impl Packable for u64 {
    fn to_bits64(self) -> u64 {
        self
    }
    fn from_bits64(bits: u64) -> Self {
        bits
    }
}

impl Packable for f32 {
    const FLOAT: bool = true;
    const BITS32: bool = true;
    fn to_bits64(self) -> u64 {
        u64::from(self.to_bits())
    }
    fn from_bits64(bits: u64) -> Self {
        f32::from_bits(bits as u32)
    }
}

/// Powers of ten a block of `f32`s may be kept in: `1.9` is `19 / 10`.
const POW10: [f32; 4] = [1.0, 10.0, 100.0, 1000.0];

/// `x` rounded half away from zero ([`f32::round`]) where the result is at most 2^24 (the whole numbers an `f32`
/// holds exactly), else `None` (so for `NaN` and the infinities). Below 2^23 through an integer: `f32::round` is
/// a library call on x86-64's baseline, and packing a block rounds each value once or twice.
fn whole(x: f32) -> Option<i64> {
    // Whole numbers up to 2^24 are exact in an f32; from 2^23 on every f32 is whole.
    const EXACT: f32 = 16_777_216.0;
    const WHOLE: f32 = 8_388_608.0;
    if x.abs() < WHOLE {
        // Truncated toward zero, and the fraction left is exact at these magnitudes.
        let t = x as i32;
        let frac = x - t as f32;
        Some(i64::from(t) + i64::from(frac >= 0.5) - i64::from(frac <= -0.5))
    } else if x.abs() <= EXACT {
        Some(x as i64)
    } else {
        None
    }
}

/// The `f32` bits of `k / 10^exp` (`k` a whole number an `f32` holds exactly: the division is correctly rounded,
/// so this is the `f32` nearest to the decimal, as parsing `"1.9"` gives it).
fn decimal_bits(k: i64, exp: usize) -> u64 {
    u64::from((k as f32 / POW10[exp]).to_bits())
}

/// A block's least and largest value, and the bits in which some value differs from the first: the offsets from
/// the least have as many trailing zeros as those differences (the lowest bit in which two values differ is the
/// lowest set bit of their difference).
#[derive(Debug, Clone, Copy)]
struct Spread {
    min: u64,
    max: u64,
    differ: u64,
}

impl Spread {
    /// Of `values`' bits, in one pass; where the bits fit in 32 ([`Packable::BITS32`]), 32 bits at a time (twice
    /// as many to a vector register, and no 64-bit comparison to emulate on x86-64's baseline).
    fn of<T: Packable>(values: &[T]) -> Spread {
        if T::BITS32 {
            let first = values.first().map_or(0, |v| v.to_bits64() as u32);
            let (mut min, mut max, mut differ) = (first, first, 0u32);
            for v in values {
                let b = v.to_bits64() as u32;
                min = min.min(b);
                max = max.max(b);
                differ |= b ^ first;
            }
            return Spread {
                min: u64::from(min),
                max: u64::from(max),
                differ: u64::from(differ),
            };
        }
        let first = values.first().map_or(0, |v| v.to_bits64());
        let (mut min, mut max, mut differ) = (first, first, 0);
        for v in values {
            let b = v.to_bits64();
            min = min.min(b);
            max = max.max(b);
            differ |= b ^ first;
        }
        Spread { min, max, differ }
    }
}

/// A block of rows: one value for the whole block, or each row's offset from the block's least value (shifted
/// right by the trailing zero bits all offsets share: memory sizes are whole pages) in 16 or 32 bits, or (`f32`s
/// with few decimals, such as pressure `1.9` or load `0.83`) each row's decimal offset in 16 bits, or the values
/// as they are.
#[derive(Debug, Clone)]
enum Block {
    Same(u64),
    Narrow16 {
        base: u64,
        shift: u32,
        v: Box<[u16]>,
    },
    Narrow32 {
        base: u64,
        shift: u32,
        v: Box<[u32]>,
    },
    Decimal {
        base: i64,
        exp: usize,
        v: Box<[u16]>,
    },
    Wide(Box<[u64]>),
}

impl Block {
    /// The block of `bits`, whose [`Spread`] is `spread`.
    fn pack(bits: &[u64], float: bool, spread: Spread) -> Block {
        let Spread { min, max, differ } = spread;
        if min == max {
            return Block::Same(min);
        }
        if float && let Some(b) = Block::decimal(bits) {
            return b;
        }
        let shift = differ.trailing_zeros();
        let span = (max - min) >> shift;
        let off = move |v: &u64| (v - min) >> shift;
        if span <= u64::from(u16::MAX) {
            Block::Narrow16 {
                base: min,
                shift,
                v: bits.iter().map(|v| off(v) as u16).collect(),
            }
        } else if span <= u64::from(u32::MAX) {
            Block::Narrow32 {
                base: min,
                shift,
                v: bits.iter().map(|v| off(v) as u32).collect(),
            }
        } else {
            Block::Wide(bits.into())
        }
    }

    /// `f32` bits as whole numbers of tenths, hundredths or thousandths within 16 bits of the least, where every
    /// one comes back bit for bit (a `NaN` or `-0.0` does not: such a block is packed by its bits).
    fn decimal(bits: &[u64]) -> Option<Block> {
        // Each value's whole number of tenths (or ...), kept from the pass that checks them (a block has at most
        // `BLOCK` rows; whole numbers up to 2^24 fit).
        let mut whole_numbers = [0i32; BLOCK];
        let ks = whole_numbers.get_mut(..bits.len())?;
        (0..POW10.len()).find_map(|exp| {
            // One pass to check every value and find the least and largest.
            let (mut lo, mut hi) = (i64::MAX, i64::MIN);
            for (slot, &b) in ks.iter_mut().zip(bits) {
                let k = whole(f32::from_bits(b as u32) * POW10[exp])?;
                if decimal_bits(k, exp) != b {
                    return None;
                }
                *slot = k as i32;
                lo = lo.min(k);
                hi = hi.max(k);
            }
            (hi - lo <= i64::from(u16::MAX)).then(|| Block::Decimal {
                base: lo,
                exp,
                v: ks.iter().map(|&k| (i64::from(k) - lo) as u16).collect(),
            })
        })
    }

    fn get(&self, k: usize) -> u64 {
        match self {
            Block::Same(v) => *v,
            Block::Narrow16 { base, shift, v } => base + (u64::from(v[k]) << shift),
            Block::Narrow32 { base, shift, v } => base + (u64::from(v[k]) << shift),
            Block::Decimal { base, exp, v } => decimal_bits(base + i64::from(v[k]), *exp),
            Block::Wide(v) => v[k],
        }
    }

    fn heap_bytes(&self) -> usize {
        match self {
            Block::Same(_) => 0,
            Block::Narrow16 { v, .. } | Block::Decimal { v, .. } => 2 * v.len(),
            Block::Narrow32 { v, .. } => 4 * v.len(),
            Block::Wide(v) => 8 * v.len(),
        }
    }
}

/// A column of numbers read by row, kept in blocks of 1,024 rows, each as narrow as its values allow: a block of
/// equal values (a quiet pressure column, swap that did not move) is one value; memory sizes, which move by pages
/// within a block, take 2 or 4 bytes a row instead of 8; percentages and load averages with two decimals take 2
/// bytes instead of 4. Values come back exactly, bit for bit.
///
/// ```
/// use stabmon_core::series::Packed;
///
/// let mut used: Packed<u64> = Packed::default();
/// for i in 0..30_000u64 {
///     used.push(8 << 30 | (i % 7) << 12);
/// }
/// assert_eq!(used.len(), 30_000);
/// assert_eq!(used.get(29_999), 8 << 30 | (29_999 % 7) << 12);
/// // Page steps within a block: 2 bytes a row, not 8.
/// assert!(used.heap_bytes() < 30_000 * 8 / 3);
/// let pressure: Packed<f32> = [0.0, f32::NAN, 1.5].into_iter().collect();
/// assert!(pressure.get(1).is_nan());
/// assert_eq!(pressure.iter().last(), Some(1.5));
/// ```
#[derive(Debug, Clone)]
pub struct Packed<T> {
    blocks: Vec<Block>,
    /// The rows after the last whole block, as they are.
    tail: Vec<T>,
}

impl<T> Default for Packed<T> {
    fn default() -> Self {
        Packed {
            blocks: Vec::new(),
            tail: Vec::new(),
        }
    }
}

impl<T: Packable> Packed<T> {
    /// Appends a row.
    pub fn push(&mut self, v: T) {
        if self.tail.capacity() == 0 {
            self.tail.reserve_exact(BLOCK);
        }
        self.tail.push(v);
        if self.tail.len() == BLOCK {
            let block = Self::pack_block(&self.tail);
            self.blocks.push(block);
            self.tail.clear();
        }
    }

    /// Inserts `v` before row `at` (at the end where `at` is the length or more).
    /// Cheap near the end (the rows after the last whole block are kept as they are); elsewhere the blocks from
    /// `at` on are packed again.
    pub fn insert(&mut self, at: usize, v: T) {
        let len = self.len();
        let at = at.min(len);
        let first = (at >> BLOCK_SHIFT).min(self.blocks.len());
        let rest: Vec<T> = self.range(first * BLOCK..len).collect();
        self.blocks.truncate(first);
        self.tail.clear();
        let split = at - first * BLOCK;
        for x in &rest[..split] {
            self.push(*x);
        }
        self.push(v);
        for x in &rest[split..] {
            self.push(*x);
        }
    }

    /// Row `i`; panics past the end, as a slice does.
    pub fn get(&self, i: usize) -> T {
        let (b, k) = (i >> BLOCK_SHIFT, i & (BLOCK - 1));
        match self.blocks.get(b) {
            Some(block) => T::from_bits64(block.get(k)),
            None => self.tail[i - self.blocks.len() * BLOCK],
        }
    }

    /// The number of rows.
    pub fn len(&self) -> usize {
        self.blocks.len() * BLOCK + self.tail.len()
    }

    /// Whether there are no rows.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The last row.
    pub fn last(&self) -> Option<T> {
        self.len().checked_sub(1).map(|i| self.get(i))
    }

    /// The rows in order (each block unpacked once, see [`range`](Self::range)).
    pub fn iter(&self) -> PackedIter<'_, T> {
        self.range(0..self.len())
    }

    /// Rows `lo..hi` (clipped to the rows there are).
    pub fn slice(&self, lo: usize, hi: usize) -> Packed<T> {
        self.range(lo..hi).collect()
    }

    /// The bytes the column holds (capacity).
    pub fn heap_bytes(&self) -> usize {
        self.blocks.capacity() * std::mem::size_of::<Block>()
            + self.blocks.iter().map(Block::heap_bytes).sum::<usize>()
            + self.tail.capacity() * std::mem::size_of::<T>()
    }
}

/// Reading many rows: a block is unpacked once into a small buffer, not once a row.
impl<T: Packable> Packed<T> {
    /// Rows `range` in order (clipped to the rows there are), each block unpacked once: what a loop over many rows
    /// reads instead of [`get`](Self::get) by index.
    ///
    /// ```
    /// use stabmon_core::series::Packed;
    ///
    /// let p: Packed<u64> = (0..5_000u64).map(|i| i * 4096).collect();
    /// assert!(p.range(1_000..3_000).eq((1_000..3_000).map(|i| p.get(i))));
    /// assert_eq!(p.range(4_998..9_999).count(), 2);
    /// ```
    pub fn range(&self, range: std::ops::Range<usize>) -> PackedIter<'_, T> {
        let end = range.end.min(self.len());
        PackedIter {
            packed: self,
            next: range.start.min(end),
            end,
            buf: Vec::new(),
            pos: 0,
        }
    }

    /// Calls `f` with each row of `range` (clipped to the rows there are) in order, as runs of consecutive rows:
    /// `f(first row's index, rows)`, at most one block's rows a call.
    pub fn for_each_chunk(&self, range: std::ops::Range<usize>, mut f: impl FnMut(usize, &[T])) {
        let end = range.end.min(self.len());
        let mut i = range.start.min(end);
        let mut buf: Vec<T> = Vec::new();
        while i < end {
            let hi = self.fill(i, end, &mut buf);
            f(i, &buf);
            i = hi;
        }
    }

    /// Unpacks rows `i..` up to the end of `i`'s block (or `end`) into `buf`; returns the index after them.
    pub(super) fn fill(&self, i: usize, end: usize, buf: &mut Vec<T>) -> usize {
        buf.clear();
        let b = i >> BLOCK_SHIFT;
        let start = b * BLOCK;
        match self.blocks.get(b) {
            Some(block) => {
                let hi = end.min(start + BLOCK);
                block.unpack(i - start, hi - start, buf);
                hi
            }
            None => {
                let t = self.blocks.len() * BLOCK;
                buf.extend_from_slice(&self.tail[i - t..end - t]);
                end
            }
        }
    }
}

impl Block {
    /// Appends rows `lo..hi` of the block to `out`.
    fn unpack<T: Packable>(&self, lo: usize, hi: usize, out: &mut Vec<T>) {
        match self {
            Block::Same(v) => out.resize(out.len() + (hi - lo), T::from_bits64(*v)),
            Block::Narrow16 { base, shift, v } => out.extend(
                v[lo..hi]
                    .iter()
                    .map(|x| T::from_bits64(base + (u64::from(*x) << shift))),
            ),
            Block::Narrow32 { base, shift, v } => out.extend(
                v[lo..hi]
                    .iter()
                    .map(|x| T::from_bits64(base + (u64::from(*x) << shift))),
            ),
            Block::Decimal { base, exp, v } => out.extend(
                v[lo..hi]
                    .iter()
                    .map(|x| T::from_bits64(decimal_bits(base + i64::from(*x), *exp))),
            ),
            Block::Wide(v) => out.extend(v[lo..hi].iter().map(|x| T::from_bits64(*x))),
        }
    }
}

/// Rows of a [`Packed`] column in order, unpacked a block at a time ([`Packed::range`], [`Packed::iter`]).
#[derive(Debug, Clone)]
pub struct PackedIter<'a, T> {
    packed: &'a Packed<T>,
    /// The next row to unpack.
    next: usize,
    end: usize,
    /// Rows unpacked and not yet given.
    buf: Vec<T>,
    pos: usize,
}

impl<T: Packable> Iterator for PackedIter<'_, T> {
    type Item = T;

    fn next(&mut self) -> Option<T> {
        if self.pos == self.buf.len() {
            if self.next >= self.end {
                return None;
            }
            if self.buf.capacity() == 0 {
                self.buf.reserve_exact(BLOCK.min(self.end - self.next));
            }
            self.next = self.packed.fill(self.next, self.end, &mut self.buf);
            self.pos = 0;
        }
        let v = self.buf[self.pos];
        self.pos += 1;
        Some(v)
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        let n = self.buf.len() - self.pos + (self.end - self.next);
        (n, Some(n))
    }
}

impl<T: Packable> ExactSizeIterator for PackedIter<'_, T> {}

impl<T: Packable> PartialEq for Packed<T> {
    /// Equal rows, bit for bit (a `NaN` equals a `NaN`).
    fn eq(&self, o: &Self) -> bool {
        self.len() == o.len()
            && self
                .iter()
                .zip(o.iter())
                .all(|(a, b)| a.to_bits64() == b.to_bits64())
    }
}

impl<T: Packable> FromIterator<T> for Packed<T> {
    fn from_iter<I: IntoIterator<Item = T>>(it: I) -> Self {
        let mut out = Packed::default();
        it.into_iter().for_each(|x| out.push(x));
        out
    }
}

impl<T: Packable> Packed<T> {
    /// Appends `values` in order: the same rows and blocks as [`push`](Self::push)ing them one by one, but whole
    /// blocks of 1,024 rows are packed straight from the slice (a reader appending a decoded column at a time
    /// pays per block, not per row).
    pub fn extend_from_slice(&mut self, values: &[T]) {
        let mut values = values;
        if !self.tail.is_empty() {
            let take = (BLOCK - self.tail.len()).min(values.len());
            self.tail.extend_from_slice(&values[..take]);
            values = &values[take..];
            if self.tail.len() < BLOCK {
                return;
            }
            let block = Self::pack_block(&self.tail);
            self.blocks.push(block);
            self.tail.clear();
        }
        let mut whole = values.chunks_exact(BLOCK);
        for chunk in &mut whole {
            let block = Self::pack_block(chunk);
            self.blocks.push(block);
        }
        let rest = whole.remainder();
        if !rest.is_empty() {
            if self.tail.capacity() == 0 {
                self.tail.reserve_exact(BLOCK);
            }
            self.tail.extend_from_slice(rest);
        }
    }

    /// The block of `rows` (a whole block's), its bits gathered on the stack.
    fn pack_block(rows: &[T]) -> Block {
        let mut bits = [0u64; BLOCK];
        for (b, v) in bits.iter_mut().zip(rows) {
            *b = v.to_bits64();
        }
        Block::pack(&bits[..rows.len()], T::FLOAT, Spread::of(rows))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// `n` values whose blocks are each of another kind: equal values, page-sized steps (16-bit offsets), wide
    /// steps (32-bit), values too far apart for 32 bits, then near the top of the range.
    pub(super) fn every_kind_of_int(n: usize) -> Vec<u64> {
        (0..n as u64)
            .map(|i| match i as usize / BLOCK {
                0 => 42,
                1 => (7 << 30) + (i % 13) * 4096,
                2 => (i * 7_919_993) % (1 << 31),
                3 => (i % 3) << 40 | i,
                _ => u64::MAX - i,
            })
            .collect()
    }

    /// `whole` rounds as `f32::round` does, within the whole numbers an `f32` holds exactly.
    #[test]
    fn whole_rounds_half_away_from_zero() {
        let mut xs: Vec<f32> = vec![
            0.0,
            -0.0,
            0.5,
            -0.5,
            1.5,
            -1.5,
            2.5,
            -2.5,
            0.49999997,
            -0.49999997,
            0.50000006,
            1e-30,
            8_388_607.5,
            -8_388_607.5,
            8_388_608.0,
            8_388_609.0,
            16_777_216.0,
            -16_777_216.0,
            16_777_218.0,
            f32::MAX,
            f32::MIN,
            f32::INFINITY,
            f32::NEG_INFINITY,
            f32::NAN,
            123.456,
        ];
        let mut rng = Rng(7);
        for _ in 0..200_000 {
            let bits = rng.next() as u32;
            xs.push(f32::from_bits(bits));
            // Values with few decimals, as packed: scaled by 10^0..10^3.
            xs.push((rng.next() % 2_000_001) as f32 / 100.0 * POW10[(rng.next() % 4) as usize]);
        }
        for x in xs {
            let r = x.round();
            let want = (!r.is_nan() && r.abs() <= 16_777_216.0).then_some(r as i64);
            assert_eq!(whole(x), want, "{x} ({:#x})", x.to_bits());
        }
    }

    #[test]
    fn every_kind_of_block_gives_back_its_values() {
        // Equal values, page-sized steps (16-bit offsets), wide steps (32-bit), values too far apart for 32 bits,
        // floats with NaNs, and a tail that is not a whole block.
        let n = 5 * BLOCK + 17;
        let v = every_kind_of_int(n);
        let p: Packed<u64> = v.iter().copied().collect();
        assert_eq!(p.len(), n);
        assert_eq!(p.iter().collect::<Vec<_>>(), v);
        assert!(matches!(p.blocks[0], Block::Same(42)));
        assert!(matches!(p.blocks[1], Block::Narrow16 { shift: 12, .. }));
        assert!(matches!(p.blocks[2], Block::Narrow32 { .. }));
        assert!(matches!(p.blocks[3], Block::Wide(_)));
        assert_eq!(p.last(), v.last().copied());
        assert_eq!(
            p.slice(BLOCK - 3, 2 * BLOCK + 5).iter().collect::<Vec<_>>(),
            v[BLOCK - 3..2 * BLOCK + 5]
        );
        assert_eq!(p.slice(n - 2, n + 9).len(), 2);
        assert!(p.slice(9, 3).is_empty());
        // Insertion in the tail, in a block, and at the end.
        let mut w = v.clone();
        let mut q = p.clone();
        for (at, x) in [(n - 5, 1), (BLOCK + 3, 2), (n + 2, 3), (0, 4)] {
            w.insert(at, x);
            q.insert(at, x);
        }
        assert_eq!(q.iter().collect::<Vec<_>>(), w);

        let f: Vec<f32> = (0..n)
            .map(|i| match i % 5 {
                0 => f32::NAN,
                1 => -0.0,
                _ => i as f32 / 7.0,
            })
            .collect();
        let q: Packed<f32> = f.iter().copied().collect();
        assert!(q.blocks.iter().all(|b| matches!(b, Block::Narrow32 { .. })));
        assert!(q.iter().zip(&f).all(|(a, b)| a.to_bits() == b.to_bits()));
        assert_eq!(q, f.iter().copied().collect());
        // Decimals (pressure 1.9, load 0.83, a busy 23.75 %) in 16 bits; one value that is not a decimal, or a
        // -0.0, and the block is packed by its bits.
        let dec: Vec<f32> = (0..3 * BLOCK)
            .map(|i| match (i / BLOCK, i % 97) {
                (0, _) => (i % 300) as f32 / 100.0,
                (1, 5) => 1.0 / 3.0,
                (1, _) => 23.75 + (i % 8) as f32 * 0.25,
                (_, 7) => -0.0,
                _ => (i % 40) as f32 / 10.0,
            })
            .collect();
        let d: Packed<f32> = dec.iter().copied().collect();
        assert!(matches!(d.blocks[0], Block::Decimal { exp: 2, .. }));
        assert!(!matches!(d.blocks[1], Block::Decimal { .. }));
        assert!(!matches!(d.blocks[2], Block::Decimal { .. }));
        assert!(d.iter().zip(&dec).all(|(a, b)| a.to_bits() == b.to_bits()));
        let mut other: Packed<f32> = f.iter().copied().collect();
        other.push(1.0);
        assert_ne!(q, other);
    }

    /// A small xorshift generator: the same "random" blocks on every run.
    struct Rng(u64);
    impl Rng {
        fn next(&mut self) -> u64 {
            self.0 ^= self.0 << 13;
            self.0 ^= self.0 >> 7;
            self.0 ^= self.0 << 17;
            self.0
        }
        fn below(&mut self, n: usize) -> usize {
            (self.next() % n as u64) as usize
        }
    }

    /// Every range of `p` read by block (`range`, `for_each_chunk`, `iter`) is what `get` gives row by row.
    fn check_block_reads<T: Packable + std::fmt::Debug>(p: &Packed<T>, rng: &mut Rng) {
        let bits = |v: T| v.to_bits64();
        let n = p.len();
        assert!(p.iter().map(bits).eq((0..n).map(|i| bits(p.get(i)))));
        assert_eq!(p.iter().len(), n);
        for _ in 0..200 {
            let lo = rng.below(n + 20);
            let hi = lo + rng.below(3 * BLOCK);
            let want: Vec<u64> = (lo..hi.min(n)).map(|i| bits(p.get(i))).collect();
            let mut it = p.range(lo..hi);
            assert_eq!(it.len(), want.len());
            // Partly consumed, the rest is still exact.
            let first: Vec<u64> = it.by_ref().take(5).map(bits).collect();
            assert_eq!(it.len(), want.len() - first.len());
            assert!(
                first
                    .into_iter()
                    .chain(it.map(bits))
                    .eq(want.iter().copied())
            );
            let mut got: Vec<u64> = Vec::new();
            let mut at = lo.min(n);
            p.for_each_chunk(lo..hi, |first, rows| {
                assert_eq!(first, at);
                assert!(!rows.is_empty() && rows.len() <= BLOCK);
                at += rows.len();
                got.extend(rows.iter().map(|v| bits(*v)));
            });
            assert_eq!(got, want);
        }
    }

    #[test]
    fn block_reads_give_what_get_gives_on_random_blocks() {
        let mut rng = Rng(0x9e37_79b9_7f4a_7c15);
        // Blocks of every kind in random order: one value, runs of a few values, page steps (16-bit offsets),
        // wide steps (32-bit), values too far apart for 32 bits; then a tail that is not a whole block.
        let mut v: Vec<u64> = Vec::new();
        for _ in 0..40 {
            let kind = rng.below(5);
            let base = rng.next() >> rng.below(64);
            for _ in 0..BLOCK {
                let r = rng.next();
                v.push(match kind {
                    0 => base,
                    1 => base.wrapping_add((v.len() as u64 / 100 % 3) << 12),
                    2 => base.wrapping_add((r % 60_000) << 12),
                    3 => base.wrapping_add(r % (1 << 31)),
                    _ => r,
                });
            }
        }
        v.extend((0..rng.below(BLOCK)).map(|_| rng.next()));
        let p: Packed<u64> = v.iter().copied().collect();
        for kind in ["Same", "Narrow16", "Narrow32", "Wide"] {
            assert!(
                p.blocks.iter().any(|b| format!("{b:?}").starts_with(kind)),
                "no {kind} block"
            );
        }
        check_block_reads(&p, &mut rng);

        // f32 blocks: decimals, runs of a decimal, NaNs and -0.0 (packed by their bits), and thirds.
        let mut f: Vec<f32> = Vec::new();
        for _ in 0..40 {
            let kind = rng.below(4);
            for _ in 0..BLOCK {
                let r = rng.next();
                f.push(match kind {
                    0 => (r % 10_000) as f32 / 100.0,
                    1 => (f.len() / 300 % 4) as f32 / 10.0,
                    2 if r.is_multiple_of(9) => f32::NAN,
                    2 if r % 9 == 1 => -0.0,
                    _ => (r % 1000) as f32 / 3.0,
                });
            }
        }
        f.extend((0..17).map(|i| i as f32 / 7.0));
        let q: Packed<f32> = f.iter().copied().collect();
        assert!(q.blocks.iter().any(|b| matches!(b, Block::Decimal { .. })));
        assert!(!q.blocks.iter().all(|b| matches!(b, Block::Decimal { .. })));
        check_block_reads(&q, &mut rng);
        let empty: Packed<u8> = Packed::default();
        assert_eq!(empty.range(0..10).count(), 0);
        empty.for_each_chunk(0..10, |_, _| panic!("no rows"));
    }
}

#[cfg(test)]
mod extend_tests {
    use super::*;

    /// `extend_from_slice` of `v` cut into `cuts` pieces, onto `start` pushed one by one.
    fn extended<T: Packable>(start: &[T], v: &[T], cuts: &[usize]) -> Packed<T> {
        let mut p: Packed<T> = start.iter().copied().collect();
        let mut at = 0;
        for &c in cuts.iter().chain([&v.len()]) {
            let c = c.clamp(at, v.len());
            p.extend_from_slice(&v[at..c]);
            at = c;
        }
        p
    }

    /// Whether two columns hold the same blocks (of the same kinds and widths) and the same tail.
    fn same_blocks<T: Packable>(a: &Packed<T>, b: &Packed<T>) -> bool {
        a.blocks.len() == b.blocks.len()
            && a.blocks
                .iter()
                .zip(&b.blocks)
                .all(|(x, y)| format!("{x:?}") == format!("{y:?}"))
            && a.tail.len() == b.tail.len()
            && a.tail
                .iter()
                .zip(&b.tail)
                .all(|(x, y)| x.to_bits64() == y.to_bits64())
    }

    #[test]
    fn extending_packs_the_blocks_pushing_one_by_one_does() {
        // Every kind of block (equal values, 16-bit and 32-bit offsets, wide values, decimals, floats by their
        // bits with NaNs and -0.0) and a tail, appended in pieces that cross block boundaries or stay inside one,
        // onto an empty column and onto one with a tail.
        let n = 6 * BLOCK + 300;
        let ints = super::tests::every_kind_of_int(n);
        let floats: Vec<f32> = (0..n)
            .map(|i| match (i / BLOCK, i % 5) {
                (0, _) => (i % 300) as f32 / 100.0,
                (1, _) => 2.5,
                (2, 0) => f32::NAN,
                (2, 1) => -0.0,
                (3, _) => (i % 40) as f32 / 10.0,
                _ => i as f32 / 7.0,
            })
            .collect();
        let cut_sets: [&[usize]; 5] = [
            &[],
            &[1, 2, BLOCK - 1, BLOCK, BLOCK + 1],
            &[BLOCK / 2, 3 * BLOCK + 7],
            &[5 * BLOCK, 6 * BLOCK],
            &[17, 17, 2 * BLOCK + 1000],
        ];
        for cuts in cut_sets {
            for start in [0usize, 1, 700, BLOCK, BLOCK + 1023] {
                let pre: Vec<u64> = (0..start as u64).map(|i| i * 3).collect();
                let pushed: Packed<u64> = pre.iter().chain(&ints).copied().collect();
                let got = extended(&pre, &ints, cuts);
                assert_eq!(got, pushed, "u64, cuts {cuts:?}, start {start}");
                assert!(
                    same_blocks(&got, &pushed),
                    "u64, cuts {cuts:?}, start {start}"
                );
                assert_eq!(got.len(), start + n);

                let pre: Vec<f32> = (0..start).map(|i| i as f32 * 0.5).collect();
                let pushed: Packed<f32> = pre.iter().chain(&floats).copied().collect();
                let got = extended(&pre, &floats, cuts);
                assert_eq!(got, pushed, "f32, cuts {cuts:?}, start {start}");
                assert!(
                    same_blocks(&got, &pushed),
                    "f32, cuts {cuts:?}, start {start}"
                );
            }
        }
        // The kinds the values above were meant to cover are all there.
        let all: Packed<f32> = floats.iter().copied().collect();
        let kinds: Vec<String> = all
            .blocks
            .iter()
            .chain(&ints.iter().copied().collect::<Packed<u64>>().blocks)
            .map(|b| {
                format!("{b:?}")
                    .split([' ', '('])
                    .next()
                    .unwrap_or("")
                    .to_owned()
            })
            .collect();
        for kind in ["Same", "Narrow16", "Narrow32", "Decimal", "Wide"] {
            assert!(
                kinds.iter().any(|k| k == kind),
                "no {kind} block in {kinds:?}"
            );
        }
        // An empty slice changes nothing.
        let mut p: Packed<u32> = (0..10).collect();
        p.extend_from_slice(&[]);
        assert_eq!(p, (0..10).collect());
    }
}
