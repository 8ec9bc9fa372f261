//! One run of the canary: the identity check and every (table, region)
//! chain, concurrently, with bounded concurrency, per-probe timeouts and a
//! run deadline. A chain not finished by the deadline is reported as
//! `timeout`, never left out. The folder owns the conductor (this file) and
//! its bounded pool of work (`pool`).

pub mod pool;

use crate::aws::clients::AwsClients;
use crate::classify::{Class, Failure};
use crate::clock::elapsed_ms;
use crate::config::{Config, Region};
use crate::plan::{plan, Unit};
use crate::probe::assume::RoleCache;
use crate::probe::identity::check_identity;
use crate::probe::ChainSpec;
use crate::report::{IdentityReport, Outcome, ProbeResult, Report, Warning};
use crate::run::pool::{Limits, Pool, Runner, UnitState, Work};
use std::sync::Arc;
use std::time::Instant;

/// A signal that ends a run early (SIGINT or SIGTERM on the command line):
/// what finished is reported, the rest as not run.
#[derive(Debug, Clone, Default)]
pub struct Interrupt(Option<tokio::sync::watch::Receiver<Option<i32>>>);

impl Interrupt {
    /// An interrupt and the sender that fires it with a signal number.
    pub fn channel() -> (tokio::sync::watch::Sender<Option<i32>>, Interrupt) {
        let (tx, rx) = tokio::sync::watch::channel(None);
        (tx, Interrupt(Some(rx)))
    }

    /// The signal that fired, if one did.
    pub fn fired(&self) -> Option<i32> {
        self.0.as_ref().and_then(|rx| *rx.borrow())
    }

    /// Waits for the signal; never returns without a sender.
    async fn wait(&self) -> i32 {
        if let Some(rx) = &self.0 {
            let mut rx = rx.clone();
            loop {
                if let Some(signal) = *rx.borrow_and_update() {
                    return signal;
                }
                if rx.changed().await.is_err() {
                    break;
                }
            }
        }
        std::future::pending().await
    }
}

/// Why a part of the run stopped before it finished.
enum Stop {
    Deadline,
    Interrupted(i32),
}

/// `fut`, unless the deadline passes or the run is interrupted first.
async fn until<T>(
    deadline: Instant,
    interrupt: &Interrupt,
    fut: impl std::future::Future<Output = T>,
) -> Result<T, Stop> {
    // Biased: what has finished is reported as finished, even when the
    // signal is already there too.
    tokio::select! {
        biased;
        r = tokio::time::timeout_at(deadline.into(), fut) => r.map_err(|_| Stop::Deadline),
        s = interrupt.wait() => Err(Stop::Interrupted(s)),
    }
}

fn signal_name(signal: i32) -> String {
    match signal {
        2 => "SIGINT".into(),
        15 => "SIGTERM".into(),
        n => format!("signal {n}"),
    }
}

/// What a process keeps between runs: clients and assumed roles.
#[derive(Debug)]
pub struct Canary {
    /// The AWS clients.
    pub clients: AwsClients,
    /// Assumed roles of cross-account targets.
    pub roles: RoleCache,
    /// CloudTrail answers of recent runs ("what changed").
    pub changes: crate::changes::Cache,
}

impl Canary {
    /// Wraps loaded clients.
    pub fn new(clients: AwsClients) -> Arc<Canary> {
        Arc::new(Canary {
            clients,
            roles: RoleCache::default(),
            changes: crate::changes::Cache::default(),
        })
    }
}

