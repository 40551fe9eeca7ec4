//! On the real host: a storm of short-lived workers under a unique name (each lives under half a second, several
//! a second, for 20 s) is an incident named by that name with its exit count, not by the process that spawned
//! them.
//!
//! It needs a quiet machine and the privilege to receive the kernel's exit records (root or `CAP_NET_ADMIN`,
//! outside a container's network namespace), so it is ignored in the suite and run alone (`.ci/run` runs it after
//! the suite): `cargo test -p stabmon-cli --test exits_host -- --ignored --test-threads=1`. About 50 s. Where the
//! machine is not quiet, or the kernel does not deliver exit records, it says so and is skipped.
#![allow(clippy::unwrap_used, clippy::expect_used)]

#[cfg(target_os = "linux")]
mod host_util;

#[cfg(target_os = "linux")]
mod linux {
    use std::process::{Command, Stdio};
    use std::thread::sleep;
    use std::time::{Duration, Instant};

    use serde_json::Value;

    use crate::host_util::{
        incidents, incidents_table, named_yes, quiet_or_skip, recorder_log, start_recorder,
        wait_recorder,
    };

    #[test]
    #[ignore = "needs a quiet machine, the privilege for exit records, and 50 s: run alone, after the suite"]
    fn a_storm_of_short_lived_workers_is_named_by_their_name_with_an_exit_count() {
        if !quiet_or_skip("a storm") {
            return;
        }
        let dir = tempfile::tempdir().unwrap();
        let Some(worker) = named_yes(dir.path(), "stabmon-storm") else {
            return;
        };
        let data = dir.path().join("data");

        let (mut recorder, started) = start_recorder(&data, "45s");
        // A quiet quarter of a minute, then 20 s of workers that each burn a core for 0.3 s, a new one every
        // 0.15 s (about two at a time), then quiet until the recorder stops.
        sleep(Duration::from_secs(15));
        let storm_end = Instant::now() + Duration::from_secs(20);
        let mut running: Vec<(Instant, std::process::Child)> = Vec::new();
        let mut spawned = 0u32;
        while Instant::now() < storm_end {
            running.push((
                Instant::now(),
                Command::new(&worker).stdout(Stdio::null()).spawn().unwrap(),
            ));
            spawned += 1;
            sleep(Duration::from_millis(150));
            running.retain_mut(|(t, c)| {
                if t.elapsed() >= Duration::from_millis(300) {
                    c.kill().unwrap();
                    c.wait().unwrap();
                    false
                } else {
                    true
                }
            });
        }
        for (_, mut c) in running {
            c.kill().unwrap();
            c.wait().unwrap();
        }
        let status = wait_recorder(&mut recorder, started);
        let log = recorder_log(&mut recorder);
        assert!(status.success(), "record failed: {status:?}: {log}");
        if let Some(line) = log.lines().find(|l| l.contains("exits are not recorded")) {
            println!("SKIPPED: the kernel does not deliver exit records here: {line}");
            return;
        }

        let got = incidents(&data);
        let named: Vec<&Value> = got
            .iter()
            .filter(|i| i["culprit"]["name"] == "stabmon-storm")
            .collect();
        assert_eq!(named.len(), 1, "one incident names the workers: {got:#?}");
        let inc = named[0];
        let c = &inc["culprit"];
        assert!(
            c["pid"].is_null(),
            "a name total, not one process: {inc:#?}"
        );
        let exited = c["exited_count"].as_u64().unwrap_or(0);
        // The incident covers most of the storm: most of its workers exited within it.
        assert!(
            exited >= u64::from(spawned) / 2 && exited <= u64::from(spawned),
            "{exited} of {spawned} workers counted: {inc:#?}"
        );
        assert!(c["cpu_pct"].as_f64().unwrap_or(0.0) >= 80.0, "{inc:#?}");
        // The label a user reads in the terminal table's CULPRIT column.
        let table = incidents_table(&data);
        let label = format!("stabmon-storm (x{exited} exited)");
        assert!(table.contains(&label), "no {label:?} in:\n{table}");
        println!(
            "{}: {} ({spawned} workers spawned; the table says {label})",
            inc["kind"], inc["summary"]
        );
    }
}
