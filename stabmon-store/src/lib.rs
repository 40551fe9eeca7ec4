//! # stabmon-store
//!
//! Parquet storage for stabmon [`Sample`](stabmon_core::Sample)s: [`StoreWriter`] writes them to a data
//! directory, [`StoreReader`] gives them back, field for field equal to what was written. The files are plain
//! Hive-partitioned Parquet with a plain schema (every value in every row, floats for percentages, bytes for
//! sizes), so DuckDB, pandas/pyarrow, Polars and Spark read them too.
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
//!   ([`SystemSeries`](stabmon_core::series::SystemSeries), about 40 bytes a sample), read from the `samples`
//!   and `latency` tables only, row groups outside the range skipped ([`StoreReader::system_series_of`]: only the
//!   columns incident detection reads, [`SeriesRead::Detection`]; [`StoreReader::system_series_with_moments`]:
//!   with the samples a page shows on hover, built from what the read decodes where files older than schema 5
//!   are decoded whole);
//! - [`StoreReader::windows`]: whole samples for the windows and instants analysis asks for
//!   ([`WindowSource`](stabmon_core::series::WindowSource)), each read touching only the row groups that hold them,
//!   and of those only the tables and columns of the parts asked for
//!   ([`SampleParts`](stabmon_core::series::SampleParts)); samples read already are handed to it with
//!   [`HostWindows::with_samples`];
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
//! DIR/exits/host=<HOST>/date=<YYYY-MM-DD>/<SEGMENT>.parquet       exited names and detailed exits (only segments with exits)
//! DIR/oom_kills/host=<HOST>/date=<YYYY-MM-DD>/<SEGMENT>.parquet   one row per OOM victim the kernel log named (only segments with kills)
//! ```
//!
//! - `host` and `date` are Hive partition keys: the host lives in the path only, never as a column (pandas refuses
//!   a column that clashes with a partition key). The host is percent-encoded: every byte but `A-Z a-z 0-9 . _ -`
//!   becomes `%XX`, which pyarrow and DuckDB decode. `date` is the UTC date of the segment's samples.
//! - A segment is the same file name (`<SEGMENT>`, e.g. `20261125T031200Z`: its first sample's UTC time, with a
//!   `-1`, `-2` suffix if that name is taken) in every table. A writer starts a new segment at UTC midnight,
//!   when the host changes, and when time goes backwards (so timestamps strictly increase within a segment).
//! - Files are written as hidden `.<SEGMENT>.parquet.tmp` and renamed into place when complete. Readers (this
//!   one, pyarrow, DuckDB's `**/*.parquet`) skip hidden files, so they never see a half-written file.
//!
//! Read with DuckDB: `SELECT * FROM read_parquet('DIR/processes/**/*.parquet', hive_partitioning = true)`; with
//! pyarrow: `pyarrow.parquet.read_table('DIR/samples')`; with Polars:
//! `polars.read_parquet('DIR/samples/**/*.parquet', hive_partitioning=True)`. See [Queries](#queries).
//!
//! # Schema, version 8
//!
//! Every file records `stabmon.schema_version` (`8`), `stabmon.table` and `stabmon.host` in its Parquet key-value
//! metadata. A reader refuses a newer version with [`Error::NewerSchema`]; new columns may be added without a new
//! version (readers select columns by name). This reader reads versions 1 to 7 too (see [Older
//! versions](#older-versions)).
//!
//! Every column holds its value in every row. NULL means the platform did not measure the value (never 0 for
//! "unknown", and never left out because other columns imply it). Timestamps are `timestamp(us, UTC)` (INT64
//! microseconds since the epoch). Percentages and load averages are `float32`: the value the sampler recorded, bit
//! for bit (samplers record CPU to 0.01 %, pressure stalls to 0.1 %, load averages to 0.01). Sizes are `uint64`
//! bytes, named `*_bytes` like the fields of [`Sample`](stabmon_core::Sample). Unsigned integers use Parquet's
//! unsigned logical types, which DuckDB, pandas and Polars read as unsigned integers.
//!
//! Compression is zstd (level 6; the command lines' level 3). Each column's encoding is listed (dict = dictionary
//! with RLE indices, delta = DELTA_BINARY_PACKED, split = BYTE_STREAM_SPLIT, plain = PLAIN), the smallest of the
//! four under zstd on the synthetic day (`cargo bench -p stabmon-benches --bench store`), except where one within a
//! few KB a day decompresses to far fewer bytes: the processes' `start_time` (delta) and the ranks
//! (dict), which every hover moment and culprit window reads. A column chunk of at
//! most 512 bytes (a constant or all-null column: most columns of a short segment) is also encoded uncompressed,
//! and a dictionary one uncompressed without its dictionary, and the smallest is kept; readers take the codec and
//! encoding of each chunk as it is.
//!
//! Storing every value costs bytes: the synthetic day in one segment takes 2,772,979 B (2.77 MB, schema 8; see
//! "Recorder: bytes on disk" in BENCHMARKS.md, which also holds the command), where schema 4, which left derived
//! values out and kept ranks implicit, took 1.57 MB. Most of the difference is values schema 4 did not store: the
//! cores' and the machine's busy share and the machine's user, system and iowait (0.51 MB), the name totals on every
//! row (0.19 MB), the ranks (0.27 MB) and the busiest process and group of each sample (0.20 MB).
//!
//! ## `samples`: one row per sample
//!
//! | column | type | encoding | meaning; NULL when |
//! |---|---|---|---|
//! | `ts` | timestamp | delta | the tick the sample was scheduled for |
//! | `boot_time` | timestamp | dict | when the machine booted |
//! | `boot_id` | string | dict | the kernel's boot id, which changes at every reboot; NULL off Linux |
//! | `timezone` | string | dict | the host's IANA time zone; NULL where unknown |
//! | `utc_offset_secs` | int32 | dict | the host's offset from UTC at `ts`, seconds east; NULL where unknown |
//! | `interval_us` | int64 | dict | the time the sample's rates cover (since the previous reading), microseconds |
//! | `lateness_us` | int64 | dict | how long after its tick the reading started, microseconds |
//! | `cpu_busy_pct` | float32 | split | whole-machine CPU busy, % of all cores (100 = every core busy) |
//! | `cpu_user_pct`, `cpu_system_pct` | float32 | split, dict | whole-machine user and system CPU, % of all cores; NULL where the OS does not split busy time |
//! | `cpu_iowait_pct`, `cpu_steal_pct` | float32 | dict, plain | whole-machine I/O wait and steal, % of all cores; NULL where the OS does not report them |
//! | `core_busy_pct` | list\<float32\> | dict | per core, in OS order, % of that core |
//! | `core_user_pct`, `core_system_pct`, `core_iowait_pct`, `core_steal_pct` | list\<float32\> | dict, dict, dict, plain | per core, % of that core; an item is NULL where the OS does not report it |
//! | `load_1m`, `load_5m`, `load_15m` | float32 | plain | load averages; NULL where the OS has none (Windows) |
//! | `mem_total_bytes`, `mem_used_bytes`, `mem_available_bytes` | uint64 | dict, split, split | physical memory installed, in use, available for new work without swapping (Linux `MemAvailable`), bytes |
//! | `swap_total_bytes`, `swap_used_bytes` | uint64 | dict, plain | swap configured and in use, bytes |
//! | `process_count` | uint32 | plain | processes that existed |
//! | `pressure_present` | boolean | plain | whether the host reports pressure stall information (Linux 4.20+) |
//! | `pressure_cpu_some_pct`, `pressure_memory_some_pct`, `pressure_memory_full_pct`, `pressure_io_some_pct`, `pressure_io_full_pct` | float32 | dict, plain, plain, dict, dict | share of the interval in which some (all) tasks stalled on the resource, %; NULL without pressure information, and in the first sample after a start (no interval yet) |
//! | `oom_kill_count` | uint64 | plain | the kernel's cumulative OOM-kill counter (it restarts at 0 at boot); NULL off Linux |
//! | `top_n` | uint16 | dict | N of the top lists |
//! | `cpu_nth_pct` | float32 | dict | what every process not in the CPU list used at most, % of one core: the N-th process's attributed CPU, the CPU floor where the floor cut the list short, 0 where none was left out |
//! | `rss_nth_bytes` | uint64 | split | what every process not in the memory list had at most: the N-th process's resident bytes, the memory floor (1 KiB) where it cut the list short, 0 where none was left out |
//! | `name_cpu_nth_pct`, `name_rss_nth_bytes` | float32, uint64 | dict, split | the same for the name lists |
//! | `top_process_pid`, `top_process_start_time`, `top_process_name` | uint32, timestamp, string | dict | the busiest process: the listed process with the most CPU of its own (`processes.cpu_pct`, children not counted; ties: lowest `pid`, then earliest `start_time`); NULL when no process is listed |
//! | `top_process_cpu_pct` | float32 | dict | its `cpu_pct`, % of one core; NULL when no process is listed |
//! | `top_group_name` | string | dict | the busiest group of one name: the name with the most summed CPU: its listed processes' (`names.cpu_pct`) plus, where exits are recorded, its processes that exited over the interval (`100 * exits.cpu_us / interval_us` of its totals row, so a storm of short-lived workers is a group), leaving out `top_process_name` where that process alone used more than two thirds of its name's CPU (the name would only repeat it); ties: first name in byte order; NULL when no other name is listed |
//! | `top_group_cpu_pct` | float32 | dict | its summed CPU (exited processes included), % of one core; NULL with `top_group_name` |
//!
//! | `exit_count` | uint32 | dict | processes that exited over the interval (Linux, from the kernel's exit records); NULL where exits are not recorded (another OS, no privilege, or a recording made before schema 7) |
//! | `exit_dropped` | uint32 | dict | how many times the kernel dropped exit records over the interval (`ENOBUFS`: each time at least one exit is missing from `exit_count`); NULL with `exit_count` |
//!
//! The `top_*` columns repeat facts of the `processes` and `names` rows, so that runaway detection (a process or a
//! name's processes busy on most of a core) reads a month of samples without its process rows: the busiest process
//! changes far less often than samples are taken, which dictionaries store in a few bytes an hour.
//!
//! ## `processes`: one row per process in a sample's top lists
//!
//! A sample lists the top N processes by CPU and the top N by resident memory; a process in both is one row.
//! Within a row group the rows are sorted by process identity (`pid`, `start_time`) and then `ts`, so that each
//! column is a smooth per-process series; join to `samples` on (`host`, `ts`).
//!
//! | column | type | encoding | meaning; NULL when |
//! |---|---|---|---|
//! | `ts` | timestamp | delta | the sample's tick |
//! | `pid` | uint32 | delta | process id |
//! | `start_time` | timestamp | delta | when the process started; (`pid`, `start_time`) identifies a process |
//! | `parent_pid` | uint32 | dict | parent's process id; NULL where unknown |
//! | `name` | string | dict | process name (Linux `comm`) |
//! | `cmdline` | string | dict, zstd level 3 (or less) | command line, cut to a bounded length; NULL when not recorded |
//! | `user` | string | dict | owning user; NULL where unknown |
//! | `cpu_pct` | float32 | dict | CPU over the interval, % of one core (200 = two cores) |
//! | `children_cpu_pct` | float32 | split | CPU of children reaped in the interval, % of one core; NULL where the OS does not report it |
//! | `rss_bytes` | uint64 | split | resident memory, bytes |
//! | `virtual_bytes` | uint64 | plain | virtual memory size, bytes |
//! | `cpu_rank` | uint16 | dict | place in the sample's CPU list (1 = most attributed CPU: `cpu_pct` + `children_cpu_pct`); NULL where not in that list |
//! | `rss_rank` | uint16 | dict | place in the sample's memory list (1 = most resident memory); NULL where not in that list |
//! | `cgroup` | string | dict | the process's control group (Linux `/proc/PID/cgroup`: the v2 `0::` path, else systemd's or the memory controller's v1 path), read once per process; NULL where the OS has none or it could not be read |
//! | `unit` | string | dict | the systemd unit or container the cgroup names (`nginx.service`, `session-3.scope`, `docker:4f1c0b3a9d2e`, `podman:...`, `containerd:...`, see `stabmon_core::cgroup`); NULL where none is recognisable |
//!
//! ## `names`: one row per name total in a sample
//!
//! The top N process names by summed CPU and by summed resident memory (every process of that name counted, not
//! only the listed ones). Sorted by `name`, then `ts`, within a row group.
//!
//! | column | type | encoding | meaning; NULL when |
//! |---|---|---|---|
//! | `ts` | timestamp | delta | the sample's tick |
//! | `name` | string | dict | process name |
//! | `process_count` | uint32 | dict | processes with that name |
//! | `cpu_pct` | float32 | dict | their summed CPU, % of one core |
//! | `rss_bytes` | uint64 | split | their summed resident memory, bytes |
//! | `cpu_rank`, `rss_rank` | uint16 | dict | place in the sample's name CPU and memory lists; NULL where not in that list |
//!
//! A name's `cpu_pct` and `process_count` are those of its live processes at the sample: processes of that name
//! that exited over the interval are not in them; their CPU is in the `exits` table.
//!
//! A process list and a name list come back from [`StoreReader`] in canonical order: by CPU rank, then memory
//! rank, ranked before unranked, then identity (names: name), the order `stabmon_core::attribution` builds them.
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
//! | column | type | encoding | meaning; NULL when |
//! |---|---|---|---|
//! | `ts` | timestamp | delta | the tick of the sample that carried the probe |
//! | `start_ts` | timestamp | delta | when the probe started |
//! | `target` | string | dict | the target's name (`--target NAME=URL`) |
//! | `outcome` | string | dict | `ok`, `timeout`, `refused`, `reset`, `dns_error`, `tls_error`, `http_status` or `other` |
//! | `http_status` | uint16 | delta | the status code of an `http_status` outcome; NULL otherwise |
//! | `message` | string | dict | the message of a `dns_error`, `tls_error` or `other` outcome; NULL otherwise |
//! | `dns_us`, `connect_us`, `tls_us`, `first_byte_us`, `total_us` | int64 | delta | phase timings, microseconds; NULL where a phase does not apply or did not complete |
//!
//! ## `exits`: exited names and detailed exits per sample
//!
//! Written only for segments whose samples carried exits with a name (Linux with the privilege; see
//! `stabmon_core::exits`). For each sample, one row per exited name (`pid` NULL: the name's totals over the
//! interval, at most 32 names, the busiest by CPU), then one row per detailed exit (`pid` set: at most 16, those
//! of processes the previous sample listed first, then the busiest; each is also counted in its name's row).
//! Exited CPU is never added to `names.cpu_pct`: a name's CPU over an interval is its `names.cpu_pct` plus
//! `100 * cpu_us / interval_us` of its totals row here. In a totals row, `cpu_us` is the CPU its processes used
//! within the interval (all of it for processes that started within it, for older ones the share of their life
//! that fell within it); in a detail row, the process's whole life's. A storm of short-lived workers costs at most
//! 48 rows a sample however fast they come.
//!
//! | column | type | encoding | meaning; NULL when |
//! |---|---|---|---|
//! | `ts` | timestamp | delta | the tick of the sample the exits belong to (they happened over its interval) |
//! | `name` | string | dict | process name (Linux `comm`) |
//! | `count` | uint32 | dict | exits of that name (1 in a detail row) |
//! | `cpu_us` | int64 | delta | user + system CPU, microseconds (see above) |
//! | `peak_rss_bytes` | uint64 | split | peak resident memory (the largest of the name's in a totals row) |
//! | `pid` | uint32 | delta | the process id of a detailed exit; NULL in a totals row |
//! | `parent_pid`, `uid` | uint32 | dict | its parent's process id and its numeric user id; NULL in a totals row |
//! | `start_time`, `end_time` | timestamp | delta | when it started and ended; NULL in a totals row |
//! | `exit_code` | int32 | dict | its exit code (0-255) where it exited; NULL where a signal killed it, and in a totals row |
//! | `exit_signal` | int32 | dict | the signal that killed it (9 = SIGKILL); NULL where it exited, and in a totals row |
//!
//! ## `oom_kills`: one row per OOM victim the kernel log named
//!
//! Written only for segments whose samples carried kills (Linux, where the recorder may read `/dev/kmsg`). A kill
//! belongs to the first sample taken after the recorder read its log line, so `ts` (that sample's tick, the join
//! key to `samples`) is at or after `kill_ts`. The figures are the kernel's own (KiB there, bytes here, exact). The
//! `samples` table's `oom_kill_count` counts every kill, named here or not.
//!
//! | column | type | encoding | meaning; NULL when |
//! |---|---|---|---|
//! | `ts` | timestamp | delta | the tick of the sample that carried the kill |
//! | `kill_ts` | timestamp | delta | when the kernel logged the kill |
//! | `pid` | uint32 | plain | the victim's process id |
//! | `name` | string | dict | the victim's name (`comm`) |
//! | `anon_rss_bytes`, `file_rss_bytes`, `shmem_rss_bytes` | uint64 | plain | its anonymous, file and shared-memory resident memory when killed; NULL where the line lacked the figure |
//! | `total_vm_bytes` | uint64 | plain | its virtual size; NULL likewise |
//! | `uid` | uint32 | plain | its user id; NULL likewise |
//! | `oom_score_adj` | int32 | plain | its `oom_score_adj`; NULL likewise |
//! | `constraint` | string | dict | `CONSTRAINT_NONE` (the machine ran out), `CONSTRAINT_MEMCG` (a cgroup's limit), ...; NULL on kernels that do not print it |
//! | `memcg` | boolean | plain | a memory cgroup's limit was reached, not the machine's memory |
//! | `cgroup` | string | dict | the victim's memory cgroup (`task_memcg`); NULL likewise |
//! | `oom_cgroup` | string | dict | the memory cgroup whose limit was reached (`oom_memcg`); NULL for a machine-wide OOM |
//! | `unit` | string | dict | the systemd unit or container of `cgroup`; NULL where none is recognisable |
//!
//! ## Queries
//!
//! DuckDB (`SET TimeZone = 'UTC'` first, so that `date_trunc` cuts UTC hours and days):
//!
//! ```sql
//! -- Average and peak machine CPU per hour.
//! SELECT host, date_trunc('hour', ts) AS hour, avg(cpu_busy_pct), max(cpu_busy_pct)
//! FROM read_parquet('DIR/samples/**/*.parquet', hive_partitioning = true) GROUP BY ALL ORDER BY ALL;
//! -- The processes listed at an instant, with their ranks.
//! SELECT pid, name, cpu_pct, rss_bytes, cpu_rank, rss_rank
//! FROM read_parquet('DIR/processes/**/*.parquet', hive_partitioning = true)
//! WHERE host = 'web-1' AND ts = TIMESTAMPTZ '2026-11-25 03:12:00+00'
//! ORDER BY cpu_rank NULLS LAST, rss_rank NULLS LAST;
//! -- Top process names by CPU seconds in a day.
//! SELECT n.name, sum(n.cpu_pct / 100 * s.interval_us / 1e6) AS cpu_seconds
//! FROM read_parquet('DIR/names/**/*.parquet', hive_partitioning = true) n
//! JOIN read_parquet('DIR/samples/**/*.parquet', hive_partitioning = true) s USING (host, ts)
//! WHERE n.date = '2026-11-25' GROUP BY n.name ORDER BY cpu_seconds DESC LIMIT 10;
//! ```
//!
//! pandas: `pyarrow.parquet.read_table('DIR/samples').to_pandas()` (the partition keys `host` and `date` come as
//! categoricals); Polars: `polars.read_parquet('DIR/samples/**/*.parquet', hive_partitioning=True)`. The
//! interoperability test (`tests/interop.rs`) asks eight such questions in all three and checks the answers
//! against [`StoreReader`].
//!
//! ## Older versions
//!
//! [`StoreReader`] reads every version; other tools read older files as they are:
//! - **Version 7** stores in `top_group_name` and `top_group_cpu_pct` the busiest group of the listed processes
//!   only: the CPU of a name's exited processes is not counted (from version 8 it is), so a storm of short-lived
//!   workers is not a group there; [`StoreReader::system_series`] reads what the files hold.
//! - **Version 6** has no `exit_count` and `exit_dropped` columns in `samples`, no `cgroup` and `unit` columns in
//!   `processes`, and no `exits` and `oom_kills` tables: exits, cgroups and the kernel-named OOM victims were not
//!   recorded.
//! - **Version 5** has no `top_*` columns: the busiest process and group of a sample are found from its
//!   `processes` and `names` rows (their `cpu_pct`); [`StoreReader::system_series`] reads those tables' `ts`,
//!   `pid`, `start_time`, `name` and `cpu_pct` columns for them (of versions 1-4 also the columns their values
//!   derive from, a row group at a time).
//! - **Versions 1-4** store percentages and load averages as `DECIMAL(9,2)` (the value rounded to 0.01; the
//!   first files of version 1 as `float32`) and sizes in KiB (`*_kib` = bytes / 1024; the first files in bytes),
//!   with the differences that make a hand-built sample exact (ULP adjustments, remainders below 1 KiB) kept
//!   apart. Ranks are not stored: sort a sample's rows by attributed CPU (`cpu_pct` + `children_cpu_pct`)
//!   descending, then resident size descending, then `pid`; the first `top_n` at or above `cpu_nth_pct` have CPU
//!   ranks 1, 2, ... (memory ranks likewise by `rss_kib` against `rss_nth_kib`; names by their sums).
//!   `pressure_present` is left out from version 3 on (pressure is there where a value is).
//! - **Version 2** on leave a value NULL where it follows from others in the same or the previous row:
//!   `cpu_busy_pct` (user + system + steal) and each `core_busy_pct` item (that core's user + system + steal),
//!   `mem_used_kib` (total - available), `interval_us` (`ts - ts' + lateness_us - lateness_us'`, `'` the previous
//!   row of the row group), and a name's `cpu_pct` and `rss_kib` (its lone process row in the sample where
//!   `process_count` is 1, else the name's previous row). **Version 4** also leaves the machine's user, system,
//!   iowait and steal NULL where they equal the mean of the cores' (hundredths, rounded half up) and busy where it
//!   equals the mean of the cores' busy.
//! - Versions 1-2 keep the exactness values in separate columns (`ulp_adj`, `kib_rem`, `<column>_ulp_adj`,
//!   `cpu_rank_explicit`, `rss_rank_explicit`, `list_pos`) and each list's length (`cpu_list_len`, ...); versions
//!   3-4 in one `exact` column per table, a list of (slot, value) pairs.
//!
//! # Durability
//!
//! [`FlightRecorder`] (what `stabmon record` uses) makes the store a flight recorder. Its contract:
//!
//! - **`kill -9` loses at most the last 1 s** (at most the sample in flight): every sample is appended to a
//!   journal, `DIR/_journal/host=<HOST>/<SEQ>.journal`, with one `write(2)` straight to the kernel as soon as
//!   it is taken. No user-space buffer holds samples back.
//! - **A power cut loses at most the last `--sync` period** ([`RecorderOptions::sync`], default 1 s): the journal
//!   is `fdatasync`ed that often (at the default and a 1 s interval, after every sample), and before its records
//!   move on to the next 4 KiB page. The records go into blocks
//!   written and synced ahead of them, so a flush changes no file size: at 1 s it costs the device about 5.2 KB
//!   on ext4 (the records' page, and ext4's own commit of the file's times every 5 s), measured at the block
//!   layer in BENCHMARKS.md; raise `--sync` on flash that must be spared, at the price of a longer loss on a
//!   power cut. Those blocks are a compacted journal's file, used again (`DIR/_journal/spare` between two
//!   journals, at most 64 MiB), so that in steady state no zeros are written ahead; each append ends with an
//!   end marker that readers take for the end of the journal, and each frame's CRC is salted with the journal's
//!   sequence number, so an older journal's bytes after the marker are never read as records. An append that
//!   would cross a 4 KiB page boundary goes to the next page instead (where it fits in one), so that a sync
//!   writes one page, not two, and a page once left is never written again.
//! - **A sample is never half-visible**: journal records are framed with their length and a CRC32; a reader
//!   takes every complete record and stops at a torn one.
//! - **An upgrade reads what a crashed older release left**: the journal has a format version of its own and
//!   its records a layout of their own, never the in-memory [`Sample`](stabmon_core::Sample); every format
//!   ever written is decoded (a committed journal per format is recovered by the tests). Format 2 compresses
//!   each sample against the previous one (a key record on its own every 60), ~10x fewer bytes than format 1.
//!   Format 4 (and formats 5 and 6, in frames made for recycled files, 6 written today) names each listed process (name, command line, user, cgroup) once per key
//!   interval and refers to it by index after, writes memory and times as changes, and carries the sample's
//!   exits in its record; a delta is compressed against the names named since the key and the record before.
//!   One record that does not decode costs at most the records up to the next key. A sample's OOM kills travel
//!   in an annex record of their own just before it, which costs only its own data if it does not decode.
//!   A record that does not decode never causes a deletion: what decoded goes to Parquet, the journal is kept as
//!   `<SEQ>.journal.undecodable` and the count is reported once ([`Notice::SetAside`], [`Recovery::warnings`]).
//! - **Parquet files are never half-written**: each rotation period (`--rotate`, default one hour) and at a
//!   clean stop the journal is compacted into Parquet segments, each written under a hidden temporary name,
//!   fsynced, renamed into place, and its directory fsynced; then `manifest.json` is replaced the same way and
//!   the journal's file becomes the spare (or is removed). A crash anywhere in between is repaired at the next
//!   start without duplicates.
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

