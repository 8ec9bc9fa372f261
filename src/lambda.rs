//! The Lambda handler: a scheduled (or any) event runs the deployed
//! configuration; an event carrying `config` runs that configuration instead,
//! published under `<name>/on-demand` so it can neither mask nor trigger the
//! deployment's alarms. An unhealthy run still returns its report: health
//! travels through metrics. Each run logs one structured line per failed or
//! not-run probe and the whole report as one JSON line.

use crate::config::deployment::Deployment;
use crate::config::{Config, MetricsConfig, SinkKind};
use crate::error::{ConfigError, HandlerError};
use crate::report::{Outcome, ProbeResult, Report};
use crate::run::{self, Canary};
use crate::source::Source;
use lambda_runtime::{Context, LambdaEvent};
use serde_json::{json, Map, Value};
use std::io::Write;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime};
use tokio::sync::Mutex;

/// Time kept back from the invocation's deadline for publishing metrics and
/// returning the response.
pub const SAFETY_MARGIN: Duration = Duration::from_millis(1_500);

/// The `service` of every log line (Powertools' key), unless
/// `POWERTOOLS_SERVICE_NAME` names another.
pub const SERVICE: &str = "dynamodb-auth-canary";

/// What a warm function keeps between invocations.
#[derive(Debug)]
pub struct Handler {
    canary: Arc<Canary>,
    deployment: Deployment,
    source: Result<Source, Arc<ConfigError>>,
    /// The deployed configuration, loaded at cold start; a failed load of a
    /// remote source (SSM) is tried again on the next invocation.
    base: Mutex<Option<Result<Config, Arc<ConfigError>>>>,
    cold: AtomicBool,
}

/// What one invocation runs.
#[derive(Debug, Clone, PartialEq)]
pub struct Invocation {
    /// The configuration.
    pub config: Config,
    /// The `Canary` dimension of its metrics.
    pub series: String,
    /// Whether the configuration came from the event.
    pub on_demand: bool,
}

impl Handler {
    /// Builds the handler state once per cold start.
    pub fn new(
        canary: Arc<Canary>,
        deployment: Deployment,
        source: Result<Source, ConfigError>,
    ) -> Handler {
        Handler {
            canary,
            deployment,
            source: source.map_err(Arc::new),
            base: Mutex::new(None),
            cold: AtomicBool::new(true),
        }
    }

    /// The deployed configuration: loaded once, or again while a remote
    /// source keeps failing.
    pub async fn base(&self) -> Result<Config, Arc<ConfigError>> {
        let mut base = self.base.lock().await;
        let retry = match &*base {
            None => true,
            Some(Err(_)) => self.source.as_ref().is_ok_and(Source::is_remote),
            Some(Ok(_)) => false,
        };
        if retry {
            let loaded = match &self.source {
                Err(e) => Err(Arc::clone(e)),
                Ok(source) => source
                    .load(Some(&self.canary.clients))
                    .await
                    .and_then(|c| self.deployment.apply(c, &source.origin()))
                    .map_err(Arc::new),
            };
            *base = Some(loaded);
        }
        base.clone()
            .unwrap_or_else(|| Err(Arc::new(ConfigError::Missing)))
    }

    /// Chooses the configuration an event asks for.
    pub async fn config_for(&self, event: &Value) -> Result<Invocation, HandlerError> {
        let obj = event.as_object().ok_or_else(|| {
            HandlerError::InvalidEvent(format!(
                "expected a JSON object (a scheduled event, {{}}, or {{\"config\": {{...}}}}), got {}",
                type_name(event)
            ))
        })?;
        let name = self.deployment.canary();
        match obj.get("config") {
            Some(v) => {
                let config = Config::from_value(v.clone(), "event.config")
                    .and_then(|c| self.deployment.apply(c, "event.config"))
                    .map_err(HandlerError::InvalidOverride)?;
                Ok(Invocation {
                    config,
                    series: name.on_demand(),
                    on_demand: true,
                })
            }
            None => Ok(Invocation {
                config: self.base().await.map_err(HandlerError::Misconfigured)?,
                series: name.to_string(),
                on_demand: false,
            }),
        }
    }

