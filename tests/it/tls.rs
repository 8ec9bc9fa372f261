//! HTTPS as production has it, on loopback: a test CA and certificates made
//! here (nothing committed), a TLS front before the local AWS, and a
//! CONNECT proxy. Trust through each source the SDKs know, untrusted,
//! expired and wrong-name certificates, a proxy that tunnels, one that asks
//! for credentials, one that refuses, one that is silent, one that is not
//! there, and NO_PROXY.

use crate::support::{canary, check, closed_port, moto, table_arn, Creds};
use rcgen::{BasicConstraints, CertificateParams, DnType, IsCa, Issuer, KeyPair};
use serde_json::{json, Value};
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::{Arc, Mutex, OnceLock};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

const E1: &str = "us-east-1";

/// The certificates of these tests, written once per test process.
struct Pki {
    _dir: tempfile::TempDir,
    ca: PathBuf,
    other_ca: PathBuf,
    ca_dir: PathBuf,
    good: (String, String),
    expired: (String, String),
    wrong_name: (String, String),
}

fn ca(name: &str) -> (Issuer<'static, KeyPair>, String) {
    let key = KeyPair::generate().unwrap();
    let mut p = CertificateParams::new(Vec::<String>::new()).unwrap();
    p.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    p.distinguished_name.push(DnType::CommonName, name);
    let cert = p.self_signed(&key).unwrap();
    (Issuer::new(p, key), cert.pem())
}

fn leaf(
    issuer: &Issuer<'_, KeyPair>,
    names: &[&str],
    not_after: Option<(i32, u8, u8)>,
) -> (String, String) {
    let key = KeyPair::generate().unwrap();
    let names: Vec<String> = names.iter().map(|s| s.to_string()).collect();
    let mut p = CertificateParams::new(names).unwrap();
    p.distinguished_name
        .push(DnType::CommonName, "canary test endpoint");
    if let Some((y, m, d)) = not_after {
        p.not_before = rcgen::date_time_ymd(y - 1, m, d);
        p.not_after = rcgen::date_time_ymd(y, m, d);
    }
    let cert = p.signed_by(&key, issuer).unwrap();
    (cert.pem(), key.serialize_pem())
}

fn pki() -> &'static Pki {
    static PKI: OnceLock<Pki> = OnceLock::new();
    PKI.get_or_init(|| {
        let dir = tempfile::tempdir().unwrap();
        let (issuer, ca_pem) = ca("canary test CA");
        let (_, other_pem) = ca("some other CA");
        let ca = dir.path().join("ca.pem");
        std::fs::write(&ca, &ca_pem).unwrap();
        let other_ca = dir.path().join("other-ca.pem");
        std::fs::write(&other_ca, &other_pem).unwrap();
        let ca_dir = dir.path().join("certs");
        std::fs::create_dir(&ca_dir).unwrap();
        std::fs::write(ca_dir.join("corp.pem"), &ca_pem).unwrap();
        let names = ["localhost", "127.0.0.1"];
        Pki {
            good: leaf(&issuer, &names, None),
            expired: leaf(&issuer, &names, Some((2021, 1, 1))),
            wrong_name: leaf(&issuer, &["wrong.example"], None),
            ca,
            other_ca,
            ca_dir,
            _dir: dir,
        }
    })
}

/// A runtime for the servers of this module, alive for the test process.
fn runtime() -> &'static tokio::runtime::Runtime {
    static RT: OnceLock<tokio::runtime::Runtime> = OnceLock::new();
    RT.get_or_init(|| {
        tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .enable_all()
            .build()
            .unwrap()
    })
}

fn moto_addr() -> SocketAddr {
    let url = &moto().url;
    let hostport = url.trim_start_matches("http://").trim_end_matches('/');
    hostport.parse().unwrap()
}

