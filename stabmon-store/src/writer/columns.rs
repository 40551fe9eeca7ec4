//! The buffered rows turned into Arrow arrays, a table's column or record batch at a time.

use std::sync::Arc;

use arrow_array::{
    ArrayRef, BooleanArray, Float32Array, Int32Array, Int64Array, ListArray, RecordBatch,
    TimestampMicrosecondArray, UInt16Array, UInt32Array, UInt64Array,
};
use arrow_buffer::{OffsetBuffer, ScalarBuffer};
use arrow_schema::{DataType, Field};
use stabmon_core::latency::whole_micros;
use stabmon_core::{LatencyProbe, OomKill};

use crate::layout::{EXITS, LATENCY, OOM_KILLS};
use crate::schema::schema;

use super::buffer::{Buffer, ExitRow};
use super::interner::Interner;
use super::rows::{NameRow, ProcIdentity, ProcRow, ProcRows};

impl Buffer {
    /// The latency rows of the row group, `None` when its samples carried no probe; empties them.
    pub(super) fn take_latency_batch(
        &mut self,
    ) -> Result<Option<RecordBatch>, arrow_schema::ArrowError> {
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

    /// The exits rows of the row group, `None` when its samples carried no exited name; empties them.
    pub(super) fn take_exits_batch(
        &mut self,
    ) -> Result<Option<RecordBatch>, arrow_schema::ArrowError> {
        if self.exits.is_empty() {
            return Ok(None);
        }
        let rows = std::mem::take(&mut self.exits);
        let mut names = Interner::default();
        let micros = |d: std::time::Duration| i64::try_from(d.as_micros()).unwrap_or(i64::MAX);
        let name_ids = rows
            .iter()
            .map(|(_, r)| {
                Some(names.id(match r {
                    ExitRow::Name(n) => &n.name,
                    ExitRow::Process(p) => &p.name,
                }))
            })
            .collect();
        let detail = |f: fn(&stabmon_core::ExitedProcess) -> Option<i64>| {
            rows.iter()
                .map(move |(_, r)| match r {
                    ExitRow::Name(_) => None,
                    ExitRow::Process(p) => f(p),
                })
                .collect::<Vec<_>>()
        };
        let ts: Vec<i64> = rows.iter().map(|(ts, _)| *ts).collect();
        let u32s = |v: Vec<Option<i64>>| -> ArrayRef {
            Arc::new(UInt32Array::from_iter(
                v.into_iter().map(|x| x.and_then(|x| u32::try_from(x).ok())),
            ))
        };
        let i32s = |v: Vec<Option<i64>>| -> ArrayRef {
            Arc::new(Int32Array::from_iter(
                v.into_iter().map(|x| x.and_then(|x| i32::try_from(x).ok())),
            ))
        };
        let times = |v: Vec<Option<i64>>| -> ArrayRef {
            Arc::new(TimestampMicrosecondArray::from(v).with_timezone("UTC"))
        };
        let code = |p: &stabmon_core::ExitedProcess| match p.status {
            stabmon_core::ExitStatus::Code(c) => Some(i64::from(c)),
            stabmon_core::ExitStatus::Signal(_) => None,
        };
        let signal = |p: &stabmon_core::ExitedProcess| match p.status {
            stabmon_core::ExitStatus::Signal(s) => Some(i64::from(s)),
            stabmon_core::ExitStatus::Code(_) => None,
        };
        let columns: Vec<ArrayRef> = vec![
            Arc::new(TimestampMicrosecondArray::from(ts).with_timezone("UTC")),
            names.array(name_ids)?,
            Arc::new(UInt32Array::from_iter_values(rows.iter().map(
                |(_, r)| match r {
                    ExitRow::Name(n) => n.count,
                    ExitRow::Process(_) => 1,
                },
            ))),
            Arc::new(Int64Array::from_iter_values(rows.iter().map(|(_, r)| {
                micros(match r {
                    ExitRow::Name(n) => n.cpu_time,
                    ExitRow::Process(p) => p.cpu_time,
                })
            }))),
            Arc::new(UInt64Array::from_iter_values(rows.iter().map(
                |(_, r)| match r {
                    ExitRow::Name(n) => n.peak_rss_bytes,
                    ExitRow::Process(p) => p.peak_rss_bytes,
                },
            ))),
            u32s(detail(|p| Some(i64::from(p.pid)))),
            u32s(detail(|p| Some(i64::from(p.parent_pid)))),
            u32s(detail(|p| Some(i64::from(p.uid)))),
            times(detail(|p| Some(p.start_time.as_unix_micros()))),
            times(detail(|p| Some(p.end_time.as_unix_micros()))),
            i32s(detail(code)),
            i32s(detail(signal)),
        ];
        RecordBatch::try_new(schema(EXITS), columns).map(Some)
    }

    /// The OOM-kill rows of the row group, `None` when its samples carried no kill; empties them.
    pub(super) fn take_oom_kill_batch(
        &mut self,
    ) -> Result<Option<RecordBatch>, arrow_schema::ArrowError> {
        if self.oom_kills.is_empty() {
            return Ok(None);
        }
        let rows = std::mem::take(&mut self.oom_kills);
        let mut strings: [Interner; 5] = Default::default();
        let [names, constraints, cgroups, oom_cgroups, units] = &mut strings;
        let ids = |i: &mut Interner, f: &dyn Fn(&OomKill) -> Option<String>| -> Vec<Option<i32>> {
            rows.iter().map(|(_, k)| f(k).map(|v| i.id(&v))).collect()
        };
        let name_ids = ids(names, &|k| Some(k.name.clone()));
        let constraint_ids = ids(constraints, &|k| k.constraint.clone());
        let cgroup_ids = ids(cgroups, &|k| k.cgroup.clone());
        let oom_cgroup_ids = ids(oom_cgroups, &|k| k.oom_cgroup.clone());
        let unit_ids = ids(units, &OomKill::unit);
        let bytes = |f: fn(&OomKill) -> Option<u64>| -> ArrayRef {
            Arc::new(UInt64Array::from_iter(rows.iter().map(|(_, k)| f(k))))
        };
        let ts = |v: Vec<i64>| -> ArrayRef {
            Arc::new(TimestampMicrosecondArray::from(v).with_timezone("UTC"))
        };
        let columns: Vec<ArrayRef> = vec![
            ts(rows.iter().map(|(ts, _)| *ts).collect()),
            ts(rows.iter().map(|(_, k)| k.ts.as_unix_micros()).collect()),
            Arc::new(UInt32Array::from_iter_values(
                rows.iter().map(|(_, k)| k.pid),
            )),
            names.array(name_ids)?,
            bytes(|k| k.anon_rss_bytes),
            bytes(|k| k.file_rss_bytes),
            bytes(|k| k.shmem_rss_bytes),
            bytes(|k| k.total_vm_bytes),
            Arc::new(UInt32Array::from_iter(rows.iter().map(|(_, k)| k.uid))),
            Arc::new(Int32Array::from_iter(
                rows.iter().map(|(_, k)| k.oom_score_adj),
            )),
            constraints.array(constraint_ids)?,
            Arc::new(BooleanArray::from_iter(
                rows.iter().map(|(_, k)| Some(k.memcg)),
            )),
            cgroups.array(cgroup_ids)?,
            oom_cgroups.array(oom_cgroup_ids)?,
            units.array(unit_ids)?,
        ];
        RecordBatch::try_new(schema(OOM_KILLS), columns).map(Some)
    }

    pub(super) fn samples_batch(&mut self) -> Result<RecordBatch, arrow_schema::ArrowError> {
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
        let top = std::mem::take(&mut self.top_process);
        let mut columns = columns;
        columns.extend([
            Arc::new(UInt32Array::from_iter(top.iter().map(|t| t.map(|t| t.0)))) as ArrayRef,
            Arc::new(
                TimestampMicrosecondArray::from_iter(top.iter().map(|t| t.map(|t| t.1)))
                    .with_timezone("UTC"),
            ),
            self.top_process_names
                .array(std::mem::take(&mut self.top_process_name))?,
            Arc::new(Float32Array::from_iter(top.iter().map(|t| t.map(|t| t.2)))),
            self.top_group_names
                .array(std::mem::take(&mut self.top_group_name))?,
            opt_f32s(std::mem::take(&mut self.top_group_cpu_pct)),
            Arc::new(UInt32Array::from(std::mem::take(&mut self.exit_count))),
            Arc::new(UInt32Array::from(std::mem::take(&mut self.exit_dropped))),
        ]);
        RecordBatch::try_new(schema("samples"), columns)
    }

    /// Column `i` of the `processes` table (see `schema.rs`) from its sorted rows.
    pub(super) fn process_column(
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
            12 => Arc::new(UInt16Array::from_iter(rows.iter().map(ProcRow::rss_rank))),
            13 => self
                .cgroups
                .array(ids().map(ProcIdentity::cgroup).collect())?,
            _ => self.units.array(ids().map(ProcIdentity::unit).collect())?,
        })
    }

    /// Column `i` of the `names` table (see `schema.rs`) from its sorted rows.
    pub(super) fn name_column(
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
