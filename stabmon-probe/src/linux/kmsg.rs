//! The kernel log (`/dev/kmsg`): the OOM killer's victims, read on a thread of the collector's own.
//!
//! `/dev/kmsg` hands out one record per `read`: `PRIO,SEQ,USEC,FLAGS;TEXT`, then continuation lines that start
//! with a space (`KEY=VALUE` pairs). The OOM killer (mm/oom_kill.c) prints, for each kill:
//!
//! ```text
//! oom-kill:constraint=CONSTRAINT_MEMCG,nodemask=(null),cpuset=/,mems_allowed=0,oom_memcg=/app,task_memcg=/app,task=java,pid=812,uid=0
//! Memory cgroup out of memory: Killed process 812 (java) total-vm:7340032kB, anon-rss:6152192kB, file-rss:0kB, shmem-rss:0kB, UID:0 pgtables:12400kB oom_score_adj:0
//! ```
//!
//! (`Out of memory: Killed process ...` when the whole machine ran out). The parser takes what it recognises
//! and ignores the rest: a line of another kernel version, or garbage, is never an error.

use std::collections::VecDeque;
use std::fs::File;
use std::io::{self, Read};
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
use std::os::unix::fs::OpenOptionsExt;
use std::sync::{Arc, Mutex, PoisonError};
use std::thread::JoinHandle;

use stabmon_core::{OomKill, Timestamp};

/// The device.
pub(crate) const KMSG: &str = "/dev/kmsg";
/// The most kills kept between two samples; beyond, the oldest are dropped (and counted).
const MAX_PENDING: usize = 10_000;

/// One record of `/dev/kmsg`: microseconds since boot and the message's first line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Record<'a> {
    pub usec: u64,
    pub text: &'a str,
}

/// Splits a `/dev/kmsg` record (`PRIO,SEQ,USEC,FLAGS;TEXT` and continuation lines); `None` for any other form.
pub(crate) fn parse_record(raw: &str) -> Option<Record<'_>> {
    let (head, rest) = raw.split_once(';')?;
    let mut fields = head.split(',');
    let _prio: u32 = fields.next()?.parse().ok()?;
    let _seq: u64 = fields.next()?.parse().ok()?;
    let usec: u64 = fields.next()?.parse().ok()?;
    let text = rest.split('\n').next().unwrap_or("");
    Some(Record { usec, text })
}

/// What an `oom-kill:` line says about the kill that follows it.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub(crate) struct OomContext {
    pub pid: Option<u32>,
    pub task: Option<String>,
    pub constraint: Option<String>,
    pub task_memcg: Option<String>,
    pub oom_memcg: Option<String>,
}

/// Parses `oom-kill:constraint=...,task_memcg=...,task=...,pid=...,uid=...`. Values are split at commas; a cgroup
/// path with a comma in it is cut there (the kernel does not escape it), which only shortens the path.
pub(crate) fn parse_oom_context(text: &str) -> Option<OomContext> {
    let rest = text.strip_prefix("oom-kill:")?;
    let mut c = OomContext::default();
    for pair in rest.split(',') {
        let Some((k, v)) = pair.split_once('=') else {
            continue;
        };
        let v = v.trim();
        let s = || (!v.is_empty() && v != "(null)").then(|| v.to_owned());
        match k.trim() {
            "constraint" => c.constraint = s(),
            "task_memcg" => c.task_memcg = s(),
            "oom_memcg" => c.oom_memcg = s(),
            "task" => c.task = s(),
            "pid" => c.pid = v.parse().ok(),
            _ => {}
        }
    }
    Some(c)
}

/// Parses `[Memory cgroup ]Out of memory: Killed process PID (NAME) total-vm:..kB, anon-rss:..kB, ...` (and the
/// bare `Killed process ...` of older kernels) into a kill at `ts`; `None` for any other line.
pub(crate) fn parse_killed(text: &str, ts: Timestamp) -> Option<OomKill> {
    const MARK: &str = "Killed process ";
    let at = text.find(MARK)?;
    let prefix = &text[..at];
    if !(prefix.is_empty() || prefix.ends_with("out of memory: ") || prefix.ends_with("memory: ")) {
        return None;
    }
    let rest = &text[at + MARK.len()..];
    let (pid, rest) = rest.split_once(' ')?;
    let pid: u32 = pid.parse().ok()?;
    let rest = rest.strip_prefix('(')?;
    // The name may hold spaces and parentheses: it ends at the `)` before the figures, or the last one.
    let close = rest.find(") total-vm:").or_else(|| rest.rfind(')'))?;
    let name = &rest[..close];
    let figures = &rest[close + 1..];
    let mut kill = OomKill::new(ts, pid, name);
    kill.memcg = prefix.starts_with("Memory cgroup");
    for field in figures.split([',', ' ']).filter(|f| !f.is_empty()) {
        let Some((k, v)) = field.split_once(':') else {
            continue;
        };
        let kib = || {
            v.strip_suffix("kB")
                .and_then(|n| n.parse::<u64>().ok())
                .map(|n| n.saturating_mul(1024))
        };
        match k {
            "total-vm" => kill.total_vm_bytes = kib(),
            "anon-rss" => kill.anon_rss_bytes = kib(),
            "file-rss" => kill.file_rss_bytes = kib(),
            "shmem-rss" => kill.shmem_rss_bytes = kib(),
            "UID" => kill.uid = v.parse().ok(),
            "oom_score_adj" => kill.oom_score_adj = v.parse().ok(),
            _ => {}
        }
    }
    Some(kill)
}

