//! The command line: `check`, `metrics` and `doctor`, with exit codes
//! 0 healthy, 1 unhealthy, 2 usage or configuration error.

use crate::clients::{AwsClients, ClientOptions};
use crate::config::{
    Config, DeadlineMs, Expectation, ProbeKind, Probes, Region, Regions, SentinelKey, SinkKind,
    TableRef, Target, TimeoutMs,
};
use crate::error::ConfigError;
use crate::run::{self, Canary};
use clap::{Args, Parser, Subcommand, ValueEnum};
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::{Duration, Instant};

/// Exit code of a healthy run.
pub const EXIT_HEALTHY: u8 = 0;
/// Exit code of an unhealthy run.
pub const EXIT_UNHEALTHY: u8 = 1;
/// Exit code of a usage or configuration error.
pub const EXIT_USAGE: u8 = 2;

/// Checks that AWS credentials can reach the DynamoDB tables they should, and
/// cannot reach those they should not.
#[derive(Debug, Parser)]
#[command(name = "dynamodb-auth-canary", version, about, long_about = None)]
pub struct Cli {
    /// What to do.
    #[command(subcommand)]
    pub command: Command,
}

/// Subcommands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Report the caller identity and probe every configured table.
    Check(CheckArgs),
    /// Show the CloudWatch metrics a configuration publishes and what they cost.
    Metrics(MetricsArgs),
    /// Explain where the credentials come from and why authentication fails.
    Doctor(crate::doctor::DoctorArgs),
}

/// Output formats.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum OutputFormat {
    /// A table for people.
    Human,
    /// The JSON report.
    Json,
}

/// Arguments of `check`.
#[derive(Debug, Args)]
pub struct CheckArgs {
    /// Configuration file (JSON). Without it, CANARY_CONFIG or --table is used.
    #[arg(long, value_name = "FILE", conflicts_with = "table")]
    pub config: Option<PathBuf>,
    /// Output format.
    #[arg(long, value_enum, default_value = "human")]
    pub output: OutputFormat,
    /// Region (repeatable). The first is the canary's own region (STS,
    /// metrics); with --table, every one is probed. Default: AWS_REGION,
    /// AWS_DEFAULT_REGION or the profile's region.
    #[arg(long = "region", value_name = "R")]
    pub regions: Vec<String>,
    /// Endpoint for every service, overriding AWS_ENDPOINT_URL* and DYNAMODB_ENDPOINT.
    #[arg(long, value_name = "URL")]
    pub endpoint_url: Option<String>,
    /// Named profile from ~/.aws/config (default: AWS_PROFILE or "default").
    #[arg(long, value_name = "P")]
    pub profile: Option<String>,
    /// Probe this table without a configuration file (repeatable).
    #[arg(long, value_name = "NAME")]
    pub table: Vec<String>,
    /// With --table: probe kind, describe, read or write (repeatable; default describe).
    #[arg(long, value_name = "KIND", requires = "table")]
    pub probe: Vec<ProbeKind>,
    /// With --table: allow (default), or deny for a must-deny probe.
    #[arg(long, value_name = "E", requires = "table")]
    pub expect: Option<Expectation>,
    /// With --table: the sentinel key as DynamoDB JSON, e.g. '{"pk":{"S":"x"}}'.
    #[arg(long, value_name = "JSON", requires = "table")]
    pub key: Option<String>,
    /// Per-probe timeout in milliseconds (overrides the configuration).
    #[arg(long, value_name = "MS")]
    pub timeout_ms: Option<u64>,
    /// Deadline for the whole run in milliseconds (overrides the configuration).
    #[arg(long, value_name = "MS")]
    pub deadline_ms: Option<u64>,
    /// Metrics sink, overriding the configuration: auto, cloudwatch, emf or none.
    /// On the command line EMF lines go to stderr so stdout stays the report.
    #[arg(long, value_enum, value_name = "SINK")]
    pub sink: Option<SinkKind>,
}

/// Arguments of `metrics`.
#[derive(Debug, Args)]
pub struct MetricsArgs {
    /// Configuration file (JSON). Without it, CANARY_CONFIG is used.
    #[arg(long, value_name = "FILE")]
    pub config: Option<PathBuf>,
    /// Minutes between scheduled runs.
    #[arg(long, value_name = "N", default_value_t = 5, value_parser = clap::value_parser!(u32).range(1..=1440))]
    pub schedule_minutes: u32,
    /// Output format.
    #[arg(long, value_enum, default_value = "human")]
    pub output: OutputFormat,
    /// Print the metrics contract (names, units, dimension sets, classes) as
    /// JSON instead, for dashboards and alarms; needs no configuration.
    #[arg(long, conflicts_with_all = ["config", "schedule_minutes"])]
    pub contract: bool,
}

/// Parses the command line and runs it; returns the process exit code.
pub async fn main(cli: Cli) -> ExitCode {
    let code = match cli.command {
        Command::Check(args) => check(args).await,
        Command::Metrics(args) => metrics(args),
        Command::Doctor(args) => crate::doctor::run(args).await,
    };
    ExitCode::from(code)
}