    /// Handles one invocation; EMF lines and log lines go to stdout.
    pub async fn handle(&self, event: LambdaEvent<Value>) -> Result<Value, HandlerError> {
        let mut stdout = std::io::stdout();
        self.handle_with(event, &mut stdout).await
    }

    /// Handles one invocation, writing EMF lines and log lines to `out`.
    pub async fn handle_with(
        &self,
        event: LambdaEvent<Value>,
        out: &mut (dyn Write + Send),
    ) -> Result<Value, HandlerError> {
        let log = LogContext::new(&event.context, self.cold.swap(false, Ordering::Relaxed));
        let now = Instant::now();
        let remaining = remaining_time(event.context.deadline, SystemTime::now());
        let publish_deadline = now + remaining.saturating_sub(Duration::from_millis(300));
        let invocation = match self.config_for(&event.payload).await {
            Ok(i) => i,
            Err(HandlerError::Misconfigured(e)) => {
                self.report_config_error(&e, publish_deadline, &log, out)
                    .await;
                return Err(HandlerError::Misconfigured(e));
            }
            Err(e) => {
                log.write(out, "WARN", "invocation refused", error_fields(&e));
                return Err(e);
            }
        };
        let config = &invocation.config;
        let run_deadline = (now + remaining.saturating_sub(SAFETY_MARGIN))
            .min(now + Duration::from_millis(config.deadline_ms.get()));
        let trigger = event
            .payload
            .get("detail-type")
            .and_then(|v| v.as_str())
            .unwrap_or("direct invocation");
        tracing::info!(
            source = trigger,
            on_demand = invocation.on_demand,
            targets = config.targets.len(),
            remaining_ms = remaining.as_millis() as u64,
            "canary run starting"
        );
        let report = run::check(
            &self.canary,
            config,
            &invocation.series,
            run_deadline,
            publish_deadline,
            out,
            &run::Interrupt::default(),
        )
        .await;
        let value = serde_json::to_value(&report).map_err(HandlerError::Internal)?;
        for (level, message, fields) in
            report_lines(&report, &value, &invocation.series, invocation.on_demand)
        {
            log.write(out, &level, &message, fields);
        }
        Ok(value)
    }

    /// A deployed configuration that cannot be loaded: the run counts, is
    /// unhealthy and pages (ConfigErrors), under the deployment's own name
    /// and namespace, which come from the environment.
    async fn report_config_error(
        &self,
        e: &Arc<ConfigError>,
        deadline: Instant,
        log: &LogContext,
        out: &mut (dyn Write + Send),
    ) {
        let name = self.deployment.canary();
        let metrics = MetricsConfig {
            namespace: self.deployment.namespace.clone(),
            sink: SinkKind::Auto,
            ..MetricsConfig::default()
        };
        let datums = crate::metrics::contract::config_error_datums(name.as_str());
        let outcome =
            crate::metrics::sinks::publish(&self.canary.clients, &metrics, &datums, deadline, out)
                .await;
        let mut fields = Map::new();
        fields.insert("canary".into(), json!(name.as_str()));
        fields.insert("class".into(), json!("configuration"));
        fields.insert("error".into(), json!(crate::error::chain(e.as_ref())));
        fields.insert("metrics_sink".into(), json!(outcome.sink.as_str()));
        log.write(out, "ERROR", "deployed configuration invalid", fields);
    }
}

fn error_fields(e: &HandlerError) -> Map<String, Value> {
    let mut m = Map::new();
    m.insert("error_type".into(), json!(e.error_type()));
    m.insert("error".into(), json!(crate::error::chain(e)));
    m
}

/// What every log line of an invocation carries, with Powertools' keys.
#[derive(Debug, Clone)]
pub struct LogContext {
    request_id: String,
    function_arn: String,
    xray_trace_id: Option<String>,
    cold_start: bool,
    service: String,
}

impl LogContext {
    /// The context of one invocation.
    pub fn new(ctx: &Context, cold_start: bool) -> LogContext {
        LogContext {
            request_id: ctx.request_id.clone(),
            function_arn: ctx.invoked_function_arn.clone(),
            xray_trace_id: ctx.xray_trace_id.clone().filter(|t| !t.is_empty()),
            cold_start,
            service: crate::env::env_var("POWERTOOLS_SERVICE_NAME")
                .unwrap_or_else(|| SERVICE.to_string()),
        }
    }

