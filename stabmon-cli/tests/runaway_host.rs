//! On the real host: a busy loop on one core for 20 s on an otherwise quiet machine is an incident naming it.
//!
//! It needs a quiet machine, so it is ignored in the suite and run alone (`.ci/run` runs it after the suite):
//! `cargo test -p stabmon-cli --test runaway_host -- --ignored --test-threads=1`. About 50 s. Where the machine is
//! not quiet before it starts, it says so and is skipped.
#![allow(clippy::unwrap_used, clippy::expect_used)]

#[cfg(target_os = "linux")]
mod linux {
    use std::path::Path;
    use std::process::{Command, Stdio};
    use std::thread::sleep;
    use std::time::{Duration, Instant};

    use serde_json::Value;

    /// The machine's busy share over `d`, from `/proc/stat`'s first line.
    fn machine_busy_pct(d: Duration) -> Option<f64> {
        fn read() -> Option<(u64, u64)> {
            let stat = std::fs::read_to_string("/proc/stat").ok()?;
            let v: Vec<u64> = stat
                .lines()
                .next()?
                .split_whitespace()
                .skip(1)
                .filter_map(|x| x.parse().ok())
                .collect();
            let idle = v.get(3)? + v.get(4).copied().unwrap_or(0);
            Some((v.iter().take(8).sum(), idle))
        }
        let (t0, i0) = read()?;
        sleep(d);
        let (t1, i1) = read()?;
        let total = t1.checked_sub(t0)?.max(1);
        Some(100.0 * (total - (i1 - i0).min(total)) as f64 / total as f64)
    }

    fn stabmon() -> Command {
        let mut c = Command::new(assert_cmd::cargo::cargo_bin("stabmon"));
        c.env_remove("STABMON_DATA");
        c
    }

    /// The incidents of `data` as `stabmon incidents --json` prints them.
    fn incidents(data: &Path) -> Vec<Value> {
        let out = stabmon()
            .args(["incidents", "--json", "--data"])
            .arg(data)
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "incidents failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        let v: Value = serde_json::from_slice(&out.stdout).unwrap();
        v["incidents"].as_array().cloned().unwrap_or_default()
    }

    #[test]
    #[ignore = "needs a quiet machine and 50 s: run alone, after the suite (.ci/run does)"]
    fn a_busy_loop_on_one_core_for_20_s_is_an_incident_naming_it() {
        let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
        match machine_busy_pct(Duration::from_secs(3)) {
            Some(busy) if busy * cores as f64 <= 40.0 => {}
            Some(busy) => {
                println!(
                    "SKIPPED: the machine is not quiet ({busy:.0} % of {cores} cores busy before the test): a \
                     runaway cannot be told from the rest"
                );
                return;
            }
            None => {
                println!("SKIPPED: /proc/stat is unreadable");
                return;
            }
        }
        let Some(yes) = ["/usr/bin/yes", "/bin/yes"]
            .into_iter()
            .find(|p| Path::new(p).exists())
        else {
            println!("SKIPPED: no `yes` binary to burn a core with");
            return;
        };
        let dir = tempfile::tempdir().unwrap();
        // A name nothing else on the machine has (at most 15 bytes, the kernel's `comm`).
        let burner = dir.path().join("stabmon-burn");
        std::fs::copy(yes, &burner).unwrap();
        let data = dir.path().join("data");

        let started = Instant::now();
        let mut recorder = stabmon()
            .args(["record", "--duration", "50s", "--data"])
            .arg(&data)
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        // A quiet quarter of a minute, then the loop for 20 s, then quiet again until the recorder stops.
        sleep(Duration::from_secs(15));
        let mut burn = Command::new(&burner).stdout(Stdio::null()).spawn().unwrap();
        let pid = burn.id();
        sleep(Duration::from_secs(20));
        burn.kill().unwrap();
        // Reaped only after the recording: reaping adds the loop's 20 s to this test process's children's CPU in
        // one sample, which attribution would then weigh against the loop itself (exits are not recorded yet).
        let status = loop {
            if let Some(s) = recorder.try_wait().unwrap() {
                break s;
            }
            if started.elapsed() > Duration::from_secs(90) {
                recorder.kill().unwrap();
                panic!("the recorder did not stop after 90 s");
            }
            sleep(Duration::from_millis(200));
        };
        assert!(status.success(), "record failed: {status:?}");
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
        println!("{kind}: {}", inc["summary"]);
    }
}
