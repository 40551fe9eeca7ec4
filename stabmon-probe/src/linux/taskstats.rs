//! Every exit, from the kernel's taskstats exit records over generic netlink.
//!
//! Registering a cpumask (`TASKSTATS_CMD_ATTR_REGISTER_CPUMASK`, which needs `CAP_NET_ADMIN` and the initial
//! network namespace) makes the kernel send one record per exiting task: name, pid, thread group, parent, user,
//! elapsed time, user and system CPU, peak resident memory and wait status. That is everything a sample keeps of
//! an exit, at the moment of the exit, with no read of `/proc` that a short-lived process could outrun (the
//! proc connector's exit event has no name and no CPU; BSD accounting writes a file system-wide).
//!
//! A thread of the listener's own takes the queued records every 50 ms into an [`ExitAggregator`] (bounded
//! memory, see [`stabmon_core::exits`]); samples take what arrived. A full socket buffer (`ENOBUFS`: the kernel dropped
//! records) is counted, never hidden. Dropping the listener stops its thread and closes the socket, which ends
//! the registration.

use std::collections::HashMap;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::thread::JoinHandle;
use std::time::Duration;

use stabmon_core::exits::ExitAggregator;
use stabmon_core::{ExitStatus, ExitedProcess, Exits, Timestamp};

const NETLINK_GENERIC: i32 = 16;
const NLM_F_REQUEST: u16 = 1;
const NLM_F_ACK: u16 = 4;
const NLMSG_ERROR: u16 = 2;
const GENL_ID_CTRL: u16 = 16;
const CTRL_CMD_GETFAMILY: u8 = 3;
const CTRL_ATTR_FAMILY_ID: u16 = 1;
const CTRL_ATTR_FAMILY_NAME: u16 = 2;
const TASKSTATS_CMD_GET: u8 = 1;
const TASKSTATS_CMD_NEW: u8 = 2;
const TASKSTATS_CMD_ATTR_REGISTER_CPUMASK: u16 = 3;
const TASKSTATS_TYPE_PID: u16 = 1;
const TASKSTATS_TYPE_STATS: u16 = 3;
const TASKSTATS_TYPE_AGGR_PID: u16 = 4;
/// The nested-attribute flag of `nla_type`, and the byte-order one; the type is the rest.
const NLA_TYPE_MASK: u16 = !(0x8000 | 0x4000);

/// The receive buffer asked for: ~7,000 records of 596 bytes, several seconds of a fork storm should the listener
/// thread be starved. It is kernel memory, not the recorder's.
const RCVBUF_BYTES: i32 = 4 << 20;
/// How long one read waits while the start checks that records arrive.
const POLL: Duration = Duration::from_millis(200);
/// The most threads whose CPU waits for their process's exit record between two samples.
const MAX_PENDING_THREADS: usize = 4096;

/// Offsets in `struct taskstats` (linux/taskstats.h; stable, fields are only ever appended).
mod off {
    pub const EXITCODE: usize = 4;
    pub const COMM: usize = 80;
    pub const COMM_LEN: usize = 32;
    pub const UID: usize = 120;
    pub const PID: usize = 128;
    pub const PPID: usize = 132;
    pub const ETIME: usize = 144;
    pub const UTIME: usize = 152;
    pub const STIME: usize = 160;
    pub const HIWATER_RSS: usize = 200;
    /// `ac_tgid`, from version 12 on; before it a thread's exit cannot be told from its process's, and
    /// each is counted as an exit.
    pub const TGID: usize = 368;
}

/// What the listener thread and the samples share.
struct Shared {
    state: Mutex<State>,
    stop: AtomicBool,
}

struct State {
    agg: ExitAggregator,
    /// CPU time (us) of threads that exited before their process, by thread group, since the last sample.
    threads: HashMap<u32, u64>,
}

/// Listens for exits on a thread of its own; see the module docs.
pub(crate) struct ExitListener {
    shared: Arc<Shared>,
    thread: Option<JoinHandle<()>>,
}

impl std::fmt::Debug for ExitListener {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ExitListener").finish_non_exhaustive()
    }
}

