//! The findings: what is most likely wrong, in order of likelihood, each with
//! what to do. Computed from a report and a few facts the report's JSON must
//! not hold (unmasked keys) or does not (the environment).

use super::chain::{ProfileAbsence, Provider, ProviderStatus, Winner};
use super::report::{DoctorReport, Finding, FindingKind, Severity};
use super::sdks::{Basis, CredentialSource, Sdk, SdkView, StopAt};
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
    /// What each SDK family compared would do (see `sdks`).
    pub sdks: &'a [SdkView],
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
    out.extend(identity_split_finding(facts));
    out.extend(sdk_stop_findings(facts));
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
        let (stop, skip): (Vec<&SdkView>, Vec<&SdkView>) = facts
            .sdks
            .iter()
            .filter(|v| v.sdk != Sdk::Rust)
            .partition(|v| v.stop.as_ref().is_some_and(|s| s.at == StopAt::Credentials));
        let others = match (names(&stop), names(&skip)) {
            (a, b) if a.is_empty() && b.is_empty() => String::new(),
            (a, b) if b.is_empty() => format!("; these stop too: {a}"),
            (a, b) if a.is_empty() => format!("; these move on as the Rust SDK does: {b}"),
            (a, b) => format!("; these stop too: {a}; these move on: {b}"),
        };
        out.push(Finding::problem(
            FindingKind::PartialCredentials,
            Class::CredentialsError,
            format!("{problem}{next}{others}"),
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

/// The families' apps, named for a finding: "Node services (AWS SDK for
/// JavaScript v3), Go services (SDK v2, from documentation)".
fn names(views: &[&SdkView]) -> String {
    views
        .iter()
        .map(|v| {
            let t = super::sdks::table(v.sdk);
            if v.basis == Basis::Documentation {
                format!("{} (from documentation)", t.apps)
            } else {
                t.apps.to_string()
            }
        })
        .collect::<Vec<_>>()
        .join(", ")
}

/// Families that would use different regions: a problem, naming which
/// family uses which region and from where.
fn region_finding(facts: &Facts<'_>) -> Option<Finding> {
    let mut groups: Vec<(String, Vec<&SdkView>)> = Vec::new();
    for v in facts.sdks {
        let Some(r) = &v.region else { continue };
        let key = format!("{} ({})", r.region, r.source);
        match groups.iter_mut().find(|(k, _)| *k == key) {
            Some((_, g)) => g.push(v),
            None => groups.push((key, vec![v])),
        }
    }
    let regions: std::collections::BTreeSet<&str> = facts
        .sdks
        .iter()
        .filter_map(|v| v.region.as_ref().map(|r| r.region.as_str()))
        .collect();
    if regions.len() < 2 {
        return None;
    }
    let parts: Vec<String> = groups
        .iter()
        .map(|(key, g)| format!("{} use {key}", names(g)))
        .collect();
    let vars = match (facts.aws_region, facts.aws_default_region) {
        (Some(r), Some(d)) => format!("AWS_REGION={r} but AWS_DEFAULT_REGION={d}: "),
        _ => String::new(),
    };
    Some(Finding::problem(
        FindingKind::RegionForOtherSdks,
        Class::NotFound,
        format!("{vars}{}", parts.join("; ")),
        "set AWS_REGION and AWS_DEFAULT_REGION to the same region (and the profile's region, if set)",
    ))
}

/// Families whose default clients would run as different identities:
/// "your Node services run as X, your Python services as Y".
fn identity_split_finding(facts: &Facts<'_>) -> Option<Finding> {
    let mut groups: Vec<(String, String, Vec<&SdkView>)> = Vec::new();
    for v in facts.sdks {
        let Some(c) = &v.credentials else { continue };
        let id = c.identity();
        match groups.iter_mut().find(|(k, _, _)| *k == id) {
            Some((_, _, g)) => g.push(v),
            None => groups.push((id, c.describe(), vec![v])),
        }
    }
    if groups.len() < 2 {
        return None;
    }
    let parts: Vec<String> = groups
        .iter()
        .map(|(_, what, g)| format!("your {} run as {what}", names(g)))
        .collect();
    let sources: std::collections::BTreeSet<CredentialSource> = facts
        .sdks
        .iter()
        .filter_map(|v| v.credentials.as_ref().map(|c| c.source))
        .collect();
    let action = if sources.contains(&CredentialSource::Environment) && facts.aws_profile_set {
        "keep one source: unset AWS_PROFILE, or unset AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY/AWS_SESSION_TOKEN"
    } else {
        "keep one credential source on the host (see each SDK's source above)"
    };
    Some(Finding::problem(
        FindingKind::SdksDisagreeOnIdentity,
        Class::IdentityMismatch,
        format!(
            "the SDKs on this host would not run as one identity: {}",
            parts.join("; ")
        ),
        action,
    ))
}

/// A family that would stop where another would not: its own message,
/// why, and the fix. A missing region is a note (the host may run no such
/// application), and so is any stop read from documentation only.
fn sdk_stop_findings(facts: &Facts<'_>) -> Vec<Finding> {
    if facts.sdks.iter().all(|v| v.stop.is_some()) {
        return Vec::new();
    }
    facts
        .sdks
        .iter()
        .filter(|v| v.sdk != Sdk::Rust)
        .filter_map(|v| {
            let stop = v.stop.as_ref()?;
            let t = super::sdks::table(v.sdk);
            let class = match stop.at {
                StopAt::Region => Class::NotFound,
                StopAt::Credentials => Class::CredentialsError,
            };
            let note = stop.at == StopAt::Region || v.basis == Basis::Documentation;
            Some(Finding {
                kind: FindingKind::SdkStops(v.sdk),
                class,
                severity: if note {
                    Severity::Note
                } else {
                    Severity::Problem
                },
                problem: format!(
                    "a default {} client fails here with \"{}\": {}",
                    t.name, stop.sdk_says, stop.why
                ),
                action: stop.fix.clone(),
            })
        })
        .collect()
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
        let (env, profile): (Vec<&SdkView>, Vec<&SdkView>) = facts
            .sdks
            .iter()
            .filter(|v| v.credentials.is_some())
            .partition(|v| {
                v.credentials
                    .as_ref()
                    .is_some_and(|c| c.source == CredentialSource::Environment)
            });
        let who = if env.is_empty() {
            "this canary (the Rust SDK)".to_string()
        } else {
            names(&env)
        };
        let except = if profile.is_empty() {
            String::new()
        } else {
            format!(", while {} use the profile", names(&profile))
        };
        out.push(Finding::problem(
            FindingKind::EnvOverridesProfile,
            Class::IdentityMismatch,
            format!("AWS_PROFILE={} is set, but keys in AWS_ACCESS_KEY_ID win for {who}: the profile is not used by them{except}", r.profile),
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
            sdks: Vec::new(),
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

    fn views(env: &[(&str, &str)], credentials: &str) -> Vec<SdkView> {
        use crate::doctor::sdks::{predict, Host, TABLES};
        let env: Vec<(String, String)> = env
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .chain([("AWS_EC2_METADATA_DISABLED".into(), "true".into())])
            .collect();
        let host = Host::from_parts(&env, "", credentials);
        TABLES.iter().map(|t| predict(t, &host, None)).collect()
    }

    #[test]
    fn partial_keys_web_identity_and_regions() {
        let r = report();
        let v = views(
            &[
                ("AWS_ACCESS_KEY_ID", "AKIAPARTEXAMPLE00001"),
                ("AWS_REGION", "eu-west-1"),
                ("AWS_DEFAULT_REGION", "us-east-1"),
            ],
            "",
        );
        let facts = Facts {
            partial_credentials: Some("AWS_ACCESS_KEY_ID is set but AWS_SECRET_ACCESS_KEY is not"),
            web_identity_missing: Some(
                "AWS_WEB_IDENTITY_TOKEN_FILE names /t, which does not exist",
            ),
            aws_region: Some("eu-west-1"),
            aws_default_region: Some("us-east-1"),
            sdks: &v,
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
            f[0].problem.contains("no later provider")
                && f[0]
                    .problem
                    .contains("these stop too: Python services and AWS CLI v1"),
            "{}",
            f[0].problem
        );
        assert!(f[1].problem.contains("/t"));
        let region = &f[3];
        assert_eq!(region.severity, Severity::Problem);
        assert!(
            region
                .problem
                .contains("Python services and AWS CLI v1 use us-east-1 (AWS_DEFAULT_REGION)")
                && region
                    .problem
                    .contains("Node services (AWS SDK for JavaScript v3)"),
            "{}",
            region.problem
        );
        let same = views(
            &[
                ("AWS_REGION", "eu-west-1"),
                ("AWS_DEFAULT_REGION", "eu-west-1"),
            ],
            "",
        );
        let facts = Facts {
            sdks: &same,
            ..Facts::default()
        };
        assert!(!ids(&findings(&r, &facts)).contains(&"region_for_other_sdks".to_string()));
    }

    #[test]
    fn profile_and_keys_split_node_from_the_rest() {
        let r = report();
        let creds = "[prod]\naws_access_key_id = AKIAPRODEXAMPLE00002\naws_secret_access_key = s\n";
        let v = views(
            &[
                ("AWS_PROFILE", "prod"),
                ("AWS_ACCESS_KEY_ID", "AKIAENVEXAMPLE000001"),
                ("AWS_SECRET_ACCESS_KEY", "s"),
                ("AWS_DEFAULT_REGION", "eu-west-1"),
            ],
            creds,
        );
        let w = winner(Provider::Environment, "AKIAENVEXAMPLE000001", None);
        let facts = Facts {
            aws_profile_set: true,
            winner: Some(&w),
            sdks: &v,
            ..Facts::default()
        };
        let f = findings(&r, &facts);
        let by = |id: &str| {
            f.iter()
                .find(|x| x.kind.id() == id)
                .unwrap_or_else(|| panic!("{id}: {f:?}"))
        };
        let env = by("env_overrides_profile");
        assert!(
            env.problem
                .contains("while Node services (AWS SDK for JavaScript v3) use the profile"),
            "{}",
            env.problem
        );
        let split = by("sdks_disagree_on_identity");
        assert_eq!(split.severity, Severity::Problem);
        assert!(
            split.problem.contains(
                "your Node services (AWS SDK for JavaScript v3) run as the keys of profile \"prod\" (AKIA************0002)"
            ),
            "{}",
            split.problem
        );
        let js = by("sdk_stops_js");
        assert_eq!(js.severity, Severity::Note);
        assert!(
            js.problem
                .contains("\"Region is missing\": only AWS_DEFAULT_REGION=eu-west-1 is set"),
            "{}",
            js.problem
        );
        assert_eq!(js.action, "set AWS_REGION=eu-west-1 too");
    }
}
