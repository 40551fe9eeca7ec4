//! On the real host: a memory-cgroup OOM (a child cgroup with a small limit, a process that allocates past it, the
//! kernel kills it and logs it) recorded by `stabmon record` is named from the kernel log by `stabmon incidents`.
//!
//! It changes the machine's cgroups and makes the kernel kill a process, so it is ignored in the suite and run
//! alone (`.ci/run` runs it after the suite): `cargo test -p stabmon-cli --test oom_host -- --ignored
//! --test-threads=1`. About 20 s. Where the kernel refuses (no memory controller, no writable cgroup, no
//! `/dev/kmsg`), it says so and is skipped. The cgroup is removed afterwards, whatever happens.
#![allow(clippy::unwrap_used, clippy::expect_used)]

#[cfg(target_os = "linux")]
mod host_util;

#[cfg(target_os = "linux")]
mod linux {
    use std::path::{Path, PathBuf};
    use std::process::{Child, Command, Stdio};
    use std::thread::sleep;
    use std::time::Duration;

    use crate::host_util::{
        incidents, incidents_table, recorder_log, start_recorder, wait_recorder,
    };

    /// The memory limit of the test's cgroup.
    const LIMIT_BYTES: u64 = 64 << 20;

    /// A memory cgroup of the test's own: its directory, and whether it is v1 (`memory.limit_in_bytes`) or v2
    /// (`memory.max`). Removed when dropped (after its process is gone).
    struct Cgroup {
        dir: PathBuf,
        /// The path the kernel prints for it (`task_memcg=`).
        path: String,
        v1: bool,
    }

    impl Drop for Cgroup {
        fn drop(&mut self) {
            // A cgroup is removed once its processes are gone: a few tries.
            for _ in 0..50 {
                if std::fs::remove_dir(&self.dir).is_ok() || !self.dir.exists() {
                    return;
                }
                sleep(Duration::from_millis(100));
            }
            eprintln!("could not remove the test cgroup {}", self.dir.display());
        }
    }

    /// This process's cgroup path on the hierarchy that has the memory controller, and that hierarchy's mount.
    fn memory_hierarchy() -> Result<(PathBuf, String, bool), String> {
        let own = std::fs::read_to_string("/proc/self/cgroup")
            .map_err(|e| format!("/proc/self/cgroup is unreadable: {e}"))?;
        let v1 = own.lines().find_map(|l| {
            let mut p = l.splitn(3, ':');
            let (_, ctrl, path) = (p.next()?, p.next()?, p.next()?);
            ctrl.split(',')
                .any(|c| c == "memory")
                .then(|| path.to_owned())
        });
        if let Some(path) = v1 {
            let mount = PathBuf::from("/sys/fs/cgroup/memory");
            if mount.join("memory.limit_in_bytes").exists() || mount.is_dir() {
                return Ok((mount, path, true));
            }
        }
        let v2 = own
            .lines()
            .find_map(|l| l.strip_prefix("0::").map(str::to_owned));
        for mount in ["/sys/fs/cgroup", "/sys/fs/cgroup/unified"] {
            let controllers = std::fs::read_to_string(Path::new(mount).join("cgroup.controllers"));
            if let (Ok(c), Some(path)) = (controllers, &v2)
                && c.split_whitespace().any(|c| c == "memory")
            {
                return Ok((PathBuf::from(mount), path.clone(), false));
            }
        }
        Err("no memory cgroup controller is mounted (v1 memory, or v2 with memory enabled)".into())
    }

    /// A child cgroup with a small memory limit and no swap, next to this process's own.
    fn make_cgroup() -> Result<Cgroup, String> {
        let (mount, own, v1) = memory_hierarchy()?;
        let name = format!("stabmon-oom-test-{}", std::process::id());
        let parent = if v1 {
            own.trim_end_matches('/').to_owned()
        } else {
            // v2: processes live only in leaves; a sibling of ours, under our parent.
            Path::new(&own)
                .parent()
                .map_or_else(|| "/".to_owned(), |p| p.to_string_lossy().into_owned())
        };
        let path = format!("{}/{name}", parent.trim_end_matches('/'));
        let dir = mount.join(path.trim_start_matches('/'));
        std::fs::create_dir(&dir)
            .map_err(|e| format!("cannot create the cgroup {}: {e}", dir.display()))?;
        let cg = Cgroup { dir, path, v1 };
        let write = |file: &str, value: &str| {
            std::fs::write(cg.dir.join(file), value).map_err(|e| {
                format!(
                    "cannot write {value} to {}: {e}",
                    cg.dir.join(file).display()
                )
            })
        };
        if v1 {
            write("memory.limit_in_bytes", &LIMIT_BYTES.to_string())?;
            // Swap would only slow the process down: the kernel is to kill it.
            let _ = write("memory.swappiness", "0");
            let _ = write("memory.memsw.limit_in_bytes", &LIMIT_BYTES.to_string());
        } else {
            write("memory.max", &LIMIT_BYTES.to_string())?;
            let _ = write("memory.swap.max", "0");
        }
        Ok(cg)
    }

