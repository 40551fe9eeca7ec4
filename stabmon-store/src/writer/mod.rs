//! [`StoreWriter`]: buffers one row group of samples compactly and writes it to the tables of a segment.
//!
//! - [`options`]: [`WriterOptions`] and the [`WriteSummary`] of what was written;
//! - [`buffer`]: the row group in progress, which each sample adds to: the samples' columns and compact
//!   process and name rows ([`rows`]) whose strings are interned per column ([`interner`]);
//! - [`columns`]: those rows as Arrow arrays, one table's column or batch at a time;
//! - [`segment`]: the open segment's files, a row group written to each table in turn;
//! - [`encode`]: a row group encoded column by column, small chunks in whichever variant is smallest.

use std::fs::File;
use std::path::{Path, PathBuf};

use stabmon_core::{Sample, Timestamp};

use crate::error::{Error, io, pq};
use crate::layout::{EXITS, LATENCY, OOM_KILLS, TABLES, partition_dir, segment_stem, utc_date};

mod buffer;
mod columns;
mod encode;
mod interner;
mod options;
mod rows;
mod segment;

use self::buffer::Buffer;
use self::segment::{Segment, flush_row_group, open_file};
pub use options::{WriteSummary, WriterOptions};

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
        // The latency, exits and OOM-kill tables' directories are created with their files, but a name taken
        // there is taken too.
        dirs.push(partition_dir(&self.root, LATENCY, host, date));
        dirs.push(partition_dir(&self.root, EXITS, host, date));
        dirs.push(partition_dir(&self.root, OOM_KILLS, host, date));
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
            exits: None,
            oom_kills: None,
            zstd_level: self.opts.zstd_level,
            buf: Buffer::default(),
            first_string_bytes: 0,
        })
    }

    fn close_segment(&mut self, mut seg: Segment) -> Result<(), Error> {
        // On a flush error, still close the files so that what was flushed before is readable.
        let mut first_err = flush_row_group(&mut seg, &self.root).err();
        // All footers first, then the files' writeback started together and each fsynced, then all renamed: on
        // ext4 one journal commit then covers the blocks of all the files (a file fsynced before the next was
        // written took a commit of its own), and the renames share the directories' fsync that follows.
        let mut closed = Vec::new();
        for f in seg
            .files
            .into_iter()
            .chain(seg.latency)
            .chain(seg.exits)
            .chain(seg.oom_kills)
        {
            match f.writer.into_inner().map_err(pq(&f.tmp)) {
                Ok(file) => closed.push((file, f.tmp, f.path)),
                Err(e) => {
                    first_err.get_or_insert(e);
                }
            }
        }
        for (file, _, _) in &closed {
            crate::fsio::start_writeback(file);
        }
        let mut synced = Vec::new();
        for (file, tmp, path) in closed {
            match file.sync_all().map_err(io(&tmp)) {
                Ok(()) => synced.push((tmp, path)),
                Err(e) => {
                    first_err.get_or_insert(e);
                }
            }
        }
        for (tmp, path) in synced {
            let res = std::fs::rename(&tmp, &path)
                .map_err(io(&path))
                .and_then(|()| std::fs::metadata(&path).map_err(io(&path)));
            match res {
                Ok(meta) => {
                    self.summary.bytes += meta.len();
                    self.summary.files.push(path);
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

impl Drop for StoreWriter {
    fn drop(&mut self) {
        // Best effort: finish() is the way to learn about errors.
        let _ = self.close_all();
    }
}
