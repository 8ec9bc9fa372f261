//! The identity report against moto with IAM enforced.

use crate::support::{canary, check, moto, Creds};
use serde_json::json;

fn config() -> serde_json::Value {
    json!({"targets": [{"table": "no-such-table-anywhere", "probes": ["describe"], "expect": "deny"}], "metrics": {"sink": "none"}})
}

#[test]
fn iam_user_identity_reports_user_and_account() {
    let m = moto();
    let (arn, creds) = m.user(&[], &[]);
    let r = check(&config(), &creds, &["--endpoint-url", &m.url], &[]);
    let j = r.json();
    assert_eq!(j["identity"]["outcome"], "ok", "{}", r.stdout);
    assert_eq!(j["identity"]["class"], "ok");
    assert_eq!(j["identity"]["arn"], arn.as_str());
    assert_eq!(j["identity"]["account"], "123456789012");
    assert_eq!(j["identity"]["principal_type"], "user");
    assert!(j["identity"]["latency_ms"].as_f64().unwrap() > 0.0);
}

#[test]
fn assumed_role_identity_reports_role_and_session() {
    let m = moto();
    let (user_arn, user) = m.user(&["sts:AssumeRole"], &["*".to_string()]);
    let role = crate::support::unique("role");
    let out = m.apply(json!({"roles": [{"name": role, "trust": [user_arn]}]}));
    let role_arn = out["roles"][&role]["arn"].as_str().unwrap().to_string();
    let creds = m.assume(&user, &role_arn, "canary-session");
    let r = check(&config(), &creds, &["--endpoint-url", &m.url], &[]);
    let j = r.json();
    assert_eq!(
        j["identity"]["principal_type"], "assumed-role",
        "{}",
        r.stdout
    );
    assert_eq!(j["identity"]["role"], role.as_str());
    assert_eq!(j["identity"]["session"], "canary-session");
}

#[test]
fn unknown_access_key_is_auth_invalid_token() {
    let m = moto();
    let creds = Creds {
        key: "AKIAUNKNOWNEXAMPLE00".into(),
        secret: "whatever".into(),
        token: None,
    };
    let r = check(&config(), &creds, &["--endpoint-url", &m.url], &[]);
    assert_eq!(r.code, 1, "{r:?}");
    let j = r.json();
    assert_eq!(j["healthy"], false);
    assert_eq!(j["identity"]["outcome"], "fail");
    assert_eq!(j["identity"]["class"], "auth_invalid_token");
    assert_eq!(j["identity"]["code"], "InvalidClientTokenId");
    assert!(j["identity"]["hint"]
        .as_str()
        .unwrap()
        .contains("access key"));
    // The identity check and the one probe both fail the same way.
    assert_eq!(j["summary"]["by_class"]["auth_invalid_token"], 2);
    assert_eq!(j["probes"][0]["class"], "auth_invalid_token");
}

#[test]
fn wrong_secret_is_auth_bad_signature() {
    let m = moto();
    let (_, mut creds) = m.user(&[], &[]);
    creds.secret = format!("{}x", &creds.secret[..creds.secret.len() - 1]);
    let r = check(&config(), &creds, &["--endpoint-url", &m.url], &[]);
    let j = r.json();
    assert_eq!(j["identity"]["class"], "auth_bad_signature", "{}", r.stdout);
    assert_eq!(j["identity"]["code"], "SignatureDoesNotMatch");
}

#[test]
fn no_credentials_anywhere_names_the_providers_tried() {
    let m = moto();
    let r = crate::support::canary(
        &[
            "check",
            "--table",
            "orders",
            "--endpoint-url",
            &m.url,
            "--output",
            "json",
            "--sink",
            "none",
        ],
        &[],
    );
    assert_eq!(r.code, 1, "{r:?}");
    let j = r.json();
    assert_eq!(
        j["identity"]["class"], "credentials_missing",
        "{}",
        r.stdout
    );
    let tried: Vec<&str> = j["identity"]["providers_tried"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["provider"].as_str().unwrap())
        .collect();
    for p in [
        "Environment",
        "Profile",
        "WebIdentityToken",
        "EcsContainer",
        "Ec2InstanceMetadata",
    ] {
        assert!(tried.contains(&p), "{p} missing from {tried:?}");
    }
    let imds = &j["identity"]["providers_tried"].as_array().unwrap()[4];
    assert!(
        imds["reason"]
            .as_str()
            .unwrap()
            .to_lowercase()
            .contains("disabled"),
        "{imds}"
    );
    // Every probe failed for the same reason, classified the same way.
    assert_eq!(j["probes"][0]["class"], "credentials_missing");
}

#[test]
fn expect_mismatch_is_identity_mismatch_naming_both() {
    let m = moto();
    let (_, creds) = m.user(&[], &[]);
    let mut c = config();
    c["expect"] = json!({"account": "999999999999", "role": "CanaryRole"});
    let r = check(&c, &creds, &["--endpoint-url", &m.url], &[]);
    assert_eq!(r.code, 1);
    let j = r.json();
    assert_eq!(j["identity"]["class"], "identity_mismatch");
    let msg = j["identity"]["message"].as_str().unwrap();
    assert!(
        msg.contains("expected account 999999999999, found 123456789012"),
        "{msg}"
    );
    assert!(
        msg.contains("expected role CanaryRole, found none"),
        "{msg}"
    );
}

#[test]
fn human_output_of_identity() {
    let m = moto();
    let (arn, creds) = m.user(&[], &[]);
    let mut env = creds.env();
    env.push(("CANARY_CONFIG".into(), config().to_string()));
    let r = canary(&["check", "--endpoint-url", &m.url], &env);
    assert_eq!(r.code, 0, "{r:?}");
    assert!(r.stdout.starts_with("HEALTHY"), "{}", r.stdout);
    assert!(
        r.stdout.contains(&format!("Identity  ok  {arn} (user)")),
        "{}",
        r.stdout
    );
}
