#![allow(clippy::unwrap_used)]

use super::*;
use crate::attribution::{ProcessDetails, ProcessStat, attribute};
use crate::sample::{CpuUsage, Memory, Pressure};

const MIB: u64 = 1 << 20;
const GIB: u64 = 1 << 30;

fn t0() -> Timestamp {
    Timestamp::from_unix_secs(1_795_575_600) // 2026-11-25T03:00:00Z
}

fn at(s: u64) -> Timestamp {
    t0().saturating_add(Duration::from_secs(s))
}

/// A hand-made process for [`sample`]: (pid, name, start second, cpu %, children cpu %, rss bytes).
#[derive(Clone, Copy)]
struct P(u32, &'static str, u64, f32, f32, u64);

/// A sample at second `s` with machine CPU `cpu`, 16 GiB of memory of which `used` in use, and these processes,
/// top `n` of them recorded.
fn sample(s: u64, cpu: f32, used: u64, n: usize, procs: &[P]) -> Sample {
    let mut x = Sample::new(at(s), "box");
    x.interval = Duration::from_secs(1);
    x.boot_id = Some("boot-1".to_owned());
    x.boot_time = at(0).saturating_sub(Duration::from_secs(86_400));
    x.cpu = CpuUsage::new(cpu);
    x.memory = Memory::new(16 * GIB, 16 * GIB - used);
    x.oom_kill_count = Some(0);
    let stats: Vec<ProcessStat<'_>> = procs
        .iter()
        .map(|p| {
            let mut st = ProcessStat::new(p.0, p.1, at(p.2));
            st.cpu_pct = p.3;
            st.children_cpu_pct = Some(p.4);
            st.rss_bytes = p.5;
            st
        })
        .collect();
    x.top = attribute(n, &stats, |p| {
        ProcessDetails::new(Some(format!("/usr/bin/{} --serve", p.name)), None)
    });
    x
}

/// Small CPU noise, deterministic: 0..4 %.
fn noise(i: u64) -> f32 {
    ((i * 7919) % 5) as f32
}

fn kinds(incidents: &[Incident]) -> Vec<IncidentKind> {
    incidents.iter().map(|i| i.kind).collect()
}

// ---- labels ------------------------------------------------------------------------------------------------

#[test]
fn culprit_labels_exact_text() {
    let mut c = Culprit::new("ffmpeg");
    c.pid = Some(4123);
    c.cpu_pct = Some(187.2);
    assert_eq!(c.label(), "ffmpeg (pid 4123) 187% CPU");

    let mut c = Culprit::new("java");
    c.rss_growth_bytes = Some(2_100_000_000);
    c.rss_bytes = Some(4_000_000_000);
    assert_eq!(c.label(), "java +2.1 GB RSS");

    let mut c = Culprit::new("php-fpm");
    c.process_count = 40;
    c.cpu_pct = Some(160.0);
    assert_eq!(c.label(), "php-fpm (x40) 160% CPU");

    let mut c = Culprit::new("leaky");
    c.pid = Some(77);
    c.rss_bytes = Some(5_600_000_000);
    assert_eq!(c.label(), "leaky (pid 77) 5.6 GB RSS");

    let mut c = Culprit::new("shrinker");
    c.rss_growth_bytes = Some(-300_000_000);
    c.cpu_pct = Some(3.0);
    assert_eq!(c.label(), "shrinker 3% CPU, -300 MB RSS");
    assert_eq!(Culprit::new("bare").label(), "bare");
}

#[test]
fn incident_labels_exact_text() {
    let mut inc = Incident::new(IncidentKind::CpuSurge, at(0), at(60));
    inc.summary = "CPU 97% (baseline 4%)".to_owned();
    assert_eq!(inc.label(), "CPU 97% (baseline 4%)");
    let mut c = Culprit::new("ffmpeg");
    c.pid = Some(4123);
    c.cpu_pct = Some(187.0);
    inc.culprit = Some(c.clone());
    assert_eq!(inc.label(), "ffmpeg (pid 4123) 187% CPU");
    assert_eq!(inc.duration(), Duration::from_secs(60));

    let mut oom = Incident::new(IncidentKind::OomKill, at(0), at(1));
    c.cpu_pct = None;
    c.rss_bytes = Some(5_600_000_000);
    oom.culprit = Some(c);
    assert_eq!(oom.label(), "OOM killed ffmpeg (pid 4123) 5.6 GB RSS");
    assert_eq!(IncidentKind::Gap(GapKind::Died).to_string(), "gap");
    assert_eq!(GapKind::Rebooted.describe(), "machine rebooted");
}

// ---- CPU surges and culprits, hand-made ----------------------------------------------------------------------

/// 20 min at 1 s; `hog` decides the processes and machine CPU of second `i` (None: quiet).
fn series(len: u64, n: usize, hog: impl Fn(u64) -> Option<(f32, Vec<P>)>) -> Vec<Sample> {
    (0..len)
        .map(|i| {
            let mut procs = vec![
                P(100, "sshd", 0, noise(i) / 4.0, 0.0, 9 * MIB),
                P(200, "java", 0, 2.0 + noise(i), 0.0, 3 * GIB),
                P(300, "cron", 0, 0.0, 0.0, 3 * MIB),
            ];
            let cpu = match hog(i) {
                Some((cpu, extra)) => {
                    procs.extend(extra);
                    cpu
                }
                None => 3.0 + noise(i),
            };
            sample(i, cpu, 4 * GIB, n, &procs)
        })
        .collect()
}

#[test]
fn floors_keep_small_rises_quiet() {
    // 3 % -> 6 % is no incident, nor 5 % -> 45 % (under the 50 % floor), nor a rise of 20 points to 55 %.
    for level in [6.0, 45.0] {
        let s = series(1200, 10, |i| {
            (700..800).contains(&i).then(|| (level, vec![]))
        });
        assert!(
            detect_incidents(&s, &DetectOptions::default()).is_empty(),
            "{level}"
        );
    }
    let s: Vec<Sample> = (0..1200)
        .map(|i| {
            sample(
                i,
                if (700..800).contains(&i) {
                    55.0
                } else {
                    35.0 + noise(i)
                },
                GIB,
                10,
                &[],
            )
        })
        .collect();
    assert!(detect_incidents(&s, &DetectOptions::default()).is_empty());
    // Lower floors find them: the thresholds are really in use.
    let opts = DetectOptions::default()
        .cpu_floor_pct(10.0)
        .cpu_min_rise_pct(10.0);
    assert_eq!(
        kinds(&detect_incidents(&s, &opts)),
        [IncidentKind::CpuSurge]
    );
}

#[test]
fn min_duration_and_merging() {
    // An 8 s burst is too short; two 15 s bursts 10 s apart are one incident.
    let s = series(1200, 10, |i| {
        let on = (700..708).contains(&i) || (900..915).contains(&i) || (925..940).contains(&i);
        on.then(|| (90.0, vec![P(999, "burst", 690, 180.0, 0.0, MIB)]))
    });
    let inc = detect_incidents(&s, &DetectOptions::default());
    assert_eq!(kinds(&inc), [IncidentKind::CpuSurge]);
    assert_eq!((inc[0].start, inc[0].end), (at(900), at(939)));
    // With no merging they are two.
    let inc = detect_incidents(
        &s,
        &DetectOptions::default().merge_gap(Duration::from_secs(5)),
    );
    assert_eq!(inc.len(), 2);
    // With a shorter minimum the 8 s burst counts too.
    let inc = detect_incidents(
        &s,
        &DetectOptions::default().cpu_min_duration(Duration::from_secs(5)),
    );
    assert_eq!(inc.len(), 2);
    assert_eq!(inc[0].start, at(700));
}

#[test]
fn hysteresis_keeps_a_wobbling_surge_whole() {
    // 90 % with dips to 40 %: above the exit threshold (baseline ~5 + half the way to 50), so one incident.
    let s = series(1200, 10, |i| {
        (700..800).contains(&i).then(|| {
            let cpu = if i % 7 == 3 { 40.0 } else { 90.0 };
            (cpu, vec![P(999, "render", 650, cpu * 2.0, 0.0, MIB)])
        })
    });
    let inc = detect_incidents(&s, &DetectOptions::default().merge_gap(Duration::ZERO));
    assert_eq!(kinds(&inc), [IncidentKind::CpuSurge]);
    assert_eq!((inc[0].start, inc[0].end), (at(700), at(799)));
    assert_eq!(inc[0].summary, "CPU 90% (baseline 5%)");
}

#[test]
fn surge_at_the_very_start_uses_a_forward_baseline() {
    let s = series(1200, 10, |i| {
        (i < 60).then(|| (95.0, vec![P(999, "boot-job", 0, 190.0, 0.0, MIB)]))
    });
    let inc = detect_incidents(&s, &DetectOptions::default());
    assert_eq!(kinds(&inc), [IncidentKind::CpuSurge]);
    assert_eq!((inc[0].start, inc[0].end), (at(0), at(59)));
    assert_eq!(inc[0].label(), "boot-job (pid 999) 190% CPU");
}

#[test]
fn absent_process_counts_as_nth_not_zero() {
    // Top 2. Before: java 60 %, sshd 45 % (the 2nd place), "batch" 44 % just below the list, so absent.
    // During: batch 80 %, and "new" (started then) 70 %. Counting batch's absence as zero would give it a rise of
    // 80; as "at most 45" it rose by at most 35, less than new's 70.
    let quiet = |i: u64| {
        vec![
            P(200, "java", 0, 60.0, 0.0, GIB),
            P(100, "sshd", 0, 45.0, 0.0, MIB),
            P(300, "batch", 0, 44.0, 0.0, MIB),
        ]
        .into_iter()
        .map(|mut p| {
            p.3 += noise(i) / 10.0;
            p
        })
        .collect::<Vec<_>>()
    };
    let s: Vec<Sample> = (0..1200)
        .map(|i| {
            if (700..800).contains(&i) {
                let procs = [
                    P(300, "batch", 0, 80.0, 0.0, MIB),
                    P(400, "new", 700, 70.0, 0.0, MIB),
                    P(200, "java", 0, 10.0, 0.0, GIB),
                ];
                sample(i, 80.0, GIB, 2, &procs)
            } else {
                sample(i, 30.0 + noise(i), GIB, 2, &quiet(i))
            }
        })
        .collect();
    assert!(s[300].top.processes.iter().all(|p| p.name != "batch"));
    let c = culprit_for(
        &s,
        (at(700), at(799)),
        (at(100), at(700)),
        &IncidentKind::CpuSurge,
    )
    .unwrap();
    assert_eq!((c.name.as_str(), c.pid), ("new", Some(400)));
    let inc = detect_incidents(&s, &DetectOptions::default());
    assert_eq!(inc.len(), 1);
    assert_eq!(inc[0].label(), "new (pid 400) 70% CPU");
}

#[test]
fn parent_of_short_lived_children_is_the_culprit() {
    // make's children never show up in a sample; their CPU arrives as make's children's CPU.
    let s = series(1200, 10, |i| {
        (700..800)
            .contains(&i)
            .then(|| (55.0, vec![P(500, "make", 100, 0.5, 95.0, 20 * MIB)]))
    });
    let inc = detect_incidents(&s, &DetectOptions::default());
    assert_eq!(inc.len(), 1);
    assert_eq!(inc[0].label(), "make (pid 500) 96% CPU");
}

/// A storm of short-lived workers with exits recorded: the workers' name is the culprit with its exit count,
/// and the shell that spawned and reaped them (whose children's CPU carries the same CPU) does not win.
#[test]
fn storm_of_exits_under_one_name_names_the_workers() {
    let storm = 700..720u64;
    let mut s = series(1200, 10, |i| {
        storm
            .contains(&i)
            .then(|| (88.0, vec![P(500, "bash", 100, 2.0, 170.0, 4 * MIB)]))
    });
    for x in &mut s {
        let i = x.ts.duration_since(t0()).unwrap().as_secs();
        let mut exits = crate::Exits::default();
        // A little background churn all day.
        let mut sh = crate::ExitedName::new("sh");
        sh.count = 1;
        sh.cpu_time = Duration::from_millis(2);
        exits.names.push(sh);
        if storm.contains(&i) {
            // 412 workers in 20 s (20 or 21 a second), 1.7 s of CPU a second between them.
            let mut php = crate::ExitedName::new("php-cgi");
            php.count = if i < 712 { 21 } else { 20 };
            php.cpu_time = Duration::from_millis(1700);
            php.peak_rss_bytes = 30 * MIB;
            exits.names.insert(0, php);
        }
        exits.count = exits.names.iter().map(|n| n.count).sum();
        x.exits = Some(exits);
    }
    let inc = detect_incidents(&s, &DetectOptions::default());
    assert_eq!(kinds(&inc), vec![IncidentKind::CpuSurge]);
    let c = inc[0].culprit.as_ref().unwrap();
    assert_eq!((c.pid, c.exited_count), (None, 412));
    assert_eq!(inc[0].label(), "php-cgi (x412 exited) 170% CPU");
    // Without recorded exits, the same storm falls back to the parent's children's CPU.
    for x in &mut s {
        x.exits = None;
    }
    let inc = detect_incidents(&s, &DetectOptions::default());
    assert_eq!(inc[0].label(), "bash (pid 500) 172% CPU");
}

#[test]
fn two_equal_hogs_of_one_name_are_a_name() {
    let s = series(1200, 10, |i| {
        (700..800).contains(&i).then(|| {
            (
                60.0,
                vec![
                    P(600, "stress", 690, 100.0, 0.0, MIB),
                    P(601, "stress", 690, 100.0, 0.0, MIB),
                ],
            )
        })
    });
    let inc = detect_incidents(&s, &DetectOptions::default());
    let c = inc[0].culprit.as_ref().unwrap();
    assert_eq!((c.pid, c.process_count), (None, 2));
    assert_eq!(c.cmdline.as_deref(), Some("/usr/bin/stress --serve"));
    assert_eq!(inc[0].label(), "stress (x2) 200% CPU");
}

#[test]
fn leak_in_a_smaller_process_beats_a_bigger_flat_one() {
    // java is 6 GiB and flat (wobbling); "cache" starts at 200 MiB and grows 8 MiB/s for 5 minutes.
    let s: Vec<Sample> = (0..1800)
        .map(|i: u64| {
            let grown = i.saturating_sub(600).min(300) * 8 * MIB;
            let procs = [
                P(200, "java", 0, 20.0, 0.0, 6 * GIB + (i % 13) * 40 * MIB),
                P(300, "cache", 0, 1.0, 0.0, 200 * MIB + grown),
                P(100, "sshd", 0, 0.0, 0.0, 9 * MIB),
            ];
            sample(
                i,
                20.0 + noise(i),
                7 * GIB + grown + (i % 13) * 40 * MIB,
                10,
                &procs,
            )
        })
        .collect();
    let inc = detect_incidents(&s, &DetectOptions::default());
    assert_eq!(kinds(&inc), [IncidentKind::MemoryClimb]);
    let climb = &inc[0];
    assert!(
        climb.start >= at(590) && climb.start <= at(640),
        "{}",
        climb.start
    );
    assert!(
        climb.end >= at(860) && climb.end <= at(900),
        "{}",
        climb.end
    );
    let c = climb.culprit.as_ref().unwrap();
    assert_eq!((c.name.as_str(), c.pid), ("cache", Some(300)));
    assert!(c.rss_growth_bytes.unwrap() > 2 * GIB as i64);
    assert!(
        climb.label().starts_with("cache (pid 300) +2."),
        "{}",
        climb.label()
    );
    // The biggest process is java, which a "biggest wins" rule would have named.
    assert_eq!(
        s[800]
            .top
            .processes
            .iter()
            .find(|p| p.rss_rank == Some(1))
            .unwrap()
            .name,
        "java"
    );
}

#[test]
fn pressure_stalls() {
    let s: Vec<Sample> = (0..1200)
        .map(|i| {
            let mut x = sample(i, 10.0 + noise(i), GIB, 10, &[P(1, "db", 0, 5.0, 0.0, GIB)]);
            x.pressure = Some(Pressure {
                memory_full_pct: Some(if (600..630).contains(&i) { 30.0 } else { 0.5 }),
                io_full_pct: Some(if (900..905).contains(&i) { 50.0 } else { 0.0 }),
                // Not measured for a while: no stall; the others are high then, and not read.
                cpu_some_pct: (!(700..720).contains(&i)).then_some(2.0),
                memory_some_pct: Some(90.0),
                io_some_pct: Some(90.0),
            });
            x
        })
        .collect();
    let inc = detect_incidents(&s, &DetectOptions::default());
    // The 5 s io stall is too short.
    assert_eq!(kinds(&inc), [IncidentKind::PressureStall]);
    assert_eq!((inc[0].start, inc[0].end), (at(600), at(629)));
    assert_eq!(inc[0].summary, "memory pressure: full 30%");
    let opts = DetectOptions::default().pressure_min_duration(Duration::from_secs(3));
    let inc = detect_incidents(&s, &opts);
    assert_eq!(inc.len(), 2);
    assert_eq!(inc[1].summary, "io pressure: full 50%");
    assert_eq!(inc[1].culprit, None);

    // Over columns, which read each figure from its own column: the same.
    let series = crate::series::SystemSeries::from_samples(&s);
    assert_eq!(
        detect_incidents_in(&series, &InMemory(&s), &opts).unwrap(),
        inc
    );
    // And a cpu stall, named by both.
    let cpu: Vec<Sample> = s
        .iter()
        .cloned()
        .enumerate()
        .map(|(i, mut x)| {
            if let Some(p) = &mut x.pressure
                && (300..340).contains(&i)
            {
                p.cpu_some_pct = Some(70.0);
            }
            x
        })
        .collect();
    let want = detect_incidents(&cpu, &opts);
    assert_eq!(
        want.iter()
            .filter(|i| i.summary == "cpu pressure: some 70%")
            .count(),
        1,
        "{want:?}"
    );
    let series = crate::series::SystemSeries::from_samples(&cpu);
    assert_eq!(
        detect_incidents_in(&series, &InMemory(&cpu), &opts).unwrap(),
        want
    );
}

// ---- gaps --------------------------------------------------------------------------------------------------

/// Samples in memory as the windows of a series.
struct InMemory<'a>(&'a [Sample]);

