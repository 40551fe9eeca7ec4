//! The error type of stabmon-report.

use stabmon_core::Timestamp;

/// What can go wrong while making a report.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// No sample lies in the range asked for.
    #[error("no samples {}{}", range_text(*from, *to), covered_text(*covered))]
    NoSamples {
        /// Start of the range asked for, if any.
        from: Option<Timestamp>,
        /// End of the range asked for, if any.
        to: Option<Timestamp>,
        /// First and last timestamps of the samples given, if there were any.
        covered: Option<(Timestamp, Timestamp)>,
    },
    /// The range ends before it starts.
    #[error("invalid range: {from} is not before {to}")]
    InvalidRange {
        /// Start of the range.
        from: Timestamp,
        /// End of the range.
        to: Timestamp,
    },
    /// The samples come from more than one host; a report covers one.
    #[error("the samples come from {} hosts ({}); a report covers one host", hosts.len(), hosts.join(", "))]
    MixedHosts {
        /// The host names found, sorted.
        hosts: Vec<String>,
    },
    /// The samples the page shows at some instants or in some window (hover moments, culprit lines, the minute
    /// before a gap) could not be read from the [`WindowSource`](stabmon_core::series::WindowSource).
    #[error("could not read {what}: {source}")]
    Read {
        /// What was being read, e.g. `the minute before the gap at 2026-11-25T06:00:00Z`.
        what: String,
        /// The source's error.
        #[source]
        source: stabmon_core::Error,
    },
    /// The page's data could not be serialized.
    #[error("could not serialize the report's data: {source}")]
    Json {
        /// The cause.
        #[source]
        source: serde_json::Error,
    },
    /// A chart could not be drawn as a PNG image.
    #[error("could not draw the {chart} chart as PNG: {reason}")]
    Png {
        /// The chart's short name (`cpu`, `mem`, `load`, `lat`).
        chart: &'static str,
        /// What failed.
        reason: String,
    },
    /// Writing the page failed.
    #[error("could not write the report: {source}")]
    Write {
        /// The cause.
        #[source]
        source: std::io::Error,
    },
}

fn range_text(from: Option<Timestamp>, to: Option<Timestamp>) -> String {
    match (from, to) {
        (Some(f), Some(t)) => format!("from {f} to {t}"),
        (Some(f), None) => format!("from {f} on"),
        (None, Some(t)) => format!("before {t}"),
        (None, None) => "at all".to_owned(),
    }
}

fn covered_text(covered: Option<(Timestamp, Timestamp)>) -> String {
    match covered {
        Some((a, b)) => format!(" (the data covers {a} to {b})"),
        None => " (there is no data)".to_owned(),
    }
}
