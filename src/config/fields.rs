//! The configuration's field types: each parses from its JSON form into a
//! value that can only be valid (a known region, a table name or ARN, a role
//! ARN, a sentinel key already in DynamoDB's types), so the code that runs a
//! configuration never re-checks a string.
//!
//! Every type deserialises through `serde`, so a bad value is reported with
//! its field path by `serde_path_to_error`; the same parsers serve the
//! command line's flags (`Region::parse("--region", ..)`).

use crate::config::regions;
use aws_sdk_dynamodb::types::AttributeValue;
use serde::de::{self, Deserializer, MapAccess, SeqAccess, Visitor};
use serde::{Deserialize, Serialize, Serializer};
use std::collections::{BTreeMap, HashMap};
use std::fmt;

/// Implements `Deserialize` through a `parse` function returning `Result<Self, String>`.
macro_rules! deserialize_via_parse {
    ($name:ident, $from:ty) => {
        impl<'de> Deserialize<'de> for $name {
            fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
                let raw = <$from>::deserialize(d)?;
                $name::parse(raw).map_err(de::Error::custom)
            }
        }
    };
}

/// A number within a range, with the range in its error message.
macro_rules! bounded_number {
    ($(#[$doc:meta])* $name:ident, $ty:ty, $min:expr, $max:expr, $unit:expr) => {
        $(#[$doc])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
        #[serde(transparent)]
        pub struct $name($ty);

        impl $name {
            /// Smallest accepted value.
            pub const MIN: $ty = $min;
            /// Largest accepted value.
            pub const MAX: $ty = $max;

            /// Accepts a value within the range.
            pub fn parse(v: $ty) -> Result<Self, String> {
                if (Self::MIN..=Self::MAX).contains(&v) {
                    Ok($name(v))
                } else {
                    Err(format!(
                        "{v} is out of range ({} to {}{})",
                        Self::MIN,
                        Self::MAX,
                        $unit
                    ))
                }
            }

            /// The value.
            pub fn get(self) -> $ty {
                self.0
            }
        }

        deserialize_via_parse!($name, $ty);
    };
}

bounded_number!(
    /// A per-probe timeout in milliseconds (connect, attempts and retries together).
    TimeoutMs, u64, 50, 300_000, " ms"
);
bounded_number!(
    /// The run's deadline in milliseconds.
    DeadlineMs, u64, 100, 900_000, ""
);
bounded_number!(
    /// How many (table, region) chains are probed at once, over all regions.
    Concurrency, usize, 1, 256, ""
);
bounded_number!(
    /// How many (table, region) chains are probed at once in one region.
    RegionConcurrency, usize, 1, 256, ""
);
bounded_number!(
    /// DescribeTable calls per second per region at most (DynamoDB's
    /// control-plane limit is 2,500 per second for the whole account).
    DescribePerSecond, u32, 1, 2_500, " per second"
);

bounded_number!(
    /// How far back "what changed" looks in CloudTrail, in hours (the
    /// management-event history keeps 90 days).
    LookbackHours, u32, 1, 2_160, " hours"
);
bounded_number!(
    /// CloudTrail LookupEvents calls one run may make at most (the API
    /// allows 2 per second per account and region).
    LookupCalls, u32, 1, 20, ""
);

impl TimeoutMs {
    /// The timeout as a duration.
    pub fn duration(self) -> std::time::Duration {
        std::time::Duration::from_millis(self.0)
    }
}

/// A known AWS region.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(transparent)]
pub struct Region(String);

impl Region {
    /// Accepts a region of [`regions::KNOWN_REGIONS`].
    pub fn parse(s: impl Into<String>) -> Result<Region, String> {
        let s = s.into();
        if regions::is_known(&s) {
            Ok(Region(s))
        } else {
            Err(format!(
                "\"{}\" is not a region",
                crate::redact::truncate(&s, 64)
            ))
        }
    }

    /// The region name.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for Region {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

deserialize_via_parse!(Region, String);

/// A target's regions: a list, or the replicas of a global table.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Regions {
    /// An explicit, non-empty list.
    List(Vec<Region>),
    /// `"replicas"`: the home region and every replica region.
    Replicas,
}

impl Serialize for Regions {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        match self {
            Regions::List(l) => l.serialize(s),
            Regions::Replicas => s.serialize_str("replicas"),
        }
    }
}

impl<'de> Deserialize<'de> for Regions {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = Regions;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a list of regions or \"replicas\"")
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<Regions, E> {
                if v == "replicas" {
                    Ok(Regions::Replicas)
                } else {
                    Err(E::custom(format!(
                        "\"{}\" is neither a list of regions nor \"replicas\"",
                        crate::redact::truncate(v, 64)
                    )))
                }
            }
            fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Regions, A::Error> {
                let mut list = Vec::new();
                while let Some(r) = seq.next_element::<Region>()? {
                    list.push(r);
                }
                if list.is_empty() {
                    return Err(de::Error::custom(
                        "must list at least one region, or be \"replicas\"",
                    ));
                }
                Ok(Regions::List(list))
            }
        }
        d.deserialize_any(V)
    }
}

