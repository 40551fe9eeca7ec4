//! Control groups: which cgroup a process is in (from Linux's `/proc/PID/cgroup`), and the systemd unit or
//! container that a cgroup path names, where one is recognisable.
//!
//! Both layouts found in the field are read: the unified v2 hierarchy (one `0::/PATH` line) and v1 or hybrid
//! mounts, where each controller has a line of its own (`4:memory:/PATH`, `1:name=systemd:/PATH`) and the `0::`
//! line may only say `/`. [`process_cgroup`] picks the line that places the process best; [`unit_of`] names what
//! the path belongs to:
//!
//! | cgroup path (examples) | unit |
//! |---|---|
//! | `/system.slice/nginx.service` | `nginx.service` |
//! | `/user.slice/user-1000.slice/session-3.scope` | `session-3.scope` |
//! | `/user.slice/user-1000.slice/user@1000.service/app.slice/foo.service` | `foo.service` |
//! | `/system.slice/docker-4f1c...e2.scope`, `/docker/4f1c...e2` | `docker:4f1c0b3a9d2e` |
//! | `/machine.slice/libpod-4f1c...e2.scope`, `/libpod_parent/libpod-4f1c...e2` | `podman:4f1c0b3a9d2e` |
//! | `/kubepods.slice/.../cri-containerd-4f1c...e2.scope` | `containerd:4f1c0b3a9d2e` |
//! | `/kubepods.slice/.../crio-4f1c...e2.scope` | `cri-o:4f1c0b3a9d2e` |
//! | `/kubepods/burstable/pod.../4f1c...e2` | `kubepods:4f1c0b3a9d2e` |
//! | `/lxc.payload.web1/...`, `/lxc/web1` | `lxc:web1` |
//! | `/user.slice/user-1000.slice` (no unit below it) | `user-1000.slice` |
//!
//! Container ids are cut to their first 12 hex digits, as `docker ps` shows them.
//!
//! ```
//! use stabmon_core::cgroup::{process_cgroup, unit_of};
//!
//! let text = "12:memory:/system.slice/app.service\n1:name=systemd:/system.slice/app.service\n0::/\n";
//! let path = process_cgroup(text).unwrap();
//! assert_eq!(path, "/system.slice/app.service");
//! assert_eq!(unit_of(&path).as_deref(), Some("app.service"));
//! ```

/// The cgroup path that places a process best, from the text of its `/proc/PID/cgroup`; `None` when no line has
/// the `ID:CONTROLLERS:PATH` form.
///
/// In order of preference: the v2 `0::` line when its path is not the root (a v2 or hybrid host), systemd's own
/// v1 hierarchy (`name=systemd`), the v1 `memory` controller (where OOM kills are decided), any other v1
/// controller with a path below the root, then the root itself.
pub fn process_cgroup(text: &str) -> Option<String> {
    let mut best: Option<(u8, &str)> = None;
    for line in text.lines() {
        let mut parts = line.splitn(3, ':');
        let (Some(id), Some(controllers), Some(path)) = (parts.next(), parts.next(), parts.next())
        else {
            continue;
        };
        if id.parse::<u32>().is_err() || !path.starts_with('/') {
            continue;
        }
        let root = path == "/";
        let rank = if root {
            1
        } else if controllers.is_empty() {
            5
        } else if controllers.split(',').any(|c| c == "name=systemd") {
            4
        } else if controllers.split(',').any(|c| c == "memory") {
            3
        } else {
            2
        };
        if best.is_none_or(|(r, _)| rank > r) {
            best = Some((rank, path));
        }
    }
    // A path the kernel printed is never that long; a longer one is cut at a character boundary.
    best.map(|(_, p)| cut(p, MAX_CGROUP_BYTES).to_owned())
}

/// The longest cgroup path kept, in bytes.
pub const MAX_CGROUP_BYTES: usize = 512;

fn cut(s: &str, max: usize) -> &str {
    if s.len() <= max {
        return s;
    }
    let mut end = max;
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    &s[..end]
}

