//! Failures before any answer, told apart: a certificate the canary does
//! not trust (and why: unknown issuer, expired, another name), a proxy that
//! refuses or asks for credentials, and a connection nobody accepted. The
//! HTTP client attaches the request's [`Route`] to its error, so that each
//! message names the endpoint, the proxy and the roots in use.

use super::{Class, Failure};
use aws_smithy_runtime_api::client::result::ConnectorError;
use std::error::Error as StdError;
use std::fmt;

/// Where a request went: the endpoint, the proxy between (its password
/// masked) and the roots its TLS trusted.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Route {
    /// `https://host:port` of the endpoint.
    pub endpoint: String,
    /// The proxy, if one applied (`http://user:****@proxy:3128/`).
    pub proxy: Option<String>,
    /// The trusted roots, as `TrustRoots::describe` says them.
    pub roots: String,
}

/// A connector's error with the route of its request.
#[derive(Debug)]
pub struct RouteError {
    route: Route,
    source: ConnectorError,
    /// The connection (to the proxy, or through its tunnel) timed out.
    timed_out: bool,
}

impl fmt::Display for RouteError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.route.proxy {
            Some(p) => write!(
                f,
                "request to {} through the proxy {p}",
                self.route.endpoint
            ),
            None => write!(f, "request to {}", self.route.endpoint),
        }
    }
}

impl StdError for RouteError {
    fn source(&self) -> Option<&(dyn StdError + 'static)> {
        Some(&self.source)
    }
}

impl Route {
    /// `e`, of the same kind (so the SDK retries it as before), carrying
    /// this route. One exception: a proxy that did not answer within the
    /// connect timeout is not retried, since retries would spend the whole
    /// budget on it and end as a bare timeout that names no proxy.
    pub fn attach(self, e: ConnectorError) -> ConnectorError {
        let (timeout, io, user, other) = (e.is_timeout(), e.is_io(), e.is_user(), e.as_other());
        let stalled_proxy = timeout && self.proxy.is_some();
        let wrapped = Box::new(RouteError {
            route: self,
            source: e,
            timed_out: timeout,
        });
        if stalled_proxy {
            ConnectorError::other(
                wrapped,
                Some(aws_smithy_types::retry::ErrorKind::ClientError),
            )
        } else if timeout {
            ConnectorError::timeout(wrapped)
        } else if io {
            ConnectorError::io(wrapped)
        } else if user {
            ConnectorError::user(wrapped)
        } else {
            ConnectorError::other(wrapped, other)
        }
    }
}

/// hyper-util's error of a CONNECT tunnel. Its module is private; the type
/// is named through the `Tunnel` service that returns it.
type TunnelError = <hyper_util::client::legacy::connect::proxy::Tunnel<
    hyper_util::client::legacy::connect::HttpConnector,
> as tower_service::Service<http::Uri>>::Error;