/// A table: its name, or its ARN (which names its account and region).
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize)]
#[serde(transparent)]
pub struct TableRef(String);

/// What `TableRef` accepts, for error messages.
const TABLE_RULE: &str = "is not a table name (3-255 of a-z A-Z 0-9 _ - .) or table ARN (arn:<partition>:dynamodb:<region>:<account>:table/<name>)";

fn valid_table_name(name: &str) -> bool {
    (3..=255).contains(&name.len())
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "_-.".contains(c))
}

impl TableRef {
    /// Accepts a table name or a table ARN.
    pub fn parse(s: impl Into<String>) -> Result<TableRef, String> {
        let s = s.into();
        if s.trim().is_empty() {
            return Err("must not be empty".into());
        }
        let ok = match s.strip_prefix("arn:") {
            Some(_) => parse_table_arn(&s).is_some(),
            None => valid_table_name(&s),
        };
        if ok {
            Ok(TableRef(s))
        } else {
            Err(format!(
                "\"{}\" {TABLE_RULE}",
                crate::redact::truncate(&s, 80)
            ))
        }
    }

    /// What DynamoDB's `TableName` parameter is given: the name or the ARN.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The table's name, without the ARN around it.
    pub fn name(&self) -> &str {
        parse_table_arn(&self.0).map_or(self.0.as_str(), |a| a.name)
    }

    /// The account of a table given by ARN.
    pub fn account(&self) -> Option<&str> {
        parse_table_arn(&self.0).map(|a| a.account)
    }
}

impl fmt::Display for TableRef {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

deserialize_via_parse!(TableRef, String);

/// The parts of a table ARN the canary uses (its region is checked, not kept:
/// the configuration's `regions` say where a table is probed).
struct TableArn<'a> {
    account: &'a str,
    name: &'a str,
}

fn parse_table_arn(arn: &str) -> Option<TableArn<'_>> {
    let parts: Vec<&str> = arn.splitn(6, ':').collect();
    let [pre, partition, service, region, account, resource] = parts.as_slice() else {
        return None;
    };
    let name = resource.strip_prefix("table/")?;
    let ok = *pre == "arn"
        && partition.starts_with("aws")
        && *service == "dynamodb"
        && regions::is_known(region)
        && is_account_id(account)
        && valid_table_name(name);
    ok.then_some(TableArn { account, name })
}

fn is_account_id(s: &str) -> bool {
    s.len() == 12 && s.bytes().all(|b| b.is_ascii_digit())
}

/// A 12-digit AWS account id.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize)]
#[serde(transparent)]
pub struct AccountId(String);

impl AccountId {
    /// Accepts exactly twelve digits.
    pub fn parse(s: impl Into<String>) -> Result<AccountId, String> {
        let s = s.into();
        if is_account_id(&s) {
            Ok(AccountId(s))
        } else {
            Err(format!(
                "\"{}\" is not a 12-digit account id",
                crate::redact::truncate(&s, 40)
            ))
        }
    }

