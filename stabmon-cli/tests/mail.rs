//! `stabmon report --png` and `stabmon mail`: the charts as files, and the mail as a real SMTP server on 127.0.0.1
//! receives it.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Stdio};
use std::time::{Duration, Instant};

use assert_cmd::Command;
use serde_json::Value;

fn stabmon() -> Command {
    let mut cmd = Command::cargo_bin("stabmon").unwrap();
    cmd.env_remove("STABMON_DATA");
    cmd.env_remove("STABMON_SMTP_PASSWORD");
    cmd
}

/// A store with two hours of synthetic samples (host `web-1`, from 2026-11-25T00:00:00Z) in which a process with a
/// hostile name (`name`, command line `cmdline`) burns two cores from 00:30 to 00:40, plus `extra` short CPU
/// surges of other processes after 01:00.
fn store_with_hog(dir: &Path, name: &str, cmdline: &str, extra: u64) {
    use stabmon_core::Timestamp;
    use stabmon_core::synth::Synth;
    let start = Timestamp::from_unix_secs(1_795_564_800);
    let at = |s: u64| start.saturating_add(Duration::from_secs(s));
    let mut synth = Synth::new(start, Duration::from_secs(1))
        .count(7200)
        .host("web-1")
        .cpu_hog(name, cmdline, at(1800), at(2400), 190.0);
    for k in 0..extra {
        let t = 3700 + k * 60;
        synth = synth.cpu_hog(format!("burst{k}"), "./burst", at(t), at(t + 25), 190.0);
    }
    let samples = synth.generate();
    let mut w = stabmon_store::StoreWriter::create(dir).unwrap();
    for s in &samples {
        w.write(s).unwrap();
    }
    w.finish().unwrap();
}

#[test]
fn report_png_writes_the_charts_alone_or_beside_the_page() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    store_with_hog(&data, "xmrig", "./xmrig -o pool.example:3333", 0);
    let pngs = dir.path().join("charts");
    let out = stabmon()
        .current_dir(dir.path())
        .args(["report", "--data"])
        .arg(&data)
        .arg("--png")
        .arg(&pngs)
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stderr}");
    assert!(stderr.contains("cpu.png, mem.png, load.png in"), "{stderr}");
    for name in ["cpu", "mem", "load"] {
        let bytes = std::fs::read(pngs.join(format!("{name}.png"))).unwrap();
        assert!(bytes.starts_with(b"\x89PNG\r\n\x1a\n"), "{name}");
        let dec = png::Decoder::new(std::io::Cursor::new(bytes))
            .read_info()
            .unwrap();
        assert_eq!(dec.info().width, 600, "{name}");
    }
    // Only the charts were asked for: no page.
    assert!(!dir.path().join("report.html").exists());

    // With -o as well: both.
    let html = dir.path().join("r.html");
    let out = stabmon()
        .args(["report", "--data"])
        .arg(&data)
        .arg("-o")
        .arg(&html)
        .arg("--png")
        .arg(&pngs)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        std::fs::read_to_string(&html)
            .unwrap()
            .contains("xmrig (pid")
    );

    // A directory that cannot be made: exit 2, naming it.
    let blocker = dir.path().join("file");
    std::fs::write(&blocker, "x").unwrap();
    let out = stabmon()
        .args(["report", "--data"])
        .arg(&data)
        .arg("--png")
        .arg(blocker.join("sub"))
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert!(stderr.contains("file/sub"), "{stderr}");
    assert_eq!(stderr.trim().lines().count(), 1, "{stderr}");
}

/// True when Python's aiosmtpd is there; otherwise says SKIPPED (and fails under CI, which installs it).
fn aiosmtpd_or_skip(test: &str) -> bool {
    let ok = std::process::Command::new("python3")
        .args(["-c", "import aiosmtpd"])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success());
    if !ok {
        assert!(
            std::env::var("CI").as_deref() != Ok("true"),
            "{test}: python3 with aiosmtpd is required under CI (.ci/run installs it)"
        );
        eprintln!("SKIPPED {test}: python3 with aiosmtpd not found (pip install aiosmtpd)");
    }
    ok
}

fn script() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/support/smtp_server.py")
}

