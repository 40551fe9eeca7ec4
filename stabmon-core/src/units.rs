//! Parsing and writing of durations in the form flags and configuration take (`500ms`, `10s`, `2h`, `1h30m`), and the resolution
//! samples keep: CPU percentages measured in clock ticks ([`cpu_pct_of_ticks`]), byte counts that change all the
//! time ([`round_bytes`]), pressure stalls ([`stall_pct`]), the whole machine's CPU from its cores' ([`mean_pct`])
//! and the lateness of a reading ([`LATENESS_RESOLUTION`]).

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

/// A duration in the form a flag takes, which [`parse_duration`] reads back exactly: its largest whole unit
/// (`2d`, `90m`, `30s`), else seconds or milliseconds with a fraction (`1.5s`, `500ms`). For reading, see
/// [`human::duration`](crate::human::duration).
///
/// ```
/// use std::time::Duration;
/// use stabmon_core::units::{format_duration, parse_duration};
///
/// assert_eq!(format_duration(Duration::from_secs(5400)), "90m");
/// assert_eq!(format_duration(Duration::from_millis(1500)), "1.5s");
/// assert_eq!(parse_duration(&format_duration(Duration::from_millis(1500))).ok(), Some(Duration::from_millis(1500)));
/// ```
pub fn format_duration(d: Duration) -> String {
    let ms = d.as_millis();
    if d.subsec_nanos().is_multiple_of(1_000_000) {
        for (unit, size) in [
            ("d", 86_400_000),
            ("h", 3_600_000),
            ("m", 60_000),
            ("s", 1000),
        ] {
            if ms >= size && ms.is_multiple_of(size) {
                return format!("{}{unit}", ms / size);
            }
        }
        if ms < 1000 {
            return format!("{ms}ms");
        }
    }
    if ms >= 1000 {
        format!("{}s", d.as_secs_f64())
    } else {
        format!("{}ms", d.as_secs_f64() * 1000.0)
    }
}

/// `ticks / whole_ticks * 100` (`whole_ticks` clock ticks make 100 %), rounded to the resolution of the
/// measurement, 0 when `whole_ticks` is 0.
///
/// CPU time is counted in clock ticks, so a CPU percentage is only known to within one tick's share of the whole:
/// `100 / whole_ticks` %. The value is rounded to the power of ten at or just below that share (up to 25 % above it,
/// so that 101 ticks in a second still count as 1 % each), kept between 0.01 % and 1 %. With Linux's 100 ticks a
/// second, at 1 s a core's or a process's CPU is whole percent and, counted over all cores, the whole machine's
/// 0.1 % (2 to 12 cores) or 0.01 % (more cores; the Linux sampler takes the mean of the cores instead, see
/// [`mean_pct`]); at 10 s a core's is 0.1 %, at 100 s 0.01 %. Finer digits would be noise of the tick count
/// (a core counts 99 to 101 ticks in a second), not measurement, and they cost most of the space that CPU figures
/// take on disk (BENCHMARKS.md).
///
/// ```
/// use stabmon_core::units::cpu_pct_of_ticks;
/// assert_eq!(cpu_pct_of_ticks(3.0, 101.0), 3.0); // one core, 1 s: whole percent
/// assert_eq!(cpu_pct_of_ticks(3.0, 200.0), 1.5); // two cores, 1 s: 0.1 %
/// ```
pub fn cpu_pct_of_ticks(ticks: f64, whole_ticks: f64) -> f32 {
    if whole_ticks <= 0.0 {
        return 0.0;
    }
    let share = 100.0 / whole_ticks;
    // log10(1.25) ~ 0.097: a share down to 0.8 % still rounds to whole percent.
    let exp = (share.log10() + 0.097).floor().clamp(-2.0, 0.0);
    let step = 10f64.powf(exp);
    let steps = (ticks * share / step).round();
    // Through hundredths, so that the f32 is the one nearest to the decimal (as on the 0.01 % grid).
    ((steps * step * 100.0).round() / 100.0) as f32
}

