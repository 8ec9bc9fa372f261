//! The human rendering of a doctor's report.

use super::report::DoctorReport;
use crate::redact::shown;
use crate::report::Outcome;
use std::fmt::Write as _;

/// Renders the report for people: the chain, the credentials, region,
/// overrides, skew, identity and table, then the findings.
pub fn render(r: &DoctorReport) -> String {
    let mut s = String::new();
    let _ = writeln!(
        s,
        "Credential provider chain (profile \"{}\"):",
        shown(&r.profile)
    );
    for st in &r.chain {
        let _ = writeln!(
            s,
            "  {:<20} {:<15} {}",
            st.provider.as_str(),
            st.status.as_str(),
            shown(&st.detail)
        );
    }
    match &r.credentials {
        Some(c) => {
            let _ = writeln!(
                s,
                "Credentials: {} from {}, {}{}",
                c.access_key_id,
                c.provider.as_str(),
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
    render_settings(&mut s, r);
    render_checks(&mut s, r);
    render_sdks(&mut s, r);
    let _ = writeln!(s);
    render_findings(&mut s, r);
    s
}

/// Region, endpoint overrides and clock skew.
fn render_settings(s: &mut String, r: &DoctorReport) {
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
            o.service,
            shown(&o.url),
            o.source
        );
    }
    if let Some(roots) = &r.trust_roots {
        let _ = writeln!(s, "Trusted roots: {}", shown(&roots.describe()));
    }
    for p in &r.proxies {
        let how = match (&p.proxy, p.exempted_by_no_proxy) {
            (Some(proxy), _) => format!("through the proxy {}", shown(proxy)),
            (None, true) => "direct (NO_PROXY exempts it)".to_string(),
            (None, false) => "direct".to_string(),
        };
        let _ = writeln!(s, "Proxy for {} ({}): {how}", p.service, shown(&p.endpoint));
    }
    if let Some(k) = r.clock_skew_seconds {
        let _ = writeln!(s, "Clock skew against the service: {k} s");
    }
}

/// The identity and the table probe.
fn render_checks(s: &mut String, r: &DoctorReport) {
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
}

/// What each SDK family's default client would do here.
fn render_sdks(s: &mut String, r: &DoctorReport) {
    if r.sdks.is_empty() {
        return;
    }
    let _ = writeln!(
        s,
        "\nWhat a default client of each SDK would do on this host:"
    );
    for v in &r.sdks {
        let _ = writeln!(
            s,
            "  {} [{}] ({}; {})",
            v.name,
            v.sdk,
            v.basis.words(),
            v.version
        );
        let creds = v
            .credentials
            .as_ref()
            .map_or("none".to_string(), |c| c.describe());
        let _ = writeln!(s, "    credentials: {}", shown(&creds));
        let region = v.region.as_ref().map_or("none".to_string(), |r| {
            format!("{} (from {})", r.region, r.source)
        });
        let _ = writeln!(s, "    region:      {}", shown(&region));
        let list = |settings: &[super::sdks::Setting]| {
            settings
                .iter()
                .map(|x| format!("{}={}", x.name, shown(&x.value)))
                .collect::<Vec<_>>()
                .join(", ")
        };
        if !v.endpoint_overrides.is_empty() {
            let _ = writeln!(s, "    endpoints:   {}", list(&v.endpoint_overrides));
        }
        if !v.trust_roots.is_empty() {
            let _ = writeln!(s, "    trusts:      {}", list(&v.trust_roots));
        }
        if !v.trust_roots_ignored.is_empty() {
            let _ = writeln!(s, "    ignores:     {}", list(&v.trust_roots_ignored));
        }
        match &v.stop {
            Some(stop) => {
                let _ = writeln!(
                    s,
                    "    stops:       \"{}\": {}\n    fix:         {}",
                    shown(&stop.sdk_says),
                    shown(&stop.why),
                    stop.fix
                );
            }
            None => {
                let _ = writeln!(s, "    stops:       no");
            }
        }
    }
}

fn render_findings(s: &mut String, r: &DoctorReport) {
    if r.findings.is_empty() {
        let _ = writeln!(s, "No problems found.");
        return;
    }
    let _ = writeln!(s, "Findings, most likely first:");
    for (i, f) in r.findings.iter().enumerate() {
        let _ = writeln!(
            s,
            "  {}. [{}] {}\n     do: {}",
            i + 1,
            f.class,
            shown(&f.problem),
            f.action
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::aws::region::RegionSource;
    use crate::classify::Class;
    use crate::doctor::{
        CredentialSummary, Finding, FindingKind, Provider, ProviderStatus, ProviderStep,
    };
    use crate::report::IdentityReport;

    fn report() -> DoctorReport {
        DoctorReport {
            chain: vec![
                ProviderStep {
                    provider: Provider::Environment,
                    status: ProviderStatus::Supplied,
                    detail: "access key AKIA************MPLE".into(),
                },
                ProviderStep {
                    provider: Provider::Profile,
                    status: ProviderStatus::NotTried,
                    detail: "an earlier provider supplied credentials".into(),
                },
            ],
            credentials: Some(CredentialSummary {
                provider: Provider::Environment,
                access_key_id: "AKIA************MPLE".into(),
                temporary: true,
                expires_in_seconds: None,
            }),
            profile: "default".into(),
            region: Some(RegionSource {
                region: crate::config::Region::parse("eu-west-1").unwrap(),
                source: "AWS_REGION".into(),
            }),
            endpoint_overrides: Vec::new(),
            clock_skew_seconds: Some(1),
            identity: Some(IdentityReport {
                outcome: Outcome::Fail,
                class: Class::AuthInvalidToken,
                message: Some("bad token".into()),
                ..IdentityReport::default()
            }),
            table_probe: None,
            findings: vec![Finding::problem(
                FindingKind::TokenWithLongTermKey,
                Class::AuthInvalidToken,
                "leftover token".into(),
                "unset AWS_SESSION_TOKEN",
            )],
            trust_roots: None,
            proxies: Vec::new(),
            sdks: Vec::new(),
        }
    }

    #[test]
    fn a_report_with_a_problem() {
        let expected = "\
Credential provider chain (profile \"default\"):
  Environment          supplied        access key AKIA************MPLE
  Profile              not_tried       an earlier provider supplied credentials
Credentials: AKIA************MPLE from Environment, temporary
Region: eu-west-1 (from AWS_REGION)
Endpoint overrides: none
Clock skew against the service: 1 s
Identity: FAIL auth_invalid_token bad token

Findings, most likely first:
  1. [auth_invalid_token] leftover token
     do: unset AWS_SESSION_TOKEN
";
        assert_eq!(render(&report()), expected);
    }

    #[test]
    fn a_report_without_findings() {
        let mut r = report();
        r.findings.clear();
        r.credentials = None;
        r.identity = None;
        let out = render(&r);
        assert!(out.contains("\nCredentials: none\n"), "{out}");
        assert!(out.ends_with("\n\nNo problems found.\n"), "{out}");
    }
}
