//! `deploy-params`: the SAM template's parameters, computed from the same
//! configuration file the canary runs with, so that the role's permissions,
//! the alarms' namespace and name and the function's configuration agree by
//! construction. Printed as `Key=Value` pairs for
//! `sam deploy --parameter-overrides "$(dynamodb-auth-canary deploy-params ...)"`.
//! The folder owns what a deployment derives from one configuration: these
//! parameters, the least-privilege policy (`iam`) and the fleet's plan
//! (`fleet`: StackSets and the monitoring account); and the caller's account,
//! from STS, when `--account` is not given.

pub mod bill;
pub mod fleet;
pub mod iam;

use crate::aws::clients::{AwsClients, ClientOptions};
use crate::config::{AccountId, CanaryName, Config, Region};
use crate::deploy::iam::{Needs, Scope};
use crate::error::ConfigError;
use std::collections::BTreeSet;
use std::time::Duration;

/// How long `deploy-params` and `policy` wait for STS when they ask it for
/// the caller's account.
pub const CALLER_ACCOUNT_TIMEOUT: Duration = Duration::from_secs(10);

/// The account of the caller's credentials (STS GetCallerIdentity), as the
/// AWS CLI and SAM CLI find it, for `--account` left out. The clients honour
/// `--endpoint-url`, `AWS_ENDPOINT_URL_STS`, the profile and the region like
/// every other command. A failure is a usage error naming `--account`, the
/// failure's class and what to do.
pub async fn caller_account(
    opts: &ClientOptions,
    timeout: Duration,
) -> Result<AccountId, ConfigError> {
    let err = |message: String| ConfigError::Flag {
        flag: "--account".into(),
        message,
    };
    let clients = AwsClients::load(opts).await?;
    if let Some(f) = clients.credential_problem() {
        return Err(err(format!(
            "not given, and the credentials cannot ask STS for it ({}: {}); pass --account",
            f.class.as_str(),
            f.message
        )));
    }
    let call = clients
        .sts()
        .get_caller_identity()
        .customize()
        .config_override(crate::aws::call::op_config!(aws_sdk_sts, timeout))
        .send();
    match crate::aws::call::bounded("GetCallerIdentity", timeout, call).await {
        Ok(out) => AccountId::parse(out.account().unwrap_or_default()).map_err(|m| {
            err(format!(
                "not given, and STS GetCallerIdentity answered no usable account ({m}); pass --account"
            ))
        }),
        Err(f) => Err(err(format!(
            "not given, and STS GetCallerIdentity failed ({}: {}); pass --account",
            f.class.as_str(),
            f.message
        ))),
    }
}

/// Policy slots of the template (one managed policy each).
pub const SLOTS: usize = 8;
/// IAM's limit on a managed policy document (characters, whitespace excluded).
pub const MAX_MANAGED_POLICY_CHARS: usize = 6_144;
/// CloudFormation's limit on one parameter value.
pub const MAX_PARAMETER_BYTES: usize = 4_096;
/// The largest inline configuration: Lambda allows 4 KB for all variables
/// together, and the template sets five others.
pub const MAX_INLINE_CONFIG_BYTES: usize = 3_072;

/// How the deployment is asked for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Options {
    /// The account the stack deploys to (tables given by name are in it).
    pub account: AccountId,
    /// The region the stack deploys to (targets that name no region).
    pub region: Region,
    /// The SSM parameter holding the configuration, instead of inlining it.
    pub ssm_parameter: Option<String>,
    /// The deployment's name (the `Canary` dimension); else the config's
    /// `name`, else the template uses the stack name.
    pub canary_name: Option<CanaryName>,
}

/// The table ARNs of one managed policy.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Slot {
    /// DescribeTable.
    pub describe: Vec<String>,
    /// GetItem (with LeadingKeys).
    pub read: Vec<String>,
    /// PutItem and DeleteItem (with LeadingKeys).
    pub write: Vec<String>,
}

