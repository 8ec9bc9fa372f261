//! The canary's configuration: one JSON schema, parsed and validated once.
//!
//! Every error names the field path and the problem
//! (`targets[1].regions[0]: "us-east-9" is not a region`), whether it comes
//! from a file, the `CANARY_CONFIG` variable or an invocation event.

use crate::error::ConfigError;
use crate::regions;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// Default per-probe timeout (connect, operation and retries together).
pub const DEFAULT_TIMEOUT_MS: u64 = 2_000;
/// Default deadline for a whole run on the command line.
pub const DEFAULT_DEADLINE_MS: u64 = 25_000;
/// Default number of (table, region) chains probed at once.
pub const DEFAULT_CONCURRENCY: usize = 16;
/// Default CloudWatch namespace.
pub const DEFAULT_NAMESPACE: &str = "DynamoDBAuthCanary";
/// Default name of the TTL attribute written on the sentinel item.
pub const DEFAULT_TTL_ATTRIBUTE: &str = "expires_at";
/// Below this many seconds of credential lifetime the run warns.
pub const DEFAULT_EXPIRY_WARNING_SECONDS: u64 = 900;

/// The whole configuration.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct Config {
    /// The identity the canary expects to run as.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub expect: Option<ExpectedIdentity>,
    /// Values every target inherits unless it sets its own.
    #[serde(default)]
    pub defaults: Defaults,
    /// The tables to probe.
    #[serde(default)]
    pub targets: Vec<Target>,
    /// Where and how metrics are published.
    #[serde(default)]
    pub metrics: MetricsConfig,
    /// How many (table, region) chains run at once.
    #[serde(default = "default_concurrency")]
    pub concurrency: usize,
    /// The run's deadline on the command line; in Lambda the invocation's
    /// remaining time (less a margin) is used when it is shorter.
    #[serde(default = "default_deadline_ms")]
    pub deadline_ms: u64,
    /// Warn (`credentials_expiring`) when credentials expire sooner than this.
    #[serde(default = "default_expiry_warning")]
    pub expiry_warning_seconds: u64,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            expect: None,
            defaults: Defaults::default(),
            targets: Vec::new(),
            metrics: MetricsConfig::default(),
            concurrency: DEFAULT_CONCURRENCY,
            deadline_ms: DEFAULT_DEADLINE_MS,
            expiry_warning_seconds: DEFAULT_EXPIRY_WARNING_SECONDS,
        }
    }
}

fn default_concurrency() -> usize {
    DEFAULT_CONCURRENCY
}
fn default_deadline_ms() -> u64 {
    DEFAULT_DEADLINE_MS
}
fn default_expiry_warning() -> u64 {
    DEFAULT_EXPIRY_WARNING_SECONDS
}

/// What the caller identity must look like.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct ExpectedIdentity {
    /// 12-digit account id.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub account: Option<String>,
    /// Role name (for assumed roles).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub role: Option<String>,
    /// IAM user name (for users).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub user: Option<String>,
    /// The exact caller ARN.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub arn: Option<String>,
}

/// Defaults for targets.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct Defaults {
    /// Regions probed when a target names none; empty means the SDK's region.
    #[serde(default)]
    pub regions: Vec<String>,
    /// Probes run when a target names none.
    #[serde(default = "default_probes")]
    pub probes: Vec<ProbeKind>,
    /// Per-probe timeout in milliseconds.
    #[serde(default = "default_timeout_ms")]
    pub timeout_ms: u64,
}

impl Default for Defaults {
    fn default() -> Self {
        Defaults {
            regions: Vec::new(),
            probes: default_probes(),
            timeout_ms: DEFAULT_TIMEOUT_MS,
        }
    }
}

fn default_probes() -> Vec<ProbeKind> {
    vec![ProbeKind::Describe]
}
fn default_timeout_ms() -> u64 {
    DEFAULT_TIMEOUT_MS
}

