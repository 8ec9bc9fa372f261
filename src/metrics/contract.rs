//! The metrics contract: which CloudWatch metrics a run produces, with which
//! units and dimensions. Sinks (PutMetricData, EMF) live in `sinks`; the cost
//! estimate of a configuration lives in `cost`.

use crate::classify::Class;
use crate::config::{Detail, MetricsConfig};
use crate::report::{Outcome, Report};
use std::collections::BTreeMap;

/// Metric units used by the contract.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Unit {
    /// Count.
    Count,
    /// Milliseconds.
    Milliseconds,
    /// Seconds.
    Seconds,
}

impl Unit {
    /// CloudWatch's name for the unit.
    pub fn as_str(self) -> &'static str {
        match self {
            Unit::Count => "Count",
            Unit::Milliseconds => "Milliseconds",
            Unit::Seconds => "Seconds",
        }
    }
}

/// One metric of the contract.
#[derive(Debug, Clone, Copy)]
pub struct MetricSpec {
    /// Metric name.
    pub name: &'static str,
    /// Unit.
    pub unit: Unit,
    /// Dimension sets it is published with; each starts with `Canary`.
    pub dimension_sets: &'static [&'static [&'static str]],
    /// Published only with `metrics.detail: "probe"`.
    pub probe_detail: bool,
    /// When it is published.
    pub published: Published,
    /// What it means.
    pub meaning: &'static str,
}

/// When a metric is published.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Published {
    /// Every run, zeros included, so alarms see recovery.
    EveryRun,
    /// Only on the runs where it occurs.
    OnFailure,
}

impl Published {
    /// The name used in `metrics --contract`.
    pub fn as_str(self) -> &'static str {
        match self {
            Published::EveryRun => "every_run",
            Published::OnFailure => "on_failure",
        }
    }
}

/// The dimension every metric carries: the deployment's name.
pub const CANARY_DIMENSION: &str = "Canary";
/// Dimension set of the run-level series.
pub const RUN_DIMENSIONS: &[&str] = &["Canary"];
/// Dimension set of the by-class series.
pub const CLASS_DIMENSIONS: &[&str] = &["Canary", "Class"];
/// Dimension set of the per-probe series.
pub const PROBE_DIMENSIONS: &[&str] = &["Canary", "Table", "Region", "Probe"];

/// The alarms `template.yaml` creates (`template_checks.py` compares this
/// with the template, through `metrics --contract`).
pub const TEMPLATE_ALARMS: usize = 8;

/// The contract. The README's table is generated from (and tested against) it.
pub const CONTRACT: &[MetricSpec] = &[
    MetricSpec {
        name: "CanaryRuns",
        unit: Unit::Count,
        dimension_sets: &[RUN_DIMENSIONS],
        probe_detail: false,
        published: Published::EveryRun,
        meaning: "1 per run: the heartbeat",
    },
    MetricSpec {
        name: "UnhealthyRuns",
        unit: Unit::Count,
        dimension_sets: &[RUN_DIMENSIONS],
        probe_detail: false,
        published: Published::OnFailure,
        meaning: "1 when the run is unhealthy for any reason (a failed or not-run probe, the identity check, the configuration)",
    },
    MetricSpec {
        name: "AuthFailures",
        unit: Unit::Count,
        dimension_sets: &[RUN_DIMENSIONS, CLASS_DIMENSIONS],
        probe_detail: false,
        published: Published::EveryRun,
        meaning: "identity check and probes failing with credentials_*, auth_*, assume_role_denied, kms_*, tls_error, proxy_error, or access_denied on an allow-expected probe",
    },
    MetricSpec {
        name: "UnexpectedAccess",
        unit: Unit::Count,
        dimension_sets: &[RUN_DIMENSIONS],
        probe_detail: false,
        published: Published::EveryRun,
        meaning: "must-deny probes that were allowed",
    },
    MetricSpec {
        name: "IdentityMismatch",
        unit: Unit::Count,
        dimension_sets: &[RUN_DIMENSIONS],
        probe_detail: false,
        published: Published::EveryRun,
        meaning: "1 when the caller is not the expected identity",
    },
    MetricSpec {
        name: "ProbeFailures",
        unit: Unit::Count,
        dimension_sets: &[RUN_DIMENSIONS],
        probe_detail: false,
        published: Published::OnFailure,
        meaning: "every failed probe (and a failed identity check); their classes are in the failing probes query (and AuthFailures by Class)",
    },
    MetricSpec {
        name: "ProbesNotRun",
        unit: Unit::Count,
        dimension_sets: &[RUN_DIMENSIONS],
        probe_detail: false,
        published: Published::EveryRun,
        meaning: "probes not run for a reason other than an authentication failure (AssumeRole timed out, the DescribeTable that supplies the key failed): the canary is blind to them",
    },
    MetricSpec {
        name: "ConfigErrors",
        unit: Unit::Count,
        dimension_sets: &[RUN_DIMENSIONS],
        probe_detail: false,
        published: Published::OnFailure,
        meaning: "1 on a run whose deployed configuration could not be loaded (nothing was probed)",
    },
    MetricSpec {
        name: "ProbeSuccess",
        unit: Unit::Count,
        dimension_sets: &[PROBE_DIMENSIONS],
        probe_detail: true,
        published: Published::EveryRun,
        meaning: "1 when the probe passed, 0 when not",
    },
    MetricSpec {
        name: "ProbeLatency",
        unit: Unit::Milliseconds,
        dimension_sets: &[PROBE_DIMENSIONS],
        probe_detail: true,
        published: Published::EveryRun,
        meaning: "latency of the probe's calls",
    },
    MetricSpec {
        name: "CredentialSecondsToExpiry",
        unit: Unit::Seconds,
        dimension_sets: &[RUN_DIMENSIONS],
        probe_detail: false,
        published: Published::OnFailure,
        meaning: "seconds before the canary's credentials expire, while they expire within expiry_warning_seconds (the credentials_expiring warning)",
    },
];

