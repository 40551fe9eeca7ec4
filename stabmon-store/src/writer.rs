//! [`StoreWriter`]: buffers one row group of samples compactly and writes it to the three tables of a segment.

use std::collections::HashMap;
use std::fs::File;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use arrow_array::types::Int32Type;
use arrow_array::{
    ArrayRef, BooleanArray, DictionaryArray, Float32Array, Int32Array, Int64Array, ListArray,
    RecordBatch, StringArray, TimestampMicrosecondArray, UInt16Array, UInt32Array, UInt64Array,
};
use arrow_buffer::{OffsetBuffer, ScalarBuffer};
use arrow_schema::{DataType, Field};
use parquet::arrow::ArrowWriter;
use parquet::arrow::arrow_writer::{
    ArrowColumnChunk, ArrowRowGroupWriterFactory, ArrowWriterOptions, compute_leaves,
};
use parquet::file::writer::SerializedFileWriter;
use stabmon_core::latency::whole_micros;
use stabmon_core::{CpuUsage, LatencyProbe, NameTotal, ProcessEntry, Sample, Timestamp};

use crate::error::{Error, arrow, io, pq};
use crate::layout::{LATENCY, TABLES, partition_dir, segment_stem, utc_date};
use crate::schema::{Variant, schema, writer_properties};

/// Options of a [`StoreWriter`]. Build with [`WriterOptions::new`] (or `Default`) and the setters.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct WriterOptions {
    /// Samples per row group. Rows are buffered in memory until a row group is full, then sorted and written.
    pub row_group_samples: usize,
    /// Bytes of distinct strings (command lines, names, users, boot ids, time zones) that a row group may gain
    /// after its first sample before it is written early, whatever its sample count.
    pub row_group_string_bytes: usize,
    /// The zstd compression level (of the `cmdline` column: this, at most 3).
    pub zstd_level: i32,
}

impl Default for WriterOptions {
    fn default() -> Self {
        WriterOptions {
            row_group_samples: 3600,
            row_group_string_bytes: 256 << 10,
            zstd_level: 6,
        }
    }
}

impl WriterOptions {
    /// The default options.
    pub fn new() -> Self {
        Self::default()
    }

    /// Samples per row group.
    ///
    /// By default, this is set to 3,600 (an hour at 1 s). Bigger row groups compress better (each process's
    /// series is longer) but hold more rows in memory: with top 10 about 11-15 process rows (40 bytes each in the
    /// buffer, and each process's identity once) and 9-15 name rows (32 bytes) a sample, an hour is 2.6-3.9 MB.
    /// A value of 0 is taken as 1.
    pub fn row_group_samples(mut self, samples: usize) -> Self {
        self.row_group_samples = samples.max(1);
        self
    }

    /// Bytes of distinct strings a row group may gain after its first sample before it is written early.
    ///
    /// By default, this is set to 256 KiB. Each distinct command line of a row group is held until the row group
    /// is written, and encoding its dictionary page takes about three more copies: where processes come and go
    /// (a parallel build: a new compiler, with a 256-byte command line of its own, every second or more), an
    /// hour's command lines alone would take the recorder's compaction from ~12 to 15-42 MiB above what it used
    /// before (`COMPACTION_CHURN` in the compaction bench; BENCHMARKS.md, "Compaction"). A real hour
    /// with 766 distinct command lines gained 161 KB of them: one row group. What the first sample brings is not
    /// counted, so that long command lines that do not change (`--top 100 --cmdline-max 4096`) stay one row
    /// group. A value of 0 is taken as 1.
    pub fn row_group_string_bytes(mut self, bytes: usize) -> Self {
        self.row_group_string_bytes = bytes.max(1);
        self
    }

    /// The zstd level.
    ///
    /// By default, this is set to 6. Measured (BENCHMARKS.md): against level 3, -4 % on the synthetic day and
    /// -2 % on a real recording for ~4 us more CPU per sample and no measurable peak-RSS increase; level 9 saves
    /// a little more but its compression context costs megabytes of peak RSS. The `cmdline` column uses this level
    /// or 3, whichever is lower: its dictionary page (every distinct command line of the row group) is the one
    /// page that grows past 128 KiB, where zstd 6 needs a 3 MB context.
    pub fn zstd_level(mut self, level: i32) -> Self {
        self.zstd_level = level;
        self
    }
}

/// What a [`StoreWriter`] wrote, returned by [`StoreWriter::finish`].
#[derive(Debug, Clone, PartialEq, Eq, Default)]
#[non_exhaustive]
pub struct WriteSummary {
    /// Samples written.
    pub samples: u64,
    /// Rows written to the `processes` table.
    pub process_rows: u64,
    /// Rows written to the `names` table.
    pub name_rows: u64,
    /// The segment files completed, in the order they were finished.
    pub files: Vec<PathBuf>,
    /// The size of those files, in bytes.
    pub bytes: u64,
}

impl std::fmt::Display for WriteSummary {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{} samples, {} process rows, {} name rows in {} files, {} bytes",
            self.samples,
            self.process_rows,
            self.name_rows,
            self.files.len(),
            self.bytes
        )
    }
}

/// Interns strings of one row group: a column's dictionary. Each string is held once, shared by the map and the
/// list (a real hour in which ~1,700 processes passed through the lists held 766 distinct command lines).
#[derive(Default)]
struct Interner {
    ids: HashMap<Arc<str>, i32>,
    values: Vec<Arc<str>>,
    /// The strings' bytes.
    bytes: usize,
}

impl Interner {
    fn id(&mut self, s: &str) -> i32 {
        if let Some(&id) = self.ids.get(s) {
            return id;
        }
        let id = i32::try_from(self.values.len()).unwrap_or(i32::MAX);
        let s: Arc<str> = Arc::from(s);
        self.bytes += s.len();
        self.ids.insert(Arc::clone(&s), id);
        self.values.push(s);
        id
    }

    fn opt(&mut self, s: Option<&str>) -> Option<i32> {
        s.map(|s| self.id(s))
    }

