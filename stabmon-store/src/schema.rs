//! The Arrow schemas of the tables (schema 8) and the Parquet encodings chosen per column.
//!
//! The column list with units is documented in the crate docs; keep both in step.

use std::sync::Arc;

use arrow_schema::{DataType, Field, Schema, SchemaRef, TimeUnit};
use parquet::basic::{Compression, Encoding, ZstdLevel};
use parquet::file::metadata::KeyValue;
use parquet::file::properties::{EnabledStatistics, WriterProperties, WriterVersion};
use parquet::schema::types::ColumnPath;

/// The schema version this crate writes and the newest it reads.
pub const SCHEMA_VERSION: u32 = 8;

/// The Parquet key-value metadata key holding the schema version.
pub const KEY_SCHEMA_VERSION: &str = "stabmon.schema_version";
/// The Parquet key-value metadata key naming the table (`samples`, `processes`, `names`, `latency`, `exits` or
/// `oom_kills`).
pub const KEY_TABLE: &str = "stabmon.table";
/// The Parquet key-value metadata key holding the host name (also in the path as `host=`).
pub const KEY_HOST: &str = "stabmon.host";

fn ts_type() -> DataType {
    DataType::Timestamp(TimeUnit::Microsecond, Some("UTC".into()))
}

/// Percentages and load averages: `float32`, the recorded `f32` bit for bit.
fn pct_type() -> DataType {
    DataType::Float32
}

fn dict_type() -> DataType {
    DataType::Dictionary(Box::new(DataType::Int32), Box::new(DataType::Utf8))
}

/// A list of percentages (per-core values), items null where not measured.
fn list_pct(items_nullable: bool) -> DataType {
    DataType::List(Arc::new(Field::new("item", pct_type(), items_nullable)))
}

/// How a column is encoded in Parquet.
#[derive(Clone, Copy)]
enum Enc {
    /// Dictionary with RLE indices (falls back to plain when the dictionary grows too big).
    Dict,
    /// DELTA_BINARY_PACKED, no dictionary: timestamps, counters, byte sizes, ids.
    Delta,
    /// BYTE_STREAM_SPLIT, no dictionary: values whose bytes vary independently (noisy floats, byte sizes).
    Split,
    /// The writer's default for the type, no dictionary (RLE for booleans).
    Plain,
}

struct Col {
    name: &'static str,
    ty: fn() -> DataType,
    nullable: bool,
    enc: Enc,
}

const fn col(name: &'static str, ty: fn() -> DataType, nullable: bool, enc: Enc) -> Col {
    Col {
        name,
        ty,
        nullable,
        enc,
    }
}

