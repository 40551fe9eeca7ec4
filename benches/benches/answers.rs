//! Answers at any range: a synthetic store of N days at 1 s (top 10, two latency targets, injected CPU hogs, leaks
//! ending in OOM kills, a crash gap and a reboot), then the `stabmon` commands a user runs over the whole range of
//! the data (first to last sample), timed as whole processes with their peak RSS, `stabmon serve`'s page of that
//! range (uncached, then two at once) with the server's peak RSS, beside DuckDB answering comparable questions on
//! the same files in the same run.
//!
//! ```text
//! cargo build --release -p stabmon-cli
//! cargo bench -p stabmon-benches --bench answers -- --days 7 [--keep DIR] [--stabmon PATH] [--runs 3]
//! ```
//!
//! `--keep DIR` writes the store there once and reuses it on the next run (generating a month takes minutes;
//! `--write-only` stops after writing it);
//! `--stabmon` names the binary to time (default `target/release/stabmon`), so an older build can be measured on
//! the same store. DuckDB runs through `python3 -c` when `python3 -c 'import duckdb'` works, else it is skipped with
//! the reason printed. Each figure is the median of `--runs` runs (default 3).
//!
//! With `--days 7` (the synthetic week), `incidents --json` and the report's spike labels are compared with the
//! golden answers in `benches/golden/` (`STABMON_BLESS=1` rewrites them): the bench exits with 1 when they differ,
//! whichever schema the store at `--keep` was written in.
#![allow(clippy::unwrap_used, clippy::expect_used)]

#[cfg(unix)]
mod bench {
    use std::io::{BufRead, BufReader, Read, Write};
    use std::path::{Path, PathBuf};
    use std::process::{Command, Stdio};
    use std::time::{Duration, Instant};

    use stabmon_benches::{Finished, arg, dir_bytes, golden, median, run_child, write_synth};
    use stabmon_core::Timestamp;
    use stabmon_core::synth::Synth;

    /// Monday 2026-11-02 00:00 UTC.
    const START: i64 = 1_793_577_600;

    fn synth(days: u64) -> Synth {
        let start = Timestamp::from_unix_secs(START);
        let at = |s: u64| start.saturating_add(Duration::from_secs(s));
        let mut synth = Synth::new(start, Duration::from_secs(1))
            .count(days * 86_400)
            .host("bench-1")
            .top_n(10)
            .latency_target("router", 2.0, 0.4)
            .latency_target("web", 18.0, 3.0);
        let hogs = [
            "xmrig", "ffmpeg", "gzip", "rsync", "pg_dump", "clamscan", "borg",
        ];
        for d in 0..days {
            for (k, hour) in [3u64, 15].iter().enumerate() {
                let name = hogs[((d * 2) as usize + k) % hogs.len()];
                let from = d * 86_400 + hour * 3600 + d * 600;
                synth = synth.cpu_hog(
                    name,
                    format!("/usr/bin/{name} --job {d}-{k}"),
                    at(from),
                    at(from + 300 + 120 * ((d + k as u64) % 4)),
                    120.0 + 10.0 * ((d * 2 + k as u64) % 8) as f32,
                );
            }
            let leak = d * 86_400 + 9 * 3600;
            synth = synth.memory_leak(
                format!("leaky-{d}"),
                format!("/opt/leaky-{d}/bin/serve"),
                at(leak),
                at(leak + 300),
                40 << 20,
            );
            let spike = d * 86_400 + 12 * 3600 + d * 300;
            synth = synth.latency_spike("router", at(spike), at(spike + 30), 1500.0);
            let outage = d * 86_400 + 21 * 3600 + d * 300;
            synth = synth.latency_outage("web", at(outage), at(outage + 60));
        }
        if days >= 2 {
            synth = synth
                .gap(at(86_400 + 20 * 3600), at(86_400 + 20 * 3600 + 180))
                .gap(at(2 * 86_400 - 3600), at(2 * 86_400 - 3600 + 600))
                .reboot(at(2 * 86_400 - 3600 + 600));
        }
        synth
    }