impl Slot {
    /// The characters of this slot's policy document as the template renders
    /// it (minified), counted from the same statements `policy` prints.
    pub fn policy_document(&self, leading_keys: &[String]) -> serde_json::Value {
        let condition = crate::deploy::iam::leading_keys_condition(leading_keys);
        let statement = |actions: &[&str], arns: &[String], cond: Option<&serde_json::Value>| {
            let mut s = serde_json::json!({"Effect": "Allow", "Action": actions, "Resource": arns});
            if let Some(c) = cond {
                s["Condition"] = c.clone();
            }
            s
        };
        let mut statements = Vec::new();
        for (actions, arns, cond) in self.statements() {
            if !arns.is_empty() {
                statements.push(statement(actions, arns, cond.then_some(&condition)));
            }
        }
        serde_json::json!({"Version": "2012-10-17", "Statement": statements})
    }

    /// The actions, ARNs and whether the LeadingKeys condition applies, of
    /// each statement.
    fn statements(&self) -> [(&'static [&'static str], &[String], bool); 3] {
        [
            (&["dynamodb:DescribeTable"], &self.describe, false),
            (&["dynamodb:GetItem"], &self.read, true),
            (
                &["dynamodb:PutItem", "dynamodb:DeleteItem"],
                &self.write,
                true,
            ),
        ]
    }

    /// The length of [`Slot::policy_document`] minified, computed without
    /// rendering it: each ARN adds its length, two quotes and a comma.
    pub fn policy_chars(&self, leading_keys: &[String]) -> usize {
        let empty = Slot::default();
        let base = empty.policy_document(leading_keys).to_string().len();
        let mut total = base;
        let mut count: usize = 0;
        for (actions, arns, _) in self.statements() {
            if arns.is_empty() {
                continue;
            }
            let mut one = Slot::default();
            let stub = vec![String::new()];
            match actions[0] {
                "dynamodb:DescribeTable" => one.describe = stub,
                "dynamodb:GetItem" => one.read = stub,
                _ => one.write = stub,
            }
            // A statement with one empty ARN: its fixed part plus `""`.
            let fixed = one.policy_document(leading_keys).to_string().len() - base;
            total += fixed + arns.iter().map(|a| a.len() + 3).sum::<usize>() - 3;
            count += 1;
        }
        // Commas between statements.
        total + count.saturating_sub(1)
    }
}

/// One of a slot's three lists.
type SlotList = fn(&mut Slot) -> &mut Vec<String>;

/// Packs the tables' ARNs into as few slots as keep each policy (with a
/// margin for the Sids and names the template adds) under IAM's limit and
/// each list under CloudFormation's parameter limit.
pub fn pack(needs: &Needs, budget: usize) -> Vec<Slot> {
    let mut slots: Vec<Slot> = Vec::new();
    let kinds: [(&BTreeSet<String>, SlotList); 3] = [
        (&needs.describe, |s| &mut s.describe),
        (&needs.read, |s| &mut s.read),
        (&needs.write, |s| &mut s.write),
    ];
    // First fit: each ARN goes into the first slot with room for it, so a
    // slot whose describe list filled its parameter still takes reads.
    for (arns, field) in kinds {
        for arn in arns {
            let fits = |slot: &mut Slot| {
                field(slot).push(arn.clone());
                // Each list is also one template parameter.
                let ok = field(slot).join(",").len() <= MAX_PARAMETER_BYTES
                    && slot.policy_chars(&needs.leading_keys) <= budget;
                if !ok {
                    field(slot).pop();
                }
                ok
            };
            if !slots.iter_mut().any(fits) {
                let mut fresh = Slot::default();
                field(&mut fresh).push(arn.clone());
                slots.push(fresh);
            }
        }
    }
    if slots.is_empty() {
        slots.push(Slot::default());
    }
    slots
}

