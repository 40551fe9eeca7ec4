//! A segment: its tables read and joined into whole samples, each list in its written order with its ranks.

use std::path::{Path, PathBuf};

use stabmon_core::series::SampleParts;
use stabmon_core::{NameTotal, ProcessEntry, Sample, Timestamp};

use crate::error::{Error, contain, invalid};
use crate::layout::{EXITS, LATENCY, OOM_KILLS, SegmentLoc, TABLES};
use crate::ranks::{name_order_key, process_sort_key};
use stabmon_core::attribution::{
    cmp_entries_by_cpu, cmp_entries_by_rss, cmp_names_by_cpu, cmp_names_by_rss,
};

use arrow_array::RecordBatch;
use arrow_array::types::TimestampMicrosecondType;

use super::cols::Cols;
use super::exits::read_exits;
use super::group::TickIndex;
use super::latency::read_latency;
use super::names::read_names;
use super::oom_kills::read_oom_kills;
use super::processes::{Fill, fill_processes, read_processes};
use super::range::Range;
use super::ranges::Objects;
use super::samples::{ListLen, ListLens, read_samples};

/// The index of the sample at `ts` in a segment's samples (sorted, unique).
pub(super) fn sample_at(samples: &[Sample], ts: i64, path: &Path) -> Result<usize, Error> {
    samples
        .binary_search_by_key(&ts, |s| s.ts.as_unix_micros())
        .map_err(|_| no_sample(ts, path))
}

/// The error of a row at `ts` whose sample the `samples` table does not have.
fn no_sample(ts: i64, path: &Path) -> Error {
    invalid(
        path,
        format!(
            "a row at {} has no sample in the samples table",
            Timestamp::from_unix_micros(ts)
        ),
    )
}

/// Whether a row at `t` is one a read of `range` at `only` (sorted, where given) wants.
pub(super) fn wanted(range: Range, only: Option<&[i64]>, t: i64) -> bool {
    range.contains(t) && only.is_none_or(|o| o.binary_search(&t).is_ok())
}

/// For each batch of a table's rows, the index of each row's sample in range (`None` for the others) in `times`
/// (the samples' times, sorted and unique); where the row before was at the sample before, without a look-up (a
/// table's rows of one process or name run in time order). Each `kept` sample's list in `lists` is then sized
/// for its rows, so that it is allocated once.
pub(super) fn samples_of_rows<T>(
    batches: &[RecordBatch],
    times: &[i64],
    range: Range,
    kept: &[bool],
    lists: &mut [Vec<T>],
    path: &Path,
) -> Result<Vec<Vec<Option<usize>>>, Error> {
    let mut counts = vec![0usize; lists.len()];
    let mut rows_at = Vec::with_capacity(batches.len());
    // Rows of files before schema 5 run by process, then time: most are looked up (the index is made at the
    // first row that is not at the sample after the row before's).
    let mut index: Option<TickIndex<'_>> = None;
    for batch in batches {
        let ts = Cols { batch, path }.req::<TimestampMicrosecondType>("ts")?;
        let mut next = 0usize;
        let mut at = Vec::with_capacity(ts.len());
        for &t in ts.values().iter() {
            if !range.contains(t) {
                at.push(None);
                continue;
            }
            let k = match times.get(next) {
                Some(&n) if n == t => next,
                _ => index
                    .get_or_insert_with(|| TickIndex::new(times))
                    .find(t)
                    .ok_or_else(|| no_sample(t, path))?,
            };
            next = k + 1;
            if let Some(c) = counts.get_mut(k) {
                *c += 1;
            }
            at.push(Some(k));
        }
        rows_at.push(at);
    }
    for ((list, n), kept) in lists.iter_mut().zip(counts).zip(kept) {
        if *kept && n > 0 {
            list.reserve_exact(n);
        }
    }
    Ok(rows_at)
}

pub(super) fn read_segment(
    seg: &SegmentLoc,
    objects: Objects<'_>,
    range: Range,
) -> Result<Vec<Sample>, Error> {
    read_segment_at(seg, objects, range, None, SampleParts::ALL)
}