/// One table to probe.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct Target {
    /// Table name (or table ARN).
    pub table: String,
    /// Regions to probe: a list, or `"replicas"` for a global table's replicas.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub regions: Option<Regions>,
    /// Where to discover replicas; defaults to the first default region.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub home_region: Option<String>,
    /// Probes for this table; defaults to `defaults.probes`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub probes: Option<Vec<ProbeKind>>,
    /// `allow` (default) or `deny` (a must-deny probe).
    #[serde(default)]
    pub expect: Expectation,
    /// Sentinel key in DynamoDB JSON, e.g. `{"pk": {"S": "__canary__"}}`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub key: Option<BTreeMap<String, serde_json::Value>>,
    /// TTL attribute set on the sentinel item of a `write` probe.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ttl_attribute: Option<String>,
    /// Per-probe timeout for this table.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub timeout_ms: Option<u64>,
    /// Role to assume before probing this table (cross-account targets).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub role_arn: Option<String>,
    /// External id for the AssumeRole call.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub external_id: Option<String>,
    /// Session name for the AssumeRole call.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub session_name: Option<String>,
}

/// A target's regions.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum Regions {
    /// An explicit list.
    List(Vec<String>),
    /// The keyword `"replicas"`.
    Keyword(String),
}

/// The kinds of probe.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ProbeKind {
    /// DynamoDB DescribeTable.
    Describe,
    /// GetItem of a sentinel key.
    Read,
    /// PutItem then DeleteItem of a sentinel item (opt-in).
    Write,
}

impl ProbeKind {
    /// The name used in reports and metrics.
    pub fn as_str(self) -> &'static str {
        match self {
            ProbeKind::Describe => "describe",
            ProbeKind::Read => "read",
            ProbeKind::Write => "write",
        }
    }

    /// The IAM actions the probe needs.
    pub fn actions(self) -> &'static [&'static str] {
        match self {
            ProbeKind::Describe => &["dynamodb:DescribeTable"],
            ProbeKind::Read => &["dynamodb:GetItem"],
            ProbeKind::Write => &["dynamodb:PutItem", "dynamodb:DeleteItem"],
        }
    }
}

impl std::str::FromStr for ProbeKind {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "describe" => Ok(ProbeKind::Describe),
            "read" => Ok(ProbeKind::Read),
            "write" => Ok(ProbeKind::Write),
            other => Err(format!(
                "\"{other}\" is not a probe (expected describe, read or write)"
            )),
        }
    }
}

/// Whether a probe must be allowed or must be denied.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Expectation {
    /// The call must succeed.
    #[default]
    Allow,
    /// The call must be refused with an access denial.
    Deny,
}

impl Expectation {
    /// The name used in reports.
    pub fn as_str(self) -> &'static str {
        match self {
            Expectation::Allow => "allow",
            Expectation::Deny => "deny",
        }
    }
}

impl std::str::FromStr for Expectation {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "allow" => Ok(Expectation::Allow),
            "deny" => Ok(Expectation::Deny),
            other => Err(format!(
                "\"{other}\" is not an expectation (expected allow or deny)"
            )),
        }
    }
}

/// Metrics settings.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct MetricsConfig {
    /// CloudWatch namespace.
    #[serde(default = "default_namespace")]
    pub namespace: String,
    /// Where metrics go.
    #[serde(default)]
    pub sink: SinkKind,
    /// How much detail: `summary` (cheap) or `probe` (per-table series).
    #[serde(default)]
    pub detail: Detail,
    /// Region of PutMetricData; defaults to the canary's own region.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub region: Option<String>,
}

impl Default for MetricsConfig {
    fn default() -> Self {
        MetricsConfig {
            namespace: default_namespace(),
            sink: SinkKind::default(),
            detail: Detail::default(),
            region: None,
        }
    }
}

fn default_namespace() -> String {
    DEFAULT_NAMESPACE.to_string()
}

