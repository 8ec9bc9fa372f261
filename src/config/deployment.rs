//! What a deployment tells the canary through its environment, beside the
//! configuration: its name (the `Canary` dimension), its metrics namespace,
//! the role it must run as, and the partition-key values its role may use.
//! The template sets these from the same parameters as the role and the
//! alarms, so the environment wins over the configuration, and a
//! configuration that disagrees with it is refused rather than run.

use crate::config::fields::{SENTINEL_B, SENTINEL_N, SENTINEL_S};
use crate::config::{
    AccountId, CanaryName, Config, Expectation, ExpectedIdentity, Namespace, RoleArn,
};
use crate::env::env_var;
use crate::error::ConfigError;
use aws_sdk_dynamodb::types::AttributeValue;

/// `CANARY_NAME`: the deployment's name.
pub const ENV_NAME: &str = "CANARY_NAME";
/// `CANARY_NAMESPACE`: the metrics namespace the role may publish to.
pub const ENV_NAMESPACE: &str = "CANARY_NAMESPACE";
/// `CANARY_EXPECT_ROLE_ARN`: the function's own role.
pub const ENV_EXPECT_ROLE_ARN: &str = "CANARY_EXPECT_ROLE_ARN";
/// `CANARY_LEADING_KEYS`: comma-separated partition-key values the role may use.
pub const ENV_LEADING_KEYS: &str = "CANARY_LEADING_KEYS";

/// The deployment's settings.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Deployment {
    /// The `Canary` dimension of scheduled runs (`cli` on the command line
    /// unless named).
    pub name: Option<CanaryName>,
    /// The namespace the role may publish to.
    pub namespace: Option<Namespace>,
    /// The role the function runs as.
    pub expect_role: Option<RoleArn>,
    /// The partition-key values the role's `dynamodb:LeadingKeys` allows.
    pub leading_keys: Option<Vec<String>>,
}

fn var<T>(
    name: &str,
    parse: impl Fn(String) -> Result<T, String>,
) -> Result<Option<T>, ConfigError> {
    env_var(name)
        .map(|v| {
            parse(v).map_err(|message| ConfigError::Flag {
                flag: name.to_string(),
                message,
            })
        })
        .transpose()
}

/// The non-empty, trimmed items of a comma-separated list.
fn comma_list(v: &str) -> Vec<String> {
    v.split(',')
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(str::to_string)
        .collect()
}

impl Deployment {
    /// Reads the settings from the environment; `name` (a `--canary` flag)
    /// wins over `CANARY_NAME`.
    pub fn from_env(name: Option<&str>) -> Result<Deployment, ConfigError> {
        let name = match name {
            Some(n) => Some(CanaryName::parse(n).map_err(|message| ConfigError::Flag {
                flag: "--canary".into(),
                message,
            })?),
            None => var(ENV_NAME, CanaryName::parse)?,
        };
        Ok(Deployment {
            name,
            namespace: var(ENV_NAMESPACE, Namespace::parse)?,
            expect_role: var(ENV_EXPECT_ROLE_ARN, RoleArn::parse)?,
            leading_keys: env_var(ENV_LEADING_KEYS).map(|v| comma_list(&v)),
        })
    }

    /// The `Canary` dimension of runs of the deployed configuration.
    pub fn canary(&self) -> CanaryName {
        self.name.clone().unwrap_or_else(CanaryName::cli)
    }