/// A TLS front on loopback presenting `cert`, relaying to `upstream`.
/// Returns its port.
fn tls_front(cert: &(String, String), upstream: SocketAddr) -> u16 {
    use rustls::pki_types::pem::PemObject;
    use rustls::pki_types::{CertificateDer, PrivateKeyDer};
    let chain = vec![CertificateDer::from_pem_slice(cert.0.as_bytes()).unwrap()];
    let key = PrivateKeyDer::from_pem_slice(cert.1.as_bytes()).unwrap();
    let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
    let config = rustls::ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_no_client_auth()
        .with_single_cert(chain, key)
        .unwrap();
    let acceptor = tokio_rustls::TlsAcceptor::from(Arc::new(config));
    let listener = runtime()
        .block_on(TcpListener::bind("127.0.0.1:0"))
        .unwrap();
    let port = listener.local_addr().unwrap().port();
    runtime().spawn(async move {
        while let Ok((tcp, _)) = listener.accept().await {
            let acceptor = acceptor.clone();
            tokio::spawn(async move {
                // A handshake the client refuses ends here, as it should.
                let Ok(mut tls) = acceptor.accept(tcp).await else {
                    return;
                };
                if let Ok(mut up) = TcpStream::connect(upstream).await {
                    let _ = tokio::io::copy_bidirectional(&mut tls, &mut up).await;
                }
            });
        }
    });
    port
}

/// How the CONNECT proxy behaves.
#[derive(Clone, Copy, PartialEq)]
enum Mode {
    /// Opens the tunnel (to loopback only).
    Tunnel,
    /// 407 Proxy Authentication Required.
    AuthRequired,
    /// 403 Forbidden to every CONNECT.
    Refuse,
    /// Accepts the connection and never answers.
    Silent,
}

/// A CONNECT proxy on loopback; returns its port and the request lines seen.
fn connect_proxy(mode: Mode) -> (u16, Arc<Mutex<Vec<String>>>) {
    let seen = Arc::new(Mutex::new(Vec::new()));
    let listener = runtime()
        .block_on(TcpListener::bind("127.0.0.1:0"))
        .unwrap();
    let port = listener.local_addr().unwrap().port();
    let log = seen.clone();
    runtime().spawn(async move {
        while let Ok((mut tcp, _)) = listener.accept().await {
            let log = log.clone();
            tokio::spawn(async move {
                let mut head = Vec::new();
                let mut byte = [0u8; 1];
                while !head.ends_with(b"\r\n\r\n") && head.len() < 16_384 {
                    if tcp.read_exact(&mut byte).await.is_err() {
                        return;
                    }
                    head.push(byte[0]);
                }
                let text = String::from_utf8_lossy(&head).into_owned();
                log.lock().unwrap().push(text.clone());
                let target = text.split_whitespace().nth(1).unwrap_or_default().to_string();
                match mode {
                    Mode::Silent => {
                        tokio::time::sleep(std::time::Duration::from_secs(60)).await;
                    }
                    Mode::AuthRequired => {
                        let _ = tcp.write_all(b"HTTP/1.1 407 Proxy Authentication Required\r\nProxy-Authenticate: Basic realm=\"corp\"\r\nContent-Length: 0\r\n\r\n").await;
                    }
                    Mode::Refuse => {
                        let _ = tcp.write_all(b"HTTP/1.1 403 Forbidden\r\nContent-Length: 0\r\n\r\n").await;
                    }
                    Mode::Tunnel => {
                        // Loopback only: this proxy never reaches beyond the machine.
                        let port = target.rsplit_once(':').and_then(|(_, p)| p.parse::<u16>().ok());
                        let Some(port) = port.filter(|_| target.starts_with("localhost:") || target.starts_with("127.0.0.1:")) else {
                            let _ = tcp.write_all(b"HTTP/1.1 403 Forbidden\r\n\r\n").await;
                            return;
                        };
                        if let Ok(mut up) = TcpStream::connect(("127.0.0.1", port)).await {
                            let _ = tcp.write_all(b"HTTP/1.1 200 Connection established\r\n\r\n").await;
                            let _ = tokio::io::copy_bidirectional(&mut tcp, &mut up).await;
                        }
                    }
                }
            });
        }
    });
    (port, seen)
}

/// A table, and a user that may describe it.
fn setup() -> (String, Creds) {
    let m = moto();
    let t = m.table(&[E1], false);
    let (_, creds) = m.user(&["dynamodb:DescribeTable"], &[table_arn(E1, &t)]);
    (t, creds)
}

fn config(table: &str) -> Value {
    json!({"defaults": {"regions": [E1], "probes": ["describe"], "timeout_ms": 4000},
           "targets": [{"table": table}], "metrics": {"sink": "none"}})
}

