//! Latency probes against servers these tests start on 127.0.0.1 (never anything else; the system resolver is
//! asked only about `localhost`, which /etc/hosts answers). Each test checks the outcome and that the timings
//! present are plausible, and that the ones that do not apply are absent.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::io::{Read, Write};
use std::net::{Ipv4Addr, SocketAddr, TcpListener, TcpStream, UdpSocket};
use std::sync::Arc;
use std::thread;
use std::time::{Duration, Instant};

use socket2::{Domain, SockRef, Socket, Type};
use stabmon_core::{LatencyProbe, ProbeOutcome};
use stabmon_probe::{Collector, ProbeOptions, Prober, SamplerKind, Target};

/// Generous ceiling for anything on loopback that should be immediate (the machine is small and busy).
const QUICK_MS: f64 = 1000.0;

fn prober(timeout: Duration) -> Prober {
    let mut opts = ProbeOptions::new();
    opts.timeout = timeout;
    Prober::new(&opts).unwrap()
}

fn probe(url: &str) -> LatencyProbe {
    prober(Duration::from_secs(5)).probe(&Target::new("t", url).unwrap())
}

/// Serves every connection on 127.0.0.1 with `handler`, each on its own thread.
fn serve(handler: impl Fn(TcpStream) + Send + Sync + 'static) -> u16 {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let handler = Arc::new(handler);
    thread::spawn(move || {
        for stream in listener.incoming().flatten() {
            let handler = Arc::clone(&handler);
            thread::spawn(move || handler(stream));
        }
    });
    port
}

fn read_request(stream: &mut impl Read) -> Vec<u8> {
    let mut req = Vec::new();
    let mut buf = [0u8; 1024];
    while !req.windows(4).any(|w| w == b"\r\n\r\n") {
        match stream.read(&mut buf) {
            Ok(0) | Err(_) => break,
            Ok(n) => req.extend_from_slice(&buf[..n]),
        }
    }
    req
}

