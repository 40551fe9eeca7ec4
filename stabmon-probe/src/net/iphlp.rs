//! Decoders for what Windows' IP Helper API writes into our buffers: the IPv4 route table of
//! `GetIpForwardTable` and the echo replies of `IcmpSendEcho2` and `Icmp6SendEcho2`.
//!
//! They work on plain bytes, laid out as the structures of the Windows SDK (`MIB_IPFORWARDTABLE`,
//! `ICMP_ECHO_REPLY`, `ICMPV6_ECHO_REPLY`): the system calls themselves (in `crate::windows`) only run on Windows,
//! these run and are tested everywhere. Windows is little-endian on every architecture it runs on; addresses are
//! kept in network order, as the bytes of the address.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use stabmon_core::ProbeOutcome;

// Where the fields read here lie in the SDK's structures; `crate::windows` checks every one of them against the
// structures of windows-sys at compile time.
/// The size of one `MIB_IPFORWARDROW`: fourteen `DWORD`s.
pub(crate) const FORWARD_ROW_BYTES: usize = 56;
/// `MIB_IPFORWARDROW.dwForwardDest`, `dwForwardMask`, `dwForwardNextHop`, `dwForwardType`, `dwForwardMetric1`.
pub(crate) const ROW_DEST: usize = 0;
pub(crate) const ROW_MASK: usize = 4;
pub(crate) const ROW_NEXT_HOP: usize = 12;
pub(crate) const ROW_TYPE: usize = 20;
pub(crate) const ROW_METRIC1: usize = 36;
/// `MIB_IPFORWARDTABLE.table`, after the `DWORD` count.
pub(crate) const TABLE_ROWS: usize = 4;
/// `ICMP_ECHO_REPLY.Address` and `.Status`.
pub(crate) const V4_ADDRESS: usize = 0;
pub(crate) const V4_STATUS: usize = 4;
/// `ICMPV6_ECHO_REPLY.Address.sin6_addr` and `.Status`.
pub(crate) const V6_ADDRESS: usize = 6;
pub(crate) const V6_STATUS: usize = 28;
/// `MIB_IPROUTE_TYPE_INDIRECT`: a route through a gateway (a `DIRECT` route is on-link).
pub(crate) const ROUTE_TYPE_INDIRECT: u32 = 4;

/// `IP_SUCCESS`.
const IP_SUCCESS: u32 = 0;
/// `IP_REQ_TIMED_OUT`: no reply within the timeout.
pub(crate) const IP_REQ_TIMED_OUT: u32 = 11010;

fn u32_at(bytes: &[u8], offset: usize) -> Option<u32> {
    let b = bytes.get(offset..offset.checked_add(4)?)?;
    Some(u32::from_le_bytes([b[0], b[1], b[2], b[3]]))
}

fn ipv4_at(bytes: &[u8], offset: usize) -> Option<Ipv4Addr> {
    let b = bytes.get(offset..offset.checked_add(4)?)?;
    Some(Ipv4Addr::new(b[0], b[1], b[2], b[3]))
}

/// The default IPv4 gateway in a `MIB_IPFORWARDTABLE` (a `DWORD` count, then the rows): the next hop of the
/// indirect route to `0.0.0.0/0` with the lowest metric; `None` when there is none. A count larger than the rows
/// present is cut to the rows present.
pub(crate) fn parse_ip_forward_table(table: &[u8]) -> Option<Ipv4Addr> {
    let count = usize::try_from(u32_at(table, 0)?).ok()?;
    table
        .get(TABLE_ROWS..)?
        .chunks_exact(FORWARD_ROW_BYTES)
        .take(count)
        .filter_map(|row| {
            // dwForwardDest, dwForwardMask, dwForwardPolicy, dwForwardNextHop, dwForwardIfIndex, dwForwardType,
            // dwForwardProto, dwForwardAge, dwForwardNextHopAS, dwForwardMetric1..5.
            let dest = ipv4_at(row, ROW_DEST)?;
            let mask = ipv4_at(row, ROW_MASK)?;
            let next_hop = ipv4_at(row, ROW_NEXT_HOP)?;
            let route_type = u32_at(row, ROW_TYPE)?;
            let metric = u32_at(row, ROW_METRIC1)?;
            let default_route = dest.is_unspecified() && mask.is_unspecified();
            (default_route && route_type == ROUTE_TYPE_INDIRECT && !next_hop.is_unspecified())
                .then_some((metric, next_hop))
        })
        .min_by_key(|&(metric, _)| metric)
        .map(|(_, gw)| gw)
}

