//! `deploy-params` and `policy` without `--account` (the caller's account
//! from STS, on loopback: moto, or a fixed server named by
//! AWS_ENDPOINT_URL_STS), and the `fleet` command's plan and bill.

use crate::support::{canary, dummy_creds, moto, sts_ok, FixedServer, REFUSED};
use serde_json::json;

fn env(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
    pairs
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

fn write(dir: &tempfile::TempDir, name: &str, value: &serde_json::Value) -> String {
    let path = dir.path().join(name);
    std::fs::write(&path, value.to_string()).unwrap();
    path.to_str().unwrap().to_string()
}

fn config() -> serde_json::Value {
    json!({"targets": [{"table": "orders", "regions": ["us-east-1", "eu-west-1"], "probes": ["describe", "read"]}]})
}

#[test]
fn without_account_deploy_params_and_policy_ask_sts_for_the_callers_account() {
    let m = moto();
    let (_, user) = m.user(&["dynamodb:DescribeTable"], &["*".to_string()]);
    let dir = tempfile::tempdir().unwrap();
    let p = write(&dir, "canary.json", &config());
    for command in ["deploy-params", "policy"] {
        let given = canary(&[command, "--config", &p, "--account", "123456789012"], &[]);
        assert_eq!(given.code, 0, "{given:?}");
        let asked = canary(
            &[command, "--config", &p, "--endpoint-url", &m.url],
            &user.env(),
        );
        assert_eq!(asked.code, 0, "{command}: {asked:?}");
        assert_eq!(
            asked.stdout, given.stdout,
            "{command}: STS's account gives what --account 123456789012 gives"
        );
        assert!(asked.stdout.contains(":123456789012:table/orders"));
    }
}

#[test]
fn the_account_comes_from_aws_endpoint_url_sts_when_no_flag_names_an_endpoint() {
    let sts = FixedServer::start(|_| Some(sts_ok()));
    let dir = tempfile::tempdir().unwrap();
    let p = write(&dir, "canary.json", &config());
    let mut e = dummy_creds().env();
    e.extend(env(&[("AWS_ENDPOINT_URL_STS", &sts.url)]));
    let r = canary(&["deploy-params", "--config", &p], &e);
    assert_eq!(r.code, 0, "{r:?}");
    assert!(
        r.stdout
            .contains("arn:aws:dynamodb:eu-west-1:123456789012:table/orders"),
        "{}",
        r.stdout
    );
    let seen = sts.requests();
    assert_eq!(seen.len(), 1, "one GetCallerIdentity");
    assert!(
        String::from_utf8_lossy(&seen[0].body).contains("Action=GetCallerIdentity"),
        "{:?}",
        String::from_utf8_lossy(&seen[0].body)
    );
}

#[test]
fn when_sts_cannot_answer_the_error_names_account_and_the_failure() {
    let dir = tempfile::tempdir().unwrap();
    let p = write(&dir, "canary.json", &config());
    for command in ["deploy-params", "policy"] {
        let r = canary(
            &[command, "--config", &p, "--endpoint-url", REFUSED],
            &dummy_creds().env(),
        );
        assert_eq!(r.code, 2, "{command}: {r:?}");
        assert!(r.stdout.is_empty());
        assert!(
            r.stderr
                .starts_with("error: --account: not given, and STS GetCallerIdentity failed (")
                && r.stderr.contains("pass --account"),
            "{command}: {}",
            r.stderr
        );
    }
    // A denial is classified too (moto with unknown keys refuses them).
    let r = canary(
        &[
            "deploy-params",
            "--config",
            &p,
            "--endpoint-url",
            &moto().url,
        ],
        &dummy_creds().env(),
    );
    assert_eq!(r.code, 2, "{r:?}");
    assert!(
        r.stderr.contains("GetCallerIdentity failed (auth_"),
        "{}",
        r.stderr
    );
}

fn fleet_args<'a>(p: &'a str, extra: &[&'a str]) -> Vec<&'a str> {
    let mut v = vec![
        "fleet",
        "--config",
        p,
        "--ou",
        "ou-ab12-11111111",
        "--ou",
        "ou-ab12-22222222",
        "--region",
        "us-east-1",
        "--region",
        "eu-west-1",
        "--organization-id",
        "o-abcdefghij",
        "--code-bucket-prefix",
        "example-canary-code",
    ];
    v.extend_from_slice(extra);
    v
}

/// The JSON of the heredoc that writes `name` in `fleet`'s output.
fn heredoc(out: &str, name: &str) -> serde_json::Value {
    let start = out
        .find(&format!("cat > {name} <<"))
        .unwrap_or_else(|| panic!("no {name} in:\n{out}"));
    let body = &out[start..];
    let body = &body[body.find('\n').unwrap() + 1..];
    let end = body.find("\nDYNAMODB_AUTH_CANARY_EOF").unwrap();
    serde_json::from_str(&body[..end]).unwrap()
}

#[test]
fn fleet_prints_the_stack_set_its_instances_the_monitoring_account_and_the_bill() {
    let dir = tempfile::tempdir().unwrap();
    let p = write(&dir, "canary.json", &config());
    let acct = write(
        &dir,
        "team-b.json",
        &json!({"targets": [{"table": "ledger", "probes": ["describe", "read"]}]}),
    );
    let pair = format!("222222222222={acct}");
    let r = canary(
        &fleet_args(&p, &["--account-config", &pair, "--accounts", "250"]),
        &[],
    );
    assert_eq!(r.code, 0, "{r:?}");
    let out = &r.stdout;
    assert!(out.contains("--permission-model SERVICE_MANAGED --auto-deployment Enabled=true"));
    assert!(out.contains("--template-file fleet/monitoring.yaml"));
    assert!(out.contains("--capabilities CAPABILITY_AUTO_EXPAND"));
    assert_eq!(
        out.matches("aws cloudformation create-stack-instances")
            .count(),
        2
    );
    assert!(
        out.contains("'{\"OrganizationalUnitIds\":[\"ou-ab12-11111111\",\"ou-ab12-22222222\"]}'")
    );
    assert_eq!(
        out.matches("fleet/code-bucket.yaml").count(),
        2,
        "a bucket per region"
    );
    // The stack set's parameters: the account's own SSM parameter, no grant.
    let params = heredoc(out, "dynamodb-auth-canary-parameters.json");
    let get = |list: &serde_json::Value, k: &str| -> serde_json::Value {
        list.as_array()
            .unwrap()
            .iter()
            .find(|e| e["ParameterKey"] == k)
            .cloned()
            .unwrap_or_else(|| panic!("no {k} in {list}"))
    };
    assert_eq!(
        get(&params, "ConfigParameterName")["ParameterValue"],
        "/dynamodb-auth-canary/config"
    );
    assert_eq!(get(&params, "CanaryConfig")["ParameterValue"], "");
    assert_eq!(get(&params, "CanaryName")["ParameterValue"], "fleet");
    assert_eq!(get(&params, "Slot1ReadTableArns")["ParameterValue"], "");
    assert_eq!(
        get(&params, "CodeBucketPrefix")["ParameterValue"],
        "example-canary-code"
    );
    // The account's overrides: its own tables in that region, the region's
    // sink and code version kept.
    let over = heredoc(out, "dynamodb-auth-canary-222222222222-eu-west-1.json");
    assert_eq!(
        get(&over, "Slot1ReadTableArns")["ParameterValue"],
        "arn:aws:dynamodb:eu-west-1:222222222222:table/ledger"
    );
    assert_eq!(get(&over, "MonitoringSinkArn")["UsePreviousValue"], true);
    assert!(over
        .as_array()
        .unwrap()
        .iter()
        .all(|e| e["ParameterKey"] != "CanaryName"));
    assert!(out.contains("\"Accounts\":[\"222222222222\"]"));
    assert!(out.contains("\"AccountFilterType\":\"INTERSECTION\""));
    // The bill: 10, 100, 250 and 1,000 accounts in 2 regions, totals that add up.
    let rows: Vec<Vec<f64>> = out
        .lines()
        .filter(|l| {
            l.starts_with("# ")
                && l[2..]
                    .trim_start()
                    .starts_with(|c: char| c.is_ascii_digit())
        })
        .map(|l| {
            l[2..]
                .split_whitespace()
                .map(|x| x.parse().unwrap())
                .collect()
        })
        .collect();
    assert_eq!(
        rows.iter().map(|r| r[0] as usize).collect::<Vec<_>>(),
        [10, 100, 250, 1000]
    );
    for row in &rows {
        assert_eq!(row[1], row[0] * 2.0, "canaries = accounts x regions");
        let parts: f64 = row[2..7].iter().sum();
        assert!((parts - row[7]).abs() < 0.02, "{row:?}");
        assert!(
            (row[3] - row[1] * 0.8).abs() < 0.001,
            "8 local alarms per canary: {row:?}"
        );
        assert!(
            (row[4] - row[1] * 0.1).abs() < 0.001,
            "a heartbeat per canary: {row:?}"
        );
    }
    assert!(
        rows[3][7] > 9.0 * rows[1][7],
        "1,000 accounts cost about ten times 100"
    );
    assert!(out.contains("ASSUMED"), "the unverified price says so");
}

#[test]
fn fleet_refuses_bad_ids_and_a_second_namespace_naming_the_flag() {
    let dir = tempfile::tempdir().unwrap();
    let p = write(&dir, "canary.json", &config());
    let cases: [(&[&str], &str); 4] = [
        (
            &["--ou", "ou-bad"],
            "--ou: \"ou-bad\" is not an organizational unit id",
        ),
        (
            &["--schedule-minutes", "7"],
            "--schedule-minutes: 7 is not one of",
        ),
        (&["--account-config", "12=x.json"], "does not exist"),
        (
            &["--account-config", "nofile"],
            "--account-config: \"nofile\" is not ACCOUNT=FILE",
        ),
    ];
    for (extra, want) in cases {
        let r = canary(&fleet_args(&p, extra), &[]);
        assert_eq!(r.code, 2, "{extra:?}: {r:?}");
        assert!(
            r.stderr.contains(want) || (want == "does not exist" && r.stderr.contains("x.json")),
            "{extra:?}: {}",
            r.stderr
        );
    }
    let r = canary(
        &[
            "fleet",
            "--config",
            &p,
            "--ou",
            "ou-ab12-11111111",
            "--region",
            "us-east-1",
            "--organization-id",
            "o-abc",
            "--code-bucket-prefix",
            "example-canary-code",
        ],
        &[],
    );
    assert_eq!(r.code, 2);
    assert!(
        r.stderr
            .contains("--organization-id: \"o-abc\" is not an organization id"),
        "{}",
        r.stderr
    );
    let other = write(
        &dir,
        "other.json",
        &json!({"targets": [{"table": "ledger"}], "metrics": {"namespace": "Other"}}),
    );
    let pair = format!("222222222222={other}");
    let r = canary(&fleet_args(&p, &["--account-config", &pair]), &[]);
    assert_eq!(r.code, 2, "{r:?}");
    assert!(
        r.stderr.contains("metrics.namespace")
            && r.stderr
                .contains("one stack set publishes under one namespace"),
        "{}",
        r.stderr
    );
}