fn respond(status: &'static str, delay: Duration) -> impl Fn(TcpStream) + Send + Sync + 'static {
    move |mut s: TcpStream| {
        let req = read_request(&mut s);
        assert!(req.starts_with(b"HEAD / HTTP/1.1\r\n"), "{req:?}");
        thread::sleep(delay);
        let _ = write!(
            s,
            "HTTP/1.1 {status}\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"
        );
    }
}

fn ms(v: Option<f64>, what: &str) -> f64 {
    let v = v.unwrap_or_else(|| panic!("{what} should be present"));
    assert!(v.is_finite() && v >= 0.0, "{what} = {v}");
    v
}

/// The timings of a probe that got a complete HTTP answer over plain TCP to an IP address.
fn check_http_timings(p: &LatencyProbe) {
    assert_eq!(p.dns_ms, None, "an IP address is not resolved");
    assert_eq!(p.tls_ms, None, "no TLS over http://");
    let connect = ms(p.connect_ms, "connect_ms");
    let first = ms(p.first_byte_ms, "first_byte_ms");
    let total = ms(p.total_ms, "total_ms");
    assert!(total >= connect + first, "{p:?}");
    assert!(total < QUICK_MS, "{p:?}");
}

#[test]
fn healthy_http() {
    let port = serve(respond("200 OK", Duration::ZERO));
    let p = probe(&format!("http://127.0.0.1:{port}/"));
    assert_eq!(p.outcome, ProbeOutcome::Ok, "{p:?}");
    assert_eq!(p.target, "t");
    check_http_timings(&p);
    assert_eq!(p.round_trip_ms(), p.total_ms);
}

#[test]
fn http_500_is_a_failure_with_its_code() {
    let port = serve(respond("500 Internal Server Error", Duration::ZERO));
    let p = probe(&format!("http://127.0.0.1:{port}/"));
    assert_eq!(p.outcome, ProbeOutcome::HttpStatus(500), "{p:?}");
    assert!(!p.outcome.is_ok());
    // The exchange did complete: its timings are real, but it is no successful round trip.
    check_http_timings(&p);
    assert_eq!(p.round_trip_ms(), None);
}

#[test]
fn refused_port() {
    let port = {
        let l = TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap().port()
    };
    for url in [
        format!("http://127.0.0.1:{port}/"),
        format!("tcp://127.0.0.1:{port}"),
    ] {
        let p = probe(&url);
        assert_eq!(p.outcome, ProbeOutcome::Refused, "{url}: {p:?}");
        assert_eq!(
            (p.connect_ms, p.first_byte_ms, p.total_ms),
            (None, None, None),
            "a refused connection has no latency figure: {p:?}"
        );
    }
}

#[test]
fn blackhole_times_out_at_the_timeout() {
    // Accepts and never answers.
    let port = serve(|s| {
        thread::sleep(Duration::from_secs(30));
        drop(s);
    });
    let timeout = Duration::from_millis(1500);
    let started = Instant::now();
    let p = prober(timeout).probe(&Target::new("t", &format!("http://127.0.0.1:{port}/")).unwrap());
    let took = started.elapsed();
    assert_eq!(p.outcome, ProbeOutcome::Timeout, "{p:?}");
    assert!(
        took >= timeout - Duration::from_millis(50) && took < timeout + Duration::from_secs(1),
        "took {took:?} for a {timeout:?} timeout"
    );
    // The connection was made (that layer works); no answer, so no first byte and no total.
    assert!(ms(p.connect_ms, "connect_ms") < QUICK_MS);
    assert_eq!((p.first_byte_ms, p.total_ms), (None, None), "{p:?}");
}

#[test]
fn reset_connection() {
    let port = serve(|mut s| {
        read_request(&mut s);
        SockRef::from(&s).set_linger(Some(Duration::ZERO)).unwrap();
        drop(s); // RST instead of FIN
    });
    let p = probe(&format!("http://127.0.0.1:{port}/"));
    assert_eq!(p.outcome, ProbeOutcome::Reset, "{p:?}");
    assert!(ms(p.connect_ms, "connect_ms") < QUICK_MS);
    assert_eq!((p.first_byte_ms, p.total_ms), (None, None), "{p:?}");
}

#[test]
fn slow_first_byte_is_measured() {
    let delay = Duration::from_millis(300);
    let port = serve(respond("200 OK", delay));
    let p = probe(&format!("http://127.0.0.1:{port}/"));
    assert_eq!(p.outcome, ProbeOutcome::Ok, "{p:?}");
    check_http_timings(&p);
    let first = ms(p.first_byte_ms, "first_byte_ms");
    assert!(
        (300.0..300.0 + 200.0).contains(&first),
        "first byte {first} ms for a 300 ms delay"
    );
    assert!(ms(p.total_ms, "total_ms") >= first);
}

#[test]
fn dns_phase_through_the_system_resolver_for_localhost() {
    // `localhost` is in /etc/hosts: the resolver is timed without leaving the machine.
    let port = serve(respond("200 OK", Duration::ZERO));
    let p = probe(&format!("http://localhost:{port}/"));
    // localhost may resolve to ::1 first, where nothing listens: then 127.0.0.1 is tried.
    assert_eq!(p.outcome, ProbeOutcome::Ok, "{p:?}");
    assert!(ms(p.dns_ms, "dns_ms") < QUICK_MS);
    let total = ms(p.total_ms, "total_ms");
    assert!(total >= p.dns_ms.unwrap_or_default() + p.connect_ms.unwrap_or_default());

    let p = probe("dns://localhost");
    assert_eq!(p.outcome, ProbeOutcome::Ok, "{p:?}");
    let dns = ms(p.dns_ms, "dns_ms");
    assert_eq!(p.total_ms, Some(dns));
    assert!(dns < QUICK_MS);
}

#[test]
fn tcp_connect_time() {
    let l = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = l.local_addr().unwrap().port();
    let p = probe(&format!("tcp://127.0.0.1:{port}"));
    assert_eq!(p.outcome, ProbeOutcome::Ok, "{p:?}");
    let connect = ms(p.connect_ms, "connect_ms");
    let total = ms(p.total_ms, "total_ms");
    assert!(connect <= total && total < QUICK_MS, "{p:?}");
    assert_eq!((p.dns_ms, p.tls_ms, p.first_byte_ms), (None, None, None));
}

mod tls {
    use super::*;
    use rustls::pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer};

    /// A self-signed certificate for 127.0.0.1 and a TLS server answering HEAD with 200; returns the port and
    /// the certificate (DER).
    fn tls_server() -> (u16, Vec<u8>) {
        let ck = rcgen::generate_simple_self_signed(vec!["127.0.0.1".to_owned()]).unwrap();
        let cert_der = ck.cert.der().to_vec();
        let key = PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(ck.signing_key.serialize_der()));
        let config = rustls::ServerConfig::builder_with_provider(Arc::new(
            rustls::crypto::ring::default_provider(),
        ))
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_no_client_auth()
        .with_single_cert(vec![CertificateDer::from(cert_der.clone())], key)
        .unwrap();
        let config = Arc::new(config);
        let port = serve(move |s| {
            let conn = rustls::ServerConnection::new(Arc::clone(&config)).unwrap();
            let mut tls = rustls::StreamOwned::new(conn, s);
            let req = read_request(&mut tls);
            if req.is_empty() {
                return; // the client refused our certificate
            }
            let _ =
                tls.write_all(b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\nConnection: close\r\n\r\n");
            tls.conn.send_close_notify();
            let _ = tls.flush();
        });
        (port, cert_der)
    }

    #[test]
    fn untrusted_self_signed_certificate_is_a_tls_error() {
        let (port, _) = tls_server();
        let p = probe(&format!("https://127.0.0.1:{port}/"));
        match &p.outcome {
            ProbeOutcome::TlsError(msg) => {
                assert!(msg.contains("certificate"), "the message says why: {msg}");
            }
            other => panic!("expected a TLS error, got {other:?}"),
        }
        assert!(ms(p.connect_ms, "connect_ms") < QUICK_MS);
        assert_eq!((p.tls_ms, p.first_byte_ms, p.total_ms), (None, None, None));
    }

    #[test]
    fn trusted_via_an_extra_root_records_the_handshake() {
        let (port, cert) = tls_server();
        let mut opts = ProbeOptions::new();
        opts.extra_root_certs_der.push(cert);
        let p = Prober::new(&opts)
            .unwrap()
            .probe(&Target::new("t", &format!("https://127.0.0.1:{port}/")).unwrap());
        assert_eq!(p.outcome, ProbeOutcome::Ok, "{p:?}");
        assert_eq!(p.dns_ms, None);
        let connect = ms(p.connect_ms, "connect_ms");
        let tls = ms(p.tls_ms, "tls_ms");
        let first = ms(p.first_byte_ms, "first_byte_ms");
        let total = ms(p.total_ms, "total_ms");
        assert!(tls > 0.0, "a handshake takes time: {p:?}");
        assert!(total >= connect + tls + first && total < QUICK_MS, "{p:?}");
    }

    #[test]
    fn a_bad_extra_root_is_refused_at_setup() {
        let mut opts = ProbeOptions::new();
        opts.extra_root_certs_der
            .push(b"not a certificate".to_vec());
        let err = Prober::new(&opts)
            .err()
            .map(|e| e.to_string())
            .unwrap_or_default();
        assert!(err.contains("root certificate #1"), "{err}");
    }
}

