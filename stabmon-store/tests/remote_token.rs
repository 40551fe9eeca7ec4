//! A data directory behind a URL that wants a bearer token: sent when given, a clear error when missing or wrong.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpListener;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::thread;
use std::time::Duration;

use stabmon_core::Timestamp;
use stabmon_core::synth::Synth;
use stabmon_store::{FlightRecorder, RecorderOptions, StoreReader};

/// A static file server of `root` on 127.0.0.1 that answers 401 unless `Authorization: Bearer <token>` is sent,
/// and records the Authorization header of every request. Returns its base URL and the headers seen.
fn serve(root: PathBuf, token: &'static str) -> (String, Arc<Mutex<Vec<Option<String>>>>) {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let seen = Arc::new(Mutex::new(Vec::new()));
    let log = Arc::clone(&seen);
    thread::spawn(move || {
        for stream in listener.incoming().take(1000) {
            let Ok(mut stream) = stream else { continue };
            let mut reader = BufReader::new(stream.try_clone().unwrap());
            let mut line = String::new();
            if reader.read_line(&mut line).is_err() {
                continue;
            }
            let mut auth = None;
            loop {
                let mut h = String::new();
                if reader.read_line(&mut h).unwrap_or(0) == 0 || h == "\r\n" {
                    break;
                }
                if let Some((k, v)) = h.split_once(':')
                    && k.eq_ignore_ascii_case("authorization")
                {
                    auth = Some(v.trim().to_owned());
                }
            }
            log.lock().unwrap().push(auth.clone());
            let path = line.split_whitespace().nth(1).unwrap_or("/").to_owned();
            let file = path
                .trim_start_matches('/')
                .split('/')
                .map(|c| c.replace("%3D", "=").replace("%3d", "="))
                .fold(root.clone(), |p, c| p.join(c));
            let mut body = Vec::new();
            let status = if auth.as_deref() != Some(&format!("Bearer {token}")) {
                "401 Unauthorized"
            } else {
                match std::fs::File::open(&file).and_then(|mut f| f.read_to_end(&mut body)) {
                    Ok(_) if file.is_file() => "200 OK",
                    _ => {
                        body.clear();
                        "404 Not Found"
                    }
                }
            };
            let _ = write!(
                stream,
                "HTTP/1.1 {status}\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
                body.len()
            );
            let _ = stream.write_all(&body);
        }
    });
    (format!("http://127.0.0.1:{port}"), seen)
}

#[test]
fn a_token_is_sent_as_a_bearer_and_refusals_are_explained() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let start = Timestamp::from_unix_secs(1_795_564_800);
    let samples = Synth::new(start, Duration::from_secs(1))
        .count(30)
        .processes(40)
        .host("web-1")
        .generate();
    // Written by a recorder, which keeps the manifest a remote reader starts from.
    let (mut rec, _) = FlightRecorder::open(&data, RecorderOptions::new()).unwrap();
    for s in &samples {
        assert!(rec.record(s).is_empty());
    }
    rec.stop(start.saturating_add(Duration::from_secs(30)))
        .unwrap();

    let (base, seen) = serve(dir.path().to_path_buf(), "s3cret");
    let url = format!("{base}/data");

    let reader = StoreReader::open_url_with_token(&url, Some("s3cret")).unwrap();
    let got = reader.samples(None, None).unwrap();
    assert_eq!(got.len(), samples.len());
    let headers = seen.lock().unwrap().clone();
    assert!(headers.len() >= 2, "manifest and segments: {headers:?}");
    assert!(
        headers
            .iter()
            .all(|h| h.as_deref() == Some("Bearer s3cret")),
        "{headers:?}"
    );
    // The token stays out of Debug output.
    assert!(!format!("{reader:?}").contains("s3cret"));

    let e = StoreReader::open_url_with_token(&url, None)
        .unwrap_err()
        .to_string();
    assert!(
        e.contains("401") && e.contains("wants a token") && e.contains(&url),
        "{e}"
    );
    let e = StoreReader::open_url_with_token(&url, Some("wrong"))
        .unwrap_err()
        .to_string();
    assert!(e.contains("401") && e.contains("token was refused"), "{e}");
    assert!(!e.contains("wrong"), "the token leaked into the error: {e}");
}
