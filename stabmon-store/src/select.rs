//! Choosing data the same way everywhere (the `stabmon` commands, `stabmon serve`, embedders): which host, and
//! which range, with open ends filled in from what the data covers ([`StoreReader::coverage`]), not from reading
//! samples.
//!
//! ```
//! use std::time::Duration;
//! use stabmon_core::{Sample, Timestamp};
//! use stabmon_store::{DefaultRange, StoreReader, StoreWriter};
//!
//! # fn main() -> Result<(), stabmon_store::Error> {
//! let dir = tempfile::tempdir().map_err(|source| stabmon_store::Error::Io { path: "tmp".into(), source })?;
//! let t0 = Timestamp::from_unix_secs(1_795_576_320);
//! let mut w = StoreWriter::create(dir.path())?;
//! for i in 0..60 {
//!     w.write(&Sample::new(t0.saturating_add(Duration::from_secs(i)), "nas"))?;
//! }
//! w.finish()?;
//!
//! let reader = StoreReader::open(dir.path())?;
//! let host = reader.choose_host(None)?;
//! // No range asked: the last day of data, which is the minute recorded.
//! let (from, to) = reader.resolve_range(Some(&host), None, None, DefaultRange::Last(Duration::from_secs(86_400)), t0)?;
//! assert_eq!((from, to), (t0, t0.saturating_add(Duration::from_secs(59)).saturating_add(Duration::from_micros(1))));
//! # Ok(())
//! # }
//! ```

use std::path::Path;
use std::time::Duration;

use stabmon_core::Timestamp;
use stabmon_core::analysis::DetectOptions;

use crate::error::Error;
use crate::reader::{Coverage, StoreReader};

/// A range as a user asks for it (flags, a URL's query), before the data fills in the open ends
/// ([`StoreReader::resolve_range`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum RangeRequest {
    /// `from <= ts < to`, either end open.
    Between {
        /// The start, or open.
        from: Option<Timestamp>,
        /// The end, or open.
        to: Option<Timestamp>,
    },
    /// The last span, counted back from now; the end open.
    Since(Duration),
    /// A window centred on a moment ("around 03:12").
    Around {
        /// The moment.
        at: Timestamp,
        /// The window's width; [`RangeRequest::DEFAULT_WINDOW`] unless asked.
        window: Duration,
    },
}

impl RangeRequest {
    /// The width of the window around a moment when none is asked for: ten minutes.
    pub const DEFAULT_WINDOW: Duration = Duration::from_secs(600);

    /// The bounds asked for, as of `now`: `(from, to)`, either open. A `from` at or after `to` is the caller's to
    /// refuse (with its own names for the bounds).
    ///
    /// ```
    /// use std::time::Duration;
    /// use stabmon_core::Timestamp;
    /// use stabmon_store::RangeRequest;
    ///
    /// let t = Timestamp::from_unix_secs(1_795_576_320);
    /// let around = RangeRequest::Around { at: t, window: Duration::from_secs(300) };
    /// assert_eq!(around.bounds(t), (Some(t.saturating_sub(Duration::from_secs(150))), Some(t.saturating_add(Duration::from_secs(150)))));
    /// assert_eq!(RangeRequest::Since(Duration::from_secs(60)).bounds(t), (Some(t.saturating_sub(Duration::from_secs(60))), None));
    /// ```
    pub fn bounds(self, now: Timestamp) -> (Option<Timestamp>, Option<Timestamp>) {
        match self {
            RangeRequest::Between { from, to } => (from, to),
            RangeRequest::Since(d) => (Some(now.saturating_sub(d)), None),
            RangeRequest::Around { at, window } => {
                let half = window / 2;
                (Some(at.saturating_sub(half)), Some(at.saturating_add(half)))
            }
        }
    }
}

/// What a range with no bound given means.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum DefaultRange {
    /// This much ending at the newest sample, starting no earlier than the oldest (`stabmon report`: a day;
    /// `serve`: an hour). A recording shorter than that fills the range.
    Last(Duration),
    /// Everything the data holds (`stabmon dump`).
    All,
}

impl StoreReader {
    /// Opens a data directory, a Parquet file or the http(s) URL of a served data directory, sending `token` as a
    /// bearer token to a URL.
    pub fn open_with_token(
        location: impl AsRef<Path>,
        token: Option<&str>,
    ) -> Result<StoreReader, Error> {
        match location.as_ref().to_str() {
            Some(url) if crate::remote::is_url(url) => StoreReader::open_url_with_token(url, token),
            _ => StoreReader::open(location),
        }
    }

    /// The host to read: with `every_host_ok` and none asked, `None` (every host); `None` too when the data holds
    /// no host yet; else [`choose_host`](Self::choose_host)'s.
    pub fn host_to_read(
        &self,
        asked: Option<&str>,
        every_host_ok: bool,
    ) -> Result<Option<String>, Error> {
        if asked.is_none() && every_host_ok {
            return Ok(None);
        }
        match self.choose_host(asked) {
            Ok(h) => Ok(Some(h)),
            Err(Error::UnknownHost { hosts, .. }) if hosts.is_empty() => Ok(None),
            Err(e) => Err(e),
        }
    }

