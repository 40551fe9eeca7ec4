//! The Linux sampler: reads `/proc` directly, one file per process per pass, keeping the files open between passes.

pub(crate) mod kmsg;
pub(crate) mod parse;
pub(crate) mod taskstats;

use std::collections::HashMap;
use std::fmt::Write as _;
use std::fs::File;
use std::io::{self, Read};
use std::os::fd::AsRawFd;
use std::os::unix::fs::{FileExt, MetadataExt, OpenOptionsExt};
use std::time::Instant;

use stabmon_core::attribution::{ProcessDetails, ProcessStat, attribute_with};
use stabmon_core::units::{cpu_pct_of_ticks, round_bytes, stall_pct};
use stabmon_core::{CpuUsage, LoadAvg, Memory, Pressure, ProcessKey, Sample, Timestamp};

use self::parse::{CpuTimes, ProcStat, format_cmdline};
use crate::Error;
use crate::sampler::{HostInfo, Sampler, SamplerOptions, Users, whole_micros};

/// The default IPv4 gateway, from `/proc/net/route`.
pub(crate) fn default_gateway() -> Result<Option<std::net::Ipv4Addr>, Error> {
    let path = "/proc/net/route";
    let text = std::fs::read_to_string(path).map_err(|e| Error::read(path, e))?;
    Ok(parse::parse_proc_net_route(&text))
}

/// A system file kept open and re-read from offset 0 with `pread` at every sample.
#[derive(Debug)]
struct SysFile {
    path: &'static str,
    file: File,
}

impl SysFile {
    fn open(path: &'static str) -> Result<Self, Error> {
        File::open(path)
            .map(|file| SysFile { path, file })
            .map_err(|e| Error::read(path, e))
    }

    fn open_optional(path: &'static str) -> Option<Self> {
        Self::open(path).ok()
    }

    /// Reads the whole file into `buf`, returning the bytes read.
    fn read<'b>(&self, buf: &'b mut Vec<u8>) -> Result<&'b [u8], Error> {
        let n = pread_all(&self.file, buf).map_err(|e| Error::read(self.path, e))?;
        Ok(&buf[..n])
    }
}

/// Reads `file` from offset 0 until end of file, growing `buf` as needed.
fn pread_all(file: &File, buf: &mut Vec<u8>) -> io::Result<usize> {
    if buf.len() < 4096 {
        buf.resize(4096, 0);
    }
    let mut off = 0;
    loop {
        if off == buf.len() {
            buf.resize(buf.len() * 2, 0);
        }
        let n = file.read_at(&mut buf[off..], off as u64)?;
        if n == 0 {
            return Ok(off);
        }
        off += n;
    }
}

/// What the sampler remembers about one process between passes.
#[derive(Debug)]
struct ProcState {
    /// `/proc/PID/stat`, kept open while under the open-file cap.
    file: Option<File>,
    start_ticks: u64,
    cpu_ticks: u64,
    children_ticks: u64,
    /// Ticks used over the last interval (all of them for a process born during it).
    cpu_delta: u64,
    children_delta: u64,
    name: String,
    ppid: u32,
    rss_pages: u64,
    vsize_bytes: u64,
    /// Its thread count at the last `stat` reading.
    threads: u64,
    /// `/proc/PID/schedstat`, kept open (under the same cap) for a process of one thread: see [`RECHECK_PASSES`].
    sched: Option<File>,
    /// The run time `schedstat` showed before the last `stat` reading (so no later than it); `None` when unknown.
    run_ns: Option<u64>,
    /// The pass that last read its `stat`.
    stat_generation: u64,
    generation: u64,
}

/// A process of one thread whose run time (the first field of `/proc/PID/schedstat`, about a fifth of the cost of
/// `/proc/PID/stat` to read) is what it was before its last `stat` reading has not run since: its CPU ticks, its
/// reaped children's ticks (only a `wait` it makes adds them), its name, sizes and thread count are still those of
/// that reading, so `stat` is not read again. What can change while it sleeps (the kernel reclaiming or swapping
/// out its memory, a new parent when the parent exits) is read again at least every this many passes, and as soon
/// as its parent is gone. So is what another process sharing its memory without being its thread (`CLONE_VM`, as
/// a `vfork` child before its `exec`) changes in it, and on a `nohz_full` CPU, where a process that never sleeps
/// sees its run time move only with the remote tick, its memory may lag a pass (its CPU does not: `stat`'s ticks
/// follow that same run time).
const RECHECK_PASSES: u64 = 10;