/// Looks up a metric of the contract.
pub fn spec(name: &str) -> Option<&'static MetricSpec> {
    CONTRACT.iter().find(|m| m.name == name)
}

/// One value to publish.
#[derive(Debug, Clone, PartialEq)]
pub struct Datum {
    /// Metric name (from the contract).
    pub name: &'static str,
    /// Unit.
    pub unit: Unit,
    /// Dimensions, in the contract's order.
    pub dimensions: Vec<(&'static str, String)>,
    /// A finite value.
    pub value: f64,
}

impl Datum {
    fn new(name: &'static str, dimensions: Vec<(&'static str, String)>, value: f64) -> Datum {
        let unit = spec(name).map_or(Unit::Count, |s| s.unit);
        Datum {
            name,
            unit,
            dimensions,
            value,
        }
    }
}

/// The datums of a run, each dimensioned by `canary` first. The heartbeat
/// and the paging counts always (zeros included, so an alarm sees 0 after
/// recovery); the other run-level series and the by-`Class` series only
/// when non-zero (or, for the credentials' expiry, while it warns); the
/// per-probe series only with `detail: probe`. No dimension carries an
/// account id, ARN or message.
pub fn datums(report: &Report, config: &MetricsConfig, canary: &str) -> Vec<Datum> {
    let mut auth: BTreeMap<Class, f64> = BTreeMap::new();
    let mut failures: BTreeMap<Class, f64> = BTreeMap::new();
    let mut unexpected = 0.0;
    let mut not_run = 0.0;
    let id = &report.identity;
    if id.outcome != Outcome::Ok {
        *failures.entry(id.class).or_default() += 1.0;
        if id.class.is_auth() {
            *auth.entry(id.class).or_default() += 1.0;
        }
    }
    for p in &report.probes {
        match p.outcome {
            Outcome::Fail => *failures.entry(p.class).or_default() += 1.0,
            // A probe not run because of an authentication failure (its role
            // was refused, its key's DescribeTable was denied) already
            // counts in AuthFailures: the blind count is what no other
            // alarm explains, so one outage pages once.
            Outcome::NotRun if !p.is_auth_failure() => not_run += 1.0,
            Outcome::NotRun | Outcome::Ok => {}
        }
        if p.is_auth_failure() {
            *auth.entry(p.class).or_default() += 1.0;
        }
        if p.outcome == Outcome::Fail && p.class == Class::UnexpectedAccess {
            unexpected += 1.0;
        }
    }
    let flag = |b: bool| if b { 1.0 } else { 0.0 };
    let dims = || vec![(CANARY_DIMENSION, canary.to_string())];
    let by_class = |c: &Class| {
        vec![
            (CANARY_DIMENSION, canary.to_string()),
            ("Class", c.to_string()),
        ]
    };
    // The series the paging alarms watch are sent every run, zeros
    // included, so that each alarm sees its recovery at once; the others
    // only when they have something to say, so that a healthy month pays
    // for five series (a custom metric is billed by the hours it is sent).
    let mut out = vec![
        Datum::new("CanaryRuns", dims(), 1.0),
        Datum::new("AuthFailures", dims(), total(&auth)),
        Datum::new("UnexpectedAccess", dims(), unexpected),
        Datum::new(
            "IdentityMismatch",
            dims(),
            flag(id.class == Class::IdentityMismatch),
        ),
        Datum::new("ProbesNotRun", dims(), not_run),
    ];
    if !report.healthy {
        out.push(Datum::new("UnhealthyRuns", dims(), 1.0));
    }
    if !failures.is_empty() {
        out.push(Datum::new("ProbeFailures", dims(), total(&failures)));
    }
    for (class, n) in &auth {
        out.push(Datum::new("AuthFailures", by_class(class), *n));
    }
    let expiring = report
        .warnings
        .iter()
        .any(|w| w.class == Class::CredentialsExpiring);
    if let (Some(secs), true) = (id.credentials_expire_in_seconds, expiring) {
        out.push(Datum::new("CredentialSecondsToExpiry", dims(), secs as f64));
    }
    if config.detail == Detail::Probe {
        for p in &report.probes {
            let dims = vec![
                (CANARY_DIMENSION, canary.to_string()),
                ("Table", p.id.table.name().to_string()),
                ("Region", p.id.region.to_string()),
                ("Probe", p.id.probe.as_str().to_string()),
            ];
            let ok = flag(p.outcome == Outcome::Ok);
            out.push(Datum::new("ProbeSuccess", dims.clone(), ok));
            if p.outcome != Outcome::NotRun {
                out.push(Datum::new("ProbeLatency", dims, p.latency_ms));
            }
        }
    }
    out.retain(|d| d.value.is_finite());
    out
}

