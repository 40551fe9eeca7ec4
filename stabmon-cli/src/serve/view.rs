//! What `/` shows, from its query: `?since=D`, `?from=T&to=T`, `?at=T&window=D`, `&host=H`, `&refresh=30` (seconds;
//! 0 turns the reload off). Times in the forms of `stabmon report --from`. The query is a [`RangeRequest`], whose
//! open ends the data fills in as for the commands ([`StoreReader::resolve_range`]): without a range the last hour
//! of data, an open end at the newest sample.
//!
//! [`StoreReader::resolve_range`]: stabmon_store::StoreReader::resolve_range

use std::time::Duration;

use percent_encoding::{NON_ALPHANUMERIC, percent_decode_str, utf8_percent_encode};
use stabmon_core::Timestamp;
use stabmon_core::time::{LocalZone, parse_time};
use stabmon_core::units::format_duration;
use stabmon_store::RangeRequest;

/// The window shown when the query names none (the last hour of data), or only its end.
pub const DEFAULT_SINCE: Duration = Duration::from_secs(3600);

/// A parsed query of `/`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct View {
    pub since: Option<Duration>,
    pub from: Option<String>,
    pub to: Option<String>,
    pub at: Option<String>,
    pub window: Option<Duration>,
    pub host: Option<String>,
    pub refresh_secs: u64,
    /// The longest range served (renders hold every sample of the range in memory).
    pub max_range: Duration,
}

fn decode(v: &str) -> String {
    percent_decode_str(&v.replace('+', " "))
        .decode_utf8_lossy()
        .into_owned()
}

fn duration(name: &str, v: &str) -> Result<Duration, String> {
    match stabmon_core::units::parse_duration(v) {
        Ok(d) if !d.is_zero() => Ok(d),
        _ => Err(format!(
            "{name}={v:?} is not a duration; use one with a unit, such as 30m, 1h or 2d"
        )),
    }
}

impl View {
    /// Parses the query string (without `?`). `token` is skipped (it is checked apart); unknown keys are errors.
    pub fn parse(
        query: &str,
        default_refresh_secs: u64,
        max_range: Duration,
    ) -> Result<View, String> {
        let mut v = View {
            refresh_secs: default_refresh_secs,
            max_range,
            ..View::default()
        };
        for pair in query.split('&').filter(|p| !p.is_empty()) {
            let (k, val) = pair.split_once('=').unwrap_or((pair, ""));
            let val = decode(val);
            let val = val.trim();
            match decode(k).as_str() {
                "since" => v.since = Some(duration("since", val)?),
                "from" => v.from = Some(val.to_owned()),
                "to" => v.to = Some(val.to_owned()),
                "at" => v.at = Some(val.to_owned()),
                "window" => v.window = Some(duration("window", val)?),
                "host" => v.host = Some(val.to_owned()),
                "refresh" => {
                    v.refresh_secs = val.parse().map_err(|_| {
                        format!("refresh={val:?} is not a whole number of seconds (0 turns it off)")
                    })?;
                }
                "token" => {}
                other => {
                    return Err(format!(
                        "unknown query parameter {other:?}; use since, from, to, at, window, host or refresh"
                    ));
                }
            }
        }
        if v.at.is_some() && (v.from.is_some() || v.to.is_some() || v.since.is_some()) {
            return Err("at (with window) cannot be combined with from, to or since".to_owned());
        }
        if v.since.is_some() && v.from.is_some() {
            return Err("since and from cannot be combined".to_owned());
        }
        // Checked now, so that a bad time, or a range known to be empty or too long, is a 400 before any render is
        // queued.
        let now = Timestamp::now();
        let (from, to) = v.request(now, &LocalZone::system())?.bounds(now);
        if let (Some(from), Some(to)) = (from, to) {
            v.check(from, to)?;
        }
        if let Some(since) = v.since.filter(|d| *d > v.max_range) {
            let from = now.saturating_sub(since);
            return Err(v.too_long(from, now));
        }
        Ok(v)
    }

    /// The range the query asks for as of `now`, local times in `zone`; the data fills in its open ends
    /// ([`StoreReader::resolve_range`](stabmon_store::StoreReader::resolve_range)).
    pub fn request(&self, now: Timestamp, zone: &LocalZone) -> Result<RangeRequest, String> {
        let time = |name: &str, s: &Option<String>| {
            s.as_deref()
                .map(|s| parse_time(s, now, zone).map_err(|e| format!("{name}: {e}")))
                .transpose()
        };
        if let Some(at) = time("at", &self.at)? {
            let window = self.window.unwrap_or(RangeRequest::DEFAULT_WINDOW);
            return Ok(RangeRequest::Around { at, window });
        }
        let to = time("to", &self.to)?;
        Ok(match (self.since, to) {
            // The span before the end asked.
            (Some(d), Some(to)) => RangeRequest::Between {
                from: Some(to.saturating_sub(d)),
                to: Some(to),
            },
            (Some(d), None) => RangeRequest::Since(d),
            (None, to) => RangeRequest::Between {
                from: time("from", &self.from)?,
                to,
            },
        })
    }

