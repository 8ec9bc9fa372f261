//! Which certificate authorities the canary trusts for HTTPS, chosen as the
//! AWS SDKs and tools choose them: `AWS_CA_BUNDLE`, then the selected
//! profile's `ca_bundle`, then `SSL_CERT_FILE` or `SSL_CERT_DIR`, then the
//! system's bundle. A bundle that someone named but that cannot be used is a
//! configuration error naming who named it and the path, not a TLS failure
//! on every call.

use crate::error::ConfigError;
use serde::{Deserialize, Serialize};
use std::sync::Arc;

/// Bundles of trusted roots that distributions keep in one file, in the
/// order `openssl-probe` looks for them: Debian and Ubuntu, then Amazon
/// Linux (the Lambda runtime), Fedora and RHEL, then others.
pub const BUNDLES: &[&str] = &[
    "/etc/ssl/certs/ca-certificates.crt",
    "/etc/pki/tls/certs/ca-bundle.crt",
    "/etc/ssl/ca-bundle.pem",
    "/etc/ssl/cert.pem",
];

/// Where the trusted roots came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RootsSource {
    /// `AWS_CA_BUNDLE`.
    AwsCaBundle,
    /// The selected profile's `ca_bundle`.
    ProfileCaBundle,
    /// `SSL_CERT_FILE`.
    SslCertFile,
    /// `SSL_CERT_DIR`.
    SslCertDir,
    /// The system's bundle file (the first of [`BUNDLES`]).
    SystemBundle,
    /// The platform's certificate store (no bundle file found).
    Platform,
}

/// The roots in use: where they came from, the file or folder, how many.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TrustRoots {
    /// Where they came from.
    pub source: RootsSource,
    /// The variable or profile key that chose them (`AWS_CA_BUNDLE`,
    /// `profile "corp" key ca_bundle`), or `system`.
    pub origin: String,
    /// The bundle file or certificate folder.
    pub path: Option<String>,
    /// Certificates in it (for the system's bundle, counted without parsing).
    pub certificates: Option<usize>,
    /// The usable roots as PEM, for a chosen bundle (read and checked at
    /// start); the system's bundle is parsed on the first HTTPS request.
    #[serde(skip)]
    pub pem: Option<Arc<Vec<u8>>>,
}

/// A variable's value, treating empty as unset (`lookup` reads one).
type Lookup<'a> = &'a dyn Fn(&str) -> Option<String>;

/// Chooses the roots for `--profile` (`profile_flag`) from the process
/// environment and the profile files.
pub async fn choose(profile_flag: Option<&str>) -> Result<TrustRoots, ConfigError> {
    let profile = match crate::env::env_var("AWS_CA_BUNDLE") {
        Some(_) => None, // the variable wins: the profile is not read
        None => super::profile::setting(profile_flag, "ca_bundle").await,
    };
    choose_from(&crate::env::env_var, profile, BUNDLES)
}

/// [`choose`] with its inputs given: the environment, the profile's
/// `ca_bundle` (origin, path) and the system bundles to look for.
pub fn choose_from(
    lookup: Lookup<'_>,
    profile: Option<(String, String)>,
    bundles: &[&str],
) -> Result<TrustRoots, ConfigError> {
    if let Some(path) = lookup("AWS_CA_BUNDLE") {
        return from_file(RootsSource::AwsCaBundle, "AWS_CA_BUNDLE".into(), path);
    }
    if let Some((origin, path)) = profile.filter(|(_, p)| !p.trim().is_empty()) {
        return from_file(
            RootsSource::ProfileCaBundle,
            origin,
            expand_home(lookup, &path),
        );
    }
    if let Some(path) = lookup("SSL_CERT_FILE") {
        return from_file(RootsSource::SslCertFile, "SSL_CERT_FILE".into(), path);
    }
    if let Some(path) = lookup("SSL_CERT_DIR") {
        return from_dir(path);
    }
    Ok(system(bundles))
}

