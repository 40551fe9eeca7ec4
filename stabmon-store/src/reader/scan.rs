//! The bounded read path: coverage without reading samples, whole samples streamed segment by segment, and whole
//! samples for the windows and instants analysis asks for (a host's system columns: [`series`](super::series)).

use std::collections::{BTreeMap, VecDeque};
use std::path::Path;
use std::sync::Arc;

use stabmon_core::series::{SampleParts, WindowSource};
use stabmon_core::{Sample, Timestamp};

use super::footers::Spans;
use super::group::parallel_map;
use super::journals::JournalQueue;
use super::ranges::{Input, Objects};
use super::{Range, StoreReader, read_segment_at};
use crate::error::{Error, contain};
use crate::layout::{SegmentLoc, TABLES, utc_date};

/// One microsecond: a range ending just after a timestamp includes it.
pub(super) const MICRO: std::time::Duration = std::time::Duration::from_micros(1);

/// What the data holds for one host, from the segments' footers (or a served directory's manifest) and the
/// journal: no sample is decoded from Parquet.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub struct Coverage {
    /// The host.
    pub host: String,
    /// The first sample's time.
    pub first: Timestamp,
    /// The last sample's time.
    pub last: Timestamp,
    /// Samples in Parquet segments (a sample a recovered journal repeats may be counted twice).
    pub segment_samples: u64,
    /// Parquet segments.
    pub segments: usize,
    /// Samples in the journal of a recorder still running (or that died), not yet in a segment.
    pub journal_samples: u64,
}

impl StoreReader {
    /// What the data covers, per host in name order (the [`with_host`](Self::with_host) filter applies): first and
    /// last sample and how many, from the segments' Parquet footers and the journal, without decoding samples from
    /// Parquet. A segment whose footer cannot be read is skipped with a warning ([`warnings`](Self::warnings)).
    pub fn coverage(&self) -> Result<Vec<Coverage>, Error> {
        let mut out: BTreeMap<String, Coverage> = BTreeMap::new();
        let mut add = |host: &str, first: Timestamp, last: Timestamp, rows: u64, journal: bool| {
            let c = out.entry(host.to_owned()).or_insert_with(|| Coverage {
                host: host.to_owned(),
                first,
                last,
                segment_samples: 0,
                segments: 0,
                journal_samples: 0,
            });
            c.first = c.first.min(first);
            c.last = c.last.max(last);
            if journal {
                c.journal_samples += rows;
            } else {
                c.segment_samples += rows;
                c.segments += 1;
            }
        };
        if let Some(r) = &self.remote
            && let Some(manifest) = r.manifest()
        {
            for s in manifest.segments.iter().filter(|s| s.table == TABLES[0]) {
                if self.host.as_ref().is_some_and(|h| *h != s.host) {
                    continue;
                }
                if let (Some(from), Some(to)) = (s.from, s.to) {
                    add(&s.host, from, to, s.rows, false);
                }
            }
            // The journal of a served directory is fetched with the samples it holds.
            self.fetch_remote(r, None, Some(Timestamp::from_unix_micros(i64::MIN)))?;
        } else {
            // Object storage has no manifest: the footers of every `samples` segment, fetched first.
            if let Some(r) = &self.remote
                && let super::url::Source::Bucket { cache, objects } = &r.source
            {
                self.fetch_bucket(r, cache, objects, None, None, Some(TABLES[0]))?;
            }
            for seg in self.selected() {
                let path = seg.file(TABLES[0]);
                match footer_range(&path, self.objects()) {
                    Ok(Some((first, last, rows))) => add(&seg.host, first, last, rows, false),
                    Ok(None) => {}
                    Err(e) => self.warn(&path, &e),
                }
            }
        }
        for (host, samples) in self.journal_samples(None, Range::ALL) {
            if let (Some(a), Some(b)) = (samples.front_ts(), samples.back_ts()) {
                add(&host, a, b, samples.len() as u64, true);
            }
        }
        Ok(out.into_values().collect())
    }

