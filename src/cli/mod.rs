//! The command line: `check`, `metrics` and `doctor`, with exit codes
//! 0 healthy, 1 unhealthy, 2 usage or configuration error.
//!
//! Every command is a function from its arguments to a [`CommandOutput`]:
//! the text for stdout and stderr and the exit code. Only `process.rs`
//! prints, except that `check` streams EMF lines to the writer it is given.

pub mod process;

use crate::aws::clients::{AwsClients, ClientOptions};
use crate::config::deployment::Deployment;
use crate::config::{
    AccountId, CanaryName, Config, DeadlineMs, Expectation, ProbeKind, Probes, Region, Regions,
    SentinelKey, SinkKind, TableRef, Target, TimeoutMs,
};
use crate::doctor::{self, DoctorOptions};
use crate::error::ConfigError;
use crate::run::{self, Canary};
use crate::source::Source;
use clap::{Args, Parser, Subcommand, ValueEnum};
use serde::Serialize;
use std::io::Write;
use std::path::PathBuf;
use std::time::{Duration, Instant};

/// Exit code of a healthy run.
pub const EXIT_HEALTHY: u8 = 0;
/// Exit code of an unhealthy run.
pub const EXIT_UNHEALTHY: u8 = 1;
/// Exit code of a usage or configuration error.
pub const EXIT_USAGE: u8 = crate::error::EXIT_CONFIG;

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
    /// Print the whole monthly bill of deploying a configuration, line by line.
    Bill(BillArgs),
    /// Explain where the credentials come from and why authentication fails.
    Doctor(DoctorArgs),
    /// Print the least-privilege IAM policy a configuration needs (JSON).
    Policy(PolicyArgs),
    /// Print the SAM template's parameters for a configuration, for
    /// `sam deploy --parameter-overrides "$(dynamodb-auth-canary deploy-params --config canary.json)"`.
    DeployParams(DeployParamsArgs),
    /// Print what to run to deploy the canary to every account and region of
    /// organizational units (StackSets) and watch them from one monitoring
    /// account, and what the fleet costs.
    Fleet(FleetArgs),
}

/// How `policy` and `deploy-params` reach STS when `--account` is not given.
#[derive(Debug, Args)]
pub struct CallerArgs {
    /// Endpoint for every service (STS, to find the account when --account is
    /// not given), overriding AWS_ENDPOINT_URL*.
    #[arg(long, value_name = "URL")]
    pub endpoint_url: Option<String>,
    /// Named profile from ~/.aws/config (default: AWS_PROFILE or "default").
    #[arg(long, value_name = "P")]
    pub profile: Option<String>,
}

/// Arguments of `fleet`.
#[derive(Debug, Args)]
pub struct FleetArgs {
    /// The configuration each account's canary is priced with; its metrics
    /// namespace is the fleet's.
    #[arg(long, value_name = "FILE")]
    pub config: PathBuf,
    /// An organizational unit (or root) the stack set deploys to (repeatable).
    #[arg(long = "ou", value_name = "ID", required = true)]
    pub ous: Vec<String>,
    /// A region of the fleet (repeatable); the first is the stack set's own.
    #[arg(long = "region", value_name = "R", required = true)]
    pub regions: Vec<String>,
    /// The organization's id (o-...): who may read the code and link to the sink.
    #[arg(long, value_name = "ID")]
    pub organization_id: String,
    /// The code buckets' name prefix: the bucket of each region is <prefix>-<region>.
    #[arg(long, value_name = "PREFIX")]
    pub code_bucket_prefix: String,
    /// The code's key in the buckets.
    #[arg(
        long,
        value_name = "KEY",
        default_value = "dynamodb-auth-canary/bootstrap.zip"
    )]
    pub code_key: String,
    /// The stack set's name.
    #[arg(long, value_name = "NAME", default_value = "dynamodb-auth-canary")]
    pub stack_set_name: String,
    /// The Canary dimension of every account's canary.
    #[arg(long, value_name = "NAME", default_value = "fleet")]
    pub canary_name: String,
    /// The SSM parameter each account keeps its configuration in.
    #[arg(
        long,
        value_name = "NAME",
        default_value = "/dynamodb-auth-canary/config"
    )]
    pub ssm_parameter: String,
    /// Minutes between runs.
    #[arg(long, value_name = "N", default_value_t = 5)]
    pub schedule_minutes: u32,
    /// The monitoring account (shown in the output).
    #[arg(long, value_name = "ID")]
    pub monitoring_account: Option<String>,
    /// The fleet's size in accounts, added to the bill's 10, 100 and 1,000.
    #[arg(long, value_name = "N")]
    pub accounts: Option<usize>,
    /// ACCOUNT=FILE: an account's own configuration, for its table grants (repeatable).
    #[arg(long = "account-config", value_name = "ACCOUNT=FILE")]
    pub account_configs: Vec<String>,
}

