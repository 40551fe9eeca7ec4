//! The error type of stabmon-probe.

use std::path::PathBuf;

/// What can go wrong while configuring a collector or reading the system's state.
///
/// A process that vanishes while it is being read is not an error: it is simply left out of the sample.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// A builder setting that cannot work (a zero interval, a top N of zero, ...).
    #[error("invalid {setting}: {reason}")]
    InvalidConfig {
        /// The setting refused, e.g. `interval`.
        setting: &'static str,
        /// Why it was refused and what is allowed.
        reason: String,
    },
    /// The sampler asked for does not exist on this platform (the `/proc` sampler outside Linux).
    #[error("the {sampler:?} sampler is not available on this platform: {reason}")]
    Unsupported {
        /// The sampler's name.
        sampler: &'static str,
        /// Why it is not available.
        reason: &'static str,
    },
    /// A system file or directory could not be opened or read.
    #[error("cannot read {path}: {source}")]
    Read {
        /// The file or directory.
        path: PathBuf,
        /// The operating system's error.
        source: std::io::Error,
    },
    /// A system file had content that could not be understood.
    #[error("cannot parse {path}: {reason}")]
    Parse {
        /// The file.
        path: PathBuf,
        /// What was wrong with it.
        reason: String,
    },
    /// A latency target that cannot be parsed (`NAME=URL`).
    #[error("invalid target {target:?}: {reason}")]
    InvalidTarget {
        /// The target as given.
        target: String,
        /// What is wrong with it and what is allowed.
        reason: String,
    },
    /// A thread could not be started.
    #[error("cannot start {what}: {source}")]
    Spawn {
        /// What the thread was for.
        what: String,
        /// The operating system's error.
        source: std::io::Error,
    },
    /// A system call failed (on Windows, an IP Helper API call such as `GetIpForwardTable`).
    #[error("{call} failed: {source}")]
    System {
        /// The function called.
        call: &'static str,
        /// The operating system's error.
        source: std::io::Error,
    },
    /// The sysinfo crate failed to set itself up or to read something.
    #[error("sysinfo cannot read {what}: {source}")]
    Sysinfo {
        /// What was being read.
        what: &'static str,
        /// sysinfo's error.
        source: sysinfo::Error,
    },
}

/// Constructors for the errors of reading system files, which only the Linux code does (`/proc`).
#[cfg(target_os = "linux")]
impl Error {
    pub(crate) fn read(path: impl Into<PathBuf>, source: std::io::Error) -> Self {
        Error::Read {
            path: path.into(),
            source,
        }
    }

    pub(crate) fn parse(path: impl Into<PathBuf>, reason: impl Into<String>) -> Self {
        Error::Parse {
            path: path.into(),
            reason: reason.into(),
        }
    }
}
