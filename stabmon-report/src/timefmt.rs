//! Local-time formatting and axis ticks, all pure and deterministic (durations, sizes and percentages are
//! [`stabmon_core::human`]'s).
//!
//! The page shows the recorded host's local time: each sample carries its UTC offset, so a report spanning a
//! daylight-saving change shows both offsets. [`Offsets`] maps a UTC time to the offset in force then.

use stabmon_core::Timestamp;
use stabmon_core::series::SystemSeries;

const WEEKDAYS: [&str; 7] = ["Thu", "Fri", "Sat", "Sun", "Mon", "Tue", "Wed"];
const MONTHS: [&str; 12] = [
    "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
];

/// The host's UTC offsets over the report, as change points `(utc_secs, offset_secs)` sorted by time.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Offsets {
    changes: Vec<(i64, i32)>,
    /// The IANA zone name where the samples had one.
    pub(crate) zone: Option<String>,
}

impl Offsets {
    /// The offsets recorded in `series` (sorted by time; UTC where a sample has none), with the zone `zone`.
    pub(crate) fn from_series(series: &SystemSeries, zone: Option<String>) -> Self {
        let mut changes: Vec<(i64, i32)> = Vec::new();
        for (first, _, off) in series.utc_offset_secs.iter_runs() {
            let off = off.unwrap_or(0);
            if let Some(ts) = series.ts.get(first)
                && changes.last().map(|c| c.1) != Some(off)
            {
                changes.push((ts.as_unix_secs(), off));
            }
        }
        Offsets { changes, zone }
    }

    /// The offset in force at `utc_secs`: that of the last change at or before it (the first one before all).
    pub(crate) fn at(&self, utc_secs: i64) -> i32 {
        let i = self.changes.partition_point(|c| c.0 <= utc_secs);
        self.changes
            .get(i.saturating_sub(1))
            .map(|c| c.1)
            .unwrap_or(0)
    }

    /// Every distinct offset, in order of appearance.
    pub(crate) fn distinct(&self) -> Vec<i32> {
        let mut out: Vec<i32> = Vec::new();
        for c in &self.changes {
            if !out.contains(&c.1) {
                out.push(c.1);
            }
        }
        if out.is_empty() {
            out.push(0);
        }
        out
    }

    /// The change points, for the script.
    pub(crate) fn changes(&self) -> &[(i64, i32)] {
        &self.changes
    }
}

/// Local civil time fields.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Civil {
    pub(crate) year: i64,
    pub(crate) month: u32,
    pub(crate) day: u32,
    pub(crate) hour: u32,
    pub(crate) minute: u32,
    pub(crate) second: u32,
    pub(crate) weekday: &'static str,
}

/// The civil fields of local seconds since the epoch (UTC seconds plus the offset).
pub(crate) fn civil(local_secs: i64) -> Civil {
    let days = local_secs.div_euclid(86_400);
    let sod = local_secs.rem_euclid(86_400);
    let (year, month, day) = stabmon_core::time::civil_from_days(days);
    let sod = u32::try_from(sod).unwrap_or(0);
    Civil {
        year,
        month,
        day,
        hour: sod / 3600,
        minute: (sod / 60) % 60,
        second: sod % 60,
        weekday: WEEKDAYS[usize::try_from(days.rem_euclid(7)).unwrap_or(0)],
    }
}

/// `+01:00`, `-05:30`, `+00:00`.
pub(crate) fn offset_str(offset_secs: i32) -> String {
    let sign = if offset_secs < 0 { '-' } else { '+' };
    let a = offset_secs.unsigned_abs();
    format!("{sign}{:02}:{:02}", a / 3600, (a / 60) % 60)
}

/// `2026-11-25 03:12:07` in local time.
pub(crate) fn local_datetime(ts: Timestamp, offsets: &Offsets) -> String {
    let secs = ts.as_unix_secs();
    let c = civil(secs + i64::from(offsets.at(secs)));
    format!(
        "{:04}-{:02}-{:02} {:02}:{:02}:{:02}",
        c.year, c.month, c.day, c.hour, c.minute, c.second
    )
}

/// `2026-11-25 03:12:07 +01:00`.
pub(crate) fn local_datetime_offset(ts: Timestamp, offsets: &Offsets) -> String {
    let secs = ts.as_unix_secs();
    format!(
        "{} {}",
        local_datetime(ts, offsets),
        offset_str(offsets.at(secs))
    )
}