/// Arguments of `policy`.
#[derive(Debug, Args)]
pub struct PolicyArgs {
    /// Configuration file (JSON).
    #[arg(long, value_name = "FILE")]
    pub config: PathBuf,
    /// The canary's account id (tables given by name are in it). Default:
    /// the caller's account, from STS GetCallerIdentity.
    #[arg(long, value_name = "ID")]
    pub account: Option<String>,
    /// How to reach STS when --account is not given.
    #[command(flatten)]
    pub caller: CallerArgs,
    /// The canary's region, for targets that name none (default: AWS_REGION or AWS_DEFAULT_REGION).
    #[arg(long, value_name = "R")]
    pub region: Option<String>,
    /// The partition: aws, aws-cn or aws-us-gov.
    #[arg(long, value_name = "P", default_value = "aws", value_parser = ["aws", "aws-cn", "aws-us-gov"])]
    pub partition: String,
    /// Print instead the permission policy of the role that targets with a
    /// role_arn in this account assume (target-role.yaml's policy).
    #[arg(long, value_name = "ID")]
    pub target_account: Option<String>,
}

/// Arguments of `deploy-params`.
#[derive(Debug, Args)]
pub struct DeployParamsArgs {
    /// Configuration file (JSON): the one the deployment will run.
    #[arg(long, value_name = "FILE")]
    pub config: PathBuf,
    /// The account the stack deploys to (tables given by name are in it).
    /// Default: the caller's account, from STS GetCallerIdentity.
    #[arg(long, value_name = "ID")]
    pub account: Option<String>,
    /// How to reach STS when --account is not given.
    #[command(flatten)]
    pub caller: CallerArgs,
    /// The region the stack deploys to (default: AWS_REGION or AWS_DEFAULT_REGION).
    #[arg(long, value_name = "R")]
    pub region: Option<String>,
    /// The SSM parameter that holds the configuration (for configurations
    /// over 3 KB; put it there first with `aws ssm put-parameter`).
    #[arg(long, value_name = "NAME")]
    pub ssm_parameter: Option<String>,
    /// The deployment's name, the Canary dimension of its metrics (default:
    /// the configuration's "name", else the stack name).
    #[arg(long, value_name = "NAME")]
    pub canary_name: Option<String>,
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
    /// The deployment name published as the metrics' `Canary` dimension
    /// (default: CANARY_NAME, else `cli`, so that a run from a laptop or CI
    /// never lands in a deployed canary's alarmed series by accident).
    #[arg(long, value_name = "NAME")]
    pub canary: Option<String>,
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

/// Arguments of `bill`.
#[derive(Debug, Args)]
pub struct BillArgs {
    /// Configuration file (JSON). Without it, CANARY_CONFIG is used.
    #[arg(long, value_name = "FILE")]
    pub config: Option<PathBuf>,
    /// Minutes between scheduled runs.
    #[arg(long, value_name = "N", default_value_t = 5, value_parser = clap::value_parser!(u32).range(1..=1440))]
    pub schedule_minutes: u32,
    /// Count the dashboard (the template's Dashboard=true), beyond the
    /// account's three free ones.
    #[arg(long)]
    pub dashboard: bool,
    /// The run's measured duration in ms (the Duration of the function's
    /// REPORT lines), instead of the estimate.
    #[arg(long, value_name = "MS", value_parser = clap::value_parser!(u32).range(1..=900_000))]
    pub duration_ms: Option<u32>,
    /// Output format.
    #[arg(long, value_enum, default_value = "human")]
    pub output: OutputFormat,
}

/// Arguments of `doctor`.
#[derive(Debug, Args)]
pub struct DoctorArgs {
    /// Profile to examine (default: AWS_PROFILE or "default").
    #[arg(long, value_name = "P")]
    pub profile: Option<String>,
    /// Region (default: AWS_REGION, AWS_DEFAULT_REGION or the profile's).
    #[arg(long, value_name = "R")]
    pub region: Option<String>,
    /// Also probe this table (DescribeTable) with the credentials found.
    #[arg(long, value_name = "NAME")]
    pub table: Option<String>,
    /// Endpoint for every service, as for `check`.
    #[arg(long, value_name = "URL")]
    pub endpoint_url: Option<String>,
    /// Output format.
    #[arg(long, value_enum, default_value = "human")]
    pub output: OutputFormat,
    /// Timeout per call in milliseconds.
    #[arg(long, value_name = "MS", default_value_t = 3_000)]
    pub timeout_ms: u64,
    /// Show only this SDK family: rust, python (boto3, AWS CLI v1), js,
    /// go, java or dotnet.
    #[arg(long, value_name = "NAME", value_parser = doctor::sdks::Sdk::parse)]
    pub sdk: Option<doctor::sdks::Sdk>,
}

impl DoctorArgs {
    /// What `doctor` examines.
    pub fn options(&self) -> Result<DoctorOptions, ConfigError> {
        let table = match &self.table {
            Some(t) => Some(flag("--table", TableRef::parse(t.as_str()))?),
            None => None,
        };
        Ok(DoctorOptions {
            profile: self.profile.clone(),
            region: self.region.clone(),
            table,
            endpoint_url: self.endpoint_url.clone(),
            timeout: Duration::from_millis(self.timeout_ms),
            sdk: self.sdk,
        })
    }
}

/// What a command produced: `main` writes `stdout` and `stderr` and exits
/// with `exit`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CommandOutput {
    /// Text for stdout (the report), newline-terminated when not empty.
    pub stdout: String,
    /// Text for stderr (`error: ...`), newline-terminated when not empty.
    pub stderr: String,
    /// The process exit code.
    pub exit: u8,
}