/// The first echo reply in a reply buffer: who answered and the `IP_STATUS` of the reply.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct EchoReply {
    /// The address that sent the reply (the target, or a router reporting an error).
    pub(crate) from: IpAddr,
    /// `IP_SUCCESS` (0) or an `IP_*` error status.
    pub(crate) status: u32,
}

/// The first `ICMP_ECHO_REPLY` of `IcmpSendEcho2`'s buffer: `Address` (network order), `Status`, then the round
/// trip, sizes and pointers, which are not needed.
pub(crate) fn parse_echo_reply_v4(buf: &[u8]) -> Option<EchoReply> {
    Some(EchoReply {
        from: IpAddr::V4(ipv4_at(buf, V4_ADDRESS)?),
        status: u32_at(buf, V4_STATUS)?,
    })
}

/// The first `ICMPV6_ECHO_REPLY` of `Icmp6SendEcho2`'s buffer: a packed `IPV6_ADDRESS_EX` (port, flow info,
/// the address at offset 6, scope id) padded to 28 bytes, then `Status`.
pub(crate) fn parse_echo_reply_v6(buf: &[u8]) -> Option<EchoReply> {
    let addr: [u8; 16] = buf.get(V6_ADDRESS..V6_ADDRESS + 16)?.try_into().ok()?;
    Some(EchoReply {
        from: IpAddr::V6(Ipv6Addr::from(addr)),
        status: u32_at(buf, V6_STATUS)?,
    })
}

