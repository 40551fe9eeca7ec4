//! The error type of stabmon-core.

/// What can go wrong in stabmon-core: only bad input, since everything here is pure.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// A duration that could not be parsed.
    #[error("invalid duration {input:?}: {reason}")]
    InvalidDuration {
        /// The text given.
        input: String,
        /// Why it was refused.
        reason: String,
    },
    /// A timestamp that is not RFC 3339 (`2026-11-25T03:12:00Z`, `2026-11-25T04:12:00.25+01:00`).
    #[error("invalid timestamp {input:?}: {reason}")]
    InvalidTimestamp {
        /// The text given.
        input: String,
        /// Why it was refused.
        reason: String,
    },
    /// A moment that [`parse_time`](crate::time::parse_time) cannot read.
    #[error("cannot read the time {input:?}: {reason}")]
    InvalidTime {
        /// The text given.
        input: String,
        /// The forms that are read.
        reason: String,
    },
    /// Reading the samples of a window for analysis failed (the source's own error, e.g. a damaged file).
    #[error("cannot read the samples from {from} to {to}: {source}")]
    Window {
        /// The window's start.
        from: crate::Timestamp,
        /// The window's end.
        to: crate::Timestamp,
        /// What went wrong.
        source: Box<dyn std::error::Error + Send + Sync>,
    },
}
