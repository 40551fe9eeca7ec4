//! The ICMP checker: one echo request and its reply, without administrator rights.
//!
//! - Unix (`socket`): an unprivileged ICMP datagram socket (Linux within `net.ipv4.ping_group_range`, macOS
//!   always), or a raw socket where only that is allowed; IPv4.
//! - Windows: the IP Helper API (`IcmpSendEcho2`, `Icmp6SendEcho2`), which any user may call; IPv4 and IPv6.

#[cfg(unix)]
mod socket;

use std::net::SocketAddr;

use stabmon_core::{LatencyProbe, ProbeOutcome};

use super::{Clock, resolve};

/// Whether this OS's checker can send ICMPv6 echoes.
const IPV6: bool = cfg!(windows);

/// Resolves `host`, picks its first IPv4 address (or, where supported, its first IPv6 address when it has no
/// IPv4 one) and sends one echo; records the resolution time and the round trip in `p`.
pub(super) fn probe(p: &mut LatencyProbe, clock: &Clock, host: &str) -> Result<(), ProbeOutcome> {
    let (addrs, dns_ms) = resolve(clock, host, 0)?;
    p.dns_ms = dns_ms;
    let Some(addr) = pick_address(&addrs, IPV6) else {
        return Err(ProbeOutcome::Other(if IPV6 {
            format!("{host} has no IP address to send an ICMP echo to")
        } else {
            format!("{host} has no IPv4 address; ICMP probes are IPv4 only on this OS")
        }));
    };
    echo(p, clock, addr)
}

/// The first IPv4 address, else (with `ipv6`) the first IPv6 address.
fn pick_address(addrs: &[SocketAddr], ipv6: bool) -> Option<SocketAddr> {
    addrs
        .iter()
        .find(|a| a.is_ipv4())
        .or_else(|| addrs.iter().find(|a| ipv6 && a.is_ipv6()))
        .copied()
}

#[cfg(unix)]
fn echo(p: &mut LatencyProbe, clock: &Clock, addr: SocketAddr) -> Result<(), ProbeOutcome> {
    match addr {
        SocketAddr::V4(v4) => socket::probe(p, clock, *v4.ip()),
        SocketAddr::V6(_) => Err(ProbeOutcome::Other(format!(
            "{addr}: ICMP probes are IPv4 only on this OS"
        ))),
    }
}

#[cfg(windows)]
fn echo(p: &mut LatencyProbe, clock: &Clock, addr: SocketAddr) -> Result<(), ProbeOutcome> {
    use super::iphlp::{self, IP_REQ_TIMED_OUT};
    use crate::windows::{Echo, icmp_echo};

    let ip = addr.ip();
    let left = clock.remaining()?;
    let echo = icmp_echo(addr, b"stabmon latency.", left)
        .map_err(|e| ProbeOutcome::Other(format!("cannot send an ICMP echo to {ip}: {e}")))?;
    match echo {
        Echo::Replied(buf, elapsed) => {
            let reply = if ip.is_ipv4() {
                iphlp::parse_echo_reply_v4(&buf)
            } else {
                iphlp::parse_echo_reply_v6(&buf)
            }
            .ok_or_else(|| {
                ProbeOutcome::Other(format!("ICMP echo to {ip}: reply buffer too short"))
            })?;
            iphlp::echo_outcome(reply.status, Some(reply.from), ip)?;
            p.total_ms = Some(stabmon_core::latency::duration_ms(elapsed));
            Ok(())
        }
        Echo::Failed(IP_REQ_TIMED_OUT) => Err(ProbeOutcome::Timeout),
        Echo::Failed(code) if (11000..12000).contains(&code) => iphlp::echo_outcome(code, None, ip),
        Echo::Failed(code) => Err(ProbeOutcome::Other(format!(
            "ICMP echo to {ip}: {}",
            std::io::Error::from_raw_os_error(code as i32)
        ))),
    }
}

#[cfg(not(any(unix, windows)))]
fn echo(_: &mut LatencyProbe, _: &Clock, _: SocketAddr) -> Result<(), ProbeOutcome> {
    Err(ProbeOutcome::Other(
        "ICMP probes are not available on this OS".to_owned(),
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ipv4_first_then_ipv6_where_supported() {
        use std::net::{Ipv4Addr, Ipv6Addr};
        let v6 = SocketAddr::from((Ipv6Addr::new(0x2001, 0xdb8, 0, 0, 0, 0, 0, 1), 0));
        let v4 = SocketAddr::from((Ipv4Addr::new(192, 0, 2, 1), 0));
        assert_eq!(pick_address(&[v6, v4], true), Some(v4));
        assert_eq!(pick_address(&[v6, v4], false), Some(v4));
        assert_eq!(pick_address(&[v6], true), Some(v6));
        assert_eq!(pick_address(&[v6], false), None);
        assert_eq!(pick_address(&[], true), None);
    }
}