impl crate::series::WindowSource for InMemory<'_> {
    fn samples_between(&self, from: Timestamp, to: Timestamp) -> Result<Vec<Sample>, crate::Error> {
        self.0.samples_between(from, to)
    }
}

fn plain(secs: &[u64]) -> Vec<Sample> {
    secs.iter().map(|&s| sample(s, 5.0, GIB, 10, &[])).collect()
}

#[test]
fn gaps_are_classified() {
    let mut s = plain(&[0, 1, 2, 3, 4, 60, 61, 62, 63, 200, 201, 202, 400, 401, 402]);
    // Reboot between 202 and 400.
    for x in &mut s[12..] {
        x.boot_id = Some("boot-2".to_owned());
        x.boot_time = at(380);
    }
    let opts = DetectOptions::default();
    let gaps = find_gaps(&s, &[at(64)], &opts);
    let got: Vec<_> = gaps.iter().map(|g| (g.start, g.end, g.kind)).collect();
    assert_eq!(
        got,
        [
            (at(4), at(60), GapKind::Died),
            (at(63), at(200), GapKind::StoppedCleanly),
            (at(202), at(400), GapKind::Rebooted),
        ]
    );
    assert_eq!(gaps[1].clean_stop, Some(at(64)));
    // A clean stop before an orderly reboot is remembered, the kind says reboot.
    let gaps = find_gaps(&s, &[at(203)], &opts);
    assert_eq!(
        (gaps[2].kind, gaps[2].clean_stop),
        (GapKind::Rebooted, Some(at(203)))
    );
    // A marker outside the gap does not count.
    assert_eq!(find_gaps(&s, &[at(2)], &opts)[0].kind, GapKind::Died);
    // detect_incidents reports them, using the markers in the options.
    let inc = detect_incidents(&s, &opts.clone().clean_stops(vec![at(64)]));
    assert_eq!(
        kinds(&inc),
        [
            IncidentKind::Gap(GapKind::Died),
            IncidentKind::Gap(GapKind::StoppedCleanly),
            IncidentKind::Gap(GapKind::Rebooted)
        ]
    );
    assert_eq!(inc[0].summary, "recorder died, no data for 56 s");
    assert_eq!(inc[2].label(), "machine rebooted, no data for 3 min 18 s");
    assert_eq!(inc[2].magnitude, 198.0);
}

