//! Latency probes: accuracy, CPU per probe, and the lateness of the system sample while probing.
//!
//! Everything runs against servers this bench starts on 127.0.0.1; nothing leaves the machine.
//!
//! 1. Accuracy: an HTTP server on 127.0.0.1 that answers a `HEAD` after a known delay (0, 50 and 200 ms). The
//!    server measures the delay it really applied (from the request read to just before the answer is written);
//!    the error is the probe's `total_ms` minus that true delay, i.e. what the probe adds on top of the server's
//!    think time (connect, request, response on loopback, and the measurement itself). Also reported against the
//!    nominal delay, and the time spent in `probe()` outside the probe's own clock.
//! 2. CPU per probe: CPU time of the probing thread (`CLOCK_THREAD_CPUTIME_ID`, user + system) per probe, for
//!    http, https (TLS 1.3 handshake to a self-signed loopback server trusted as an extra root), tcp, icmp and a
//!    UDP DNS query to a loopback responder. Servers run on other threads and are not counted.
//! 3. Soak: a `Collector` at 1 s with one healthy (http), one refusing (tcp to a closed port) and one blackholed
//!    (accepts, never answers; 5 s timeout) target; the p50/p99/max lateness of the system sample against its
//!    tick, and the probes recorded per target. Then, as the baseline of the same run, as long again without
//!    targets.
//!
//! 4. Storage: a synthetic day of the `--net auto` set (three targets) at 1 s through `StoreWriter`: bytes a day
//!    of the `latency` table.
//!
//! Run: `cargo bench -p stabmon-benches --bench latency` (the soak lasts 2 x 5 minutes). Environment:
//! `LATENCY_SOAK` (soak length, e.g. `30s`, default `5m`), `LATENCY_ONLY` (`accuracy`, `cpu`, `storage` or
//! `soak`).
#![allow(clippy::unwrap_used, clippy::expect_used)]

#[path = "support/thread_cpu.rs"]
mod thread_cpu;

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream, UdpSocket};
use std::sync::{Arc, Mutex};
use std::thread;
use std::time::{Duration, Instant};

use stabmon_core::ProbeOutcome;
use stabmon_probe::{Collector, ProbeOptions, Prober, Target};
use thread_cpu::thread_cpu;

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

fn read_request(s: &mut impl Read) -> bool {
    let mut req = Vec::new();
    let mut buf = [0u8; 1024];
    while !req.windows(4).any(|w| w == b"\r\n\r\n") {
        match s.read(&mut buf) {
            Ok(0) | Err(_) => return false,
            Ok(n) => req.extend_from_slice(&buf[..n]),
        }
    }
    true
}

const OK: &[u8] = b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\nConnection: close\r\n\r\n";

/// An HTTP server answering after `delay`; the delays it really applied, in ms, are pushed to `applied`. It serves
/// one connection at a time on its accepting thread (the probes are sequential), so no thread start is measured.
fn delayed_server(delay: Duration, applied: Arc<Mutex<Vec<f64>>>) -> u16 {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let handle = move |mut s: TcpStream| {
        if !read_request(&mut s) {
            return;
        }
        let t = Instant::now();
        let until = t + delay;
        // Sleep most of the delay, then spin the last bit so the applied delay is exact to microseconds.
        if delay > Duration::from_millis(2) {
            thread::sleep(delay - Duration::from_millis(2));
        }
        while Instant::now() < until {
            std::hint::spin_loop();
        }
        let applied_ms = t.elapsed().as_secs_f64() * 1000.0;
        let _ = s.write_all(OK);
        applied.lock().unwrap().push(applied_ms);
    };
    thread::spawn(move || {
        for s in listener.incoming().flatten() {
            handle(s);
        }
    });
    port
}

fn quantile(sorted: &[f64], q: f64) -> f64 {
    if sorted.is_empty() {
        return f64::NAN;
    }
    let i = ((sorted.len() - 1) as f64 * q).round() as usize;
    sorted[i]
}

fn summary(mut v: Vec<f64>) -> String {
    v.sort_by(f64::total_cmp);
    format!(
        "min {:.3} | p50 {:.3} | p90 {:.3} | p99 {:.3} | max {:.3}",
        v.first().copied().unwrap_or(f64::NAN),
        quantile(&v, 0.5),
        quantile(&v, 0.9),
        quantile(&v, 0.99),
        v.last().copied().unwrap_or(f64::NAN)
    )
}

