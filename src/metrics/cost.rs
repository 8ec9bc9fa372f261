//! What a configuration costs in CloudWatch: the unique metrics it publishes
//! in a healthy month and in the worst case, PutMetricData requests, and the
//! monthly estimate (the `metrics` command); and the prices of every
//! bill of this crate (`PRICES`), in one place.

use crate::classify::Class;
use crate::config::{Config, Detail, Region, SinkKind};
use crate::metrics::contract::{Published, CONTRACT, TEMPLATE_ALARMS};
use crate::plan::{plan, Placement};
use serde::Serialize;
use std::fmt::Write as _;

/// Prices of one region on one day.
#[derive(Debug, Clone, Copy, Serialize)]
pub struct Prices {
    /// The region they hold for.
    pub region: &'static str,
    /// When they were read from the AWS pricing pages.
    pub read_on: &'static str,
    /// Custom metric-month (first 10,000 metrics), prorated by the hour.
    pub metric_month: f64,
    /// 1,000 PutMetricData requests.
    pub put_metric_data_per_1000: f64,
    /// 1,000 metrics requested with GetMetricData.
    pub get_metric_data_per_1000_metrics: f64,
    /// Standard-resolution alarm-month (per metric).
    pub alarm_month: f64,
    /// Composite alarm-month.
    pub composite_alarm_month: f64,
    /// Dashboard-month beyond the account's first three.
    pub dashboard_month: f64,
    /// Dashboards free per account.
    pub free_dashboards: u32,
    /// Lambda: 1 million requests.
    pub lambda_per_million_requests: f64,
    /// Lambda on arm64: one GB-second.
    pub lambda_arm64_gb_second: f64,
    /// CloudWatch Logs: one GB ingested (standard class).
    pub logs_ingest_gb: f64,
    /// CloudWatch Logs: one GB-month stored.
    pub logs_store_gb_month: f64,
    /// SNS: email notifications free per month.
    pub sns_free_emails: u32,
    /// SSM Parameter Store: a standard parameter (free).
    pub ssm_standard_parameter_month: f64,
    /// CloudTrail LookupEvents of management events (free).
    pub cloudtrail_lookup: f64,
    /// One CloudWatch Synthetics canary run (the peer this is compared with).
    pub synthetics_run: f64,
    /// ASSUMED, not verified: a month of each metric a Metrics Insights
    /// alarm analyzes (the fleet's alarms; priced apart from standard
    /// alarms, outside their free tier: see the CloudWatch pricing page).
    pub insights_alarm_metric_month: f64,
}

/// The prices the bill uses: us-east-1, as the AWS pricing pages gave them.
pub const PRICES: Prices = Prices {
    region: "us-east-1",
    read_on: "2026-12-06",
    metric_month: 0.30,
    put_metric_data_per_1000: 0.01,
    get_metric_data_per_1000_metrics: 0.01,
    alarm_month: 0.10,
    composite_alarm_month: 0.50,
    dashboard_month: 3.00,
    free_dashboards: 3,
    lambda_per_million_requests: 0.20,
    lambda_arm64_gb_second: 0.000_013_333_4,
    logs_ingest_gb: 0.50,
    logs_store_gb_month: 0.03,
    sns_free_emails: 1_000,
    ssm_standard_parameter_month: 0.0,
    cloudtrail_lookup: 0.0,
    synthetics_run: 0.0012,
    insights_alarm_metric_month: 0.10,
};

/// Minutes in an average month (30.4 days).
pub const MINUTES_PER_MONTH: f64 = 43_800.0;

/// The estimate.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct Estimate {
    /// Schedule interval in minutes.
    pub schedule_minutes: u32,
    /// Detail level.
    pub detail: Detail,
    /// (table, region) pairs probed (replica targets count their home only).
    pub probe_series: usize,
    /// Metric + dimension combinations in a healthy month.
    pub healthy_metrics: usize,
    /// ... in a month where every failure class shows up.
    pub worst_case_metrics: usize,
    /// Names of the healthy month's metrics, with dimensions.
    pub healthy: Vec<String>,
    /// Runs per month.
    pub runs_per_month: f64,
    /// PutMetricData requests per month.
    pub requests_per_month: f64,
    /// Estimated USD per month, healthy.
    pub usd_healthy: f64,
    /// Estimated USD per month, worst case.
    pub usd_worst_case: f64,
    /// Alarms of the SAM application.
    pub alarms: usize,
    /// Their USD per month.
    pub usd_alarms: f64,
    /// Whether the replica targets' regions are unknown until run time.
    pub has_replica_targets: bool,
    /// Whether a run with an authentication failure reads the account's
    /// `UserErrors` (GetMetricData, one metric per failing region).
    pub account_errors_read: bool,
    /// CloudTrail LookupEvents calls a run with a denial makes at most
    /// ("what changed"; 0 when off). Looking up management events is free.
    pub cloudtrail_calls_per_denied_run: u32,
}

