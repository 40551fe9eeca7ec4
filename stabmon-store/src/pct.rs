//! (Schemas 1-4, read only; schema 5 stores `float32`.) Exact, compact storage of `f32` percentages: a decimal in
//! hundredths plus an adjustment in f32 ULPs.
//!
//! A percentage `v` is stored as `q = round(v * 100)` (a `DECIMAL(9,2)` column that SQL users read directly)
//! and `adj`, the difference between the bits of `v` and of the `f32` nearest to `q / 100`, as a wrapping 32-bit
//! integer. Decoding `f32::from_bits(bits(q / 100) + adj)` gives `v` back bit for bit, for every `f32` (NaN,
//! infinities and `-0.0` included: those use `q = 0` and carry their whole bit pattern in `adj`).
//!
//! Values already on the 0.01 grid (what the samplers record) have `adj = 0`, which costs nearly nothing; a sum
//! of such values computed in `f32` (the per-name totals) is a few ULPs off the grid, a small `adj`.

use stabmon_core::CpuUsage;

/// The largest |hundredths| a `DECIMAL(9,2)` holds.
const MAX_Q: f64 = 999_999_999.0;

/// The `f32` nearest to `q / 100`.
///
/// Within a `DECIMAL(9,2)` (|q| <= 999,999,999) as `q * 0.01`: a multiplication has a fraction of a division's
/// latency, and this is decoded for every percentage of a process or name row. The `f64` product is within a unit
/// in its last place of the quotient, and a quotient is either a point halfway between two `f32`s itself (which
/// the product then is too) or much farther from one, so the `f32` is the same (an ignored test checks every such
/// `q`, another a stride of them).
#[inline]
pub(crate) fn grid(q: i32) -> f32 {
    if q.unsigned_abs() <= 999_999_999 {
        (f64::from(q) * 0.01) as f32
    } else {
        (f64::from(q) / 100.0) as f32
    }
}

/// `x` rounded half away from zero, as [`f64::round`] (but for the sign of a zero), without a call to the C
/// library's `round` where `x` is smaller than 2^52 (its fraction then found by truncating to an integer).
#[inline]
fn round_half_away(x: f64) -> f64 {
    if x.abs() < 4_503_599_627_370_496.0 {
        let t = x as i64 as f64;
        let frac = x - t;
        if frac >= 0.5 {
            t + 1.0
        } else if frac <= -0.5 {
            t - 1.0
        } else {
            t
        }
    } else {
        x.round()
    }
}

/// Splits a percentage into hundredths and an ULP adjustment.
pub(crate) fn encode(v: f32) -> (i32, i32) {
    let scaled = round_half_away(f64::from(v) * 100.0);
    let q = if v.is_finite() && scaled.abs() <= MAX_Q && v.to_bits() != (-0.0f32).to_bits() {
        scaled as i32
    } else {
        0
    };
    let adj = (v.to_bits() as i32).wrapping_sub(grid(q).to_bits() as i32);
    (q, adj)
}

/// Puts a percentage back together.
pub(crate) fn decode(q: i32, adj: i32) -> f32 {
    f32::from_bits((grid(q).to_bits() as i32).wrapping_add(adj) as u32)
}

/// CPU busy as the sum of user, system and steal, in hundredths (the decimals stored for them), when all three are
/// known. Schemas 2-4 left a busy value out (null) where it equals this, and the reader puts it back (see the crate
/// docs, "Older versions").
pub(crate) fn busy_from_parts(
    user: Option<f32>,
    system: Option<f32>,
    steal: Option<f32>,
) -> Option<f32> {
    let q = encode(user?)
        .0
        .checked_add(encode(system?).0)?
        .checked_add(encode(steal?).0)?;
    Some(grid(q))
}

/// The whole machine's shares that schema 4 derives from the cores' ([`machine_part`]), in the order of their bits
/// in `samples.exact` slot 12: user, system, iowait, steal.
pub(crate) const MACHINE_PARTS: [fn(&CpuUsage) -> Option<f32>; 4] = [
    |c| c.user_pct,
    |c| c.system_pct,
    |c| c.iowait_pct,
    |c| c.steal_pct,
];

/// (Schema 4.) The whole machine's share `part` as the mean of the cores' ([`stabmon_core::units::mean_pct`]: the
/// cores' hundredths, the mean rounded half up), when every core has it. Schema 4 left a machine share out (null)
/// where it equals this, and the reader puts it back (see the crate docs, "Older versions").
pub(crate) fn machine_part(cores: &[CpuUsage], part: fn(&CpuUsage) -> Option<f32>) -> Option<f32> {
    stabmon_core::units::mean_pct(cores.iter().map(part))
}

