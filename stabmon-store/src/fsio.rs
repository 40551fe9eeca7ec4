//! The few file operations the flight recorder's journal and manifest need, behind a trait, so that tests can
//! run them on [`FaultFs`]: an in-memory file system that counts fsyncs, can fill up, and on a simulated power cut
//! keeps only what was synced (file contents by `sync`, directory entries by syncing their directory).

use std::fmt::Debug;
use std::io;
use std::path::{Path, PathBuf};

/// An open file that is only appended to (the journal). The file on disk may be longer than what was appended:
/// zeros written ahead, or a recycled file's older bytes, after an end marker that readers take for the end.
pub(crate) trait AppendFile: Send + Debug {
    /// Writes all of `data` after what was appended, in one write; the end then moves past all of it but its last
    /// `marker` bytes (an end marker, which the next append writes over). On an error part of it may have been
    /// written: see [`truncate`](Self::truncate).
    fn append(&mut self, data: &[u8], marker: usize) -> io::Result<()>;
    /// Makes the content durable (`fdatasync`).
    fn sync(&mut self) -> io::Result<()>;
    /// Cuts what was appended to `len` bytes (to remove a partly written frame) and appends after it: zeroed
    /// inside the blocks already written, cut off past them (and the file emptied for 0).
    fn truncate(&mut self, len: u64) -> io::Result<()>;
    /// Appends from the start of the file again, keeping it whole (a recycled journal's file, every block of which
    /// is written): zeros are laid ahead only past its length.
    fn rewind(&mut self);
    /// Appends next at `at`, past the end, leaving the bytes between as they are (the unused end of a page, see
    /// `journal.rs`).
    fn skip_to(&mut self, at: u64);
}

/// The file operations of the journal and the manifest.
pub(crate) trait Fs: Send + Sync + Debug {
    /// `mkdir -p`.
    fn create_dir_all(&self, path: &Path) -> io::Result<()>;
    /// Opens `path` for appending, creating it when missing.
    fn open_append(&self, path: &Path) -> io::Result<Box<dyn AppendFile>>;
    /// Reads a whole file.
    fn read(&self, path: &Path) -> io::Result<Vec<u8>>;
    /// Reads a whole file of at most `max` bytes; `None` when it is longer (nothing of it is held then).
    fn read_at_most(&self, path: &Path, max: u64) -> io::Result<Option<Vec<u8>>> {
        let bytes = self.read(path)?;
        Ok((bytes.len() as u64 <= max).then_some(bytes))
    }
    /// Opens a file for reading it as a stream (buffered).
    fn open_read(&self, path: &Path) -> io::Result<Box<dyn io::Read + Send>>;
    /// Creates or truncates `path`, writes `data` and fsyncs the file.
    fn write_synced(&self, path: &Path, data: &[u8]) -> io::Result<()>;
    /// Renames a file, replacing `to`.
    fn rename(&self, from: &Path, to: &Path) -> io::Result<()>;
    /// Removes a file.
    fn remove_file(&self, path: &Path) -> io::Result<()>;
    /// The length of the regular file at `path`; `None` when there is none.
    fn file_len(&self, path: &Path) -> io::Result<Option<u64>>;
    /// Fsyncs a directory, making its entries (created, renamed, removed files) durable.
    fn sync_dir(&self, path: &Path) -> io::Result<()>;
    /// The files (not directories) directly in `dir`; an empty list when `dir` does not exist.
    fn list_files(&self, dir: &Path) -> io::Result<Vec<PathBuf>>;
    /// The directories directly in `dir`; an empty list when `dir` does not exist.
    fn list_dirs(&self, dir: &Path) -> io::Result<Vec<PathBuf>>;
}

/// Replaces `path` atomically: writes a hidden temporary file beside it, fsyncs it, renames it over `path` and
/// fsyncs the directory. A reader sees the old content or the new, never a mix; after a power cut, one of them.
pub(crate) fn replace_atomically(fs: &dyn Fs, path: &Path, data: &[u8]) -> io::Result<()> {
    let dir = path.parent().unwrap_or(Path::new("."));
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let tmp = dir.join(format!(".{name}.tmp"));
    fs.write_synced(&tmp, data)?;
    fs.rename(&tmp, path)?;
    fs.sync_dir(dir)
}