/// What an echo's `IP_STATUS` means for the probe of `target`.
pub(crate) fn echo_outcome(
    status: u32,
    from: Option<IpAddr>,
    target: IpAddr,
) -> Result<(), ProbeOutcome> {
    let why = match status {
        IP_SUCCESS => return Ok(()),
        IP_REQ_TIMED_OUT => return Err(ProbeOutcome::Timeout),
        11002 => "destination network unreachable",
        11003 => "destination host unreachable",
        11004 => "destination prohibited",
        11005 => "destination port unreachable",
        11013 => "time to live exceeded in transit",
        11014 => "time to live exceeded during reassembly",
        11018 => "bad destination",
        11040 => "destination unreachable",
        11045 => "destination scope mismatch",
        11050 => "general failure",
        _ => "",
    };
    let by = match from {
        Some(ip) if ip != target && !ip.is_unspecified() => format!(" (reported by {ip})"),
        _ => String::new(),
    };
    Err(ProbeOutcome::Other(if why.is_empty() {
        format!("ICMP echo to {target}: IP status {status}{by}")
    } else {
        format!("ICMP echo to {target}: {why} (IP status {status}){by}")
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// One `MIB_IPFORWARDROW`, as Windows lays it out.
    fn row(
        dest: [u8; 4],
        mask: [u8; 4],
        next_hop: [u8; 4],
        route_type: u32,
        metric: u32,
    ) -> Vec<u8> {
        let mut r = Vec::new();
        r.extend_from_slice(&dest);
        r.extend_from_slice(&mask);
        r.extend_from_slice(&0u32.to_le_bytes()); // policy
        r.extend_from_slice(&next_hop);
        r.extend_from_slice(&7u32.to_le_bytes()); // interface index
        r.extend_from_slice(&route_type.to_le_bytes());
        r.extend_from_slice(&3u32.to_le_bytes()); // protocol: MIB_IPPROTO_NETMGMT
        r.extend_from_slice(&1234u32.to_le_bytes()); // age
        r.extend_from_slice(&0u32.to_le_bytes()); // next hop AS
        r.extend_from_slice(&metric.to_le_bytes());
        for _ in 0..4 {
            r.extend_from_slice(&u32::MAX.to_le_bytes()); // unused metrics
        }
        assert_eq!(r.len(), FORWARD_ROW_BYTES);
        r
    }

    fn table(rows: &[Vec<u8>]) -> Vec<u8> {
        let mut t = (rows.len() as u32).to_le_bytes().to_vec();
        for r in rows {
            t.extend_from_slice(r);
        }
        t
    }

    #[test]
    fn default_gateway_is_the_lowest_metric_indirect_default_route() {
        let t = table(&[
            // 192.168.1.0/24 on-link, then two default routes, then a VPN's on-link default route.
            row(
                [192, 168, 1, 0],
                [255, 255, 255, 0],
                [192, 168, 1, 23],
                3,
                1,
            ),
            row([0; 4], [0; 4], [192, 168, 1, 1], ROUTE_TYPE_INDIRECT, 35),
            row([0; 4], [0; 4], [10, 0, 0, 1], ROUTE_TYPE_INDIRECT, 25),
            row([0; 4], [0; 4], [10, 8, 0, 2], 3, 5),
            // A host route through a gateway is not a default route.
            row(
                [10, 9, 9, 9],
                [255; 4],
                [10, 0, 0, 254],
                ROUTE_TYPE_INDIRECT,
                1,
            ),
        ]);
        assert_eq!(parse_ip_forward_table(&t), Some(Ipv4Addr::new(10, 0, 0, 1)));
    }

    #[test]
    fn route_tables_without_a_default_route_or_cut_short() {
        let on_link = row(
            [192, 168, 1, 0],
            [255, 255, 255, 0],
            [192, 168, 1, 23],
            3,
            1,
        );
        assert_eq!(
            parse_ip_forward_table(&table(std::slice::from_ref(&on_link))),
            None
        );
        assert_eq!(parse_ip_forward_table(&table(&[])), None);
        assert_eq!(parse_ip_forward_table(&[]), None);
        assert_eq!(parse_ip_forward_table(&[1, 0]), None);
        // A default route whose next hop is 0.0.0.0 has no gateway.
        let no_hop = row([0; 4], [0; 4], [0; 4], ROUTE_TYPE_INDIRECT, 1);
        assert_eq!(parse_ip_forward_table(&table(&[no_hop])), None);
        // The count says two rows, the buffer holds one and a half: only the whole row is read.
        let gw = row([0; 4], [0; 4], [192, 0, 2, 1], ROUTE_TYPE_INDIRECT, 10);
        let mut t = table(std::slice::from_ref(&gw));
        t[0] = 2;
        t.extend_from_slice(&gw[..30]);
        assert_eq!(
            parse_ip_forward_table(&t),
            Some(Ipv4Addr::new(192, 0, 2, 1))
        );
        // The count wins over rows beyond it.
        let mut t = table(&[on_link, gw]);
        t[0] = 1;
        assert_eq!(parse_ip_forward_table(&t), None);
    }

    #[test]
    fn echo_replies_of_both_families() {
        // An ICMP_ECHO_REPLY on 64-bit Windows: Address, Status, RoundTripTime, DataSize, Reserved, Data
        // (a pointer), Options; then the echoed data.
        let mut v4 = vec![192, 0, 2, 7];
        v4.extend_from_slice(&0u32.to_le_bytes());
        v4.extend_from_slice(&3u32.to_le_bytes());
        v4.extend_from_slice(&16u16.to_le_bytes());
        v4.extend_from_slice(&[0; 2 + 8 + 16]);
        v4.extend_from_slice(b"0123456789abcdef");
        assert_eq!(
            parse_echo_reply_v4(&v4),
            Some(EchoReply {
                from: IpAddr::V4(Ipv4Addr::new(192, 0, 2, 7)),
                status: IP_SUCCESS
            })
        );
        assert_eq!(parse_echo_reply_v4(&v4[..7]), None);

        // An ICMPV6_ECHO_REPLY: port, flow info, address, scope id (26 packed bytes), 2 bytes of padding, Status,
        // RoundTripTime.
        let addr = Ipv6Addr::new(0x2001, 0xdb8, 0, 0, 0, 0, 0, 1);
        let mut v6 = Vec::new();
        v6.extend_from_slice(&0u16.to_le_bytes());
        v6.extend_from_slice(&0u32.to_le_bytes());
        v6.extend_from_slice(&addr.octets());
        v6.extend_from_slice(&0u32.to_le_bytes());
        v6.extend_from_slice(&[0; 2]);
        v6.extend_from_slice(&11003u32.to_le_bytes());
        v6.extend_from_slice(&0u32.to_le_bytes());
        assert_eq!(v6.len(), 36);
        assert_eq!(
            parse_echo_reply_v6(&v6),
            Some(EchoReply {
                from: IpAddr::V6(addr),
                status: 11003
            })
        );
        assert_eq!(parse_echo_reply_v6(&v6[..31]), None);
    }

    #[test]
    fn statuses_become_outcomes() {
        let target = IpAddr::V4(Ipv4Addr::new(192, 0, 2, 7));
        let router = IpAddr::V4(Ipv4Addr::new(192, 0, 2, 1));
        assert_eq!(echo_outcome(IP_SUCCESS, Some(target), target), Ok(()));
        assert_eq!(
            echo_outcome(IP_REQ_TIMED_OUT, None, target),
            Err(ProbeOutcome::Timeout)
        );
        assert_eq!(
            echo_outcome(11003, Some(router), target),
            Err(ProbeOutcome::Other(
                "ICMP echo to 192.0.2.7: destination host unreachable (IP status 11003) (reported by 192.0.2.1)"
                    .into()
            ))
        );
        assert_eq!(
            echo_outcome(11999, None, target),
            Err(ProbeOutcome::Other(
                "ICMP echo to 192.0.2.7: IP status 11999".into()
            ))
        );
    }
}