/// Runs the identity check and every probe, finishing by `deadline`.
pub async fn run(
    canary: &Arc<Canary>,
    config: &Config,
    deadline: Instant,
    interrupt: &Interrupt,
) -> Report {
    let started = Instant::now();
    let own_region = canary.clients.region().region.clone();
    let units = plan(config, &own_region);
    // Credentials first: a problem other SDKs would stop at, or a provider
    // that fails, fails the whole run alike, with its own error.
    let resolve_timeout = config
        .defaults
        .timeout_ms
        .duration()
        .min(deadline.saturating_duration_since(started));
    let expiry = match canary.clients.credential_problem() {
        Some(f) => Err(f.clone()),
        None => canary.clients.resolve_credentials(resolve_timeout).await,
    };
    let expires_in = match expiry {
        Ok(e) => e,
        Err(f) => {
            let probes = units
                .iter()
                .flat_map(|u| report_all(u, Outcome::Fail, &f, 0.0))
                .collect();
            let identity = IdentityReport::failed(f, elapsed_ms(started));
            let mut report = Report::new(
                identity,
                probes,
                own_region.to_string(),
                elapsed_ms(started),
            );
            report.trust_roots = Some(canary.clients.trust_roots().clone());
            return report;
        }
    };

    let id_timeout = config.defaults.timeout_ms.duration();
    let id_canary = Arc::clone(canary);
    let expect = config.expect.clone();
    let identity = tokio::spawn(async move {
        check_identity(id_canary.clients.sts(), expect.as_ref(), id_timeout).await
    });

    let pool = Pool::new(
        units,
        Limits {
            concurrency: config.concurrency.get(),
            region_concurrency: config.region_concurrency.get(),
            describe_per_second: config.describe_per_second.get(),
        },
    );
    let chains = Arc::new(Chains {
        canary: Arc::clone(canary),
    });
    let stopped = until(deadline, interrupt, pool.run_all(&chains))
        .await
        .err();
    pool.stop();
    let mut probes = Vec::new();
    for (unit, state) in pool.units.iter().zip(pool.take()) {
        probes.extend(unit_results(
            unit,
            state,
            stopped.as_ref(),
            deadline,
            started,
        ));
    }

    let identity = match until(deadline, interrupt, identity).await {
        Ok(Ok(id)) => id,
        Ok(Err(_)) => IdentityReport::failed(
            Failure::new(
                Class::Other,
                "internal error: the identity task ended abnormally",
            ),
            0.0,
        ),
        Err(Stop::Deadline) => IdentityReport::failed(
            Failure::new(
                Class::Timeout,
                "run deadline reached before GetCallerIdentity answered",
            ),
            elapsed_ms(started),
        ),
        Err(Stop::Interrupted(signal)) => IdentityReport::failed(
            Failure::new(
                Class::Other,
                format!(
                    "interrupted ({}) before GetCallerIdentity answered",
                    signal_name(signal)
                ),
            ),
            elapsed_ms(started),
        ),
    };
    let mut identity = identity;
    identity.credentials_expire_in_seconds = expires_in;
    identity.clock_skew_seconds = canary.clients.clock_skew_seconds();
    judge_clock(&mut identity);
    let mut report = Report::new(
        identity,
        probes,
        own_region.to_string(),
        elapsed_ms(started),
    );
    report.trust_roots = Some(canary.clients.trust_roots().clone());
    add_expiry_warnings(&mut report, config);
    add_clock_warning(&mut report);
    report
}

/// Beyond this skew AWS refuses requests signed by clients that do not
/// correct for it (botocore, the AWS CLI): the run is unhealthy.
pub const CLOCK_SKEW_FAIL_SECONDS: i64 = 300;
/// Beyond this skew the run warns.
pub const CLOCK_SKEW_WARN_SECONDS: i64 = 60;

fn skew_text(skew: i64) -> String {
    format!(
        "this host's clock is {} s {} AWS's",
        skew.abs(),
        if skew > 0 { "behind" } else { "ahead of" }
    )
}

/// The Rust SDK corrects its own signatures for clock skew, so the canary's
/// calls succeed on a host whose clock is off; every other client on the
/// host (boto3, the AWS CLI) fails. Beyond 5 minutes that is a failure.
fn judge_clock(identity: &mut IdentityReport) {
    let Some(skew) = identity.clock_skew_seconds else {
        return;
    };
    if skew.abs() > CLOCK_SKEW_FAIL_SECONDS && identity.outcome == Outcome::Ok {
        let f = Failure::new(
            Class::AuthClockSkew,
            format!("{}: the canary corrects for it, but AWS refuses requests signed more than 5 minutes off by clients that do not (boto3, the AWS CLI, most applications)", skew_text(skew)),
        );
        identity.outcome = Outcome::Fail;
        identity.class = f.class;
        identity.hint = Some(f.hint());
        identity.message = Some(f.message);
    }
}

fn add_clock_warning(report: &mut Report) {
    if let Some(skew) = report.identity.clock_skew_seconds {
        if skew.abs() > CLOCK_SKEW_WARN_SECONDS && skew.abs() <= CLOCK_SKEW_FAIL_SECONDS {
            report.warnings.push(Warning {
                class: Class::AuthClockSkew,
                message: format!("{}: requests fail beyond 5 minutes", skew_text(skew)),
                hint: Class::AuthClockSkew.hint().to_string(),
            });
        }
    }
}

