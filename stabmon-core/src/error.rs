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
}