/// The by-`Class` series a month can show when every failure class occurs.
fn class_series() -> usize {
    let auth_classes = Class::ALL
        .iter()
        .filter(|c| c.is_auth() || **c == Class::AccessDenied)
        .count();
    let failure_classes = Class::ALL
        .iter()
        .filter(|c| **c != Class::Ok && **c != Class::CredentialsExpiring)
        .count();
    let per_class: usize = CONTRACT
        .iter()
        .filter(|m| {
            m.dimension_sets
                .contains(&crate::metrics::contract::CLASS_DIMENSIONS)
        })
        .map(|m| {
            if m.name == "AuthFailures" {
                auth_classes
            } else {
                failure_classes
            }
        })
        .sum();
    per_class
}

/// Estimates the CloudWatch cost of a configuration whose canary runs in
/// `own_region` (the region of targets that name none).
pub fn estimate(config: &Config, own_region: &Region, schedule_minutes: u32) -> Estimate {
    let mut series: Vec<String> = Vec::new();
    let mut has_replicas = false;
    for unit in plan(config, own_region) {
        has_replicas |= matches!(unit.placement, Placement::Replicas { .. });
        for id in unit.planned() {
            series.push(format!(
                "{}/{}/{}",
                id.table.name(),
                id.region,
                id.probe.as_str()
            ));
        }
    }
    series.sort();
    series.dedup();
    // Run-level series go out every run; CredentialSecondsToExpiry only
    // when the expiry is known, counted here as an upper bound. Series that
    // appear only on failure (ConfigErrors) count in the worst case.
    let run_level = |m: &&crate::metrics::contract::MetricSpec| {
        !m.probe_detail
            && m.dimension_sets
                .contains(&crate::metrics::contract::RUN_DIMENSIONS)
    };
    let mut healthy: Vec<String> = CONTRACT
        .iter()
        .filter(run_level)
        .filter(|m| m.published != Published::OnFailure)
        .map(|m| m.name.to_string())
        .collect();
    let on_failure = CONTRACT
        .iter()
        .filter(run_level)
        .filter(|m| m.published == Published::OnFailure)
        .count();
    let per_class = class_series() + on_failure;
    let dimensionless = healthy.len();
    let mut per_probe = 0;
    if config.metrics.detail == Detail::Probe {
        for m in CONTRACT.iter().filter(|m| m.probe_detail) {
            healthy.push(format!(
                "{} x {} (Table, Region, Probe)",
                m.name,
                series.len()
            ));
            per_probe += series.len();
        }
    }
    let healthy_metrics = dimensionless + per_probe;
    let worst = healthy_metrics + per_class;
    let runs = MINUTES_PER_MONTH / f64::from(schedule_minutes.max(1));
    let datums_per_run = dimensionless + per_probe;
    let requests_per_run = match config.metrics.sink {
        SinkKind::Cloudwatch | SinkKind::Auto => datums_per_run
            .div_ceil(crate::metrics::sinks::MAX_DATUMS_PER_REQUEST)
            .max(1),
        _ => 0,
    } as f64;
    let requests = runs * requests_per_run;
    let usd = |metrics: usize| {
        let m = if config.metrics.sink == SinkKind::None {
            0
        } else {
            metrics
        };
        m as f64 * PRICES.metric_month + requests / 1000.0 * PRICES.put_metric_data_per_1000
    };
    Estimate {
        schedule_minutes,
        detail: config.metrics.detail,
        probe_series: series.len(),
        healthy_metrics,
        worst_case_metrics: worst,
        healthy,
        runs_per_month: runs.round(),
        requests_per_month: requests.round(),
        usd_healthy: (usd(healthy_metrics) * 100.0).round() / 100.0,
        usd_worst_case: (usd(worst) * 100.0).round() / 100.0,
        alarms: TEMPLATE_ALARMS,
        usd_alarms: (TEMPLATE_ALARMS as f64 * PRICES.alarm_month * 100.0).round() / 100.0,
        has_replica_targets: has_replicas,
        account_errors_read: config.account_errors.enabled,
        cloudtrail_calls_per_denied_run: if config.what_changed.enabled {
            config.what_changed.max_calls.get()
        } else {
            0
        },
    }
}

