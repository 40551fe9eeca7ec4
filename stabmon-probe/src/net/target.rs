//! Latency targets: `NAME=URL` parsing.

use std::fmt;
use std::net::{IpAddr, Ipv6Addr};
use std::str::FromStr;

use crate::Error;

/// What a [`Target`] probes, parsed from its URL.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum TargetKind {
    /// `http://host[:port][/path]` or `https://...`: a `HEAD` request; DNS, connect, TLS, first byte and total.
    Http {
        /// `https`: the request goes over TLS.
        tls: bool,
        /// The host name or IP address (IPv6 without brackets).
        host: String,
        /// The port: given, or 80 (http) / 443 (https).
        port: u16,
        /// The path and query sent in the request line, `/` when none was given.
        path: String,
    },
    /// `tcp://host:port`: the time to connect.
    Tcp {
        /// The host name or IP address.
        host: String,
        /// The port.
        port: u16,
    },
    /// `icmp://host`: an ICMP echo round trip (IPv4; on Windows also IPv6, for a host without an IPv4 address).
    Icmp {
        /// The host name or IP address.
        host: String,
    },
    /// `dns://name` (the system resolver) or `dns://name@host[:port]` (ask that DNS server over UDP; port 53 by
    /// default): the time to resolve `name`.
    Dns {
        /// The name to resolve.
        name: String,
        /// The DNS server to ask directly, as host and port; `None` for the system resolver.
        server: Option<(String, u16)>,
    },
}

/// A named latency target, parsed from `NAME=URL` (see [`Target::parse`]).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Target {
    name: String,
    url: String,
    kind: TargetKind,
}

impl Target {
    /// A target named `name` probing `url`; see [`Target::parse`] for the URLs accepted.
    pub fn new(name: &str, url: &str) -> Result<Self, Error> {
        let input = format!("{name}={url}");
        let bad = |reason: String| Error::InvalidTarget {
            target: input.clone(),
            reason,
        };
        check_name(name).map_err(bad)?;
        let kind = parse_url(url.trim()).map_err(bad)?;
        Ok(Target {
            name: name.to_owned(),
            url: url.trim().to_owned(),
            kind,
        })
    }

    /// Parses `NAME=URL`, with URLs:
    ///
    /// - `http://host[:port][/path]` and `https://host[:port][/path]`: a `HEAD` request;
    /// - `tcp://host:port`: connect time;
    /// - `icmp://host`: ICMP echo round trip;
    /// - `dns://name`: resolution by the system resolver; `dns://name@host[:port]`: a UDP query to that server.
    ///
    /// Hosts are names, IPv4 addresses or bracketed IPv6 addresses (`[::1]`). The name is 1 to 64 letters, digits,
    /// `-`, `_` or `.`. A missing name, an unknown scheme, a bad port or an empty host is an
    /// [`Error::InvalidTarget`] naming the input.
    ///
    /// ```
    /// use stabmon_probe::{Target, TargetKind};
    ///
    /// let t = Target::parse("gw=icmp://192.168.1.1")?;
    /// assert_eq!(t.name(), "gw");
    /// assert!(matches!(t.kind(), TargetKind::Icmp { host } if host == "192.168.1.1"));
    /// assert!(Target::parse("=https://example.com").is_err());
    /// assert!(Target::parse("x=ftp://example.com").is_err());
    /// # Ok::<(), stabmon_probe::Error>(())
    /// ```
    pub fn parse(input: &str) -> Result<Self, Error> {
        match input.split_once('=') {
            Some((name, url)) => Target::new(name.trim(), url),
            None => Err(Error::InvalidTarget {
                target: input.to_owned(),
                reason:
                    "expected NAME=URL, such as gw=icmp://192.168.1.1 or web=https://example.com/"
                        .into(),
            }),
        }
    }

    /// The target's name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The URL as given.
    pub fn url(&self) -> &str {
        &self.url
    }

    /// What is probed.
    pub fn kind(&self) -> &TargetKind {
        &self.kind
    }
}

impl FromStr for Target {
    type Err = Error;

    /// Same as [`Target::parse`].
    fn from_str(s: &str) -> Result<Self, Error> {
        Target::parse(s)
    }
}

impl fmt::Display for Target {
    /// `NAME=URL`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}={}", self.name, self.url)
    }
}