impl Drop for ExitListener {
    fn drop(&mut self) {
        self.shared.stop.store(true, Ordering::Relaxed);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

impl ExitListener {
    /// Registers for exit records and starts the listener thread; the reason in words where the kernel refuses
    /// (no `CAP_NET_ADMIN`, a network namespace other than the initial one, a kernel without taskstats).
    pub(crate) fn start(since: Timestamp) -> Result<ExitListener, String> {
        let fd = register()?;
        let mut state = State {
            agg: ExitAggregator::new(since),
            threads: HashMap::new(),
        };
        check_delivery(&fd, &mut state)?;
        let shared = Arc::new(Shared {
            state: Mutex::new(state),
            stop: AtomicBool::new(false),
        });
        let s = Arc::clone(&shared);
        let thread = std::thread::Builder::new()
            .name("stabmon-exits".into())
            .spawn(move || listen(&fd, &s))
            .map_err(|e| format!("cannot start the exit listener's thread: {e}"))?;
        Ok(ExitListener {
            shared,
            thread: Some(thread),
        })
    }

    /// The exits since the previous call; `watch` are the pids whose exits the next call details first.
    pub(crate) fn take(&self, now: Timestamp, watch: impl IntoIterator<Item = u32>) -> Exits {
        let mut st = self
            .shared
            .state
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        st.threads.clear();
        let exits = st.agg.take(now);
        st.agg.watch(watch);
        exits
    }
}

fn errno() -> std::io::Error {
    std::io::Error::last_os_error()
}

/// A netlink message: header, generic netlink header, attributes.
fn message(family: u16, cmd: u8, seq: u32, attrs: &[u8]) -> Vec<u8> {
    let len = 16 + 4 + attrs.len();
    let mut m = Vec::with_capacity(len);
    m.extend_from_slice(&(len as u32).to_ne_bytes());
    m.extend_from_slice(&family.to_ne_bytes());
    m.extend_from_slice(&(NLM_F_REQUEST | NLM_F_ACK).to_ne_bytes());
    m.extend_from_slice(&seq.to_ne_bytes());
    m.extend_from_slice(&0u32.to_ne_bytes());
    m.extend_from_slice(&[cmd, 1, 0, 0]);
    m.extend_from_slice(attrs);
    m
}

/// A netlink attribute, padded to 4 bytes.
fn attr(ty: u16, payload: &[u8]) -> Vec<u8> {
    let len = 4 + payload.len();
    let mut a = Vec::with_capacity(len + 3);
    a.extend_from_slice(&(len as u16).to_ne_bytes());
    a.extend_from_slice(&ty.to_ne_bytes());
    a.extend_from_slice(payload);
    a.resize(len.next_multiple_of(4), 0);
    a
}

/// The attributes of `data`, as (type without flags, payload); stops at the first malformed one.
fn attrs(mut data: &[u8]) -> impl Iterator<Item = (u16, &[u8])> {
    std::iter::from_fn(move || {
        let len = usize::from(u16::from_ne_bytes([*data.first()?, *data.get(1)?]));
        let ty = u16::from_ne_bytes([*data.get(2)?, *data.get(3)?]) & NLA_TYPE_MASK;
        let payload = data.get(4..len)?;
        data = data.get(len.next_multiple_of(4)..).unwrap_or_default();
        Some((ty, payload))
    })
}

/// The netlink messages of a datagram, as (type, payload after the 16-byte header).
fn messages(mut data: &[u8]) -> impl Iterator<Item = (u16, &[u8])> {
    std::iter::from_fn(move || {
        let len = u32::from_ne_bytes(data.get(0..4)?.try_into().ok()?) as usize;
        let ty = u16::from_ne_bytes(data.get(4..6)?.try_into().ok()?);
        let payload = data.get(16..len)?;
        data = data.get(len.next_multiple_of(4)..).unwrap_or_default();
        Some((ty, payload))
    })
}

fn send(fd: &OwnedFd, msg: &[u8]) -> Result<(), String> {
    // SAFETY: the buffer is valid for its length; the socket is ours.
    let n = unsafe { libc::send(fd.as_raw_fd(), msg.as_ptr().cast(), msg.len(), 0) };
    if n < 0 {
        return Err(format!("netlink send: {}", errno()));
    }
    Ok(())
}

fn recv(fd: &OwnedFd, buf: &mut [u8], flags: i32) -> std::io::Result<usize> {
    // SAFETY: the buffer is valid for its length; the socket is ours.
    let n = unsafe { libc::recv(fd.as_raw_fd(), buf.as_mut_ptr().cast(), buf.len(), flags) };
    usize::try_from(n).map_err(|_| errno())
}

/// Waits for the answer to request `seq`: its payload (a family's attributes), or `None` for a bare
/// acknowledgement; the kernel's error in words. Other messages (exit records that arrive first) are skipped.
fn answer(fd: &OwnedFd, seq: u32, what: &str) -> Result<Option<Vec<u8>>, String> {
    let mut buf = vec![0u8; 16 << 10];
    for _ in 0..64 {
        let n = recv(fd, &mut buf, 0).map_err(|e| format!("{what}: {e}"))?;
        for (ty, payload) in messages(&buf[..n]) {
            if ty == NLMSG_ERROR {
                let code = payload
                    .get(0..4)
                    .and_then(|b| b.try_into().ok())
                    .map_or(0, i32::from_ne_bytes);
                let echoed = payload
                    .get(12..16)
                    .and_then(|b| b.try_into().ok())
                    .map_or(0, u32::from_ne_bytes);
                if echoed != seq {
                    continue;
                }
                if code == 0 {
                    return Ok(None);
                }
                let e = std::io::Error::from_raw_os_error(-code);
                return Err(format!("{what}: {e}"));
            }
            if ty == GENL_ID_CTRL {
                return Ok(Some(payload.get(4..).unwrap_or_default().to_vec()));
            }
        }
    }
    Err(format!("{what}: no answer from the kernel"))
}

/// The possible CPUs as the kernel lists them (`0-1`), which is the cpumask registered.
fn possible_cpus() -> Result<String, String> {
    let path = "/sys/devices/system/cpu/possible";
    std::fs::read_to_string(path)
        .map(|s| s.trim().to_owned())
        .map_err(|e| format!("cannot read {path}: {e}"))
}

/// Opens the netlink socket, finds the taskstats family and registers for every CPU's exit records.
fn register() -> Result<OwnedFd, String> {
    // SAFETY: plain socket(2); the descriptor is owned at once.
    let raw = unsafe {
        libc::socket(
            libc::AF_NETLINK,
            libc::SOCK_RAW | libc::SOCK_CLOEXEC,
            NETLINK_GENERIC,
        )
    };
    if raw < 0 {
        return Err(format!("cannot open a generic netlink socket: {}", errno()));
    }
    // SAFETY: `raw` is a new descriptor that nothing else owns.
    let fd = unsafe { OwnedFd::from_raw_fd(raw) };
    // SAFETY: sockaddr_nl is plain data; zeroed is a valid value (kernel-assigned port, no groups).
    let mut addr: libc::sockaddr_nl = unsafe { std::mem::zeroed() };
    addr.nl_family = libc::AF_NETLINK as libc::sa_family_t;
    // SAFETY: the address is a valid sockaddr_nl of the size given.
    let rc = unsafe {
        libc::bind(
            fd.as_raw_fd(),
            (&raw const addr).cast(),
            std::mem::size_of::<libc::sockaddr_nl>() as libc::socklen_t,
        )
    };
    if rc < 0 {
        return Err(format!("cannot bind a generic netlink socket: {}", errno()));
    }
    set_timeout(&fd, Duration::from_secs(2))?;
    send(
        &fd,
        &message(
            GENL_ID_CTRL,
            CTRL_CMD_GETFAMILY,
            1,
            &attr(CTRL_ATTR_FAMILY_NAME, b"TASKSTATS\0"),
        ),
    )?;
    let family = answer(&fd, 1, "the kernel's taskstats family")?
        .and_then(|a| {
            attrs(&a)
                .find(|(ty, _)| *ty == CTRL_ATTR_FAMILY_ID)
                .and_then(|(_, p)| Some(u16::from_ne_bytes(p.get(0..2)?.try_into().ok()?)))
        })
        .ok_or("the kernel's taskstats family: no id in its answer")?;
    let mut cpus = possible_cpus()?.into_bytes();
    cpus.push(0);
    // A large buffer first (SO_RCVBUFFORCE passes rmem_max, with the CAP_NET_ADMIN registering needs anyway).
    let size: i32 = RCVBUF_BYTES;
    for opt in [libc::SO_RCVBUFFORCE, libc::SO_RCVBUF] {
        // SAFETY: an int option of the right size.
        let rc = unsafe {
            libc::setsockopt(
                fd.as_raw_fd(),
                libc::SOL_SOCKET,
                opt,
                (&raw const size).cast(),
                std::mem::size_of::<i32>() as libc::socklen_t,
            )
        };
        if rc == 0 {
            break;
        }
    }
    send(
        &fd,
        &message(
            family,
            TASKSTATS_CMD_GET,
            2,
            &attr(TASKSTATS_CMD_ATTR_REGISTER_CPUMASK, &cpus),
        ),
    )?;
    answer(&fd, 2, "registering for exit records (taskstats)")?;
    set_timeout(&fd, POLL)?;
    Ok(fd)
}

fn set_timeout(fd: &OwnedFd, d: Duration) -> Result<(), String> {
    let tv = libc::timeval {
        tv_sec: d.as_secs() as libc::time_t,
        tv_usec: libc::suseconds_t::from(d.subsec_micros() as i32),
    };
    // SAFETY: a timeval option of the right size.
    let rc = unsafe {
        libc::setsockopt(
            fd.as_raw_fd(),
            libc::SOL_SOCKET,
            libc::SO_RCVTIMEO,
            (&raw const tv).cast(),
            std::mem::size_of::<libc::timeval>() as libc::socklen_t,
        )
    };
    if rc < 0 {
        return Err(format!(
            "cannot set the netlink socket's timeout: {}",
            errno()
        ));
    }
    Ok(())
}

/// How long the start waits for the record of a thread of its own.
const DELIVERY_CHECK: Duration = Duration::from_secs(2);

/// Checks that the kernel delivers exit records to this socket: in a network namespace other than the initial
/// one (a container's) registering succeeds but nothing arrives. A thread of ours that ends must be reported;
/// the other records received meanwhile are kept.
fn check_delivery(fd: &OwnedFd, state: &mut State) -> Result<(), String> {
    std::thread::Builder::new()
        .name("stabmon-exits-check".into())
        .spawn(|| {})
        .and_then(|t| t.join().map_err(|_| std::io::Error::other("it panicked")))
        .map_err(|e| format!("cannot start a thread to check exit records: {e}"))?;
    let deadline = std::time::Instant::now() + DELIVERY_CHECK;
    let mut buf = vec![0u8; 64 << 10];
    let mut seen = false;
    while !seen && std::time::Instant::now() < deadline {
        match recv(fd, &mut buf, 0) {
            Ok(n) => seen |= absorb(&buf[..n], Timestamp::now(), std::process::id(), state),
            Err(e) if e.raw_os_error() == Some(libc::ENOBUFS) => state.agg.record_dropped(1),
            Err(_) => {}
        }
    }
    if seen {
        Ok(())
    } else {
        Err(format!(
            "the kernel delivered no exit record within {} s of registering: taskstats reports only to the \
             initial network namespace, and this may be a container's",
            DELIVERY_CHECK.as_secs()
        ))
    }
}

/// How long the listener thread sleeps between two reads of what the kernel queued: one wakeup per exit would
/// cost more than the exit's record. An exit then reaches a sample up to this much after it happened (one that
/// happens just before a tick rides the next sample), and its end time is when it was read.
const BATCH: Duration = Duration::from_millis(50);
/// The most records read in one wake, so that a sample never waits long for the state.
const MAX_BATCH: usize = 20_000;

/// The listener thread: every [`BATCH`], takes every record queued, until stopped. Under a fork storm most of its
/// time is the kernel's, handing over one datagram per exit (reading 64 per system call with `recvmmsg` saved
/// nothing measurable).
fn listen(fd: &OwnedFd, shared: &Shared) {
    let mut buf = vec![0u8; 64 << 10];
    let me = std::process::id();
    while !shared.stop.load(Ordering::Relaxed) {
        std::thread::sleep(BATCH);
        let mut st = shared.state.lock().unwrap_or_else(PoisonError::into_inner);
        for _ in 0..MAX_BATCH {
            match recv(fd, &mut buf, libc::MSG_DONTWAIT) {
                // Stamped once read: an exit queued after the wake began is not dated before it happened (its
                // start, the stamp less its elapsed time, before the process began).
                Ok(n) => {
                    absorb(&buf[..n], Timestamp::now(), me, &mut st);
                }
                Err(e) if e.raw_os_error() == Some(libc::ENOBUFS) => st.agg.record_dropped(1),
                Err(e) if matches!(e.raw_os_error(), Some(libc::EAGAIN | libc::EINTR)) => break,
                // Anything else (the socket is gone): stop, rather than spin.
                Err(_) => return,
            }
        }
    }
}

/// Adds the exit records of one datagram, read at `now`, to `st`; whether one of them is of a thread of this
/// process (`me`) other than its main thread.
fn absorb(data: &[u8], now: Timestamp, me: u32, st: &mut State) -> bool {
    let mut own = false;
    for (ty, payload) in messages(data) {
        if ty == NLMSG_ERROR || payload.first() != Some(&TASKSTATS_CMD_NEW) {
            continue;
        }
        if let Some(rec) = parse_exit(payload.get(4..).unwrap_or_default(), now) {
            own |= rec.tgid == me && rec.process.pid != me;
            st.add(rec);
        }
    }
    own
}

/// One task's exit record.
#[derive(Debug, Clone, PartialEq)]
struct Record {
    process: ExitedProcess,
    tgid: u32,
}

impl State {
    fn add(&mut self, rec: Record) {
        let cpu = rec.process.cpu_time.as_micros() as u64;
        if rec.tgid != rec.process.pid {
            // A thread: its CPU belongs to its process, whose own record comes when the process ends.
            if self.threads.len() < MAX_PENDING_THREADS || self.threads.contains_key(&rec.tgid) {
                *self.threads.entry(rec.tgid).or_default() += cpu;
            }
            return;
        }
        let mut p = rec.process;
        if let Some(threads) = self.threads.remove(&rec.tgid) {
            p.cpu_time = p.cpu_time.saturating_add(Duration::from_micros(threads));
        }
        self.agg.push(p);
    }
}

/// Decodes the attributes of a `TASKSTATS_CMD_NEW` message: the per-task record (`AGGR_PID`), received at `now`;
/// `None` for the per-process aggregate (delay accounting only) or a malformed record.
fn parse_exit(data: &[u8], now: Timestamp) -> Option<Record> {
    let (_, nested) = attrs(data).find(|(ty, _)| *ty == TASKSTATS_TYPE_AGGR_PID)?;
    let mut pid = None;
    let mut stats = None;
    for (ty, p) in attrs(nested) {
        match ty {
            TASKSTATS_TYPE_PID => pid = Some(u32::from_ne_bytes(p.get(0..4)?.try_into().ok()?)),
            TASKSTATS_TYPE_STATS => stats = Some(p),
            _ => {}
        }
    }
    let s = stats?;
    let u32_at = |o: usize| Some(u32::from_ne_bytes(s.get(o..o + 4)?.try_into().ok()?));
    let u64_at = |o: usize| Some(u64::from_ne_bytes(s.get(o..o + 8)?.try_into().ok()?));
    let pid = pid.or_else(|| u32_at(off::PID))?;
    let comm = s.get(off::COMM..off::COMM + off::COMM_LEN)?;
    let comm = &comm[..comm.iter().position(|b| *b == 0).unwrap_or(comm.len())];
    let elapsed = Duration::from_micros(u64_at(off::ETIME)?);
    let mut p = ExitedProcess::new(pid, String::from_utf8_lossy(comm));
    p.parent_pid = u32_at(off::PPID)?;
    p.uid = u32_at(off::UID)?;
    p.end_time = now;
    p.start_time = now.saturating_sub(elapsed);
    p.cpu_time = Duration::from_micros(u64_at(off::UTIME)?.saturating_add(u64_at(off::STIME)?));
    p.peak_rss_bytes = u64_at(off::HIWATER_RSS)?.saturating_mul(1024);
    p.status = ExitStatus::from_wait_status(u32_at(off::EXITCODE)?);
    let tgid = u32_at(off::TGID).filter(|t| *t != 0).unwrap_or(pid);
    Some(Record { process: p, tgid })
}

#[cfg(test)]
#[allow(clippy::expect_used, clippy::unwrap_used)]
mod tests {
    use super::*;

    /// A `TASKSTATS_CMD_NEW` payload (after the generic netlink header) as the kernel builds it.
    fn record(pid: u32, tgid: u32, comm: &str, utime: u64, exitcode: u32) -> Vec<u8> {
        let mut s = vec![0u8; 560];
        s[0..2].copy_from_slice(&16u16.to_ne_bytes());
        s[off::EXITCODE..off::EXITCODE + 4].copy_from_slice(&exitcode.to_ne_bytes());
        s[off::COMM..off::COMM + comm.len()].copy_from_slice(comm.as_bytes());
        s[off::UID..off::UID + 4].copy_from_slice(&1000u32.to_ne_bytes());
        s[off::PID..off::PID + 4].copy_from_slice(&pid.to_ne_bytes());
        s[off::PPID..off::PPID + 4].copy_from_slice(&7u32.to_ne_bytes());
        s[off::ETIME..off::ETIME + 8].copy_from_slice(&300_000u64.to_ne_bytes());
        s[off::UTIME..off::UTIME + 8].copy_from_slice(&utime.to_ne_bytes());
        s[off::STIME..off::STIME + 8].copy_from_slice(&1_000u64.to_ne_bytes());
        s[off::HIWATER_RSS..off::HIWATER_RSS + 8].copy_from_slice(&2048u64.to_ne_bytes());
        s[off::TGID..off::TGID + 4].copy_from_slice(&tgid.to_ne_bytes());
        let mut nested = attr(TASKSTATS_TYPE_PID, &pid.to_ne_bytes());
        nested.extend(attr(TASKSTATS_TYPE_STATS, &s));
        attr(TASKSTATS_TYPE_AGGR_PID | 0x8000, &nested)
    }

    #[test]
    fn an_exit_record_decodes_whole() {
        let now = Timestamp::from_unix_micros(2_000_000_000_000_000);
        let r = parse_exit(&record(4242, 4242, "php-cgi", 250_000, 9), now).unwrap();
        let p = &r.process;
        assert_eq!(
            (p.pid, p.parent_pid, p.uid, p.name.as_str()),
            (4242, 7, 1000, "php-cgi")
        );
        assert_eq!(p.cpu_time, Duration::from_micros(251_000));
        assert_eq!(p.peak_rss_bytes, 2 << 20);
        assert_eq!(p.status, ExitStatus::Signal(9));
        assert_eq!(p.end_time, now);
        assert_eq!(p.start_time, now.saturating_sub(Duration::from_millis(300)));
    }

    #[test]
    fn a_short_or_foreign_record_is_ignored() {
        let now = Timestamp::from_unix_micros(0);
        let full = record(1, 1, "x", 0, 0);
        for cut in [0, 3, 8, 40, 200, full.len() - 300] {
            let short = full[..cut].to_vec();
            assert!(parse_exit(&short, now).is_none(), "cut at {cut}");
        }
        assert!(parse_exit(&attr(5, &[0; 12]), now).is_none());
    }

    #[test]
    fn threads_add_their_cpu_to_their_process() {
        let now = Timestamp::from_unix_micros(2_000_000_000_000_000);
        let mut st = State {
            agg: ExitAggregator::new(now.saturating_sub(Duration::from_secs(1))),
            threads: HashMap::new(),
        };
        st.add(parse_exit(&record(11, 10, "worker", 99_000, 0), now).unwrap());
        st.add(parse_exit(&record(10, 10, "java", 49_000, 0), now).unwrap());
        let exits = st.agg.take(now);
        assert_eq!(exits.count, 1);
        assert_eq!(exits.names[0].name, "java");
        assert_eq!(exits.names[0].cpu_time, Duration::from_millis(150));
    }

    /// On the real host: a child that exits is reported with its name, pid, parent and exit code, or the test
    /// says why the kernel refused.
    #[test]
    fn a_child_exit_is_reported_on_this_host() {
        let since = Timestamp::now();
        let listener = match ExitListener::start(since) {
            Ok(l) => l,
            Err(reason) => {
                println!("SKIPPED: taskstats exit records are not available here: {reason}");
                return;
            }
        };
        // The child is listed (watched) before it ends, so its exit is detailed whatever else exits meanwhile.
        let mut child = std::process::Command::new("sh")
            .args(["-c", "sleep 0.3; exit 7"])
            .spawn()
            .expect("sh runs");
        std::thread::sleep(Duration::from_millis(50));
        listener.take(Timestamp::now(), [child.id()]);
        assert_eq!(child.wait().expect("sh ends").code(), Some(7));
        let me = std::process::id();
        let deadline = std::time::Instant::now() + Duration::from_secs(5);
        let mut seen = Vec::new();
        while seen.is_empty() && std::time::Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(100));
            let exits = listener.take(Timestamp::now(), [child.id()]);
            seen.extend(
                exits
                    .processes
                    .into_iter()
                    .filter(|p| p.parent_pid == me && p.pid == child.id()),
            );
        }
        let sh = seen.first().expect("the child's exit was reported");
        assert_eq!(sh.status, ExitStatus::Code(7));
        assert_eq!(sh.name, "sh");
        assert!(sh.start_time <= sh.end_time && sh.start_time >= since);
    }

