//! Clock skew: an interceptor that records the service's `Date` header
//! against the local clock on every STS and DynamoDB response, so a
//! signature refused for time can be told from one refused for keys.

use std::sync::Mutex;

/// Records the skew between the service's `Date` header and the local clock.
#[derive(Debug, Clone, Default)]
pub(crate) struct ServerDate(std::sync::Arc<Mutex<Option<i64>>>);

impl ServerDate {
    /// Server time minus local time in seconds, from the last response.
    pub(crate) fn seconds(&self) -> Option<i64> {
        *self.0.lock().unwrap_or_else(|p| p.into_inner())
    }
}

impl aws_smithy_runtime_api::client::interceptors::Intercept for ServerDate {
    fn name(&self) -> &'static str {
        "ServerDate"
    }

    fn read_after_transmit(
        &self,
        context: &aws_smithy_runtime_api::client::interceptors::context::BeforeDeserializationInterceptorContextRef<'_>,
        _components: &aws_smithy_runtime_api::client::runtime_components::RuntimeComponents,
        _cfg: &mut aws_smithy_types::config_bag::ConfigBag,
    ) -> Result<(), aws_smithy_runtime_api::box_error::BoxError> {
        let server = context.response().headers().get("date").and_then(|d| {
            aws_smithy_types::DateTime::from_str(d, aws_smithy_types::date_time::Format::HttpDate)
                .ok()
        });
        if let Some(server) = server {
            let local = aws_smithy_types::DateTime::from(std::time::SystemTime::now());
            *self.0.lock().unwrap_or_else(|p| p.into_inner()) = Some(server.secs() - local.secs());
        }
        Ok(())
    }
}
