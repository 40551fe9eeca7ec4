//! The fleet: N synthetic hosts x 1 day at 1 s (top 10, a CPU hog on every third host, a leak on every fifth)
//! in one Hive-partitioned store, answered across every host by `stabmon incidents --all-hosts`, `top --all-hosts`
//! and `report --all-hosts` from `file://` and from a local S3 server (moto on 127.0.0.1, after `stabmon ship`),
//! beside DuckDB counting the same rows of the `file://` copy in the same run. Whole processes, timed with their
//! peak RSS (`wait4`).
//!
//! ```text
//! cargo build --release -p stabmon-cli
//! cargo bench -p stabmon-benches --bench fleet -- --hosts 100 [--keep DIR] [--stabmon PATH] [--runs 3] \
//!     [--before PATH] [--ranges-only]
//! ```
//!
//! Last, `incidents --all-hosts` reads an hour and the whole day from S3 through a forwarder that counts the bytes
//! moto sends back (HTTP headers included); `--before PATH` runs another `stabmon` binary (an older build) the
//! same way in the same run, the two builds taking turns, for a comparison measured side by side; `--ranges-only`
//! runs that part alone.
//!
//! `--keep DIR` writes the store there once and reuses it. The S3 part needs `python3 -m moto.server`
//! (`pip install 'moto[server]'`) and DuckDB `python3 -c 'import duckdb'`; each is skipped with the reason printed
//! when missing.
#![allow(clippy::unwrap_used, clippy::expect_used)]

#[cfg(unix)]
#[path = "../../stabmon-store/tests/moto/mod.rs"]
mod moto;

#[cfg(unix)]
mod bench {
    use std::path::{Path, PathBuf};
    use std::process::Command;
    use std::time::{Duration, Instant};

    use stabmon_benches::{
        Finished, arg, dir_bytes, median, own_peak_rss_mib, python_has, run_child, write_synth,
    };
    use stabmon_core::Timestamp;
    use stabmon_core::synth::Synth;

    /// Monday 2026-11-02 00:00 UTC.
    const START: i64 = 1_793_577_600;

    fn host_synth(i: usize) -> Synth {
        let start = Timestamp::from_unix_secs(START);
        let at = |s: u64| start.saturating_add(Duration::from_secs(s));
        let mut synth = Synth::new(start, Duration::from_secs(1))
            .count(86_400)
            .host(format!("host-{i:03}"))
            .seed(i as u64 + 1)
            .top_n(10);
        if i.is_multiple_of(3) {
            let from = 3600 + (i as u64 * 613) % 72_000;
            synth = synth.cpu_hog(
                "xmrig",
                "/tmp/xmrig --pool x",
                at(from),
                at(from + 400),
                170.0,
            );
        }
        if i.is_multiple_of(5) {
            let from = 7200 + (i as u64 * 997) % 60_000;
            synth = synth.memory_leak(
                "leaky",
                "/opt/leaky/bin/serve",
                at(from),
                at(from + 600),
                30 << 20,
            );
        }
        synth
    }

    fn write_fleet(dir: &Path, hosts: usize) {
        let t = Instant::now();
        let next = std::sync::atomic::AtomicUsize::new(0);
        // A writer's creation probes the directory with a file named by the process: one at a time.
        let creating = std::sync::Mutex::new(());
        std::thread::scope(|s| {
            for _ in 0..2 {
                s.spawn(|| {
                    loop {
                        let i = next.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                        if i >= hosts {
                            return;
                        }
                        write_synth(dir, &host_synth(i), Some(&creating));
                    }
                });
            }
        });
        println!(
            "wrote {hosts} hosts x 1 day in {:.0} s",
            t.elapsed().as_secs_f64()
        );
    }

    /// The day's range flags.
    const DAY: [&str; 4] = [
        "--from",
        "2026-11-02T00:00:00Z",
        "--to",
        "2026-11-03T00:00:00Z",
    ];

    /// `stabmon ARGS --data DATA` over the day, `runs` times: median wall, max peak RSS, the last stdout.
    const HOUR: [&str; 4] = [
        "--from",
        "2026-11-02T12:00:00Z",
        "--to",
        "2026-11-02T13:00:00Z",
    ];