    fn array(&mut self, keys: Vec<Option<i32>>) -> Result<ArrayRef, arrow_schema::ArrowError> {
        self.ids = HashMap::new();
        self.bytes = 0;
        let values = StringArray::from_iter_values(std::mem::take(&mut self.values).iter());
        let dict = DictionaryArray::<Int32Type>::try_new(Int32Array::from(keys), Arc::new(values))?;
        Ok(Arc::new(dict))
    }
}

/// A value and whether it is there, for the compact rows below: an `Option` of a 4-byte value takes 8 bytes.
fn present<T: Copy>(flags: u8, bit: u8, v: T) -> Option<T> {
    (flags & bit != 0).then_some(v)
}

/// Sets `bit` in `flags` when `v` is there and returns the value (or the default).
fn mark<T: Copy + Default>(flags: &mut u8, bit: u8, v: Option<T>) -> T {
    if v.is_some() {
        *flags |= bit;
    }
    v.unwrap_or_default()
}

/// What a process is across the samples of a row group: its identity (pid, start) and what rarely changes with
/// it. The rows refer to it by index, so that the ~40 samples a process spends in the lists hold it once.
#[derive(Clone, Copy, PartialEq, Eq)]
struct ProcIdentity {
    start_time: i64,
    pid: u32,
    parent_pid: u32,
    name: i32,
    cmdline: i32,
    user: i32,
    /// Which of the optional values are there (the `P_PARENT`, `P_CMDLINE`, `P_USER` bits).
    flags: u8,
}

impl ProcIdentity {
    fn parent_pid(&self) -> Option<u32> {
        present(self.flags, P_PARENT, self.parent_pid)
    }
    fn cmdline(&self) -> Option<i32> {
        present(self.flags, P_CMDLINE, self.cmdline)
    }
    fn user(&self) -> Option<i32> {
        present(self.flags, P_USER, self.user)
    }
}

/// One row of the `processes` table in the buffer, in 40 bytes (`Option`s as bits of `flags`): an hour's row group
/// holds ~40,000 of them, the biggest part of the recorder's memory at compaction.
struct ProcRow {
    rss_bytes: u64,
    virtual_bytes: u64,
    /// The process's index in `Buffer::idents`.
    ident: u32,
    /// The sample's index in the row group: its `ts` is `Buffer::ts[sample]`.
    sample: u32,
    cpu_pct: f32,
    children_cpu_pct: f32,
    cpu_rank: u16,
    rss_rank: u16,
    /// Which of the optional values are there (the `P_CHILDREN`, `P_*_RANK` bits).
    flags: u8,
}

const _: () = assert!(std::mem::size_of::<ProcRow>() == 40);
const _: () = assert!(std::mem::size_of::<ProcIdentity>() == 32);
const _: () = assert!(std::mem::size_of::<NameRow>() == 32);

const P_PARENT: u8 = 1;
const P_CMDLINE: u8 = 2;
const P_USER: u8 = 4;
const P_CHILDREN: u8 = 8;
const P_CPU_RANK: u8 = 16;
const P_RSS_RANK: u8 = 32;

impl ProcRow {
    fn children_cpu_pct(&self) -> Option<f32> {
        present(self.flags, P_CHILDREN, self.children_cpu_pct)
    }
    fn cpu_rank(&self) -> Option<u16> {
        present(self.flags, P_CPU_RANK, self.cpu_rank)
    }
    fn rss_rank(&self) -> Option<u16> {
        present(self.flags, P_RSS_RANK, self.rss_rank)
    }
}

/// The process rows of a row group, sorted, with the identities they refer to.
struct ProcRows {
    rows: Vec<ProcRow>,
    idents: Vec<ProcIdentity>,
}

impl ProcRows {
    fn ident(&self, r: &ProcRow) -> &ProcIdentity {
        &self.idents[r.ident as usize]
    }
}

/// One row of the `names` table in the buffer, in 32 bytes.
struct NameRow {
    rss_bytes: u64,
    /// The sample's index in the row group.
    sample: u32,
    name: i32,
    process_count: u32,
    cpu_pct: f32,
    cpu_rank: u16,
    rss_rank: u16,
    /// Which of the optional values are there (the `N_*` bits).
    flags: u8,
}

const N_CPU_RANK: u8 = 1;
const N_RSS_RANK: u8 = 2;

impl NameRow {
    fn cpu_rank(&self) -> Option<u16> {
        present(self.flags, N_CPU_RANK, self.cpu_rank)
    }
    fn rss_rank(&self) -> Option<u16> {
        present(self.flags, N_RSS_RANK, self.rss_rank)
    }
}

/// Like [`process_sort_key`] for name totals.
pub(crate) fn name_order_key(n: &NameTotal) -> (bool, Option<u16>, bool, Option<u16>, &str) {
    (
        n.cpu_rank.is_none(),
        n.cpu_rank,
        n.rss_rank.is_none(),
        n.rss_rank,
        n.name.as_str(),
    )
}

/// The canonical order of a sample's process list, in which the reader gives it back: the order
/// [`stabmon_core::attribution::attribute`] produces (by CPU rank, then by memory rank; a rank sorts before no
/// rank), ties by identity.
pub(crate) fn process_sort_key(
    p: &ProcessEntry,
) -> (bool, Option<u16>, bool, Option<u16>, u32, i64) {
    (
        p.cpu_rank.is_none(),
        p.cpu_rank,
        p.rss_rank.is_none(),
        p.rss_rank,
        p.pid,
        p.start_time.as_unix_micros(),
    )
}

