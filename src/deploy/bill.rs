//! The whole monthly bill of a deployment of one configuration: every line
//! with its quantity and unit price (custom metrics, PutMetricData, alarms,
//! the dashboard, Lambda requests and compute, CloudWatch Logs ingestion and
//! storage, SNS, the SSM parameter, CloudTrail and GetMetricData reads), for
//! a healthy month and for the worst one. Prices are data
//! (`metrics::cost::PRICES`), with the region they hold for and the day
//! they were read; the template's facts
//! the bill relies on (`TEMPLATE`) are checked against template.yaml by
//! tests/infra/template_checks.py, so the two cannot drift.

use crate::classify::{Class, Failure};
use crate::config::{Config, Region};
use crate::metrics::cost::{estimate, Prices, PRICES};
use crate::plan::plan;
use crate::report::{IdentityReport, Outcome, ProbeResult, Report};
use serde::Serialize;
use std::fmt::Write as _;

/// What template.yaml deploys, as the bill prices it.
#[derive(Debug, Clone, Copy, Serialize)]
pub struct TemplateFacts {
    /// The function's MemorySize, MB.
    pub memory_mb: u32,
    /// LogRetentionDays' default.
    pub log_retention_days: u32,
    /// The standard alarms with default parameters.
    pub alarms: usize,
    /// Dashboard's default ("false": opt-in).
    pub dashboard_default: bool,
}

/// template.yaml's facts (checked by template_checks.py).
pub const TEMPLATE: TemplateFacts = TemplateFacts {
    memory_mb: 128,
    log_retention_days: 30,
    alarms: crate::metrics::contract::TEMPLATE_ALARMS,
    dashboard_default: false,
};

/// Lambda's own lines of an invocation (START, END, REPORT): about this
/// many bytes in the text format.
pub const PLATFORM_BYTES_PER_RUN: usize = 340;
/// The runtime's "canary run starting" line (tracing JSON): about this many.
pub const START_LINE_BYTES: usize = 260;
/// Memory of one vCPU in Lambda (CPU is allotted in proportion to memory).
const MB_PER_VCPU: f64 = 1_769.0;
/// CPU per probe on a whole core, from the benchmark (docs/measurements.md).
const CPU_MS_PER_PROBE: f64 = 0.157;
/// Round trips a run waits for beyond its CPU: STS, then the probes'
/// concurrent calls (a DescribeTable and a GetItem in a row).
const ROUND_TRIPS_MS: f64 = 100.0;

/// One line of the bill.
#[derive(Debug, Clone, Serialize)]
pub struct Line {
    /// What is billed.
    pub item: String,
    /// Quantity in a healthy month.
    pub quantity: f64,
    /// Quantity in the worst month.
    pub quantity_worst: f64,
    /// The unit of the quantity.
    pub unit: &'static str,
    /// USD per unit.
    pub unit_price: f64,
    /// USD in a healthy month.
    pub usd: f64,
    /// USD in the worst month.
    pub usd_worst: f64,
    /// Where the quantity comes from.
    pub note: String,
}

/// The bill.
#[derive(Debug, Clone, Serialize)]
pub struct Bill {
    /// Minutes between runs.
    pub schedule_minutes: u32,
    /// Runs a month.
    pub runs_per_month: f64,
    /// Whether the dashboard is counted (Dashboard=true, beyond the free three).
    pub dashboard: bool,
    /// The run's duration priced, ms, and where it comes from.
    pub duration_ms: f64,
    /// Where the duration comes from.
    pub duration_source: String,
    /// Bytes a healthy run logs, and an unhealthy one (every probe failing).
    pub log_bytes_healthy_run: usize,
    /// Bytes an unhealthy run logs.
    pub log_bytes_unhealthy_run: usize,
    /// Every line.
    pub lines: Vec<Line>,
    /// USD a month, healthy.
    pub total: f64,
    /// USD a month, worst case.
    pub total_worst: f64,
    /// The prices and where they hold.
    pub prices: Prices,
    /// The template's facts.
    pub template: TemplateFacts,
}

/// What the bill may be told beyond the configuration.
#[derive(Debug, Clone, Default)]
pub struct Options {
    /// Minutes between runs.
    pub schedule_minutes: u32,
    /// Count the dashboard (beyond the account's free three).
    pub dashboard: bool,
    /// A measured duration (the REPORT lines' Duration), ms.
    pub duration_ms: Option<f64>,
}

fn round(x: f64) -> f64 {
    (x * 100.0).round() / 100.0
}