/// The Linux sampler: reads `/proc` itself.
///
/// Per pass it lists `/proc` with `getdents64` on a directory kept open, and reads ONE file per process,
/// `/proc/PID/stat`, which holds CPU ticks (own and reaped children's), start time, parent, resident and virtual
/// size, and the name. Those files stay open between passes and are re-read with `pread`; a process that exited
/// fails the read (`ESRCH`) and a reused pid shows a different start time, so a new process never inherits the
/// counters of an old one. For a process of one thread seen before, it first reads `/proc/PID/schedstat` (kept
/// open too): if the process has not run since, its last `stat` still holds (its memory may shrink while it sleeps,
/// so `stat` is read again at least every 10 passes, and when its parent is gone); on a machine of mostly sleeping
/// processes that spares most `stat` readings, the sampler's largest cost. Where the kernel
/// has no `schedstat` or shows zeros there (before 5.14 without scheduler statistics), every pass reads `stat`.
/// Command line, user and cgroup (`/proc/PID/cgroup`) are read only for the processes that make the top lists, and
/// cached per process identity.
///
/// Kept-open files respect `RLIMIT_NOFILE`: at most [`max_open_files`](ProcSampler::max_open_files) stay open
/// (three quarters of the soft limit in force when the sampler is created); beyond that, files are opened, read
/// and closed at each pass. A `stat` file comes first: no `schedstat` is opened in a pass after one that could not
/// keep a `stat`. The default soft limit (often 1,024) keeps ~770 files open: a program that samples
/// more processes calls [`raise_open_file_limit`](crate::raise_open_file_limit) first. The sampler never
/// changes the limit itself: it is the whole process's.
#[derive(Debug)]
pub struct ProcSampler {
    opts: SamplerOptions,
    host: HostInfo,
    clk_tck: u64,
    page_size: u64,
    boot_id: Option<String>,
    btime_secs: u64,

    stat: SysFile,
    meminfo: SysFile,
    loadavg: Option<SysFile>,
    vmstat: Option<SysFile>,
    pressure: [Option<SysFile>; 3],
    prev_pressure: [(Option<u64>, Option<u64>); 3],
    prev_cpu: ProcStat,
    cur_cpu: ProcStat,

    proc_dir: File,
    dirbuf: Vec<u8>,
    pids: Vec<u32>,
    procs: HashMap<u32, ProcState>,
    /// Command line, user and cgroup of the listed processes, read once per identity.
    details: HashMap<ProcessKey, (ProcessDetails, Option<String>)>,
    users: Users,
    open_files: usize,
    max_open: usize,
    /// Whether the last pass had to read a process's `stat` without keeping it open (the cap was reached).
    stat_refused: bool,
    /// Whether `/proc/PID/schedstat` tells whether a process has run (false once it is missing or shows zeros).
    schedstat_useful: bool,
    generation: u64,

    buf: Vec<u8>,
    path: String,
    last_read: Instant,
}

const PRESSURE_PATHS: [&str; 3] = [
    "/proc/pressure/cpu",
    "/proc/pressure/memory",
    "/proc/pressure/io",
];

fn sysconf(name: libc::c_int) -> Option<u64> {
    // SAFETY: sysconf only reads its argument.
    let v = unsafe { libc::sysconf(name) };
    u64::try_from(v).ok().filter(|&v| v > 0)
}

/// The open-file limits (`RLIMIT_NOFILE`), soft and hard; `None` when they cannot be read.
fn nofile_limits() -> Option<libc::rlimit> {
    let mut lim = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: getrlimit writes into the struct we pass.
    (unsafe { libc::getrlimit(libc::RLIMIT_NOFILE, &mut lim) } == 0).then_some(lim)
}

/// The soft open-file limit in force, 1024 when it cannot be read.
fn nofile_soft_limit() -> u64 {
    nofile_limits().map_or(1024, |l| l.rlim_cur)
}

/// Raises the soft open-file limit to the hard one (at most 1 Mi) and returns the soft limit now in force.
pub(crate) fn raise_nofile_limit() -> u64 {
    let Some(lim) = nofile_limits() else {
        return 1024;
    };
    let target = lim.rlim_max.min(1 << 20);
    if lim.rlim_cur < target {
        let raised = libc::rlimit {
            rlim_cur: target,
            rlim_max: lim.rlim_max,
        };
        // SAFETY: setrlimit only reads the struct we pass.
        if unsafe { libc::setrlimit(libc::RLIMIT_NOFILE, &raised) } == 0 {
            return target;
        }
    }
    lim.rlim_cur
}

