//! Where the canary's endpoints come from: the AWS conventions
//! (`AWS_ENDPOINT_URL`, `AWS_ENDPOINT_URL_<SERVICE>`), `DYNAMODB_ENDPOINT` as
//! the alias DynamoDB Local users already set, and `--endpoint-url` over all
//! of them; each URL checked before the SDK sees it.

use crate::env::env_var;
use crate::error::ConfigError;

/// An endpoint override in effect and where it came from.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct EndpointOverride {
    /// The service it applies to (`all`, `dynamodb`, `sts`, `cloudwatch`).
    pub service: String,
    /// The URL.
    pub url: String,
    /// The flag or variable that set it.
    pub source: String,
}

pub(crate) fn check_url(url: &str, origin: &str) -> Result<(), ConfigError> {
    if valid_url(url) {
        Ok(())
    } else {
        Err(ConfigError::BadEndpoint {
            origin: origin.to_string(),
            url: crate::redact::truncate(url, 200),
        })
    }
}

/// An http(s) URL the SDK can use: a scheme, a host (a name, an IPv4
/// address or a bracketed IPv6 address), an optional port, then a path.
pub fn valid_url(url: &str) -> bool {
    let Some(rest) = url
        .strip_prefix("http://")
        .or_else(|| url.strip_prefix("https://"))
    else {
        return false;
    };
    let authority = rest.split(['/', '?', '#']).next().unwrap_or_default();
    let (host, port) = match authority.strip_prefix('[') {
        Some(v6) => {
            let Some((addr, after)) = v6.split_once(']') else {
                return false;
            };
            if addr.parse::<std::net::Ipv6Addr>().is_err() {
                return false;
            }
            match (after, after.strip_prefix(':')) {
                ("", _) => (addr, None),
                (_, Some(p)) => (addr, Some(p)),
                _ => return false,
            }
        }
        None => match authority.rsplit_once(':') {
            Some((h, p)) => (h, Some(p)),
            None => (authority, None),
        },
    };
    let host_ok = !host.is_empty()
        && (authority.starts_with('[')
            || host
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || ".-_".contains(c)));
    let port_ok = port.is_none_or(|p| p.parse::<u16>().is_ok_and(|n| n > 0));
    host_ok && port_ok && !url.chars().any(|c| c.is_whitespace() || c.is_control())
}

/// Whether `AWS_IGNORE_CONFIGURED_ENDPOINT_URLS=true` turns the environment's
/// endpoint overrides off.
pub(crate) fn endpoints_ignored() -> bool {
    env_var("AWS_IGNORE_CONFIGURED_ENDPOINT_URLS").is_some_and(|v| v.eq_ignore_ascii_case("true"))
}

/// Every endpoint override in effect, most specific first.
pub fn endpoint_overrides(endpoint_url: Option<&str>) -> Vec<EndpointOverride> {
    let mut out = Vec::new();
    if let Some(url) = endpoint_url {
        out.push(EndpointOverride {
            service: "all".into(),
            url: url.to_string(),
            source: "--endpoint-url".into(),
        });
    }
    if endpoints_ignored() {
        return out;
    }
    for (service, var) in [
        ("dynamodb", "AWS_ENDPOINT_URL_DYNAMODB"),
        ("dynamodb", "DYNAMODB_ENDPOINT"),
        ("sts", "AWS_ENDPOINT_URL_STS"),
        ("cloudwatch", "AWS_ENDPOINT_URL_CLOUDWATCH"),
        ("ssm", "AWS_ENDPOINT_URL_SSM"),
        ("cloudtrail", "AWS_ENDPOINT_URL_CLOUDTRAIL"),
        ("all", "AWS_ENDPOINT_URL"),
    ] {
        if let Some(url) = env_var(var) {
            out.push(EndpointOverride {
                service: service.into(),
                url,
                source: var.into(),
            });
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn endpoint_urls_must_parse() {
        for ok in [
            "http://127.0.0.1:8000",
            "https://dynamodb.us-east-1.amazonaws.com",
            "http://localhost:4566/",
            "http://[::1]:8000",
            "http://[::1]",
            "https://vpce-1a2b.dynamodb.us-east-1.vpce.amazonaws.com/path?x=1",
        ] {
            assert!(valid_url(ok), "{ok} refused");
        }
        for bad in [
            "http://[::1",
            "http://[zz]:80",
            "localhost:8000",
            "ftp://x",
            "http://",
            "http://host:99999",
            "http://host:0",
            "http://host:port",
            "http://ho st",
            "http://[::1]x",
        ] {
            assert!(!valid_url(bad), "{bad} accepted");
        }
    }
}