/// [`read_segment`], only the samples at `only` (sorted) where the files allow reading just those rows (see
/// [`read_table`](super::table::read_table)); otherwise (before schema 5) whole row groups are read and only the
/// samples wanted built whole: the other rows are decoded only as far as those samples' values derive from them,
/// and checked only that far. Only the tables and columns that hold `parts` are decoded, but before schema 5
/// every column of the samples and the process rows' values wherever name totals are read (the samples may hold
/// more: [`SampleParts::trim`] them).
pub(super) fn read_segment_at(
    seg: &SegmentLoc,
    objects: Objects<'_>,
    range: Range,
    only: Option<&[i64]>,
    parts: SampleParts,
) -> Result<Vec<Sample>, Error> {
    contain(&seg.file(TABLES[0]), || {
        read_segment_files(seg, objects, range, only, parts)
    })
}

fn read_segment_files(
    seg: &SegmentLoc,
    objects: Objects<'_>,
    range: Range,
    only: Option<&[i64]>,
    parts: SampleParts,
) -> Result<Vec<Sample>, Error> {
    let files: Vec<PathBuf> = TABLES.iter().map(|t| seg.file(t)).collect();
    for (table, f) in TABLES.iter().zip(&files) {
        if !f.exists() {
            return Err(Error::MissingCompanion {
                path: f.clone(),
                table,
                segment: files[0].clone(),
            });
        }
    }
    // Older files derive values from other rows and tables: their process and name rows are read from the start
    // of the row groups of the samples read up to the last sample wanted (names derive values from earlier rows
    // and from their sample's process rows), and only the samples wanted are built whole.
    let (mut times, mut samples, mut lens) = (Vec::new(), Vec::new(), Vec::new());
    let version = read_samples(
        &files[0],
        objects,
        &seg.host,
        range,
        only,
        parts,
        &|t| wanted(range, only, t),
        (&mut times, &mut samples),
        &mut lens,
    )?;
    let Some(&first) = times.first() else {
        return Ok(Vec::new());
    };
    if !times.windows(2).all(|w| w[0] < w[1]) {
        return Err(invalid(
            &files[0],
            "timestamps do not increase within the segment",
        ));
    }
    let kept: Vec<bool> = times.iter().map(|&t| wanted(range, only, t)).collect();
    // Rows after the last sample kept derive nothing for it: the process and name rows are read up to it.
    let last_kept = (times.iter().zip(&kept))
        .rfind(|(_, k)| **k)
        .map(|(t, _)| *t);
    let from = Some(Timestamp::from_unix_micros(first));
    let upto = Range {
        from,
        to: match last_kept {
            // Unbounded after a last row at the last representable time.
            Some(t) => t.checked_add(1).map(Timestamp::from_unix_micros),
            None => from,
        },
    };
    let names_read = parts.contains(SampleParts::NAMES);
    let mut procs: Vec<Vec<(Option<u16>, ProcessEntry)>> = vec![Vec::new(); times.len()];
    // The process rows' batches outlive their read: the lone process values names derive from point into them.
    let (mut proc_batches, mut proc_version) = (Vec::new(), version);
    // Before schema 5 a name total may be its lone process's values: the process rows are read for them.
    let values = names_read && version < 5;
    if parts.contains(SampleParts::PROCESSES) || values {
        (proc_version, proc_batches) = read_processes(&files[1], objects, upto, only, parts)?;
    }
    let fill_procs = match parts.contains(SampleParts::PROCESSES) {
        true => kept.clone(),
        false => vec![false; kept.len()],
    };
    let rows_at = samples_of_rows(
        &proc_batches,
        &times,
        upto,
        &fill_procs,
        &mut procs,
        &files[1],
    )?;
    let fill = Fill {
        rows_at: &rows_at,
        kept: &fill_procs,
    };
    let lone = fill_processes(
        &proc_batches,
        proc_version,
        &files[1],
        parts,
        &fill,
        &mut procs,
        values,
    )?;
    let mut names: Vec<Vec<(Option<u16>, NameTotal)>> = vec![Vec::new(); times.len()];
    if names_read {
        read_names(
            &files[2],
            objects,
            upto,
            only,
            &times,
            &kept,
            lone.as_ref(),
            &mut names,
        )?;
    }
    drop(lone);
    drop(proc_batches);
    // The samples wanted (those built), with their lists.
    let lists = procs.into_iter().zip(names).zip(&kept).filter(|(_, k)| **k);
    for ((s, lens), ((p, n), _)) in samples.iter_mut().zip(lens).zip(lists) {
        order_lists(s, p, n, lens, &files)?;
    }
    // Only segments whose samples carried probes have a latency file, exited names an exits file, and kills an
    // OOM-kill file. Their rows derive nothing from other rows: only those of the samples kept are read.
    let latency = seg.file(LATENCY);
    if parts.contains(SampleParts::LATENCY) && latency.exists() {
        read_latency(&latency, objects, range, only, &mut samples)?;
    }
    let exits = seg.file(EXITS);
    if parts.contains(SampleParts::EXITS) && exits.exists() {
        read_exits(&exits, objects, range, only, &mut samples)?;
    }
    let kills = seg.file(OOM_KILLS);
    if parts.contains(SampleParts::OOM_KILLS) && kills.exists() {
        read_oom_kills(&kills, objects, range, only, &mut samples)?;
    }
    Ok(samples)
}

