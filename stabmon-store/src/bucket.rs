//! Object storage (`s3://`, `gs://`, `az://`): a fleet's Hive-partitioned dataset, listed by prefix, downloaded
//! and uploaded through the `object_store` crate.
//!
//! `object_store` is async only. A [`Bucket`] owns a small tokio runtime (two worker threads named
//! `stabmon-bucket`) and every call is spawned on it and waited for on the caller's thread through a channel, so a
//! caller inside another async runtime neither panics nor shares its threads. Credentials, region and endpoint come
//! from each cloud's standard environment (`AWS_ACCESS_KEY_ID`, `AWS_SECRET_ACCESS_KEY`, `AWS_REGION`,
//! `AWS_ENDPOINT_URL`, `AWS_ALLOW_HTTP`; `GOOGLE_SERVICE_ACCOUNT`, ...; `AZURE_STORAGE_ACCOUNT_NAME`, ...), as the
//! `object_store` builders' `from_env` reads them.

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use futures_util::StreamExt;
use object_store::client::{HttpClient, HttpConnector};
use object_store::path::Path as ObjPath;
use object_store::{
    ClientOptions, GetOptions, GetRange, ObjectStore, ObjectStoreExt, PutPayload, RetryConfig,
};

use crate::error::{Error, io};

/// The URL schemes of object storage this build reads and writes.
pub(crate) const SCHEMES: [&str; 7] = ["s3", "s3a", "gs", "az", "abfs", "abfss", "file"];

/// The scheme of `s` when it is written `scheme://...`, lower-cased.
pub(crate) fn scheme(s: &str) -> Option<String> {
    let (scheme, _) = s.split_once("://")?;
    let ok = scheme
        .chars()
        .next()
        .is_some_and(|c| c.is_ascii_alphabetic())
        && scheme
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '+' | '-' | '.'));
    ok.then(|| scheme.to_ascii_lowercase())
}

/// How patient a bucket's requests are.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Patience {
    /// A command waiting for an answer: a few quick retries, then an error.
    Command,
    /// The shipper, which has its own backoff between rounds: one try per round.
    Background,
}

/// One object store and the prefix the dataset is under, with the runtime its calls run on.
pub(crate) struct Bucket {
    url: String,
    store: Arc<dyn ObjectStore>,
    prefix: ObjPath,
    rt: tokio::runtime::Runtime,
}

impl std::fmt::Debug for Bucket {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Bucket").field("url", &self.url).finish()
    }
}

/// One object under the prefix: its path relative to the prefix, its size, and which version of it was listed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Object {
    pub rel: String,
    pub size: u64,
    pub version: Version,
}

/// Which version of an object a listing saw: its e-tag where the store gives one, and when it was last written.
/// Every range of an object is fetched from this version, so that a read never mixes the bytes of two versions.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct Version {
    /// The e-tag, checked by the store itself (`If-Match`).
    pub e_tag: Option<String>,
    /// When it was last written (microseconds since the epoch), compared where there is no e-tag.
    pub modified_micros: Option<i64>,
}

/// What one request of [`Bucket::start_get`] gave: its id, and the bytes asked for, or `None` for an object that
/// is gone.
pub(crate) type Got = (u64, Result<Option<bytes::Bytes>, Error>);

/// Sends an answer for a request even when its task ends without one (a panic in the I/O thread), so that a
/// caller waiting for every answer never waits forever.
struct Reply {
    id: u64,
    url: String,
    to: Option<std::sync::mpsc::Sender<Got>>,
}

impl Reply {
    fn send(mut self, got: Result<Option<bytes::Bytes>, Error>) {
        if let Some(to) = self.to.take() {
            let _ = to.send((self.id, got));
        }
    }
}

impl Drop for Reply {
    fn drop(&mut self) {
        if let Some(to) = self.to.take() {
            let _ = to.send((
                self.id,
                Err(Error::Remote {
                    url: std::mem::take(&mut self.url),
                    reason: "the I/O thread stopped".into(),
                }),
            ));
        }
    }
}

/// reqwest with rustls on the ring provider, given to the client rather than installed process-wide (the
/// connector `object_store` has by default wants a process-wide provider, or aws-lc-rs).
#[derive(Debug)]
struct Connector {
    patience: Patience,
}

