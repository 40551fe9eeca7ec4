//! Parsers for the `/proc` files the Linux code reads: the sampler's on byte slices so that nothing is allocated
//! per process, and the route table's.

use std::net::Ipv4Addr;

use stabmon_core::attribution::shorten_command_line;

/// An unsigned decimal number, or `None` if `s` is empty or has anything but digits.
pub(crate) fn parse_u64(s: &[u8]) -> Option<u64> {
    if s.is_empty() {
        return None;
    }
    let mut n: u64 = 0;
    for &b in s {
        if !b.is_ascii_digit() {
            return None;
        }
        n = n.checked_mul(10)?.checked_add(u64::from(b - b'0'))?;
    }
    Some(n)
}

/// A signed decimal number clamped at zero (`/proc/PID/stat` prints some counters with `%ld`).
fn parse_i64_non_negative(s: &[u8]) -> Option<u64> {
    match s.strip_prefix(b"-") {
        Some(rest) => parse_u64(rest).map(|_| 0),
        None => parse_u64(s),
    }
}

/// The fields of `/proc/PID/stat` the sampler needs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct PidStat<'a> {
    /// `comm`, the name (at most 15 bytes, may contain spaces and parentheses).
    pub(crate) comm: &'a [u8],
    /// Field 4.
    pub(crate) ppid: u32,
    /// Fields 14 + 15: user and system time, in clock ticks.
    pub(crate) cpu_ticks: u64,
    /// Fields 16 + 17: user and system time of reaped children, in clock ticks.
    pub(crate) children_ticks: u64,
    /// Field 22: start time in clock ticks after boot.
    pub(crate) start_ticks: u64,
    /// Field 23: virtual memory size in bytes.
    pub(crate) vsize_bytes: u64,
    /// Field 24: resident set size in pages.
    pub(crate) rss_pages: u64,
    /// Field 20: the number of threads.
    pub(crate) threads: u64,
}

/// Parses one `/proc/PID/stat` line. The name is taken between the first `(` and the LAST `)`, since a name can
/// hold `)` and spaces itself.
pub(crate) fn parse_pid_stat(buf: &[u8]) -> Option<PidStat<'_>> {
    let open = buf.iter().position(|&b| b == b'(')?;
    let close = buf.iter().rposition(|&b| b == b')')?;
    if close < open {
        return None;
    }
    let comm = &buf[open + 1..close];
    // Fields after the name, numbered from 3 (state).
    let mut fields = buf[close + 1..]
        .split(|&b| b == b' ' || b == b'\n')
        .filter(|f| !f.is_empty());
    let mut vals = [0u64; 22]; // index i holds field i + 3
    for (i, slot) in vals.iter_mut().enumerate() {
        let f = fields.next()?;
        if i == 0 {
            continue; // state, a letter
        }
        *slot = parse_i64_non_negative(f)?;
    }
    let field = |n: usize| vals[n - 3];
    Some(PidStat {
        comm,
        ppid: u32::try_from(field(4)).ok()?,
        cpu_ticks: field(14).saturating_add(field(15)),
        children_ticks: field(16).saturating_add(field(17)),
        start_ticks: field(22),
        vsize_bytes: field(23),
        rss_pages: field(24),
        threads: field(20),
    })
}

/// The first field of `/proc/PID/schedstat`: the nanoseconds the task (the process's main thread) has run. `None`
/// for 0: kernels before 5.14 without scheduler statistics print `0 0 0` for every task, which must never read as
/// "has not run" (and a task that has never run has nothing to skip).
pub(crate) fn parse_schedstat_run_ns(buf: &[u8]) -> Option<u64> {
    let end = buf.iter().position(|&b| b == b' ' || b == b'\n')?;
    parse_i64_non_negative(&buf[..end]).filter(|&ns| ns > 0)
}