/// The rows of one row group, stored column by column (samples) or as compact rows (processes, names).
#[derive(Default)]
struct Buffer {
    ts: Vec<i64>,
    boot_time: Vec<i64>,
    boot_id: Vec<Option<i32>>,
    timezone: Vec<Option<i32>>,
    utc_offset_secs: Vec<Option<i32>>,
    interval_us: Vec<i64>,
    lateness_us: Vec<i64>,
    cpu_busy: Vec<f32>,
    /// User, system, iowait and steal.
    cpu_parts: [Vec<Option<f32>>; 4],
    core_offsets: Vec<i32>,
    core_busy: Vec<f32>,
    /// Per core: user, system, iowait and steal.
    core_parts: [Vec<Option<f32>>; 4],
    load: [Vec<Option<f32>>; 3],
    mem: [Vec<u64>; 5],
    process_count: Vec<u32>,
    pressure_present: Vec<bool>,
    pressure: [Vec<Option<f32>>; 5],
    oom_kill_count: Vec<Option<u64>>,
    top_n: Vec<u16>,
    cpu_nth_pct: Vec<f32>,
    rss_nth_bytes: Vec<u64>,
    name_cpu_nth_pct: Vec<f32>,
    name_rss_nth_bytes: Vec<u64>,
    sample_strings: Interner,
    timezones: Interner,

    procs: Vec<ProcRow>,
    /// The processes the rows refer to; each pid's latest identity in `ident_of_pid` (its index).
    idents: Vec<ProcIdentity>,
    ident_of_pid: HashMap<u32, u32>,
    proc_names: Interner,
    cmdlines: Interner,
    users: Interner,

    names: Vec<NameRow>,
    name_names: Interner,

    /// Latency probes with the tick of the sample that carried them, in order.
    latency: Vec<(i64, LatencyProbe)>,
}

/// A duration in whole microseconds (the resolution of `Sample::interval`/`lateness`); finer ones are refused
/// rather than silently rounded, so that what is read back always equals what was written.
fn duration_us(d: std::time::Duration, what: &str) -> Result<i64, String> {
    if !d.subsec_nanos().is_multiple_of(1000) {
        return Err(format!(
            "{what} of {d:?} is not a whole number of microseconds (samples keep microseconds)"
        ));
    }
    i64::try_from(d.as_micros()).map_err(|_| format!("{what} of {d:?} is too long"))
}

/// A sample's CPU shares other than busy: user, system, iowait, steal.
fn cpu_parts(c: &CpuUsage) -> [Option<f32>; 4] {
    [c.user_pct, c.system_pct, c.iowait_pct, c.steal_pct]
}

impl Buffer {
    fn len(&self) -> usize {
        self.ts.len()
    }

    /// Bytes of the distinct strings the row group holds (see [`WriterOptions::row_group_string_bytes`]).
    fn string_bytes(&self) -> usize {
        [
            &self.sample_strings,
            &self.timezones,
            &self.proc_names,
            &self.cmdlines,
            &self.users,
            &self.name_names,
        ]
        .iter()
        .map(|i| i.bytes)
        .sum()
    }

    fn push(&mut self, s: &Sample) -> Result<(), String> {
        // Everything that can fail is checked before any column grows, so a refused sample leaves no half row.
        let interval_us = duration_us(s.interval, "the interval")?;
        let lateness_us = duration_us(s.lateness, "the lateness")?;
        for p in &s.latency {
            for (what, v) in [
                ("dns_ms", p.dns_ms),
                ("connect_ms", p.connect_ms),
                ("tls_ms", p.tls_ms),
                ("first_byte_ms", p.first_byte_ms),
                ("total_ms", p.total_ms),
            ] {
                if let Some(ms) = v
                    && whole_micros(ms).is_none()
                {
                    return Err(format!(
                        "the {what} of {ms} of the probe of {:?} is not a whole number of microseconds \
                         (latency timings keep microseconds)",
                        p.target
                    ));
                }
            }
        }
        let cores_end = self.core_busy.len() + s.per_core.len();
        let core_end =
            i32::try_from(cores_end).map_err(|_| "too many cores in one row group".to_owned())?;

        let ts = s.ts.as_unix_micros();
        // The row group's sample count is bounded by `row_group_samples` (a `usize`); past u32 it is refused.
        let sample = u32::try_from(self.ts.len())
            .map_err(|_| "more than 4,294,967,295 samples in one row group".to_owned())?;
        if u32::try_from(self.idents.len() + s.top.processes.len()).is_err() {
            return Err("more than 4,294,967,295 processes in one row group".to_owned());
        }
        self.ts.push(ts);
        self.boot_time.push(s.boot_time.as_unix_micros());
        self.boot_id
            .push(self.sample_strings.opt(s.boot_id.as_deref()));
        self.timezone
            .push(self.timezones.opt(s.timezone.as_deref()));
        self.utc_offset_secs.push(s.utc_offset_secs);
        self.interval_us.push(interval_us);
        self.lateness_us.push(lateness_us);
        self.cpu_busy.push(s.cpu.busy_pct);
        for (col, v) in self.cpu_parts.iter_mut().zip(cpu_parts(&s.cpu)) {
            col.push(v);
        }
        for c in &s.per_core {
            self.core_busy.push(c.busy_pct);
            for (col, v) in self.core_parts.iter_mut().zip(cpu_parts(c)) {
                col.push(v);
            }
        }
        self.core_offsets.push(core_end);
        let load = s.load.map(|l| [l.one, l.five, l.fifteen]);
        for (i, col) in self.load.iter_mut().enumerate() {
            col.push(load.map(|l| l[i]));
        }
        let m = &s.memory;
        let mem = [
            m.total_bytes,
            m.used_bytes,
            m.available_bytes,
            m.swap_total_bytes,
            m.swap_used_bytes,
        ];
        for (col, v) in self.mem.iter_mut().zip(mem) {
            col.push(v);
        }
        self.process_count.push(s.process_count);
        self.pressure_present.push(s.pressure.is_some());
        let p = s.pressure.unwrap_or_default();
        let pressure = [
            p.cpu_some_pct,
            p.memory_some_pct,
            p.memory_full_pct,
            p.io_some_pct,
            p.io_full_pct,
        ];
        for (col, v) in self.pressure.iter_mut().zip(pressure) {
            col.push(v);
        }
        self.oom_kill_count.push(s.oom_kill_count);
        let t = &s.top;
        self.top_n.push(t.n);
        self.cpu_nth_pct.push(t.cpu_nth_pct);
        self.rss_nth_bytes.push(t.rss_nth_bytes);
        self.name_cpu_nth_pct.push(t.name_cpu_nth_pct);
        self.name_rss_nth_bytes.push(t.name_rss_nth_bytes);

        for p in &t.processes {
            let ident = self.ident(p);
            let mut flags = 0;
            self.procs.push(ProcRow {
                rss_bytes: p.rss_bytes,
                virtual_bytes: p.virtual_bytes,
                ident,
                sample,
                cpu_pct: p.cpu_pct,
                children_cpu_pct: mark(&mut flags, P_CHILDREN, p.children_cpu_pct),
                cpu_rank: mark(&mut flags, P_CPU_RANK, p.cpu_rank),
                rss_rank: mark(&mut flags, P_RSS_RANK, p.rss_rank),
                flags,
            });
        }
        for n in &t.names {
            let name = self.name_names.id(&n.name);
            let mut flags = 0;
            self.names.push(NameRow {
                rss_bytes: n.rss_bytes,
                sample,
                name,
                process_count: n.process_count,
                cpu_pct: n.cpu_pct,
                cpu_rank: mark(&mut flags, N_CPU_RANK, n.cpu_rank),
                rss_rank: mark(&mut flags, N_RSS_RANK, n.rss_rank),
                flags,
            });
        }
        self.latency
            .extend(s.latency.iter().map(|p| (ts, p.clone())));
        Ok(())
    }