impl Estimate {
    /// Human rendering.
    pub fn render_human(&self) -> String {
        let mut s = String::new();
        let _ = writeln!(
            s,
            "Metrics for a run every {} min, detail \"{}\":",
            self.schedule_minutes,
            self.detail.as_str()
        );
        for m in &self.healthy {
            let _ = writeln!(s, "  {m}");
        }
        let _ = writeln!(s, "Unique metrics: {} in a healthy month, up to {} when every failure class occurs (by-Class series)", self.healthy_metrics, self.worst_case_metrics);
        let _ = writeln!(s, "Table/region/probe combinations: {}", self.probe_series);
        let _ = writeln!(
            s,
            "Runs per month: {:.0}; PutMetricData requests per month: {:.0}",
            self.runs_per_month, self.requests_per_month
        );
        let _ = writeln!(
            s,
            "Estimated CloudWatch metrics cost: ${:.2}/month healthy, ${:.2}/month worst case",
            self.usd_healthy, self.usd_worst_case
        );
        let _ = writeln!(
            s,
            "Alarms of the SAM application: {} standard alarms, ${:.2}/month; with the healthy metrics ${:.2}/month",
            self.alarms,
            self.usd_alarms,
            self.usd_healthy + self.usd_alarms
        );
        let p = PRICES;
        let _ = writeln!(
            s,
            "(${:.2} per metric-month, ${:.2} per 1,000 requests, ${:.2} per alarm-month; the whole bill: `bill --config`)",
            p.metric_month, p.put_metric_data_per_1000, p.alarm_month
        );
        if self.account_errors_read {
            let _ = writeln!(
                s,
                "GetMetricData (does the account see it too?): one metric per failing region per run with an authentication failure, none in a healthy run; ${:.2} per 1,000 metrics",
                p.get_metric_data_per_1000_metrics
            );
        }
        let _ = writeln!(
            s,
            "Opt-in WatchAppErrors=true (apps failing while the canary is healthy): 1 alarm ${:.2} + 1 composite alarm ${:.2} a month",
            p.alarm_month,
            p.composite_alarm_month
        );
        if self.cloudtrail_calls_per_denied_run > 0 {
            let _ = writeln!(
                s,
                "CloudTrail LookupEvents (what changed): at most {} calls per run with a denial, none in a healthy run; $0.00 (looking up management events is free)",
                self.cloudtrail_calls_per_denied_run
            );
        }
        if self.has_replica_targets {
            let _ = writeln!(s, "Note: \"replicas\" targets are counted in their home region only; each replica region adds its own series with detail \"probe\".");
        }
        s
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn own() -> Region {
        Region::parse("us-east-1").unwrap()
    }

    fn config(tables: usize, regions: &[&str], detail: &str) -> Config {
        let targets: Vec<String> = (0..tables)
            .map(|i| format!("{{\"table\":\"table{i}\"}}"))
            .collect();
        let regions: Vec<String> = regions.iter().map(|r| format!("\"{r}\"")).collect();
        Config::from_json_str(
            &format!(
                "{{\"defaults\":{{\"regions\":[{}]}},\"targets\":[{}],\"metrics\":{{\"detail\":\"{detail}\"}}}}",
                regions.join(","),
                targets.join(",")
            ),
            "t",
        )
        .unwrap()
    }

    #[test]
    fn summary_detail_of_ten_tables_in_three_regions_stays_under_ten_metrics() {
        let e = estimate(
            &config(10, &["us-east-1", "eu-west-1", "ap-south-1"], "summary"),
            &own(),
            5,
        );
        assert!(e.healthy_metrics <= 10, "{e:?}");
        assert!(e.usd_healthy <= 3.0, "{e:?}");
        assert_eq!(e.healthy_metrics, 5, "{e:?}");
        assert!(
            e.render_human().contains("8 standard alarms, $0.80/month"),
            "{}",
            e.render_human()
        );
        assert_eq!(e.probe_series, 30);
        assert!(e.worst_case_metrics > e.healthy_metrics);
    }

    #[test]
    fn probe_detail_scales_with_tables_and_regions() {
        let six = [
            "us-east-1",
            "us-east-2",
            "us-west-2",
            "eu-west-1",
            "eu-central-1",
            "ap-south-1",
        ];
        let e = estimate(&config(40, &six, "probe"), &own(), 5);
        assert_eq!(e.probe_series, 240);
        assert_eq!(e.healthy_metrics, 5 + 480);
        assert!(e.usd_healthy > 100.0);
        assert_eq!(e.runs_per_month, 8760.0);
    }
}
