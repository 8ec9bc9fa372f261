//! The run's report: the JSON contract returned by Lambda and printed by the
//! command line, its summary, and a human rendering for terminals.

use crate::aws::trust::TrustRoots;
use crate::classify::{Class, Failure, ProviderTried};
use crate::config::{Expectation, SinkKind};
pub use crate::plan::ProbeId;
use crate::redact::shown;
use serde::{Deserialize, Serialize, Serializer};
use std::collections::BTreeMap;
use std::fmt::Write as _;

/// Whether a check passed.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Outcome {
    /// Passed.
    #[default]
    Ok,
    /// Failed.
    Fail,
    /// Not run because something it depends on failed.
    NotRun,
}

/// The identity section.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct IdentityReport {
    /// ok or fail.
    pub outcome: Outcome,
    /// The class (ok, identity_mismatch, or the STS failure's class).
    pub class: Class,
    /// Account id.
    pub account: Option<String>,
    /// Caller ARN.
    pub arn: Option<String>,
    /// STS user id.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub user_id: Option<String>,
    /// user, assumed-role, federated-user, root.
    pub principal_type: Option<String>,
    /// Role name, for assumed roles.
    pub role: Option<String>,
    /// Session name, for assumed roles.
    pub session: Option<String>,
    /// User name, for users.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub user: Option<String>,
    /// AWS error code of a failure.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub code: Option<String>,
    /// What went wrong.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub message: Option<String>,
    /// Request id of a failure.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub request_id: Option<String>,
    /// What to check.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub hint: Option<String>,
    /// Credential providers tried, for credentials_missing.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub providers_tried: Vec<ProviderTried>,
    /// Seconds until the credentials expire, when known.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub credentials_expire_in_seconds: Option<i64>,
    /// AWS's clock minus this host's, in seconds, from the `Date` headers of
    /// the run's responses.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub clock_skew_seconds: Option<i64>,
    /// Latency of GetCallerIdentity.
    pub latency_ms: f64,
}

impl IdentityReport {
    /// The report of a failed GetCallerIdentity.
    pub fn failed(f: Failure, latency_ms: f64) -> IdentityReport {
        IdentityReport {
            outcome: Outcome::Fail,
            class: f.class,
            code: f.code.clone(),
            message: Some(f.message.clone()),
            request_id: f.request_id.clone(),
            hint: Some(f.hint()),
            providers_tried: f.providers_tried,
            latency_ms,
            ..IdentityReport::default()
        }
    }
}

/// One probe's result.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ProbeResult {
    /// Which probe.
    #[serde(flatten)]
    pub id: ProbeId,
    /// ok, fail or not_run.
    pub outcome: Outcome,
    /// The class.
    pub class: Class,
    /// AWS error code.
    pub code: Option<String>,
    /// What happened, with no secret in it.
    pub message: Option<String>,
    /// Request id.
    pub request_id: Option<String>,
    /// Latency of the probe's calls.
    pub latency_ms: f64,
    /// What to check.
    pub hint: Option<String>,
    /// The principal that made the call, when it is not the canary's own
    /// (a target reached through `role_arn`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub principal: Option<String>,
    /// Which policy layer denied (access denials, must-deny results).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub denied_by: Option<Box<crate::classify::explain::DeniedBy>>,
    /// The CloudTrail changes that may explain a denial, most likely first.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub changes: Vec<Change>,
    /// Why no change is shown, or where else to look (an SCP's changes are
    /// in the management account's trail).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub changes_note: Option<String>,
    /// Whether the account's `UserErrors` rose in this probe's region
    /// (authentication failures only).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub account_errors: Option<String>,
}

/// The account's `UserErrors` beside the canary's authentication failures.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct AccountErrors {
    /// Each region with a failure that was read.
    pub regions: Vec<RegionErrors>,
    /// Why some or all of it was not read (refused, throttled, no time).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub problem: Option<String>,
}

