//! Latency spikes and outages, per target, over the probes the samples carry.

use std::collections::VecDeque;
use std::time::Duration;

use super::detect::{MAD_TO_SIGMA, Run, hysteresis_step, median_mad_near, micros, order_key};
use super::view::View;
use super::{DetectOptions, Incident, IncidentKind};
use crate::human;
use crate::series::ProbeList;
use crate::time::Timestamp;

/// Milliseconds as a [`Duration`], for [`human::duration`] (not a number or below zero: zero).
fn ms(v: f64) -> Duration {
    Duration::try_from_secs_f64(v / 1000.0).unwrap_or_default()
}

/// Finds latency spikes and outages in the probes of `samples`; see the [module docs](super).
pub(crate) fn latency_incidents<V: View + ?Sized>(
    samples: &V,
    opts: &DetectOptions,
    out: &mut Vec<Incident>,
) {
    for (target, probes) in samples.probes().iter() {
        spikes(target, probes, opts, out);
        outages(target, probes, opts, out);
    }
}

fn spikes(target: &str, probes: &ProbeList, opts: &DetectOptions, out: &mut Vec<Incident>) {
    // The successful probes, as indexes into `probes` (4 bytes each, not a copy of a month of round trips).
    let ok: Vec<u32> = probes
        .iter()
        .enumerate()
        .filter(|(_, p)| p.round_trip_ms().is_some_and(f64::is_finite))
        .map(|(i, _)| i as u32)
        .collect();
    // The `k`th successful probe's start (microseconds) and round trip (milliseconds).
    let ok_at = |k: usize| {
        let p = probes.get(ok[k] as usize);
        (p.ts.as_unix_micros(), p.round_trip_ms().unwrap_or(0.0))
    };
    if ok.is_empty() {
        return;
    }
    let window = micros(opts.baseline_window).max(1);
    let step = micros(opts.baseline_step).max(1);
    let max_frozen = micros(opts.max_frozen);
    let mut ring: VecDeque<(i64, f32)> = VecDeque::new();
    // The `order_key`s of the values a recomputation selects from.
    let mut scratch: Vec<i32> = Vec::new();
    let mut band: Vec<i32> = Vec::new();
    // The last median and MAD, where selection looks first.
    let mut last: Option<(f64, f64)> = None;
    let (mut median, mut sigma, mut next_update) = (0.0f64, 0.0f64, i64::MIN);
    let mut runs: Vec<Run> = Vec::new();
    let mut current: Option<Run> = None;
    // The successful probes in order, read a block at a time (what `ok_at` gives, without a lookup each).
    let in_order = probes.iter().filter_map(|p| {
        let v = p.round_trip_ms().filter(|v| v.is_finite())?;
        Some((p.ts.as_unix_micros(), v))
    });
    // The start of the current run's first probe.
    let mut run_start = i64::MIN;
    for (i, (ts, v)) in in_order.enumerate() {
        if current.is_none() {
            run_start = ts;
        }
        let frozen = current.is_some() && ts - run_start < max_frozen;
        if !frozen && ts >= next_update {
            next_update = ts.saturating_add(step);
            let cutoff = ts.saturating_sub(window);
            while ring.front().is_some_and(|(t, _)| *t < cutoff) {
                ring.pop_front();
            }
            let covered = ring.front().is_some_and(|(t, _)| ts - *t >= window / 2);
            scratch.clear();
            if covered && ring.len() >= 5 {
                scratch.extend(ring.iter().map(|(_, v)| order_key(*v)));
            } else {
                // Warm-up: no trailing history yet, take the window that follows.
                let end = ts.saturating_add(window);
                scratch.extend(
                    (i..ok.len())
                        .map(ok_at)
                        .take_while(|(t, _)| *t < end)
                        .map(|(_, v)| order_key(v as f32)),
                );
            }
            if let Some((m, mad)) = median_mad_near(&mut scratch, last, &mut band) {
                median = m;
                sigma = MAD_TO_SIGMA * mad;
                last = Some((m, mad));
            }
        }
        let enter = (median + opts.mad_k * sigma)
            .max(median + opts.latency_min_rise_ms)
            .max(median * opts.latency_min_ratio);
        let exit = median + opts.exit_ratio * (enter - median);
        // Runs are slow stretches of the successful probes (indexes into `ok`).
        hysteresis_step(&mut current, &mut runs, i, v, (enter, exit), median, |k| {
            ok_at(k).1
        });
        if current.is_none() || !frozen {
            ring.push_back((ts, v as f32));
        }
    }
    runs.extend(current);
    // Merge runs closer than the merge gap, then drop those that were slow for less than the minimum duration in
    // all (a run is slow from the start of its first slow probe to the end of its last one; the time between
    // merged runs does not count, so an outlier does not stretch a short stall into an incident).
    let finish = |k: usize| ok_at(k).0.saturating_add((ok_at(k).1 * 1000.0) as i64);
    let merge_gap = micros(opts.merge_gap);
    let mut merged: Vec<(Run, i64)> = Vec::with_capacity(runs.len());
    for r in runs {
        let slow = finish(r.end) - ok_at(r.start).0;
        if let Some((last, total)) = merged.last_mut()
            && ok_at(r.start).0 - finish(last.end) < merge_gap
        {
            last.end = r.end;
            *total += slow;
            if ok_at(r.peak).1 > ok_at(last.peak).1 {
                last.peak = r.peak;
            }
            continue;
        }
        merged.push((r, slow));
    }
    let min_duration = micros(opts.latency_min_duration);
    for (r, slow) in merged {
        let (start, end) = (ok_at(r.start).0, finish(r.end));
        if slow < min_duration {
            continue;
        }
        let mut inc = Incident::new(
            IncidentKind::LatencySpike,
            Timestamp::from_unix_micros(start),
            Timestamp::from_unix_micros(end),
        );
        inc.peak = Timestamp::from_unix_micros(ok_at(r.peak).0);
        inc.magnitude = ok_at(r.peak).1;
        inc.summary = format!(
            "{target}: {} (baseline {})",
            human::duration(ms(inc.magnitude)),
            human::duration(ms(r.base))
        );
        inc.target = Some(target.to_owned());
        out.push(inc);
    }
}

