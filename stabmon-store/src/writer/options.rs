//! The writer's options and what it reports having written.

use std::path::PathBuf;

/// Options of a [`StoreWriter`](super::StoreWriter). Build with [`WriterOptions::new`] (or `Default`) and the setters.
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

/// What a [`StoreWriter`](super::StoreWriter) wrote, returned by [`StoreWriter::finish`](super::StoreWriter::finish).
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
