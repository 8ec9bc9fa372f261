//! The canary's configuration: one JSON schema, parsed once into types that
//! can only hold valid values ([`fields`]), then checked for the few rules
//! that span fields.
//!
//! Every error names the field path and the problem
//! (`targets[1].regions[0]: "us-east-9" is not a region`), whether it comes
//! from a file, the `CANARY_CONFIG` variable or an invocation event. A
//! configuration that loads can be run: the plan turns it into units of
//! work without any value that could turn out missing. The folder is pure:
//! no AWS call (where a configuration comes from is `source.rs`); it also
//! owns the region table (`regions`) and the deployment's environment
//! settings (`deployment`).

pub mod deployment;
pub mod fields;
pub mod regions;

use crate::error::ConfigError;
pub use fields::{
    AccountId, AttributeName, CanaryName, Concurrency, DeadlineMs, DescribePerSecond, ExternalId,
    KmsKeyArn, LookbackHours, LookupCalls, Namespace, Region, RegionConcurrency, Regions, RoleArn,
    SentinelKey, SessionName, TableRef, TimeoutMs, DEFAULT_NAMESPACE, DEFAULT_TTL_ATTRIBUTE,
};
use serde::{Deserialize, Serialize};

/// Default per-probe timeout (connect, operation and retries together).
pub const DEFAULT_TIMEOUT_MS: u64 = 2_000;
/// Default deadline for a whole run on the command line.
pub const DEFAULT_DEADLINE_MS: u64 = 25_000;
/// Default number of (table, region) chains probed at once, over all regions.
pub const DEFAULT_CONCURRENCY: usize = 128;
/// Default number of (table, region) chains probed at once in one region.
pub const DEFAULT_REGION_CONCURRENCY: usize = 32;
/// Default pace of DescribeTable calls per region: a fifth of DynamoDB's
/// control-plane limit (2,500 per second per account and region), so that a
/// large canary leaves the rest to the applications it watches.
pub const DEFAULT_DESCRIBE_PER_SECOND: u32 = 500;
/// Below this many seconds of credential lifetime the run warns.
pub const DEFAULT_EXPIRY_WARNING_SECONDS: u64 = 900;

/// The whole configuration.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct Config {
    /// The deployment's name (the `Canary` dimension of a deployed canary's
    /// metrics); `deploy-params` passes it to the template. The command line
    /// does not publish under it unless told to (`--canary`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<CanaryName>,
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
    pub concurrency: Concurrency,
    /// How many of them run at once in any one region, so that a region
    /// that does not answer cannot hold every worker.
    #[serde(default = "default_region_concurrency")]
    pub region_concurrency: RegionConcurrency,
    /// At most this many DescribeTable calls per second in one region.
    #[serde(default = "default_describe_per_second")]
    pub describe_per_second: DescribePerSecond,
    /// The run's deadline on the command line; in Lambda the invocation's
    /// remaining time (less a margin) is used when it is shorter.
    #[serde(default = "default_deadline_ms")]
    pub deadline_ms: DeadlineMs,
    /// Warn (`credentials_expiring`) when credentials expire sooner than this.
    #[serde(default = "default_expiry_warning")]
    pub expiry_warning_seconds: u64,
    /// On a denial, look in CloudTrail for the change behind it.
    #[serde(default)]
    pub what_changed: WhatChanged,
    /// On an authentication failure, read the account's `UserErrors`.
    #[serde(default)]
    pub account_errors: AccountErrorsConfig,
}

/// "Does the account see it too?": the account's DynamoDB `UserErrors`
/// read on an authentication failure (on by default).
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct AccountErrorsConfig {
    /// Whether to read it (and whether `policy` grants
    /// `cloudwatch:GetMetricData`).
    #[serde(default = "default_true")]
    pub enabled: bool,
}

impl Default for AccountErrorsConfig {
    fn default() -> Self {
        AccountErrorsConfig { enabled: true }
    }
}