/// The real file system.
#[derive(Debug, Default, Clone, Copy)]
pub(crate) struct RealFs;

/// How far ahead of its records the journal's blocks are written with zeros and synced. A record synced into blocks
/// already written, in a file whose size is already durable, changes no extent and no size, so its `fdatasync`
/// writes the record's page and no file-system metadata (on ext4: no journal commit of its own). Blocks merely
/// reserved with `fallocate` would not do: the first write to an unwritten extent converts it, and that
/// conversion is itself a metadata commit at the next `fdatasync`. A step lasts 5-25 minutes at 1 s (800-180 B a
/// sample) in a new file; its zeros cost the device the journal's own bytes once more, 4-20 % of what the syncs
/// write at those sizes. A recycled journal file (see `journal.rs`) is written already, so zeros go only past its
/// length (BENCHMARKS.md, "Flash wear").
pub(crate) const PREALLOCATE_BYTES: u64 = 256 << 10;

/// A journal file on disk: records are written at its logical end, into blocks written and synced ahead of them
/// (zeros, [`PREALLOCATE_BYTES`] at a time, or a recycled file's older bytes). Readers take the end marker (or,
/// before format 5, a zero tail) for the end of the journal.
#[derive(Debug)]
struct RealFile {
    file: std::fs::File,
    /// Where the next record goes: the bytes written so far.
    end: u64,
    /// The file's size: every block up to here is written (zeros or older bytes after `end`).
    allocated: u64,
}

impl RealFile {
    /// Makes sure the blocks up to `need` are written and synced, extending the file with zeros by whole steps.
    /// On a failure (a full disk) the file is cut back to what it held, so nothing of a record is ever written
    /// past the zeros.
    fn preallocate(&mut self, need: u64) -> io::Result<()> {
        use std::io::{Seek, SeekFrom, Write};
        if need <= self.allocated {
            return Ok(());
        }
        let to = need.div_ceil(PREALLOCATE_BYTES) * PREALLOCATE_BYTES;
        let zeros = vec![0u8; usize::try_from(to - self.allocated).unwrap_or(0)];
        let written = self
            .file
            .seek(SeekFrom::Start(self.allocated))
            .and_then(|_| self.file.write_all(&zeros))
            // The new size and extents are made durable now, once, not by the next record's sync.
            .and_then(|()| self.file.sync_data());
        if let Err(e) = written {
            let _ = self.file.set_len(self.allocated);
            return Err(e);
        }
        self.allocated = to;
        Ok(())
    }
}

impl AppendFile for RealFile {
    fn append(&mut self, data: &[u8], marker: usize) -> io::Result<()> {
        use std::io::{Seek, SeekFrom, Write};
        self.preallocate(self.end + data.len() as u64)?;
        // Straight to the kernel: no user-space buffer holds a frame back, so kill -9 cannot lose it.
        self.file.seek(SeekFrom::Start(self.end))?;
        let written = self.file.write_all(data);
        // Even a failed write may have written part of the frame: `truncate` cuts it.
        self.end += data.len() as u64;
        if written.is_ok() {
            self.end -= marker.min(data.len()) as u64;
        }
        written
    }

    fn rewind(&mut self) {
        self.end = 0;
    }

    fn skip_to(&mut self, at: u64) {
        self.end = self.end.max(at);
    }

    fn sync(&mut self) -> io::Result<()> {
        self.file.sync_data()
    }

    fn truncate(&mut self, len: u64) -> io::Result<()> {
        // Zero what a torn frame left between `len` and the end, inside the blocks already written; beyond them
        // (a file cut to 0 when it is created) the size itself goes.
        use std::io::{Seek, SeekFrom, Write};
        if len >= self.allocated || len == 0 {
            self.file.set_len(len)?;
            self.allocated = len;
        } else if self.end > len {
            let stop = self.end.min(self.allocated);
            let zeros = vec![0u8; usize::try_from(stop.saturating_sub(len)).unwrap_or(0)];
            self.file.seek(SeekFrom::Start(len))?;
            self.file.write_all(&zeros)?;
        }
        self.end = len;
        Ok(())
    }
}

