//! One way to call AWS: every call carries per-operation timeouts and retries
//! derived from one budget, is bounded by that budget even if the SDK's own
//! bound fails, and ends either in its output or in a classified [`Failure`].

use crate::classify::{classify_sdk_error, Class, Failure};
use aws_smithy_runtime_api::client::orchestrator::HttpResponse;
use aws_smithy_runtime_api::client::result::SdkError;
use aws_smithy_types::error::metadata::ProvideErrorMetadata;
use aws_smithy_types::retry::RetryConfig;
use aws_smithy_types::timeout::TimeoutConfig;
use std::error::Error as StdError;
use std::future::Future;
use std::time::Duration;

/// How long past its budget a call may run before the guard gives up on it:
/// the SDK's operation timeout fires first; this catches anything it misses.
pub const GUARD: Duration = Duration::from_millis(250);

/// Timeouts and retries for one call: connect, each attempt and the whole
/// operation bounded by `budget`; throttling retried with backoffs scaled to
/// fit inside it, so a throttled table is reported as `throttled`, not
/// `timeout`.
pub fn limits(budget: Duration) -> (TimeoutConfig, RetryConfig) {
    let connect = budget.min(Duration::from_millis(3_100)).mul_f64(0.5);
    let tc = TimeoutConfig::builder()
        .connect_timeout(connect)
        .operation_attempt_timeout(budget.mul_f64(0.6))
        .operation_timeout(budget)
        .build();
    let rc = RetryConfig::standard()
        .with_max_attempts(3)
        .with_initial_backoff(budget / 20)
        .with_max_backoff(budget / 8);
    (tc, rc)
}

/// The per-operation configuration of a call to service `$sdk` (a crate such
/// as `aws_sdk_dynamodb`) within `$budget`, for `.customize().config_override(..)`.
macro_rules! op_config {
    ($sdk:ident, $budget:expr) => {{
        let (tc, rc) = $crate::aws::call::limits($budget);
        $sdk::config::Builder::default()
            .timeout_config(tc)
            .retry_config(rc)
    }};
}
pub(crate) use op_config;

/// Awaits one AWS call within `budget` (plus [`GUARD`]) and classifies its
/// failure. `what` names the operation in the timeout message.
pub async fn bounded<T, E, F>(what: &str, budget: Duration, call: F) -> Result<T, Failure>
where
    F: Future<Output = Result<T, SdkError<E, HttpResponse>>>,
    E: ProvideErrorMetadata + StdError + 'static,
{
    match tokio::time::timeout(budget + GUARD, call).await {
        Err(_) => Err(timed_out(what, budget)),
        Ok(Err(e)) => Err(classify_sdk_error(&e)),
        Ok(Ok(out)) => Ok(out),
    }
}

/// The failure of a call that did not answer within its budget.
pub fn timed_out(what: &str, budget: Duration) -> Failure {
    Failure::new(
        Class::Timeout,
        format!("{what} did not answer within {} ms", budget.as_millis()),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn limits_fit_inside_the_budget() {
        let (tc, rc) = limits(Duration::from_millis(2_000));
        assert_eq!(tc.operation_timeout(), Some(Duration::from_millis(2_000)));
        assert_eq!(
            tc.operation_attempt_timeout(),
            Some(Duration::from_millis(1_200))
        );
        assert_eq!(tc.connect_timeout(), Some(Duration::from_millis(1_000)));
        assert_eq!(rc.max_attempts(), 3);
        assert_eq!(rc.max_backoff(), Duration::from_millis(250));
        let (tc, _) = limits(Duration::from_secs(60));
        assert_eq!(tc.connect_timeout(), Some(Duration::from_millis(1_550)));
    }

    #[tokio::test]
    async fn a_call_that_never_answers_is_a_timeout() {
        let never = std::future::pending::<
            Result<
                (),
                SdkError<
                    aws_sdk_sts::operation::get_caller_identity::GetCallerIdentityError,
                    HttpResponse,
                >,
            >,
        >();
        let f = bounded("GetCallerIdentity", Duration::from_millis(10), never)
            .await
            .unwrap_err();
        assert_eq!(f.class, Class::Timeout);
        assert_eq!(f.message, "GetCallerIdentity did not answer within 10 ms");
    }
}