/// "What changed": CloudTrail look-ups on a denial (on by default).
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct WhatChanged {
    /// Whether to look (and whether `policy` grants `cloudtrail:LookupEvents`).
    #[serde(default = "default_true")]
    pub enabled: bool,
    /// How far back to look.
    #[serde(default = "default_lookback")]
    pub lookback_hours: LookbackHours,
    /// At most this many LookupEvents calls in one run.
    #[serde(default = "default_lookup_calls")]
    pub max_calls: LookupCalls,
}

impl Default for WhatChanged {
    fn default() -> Self {
        WhatChanged {
            enabled: true,
            lookback_hours: default_lookback(),
            max_calls: default_lookup_calls(),
        }
    }
}

fn default_true() -> bool {
    true
}

fn default_lookback() -> LookbackHours {
    LookbackHours::parse(24).unwrap_or_else(|_| unreachable!("24 is within 1 to 2160"))
}

fn default_lookup_calls() -> LookupCalls {
    LookupCalls::parse(6).unwrap_or_else(|_| unreachable!("6 is within 1 to 20"))
}

impl Default for Config {
    fn default() -> Self {
        Config {
            name: None,
            expect: None,
            defaults: Defaults::default(),
            targets: Vec::new(),
            metrics: MetricsConfig::default(),
            concurrency: default_concurrency(),
            region_concurrency: default_region_concurrency(),
            describe_per_second: default_describe_per_second(),
            deadline_ms: default_deadline_ms(),
            expiry_warning_seconds: DEFAULT_EXPIRY_WARNING_SECONDS,
            what_changed: WhatChanged::default(),
            account_errors: AccountErrorsConfig::default(),
        }
    }
}

fn default_concurrency() -> Concurrency {
    Concurrency::parse(DEFAULT_CONCURRENCY).unwrap_or_else(|_| unreachable!("default in range"))
}
fn default_region_concurrency() -> RegionConcurrency {
    RegionConcurrency::parse(DEFAULT_REGION_CONCURRENCY)
        .unwrap_or_else(|_| unreachable!("default in range"))
}
fn default_describe_per_second() -> DescribePerSecond {
    DescribePerSecond::parse(DEFAULT_DESCRIBE_PER_SECOND)
        .unwrap_or_else(|_| unreachable!("default in range"))
}
fn default_deadline_ms() -> DeadlineMs {
    DeadlineMs::parse(DEFAULT_DEADLINE_MS).unwrap_or_else(|_| unreachable!("default in range"))
}
fn default_timeout_ms() -> TimeoutMs {
    TimeoutMs::parse(DEFAULT_TIMEOUT_MS).unwrap_or_else(|_| unreachable!("default in range"))
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
    pub account: Option<AccountId>,
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
    pub regions: Vec<Region>,
    /// Probes run when a target names none.
    #[serde(default = "default_probes")]
    pub probes: Probes,
    /// Per-probe timeout in milliseconds.
    #[serde(default = "default_timeout_ms")]
    pub timeout_ms: TimeoutMs,
}

impl Default for Defaults {
    fn default() -> Self {
        Defaults {
            regions: Vec::new(),
            probes: default_probes(),
            timeout_ms: default_timeout_ms(),
        }
    }
}

fn default_probes() -> Probes {
    Probes(vec![ProbeKind::Describe])
}

/// A non-empty set of probes, de-duplicated, in the order they run
/// (describe, read, write: describe first, so that read and write can derive
/// the sentinel key from the key schema).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(transparent)]
pub struct Probes(Vec<ProbeKind>);

impl Probes {
    /// Accepts a non-empty list.
    pub fn parse(mut list: Vec<ProbeKind>) -> Result<Probes, String> {
        if list.is_empty() {
            return Err("must list at least one probe".into());
        }
        list.sort();
        list.dedup();
        Ok(Probes(list))
    }

    /// The probes in run order.
    pub fn kinds(&self) -> &[ProbeKind] {
        &self.0
    }

    /// Whether the set holds `kind`.
    pub fn contains(&self, kind: ProbeKind) -> bool {
        self.0.contains(&kind)
    }
}

impl<'de> Deserialize<'de> for Probes {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let list = Vec::<ProbeKind>::deserialize(d)?;
        Probes::parse(list).map_err(serde::de::Error::custom)
    }
}