    /// Whole samples with `from <= ts < to`, streamed segment by segment in time order (hosts merged by time,
    /// stably in name order), with the journal's: what [`samples`](Self::samples) returns, one segment in memory at
    /// a time. Damaged segments are skipped with a warning; a segment of a newer schema ends the stream with an
    /// error.
    pub fn stream(
        &self,
        from: Option<Timestamp>,
        to: Option<Timestamp>,
    ) -> Result<SampleStream<'_>, Error> {
        let range = Range { from, to };
        let mut journals = self.journal_samples(None, range);
        let mut hosts = Vec::new();
        let mut by_host: BTreeMap<String, Vec<SegmentLoc>> = BTreeMap::new();
        for seg in self.segments_in(None, range)? {
            by_host.entry(seg.host.clone()).or_default().push(seg);
        }
        for h in journals.keys() {
            by_host.entry(h.clone()).or_default();
        }
        for (host, segments) in by_host {
            hosts.push(HostStream {
                journal: journals.remove(&host).unwrap_or_default(),
                segments: segments.into(),
                current: VecDeque::new(),
                chunks: VecDeque::new(),
                last: None,
                host,
            });
        }
        Ok(SampleStream {
            reader: self,
            range,
            parts: SampleParts::ALL,
            hosts,
            failed: false,
        })
    }

    /// Whole samples of `host`, for the windows and instants analysis asks for ([`WindowSource`]).
    pub fn windows(&self, host: &str) -> HostWindows<'_> {
        HostWindows {
            reader: self,
            host: host.to_owned(),
            given: Vec::new(),
            given_parts: SampleParts::NONE,
        }
    }

    /// The segments (of one host or all) that may hold samples in `range`, in host and time order; for a served
    /// directory, fetched first.
    pub(super) fn segments_in(
        &self,
        host: Option<&str>,
        range: Range,
    ) -> Result<Vec<SegmentLoc>, Error> {
        if let Some(r) = &self.remote {
            self.fetch_remote(r, range.from, range.to)?;
        }
        let (from_date, to_date) = (range.from.map(utc_date), range.to.map(utc_date));
        Ok(self
            .selected()
            .filter(|s| host.is_none_or(|h| h == s.host))
            .filter(|s| {
                !(from_date.as_ref().is_some_and(|d| s.date < *d)
                    || to_date.as_ref().is_some_and(|d| s.date > *d))
            })
            .filter(|s| self.remote.is_none() || s.file(TABLES[0]).exists())
            .cloned()
            .collect())
    }

    /// The row groups of `host`'s segments that `range` overlaps, each with the part of the range it holds, in
    /// time order; a segment whose footer cannot be read is skipped with a warning.
    pub(super) fn chunks_in(
        &self,
        host: &str,
        range: Range,
    ) -> Result<Vec<(SegmentLoc, Range)>, Error> {
        Ok(self.chunks_of(self.segments_in(Some(host), range)?, range))
    }

    fn chunks_of(&self, segments: Vec<SegmentLoc>, range: Range) -> Vec<(SegmentLoc, Range)> {
        let mut out = Vec::new();
        for seg in segments {
            match row_group_ranges(&seg, self.objects(), range) {
                Ok(chunks) => out.extend(chunks.into_iter().map(|c| (seg.clone(), c))),
                Err(e) => self.warn(&seg.file(TABLES[0]), &e),
            }
        }
        out
    }

    /// The journal's samples in `range`, per host, sorted by time and without repeats, each unpacked as it is
    /// taken.
    pub(super) fn journal_samples(
        &self,
        host: Option<&str>,
        range: Range,
    ) -> BTreeMap<String, JournalQueue> {
        let all = self.read_journals();
        let mut hosts: Vec<&str> = all
            .keys()
            .map(|(h, _)| h)
            .filter(|h| host.is_none_or(|w| w == *h) && self.host.as_ref().is_none_or(|w| w == h))
            .collect();
        hosts.sort_unstable();
        hosts.dedup();
        hosts
            .into_iter()
            .map(|h| (h.to_owned(), all.queue(h, range)))
            .filter(|(_, q)| q.len() > 0)
            .collect()
    }
}

