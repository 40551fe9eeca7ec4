//! The journals of a data directory: the samples not yet compacted into segments.

use std::path::{Path, PathBuf};

use stabmon_core::Sample;

use crate::recorder::JOURNAL_DIR;

use super::StoreReader;

impl StoreReader {
    /// Every sample of the journals (of a recorder still running, or that died), in file order; an unreadable
    /// journal is reported once in [`warnings`](Self::warnings).
    pub(super) fn read_journals(&self) -> Vec<Sample> {
        let mut out = Vec::new();
        let Some(root) = &self.journal_root else {
            return out;
        };
        for path in local_journals(root) {
            let Ok(bytes) = std::fs::read(&path) else {
                continue; // compacted and removed meanwhile
            };
            match crate::codec::read_journal(&bytes) {
                Ok(c) => out.extend(c.samples),
                Err(why) => {
                    let mut w = self.lock_warnings();
                    if w.seen.insert(path.clone()) {
                        w.list.push(format!(
                            "skipped {}: not a readable journal ({why})",
                            path.display()
                        ));
                    }
                }
            }
        }
        out
    }
}

/// The journals under `root/_journal/host=*/`.
pub(super) fn local_journals(root: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    let Ok(hosts) = std::fs::read_dir(root.join(JOURNAL_DIR)) else {
        return out;
    };
    for h in hosts.flatten() {
        if let Ok(files) = std::fs::read_dir(h.path()) {
            out.extend(
                files
                    .flatten()
                    .map(|f| f.path())
                    .filter(|p| p.extension().is_some_and(|e| e == "journal")),
            );
        }
    }
    out.sort();
    out
}