impl ProcSampler {
    /// Opens the system files and primes every counter with a first pass. The open-file limit is only read
    /// (see [`raise_open_file_limit`](crate::raise_open_file_limit)).
    pub fn new(opts: SamplerOptions) -> Result<Self, Error> {
        opts.validate()?;
        let soft = nofile_soft_limit();
        // Leave a quarter of the limit (at least 128) to the rest of the program.
        let reserve = (soft / 4).max(128);
        let max_open = usize::try_from(soft.saturating_sub(reserve)).unwrap_or(usize::MAX);
        let proc_dir = std::fs::OpenOptions::new()
            .read(true)
            .custom_flags(libc::O_DIRECTORY | libc::O_CLOEXEC)
            .open("/proc")
            .map_err(|e| Error::read("/proc", e))?;
        let boot_id = std::fs::read_to_string("/proc/sys/kernel/random/boot_id")
            .ok()
            .map(|s| s.trim().to_owned())
            .filter(|s| !s.is_empty());
        let mut s = ProcSampler {
            opts,
            host: HostInfo::new(),
            clk_tck: sysconf(libc::_SC_CLK_TCK).unwrap_or(100),
            page_size: sysconf(libc::_SC_PAGESIZE).unwrap_or(4096),
            boot_id,
            btime_secs: 0,
            stat: SysFile::open("/proc/stat")?,
            meminfo: SysFile::open("/proc/meminfo")?,
            loadavg: SysFile::open_optional("/proc/loadavg"),
            vmstat: SysFile::open_optional("/proc/vmstat"),
            pressure: PRESSURE_PATHS.map(SysFile::open_optional),
            prev_pressure: [(None, None); 3],
            prev_cpu: ProcStat::default(),
            cur_cpu: ProcStat::default(),
            proc_dir,
            dirbuf: vec![0; 64 * 1024],
            pids: Vec::with_capacity(1024),
            procs: HashMap::with_capacity(1024),
            details: HashMap::new(),
            users: Users::default(),
            open_files: 0,
            max_open,
            stat_refused: false,
            schedstat_useful: std::path::Path::new("/proc/self/schedstat").exists(),
            generation: 0,
            buf: vec![0; 4096],
            path: String::with_capacity(32),
            last_read: Instant::now(),
        };
        s.last_read = Instant::now();
        s.read_cpu()?;
        std::mem::swap(&mut s.prev_cpu, &mut s.cur_cpu);
        s.prev_pressure = s.read_pressure();
        s.read_processes()?;
        Ok(s)
    }

    /// How many `/proc/PID/stat` and `/proc/PID/schedstat` files may stay open between passes (beyond that, `stat`
    /// files are opened at each pass and `schedstat` files are not used).
    pub fn max_open_files(&self) -> usize {
        self.max_open
    }

    /// Sets the cap on kept-open files (0 keeps none open: every pass opens, reads and closes each file).
    /// Files already open beyond the new cap are closed at the next pass.
    pub fn set_max_open_files(&mut self, max: usize) {
        self.max_open = max;
    }

    fn read_cpu(&mut self) -> Result<(), Error> {
        let data = self.stat.read(&mut self.buf)?;
        if !parse::parse_proc_stat(data, &mut self.cur_cpu) {
            return Err(Error::parse("/proc/stat", "no aggregate `cpu` line"));
        }
        if let Some(b) = self.cur_cpu.btime {
            self.btime_secs = b;
        }
        Ok(())
    }

    fn read_pressure(&mut self) -> [(Option<u64>, Option<u64>); 3] {
        let mut out = [(None, None); 3];
        for (slot, file) in out.iter_mut().zip(&self.pressure) {
            if let Some(f) = file
                && let Ok(data) = f.read(&mut self.buf)
            {
                *slot = parse::parse_pressure(data);
            }
        }
        out
    }

    /// Lists the pids in `/proc` into `self.pids`.
    fn list_pids(&mut self) -> Result<(), Error> {
        self.pids.clear();
        let fd = self.proc_dir.as_raw_fd();
        // SAFETY: lseek on a descriptor we own.
        if unsafe { libc::lseek(fd, 0, libc::SEEK_SET) } < 0 {
            return Err(Error::read("/proc", io::Error::last_os_error()));
        }
        loop {
            // SAFETY: getdents64 writes at most `len` bytes into our buffer.
            let n = unsafe {
                libc::syscall(
                    libc::SYS_getdents64,
                    fd,
                    self.dirbuf.as_mut_ptr(),
                    self.dirbuf.len(),
                )
            };
            if n < 0 {
                return Err(Error::read("/proc", io::Error::last_os_error()));
            }
            let Ok(n) = usize::try_from(n) else { break };
            if n == 0 {
                break;
            }
            parse::parse_dirents(&self.dirbuf[..n.min(self.dirbuf.len())], &mut self.pids);
        }
        Ok(())
    }

