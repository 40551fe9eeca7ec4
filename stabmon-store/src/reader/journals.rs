//! The journals of a data directory: the samples not yet compacted into segments.
//!
//! A journal is decoded once for as long as it does not change, and its samples are kept packed
//! ([`JournalSamples`]): each on its own, in the store's serialization compressed against a recent sample of the
//! same journal, so that a reading holds an hour's journal in a few hundred bytes a sample instead of the few
//! kilobytes of a decoded one, and unpacks only the samples it asks for (a range, or some instants).

use std::collections::VecDeque;
use std::hash::{Hash, Hasher};
use std::path::{Path, PathBuf};
use std::sync::{Arc, PoisonError};

use stabmon_core::{Sample, Timestamp};

use crate::recorder::JOURNAL_DIR;

use super::StoreReader;
use super::range::Range;

/// The journals' samples as last decoded, with the files and contents (a hash of each) they were decoded from.
#[derive(Debug, Default)]
pub(super) struct JournalMemo {
    files: Vec<(PathBuf, u64)>,
    samples: Arc<JournalSamples>,
}

/// A hash of a journal's bytes: records are written into blocks written ahead of them, so a journal's length does
/// not tell whether it changed.
fn content_hash(bytes: &[u8]) -> u64 {
    let mut h = std::collections::hash_map::DefaultHasher::new();
    bytes.hash(&mut h);
    h.finish()
}

/// A packed sample is compressed against the serialized bytes of the first of each run of this many samples: the
/// same processes, names and command lines cost a few bytes, and any sample unpacks on its own.
const DICT_EVERY: usize = 256;
/// zstd's fastest level: packing an hour's journal costs a few milliseconds.
const PACK_LEVEL: i32 = 1;

/// The samples of the journals, in file order, each packed on its own.
#[derive(Debug, Default)]
pub(super) struct JournalSamples {
    hosts: Vec<String>,
    /// The serialized samples the packed ones are compressed against.
    dicts: Vec<Vec<u8>>,
    entries: Vec<Packed>,
    /// The clean stops the journals record.
    pub(super) stops: Vec<crate::codec::StopRecord>,
}

/// One sample: its host (an index into `hosts`) and time, and its bytes.
#[derive(Debug)]
struct Packed {
    ts_us: i64,
    host: u32,
    /// The index of the dictionary in `dicts`.
    dict: u32,
    /// The length of the serialized sample.
    raw_len: u32,
    bytes: Box<[u8]>,
}

impl JournalSamples {
    /// Packs `samples` (one journal's, in file order) after those already here; gives how many could not be
    /// packed.
    fn extend(&mut self, samples: impl IntoIterator<Item = Sample>) -> usize {
        let mut failed = 0;
        let mut compressor: Option<zstd::bulk::Compressor<'static>> = None;
        let mut in_dict = 0usize;
        for s in samples {
            let Ok(raw) = postcard::to_allocvec(&s) else {
                failed += 1;
                continue;
            };
            if compressor.is_none() || in_dict >= DICT_EVERY {
                compressor = zstd::bulk::Compressor::with_dictionary(PACK_LEVEL, &raw).ok();
                self.dicts.push(raw.clone());
                in_dict = 0;
            }
            in_dict += 1;
            let (Some(c), Ok(raw_len)) = (compressor.as_mut(), u32::try_from(raw.len())) else {
                failed += 1;
                continue;
            };
            let Ok(bytes) = c.compress(&raw) else {
                failed += 1;
                continue;
            };
            let host = match self.hosts.iter().position(|h| *h == s.host) {
                Some(i) => i,
                None => {
                    self.hosts.push(s.host.clone());
                    self.hosts.len() - 1
                }
            };
            self.entries.push(Packed {
                ts_us: s.ts.as_unix_micros(),
                host: u32::try_from(host).unwrap_or(u32::MAX),
                dict: u32::try_from(self.dicts.len() - 1).unwrap_or(u32::MAX),
                raw_len,
                bytes: bytes.into_boxed_slice(),
            });
        }
        failed
    }

