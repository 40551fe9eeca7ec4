//! ICMP on Unix: an echo request and its reply, over an unprivileged ICMP datagram socket
//! (`socket(AF_INET, SOCK_DGRAM, IPPROTO_ICMP)`: Linux within `net.ipv4.ping_group_range`, macOS always), with a
//! raw socket as the fallback where the datagram kind is refused but the process may open raw sockets (root, or
//! `CAP_NET_RAW`). When neither is allowed the probe says so in an [`Other`](ProbeOutcome::Other) outcome.

use std::io::{self, Read};
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::sync::atomic::{AtomicU16, Ordering};
use std::time::{Instant, SystemTime, UNIX_EPOCH};

use socket2::{Domain, Protocol, Socket, Type};
use stabmon_core::{LatencyProbe, ProbeOutcome};

use crate::net::{Clock, io_outcome, ms_since};

const ECHO_REQUEST: u8 = 8;
const ECHO_REPLY: u8 = 0;
const PAYLOAD_LEN: usize = 16;

static SEQUENCE: AtomicU16 = AtomicU16::new(1);

/// What the OS lets us open.
enum Kind {
    /// The kernel picks the identifier and strips the IP header (Linux); macOS keeps the IP header.
    Datagram,
    /// We pick the identifier and see every ICMP packet the host receives, with its IP header.
    Raw,
}

fn open() -> Result<(Socket, Kind), ProbeOutcome> {
    let dgram = match Socket::new(Domain::IPV4, Type::DGRAM, Some(Protocol::ICMPV4)) {
        Ok(s) => return Ok((s, Kind::Datagram)),
        Err(e) => e,
    };
    if let Ok(s) = Socket::new(Domain::IPV4, Type::RAW, Some(Protocol::ICMPV4)) {
        return Ok((s, Kind::Raw));
    }
    Err(ProbeOutcome::Other(match dgram.kind() {
        io::ErrorKind::PermissionDenied => not_permitted_message(),
        _ => format!("cannot open an ICMP socket: {dgram}"),
    }))
}

#[cfg(target_os = "linux")]
fn not_permitted_message() -> String {
    // SAFETY: getgid has no preconditions and cannot fail.
    let gid = unsafe { libc::getgid() };
    format!(
        "ICMP datagram sockets not permitted (net.ipv4.ping_group_range does not include group {gid}; \
         allow it with: sysctl -w net.ipv4.ping_group_range=\"0 2147483647\"), and raw sockets need root or \
         CAP_NET_RAW"
    )
}

#[cfg(not(target_os = "linux"))]
fn not_permitted_message() -> String {
    "ICMP sockets not permitted by the OS (neither datagram nor raw)".to_owned()
}

/// One echo to `ip`; records the round trip in `p`.
pub(super) fn probe(p: &mut LatencyProbe, clock: &Clock, ip: Ipv4Addr) -> Result<(), ProbeOutcome> {
    let (sock, kind) = open()?;
    let addr = SocketAddr::new(IpAddr::V4(ip), 0);
    sock.connect(&addr.into())
        .map_err(|e| io_outcome(&e, &format!("connect an ICMP socket to {ip}")))?;

    let seq = SEQUENCE.fetch_add(1, Ordering::Relaxed);
    let ident = (std::process::id() as u16) ^ 0x5354;
    let nanos = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_nanos())
        .unwrap_or_default();
    let mut payload = [0u8; PAYLOAD_LEN];
    payload.copy_from_slice(&nanos.to_be_bytes()[..PAYLOAD_LEN]);
    let packet = echo_request(ident, seq, &payload);

    let sent = Instant::now();
    sock.send(&packet)
        .map_err(|e| io_outcome(&e, &format!("send an ICMP echo to {ip}")))?;
    let mut buf = [0u8; 1500];
    loop {
        let left = clock.remaining()?;
        sock.set_read_timeout(Some(left))
            .map_err(|e| io_outcome(&e, "set the ICMP socket timeout"))?;
        let n = match (&sock).read(&mut buf) {
            Ok(n) => n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) => {
                return Err(match io_outcome(&e, &format!("ICMP echo to {ip}")) {
                    // Unreachable host or network, reported by the kernel on a connected socket.
                    ProbeOutcome::Refused => ProbeOutcome::Other(format!("ICMP echo to {ip}: {e}")),
                    o => o,
                });
            }
        };
        let icmp = strip_ip_header(&buf[..n]);
        let want_ident = match kind {
            Kind::Raw => Some(ident),
            // The kernel rewrites the identifier of a datagram socket; the sequence and payload still match.
            Kind::Datagram => None,
        };
        if is_our_reply(icmp, want_ident, seq, &payload) {
            p.total_ms = Some(ms_since(sent));
            return Ok(());
        }
    }
}