/// The template's parameters for `config`; `text` is the configuration as
/// written (inlined minified, when it is not in SSM).
pub fn parameters(
    config: &Config,
    text: &str,
    opts: &Options,
    origin: &str,
) -> Result<Vec<(String, String)>, ConfigError> {
    let err = |message: String| ConfigError::Field {
        origin: origin.to_string(),
        path: "(deployment)".into(),
        message,
    };
    let scope = Scope {
        account: Some(opts.account.clone()),
        partition: "aws".into(),
        region: opts.region.clone(),
        target_account: None,
    };
    let needs: Needs = crate::deploy::iam::needs(config, &scope, origin)?;
    let slots = pack(&needs, MAX_MANAGED_POLICY_CHARS - 400);
    check_slot_count(slots.len()).map_err(err)?;
    let mut out: Vec<(String, String)> = Vec::new();
    let inline = match &opts.ssm_parameter {
        Some(_) => String::new(),
        None => inline_config(text).map_err(err)?,
    };
    out.push(("CanaryConfig".into(), inline));
    out.push((
        "ConfigParameterName".into(),
        opts.ssm_parameter.clone().unwrap_or_default(),
    ));
    let name = opts.canary_name.clone().or_else(|| config.name.clone());
    out.push((
        "CanaryName".into(),
        name.map(|n| n.to_string()).unwrap_or_default(),
    ));
    out.push((
        "MetricsNamespace".into(),
        config.metrics.namespace().to_string(),
    ));
    for i in 0..SLOTS {
        let slot = slots.get(i).cloned().unwrap_or_default();
        let n = i + 1;
        out.push((format!("Slot{n}DescribeTableArns"), slot.describe.join(",")));
        out.push((format!("Slot{n}ReadTableArns"), slot.read.join(",")));
        out.push((format!("Slot{n}WriteTableArns"), slot.write.join(",")));
    }
    if let Some(k) = needs.leading_keys.iter().find(|k| k.contains(',')) {
        return Err(err(format!(
            "the key value \"{k}\" contains a comma, which a CommaDelimitedList parameter cannot carry: choose another key"
        )));
    }
    out.push(("LeadingKeyValues".into(), needs.leading_keys.join(",")));
    out.push(("KmsKeyArns".into(), join(&needs.kms)));
    out.push(("AssumeRoleArns".into(), join(&needs.roles)));
    out.push((
        "WhatChanged".into(),
        config.what_changed.enabled.to_string(),
    ));
    out.push((
        "AccountErrors".into(),
        config.account_errors.enabled.to_string(),
    ));
    check_parameter_lengths(&out).map_err(err)?;
    Ok(out)
}

/// Refuses a packing that needs more managed policies than the template's slots.
fn check_slot_count(n: usize) -> Result<(), String> {
    if n > SLOTS {
        return Err(format!(
            "the tables need {n} managed policies of at most {MAX_MANAGED_POLICY_CHARS} characters; the template has {SLOTS}: split the configuration into two deployments"
        ));
    }
    Ok(())
}

/// Refuses a parameter value longer than CloudFormation takes.
fn check_parameter_lengths(params: &[(String, String)]) -> Result<(), String> {
    match params.iter().find(|(_, v)| v.len() > MAX_PARAMETER_BYTES) {
        Some((k, v)) => Err(format!(
            "{k} would be {} bytes; CloudFormation allows {MAX_PARAMETER_BYTES} per parameter",
            v.len()
        )),
        None => Ok(()),
    }
}

fn join(set: &BTreeSet<String>) -> String {
    set.iter().cloned().collect::<Vec<_>>().join(",")
}

/// The configuration minified for `CanaryConfig`, or why it cannot be inlined.
fn inline_config(text: &str) -> Result<String, String> {
    let value: serde_json::Value =
        serde_json::from_str(text).map_err(|e| format!("not JSON: {e}"))?;
    let min = value.to_string();
    if min.len() > MAX_INLINE_CONFIG_BYTES {
        return Err(format!(
            "the configuration is {} bytes minified; Lambda allows 4 KB of environment in all, so above {MAX_INLINE_CONFIG_BYTES} bytes put it into SSM (aws ssm put-parameter --name NAME --type String --tier Advanced --value file://canary.json) and pass --ssm-parameter NAME",
            min.len()
        ));
    }
    if min.contains('\'') || min.contains('\\') {
        return Err("the configuration contains ' or \\, which cannot be passed inline to sam deploy: put it into SSM and pass --ssm-parameter NAME".into());
    }
    Ok(min)
}

