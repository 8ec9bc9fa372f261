//! The least-privilege IAM policy a configuration needs, computed from its
//! plan: DescribeTable, GetItem and the sentinel write on exactly the
//! configured tables in the configured regions, `dynamodb:LeadingKeys`
//! limited to the sentinel and configured key values, `kms:Decrypt` on the
//! tables' customer managed keys, PutMetricData in one namespace, and
//! AssumeRole on exactly the configured roles. Must-deny targets get no
//! table permission; one reached through a role still gets AssumeRole on
//! that role, since its probe runs as the role.
//! The same computation gives the permission policy of a cross-account
//! target role (`--target-account`).

use crate::config::deployment::leading_key_values;
use crate::config::{AccountId, Config, Expectation, ProbeKind, Region};
use crate::error::ConfigError;
use crate::plan::{plan, Placement, Unit};
use serde::Serialize;
use serde_json::{json, Value};
use std::collections::BTreeSet;

/// Whose policy, and where.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Scope {
    /// The canary's account (tables given by name live here); `None` for
    /// "the stack's own account" (the template fills it in).
    pub account: Option<AccountId>,
    /// The partition (`aws`, `aws-cn`, `aws-us-gov`).
    pub partition: String,
    /// The canary's region (targets that name no region).
    pub region: Region,
    /// `Some`: the policy of the role that targets in this account assume.
    pub target_account: Option<AccountId>,
}

/// An IAM policy document.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Document {
    /// Always `2012-10-17`.
    #[serde(rename = "Version")]
    pub version: &'static str,
    /// The statements.
    #[serde(rename = "Statement")]
    pub statements: Vec<Statement>,
}

/// One Allow statement.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Statement {
    /// A name saying what it is for.
    #[serde(rename = "Sid")]
    pub sid: &'static str,
    /// Always `Allow`.
    #[serde(rename = "Effect")]
    pub effect: &'static str,
    /// The actions.
    #[serde(rename = "Action")]
    pub action: Vec<&'static str>,
    /// The resources.
    #[serde(rename = "Resource")]
    pub resource: Vec<String>,
    /// The condition, if any.
    #[serde(rename = "Condition", skip_serializing_if = "Option::is_none")]
    pub condition: Option<Value>,
}

/// What a configuration needs, resource by resource.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Needs {
    /// Table ARNs of describe probes.
    pub describe: BTreeSet<String>,
    /// Table ARNs of read probes.
    pub read: BTreeSet<String>,
    /// Table ARNs of write probes.
    pub write: BTreeSet<String>,
    /// KMS key ARNs of tables that are read or written.
    pub kms: BTreeSet<String>,
    /// Roles of cross-account targets (the canary's own policy only).
    pub roles: BTreeSet<String>,
    /// Values `dynamodb:LeadingKeys` allows.
    pub leading_keys: Vec<String>,
}

/// A table placed in a region and an account, or why it cannot be.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Placed {
    /// The region.
    pub region: Region,
    /// The account.
    pub account: String,
    /// The table's name.
    pub name: String,
}

/// The tables of a unit the policy of `scope` covers: its region (replica
/// targets are refused: their regions are known only at run time) and its
/// account; `None` when another policy covers it (a role's target in the
/// canary's policy, or a target outside `scope.target_account`).
pub fn place(unit: &Unit, scope: &Scope, origin: &str) -> Result<Option<Placed>, ConfigError> {
    let err = |path: &str, message: String| ConfigError::Field {
        origin: origin.to_string(),
        path: format!("targets[{}].{path}", unit.target),
        message,
    };
    if unit.expect == Expectation::Deny {
        return Ok(None);
    }
    let region = match &unit.placement {
        Placement::Region(r) => r.clone(),
        Placement::Replicas { .. } => {
            return Err(err(
                "regions",
                "\"replicas\" is resolved only at run time: list the table's regions to generate its permissions".into(),
            ))
        }
    };
    let table_account = unit.table.account().map(str::to_string);
    let account = match (&unit.role, &scope.target_account) {
        (Some(_), None) => return Ok(None),
        (None, Some(_)) => return Ok(None),
        (Some(role), Some(target)) if role.role_arn.account() != target.as_str() => {
            return Ok(None)
        }
        (Some(role), Some(_)) => table_account.unwrap_or_else(|| role.role_arn.account().to_string()),
        (None, None) => match (table_account, &scope.account) {
            (Some(a), Some(own)) if a != own.as_str() => {
                return Err(err(
                    "table",
                    format!("the table is in account {a}, not {}: give the target a role_arn in that account (the canary reaches other accounts through a role)", own.as_str()),
                ))
            }
            (Some(a), _) => a,
            (None, Some(own)) => own.as_str().to_string(),
            (None, None) => "${AWS::AccountId}".to_string(),
        },
    };
    Ok(Some(Placed {
        region,
        account,
        name: unit.table.name().to_string(),
    }))
}

