//! The HTTP(S) checker: a `HEAD` request of our own over a std `TcpStream` (plus rustls for https), so that each
//! phase can be timed: DNS, connect, TLS handshake, first byte, total.

use std::io::{self, Read, Write};
use std::net::TcpStream;
use std::sync::Arc;
use std::time::Instant;

use rustls::pki_types::ServerName;
use stabmon_core::{LatencyProbe, ProbeOutcome};

use super::{Clock, connect, io_outcome, ms_since, resolve};

/// The longest response header accepted.
const MAX_HEADER_BYTES: usize = 64 * 1024;

pub(super) fn probe(
    p: &mut LatencyProbe,
    clock: &Clock,
    tls: Option<&Arc<rustls::ClientConfig>>,
    host: &str,
    port: u16,
    path: &str,
) -> Result<(), ProbeOutcome> {
    let (addrs, dns_ms) = resolve(clock, host, port)?;
    p.dns_ms = dns_ms;
    let mut sock = connect(p, clock, &addrs)?;
    let request = request(host, port, path, tls.is_some());
    match tls {
        None => exchange(p, clock, &mut sock, &request),
        Some(config) => {
            let name = ServerName::try_from(host.to_owned())
                .map_err(|e| ProbeOutcome::TlsError(format!("bad server name {host:?}: {e}")))?;
            let mut conn = rustls::ClientConnection::new(Arc::clone(config), name)
                .map_err(|e| ProbeOutcome::TlsError(e.to_string()))?;
            let started = Instant::now();
            while conn.is_handshaking() {
                set_timeouts(&sock, clock)?;
                match conn.complete_io(&mut sock) {
                    Ok(_) => {}
                    Err(e) => return Err(tls_outcome(&e)),
                }
            }
            p.tls_ms = Some(ms_since(started));
            let mut stream = rustls::Stream::new(&mut conn, &mut sock);
            exchange(p, clock, &mut stream, &request)
        }
    }
}

fn set_timeouts(sock: &TcpStream, clock: &Clock) -> Result<(), ProbeOutcome> {
    let left = clock.remaining()?;
    sock.set_read_timeout(Some(left))
        .and_then(|()| sock.set_write_timeout(Some(left)))
        .map_err(|e| io_outcome(&e, "set socket timeouts"))
}

fn tls_outcome(e: &io::Error) -> ProbeOutcome {
    match e.kind() {
        // rustls reports its own errors (an untrusted certificate, an alert) as InvalidData.
        io::ErrorKind::InvalidData => ProbeOutcome::TlsError(e.to_string()),
        io::ErrorKind::UnexpectedEof => ProbeOutcome::TlsError(
            "the server closed the connection during the TLS handshake".into(),
        ),
        _ => io_outcome(e, "TLS handshake"),
    }
}

fn request(host: &str, port: u16, path: &str, tls: bool) -> Vec<u8> {
    let default_port = if tls { 443 } else { 80 };
    let host = if host.contains(':') {
        format!("[{host}]")
    } else {
        host.to_owned()
    };
    let host = if port == default_port {
        host
    } else {
        format!("{host}:{port}")
    };
    format!(
        "HEAD {path} HTTP/1.1\r\nHost: {host}\r\nUser-Agent: stabmon/{}\r\nAccept: */*\r\nConnection: close\r\n\r\n",
        env!("CARGO_PKG_VERSION")
    )
    .into_bytes()
}

/// A stream whose socket timeouts can be set before each call.
trait Timed: Read + Write {
    fn socket(&self) -> &TcpStream;
}

impl Timed for TcpStream {
    fn socket(&self) -> &TcpStream {
        self
    }
}

impl Timed for rustls::Stream<'_, rustls::ClientConnection, TcpStream> {
    fn socket(&self) -> &TcpStream {
        self.sock
    }
}

/// Sends the request, times the first byte, reads the header and judges the status.
fn exchange<S: Timed>(
    p: &mut LatencyProbe,
    clock: &Clock,
    stream: &mut S,
    request: &[u8],
) -> Result<(), ProbeOutcome> {
    set_timeouts(stream.socket(), clock)?;
    stream
        .write_all(request)
        .and_then(|()| stream.flush())
        .map_err(|e| io_outcome(&e, "send the request"))?;
    let sent = Instant::now();
    let mut header = Vec::with_capacity(512);
    let mut buf = [0u8; 4096];
    loop {
        set_timeouts(stream.socket(), clock)?;
        let n = match stream.read(&mut buf) {
            Ok(n) => n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            // A TLS peer that closes without close_notify: treat like a plain close.
            Err(e) if e.kind() == io::ErrorKind::UnexpectedEof => 0,
            Err(e) => return Err(io_outcome(&e, "read the answer")),
        };
        if n > 0 && p.first_byte_ms.is_none() {
            p.first_byte_ms = Some(ms_since(sent));
        }
        header.extend_from_slice(&buf[..n]);
        let complete = header.windows(4).any(|w| w == b"\r\n\r\n");
        if complete || n == 0 {
            if header.is_empty() {
                return Err(ProbeOutcome::Other(
                    "the server closed the connection without answering".into(),
                ));
            }
            p.total_ms = Some(clock.elapsed_ms());
            let code = status_code(&header)?;
            return if (100..400).contains(&code) {
                Ok(())
            } else {
                Err(ProbeOutcome::HttpStatus(code))
            };
        }
        if header.len() > MAX_HEADER_BYTES {
            return Err(ProbeOutcome::Other(format!(
                "the response header is longer than {MAX_HEADER_BYTES} bytes"
            )));
        }
    }
}

/// The code of an `HTTP/1.x NNN reason` status line.
fn status_code(header: &[u8]) -> Result<u16, ProbeOutcome> {
    let line_end = header
        .windows(2)
        .position(|w| w == b"\r\n")
        .unwrap_or(header.len());
    let line = String::from_utf8_lossy(&header[..line_end]);
    let mut parts = line.split_ascii_whitespace();
    let version = parts.next().unwrap_or_default();
    let code = parts.next().and_then(|c| c.parse::<u16>().ok());
    match code {
        Some(code) if version.starts_with("HTTP/") && (100..1000).contains(&code) => Ok(code),
        _ => {
            let shown: String = line.chars().take(80).collect();
            Err(ProbeOutcome::Other(format!(
                "not an HTTP answer: {shown:?}"
            )))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn request_lines() {
        let r = String::from_utf8(request("example.com", 443, "/x?y", true)).unwrap_or_default();
        assert!(
            r.starts_with("HEAD /x?y HTTP/1.1\r\nHost: example.com\r\n"),
            "{r}"
        );
        assert!(r.ends_with("Connection: close\r\n\r\n"));
        let r = String::from_utf8(request("::1", 8080, "/", false)).unwrap_or_default();
        assert!(r.contains("Host: [::1]:8080\r\n"), "{r}");
    }

    #[test]
    fn status_lines() {
        assert_eq!(status_code(b"HTTP/1.1 204 No Content\r\n\r\n"), Ok(204));
        assert_eq!(status_code(b"HTTP/1.0 500 Oops\r\n"), Ok(500));
        assert!(matches!(
            status_code(b"SSH-2.0-OpenSSH_9.6\r\n"),
            Err(ProbeOutcome::Other(m)) if m.contains("not an HTTP answer")
        ));
        assert!(status_code(b"HTTP/1.1 abc\r\n").is_err());
    }
}
