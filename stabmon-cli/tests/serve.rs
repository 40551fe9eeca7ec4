//! `stabmon serve` on 127.0.0.1 (port 0): the live report, the data read remotely by `stabmon report`, the token,
//! path traversal, slow and oversized requests.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::io::{Read, Write};
use std::net::TcpStream;
use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

use stabmon_core::Timestamp;
use stabmon_core::synth::Synth;

/// A data directory written by the flight recorder (so it has `manifest.json`): 30 minutes of host `web-1`
/// ending now, in which `xmrig` burns two cores for the ten middle minutes.
fn recorded_store(dir: &Path) {
    let now = Timestamp::now().as_unix_secs();
    let start = Timestamp::from_unix_secs(now - 1800);
    let at = |s: u64| start.saturating_add(Duration::from_secs(s));
    let samples = Synth::new(start, Duration::from_secs(1))
        .count(1800)
        .host("web-1")
        .cpu_hog(
            "xmrig",
            "./xmrig -o pool.example:3333",
            at(600),
            at(1200),
            190.0,
        )
        .generate();
    let (mut rec, _) =
        stabmon_store::FlightRecorder::open(dir, stabmon_store::RecorderOptions::new()).unwrap();
    for s in &samples {
        assert!(rec.record(s).is_empty());
    }
    rec.stop(Timestamp::now()).unwrap();
    assert!(dir.join("manifest.json").is_file());
}

#[path = "support/serve.rs"]
mod server;

use server::{exchange, get};

fn serve(data: &Path, extra: &[&str]) -> server::Server {
    server::serve(data.as_os_str(), extra, &[])
}

#[test]
fn the_report_answers_and_the_data_reads_remotely() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    recorded_store(&data);
    let server = serve(&data, &[]);

    let (status, head, body) = get(server.addr, "/", None);
    let page = String::from_utf8_lossy(&body);
    assert_eq!(status, 200, "{head}");
    assert!(head.contains("text/html"), "{head}");
    assert!(page.starts_with("<!DOCTYPE html>"));
    assert!(page.contains("\">xmrig (pid "), "no culprit label");
    assert!(page.contains("<meta http-equiv=\"refresh\" content=\"30\">"));
    // A range before the data: a page that says so, still 200 and reloading.
    let (status, _, body) = get(server.addr, "/?since=5m&refresh=10", None);
    assert_eq!(status, 200);
    assert!(String::from_utf8_lossy(&body).contains("content=\"10\""));
    let (status, _, body) = get(server.addr, "/?since=soon", None);
    assert_eq!(status, 400);
    assert!(String::from_utf8_lossy(&body).contains("since"));
    // HEAD: the head only.
    let (status, head, body) = exchange(
        server.addr,
        b"HEAD /data/manifest.json HTTP/1.1\r\nHost: x\r\n\r\n",
    );
    assert_eq!(status, 200, "{head}");
    assert!(head.contains("application/json"), "{head}");
    assert!(body.is_empty());

    // `stabmon dump` and `stabmon report` from the URL, as from another machine.
    let out = Command::new(assert_cmd::cargo::cargo_bin("stabmon"))
        .args(["dump", "--data"])
        .arg(format!("http://{}/data/", server.addr))
        .env_remove("STABMON_DATA")
        .env_remove("STABMON_TOKEN")
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(
        String::from_utf8_lossy(&out.stdout).lines().count(),
        1 + 1800
    );

    let out_html = dir.path().join("remote.html");
    let out = Command::new(assert_cmd::cargo::cargo_bin("stabmon"))
        .args(["report", "--data"])
        .arg(format!("http://{}/data/", server.addr))
        .arg("-o")
        .arg(&out_html)
        .env_remove("STABMON_DATA")
        .env_remove("STABMON_TOKEN")
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stderr}");
    assert!(stderr.contains("1800 samples of web-1"), "{stderr}");
    assert!(stderr.contains("1 incident"), "{stderr}");
    let remote = std::fs::read_to_string(&out_html).unwrap();
    assert!(remote.contains("\">xmrig (pid "));
}