/// The datums of a run that could not load its configuration: it ran, it
/// is unhealthy, and it probed nothing.
pub fn config_error_datums(canary: &str) -> Vec<Datum> {
    let dims = || vec![(CANARY_DIMENSION, canary.to_string())];
    vec![
        Datum::new("CanaryRuns", dims(), 1.0),
        Datum::new("UnhealthyRuns", dims(), 1.0),
        Datum::new("ConfigErrors", dims(), 1.0),
    ]
}

/// Sum of counts; an empty sum is +0.0 (`Iterator::sum` of floats gives
/// -0.0, which would print as `-0.0`).
fn total(counts: &BTreeMap<Class, f64>) -> f64 {
    counts.values().fold(0.0, |a, b| a + b)
}

/// The contract as JSON: the default namespace, every metric with its unit
/// and dimension sets, and the class names a `Class` dimension takes.
pub fn contract_json() -> serde_json::Value {
    let metrics: Vec<serde_json::Value> = CONTRACT
        .iter()
        .map(|m| {
            serde_json::json!({
                "name": m.name,
                "unit": m.unit.as_str(),
                "dimension_sets": m.dimension_sets,
                "probe_detail": m.probe_detail,
                "published": m.published.as_str(),
                "meaning": m.meaning,
            })
        })
        .collect();
    let classes: Vec<&str> = Class::ALL.iter().map(|c| c.as_str()).collect();
    serde_json::json!({
        "default_namespace": crate::config::DEFAULT_NAMESPACE,
        "template_alarms": TEMPLATE_ALARMS,
        "metrics": metrics,
        "classes": classes,
    })
}