impl HttpConnector for Connector {
    fn connect(&self, _options: &ClientOptions) -> object_store::Result<HttpClient> {
        let generic = |e: &dyn std::fmt::Display| object_store::Error::Generic {
            store: "stabmon",
            source: e.to_string().into(),
        };
        let tls = crate::remote::tls_config().map_err(|e| generic(&e))?;
        let timeout = match self.patience {
            Patience::Command => Duration::from_secs(120),
            Patience::Background => Duration::from_secs(300),
        };
        let client = reqwest::Client::builder()
            .tls_backend_preconfigured(tls)
            .connect_timeout(Duration::from_secs(5))
            .timeout(timeout)
            .build()
            .map_err(|e| generic(&e))?;
        Ok(HttpClient::new(client))
    }
}

impl Bucket {
    /// Opens the store a URL names (`s3://bucket/prefix`, `gs://...`, `az://container/prefix`), its credentials
    /// from the environment. Nothing is sent yet: a missing bucket or a refused credential shows at the first
    /// request.
    /// `options` are `object_store` configuration keys (`aws_endpoint`, `aws_allow_http`, `google_service_account`,
    /// `azure_storage_account_name`, ...) applied over the environment's; an unknown key is an error.
    pub(crate) fn open(
        url: &str,
        options: &[(String, String)],
        patience: Patience,
    ) -> Result<Bucket, Error> {
        let fail = |reason: String| Error::Remote {
            url: url.to_owned(),
            reason,
        };
        let scheme = scheme(url).unwrap_or_default();
        let retry = match patience {
            Patience::Command => RetryConfig {
                max_retries: 2,
                retry_timeout: Duration::from_secs(15),
                ..RetryConfig::default()
            },
            Patience::Background => RetryConfig {
                max_retries: 0,
                retry_timeout: Duration::from_secs(5),
                ..RetryConfig::default()
            },
        };
        let connector = Connector { patience };
        // The environment's settings, then `options`, then the URL; our retries and HTTP client.
        macro_rules! cloud {
            ($builder:ident :: $ty:ident, $keys:ident :: $key:ident) => {
                with_options(
                    object_store::$builder::$ty::from_env(),
                    options,
                    |b, k: object_store::$keys::$key, v| b.with_config(k, v),
                )
                .map_err(fail)?
                .with_url(url)
                .with_retry(retry)
                .with_http_connector(connector)
                .build()
                .map(|s| Arc::new(s) as _)
            };
        }
        let built: object_store::Result<Arc<dyn ObjectStore>> = match scheme.as_str() {
            "s3" | "s3a" => cloud!(aws::AmazonS3Builder, aws::AmazonS3ConfigKey),
            "gs" => cloud!(gcp::GoogleCloudStorageBuilder, gcp::GoogleConfigKey),
            "az" | "abfs" | "abfss" => cloud!(azure::MicrosoftAzureBuilder, azure::AzureConfigKey),
            "file" => {
                let dir = crate::reader::file_url_path(url)?;
                std::fs::create_dir_all(&dir).map_err(io(&dir))?;
                object_store::local::LocalFileSystem::new_with_prefix(&dir)
                    .map(|s| Arc::new(s) as _)
            }
            _ => {
                return Err(fail(format!(
                    "unknown URL scheme: use s3://, gs://, az://, file:// or http(s):// (object storage: {})",
                    SCHEMES.join(", ")
                )));
            }
        };
        let store = built.map_err(|e| fail(one_line(&e)))?;
        // The part after the bucket (or container) is the dataset's prefix.
        let after = match scheme.as_str() {
            "file" => "",
            _ => url.split_once("://").map_or("", |(_, rest)| rest),
        };
        let prefix = after
            .split_once('/')
            .map_or("", |(_, p)| p)
            .trim_matches('/');
        let prefix = ObjPath::parse(prefix)
            .map_err(|e| fail(format!("the prefix is not a valid object path: {e}")))?;
        let rt = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .thread_name("stabmon-bucket")
            .enable_all()
            .build()
            .map_err(|e| fail(format!("cannot start the I/O threads: {e}")))?;
        Ok(Bucket {
            url: url.trim_end_matches('/').to_owned(),
            store,
            prefix,
            rt,
        })
    }