    /// The configuration as this deployment runs it: the environment's
    /// namespace, the function's own role as the expected identity unless the
    /// configuration names one, and every configured key within the role's
    /// `LeadingKeys`. A configuration that disagrees is refused.
    pub fn apply(&self, mut config: Config, origin: &str) -> Result<Config, ConfigError> {
        let err = |path: &str, message: String| ConfigError::Field {
            origin: origin.to_string(),
            path: path.to_string(),
            message,
        };
        if let (Some(env), Some(own)) = (&self.name, &config.name) {
            if env != own {
                return Err(err(
                    "name",
                    format!("\"{own}\" differs from the deployment's {ENV_NAME}=\"{env}\": the alarms watch \"{env}\"; fix the configuration or redeploy it with deploy-params"),
                ));
            }
        }
        if let Some(env) = &self.namespace {
            match &config.metrics.namespace {
                Some(own) if own != env => {
                    return Err(err(
                        "metrics.namespace",
                        format!("\"{own}\" differs from the deployment's {ENV_NAMESPACE}=\"{env}\": the role may publish to \"{env}\" only and the alarms watch it; fix the configuration or redeploy it with deploy-params"),
                    ));
                }
                _ => config.metrics.namespace = Some(env.clone()),
            }
        }
        if config.expect.is_none() {
            if let Some(role) = &self.expect_role {
                config.expect = Some(ExpectedIdentity {
                    account: AccountId::parse(role.account()).ok(),
                    role: Some(role.name().to_string()),
                    ..ExpectedIdentity::default()
                });
            }
        }
        if let Some(allowed) = &self.leading_keys {
            for (i, t) in config.targets.iter().enumerate() {
                let Some(key) = &t.key else { continue };
                if t.expect == Expectation::Deny {
                    continue;
                }
                for (name, value) in key.attributes() {
                    let v = condition_value(&value);
                    if !allowed.contains(&v) {
                        return Err(err(
                            &format!("targets[{i}].key.{name}"),
                            format!("\"{}\" is not among the partition-key values the deployment's role may use ({ENV_LEADING_KEYS}): every probe of this key would be denied; redeploy with deploy-params so the role allows it", crate::redact::truncate(&v, 80)),
                        ));
                    }
                }
            }
        }
        Ok(config)
    }
}

/// A key value as it stands in a `dynamodb:LeadingKeys` condition: S as
/// itself, N as its decimal string, B as base64. AWS does not document the
/// form of N and B values there; this is the canary's choice, not verified
/// against AWS.
pub fn condition_value(v: &AttributeValue) -> String {
    match v {
        AttributeValue::S(s) | AttributeValue::N(s) => s.clone(),
        AttributeValue::B(b) => aws_smithy_types::base64::encode(b.as_ref()),
        _ => String::new(),
    }
}

/// The sentinel values of every key type, as condition values: what the
/// role's `LeadingKeys` must allow for keys derived from a table's schema.
pub fn sentinel_condition_values() -> Vec<String> {
    vec![
        SENTINEL_S.to_string(),
        SENTINEL_N.to_string(),
        aws_smithy_types::base64::encode(SENTINEL_B),
    ]
}