impl Fs for RealFs {
    fn create_dir_all(&self, path: &Path) -> io::Result<()> {
        std::fs::create_dir_all(path)
    }

    fn open_append(&self, path: &Path) -> io::Result<Box<dyn AppendFile>> {
        let file = std::fs::OpenOptions::new()
            .create(true)
            .write(true)
            .truncate(false)
            .open(path)?;
        let len = file.metadata()?.len();
        Ok(Box::new(RealFile {
            file,
            end: len,
            allocated: len,
        }))
    }

    fn read(&self, path: &Path) -> io::Result<Vec<u8>> {
        std::fs::read(path)
    }

    fn read_at_most(&self, path: &Path, max: u64) -> io::Result<Option<Vec<u8>>> {
        use std::io::Read;
        let file = std::fs::File::open(path)?;
        if file.metadata()?.len() > max {
            return Ok(None);
        }
        // The length is checked again as the bytes come: the file may have grown since.
        let mut bytes = Vec::new();
        file.take(max + 1).read_to_end(&mut bytes)?;
        Ok((bytes.len() as u64 <= max).then_some(bytes))
    }

    fn open_read(&self, path: &Path) -> io::Result<Box<dyn io::Read + Send>> {
        Ok(Box::new(io::BufReader::with_capacity(
            64 << 10,
            std::fs::File::open(path)?,
        )))
    }

    fn write_synced(&self, path: &Path, data: &[u8]) -> io::Result<()> {
        use std::io::Write;
        let mut f = std::fs::File::create(path)?;
        f.write_all(data)?;
        f.sync_all()
    }

    fn rename(&self, from: &Path, to: &Path) -> io::Result<()> {
        std::fs::rename(from, to)
    }

    fn remove_file(&self, path: &Path) -> io::Result<()> {
        std::fs::remove_file(path)
    }

    fn file_len(&self, path: &Path) -> io::Result<Option<u64>> {
        match std::fs::symlink_metadata(path) {
            Ok(m) if m.is_file() => Ok(Some(m.len())),
            Ok(_) => Ok(None),
            Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(e),
        }
    }

    fn sync_dir(&self, path: &Path) -> io::Result<()> {
        sync_dir(path)
    }

    fn list_files(&self, dir: &Path) -> io::Result<Vec<PathBuf>> {
        let entries = match std::fs::read_dir(dir) {
            Ok(e) => e,
            Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(Vec::new()),
            Err(e) => return Err(e),
        };
        let mut out = Vec::new();
        for e in entries {
            let e = e?;
            if e.file_type()?.is_file() {
                out.push(e.path());
            }
        }
        out.sort();
        Ok(out)
    }

    fn list_dirs(&self, dir: &Path) -> io::Result<Vec<PathBuf>> {
        let entries = match std::fs::read_dir(dir) {
            Ok(e) => e,
            Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(Vec::new()),
            Err(e) => return Err(e),
        };
        let mut out = Vec::new();
        for e in entries {
            let e = e?;
            if e.file_type()?.is_dir() {
                out.push(e.path());
            }
        }
        out.sort();
        Ok(out)
    }
}

/// Fsyncs a directory so that renames and new files in it survive a power cut. A no-op where directories cannot
/// be opened (Windows, where NTFS journals metadata itself).
pub(crate) fn sync_dir(path: &Path) -> io::Result<()> {
    #[cfg(unix)]
    {
        std::fs::File::open(path)?.sync_all()
    }
    #[cfg(not(unix))]
    {
        let _ = path;
        Ok(())
    }
}