/// One region's `UserErrors`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RegionErrors {
    /// The region.
    pub region: String,
    /// The sum over the recent window.
    pub recent: f64,
    /// The hour before, scaled to one window.
    pub baseline_per_window: f64,
    /// This run's failed probes in the region (each at least one 400).
    pub own_this_run: u32,
    /// Whether the other callers' errors rose.
    pub rose: bool,
    /// One line for people and the page.
    pub summary: String,
}

/// A CloudTrail management event that changed what a denied probe depends on.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Change {
    /// `PutRolePolicy`, `DeleteResourcePolicy`, `DisableKey`, ...
    pub event_name: String,
    /// When, RFC 3339.
    pub event_time: String,
    /// Who: the principal's ARN.
    pub who: Option<String>,
    /// The role session, for an assumed role.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub session: Option<String>,
    /// The source IP address, or the AWS service that called for them.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub source: Option<String>,
    /// The event id: `aws cloudtrail lookup-events --lookup-attributes
    /// AttributeKey=EventId,AttributeValue=<id>` opens the whole record.
    pub event_id: String,
    /// The region whose event history holds it.
    pub region: String,
    /// Why it matched: the resource it changed.
    pub matched: String,
}

impl Change {
    /// One line for people: `2026-12-06T10:00:00Z DeleteUserPolicy by
    /// arn:... (session s) from 198.51.100.7 to the permissions of user u;
    /// event e-1 in us-east-1`.
    pub fn describe(&self) -> String {
        let mut out = format!("{} {}", self.event_name, self.event_time);
        if let Some(w) = &self.who {
            out.push_str(&format!(" by {w}"));
        }
        if let Some(s) = &self.source {
            out.push_str(&format!(" from {s}"));
        }
        out.push_str(&format!(
            ", to {}; event {} in {}",
            self.matched, self.event_id, self.region
        ));
        out
    }
}

/// How the look-up for changes went, when a run needed one.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ChangesLookup {
    /// LookupEvents calls made.
    pub calls: u32,
    /// Answers reused from an earlier run of this process.
    pub cached: u32,
    /// Why some or all of it did not happen (refused, throttled, no time).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub problem: Option<String>,
}

impl ProbeResult {
    /// A passed probe.
    pub fn ok(id: ProbeId, latency_ms: f64) -> ProbeResult {
        ProbeResult {
            id,
            outcome: Outcome::Ok,
            class: Class::Ok,
            code: None,
            message: None,
            request_id: None,
            latency_ms,
            hint: None,
            principal: None,
            denied_by: None,
            changes: Vec::new(),
            changes_note: None,
            account_errors: None,
        }
    }

    /// A failed (or not run) probe from a classified failure.
    pub fn from_failure(id: ProbeId, outcome: Outcome, f: Failure, latency_ms: f64) -> ProbeResult {
        ProbeResult {
            hint: Some(f.hint()),
            denied_by: f.denied_by,
            outcome,
            class: f.class,
            code: f.code,
            message: Some(f.message),
            request_id: f.request_id,
            ..ProbeResult::ok(id, latency_ms)
        }
    }

    /// Whether this probe counts as an authentication failure (pages).
    pub fn is_auth_failure(&self) -> bool {
        self.outcome != Outcome::Ok
            && (self.class.is_auth()
                || (self.class == Class::AccessDenied && self.id.expect == Expectation::Allow))
    }
}

/// Counts over the probes.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Summary {
    /// Probes in the report.
    pub total: usize,
    /// Probes that passed.
    pub ok: usize,
    /// Probes that failed.
    pub failed: usize,
    /// Probes not run because a dependency failed.
    pub not_run: usize,
    /// Failures (identity included) per class, listed by class name.
    #[serde(serialize_with = "by_name")]
    pub by_class: BTreeMap<Class, usize>,
}

/// Serialises a per-class map in the order of the class names, as the
/// report always has.
fn by_name<S: Serializer>(map: &BTreeMap<Class, usize>, s: S) -> Result<S::Ok, S::Error> {
    let named: BTreeMap<&str, usize> = map.iter().map(|(c, n)| (c.as_str(), *n)).collect();
    named.serialize(s)
}

