//! `stabmon serve`: the live report of a recent window at `/`, and the data directory read-only at `/data/` so
//! that `stabmon report --data http://HOST:PORT/data/` works from another machine.
//!
//! Every resource is bounded, so that a storm of requests cannot take the machine (or the recorder beside the
//! server) down with it:
//! - connections: a fixed number of connection threads ([`CONN_THREADS`]) take accepted connections from a
//!   bounded queue ([`CONN_QUEUE`]); beyond it the accept loop answers 503 with `Retry-After` at once;
//! - requests: one per connection, the head capped in size and header count and read within a total deadline
//!   (slowloris is cut off), bodies refused unread (see [`http`]);
//! - renders: a pool of [`RENDER_WORKERS`] threads behind a queue of [`RENDER_QUEUE`], a cache of recent renders
//!   ([`CACHE_TTL`]), one render shared by identical requests; beyond capacity 503 with `Retry-After`; ranges
//!   longer than `--max-range` are refused (a render holds its range's columns in memory), and renders run at
//!   once only while their estimated memory fits in [`render::RENDER_MEMORY_BYTES`] (a page of a month runs
//!   alone), the heap trimmed after each;
//! - files: only regular files inside the data directory, no symlinks, no hidden files (see [`files`]).
//!
//! The server is std threads over `TcpStream` with hyper's `httparse` parsing the head: tiny_http, the usual
//! small choice, has no header size limit, no read timeout and a thread pool without a bound.

mod files;
mod head;
mod http;
mod render;
mod view;

use std::io::{self, Read, Seek, SeekFrom, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::mpsc::{self, TrySendError};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use anyhow::Context;
use clap::Args;
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

use crate::{UsageError, datadir};
use http::{ReadError, Response};
use render::{Data, Outcome, Renderer};
use view::View;

/// Connection threads: each handles one connection at a time.
pub const CONN_THREADS: usize = 32;
/// Accepted connections waiting for a connection thread; beyond it, 503.
pub const CONN_QUEUE: usize = 128;
/// Render threads.
pub const RENDER_WORKERS: usize = 2;
/// Views waiting for a render thread; beyond it, 503.
pub const RENDER_QUEUE: usize = 4;
/// How long a render is reused.
pub const CACHE_TTL: Duration = Duration::from_secs(5);
/// How long a request waits for its render before it gets 503.
const RENDER_WAIT: Duration = Duration::from_secs(60);
/// How long one write to a client may block.
const WRITE_TIMEOUT: Duration = Duration::from_secs(10);
/// How long sending one file may take in all.
const SEND_DEADLINE: Duration = Duration::from_secs(300);

/// Flags of `stabmon serve`.
#[derive(Debug, Args)]
#[command(after_help = crate::DATA_DEFAULT_HELP)]
pub struct ServeArgs {
    /// Data directory written by `stabmon record`, or a fleet's dataset in object storage (s3://BUCKET/PREFIX,
    /// gs://..., az://... or file:///PATH): `/` then lists the hosts ranked by incidents, each linking to its
    /// page, and /data/ serves nothing. [default: $STABMON_DATA, else a per-user or system directory: see below]
    #[arg(long, value_name = "DIR|URL", env = "STABMON_DATA")]
    data: Option<PathBuf>,

    /// Address and port to listen on; port 0 picks a free one. Anything but loopback prints a warning: the page
    /// and the data (process names, command lines) are then readable from the network, over plain HTTP.
    #[arg(long, value_name = "ADDR:PORT", default_value = "127.0.0.1:8050")]
    bind: SocketAddr,

    /// Require this bearer token (`Authorization: Bearer TOKEN`; `/` also takes `?token=TOKEN`, for a
    /// browser). Compared in constant time. [default: none: no token is asked for]
    #[arg(
        long,
        value_name = "TOKEN",
        env = "STABMON_TOKEN",
        hide_env_values = true
    )]
    token: Option<String>,

    /// How often the page at `/` reloads itself, such as 30s or 1m; 0 turns the reload off (`?refresh=SECS`
    /// overrides it).
    #[arg(long, value_name = "DURATION", default_value = "30s", value_parser = parse_refresh)]
    refresh: Duration,

    /// The longest range `/` renders, such as 1d or 12h: a render holds every sample of its range in memory.
    #[arg(long, value_name = "DURATION", default_value = "1d", value_parser = parse_max_range)]
    max_range: Duration,

    /// How long a client may take to send its request head before it is cut off.
    #[arg(long, value_name = "DURATION", default_value = "10s", value_parser = parse_max_range, hide = true)]
    header_timeout: Duration,
}

fn parse_refresh(s: &str) -> Result<Duration, String> {
    if s.trim() == "0" {
        return Ok(Duration::ZERO);
    }
    crate::parse_positive_duration(s, "30s or 1m, or 0")
}

fn parse_max_range(s: &str) -> Result<Duration, String> {
    crate::parse_positive_duration(s, "1d or 12h")
}

