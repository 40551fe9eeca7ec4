//! The `samples` table: one [`Sample`] per row, without its lists and probes.

use std::path::Path;

use arrow_array::types::{
    Int32Type, Int64Type, TimestampMicrosecondType, UInt16Type, UInt32Type, UInt64Type,
};
use arrow_array::{Array, ListArray};
use stabmon_core::{CpuUsage, LoadAvg, Memory, Pressure, Sample, Timestamp};

use crate::error::{Error, invalid};
use crate::pct;
use crate::schema::{
    SAMPLES_EXACT_LIST_LEN, SAMPLES_EXACT_MACHINE_ABSENT, SAMPLES_EXACT_PRESSURE, SAMPLES_EXACT_ULP,
};

use super::cols::{Cols, PctValues, decimal_pct, duration, opt};
use super::exact::{remainder, row_pairs};
use super::range::Range;
use super::table::read_table;

/// How the ranks of a sample's four lists (process CPU and memory, name CPU and memory) are stored.
pub(super) type ListLens = [ListLen; 4];

/// How one list's ranks are stored.
#[derive(Clone, Copy)]
pub(super) enum ListLen {
    /// Versions 1-2: the list's length (its ranks derive from the values), `None` where the rows hold them.
    Stored(Option<u16>),
    /// Version 3: ranks derive from the values unless a row holds one in `exact`; the length is this where the
    /// sample stores it, else the rule's (`ranks::rule_lens`).
    Rule(Option<u16>),
}

