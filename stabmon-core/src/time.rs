//! UTC timestamps with microsecond resolution, and moments as people write them ([`parse_time`]).

use std::fmt;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use serde::{Deserialize, Deserializer, Serialize, Serializer};

use crate::error::Error;

/// A point in time in UTC, stored as microseconds since the Unix epoch (1970-01-01T00:00:00Z).
///
/// This is the resolution of the Parquet store (`Timestamp(Microsecond, "UTC")`), so a timestamp survives a round
/// trip through a file unchanged. It displays and serializes as RFC 3339 in UTC, e.g. `2026-11-25T03:12:00.250Z`,
/// and parses from RFC 3339 with any offset ([`FromStr`](std::str::FromStr)). Binary serde formats (those that are
/// not human-readable, such as postcard) get the microseconds as an `i64` instead: eight bytes or fewer, not 25.
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
///
/// ```
/// assert_eq!(stabmon_core::time::civil_from_days(0), (1970, 1, 1));
/// assert_eq!(stabmon_core::time::civil_from_days(20_417), (2025, 11, 25));
/// ```
pub fn civil_from_days(days: i64) -> (i64, u32, u32) {
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

/// 1970-01-01 to a proleptic Gregorian date, in days; Howard Hinnant's `days_from_civil`.
fn days_from_civil(y: i64, m: u32, d: u32) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y.rem_euclid(400);
    let m = i64::from(m);
    let mp = if m > 2 { m - 3 } else { m + 9 };
    let doy = (153 * mp + 2) / 5 + i64::from(d) - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

fn days_in_month(y: i64, m: u32) -> u32 {
    match m {
        2 if (y % 4 == 0 && y % 100 != 0) || y % 400 == 0 => 29,
        2 => 28,
        4 | 6 | 9 | 11 => 30,
        _ => 31,
    }
}

impl std::str::FromStr for Timestamp {
    type Err = Error;

    /// Parses RFC 3339: `YYYY-MM-DDTHH:MM:SS[.fraction](Z|+HH:MM|-HH:MM)` (`t`, `z` and a space for `T` are
    /// accepted too). Digits beyond microseconds are truncated; a leap second (`:60`) is refused.
    fn from_str(input: &str) -> Result<Self, Self::Err> {
        let err = |reason: &str| Error::InvalidTimestamp {
            input: input.to_owned(),
            reason: reason.to_owned(),
        };
        let b = input.as_bytes();
        let num = |range: std::ops::Range<usize>, what: &str| -> Result<u32, Error> {
            let part = b.get(range).ok_or_else(|| err("too short"))?;
            if !part.iter().all(u8::is_ascii_digit) {
                return Err(err(&format!("the {what} is not a number")));
            }
            Ok(part
                .iter()
                .fold(0u32, |acc, d| acc * 10 + u32::from(d - b'0')))
        };
        if b.len() < 20 {
            return Err(err("too short for YYYY-MM-DDTHH:MM:SSZ"));
        }
        let sep_ok = b[4] == b'-'
            && b[7] == b'-'
            && matches!(b[10], b'T' | b't' | b' ')
            && b[13] == b':'
            && b[16] == b':';
        if !sep_ok {
            return Err(err("expected YYYY-MM-DDTHH:MM:SS"));
        }
        let year = i64::from(num(0..4, "year")?);
        let month = num(5..7, "month")?;
        let day = num(8..10, "day")?;
        let (hour, minute, second) = (
            num(11..13, "hour")?,
            num(14..16, "minute")?,
            num(17..19, "second")?,
        );
        if !(1..=12).contains(&month) || day == 0 || day > days_in_month(year, month) {
            return Err(err("no such date"));
        }
        if hour > 23 || minute > 59 || second > 59 {
            return Err(err("no such time of day"));
        }
        let mut i = 19;
        let mut micros: i64 = 0;
        if b[i] == b'.' {
            i += 1;
            let start = i;
            while i < b.len() && b[i].is_ascii_digit() {
                if i - start < 6 {
                    micros = micros * 10 + i64::from(b[i] - b'0');
                }
                i += 1;
            }
            let digits = i - start;
            if digits == 0 {
                return Err(err("a fraction needs digits after the dot"));
            }
            for _ in digits..6 {
                micros *= 10;
            }
        }
        let offset_secs: i64 = match b.get(i..) {
            Some(b"Z") | Some(b"z") => 0,
            Some([sign @ (b'+' | b'-'), _, _, b':', _, _]) => {
                let h = i64::from(num(i + 1..i + 3, "offset")?);
                let m = i64::from(num(i + 4..i + 6, "offset")?);
                if h > 23 || m > 59 {
                    return Err(err("the offset is out of range"));
                }
                let s = (h * 60 + m) * 60;
                if *sign == b'-' { -s } else { s }
            }
            _ => return Err(err("expected Z or an offset like +01:00 after the time")),
        };
        let secs = days_from_civil(year, month, day) * 86_400
            + i64::from(hour) * 3600
            + i64::from(minute) * 60
            + i64::from(second)
            - offset_secs;
        Ok(Timestamp::from_unix_micros(secs * 1_000_000 + micros))
    }
}

impl Serialize for Timestamp {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        if serializer.is_human_readable() {
            serializer.collect_str(self)
        } else {
            serializer.serialize_i64(self.micros)
        }
    }
}