    /// The URL, without a trailing `/`.
    pub(crate) fn url(&self) -> &str {
        &self.url
    }

    /// The URL of an object, for messages.
    pub(crate) fn object_url(&self, rel: &str) -> String {
        format!("{}/{rel}", self.url)
    }

    /// The object path of a file relative to the prefix, taken as it is (the store's own names are already
    /// percent-encoded, `host=we%2Fb`, which Hive-style readers decode).
    fn path(&self, rel: &str) -> Result<ObjPath, Error> {
        ObjPath::parse(format!("{}/{rel}", self.prefix)).map_err(|e| Error::Remote {
            url: self.object_url(rel),
            reason: format!("not a valid object path: {e}"),
        })
    }

    /// Runs a future on the bucket's runtime and waits for it here.
    fn run<T: Send + 'static>(
        &self,
        fut: impl Future<Output = Result<T, Error>> + Send + 'static,
    ) -> Result<T, Error> {
        let (tx, rx) = std::sync::mpsc::sync_channel(1);
        self.rt.spawn(async move {
            let _ = tx.send(fut.await);
        });
        rx.recv().unwrap_or_else(|_| {
            Err(Error::Remote {
                url: self.url.clone(),
                reason: "the I/O thread stopped".into(),
            })
        })
    }

    /// Every object under the prefix (recursively), with paths relative to it, sorted.
    pub(crate) fn list(&self) -> Result<Vec<Object>, Error> {
        let store = Arc::clone(&self.store);
        let prefix = self.prefix.clone();
        let url = self.url.clone();
        let mut out = self.run(async move {
            let mut stream = store.list(Some(&prefix));
            let mut out = Vec::new();
            while let Some(meta) = stream.next().await {
                let meta = meta.map_err(|e| error(&url, &e))?;
                let rel = meta
                    .location
                    .prefix_match(&prefix)
                    .map(|parts| {
                        parts
                            .map(|p| p.as_ref().to_owned())
                            .collect::<Vec<_>>()
                            .join("/")
                    })
                    .unwrap_or_else(|| meta.location.to_string());
                out.push(Object {
                    rel,
                    size: meta.size,
                    version: Version {
                        e_tag: meta.e_tag,
                        modified_micros: Some(meta.last_modified.timestamp_micros()),
                    },
                });
            }
            Ok(out)
        })?;
        out.sort_by(|a, b| a.rel.cmp(&b.rel));
        Ok(out)
    }

    /// Starts fetching bytes `range` of the object `rel`, of the version `version` only, on the bucket's threads,
    /// and returns at once; the answer comes on `done` under `id`: the bytes, `None` for an object that is gone,
    /// or an error naming the object's URL (an object changed since it was listed, or shorter than the range).
    pub(crate) fn start_get(
        &self,
        id: u64,
        rel: &str,
        range: std::ops::Range<u64>,
        version: &Version,
        done: &std::sync::mpsc::Sender<Got>,
    ) -> Result<(), Error> {
        let path = self.path(rel)?;
        let url = self.object_url(rel);
        let store = Arc::clone(&self.store);
        let version = version.clone();
        let reply = Reply {
            id,
            url: url.clone(),
            to: Some(done.clone()),
        };
        self.rt.spawn(async move {
            reply.send(get_range(&*store, &path, &url, range, &version).await);
        });
        Ok(())
    }

    /// Uploads a file's bytes as one object (a single PUT: an object appears whole or not at all).
    pub(crate) fn upload(&self, rel: &str, bytes: Vec<u8>) -> Result<(), Error> {
        let store = Arc::clone(&self.store);
        let path = self.path(rel)?;
        let url = self.object_url(rel);
        self.run(async move {
            store
                .put(&path, PutPayload::from(bytes))
                .await
                .map(|_| ())
                .map_err(|e| error(&url, &e))
        })
    }
}

