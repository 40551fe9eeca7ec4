//! A data directory behind https: the client brings its own TLS provider and never installs a process-wide one,
//! and a certificate it does not trust is an error that says so and names the URL.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::io::Read;
use std::net::TcpListener;
use std::sync::Arc;
use std::thread;

use rustls::pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer};
use stabmon_store::StoreReader;

/// A TLS server on 127.0.0.1 with a self-signed certificate (trusted by no one); returns its port.
fn untrusted_tls_server() -> u16 {
    let ck = rcgen::generate_simple_self_signed(vec!["127.0.0.1".to_owned()]).unwrap();
    let cert = CertificateDer::from(ck.cert.der().to_vec());
    let key = PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(ck.signing_key.serialize_der()));
    let config = rustls::ServerConfig::builder_with_provider(Arc::new(
        rustls::crypto::ring::default_provider(),
    ))
    .with_safe_default_protocol_versions()
    .unwrap()
    .with_no_client_auth()
    .with_single_cert(vec![cert], key)
    .unwrap();
    let config = Arc::new(config);
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    thread::spawn(move || {
        for stream in listener.incoming().take(10) {
            let Ok(stream) = stream else { continue };
            let conn = rustls::ServerConnection::new(Arc::clone(&config)).unwrap();
            let mut tls = rustls::StreamOwned::new(conn, stream);
            // The client refuses the certificate during the handshake: the read fails.
            let _ = tls.read(&mut [0; 1024]);
        }
    });
    port
}

#[test]
fn an_untrusted_certificate_is_a_clear_error_and_no_tls_provider_is_installed() {
    let port = untrusted_tls_server();
    let url = format!("https://127.0.0.1:{port}/data");
    let e = StoreReader::open_url(&url).unwrap_err().to_string();
    assert!(e.contains(&url), "the error names the URL: {e}");
    assert!(e.contains("certificate"), "the error says why: {e}");
    assert!(
        rustls::crypto::CryptoProvider::get_default().is_none(),
        "reading a URL installed a process-wide TLS provider"
    );
}
