//! `doctor`: where do my credentials come from, and what is wrong with them?
//! Walks the standard provider chain in its real order, reports the region,
//! endpoint overrides and clock skew, checks the identity and optionally one
//! table, and ends with findings in order of likelihood.

use crate::classify::{classify_credentials_error, Class};
use crate::clients::{endpoint_overrides, env_var, AwsClients, ClientOptions};
use crate::config::TableRef;
use crate::identity::check_identity;
use crate::probe::{run_chain, ChainSpec};
use crate::redact::mask_key_id;
use crate::report::{IdentityReport, Outcome, ProbeResult};
use aws_credential_types::provider::ProvideCredentials;
use aws_credential_types::Credentials;
use clap::Args;
use serde::Serialize;
use std::fmt::Write as _;
use std::time::Duration;

/// Arguments of `doctor`.
#[derive(Debug, Args)]
pub struct DoctorArgs {
    /// Profile to examine (default: AWS_PROFILE or "default").
    #[arg(long, value_name = "P")]
    pub profile: Option<String>,
    /// Region (default: AWS_REGION, AWS_DEFAULT_REGION or the profile's).
    #[arg(long, value_name = "R")]
    pub region: Option<String>,
    /// Also probe this table (DescribeTable) with the credentials found.
    #[arg(long, value_name = "NAME")]
    pub table: Option<String>,
    /// Endpoint for every service, as for `check`.
    #[arg(long, value_name = "URL")]
    pub endpoint_url: Option<String>,
    /// Output format.
    #[arg(long, value_enum, default_value = "human")]
    pub output: crate::cli::OutputFormat,
    /// Timeout per call in milliseconds.
    #[arg(long, value_name = "MS", default_value_t = 3_000)]
    pub timeout_ms: u64,
}

/// One provider of the chain.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct ProviderStep {
    /// Provider name, in chain order.
    pub provider: String,
    /// supplied, not_configured, failed, disabled, not_tried.
    pub status: String,
    /// Why it did or did not supply credentials.
    pub detail: String,
}

/// The credentials that won.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct CredentialSummary {
    /// The provider that supplied them.
    pub provider: String,
    /// Access key id, masked.
    pub access_key_id: String,
    /// Whether a session token came with them.
    pub temporary: bool,
    /// Seconds to expiry, when known.
    pub expires_in_seconds: Option<i64>,
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

/// A finding: something likely wrong, and what to do about it.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct Finding {
    /// Stable id.
    pub id: String,
    /// The related class.
    pub class: Class,
    /// Whether it is a problem or a note.
    pub severity: Severity,
    /// What is wrong.
    pub problem: String,
    /// What to do.
    pub action: String,
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
    pub region: Option<crate::clients::RegionSource>,
    /// Every endpoint override in effect.
    pub endpoint_overrides: Vec<crate::clients::EndpointOverride>,
    /// Server time minus local time, from STS's Date header.
    pub clock_skew_seconds: Option<i64>,
    /// GetCallerIdentity.
    pub identity: Option<IdentityReport>,
    /// The table probe, with --table.
    pub table_probe: Option<ProbeResult>,
    /// Findings, most likely first.
    pub findings: Vec<Finding>,
}

