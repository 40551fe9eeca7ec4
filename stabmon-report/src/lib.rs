//! # stabmon-report
//!
//! HTML and SVG reports for stabmon recordings. This crate is a placeholder in the workspace until the report issue
//! lands: it takes [`stabmon_core::Sample`]s, never store types, so that it can render samples from any source.
//!
//! ```
//! assert_eq!(stabmon_report::REPORT_FORMAT_VERSION, 0);
//! ```
#![deny(missing_docs)]

/// Version of the report's HTML layout; 0 while no report is rendered yet.
pub const REPORT_FORMAT_VERSION: u32 = 0;
