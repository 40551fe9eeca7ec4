//! On the real host: a busy loop on one core for 20 s on an otherwise quiet machine is an incident naming it.
//!
//! It needs a quiet machine, so it is ignored in the suite and run alone (`.ci/run` runs it after the suite):
//! `cargo test -p stabmon-cli --test runaway_host -- --ignored --test-threads=1`. About 50 s. Where the machine is
//! not quiet before it starts, it says so and is skipped.
#![allow(clippy::unwrap_used, clippy::expect_used)]

#[cfg(target_os = "linux")]
mod host_util;

#[cfg(target_os = "linux")]
mod linux {
    use std::process::{Command, Stdio};
    use std::thread::sleep;
    use std::time::Duration;

    use serde_json::Value;

    use crate::host_util::{
        incidents, incidents_table, named_yes, quiet_or_skip, recorder_log, start_recorder,
        wait_recorder,
    };

    #[test]
    #[ignore = "needs a quiet machine and 50 s: run alone, after the suite (.ci/run does)"]
    fn a_busy_loop_on_one_core_for_20_s_is_an_incident_naming_it() {
        if !quiet_or_skip("a runaway") {
            return;
        }
        let dir = tempfile::tempdir().unwrap();
        let Some(burner) = named_yes(dir.path(), "stabmon-burn") else {
            return;
        };
        let data = dir.path().join("data");

        let (mut recorder, started) = start_recorder(&data, "50s");
        // A quiet quarter of a minute, then the loop for 20 s, then quiet again until the recorder stops.
        sleep(Duration::from_secs(15));
        let mut burn = Command::new(&burner).stdout(Stdio::null()).spawn().unwrap();
        let pid = burn.id();
        sleep(Duration::from_secs(20));
        burn.kill().unwrap();
        // Reaped only after the recording: reaping adds the loop's 20 s to this test process's children's CPU in
        // one sample, which attribution would then weigh against the loop itself (where exits are not recorded).
        let status = wait_recorder(&mut recorder, started);
        assert!(
            status.success(),
            "record failed: {status:?}: {}",
            recorder_log(&mut recorder)
        );
        burn.wait().unwrap();

        let got = incidents(&data);
        let named: Vec<&Value> = got
            .iter()
            .filter(|i| i["culprit"]["name"] == "stabmon-burn")
            .collect();
        assert_eq!(named.len(), 1, "one incident names the loop: {got:#?}");
        let inc = named[0];
        assert_eq!(inc["culprit"]["pid"], pid, "{inc:#?}");
        // On 2 cores half the machine is also a machine-level surge, which absorbs the runaway.
        let kind = inc["kind"].as_str().unwrap_or_default();
        assert!(kind == "runaway" || kind == "cpu_surge", "{inc:#?}");
        let secs = inc["duration_secs"].as_f64().unwrap_or(0.0);
        assert!((10.0..=30.0).contains(&secs), "{inc:#?}");
        assert!(
            inc["culprit"]["cpu_pct"].as_f64().unwrap_or(0.0) >= 80.0,
            "{inc:#?}"
        );
        // The label a user reads in the terminal table's CULPRIT column.
        let table = incidents_table(&data);
        let label = format!("stabmon-burn (pid {pid})");
        assert!(table.contains(&label), "no {label:?} in:\n{table}");
        println!("{kind}: {} (the table says {label})", inc["summary"]);
    }
}