/// One `cpu` line of `/proc/stat`, in clock ticks.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub(crate) struct CpuTimes {
    pub(crate) user: u64,
    pub(crate) nice: u64,
    pub(crate) system: u64,
    pub(crate) idle: u64,
    pub(crate) iowait: u64,
    pub(crate) irq: u64,
    pub(crate) softirq: u64,
    pub(crate) steal: u64,
}

impl CpuTimes {
    /// Everything: `guest` and `guest_nice` are already inside `user` and `nice`, so they are not added.
    pub(crate) fn total(&self) -> u64 {
        self.user
            .saturating_add(self.nice)
            .saturating_add(self.system)
            .saturating_add(self.idle)
            .saturating_add(self.iowait)
            .saturating_add(self.irq)
            .saturating_add(self.softirq)
            .saturating_add(self.steal)
    }

    /// Counter deltas since `prev`; a counter that went backwards (CPU hot-plug) counts as zero.
    pub(crate) fn since(&self, prev: &CpuTimes) -> CpuTimes {
        CpuTimes {
            user: self.user.saturating_sub(prev.user),
            nice: self.nice.saturating_sub(prev.nice),
            system: self.system.saturating_sub(prev.system),
            idle: self.idle.saturating_sub(prev.idle),
            iowait: self.iowait.saturating_sub(prev.iowait),
            irq: self.irq.saturating_sub(prev.irq),
            softirq: self.softirq.saturating_sub(prev.softirq),
            steal: self.steal.saturating_sub(prev.steal),
        }
    }
}

/// What the sampler takes from `/proc/stat`.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub(crate) struct ProcStat {
    pub(crate) total: CpuTimes,
    /// Per core, indexed by the core number; `None` for a core that is offline.
    pub(crate) cores: Vec<Option<CpuTimes>>,
    /// `btime`: boot time in seconds since the epoch.
    pub(crate) btime: Option<u64>,
}

/// Parses `/proc/stat` into `out`, reusing its vector.
pub(crate) fn parse_proc_stat(buf: &[u8], out: &mut ProcStat) -> bool {
    out.cores.clear();
    out.btime = None;
    let mut saw_total = false;
    for line in buf.split(|&b| b == b'\n') {
        if let Some(rest) = line.strip_prefix(b"cpu") {
            let mut parts = rest.split(|&b| b == b' ').filter(|p| !p.is_empty());
            let label = if rest.first() == Some(&b' ') {
                None
            } else {
                match parts.next().and_then(parse_u64) {
                    Some(n) => Some(n),
                    None => continue,
                }
            };
            let mut v = [0u64; 8];
            for slot in &mut v {
                // Old kernels have fewer columns; missing ones stay zero.
                *slot = parts.next().and_then(parse_u64).unwrap_or(0);
            }
            let t = CpuTimes {
                user: v[0],
                nice: v[1],
                system: v[2],
                idle: v[3],
                iowait: v[4],
                irq: v[5],
                softirq: v[6],
                steal: v[7],
            };
            match label {
                None => {
                    out.total = t;
                    saw_total = true;
                }
                Some(n) => {
                    let Ok(i) = usize::try_from(n) else { continue };
                    if i >= 65_536 {
                        continue;
                    }
                    if out.cores.len() <= i {
                        out.cores.resize(i + 1, None);
                    }
                    out.cores[i] = Some(t);
                }
            }
        } else if let Some(rest) = line.strip_prefix(b"btime ") {
            out.btime = parse_u64(trim(rest));
        }
    }
    saw_total
}

fn trim(s: &[u8]) -> &[u8] {
    s.trim_ascii()
}

/// The cumulative `total=` stall counters (microseconds) of a `/proc/pressure/*` file: `(some, full)`.
pub(crate) fn parse_pressure(buf: &[u8]) -> (Option<u64>, Option<u64>) {
    let mut some = None;
    let mut full = None;
    for line in buf.split(|&b| b == b'\n') {
        let slot = if line.starts_with(b"some ") {
            &mut some
        } else if line.starts_with(b"full ") {
            &mut full
        } else {
            continue;
        };
        *slot = line
            .split(|&b| b == b' ')
            .find_map(|kv| kv.strip_prefix(b"total="))
            .and_then(|v| parse_u64(trim(v)));
    }
    (some, full)
}

