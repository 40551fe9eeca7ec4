//! The service files under `dist/` keep the settings the recorder depends on.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::collections::HashMap;
use std::path::Path;

fn dist(name: &str) -> String {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../dist")
        .join(name);
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// `key=value` lines per `[section]`, comments skipped (systemd's syntax, without continuations).
fn unit(text: &str) -> HashMap<String, HashMap<String, String>> {
    let mut out: HashMap<String, HashMap<String, String>> = HashMap::new();
    let mut section = String::new();
    for line in text.lines().map(str::trim) {
        if line.is_empty() || line.starts_with('#') || line.starts_with(';') {
            continue;
        }
        if let Some(s) = line.strip_prefix('[').and_then(|l| l.strip_suffix(']')) {
            section = s.to_owned();
            continue;
        }
        let (k, v) = line.split_once('=').expect("key=value");
        out.entry(section.clone())
            .or_default()
            .insert(k.trim().to_owned(), v.trim().to_owned());
    }
    out
}

#[test]
fn the_systemd_unit_keeps_the_recorder_alive_and_unniced() {
    let u = unit(&dist("stabmon.service"));
    let svc = &u["Service"];
    assert_eq!(svc["Restart"], "always");
    assert_eq!(
        svc["ExecStart"],
        "/usr/local/bin/stabmon record --config /etc/stabmon/stabmon.toml"
    );
    // A niced recorder starves during the storm it must record.
    assert!(!svc.contains_key("Nice"), "no Nice=");
    assert!(!svc.contains_key("CPUSchedulingPolicy"));
    let oom: i32 = svc["OOMScoreAdjust"].parse().unwrap();
    assert!(oom <= -500, "OOMScoreAdjust={oom}");
    let max = &svc["MemoryMax"];
    assert!(
        max.ends_with('M') && max.trim_end_matches('M').parse::<u32>().unwrap() <= 256,
        "{max}"
    );
    // /proc must stay readable.
    for key in ["ProtectProc", "ProcSubset", "PrivatePIDs"] {
        assert!(!svc.contains_key(key), "{key} hides processes");
    }
    assert_eq!(u["Install"]["WantedBy"], "multi-user.target");
    // The kernel log (OOM victims) must stay readable: /dev/kmsg visible, CAP_SYSLOG kept.
    for key in ["PrivateDevices", "ProtectKernelLogs"] {
        assert!(
            svc.get(key).is_none_or(|v| v == "false" || v == "no"),
            "{key}= hides /dev/kmsg"
        );
    }
    if svc.get("DevicePolicy").is_some_and(|p| p != "auto") {
        assert_eq!(
            svc.get("DeviceAllow").map(String::as_str),
            Some("/dev/kmsg r")
        );
    }
    let caps: Vec<&str> = svc["CapabilityBoundingSet"].split_whitespace().collect();
    for cap in ["CAP_SYSLOG", "CAP_NET_ADMIN"] {
        assert!(caps.contains(&cap), "{cap} missing from {caps:?}");
    }
}

#[test]
fn the_launchd_job_runs_at_boot_and_is_kept_alive() {
    let p = dist("com.example.stabmon.plist");
    for want in [
        "<key>RunAtLoad</key>\n  <true/>",
        "<key>KeepAlive</key>\n  <true/>",
        "<string>--config</string>\n    <string>/etc/stabmon/stabmon.toml</string>",
    ] {
        assert!(p.contains(want), "missing {want:?}");
    }
    assert!(!p.contains("<key>Nice</key>"));
    assert!(!p.contains("LowPriorityIO"));
}