    /// The latency rows of the row group, `None` when its samples carried no probe; empties them.
    fn take_latency_batch(&mut self) -> Result<Option<RecordBatch>, arrow_schema::ArrowError> {
        if self.latency.is_empty() {
            return Ok(None);
        }
        let rows = std::mem::take(&mut self.latency);
        let (mut targets, mut outcomes, mut messages) = (
            Interner::default(),
            Interner::default(),
            Interner::default(),
        );
        let target_ids = rows
            .iter()
            .map(|(_, p)| Some(targets.id(&p.target)))
            .collect();
        let outcome_ids = rows
            .iter()
            .map(|(_, p)| Some(outcomes.id(p.outcome.kind())))
            .collect();
        let message_ids = rows
            .iter()
            .map(|(_, p)| messages.opt(p.outcome.message()))
            .collect();
        // Checked in push: every figure is whole microseconds.
        let ms = |f: fn(&LatencyProbe) -> Option<f64>| -> ArrayRef {
            Arc::new(Int64Array::from_iter(
                rows.iter().map(|(_, p)| f(p).and_then(whole_micros)),
            ))
        };
        let ts: Vec<i64> = rows.iter().map(|(ts, _)| *ts).collect();
        let start: Vec<i64> = rows.iter().map(|(_, p)| p.ts.as_unix_micros()).collect();
        let columns: Vec<ArrayRef> = vec![
            Arc::new(TimestampMicrosecondArray::from(ts).with_timezone("UTC")),
            Arc::new(TimestampMicrosecondArray::from(start).with_timezone("UTC")),
            targets.array(target_ids)?,
            outcomes.array(outcome_ids)?,
            Arc::new(UInt16Array::from_iter(
                rows.iter().map(|(_, p)| p.outcome.http_status()),
            )),
            messages.array(message_ids)?,
            ms(|p| p.dns_ms),
            ms(|p| p.connect_ms),
            ms(|p| p.tls_ms),
            ms(|p| p.first_byte_ms),
            ms(|p| p.total_ms),
        ];
        RecordBatch::try_new(schema(LATENCY), columns).map(Some)
    }

    fn samples_batch(&mut self) -> Result<RecordBatch, arrow_schema::ArrowError> {
        fn ts(v: Vec<i64>) -> ArrayRef {
            Arc::new(TimestampMicrosecondArray::from(v).with_timezone("UTC"))
        }
        fn f32s(v: Vec<f32>) -> ArrayRef {
            Arc::new(Float32Array::from(v))
        }
        fn opt_f32s(v: Vec<Option<f32>>) -> ArrayRef {
            Arc::new(Float32Array::from(v))
        }
        fn u64s(v: Vec<u64>) -> ArrayRef {
            Arc::new(UInt64Array::from(v))
        }
        let mut offsets = Vec::with_capacity(self.core_offsets.len() + 1);
        offsets.push(0i32);
        offsets.extend(std::mem::take(&mut self.core_offsets));
        let offsets = OffsetBuffer::new(ScalarBuffer::from(offsets));
        let list =
            |values: ArrayRef, nullable: bool| -> Result<ArrayRef, arrow_schema::ArrowError> {
                let field = Arc::new(Field::new("item", DataType::Float32, nullable));
                Ok(Arc::new(ListArray::try_new(
                    field,
                    offsets.clone(),
                    values,
                    None,
                )?))
            };
        let take = std::mem::take::<Vec<f32>>;
        let [l1, l5, l15] = std::mem::take(&mut self.load);
        let [m0, m1, m2, m3, m4] = std::mem::take(&mut self.mem);
        let [p0, p1, p2, p3, p4] = std::mem::take(&mut self.pressure);
        let [u, sy, io, st] = std::mem::take(&mut self.cpu_parts);
        let [cu, csy, cio, cst] = std::mem::take(&mut self.core_parts);
        let columns: Vec<ArrayRef> = vec![
            ts(std::mem::take(&mut self.ts)),
            ts(std::mem::take(&mut self.boot_time)),
            self.sample_strings
                .array(std::mem::take(&mut self.boot_id))?,
            self.timezones.array(std::mem::take(&mut self.timezone))?,
            Arc::new(Int32Array::from(std::mem::take(&mut self.utc_offset_secs))),
            Arc::new(Int64Array::from(std::mem::take(&mut self.interval_us))),
            Arc::new(Int64Array::from(std::mem::take(&mut self.lateness_us))),
            f32s(take(&mut self.cpu_busy)),
            opt_f32s(u),
            opt_f32s(sy),
            opt_f32s(io),
            opt_f32s(st),
            list(f32s(take(&mut self.core_busy)), false)?,
            list(opt_f32s(cu), true)?,
            list(opt_f32s(csy), true)?,
            list(opt_f32s(cio), true)?,
            list(opt_f32s(cst), true)?,
            opt_f32s(l1),
            opt_f32s(l5),
            opt_f32s(l15),
            u64s(m0),
            u64s(m1),
            u64s(m2),
            u64s(m3),
            u64s(m4),
            Arc::new(UInt32Array::from(std::mem::take(&mut self.process_count))),
            Arc::new(BooleanArray::from(std::mem::take(
                &mut self.pressure_present,
            ))),
            opt_f32s(p0),
            opt_f32s(p1),
            opt_f32s(p2),
            opt_f32s(p3),
            opt_f32s(p4),
            Arc::new(UInt64Array::from(std::mem::take(&mut self.oom_kill_count))),
            Arc::new(UInt16Array::from(std::mem::take(&mut self.top_n))),
            f32s(take(&mut self.cpu_nth_pct)),
            u64s(std::mem::take(&mut self.rss_nth_bytes)),
            f32s(take(&mut self.name_cpu_nth_pct)),
            u64s(std::mem::take(&mut self.name_rss_nth_bytes)),
        ];
        RecordBatch::try_new(schema("samples"), columns)
    }

