//! The findings: what is most likely wrong, in order of likelihood, each with
//! what to do. Computed from a report and a few facts the report's JSON must
//! not hold (unmasked keys) or does not (the environment).

use super::chain::{ProfileAbsence, Provider, ProviderStatus, Winner};
use super::report::{DoctorReport, Finding, FindingKind, Severity};
use crate::classify::Class;
use crate::config::DEFAULT_EXPIRY_WARNING_SECONDS;
use crate::report::Outcome;

/// Clock skew beyond which signatures are rejected (AWS allows 5 minutes).
const MAX_CLOCK_SKEW_SECONDS: i64 = 240;

/// What the findings need beyond the report.
#[derive(Debug, Clone, Copy, Default)]
pub struct Facts<'a> {
    /// Whether `AWS_PROFILE` is set.
    pub aws_profile_set: bool,
    /// The credentials that won, unmasked.
    pub winner: Option<&'a Winner>,
    /// Set when the profile provider had nothing because the profile does
    /// not exist.
    pub profile_absence: Option<ProfileAbsence>,
    /// Set when only one of the access-key variables is set: the problem.
    pub partial_credentials: Option<&'a str>,
    /// Set when the web identity token file does not exist: the problem.
    pub web_identity_missing: Option<&'a str>,
    /// `AWS_REGION`, as set.
    pub aws_region: Option<&'a str>,
    /// `AWS_DEFAULT_REGION`, as set.
    pub aws_default_region: Option<&'a str>,
}

/// Findings, most likely cause first.
pub fn findings(r: &DoctorReport, facts: &Facts<'_>) -> Vec<Finding> {
    let mut out: Vec<Finding> = environment_findings(r, facts);
    out.extend(profile_finding(r, facts));
    out.extend(winner_findings(r, facts));
    out.extend(identity_finding(r));
    out.extend(expiry_finding(r));
    out.extend(clock_skew_finding(r));
    out.extend(table_finding(r));
    out.extend(region_finding(facts));
    if let Some(f) = endpoint_override_finding(r) {
        // When the service did not answer, the override is the likeliest cause.
        if f.severity == Severity::Problem {
            out.insert(0, f);
        } else {
            out.push(f);
        }
    }
    out
}

/// What the environment gets wrong before any provider runs: keys set in
/// part (other SDKs stop there; this one moves on), a token file that is not
/// there.
fn environment_findings(r: &DoctorReport, facts: &Facts<'_>) -> Vec<Finding> {
    let mut out = Vec::new();
    if let Some(problem) = facts.partial_credentials {
        let next = match facts.winner {
            Some(w) => format!(
                "; the Rust SDK moves on and uses {} from {}",
                r.credentials
                    .as_ref()
                    .map_or("other credentials", |c| c.access_key_id.as_str()),
                w.provider.as_str()
            ),
            None => "; no later provider supplies credentials either".to_string(),
        };
        out.push(Finding::problem(
            FindingKind::PartialCredentials,
            Class::CredentialsError,
            format!("{problem}{next}"),
            "set both AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY from the same credentials, or unset both",
        ));
    }
    if let Some(problem) = facts.web_identity_missing {
        out.push(Finding::problem(
            FindingKind::WebIdentityTokenMissing,
            Class::CredentialsError,
            problem.to_string(),
            "check the projected service account token volume (EKS IRSA) or the CI's OIDC token step, or unset AWS_WEB_IDENTITY_TOKEN_FILE",
        ));
    }
    out
}

/// botocore and AWS CLI v1 read only `AWS_DEFAULT_REGION`; the Rust SDK
/// prefers `AWS_REGION`.
fn region_finding(facts: &Facts<'_>) -> Option<Finding> {
    let region = facts.aws_region?;
    match facts.aws_default_region {
        Some(d) if d == region => None,
        Some(d) => Some(Finding::problem(
            FindingKind::RegionForOtherSdks,
            Class::NotFound,
            format!("AWS_REGION={region} but AWS_DEFAULT_REGION={d}: this canary and the other Rust, Go and Java SDKs use {region}, while boto3/botocore and AWS CLI v1 on this host use {d}"),
            "set both to the same region",
        )),
        None => Some(Finding {
            kind: FindingKind::RegionForOtherSdks,
            class: Class::NotFound,
            severity: Severity::Note,
            problem: format!("only AWS_REGION={region} is set: boto3/botocore and AWS CLI v1 on this host read AWS_DEFAULT_REGION and would use their profile's region, or none"),
            action: format!("set AWS_DEFAULT_REGION={region} too if Python or AWS CLI v1 applications run here"),
        }),
    }
}