    /// One pass over every process: reads `/proc/PID/stat` and updates the per-process deltas.
    fn read_processes(&mut self) -> Result<(), Error> {
        self.list_pids()?;
        self.generation += 1;
        let generation = self.generation;
        let ProcSampler {
            pids,
            procs,
            buf,
            path,
            open_files,
            max_open,
            stat_refused,
            schedstat_useful,
            ..
        } = self;
        // A `stat` kept open spares more than a `schedstat` does: none is opened while `stat` files are refused.
        let sched_room = !*stat_refused && *schedstat_useful;
        *stat_refused = false;
        for &pid in pids.iter() {
            // `open_files` counts the files held in `procs` plus `file` and `sched` here.
            let mut len = 0;
            let mut file: Option<File> = None;
            let mut sched: Option<File> = None;
            let mut run_ns: Option<u64> = None;
            // A parent that is gone means a new parent, which only `stat` tells. The parent counts as there when
            // this pass has seen it already (a lower pid, as `/proc` lists them) and it is no younger than the child
            // (not a reused pid); otherwise `stat` is read.
            let parent_known = procs.get(&pid).is_some_and(|st| {
                st.ppid == 0
                    || procs.get(&st.ppid).is_some_and(|parent| {
                        parent.generation == generation && parent.start_ticks <= st.start_ticks
                    })
            });
            if let Some(st) = procs.get_mut(&pid)
                && let Some(f) = st.file.take()
            {
                sched = st.sched.take();
                run_ns = st.run_ns;
                let due = (generation.wrapping_add(u64::from(pid))) % RECHECK_PASSES == 0;
                let gated = st.threads == 1
                    && parent_known
                    && !due
                    && *schedstat_useful
                    && *open_files <= *max_open;
                if gated {
                    if sched.is_none() && sched_room && *open_files < *max_open {
                        // Seen twice: worth a second kept-open file. Its run time is read before `stat` below.
                        path.clear();
                        let _ = write!(path, "/proc/{pid}/schedstat");
                        // (It may have exited since the listing: no file then, and `stat` tells.)
                        if let Ok(sf) = File::open(path.as_str()) {
                            *open_files += 1;
                            sched = Some(sf);
                            run_ns = None;
                        }
                    }
                    if let Some(sf) = &sched {
                        let (now_ns, zeros) = match sf.read_at(buf, 0) {
                            Ok(n) => (
                                parse::parse_schedstat_run_ns(&buf[..n]),
                                buf[..n] == *b"0 0 0\n",
                            ),
                            Err(_) => (None, false),
                        };
                        if now_ns.is_some() && now_ns == run_ns {
                            // Not run since its last `stat`: nothing of it has changed that this pass reads.
                            st.cpu_delta = 0;
                            st.children_delta = 0;
                            st.generation = generation;
                            st.file = Some(f);
                            st.sched = sched;
                            continue;
                        }
                        if zeros && st.cpu_ticks > 0 {
                            // Zeros for a process whose ticks say it has run: this kernel keeps no scheduler
                            // statistics. The files close as their processes are read next.
                            *schedstat_useful = false;
                        }
                        run_ns = now_ns;
                    }
                }
                match f.read_at(buf, 0) {
                    Ok(n) if n > 0 => {
                        len = n;
                        file = Some(f);
                    }
                    // Gone (ESRCH): close it; the pid may have been reused, so look again by path.
                    _ => *open_files = open_files.saturating_sub(1),
                }
            }
            if len == 0 {
                // A new process, or a new one on this pid: the old `schedstat` was another process's.
                if sched.take().is_some() {
                    *open_files = open_files.saturating_sub(1);
                }
                run_ns = None;
                path.clear();
                let _ = write!(path, "/proc/{pid}/stat");
                let Ok(mut f) = File::open(path.as_str()) else {
                    continue;
                };
                match f.read(buf) {
                    Ok(n) if n > 0 => len = n,
                    _ => continue,
                }
                if *open_files < *max_open {
                    *open_files += 1;
                    file = Some(f);
                } else {
                    *stat_refused = true;
                }
            } else if *open_files > *max_open {
                // The cap was lowered: let this one go.
                file = None;
                *open_files -= 1;
            }
            let parsed = parse::parse_pid_stat(&buf[..len]);
            let keep_sched = *schedstat_useful
                && *open_files <= *max_open
                && parsed.as_ref().is_some_and(|ps| {
                    ps.threads == 1
                        && file.is_some()
                        && procs
                            .get(&pid)
                            .is_some_and(|st| st.start_ticks == ps.start_ticks)
                });
            if !keep_sched {
                // Of several threads (the main thread's run time is not the process's), not kept, or over the cap.
                if sched.take().is_some() {
                    *open_files = open_files.saturating_sub(1);
                }
                run_ns = None;
            }
            let Some(ps) = parsed else {
                if file.is_some() {
                    *open_files = open_files.saturating_sub(1);
                }
                continue;
            };
            observe(procs, pid, &ps, file, generation);
            if let Some(st) = procs.get_mut(&pid) {
                debug_assert!(
                    st.sched.is_none(),
                    "a schedstat file would be dropped uncounted"
                );
                st.sched = sched;
                st.run_ns = run_ns;
                st.stat_generation = generation;
            }
        }
        procs.retain(|_, st| {
            let alive = st.generation == generation;
            if !alive {
                let held = usize::from(st.file.is_some()) + usize::from(st.sched.is_some());
                *open_files = open_files.saturating_sub(held);
            }
            alive
        });
        Ok(())
    }

