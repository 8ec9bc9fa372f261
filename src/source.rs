//! Where a configuration comes from: a file (`--config`), the
//! `CANARY_CONFIG` variable, or an SSM parameter named by
//! `CANARY_CONFIG_PARAMETER` (for configurations larger than Lambda's 4 KB of
//! environment). Each is read once and parsed by [`Config::from_json_str`].

use crate::aws::call::bounded;
use crate::aws::AwsClients;
use crate::config::Config;
use crate::env::env_var;
use crate::error::ConfigError;
use std::path::PathBuf;
use std::time::Duration;

/// `CANARY_CONFIG`: the configuration's JSON.
pub const ENV_CONFIG: &str = "CANARY_CONFIG";
/// `CANARY_CONFIG_PARAMETER`: the SSM parameter holding the configuration.
pub const ENV_CONFIG_PARAMETER: &str = "CANARY_CONFIG_PARAMETER";
/// How long reading the SSM parameter may take.
pub const PARAMETER_TIMEOUT: Duration = Duration::from_secs(3);

/// Where the configuration is read from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Source {
    /// A file.
    File(PathBuf),
    /// The `CANARY_CONFIG` variable's text.
    Variable(String),
    /// An SSM parameter's name.
    Parameter(String),
}

impl Source {
    /// The file if given, else `CANARY_CONFIG`, else `CANARY_CONFIG_PARAMETER`.
    pub fn find(file: Option<&PathBuf>) -> Result<Source, ConfigError> {
        if let Some(p) = file {
            return Ok(Source::File(p.clone()));
        }
        if let Some(text) = env_var(ENV_CONFIG) {
            return Ok(Source::Variable(text));
        }
        if let Some(name) = env_var(ENV_CONFIG_PARAMETER) {
            return Ok(Source::Parameter(name));
        }
        Err(ConfigError::Missing)
    }

    /// What error messages call it.
    pub fn origin(&self) -> String {
        match self {
            Source::File(p) => p.display().to_string(),
            Source::Variable(_) => ENV_CONFIG.to_string(),
            Source::Parameter(name) => format!("SSM parameter {name}"),
        }
    }

    /// Whether reading it needs AWS (and may succeed on a later try).
    pub fn is_remote(&self) -> bool {
        matches!(self, Source::Parameter(_))
    }

    /// Reads and parses the configuration. Only a parameter needs `clients`.
    pub async fn load(&self, clients: Option<&AwsClients>) -> Result<Config, ConfigError> {
        let text = match (self, clients) {
            (Source::Parameter(name), Some(clients)) => read_parameter(clients, name).await?,
            _ => self.read_local()?,
        };
        Config::from_json_str(&text, &self.origin())
    }

    /// Reads and parses a source that needs no AWS (a file or the variable).
    pub fn load_local(&self) -> Result<Config, ConfigError> {
        Config::from_json_str(&self.read_local()?, &self.origin())
    }

    /// The text of a local source (a file or the variable).
    pub fn read_local(&self) -> Result<String, ConfigError> {
        match self {
            Source::File(p) => {
                let bytes = std::fs::read(p).map_err(|source| ConfigError::Read {
                    path: p.display().to_string(),
                    source,
                })?;
                String::from_utf8(bytes).map_err(|e| ConfigError::Field {
                    origin: p.display().to_string(),
                    path: "(top level)".into(),
                    message: format!(
                        "is not UTF-8 text (an invalid byte at offset {}): save it as UTF-8",
                        e.utf8_error().valid_up_to()
                    ),
                })
            }
            Source::Variable(text) => Ok(text.clone()),
            Source::Parameter(name) => Err(ConfigError::Parameter {
                name: name.clone(),
                message: "reading a parameter needs AWS clients".into(),
            }),
        }
    }
}

async fn read_parameter(clients: &AwsClients, name: &str) -> Result<String, ConfigError> {
    let call = clients
        .ssm()
        .get_parameter()
        .name(name)
        .with_decryption(true)
        .customize()
        .config_override(crate::aws::call::op_config!(aws_sdk_ssm, PARAMETER_TIMEOUT))
        .send();
    let out = bounded("GetParameter", PARAMETER_TIMEOUT, call)
        .await
        .map_err(|f| ConfigError::Parameter {
            name: name.to_string(),
            message: format!(
                "cannot read it ({}{}): {}",
                f.class,
                f.code.map(|c| format!(", {c}")).unwrap_or_default(),
                f.message
            ),
        })?;
    out.parameter
        .and_then(|p| p.value)
        .ok_or_else(|| ConfigError::Parameter {
            name: name.to_string(),
            message: "the parameter has no value".into(),
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn local_sources_load_without_aws() {
        let c = Source::Variable(r#"{"targets":[{"table":"abc"}]}"#.into())
            .load_local()
            .unwrap();
        assert_eq!(c.targets[0].table.as_str(), "abc");
        let e = Source::Variable("{".into()).load_local().unwrap_err();
        assert!(
            e.to_string().starts_with("CANARY_CONFIG: invalid JSON"),
            "{e}"
        );
        let e = Source::File("/nonexistent/c.json".into())
            .load_local()
            .unwrap_err();
        assert!(e.to_string().contains("/nonexistent/c.json"), "{e}");
        let e = Source::Parameter("/canary/config".into())
            .load_local()
            .unwrap_err();
        assert!(
            e.to_string().contains("SSM parameter /canary/config"),
            "{e}"
        );
        assert!(Source::Parameter("x".into()).is_remote());
    }
}