    /// The digits.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

deserialize_via_parse!(AccountId, String);

/// An IAM role ARN: `arn:<partition>:iam::<account>:role/<path/><name>`.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize)]
#[serde(transparent)]
pub struct RoleArn(String);

impl RoleArn {
    /// Accepts an IAM role ARN with a 12-digit account and a valid name.
    pub fn parse(s: impl Into<String>) -> Result<RoleArn, String> {
        let s = s.into();
        let parts: Vec<&str> = s.splitn(6, ':').collect();
        let ok = match parts.as_slice() {
            [pre, partition, "iam", "", account, resource] => {
                *pre == "arn"
                    && partition.starts_with("aws")
                    && is_account_id(account)
                    && s.len() <= 2048
                    && resource.strip_prefix("role/").is_some_and(|path| {
                        let name = path.rsplit('/').next().unwrap_or_default();
                        (1..=64).contains(&name.len())
                            && path
                                .chars()
                                .all(|c| c.is_ascii_alphanumeric() || "+=,.@_-/".contains(c))
                    })
            }
            _ => false,
        };
        if ok {
            Ok(RoleArn(s))
        } else {
            Err(format!(
                "\"{}\" is not an IAM role ARN (arn:aws:iam::<account>:role/<name>)",
                crate::redact::truncate(&s, 80)
            ))
        }
    }

    /// The ARN.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The role's account.
    pub fn account(&self) -> &str {
        self.0.split(':').nth(4).unwrap_or_default()
    }

