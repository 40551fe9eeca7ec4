//! Shared helpers for the stabmon benchmark programs in `benches/benches/`.
#![deny(missing_docs)]