/// The first and last `ts` and the row count of a `samples` file, from its footer.
fn footer_range(
    path: &Path,
    objects: Objects<'_>,
) -> Result<Option<(Timestamp, Timestamp, u64)>, Error> {
    let groups = row_groups(path, objects)?;
    let first = groups.iter().map(|g| g.0).min();
    let last = groups.iter().map(|g| g.1).max();
    let rows = groups.iter().map(|g| g.2).sum();
    Ok(first.zip(last).map(|(a, b)| (a, b, rows)))
}

/// The first and last `ts` and the row count of each row group of a `samples` file, from its footer (row groups
/// without statistics are left out).
pub(super) fn row_groups(path: &Path, objects: Objects<'_>) -> Result<Spans, Error> {
    contain(path, || row_groups_here(path, objects))
}

fn row_groups_here(path: &Path, objects: Objects<'_>) -> Result<Spans, Error> {
    let file = Input::open(path, objects)?;
    // Kept by the reader while the file is unchanged.
    let kept = objects.footers.zip(file.stamp());
    if let Some(spans) = kept.and_then(|(footers, stamp)| footers.spans(path, stamp)) {
        return Ok(spans);
    }
    let spans: Spans = row_groups_of(path, &file, objects)?.into();
    if let Some((footers, stamp)) = kept {
        footers.keep_spans(path, stamp, Arc::clone(&spans));
    }
    Ok(spans)
}

fn row_groups_of(
    path: &Path,
    file: &Input,
    objects: Objects<'_>,
) -> Result<Vec<(Timestamp, Timestamp, u64)>, Error> {
    let footer = super::footers::footer(path, file, objects)?;
    let md = &footer.md;
    let Some(col) = md
        .file_metadata()
        .schema_descr()
        .columns()
        .iter()
        .position(|c| c.path().string() == "ts")
    else {
        return Ok(Vec::new());
    };
    let mut out = Vec::new();
    for rg in md.row_groups() {
        if let Some((a, b)) = super::table::ts_span(rg, col) {
            out.push((
                Timestamp::from_unix_micros(a),
                Timestamp::from_unix_micros(b),
                u64::try_from(rg.num_rows()).unwrap_or(0),
            ));
        }
    }
    Ok(out)
}

/// The part of `range` each row group of a segment holds, in order (the whole range where the footer has no
/// statistics).
pub(super) fn row_group_ranges(
    loc: &SegmentLoc,
    objects: Objects<'_>,
    range: Range,
) -> Result<Vec<Range>, Error> {
    let groups = row_groups(&loc.file(TABLES[0]), objects)?;
    if groups.is_empty() {
        return Ok(vec![range]);
    }
    Ok(groups
        .iter()
        .map(|&(first, last, _)| {
            let end = last.saturating_add(MICRO);
            Range {
                from: Some(range.from.map_or(first, |f| f.max(first))),
                to: Some(range.to.map_or(end, |t| t.min(end))),
            }
        })
        .filter(|c| c.from < c.to)
        .collect())
}

/// One host's part of a [`SampleStream`].
struct HostStream {
    host: String,
    segments: VecDeque<SegmentLoc>,
    /// The row groups of the segment being read that are still to come: one is decoded at a time.
    chunks: VecDeque<(SegmentLoc, Range)>,
    journal: JournalQueue,
    current: VecDeque<Sample>,
    last: Option<Timestamp>,
}

