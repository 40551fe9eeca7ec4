//! The default gateway and the `--net auto` preset.

use std::net::Ipv4Addr;

use crate::Error;

use super::Target;

/// The public HTTPS host of the `--net auto` preset (Cloudflare's 1.1.1.1 site: small, anycast, widely reachable).
pub(crate) const NET_AUTO_PUBLIC_URL: &str = "https://one.one.one.one/";
/// The name the `--net auto` preset resolves through the system resolver.
pub(crate) const NET_AUTO_DNS_NAME: &str = "one.one.one.one";

/// The gateway in the output of macOS's and the BSDs' `route -n get default` (a `gateway: 192.168.1.1` line).
#[cfg(any(
    target_os = "macos",
    target_os = "freebsd",
    target_os = "openbsd",
    target_os = "netbsd",
    test
))]
pub(crate) fn parse_route_get(text: &str) -> Option<Ipv4Addr> {
    text.lines()
        .filter_map(|l| l.trim().strip_prefix("gateway:"))
        .find_map(|v| v.trim().parse().ok())
}

/// The default IPv4 gateway of this machine, `None` when it has none or it cannot be found.
///
/// Linux reads `/proc/net/route` and Windows asks the IP Helper API for the route table (`GetIpForwardTable`):
/// the default route with the lowest metric wins. macOS and the BSDs run `route -n get default` (which ships with
/// the OS) and take the route the kernel picks. A route table that cannot be read is an error; elsewhere, or when
/// `route` fails, this returns `None` and `--net auto` probes the resolver and the public host only, and says so:
/// add the router yourself with `--target gw=icmp://ROUTER`.
pub fn default_gateway() -> Result<Option<Ipv4Addr>, Error> {
    #[cfg(target_os = "linux")]
    {
        crate::linux::default_gateway()
    }
    #[cfg(any(
        target_os = "macos",
        target_os = "freebsd",
        target_os = "openbsd",
        target_os = "netbsd"
    ))]
    {
        let out = std::process::Command::new("route")
            .args(["-n", "get", "default"])
            .output();
        Ok(out.ok().and_then(|out| {
            out.status
                .success()
                .then(|| parse_route_get(&String::from_utf8_lossy(&out.stdout)))
                .flatten()
        }))
    }
    #[cfg(windows)]
    {
        Ok(crate::windows::ip_forward_table()?
            .and_then(|table| super::iphlp::parse_ip_forward_table(&table)))
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
}