#[test]
fn icmp_echo_to_loopback() {
    let p = probe("icmp://127.0.0.1");
    match &p.outcome {
        ProbeOutcome::Ok => {
            let total = ms(p.total_ms, "total_ms");
            assert!(total < QUICK_MS, "{p:?}");
            assert_eq!(
                (p.dns_ms, p.connect_ms, p.first_byte_ms),
                (None, None, None)
            );
        }
        // Neither a datagram ICMP socket (ping_group_range) nor a raw one (no CAP_NET_RAW): said clearly.
        ProbeOutcome::Other(msg) if msg.contains("not permitted") => {
            assert_eq!(p.total_ms, None);
            eprintln!("ICMP not permitted here: {msg}");
        }
        other => panic!("unexpected ICMP outcome {other:?}"),
    }
}

#[test]
fn full_accept_backlog_drops_syns_and_times_out() {
    // listen(backlog = 1) and never accept: once the queue is full the kernel drops new SYNs.
    let sock = Socket::new(Domain::IPV4, Type::STREAM, None).unwrap();
    sock.bind(&SocketAddr::from((Ipv4Addr::LOCALHOST, 0)).into())
        .unwrap();
    sock.listen(1).unwrap();
    let addr = sock.local_addr().unwrap().as_socket().unwrap();
    let mut held = Vec::new();
    let mut full = false;
    for _ in 0..16 {
        match TcpStream::connect_timeout(&addr, Duration::from_millis(300)) {
            Ok(s) => held.push(s),
            Err(_) => {
                full = true;
                break;
            }
        }
    }
    assert!(
        full,
        "the backlog never filled after {} connections",
        held.len()
    );
    let timeout = Duration::from_secs(1);
    let started = Instant::now();
    let p = prober(timeout).probe(&Target::new("t", &format!("tcp://{addr}")).unwrap());
    let took = started.elapsed();
    assert_eq!(p.outcome, ProbeOutcome::Timeout, "{p:?}");
    assert_eq!((p.connect_ms, p.total_ms), (None, None));
    assert!(
        took >= timeout - Duration::from_millis(50) && took < timeout + Duration::from_secs(1),
        "{took:?}"
    );
}