/// A gap where the read skipped data it could not read is not blamed on the recorder; a reboot or a clean stop
/// still says more than that.
#[test]
fn a_gap_over_unreadable_data_is_not_a_recorder_that_died() {
    let mut s = plain(&[0, 1, 2, 3, 4, 60, 61, 62, 63, 200, 201, 202, 400, 401, 402]);
    for x in &mut s[12..] {
        x.boot_id = Some("boot-2".to_owned());
        x.boot_time = at(380);
    }
    let mut series = crate::series::SystemSeries::from_samples(&s);
    // Skipped data inside the first gap, over the start of the second, and reaching into the third.
    series.unreadable = vec![(at(30), at(40)), (at(50), at(70)), (at(300), at(301))];
    let opts = DetectOptions::default().clean_stops(vec![at(64)]);
    let inc = detect_incidents_in(&series, &InMemory(&s), &opts).unwrap();
    assert_eq!(
        kinds(&inc),
        [
            IncidentKind::Gap(GapKind::Unreadable),
            IncidentKind::Gap(GapKind::StoppedCleanly),
            IncidentKind::Gap(GapKind::Rebooted)
        ]
    );
    assert_eq!(inc[0].summary, "data unreadable, no data for 56 s");
    // Outside every gap (ending at its start, starting at its end): the first is the recorder's again.
    series.unreadable = vec![(at(1), at(4)), (at(60), at(61))];
    let inc = detect_incidents_in(&series, &InMemory(&s), &opts).unwrap();
    assert_eq!(inc[0].kind, IncidentKind::Gap(GapKind::Died));
    // A slice keeps the parts that reach between its samples.
    series.unreadable = vec![(at(30), at(40)), (at(250), at(260))];
    let tail = series.slice(5, s.len(), None, None);
    assert_eq!(tail.unreadable, [(at(250), at(260))]);
}

