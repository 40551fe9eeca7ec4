//! The fleet: N synthetic hosts x 1 day at 1 s (top 10, a CPU hog on every third host, a leak on every fifth)
//! in one Hive-partitioned store, read by `stabmon incidents --all-hosts` from `file://` and from a local S3
//! server (moto on 127.0.0.1, after `stabmon ship`), beside DuckDB counting the same rows of the `file://` copy in
//! the same run. Whole processes, timed with their peak RSS (`wait4`).
//!
//! ```text
//! cargo build --release -p stabmon-cli
//! cargo bench -p stabmon-benches --bench fleet -- --hosts 100 [--keep DIR] [--stabmon PATH] [--runs 3]
//! ```
//!
//! `--keep DIR` writes the store there once and reuses it. The S3 part needs `python3 -m moto.server`
//! (`pip install 'moto[server]'`) and DuckDB `python3 -c 'import duckdb'`; each is skipped with the reason printed
//! when missing.
#![allow(clippy::unwrap_used, clippy::expect_used)]

#[cfg(unix)]
mod bench {
    use std::net::TcpListener;
    use std::path::{Path, PathBuf};
    use std::process::{Command, Stdio};
    use std::time::{Duration, Instant};

    use stabmon_core::Timestamp;
    use stabmon_core::synth::Synth;
    use stabmon_store::StoreWriter;

    /// Monday 2026-11-02 00:00 UTC.
    const START: i64 = 1_793_577_600;

