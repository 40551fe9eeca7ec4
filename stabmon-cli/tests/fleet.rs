//! Object storage through the real binary, against moto on 127.0.0.1 (and Azure's emulator, Azurite, where it is
//! installed): `stabmon ship`, `--data s3://...` for the reading commands, `record --ship` with an endpoint that
//! fails, and bad URLs.
#![allow(clippy::unwrap_used, clippy::expect_used)]

#[path = "support/azurite.rs"]
mod azurite;
#[path = "../../stabmon-store/tests/moto/mod.rs"]
mod moto;
#[path = "support/serve.rs"]
mod server;

use std::path::Path;
use std::process::{Command, Output, Stdio};

use azurite::Azurite;
use moto::Moto;

fn stabmon(env: &[(String, String)]) -> Command {
    let mut c = Command::new(assert_cmd::cargo::cargo_bin("stabmon"));
    c.env_remove("STABMON_DATA").stdin(Stdio::null());
    for (k, v) in env {
        c.env(k, v);
    }
    c
}

fn run(env: &[(String, String)], args: &[&str]) -> Output {
    stabmon(env).args(args).output().unwrap()
}

fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

fn record(dir: &Path, env: &[(String, String)], extra: &[&str]) -> Output {
    let d = dir.to_str().unwrap();
    let mut args = vec![
        "record",
        "--interval",
        "100ms",
        "--duration",
        "3s",
        "--data",
        d,
    ];
    args.extend_from_slice(extra);
    run(env, &args)
}

/// The range the synthetic hosts' hour lies in.
const RANGE: [&str; 4] = [
    "--from",
    "2026-11-24T00:00:00Z",
    "--to",
    "2026-11-26T00:00:00Z",
];

/// Writes `synth`'s samples into a store at `dir`, as the recorder lays them out.
fn write_store(dir: &Path, synth: &stabmon_core::synth::Synth) {
    let mut w = stabmon_store::StoreWriter::create(dir).unwrap();
    for s in synth.iter() {
        w.write(&s).unwrap();
    }
    w.finish().unwrap();
}

