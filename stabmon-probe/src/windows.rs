//! The Windows system calls of the probes, through the IP Helper API, which needs no administrator rights:
//! the IPv4 route table and ICMP echoes. Each call fills a buffer that `net::iphlp` decodes.

use std::io;
use std::net::{Ipv6Addr, SocketAddr};
use std::ptr;
use std::time::{Duration, Instant};

use windows_sys::Win32::Foundation::{
    ERROR_INSUFFICIENT_BUFFER, ERROR_NO_DATA, GetLastError, HANDLE, INVALID_HANDLE_VALUE, NO_ERROR,
};
use windows_sys::Win32::NetworkManagement::IpHelper::{
    GetIpForwardTable, ICMP_ECHO_REPLY, ICMPV6_ECHO_REPLY_LH, IP_REQ_TIMED_OUT, IPV6_ADDRESS_EX,
    Icmp6CreateFile, Icmp6SendEcho2, IcmpCloseHandle, IcmpCreateFile, IcmpSendEcho2,
    MIB_IPFORWARDROW, MIB_IPFORWARDTABLE, MIB_IPROUTE_TYPE_INDIRECT,
};
use windows_sys::Win32::Networking::WinSock::{AF_INET6, SOCKADDR_IN6};

use crate::Error;
use crate::net::iphlp;

// The decoders in `net::iphlp` read these structures as bytes at fixed offsets: they must be where windows-sys
// (the SDK's layout) puts them. Checked whenever this module is compiled, that is, for every Windows target.
const _: () = {
    use std::mem::offset_of;
    assert!(size_of::<MIB_IPFORWARDROW>() == iphlp::FORWARD_ROW_BYTES);
    assert!(offset_of!(MIB_IPFORWARDROW, dwForwardDest) == iphlp::ROW_DEST);
    assert!(offset_of!(MIB_IPFORWARDROW, dwForwardMask) == iphlp::ROW_MASK);
    assert!(offset_of!(MIB_IPFORWARDROW, dwForwardNextHop) == iphlp::ROW_NEXT_HOP);
    assert!(offset_of!(MIB_IPFORWARDROW, Anonymous1) == iphlp::ROW_TYPE);
    assert!(offset_of!(MIB_IPFORWARDROW, dwForwardMetric1) == iphlp::ROW_METRIC1);
    assert!(offset_of!(MIB_IPFORWARDTABLE, table) == iphlp::TABLE_ROWS);
    assert!(MIB_IPROUTE_TYPE_INDIRECT as u32 == iphlp::ROUTE_TYPE_INDIRECT);
    assert!(offset_of!(ICMP_ECHO_REPLY, Address) == iphlp::V4_ADDRESS);
    assert!(offset_of!(ICMP_ECHO_REPLY, Status) == iphlp::V4_STATUS);
    assert!(
        offset_of!(ICMPV6_ECHO_REPLY_LH, Address) + offset_of!(IPV6_ADDRESS_EX, sin6_addr)
            == iphlp::V6_ADDRESS
    );
    assert!(offset_of!(ICMPV6_ECHO_REPLY_LH, Status) == iphlp::V6_STATUS);
    assert!(IP_REQ_TIMED_OUT == iphlp::IP_REQ_TIMED_OUT);
};

/// The bytes of `words`, in memory order: the buffers are `u32`/`u64` vectors for the alignment the API's
/// structures need, read back as bytes by the decoders.
fn bytes_of<const N: usize, T: Copy>(words: &[T], to_bytes: impl Fn(T) -> [u8; N]) -> Vec<u8> {
    words.iter().flat_map(|&w| to_bytes(w)).collect()
}

/// The IPv4 route table (`GetIpForwardTable`) as bytes of a `MIB_IPFORWARDTABLE`; `None` when it is empty.
pub(crate) fn ip_forward_table() -> Result<Option<Vec<u8>>, Error> {
    let mut buf: Vec<u32> = Vec::new();
    // The table can grow between the call that sizes it and the one that fills it: try a few times.
    for _ in 0..4 {
        let mut size = u32::try_from(buf.len() * 4).unwrap_or(u32::MAX);
        let table = if buf.is_empty() {
            ptr::null_mut()
        } else {
            buf.as_mut_ptr().cast::<MIB_IPFORWARDTABLE>()
        };
        // SAFETY: `table` is null with `size` 0, or points to `size` writable bytes aligned for the table's DWORDs.
        let rc = unsafe { GetIpForwardTable(table, &mut size, 0) };
        match rc {
            NO_ERROR if !buf.is_empty() => return Ok(Some(bytes_of(&buf, u32::to_ne_bytes))),
            NO_ERROR | ERROR_NO_DATA => return Ok(None),
            ERROR_INSUFFICIENT_BUFFER => buf = vec![0; size.div_ceil(4) as usize],
            rc => return Err(system_error("GetIpForwardTable", rc)),
        }
    }
    Err(Error::System {
        call: "GetIpForwardTable",
        source: io::Error::other("the route table kept growing"),
    })
}