    /// Kills and reaps a child when dropped, whatever happens to the test.
    struct Reaped(Child);

    impl Drop for Reaped {
        fn drop(&mut self) {
            let _ = self.0.kill();
            let _ = self.0.wait();
        }
    }

    #[test]
    #[ignore = "makes the kernel OOM-kill a process in a cgroup of its own: run alone, after the suite (.ci/run does)"]
    fn a_memory_cgroup_oom_is_named_from_the_kernel_log() {
        if let Err(e) = std::fs::File::open("/dev/kmsg") {
            println!("SKIPPED: the kernel log cannot be read here (/dev/kmsg: {e})");
            return;
        }
        let cg = match make_cgroup() {
            Ok(cg) => cg,
            Err(why) => {
                println!("SKIPPED: {why}");
                return;
            }
        };
        let Some(tail) = ["/usr/bin/tail", "/bin/tail"]
            .into_iter()
            .find(|p| Path::new(p).exists())
        else {
            println!("SKIPPED: no `tail` to allocate with");
            return;
        };
        let dir = tempfile::tempdir().unwrap();
        // `tail` of an endless line keeps all of it: memory grows until the limit. A name nothing else has.
        let hog = dir.path().join("stabmon-oomhog");
        std::fs::copy(tail, &hog).unwrap();
        let data = dir.path().join("data");

        let (recorder, started) = start_recorder(&data, "15s");
        let mut recorder = Reaped(recorder);
        sleep(Duration::from_secs(4));
        // The shell moves itself into the cgroup, then becomes the hog.
        let procs = cg.dir.join("cgroup.procs");
        let script = format!(
            "echo $$ > '{}' && exec '{}' /dev/zero",
            procs.display(),
            hog.display()
        );
        let child = Command::new("sh")
            .args(["-c", &script])
            .stdout(Stdio::null())
            .spawn()
            .unwrap();
        let pid = child.id();
        let mut child = Reaped(child);
        let killed = loop {
            if let Some(status) = child.0.try_wait().unwrap() {
                break status;
            }
            if started.elapsed() > Duration::from_secs(14) {
                panic!("the hog was not killed within 10 s under a {LIMIT_BYTES}-byte limit");
            }
            sleep(Duration::from_millis(50));
        };
        use std::os::unix::process::ExitStatusExt;
        // SIGKILL, from the OOM killer.
        assert_eq!(
            killed.signal(),
            Some(9),
            "the hog ended otherwise: {killed:?}"
        );
        let status = wait_recorder(&mut recorder.0, started);
        let log = recorder_log(&mut recorder.0);
        assert!(status.success(), "record failed: {status:?}\n{log}");
        if log.contains("not read from the kernel log") {
            println!("SKIPPED: the recorder could not follow the kernel log here:\n{log}");
            return;
        }

        let incidents = incidents(&data);
        let oom = incidents
            .iter()
            .find(|i| i["kind"] == "oom_kill")
            .unwrap_or_else(|| panic!("no OOM kill incident in {incidents:#?}\nrecorder: {log}"));
        let c = &oom["culprit"];
        assert_eq!(c["name"], "stabmon-oomhog", "{oom:#}");
        assert_eq!(c["pid"], pid, "{oom:#}");
        assert_eq!(c["guessed"], false, "{oom:#}");
        let anon = c["anon_rss_bytes"].as_u64().unwrap_or(0);
        assert!(
            anon > LIMIT_BYTES / 4 && anon <= LIMIT_BYTES + (1 << 20),
            "anon RSS {anon} against a {LIMIT_BYTES}-byte limit: {oom:#}"
        );
        assert_eq!(c["cgroup"], cg.path.as_str(), "{oom:#}");
        // The table labels it in the kernel's terms.
        let text = incidents_table(&data);
        let want = format!("OOM killed stabmon-oomhog (pid {pid}), ");
        assert!(text.contains(&want), "{want:?} not in\n{text}");
        assert!(
            text.contains(&format!("anon RSS, cgroup {}", cg.path)),
            "{text}"
        );
        println!(
            "named from the kernel log in a cgroup {} memory limit: {}",
            if cg.v1 { "v1" } else { "v2" },
            oom["label"]
                .as_str()
                .unwrap_or_else(|| c["name"].as_str().unwrap_or_default())
        );
    }
}