/// aiosmtpd on 127.0.0.1 with a self-signed certificate for 127.0.0.1 (`cert`), requiring the login
/// stabmon/s3cret; stopped when dropped.
struct Server {
    child: Child,
    port: u16,
    out: PathBuf,
    cert: PathBuf,
}

impl Server {
    fn start(mode: &str, dir: &Path) -> Server {
        let ck = rcgen::generate_simple_self_signed(vec!["127.0.0.1".to_owned()]).unwrap();
        let dir = dir.join(mode);
        let out = dir.join("received");
        std::fs::create_dir_all(&out).unwrap();
        let (cert, key) = (dir.join("cert.pem"), dir.join("key.pem"));
        std::fs::write(&cert, ck.cert.pem()).unwrap();
        std::fs::write(&key, ck.signing_key.serialize_pem()).unwrap();
        let mut child = std::process::Command::new("python3")
            .arg(script())
            .arg(mode)
            .args([&cert, &key, &out])
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .spawn()
            .unwrap();
        let stdout = child.stdout.take().unwrap();
        let (tx, rx) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            let mut line = String::new();
            let _ = BufReader::new(stdout).read_line(&mut line);
            let _ = tx.send(line);
        });
        let line = rx.recv_timeout(Duration::from_secs(30)).unwrap_or_default();
        let port = line
            .strip_prefix("READY ")
            .and_then(|p| p.trim().parse().ok())
            .unwrap_or_else(|| {
                let _ = child.kill();
                panic!("the SMTP server did not start: {line:?}")
            });
        Server {
            child,
            port,
            out,
            cert,
        }
    }

    /// The `n`th message received (from 1), waiting up to 30 s for it.
    fn message(&self, n: usize) -> Value {
        let path = self.out.join(format!("{n}.json"));
        let deadline = Instant::now() + Duration::from_secs(30);
        while !path.exists() {
            assert!(Instant::now() < deadline, "no message {n} arrived");
            std::thread::sleep(Duration::from_millis(50));
        }
        serde_json::from_slice(&std::fs::read(&path).unwrap()).unwrap()
    }

    fn received(&self) -> usize {
        std::fs::read_dir(&self.out).unwrap().count()
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        drop(self.child.stdin.take());
        let deadline = Instant::now() + Duration::from_secs(5);
        while Instant::now() < deadline {
            if let Ok(Some(_)) = self.child.try_wait() {
                return;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A process name and command line that try to break out of every context the mail puts them in.
const EVIL_NAME: &str = "evil\r\nBcc: victim@example.com\r\n<script>alert(1)</script>";
const EVIL_CMD: &str = "./evil --x '</code><img src=x onerror=alert(2)>' \r\n\r\n--boundary";

/// The range of the synthetic store.
const RANGE: [&str; 4] = [
    "--from",
    "2026-11-25T00:00:00Z",
    "--to",
    "2026-11-25T02:00:00Z",
];

fn decode_png(b64: &str) -> (u32, u32, Vec<u8>) {
    use base64::Engine as _;
    let bytes = base64::engine::general_purpose::STANDARD
        .decode(b64)
        .unwrap();
    let mut dec = png::Decoder::new(std::io::Cursor::new(bytes))
        .read_info()
        .unwrap();
    let mut buf = vec![0; dec.output_buffer_size().unwrap()];
    let info = dec.next_frame(&mut buf).unwrap();
    assert_eq!(info.color_type, png::ColorType::Rgb);
    buf.truncate(info.buffer_size());
    (info.width, info.height, buf)
}

/// Pixels within 12 of `c` in the columns `xs`, rows `ys`.
fn count_colour(
    img: &(u32, u32, Vec<u8>),
    c: [u8; 3],
    xs: std::ops::Range<u32>,
    ys: std::ops::Range<u32>,
) -> usize {
    let (w, h, rgb) = img;
    let mut n = 0;
    for y in ys.start..ys.end.min(*h) {
        for x in xs.start..xs.end.min(*w) {
            let i = ((y * w + x) * 3) as usize;
            if (0..3).all(|k| (i32::from(rgb[i + k]) - i32::from(c[k])).abs() <= 12) {
                n += 1;
            }
        }
    }
    n
}

/// Checks a received or written message: the MIME tree, the size limits, the escaping of the hostile name, the
/// inline images (every cid: has its PNG, which decodes) and the attachment.
fn check_message(m: &Value) -> String {
    let tree = m["tree"].to_string();
    assert_eq!(
        tree,
        r#"["multipart/mixed",[["multipart/alternative",["text/plain",["multipart/related",["text/html","image/png","image/png","image/png"]]]],"text/html"]]"#
    );
    let html = m["html"].as_str().unwrap();
    let text = m["text"].as_str().unwrap();
    let subject = m["subject"].as_str().unwrap();
    assert!(html.len() < 100_000, "{} bytes of HTML", html.len());
    assert!(m["size"].as_u64().unwrap() < 5_000_000);
    // No header was injected, and the subject is one line.
    let headers: Vec<String> = m["headers"]
        .as_array()
        .unwrap()
        .iter()
        .map(|h| h.as_str().unwrap().to_ascii_lowercase())
        .collect();
    assert!(!headers.iter().any(|h| h == "bcc"), "{headers:?}");
    assert!(!subject.contains(['\r', '\n']), "{subject:?}");
    assert_eq!(m["raw_subject_lines"].as_array().unwrap().len(), 1);
    // The hostile name is text, never markup, in the HTML; on one line in the text.
    assert!(
        !html.contains("<script>") && !html.contains("<img src=x"),
        "raw markup in the body"
    );
    assert!(
        html.contains("&lt;script&gt;alert(1)&lt;/script&gt;"),
        "the name is not shown escaped"
    );
    assert!(html.contains("&lt;/code&gt;&lt;img src=x onerror=alert(2)&gt;"));
    assert!(
        text.contains("evil Bcc: victim@example.com <script>alert(1)</script>"),
        "{text}"
    );
    assert!(!text.contains("\r\nBcc:") && !text.contains("\nBcc:"));
    assert!(subject.starts_with("stabmon web-1: "), "{subject}");
    // Every cid: in the body has its image, and every image decodes.
    let images = m["images"].as_object().unwrap();
    let cids: Vec<&str> = html
        .split("src=\"cid:")
        .skip(1)
        .map(|r| r.split('"').next().unwrap())
        .collect();
    assert_eq!(cids, ["cpu@stabmon", "mem@stabmon", "load@stabmon"]);
    for cid in &cids {
        let (w, _, _) = decode_png(images[*cid].as_str().unwrap());
        assert_eq!(w, 600);
    }
    // The CPU chart: the busy series' blue where the hog is (00:30-00:40 of two hours), the culprit label's
    // colour above it.
    let cpu = decode_png(images["cpu@stabmon"].as_str().unwrap());
    let x_of = |s: f64| (62.0 + 520.0 * s / 7200.0) as u32;
    let blue = [0x25, 0x63, 0xeb];
    let top_in = |xs: std::ops::Range<u32>| {
        (0..cpu.1).find(|&y| count_colour(&cpu, blue, xs.clone(), y..y + 1) > 0)
    };
    let (hog, calm) = (
        top_in(x_of(1900.0)..x_of(2300.0)).unwrap(),
        top_in(x_of(300.0)..x_of(1500.0)).unwrap(),
    );
    assert!(
        hog + 40 < calm,
        "busy line top over the hog {hog}, elsewhere {calm}"
    );
    assert!(count_colour(&cpu, [0xc2, 0x41, 0x0c], x_of(1200.0)..x_of(3000.0), 0..hog) > 100);
    let att = &m["attachments"][0];
    assert_eq!(
        att["filename"].as_str().unwrap(),
        "stabmon-web-1-20261125T0000Z-20261125T0200Z.html"
    );
    assert!(att["head"].as_str().unwrap().starts_with("<!DOCTYPE html>"));
    html.to_owned()
}

/// Renders the body in headless Chromium at `width` pixels, with the images it names by cid: as files beside
/// it, and saves a screenshot for people to look at.
fn screenshot_body(html: &str, images: &serde_json::Map<String, Value>, dir: &Path, width: u32) {
    let chromium = ["chromium", "chromium-browser", "google-chrome"]
        .into_iter()
        .find(|c| {
            std::process::Command::new(c)
                .arg("--version")
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .status()
                .is_ok_and(|s| s.success())
        });
    let Some(chromium) = chromium else {
        eprintln!("SKIPPED the screenshot of the mail body: Chromium not found");
        return;
    };
    use base64::Engine as _;
    let mut page = html.to_owned();
    for (cid, b64) in images {
        let file = format!("{}.png", cid.replace('@', "-"));
        let bytes = base64::engine::general_purpose::STANDARD
            .decode(b64.as_str().unwrap())
            .unwrap();
        std::fs::write(dir.join(&file), bytes).unwrap();
        page = page.replace(&format!("cid:{cid}"), &file);
    }
    let body = dir.join("body.html");
    std::fs::write(&body, page).unwrap();
    let shot = Path::new(env!("CARGO_TARGET_TMPDIR")).join(format!("mail-body-{width}.png"));
    let _ = std::fs::remove_file(&shot);
    let profile = tempfile::tempdir().unwrap();
    let status = std::process::Command::new(chromium)
        .args([
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--hide-scrollbars",
        ])
        .arg(format!("--user-data-dir={}", profile.path().display()))
        .arg(format!("--screenshot={}", shot.display()))
        .arg(format!("--window-size={width},2200"))
        .arg(format!("file://{}", body.display()))
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .unwrap();
    assert!(
        status.success() && shot.is_file(),
        "no screenshot at {width} px"
    );
    eprintln!("mail body at {width} px: {}", shot.display());
}

#[test]
fn mail_arrives_over_starttls_and_reads_in_any_client() {
    if !aiosmtpd_or_skip("mail_arrives_over_starttls_and_reads_in_any_client") {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    store_with_hog(&data, EVIL_NAME, EVIL_CMD, 0);
    let server = Server::start("starttls", dir.path());
    let out = stabmon()
        .args(["mail", "--data"])
        .arg(&data)
        .args(RANGE)
        .args([
            "--mail-to",
            "ops@example.com",
            "--mail-to",
            "Second <two@example.com>",
        ])
        .args(["--mail-from", "stabmon@web-1.example.com"])
        .arg("--smtp")
        .arg(format!("smtp://stabmon@127.0.0.1:{}", server.port))
        .env("STABMON_SMTP_PASSWORD", "s3cret")
        .arg("--smtp-ca")
        .arg(&server.cert)
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stderr}");
    assert!(stderr.contains("sent to ops@example.com"), "{stderr}");
    let m = server.message(1);
    assert_eq!(m["login"], "stabmon");
    assert_eq!(m["mail_from"], "stabmon@web-1.example.com");
    assert_eq!(
        m["rcpt_tos"].to_string(),
        r#"["ops@example.com","two@example.com"]"#
    );
    let html = check_message(&m);
    let shots = dir.path().join("shots");
    std::fs::create_dir_all(&shots).unwrap();
    for width in [600, 375] {
        screenshot_body(&html, m["images"].as_object().unwrap(), &shots, width);
    }
}

#[test]
fn mail_over_smtps_and_the_failures_of_a_send() {
    if !aiosmtpd_or_skip("mail_over_smtps_and_the_failures_of_a_send") {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    store_with_hog(&data, EVIL_NAME, EVIL_CMD, 0);
    let server = Server::start("smtps", dir.path());
    // Only the first send renders the whole range; the failures need no big report: ten minutes of data.
    let short = [
        "--from",
        "2026-11-25T00:00:00Z",
        "--to",
        "2026-11-25T00:10:00Z",
    ];
    let send = |url: String, ca: Option<&Path>| {
        let full = url.contains(":s3cret@") && ca.is_some();
        let mut cmd = stabmon();
        cmd.args(["mail", "--data"])
            .arg(&data)
            .args(if full { RANGE } else { short })
            .args(["--mail-to", "ops@example.com", "--smtp", &url]);
        if let Some(ca) = ca {
            cmd.arg("--smtp-ca").arg(ca);
        }
        let out = cmd.output().unwrap();
        (
            out.status.code(),
            String::from_utf8_lossy(&out.stderr).into_owned(),
        )
    };
    let port = server.port;
    let (code, stderr) = send(
        format!("smtps://stabmon:s3cret@127.0.0.1:{port}"),
        Some(&server.cert),
    );
    assert_eq!(code, Some(0), "{stderr}");
    let m = server.message(1);
    check_message(&m);
    // The default sender is stabmon at the recorded host.
    assert_eq!(m["mail_from"], "stabmon@web-1");

    // Refused login: exit 1, one line naming the relay, and no password shown.
    let (code, stderr) = send(
        format!("smtps://stabmon:wrong@127.0.0.1:{port}"),
        Some(&server.cert),
    );
    assert_eq!(code, Some(1), "{stderr}");
    assert_eq!(stderr.trim().lines().count(), 1, "{stderr}");
    assert!(
        stderr.contains(&format!("smtps://stabmon:***@127.0.0.1:{port}")),
        "{stderr}"
    );
    assert!(!stderr.contains("wrong"), "{stderr}");
    // The relay's certificate is not trusted without --smtp-ca.
    let (code, stderr) = send(format!("smtps://stabmon:s3cret@127.0.0.1:{port}"), None);
    assert_eq!(code, Some(1), "{stderr}");
    assert!(stderr.contains("cannot send the mail through"), "{stderr}");
    // Nobody listening.
    let closed = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let (code, stderr) = send(format!("smtp://127.0.0.1:{closed}"), Some(&server.cert));
    assert_eq!(code, Some(1), "{stderr}");
    assert_eq!(stderr.trim().lines().count(), 1, "{stderr}");
    assert!(
        stderr.contains(&format!("smtp://127.0.0.1:{closed}")),
        "{stderr}"
    );
    assert_eq!(server.received(), 1);
}

#[test]
fn a_day_of_fifty_incidents_stays_small_and_counts_the_rest() {
    if !aiosmtpd_or_skip("a_day_of_fifty_incidents_stays_small_and_counts_the_rest") {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    store_with_hog(&data, EVIL_NAME, EVIL_CMD, 50);
    let eml = dir.path().join("m.eml");
    let out = stabmon()
        .args(["mail", "--data"])
        .arg(&data)
        .args(RANGE)
        .args(["--mail-to", "ops@example.com", "--dry-run"])
        .arg(&eml)
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stderr}");
    let parsed = std::process::Command::new("python3")
        .arg(script())
        .arg("parse")
        .arg(&eml)
        .output()
        .unwrap();
    assert!(
        parsed.status.success(),
        "{}",
        String::from_utf8_lossy(&parsed.stderr)
    );
    let m: Value = serde_json::from_slice(&parsed.stdout).unwrap();
    let html = check_message(&m);
    let incidents = html.matches("border-left:4px solid").count();
    assert_eq!(
        incidents,
        stabmon_report::MAIL_MAX_INCIDENTS,
        "incidents listed"
    );
    assert!(html.contains(" more incidents ("), "no count of the rest");
    assert!(m["text"].as_str().unwrap().contains(" more incidents ("));
    eprintln!(
        "50 incidents: HTML {} bytes, message {} bytes",
        html.len(),
        m["size"]
    );
}

#[test]
fn bad_mail_flags_exit_2_naming_the_input() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let cases: [(&[&str], &str); 6] = [
        (
            &["--mail-to", "not an address", "--smtp", "smtp://h"],
            "not an address",
        ),
        (
            &[
                "--mail-to",
                "a@b.c",
                "--mail-from",
                "x@",
                "--smtp",
                "smtp://h",
            ],
            "--mail-from",
        ),
        (
            &["--mail-to", "a@b.c", "--smtp", "http://h"],
            "invalid SMTP URL \"http://h\"",
        ),
        (
            &["--mail-to", "a@b.c", "--smtp", "smtp://u:pw@h:70000"],
            "smtp://u:***@h:70000",
        ),
        (
            &[
                "--mail-to",
                "a@b.c",
                "--smtp",
                "smtp://h",
                "--smtp-ca",
                "/nonexistent/ca.pem",
            ],
            "/nonexistent/ca.pem",
        ),
        (&["--smtp", "smtp://h"], "--mail-to"),
    ];
    for (args, named) in cases {
        let out = stabmon()
            .args(["mail", "--data"])
            .arg(&data)
            .args(args)
            .output()
            .unwrap();
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{args:?}: {stderr}");
        assert_eq!(stderr.trim().lines().count(), 1, "{args:?}: {stderr}");
        assert!(stderr.contains(named), "{args:?}: {stderr}");
        assert!(!stderr.contains(":pw@"), "{stderr}");
    }
}

#[test]
fn the_recorder_keeps_recording_while_its_notifications_fail_and_keeps_what_is_unsent() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    std::fs::create_dir_all(&data).unwrap();
    // The last digest was handled two days ago: the latest one is due at start.
    let two_days_ago = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_micros() as i64
        - 2 * 86_400_000_000;
    let state = data.join("notify-state.json");
    std::fs::write(&state, format!("{{\"last_digest_us\": {two_days_ago}}}")).unwrap();
    let closed = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let out = stabmon()
        .args([
            "record",
            "--duration",
            "3s",
            "--interval",
            "500ms",
            "--data",
        ])
        .arg(&data)
        .args(["--digest-at", "00:00", "--webhook"])
        .arg(format!("http://127.0.0.1:{closed}/hooks/secret"))
        .timeout(Duration::from_secs(60))
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stderr}");
    assert!(
        stderr.contains(&format!(
            "notifying a digest daily at 00:00: webhook http://127.0.0.1:{closed}/..."
        )),
        "{stderr}"
    );
    assert!(!stderr.contains("secret"), "{stderr}");
    // Recording went on: samples written.
    let stopped = stderr
        .lines()
        .find(|l| l.contains("recording stopped: "))
        .unwrap_or_else(|| panic!("{stderr}"));
    let samples: u64 = stopped
        .split("recording stopped: ")
        .nth(1)
        .and_then(|r| r.split(' ').next())
        .and_then(|n| n.parse().ok())
        .unwrap();
    assert!(samples >= 4, "{stopped}");
    // The failure is logged once, and the digest is kept for the next run.
    assert_eq!(stderr.matches("is kept and retried").count(), 1, "{stderr}");
    let kept: Value = serde_json::from_slice(&std::fs::read(&state).unwrap()).unwrap();
    let pending = kept["pending"].as_array().unwrap();
    assert_eq!(pending.len(), 1, "{kept}");
    assert_eq!(pending[0]["kind"], "digest");
    assert_eq!(pending[0]["attempts"], 1);

    // The same from a config file's keys; a bad key value is an error naming the key.
    let cfg = dir.path().join("stabmon.toml");
    std::fs::write(
        &cfg,
        format!(
            "digest_at = \"07:30\"\nincident_mail = true\nincident_mail_every = \"5m\"\n\
             webhook = \"http://127.0.0.1:{closed}/x\"\n"
        ),
    )
    .unwrap();
    let out = stabmon()
        .args(["record", "--duration", "1s", "--data"])
        .arg(&data)
        .arg("--config")
        .arg(&cfg)
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stderr}");
    assert!(
        stderr
            .contains("notifying a digest daily at 07:30 and incidents at most every 5m: webhook"),
        "{stderr}"
    );
    std::fs::write(&cfg, "digest_at = \"7h\"\n").unwrap();
    let out = stabmon()
        .args(["record", "--duration", "1s", "--data"])
        .arg(&data)
        .arg("--config")
        .arg(&cfg)
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert!(stderr.contains("key `digest_at`"), "{stderr}");

    // Bad notification flags stop the recorder before it starts: exit 2, one line.
    for (args, named) in [
        (
            &["--digest-at", "25:00", "--webhook", "http://127.0.0.1:1/"][..],
            "25:00",
        ),
        (&["--incident-mail", "--mail-to", "a@b.c"][..], "--smtp"),
        (&["--incident-mail"][..], "where to send"),
        (&["--incident-mail", "--webhook", "ftp://x"][..], "ftp://x"),
    ] {
        let out = stabmon()
            .args(["record", "--duration", "1s", "--data"])
            .arg(&data)
            .args(args)
            .output()
            .unwrap();
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{args:?}: {stderr}");
        assert!(stderr.contains(named), "{args:?}: {stderr}");
        assert_eq!(stderr.trim().lines().count(), 1, "{args:?}: {stderr}");
    }
}
