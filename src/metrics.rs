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
    /// Dimension sets it is published with (an empty slice is "no dimensions").
    pub dimension_sets: &'static [&'static [&'static str]],
    /// Published only with `metrics.detail: "probe"`.
    pub probe_detail: bool,
    /// What it means.
    pub meaning: &'static str,
}

/// Dimension set of the per-probe series.
pub const PROBE_DIMENSIONS: &[&str] = &["Table", "Region", "Probe"];

/// The contract. The README's table is generated from (and tested against) it.
pub const CONTRACT: &[MetricSpec] = &[
    MetricSpec {
        name: "CanaryRuns",
        unit: Unit::Count,
        dimension_sets: &[&[]],
        probe_detail: false,
        meaning: "1 per run: the heartbeat",
    },
    MetricSpec {
        name: "AuthFailures",
        unit: Unit::Count,
        dimension_sets: &[&[], &["Class"]],
        probe_detail: false,
        meaning: "identity check and probes failing with credentials_*, auth_*, assume_role_denied, or access_denied on an allow-expected probe",
    },
    MetricSpec {
        name: "UnexpectedAccess",
        unit: Unit::Count,
        dimension_sets: &[&[]],
        probe_detail: false,
        meaning: "must-deny probes that were allowed",
    },
    MetricSpec {
        name: "IdentityMismatch",
        unit: Unit::Count,
        dimension_sets: &[&[]],
        probe_detail: false,
        meaning: "1 when the caller is not the expected identity",
    },
    MetricSpec {
        name: "ProbeFailures",
        unit: Unit::Count,
        dimension_sets: &[&[], &["Class"]],
        probe_detail: false,
        meaning: "every failed probe (and a failed identity check)",
    },
    MetricSpec {
        name: "ProbeSuccess",
        unit: Unit::Count,
        dimension_sets: &[PROBE_DIMENSIONS],
        probe_detail: true,
        meaning: "1 when the probe passed, 0 when not",
    },
    MetricSpec {
        name: "ProbeLatency",
        unit: Unit::Milliseconds,
        dimension_sets: &[PROBE_DIMENSIONS],
        probe_detail: true,
        meaning: "latency of the probe's calls",
    },
    MetricSpec {
        name: "CredentialSecondsToExpiry",
        unit: Unit::Seconds,
        dimension_sets: &[&[]],
        probe_detail: false,
        meaning: "seconds before the canary's credentials expire, when known",
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

/// The datums of a run. Dimensionless counts always (zeros included, so an
/// alarm sees 0 after recovery); by-`Class` series only when non-zero; the
/// per-probe series only with `detail: probe`. No dimension carries an
/// account id, ARN or message.
pub fn datums(report: &Report, config: &MetricsConfig) -> Vec<Datum> {
    let mut auth: BTreeMap<Class, f64> = BTreeMap::new();
    let mut failures: BTreeMap<Class, f64> = BTreeMap::new();
    let mut unexpected = 0.0;
    let id = &report.identity;
    if id.outcome != Outcome::Ok {
        *failures.entry(id.class).or_default() += 1.0;
        if id.class.is_auth() {
            *auth.entry(id.class).or_default() += 1.0;
        }
    }
    for p in &report.probes {
        if p.outcome == Outcome::Fail {
            *failures.entry(p.class).or_default() += 1.0;
        }
        if p.is_auth_failure() {
            *auth.entry(p.class).or_default() += 1.0;
        }
        if p.outcome == Outcome::Fail && p.class == Class::UnexpectedAccess {
            unexpected += 1.0;
        }
    }
    let mismatch = if id.class == Class::IdentityMismatch {
        1.0
    } else {
        0.0
    };
    let mut out = vec![
        Datum::new("CanaryRuns", vec![], 1.0),
        Datum::new("AuthFailures", vec![], total(&auth)),
        Datum::new("UnexpectedAccess", vec![], unexpected),
        Datum::new("IdentityMismatch", vec![], mismatch),
        Datum::new("ProbeFailures", vec![], total(&failures)),
    ];
    for (class, n) in &auth {
        out.push(Datum::new(
            "AuthFailures",
            vec![("Class", class.to_string())],
            *n,
        ));
    }
    for (class, n) in &failures {
        out.push(Datum::new(
            "ProbeFailures",
            vec![("Class", class.to_string())],
            *n,
        ));
    }
    if let Some(secs) = id.credentials_expire_in_seconds {
        out.push(Datum::new("CredentialSecondsToExpiry", vec![], secs as f64));
    }
    if config.detail == Detail::Probe {
        for p in &report.probes {
            let dims = vec![
                ("Table", p.id.table.name().to_string()),
                ("Region", p.id.region.to_string()),
                ("Probe", p.id.probe.as_str().to_string()),
            ];
            let ok = if p.outcome == Outcome::Ok { 1.0 } else { 0.0 };
            out.push(Datum::new("ProbeSuccess", dims.clone(), ok));
            if p.outcome != Outcome::NotRun {
                out.push(Datum::new("ProbeLatency", dims, p.latency_ms));
            }
        }
    }
    out.retain(|d| d.value.is_finite());
    out
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
                "meaning": m.meaning,
            })
        })
        .collect();
    let classes: Vec<&str> = Class::ALL.iter().map(|c| c.as_str()).collect();
    serde_json::json!({
        "default_namespace": crate::config::DEFAULT_NAMESPACE,
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
            .map(|set| {
                if set.is_empty() {
                    "none".to_string()
                } else {
                    format!("`{}`", set.join(", "))
                }
            })
            .collect();
        let detail = if m.probe_detail {
            " (`detail: probe` only)"
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

    fn find<'a>(d: &'a [Datum], name: &str, dims: &[(&str, &str)]) -> Option<&'a Datum> {
        d.iter().find(|x| {
            x.name == name
                && x.dimensions.len() == dims.len()
                && x.dimensions
                    .iter()
                    .zip(dims)
                    .all(|((a, b), (c, e))| a == c && b == e)
        })
    }

    #[test]
    fn summary_datums_count_by_class() {
        let d = datums(&report(), &MetricsConfig::default());
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
        assert_eq!(
            find(&d, "ProbeFailures", &[("Class", "not_found")])
                .unwrap()
                .value,
            1.0
        );
        assert_eq!(find(&d, "IdentityMismatch", &[]).unwrap().value, 0.0);
        assert!(d.iter().all(|x| x.name != "ProbeSuccess"));
    }

    #[test]
    fn healthy_run_publishes_zeros_without_class_series() {
        let r = Report::new(IdentityReport::default(), vec![], "us-east-1".into(), 1.0);
        let d = datums(&r, &MetricsConfig::default());
        assert_eq!(d.len(), 5);
        assert!(d.iter().all(|x| x.dimensions.is_empty()));
        let zero = find(&d, "AuthFailures", &[]).unwrap().value;
        assert_eq!(zero.to_bits(), 0.0f64.to_bits(), "+0.0, not -0.0");
    }

    #[test]
    fn probe_detail_adds_series_without_account_ids() {
        let cfg = MetricsConfig {
            detail: Detail::Probe,
            ..MetricsConfig::default()
        };
        let d = datums(&report(), &cfg);
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
        for d in datums(&report(), &cfg) {
            let s = spec(d.name).unwrap();
            let names: Vec<&str> = d.dimensions.iter().map(|(n, _)| *n).collect();
            assert!(s.dimension_sets.contains(&names.as_slice()), "{}", d.name);
            assert_eq!(d.unit, s.unit);
        }
    }
}
