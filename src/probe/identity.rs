//! Who the canary is: STS GetCallerIdentity, the caller ARN parsed into
//! principal type, role and session, and the check against `expect`.

use crate::aws::call::bounded;
use crate::classify::Class;
use crate::clock::elapsed_ms;
use crate::config::ExpectedIdentity;
use crate::report::{IdentityReport, Outcome};
use std::time::{Duration, Instant};

/// The parts of a caller ARN.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Principal {
    /// `user`, `assumed-role`, `federated-user`, `root` or `unknown`.
    pub principal_type: String,
    /// Account id from the ARN.
    pub account: String,
    /// Role name, for assumed roles.
    pub role: Option<String>,
    /// Session name, for assumed roles.
    pub session: Option<String>,
    /// User name, for IAM users and federated users.
    pub user: Option<String>,
}

/// Parses a caller ARN such as `arn:aws:sts::123456789012:assumed-role/Role/session`.
pub fn parse_arn(arn: &str) -> Option<Principal> {
    let parts: Vec<&str> = arn.splitn(6, ':').collect();
    if parts.len() != 6 || parts[0] != "arn" || !parts[1].starts_with("aws") {
        return None;
    }
    let (service, account, resource) = (parts[2], parts[4], parts[5]);
    let mut p = Principal {
        account: account.to_string(),
        ..Principal::default()
    };
    match (service, resource) {
        ("iam", "root") => p.principal_type = "root".into(),
        ("iam", r) if r.starts_with("user/") => {
            p.principal_type = "user".into();
            // Users may have paths: user/path/to/name.
            p.user = r.rsplit('/').next().map(str::to_string);
        }
        ("sts", r) if r.starts_with("assumed-role/") => {
            let mut it = r["assumed-role/".len()..].splitn(2, '/');
            p.principal_type = "assumed-role".into();
            p.role = it.next().filter(|s| !s.is_empty()).map(str::to_string);
            p.session = it.next().filter(|s| !s.is_empty()).map(str::to_string);
            p.role.as_ref()?;
        }
        ("sts", r) if r.starts_with("federated-user/") => {
            p.principal_type = "federated-user".into();
            p.user = Some(r["federated-user/".len()..].to_string());
        }
        _ => p.principal_type = "unknown".into(),
    }
    Some(p)
}

/// Calls GetCallerIdentity and builds the identity report, checking `expect`.
pub async fn check_identity(
    sts: &aws_sdk_sts::Client,
    expect: Option<&ExpectedIdentity>,
    timeout: Duration,
) -> IdentityReport {
    let started = Instant::now();
    let call = sts
        .get_caller_identity()
        .customize()
        .config_override(crate::aws::call::op_config!(aws_sdk_sts, timeout))
        .send();
    let result = bounded("GetCallerIdentity", timeout, call).await;
    let latency_ms = elapsed_ms(started);
    match result {
        Err(f) => IdentityReport::failed(f, latency_ms),
        Ok(out) => {
            let arn = out.arn().unwrap_or_default().to_string();
            let account = out.account().unwrap_or_default().to_string();
            let principal = parse_arn(&arn).unwrap_or(Principal {
                principal_type: "unknown".into(),
                account: account.clone(),
                ..Principal::default()
            });
            let mut report = IdentityReport {
                outcome: Outcome::Ok,
                class: Class::Ok,
                account: Some(account),
                arn: Some(arn),
                user_id: out.user_id().map(str::to_string),
                principal_type: Some(principal.principal_type.clone()),
                role: principal.role.clone(),
                session: principal.session.clone(),
                user: principal.user.clone(),
                latency_ms,
                ..IdentityReport::default()
            };
            if let Some(exp) = expect {
                if let Some(mismatch) = mismatch(exp, &report) {
                    report.outcome = Outcome::Fail;
                    report.class = Class::IdentityMismatch;
                    report.message = Some(mismatch);
                    report.hint = Some(Class::IdentityMismatch.hint().to_string());
                }
            }
            report
        }
    }
}

/// Describes how the identity differs from what was expected, if it does.
pub fn mismatch(exp: &ExpectedIdentity, id: &IdentityReport) -> Option<String> {
    let mut diffs = Vec::new();
    let mut check = |what: &str, want: &Option<String>, got: &Option<String>| {
        if let Some(w) = want {
            if got.as_deref() != Some(w.as_str()) {
                diffs.push(format!(
                    "expected {what} {w}, found {}",
                    got.as_deref().unwrap_or("none")
                ));
            }
        }
    };
    let account = exp.account.as_ref().map(|a| a.as_str().to_string());
    check("account", &account, &id.account);
    check("role", &exp.role, &id.role);
    check("user", &exp.user, &id.user);
    check("arn", &exp.arn, &id.arn);
    (!diffs.is_empty()).then(|| diffs.join("; "))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn assumed_role_arn_gives_role_and_session() {
        let p =
            parse_arn("arn:aws:sts::123456789012:assumed-role/CanaryRole/canary-session").unwrap();
        assert_eq!(p.principal_type, "assumed-role");
        assert_eq!(p.account, "123456789012");
        assert_eq!(p.role.as_deref(), Some("CanaryRole"));
        assert_eq!(p.session.as_deref(), Some("canary-session"));
    }

    #[test]
    fn user_root_and_federated_arns() {
        let p = parse_arn("arn:aws:iam::123456789012:user/ops/alice").unwrap();
        assert_eq!(p.principal_type, "user");
        assert_eq!(p.user.as_deref(), Some("alice"));
        let p = parse_arn("arn:aws:iam::123456789012:root").unwrap();
        assert_eq!(p.principal_type, "root");
        let p = parse_arn("arn:aws-cn:sts::123456789012:federated-user/bob").unwrap();
        assert_eq!(p.principal_type, "federated-user");
        assert_eq!(p.user.as_deref(), Some("bob"));
    }

    #[test]
    fn malformed_arns_are_rejected() {
        assert!(parse_arn("not-an-arn").is_none());
        assert!(parse_arn("arn:aws:sts::1:assumed-role/").is_none());
        assert_eq!(
            parse_arn("arn:aws:s3:::bucket").unwrap().principal_type,
            "unknown"
        );
    }

    #[test]
    fn mismatch_names_expected_and_found() {
        let exp = ExpectedIdentity {
            account: Some(crate::config::AccountId::parse("111111111111").unwrap()),
            role: Some("CanaryRole".into()),
            ..Default::default()
        };
        let id = IdentityReport {
            account: Some("222222222222".into()),
            role: Some("OtherRole".into()),
            ..Default::default()
        };
        let m = mismatch(&exp, &id).unwrap();
        assert!(
            m.contains("expected account 111111111111, found 222222222222"),
            "{m}"
        );
        assert!(
            m.contains("expected role CanaryRole, found OtherRole"),
            "{m}"
        );
        let ok = IdentityReport {
            account: Some("111111111111".into()),
            role: Some("CanaryRole".into()),
            ..Default::default()
        };
        assert!(mismatch(&exp, &ok).is_none());
    }
}
