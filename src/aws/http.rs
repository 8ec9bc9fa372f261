//! The HTTP client under every AWS client. Plain-HTTP endpoints (a local
//! emulator, a test) get a connector without TLS; the TLS connector, and
//! the trust roots it needs, are built on the first `https` request only.
//! Roots come from one bundle file when the system has one (no scan of the
//! certificate directory per process), otherwise from the platform's store,
//! as the SDK's default client would. Proxies come from the environment
//! (`HTTPS_PROXY`, `HTTP_PROXY`, `NO_PROXY`), as with the SDK's default.

use aws_smithy_http_client::proxy::ProxyConfig;
use aws_smithy_http_client::tls::{self, rustls_provider::CryptoMode, TlsContext, TrustStore};
use aws_smithy_http_client::{Builder, ConnectorBuilder};
use aws_smithy_runtime_api::client::http::{
    HttpClient, HttpConnector, HttpConnectorFuture, HttpConnectorSettings, SharedHttpClient,
    SharedHttpConnector,
};
use aws_smithy_runtime_api::client::orchestrator::HttpRequest;
use aws_smithy_runtime_api::client::runtime_components::RuntimeComponents;
use std::sync::OnceLock;

/// Bundles of trusted roots that distributions keep in one file, in the
/// order `openssl-probe` looks for them: Debian and Ubuntu, then Amazon
/// Linux (the Lambda runtime), Fedora and RHEL, then others.
pub const BUNDLES: &[&str] = &[
    "/etc/ssl/certs/ca-certificates.crt",
    "/etc/pki/tls/certs/ca-bundle.crt",
    "/etc/ssl/ca-bundle.pem",
    "/etc/ssl/cert.pem",
];

/// The client every AWS client of the process shares.
pub fn client() -> SharedHttpClient {
    SharedHttpClient::new(SchemeSplit {
        http: Builder::new().build_with_connector_fn(|settings, components| {
            base(settings, components).build_http()
        }),
        https: Builder::new().build_with_connector_fn(|settings, components| {
            base(settings, components)
                .tls_provider(tls::Provider::Rustls(CryptoMode::AwsLc))
                .tls_context(tls_context())
                .build()
        }),
    })
}

fn base(
    settings: Option<&HttpConnectorSettings>,
    components: Option<&RuntimeComponents>,
) -> ConnectorBuilder {
    let mut b = ConnectorBuilder::default();
    b.set_connector_settings(settings.cloned());
    if let Some(c) = components {
        b.set_sleep_impl(c.sleep_impl());
    }
    b.set_proxy_config(Some(ProxyConfig::from_env()));
    b
}

/// The TLS context: the roots of one bundle file, or the platform's store.
fn tls_context() -> TlsContext {
    static CONTEXT: OnceLock<TlsContext> = OnceLock::new();
    CONTEXT
        .get_or_init(|| {
            let store = match bundle_roots() {
                Some(pem) => TrustStore::empty().with_pem_certificate(pem),
                None => TrustStore::default(),
            };
            TlsContext::builder()
                .with_trust_store(store)
                .build()
                .unwrap_or_default()
        })
        .clone()
}

/// The usable roots of the first bundle file found, as PEM, unless
/// `SSL_CERT_FILE` or `SSL_CERT_DIR` choose roots (the platform's loader
/// honours them). `None` leaves the choice to the platform's loader.
fn bundle_roots() -> Option<Vec<u8>> {
    let chosen = chosen_by_env(|v| std::env::var_os(v).is_some());
    roots_from(chosen, BUNDLES)
}

/// Whether the environment chooses the roots (`is_set` tells whether a
/// variable is set).
fn chosen_by_env(is_set: impl Fn(&str) -> bool) -> bool {
    is_set("SSL_CERT_FILE") || is_set("SSL_CERT_DIR")
}

/// The usable roots of the first readable file of `bundles`, unless the
/// environment `chosen` them.
fn roots_from(chosen: bool, bundles: &[&str]) -> Option<Vec<u8>> {
    if chosen {
        return None;
    }
    bundles
        .iter()
        .find_map(|path| std::fs::read(path).ok())
        .and_then(|pem| usable_roots(&pem))
}