/// Starts writing a file's dirty pages to the device without waiting (Linux: `sync_file_range` with
/// `SYNC_FILE_RANGE_WRITE`; elsewhere nothing). Called on several new files before each is fsynced, so that the
/// file system allocates all their blocks before the first fsync's commit, and that one commit covers them all
/// (on ext4, a new file's blocks are allocated at writeback, and each allocation left for its own fsync costs a
/// journal commit of its own). Durability is the fsync's: this is only an order of work, and an error is ignored.
pub(crate) fn start_writeback(file: &std::fs::File) {
    #[cfg(target_os = "linux")]
    {
        use std::os::fd::AsRawFd;
        // SAFETY: `sync_file_range` reads no memory of ours; the descriptor is open for the borrow's length.
        let _ =
            unsafe { libc::sync_file_range(file.as_raw_fd(), 0, 0, libc::SYNC_FILE_RANGE_WRITE) };
    }
    #[cfg(not(target_os = "linux"))]
    {
        let _ = file;
    }
}

#[cfg(test)]
pub(crate) use fault::FaultFs;

#[cfg(test)]
mod fault {
    use std::collections::{BTreeMap, BTreeSet};
    use std::sync::{Arc, Mutex, MutexGuard};

    use super::*;

    #[derive(Debug, Default, Clone)]
    struct Inode {
        data: Vec<u8>,
        durable: Vec<u8>,
    }

    #[derive(Debug, Default)]
    struct State {
        next_inode: u64,
        inodes: BTreeMap<u64, Inode>,
        /// Names as the running system sees them.
        names: BTreeMap<PathBuf, u64>,
        /// Names as they would be found after a power cut (as of each directory's last sync).
        durable_names: BTreeMap<PathBuf, u64>,
        dirs: BTreeSet<PathBuf>,
        fsyncs: u64,
        /// Files written whole by `write_synced` (the manifest's temporary file), by path.
        synced_writes: BTreeMap<PathBuf, u64>,
        /// Total bytes of file data the "disk" holds; writes past it fail with `StorageFull` after a partial write.
        capacity: Option<u64>,
        /// Journal files have zeros ahead of their records, written this many bytes at a time (a file system
        /// may leave a file longer than its data after a crash, or a writer preallocate); 0 for none.
        preallocate: u64,
        /// File syncs still to fail (with an I/O error, making nothing durable).
        failing_syncs: u64,
    }

    impl State {
        fn used(&self) -> u64 {
            let live: BTreeSet<u64> = self.names.values().copied().collect();
            live.iter()
                .filter_map(|i| self.inodes.get(i))
                .map(|n| n.data.len() as u64)
                .sum()
        }

        fn inode(&mut self, path: &Path) -> io::Result<&mut Inode> {
            let id = *self.names.get(path).ok_or_else(|| not_found(path))?;
            self.inodes.get_mut(&id).ok_or_else(|| not_found(path))
        }

        fn check_dir(&self, path: &Path) -> io::Result<()> {
            match path.parent() {
                Some(d) if !d.as_os_str().is_empty() && !self.dirs.contains(d) => {
                    Err(io::Error::new(
                        io::ErrorKind::NotFound,
                        format!("no directory {}", d.display()),
                    ))
                }
                _ => Ok(()),
            }
        }

        /// An open file's inode (it keeps its data whatever its name becomes, as a file descriptor does).
        fn open_inode(&mut self, id: u64, path: &Path) -> io::Result<&mut Inode> {
            self.inodes.get_mut(&id).ok_or_else(|| not_found(path))
        }

        /// Appends what fits; `StorageFull` when not all of it did.
        fn write(&mut self, path: &Path, data: &[u8]) -> io::Result<()> {
            let id = *self.names.get(path).ok_or_else(|| not_found(path))?;
            self.write_inode(id, path, data)
        }

        /// Appends what fits to inode `id`; `StorageFull` when not all of it did.
        fn write_inode(&mut self, id: u64, path: &Path, data: &[u8]) -> io::Result<()> {
            let room = self
                .capacity
                .map_or(u64::MAX, |c| c.saturating_sub(self.used()));
            let n = usize::try_from(room.min(data.len() as u64)).unwrap_or(usize::MAX);
            self.open_inode(id, path)?
                .data
                .extend_from_slice(&data[..n]);
            if n < data.len() {
                return Err(io::Error::new(
                    io::ErrorKind::StorageFull,
                    "no space left on device",
                ));
            }
            Ok(())
        }