pub(super) fn read_samples(
    path: &Path,
    host: &str,
    range: Range,
    only: Option<&[i64]>,
    out: &mut Vec<Sample>,
    lens_out: &mut Vec<ListLens>,
) -> Result<(), Error> {
    // The previous row's (ts, lateness), for intervals left out; rows of one row group may span batches.
    let mut prev_reading = None;
    let (version, batches) = read_table(path, "samples", range, only)?;
    // Schema 4 derives the whole machine's user, system, iowait and steal shares from the cores'.
    let machine_derived = version == 4;
    for batch in batches {
        let c = Cols {
            batch: &batch,
            path,
        };
        let ts = c.req::<TimestampMicrosecondType>("ts")?;
        let boot_time = c.req::<TimestampMicrosecondType>("boot_time")?;
        let boot_id = c.str("boot_id")?;
        let timezone = c.str("timezone")?;
        let utc_offset = c.prim::<Int32Type>("utc_offset_secs")?;
        let interval = c.prim::<Int64Type>("interval_us")?;
        let lateness = c.req::<Int64Type>("lateness_us")?;
        // The percentages, in the order of `ulp_adj` (see the crate docs).
        let pcts = [
            "cpu_busy_pct",
            "cpu_user_pct",
            "cpu_system_pct",
            "cpu_iowait_pct",
            "cpu_steal_pct",
            "load_1m",
            "load_5m",
            "load_15m",
            "pressure_cpu_some_pct",
            "pressure_memory_some_pct",
            "pressure_memory_full_pct",
            "pressure_io_some_pct",
            "pressure_io_full_pct",
            "cpu_nth_pct",
            "name_cpu_nth_pct",
        ]
        .map(|name| c.pct_values(name).map(|a| (name, a)));
        let mut cols = Vec::with_capacity(pcts.len());
        for p in pcts {
            cols.push(p?);
        }
        let cores = [
            c.pct_list("core_busy_pct")?,
            c.pct_list("core_user_pct")?,
            c.pct_list("core_system_pct")?,
            c.pct_list("core_iowait_pct")?,
            c.pct_list("core_steal_pct")?,
        ];
        // Schema 3 keeps every exactness value in `exact`; versions 1-2 had `ulp_adj`, `kib_rem` and
        // `pressure_present`.
        let exact = c.opt_list::<Int32Type>("exact")?;
        let ulp_adj = c.opt_list::<Int32Type>("ulp_adj")?;
        let old_adj = [
            c.opt_prim::<Int32Type>("cpu_nth_pct_ulp_adj")?,
            c.opt_prim::<Int32Type>("name_cpu_nth_pct_ulp_adj")?,
        ];
        // In the order of `kib_rem`'s positions (see the crate docs).
        let mem = [
            c.byte_count("mem_total", true)?,
            c.byte_count("mem_used", false)?,
            c.byte_count("mem_available", true)?,
            c.byte_count("swap_total", true)?,
            c.byte_count("swap_used", true)?,
            c.byte_count("rss_nth", true)?,
            c.byte_count("name_rss_nth", true)?,
        ];
        let kib_rem = c.opt_list::<Int32Type>("kib_rem")?;
        let process_count = c.req::<UInt32Type>("process_count")?;
        let pressure_present = match exact {
            Some(_) => None,
            None => Some(c.bool("pressure_present")?),
        };
        let oom = c.prim::<UInt64Type>("oom_kill_count")?;
        let top_n = c.req::<UInt16Type>("top_n")?;
        // Versions 1-2 store the lists' lengths; version 3 derives them (see `ranks::rule_lens`).
        let lens = match batch.column_by_name("cpu_list_len") {
            None => None,
            Some(_) => Some([
                c.prim::<UInt16Type>("cpu_list_len")?,
                c.prim::<UInt16Type>("rss_list_len")?,
                c.prim::<UInt16Type>("name_cpu_list_len")?,
                c.prim::<UInt16Type>("name_rss_list_len")?,
            ]),
        };

        // Every row of the row groups read, in range or not: the other tables' rows may derive values from them
        // (see `read_segment`).
        for i in 0..batch.num_rows() {
            let mut s = Sample::new(Timestamp::from_unix_micros(ts.value(i)), host);
            s.boot_time = Timestamp::from_unix_micros(boot_time.value(i));
            s.boot_id = boot_id.get(i).map(str::to_owned);
            s.timezone = timezone.get(i).map(str::to_owned);
            s.utc_offset_secs = opt(utc_offset, i);
            // Null where it is the time between the previous row's reading and this one's (always in the same
            // row group, which is read whole) in schemas 2-4: see `derived_interval`.
            let this = (ts.value(i), lateness.value(i));
            let interval_us = match opt(interval, i) {
                Some(us) => us,
                None => prev_reading
                    .and_then(|p| derived_interval(p, this))
                    .ok_or_else(|| {
                        invalid(path, "interval_us is null where it cannot be derived")
                    })?,
            };
            prev_reading = Some(this);
            s.interval = duration(interval_us, path, "interval")?;
            s.lateness = duration(lateness.value(i), path, "lateness")?;
            let range_of = |l: &ListArray| {
                if l.is_null(i) {
                    None
                } else {
                    let o = l.value_offsets();
                    usize::try_from(o[i])
                        .ok()
                        .zip(usize::try_from(o[i + 1]).ok())
                }
            };
            let ranges: Vec<Option<(usize, usize)>> = cores.iter().map(|c| range_of(c.0)).collect();
            let Some((start, end)) = ranges[0] else {
                return Err(invalid(path, "core_busy_pct has a null list"));
            };
            let n_cores = end - start;
            if ranges
                .iter()
                .any(|r| r.is_none_or(|(a, b)| b - a != n_cores))
            {
                return Err(invalid(path, "the core_* lists of a row differ in length"));
            }
            let mut adj = vec![0i32; cols.len() + 5 * n_cores];
            let mut rems = [0u64; 7];
            let mut pressure_empty = false;
            let mut machine_absent = 0;
            let mut stored_lens = [None; 4];
            let out_of_range =
                |name: &str| invalid(path, format!("a {name} position is out of range"));
            for pair in row_pairs(ulp_adj, i, path, "ulp_adj")?.chunks_exact(2) {
                let slot = usize::try_from(pair[0]).ok().and_then(|k| adj.get_mut(k));
                *slot.ok_or_else(|| out_of_range("ulp_adj"))? = pair[1];
            }
            for pair in row_pairs(kib_rem, i, path, "kib_rem")?.chunks_exact(2) {
                let slot = usize::try_from(pair[0]).ok().and_then(|k| rems.get_mut(k));
                *slot.ok_or_else(|| out_of_range("kib_rem"))? = remainder(pair[1], path)?;
            }
            for pair in row_pairs(exact, i, path, "exact")?.chunks_exact(2) {
                let (k, v) = (pair[0], pair[1]);
                if let Some(slot) = usize::try_from(k).ok().and_then(|k| rems.get_mut(k)) {
                    *slot = remainder(v, path)?;
                } else if k == SAMPLES_EXACT_PRESSURE && v == 1 {
                    pressure_empty = true;
                } else if k == SAMPLES_EXACT_MACHINE_ABSENT && machine_derived && v & !0xf == 0 {
                    machine_absent = v;
                } else if let Some(slot) = k
                    .checked_sub(SAMPLES_EXACT_LIST_LEN)
                    .and_then(|j| usize::try_from(j).ok())
                    .and_then(|j| stored_lens.get_mut(j))
                {
                    *slot = Some(u16::try_from(v).map_err(|_| out_of_range("exact"))?);
                } else {
                    let slot = k
                        .checked_sub(SAMPLES_EXACT_ULP)
                        .and_then(|k| usize::try_from(k).ok())
                        .and_then(|k| adj.get_mut(k));
                    *slot.ok_or_else(|| out_of_range("exact"))? = v;
                }
            }
            // Files written before `ulp_adj` existed: the two N-th values had adjustment columns of their own.
            for (k, a) in [(13, old_adj[0]), (14, old_adj[1])] {
                if let Some(a) = a {
                    adj[k] = opt(a, i).unwrap_or(0);
                }
            }
            let dec = |a: PctValues<'_>, at: usize, k: usize, name: &str| {
                decimal_pct(a, at, adj[k], path, name)
            };
            let mut v = Vec::with_capacity(cols.len());
            for (k, (name, a)) in cols.iter().enumerate() {
                v.push(dec(*a, i, k, name)?);
            }
            let req = |x: Option<f32>, name: &str| {
                x.ok_or_else(|| invalid(path, format!("the column {name} has nulls")))
            };
            // A busy share, stored or derived, must be there.
            let busy = |b: Option<f32>, name: &str| {
                b.ok_or_else(|| invalid(path, format!("{name} is null where it cannot be derived")))
            };
            const CORE_NAMES: [&str; 5] = [
                "core_busy_pct",
                "core_user_pct",
                "core_system_pct",
                "core_iowait_pct",
                "core_steal_pct",
            ];
            let mut per_core = Vec::with_capacity(n_cores);
            for k in 0..n_cores {
                let mut f = [None; 5];
                for (j, slot) in f.iter_mut().enumerate() {
                    let at = ranges[j].map_or(0, |(a, _)| a) + k;
                    *slot = dec(cores[j].1, at, cols.len() + 5 * k + j, CORE_NAMES[j])?;
                }
                // A core's null busy share is its user + system + steal (`pct::busy_from_parts`).
                let derived = f[0].or_else(|| pct::busy_from_parts(f[1], f[2], f[4]));
                let mut cu = CpuUsage::new(busy(derived, "core_busy_pct")?);
                cu.user_pct = f[1];
                cu.system_pct = f[2];
                cu.iowait_pct = f[3];
                cu.steal_pct = f[4];
                per_core.push(cu);
            }
            // A null machine share derives from the cores' (schema 4) unless `exact` marks it unknown.
            let mut parts = [v[1], v[2], v[3], v[4]];
            let machine_busy = if machine_derived {
                for (k, (part, get)) in parts.iter_mut().zip(pct::MACHINE_PARTS).enumerate() {
                    if part.is_none() && machine_absent & (1 << k) == 0 {
                        *part = pct::machine_part(&per_core, get);
                    }
                }
                v[0].or_else(|| pct::machine_busy(&per_core, [parts[0], parts[1], parts[3]]))
            } else {
                v[0].or_else(|| pct::busy_from_parts(parts[0], parts[1], parts[3]))
            };
            let mut cpu = CpuUsage::new(busy(machine_busy, "cpu_busy_pct")?);
            [cpu.user_pct, cpu.system_pct, cpu.iowait_pct, cpu.steal_pct] = parts;
            s.cpu = cpu;
            s.per_core = per_core;
            s.load = match (v[5], v[6], v[7]) {
                (Some(a), Some(b), Some(c)) => Some(LoadAvg::new(a, b, c)),
                (None, None, None) => None,
                _ => return Err(invalid(path, "load_1m/5m/15m are partly null")),
            };
            let mut stored = [None; 7];
            for (k, v) in stored.iter_mut().enumerate() {
                *v = mem[k].get(i, rems[k], path)?;
            }
            let bytes = stored.map(|v| v.unwrap_or(0));
            // Null used memory is total minus available (what `Memory::new` derives).
            let mut m = Memory::new(bytes[0], bytes[2]);
            if let Some(used) = stored[1] {
                m.used_bytes = used;
            }
            m.swap_total_bytes = bytes[3];
            m.swap_used_bytes = bytes[4];
            s.memory = m;
            s.process_count = process_count.value(i);
            let present = match pressure_present {
                Some(col) if col.is_null(i) => {
                    return Err(invalid(path, "the column pressure_present has nulls"));
                }
                Some(col) => col.value(i),
                // Schema 3: present where a value is, or where `exact` marks it present and empty.
                None => pressure_empty || v[8..13].iter().any(Option::is_some),
            };
            s.pressure = if present {
                let mut p = Pressure::default();
                p.cpu_some_pct = v[8];
                p.memory_some_pct = v[9];
                p.memory_full_pct = v[10];
                p.io_some_pct = v[11];
                p.io_full_pct = v[12];
                Some(p)
            } else {
                None
            };
            s.oom_kill_count = opt(oom, i);
            s.top.n = top_n.value(i);
            s.top.cpu_nth_pct = req(v[13], "cpu_nth_pct")?;
            s.top.rss_nth_bytes = bytes[5];
            s.top.name_cpu_nth_pct = req(v[14], "name_cpu_nth_pct")?;
            s.top.name_rss_nth_bytes = bytes[6];
            out.push(s);
            lens_out.push(match &lens {
                Some(cols) => cols.map(|l| ListLen::Stored(opt(l, i))),
                // Schema 5: every row holds its ranks.
                None if version >= 5 => [ListLen::Stored(None); 4],
                None => stored_lens.map(ListLen::Rule),
            });
        }
    }
    Ok(())
}

/// (Schemas 2-4.) `(ts - ts') + (lateness - lateness')` in microseconds, from the row before (`prev`) to this
/// one: the interval of a row that stores none.
pub(super) fn derived_interval(prev: (i64, i64), this: (i64, i64)) -> Option<i64> {
    this.0
        .checked_sub(prev.0)?
        .checked_add(this.1.checked_sub(prev.1)?)
        .filter(|d| *d >= 0)
}