    /// The process rows of the row group, sorted by identity, then time: each column becomes a smooth
    /// per-process series that delta and RLE shrink. Empties them from the buffer.
    fn take_process_rows(&mut self) -> ProcRows {
        let mut rows = std::mem::take(&mut self.procs);
        let idents = std::mem::take(&mut self.idents);
        self.ident_of_pid = HashMap::new();
        rows.sort_unstable_by_key(|r| {
            let id = &idents[r.ident as usize];
            (id.pid, id.start_time, r.sample)
        });
        ProcRows { rows, idents }
    }

    /// The index in `idents` of `p`'s identity, added when it is new (or when the pid's latest one differs).
    fn ident(&mut self, p: &ProcessEntry) -> u32 {
        let mut flags = 0;
        let cmdline = self.cmdlines.opt(p.cmdline.as_deref());
        let user = self.users.opt(p.user.as_deref());
        let id = ProcIdentity {
            start_time: p.start_time.as_unix_micros(),
            pid: p.pid,
            parent_pid: mark(&mut flags, P_PARENT, p.parent_pid),
            name: self.proc_names.id(&p.name),
            cmdline: mark(&mut flags, P_CMDLINE, cmdline),
            user: mark(&mut flags, P_USER, user),
            flags,
        };
        if let Some(&k) = self.ident_of_pid.get(&p.pid)
            && self.idents.get(k as usize) == Some(&id)
        {
            return k;
        }
        // `push` checked that the row group's processes fit in a u32.
        let k = u32::try_from(self.idents.len()).unwrap_or(u32::MAX);
        self.idents.push(id);
        self.ident_of_pid.insert(p.pid, k);
        k
    }

    /// Column `i` of the `processes` table (see `schema.rs`) from its sorted rows.
    fn process_column(
        &mut self,
        procs: &ProcRows,
        sample_ts: &[i64],
        i: usize,
    ) -> Result<ArrayRef, arrow_schema::ArrowError> {
        let ts = |v: Vec<i64>| -> ArrayRef {
            Arc::new(TimestampMicrosecondArray::from(v).with_timezone("UTC"))
        };
        let rows = &procs.rows;
        let ids = || rows.iter().map(|r| procs.ident(r));
        Ok(match i {
            0 => ts(rows.iter().map(|r| sample_ts[r.sample as usize]).collect()),
            1 => Arc::new(UInt32Array::from_iter_values(ids().map(|id| id.pid))),
            2 => ts(ids().map(|id| id.start_time).collect()),
            3 => Arc::new(UInt32Array::from_iter(ids().map(ProcIdentity::parent_pid))),
            4 => self
                .proc_names
                .array(ids().map(|id| Some(id.name)).collect())?,
            5 => self
                .cmdlines
                .array(ids().map(ProcIdentity::cmdline).collect())?,
            6 => self.users.array(ids().map(ProcIdentity::user).collect())?,
            7 => Arc::new(Float32Array::from_iter_values(
                rows.iter().map(|r| r.cpu_pct),
            )),
            8 => Arc::new(Float32Array::from_iter(
                rows.iter().map(ProcRow::children_cpu_pct),
            )),
            9 => Arc::new(UInt64Array::from_iter_values(
                rows.iter().map(|r| r.rss_bytes),
            )),
            10 => Arc::new(UInt64Array::from_iter_values(
                rows.iter().map(|r| r.virtual_bytes),
            )),
            11 => Arc::new(UInt16Array::from_iter(rows.iter().map(ProcRow::cpu_rank))),
            _ => Arc::new(UInt16Array::from_iter(rows.iter().map(ProcRow::rss_rank))),
        })
    }

    /// The name rows of the row group, sorted by name, then time. Empties them from the buffer.
    fn take_name_rows(&mut self) -> Vec<NameRow> {
        let mut rows = std::mem::take(&mut self.names);
        let order = &self.name_names.values;
        rows.sort_unstable_by(|a, b| {
            let (na, nb) = (order.get(a.name as usize), order.get(b.name as usize));
            na.cmp(&nb).then(a.sample.cmp(&b.sample))
        });
        rows
    }

