//! Typed errors for what stops a run before any probe starts.
//!
//! Failures *of* AWS calls are not errors here: they are classified into a
//! [`crate::classify::Failure`] and reported. These errors are about the
//! canary's own inputs (configuration, command line, event) and exit with 2.

use thiserror::Error;

/// The exit code of whatever stops a run before any probe: a usage or
/// configuration error (the command line's 2; the Lambda's failed init).
pub const EXIT_CONFIG: u8 = 2;

/// A configuration that cannot be used.
#[derive(Debug, Error)]
pub enum ConfigError {
    /// The JSON is not well-formed.
    #[error("{origin}: invalid JSON at line {line}, column {column}: {message}")]
    Syntax {
        /// Where the text came from (a path, `CANARY_CONFIG`, `event.config`).
        origin: String,
        /// Line of the error.
        line: usize,
        /// Column of the error.
        column: usize,
        /// What is wrong.
        message: String,
    },
    /// A field has a bad value.
    #[error("{origin}: {path}: {message}")]
    Field {
        /// Where the text came from.
        origin: String,
        /// The field path, e.g. `targets[1].regions[0]`.
        path: String,
        /// What is wrong.
        message: String,
    },
    /// The configuration file could not be read.
    #[error("cannot read configuration file {path}")]
    Read {
        /// The file.
        path: String,
        /// Why.
        #[source]
        source: std::io::Error,
    },
    /// Neither a file, nor `CANARY_CONFIG`, nor `--table` was given.
    #[error("no configuration: pass --config FILE or --table NAME, or set CANARY_CONFIG to the JSON configuration (or CANARY_CONFIG_PARAMETER to the SSM parameter holding it)")]
    Missing,
    /// The SSM parameter holding the configuration could not be read.
    #[error("SSM parameter {name}: {message}")]
    Parameter {
        /// The parameter's name.
        name: String,
        /// Why.
        message: String,
    },
    /// No region could be found anywhere.
    #[error("no AWS region: pass --region, set AWS_REGION (or AWS_DEFAULT_REGION), or set region in the AWS profile")]
    NoRegion,
    /// A value given outside the configuration file (a flag, or a variable
    /// standing in for one) is not valid.
    #[error("{flag}: {message}")]
    Flag {
        /// The flag or variable (`--region`, `AWS_REGION`).
        flag: String,
        /// What is wrong.
        message: String,
    },
    /// A bundle of trusted certificates that someone named cannot be used.
    #[error("{origin}: {path}: {problem}; it names the certificate authorities to trust for HTTPS (behind a TLS-inspecting proxy, your organisation's CA bundle)")]
    CaBundle {
        /// The variable or profile key that named it.
        origin: String,
        /// The file or folder.
        path: String,
        /// What is wrong with it.
        problem: String,
    },
    /// An endpoint URL is not usable.
    #[error("{origin}: \"{url}\" is not an http:// or https:// URL")]
    BadEndpoint {
        /// Where it came from.
        origin: String,
        /// The bad value.
        url: String,
    },
}

/// Errors of the Lambda handler: reported as the invocation's error, whose
/// message is the whole chain ([`chain`]).
#[derive(Debug, Error)]
pub enum HandlerError {
    /// The event's `config` override is invalid; nothing was probed or published.
    #[error("invalid configuration override")]
    InvalidOverride(#[source] ConfigError),
    /// The event is not a JSON object.
    #[error("invalid event: {0}")]
    InvalidEvent(String),
    /// The report could not be serialised (a bug, not an input problem).
    #[error("internal error: cannot render the report")]
    Internal(#[source] serde_json::Error),
    /// No usable configuration in the function's environment.
    #[error("function misconfigured")]
    Misconfigured(#[source] std::sync::Arc<ConfigError>),
}

impl HandlerError {
    /// A stable error type name for the Lambda error response.
    pub fn error_type(&self) -> &'static str {
        match self {
            HandlerError::InvalidOverride(_) => "InvalidConfigOverride",
            HandlerError::InvalidEvent(_) => "InvalidEvent",
            HandlerError::Misconfigured(_) => "FunctionMisconfigured",
            HandlerError::Internal(_) => "InternalError",
        }
    }
}

impl From<HandlerError> for lambda_runtime::Diagnostic {
    fn from(e: HandlerError) -> Self {
        lambda_runtime::Diagnostic {
            error_type: e.error_type().to_string(),
            error_message: chain(&e),
        }
    }
}

/// An error and each of its sources, joined with `": "`: what a person reads.
pub fn chain(err: &(dyn std::error::Error + 'static)) -> String {
    crate::classify::sources(err)
        .map(ToString::to_string)
        .filter(|s| !s.is_empty())
        .collect::<Vec<_>>()
        .join(": ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn chains_show_each_cause_once() {
        let e = ConfigError::Read {
            path: "/x/c.json".into(),
            source: std::io::Error::new(std::io::ErrorKind::NotFound, "no such file"),
        };
        assert_eq!(
            chain(&e),
            "cannot read configuration file /x/c.json: no such file"
        );
        let h = HandlerError::InvalidOverride(ConfigError::Missing);
        let text = chain(&h);
        assert!(
            text.starts_with("invalid configuration override: no configuration"),
            "{text}"
        );
        assert_eq!(text.matches("no configuration").count(), 1, "{text}");
        let d = lambda_runtime::Diagnostic::from(h);
        assert_eq!(d.error_type, "InvalidConfigOverride");
        assert_eq!(d.error_message, text);
    }
}