/// Runs `doctor`; exit 0 when no finding is a problem (notes allowed), 1
/// otherwise, 2 on usage errors.
pub async fn run(args: DoctorArgs) -> u8 {
    let timeout = Duration::from_millis(args.timeout_ms.clamp(50, 60_000));
    let profile = args
        .profile
        .clone()
        .or_else(|| env_var("AWS_PROFILE"))
        .unwrap_or_else(|| "default".to_string());
    let (chain, winner) = walk_chain(&profile, timeout).await;
    let opts = ClientOptions {
        region: args.region.clone(),
        endpoint_url: args.endpoint_url.clone(),
        profile: args.profile.clone(),
    };
    let overrides = endpoint_overrides(&opts);
    let mut report = DoctorReport {
        chain,
        credentials: winner.as_ref().map(summarize),
        profile: profile.clone(),
        region: None,
        endpoint_overrides: overrides,
        clock_skew_seconds: None,
        identity: None,
        table_probe: None,
        findings: Vec::new(),
    };
    match AwsClients::load(&opts).await {
        Err(e) => {
            report.findings.push(Finding {
                id: "configuration".into(),
                class: Class::Other,
                severity: Severity::Problem,
                problem: e.to_string(),
                action: "fix the region or endpoint setting named above".into(),
            });
        }
        Ok(clients) => {
            report.region = Some(clients.region().clone());
            if winner.is_some() {
                let id = check_identity(clients.sts(), None, timeout).await;
                report.clock_skew_seconds = clients.clock_skew_seconds();
                report.identity = Some(id);
                if let Some(table) = &args.table {
                    let region = clients.region().region.clone();
                    match TableRef::parse(table.as_str()) {
                        Ok(table) => {
                            let spec = ChainSpec::describe_only(table, region.clone(), timeout);
                            let client = clients.dynamodb(region.as_str());
                            report.table_probe = run_chain(&client, &spec).await.into_iter().next();
                        }
                        Err(message) => {
                            eprintln!("error: --table: {message}");
                            return crate::cli::EXIT_USAGE;
                        }
                    }
                }
            }
        }
    }
    report.findings.extend(findings(&report, winner.as_ref()));
    match args.output {
        crate::cli::OutputFormat::Json => match serde_json::to_string_pretty(&report) {
            Ok(s) => println!("{s}"),
            Err(e) => {
                eprintln!("error: cannot render the report: {e}");
                return crate::cli::EXIT_USAGE;
            }
        },
        crate::cli::OutputFormat::Human => print!("{}", render(&report)),
    }
    if report
        .findings
        .iter()
        .all(|f| f.severity != Severity::Problem)
    {
        crate::cli::EXIT_HEALTHY
    } else {
        crate::cli::EXIT_UNHEALTHY
    }
}

fn summarize(c: &(String, Credentials)) -> CredentialSummary {
    CredentialSummary {
        provider: c.0.clone(),
        access_key_id: mask_key_id(c.1.access_key_id()),
        temporary: c.1.session_token().is_some(),
        expires_in_seconds: c.1.expiry().map(crate::clock::seconds_from_now),
    }
}

/// Walks the default chain's providers in their real order, stopping at the
/// first that supplies credentials, as the SDK does. Instance metadata is
/// never contacted when `AWS_EC2_METADATA_DISABLED` is true.
async fn walk_chain(
    profile: &str,
    timeout: Duration,
) -> (Vec<ProviderStep>, Option<(String, Credentials)>) {
    use aws_config::{ecs, environment, imds, profile as prof, web_identity_token};
    let names = [
        "Environment",
        "Profile",
        "WebIdentityToken",
        "EcsContainer",
        "Ec2InstanceMetadata",
    ];
    let mut steps = Vec::new();
    let mut winner = None;
    for name in names {
        if winner.is_some() {
            steps.push(ProviderStep {
                provider: name.into(),
                status: "not_tried".into(),
                detail: "an earlier provider supplied credentials".into(),
            });
            continue;
        }
        if name == "Ec2InstanceMetadata"
            && env_var("AWS_EC2_METADATA_DISABLED").is_some_and(|v| v.eq_ignore_ascii_case("true"))
        {
            steps.push(ProviderStep {
                provider: name.into(),
                status: "disabled".into(),
                detail: "disabled by AWS_EC2_METADATA_DISABLED=true (not contacted)".into(),
            });
            continue;
        }
        let attempt = match name {
            "Environment" => {
                call(
                    environment::EnvironmentVariableCredentialsProvider::new(),
                    timeout,
                )
                .await
            }
            "Profile" => {
                call(
                    prof::ProfileFileCredentialsProvider::builder()
                        .profile_name(profile)
                        .build(),
                    timeout,
                )
                .await
            }
            "WebIdentityToken" => {
                call(
                    web_identity_token::WebIdentityTokenCredentialsProvider::builder().build(),
                    timeout,
                )
                .await
            }
            "EcsContainer" => call(ecs::EcsCredentialsProvider::builder().build(), timeout).await,
            _ => {
                call(
                    imds::credentials::ImdsCredentialsProvider::builder().build(),
                    timeout,
                )
                .await
            }
        };
        match attempt {
            Ok(c) => {
                steps.push(ProviderStep {
                    provider: name.into(),
                    status: "supplied".into(),
                    detail: format!("access key {}", mask_key_id(c.access_key_id())),
                });
                winner = Some((name.to_string(), c));
            }
            Err((status, detail)) => steps.push(ProviderStep {
                provider: name.into(),
                status,
                detail,
            }),
        }
    }
    (steps, winner)
}