impl HostStream {
    /// The host's next sample time, reading its next segment when the current one is used up.
    fn peek(
        &mut self,
        reader: &StoreReader,
        range: Range,
        parts: SampleParts,
    ) -> Result<Option<Timestamp>, Error> {
        loop {
            let seg = self.current.front().map(|s| s.ts);
            let jour = self.journal.front_ts();
            if seg.is_some() || (self.chunks.is_empty() && self.segments.is_empty()) {
                return Ok(match (seg, jour) {
                    (Some(a), Some(b)) => Some(a.min(b)),
                    (a, b) => a.or(b),
                });
            }
            if let Some((loc, chunk)) = self.chunks.pop_front() {
                match read_segment_at(&loc, reader.objects(), chunk, None, parts) {
                    Ok(v) => self.current = v.into(),
                    Err(e @ Error::NewerSchema { .. }) => return Err(e),
                    // A damaged row group: one warning for the file, its other row groups still read.
                    Err(e) => reader.warn(&loc.file(TABLES[0]), &e),
                }
                continue;
            }
            let Some(loc) = self.segments.pop_front() else {
                continue;
            };
            // One row group at a time, so the first sample is out after one row group is decoded.
            match row_group_ranges(&loc, reader.objects(), range) {
                Ok(chunks) => self
                    .chunks
                    .extend(chunks.into_iter().map(|c| (loc.clone(), c))),
                Err(e) => reader.warn(&loc.file(TABLES[0]), &e),
            }
        }
    }

    /// Takes the sample at `ts` (from the segment, or the journal when only it has one), dropping repeats and a
    /// journal sample that does not unpack (`None`: the next call goes on from the next sample).
    fn take(&mut self, ts: Timestamp) -> Option<Sample> {
        let from_seg = self.current.front().is_some_and(|s| s.ts == ts);
        let from_journal = self.journal.front_ts() == Some(ts);
        let s = if from_seg {
            if from_journal {
                self.journal.drop_front();
            }
            self.current.pop_front()
        } else {
            self.journal.pop()
        }?;
        if self.last.is_some_and(|l| l >= s.ts) {
            return None;
        }
        self.last = Some(s.ts);
        Some(s)
    }
}

/// Whole samples in time order, one segment per host in memory at a time ([`StoreReader::stream`]).
pub struct SampleStream<'a> {
    reader: &'a StoreReader,
    range: Range,
    /// What is decoded of each sample of a segment (the samples may hold more).
    parts: SampleParts,
    hosts: Vec<HostStream>,
    failed: bool,
}

impl std::fmt::Debug for SampleStream<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SampleStream")
            .field(
                "hosts",
                &self.hosts.iter().map(|h| &h.host).collect::<Vec<_>>(),
            )
            .finish()
    }
}

impl Iterator for SampleStream<'_> {
    type Item = Result<Sample, Error>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.failed {
            return None;
        }
        loop {
            let mut best: Option<(usize, Timestamp)> = None;
            for (k, h) in self.hosts.iter_mut().enumerate() {
                match h.peek(self.reader, self.range, self.parts) {
                    Ok(Some(t)) if best.is_none_or(|(_, b)| t < b) => best = Some((k, t)),
                    Ok(_) => {}
                    Err(e) => {
                        self.failed = true;
                        return Some(Err(e));
                    }
                }
            }
            let (k, ts) = best?;
            if let Some(s) = self.hosts[k].take(ts) {
                return Some(Ok(s));
            }
        }
    }
}

/// Whole samples of one host for analysis windows and instants ([`StoreReader::windows`]): each read touches only
/// the row groups that hold them.
#[derive(Debug)]
pub struct HostWindows<'a> {
    reader: &'a StoreReader,
    host: String,
    /// Samples read already, with the parts they were read with: a read of those parts at their instants takes
    /// them from here ([`with_samples`](Self::with_samples)).
    given: Vec<Sample>,
    given_parts: SampleParts,
}

impl HostWindows<'_> {
    /// These windows, with `samples` of the host read already with `parts` (as
    /// [`StoreReader::system_series_with_moments`] gives them): a read of exactly those parts takes the samples at
    /// its instants from them instead of decoding them again.
    pub fn with_samples(mut self, mut samples: Vec<Sample>, parts: SampleParts) -> Self {
        samples.sort_by_key(|s| s.ts);
        self.given = samples;
        self.given_parts = parts;
        self
    }

    fn read(
        &self,
        from: Timestamp,
        to: Timestamp,
        parts: SampleParts,
    ) -> Result<Vec<Sample>, Error> {
        let to_excl = to.saturating_add(std::time::Duration::from_micros(1));
        let mut stream = self
            .reader
            .stream_host(&self.host, Some(from), Some(to_excl))?;
        stream.parts = parts;
        let mut out = Vec::new();
        for s in stream {
            let mut s = s?;
            parts.trim(&mut s);
            out.push(s);
        }
        Ok(out)
    }
}