/// What every connection thread shares.
struct Server {
    /// The data directory served at /data/; `None` for object storage.
    root: Option<PathBuf>,
    token_digest: Option<[u8; 32]>,
    renderer: Renderer,
    refresh_secs: u64,
    max_range: Duration,
    header_timeout: Duration,
}

fn digest(s: &str) -> [u8; 32] {
    Sha256::digest(s.as_bytes()).into()
}

pub fn run(args: &ServeArgs) -> anyhow::Result<ExitCode> {
    let dir = datadir::resolve(args.data.as_deref())?;
    let (root, data) = if let Some(url) = dir.to_str().filter(|d| d.contains("://")) {
        crate::select::check_scheme(url, &["s3", "s3a", "gs", "az", "abfs", "abfss", "file"])?;
        let reader = stabmon_store::StoreReader::open(&dir)
            .with_context(|| format!("cannot read stabmon data at {url}"))?;
        (None, Data::bucket(dir.clone(), reader))
    } else {
        if !dir.is_dir() {
            return Err(UsageError(format!(
                "no data directory at {}: record some with 'stabmon record --data {}', or give one with --data DIR",
                dir.display(),
                dir.display()
            ))
            .into());
        }
        let root = dir
            .canonicalize()
            .with_context(|| format!("cannot resolve the data directory {}", dir.display()))?;
        (Some(root.clone()), Data::dir(root))
    };
    let token_digest = match args.token.as_deref() {
        Some("") => {
            return Err(UsageError(
                "--token (or STABMON_TOKEN) is empty; give a token or leave it unset".to_owned(),
            )
            .into());
        }
        Some(t) => Some(digest(t)),
        None => None,
    };
    let listener = TcpListener::bind(args.bind)
        .map_err(|e| UsageError(format!("cannot listen on {}: {e}", args.bind)))?;
    let addr = listener
        .local_addr()
        .context("cannot read the bound address")?;
    if !addr.ip().is_loopback() {
        eprintln!(
            "stabmon: warning: listening on {addr}, beyond this machine: the report and the data (process names \
             and command lines) are readable by whoever reaches it, over plain HTTP{}",
            if token_digest.is_some() {
                "; the token is required, but travels in clear: put a TLS proxy in front"
            } else {
                "; set --token (or STABMON_TOKEN) to require a token"
            }
        );
    }
    let renderer = Renderer::start(
        data,
        RENDER_WORKERS,
        RENDER_QUEUE,
        CACHE_TTL,
        render::RENDER_MEMORY_BYTES,
    )
    .context("cannot start the render threads")?;
    let server = Arc::new(Server {
        root,
        token_digest,
        renderer,
        refresh_secs: args.refresh.as_secs(),
        max_range: args.max_range,
        header_timeout: args.header_timeout,
    });

    let (tx, rx) = mpsc::sync_channel::<TcpStream>(CONN_QUEUE);
    let rx = Arc::new(Mutex::new(rx));
    for i in 0..CONN_THREADS {
        let rx = Arc::clone(&rx);
        let server = Arc::clone(&server);
        std::thread::Builder::new()
            .name(format!("stabmon-conn-{i}"))
            .stack_size(1024 * 1024)
            .spawn(move || {
                loop {
                    let next = match rx.lock() {
                        Ok(g) => g.recv(),
                        Err(p) => p.into_inner().recv(),
                    };
                    match next {
                        Ok(stream) => handle(&server, stream),
                        Err(_) => return,
                    }
                }
            })
            .context("cannot start the connection threads")?;
    }
    match &server.root {
        Some(root) => eprintln!(
            "stabmon: serving {} at http://{addr}/ (the report) and http://{addr}/data/ (the data, read-only)",
            root.display()
        ),
        None => eprintln!(
            "stabmon: serving {} at http://{addr}/ (the hosts, each linking to its report)",
            dir.display()
        ),
    }
    for stream in listener.incoming() {
        match stream {
            Ok(s) => {
                if let Err(TrySendError::Full(s) | TrySendError::Disconnected(s)) = tx.try_send(s) {
                    busy(s);
                }
            }
            // Out of file descriptors and the like: wait a little rather than spin.
            Err(_) => std::thread::sleep(Duration::from_millis(20)),
        }
    }
    Ok(ExitCode::SUCCESS)
}

/// Every connection thread is busy and the queue is full: 503 at once, never a wait.
fn busy(mut s: TcpStream) {
    let _ = s.set_write_timeout(Some(Duration::from_millis(200)));
    let _ = Response::text(503, "stabmon: busy, retry in a second")
        .with("Retry-After", "1")
        .write_to(&mut s, false);
    let _ = s.shutdown(std::net::Shutdown::Write);
}