impl<'de> Deserialize<'de> for Timestamp {
    /// The inverse of `Serialize`: an RFC 3339 string from human-readable formats, `i64` microseconds otherwise.
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        if deserializer.is_human_readable() {
            let s = <std::borrow::Cow<'de, str>>::deserialize(deserializer)?;
            s.parse().map_err(serde::de::Error::custom)
        } else {
            i64::deserialize(deserializer).map(Timestamp::from_unix_micros)
        }
    }
}

/// The time zone that local times are read in ([`parse_time`]): the machine's, UTC, or a fixed offset.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LocalZone(jiff::tz::TimeZone);

impl LocalZone {
    /// This machine's time zone (`TZ`, else the system's setting; UTC when neither can be read).
    pub fn system() -> Self {
        LocalZone(jiff::tz::TimeZone::system())
    }

    /// UTC.
    pub fn utc() -> Self {
        LocalZone(jiff::tz::TimeZone::UTC)
    }

    /// A fixed offset east of UTC, in seconds (`3600` for UTC+01:00), within a day either way (else UTC).
    pub fn fixed_offset(offset_secs: i32) -> Self {
        match jiff::tz::Offset::from_seconds(offset_secs) {
            Ok(o) => LocalZone(jiff::tz::TimeZone::fixed(o)),
            Err(_) => Self::utc(),
        }
    }
}

/// The forms [`parse_time`] reads, for messages.
const TIME_FORMS: &str = "use RFC 3339 (2026-11-25T03:12:00Z), a local date-time (2026-11-25 03:12, in this \
    machine's time zone), a local time today (03:12), or a relative time (2h ago, 30m ago, yesterday, today, now)";