/// `~/` at the start of a profile's path is the home folder, as botocore
/// reads it (`os.path.expanduser`).
fn expand_home(lookup: Lookup<'_>, path: &str) -> String {
    match (path.strip_prefix("~/"), lookup("HOME")) {
        (Some(rest), Some(home)) => format!("{}/{rest}", home.trim_end_matches('/')),
        _ => path.to_string(),
    }
}

fn bad(origin: &str, path: &str, problem: String) -> ConfigError {
    ConfigError::CaBundle {
        origin: origin.to_string(),
        path: crate::redact::truncate(path, 300),
        problem,
    }
}

fn from_file(source: RootsSource, origin: String, path: String) -> Result<TrustRoots, ConfigError> {
    let bytes = std::fs::read(&path).map_err(|e| {
        let problem = match e.kind() {
            std::io::ErrorKind::NotFound => "no such file".to_string(),
            std::io::ErrorKind::PermissionDenied => "cannot be read (permission denied)".into(),
            _ if std::path::Path::new(&path).is_dir() => {
                "is a folder, not a bundle file of PEM certificates".into()
            }
            _ => format!("cannot be read: {e}"),
        };
        bad(&origin, &path, problem)
    })?;
    let (pem, n) = usable_roots(&bytes).ok_or_else(|| {
        bad(
            &origin,
            &path,
            "holds no certificate that TLS can use (expected PEM: -----BEGIN CERTIFICATE-----)"
                .into(),
        )
    })?;
    Ok(TrustRoots {
        source,
        origin,
        path: Some(path),
        certificates: Some(n),
        pem: Some(Arc::new(pem)),
    })
}

/// `SSL_CERT_DIR`: every PEM file of the folder (OpenSSL's hashed links
/// included, so a certificate may be counted under two names once each).
fn from_dir(path: String) -> Result<TrustRoots, ConfigError> {
    let origin = "SSL_CERT_DIR";
    let entries = std::fs::read_dir(&path).map_err(|e| {
        let problem = match e.kind() {
            std::io::ErrorKind::NotFound => "no such folder".to_string(),
            _ => format!("cannot be listed: {e}"),
        };
        bad(origin, &path, problem)
    })?;
    let mut all = Vec::new();
    let mut seen = std::collections::BTreeSet::new();
    for entry in entries.flatten() {
        let file = entry.path();
        // One file per certificate, whatever its names: skip links to files read already.
        let real = std::fs::canonicalize(&file).unwrap_or(file.clone());
        if !seen.insert(real) {
            continue;
        }
        if let Ok(bytes) = std::fs::read(&file) {
            all.extend_from_slice(&bytes);
            all.push(b'\n');
        }
    }
    let (pem, n) = usable_roots(&all).ok_or_else(|| {
        bad(
            origin,
            &path,
            "holds no certificate that TLS can use (expected PEM files)".into(),
        )
    })?;
    Ok(TrustRoots {
        source: RootsSource::SslCertDir,
        origin: origin.into(),
        path: Some(path),
        certificates: Some(n),
        pem: Some(Arc::new(pem)),
    })
}

/// The first system bundle that can be read, counted but not parsed (most
/// runs of a local emulator never need it); else the platform's store.
fn system(bundles: &[&str]) -> TrustRoots {
    for path in bundles {
        if let Ok(bytes) = std::fs::read(path) {
            let n = count_pem(&bytes);
            if n > 0 {
                return TrustRoots {
                    source: RootsSource::SystemBundle,
                    origin: "system".into(),
                    path: Some(path.to_string()),
                    certificates: Some(n),
                    pem: None,
                };
            }
        }
    }
    TrustRoots {
        source: RootsSource::Platform,
        origin: "system".into(),
        path: None,
        certificates: None,
        pem: None,
    }
}

fn count_pem(bytes: &[u8]) -> usize {
    let marker = b"-----BEGIN CERTIFICATE-----";
    bytes.windows(marker.len()).filter(|w| w == marker).count()
}

