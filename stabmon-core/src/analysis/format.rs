//! Short human forms of bytes, percentages and durations for labels and summaries.

use std::time::Duration;

/// Bytes in decimal units (kB, MB, GB, TB: powers of 1000), with one decimal below 10: `2.1 GB`, `512 MB`.
pub(crate) fn bytes(b: u64) -> String {
    const UNITS: [&str; 5] = ["kB", "MB", "GB", "TB", "PB"];
    if b < 1000 {
        return format!("{b} B");
    }
    let mut v = b as f64;
    let mut unit = "B";
    for u in UNITS {
        if v < 1000.0 {
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

/// Signed bytes: `+2.1 GB`, `-300 MB`, `+0 B`.
pub(crate) fn signed_bytes(b: i64) -> String {
    let sign = if b < 0 { '-' } else { '+' };
    format!("{sign}{}", bytes(b.unsigned_abs()))
}

/// A percentage without decimals: `97%`.
pub(crate) fn pct(p: f64) -> String {
    format!("{:.0}%", p)
}

/// A duration at a glance: `45s`, `5m 20s`, `2h 05m`, `3d 4h`.
pub(crate) fn duration(d: Duration) -> String {
    let s = d.as_secs();
    if s < 60 {
        format!("{s}s")
    } else if s < 3600 {
        format!("{}m {:02}s", s / 60, s % 60)
    } else if s < 86_400 {
        format!("{}h {:02}m", s / 3600, (s / 60) % 60)
    } else {
        format!("{}d {}h", s / 86_400, (s / 3600) % 24)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn human_forms() {
        assert_eq!(bytes(0), "0 B");
        assert_eq!(bytes(999), "999 B");
        assert_eq!(bytes(1000), "1.0 kB");
        assert_eq!(bytes(512_000_000), "512 MB");
        assert_eq!(bytes(2_100_000_000), "2.1 GB");
        assert_eq!(bytes(2_254_857_830), "2.3 GB");
        assert_eq!(bytes(12_400_000_000), "12 GB");
        assert_eq!(signed_bytes(2_100_000_000), "+2.1 GB");
        assert_eq!(signed_bytes(-300_000_000), "-300 MB");
        assert_eq!(pct(96.6), "97%");
        assert_eq!(duration(Duration::from_secs(45)), "45s");
        assert_eq!(duration(Duration::from_secs(320)), "5m 20s");
        assert_eq!(duration(Duration::from_secs(7500)), "2h 05m");
        assert_eq!(
            duration(Duration::from_secs(3 * 86_400 + 4 * 3600 + 5)),
            "3d 4h"
        );
    }
}
