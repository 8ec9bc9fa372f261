//! The Lambda handler: a scheduled (or any) event runs the configured
//! checks; an event carrying `config` runs that configuration instead. An
//! unhealthy run still returns its report: health travels through metrics.

use crate::config::Config;
use crate::error::{ConfigError, HandlerError};
use crate::run::{self, Canary};
use lambda_runtime::LambdaEvent;
use serde_json::Value;
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime};

/// Time kept back from the invocation's deadline for publishing metrics and
/// returning the response.
pub const SAFETY_MARGIN: Duration = Duration::from_millis(1_500);

/// What a warm function keeps between invocations.
#[derive(Debug)]
pub struct Handler {
    canary: Arc<Canary>,
    /// The configuration from `CANARY_CONFIG`, parsed once at cold start.
    base: Result<Config, Arc<ConfigError>>,
}

impl Handler {
    /// Builds the handler state once per cold start.
    pub fn new(canary: Arc<Canary>, base: Result<Config, ConfigError>) -> Handler {
        Handler {
            canary,
            base: base.map_err(Arc::new),
        }
    }

    /// Chooses the configuration an event asks for.
    pub fn config_for(&self, event: &Value) -> Result<Config, HandlerError> {
        let obj = event.as_object().ok_or_else(|| {
            HandlerError::InvalidEvent(format!(
                "expected a JSON object (a scheduled event, {{}}, or {{\"config\": {{...}}}}), got {}",
                type_name(event)
            ))
        })?;
        match obj.get("config") {
            Some(v) => {
                Config::from_value(v.clone(), "event.config").map_err(HandlerError::InvalidOverride)
            }
            None => self.base.clone().map_err(HandlerError::Misconfigured),
        }
    }

    /// Handles one invocation.
    pub async fn handle(&self, event: LambdaEvent<Value>) -> Result<Value, HandlerError> {
        let config = self.config_for(&event.payload)?;
        let now = Instant::now();
        let remaining = remaining_time(event.context.deadline, SystemTime::now());
        let publish_deadline = now + remaining.saturating_sub(Duration::from_millis(300));
        let run_deadline = (now + remaining.saturating_sub(SAFETY_MARGIN))
            .min(now + Duration::from_millis(config.deadline_ms.get()));
        let source = event
            .payload
            .get("detail-type")
            .and_then(Value::as_str)
            .unwrap_or("direct invocation");
        tracing::info!(
            source,
            targets = config.targets.len(),
            remaining_ms = remaining.as_millis() as u64,
            deadline_epoch_ms = event.context.deadline,
            "canary run starting"
        );
        let mut stdout = std::io::stdout();
        let report = run::check(
            &self.canary,
            &config,
            run_deadline,
            publish_deadline,
            &mut stdout,
        )
        .await;
        tracing::info!(
            healthy = report.healthy,
            failed = report.summary.failed,
            identity = %report.identity.class,
            sink = report.metrics.as_ref().map_or("none", |m| m.sink.as_str()),
            "canary run finished"
        );
        serde_json::to_value(&report).map_err(HandlerError::Internal)
    }
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

/// Serves invocations until the runtime stops.
pub async fn serve(
    canary: Arc<Canary>,
    base: Result<Config, ConfigError>,
) -> Result<(), lambda_runtime::Error> {
    let handler = Arc::new(Handler::new(canary, base));
    lambda_runtime::run(lambda_runtime::service_fn(
        move |event: LambdaEvent<Value>| {
            let handler = Arc::clone(&handler);
            async move { handler.handle(event).await }
        },
    ))
    .await
}

#[cfg(test)]
mod tests {
    use super::*;

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

    fn handler(base: Result<Config, ConfigError>) -> Handler {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        let clients = rt.block_on(crate::clients::AwsClients::load(
            &crate::clients::ClientOptions {
                region: Some("us-east-1".into()),
                endpoint_url: Some("http://127.0.0.1:9".into()),
                profile: None,
            },
        ));
        Handler::new(Canary::new(clients.unwrap()), base)
    }

    #[test]
    fn events_choose_their_configuration() {
        let base =
            Config::from_json_str(r#"{"targets":[{"table":"base-table"}]}"#, "CANARY_CONFIG");
        let h = handler(base);
        let c = h
            .config_for(&serde_json::json!({"detail-type": "Scheduled Event"}))
            .unwrap();
        assert_eq!(c.targets[0].table.as_str(), "base-table");
        let c = h
            .config_for(&serde_json::json!({"config": {"targets": [{"table": "override"}]}}))
            .unwrap();
        assert_eq!(c.targets[0].table.as_str(), "override");
        let e = h
            .config_for(&serde_json::json!({"config": {"targets": []}}))
            .unwrap_err();
        assert_eq!(e.error_type(), "InvalidConfigOverride");
        let text = crate::error::chain(&e);
        assert!(
            text.contains("invalid configuration override: event.config: targets"),
            "{text}"
        );
        let e = h.config_for(&serde_json::json!("hello")).unwrap_err();
        assert_eq!(e.error_type(), "InvalidEvent");
    }

    #[test]
    fn missing_canary_config_is_reported_per_invocation() {
        let h = handler(Err(ConfigError::Missing));
        let e = h.config_for(&serde_json::json!({})).unwrap_err();
        assert_eq!(e.error_type(), "FunctionMisconfigured");
        let text = crate::error::chain(&e);
        assert!(
            text.contains("function misconfigured: no configuration"),
            "{text}"
        );
        assert!(text.contains("CANARY_CONFIG"), "{text}");
        // An override still works without a base configuration.
        assert!(h
            .config_for(&serde_json::json!({"config": {"targets": [{"table": "abc"}]}}))
            .is_ok());
    }
}
