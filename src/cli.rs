//! The command line: `check`, `metrics` and `doctor`, with exit codes
//! 0 healthy, 1 unhealthy, 2 usage or configuration error.

use crate::clients::{AwsClients, ClientOptions};
use crate::config::{Config, Expectation, ProbeKind, Regions, SinkKind, Target};
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

fn usage_error(e: impl std::fmt::Display) -> u8 {
    eprintln!("error: {e}");
    EXIT_USAGE
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
        Some(k) => Some(serde_json::from_str(k).map_err(|e| ConfigError::Field {
            origin: "--key".into(),
            path: "key".into(),
            message: format!("not JSON: {e}"),
        })?),
        None => None,
    };
    let mut probes = args.probe.clone();
    if probes.is_empty() {
        probes.push(ProbeKind::Describe);
    }
    if key.is_none()
        && probes.iter().any(|p| *p != ProbeKind::Describe)
        && !probes.contains(&ProbeKind::Describe)
    {
        // Derive the sentinel key from the schema, as a config would need to.
        probes.push(ProbeKind::Describe);
    }
    let config = Config {
        targets: args
            .table
            .iter()
            .map(|t| Target {
                table: t.clone(),
                regions: (!args.regions.is_empty()).then(|| Regions::List(args.regions.clone())),
                probes: Some(probes.clone()),
                expect: args.expect.unwrap_or_default(),
                key: key.clone(),
                ..Target::default()
            })
            .collect(),
        ..Config::default()
    };
    config.validate("command line")?;
    Ok(config)
}

async fn check(args: CheckArgs) -> u8 {
    let mut config = if args.table.is_empty() {
        match load_config(args.config.as_ref()) {
            Ok(c) => c,
            Err(e) => return usage_error(e),
        }
    } else {
        match config_from_flags(&args) {
            Ok(c) => c,
            Err(e) => return usage_error(e),
        }
    };
    if let Some(ms) = args.timeout_ms {
        config.defaults.timeout_ms = ms;
        for t in &mut config.targets {
            t.timeout_ms = None;
        }
    }
    if let Some(ms) = args.deadline_ms {
        config.deadline_ms = ms;
    }
    if let Some(sink) = args.sink {
        config.metrics.sink = sink;
    }
    if let Err(e) = config.validate("command line") {
        return usage_error(e);
    }
    let opts = ClientOptions {
        region: args.regions.first().cloned(),
        endpoint_url: args.endpoint_url.clone(),
        profile: args.profile.clone(),
    };
    let clients = match AwsClients::load(&opts).await {
        Ok(c) => c,
        Err(e) => return usage_error(e),
    };
    let canary = Canary::new(clients);
    let start = Instant::now();
    let deadline = start + Duration::from_millis(config.deadline_ms);
    let publish_deadline = deadline + Duration::from_secs(5);
    let mut stderr = std::io::stderr();
    let report = run::check(&canary, &config, deadline, publish_deadline, &mut stderr).await;
    match args.output {
        OutputFormat::Json => match serde_json::to_string_pretty(&report) {
            Ok(s) => println!("{s}"),
            Err(e) => return usage_error(format!("cannot render the report: {e}")),
        },
        OutputFormat::Human => print!("{}", report.render_human()),
    }
    if report.healthy {
        EXIT_HEALTHY
    } else {
        EXIT_UNHEALTHY
    }
}

fn metrics(args: MetricsArgs) -> u8 {
    if args.contract {
        println!("{}", crate::metrics::contract_json());
        return EXIT_HEALTHY;
    }
    let config = match load_config(args.config.as_ref()) {
        Ok(c) => c,
        Err(e) => return usage_error(e),
    };
    let e = crate::cost::estimate(&config, args.schedule_minutes);
    match args.output {
        OutputFormat::Json => match serde_json::to_string_pretty(&e) {
            Ok(s) => println!("{s}"),
            Err(err) => return usage_error(err),
        },
        OutputFormat::Human => print!("{}", e.render_human()),
    }
    EXIT_HEALTHY
}