fn accuracy() {
    println!("## accuracy: total_ms against a loopback server answering after a known delay (ms)");
    let prober = Prober::new(&ProbeOptions::new()).unwrap();
    for (delay_ms, n) in [(0u64, 200usize), (50, 60), (200, 30)] {
        let applied = Arc::new(Mutex::new(Vec::new()));
        let port = delayed_server(Duration::from_millis(delay_ms), Arc::clone(&applied));
        let target = Target::new("acc", &format!("http://127.0.0.1:{port}/")).unwrap();
        // Warm up (first connection, page faults).
        for _ in 0..3 {
            prober.probe(&target);
        }
        thread::sleep(Duration::from_millis(50));
        applied.lock().unwrap().clear();
        let mut totals = Vec::new();
        let mut outer = Vec::new();
        for _ in 0..n {
            let t = Instant::now();
            let p = prober.probe(&target);
            outer.push(t.elapsed().as_secs_f64() * 1000.0);
            assert_eq!(p.outcome, ProbeOutcome::Ok, "{p:?}");
            totals.push(p.total_ms.unwrap());
            // Let the server record its applied delay before the next probe.
            thread::sleep(Duration::from_millis(5));
        }
        let deadline = Instant::now() + Duration::from_secs(2);
        while applied.lock().unwrap().len() < n && Instant::now() < deadline {
            thread::sleep(Duration::from_millis(10));
        }
        let applied = applied.lock().unwrap().clone();
        assert_eq!(applied.len(), n);
        let err_true: Vec<f64> = totals.iter().zip(&applied).map(|(t, a)| t - a).collect();
        let err_nominal: Vec<f64> = totals.iter().map(|t| t - delay_ms as f64).collect();
        let within = err_true.iter().filter(|e| e.abs() <= 2.0).count();
        let outer_minus_total: Vec<f64> = outer.iter().zip(&totals).map(|(o, t)| o - t).collect();
        println!("delay {delay_ms} ms, {n} probes:");
        println!("  error vs applied delay: {}", summary(err_true));
        println!("  error vs nominal delay: {}", summary(err_nominal));
        println!("  within 2 ms of the truth: {within}/{n}");
        println!(
            "  call time minus total_ms (setup outside the clock): {}",
            summary(outer_minus_total)
        );
    }
}

fn tls_server() -> (u16, Vec<u8>) {
    use rustls::pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer};
    let ck = rcgen::generate_simple_self_signed(vec!["127.0.0.1".to_owned()]).unwrap();
    let cert = ck.cert.der().to_vec();
    let key = PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(ck.signing_key.serialize_der()));
    let config = Arc::new(
        rustls::ServerConfig::builder_with_provider(Arc::new(
            rustls::crypto::ring::default_provider(),
        ))
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_no_client_auth()
        .with_single_cert(vec![CertificateDer::from(cert.clone())], key)
        .unwrap(),
    );
    let port = serve(move |s| {
        let conn = rustls::ServerConnection::new(Arc::clone(&config)).unwrap();
        let mut tls = rustls::StreamOwned::new(conn, s);
        if read_request(&mut tls) {
            let _ = tls.write_all(OK);
            tls.conn.send_close_notify();
            let _ = tls.flush();
        }
    });
    (port, cert)
}

fn dns_responder() -> u16 {
    let sock = UdpSocket::bind("127.0.0.1:0").unwrap();
    let port = sock.local_addr().unwrap().port();
    thread::spawn(move || {
        let mut buf = [0u8; 512];
        while let Ok((n, from)) = sock.recv_from(&mut buf) {
            let mut r = buf[..n].to_vec();
            r[2] = 0x81;
            r[3] = 0x80;
            let _ = sock.send_to(&r, from);
        }
    });
    port
}

