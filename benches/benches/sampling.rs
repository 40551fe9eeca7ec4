//! CPU cost of one sampling pass with about 1,000 processes, against two floors measured in the same run.
//!
//! - floor (a): open, read and close `/proc/PID/stat` and `/proc/PID/statm` for every process, reused buffer;
//! - floor (b): the same two files kept open between passes and re-read with `pread`;
//! - `ProcSampler` (stabmon's Linux sampler), `SysinfoSampler` (sysinfo narrowed to CPU + memory without tasks),
//!   and sysinfo's `refresh_all()`.
//!
//! The bench starts `sleep` children until about 1,000 processes exist (kills them at the end), then runs the
//! readers in interleaved rounds and reports the median CPU time per pass (`CLOCK_PROCESS_CPUTIME_ID`: user +
//! system). Run: `cargo bench -p stabmon-benches --bench sampling`. Environment: `STABMON_BENCH_PROCS` (target
//! process count, default 1000), `STABMON_BENCH_PASSES` (default 30), `STABMON_BENCH_ONLY` (one reader's label,
//! e.g. `proc`, to profile it alone with `strace -c -f` or `perf`).
#![allow(clippy::unwrap_used, clippy::expect_used)]

#[cfg(target_os = "linux")]
mod linux {
    use std::collections::HashMap;
    use std::fmt::Write as _;
    use std::fs::File;
    use std::io::Read;
    use std::os::unix::fs::FileExt;
    use std::process::{Child, Command, Stdio};
    use std::time::Duration;

    use stabmon_core::Timestamp;
    use stabmon_probe::{ProcSampler, Sampler, SamplerOptions, SysinfoSampler};

    fn cpu_time() -> Duration {
        let mut ts = libc::timespec {
            tv_sec: 0,
            tv_nsec: 0,
        };
        // SAFETY: clock_gettime writes into the struct we pass.
        unsafe { libc::clock_gettime(libc::CLOCK_PROCESS_CPUTIME_ID, &mut ts) };
        Duration::new(ts.tv_sec as u64, ts.tv_nsec as u32)
    }

    fn pids() -> Vec<u32> {
        std::fs::read_dir("/proc")
            .unwrap()
            .filter_map(|e| e.ok()?.file_name().to_str()?.parse().ok())
            .collect()
    }

    /// Sleeping children, killed and reaped on drop.
    struct Children(Vec<Child>);

    impl Drop for Children {
        fn drop(&mut self) {
            for c in &mut self.0 {
                let _ = c.kill();
            }
            for c in &mut self.0 {
                let _ = c.wait();
            }
        }
    }

    /// Floor (a): open, read, close stat and statm per process.
    struct FloorA {
        buf: Vec<u8>,
        path: String,
    }

    impl FloorA {
        fn pass(&mut self) -> u64 {
            let mut bytes = 0;
            for pid in pids() {
                for file in ["stat", "statm"] {
                    self.path.clear();
                    let _ = write!(self.path, "/proc/{pid}/{file}");
                    if let Ok(mut f) = File::open(&self.path) {
                        bytes += f.read(&mut self.buf).unwrap_or(0) as u64;
                    }
                }
            }
            bytes
        }
    }

    /// Floor (b): stat and statm kept open, re-read with pread.
    struct FloorB {
        buf: Vec<u8>,
        path: String,
        open: HashMap<u32, (File, File)>,
    }

    impl FloorB {
        fn pass(&mut self) -> u64 {
            let mut bytes = 0;
            let live = pids();
            for &pid in &live {
                if let Some((s, m)) = self.open.get(&pid) {
                    let a = s.read_at(&mut self.buf, 0);
                    let b = m.read_at(&mut self.buf, 0);
                    if let (Ok(a), Ok(b)) = (a, b) {
                        bytes += (a + b) as u64;
                        continue;
                    }
                }
                let mut open = |file: &str| {
                    self.path.clear();
                    let _ = write!(self.path, "/proc/{pid}/{file}");
                    File::open(&self.path).ok()
                };
                if let (Some(s), Some(m)) = (open("stat"), open("statm")) {
                    bytes += (s.read_at(&mut self.buf, 0).unwrap_or(0)
                        + m.read_at(&mut self.buf, 0).unwrap_or(0))
                        as u64;
                    self.open.insert(pid, (s, m));
                }
            }
            let live: std::collections::HashSet<u32> = live.into_iter().collect();
            self.open.retain(|pid, _| live.contains(pid));
            bytes
        }
    }

    fn median(v: &mut [Duration]) -> Duration {
        v.sort();
        v[v.len() / 2]
    }

    fn env(name: &str, default: usize) -> usize {
        std::env::var(name)
            .ok()
            .and_then(|v| v.parse().ok())
            .unwrap_or(default)
    }

