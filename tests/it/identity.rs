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
    // Change the last character, whatever it was (a secret that already
    // ended in "x" once made this test pass a correct secret).
    let last = if creds.secret.ends_with('x') {
        "y"
    } else {
        "x"
    };
    let wrong = format!("{}{last}", &creds.secret[..creds.secret.len() - 1]);
    assert_ne!(wrong, creds.secret);
    creds.secret = wrong;
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

/// An endpoint that accepts every request but whose `Date` header is
/// `offset_secs` away from this host's clock.
fn skewed_aws(offset_secs: i64) -> crate::support::FixedServer {
    crate::support::FixedServer::start(move |req| {
        let now = std::time::SystemTime::now();
        let then = if offset_secs >= 0 {
            now + std::time::Duration::from_secs(offset_secs as u64)
        } else {
            now - std::time::Duration::from_secs(offset_secs.unsigned_abs())
        };
        let date = aws_smithy_types::DateTime::from(then)
            .fmt(aws_smithy_types::date_time::Format::HttpDate)
            .unwrap();
        let body = String::from_utf8_lossy(&req.body).to_string();
        let (status, mut headers, bytes) = if body.contains("GetCallerIdentity") {
            crate::support::sts_ok()
        } else {
            (
                200,
                vec![("content-type".into(), "application/x-amz-json-1.0".into())],
                json!({"Table": {"TableName": "orders", "TableStatus": "ACTIVE"}})
                    .to_string()
                    .into_bytes(),
            )
        };
        headers.push(("date".into(), date));
        Some((status, headers, bytes))
    })
}

#[test]
fn a_clock_an_hour_off_is_unhealthy_although_the_sdk_corrects_it() {
    let server = skewed_aws(-3_600);
    let r = check(
        &json!({"targets": [{"table": "orders"}], "metrics": {"sink": "none"}}),
        &crate::support::dummy_creds(),
        &["--endpoint-url", &server.url],
        &[],
    );
    assert_eq!(r.code, 1, "{}", r.stdout);
    let j = r.json();
    assert_eq!(
        j["probes"][0]["outcome"], "ok",
        "the requests themselves succeed"
    );
    assert_eq!(j["identity"]["class"], "auth_clock_skew", "{}", r.stdout);
    let skew = j["identity"]["clock_skew_seconds"].as_i64().unwrap();
    assert!((-3_610..=-3_590).contains(&skew), "{skew}");
    assert!(j["identity"]["message"]
        .as_str()
        .unwrap()
        .contains("ahead of AWS's"));
    // A minute and a half off: a warning, the run stays healthy.
    let server = skewed_aws(90);
    let r = check(
        &json!({"targets": [{"table": "orders"}], "metrics": {"sink": "none"}}),
        &crate::support::dummy_creds(),
        &["--endpoint-url", &server.url],
        &[],
    );
    assert_eq!(r.code, 0, "{}", r.stdout);
    let j = r.json();
    assert_eq!(j["warnings"][0]["class"], "auth_clock_skew", "{}", r.stdout);
    assert!(j["warnings"][0]["message"]
        .as_str()
        .unwrap()
        .contains("behind AWS's"));
}

#[test]
fn half_set_environment_keys_are_a_credentials_error_naming_the_missing_one() {
    let c = json!({"targets": [{"table": "orders"}], "metrics": {"sink": "none"}});
    let env = vec![("AWS_ACCESS_KEY_ID".to_string(), "AKIDEXAMPLE".to_string())];
    let r = crate::support::check_refused(&c, &env);
    assert_eq!(r.code, 1, "{r:?}");
    let j = r.json();
    assert_eq!(j["identity"]["class"], "credentials_error");
    let m = j["identity"]["message"].as_str().unwrap();
    assert!(
        m.contains("AWS_ACCESS_KEY_ID is set but AWS_SECRET_ACCESS_KEY is not"),
        "{m}"
    );
    assert_eq!(j["probes"][0]["class"], "credentials_error");
}