    fn start_time(&self, start_ticks: u64) -> Timestamp {
        start_time(self.btime_secs, start_ticks, self.clk_tck)
    }

    /// The command line, user and cgroup of a listed process, read when it first enters a list.
    fn details(&mut self, key: ProcessKey) -> (ProcessDetails, Option<String>) {
        if let Some(d) = self.details.get(&key) {
            return d.clone();
        }
        let cmdline = if self.opts.cmdline {
            self.path.clear();
            let _ = write!(self.path, "/proc/{}/cmdline", key.pid);
            let mut raw = Vec::new();
            // The whole line (its tail is kept too), up to a bound: beyond it only the head is known.
            let limit = CMDLINE_READ_MAX.max(self.opts.cmdline_max_bytes.saturating_add(4)) as u64;
            File::open(self.path.as_str())
                .and_then(|f| f.take(limit).read_to_end(&mut raw))
                .ok()
                .and_then(|_| format_cmdline(&raw, self.opts.cmdline_max_bytes))
        } else {
            None
        };
        self.path.clear();
        let _ = write!(self.path, "/proc/{}", key.pid);
        let user = std::fs::metadata(self.path.as_str())
            .ok()
            .map(|m| self.users.name(m.uid()));
        self.path.clear();
        let _ = write!(self.path, "/proc/{}/cgroup", key.pid);
        let mut raw = Vec::new();
        // A few hundred bytes (one line per v1 hierarchy); bounded in case of a strange file.
        let cgroup = File::open(self.path.as_str())
            .and_then(|f| f.take(CGROUP_READ_MAX).read_to_end(&mut raw))
            .ok()
            .and_then(|_| stabmon_core::cgroup::process_cgroup(&String::from_utf8_lossy(&raw)));
        let d = (ProcessDetails::new(cmdline, user), cgroup);
        self.details.insert(key, d.clone());
        d
    }
}

/// Records one reading of `/proc/PID/stat`. The same identity (pid and start time) gets the deltas since its last
/// reading; a new process, or a new one on a reused pid, starts afresh and counts all of its ticks, so it never
/// inherits the counters of the process that had the pid before.
fn observe(
    procs: &mut HashMap<u32, ProcState>,
    pid: u32,
    ps: &parse::PidStat<'_>,
    file: Option<File>,
    generation: u64,
) {
    match procs.get_mut(&pid) {
        Some(st) if st.start_ticks == ps.start_ticks => {
            st.cpu_delta = ps.cpu_ticks.saturating_sub(st.cpu_ticks);
            st.children_delta = ps.children_ticks.saturating_sub(st.children_ticks);
            st.cpu_ticks = ps.cpu_ticks;
            st.children_ticks = ps.children_ticks;
            if st.name.as_bytes() != ps.comm {
                st.name = String::from_utf8_lossy(ps.comm).into_owned();
            }
            st.ppid = ps.ppid;
            st.rss_pages = ps.rss_pages;
            st.vsize_bytes = ps.vsize_bytes;
            st.threads = ps.threads;
            st.generation = generation;
            st.file = file;
        }
        other => {
            let new = ProcState {
                file,
                start_ticks: ps.start_ticks,
                cpu_ticks: ps.cpu_ticks,
                children_ticks: ps.children_ticks,
                cpu_delta: ps.cpu_ticks,
                children_delta: ps.children_ticks,
                name: String::from_utf8_lossy(ps.comm).into_owned(),
                ppid: ps.ppid,
                rss_pages: ps.rss_pages,
                vsize_bytes: ps.vsize_bytes,
                threads: ps.threads,
                sched: None,
                run_ns: None,
                stat_generation: generation,
                generation,
            };
            match other {
                // Its old file was taken by the caller and already accounted for.
                Some(st) => *st = new,
                None => {
                    procs.insert(pid, new);
                }
            }
        }
    }
}

