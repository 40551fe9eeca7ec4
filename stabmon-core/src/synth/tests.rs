//! The generator's own tests: determinism, a realistic shape, and each incident where it was put.

use super::machine::MIB;
use super::*;
use crate::latency::{LatencyProbe, ProbeOutcome};

fn start() -> Timestamp {
    Timestamp::from_unix_secs(1_795_564_800)
}

fn at(s: u64) -> Timestamp {
    start().saturating_add(Duration::from_secs(s))
}

#[test]
fn same_seed_same_samples_other_seed_differs() {
    let a = Synth::new(start(), Duration::from_secs(1))
        .count(200)
        .seed(42);
    let first = a.generate();
    assert_eq!(first, a.generate());
    assert_eq!(first.len(), 200);
    let b = a.clone().seed(43).generate();
    assert_ne!(first, b);
}

#[test]
fn realistic_shape() {
    let samples = Synth::new(start(), Duration::from_secs(1))
        .count(120)
        .generate();
    for (i, s) in samples.iter().enumerate() {
        assert_eq!(s.ts, at(i as u64));
        assert!(
            (290..=320).contains(&s.process_count),
            "{}",
            s.process_count
        );
        assert_eq!(s.per_core.len(), 4);
        assert!(s.cpu.busy_pct >= 0.0 && s.cpu.busy_pct <= 100.0);
        let t = &s.top;
        assert_eq!(t.n, 10);
        assert!(t.processes.len() >= 10 && t.processes.len() <= 20);
        assert!(t.names.len() >= 10);
        assert!(s.memory.used_bytes + s.memory.available_bytes <= s.memory.total_bytes);
        assert!(
            s.interval > Duration::from_millis(990) && s.interval < Duration::from_millis(1010)
        );
    }
    // The JVM is the biggest process, with its command line and user.
    let java = &samples[60]
        .top
        .processes
        .iter()
        .find(|p| p.rss_rank == Some(1));
    let java = java.map(|p| (p.name.as_str(), p.user.as_deref(), p.cmdline.is_some()));
    assert_eq!(java, Some(("java", Some("app"), true)));
}

#[test]
fn injected_hog_tops_cpu_only_in_its_window() {
    let synth = Synth::new(start(), Duration::from_secs(1))
        .count(300)
        .cpu_hog("stress-ng", "stress-ng --cpu 2", at(100), at(200), 195.0);
    for (i, s) in synth.iter().enumerate() {
        let top = &s.top.processes[0];
        let hog_present = s.top.processes.iter().any(|p| p.name == "stress-ng");
        if (100..200).contains(&i) {
            assert_eq!(top.name, "stress-ng", "tick {i}");
            assert_eq!(top.cpu_rank, Some(1));
            assert!(top.cpu_pct > 150.0, "tick {i}: {}", top.cpu_pct);
            assert_eq!(top.start_time, at(100));
        } else {
            assert!(!hog_present, "tick {i}");
        }
    }
}

#[test]
fn leak_grows_then_oom_kill() {
    let synth = Synth::new(start(), Duration::from_secs(1))
        .count(200)
        .memory_leak("leaky", "/opt/leaky --serve", at(10), at(150), 40 * MIB);
    let s = synth.generate();
    let rss = |i: usize| {
        s[i].top
            .processes
            .iter()
            .find(|p| p.name == "leaky")
            .map(|p| p.rss_bytes)
    };
    let (a, b) = (rss(20).unwrap_or(0), rss(140).unwrap_or(0));
    assert!(b > a + 4000 * MIB, "{a} -> {b}");
    assert_eq!(
        s[140]
            .top
            .processes
            .iter()
            .find(|p| p.rss_rank == Some(1))
            .map(|p| p.name.as_str()),
        Some("leaky")
    );
    assert_eq!(rss(160), None);
    assert_eq!(s[149].oom_kill_count, Some(0));
    assert_eq!(s[160].oom_kill_count, Some(1));
}

#[test]
fn reboot_and_gap() {
    let synth = Synth::new(start(), Duration::from_secs(1))
        .count(100)
        .gap(at(40), at(60))
        .reboot(at(60));
    let s = synth.generate();
    assert_eq!(s.len(), 80);
    assert_eq!(s[39].ts, at(39));
    assert_eq!(s[40].ts, at(60));
    assert_ne!(s[39].boot_id, s[40].boot_id);
    assert_eq!(s[40].boot_time, at(30));
    assert!(s[39].boot_time < at(0));
    assert_eq!(s[40].boot_id, s[79].boot_id);
}

