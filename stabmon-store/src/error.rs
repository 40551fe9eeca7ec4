//! The error type of stabmon-store.

use std::path::PathBuf;

/// What can go wrong while writing or reading a store. Every variant names the file or directory involved.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// A directory could not be created (or is not writable).
    #[error("cannot create the data directory {path}: {source}")]
    CreateDir {
        /// The directory.
        path: PathBuf,
        /// The underlying error.
        source: std::io::Error,
    },
    /// A file or directory could not be opened, read, written, listed or renamed.
    #[error("I/O error on {path}: {source}")]
    Io {
        /// The file or directory.
        path: PathBuf,
        /// The underlying error.
        source: std::io::Error,
    },
    /// The Parquet library failed on a file: for a reader usually a truncated, empty or garbage file.
    #[error("{path} is not a readable Parquet file (truncated, empty or corrupt?): {source}")]
    Parquet {
        /// The file.
        path: PathBuf,
        /// The underlying error.
        source: parquet::errors::ParquetError,
    },
    /// Arrow could not build or decode the data of a file.
    #[error("cannot convert the data of {path}: {source}")]
    Arrow {
        /// The file.
        path: PathBuf,
        /// The underlying error.
        source: arrow_schema::ArrowError,
    },
    /// A file is valid Parquet but not stabmon data, or its content breaks the schema's rules.
    #[error("{path} is not valid stabmon data: {reason}")]
    Invalid {
        /// The file.
        path: PathBuf,
        /// What is wrong.
        reason: String,
    },
    /// A file was written by a newer stabmon with a schema this reader does not know.
    #[error(
        "{path} has stabmon schema version {found}, but this stabmon reads versions up to {supported}: upgrade stabmon to read it"
    )]
    NewerSchema {
        /// The file.
        path: PathBuf,
        /// The version recorded in the file.
        found: u32,
        /// The newest version this reader understands.
        supported: u32,
    },
    /// A segment's companion file (the same segment in another table) is missing.
    #[error("{path} is missing: it holds the {table} of the segment {segment}")]
    MissingCompanion {
        /// The missing file.
        path: PathBuf,
        /// Its table.
        table: &'static str,
        /// The segment file that was found.
        segment: PathBuf,
    },
    /// A sample holds a value the format cannot represent (for example a duration over 292 years).
    #[error("cannot store the sample of {ts} in {path}: {reason}")]
    Unrepresentable {
        /// The data directory.
        path: PathBuf,
        /// The sample's timestamp.
        ts: stabmon_core::Timestamp,
        /// What cannot be stored.
        reason: String,
    },
    /// Another recorder holds the data directory's lock.
    #[error(
        "another stabmon recorder is writing to {dir} (it holds the lock {path}{holder}): stop it first, or record to another --data directory"
    )]
    Locked {
        /// The data directory.
        dir: PathBuf,
        /// The lock file.
        path: PathBuf,
        /// Who holds it, as the holder wrote it into the lock file (e.g. `, pid 4242`); may be empty.
        holder: String,
    },
    /// A remote store (an `http(s)://` URL) could not be read.
    #[error("cannot read {url}: {reason}")]
    Remote {
        /// The URL.
        url: String,
        /// What went wrong (unreachable, HTTP status, not stabmon data).
        reason: String,
    },
    /// The writer failed before and is no longer usable.
    #[error("the store writer for {path} failed earlier and cannot write more")]
    Poisoned {
        /// The data directory.
        path: PathBuf,
    },
    /// The host asked for has no data here.
    #[error("no data for host {host:?} at {location} (hosts there: {})", hosts.join(", "))]
    UnknownHost {
        /// The host asked for.
        host: String,
        /// The data directory or URL.
        location: String,
        /// The hosts that have data.
        hosts: Vec<String>,
    },
    /// One host is needed and the data holds several.
    #[error("the data at {location} holds several hosts ({}); choose one with --host", hosts.join(", "))]
    SeveralHosts {
        /// The data directory or URL.
        location: String,
        /// The hosts that have data.
        hosts: Vec<String>,
    },
}

pub(crate) fn io(path: impl Into<PathBuf>) -> impl FnOnce(std::io::Error) -> Error {
    let path = path.into();
    move |source| Error::Io { path, source }
}

pub(crate) fn pq(path: impl Into<PathBuf>) -> impl FnOnce(parquet::errors::ParquetError) -> Error {
    let path = path.into();
    move |source| Error::Parquet { path, source }
}

pub(crate) fn arrow(path: impl Into<PathBuf>) -> impl FnOnce(arrow_schema::ArrowError) -> Error {
    let path = path.into();
    move |source| Error::Arrow { path, source }
}

pub(crate) fn invalid(path: impl Into<PathBuf>, reason: impl Into<String>) -> Error {
    Error::Invalid {
        path: path.into(),
        reason: reason.into(),
    }
}