    /// How to detect incidents in `host`'s data: the defaults, with the data's clean-stop markers, so that a gap
    /// after a stopped recorder is told from one after a recorder that died.
    pub fn detect_options(&self, host: &str) -> DetectOptions {
        DetectOptions::default().clean_stops(self.clean_stops(Some(host)))
    }

    /// The one host to read: `asked` if the data has it, else the only host there.
    ///
    /// Fails with [`Error::UnknownHost`] (naming the hosts there) or [`Error::SeveralHosts`]. Hosts come from the
    /// segments and the journals, so a recorder's first seconds count.
    pub fn choose_host(&self, asked: Option<&str>) -> Result<String, Error> {
        let hosts = self.hosts();
        let location = self.location();
        match (asked, hosts.as_slice()) {
            (Some(h), _) if hosts.iter().any(|x| x == h) => Ok(h.to_owned()),
            (Some(h), _) => Err(Error::UnknownHost {
                host: h.to_owned(),
                location,
                hosts,
            }),
            (None, [one]) => Ok(one.clone()),
            (None, []) => Err(Error::UnknownHost {
                host: String::new(),
                location,
                hosts,
            }),
            (None, _) => Err(Error::SeveralHosts { location, hosts }),
        }
    }

    /// The range `from <= ts < to` to read for `host` (or every host): the bounds given, and open ends filled in
    /// from the data's coverage: `to` just after the newest sample (or `now` without data, or where the data ends
    /// before `from`: never before `from`), `from` by `default` (never before the oldest sample where a default
    /// span is cut).
    pub fn resolve_range(
        &self,
        host: Option<&str>,
        from: Option<Timestamp>,
        to: Option<Timestamp>,
        default: DefaultRange,
        now: Timestamp,
    ) -> Result<(Timestamp, Timestamp), Error> {
        let covs: Vec<Coverage> = self
            .coverage()?
            .into_iter()
            .filter(|c| host.is_none_or(|h| h == c.host))
            .collect();
        let after = |t: Timestamp| t.saturating_add(Duration::from_micros(1));
        let oldest = covs.iter().map(|c| c.first).min();
        let newest = covs.iter().map(|c| c.last).max();
        let end = match (to, newest) {
            (Some(t), _) => t,
            // Data that ends before the asked start: up to now, a range that holds nothing, never one that ends
            // before it starts.
            (None, Some(last)) if from.is_some_and(|f| f > last) => now.max(from.unwrap_or(now)),
            (None, Some(last)) => after(last),
            (None, None) => now.max(from.unwrap_or(now)),
        };
        let start = match (from, default) {
            (Some(f), _) => f,
            (None, DefaultRange::All) => oldest.unwrap_or(end).min(end),
            (None, DefaultRange::Last(span)) => {
                let s = end.saturating_sub(span);
                // Cut to the data only when the end is the data's own: an asked end keeps its full span.
                match (to, oldest) {
                    (None, Some(o)) => s.max(o),
                    _ => s,
                }
            }
        };
        Ok((start, end))
    }

    /// What the data covers, for messages: "the data for H covers A to B" or "there is no data for H".
    pub fn describe_coverage(&self, host: Option<&str>) -> Result<String, Error> {
        let who = host.unwrap_or("any host");
        let covs: Vec<Coverage> = self
            .coverage()?
            .into_iter()
            .filter(|c| host.is_none_or(|h| h == c.host))
            .collect();
        let first = covs.iter().map(|c| c.first).min();
        let last = covs.iter().map(|c| c.last).max();
        Ok(match (first, last) {
            (Some(a), Some(b)) => format!("the data for {who} covers {a} to {b}"),
            _ => format!("there is no data for {who}"),
        })
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use crate::StoreWriter;
    use stabmon_core::Sample;

    #[test]
    fn open_ends_come_from_the_data_and_never_end_before_the_start() {
        let dir = tempfile::tempdir().unwrap();
        let t0 = Timestamp::from_unix_secs(1_795_576_320);
        let at = |s: u64| t0.saturating_add(Duration::from_secs(s));
        let mut w = StoreWriter::create(dir.path()).unwrap();
        for i in 0..60 {
            w.write(&Sample::new(at(i), "nas")).unwrap();
        }
        w.finish().unwrap();
        let reader = StoreReader::open(dir.path()).unwrap();
        let last = at(59).saturating_add(Duration::from_micros(1));
        let day = DefaultRange::Last(Duration::from_secs(86_400));
        let now = at(7200);
        let resolve = |from, to| {
            reader
                .resolve_range(Some("nas"), from, to, day, now)
                .unwrap()
        };
        // Nothing asked: the data. A start inside it: up to its newest sample. An end asked: kept.
        assert_eq!(resolve(None, None), (at(0), last));
        assert_eq!(resolve(Some(at(30)), None), (at(30), last));
        assert_eq!(
            resolve(None, Some(at(3600))),
            (
                at(3600).saturating_sub(Duration::from_secs(86_400)),
                at(3600)
            )
        );
        // The data stopped before the start asked (`--since 1m` an hour after the recorder stopped): up to now.
        assert_eq!(resolve(Some(at(7140)), None), (at(7140), now));
        // A start after now too: an empty range at it.
        assert_eq!(resolve(Some(at(9000)), None), (at(9000), at(9000)));
    }
}