fn system_error(call: &'static str, code: u32) -> Error {
    Error::System {
        call,
        source: io::Error::from_raw_os_error(code as i32),
    }
}

/// An ICMP handle of the IP Helper API, closed when dropped.
struct IcmpHandle(HANDLE);

impl IcmpHandle {
    fn open(v6: bool) -> io::Result<Self> {
        // SAFETY: no arguments; the result is checked.
        let h = unsafe {
            if v6 {
                Icmp6CreateFile()
            } else {
                IcmpCreateFile()
            }
        };
        if h == INVALID_HANDLE_VALUE || h.is_null() {
            Err(io::Error::last_os_error())
        } else {
            Ok(IcmpHandle(h))
        }
    }
}

impl Drop for IcmpHandle {
    fn drop(&mut self) {
        // SAFETY: the handle came from Icmp(6)CreateFile and is closed once.
        unsafe { IcmpCloseHandle(self.0) };
    }
}

/// What one echo came back with.
pub(crate) enum Echo {
    /// The reply buffer, holding at least one `ICMP_ECHO_REPLY` (IPv4) or `ICMPV6_ECHO_REPLY` (IPv6), and the
    /// time the call took (the reply's own round trip is in whole milliseconds only).
    Replied(Vec<u8>, Duration),
    /// No reply: the Windows error code (`IP_REQ_TIMED_OUT`, an `IP_*` status, or a system error).
    Failed(u32),
}

/// Sends one echo request with `payload` to `addr` (its port is ignored) and waits for its reply at most `timeout` (whole milliseconds,
/// at least 1), blocking the calling thread.
pub(crate) fn icmp_echo(addr: SocketAddr, payload: &[u8], timeout: Duration) -> io::Result<Echo> {
    let timeout_ms = u32::try_from(timeout.as_millis())
        .unwrap_or(u32::MAX)
        .max(1);
    let request_len = u16::try_from(payload.len()).map_err(io::Error::other)?;
    // One reply, the echoed data, 8 bytes for an ICMP error and an IO_STATUS_BLOCK, as the API asks, and room for
    // an ICMP header and options besides; u64s for the reply's pointer alignment.
    let reply_bytes = size_of::<ICMP_ECHO_REPLY>().max(size_of::<ICMPV6_ECHO_REPLY_LH>())
        + payload.len()
        + 8
        + 2 * size_of::<usize>()
        + 64;
    let mut reply = vec![0u64; reply_bytes.div_ceil(8)];
    let reply_size = u32::try_from(reply.len() * 8).map_err(io::Error::other)?;
    let handle = IcmpHandle::open(addr.is_ipv6())?;
    let sent = Instant::now();
    let replies = match addr {
        SocketAddr::V4(v4) => {
            let v4 = *v4.ip();
            // IPAddr: the address in network order, as it lies in memory.
            let dest = u32::from_ne_bytes(v4.octets());
            // SAFETY: a valid handle; no event and no APC routine, so the call is synchronous and every buffer
            // outlives it; `reply` has `reply_size` writable bytes.
            unsafe {
                IcmpSendEcho2(
                    handle.0,
                    ptr::null_mut(),
                    None,
                    ptr::null(),
                    dest,
                    payload.as_ptr().cast(),
                    request_len,
                    ptr::null(),
                    reply.as_mut_ptr().cast(),
                    reply_size,
                    timeout_ms,
                )
            }
        }
        SocketAddr::V6(v6) => {
            let source = sockaddr_in6(Ipv6Addr::UNSPECIFIED, 0);
            let dest = sockaddr_in6(*v6.ip(), v6.scope_id());
            // SAFETY: as above; both addresses live until the call returns.
            unsafe {
                Icmp6SendEcho2(
                    handle.0,
                    ptr::null_mut(),
                    None,
                    ptr::null(),
                    &source,
                    &dest,
                    payload.as_ptr().cast(),
                    request_len,
                    ptr::null(),
                    reply.as_mut_ptr().cast(),
                    reply_size,
                    timeout_ms,
                )
            }
        }
    };
    let elapsed = sent.elapsed();
    if replies == 0 {
        // SAFETY: no preconditions; read right after the failed call on this thread.
        return Ok(Echo::Failed(unsafe { GetLastError() }));
    }
    Ok(Echo::Replied(bytes_of(&reply, u64::to_ne_bytes), elapsed))
}

fn sockaddr_in6(ip: Ipv6Addr, scope_id: u32) -> SOCKADDR_IN6 {
    let mut a = SOCKADDR_IN6 {
        sin6_family: AF_INET6,
        ..Default::default()
    };
    a.sin6_addr.u.Byte = ip.octets();
    a.Anonymous.sin6_scope_id = scope_id;
    a
}
