//! `fleet`: what to run to put the canary into every account and region of
//! organizational units with one service-managed StackSet
//! (`fleet/canary-stackset.yaml`), and to watch and page from one monitoring
//! account (`fleet/monitoring.yaml`); and what the fleet costs. It prints
//! commands and files for a person to run; it calls nothing.

use crate::config::deployment::sentinel_condition_values;
use crate::config::{AccountId, CanaryName, Config, Region};
use crate::deploy::{parameters, Options};
use crate::error::ConfigError;
use crate::metrics::contract::TEMPLATE_ALARMS;
use crate::metrics::cost::{estimate, PRICES};
use std::fmt::Write as _;

/// The schedules the templates' ScheduleTable has a row for.
pub const SCHEDULES: [u32; 9] = [1, 2, 3, 5, 10, 15, 20, 30, 60];
/// Metrics Insights alarms the monitoring template makes in each region.
pub const FLEET_INSIGHTS_ALARMS: usize = 6;
/// Heartbeat alarms one monitoring stack holds: CloudFormation allows 500
/// resources per template, and the stack has about 15 of its own.
pub const HEARTBEATS_PER_MONITORING_STACK: usize = 450;
/// Time series a Metrics Insights query returns; more make the alarm
/// evaluate PARTIAL_DATA (the queries keep the 500 worst accounts).
pub const INSIGHTS_MAX_SERIES: usize = 500;
/// Metrics one Metrics Insights query processes.
pub const INSIGHTS_MAX_METRICS: usize = 10_000;
/// The fleet sizes every bill shows.
pub const BILL_SIZES: [usize; 3] = [10, 100, 1_000];
/// The heredoc delimiter of the files the output writes.
const EOF: &str = "DYNAMODB_AUTH_CANARY_EOF";

/// The `fleet` command's inputs, as given (validated by [`plan`]).
#[derive(Debug, Clone, Default)]
pub struct Request {
    /// The configuration every account's canary is priced with (and whose
    /// namespace the fleet publishes under), as text, and where it came from.
    pub config: (String, String),
    /// Accounts whose own configuration grants their tables: (account, text, origin).
    pub account_configs: Vec<(String, String, String)>,
    /// Organizational unit (or root) ids the stack set deploys to.
    pub ous: Vec<String>,
    /// Regions of the fleet.
    pub regions: Vec<String>,
    /// The organization's id (o-...).
    pub organization_id: String,
    /// The code buckets' name prefix (the bucket is `<prefix>-<region>`).
    pub code_bucket_prefix: String,
    /// The code's key in each bucket.
    pub code_key: String,
    /// The stack set's name.
    pub stack_set_name: String,
    /// The `Canary` dimension of every account's canary.
    pub canary_name: String,
    /// The SSM parameter each account keeps its configuration in.
    pub ssm_parameter: String,
    /// Minutes between runs.
    pub schedule_minutes: u32,
    /// The monitoring account, when known.
    pub monitoring_account: Option<String>,
    /// The fleet's size in accounts, for the bill.
    pub accounts: Option<usize>,
}

/// One line of the bill: a fleet of `accounts` accounts in `regions` regions.
#[derive(Debug, Clone, PartialEq)]
pub struct Bill {
    /// Accounts.
    pub accounts: usize,
    /// Regions.
    pub regions: usize,
    /// Canaries: accounts × regions.
    pub canaries: usize,
    /// USD per month: the canaries' own metrics and PutMetricData requests.
    pub usd_metrics: f64,
    /// USD per month: each canary's own alarms (template.yaml's eight).
    pub usd_local_alarms: f64,
    /// USD per month: the monitoring account's heartbeats, one per canary.
    pub usd_heartbeats: f64,
    /// USD per month: the Metrics Insights fleet alarms (assumed price).
    pub usd_insights_alarms: f64,
    /// USD per month: one fleet dashboard per region.
    pub usd_dashboards: f64,
    /// Monitoring stacks per region (heartbeats are split over them).
    pub monitoring_stacks_per_region: usize,
}

impl Bill {
    /// The month's total.
    pub fn total(&self) -> f64 {
        self.usd_metrics
            + self.usd_local_alarms
            + self.usd_heartbeats
            + self.usd_insights_alarms
            + self.usd_dashboards
    }
}