    /// One JSON log line: the common keys, then `fields`.
    pub fn line(&self, level: &str, message: &str, fields: Map<String, Value>) -> Value {
        let mut m = Map::new();
        m.insert("level".into(), json!(level));
        m.insert("message".into(), json!(message));
        m.insert(
            "timestamp".into(),
            json!(aws_smithy_types::DateTime::from(SystemTime::now())
                .fmt(aws_smithy_types::date_time::Format::DateTime)
                .unwrap_or_default()),
        );
        m.insert("service".into(), json!(self.service));
        m.insert("cold_start".into(), json!(self.cold_start));
        m.insert("function_request_id".into(), json!(self.request_id));
        if !self.function_arn.is_empty() {
            m.insert("function_arn".into(), json!(self.function_arn));
        }
        if let Some(t) = &self.xray_trace_id {
            m.insert("xray_trace_id".into(), json!(t));
        }
        m.extend(fields);
        Value::Object(m)
    }

    fn write(
        &self,
        out: &mut (dyn Write + Send),
        level: &str,
        message: &str,
        fields: Map<String, Value>,
    ) {
        // A log line that cannot be written is lost, not a failed run.
        let _ = writeln!(out, "{}", self.line(level, message, fields));
    }
}

/// The lines a run ends with: one per failed or not-run probe, then the
/// whole report (`value`, the report as JSON) as one line.
fn report_lines(
    report: &Report,
    value: &Value,
    series: &str,
    on_demand: bool,
) -> Vec<(String, String, Map<String, Value>)> {
    let mut lines = probe_lines(report, series);
    let mut fields = Map::new();
    fields.insert("canary".into(), json!(series));
    fields.insert("on_demand".into(), json!(on_demand));
    fields.insert("healthy".into(), json!(report.healthy));
    fields.insert("report".into(), value.clone());
    let level = if report.healthy { "INFO" } else { "ERROR" };
    lines.push((level.into(), "canary report".into(), fields));
    lines
}

/// The lines the handler writes at the end of a run of `report`, rendered
/// as a deployed function renders them (a representative request id,
/// function ARN and trace id): what the bill measures its log bytes with.
pub fn run_lines(report: &Report, series: &str, on_demand: bool) -> Vec<String> {
    let log = LogContext {
        request_id: "3f2a9c1e-7b4d-4e8a-9c0f-1a2b3c4d5e6f".into(),
        function_arn: "arn:aws:lambda:us-east-1:123456789012:function:dynamodb-auth-canary-CanaryFunction-ABCDEFGHIJKL".into(),
        xray_trace_id: Some("Root=1-6753a1b2-0123456789abcdef01234567;Parent=0123456789abcdef;Sampled=0".into()),
        cold_start: false,
        service: SERVICE.to_string(),
    };
    let value = serde_json::to_value(report).unwrap_or(Value::Null);
    report_lines(report, &value, series, on_demand)
        .into_iter()
        .map(|(level, message, fields)| log.line(&level, &message, fields).to_string())
        .collect()
}

/// One line per failed or not-run probe: (level, message, fields). The
/// fields are what the on-call engineer needs first: which table, region
/// and probe, the class, the AWS code, the request id and the hint.
pub fn probe_lines(report: &Report, canary: &str) -> Vec<(String, String, Map<String, Value>)> {
    let mut lines = Vec::new();
    if report.identity.outcome != Outcome::Ok {
        let id = &report.identity;
        let mut m = Map::new();
        m.insert("canary".into(), json!(canary));
        m.insert("class".into(), json!(id.class));
        m.insert("code".into(), json!(id.code));
        m.insert("request_id".into(), json!(id.request_id));
        m.insert("error".into(), json!(id.message));
        m.insert("hint".into(), json!(id.hint));
        // Every field the runbook query shows is on every line it lists.
        m.insert("change".into(), Value::Null);
        m.insert("account".into(), Value::Null);
        lines.push(("ERROR".into(), "identity check failed".into(), m));
    }
    for p in report.probes.iter().filter(|p| p.outcome != Outcome::Ok) {
        let message = match p.outcome {
            Outcome::NotRun => "probe not run",
            _ => "probe failed",
        };
        lines.push(("ERROR".into(), message.into(), probe_fields(p, canary)));
    }
    lines
}