#[test]
fn reboot_without_boot_id_uses_boot_time() {
    let mut s = plain(&[0, 1, 2, 100, 101, 102]);
    for x in &mut s {
        x.boot_id = None;
    }
    let opts = DetectOptions::default();
    assert_eq!(find_gaps(&s, &[], &opts)[0].kind, GapKind::Died);
    // A clock adjustment moves the boot time a little: still the same boot.
    for x in &mut s[3..] {
        x.boot_time = x.boot_time.saturating_add(Duration::from_secs(20));
    }
    assert_eq!(find_gaps(&s, &[], &opts)[0].kind, GapKind::Died);
    for x in &mut s[3..] {
        x.boot_time = at(50);
    }
    assert_eq!(find_gaps(&s, &[], &opts)[0].kind, GapKind::Rebooted);
}

#[test]
fn no_false_gaps_when_the_interval_changes_or_jitters() {
    // 1 s for a minute, then 10 s for ten minutes, with a 2 s hiccup: no gap. Then a 45 s hole at 10 s: a gap.
    let mut secs: Vec<u64> = (0..60).collect();
    secs.extend([61]);
    secs.extend((1..=60).map(|k| 61 + 10 * k));
    secs.extend((0..10).map(|k| 706 + 10 * k));
    let s = plain(&secs);
    let gaps = find_gaps(&s, &[], &DetectOptions::default());
    assert_eq!(gaps.len(), 1, "{gaps:?}");
    assert_eq!((gaps[0].start, gaps[0].end), (at(661), at(706)));
}

#[test]
fn incidents_do_not_span_gaps() {
    // A surge interrupted by a 2-minute gap is two incidents, not one across the hole.
    let mut secs: Vec<u64> = (0..760).collect();
    secs.extend(880..1500);
    let s: Vec<Sample> = secs
        .iter()
        .map(|&i| {
            let on = (700..760).contains(&i) || (880..940).contains(&i);
            let cpu = if on { 90.0 } else { 3.0 + noise(i) };
            sample(i, cpu, GIB, 10, &[P(9, "x", 0, cpu * 2.0, 0.0, MIB)])
        })
        .collect();
    let inc = detect_incidents(&s, &DetectOptions::default());
    assert_eq!(
        kinds(&inc),
        [
            IncidentKind::CpuSurge,
            IncidentKind::Gap(GapKind::Died),
            IncidentKind::CpuSurge
        ]
    );
    assert_eq!(inc[0].end, at(759));
    assert_eq!(inc[2].start, at(880));
}