/// A run followed by publishing its metrics under the `Canary` dimension
/// `series`: the one code path of the command line and the Lambda handler.
/// Publishing never changes the run's health; it is bounded by
/// `publish_deadline`.
pub async fn check(
    canary: &Arc<Canary>,
    config: &Config,
    series: &str,
    deadline: Instant,
    publish_deadline: Instant,
    emf_out: &mut (dyn std::io::Write + Send),
    interrupt: &Interrupt,
) -> Report {
    let mut report = run(canary, config, deadline, interrupt).await;
    if interrupt.fired().is_some() {
        // A run cut short by hand is not a run the alarms should see.
        return report;
    }
    // What changed, within what is left of the run's deadline (the first
    // thing dropped when time is short); never changes the run's health.
    crate::changes::look_up(
        &canary.clients,
        &canary.changes,
        &config.what_changed,
        &mut report,
        deadline,
    )
    .await;
    // Does the account see it too? Only where authentication failed.
    crate::account_errors::look(
        &canary.clients,
        &config.account_errors,
        &mut report,
        deadline,
    )
    .await;
    let datums = crate::metrics::contract::datums(&report, &config.metrics, series);
    let outcome = crate::metrics::sinks::publish(
        &canary.clients,
        &config.metrics,
        &datums,
        publish_deadline,
        emf_out,
    )
    .await;
    report.metrics = Some(outcome);
    report
}

fn add_expiry_warnings(report: &mut Report, config: &Config) {
    if let Some(secs) = report.identity.credentials_expire_in_seconds {
        if secs < config.expiry_warning_seconds as i64 {
            report.warnings.push(Warning {
                class: Class::CredentialsExpiring,
                message: format!(
                    "the canary's credentials expire in {secs} s (threshold {} s)",
                    config.expiry_warning_seconds
                ),
                hint: Class::CredentialsExpiring.hint().to_string(),
            });
        }
    }
}

/// How a probe that did not finish is reported: by the run's stop
/// (deadline or interruption), or, when nothing stopped the run, as a task
/// that ended abnormally.
fn stop_failure(
    stopped: Option<&Stop>,
    deadline: Instant,
    started: Instant,
) -> (Outcome, Failure, f64) {
    match stopped {
        Some(Stop::Deadline) => {
            let waited = deadline.saturating_duration_since(started).as_millis();
            (
                Outcome::Fail,
                Failure::new(
                    Class::Timeout,
                    format!("the run's deadline ({waited} ms) passed before this probe finished"),
                ),
                waited as f64,
            )
        }
        Some(Stop::Interrupted(signal)) => (
            Outcome::NotRun,
            Failure::new(
                Class::Other,
                format!(
                    "interrupted ({}) before this probe finished",
                    signal_name(*signal)
                ),
            ),
            elapsed_ms(started),
        ),
        None => (
            Outcome::Fail,
            Failure::new(
                Class::Other,
                "internal error: the probe task ended abnormally",
            ),
            0.0,
        ),
    }
}

/// The same failure reported for each planned probe of a unit.
fn report_all(unit: &Unit, outcome: Outcome, f: &Failure, latency_ms: f64) -> Vec<ProbeResult> {
    unit.planned()
        .into_iter()
        .map(|id| ProbeResult::from_failure(id, outcome, f.clone(), latency_ms))
        .collect()
}

/// The client for a unit in a region: the canary's own, or the target role's.
async fn client_for(
    canary: &Canary,
    unit: &Unit,
    region: &Region,
) -> Result<(aws_sdk_dynamodb::Client, Option<String>), Failure> {
    match &unit.role {
        None => Ok((canary.clients.dynamodb(region.as_str()), None)),
        Some(role) => {
            let (client, assumed) = canary
                .roles
                .client_for(&canary.clients, role, region.as_str(), unit.timeout)
                .await?;
            Ok((client, Some(assumed.arn)))
        }
    }
}

fn all_not_run(unit: &Unit, region: &Region, f: &Failure) -> Vec<ProbeResult> {
    unit.ids_in(region)
        .into_iter()
        .map(|id| ProbeResult::from_failure(id, Outcome::NotRun, f.clone(), 0.0))
        .collect()
}

async fn run_region(canary: &Canary, unit: &Unit, region: &Region) -> Vec<ProbeResult> {
    match client_for(canary, unit, region).await {
        Ok((client, principal)) => {
            crate::probe::run_chain(&client, &ChainSpec::for_unit(unit, region, principal)).await
        }
        Err(f) => all_not_run(unit, region, &f),
    }
}

/// Runs the pool's work against AWS.
struct Chains {
    canary: Arc<Canary>,
}

