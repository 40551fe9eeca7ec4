//! Sequences of a record decoded with a cap on their length, checked as they are read.
//!
//! A record's bytes are bounded (a frame, a decompressed record), but what postcard builds from them is not: an
//! element of a few bytes (a process referred to by index, an empty string) can take a hundred or more in
//! memory, so a hostile record of 16 MiB would decode to hundreds of MB before any check of the decoded sample
//! refused it. Every sequence of the frozen layouts goes through [`seq`] instead: past [`MAX_ITEMS`] elements
//! the record does not decode (damage), and at most that many are ever allocated for one sequence. The bytes
//! written do not change.

use std::fmt;
use std::marker::PhantomData;

use serde::de::{Deserialize, Deserializer, Error, SeqAccess, Visitor};

/// The most elements a sequence of a record may hold: two top lists of `u16::MAX` processes (a sample lists the
/// union of the top N by CPU and by memory, N a `u16`), more than any other sequence of a sample holds.
pub(crate) const MAX_ITEMS: usize = 2 << 16;

/// Deserializes a `Vec<T>` of at most [`MAX_ITEMS`] elements (`#[serde(deserialize_with = "bounded::seq")]`).
pub(crate) fn seq<'de, D, T>(d: D) -> Result<Vec<T>, D::Error>
where
    D: Deserializer<'de>,
    T: Deserialize<'de>,
{
    d.deserialize_seq(Capped(PhantomData))
}

struct Capped<T>(PhantomData<T>);

impl<'de, T: Deserialize<'de>> Visitor<'de> for Capped<T> {
    type Value = Vec<T>;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        write!(f, "a sequence of at most {MAX_ITEMS} elements")
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Vec<T>, A::Error> {
        let claimed = seq.size_hint().unwrap_or(0);
        if claimed > MAX_ITEMS {
            return Err(A::Error::invalid_length(claimed, &self));
        }
        // What a record claims is reserved only up to 1 MiB (as serde's own sequences do): the rest grows with
        // the elements actually read.
        let mut out = Vec::with_capacity(claimed.min((1 << 20) / size_of::<T>().max(1)));
        while let Some(item) = seq.next_element()? {
            if out.len() == MAX_ITEMS {
                return Err(A::Error::invalid_length(MAX_ITEMS + 1, &self));
            }
            out.push(item);
        }
        Ok(out)
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
pub(crate) mod tests {
    use std::alloc::{GlobalAlloc, Layout, System};
    use std::cell::Cell;

    use serde::{Deserialize, Serialize};

    thread_local! {
        static LIVE: Cell<isize> = const { Cell::new(0) };
        static PEAK: Cell<isize> = const { Cell::new(0) };
    }

    fn moved(by: isize) {
        let _ = LIVE.try_with(|live| {
            live.set(live.get() + by);
            let _ = PEAK.try_with(|peak| peak.set(peak.get().max(live.get())));
        });
    }

    /// The unit tests' allocator: the system's, counting what each thread holds at most.
    struct Counting;

    // SAFETY: every call goes to `System` with the same arguments; the counting touches thread-locals only.
    unsafe impl GlobalAlloc for Counting {
        unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
            let p = unsafe { System.alloc(layout) };
            if !p.is_null() {
                moved(layout.size() as isize);
            }
            p
        }
        unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
            let p = unsafe { System.alloc_zeroed(layout) };
            if !p.is_null() {
                moved(layout.size() as isize);
            }
            p
        }
        unsafe fn dealloc(&self, p: *mut u8, layout: Layout) {
            unsafe { System.dealloc(p, layout) };
            moved(-(layout.size() as isize));
        }
        unsafe fn realloc(&self, p: *mut u8, layout: Layout, size: usize) -> *mut u8 {
            let q = unsafe { System.realloc(p, layout, size) };
            if !q.is_null() {
                moved(size as isize - layout.size() as isize);
            }
            q
        }
    }

    #[global_allocator]
    static COUNTING: Counting = Counting;

    /// The most bytes this thread held at once while `f` ran, beyond what it held before.
    pub(crate) fn peak_heap_of<R>(f: impl FnOnce() -> R) -> (R, usize) {
        let start = LIVE.with(Cell::get);
        PEAK.with(|p| p.set(start));
        let r = f();
        (r, (PEAK.with(Cell::get) - start).max(0) as usize)
    }

    #[derive(Serialize, Deserialize)]
    struct Plain {
        items: Vec<String>,
    }

    #[derive(Debug, Deserialize)]
    struct Bounded {
        #[serde(deserialize_with = "super::seq")]
        items: Vec<String>,
    }

    /// Empty strings take one byte each in a record and 24 in memory: 4 million of them would be 96 MiB.
    #[test]
    fn a_sequence_past_the_cap_is_refused_before_it_is_built() {
        let hostile = postcard::to_allocvec(&Plain {
            items: vec![String::new(); 4 << 20],
        })
        .unwrap();
        let (plain, plain_peak) = peak_heap_of(|| postcard::from_bytes::<Plain>(&hostile));
        assert_eq!(plain.unwrap().items.len(), 4 << 20);
        let (bounded, peak) = peak_heap_of(|| postcard::from_bytes::<Bounded>(&hostile));
        assert!(bounded.is_err());
        assert!(plain_peak > 96 << 20, "{plain_peak}");
        // At most the cap's elements: 3 MiB here.
        assert!(peak <= super::MAX_ITEMS * 24, "{peak}");
        // A record that claims the cap and holds nothing reserves at most 1 MiB before it is refused.
        let mut empty = postcard::to_allocvec(&super::MAX_ITEMS).unwrap();
        empty.push(0);
        let (bounded, peak) = peak_heap_of(|| postcard::from_bytes::<Bounded>(&empty));
        assert!(bounded.is_err());
        assert!(peak <= 1 << 20, "{peak}");
        // Up to the cap, the same sequence.
        let most = postcard::to_allocvec(&Plain {
            items: vec!["x".into(); super::MAX_ITEMS],
        })
        .unwrap();
        let back = postcard::from_bytes::<Bounded>(&most).unwrap();
        assert_eq!(back.items.len(), super::MAX_ITEMS);
    }
}