/// One table to probe.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct Target {
    /// Table name (or table ARN).
    pub table: TableRef,
    /// Regions to probe: a list, or `"replicas"` for a global table's replicas.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub regions: Option<Regions>,
    /// Where to discover replicas; defaults to the first default region.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub home_region: Option<Region>,
    /// Probes for this table; defaults to `defaults.probes`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub probes: Option<Probes>,
    /// `allow` (default) or `deny` (a must-deny probe).
    #[serde(default)]
    pub expect: Expectation,
    /// Sentinel key in DynamoDB JSON, e.g. `{"pk": {"S": "__canary__"}}`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub key: Option<SentinelKey>,
    /// TTL attribute set on the sentinel item of a `write` probe.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ttl_attribute: Option<AttributeName>,
    /// Per-probe timeout for this table.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub timeout_ms: Option<TimeoutMs>,
    /// Role to assume before probing this table (cross-account targets).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub role_arn: Option<RoleArn>,
    /// External id for the AssumeRole call.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub external_id: Option<ExternalId>,
    /// Session name for the AssumeRole call.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub session_name: Option<SessionName>,
    /// The table's customer managed KMS key, which reads and writes need
    /// (`kms:Decrypt` in the generated policy).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub kms_key: Option<KmsKeyArn>,
}

impl Target {
    /// A target for `table` with every other field at its default.
    pub fn new(table: TableRef) -> Target {
        Target {
            table,
            regions: None,
            home_region: None,
            probes: None,
            expect: Expectation::Allow,
            key: None,
            ttl_attribute: None,
            timeout_ms: None,
            role_arn: None,
            external_id: None,
            session_name: None,
            kms_key: None,
        }
    }
}

/// The kinds of probe.
#[derive(
    Debug,
    Clone,
    Copy,
    PartialEq,
    Eq,
    Hash,
    PartialOrd,
    Ord,
    Serialize,
    Deserialize,
    clap::ValueEnum,
)]
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

/// Whether a probe must be allowed or must be denied.
#[derive(
    Debug, Clone, Copy, Default, PartialEq, Eq, Hash, Serialize, Deserialize, clap::ValueEnum,
)]
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

/// Metrics settings.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct MetricsConfig {
    /// CloudWatch namespace (default `DynamoDBAuthCanary`; a deployment's
    /// `CANARY_NAMESPACE` wins, and a different value here is refused).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub namespace: Option<Namespace>,
    /// Where metrics go.
    #[serde(default)]
    pub sink: SinkKind,
    /// How much detail: `summary` (cheap) or `probe` (per-table series).
    #[serde(default)]
    pub detail: Detail,
    /// Region of PutMetricData; defaults to the canary's own region.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub region: Option<Region>,
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

impl SinkKind {
    /// The name used in the configuration and the report.
    pub fn as_str(self) -> &'static str {
        match self {
            SinkKind::Auto => "auto",
            SinkKind::Cloudwatch => "cloudwatch",
            SinkKind::Emf => "emf",
            SinkKind::None => "none",
        }
    }
}

impl std::fmt::Display for SinkKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
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

impl MetricsConfig {
    /// The namespace metrics are published in.
    pub fn namespace(&self) -> Namespace {
        self.namespace.clone().unwrap_or_default()
    }
}

impl Detail {
    /// The name used in the configuration.
    pub fn as_str(self) -> &'static str {
        match self {
            Detail::Summary => "summary",
            Detail::Probe => "probe",
        }
    }
}

impl Config {
    /// Parses and validates a configuration from JSON text.
    pub fn from_json_str(text: &str, origin: &str) -> Result<Config, ConfigError> {
        let field = |path: &str, message: &str| ConfigError::Field {
            origin: origin.to_string(),
            path: path.to_string(),
            message: message.to_string(),
        };
        if text.starts_with('\u{feff}') {
            return Err(field(
                "(top level)",
                "the text starts with a UTF-8 byte-order mark (BOM): save it as UTF-8 without one",
            ));
        }
        // Objects where the schema has objects: serde would also take a
        // struct from an array of its fields in order.
        let value: serde_json::Value =
            serde_json::from_str(text).map_err(|e| ConfigError::Syntax {
                origin: origin.to_string(),
                line: e.line(),
                column: e.column(),
                message: strip_position(&e.to_string()),
            })?;
        check_shape(&value).map_err(|path| field(&path, "must be a JSON object"))?;
        let de = &mut serde_json::Deserializer::from_str(text);
        // The text already parsed as JSON above: what fails here is a
        // field, never the syntax.
        let config: Config = serde_path_to_error::deserialize(de).map_err(|e| {
            let path = match e.path().to_string() {
                p if p == "." => "(top level)".to_string(),
                p => p,
            };
            field(&path, &strip_position(&e.into_inner().to_string()))
        })?;
        config.validate(origin)?;
        Ok(config)
    }

