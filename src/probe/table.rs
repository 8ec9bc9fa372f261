//! The probes: DescribeTable, GetItem of a sentinel key, and the opt-in
//! sentinel write (PutItem then DeleteItem), each with the least privilege it
//! needs, judged against the target's expectation (allow or must-deny).

use crate::aws::call::bounded;
use crate::classify::{Class, Failure};
use crate::clock::{elapsed_ms, epoch_seconds};
use crate::config::fields::{
    MARKER_ATTRIBUTE, SENTINEL_B, SENTINEL_N, SENTINEL_S, SENTINEL_TTL_SECONDS,
};
use crate::config::{AttributeName, Expectation, ProbeKind, Probes, Region, SentinelKey, TableRef};
use crate::plan::Unit;
use crate::report::{Outcome, ProbeId, ProbeResult};
use aws_sdk_dynamodb::types::{AttributeValue, ScalarAttributeType, TableDescription};
use aws_sdk_dynamodb::Client;
use std::collections::HashMap;
use std::time::{Duration, Instant, SystemTime};

/// Placeholder key for must-deny probes whose key cannot be derived: IAM is
/// evaluated before the key is validated, so a denial still proves the point,
/// and a ValidationException proves the call got past IAM.
pub const PLACEHOLDER_KEY: &str = "__canary_key_unknown__";

/// Everything one (table, region) chain needs.
#[derive(Debug, Clone)]
pub struct ChainSpec {
    /// Table name or ARN.
    pub table: TableRef,
    /// Region.
    pub region: Region,
    /// Probes in order.
    pub probes: Probes,
    /// allow or deny.
    pub expect: Expectation,
    /// Explicit sentinel key.
    pub key: Option<SentinelKey>,
    /// TTL attribute for the write probe.
    pub ttl_attribute: AttributeName,
    /// Per-probe timeout.
    pub timeout: Duration,
    /// The principal making the calls, when it is not the canary's own.
    pub principal: Option<String>,
}

impl ChainSpec {
    /// The chain of a planned unit in one of its regions.
    pub fn for_unit(unit: &Unit, region: &Region, principal: Option<String>) -> ChainSpec {
        ChainSpec {
            table: unit.table.clone(),
            region: region.clone(),
            probes: unit.probes.clone(),
            expect: unit.expect,
            key: unit.key.clone(),
            ttl_attribute: unit.ttl_attribute.clone(),
            timeout: unit.timeout,
            principal,
        }
    }

    /// A DescribeTable of `table` with the canary's own credentials (doctor).
    pub fn describe_only(table: TableRef, region: Region, timeout: Duration) -> ChainSpec {
        ChainSpec {
            table,
            region,
            probes: Probes::parse(vec![ProbeKind::Describe])
                .unwrap_or_else(|_| unreachable!("one probe")),
            expect: Expectation::Allow,
            key: None,
            ttl_attribute: AttributeName::default(),
            timeout,
            principal: None,
        }
    }

    /// The id of one of the chain's probes.
    pub fn id(&self, probe: ProbeKind) -> ProbeId {
        ProbeId {
            table: self.table.clone(),
            region: self.region.clone(),
            probe,
            expect: self.expect,
        }
    }
}

/// The sentinel key for a table, from its key schema.
pub fn key_from_schema(table: &TableDescription) -> Option<HashMap<String, AttributeValue>> {
    let defs = table.attribute_definitions();
    let mut out = HashMap::new();
    for k in table.key_schema() {
        let name = k.attribute_name();
        let ty = defs
            .iter()
            .find(|d| d.attribute_name() == name)
            .map(|d| d.attribute_type().clone())?;
        let av = match ty {
            ScalarAttributeType::S => AttributeValue::S(SENTINEL_S.into()),
            ScalarAttributeType::N => AttributeValue::N(SENTINEL_N.into()),
            ScalarAttributeType::B => {
                AttributeValue::B(aws_smithy_types::Blob::new(SENTINEL_B.to_vec()))
            }
            _ => return None,
        };
        out.insert(name.to_string(), av);
    }
    (!out.is_empty()).then_some(out)
}