        fn create(&mut self, path: &Path) -> u64 {
            self.next_inode += 1;
            let id = self.next_inode;
            self.inodes.insert(id, Inode::default());
            self.names.insert(path.to_path_buf(), id);
            id
        }
    }

    fn not_found(path: &Path) -> io::Error {
        io::Error::new(
            io::ErrorKind::NotFound,
            format!("{} not found", path.display()),
        )
    }

    /// An in-memory file system for tests: counts fsyncs, fills up at a capacity, and [`power_cut`](Self::power_cut)
    /// throws away everything not made durable.
    #[derive(Debug, Clone, Default)]
    pub(crate) struct FaultFs {
        state: Arc<Mutex<State>>,
    }

    impl FaultFs {
        pub(crate) fn new() -> Self {
            Self::default()
        }

        fn lock(&self) -> MutexGuard<'_, State> {
            match self.state.lock() {
                Ok(g) => g,
                Err(p) => p.into_inner(),
            }
        }

        /// How many fsyncs (of files and directories) were made.
        pub(crate) fn fsyncs(&self) -> u64 {
            self.lock().fsyncs
        }

        /// How many times `path` was written whole by `write_synced`.
        pub(crate) fn synced_writes(&self, path: &Path) -> u64 {
            self.lock().synced_writes.get(path).copied().unwrap_or(0)
        }

        /// Makes journal files write zeros ahead of their records, `step` bytes at a time; 0 turns it off (the
        /// default).
        pub(crate) fn set_preallocate(&self, step: u64) {
            self.lock().preallocate = step;
        }

        /// Sets (or lifts, with `None`) the disk's capacity in bytes of file data.
        pub(crate) fn set_capacity(&self, bytes: Option<u64>) {
            self.lock().capacity = bytes;
        }

        /// Makes the next `n` file syncs fail (a failing disk): nothing they would have made durable is.
        pub(crate) fn fail_syncs(&self, n: u64) {
            self.lock().failing_syncs = n;
        }

        /// Simulates a power cut: file contents fall back to what was last synced, directory entries to what was
        /// there when their directory was last synced (a file never made durable in its directory is gone).
        pub(crate) fn power_cut(&self) {
            let mut s = self.lock();
            s.names = s.durable_names.clone();
            let live: BTreeSet<u64> = s.names.values().copied().collect();
            s.inodes.retain(|id, _| live.contains(id));
            for inode in s.inodes.values_mut() {
                inode.data = inode.durable.clone();
            }
        }

        /// A file's content as last synced (what a power cut would leave of it).
        pub(crate) fn durable_contents(&self, path: &Path) -> Option<Vec<u8>> {
            let s = self.lock();
            let id = s.names.get(path)?;
            s.inodes.get(id).map(|n| n.durable.clone())
        }