/// An ICMP echo request with its checksum.
fn echo_request(ident: u16, seq: u16, payload: &[u8]) -> Vec<u8> {
    let mut pkt = Vec::with_capacity(8 + payload.len());
    pkt.extend_from_slice(&[ECHO_REQUEST, 0, 0, 0]);
    pkt.extend_from_slice(&ident.to_be_bytes());
    pkt.extend_from_slice(&seq.to_be_bytes());
    pkt.extend_from_slice(payload);
    let sum = checksum(&pkt);
    pkt[2..4].copy_from_slice(&sum.to_be_bytes());
    pkt
}

/// The Internet checksum (RFC 1071).
fn checksum(data: &[u8]) -> u16 {
    let mut sum: u32 = data
        .chunks(2)
        .map(|c| u32::from(u16::from_be_bytes([c[0], c.get(1).copied().unwrap_or(0)])))
        .sum();
    while sum >> 16 != 0 {
        sum = (sum & 0xffff) + (sum >> 16);
    }
    !(sum as u16)
}

/// The ICMP part of a packet: raw sockets (and macOS datagram sockets) deliver the IPv4 header too.
fn strip_ip_header(pkt: &[u8]) -> &[u8] {
    match pkt.first() {
        Some(b) if b >> 4 == 4 => {
            let ihl = usize::from(b & 0x0f) * 4;
            pkt.get(ihl..).unwrap_or_default()
        }
        _ => pkt,
    }
}

fn is_our_reply(icmp: &[u8], ident: Option<u16>, seq: u16, payload: &[u8]) -> bool {
    if icmp.len() < 8 + payload.len() || icmp[0] != ECHO_REPLY || icmp[1] != 0 {
        return false;
    }
    let got_ident = u16::from_be_bytes([icmp[4], icmp[5]]);
    let got_seq = u16::from_be_bytes([icmp[6], icmp[7]]);
    ident.is_none_or(|i| i == got_ident) && got_seq == seq && &icmp[8..8 + payload.len()] == payload
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn checksum_of_an_echo_request_verifies() {
        let pkt = echo_request(0x1234, 7, b"abcdefghijklmnop");
        assert_eq!(pkt.len(), 24);
        assert_eq!(pkt[0], ECHO_REQUEST);
        // A packet with its checksum in place sums to zero.
        assert_eq!(checksum(&pkt), 0);
        // Odd length.
        assert_eq!(checksum(&[0xff]), !0xff00);
    }

    #[test]
    fn replies_are_matched_by_sequence_and_payload() {
        let payload = *b"0123456789abcdef";
        let mut reply = echo_request(0x1234, 9, &payload);
        reply[0] = ECHO_REPLY;
        assert!(is_our_reply(&reply, Some(0x1234), 9, &payload));
        assert!(is_our_reply(&reply, None, 9, &payload));
        assert!(!is_our_reply(&reply, Some(0x9999), 9, &payload));
        assert!(!is_our_reply(&reply, None, 10, &payload));
        assert!(!is_our_reply(&reply, None, 9, b"0123456789abcdeX"));
        // Our own request seen on a raw socket is not a reply.
        let req = echo_request(0x1234, 9, &payload);
        assert!(!is_our_reply(&req, Some(0x1234), 9, &payload));
        // With an IPv4 header in front (raw sockets, macOS).
        let mut with_ip = vec![0x45u8; 1];
        with_ip.extend_from_slice(&[0; 19]);
        with_ip.extend_from_slice(&reply);
        assert!(is_our_reply(strip_ip_header(&with_ip), None, 9, &payload));
    }
}