/// Judges an attempt against the expectation.
fn judge(
    spec: &ChainSpec,
    kind: ProbeKind,
    result: Result<(), Failure>,
    latency: f64,
) -> ProbeResult {
    let id = spec.id(kind);
    let fail = |f: Failure| ProbeResult::from_failure(id.clone(), Outcome::Fail, f, latency);
    let mut out = match (spec.expect, result) {
        (Expectation::Allow, Ok(())) => ProbeResult::ok(id.clone(), latency),
        (Expectation::Allow, Err(f)) => fail(f),
        (Expectation::Deny, Err(f)) if f.class == Class::AccessDenied => {
            let mut p = ProbeResult::ok(id.clone(), latency);
            p.code = f.code;
            p.request_id = f.request_id;
            p.message = Some("denied as expected".into());
            p.denied_by = f.denied_by;
            p
        }
        // KMS is consulted after IAM: a key denial proves IAM allowed it.
        (Expectation::Deny, Err(f)) if f.class == Class::KmsAccessDenied => {
            let mut g = Failure::new(
                Class::UnexpectedAccess,
                format!(
                    "must be denied, but IAM let the call through (only KMS refused the key: {})",
                    f.message
                ),
            );
            g.code = f.code;
            g.request_id = f.request_id;
            fail(g)
        }
        // IAM is evaluated before existence and before validation: an answer
        // about the table or the key means the call got past IAM.
        (Expectation::Deny, Err(f))
            if f.class == Class::NotFound
                || f.code.as_deref() == Some("ValidationException")
                || f.code.as_deref() == Some("ConditionalCheckFailedException") =>
        {
            let msg = format!(
                "must be denied, but IAM let the call through (the service answered {}: {})",
                f.code.as_deref().unwrap_or("?"),
                f.message
            );
            let mut g = Failure::new(Class::UnexpectedAccess, msg);
            g.code = f.code;
            g.request_id = f.request_id;
            fail(g)
        }
        (Expectation::Deny, Err(f)) => fail(f),
        (Expectation::Deny, Ok(())) => fail(Failure::new(
            Class::UnexpectedAccess,
            format!(
                "{} succeeded but must be denied",
                kind.actions().join(" and ")
            ),
        )),
    };
    out.principal = spec.principal.clone();
    out
}

/// Runs one chain's probes in order against one client. Describe runs first
/// so that read and write can derive the sentinel key from the key schema.
pub async fn run_chain(client: &Client, spec: &ChainSpec) -> Vec<ProbeResult> {
    let mut results = Vec::with_capacity(spec.probes.kinds().len());
    let mut described: Option<Result<TableDescription, Failure>> = None;
    for &kind in spec.probes.kinds() {
        let started = Instant::now();
        let result = match kind {
            ProbeKind::Describe => {
                let d = describe(client, spec.table.as_str(), spec.timeout).await;
                let r = match &d {
                    Ok(t) => key_usable(t, SystemTime::now()),
                    Err(f) => Err(f.clone()),
                };
                described = Some(d);
                r
            }
            ProbeKind::Read | ProbeKind::Write => {
                let key = match resolve_key(spec, described.as_ref()) {
                    Ok(k) => k,
                    Err(f) => {
                        results.push(not_run(spec, kind, f));
                        continue;
                    }
                };
                if kind == ProbeKind::Read {
                    read(client, spec.table.as_str(), key, spec.timeout).await
                } else {
                    write(client, spec, key).await
                }
            }
        };
        results.push(judge(spec, kind, result, elapsed_ms(started)));
    }
    results
}

/// How long AWS keeps a table whose KMS key DynamoDB cannot use before it
/// archives the table.
pub const KMS_ARCHIVE_AFTER_SECONDS: i64 = 7 * 24 * 3_600;