// The encodings were chosen per column on the synthetic day (`cargo bench -p stabmon-benches --bench store`):
// the smallest of dictionary, delta, plain and byte stream split under zstd. Nullable columns are null only where
// the platform does not measure the value.
#[rustfmt::skip]
const SAMPLES: &[Col] = &[
    col("ts", ts_type, false, Enc::Delta),
    col("boot_time", ts_type, false, Enc::Dict),
    col("boot_id", dict_type, true, Enc::Dict),
    col("timezone", dict_type, true, Enc::Dict),
    col("utc_offset_secs", || DataType::Int32, true, Enc::Dict),
    col("interval_us", || DataType::Int64, false, Enc::Dict),
    col("lateness_us", || DataType::Int64, false, Enc::Dict),
    col("cpu_busy_pct", pct_type, false, Enc::Split),
    col("cpu_user_pct", pct_type, true, Enc::Split),
    col("cpu_system_pct", pct_type, true, Enc::Dict),
    col("cpu_iowait_pct", pct_type, true, Enc::Dict),
    col("cpu_steal_pct", pct_type, true, Enc::Plain),
    col("core_busy_pct", || list_pct(false), false, Enc::Dict),
    col("core_user_pct", || list_pct(true), false, Enc::Dict),
    col("core_system_pct", || list_pct(true), false, Enc::Dict),
    col("core_iowait_pct", || list_pct(true), false, Enc::Dict),
    col("core_steal_pct", || list_pct(true), false, Enc::Plain),
    col("load_1m", pct_type, true, Enc::Plain),
    col("load_5m", pct_type, true, Enc::Plain),
    col("load_15m", pct_type, true, Enc::Plain),
    col("mem_total_bytes", || DataType::UInt64, false, Enc::Dict),
    col("mem_used_bytes", || DataType::UInt64, false, Enc::Split),
    col("mem_available_bytes", || DataType::UInt64, false, Enc::Split),
    col("swap_total_bytes", || DataType::UInt64, false, Enc::Dict),
    col("swap_used_bytes", || DataType::UInt64, false, Enc::Plain),
    col("process_count", || DataType::UInt32, false, Enc::Plain),
    col("pressure_present", || DataType::Boolean, false, Enc::Plain),
    col("pressure_cpu_some_pct", pct_type, true, Enc::Dict),
    col("pressure_memory_some_pct", pct_type, true, Enc::Plain),
    col("pressure_memory_full_pct", pct_type, true, Enc::Plain),
    col("pressure_io_some_pct", pct_type, true, Enc::Dict),
    col("pressure_io_full_pct", pct_type, true, Enc::Dict),
    col("oom_kill_count", || DataType::UInt64, true, Enc::Plain),
    col("top_n", || DataType::UInt16, false, Enc::Dict),
    col("cpu_nth_pct", pct_type, false, Enc::Dict),
    col("rss_nth_bytes", || DataType::UInt64, false, Enc::Split),
    col("name_cpu_nth_pct", pct_type, false, Enc::Dict),
    col("name_rss_nth_bytes", || DataType::UInt64, false, Enc::Split),
    // Schema 6: the busiest process and group of one name, for runaway detection without the process rows. They
    // change far less often than samples are taken: dictionaries (runs of one key).
    col("top_process_pid", || DataType::UInt32, true, Enc::Dict),
    col("top_process_start_time", ts_type, true, Enc::Dict),
    col("top_process_name", dict_type, true, Enc::Dict),
    col("top_process_cpu_pct", pct_type, true, Enc::Dict),
    col("top_group_name", dict_type, true, Enc::Dict),
    col("top_group_cpu_pct", pct_type, true, Enc::Dict),
    // Schema 7: how many processes exited over the interval and how many times the kernel dropped exit records;
    // null where exits are not recorded. Mostly small repeating counts: dictionaries.
    col("exit_count", || DataType::UInt32, true, Enc::Dict),
    col("exit_dropped", || DataType::UInt32, true, Enc::Dict),
];

#[rustfmt::skip]
const PROCESSES: &[Col] = &[
    col("ts", ts_type, false, Enc::Delta),
    col("pid", || DataType::UInt32, false, Enc::Delta),
    // Delta, not plain: as small under zstd (the synthetic month), and 6 KB to decompress an hour instead of 290 KB.
    col("start_time", ts_type, false, Enc::Delta),
    col("parent_pid", || DataType::UInt32, true, Enc::Dict),
    col("name", dict_type, false, Enc::Dict),
    col("cmdline", dict_type, true, Enc::Dict),
    col("user", dict_type, true, Enc::Dict),
    col("cpu_pct", pct_type, false, Enc::Dict),
    col("children_cpu_pct", pct_type, true, Enc::Split),
    col("rss_bytes", || DataType::UInt64, false, Enc::Split),
    col("virtual_bytes", || DataType::UInt64, false, Enc::Plain),
    col("cpu_rank", || DataType::UInt16, true, Enc::Dict),
    // Dictionary, not split: 2 KB more a day (the synthetic month), and 1 KB to decompress an hour instead of 144 KB.
    col("rss_rank", || DataType::UInt16, true, Enc::Dict),
    // Schema 7: the process's cgroup and the systemd unit or container it names, once per identity like the
    // name; sorted by identity, so runs of one value.
    col("cgroup", dict_type, true, Enc::Dict),
    col("unit", dict_type, true, Enc::Dict),
];