/// Metric sinks.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize, clap::ValueEnum)]
#[serde(rename_all = "snake_case")]
pub enum SinkKind {
    /// PutMetricData, falling back to EMF on any failure.
    #[default]
    Auto,
    /// PutMetricData only.
    Cloudwatch,
    /// Embedded Metric Format on stdout only.
    Emf,
    /// Nothing.
    None,
}

/// Metric detail levels.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Detail {
    /// Dimensionless counts plus by-class series.
    #[default]
    Summary,
    /// Adds per-table, per-region, per-probe series.
    Probe,
}

impl Config {
    /// Parses and validates a configuration from JSON text.
    pub fn from_json_str(text: &str, origin: &str) -> Result<Config, ConfigError> {
        let de = &mut serde_json::Deserializer::from_str(text);
        let config: Config = serde_path_to_error::deserialize(de).map_err(|e| {
            let path = e.path().to_string();
            let inner = e.into_inner();
            if inner.is_syntax() || inner.is_eof() {
                ConfigError::Syntax {
                    origin: origin.to_string(),
                    line: inner.line(),
                    column: inner.column(),
                    message: strip_position(&inner.to_string()),
                }
            } else {
                ConfigError::Field {
                    origin: origin.to_string(),
                    path: if path == "." {
                        "(top level)".into()
                    } else {
                        path
                    },
                    message: strip_position(&inner.to_string()),
                }
            }
        })?;
        config.validate(origin)?;
        Ok(config)
    }

    /// Parses and validates a configuration from a JSON value (an event).
    pub fn from_value(value: serde_json::Value, origin: &str) -> Result<Config, ConfigError> {
        // Going through text keeps one code path and its path-aware errors.
        Config::from_json_str(&value.to_string(), origin)
    }