/// Turns the kernel's OOM lines into kills: an `oom-kill:` line is kept until the `Killed process` line of the
/// same pid completes it.
#[derive(Debug, Default)]
pub(crate) struct OomParser {
    context: Option<OomContext>,
}

impl OomParser {
    /// Feeds one record's first line, logged at `ts`; returns the kill it completes.
    pub(crate) fn line(&mut self, text: &str, ts: Timestamp) -> Option<OomKill> {
        if let Some(c) = parse_oom_context(text) {
            self.context = Some(c);
            return None;
        }
        let mut kill = parse_killed(text, ts)?;
        if let Some(c) = self.context.take()
            && c.pid.is_none_or(|p| p == kill.pid)
        {
            kill.constraint = c.constraint;
            kill.memcg |= kill.constraint.as_deref() == Some("CONSTRAINT_MEMCG");
            kill.cgroup = c.task_memcg;
            kill.oom_cgroup = c.oom_memcg;
        }
        Some(kill)
    }
}

/// Microseconds on the clock the kernel log's times are on (`CLOCK_MONOTONIC`), now.
fn monotonic_usec() -> Option<u64> {
    let mut t = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: clock_gettime writes into the struct we pass.
    if unsafe { libc::clock_gettime(libc::CLOCK_MONOTONIC, &mut t) } != 0 {
        return None;
    }
    let secs = u64::try_from(t.tv_sec).ok()?;
    let nanos = u64::try_from(t.tv_nsec).ok()?;
    Some(secs.saturating_mul(1_000_000).saturating_add(nanos / 1000))
}

/// The UTC time of a kernel log time (microseconds since boot).
fn wall_time(usec: u64) -> Timestamp {
    let now = Timestamp::now();
    match monotonic_usec() {
        Some(mono) => Timestamp::from_unix_micros(
            now.as_unix_micros()
                .saturating_sub(i64::try_from(mono.saturating_sub(usec)).unwrap_or(i64::MAX)),
        ),
        None => now,
    }
}

#[derive(Debug, Default)]
struct Pending {
    kills: VecDeque<OomKill>,
    dropped: u64,
    /// Records the kernel overwrote before they were read (`EPIPE`).
    overwritten: u64,
}

/// What the kernel log reader found since the last [`KernelLog::take`].
#[derive(Debug, Default)]
pub(crate) struct Taken {
    /// The kills, in the order the kernel logged them.
    pub(crate) kills: Vec<OomKill>,
    /// Kills dropped because too many waited.
    pub(crate) dropped: u64,
    /// Records of any kind the kernel overwrote in its ring buffer before they were read: an OOM kill among them
    /// is missed.
    pub(crate) overwritten: u64,
}

/// The kernel log reader: a thread that follows `/dev/kmsg` from the end it had when it started, and keeps the
/// OOM kills it finds until a sample takes them. Dropping it stops the thread.
#[derive(Debug)]
pub(crate) struct KernelLog {
    pending: Arc<Mutex<Pending>>,
    wake: OwnedFd,
    thread: Option<JoinHandle<()>>,
}

impl KernelLog {
    /// Opens `/dev/kmsg` (non-blocking) at its end and starts the reader thread. The kernel checks the right to
    /// read it when it is opened. An error says why the log cannot be read (not there, as under systemd's `PrivateDevices=`; refused, as with
    /// `kernel.dmesg_restrict=1` without `CAP_SYSLOG`).
    pub(crate) fn start() -> io::Result<KernelLog> {
        let file = std::fs::OpenOptions::new()
            .read(true)
            .custom_flags(libc::O_NONBLOCK | libc::O_CLOEXEC)
            .open(KMSG)?;
        // SAFETY: lseek on a descriptor we own; on /dev/kmsg SEEK_END moves past every record logged so far.
        if unsafe { libc::lseek(file.as_raw_fd(), 0, libc::SEEK_END) } < 0 {
            return Err(io::Error::last_os_error());
        }
        // SAFETY: eventfd returns a new descriptor or -1.
        let raw = unsafe { libc::eventfd(0, libc::EFD_CLOEXEC | libc::EFD_NONBLOCK) };
        if raw < 0 {
            return Err(io::Error::last_os_error());
        }
        // SAFETY: `raw` is a new descriptor that nothing else owns.
        let wake = unsafe { OwnedFd::from_raw_fd(raw) };
        let wake_thread = wake.try_clone()?;
        let pending = Arc::new(Mutex::new(Pending::default()));
        let shared = Arc::clone(&pending);
        let thread = std::thread::Builder::new()
            .name("stabmon-kmsg".into())
            .spawn(move || follow(file, &wake_thread, &shared))?;
        Ok(KernelLog {
            pending,
            wake,
            thread: Some(thread),
        })
    }