    #[test]
    fn a_burst_of_exits_is_counted_whole_across_batched_reads() {
        let listener = match ExitListener::start(Timestamp::now()) {
            Ok(l) => l,
            Err(reason) => {
                println!("SKIPPED: taskstats exit records are not available here: {reason}");
                return;
            }
        };
        // 640 exits, queued between wakes of the listener: every one counted, none dropped.
        let dir = std::env::temp_dir().join(format!("stabmon-burst-{}", std::process::id()));
        std::fs::create_dir_all(&dir).expect("a temporary directory");
        let burst = dir.join("stabmon-burst");
        std::fs::copy("/bin/true", &burst).expect("/bin/true copies");
        let n = 640u32;
        for _ in 0..n {
            // A fork by another test thread while the copy was open for writing holds that descriptor until its
            // exec: running the copy fails with ETXTBSY until then.
            let mut tries = 0;
            loop {
                match std::process::Command::new(&burst).status() {
                    Err(e) if e.kind() == std::io::ErrorKind::ExecutableFileBusy && tries < 100 => {
                        tries += 1;
                        std::thread::sleep(Duration::from_millis(10));
                    }
                    status => {
                        status.expect("the copy of true runs");
                        break;
                    }
                }
            }
        }
        let deadline = std::time::Instant::now() + Duration::from_secs(5);
        let (mut counted, mut dropped) = (0u32, 0u32);
        while counted < n && std::time::Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(100));
            let exits = listener.take(Timestamp::now(), []);
            dropped += exits.dropped;
            counted += exits
                .names
                .iter()
                .filter(|e| e.name == "stabmon-burst")
                .map(|e| e.count)
                .sum::<u32>();
        }
        let _ = std::fs::remove_dir_all(&dir);
        assert_eq!((counted, dropped), (n, 0), "of {n} exits");
    }
}
