//! A bounded HTTP/1.x request reader and a response writer over a plain `TcpStream`.
//!
//! One request per connection (`Connection: close`): the head is read with a size cap ([`MAX_HEAD_BYTES`]), a
//! header count cap ([`MAX_HEADERS`](super::head::MAX_HEADERS)) and a total deadline, so a client that trickles
//! bytes (slowloris) is cut off when the deadline passes, however often it sends. Bodies are refused without
//! being read. The head itself is parsed by [`parse_head`], which does no I/O.

use std::io::{self, Read, Write};
use std::net::TcpStream;
use std::time::{Duration, Instant};

use super::head::parse_head;

pub use super::head::{MAX_HEAD_BYTES, ReadError, Request};

/// Reads one request head from `stream` within `deadline` (measured from now).
pub fn read_request(stream: &mut TcpStream, deadline: Duration) -> Result<Request, ReadError> {
    let until = Instant::now() + deadline;
    let mut buf: Vec<u8> = Vec::with_capacity(1024);
    let mut chunk = [0u8; 1024];
    loop {
        let left = until.saturating_duration_since(Instant::now());
        if left.is_zero() {
            return Err(ReadError::Timeout);
        }
        // Each read waits at most what is left of the deadline: the total is bounded, not each read.
        stream
            .set_read_timeout(Some(left))
            .map_err(|_| ReadError::Closed)?;
        let room = MAX_HEAD_BYTES + 1 - buf.len();
        let n = match stream.read(&mut chunk[..room.min(1024)]) {
            Ok(0) => return Err(ReadError::Closed),
            Ok(n) => n,
            Err(e)
                if matches!(
                    e.kind(),
                    io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut
                ) =>
            {
                return Err(ReadError::Timeout);
            }
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(_) => return Err(ReadError::Closed),
        };
        buf.extend_from_slice(&chunk[..n]);
        if let Some(req) = parse_head(&buf)? {
            return Ok(req);
        }
    }
}

/// A response with its whole body in memory (pages, errors); files are streamed by [`write_head`].
pub struct Response {
    pub status: u16,
    pub content_type: &'static str,
    pub headers: Vec<(&'static str, String)>,
    pub body: Vec<u8>,
}

impl Response {
    /// A plain-text response.
    pub fn text(status: u16, body: impl Into<String>) -> Response {
        let mut body = body.into();
        body.push('\n');
        Response {
            status,
            content_type: "text/plain; charset=utf-8",
            headers: Vec::new(),
            body: body.into_bytes(),
        }
    }

    /// An HTML page.
    pub fn html(status: u16, body: Vec<u8>) -> Response {
        Response {
            status,
            content_type: "text/html; charset=utf-8",
            headers: vec![("Cache-Control", "no-store".to_owned())],
            body,
        }
    }

    /// Adds a header.
    pub fn with(mut self, name: &'static str, value: impl Into<String>) -> Response {
        self.headers.push((name, value.into()));
        self
    }

    /// Writes the response; the body is left out for HEAD.
    pub fn write_to(&self, out: &mut impl Write, head_only: bool) -> io::Result<()> {
        write_head(
            out,
            self.status,
            self.content_type,
            self.body.len() as u64,
            &self.headers,
        )?;
        if !head_only {
            out.write_all(&self.body)?;
        }
        out.flush()
    }
}

/// The reason phrase of the statuses we send.
fn reason(status: u16) -> &'static str {
    match status {
        200 => "OK",
        400 => "Bad Request",
        401 => "Unauthorized",
        404 => "Not Found",
        405 => "Method Not Allowed",
        408 => "Request Timeout",
        413 => "Content Too Large",
        431 => "Request Header Fields Too Large",
        500 => "Internal Server Error",
        503 => "Service Unavailable",
        _ => "Unknown",
    }
}

/// Writes a status line and headers (always `Connection: close`).
pub fn write_head(
    out: &mut impl Write,
    status: u16,
    content_type: &str,
    len: u64,
    headers: &[(&'static str, String)],
) -> io::Result<()> {
    let mut head = format!(
        "HTTP/1.1 {status} {}\r\nContent-Type: {content_type}\r\nContent-Length: {len}\r\n\
         Connection: close\r\nX-Content-Type-Options: nosniff\r\nReferrer-Policy: no-referrer\r\n",
        reason(status)
    );
    for (name, value) in headers {
        // Values are ours (numbers, fixed strings); never let a line break through.
        head.push_str(name);
        head.push_str(": ");
        head.push_str(&value.replace(['\r', '\n'], " "));
        head.push_str("\r\n");
    }
    head.push_str("\r\n");
    out.write_all(head.as_bytes())
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::super::head::MAX_HEADERS;
    use super::*;
    use std::net::TcpListener;

    fn roundtrip(raw: &[u8]) -> Result<Request, ReadError> {
        let l = TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = l.local_addr().unwrap();
        let raw = raw.to_vec();
        let t = std::thread::spawn(move || {
            let mut c = TcpStream::connect(addr).unwrap();
            let _ = c.write_all(&raw);
            std::thread::sleep(Duration::from_millis(300));
        });
        let (mut s, _) = l.accept().unwrap();
        let r = read_request(&mut s, Duration::from_millis(200));
        t.join().unwrap();
        r
    }

    #[test]
    fn reads_a_get() {
        let r =
            roundtrip(b"GET /data/x?y=1 HTTP/1.1\r\nHost: h\r\nAuthorization: Bearer t\r\n\r\n")
                .unwrap();
        assert_eq!(r.method, "GET");
        assert_eq!(r.target, "/data/x?y=1");
        assert_eq!(r.authorization.as_deref(), Some("Bearer t"));
    }

    #[test]
    fn refuses_bodies_big_heads_garbage_and_incomplete_heads() {
        assert!(matches!(
            roundtrip(b"POST / HTTP/1.1\r\nContent-Length: 5\r\n\r\nhello"),
            Err(ReadError::Body)
        ));
        assert!(matches!(
            roundtrip(b"POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n"),
            Err(ReadError::Body)
        ));
        let mut big = b"GET / HTTP/1.1\r\nX: ".to_vec();
        big.extend(std::iter::repeat_n(b'a', MAX_HEAD_BYTES));
        assert!(matches!(roundtrip(&big), Err(ReadError::TooLarge)));
        let mut many = b"GET / HTTP/1.1\r\n".to_vec();
        for i in 0..=MAX_HEADERS {
            many.extend(format!("X-{i}: 1\r\n").bytes());
        }
        many.extend(b"\r\n");
        assert!(matches!(roundtrip(&many), Err(ReadError::TooLarge)));
        assert!(matches!(
            roundtrip(b"\x16\x03\x01 not http\r\n\r\n"),
            Err(ReadError::Malformed)
        ));
        assert!(matches!(
            roundtrip(b"GET / HTTP/1.1\r\nHost: h\r\n"),
            Err(ReadError::Timeout)
        ));
    }
}