    /// Checks what serde cannot: non-empty lists, known regions, ranges.
    pub fn validate(&self, origin: &str) -> Result<(), ConfigError> {
        let err = |path: String, message: String| ConfigError::Field {
            origin: origin.to_string(),
            path,
            message,
        };
        if self.targets.is_empty() {
            return Err(err("targets".into(), "must list at least one table".into()));
        }
        if let Some(expect) = &self.expect {
            if let Some(account) = &expect.account {
                if account.len() != 12 || !account.bytes().all(|b| b.is_ascii_digit()) {
                    return Err(err(
                        "expect.account".into(),
                        format!("\"{account}\" is not a 12-digit account id"),
                    ));
                }
            }
        }
        check_regions(&self.defaults.regions, "defaults.regions", &err)?;
        if self.defaults.probes.is_empty() {
            return Err(err(
                "defaults.probes".into(),
                "must list at least one probe".into(),
            ));
        }
        check_timeout(self.defaults.timeout_ms, "defaults.timeout_ms", &err)?;
        if self.concurrency == 0 || self.concurrency > 256 {
            return Err(err(
                "concurrency".into(),
                format!("{} is out of range (1 to 256)", self.concurrency),
            ));
        }
        if !(100..=900_000).contains(&self.deadline_ms) {
            return Err(err(
                "deadline_ms".into(),
                format!("{} is out of range (100 to 900000)", self.deadline_ms),
            ));
        }
        for (i, t) in self.targets.iter().enumerate() {
            let p = format!("targets[{i}]");
            if t.table.trim().is_empty() {
                return Err(err(format!("{p}.table"), "must not be empty".into()));
            }
            if !valid_table_name(&t.table) {
                return Err(err(
                    format!("{p}.table"),
                    format!(
                        "\"{}\" is not a table name (3-255 of a-z A-Z 0-9 _ - .) or table ARN",
                        t.table
                    ),
                ));
            }
            match &t.regions {
                Some(Regions::List(list)) => {
                    if list.is_empty() {
                        return Err(err(
                            format!("{p}.regions"),
                            "must list at least one region, or be \"replicas\"".into(),
                        ));
                    }
                    check_regions(list, &format!("{p}.regions"), &err)?;
                }
                Some(Regions::Keyword(k)) if k == "replicas" => {}
                Some(Regions::Keyword(k)) => {
                    return Err(err(
                        format!("{p}.regions"),
                        format!("\"{k}\" is neither a list of regions nor \"replicas\""),
                    ));
                }
                None => {}
            }
            if let Some(home) = &t.home_region {
                if !regions::is_known(home) {
                    return Err(err(
                        format!("{p}.home_region"),
                        format!("\"{home}\" is not a region"),
                    ));
                }
            }
            let probes = self.probes_for(t);
            if probes.is_empty() {
                return Err(err(
                    format!("{p}.probes"),
                    "must list at least one probe".into(),
                ));
            }
            if let Some(key) = &t.key {
                check_key(key, &format!("{p}.key"), &err)?;
            }
            let needs_key = probes
                .iter()
                .any(|k| matches!(k, ProbeKind::Read | ProbeKind::Write));
            if needs_key && t.key.is_none() && !probes.contains(&ProbeKind::Describe) {
                return Err(err(
                    format!("{p}.key"),
                    "read and write probes need a sentinel key: give \"key\", or add the describe probe so it can be derived from the table's key schema".into(),
                ));
            }
            if let Some(ms) = t.timeout_ms {
                check_timeout(ms, &format!("{p}.timeout_ms"), &err)?;
            }
            if let Some(ttl) = &t.ttl_attribute {
                if ttl.is_empty() || ttl.len() > 255 {
                    return Err(err(
                        format!("{p}.ttl_attribute"),
                        "must be 1 to 255 characters".into(),
                    ));
                }
            }
            if let Some(arn) = &t.role_arn {
                if !is_role_arn(arn) {
                    return Err(err(
                        format!("{p}.role_arn"),
                        format!(
                            "\"{arn}\" is not an IAM role ARN (arn:aws:iam::<account>:role/<name>)"
                        ),
                    ));
                }
            } else if t.external_id.is_some() || t.session_name.is_some() {
                return Err(err(
                    format!("{p}.role_arn"),
                    "external_id and session_name need role_arn".into(),
                ));
            }
            if let Some(name) = &t.session_name {
                let ok = (2..=64).contains(&name.len())
                    && name
                        .chars()
                        .all(|c| c.is_ascii_alphanumeric() || "_=,.@-".contains(c));
                if !ok {
                    return Err(err(
                        format!("{p}.session_name"),
                        format!("\"{name}\" is not a session name (2-64 of a-z A-Z 0-9 _=,.@-)"),
                    ));
                }
            }
        }
        let ns = &self.metrics.namespace;
        if ns.is_empty()
            || ns.len() > 255
            || ns.starts_with("AWS/")
            || !ns
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || ".-_/#:".contains(c))
        {
            return Err(err(
                "metrics.namespace".into(),
                format!("\"{ns}\" is not a custom CloudWatch namespace (1-255 of a-z A-Z 0-9 . - _ / # :, not starting with AWS/)"),
            ));
        }
        if let Some(r) = &self.metrics.region {
            if !regions::is_known(r) {
                return Err(err(
                    "metrics.region".into(),
                    format!("\"{r}\" is not a region"),
                ));
            }
        }
        Ok(())
    }

    /// The probes a target runs, de-duplicated, in dependency order.
    pub fn probes_for(&self, target: &Target) -> Vec<ProbeKind> {
        let mut probes = target
            .probes
            .clone()
            .unwrap_or_else(|| self.defaults.probes.clone());
        probes.sort();
        probes.dedup();
        probes
    }

    /// The per-probe timeout of a target.
    pub fn timeout_for(&self, target: &Target) -> u64 {
        target.timeout_ms.unwrap_or(self.defaults.timeout_ms)
    }
}

fn strip_position(message: &str) -> String {
    match message.find(" at line ") {
        Some(i) => message[..i].to_string(),
        None => message.to_string(),
    }
}

fn check_regions<F>(list: &[String], path: &str, err: &F) -> Result<(), ConfigError>
where
    F: Fn(String, String) -> ConfigError,
{
    for (j, r) in list.iter().enumerate() {
        if !regions::is_known(r) {
            return Err(err(
                format!("{path}[{j}]"),
                format!("\"{r}\" is not a region"),
            ));
        }
        if list[..j].contains(r) {
            return Err(err(
                format!("{path}[{j}]"),
                format!("\"{r}\" is listed twice"),
            ));
        }
    }
    Ok(())
}