/// The report lines a run of `config` writes, healthy and with every probe
/// failing, in bytes: rendered by the handler's own code.
fn log_bytes(config: &Config, own_region: &Region) -> (usize, usize) {
    let ids: Vec<_> = plan(config, own_region)
        .iter()
        .flat_map(|u| u.planned())
        .collect();
    let identity = IdentityReport {
        outcome: Outcome::Ok,
        arn: Some("arn:aws:sts::123456789012:assumed-role/dynamodb-auth-canary-CanaryRole-ABCDEFGHIJKL/dynamodb-auth-canary-CanaryFunction-ABCDEFGHIJKL".into()),
        account: Some("123456789012".into()),
        ..IdentityReport::default()
    };
    let healthy = Report::new(
        identity.clone(),
        ids.iter()
            .map(|id| ProbeResult::ok(id.clone(), 12.3))
            .collect(),
        own_region.to_string(),
        150.0,
    );
    let denied = Failure::new(
        Class::AccessDenied,
        "User: arn:aws:sts::123456789012:assumed-role/dynamodb-auth-canary-CanaryRole-ABCDEFGHIJKL/session is not authorized to perform: dynamodb:GetItem on resource: arn:aws:dynamodb:us-east-1:123456789012:table/orders because no identity-based policy allows the dynamodb:GetItem action",
    );
    let unhealthy = Report::new(
        identity,
        ids.iter()
            .map(|id| ProbeResult::from_failure(id.clone(), Outcome::Fail, denied.clone(), 12.3))
            .collect(),
        own_region.to_string(),
        150.0,
    );
    let bytes = |r: &Report| {
        crate::lambda::run_lines(r, "canary", false)
            .iter()
            .map(|l| l.len() + 1)
            .sum::<usize>()
            + PLATFORM_BYTES_PER_RUN
            + START_LINE_BYTES
    };
    (bytes(&healthy), bytes(&unhealthy))
}