/// `record --ship URL` while the bucket fails (for `why`, a word of the log line): it records locally, says so
/// in one line naming the URL, and exits 0 with the samples in `dir`.
fn records_locally_while_shipping_fails(
    dir: &Path,
    env: &[(String, String)],
    url: &str,
    why: &str,
) {
    let out = record(dir, env, &["--ship", url, "--rotate", "10s"]);
    let err = text(&out.stderr);
    assert!(out.status.success(), "{err}");
    let fails: Vec<&str> = err
        .lines()
        .filter(|l| l.contains("shipping fails"))
        .collect();
    assert_eq!(fails.len(), 1, "{err}");
    assert!(fails[0].contains(url) && fails[0].contains(why), "{err}");
    let out = run(&[], &["dump", "--data", dir.to_str().unwrap()]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert!(text(&out.stdout).lines().count() > 10);
}

/// `stabmon ARGS` fails with exit 1 and one line naming `url` and saying `why`.
fn fails_in_one_line(env: &[(String, String)], args: &[&str], url: &str, why: &str) {
    let out = run(env, args);
    let err = text(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{args:?}: {err}");
    assert!(err.contains(url) && err.contains(why), "{args:?}: {err}");
    assert_eq!(err.trim().lines().count(), 1, "{args:?}: {err}");
}

#[test]
fn shipped_data_reads_back_the_same_and_shipping_twice_uploads_nothing() {
    let Some(moto) = Moto::start() else { return };
    moto.create_bucket("fleet");
    ship_twice_and_read_back(&moto.env(), "s3://fleet/prod");
}

#[test]
fn azure_blob_storage_through_azurite_reads_back_the_same() {
    let Some(azurite) = Azurite::start() else {
        return;
    };
    azurite.create_container("fleet");
    ship_twice_and_read_back(&azurite.env(), "az://fleet/prod");
}

/// Records a few seconds, ships them to `url` twice (the second time nothing is uploaded), and reads them back
/// from `url` as from the directory: the same dump and incidents.
fn ship_twice_and_read_back(env: &[(String, String)], url: &str) {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("data");
    let out = record(&dir, &[], &[]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let d = dir.to_str().unwrap();

    let out = run(env, &["ship", "--data", d, url]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let err = text(&out.stderr);
    assert!(
        err.contains(url) && !err.contains(" 0 file(s) uploaded"),
        "{err}"
    );
    let out = run(env, &["ship", "--data", d, url]);
    let err = text(&out.stderr);
    assert!(
        out.status.success() && err.contains(" 0 file(s) uploaded"),
        "{err}"
    );

    for cmd in [
        vec!["dump", "--format", "json"],
        vec![
            "incidents",
            "--json",
            "--from",
            "2000-01-01T00:00:00Z",
            "--to",
            "2100-01-01T00:00:00Z",
        ],
    ] {
        let local = run(&[], &[cmd.as_slice(), &["--data", d]].concat());
        let remote = run(env, &[cmd.as_slice(), &["--data", url]].concat());
        assert!(local.status.success(), "{}", text(&local.stderr));
        assert!(remote.status.success(), "{cmd:?}: {}", text(&remote.stderr));
        assert!(!local.stdout.is_empty());
        assert_eq!(text(&remote.stdout), text(&local.stdout), "{cmd:?}");
    }
    // A file:// URL reads the directory itself.
    let file_url = format!("file://{d}");
    let out = run(&[], &["dump", "--data", &file_url]);
    assert!(out.status.success(), "{}", text(&out.stderr));
}

#[test]
fn bad_urls_and_a_failing_endpoint_are_one_line_errors_and_recording_goes_on() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("data");
    let d = dir.to_str().unwrap();
    std::fs::create_dir_all(&dir).unwrap();

    // Unknown schemes: bad input, exit 2, naming the URL.
    let out = run(&[], &["ship", "--data", d, "ftp://host/x"]);
    assert_eq!(out.status.code(), Some(2), "{}", text(&out.stderr));
    assert!(text(&out.stderr).contains("ftp://host/x"));
    assert_eq!(
        text(&out.stderr).trim().lines().count(),
        1,
        "{}",
        text(&out.stderr)
    );
    let out = run(&[], &["dump", "--data", "ftp://host/x"]);
    assert_eq!(out.status.code(), Some(2), "{}", text(&out.stderr));
    assert!(text(&out.stderr).contains("ftp://host/x"));
    let out = run(&[], &["record", "--data", d, "--ship", "gopher://x"]);
    assert_eq!(out.status.code(), Some(2), "{}", text(&out.stderr));

    // An endpoint where nothing listens.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let env: Vec<(String, String)> = [
        ("AWS_ENDPOINT_URL", format!("http://127.0.0.1:{port}")),
        ("AWS_ALLOW_HTTP", "true".to_owned()),
        ("AWS_ACCESS_KEY_ID", "testing".to_owned()),
        ("AWS_SECRET_ACCESS_KEY", "testing".to_owned()),
        ("AWS_REGION", "us-east-1".to_owned()),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_owned(), v))
    .collect();
    let url = "s3://fleet/prod";
    fails_in_one_line(&env, &["dump", "--data", url], url, "unreachable");

    // The recorder records locally while the upload fails, and says so once.
    records_locally_while_shipping_fails(&dir, &env, url, "unreachable");

    // The same with the one-off command: exit 1, one line naming the URL.
    fails_in_one_line(&env, &["ship", "--data", d, url], url, "unreachable");
}

#[test]
fn wrong_credentials_are_one_line_errors_and_recording_goes_on() {
    let Some(moto) = Moto::start_refusing_keys("fleet") else {
        return;
    };
    let env = moto.env();
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("data");
    let d = dir.to_str().unwrap();
    let url = "s3://fleet/prod";

    // The recorder records locally while the bucket refuses its keys, and says so once, naming the URL.
    records_locally_while_shipping_fails(&dir, &env, url, "credentials");

    // Shipping once and reading: exit 1, one line naming the URL and the refusal.
    for args in [
        &["ship", "--data", d, url][..],
        &["incidents", "--all-hosts", "--data", url][..],
    ] {
        fails_in_one_line(&env, args, url, "credentials were refused");
    }
}

#[test]
fn incidents_across_all_hosts_of_a_bucket_in_one_table() {
    use stabmon_core::Timestamp;
    use stabmon_core::synth::Synth;
    use std::time::Duration;
    let Some(moto) = Moto::start() else { return };
    moto.create_bucket("fleet");
    let env = moto.env();
    let tmp = tempfile::tempdir().unwrap();
    let start = Timestamp::from_unix_secs(1_795_557_600);
    let at = |s: u64| start.saturating_add(Duration::from_secs(s));
    let url = "s3://fleet/all";
    // Both hosts in one directory too, for the same answers from it.
    let both = tmp.path().join("both");
    for (host, hog) in [("web-1", true), ("db-1", false)] {
        let dir = tmp.path().join(host);
        let mut synth = Synth::new(start, Duration::from_secs(1))
            .count(3600)
            .processes(30)
            .host(host);
        if hog {
            synth = synth.cpu_hog("xmrig", "./xmrig --pool x", at(1200), at(1500), 180.0);
        }
        write_store(&dir, &synth);
        write_store(&both, &synth);
        let out = run(&env, &["ship", "--data", dir.to_str().unwrap(), url]);
        assert!(out.status.success(), "{}", text(&out.stderr));
    }
    let range = RANGE;

    // The bucket, read by byte ranges, answers as the directory does.
    for (command, args) in [
        ("incidents", &["--all-hosts", "--json"][..]),
        ("top", &["--all-hosts", "--json"][..]),
        (
            "incidents",
            &[
                "--all-hosts",
                "--json",
                "--from",
                "2026-11-24T22:15:00Z",
                "--to",
                "2026-11-24T22:35:00Z",
            ][..],
        ),
    ] {
        let range: &[&str] = if args.contains(&"--from") {
            &[]
        } else {
            &range
        };
        let answer = |data: &str| {
            let out = run(
                &env,
                &[&[command, "--data", data][..], args, range].concat(),
            );
            assert!(out.status.success(), "{}", text(&out.stderr));
            serde_json::from_slice::<serde_json::Value>(&out.stdout).unwrap()
        };
        assert_eq!(
            answer(url),
            answer(both.to_str().unwrap()),
            "{command} {args:?}"
        );
    }

    let out = run(
        &env,
        &[
            &["incidents", "--all-hosts", "--json", "--data", url][..],
            &range,
        ]
        .concat(),
    );
    assert!(out.status.success(), "{}", text(&out.stderr));
    let doc: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let hosts: Vec<&str> = doc["hosts"]
        .as_array()
        .unwrap()
        .iter()
        .map(|h| h["host"].as_str().unwrap())
        .collect();
    assert_eq!(hosts, ["db-1", "web-1"]);
    assert_eq!(doc["hosts"][1]["samples"], 3600);
    let surges: Vec<&serde_json::Value> = doc["incidents"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|i| i["kind"] == "cpu_surge")
        .collect();
    assert_eq!(surges.len(), 1, "{doc}");
    assert_eq!(surges[0]["host"], "web-1");
    assert_eq!(surges[0]["culprit"]["name"], "xmrig");

    let out = run(
        &env,
        &[&["incidents", "--all-hosts", "--data", url][..], &range].concat(),
    );
    assert!(out.status.success(), "{}", text(&out.stderr));
    let table = text(&out.stdout);
    assert!(
        table.contains("on 2 hosts") && table.contains("HOST"),
        "{table}"
    );
    assert!(
        table
            .lines()
            .any(|l| l.starts_with("web-1") && l.contains("xmrig")),
        "{table}"
    );

    // top ranks every host's processes together: the hog first, on its host.
    let out = run(
        &env,
        &[&["top", "--all-hosts", "--json", "--data", url][..], &range].concat(),
    );
    assert!(out.status.success(), "{}", text(&out.stderr));
    let doc: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(doc["hosts"].as_array().unwrap().len(), 2, "{doc}");
    assert_eq!(doc["names"][0]["name"], "xmrig", "{doc}");
    assert_eq!(doc["names"][0]["host"], "web-1", "{doc}");
    let db_names = doc["names"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|n| n["host"] == "db-1")
        .count();
    assert!(db_names > 0, "{doc}");
    let out = run(
        &env,
        &[&["top", "--all-hosts", "--data", url][..], &range].concat(),
    );
    let table = text(&out.stdout);
    assert!(
        table.contains("HOST") && table.contains("of 2 hosts"),
        "{table}"
    );

    // Without --all-hosts, several hosts are still a question for the user.
    let out = run(&env, &[&["incidents", "--data", url][..], &range].concat());
    assert_eq!(out.status.code(), Some(2), "{}", text(&out.stderr));
    let err = text(&out.stderr);
    assert!(err.contains("db-1") && err.contains("web-1"), "{err}");

    // The fleet page reads the bucket the same way: both hosts, web-1's section with its culprit.
    let page_file = tmp.path().join("fleet.html");
    let out = run(
        &env,
        &[
            &["report", "--all-hosts", "--data", url, "-o"][..],
            &[page_file.to_str().unwrap()],
            &range,
        ]
        .concat(),
    );
    assert!(out.status.success(), "{}", text(&out.stderr));
    let page = std::fs::read_to_string(&page_file).unwrap();
    assert!(page.contains("id=\"host-db-1-host\""), "db-1's section");
    let web = &page[page.find("id=\"host-web-1-host\"").unwrap()..];
    assert!(web.contains("xmrig (pid"), "web-1's culprit");

    // serve over the bucket: / lists the hosts, most incidents first, each linking to its live page of the range.
    let srv = server::serve(std::ffi::OsStr::new(url), &["--refresh", "0"], &env);
    let query = "/?from=2026-11-24T12:00:00Z&to=2026-11-25T00:00:00Z";
    let (status, _, body) = server::get(srv.addr, query, None);
    let index = text(&body);
    assert_eq!(status, 200, "{index}");
    assert!(index.contains("stabmon live: 2 hosts"), "{index}");
    let link = |host: &str| {
        let marker = format!("\">{host}</a>");
        let end = index
            .find(&marker)
            .unwrap_or_else(|| panic!("{host} in {index}"));
        let start = index[..end].rfind("href=\"").unwrap() + 6;
        (start, index[start..end].replace("&amp;", "&"))
    };
    let ((web_at, web_link), (db_at, _)) = (link("web-1"), link("db-1"));
    assert!(
        web_at < db_at,
        "web-1 (a CPU surge) is listed first: {index}"
    );
    assert!(index.contains("1 × CPU surge"), "{index}");
    assert!(
        web_link.starts_with("/?from=") && web_link.contains("host=web"),
        "{web_link}"
    );
    let (status, _, body) = server::get(srv.addr, &web_link, None);
    let page = text(&body);
    assert_eq!(status, 200, "{page}");
    assert!(
        page.contains("stabmon live: web-1") && page.contains("xmrig (pid"),
        "{page}"
    );
    // The data is in the bucket, not behind /data/.
    let (status, _, body) = server::get(srv.addr, "/data/manifest.json", None);
    assert_eq!(status, 404);
    assert!(text(&body).contains("object storage"), "{}", text(&body));
    drop(srv);

    // A bucket that does not exist: one line naming the URL, before listening.
    let out = run(
        &env,
        &[
            "serve",
            "--bind",
            "127.0.0.1:0",
            "--data",
            "s3://no-such-bucket/x",
        ],
    );
    assert!(!out.status.success());
    let err = text(&out.stderr);
    assert!(err.contains("s3://no-such-bucket/x"), "{err}");
    assert_eq!(err.trim().lines().count(), 1, "{err}");
}

/// Every `href="#X"` of a page, and every `id="X"`.
fn links_and_ids(page: &str) -> (Vec<String>, Vec<String>) {
    let grab = |marker: &str| -> Vec<String> {
        page.match_indices(marker)
            .map(|(i, _)| {
                let rest = &page[i + marker.len()..];
                rest[..rest.find('"').unwrap()].to_owned()
            })
            .collect()
    };
    (grab("href=\"#"), grab(" id=\""))
}

#[test]
fn report_all_hosts_is_one_page_with_an_overview_linking_to_each_hosts_section() {
    use stabmon_core::Timestamp;
    use stabmon_core::synth::Synth;
    use std::time::Duration;
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("data");
    let start = Timestamp::from_unix_secs(1_795_557_600);
    let at = |s: u64| start.saturating_add(Duration::from_secs(s));
    let hostile = "odd <b>&\"host";
    for (host, kind) in [("web-1", 1), ("db-1", 0), (hostile, 2)] {
        let mut synth = Synth::new(start, Duration::from_secs(1))
            .count(3600)
            .processes(30)
            .host(host);
        match kind {
            1 => synth = synth.cpu_hog("xmrig", "./xmrig --pool x", at(1200), at(1500), 180.0),
            2 => synth = synth.gap(at(2000), at(2300)),
            _ => {}
        }
        write_store(&dir, &synth);
    }
    let d = dir.to_str().unwrap();
    let out_file = tmp.path().join("fleet.html");
    let range = RANGE;
    let out = run(
        &[],
        &[
            &["report", "--all-hosts", "--data", d, "-o"][..],
            &[out_file.to_str().unwrap()],
            &range,
        ]
        .concat(),
    );
    assert!(out.status.success(), "{}", text(&out.stderr));
    let err = text(&out.stderr);
    assert_eq!(err.trim().lines().count(), 1, "{err}");
    assert!(err.contains("3 hosts"), "{err}");
    let page = std::fs::read_to_string(&out_file).unwrap();
    if let Ok(keep) = std::env::var("STABMON_TEST_KEEP_PAGE") {
        std::fs::copy(&out_file, keep).unwrap();
    }
    assert!(page.starts_with("<!DOCTYPE html>"));

    // The overview ranks the host with a CPU surge first; the host with only a gap after it (a gap is listed, not
    // counted as an incident), the quiet one last.
    let overview = &page[page.find("id=\"fleet\"").unwrap()..page.find("</table>").unwrap()];
    let row = |href: &str| {
        overview
            .find(href)
            .unwrap_or_else(|| panic!("{href} in {overview}"))
    };
    let (web, db) = (row("#host-web-1-host"), row("#host-db-1-host"));
    let odd = row("#hx-");
    assert!(web < odd && odd < db, "{overview}");
    assert!(overview.contains("1 × CPU surge"), "{overview}");
    assert!(overview.contains("<svg class=\"spark\""), "{overview}");
    // The hostile name is text everywhere, never markup.
    assert!(!page.contains("<b>&\""), "raw host name in the page");
    assert!(page.contains("odd &lt;b&gt;&amp;&quot;host"));

    // Every link goes somewhere on the page, and no id is used twice.
    let (links, ids) = links_and_ids(&page);
    let mut seen = std::collections::HashSet::new();
    for id in &ids {
        assert!(seen.insert(id.as_str()), "id {id} twice");
    }
    for l in &links {
        assert!(seen.contains(l.as_str()), "link #{l} has no target");
    }
    assert!(links.len() > 10, "{links:?}");

    // Each host's section has its own charts, and the culprit's label is in web-1's section only.
    let section = |id: &str| {
        let s = page
            .find(&format!("<section class=\"host\" id=\"{id}\""))
            .unwrap();
        let e = page[s + 1..]
            .find("<section class=\"host\"")
            .map_or(page.len(), |e| s + 1 + e);
        &page[s..e]
    };
    let web = section("host-web-1-host");
    assert!(web.contains("xmrig (pid"), "{web}");
    assert!(web.contains("id=\"host-web-1-chart-cpu\""), "{web}");
    let db = section("host-db-1-host");
    assert!(!db.contains("xmrig"), "{db}");
    assert!(db.contains("No incidents found in this range."), "{db}");
    // A quiet host has no charts: its sparkline in the overview says as much.
    assert!(!db.contains("<svg class=\"chart\""), "{db}");
    assert!(page.contains("gap in the recording"));
    // No script on the fleet page, and the policy allows none.
    assert!(!page.contains("<script"), "the fleet page has no script");

    // Without --all-hosts, several hosts are a question; with --host, --all-hosts is a bad flag.
    let out = run(
        &[],
        &[&["report", "--data", d, "-o", "/dev/null"][..], &range].concat(),
    );
    assert_eq!(out.status.code(), Some(2), "{}", text(&out.stderr));
    let err = text(&out.stderr);
    assert!(err.contains("db-1") && err.contains("web-1"), "{err}");
    let out = run(
        &[],
        &["report", "--all-hosts", "--host", "db-1", "--data", d],
    );
    assert_eq!(out.status.code(), Some(2), "{}", text(&out.stderr));
}

#[test]
fn segments_compacted_at_stop_reach_the_bucket_and_a_dead_endpoint_never_hangs_the_stop() {
    let Some(moto) = Moto::start() else { return };
    moto.create_bucket("fleet");
    let env = moto.env();
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("data");
    let d = dir.to_str().unwrap();
    let url = "s3://fleet/stop";

    // Rotating hourly, nothing is compacted while recording: every sample goes up in the round at stop.
    let out = record(&dir, &env, &["--ship", url, "--rotate", "1h"]);
    let err = text(&out.stderr);
    assert!(out.status.success(), "{err}");
    assert!(err.contains("shipped the last segments at stop"), "{err}");
    let local = run(&[], &["dump", "--data", d]);
    let shipped = run(&env, &["dump", "--data", url]);
    assert!(shipped.status.success(), "{}", text(&shipped.stderr));
    let rows = text(&local.stdout).lines().count();
    assert!(rows > 10, "{}", text(&local.stdout));
    assert_eq!(text(&shipped.stdout).lines().count(), rows);

    // An endpoint that accepts connections and never answers: the stop waits a bounded time, then leaves the
    // segments in the directory and says so.
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    std::thread::spawn(move || {
        let mut held = Vec::new();
        for c in listener.incoming().flatten() {
            held.push(c);
        }
    });
    let dead: Vec<(String, String)> = env
        .iter()
        .map(|(k, v)| {
            let v = if k == "AWS_ENDPOINT_URL" {
                format!("http://127.0.0.1:{port}")
            } else {
                v.clone()
            };
            (k.clone(), v)
        })
        .collect();
    let dir2 = tmp.path().join("data2");
    let mut child = stabmon(&dead)
        .args([
            "record",
            "--interval",
            "100ms",
            "--duration",
            "2s",
            "--data",
        ])
        .arg(&dir2)
        .args(["--ship", url, "--rotate", "1h"])
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    // A liveness bound, far above the stop's own limit: a hang fails here instead of blocking the suite.
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(180);
    let status = loop {
        if let Some(s) = child.try_wait().unwrap() {
            break s;
        }
        if std::time::Instant::now() > deadline {
            let _ = child.kill();
            panic!("record --ship to a dead endpoint did not stop");
        }
        std::thread::sleep(std::time::Duration::from_millis(200));
    };
    let mut err = String::new();
    std::io::Read::read_to_string(&mut child.stderr.take().unwrap(), &mut err).unwrap();
    assert!(status.success(), "{err}");
    assert!(err.contains("did not finish within"), "{err}");
    let out = run(&[], &["dump", "--data", dir2.to_str().unwrap()]);
    assert!(text(&out.stdout).lines().count() > 10);
}