fn check_timeout<F>(ms: u64, path: &str, err: &F) -> Result<(), ConfigError>
where
    F: Fn(String, String) -> ConfigError,
{
    if !(50..=300_000).contains(&ms) {
        return Err(err(
            path.to_string(),
            format!("{ms} is out of range (50 to 300000 ms)"),
        ));
    }
    Ok(())
}

fn check_key<F>(
    key: &BTreeMap<String, serde_json::Value>,
    path: &str,
    err: &F,
) -> Result<(), ConfigError>
where
    F: Fn(String, String) -> ConfigError,
{
    if key.is_empty() || key.len() > 2 {
        return Err(err(
            path.to_string(),
            "must name the partition key and, for a composite key, the sort key".into(),
        ));
    }
    for (name, value) in key {
        let p = format!("{path}.{name}");
        let obj = value.as_object().filter(|o| o.len() == 1).ok_or_else(|| {
            err(
                p.clone(),
                "must be DynamoDB JSON with one type, e.g. {\"S\": \"__canary__\"}".into(),
            )
        })?;
        let (ty, v) = obj.iter().next().expect("filtered to one entry");
        let ok = match ty.as_str() {
            "S" | "B" => v.as_str().is_some_and(|s| !s.is_empty()),
            "N" => v
                .as_str()
                .is_some_and(|s| s.parse::<f64>().is_ok_and(f64::is_finite)),
            _ => false,
        };
        if !ok {
            return Err(err(
                p,
                format!("{ty}: key attributes must be S, N (a number as a string) or B (base64), non-empty"),
            ));
        }
    }
    Ok(())
}

fn valid_table_name(name: &str) -> bool {
    if let Some(rest) = name.strip_prefix("arn:") {
        return rest.contains(":dynamodb:") && rest.contains(":table/");
    }
    (3..=255).contains(&name.len())
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "_-.".contains(c))
}