    fn write_store(dir: &Path, days: u64) {
        let t = Instant::now();
        let n = write_synth(dir, &synth(days), None);
        println!(
            "wrote {n} samples ({days} days) to {} in {:.0} s",
            dir.display(),
            t.elapsed().as_secs_f64()
        );
    }

    /// Time to the first two lines of stdout, and the process's peak RSS by then (MiB); the process is then killed.
    fn first_lines(mut cmd: Command) -> (f64, f64) {
        let t = Instant::now();
        let mut child = cmd
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let mut out = BufReader::new(child.stdout.take().unwrap());
        let mut line = String::new();
        for _ in 0..2 {
            line.clear();
            out.read_line(&mut line).unwrap();
        }
        let wall = t.elapsed().as_secs_f64();
        let status =
            std::fs::read_to_string(format!("/proc/{}/status", child.id())).unwrap_or_default();
        let hwm_kib: f64 = status
            .lines()
            .find_map(|l| l.strip_prefix("VmHWM:"))
            .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
            .unwrap_or(f64::NAN);
        let _ = child.kill();
        let _ = child.wait();
        (wall, hwm_kib / 1024.0)
    }

    /// `stabmon serve` with `--max-range` above the data: the first (uncached) request of the page of the whole
    /// range, alone, then two uncached pages at once (both render workers busy), and the server's peak RSS.
    fn serve_figures(stabmon: &Path, dir: &Path, days: u64, first: Timestamp, last: Timestamp) {
        let mut child = Command::new(stabmon)
            .arg("serve")
            .arg("--data")
            .arg(dir)
            .args(["--bind", "127.0.0.1:0", "--refresh", "0"])
            .args(["--max-range", &format!("{}d", days + 1)])
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let mut err = BufReader::new(child.stderr.take().unwrap());
        let mut line = String::new();
        err.read_line(&mut line).unwrap();
        let addr = line
            .split("http://")
            .nth(1)
            .and_then(|r| r.split('/').next())
            .unwrap_or_else(|| panic!("no address in {line:?}"))
            .to_owned();
        let page = |query: String| {
            let t = Instant::now();
            let mut conn = std::net::TcpStream::connect(&addr).unwrap();
            write!(
                conn,
                "GET /?{query} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n"
            )
            .unwrap();
            let mut body = Vec::new();
            conn.read_to_end(&mut body).unwrap();
            let head = String::from_utf8_lossy(&body[..body.len().min(15)]).into_owned();
            assert!(head.starts_with("HTTP/1.1 200"), "{head}");
            (t.elapsed().as_secs_f64(), body.len())
        };
        // The whole range, then two ranges an hour and two hours shorter (not cached) at once.
        let range = |shorter_h: u64| {
            let to = last
                .saturating_add(Duration::from_secs(1))
                .saturating_sub(Duration::from_secs(3600 * shorter_h));
            format!("from={first}&to={to}")
        };
        let (whole, bytes) = page(range(0));
        let (a, b) = std::thread::scope(|s| {
            let a = s.spawn(|| page(range(1)).0);
            let b = s.spawn(|| page(range(2)).0);
            (a.join().unwrap(), b.join().unwrap())
        });
        let status =
            std::fs::read_to_string(format!("/proc/{}/status", child.id())).unwrap_or_default();
        let hwm_mib = status
            .lines()
            .find_map(|l| l.strip_prefix("VmHWM:"))
            .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<f64>().ok())
            .map_or(f64::NAN, |k| k / 1024.0);
        let _ = child.kill();
        let _ = child.wait();
        println!(
            "\n| `stabmon serve --max-range {}d`, page of the whole range | s |\n|---|---|",
            days + 1
        );
        println!(
            "| first request (uncached), {:.2} MB | {whole:.2} |",
            bytes as f64 / 1e6
        );
        println!("| two other uncached pages at once (both render workers) | {a:.2}, {b:.2} |");
        println!("| server peak RSS | {hwm_mib:.0} MiB |");
    }

    const DUCKDB: &str = r#"