/// Bytes `range` of the object at `path` (named `url` in errors), of `version` only: `None` when it is gone.
async fn get_range(
    store: &dyn ObjectStore,
    path: &ObjPath,
    url: &str,
    range: std::ops::Range<u64>,
    version: &Version,
) -> Result<Option<bytes::Bytes>, Error> {
    let changed = || {
        Error::Remote {
        url: url.to_owned(),
        reason: "changed since it was listed (another version of it is there now): read the bucket again"
            .into(),
    }
    };
    let options = GetOptions {
        if_match: version.e_tag.clone(),
        range: Some(GetRange::Bounded(range.clone())),
        ..GetOptions::default()
    };
    let got = match store.get_opts(path, options).await {
        Ok(got) => got,
        Err(object_store::Error::NotFound { .. }) => return Ok(None),
        Err(object_store::Error::Precondition { .. }) => return Err(changed()),
        Err(e) => return Err(error(url, &e)),
    };
    // Where a store answers without checking the e-tag, the version it says it sent must be the one listed (by
    // the e-tag, else by the second it was written: HTTP dates have no finer unit).
    let tag = |t: &str| t.trim_start_matches("W/").trim_matches('"').to_owned();
    let same = match (&version.e_tag, &got.meta.e_tag) {
        (Some(listed), Some(sent)) => tag(listed) == tag(sent),
        (Some(_), None) => true,
        (None, _) => version.modified_micros.is_none_or(|m| {
            m.div_euclid(1_000_000)
                == got
                    .meta
                    .last_modified
                    .timestamp_micros()
                    .div_euclid(1_000_000)
        }),
    };
    if !same {
        return Err(changed());
    }
    let bytes = got.bytes().await.map_err(|e| error(url, &e))?;
    if bytes.len() as u64 != range.end - range.start {
        return Err(Error::Remote {
            url: url.to_owned(),
            reason: format!(
                "asked for bytes {}..{}, got {} bytes: the object is shorter than listed or than its footer says \
                 (changed since it was listed, or damaged)",
                range.start,
                range.end,
                bytes.len()
            ),
        });
    }
    Ok(Some(bytes))
}

/// Applies configuration keys to a builder; an unknown key is an error naming it.
fn with_options<B, K: std::str::FromStr>(
    builder: B,
    options: &[(String, String)],
    set: impl Fn(B, K, String) -> B,
) -> Result<B, String> {
    options.iter().try_fold(builder, |b, (key, value)| {
        let k = key
            .to_ascii_lowercase()
            .parse::<K>()
            .map_err(|_| format!("unknown object store option {key:?}"))?;
        Ok(set(b, k, value.clone()))
    })
}

/// An `object_store` error as one line naming the URL, saying what it most likely means.
fn error(url: &str, e: &object_store::Error) -> Error {
    let text = one_line(e);
    let lower = text.to_ascii_lowercase();
    let reason = if lower.contains("nosuchbucket") || lower.contains("bucket does not exist") {
        format!("the bucket does not exist ({text})")
    } else if matches!(
        e,
        object_store::Error::PermissionDenied { .. } | object_store::Error::Unauthenticated { .. }
    ) || lower.contains("invalidaccesskeyid")
        || lower.contains("signaturedoesnotmatch")
        || lower.contains("accessdenied")
    {
        format!("the credentials were refused ({text})")
    } else if lower.contains("error sending request") || lower.contains("connect") {
        format!("unreachable ({text})")
    } else {
        text
    };
    Error::Remote {
        url: url.to_owned(),
        reason,
    }
}

/// An error with its causes, on one line.
fn one_line(e: &dyn std::error::Error) -> String {
    crate::remote::with_causes(e)
        .split_whitespace()
        .collect::<Vec<_>>()
        .join(" ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn schemes() {
        assert_eq!(scheme("s3://b/p").as_deref(), Some("s3"));
        assert_eq!(scheme("GS://b").as_deref(), Some("gs"));
        assert_eq!(scheme("/var/lib/stabmon"), None);
        assert_eq!(scheme("C:\\data"), None);
        assert_eq!(scheme("1x://y"), None);
        let e = Bucket::open("ftp://host/x", &[], Patience::Command).map(|_| ());
        let msg = e.err().map(|e| e.to_string()).unwrap_or_default();
        assert!(
            msg.contains("ftp://host/x") && msg.contains("unknown URL scheme"),
            "{msg}"
        );
    }
}