/// The systemd unit or container a cgroup path belongs to, where one is recognisable (see the [module
/// docs](self) for the forms): `nginx.service`, `session-3.scope`, `docker:4f1c0b3a9d2e`; `None` for the root and
/// for paths of no known form.
///
/// ```
/// use stabmon_core::cgroup::unit_of;
///
/// assert_eq!(unit_of("/system.slice/docker-4f1c0b3a9d2e11aa22bb33cc44dd55ee66ff77889900aabbccddeeff00112233.scope")
///     .as_deref(), Some("docker:4f1c0b3a9d2e"));
/// assert_eq!(unit_of("/").as_deref(), None);
/// assert_eq!(unit_of("/process_api/4c1c5d1d").as_deref(), None);
/// ```
pub fn unit_of(path: &str) -> Option<String> {
    let parts: Vec<&str> = path.split('/').filter(|p| !p.is_empty()).collect();
    // Containers first, innermost last: a container's scope sits inside a slice or a service.
    for (i, part) in parts.iter().enumerate().rev() {
        if let Some(id) = container_scope(part) {
            return Some(id);
        }
        let parent = i.checked_sub(1).map(|j| parts[j]);
        if is_container_id(part) {
            match parent {
                Some("docker") => return Some(format!("docker:{}", short(part))),
                Some(p) if p.starts_with("pod") => {
                    return Some(format!("kubepods:{}", short(part)));
                }
                _ => {}
            }
        }
        if let Some(rest) = part.strip_prefix("libpod-")
            && is_container_id(rest)
        {
            return Some(format!("podman:{}", short(rest)));
        }
        if let Some(name) = part.strip_prefix("lxc.payload.")
            && !name.is_empty()
        {
            return Some(format!("lxc:{name}"));
        }
        if parent == Some("lxc") && i == 1 {
            return Some(format!("lxc:{part}"));
        }
    }
    if let Some(unit) = parts
        .iter()
        .rev()
        .find(|p| p.ends_with(".service") || p.ends_with(".scope"))
    {
        return Some((*unit).to_owned());
    }
    parts
        .iter()
        .rev()
        .find(|p| p.ends_with(".slice") && **p != "-.slice")
        .map(|p| (*p).to_owned())
}

/// A container runtime's systemd scope: `docker-ID.scope`, `libpod-ID.scope`, `cri-containerd-ID.scope`,
/// `crio-ID.scope`.
fn container_scope(part: &str) -> Option<String> {
    let stem = part.strip_suffix(".scope")?;
    for (prefix, runtime) in [
        ("docker-", "docker"),
        ("libpod-", "podman"),
        ("cri-containerd-", "containerd"),
        ("crio-", "cri-o"),
    ] {
        if let Some(id) = stem.strip_prefix(prefix)
            && is_container_id(id)
        {
            return Some(format!("{runtime}:{}", short(id)));
        }
    }
    None
}

/// A container id: 64 hex digits (what docker, podman, containerd and CRI-O use).
fn is_container_id(s: &str) -> bool {
    s.len() == 64 && s.bytes().all(|b| b.is_ascii_hexdigit())
}

fn short(id: &str) -> &str {
    &id[..12]
}

#[cfg(test)]
mod tests {
    use super::*;

    const ID: &str = "4f1c0b3a9d2e11aa22bb33cc44dd55ee66ff77889900aabbccddeeff00112233";

    #[test]
    fn units_of_every_known_form() {
        let cases = [
            ("/system.slice/nginx.service", Some("nginx.service")),
            (
                "/user.slice/user-1000.slice/session-3.scope",
                Some("session-3.scope"),
            ),
            (
                "/user.slice/user-1000.slice/user@1000.service/app.slice/foo.service",
                Some("foo.service"),
            ),
            (
                "/user.slice/user-1000.slice/user@1000.service/init.scope",
                Some("init.scope"),
            ),
            ("/user.slice/user-1000.slice", Some("user-1000.slice")),
            (
                &format!("/system.slice/docker-{ID}.scope"),
                Some("docker:4f1c0b3a9d2e"),
            ),
            (&format!("/docker/{ID}"), Some("docker:4f1c0b3a9d2e")),
            (
                &format!("/machine.slice/libpod-{ID}.scope/container"),
                Some("podman:4f1c0b3a9d2e"),
            ),
            (
                &format!("/libpod_parent/libpod-{ID}"),
                Some("podman:4f1c0b3a9d2e"),
            ),
            (
                &format!(
                    "/kubepods.slice/kubepods-burstable.slice/kubepods-burstable-pod1234_5678.slice/cri-containerd-{ID}.scope"
                ),
                Some("containerd:4f1c0b3a9d2e"),
            ),
            (
                &format!("/kubepods.slice/kubepods-pod12.slice/crio-{ID}.scope"),
                Some("cri-o:4f1c0b3a9d2e"),
            ),
            (
                &format!("/kubepods/burstable/pod0f3e2c1a-1111-2222-3333-444455556666/{ID}"),
                Some("kubepods:4f1c0b3a9d2e"),
            ),
            (
                "/lxc.payload.web1/system.slice/nginx.service",
                Some("lxc:web1"),
            ),
            ("/lxc/web1", Some("lxc:web1")),
            ("/", None),
            ("", None),
            ("/process_api/4c1c5d1d3b7a17519b7f7379813e1a45", None),
            // Not a container id: too short, or not hex.
            ("/system.slice/docker-abc.scope", Some("docker-abc.scope")),
            ("/docker/not-an-id", None),
        ];
        for (path, want) in cases {
            assert_eq!(unit_of(path).as_deref(), want, "{path}");
        }
    }

    #[test]
    fn garbage_is_no_cgroup_and_no_panic() {
        for text in [
            "",
            "\n",
            "garbage",
            "x:y:z",
            "1:memory",
            ":::",
            "0::relative",
        ] {
            assert_eq!(process_cgroup(text), None, "{text:?}");
        }
        let long = format!("0::/{}", "é".repeat(400));
        let got = process_cgroup(&long).unwrap_or_default();
        assert!(got.len() <= MAX_CGROUP_BYTES && got.starts_with("/é"));
    }
}