/// Gives a sample its process and name lists in their written order, with their ranks (derived where the file
/// stores only the lists' lengths).
pub(super) fn order_lists(
    s: &mut Sample,
    mut p: Vec<(Option<u16>, ProcessEntry)>,
    mut n: Vec<(Option<u16>, NameTotal)>,
    lens: ListLens,
    files: &[PathBuf],
) -> Result<(), Error> {
    let rule = crate::ranks::rule_lens(&s.top, p.iter().map(|x| &x.1), n.iter().map(|x| &x.1));
    let explicit = [
        p.iter().any(|x| x.1.cpu_rank.is_some()),
        p.iter().any(|x| x.1.rss_rank.is_some()),
        n.iter().any(|x| x.1.cpu_rank.is_some()),
        n.iter().any(|x| x.1.rss_rank.is_some()),
    ];
    let len = |j: usize| match lens[j] {
        ListLen::Stored(len) => len,
        ListLen::Rule(_) if explicit[j] => None,
        ListLen::Rule(len) => Some(len.unwrap_or(rule[j])),
    };
    derive_ranks(&mut p, len(0), cmp_entries_by_cpu, |e, r| e.cpu_rank = r);
    derive_ranks(&mut p, len(1), cmp_entries_by_rss, |e, r| e.rss_rank = r);
    derive_ranks(&mut n, len(2), cmp_names_by_cpu, |e, r| e.cpu_rank = r);
    derive_ranks(&mut n, len(3), cmp_names_by_rss, |e, r| e.rss_rank = r);
    s.top.processes = restore_order(
        p,
        |a, b| process_sort_key(a).cmp(&process_sort_key(b)),
        &files[1],
    )?;
    s.top.names = restore_order(
        n,
        |a, b| name_order_key(a).cmp(&name_order_key(b)),
        &files[2],
    )?;
    Ok(())
}

/// Puts a sample's list back in its written order: by the stored positions when there are any, else by the
/// canonical key.
fn restore_order<T>(
    mut items: Vec<(Option<u16>, T)>,
    cmp: impl Fn(&T, &T) -> std::cmp::Ordering,
    path: &Path,
) -> Result<Vec<T>, Error> {
    let explicit = items.iter().filter(|(p, _)| p.is_some()).count();
    if explicit == 0 {
        items.sort_by(|a, b| cmp(&a.1, &b.1));
    } else if explicit == items.len() {
        items.sort_by_key(|(p, _)| *p);
    } else {
        return Err(invalid(
            path,
            "list_pos is set for some rows of a sample but not all",
        ));
    }
    Ok(items.into_iter().map(|(_, t)| t).collect())
}

/// Sets the ranks of one list of a sample from the values, when its length is stored (else the rows held them).
fn derive_ranks<T>(
    items: &mut [(Option<u16>, T)],
    len: Option<u16>,
    cmp: impl Fn(&T, &T) -> std::cmp::Ordering,
    set: impl Fn(&mut T, Option<u16>),
) {
    let Some(len) = len else { return };
    let ranks = crate::ranks::derive(items, usize::from(len), |a, b| cmp(&a.1, &b.1));
    for (item, r) in items.iter_mut().zip(ranks) {
        set(&mut item.1, r);
    }
}