fn probe_fields(p: &ProbeResult, canary: &str) -> Map<String, Value> {
    let mut m = Map::new();
    m.insert("canary".into(), json!(canary));
    m.insert("table".into(), json!(p.id.table));
    m.insert("region".into(), json!(p.id.region));
    m.insert("probe".into(), json!(p.id.probe));
    m.insert("expect".into(), json!(p.id.expect));
    m.insert("outcome".into(), json!(p.outcome));
    m.insert("class".into(), json!(p.class));
    m.insert("code".into(), json!(p.code));
    m.insert("request_id".into(), json!(p.request_id));
    m.insert("error".into(), json!(p.message));
    m.insert("hint".into(), json!(p.hint));
    if let Some(principal) = &p.principal {
        m.insert("principal".into(), json!(principal));
    }
    if let Some(d) = &p.denied_by {
        m.insert("denied_by".into(), json!(d));
    }
    // The likeliest change, flat, for the runbook query (or why there is
    // none); all of them too. Every field the query shows is on every line.
    let change = p
        .changes
        .first()
        .map(|c| c.describe())
        .or_else(|| p.changes_note.clone());
    m.insert("change".into(), json!(change));
    if !p.changes.is_empty() {
        m.insert("changes".into(), json!(p.changes));
    }
    m.insert("account".into(), json!(p.account_errors));
    m
}

/// Deadlines before this (2001-09-09) cannot be epoch milliseconds.
const EPOCH_MS_FLOOR: u64 = 1_000_000_000_000;

/// Time left before the invocation's deadline. Lambda sends the deadline as
/// epoch milliseconds; cargo-lambda's emulator (1.9) sends the timeout
/// itself (e.g. 600000), which would otherwise read as a deadline in 1970
/// and leave no time at all.
pub fn remaining_time(deadline_ms: u64, now: SystemTime) -> Duration {
    if deadline_ms < EPOCH_MS_FLOOR {
        return Duration::from_millis(deadline_ms);
    }
    (SystemTime::UNIX_EPOCH + Duration::from_millis(deadline_ms))
        .duration_since(now)
        .unwrap_or(Duration::ZERO)
}

