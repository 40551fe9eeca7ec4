//! [`DirLock`]: one recorder per data directory, by an OS file lock that the kernel releases when the holder dies.

use std::fs::{File, TryLockError};
use std::io::{Read, Seek, Write};
use std::path::{Path, PathBuf};

use crate::error::{Error, io};

/// The lock file's name in the data directory.
pub const LOCK_FILE: &str = ".stabmon.lock";

/// An exclusive lock on a data directory, held while the value lives.
///
/// It is an OS file lock (`flock` on Unix, `LockFileEx` on Windows, through [`File::try_lock`]) on
/// `DIR/.stabmon.lock`: the kernel releases it when the holder exits in any way, `kill -9` included, so a dead
/// recorder never blocks the next one (a pid file would). The holder writes its pid into the file for the error
/// message of a second recorder; the content is informative only.
#[derive(Debug)]
pub struct DirLock {
    _file: File,
    path: PathBuf,
}

impl DirLock {
    /// Takes the lock of `dir` (which must exist), or fails at once with [`Error::Locked`] when another process
    /// holds it.
    pub fn acquire(dir: &Path) -> Result<DirLock, Error> {
        let path = dir.join(LOCK_FILE);
        let mut file = File::options()
            .read(true)
            .write(true)
            .create(true)
            .truncate(false)
            .open(&path)
            .map_err(io(&path))?;
        match file.try_lock() {
            Ok(()) => {}
            Err(TryLockError::WouldBlock) => {
                let mut holder = String::new();
                let _ = file.read_to_string(&mut holder);
                let holder = holder.trim();
                return Err(Error::Locked {
                    dir: dir.to_path_buf(),
                    path,
                    holder: if holder.is_empty() {
                        String::new()
                    } else {
                        format!(", {holder}")
                    },
                });
            }
            Err(TryLockError::Error(e)) => return Err(Error::Io { path, source: e }),
        }
        // Informative only: who holds it.
        let _ = file
            .set_len(0)
            .and_then(|()| file.rewind())
            .and_then(|()| write!(file, "pid {}", std::process::id()));
        Ok(DirLock { _file: file, path })
    }

    /// The lock file.
    pub fn path(&self) -> &Path {
        &self.path
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn second_holder_is_refused_until_the_first_lets_go() {
        let dir = tempfile::tempdir().unwrap();
        let first = DirLock::acquire(dir.path()).unwrap();
        // flock locks belong to the open file description: a second open in the same process conflicts too.
        let err = DirLock::acquire(dir.path()).unwrap_err();
        let msg = err.to_string();
        assert!(matches!(err, Error::Locked { .. }), "{msg}");
        assert!(msg.contains(&dir.path().display().to_string()), "{msg}");
        assert!(
            msg.contains(&format!("pid {}", std::process::id())),
            "{msg}"
        );
        drop(first);
        let again = DirLock::acquire(dir.path()).unwrap();
        assert_eq!(again.path(), dir.path().join(LOCK_FILE));
    }

    #[test]
    fn a_missing_directory_is_an_error_naming_it() {
        let dir = tempfile::tempdir().unwrap();
        let missing = dir.path().join("nope");
        let msg = DirLock::acquire(&missing).unwrap_err().to_string();
        assert!(msg.contains("nope"), "{msg}");
    }
}