/// The whole machine's share as the mean of its cores' shares: each value taken to hundredths (the decimal that
/// storage keeps), the mean rounded half up to 0.01 %; `None` for no values, or when one is missing, not finite, or
/// beyond `DECIMAL(9,2)`.
///
/// Samplers that read per-core times compute the whole machine's CPU this way (Linux: /proc/stat's `cpu` line is
/// summed in a separate pass from the `cpuN` lines, so it disagreed with their mean by a tick in 40 % of the seconds
/// here), which makes the machine's figures follow from the cores' exactly: storage leaves them out and puts them
/// back (stabmon-store, "Derived values"). A mean of shares weights every core alike; the tick sum weights cores by
/// the ticks they counted, which differ by one in a hundred.
///
/// ```
/// use stabmon_core::units::mean_pct;
/// assert_eq!(mean_pct([Some(3.0), Some(4.0)]), Some(3.5));
/// assert_eq!(mean_pct([Some(1.0), Some(0.0), Some(0.0)]), Some(0.33));
/// assert_eq!(mean_pct([Some(0.01), Some(0.0)]), Some(0.01)); // half up
/// assert_eq!(mean_pct([Some(1.0), None]), None);
/// assert_eq!(mean_pct(std::iter::empty()), None);
/// ```
pub fn mean_pct<I: IntoIterator<Item = Option<f32>>>(values: I) -> Option<f32> {
    /// The largest |hundredths| a `DECIMAL(9,2)` holds.
    const MAX_HUNDREDTHS: f64 = 999_999_999.0;
    let (mut sum, mut n) = (0i64, 0i64);
    for v in values {
        let hundredths = (f64::from(v?) * 100.0).round();
        if hundredths.is_nan() || hundredths.abs() > MAX_HUNDREDTHS {
            return None;
        }
        sum += hundredths as i64;
        n += 1;
    }
    if n == 0 {
        return None;
    }
    // floor((sum + n / 2) / n), in integers: half up for either sign.
    let q = (2 * sum + n).div_euclid(2 * n);
    Some((q as f64 / 100.0) as f32)
}

/// The share of `elapsed_us` spent stalled (`stalled_us`, from a `/proc/pressure` counter's change), in percent,
/// rounded to 0.1 % and at most 100; `None` when nothing elapsed.
///
/// 0.1 % is a millisecond of stall a second at 1 s. Below that the counters tick with the scheduler's noise (a
/// quiet machine reads 0.01-0.09 % of I/O stall most seconds), which cost more on disk than the whole machine's
/// CPU figures (BENCHMARKS.md); stalls worth finding are whole percent and more.
///
/// ```
/// use stabmon_core::units::stall_pct;
/// assert_eq!(stall_pct(12_345.0, 1_000_000.0), Some(1.2));
/// assert_eq!(stall_pct(400.0, 1_000_000.0), Some(0.0));
/// assert_eq!(stall_pct(1.0, 0.0), None);
/// ```
pub fn stall_pct(stalled_us: f64, elapsed_us: f64) -> Option<f32> {
    (elapsed_us > 0.0).then(|| {
        let tenths = (stalled_us / elapsed_us * 1000.0).round().min(1000.0);
        // Through hundredths, so that the f32 is the one nearest to the decimal (as on the 0.01 % grid).
        ((tenths * 10.0).round() / 100.0) as f32
    })
}

/// How many significant bits [`round_bytes`] keeps: 10, a relative error of at most 1/1024 (0.1 %).
pub const BYTES_SIGNIFICANT_BITS: u32 = 10;

/// A byte count rounded to [`BYTES_SIGNIFICANT_BITS`] significant bits, to the nearest: the resolution samples keep
/// for sizes that move all the time (resident and virtual size of processes and their per-name sums, available
/// memory, used swap).
///
/// That is three significant digits, what `htop` and `atop` show (2.54 GiB, 38.2 MiB): below 4 MiB every
/// multiple of a 4 KiB page stays exact, a 2.6 GiB process is known to 4 MiB. The digits below are the noise of a
/// breathing heap or the page cache, and they cost most of the space those columns take on disk (a synthetic day:
/// processes' resident sizes 0.76 -> 0.21 MB, BENCHMARKS.md). Rounding twice changes nothing.
///
/// ```
/// use stabmon_core::units::round_bytes;
/// assert_eq!(round_bytes(4096 * 1000), 4096 * 1000); // below 4 MiB, pages are exact
/// assert_eq!(round_bytes(2_600 << 20 | 12_345), 2_600 << 20); // 2.6 GiB: to 4 MiB
/// assert_eq!(round_bytes(round_bytes(123_456_789)), round_bytes(123_456_789));
/// ```
pub fn round_bytes(bytes: u64) -> u64 {
    let len = u64::BITS - bytes.leading_zeros();
    let Some(shift) = len.checked_sub(BYTES_SIGNIFICANT_BITS).filter(|&s| s > 0) else {
        return bytes;
    };
    let half = 1u64 << (shift - 1);
    // Rounding up may carry into a new leading bit (1023.6 -> 1024 units): a power of two, still 10 bits.
    match bytes.checked_add(half) {
        Some(up) => up >> shift << shift,
        None => bytes >> shift << shift,
    }
}