/// The bill of deploying `config` in `own_region`.
pub fn bill(config: &Config, own_region: &Region, opts: &Options) -> Bill {
    let p = PRICES;
    let e = estimate(config, own_region, opts.schedule_minutes);
    let runs = e.runs_per_month;
    let probes = plan(config, own_region)
        .iter()
        .map(|u| u.planned().len())
        .sum::<usize>();
    let (duration_ms, duration_source) = match opts.duration_ms {
        Some(d) => (d, "given (--duration-ms)".to_string()),
        None => {
            let share = f64::from(TEMPLATE.memory_mb) / MB_PER_VCPU;
            let d = ROUND_TRIPS_MS + probes as f64 * CPU_MS_PER_PROBE / share;
            (
                d,
                format!(
                    "estimated: {ROUND_TRIPS_MS:.0} ms of round trips + {probes} probes x {CPU_MS_PER_PROBE} ms of CPU (the benchmark's, docs/measurements.md) / {share:.3} of a vCPU at {} MB; pass --duration-ms with your function's REPORT Duration",
                    TEMPLATE.memory_mb
                ),
            )
        }
    };
    let (log_ok, log_bad) = log_bytes(config, own_region);
    let gb = |bytes: f64| bytes / 1e9;
    let mut lines = Vec::new();
    let mut line = |item: &str, q: f64, qw: f64, unit: &'static str, price: f64, note: String| {
        lines.push(Line {
            item: item.to_string(),
            quantity: q,
            quantity_worst: qw,
            unit,
            unit_price: price,
            usd: q * price,
            usd_worst: qw * price,
            note,
        });
    };
    line(
        "CloudWatch custom metrics",
        e.healthy_metrics as f64,
        e.worst_case_metrics as f64,
        "metric-months",
        p.metric_month,
        "healthy: the heartbeat and the paging counts; worst: every series, every by-Class one included, all month".into(),
    );
    line(
        "PutMetricData requests",
        e.requests_per_month / 1000.0,
        e.requests_per_month / 1000.0,
        "1,000 requests",
        p.put_metric_data_per_1000,
        "one request a run (1,000 datums each at most)".into(),
    );
    line(
        "CloudWatch alarms",
        TEMPLATE.alarms as f64,
        TEMPLATE.alarms as f64,
        "alarm-months",
        p.alarm_month,
        "template.yaml's standard alarms (WatchAppErrors=true adds 1 alarm and a composite: $0.60)"
            .into(),
    );
    let dash = if opts.dashboard { 1.0 } else { 0.0 };
    line(
        "CloudWatch dashboard",
        dash,
        dash,
        "dashboard-months",
        p.dashboard_month,
        format!(
            "Dashboard={}: free within the account's first {}, ${:.2} a month beyond",
            opts.dashboard, p.free_dashboards, p.dashboard_month
        ),
    );
    line(
        "Lambda requests",
        runs / 1e6,
        runs / 1e6,
        "million requests",
        p.lambda_per_million_requests,
        format!("{runs:.0} scheduled runs"),
    );
    let gb_seconds = runs * duration_ms / 1000.0 * f64::from(TEMPLATE.memory_mb) / 1024.0;
    line(
        "Lambda compute (arm64)",
        gb_seconds,
        runs * (duration_ms + 3_000.0) / 1000.0 * f64::from(TEMPLATE.memory_mb) / 1024.0,
        "GB-seconds",
        p.lambda_arm64_gb_second,
        format!(
            "{duration_ms:.0} ms a run at {} MB; worst: 3 s more a run (look-ups after failures)",
            TEMPLATE.memory_mb
        ),
    );
    line(
        "CloudWatch Logs ingestion",
        gb(runs * log_ok as f64),
        gb(runs * log_bad as f64),
        "GB",
        p.logs_ingest_gb,
        format!(
            "{log_ok} bytes a healthy run, {log_bad} a run with every probe failing (the handler's own lines for this configuration, and Lambda's platform lines)"
        ),
    );
    let months_kept = f64::from(TEMPLATE.log_retention_days) / 30.0;
    line(
        "CloudWatch Logs storage",
        gb(runs * log_ok as f64) * months_kept,
        gb(runs * log_bad as f64) * months_kept,
        "GB-months",
        p.logs_store_gb_month,
        format!(
            "LogRetentionDays {} (uncompressed: an upper bound)",
            TEMPLATE.log_retention_days
        ),
    );
    line(
        "SNS notifications",
        0.0,
        0.0,
        "notifications",
        0.0,
        format!(
            "none in a healthy month; a page is a few emails, the first {} a month are free",
            p.sns_free_emails
        ),
    );
    line(
        "SSM parameter (the configuration)",
        1.0,
        1.0,
        "standard parameters",
        p.ssm_standard_parameter_month,
        "standard tier, when the configuration is in SSM".into(),
    );
    let lookups = f64::from(e.cloudtrail_calls_per_denied_run);
    line(
        "CloudTrail LookupEvents (what changed)",
        0.0,
        runs * lookups,
        "calls",
        p.cloudtrail_lookup,
        "only after a denial; management-event history is free".into(),
    );
    let regions = crate::account_errors::MAX_REGIONS.min(
        plan(config, own_region)
            .iter()
            .map(|u| u.first_region().clone())
            .collect::<std::collections::BTreeSet<_>>()
            .len()
            .max(1),
    );
    let reads = if e.account_errors_read {
        runs * regions as f64 / 1000.0
    } else {
        0.0
    };
    line(
        "GetMetricData (does the account see it too?)",
        0.0,
        reads,
        "1,000 metrics",
        p.get_metric_data_per_1000_metrics,
        "only after an authentication failure: one metric per failing region".into(),
    );
    let total = round(lines.iter().map(|l| l.usd).sum());
    let total_worst = round(lines.iter().map(|l| l.usd_worst).sum());
    for l in &mut lines {
        l.usd = (l.usd * 10_000.0).round() / 10_000.0;
        l.usd_worst = (l.usd_worst * 10_000.0).round() / 10_000.0;
    }
    Bill {
        schedule_minutes: opts.schedule_minutes,
        runs_per_month: runs,
        dashboard: opts.dashboard,
        duration_ms,
        duration_source,
        log_bytes_healthy_run: log_ok,
        log_bytes_unhealthy_run: log_bad,
        lines,
        total,
        total_worst,
        prices: p,
        template: TEMPLATE,
    }
}