// ---- downsampling ------------------------------------------------------------------------------------------

#[test]
fn downsample_keeps_extremes_peaks_and_breaks() {
    let n = 100_000usize;
    let ts: Vec<i64> = (0..n as i64).map(|i| i * 1_000_000).collect();
    let mut values: Vec<f64> = (0..n).map(|i| ((i * 7919) % 101) as f64 / 10.0).collect();
    values[31_337] = 500.0; // global max
    values[77_777] = -3.0; // global min
    values[50_000] = 7.77; // an incident peak that is not an extreme
    for v in &mut values[60_000..60_500] {
        *v = f64::NAN;
    }
    let columns = 800;
    let keep = [ts[50_000], ts[12_345] + 400_000];
    let idx = downsample_minmax(&ts, &values, columns, &keep);
    assert!(idx.windows(2).all(|w| w[0] < w[1]), "sorted, no duplicates");
    assert!(idx.len() <= 5 * columns + keep.len(), "{}", idx.len());
    assert!(idx.len() > 2 * columns);
    for must in [0, n - 1, 31_337, 77_777, 50_000, 12_345, 60_000] {
        assert!(idx.binary_search(&must).is_ok(), "{must} missing");
    }
    // Without breaks, at most 4 per column plus the keeps.
    let clean: Vec<f64> = values
        .iter()
        .map(|v| if v.is_nan() { 1.0 } else { *v })
        .collect();
    let idx = downsample_minmax(&ts, &clean, columns, &keep);
    assert!(idx.len() <= 4 * columns + keep.len(), "{}", idx.len());
    // Every column's max is kept: the max of the kept points in a column equals the true max.
    let span = n as i64;
    for col in [0usize, 17, 399, 799] {
        let in_col = |i: usize| (i as i64) * columns as i64 / span == col as i64;
        let truth = (0..n)
            .filter(|&i| in_col(i))
            .map(|i| clean[i])
            .fold(f64::MIN, f64::max);
        let kept = idx
            .iter()
            .filter(|&&i| in_col(i))
            .map(|&i| clean[i])
            .fold(f64::MIN, f64::max);
        assert_eq!(kept, truth, "column {col}");
    }
}

#[test]
fn downsample_small_and_degenerate_inputs() {
    let ts = [0i64, 10, 20];
    assert_eq!(
        downsample_minmax(&ts, &[1.0, 2.0, 3.0], 100, &[]),
        [0, 1, 2]
    );
    assert_eq!(downsample_minmax(&ts, &[1.0, 2.0], 100, &[]), [0, 1]);
    assert_eq!(downsample_minmax(&ts, &[1.0, 2.0, 3.0], 0, &[19]), [2]);
    assert!(downsample_minmax(&[], &[], 10, &[5]).is_empty());
    // All timestamps equal: one column.
    let same = [5i64; 50];
    let vals: Vec<f64> = (0..50).map(f64::from).collect();
    assert_eq!(downsample_minmax(&same, &vals, 2, &[]), [0, 49]);
}

// ---- synthetic series ----------------------------------------------------------------------------------------

mod synthetic {
    use super::*;
    use crate::synth::Synth;

    fn start() -> Timestamp {
        Timestamp::from_unix_secs(1_795_564_800) // 2026-11-25T00:00:00Z
    }

    fn sat(s: u64) -> Timestamp {
        start().saturating_add(Duration::from_secs(s))
    }

    fn synth(count: u64) -> Synth {
        Synth::new(start(), Duration::from_secs(1))
            .count(count)
            .seed(5)
    }

    fn pid_of(samples: &[Sample], name: &str) -> Option<u32> {
        samples
            .iter()
            .flat_map(|s| &s.top.processes)
            .find(|p| p.name == name)
            .map(|p| p.pid)
    }