import sys, time, duckdb
root = sys.argv[1]
con = duckdb.connect()
src = lambda t: f"read_parquet('{root}/{t}/**/*.parquet', hive_partitioning = true, union_by_name = true)"
qs = {
  "sample count": f"SELECT count(*) FROM {src('samples')}",
  "average and peak CPU per hour": f"SELECT date_trunc('hour', ts) AS h, avg(cpu_busy_pct), max(cpu_busy_pct) FROM {src('samples')} GROUP BY h ORDER BY h",
  "top names by CPU seconds": f"SELECT name, sum(cpu_pct) / 100 AS cpu_s FROM {src('names')} GROUP BY name ORDER BY cpu_s DESC LIMIT 10",
  "hourly peak RSS of one name": f"SELECT date_trunc('hour', ts) AS h, max(rss_bytes) FROM {src('names')} WHERE name = 'postgres' GROUP BY h ORDER BY h",
  "processes listed at an instant": f"SELECT pid, name, cpu_rank, rss_rank FROM {src('processes')} WHERE ts = (SELECT max(ts) FROM {src('samples')})",
}
for name, q in qs.items():
    t = time.perf_counter()
    con.execute(q).fetchall()
    print(f"{name}\t{time.perf_counter() - t:.3f}")
"#;

    pub fn main() {
        let args: Vec<String> = std::env::args().collect();
        let days: u64 = arg(&args, "--days").map_or(7, |d| d.parse().unwrap());
        let runs: usize = arg(&args, "--runs").map_or(3, |d| d.parse().unwrap());
        let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
        let stabmon = arg(&args, "--stabmon")
            .map(PathBuf::from)
            .unwrap_or_else(|| root.join("target/release/stabmon"));
        if !stabmon.exists() {
            eprintln!(
                "{} does not exist: run `cargo build --release -p stabmon-cli` first (or pass --stabmon PATH)",
                stabmon.display()
            );
            std::process::exit(2);
        }
        let tmp;
        let dir = match arg(&args, "--keep") {
            Some(d) => PathBuf::from(d),
            None => {
                tmp = tempfile::tempdir().unwrap();
                tmp.path().to_path_buf()
            }
        };
        if !dir.join("samples").exists() {
            write_store(&dir, days);
        }
        if args.iter().any(|a| a == "--write-only") {
            return;
        }
        println!(
            "store: {} ({:.1} MB), binary: {}",
            dir.display(),
            dir_bytes(&dir) as f64 / 1e6,
            stabmon.display()
        );
        // The whole range of the data, as a user asks for it (a wider range would squeeze the data into a sliver
        // of the chart).
        let cov = stabmon_store::StoreReader::open(&dir)
            .unwrap()
            .coverage()
            .unwrap();
        let (first, last) = (cov[0].first, cov[0].last);
        let (from, to) = (
            first.to_string(),
            last.saturating_add(Duration::from_secs(1)).to_string(),
        );
        let range = ["--from", from.as_str(), "--to", to.as_str()];
        println!("range: {from} to {to}");
        let out = tempfile::tempdir().unwrap();
        let html = out.path().join("report.html");

        println!("| command ({days} days) | wall s (median of {runs}) | peak RSS MiB |");
        println!("|---|---|---|");
        let mut commands: Vec<(&str, Vec<String>)> = vec![
            (
                "report",
                vec!["report".into(), "-o".into(), html.display().to_string()],
            ),
            ("incidents", vec!["incidents".into(), "--json".into()]),
            ("top", vec!["top".into(), "--json".into()]),
        ];
        for (name, argv) in commands.drain(..) {
            let mut walls = Vec::new();
            let mut rss = Vec::new();
            for _ in 0..runs {
                let mut cmd = Command::new(&stabmon);
                cmd.args(&argv)
                    .args(range)
                    .arg("--data")
                    .arg(&dir)
                    .env("NO_COLOR", "1");
                let Finished {
                    wall_s: w,
                    peak_rss_mib: r,
                    code,
                    ..
                } = run_child(cmd);
                assert_eq!(code, 0, "stabmon {argv:?} failed");
                walls.push(w);
                rss.push(r);
            }
            println!(
                "| `stabmon {name}` | {:.2} | {:.0} |",
                median(walls),
                median(rss)
            );
        }
        if html.exists() {
            let bytes = std::fs::metadata(&html).map_or(0, |m| m.len());
            println!("report HTML: {:.2} MB", bytes as f64 / 1e6);
        }
        let golden_failed = days == 7 && !same_as_golden(&stabmon, &dir, range, &html);
        let mut walls = Vec::new();
        let mut rss = Vec::new();
        for _ in 0..runs {
            let mut cmd = Command::new(&stabmon);
            cmd.arg("dump").arg("--data").arg(&dir);
            let (w, r) = first_lines(cmd);
            walls.push(w);
            rss.push(r);
        }
        println!(
            "| `stabmon dump`, first two lines | {:.2} | {:.0} |",
            median(walls),
            median(rss)
        );

        serve_figures(&stabmon, &dir, days, first, last);
        duckdb_figures(&dir);
        if golden_failed {
            std::process::exit(1);
        }
    }

    /// DuckDB answering comparable questions on the same files, where python3 has the duckdb module.
    fn duckdb_figures(dir: &Path) {
        let has_duckdb = Command::new("python3")
            .args(["-c", "import duckdb"])
            .stderr(Stdio::null())
            .status()
            .is_ok_and(|s| s.success());
        if !has_duckdb {
            println!(
                "DuckDB: skipped (python3 with the duckdb module is not installed: pip install duckdb)"
            );
            return;
        }
        let t = Instant::now();
        let mut cmd = Command::new("python3");
        cmd.args(["-c", DUCKDB]).arg(dir);
        let output = cmd.output().unwrap();
        let total = t.elapsed().as_secs_f64();
        println!("\n| DuckDB on the same files | s |\n|---|---|");
        for line in String::from_utf8_lossy(&output.stdout).lines() {
            if let Some((q, s)) = line.split_once('\t') {
                println!("| {q} | {s} |");
            }
        }
        let Finished {
            peak_rss_mib: rss, ..
        } = run_child({
            let mut c = Command::new("python3");
            c.args(["-c", DUCKDB]).arg(dir);
            c
        });
        println!(
            "| whole script (python start-up included) | {total:.2} s, peak RSS {rss:.0} MiB |"
        );
        if !output.status.success() {
            println!("DuckDB failed: {}", String::from_utf8_lossy(&output.stderr));
        }
    }

    /// Whether the week's `incidents --json` and the spike labels of its report (`html`, written by the timed
    /// runs) are the golden ones in `benches/golden/` (or, under `STABMON_BLESS=1`, writes them); says which.
    fn same_as_golden(stabmon: &Path, dir: &Path, range: [&str; 4], html: &Path) -> bool {
        let golden_dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("golden");
        let out = Command::new(stabmon)
            .args(["incidents", "--json", "--data"])
            .arg(dir)
            .args(range)
            .env("NO_COLOR", "1")
            .env("TZ", "UTC")
            .output()
            .unwrap();
        let incidents = golden::incidents_json(&out.stdout);
        let labels = std::fs::read_to_string(html)
            .map(|page| golden::spike_labels(&page))
            .map_err(|e| format!("{}: {e}", html.display()));
        let bless = golden::bless_requested();
        let checks = [
            ("week-incidents.json", incidents),
            ("week-labels.txt", labels),
        ];
        let mut same = true;
        for (name, got) in checks {
            let path = golden_dir.join(name);
            match got.and_then(|got| golden::compare(&path, &got, bless)) {
                Ok(()) if bless => println!("golden: wrote {}", path.display()),
                Ok(()) => println!("golden: {} is the same", path.display()),
                Err(e) => {
                    println!("golden: {e}");
                    same = false;
                }
            }
        }
        same
    }
}

fn main() {
    #[cfg(unix)]
    bench::main();
    #[cfg(not(unix))]
    println!("the answers bench measures child processes with wait4 and /proc: Unix only");
}