/// The certificates of a PEM bundle that a TLS trust store accepts,
/// re-encoded as PEM, and how many; `None` if there are none. The SDK's
/// loader for PEM roots panics on a certificate it cannot use, so only
/// these reach it.
pub fn usable_roots(pem: &[u8]) -> Option<(Vec<u8>, usize)> {
    use rustls_pki_types::pem::PemObject;
    use rustls_pki_types::CertificateDer;
    let mut out = Vec::with_capacity(pem.len());
    let mut store = rustls::RootCertStore::empty();
    let mut n = 0;
    for der in CertificateDer::pem_slice_iter(pem).flatten() {
        if store.add(der.clone()).is_ok() {
            n += 1;
            out.extend_from_slice(b"-----BEGIN CERTIFICATE-----\n");
            let b64 = aws_smithy_types::base64::encode(der.as_ref());
            for line in b64.as_bytes().chunks(64) {
                out.extend_from_slice(line);
                out.push(b'\n');
            }
            out.extend_from_slice(b"-----END CERTIFICATE-----\n");
        }
    }
    (n > 0).then_some((out, n))
}

impl TrustRoots {
    /// The PEM to trust: the chosen bundle's, or the system bundle's parsed
    /// now; `None` for the platform's store.
    pub fn load_pem(&self) -> Option<Arc<Vec<u8>>> {
        if let Some(pem) = &self.pem {
            return Some(pem.clone());
        }
        let path = self.path.as_ref()?;
        let bytes = std::fs::read(path).ok()?;
        usable_roots(&bytes).map(|(pem, _)| Arc::new(pem))
    }

