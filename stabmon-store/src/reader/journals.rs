//! The journals of a data directory: the samples not yet compacted into segments.

use std::path::{Path, PathBuf};
use std::sync::{Arc, PoisonError};

use stabmon_core::Sample;

use crate::recorder::JOURNAL_DIR;

use super::StoreReader;

/// The journals' samples as last decoded, with the files and lengths they were decoded from.
#[derive(Debug, Default)]
pub(super) struct JournalMemo {
    files: Vec<(PathBuf, u64)>,
    samples: Arc<Vec<Sample>>,
}

impl StoreReader {
    /// Every sample of the journals (of a recorder still running, or that died), in file order; an unreadable
    /// journal is reported once in [`warnings`](Self::warnings).
    ///
    /// Decoded once for as long as no journal changes length: a reading that asks for many windows (one per
    /// incident for its culprit) decodes a live journal once, not once per window.
    pub(super) fn read_journals(&self) -> Arc<Vec<Sample>> {
        let Some(root) = &self.journal_root else {
            return Arc::default();
        };
        let files: Vec<(PathBuf, u64)> = local_journals(root)
            .into_iter()
            .filter_map(|p| Some((std::fs::metadata(&p).ok()?.len(), p)))
            .map(|(len, p)| (p, len))
            .collect();
        let mut memo = self
            .journal_memo
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        if memo.files == files {
            return Arc::clone(&memo.samples);
        }
        let mut out = Vec::new();
        for (path, _) in &files {
            let Ok(bytes) = std::fs::read(path) else {
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
        // Kept only while every file read had the length it had when listed (a growing journal is read again).
        let unchanged = files
            .iter()
            .all(|(p, len)| std::fs::metadata(p).is_ok_and(|m| m.len() == *len));
        let samples = Arc::new(out);
        *memo = if unchanged {
            JournalMemo {
                files,
                samples: Arc::clone(&samples),
            }
        } else {
            JournalMemo::default()
        };
        samples
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