#[rustfmt::skip]
const NAMES: &[Col] = &[
    col("ts", ts_type, false, Enc::Delta),
    col("name", dict_type, false, Enc::Dict),
    col("process_count", || DataType::UInt32, false, Enc::Dict),
    col("cpu_pct", pct_type, false, Enc::Dict),
    col("rss_bytes", || DataType::UInt64, false, Enc::Split),
    // Dictionary, not split, as the processes' ranks: 6 KB more a day (0.7 % of the table), 11 KB to decompress an
    // hour instead of 99 KB; read at every hover moment and culprit window.
    col("cpu_rank", || DataType::UInt16, true, Enc::Dict),
    col("rss_rank", || DataType::UInt16, true, Enc::Dict),
];

/// One row per latency probe, in the order the samples carried them.
#[rustfmt::skip]
const LATENCY: &[Col] = &[
    col("ts", ts_type, false, Enc::Delta),
    col("start_ts", ts_type, false, Enc::Delta),
    col("target", dict_type, false, Enc::Dict),
    col("outcome", dict_type, false, Enc::Dict),
    col("http_status", || DataType::UInt16, true, Enc::Delta),
    col("message", dict_type, true, Enc::Dict),
    // Whole microseconds, delta: 6.6 B per probe on a synthetic day of three targets; float64 milliseconds with byte
    // stream split cost 18.3 B, plain int64 6.9 B, dictionaries 10.4 B.
    col("dns_us", || DataType::Int64, true, Enc::Delta),
    col("connect_us", || DataType::Int64, true, Enc::Delta),
    col("tls_us", || DataType::Int64, true, Enc::Delta),
    col("first_byte_us", || DataType::Int64, true, Enc::Delta),
    col("total_us", || DataType::Int64, true, Enc::Delta),
];

/// Schema 7 on: one row per exited name per sample (`pid` null: the name's totals over the interval), and one
/// per detailed exit (`pid` set: that process, also counted in its name's row).
#[rustfmt::skip]
const EXITS: &[Col] = &[
    col("ts", ts_type, false, Enc::Delta),
    col("name", dict_type, false, Enc::Dict),
    col("count", || DataType::UInt32, false, Enc::Dict),
    col("cpu_us", || DataType::Int64, false, Enc::Delta),
    col("peak_rss_bytes", || DataType::UInt64, false, Enc::Split),
    col("pid", || DataType::UInt32, true, Enc::Delta),
    col("parent_pid", || DataType::UInt32, true, Enc::Dict),
    col("uid", || DataType::UInt32, true, Enc::Dict),
    col("start_time", ts_type, true, Enc::Delta),
    col("end_time", ts_type, true, Enc::Delta),
    col("exit_code", || DataType::Int32, true, Enc::Dict),
    col("exit_signal", || DataType::Int32, true, Enc::Dict),
];

/// One row per OOM kill the kernel log reported (schema 7), in the order the samples carried them.
#[rustfmt::skip]
const OOM_KILLS: &[Col] = &[
    col("ts", ts_type, false, Enc::Delta),
    col("kill_ts", ts_type, false, Enc::Delta),
    col("pid", || DataType::UInt32, false, Enc::Plain),
    col("name", dict_type, false, Enc::Dict),
    col("anon_rss_bytes", || DataType::UInt64, true, Enc::Plain),
    col("file_rss_bytes", || DataType::UInt64, true, Enc::Plain),
    col("shmem_rss_bytes", || DataType::UInt64, true, Enc::Plain),
    col("total_vm_bytes", || DataType::UInt64, true, Enc::Plain),
    col("uid", || DataType::UInt32, true, Enc::Plain),
    col("oom_score_adj", || DataType::Int32, true, Enc::Plain),
    col("constraint", dict_type, true, Enc::Dict),
    col("memcg", || DataType::Boolean, false, Enc::Plain),
    col("cgroup", dict_type, true, Enc::Dict),
    col("oom_cgroup", dict_type, true, Enc::Dict),
    col("unit", dict_type, true, Enc::Dict),
];

// Schemas 3 and 4 (read only): the slots of the `exact` columns.

