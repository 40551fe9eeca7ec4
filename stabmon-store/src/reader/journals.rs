//! The journals of a data directory: the samples not yet compacted into segments.

use std::hash::{Hash, Hasher};
use std::path::{Path, PathBuf};
use std::sync::{Arc, PoisonError};

use stabmon_core::Sample;

use crate::recorder::JOURNAL_DIR;

use super::StoreReader;

/// The journals' samples as last decoded, with the files and contents (a hash of each) they were decoded from.
#[derive(Debug, Default)]
pub(super) struct JournalMemo {
    files: Vec<(PathBuf, u64)>,
    samples: Arc<Vec<Sample>>,
}

/// A hash of a journal's bytes: records are written into zeros laid ahead of them, so a journal's length does
/// not tell whether it changed.
fn content_hash(bytes: &[u8]) -> u64 {
    let mut h = std::collections::hash_map::DefaultHasher::new();
    bytes.hash(&mut h);
    h.finish()
}

impl StoreReader {
    /// Every sample of the journals (of a recorder still running, or that died), in file order; an unreadable
    /// journal is reported once in [`warnings`](Self::warnings).
    ///
    /// Decoded once for as long as no journal changes: a reading that asks for many windows (one per incident for
    /// its culprit) reads a live journal's bytes each time but decodes them once, not once per window.
    pub(super) fn read_journals(&self) -> Arc<Vec<Sample>> {
        let Some(root) = &self.journal_root else {
            return Arc::default();
        };
        // Compacted and removed meanwhile: left out.
        let read: Vec<(PathBuf, Vec<u8>)> = local_journals(root)
            .into_iter()
            .filter_map(|p| Some((std::fs::read(&p).ok()?, p)))
            .map(|(bytes, p)| (p, bytes))
            .collect();
        let files: Vec<(PathBuf, u64)> = read
            .iter()
            .map(|(p, bytes)| (p.clone(), content_hash(bytes)))
            .collect();
        let mut memo = self
            .journal_memo
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        if memo.files == files {
            return Arc::clone(&memo.samples);
        }
        let mut out = Vec::new();
        for (path, bytes) in &read {
            match crate::codec::read_journal(bytes) {
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
        let samples = Arc::new(out);
        *memo = JournalMemo {
            files,
            samples: Arc::clone(&samples),
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