    /// Parses and validates a configuration from a JSON value (an event).
    pub fn from_value(value: serde_json::Value, origin: &str) -> Result<Config, ConfigError> {
        // Going through text keeps one code path and its path-aware errors.
        Config::from_json_str(&value.to_string(), origin)
    }

    /// The rules that span fields; every single field is valid by its type.
    pub fn validate(&self, origin: &str) -> Result<(), ConfigError> {
        let err = |path: String, message: String| ConfigError::Field {
            origin: origin.to_string(),
            path,
            message,
        };
        if self.targets.is_empty() {
            return Err(err("targets".into(), "must list at least one table".into()));
        }
        no_duplicates(&self.defaults.regions, "defaults.regions", &err)?;
        for (i, t) in self.targets.iter().enumerate() {
            let p = format!("targets[{i}]");
            if let Some(Regions::List(list)) = &t.regions {
                no_duplicates(list, &format!("{p}.regions"), &err)?;
            }
            // IAM is evaluated before DynamoDB validates the key, so a
            // must-deny probe needs no real key (a placeholder does).
            let probes = self.probes_for(t);
            let needs_key = probes.contains(ProbeKind::Read) || probes.contains(ProbeKind::Write);
            if needs_key
                && t.key.is_none()
                && t.expect == Expectation::Allow
                && !probes.contains(ProbeKind::Describe)
            {
                return Err(err(
                    format!("{p}.key"),
                    "read and write probes need a sentinel key: give \"key\", or add the describe probe so it can be derived from the table's key schema".into(),
                ));
            }
            if t.role_arn.is_none() && (t.external_id.is_some() || t.session_name.is_some()) {
                return Err(err(
                    format!("{p}.role_arn"),
                    "external_id and session_name need role_arn".into(),
                ));
            }
        }
        Ok(())
    }

    /// The probes a target runs, de-duplicated, in dependency order.
    pub fn probes_for<'a>(&'a self, target: &'a Target) -> &'a Probes {
        target.probes.as_ref().unwrap_or(&self.defaults.probes)
    }

    /// The per-probe timeout of a target.
    pub fn timeout_for(&self, target: &Target) -> TimeoutMs {
        target.timeout_ms.unwrap_or(self.defaults.timeout_ms)
    }
}

/// The first place where the schema has an object and the text has not.
fn check_shape(v: &serde_json::Value) -> Result<(), String> {
    use serde_json::Value;
    let object = |v: &Value, path: &str| match v {
        Value::Object(_) => Ok(()),
        _ => Err(path.to_string()),
    };
    object(v, "(top level)")?;
    for key in ["expect", "defaults", "metrics"] {
        if let Some(x) = v.get(key) {
            object(x, key)?;
        }
    }
    if let Some(Value::Array(targets)) = v.get("targets") {
        for (i, t) in targets.iter().enumerate() {
            object(t, &format!("targets[{i}]"))?;
            if let Some(k) = t.get("key") {
                object(k, &format!("targets[{i}].key"))?;
            }
        }
    }
    Ok(())
}

fn strip_position(message: &str) -> String {
    match message.find(" at line ") {
        Some(i) => message[..i].to_string(),
        None => message.to_string(),
    }
}

