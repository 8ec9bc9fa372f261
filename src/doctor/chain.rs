//! The provider-chain walk: each provider of the SDK's default chain, in its
//! real order, asked for credentials until one supplies them.

use crate::classify::{chain_text, classify_credentials_error, Class};
use crate::env::env_var;
use crate::redact::mask_key_id;
use aws_credential_types::provider::ProvideCredentials;
use aws_credential_types::Credentials;
use serde::Serialize;
use std::time::Duration;

/// A provider of the default chain.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub enum Provider {
    /// `AWS_ACCESS_KEY_ID` and friends.
    Environment,
    /// The shared config and credentials files (static keys, SSO, roles).
    Profile,
    /// `AWS_WEB_IDENTITY_TOKEN_FILE` with `AWS_ROLE_ARN`.
    WebIdentityToken,
    /// The ECS or EKS Pod Identity container endpoint.
    EcsContainer,
    /// EC2 instance metadata (IMDS).
    Ec2InstanceMetadata,
}

impl Provider {
    /// The default chain, in the order the SDK asks.
    pub const CHAIN: [Provider; 5] = [
        Provider::Environment,
        Provider::Profile,
        Provider::WebIdentityToken,
        Provider::EcsContainer,
        Provider::Ec2InstanceMetadata,
    ];

    /// The name in reports (the same as the JSON).
    pub fn as_str(self) -> &'static str {
        match self {
            Provider::Environment => "Environment",
            Provider::Profile => "Profile",
            Provider::WebIdentityToken => "WebIdentityToken",
            Provider::EcsContainer => "EcsContainer",
            Provider::Ec2InstanceMetadata => "Ec2InstanceMetadata",
        }
    }
}

impl std::fmt::Display for Provider {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.pad(self.as_str())
    }
}

/// What a provider did.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ProviderStatus {
    /// It supplied the credentials.
    Supplied,
    /// It has nothing configured here.
    NotConfigured,
    /// It is configured but failed.
    Failed,
    /// The user disabled it; it was not contacted.
    Disabled,
    /// An earlier provider supplied credentials.
    NotTried,
}

impl ProviderStatus {
    /// The name in reports (the same as the JSON).
    pub fn as_str(self) -> &'static str {
        match self {
            ProviderStatus::Supplied => "supplied",
            ProviderStatus::NotConfigured => "not_configured",
            ProviderStatus::Failed => "failed",
            ProviderStatus::Disabled => "disabled",
            ProviderStatus::NotTried => "not_tried",
        }
    }
}

impl std::fmt::Display for ProviderStatus {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.pad(self.as_str())
    }
}

/// One provider of the chain.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct ProviderStep {
    /// The provider, in chain order.
    pub provider: Provider,
    /// What it did.
    pub status: ProviderStatus,
    /// Why it did or did not supply credentials.
    pub detail: String,
}

/// The credentials that won and the provider that supplied them.
#[derive(Debug, Clone)]
pub struct Winner {
    /// The provider.
    pub provider: Provider,
    /// The credentials, unmasked: never serialise them.
    pub credentials: Credentials,
}

pub use crate::aws::credentials::ProfileAbsence;

/// The walk's result.
#[derive(Debug, Clone)]
pub struct ChainWalk {
    /// Every provider, in chain order.
    pub steps: Vec<ProviderStep>,
    /// The first provider that supplied credentials.
    pub winner: Option<Winner>,
    /// Set when the profile provider did not supply because the profile
    /// does not exist.
    pub profile_absence: Option<ProfileAbsence>,
}

/// Walks the default chain's providers in their real order, stopping at the
/// first that supplies credentials, as the SDK does. Instance metadata is
/// never contacted when `AWS_EC2_METADATA_DISABLED` is true.
pub async fn walk(profile: &str, timeout: Duration) -> ChainWalk {
    let mut walk = ChainWalk {
        steps: Vec::new(),
        winner: None,
        profile_absence: None,
    };
    for provider in Provider::CHAIN {
        let (status, detail) = if walk.winner.is_some() {
            (
                ProviderStatus::NotTried,
                "an earlier provider supplied credentials".to_string(),
            )
        } else if provider == Provider::Ec2InstanceMetadata && imds_disabled() {
            (
                ProviderStatus::Disabled,
                "disabled by AWS_EC2_METADATA_DISABLED=true (not contacted)".to_string(),
            )
        } else {
            match ask(provider, profile, timeout).await {
                Ok(credentials) => {
                    let detail = format!("access key {}", mask_key_id(credentials.access_key_id()));
                    walk.winner = Some(Winner {
                        provider,
                        credentials,
                    });
                    (ProviderStatus::Supplied, detail)
                }
                Err(refusal) => {
                    if provider == Provider::Profile {
                        walk.profile_absence =
                            crate::aws::credentials::profile_absence(profile).await;
                    }
                    refusal
                }
            }
        };
        walk.steps.push(ProviderStep {
            provider,
            status,
            detail,
        });
    }
    walk
}

