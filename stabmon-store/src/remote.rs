//! Reading a data directory served over HTTP(S): `manifest.json` first, then only the files a read needs.
//!
//! reqwest's blocking client panics inside an async runtime, and embedders are often async: every request runs
//! on a thread this crate spawns and joins.

use std::sync::Arc;
use std::time::Duration;

use crate::error::Error;

/// A URL's scheme says it is remote.
pub(crate) fn is_url(s: &str) -> bool {
    let lower = s.get(..8).unwrap_or(s).to_ascii_lowercase();
    lower.starts_with("http://") || lower.starts_with("https://")
}

/// Joins a base URL (a directory) and a relative file path, percent-encoding the path's segments: the store's
/// own file names percent-encode odd host names (`host=we%2Fb`), so a literal `%` must travel as `%25`.
pub(crate) fn join(base: &str, rel: &str) -> String {
    let mut url = String::with_capacity(base.len() + rel.len() + 8);
    url.push_str(base.trim_end_matches('/'));
    for segment in rel.split('/') {
        url.push('/');
        for b in segment.bytes() {
            // RFC 3986 pchar: unreserved, sub-delims, ':' and '@' stand as they are.
            if b.is_ascii_alphanumeric() || b"-._~!$&'()*+,;=:@".contains(&b) {
                url.push(char::from(b));
            } else {
                url.push_str(&format!("%{b:02X}"));
            }
        }
    }
    url
}

/// The outcome of one GET.
pub(crate) enum Got {
    Body(Vec<u8>),
    /// HTTP 404.
    NotFound,
}

/// GETs every URL, in order, on a thread of our own, with `Authorization: Bearer <token>` when a token is given.
/// An unreachable server or an unexpected status is an error naming the URL (401 and 403 say that a token is
/// needed or refused); a 404 is reported as [`Got::NotFound`] for the caller to judge.
pub(crate) fn get_all(urls: Vec<String>, token: Option<&str>) -> Result<Vec<Got>, Error> {
    let token = token.map(str::to_owned);
    let worker = std::thread::Builder::new()
        .name("stabmon-http".into())
        .spawn(move || get_all_here(&urls, token.as_deref()))
        .map_err(|e| Error::Remote {
            url: String::new(),
            reason: format!("cannot start the download thread: {e}"),
        })?;
    worker.join().unwrap_or_else(|_| {
        Err(Error::Remote {
            url: String::new(),
            reason: "the download thread panicked".into(),
        })
    })
}

/// The TLS configuration of the client: rustls with the ring provider, given here rather than installed as the
/// process's default (which would be a process-wide side effect, and would fail where another library installed
/// a different one), and the platform's certificate verifier, as reqwest's own rustls setup has it.
pub(crate) fn tls_config() -> Result<rustls::ClientConfig, rustls::Error> {
    use rustls_platform_verifier::BuilderVerifierExt;
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let mut config = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()?
        .with_platform_verifier()?
        .with_no_client_auth();
    // The client speaks HTTP/1.1 only (reqwest without its `http2` feature).
    config.alpn_protocols = vec![b"http/1.1".to_vec()];
    Ok(config)
}

/// The TLS configuration of stabmon's HTTP clients (the `http(s)://` reader and object storage): rustls with the
/// ring provider, given to each client rather than installed process-wide, and the platform's certificate
/// verifier. For other HTTP clients of an application (the `stabmon` binary's webhook) that should verify servers
/// as the readers do; [`rustls`] is re-exported for its type.
pub fn http_tls_config() -> Result<rustls::ClientConfig, Error> {
    tls_config().map_err(|e| Error::Tls {
        reason: e.to_string(),
    })
}

/// No file of a data directory is this big (an hourly segment is well under 1 MB, a manifest a few MB): a body
/// that claims or sends more is refused before it is held in memory.
pub(crate) const MAX_DOWNLOAD_BYTES: u64 = 512 << 20;

fn too_big(n: u64) -> String {
    format!(
        "the server sent {n} bytes or more, over the {} MiB that any file of a data directory may have",
        MAX_DOWNLOAD_BYTES >> 20
    )
}

fn get_all_here(urls: &[String], token: Option<&str>) -> Result<Vec<Got>, Error> {
    let setup_failed = |e: &dyn std::fmt::Display| Error::Remote {
        url: urls.first().cloned().unwrap_or_default(),
        reason: format!("cannot set up the HTTP client: {e}"),
    };
    let tls = tls_config().map_err(|e| setup_failed(&e))?;
    let client = reqwest::blocking::Client::builder()
        .tls_backend_preconfigured(tls)
        .connect_timeout(Duration::from_secs(10))
        .timeout(Duration::from_secs(120))
        .build()
        .map_err(|e| setup_failed(&e))?;
    let mut out = Vec::with_capacity(urls.len());
    for url in urls {
        let fail = |reason: String| Error::Remote {
            url: url.clone(),
            reason,
        };
        let mut req = client.get(url);
        if let Some(t) = token {
            req = req.bearer_auth(t);
        }
        let resp = req
            .send()
            .map_err(|e| fail(format!("unreachable: {}", with_causes(&e))))?;
        let status = resp.status();
        if status == reqwest::StatusCode::NOT_FOUND {
            out.push(Got::NotFound);
            continue;
        }
        if status == reqwest::StatusCode::UNAUTHORIZED || status == reqwest::StatusCode::FORBIDDEN {
            return Err(fail(format!(
                "the server answered HTTP {status}: {}",
                if token.is_some() {
                    "the token was refused"
                } else {
                    "it wants a token (stabmon: --token or $STABMON_TOKEN)"
                }
            )));
        }
        if !status.is_success() {
            return Err(fail(format!("the server answered HTTP {status}")));
        }
        // A hostile or broken server's length is checked before anything is allocated for it, and the body is
        // read no further than the limit whatever the header said.
        if let Some(n) = resp.content_length()
            && n > MAX_DOWNLOAD_BYTES
        {
            return Err(fail(too_big(n)));
        }
        let mut body = Vec::new();
        std::io::Read::read_to_end(
            &mut std::io::Read::take(resp, MAX_DOWNLOAD_BYTES + 1),
            &mut body,
        )
        .map_err(|e| fail(format!("the download broke off: {}", with_causes(&e))))?;
        if body.len() as u64 > MAX_DOWNLOAD_BYTES {
            return Err(fail(too_big(body.len() as u64)));
        }
        out.push(Got::Body(body));
    }
    Ok(out)
}

/// An error's message followed by its causes' (reqwest's own says only "error sending request"; the cause says
/// why: refused, a certificate not trusted, a timeout).
pub(crate) fn with_causes(e: &dyn std::error::Error) -> String {
    let mut msg = e.to_string();
    let mut cause = e.source();
    while let Some(c) = cause {
        let text = c.to_string();
        if !msg.contains(&text) {
            msg.push_str(": ");
            msg.push_str(&text);
        }
        cause = c.source();
    }
    msg
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls() {
        assert!(is_url("http://127.0.0.1:8000/data"));
        assert!(is_url("HTTPS://example.invalid/"));
        assert!(!is_url("/var/lib/stabmon"));
        assert!(!is_url("ftp://x"));
        assert_eq!(
            join("http://h/d/", "manifest.json"),
            "http://h/d/manifest.json"
        );
        assert_eq!(join("http://h/d", "a/b"), "http://h/d/a/b");
        assert_eq!(
            join(
                "http://h/d/",
                "samples/host=we%2Fb/date=2026-11-25/x y.parquet"
            ),
            "http://h/d/samples/host=we%252Fb/date=2026-11-25/x%20y.parquet"
        );
    }
}
