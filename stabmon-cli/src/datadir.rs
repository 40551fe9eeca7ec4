//! Where stabmon keeps its data by default, and the check that a data directory can be written.

use std::fs::{self, OpenOptions};
use std::io::Write;
use std::path::{Path, PathBuf};

use crate::UsageError;

/// The data directory: `--data` (or `$STABMON_DATA`, which clap reads into the same flag) when given, else the
/// platform default.
pub fn resolve(flag: Option<&Path>) -> Result<PathBuf, UsageError> {
    match flag {
        Some(p) if !p.as_os_str().is_empty() => Ok(p.to_path_buf()),
        _ => default_dir().ok_or_else(|| {
            UsageError(
                "cannot find a default data directory (no home directory is known); give one with --data DIR or \
                 $STABMON_DATA"
                    .to_owned(),
            )
        }),
    }
}

/// The platform's default data directory, when one can be found.
///
/// - Linux and other Unix: `/var/lib/stabmon` for root, else `$XDG_DATA_HOME/stabmon` (when absolute) or
///   `~/.local/share/stabmon`.
/// - macOS: `/Library/Application Support/stabmon` for root, else `~/Library/Application Support/stabmon`.
/// - Windows: `%LOCALAPPDATA%\stabmon`.
fn default_dir() -> Option<PathBuf> {
    platform_default()
}

#[cfg(all(unix, not(target_os = "macos")))]
fn platform_default() -> Option<PathBuf> {
    if is_root() {
        return Some(PathBuf::from("/var/lib/stabmon"));
    }
    if let Some(xdg) = std::env::var_os("XDG_DATA_HOME").map(PathBuf::from)
        && xdg.is_absolute()
    {
        return Some(xdg.join("stabmon"));
    }
    home().map(|h| h.join(".local/share/stabmon"))
}

#[cfg(target_os = "macos")]
fn platform_default() -> Option<PathBuf> {
    if is_root() {
        return Some(PathBuf::from("/Library/Application Support/stabmon"));
    }
    home().map(|h| h.join("Library/Application Support/stabmon"))
}

#[cfg(windows)]
fn platform_default() -> Option<PathBuf> {
    std::env::var_os("LOCALAPPDATA")
        .map(PathBuf::from)
        .filter(|p| p.is_absolute())
        .map(|p| p.join("stabmon"))
}

#[cfg(not(any(unix, windows)))]
fn platform_default() -> Option<PathBuf> {
    None
}

#[cfg(unix)]
fn is_root() -> bool {
    // SAFETY: geteuid has no preconditions and cannot fail.
    unsafe { libc::geteuid() == 0 }
}

#[cfg(unix)]
fn home() -> Option<PathBuf> {
    std::env::var_os("HOME")
        .map(PathBuf::from)
        .filter(|p| p.is_absolute())
}

/// Creates `dir` if needed and proves that a file can be written in it, before any sampling starts.
pub fn ensure_writable(dir: &Path) -> Result<(), UsageError> {
    let shown = dir.display();
    if dir.exists() && !dir.is_dir() {
        return Err(UsageError(format!(
            "data directory {shown} is not a directory; give a directory with --data DIR"
        )));
    }
    fs::create_dir_all(dir).map_err(|e| {
        UsageError(format!(
            "data directory {shown} cannot be created: {e}; give a writable directory with --data DIR"
        ))
    })?;
    let probe = dir.join(format!(".stabmon-write-check-{}", std::process::id()));
    let written = OpenOptions::new()
        .write(true)
        .create_new(true)
        .open(&probe)
        .and_then(|mut f| f.write_all(b"stabmon\n").and_then(|()| f.sync_all()));
    // Remove the probe whatever happened; a failure to remove is not worth stopping for.
    let _ = fs::remove_file(&probe);
    written.map_err(|e| {
        UsageError(format!(
            "data directory {shown} is not writable: {e}; give a writable directory with --data DIR"
        ))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn explicit_path_wins() {
        let p = Path::new("/tmp/x");
        assert_eq!(resolve(Some(p)).ok(), Some(PathBuf::from("/tmp/x")));
    }

    #[cfg(all(unix, not(target_os = "macos")))]
    #[test]
    fn default_ends_in_stabmon() {
        let d = default_dir();
        assert!(d.as_deref().is_none_or(|d| d.ends_with("stabmon")), "{d:?}");
    }
}