fn cpu() {
    println!("## CPU per probe (probing thread only, user + system)");
    let (tls_port, cert) = tls_server();
    let mut opts = ProbeOptions::new();
    opts.extra_root_certs_der.push(cert);
    let prober = Prober::new(&opts).unwrap();
    let http = serve(|mut s| {
        if read_request(&mut s) {
            let _ = s.write_all(OK);
        }
    });
    let tcp = TcpListener::bind("127.0.0.1:0").unwrap();
    let tcp_port = tcp.local_addr().unwrap().port();
    // Accept and drop, so the backlog never fills.
    thread::spawn(move || for _s in tcp.incoming() {});
    let dns = dns_responder();
    for (label, url, n) in [
        ("http", format!("http://127.0.0.1:{http}/"), 500),
        ("https", format!("https://127.0.0.1:{tls_port}/"), 200),
        ("tcp", format!("tcp://127.0.0.1:{tcp_port}"), 500),
        ("icmp", "icmp://127.0.0.1".to_owned(), 500),
        ("dns (UDP)", format!("dns://host.test@127.0.0.1:{dns}"), 500),
    ] {
        let target = Target::new("cpu", &url).unwrap();
        let first = prober.probe(&target);
        if !first.outcome.is_ok() {
            println!("{label}: skipped, outcome {}", first.outcome);
            continue;
        }
        let mut per = Vec::new();
        let wall = Instant::now();
        for _ in 0..n {
            let c = thread_cpu();
            let p = prober.probe(&target);
            per.push((thread_cpu() - c).as_secs_f64() * 1e6);
            assert!(p.outcome.is_ok(), "{p:?}");
        }
        let wall = wall.elapsed();
        per.sort_by(f64::total_cmp);
        println!(
            "{label}: {n} probes, CPU per probe median {:.0} us, p90 {:.0} us, mean {:.0} us; wall per probe {:.0} us",
            quantile(&per, 0.5),
            quantile(&per, 0.9),
            per.iter().sum::<f64>() / n as f64,
            wall.as_secs_f64() * 1e6 / n as f64
        );
    }
}

fn soak() {
    let len = std::env::var("LATENCY_SOAK")
        .ok()
        .map(|s| stabmon_core::units::parse_duration(&s).unwrap())
        .unwrap_or(Duration::from_secs(300));
    println!(
        "## soak: system-sample lateness at 1 s for {}s with a healthy, a refusing and a blackholed target",
        len.as_secs()
    );
    let healthy = serve(|mut s| {
        if read_request(&mut s) {
            let _ = s.write_all(OK);
        }
    });
    let refused = TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let blackhole = serve(|s| {
        thread::sleep(Duration::from_secs(3600));
        drop(s);
    });
    let c = Collector::builder()
        .interval(Duration::from_secs(1))
        .target(Target::new("healthy", &format!("http://127.0.0.1:{healthy}/")).unwrap())
        .target(Target::new("refused", &format!("tcp://127.0.0.1:{refused}")).unwrap())
        .target(Target::new("blackhole", &format!("http://127.0.0.1:{blackhole}/")).unwrap())
        .build()
        .unwrap();
    run_soak(c, len);
    println!("### baseline: the same collector without targets, as long again");
    run_soak(
        Collector::builder()
            .interval(Duration::from_secs(1))
            .build()
            .unwrap(),
        len,
    );
}

fn run_soak(mut c: Collector, len: Duration) {
    let stop = c.stop_handle();
    thread::spawn(move || {
        thread::sleep(len);
        stop.stop();
    });
    let mut lateness = Vec::new();
    let mut probes = Vec::new();
    while let Some(s) = c.next_sample().unwrap() {
        lateness.push(s.lateness.as_secs_f64() * 1000.0);
        probes.extend(s.latency);
    }
    println!("sampler {}, {} samples", c.sampler_name(), lateness.len());
    println!("lateness ms: {}", summary(lateness.clone()));
    let over20 = lateness.iter().filter(|&&l| l > 20.0).count();
    println!("samples later than 20 ms: {over20}");
    for name in c.targets().iter().map(Target::name) {
        let ps: Vec<_> = probes.iter().filter(|p| p.target == name).collect();
        let mut kinds: Vec<(&str, usize)> = Vec::new();
        for p in &ps {
            match kinds.iter_mut().find(|(k, _)| *k == p.outcome.kind()) {
                Some((_, n)) => *n += 1,
                None => kinds.push((p.outcome.kind(), 1)),
            }
        }
        let rtts: Vec<f64> = ps.iter().filter_map(|p| p.round_trip_ms()).collect();
        println!(
            "{name}: {} probes {kinds:?}; round trip {}",
            ps.len(),
            if rtts.is_empty() {
                "-".to_owned()
            } else {
                summary(rtts)
            }
        );
    }
}