impl Bill {
    /// The bill for people.
    pub fn render_human(&self) -> String {
        let mut s = String::new();
        let _ = writeln!(
            s,
            "Monthly bill, a run every {} min ({:.0} runs), prices of {} read on {}:",
            self.schedule_minutes, self.runs_per_month, self.prices.region, self.prices.read_on
        );
        let _ = writeln!(
            s,
            "{:<46} {:>12} {:>16} {:>11} {:>9} {:>9}",
            "item", "quantity", "unit", "unit price", "healthy", "worst"
        );
        for l in &self.lines {
            let _ = writeln!(
                s,
                "{:<46} {:>12} {:>16} {:>11} {:>9} {:>9}",
                l.item,
                trim(l.quantity),
                l.unit,
                format!("${}", trim(l.unit_price)),
                format!("${:.2}", l.usd),
                format!("${:.2}", l.usd_worst)
            );
            let _ = writeln!(s, "    {}", l.note);
        }
        let _ = writeln!(
            s,
            "Total: ${:.2} a month healthy, ${:.2} in the worst month (one CloudWatch Synthetics canary at this schedule: ${:.2})",
            self.total,
            self.total_worst,
            self.runs_per_month * self.prices.synthetics_run
        );
        if !self.dashboard {
            let _ = writeln!(
                s,
                "With Dashboard=true: ${:.2} beyond the account's first {} dashboards (free within them)",
                self.total + self.prices.dashboard_month,
                self.prices.free_dashboards
            );
        }
        let _ = writeln!(s, "Duration: {}", self.duration_source);
        s
    }
}

fn trim(x: f64) -> String {
    if x == 0.0 {
        "0".into()
    } else if x >= 100.0 {
        format!("{x:.0}")
    } else if x >= 0.01 {
        format!("{x:.2}")
    } else {
        format!("{x:.6}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config(tables: usize, regions: &[&str]) -> Config {
        let targets: Vec<String> = (0..tables)
            .map(|i| format!("{{\"table\":\"table{i}\"}}"))
            .collect();
        let regions: Vec<String> = regions.iter().map(|r| format!("\"{r}\"")).collect();
        Config::from_json_str(
            &format!(
                "{{\"defaults\":{{\"regions\":[{}]}},\"targets\":[{}]}}",
                regions.join(","),
                targets.join(",")
            ),
            "c.json",
        )
        .unwrap()
    }

    fn default_bill(dashboard: bool) -> Bill {
        let c = config(10, &["us-east-1", "eu-west-1", "ap-south-1"]);
        let opts = Options {
            schedule_minutes: 5,
            dashboard,
            duration_ms: None,
        };
        bill(&c, &Region::parse("us-east-1").unwrap(), &opts)
    }

    #[test]
    fn the_default_deployment_costs_at_most_three_dollars_all_in() {
        let b = default_bill(false);
        assert!(b.total <= 3.00, "{}", b.render_human());
        let synthetics = b.runs_per_month * PRICES.synthetics_run;
        assert!((synthetics - 10.51).abs() < 0.01);
        assert!(
            b.total_worst < synthetics,
            "worst case below one Synthetics canary: {}",
            b.render_human()
        );
        let items: Vec<&str> = b.lines.iter().map(|l| l.item.as_str()).collect();
        for want in [
            "CloudWatch custom metrics",
            "PutMetricData requests",
            "CloudWatch alarms",
            "CloudWatch dashboard",
            "Lambda requests",
            "Lambda compute (arm64)",
            "CloudWatch Logs ingestion",
            "CloudWatch Logs storage",
            "SNS notifications",
            "SSM parameter (the configuration)",
            "CloudTrail LookupEvents (what changed)",
        ] {
            assert!(items.contains(&want), "{want} missing: {items:?}");
        }
        // The dashboard is the one thing that would break the budget.
        let d = default_bill(true);
        assert!(
            (d.total - b.total - 3.0).abs() < 0.011,
            "{} {}",
            d.total,
            b.total
        );
        assert!(b.render_human().contains("With Dashboard=true"));
    }

    #[test]
    fn log_bytes_are_the_handlers_own_lines_and_grow_with_failures() {
        let b = default_bill(false);
        assert!(b.log_bytes_healthy_run > PLATFORM_BYTES_PER_RUN + START_LINE_BYTES + 30 * 80);
        assert!(b.log_bytes_unhealthy_run > 2 * b.log_bytes_healthy_run);
        let line = b
            .lines
            .iter()
            .find(|l| l.item == "CloudWatch Logs ingestion")
            .unwrap();
        assert!(line.usd > 0.0 && line.usd < 0.5, "{line:?}");
    }

    #[test]
    fn a_measured_duration_replaces_the_estimate() {
        let c = config(1, &["us-east-1"]);
        let opts = Options {
            schedule_minutes: 5,
            dashboard: false,
            duration_ms: Some(1_000.0),
        };
        let b = bill(&c, &Region::parse("us-east-1").unwrap(), &opts);
        assert_eq!(b.duration_source, "given (--duration-ms)");
        let compute = b
            .lines
            .iter()
            .find(|l| l.item == "Lambda compute (arm64)")
            .unwrap();
        assert!(
            (compute.quantity - 8_760.0 * 0.125).abs() < 1.0,
            "{compute:?}"
        );
    }
}