/// The bill of a fleet whose every canary runs `config`.
pub fn bill(
    config: &Config,
    region: &Region,
    schedule: u32,
    accounts: usize,
    regions: usize,
) -> Bill {
    let one = estimate(config, region, schedule);
    let canaries = accounts * regions;
    let round = |x: f64| (x * 100.0).round() / 100.0;
    Bill {
        accounts,
        regions,
        canaries,
        usd_metrics: round(canaries as f64 * one.usd_healthy),
        usd_local_alarms: round((canaries * TEMPLATE_ALARMS) as f64 * PRICES.alarm_month),
        usd_heartbeats: round(canaries as f64 * PRICES.alarm_month),
        usd_insights_alarms: round(
            (FLEET_INSIGHTS_ALARMS * canaries) as f64 * PRICES.insights_alarm_metric_month,
        ),
        usd_dashboards: round(regions as f64 * PRICES.dashboard_month),
        monitoring_stacks_per_region: accounts.div_ceil(HEARTBEATS_PER_MONITORING_STACK).max(1),
    }
}

fn flag_err(flag: &str, message: String) -> ConfigError {
    ConfigError::Flag {
        flag: flag.into(),
        message,
    }
}

fn all(s: &str, ok: impl Fn(char) -> bool) -> bool {
    !s.is_empty() && s.chars().all(ok)
}

fn lower_alnum(c: char) -> bool {
    c.is_ascii_lowercase() || c.is_ascii_digit()
}

/// `o-` and 10 to 32 lower-case letters or digits.
fn organization_id(s: &str) -> Result<String, ConfigError> {
    match s.strip_prefix("o-") {
        Some(rest) if (10..=32).contains(&rest.len()) && all(rest, lower_alnum) => Ok(s.into()),
        _ => Err(flag_err(
            "--organization-id",
            format!(
                "\"{s}\" is not an organization id (o- and 10 to 32 lower-case letters or digits)"
            ),
        )),
    }
}

/// An OU id (`ou-xxxx-xxxxxxxx`) or a root id (`r-xxxx`).
fn ou_id(s: &str) -> Result<String, ConfigError> {
    let ok = if let Some(rest) = s.strip_prefix("ou-") {
        match rest.split_once('-') {
            Some((a, b)) => {
                (4..=32).contains(&a.len())
                    && all(a, lower_alnum)
                    && (8..=32).contains(&b.len())
                    && all(b, lower_alnum)
            }
            None => false,
        }
    } else if let Some(rest) = s.strip_prefix("r-") {
        (4..=32).contains(&rest.len()) && all(rest, lower_alnum)
    } else {
        false
    };
    if ok {
        Ok(s.into())
    } else {
        Err(flag_err(
            "--ou",
            format!(
                "\"{s}\" is not an organizational unit id (ou-xxxx-xxxxxxxx) or a root id (r-xxxx)"
            ),
        ))
    }
}

/// What `fleet/code-bucket.yaml` accepts: the region is appended.
fn bucket_prefix(s: &str) -> Result<String, ConfigError> {
    let inner = s.len() >= 3
        && s.len() <= 42
        && all(s, |c| lower_alnum(c) || c == '.' || c == '-')
        && s.starts_with(lower_alnum)
        && s.ends_with(lower_alnum);
    if inner {
        Ok(s.into())
    } else {
        Err(flag_err(
            "--code-bucket-prefix",
            format!("\"{s}\" is not a bucket name prefix (3 to 42 of a-z 0-9 . -, starting and ending with a letter or digit)"),
        ))
    }
}

fn code_key(s: &str) -> Result<String, ConfigError> {
    if s.len() <= 1024 && all(s, |c| c.is_ascii_alphanumeric() || "!_.*'()/-".contains(c)) {
        Ok(s.into())
    } else {
        Err(flag_err(
            "--code-key",
            format!("\"{s}\" is not an S3 key of letters, digits and !_.*'()/-"),
        ))
    }
}

fn stack_set_name(s: &str) -> Result<String, ConfigError> {
    if s.len() <= 100
        && s.starts_with(|c: char| c.is_ascii_alphabetic())
        && all(s, |c| c.is_ascii_alphanumeric() || c == '-')
    {
        Ok(s.into())
    } else {
        Err(flag_err(
            "--stack-set-name",
            format!("\"{s}\" is not a stack set name (a letter, then letters, digits and -, at most 100)"),
        ))
    }
}

