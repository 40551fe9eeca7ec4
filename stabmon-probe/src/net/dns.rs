//! The DNS checker: the system resolver (timed on a thread of its own), or one query over UDP to a given server,
//! built and parsed here (an `A` question with recursion desired; the answer's RCODE decides the outcome).

use std::io;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr, UdpSocket};
use std::sync::atomic::{AtomicU16, Ordering};
use std::time::{Instant, SystemTime, UNIX_EPOCH};

use stabmon_core::{LatencyProbe, ProbeOutcome};

use super::{Clock, io_outcome, ms_since, resolve};

pub(super) fn probe_system(
    p: &mut LatencyProbe,
    clock: &Clock,
    name: &str,
) -> Result<(), ProbeOutcome> {
    // An IP literal would not be resolved at all; the target parser only lets names through, but be safe.
    if name.parse::<IpAddr>().is_ok() {
        return Err(ProbeOutcome::Other(format!(
            "{name} is an address, not a name to resolve"
        )));
    }
    let (_, dns_ms) = resolve(clock, name, 0)?;
    p.dns_ms = dns_ms;
    p.total_ms = dns_ms;
    Ok(())
}

pub(super) fn probe_server(
    p: &mut LatencyProbe,
    clock: &Clock,
    name: &str,
    host: &str,
    port: u16,
) -> Result<(), ProbeOutcome> {
    // The server is usually an address; a name is resolved first, and that resolution is not part of the figure.
    let (addrs, _) = resolve(clock, host, port)?;
    let Some(&server) = addrs.first() else {
        return Err(ProbeOutcome::DnsError(format!("{host} has no address")));
    };
    let local: SocketAddr = match server {
        SocketAddr::V4(_) => (Ipv4Addr::UNSPECIFIED, 0).into(),
        SocketAddr::V6(_) => (Ipv6Addr::UNSPECIFIED, 0).into(),
    };
    let sock = UdpSocket::bind(local).map_err(|e| io_outcome(&e, "open a UDP socket"))?;
    sock.connect(server)
        .map_err(|e| io_outcome(&e, &format!("connect a UDP socket to {server}")))?;
    let id = query_id();
    let query = build_query(id, name).map_err(ProbeOutcome::Other)?;
    let started = Instant::now();
    sock.send(&query)
        .map_err(|e| io_outcome(&e, &format!("send a DNS query to {server}")))?;
    let mut buf = [0u8; 4096];
    loop {
        let left = clock.remaining()?;
        sock.set_read_timeout(Some(left))
            .map_err(|e| io_outcome(&e, "set the UDP socket timeout"))?;
        let n = match sock.recv(&mut buf) {
            Ok(n) => n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            // ICMP port unreachable on a connected UDP socket: nothing listens there.
            Err(e) => return Err(io_outcome(&e, &format!("DNS query to {server}"))),
        };
        match parse_rcode(&buf[..n], id) {
            // Not an answer to this query (a late answer to an earlier one): keep waiting.
            None => continue,
            Some(rcode) => {
                let ms = ms_since(started);
                p.dns_ms = Some(ms);
                p.total_ms = Some(ms);
                return match rcode {
                    0 => Ok(()),
                    code => Err(ProbeOutcome::DnsError(format!(
                        "{} from {server} for {name}",
                        rcode_name(code)
                    ))),
                };
            }
        }
    }
}

static COUNTER: AtomicU16 = AtomicU16::new(0);

/// A query id that differs between queries and between runs.
fn query_id() -> u16 {
    let nanos = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.subsec_nanos())
        .unwrap_or_default();
    (nanos as u16) ^ ((nanos >> 16) as u16) ^ COUNTER.fetch_add(0x9e37, Ordering::Relaxed)
}

/// A standard query for the `A` records of `name`, recursion desired.
pub(crate) fn build_query(id: u16, name: &str) -> Result<Vec<u8>, String> {
    let mut q = Vec::with_capacity(18 + name.len());
    q.extend_from_slice(&id.to_be_bytes());
    q.extend_from_slice(&[0x01, 0x00]); // flags: RD
    q.extend_from_slice(&[0, 1, 0, 0, 0, 0, 0, 0]); // QDCOUNT 1, no other records
    for label in name.trim_end_matches('.').split('.') {
        let len = u8::try_from(label.len())
            .ok()
            .filter(|&l| (1..=63).contains(&l))
            .ok_or_else(|| format!("{name:?} has an empty or over-long label"))?;
        q.push(len);
        q.extend_from_slice(label.as_bytes());
    }
    q.push(0);
    q.extend_from_slice(&[0, 1, 0, 1]); // QTYPE A, QCLASS IN
    Ok(q)
}

/// The RCODE of a response to query `id`; `None` when the packet is not such a response.
pub(crate) fn parse_rcode(msg: &[u8], id: u16) -> Option<u8> {
    if msg.len() < 12 || u16::from_be_bytes([msg[0], msg[1]]) != id {
        return None;
    }
    let is_response = msg[2] & 0x80 != 0;
    is_response.then_some(msg[3] & 0x0f)
}

fn rcode_name(code: u8) -> String {
    match code {
        1 => "FORMERR (the server could not read the query)".into(),
        2 => "SERVFAIL".into(),
        3 => "NXDOMAIN (no such name)".into(),
        4 => "NOTIMP".into(),
        5 => "REFUSED".into(),
        other => format!("RCODE {other}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn query_packet_layout() {
        let q = build_query(0xabcd, "host.test.").unwrap_or_default();
        assert_eq!(&q[..4], &[0xab, 0xcd, 0x01, 0x00]);
        assert_eq!(&q[4..12], &[0, 1, 0, 0, 0, 0, 0, 0]);
        assert_eq!(&q[12..23], b"\x04host\x04test\x00");
        assert_eq!(&q[23..], &[0, 1, 0, 1]);
        assert!(build_query(1, "a..b").is_err());
    }

    #[test]
    fn rcode_of_matching_responses_only() {
        let mut r = build_query(7, "x").unwrap_or_default();
        // A query is not a response.
        assert_eq!(parse_rcode(&r, 7), None);
        r[2] |= 0x80;
        r[3] = 0x83;
        assert_eq!(parse_rcode(&r, 7), Some(3));
        assert_eq!(parse_rcode(&r, 8), None);
        assert_eq!(parse_rcode(&r[..5], 7), None);
        assert!(rcode_name(3).starts_with("NXDOMAIN"));
    }
}
