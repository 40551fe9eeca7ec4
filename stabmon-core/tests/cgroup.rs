//! The cgroup of a process and its unit or container, from `/proc/PID/cgroup` files of every layout
//! (`tests/fixtures/cgroup`: v2, hybrid and v1 hosts, with systemd and without, docker, podman, Kubernetes).

use std::path::Path;

use stabmon_core::cgroup::{process_cgroup, unit_of};

const ID: &str = "4f1c0b3a9d2e11aa22bb33cc44dd55ee66ff77889900aabbccddeeff00112233";

fn fixture(name: &str) -> String {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/cgroup")
        .join(name);
    match std::fs::read_to_string(&path) {
        Ok(t) => t,
        Err(e) => panic!("{}: {e}", path.display()),
    }
}

#[test]
fn every_layout_gives_the_path_and_the_unit() {
    let cases: [(&str, String, Option<&str>); 9] = [
        (
            "v2-service",
            "/system.slice/app.service".into(),
            Some("app.service"),
        ),
        (
            "v2-podman-rootless",
            format!(
                "/user.slice/user-1000.slice/user@1000.service/user.slice/libpod-{ID}.scope/container"
            ),
            Some("podman:4f1c0b3a9d2e"),
        ),
        (
            "v2-kubernetes-containerd",
            format!(
                "/kubepods.slice/kubepods-burstable.slice/kubepods-burstable-pod0f3e2c1a_1111_2222_3333_444455556666.slice/cri-containerd-{ID}.scope"
            ),
            Some("containerd:4f1c0b3a9d2e"),
        ),
        (
            "hybrid-docker",
            format!("/system.slice/docker-{ID}.scope"),
            Some("docker:4f1c0b3a9d2e"),
        ),
        (
            "hybrid-service",
            "/system.slice/app.service".into(),
            Some("app.service"),
        ),
        (
            "v1-docker-cgroupfs",
            format!("/docker/{ID}"),
            Some("docker:4f1c0b3a9d2e"),
        ),
        (
            "v1-user-session",
            "/user.slice/user-1000.slice/session-3.scope".into(),
            Some("session-3.scope"),
        ),
        // No systemd (these build machines): the memory controller's path, which names no unit.
        (
            "v1-without-systemd",
            "/process_api/4c1c5d1d3b7a17519b7f7379813e1a45".into(),
            None,
        ),
        ("v2-root", "/".into(), None),
    ];
    for (name, path, unit) in cases {
        let got = process_cgroup(&fixture(name));
        assert_eq!(got.as_deref(), Some(path.as_str()), "{name}");
        assert_eq!(unit_of(&path).as_deref(), unit, "{name}");
    }
}

#[cfg(target_os = "linux")]
#[test]
fn this_process_has_a_cgroup() {
    let text = std::fs::read_to_string("/proc/self/cgroup").unwrap_or_default();
    if text.is_empty() {
        eprintln!("skipped: /proc/self/cgroup cannot be read here");
        return;
    }
    let path = process_cgroup(&text);
    assert!(
        path.as_deref().is_some_and(|p| p.starts_with('/')),
        "{text:?} gave {path:?}"
    );
}
