//! Cross-account targets through AssumeRole, and credential expiry, against
//! moto with IAM enforced.

use crate::support::{check, moto, table_arn, unique, Creds};
use serde_json::json;

fn role(trust: &str, actions: &[&str], resources: &[String]) -> String {
    let name = unique("role");
    let out = moto().apply(json!({"roles": [{"name": name, "trust": [trust],
        "policy": {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": actions, "Resource": resources}]}}]}));
    out["roles"][&name]["arn"].as_str().unwrap().to_string()
}

#[test]
fn target_role_is_assumed_and_probes_run_as_that_role() {
    let m = moto();
    let t = m.table(&["us-east-1"], false);
    let (user_arn, user) = m.user(&["sts:AssumeRole"], &["*".to_string()]);
    let role_arn = role(
        &user_arn,
        &["dynamodb:DescribeTable"],
        &[table_arn("us-east-1", &t)],
    );
    let c = json!({"targets": [
        {"table": t, "role_arn": role_arn, "session_name": "cross-account"},
        {"table": t}
    ], "defaults": {"timeout_ms": 10000}, "metrics": {"sink": "none"}});
    let r = check(&c, &user, &["--endpoint-url", &m.url], &[]);
    let j = r.json();
    let p = &j["probes"][0];
    assert_eq!(p["outcome"], "ok", "{}", r.stdout);
    let principal = p["principal"].as_str().unwrap();
    let role_name = role_arn.rsplit('/').next().unwrap();
    assert!(
        principal.contains(&format!("assumed-role/{role_name}/cross-account")),
        "{principal}"
    );
    // The same table without the role: the user itself may not describe it.
    assert_eq!(j["probes"][1]["class"], "access_denied");
    assert!(j["probes"][1].get("principal").is_none());
}

#[test]
fn role_the_caller_may_not_assume_is_assume_role_denied_and_probes_not_run() {
    let m = moto();
    let t = m.table(&["us-east-1"], false);
    let (_, user) = m.user(&["sts:AssumeRole"], &["*".to_string()]);
    let role_arn = role(
        "arn:aws:iam::123456789012:user/somebody-else",
        &["dynamodb:DescribeTable"],
        &["*".to_string()],
    );
    let c = json!({"targets": [{"table": t, "role_arn": role_arn, "probes": ["describe", "read"], "regions": ["us-east-1", "eu-west-1"]}],
                   "metrics": {"sink": "none"}});
    let r = check(&c, &user, &["--endpoint-url", &m.url], &[]);
    assert_eq!(r.code, 1);
    let j = r.json();
    let probes = j["probes"].as_array().unwrap();
    assert_eq!(probes.len(), 4, "every planned probe is reported");
    for p in probes {
        assert_eq!(p["outcome"], "not_run", "{p}");
        assert_eq!(p["class"], "assume_role_denied");
        assert!(p["message"].as_str().unwrap().contains(&role_arn));
        assert!(p["hint"].as_str().unwrap().contains("trust policy"));
    }
    assert_eq!(j["summary"]["not_run"], 4);
    assert_eq!(j["healthy"], false);
}

#[test]
fn assumed_role_credentials_report_expiry_and_warn_below_threshold() {
    let m = moto();
    let (user_arn, user) = m.user(&["sts:AssumeRole"], &["*".to_string()]);
    let role_arn = role(&user_arn, &["dynamodb:DescribeTable"], &["*".to_string()]);
    let t = m.table(&["us-east-1"], false);
    let creds: Creds = m.assume(&user, &role_arn, "expiring");
    // Temporary keys from the environment carry their expiry in
    // AWS_CREDENTIAL_EXPIRATION (as `aws configure export-credentials` sets it).
    let expiry = (std::time::SystemTime::now() + std::time::Duration::from_secs(1800))
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs();
    let stamp = aws_smithy_types::DateTime::from_secs(expiry as i64)
        .fmt(aws_smithy_types::date_time::Format::DateTime)
        .unwrap();
    let env = vec![("AWS_CREDENTIAL_EXPIRATION".to_string(), stamp)];
    let mut c = json!({"targets": [{"table": t}], "metrics": {"sink": "emf"}});
    let r = check(&c, &creds, &["--endpoint-url", &m.url], &env);
    let j = r.json();
    let secs = j["identity"]["credentials_expire_in_seconds"]
        .as_i64()
        .unwrap();
    assert!((1700..=1800).contains(&secs), "{secs}");
    assert!(j.get("warnings").is_none(), "{}", r.stdout);
    // Far from expiry, the gauge is not sent (a healthy month pays for five
    // series); within the warning it is.
    assert!(
        !r.stderr.contains("\"CredentialSecondsToExpiry\""),
        "{}",
        r.stderr
    );
    c["expiry_warning_seconds"] = json!(3600);
    let r = check(&c, &creds, &["--endpoint-url", &m.url], &env);
    let j = r.json();
    assert_eq!(
        j["warnings"][0]["class"], "credentials_expiring",
        "{}",
        r.stdout
    );
    assert_eq!(j["healthy"], true, "a warning is not unhealthy");
    assert_eq!(r.code, 0);
    assert!(
        r.stderr.contains("\"CredentialSecondsToExpiry\""),
        "{}",
        r.stderr
    );
}
