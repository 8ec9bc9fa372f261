//! Which changes can explain which denial: from a denied probe, the things
//! it depends on (its principal, the policy AWS named, the table, the
//! table's key, a target role's trust), where each one's changes are
//! recorded, and which CloudTrail events change it. Pure: no AWS call.

use super::record::Record;
use crate::classify::explain::Layer;
use crate::classify::Class;
use crate::report::ProbeResult;

/// Something a probe depends on, whose change CloudTrail records.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Subject {
    /// An IAM role's policies and boundary.
    Role(String),
    /// An IAM user's policies and boundary.
    User(String),
    /// A managed policy's versions (named by AWS in the denial).
    Policy(String),
    /// A role's trust policy (AssumeRole refused).
    Trust(String),
    /// A table's resource policy, encryption, existence.
    Table(String),
    /// A KMS key's policy, state and grants.
    Key(String),
}

/// IAM events that change a role's permissions.
pub const ROLE_EVENTS: &[&str] = &[
    "PutRolePolicy",
    "DeleteRolePolicy",
    "AttachRolePolicy",
    "DetachRolePolicy",
    "PutRolePermissionsBoundary",
    "DeleteRolePermissionsBoundary",
];
/// IAM events that change a user's permissions.
pub const USER_EVENTS: &[&str] = &[
    "PutUserPolicy",
    "DeleteUserPolicy",
    "AttachUserPolicy",
    "DetachUserPolicy",
    "PutUserPermissionsBoundary",
    "DeleteUserPermissionsBoundary",
];
/// IAM events that change a managed policy.
pub const POLICY_EVENTS: &[&str] = &[
    "CreatePolicyVersion",
    "SetDefaultPolicyVersion",
    "DeletePolicyVersion",
];
/// DynamoDB events that change a table's access.
pub const TABLE_EVENTS: &[&str] = &[
    "PutResourcePolicy",
    "DeleteResourcePolicy",
    "UpdateTable",
    "DeleteTable",
];
/// KMS events that change a key's use.
pub const KEY_EVENTS: &[&str] = &[
    "PutKeyPolicy",
    "DisableKey",
    "ScheduleKeyDeletion",
    "RevokeGrant",
    "RetireGrant",
];

impl Subject {
    /// The `ResourceName` that finds its events.
    pub fn resource_name(&self) -> &str {
        match self {
            Subject::Role(n) | Subject::User(n) | Subject::Trust(n) => n,
            Subject::Policy(arn) | Subject::Key(arn) => arn,
            Subject::Table(n) => n,
        }
    }

    /// Whether `r` changed this subject.
    pub fn changed_by(&self, r: &Record) -> bool {
        if r.read_only || r.error_code.is_some() {
            return false;
        }
        let p = |k: &str| r.parameter(k);
        let named = |events: &[&str]| events.contains(&r.event_name.as_str());
        match self {
            Subject::Role(n) => named(ROLE_EVENTS) && p("roleName").as_deref() == Some(n),
            Subject::User(n) => named(USER_EVENTS) && p("userName").as_deref() == Some(n),
            Subject::Trust(n) => {
                r.event_name == "UpdateAssumeRolePolicy" && p("roleName").as_deref() == Some(n)
            }
            Subject::Policy(arn) => named(POLICY_EVENTS) && p("policyArn").as_deref() == Some(arn),
            Subject::Table(n) => {
                named(TABLE_EVENTS)
                    && [p("tableName"), p("resourceArn")]
                        .into_iter()
                        .flatten()
                        .any(|v| &v == n || v.ends_with(&format!(":table/{n}")))
            }
            Subject::Key(arn) => {
                let id = arn.rsplit('/').next().unwrap_or(arn);
                named(KEY_EVENTS)
                    && p("keyId")
                        .is_some_and(|k| &k == arn || k == id || k.ends_with(&format!("/{id}")))
            }
        }
    }

    /// Why an event matched, for people.
    pub fn describe(&self, own: bool) -> String {
        let own = if own { " (the canary's own)" } else { "" };
        match self {
            Subject::Role(n) => format!("the permissions of role {n}{own}"),
            Subject::User(n) => format!("the permissions of user {n}{own}"),
            Subject::Policy(a) => format!("policy {a}, named in the denial"),
            Subject::Trust(n) => format!("the trust policy of role {n}"),
            Subject::Table(n) => format!("table {n}"),
            Subject::Key(a) => format!("KMS key {a}"),
        }
    }
}