fn ssm_parameter(s: &str) -> Result<String, ConfigError> {
    let ok = s.starts_with('/')
        && s.len() <= 1011
        && s[1..]
            .split('/')
            .all(|part| all(part, |c| c.is_ascii_alphanumeric() || "_.-".contains(c)));
    if ok {
        Ok(s.into())
    } else {
        Err(flag_err(
            "--ssm-parameter",
            format!("\"{s}\" is not an SSM parameter name starting with / (e.g. /dynamodb-auth-canary/config)"),
        ))
    }
}

/// A value for the shell: as it is when it is plain, else single-quoted.
fn sh(s: &str) -> String {
    if all(s, |c| c.is_ascii_alphanumeric() || "/._-=:,@+".contains(c)) {
        s.to_string()
    } else {
        format!("'{}'", s.replace('\'', "'\\''"))
    }
}

/// The shell variable of a region: `us-east-1` -> `us_east_1`.
fn var(region: &Region) -> String {
    region.to_string().replace('-', "_")
}

/// `[{"ParameterKey": k, "ParameterValue": v}, ...]`, one entry a line,
/// plus `UsePreviousValue` entries for `keep`.
fn parameter_file(params: &[(String, String)], keep: &[&str]) -> String {
    let mut lines: Vec<String> = params
        .iter()
        .map(|(k, v)| serde_json::json!({"ParameterKey": k, "ParameterValue": v}).to_string())
        .collect();
    lines.extend(
        keep.iter()
            .map(|k| serde_json::json!({"ParameterKey": k, "UsePreviousValue": true}).to_string()),
    );
    format!("[\n  {}\n]", lines.join(",\n  "))
}

/// Parameters the stack set sets for every account, never overridden.
const FLEET_WIDE: [&str; 4] = [
    "CanaryConfig",
    "ConfigParameterName",
    "CanaryName",
    "MetricsNamespace",
];

/// The parameters every account's stack gets unless overridden: its
/// configuration from the SSM parameter the account owns, no table, key or
/// role grant yet (those name the account's resources), the rest as
/// `deploy-params` makes them from the representative configuration, and
/// the fleet's schedule and code.
fn stack_set_parameters(
    req: &Request,
    config: &Config,
    name: &CanaryName,
) -> Result<Vec<(String, String)>, ConfigError> {
    let (text, origin) = &req.config;
    // Any account will do: every parameter that names one is emptied.
    let placeholder = AccountId::parse("000000000000").map_err(|m| flag_err("--config", m))?;
    let region = Region::parse(req.regions.first().map_or("us-east-1", String::as_str))
        .map_err(|m| flag_err("--region", m))?;
    let opts = Options {
        account: placeholder,
        region,
        ssm_parameter: Some(req.ssm_parameter.clone()),
        canary_name: Some(name.clone()),
    };
    let mut p = parameters(config, text, &opts, origin)?;
    for (k, v) in p.iter_mut() {
        if k.starts_with("Slot") || k == "KmsKeyArns" || k == "AssumeRoleArns" {
            v.clear();
        } else if k == "LeadingKeyValues" {
            *v = sentinel_condition_values().join(",");
        } else if k == "CanaryConfig" {
            v.clear();
        }
    }
    p.push(("ScheduleMinutes".into(), req.schedule_minutes.to_string()));
    p.push(("CodeBucketPrefix".into(), req.code_bucket_prefix.clone()));
    p.push(("CodeKey".into(), req.code_key.clone()));
    p.push(("CodeObjectVersion".into(), String::new()));
    p.push(("MonitoringSinkArn".into(), String::new()));
    Ok(p)
}

/// What an account's own configuration overrides in one region: its table
/// grants, key values and the rest `deploy-params` derives from it for that
/// account and region (not the fleet-wide name, namespace and configuration
/// source), keeping the region's sink and code version.
pub fn account_overrides(
    config: &Config,
    text: &str,
    origin: &str,
    account: &AccountId,
    region: &Region,
    ssm: &str,
    name: &CanaryName,
) -> Result<Vec<(String, String)>, ConfigError> {
    let opts = Options {
        account: account.clone(),
        region: region.clone(),
        ssm_parameter: Some(ssm.to_string()),
        canary_name: Some(name.clone()),
    };
    let all = parameters(config, text, &opts, origin)?;
    Ok(all
        .into_iter()
        .filter(|(k, _)| !FLEET_WIDE.contains(&k.as_str()))
        .collect())
}