/// Positions in `samples.exact` (schema 3): 0-6 the remainders below 1 KiB of
/// `mem_total`, `mem_used`, `mem_available`, `swap_total`, `swap_used`, `rss_nth`, `name_rss_nth`; this one marks
/// pressure information present with every value unknown; 8-11 list lengths (see [`SAMPLES_EXACT_LIST_LEN`]);
/// 12 machine shares absent (see [`SAMPLES_EXACT_MACHINE_ABSENT`]); ULP adjustments from [`SAMPLES_EXACT_ULP`] on.
pub(crate) const SAMPLES_EXACT_PRESSURE: i32 = 7;
/// Where `samples.exact` holds the lengths of the process CPU, process memory, name CPU and name memory lists
/// (8-11) that the rule does not give (see `ranks::rule_lens`).
pub(crate) const SAMPLES_EXACT_LIST_LEN: i32 = 8;
/// Where `samples.exact` marks (schema 4) the whole machine's user, system, iowait and steal shares that are
/// unknown although every core has them: bits 0-3 of the value (see `pct::machine_part`).
pub(crate) const SAMPLES_EXACT_MACHINE_ABSENT: i32 = 12;
/// Where the ULP adjustments of `samples.exact` start: position `16 + k` for the `k`-th percentage.
pub(crate) const SAMPLES_EXACT_ULP: i32 = 16;

/// The slots of `processes.exact` (schema 3): CPU and children's CPU ULP adjustments, explicit CPU and memory
/// ranks, list position, remainders below 1 KiB of resident and virtual size.
pub(crate) const PROCESS_EXACT_SLOTS: usize = 7;
/// The slots of `names.exact` (schema 3): CPU ULP adjustment, explicit CPU and memory ranks, list position,
/// remainder below 1 KiB of the resident sum.
pub(crate) const NAME_EXACT_SLOTS: usize = 5;

fn cols(table: &str) -> &'static [Col] {
    match table {
        "samples" => SAMPLES,
        "processes" => PROCESSES,
        "latency" => LATENCY,
        "exits" => EXITS,
        "oom_kills" => OOM_KILLS,
        _ => NAMES,
    }
}

/// The Arrow schema of a table.
pub(crate) fn schema(table: &str) -> SchemaRef {
    let fields: Vec<Field> = cols(table)
        .iter()
        .map(|c| Field::new(c.name, (c.ty)(), c.nullable))
        .collect();
    Arc::new(Schema::new(fields))
}

/// How a column chunk is encoded: the table's choice (zstd, the column's encoding) or one of the alternatives the
/// writer tries for small chunks (see `writer::encode::write_row_group`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Variant {
    /// zstd and the column's encoding from the table's column list.
    Chosen,
    /// The column's encoding, uncompressed: a zstd frame costs ~9 bytes a page, more than a near-constant page
    /// gains from it.
    Uncompressed,
    /// Uncompressed and without a dictionary: an empty or one-value dictionary page costs its header.
    UncompressedNoDictionary,
}

/// The zstd level of the `cmdline` column at most (the others use `WriterOptions::zstd_level`): see
/// [`writer_properties`].
const CMDLINE_ZSTD_LEVEL: i32 = 3;

