//! The HTTP client under every AWS client. Plain-HTTP endpoints (a local
//! emulator, a test) get a connector without TLS; the TLS connector is
//! built on the first `https` request only, trusting the roots that
//! `trust` chose. Proxies come from the environment (`HTTPS_PROXY`,
//! `HTTP_PROXY`, `NO_PROXY`), as with the SDK's default. A request that
//! fails before an answer carries its route (endpoint, proxy) to the
//! classifier.

use super::trust::TrustRoots;
use crate::classify::transport::Route;
use aws_smithy_http_client::proxy::ProxyConfig;
use aws_smithy_http_client::tls::{self, rustls_provider::CryptoMode, TlsContext, TrustStore};
use aws_smithy_http_client::{Builder, ConnectorBuilder};
use aws_smithy_runtime_api::client::http::{
    HttpClient, HttpConnector, HttpConnectorFuture, HttpConnectorSettings, SharedHttpClient,
    SharedHttpConnector,
};
use aws_smithy_runtime_api::client::orchestrator::HttpRequest;
use aws_smithy_runtime_api::client::runtime_components::RuntimeComponents;
use hyper_util::client::proxy::matcher::Matcher;
use std::collections::HashMap;
use std::sync::{Arc, Mutex, OnceLock};
use std::time::Duration;

/// The client every AWS client of the process shares, trusting `roots`.
pub fn client(roots: TrustRoots) -> SharedHttpClient {
    let described: Arc<str> = roots.describe().into();
    let roots = Arc::new(roots);
    SharedHttpClient::new(SchemeSplit {
        http: Builder::new().build_with_connector_fn(|settings, components| {
            base(settings, components).build_http()
        }),
        https: Builder::new().build_with_connector_fn(move |settings, components| {
            base(settings, components)
                .tls_provider(tls::Provider::Rustls(CryptoMode::AwsLc))
                .tls_context(tls_context(&roots))
                .build()
        }),
        proxies: Arc::new(Matcher::from_env()),
        roots: described,
        connectors: Mutex::new(HashMap::new()),
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

/// The TLS context: the chosen roots, else the platform's store. Built once
/// per client, on its first `https` request.
fn tls_context(roots: &TrustRoots) -> TlsContext {
    let store = match roots.load_pem() {
        Some(pem) => TrustStore::empty().with_pem_certificate(pem.as_slice()),
        None => TrustStore::default(),
    };
    TlsContext::builder()
        .with_trust_store(store)
        .build()
        .unwrap_or_default()
}

/// The settings a connector is built for, as the SDK's own client keys
/// its connectors: the timeouts (the other inputs, the sleep and the
/// proxies, are the same for every request of the process).
type ConnectorKey = (Option<Duration>, Option<Duration>);

/// Chooses the connector by the request's scheme.
#[derive(Debug)]
struct SchemeSplit {
    http: SharedHttpClient,
    https: SharedHttpClient,
    /// The proxies of the environment, as the connectors read them.
    proxies: Arc<Matcher>,
    /// The trusted roots, described for messages.
    roots: Arc<str>,
    /// One connector per settings, built on the first request that needs
    /// it: the SDK asks for a connector on every attempt, and building one
    /// clones the client's runtime components (every interceptor).
    connectors: Mutex<HashMap<ConnectorKey, SharedHttpConnector>>,
}

impl HttpClient for SchemeSplit {
    fn http_connector(
        &self,
        settings: &HttpConnectorSettings,
        components: &RuntimeComponents,
    ) -> SharedHttpConnector {
        let key = (settings.connect_timeout(), settings.read_timeout());
        let mut connectors = self.connectors.lock().unwrap_or_else(|p| p.into_inner());
        connectors
            .entry(key)
            .or_insert_with(|| {
                SharedHttpConnector::new(SplitConnector {
                    proxies: self.proxies.clone(),
                    roots: self.roots.clone(),
                    http: self.http.http_connector(settings, components),
                    https: LazyTls {
                        client: self.https.clone(),
                        settings: settings.clone(),
                        components: components.clone(),
                        connector: OnceLock::new(),
                    },
                })
            })
            .clone()
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
    proxies: Arc<Matcher>,
    roots: Arc<str>,
}

impl HttpConnector for SplitConnector {
    fn call(&self, request: HttpRequest) -> HttpConnectorFuture {
        let route = self.route(request.uri());
        let call = if request.uri().starts_with("http://") {
            self.http.call(request)
        } else {
            let tls = &self.https;
            tls.connector
                .get_or_init(|| tls.client.http_connector(&tls.settings, &tls.components))
                .call(request)
        };
        HttpConnectorFuture::new(async move { call.await.map_err(|e| route.attach(e)) })
    }
}

impl SplitConnector {
    /// Where a request to `uri` goes: the endpoint, and the proxy between.
    fn route(&self, uri: &str) -> Route {
        let parsed = uri.parse::<http::Uri>().ok();
        let endpoint = parsed
            .as_ref()
            .and_then(|u| Some(format!("{}://{}", u.scheme_str()?, u.authority()?)))
            .unwrap_or_default();
        let proxy = parsed
            .as_ref()
            .and_then(|u| self.proxies.intercept(u))
            .map(|i| super::proxy::shown(&i));
        Route {
            endpoint,
            proxy,
            roots: self.roots.to_string(),
        }
    }
}