    /// The role's name (without its path).
    pub fn name(&self) -> &str {
        self.0.rsplit('/').next().unwrap_or_default()
    }
}

impl fmt::Display for RoleArn {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

deserialize_via_parse!(RoleArn, String);

/// A string of a given length and alphabet (STS session names, external ids).
macro_rules! restricted_string {
    ($(#[$doc:meta])* $name:ident, $min:expr, $max:expr, $extra:expr, $what:expr) => {
        $(#[$doc])*
        #[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize)]
        #[serde(transparent)]
        pub struct $name(String);

        impl $name {
            /// Accepts the AWS-documented length and characters.
            pub fn parse(s: impl Into<String>) -> Result<$name, String> {
                let s = s.into();
                let ok = ($min..=$max).contains(&s.len())
                    && s.chars().all(|c| c.is_ascii_alphanumeric() || $extra.contains(c));
                if ok {
                    Ok($name(s))
                } else {
                    Err(format!(
                        "\"{}\" is not {} ({}-{} of a-z A-Z 0-9 {})",
                        crate::redact::truncate(&s, 80),
                        $what,
                        $min,
                        $max,
                        $extra
                    ))
                }
            }

            /// The value.
            pub fn as_str(&self) -> &str {
                &self.0
            }
        }

        deserialize_via_parse!($name, String);
    };
}

restricted_string!(
    /// An STS role session name.
    SessionName, 2, 64, "_=,.@-", "a session name"
);
restricted_string!(
    /// An STS external id.
    ExternalId, 2, 1224, "_+=,.@:/-", "an external id"
);

restricted_string!(
    /// A deployment's name: the value of the `Canary` dimension of its metrics.
    CanaryName, 1, 128, "._-", "a canary name"
);

/// The Canary dimension of command-line runs that name no deployment.
pub const DEFAULT_CLI_CANARY: &str = "cli";

impl CanaryName {
    /// The name of command-line runs: `cli`.
    pub fn cli() -> CanaryName {
        CanaryName(DEFAULT_CLI_CANARY.to_string())
    }

    /// The dimension value of an on-demand run with its own configuration:
    /// `<name>/on-demand`, which no deployment can be named (`/` is not a
    /// name character), so such runs never reach a deployment's alarms.
    pub fn on_demand(&self) -> String {
        format!("{}/on-demand", self.0)
    }
}

impl fmt::Display for CanaryName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// A KMS key ARN (`arn:<partition>:kms:<region>:<account>:key/<id>`): the
/// customer managed key of a table, which reads and writes need to decrypt.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
#[serde(transparent)]
pub struct KmsKeyArn(String);

impl KmsKeyArn {
    /// Accepts a key ARN (not an alias: IAM grants kms:Decrypt on keys).
    pub fn parse(s: impl Into<String>) -> Result<KmsKeyArn, String> {
        let s = s.into();
        let parts: Vec<&str> = s.splitn(6, ':').collect();
        let ok = match parts.as_slice() {
            [pre, partition, "kms", region, account, resource] => {
                *pre == "arn"
                    && partition.starts_with("aws")
                    && regions::is_known(region)
                    && is_account_id(account)
                    && resource.strip_prefix("key/").is_some_and(|id| {
                        (1..=128).contains(&id.len())
                            && id.chars().all(|c| c.is_ascii_alphanumeric() || c == '-')
                    })
            }
            _ => false,
        };
        if ok {
            Ok(KmsKeyArn(s))
        } else {
            Err(format!(
                "\"{}\" is not a KMS key ARN (arn:aws:kms:<region>:<account>:key/<id>)",
                crate::redact::truncate(&s, 80)
            ))
        }
    }

    /// The ARN.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

deserialize_via_parse!(KmsKeyArn, String);

/// The default STS session name of cross-account probes.
pub const DEFAULT_SESSION_NAME: &str = "dynamodb-auth-canary";

impl Default for SessionName {
    fn default() -> Self {
        SessionName(DEFAULT_SESSION_NAME.to_string())
    }
}

/// A DynamoDB attribute name (the TTL attribute of the sentinel item).
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize)]
#[serde(transparent)]
pub struct AttributeName(String);

impl AttributeName {
    /// Accepts 1 to 255 bytes.
    pub fn parse(s: impl Into<String>) -> Result<AttributeName, String> {
        let s = s.into();
        if (1..=255).contains(&s.len()) {
            Ok(AttributeName(s))
        } else {
            Err("must be 1 to 255 characters".into())
        }
    }

    /// The name.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl Default for AttributeName {
    fn default() -> Self {
        AttributeName(DEFAULT_TTL_ATTRIBUTE.to_string())
    }
}

deserialize_via_parse!(AttributeName, String);

/// A custom CloudWatch namespace.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize)]
#[serde(transparent)]
pub struct Namespace(String);

impl Namespace {
    /// Accepts 1-255 of a-z A-Z 0-9 . - _ / # :, not starting with `AWS/`.
    pub fn parse(s: impl Into<String>) -> Result<Namespace, String> {
        let s = s.into();
        let ok = !s.is_empty()
            && s.len() <= 255
            && !s.starts_with("AWS/")
            && s.chars()
                .all(|c| c.is_ascii_alphanumeric() || ".-_/#:".contains(c));
        if ok {
            Ok(Namespace(s))
        } else {
            Err(format!("\"{}\" is not a custom CloudWatch namespace (1-255 of a-z A-Z 0-9 . - _ / # :, not starting with AWS/)", crate::redact::truncate(&s, 80)))
        }
    }

    /// The namespace.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl Default for Namespace {
    fn default() -> Self {
        Namespace(DEFAULT_NAMESPACE.to_string())
    }
}

impl fmt::Display for Namespace {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

deserialize_via_parse!(Namespace, String);

/// Most bytes of a key attribute value (DynamoDB's partition key limit).
pub const MAX_KEY_VALUE_BYTES: usize = 2048;

/// One attribute of a sentinel key, parsed from DynamoDB JSON
/// (`{"S": "x"}`, `{"N": "5"}`, `{"B": "<base64>"}`).
#[derive(Debug, Clone, PartialEq)]
struct KeyAttribute(AttributeValue);

impl<'de> Deserialize<'de> for KeyAttribute {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let v = serde_json::Value::deserialize(d)?;
        key_attribute(&v)
            .map(KeyAttribute)
            .map_err(de::Error::custom)
    }
}

fn key_attribute(v: &serde_json::Value) -> Result<AttributeValue, String> {
    let (ty, val) = v
        .as_object()
        .filter(|o| o.len() == 1)
        .and_then(|o| o.iter().next())
        .ok_or("must be DynamoDB JSON with one type, e.g. {\"S\": \"__canary__\"}")?;
    let bad = || {
        format!(
            "{}: key attributes must be S, N (a number as a string) or B (base64), non-empty",
            crate::redact::truncate(ty, 16)
        )
    };
    let s = val.as_str().filter(|s| !s.is_empty()).ok_or_else(bad)?;
    let too_long = || format!("{ty}: longer than {MAX_KEY_VALUE_BYTES} bytes");
    match ty.as_str() {
        "S" if s.len() > MAX_KEY_VALUE_BYTES => Err(too_long()),
        "S" => Ok(AttributeValue::S(s.to_string())),
        "N" if s.len() <= 64 && s.parse::<f64>().is_ok_and(f64::is_finite) => {
            Ok(AttributeValue::N(s.to_string()))
        }
        "N" => Err(format!(
            "N: \"{}\" is not a number",
            crate::redact::truncate(s, 40)
        )),
        "B" => {
            let bytes = aws_smithy_types::base64::decode(s)
                .ok()
                .filter(|b| !b.is_empty())
                .ok_or_else(|| {
                    format!(
                        "B: \"{}\" is not base64 (binary key values are given base64-encoded)",
                        crate::redact::truncate(s, 40)
                    )
                })?;
            if bytes.len() > MAX_KEY_VALUE_BYTES {
                return Err(too_long());
            }
            Ok(AttributeValue::B(aws_smithy_types::Blob::new(bytes)))
        }
        _ => Err(bad()),
    }
}

/// A sentinel key: the partition key and, for a composite key, the sort key,
/// already in DynamoDB's types.
#[derive(Debug, Clone, PartialEq)]
pub struct SentinelKey(BTreeMap<String, AttributeValue>);

impl SentinelKey {
    /// Parses DynamoDB JSON, e.g. `{"pk": {"S": "__canary__"}}`.
    pub fn from_json(v: &serde_json::Value) -> Result<SentinelKey, String> {
        serde_json::from_value(v.clone()).map_err(|e| e.to_string())
    }

    /// The key as the SDK takes it.
    pub fn attributes(&self) -> HashMap<String, AttributeValue> {
        self.0.iter().map(|(k, v)| (k.clone(), v.clone())).collect()
    }

    /// The attribute names, sorted.
    pub fn names(&self) -> impl Iterator<Item = &str> {
        self.0.keys().map(String::as_str)
    }
}

impl<'de> Deserialize<'de> for SentinelKey {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = SentinelKey;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("an object naming the key attributes in DynamoDB JSON")
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<SentinelKey, A::Error> {
                let mut out = BTreeMap::new();
                while let Some(name) = map.next_key::<String>()? {
                    let KeyAttribute(v) = map.next_value()?;
                    if name.is_empty() || name.len() > 255 {
                        return Err(de::Error::custom(
                            "key attribute names are 1 to 255 characters",
                        ));
                    }
                    out.insert(name, v);
                }
                if out.is_empty() || out.len() > 2 {
                    return Err(de::Error::custom(
                        "must name the partition key and, for a composite key, the sort key",
                    ));
                }
                Ok(SentinelKey(out))
            }
        }
        d.deserialize_map(V)
    }
}

impl Serialize for SentinelKey {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let json: BTreeMap<&str, serde_json::Value> = self
            .0
            .iter()
            .map(|(k, v)| {
                let v = match v {
                    AttributeValue::S(s) => serde_json::json!({ "S": s }),
                    AttributeValue::N(n) => serde_json::json!({ "N": n }),
                    AttributeValue::B(b) => {
                        serde_json::json!({ "B": aws_smithy_types::base64::encode(b.as_ref()) })
                    }
                    _ => serde_json::Value::Null,
                };
                (k.as_str(), v)
            })
            .collect();
        json.serialize(s)
    }
}