mod dns {
    use super::*;

    #[derive(Clone, Copy)]
    enum Mode {
        Answer,
        NxDomain,
        Silence,
    }

    /// A small DNS responder on 127.0.0.1 (UDP): answers every query the same way.
    fn responder(mode: Mode) -> u16 {
        let sock = UdpSocket::bind("127.0.0.1:0").unwrap();
        let port = sock.local_addr().unwrap().port();
        thread::spawn(move || {
            let mut buf = [0u8; 512];
            while let Ok((n, from)) = sock.recv_from(&mut buf) {
                let q = &buf[..n];
                let mut r = q.to_vec();
                r[2] = 0x81; // QR, RD
                match mode {
                    Mode::Silence => continue,
                    Mode::NxDomain => r[3] = 0x83, // RA, NXDOMAIN
                    Mode::Answer => {
                        r[3] = 0x80;
                        r[7] = 1; // ANCOUNT 1
                        // Name pointer to the question, A, IN, TTL 60, 4 bytes: 127.0.0.1.
                        r.extend_from_slice(&[
                            0xc0, 12, 0, 1, 0, 1, 0, 0, 0, 60, 0, 4, 127, 0, 0, 1,
                        ]);
                    }
                }
                let _ = sock.send_to(&r, from);
            }
        });
        port
    }

    #[test]
    fn answer() {
        let port = responder(Mode::Answer);
        let p = probe(&format!("dns://host.test@127.0.0.1:{port}"));
        assert_eq!(p.outcome, ProbeOutcome::Ok, "{p:?}");
        let dns = ms(p.dns_ms, "dns_ms");
        assert_eq!(p.total_ms, Some(dns));
        assert!(dns < QUICK_MS);
        assert_eq!(
            (p.connect_ms, p.tls_ms, p.first_byte_ms),
            (None, None, None)
        );
    }

    #[test]
    fn nxdomain_is_a_dns_error() {
        let port = responder(Mode::NxDomain);
        let p = probe(&format!("dns://nothing.test@127.0.0.1:{port}"));
        match &p.outcome {
            ProbeOutcome::DnsError(msg) => assert!(msg.contains("NXDOMAIN"), "{msg}"),
            other => panic!("expected NXDOMAIN, got {other:?}"),
        }
        // The server did answer, promptly: that round trip is real and kept.
        assert!(ms(p.dns_ms, "dns_ms") < QUICK_MS);
        assert!(p.round_trip_ms().is_none());
    }

    #[test]
    fn silence_is_a_timeout() {
        let port = responder(Mode::Silence);
        let timeout = Duration::from_millis(800);
        let started = Instant::now();
        let p = prober(timeout)
            .probe(&Target::new("t", &format!("dns://host.test@127.0.0.1:{port}")).unwrap());
        let took = started.elapsed();
        assert_eq!(p.outcome, ProbeOutcome::Timeout, "{p:?}");
        assert_eq!((p.dns_ms, p.total_ms), (None, None));
        assert!(
            took >= timeout - Duration::from_millis(50) && took < timeout + Duration::from_secs(1),
            "{took:?}"
        );
    }

    #[test]
    fn no_server_on_the_port_is_refused() {
        let port = {
            let s = UdpSocket::bind("127.0.0.1:0").unwrap();
            s.local_addr().unwrap().port()
        };
        let p = probe(&format!("dns://host.test@127.0.0.1:{port}"));
        assert_eq!(p.outcome, ProbeOutcome::Refused, "{p:?}");
        assert_eq!(p.total_ms, None);
    }
}