/// The resolution of [`Sample::lateness`](crate::Sample::lateness): 100 us.
///
/// Lateness tells how long after its tick a reading started: tenths of a millisecond on a calm machine, tens of
/// milliseconds when it is starved. Whole microseconds were the scheduler's noise and cost three times as much on
/// disk (BENCHMARKS.md); the interval a sample covers follows the lateness, so it has the same resolution.
pub const LATENESS_RESOLUTION: std::time::Duration = std::time::Duration::from_micros(100);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn flag_form_reads_back() {
        assert_eq!(format_duration(Duration::from_secs(2 * 86_400)), "2d");
        assert_eq!(format_duration(Duration::from_secs(7200)), "2h");
        assert_eq!(format_duration(Duration::from_secs(90)), "90s");
        assert_eq!(format_duration(Duration::from_millis(500)), "500ms");
        for d in [1, 999, 1000, 1500, 61_001, 86_400_000, 90_061_500] {
            let d = Duration::from_millis(d);
            assert_eq!(parse_duration(&format_duration(d)).ok(), Some(d), "{d:?}");
        }
    }

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

    #[test]
    fn cpu_pct_keeps_the_tick_resolution() {
        // One tick is ~1 % of a core at 1 s (99 to 101 ticks): whole percent, not the tick count's noise.
        assert_eq!(cpu_pct_of_ticks(3.0, 101.0), 3.0);
        assert_eq!(cpu_pct_of_ticks(3.0, 99.0), 3.0);
        assert_eq!(cpu_pct_of_ticks(50.0, 100.0), 50.0);
        assert_eq!(cpu_pct_of_ticks(101.0, 100.0), 101.0);
        // Two cores at 1 s: a tick is 0.5 % of the machine.
        assert_eq!(cpu_pct_of_ticks(3.0, 200.0), 1.5);
        assert_eq!(cpu_pct_of_ticks(1.0, 202.0), 0.5);
        // Sixteen cores at 1 s, or one core over 100 s: 0.01 %.
        assert_eq!(cpu_pct_of_ticks(1.0, 1600.0), 0.06);
        assert_eq!(cpu_pct_of_ticks(1.0, 3.0), 33.0);
        assert_eq!(cpu_pct_of_ticks(1234.0, 10_000.0), 12.34);
        // Ten ticks a second (0.1 s): never coarser than 1 %.
        assert_eq!(cpu_pct_of_ticks(1.0, 10.0), 10.0);
        assert_eq!(cpu_pct_of_ticks(5.0, 0.0), 0.0);
    }

    #[test]
    fn stalls_are_tenths_of_a_percent() {
        assert_eq!(stall_pct(0.0, 1e6), Some(0.0));
        assert_eq!(stall_pct(499.0, 1e6), Some(0.0));
        assert_eq!(stall_pct(500.0, 1e6), Some(0.1));
        assert_eq!(stall_pct(123_456.0, 1e6), Some(12.3));
        assert_eq!(stall_pct(3e6, 1e6), Some(100.0));
        assert_eq!(stall_pct(10_000.0, 10e6), Some(0.1));
        assert_eq!(stall_pct(1.0, 0.0), None);
    }

    #[test]
    fn bytes_keep_ten_significant_bits() {
        // Small counts and every page multiple below 4 MiB are exact.
        for b in [0, 1, 1023, 1024, 4096, 4096 * 1023, 4096 * 1024 - 4096] {
            assert_eq!(round_bytes(b), b);
        }
        // 4 MiB + 1 page: 11 significant bits in pages, rounded to the nearest 8 KiB (ties away from zero).
        assert_eq!(round_bytes((4 << 20) + 4096), (4 << 20) + 8192);
        assert_eq!(round_bytes((4 << 20) + 4095), 4 << 20);
        // Relative error at most 1/1024 of the value, and rounding is idempotent and monotone.
        let mut x: u64 = 1;
        let mut prev = 0;
        for _ in 0..4000 {
            x = x
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407)
                >> 20;
            let r = round_bytes(x);
            assert!(r.abs_diff(x) as f64 <= x as f64 / 1024.0, "{x} -> {r}");
            assert_eq!(round_bytes(r), r, "{x}");
            assert!(
                u64::BITS - r.trailing_zeros().min(63) - r.leading_zeros()
                    <= BYTES_SIGNIFICANT_BITS
                    || r == 0
            );
            prev = prev.max(r);
        }
        assert!(prev > 0);
        let mut sorted: Vec<u64> = (0..3000u64).map(|i| i * 7919 * 1021).collect();
        sorted.sort_unstable();
        let rounded: Vec<u64> = sorted.iter().map(|&b| round_bytes(b)).collect();
        assert!(rounded.windows(2).all(|w| w[0] <= w[1]));
        // No overflow at the top.
        assert_eq!(round_bytes(u64::MAX), u64::MAX >> 54 << 54);
    }
}