    /// Detection over columns, with whole samples read only for culprit windows, finds exactly what detection over
    /// the samples in memory finds; and it reads far fewer samples than the series has. The source is shared, so
    /// detection reads on two threads where there are two cores.
    #[test]
    fn columns_with_windows_find_the_same_incidents() {
        use crate::series::{SampleParts, SystemSeries, WindowSource};
        use std::sync::atomic::{AtomicUsize, Ordering::Relaxed};

        /// Counts the samples read, and those read without the command lines they have (a baseline's).
        struct Counting<'a>(&'a [Sample], AtomicUsize, AtomicUsize);
        impl WindowSource for Counting<'_> {
            fn samples_between(
                &self,
                from: Timestamp,
                to: Timestamp,
            ) -> Result<Vec<Sample>, crate::Error> {
                let got = self.0.samples_between(from, to)?;
                self.1.fetch_add(got.len(), Relaxed);
                Ok(got)
            }
            fn samples_between_parts(
                &self,
                from: Timestamp,
                to: Timestamp,
                parts: SampleParts,
            ) -> Result<Vec<Sample>, crate::Error> {
                let named = |s: &Sample| s.top.processes.iter().any(|p| p.cmdline.is_some());
                let mut got = self.samples_between(from, to)?;
                let had = got.iter().filter(|s| named(s)).count();
                got.iter_mut().for_each(|s| parts.trim(s));
                let kept = got.iter().filter(|s| named(s)).count();
                self.2.fetch_add(had - kept, Relaxed);
                Ok(got)
            }
            fn shared(&self) -> Option<&(dyn WindowSource + Sync)> {
                Some(self)
            }
        }
        let s = synth(4 * 3600)
            .latency_target("router", 2.0, 0.5)
            .cpu_hog("ffmpeg", "ffmpeg -i a b", sat(1800), sat(2100), 187.0)
            .memory_leak("java", "java -jar x", sat(5000), sat(7000), 4_000_000)
            .worker_storm(
                "php",
                "php w",
                sat(9000),
                sat(9300),
                12,
                15.0,
                Duration::from_secs(4),
            )
            .swap_climb(sat(11000), sat(12500), 300_000)
            .gap(sat(8000), sat(8300))
            .reboot(sat(10000))
            .latency_spike("router", sat(12000), sat(12060), 1500.0)
            .generate();
        let opts = DetectOptions::default();
        let want = detect_incidents(&s, &opts);
        assert!(want.len() >= 6, "{want:?}");
        let series = SystemSeries::from_samples(&s);
        let source = Counting(&s, AtomicUsize::new(0), AtomicUsize::new(0));
        let got = detect_incidents_in(&series, &source, &opts).unwrap();
        assert_eq!(got, want);
        // The CPU surge's baseline (10 minutes at 1 s) at least is read without command lines.
        let (read, without) = (source.1.load(Relaxed), source.2.load(Relaxed));
        assert!(without >= 600, "{without} read without");
        assert!(read < s.len() / 2, "read {read} of {}", s.len());
        // Without culprits: the same incidents, none named but runaways (the storm here), and fewer samples read.
        let source = Counting(&s, AtomicUsize::new(0), AtomicUsize::new(0));
        let mut memo = super::SpanMemo::default();
        let spans = super::detect_incident_spans_in(&series, &source, &opts, &mut memo).unwrap();
        let unnamed: Vec<Incident> = want
            .iter()
            .cloned()
            .map(|mut i| {
                if i.kind != IncidentKind::Runaway {
                    i.culprit = None;
                }
                i
            })
            .collect();
        assert_eq!(spans, unnamed);
        assert!(
            want.iter().filter(|i| i.culprit.is_some()).count()
                > spans.iter().filter(|i| i.culprit.is_some()).count()
        );
        let read = source.1.load(Relaxed);
        assert!(read < 1000, "read {read}");

        /// Fails every read that overlaps its span, on whichever thread asks; shared or not.
        struct Failing<'a>(&'a [Sample], (Timestamp, Timestamp), bool);
        impl WindowSource for Failing<'_> {
            fn samples_between(
                &self,
                from: Timestamp,
                to: Timestamp,
            ) -> Result<Vec<Sample>, crate::Error> {
                if to < self.1.0 || self.1.1 < from {
                    return self.0.samples_between(from, to);
                }
                Err(crate::Error::Window {
                    from,
                    to,
                    source: "disk on fire".into(),
                })
            }
            fn shared(&self) -> Option<&(dyn WindowSource + Sync)> {
                self.2.then_some(self)
            }
        }
        // Every read fails; then only those of the memory leak's climb (a detector of the second thread).
        for span in [(start(), sat(99_999)), (sat(5000), sat(7500))] {
            for shared in [false, true] {
                let err =
                    detect_incidents_in(&series, &Failing(&s, span, shared), &opts).unwrap_err();
                assert!(err.to_string().contains("disk on fire"), "{err}");
            }
        }
    }

    /// Detection's rolling median and MAD select on integer keys: the same values as sorting the values by
    /// `total_cmp`, whatever their signs, zeros and infinities.
    #[test]
    fn median_and_mad_are_those_of_the_sorted_values() {
        use super::detect::{median_mad, order_key};
        let mut x = 0x2545_f491_4f6c_dd1d_u64;
        let mut next = || {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            x
        };
        let sorted_median = |v: &mut Vec<f32>| {
            v.sort_by(f32::total_cmp);
            v[v.len() / 2]
        };
        for n in 1..200usize {
            let mut values: Vec<f32> = (0..n)
                .map(|_| match next() % 10 {
                    0 => -0.0,
                    1 => 0.0,
                    2 => f32::INFINITY,
                    3 => -((next() % 1000) as f32) / 7.0,
                    _ => (next() % 100_000) as f32 / 13.0,
                })
                .collect();
            let mut keys: Vec<i32> = values.iter().map(|v| order_key(*v)).collect();
            let (m, mad) = median_mad(&mut keys).unwrap();
            let want_m = sorted_median(&mut values);
            let mut dev: Vec<f32> = values.iter().map(|v| (v - want_m).abs()).collect();
            let want_mad = sorted_median(&mut dev);
            assert_eq!(m.to_bits(), f64::from(want_m).to_bits(), "{values:?}");
            assert_eq!(mad.to_bits(), f64::from(want_mad).to_bits(), "{values:?}");
        }
        assert_eq!(median_mad(&mut []), None);
    }

    /// Selection near the last median and MAD gives [`median_mad`]'s values, bit for bit, whatever the hint: the
    /// last window's (a window sliding over values with duplicates, both signs, zeros, and in some runs
    /// infinities and NaNs), one far off, one that is not a number, none.
    #[test]
    fn median_and_mad_near_the_last_are_those_of_selection() {
        use super::detect::{median_mad, median_mad_near, order_key};
        let mut x = 0x9e37_79b9_7f4a_7c15_u64;
        let mut next = move || {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            x
        };
        let mut band = Vec::new();
        let (mut near, mut checked) = (0, 0);
        for run in 0..40u64 {
            let distinct = [3, 20, 1000, 1 << 30][(run % 4) as usize];
            let special = run % 3 == 2;
            let len = 5 + (next() % 700) as usize;
            let mut window: std::collections::VecDeque<f32> = std::collections::VecDeque::new();
            let mut last = None;
            for step in 0..300 {
                let drift = (step / 30) as f32;
                for _ in 0..(1 + next() % 80) {
                    let v = match next() % 16 {
                        0 => -0.0,
                        1 => 0.0,
                        2 if special => f32::INFINITY,
                        3 if special => f32::NEG_INFINITY,
                        4 if special => f32::NAN,
                        5 if special => -f32::NAN,
                        6 | 7 => -((next() % distinct) as f32) / 7.0 + drift,
                        _ => (next() % distinct) as f32 / 13.0 + drift,
                    };
                    window.push_back(v);
                    if window.len() > len {
                        window.pop_front();
                    }
                }
                let keys: Vec<i32> = window.iter().map(|v| order_key(*v)).collect();
                let want = median_mad(&mut keys.clone());
                let bits = |r: Option<(f64, f64)>| r.map(|(m, d)| (m.to_bits(), d.to_bits()));
                let hints = [last, Some((1e30, 0.5)), Some((f64::NAN, f64::NAN)), None];
                for hint in hints {
                    let got = median_mad_near(&mut keys.clone(), hint, &mut band);
                    assert_eq!(
                        bits(got),
                        bits(want),
                        "run {run}, step {step}, hint {hint:?}"
                    );
                    checked += 1;
                }
                near += usize::from(last.is_some());
                last = want;
            }
        }
        assert!(checked > 40_000 && near > 10_000, "{checked} {near}");
    }

    #[test]
    fn cpu_hog_found_at_its_start_with_its_pid() {
        let s = synth(3600)
            .cpu_hog(
                "ffmpeg",
                "ffmpeg -i in.mkv out.mp4",
                sat(1800),
                sat(2100),
                187.0,
            )
            .generate();
        let inc = detect_incidents(&s, &DetectOptions::default());
        assert_eq!(kinds(&inc), [IncidentKind::CpuSurge], "{inc:?}");
        let hog = &inc[0];
        assert!(
            hog.start >= sat(1800) && hog.start <= sat(1803),
            "{}",
            hog.start
        );
        assert!(hog.end >= sat(2096) && hog.end <= sat(2100), "{}", hog.end);
        let c = hog.culprit.as_ref().unwrap();
        assert_eq!(c.pid, pid_of(&s, "ffmpeg"));
        assert_eq!(c.cmdline.as_deref(), Some("ffmpeg -i in.mkv out.mp4"));
        let cpu = c.cpu_pct.unwrap();
        assert!((185.0..190.0).contains(&cpu), "{cpu}");
        assert_eq!(
            hog.label(),
            format!("ffmpeg (pid {}) {cpu:.0}% CPU", c.pid.unwrap())
        );
    }

    #[test]
    fn leak_then_oom_kill_names_the_leaker_and_the_victim() {
        let s = synth(3600)
            .memory_leak(
                "leaky",
                "/opt/leaky --serve",
                sat(1000),
                sat(1150),
                40 * MIB,
            )
            .generate();
        let inc = detect_incidents(&s, &DetectOptions::default());
        assert_eq!(
            kinds(&inc),
            [IncidentKind::MemoryClimb, IncidentKind::OomKill],
            "{inc:?}"
        );
        let pid = pid_of(&s, "leaky");
        let climb = &inc[0];
        assert!(
            climb.start >= sat(1000) && climb.start <= sat(1010),
            "{}",
            climb.start
        );
        assert_eq!(climb.culprit.as_ref().and_then(|c| c.pid), pid);
        assert_eq!(
            climb.culprit.as_ref().map(|c| c.name.as_str()),
            Some("leaky")
        );
        let oom = &inc[1];
        assert_eq!((oom.start, oom.end), (sat(1149), sat(1150)));
        let victim = oom.culprit.as_ref().unwrap();
        assert_eq!((victim.name.as_str(), victim.pid), ("leaky", pid));
        assert!(victim.rss_bytes.unwrap() > 5 * GIB);
        assert!(
            oom.label()
                .starts_with(&format!("OOM killed leaky (pid {}) 6.", pid.unwrap()))
        );
        // No kernel log: a guess, and the label says so.
        assert!(victim.guessed);
        assert!(oom.label().ends_with(" RSS (a guess)"), "{}", oom.label());
    }

    #[test]
    fn storm_of_short_workers_blames_the_name_with_its_count() {
        let s = synth(3600)
            .worker_storm(
                "convert",
                "convert in.png out.jpg",
                sat(1800),
                sat(2100),
                40,
                4.0,
                Duration::from_secs(5),
            )
            .generate();
        let inc = detect_incidents(&s, &DetectOptions::default());
        assert_eq!(kinds(&inc), [IncidentKind::CpuSurge], "{inc:?}");
        let c = inc[0].culprit.as_ref().unwrap();
        assert_eq!((c.name.as_str(), c.pid), ("convert", None));
        // 40 workers and their master.
        assert_eq!(c.process_count, 41);
        assert_eq!(c.cmdline.as_deref(), Some("convert in.png out.jpg"));
        assert!(
            inc[0].label().starts_with("convert (x41) 1"),
            "{}",
            inc[0].label()
        );
        assert!(inc[0].start >= sat(1800) && inc[0].start <= sat(1803));
    }

    #[test]
    fn swap_growth_is_found_without_a_made_up_culprit() {
        let s = synth(3600)
            .swap_climb(sat(1000), sat(1200), 2 * MIB)
            .generate();
        let inc = detect_incidents(&s, &DetectOptions::default());
        assert_eq!(kinds(&inc), [IncidentKind::SwapGrowth], "{inc:?}");
        assert!(
            inc[0].start >= sat(1000) && inc[0].start <= sat(1010),
            "{}",
            inc[0].start
        );
        assert!(
            inc[0].end >= sat(1185) && inc[0].end <= sat(1200),
            "{}",
            inc[0].end
        );
        assert!(inc[0].magnitude >= 399.0 * MIB as f64);
        assert_eq!(inc[0].culprit, None);
        assert!(inc[0].summary.starts_with("swap +4"), "{}", inc[0].summary);
    }

    #[test]
    fn gap_and_reboot_from_synth() {
        let s = synth(3600)
            .gap(sat(1000), sat(1100))
            .gap(sat(2000), sat(2300))
            .reboot(sat(2300))
            .generate();
        let inc = detect_incidents(&s, &DetectOptions::default().clean_stops(vec![sat(2000)]));
        let got: Vec<_> = inc.iter().map(|i| (i.kind, i.start, i.end)).collect();
        assert_eq!(
            got,
            [
                (IncidentKind::Gap(GapKind::Died), sat(999), sat(1100)),
                (IncidentKind::Gap(GapKind::Rebooted), sat(1999), sat(2300)),
            ]
        );
    }

    #[test]
    fn flat_noisy_day_has_no_incident() {
        // A full day with daily load swings and cron jobs every minute, nothing injected, three machines.
        for seed in [1, 2, 3] {
            let s = Synth::new(start(), Duration::from_secs(1))
                .count(86_400)
                .processes(80)
                .seed(seed)
                .generate();
            let inc = detect_incidents(&s, &DetectOptions::default());
            assert!(inc.is_empty(), "seed {seed}: {inc:?}");
        }
    }

    #[test]
    fn every_injected_spike_in_a_busy_day() {
        let hour = 3600;
        let s = synth(86_400)
            .processes(80)
            .cpu_hog(
                "xmrig",
                "./xmrig -o pool:3333",
                sat(2 * hour),
                sat(2 * hour + 900),
                190.0,
            )
            .memory_leak(
                "leaky",
                "/opt/leaky",
                sat(5 * hour),
                sat(5 * hour + 120),
                50 * MIB,
            )
            .worker_storm(
                "php-fpm8.2",
                "php-fpm: pool www",
                sat(9 * hour),
                sat(9 * hour + 600),
                40,
                4.0,
                Duration::from_secs(3),
            )
            .cpu_hog(
                "ffmpeg",
                "ffmpeg -i a b",
                sat(14 * hour),
                sat(14 * hour + 60),
                150.0,
            )
            .gap(sat(18 * hour), sat(18 * hour + 600))
            .generate();
        let inc = detect_incidents(&s, &DetectOptions::default());
        let got: Vec<(IncidentKind, String)> = inc
            .iter()
            .map(|i| {
                (
                    i.kind,
                    i.culprit
                        .as_ref()
                        .map(|c| c.name.clone())
                        .unwrap_or_default(),
                )
            })
            .collect();
        let want = [
            (IncidentKind::CpuSurge, "xmrig"),
            (IncidentKind::MemoryClimb, "leaky"),
            (IncidentKind::OomKill, "leaky"),
            (IncidentKind::CpuSurge, "php-fpm8.2"),
            (IncidentKind::CpuSurge, "ffmpeg"),
            (IncidentKind::Gap(GapKind::Died), ""),
        ];
        let want: Vec<(IncidentKind, String)> =
            want.iter().map(|(k, n)| (*k, (*n).to_owned())).collect();
        assert_eq!(got, want, "{inc:#?}");
    }
}