/// How metrics were delivered.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct MetricsOutcome {
    /// cloudwatch, emf or none: the sink that delivered.
    pub sink: SinkKind,
    /// Datums delivered.
    pub datums: usize,
    /// PutMetricData requests sent.
    #[serde(default)]
    pub requests: usize,
    /// Why PutMetricData was not used, when `auto` fell back to EMF.
    pub fallback_reason: Option<String>,
    /// Class of the PutMetricData failure, when there was one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub fallback_class: Option<Class>,
}

impl Default for MetricsOutcome {
    fn default() -> Self {
        MetricsOutcome {
            sink: SinkKind::None,
            datums: 0,
            requests: 0,
            fallback_reason: None,
            fallback_class: None,
        }
    }
}

/// A warning that does not make the run unhealthy.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Warning {
    /// The class (e.g. credentials_expiring).
    pub class: Class,
    /// What it is about.
    pub message: String,
    /// What to do.
    pub hint: String,
}

/// The whole report.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Report {
    /// False when the identity check or any probe failed.
    pub healthy: bool,
    /// The canary's own identity.
    pub identity: IdentityReport,
    /// Every probe, in configuration order.
    pub probes: Vec<ProbeResult>,
    /// Counts.
    pub summary: Summary,
    /// How metrics were delivered (absent until published).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub metrics: Option<MetricsOutcome>,
    /// Warnings.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub warnings: Vec<Warning>,
    /// The canary's region.
    pub region: String,
    /// The roots HTTPS trusted: where they came from, the file, how many.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub trust_roots: Option<TrustRoots>,
    /// The CloudTrail look-up for changes behind denials (absent when none
    /// was needed: a healthy run asks nothing).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub what_changed: Option<ChangesLookup>,
    /// The account's `UserErrors` where authentication failed (absent
    /// when nothing failed: a healthy run reads nothing).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub account_errors: Option<AccountErrors>,
    /// Wall time of the run.
    pub duration_ms: f64,
    /// The crate version.
    pub version: String,
}

impl Report {
    /// Builds a report, computing the summary and health.
    pub fn new(
        identity: IdentityReport,
        probes: Vec<ProbeResult>,
        region: String,
        duration_ms: f64,
    ) -> Report {
        let mut summary = Summary {
            total: probes.len(),
            ..Summary::default()
        };
        for p in &probes {
            match p.outcome {
                Outcome::Ok => summary.ok += 1,
                Outcome::Fail => {
                    summary.failed += 1;
                    *summary.by_class.entry(p.class).or_default() += 1;
                }
                Outcome::NotRun => summary.not_run += 1,
            }
        }
        if identity.outcome != Outcome::Ok {
            *summary.by_class.entry(identity.class).or_default() += 1;
        }
        let healthy =
            identity.outcome == Outcome::Ok && summary.failed == 0 && summary.not_run == 0;
        Report {
            healthy,
            identity,
            probes,
            summary,
            metrics: None,
            warnings: Vec::new(),
            region,
            trust_roots: None,
            what_changed: None,
            account_errors: None,
            duration_ms,
            version: env!("CARGO_PKG_VERSION").to_string(),
        }
    }

    /// Renders the report for a person at a terminal: the verdict first,
    /// then failures (with their hints), then the passing probes.
    pub fn render_human(&self) -> String {
        let mut s = String::new();
        let verdict = if self.healthy { "HEALTHY" } else { "UNHEALTHY" };
        let _ = writeln!(
            s,
            "{verdict}: {} of {} probes ok, {} failed, {} not run ({:.0} ms, region {})",
            self.summary.ok,
            self.summary.total,
            self.summary.failed,
            self.summary.not_run,
            self.duration_ms,
            shown(&self.region)
        );
        self.render_identity(&mut s);
        self.render_probes(&mut s);
        if let Some(m) = &self.metrics {
            let _ = writeln!(s);
            let _ = write!(s, "Metrics: {} datums via {}", m.datums, m.sink);
            if let Some(r) = &m.fallback_reason {
                let _ = write!(s, " (fell back: {})", shown(r));
            }
            let _ = writeln!(s);
        }
        s
    }

