//! Which proxy each endpoint goes through, read from the environment with
//! the same matcher the SDK's HTTP client uses (`HTTPS_PROXY`, `HTTP_PROXY`,
//! `ALL_PROXY`, `NO_PROXY`, upper case first, then lower case), with any
//! password in a proxy URL masked.

use crate::redact::mask_url_password;
use hyper_util::client::proxy::matcher::{Intercept, Matcher};
use serde::Serialize;

/// One endpoint's way out.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ProxyRoute {
    /// The service (`sts`, `dynamodb`, `cloudwatch`).
    pub service: String,
    /// The endpoint URL.
    pub endpoint: String,
    /// The proxy it goes through, password masked; `None` when direct.
    pub proxy: Option<String>,
    /// A proxy is set for its scheme, but `NO_PROXY` exempts it.
    pub exempted_by_no_proxy: bool,
}

/// The route of each `(service, endpoint)`.
pub fn routes(endpoints: &[(String, String)]) -> Vec<ProxyRoute> {
    let env = Matcher::from_env();
    let ignoring_no_proxy = Matcher::builder()
        .all(first(&["ALL_PROXY", "all_proxy"]))
        .http(first(&["HTTP_PROXY", "http_proxy"]))
        .https(first(&["HTTPS_PROXY", "https_proxy"]))
        .build();
    endpoints
        .iter()
        .map(|(service, endpoint)| {
            let uri = endpoint.parse::<http::Uri>().ok();
            let via = |m: &Matcher| uri.as_ref().and_then(|u| m.intercept(u)).map(|i| shown(&i));
            let proxy = via(&env);
            ProxyRoute {
                service: service.clone(),
                endpoint: endpoint.clone(),
                exempted_by_no_proxy: proxy.is_none() && via(&ignoring_no_proxy).is_some(),
                proxy,
            }
        })
        .collect()
}

/// The proxy of an interception as people should see it: its URL with the
/// user and a masked password (the matcher keeps them apart from the URL).
pub fn shown(i: &Intercept) -> String {
    let url = i.uri().to_string();
    // `Basic base64(user:password)`: only the user is shown.
    let user = i
        .basic_auth()
        .and_then(|h| h.to_str().ok())
        .and_then(|h| h.strip_prefix("Basic "))
        .and_then(|b| aws_smithy_types::base64::decode(b.trim()).ok())
        .and_then(|raw| {
            let text = String::from_utf8_lossy(&raw).into_owned();
            text.split_once(':').map(|(u, _)| u.to_string())
        });
    match (user, url.split_once("://")) {
        (Some(user), Some((scheme, rest))) => format!("{scheme}://{user}:****@{rest}"),
        _ => mask_url_password(&url),
    }
}

/// The first of `names` that is set, as the matcher reads them: an upper
/// case variable that is set (even empty) hides the lower case one.
fn first(names: &[&str]) -> String {
    names
        .iter()
        .find_map(|n| std::env::var(n).ok())
        .unwrap_or_default()
}
