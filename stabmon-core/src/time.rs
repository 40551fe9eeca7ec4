//! UTC timestamps with microsecond resolution.

use std::fmt;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use serde::{Serialize, Serializer};

/// A point in time in UTC, stored as microseconds since the Unix epoch (1970-01-01T00:00:00Z).
///
/// This is the resolution of the Parquet store (`Timestamp(Microsecond, "UTC")`), so a timestamp survives a round
/// trip through a file unchanged. It displays and serializes as RFC 3339 in UTC, e.g. `2026-11-25T03:12:00.250Z`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct Timestamp {
    micros: i64,
}

impl Timestamp {
    /// The Unix epoch.
    pub const UNIX_EPOCH: Timestamp = Timestamp { micros: 0 };

    /// A timestamp from microseconds since the Unix epoch.
    pub const fn from_unix_micros(micros: i64) -> Self {
        Timestamp { micros }
    }

    /// A timestamp from whole seconds since the Unix epoch.
    pub const fn from_unix_secs(secs: i64) -> Self {
        Timestamp {
            micros: secs.saturating_mul(1_000_000),
        }
    }

    /// Microseconds since the Unix epoch.
    pub const fn as_unix_micros(self) -> i64 {
        self.micros
    }

    /// Whole seconds since the Unix epoch (rounded towards negative infinity).
    pub const fn as_unix_secs(self) -> i64 {
        self.micros.div_euclid(1_000_000)
    }

    /// The current time of the system clock.
    pub fn now() -> Self {
        Self::from_system_time(SystemTime::now())
    }

    /// Converts a [`SystemTime`], saturating at the limits of the representation.
    pub fn from_system_time(t: SystemTime) -> Self {
        match t.duration_since(UNIX_EPOCH) {
            Ok(d) => Timestamp {
                micros: i64::try_from(d.as_micros()).unwrap_or(i64::MAX),
            },
            Err(e) => Timestamp {
                micros: i64::try_from(e.duration().as_micros())
                    .map(|m| -m)
                    .unwrap_or(i64::MIN),
            },
        }
    }

    /// Converts to a [`SystemTime`].
    pub fn to_system_time(self) -> SystemTime {
        if self.micros >= 0 {
            UNIX_EPOCH + Duration::from_micros(self.micros.unsigned_abs())
        } else {
            UNIX_EPOCH - Duration::from_micros(self.micros.unsigned_abs())
        }
    }

    /// This timestamp plus a duration, saturating.
    pub fn saturating_add(self, d: Duration) -> Self {
        let add = i64::try_from(d.as_micros()).unwrap_or(i64::MAX);
        Timestamp {
            micros: self.micros.saturating_add(add),
        }
    }

    /// This timestamp minus a duration, saturating.
    pub fn saturating_sub(self, d: Duration) -> Self {
        let sub = i64::try_from(d.as_micros()).unwrap_or(i64::MAX);
        Timestamp {
            micros: self.micros.saturating_sub(sub),
        }
    }

    /// The time from `earlier` to `self`, or `None` when `earlier` is later than `self`.
    pub fn duration_since(self, earlier: Timestamp) -> Option<Duration> {
        let diff = self.micros.checked_sub(earlier.micros)?;
        u64::try_from(diff).ok().map(Duration::from_micros)
    }
}

impl From<SystemTime> for Timestamp {
    fn from(t: SystemTime) -> Self {
        Self::from_system_time(t)
    }
}

/// Days since 1970-01-01 to a proleptic Gregorian (year, month, day); Howard Hinnant's `civil_from_days`.
fn civil_from_days(days: i64) -> (i64, u32, u32) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let y = yoe + era * 400;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = if m <= 2 { y + 1 } else { y };
    // d is in 1..=31 and m in 1..=12 by construction.
    (y, m as u32, d as u32)
}

impl fmt::Display for Timestamp {
    /// RFC 3339 in UTC; the fraction is shown only when it is not zero (milliseconds when that is exact).
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let secs = self.micros.div_euclid(1_000_000);
        let frac = self.micros.rem_euclid(1_000_000);
        let days = secs.div_euclid(86_400);
        let sod = secs.rem_euclid(86_400);
        let (y, mo, d) = civil_from_days(days);
        write!(
            f,
            "{y:04}-{mo:02}-{d:02}T{:02}:{:02}:{:02}",
            sod / 3600,
            (sod / 60) % 60,
            sod % 60
        )?;
        if frac != 0 {
            if frac % 1000 == 0 {
                write!(f, ".{:03}", frac / 1000)?;
            } else {
                write!(f, ".{frac:06}")?;
            }
        }
        f.write_str("Z")
    }
}

impl Serialize for Timestamp {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(self)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn displays_rfc3339() {
        assert_eq!(Timestamp::UNIX_EPOCH.to_string(), "1970-01-01T00:00:00Z");
        // 2026-11-25T03:12:00Z
        let t = Timestamp::from_unix_secs(1_795_576_320);
        assert_eq!(t.to_string(), "2026-11-25T03:12:00Z");
        let t = Timestamp::from_unix_micros(1_795_576_320_250_000);
        assert_eq!(t.to_string(), "2026-11-25T03:12:00.250Z");
        let t = Timestamp::from_unix_micros(1_795_576_320_000_001);
        assert_eq!(t.to_string(), "2026-11-25T03:12:00.000001Z");
        // Leap day and before the epoch.
        assert_eq!(
            Timestamp::from_unix_secs(951_782_400).to_string(),
            "2000-02-29T00:00:00Z"
        );
        assert_eq!(
            Timestamp::from_unix_micros(-1).to_string(),
            "1969-12-31T23:59:59.999999Z"
        );
    }

    #[test]
    fn system_time_round_trip() {
        let now = SystemTime::now();
        let t = Timestamp::from_system_time(now);
        let back = t.to_system_time();
        let diff = now.duration_since(back).unwrap_or_default();
        assert!(diff < Duration::from_micros(1));
        let before = UNIX_EPOCH - Duration::from_secs(5);
        assert_eq!(
            Timestamp::from_system_time(before).as_unix_micros(),
            -5_000_000
        );
        assert_eq!(Timestamp::from_unix_secs(-5).to_system_time(), before);
    }

    #[test]
    fn arithmetic() {
        let t = Timestamp::from_unix_secs(100);
        let later = t.saturating_add(Duration::from_millis(1500));
        assert_eq!(later.as_unix_micros(), 101_500_000);
        assert_eq!(later.duration_since(t), Some(Duration::from_millis(1500)));
        assert_eq!(t.duration_since(later), None);
        assert_eq!(later.saturating_sub(Duration::from_millis(1500)), t);
        assert_eq!(later.as_unix_secs(), 101);
        assert_eq!(Timestamp::from_unix_micros(-1).as_unix_secs(), -1);
    }

    #[test]
    fn serializes_as_string() {
        let json = serde_json::to_string(&Timestamp::from_unix_secs(0)).unwrap_or_default();
        assert_eq!(json, "\"1970-01-01T00:00:00Z\"");
    }
}
