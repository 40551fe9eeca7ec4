//! # stabmon-store
//!
//! Parquet storage for stabmon [`Sample`](stabmon_core::Sample)s: [`StoreWriter`] writes them to a data
//! directory, [`StoreReader`] gives them back, field for field equal to what was written. The files are plain
//! Hive-partitioned Parquet, so DuckDB, pandas/pyarrow and Spark read them too.
//!
//! ```
//! use std::time::Duration;
//! use stabmon_core::{Sample, Timestamp};
//! use stabmon_store::{StoreReader, StoreWriter};
//!
//! # fn main() -> Result<(), stabmon_store::Error> {
//! let dir = tempfile::tempdir().map_err(|source| stabmon_store::Error::Io { path: "tmp".into(), source })?;
//! let t0 = Timestamp::from_unix_secs(1_795_576_320); // 2026-11-25T03:12:00Z
//!
//! let mut writer = StoreWriter::create(dir.path())?;
//! for i in 0..3 {
//!     let mut s = Sample::new(t0.saturating_add(Duration::from_secs(i)), "nas");
//!     s.cpu.busy_pct = 12.5 * i as f32;
//!     writer.write(&s)?;
//! }
//! let summary = writer.finish()?; // writes the Parquet footers: always call it
//! assert_eq!(summary.samples, 3);
//!
//! let reader = StoreReader::open(dir.path())?;
//! assert_eq!(reader.hosts(), ["nas"]);
//! let back = reader.samples(Some(t0.saturating_add(Duration::from_secs(1))), None)?;
//! assert_eq!(back.len(), 2);
//! assert_eq!(back[1].cpu.busy_pct, 25.0);
//! # Ok(())
//! # }
//! ```
//!
//! # Reading at any range
//!
//! [`StoreReader::samples`] builds every [`Sample`](stabmon_core::Sample) of a range with its process lists: a few
//! kilobytes each, gigabytes for a week at 1 s. The bounded read path never does:
//!
//! - [`StoreReader::coverage`]: per host, the first and last sample and how many, from the segments' footers and
//!   the journal, without decoding a sample;
//! - [`StoreReader::choose_host`] and [`StoreReader::resolve_range`]: the host and the range the `stabmon`
//!   commands read, with open ends filled in from coverage ([`DefaultRange`]);
//! - [`StoreReader::system_series`]: a host's system values for a range as columns
//!   ([`SystemSeries`](stabmon_core::series::SystemSeries), about 100 bytes a sample), read from the `samples`
//!   and `latency` tables only, row groups outside the range skipped;
//! - [`StoreReader::windows`]: whole samples for the windows and instants analysis asks for
//!   ([`WindowSource`](stabmon_core::series::WindowSource)), each read touching only the row groups that hold them;
//! - [`StoreReader::stream`]: whole samples in time order, one segment in memory at a time ([`SampleStream`]).
//!
//! Each reads the journal of a recorder still running too, skips a damaged segment with one warning naming it
//! ([`StoreReader::warnings`]) and reads the rest. The incidents of host `nas` in the last 6 hours of its data:
//!
//! ```
//! use std::time::Duration;
//! use stabmon_core::analysis::{DetectOptions, detect_incidents_in};
//! use stabmon_core::{Sample, Timestamp};
//! use stabmon_store::{DefaultRange, StoreReader, StoreWriter};
//!
//! # fn main() -> Result<(), Box<dyn std::error::Error>> {
//! # let dir = tempfile::tempdir()?;
//! # let t0 = Timestamp::from_unix_secs(1_795_576_320);
//! # let mut w = StoreWriter::create(dir.path())?;
//! # for i in 0..600 {
//! #     w.write(&Sample::new(t0.saturating_add(Duration::from_secs(i)), "nas"))?;
//! # }
//! # w.finish()?;
//! let reader = StoreReader::open(dir.path())?;
//! let six_hours = DefaultRange::Last(Duration::from_secs(6 * 3600));
//! let (from, to) = reader.resolve_range(Some("nas"), None, None, six_hours, Timestamp::now())?;
//! let series = reader.system_series("nas", Some(from), Some(to))?;
//! let opts = DetectOptions::default().clean_stops(reader.clean_stops(Some("nas")));
//! let incidents = detect_incidents_in(&series, &reader.windows("nas"), &opts)?;
//! assert_eq!(series.len(), 600);
//! assert!(incidents.is_empty());
//! # Ok(())
//! # }
//! ```
//!
//! # Layout
//!
//! ```text
//! DIR/samples/host=<HOST>/date=<YYYY-MM-DD>/<SEGMENT>.parquet     one row per sample
//! DIR/processes/host=<HOST>/date=<YYYY-MM-DD>/<SEGMENT>.parquet   one row per process entry per sample
//! DIR/names/host=<HOST>/date=<YYYY-MM-DD>/<SEGMENT>.parquet       one row per name total per sample
//! DIR/latency/host=<HOST>/date=<YYYY-MM-DD>/<SEGMENT>.parquet     one row per latency probe (only segments with probes)
//! ```
//!
//! - `host` and `date` are Hive partition keys: the host lives in the path only, never as a column (pandas refuses
//!   a column that clashes with a partition key). The host is percent-encoded: every byte but `A-Z a-z 0-9 . _ -`
//!   becomes `%XX`, which pyarrow and DuckDB decode. `date` is the UTC date of the segment's samples.
//! - A segment is the same file name (`<SEGMENT>`, e.g. `20261125T031200Z`: its first sample's UTC time, with a
//!   `-1`, `-2` suffix if that name is taken) in all three tables. A writer starts a new segment at UTC midnight,
//!   when the host changes, and when time goes backwards (so timestamps strictly increase within a segment).
//! - Files are written as hidden `.<SEGMENT>.parquet.tmp` and renamed into place when complete. Readers (this
//!   one, pyarrow, DuckDB's `**/*.parquet`) skip hidden files, so they never see a half-written file.
//!
//! Read with DuckDB: `SELECT * FROM read_parquet('DIR/processes/**/*.parquet', hive_partitioning = true)`; with
//! pyarrow: `pyarrow.parquet.read_table('DIR/samples')`.
//!
//! # Schema, version 4
//!
//! Every file records `stabmon.schema_version` (`4`), `stabmon.table` and `stabmon.host` in its Parquet key-value
//! metadata. A reader refuses a newer version with [`Error::NewerSchema`]; new columns may be added without a new
//! version (readers select columns by name). Version 2 stores some `samples` values as null where they derive from
//! others (see [Derived values](#derived-values-in-samples)); version 3 keeps every value that only exactness
//! needs in one `exact` column per table (see [Exactness](#exactness)), where version 2 had fourteen columns, and
//! derives the top lists' lengths instead of storing them (see [Ranks](#ranks)); version 4 also derives the whole
//! machine's user, system, iowait and steal shares from the cores' (same columns). This reader reads versions 1
//! to 3 too. Timestamps are `Timestamp(Microsecond, "UTC")` (INT64 micros);
//! unsigned integers are Parquet unsigned logical types. Compression is zstd (level 6; the command lines' level 3); each column's encoding is
//! listed (dict = dictionary with RLE indices, delta = DELTA_BINARY_PACKED, plain = PLAIN under zstd), chosen per column by
//! measuring a synthetic day and a real recording (BENCHMARKS.md): plain under zstd beat delta for byte counts that
//! change in steps and for columns that hardly change. A column chunk of at most 512 bytes (a constant or all-null
//! column: most columns of a short segment) is also encoded uncompressed, and a dictionary one uncompressed
//! without its dictionary, and the smallest is kept; readers take the codec and encoding of each chunk as it is.
//!
//! ## Percentages and load averages
//!
//! Every percentage (CPU of the machine, of each core, of processes and names; pressure stalls) and the load
//! averages are stored as `DECIMAL(9,2)`, the value rounded to 0.01, which is what SQL users read. An adjustment
//! makes the reader give every `f32` back bit for bit (NaN and infinities included): the difference, in units of
//! the last place, between the bits of the recorded `f32` and the `f32` nearest to the decimal. Samplers record
//! CPU % on the 0.01 % grid (at a clock tick's resolution: 1 % of a core at 1 s) and pressure stalls to 0.1 %,
//! and the kernel gives load averages with two decimals, so the adjustment is 0; per-name sums computed in `f32`
//! are a few ULPs off. Unrounded values stay exact but cost about as much as a float. The non-zero adjustments
//! live in the table's `exact` column (see [Exactness](#exactness)); a null value has adjustment 0. Versus
//! `float32` columns the decimals saved 3.3 % of a real 10-minute recording (BENCHMARKS.md).
//!
//! ## Byte counts
//!
//! Memory sizes are stored in KiB (`*_kib` = bytes / 1024, rounded down), which is what the kernel counts in (pages
//! and KiB) and cheaper to encode than bytes: 0.35 MB a day less on the synthetic day (BENCHMARKS.md). The
//! remainders below 1 KiB, always 0 for what the samplers record, live in the table's `exact` column (see
//! [Exactness](#exactness)); the reader adds them back, so every count is exact. In SQL, `rss_kib * 1024` is the
//! resident size in bytes.
//!
//! ## Exactness
//!
//! `samples`, `processes` and `names` each have an `exact` column, list\<int32\>, null when the row needs none
//! (always, for what the samplers record): it holds (slot, value) pairs of the values that only make a hand-built
//! sample come back bit for bit. One column instead of version 2's fourteen saves their fixed cost in every file's
//! footer and chunks: 1.2 KB of every segment (a 10-minute recording: 16.5 to 15.3 KB of Parquet; BENCHMARKS.md).
//! Slots:
//! - `samples`: 0-6 the remainders below 1 KiB of `mem_total`, `mem_used`, `mem_available`, `swap_total`,
//!   `swap_used`, `rss_nth`, `name_rss_nth`; 7 (value 1) pressure information present with every value unknown
//!   (otherwise it is present where a `pressure_*` value is); 8-11 the length of the process CPU, process
//!   memory, name CPU and name memory list where the rule of [Ranks](#ranks) does not give it; 12 (schema 4) the
//!   whole machine's shares that are unknown although every core has them, bits 1 user, 2 system, 4 iowait, 8
//!   steal (see [Derived values](#derived-values-in-samples)); `16 + k` the ULP
//!   adjustment of the `k`-th percentage, counted in this order: 0-4 `cpu_busy_pct`, `cpu_user_pct`,
//!   `cpu_system_pct`, `cpu_iowait_pct`, `cpu_steal_pct`; 5-7 `load_1m`, `load_5m`, `load_15m`; 8-12
//!   `pressure_cpu_some_pct`, `pressure_memory_some_pct`, `pressure_memory_full_pct`, `pressure_io_some_pct`,
//!   `pressure_io_full_pct`; 13 `cpu_nth_pct`; 14 `name_cpu_nth_pct`; then `15 + 5 * core + field` for core `core` (0-based) and field 0-4
//!   busy, user, system, iowait, steal;
//! - `processes`: 0 the ULP adjustment of `cpu_pct`, 1 of `children_cpu_pct`; 2 the CPU rank and 3 the memory
//!   rank where they are explicit (see [Ranks](#ranks)); 4 the position in the sample's list where the list is
//!   not in canonical order (by CPU rank, then memory rank, ranked before unranked, then identity; lists built
//!   by `stabmon_core::attribution` always are); 5 and 6 the remainders below 1 KiB of `rss` and
//!   `virtual`;
//! - `names`: 0 the ULP adjustment of `cpu_pct`; 1 the CPU rank and 2 the memory rank where explicit; 3 the list
//!   position (canonical order: ranks, then name); 4 the remainder below 1 KiB of `rss`.
//!
//! An adjustment or remainder of 0 is left out; a rank or position is there whenever it is explicit. In DuckDB, a
//! slot reads with this macro (`exact_slot(exact, 2)` is a process's explicit CPU rank or null):
//!
//! ```sql
//! CREATE MACRO exact_slot(pairs, k) AS
//!   pairs[list_filter(range(1, coalesce(len(pairs), 0) + 1, 2), lambda i: pairs[i] = k)[1] + 1];
//! ```
//!
//! Version 1 and 2 files have the same values in separate columns: `ulp_adj` and `kib_rem` lists and a
//! `pressure_present` flag in `samples`, `<column>_ulp_adj`, `cpu_rank_explicit`, `rss_rank_explicit`, `list_pos`
//! and `kib_rem` in `processes` and `names`.
//!
//! ## `samples`: one row per sample
//!
//! | column | type | encoding | meaning |
//! |---|---|---|---|
//! | `ts` | timestamp us UTC | delta | the tick the sample was scheduled for |
//! | `boot_time` | timestamp us UTC | plain | when the machine booted |
//! | `boot_id` | string, null | dict | the kernel's boot id (Linux); changes at every reboot |
//! | `timezone` | string, null | dict | the host's IANA time zone |
//! | `utc_offset_secs` | int32, null | plain | the host's offset from UTC at `ts`, seconds east |
//! | `interval_us` | int64, null | plain | the time the sample's rates cover (measured since the previous sample), us; null where derived (see [Derived values](#derived-values-in-samples)) |
//! | `lateness_us` | int64 | dict | how long after its tick the reading started, us (the collector records it to 100 us) |
//! | `cpu_busy_pct` | decimal(9,2), null | dict | whole-machine CPU busy, % of all cores; null where derived |
//! | `cpu_user_pct`, `cpu_system_pct` | decimal(9,2), null | dict | whole-machine user and system CPU, where the OS splits them; null where derived |
//! | `cpu_iowait_pct`, `cpu_steal_pct` | decimal(9,2), null | dict, plain | same, where the OS reports them; null where derived |
//! | `core_busy_pct` | list\<decimal(9,2), null\> | plain | per core, % of that core, in OS order; an item is null where derived |
//! | `core_user_pct`, `core_system_pct` | list\<decimal(9,2), null\> | dict | per core, where the OS splits them |
//! | `core_iowait_pct`, `core_steal_pct` | list\<decimal(9,2), null\> | dict, plain | per core, where reported |
//! | `load_1m`, `load_5m`, `load_15m` | decimal(9,2), null | delta | load averages (all null where the OS has none) |
//! | `mem_total_kib`, `mem_used_kib`, `mem_available_kib` | uint64 (used: null) | delta (available: plain) | physical memory, KiB (see [Byte counts](#byte-counts)); used is null where derived |
//! | `swap_total_kib`, `swap_used_kib` | uint64 | delta, plain | swap, KiB |
//! | `process_count` | uint32 | dict | processes that existed |
//! | `pressure_cpu_some_pct`, `pressure_memory_some_pct`, `pressure_memory_full_pct`, `pressure_io_some_pct`, `pressure_io_full_pct` | decimal(9,2), null | dict (cpu), plain | share of the interval stalled, %; null where not read (pressure stall information is Linux's) |
//! | `oom_kill_count` | uint64, null | plain | the kernel's cumulative OOM-kill counter (Linux) |
//! | `top_n` | uint16 | delta | N of the top lists |
//! | `cpu_nth_pct` | decimal(9,2) | plain | what every process not in the CPU list used at most: the attributed CPU % of the N-th process by CPU, the CPU floor where the floor cut the list short, 0 where none was left out |
//! | `rss_nth_kib` | uint64 | plain | what every process not in the memory list had at most: resident memory of the N-th process by memory, KiB; 1 (the memory floor, 1 KiB) where the floor cut the list short; 0 where none was left out |
//! | `name_cpu_nth_pct` | decimal(9,2) | dict | the same for names: summed CPU % of the N-th name by CPU, or the floor, or 0 |
//! | `name_rss_nth_kib` | uint64 | plain | the same for names: summed resident memory of the N-th name by memory, or the floor, or 0, KiB |
//! | `exact` | list\<int32\>, null | plain | (slot, value) pairs for exactness (see [Exactness](#exactness)); null when the row needs none |
//!
//! ### Derived values in `samples`
//!
//! Some values are stored as null where they follow from others in the same or the previous row, which is what a
//! recorder's values nearly always do; a value that differs from its rule is stored, so every sample round-trips
//! exactly. A real 10-minute recording made by schema 1 and written again by schema 2 lost 13 % of its `samples`
//! bytes (28.1 to 24.4 KB); rule 0, schema 4's, saves another ~0.8 KB of the whole machine's CPU in 10 minutes
//! (BENCHMARKS.md).
//! 0. (Schema 4.) `cpu_user_pct`, `cpu_system_pct`, `cpu_iowait_pct` and `cpu_steal_pct`: the mean of the same
//!    share of every core (`core_user_pct`, ...), when every core has it: the cores' hundredths summed, divided by
//!    the number of cores and rounded half up to hundredths
//!    ([`mean_pct`](stabmon_core::units::mean_pct), which is how the samplers compute the whole machine where
//!    they read per-core times). A share that is unknown although every core has one is marked in `exact` (slot
//!    12) and stays unknown.
//! 1. Each item of `core_busy_pct`: `user + system + steal` of the same core, in hundredths, when all three are
//!    present (the `/proc` sampler's busy time is exactly those ticks). `cpu_busy_pct`: since schema 4, the mean
//!    of the cores' busy shares as in rule 0 where the row has cores (the sum of three rounded means would differ
//!    from it on 3, 6 or 8 cores), else `user + system + steal` of the row, as in schemas 2-3 always.
//! 2. `mem_used_kib`: `mem_total_kib - mem_available_kib` with their remainders, 0 if that is negative (what
//!    [`Memory::new`](stabmon_core::Memory::new) computes).
//! 3. `interval_us`: the time between the previous row's reading and this one's,
//!    `(ts - ts') + (lateness_us - lateness_us')` with `'` the previous row of the same row group (the first
//!    row of a row group always has its interval). The collector measures the interval between exactly those
//!    readings, so only a stepped clock or the first sample after a start stores it.
//!
//! In SQL (DuckDB; `exact_slot` is the macro of [Exactness](#exactness)):
//!
//! ```sql
//! CREATE MACRO core_mean(items) AS CASE WHEN len(items) > 0 AND list_count(items) = len(items)
//!   THEN CAST(floor((list_sum(items) * 200 + len(items)) / (2 * len(items))) / 100 AS DECIMAL(9,2)) END;
//! CREATE MACRO machine(value, items, exact, bit) AS
//!   coalesce(value, CASE WHEN coalesce(exact_slot(exact, 12), 0) & bit = 0 THEN core_mean(items) END);
//! SELECT ts, user_pct, system_pct, iowait_pct, steal_pct,
//!   coalesce(cpu_busy_pct, CASE WHEN len(core_busy) > 0 THEN core_mean(core_busy)
//!     ELSE user_pct + system_pct + steal_pct END) AS cpu_busy_pct,
//!   core_busy AS core_busy_pct,
//!   coalesce(mem_used_kib, greatest(mem_total_kib - mem_available_kib, 0)) AS mem_used_kib,
//!   coalesce(interval_us, epoch_us(ts) - lag(epoch_us(ts)) OVER w + lateness_us - lag(lateness_us) OVER w)
//!     AS interval_us
//! FROM (SELECT *,
//!     list_transform(list_zip(core_busy_pct, core_user_pct, core_system_pct, core_steal_pct),
//!       lambda c: coalesce(c[1], c[2] + c[3] + c[4])) AS core_busy,
//!     machine(cpu_user_pct, core_user_pct, exact, 1) AS user_pct,
//!     machine(cpu_system_pct, core_system_pct, exact, 2) AS system_pct,
//!     machine(cpu_iowait_pct, core_iowait_pct, exact, 4) AS iowait_pct,
//!     machine(cpu_steal_pct, core_steal_pct, exact, 8) AS steal_pct
//!   FROM read_parquet('DIR/samples/**/*.parquet', hive_partitioning = true))
//! WINDOW w AS (PARTITION BY host ORDER BY ts)
//! ```
//!
//! (For files of schema 1-3, which store every machine share, use `cpu_user_pct` and the others as they are, and
//! `user + system + steal` for a null `cpu_busy_pct`.)
//!
//! (The window takes the previous row of the host, which is the row the rule uses wherever the value is null, unless
//! the clock went back and segments overlap in time. The interoperability test runs this query in DuckDB.)
//!
//! ## `processes`: one row per process in a sample's top lists
//!
//! Within a row group the rows are sorted by process identity (`pid`, `start_time`) and then `ts`, not by time:
//! each column is then a smooth per-process series that delta and dictionary/RLE encodings shrink to almost
//! nothing when it does not change. Join to `samples` on (`host`, `ts`).
//!
//! | column | type | encoding | meaning |
//! |---|---|---|---|
//! | `ts` | timestamp us UTC | delta | the sample's tick |
//! | `pid` | uint32 | delta | process id |
//! | `start_time` | timestamp us UTC | plain | when the process started; (`pid`, `start_time`) identifies a process |
//! | `parent_pid` | uint32, null | plain | parent's process id |
//! | `name` | string | dict | process name (Linux `comm`) |
//! | `cmdline` | string, null | dict, zstd level 3 (or less, with the others) | command line, cut to a bounded length; null when not recorded |
//! | `user` | string, null | dict | owning user |
//! | `cpu_pct` | decimal(9,2) | dict | CPU over the interval, % of one core (200 = two cores) |
//! | `children_cpu_pct` | decimal(9,2), null | dict | CPU of reaped children over the interval, % of one core |
//! | `rss_kib` | uint64 | plain | resident memory, KiB |
//! | `virtual_kib` | uint64 | plain | virtual memory size, KiB |
//! | `exact` | list\<int32\>, null | plain | (slot, value) pairs for exactness: explicit ranks, list position, ULP adjustments, remainders (see [Exactness](#exactness)) |
//!
//! ## `names`: one row per name total in a sample
//!
//! Sorted by `name`, then `ts`, within a row group.
//!
//! | column | type | encoding | meaning |
//! |---|---|---|---|
//! | `ts` | timestamp us UTC | delta | the sample's tick |
//! | `name` | string | dict | process name |
//! | `process_count` | uint32 | plain | processes with that name |
//! | `cpu_pct` | decimal(9,2), null | dict | their summed CPU, % of one core; null where derived (below) |
//! | `rss_kib` | uint64, null | plain | their summed resident memory, KiB; null where derived (below) |
//! | `exact` | list\<int32\>, null | plain | (slot, value) pairs for exactness (see [Exactness](#exactness)) |
//!
//! ### Name totals stored as derived
//!
//! A null `cpu_pct` or `rss_kib` repeats a value the reader already has, which is what most name totals do:
//! 1. when `process_count` is 1 and the sample has a `processes` row with that `name` (then it is the only
//!    one), the value is that row's `cpu_pct` (own CPU, not children's) or `rss_kib` (and remainder);
//! 2. otherwise it is the value of the same name's previous row (the sample before, in `ts` order; the first
//!    row of a name in each row group is never stored this way).
//!
//! A value that differs from its rule is stored (so any sample round-trips exactly). On the synthetic day this
//! saved 0.39 MB a day (6 %): rule 1 is most of it. In SQL, apply rule 1 with a join and rule 2 with a window:
//!
//! ```sql
//! SELECT n.host, n.ts, n.name, n.process_count,
//!   last_value(coalesce(n.cpu_pct, p.cpu_pct) IGNORE NULLS) OVER w AS cpu_pct,
//!   last_value(coalesce(n.rss_kib, p.rss_kib) IGNORE NULLS) OVER w AS rss_kib
//! FROM read_parquet('DIR/names/**/*.parquet', hive_partitioning = true) n
//! LEFT JOIN read_parquet('DIR/processes/**/*.parquet', hive_partitioning = true) p
//!   ON p.host = n.host AND p.ts = n.ts AND p.name = n.name AND n.process_count = 1
//! WINDOW w AS (PARTITION BY n.host, n.name ORDER BY n.ts ROWS UNBOUNDED PRECEDING)
//! ```
//!
//! ## `latency`: one row per network latency probe
//!
//! Written only for segments whose samples carried probes (a recorder without latency targets pays nothing for
//! it). Rows are in the order the samples carried them: a probe belongs to the first sample taken after it
//! completed (see `stabmon_core::latency`), so `ts` (that sample's tick, the join key to `samples`) can be seconds
//! after `start_ts` for a slow probe. A failed probe has no `total_us`: never a made-up figure. Timings are
//! whole microseconds (probes record that resolution; a finer one is refused with [`Error::Unrepresentable`]);
//! 6.6 B a probe on a synthetic day of three targets at 1 s (1.7 MB a day), against 18 B as float64 milliseconds
//! (BENCHMARKS.md).
//!
//! | column | type | encoding | meaning |
//! |---|---|---|---|
//! | `ts` | timestamp us UTC | delta | the tick of the sample that carried the probe |
//! | `start_ts` | timestamp us UTC | delta | when the probe started |
//! | `target` | string | dict | the target's name (`--target NAME=URL`) |
//! | `outcome` | string | dict | `ok`, `timeout`, `refused`, `reset`, `dns_error`, `tls_error`, `http_status` or `other` |
//! | `http_status` | uint16, null | delta | the status code of an `http_status` outcome |
//! | `message` | string, null | dict | the message of a `dns_error`, `tls_error` or `other` outcome |
//! | `dns_us`, `connect_us`, `tls_us`, `first_byte_us`, `total_us` | int64, null | delta | phase timings in microseconds (`LatencyProbe`'s `*_ms` times 1000), where they apply and completed |
//!
//! ## Ranks
//!
//! Ranks are not stored: they follow from the values, in the order `stabmon_core::attribution` builds the
//! lists (see `stabmon_core::attribution::cmp_entries_by_cpu` and its siblings). Sort a sample's process rows by
//! (attributed CPU = `cpu_pct` + `children_cpu_pct`, descending; resident bytes descending; `pid`): the row at
//! place `r` has CPU rank `r` when `r <= top_n` and its attributed CPU is at least `cpu_nth_pct`, the list's
//! bound. Likewise the memory ranks: sorted by (resident bytes desc, attributed CPU desc, `pid`), rank `r` when
//! `r <= top_n` and `rss_kib >= rss_nth_kib`. Names: by (`cpu_pct` desc, resident bytes desc, `name`) against
//! `name_cpu_nth_pct`, and by (resident bytes desc, `cpu_pct` desc, `name`) against `name_rss_nth_kib`. This holds
//! for every list `stabmon_core::attribution` builds: a full list has N rows at or above its N-th value, one a
//! floor cut (CPU, or memory at 1 KiB) has its bound at the floor, and a list of every process has bound 0. For a sample built by hand
//! where it does not, `samples.exact` stores the list's length (slots 8-11), or, for a list whose ranks do not
//! follow the order, the rows hold their ranks in `exact` (see [Exactness](#exactness)). Not storing ranks saved
//! 0.74 MB a day (10 %) on the synthetic day, and not storing the lists' lengths four columns' fixed cost in every
//! segment (0.5 KB). In SQL (DuckDB; what the recorder writes needs no `exact`):
//!
//! ```sql
//! SELECT p.*, CASE WHEN p.r <= s.top_n
//!   AND p.cpu_pct + coalesce(p.children_cpu_pct, 0) >= s.cpu_nth_pct THEN p.r END AS cpu_rank
//! FROM (SELECT *, row_number() OVER (PARTITION BY host, ts
//!         ORDER BY cpu_pct + coalesce(children_cpu_pct, 0) DESC, rss_kib DESC, pid) AS r
//!       FROM read_parquet('DIR/processes/**/*.parquet', hive_partitioning = true)) p
//! JOIN read_parquet('DIR/samples/**/*.parquet', hive_partitioning = true) s USING (host, ts)
//! ```
//!
//! For names, fill in the `cpu_pct` and `rss_kib` left out as derived first (see [Name
//! totals](#name-totals-stored-as-derived)), then rank the same way.
//!
//! Files of versions 1 and 2 store each list's length in `samples` (`cpu_list_len`, `rss_list_len`,
//! `name_cpu_list_len`, `name_rss_list_len`; null where the rows hold their ranks explicitly).
//!
//! (SQL sums the decimals exactly where stabmon sums `f32`s; the two orders can differ only between values
//! within a few ULPs of each other.)
//!
//! # Durability
//!
//! [`FlightRecorder`] (what `stabmon record` uses) makes the store a flight recorder. Its contract:
//!
//! - **`kill -9` loses at most the last 1 s** (at most the sample in flight): every sample is appended to a
//!   journal, `DIR/_journal/host=<HOST>/<SEQ>.journal`, with one `write(2)` straight to the kernel as soon as
//!   it is taken. No user-space buffer holds samples back.
//! - **A power cut loses at most the last `--sync` period** ([`RecorderOptions::sync`], default 1 s): the journal
//!   is `fdatasync`ed that often (at the default and a 1 s interval, after every sample). The cost is one small
//!   disk flush per period: a few kB written per flush on ext4 plus its journal commit, measured in
//!   BENCHMARKS.md; raise `--sync` on flash that must be spared, at the price of a longer loss on a power cut.
//! - **A sample is never half-visible**: journal records are framed with their length and a CRC32; a reader
//!   takes every complete record and stops at a torn one.
//! - **An upgrade reads what a crashed older release left**: the journal has a format version of its own and
//!   its records a layout of their own, never the in-memory [`Sample`](stabmon_core::Sample); every format
//!   ever written is decoded (a committed journal per format is recovered by the tests). Format 2 compresses
//!   each sample against the previous one (a key record on its own every 60), ~10x fewer bytes than format 1.
//!   A record that does not decode never causes a deletion: what decoded goes to Parquet, the journal is kept as
//!   `<SEQ>.journal.undecodable` and the count is reported once ([`Notice::SetAside`], [`Recovery::warnings`]).
//! - **Parquet files are never half-written**: each rotation period (`--rotate`, default one hour) and at a
//!   clean stop the journal is compacted into Parquet segments, each written under a hidden temporary name,
//!   fsynced, renamed into place, and its directory fsynced; then `manifest.json` is replaced the same way and
//!   the journal removed. A crash anywhere in between is repaired at the next start without duplicates.
//!   Compaction streams the journal record by record into the writer, which holds one row group of compact rows
//!   (each process's identity once) and encodes it a column at a time: its memory does not grow with the journal
//!   nor, past 256 KiB of new distinct strings a row group, with process churn (an hour of ~1,000 processes at
//!   1 s peaks ~11-12 MiB above the recorder's RSS on the compaction bench, code pages included; BENCHMARKS.md).
//! - **Compaction never delays a sample**: a rotation hands the closed journal to a thread of the recorder
//!   that compacts it, applies retention and rewrites the manifest; [`FlightRecorder::record`] only appends to
//!   the new journal. The closed journal stays readable until its segments are in place. If compaction falls
//!   behind, closed journals wait on disk (their paths alone in memory, one compacted at a time) and
//!   [`Notice::CompactionBehind`] says so once; [`FlightRecorder::wait_for_compaction`] waits for the thread.
//! - **Recovery**: [`FlightRecorder::open`] compacts every journal a previous run left. [`StoreReader`] reads the
//!   journal of a recorder still running too, so a report shows the last seconds.
//! - **Clean stops** are recorded (a marker in the journal, then `stops` in `manifest.json`), so a gap can be
//!   told apart: stopped cleanly, died (no marker, same boot id), or rebooted (a new boot id):
//!   [`StoreReader::clean_stops`].
//! - **A full or failing disk does not stop sampling**: samples wait in a bounded memory buffer
//!   ([`RecorderOptions::buffer_samples`]), the trouble is reported once ([`Notice`]) with the path, writing
//!   resumes when space returns, and only the overflow is dropped, counted and reported.
//! - **One recorder per directory**: an OS file lock on `DIR/.stabmon.lock` ([`DirLock`]), released by the
//!   kernel when the holder dies, so a crashed recorder never blocks recovery.
//! - **Retention** ([`Retention`]): segments older than `--retain` (default 30 days, [`DEFAULT_RETAIN`]) and,
//!   with `--max-disk`, the oldest segments beyond that size go first; the live journal never does.
//!
//! `manifest.json` at the root lists every segment (one entry for a segment's tables since manifest version 3:
//! its directory, which names host and date, its name and time range, each table's rows and bytes), the live
//! journals and the clean stops ([`Manifest`]), so a plain static file server of the
//! directory is enough for a remote [`StoreReader`] (`StoreReader::open("https://host/stabmon")`), which fetches
//! only the segments in range.
//!
//! [`StoreWriter`] alone (no journal) leaves complete files at [`StoreWriter::finish`] and loses its open row
//! group on a crash.
#![deny(missing_docs)]

mod codec;
mod error;
mod fsio;
mod journal;
mod layout;
mod lock;
mod manifest;
mod pct;
mod ranks;
mod reader;
mod recorder;
mod remote;
mod retention;
mod schema;
mod select;
mod writer;

pub use error::Error;
pub use lock::{DirLock, LOCK_FILE};
pub use manifest::{
    CleanStop, MANIFEST_FILE, MANIFEST_FORMAT, MANIFEST_VERSION, Manifest, ManifestJournal,
    ManifestSegment,
};
pub use reader::{Coverage, HostWindows, SampleStream, StoreReader};
pub use recorder::{FlightRecorder, JOURNAL_DIR, Notice, RecorderOptions, Recovery, StopSummary};
pub use retention::{DEFAULT_RETAIN, Retention, RetentionReport, parse_size};
pub use schema::{KEY_HOST, KEY_SCHEMA_VERSION, KEY_TABLE, SCHEMA_VERSION};
pub use select::DefaultRange;
pub use writer::{StoreWriter, WriteSummary, WriterOptions};
