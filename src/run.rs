//! One run of the canary: the identity check and every (table, region)
//! chain, concurrently, with bounded concurrency, per-probe timeouts and a
//! run deadline. A chain not finished by the deadline is reported as
//! `timeout`, never left out.

use crate::assume::{RoleCache, RoleKey};
use crate::classify::{Class, Failure};
use crate::clients::AwsClients;
use crate::config::{Config, ProbeKind, Regions, Target, DEFAULT_TTL_ATTRIBUTE};
use crate::identity::{check_identity, elapsed_ms};
use crate::probe::{self, ChainSpec};
use crate::report::{Outcome, ProbeResult, Report, Warning};
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::sync::Semaphore;
use tokio::task::JoinSet;

/// What a process keeps between runs: clients and assumed roles.
#[derive(Debug)]
pub struct Canary {
    /// The AWS clients.
    pub clients: AwsClients,
    /// Assumed roles of cross-account targets.
    pub roles: RoleCache,
}

impl Canary {
    /// Wraps loaded clients.
    pub fn new(clients: AwsClients) -> Arc<Canary> {
        Arc::new(Canary {
            clients,
            roles: RoleCache::default(),
        })
    }
}

/// One unit of work: a target in one region, or a target whose regions are
/// discovered from its replicas.
#[derive(Debug, Clone)]
struct Unit {
    target: Target,
    probes: Vec<ProbeKind>,
    /// Known regions; `None` for replica discovery.
    regions: Option<Vec<String>>,
    home: String,
    timeout: Duration,
}

/// Runs the identity check and every probe, finishing by `deadline`.
pub async fn run(canary: &Arc<Canary>, config: &Config, deadline: Instant) -> Report {
    let started = Instant::now();
    let home = config
        .defaults
        .regions
        .first()
        .cloned()
        .unwrap_or_else(|| canary.clients.region().region.clone());
    let units = plan(config, &home, &canary.clients.region().region);

    let id_timeout = Duration::from_millis(config.defaults.timeout_ms);
    let id_canary = Arc::clone(canary);
    let expect = config.expect.clone();
    let identity = tokio::spawn(async move {
        check_identity(id_canary.clients.sts(), expect.as_ref(), id_timeout).await
    });

    let semaphore = Arc::new(Semaphore::new(config.concurrency));
    let mut set = JoinSet::new();
    for (i, unit) in units.iter().cloned().enumerate() {
        let canary = Arc::clone(canary);
        let sem = Arc::clone(&semaphore);
        set.spawn(async move {
            let fut = async {
                match unit.regions.clone() {
                    Some(regions) => fan_out(&canary, &unit, regions, &sem).await,
                    None => run_replicas(&canary, &unit, &sem).await,
                }
            };
            let results = match tokio::time::timeout_at(deadline.into(), fut).await {
                Ok(r) => r,
                Err(_) => deadline_results(&unit, deadline, started),
            };
            (i, results)
        });
    }
    let mut by_unit: Vec<Option<Vec<ProbeResult>>> = vec![None; units.len()];
    while let Some(joined) = set.join_next().await {
        if let Ok((i, r)) = joined {
            by_unit[i] = Some(r);
        }
    }
    let mut probes = Vec::new();
    for (i, r) in by_unit.into_iter().enumerate() {
        // A task that panicked (it should not) is still reported, not dropped.
        probes.extend(r.unwrap_or_else(|| {
            let f = Failure::new(
                Class::Other,
                "internal error: the probe task ended abnormally",
            );
            report_all(&units[i], &planned(&units[i]), Outcome::Fail, &f, 0.0)
        }));
    }

    let identity = match tokio::time::timeout_at(deadline.into(), identity).await {
        Ok(Ok(id)) => id,
        Ok(Err(_)) => crate::report::IdentityReport::failed(
            Failure::new(
                Class::Other,
                "internal error: the identity task ended abnormally",
            ),
            0.0,
        ),
        Err(_) => crate::report::IdentityReport::failed(
            Failure::new(
                Class::Timeout,
                "run deadline reached before GetCallerIdentity answered",
            ),
            elapsed_ms(started),
        ),
    };
    let mut identity = identity;
    identity.credentials_expire_in_seconds =
        tokio::time::timeout_at(deadline.into(), canary.clients.seconds_to_expiry())
            .await
            .ok()
            .flatten();
    let mut report = Report::new(
        identity,
        probes,
        canary.clients.region().region.clone(),
        elapsed_ms(started),
    );
    add_expiry_warnings(&mut report, config);
    report
}