mod bucket;
mod codec;
mod error;
mod fsio;
#[cfg(feature = "fuzzing")]
#[doc(hidden)]
pub mod fuzzing;
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
mod ship;
mod writer;

pub use error::{Error, FormatError};
pub use journal::journal_records_len;
pub use lock::{DirLock, LOCK_FILE};
pub use manifest::{
    CleanStop, MANIFEST_FILE, MANIFEST_FORMAT, MANIFEST_VERSION, Manifest, ManifestJournal,
    ManifestSegment,
};
pub use reader::{
    CACHE_BYTES, Coverage, HostWindows, RangeUsage, SampleStream, SeriesRead, StoreReader,
};
pub use recorder::{FlightRecorder, JOURNAL_DIR, Notice, RecorderOptions, Recovery, StopSummary};
pub use remote::http_tls_config;
pub use retention::{DEFAULT_RETAIN, Retention, RetentionReport, parse_size};
/// The TLS crate of [`http_tls_config`], re-exported so that an application uses the same version.
pub use rustls;
pub use schema::{KEY_HOST, KEY_SCHEMA_VERSION, KEY_TABLE, SCHEMA_VERSION};
pub use select::{DefaultRange, RangeRequest};
pub use ship::{ShipSummary, ShippedFiles, Shipper, ship_dir};
pub use writer::{StoreWriter, WriteSummary, WriterOptions};