    /// Column `i` of the `names` table (see `schema.rs`) from its sorted rows.
    fn name_column(
        &mut self,
        rows: &[NameRow],
        sample_ts: &[i64],
        i: usize,
    ) -> Result<ArrayRef, arrow_schema::ArrowError> {
        Ok(match i {
            0 => Arc::new(
                TimestampMicrosecondArray::from(
                    rows.iter()
                        .map(|r| sample_ts[r.sample as usize])
                        .collect::<Vec<_>>(),
                )
                .with_timezone("UTC"),
            ),
            1 => self
                .name_names
                .array(rows.iter().map(|r| Some(r.name)).collect())?,
            2 => Arc::new(UInt32Array::from_iter_values(
                rows.iter().map(|r| r.process_count),
            )),
            3 => Arc::new(Float32Array::from_iter_values(
                rows.iter().map(|r| r.cpu_pct),
            )),
            4 => Arc::new(UInt64Array::from_iter_values(
                rows.iter().map(|r| r.rss_bytes),
            )),
            5 => Arc::new(UInt16Array::from_iter(rows.iter().map(NameRow::cpu_rank))),
            _ => Arc::new(UInt16Array::from_iter(rows.iter().map(NameRow::rss_rank))),
        })
    }
}

/// One table's file of the open segment.
struct SegmentFile {
    writer: SerializedFileWriter<File>,
    /// Makes the column writers of each row group.
    columns: ArrowRowGroupWriterFactory,
    /// Make column writers of the other [`Variant`]s, tried for small chunks.
    alternatives: [ArrowRowGroupWriterFactory; 2],
    tmp: PathBuf,
    path: PathBuf,
}

/// An open segment: one file per table for one host and UTC date, and the rows of its row group in progress.
struct Segment {
    host: String,
    date: String,
    /// The file name shared by the segment's tables.
    name: String,
    last_ts: i64,
    files: Vec<SegmentFile>,
    /// The latency table's file, opened when the first probe arrives.
    latency: Option<SegmentFile>,
    zstd_level: i32,
    buf: Buffer,
    /// The buffer's string bytes after the row group's first sample (see
    /// [`WriterOptions::row_group_string_bytes`]).
    first_string_bytes: usize,
}

/// Writes samples to a data directory, in the layout and schema described in the [crate docs](crate).
///
/// Samples are buffered a row group at a time (see [`WriterOptions::row_group_samples`]) and written when the
/// row group is full or has gained too many distinct strings ([`WriterOptions::row_group_string_bytes`]), when
/// the host or the UTC date changes (a new segment starts), when time goes backwards (a
/// clock step: a new segment, so that a segment's timestamps always increase) and at [`finish`](Self::finish).
/// Files are written under a hidden temporary name and renamed into place when complete, so readers (stabmon,
/// DuckDB, pyarrow) never see a half-written file.
///
/// Call [`finish`](Self::finish): it writes the Parquet footers and reports errors. Dropping an unfinished writer
/// makes a best-effort attempt to do the same, but cannot report a failure.
pub struct StoreWriter {
    root: PathBuf,
    opts: WriterOptions,
    /// One open segment per host (almost always exactly one).
    segs: Vec<Segment>,
    summary: WriteSummary,
    poisoned: bool,
}

impl std::fmt::Debug for StoreWriter {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("StoreWriter")
            .field("root", &self.root)
            .field("opts", &self.opts)
            .field("open_segments", &self.segs.len())
            .field("summary", &self.summary)
            .finish_non_exhaustive()
    }
}

impl StoreWriter {
    /// A writer into `data_dir` with the default [`WriterOptions`]. Creates the directory if needed and checks
    /// that it is writable; the error names the directory.
    pub fn create(data_dir: impl AsRef<Path>) -> Result<StoreWriter, Error> {
        Self::create_with(data_dir, WriterOptions::default())
    }

    /// A writer into `data_dir` with the given options.
    pub fn create_with(
        data_dir: impl AsRef<Path>,
        opts: WriterOptions,
    ) -> Result<StoreWriter, Error> {
        let root = data_dir.as_ref().to_path_buf();
        std::fs::create_dir_all(&root).map_err(|source| Error::CreateDir {
            path: root.clone(),
            source,
        })?;
        // Fail now, not at the first row group, when the directory is not writable.
        let probe = root.join(format!(".stabmon-write-test-{}", std::process::id()));
        File::create(&probe)
            .and_then(|_| std::fs::remove_file(&probe))
            .map_err(|source| Error::CreateDir {
                path: root.clone(),
                source,
            })?;
        Ok(StoreWriter {
            root,
            opts,
            segs: Vec::new(),
            summary: WriteSummary::default(),
            poisoned: false,
        })
    }

    /// The data directory.
    pub fn data_dir(&self) -> &Path {
        &self.root
    }

    /// Samples accepted so far (including those still buffered).
    pub fn samples_written(&self) -> u64 {
        self.summary.samples
    }

    /// Adds a sample. It is buffered until its row group is full; [`finish`](Self::finish) writes the rest.
    ///
    /// After an I/O error the writer refuses further samples ([`Error::Poisoned`]); [`finish`](Self::finish)
    /// still completes what it can. A sample the format cannot hold ([`Error::Unrepresentable`]) is refused
    /// alone; the writer goes on.
    pub fn write(&mut self, sample: &Sample) -> Result<(), Error> {
        if self.poisoned {
            return Err(Error::Poisoned {
                path: self.root.clone(),
            });
        }
        let ts = sample.ts.as_unix_micros();
        let date = utc_date(sample.ts);
        let found = self.segs.iter().position(|s| s.host == sample.host);
        let idx = match found {
            Some(i) if self.segs[i].date == date && ts > self.segs[i].last_ts => i,
            other => {
                if let Some(i) = other {
                    let seg = self.segs.swap_remove(i);
                    self.guard(|w| w.close_segment(seg))?;
                }
                let seg = self.guard(|w| w.open_segment(&sample.host, &date, sample.ts))?;
                self.segs.push(seg);
                self.segs.len() - 1
            }
        };
        let seg = &mut self.segs[idx];
        seg.buf
            .push(sample)
            .map_err(|reason| Error::Unrepresentable {
                path: self.root.clone(),
                ts: sample.ts,
                reason,
            })?;
        seg.last_ts = ts;
        self.summary.samples += 1;
        self.summary.process_rows += sample.top.processes.len() as u64;
        self.summary.name_rows += sample.top.names.len() as u64;
        if seg.buf.len() == 1 {
            seg.first_string_bytes = seg.buf.string_bytes();
        }
        let gained = seg
            .buf
            .string_bytes()
            .saturating_sub(seg.first_string_bytes);
        if seg.buf.len() >= self.opts.row_group_samples
            || gained >= self.opts.row_group_string_bytes.max(1)
        {
            let r = flush_row_group(seg, &self.root);
            if r.is_err() {
                self.poisoned = true;
            }
            r?;
        }
        Ok(())
    }

