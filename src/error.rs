//! Typed errors for what stops a run before any probe starts.
//!
//! Failures *of* AWS calls are not errors here: they are classified into a
//! [`crate::classify::Failure`] and reported. These errors are about the
//! canary's own inputs (configuration, command line, event) and exit with 2.

use thiserror::Error;

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
    #[error("cannot read configuration file {path}: {source}")]
    Read {
        /// The file.
        path: String,
        /// Why.
        #[source]
        source: std::io::Error,
    },
    /// Neither a file, nor `CANARY_CONFIG`, nor `--table` was given.
    #[error("no configuration: pass --config FILE or --table NAME, or set CANARY_CONFIG to the JSON configuration")]
    Missing,
    /// No region could be found anywhere.
    #[error("no AWS region: pass --region, set AWS_REGION (or AWS_DEFAULT_REGION), or set region in the AWS profile")]
    NoRegion,
    /// A region given outside the configuration file is unknown.
    #[error("{origin}: \"{region}\" is not a region")]
    UnknownRegion {
        /// Where it came from (`--region`, `AWS_REGION`).
        origin: String,
        /// The bad value.
        region: String,
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

/// Errors of the Lambda handler: reported as the invocation's error.
#[derive(Debug, Error)]
pub enum HandlerError {
    /// The event's `config` override is invalid; nothing was probed or published.
    #[error("invalid configuration override: {0}")]
    InvalidOverride(#[source] ConfigError),
    /// The event is not a JSON object.
    #[error("invalid event: {0}")]
    InvalidEvent(String),
    /// The report could not be serialised (a bug, not an input problem).
    #[error("internal error: {0}")]
    Internal(String),
    /// No configuration at all in the function's environment.
    #[error("function misconfigured: {0}")]
    Misconfigured(#[source] ConfigError),
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
            error_message: e.to_string(),
        }
    }
}