// ---- OOM victims from the kernel log ---------------------------------------------------------------------------

/// A machine with a big `java` in a service and a small `worker`; at second 20 the kernel kills `worker` (whose
/// memory cgroup hit its limit) and logs it, the kill riding the sample at `carrier`.
fn kernel_oom_series(carrier: u64, logged_at_ms: u64) -> Vec<Sample> {
    let mut out: Vec<Sample> = (0..40)
        .map(|s| {
            let mut procs = vec![P(812, "java", 0, 5.0, 0.0, 6 * GIB)];
            if s < 20 {
                procs.push(P(900, "worker", 1, 1.0, 0.0, 300 * MIB));
            }
            let mut x = sample(s, 10.0, 8 * GIB, 5, &procs);
            x.oom_kill_count = Some(u64::from(s >= 20));
            for p in &mut x.top.processes {
                if p.pid == 812 {
                    p.cgroup = Some("/system.slice/app.service".to_owned());
                }
            }
            x
        })
        .collect();
    let mut kill = crate::OomKill::new(
        at(19).saturating_add(Duration::from_millis(logged_at_ms)),
        900,
        "worker",
    );
    kill.anon_rss_bytes = Some(262_144 * 1024);
    kill.file_rss_bytes = Some(1024 * 1024);
    kill.shmem_rss_bytes = Some(0);
    kill.constraint = Some("CONSTRAINT_MEMCG".to_owned());
    kill.memcg = true;
    kill.cgroup = Some("/system.slice/batch.service".to_owned());
    out[carrier as usize].oom_kills.push(kill);
    out
}