fn no_duplicates<F>(list: &[Region], path: &str, err: &F) -> Result<(), ConfigError>
where
    F: Fn(String, String) -> ConfigError,
{
    for (j, r) in list.iter().enumerate() {
        if list[..j].contains(r) {
            return Err(err(
                format!("{path}[{j}]"),
                format!("\"{r}\" is listed twice"),
            ));
        }
    }
    Ok(())
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
        assert_eq!(c.concurrency.get(), 128);
        assert_eq!(c.region_concurrency.get(), 32);
        assert_eq!(c.describe_per_second.get(), 500);
        assert_eq!(c.metrics.detail, Detail::Summary);
        assert_eq!(c.probes_for(&c.targets[0]).kinds(), [ProbeKind::Describe]);
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

    /// A fault of the object itself, not of a field, is named as such.
    #[test]
    fn a_fault_of_the_whole_object_is_at_the_top_level() {
        let e = parse(r#"{"targets":[{"table":"abc"}],"targets":[{"table":"abc"}]}"#).unwrap_err();
        assert_eq!(e, "test.json: (top level): duplicate field `targets`");
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
        // A must-deny read needs no key: IAM answers before the key is read.
        parse(r#"{"targets":[{"table":"abc","probes":["read"],"expect":"deny"}]}"#).unwrap();
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
        let e = parse(r#"{"targets":[{"table":"abc"}],"region_concurrency":0}"#).unwrap_err();
        assert!(
            e.starts_with("test.json: region_concurrency: 0 is out of range (1 to 256)"),
            "{e}"
        );
        let e = parse(r#"{"targets":[{"table":"abc"}],"describe_per_second":2501}"#).unwrap_err();
        assert!(
            e.starts_with(
                "test.json: describe_per_second: 2501 is out of range (1 to 2500 per second)"
            ),
            "{e}"
        );
        let c = parse(
            r#"{"targets":[{"table":"abc"}],"region_concurrency":256,"describe_per_second":1}"#,
        )
        .unwrap();
        assert_eq!(c.region_concurrency.get(), 256);
        assert_eq!(c.describe_per_second.get(), 1);
        let e =
            parse(r#"{"targets":[{"table":"abc"}],"defaults":{"timeout_ms":"fast"}}"#).unwrap_err();
        assert!(e.contains("defaults.timeout_ms"), "{e}");
    }

    #[test]
    fn a_b_key_that_is_not_base64_is_refused_at_load() {
        let e = parse(r#"{"targets":[{"table":"abc"},{"table":"abc","probes":["read"],"key":{"pk":{"B":"***"}}}]}"#)
            .unwrap_err();
        assert!(e.contains("targets[1].key.pk: B:"), "{e}");
        assert!(e.contains("is not base64"), "{e}");
    }

    #[test]
    fn valid_values_of_every_kind_are_accepted() {
        let c = parse(
            r#"{"expect":{"account":"123456789012","role":"CanaryRole"},
                "defaults":{"regions":["eu-west-1"],"probes":["read","describe","read"],"timeout_ms":50},
                "targets":[
                  {"table":"arn:aws:dynamodb:us-east-1:210987654321:table/ledger",
                   "role_arn":"arn:aws:iam::210987654321:role/path/CanaryReader",
                   "external_id":"xyz-123","session_name":"canary",
                   "key":{"pk":{"N":"-12.5"},"sk":{"B":"aGk="}},"probes":["write"],
                   "ttl_attribute":"ttl","timeout_ms":300000,"regions":"replicas","home_region":"us-east-1"}],
                "metrics":{"namespace":"Team/Canary","sink":"emf","detail":"probe","region":"us-west-2"},
                "concurrency":256,"deadline_ms":900000,"expiry_warning_seconds":60}"#,
        )
        .unwrap();
        assert_eq!(
            c.defaults.probes.kinds(),
            [ProbeKind::Describe, ProbeKind::Read],
            "sorted and de-duplicated"
        );
        let t = &c.targets[0];
        assert_eq!(t.table.name(), "ledger");
        assert_eq!(t.role_arn.as_ref().unwrap().name(), "CanaryReader");
        assert_eq!(t.regions, Some(Regions::Replicas));
        assert_eq!(
            t.key.as_ref().unwrap().names().collect::<Vec<_>>(),
            ["pk", "sk"]
        );
        assert_eq!(c.timeout_for(t).get(), 300_000);
        assert_eq!(c.concurrency.get(), 256);
        // What loads serialises back to what it was given.
        let again = Config::from_value(serde_json::to_value(&c).unwrap(), "again").unwrap();
        assert_eq!(again, c);
    }

    #[test]
    fn cross_field_rules() {
        let e = parse(r#"{"targets":[{"table":"abc","regions":["us-east-1","us-east-1"]}]}"#)
            .unwrap_err();
        assert!(
            e.contains("targets[0].regions[1]: \"us-east-1\" is listed twice"),
            "{e}"
        );
        let e = parse(
            r#"{"defaults":{"regions":["us-east-1","us-east-1"]},"targets":[{"table":"abc"}]}"#,
        )
        .unwrap_err();
        assert!(e.contains("defaults.regions[1]"), "{e}");
        let e = parse(r#"{"targets":[{"table":"abc","external_id":"xyz"}]}"#).unwrap_err();
        assert!(
            e.contains("targets[0].role_arn: external_id and session_name need role_arn"),
            "{e}"
        );
        let e = parse(r#"{"targets":[{"table":"abc","session_name":"xyz"}]}"#).unwrap_err();
        assert!(e.contains("targets[0].role_arn"), "{e}");
        let e = parse(r#"{"targets":[{"table":"abc","probes":[]}]}"#).unwrap_err();
        assert!(
            e.contains("targets[0].probes: must list at least one probe"),
            "{e}"
        );
        let e = parse(r#"{"defaults":{"probes":[]},"targets":[{"table":"abc"}]}"#).unwrap_err();
        assert!(e.contains("defaults.probes"), "{e}");
        let e = parse(r#"{"targets":[{"table":"abc","write":true}]}"#).unwrap_err();
        assert!(e.contains("targets[0]") && e.contains("write"), "{e}");
    }

    #[test]
    fn a_configuration_is_objects_not_arrays_of_fields() {
        let e = parse(r#"[null, {"regions": ["us-east-1"]}, [["orders"]]]"#).unwrap_err();
        assert!(e.contains("(top level): must be a JSON object"), "{e}");
        let e = parse(r#"{"targets": [["orders"]]}"#).unwrap_err();
        assert!(e.contains("targets[0]: must be a JSON object"), "{e}");
        let e =
            parse(r#"{"targets": [{"table": "abc"}], "defaults": [["us-east-1"]]}"#).unwrap_err();
        assert!(e.contains("defaults: must be a JSON object"), "{e}");
        let e = parse(r#"{"targets": [{"table": "abc", "key": [["pk"]]}]}"#).unwrap_err();
        assert!(e.contains("targets[0].key: must be a JSON object"), "{e}");
        let e = parse("\u{feff}{\"targets\": [{\"table\": \"abc\"}]}").unwrap_err();
        assert!(e.contains("byte-order mark"), "{e}");
    }

    /// The names the report, the logs and the policies use are the
    /// configuration's own words, and each probe names the IAM actions its
    /// policy grants.
    #[test]
    fn names_are_the_configurations_words() {
        let serde_name = |v: serde_json::Value| v.as_str().unwrap().to_string();
        for k in [ProbeKind::Describe, ProbeKind::Read, ProbeKind::Write] {
            assert_eq!(k.as_str(), serde_name(serde_json::to_value(k).unwrap()));
        }
        for e in [Expectation::Allow, Expectation::Deny] {
            assert_eq!(e.as_str(), serde_name(serde_json::to_value(e).unwrap()));
        }
        for s in [
            SinkKind::Auto,
            SinkKind::Cloudwatch,
            SinkKind::Emf,
            SinkKind::None,
        ] {
            assert_eq!(s.as_str(), serde_name(serde_json::to_value(s).unwrap()));
            assert_eq!(s.to_string(), s.as_str());
        }
        for d in [Detail::Summary, Detail::Probe] {
            assert_eq!(d.as_str(), serde_name(serde_json::to_value(d).unwrap()));
        }
        assert_eq!(ProbeKind::Describe.actions(), ["dynamodb:DescribeTable"]);
        assert_eq!(ProbeKind::Read.actions(), ["dynamodb:GetItem"]);
        assert_eq!(
            ProbeKind::Write.actions(),
            ["dynamodb:PutItem", "dynamodb:DeleteItem"]
        );
    }
}
