//! Parsing of human durations (`500ms`, `10s`, `2h`, `1h30m`) for flags and configuration.

use std::time::Duration;

use crate::Error;

/// Parses a human duration: one or more `<number><unit>` parts, with units `ms`, `s`, `m`, `h`, `d` (and `w`).
///
/// Numbers may have a fraction (`1.5s`); whitespace between parts is allowed (`1h 30m`). A bare number, a negative
/// sign, an unknown unit or an empty string is an error naming the input.
///
/// ```
/// use std::time::Duration;
/// use stabmon_core::units::parse_duration;
///
/// assert_eq!(parse_duration("500ms").ok(), Some(Duration::from_millis(500)));
/// assert_eq!(parse_duration("1h30m").ok(), Some(Duration::from_secs(5400)));
/// assert!(parse_duration("abc").is_err());
/// ```
pub fn parse_duration(input: &str) -> Result<Duration, Error> {
    let bad = |reason: &str| Error::InvalidDuration {
        input: input.to_owned(),
        reason: reason.to_owned(),
    };
    let s = input.trim();
    if s.is_empty() {
        return Err(bad("it is empty"));
    }
    if s.starts_with('-') {
        return Err(bad("durations cannot be negative"));
    }
    let mut total = Duration::ZERO;
    let mut rest = s;
    while !rest.is_empty() {
        rest = rest.trim_start();
        let num_len = rest
            .find(|c: char| !(c.is_ascii_digit() || c == '.'))
            .unwrap_or(rest.len());
        if num_len == 0 {
            return Err(bad("expected a number"));
        }
        let number: f64 = rest[..num_len]
            .parse()
            .map_err(|_| bad("expected a number"))?;
        rest = &rest[num_len..];
        let unit_len = rest
            .find(|c: char| !c.is_ascii_alphabetic())
            .unwrap_or(rest.len());
        let unit_secs = match &rest[..unit_len] {
            "ms" => 0.001,
            "s" | "sec" | "secs" => 1.0,
            "m" | "min" | "mins" => 60.0,
            "h" | "hr" | "hrs" => 3600.0,
            "d" | "day" | "days" => 86_400.0,
            "w" | "week" | "weeks" => 604_800.0,
            "" => return Err(bad("a unit is missing (ms, s, m, h, d or w)")),
            _ => return Err(bad("unknown unit (use ms, s, m, h, d or w)")),
        };
        rest = &rest[unit_len..];
        let part =
            Duration::try_from_secs_f64(number * unit_secs).map_err(|_| bad("out of range"))?;
        total = total.checked_add(part).ok_or_else(|| bad("out of range"))?;
    }
    Ok(total)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_units_and_combinations() {
        let ok = |s: &str| parse_duration(s).ok();
        assert_eq!(ok("500ms"), Some(Duration::from_millis(500)));
        assert_eq!(ok("10s"), Some(Duration::from_secs(10)));
        assert_eq!(ok("2h"), Some(Duration::from_secs(7200)));
        assert_eq!(ok("30d"), Some(Duration::from_secs(30 * 86_400)));
        assert_eq!(ok("1.5s"), Some(Duration::from_millis(1500)));
        assert_eq!(ok("1h 30m"), Some(Duration::from_secs(5400)));
        assert_eq!(ok(" 0s "), Some(Duration::ZERO));
    }

    #[test]
    fn rejects_bad_input_naming_it() {
        for bad in ["", "abc", "-1s", "-1", "10", "5x", "s", "1..2s"] {
            let err = parse_duration(bad).err();
            assert!(err.is_some(), "{bad:?} should fail");
            let msg = err.map(|e| e.to_string()).unwrap_or_default();
            assert!(msg.contains(&format!("{:?}", bad)), "{msg}");
        }
    }
}
