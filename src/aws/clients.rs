//! AWS clients: one `SdkConfig` loaded at start, per-region clients derived
//! from it by overriding the region only, cached and reused by every probe
//! and by later warm invocations. A new AWS service joins here.

use super::endpoints::{check_url, endpoint_overrides, endpoints_ignored};
use super::region::RegionSource;
use super::skew::ServerDate;
use super::trust::TrustRoots;
use crate::config::Region as CanaryRegion;
use crate::env::env_var;
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
    cloudtrail: Mutex<HashMap<String, aws_sdk_cloudtrail::Client>>,
    ssm: std::sync::OnceLock<aws_sdk_ssm::Client>,
    credential_problem: Option<crate::classify::Failure>,
    trust_roots: TrustRoots,
}

impl AwsClients {
    /// Loads the shared configuration once and builds the STS client.
    pub async fn load(opts: &ClientOptions) -> Result<AwsClients, ConfigError> {
        for o in endpoint_overrides(opts.endpoint_url.as_deref()) {
            check_url(&o.url, &o.source)?;
        }
        // The roots are chosen before anything is sent: a bundle that
        // cannot be used is a configuration error, not a failure per call.
        let trust_roots = super::trust::choose(opts.profile.as_deref()).await?;
        let mut loader = aws_config::defaults(BehaviorVersion::latest())
            .http_client(super::http::client(trust_roots.clone()));
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
        loader =
            loader.retry_config(super::retry::checked_retry_config(opts.profile.as_deref()).await?);
        if let Some(url) = &opts.endpoint_url {
            loader = loader.endpoint_url(url);
        }
        let sdk = loader.load().await;
        let region = super::region::resolve(opts.region.is_some(), &sdk)?;
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
            None => super::credentials::problem(opts.profile.as_deref()).await,
        };
        Ok(AwsClients {
            sdk,
            region,
            dynamodb_endpoint,
            sts,
            server_date,
            dynamodb: Mutex::new(HashMap::new()),
            cloudwatch: Mutex::new(HashMap::new()),
            cloudtrail: Mutex::new(HashMap::new()),
            ssm: std::sync::OnceLock::new(),
            credential_problem,
            trust_roots,
        })
    }

    /// The roots that HTTPS trusts, and where they came from.
    pub fn trust_roots(&self) -> &TrustRoots {
        &self.trust_roots
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
        self.server_date.seconds()
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
    /// any call ([`super::credentials::resolve`]).
    pub async fn resolve_credentials(
        &self,
        timeout: Duration,
    ) -> Result<Option<i64>, crate::classify::Failure> {
        super::credentials::resolve(&self.sdk, timeout).await
    }

    /// The CloudTrail client for a region (its event history is per
    /// region), built on first use and reused: most runs never need one.
    pub fn cloudtrail(&self, region: &str) -> aws_sdk_cloudtrail::Client {
        let mut cache = self.cloudtrail.lock().unwrap_or_else(|p| p.into_inner());
        cache
            .entry(region.to_string())
            .or_insert_with(|| {
                let conf = aws_sdk_cloudtrail::config::Builder::from(&self.sdk)
                    .region(Region::new(region.to_string()))
                    .build();
                aws_sdk_cloudtrail::Client::from_conf(conf)
            })
            .clone()
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
