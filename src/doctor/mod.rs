//! `doctor`: where do my credentials come from, and what is wrong with them?
//! Walks the standard provider chain in its real order, reports the region,
//! endpoint overrides and clock skew, checks the identity and optionally one
//! table, and ends with findings in order of likelihood.
//!
//! [`diagnose`] returns data only; the command line renders and prints it
//! and chooses the exit code from [`DoctorReport::has_problem`].

mod chain;
mod findings;
mod render;
mod report;
pub mod sdks;

pub use chain::{Provider, ProviderStatus, ProviderStep};
pub use render::render;
pub use report::{CredentialSummary, DoctorReport, Finding, FindingKind, Severity};

use crate::aws::endpoints::{endpoint_overrides, EndpointOverride};
use crate::aws::{AwsClients, ClientOptions};
use crate::classify::Class;
use crate::config::TableRef;
use crate::env::env_var;
use crate::probe::identity::check_identity;
use crate::probe::{run_chain, ChainSpec};
use crate::redact::mask_key_id;
use crate::report::ProbeResult;
use std::time::Duration;

/// Shortest timeout per call that `diagnose` uses.
const MIN_TIMEOUT: Duration = Duration::from_millis(50);
/// Longest timeout per call that `diagnose` uses.
const MAX_TIMEOUT: Duration = Duration::from_secs(60);

/// What to examine.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DoctorOptions {
    /// Profile to examine (default: `AWS_PROFILE` or "default").
    pub profile: Option<String>,
    /// Region (default: `AWS_REGION`, `AWS_DEFAULT_REGION` or the profile's).
    pub region: Option<String>,
    /// Also probe this table (DescribeTable).
    pub table: Option<TableRef>,
    /// Endpoint for every service.
    pub endpoint_url: Option<String>,
    /// Timeout per call, clamped to 50 ms ..= 60 s.
    pub timeout: Duration,
    /// Show only this SDK family (`--sdk`); all of them when `None`.
    pub sdk: Option<sdks::Sdk>,
}

/// Walks the chain, checks the identity (and the table), and adds the
/// findings. Prints nothing.
pub async fn diagnose(opts: &DoctorOptions) -> DoctorReport {
    let timeout = opts.timeout.clamp(MIN_TIMEOUT, MAX_TIMEOUT);
    let profile = opts
        .profile
        .clone()
        .or_else(|| env_var("AWS_PROFILE"))
        .unwrap_or_else(|| "default".to_string());
    let walk = chain::walk(&profile, timeout).await;
    let client_opts = ClientOptions {
        region: opts.region.clone(),
        endpoint_url: opts.endpoint_url.clone(),
        profile: opts.profile.clone(),
        credentials: None,
    };
    let mut report = DoctorReport {
        chain: walk.steps.clone(),
        credentials: walk.winner.as_ref().map(summarize),
        profile,
        region: None,
        endpoint_overrides: endpoint_overrides(client_opts.endpoint_url.as_deref()),
        clock_skew_seconds: None,
        identity: None,
        table_probe: None,
        findings: Vec::new(),
        trust_roots: None,
        proxies: Vec::new(),
        sdks: Vec::new(),
    };
    let config_error = match AwsClients::load(&client_opts).await {
        Err(e) => {
            let text = crate::error::chain(&e);
            report.findings.push(Finding::problem(
                FindingKind::Configuration,
                Class::Other,
                text.clone(),
                "fix the setting named above (region, endpoint or retry settings)",
            ));
            Some(text)
        }
        Ok(clients) => {
            report.region = Some(clients.region().clone());
            report.trust_roots = Some(clients.trust_roots().clone());
            report.proxies = crate::aws::proxy::routes(&endpoints(
                &report.endpoint_overrides,
                clients.region().region.as_str(),
            ));
            if walk.winner.is_some() {
                report.identity = Some(check_identity(clients.sts(), None, timeout).await);
                report.clock_skew_seconds = clients.clock_skew_seconds();
                if let Some(table) = &opts.table {
                    report.table_probe = probe_table(&clients, table, timeout).await;
                }
            }
            None
        }
    };
    let all = sdk_views(&report, &walk, config_error.as_deref(), timeout).await;
    let partial = crate::aws::credentials::partial_environment().map(|f| f.message);
    let web_identity = crate::aws::credentials::missing_web_identity_token();
    let (aws_region, aws_default_region) = (env_var("AWS_REGION"), env_var("AWS_DEFAULT_REGION"));
    // With --sdk, the findings compare that family with the canary only.
    let compared: Vec<sdks::SdkView> = all
        .iter()
        .filter(|v| {
            opts.sdk
                .is_none_or(|only| v.sdk == only || v.sdk == sdks::Sdk::Rust)
        })
        .cloned()
        .collect();
    let facts = findings::Facts {
        aws_profile_set: env_var("AWS_PROFILE").is_some(),
        winner: walk.winner.as_ref(),
        profile_absence: walk.profile_absence,
        partial_credentials: partial.as_deref(),
        web_identity_missing: web_identity.as_deref(),
        aws_region: aws_region.as_deref(),
        aws_default_region: aws_default_region.as_deref(),
        sdks: &compared,
    };
    let found = findings::findings(&report, &facts);
    report.findings.extend(found);
    report.sdks = match opts.sdk {
        Some(only) => all.into_iter().filter(|v| v.sdk == only).collect(),
        None => all,
    };
    report
}

