//! AWS clients: one `SdkConfig` loaded at start, per-region clients derived
//! from it by overriding the region only, cached and reused by every probe
//! and by later warm invocations.
//!
//! Endpoint overrides follow the AWS conventions (`AWS_ENDPOINT_URL`,
//! `AWS_ENDPOINT_URL_<SERVICE>`), plus `DYNAMODB_ENDPOINT` as an alias that
//! DynamoDB Local users already set; `--endpoint-url` overrides all of them.

use crate::config::Region as CanaryRegion;
use crate::error::ConfigError;
use aws_config::{BehaviorVersion, Region, SdkConfig};
use aws_credential_types::Credentials;
use std::collections::HashMap;
use std::sync::Mutex;
use std::time::Duration;

/// How the clients are to be built, from the command line or the environment.
#[derive(Debug, Clone, Default)]
pub struct ClientOptions {
    /// `--region`.
    pub region: Option<String>,
    /// `--endpoint-url`: overrides every service's endpoint.
    pub endpoint_url: Option<String>,
    /// `--profile`.
    pub profile: Option<String>,
    /// Explicit credentials instead of the provider chain (tests: nothing
    /// in a test may look the chain up, instance metadata least of all).
    pub credentials: Option<Credentials>,
}

/// Where the region came from.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct RegionSource {
    /// The region.
    pub region: CanaryRegion,
    /// `--region`, `AWS_REGION`, `AWS_DEFAULT_REGION` or `profile`.
    pub source: String,
}

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

/// The clients of one process.
#[derive(Debug)]
pub struct AwsClients {
    sdk: SdkConfig,
    region: RegionSource,
    dynamodb_endpoint: Option<String>,
    sts: aws_sdk_sts::Client,
    server_date: ServerDate,
    dynamodb: Mutex<HashMap<String, aws_sdk_dynamodb::Client>>,
    cloudwatch: Mutex<HashMap<String, aws_sdk_cloudwatch::Client>>,
    ssm: std::sync::OnceLock<aws_sdk_ssm::Client>,
    credential_problem: Option<crate::classify::Failure>,
}

/// Reads an environment variable, treating empty as unset.
pub fn env_var(name: &str) -> Option<String> {
    std::env::var(name).ok().filter(|v| !v.trim().is_empty())
}