    /// Refuses a range `[from, to)` that is empty or longer than `--max-range`.
    pub fn check(&self, from: Timestamp, to: Timestamp) -> Result<(), String> {
        if from >= to {
            return Err(format!(
                "the range {from} to {to} is empty: from must be before to"
            ));
        }
        let span = to.duration_since(from).unwrap_or_default();
        if span > self.max_range {
            return Err(self.too_long(from, to));
        }
        Ok(())
    }

    fn too_long(&self, from: Timestamp, to: Timestamp) -> String {
        format!(
            "the range {from} to {to} is longer than the {} this server renders (--max-range); use 'stabmon \
             report' for long ranges",
            format_duration(self.max_range)
        )
    }

    /// The cache key: the query, normalized (a relative range stays relative: a cached `since=1h` is reused
    /// for the cache's time to live).
    pub fn key(&self) -> String {
        format!(
            "{:?}|{:?}|{:?}|{:?}|{:?}|{:?}|{}",
            self.since, self.from, self.to, self.at, self.window, self.host, self.refresh_secs
        )
    }

    /// The same view of another host.
    pub fn with_host(&self, host: &str) -> View {
        View {
            host: Some(host.to_owned()),
            ..self.clone()
        }
    }

    /// The query string of this view (percent-encoded), for links.
    pub fn query_string(&self) -> String {
        let enc = |s: &str| utf8_percent_encode(s, NON_ALPHANUMERIC).to_string();
        let mut parts = Vec::new();
        let dur = format_duration;
        if let Some(d) = self.since {
            parts.push(format!("since={}", enc(&dur(d))));
        }
        for (k, v) in [("from", &self.from), ("to", &self.to), ("at", &self.at)] {
            if let Some(v) = v {
                parts.push(format!("{k}={}", enc(v)));
            }
        }
        if let Some(d) = self.window {
            parts.push(format!("window={}", enc(&dur(d))));
        }
        if let Some(h) = &self.host {
            parts.push(format!("host={}", enc(h)));
        }
        parts.join("&")
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    const DAY: Duration = Duration::from_secs(86_400);

    /// The bounds asked, in seconds (open ends `None`: the data fills them in).
    fn secs(v: &View) -> (Option<i64>, Option<i64>) {
        // 2026-11-25T03:12:00Z, local times in UTC.
        let now = Timestamp::from_unix_secs(1_795_576_320);
        let (f, t) = v.request(now, &LocalZone::utc()).unwrap().bounds(now);
        (
            f.map(Timestamp::as_unix_secs),
            t.map(Timestamp::as_unix_secs),
        )
    }

    #[test]
    fn ranges_from_the_query() {
        let t = 1_795_576_320;
        let v = View::parse("", 30, DAY).unwrap();
        assert_eq!((v.refresh_secs, secs(&v)), (30, (None, None)));
        let v = View::parse("since=30m&refresh=0", 30, DAY).unwrap();
        assert_eq!((v.refresh_secs, secs(&v)), (0, (Some(t - 1800), None)));
        let v = View::parse("from=2026-11-25T01%3A00%3A00Z&to=2026-11-25+02:00", 30, DAY).unwrap();
        assert_eq!(secs(&v), (Some(t - 2 * 3600 - 720), Some(t - 3600 - 720)));
        let v = View::parse("from=2026-11-25T01:00:00Z", 30, DAY).unwrap();
        assert_eq!(secs(&v), (Some(t - 2 * 3600 - 720), None));
        let v = View::parse("to=2026-11-25T02:00:00Z&since=2h", 30, DAY).unwrap();
        assert_eq!(secs(&v), (Some(t - 3 * 3600 - 720), Some(t - 3600 - 720)));
        let v = View::parse(
            "at=2026-11-25T03:00:00Z&window=20m&host=web%2D1&token=x",
            30,
            DAY,
        )
        .unwrap();
        assert_eq!(secs(&v), (Some(t - 720 - 600), Some(t - 720 + 600)));
        assert_eq!(v.host.as_deref(), Some("web-1"));
        assert_eq!(
            v.query_string(),
            "at=2026%2D11%2D25T03%3A00%3A00Z&window=20m&host=web%2D1"
        );
        assert_ne!(v.key(), v.with_host("web-2").key());
    }

    #[test]
    fn bad_queries_say_why() {
        for (q, want) in [
            ("since=soon", "since"),
            ("since=0s", "since"),
            ("from=yesterdayish", "from"),
            ("from=2026-11-25T02:00:00Z&to=2026-11-25T01:00:00Z", "empty"),
            ("since=3d", "max-range"),
            (
                "from=2026-11-01T00:00:00Z&to=2026-11-25T00:00:00Z",
                "max-range",
            ),
            ("at=2026-11-25T00:00:00Z&window=2d", "max-range"),
            ("at=now&since=1h", "cannot be combined"),
            ("refresh=-1", "refresh"),
            ("color=red", "unknown query parameter"),
        ] {
            let e = View::parse(q, 30, DAY).err().unwrap_or_default();
            assert!(e.contains(want), "{q}: {e}");
        }
    }
}