/// A run followed by publishing its metrics: the one code path of the
/// command line and the Lambda handler. Publishing never changes the run's
/// health; it is bounded by `publish_deadline`.
pub async fn check(
    canary: &Arc<Canary>,
    config: &Config,
    deadline: Instant,
    publish_deadline: Instant,
    emf_out: &mut (dyn std::io::Write + Send),
) -> Report {
    let mut report = run(canary, config, deadline).await;
    let datums = crate::metrics::datums(&report, &config.metrics);
    let outcome = crate::sinks::publish(
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

/// One unit per (target, region) for listed regions, so that a slow region
/// cannot hide the results of the others when the deadline passes; one unit
/// per replica target, whose regions are known only after discovery.
fn plan(config: &Config, home: &str, own_region: &str) -> Vec<Unit> {
    let mut units = Vec::new();
    for t in &config.targets {
        let regions = match &t.regions {
            Some(Regions::List(l)) => Some(l.clone()),
            Some(Regions::Keyword(_)) => None,
            None if config.defaults.regions.is_empty() => Some(vec![own_region.to_string()]),
            None => Some(config.defaults.regions.clone()),
        };
        let unit = |regions: Option<Vec<String>>| Unit {
            probes: config.probes_for(t),
            regions,
            home: t.home_region.clone().unwrap_or_else(|| home.to_string()),
            timeout: Duration::from_millis(config.timeout_for(t)),
            target: t.clone(),
        };
        match regions {
            Some(list) => units.extend(list.into_iter().map(|r| unit(Some(vec![r])))),
            None => units.push(unit(None)),
        }
    }
    units
}

/// The (region, probe) pairs a unit would report if it ran to the end.
fn planned(unit: &Unit) -> Vec<(String, ProbeKind)> {
    let regions = unit
        .regions
        .clone()
        .unwrap_or_else(|| vec![unit.home.clone()]);
    regions
        .iter()
        .flat_map(|r| unit.probes.iter().map(move |k| (r.clone(), *k)))
        .collect()
}

fn deadline_results(unit: &Unit, deadline: Instant, started: Instant) -> Vec<ProbeResult> {
    let waited = deadline.saturating_duration_since(started).as_millis();
    let f = Failure::new(
        Class::Timeout,
        format!("the run's deadline ({waited} ms) passed before this probe finished"),
    );
    report_all(unit, &planned(unit), Outcome::Fail, &f, waited as f64)
}

/// The same failure reported for each planned (region, probe) of a unit.
fn report_all(
    unit: &Unit,
    planned: &[(String, ProbeKind)],
    outcome: Outcome,
    f: &Failure,
    latency_ms: f64,
) -> Vec<ProbeResult> {
    planned
        .iter()
        .map(|(region, kind)| {
            ProbeResult::from_failure(
                &unit.target.table,
                region,
                *kind,
                unit.target.expect,
                outcome,
                f.clone(),
                latency_ms,
            )
        })
        .collect()
}

fn spec_for(unit: &Unit, region: &str, principal: Option<String>) -> ChainSpec {
    ChainSpec {
        table: unit.target.table.clone(),
        region: region.to_string(),
        probes: unit.probes.clone(),
        expect: unit.target.expect,
        key: unit.target.key.as_ref().and_then(probe::key_from_json),
        ttl_attribute: unit
            .target
            .ttl_attribute
            .clone()
            .unwrap_or_else(|| DEFAULT_TTL_ATTRIBUTE.to_string()),
        timeout: unit.timeout,
        principal,
    }
}

/// The client for a unit in a region: the canary's own, or the target role's.
async fn client_for(
    canary: &Canary,
    unit: &Unit,
    region: &str,
) -> Result<(aws_sdk_dynamodb::Client, Option<String>), Failure> {
    match &unit.target.role_arn {
        None => Ok((canary.clients.dynamodb(region), None)),
        Some(arn) => {
            let key = RoleKey {
                role_arn: arn.clone(),
                external_id: unit.target.external_id.clone(),
                session_name: unit
                    .target
                    .session_name
                    .clone()
                    .unwrap_or_else(|| "dynamodb-auth-canary".to_string()),
            };
            let (client, role) = canary
                .roles
                .client_for(&canary.clients, &key, region, unit.timeout)
                .await?;
            Ok((client, Some(role.arn)))
        }
    }
}

fn all_not_run(unit: &Unit, region: &str, f: &Failure) -> Vec<ProbeResult> {
    let planned: Vec<(String, ProbeKind)> = unit
        .probes
        .iter()
        .map(|k| (region.to_string(), *k))
        .collect();
    report_all(unit, &planned, Outcome::NotRun, f, 0.0)
}

async fn run_region(canary: &Canary, unit: &Unit, region: &str) -> Vec<ProbeResult> {
    match client_for(canary, unit, region).await {
        Ok((client, principal)) => {
            probe::run_chain(&client, &spec_for(unit, region, principal)).await
        }
        Err(f) => all_not_run(unit, region, &f),
    }
}

async fn run_replicas(canary: &Arc<Canary>, unit: &Unit, sem: &Arc<Semaphore>) -> Vec<ProbeResult> {
    let discovered = {
        let _permit = sem.acquire().await;
        match client_for(canary, unit, &unit.home).await {
            Err(f) => return all_not_run(unit, &unit.home, &f),
            Ok((client, principal)) => {
                let started = Instant::now();
                match probe::describe_for_replicas(&client, &unit.target.table, unit.timeout).await
                {
                    Ok(r) => r,
                    Err(f) => {
                        // Discovery failed: report it as the home region's describe.
                        let mut p = ProbeResult::from_failure(
                            &unit.target.table,
                            &unit.home,
                            ProbeKind::Describe,
                            unit.target.expect,
                            Outcome::Fail,
                            Failure {
                                message: format!("replica discovery failed: {}", f.message),
                                ..f
                            },
                            elapsed_ms(started),
                        );
                        p.principal = principal;
                        return vec![p];
                    }
                }
            }
        }
    };
    let regions = replica_regions(&unit.home, &discovered);
    fan_out(canary, unit, regions, sem).await
}

/// Runs a unit's chains in several regions concurrently, each holding a
/// permit of the run's semaphore, and returns the results in region order.
async fn fan_out(
    canary: &Arc<Canary>,
    unit: &Unit,
    regions: Vec<String>,
    sem: &Arc<Semaphore>,
) -> Vec<ProbeResult> {
    let mut inner = JoinSet::new();
    for (j, region) in regions.into_iter().enumerate() {
        let canary = Arc::clone(canary);
        let sem = Arc::clone(sem);
        let unit = unit.clone();
        inner.spawn(async move {
            let _permit = sem.acquire_owned().await;
            (j, run_region(&canary, &unit, &region).await)
        });
    }
    let mut parts = Vec::new();
    while let Some(Ok(p)) = inner.join_next().await {
        parts.push(p);
    }
    parts.sort_by_key(|(j, _)| *j);
    parts.into_iter().flat_map(|(_, p)| p).collect()
}

/// The regions of a global table: its home region, then each replica once.
pub fn replica_regions(home: &str, replicas: &[String]) -> Vec<String> {
    let mut regions = vec![home.to_string()];
    for r in replicas {
        if !regions.contains(r) {
            regions.push(r.clone());
        }
    }
    regions
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn replica_regions_start_at_home_without_duplicates() {
        let r = replica_regions(
            "us-east-1",
            &["eu-west-1".into(), "us-east-1".into(), "ap-south-1".into()],
        );
        assert_eq!(r, vec!["us-east-1", "eu-west-1", "ap-south-1"]);
    }

    #[test]
    fn plan_expands_defaults_and_keeps_replicas_for_discovery() {
        let c = Config::from_json_str(
            r#"{"defaults":{"regions":["eu-west-1","us-west-2"]},
                "targets":[{"table":"aaa"},{"table":"bbb","regions":"replicas"},{"table":"ccc","regions":["ap-south-1"],"home_region":"ap-south-1"}]}"#,
            "t",
        )
        .unwrap();
        let units = plan(&c, "eu-west-1", "us-east-1");
        assert_eq!(units.len(), 4);
        assert_eq!(units[0].regions.as_deref().unwrap(), ["eu-west-1"]);
        assert_eq!(units[1].regions.as_deref().unwrap(), ["us-west-2"]);
        assert!(units[2].regions.is_none());
        assert_eq!(units[2].home, "eu-west-1");
        assert_eq!(units[3].home, "ap-south-1");
        let d = deadline_results(&units[2], Instant::now(), Instant::now());
        assert_eq!(
            d.len(),
            1,
            "an undiscovered replica target reports its home describe"
        );
        assert!(d
            .iter()
            .all(|p| p.class == Class::Timeout && p.outcome == Outcome::Fail));
    }
}