/// What each family's default client would do here: the Rust family from
/// the walk (the canary's own chain), the others from their tables.
async fn sdk_views(
    report: &DoctorReport,
    walk: &chain::ChainWalk,
    config_error: Option<&str>,
    timeout: Duration,
) -> Vec<sdks::SdkView> {
    use sdks::{CredentialSource, Sdk, Stop, StopAt};
    let host = sdks::Host::from_process();
    // A credential_process gives its key only when run: the canary's walk
    // ran it when the profile won; else ask the profile provider alone.
    let profile = host.profile_name().to_string();
    let process_key = if host.key(&profile, "credential_process").is_none() {
        None
    } else if let Some(w) = walk
        .winner
        .as_ref()
        .filter(|w| w.provider == Provider::Profile)
    {
        Some(mask_key_id(w.credentials.access_key_id()))
    } else {
        chain::profile_credentials(&profile, timeout)
            .await
            .map(|c| mask_key_id(c.access_key_id()))
    };
    let mut views: Vec<sdks::SdkView> = sdks::TABLES
        .iter()
        .map(|t| sdks::predict(t, &host, process_key.as_deref()))
        .collect();
    if let Some(rust) = views.iter_mut().find(|v| v.sdk == Sdk::Rust) {
        let source = |p: Provider| match p {
            Provider::Environment => CredentialSource::Environment,
            Provider::Profile => CredentialSource::Profile,
            Provider::WebIdentityToken => CredentialSource::WebIdentity,
            Provider::EcsContainer => CredentialSource::Container,
            Provider::Ec2InstanceMetadata => CredentialSource::InstanceMetadata,
        };
        let same_kind = |c: &sdks::CredentialView, p: Provider| match p {
            Provider::Profile => c.profile.is_some() && c.source != CredentialSource::WebIdentity,
            other => c.source == source(other),
        };
        rust.credentials = walk.winner.as_ref().map(|w| {
            let mut c = rust
                .credentials
                .clone()
                .filter(|c| same_kind(c, w.provider))
                .unwrap_or_else(|| sdks::bare(source(w.provider)));
            if c.role_arn.is_none() {
                c.access_key_id = Some(mask_key_id(w.credentials.access_key_id()));
            }
            c
        });
        rust.region = report.region.as_ref().map(|r| sdks::RegionView {
            region: r.region.to_string(),
            source: r.source.clone(),
        });
        rust.stop = match (config_error, &walk.winner) {
            (Some(e), _) => Some(Stop {
                at: StopAt::Region,
                sdk_says: e.to_string(),
                why: "the canary's region or endpoint settings are unusable".into(),
                fix: "fix the setting named (set AWS_REGION, or region in the profile)".into(),
            }),
            (None, None) => {
                let why: Vec<String> = walk
                    .steps
                    .iter()
                    .map(|s| format!("{}: {}", s.provider, s.status))
                    .collect();
                Some(Stop {
                    at: StopAt::Credentials,
                    sdk_says: sdks::table(Sdk::Rust).no_credentials().to_string(),
                    why: why.join(", "),
                    fix: Class::CredentialsMissing.hint().to_string(),
                })
            }
            (None, Some(_)) => None,
        };
    }
    views
}