/// The schedule: a blackholed target neither delays the system samples nor the other target, probes at most once
/// at a time, and its probes are recorded at their own start with a timeout.
#[test]
fn a_blackholed_target_does_not_delay_samples() {
    let healthy = serve(respond("200 OK", Duration::ZERO));
    let blackhole = serve(|s| {
        thread::sleep(Duration::from_secs(60));
        drop(s);
    });
    let interval = Duration::from_millis(200);
    let timeout = Duration::from_millis(1000);
    let mut c = Collector::builder()
        .interval(interval)
        .sampler(SamplerKind::Sysinfo)
        .top_n(3)
        .target(Target::new("ok", &format!("http://127.0.0.1:{healthy}/")).unwrap())
        .target(Target::new("hole", &format!("http://127.0.0.1:{blackhole}/")).unwrap())
        .probe_timeout(timeout)
        .build()
        .unwrap();
    assert_eq!(c.targets().len(), 2);
    assert_eq!(c.probe_interval(), interval);
    let started = Instant::now();
    let n = 16;
    let mut probes = Vec::new();
    let mut worst = Duration::ZERO;
    for _ in 0..n {
        let s = c.next_sample().unwrap().unwrap();
        worst = worst.max(s.lateness);
        for p in &s.latency {
            // Started before the sample that carries it was taken: its tick plus its lateness (under load a
            // sample is taken late, and a probe that started after the tick but before the reading rides on it).
            let taken = s.ts.saturating_add(s.lateness);
            assert!(
                p.ts < taken,
                "{p:?} in the sample of {} taken at {taken}",
                s.ts
            );
        }
        probes.extend(s.latency);
    }
    let took = started.elapsed();
    // Generous bounds: this is a behavioural check, not a benchmark (see benches/benches/latency.rs).
    assert!(
        worst < Duration::from_millis(150),
        "a sample was {worst:?} late"
    );
    assert!(took < interval * (n + 5), "{n} samples took {took:?}");

    let ok: Vec<_> = probes.iter().filter(|p| p.target == "ok").collect();
    let hole: Vec<_> = probes.iter().filter(|p| p.target == "hole").collect();
    // About one healthy probe per interval, all fine.
    assert!(
        ok.len() >= n as usize - 4,
        "only {} healthy probes",
        ok.len()
    );
    assert!(ok.iter().all(|p| p.outcome.is_ok()), "{ok:?}");
    // The blackhole: timeouts, each started at least a timeout after the previous one (one in flight at most).
    assert!((2..=4).contains(&hole.len()), "{hole:?}");
    assert!(
        hole.iter()
            .all(|p| p.outcome == ProbeOutcome::Timeout && p.total_ms.is_none())
    );
    for w in hole.windows(2) {
        let gap = w[1].ts.duration_since(w[0].ts).unwrap();
        assert!(
            gap >= timeout - Duration::from_millis(20),
            "probes {gap:?} apart: {hole:?}"
        );
    }
}

#[test]
fn bad_schedule_settings_are_refused() {
    let t = || Target::new("a", "tcp://127.0.0.1:9").unwrap();
    let err = |b: stabmon_probe::CollectorBuilder| {
        b.build().err().map(|e| e.to_string()).unwrap_or_default()
    };
    assert!(err(Collector::builder().target(t()).target(t())).contains("used by another target"));
    assert!(
        err(Collector::builder()
            .target(t())
            .probe_interval(Duration::ZERO))
        .contains("probe_interval")
    );
    assert!(
        err(Collector::builder()
            .target(t())
            .probe_timeout(Duration::ZERO))
        .contains("probe_timeout")
    );
}

/// Embedding in a tokio application: building the collector and taking samples inside a runtime must not panic
/// (a blocking reqwest client would).
#[tokio::test]
async fn works_inside_a_tokio_runtime() {
    let port = serve(respond("200 OK", Duration::ZERO));
    let mut c = Collector::builder()
        .interval(Duration::from_millis(100))
        .sampler(SamplerKind::Sysinfo)
        .target(Target::new("web", &format!("http://127.0.0.1:{port}/")).unwrap())
        .build()
        .unwrap();
    let mut got = Vec::new();
    for _ in 0..3 {
        got.extend(c.next_sample().unwrap().unwrap().latency);
    }
    assert!(
        !got.is_empty() && got.iter().all(|p| p.outcome.is_ok()),
        "{got:?}"
    );
}

#[test]
fn works_inside_block_on_of_a_multi_thread_runtime() {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .unwrap();
    let port = serve(respond("200 OK", Duration::ZERO));
    let got = rt.block_on(async move {
        let mut c = Collector::builder()
            .interval(Duration::from_millis(100))
            .sampler(SamplerKind::Sysinfo)
            .target(Target::new("web", &format!("http://127.0.0.1:{port}/")).unwrap())
            .build()
            .unwrap();
        let mut got = Vec::new();
        for _ in 0..3 {
            got.extend(c.next_sample().unwrap().unwrap().latency);
        }
        got
    });
    assert!(
        !got.is_empty() && got.iter().all(|p| p.outcome.is_ok()),
        "{got:?}"
    );
}