/// (Schema 4.) The whole machine's busy share where it is left out: the mean of the cores' busy shares when there
/// are cores (the sum of three rounded means would differ from it on 3, 6 or 8 cores), else user + system + steal
/// ([`busy_from_parts`]).
pub(crate) fn machine_busy(cores: &[CpuUsage], parts: [Option<f32>; 3]) -> Option<f32> {
    if cores.is_empty() {
        busy_from_parts(parts[0], parts[1], parts[2])
    } else {
        stabmon_core::units::mean_pct(cores.iter().map(|c| Some(c.busy_pct)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn by_division(q: i32) -> f32 {
        (f64::from(q) / 100.0) as f32
    }

    /// The multiplication gives the quotient's `f32`: for a stride of `q`, the ends, and points halfway between
    /// `f32`s (4194304.25 and 8388608.5).
    #[test]
    fn grid_is_the_nearest_f32_to_the_quotient() {
        let mut qs: Vec<i32> = (-1_000_000_005..=1_000_000_005).step_by(997).collect();
        qs.extend(-20_000..=20_000);
        qs.extend([
            999_999_999,
            -999_999_999,
            i32::MAX,
            i32::MIN,
            838_860_850,
            419_430_425,
        ]);
        for q in qs {
            assert_eq!(grid(q).to_bits(), by_division(q).to_bits(), "{q}");
        }
    }

    /// Every `q` of a `DECIMAL(9,2)` (two billion: seconds in a release build, minutes in a debug one).
    #[test]
    #[ignore = "two billion values: cargo test --release -p stabmon-store -- --ignored grid"]
    fn grid_is_the_nearest_f32_to_the_quotient_for_every_decimal() {
        for q in -999_999_999..=999_999_999 {
            assert_eq!(grid(q).to_bits(), by_division(q).to_bits(), "{q}");
        }
    }

    #[test]
    fn rounding_is_half_away_from_zero_as_the_c_library_rounds() {
        let mut xs = vec![
            0.5,
            -0.5,
            1.5,
            2.5,
            -2.5,
            0.49999999999999994,
            -0.49999999999999994,
            4_503_599_627_370_495.5,
            4_503_599_627_370_497.0,
            1e300,
            -1e300,
            f64::INFINITY,
        ];
        xs.extend((0..200_000).map(|k| f64::from(k) * 0.37 - 37_000.0));
        xs.extend((0..10_000).map(|k| f64::from(f32::from_bits(0x3f00_0000 + k * 977)) * 100.0));
        for x in xs {
            assert_eq!(round_half_away(x), x.round(), "{x}");
        }
        assert!(round_half_away(f64::NAN).is_nan());
    }

    #[test]
    fn busy_is_the_sum_of_the_parts_in_hundredths() {
        assert_eq!(busy_from_parts(Some(3.0), Some(1.5), Some(0.0)), Some(4.5));
        assert_eq!(busy_from_parts(Some(0.1), Some(0.2), Some(0.0)), Some(0.3));
        assert_eq!(busy_from_parts(Some(3.0), None, Some(0.0)), None);
        assert_eq!(busy_from_parts(None, None, None), None);
    }

    #[test]
    fn round_trips_every_kind_of_value_bit_for_bit() {
        let values = [
            0.0,
            -0.0,
            1.0,
            0.01,
            99.98,
            187.0,
            1.0 / 1.000_213,
            100.0 / 3.0,
            -5.25,
            f32::MIN_POSITIVE,
            f32::MAX,
            f32::MIN,
            f32::INFINITY,
            f32::NEG_INFINITY,
            f32::NAN,
            9_999_999.0,
            12_345_678.0,
        ];
        for v in values {
            let (q, adj) = encode(v);
            assert_eq!(decode(q, adj).to_bits(), v.to_bits(), "{v}");
        }
        // On the grid: no adjustment.
        assert_eq!(encode(99.98), (9998, 0));
        assert_eq!(
            encode(((1.0f64 / 1.000_213 * 100.0).round() / 100.0) as f32).1,
            0
        );
        // Off the grid: the decimal is the rounded value.
        assert_eq!(encode(100.0 / 3.0).0, 3333);
        // A sum of grid values in f32 is only a few ULPs off.
        let sum = (0..40).fold(0.0f32, |a, _| a + 0.99);
        let (q, adj) = encode(sum);
        assert_eq!(q, 3960);
        assert!(adj.abs() < 64, "{adj}");
    }
}