    pub fn main() {
        let target = env("STABMON_BENCH_PROCS", 1000);
        let passes = env("STABMON_BENCH_PASSES", 30).max(1);
        let only = std::env::var("STABMON_BENCH_ONLY").ok();

        let mut children = Children(Vec::new());
        let existing = pids().len();
        for _ in existing..target {
            let c = Command::new("sleep")
                .arg("600")
                .stdin(Stdio::null())
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .spawn()
                .expect("spawn sleep");
            children.0.push(c);
        }
        std::thread::sleep(Duration::from_millis(500));
        let procs = pids().len();
        println!(
            "processes: {procs} ({existing} before the bench, {} sleep children)",
            children.0.len()
        );

        let wanted = |label: &str| only.as_deref().is_none_or(|o| o == label);
        type Pass = Box<dyn FnMut()>;
        let mut readers: Vec<(&str, &str, Pass)> = Vec::new();
        // Only the readers asked for are built, so that `strace -c` sees one reader alone.
        if wanted("floor-a") {
            let mut floor_a = FloorA {
                buf: vec![0; 4096],
                path: String::new(),
            };
            readers.push((
                "floor-a",
                "floor (a): open/read/close stat + statm",
                Box::new(move || {
                    std::hint::black_box(floor_a.pass());
                }),
            ));
        }
        if wanted("floor-b") {
            let mut floor_b = FloorB {
                buf: vec![0; 4096],
                path: String::new(),
                open: HashMap::new(),
            };
            readers.push((
                "floor-b",
                "floor (b): stat + statm kept open, pread",
                Box::new(move || {
                    std::hint::black_box(floor_b.pass());
                }),
            ));
        }
        if wanted("proc") {
            // As the recorder does: every process's file kept open.
            stabmon_probe::raise_open_file_limit();
            let mut proc = ProcSampler::new(SamplerOptions::new()).expect("proc sampler");
            readers.push((
                "proc",
                "stabmon ProcSampler (whole sample)",
                Box::new(move || {
                    std::hint::black_box(proc.sample(Timestamp::now()).expect("proc sample"));
                }),
            ));
        }
        if wanted("proc-nokeep") {
            let mut proc = ProcSampler::new(SamplerOptions::new()).expect("proc sampler");
            proc.set_max_open_files(0);
            readers.push((
                "proc-nokeep",
                "stabmon ProcSampler, no file kept open (over the fd cap)",
                Box::new(move || {
                    std::hint::black_box(proc.sample(Timestamp::now()).expect("proc sample"));
                }),
            ));
        }
        if wanted("sysinfo") {
            let mut sysinfo = SysinfoSampler::new(SamplerOptions::new()).expect("sysinfo sampler");
            readers.push((
                "sysinfo",
                "stabmon SysinfoSampler (narrowed, whole sample)",
                Box::new(move || {
                    std::hint::black_box(sysinfo.sample(Timestamp::now()).expect("sysinfo sample"));
                }),
            ));
        }
        if wanted("refresh-all") {
            let mut all = sysinfo::System::new().expect("sysinfo");
            all.refresh_all();
            readers.push((
                "refresh-all",
                "sysinfo refresh_all()",
                Box::new(move || all.refresh_all()),
            ));
        }
        assert!(!readers.is_empty(), "unknown reader {only:?}");
        // Warm up: open the kept files, fill caches.
        for (_, _, pass) in &mut readers {
            for _ in 0..3 {
                pass();
            }
        }
        let mut times: Vec<Vec<Duration>> = vec![Vec::with_capacity(passes); readers.len()];
        // Interleaved rounds, so that a noisy moment hits every reader alike.
        for _ in 0..passes {
            for (i, (_, _, pass)) in readers.iter_mut().enumerate() {
                let t0 = cpu_time();
                pass();
                times[i].push(cpu_time() - t0);
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        let medians: Vec<Duration> = times.iter_mut().map(|t| median(t)).collect();
        let find = |label: &str| {
            readers
                .iter()
                .position(|r| r.0 == label)
                .map(|i| medians[i])
        };
        let (fa, fb) = (find("floor-a"), find("floor-b"));
        println!();
        println!("median CPU time per pass over {passes} passes, {procs} processes");
        println!();
        println!("| reader | per pass | per process | vs floor (a) | vs floor (b) |");
        println!("|---|---|---|---|---|");
        for (i, (_, name, _)) in readers.iter().enumerate() {
            let m = medians[i];
            let ratio = |f: Option<Duration>| {
                f.map_or("-".to_string(), |f| {
                    format!("{:.2}x", m.as_secs_f64() / f.as_secs_f64())
                })
            };
            println!(
                "| {name} | {:.2} ms | {:.1} us | {} | {} |",
                m.as_secs_f64() * 1e3,
                m.as_secs_f64() * 1e6 / procs as f64,
                ratio(fa),
                ratio(fb),
            );
        }
        drop(readers);
        drop(children);
    }
}

fn main() {
    #[cfg(target_os = "linux")]
    linux::main();
    #[cfg(not(target_os = "linux"))]
    println!("the sampling bench compares against /proc floors and runs on Linux only");
}
