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
}
