//! What a deployment tells the canary through its environment: the
//! function's own role as the expected identity (a role with a path), the
//! namespace and LeadingKeys that must agree with the configuration, and a
//! configuration read from an SSM parameter.

use crate::support::{canary, check, moto, table_arn, unique, REFUSED};

use serde_json::json;

fn env(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
    pairs
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

#[test]
fn the_function_role_with_a_path_is_expected_by_account_and_name() {
    let m = moto();
    let t = m.table(&["us-east-1"], false);
    let (user_arn, user) = m.user(&["sts:AssumeRole"], &["*".to_string()]);
    let name = unique("fn-role");
    let out = m.apply(
        json!({"roles": [{"name": name, "path": "/team/canary/", "trust": [user_arn],
        "policy": {"Version": "2012-10-17", "Statement": [{"Effect": "Allow",
            "Action": ["dynamodb:DescribeTable"], "Resource": [table_arn("us-east-1", &t)]}]}}]}),
    );
    let role_arn = out["roles"][&name]["arn"].as_str().unwrap().to_string();
    assert!(role_arn.contains(":role/team/canary/"), "{role_arn}");
    let creds = m.assume(&user, &role_arn, "lambda-session");
    let config = json!({"targets": [{"table": t}], "metrics": {"sink": "emf"}});
    // Its caller ARN is .../assumed-role/NAME/SESSION: the path is gone, and
    // the canary still recognises its own role.
    let r = check(
        &config,
        &creds,
        &["--endpoint-url", &m.url],
        &env(&[("CANARY_EXPECT_ROLE_ARN", &role_arn)]),
    );
    assert_eq!(r.code, 0, "{}", r.stdout);
    let j = r.json();
    assert_eq!(j["identity"]["class"], "ok");
    assert_eq!(j["identity"]["role"], name.as_str());
    // Another role's ARN: an identity mismatch, published for the alarm.
    let other = role_arn.replace(&name, "SomeOtherRole");
    let r = check(
        &config,
        &creds,
        &["--endpoint-url", &m.url],
        &env(&[("CANARY_EXPECT_ROLE_ARN", &other)]),
    );
    assert_eq!(r.code, 1, "{}", r.stdout);
    let j = r.json();
    assert_eq!(j["identity"]["class"], "identity_mismatch");
    assert!(j["identity"]["message"]
        .as_str()
        .unwrap()
        .contains("expected role SomeOtherRole"));
    let emf: Vec<serde_json::Value> = r
        .stderr
        .lines()
        .filter_map(|l| serde_json::from_str(l).ok())
        .collect();
    assert!(
        emf.iter()
            .any(|l| l["IdentityMismatch"] == 1.0 && l["UnhealthyRuns"] == 1.0),
        "{}",
        r.stderr
    );
}

#[test]
fn a_configuration_that_disagrees_with_the_deployment_is_refused() {
    let creds = crate::support::dummy_creds();
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("c.json");
    let run = |config: serde_json::Value, vars: &[(&str, &str)]| {
        std::fs::write(&path, config.to_string()).unwrap();
        let mut e = creds.env();
        e.extend(env(vars));
        canary(
            &[
                "check",
                "--config",
                path.to_str().unwrap(),
                "--endpoint-url",
                REFUSED,
            ],
            &e,
        )
    };
    let r = run(
        json!({"targets": [{"table": "orders"}], "metrics": {"namespace": "Mine"}}),
        &[("CANARY_NAMESPACE", "Deployed/Canary")],
    );
    assert_eq!(r.code, 2, "{r:?}");
    assert!(
        r.stderr
            .contains("metrics.namespace: \"Mine\" differs from the deployment's CANARY_NAMESPACE=\"Deployed/Canary\""),
        "{}",
        r.stderr
    );
    let r = run(
        json!({"targets": [{"table": "orders", "probes": ["read"], "key": {"pk": {"S": "mine"}}}]}),
        &[(
            "CANARY_LEADING_KEYS",
            "__dynamodb_auth_canary__,-271828182845904523536.0287",
        )],
    );
    assert_eq!(r.code, 2, "{r:?}");
    assert!(
        r.stderr
            .contains("targets[0].key.pk: \"mine\" is not among"),
        "{}",
        r.stderr
    );
    let r = run(
        json!({"targets": [{"table": "orders"}]}),
        &[("CANARY_EXPECT_ROLE_ARN", "arn:aws:iam::1:role/x")],
    );
    assert_eq!(r.code, 2, "{r:?}");
    assert!(
        r.stderr.contains("CANARY_EXPECT_ROLE_ARN: "),
        "{}",
        r.stderr
    );
}

#[test]
fn the_configuration_is_read_from_an_ssm_parameter() {
    let m = moto();
    let t = m.table(&["us-east-1"], false);
    let name = format!("/dynamodb-auth-canary/{}/config", unique("cfg"));
    // Over 4 KB, as a configuration too large for Lambda's environment.
    let padding: Vec<serde_json::Value> = (0..120)
        .map(|i| json!({"table": format!("{t}"), "regions": ["us-east-1"], "probes": ["describe"], "timeout_ms": 2000 + i}))
        .collect();
    let mut targets = vec![json!({"table": t})];
    targets.extend(padding);
    let config = json!({"targets": targets, "metrics": {"sink": "none"}}).to_string();
    assert!(config.len() > 4096, "{} bytes", config.len());
    m.apply(json!({"parameters": [{"name": name, "value": config, "tier": "Advanced"}]}));
    // moto evaluates ssm:GetParameter against the resource "*" (it is not
    // taught parameter ARNs): the template's grant of the one parameter ARN
    // is checked statically by template_checks.py.
    let (_, user) = m.user(
        &["dynamodb:DescribeTable", "ssm:GetParameter"],
        &["*".to_string()],
    );
    let mut e = user.env();
    e.extend(env(&[("CANARY_CONFIG_PARAMETER", &name)]));
    let r = canary(&["check", "--endpoint-url", &m.url, "--output", "json"], &e);
    assert_eq!(r.code, 0, "{r:?}");
    assert_eq!(r.json()["summary"]["total"], 121);
    // A parameter that does not exist: a clear usage error, nothing probed.
    let mut e = user.env();
    e.extend(env(&[("CANARY_CONFIG_PARAMETER", "/no/such/parameter")]));
    let r = canary(&["check", "--endpoint-url", &m.url], &e);
    assert_eq!(r.code, 2, "{r:?}");
    assert!(
        r.stderr
            .contains("SSM parameter /no/such/parameter: cannot read it"),
        "{}",
        r.stderr
    );
}

#[test]
fn policy_and_deploy_params_come_from_the_configuration() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("canary.json");
    std::fs::write(
        &path,
        json!({"name": "prod", "targets": [
            {"table": "orders", "regions": ["us-east-1", "eu-west-1"], "probes": ["describe", "read"]},
            {"table": "payroll", "probes": ["read"], "expect": "deny"}]})
        .to_string(),
    )
    .unwrap();
    let p = path.to_str().unwrap();
    let r = canary(&["policy", "--config", p, "--account", "123456789012"], &[]);
    assert_eq!(r.code, 0, "{r:?}");
    let doc: serde_json::Value = serde_json::from_str(&r.stdout).unwrap();
    assert_eq!(doc["Version"], "2012-10-17");
    assert!(r
        .stdout
        .contains("arn:aws:dynamodb:eu-west-1:123456789012:table/orders"));
    assert!(!r.stdout.contains("payroll"));
    let r = canary(
        &["deploy-params", "--config", p, "--account", "123456789012"],
        &[],
    );
    assert_eq!(r.code, 0, "{r:?}");
    assert!(
        r.stdout.contains("Slot1DescribeTableArns=arn:aws:dynamodb:eu-west-1:123456789012:table/orders,arn:aws:dynamodb:us-east-1:123456789012:table/orders "),
        "{}",
        r.stdout
    );
    assert!(r.stdout.contains(" CanaryName=prod "), "{}", r.stdout);
    let r = canary(&["policy", "--config", p, "--account", "12"], &[]);
    assert_eq!(r.code, 2, "{r:?}");
    assert!(
        r.stderr
            .contains("--account: \"12\" is not a 12-digit account id"),
        "{}",
        r.stderr
    );
    let r = canary(
        &["deploy-params", "--config", p, "--account", "123456789012"],
        &env(&[("AWS_REGION", "")]),
    );
    assert_eq!(r.code, 2, "{r:?}");
    assert!(r.stderr.contains("no AWS region"), "{}", r.stderr);
}