async fn call(
    p: impl ProvideCredentials,
    timeout: Duration,
) -> Result<Credentials, (String, String)> {
    match tokio::time::timeout(timeout, p.provide_credentials()).await {
        Err(_) => Err((
            "failed".into(),
            format!("no answer within {} ms", timeout.as_millis()),
        )),
        Ok(Ok(c)) => Ok(c),
        Ok(Err(e)) => {
            let f = classify_credentials_error(&e);
            let status = if f.class == Class::CredentialsMissing {
                "not_configured"
            } else {
                "failed"
            };
            Err((status.into(), crate::classify::chain_text(&e)))
        }
    }
}

/// Findings, most likely cause first.
fn findings(r: &DoctorReport, winner: Option<&(String, Credentials)>) -> Vec<Finding> {
    let mut out = Vec::new();
    let mut add = |id: &str, class: Class, problem: String, action: &str| {
        out.push(Finding {
            id: id.into(),
            class,
            severity: Severity::Problem,
            problem,
            action: action.into(),
        })
    };
    let profile_step = r.chain.iter().find(|s| s.provider == "Profile");
    let profile_set = env_var("AWS_PROFILE").is_some();
    if let Some(step) = profile_step {
        let d = step.detail.to_ascii_lowercase();
        if profile_set
            && step.status != "supplied"
            && (d.contains("not defined")
                || d.contains("not found")
                || d.contains("does not exist")
                || d.contains("no profile"))
        {
            add("profile_missing", Class::CredentialsError, format!("AWS_PROFILE names profile \"{}\", which does not exist in the config or credentials file", r.profile), "fix AWS_PROFILE, or add the profile to ~/.aws/config (AWS_CONFIG_FILE) or ~/.aws/credentials (AWS_SHARED_CREDENTIALS_FILE)");
        } else if step.status == "failed" {
            add(
                "profile_broken",
                Class::CredentialsError,
                format!(
                    "profile \"{}\" is configured but failed: {}",
                    r.profile, step.detail
                ),
                Class::CredentialsError.hint(),
            );
        }
    }
    match winner {
        None => add("no_credentials", Class::CredentialsMissing, "no provider in the chain supplied credentials (see the chain above for each one's reason)".into(), Class::CredentialsMissing.hint()),
        Some((provider, creds)) => {
            if provider == "Environment" && profile_set {
                add("env_overrides_profile", Class::IdentityMismatch, format!("AWS_PROFILE={} is set, but keys in AWS_ACCESS_KEY_ID win: the profile is not used", r.profile), "unset AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY/AWS_SESSION_TOKEN to use the profile, or unset AWS_PROFILE");
            }
            let key = creds.access_key_id();
            if key.starts_with("AKIA") && creds.session_token().is_some() {
                add("token_with_long_term_key", Class::AuthInvalidToken, "a session token is set together with a long-term (AKIA) access key: a leftover AWS_SESSION_TOKEN makes AWS reject the request".into(), "unset AWS_SESSION_TOKEN, or set all three values from the same temporary credentials");
            }
            if key.starts_with("ASIA") && creds.session_token().is_none() {
                add("temporary_key_without_token", Class::AuthInvalidToken, "a temporary (ASIA) access key has no session token".into(), "set AWS_SESSION_TOKEN from the same credentials");
            }
        }
    }
    if let Some(id) = &r.identity {
        if id.outcome != Outcome::Ok {
            add(
                id.class.as_str(),
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
            );
        }
    }
    if let Some(c) = r.credentials.as_ref().and_then(|c| c.expires_in_seconds) {
        if c <= 0 {
            add(
                "credentials_expired",
                Class::AuthExpired,
                format!("the credentials expired {} s ago", -c),
                Class::AuthExpired.hint(),
            );
        } else if c < crate::config::DEFAULT_EXPIRY_WARNING_SECONDS as i64 {
            add(
                "credentials_expiring",
                Class::CredentialsExpiring,
                format!("the credentials expire in {c} s"),
                Class::CredentialsExpiring.hint(),
            );
        }
    }
    if let Some(skew) = r.clock_skew_seconds {
        if skew.abs() > 240 {
            add(
                "clock_skew",
                Class::AuthClockSkew,
                format!(
                    "the local clock is {} s {} the service's",
                    skew.abs(),
                    if skew > 0 { "behind" } else { "ahead of" }
                ),
                Class::AuthClockSkew.hint(),
            );
        }
    }
    if let Some(p) = &r.table_probe {
        if p.outcome != Outcome::Ok {
            add(
                &format!("table_{}", p.class),
                p.class,
                format!(
                    "DescribeTable {} in {}: {}",
                    p.id.table,
                    p.id.region,
                    p.message.as_deref().unwrap_or("")
                ),
                p.class.hint(),
            );
        }
    }
    let unreachable = r.identity.as_ref().is_some_and(|i| {
        matches!(
            i.class,
            Class::EndpointUnreachable | Class::Timeout | Class::AuthMissingToken
        )
    });
    if !r.endpoint_overrides.is_empty() {
        let list: Vec<String> = r
            .endpoint_overrides
            .iter()
            .map(|o| format!("{}={} ({})", o.source, o.url, o.service))
            .collect();
        let action = "unset the override unless you mean to use a local or private endpoint (DynamoDB Local, a VPC endpoint); requests are not going to AWS's public endpoint";
        if unreachable {
            out.insert(
                0,
                Finding {
                    id: "endpoint_override".into(),
                    class: Class::EndpointUnreachable,
                    severity: Severity::Problem,
                    problem: format!(
                        "endpoint override in effect and the service did not answer properly: {}",
                        list.join(", ")
                    ),
                    action: action.into(),
                },
            );
        } else {
            out.push(Finding {
                id: "endpoint_override".into(),
                class: Class::Other,
                severity: Severity::Note,
                problem: format!("endpoint override in effect: {}", list.join(", ")),
                action: action.into(),
            });
        }
    }
    out
}