/// Writer properties of a table: zstd (or none, see [`Variant`]), per-column encodings, chunk-level statistics,
/// the stabmon metadata.
pub(crate) fn writer_properties(
    table: &str,
    host: &str,
    zstd_level: i32,
    variant: Variant,
) -> WriterProperties {
    let level = ZstdLevel::try_new(zstd_level).unwrap_or_default();
    let compressed = variant == Variant::Chosen;
    let mut b = WriterProperties::builder()
        .set_writer_version(WriterVersion::PARQUET_1_0)
        .set_compression(if compressed {
            Compression::ZSTD(level)
        } else {
            Compression::UNCOMPRESSED
        })
        // Row groups are cut by the store writer (one per flush), never by the Parquet writer.
        .set_max_row_group_row_count(Some(usize::MAX))
        // Pages of at most ~15,000 rows: an 8-byte column's page stays under 128 KiB, where zstd sizes its
        // context for small inputs (~1 MB at level 6 instead of ~3 MB for the 20,000-row default).
        .set_data_page_row_count_limit(15_000)
        .set_statistics_enabled(EnabledStatistics::Chunk)
        // No offset index: columns are read whole (a chunk is one or a few pages), and it cost ~30 bytes per column
        // per row group, ~900 bytes per segment with few samples.
        .set_offset_index_disabled(true)
        .set_key_value_metadata(Some(vec![
            KeyValue::new(KEY_SCHEMA_VERSION.to_owned(), SCHEMA_VERSION.to_string()),
            KeyValue::new(KEY_TABLE.to_owned(), table.to_owned()),
            KeyValue::new(KEY_HOST.to_owned(), host.to_owned()),
        ]));
    for c in cols(table) {
        let enc = c.enc;
        // Statistics only where a reader uses them (time pruning); every other column's min/max would add bytes to
        // every footer of every hourly segment.
        let stats = if c.name == "ts" {
            EnabledStatistics::Chunk
        } else {
            EnabledStatistics::None
        };
        let path = if matches!((c.ty)(), DataType::List(_)) {
            ColumnPath::new(vec![
                c.name.to_owned(),
                "list".to_owned(),
                "item".to_owned(),
            ])
        } else {
            ColumnPath::new(vec![c.name.to_owned()])
        };
        b = b.set_column_statistics_enabled(path.clone(), stats);
        if c.name == "cmdline" && compressed {
            // Command lines are the biggest column of a busy recording (every rustc of a build is a new one) and
            // are compressed once per row group, in the dictionary page: the one page that passes 128 KiB when
            // processes come and go (a real hour with 766 distinct command lines: 161 KB; the writer cuts a row
            // group that gains 256 KiB of strings). zstd sizes its context by the input and the level: 3.1 MB at
            // level 6 for that page, 1.1 MB at level 3, which costs +1.4 % of such an hour's bytes (+0 on a quiet
            // one, where the page is small) and saved 1.7 MiB of the compaction's peak (BENCHMARKS.md,
            // "Compaction"). The dictionary page limit is raised from 1 MB: long command lines that stay
            // (`--top 100 --cmdline-max 4096`) can pass it, and past it the column would fall back to plain pages
            // with a copy per row.
            let level = ZstdLevel::try_new(zstd_level.min(CMDLINE_ZSTD_LEVEL)).unwrap_or_default();
            b = b
                .set_column_compression(path.clone(), Compression::ZSTD(level))
                .set_column_dictionary_page_size_limit(path.clone(), 16 << 20);
        }
        b = match enc {
            Enc::Dict if variant == Variant::UncompressedNoDictionary => {
                b.set_column_dictionary_enabled(path, false)
            }
            Enc::Dict => b.set_column_dictionary_enabled(path, true),
            Enc::Delta => b
                .set_column_dictionary_enabled(path.clone(), false)
                .set_column_encoding(path, Encoding::DELTA_BINARY_PACKED),
            Enc::Split => b
                .set_column_dictionary_enabled(path.clone(), false)
                .set_column_encoding(path, Encoding::BYTE_STREAM_SPLIT),
            Enc::Plain => b.set_column_dictionary_enabled(path, false),
        };
    }
    b.build()
}

#[cfg(test)]
#[allow(clippy::expect_used)]
mod tests {
    use super::*;

    /// The command lines' dictionary page is compressed at level 3 at most, so that zstd's context stays small;
    /// every other column keeps the writer's level, and a lower writer level applies to the command lines too.
    #[test]
    fn command_lines_use_a_lean_zstd_level() {
        let level = |table: &str, column: &str, writer_level: i32| {
            let props = writer_properties(table, "h", writer_level, Variant::Chosen);
            props.compression(&ColumnPath::new(vec![column.to_owned()]))
        };
        let zstd = |l| Compression::ZSTD(ZstdLevel::try_new(l).expect("level"));
        assert_eq!(level("processes", "cmdline", 6), zstd(3));
        assert_eq!(level("processes", "cmdline", 9), zstd(3));
        assert_eq!(level("processes", "cmdline", 1), zstd(1));
        assert_eq!(level("processes", "name", 6), zstd(6));
        assert_eq!(level("samples", "ts", 6), zstd(6));
        let plain = writer_properties("processes", "h", 6, Variant::Uncompressed);
        assert_eq!(
            plain.compression(&ColumnPath::new(vec!["cmdline".to_owned()])),
            Compression::UNCOMPRESSED
        );
    }
}
