//! `deploy-params`: the SAM template's parameters, computed from the same
//! configuration file the canary runs with, so that the role's permissions,
//! the alarms' namespace and name and the function's configuration agree by
//! construction. Printed as `Key=Value` pairs for
//! `sam deploy --parameter-overrides "$(dynamodb-auth-canary deploy-params ...)"`.

use crate::config::{CanaryName, Config, ProbeKind, Region};
use crate::error::ConfigError;
use crate::iam::{place, Needs, Scope};
use crate::plan::plan;
use crate::settings::leading_key_values;
use std::collections::BTreeSet;

/// Region slots of the template (one managed policy each).
pub const REGION_SLOTS: usize = 8;
/// CloudFormation's limit on one parameter value.
pub const MAX_PARAMETER_BYTES: usize = 4_096;
/// The largest inline configuration: Lambda allows 4 KB for all variables
/// together, and the template sets five others.
pub const MAX_INLINE_CONFIG_BYTES: usize = 3_072;

/// How the deployment is asked for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Options {
    /// The region the stack deploys to (targets that name no region).
    pub region: Region,
    /// The SSM parameter holding the configuration, instead of inlining it.
    pub ssm_parameter: Option<String>,
    /// The deployment's name (the `Canary` dimension); else the config's
    /// `name`, else the template uses the stack name.
    pub canary_name: Option<CanaryName>,
}

/// The tables of one region slot.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
struct Slot {
    region: String,
    describe: BTreeSet<String>,
    read: BTreeSet<String>,
    write: BTreeSet<String>,
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
    // Tables in the stack's own account: `place` with the account left
    // open (the template builds the ARNs with AWS::AccountId).
    let scope = Scope {
        account: None,
        partition: "aws".into(),
        region: opts.region.clone(),
        target_account: None,
    };
    let mut slots: Vec<Slot> = Vec::new();
    for unit in plan(config, &opts.region) {
        let Some(p) = place(&unit, &scope, origin)? else {
            continue;
        };
        let i = match slots.iter().position(|s| s.region == p.region.as_str()) {
            Some(i) => i,
            None => {
                slots.push(Slot {
                    region: p.region.to_string(),
                    ..Slot::default()
                });
                slots.len() - 1
            }
        };
        let slot = &mut slots[i];
        let kinds = unit.probes.kinds();
        for (kind, set) in [
            (ProbeKind::Describe, &mut slot.describe),
            (ProbeKind::Read, &mut slot.read),
            (ProbeKind::Write, &mut slot.write),
        ] {
            if kinds.contains(&kind) {
                set.insert(p.name.clone());
            }
        }
    }
    if slots.len() > REGION_SLOTS {
        return Err(err(format!(
            "the configuration probes {} regions; the template has {REGION_SLOTS} region slots: split it into two deployments",
            slots.len()
        )));
    }
    let needs: Needs = crate::iam::needs(config, &scope, origin)?;
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
    for i in 0..REGION_SLOTS {
        let slot = slots.get(i).cloned().unwrap_or_default();
        let n = i + 1;
        let join = |s: &BTreeSet<String>| s.iter().cloned().collect::<Vec<_>>().join(",");
        out.push((format!("Region{n}"), slot.region.clone()));
        out.push((format!("Region{n}DescribeTables"), join(&slot.describe)));
        out.push((format!("Region{n}ReadTables"), join(&slot.read)));
        out.push((format!("Region{n}WriteTables"), join(&slot.write)));
    }
    let keys = leading_key_values(config);
    if let Some(k) = keys.iter().find(|k| k.contains(',')) {
        return Err(err(format!(
            "the key value \"{k}\" contains a comma, which a CommaDelimitedList parameter cannot carry: choose another key"
        )));
    }
    out.push(("LeadingKeyValues".into(), keys.join(",")));
    out.push((
        "KmsKeyArns".into(),
        needs.kms.into_iter().collect::<Vec<_>>().join(","),
    ));
    out.push((
        "AssumeRoleArns".into(),
        needs.roles.into_iter().collect::<Vec<_>>().join(","),
    ));
    for (k, v) in &out {
        if v.len() > MAX_PARAMETER_BYTES {
            return Err(err(format!(
                "{k} would be {} bytes; CloudFormation allows {MAX_PARAMETER_BYTES} per parameter",
                v.len()
            )));
        }
    }
    Ok(out)
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
        assert_eq!(get(&p, "Region1"), "us-east-1");
        assert_eq!(get(&p, "Region1DescribeTables"), "events,orders");
        assert_eq!(get(&p, "Region1ReadTables"), "orders");
        assert_eq!(get(&p, "Region1WriteTables"), "events");
        assert_eq!(get(&p, "Region2"), "eu-west-1");
        assert_eq!(get(&p, "Region2WriteTables"), "");
        assert_eq!(get(&p, "Region3"), "");
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
        assert_eq!(p.len(), 4 + 4 * REGION_SLOTS + 3);
        let line = render(&p);
        assert!(line.contains("CanaryConfig='{\"name\":\"prod\""), "{line}");
        assert!(line.contains(" Region3=\"\" "), "{line}");
        assert!(!line.contains('\n'));
        assert!(
            p.iter()
                .filter(|(k, _)| k.starts_with("Region"))
                .all(|(_, v)| !v.contains("payroll")),
            "must-deny tables get no permission"
        );
    }

    #[test]
    fn large_configurations_go_through_ssm() {
        let targets: Vec<String> = (0..200)
            .map(|i| format!("{{\"table\":\"table-number-{i:04}\",\"probes\":[\"describe\"]}}"))
            .collect();
        let text = format!("{{\"targets\":[{}]}}", targets.join(","));
        let c = Config::from_json_str(&text, "c.json").unwrap();
        let e = parameters(&c, &text, &opts(), "c.json")
            .unwrap_err()
            .to_string();
        assert!(e.contains("--ssm-parameter"), "{e}");
        let with_ssm = Options {
            ssm_parameter: Some("/canary/prod/config".into()),
            ..opts()
        };
        let p = parameters(&c, &text, &with_ssm, "c.json").unwrap();
        assert_eq!(get(&p, "CanaryConfig"), "");
        assert_eq!(get(&p, "ConfigParameterName"), "/canary/prod/config");
        assert!(p.iter().all(|(_, v)| v.len() <= MAX_PARAMETER_BYTES));
    }

    #[test]
    fn more_regions_than_slots_and_commas_are_refused() {
        let nine = r#"{"targets":[{"table":"abc","regions":["us-east-1","us-east-2","us-west-1","us-west-2","eu-west-1","eu-west-2","eu-west-3","eu-north-1","ap-south-1"]}]}"#;
        let c = Config::from_json_str(nine, "c.json").unwrap();
        let e = parameters(&c, nine, &opts(), "c.json")
            .unwrap_err()
            .to_string();
        assert!(e.contains("9 regions"), "{e}");
        let comma = r#"{"targets":[{"table":"abc","probes":["read"],"key":{"pk":{"S":"a,b"}}}]}"#;
        let c = Config::from_json_str(comma, "c.json").unwrap();
        let e = parameters(&c, comma, &opts(), "c.json")
            .unwrap_err()
            .to_string();
        assert!(e.contains("contains a comma"), "{e}");
    }
}
