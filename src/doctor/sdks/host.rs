//! The host as every SDK reads it: the environment variables that steer a
//! default client, and the shared config and credentials files, kept file
//! by file (the SDKs disagree on which file a key may come from).

use std::collections::BTreeMap;

/// One section of an INI file: key → value.
pub type Section = BTreeMap<String, String>;

/// The variables a default client of some SDK reads (the tables name them).
const VARIABLES: &[&str] = &[
    "AWS_ACCESS_KEY_ID",
    "AWS_SECRET_ACCESS_KEY",
    "AWS_SESSION_TOKEN",
    "AWS_PROFILE",
    "AWS_REGION",
    "AWS_DEFAULT_REGION",
    "AWS_WEB_IDENTITY_TOKEN_FILE",
    "AWS_ROLE_ARN",
    "AWS_CONTAINER_CREDENTIALS_RELATIVE_URI",
    "AWS_CONTAINER_CREDENTIALS_FULL_URI",
    "AWS_EC2_METADATA_DISABLED",
    "AWS_CA_BUNDLE",
    "SSL_CERT_FILE",
    "SSL_CERT_DIR",
    "NODE_EXTRA_CA_CERTS",
    "AWS_ENDPOINT_URL",
    "AWS_ENDPOINT_URL_STS",
    "AWS_ENDPOINT_URL_DYNAMODB",
    "AWS_IGNORE_CONFIGURED_ENDPOINT_URLS",
    "AWS_CONFIG_FILE",
    "AWS_SHARED_CREDENTIALS_FILE",
    "HOME",
];

/// The environment and the two shared files.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Host {
    env: BTreeMap<String, String>,
    /// The config file's profiles by name (`[profile x]` → `x`, `[default]`).
    config: BTreeMap<String, Section>,
    /// The credentials file's profiles by name.
    credentials: BTreeMap<String, Section>,
}

impl Host {
    /// This process's environment and the files it names (or `~/.aws/`).
    pub fn from_process() -> Host {
        let env: Vec<(String, String)> = VARIABLES
            .iter()
            .filter_map(|v| crate::env::env_var(v).map(|x| (v.to_string(), x)))
            .collect();
        let mut host = Host::from_parts(&env, "", "");
        let home = host
            .var("HOME")
            .unwrap_or("~")
            .trim_end_matches('/')
            .to_string();
        let read = |var: &str, default: &str| {
            let path = host
                .var(var)
                .map(str::to_string)
                .unwrap_or_else(|| format!("{home}/.aws/{default}"));
            std::fs::read_to_string(path).unwrap_or_default()
        };
        let (config, credentials) = (
            read("AWS_CONFIG_FILE", "config"),
            read("AWS_SHARED_CREDENTIALS_FILE", "credentials"),
        );
        host.config = parse(&config, true);
        host.credentials = parse(&credentials, false);
        host
    }

    /// A host from given variables and file contents (blank values unset).
    pub fn from_parts(env: &[(String, String)], config: &str, credentials: &str) -> Host {
        Host {
            env: env
                .iter()
                .filter(|(_, v)| !v.trim().is_empty())
                .cloned()
                .collect(),
            config: parse(config, true),
            credentials: parse(credentials, false),
        }
    }

    /// A variable, blank counting as unset.
    pub fn var(&self, name: &str) -> Option<&str> {
        self.env.get(name).map(String::as_str)
    }

    /// The profile a default client selects: `AWS_PROFILE`, else `default`.
    pub fn profile_name(&self) -> &str {
        self.var("AWS_PROFILE").unwrap_or("default")
    }

    /// The profile's section in the config file.
    pub fn config_section(&self, profile: &str) -> Option<&Section> {
        self.config.get(profile)
    }

    /// The profile's section in the credentials file.
    pub fn credentials_section(&self, profile: &str) -> Option<&Section> {
        self.credentials.get(profile)
    }

    /// Whether either file defines the profile.
    pub fn profile_exists(&self, profile: &str) -> bool {
        self.config.contains_key(profile) || self.credentials.contains_key(profile)
    }

    /// `key` of the profile: the credentials file first, then the config
    /// file (the order every SDK reads credentials in).
    pub fn key(&self, profile: &str, key: &str) -> Option<&str> {
        self.credentials_section(profile)
            .and_then(|s| s.get(key))
            .or_else(|| self.config_section(profile).and_then(|s| s.get(key)))
            .map(String::as_str)
            .filter(|v| !v.is_empty())
    }

    /// Whether a file is readable at `path` (a token file, a bundle).
    pub fn file_exists(path: &str) -> bool {
        std::path::Path::new(path).is_file()
    }
}

/// Parses an AWS shared file: `[section]`, `key = value`, comments with `#`
/// or `;` at the start of a line, indented lines (nested settings) skipped.
/// In the config file `[profile x]` is profile `x` and `[default]` (or
/// `[profile default]`) the default; other sections (`sso-session`,
/// `services`) are not profiles.
fn parse(text: &str, config: bool) -> BTreeMap<String, Section> {
    let mut out: BTreeMap<String, Section> = BTreeMap::new();
    let mut current: Option<String> = None;
    for raw in text.lines() {
        if raw.starts_with([' ', '\t']) {
            continue;
        }
        let line = raw.trim();
        if line.is_empty() || line.starts_with('#') || line.starts_with(';') {
            continue;
        }
        if let Some(name) = line.strip_prefix('[').and_then(|l| l.strip_suffix(']')) {
            let name = name.trim();
            current = if !config || name == "default" {
                Some(name.to_string())
            } else {
                name.strip_prefix("profile ")
                    .map(|n| n.trim().to_string())
                    .filter(|n| !n.is_empty())
            };
            if let Some(c) = &current {
                out.entry(c.clone()).or_default();
            }
            continue;
        }
        if let (Some(section), Some((k, v))) = (&current, line.split_once('=')) {
            out.entry(section.clone())
                .or_default()
                .insert(k.trim().to_string(), v.trim().to_string());
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn profiles_are_named_as_the_sdks_name_them() {
        let config = "[default]\nregion = us-east-1\n[profile ops]\nregion=eu-west-1\n  nested = x\n[sso-session s]\nsso_region = us-east-1\n# c\n";
        let creds = "[ops]\naws_access_key_id = AKIAOPS\n[profile weird]\nx = 1\n";
        let h = Host::from_parts(&[("AWS_PROFILE".into(), "ops".into())], config, creds);
        assert_eq!(h.profile_name(), "ops");
        assert_eq!(h.key("ops", "region"), Some("eu-west-1"));
        assert_eq!(h.key("ops", "aws_access_key_id"), Some("AKIAOPS"));
        assert_eq!(h.key("ops", "nested"), None);
        assert!(h.profile_exists("default"));
        assert!(!h.profile_exists("s"));
        assert!(h.profile_exists("profile weird"));
        assert_eq!(
            h.config_section("default").unwrap().get("region").unwrap(),
            "us-east-1"
        );
    }

    #[test]
    fn blank_variables_are_unset() {
        let h = Host::from_parts(&[("AWS_REGION".into(), " ".into())], "", "");
        assert_eq!(h.var("AWS_REGION"), None);
        assert_eq!(h.profile_name(), "default");
    }
}