#[test]
fn a_missing_profile_is_the_same_credentials_error_on_every_run() {
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("config");
    std::fs::write(&config, "[profile real]\nregion = us-east-1\n").unwrap();
    let c = json!({"targets": [{"table": "orders"}], "metrics": {"sink": "none"}});
    let env = vec![
        ("AWS_CONFIG_FILE".to_string(), config.display().to_string()),
        ("AWS_PROFILE".to_string(), "prod-typo".to_string()),
    ];
    let mut seen = Vec::new();
    for _ in 0..3 {
        let r = crate::support::check_refused(&c, &env);
        assert_eq!(r.code, 1, "{r:?}");
        let j = r.json();
        let id = &j["identity"];
        assert_eq!(id["class"], "credentials_error", "{}", r.stdout);
        let m = id["message"].as_str().unwrap().to_string();
        assert!(m.contains("profile \"prod-typo\" does not exist"), "{m}");
        assert!(m.contains(&config.display().to_string()), "{m}");
        assert_eq!(j["probes"][0]["class"], "credentials_error");
        seen.push(m);
    }
    seen.dedup();
    assert_eq!(seen.len(), 1, "the same answer every run: {seen:?}");
}

#[test]
fn a_refusing_container_endpoint_and_a_missing_token_file_are_named() {
    let c = json!({"targets": [{"table": "orders"}], "metrics": {"sink": "none"}});
    let refused = format!("http://127.0.0.1:{}/creds", crate::support::closed_port());
    let cases = [
        (
            vec![(
                "AWS_CONTAINER_CREDENTIALS_FULL_URI".to_string(),
                refused.clone(),
            )],
            format!("the container credentials endpoint {refused}"),
        ),
        (
            vec![
                (
                    "AWS_WEB_IDENTITY_TOKEN_FILE".to_string(),
                    "/nonexistent/eks/token".to_string(),
                ),
                (
                    "AWS_ROLE_ARN".to_string(),
                    "arn:aws:iam::123456789012:role/irsa".to_string(),
                ),
            ],
            "AWS_WEB_IDENTITY_TOKEN_FILE names /nonexistent/eks/token, which does not exist"
                .to_string(),
        ),
    ];
    for (env, named) in cases {
        let r = crate::support::check_refused(&c, &env);
        assert_eq!(r.code, 1, "{r:?}");
        let j = r.json();
        assert_eq!(j["identity"]["class"], "credentials_error", "{}", r.stdout);
        let m = j["identity"]["message"].as_str().unwrap();
        assert!(m.contains(&named), "{m}");
        assert_eq!(j["probes"][0]["class"], "credentials_error");
    }
}

#[test]
fn a_hanging_credential_process_and_its_children_end_with_the_run() {
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("config");
    let pids = dir.path().join("pids");
    // The SDK runs this through `sh -c`; that shell starts a second one that
    // starts a sleep, records both, and waits for ever.
    std::fs::write(
        &config,
        format!(
            "[profile hangs]\nregion = us-east-1\ncredential_process = sh -c 'sleep 300 & echo $$ $! > {}; wait'\n",
            pids.display()
        ),
    )
    .unwrap();
    let c = json!({"defaults": {"timeout_ms": 500}, "targets": [{"table": "orders"}],
                   "metrics": {"sink": "none"}});
    let env = vec![
        ("AWS_CONFIG_FILE".to_string(), config.display().to_string()),
        ("AWS_PROFILE".to_string(), "hangs".to_string()),
    ];
    let r = crate::support::check_refused(&c, &env);
    assert_eq!(r.code, 1, "{r:?}");
    let j = r.json();
    assert_eq!(j["identity"]["class"], "credentials_error", "{}", r.stdout);
    let m = j["identity"]["message"].as_str().unwrap();
    assert!(m.contains("supplied no credentials within 500 ms"), "{m}");
    let recorded = std::fs::read_to_string(&pids).expect("the process ran and wrote its pids");
    let pids: std::collections::BTreeSet<u32> = recorded
        .split_whitespace()
        .map(|p| p.parse().unwrap())
        .collect();
    assert_eq!(pids.len(), 2, "{recorded}");
    // Gone, or a zombie waiting for init: not running either way. The
    // canary waits for its kills to land before it exits; a loaded machine
    // gets one more second here.
    use dynamodb_auth_canary::aws::reaper::{running, wait_gone};
    let gone = wait_gone(&pids, std::time::Duration::from_secs(1), running);
    let left: Vec<&u32> = pids.iter().filter(|&&p| running(p)).collect();
    assert!(gone, "processes {left:?} outlived the run");
}