/// The environment of a run: every variable that chooses roots or proxies
/// set or cleared explicitly (these machines set several of them).
fn env(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
    let mut v: Vec<(String, String)> = [
        "AWS_CA_BUNDLE",
        "SSL_CERT_FILE",
        "SSL_CERT_DIR",
        "HTTPS_PROXY",
        "https_proxy",
        "HTTP_PROXY",
        "http_proxy",
        "ALL_PROXY",
        "all_proxy",
        "NO_PROXY",
        "no_proxy",
    ]
    .iter()
    .map(|k| (k.to_string(), String::new()))
    .collect();
    v.extend(pairs.iter().map(|(k, w)| (k.to_string(), w.to_string())));
    v
}

fn https(port: u16) -> String {
    format!("https://localhost:{port}")
}

fn run_check(endpoint: &str, vars: &[(&str, &str)]) -> (Value, crate::support::Run) {
    let (t, creds) = setup();
    let r = check(
        &config(&t),
        &creds,
        &["--endpoint-url", endpoint],
        &env(vars),
    );
    let j = serde_json::from_str(&r.stdout).unwrap_or(Value::Null);
    (j, r)
}

fn good_front() -> u16 {
    static PORT: OnceLock<u16> = OnceLock::new();
    *PORT.get_or_init(|| tls_front(&pki().good, moto_addr()))
}

fn path(p: &std::path::Path) -> String {
    p.display().to_string()
}

#[test]
fn aws_ca_bundle_is_trusted_and_reported() {
    let (j, r) = run_check(&https(good_front()), &[("AWS_CA_BUNDLE", &path(&pki().ca))]);
    assert_eq!(r.code, 0, "{}\n{}", r.stdout, r.stderr);
    assert_eq!(j["probes"][0]["class"], "ok");
    assert_eq!(j["trust_roots"]["source"], "aws_ca_bundle");
    assert_eq!(j["trust_roots"]["path"], path(&pki().ca));
    assert_eq!(j["trust_roots"]["certificates"], 1);
}

#[test]
fn aws_ca_bundle_wins_over_ssl_cert_file() {
    let (j, r) = run_check(
        &https(good_front()),
        &[
            ("AWS_CA_BUNDLE", &path(&pki().ca)),
            ("SSL_CERT_FILE", &path(&pki().other_ca)),
        ],
    );
    assert_eq!(r.code, 0, "{}", r.stdout);
    assert_eq!(j["trust_roots"]["source"], "aws_ca_bundle");
    // And SSL_CERT_FILE alone, holding another CA, is not enough.
    let (j, r) = run_check(
        &https(good_front()),
        &[("SSL_CERT_FILE", &path(&pki().other_ca))],
    );
    assert_eq!(r.code, 1, "{}", r.stdout);
    assert_eq!(j["trust_roots"]["source"], "ssl_cert_file");
    assert_eq!(j["probes"][0]["class"], "tls_error");
}

#[test]
fn the_profile_ca_bundle_is_trusted() {
    let dir = tempfile::tempdir().unwrap();
    let cfg = dir.path().join("config");
    std::fs::write(
        &cfg,
        format!("[profile corp]\nca_bundle = {}\n", path(&pki().ca)),
    )
    .unwrap();
    let (j, r) = run_check(
        &https(good_front()),
        &[("AWS_CONFIG_FILE", &path(&cfg)), ("AWS_PROFILE", "corp")],
    );
    assert_eq!(r.code, 0, "{}\n{}", r.stdout, r.stderr);
    assert_eq!(j["trust_roots"]["source"], "profile_ca_bundle");
    assert_eq!(j["trust_roots"]["origin"], "profile \"corp\" key ca_bundle");
}

#[test]
fn ssl_cert_file_and_ssl_cert_dir_are_trusted() {
    let (j, r) = run_check(&https(good_front()), &[("SSL_CERT_FILE", &path(&pki().ca))]);
    assert_eq!(r.code, 0, "{}", r.stdout);
    assert_eq!(j["trust_roots"]["source"], "ssl_cert_file");
    let (j, r) = run_check(
        &https(good_front()),
        &[("SSL_CERT_DIR", &path(&pki().ca_dir))],
    );
    assert_eq!(r.code, 0, "{}", r.stdout);
    assert_eq!(j["trust_roots"]["source"], "ssl_cert_dir");
    assert_eq!(j["trust_roots"]["certificates"], 1);
}

