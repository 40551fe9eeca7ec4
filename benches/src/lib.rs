//! Shared helpers for the stabmon benchmark programs in `benches/benches/`: their flags, synthetic stores, and
//! whole `stabmon` processes timed with their peak RSS, and the golden answers they are checked against.
#![deny(missing_docs)]

pub mod golden;

use std::path::Path;
use std::sync::Mutex;

use stabmon_core::synth::Synth;
use stabmon_store::StoreWriter;

/// The value after `--name` among the program's arguments.
pub fn arg(args: &[String], name: &str) -> Option<String> {
    args.iter()
        .position(|a| a == name)
        .and_then(|i| args.get(i + 1))
        .cloned()
}

/// Writes every sample of `synth` into a store at `dir` (created when missing), as `stabmon record` lays it out;
/// the number of samples. Writers that start at once in one directory take `creating` around their creation
/// (it probes the directory with a file named by the process). Panics on a write error: a bench cannot go on.
pub fn write_synth(dir: &Path, synth: &Synth, creating: Option<&Mutex<()>>) -> u64 {
    let mut w = {
        let _one = creating.map(|m| m.lock().unwrap_or_else(std::sync::PoisonError::into_inner));
        StoreWriter::create(dir)
            .unwrap_or_else(|e| panic!("cannot create a store in {}: {e}", dir.display()))
    };
    let mut n = 0u64;
    for s in synth.iter() {
        w.write(&s)
            .unwrap_or_else(|e| panic!("cannot write to {}: {e}", dir.display()));
        n += 1;
    }
    w.finish()
        .unwrap_or_else(|e| panic!("cannot finish {}: {e}", dir.display()));
    n
}

/// The bytes of every file below `dir`.
pub fn dir_bytes(dir: &Path) -> u64 {
    let mut total = 0;
    if let Ok(rd) = std::fs::read_dir(dir) {
        for e in rd.flatten() {
            let p = e.path();
            total += if p.is_dir() {
                dir_bytes(&p)
            } else {
                e.metadata().map_or(0, |m| m.len())
            };
        }
    }
    total
}

/// The median (the upper one of an even count); `NaN` for none.
pub fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    v.get(v.len() / 2).copied().unwrap_or(f64::NAN)
}

/// Whether `python3 -c 'import MODULE'` works here.
pub fn python_has(module: &str) -> bool {
    std::process::Command::new("python3")
        .args(["-c", &format!("import {module}")])
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .status()
        .is_ok_and(|s| s.success())
}

/// A child process run to its end by [`run_child`].
#[cfg(unix)]
#[derive(Debug)]
pub struct Finished {
    /// Wall time, seconds.
    pub wall_s: f64,
    /// Peak resident memory, MiB (the kernel's `ru_maxrss`).
    pub peak_rss_mib: f64,
    /// The exit code, -1 when killed by a signal.
    pub code: i32,
    /// Everything it wrote to stdout (stderr is dropped).
    pub stdout: Vec<u8>,
}

/// Runs `cmd` to its end, reaped by `wait4` for its resource usage; stdout goes through a temporary file so that a
/// large output never blocks the child. Panics when it cannot be started.
///
/// The child's peak RSS is never below this process's own ([`own_peak_rss_mib`]): std spawns with `posix_spawn`
/// (`CLONE_VM`), and the kernel's exec folds the high-water mark of the memory it leaves, this process's, into the
/// child's `ru_maxrss`. A bench keeps its own peak low (stores are written streaming) and prints it beside its
/// figures.
#[cfg(unix)]
#[allow(clippy::zombie_processes)]
pub fn run_child(mut cmd: std::process::Command) -> Finished {
    use std::io::{Read, Seek};
    let mut out = tempfile::tempfile().unwrap_or_else(|e| panic!("no temporary file: {e}"));
    let t = std::time::Instant::now();
    let child = cmd
        .stdout(out.try_clone().unwrap_or_else(|e| panic!("{e}")))
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap_or_else(|e| panic!("cannot start {cmd:?}: {e}"));
    let pid = child.id() as libc::pid_t;
    let mut status = 0;
    // SAFETY: wait4 writes the status and the usage of the child we spawned into our locals.
    let mut ru: libc::rusage = unsafe { std::mem::zeroed() };
    unsafe { libc::wait4(pid, &mut status, 0, &mut ru) };
    let wall_s = t.elapsed().as_secs_f64();
    let code = if libc::WIFEXITED(status) {
        libc::WEXITSTATUS(status)
    } else {
        -1
    };
    let mut stdout = Vec::new();
    let _ = out.rewind().and_then(|()| out.read_to_end(&mut stdout));
    Finished {
        wall_s,
        peak_rss_mib: ru.ru_maxrss as f64 / 1024.0,
        code,
        stdout,
    }
}

/// This process's own peak RSS, MiB: the floor under every [`run_child`] figure. On Linux the high-water mark of its
/// memory (`VmHWM`), which is what exec hands on; `getrusage` would also count what this process inherited from
/// whatever started it (cargo). Elsewhere `getrusage`.
#[cfg(unix)]
pub fn own_peak_rss_mib() -> f64 {
    let hwm_kib = std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find_map(|l| l.strip_prefix("VmHWM:"))
                .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<f64>().ok())
        });
    if let Some(kib) = hwm_kib {
        return kib / 1024.0;
    }
    // SAFETY: getrusage writes the usage of this process into our local.
    let mut ru: libc::rusage = unsafe { std::mem::zeroed() };
    unsafe { libc::getrusage(libc::RUSAGE_SELF, &mut ru) };
    ru.ru_maxrss as f64 / 1024.0
}