    /// What was found since the last call.
    pub(crate) fn take(&self) -> Taken {
        let mut p = self.pending.lock().unwrap_or_else(PoisonError::into_inner);
        Taken {
            kills: p.kills.drain(..).collect(),
            dropped: std::mem::take(&mut p.dropped),
            overwritten: std::mem::take(&mut p.overwritten),
        }
    }
}

impl Drop for KernelLog {
    fn drop(&mut self) {
        let one: u64 = 1;
        // SAFETY: writes 8 bytes from a local to our eventfd.
        unsafe {
            libc::write(
                self.wake.as_raw_fd(),
                (&raw const one).cast::<libc::c_void>(),
                8,
            );
        }
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

/// The reader thread: waits for records (or the wake-up that stops it) and parses them.
fn follow(file: File, wake: &OwnedFd, pending: &Mutex<Pending>) {
    let mut buf = vec![0u8; 8192];
    let mut parser = OomParser::default();
    loop {
        let mut fds = [
            libc::pollfd {
                fd: file.as_raw_fd(),
                events: libc::POLLIN,
                revents: 0,
            },
            libc::pollfd {
                fd: wake.as_raw_fd(),
                events: libc::POLLIN,
                revents: 0,
            },
        ];
        // SAFETY: poll reads and writes the two structs we pass.
        let n = unsafe { libc::poll(fds.as_mut_ptr(), 2, -1) };
        if n < 0 {
            if io::Error::last_os_error().kind() == io::ErrorKind::Interrupted {
                continue;
            }
            return;
        }
        if fds[1].revents != 0 {
            return;
        }
        if fds[0].revents & (libc::POLLERR | libc::POLLNVAL) != 0
            && fds[0].revents & libc::POLLIN == 0
        {
            return;
        }
        // Every record waiting: one per read.
        loop {
            match (&file).read(&mut buf) {
                Ok(0) => break,
                Ok(len) => {
                    let Ok(raw) = std::str::from_utf8(&buf[..len]) else {
                        continue;
                    };
                    let Some(rec) = parse_record(raw) else {
                        continue;
                    };
                    if let Some(kill) = parser.line(rec.text, wall_time(rec.usec)) {
                        let mut p = pending.lock().unwrap_or_else(PoisonError::into_inner);
                        if p.kills.len() >= MAX_PENDING {
                            p.kills.pop_front();
                            p.dropped += 1;
                        }
                        p.kills.push_back(kill);
                    }
                }
                // Records were overwritten before they were read: counted, then on with the next one.
                Err(e) if e.raw_os_error() == Some(libc::EPIPE) => {
                    pending
                        .lock()
                        .unwrap_or_else(PoisonError::into_inner)
                        .overwritten += 1;
                }
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => break,
                Err(_) => return,
            }
        }
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    fn ts() -> Timestamp {
        Timestamp::from_unix_secs(1_795_575_600)
    }

    /// Lines as kernels 5.x and 6.x print them (from real logs).
    #[test]
    fn a_memory_cgroup_kill_in_the_kernels_terms() {
        let mut p = OomParser::default();
        let ctx = parse_record(
            "6,1432,9356240128,-;oom-kill:constraint=CONSTRAINT_MEMCG,nodemask=(null),cpuset=/,mems_allowed=0,\
             oom_memcg=/system.slice/app.service,task_memcg=/system.slice/app.service,task=java,pid=812,uid=998\n \
             SUBSYSTEM=memory\n",
        )
        .unwrap();
        assert_eq!(ctx.usec, 9_356_240_128);
        assert_eq!(p.line(ctx.text, ts()), None);
        let killed = parse_record(
            "3,1433,9356240201,-;Memory cgroup out of memory: Killed process 812 (java) total-vm:7340032kB, \
             anon-rss:6152192kB, file-rss:10240kB, shmem-rss:0kB, UID:998 pgtables:12400kB oom_score_adj:0",
        )
        .unwrap();
        let k = p.line(killed.text, ts()).unwrap();
        assert_eq!((k.pid, k.name.as_str(), k.memcg), (812, "java", true));
        assert_eq!(k.anon_rss_bytes, Some(6_152_192 * 1024));
        assert_eq!(k.file_rss_bytes, Some(10_240 * 1024));
        assert_eq!(k.shmem_rss_bytes, Some(0));
        assert_eq!(k.total_vm_bytes, Some(7_340_032 * 1024));
        assert_eq!((k.uid, k.oom_score_adj), (Some(998), Some(0)));
        assert_eq!(k.constraint.as_deref(), Some("CONSTRAINT_MEMCG"));
        assert_eq!(k.cgroup.as_deref(), Some("/system.slice/app.service"));
        assert_eq!(k.oom_cgroup.as_deref(), Some("/system.slice/app.service"));
        assert_eq!(k.unit().as_deref(), Some("app.service"));
    }

    #[test]
    fn a_whole_machine_kill_and_older_kernels() {
        let mut p = OomParser::default();
        assert!(
            p.line(
                "oom-kill:constraint=CONSTRAINT_NONE,nodemask=(null),cpuset=/,mems_allowed=0,global_oom,\
                 task_memcg=/user.slice/user-1000.slice/session-3.scope,task=stress-ng,pid=4123,uid=1000",
                ts()
            )
            .is_none()
        );
        let k = p
            .line(
                "Out of memory: Killed process 4123 (stress-ng) total-vm:4412kB, anon-rss:1204kB, \
                 file-rss:4kB, shmem-rss:0kB, UID:1000 pgtables:48kB oom_score_adj:1000",
                ts(),
            )
            .unwrap();
        assert_eq!(
            (k.pid, k.name.as_str(), k.memcg),
            (4123, "stress-ng", false)
        );
        assert_eq!(k.constraint.as_deref(), Some("CONSTRAINT_NONE"));
        assert_eq!(k.oom_cgroup, None);
        assert_eq!(k.unit().as_deref(), Some("session-3.scope"));
        // 4.x: `Killed process PID (NAME) total-vm:..` alone, no oom-kill line.
        let k = p
            .line(
                "Killed process 2201 (mysqld) total-vm:2386412kB, anon-rss:1234560kB, file-rss:0kB, shmem-rss:0kB",
                ts(),
            )
            .unwrap();
        assert_eq!((k.pid, k.name.as_str()), (2201, "mysqld"));
        assert_eq!((k.constraint, k.cgroup), (None, None));
        // A context for another pid is not this kill's.
        p.line(
            "oom-kill:constraint=CONSTRAINT_MEMCG,task_memcg=/a,task=x,pid=1,uid=0",
            ts(),
        );
        let k = p
            .line("Out of memory: Killed process 2 (y) anon-rss:8kB", ts())
            .unwrap();
        assert_eq!((k.cgroup, k.anon_rss_bytes), (None, Some(8192)));
    }

    #[test]
    fn a_name_with_spaces_and_parentheses() {
        let k = parse_killed(
            "Out of memory: Killed process 77 (my (odd) job) total-vm:100kB, anon-rss:40kB",
            ts(),
        )
        .unwrap();
        assert_eq!(k.name, "my (odd) job");
        assert_eq!(k.anon_rss_bytes, Some(40 * 1024));
    }

    #[test]
    fn other_lines_and_garbage_are_ignored() {
        let mut p = OomParser::default();
        for line in [
            "",
            "Out of memory",
            "Out of memory: Kill process 4123 (java) score 900 or sacrifice child",
            "Killed process",
            "Killed process x (y)",
            "Killed process 12",
            "Killed process 12 java",
            "Killed process 99999999999 (a) anon-rss:1kB",
            "systemd[1]: Killed process 12 (a) with signal SIGKILL",
            "Out of memory: Killed process 12 (a) anon-rss:lots total-vm:kB UID:x oom_score_adj:?",
            "oom-kill:",
            "oom-kill:=,,=,pid=notanumber",
            "\u{0}\u{ff}\u{feff}",
        ] {
            let got = p.line(line, ts());
            if line.starts_with("Out of memory: Killed process 12") {
                // A line of the right form with figures in another format: the kill, without them.
                let k = got.unwrap();
                assert_eq!((k.pid, k.anon_rss_bytes, k.uid), (12, None, None));
            } else {
                assert_eq!(got, None, "{line:?}");
            }
        }
        for raw in [
            "",
            ";",
            "6,1,x,-;text",
            "a,b,c;d",
            "6,1;text",
            "6;",
            "-1,2,3,-;x",
        ] {
            assert_eq!(parse_record(raw), None, "{raw:?}");
        }
        // Every prefix of real lines: never a panic.
        let real = "Memory cgroup out of memory: Killed process 812 (java) total-vm:7340032kB, anon-rss:6152192kB";
        for cut in 0..=real.len() {
            let _ = p.line(&real[..cut], ts());
        }
    }
}