/// A described table whose KMS key DynamoDB can no longer use fails the
/// describe probe with `kms_inaccessible`, naming the key and the time left
/// before AWS archives the table.
fn key_usable(t: &TableDescription, now: SystemTime) -> Result<(), Failure> {
    use aws_sdk_dynamodb::types::TableStatus;
    if t.table_status() != Some(&TableStatus::InaccessibleEncryptionCredentials) {
        return Ok(());
    }
    let sse = t.sse_description();
    let key = sse
        .and_then(|s| s.kms_master_key_arn())
        .unwrap_or("(key not named)");
    let since = sse
        .and_then(|s| s.inaccessible_encryption_date_time())
        .and_then(|d| SystemTime::try_from(*d).ok());
    let left = match since {
        Some(since) => {
            let archive_at = since + Duration::from_secs(KMS_ARCHIVE_AFTER_SECONDS as u64);
            let secs = crate::clock::seconds_until(archive_at, now);
            if secs > 0 {
                format!(
                    "AWS archives the table in {} h {} min unless access to the key is restored",
                    secs / 3_600,
                    secs % 3_600 / 60
                )
            } else {
                "the seven days before archival have passed: the table is being archived".into()
            }
        }
        None => "AWS archives such a table seven days after the key became inaccessible".into(),
    };
    Err(Failure::new(
        Class::KmsInaccessible,
        format!("DynamoDB cannot use the table's KMS key {key} (INACCESSIBLE_ENCRYPTION_CREDENTIALS): {left}"),
    ))
}

fn not_run(spec: &ChainSpec, kind: ProbeKind, f: Failure) -> ProbeResult {
    let mut p = ProbeResult::from_failure(spec.id(kind), Outcome::NotRun, f, 0.0);
    p.principal = spec.principal.clone();
    p
}

fn resolve_key(
    spec: &ChainSpec,
    described: Option<&Result<TableDescription, Failure>>,
) -> Result<HashMap<String, AttributeValue>, Failure> {
    if let Some(k) = &spec.key {
        return Ok(k.attributes());
    }
    match described {
        Some(Ok(t)) => key_from_schema(t).ok_or_else(|| {
            Failure::new(Class::Other, "the table's key schema could not be read to derive a sentinel key; give \"key\" in the target")
        }),
        _ if spec.expect == Expectation::Deny => Ok(HashMap::from([(
            PLACEHOLDER_KEY.to_string(),
            AttributeValue::S(SENTINEL_S.into()),
        )])),
        Some(Err(f)) => {
            let mut g = f.clone();
            g.message = format!(
                "not run: the sentinel key comes from DescribeTable, which failed ({})",
                f.class
            );
            Err(g)
        }
        None => Err(Failure::new(
            Class::Other,
            "not run: no sentinel key (give \"key\" or add the describe probe)",
        )),
    }
}

async fn describe(
    client: &Client,
    table: &str,
    timeout: Duration,
) -> Result<TableDescription, Failure> {
    let call = client
        .describe_table()
        .table_name(table)
        .customize()
        .config_override(crate::aws::call::op_config!(aws_sdk_dynamodb, timeout))
        .send();
    bounded("DescribeTable", timeout, call)
        .await?
        .table
        .ok_or_else(|| Failure::new(Class::Other, "DescribeTable returned no table"))
}

/// Describes a table for replica discovery.
pub async fn describe_for_replicas(
    client: &Client,
    table: &str,
    timeout: Duration,
) -> Result<Vec<String>, Failure> {
    let t = describe(client, table, timeout).await?;
    Ok(t.replicas()
        .iter()
        .filter_map(|r| r.region_name().map(str::to_string))
        .collect())
}

async fn read(
    client: &Client,
    table: &str,
    key: HashMap<String, AttributeValue>,
    timeout: Duration,
) -> Result<(), Failure> {
    // Project only the key attributes: the canary never reads item data,
    // even when an item happens to exist under the sentinel key.
    let mut names = HashMap::new();
    let mut projection = Vec::new();
    for (i, k) in key.keys().enumerate() {
        names.insert(format!("#k{i}"), k.clone());
        projection.push(format!("#k{i}"));
    }
    let call = client
        .get_item()
        .table_name(table)
        .set_key(Some(key))
        .projection_expression(projection.join(", "))
        .set_expression_attribute_names(Some(names))
        .customize()
        .config_override(crate::aws::call::op_config!(aws_sdk_dynamodb, timeout))
        .send();
    bounded("GetItem", timeout, call).await.map(|_| ())
}

