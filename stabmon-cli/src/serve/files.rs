//! `/data/...`: files of the data directory, read-only, never anything outside it.
//!
//! A request path is percent-decoded once, split on `/`, and refused (404, nothing opened) when any segment is
//! empty (`//`, an absolute path), `.` or `..`, hidden (`.stabmon.lock`, files being written), or holds a
//! backslash, a colon or a NUL (Windows separators and drive letters). Every component under the root is then
//! checked with `lstat`: a symlink anywhere is refused, even one that points inside. Last, the canonical path
//! must still start with the canonical root, and the file is opened with `O_NOFOLLOW` where the OS has it.

use std::fs::File;
use std::path::{Path, PathBuf};

use percent_encoding::percent_decode_str;

/// The file under `root` (canonical) that `rel` (the part after `/data/`, still percent-encoded, without the
/// query) names, or `None` when it does not name a regular file inside the root.
pub fn resolve(root: &Path, rel: &str) -> Option<PathBuf> {
    let decoded = percent_decode_str(rel).decode_utf8().ok()?;
    let mut path = root.to_path_buf();
    for seg in decoded.split('/') {
        if seg.is_empty()
            || seg.starts_with('.')
            || seg.contains(['\\', ':', '\0'])
            || Path::new(seg).is_absolute()
        {
            return None;
        }
        path.push(seg);
        // lstat: a symlink is refused wherever it is, before anything is opened.
        let meta = std::fs::symlink_metadata(&path).ok()?;
        if meta.file_type().is_symlink() {
            return None;
        }
    }
    let canonical = path.canonicalize().ok()?;
    if !canonical.starts_with(root) || !canonical.is_file() {
        return None;
    }
    Some(canonical)
}

/// Opens a resolved file without following a symlink swapped in since [`resolve`] checked it.
pub fn open(path: &Path) -> std::io::Result<File> {
    let mut opts = std::fs::OpenOptions::new();
    opts.read(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        opts.custom_flags(libc::O_NOFOLLOW);
    }
    opts.open(path)
}

/// The content type of a data file.
pub fn content_type(path: &Path) -> &'static str {
    match path.extension().and_then(|e| e.to_str()) {
        Some("json") => "application/json",
        _ => "application/octet-stream",
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn only_regular_files_inside_the_root() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path().join("data");
        std::fs::create_dir_all(root.join("samples/host=a")).unwrap();
        std::fs::write(root.join("manifest.json"), b"{}").unwrap();
        std::fs::write(root.join("samples/host=a/x.parquet"), b"x").unwrap();
        std::fs::write(root.join(".stabmon.lock"), b"").unwrap();
        std::fs::write(dir.path().join("secret"), b"s").unwrap();
        let root = root.canonicalize().unwrap();

        assert_eq!(
            resolve(&root, "manifest.json"),
            Some(root.join("manifest.json"))
        );
        assert_eq!(
            resolve(&root, "samples/host%3Da/x.parquet"),
            Some(root.join("samples/host=a/x.parquet"))
        );
        for bad in [
            "",
            "samples",
            "../secret",
            "samples/../../secret",
            "%2e%2e/secret",
            "%2e%2e%2fsecret",
            "%252e%252e%252fsecret",
            "..%5csecret",
            "/etc/passwd",
            "%2fetc%2fpasswd",
            "samples//host=a/x.parquet",
            ".stabmon.lock",
            "c:%5cwindows",
            "x%00",
            "%ff",
        ] {
            assert_eq!(resolve(&root, bad), None, "{bad:?}");
        }
        #[cfg(unix)]
        {
            std::os::unix::fs::symlink(dir.path().join("secret"), root.join("out")).unwrap();
            std::os::unix::fs::symlink(root.join("manifest.json"), root.join("in")).unwrap();
            std::os::unix::fs::symlink(dir.path(), root.join("up")).unwrap();
            assert_eq!(resolve(&root, "out"), None);
            assert_eq!(resolve(&root, "in"), None);
            assert_eq!(resolve(&root, "up/secret"), None);
        }
    }
}