/// A principal ARN as what can change it: `arn:aws:sts::1:assumed-role/R/s`
/// and `arn:aws:iam::1:role/path/R` are role R, `arn:aws:iam::1:user/U`
/// user U; with the account and the partition.
pub fn principal(arn: &str) -> Option<(Subject, String, String)> {
    let parts: Vec<&str> = arn.splitn(6, ':').collect();
    let [_, partition, service, _, account, resource] = parts[..] else {
        return None;
    };
    let subject = match (service, resource.split_once('/')) {
        ("sts", Some(("assumed-role", rest))) => Subject::Role(rest.split('/').next()?.to_string()),
        ("iam", Some(("role", rest))) => Subject::Role(rest.rsplit('/').next()?.to_string()),
        ("iam", Some(("user", rest))) => Subject::User(rest.rsplit('/').next()?.to_string()),
        _ => return None,
    };
    Some((subject, account.to_string(), partition.to_string()))
}

/// Where IAM, a global service, records its events: one region per partition.
pub fn iam_region(partition: &str) -> &'static str {
    match partition {
        "aws-cn" => "cn-north-1",
        "aws-us-gov" => "us-gov-west-1",
        _ => "us-east-1",
    }
}

/// The first KMS key ARN in a message.
fn key_arn(message: &str) -> Option<String> {
    let start = message.find("arn:aws")?;
    let arn: String = message[start..]
        .chars()
        .take_while(|c| c.is_ascii_alphanumeric() || ":/-_".contains(*c))
        .collect();
    (arn.contains(":kms:") && arn.contains(":key/")).then_some(arn)
}

/// What to look for behind one denied probe.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Needs {
    /// (region, subject), the denying layer first.
    pub subjects: Vec<(String, Subject)>,
    /// Where to look instead, when the change cannot be seen from here.
    pub note: Option<String>,
}

/// Whether a probe's result is a denial worth a look-up.
pub fn is_denial(p: &ProbeResult) -> bool {
    matches!(
        p.class,
        Class::AccessDenied
            | Class::UnexpectedAccess
            | Class::KmsAccessDenied
            | Class::KmsInaccessible
            | Class::AssumeRoleDenied
    )
}