/// A deterministic pseudo-random generator (xorshift64*), so the synthetic day is the same in every run.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> f64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        (self.0.wrapping_mul(0x2545_f491_4f6c_dd1d) >> 11) as f64 / (1u64 << 53) as f64
    }

    /// A positive value around `median`, with a long right tail (log-normal-ish).
    fn around(&mut self, median: f64) -> f64 {
        median * (1.5 * (self.next() - 0.5) + 2.0 * self.next().powi(8)).exp()
    }
}

/// Bytes a day of the latency table: the `--net auto` set (gateway ICMP, system DNS, one https host) probed every
/// second for a synthetic day, with 1 % timeouts, written through the store.
fn storage() {
    use stabmon_core::{LatencyProbe, Sample, Timestamp};
    use stabmon_store::StoreWriter;

    println!("## storage: one synthetic day of the --net auto set at 1 s through StoreWriter");
    let t0 = Timestamp::from_unix_secs(1_795_564_800); // 2026-11-25T00:00:00Z
    let mut rng = Rng(0x9e37_79b9_7f4a_7c15);
    let dir = tempfile::tempdir().unwrap();
    let mut w = StoreWriter::create(dir.path()).unwrap();
    let mut rows = 0u64;
    for i in 0..86_400u64 {
        let ts = t0.saturating_add(Duration::from_secs(i));
        let mut s = Sample::new(ts, "host");
        s.interval = Duration::from_secs(1);
        let start = |ms: u64| ts.saturating_sub(Duration::from_millis(ms));
        let timeout = |rng: &mut Rng| rng.next() < 0.01;
        // Measured with microsecond resolution, like Instant differences in ms.
        let us = |v: f64| (v * 1000.0).round() / 1000.0;
        let mut gw = LatencyProbe::new("gateway", start(500), ProbeOutcome::Ok);
        if timeout(&mut rng) {
            gw.outcome = ProbeOutcome::Timeout;
        } else {
            gw.total_ms = Some(us(rng.around(1.8)));
        }
        let mut dns = LatencyProbe::new("dns", start(499), ProbeOutcome::Ok);
        if timeout(&mut rng) {
            dns.outcome = ProbeOutcome::Timeout;
        } else {
            let v = us(rng.around(12.0));
            dns.dns_ms = Some(v);
            dns.total_ms = Some(v);
        }
        let mut web = LatencyProbe::new("internet", start(498), ProbeOutcome::Ok);
        let d = us(rng.around(10.0));
        web.dns_ms = Some(d);
        if timeout(&mut rng) {
            web.outcome = ProbeOutcome::Timeout;
        } else {
            let (c, t, f) = (
                us(rng.around(15.0)),
                us(rng.around(32.0)),
                us(rng.around(20.0)),
            );
            web.connect_ms = Some(c);
            web.tls_ms = Some(t);
            web.first_byte_ms = Some(f);
            web.total_ms = Some(us(d + c + t + f + rng.next() * 0.05));
        }
        s.latency = vec![gw, dns, web];
        rows += 3;
        w.write(&s).unwrap();
    }
    let summary = w.finish().unwrap();
    let mut by_table: Vec<(String, u64, u64)> = Vec::new();
    for f in &summary.files {
        let table = f
            .iter()
            .map(|c| c.to_string_lossy().into_owned())
            .find(|c| ["samples", "processes", "names", "latency"].contains(&c.as_str()))
            .unwrap_or_default();
        let bytes = std::fs::metadata(f).unwrap().len();
        match by_table.iter_mut().find(|(t, _, _)| *t == table) {
            Some((_, n, b)) => {
                *n += 1;
                *b += bytes;
            }
            None => by_table.push((table, 1, bytes)),
        }
    }
    for (table, files, bytes) in by_table {
        println!(
            "{table}: {files} file(s), {bytes} bytes/day ({:.1} B per sample)",
            bytes as f64 / 86_400.0
        );
        if table == "latency" {
            println!(
                "latency: {rows} rows, {:.2} B per probe",
                bytes as f64 / rows as f64
            );
        }
    }
}

fn main() {
    // `cargo bench` passes `--bench`; ignore arguments.
    let only = std::env::var("LATENCY_ONLY").unwrap_or_default();
    if only.is_empty() || only == "accuracy" {
        accuracy();
    }
    if only.is_empty() || only == "cpu" {
        cpu();
    }
    if only.is_empty() || only == "storage" {
        storage();
    }
    if only.is_empty() || only == "soak" {
        soak();
    }
}