fn render(r: &DoctorReport) -> String {
    let mut s = String::new();
    let _ = writeln!(s, "Credential provider chain (profile \"{}\"):", r.profile);
    for st in &r.chain {
        let _ = writeln!(s, "  {:<20} {:<15} {}", st.provider, st.status, st.detail);
    }
    match &r.credentials {
        Some(c) => {
            let _ = writeln!(
                s,
                "Credentials: {} from {}, {}{}",
                c.access_key_id,
                c.provider,
                if c.temporary {
                    "temporary"
                } else {
                    "long-term"
                },
                c.expires_in_seconds
                    .map(|e| format!(", expire in {e} s"))
                    .unwrap_or_default()
            );
        }
        None => {
            let _ = writeln!(s, "Credentials: none");
        }
    }
    match &r.region {
        Some(rs) => {
            let _ = writeln!(s, "Region: {} (from {})", rs.region, rs.source);
        }
        None => {
            let _ = writeln!(s, "Region: none");
        }
    }
    if r.endpoint_overrides.is_empty() {
        let _ = writeln!(s, "Endpoint overrides: none");
    }
    for o in &r.endpoint_overrides {
        let _ = writeln!(
            s,
            "Endpoint override: {} -> {} (from {})",
            o.service, o.url, o.source
        );
    }
    if let Some(k) = r.clock_skew_seconds {
        let _ = writeln!(s, "Clock skew against the service: {k} s");
    }
    if let Some(id) = &r.identity {
        if id.outcome == Outcome::Ok {
            let _ = writeln!(
                s,
                "Identity: {} ({}), account {}",
                id.arn.as_deref().unwrap_or("?"),
                id.principal_type.as_deref().unwrap_or("?"),
                id.account.as_deref().unwrap_or("?")
            );
        } else {
            let _ = writeln!(
                s,
                "Identity: FAIL {} {}",
                id.class,
                id.message.as_deref().unwrap_or("")
            );
        }
    }
    if let Some(p) = &r.table_probe {
        let _ = writeln!(
            s,
            "Table {} in {}: {} ({})",
            p.id.table,
            p.id.region,
            if p.outcome == Outcome::Ok {
                "ok"
            } else {
                "FAIL"
            },
            p.class
        );
    }
    let _ = writeln!(s);
    if r.findings.is_empty() {
        let _ = writeln!(s, "No problems found.");
    } else {
        let _ = writeln!(s, "Findings, most likely first:");
        for (i, f) in r.findings.iter().enumerate() {
            let _ = writeln!(
                s,
                "  {}. [{}] {}\n     do: {}",
                i + 1,
                f.class,
                f.problem,
                f.action
            );
        }
    }
    s
}