#[test]
fn the_token_is_enforced() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    recorded_store(&data);
    let server = serve(&data, &["--token", "s3cret-t0ken"]);
    for target in ["/", "/data/manifest.json"] {
        let (status, head, _) = get(server.addr, target, None);
        assert_eq!(status, 401, "{target}: {head}");
        assert!(head.contains("WWW-Authenticate: Bearer"), "{head}");
        for wrong in [
            "Bearer nope",
            "Bearer s3cret-t0ke",
            "Bearer s3cret-t0ken2",
            "Basic s3cret-t0ken",
        ] {
            assert_eq!(
                get(server.addr, target, Some(wrong)).0,
                401,
                "{target} {wrong}"
            );
        }
        let (status, head, _) = get(server.addr, target, Some("Bearer s3cret-t0ken"));
        assert_eq!(status, 200, "{target}: {head}");
    }
    // A browser can pass it in the query of `/` only.
    assert_eq!(get(server.addr, "/?token=s3cret-t0ken", None).0, 200);
    assert_eq!(get(server.addr, "/?token=wrong", None).0, 401);
    assert_eq!(
        get(server.addr, "/data/manifest.json?token=s3cret-t0ken", None).0,
        401
    );
}

#[test]
fn no_path_escapes_the_data_directory() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    recorded_store(&data);
    std::fs::write(dir.path().join("secret"), "TOPSECRET").unwrap();
    // Symbolic links out of the directory (Windows needs a privilege to create them; there the paths simply do
    // not exist, and must still answer 404).
    #[cfg(unix)]
    {
        std::os::unix::fs::symlink(dir.path().join("secret"), data.join("link")).unwrap();
        std::os::unix::fs::symlink(dir.path(), data.join("linkdir")).unwrap();
        std::os::unix::fs::symlink("/etc", data.join("etc")).unwrap();
    }
    let server = serve(&data, &[]);

    assert_eq!(get(server.addr, "/data/manifest.json", None).0, 200);
    for target in [
        "/data/../secret",
        "/data/../../../../etc/passwd",
        "/data/%2e%2e/secret",
        "/data/%2E%2E/secret",
        "/data/%2e%2e%2fsecret",
        "/data/..%2fsecret",
        "/data/%252e%252e%252fsecret",
        "/data/..%5csecret",
        "/data/..%255csecret",
        "/data//etc/passwd",
        "/data/%2fetc%2fpasswd",
        "/data/C:%5cWindows%5cwin.ini",
        "/data/link",
        "/data/linkdir/secret",
        "/data/etc/passwd",
        "/data/.stabmon.lock",
        "/data/samples/../../secret",
        "/../secret",
        "/data%2f..%2fsecret",
        "/data/%00",
    ] {
        let (status, head, body) = get(server.addr, target, None);
        assert_eq!(status, 404, "{target}: {head}");
        let body = String::from_utf8_lossy(&body);
        assert!(
            !body.contains("TOPSECRET") && !body.contains("root:"),
            "{target}: {body}"
        );
    }
}