/// Every error under `e`, an `io::Error`'s payload included (its
/// `source()` skips the payload, where TLS libraries put their error).
pub fn chain<'a>(
    e: &'a (dyn StdError + 'static),
) -> impl Iterator<Item = &'a (dyn StdError + 'static)> {
    std::iter::successors(Some(e), |&e| match e.downcast_ref::<std::io::Error>() {
        Some(io) => io.get_ref().map(|i| i as &(dyn StdError + 'static)),
        None => e.source(),
    })
}

/// The failure of a request that got no answer, when the chain says more
/// than "could not connect": TLS, a proxy, or a timeout through a proxy.
pub fn classify(e: &(dyn StdError + 'static), timed_out: bool) -> Option<Failure> {
    let found = chain(e).find_map(|x| x.downcast_ref::<RouteError>());
    let route = found.map(|r| r.route.clone()).unwrap_or_default();
    let timed_out = timed_out || found.is_some_and(|r| r.timed_out);
    if let Some(t) = chain(e).find_map(|x| x.downcast_ref::<TunnelError>()) {
        return Some(proxy_failure(&route, tunnel_problem(t, e)));
    }
    if let Some(tls) = chain(e).find_map(|x| x.downcast_ref::<rustls::Error>()) {
        return Some(tls_failure(&route, tls));
    }
    route.proxy.as_ref()?;
    // A forwarded (plain http) request whose proxy could not be reached.
    let problem = if timed_out {
        "did not answer within the connect timeout".to_string()
    } else {
        format!("could not be reached: {}", last_words(e))
    };
    Some(proxy_failure(&route, problem))
}

fn tunnel_problem(t: &TunnelError, whole: &(dyn StdError + 'static)) -> String {
    match t {
        TunnelError::ProxyAuthRequired => "asks for proxy authentication (407 Proxy Authentication Required): put the user and password in the proxy URL (HTTPS_PROXY=http://user:password@host:port), or ask for the canary's host to be allowed".into(),
        TunnelError::TunnelUnsuccessful => "refused to open a tunnel (its answer to CONNECT was not 200): the proxy's allow-list must admit the AWS endpoint, or NO_PROXY must exempt it".into(),
        TunnelError::ConnectFailed(_) => format!("could not be reached: {}", last_words(whole)),
        TunnelError::TunnelUnexpectedEof | TunnelError::Io(_) => "closed the connection while opening the tunnel".into(),
        TunnelError::ProxyHeadersTooLong => "answered CONNECT with headers too long to read".into(),
        TunnelError::MissingHost => "was given a request without a host".into(),
    }
}

fn proxy_failure(route: &Route, problem: String) -> Failure {
    let proxy = route
        .proxy
        .as_deref()
        .unwrap_or("(the environment's proxy)");
    let to = if route.endpoint.is_empty() {
        String::new()
    } else {
        format!(" on the way to {}", route.endpoint)
    };
    Failure::new(
        Class::ProxyError,
        format!("the proxy {proxy}{to} {problem}"),
    )
}

fn tls_failure(route: &Route, e: &rustls::Error) -> Failure {
    use rustls::{CertificateError as C, Error as E};
    let who = if route.endpoint.is_empty() {
        "the endpoint".to_string()
    } else {
        route.endpoint.clone()
    };
    let via = route
        .proxy
        .as_ref()
        .map(|p| format!(" (through the proxy {p})"))
        .unwrap_or_default();
    let roots = if route.roots.is_empty() {
        String::new()
    } else {
        format!("; trusted roots: {}", route.roots)
    };
    let what = match e {
        E::InvalidCertificate(c) => match c {
            C::UnknownIssuer => "presented a certificate signed by an authority that is not trusted (unknown issuer: self-signed, a private CA, or a TLS-inspecting proxy's CA)".to_string(),
            C::ExpiredContext { time, not_after } => format!(
                "presented an expired certificate (valid until {}, now {})",
                iso(not_after.as_secs()),
                iso(time.as_secs())
            ),
            C::Expired => "presented an expired certificate".into(),
            C::NotValidYetContext { time, not_before } => format!(
                "presented a certificate that is not valid yet (valid from {}, now {}): check this host's clock",
                iso(not_before.as_secs()),
                iso(time.as_secs())
            ),
            C::NotValidYet => "presented a certificate that is not valid yet: check this host's clock".into(),
            C::NotValidForNameContext { expected, presented } => format!(
                "presented a certificate for other names ({}), not {}",
                names(presented),
                server_name(expected)
            ),
            C::NotValidForName => "presented a certificate for another name".into(),
            C::Revoked => "presented a revoked certificate".into(),
            C::BadSignature => "presented a certificate with a bad signature".into(),
            other => format!("presented a certificate that is refused ({other:?})"),
        },
        E::InvalidMessage(_) | E::InappropriateMessage { .. } | E::InappropriateHandshakeMessage { .. } => {
            "answered, but not with TLS (an http:// endpoint written as https://, or a port that is not HTTPS)".to_string()
        }
        E::AlertReceived(alert) => format!("refused the TLS handshake (alert: {alert:?})"),
        other => format!("failed the TLS handshake: {other}"),
    };
    Failure::new(Class::TlsError, format!("{who}{via} {what}{roots}"))
}

/// `DnsName("a.example")` (rustls's Debug of a name) as `a.example`.
fn names(presented: &[String]) -> String {
    if presented.is_empty() {
        return "none".into();
    }
    presented
        .iter()
        .map(|n| {
            let inner = n
                .split_once('(')
                .map(|(_, rest)| rest.trim_end_matches(')'))
                .unwrap_or(n);
            inner.trim_matches('"').to_string()
        })
        .collect::<Vec<_>>()
        .join(", ")
}

fn server_name(n: &rustls_pki_types::ServerName<'_>) -> String {
    match n {
        rustls_pki_types::ServerName::DnsName(d) => d.as_ref().to_string(),
        rustls_pki_types::ServerName::IpAddress(ip) => std::net::IpAddr::from(*ip).to_string(),
        other => format!("{other:?}"),
    }
}

fn iso(secs: u64) -> String {
    aws_smithy_types::DateTime::from_secs(secs as i64)
        .fmt(aws_smithy_types::date_time::Format::DateTime)
        .unwrap_or_else(|_| secs.to_string())
}

/// The innermost error's words: what the operating system said.
fn last_words(e: &(dyn StdError + 'static)) -> String {
    chain(e)
        .last()
        .map(|x| x.to_string())
        .unwrap_or_else(|| e.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;
    use rustls::pki_types::UnixTime;

    fn route() -> Route {
        Route {
            endpoint: "https://dynamodb.us-east-1.amazonaws.com:443".into(),
            proxy: None,
            roots: "AWS_CA_BUNDLE /etc/corp.pem (1 certificates)".into(),
        }
    }

    /// A rustls error as the client nests it: two `io::Error`s deep, under
    /// the route.
    fn nested(e: rustls::Error, route: Route) -> ConnectorError {
        let inner = std::io::Error::other(std::io::Error::other(e));
        route.attach(ConnectorError::io(Box::new(inner)))
    }

    fn classified(e: ConnectorError) -> Failure {
        classify(&e, false).expect("classified")
    }

    #[test]
    fn each_certificate_problem_says_which_and_names_the_roots() {
        use rustls::CertificateError as C;
        let f = classified(nested(C::UnknownIssuer.into(), route()));
        assert_eq!(f.class, Class::TlsError);
        assert_eq!(f.message, "https://dynamodb.us-east-1.amazonaws.com:443 presented a certificate signed by an authority that is not trusted (unknown issuer: self-signed, a private CA, or a TLS-inspecting proxy's CA); trusted roots: AWS_CA_BUNDLE /etc/corp.pem (1 certificates)");
        let expired = C::ExpiredContext {
            time: UnixTime::since_unix_epoch(std::time::Duration::from_secs(1_800_000_000)),
            not_after: UnixTime::since_unix_epoch(std::time::Duration::from_secs(1_700_000_000)),
        };
        let f = classified(nested(expired.into(), route()));
        assert!(f.message.contains("presented an expired certificate (valid until 2023-11-14T22:13:20Z, now 2027-01-15T08:00:00Z)"), "{}", f.message);
        let name = C::NotValidForNameContext {
            expected: rustls_pki_types::ServerName::try_from("localhost").unwrap(),
            presented: vec![
                "DnsName(\"wrong.example\")".into(),
                "IpAddress(10.0.0.1)".into(),
            ],
        };
        let f = classified(nested(name.into(), route()));
        assert!(
            f.message.contains(
                "presented a certificate for other names (wrong.example, 10.0.0.1), not localhost"
            ),
            "{}",
            f.message
        );
        let f = classified(nested(
            rustls::Error::InvalidMessage(rustls::InvalidMessage::InvalidContentType),
            route(),
        ));
        assert!(
            f.message.contains("answered, but not with TLS"),
            "{}",
            f.message
        );
        let via = Route {
            proxy: Some("http://corp-proxy:3128/".into()),
            ..route()
        };
        let f = classified(nested(C::UnknownIssuer.into(), via));
        assert!(f.message.starts_with("https://dynamodb.us-east-1.amazonaws.com:443 (through the proxy http://corp-proxy:3128/) presented"), "{}", f.message);
    }

    #[test]
    fn a_refused_connection_without_a_proxy_is_left_to_the_caller() {
        let refused = std::io::Error::new(std::io::ErrorKind::ConnectionRefused, "refused");
        let e = route().attach(ConnectorError::io(Box::new(refused)));
        assert!(e.is_io(), "the kind is kept, so the SDK retries as before");
        assert!(classify(&e, false).is_none());
        let t = route().attach(ConnectorError::timeout("slow".into()));
        assert!(t.is_timeout());
        assert!(classify(&t, true).is_none());
    }

    #[test]
    fn an_unreachable_proxy_is_named_with_its_password_masked_by_the_client() {
        let via = Route {
            proxy: Some("http://ops:****@127.0.0.1:9/".into()),
            ..route()
        };
        let refused = std::io::Error::new(
            std::io::ErrorKind::ConnectionRefused,
            "Connection refused (os error 111)",
        );
        let f = classified(via.clone().attach(ConnectorError::io(Box::new(refused))));
        assert_eq!(f.class, Class::ProxyError);
        assert_eq!(f.message, "the proxy http://ops:****@127.0.0.1:9/ on the way to https://dynamodb.us-east-1.amazonaws.com:443 could not be reached: Connection refused (os error 111)");
        let stalled = via.attach(ConnectorError::timeout("slow".into()));
        assert!(
            !stalled.is_timeout() && stalled.as_other().is_some(),
            "not retried"
        );
        let f = classify(&stalled, false).unwrap();
        assert!(
            f.message
                .ends_with("443 did not answer within the connect timeout"),
            "{}",
            f.message
        );
    }

    #[test]
    fn rustls_names_are_shown_plainly() {
        assert_eq!(names(&[]), "none");
        assert_eq!(names(&["DnsName(\"a.b\")".into()]), "a.b");
        assert_eq!(names(&["plain".into()]), "plain");
    }
}