    fn time_stabmon(
        stabmon: &Path,
        args: &[&str],
        data: &str,
        env: &[(String, String)],
        runs: usize,
    ) -> (f64, f64, Vec<u8>) {
        let mut walls = Vec::new();
        let mut rss: f64 = 0.0;
        let mut last = Vec::new();
        for _ in 0..runs {
            let mut cmd = Command::new(stabmon);
            cmd.args(args).args(DAY).args(["--data", data]);
            cmd.envs(env.iter().map(|(k, v)| (k, v)));
            let Finished {
                wall_s,
                peak_rss_mib,
                code,
                stdout,
            } = run_child(cmd);
            assert_eq!(code, 0, "stabmon {args:?} --data {data} failed");
            walls.push(wall_s);
            rss = rss.max(peak_rss_mib);
            last = stdout;
        }
        (median(walls), rss, last)
    }

    /// The three answers across every host of `data`, one table row each.
    fn answers(
        stabmon: &Path,
        data: &str,
        how: &str,
        env: &[(String, String)],
        runs: usize,
        page: &Path,
    ) {
        let (wall, rss, out) = time_stabmon(
            stabmon,
            &["incidents", "--all-hosts", "--json"],
            data,
            env,
            runs,
        );
        let doc: serde_json::Value = serde_json::from_slice(&out).unwrap();
        let samples: u64 = doc["hosts"]
            .as_array()
            .unwrap()
            .iter()
            .map(|h| h["samples"].as_u64().unwrap())
            .sum();
        let found = doc["incidents"].as_array().unwrap().len();
        println!(
            "| `stabmon incidents --all-hosts --json`, {how} | {wall:.2} s | {rss:.0} MiB | {samples} samples, {found} incidents |"
        );
        let (wall, rss, out) =
            time_stabmon(stabmon, &["top", "--all-hosts", "--json"], data, env, runs);
        let doc: serde_json::Value = serde_json::from_slice(&out).unwrap();
        println!(
            "| `stabmon top --all-hosts --json`, {how} | {wall:.2} s | {rss:.0} MiB | {} hosts |",
            doc["hosts"].as_array().unwrap().len()
        );
        let page_arg = page.to_str().unwrap();
        let (wall, rss, _) = time_stabmon(
            stabmon,
            &["report", "--all-hosts", "-o", page_arg],
            data,
            env,
            runs,
        );
        let bytes = std::fs::metadata(page).unwrap().len();
        println!(
            "| `stabmon report --all-hosts`, {how} | {wall:.2} s | {rss:.0} MiB | page {:.2} MB |",
            bytes as f64 / 1e6
        );
    }