/// The `oom_kill` counter of `/proc/vmstat` (absent before Linux 4.13).
pub(crate) fn parse_vmstat_oom_kill(buf: &[u8]) -> Option<u64> {
    buf.split(|&b| b == b'\n')
        .find_map(|l| l.strip_prefix(b"oom_kill "))
        .and_then(|v| parse_u64(trim(v)))
}

/// What the sampler takes from `/proc/meminfo`, in bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub(crate) struct MemInfo {
    pub(crate) total: u64,
    pub(crate) available: u64,
    pub(crate) swap_total: u64,
    pub(crate) swap_free: u64,
}

/// Parses `/proc/meminfo`; `MemAvailable` falls back to free + buffers + cached on kernels before 3.14.
pub(crate) fn parse_meminfo(buf: &[u8]) -> Option<MemInfo> {
    let (mut total, mut available, mut free, mut buffers, mut cached) = (None, None, 0, 0, 0);
    let (mut swap_total, mut swap_free) = (0, 0);
    for line in buf.split(|&b| b == b'\n') {
        let Some(colon) = line.iter().position(|&b| b == b':') else {
            continue;
        };
        let key = &line[..colon];
        let value = line[colon + 1..]
            .trim_ascii()
            .strip_suffix(b" kB")
            .unwrap_or(line[colon + 1..].trim_ascii());
        let Some(kib) = parse_u64(value.trim_ascii()) else {
            continue;
        };
        let bytes = kib.saturating_mul(1024);
        match key {
            b"MemTotal" => total = Some(bytes),
            b"MemAvailable" => available = Some(bytes),
            b"MemFree" => free = bytes,
            b"Buffers" => buffers = bytes,
            b"Cached" => cached = bytes,
            b"SwapTotal" => swap_total = bytes,
            b"SwapFree" => swap_free = bytes,
            _ => {}
        }
    }
    let total = total?;
    Some(MemInfo {
        total,
        available: available
            .unwrap_or_else(|| free.saturating_add(buffers).saturating_add(cached))
            .min(total),
        swap_total,
        swap_free: swap_free.min(swap_total),
    })
}

/// The three load averages of `/proc/loadavg`.
pub(crate) fn parse_loadavg(buf: &[u8]) -> Option<(f32, f32, f32)> {
    let text = std::str::from_utf8(buf).ok()?;
    let mut parts = text.split_ascii_whitespace();
    let mut next = || parts.next().and_then(|p| p.parse::<f32>().ok());
    Some((next()?, next()?, next()?))
}

/// Appends the numeric names (pids) of the `linux_dirent64` records in `buf` to `pids`.
pub(crate) fn parse_dirents(buf: &[u8], pids: &mut Vec<u32>) {
    // struct linux_dirent64 { u64 d_ino; i64 d_off; u16 d_reclen; u8 d_type; char d_name[]; }
    const NAME_OFFSET: usize = 19;
    let mut pos = 0;
    while pos + NAME_OFFSET <= buf.len() {
        let reclen = usize::from(u16::from_ne_bytes([buf[pos + 16], buf[pos + 17]]));
        if reclen < NAME_OFFSET || pos + reclen > buf.len() {
            break;
        }
        let name = &buf[pos + NAME_OFFSET..pos + reclen];
        let name = name.split(|&b| b == 0).next().unwrap_or(name);
        if let Some(pid) = parse_u64(name).and_then(|p| u32::try_from(p).ok()) {
            pids.push(pid);
        }
        pos += reclen;
    }
}