fn handle(server: &Server, mut stream: TcpStream) {
    let _ = stream.set_write_timeout(Some(WRITE_TIMEOUT));
    let _ = stream.set_nodelay(true);
    let req = match http::read_request(&mut stream, server.header_timeout) {
        Ok(r) => r,
        Err(e) => {
            let resp = match e {
                ReadError::Closed => return,
                ReadError::Timeout => Response::text(408, "request head not received in time"),
                ReadError::TooLarge => Response::text(431, "request head too large"),
                ReadError::Malformed => Response::text(400, "not an HTTP/1.x request"),
                ReadError::Body => Response::text(413, "request bodies are not accepted"),
            };
            let _ = resp.write_to(&mut stream, false);
            let _ = stream.shutdown(std::net::Shutdown::Both);
            return;
        }
    };
    let head_only = req.method == "HEAD";
    if req.method != "GET" && !head_only {
        let _ = Response::text(405, "only GET and HEAD")
            .with("Allow", "GET, HEAD")
            .write_to(&mut stream, false);
        return;
    }
    let (path, query) = req.target.split_once('?').unwrap_or((&req.target, ""));
    if !authorized(server, req.authorization.as_deref(), path, query) {
        let _ = Response::text(401, "a valid bearer token is required")
            .with("WWW-Authenticate", "Bearer realm=\"stabmon\"")
            .write_to(&mut stream, head_only);
        return;
    }
    if path == "/" {
        let resp = page(server, query);
        let _ = resp.write_to(&mut stream, head_only);
    } else if let Some(rel) = path.strip_prefix("/data/") {
        send_file(server, &mut stream, rel, head_only);
    } else {
        let _ = Response::text(404, "not found: / is the report, /data/ the data directory")
            .write_to(&mut stream, head_only);
    }
}

/// The token, when one is set: from `Authorization: Bearer`, or `?token=` on `/`. Compared as SHA-256 digests
/// in constant time, so neither the content nor the length leaks through timing.
fn authorized(server: &Server, authorization: Option<&str>, path: &str, query: &str) -> bool {
    let Some(want) = &server.token_digest else {
        return true;
    };
    let from_header = authorization.and_then(|a| {
        let (scheme, value) = a.trim().split_once(' ')?;
        scheme
            .eq_ignore_ascii_case("bearer")
            .then(|| value.trim().to_owned())
    });
    let from_query = (path == "/")
        .then(|| {
            query.split('&').find_map(|p| {
                p.strip_prefix("token=").map(|v| {
                    percent_encoding::percent_decode_str(v)
                        .decode_utf8_lossy()
                        .into_owned()
                })
            })
        })
        .flatten();
    [from_header, from_query]
        .into_iter()
        .flatten()
        .any(|given| bool::from(digest(&given).ct_eq(want)))
}

fn page(server: &Server, query: &str) -> Response {
    let view = match View::parse(query, server.refresh_secs, server.max_range) {
        Ok(v) => v,
        Err(e) => return Response::text(400, format!("bad query: {e}")),
    };
    match server.renderer.get(view, RENDER_WAIT) {
        Outcome::Page(p) => Response::html(p.status, p.body.clone()),
        Outcome::Busy => Response::text(
            503,
            "stabmon: every renderer is busy, retry in a few seconds",
        )
        .with("Retry-After", "5"),
    }
}

fn send_file(server: &Server, stream: &mut TcpStream, rel: &str, head_only: bool) {
    let not_found = |s: &mut TcpStream| {
        let _ = Response::text(404, "not found").write_to(s, head_only);
    };
    let Some(root) = &server.root else {
        let _ = Response::text(
            404,
            "not found: the data is in object storage; read it there (stabmon --data URL)",
        )
        .write_to(stream, head_only);
        return;
    };
    let Some(path) = files::resolve(root, rel) else {
        return not_found(stream);
    };
    let Ok(mut file) = files::open(&path) else {
        return not_found(stream);
    };
    let Ok(mut len) = file.metadata().map(|m| m.len()) else {
        return not_found(stream);
    };
    if path.extension().is_some_and(|e| e == "journal") {
        // A recycled journal file holds an older journal's bytes after its records: sent only up to its end.
        len = stabmon_store::journal_records_len(&mut file, len).unwrap_or(len);
        if file.seek(SeekFrom::Start(0)).is_err() {
            return not_found(stream);
        }
    }
    if http::write_head(stream, 200, files::content_type(&path), len, &[]).is_err() || head_only {
        return;
    }
    // A journal may grow while it is sent: send what it held when opened.
    let _ = copy_until(
        &mut (&mut file).take(len),
        stream,
        Instant::now() + SEND_DEADLINE,
    );
}

/// Copies until the end, an error, or the deadline (a client reading a byte now and then is cut off).
fn copy_until(from: &mut impl Read, to: &mut impl Write, deadline: Instant) -> io::Result<()> {
    let mut buf = vec![0u8; 64 * 1024];
    loop {
        if Instant::now() > deadline {
            return Err(io::Error::new(io::ErrorKind::TimedOut, "send deadline"));
        }
        let n = match from.read(&mut buf) {
            Ok(0) => return to.flush(),
            Ok(n) => n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(e),
        };
        to.write_all(&buf[..n])?;
    }
}
