//! Does the account see it too? When probes fail authentication, the
//! account's DynamoDB `UserErrors` (every HTTP 400 of the account in a
//! region, throttling and failed conditions excepted) is read for each
//! region with a failure: did the applications' errors rise with the
//! canary's? A signal, not proof: validation errors count too.
//!
//! One GetMetricData call per failing region, only on a run with an
//! authentication failure, inside the run's deadline; a refusal, a
//! throttle or a timeout leaves the results and the run's health as they
//! were and says why.

use crate::aws::call::{bounded, op_config};
use crate::aws::AwsClients;
use crate::config::AccountErrorsConfig;
use crate::report::{AccountErrors, RegionErrors, Report};
use std::time::{Duration, Instant};

/// The recent window, in minutes (DynamoDB publishes a datapoint a minute,
/// a few minutes late).
pub const RECENT_MINUTES: i64 = 15;
/// The baseline before it, in minutes.
pub const BASELINE_MINUTES: i64 = 60;
/// Regions read in one run at most.
pub const MAX_REGIONS: usize = 10;
/// Errors of others beyond which a rise counts (and twice the baseline).
pub const RISE_FLOOR: f64 = 5.0;
const CALL_BUDGET: Duration = Duration::from_millis(3_000);
const MIN_TIME: Duration = Duration::from_millis(300);

/// Whether the other callers' errors rose: at least [`RISE_FLOOR`] beyond
/// the canary's own, and more than twice the baseline's rate.
pub fn rose(recent: f64, own: f64, baseline_per_window: f64) -> bool {
    let others = (recent - own).max(0.0);
    others >= RISE_FLOOR && others > 2.0 * baseline_per_window
}

/// Reads `UserErrors` for each region with an authentication failure and
/// attaches what it found to the report and to those regions' probes.
pub async fn look(
    clients: &AwsClients,
    settings: &AccountErrorsConfig,
    report: &mut Report,
    deadline: Instant,
) {
    if !settings.enabled {
        return;
    }
    let mut regions: Vec<(String, u32)> = Vec::new();
    for p in report.probes.iter().filter(|p| p.is_auth_failure()) {
        let r = p.id.region.to_string();
        // Every failed probe sent at least one request DynamoDB answered 400.
        match regions.iter_mut().find(|(x, _)| *x == r) {
            Some((_, n)) => *n += 1,
            None => regions.push((r, 1)),
        }
    }
    if regions.is_empty() {
        return;
    }
    let mut out = AccountErrors::default();
    let end = crate::clock::epoch_seconds() as i64;
    for (region, own) in regions.into_iter() {
        if out.regions.len() >= MAX_REGIONS {
            out.problem
                .get_or_insert_with(|| format!("only the first {MAX_REGIONS} regions were read"));
            break;
        }
        let left = deadline.saturating_duration_since(Instant::now());
        if left < MIN_TIME {
            out.problem
                .get_or_insert_with(|| "no time was left before the run's deadline".into());
            break;
        }
        match read(clients, &region, end, left.min(CALL_BUDGET)).await {
            Ok((recent, before)) => {
                let baseline = before * RECENT_MINUTES as f64 / BASELINE_MINUTES as f64;
                let rose = rose(recent, f64::from(own), baseline);
                let summary = format!(
                    "UserErrors in {region}: {recent:.0} in the last {RECENT_MINUTES} min (the canary's own: {own} this run), {baseline:.1} per {RECENT_MINUTES} min in the hour before: {}",
                    if rose {
                        "the account's applications are failing too (a signal: validation errors count as well)"
                    } else {
                        "no rise: the canary may be failing alone"
                    }
                );
                out.regions.push(RegionErrors {
                    region,
                    recent,
                    baseline_per_window: baseline,
                    own_this_run: own,
                    rose,
                    summary,
                });
            }
            Err(why) => {
                out.problem.get_or_insert(why);
            }
        }
    }
    for p in report.probes.iter_mut().filter(|p| p.is_auth_failure()) {
        let region = p.id.region.to_string();
        p.account_errors = out
            .regions
            .iter()
            .find(|r| r.region == region)
            .map(|r| r.summary.clone())
            .or_else(|| {
                out.problem
                    .as_ref()
                    .map(|why| format!("UserErrors was not read: {why}"))
            });
    }
    report.account_errors = Some(out);
}

/// `UserErrors` sums: the last [`RECENT_MINUTES`], and the
/// [`BASELINE_MINUTES`] before them.
async fn read(
    clients: &AwsClients,
    region: &str,
    end: i64,
    budget: Duration,
) -> Result<(f64, f64), String> {
    use aws_sdk_cloudwatch::types::{Metric, MetricDataQuery, MetricStat};
    let start = end - (RECENT_MINUTES + BASELINE_MINUTES) * 60;
    let query = MetricDataQuery::builder()
        .id("usererrors")
        .metric_stat(
            MetricStat::builder()
                .metric(
                    Metric::builder()
                        .namespace("AWS/DynamoDB")
                        .metric_name("UserErrors")
                        .build(),
                )
                .period(60)
                .stat("Sum")
                .build(),
        )
        .return_data(true)
        .build();
    let answer = bounded(
        "CloudWatch GetMetricData",
        budget,
        clients
            .cloudwatch(region)
            .get_metric_data()
            .metric_data_queries(query)
            .start_time(aws_smithy_types::DateTime::from_secs(start))
            .end_time(aws_smithy_types::DateTime::from_secs(end))
            .customize()
            .config_override(op_config!(aws_sdk_cloudwatch, budget))
            .send(),
    )
    .await
    .map_err(|f| {
        format!(
            "GetMetricData in {region} failed ({}): {}",
            f.class.as_str(),
            f.message
        )
    })?;
    let split = end - RECENT_MINUTES * 60;
    let (mut recent, mut before) = (0.0, 0.0);
    for r in answer.metric_data_results() {
        for (t, v) in r.timestamps().iter().zip(r.values()) {
            if t.secs() >= split {
                recent += v;
            } else {
                before += v;
            }
        }
    }
    Ok((recent, before))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_rise_is_beyond_the_canarys_own_errors_and_twice_the_baseline() {
        assert!(rose(42.0, 2.0, 1.5));
        assert!(!rose(6.0, 2.0, 0.0), "four of others is below the floor");
        assert!(rose(7.0, 2.0, 0.0));
        assert!(
            !rose(30.0, 0.0, 15.0),
            "twice the baseline is not more than it"
        );
        assert!(rose(31.0, 0.0, 15.0));
        assert!(
            !rose(1.0, 3.0, 0.0),
            "the canary's own errors never make a rise"
        );
    }
}
