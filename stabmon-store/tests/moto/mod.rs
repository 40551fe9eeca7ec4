//! A real S3 server for tests: moto (`pip install 'moto[server]'`) started on 127.0.0.1, stopped when dropped.
#![allow(clippy::unwrap_used, clippy::expect_used, dead_code)]

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// A moto server on 127.0.0.1.
pub struct Moto {
    child: Child,
    /// `http://127.0.0.1:PORT`.
    pub endpoint: String,
    port: u16,
}

impl Drop for Moto {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Moto {
    /// Starts moto, or returns `None` after printing why it cannot run here (python3 or moto missing).
    pub fn start() -> Option<Moto> {
        Self::start_with(&[])
    }

    /// Starts moto with a bucket `bucket` and authentication on: past the set-up, every request must be signed
    /// with keys moto's IAM knows (none are created), so any key is refused with 403 `InvalidAccessKeyId`.
    pub fn start_refusing_keys(bucket: &str) -> Option<Moto> {
        // Two requests go unchecked: the readiness probe and the bucket's creation.
        let moto = Self::start_with(&[("INITIAL_NO_AUTH_ACTION_COUNT", "2")])?;
        moto.create_bucket(bucket);
        Some(moto)
    }

    fn start_with(env: &[(&str, &str)]) -> Option<Moto> {
        let has_moto = Command::new("python3")
            .args(["-c", "import moto.server, flask"])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .is_ok_and(|s| s.success());
        if !has_moto {
            eprintln!(
                "SKIPPED: python3 with moto[server] is not installed here (pip install 'moto[server]'; .ci/run installs it)"
            );
            return None;
        }
        let port = TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let child = Command::new("python3")
            .args([
                "-m",
                "moto.server",
                "-H",
                "127.0.0.1",
                "-p",
                &port.to_string(),
            ])
            .envs(env.iter().copied())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let moto = Moto {
            child,
            endpoint: format!("http://127.0.0.1:{port}"),
            port,
        };
        let deadline = Instant::now() + Duration::from_secs(30);
        while moto.request("GET", "/", b"").is_none() {
            assert!(
                Instant::now() < deadline,
                "moto did not start on port {port}"
            );
            std::thread::sleep(Duration::from_millis(100));
        }
        Some(moto)
    }

    /// One unsigned HTTP request (moto accepts them); the status code, `None` when it cannot connect.
    pub fn request(&self, method: &str, path: &str, body: &[u8]) -> Option<u16> {
        let mut s = TcpStream::connect(("127.0.0.1", self.port)).ok()?;
        s.set_read_timeout(Some(Duration::from_secs(10))).ok()?;
        write!(
            s,
            "{method} {path} HTTP/1.1\r\nHost: 127.0.0.1:{}\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
            self.port,
            body.len()
        )
        .ok()?;
        s.write_all(body).ok()?;
        let mut resp = String::new();
        let _ = s.read_to_string(&mut resp);
        resp.split_whitespace().nth(1)?.parse().ok()
    }

    /// Creates a bucket.
    pub fn create_bucket(&self, name: &str) {
        let status = self.request("PUT", &format!("/{name}"), b"");
        assert_eq!(status, Some(200), "create bucket {name}");
    }

    /// The object store options that point the S3 client at this server.
    pub fn options(&self) -> Vec<(String, String)> {
        self.env()
            .into_iter()
            .map(|(k, v)| (k.to_ascii_lowercase(), v))
            .collect()
    }

    /// The same as environment variables, for a `stabmon` child process.
    pub fn env(&self) -> Vec<(String, String)> {
        [
            ("AWS_ENDPOINT_URL", self.endpoint.as_str()),
            ("AWS_ALLOW_HTTP", "true"),
            ("AWS_ACCESS_KEY_ID", "testing"),
            ("AWS_SECRET_ACCESS_KEY", "testing"),
            ("AWS_REGION", "us-east-1"),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_owned(), v.to_owned()))
        .collect()
    }
}