#[test]
fn the_kernel_names_the_oom_victim_and_its_unit() {
    // The line rides the sample that saw the counter rise, or one after it.
    for carrier in [20, 21] {
        let s = kernel_oom_series(carrier, 400);
        let inc = detect_incidents(&s, &DetectOptions::default());
        let oom: Vec<&Incident> = inc
            .iter()
            .filter(|i| i.kind == IncidentKind::OomKill)
            .collect();
        assert_eq!(oom.len(), 1, "{inc:?}");
        let c = oom[0].culprit.as_ref().unwrap();
        assert_eq!(
            (c.name.as_str(), c.pid, c.guessed),
            ("worker", Some(900), false)
        );
        assert_eq!(c.unit.as_deref(), Some("batch.service"));
        assert_eq!(
            oom[0].label(),
            "OOM killed worker (pid 900), 268 MB anon RSS, cgroup /system.slice/batch.service"
        );
    }
}

#[test]
fn a_logged_kill_outside_the_window_is_not_this_incidents_victim() {
    // Logged a second before the counter's previous sample: another kill's line (or a clock far off), so the
    // incident falls back to the guess from vanished memory.
    let mut s = kernel_oom_series(20, 0);
    s[20].oom_kills[0].ts = at(17);
    let inc = detect_incidents(&s, &DetectOptions::default());
    let oom = inc
        .iter()
        .find(|i| i.kind == IncidentKind::OomKill)
        .unwrap();
    let c = oom.culprit.as_ref().unwrap();
    assert!(c.guessed, "{c:?}");
    assert_eq!((c.name.as_str(), c.anon_rss_bytes), ("worker", None));
}

#[test]
fn the_median_of_steps_is_the_sorted_middle_one_whether_counted_or_copied() {
    let sorted_middle = |v: &[i64]| {
        let mut v = v.to_vec();
        v.sort_unstable();
        v.get(v.len() / 2).copied()
    };
    // Steady ticks with late ones and a pause (few distinct: counted), all distinct (copied), tiny ones, none.
    let steady: Vec<i64> = (0..1001i64)
        .map(|i| {
            1_000_000
                + if i % 3 == 0 { 1_500 } else { 0 }
                + if i == 700 { 3_600_000_000 } else { 0 }
        })
        .collect();
    let distinct: Vec<i64> = (0..9000i64)
        .map(|i| 1_000_000 + (i * 7919) % 9001)
        .collect();
    for v in [
        &steady[..],
        &distinct[..],
        &steady[..1],
        &steady[..2],
        &[5, -3, 5, 2][..],
        &[],
    ] {
        assert_eq!(
            median_i64(v.iter().copied()),
            sorted_middle(v),
            "{:?}",
            &v[..v.len().min(4)]
        );
    }
}