/// What to look for behind `p`, run by the canary `own` (its ARN).
pub fn needs(p: &ProbeResult, own: Option<&str>) -> Needs {
    let mut out = Needs::default();
    if !is_denial(p) {
        return out;
    }
    let caller = p.principal.as_deref().or(own);
    let own_account = own.and_then(principal).map(|(_, a, _)| a);
    let who = caller.and_then(principal);
    let region = p.id.region.to_string();
    let principal_subjects = |out: &mut Needs| match &who {
        Some((s, account, partition)) if Some(account) == own_account.as_ref() => {
            out.subjects
                .push((iam_region(partition).to_string(), s.clone()));
        }
        Some((_, account, partition)) => {
            out.note = Some(format!(
                "the principal is in account {account}: its IAM changes are in that account's event history ({})",
                iam_region(partition)
            ));
        }
        None => {
            out.note =
                Some("the principal is not a role or a user: no IAM change to look for".into());
        }
    };
    let partition = who
        .as_ref()
        .map(|(_, _, p)| p.clone())
        .unwrap_or_else(|| "aws".into());
    let table = Subject::Table(table_name(p));
    match p.class {
        Class::AccessDenied => {
            let layer = p
                .denied_by
                .as_ref()
                .map(|d| d.layer)
                .unwrap_or(Layer::Unknown);
            match layer {
                Layer::Scp | Layer::Rcp => {
                    let kind = if layer == Layer::Scp {
                        "service control"
                    } else {
                        "resource control"
                    };
                    out.note = Some(format!(
                        "a {kind} policy denied: its changes (UpdatePolicy, AttachPolicy, DetachPolicy of organizations.amazonaws.com) are recorded only in the organization's management account, in {}; look there",
                        iam_region(&partition)
                    ));
                }
                Layer::VpcEndpointPolicy => {
                    out.note = Some(format!(
                        "a VPC endpoint policy denied: its changes (ModifyVpcEndpoint of ec2.amazonaws.com) are in {region}'s event history, under the endpoint's id"
                    ));
                }
                Layer::SessionPolicy => {
                    out.note = Some("a session policy denied: it is passed by whoever created the session (AssumeRole's Policy parameter), not changed in IAM".into());
                }
                Layer::ResourcePolicy => out.subjects.push((region.clone(), table)),
                _ => {
                    principal_subjects(&mut out);
                    if let Some(arn) = p.denied_by.as_ref().and_then(|d| d.policy_arn.clone()) {
                        if arn.contains(":policy/") {
                            out.subjects
                                .push((iam_region(&partition).to_string(), Subject::Policy(arn)));
                        }
                    }
                    if layer == Layer::Unknown {
                        out.subjects.push((region.clone(), table));
                    }
                }
            }
        }
        Class::UnexpectedAccess => {
            principal_subjects(&mut out);
            out.subjects.push((region.clone(), table));
        }
        Class::KmsAccessDenied | Class::KmsInaccessible => {
            match p.message.as_deref().and_then(key_arn) {
                Some(arn) => {
                    let key_region = arn.split(':').nth(3).unwrap_or(&region).to_string();
                    out.subjects.push((key_region, Subject::Key(arn)));
                }
                None => out.note = Some("the error names no key: the table's KMS key changes are in its region's event history".into()),
            }
            out.subjects.push((region.clone(), table));
            if p.class == Class::KmsAccessDenied {
                principal_subjects(&mut out);
            }
        }
        Class::AssumeRoleDenied => {
            // The role asked for is in the message or the target; the
            // canary's own permission to assume it is one side, the
            // role's trust policy the other.
            if let Some(own_who) = own.and_then(principal) {
                out.subjects
                    .push((iam_region(&own_who.2).to_string(), own_who.0.clone()));
            }
            if let Some(role) = p.message.as_deref().and_then(role_arn_in) {
                match principal(&role) {
                    Some((Subject::Role(name), account, partition))
                        if Some(&account) == own_account.as_ref() =>
                    {
                        out.subjects
                            .push((iam_region(&partition).to_string(), Subject::Trust(name)));
                    }
                    Some((_, account, partition)) => {
                        out.note = Some(format!(
                            "the role is in account {account}: a change to its trust policy (UpdateAssumeRolePolicy) is in that account's event history ({})",
                            iam_region(&partition)
                        ));
                    }
                    None => {}
                }
            }
        }
        _ => {}
    }
    out
}

fn table_name(p: &ProbeResult) -> String {
    let t = p.id.table.as_str();
    t.rsplit_once(":table/").map_or(t, |(_, n)| n).to_string()
}