/// `Key=Value` pairs on one line: empty values as `Key=""`, values with a
/// double quote in single quotes (SAM CLI's parameter syntax).
pub fn render(params: &[(String, String)]) -> String {
    params
        .iter()
        .map(|(k, v)| {
            if v.is_empty() {
                format!("{k}=\"\"")
            } else if v.contains('"') {
                format!("{k}='{v}'")
            } else {
                format!("{k}={v}")
            }
        })
        .collect::<Vec<_>>()
        .join(" ")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn opts() -> Options {
        Options {
            account: AccountId::parse("123456789012").unwrap(),
            region: Region::parse("us-east-1").unwrap(),
            ssm_parameter: None,
            canary_name: None,
        }
    }

    fn get<'a>(p: &'a [(String, String)], k: &str) -> &'a str {
        &p.iter().find(|(key, _)| key == k).unwrap().1
    }

    const TEXT: &str = r#"{
        "name": "prod",
        "targets": [
            {"table": "orders", "regions": ["us-east-1", "eu-west-1"], "probes": ["describe", "read"]},
            {"table": "events", "probes": ["describe", "write"], "key": {"pk": {"N": "42"}}},
            {"table": "payroll", "probes": ["read"], "expect": "deny"},
            {"table": "ledger", "role_arn": "arn:aws:iam::210987654321:role/R"}
        ]}"#;

    #[test]
    fn slots_keys_roles_and_the_inline_configuration() {
        let c = Config::from_json_str(TEXT, "c.json").unwrap();
        let p = parameters(&c, TEXT, &opts(), "c.json").unwrap();
        let arn = |r: &str, t: &str| format!("arn:aws:dynamodb:{r}:123456789012:table/{t}");
        assert_eq!(
            get(&p, "Slot1DescribeTableArns"),
            [
                arn("eu-west-1", "orders"),
                arn("us-east-1", "events"),
                arn("us-east-1", "orders")
            ]
            .join(",")
        );
        assert_eq!(
            get(&p, "Slot1ReadTableArns"),
            [arn("eu-west-1", "orders"), arn("us-east-1", "orders")].join(",")
        );
        assert_eq!(get(&p, "Slot1WriteTableArns"), arn("us-east-1", "events"));
        assert_eq!(get(&p, "Slot2DescribeTableArns"), "");
        assert_eq!(get(&p, "CanaryName"), "prod");
        assert_eq!(get(&p, "MetricsNamespace"), "DynamoDBAuthCanary");
        assert_eq!(
            get(&p, "LeadingKeyValues"),
            "__dynamodb_auth_canary__,-271828182845904523536.0287,X19keW5hbW9kYl9hdXRoX2NhbmFyeV9f,42"
        );
        assert_eq!(
            get(&p, "AssumeRoleArns"),
            "arn:aws:iam::210987654321:role/R"
        );
        assert!(get(&p, "CanaryConfig").starts_with("{\"name\":\"prod\""));
        assert_eq!(get(&p, "ConfigParameterName"), "");
        assert_eq!(p.len(), 4 + 3 * SLOTS + 5);
        assert_eq!(get(&p, "WhatChanged"), "true");
        assert_eq!(get(&p, "AccountErrors"), "true");
        let line = render(&p);
        assert!(line.contains("CanaryConfig='{\"name\":\"prod\""), "{line}");
        assert!(line.contains(" Slot2DescribeTableArns=\"\" "), "{line}");
        assert!(!line.contains('\n'));
        assert!(
            p.iter()
                .filter(|(k, _)| k.starts_with("Slot"))
                .all(|(_, v)| !v.contains("payroll")),
            "must-deny tables get no permission"
        );
    }

    #[test]
    fn forty_tables_in_six_regions_fit_the_slots_and_large_configurations_go_through_ssm() {
        let targets: Vec<String> = (0..40)
            .map(|i| {
                format!("{{\"table\":\"table-number-{i:04}\",\"probes\":[\"describe\",\"read\"]}}")
            })
            .collect();
        let text = format!(
            "{{\"defaults\":{{\"regions\":[\"us-east-1\",\"us-east-2\",\"us-west-2\",\"eu-west-1\",\"eu-central-1\",\"ap-south-1\"]}},\"targets\":[{}]}}",
            targets.join(",")
        );
        let c = Config::from_json_str(&text, "c.json").unwrap();
        let with_ssm = Options {
            ssm_parameter: Some("/canary/prod/config".into()),
            ..opts()
        };
        let p = parameters(&c, &text, &with_ssm, "c.json").unwrap();
        // The slots as the template receives them keep the margin under
        // IAM's limit for the Sids and names it adds.
        let list = |k: String| -> Vec<String> {
            get(&p, &k)
                .split(',')
                .filter(|a| !a.is_empty())
                .map(str::to_string)
                .collect()
        };
        let mut filled = 0;
        for n in 1..=SLOTS {
            let slot = Slot {
                describe: list(format!("Slot{n}DescribeTableArns")),
                read: list(format!("Slot{n}ReadTableArns")),
                write: list(format!("Slot{n}WriteTableArns")),
            };
            let keys: Vec<String> = list("LeadingKeyValues".into());
            assert!(
                slot.policy_chars(&keys) <= MAX_MANAGED_POLICY_CHARS - 400,
                "slot {n}"
            );
            filled += usize::from(slot != Slot::default());
        }
        assert!(filled >= 2, "a configuration this size needs several slots");
        assert_eq!(get(&p, "CanaryConfig"), "");
        assert_eq!(get(&p, "ConfigParameterName"), "/canary/prod/config");
        assert!(p.iter().all(|(_, v)| v.len() <= MAX_PARAMETER_BYTES));
        let scope = Scope {
            account: Some(opts().account),
            partition: "aws".into(),
            region: opts().region,
            target_account: None,
        };
        let needs = crate::deploy::iam::needs(&c, &scope, "c.json").unwrap();
        let slots = pack(&needs, MAX_MANAGED_POLICY_CHARS - 400);
        assert!(slots.len() <= SLOTS, "{} slots", slots.len());
        let total: usize = slots.iter().map(|s| s.describe.len() + s.read.len()).sum();
        assert_eq!(total, 480, "every ARN in exactly one slot");
        for s in &slots {
            let chars = s.policy_chars(&needs.leading_keys);
            assert!(chars <= MAX_MANAGED_POLICY_CHARS - 400);
            assert_eq!(
                chars,
                s.policy_document(&needs.leading_keys).to_string().len(),
                "the computed length is the rendered length"
            );
        }
        let big: Vec<String> = (0..200)
            .map(|i| format!("{{\"table\":\"table-number-{i:04}\",\"probes\":[\"describe\"]}}"))
            .collect();
        let text = format!("{{\"targets\":[{}]}}", big.join(","));
        let c = Config::from_json_str(&text, "c.json").unwrap();
        let e = parameters(&c, &text, &opts(), "c.json")
            .unwrap_err()
            .to_string();
        assert!(e.contains("--ssm-parameter"), "{e}");
    }

    /// The limits at their edges: exactly as many slots as the template
    /// has, parameters of exactly 4,096 bytes, an inline configuration of
    /// exactly 3,072 bytes; one more is refused, naming the limit.
    #[test]
    fn limits_hold_at_their_edges() {
        assert!(check_slot_count(SLOTS).is_ok());
        let e = check_slot_count(SLOTS + 1).unwrap_err();
        assert!(e.contains("need 9 managed policies"), "{e}");
        let param = |n: usize| {
            vec![
                ("A".to_string(), String::new()),
                ("Big".to_string(), "x".repeat(n)),
            ]
        };
        assert!(check_parameter_lengths(&param(MAX_PARAMETER_BYTES)).is_ok());
        let e = check_parameter_lengths(&param(MAX_PARAMETER_BYTES + 1)).unwrap_err();
        assert!(e.starts_with("Big would be 4097 bytes"), "{e}");
        let config = |n: usize| format!("{{\"x\":\"{}\"}}", "a".repeat(n - 8));
        assert_eq!(
            config(MAX_INLINE_CONFIG_BYTES).len(),
            MAX_INLINE_CONFIG_BYTES
        );
        assert!(inline_config(&config(MAX_INLINE_CONFIG_BYTES)).is_ok());
        let e = inline_config(&config(MAX_INLINE_CONFIG_BYTES + 1)).unwrap_err();
        assert!(e.contains("3073 bytes minified"), "{e}");
        for quoted in [r#"{"x":"it's"}"#, r#"{"x":"a\\b"}"#] {
            let e = inline_config(quoted).unwrap_err();
            assert!(e.contains("' or \\"), "{quoted}: {e}");
        }
    }

    /// A slot's policy as the template renders it: DescribeTable without a
    /// condition, GetItem and PutItem/DeleteItem under LeadingKeys, empty
    /// lists left out; and its length counted without rendering it.
    #[test]
    fn a_slots_policy_has_its_statements_and_counted_length() {
        let arn = |t: &str| format!("arn:aws:dynamodb:us-east-1:123456789012:table/{t}");
        let keys = vec!["canary-sentinel".to_string()];
        let slot = Slot {
            describe: vec![arn("aaa"), arn("bbb")],
            read: vec![arn("aaa")],
            write: vec![arn("ccc")],
        };
        let doc = slot.policy_document(&keys);
        let cond = crate::deploy::iam::leading_keys_condition(&keys);
        assert_eq!(
            doc["Statement"],
            serde_json::json!([
                {"Effect": "Allow", "Action": ["dynamodb:DescribeTable"], "Resource": [arn("aaa"), arn("bbb")]},
                {"Effect": "Allow", "Action": ["dynamodb:GetItem"], "Resource": [arn("aaa")], "Condition": cond},
                {"Effect": "Allow", "Action": ["dynamodb:PutItem", "dynamodb:DeleteItem"], "Resource": [arn("ccc")], "Condition": cond},
            ])
        );
        assert_eq!(slot.policy_chars(&keys), doc.to_string().len());
        let reads_only = Slot {
            read: vec![arn("aaa"), arn("ddd")],
            ..Slot::default()
        };
        let doc = reads_only.policy_document(&keys);
        assert_eq!(doc["Statement"].as_array().unwrap().len(), 1);
        assert_eq!(reads_only.policy_chars(&keys), doc.to_string().len());
    }

    #[test]
    fn more_tables_than_slots_and_commas_are_refused() {
        let regions = r#"["us-east-1","us-east-2","us-west-1","us-west-2","eu-west-1","eu-west-2","eu-west-3","eu-north-1","ap-south-1","ap-northeast-1"]"#;
        let targets: Vec<String> = (0..60)
            .map(|i| format!("{{\"table\":\"a-rather-long-table-name-{i:04}\",\"probes\":[\"describe\",\"read\",\"write\"]}}"))
            .collect();
        let text = format!(
            "{{\"defaults\":{{\"regions\":{regions}}},\"targets\":[{}]}}",
            targets.join(",")
        );
        let c = Config::from_json_str(&text, "c.json").unwrap();
        let with_ssm = Options {
            ssm_parameter: Some("/p".into()),
            ..opts()
        };
        let e = parameters(&c, &text, &with_ssm, "c.json")
            .unwrap_err()
            .to_string();
        assert!(e.contains("managed policies"), "{e}");
        let comma = r#"{"targets":[{"table":"abc","probes":["read"],"key":{"pk":{"S":"a,b"}}}]}"#;
        let c = Config::from_json_str(comma, "c.json").unwrap();
        let e = parameters(&c, comma, &opts(), "c.json")
            .unwrap_err()
            .to_string();
        assert!(e.contains("contains a comma"), "{e}");
    }
}
