//! A real S3 server for tests: moto (`pip install 'moto[server]'`) started on 127.0.0.1, stopped when dropped.
#![allow(clippy::unwrap_used, clippy::expect_used, dead_code)]

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
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

    /// Writes an object behind stabmon's back, through boto3 (which moto depends on).
    pub fn put_object(&self, bucket: &str, key: &str, body: &[u8]) {
        let file = tempfile::NamedTempFile::new().unwrap();
        std::fs::write(file.path(), body).unwrap();
        let script = format!(
            "import boto3; boto3.client('s3', endpoint_url='{}', aws_access_key_id='testing', \
             aws_secret_access_key='testing', region_name='us-east-1').put_object(Bucket='{bucket}', \
             Key='{key}', Body=open('{}', 'rb').read())",
            self.endpoint,
            file.path().display()
        );
        let out = Command::new("python3")
            .args(["-c", &script])
            .output()
            .unwrap();
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(out.status.success(), "put {bucket}/{key}: {err}");
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

/// A TCP forwarder on 127.0.0.1 to `target` (`HOST:PORT`) that can be switched off (connections are then closed at
/// once), for an outage of the endpoint without losing the server's state, and that counts the bytes the target
/// sends back. At most 10,000 connections.
pub struct Forwarder {
    /// The port it listens on.
    pub port: u16,
    up: Arc<AtomicBool>,
    back: Arc<AtomicU64>,
}

impl Forwarder {
    pub fn new(target: String) -> Forwarder {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        let up = Arc::new(AtomicBool::new(true));
        let back = Arc::new(AtomicU64::new(0));
        let (flag, count) = (Arc::clone(&up), Arc::clone(&back));
        std::thread::spawn(move || {
            for conn in listener.incoming().take(10_000) {
                let Ok(client) = conn else { continue };
                if !flag.load(Ordering::SeqCst) {
                    drop(client);
                    continue;
                }
                let Ok(server) = TcpStream::connect(&target) else {
                    continue;
                };
                let (mut c2, mut s2) = (client.try_clone().unwrap(), server.try_clone().unwrap());
                let (mut c, mut s) = (client, server);
                std::thread::spawn(move || {
                    let _ = std::io::copy(&mut c, &mut s);
                    let _ = s.shutdown(std::net::Shutdown::Write);
                });
                let count = Arc::clone(&count);
                std::thread::spawn(move || {
                    let mut buf = vec![0; 64 * 1024];
                    while let Ok(n) = s2.read(&mut buf) {
                        if n == 0 || c2.write_all(&buf[..n]).is_err() {
                            break;
                        }
                        count.fetch_add(n as u64, Ordering::Relaxed);
                    }
                    let _ = c2.shutdown(std::net::Shutdown::Write);
                });
            }
        });
        Forwarder { port, up, back }
    }

    /// Switches it on or off.
    pub fn set(&self, up: bool) {
        self.up.store(up, Ordering::SeqCst);
    }

    /// Bytes the target sent back so far (HTTP headers included).
    pub fn bytes_back(&self) -> u64 {
        self.back.load(Ordering::Relaxed)
    }
}