fn profile_finding(r: &DoctorReport, facts: &Facts<'_>) -> Option<Finding> {
    let step = r.chain.iter().find(|s| s.provider == Provider::Profile)?;
    if facts.aws_profile_set
        && step.status != ProviderStatus::Supplied
        && facts.profile_absence.is_some()
    {
        Some(Finding::problem(
            FindingKind::ProfileMissing,
            Class::CredentialsError,
            format!("AWS_PROFILE names profile \"{}\", which does not exist in the config or credentials file", r.profile),
            "fix AWS_PROFILE, or add the profile to ~/.aws/config (AWS_CONFIG_FILE) or ~/.aws/credentials (AWS_SHARED_CREDENTIALS_FILE)",
        ))
    } else if step.status == ProviderStatus::Failed {
        Some(Finding::problem(
            FindingKind::ProfileBroken,
            Class::CredentialsError,
            format!(
                "profile \"{}\" is configured but failed: {}",
                r.profile, step.detail
            ),
            Class::CredentialsError.hint(),
        ))
    } else {
        None
    }
}

fn winner_findings(r: &DoctorReport, facts: &Facts<'_>) -> Vec<Finding> {
    let Some(winner) = facts.winner else {
        return vec![Finding::problem(
            FindingKind::NoCredentials,
            Class::CredentialsMissing,
            "no provider in the chain supplied credentials (see the chain above for each one's reason)".into(),
            Class::CredentialsMissing.hint(),
        )];
    };
    let mut out = Vec::new();
    if winner.provider == Provider::Environment && facts.aws_profile_set {
        out.push(Finding::problem(
            FindingKind::EnvOverridesProfile,
            Class::IdentityMismatch,
            format!("AWS_PROFILE={} is set, but keys in AWS_ACCESS_KEY_ID win: the profile is not used", r.profile),
            "unset AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY/AWS_SESSION_TOKEN to use the profile, or unset AWS_PROFILE",
        ));
    }
    let key = winner.credentials.access_key_id();
    let token = winner.credentials.session_token().is_some();
    if key.starts_with("AKIA") && token {
        out.push(Finding::problem(
            FindingKind::TokenWithLongTermKey,
            Class::AuthInvalidToken,
            "a session token is set together with a long-term (AKIA) access key: a leftover AWS_SESSION_TOKEN makes AWS reject the request".into(),
            "unset AWS_SESSION_TOKEN, or set all three values from the same temporary credentials",
        ));
    }
    if key.starts_with("ASIA") && !token {
        out.push(Finding::problem(
            FindingKind::TemporaryKeyWithoutToken,
            Class::AuthInvalidToken,
            "a temporary (ASIA) access key has no session token".into(),
            "set AWS_SESSION_TOKEN from the same credentials",
        ));
    }
    out
}

fn identity_finding(r: &DoctorReport) -> Option<Finding> {
    let id = r.identity.as_ref().filter(|id| id.outcome != Outcome::Ok)?;
    Some(Finding::problem(
        FindingKind::Identity(id.class),
        id.class,
        format!(
            "GetCallerIdentity failed: {}{}",
            id.code
                .as_deref()
                .map(|c| format!("{c}: "))
                .unwrap_or_default(),
            id.message.as_deref().unwrap_or("")
        ),
        id.class.hint(),
    ))
}

fn expiry_finding(r: &DoctorReport) -> Option<Finding> {
    let left = r.credentials.as_ref()?.expires_in_seconds?;
    if left <= 0 {
        Some(Finding::problem(
            FindingKind::CredentialsExpired,
            Class::AuthExpired,
            format!("the credentials expired {} s ago", -left),
            Class::AuthExpired.hint(),
        ))
    } else if left < DEFAULT_EXPIRY_WARNING_SECONDS as i64 {
        Some(Finding::problem(
            FindingKind::CredentialsExpiring,
            Class::CredentialsExpiring,
            format!("the credentials expire in {left} s"),
            Class::CredentialsExpiring.hint(),
        ))
    } else {
        None
    }
}