    /// The identity section, its warnings and credential expiry.
    fn render_identity(&self, s: &mut String) {
        let id = &self.identity;
        let _ = writeln!(s);
        if id.outcome == Outcome::Ok {
            let _ = writeln!(
                s,
                "Identity  ok  {} ({}) account {}{}",
                shown(id.arn.as_deref().unwrap_or("?")),
                shown(id.principal_type.as_deref().unwrap_or("?")),
                shown(id.account.as_deref().unwrap_or("?")),
                match (&id.role, &id.session) {
                    (Some(r), Some(sess)) =>
                        format!(", role {}, session {}", shown(r), shown(sess)),
                    (Some(r), None) => format!(", role {}", shown(r)),
                    _ => String::new(),
                }
            );
        } else {
            let _ = writeln!(
                s,
                "Identity  FAIL  {}{}: {}",
                id.class,
                id.code
                    .as_deref()
                    .map(|c| format!(" ({})", shown(c)))
                    .unwrap_or_default(),
                shown(id.message.as_deref().unwrap_or(""))
            );
            if let Some(arn) = &id.arn {
                let _ = writeln!(s, "          caller: {}", shown(arn));
            }
            for p in &id.providers_tried {
                let _ = writeln!(
                    s,
                    "          tried {}: {}",
                    shown(&p.provider),
                    shown(&p.reason)
                );
            }
            if let Some(h) = &id.hint {
                let _ = writeln!(s, "          hint: {}", shown(h));
            }
        }
        if let Some(secs) = id.credentials_expire_in_seconds {
            let _ = writeln!(s, "          credentials expire in {secs} s");
        }
        for w in &self.warnings {
            let _ = writeln!(
                s,
                "Warning   {}: {}\n          hint: {}",
                w.class,
                shown(&w.message),
                shown(&w.hint)
            );
        }
    }