impl CommandOutput {
    /// A report on stdout.
    pub fn report(stdout: String, exit: u8) -> CommandOutput {
        CommandOutput {
            stdout,
            stderr: String::new(),
            exit,
        }
    }

    /// `error: {e}: {its sources}` on stderr, exit 2.
    pub fn usage_error(e: &(dyn std::error::Error + 'static)) -> CommandOutput {
        CommandOutput {
            stdout: String::new(),
            // Values quoted in the message are escaped and cut: an error
            // about a 1 MB value is not 1 MB of terminal output.
            stderr: format!(
                "error: {}\n",
                crate::redact::truncate(&crate::error::chain(e), 2_000)
            ),
            exit: EXIT_USAGE,
        }
    }
}

/// Runs the parsed command line. `check` streams EMF lines to `emf_out`
/// (stderr on the command line) while it runs; everything else is returned.
pub async fn run(cli: Cli, emf_out: &mut (dyn Write + Send)) -> CommandOutput {
    run_to(cli, emf_out, &Surroundings::default()).await
}

/// What the command line knows about where it runs: whether the EMF writer
/// is a terminal, and the signal that interrupts a run.
#[derive(Debug, Clone, Default)]
pub struct Surroundings {
    /// The EMF writer (stderr) is a terminal.
    pub emf_is_terminal: bool,
    /// SIGINT/SIGTERM.
    pub interrupt: run::Interrupt,
}

/// [`run`], told where it runs. A human-format `check` whose sink is
/// `auto` keeps its EMF fallback lines off a terminal (they only matter
/// where CloudWatch Logs reads them); `--sink emf`, or a configured `emf`,
/// still prints them. An interrupted `check` prints what finished and exits
/// 128 + the signal.
pub async fn run_to(
    cli: Cli,
    emf_out: &mut (dyn Write + Send),
    surroundings: &Surroundings,
) -> CommandOutput {
    match cli.command {
        Command::Check(args) => check(args, emf_out, surroundings).await,
        Command::Metrics(args) => metrics(args),
        Command::Bill(args) => bill(args),
        Command::Doctor(args) => doctor(args).await,
        Command::Policy(args) => result(policy(&args).await),
        Command::DeployParams(args) => result(deploy_params(&args).await),
        Command::Fleet(args) => result(fleet(&args)),
    }
}

fn result(r: Result<String, ConfigError>) -> CommandOutput {
    match r {
        Ok(text) => CommandOutput::report(text, EXIT_HEALTHY),
        Err(e) => CommandOutput::usage_error(&e),
    }
}

/// `--region`, else the environment's region.
fn region_flag(flag_value: Option<&String>) -> Result<Region, ConfigError> {
    match flag_value {
        Some(r) => flag("--region", Region::parse(r.as_str())),
        None => ["AWS_REGION", "AWS_DEFAULT_REGION"]
            .iter()
            .find_map(|v| crate::env::env_var(v).map(|r| (*v, r)))
            .map(|(v, r)| flag(v, Region::parse(r)))
            .unwrap_or(Err(ConfigError::NoRegion)),
    }
}

/// `--account`, else the caller's account from STS (in `region`, through
/// the endpoints and profile the command line names).
async fn account_flag(
    account: Option<&String>,
    caller: &CallerArgs,
    region: &Region,
) -> Result<AccountId, ConfigError> {
    match account {
        Some(a) => flag("--account", AccountId::parse(a.as_str())),
        None => {
            let opts = ClientOptions {
                region: Some(region.to_string()),
                endpoint_url: caller.endpoint_url.clone(),
                profile: caller.profile.clone(),
                credentials: None,
            };
            crate::deploy::caller_account(&opts, crate::deploy::CALLER_ACCOUNT_TIMEOUT).await
        }
    }
}

async fn policy(args: &PolicyArgs) -> Result<String, ConfigError> {
    let source = Source::File(args.config.clone());
    let config = source.load_local()?;
    let region = region_flag(args.region.as_ref())?;
    let scope = crate::deploy::iam::Scope {
        account: Some(account_flag(args.account.as_ref(), &args.caller, &region).await?),
        partition: args.partition.clone(),
        region,
        target_account: args
            .target_account
            .as_ref()
            .map(|a| flag("--target-account", AccountId::parse(a.as_str())))
            .transpose()?,
    };
    let doc = crate::deploy::iam::policy(&config, &scope, &source.origin())?;
    let text = serde_json::to_string_pretty(&doc).map_err(|e| ConfigError::Flag {
        flag: "policy".into(),
        message: format!("cannot render the policy: {e}"),
    })?;
    Ok(text + "\n")
}

async fn deploy_params(args: &DeployParamsArgs) -> Result<String, ConfigError> {
    let text = Source::File(args.config.clone()).read_local()?;
    let origin = args.config.display().to_string();
    let config = Config::from_json_str(&text, &origin)?;
    let region = region_flag(args.region.as_ref())?;
    let opts = crate::deploy::Options {
        account: account_flag(args.account.as_ref(), &args.caller, &region).await?,
        region,
        ssm_parameter: args.ssm_parameter.clone(),
        canary_name: args
            .canary_name
            .as_ref()
            .map(|n| flag("--canary-name", CanaryName::parse(n.as_str())))
            .transpose()?,
    };
    let params = crate::deploy::parameters(&config, &text, &opts, &origin)?;
    Ok(crate::deploy::render(&params) + "\n")
}

/// `fleet`: reads the configurations and prints the fleet's plan.
fn fleet(args: &FleetArgs) -> Result<String, ConfigError> {
    let read = |path: &PathBuf| -> Result<(String, String), ConfigError> {
        Ok((
            Source::File(path.clone()).read_local()?,
            path.display().to_string(),
        ))
    };
    let mut account_configs = Vec::new();
    for pair in &args.account_configs {
        let Some((account, path)) = pair.split_once('=') else {
            return Err(ConfigError::Flag {
                flag: "--account-config".into(),
                message: format!("\"{pair}\" is not ACCOUNT=FILE"),
            });
        };
        let (text, origin) = read(&PathBuf::from(path))?;
        account_configs.push((account.to_string(), text, origin));
    }
    let request = crate::deploy::fleet::Request {
        config: read(&args.config)?,
        account_configs,
        ous: args.ous.clone(),
        regions: args.regions.clone(),
        organization_id: args.organization_id.clone(),
        code_bucket_prefix: args.code_bucket_prefix.clone(),
        code_key: args.code_key.clone(),
        stack_set_name: args.stack_set_name.clone(),
        canary_name: args.canary_name.clone(),
        ssm_parameter: args.ssm_parameter.clone(),
        schedule_minutes: args.schedule_minutes,
        monitoring_account: args.monitoring_account.clone(),
        accounts: args.accounts,
    };
    crate::deploy::fleet::plan(&request)
}

/// The report in the chosen format: pretty JSON or the human rendering.
fn render<T: Serialize>(
    format: OutputFormat,
    value: &T,
    human: impl FnOnce(&T) -> String,
    json_error: &str,
    exit: u8,
) -> CommandOutput {
    match format {
        OutputFormat::Json => match serde_json::to_string_pretty(value) {
            Ok(s) => CommandOutput::report(s + "\n", exit),
            Err(e) => CommandOutput {
                stderr: format!("error: {json_error}{e}\n"),
                ..CommandOutput::report(String::new(), EXIT_USAGE)
            },
        },
        OutputFormat::Human => CommandOutput::report(human(value), exit),
    }
}

/// Loads a configuration that needs no AWS: from a file, or from
/// CANARY_CONFIG.
pub fn load_config(path: Option<&PathBuf>) -> Result<Config, ConfigError> {
    Source::find(path)?.load_local()
}

/// Parses one flag's value, naming the flag when it is not valid.
fn flag<T>(name: &str, parsed: Result<T, String>) -> Result<T, ConfigError> {
    parsed.map_err(|message| ConfigError::Flag {
        flag: name.to_string(),
        message,
    })
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
    let expect = args.expect.unwrap_or_default();
    if key.is_none() && expect == Expectation::Allow && !probes.contains(&ProbeKind::Describe) {
        // Derive the sentinel key from the schema, as a config would need to;
        // a must-deny probe needs no key.
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
            target.expect = expect;
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

/// The part of a run's deadline kept back for publishing its metrics: a
/// fifth, at most 1.5 s (as in Lambda).
pub fn publish_reserve(total: Duration) -> Duration {
    (total / 5).min(Duration::from_millis(1_500))
}

/// Whether EMF lines reach the terminal: not for a person reading a human
/// report with the `auto` sink (the lines are for CloudWatch Logs); always
/// when asked for (`emf`), and whenever the output is not a terminal.
fn emf_shown(emf_is_terminal: bool, output: OutputFormat, sink: SinkKind) -> bool {
    !(emf_is_terminal && output == OutputFormat::Human && sink == SinkKind::Auto)
}

/// The command line's overrides of a loaded configuration.
fn apply_overrides(args: &CheckArgs, mut config: Config) -> Result<Config, ConfigError> {
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

/// Loads what `check` runs: the configuration (from flags, a file,
/// CANARY_CONFIG or the SSM parameter of CANARY_CONFIG_PARAMETER), the
/// deployment's settings applied, the command line's overrides on top, and
/// the clients. A local configuration is checked before any client is built.
async fn check_setup(args: &CheckArgs) -> Result<(Config, Deployment, AwsClients), ConfigError> {
    let deployment = Deployment::from_env(args.canary.as_deref())?;
    let source = if args.table.is_empty() {
        Some(Source::find(args.config.as_ref())?)
    } else {
        None
    };
    let local = match &source {
        None => Some(config_from_flags(args)?),
        Some(s) if !s.is_remote() => Some(s.load_local()?),
        Some(_) => None,
    };
    let opts = ClientOptions {
        region: args.regions.first().cloned(),
        endpoint_url: args.endpoint_url.clone(),
        profile: args.profile.clone(),
        credentials: None,
    };
    let clients = AwsClients::load(&opts).await?;
    let config = match (local, &source) {
        (Some(c), _) => c,
        (None, Some(s)) => s.load(Some(&clients)).await?,
        (None, None) => return Err(ConfigError::Missing),
    };
    let origin = source.map_or_else(|| "command line".to_string(), |s| s.origin());
    let config = deployment.apply(config, &origin)?;
    Ok((apply_overrides(args, config)?, deployment, clients))
}

async fn check(
    args: CheckArgs,
    emf_out: &mut (dyn Write + Send),
    surroundings: &Surroundings,
) -> CommandOutput {
    let emf_is_terminal = surroundings.emf_is_terminal;
    let (config, deployment, clients) = match check_setup(&args).await {
        Ok(x) => x,
        Err(e) => return CommandOutput::usage_error(&e),
    };
    let mut hidden = std::io::sink();
    let emf_out: &mut (dyn Write + Send) =
        if emf_shown(emf_is_terminal, args.output, config.metrics.sink) {
            emf_out
        } else {
            &mut hidden
        };
    let canary = Canary::new(clients);
    // The deadline is the whole run's, publishing included: the probes get
    // it less the time kept back for publishing.
    let start = Instant::now();
    let total = Duration::from_millis(config.deadline_ms.get());
    let publish_deadline = start + total;
    let deadline = publish_deadline - publish_reserve(total);
    let series = deployment.canary();
    let report = run::check(
        &canary,
        &config,
        series.as_str(),
        deadline,
        publish_deadline,
        emf_out,
        &surroundings.interrupt,
    )
    .await;
    let exit = match surroundings.interrupt.fired() {
        Some(signal) => 128 + u8::try_from(signal).unwrap_or(0).min(127),
        None if report.healthy => EXIT_HEALTHY,
        None => EXIT_UNHEALTHY,
    };
    render(
        args.output,
        &report,
        |r| r.render_human(),
        "cannot render the report: ",
        exit,
    )
}

/// The region the cost estimate assumes for targets that name none: the
/// environment's, else us-east-1 (only the number of series matters).
fn cost_region() -> Region {
    ["AWS_REGION", "AWS_DEFAULT_REGION"]
        .iter()
        .filter_map(|v| crate::env::env_var(v))
        .find_map(|r| Region::parse(r).ok())
        .unwrap_or_else(|| Region::parse("us-east-1").unwrap_or_else(|_| unreachable!()))
}

fn metrics(args: MetricsArgs) -> CommandOutput {
    if args.contract {
        return CommandOutput::report(
            format!("{}\n", crate::metrics::contract::contract_json()),
            EXIT_HEALTHY,
        );
    }
    let config = match load_config(args.config.as_ref()) {
        Ok(c) => c,
        Err(e) => return CommandOutput::usage_error(&e),
    };
    let e = crate::metrics::cost::estimate(&config, &cost_region(), args.schedule_minutes);
    render(args.output, &e, |e| e.render_human(), "", EXIT_HEALTHY)
}

fn bill(args: BillArgs) -> CommandOutput {
    let config = match load_config(args.config.as_ref()) {
        Ok(c) => c,
        Err(e) => return CommandOutput::usage_error(&e),
    };
    let opts = crate::deploy::bill::Options {
        schedule_minutes: args.schedule_minutes,
        dashboard: args.dashboard,
        duration_ms: args.duration_ms.map(f64::from),
    };
    let b = crate::deploy::bill::bill(&config, &cost_region(), &opts);
    render(args.output, &b, |b| b.render_human(), "", EXIT_HEALTHY)
}

async fn doctor(args: DoctorArgs) -> CommandOutput {
    let options = match args.options() {
        Ok(o) => o,
        Err(e) => return CommandOutput::usage_error(&e),
    };
    let report = doctor::diagnose(&options).await;
    let exit = if report.has_problem() {
        EXIT_UNHEALTHY
    } else {
        EXIT_HEALTHY
    };
    render(
        args.output,
        &report,
        doctor::render,
        "cannot render the report: ",
        exit,
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    async fn run_args(args: &[&str]) -> (CommandOutput, Vec<u8>) {
        let cli = Cli::try_parse_from(
            std::iter::once("dynamodb-auth-canary").chain(args.iter().copied()),
        )
        .unwrap();
        let mut emf = Vec::new();
        let out = run(cli, &mut emf).await;
        (out, emf)
    }

    #[test]
    fn emf_lines_stay_off_a_terminal_unless_asked_for() {
        use OutputFormat::{Human, Json};
        assert!(!emf_shown(true, Human, SinkKind::Auto));
        assert!(emf_shown(true, Human, SinkKind::Emf));
        assert!(emf_shown(true, Json, SinkKind::Auto));
        assert!(emf_shown(false, Human, SinkKind::Auto));
    }

    #[tokio::test]
    async fn the_contract_is_one_json_line_on_stdout() {
        let (out, emf) = run_args(&["metrics", "--contract"]).await;
        assert_eq!(out.exit, EXIT_HEALTHY);
        assert!(out.stderr.is_empty());
        assert!(emf.is_empty());
        assert!(out.stdout.ends_with("}\n"), "{}", out.stdout);
        assert_eq!(out.stdout.lines().count(), 1);
        let v: serde_json::Value = serde_json::from_str(&out.stdout).unwrap();
        assert_eq!(v, crate::metrics::contract::contract_json());
    }

    #[tokio::test]
    async fn a_configuration_error_is_on_stderr_with_exit_2() {
        let dir = tempfile::tempdir().unwrap();
        let missing = dir.path().join("missing.json");
        let path = missing.to_str().unwrap();
        for args in [
            vec!["check", "--config", path],
            vec!["metrics", "--config", path],
        ] {
            let (out, emf) = run_args(&args).await;
            assert_eq!(out.exit, EXIT_USAGE, "{args:?}");
            assert!(out.stdout.is_empty());
            assert!(emf.is_empty());
            assert!(out.stderr.starts_with("error: "), "{}", out.stderr);
            assert!(out.stderr.contains("missing.json"), "{}", out.stderr);
            assert!(out.stderr.ends_with('\n'));
        }
    }

    #[test]
    fn doctor_args_become_options() {
        let cli = Cli::try_parse_from([
            "dynamodb-auth-canary",
            "doctor",
            "--profile",
            "ops",
            "--table",
            "orders",
            "--timeout-ms",
            "250",
        ])
        .unwrap();
        let Command::Doctor(args) = cli.command else {
            panic!("not doctor");
        };
        assert_eq!(args.output, OutputFormat::Human);
        assert_eq!(
            args.options().unwrap(),
            DoctorOptions {
                profile: Some("ops".into()),
                region: None,
                table: Some(TableRef::parse("orders").unwrap()),
                endpoint_url: None,
                timeout: Duration::from_millis(250),
                sdk: None,
            }
        );
    }
}