/// PutItem of the sentinel (only if the key is free or already the canary's),
/// then DeleteItem of it (only if it is the canary's).
async fn write(
    client: &Client,
    spec: &ChainSpec,
    key: HashMap<String, AttributeValue>,
) -> Result<(), Failure> {
    let expires = epoch_seconds() + SENTINEL_TTL_SECONDS;
    let first_key = key.keys().next().cloned().unwrap_or_default();
    let mut item = key.clone();
    item.insert(
        spec.ttl_attribute.as_str().to_string(),
        AttributeValue::N(expires.to_string()),
    );
    item.insert(
        MARKER_ATTRIBUTE.into(),
        AttributeValue::S(SENTINEL_S.into()),
    );
    let timeout = spec.timeout;
    let put = client
        .put_item()
        .table_name(spec.table.as_str())
        .set_item(Some(item))
        .condition_expression("attribute_not_exists(#k) OR #m = :m")
        .expression_attribute_names("#k", first_key)
        .expression_attribute_names("#m", MARKER_ATTRIBUTE)
        .expression_attribute_values(":m", AttributeValue::S(SENTINEL_S.into()))
        .customize()
        .config_override(crate::aws::call::op_config!(aws_sdk_dynamodb, timeout))
        .send();
    let put = bounded("PutItem", timeout, put).await;
    if let Err(mut f) = put.map(|_| ()) {
        if f.code.as_deref() == Some("ConditionalCheckFailedException") {
            f.message = "the sentinel key holds an item that is not the canary's: nothing was written; choose another \"key\"".into();
        }
        return Err(f);
    }
    let delete = client
        .delete_item()
        .table_name(spec.table.as_str())
        .set_key(Some(key))
        .condition_expression("#m = :m")
        .expression_attribute_names("#m", MARKER_ATTRIBUTE)
        .expression_attribute_values(":m", AttributeValue::S(SENTINEL_S.into()))
        .customize()
        .config_override(crate::aws::call::op_config!(aws_sdk_dynamodb, timeout))
        .send();
    let delete = bounded("DeleteItem", timeout, delete).await;
    delete.map(|_| ()).map_err(|mut f| {
        f.message = format!(
            "PutItem succeeded but DeleteItem failed; the sentinel item expires through its TTL attribute {}: {}",
            spec.ttl_attribute.as_str(), f.message
        );
        // For a must-deny target the allowed PutItem is the finding, whatever
        // became of the DeleteItem (a denied delete is no proof of denial).
        if spec.expect == Expectation::Deny {
            f.class = Class::UnexpectedAccess;
        }
        f
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use aws_sdk_dynamodb::types::{AttributeDefinition, KeySchemaElement, KeyType};

    #[test]
    fn sentinel_key_from_a_composite_schema() {
        let t = TableDescription::builder()
            .key_schema(
                KeySchemaElement::builder()
                    .attribute_name("pk")
                    .key_type(KeyType::Hash)
                    .build()
                    .unwrap(),
            )
            .key_schema(
                KeySchemaElement::builder()
                    .attribute_name("sk")
                    .key_type(KeyType::Range)
                    .build()
                    .unwrap(),
            )
            .attribute_definitions(
                AttributeDefinition::builder()
                    .attribute_name("pk")
                    .attribute_type(ScalarAttributeType::S)
                    .build()
                    .unwrap(),
            )
            .attribute_definitions(
                AttributeDefinition::builder()
                    .attribute_name("sk")
                    .attribute_type(ScalarAttributeType::N)
                    .build()
                    .unwrap(),
            )
            .build();
        let k = key_from_schema(&t).unwrap();
        assert_eq!(k["pk"], AttributeValue::S(SENTINEL_S.into()));
        assert_eq!(k["sk"], AttributeValue::N(SENTINEL_N.into()));
        assert!(SENTINEL_N.parse::<f64>().is_ok());
    }

    fn spec(expect: Expectation) -> ChainSpec {
        ChainSpec {
            table: TableRef::parse("ttt").unwrap(),
            region: Region::parse("us-east-1").unwrap(),
            probes: Probes::parse(vec![ProbeKind::Read]).unwrap(),
            expect,
            key: None,
            ttl_attribute: AttributeName::default(),
            timeout: Duration::from_secs(1),
            principal: None,
        }
    }

    #[test]
    fn must_deny_judgement() {
        let denied = Failure {
            code: Some("AccessDeniedException".into()),
            ..Failure::new(Class::AccessDenied, "no")
        };
        let p = judge(
            &spec(Expectation::Deny),
            ProbeKind::Read,
            Err(denied.clone()),
            1.0,
        );
        assert_eq!((p.outcome, p.class), (Outcome::Ok, Class::Ok));
        let p = judge(&spec(Expectation::Deny), ProbeKind::Read, Ok(()), 1.0);
        assert_eq!(
            (p.outcome, p.class),
            (Outcome::Fail, Class::UnexpectedAccess)
        );
        let nf = Failure {
            code: Some("ResourceNotFoundException".into()),
            ..Failure::new(Class::NotFound, "gone")
        };
        let p = judge(&spec(Expectation::Deny), ProbeKind::Read, Err(nf), 1.0);
        assert_eq!(p.class, Class::UnexpectedAccess);
        let p = judge(&spec(Expectation::Allow), ProbeKind::Read, Err(denied), 1.0);
        assert_eq!((p.outcome, p.class), (Outcome::Fail, Class::AccessDenied));
        let p = judge(
            &spec(Expectation::Deny),
            ProbeKind::Read,
            Err(Failure::new(Class::Timeout, "slow")),
            1.0,
        );
        assert_eq!((p.outcome, p.class), (Outcome::Fail, Class::Timeout));
    }

    #[test]
    fn key_resolution_without_describe() {
        let f = Failure::new(Class::AccessDenied, "no");
        let e = resolve_key(&spec(Expectation::Allow), Some(&Err(f.clone()))).unwrap_err();
        assert_eq!(e.class, Class::AccessDenied);
        assert!(e.message.contains("not run"));
        let k = resolve_key(&spec(Expectation::Deny), Some(&Err(f))).unwrap();
        assert!(k.contains_key(PLACEHOLDER_KEY));
    }

    #[test]
    fn a_table_whose_key_dynamodb_lost_fails_with_the_time_left() {
        use aws_sdk_dynamodb::types::{SseDescription, TableStatus};
        let now = SystemTime::UNIX_EPOCH + Duration::from_secs(1_800_000_000);
        let since = aws_smithy_types::DateTime::from_secs(1_800_000_000 - 2 * 86_400);
        let t = TableDescription::builder()
            .table_status(TableStatus::InaccessibleEncryptionCredentials)
            .sse_description(
                SseDescription::builder()
                    .kms_master_key_arn("arn:aws:kms:us-east-1:123456789012:key/k1")
                    .inaccessible_encryption_date_time(since)
                    .build(),
            )
            .build();
        let f = key_usable(&t, now).unwrap_err();
        assert_eq!(f.class, Class::KmsInaccessible);
        assert!(
            f.message
                .contains("arn:aws:kms:us-east-1:123456789012:key/k1"),
            "{}",
            f.message
        );
        assert!(
            f.message.contains("archives the table in 120 h 0 min"),
            "{}",
            f.message
        );
        let active = TableDescription::builder()
            .table_status(TableStatus::Active)
            .build();
        assert!(key_usable(&active, now).is_ok());
    }

    #[test]
    fn a_kms_denial_on_a_must_deny_probe_is_unexpected_access() {
        let f = Failure::new(Class::KmsAccessDenied, "KMS key access denied error: x");
        let p = judge(&spec(Expectation::Deny), ProbeKind::Read, Err(f), 1.0);
        assert_eq!(
            (p.outcome, p.class),
            (Outcome::Fail, Class::UnexpectedAccess)
        );
        let denied = Failure {
            denied_by: Some(Box::new(crate::classify::explain::denied_by("User: x is not authorized to perform: dynamodb:GetItem on resource: t because no identity-based policy allows the dynamodb:GetItem action"))),
            ..Failure::new(Class::AccessDenied, "no")
        };
        let p = judge(&spec(Expectation::Deny), ProbeKind::Read, Err(denied), 1.0);
        assert_eq!(p.outcome, Outcome::Ok);
        assert_eq!(
            p.denied_by.unwrap().layer,
            crate::classify::explain::Layer::IdentityPolicy,
            "a must-deny result says which layer denied"
        );
    }
}