    /// The probe table: failures first, each with its code, request id and hint.
    fn render_probes(&self, s: &mut String) {
        if !self.probes.is_empty() {
            let width = self
                .probes
                .iter()
                .map(|p| p.id.table.as_str().len())
                .max()
                .unwrap_or(5)
                .max(5);
            let _ = writeln!(s);
            let _ = writeln!(
                s,
                "{:<7} {:<width$} {:<15} {:<8} {:<6} {:<26} {:>9}",
                "RESULT", "TABLE", "REGION", "PROBE", "EXPECT", "CLASS", "LATENCY"
            );
            let mut order: Vec<&ProbeResult> = self.probes.iter().collect();
            order.sort_by_key(|p| match p.outcome {
                Outcome::Fail => 0,
                Outcome::NotRun => 1,
                Outcome::Ok => 2,
            });
            for p in order {
                let result = match p.outcome {
                    Outcome::Ok => "ok",
                    Outcome::Fail => "FAIL",
                    Outcome::NotRun => "NOT RUN",
                };
                let _ = writeln!(
                    s,
                    "{:<7} {:<width$} {:<15} {:<8} {:<6} {:<26} {:>7.1}ms",
                    result,
                    p.id.table.as_str(),
                    p.id.region.as_str(),
                    p.id.probe.as_str(),
                    p.id.expect.as_str(),
                    p.class.as_str(),
                    p.latency_ms
                );
                if p.outcome != Outcome::Ok {
                    let code = shown(p.code.as_deref().unwrap_or("-"));
                    let rid = shown(p.request_id.as_deref().unwrap_or("-"));
                    let _ = writeln!(
                        s,
                        "        {code}: {} (request id {rid})",
                        shown(p.message.as_deref().unwrap_or(""))
                    );
                    if let Some(d) = &p.denied_by {
                        let _ = writeln!(s, "        denied by: {}", shown(&d.describe()));
                    }
                    if let Some(h) = &p.hint {
                        let _ = writeln!(s, "        hint: {}", shown(h));
                    }
                    for c in &p.changes {
                        let _ = writeln!(s, "        changed: {}", shown(&c.describe()));
                    }
                    if let Some(note) = &p.changes_note {
                        let _ = writeln!(s, "        what changed: {}", shown(note));
                    }
                    if let Some(apps) = &p.account_errors {
                        let _ = writeln!(s, "        the account: {}", shown(apps));
                    }
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::{ProbeKind, Region, TableRef};

    fn id(probe: ProbeKind, expect: Expectation) -> ProbeId {
        ProbeId {
            table: TableRef::parse("orders").unwrap(),
            region: Region::parse("us-east-1").unwrap(),
            probe,
            expect,
        }
    }

    fn failed_probe(class: Class, expect: Expectation) -> ProbeResult {
        ProbeResult::from_failure(
            id(ProbeKind::Read, expect),
            Outcome::Fail,
            Failure::new(class, "boom"),
            3.0,
        )
    }

    #[test]
    fn summary_counts_and_health() {
        let identity = IdentityReport::default();
        let probes = vec![
            ProbeResult::ok(id(ProbeKind::Describe, Expectation::Allow), 1.0),
            failed_probe(Class::AccessDenied, Expectation::Allow),
            failed_probe(Class::NotFound, Expectation::Allow),
        ];
        let r = Report::new(identity, probes, "us-east-1".into(), 10.0);
        assert!(!r.healthy);
        assert_eq!(r.summary.total, 3);
        assert_eq!(r.summary.ok, 1);
        assert_eq!(r.summary.failed, 2);
        assert_eq!(r.summary.by_class[&Class::AccessDenied], 1);
        assert_eq!(r.summary.by_class[&Class::NotFound], 1);
        // The JSON lists classes by name, and each probe's id comes first.
        let json = serde_json::to_string(&r).unwrap();
        assert!(
            json.contains(r#""by_class":{"access_denied":1,"not_found":1}"#),
            "{json}"
        );
        assert!(
            json.contains(r#"{"table":"orders","region":"us-east-1","probe":"describe","expect":"allow","outcome":"ok""#),
            "{json}"
        );
        let back: Report = serde_json::from_str(&json).unwrap();
        assert_eq!(back.probes, r.probes);
    }

    #[test]
    fn identity_failure_makes_run_unhealthy_and_is_counted() {
        let id = IdentityReport::failed(Failure::new(Class::AuthInvalidToken, "bad"), 1.0);
        let r = Report::new(id, vec![], "us-east-1".into(), 1.0);
        assert!(!r.healthy);
        assert_eq!(r.summary.by_class[&Class::AuthInvalidToken], 1);
    }

    #[test]
    fn human_rendering_puts_failures_first_with_hints() {
        let probes = vec![
            ProbeResult::ok(id(ProbeKind::Describe, Expectation::Allow), 1.0),
            failed_probe(Class::AccessDenied, Expectation::Allow),
        ];
        let r = Report::new(IdentityReport::default(), probes, "us-east-1".into(), 10.0);
        let text = r.render_human();
        let fail_at = text.find("FAIL").unwrap();
        let ok_at = text.rfind("\nok ").unwrap();
        assert!(fail_at < ok_at, "{text}");
        assert!(text.contains("hint: IAM refused"), "{text}");
        assert!(text.starts_with("UNHEALTHY"));
    }

    #[test]
    fn auth_failure_counting_respects_expectation() {
        assert!(failed_probe(Class::AccessDenied, Expectation::Allow).is_auth_failure());
        assert!(!failed_probe(Class::AccessDenied, Expectation::Deny).is_auth_failure());
        assert!(failed_probe(Class::AuthExpired, Expectation::Deny).is_auth_failure());
        assert!(!failed_probe(Class::NotFound, Expectation::Allow).is_auth_failure());
    }
}