/// Reads a moment as people write it on a command line or in a URL, relative to `now`, local forms in `zone`:
/// RFC 3339 (`2026-11-25T03:12:00Z`), a local date-time (`2026-11-25 03:12`, `2026-11-25T03:12:00`), a local date
/// (its midnight), a local time today (`03:12`), `now`, `today`, `yesterday` (midnights), or a duration ago
/// (`2h ago`, `1h30m ago`).
///
/// Fails with [`Error::InvalidTime`], which names the input and lists these forms.
///
/// ```
/// use stabmon_core::Timestamp;
/// use stabmon_core::time::{LocalZone, parse_time};
///
/// let now = Timestamp::from_unix_secs(1_795_576_320); // 2026-11-25T03:12:00Z
/// let utc = LocalZone::utc();
/// assert_eq!(parse_time("2h ago", now, &utc).ok(), Some(Timestamp::from_unix_secs(1_795_576_320 - 7200)));
/// assert_eq!(parse_time("03:00", now, &LocalZone::fixed_offset(3600)).ok().map(|t| t.to_string()),
///            Some("2026-11-25T02:00:00Z".to_owned()));
/// assert!(parse_time("soon", now, &utc).is_err());
/// ```
pub fn parse_time(input: &str, now: Timestamp, zone: &LocalZone) -> Result<Timestamp, Error> {
    let s = input.trim();
    let lower = s.to_ascii_lowercase();
    let bad = || Error::InvalidTime {
        input: input.to_owned(),
        reason: TIME_FORMS.to_owned(),
    };
    let ts = |t: jiff::Timestamp| Timestamp::from_unix_micros(t.as_microsecond());
    let tz = &zone.0;
    let now_zoned = jiff::Timestamp::from_microsecond(now.as_unix_micros())
        .map_err(|_| bad())?
        .to_zoned(tz.clone());
    let midnight = |days_back: i64| -> Result<Timestamp, Error> {
        let day = now_zoned
            .date()
            .checked_sub(jiff::Span::new().days(days_back))
            .map_err(|_| bad())?;
        day.to_zoned(tz.clone())
            .map(|z| ts(z.timestamp()))
            .map_err(|_| bad())
    };
    match lower.as_str() {
        "" => return Err(bad()),
        "now" => return Ok(now),
        "today" => return midnight(0),
        "yesterday" => return midnight(1),
        _ => {}
    }
    if let Some(ago) = lower.strip_suffix("ago") {
        let d = crate::units::parse_duration(ago.trim()).map_err(|_| bad())?;
        return Ok(now.saturating_sub(d));
    }
    if let Ok(t) = s.parse::<jiff::Timestamp>() {
        return Ok(ts(t));
    }
    let local = |dt: jiff::civil::DateTime| {
        dt.to_zoned(tz.clone())
            .map(|z| ts(z.timestamp()))
            .map_err(|_| bad())
    };
    if let Ok(dt) = s.parse::<jiff::civil::DateTime>() {
        return local(dt);
    }
    if let Ok(d) = s.parse::<jiff::civil::Date>() {
        return local(d.to_datetime(jiff::civil::Time::midnight()));
    }
    if let Ok(t) = s.parse::<jiff::civil::Time>() {
        return local(now_zoned.date().to_datetime(t));
    }
    Err(bad())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// 2026-11-25T03:12:00 at UTC+01:00, as UTC seconds.
    const T: i64 = 1_795_576_320 - 3600;

    fn secs(s: &str) -> Option<i64> {
        parse_time(
            s,
            Timestamp::from_unix_secs(T),
            &LocalZone::fixed_offset(3600),
        )
        .ok()
        .map(Timestamp::as_unix_secs)
    }

    #[test]
    fn times_in_every_form() {
        let t = T;
        assert_eq!(secs("2026-11-25T02:12:00Z"), Some(t));
        assert_eq!(secs("2026-11-25T03:12:00+01:00"), Some(t));
        assert_eq!(secs("2026-11-25 03:12"), Some(t));
        assert_eq!(secs("2026-11-25T03:12:00"), Some(t));
        assert_eq!(secs("2026-11-25"), Some(t - 3 * 3600 - 12 * 60));
        assert_eq!(secs("03:12"), Some(t));
        assert_eq!(secs("now"), Some(t));
        assert_eq!(secs("2h ago"), Some(t - 7200));
        assert_eq!(secs("30m ago"), Some(t - 1800));
        assert_eq!(secs("1h30m ago"), Some(t - 5400));
        assert_eq!(secs("today"), Some(t - 3 * 3600 - 12 * 60));
        assert_eq!(secs("Yesterday"), Some(t - 3 * 3600 - 12 * 60 - 86_400));
    }

    #[test]
    fn bad_times_name_the_input_and_the_forms() {
        for bad in [
            "",
            "soon",
            "2h",
            "ago",
            "-2h ago",
            "2026-13-01",
            "25/11/2026",
        ] {
            let err = parse_time(bad, Timestamp::from_unix_secs(T), &LocalZone::utc())
                .err()
                .map(|e| e.to_string())
                .unwrap_or_default();
            assert!(
                err.contains(&format!("{bad:?}")) && err.contains("RFC 3339"),
                "{bad:?}: {err}"
            );
        }
    }

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
    fn parses_rfc3339() {
        let p = |s: &str| s.parse::<Timestamp>().map(Timestamp::as_unix_micros);
        assert_eq!(p("2026-11-25T03:12:00Z").ok(), Some(1_795_576_320_000_000));
        assert_eq!(
            p("2026-11-25T03:12:00.250Z").ok(),
            Some(1_795_576_320_250_000)
        );
        assert_eq!(
            p("2026-11-25T04:12:00.000001+01:00").ok(),
            Some(1_795_576_320_000_001)
        );
        assert_eq!(
            p("2026-11-24 23:42:00.1234567-03:30").ok(),
            Some(1_795_576_320_123_456)
        );
        assert_eq!(p("2000-02-29t00:00:00z").ok(), Some(951_782_400_000_000));
        assert_eq!(p("1969-12-31T23:59:59.999999Z").ok(), Some(-1));
        for bad in [
            "",
            "2026-11-25",
            "2026-11-25T03:12:00",
            "2026-11-25T03:12:00+0100",
            "2026-13-01T00:00:00Z",
            "2026-02-29T00:00:00Z",
            "2026-11-25T24:00:00Z",
            "2026-11-25T23:59:60Z",
            "2026-11-25T03:12:00.Z",
            "2026-11-25T03:12:00Zjunk",
            "2026/11/25T03:12:00Z",
            "20x6-11-25T03:12:00Z",
        ] {
            assert!(p(bad).is_err(), "{bad:?} was accepted");
        }
        let e = p("2026-11-25")
            .err()
            .map(|e| e.to_string())
            .unwrap_or_default();
        assert!(e.contains("2026-11-25"), "{e}");
    }

    #[test]
    fn display_and_parse_round_trip() {
        for micros in [
            0,
            -1,
            1_795_576_320_250_000,
            1_795_576_320_000_001,
            951_782_400_000_000,
            -62_135_596_800_000_000, // 0001-01-01
            253_402_300_799_999_999, // 9999-12-31T23:59:59.999999
        ] {
            let t = Timestamp::from_unix_micros(micros);
            assert_eq!(t.to_string().parse::<Timestamp>().ok(), Some(t), "{t}");
        }
    }

    #[test]
    fn serde_round_trip_text_and_binary() {
        let t = Timestamp::from_unix_micros(1_795_576_320_250_001);
        let json = serde_json::to_string(&t).unwrap_or_default();
        assert_eq!(json, "\"2026-11-25T03:12:00.250001Z\"");
        let back: Timestamp = serde_json::from_str(&json).unwrap_or_default();
        assert_eq!(back, t);
        assert!(serde_json::from_str::<Timestamp>("\"yesterday\"").is_err());
        assert!(serde_json::from_str::<Timestamp>("12").is_err());
    }

    #[test]
    fn serializes_as_string() {
        let json = serde_json::to_string(&Timestamp::from_unix_secs(0)).unwrap_or_default();
        assert_eq!(json, "\"1970-01-01T00:00:00Z\"");
    }
}