/// What the configuration needs within `scope`.
pub fn needs(config: &Config, scope: &Scope, origin: &str) -> Result<Needs, ConfigError> {
    let mut n = Needs {
        leading_keys: leading_key_values(config),
        ..Needs::default()
    };
    for unit in plan(config, &scope.region) {
        // The way into the target's account, not the permission a
        // must-deny probe proves absent: without it the probe never runs.
        if scope.target_account.is_none() {
            if let Some(role) = &unit.role {
                n.roles.insert(role.role_arn.as_str().to_string());
            }
        }
        let Some(p) = place(&unit, scope, origin)? else {
            continue;
        };
        let arn = format!(
            "arn:{}:dynamodb:{}:{}:table/{}",
            scope.partition, p.region, p.account, p.name
        );
        let kinds = unit.probes.kinds();
        if kinds.contains(&ProbeKind::Describe) {
            n.describe.insert(arn.clone());
        }
        if kinds.contains(&ProbeKind::Read) {
            n.read.insert(arn.clone());
        }
        if kinds.contains(&ProbeKind::Write) {
            n.write.insert(arn);
        }
        let data = kinds.contains(&ProbeKind::Read) || kinds.contains(&ProbeKind::Write);
        if let (true, Some(key)) = (data, &config.targets[unit.target].kms_key) {
            n.kms.insert(key.as_str().to_string());
        }
    }
    Ok(n)
}

/// The `dynamodb:LeadingKeys` condition of reads and writes.
pub fn leading_keys_condition(values: &[String]) -> Value {
    json!({"ForAllValues:StringEquals": {"dynamodb:LeadingKeys": values}})
}