    /// Writes everything buffered, completes the open segments' files (footers, rename into place) and returns
    /// what was written.
    pub fn finish(mut self) -> Result<WriteSummary, Error> {
        self.close_all()?;
        Ok(std::mem::take(&mut self.summary))
    }

    fn close_all(&mut self) -> Result<(), Error> {
        let mut first_err = None;
        for seg in std::mem::take(&mut self.segs) {
            if let Err(e) = self.close_segment(seg) {
                first_err.get_or_insert(e);
            }
        }
        first_err.map_or(Ok(()), Err)
    }

    /// Runs `f`; an error poisons the writer.
    fn guard<T>(&mut self, f: impl FnOnce(&mut Self) -> Result<T, Error>) -> Result<T, Error> {
        let r = f(self);
        if r.is_err() {
            self.poisoned = true;
        }
        r
    }

    fn open_segment(&mut self, host: &str, date: &str, first: Timestamp) -> Result<Segment, Error> {
        let mut dirs: Vec<PathBuf> = TABLES
            .iter()
            .map(|t| partition_dir(&self.root, t, host, date))
            .collect();
        for d in &dirs {
            std::fs::create_dir_all(d).map_err(|source| Error::CreateDir {
                path: d.clone(),
                source,
            })?;
        }
        // The latency table's directory is created with its file, but a name taken there is taken too.
        dirs.push(partition_dir(&self.root, LATENCY, host, date));
        let stem = segment_stem(first);
        let mut n = 0u32;
        let name = loop {
            let name = if n == 0 {
                stem.clone()
            } else {
                format!("{stem}-{n}")
            };
            let taken = dirs.iter().any(|d| {
                d.join(format!("{name}.parquet")).exists()
                    || d.join(format!(".{name}.parquet.tmp")).exists()
            });
            if !taken {
                break name;
            }
            n += 1;
        };
        let mut files = Vec::with_capacity(TABLES.len());
        for (table, dir) in TABLES.iter().zip(&dirs) {
            files.push(open_file(dir, &name, table, host, self.opts.zstd_level)?);
        }
        Ok(Segment {
            host: host.to_owned(),
            date: date.to_owned(),
            name,
            last_ts: i64::MIN,
            files,
            latency: None,
            zstd_level: self.opts.zstd_level,
            buf: Buffer::default(),
            first_string_bytes: 0,
        })
    }

    fn close_segment(&mut self, mut seg: Segment) -> Result<(), Error> {
        // On a flush error, still close the files so that what was flushed before is readable.
        let mut first_err = flush_row_group(&mut seg, &self.root).err();
        for f in seg.files.into_iter().chain(seg.latency) {
            let res = f
                .writer
                .into_inner()
                .map_err(pq(&f.tmp))
                .and_then(|file| file.sync_all().map_err(io(&f.tmp)))
                .and_then(|()| std::fs::rename(&f.tmp, &f.path).map_err(io(&f.path)))
                .and_then(|()| std::fs::metadata(&f.path).map_err(io(&f.path)));
            match res {
                Ok(meta) => {
                    self.summary.bytes += meta.len();
                    self.summary.files.push(f.path);
                }
                Err(e) => {
                    first_err.get_or_insert(e);
                }
            }
        }
        match first_err {
            Some(e) => {
                self.poisoned = true;
                Err(e)
            }
            None => Ok(()),
        }
    }
}

fn flush_row_group(seg: &mut Segment, root: &Path) -> Result<(), Error> {
    if seg.buf.len() == 0 {
        return Ok(());
    }
    // One table at a time, and of `processes` and `names` (an hour is ~100,000 rows) one column at a time: the
    // buffer's rows and one column's array are what is held, never a whole record batch.
    let [samples, processes, names] = &mut seg.files[..] else {
        return Err(Error::Invalid {
            path: root.to_path_buf(),
            reason: "a segment without its three table files".into(),
        });
    };
    // `samples` last: the process and name rows refer to its ticks (`Buffer::ts`) by index, which it empties.
    let rows = seg.buf.take_process_rows();
    let sample_ts = std::mem::take(&mut seg.buf.ts);
    write_row_group(processes, &schema("processes"), |i| {
        seg.buf.process_column(&rows, &sample_ts, i)
    })?;
    drop(rows);
    let rows = seg.buf.take_name_rows();
    write_row_group(names, &schema("names"), |i| {
        seg.buf.name_column(&rows, &sample_ts, i)
    })?;
    drop(rows);
    seg.buf.ts = sample_ts;
    let batch = seg.buf.samples_batch().map_err(arrow(root))?;
    write_row_group(samples, &schema("samples"), |i| {
        Ok(Arc::clone(batch.column(i)))
    })?;
    drop(batch);
    let latency = seg.buf.take_latency_batch().map_err(arrow(root))?;
    if let Some(batch) = latency {
        let f = match &mut seg.latency {
            Some(f) => f,
            None => {
                let dir = partition_dir(root, LATENCY, &seg.host, &seg.date);
                std::fs::create_dir_all(&dir).map_err(|source| Error::CreateDir {
                    path: dir.clone(),
                    source,
                })?;
                let file = open_file(&dir, &seg.name, LATENCY, &seg.host, seg.zstd_level)?;
                seg.latency.insert(file)
            }
        };
        write_row_group(f, &batch.schema(), |i| Ok(Arc::clone(batch.column(i))))?;
    }
    Ok(())
}