/// A process's start time from the boot time and its start in clock ticks after boot.
fn start_time(btime_secs: u64, start_ticks: u64, clk_tck: u64) -> Timestamp {
    let micros = u128::from(btime_secs) * 1_000_000
        + u128::from(start_ticks) * 1_000_000 / u128::from(clk_tck.max(1));
    Timestamp::from_unix_micros(i64::try_from(micros).unwrap_or(i64::MAX))
}

fn cpu_usage(d: &CpuTimes) -> CpuUsage {
    let total = d.total() as f64;
    let busy = d.total().saturating_sub(d.idle).saturating_sub(d.iowait) as f64;
    // At the resolution of the tick count (see `cpu_pct_of_ticks`).
    let pct = cpu_pct_of_ticks;
    let mut u = CpuUsage::new(pct(busy, total));
    u.user_pct = Some(pct(d.user.saturating_add(d.nice) as f64, total));
    u.system_pct = Some(pct(
        d.system.saturating_add(d.irq).saturating_add(d.softirq) as f64,
        total,
    ));
    u.iowait_pct = Some(pct(d.iowait as f64, total));
    u.steal_pct = Some(pct(d.steal as f64, total));
    u
}

/// The most of a command line read from `/proc/PID/cmdline` (once per process, when it enters a top list).
const CMDLINE_READ_MAX: usize = 64 << 10;
/// The most of `/proc/PID/cgroup` read (once per process, when it enters a top list).
const CGROUP_READ_MAX: u64 = 16 << 10;