fn outages(target: &str, probes: &ProbeList, opts: &DetectOptions, out: &mut Vec<Incident>) {
    let n = probes.len();
    let min_probes = (opts.outage_min_probes as usize).max(1);
    if n < min_probes {
        return;
    }
    let ts = |i: usize| probes.ts(i).as_unix_micros();
    // failures[k]: failed probes before index k.
    let mut failures: Vec<u32> = Vec::with_capacity(n + 1);
    failures.push(0);
    let mut count = 0u32;
    for p in probes.iter() {
        count += u32::from(!p.outcome.is_ok());
        failures.push(count);
    }
    let failed = |i: usize| failures[i + 1] != failures[i];
    let failures_in = |from: usize, to: usize| (failures[to] - failures[from]) as usize;
    let window = micros(opts.outage_window);
    let enter = opts.outage_loss_floor.clamp(f64::MIN_POSITIVE, 1.0);
    let exit = enter * opts.exit_ratio;
    let mut spans: Vec<(usize, usize)> = Vec::new();
    let mut current: Option<(usize, usize)> = None;
    let mut j_time = 0usize;
    // The start times at `i` and at `j_time`, read in order.
    let mut lagging = probes.iter().map(|p| p.ts.as_unix_micros());
    let mut ts_j = lagging.next().unwrap_or(0);
    for (i, p) in probes.iter().enumerate() {
        let ts_i = p.ts.as_unix_micros();
        while ts_i - ts_j > window {
            j_time += 1;
            let Some(t) = lagging.next() else {
                break;
            };
            ts_j = t;
        }
        if i + 1 < min_probes {
            continue;
        }
        let j = j_time.min(i + 1 - min_probes);
        let loss = failures_in(j, i + 1) as f64 / (i + 1 - j) as f64;
        match &mut current {
            None if loss >= enter => {
                let first = (j..=i).find(|&k| failed(k)).unwrap_or(i);
                current = Some((first, i));
            }
            Some((_, last)) if loss >= exit && failed(i) => *last = i,
            Some(_) if loss >= exit => {}
            Some(span) => {
                spans.push(*span);
                current = None;
            }
            None => {}
        }
    }
    spans.extend(current);
    let merge_gap = micros(opts.merge_gap);
    let mut merged: Vec<(usize, usize)> = Vec::with_capacity(spans.len());
    for s in spans {
        if let Some(last) = merged.last_mut()
            && ts(s.0) - ts(last.1) < merge_gap
        {
            last.1 = s.1;
            continue;
        }
        merged.push(s);
    }
    for (first, last) in merged {
        // It lasts until the next probe that succeeded (the target was back), else until the last failure.
        let back = (last + 1..n).find(|&k| !failed(k));
        let end = back.map_or(ts(last), &ts);
        let lost = failures_in(first, last + 1);
        let count = last + 1 - first;
        let loss = lost as f64 / count as f64;
        let mut inc = Incident::new(
            IncidentKind::LatencyOutage,
            Timestamp::from_unix_micros(ts(first)),
            Timestamp::from_unix_micros(end),
        );
        inc.magnitude = 100.0 * loss;
        inc.summary = format!(
            "{target}: outage {} ({} loss)",
            human::duration(Duration::from_micros(
                u64::try_from(end - ts(first)).unwrap_or(0)
            )),
            human::pct(inc.magnitude)
        );
        inc.target = Some(target.to_owned());
        out.push(inc);
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::ms;
    use crate::analysis::{DetectOptions, IncidentKind, detect_incidents};
    use crate::human;
    use crate::latency::{LatencyProbe, ProbeOutcome};
    use crate::sample::Sample;
    use crate::time::Timestamp;

    fn at(s: u64) -> Timestamp {
        Timestamp::from_unix_secs(1_795_564_800).saturating_add(Duration::from_secs(s))
    }

    /// An hour at 1 s of two targets with normal jitter (router 3 ms ± 0.8, vpn 30 ms ± 6, an outlier at three
    /// times the round trip now and then, a lost probe rarely); `round_trip(target, second)` may change a probe:
    /// `Some(ms)` for its round trip, `None` for a failure. Each probe arrives with the sample after it completed.
    fn series(round_trip: impl Fn(&str, u64, f64) -> Option<f64>) -> Vec<Sample> {
        let mut rng = 0x2545_f491_4f6c_dd1du64;
        let mut uniform = move || {
            rng ^= rng << 13;
            rng ^= rng >> 7;
            rng ^= rng << 17;
            (rng >> 11) as f64 / (1u64 << 53) as f64
        };
        let mut samples: Vec<Sample> = (0..3600)
            .map(|i| {
                let mut s = Sample::new(at(i), "nas");
                s.interval = Duration::from_secs(1);
                s
            })
            .collect();
        for i in 0..3599u64 {
            for (target, base, jitter) in [("router", 3.0, 0.8), ("vpn", 30.0, 6.0)] {
                let mut ms = base + jitter * 1.5 * (uniform() + uniform() - 1.0);
                if uniform() < 0.004 {
                    ms *= 3.0;
                }
                let lost = uniform() < 0.001;
                let ms = if lost {
                    None
                } else {
                    round_trip(target, i, ms)
                };
                let probe = match ms {
                    Some(ms) => LatencyProbe::ok(target, at(i), (ms * 1000.0).round() / 1000.0),
                    None if i % 2 == 0 => LatencyProbe::new(target, at(i), ProbeOutcome::Timeout),
                    None => LatencyProbe::new(target, at(i), ProbeOutcome::Refused),
                };
                let arrives = (i + 1 + ms.map_or(0, |m| (m / 1000.0) as u64)).min(3599);
                samples[arrives as usize].latency.push(probe);
            }
        }
        samples
    }

    #[test]
    fn spike_and_outage_found_on_their_target_at_their_time() {
        let samples = series(|target, i, ms| match target {
            "router" if (1800..1830).contains(&i) => Some(ms + 2100.0),
            "vpn" if (2400..2445).contains(&i) => None,
            _ => Some(ms),
        });
        let found = detect_incidents(&samples, &DetectOptions::default());
        let kinds: Vec<(IncidentKind, Option<&str>)> = found
            .iter()
            .map(|i| (i.kind, i.target.as_deref()))
            .collect();
        assert_eq!(
            kinds,
            [
                (IncidentKind::LatencySpike, Some("router")),
                (IncidentKind::LatencyOutage, Some("vpn")),
            ],
            "{found:#?}"
        );
        let spike = &found[0];
        assert_eq!(spike.start, at(1800));
        assert!(
            spike.end >= at(1831) && spike.end <= at(1832),
            "{}",
            spike.end
        );
        assert!((1800..1830).any(|s| spike.peak == at(s)));
        assert!(spike.magnitude > 2100.0 && spike.magnitude < 2106.0);
        assert!(spike.culprit.is_none());
        assert_eq!(
            spike.label(),
            format!(
                "router: {} (baseline 3.0 ms)",
                human::duration(ms(spike.magnitude))
            )
        );
        let outage = &found[1];
        assert_eq!((outage.start, outage.end), (at(2400), at(2445)));
        assert_eq!(outage.magnitude, 100.0);
        assert_eq!(outage.label(), "vpn: outage 45 s (100% loss)");
    }

    #[test]
    fn short_blips_and_small_rises_are_no_incidents() {
        let samples = series(|target, i, ms| match target {
            // Two lost probes in a row, and a 1.5 s stall of one probe.
            "vpn" if i == 1000 || i == 1001 => None,
            "vpn" if i == 2000 => Some(1500.0),
            // The router triples from 3 ms to 9 ms for ten minutes: below the 50 ms floor.
            "router" if (2400..3000).contains(&i) => Some(ms * 3.0),
            _ => Some(ms),
        });
        let found = detect_incidents(&samples, &DetectOptions::default());
        assert!(found.is_empty(), "{found:#?}");
    }

    #[test]
    fn flat_noisy_series_has_no_incident() {
        let samples = series(|_, _, ms| Some(ms));
        let probes = samples.iter().map(|s| s.latency.len()).sum::<usize>();
        assert_eq!(probes, 2 * 3599);
        let found = detect_incidents(&samples, &DetectOptions::default());
        assert!(found.is_empty(), "{found:#?}");
    }

    #[test]
    fn round_trips_at_a_glance() {
        let at_a_glance = |v: f64| human::duration(ms(v));
        assert_eq!(at_a_glance(0.347), "0.35 ms");
        assert_eq!(at_a_glance(2.14), "2.1 ms");
        assert_eq!(at_a_glance(48.2), "48 ms");
        assert_eq!(at_a_glance(2104.0), "2.1 s");
        assert_eq!(at_a_glance(12_400.0), "12 s");
        assert_eq!(at_a_glance(-1.0), "0 s");
    }
}