/// Creates a table's file of a segment under its hidden temporary name.
fn open_file(
    dir: &Path,
    name: &str,
    table: &str,
    host: &str,
    zstd_level: i32,
) -> Result<SegmentFile, Error> {
    let tmp = dir.join(format!(".{name}.parquet.tmp"));
    let path = dir.join(format!("{name}.parquet"));
    let file = File::options()
        .write(true)
        .create_new(true)
        .open(&tmp)
        .map_err(io(&tmp))?;
    // No embedded Arrow schema: it would add kilobytes to every footer, and the Parquet types already say
    // everything (the reader accepts plain or dictionary strings).
    let options = |variant| {
        ArrowWriterOptions::new()
            .with_properties(writer_properties(table, host, zstd_level, variant))
            .with_skip_arrow_metadata(true)
    };
    let (writer, columns) =
        ArrowWriter::try_new_with_options(file, schema(table), options(Variant::Chosen))
            .and_then(ArrowWriter::into_serialized_writer)
            .map_err(pq(&tmp))?;
    // The alternatives' column writers encode into memory; their file writers only carry the properties.
    let alternative = |variant| {
        ArrowWriter::try_new_with_options(std::io::sink(), schema(table), options(variant))
            .and_then(ArrowWriter::into_serialized_writer)
            .map(|(_, factory)| factory)
            .map_err(pq(&tmp))
    };
    Ok(SegmentFile {
        writer,
        columns,
        alternatives: [
            alternative(Variant::Uncompressed)?,
            alternative(Variant::UncompressedNoDictionary)?,
        ],
        tmp,
        path,
    })
}

/// Chunks up to this size (compressed, page headers included) are also encoded as the other [`Variant`]s, and
/// the smallest is kept: constant and all-null columns, most of a short segment's columns, shrink from ~40-58 to
/// ~25-40 bytes (BENCHMARKS.md). Larger chunks gain nothing from it and would cost memory.
const TRY_VARIANTS_BELOW_BYTES: i64 = 512;

/// Writes one row group of `schema`, asking `column(i)` for each column in turn and encoding it before asking for
/// the next: each column's array is dropped and its writer closed (its zstd context freed) before the next one
/// starts. `ArrowWriter` keeps every column's writer, with a zstd context of up to a few hundred KB each, until
/// the row group is flushed: 14.5 MB of an hour's compaction peak (valgrind massif; BENCHMARKS.md). The encoded
/// chunks wait in memory, compressed, until the row group is written. The writers of the other [`Variant`]s
/// (uncompressed: no zstd context) exist for every column of the row group, and encode only chunks of at most
/// [`TRY_VARIANTS_BELOW_BYTES`].
fn write_row_group(
    f: &mut SegmentFile,
    schema: &arrow_schema::Schema,
    mut column: impl FnMut(usize) -> Result<ArrayRef, arrow_schema::ArrowError>,
) -> Result<(), Error> {
    let index = f.writer.flushed_row_groups().len();
    let mut writers = f
        .columns
        .create_column_writers(index)
        .map_err(pq(&f.tmp))?
        .into_iter();
    let mut alternatives = Vec::with_capacity(f.alternatives.len());
    for factory in &f.alternatives {
        alternatives.push(
            factory
                .create_column_writers(index)
                .map_err(pq(&f.tmp))?
                .into_iter(),
        );
    }
    let mut chunks = Vec::with_capacity(schema.fields().len());
    for (i, field) in schema.fields().iter().enumerate() {
        let array = column(i).map_err(arrow(&f.tmp))?;
        if array.data_type() != field.data_type() {
            return Err(Error::Invalid {
                path: f.tmp.clone(),
                reason: format!(
                    "column {} is {}, not {}",
                    field.name(),
                    array.data_type(),
                    field.data_type()
                ),
            });
        }
        for leaf in compute_leaves(field, &array).map_err(pq(&f.tmp))? {
            let too_many = || Error::Invalid {
                path: f.tmp.clone(),
                reason: "more leaf columns than column writers".into(),
            };
            let mut w = writers.next().ok_or_else(too_many)?;
            w.write(&leaf).map_err(pq(&f.tmp))?;
            let mut chunk = w.close().map_err(pq(&f.tmp))?;
            // The first alternative changes the codec only; the second also drops the dictionary, so it is
            // tried only for a chunk that has one.
            let has_dictionary = chunk.close().metadata.dictionary_page_offset().is_some();
            for (k, alt) in alternatives.iter_mut().enumerate() {
                let mut w = alt.next().ok_or_else(too_many)?;
                let size = |c: &ArrowColumnChunk| c.close().metadata.compressed_size();
                if size(&chunk) <= TRY_VARIANTS_BELOW_BYTES && (k == 0 || has_dictionary) {
                    w.write(&leaf).map_err(pq(&f.tmp))?;
                    let other = w.close().map_err(pq(&f.tmp))?;
                    if size(&other) < size(&chunk) {
                        chunk = other;
                    }
                }
            }
            // No page encoding statistics in the footer: they are optional, no reader needs them (the chunk's
            // list of encodings stays), and they cost ~11 bytes per column per row group: 0.8 KB of every
            // segment's fixed cost (BENCHMARKS.md).
            let close = chunk.close_mut();
            close.metadata = close
                .metadata
                .clone()
                .into_builder()
                .clear_page_encoding_stats()
                .build()
                .map_err(pq(&f.tmp))?;
            chunks.push(chunk);
        }
    }
    let mut rg = f.writer.next_row_group().map_err(pq(&f.tmp))?;
    for chunk in chunks {
        chunk.append_to_row_group(&mut rg).map_err(pq(&f.tmp))?;
    }
    rg.close().map_err(pq(&f.tmp))?;
    Ok(())
}

impl Drop for StoreWriter {
    fn drop(&mut self) {
        // Best effort: finish() is the way to learn about errors.
        let _ = self.close_all();
    }
}