/// The fleet's plan, as the text `fleet` prints.
pub fn plan(req: &Request) -> Result<String, ConfigError> {
    let (text, origin) = &req.config;
    let config = Config::from_json_str(text, origin)?;
    let org = organization_id(&req.organization_id)?;
    if req.ous.is_empty() {
        return Err(flag_err(
            "--ou",
            "give at least one organizational unit (or root) id".into(),
        ));
    }
    let ous = req
        .ous
        .iter()
        .map(|o| ou_id(o))
        .collect::<Result<Vec<_>, _>>()?;
    if req.regions.is_empty() {
        return Err(flag_err(
            "--region",
            "give at least one region of the fleet".into(),
        ));
    }
    let mut regions: Vec<Region> = Vec::new();
    for r in &req.regions {
        let r = Region::parse(r.as_str()).map_err(|m| flag_err("--region", m))?;
        if regions.contains(&r) {
            return Err(flag_err("--region", format!("{r} is given twice")));
        }
        regions.push(r);
    }
    let prefix = bucket_prefix(&req.code_bucket_prefix)?;
    let key = code_key(&req.code_key)?;
    let set = stack_set_name(&req.stack_set_name)?;
    let ssm = ssm_parameter(&req.ssm_parameter)?;
    let name =
        CanaryName::parse(req.canary_name.as_str()).map_err(|m| flag_err("--canary-name", m))?;
    if !SCHEDULES.contains(&req.schedule_minutes) {
        return Err(flag_err(
            "--schedule-minutes",
            format!(
                "{} is not one of {SCHEDULES:?} (the templates' ScheduleTable)",
                req.schedule_minutes
            ),
        ));
    }
    if let Some(n) = config.name.as_ref().filter(|n| **n != name) {
        return Err(ConfigError::Field {
            origin: origin.clone(),
            path: "name".into(),
            message: format!(
                "is \"{n}\", but the fleet publishes under --canary-name \"{name}\" in every account: remove it or make them equal"
            ),
        });
    }
    let monitoring = req
        .monitoring_account
        .as_ref()
        .map(|a| AccountId::parse(a.as_str()).map_err(|m| flag_err("--monitoring-account", m)))
        .transpose()?
        .map(|a| a.as_str().to_string());
    let namespace = config.metrics.namespace().to_string();
    let mut accounts = Vec::new();
    for (account, text, origin) in &req.account_configs {
        let id = AccountId::parse(account.as_str()).map_err(|m| flag_err("--account-config", m))?;
        if accounts
            .iter()
            .any(|(a, _, _, _): &(AccountId, Config, String, String)| *a == id)
        {
            return Err(flag_err(
                "--account-config",
                format!("account {} is given twice", id.as_str()),
            ));
        }
        let c = Config::from_json_str(text, origin)?;
        if c.metrics.namespace().to_string() != namespace {
            return Err(ConfigError::Field {
                origin: origin.clone(),
                path: "metrics.namespace".into(),
                message: format!(
                    "is \"{}\", but the fleet's namespace is \"{namespace}\" (from {}): one stack set publishes under one namespace",
                    c.metrics.namespace(),
                    req.config.1
                ),
            });
        }
        if let Some(n) = c.name.as_ref().filter(|n| **n != name) {
            return Err(ConfigError::Field {
                origin: origin.clone(),
                path: "name".into(),
                message: format!(
                    "is \"{n}\", but the fleet publishes under --canary-name \"{name}\""
                ),
            });
        }
        accounts.push((id, c, text.clone(), origin.clone()));
    }

    let first = &regions[0];
    let mut s = String::new();
    let w = &mut s;
    let _ = writeln!(
        w,
        "# dynamodb-auth-canary fleet: stack set {set}, OUs {}, regions {}",
        ous.join(" "),
        regions
            .iter()
            .map(ToString::to_string)
            .collect::<Vec<_>>()
            .join(" ")
    );
    let _ = writeln!(
        w,
        "# Nothing below has been run: read it, then run it step by step (docs/fleet.md)."
    );
    let _ = writeln!(
        w,
        "# Steps 1, 3 and 4 run in the stack set's administrator account (the management account,"
    );
    let _ = writeln!(w, "# or a delegated administrator with --call-as DELEGATED_ADMIN); step 2 in the monitoring account.");
    let _ = writeln!(w);
    let _ = writeln!(
        w,
        "## 1. The code: a bucket per region, readable by organization {org} only"
    );
    let _ = writeln!(w, "cargo lambda build --release --arm64 --output-format zip   # target/lambda/dynamodb-auth-canary/bootstrap.zip");
    for r in &regions {
        let bucket = format!("{prefix}-{r}");
        let _ = writeln!(w, "aws cloudformation deploy --region {r} --template-file fleet/code-bucket.yaml --stack-name {set}-code \\\n  --parameter-overrides BucketPrefix={prefix} OrganizationId={org}");
        let _ = writeln!(w, "CODE_VERSION_{}=$(aws s3api put-object --region {r} --bucket {bucket} --key {key} \\\n  --body target/lambda/dynamodb-auth-canary/bootstrap.zip --query VersionId --output text)", var(r));
    }
    let template_key = format!("{set}/canary-stackset.yaml");
    let _ = writeln!(w, "# The package is over the 51,200 bytes --template-body takes: the stack set reads it from S3.");
    let _ = writeln!(w, "aws s3api put-object --region {first} --bucket {prefix}-{first} --key {template_key} --body fleet/canary-stackset.yaml");
    let _ = writeln!(w);

    let _ = writeln!(
        w,
        "## 2. The monitoring account{}: sink, fleet alarms, dashboard, in each region",
        monitoring
            .as_ref()
            .map(|a| format!(" ({a})"))
            .unwrap_or_default()
    );
    let _ = writeln!(w, "# The fleet's accounts, for the heartbeats (in the management account; child OUs are not listed):");
    let _ = writeln!(w, "ACCOUNT_IDS=$(for ou in {}; do aws organizations list-accounts-for-parent --parent-id \"$ou\" \\\n  --query 'Accounts[?Status==`ACTIVE`].Id' --output text; done | tr -s '[:space:]' ',' | sed 's/,$//')", ous.join(" "));
    let _ = writeln!(w, "# One stack holds {HEARTBEATS_PER_MONITORING_STACK} heartbeats (500 resources per template): beyond, deploy it again per {HEARTBEATS_PER_MONITORING_STACK} accounts");
    let _ = writeln!(
        w,
        "# with ExistingSinkArn=$SINK_<region> FleetAlarms=false (docs/fleet.md)."
    );
    for r in &regions {
        let _ = writeln!(w, "aws cloudformation deploy --region {r} --template-file fleet/monitoring.yaml --stack-name {set}-monitoring \\\n  --capabilities CAPABILITY_AUTO_EXPAND --parameter-overrides OrganizationId={org} CanaryName={name} \\\n  MetricsNamespace={} ScheduleMinutes={} \"AccountIds=$ACCOUNT_IDS\"   # and PagerHttpsEndpoint=... PagerEmail=...",
            sh(&namespace), req.schedule_minutes);
        let _ = writeln!(w, "SINK_{}=$(aws cloudformation describe-stacks --region {r} --stack-name {set}-monitoring \\\n  --query \"Stacks[0].Outputs[?OutputKey=='SinkArn'].OutputValue\" --output text)", var(r));
    }
    let _ = writeln!(w);

    let _ = writeln!(
        w,
        "## 3. The stack set: every account of the OUs, now and when it joins (auto-deployment)"
    );
    let _ = writeln!(w, "# Each account's configuration is its SSM parameter {ssm}; no table is granted until step 4.");
    let params = stack_set_parameters(req, &config, &name)?;
    let _ = writeln!(
        w,
        "cat > {set}-parameters.json <<'{EOF}'\n{}\n{EOF}",
        parameter_file(&params, &[])
    );
    let _ = writeln!(w, "aws cloudformation create-stack-set --region {first} --stack-set-name {set} \\\n  --template-url https://{prefix}-{first}.s3.{first}.amazonaws.com/{template_key} \\\n  --permission-model SERVICE_MANAGED --auto-deployment Enabled=true,RetainStacksOnAccountRemoval=false \\\n  --capabilities CAPABILITY_IAM --parameters file://{set}-parameters.json");
    let targets = serde_json::json!({"OrganizationalUnitIds": ous}).to_string();
    for r in &regions {
        let v = var(r);
        let _ = writeln!(w, "cat > {set}-{r}.json <<{EOF}\n[{{\"ParameterKey\": \"MonitoringSinkArn\", \"ParameterValue\": \"$SINK_{v}\"}},\n {{\"ParameterKey\": \"CodeObjectVersion\", \"ParameterValue\": \"$CODE_VERSION_{v}\"}}]\n{EOF}");
        let _ = writeln!(w, "aws cloudformation create-stack-instances --region {first} --stack-set-name {set} --regions {r} \\\n  --deployment-targets '{targets}' --parameter-overrides file://{set}-{r}.json \\\n  --operation-preferences RegionConcurrencyType=PARALLEL,MaxConcurrentPercentage=25,FailureTolerancePercentage=10");
    }
    let _ = writeln!(w);

    let _ = writeln!(w, "## 4. Each account's tables: its configuration in its own SSM parameter, its grants as overrides");
    if accounts.is_empty() {
        let _ = writeln!(w, "# For each account: put its canary.json into {ssm} in each region (in that account), then run");
        let _ = writeln!(w, "# this command again with --account-config <account>=<its canary.json> for its update-stack-instances line.");
    }
    for (account, c, text, origin) in &accounts {
        let id = account.as_str();
        for r in &regions {
            let over = account_overrides(c, text, origin, account, r, &ssm, &name)?;
            let file = format!("{set}-{id}-{r}.json");
            let _ = writeln!(
                w,
                "# account {id}, {r}: in account {id} (its own credentials):"
            );
            let _ = writeln!(w, "aws ssm put-parameter --region {r} --name {ssm} --type String --tier Advanced --overwrite --value file://{}", sh(origin));
            let _ = writeln!(w, "# then in the administrator account:");
            let _ = writeln!(
                w,
                "cat > {file} <<'{EOF}'\n{}\n{EOF}",
                parameter_file(&over, &["MonitoringSinkArn", "CodeObjectVersion"])
            );
            let one = serde_json::json!({"OrganizationalUnitIds": ous, "Accounts": [id], "AccountFilterType": "INTERSECTION"}).to_string();
            let _ = writeln!(w, "aws cloudformation update-stack-instances --region {first} --stack-set-name {set} --regions {r} \\\n  --deployment-targets '{one}' --parameter-overrides file://{file}");
        }
    }
    let _ = writeln!(w);

    let _ = writeln!(
        w,
        "## 5. The bill (USD a month; every canary priced with {origin}, a run every {} min)",
        req.schedule_minutes
    );
    let mut sizes: Vec<usize> = BILL_SIZES.to_vec();
    if let Some(n) = req.accounts.filter(|n| !sizes.contains(n)) {
        sizes.push(n);
        sizes.sort_unstable();
    }
    let _ = writeln!(
        w,
        "# {:>8} {:>9} {:>10} {:>10} {:>10} {:>12} {:>10} {:>11}",
        "accounts", "canaries", "metrics", "local", "heartbeat", "MI alarms*", "dashboard", "total"
    );
    for n in &sizes {
        let b = bill(&config, first, req.schedule_minutes, *n, regions.len());
        let _ = writeln!(
            w,
            "# {:>8} {:>9} {:>10.2} {:>10.2} {:>10.2} {:>12.2} {:>10.2} {:>11.2}",
            b.accounts,
            b.canaries,
            b.usd_metrics,
            b.usd_local_alarms,
            b.usd_heartbeats,
            b.usd_insights_alarms,
            b.usd_dashboards,
            b.total()
        );
    }
    let _ = writeln!(w, "# metrics: each canary's own metrics and requests, billed in its account (`metrics --config`);");
    let _ = writeln!(w, "# local: its {TEMPLATE_ALARMS} alarms; heartbeat: one standard alarm per canary in the monitoring account;");
    let _ = writeln!(w, "# *MI alarms: {FLEET_INSIGHTS_ALARMS} Metrics Insights alarms per region, ASSUMED ${:.2} per analyzed metric", PRICES.insights_alarm_metric_month);
    let _ = writeln!(w, "# (one per account) a month: not verified, see the pricing page; dashboard: one per region, $3 beyond the free three.");
    let _ = writeln!(w, "# Not priced here: the OAM link (see the pricing page's cross-account observability tab), Lambda and SNS");
    let _ = writeln!(w, "# (docs/metrics-and-alarms.md); metrics at the first-tier price (consolidated billing may reach cheaper tiers).");
    if let Some(n) = req.accounts {
        if n > INSIGHTS_MAX_SERIES {
            let _ = writeln!(w, "# {n} accounts: the fleet alarms' queries return at most {INSIGHTS_MAX_SERIES} series (they keep the worst accounts first);");
            let _ = writeln!(w, "# each query processes at most {INSIGHTS_MAX_METRICS} metrics, one per account: the fleet fits one region's alarms up to that.");
        }
        let b = bill(&config, first, req.schedule_minutes, n, regions.len());
        if b.monitoring_stacks_per_region > 1 {
            let _ = writeln!(
                w,
                "# {n} accounts: {} monitoring stacks per region for the heartbeats (step 2).",
                b.monitoring_stacks_per_region
            );
        }
    }
    Ok(s)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config(text: &str) -> Config {
        Config::from_json_str(text, "t").unwrap()
    }

    #[test]
    fn the_bill_grows_with_accounts_times_regions() {
        let c = config(r#"{"targets":[{"table":"orders"}]}"#);
        let r = Region::parse("us-east-1").unwrap();
        let one = estimate(&c, &r, 5);
        let b = bill(&c, &r, 5, 100, 2);
        assert_eq!(b.canaries, 200);
        assert!(
            (b.usd_metrics - 200.0 * one.usd_healthy).abs() < 0.01,
            "{b:?}"
        );
        assert!((b.usd_local_alarms - 200.0 * 0.8).abs() < 0.001, "{b:?}");
        assert!((b.usd_heartbeats - 20.0).abs() < 0.001, "{b:?}");
        assert!(
            (b.usd_insights_alarms - 6.0 * 200.0 * 0.10).abs() < 0.001,
            "{b:?}"
        );
        assert!((b.usd_dashboards - 6.0).abs() < 0.001, "{b:?}");
        assert_eq!(b.monitoring_stacks_per_region, 1);
        assert_eq!(bill(&c, &r, 5, 1_000, 1).monitoring_stacks_per_region, 3);
        let total = b.usd_metrics
            + b.usd_local_alarms
            + b.usd_heartbeats
            + b.usd_insights_alarms
            + b.usd_dashboards;
        assert!((b.total() - total).abs() < 1e-9);
    }

    #[test]
    fn ids_are_checked_by_their_shape() {
        assert!(organization_id("o-abcdefghij").is_ok());
        assert!(organization_id("o-abc").is_err());
        assert!(organization_id("O-ABCDEFGHIJ").is_err());
        assert!(ou_id("ou-ab12-11111111").is_ok());
        assert!(ou_id("r-ab12").is_ok());
        assert!(ou_id("ou-ab12").is_err());
        assert!(ou_id("ou-AB12-11111111").is_err());
        assert!(bucket_prefix("example-canary-code").is_ok());
        assert!(bucket_prefix("Example").is_err());
        assert!(bucket_prefix("-x-").is_err());
        assert!(stack_set_name("dynamodb-auth-canary").is_ok());
        assert!(stack_set_name("1x").is_err());
        assert!(ssm_parameter("/dynamodb-auth-canary/config").is_ok());
        assert!(ssm_parameter("no-slash").is_err());
        assert!(ssm_parameter("/a//b").is_err());
        assert!(code_key("dynamodb-auth-canary/bootstrap.zip").is_ok());
        assert!(code_key("a b").is_err());
    }

    #[test]
    fn shell_values_are_quoted_when_not_plain() {
        assert_eq!(sh("DynamoDBAuthCanary"), "DynamoDBAuthCanary");
        assert_eq!(sh("My Canary"), "'My Canary'");
        assert_eq!(sh("it's"), "'it'\\''s'");
    }
}