impl Runner for Chains {
    async fn run(self: &Arc<Self>, pool: &Arc<Pool>, work: Work, region: Region) {
        match work {
            Work::Chain { unit, region: j } => {
                let results = run_region(&self.canary, &pool.units[unit], &region).await;
                pool.record(unit, j, results);
            }
            Work::Discover { unit } => {
                match discover(&self.canary, &pool.units[unit], &region).await {
                    Ok(regions) => pool.discovered(self, unit, regions),
                    Err(results) => pool.discovery_failed(unit, region, results),
                }
            }
        }
    }
}

/// The regions of a replica unit, from DescribeTable in its home region;
/// or the result that reports why they could not be found.
async fn discover(
    canary: &Canary,
    unit: &Unit,
    home: &Region,
) -> Result<Vec<Region>, Vec<ProbeResult>> {
    let (client, principal) = client_for(canary, unit, home)
        .await
        .map_err(|f| all_not_run(unit, home, &f))?;
    let started = Instant::now();
    match crate::probe::describe_for_replicas(&client, unit.table.as_str(), unit.timeout).await {
        Ok(found) => Ok(replica_regions(home, &found)),
        Err(f) => {
            // Discovery failed: report it as the home region's describe.
            let id = unit.id(home, crate::config::ProbeKind::Describe);
            let f = Failure {
                message: format!("replica discovery failed: {}", f.message),
                ..f
            };
            let mut p = ProbeResult::from_failure(id, Outcome::Fail, f, elapsed_ms(started));
            p.principal = principal;
            Err(vec![p])
        }
    }
}

/// A unit's results in region order; what did not finish is reported as
/// the run's stop explains (deadline or interruption), never left out.
fn unit_results(
    unit: &Unit,
    state: UnitState,
    stopped: Option<&Stop>,
    deadline: Instant,
    started: Instant,
) -> Vec<ProbeResult> {
    let missing = |ids: Vec<crate::report::ProbeId>| -> Vec<ProbeResult> {
        let (outcome, f, latency) = stop_failure(stopped, deadline, started);
        ids.into_iter()
            .map(|id| ProbeResult::from_failure(id, outcome, f.clone(), latency))
            .collect()
    };
    match state.regions {
        None => missing(unit.planned()),
        Some(regions) => regions
            .iter()
            .zip(state.done)
            .flat_map(|(r, done)| done.unwrap_or_else(|| missing(unit.ids_in(r))))
            .collect(),
    }
}

/// The regions of a global table: its home region, then each replica once.
/// A replica region the canary does not know is left out with a warning in
/// the log (it cannot be probed by name).
pub fn replica_regions(home: &Region, replicas: &[String]) -> Vec<Region> {
    let mut regions = vec![home.clone()];
    for r in replicas {
        match Region::parse(r.as_str()) {
            Ok(r) if !regions.contains(&r) => regions.push(r),
            Ok(_) => {}
            Err(e) => tracing::warn!(replica = %r, error = %e, "replica region skipped"),
        }
    }
    regions
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn replica_regions_start_at_home_without_duplicates() {
        let home = Region::parse("us-east-1").unwrap();
        let r = replica_regions(
            &home,
            &["eu-west-1".into(), "us-east-1".into(), "ap-south-1".into()],
        );
        let names: Vec<&str> = r.iter().map(Region::as_str).collect();
        assert_eq!(names, ["us-east-1", "eu-west-1", "ap-south-1"]);
    }

    #[test]
    fn a_unit_past_the_deadline_reports_every_planned_probe() {
        let c = Config::from_json_str(
            r#"{"defaults":{"regions":["eu-west-1"]},
                "targets":[{"table":"bbb","regions":"replicas"},{"table":"aaa","probes":["describe","read"]}]}"#,
            "t",
        )
        .unwrap();
        let units = plan(&c, &Region::parse("us-east-1").unwrap());
        let now = Instant::now();
        let d = unit_results(
            &units[0],
            UnitState::default(),
            Some(&Stop::Deadline),
            now,
            now,
        );
        assert_eq!(
            d.len(),
            1,
            "an undiscovered replica target reports its home describe"
        );
        let state = UnitState {
            regions: Some(vec![Region::parse("eu-west-1").unwrap()]),
            done: vec![None],
        };
        let d = unit_results(&units[1], state, Some(&Stop::Deadline), now, now);
        assert_eq!(d.len(), 2);
        assert!(d
            .iter()
            .all(|p| p.class == Class::Timeout && p.outcome == Outcome::Fail));
    }
}