/// One DescribeTable in the clients' region.
async fn probe_table(
    clients: &AwsClients,
    table: &TableRef,
    timeout: Duration,
) -> Option<ProbeResult> {
    let region = clients.region().region.clone();
    let client = clients.dynamodb(region.as_str());
    let spec = ChainSpec::describe_only(table.clone(), region, timeout);
    run_chain(&client, &spec).await.into_iter().next()
}

/// The endpoint each service of a run uses: its override, else the one
/// for every service, else AWS's public endpoint in `region`.
fn endpoints(overrides: &[EndpointOverride], region: &str) -> Vec<(String, String)> {
    [
        ("sts", "sts"),
        ("dynamodb", "dynamodb"),
        ("cloudwatch", "monitoring"),
    ]
    .into_iter()
    .map(|(service, host)| {
        let url = overrides
            .iter()
            .find(|o| o.service == service)
            .or_else(|| overrides.iter().find(|o| o.service == "all"))
            .map(|o| o.url.clone())
            .unwrap_or_else(|| format!("https://{host}.{region}.amazonaws.com"));
        (service.to_string(), url)
    })
    .collect()
}

fn summarize(w: &chain::Winner) -> CredentialSummary {
    let c = &w.credentials;
    CredentialSummary {
        provider: w.provider,
        access_key_id: mask_key_id(c.access_key_id()),
        temporary: c.session_token().is_some(),
        expires_in_seconds: c.expiry().map(crate::clock::seconds_from_now),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn report(findings: Vec<Finding>) -> DoctorReport {
        DoctorReport {
            chain: Vec::new(),
            credentials: None,
            profile: "default".into(),
            region: None,
            endpoint_overrides: Vec::new(),
            clock_skew_seconds: None,
            identity: None,
            table_probe: None,
            findings,
            trust_roots: None,
            proxies: Vec::new(),
            sdks: Vec::new(),
        }
    }

    fn note() -> Finding {
        Finding {
            severity: Severity::Note,
            ..Finding::problem(FindingKind::EndpointOverride, Class::Other, "n".into(), "a")
        }
    }

    #[test]
    fn notes_are_not_problems() {
        assert!(!report(Vec::new()).has_problem());
        assert!(!report(vec![note()]).has_problem());
        let p = Finding::problem(
            FindingKind::ClockSkew,
            Class::AuthClockSkew,
            "p".into(),
            "a",
        );
        assert!(report(vec![note(), p]).has_problem());
    }

    #[test]
    fn report_json_keeps_its_field_order() {
        let mut r = report(vec![note()]);
        r.credentials = Some(CredentialSummary {
            provider: Provider::Profile,
            access_key_id: "AKIA************MPLE".into(),
            temporary: false,
            expires_in_seconds: None,
        });
        let text = serde_json::to_string(&r).unwrap();
        assert!(text.starts_with(r#"{"chain":[],"credentials":{"provider":"Profile","access_key_id":"AKIA************MPLE","temporary":false,"expires_in_seconds":null},"profile":"default","region":null,"endpoint_overrides":[],"clock_skew_seconds":null,"identity":null,"table_probe":null,"findings":[{"id":"endpoint_override""#), "{text}");
    }
}