#[test]
fn a_private_ca_not_trusted_is_a_tls_error_that_says_set_aws_ca_bundle() {
    let (j, r) = run_check(&https(good_front()), &[]);
    assert_eq!(r.code, 1, "{}", r.stdout);
    for part in [&j["identity"], &j["probes"][0]] {
        assert_eq!(part["class"], "tls_error", "{part}");
        let m = part["message"].as_str().unwrap();
        assert!(m.contains("unknown issuer"), "{m}");
        assert!(m.contains("trusted roots: system"), "{m}");
        assert!(part["hint"].as_str().unwrap().contains("AWS_CA_BUNDLE"));
    }
    assert_ne!(j["trust_roots"]["source"], "aws_ca_bundle");
}

#[test]
fn an_expired_certificate_and_a_wrong_name_say_which() {
    let expired = tls_front(&pki().expired, moto_addr());
    let (j, r) = run_check(&https(expired), &[("AWS_CA_BUNDLE", &path(&pki().ca))]);
    assert_eq!(r.code, 1);
    let m = j["probes"][0]["message"].as_str().unwrap().to_string();
    assert_eq!(j["probes"][0]["class"], "tls_error");
    assert!(
        m.contains("presented an expired certificate (valid until 2021-01-01"),
        "{m}"
    );
    let wrong = tls_front(&pki().wrong_name, moto_addr());
    let (j, r) = run_check(&https(wrong), &[("AWS_CA_BUNDLE", &path(&pki().ca))]);
    assert_eq!(r.code, 1);
    let m = j["probes"][0]["message"].as_str().unwrap();
    assert_eq!(j["probes"][0]["class"], "tls_error");
    assert!(
        m.contains("a certificate for other names (wrong.example), not localhost"),
        "{m}"
    );
}

#[test]
fn https_goes_through_a_connect_proxy_whose_password_is_never_printed() {
    let (port, seen) = connect_proxy(Mode::Tunnel);
    let proxy = format!("http://ops:s3cret-pw@127.0.0.1:{port}");
    let (j, r) = run_check(
        &https(good_front()),
        &[("AWS_CA_BUNDLE", &path(&pki().ca)), ("HTTPS_PROXY", &proxy)],
    );
    assert_eq!(r.code, 0, "{}\n{}", r.stdout, r.stderr);
    assert_eq!(j["probes"][0]["class"], "ok");
    let heads = seen.lock().unwrap().clone();
    let want = format!("CONNECT localhost:{} HTTP/1.1", good_front());
    assert!(heads.iter().any(|h| h.starts_with(&want)), "{heads:?}");
    assert!(
        heads
            .iter()
            .any(|h| h.contains("Proxy-Authorization: Basic")
                || h.contains("proxy-authorization: Basic")),
        "the URL's credentials reach the proxy: {heads:?}"
    );
}

#[test]
fn no_proxy_exempts_the_endpoint() {
    // The proxy is not there: only a direct connection can succeed.
    let proxy = format!("http://127.0.0.1:{}", closed_port());
    let (j, r) = run_check(
        &https(good_front()),
        &[
            ("AWS_CA_BUNDLE", &path(&pki().ca)),
            ("https_proxy", &proxy),
            ("no_proxy", "localhost"),
        ],
    );
    assert_eq!(r.code, 0, "{}\n{}", r.stdout, r.stderr);
    assert_eq!(j["probes"][0]["class"], "ok");
}

fn proxy_failure(mode: Option<Mode>) -> (String, String) {
    let port = match mode {
        Some(m) => connect_proxy(m).0,
        None => closed_port(),
    };
    let proxy = format!("http://ops:s3cret-pw@127.0.0.1:{port}");
    let (j, r) = run_check(
        &https(good_front()),
        &[("AWS_CA_BUNDLE", &path(&pki().ca)), ("HTTPS_PROXY", &proxy)],
    );
    assert_eq!(r.code, 1, "{}", r.stdout);
    assert!(
        !r.stdout.contains("s3cret") && !r.stderr.contains("s3cret"),
        "the proxy password was printed: {}{}",
        r.stdout,
        r.stderr
    );
    let p = &j["probes"][0];
    let masked = format!("http://ops:****@127.0.0.1:{port}/");
    let m = p["message"].as_str().unwrap_or_default().to_string();
    if p["class"] == "proxy_error" {
        assert!(m.contains(&masked), "{m}");
        assert!(p["hint"].as_str().unwrap().contains("NO_PROXY"));
    }
    (p["class"].as_str().unwrap_or_default().to_string(), m)
}

#[test]
fn a_proxy_asking_for_credentials_is_a_proxy_error() {
    let (class, m) = proxy_failure(Some(Mode::AuthRequired));
    assert_eq!(class, "proxy_error", "{m}");
    assert!(m.contains("asks for proxy authentication (407"), "{m}");
}