/// Asks the profile provider alone for `profile`'s credentials (it runs a
/// `credential_process`), whatever came before it in the chain: what the
/// SDKs that prefer the profile would get.
pub async fn profile_credentials(profile: &str, timeout: Duration) -> Option<Credentials> {
    ask(Provider::Profile, profile, timeout).await.ok()
}

fn imds_disabled() -> bool {
    env_var("AWS_EC2_METADATA_DISABLED").is_some_and(|v| v.eq_ignore_ascii_case("true"))
}

/// Asks one provider, built as the default chain builds it.
async fn ask(
    provider: Provider,
    profile: &str,
    timeout: Duration,
) -> Result<Credentials, (ProviderStatus, String)> {
    use aws_config::{ecs, environment, imds, profile as prof, web_identity_token};
    match provider {
        Provider::Environment => {
            call(
                environment::EnvironmentVariableCredentialsProvider::new(),
                timeout,
            )
            .await
        }
        Provider::Profile => {
            call(
                prof::ProfileFileCredentialsProvider::builder()
                    .profile_name(profile)
                    .build(),
                timeout,
            )
            .await
        }
        Provider::WebIdentityToken => {
            call(
                web_identity_token::WebIdentityTokenCredentialsProvider::builder().build(),
                timeout,
            )
            .await
        }
        Provider::EcsContainer => {
            call(ecs::EcsCredentialsProvider::builder().build(), timeout).await
        }
        Provider::Ec2InstanceMetadata => {
            call(
                imds::credentials::ImdsCredentialsProvider::builder().build(),
                timeout,
            )
            .await
        }
    }
}

async fn call(
    p: impl ProvideCredentials,
    timeout: Duration,
) -> Result<Credentials, (ProviderStatus, String)> {
    match tokio::time::timeout(timeout, p.provide_credentials()).await {
        Err(_) => Err((
            ProviderStatus::Failed,
            format!("no answer within {} ms", timeout.as_millis()),
        )),
        Ok(Ok(c)) => Ok(c),
        Ok(Err(e)) => {
            let status = if classify_credentials_error(&e).class == Class::CredentialsMissing {
                ProviderStatus::NotConfigured
            } else {
                ProviderStatus::Failed
            };
            Err((status, chain_text(&e)))
        }
    }
}

/// Reads the shared config and credentials files as the profile provider
/// does (`AWS_CONFIG_FILE`, `AWS_SHARED_CREDENTIALS_FILE`, `~/.aws`) and
/// says whether `profile` is absent. Files that cannot be read or parsed
/// give `None`: the profile may exist, the provider's error says why not.
#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_serialise_as_before() {
        let names: Vec<String> = Provider::CHAIN
            .iter()
            .map(|p| {
                serde_json::to_value(p)
                    .unwrap()
                    .as_str()
                    .unwrap()
                    .to_string()
            })
            .collect();
        assert_eq!(
            names,
            [
                "Environment",
                "Profile",
                "WebIdentityToken",
                "EcsContainer",
                "Ec2InstanceMetadata"
            ]
        );
        for p in Provider::CHAIN {
            assert_eq!(serde_json::to_value(p).unwrap(), p.as_str());
        }
    }

    #[test]
    fn statuses_serialise_as_before() {
        let all = [
            (ProviderStatus::Supplied, "supplied"),
            (ProviderStatus::NotConfigured, "not_configured"),
            (ProviderStatus::Failed, "failed"),
            (ProviderStatus::Disabled, "disabled"),
            (ProviderStatus::NotTried, "not_tried"),
        ];
        for (status, name) in all {
            assert_eq!(serde_json::to_value(status).unwrap(), name);
            assert_eq!(status.as_str(), name);
        }
        assert_eq!(format!("[{:<10}]", ProviderStatus::Failed), "[failed    ]");
    }

    #[test]
    fn step_json_keeps_its_shape() {
        let step = ProviderStep {
            provider: Provider::EcsContainer,
            status: ProviderStatus::NotConfigured,
            detail: "x".into(),
        };
        assert_eq!(
            serde_json::to_string(&step).unwrap(),
            r#"{"provider":"EcsContainer","status":"not_configured","detail":"x"}"#
        );
    }
}