/// `Wed 25 Nov` of local seconds.
pub(crate) fn day_label(c: &Civil) -> String {
    format!(
        "{} {} {}",
        c.weekday,
        c.day,
        MONTHS[usize::try_from(c.month.saturating_sub(1)).unwrap_or(0) % 12]
    )
}

/// One tick of the time axis.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Tick {
    /// UTC seconds.
    pub(crate) utc_secs: i64,
    /// The main label (`03:00`, or the day for day steps).
    pub(crate) label: String,
    /// A second line naming the day where it changes (only for steps under a day).
    pub(crate) day: Option<String>,
}

/// Tick steps in seconds, smallest first.
const STEPS: [i64; 20] = [
    1, 2, 5, 10, 15, 30, 60, 120, 300, 600, 900, 1800, 3600, 7200, 10_800, 21_600, 43_200, 86_400,
    172_800, 604_800,
];

/// Ticks for `[from_secs, to_secs]` (UTC) on an axis `width_px` wide, at least `min_px` apart, aligned to round
/// local times.
pub(crate) fn ticks(
    from_secs: i64,
    to_secs: i64,
    width_px: f64,
    min_px: f64,
    offsets: &Offsets,
) -> Vec<Tick> {
    let span = (to_secs - from_secs).max(1);
    let per_px = span as f64 / width_px.max(1.0);
    let step = STEPS
        .iter()
        .copied()
        .find(|s| *s as f64 / per_px >= min_px)
        .unwrap_or(604_800);
    let off = i64::from(offsets.at(from_secs));
    // Align in local time; weeks align to days (a Monday alignment would need more care than it is worth).
    let align = step.min(86_400);
    let first_local = (from_secs + off).div_euclid(align) * align;
    let mut out = Vec::new();
    let mut prev_day: Option<(i64, u32, u32)> = None;
    let mut local = first_local;
    while local - off <= to_secs {
        let utc = local - off;
        if utc >= from_secs {
            let c = civil(local);
            let (label, day) = if step >= 86_400 {
                (day_label(&c), None)
            } else {
                let key = (c.year, c.month, c.day);
                let day = (prev_day != Some(key)).then(|| day_label(&c));
                prev_day = Some(key);
                let label = if step < 60 {
                    format!("{:02}:{:02}:{:02}", c.hour, c.minute, c.second)
                } else {
                    format!("{:02}:{:02}", c.hour, c.minute)
                };
                (label, day)
            };
            out.push(Tick {
                utc_secs: utc,
                label,
                day,
            });
        }
        local += step;
        if out.len() > 1000 {
            break;
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn berlin() -> Offsets {
        Offsets {
            changes: vec![(0, 3600)],
            zone: Some("Europe/Berlin".into()),
        }
    }

    #[test]
    fn local_time_with_offset() {
        // 2026-11-25T02:12:07Z is 03:12:07 in Berlin (UTC+1), a Wednesday.
        let ts = Timestamp::from_unix_secs(1_795_576_327 - 3600);
        assert_eq!(
            local_datetime_offset(ts, &berlin()),
            "2026-11-25 03:12:07 +01:00"
        );
        let c = civil(1_795_576_327);
        assert_eq!(day_label(&c), "Wed 25 Nov");
        assert_eq!(offset_str(-19_800), "-05:30");
    }

    #[test]
    fn offsets_follow_changes() {
        let o = Offsets {
            changes: vec![(100, 3600), (200, 7200)],
            zone: None,
        };
        assert_eq!(o.at(50), 3600);
        assert_eq!(o.at(150), 3600);
        assert_eq!(o.at(200), 7200);
        assert_eq!(o.distinct(), vec![3600, 7200]);
    }

    #[test]
    fn ticks_align_to_local_hours() {
        // A day from 2026-11-25T00:00 local (Berlin) on 1100 px, at least 80 px apart: 2-hour steps.
        let from = 1_795_564_800 - 3600;
        let t = ticks(from, from + 86_400, 1100.0, 80.0, &berlin());
        assert_eq!(t[0].label, "00:00");
        assert_eq!(t[0].day.as_deref(), Some("Wed 25 Nov"));
        assert_eq!(t[1].label, "02:00");
        assert_eq!(t[1].day, None);
        assert_eq!(
            t.last().map(|t| t.day.clone()),
            Some(Some("Thu 26 Nov".into()))
        );
        // A week: daily ticks labelled with the day.
        let w = ticks(from, from + 7 * 86_400, 1100.0, 80.0, &berlin());
        assert_eq!(w[0].label, "Wed 25 Nov");
        assert_eq!(w.len(), 8);
    }
}