fn check_name(name: &str) -> Result<(), String> {
    if name.is_empty() {
        return Err("the name is missing; write NAME=URL, such as gw=icmp://192.168.1.1".into());
    }
    if name.len() > 64 {
        return Err("the name is longer than 64 characters".into());
    }
    if let Some(c) = name
        .chars()
        .find(|c| !(c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.')))
    {
        return Err(format!(
            "the name contains {c:?}; use letters, digits, '-', '_' or '.'"
        ));
    }
    Ok(())
}

const SCHEMES: &str =
    "use http://, https://, tcp://host:port, icmp://host, dns://name or dns://name@host:port";

fn parse_url(url: &str) -> Result<TargetKind, String> {
    let Some((scheme, rest)) = url.split_once("://") else {
        return Err(if url.is_empty() {
            format!("the URL is missing; {SCHEMES}")
        } else {
            format!("{url:?} has no scheme; {SCHEMES}")
        });
    };
    match scheme.to_ascii_lowercase().as_str() {
        s @ ("http" | "https") => {
            let tls = s == "https";
            let rest = rest.split('#').next().unwrap_or_default();
            let (authority, path) = match rest.find(['/', '?']) {
                Some(i) if rest[i..].starts_with('/') => (&rest[..i], rest[i..].to_owned()),
                Some(i) => (&rest[..i], format!("/{}", &rest[i..])),
                None => (rest, "/".to_owned()),
            };
            if authority.contains('@') {
                return Err("credentials in the URL are not supported".into());
            }
            let (host, port) = host_port(authority, Some(if tls { 443 } else { 80 }))?;
            if path
                .chars()
                .any(|c| c.is_ascii_whitespace() || c.is_ascii_control())
            {
                return Err("the path contains spaces or control characters".into());
            }
            Ok(TargetKind::Http {
                tls,
                host,
                port,
                path,
            })
        }
        "tcp" => {
            let (host, port) = host_port(no_path(rest)?, None)?;
            Ok(TargetKind::Tcp { host, port })
        }
        "icmp" => {
            let authority = no_path(rest)?;
            let (host, port) = host_port(authority, Some(0))?;
            if port != 0 || authority.ends_with(':') {
                return Err("ICMP has no ports; write icmp://host".into());
            }
            Ok(TargetKind::Icmp { host })
        }
        "dns" => {
            let rest = no_path(rest)?;
            let (name, server) = match rest.split_once('@') {
                Some((name, server)) => (name, Some(host_port(server, Some(53))?)),
                None => (rest, None),
            };
            check_dns_name(name)?;
            Ok(TargetKind::Dns {
                name: name.to_owned(),
                server,
            })
        }
        other => Err(format!("unknown scheme {other:?}; {SCHEMES}")),
    }
}

/// The part before any path; a trailing `/` alone is allowed.
fn no_path(rest: &str) -> Result<&str, String> {
    let authority = rest.strip_suffix('/').unwrap_or(rest);
    if authority.contains(['/', '?', '#']) {
        return Err("this scheme takes no path".into());
    }
    Ok(authority)
}

/// Splits `host[:port]` or `[v6][:port]`; `default_port` `None` means the port is required.
fn host_port(authority: &str, default_port: Option<u16>) -> Result<(String, u16), String> {
    let (host, port) = if let Some(rest) = authority.strip_prefix('[') {
        let Some((v6, after)) = rest.split_once(']') else {
            return Err(format!("{authority:?}: '[' without a closing ']'"));
        };
        if v6.parse::<Ipv6Addr>().is_err() {
            return Err(format!("{v6:?} is not an IPv6 address"));
        }
        let port = match after {
            "" => None,
            p => Some(
                p.strip_prefix(':')
                    .ok_or_else(|| format!("unexpected {p:?} after the IPv6 address"))?,
            ),
        };
        (v6, port)
    } else {
        match authority.split_once(':') {
            Some((h, p)) => (h, Some(p)),
            None => (authority, None),
        }
    };
    if host.is_empty() {
        return Err("the host is empty".into());
    }
    if !authority.starts_with('[') && host.parse::<IpAddr>().is_err() {
        check_dns_name(host).map_err(|e| format!("bad host: {e}"))?;
    }
    let port = match (port, default_port) {
        (Some(p), _) => parse_port(p)?,
        (None, Some(d)) => d,
        (None, None) => return Err(format!("the port is missing; write {host}:PORT")),
    };
    Ok((host.to_owned(), port))
}

fn parse_port(p: &str) -> Result<u16, String> {
    if p.is_empty() {
        return Err("the port is empty".into());
    }
    match p.parse::<u32>() {
        Ok(n) if (1..=65535).contains(&n) => Ok(n as u16),
        _ => Err(format!("bad port {p:?}; use a number from 1 to 65535")),
    }
}

fn check_dns_name(name: &str) -> Result<(), String> {
    if name.is_empty() {
        return Err("the name to resolve is empty".into());
    }
    let trimmed = name.strip_suffix('.').unwrap_or(name);
    if trimmed.len() > 253 {
        return Err(format!("{name:?} is longer than 253 characters"));
    }
    for label in trimmed.split('.') {
        if label.is_empty() || label.len() > 63 {
            return Err(format!(
                "{name:?} has an empty label or one longer than 63 characters"
            ));
        }
        if let Some(c) = label
            .chars()
            .find(|c| !(c.is_ascii_alphanumeric() || matches!(c, '-' | '_')))
        {
            return Err(format!("{name:?} contains {c:?}"));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn kind(s: &str) -> TargetKind {
        match Target::parse(s) {
            Ok(t) => t.kind,
            Err(e) => panic!("{s:?} should parse: {e}"),
        }
    }

    fn reason(s: &str) -> String {
        match Target::parse(s) {
            Ok(t) => panic!("{s:?} should be refused, parsed as {t:?}"),
            Err(e) => {
                let msg = e.to_string();
                assert!(msg.contains(s), "the error names the input: {msg}");
                msg
            }
        }
    }

    #[test]
    fn http_and_https() {
        assert_eq!(
            kind("router=http://192.168.1.1/favicon.ico"),
            TargetKind::Http {
                tls: false,
                host: "192.168.1.1".into(),
                port: 80,
                path: "/favicon.ico".into()
            }
        );
        assert_eq!(
            kind("web=HTTPS://example.com"),
            TargetKind::Http {
                tls: true,
                host: "example.com".into(),
                port: 443,
                path: "/".into()
            }
        );
        assert_eq!(
            kind("v6=http://[::1]:8080?x=1#frag"),
            TargetKind::Http {
                tls: false,
                host: "::1".into(),
                port: 8080,
                path: "/?x=1".into()
            }
        );
        let t = Target::parse("web=https://example.com:8443/a/b?c").ok();
        assert_eq!(t.as_ref().map(Target::name), Some("web"));
        assert_eq!(
            t.as_ref().map(Target::to_string).as_deref(),
            Some("web=https://example.com:8443/a/b?c")
        );
    }

    #[test]
    fn tcp_icmp_dns() {
        assert_eq!(
            kind("ssh=tcp://10.0.0.2:22"),
            TargetKind::Tcp {
                host: "10.0.0.2".into(),
                port: 22
            }
        );
        assert_eq!(
            kind("gw=icmp://gateway.lan/"),
            TargetKind::Icmp {
                host: "gateway.lan".into()
            }
        );
        assert_eq!(
            kind("sys=dns://example.com"),
            TargetKind::Dns {
                name: "example.com".into(),
                server: None
            }
        );
        assert_eq!(
            kind("q9=dns://example.com@9.9.9.9"),
            TargetKind::Dns {
                name: "example.com".into(),
                server: Some(("9.9.9.9".into(), 53))
            }
        );
        assert_eq!(
            kind("local=dns://host.test.@127.0.0.1:5353"),
            TargetKind::Dns {
                name: "host.test.".into(),
                server: Some(("127.0.0.1".into(), 5353))
            }
        );
    }

    #[test]
    fn malformed_targets_are_refused_with_a_reason() {
        assert!(reason("=https://example.com").contains("name is missing"));
        assert!(reason("https://example.com").contains("NAME=URL"));
        assert!(reason("x=ftp://example.com").contains("unknown scheme \"ftp\""));
        assert!(reason("x=example.com").contains("no scheme"));
        assert!(reason("x=").contains("URL is missing"));
        assert!(reason("x=tcp://host:99999").contains("bad port"));
        assert!(reason("x=tcp://host:0").contains("bad port"));
        assert!(reason("x=tcp://host:ssh").contains("bad port"));
        assert!(reason("x=tcp://host").contains("port is missing"));
        assert!(reason("x=tcp://host:").contains("port is empty"));
        assert!(reason("x=http://").contains("host is empty"));
        assert!(reason("x=http://:80/").contains("host is empty"));
        assert!(reason("x=icmp://").contains("host is empty"));
        assert!(reason("x=icmp://gw:7").contains("no ports"));
        assert!(reason("x=dns://").contains("empty"));
        assert!(reason("x=dns://example.com@").contains("host is empty"));
        assert!(reason("x=dns://exa mple.com").contains("contains ' '"));
        assert!(reason("x=http://user:pw@host/").contains("credentials"));
        assert!(reason("x=http://[::1/").contains("closing"));
        assert!(reason("x=http://[nope]/").contains("not an IPv6"));
        assert!(reason("my target=tcp://h:1").contains("contains ' '"));
        assert!(reason("x=tcp://h:1/path").contains("no path"));
        assert!(reason("x=http://bad_host!/").contains("bad host"));
    }
}