/// The first role ARN in a message.
fn role_arn_in(message: &str) -> Option<String> {
    let start = message.find("arn:aws")?;
    let arn: String = message[start..]
        .chars()
        .take_while(|c| c.is_ascii_alphanumeric() || ":/-_+=,.@".contains(*c))
        .collect();
    let arn = arn.trim_end_matches(['.', ',']).to_string();
    arn.contains(":role/").then_some(arn)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::classify::explain::DeniedBy;
    use crate::config::{Expectation, ProbeKind, Region, TableRef};
    use crate::report::{Outcome, ProbeId};

    const OWN: &str = "arn:aws:sts::123456789012:assumed-role/canary-role/run-1";

    fn denied(class: Class, layer: Option<Layer>, message: &str) -> ProbeResult {
        let id = ProbeId {
            table: TableRef::parse("orders").unwrap(),
            region: Region::parse("eu-west-1").unwrap(),
            probe: ProbeKind::Read,
            expect: Expectation::Allow,
        };
        let mut p = ProbeResult::ok(id, 1.0);
        p.outcome = Outcome::Fail;
        p.class = class;
        p.message = Some(message.into());
        p.denied_by = layer.map(|layer| {
            Box::new(DeniedBy {
                layer,
                explicit: false,
                policy_arn: Some("arn:aws:iam::123456789012:policy/orders-read".into()),
            })
        });
        p
    }

    #[test]
    fn principals_are_roles_and_users_with_their_account() {
        assert_eq!(
            principal(OWN),
            Some((
                Subject::Role("canary-role".into()),
                "123456789012".into(),
                "aws".into()
            ))
        );
        assert_eq!(
            principal("arn:aws-cn:iam::1:role/path/to/r").map(|p| (p.0, p.2)),
            Some((Subject::Role("r".into()), "aws-cn".into()))
        );
        assert_eq!(
            principal("arn:aws:iam::1:user/ops/alice").map(|p| p.0),
            Some(Subject::User("alice".into()))
        );
        assert_eq!(principal("arn:aws:iam::1:root"), None);
        assert_eq!(principal("not an arn"), None);
        assert_eq!(iam_region("aws-us-gov"), "us-gov-west-1");
    }

    #[test]
    fn an_identity_policy_denial_looks_at_the_role_and_the_named_policy_in_us_east_1() {
        let n = needs(
            &denied(Class::AccessDenied, Some(Layer::IdentityPolicy), "x"),
            Some(OWN),
        );
        assert_eq!(
            n.subjects,
            vec![
                ("us-east-1".to_string(), Subject::Role("canary-role".into())),
                (
                    "us-east-1".to_string(),
                    Subject::Policy("arn:aws:iam::123456789012:policy/orders-read".into())
                ),
            ]
        );
        assert_eq!(n.note, None);
    }

    #[test]
    fn a_resource_policy_denial_looks_at_the_table_in_its_region() {
        let n = needs(
            &denied(Class::AccessDenied, Some(Layer::ResourcePolicy), "x"),
            Some(OWN),
        );
        assert_eq!(
            n.subjects,
            vec![("eu-west-1".to_string(), Subject::Table("orders".into()))]
        );
    }

    #[test]
    fn an_scp_denial_says_where_its_change_is_logged_and_looks_at_nothing() {
        let n = needs(
            &denied(Class::AccessDenied, Some(Layer::Scp), "x"),
            Some(OWN),
        );
        assert!(n.subjects.is_empty());
        let note = n.note.unwrap();
        assert!(
            note.contains("management account") && note.contains("us-east-1"),
            "{note}"
        );
        let n = needs(
            &denied(Class::AccessDenied, Some(Layer::Rcp), "x"),
            Some(OWN),
        );
        assert!(n.note.unwrap().contains("resource control policy"));
    }

    #[test]
    fn kms_denials_look_at_the_key_named_and_the_table() {
        let msg = "KMS key access denied error: ... arn:aws:kms:eu-west-1:123456789012:key/1234abcd-12ab. more";
        let n = needs(&denied(Class::KmsInaccessible, None, msg), Some(OWN));
        assert_eq!(
            n.subjects,
            vec![
                (
                    "eu-west-1".to_string(),
                    Subject::Key("arn:aws:kms:eu-west-1:123456789012:key/1234abcd-12ab".into())
                ),
                ("eu-west-1".to_string(), Subject::Table("orders".into())),
            ]
        );
        let n = needs(
            &denied(Class::KmsAccessDenied, None, "no key named"),
            Some(OWN),
        );
        assert!(n.note.is_some());
        assert!(n
            .subjects
            .contains(&("us-east-1".to_string(), Subject::Role("canary-role".into()))));
    }

    #[test]
    fn assume_role_looks_at_the_trust_of_a_role_in_this_account_only() {
        let same = "not authorized to perform: sts:AssumeRole on resource: arn:aws:iam::123456789012:role/reader.";
        let n = needs(&denied(Class::AssumeRoleDenied, None, same), Some(OWN));
        assert!(n
            .subjects
            .contains(&("us-east-1".to_string(), Subject::Trust("reader".into()))));
        let other = "on resource: arn:aws:iam::999999999999:role/reader";
        let n = needs(&denied(Class::AssumeRoleDenied, None, other), Some(OWN));
        assert!(n.note.unwrap().contains("account 999999999999"));
    }

    #[test]
    fn a_probe_through_another_accounts_role_says_where_to_look() {
        let mut p = denied(Class::AccessDenied, Some(Layer::IdentityPolicy), "x");
        p.principal = Some("arn:aws:sts::999999999999:assumed-role/target/s".into());
        let n = needs(&p, Some(OWN));
        assert!(n.note.unwrap().contains("account 999999999999"));
    }

    #[test]
    fn healthy_and_non_denial_probes_need_nothing() {
        let mut p = denied(Class::Throttled, None, "x");
        assert_eq!(needs(&p, Some(OWN)), Needs::default());
        p.class = Class::Ok;
        assert!(!is_denial(&p));
    }
}