/// Every partition-key value a configuration's allow targets may send: the
/// sentinels, then each configured key's values (both values of a composite
/// key, since the configuration does not say which is the partition key).
pub fn leading_key_values(config: &Config) -> Vec<String> {
    let mut values = sentinel_condition_values();
    for t in &config.targets {
        if t.expect == Expectation::Deny {
            continue;
        }
        if let Some(key) = &t.key {
            let mut names: Vec<String> = key.names().map(str::to_string).collect();
            names.sort();
            let attrs = key.attributes();
            for n in names {
                let v = condition_value(&attrs[&n]);
                if !values.contains(&v) {
                    values.push(v);
                }
            }
        }
    }
    values
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config(text: &str) -> Config {
        Config::from_json_str(text, "t").unwrap()
    }

    #[test]
    fn leading_keys_are_a_comma_list() {
        assert_eq!(comma_list(" a, b,,c ,"), ["a", "b", "c"]);
        assert!(comma_list("").is_empty());
        assert!(comma_list(" , ").is_empty());
    }

    #[test]
    fn sentinels_as_condition_values() {
        assert_eq!(
            sentinel_condition_values(),
            [
                "__dynamodb_auth_canary__",
                "-271828182845904523536.0287",
                "X19keW5hbW9kYl9hdXRoX2NhbmFyeV9f"
            ]
        );
    }

    #[test]
    fn the_environment_namespace_wins_and_a_different_one_is_refused() {
        let d = Deployment {
            namespace: Some(Namespace::parse("Team/Canary").unwrap()),
            ..Deployment::default()
        };
        let c = d
            .apply(config(r#"{"targets":[{"table":"abc"}]}"#), "t")
            .unwrap();
        assert_eq!(c.metrics.namespace().as_str(), "Team/Canary");
        let same = r#"{"targets":[{"table":"abc"}],"metrics":{"namespace":"Team/Canary"}}"#;
        assert!(d.apply(config(same), "t").is_ok());
        let other = r#"{"targets":[{"table":"abc"}],"metrics":{"namespace":"Other"}}"#;
        let e = d
            .apply(config(other), "CANARY_CONFIG")
            .unwrap_err()
            .to_string();
        assert!(
            e.starts_with("CANARY_CONFIG: metrics.namespace: \"Other\" differs"),
            "{e}"
        );
    }

    #[test]
    fn the_function_role_is_expected_by_account_and_name() {
        let d = Deployment {
            expect_role: Some(
                RoleArn::parse("arn:aws:iam::123456789012:role/team/Canary-Role").unwrap(),
            ),
            ..Deployment::default()
        };
        let c = d
            .apply(config(r#"{"targets":[{"table":"abc"}]}"#), "t")
            .unwrap();
        let e = c.expect.unwrap();
        assert_eq!(e.account.unwrap().as_str(), "123456789012");
        assert_eq!(e.role.as_deref(), Some("Canary-Role"));
        assert!(e.arn.is_none());
        // The configuration's own expectation stays.
        let c = d
            .apply(
                config(r#"{"expect":{"user":"u"},"targets":[{"table":"abc"}]}"#),
                "t",
            )
            .unwrap();
        assert_eq!(c.expect.unwrap().user.as_deref(), Some("u"));
    }

    #[test]
    fn keys_outside_the_leading_keys_are_refused() {
        let d = Deployment {
            leading_keys: Some(vec!["__dynamodb_auth_canary__".into(), "42".into()]),
            ..Deployment::default()
        };
        let ok = r#"{"targets":[{"table":"abc","probes":["read"],"key":{"pk":{"N":"42"}}}]}"#;
        assert!(d.apply(config(ok), "t").is_ok());
        let deny = r#"{"targets":[{"table":"abc","probes":["read"],"expect":"deny","key":{"pk":{"S":"x"}}}]}"#;
        assert!(
            d.apply(config(deny), "t").is_ok(),
            "must-deny keys need no permission"
        );
        let bad = r#"{"targets":[{"table":"abc"},{"table":"abc","probes":["read"],"key":{"pk":{"S":"mine"}}}]}"#;
        let e = d.apply(config(bad), "t").unwrap_err().to_string();
        assert!(
            e.contains("targets[1].key.pk: \"mine\" is not among"),
            "{e}"
        );
    }

    #[test]
    fn names_must_agree() {
        let d = Deployment {
            name: Some(CanaryName::parse("prod").unwrap()),
            ..Deployment::default()
        };
        assert!(d
            .apply(
                config(r#"{"name":"prod","targets":[{"table":"abc"}]}"#),
                "t"
            )
            .is_ok());
        let e = d
            .apply(config(r#"{"name":"dev","targets":[{"table":"abc"}]}"#), "t")
            .unwrap_err()
            .to_string();
        assert!(e.contains("name: \"dev\" differs"), "{e}");
        assert_eq!(Deployment::default().canary().as_str(), "cli");
        assert_eq!(d.canary().on_demand(), "prod/on-demand");
    }

    #[test]
    fn leading_key_values_cover_sentinels_and_configured_keys() {
        let c = config(
            r#"{"targets":[{"table":"abc","probes":["read"],"key":{"pk":{"B":"aGk="},"sk":{"N":"7"}}},
                           {"table":"abd","probes":["read"],"expect":"deny","key":{"pk":{"S":"no"}}}]}"#,
        );
        let v = leading_key_values(&c);
        assert_eq!(&v[3..], ["aGk=", "7"]);
        assert!(!v.contains(&"no".to_string()));
    }
}
