//! How stabmon writes durations, sizes and percentages for people: one function per quantity, used by the terminal
//! tables, the incident summaries and chart labels, the HTML report and the live view, so that a number reads the
//! same everywhere.
//!
//! The style, in short: about two significant digits, a unit symbol after a space (`12 GB`, `2.1 s`, `5 min 20 s`),
//! and `%` right after the number (`97%`).
//!
//! ```
//! use std::time::Duration;
//! use stabmon_core::human;
//!
//! assert_eq!(human::duration(Duration::from_secs(7500)), "2 h 5 min");
//! assert_eq!(human::bytes(12_400_000_000), "12 GB");
//! assert_eq!(human::pct(3.44), "3.4%");
//! ```
//!
//! These are for reading, not for parsing back: the form a flag takes (`90s`, `2h`) is
//! [`units::format_duration`](crate::units::format_duration).

use std::time::Duration;

/// A duration for people, with SI symbols (`ms`, `s`, `min`, `h`, `d`) after a space:
///
/// - under ten seconds, about two significant digits: `0.35 ms`, `2.1 ms`, `48 ms`, `350 ms`, `2.5 s` (network
///   round trips and sampling intervals);
/// - under a minute, whole seconds: `45 s`;
/// - then the two largest units, rounded to the second, the smaller left out when it is zero: `5 min 20 s`,
///   `5 min`, `2 h 5 min`, `3 d 4 h`.
///
/// Zero is `0 s`.
///
/// ```
/// use std::time::Duration;
/// use stabmon_core::human::duration;
///
/// assert_eq!(duration(Duration::from_micros(347)), "0.35 ms");
/// assert_eq!(duration(Duration::from_millis(2104)), "2.1 s");
/// assert_eq!(duration(Duration::from_secs(320)), "5 min 20 s");
/// assert_eq!(duration(Duration::from_secs(3 * 86_400 + 4 * 3600 + 5)), "3 d 4 h");
/// ```
pub fn duration(d: Duration) -> String {
    if d.is_zero() {
        return "0 s".to_owned();
    }
    let ms = d.as_secs_f64() * 1000.0;
    if ms < 0.995 {
        return format!("{ms:.2} ms");
    } else if ms < 9.95 {
        return format!("{ms:.1} ms");
    } else if ms < 999.5 {
        return format!("{ms:.0} ms");
    } else if ms < 9950.0 {
        return format!("{:.1} s", ms / 1000.0);
    }
    let total = d.as_secs() + u64::from(d.subsec_millis() >= 500);
    let two = |big: u64, big_unit: &str, small: u64, small_unit: &str| {
        if small == 0 {
            format!("{big} {big_unit}")
        } else {
            format!("{big} {big_unit} {small} {small_unit}")
        }
    };
    match total {
        0..60 => format!("{total} s"),
        60..3600 => two(total / 60, "min", total % 60, "s"),
        3600..86_400 => two(total / 3600, "h", total % 3600 / 60, "min"),
        _ => two(total / 86_400, "d", total % 86_400 / 3600, "h"),
    }
}

/// A size in bytes for people, in decimal units (B, kB, MB, GB, TB, PB: powers of 1000, as disks and `df -H`
/// count), with one decimal below 10 and none above: `512 B`, `1.0 kB`, `2.1 GB`, `512 MB`, `12 GB`.
///
/// ```
/// assert_eq!(stabmon_core::human::bytes(2_254_857_830), "2.3 GB");
/// ```
pub fn bytes(b: u64) -> String {
    const UNITS: [&str; 5] = ["kB", "MB", "GB", "TB", "PB"];
    if b < 1000 {
        return format!("{b} B");
    }
    let mut v = b as f64;
    let mut unit = "B";
    for u in UNITS {
        if v < 999.5 {
            break;
        }
        v /= 1000.0;
        unit = u;
    }
    if v < 9.95 {
        format!("{v:.1} {unit}")
    } else {
        format!("{v:.0} {unit}")
    }
}