    pub fn main() {
        let args: Vec<String> = std::env::args().collect();
        let hosts: usize = arg(&args, "--hosts").map_or(100, |s| s.parse().unwrap());
        let runs: usize = arg(&args, "--runs").map_or(3, |s| s.parse().unwrap());
        let stabmon = PathBuf::from(arg(&args, "--stabmon").unwrap_or_else(|| {
            concat!(env!("CARGO_MANIFEST_DIR"), "/../target/release/stabmon").to_owned()
        }));
        assert!(
            stabmon.exists(),
            "{} is missing: cargo build --release -p stabmon-cli",
            stabmon.display()
        );
        let tmp = tempfile::tempdir().unwrap();
        let dir = match arg(&args, "--keep") {
            Some(d) => PathBuf::from(d),
            None => tmp.path().join("fleet"),
        };
        if !dir.join("samples").is_dir() {
            write_fleet(&dir, hosts);
        }
        println!(
            "{hosts} hosts x 1 day: {:.1} MB in {}",
            dir_bytes(&dir) as f64 / 1e6,
            dir.display()
        );
        println!(
            "this bench's own peak RSS: {:.0} MiB (no child's figure can be below it)",
            own_peak_rss_mib()
        );
        // `--ranges-only`: the byte-range comparison alone (after the ship), not the answers' tables.
        let all = !args.iter().any(|a| a == "--ranges-only");
        let file_url = format!("file://{}", dir.canonicalize().unwrap().display());
        let page = tmp.path().join("fleet.html");
        if all {
            answers(&stabmon, &file_url, "file://", &[], runs, &page);
        }

        if !all {
            // the answers' tables left out
        } else if python_has("duckdb") {
            let glob = format!("{}/samples/*/*/*.parquet", dir.display());
            let script = format!(
                "import duckdb; print(duckdb.sql(\"select count(*) from read_parquet('{glob}', hive_partitioning=true) \
                 where ts >= '2026-11-02' and ts < '2026-11-03'\").fetchall()[0][0])"
            );
            let mut walls = Vec::new();
            let mut rss: f64 = 0.0;
            let mut rows = String::new();
            for _ in 0..runs {
                let mut cmd = Command::new("python3");
                cmd.args(["-c", &script]);
                let done = run_child(cmd);
                assert_eq!(done.code, 0, "duckdb failed");
                rows = String::from_utf8_lossy(&done.stdout).trim().to_owned();
                walls.push(done.wall_s);
                rss = rss.max(done.peak_rss_mib);
            }
            println!(
                "| DuckDB `count(*)` of the day's samples, file:// copy | {:.2} s | {rss:.0} MiB | {rows} rows |",
                median(walls)
            );
        } else {
            println!("SKIPPED DuckDB: python3 -c 'import duckdb' fails here");
        }

        let Some(moto) = crate::moto::Moto::start() else {
            println!("SKIPPED S3: moto[server] is not installed (pip install 'moto[server]')");
            return;
        };
        moto.create_bucket("fleet");
        let env = moto.env();
        let mut cmd = Command::new(&stabmon);
        cmd.args(["ship", "--data"])
            .arg(&dir)
            .arg("s3://fleet/bench");
        cmd.envs(env.iter().map(|(k, v)| (k, v)));
        let done = run_child(cmd);
        assert_eq!(done.code, 0, "stabmon ship failed");
        println!(
            "| `stabmon ship` of the whole store to S3 (moto) | {:.2} s | {:.0} MiB | |",
            done.wall_s, done.peak_rss_mib
        );
        if all {
            answers(
                &stabmon,
                "s3://fleet/bench",
                "s3:// (moto)",
                &env,
                runs,
                &page,
            );
        }

        // What reads fetch from the bucket: counted by a forwarder between stabmon and moto, for this build and,
        // with `--before PATH`, another one in the same run.
        let meter =
            crate::moto::Forwarder::new(moto.endpoint.trim_start_matches("http://").to_owned());
        let metered: Vec<(String, String)> = env
            .iter()
            .map(|(k, v)| match k.as_str() {
                "AWS_ENDPOINT_URL" => (k.clone(), format!("http://127.0.0.1:{}", meter.port)),
                _ => (k.clone(), v.clone()),
            })
            .collect();
        let mut builds = vec![("this build".to_owned(), stabmon.clone())];
        if let Some(before) = arg(&args, "--before") {
            builds.insert(0, ("--before".to_owned(), PathBuf::from(before)));
        }
        println!();
        println!(
            "| s3:// (moto), `incidents --all-hosts --json` | build | wall | peak RSS | fetched | wall / first build's |"
        );
        println!("|---|---|---|---|---|---|");
        for (what, range) in [("1 hour", HOUR), ("the day", DAY)] {
            // The builds take turns in each run, so that a change of the machine's load weighs on both alike.
            let mut walls = vec![Vec::new(); builds.len()];
            let mut rss = vec![0.0f64; builds.len()];
            let mut bytes = vec![0; builds.len()];
            for _ in 0..runs {
                for (b, (_, bin)) in builds.iter().enumerate() {
                    let mut cmd = Command::new(bin);
                    cmd.args(["incidents", "--all-hosts", "--json"])
                        .args(range)
                        .args(["--data", "s3://fleet/bench"]);
                    cmd.envs(metered.iter().map(|(k, v)| (k, v)));
                    let before = meter.bytes_back();
                    let done = run_child(cmd);
                    assert_eq!(
                        done.code,
                        0,
                        "{} incidents over {what} failed",
                        bin.display()
                    );
                    bytes[b] = meter.bytes_back() - before;
                    walls[b].push(done.wall_s);
                    rss[b] = rss[b].max(done.peak_rss_mib);
                }
            }
            let walls: Vec<f64> = walls.into_iter().map(median).collect();
            for (b, (name, _)) in builds.iter().enumerate() {
                println!(
                    "| {what} | {name} | {:.2} s | {:.0} MiB | {:.1} MB | {:.2}x |",
                    walls[b],
                    rss[b],
                    bytes[b] as f64 / 1e6,
                    walls[b] / walls[0]
                );
            }
        }
    }
}

fn main() {
    #[cfg(unix)]
    bench::main();
    #[cfg(not(unix))]
    println!("the fleet bench measures child processes with wait4: Unix only");
}
