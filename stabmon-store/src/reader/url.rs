//! A data directory behind a URL: opened by its manifest, its files downloaded as reads need them.

use std::collections::HashSet;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};

use stabmon_core::Timestamp;

use crate::error::{Error, io};
use crate::layout::{SegmentLoc, TABLES};
use crate::manifest::{MANIFEST_FILE, Manifest, abs_path};
use crate::remote::{self, Got};
use crate::schema::SCHEMA_VERSION;

use super::{StoreReader, Warnings};

/// A data directory behind a URL: its manifest, and a temporary directory holding what was downloaded.
#[derive(Debug)]
pub(super) struct Remote {
    pub(super) url: String,
    pub(super) token: Option<Token>,
    pub(super) manifest: Manifest,
    pub(super) dir: tempfile::TempDir,
    pub(super) fetched: Mutex<HashSet<String>>,
}

/// A bearer token, kept out of `Debug` output.
pub(super) struct Token(String);

impl std::fmt::Debug for Token {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Token(..)")
    }
}

impl StoreReader {
    /// Opens a data directory served over HTTP(S) by its URL: fetches `URL/manifest.json` now, and the segments a
    /// read needs when it happens. An unreachable server, an HTTP error or a directory without a stabmon
    /// manifest is an [`Error::Remote`] naming the URL.
    pub fn open_url(url: &str) -> Result<StoreReader, Error> {
        Self::open_url_with_token(url, None)
    }

    /// Like [`open_url`](Self::open_url), sending `Authorization: Bearer <token>` with every request when a token
    /// is given (for a server that wants one, such as `stabmon serve --token`). A server that answers 401 or 403
    /// is an [`Error::Remote`] saying that a token is needed or was refused. The token is kept for the reads that
    /// follow and is never shown in errors or in `Debug` output.
    pub fn open_url_with_token(url: &str, token: Option<&str>) -> Result<StoreReader, Error> {
        let base = url.trim_end_matches('/').to_owned();
        let manifest_url = remote::join(&base, MANIFEST_FILE);
        let got = remote::get_all(vec![manifest_url.clone()], token)?;
        let body = match got.into_iter().next() {
            Some(Got::Body(b)) => b,
            _ => {
                return Err(Error::Remote {
                    url: manifest_url,
                    reason: "HTTP 404: there is no manifest.json, so this is not a stabmon data directory \
                             (or the recorder has not started yet)"
                        .into(),
                });
            }
        };
        Self::from_remote_manifest(&base, &body, token)
    }

    /// The reader of the data directory at `base` (no trailing `/`) whose server sent `body` as its manifest.
    pub(crate) fn from_remote_manifest(
        base: &str,
        body: &[u8],
        token: Option<&str>,
    ) -> Result<StoreReader, Error> {
        let manifest_url = remote::join(base, MANIFEST_FILE);
        let manifest =
            Manifest::from_json(body, &manifest_url).map_err(|reason| Error::Remote {
                url: manifest_url.clone(),
                reason,
            })?;
        if manifest.schema_version > SCHEMA_VERSION {
            return Err(Error::Remote {
                url: manifest_url,
                reason: format!(
                    "it holds stabmon schema version {}, but this stabmon reads versions up to {SCHEMA_VERSION}: upgrade stabmon to read it",
                    manifest.schema_version
                ),
            });
        }
        let dir = tempfile::Builder::new()
            .prefix("stabmon-remote-")
            .tempdir()
            .map_err(io(std::env::temp_dir()))?;
        let mut segments: Vec<SegmentLoc> = manifest
            .segments
            .iter()
            .filter(|s| s.table == TABLES[0])
            .map(|s| SegmentLoc {
                host: s.host.clone(),
                date: s.date.clone(),
                name: s.name.clone(),
                root: dir.path().to_path_buf(),
            })
            .collect();
        segments.sort();
        segments.dedup();
        Ok(StoreReader {
            path: PathBuf::from(base),
            segments,
            host: None,
            journal_root: Some(dir.path().to_path_buf()),
            stops: manifest.stops.clone(),
            warnings: Arc::new(Mutex::new(Warnings::default())),
            remote: Some(Arc::new(Remote {
                url: base.to_owned(),
                token: token.map(|t| Token(t.to_owned())),
                manifest,
                dir,
                fetched: Mutex::new(HashSet::new()),
            })),
        })
    }

    /// Downloads what a read of `[from, to)` needs from a remote store: the segments in range (once) and the
    /// journals (every time: they grow).
    pub(super) fn fetch_remote(
        &self,
        r: &Remote,
        from: Option<Timestamp>,
        to: Option<Timestamp>,
    ) -> Result<(), Error> {
        let (rels, segment_count) = self.remote_files(r, from, to);
        let urls = rels.iter().map(|p| remote::join(&r.url, p)).collect();
        let got = remote::get_all(urls, r.token.as_ref().map(|t| t.0.as_str()))?;
        for (i, (rel, got)) in rels.iter().zip(got).enumerate() {
            let local = abs_path(r.dir.path(), rel);
            match got {
                Got::Body(bytes) => {
                    if let Some(dir) = local.parent() {
                        std::fs::create_dir_all(dir).map_err(io(dir))?;
                    }
                    std::fs::write(&local, bytes).map_err(io(&local))?;
                    if i < segment_count {
                        let mut fetched = match r.fetched.lock() {
                            Ok(g) => g,
                            Err(p) => p.into_inner(),
                        };
                        fetched.insert(rel.clone());
                    }
                }
                // A journal compacted meanwhile, a segment deleted by retention: skip it, say so once.
                Got::NotFound => {
                    let _ = std::fs::remove_file(&local);
                    if i < segment_count {
                        self.warn(
                            &local,
                            &Error::Remote {
                                url: remote::join(&r.url, rel),
                                reason: "HTTP 404: listed in the manifest but gone (deleted by retention?)".into(),
                            },
                        );
                    }
                }
            }
        }
        Ok(())
    }

    /// The files (relative paths from the manifest) a read of `[from, to)` downloads: the segments in range not
    /// downloaded yet, then the journals; and how many of them are segments.
    fn remote_files(
        &self,
        r: &Remote,
        from: Option<Timestamp>,
        to: Option<Timestamp>,
    ) -> (Vec<String>, usize) {
        let host = self.host.as_deref();
        let wanted: HashSet<(&str, &str, &str)> = r
            .manifest
            .segments_in_range(TABLES[0], host, from, to)
            .into_iter()
            .map(|s| (s.host.as_str(), s.date.as_str(), s.name.as_str()))
            .collect();
        let mut rels: Vec<String> = {
            let fetched = match r.fetched.lock() {
                Ok(g) => g,
                Err(p) => p.into_inner(),
            };
            r.manifest
                .segments
                .iter()
                .filter(|s| wanted.contains(&(s.host.as_str(), s.date.as_str(), s.name.as_str())))
                .filter(|s| !fetched.contains(&s.path))
                .map(|s| s.path.clone())
                .collect()
        };
        let segment_count = rels.len();
        rels.extend(
            r.manifest
                .journals
                .iter()
                .filter(|j| host.is_none_or(|h| h == j.host))
                .map(|j| j.path.clone()),
        );
        (rels, segment_count)
    }

    /// For a served directory: its URL, the download directory, and every file a read of the whole range would
    /// download.
    #[cfg(feature = "fuzzing")]
    pub(crate) fn remote_downloads(&self) -> Option<(String, PathBuf, Vec<String>)> {
        let r = self.remote.as_deref()?;
        let (rels, _) = self.remote_files(r, None, None);
        Some((r.url.clone(), r.dir.path().to_path_buf(), rels))
    }
}