#[test]
fn slow_and_oversized_requests_are_cut_off() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    recorded_store(&data);
    let server = serve(&data, &["--header-timeout", "1s"]);

    // Slowloris: a header line a byte at a time, forever. The server answers 408 and closes after its deadline,
    // long before the client would have finished.
    let mut s = TcpStream::connect(server.addr).unwrap();
    s.write_all(b"GET / HTTP/1.1\r\n").unwrap();
    let mut reader = s.try_clone().unwrap();
    let trickle = std::thread::spawn(move || {
        let started = Instant::now();
        while started.elapsed() < Duration::from_secs(20) {
            if s.write_all(b"X").is_err() {
                return true; // cut off
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        false
    });
    reader
        .set_read_timeout(Some(Duration::from_secs(20)))
        .unwrap();
    let mut answer = Vec::new();
    let _ = reader.read_to_end(&mut answer);
    let answer = String::from_utf8_lossy(&answer).into_owned();
    assert!(answer.starts_with("HTTP/1.1 408"), "{answer:?}");
    assert!(trickle.join().unwrap(), "the slow client was never cut off");

    // A huge header: 431, and nothing more is read.
    let mut big = b"GET / HTTP/1.1\r\nX-Big: ".to_vec();
    big.extend(std::iter::repeat_n(b'a', 64 * 1024));
    big.extend(b"\r\n\r\n");
    let mut s = TcpStream::connect(server.addr).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(20))).unwrap();
    let _ = s.write_all(&big); // the server may close before taking it all
    let mut answer = Vec::new();
    let _ = s.read_to_end(&mut answer);
    let answer = String::from_utf8_lossy(&answer);
    assert!(
        answer.is_empty() || answer.starts_with("HTTP/1.1 431"),
        "{answer:?}"
    );
    // Too many headers: 431.
    let mut many = String::from("GET / HTTP/1.1\r\n");
    for i in 0..100 {
        many.push_str(&format!("X-{i}: 1\r\n"));
    }
    many.push_str("\r\n");
    assert_eq!(exchange(server.addr, many.as_bytes()).0, 431);
    // A body: refused unread.
    let (status, _, _) = exchange(
        server.addr,
        b"POST / HTTP/1.1\r\nContent-Length: 1000000\r\n\r\nxx",
    );
    assert_eq!(status, 413);
    assert_eq!(
        exchange(server.addr, b"DELETE /data/manifest.json HTTP/1.1\r\n\r\n").0,
        405
    );
    // And the server still serves.
    assert_eq!(get(server.addr, "/data/manifest.json", None).0, 200);
}

/// A recorder that has run for two minutes (everything still in its journal, no Parquet yet): the live page shows
/// them, on an axis of those two minutes, not "no samples yet" until the first hourly rotation.
#[test]
fn the_live_page_shows_a_recorder_started_a_moment_ago() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    // Two minutes well inside one hour: crossing an hour boundary would rotate the journal into Parquet.
    let now = Timestamp::now().as_unix_secs();
    let hour = (now - 3 * 3600) / 3600 * 3600;
    let start = Timestamp::from_unix_secs(hour + 600);
    let samples = Synth::new(start, Duration::from_secs(1))
        .count(120)
        .host("fresh-1")
        .generate();
    let (mut rec, _) =
        stabmon_store::FlightRecorder::open(&data, stabmon_store::RecorderOptions::new()).unwrap();
    for s in &samples {
        assert!(rec.record(s).is_empty());
    }
    assert!(!data.join("samples").exists(), "nothing is compacted yet");
    let server = serve(&data, &[]);
    let (status, head, body) = get(server.addr, "/", None);
    let page = String::from_utf8_lossy(&body);
    assert_eq!(status, 200, "{head}");
    assert!(!page.contains("no samples"), "{page}");
    assert!(page.contains("stabmon live: fresh-1"), "{page}");
    // The page's range is the two minutes recorded three hours ago, not the last hour of the clock.
    let number = |key: &str| -> i64 {
        let at = page
            .find(&format!("\"{key}\":"))
            .unwrap_or_else(|| panic!("no {key} in the page"));
        let rest = &page[at + key.len() + 3..];
        let end = rest
            .find(|c: char| !c.is_ascii_digit() && c != '-')
            .unwrap();
        rest[..end].parse().unwrap()
    };
    assert_eq!(number("t0"), samples[0].ts.as_unix_micros() / 1000);
    let span_ms = number("span");
    assert!((119_000..=120_000).contains(&span_ms), "span {span_ms} ms");
    drop(rec);
}