/// A change of size: [`bytes`] with its sign, `+2.1 GB`, `-300 MB`, `+0 B`.
///
/// ```
/// assert_eq!(stabmon_core::human::signed_bytes(-300_000_000), "-300 MB");
/// ```
pub fn signed_bytes(b: i64) -> String {
    let sign = if b < 0 { '-' } else { '+' };
    format!("{sign}{}", bytes(b.unsigned_abs()))
}

/// A percentage for people, `%` right after the number, up to two significant digits and no trailing zeros (CPU is
/// measured in whole clock ticks, so `3%` is not written `3.0%`): `0%`, `0.05%`, `3%`, `3.4%`, `97%`, `190%` (CPU
/// counts in percent of one core). Not a number is `n/a`.
///
/// ```
/// use stabmon_core::human::pct;
///
/// assert_eq!(pct(96.6), "97%");
/// assert_eq!(pct(2.5), "2.5%");
/// assert_eq!(pct(0.05), "0.05%");
/// ```
pub fn pct(p: f64) -> String {
    let a = p.abs();
    if p.is_nan() {
        return "n/a".to_owned();
    }
    if a == 0.0 {
        return "0%".to_owned();
    }
    let digits = if a >= 9.95 {
        format!("{p:.0}")
    } else if a < 0.095 {
        format!("{p:.2}")
    } else {
        format!("{p:.1}")
    };
    let digits = if digits.contains('.') {
        digits.trim_end_matches('0').trim_end_matches('.')
    } else {
        &digits
    };
    format!("{digits}%")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn secs(s: u64) -> String {
        duration(Duration::from_secs(s))
    }

    #[test]
    fn durations_from_microseconds_to_days() {
        assert_eq!(duration(Duration::ZERO), "0 s");
        assert_eq!(duration(Duration::from_micros(2140)), "2.1 ms");
        assert_eq!(duration(Duration::from_micros(48_200)), "48 ms");
        assert_eq!(duration(Duration::from_millis(500)), "500 ms");
        assert_eq!(duration(Duration::from_millis(2500)), "2.5 s");
        assert_eq!(duration(Duration::from_millis(12_400)), "12 s");
        assert_eq!(secs(45), "45 s");
        assert_eq!(duration(Duration::from_millis(59_600)), "1 min");
        assert_eq!(secs(120), "2 min");
        assert_eq!(secs(725), "12 min 5 s");
        assert_eq!(secs(7500), "2 h 5 min");
        assert_eq!(secs(7200 + 59), "2 h");
        assert_eq!(secs(86_400), "1 d");
    }

    #[test]
    fn sizes_in_decimal_units() {
        assert_eq!(bytes(0), "0 B");
        assert_eq!(bytes(999), "999 B");
        assert_eq!(bytes(1000), "1.0 kB");
        assert_eq!(bytes(999_600), "1.0 MB");
        assert_eq!(bytes(512_000_000), "512 MB");
        assert_eq!(bytes(2_100_000_000), "2.1 GB");
        assert_eq!(bytes(9_960_000_000), "10 GB");
        assert_eq!(bytes(12_400_000_000), "12 GB");
        assert_eq!(signed_bytes(2_100_000_000), "+2.1 GB");
        assert_eq!(signed_bytes(0), "+0 B");
    }

    #[test]
    fn percentages_with_two_significant_digits() {
        assert_eq!(pct(0.0), "0%");
        assert_eq!(pct(0.049), "0.05%");
        assert_eq!(pct(0.3), "0.3%");
        assert_eq!(pct(3.0), "3%");
        assert_eq!(pct(0.1), "0.1%");
        assert_eq!(pct(9.96), "10%");
        assert_eq!(pct(12.6), "13%");
        assert_eq!(pct(99.96), "100%");
        assert_eq!(pct(187.0), "187%");
        assert_eq!(pct(f64::NAN), "n/a");
    }
}