fn check_url(url: &str, origin: &str) -> Result<(), ConfigError> {
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
fn endpoints_ignored() -> bool {
    env_var("AWS_IGNORE_CONFIGURED_ENDPOINT_URLS").is_some_and(|v| v.eq_ignore_ascii_case("true"))
}

/// Every endpoint override in effect, most specific first.
pub fn endpoint_overrides(opts: &ClientOptions) -> Vec<EndpointOverride> {
    let mut out = Vec::new();
    if let Some(url) = &opts.endpoint_url {
        out.push(EndpointOverride {
            service: "all".into(),
            url: url.clone(),
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

impl AwsClients {
    /// Loads the shared configuration once and builds the STS client.
    pub async fn load(opts: &ClientOptions) -> Result<AwsClients, ConfigError> {
        for o in endpoint_overrides(opts) {
            check_url(&o.url, &o.source)?;
        }
        let mut loader =
            aws_config::defaults(BehaviorVersion::latest()).http_client(crate::http::client());
        if let Some(r) = &opts.region {
            let r = CanaryRegion::parse(r.as_str()).map_err(|message| ConfigError::Flag {
                flag: "--region".into(),
                message,
            })?;
            loader = loader.region(Region::new(r.to_string()));
        }
        if let Some(p) = &opts.profile {
            loader = loader.profile_name(p);
        }
        if let Some(c) = &opts.credentials {
            loader = loader.credentials_provider(c.clone());
        }
        // The SDK panics on retry settings it cannot parse: read them here,
        // refuse bad ones by name, and hand the SDK the parsed result.
        loader = loader.retry_config(checked_retry_config(opts.profile.as_deref()).await?);
        if let Some(url) = &opts.endpoint_url {
            loader = loader.endpoint_url(url);
        }
        let sdk = loader.load().await;
        let region = resolve_region(opts, &sdk)?;
        let dynamodb_endpoint = if opts.endpoint_url.is_none()
            && env_var("AWS_ENDPOINT_URL_DYNAMODB").is_none()
            && !endpoints_ignored()
        {
            env_var("DYNAMODB_ENDPOINT")
        } else {
            None
        };
        let server_date = ServerDate::default();
        let sts = aws_sdk_sts::Client::from_conf(
            aws_sdk_sts::config::Builder::from(&sdk)
                .interceptor(server_date.clone())
                .build(),
        );
        let credential_problem = match &opts.credentials {
            Some(_) => None,
            None => crate::credentials::problem(opts.profile.as_deref()).await,
        };
        Ok(AwsClients {
            sdk,
            region,
            dynamodb_endpoint,
            sts,
            server_date,
            dynamodb: Mutex::new(HashMap::new()),
            cloudwatch: Mutex::new(HashMap::new()),
            ssm: std::sync::OnceLock::new(),
            credential_problem,
        })
    }

    /// The shared SDK configuration.
    pub fn sdk_config(&self) -> &SdkConfig {
        &self.sdk
    }

    /// The canary's own region and where it came from.
    pub fn region(&self) -> &RegionSource {
        &self.region
    }

    /// Server time minus local time in seconds, from the `Date` header of the
    /// last STS or DynamoDB response.
    pub fn clock_skew_seconds(&self) -> Option<i64> {
        *self.server_date.0.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// A credential problem found before any request (partial environment
    /// keys, a missing profile): every call of a run fails with it.
    pub fn credential_problem(&self) -> Option<&crate::classify::Failure> {
        self.credential_problem.as_ref()
    }

    /// The SSM client (the canary's own region): the configuration
    /// parameter. Built on first use: most runs never read one.
    pub fn ssm(&self) -> &aws_sdk_ssm::Client {
        self.ssm.get_or_init(|| aws_sdk_ssm::Client::new(&self.sdk))
    }

    /// The STS client (the canary's own region).
    pub fn sts(&self) -> &aws_sdk_sts::Client {
        &self.sts
    }

    /// The DynamoDB client for a region, built on first use and then reused.
    pub fn dynamodb(&self, region: &str) -> aws_sdk_dynamodb::Client {
        let mut cache = self.dynamodb.lock().unwrap_or_else(|p| p.into_inner());
        cache
            .entry(region.to_string())
            .or_insert_with(|| {
                aws_sdk_dynamodb::Client::from_conf(self.dynamodb_builder(region).build())
            })
            .clone()
    }

    /// A DynamoDB client for a region that signs with other credentials
    /// (an assumed role). Not cached here: the caller caches per role.
    pub fn dynamodb_as(&self, region: &str, creds: Credentials) -> aws_sdk_dynamodb::Client {
        let conf = self
            .dynamodb_builder(region)
            .credentials_provider(creds)
            .build();
        aws_sdk_dynamodb::Client::from_conf(conf)
    }

    fn dynamodb_builder(&self, region: &str) -> aws_sdk_dynamodb::config::Builder {
        let mut b = aws_sdk_dynamodb::config::Builder::from(&self.sdk)
            .region(Region::new(region.to_string()))
            .interceptor(self.server_date.clone());
        if let Some(url) = &self.dynamodb_endpoint {
            b = b.endpoint_url(url);
        }
        b
    }

    /// Resolves the canary's own credentials once, within `timeout`, before
    /// any call: a provider that fails (a container endpoint that refuses, a
    /// web identity token file that is missing) fails every call of the run
    /// alike, with the provider's own error rather than a call's timeout.
    /// Returns the seconds before they expire, when known: from the provider
    /// (SSO, assumed roles, containers) or, for keys from the environment,
    /// from `AWS_CREDENTIAL_EXPIRATION`.
    pub async fn resolve_credentials(
        &self,
        timeout: Duration,
    ) -> Result<Option<i64>, crate::classify::Failure> {
        use crate::classify::{classify_credentials_error, Class, Failure};
        use aws_credential_types::provider::ProvideCredentials;
        let Some(provider) = self.sdk.credentials_provider() else {
            return Ok(None);
        };
        // Name the source the SDK's own error leaves out.
        let container = missing_web_identity_token().or_else(|| {
            env_var("AWS_CONTAINER_CREDENTIALS_FULL_URI").map(|u| {
                format!(
                    "the container credentials endpoint {u} (AWS_CONTAINER_CREDENTIALS_FULL_URI)"
                )
            })
        });
        let creds = match tokio::time::timeout(timeout, provider.provide_credentials()).await {
            Ok(Ok(c)) => c,
            Ok(Err(e)) => {
                let mut f = classify_credentials_error(&e);
                if let (Some(c), Class::CredentialsError) = (&container, f.class) {
                    f.message = format!("{c}: {}", f.message);
                }
                return Err(f);
            }
            Err(_) => {
                let source = container.unwrap_or_else(|| "the credential provider chain".into());
                return Err(Failure::new(
                    Class::CredentialsError,
                    format!(
                        "{source} supplied no credentials within {} ms",
                        timeout.as_millis()
                    ),
                ));
            }
        };
        let expiry = creds.expiry().or_else(|| {
            let text = env_var("AWS_CREDENTIAL_EXPIRATION")?;
            let dt = aws_smithy_types::DateTime::from_str(
                &text,
                aws_smithy_types::date_time::Format::DateTime,
            )
            .ok()?;
            std::time::SystemTime::try_from(dt).ok()
        });
        Ok(expiry.map(crate::clock::seconds_from_now))
    }

    /// The CloudWatch client for a region, built on first use and reused.
    pub fn cloudwatch(&self, region: &str) -> aws_sdk_cloudwatch::Client {
        let mut cache = self.cloudwatch.lock().unwrap_or_else(|p| p.into_inner());
        cache
            .entry(region.to_string())
            .or_insert_with(|| {
                let conf = aws_sdk_cloudwatch::config::Builder::from(&self.sdk)
                    .region(Region::new(region.to_string()))
                    .build();
                aws_sdk_cloudwatch::Client::from_conf(conf)
            })
            .clone()
    }
}

/// The retry settings of the environment (`AWS_MAX_ATTEMPTS`,
/// `AWS_RETRY_MODE`) and of the selected profile (`max_attempts`,
/// `retry_mode`), per field the environment first, as the SDK reads them,
/// but refused by name instead of the SDK's panic.
pub async fn checked_retry_config(
    profile: Option<&str>,
) -> Result<aws_smithy_types::retry::RetryConfig, ConfigError> {
    use aws_smithy_types::retry::{RetryConfig, RetryMode};
    use std::str::FromStr;
    let bad = |flag: String, message: String| ConfigError::Flag { flag, message };
    let selected = profile
        .map(str::to_string)
        .or_else(|| env_var("AWS_PROFILE"))
        .unwrap_or_else(|| "default".to_string());
    let profile_value = |key: &str| {
        let key = key.to_string();
        let selected = selected.clone();
        async move {
            use aws_types::os_shim_internal::{Env, Fs};
            let set = aws_config::profile::load(
                &Fs::real(),
                &Env::real(),
                &Default::default(),
                Some(selected.clone().into()),
            )
            .await
            .ok()?;
            let value = set.get_profile(&selected)?.get(&key)?.to_string();
            Some((format!("profile \"{selected}\" key {key}"), value))
        }
    };
    let setting = |var: &str| std::env::var(var).ok().map(|v| (var.to_string(), v));
    let mut config = RetryConfig::standard();
    let attempts = match setting("AWS_MAX_ATTEMPTS") {
        Some(s) => Some(s),
        None => profile_value("max_attempts").await,
    };
    if let Some((from, v)) = attempts {
        match v.trim().parse::<u32>() {
            Ok(n) if n >= 1 => config = config.with_max_attempts(n),
            _ => {
                return Err(bad(
                    from,
                    format!(
                        "\"{}\" is not a number of attempts (1 or more)",
                        crate::redact::truncate(&v, 40)
                    ),
                ))
            }
        }
    }
    let mode = match setting("AWS_RETRY_MODE") {
        Some(s) => Some(s),
        None => profile_value("retry_mode").await,
    };
    if let Some((from, v)) = mode {
        match RetryMode::from_str(&v) {
            Ok(m) => config = config.with_retry_mode(m),
            Err(_) => {
                return Err(bad(
                    from,
                    format!(
                        "\"{}\" is not a retry mode (standard or adaptive)",
                        crate::redact::truncate(&v, 40)
                    ),
                ))
            }
        }
    }
    Ok(config)
}

/// `AWS_WEB_IDENTITY_TOKEN_FILE` names a file that does not exist.
pub fn missing_web_identity_token() -> Option<String> {
    let path = env_var("AWS_WEB_IDENTITY_TOKEN_FILE")?;
    (!std::path::Path::new(&path).exists())
        .then(|| format!("AWS_WEB_IDENTITY_TOKEN_FILE names {path}, which does not exist"))
}

fn resolve_region(opts: &ClientOptions, sdk: &SdkConfig) -> Result<RegionSource, ConfigError> {
    let region = sdk
        .region()
        .map(|r| r.to_string())
        .filter(|r| !r.trim().is_empty())
        .ok_or_else(|| {
            let blank = ["AWS_REGION", "AWS_DEFAULT_REGION"]
                .into_iter()
                .find(|v| std::env::var(v).is_ok_and(|x| x.trim().is_empty()));
            match blank {
                Some(var) => ConfigError::Flag {
                    flag: var.into(),
                    message: "is set but empty (and nothing else names a region): set it to a region such as us-east-1, or unset it".into(),
                },
                None => ConfigError::NoRegion,
            }
        })?;
    let source = if opts.region.is_some() {
        "--region"
    } else if env_var("AWS_REGION").as_deref() == Some(region.as_str()) {
        "AWS_REGION"
    } else if env_var("AWS_DEFAULT_REGION").as_deref() == Some(region.as_str()) {
        "AWS_DEFAULT_REGION"
    } else {
        "profile"
    };
    let region = CanaryRegion::parse(region).map_err(|message| ConfigError::Flag {
        flag: source.to_string(),
        message,
    })?;
    Ok(RegionSource {
        region,
        source: source.to_string(),
    })
}

/// Records the skew between the service's `Date` header and the local clock.
#[derive(Debug, Clone, Default)]
struct ServerDate(std::sync::Arc<Mutex<Option<i64>>>);

impl aws_smithy_runtime_api::client::interceptors::Intercept for ServerDate {
    fn name(&self) -> &'static str {
        "ServerDate"
    }

    fn read_after_transmit(
        &self,
        context: &aws_smithy_runtime_api::client::interceptors::context::BeforeDeserializationInterceptorContextRef<'_>,
        _components: &aws_smithy_runtime_api::client::runtime_components::RuntimeComponents,
        _cfg: &mut aws_smithy_types::config_bag::ConfigBag,
    ) -> Result<(), aws_smithy_runtime_api::box_error::BoxError> {
        let server = context.response().headers().get("date").and_then(|d| {
            aws_smithy_types::DateTime::from_str(d, aws_smithy_types::date_time::Format::HttpDate)
                .ok()
        });
        if let Some(server) = server {
            let local = aws_smithy_types::DateTime::from(std::time::SystemTime::now());
            *self.0.lock().unwrap_or_else(|p| p.into_inner()) = Some(server.secs() - local.secs());
        }
        Ok(())
    }
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