impl StoreReader {
    fn stream_host(
        &self,
        host: &str,
        from: Option<Timestamp>,
        to: Option<Timestamp>,
    ) -> Result<SampleStream<'_>, Error> {
        let mut stream = self.stream(from, to)?;
        stream.hosts.retain(|h| h.host == host);
        Ok(stream)
    }
}

impl WindowSource for HostWindows<'_> {
    /// A reader's windows may be read from several threads at once.
    fn shared(&self) -> Option<&(dyn WindowSource + Sync)> {
        Some(self)
    }

    fn samples_between(
        &self,
        from: Timestamp,
        to: Timestamp,
    ) -> Result<Vec<Sample>, stabmon_core::Error> {
        self.samples_between_parts(from, to, SampleParts::ALL)
    }

    /// Of schema 5 and later, only the tables and columns that hold `parts` are decoded.
    fn samples_between_parts(
        &self,
        from: Timestamp,
        to: Timestamp,
        parts: SampleParts,
    ) -> Result<Vec<Sample>, stabmon_core::Error> {
        self.read(from, to, parts)
            .map_err(|e| stabmon_core::Error::Window {
                from,
                to,
                source: Box::new(e),
            })
    }

    fn samples_at(&self, instants: &[Timestamp]) -> Result<Vec<Sample>, stabmon_core::Error> {
        self.samples_at_parts(instants, SampleParts::ALL)
    }

    /// Of schema 5 and later, only the tables and columns that hold `parts` are decoded; samples given
    /// ([`with_samples`](HostWindows::with_samples)) with these parts are not read again.
    fn samples_at_parts(
        &self,
        instants: &[Timestamp],
        parts: SampleParts,
    ) -> Result<Vec<Sample>, stabmon_core::Error> {
        if self.given.is_empty() || parts != self.given_parts {
            return self.read_at(instants, parts);
        }
        let (mut out, mut rest) = (Vec::new(), Vec::new());
        for t in instants {
            match self.given.binary_search_by_key(t, |s| s.ts) {
                Ok(k) => out.push(self.given[k].clone()),
                Err(_) => rest.push(*t),
            }
        }
        if !rest.is_empty() {
            out.extend(self.read_at(&rest, parts)?);
        }
        out.sort_by_key(|s| s.ts);
        out.dedup_by_key(|s| s.ts);
        Ok(out)
    }
}

