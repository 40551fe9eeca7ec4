//! Example programs that embed the stabmon libraries live in `examples/examples/`.
#![deny(missing_docs)]