/// Default CloudWatch namespace.
pub const DEFAULT_NAMESPACE: &str = "DynamoDBAuthCanary";
/// Default name of the TTL attribute written on the sentinel item.
pub const DEFAULT_TTL_ATTRIBUTE: &str = "expires_at";

// The sentinel item: the key every probe reads (and the write probe
// writes), whatever the table's key schema.

/// Sentinel value of a string (S) key attribute.
pub const SENTINEL_S: &str = "__dynamodb_auth_canary__";
/// Sentinel value of a number (N) key attribute.
pub const SENTINEL_N: &str = "-271828182845904523536.0287";
/// Sentinel value of a binary (B) key attribute (the bytes of `SENTINEL_S`).
pub const SENTINEL_B: &[u8] = SENTINEL_S.as_bytes();
/// Attribute that marks the sentinel item as the canary's own.
pub const MARKER_ATTRIBUTE: &str = "dynamodb_auth_canary";
/// How long the sentinel item may live if its deletion fails.
pub const SENTINEL_TTL_SECONDS: u64 = 3_600;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers_keep_their_ranges() {
        assert!(TimeoutMs::parse(50).is_ok());
        assert!(TimeoutMs::parse(300_000).is_ok());
        assert_eq!(
            TimeoutMs::parse(49).unwrap_err(),
            "49 is out of range (50 to 300000 ms)"
        );
        assert!(TimeoutMs::parse(300_001).is_err());
        assert!(Concurrency::parse(0).is_err());
        assert!(Concurrency::parse(1).is_ok());
        assert!(Concurrency::parse(256).is_ok());
        assert!(Concurrency::parse(257).is_err());
        assert!(DeadlineMs::parse(99).is_err());
        assert!(DeadlineMs::parse(100).is_ok());
        assert!(DeadlineMs::parse(900_000).is_ok());
        assert!(DeadlineMs::parse(900_001).is_err());
    }

    #[test]
    fn table_names_and_arns() {
        assert!(TableRef::parse("abc").is_ok());
        assert!(TableRef::parse("ab").is_err());
        assert!(TableRef::parse("a".repeat(255)).is_ok());
        assert!(TableRef::parse("a".repeat(256)).is_err());
        assert!(TableRef::parse("a b c").is_err());
        assert_eq!(TableRef::parse("  ").unwrap_err(), "must not be empty");
        let t = TableRef::parse("arn:aws:dynamodb:eu-west-1:123456789012:table/orders").unwrap();
        assert_eq!(t.name(), "orders");
        assert_eq!(t.account(), Some("123456789012"));
        assert_eq!(TableRef::parse("orders").unwrap().name(), "orders");
        for bad in [
            "arn:aws:dynamodb:eu-west-1:123456789012:table/",
            "arn:aws:dynamodb:eu-west-9:123456789012:table/orders",
            "arn:aws:dynamodb:eu-west-1:1234:table/orders",
            "arn:aws:s3:eu-west-1:123456789012:table/orders",
            "arn:aws:dynamodb:eu-west-1:123456789012:index/orders",
            &format!(
                "arn:aws:dynamodb:eu-west-1:123456789012:table/{}",
                "x".repeat(65_000)
            ),
        ] {
            assert!(TableRef::parse(bad).is_err(), "{bad} accepted");
        }
    }

    #[test]
    fn role_arns() {
        let r = RoleArn::parse("arn:aws:iam::210987654321:role/team/CanaryReader").unwrap();
        assert_eq!(r.account(), "210987654321");
        assert_eq!(r.name(), "CanaryReader");
        assert!(RoleArn::parse("arn:aws-cn:iam::210987654321:role/R").is_ok());
        assert_eq!(
            r.to_string(),
            "arn:aws:iam::210987654321:role/team/CanaryReader"
        );
        for bad in [
            "arn:aws:iam::1:role/R",
            "arn:aws:iam::210987654321:user/R",
            "arn:aws:iam::210987654321:role/",
            "arn:aws:sts::210987654321:role/R",
            "arn:aws:iam:us-east-1:210987654321:role/R",
            "arn:aws:iam::210987654321:role/has space",
            "role/R",
        ] {
            assert!(RoleArn::parse(bad).is_err(), "{bad} accepted");
        }
    }

    #[test]
    fn kms_key_arns() {
        let good = "arn:aws:kms:us-west-2:123456789012:key/1234abcd-12ab-34cd-56ef-1234567890ab";
        assert_eq!(KmsKeyArn::parse(good).unwrap().as_str(), good);
        let id = |id: &str| format!("arn:aws:kms:us-west-2:123456789012:key/{id}");
        assert!(KmsKeyArn::parse(id("k")).is_ok());
        assert!(KmsKeyArn::parse(id(&"k".repeat(128))).is_ok());
        assert!(KmsKeyArn::parse("arn:aws-us-gov:kms:us-west-2:123456789012:key/k").is_ok());
        // Each part wrong alone.
        for bad in [
            "urn:aws:kms:us-west-2:123456789012:key/k",
            "arn:gcp:kms:us-west-2:123456789012:key/k",
            "arn:aws:iam:us-west-2:123456789012:key/k",
            "arn:aws:kms:us-west-9:123456789012:key/k",
            "arn:aws:kms:us-west-2:12345678901:key/k",
            "arn:aws:kms:us-west-2:123456789012:alias/k",
            "arn:aws:kms:us-west-2:123456789012:key/",
            "arn:aws:kms:us-west-2:123456789012:key/has_underscore",
            &id(&"k".repeat(129)),
            "arn:aws:kms:us-west-2:123456789012",
        ] {
            let e = KmsKeyArn::parse(bad).unwrap_err();
            assert!(e.contains("is not a KMS key ARN"), "{bad}: {e}");
        }
    }

    #[test]
    fn key_values_keep_dynamodb_limits_and_say_which_rule() {
        let key = |ty: &str, v: &str| {
            let mut m = serde_json::Map::new();
            m.insert(ty.to_string(), serde_json::Value::String(v.to_string()));
            key_attribute(&serde_json::Value::Object(m))
        };
        let max = MAX_KEY_VALUE_BYTES;
        assert!(key("S", &"x".repeat(max)).is_ok());
        assert_eq!(
            key("S", &"x".repeat(max + 1)).unwrap_err(),
            format!("S: longer than {max} bytes")
        );
        let b64 = |n: usize| aws_smithy_types::base64::encode(vec![7u8; n]);
        assert!(key("B", &b64(max)).is_ok());
        assert_eq!(
            key("B", &b64(max + 1)).unwrap_err(),
            format!("B: longer than {max} bytes")
        );
        assert!(key("N", &"1".repeat(64)).is_ok());
        assert_eq!(
            key("N", &"1".repeat(65)).unwrap_err(),
            format!("N: \"{}…\" is not a number", "1".repeat(40))
        );
        assert_eq!(key("N", "five").unwrap_err(), "N: \"five\" is not a number");
        assert!(key("BOOL", "true").unwrap_err().contains("must be S, N"));
    }

    #[test]
    fn session_names_external_ids_accounts_namespaces() {
        assert!(SessionName::parse("ab").is_ok());
        assert!(SessionName::parse("a").is_err());
        assert!(SessionName::parse("x".repeat(64)).is_ok());
        assert!(SessionName::parse("x".repeat(65)).is_err());
        assert!(SessionName::parse("a b").is_err());
        assert!(ExternalId::parse("xyz:1/2").is_ok());
        assert!(ExternalId::parse("x").is_err());
        assert!(AccountId::parse("123456789012").is_ok());
        assert!(AccountId::parse("12345678901a").is_err());
        assert!(AccountId::parse("1234567890123").is_err());
        assert!(Namespace::parse("Team/Canary").is_ok());
        assert!(Namespace::parse("AWS/DynamoDB").is_err());
        assert!(Namespace::parse("").is_err());
        assert!(Namespace::parse("a b").is_err());
        assert!(Namespace::parse("x".repeat(256)).is_err());
        assert!(AttributeName::parse("").is_err());
        assert!(AttributeName::parse("ttl").is_ok());
    }

    #[test]
    fn sentinel_keys_are_sdk_values() {
        let k: SentinelKey =
            serde_json::from_str(r#"{"pk": {"S": "a"}, "sk": {"N": "-5.5e3"}}"#).unwrap();
        let a = k.attributes();
        assert_eq!(a["pk"], AttributeValue::S("a".into()));
        assert_eq!(a["sk"], AttributeValue::N("-5.5e3".into()));
        let b: SentinelKey = serde_json::from_str(r#"{"pk": {"B": "aGk="}}"#).unwrap();
        assert_eq!(
            b.attributes()["pk"],
            AttributeValue::B(aws_smithy_types::Blob::new(b"hi".to_vec()))
        );
        assert_eq!(serde_json::to_string(&b).unwrap(), r#"{"pk":{"B":"aGk="}}"#);
        for bad in [
            r#"{}"#,
            r#"{"a": {"S": "x"}, "b": {"S": "x"}, "c": {"S": "x"}}"#,
            r#"{"pk": "x"}"#,
            r#"{"pk": {"S": ""}}"#,
            r#"{"pk": {"N": "five"}}"#,
            r#"{"pk": {"N": "inf"}}"#,
            r#"{"pk": {"B": "not base64!"}}"#,
            r#"{"pk": {"BOOL": "true"}}"#,
            r#"{"pk": {"S": "x", "N": "1"}}"#,
        ] {
            assert!(
                serde_json::from_str::<SentinelKey>(bad).is_err(),
                "{bad} accepted"
            );
        }
        let e = serde_json::from_str::<SentinelKey>(r#"{"pk": {"B": "%%%"}}"#).unwrap_err();
        assert!(e.to_string().contains("is not base64"), "{e}");
        assert_eq!(
            serde_json::to_string(&k).unwrap(),
            r#"{"pk":{"S":"a"},"sk":{"N":"-5.5e3"}}"#
        );
        let named = |name: &str| {
            serde_json::from_value::<SentinelKey>(serde_json::json!({ name: {"S": "x"} }))
                .map_err(|e| e.to_string())
        };
        assert!(named(&"a".repeat(255)).is_ok());
        for bad in [String::new(), "a".repeat(256)] {
            let e = named(&bad).unwrap_err();
            assert!(
                e.contains("key attribute names are 1 to 255 characters"),
                "{e}"
            );
        }
        let e = serde_json::from_str::<SentinelKey>(r#""pk""#).unwrap_err();
        assert!(
            e.to_string()
                .contains("expected an object naming the key attributes in DynamoDB JSON"),
            "{e}"
        );
    }

    #[test]
    fn regions_list_or_replicas() {
        let r: Regions = serde_json::from_str(r#"["us-east-1","eu-west-1"]"#).unwrap();
        assert_eq!(
            r,
            Regions::List(vec![
                Region::parse("us-east-1").unwrap(),
                Region::parse("eu-west-1").unwrap()
            ])
        );
        assert_eq!(
            serde_json::from_str::<Regions>(r#""replicas""#).unwrap(),
            Regions::Replicas
        );
        let err = |json: &str| {
            serde_json::from_str::<Regions>(json)
                .unwrap_err()
                .to_string()
        };
        assert!(err(r#""all""#).contains(r#""all" is neither a list of regions nor "replicas""#));
        assert!(err("[]").contains(r#"must list at least one region, or be "replicas""#));
        // Neither a string nor a list: serde says what was expected.
        assert!(err("5").contains(r#"expected a list of regions or "replicas""#));
        assert!(serde_json::from_str::<Regions>(r#"["us-east-9"]"#).is_err());
        assert_eq!(
            serde_json::to_string(&Regions::Replicas).unwrap(),
            r#""replicas""#
        );
    }
}