    /// One line for people: `AWS_CA_BUNDLE /etc/corp-ca.pem (2 certificates)`.
    pub fn describe(&self) -> String {
        let path = self
            .path
            .as_deref()
            .unwrap_or("the platform's certificate store");
        match self.certificates {
            Some(n) => format!("{} {path} ({n} certificates)", self.origin),
            None => format!("{} {path}", self.origin),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    fn system_bundle() -> Option<(&'static str, Vec<u8>)> {
        BUNDLES
            .iter()
            .find_map(|p| std::fs::read(p).ok().map(|b| (*p, b)))
    }

    fn env(vars: &[(&str, &str)]) -> impl Fn(&str) -> Option<String> {
        let map: HashMap<String, String> = vars
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        move |k: &str| map.get(k).cloned().filter(|v| !v.trim().is_empty())
    }

    #[test]
    fn precedence_is_aws_ca_bundle_then_profile_then_ssl_variables_then_system() {
        let Some((system_path, _)) = system_bundle() else {
            return; // no system bundle on this machine: nothing to read
        };
        let dir = tempfile::tempdir().unwrap();
        let copy = |name: &str| {
            let p = dir.path().join(name);
            std::fs::copy(system_path, &p).unwrap();
            p.display().to_string()
        };
        let (a, p, f) = (copy("aws.pem"), copy("profile.pem"), copy("ssl.pem"));
        let d = dir.path().join("d");
        std::fs::create_dir(&d).unwrap();
        std::fs::copy(system_path, d.join("one.pem")).unwrap();
        let d = d.display().to_string();
        let profile = || Some(("profile \"corp\" key ca_bundle".to_string(), p.clone()));
        let all = env(&[
            ("AWS_CA_BUNDLE", &a),
            ("SSL_CERT_FILE", &f),
            ("SSL_CERT_DIR", &d),
        ]);
        let r = choose_from(&all, profile(), BUNDLES).unwrap();
        assert_eq!(
            (r.source, r.path.as_deref()),
            (RootsSource::AwsCaBundle, Some(a.as_str()))
        );
        let no_aws = env(&[("SSL_CERT_FILE", &f), ("SSL_CERT_DIR", &d)]);
        let r = choose_from(&no_aws, profile(), BUNDLES).unwrap();
        assert_eq!(r.source, RootsSource::ProfileCaBundle);
        assert_eq!(r.origin, "profile \"corp\" key ca_bundle");
        let r = choose_from(&no_aws, None, BUNDLES).unwrap();
        assert_eq!(
            (r.source, r.path.as_deref()),
            (RootsSource::SslCertFile, Some(f.as_str()))
        );
        let r = choose_from(&env(&[("SSL_CERT_DIR", &d)]), None, BUNDLES).unwrap();
        assert_eq!(r.source, RootsSource::SslCertDir);
        let r = choose_from(&env(&[]), None, &["/nonexistent", system_path]).unwrap();
        assert_eq!(r.source, RootsSource::SystemBundle);
        assert_eq!(r.path.as_deref(), Some(system_path));
        assert!(
            r.pem.is_none(),
            "the system bundle is parsed only when TLS needs it"
        );
        let n = r.certificates.unwrap();
        assert!(n > 10, "{n}");
        let (_, usable) = usable_roots(&std::fs::read(system_path).unwrap()).unwrap();
        assert!(usable <= n);
        let r = choose_from(&env(&[]), None, &["/nonexistent"]).unwrap();
        assert_eq!(
            (r.source, r.path, r.certificates),
            (RootsSource::Platform, None, None)
        );
        // A blank profile value is unset; `~/` is the home folder.
        let r = choose_from(&env(&[]), Some(("x".into(), " ".into())), &[system_path]).unwrap();
        assert_eq!(r.source, RootsSource::SystemBundle);
        let home = dir.path().display().to_string();
        let r = choose_from(
            &env(&[("HOME", &home)]),
            Some(("x".into(), "~/profile.pem".into())),
            BUNDLES,
        )
        .unwrap();
        assert_eq!(r.path.as_deref(), Some(p.as_str()));
        assert_eq!(r.certificates, Some(usable));
    }

    #[test]
    fn an_unusable_bundle_is_a_configuration_error_naming_origin_and_path() {
        let dir = tempfile::tempdir().unwrap();
        let junk = dir.path().join("junk.pem");
        std::fs::write(&junk, "not a certificate").unwrap();
        let junk = junk.display().to_string();
        let folder = dir.path().display().to_string();
        for (vars, profile, says) in [
            (
                vec![("AWS_CA_BUNDLE", "/nonexistent/corp.pem")],
                None,
                "AWS_CA_BUNDLE: /nonexistent/corp.pem: no such file",
            ),
            (
                vec![("AWS_CA_BUNDLE", junk.as_str())],
                None,
                "holds no certificate that TLS can use",
            ),
            (
                vec![("AWS_CA_BUNDLE", folder.as_str())],
                None,
                "is a folder",
            ),
            (
                vec![],
                Some((
                    "profile \"corp\" key ca_bundle".to_string(),
                    "/nonexistent/p.pem".to_string(),
                )),
                "profile \"corp\" key ca_bundle: /nonexistent/p.pem: no such file",
            ),
            (
                vec![("SSL_CERT_FILE", "/nonexistent/f.pem")],
                None,
                "SSL_CERT_FILE: /nonexistent/f.pem: no such file",
            ),
            (
                vec![("SSL_CERT_DIR", "/nonexistent/d")],
                None,
                "SSL_CERT_DIR: /nonexistent/d: no such folder",
            ),
            (
                vec![("SSL_CERT_DIR", folder.as_str())],
                None,
                "SSL_CERT_DIR: ",
            ),
        ] {
            let e = choose_from(&env(&vars), profile, BUNDLES).unwrap_err();
            assert!(e.to_string().contains(says), "{vars:?}: {e}");
        }
    }

    #[test]
    fn a_bundle_keeps_only_certificates_a_trust_store_accepts() {
        assert_eq!(usable_roots(b""), None);
        assert_eq!(usable_roots(b"not pem at all"), None);
        let broken = b"-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n";
        assert_eq!(usable_roots(broken), None);
        assert_eq!(count_pem(broken), 1);
        let truncated = b"-----BEGIN CERTIFICATE-----\nMIIB";
        assert_eq!(usable_roots(truncated), None);
        let Some((_, pem)) = system_bundle() else {
            return;
        };
        let (roots, n) = usable_roots(&pem).expect("the system bundle has usable roots");
        assert!(n > 10 && n <= count_pem(&pem), "{n}");
        assert_eq!(count_pem(&roots), n);
        // What comes out parses again, whole.
        assert_eq!(usable_roots(&roots).map(|r| r.1), Some(n));
    }
}
