//! Retry settings as the SDK reads them (`AWS_MAX_ATTEMPTS`,
//! `AWS_RETRY_MODE`, the profile's `max_attempts` and `retry_mode`), but a
//! value the SDK would panic on is refused by name instead.

use crate::error::ConfigError;

/// The retry settings of the environment (`AWS_MAX_ATTEMPTS`,
/// `AWS_RETRY_MODE`) and of the selected profile (`max_attempts`,
/// `retry_mode`), per field the environment first, as the SDK reads them,
/// but refused by name instead of the SDK's panic.
pub async fn checked_retry_config(
    profile: Option<&str>,
) -> Result<aws_smithy_types::retry::RetryConfig, ConfigError> {
    use aws_smithy_types::retry::{RetryConfig, RetryMode};
    use std::str::FromStr;
    let bad = |flag: String, message: String| ConfigError::Flag { flag, message };
    let profile_value = |key: &'static str| super::profile::setting(profile, key);
    let setting = |var: &str| std::env::var(var).ok().map(|v| (var.to_string(), v));
    let mut config = RetryConfig::standard();
    let attempts = match setting("AWS_MAX_ATTEMPTS") {
        Some(s) => Some(s),
        None => profile_value("max_attempts").await,
    };
    if let Some((from, v)) = attempts {
        match v.trim().parse::<u32>() {
            Ok(n) if n >= 1 => config = config.with_max_attempts(n),
            _ => {
                return Err(bad(
                    from,
                    format!(
                        "\"{}\" is not a number of attempts (1 or more)",
                        crate::redact::truncate(&v, 40)
                    ),
                ))
            }
        }
    }
    let mode = match setting("AWS_RETRY_MODE") {
        Some(s) => Some(s),
        None => profile_value("retry_mode").await,
    };
    if let Some((from, v)) = mode {
        match RetryMode::from_str(&v) {
            Ok(m) => config = config.with_retry_mode(m),
            Err(_) => {
                return Err(bad(
                    from,
                    format!(
                        "\"{}\" is not a retry mode (standard or adaptive)",
                        crate::redact::truncate(&v, 40)
                    ),
                ))
            }
        }
    }
    Ok(config)
}