    /// How many samples there are.
    #[cfg(test)]
    pub(super) fn len(&self) -> usize {
        self.entries.len()
    }

    /// The host of entry `i`.
    fn host_of(&self, i: usize) -> &str {
        let h = self.entries.get(i).map_or(usize::MAX, |e| e.host as usize);
        self.hosts.get(h).map_or("", String::as_str)
    }

    /// Each sample's host and time, in file order.
    pub(super) fn keys(&self) -> impl Iterator<Item = (&str, i64)> + '_ {
        (0..self.entries.len()).map(|i| (self.host_of(i), self.entries[i].ts_us))
    }

    /// Unpacks entry `i`; `None` if its bytes do not unpack (they were packed by this process, so only a bug
    /// would do that).
    fn unpack(
        &self,
        i: usize,
        d: &mut Option<(u32, zstd::bulk::Decompressor<'static>)>,
    ) -> Option<Sample> {
        let e = self.entries.get(i)?;
        if d.as_ref().is_none_or(|(k, _)| *k != e.dict) {
            let dict = self.dicts.get(e.dict as usize)?;
            *d = Some((
                e.dict,
                zstd::bulk::Decompressor::with_dictionary(dict).ok()?,
            ));
        }
        let (_, dec) = d.as_mut()?;
        let raw = dec.decompress(&e.bytes, e.raw_len as usize).ok()?;
        postcard::from_bytes(&raw).ok()
    }

    /// The samples of `host` in `range`, sorted by time and without repeats, as a queue that unpacks each as it
    /// is taken.
    pub(super) fn queue(self: &Arc<Self>, host: &str, range: Range) -> JournalQueue {
        let mut idx: Vec<usize> = (0..self.entries.len())
            .filter(|&i| host == self.host_of(i) && range.contains(self.entries[i].ts_us))
            .collect();
        // Stable: of repeats, the first in file order is kept.
        idx.sort_by_key(|&i| self.entries[i].ts_us);
        idx.dedup_by_key(|i| self.entries[*i].ts_us);
        JournalQueue {
            samples: Arc::clone(self),
            idx: idx.into(),
            decompressor: None,
        }
    }
}

/// Some of the journal's samples of one host, in time order, unpacked one at a time as they are taken.
#[derive(Default)]
pub(super) struct JournalQueue {
    samples: Arc<JournalSamples>,
    idx: VecDeque<usize>,
    decompressor: Option<(u32, zstd::bulk::Decompressor<'static>)>,
}

impl std::fmt::Debug for JournalQueue {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("JournalQueue")
            .field("len", &self.idx.len())
            .finish()
    }
}

impl JournalQueue {
    /// How many samples are left.
    pub(super) fn len(&self) -> usize {
        self.idx.len()
    }

    /// The time of the next sample.
    pub(super) fn front_ts(&self) -> Option<Timestamp> {
        let i = *self.idx.front()?;
        Some(Timestamp::from_unix_micros(self.samples.entries[i].ts_us))
    }

    /// The time of the last sample.
    pub(super) fn back_ts(&self) -> Option<Timestamp> {
        let i = *self.idx.back()?;
        Some(Timestamp::from_unix_micros(self.samples.entries[i].ts_us))
    }

    /// Keeps only the samples whose time (µs) `keep` accepts.
    pub(super) fn retain_ts(&mut self, mut keep: impl FnMut(i64) -> bool) {
        let entries = &self.samples.entries;
        self.idx.retain(|&i| keep(entries[i].ts_us));
    }

    /// Drops the next sample without unpacking it.
    pub(super) fn drop_front(&mut self) {
        self.idx.pop_front();
    }