fn is_role_arn(arn: &str) -> bool {
    let parts: Vec<&str> = arn.splitn(6, ':').collect();
    parts.len() == 6
        && parts[0] == "arn"
        && parts[1].starts_with("aws")
        && parts[2] == "iam"
        && parts[4].len() == 12
        && parts[4].bytes().all(|b| b.is_ascii_digit())
        && parts[5].starts_with("role/")
        && parts[5].len() > 5
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(text: &str) -> Result<Config, String> {
        Config::from_json_str(text, "test.json").map_err(|e| e.to_string())
    }

    #[test]
    fn sketch_from_the_issue_parses_with_defaults() {
        let c = parse(
            r#"{
              "expect": { "account": "123456789012", "role": "CanaryRole" },
              "defaults": { "regions": ["us-east-1"], "probes": ["describe"], "timeout_ms": 2000 },
              "targets": [
                { "table": "orders", "regions": ["us-east-1", "eu-west-1"] },
                { "table": "payroll", "probes": ["read"], "expect": "deny", "key": {"pk": {"S": "x"}} }
              ],
              "metrics": { "namespace": "DynamoDBAuthCanary", "sink": "auto" }
            }"#,
        )
        .unwrap();
        assert_eq!(c.targets.len(), 2);
        assert_eq!(c.targets[1].expect, Expectation::Deny);
        assert_eq!(c.concurrency, DEFAULT_CONCURRENCY);
        assert_eq!(c.metrics.detail, Detail::Summary);
        assert_eq!(c.probes_for(&c.targets[0]), vec![ProbeKind::Describe]);
    }

    #[test]
    fn default_matches_an_empty_document() {
        let parsed: Config = serde_json::from_str("{}").unwrap();
        assert_eq!(parsed, Config::default());
    }

    #[test]
    fn unknown_region_names_the_path() {
        let e = parse(r#"{"targets":[{"table":"a1a"},{"table":"b1b","regions":["us-east-9"]}]}"#)
            .unwrap_err();
        assert!(
            e.contains("targets[1].regions[0]: \"us-east-9\" is not a region"),
            "{e}"
        );
    }

    #[test]
    fn unknown_probe_names_the_path() {
        let e = parse(r#"{"targets":[{"table":"abc","probes":["scan"]}]}"#).unwrap_err();
        assert!(e.contains("targets[0].probes[0]"), "{e}");
        assert!(e.contains("scan"), "{e}");
    }

    #[test]
    fn empty_targets_is_an_error() {
        let e = parse(r#"{"targets":[]}"#).unwrap_err();
        assert!(e.contains("targets: must list at least one table"), "{e}");
    }

    #[test]
    fn malformed_json_gives_line_and_column() {
        let e = parse("{\"targets\": [\n{\"table\": }]}").unwrap_err();
        assert!(e.contains("line 2"), "{e}");
    }

    #[test]
    fn unknown_field_is_named() {
        let e = parse(r#"{"targets":[{"table":"abc","tabel":"x"}]}"#).unwrap_err();
        assert!(e.contains("targets[0]"), "{e}");
        assert!(e.contains("tabel"), "{e}");
    }

    #[test]
    fn read_without_key_or_describe_is_refused() {
        let e = parse(r#"{"targets":[{"table":"abc","probes":["read"]}]}"#).unwrap_err();
        assert!(e.contains("targets[0].key"), "{e}");
        parse(r#"{"targets":[{"table":"abc","probes":["read","describe"]}]}"#).unwrap();
    }

    #[test]
    fn bad_key_shapes_are_refused() {
        let e = parse(r#"{"targets":[{"table":"abc","key":{"pk":"x"}}]}"#).unwrap_err();
        assert!(e.contains("targets[0].key.pk"), "{e}");
        let e = parse(r#"{"targets":[{"table":"abc","key":{"pk":{"N":"nope"}}}]}"#).unwrap_err();
        assert!(e.contains("targets[0].key.pk"), "{e}");
    }

    #[test]
    fn regions_keyword_must_be_replicas() {
        parse(r#"{"targets":[{"table":"abc","regions":"replicas"}]}"#).unwrap();
        let e = parse(r#"{"targets":[{"table":"abc","regions":"all"}]}"#).unwrap_err();
        assert!(e.contains("targets[0].regions"), "{e}");
    }

    #[test]
    fn bad_account_role_arn_and_namespace() {
        let e = parse(r#"{"expect":{"account":"12"},"targets":[{"table":"abc"}]}"#).unwrap_err();
        assert!(e.contains("expect.account"), "{e}");
        let e = parse(r#"{"targets":[{"table":"abc","role_arn":"arn:aws:iam::1:user/x"}]}"#)
            .unwrap_err();
        assert!(e.contains("targets[0].role_arn"), "{e}");
        let e = parse(r#"{"targets":[{"table":"abc"}],"metrics":{"namespace":"AWS/DynamoDB"}}"#)
            .unwrap_err();
        assert!(e.contains("metrics.namespace"), "{e}");
        let e = parse(r#"{"targets":[{"table":"abc"}],"metrics":{"sink":"s3"}}"#).unwrap_err();
        assert!(e.contains("metrics.sink"), "{e}");
    }

    #[test]
    fn out_of_range_numbers_are_refused() {
        let e = parse(r#"{"targets":[{"table":"abc","timeout_ms":1}]}"#).unwrap_err();
        assert!(e.contains("targets[0].timeout_ms"), "{e}");
        let e = parse(r#"{"targets":[{"table":"abc"}],"concurrency":0}"#).unwrap_err();
        assert!(e.contains("concurrency"), "{e}");
        let e =
            parse(r#"{"targets":[{"table":"abc"}],"defaults":{"timeout_ms":"fast"}}"#).unwrap_err();
        assert!(e.contains("defaults.timeout_ms"), "{e}");
    }
}