/// A recycled journal file (format 5) holds an older journal's bytes after its end marker: served up to the
/// marker only (a reader takes the end of the bytes for the end). A journal of an older format is served whole.
#[test]
fn a_recycled_journal_is_served_up_to_its_end() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    recorded_store(&data);
    let host_dir = data.join(stabmon_store::JOURNAL_DIR).join("host=web-2");
    std::fs::create_dir_all(&host_dir).unwrap();
    let journal = |version: u32| {
        let mut b = b"STABMONJ".to_vec();
        b.extend_from_slice(&version.to_le_bytes());
        b.extend_from_slice(&7u64.to_le_bytes());
        let records = b.len();
        b.extend_from_slice(&[0; 9]); // the end marker (format 5) or a zero tail (before)
        b.extend(std::iter::repeat_n(0xA5u8, 4000)); // an older journal's bytes
        (b, records)
    };
    let (v5, v5_end) = journal(5);
    let (v4, _) = journal(4);
    std::fs::write(host_dir.join("00000000000000000007.journal"), &v5).unwrap();
    std::fs::write(host_dir.join("00000000000000000008.journal"), &v4).unwrap();
    let server = serve(&data, &[]);
    let (status, _, body) = get(
        server.addr,
        "/data/_journal/host=web-2/00000000000000000007.journal",
        None,
    );
    assert_eq!(status, 200);
    assert_eq!(
        body,
        v5[..v5_end],
        "format 5: its records, not the marker or what follows"
    );
    let (status, _, body) = get(
        server.addr,
        "/data/_journal/host=web-2/00000000000000000008.journal",
        None,
    );
    assert_eq!(status, 200);
    assert_eq!(body, v4, "format 4: the whole file");
}

/// 2026-11-25T00:00:00Z.
const T0: i64 = 1_795_564_800;

/// Host `web-1`, 30 minutes from [`T0`] at 1 s, in three segments of ten minutes each.
fn three_segments(dir: &Path) -> Vec<std::path::PathBuf> {
    let t0 = Timestamp::from_unix_secs(T0);
    for part in 0..3u64 {
        let start = t0.saturating_add(Duration::from_secs(600 * part));
        let mut w = stabmon_store::StoreWriter::create(dir).unwrap();
        for s in &Synth::new(start, Duration::from_secs(1))
            .count(600)
            .host("web-1")
            .generate()
        {
            w.write(s).unwrap();
        }
        w.finish().unwrap();
    }
    let segments = stabmon_store::StoreReader::open(dir)
        .unwrap()
        .segment_files();
    assert_eq!(segments.len(), 3, "{segments:?}");
    segments
}

/// A damaged segment in the middle of the range, the processes file of the last one (read only for what the page
/// shows, so found while the page is made) and a garbage journal (named as HTML where the file system allows it):
/// the page lists them, escaped, and stderr names each once, however many pages are rendered.
#[test]
fn skipped_files_are_named_on_the_page_and_once_on_stderr() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let segments = three_segments(&data);
    let middle = &segments[1];
    let garbage: Vec<u8> = (0..5000u32).map(|i| (i * 7919 % 251) as u8).collect();
    std::fs::write(middle, &garbage).unwrap();
    let processes = data
        .join("processes")
        .join(segments[2].strip_prefix(data.join("samples")).unwrap());
    std::fs::write(&processes, &garbage).unwrap();
    let (name, shown) = if cfg!(unix) {
        (
            "<img src=x onerror=alert(1)>.journal",
            "&lt;img src=x onerror=alert(1)&gt;.journal",
        )
    } else {
        ("garbage.journal", "garbage.journal")
    };
    let journal = data.join("_journal").join("host=web-1").join(name);
    std::fs::create_dir_all(journal.parent().unwrap()).unwrap();
    std::fs::write(&journal, b"not a journal at all").unwrap();
    // The server names files under its canonical data directory.
    let root = data.canonicalize().unwrap();
    let middle = root
        .join(middle.strip_prefix(&data).unwrap())
        .display()
        .to_string();
    let processes = root
        .join(processes.strip_prefix(&data).unwrap())
        .display()
        .to_string();
    let server = serve(&data, &[]);

    // Two views, so two renders (the cache is keyed by the query), each reading both files.
    for target in ["/", "/?refresh=0"] {
        let (status, head, body) = get(server.addr, target, None);
        let page = String::from_utf8_lossy(&body);
        assert_eq!(status, 200, "{target}: {head}");
        assert!(
            page.contains("<main id=\"charts\">"),
            "{target}: not the report"
        );
        let notice = page
            .split("<div class=\"warnings\"")
            .nth(1)
            .and_then(|n| n.split("</div>").next())
            .unwrap_or_else(|| panic!("{target}: no notice of the skipped files"));
        assert!(notice.contains("could not be read"), "{target}: {notice}");
        assert!(
            notice.contains(&format!("<li>skipped: {middle} is not a readable")),
            "{target}: {notice}"
        );
        assert!(notice.contains(&processes), "{target}: {notice}");
        assert!(notice.contains(shown), "{target}: {notice}");
        assert!(!page.contains("<img"), "{target}: a file name became HTML");
    }
    let stderr = server.stop();
    let lines = |what: &str| stderr.lines().filter(|l| l.contains(what)).count();
    assert_eq!(
        lines(&format!("warning: skipped: {middle} ")),
        1,
        "{stderr}"
    );
    assert_eq!(lines(&processes), 1, "{stderr}");
    assert_eq!(lines(name), 1, "{stderr}");
}

