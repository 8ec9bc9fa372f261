//! What `doctor` answers, as data: the chain walked, the credentials that
//! won, the settings in effect, the checks made and the findings, each
//! with its severity. Computed by `diagnose`, judged by `findings`, shown
//! by `render`.

use super::chain::{Provider, ProviderStep};
use super::sdks::{Sdk, SdkView};
use crate::aws::endpoints::EndpointOverride;
use crate::aws::proxy::ProxyRoute;
use crate::aws::region::RegionSource;
use crate::aws::trust::TrustRoots;
use crate::classify::Class;
use crate::report::{IdentityReport, ProbeResult};
use serde::{Serialize, Serializer};
use std::borrow::Cow;

/// The credentials that won.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct CredentialSummary {
    /// The provider that supplied them.
    pub provider: Provider,
    /// Access key id, masked.
    pub access_key_id: String,
    /// Whether a session token came with them.
    pub temporary: bool,
    /// Seconds to expiry, when known.
    pub expires_in_seconds: Option<i64>,
}

/// The doctor's report.
#[derive(Debug, Clone, Serialize)]
pub struct DoctorReport {
    /// The chain, provider by provider.
    pub chain: Vec<ProviderStep>,
    /// The winner.
    pub credentials: Option<CredentialSummary>,
    /// The profile examined and where its name came from.
    pub profile: String,
    /// The region and where it came from.
    pub region: Option<RegionSource>,
    /// Every endpoint override in effect.
    pub endpoint_overrides: Vec<EndpointOverride>,
    /// Server time minus local time, from STS's Date header.
    pub clock_skew_seconds: Option<i64>,
    /// GetCallerIdentity.
    pub identity: Option<IdentityReport>,
    /// The table probe, with --table.
    pub table_probe: Option<ProbeResult>,
    /// Findings, most likely first.
    pub findings: Vec<Finding>,
    /// The roots HTTPS trusts and where they came from.
    pub trust_roots: Option<TrustRoots>,
    /// The proxy (or none) each endpoint goes through.
    pub proxies: Vec<ProxyRoute>,
    /// What each SDK family's default client would do on this host (only
    /// the one `--sdk` names, when given).
    pub sdks: Vec<SdkView>,
}

impl DoctorReport {
    /// Whether any finding is a problem (notes are not).
    pub fn has_problem(&self) -> bool {
        self.findings
            .iter()
            .any(|f| f.severity == Severity::Problem)
    }
}

/// How much a finding matters.
#[derive(Debug, Clone, Copy, Serialize, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
pub enum Severity {
    /// Something is wrong: `doctor` exits 1.
    Problem,
    /// Worth knowing, not wrong in itself.
    Note,
}

impl std::fmt::Display for Severity {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Severity::Problem => "problem",
            Severity::Note => "note",
        })
    }
}

/// What a finding is about; serialised as its stable id.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FindingKind {
    /// The region or endpoint settings are unusable (`configuration`).
    Configuration,
    /// `AWS_PROFILE` names a profile that does not exist (`profile_missing`).
    ProfileMissing,
    /// The profile exists but its provider failed (`profile_broken`).
    ProfileBroken,
    /// No provider supplied credentials (`no_credentials`).
    NoCredentials,
    /// Environment keys win over `AWS_PROFILE` (`env_overrides_profile`).
    EnvOverridesProfile,
    /// A session token with an AKIA key (`token_with_long_term_key`).
    TokenWithLongTermKey,
    /// An ASIA key without its token (`temporary_key_without_token`).
    TemporaryKeyWithoutToken,
    /// GetCallerIdentity failed: the id is the class itself.
    Identity(Class),
    /// The credentials have expired (`credentials_expired`).
    CredentialsExpired,
    /// The credentials expire soon (`credentials_expiring`).
    CredentialsExpiring,
    /// The local clock is off (`clock_skew`).
    ClockSkew,
    /// The table probe failed: the id is `table_` and the class.
    Table(Class),
    /// An endpoint override is in effect (`endpoint_override`).
    EndpointOverride,
    /// Only one of the access-key variables is set (`partial_credentials`).
    PartialCredentials,
    /// The web identity token file does not exist (`web_identity_token_missing`).
    WebIdentityTokenMissing,
    /// Other SDKs on this host would use another region, or none
    /// (`region_for_other_sdks`).
    RegionForOtherSdks,
    /// SDK families on this host would run as different identities
    /// (`sdks_disagree_on_identity`).
    SdksDisagreeOnIdentity,
    /// A family's default client would stop where another would not
    /// (`sdk_stops_<family>`).
    SdkStops(Sdk),
}

impl FindingKind {
    /// The stable id, as in the JSON.
    pub fn id(self) -> Cow<'static, str> {
        Cow::Borrowed(match self {
            FindingKind::Configuration => "configuration",
            FindingKind::ProfileMissing => "profile_missing",
            FindingKind::ProfileBroken => "profile_broken",
            FindingKind::NoCredentials => "no_credentials",
            FindingKind::EnvOverridesProfile => "env_overrides_profile",
            FindingKind::TokenWithLongTermKey => "token_with_long_term_key",
            FindingKind::TemporaryKeyWithoutToken => "temporary_key_without_token",
            FindingKind::Identity(class) => class.as_str(),
            FindingKind::CredentialsExpired => "credentials_expired",
            FindingKind::CredentialsExpiring => "credentials_expiring",
            FindingKind::ClockSkew => "clock_skew",
            FindingKind::Table(class) => return Cow::Owned(format!("table_{class}")),
            FindingKind::EndpointOverride => "endpoint_override",
            FindingKind::PartialCredentials => "partial_credentials",
            FindingKind::WebIdentityTokenMissing => "web_identity_token_missing",
            FindingKind::RegionForOtherSdks => "region_for_other_sdks",
            FindingKind::SdksDisagreeOnIdentity => "sdks_disagree_on_identity",
            FindingKind::SdkStops(sdk) => return Cow::Owned(format!("sdk_stops_{sdk}")),
        })
    }
}

impl Serialize for FindingKind {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&self.id())
    }
}

/// A finding: something likely wrong, and what to do about it.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct Finding {
    /// What it is about, serialised as its stable id.
    #[serde(rename = "id")]
    pub kind: FindingKind,
    /// The related class.
    pub class: Class,
    /// Whether it is a problem or a note.
    pub severity: Severity,
    /// What is wrong.
    pub problem: String,
    /// What to do.
    pub action: String,
}

impl Finding {
    /// A finding that is a problem.
    pub fn problem(kind: FindingKind, class: Class, problem: String, action: &str) -> Finding {
        Finding {
            kind,
            class,
            severity: Severity::Problem,
            problem,
            action: action.to_string(),
        }
    }
}