fn type_name(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

/// Serves invocations until the runtime stops. The deployed configuration
/// is loaded before the first invocation (and logged if it is invalid).
pub async fn serve(
    canary: Arc<Canary>,
    deployment: Deployment,
    source: Result<Source, ConfigError>,
) -> Result<(), lambda_runtime::Error> {
    let handler = Arc::new(Handler::new(canary, deployment, source));
    if let Err(e) = handler.base().await {
        tracing::error!(error = %crate::error::chain(e.as_ref()), "the deployed configuration is invalid; only invocations carrying a config can run");
    }
    lambda_runtime::run(lambda_runtime::service_fn(
        move |event: LambdaEvent<Value>| {
            let handler = Arc::clone(&handler);
            async move {
                let result = handler.handle(event).await;
                // A credential_process the run gave up on ends with it, not
                // in the next invocation of a warm container.
                let killed = crate::aws::reaper::kill_descendants();
                if killed > 0 {
                    tracing::warn!(
                        killed,
                        "processes left by the run (credential_process) were killed"
                    );
                }
                result
            }
        },
    ))
    .await
}

/// The function's bootstrap: JSON logs, the deployment's settings and the
/// clients, built once at init; then the runtime's loop. An init that
/// cannot go on returns its exit code (the Runtime API reports it).
pub async fn serve_from_env() -> std::process::ExitCode {
    use std::process::ExitCode;
    // JSON logs with the request id, honouring AWS_LAMBDA_LOG_FORMAT/LEVEL,
    // scrubbed of key ids and tokens like the command line's (the SDK's own
    // debug lines print the access key id).
    lambda_runtime::tracing::init_default_subscriber_with_writer(|| {
        crate::redact::ScrubbingWriter(std::io::stdout())
    });
    // The deployment's own settings: without them nothing can be published
    // under the right name, so an invalid one fails the init (and the
    // heartbeat pages).
    let deployment = match Deployment::from_env(None) {
        Ok(d) => d,
        Err(e) => {
            tracing::error!(error = %e, "the deployment's environment is invalid");
            return ExitCode::from(crate::error::EXIT_CONFIG);
        }
    };
    let source = Source::find(None);
    let clients = match crate::aws::AwsClients::load(&crate::aws::ClientOptions::default()).await {
        Ok(c) => c,
        Err(e) => {
            tracing::error!(error = %e, "cannot build AWS clients");
            return ExitCode::from(crate::error::EXIT_CONFIG);
        }
    };
    match serve(Canary::new(clients), deployment, source).await {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            tracing::error!(error = %e, "Lambda runtime stopped");
            ExitCode::FAILURE
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::CanaryName;

    #[test]
    fn remaining_time_from_epoch_and_relative_deadlines() {
        let now = SystemTime::UNIX_EPOCH + Duration::from_millis(1_800_000_000_000);
        assert_eq!(
            remaining_time(1_800_000_030_000, now),
            Duration::from_secs(30)
        );
        assert_eq!(remaining_time(1_799_999_999_000, now), Duration::ZERO);
        assert_eq!(remaining_time(600_000, now), Duration::from_secs(600));
    }

    async fn handler(source: Result<Source, ConfigError>, deployment: Deployment) -> Handler {
        let clients = crate::aws::clients::AwsClients::load(&crate::aws::clients::ClientOptions {
            region: Some("us-east-1".into()),
            endpoint_url: Some("http://127.0.0.1:9".into()),
            profile: None,
            credentials: Some(aws_credential_types::Credentials::new(
                "AKIDEXAMPLE",
                "secret",
                None,
                None,
                "test",
            )),
        })
        .await;
        Handler::new(Canary::new(clients.unwrap()), deployment, source)
    }

    fn prod() -> Deployment {
        Deployment {
            name: Some(CanaryName::parse("prod").unwrap()),
            ..Deployment::default()
        }
    }

    #[tokio::test]
    async fn events_choose_their_configuration_and_series() {
        let base = Source::Variable(r#"{"targets":[{"table":"base-table"}]}"#.into());
        let h = handler(Ok(base), prod()).await;
        let i = h
            .config_for(&json!({"detail-type": "Scheduled Event"}))
            .await
            .unwrap();
        assert_eq!(i.config.targets[0].table.as_str(), "base-table");
        assert_eq!((i.series.as_str(), i.on_demand), ("prod", false));
        let i = h.config_for(&json!({})).await.unwrap();
        assert_eq!(i.series, "prod", "a plain invoke runs like a scheduled one");
        let i = h
            .config_for(&json!({"config": {"targets": [{"table": "override"}]}}))
            .await
            .unwrap();
        assert_eq!(i.config.targets[0].table.as_str(), "override");
        assert_eq!((i.series.as_str(), i.on_demand), ("prod/on-demand", true));
        let e = h
            .config_for(&json!({"config": {"targets": []}}))
            .await
            .unwrap_err();
        assert_eq!(e.error_type(), "InvalidConfigOverride");
        let text = crate::error::chain(&e);
        assert!(
            text.contains("invalid configuration override: event.config: targets"),
            "{text}"
        );
        let e = h.config_for(&json!("hello")).await.unwrap_err();
        assert_eq!(e.error_type(), "InvalidEvent");
    }

    #[tokio::test]
    async fn missing_canary_config_is_reported_per_invocation() {
        let h = handler(Err(ConfigError::Missing), prod()).await;
        let e = h.config_for(&json!({})).await.unwrap_err();
        assert_eq!(e.error_type(), "FunctionMisconfigured");
        let text = crate::error::chain(&e);
        assert!(
            text.contains("function misconfigured: no configuration"),
            "{text}"
        );
        assert!(text.contains("CANARY_CONFIG"), "{text}");
        // An override still works without a base configuration.
        assert!(h
            .config_for(&json!({"config": {"targets": [{"table": "abc"}]}}))
            .await
            .is_ok());
    }

    #[tokio::test]
    async fn an_invalid_deployed_configuration_is_published_as_a_config_error() {
        let base = Source::Variable(r#"{"targets":[{"table":"x"}]}"#.into());
        let h = handler(Ok(base), prod()).await;
        let mut out = Vec::new();
        let event = LambdaEvent::new(json!({}), Context::default());
        let e = h.handle_with(event, &mut out).await.unwrap_err();
        assert_eq!(e.error_type(), "FunctionMisconfigured");
        let text = String::from_utf8(out).unwrap();
        let lines: Vec<Value> = text
            .lines()
            .map(|l| serde_json::from_str(l).unwrap())
            .collect();
        // The metrics fell back to EMF (nothing listens at the endpoint).
        let emf = lines.iter().find(|l| l.get("_aws").is_some()).unwrap();
        assert_eq!(emf["Canary"], "prod");
        assert_eq!(emf["ConfigErrors"], 1.0);
        assert_eq!(emf["UnhealthyRuns"], 1.0);
        assert_eq!(emf["CanaryRuns"], 1.0);
        let log = lines
            .iter()
            .find(|l| l["message"] == "deployed configuration invalid")
            .unwrap();
        assert_eq!(log["level"], "ERROR");
        assert!(
            log["error"].as_str().unwrap().contains("targets[0].table"),
            "{log}"
        );
        // An invalid override is refused without publishing anything.
        let mut out = Vec::new();
        let event = LambdaEvent::new(json!({"config": {"targets": []}}), Context::default());
        assert!(h.handle_with(event, &mut out).await.is_err());
        let text = String::from_utf8(out).unwrap();
        assert!(!text.contains("_aws"), "{text}");
    }

    #[test]
    fn probe_lines_name_what_failed() {
        use crate::classify::{Class, Failure};
        use crate::config::{Expectation, ProbeKind, Region, TableRef};
        use crate::report::{IdentityReport, ProbeId};
        let id = |probe| ProbeId {
            table: TableRef::parse("orders").unwrap(),
            region: Region::parse("eu-west-1").unwrap(),
            probe,
            expect: Expectation::Allow,
        };
        let mut denied = Failure::new(Class::AccessDenied, "User: x is not authorized");
        denied.code = Some("AccessDeniedException".into());
        denied.request_id = Some("REQ-1".into());
        let probes = vec![
            ProbeResult::ok(id(ProbeKind::Describe), 1.0),
            ProbeResult::from_failure(id(ProbeKind::Read), Outcome::Fail, denied, 2.0),
            ProbeResult::from_failure(
                id(ProbeKind::Write),
                Outcome::NotRun,
                Failure::new(Class::Timeout, "AssumeRole did not answer"),
                0.0,
            ),
        ];
        let r = Report::new(IdentityReport::default(), probes, "eu-west-1".into(), 3.0);
        let lines = probe_lines(&r, "prod");
        assert_eq!(lines.len(), 2);
        let (level, message, f) = &lines[0];
        assert_eq!(
            (level.as_str(), message.as_str()),
            ("ERROR", "probe failed")
        );
        assert_eq!(f["table"], "orders");
        assert_eq!(f["region"], "eu-west-1");
        assert_eq!(f["probe"], "read");
        assert_eq!(f["class"], "access_denied");
        assert_eq!(f["code"], "AccessDeniedException");
        assert_eq!(f["request_id"], "REQ-1");
        assert!(f["hint"].as_str().unwrap().contains("IAM"));
        assert_eq!(lines[1].1, "probe not run");
        let mut ctx = Context::default();
        ctx.request_id = "abc-123".into();
        ctx.xray_trace_id = Some("Root=1-5759e988-bd862e3fe1be46a994272793".into());
        let log = LogContext::new(&ctx, true).line(level, message, f.clone());
        assert_eq!(log["function_request_id"], "abc-123");
        assert_eq!(log["cold_start"], true);
        assert_eq!(log["service"], "dynamodb-auth-canary");
        assert_eq!(
            log["xray_trace_id"],
            "Root=1-5759e988-bd862e3fe1be46a994272793"
        );
        assert!(log["timestamp"].as_str().unwrap().ends_with('Z'));
    }
}