#[test]
fn worker_storm_keeps_its_count_and_churns_pids() {
    let synth = Synth::new(start(), Duration::from_secs(1))
        .count(120)
        .worker_storm(
            "convert",
            "convert in.png out.jpg",
            at(30),
            at(90),
            40,
            4.0,
            Duration::from_secs(5),
        );
    let s = synth.generate();
    let convert = |i: usize| {
        s[i].top
            .names
            .iter()
            .find(|n| n.name == "convert")
            .map(|n| (n.process_count, n.cpu_pct))
    };
    assert_eq!(convert(20), None);
    for i in 35..90 {
        let (count, cpu) = convert(i).unwrap_or_default();
        // 40 workers and their master.
        assert_eq!(count, 41, "tick {i}");
        assert!(cpu > 140.0 && cpu < 180.0, "tick {i}: {cpu}");
    }
    assert_eq!(convert(95), None);
    // Workers are replaced: pids seen over the storm are many more than 40.
    let mut pids: Vec<u32> = s[30..90]
        .iter()
        .flat_map(|x| {
            x.top
                .processes
                .iter()
                .filter(|p| p.name == "convert")
                .map(|p| p.pid)
        })
        .collect();
    pids.sort_unstable();
    pids.dedup();
    assert!(pids.len() > 60, "{}", pids.len());
    // The master reaps their CPU.
    let master_children = s[60]
        .top
        .processes
        .iter()
        .find(|p| p.cmdline.as_deref() == Some("convert: master process"))
        .and_then(|p| p.children_cpu_pct);
    assert!(
        master_children.is_some_and(|c| c > 100.0),
        "{master_children:?}"
    );
}

#[test]
fn swap_climb_grows_swap() {
    let synth = Synth::new(start(), Duration::from_secs(1))
        .count(200)
        .swap_climb(at(50), at(150), 4 * MIB);
    let s = synth.generate();
    let swap = |i: usize| s[i].memory.swap_used_bytes;
    assert!(swap(49) < 200 * MIB);
    assert!(
        swap(160) >= swap(49) + 399 * MIB,
        "{} -> {}",
        swap(49),
        swap(160)
    );
    assert!(swap(199) - swap(160) < MIB);
}

#[test]
fn latency_is_opt_in_and_leaves_the_rest_unchanged() {
    let plain = Synth::new(start(), Duration::from_secs(1)).count(300);
    let with = plain
        .clone()
        .latency_target("gw", 2.0, 0.3)
        .latency_target("vpn", 30.0, 4.0)
        .latency_outage("vpn", at(100), at(145))
        .latency_spike("gw", at(200), at(220), 2000.0);
    let (a, b) = (plain.generate(), with.generate());
    assert!(a.iter().all(|s| s.latency.is_empty()));
    assert_eq!(a.len(), b.len());
    for (x, y) in a.iter().zip(&b) {
        let mut y = y.clone();
        y.latency.clear();
        assert_eq!(x, &y);
    }
    assert_eq!(b, with.generate(), "deterministic");
    let probes: Vec<&LatencyProbe> = b.iter().flat_map(|s| &s.latency).collect();
    // Every probe arrives with a sample after its start, and a completed round trip within that time.
    for s in &b {
        for p in &s.latency {
            assert!(p.ts < s.ts, "{} at {}", p.ts, s.ts);
        }
    }
    let of = |name: &str, from: u64, to: u64| -> Vec<&LatencyProbe> {
        probes
            .iter()
            .copied()
            .filter(|p| p.target == name && p.ts >= at(from) && p.ts < at(to))
            .collect()
    };
    let normal = of("gw", 0, 200);
    assert!(normal.len() > 190, "{}", normal.len());
    let rtts: Vec<f64> = normal.iter().filter_map(|p| p.round_trip_ms()).collect();
    let mean = rtts.iter().sum::<f64>() / rtts.len() as f64;
    assert!((1.7..2.5).contains(&mean), "{mean}");
    for p in of("gw", 200, 220) {
        assert!(p.round_trip_ms().is_some_and(|ms| ms > 2000.0), "{p:?}");
    }
    // A 2 s round trip holds the target: the next probe starts at the tick after it, one per 3 s.
    assert!((6..=8).contains(&of("gw", 200, 220).len()));
    let outage = of("vpn", 100, 145);
    assert!(
        outage
            .iter()
            .all(|p| !p.outcome.is_ok() && p.total_ms.is_none())
    );
    assert!(outage.iter().any(|p| p.outcome == ProbeOutcome::Timeout));
    assert!(outage.iter().any(|p| p.outcome == ProbeOutcome::Refused));
    assert!(
        of("vpn", 150, 300)
            .iter()
            .filter(|p| p.outcome.is_ok())
            .count()
            > 140
    );
}

#[test]
fn no_cmdlines_and_sizes() {
    let s = Synth::new(start(), Duration::from_millis(500))
        .count(10)
        .processes(1000)
        .top_n(3)
        .cores(16)
        .cmdlines(false)
        .generate();
    assert_eq!(s[9].ts, start().saturating_add(Duration::from_millis(4500)));
    assert!(s[5].process_count >= 990, "{}", s[5].process_count);
    assert_eq!(s[5].per_core.len(), 16);
    assert!(
        s.iter()
            .all(|x| x.top.processes.iter().all(|p| p.cmdline.is_none()))
    );
    assert!(s.iter().all(|x| x.top.processes.len() <= 6));
}