#[test]
fn a_proxy_refusing_the_tunnel_is_a_proxy_error() {
    let (class, m) = proxy_failure(Some(Mode::Refuse));
    assert_eq!(class, "proxy_error", "{m}");
    assert!(m.contains("refused to open a tunnel"), "{m}");
}

#[test]
fn a_proxy_that_is_not_there_is_a_proxy_error() {
    let (class, m) = proxy_failure(None);
    assert_eq!(class, "proxy_error", "{m}");
    assert!(m.contains("could not be reached"), "{m}");
}

/// A proxy that accepts the connection and never answers CONNECT: the
/// SDK's connect timeout does not cover the tunnel, so the call ends at its
/// budget as a `timeout` (docs/report.md says so), within the deadline.
#[test]
fn a_silent_proxy_ends_as_a_timeout_within_the_budget() {
    let started = std::time::Instant::now();
    let (class, m) = proxy_failure(Some(Mode::Silent));
    assert_eq!(class, "timeout", "{m}");
    assert!(started.elapsed() < std::time::Duration::from_secs(30));
}

#[test]
fn an_unusable_ca_bundle_is_a_configuration_error() {
    let (t, creds) = setup();
    let dir = tempfile::tempdir().unwrap();
    let junk = dir.path().join("junk.pem");
    std::fs::write(&junk, "not a certificate\n").unwrap();
    let junk = path(&junk);
    let junk_says = format!("AWS_CA_BUNDLE: {junk}: holds no certificate");
    for (var, value, says) in [
        (
            "AWS_CA_BUNDLE",
            "/nonexistent/corp-ca.pem",
            "AWS_CA_BUNDLE: /nonexistent/corp-ca.pem: no such file",
        ),
        ("AWS_CA_BUNDLE", junk.as_str(), junk_says.as_str()),
        (
            "SSL_CERT_FILE",
            "/nonexistent/f.pem",
            "SSL_CERT_FILE: /nonexistent/f.pem: no such file",
        ),
    ] {
        let r = check(
            &config(&t),
            &creds,
            &["--endpoint-url", &https(good_front())],
            &env(&[(var, value)]),
        );
        assert_eq!(r.code, 2, "{var}: {}", r.stdout);
        assert!(r.stderr.contains(says), "{var}: {}", r.stderr);
    }
}

#[test]
fn doctor_shows_the_roots_and_the_proxy_of_each_endpoint() {
    let (_, creds) = setup();
    let mut vars = creds.env();
    vars.extend(env(&[
        ("AWS_CA_BUNDLE", &path(&pki().ca)),
        ("HTTPS_PROXY", "http://ops:s3cret-pw@127.0.0.1:3128"),
        ("NO_PROXY", "localhost"),
        ("AWS_ENDPOINT_URL", &https(good_front())),
        ("AWS_ENDPOINT_URL_CLOUDWATCH", "https://127.0.0.1:9"),
    ]));
    let r = canary(&["doctor", "--output", "json"], &vars);
    let j: Value = serde_json::from_str(&r.stdout).unwrap();
    assert_eq!(j["trust_roots"]["source"], "aws_ca_bundle", "{}", r.stdout);
    let proxies = j["proxies"].as_array().unwrap();
    let of = |s: &str| proxies.iter().find(|p| p["service"] == s).unwrap().clone();
    assert_eq!(of("dynamodb")["proxy"], Value::Null);
    assert_eq!(of("dynamodb")["exempted_by_no_proxy"], true);
    assert_eq!(of("cloudwatch")["proxy"], "http://ops:****@127.0.0.1:3128/");
    assert_eq!(j["identity"]["class"], "ok", "{}", r.stdout);
    assert!(!r.stdout.contains("s3cret"));
    let human = canary(&["doctor"], &vars);
    assert!(
        human
            .stdout
            .contains(&format!("Trusted roots: AWS_CA_BUNDLE {}", path(&pki().ca))),
        "{}",
        human.stdout
    );
    assert!(
        human
            .stdout
            .contains("Proxy for dynamodb (https://localhost:"),
        "{}",
        human.stdout
    );
    assert!(
        human.stdout.contains("direct (NO_PROXY exempts it)"),
        "{}",
        human.stdout
    );
    assert!(!human.stdout.contains("s3cret"));
}