/// The policy document of `scope`.
pub fn policy(config: &Config, scope: &Scope, origin: &str) -> Result<Document, ConfigError> {
    let n = needs(config, scope, origin)?;
    let mut statements = Vec::new();
    let mut add = |sid, action: Vec<&'static str>, set: &BTreeSet<String>, condition| {
        if !set.is_empty() {
            statements.push(Statement {
                sid,
                effect: "Allow",
                action,
                resource: set.iter().cloned().collect(),
                condition,
            });
        }
    };
    let keys = leading_keys_condition(&n.leading_keys);
    add(
        "DescribeTables",
        vec!["dynamodb:DescribeTable"],
        &n.describe,
        None,
    );
    add(
        "ReadSentinelKeys",
        vec!["dynamodb:GetItem"],
        &n.read,
        Some(keys.clone()),
    );
    add(
        "WriteSentinelKeys",
        vec!["dynamodb:PutItem", "dynamodb:DeleteItem"],
        &n.write,
        Some(keys),
    );
    add("DecryptTableKeys", vec!["kms:Decrypt"], &n.kms, None);
    if scope.target_account.is_none() {
        let namespace = config.metrics.namespace();
        add(
            "PublishCanaryMetrics",
            vec!["cloudwatch:PutMetricData"],
            &BTreeSet::from(["*".to_string()]),
            Some(json!({"StringEquals": {"cloudwatch:namespace": namespace.as_str()}})),
        );
        add("AssumeTargetRoles", vec!["sts:AssumeRole"], &n.roles, None);
        // "What changed": LookupEvents takes no resource (it reads the
        // account's event history), so "*" is its least privilege.
        // "Does the account see it too?": GetMetricData takes no resource.
        if config.account_errors.enabled {
            add(
                "ReadAccountUserErrors",
                vec!["cloudwatch:GetMetricData"],
                &BTreeSet::from(["*".to_string()]),
                None,
            );
        }
        if config.what_changed.enabled {
            add(
                "LookupChangesBehindDenials",
                vec!["cloudtrail:LookupEvents"],
                &BTreeSet::from(["*".to_string()]),
                None,
            );
        }
    }
    Ok(Document {
        version: "2012-10-17",
        statements,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn scope(target: Option<&str>) -> Scope {
        Scope {
            account: Some(AccountId::parse("123456789012").unwrap()),
            partition: "aws".into(),
            region: Region::parse("us-east-1").unwrap(),
            target_account: target.map(|t| AccountId::parse(t).unwrap()),
        }
    }

    fn config(text: &str) -> Config {
        Config::from_json_str(text, "c.json").unwrap()
    }

    const CONFIG: &str = r#"{
        "defaults": {"regions": ["us-east-1", "eu-west-1"]},
        "targets": [
            {"table": "orders", "probes": ["describe", "read"]},
            {"table": "events", "regions": ["us-west-2"], "probes": ["describe", "write"],
             "kms_key": "arn:aws:kms:us-west-2:123456789012:key/1234abcd-12ab-34cd-56ef-1234567890ab"},
            {"table": "payroll", "probes": ["read"], "expect": "deny"},
            {"table": "ledger", "probes": ["read"], "key": {"pk": {"N": "7"}},
             "role_arn": "arn:aws:iam::210987654321:role/CanaryReader"}
        ],
        "metrics": {"namespace": "Team/Canary"}}"#;

    #[test]
    fn the_canary_policy_covers_exactly_the_configuration() {
        let d = policy(&config(CONFIG), &scope(None), "c.json").unwrap();
        let by_sid = |sid: &str| d.statements.iter().find(|s| s.sid == sid).unwrap();
        assert_eq!(
            by_sid("DescribeTables").resource,
            [
                "arn:aws:dynamodb:eu-west-1:123456789012:table/orders",
                "arn:aws:dynamodb:us-east-1:123456789012:table/orders",
                "arn:aws:dynamodb:us-west-2:123456789012:table/events",
            ]
        );
        let read = by_sid("ReadSentinelKeys");
        assert_eq!(read.action, ["dynamodb:GetItem"]);
        assert_eq!(
            read.resource.len(),
            2,
            "payroll is must-deny, ledger is the role's"
        );
        let values =
            &read.condition.as_ref().unwrap()["ForAllValues:StringEquals"]["dynamodb:LeadingKeys"];
        assert_eq!(values[0], "__dynamodb_auth_canary__");
        assert_eq!(values[3], "7");
        assert_eq!(
            by_sid("WriteSentinelKeys").resource,
            ["arn:aws:dynamodb:us-west-2:123456789012:table/events"]
        );
        assert_eq!(by_sid("DecryptTableKeys").resource.len(), 1);
        assert_eq!(
            by_sid("PublishCanaryMetrics").condition,
            Some(json!({"StringEquals": {"cloudwatch:namespace": "Team/Canary"}}))
        );
        assert_eq!(
            by_sid("AssumeTargetRoles").resource,
            ["arn:aws:iam::210987654321:role/CanaryReader"]
        );
        // The three actions that take no resource, and nothing else, on "*".
        assert_eq!(
            by_sid("ReadAccountUserErrors").action,
            ["cloudwatch:GetMetricData"]
        );
        assert_eq!(
            by_sid("LookupChangesBehindDenials").action,
            ["cloudtrail:LookupEvents"]
        );
        let text = serde_json::to_string(&d).unwrap();
        assert!(!text.contains("payroll"), "must-deny tables get nothing");
        assert_eq!(text.matches('*').count(), 3, "{text}");
        // Off, the two reads are not granted.
        let mut off = config(CONFIG);
        off.what_changed.enabled = false;
        off.account_errors.enabled = false;
        let text = serde_json::to_string(&policy(&off, &scope(None), "c.json").unwrap()).unwrap();
        assert_eq!(text.matches('*').count(), 1, "{text}");
    }

    #[test]
    fn the_target_role_policy_covers_that_account_only() {
        let d = policy(&config(CONFIG), &scope(Some("210987654321")), "c.json").unwrap();
        let sids: Vec<&str> = d.statements.iter().map(|s| s.sid).collect();
        assert_eq!(sids, ["ReadSentinelKeys"]);
        assert_eq!(
            d.statements[0].resource,
            [
                "arn:aws:dynamodb:eu-west-1:210987654321:table/ledger",
                "arn:aws:dynamodb:us-east-1:210987654321:table/ledger",
            ]
        );
        let other = policy(&config(CONFIG), &scope(Some("999999999999")), "c.json").unwrap();
        assert!(other.statements.is_empty());
    }

    /// A table given by its ARN in the canary's own account is the canary's
    /// to probe; a must-deny target gets no table permission, but AssumeRole
    /// on its role (else its probe is never run and pages as not run).
    #[test]
    fn own_account_table_arns_and_must_deny_roles() {
        let c = config(
            r#"{"targets":[
                {"table":"arn:aws:dynamodb:us-east-1:123456789012:table/own","regions":["us-east-1"]},
                {"table":"secret","probes":["read"],"expect":"deny",
                 "role_arn":"arn:aws:iam::210987654321:role/DenyProbe"}]}"#,
        );
        let d = policy(&c, &scope(None), "c.json").unwrap();
        let by_sid = |sid: &str| d.statements.iter().find(|s| s.sid == sid).unwrap();
        assert_eq!(
            by_sid("AssumeTargetRoles").resource,
            ["arn:aws:iam::210987654321:role/DenyProbe"]
        );
        assert!(!serde_json::to_string(&d).unwrap().contains("secret"));
        assert_eq!(
            by_sid("DescribeTables").resource,
            ["arn:aws:dynamodb:us-east-1:123456789012:table/own"]
        );
    }

    #[test]
    fn what_cannot_be_a_policy_is_refused() {
        let e = policy(
            &config(r#"{"targets":[{"table":"aaa"},{"table":"bbb","regions":"replicas"}]}"#),
            &scope(None),
            "c.json",
        )
        .unwrap_err()
        .to_string();
        assert!(
            e.contains("c.json: targets[1].regions: \"replicas\""),
            "{e}"
        );
        let e = policy(
            &config(
                r#"{"targets":[{"table":"arn:aws:dynamodb:us-east-1:210987654321:table/xx1"}]}"#,
            ),
            &scope(None),
            "c.json",
        )
        .unwrap_err()
        .to_string();
        assert!(
            e.contains("targets[0].table: the table is in account 210987654321"),
            "{e}"
        );
    }
}
