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
        /// The Parquet library's error.
        source: FormatError,
    },
    /// Arrow could not build or decode the data of a file.
    #[error("cannot convert the data of {path}: {source}")]
    Arrow {
        /// The file.
        path: PathBuf,
        /// The Arrow library's error.
        source: FormatError,
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
    /// A remote store (an `http(s)://` URL, or object storage: `s3://`, `gs://`, `az://`) could not be read or
    /// written.
    #[error("cannot read {url}: {reason}")]
    Remote {
        /// The URL.
        url: String,
        /// What went wrong (unreachable, HTTP status, not stabmon data).
        reason: String,
    },
    /// TLS could not be set up for an HTTP client (no usable certificate verifier on this platform).
    #[error("cannot set up TLS: {reason}")]
    Tls {
        /// Why.
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

/// An error of the Parquet or Arrow library, held opaquely: its message is this error's `Display`, and its causes
/// are [`source`](std::error::Error::source)'s chain.
///
/// The libraries' own error types are not part of this crate's API, so that upgrading them does not change it;
/// match on [`Error`]'s variants ([`Error::Parquet`], [`Error::Arrow`]) to tell the two apart.
pub struct FormatError(Box<dyn std::error::Error + Send + Sync + 'static>);

impl FormatError {
    fn new(e: impl std::error::Error + Send + Sync + 'static) -> Self {
        FormatError(Box::new(e))
    }
}

impl std::fmt::Debug for FormatError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        std::fmt::Debug::fmt(&self.0, f)
    }
}

impl std::fmt::Display for FormatError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        std::fmt::Display::fmt(&self.0, f)
    }
}

impl std::error::Error for FormatError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        self.0.source()
    }
}

impl From<parquet::errors::ParquetError> for FormatError {
    fn from(e: parquet::errors::ParquetError) -> Self {
        FormatError::new(e)
    }
}

impl From<arrow_schema::ArrowError> for FormatError {
    fn from(e: arrow_schema::ArrowError) -> Self {
        FormatError::new(e)
    }
}

pub(crate) fn io(path: impl Into<PathBuf>) -> impl FnOnce(std::io::Error) -> Error {
    let path = path.into();
    move |source| Error::Io { path, source }
}

pub(crate) fn pq(path: impl Into<PathBuf>) -> impl FnOnce(parquet::errors::ParquetError) -> Error {
    let path = path.into();
    move |source| Error::Parquet {
        path,
        source: source.into(),
    }
}

pub(crate) fn arrow(path: impl Into<PathBuf>) -> impl FnOnce(arrow_schema::ArrowError) -> Error {
    let path = path.into();
    move |source| Error::Arrow {
        path,
        source: source.into(),
    }
}

/// Runs `read`, which reads the Parquet file at `path`, with a panic turned into an error naming the file: the
/// parquet crate still panics on some corrupt files, and one damaged segment must not end a read of the others
/// (nor the process reading them).
pub(crate) fn contain<T>(
    path: &std::path::Path,
    read: impl FnOnce() -> Result<T, Error>,
) -> Result<T, Error> {
    std::panic::catch_unwind(std::panic::AssertUnwindSafe(read)).unwrap_or_else(|panic| {
        let what = panic
            .downcast_ref::<&str>()
            .map(|s| (*s).to_owned())
            .or_else(|| panic.downcast_ref::<String>().cloned())
            .unwrap_or_else(|| "no message".to_owned());
        Err(invalid(
            path,
            format!("the Parquet reader failed on it (it panicked: {what})"),
        ))
    })
}

pub(crate) fn invalid(path: impl Into<PathBuf>, reason: impl Into<String>) -> Error {
    Error::Invalid {
        path: path.into(),
        reason: reason.into(),
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use std::error::Error as _;

    use super::*;

    #[test]
    fn library_errors_keep_their_message_and_causes() {
        let cause = std::io::Error::other("the disk went away");
        let e = pq("seg.parquet")(parquet::errors::ParquetError::External(Box::new(cause)));
        assert!(matches!(e, Error::Parquet { .. }), "{e:?}");
        let msg = e.to_string();
        assert!(
            msg.contains("seg.parquet") && msg.contains("the disk went away"),
            "{msg}"
        );
        // The chain: our error, then the library's (opaque), then what caused it.
        let library = e.source().unwrap();
        assert!(library.is::<FormatError>(), "{library:?}");
        assert!(library.to_string().contains("the disk went away"));
        let root = library.source().unwrap();
        assert_eq!(root.to_string(), "the disk went away");

        let e = arrow("seg.parquet")(arrow_schema::ArrowError::SchemaError("no ts".into()));
        assert!(matches!(e, Error::Arrow { .. }), "{e:?}");
        assert!(e.to_string().contains("no ts"), "{e}");
        assert!(e.source().is_some_and(|s| s.is::<FormatError>()));
    }

    #[test]
    fn a_panic_while_reading_a_file_is_an_error_naming_it() {
        let path = std::path::Path::new("samples/host=a/date=2026-11-25/x.parquet");
        let e = contain::<()>(path, || panic!("index out of bounds: the len is 3")).unwrap_err();
        let msg = e.to_string();
        assert!(matches!(e, Error::Invalid { .. }), "{e:?}");
        assert!(
            msg.contains("x.parquet") && msg.contains("the len is 3"),
            "{msg}"
        );
        let e = contain::<()>(path, || std::panic::panic_any(format!("owned {}", 7))).unwrap_err();
        assert!(e.to_string().contains("owned 7"), "{e}");
        assert_eq!(contain(path, || Ok(5)).unwrap(), 5);
    }
}