/// The README's contract table, generated from [`CONTRACT`].
pub fn contract_markdown() -> String {
    let mut s = String::from("| Metric | Unit | Dimensions | Meaning |\n|---|---|---|---|\n");
    for m in CONTRACT {
        let dims: Vec<String> = m
            .dimension_sets
            .iter()
            .map(|set| format!("`{}`", set.join(", ")))
            .collect();
        let detail = if m.probe_detail {
            " (`detail: probe` only)"
        } else if m.published == Published::OnFailure {
            " (only when it occurs)"
        } else {
            ""
        };
        s.push_str(&format!(
            "| `{}` | {} | {} | {}{} |\n",
            m.name,
            m.unit.as_str(),
            dims.join("; "),
            m.meaning,
            detail
        ));
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::classify::Failure;
    use crate::config::{Expectation, ProbeKind, Region, TableRef};
    use crate::report::{IdentityReport, ProbeId, ProbeResult};

    fn id(table: &str, probe: ProbeKind, expect: Expectation) -> ProbeId {
        ProbeId {
            table: TableRef::parse(table).unwrap(),
            region: Region::parse("us-east-1").unwrap(),
            probe,
            expect,
        }
    }

    fn report() -> Report {
        let fail = |class, expect| {
            ProbeResult::from_failure(
                id(
                    "arn:aws:dynamodb:us-east-1:123456789012:table/orders",
                    ProbeKind::Read,
                    expect,
                ),
                Outcome::Fail,
                Failure::new(class, "x"),
                2.0,
            )
        };
        Report::new(
            IdentityReport::default(),
            vec![
                ProbeResult::ok(id("orders", ProbeKind::Describe, Expectation::Allow), 1.5),
                fail(Class::AccessDenied, Expectation::Allow),
                fail(Class::UnexpectedAccess, Expectation::Deny),
                fail(Class::NotFound, Expectation::Allow),
            ],
            "us-east-1".into(),
            5.0,
        )
    }

    /// The datum named `name` with dimensions `Canary=prod` then `dims`.
    fn find<'a>(d: &'a [Datum], name: &str, dims: &[(&str, &str)]) -> Option<&'a Datum> {
        let mut want = vec![("Canary", "prod")];
        want.extend_from_slice(dims);
        d.iter().find(|x| {
            x.name == name
                && x.dimensions.len() == want.len()
                && x.dimensions
                    .iter()
                    .zip(&want)
                    .all(|((a, b), (c, e))| a == c && b == e)
        })
    }

    #[test]
    fn summary_datums_count_by_class() {
        let d = datums(&report(), &MetricsConfig::default(), "prod");
        assert_eq!(find(&d, "CanaryRuns", &[]).unwrap().value, 1.0);
        assert_eq!(find(&d, "AuthFailures", &[]).unwrap().value, 1.0);
        assert_eq!(
            find(&d, "AuthFailures", &[("Class", "access_denied")])
                .unwrap()
                .value,
            1.0
        );
        assert_eq!(find(&d, "UnexpectedAccess", &[]).unwrap().value, 1.0);
        assert_eq!(find(&d, "ProbeFailures", &[]).unwrap().value, 3.0);
        assert!(
            find(&d, "ProbeFailures", &[("Class", "not_found")]).is_none(),
            "failure classes are in the logs, not in metrics"
        );
        assert_eq!(find(&d, "IdentityMismatch", &[]).unwrap().value, 0.0);
        assert_eq!(find(&d, "UnhealthyRuns", &[]).unwrap().value, 1.0);
        assert!(d.iter().all(|x| x.name != "ProbeSuccess"));
    }

    #[test]
    fn healthy_run_publishes_zeros_without_class_series() {
        let r = Report::new(IdentityReport::default(), vec![], "us-east-1".into(), 1.0);
        let d = datums(&r, &MetricsConfig::default(), "prod");
        // The heartbeat and the four paging counts: five series a month.
        let names: Vec<&str> = d.iter().map(|x| x.name).collect();
        assert_eq!(
            names,
            [
                "CanaryRuns",
                "AuthFailures",
                "UnexpectedAccess",
                "IdentityMismatch",
                "ProbesNotRun"
            ]
        );
        assert!(d
            .iter()
            .all(|x| x.dimensions == [("Canary", "prod".to_string())]));
        assert!(find(&d, "UnhealthyRuns", &[]).is_none());
        assert!(find(&d, "ConfigErrors", &[]).is_none());
        assert_eq!(find(&d, "ProbesNotRun", &[]).unwrap().value, 0.0);
        // Credentials known but far from expiry: not sent; within the warning: sent.
        let mut r = r;
        r.identity.credentials_expire_in_seconds = Some(3_000);
        assert!(find(
            &datums(&r, &MetricsConfig::default(), "prod"),
            "CredentialSecondsToExpiry",
            &[]
        )
        .is_none());
        r.warnings.push(crate::report::Warning {
            class: Class::CredentialsExpiring,
            message: "soon".into(),
            hint: String::new(),
        });
        let d2 = datums(&r, &MetricsConfig::default(), "prod");
        assert_eq!(
            find(&d2, "CredentialSecondsToExpiry", &[]).unwrap().value,
            3_000.0
        );
        let zero = find(&d, "AuthFailures", &[]).unwrap().value;
        assert_eq!(zero.to_bits(), 0.0f64.to_bits(), "+0.0, not -0.0");
    }

    #[test]
    fn probe_detail_adds_series_without_account_ids() {
        let cfg = MetricsConfig {
            detail: Detail::Probe,
            ..MetricsConfig::default()
        };
        let d = datums(&report(), &cfg, "prod");
        let s = find(
            &d,
            "ProbeSuccess",
            &[
                ("Table", "orders"),
                ("Region", "us-east-1"),
                ("Probe", "describe"),
            ],
        )
        .unwrap();
        assert_eq!(s.value, 1.0);
        for x in &d {
            for (_, v) in &x.dimensions {
                assert!(!v.contains("123456789012") && !v.starts_with("arn:"), "{v}");
            }
            assert!(spec(x.name).is_some());
        }
    }

    #[test]
    fn every_datum_matches_its_contract_dimensions() {
        let cfg = MetricsConfig {
            detail: Detail::Probe,
            ..MetricsConfig::default()
        };
        for d in datums(&report(), &cfg, "prod") {
            let s = spec(d.name).unwrap();
            let names: Vec<&str> = d.dimensions.iter().map(|(n, _)| *n).collect();
            assert!(s.dimension_sets.contains(&names.as_slice()), "{}", d.name);
            assert_eq!(d.unit, s.unit);
        }
    }

    #[test]
    fn not_run_probes_and_identity_failures_count() {
        let f = Failure::new(Class::Timeout, "AssumeRole did not answer");
        let not_run = ProbeResult::from_failure(
            id("orders", ProbeKind::Read, Expectation::Allow),
            Outcome::NotRun,
            f,
            0.0,
        );
        let identity = IdentityReport::failed(Failure::new(Class::AuthExpired, "old"), 1.0);
        let r = Report::new(
            identity,
            vec![not_run.clone(), not_run],
            "us-east-1".into(),
            1.0,
        );
        let d = datums(&r, &MetricsConfig::default(), "prod");
        assert_eq!(find(&d, "ProbesNotRun", &[]).unwrap().value, 2.0);
        assert_eq!(find(&d, "UnhealthyRuns", &[]).unwrap().value, 1.0);
        assert_eq!(find(&d, "ProbeFailures", &[]).unwrap().value, 1.0);
        assert_eq!(find(&d, "AuthFailures", &[]).unwrap().value, 1.0);
        assert_eq!(
            find(&d, "AuthFailures", &[("Class", "auth_expired")])
                .unwrap()
                .value,
            1.0
        );
    }

    /// A probe not run because its role was refused counts once, as an
    /// authentication failure, not also as a blind probe.
    #[test]
    fn not_run_for_an_auth_failure_is_not_also_blind() {
        let refused = ProbeResult::from_failure(
            id("orders", ProbeKind::Read, Expectation::Allow),
            Outcome::NotRun,
            Failure::new(Class::AccessDenied, "AssumeRole refused"),
            0.0,
        );
        let r = Report::new(
            IdentityReport::default(),
            vec![refused],
            "us-east-1".into(),
            1.0,
        );
        let d = datums(&r, &MetricsConfig::default(), "prod");
        assert_eq!(find(&d, "ProbesNotRun", &[]).unwrap().value, 0.0);
        assert_eq!(find(&d, "AuthFailures", &[]).unwrap().value, 1.0);
    }

    /// The contract names how often each metric is published, in words the
    /// README and the alarms' docs use.
    #[test]
    fn the_contract_says_when_each_metric_is_published() {
        let c = contract_json();
        let published = |name: &str| {
            c["metrics"]
                .as_array()
                .unwrap()
                .iter()
                .find(|m| m["name"] == name)
                .map(|m| m["published"].as_str().unwrap().to_string())
                .unwrap()
        };
        assert_eq!(published("UnhealthyRuns"), "on_failure");
        assert_eq!(published("CredentialSecondsToExpiry"), "on_failure");
        assert_eq!(published("AuthFailures"), "every_run");
        assert_eq!(published("UnexpectedAccess"), "every_run");
        assert_eq!(Published::OnFailure.as_str(), "on_failure");
        for m in CONTRACT {
            let p = published(m.name);
            assert!(
                ["every_run", "on_failure"].contains(&p.as_str()),
                "{}: {p}",
                m.name
            );
        }
    }

    #[test]
    fn a_configuration_error_run_is_counted_unhealthy() {
        let d = config_error_datums("prod");
        assert_eq!(find(&d, "CanaryRuns", &[]).unwrap().value, 1.0);
        assert_eq!(find(&d, "UnhealthyRuns", &[]).unwrap().value, 1.0);
        assert_eq!(find(&d, "ConfigErrors", &[]).unwrap().value, 1.0);
        for x in &d {
            let s = spec(x.name).unwrap();
            assert!(s.dimension_sets.contains(&RUN_DIMENSIONS));
        }
    }

    #[test]
    fn every_metric_carries_the_canary_dimension_first() {
        for m in CONTRACT {
            for set in m.dimension_sets {
                assert_eq!(set.first(), Some(&CANARY_DIMENSION), "{}", m.name);
            }
        }
        let md = contract_markdown();
        assert_eq!(md.lines().count(), CONTRACT.len() + 2, "{md}");
        assert!(
            md.contains("| `ConfigErrors` | Count | `Canary` | "),
            "{md}"
        );
    }
}