/// A command line from `/proc/PID/cmdline`, its NUL-separated arguments: joined by spaces, shortened in the middle
/// to `max_bytes`; `None` when empty (kernel threads have no command line).
pub(crate) fn format_cmdline(raw: &[u8], max_bytes: usize) -> Option<String> {
    let trimmed = raw.strip_suffix(b"\0").unwrap_or(raw);
    if trimmed.iter().all(|&b| b == 0) {
        return None;
    }
    let joined: Vec<u8> = trimmed
        .iter()
        .map(|&b| if b == 0 { b' ' } else { b })
        .collect();
    let mut s = String::from_utf8_lossy(&joined).into_owned();
    shorten_command_line(&mut s, max_bytes);
    Some(s)
}

/// The default IPv4 gateway from the text of Linux's `/proc/net/route`: the `UG` route to `0.0.0.0/0` with the
/// lowest metric; `None` when there is none.
///
/// The kernel prints addresses as the hex of the in-memory (network order) 32-bit value in host byte order, so
/// `010200C0` is 192.0.2.1 on a little-endian machine.
pub(crate) fn parse_proc_net_route(text: &str) -> Option<Ipv4Addr> {
    const RTF_UP: u32 = 0x1;
    const RTF_GATEWAY: u32 = 0x2;
    let hex = |s: &str| u32::from_str_radix(s, 16).ok();
    text.lines()
        .skip(1)
        .filter_map(|line| {
            let f: Vec<&str> = line.split_whitespace().collect();
            if f.len() < 8 {
                return None;
            }
            let (dest, gw, flags, metric, mask) = (
                hex(f[1])?,
                hex(f[2])?,
                hex(f[3])?,
                f[6].parse::<u32>().ok()?,
                hex(f[7])?,
            );
            let default_route =
                dest == 0 && mask == 0 && flags & (RTF_UP | RTF_GATEWAY) == RTF_UP | RTF_GATEWAY;
            (default_route && gw != 0).then(|| (metric, Ipv4Addr::from(gw.to_ne_bytes())))
        })
        .min_by_key(|&(metric, _)| metric)
        .map(|(_, gw)| gw)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cmdline_is_joined_and_cut() {
        assert_eq!(
            format_cmdline(b"sleep\x00600\x00", 100).as_deref(),
            Some("sleep 600")
        );
        assert_eq!(format_cmdline(b"", 100), None);
        assert_eq!(format_cmdline(b"\x00", 100), None);
        assert_eq!(
            format_cmdline(b"python3\x00-c\x00x", 9).as_deref(),
            Some("python3 -")
        );
        // A multi-byte character is never split.
        assert_eq!(
            format_cmdline("a\u{e9}\u{e9}".as_bytes(), 4).as_deref(),
            Some("a\u{e9}")
        );
        // Rewritten titles without NULs are kept whole.
        assert_eq!(
            format_cmdline(b"postgres: writer", 100).as_deref(),
            Some("postgres: writer")
        );
    }

    const STAT: &[u8] = b"4123 (my) (weird) proc) S 1 4123 4123 0 -1 4194560 1234 0 0 0 \
        250 75 30 12 20 0 3 0 98765 123456789 2048 18446744073709551615 1 1 0 0 0 0 0 0 0 0 0 0 17 1 0 0 0 0 0\n";

    #[test]
    fn pid_stat_with_parens_and_spaces_in_comm() {
        let s = parse_pid_stat(STAT);
        assert_eq!(
            s,
            Some(PidStat {
                comm: b"my) (weird) proc",
                ppid: 1,
                cpu_ticks: 325,
                children_ticks: 42,
                start_ticks: 98765,
                vsize_bytes: 123_456_789,
                rss_pages: 2048,
                threads: 3,
            })
        );
    }

    #[test]
    fn schedstat_run_time() {
        assert_eq!(
            parse_schedstat_run_ns(b"1234567 89012 34\n"),
            Some(1_234_567)
        );
        // What kernels without scheduler statistics print for every task: not a run time.
        assert_eq!(parse_schedstat_run_ns(b"0 0 0\n"), None);
        // Not a number, or no separator (a cut read): no value, so the caller reads `stat`.
        assert_eq!(parse_schedstat_run_ns(b"x 1 2\n"), None);
        assert_eq!(parse_schedstat_run_ns(b"123"), None);
        assert_eq!(parse_schedstat_run_ns(b""), None);
    }

    #[test]
    fn pid_stat_kernel_thread_and_garbage() {
        let kthread = b"2 (kthreadd) S 0 0 0 0 -1 2129984 0 0 0 0 0 1 0 0 20 0 1 0 5 0 0 18446744073709551615 0 0 0 0 0 0 0 2147483647 0 0 0 0 17 0 0 0 0 0 0 0 0 0 0 0 0 0 0\n";
        let s = parse_pid_stat(kthread);
        assert_eq!(
            s.map(|s| (s.comm, s.ppid, s.rss_pages)),
            Some((&b"kthreadd"[..], 0, 0))
        );
        // Negative %ld counters clamp to zero rather than failing.
        let neg = b"7 (x) R 1 1 1 0 -1 0 0 0 0 0 5 5 -1 -1 20 0 1 0 10 4096 3\n";
        assert_eq!(parse_pid_stat(neg).map(|s| s.children_ticks), Some(0));
        assert_eq!(parse_pid_stat(b""), None);
        assert_eq!(parse_pid_stat(b"12 (truncated) S 1 2 3"), None);
        assert_eq!(parse_pid_stat(b"12 )oops( S 1"), None);
    }

    #[test]
    fn proc_stat_cpu_lines() {
        let text = b"cpu  100 5 50 1000 20 3 2 7 9 0\n\
cpu0 60 5 30 400 10 2 1 4 9 0\n\
cpu2 40 0 20 600 10 1 1 3 0 0\n\
intr 12345 0 0\nctxt 999\nbtime 1700000000\nprocesses 42\n";
        let mut out = ProcStat::default();
        assert!(parse_proc_stat(text, &mut out));
        assert_eq!(out.total.user, 100);
        assert_eq!(out.total.steal, 7);
        // guest (9) is inside user already: not added to the total.
        assert_eq!(out.total.total(), 100 + 5 + 50 + 1000 + 20 + 3 + 2 + 7);
        assert_eq!(out.cores.len(), 3);
        assert_eq!(out.cores[0].map(|c| c.system), Some(30));
        assert_eq!(out.cores[1], None);
        assert_eq!(out.cores[2].map(|c| c.idle), Some(600));
        assert_eq!(out.btime, Some(1_700_000_000));
        assert!(!parse_proc_stat(b"intr 1\n", &mut out));
        // Fewer columns (old kernels) leave the rest at zero.
        assert!(parse_proc_stat(b"cpu 1 2 3 4\n", &mut out));
        assert_eq!((out.total.idle, out.total.steal), (4, 0));
    }

    #[test]
    fn pressure_lines() {
        let cpu = b"some avg10=1.50 avg60=0.20 avg300=0.05 total=123456\n\
full avg10=0.00 avg60=0.00 avg300=0.00 total=789\n";
        assert_eq!(parse_pressure(cpu), (Some(123_456), Some(789)));
        let old = b"some avg10=0.00 avg60=0.00 avg300=0.00 total=5\n";
        assert_eq!(parse_pressure(old), (Some(5), None));
        assert_eq!(parse_pressure(b""), (None, None));
    }

    #[test]
    fn vmstat_oom_kill() {
        let text = b"nr_free_pages 1000\noom_kill_extra 9\noom_kill 3\npgfault 5\n";
        assert_eq!(parse_vmstat_oom_kill(text), Some(3));
        assert_eq!(parse_vmstat_oom_kill(b"nr_free_pages 1\n"), None);
    }

    #[test]
    fn meminfo_and_fallback() {
        let text = b"MemTotal:       16000000 kB\nMemFree:         1000000 kB\nMemAvailable:    8000000 kB\n\
Buffers:          100 kB\nCached:          200 kB\nSwapTotal:       2000000 kB\nSwapFree:        1500000 kB\n";
        let m = parse_meminfo(text);
        assert_eq!(
            m,
            Some(MemInfo {
                total: 16_000_000 * 1024,
                available: 8_000_000 * 1024,
                swap_total: 2_000_000 * 1024,
                swap_free: 1_500_000 * 1024,
            })
        );
        let old = b"MemTotal: 1000 kB\nMemFree: 100 kB\nBuffers: 10 kB\nCached: 20 kB\n";
        assert_eq!(parse_meminfo(old).map(|m| m.available), Some(130 * 1024));
        assert_eq!(parse_meminfo(b"nothing\n"), None);
    }

    #[test]
    fn loadavg() {
        assert_eq!(
            parse_loadavg(b"0.50 1.25 2.00 3/456 7890\n"),
            Some((0.5, 1.25, 2.0))
        );
        assert_eq!(parse_loadavg(b"0.50\n"), None);
    }

    #[test]
    fn dirents() {
        fn rec(name: &[u8]) -> Vec<u8> {
            let reclen = (19 + name.len() + 1).div_ceil(8) * 8;
            let mut r = vec![0u8; reclen];
            r[16..18].copy_from_slice(&(reclen as u16).to_ne_bytes());
            r[19..19 + name.len()].copy_from_slice(name);
            r
        }
        let mut buf = Vec::new();
        for n in [&b"."[..], b"..", b"1", b"self", b"4123", b"sys", b"99999"] {
            buf.extend(rec(n));
        }
        let mut pids = Vec::new();
        parse_dirents(&buf, &mut pids);
        assert_eq!(pids, vec![1, 4123, 99999]);
        // A truncated record stops the walk without panicking.
        pids.clear();
        parse_dirents(&buf[..buf.len() - 3], &mut pids);
        assert_eq!(pids, vec![1, 4123]);
    }

    #[test]
    fn gateway_from_a_copy_of_proc_net_route() {
        // A copy of this machine's /proc/net/route (eth0 via 192.0.2.1).
        let text = include_str!("../../tests/fixtures/proc_net_route");
        let gw = parse_proc_net_route(text);
        if cfg!(target_endian = "little") {
            assert_eq!(gw, Some(Ipv4Addr::new(192, 0, 2, 1)));
        } else {
            assert!(gw.is_some());
        }
    }

    #[test]
    #[cfg(target_endian = "little")]
    fn lowest_metric_default_route_wins_and_others_are_ignored() {
        let text = "Iface\tDestination\tGateway \tFlags\tRefCnt\tUse\tMetric\tMask\t\tMTU\tWindow\tIRTT\n\
            wlan0\t00000000\t0101A8C0\t0003\t0\t0\t600\t00000000\t0\t0\t0\n\
            eth0\t00000000\t FE01A8C0\t0003\t0\t0\t100\t00000000\t0\t0\t0\n\
            tun0\t0000000A\t0100000A\t0003\t0\t0\t50\t000000FF\t0\t0\t0\n\
            down0\t00000000\t0200000A\t0002\t0\t0\t1\t00000000\t0\t0\t0\n\
            lo0\t00000000\t00000000\t0001\t0\t0\t0\t00000000\t0\t0\t0\n";
        // eth0's gateway field has a stray space, which split_whitespace tolerates.
        assert_eq!(
            parse_proc_net_route(text),
            Some(Ipv4Addr::new(192, 168, 1, 254))
        );
    }

    #[test]
    fn no_default_route() {
        let text = "Iface\tDestination\tGateway \tFlags\tRefCnt\tUse\tMetric\tMask\t\tMTU\tWindow\tIRTT\n\
            eth0\t000200C0\t00000000\t0001\t0\t0\t0\t00FFFFFF\t0\t0\t0\n";
        assert_eq!(parse_proc_net_route(text), None);
        assert_eq!(parse_proc_net_route(""), None);
        assert_eq!(parse_proc_net_route("garbage\nmore garbage here\n"), None);
    }
}