    /// Takes the next sample, the one at [`front_ts`](Self::front_ts): `None` when there is none, or when it does
    /// not unpack (it is dropped all the same). Never a later sample in its place: callers take the front at the
    /// time they were told.
    pub(super) fn pop(&mut self) -> Option<Sample> {
        let i = self.idx.pop_front()?;
        self.samples.unpack(i, &mut self.decompressor)
    }
}

/// The samples in time order; one that does not unpack is left out.
impl Iterator for JournalQueue {
    type Item = Sample;

    fn next(&mut self) -> Option<Sample> {
        while !self.idx.is_empty() {
            if let Some(s) = self.pop() {
                return Some(s);
            }
        }
        None
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        (0, Some(self.idx.len()))
    }
}

impl StoreReader {
    /// Every sample of the journals (of a recorder still running, or that died), in file order, packed; an
    /// unreadable journal is reported once in [`warnings`](Self::warnings).
    ///
    /// Decoded once for as long as no journal changes: a reading that asks for many windows (one per incident for
    /// its culprit) reads a live journal's bytes each time but decodes them once, not once per window.
    pub(super) fn read_journals(&self) -> Arc<JournalSamples> {
        let Some(root) = &self.journal_root else {
            return Arc::default();
        };
        // Compacted and retired meanwhile: left out; any other file that cannot be read (a directory, no
        // permission) is a warning. A recycled file's older bytes after the end marker are neither hashed nor
        // decoded.
        let mut read: Vec<(PathBuf, Vec<u8>)> = Vec::new();
        for p in local_journals(root) {
            match std::fs::read(&p) {
                Ok(mut bytes) => {
                    bytes.truncate(crate::journal::records_end(&bytes));
                    read.push((p, bytes));
                }
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
                Err(e) => {
                    let warning =
                        format!("skipped {}: cannot read the journal ({e})", self.shown(&p));
                    self.warn_once(&p, warning);
                }
            }
        }
        let files: Vec<(PathBuf, u64)> = read
            .iter()
            .map(|(p, bytes)| (p.clone(), content_hash(bytes)))
            .collect();
        let mut memo = self
            .journal_memo
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        if memo.files == files {
            return Arc::clone(&memo.samples);
        }
        // The last decoding is dropped first: memory holds one.
        *memo = JournalMemo::default();
        let mut out = JournalSamples::default();
        for (path, bytes) in &read {
            let mut samples = Vec::new();
            // Streamed: one journal's samples are packed as they are decoded.
            let decoded = crate::codec::stream_journal(bytes.as_slice(), |s| {
                samples.push(s);
                if samples.len() >= DICT_EVERY {
                    out.extend(samples.drain(..));
                }
                Ok::<(), std::io::Error>(())
            });
            let failed = out.extend(samples);
            if let Ok(Ok(c)) = &decoded {
                out.stops.extend(c.stops.iter().cloned());
            }
            // Of a remote store, its URL rather than its local copy.
            let p = self.shown(path);
            let warning = match decoded {
                Ok(Ok(_)) if failed == 0 => None,
                // The journal's other samples are there.
                Ok(Ok(_)) => Some(format!(
                    "{p}: {failed} of its samples were left out (they could not be kept in memory)"
                )),
                Ok(Err(why)) => Some(format!("skipped {p}: not a readable journal ({why})")),
                Err(e) => Some(format!("skipped {p}: not a readable journal ({e})")),
            };
            if let Some(warning) = warning {
                self.warn_once(path, warning);
            }
        }
        let samples = Arc::new(out);
        *memo = JournalMemo {
            files,
            samples: Arc::clone(&samples),
        };
        samples
    }
}