fn usage_error(e: &(dyn std::error::Error + 'static)) -> u8 {
    eprintln!("error: {}", crate::error::chain(e));
    EXIT_USAGE
}

/// Parses one flag's value, naming the flag when it is not valid.
fn flag<T>(name: &str, parsed: Result<T, String>) -> Result<T, ConfigError> {
    parsed.map_err(|message| ConfigError::Flag {
        flag: name.to_string(),
        message,
    })
}

/// Loads the configuration from a file, or from CANARY_CONFIG.
pub fn load_config(path: Option<&PathBuf>) -> Result<Config, ConfigError> {
    match path {
        Some(p) => {
            let text = std::fs::read_to_string(p).map_err(|source| ConfigError::Read {
                path: p.display().to_string(),
                source,
            })?;
            Config::from_json_str(&text, &p.display().to_string())
        }
        None => match std::env::var("CANARY_CONFIG") {
            Ok(text) if !text.trim().is_empty() => Config::from_json_str(&text, "CANARY_CONFIG"),
            _ => Err(ConfigError::Missing),
        },
    }
}

fn config_from_flags(args: &CheckArgs) -> Result<Config, ConfigError> {
    let key = match &args.key {
        Some(k) => {
            let json: serde_json::Value = flag(
                "--key",
                serde_json::from_str(k).map_err(|e| format!("not JSON: {e}")),
            )?;
            Some(flag("--key", SentinelKey::from_json(&json))?)
        }
        None => None,
    };
    let mut probes = args.probe.clone();
    if probes.is_empty() {
        probes.push(ProbeKind::Describe);
    }
    if key.is_none() && !probes.contains(&ProbeKind::Describe) {
        // Derive the sentinel key from the schema, as a config would need to.
        probes.push(ProbeKind::Describe);
    }
    let probes = flag("--probe", Probes::parse(probes))?;
    let regions = args
        .regions
        .iter()
        .map(|r| flag("--region", Region::parse(r.as_str())))
        .collect::<Result<Vec<_>, _>>()?;
    let targets = args
        .table
        .iter()
        .map(|t| {
            let mut target = Target::new(flag("--table", TableRef::parse(t.as_str()))?);
            target.regions = (!regions.is_empty()).then(|| Regions::List(regions.clone()));
            target.probes = Some(probes.clone());
            target.expect = args.expect.unwrap_or_default();
            target.key = key.clone();
            Ok(target)
        })
        .collect::<Result<Vec<_>, ConfigError>>()?;
    let config = Config {
        targets,
        ..Config::default()
    };
    config.validate("command line")?;
    Ok(config)
}

/// The configuration `check` runs: from flags, a file or CANARY_CONFIG, with
/// the command line's overrides applied.
fn check_config(args: &CheckArgs) -> Result<Config, ConfigError> {
    let mut config = if args.table.is_empty() {
        load_config(args.config.as_ref())?
    } else {
        config_from_flags(args)?
    };
    if let Some(ms) = args.timeout_ms {
        config.defaults.timeout_ms = flag("--timeout-ms", TimeoutMs::parse(ms))?;
        for t in &mut config.targets {
            t.timeout_ms = None;
        }
    }
    if let Some(ms) = args.deadline_ms {
        config.deadline_ms = flag("--deadline-ms", DeadlineMs::parse(ms))?;
    }
    if let Some(sink) = args.sink {
        config.metrics.sink = sink;
    }
    Ok(config)
}

async fn check(args: CheckArgs) -> u8 {
    let config = match check_config(&args) {
        Ok(c) => c,
        Err(e) => return usage_error(&e),
    };
    let opts = ClientOptions {
        region: args.regions.first().cloned(),
        endpoint_url: args.endpoint_url.clone(),
        profile: args.profile.clone(),
    };
    let clients = match AwsClients::load(&opts).await {
        Ok(c) => c,
        Err(e) => return usage_error(&e),
    };
    let canary = Canary::new(clients);
    let start = Instant::now();
    let deadline = start + Duration::from_millis(config.deadline_ms.get());
    let publish_deadline = deadline + Duration::from_secs(5);
    let mut stderr = std::io::stderr();
    let report = run::check(&canary, &config, deadline, publish_deadline, &mut stderr).await;
    match args.output {
        OutputFormat::Json => match serde_json::to_string_pretty(&report) {
            Ok(s) => println!("{s}"),
            Err(e) => return usage_error(&e),
        },
        OutputFormat::Human => print!("{}", report.render_human()),
    }
    if report.healthy {
        EXIT_HEALTHY
    } else {
        EXIT_UNHEALTHY
    }
}

/// The region the cost estimate assumes for targets that name none: the
/// environment's, else us-east-1 (only the number of series matters).
fn cost_region() -> Region {
    ["AWS_REGION", "AWS_DEFAULT_REGION"]
        .iter()
        .filter_map(|v| crate::clients::env_var(v))
        .find_map(|r| Region::parse(r).ok())
        .unwrap_or_else(|| Region::parse("us-east-1").unwrap_or_else(|_| unreachable!()))
}

fn metrics(args: MetricsArgs) -> u8 {
    if args.contract {
        println!("{}", crate::metrics::contract_json());
        return EXIT_HEALTHY;
    }
    let config = match load_config(args.config.as_ref()) {
        Ok(c) => c,
        Err(e) => return usage_error(&e),
    };
    let e = crate::cost::estimate(&config, &cost_region(), args.schedule_minutes);
    match args.output {
        OutputFormat::Json => match serde_json::to_string_pretty(&e) {
            Ok(s) => println!("{s}"),
            Err(err) => return usage_error(&err),
        },
        OutputFormat::Human => print!("{}", e.render_human()),
    }
    EXIT_HEALTHY
}