    fn arg(args: &[String], name: &str) -> Option<String> {
        args.iter()
            .position(|a| a == name)
            .and_then(|i| args.get(i + 1))
            .cloned()
    }

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
                        let mut w = {
                            let _one = creating.lock().unwrap();
                            StoreWriter::create(dir).unwrap()
                        };
                        for sample in host_synth(i).generate() {
                            w.write(&sample).unwrap();
                        }
                        w.finish().unwrap();
                    }
                });
            }
        });
        println!(
            "wrote {hosts} hosts x 1 day in {:.0} s",
            t.elapsed().as_secs_f64()
        );
    }

    /// Wall seconds, peak RSS (MiB), exit code and stdout of a finished child, reaped by `wait4`.
    #[allow(clippy::zombie_processes)]
    fn run_child(mut cmd: Command) -> (f64, f64, i32, Vec<u8>) {
        let out = tempfile::tempfile().unwrap();
        let t = Instant::now();
        let child = cmd
            .stdout(out.try_clone().unwrap())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let pid = child.id() as libc::pid_t;
        let mut status = 0;
        // SAFETY: wait4 writes the status and the usage of the child we spawned into our locals.
        let mut ru: libc::rusage = unsafe { std::mem::zeroed() };
        unsafe { libc::wait4(pid, &mut status, 0, &mut ru) };
        let wall = t.elapsed().as_secs_f64();
        let code = if libc::WIFEXITED(status) {
            libc::WEXITSTATUS(status)
        } else {
            -1
        };
        use std::io::{Read, Seek};
        let mut out = out;
        out.rewind().unwrap();
        let mut stdout = Vec::new();
        out.read_to_end(&mut stdout).unwrap();
        (wall, ru.ru_maxrss as f64 / 1024.0, code, stdout)
    }

    fn median(mut v: Vec<f64>) -> f64 {
        v.sort_by(f64::total_cmp);
        v[v.len() / 2]
    }

    /// `incidents --all-hosts --json` over the day: median wall, max peak RSS, total samples and incidents.
    fn incidents(
        stabmon: &Path,
        data: &str,
        env: &[(&str, String)],
        runs: usize,
    ) -> (f64, f64, u64, usize) {
        let mut walls = Vec::new();
        let mut rss: f64 = 0.0;
        let mut counts = (0, 0);
        for _ in 0..runs {
            let mut cmd = Command::new(stabmon);
            cmd.args([
                "incidents",
                "--all-hosts",
                "--json",
                "--from",
                "2026-11-02T00:00:00Z",
                "--to",
                "2026-11-03T00:00:00Z",
                "--data",
                data,
            ]);
            for (k, v) in env {
                cmd.env(k, v);
            }
            let (wall, peak, code, out) = run_child(cmd);
            assert_eq!(
                code, 0,
                "stabmon incidents --all-hosts --data {data} failed"
            );
            let doc: serde_json::Value = serde_json::from_slice(&out).unwrap();
            let samples: u64 = doc["hosts"]
                .as_array()
                .unwrap()
                .iter()
                .map(|h| h["samples"].as_u64().unwrap())
                .sum();
            counts = (samples, doc["incidents"].as_array().unwrap().len());
            walls.push(wall);
            rss = rss.max(peak);
        }
        (median(walls), rss, counts.0, counts.1)
    }

    fn python_has(module: &str) -> bool {
        Command::new("python3")
            .args(["-c", &format!("import {module}")])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .is_ok_and(|s| s.success())
    }

    fn dir_bytes(dir: &Path) -> u64 {
        let mut n = 0;
        for e in std::fs::read_dir(dir).unwrap().flatten() {
            let p = e.path();
            n += if p.is_dir() {
                dir_bytes(&p)
            } else {
                e.metadata().unwrap().len()
            };
        }
        n
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
        let file_url = format!("file://{}", dir.canonicalize().unwrap().display());
        let (wall, rss, samples, found) = incidents(&stabmon, &file_url, &[], runs);
        println!(
            "| `stabmon incidents --all-hosts --json`, file:// | {wall:.2} s | {rss:.0} MiB | {samples} samples, {found} incidents |"
        );

        if python_has("duckdb") {
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
                let (wall, peak, code, out) = run_child(cmd);
                assert_eq!(code, 0, "duckdb failed");
                rows = String::from_utf8_lossy(&out).trim().to_owned();
                walls.push(wall);
                rss = rss.max(peak);
            }
            println!(
                "| DuckDB `count(*)` of the day's samples, file:// copy | {:.2} s | {rss:.0} MiB | {rows} rows |",
                median(walls)
            );
        } else {
            println!("SKIPPED DuckDB: python3 -c 'import duckdb' fails here");
        }

        if !python_has("moto.server") {
            println!(
                "SKIPPED S3: python3 -m moto.server is not installed (pip install 'moto[server]')"
            );
            return;
        }
        let port = TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let mut moto = Command::new("python3")
            .args([
                "-m",
                "moto.server",
                "-H",
                "127.0.0.1",
                "-p",
                &port.to_string(),
            ])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let endpoint = format!("http://127.0.0.1:{port}");
        let deadline = Instant::now() + Duration::from_secs(30);
        while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
            assert!(Instant::now() < deadline, "moto did not start");
            std::thread::sleep(Duration::from_millis(100));
        }
        {
            use std::io::{Read, Write};
            let mut s = std::net::TcpStream::connect(("127.0.0.1", port)).unwrap();
            write!(s, "PUT /fleet HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nContent-Length: 0\r\nConnection: close\r\n\r\n").unwrap();
            let mut r = String::new();
            let _ = s.read_to_string(&mut r);
            assert!(r.starts_with("HTTP/1.1 200"), "create bucket: {r}");
        }
        let env = [
            ("AWS_ENDPOINT_URL", endpoint),
            ("AWS_ALLOW_HTTP", "true".to_owned()),
            ("AWS_ACCESS_KEY_ID", "testing".to_owned()),
            ("AWS_SECRET_ACCESS_KEY", "testing".to_owned()),
            ("AWS_REGION", "us-east-1".to_owned()),
        ];
        let mut cmd = Command::new(&stabmon);
        cmd.args(["ship", "--data"])
            .arg(&dir)
            .arg("s3://fleet/bench");
        for (k, v) in &env {
            cmd.env(k, v);
        }
        let (wall, rss, code, _) = run_child(cmd);
        assert_eq!(code, 0, "stabmon ship failed");
        println!(
            "| `stabmon ship` of the whole store to S3 (moto) | {wall:.2} s | {rss:.0} MiB | |"
        );
        let (wall, rss, samples, found) = incidents(&stabmon, "s3://fleet/bench", &env, runs);
        println!(
            "| `stabmon incidents --all-hosts --json`, s3:// (moto) | {wall:.2} s | {rss:.0} MiB | {samples} samples, {found} incidents |"
        );
        let _ = moto.kill();
        let _ = moto.wait();
    }
}

fn main() {
    #[cfg(unix)]
    bench::main();
    #[cfg(not(unix))]
    println!("the fleet bench measures child processes with wait4: Unix only");
}