impl HostWindows<'_> {
    /// [`WindowSource::samples_at_parts`], read.
    fn read_at(
        &self,
        instants: &[Timestamp],
        parts: SampleParts,
    ) -> Result<Vec<Sample>, stabmon_core::Error> {
        let (Some(&first), Some(&last)) = (instants.first(), instants.last()) else {
            return Ok(Vec::new());
        };
        let err = |e: Error| stabmon_core::Error::Window {
            from: first,
            to: last,
            source: Box::new(e),
        };
        let micros: Vec<i64> = instants.iter().map(|t| t.as_unix_micros()).collect();
        let range = Range {
            from: Some(first),
            to: Some(last.saturating_add(MICRO)),
        };
        let mut out: Vec<Sample> = Vec::new();
        // Row group by row group, decoding only the rows at the instants (schema 5 on; older files' row groups are
        // read whole, but only the samples at the instants built), on as many
        // threads as there are cores (up to four): a page's hover moments touch every row group of its range.
        let chunks: Vec<(SegmentLoc, Range, std::ops::Range<usize>)> = self
            .reader
            .chunks_in(&self.host, range)
            .map_err(err)?
            .into_iter()
            .filter_map(|(seg, chunk)| {
                let lo =
                    micros.partition_point(|t| chunk.from.is_some_and(|f| *t < f.as_unix_micros()));
                let hi =
                    micros.partition_point(|t| chunk.to.is_none_or(|e| *t < e.as_unix_micros()));
                (lo < hi).then_some((seg, chunk, lo..hi))
            })
            .collect();
        let workers = std::thread::available_parallelism().map_or(1, |n| n.get().min(4));
        let read = parallel_map(&chunks, workers, |(seg, chunk, at)| {
            let mut got = read_segment_at(
                seg,
                self.reader.objects(),
                *chunk,
                Some(&micros[at.clone()]),
                parts,
            )?;
            got.iter_mut().for_each(|s| parts.trim(s));
            Ok::<_, Error>(got)
        });
        for ((seg, _, _), got) in chunks.iter().zip(read) {
            match got {
                Ok(v) => out.extend(v),
                Err(e @ Error::NewerSchema { .. }) => return Err(err(e)),
                Err(e) => self.reader.warn(&seg.file(TABLES[0]), &e),
            }
        }
        let mut journal = self
            .reader
            .journal_samples(Some(&self.host), range)
            .remove(&self.host)
            .unwrap_or_default();
        // Only the samples at the instants are unpacked.
        journal.retain_ts(|t| micros.binary_search(&t).is_ok());
        out.extend(journal.map(|mut s| {
            parts.trim(&mut s);
            s
        }));
        out.sort_by_key(|s| s.ts);
        out.dedup_by_key(|s| s.ts);
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use crate::StoreWriter;
    use crate::layout::LATENCY;
    use arrow_array::Array;
    use stabmon_core::synth::Synth;

    /// `count` synthetic samples at 1 s of 40 processes.
    fn synth(count: u64) -> Synth {
        let t0 = Timestamp::from_unix_secs(1_795_564_800);
        Synth::new(t0, std::time::Duration::from_secs(1))
            .count(count)
            .processes(40)
    }

    /// A data directory holding `samples` in one segment.
    fn one_segment(samples: &[Sample]) -> tempfile::TempDir {
        let dir = tempfile::tempdir().unwrap();
        let mut w = StoreWriter::create(dir.path()).unwrap();
        for s in samples {
            w.write(s).unwrap();
        }
        w.finish().unwrap();
        dir
    }

    /// A read of some parts gives what trimming the whole samples gives, from segments (which decode only those
    /// parts) and from a live journal, for every part left out.
    #[test]
    fn reads_of_parts_equal_trimming_whole_samples() {
        use crate::{FlightRecorder, RecorderOptions};
        use stabmon_core::series::WindowSource;
        let mut samples = synth(300).latency_target("gw", 2.0, 0.5).generate();
        // Every part present somewhere: users, cgroups, exits with their processes, OOM kills.
        for (k, s) in samples.iter_mut().enumerate() {
            for p in &mut s.top.processes {
                p.user = Some(format!("u{}", p.pid % 3));
                p.cgroup = Some(format!("/system.slice/w{}.service", p.pid % 5));
            }
            if k % 3 == 0 {
                s.exits = Some(crate::codec::tests::storm_exits(k as u32));
            }
            if k % 50 == 7 {
                let mut kill = stabmon_core::OomKill::new(s.ts, 900 + k as u32, "hog");
                kill.anon_rss_bytes = Some(1 << 20);
                s.oom_kills.push(kill);
            }
        }
        let (segments, journal) = (one_segment(&samples), tempfile::tempdir().unwrap());
        // Kept open, so its samples stay in the journal.
        let (mut rec, _) = FlightRecorder::open(journal.path(), RecorderOptions::new()).unwrap();
        for s in &samples {
            assert!(rec.record(s).is_empty());
        }
        let at: Vec<Timestamp> = [3, 150, 199, 200, 250, 299]
            .iter()
            .map(|&i| samples[i].ts)
            .collect();
        let (from, to) = (samples[190].ts, samples[210].ts);
        let every = [
            SampleParts::SYSTEM,
            SampleParts::PER_CORE,
            SampleParts::PROCESSES,
            SampleParts::CMDLINE,
            SampleParts::USER,
            SampleParts::CGROUP,
            SampleParts::NAMES,
            SampleParts::EXITS,
            SampleParts::EXITED_PROCESSES,
            SampleParts::LATENCY,
            SampleParts::OOM_KILLS,
        ];
        let mut cases: Vec<SampleParts> =
            every.iter().map(|p| SampleParts::ALL.without(*p)).collect();
        cases.extend(every);
        cases.push(SampleParts::NONE);
        cases.push(
            (SampleParts::SYSTEM | SampleParts::PROCESSES | SampleParts::CMDLINE)
                .ranked_processes(3, 2),
        );
        let trimmed = |parts: SampleParts, mut v: Vec<Sample>| {
            v.iter_mut().for_each(|s| parts.trim(s));
            v
        };
        for dir in [segments.path(), journal.path()] {
            let reader = StoreReader::open(dir).unwrap();
            let source = reader.windows(&samples[0].host);
            let whole_at = source.samples_at(&at).unwrap();
            assert_eq!(whole_at.len(), at.len(), "{}", dir.display());
            let whole_between = source.samples_between(from, to).unwrap();
            assert_eq!(whole_between.len(), 21, "{}", dir.display());
            assert!(whole_between.iter().any(|s| s.exits.is_some()));
            for &parts in &cases {
                let got = source.samples_at_parts(&at, parts).unwrap();
                assert_eq!(got, trimmed(parts, whole_at.clone()), "{parts:?}");
                let got = source.samples_between_parts(from, to, parts).unwrap();
                assert_eq!(got, trimmed(parts, whole_between.clone()), "{parts:?}");
            }
            assert!(reader.warnings().is_empty(), "{:?}", reader.warnings());
        }
        drop(rec);
    }

    /// A read of some parts opens only the tables that hold them: with the processes file damaged, a read of the
    /// name totals goes on, while a read of whole samples skips the segment with a warning.
    #[test]
    fn tables_not_wanted_are_not_read() {
        use stabmon_core::series::WindowSource;
        let samples = synth(120).generate();
        let dir = one_segment(&samples);
        let reader = StoreReader::open(dir.path()).unwrap();
        let seg = reader.selected().next().unwrap().clone();
        std::fs::write(seg.file("processes"), b"not parquet").unwrap();
        let source = reader.windows(&samples[0].host);
        let (from, to) = (samples[10].ts, samples[40].ts);
        let names = source
            .samples_between_parts(from, to, SampleParts::NAMES)
            .unwrap();
        assert_eq!(names.len(), 31);
        for (got, want) in names.iter().zip(&samples[10..]) {
            assert_eq!(got.top.names, want.top.names);
        }
        assert!(reader.warnings().is_empty(), "{:?}", reader.warnings());
        assert!(source.samples_between(from, to).unwrap().is_empty());
        assert_eq!(reader.warnings().len(), 1, "{:?}", reader.warnings());
    }

    /// Of schema 5 and later, the columns left out are not decoded.
    #[test]
    fn columns_left_out_are_not_decoded() {
        use super::super::table::Columns;
        let dir = one_segment(&synth(60).generate());
        let reader = StoreReader::open(dir.path()).unwrap();
        let seg = reader.selected().next().unwrap().clone();
        let file = seg.file("processes");
        let read = |columns| {
            super::super::read_table(
                &file,
                Default::default(),
                "processes",
                Range::ALL,
                None,
                columns,
            )
            .unwrap()
            .1
        };
        let whole = read(Columns::All);
        assert!(whole[0].column_by_name("cmdline").is_some());
        let without = read(Columns::Without(&["cmdline", "user"]));
        let schema = without[0].schema();
        assert!(
            schema.column_with_name("cmdline").is_none()
                && schema.column_with_name("user").is_none()
        );
        assert_eq!(schema.fields().len(), whole[0].num_columns() - 2);
        let only = read(Columns::Only(&["ts", "pid"]));
        assert_eq!(only[0].num_columns(), 2);
    }

    /// A read of some rows (instants; a range cutting into its first and last row groups; both; with and without
    /// a projection) gives exactly the rows of a whole read at those times, in order, column for column, in
    /// every table.
    #[test]
    fn some_rows_are_a_whole_reads_rows_at_those_times() {
        use super::super::table::Columns;
        let samples = synth(4000).latency_target("gw", 2.0, 0.5).generate();
        let dir = one_segment(&samples);
        let reader = StoreReader::open(dir.path()).unwrap();
        let seg = reader.selected().next().unwrap().clone();
        let us = |i: usize| samples[i].ts.as_unix_micros();
        let only: Vec<i64> = [0, 10, 1799, 1800, 2500, 3600, 3601, 3999]
            .iter()
            .map(|&i| us(i))
            .collect();
        let cut = Range {
            from: Some(samples[100].ts),
            to: Some(samples[3700].ts),
        };
        let rows_of =
            |batches: &[arrow_array::RecordBatch]| -> Vec<(i64, arrow_array::RecordBatch)> {
                let mut out = Vec::new();
                for b in batches {
                    let ts = b
                        .column_by_name("ts")
                        .unwrap()
                        .as_any()
                        .downcast_ref::<arrow_array::TimestampMicrosecondArray>()
                        .unwrap();
                    for i in 0..b.num_rows() {
                        out.push((ts.value(i), b.slice(i, 1)));
                    }
                }
                out
            };
        let mut groups_cut = 0;
        for table in ["samples", "processes", "names", LATENCY] {
            let file = seg.file(table);
            let read = |range, only: Option<&[i64]>, columns| {
                super::super::read_table(&file, Default::default(), table, range, only, columns)
                    .unwrap()
                    .1
            };
            let whole = read(Range::ALL, None, Columns::All);
            let names: Vec<String> = whole[0]
                .schema()
                .fields()
                .iter()
                .map(|f| f.name().clone())
                .collect();
            let last: Vec<&str> = vec!["ts", names[names.len() - 1].as_str()];
            for columns in [Columns::All, Columns::Only(&last)] {
                let whole = rows_of(&read(Range::ALL, None, columns));
                for (range, only) in [
                    (Range::ALL, Some(&only[..])),
                    (cut, None),
                    (cut, Some(&only[..])),
                    (Range::ALL, Some(&[][..])),
                ] {
                    let want: Vec<_> = whole
                        .iter()
                        .filter(|(t, _)| range.contains(*t) && only.is_none_or(|o| o.contains(t)))
                        .collect();
                    let got = rows_of(&read(range, only, columns));
                    assert_eq!(got.len(), want.len(), "{table}");
                    for (g, w) in got.iter().zip(&want) {
                        assert_eq!(g.0, w.0, "{table}");
                        assert_eq!(g.1, w.1, "{table} at {}", g.0);
                    }
                    if only.is_none() {
                        groups_cut += usize::from(!want.is_empty() && want.len() < whole.len());
                    }
                }
            }
        }
        assert!(groups_cut > 0, "no read cut into a row group");
        assert!(reader.warnings().is_empty(), "{:?}", reader.warnings());
    }

    /// With instants, a schema-5 table decodes only the rows at those times, in every table.
    #[test]
    fn instants_decode_only_their_rows() {
        let samples = synth(600).latency_target("gw", 2.0, 0.5).generate();
        let dir = one_segment(&samples);
        let reader = StoreReader::open(dir.path()).unwrap();
        let seg = reader.selected().next().unwrap().clone();
        let only = [
            samples[10].ts.as_unix_micros(),
            samples[400].ts.as_unix_micros(),
        ];
        for table in ["samples", "processes", "names", LATENCY] {
            let (version, batches) = super::super::read_table(
                &seg.file(table),
                Default::default(),
                table,
                Range::ALL,
                Some(&only),
                super::super::table::Columns::All,
            )
            .unwrap();
            assert!(version >= 5);
            let rows: usize = batches.iter().map(|b| b.num_rows()).sum();
            assert!(rows > 0 && rows < 60, "{table}: {rows} rows");
            for b in &batches {
                let ts = b.column_by_name("ts").unwrap();
                let ts = ts
                    .as_any()
                    .downcast_ref::<arrow_array::TimestampMicrosecondArray>()
                    .unwrap();
                assert!(
                    ts.iter().all(|t| t.is_some_and(|t| only.contains(&t))),
                    "{table}"
                );
                assert_eq!(ts.null_count(), 0);
            }
        }
    }
}