impl Sampler for ProcSampler {
    fn name(&self) -> &'static str {
        "proc"
    }

    fn sample(&mut self, ts: Timestamp) -> Result<Sample, Error> {
        self.sample_at(ts, Instant::now())
    }

    fn sample_at(&mut self, ts: Timestamp, now: Instant) -> Result<Sample, Error> {
        // Whole microseconds: the rates below are divided by exactly the interval the sample reports.
        let elapsed = whole_micros(now.duration_since(self.last_read));
        self.last_read = now;
        let elapsed_us = elapsed.as_secs_f64() * 1e6;

        self.read_cpu()?;
        let mut all_cores_measured = true;
        let per_core: Vec<CpuUsage> = self
            .cur_cpu
            .cores
            .iter()
            .enumerate()
            .filter_map(|(i, cur)| {
                let cur = cur.as_ref()?;
                Some(match self.prev_cpu.cores.get(i).copied().flatten() {
                    Some(prev) => cpu_usage(&cur.since(&prev)),
                    None => {
                        all_cores_measured = false;
                        CpuUsage::default()
                    }
                })
            })
            .collect();
        // The whole machine as the mean of its cores, so that it follows from them exactly (the store then leaves
        // it out). The kernel sums /proc/stat's `cpu` line in a pass of its own before it prints the `cpuN` lines,
        // so a tick that lands in between made the two disagree (0.5 % on two cores, in 40 % of the seconds here).
        let cpu = all_cores_measured
            .then(|| CpuUsage::mean_of(&per_core))
            .flatten()
            .unwrap_or_else(|| cpu_usage(&self.cur_cpu.total.since(&self.prev_cpu.total)));
        std::mem::swap(&mut self.prev_cpu, &mut self.cur_cpu);

        let mem = parse::parse_meminfo(self.meminfo.read(&mut self.buf)?)
            .ok_or_else(|| Error::parse("/proc/meminfo", "no MemTotal line"))?;
        let memory = Memory::measured(
            mem.total,
            mem.available,
            mem.swap_total,
            mem.swap_total.saturating_sub(mem.swap_free),
        );

        let load = match &self.loadavg {
            Some(f) => parse::parse_loadavg(f.read(&mut self.buf)?)
                .map(|(one, five, fifteen)| LoadAvg::new(one, five, fifteen)),
            None => None,
        };
        let oom_kill_count = match &self.vmstat {
            Some(f) => parse::parse_vmstat_oom_kill(f.read(&mut self.buf)?),
            None => None,
        };
        let cur_pressure = self.read_pressure();
        let stalled = |cur: Option<u64>, prev: Option<u64>| {
            let d = cur?.checked_sub(prev?)?;
            stall_pct(d as f64, elapsed_us)
        };
        let [c, m, io] = cur_pressure;
        let [pc, pm, pio] = self.prev_pressure;
        let pressure = if self.pressure.iter().any(Option::is_some) {
            let mut p = Pressure::default();
            p.cpu_some_pct = stalled(c.0, pc.0);
            p.memory_some_pct = stalled(m.0, pm.0);
            p.memory_full_pct = stalled(m.1, pm.1);
            p.io_some_pct = stalled(io.0, pio.0);
            p.io_full_pct = stalled(io.1, pio.1);
            Some(p)
        } else {
            None
        };
        self.prev_pressure = cur_pressure;

        self.read_processes()?;

        let mut sample = self.host.new_sample(ts, elapsed);
        sample.boot_time = Timestamp::from_unix_secs(i64::try_from(self.btime_secs).unwrap_or(0));
        sample.boot_id = self.boot_id.clone();
        sample.cpu = cpu;
        sample.per_core = per_core;
        sample.load = load;
        sample.memory = memory;
        sample.pressure = pressure;
        sample.oom_kill_count = oom_kill_count;
        sample.process_count = u32::try_from(self.procs.len()).unwrap_or(u32::MAX);

        // 100 % is one core over the interval; rounded to the tick's resolution (see `cpu_pct_of_ticks`).
        let ticks_per_core = self.clk_tck as f64 * elapsed.as_secs_f64();
        let to_pct = |ticks: u64| cpu_pct_of_ticks(ticks as f64, ticks_per_core);
        let stats: Vec<ProcessStat<'_>> = self
            .procs
            .iter()
            .map(|(&pid, st)| {
                let mut p = ProcessStat::new(pid, &st.name, self.start_time(st.start_ticks));
                p.parent_pid = Some(st.ppid);
                p.cpu_pct = to_pct(st.cpu_delta);
                p.children_cpu_pct = Some(to_pct(st.children_delta));
                p.rss_bytes = round_bytes(st.rss_pages.saturating_mul(self.page_size));
                p.virtual_bytes = round_bytes(st.vsize_bytes);
                p
            })
            .collect();
        let mut top = attribute_with(self.opts.top_spec(), &stats, |_| ProcessDetails::default());
        drop(stats);
        for entry in &mut top.processes {
            let (d, cgroup) = self.details(entry.key());
            entry.cmdline = d.cmdline;
            entry.user = d.user;
            entry.cgroup = cgroup;
        }
        // Forget details of processes that are gone or whose pid was reused.
        let (procs, btime, clk) = (&self.procs, self.btime_secs, self.clk_tck);
        self.details.retain(|k, _| {
            procs
                .get(&k.pid)
                .is_some_and(|st| start_time(btime, st.start_ticks, clk) == k.start_time)
        });
        sample.top = top;
        Ok(sample)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn stat(start_ticks: u64, cpu_ticks: u64, children_ticks: u64) -> parse::PidStat<'static> {
        parse::PidStat {
            comm: b"worker",
            ppid: 1,
            cpu_ticks,
            children_ticks,
            start_ticks,
            vsize_bytes: 0,
            rss_pages: 0,
            threads: 1,
        }
    }

    #[test]
    fn deltas_per_identity_and_reused_pid_starts_afresh() {
        let mut procs = HashMap::new();
        // Born during the interval: all of its ticks count.
        observe(&mut procs, 42, &stat(100, 500, 20), None, 1);
        assert_eq!(procs[&42].cpu_delta, 500);
        assert_eq!(procs[&42].children_delta, 20);
        // Same identity: the delta since the last reading.
        observe(&mut procs, 42, &stat(100, 600, 70), None, 2);
        assert_eq!((procs[&42].cpu_delta, procs[&42].children_delta), (100, 50));
        // The pid was reused by a process that started later: its own ticks, not 7 - 600 nor the old counters.
        observe(&mut procs, 42, &stat(900, 7, 0), None, 3);
        let st = &procs[&42];
        assert_eq!((st.start_ticks, st.cpu_delta, st.cpu_ticks), (900, 7, 7));
        assert_eq!(st.generation, 3);
        // A renamed process (prctl) keeps its identity and takes the new name.
        let mut renamed = stat(900, 9, 0);
        renamed.comm = b"renamed";
        observe(&mut procs, 42, &renamed, None, 4);
        assert_eq!(
            (procs[&42].name.as_str(), procs[&42].cpu_delta),
            ("renamed", 2)
        );
    }

    /// A sleeping process of one thread is read from `schedstat` alone, and what it does once it wakes (CPU,
    /// memory) is read from `stat` at the next pass.
    #[test]
    #[allow(clippy::unwrap_used, clippy::expect_used)]
    fn a_sleeper_is_read_from_schedstat_and_its_waking_from_stat() {
        use std::io::{BufRead as _, Write as _};
        if !std::path::Path::new("/proc/self/schedstat").exists() {
            eprintln!("skipped: this kernel has no /proc/PID/schedstat (CONFIG_SCHED_INFO off)");
            return;
        }
        /// Kills the child however the test ends.
        struct Child(std::process::Child);
        impl Drop for Child {
            fn drop(&mut self) {
                let _ = self.0.kill();
                let _ = self.0.wait();
            }
        }
        // Says when it sleeps; woken, touches 64 MiB and spins for 0.3 s of CPU, says so, and sleeps again.
        let mut child = Child(
            std::process::Command::new("python3")
                .args([
                    "-c",
                    "import sys, time\nprint('asleep', flush=True)\nsys.stdin.readline()\n\
                     x = bytearray(64 << 20)\nt = time.process_time()\n\
                     while time.process_time() - t < 0.3: pass\nprint('done', flush=True)\ntime.sleep(30)",
                ])
                .stdin(std::process::Stdio::piped())
                .stdout(std::process::Stdio::piped())
                .spawn()
                .expect("python3 runs"),
        );
        let pid = child.0.id();
        let mut said = std::io::BufReader::new(child.0.stdout.take().unwrap());
        let mut line = String::new();
        said.read_line(&mut line).unwrap();
        assert_eq!(line, "asleep\n");
        // Let it reach the read it blocks in.
        std::thread::sleep(std::time::Duration::from_millis(200));
        let mut s = ProcSampler::new(SamplerOptions::new()).unwrap();
        // The second pass arms the gate; of the four after it, at most one is a periodic `stat` reading.
        s.read_processes().unwrap();
        let mut skipped = 0;
        for _ in 0..4 {
            s.read_processes().unwrap();
            let st = &s.procs[&pid];
            assert_eq!((st.threads, st.cpu_delta), (1, 0), "{st:?}");
            skipped += usize::from(st.stat_generation < s.generation);
        }
        assert!(skipped >= 3, "stat was read in {} of 4 passes", 4 - skipped);
        let st = &s.procs[&pid];
        assert!(st.sched.is_some() && st.run_ns.is_some(), "{st:?}");
        let (rss_asleep, ticks_asleep) = (st.rss_pages, st.cpu_ticks);
        // Wake it: it allocates and spins, then sleeps; the next pass sees all of it.
        child.0.stdin.as_mut().unwrap().write_all(b"go\n").unwrap();
        line.clear();
        said.read_line(&mut line).unwrap();
        assert_eq!(line, "done\n");
        s.read_processes().unwrap();
        let st = &s.procs[&pid];
        assert_eq!(st.stat_generation, s.generation, "{st:?}");
        assert!(
            st.cpu_ticks >= ticks_asleep + s.clk_tck / 10,
            "0.3 s of spinning: {ticks_asleep} -> {} ticks",
            st.cpu_ticks
        );
        assert!(st.cpu_delta > 0);
        assert!(
            st.rss_pages.saturating_sub(rss_asleep) * s.page_size >= 60 << 20,
            "64 MiB touched: {rss_asleep} -> {} pages",
            st.rss_pages
        );
        // The files held are the ones counted.
        let held: usize = s
            .procs
            .values()
            .map(|st| usize::from(st.file.is_some()) + usize::from(st.sched.is_some()))
            .sum();
        assert_eq!(held, s.open_files);
    }

    /// A lowered cap closes the files of sleepers too, at the next pass.
    #[test]
    #[allow(clippy::unwrap_used)]
    fn a_lowered_cap_closes_every_file_at_the_next_pass() {
        let mut s = ProcSampler::new(SamplerOptions::new()).unwrap();
        for _ in 0..3 {
            s.read_processes().unwrap();
        }
        assert!(s.open_files > 0);
        s.set_max_open_files(0);
        s.read_processes().unwrap();
        let held: usize = s
            .procs
            .values()
            .map(|st| usize::from(st.file.is_some()) + usize::from(st.sched.is_some()))
            .sum();
        assert_eq!((s.open_files, held), (0, 0));
    }

    #[test]
    fn the_whole_machine_is_the_mean_of_its_cores() {
        let ticks = |user, system, iowait, idle| CpuTimes {
            user,
            system,
            iowait,
            idle,
            ..CpuTimes::default()
        };
        // One core 3 % user and 1 % system, the other 4 % and 2 % with 1 % iowait, 100 ticks each.
        let cores = [ticks(3, 1, 0, 96), ticks(4, 2, 1, 93)].map(|t| cpu_usage(&t));
        let Some(m) = CpuUsage::mean_of(&cores) else {
            panic!("no machine figures from two cores");
        };
        assert_eq!(
            (
                m.busy_pct,
                m.user_pct,
                m.system_pct,
                m.iowait_pct,
                m.steal_pct
            ),
            (5.0, Some(3.5), Some(1.5), Some(0.5), Some(0.0))
        );
        assert!(CpuUsage::mean_of(&[]).is_none());
    }

    #[test]
    fn start_time_from_boot_and_ticks() {
        assert_eq!(
            start_time(1_700_000_000, 250, 100),
            Timestamp::from_unix_micros(1_700_000_002_500_000)
        );
    }
}