/// The certificates of a PEM bundle that a TLS trust store accepts,
/// re-encoded as PEM; `None` if there are none. The SDK's loader for PEM
/// roots panics on a certificate it cannot use, so only these reach it.
pub fn usable_roots(pem: &[u8]) -> Option<Vec<u8>> {
    use rustls_pki_types::pem::PemObject;
    use rustls_pki_types::CertificateDer;
    let mut out = Vec::with_capacity(pem.len());
    let mut store = rustls::RootCertStore::empty();
    for der in CertificateDer::pem_slice_iter(pem).flatten() {
        if store.add(der.clone()).is_ok() {
            out.extend_from_slice(b"-----BEGIN CERTIFICATE-----\n");
            let b64 = aws_smithy_types::base64::encode(der.as_ref());
            for line in b64.as_bytes().chunks(64) {
                out.extend_from_slice(line);
                out.push(b'\n');
            }
            out.extend_from_slice(b"-----END CERTIFICATE-----\n");
        }
    }
    (!store.is_empty()).then_some(out)
}

/// Chooses the connector by the request's scheme.
#[derive(Debug)]
struct SchemeSplit {
    http: SharedHttpClient,
    https: SharedHttpClient,
}

impl HttpClient for SchemeSplit {
    fn http_connector(
        &self,
        settings: &HttpConnectorSettings,
        components: &RuntimeComponents,
    ) -> SharedHttpConnector {
        SharedHttpConnector::new(SplitConnector {
            http: self.http.http_connector(settings, components),
            https: LazyTls {
                client: self.https.clone(),
                settings: settings.clone(),
                components: components.clone(),
                connector: OnceLock::new(),
            },
        })
    }
}

#[derive(Debug)]
struct LazyTls {
    client: SharedHttpClient,
    settings: HttpConnectorSettings,
    components: RuntimeComponents,
    connector: OnceLock<SharedHttpConnector>,
}

#[derive(Debug)]
struct SplitConnector {
    http: SharedHttpConnector,
    https: LazyTls,
}

impl HttpConnector for SplitConnector {
    fn call(&self, request: HttpRequest) -> HttpConnectorFuture {
        if request.uri().starts_with("http://") {
            return self.http.call(request);
        }
        let tls = &self.https;
        tls.connector
            .get_or_init(|| tls.client.http_connector(&tls.settings, &tls.components))
            .call(request)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_bundle_keeps_only_certificates_a_trust_store_accepts() {
        let Some(pem) = BUNDLES.iter().find_map(|p| std::fs::read(p).ok()) else {
            return; // no system bundle on this machine: nothing to read
        };
        let roots = usable_roots(&pem).expect("the system bundle has usable roots");
        let n = |b: &[u8]| {
            String::from_utf8_lossy(b)
                .matches("-----BEGIN CERTIFICATE-----")
                .count()
        };
        assert!(
            n(&roots) > 10 && n(&roots) <= n(&pem),
            "{} of {}",
            n(&roots),
            n(&pem)
        );
        // What comes out parses again, whole.
        assert_eq!(usable_roots(&roots).map(|r| n(&r)), Some(n(&roots)));
    }

    #[test]
    fn the_roots_come_from_the_first_bundle_unless_ssl_variables_choose() {
        assert!(chosen_by_env(|v| v == "SSL_CERT_FILE"));
        assert!(chosen_by_env(|v| v == "SSL_CERT_DIR"));
        assert!(!chosen_by_env(|_| false));
        let Some((path, pem)) = BUNDLES
            .iter()
            .find_map(|p| std::fs::read(p).ok().map(|b| (*p, b)))
        else {
            return; // no system bundle on this machine: nothing to read
        };
        let missing = "/nonexistent/ca-bundle.crt";
        assert_eq!(roots_from(false, &[missing, path]), usable_roots(&pem));
        assert!(roots_from(false, &[missing, path]).is_some());
        assert_eq!(roots_from(true, &[path]), None);
        assert_eq!(roots_from(false, &[missing]), None);
    }

    #[test]
    fn garbage_and_broken_certificates_are_left_out_not_fatal() {
        assert_eq!(usable_roots(b""), None);
        assert_eq!(usable_roots(b"not pem at all"), None);
        let broken = b"-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n";
        assert_eq!(usable_roots(broken), None);
        let truncated = b"-----BEGIN CERTIFICATE-----\nMIIB";
        assert_eq!(usable_roots(truncated), None);
    }
}