/// A range without samples names the range and what the data covers (stabmon-store's words, as the commands say
/// it), and says that the page reloads only when it does.
#[test]
fn an_empty_range_says_what_the_data_covers() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    three_segments(&data);
    let server = serve(&data, &[]);
    let range = "from=2026-11-01T00:00:00Z&to=2026-11-01T06:00:00Z";
    let said = "No samples of web-1 from 2026-11-01T00:00:00Z to 2026-11-01T06:00:00Z (the data for web-1 covers \
                2026-11-25T00:00:00Z to 2026-11-25T00:29:59Z)";
    let (status, head, body) = get(server.addr, &format!("/?{range}"), None);
    let page = String::from_utf8_lossy(&body);
    assert_eq!(status, 200, "{head}");
    assert!(
        page.contains(&format!("{said}; this page reloads by itself.")),
        "{page}"
    );
    let (status, head, body) = get(server.addr, &format!("/?{range}&refresh=0"), None);
    let page = String::from_utf8_lossy(&body);
    assert_eq!(status, 200, "{head}");
    assert!(page.contains(&format!("{said}.</p>")), "{page}");
    assert!(!page.contains("reloads"), "{page}");
    assert!(!page.contains("could not be read"), "{page}");
}

/// An open end is filled in from the data as for the commands (stabmon-store's `resolve_range`): `from` alone of
/// data weeks old reads to its newest sample (not to now, which would be a range beyond `--max-range`), and
/// `since` of data that ends before it is the range up to now, which says what the data covers.
#[test]
fn open_ends_are_filled_in_from_the_data() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    three_segments(&data);
    let server = serve(&data, &[]);
    let (status, head, body) = get(server.addr, "/?from=2026-11-25T00:20:00Z", None);
    let page = String::from_utf8_lossy(&body);
    assert_eq!(status, 200, "{head}\n{page}");
    assert!(page.contains("<main id=\"charts\">"), "{page}");
    let (status, head, body) = get(server.addr, "/?since=1h", None);
    let page = String::from_utf8_lossy(&body);
    assert_eq!(status, 200, "{head}");
    assert!(
        page.contains(
            " (the data for web-1 covers 2026-11-25T00:00:00Z to 2026-11-25T00:29:59Z); this page reloads \
             by itself."
        ),
        "{page}"
    );
    // A start after the data, long before now: no samples there, not a range too long.
    let (status, head, body) = get(server.addr, "/?from=2026-11-26T00:00:00Z", None);
    let page = String::from_utf8_lossy(&body);
    assert_eq!(status, 200, "{head}\n{page}");
    assert!(
        page.contains(
            "No samples of web-1 from 2026-11-26T00:00:00Z on (the data for web-1 covers"
        ),
        "{page}"
    );
    // A range known to be too long is still refused before any render.
    let (status, _, body) = get(
        server.addr,
        "/?from=2026-11-01T00:00:00Z&to=2026-11-25T00:00:00Z",
        None,
    );
    assert_eq!(status, 400);
    assert!(String::from_utf8_lossy(&body).contains("--max-range"));
}