/// The journals under `root/_journal/host=*/` (not the spare, `root/_journal/spare`).
pub(super) fn local_journals(root: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    let Ok(hosts) = std::fs::read_dir(root.join(JOURNAL_DIR)) else {
        return out;
    };
    for h in hosts.flatten() {
        if let Ok(files) = std::fs::read_dir(h.path()) {
            out.extend(
                files
                    .flatten()
                    .map(|f| f.path())
                    .filter(|p| p.extension().is_some_and(|e| e == "journal")),
            );
        }
    }
    out.sort();
    out
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use stabmon_core::synth::Synth;
    use std::time::Duration;

    /// Samples come back from their packing as they went in, in time order without repeats, across several
    /// dictionaries and hosts; packed, they take a fraction of their serialized bytes.
    #[test]
    fn packed_samples_unpack_equal_and_small() {
        let start = Timestamp::from_unix_secs(1_795_564_800);
        let at = |s: u64| start.saturating_add(Duration::from_secs(s));
        let a = Synth::new(start, Duration::from_secs(1))
            .count(700)
            .host("web-1")
            .latency_target("gw", 1.0, 0.2)
            .cpu_hog("xmrig", "./xmrig --pool x", at(100), at(200), 190.0)
            .generate();
        let b = Synth::new(start, Duration::from_secs(1))
            .count(50)
            .host("db-1")
            .generate();
        let mut all = JournalSamples::default();
        assert_eq!(all.extend(a[..300].iter().cloned()), 0);
        assert_eq!(all.extend(b.iter().cloned()), 0);
        // A repeat (a recovered journal can hold one) is kept once.
        assert_eq!(all.extend(a[299..].iter().cloned()), 0);
        assert_eq!(all.len(), 751);
        assert!(all.dicts.len() >= 3, "{}", all.dicts.len());
        let all = Arc::new(all);
        let got: Vec<Sample> = all.queue("web-1", Range::ALL).collect();
        assert!(got == a, "{} samples", got.len());
        let got: Vec<Sample> = all.queue("db-1", Range::ALL).collect();
        assert!(got == b);
        let range = Range {
            from: Some(at(10)),
            to: Some(at(20)),
        };
        let mut q = all.queue("db-1", range);
        assert_eq!(q.len(), 10);
        assert_eq!((q.front_ts(), q.back_ts()), (Some(at(10)), Some(at(19))));
        q.retain_ts(|t| t == at(15).as_unix_micros() || t == at(17).as_unix_micros());
        let got: Vec<Sample> = q.collect();
        assert!(got == [b[15].clone(), b[17].clone()]);

        let raw: usize = a
            .iter()
            .map(|s| postcard::to_allocvec(s).unwrap().len())
            .sum();
        let packed: usize = all.entries.iter().map(|e| e.bytes.len()).sum();
        assert!(packed * 4 < raw, "{packed} bytes packed of {raw}");
    }

    /// A sample that does not unpack is dropped where it stands: `pop` gives `None` for it, not the sample after
    /// it, whose time the caller has not looked at yet; iterating leaves it out and goes on in time order.
    #[test]
    fn a_sample_that_does_not_unpack_is_not_replaced_by_a_later_one() {
        let start = Timestamp::from_unix_secs(1_795_564_800);
        let at = |s: u64| start.saturating_add(Duration::from_secs(s));
        let a = Synth::new(start, Duration::from_secs(1))
            .count(5)
            .generate();
        let mut all = JournalSamples::default();
        assert_eq!(all.extend(a.iter().cloned()), 0);
        all.entries[1].bytes = vec![0xFF; 8].into_boxed_slice();
        let all = Arc::new(all);
        let mut q = all.queue(&a[0].host, Range::ALL);
        assert!(q.pop().is_some_and(|s| s.ts == at(0)));
        assert_eq!(q.front_ts(), Some(at(1)));
        assert!(q.pop().is_none());
        assert_eq!((q.len(), q.front_ts()), (3, Some(at(2))));
        assert!(q.pop().is_some_and(|s| s.ts == at(2)));
        let got: Vec<Timestamp> = all.queue(&a[0].host, Range::ALL).map(|s| s.ts).collect();
        assert_eq!(got, [at(0), at(2), at(3), at(4)]);
    }
}