fn clock_skew_finding(r: &DoctorReport) -> Option<Finding> {
    let skew = r
        .clock_skew_seconds
        .filter(|s| s.abs() > MAX_CLOCK_SKEW_SECONDS)?;
    Some(Finding::problem(
        FindingKind::ClockSkew,
        Class::AuthClockSkew,
        format!(
            "the local clock is {} s {} the service's",
            skew.abs(),
            if skew > 0 { "behind" } else { "ahead of" }
        ),
        Class::AuthClockSkew.hint(),
    ))
}

fn table_finding(r: &DoctorReport) -> Option<Finding> {
    let p = r
        .table_probe
        .as_ref()
        .filter(|p| p.outcome != Outcome::Ok)?;
    Some(Finding::problem(
        FindingKind::Table(p.class),
        p.class,
        format!(
            "DescribeTable {} in {}: {}",
            p.id.table,
            p.id.region,
            p.message.as_deref().unwrap_or("")
        ),
        p.class.hint(),
    ))
}

/// A problem when the service did not answer properly (the override is then
/// the likeliest cause), otherwise a note.
fn endpoint_override_finding(r: &DoctorReport) -> Option<Finding> {
    if r.endpoint_overrides.is_empty() {
        return None;
    }
    let list: Vec<String> = r
        .endpoint_overrides
        .iter()
        .map(|o| format!("{}={} ({})", o.source, o.url, o.service))
        .collect();
    let action = "unset the override unless you mean to use a local or private endpoint (DynamoDB Local, a VPC endpoint); requests are not going to AWS's public endpoint";
    let unreachable = r.identity.as_ref().is_some_and(|i| {
        matches!(
            i.class,
            Class::EndpointUnreachable | Class::Timeout | Class::AuthMissingToken | Class::NotAws
        )
    }) || r
        .table_probe
        .as_ref()
        .is_some_and(|p| p.class == Class::NotAws);
    Some(if unreachable {
        Finding::problem(
            FindingKind::EndpointOverride,
            Class::EndpointUnreachable,
            format!(
                "endpoint override in effect and the service did not answer properly: {}",
                list.join(", ")
            ),
            action,
        )
    } else {
        Finding {
            kind: FindingKind::EndpointOverride,
            class: Class::Other,
            severity: Severity::Note,
            problem: format!("endpoint override in effect: {}", list.join(", ")),
            action: action.into(),
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::aws::endpoints::EndpointOverride;
    use crate::config::{Expectation, ProbeKind};
    use crate::doctor::chain::ProviderStep;
    use crate::report::{IdentityReport, ProbeResult};
    use aws_credential_types::Credentials;

    fn step(provider: Provider, status: ProviderStatus, detail: &str) -> ProviderStep {
        ProviderStep {
            provider,
            status,
            detail: detail.into(),
        }
    }

    fn report() -> DoctorReport {
        DoctorReport {
            chain: vec![
                step(
                    Provider::Environment,
                    ProviderStatus::NotConfigured,
                    "no env",
                ),
                step(
                    Provider::Profile,
                    ProviderStatus::NotConfigured,
                    "no profile",
                ),
            ],
            credentials: None,
            profile: "prod-typo".into(),
            region: None,
            endpoint_overrides: Vec::new(),
            clock_skew_seconds: None,
            identity: None,
            table_probe: None,
            findings: Vec::new(),
            trust_roots: None,
            proxies: Vec::new(),
        }
    }

    fn winner(provider: Provider, key: &str, token: Option<&str>) -> Winner {
        Winner {
            provider,
            credentials: Credentials::new(key, "secret", token.map(String::from), None, "test"),
        }
    }

    fn ids(f: &[Finding]) -> Vec<String> {
        f.iter().map(|f| f.kind.id().into_owned()).collect()
    }

    #[test]
    fn ids_serialise_as_before() {
        let cases = [
            (FindingKind::Configuration, "configuration"),
            (FindingKind::ProfileMissing, "profile_missing"),
            (FindingKind::ProfileBroken, "profile_broken"),
            (FindingKind::NoCredentials, "no_credentials"),
            (FindingKind::EnvOverridesProfile, "env_overrides_profile"),
            (
                FindingKind::TokenWithLongTermKey,
                "token_with_long_term_key",
            ),
            (
                FindingKind::TemporaryKeyWithoutToken,
                "temporary_key_without_token",
            ),
            (
                FindingKind::Identity(Class::AuthInvalidToken),
                "auth_invalid_token",
            ),
            (FindingKind::CredentialsExpired, "credentials_expired"),
            (FindingKind::CredentialsExpiring, "credentials_expiring"),
            (FindingKind::ClockSkew, "clock_skew"),
            (
                FindingKind::Table(Class::AccessDenied),
                "table_access_denied",
            ),
            (FindingKind::EndpointOverride, "endpoint_override"),
        ];
        for (kind, id) in cases {
            assert_eq!(serde_json::to_value(kind).unwrap(), id);
        }
        let f = Finding::problem(
            FindingKind::ClockSkew,
            Class::AuthClockSkew,
            "p".into(),
            "a",
        );
        assert_eq!(
            serde_json::to_string(&f).unwrap(),
            r#"{"id":"clock_skew","class":"auth_clock_skew","severity":"problem","problem":"p","action":"a"}"#
        );
    }

    #[test]
    fn a_missing_profile_comes_first_and_only_when_aws_profile_is_set() {
        let r = report();
        let facts = Facts {
            aws_profile_set: true,
            winner: None,
            profile_absence: Some(ProfileAbsence::MissingProfile),
            ..Facts::default()
        };
        let f = findings(&r, &facts);
        assert_eq!(ids(&f), ["profile_missing", "no_credentials"]);
        assert!(f[0].problem.contains("\"prod-typo\""));
        let unset = Facts {
            aws_profile_set: false,
            ..facts
        };
        assert_eq!(ids(&findings(&r, &unset)), ["no_credentials"]);
        let present = Facts {
            profile_absence: None,
            ..facts
        };
        assert_eq!(ids(&findings(&r, &present)), ["no_credentials"]);
    }

    #[test]
    fn a_failed_profile_is_broken_with_its_detail() {
        let mut r = report();
        r.chain[1] = step(Provider::Profile, ProviderStatus::Failed, "sso expired");
        let f = findings(&r, &Facts::default());
        assert_eq!(ids(&f), ["profile_broken", "no_credentials"]);
        assert_eq!(
            f[0].problem,
            "profile \"prod-typo\" is configured but failed: sso expired"
        );
        assert_eq!(f[0].severity, Severity::Problem);
    }

    #[test]
    fn key_and_token_mismatches() {
        let r = report();
        let akia = winner(Provider::Environment, "AKIAIOSFODNN7EXAMPLE", Some("tok"));
        let facts = Facts {
            aws_profile_set: true,
            winner: Some(&akia),
            profile_absence: None,
            ..Facts::default()
        };
        assert_eq!(
            ids(&findings(&r, &facts)),
            ["env_overrides_profile", "token_with_long_term_key"]
        );
        let asia = winner(Provider::Profile, "ASIAIOSFODNN7EXAMPLE", None);
        let facts = Facts {
            winner: Some(&asia),
            ..Facts::default()
        };
        assert_eq!(ids(&findings(&r, &facts)), ["temporary_key_without_token"]);
    }

    #[test]
    fn failed_identity_table_expiry_and_skew() {
        let mut r = report();
        r.identity = Some(IdentityReport {
            outcome: Outcome::Fail,
            class: Class::AuthExpired,
            code: Some("ExpiredToken".into()),
            message: Some("gone".into()),
            ..IdentityReport::default()
        });
        r.table_probe = Some(ProbeResult {
            outcome: Outcome::Fail,
            class: Class::NotFound,
            message: Some("no such table".into()),
            ..ProbeResult::ok(
                crate::report::ProbeId {
                    table: crate::config::TableRef::parse("orders").unwrap(),
                    region: crate::config::Region::parse("eu-west-1").unwrap(),
                    probe: ProbeKind::Describe,
                    expect: Expectation::Allow,
                },
                1.0,
            )
        });
        r.clock_skew_seconds = Some(-300);
        r.credentials = Some(super::super::CredentialSummary {
            provider: Provider::Environment,
            access_key_id: "ASIA****".into(),
            temporary: true,
            expires_in_seconds: Some(-5),
        });
        let w = winner(Provider::Environment, "ASIAIOSFODNN7EXAMPLE", Some("t"));
        let facts = Facts {
            winner: Some(&w),
            ..Facts::default()
        };
        let f = findings(&r, &facts);
        assert_eq!(
            ids(&f),
            [
                "auth_expired",
                "credentials_expired",
                "clock_skew",
                "table_not_found"
            ]
        );
        assert_eq!(f[0].problem, "GetCallerIdentity failed: ExpiredToken: gone");
        assert_eq!(f[1].problem, "the credentials expired 5 s ago");
        assert_eq!(
            f[2].problem,
            "the local clock is 300 s ahead of the service's"
        );
        assert_eq!(
            f[3].problem,
            "DescribeTable orders in eu-west-1: no such table"
        );
    }

    #[test]
    fn endpoint_override_is_a_note_unless_the_service_did_not_answer() {
        let mut r = report();
        r.endpoint_overrides = vec![EndpointOverride {
            service: "all".into(),
            url: "http://127.0.0.1:9".into(),
            source: "--endpoint-url".into(),
        }];
        let w = winner(Provider::Environment, "AKIAIOSFODNN7EXAMPLE", None);
        let facts = Facts {
            winner: Some(&w),
            ..Facts::default()
        };
        let f = findings(&r, &facts);
        assert_eq!(ids(&f), ["endpoint_override"]);
        assert_eq!(f[0].severity, Severity::Note);
        assert_eq!(f[0].class, Class::Other);
        r.identity = Some(IdentityReport {
            outcome: Outcome::Fail,
            class: Class::EndpointUnreachable,
            ..IdentityReport::default()
        });
        let f = findings(&r, &facts);
        assert_eq!(ids(&f), ["endpoint_override", "endpoint_unreachable"]);
        assert_eq!(f[0].severity, Severity::Problem);
        assert!(f[0]
            .problem
            .contains("--endpoint-url=http://127.0.0.1:9 (all)"));
    }

    #[test]
    fn partial_keys_web_identity_and_regions() {
        let r = report();
        let facts = Facts {
            partial_credentials: Some("AWS_ACCESS_KEY_ID is set but AWS_SECRET_ACCESS_KEY is not"),
            web_identity_missing: Some(
                "AWS_WEB_IDENTITY_TOKEN_FILE names /t, which does not exist",
            ),
            aws_region: Some("eu-west-1"),
            aws_default_region: Some("us-east-1"),
            ..Facts::default()
        };
        let f = findings(&r, &facts);
        assert_eq!(
            ids(&f),
            [
                "partial_credentials",
                "web_identity_token_missing",
                "no_credentials",
                "region_for_other_sdks"
            ]
        );
        assert!(
            f[0].problem.contains("no later provider"),
            "{}",
            f[0].problem
        );
        assert!(f[1].problem.contains("/t"));
        let region = &f[3];
        assert_eq!(region.severity, Severity::Problem);
        assert!(
            region
                .problem
                .contains("boto3/botocore and AWS CLI v1 on this host use us-east-1"),
            "{}",
            region.problem
        );
        let only = Facts {
            aws_region: Some("eu-west-1"),
            ..Facts::default()
        };
        let f = findings(&r, &only);
        let note = f
            .iter()
            .find(|x| x.kind == FindingKind::RegionForOtherSdks)
            .unwrap();
        assert_eq!(note.severity, Severity::Note);
        let same = Facts {
            aws_region: Some("eu-west-1"),
            aws_default_region: Some("eu-west-1"),
            ..Facts::default()
        };
        assert!(!ids(&findings(&r, &same)).contains(&"region_for_other_sdks".to_string()));
    }
}