        /// A file's current content (what a running system would read).
        pub(crate) fn contents(&self, path: &Path) -> Option<Vec<u8>> {
            let s = self.lock();
            let id = s.names.get(path)?;
            s.inodes.get(id).map(|n| n.data.clone())
        }
    }

    #[derive(Debug)]
    struct FaultFile {
        fs: FaultFs,
        /// The inode, as a file descriptor holds it across renames.
        id: u64,
        path: PathBuf,
        /// Where the next append goes (the file's size unless zeros are written ahead, an end marker follows, or
        /// the file is recycled).
        end: u64,
        /// Bytes of the file written whole (by zeros ahead or complete appends), as on a real disk.
        allocated: u64,
    }

    impl AppendFile for FaultFile {
        fn append(&mut self, data: &[u8], marker: usize) -> io::Result<()> {
            let mut s = self.fs.lock();
            let step = s.preallocate;
            let have = s.open_inode(self.id, &self.path)?.data.len() as u64;
            let need = self.end + data.len() as u64;
            if step > 0 && need > have {
                // Zeros ahead by whole steps, as on a real disk; a full disk fails before any of the record is
                // written.
                let to = need.div_ceil(step) * step;
                let zeros = vec![0u8; usize::try_from(to - have).unwrap_or(0)];
                if let Err(e) = s.write_inode(self.id, &self.path, &zeros) {
                    s.open_inode(self.id, &self.path)?
                        .data
                        .truncate(usize::try_from(have).unwrap_or(0));
                    return Err(e);
                }
                self.allocated = self.allocated.max(to);
            }
            // Over what the file holds from `end` (zeros, a marker, a recycled file's bytes), then past its end.
            let at = usize::try_from(self.end).unwrap_or(usize::MAX);
            let file = &mut s.open_inode(self.id, &self.path)?.data;
            if file.len() < at {
                // Shorter than where the file was left (a power cut while it was open): zeros up to it.
                file.resize(at, 0);
            }
            let over = (file.len() - at).min(data.len());
            file[at..at + over].copy_from_slice(&data[..over]);
            self.end = need;
            s.write_inode(self.id, &self.path, &data[over..])?;
            self.allocated = self.allocated.max(need);
            self.end = need - marker.min(data.len()) as u64;
            Ok(())
        }

        fn sync(&mut self) -> io::Result<()> {
            let mut s = self.fs.lock();
            if s.failing_syncs > 0 {
                s.failing_syncs -= 1;
                return Err(io::Error::other("injected fsync failure"));
            }
            s.fsyncs += 1;
            let n = s.open_inode(self.id, &self.path)?;
            n.durable = n.data.clone();
            Ok(())
        }

        fn truncate(&mut self, len: u64) -> io::Result<()> {
            // As on a real disk: zeroed inside the blocks written whole, cut past them.
            let mut s = self.fs.lock();
            let n = s.open_inode(self.id, &self.path)?;
            let len_at = usize::try_from(len).unwrap_or(usize::MAX);
            let allocated = usize::try_from(self.allocated).unwrap_or(usize::MAX);
            if len == 0 || len_at >= allocated {
                n.data.truncate(len_at);
                self.allocated = len;
            } else {
                n.data.truncate(allocated);
                let stop = usize::try_from(self.end)
                    .unwrap_or(usize::MAX)
                    .min(n.data.len());
                if stop > len_at {
                    n.data[len_at..stop].fill(0);
                }
            }
            self.end = len;
            Ok(())
        }

        fn rewind(&mut self) {
            self.end = 0;
        }

        fn skip_to(&mut self, at: u64) {
            self.end = self.end.max(at);
        }
    }

    impl Fs for FaultFs {
        fn create_dir_all(&self, path: &Path) -> io::Result<()> {
            // Directories are taken as durable at once: the tests are about files and their entries.
            let mut s = self.lock();
            for a in path.ancestors() {
                if !a.as_os_str().is_empty() {
                    s.dirs.insert(a.to_path_buf());
                }
            }
            Ok(())
        }

        fn open_append(&self, path: &Path) -> io::Result<Box<dyn AppendFile>> {
            let mut s = self.lock();
            s.check_dir(path)?;
            if !s.names.contains_key(path) {
                s.create(path);
            }
            let id = *s.names.get(path).ok_or_else(|| not_found(path))?;
            let end = s.inode(path)?.data.len() as u64;
            Ok(Box::new(FaultFile {
                fs: self.clone(),
                id,
                path: path.to_path_buf(),
                end,
                allocated: end,
            }))
        }

        fn read(&self, path: &Path) -> io::Result<Vec<u8>> {
            self.contents(path).ok_or_else(|| not_found(path))
        }

        fn open_read(&self, path: &Path) -> io::Result<Box<dyn io::Read + Send>> {
            Ok(Box::new(io::Cursor::new(self.read(path)?)))
        }

        fn write_synced(&self, path: &Path, data: &[u8]) -> io::Result<()> {
            let mut s = self.lock();
            s.check_dir(path)?;
            // A new inode, like O_TRUNC on a file replaced by rename.
            s.create(path);
            s.write(path, data)?;
            s.fsyncs += 1;
            *s.synced_writes.entry(path.to_path_buf()).or_default() += 1;
            let n = s.inode(path)?;
            n.durable = n.data.clone();
            Ok(())
        }

        fn rename(&self, from: &Path, to: &Path) -> io::Result<()> {
            let mut s = self.lock();
            s.check_dir(to)?;
            let id = s.names.remove(from).ok_or_else(|| not_found(from))?;
            s.names.insert(to.to_path_buf(), id);
            Ok(())
        }

        fn remove_file(&self, path: &Path) -> io::Result<()> {
            let mut s = self.lock();
            s.names
                .remove(path)
                .map(|_| ())
                .ok_or_else(|| not_found(path))
        }

        fn file_len(&self, path: &Path) -> io::Result<Option<u64>> {
            Ok(self.contents(path).map(|d| d.len() as u64))
        }

        fn sync_dir(&self, path: &Path) -> io::Result<()> {
            let mut s = self.lock();
            s.fsyncs += 1;
            let in_dir = |p: &Path| p.parent() == Some(path);
            s.durable_names.retain(|p, _| !in_dir(p));
            let now: Vec<(PathBuf, u64)> = s
                .names
                .iter()
                .filter(|(p, _)| in_dir(p))
                .map(|(p, id)| (p.clone(), *id))
                .collect();
            s.durable_names.extend(now);
            Ok(())
        }

        fn list_files(&self, dir: &Path) -> io::Result<Vec<PathBuf>> {
            let s = self.lock();
            Ok(s.names
                .keys()
                .filter(|p| p.parent() == Some(dir))
                .cloned()
                .collect())
        }

        fn list_dirs(&self, dir: &Path) -> io::Result<Vec<PathBuf>> {
            let s = self.lock();
            Ok(s.dirs
                .iter()
                .filter(|p| p.parent() == Some(dir))
                .cloned()
                .collect())
        }
    }

    #[cfg(test)]
    #[allow(clippy::unwrap_used)]
    mod tests {
        use super::*;

        #[test]
        fn power_cut_keeps_only_synced_data_and_entries() {
            let fs = FaultFs::new();
            let d = Path::new("/d");
            fs.create_dir_all(d).unwrap();
            let mut f = fs.open_append(&d.join("a")).unwrap();
            f.append(b"one", 0).unwrap();
            f.sync().unwrap();
            f.append(b"two", 0).unwrap();
            // The file's entry was never synced: a power cut loses the whole file.
            let fs2 = fs.clone();
            fs2.power_cut();
            assert!(fs2.contents(&d.join("a")).is_none());

            let mut f = fs.open_append(&d.join("b")).unwrap();
            fs.sync_dir(d).unwrap();
            f.append(b"one", 0).unwrap();
            f.sync().unwrap();
            f.append(b"two", 0).unwrap();
            assert_eq!(fs.contents(&d.join("b")).unwrap(), b"onetwo");
            fs.power_cut();
            assert_eq!(fs.contents(&d.join("b")).unwrap(), b"one");
            assert_eq!(fs.fsyncs(), 3);
        }

        #[test]
        fn replace_is_atomic_across_a_power_cut() {
            let fs = FaultFs::new();
            let d = Path::new("/d");
            fs.create_dir_all(d).unwrap();
            let p = d.join("m.json");
            replace_atomically(&fs, &p, b"old").unwrap();
            // Renamed but the directory not synced yet: the old version comes back.
            fs.write_synced(&d.join(".m.json.tmp"), b"new").unwrap();
            fs.rename(&d.join(".m.json.tmp"), &p).unwrap();
            fs.power_cut();
            assert_eq!(fs.read(&p).unwrap(), b"old");
            replace_atomically(&fs, &p, b"new").unwrap();
            fs.power_cut();
            assert_eq!(fs.read(&p).unwrap(), b"new");
        }

        #[test]
        fn a_full_disk_writes_part_and_fails() {
            let fs = FaultFs::new();
            fs.create_dir_all(Path::new("/d")).unwrap();
            fs.set_capacity(Some(5));
            let mut f = fs.open_append(Path::new("/d/a")).unwrap();
            let e = f.append(b"12345678", 0).unwrap_err();
            assert_eq!(e.kind(), io::ErrorKind::StorageFull);
            assert_eq!(fs.contents(Path::new("/d/a")).unwrap(), b"12345");
            f.truncate(2).unwrap();
            f.append(b"abc", 0).unwrap();
            assert_eq!(fs.contents(Path::new("/d/a")).unwrap(), b"12abc");
        }
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    /// The journal file on disk: records go into zeroed blocks written ahead by whole steps; a cut frame is zeroed
    /// inside them, and the next record goes where it began.
    #[test]
    fn records_go_into_zeros_written_ahead() {
        let tmp = tempfile::tempdir().unwrap();
        let path = tmp.path().join("j");
        let mut f = RealFs.open_append(&path).unwrap();
        f.append(b"header", 0).unwrap();
        f.append(b"frame-1", 0).unwrap();
        f.sync().unwrap();
        let bytes = std::fs::read(&path).unwrap();
        assert_eq!(bytes.len() as u64, PREALLOCATE_BYTES);
        assert_eq!(&bytes[..13], b"headerframe-1");
        assert!(bytes[13..].iter().all(|&b| b == 0));
        // A frame cut by a failed write is zeroed, and the next one takes its place.
        f.append(b"torn-frame", 0).unwrap();
        f.truncate(13).unwrap();
        f.append(b"frame-2", 0).unwrap();
        let bytes = std::fs::read(&path).unwrap();
        assert_eq!(&bytes[..20], b"headerframe-1frame-2");
        assert!(bytes[20..].iter().all(|&b| b == 0));
        // A record past the step extends the zeros by whole steps.
        let big = vec![7u8; PREALLOCATE_BYTES as usize];
        f.append(&big, 0).unwrap();
        let bytes = std::fs::read(&path).unwrap();
        assert_eq!(bytes.len() as u64, 2 * PREALLOCATE_BYTES);
        assert_eq!(&bytes[20..20 + big.len()], &big[..]);
        assert!(bytes[20 + big.len()..].iter().all(|&b| b == 0));
        // Cut to nothing (a journal created again): the file is empty.
        f.truncate(0).unwrap();
        assert_eq!(std::fs::metadata(&path).unwrap().len(), 0);
    }

    /// A marker written after a record is written over by the next one; a recycled file is written from its start
    /// again, its length kept and its older bytes left after the marker, and zeros are laid only past its length.
    #[test]
    fn markers_are_written_over_and_a_rewound_file_keeps_its_blocks() {
        let tmp = tempfile::tempdir().unwrap();
        let path = tmp.path().join("j");
        let mut f = RealFs.open_append(&path).unwrap();
        f.append(b"headerMARK", 4).unwrap();
        f.append(b"one|MARK", 4).unwrap();
        f.append(b"two|MARK", 4).unwrap();
        f.sync().unwrap();
        let bytes = std::fs::read(&path).unwrap();
        assert_eq!(&bytes[..18], b"headerone|two|MARK");
        // A failed write's frame is zeroed with what followed it: the marker's place holds zeros.
        f.append(b"torn", 0).unwrap();
        f.truncate(14).unwrap();
        let bytes = std::fs::read(&path).unwrap();
        assert_eq!(&bytes[..18], b"headerone|two|\0\0\0\0");
        drop(f);
        // Used again: the whole file stays, the new bytes go over its start, and nothing is laid ahead until the
        // records pass its length.
        let big = vec![7u8; PREALLOCATE_BYTES as usize - 40];
        let mut f = RealFs.open_append(&path).unwrap();
        f.rewind();
        f.append(b"HEADERMARK", 4).unwrap();
        let bytes = std::fs::read(&path).unwrap();
        assert_eq!(bytes.len() as u64, PREALLOCATE_BYTES);
        assert_eq!(&bytes[..14], b"HEADERMARKtwo|");
        f.append(&big, 0).unwrap();
        assert_eq!(
            std::fs::metadata(&path).unwrap().len(),
            PREALLOCATE_BYTES,
            "no zeros laid inside the file's length"
        );
        f.append(&[8u8; 100], 0).unwrap();
        let bytes = std::fs::read(&path).unwrap();
        assert_eq!(bytes.len() as u64, 2 * PREALLOCATE_BYTES);
        assert!(bytes[6 + big.len() + 100..].iter().all(|&b| b == 0));
    }
}
