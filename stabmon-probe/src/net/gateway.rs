//! The default gateway and the `--net auto` preset.

use std::net::Ipv4Addr;

use crate::Error;

use super::Target;

/// The public HTTPS host of the `--net auto` preset (Cloudflare's 1.1.1.1 site: small, anycast, widely reachable).
pub const NET_AUTO_PUBLIC_URL: &str = "https://one.one.one.one/";
/// The name the `--net auto` preset resolves through the system resolver.
pub const NET_AUTO_DNS_NAME: &str = "one.one.one.one";

/// The default IPv4 gateway from the text of Linux's `/proc/net/route`: the `UG` route to `0.0.0.0/0` with the
/// lowest metric; `None` when there is none.
///
/// The kernel prints addresses as the hex of the in-memory (network order) 32-bit value in host byte order, so
/// `010200C0` is 192.0.2.1 on a little-endian machine.
pub fn parse_proc_net_route(text: &str) -> Option<Ipv4Addr> {
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

/// The gateway in the output of macOS's and the BSDs' `route -n get default` (a `gateway: 192.168.1.1` line).
pub fn parse_route_get(text: &str) -> Option<Ipv4Addr> {
    text.lines()
        .filter_map(|l| l.trim().strip_prefix("gateway:"))
        .find_map(|v| v.trim().parse().ok())
}

/// The default gateway in the output of Windows' `route print -4 0.0.0.0`: the `0.0.0.0 0.0.0.0 GATEWAY IFACE
/// METRIC` row with the lowest metric (rows whose gateway is `On-link` have none).
pub fn parse_route_print(text: &str) -> Option<Ipv4Addr> {
    text.lines()
        .filter_map(|l| {
            let f: Vec<&str> = l.split_whitespace().collect();
            match f.as_slice() {
                ["0.0.0.0", "0.0.0.0", gw, _iface, metric, ..] => {
                    Some((metric.parse::<u32>().ok()?, gw.parse::<Ipv4Addr>().ok()?))
                }
                _ => None,
            }
        })
        .min_by_key(|&(metric, _)| metric)
        .map(|(_, gw)| gw)
}

/// The default IPv4 gateway of this machine, `None` when it has none or it cannot be found.
///
/// Linux reads `/proc/net/route`; macOS and the BSDs run `route -n get default`, Windows `route print -4 0.0.0.0`
/// (both ship with the OS). Elsewhere, or when the command fails, this returns `None` and `--net auto` probes
/// the resolver and the public host only, and says so: add the router yourself with `--target gw=icmp://ROUTER`.
pub fn default_gateway() -> Result<Option<Ipv4Addr>, Error> {
    #[cfg(target_os = "linux")]
    {
        let path = "/proc/net/route";
        let text = std::fs::read_to_string(path).map_err(|e| Error::read(path, e))?;
        Ok(parse_proc_net_route(&text))
    }
    #[cfg(any(
        target_os = "macos",
        target_os = "freebsd",
        target_os = "openbsd",
        target_os = "netbsd"
    ))]
    {
        Ok(command_output("route", &["-n", "get", "default"]).and_then(|t| parse_route_get(&t)))
    }
    #[cfg(windows)]
    {
        Ok(
            command_output("route", &["print", "-4", "0.0.0.0"])
                .and_then(|t| parse_route_print(&t)),
        )
    }
    #[cfg(not(any(
        target_os = "linux",
        target_os = "macos",
        target_os = "freebsd",
        target_os = "openbsd",
        target_os = "netbsd",
        windows
    )))]
    {
        Ok(None)
    }
}

/// The standard output of a command that succeeded; `None` when it could not run or failed.
#[cfg(any(
    target_os = "macos",
    target_os = "freebsd",
    target_os = "openbsd",
    target_os = "netbsd",
    windows
))]
fn command_output(program: &str, args: &[&str]) -> Option<String> {
    let out = std::process::Command::new(program)
        .args(args)
        .output()
        .ok()?;
    out.status
        .success()
        .then(|| String::from_utf8_lossy(&out.stdout).into_owned())
}

/// The targets of the `--net auto` preset, and notes for the log.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct NetAuto {
    /// `gateway=icmp://GW` when a default gateway is known, `dns=dns://one.one.one.one` (the system resolver) and
    /// `internet=https://one.one.one.one/`.
    pub targets: Vec<Target>,
    /// What could not be set up, and why (no gateway found, ...).
    pub notes: Vec<String>,
}

/// The `--net auto` preset for a real machine: the default gateway (ICMP, which routers answer when they answer
/// nothing else), the system DNS resolver, and one public HTTPS host, so that a degradation can be placed at the
/// LAN, the resolver or beyond. This sends traffic off the machine: only call it when the user asks.
pub fn net_auto_targets() -> NetAuto {
    let mut targets = Vec::new();
    let mut notes = Vec::new();
    match default_gateway() {
        Ok(Some(gw)) => match Target::new("gateway", &format!("icmp://{gw}")) {
            Ok(t) => targets.push(t),
            Err(e) => notes.push(e.to_string()),
        },
        Ok(None) => notes.push(
            "no default gateway found (or not discoverable on this OS): add it with --target gw=icmp://ROUTER"
                .to_owned(),
        ),
        Err(e) => notes.push(format!("cannot find the default gateway: {e}")),
    }
    for (name, url) in [
        ("dns", format!("dns://{NET_AUTO_DNS_NAME}")),
        ("internet", NET_AUTO_PUBLIC_URL.to_owned()),
    ] {
        match Target::new(name, &url) {
            Ok(t) => targets.push(t),
            Err(e) => notes.push(e.to_string()),
        }
    }
    NetAuto { targets, notes }
}

#[cfg(test)]
mod tests {
    use super::*;

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
    fn gateway_from_route_get_on_macos() {
        let text = "   route to: default\ndestination: default\n       mask: default\n    gateway: 192.168.1.1\n  \
                    interface: en0\n      flags: <UP,GATEWAY,DONE,STATIC,PRCLONING,GLOBAL>\n";
        assert_eq!(parse_route_get(text), Some(Ipv4Addr::new(192, 168, 1, 1)));
        assert_eq!(
            parse_route_get("route: writing to routing socket: not in table\n"),
            None
        );
        // A gateway that is a link, not an address.
        assert_eq!(parse_route_get("    gateway: link#12\n"), None);
    }

    #[test]
    fn gateway_from_route_print_on_windows() {
        let text = "IPv4 Route Table\n\
            ===========================================================================\n\
            Active Routes:\n\
            Network Destination        Netmask          Gateway       Interface  Metric\n\
                      0.0.0.0          0.0.0.0      192.168.1.1    192.168.1.23     35\n\
                      0.0.0.0          0.0.0.0         10.0.0.1        10.0.0.7     25\n\
                      0.0.0.0          0.0.0.0         On-link       10.8.0.2      5\n\
            ===========================================================================\n\
            Persistent Routes:\n  None\n";
        assert_eq!(parse_route_print(text), Some(Ipv4Addr::new(10, 0, 0, 1)));
        assert_eq!(parse_route_print("Active Routes:\n  None\n"), None);
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
