//! Probes against moto with IAM enforced and per-table resource ARNs, in two
//! regions; dynalite behind header-mangling proxies; unreachable and silent
//! endpoints; replica discovery against a recorded DescribeTable answer.

use crate::support::{
    canary, check, closed_port, dynalite, moto, proxy, table_arn, FixedServer, Seen,
};
use serde_json::{json, Value};
use std::time::Instant;

const E1: &str = "us-east-1";
const W1: &str = "eu-west-1";

fn probes_of(j: &Value) -> Vec<Value> {
    j["probes"].as_array().unwrap().clone()
}

fn find<'a>(probes: &'a [Value], region: &str, probe: &str) -> &'a Value {
    probes
        .iter()
        .find(|p| p["region"] == region && p["probe"] == probe)
        .unwrap_or_else(|| panic!("no {probe} probe in {region}: {probes:?}"))
}

fn arns(table: &str, regions: &[&str]) -> Vec<String> {
    regions.iter().map(|r| table_arn(r, table)).collect()
}

#[test]
fn allowed_describe_and_schema_derived_read_in_two_regions() {
    let m = moto();
    let t = m.table(&[E1, W1], false);
    let (_, creds) = m.user(
        &["dynamodb:DescribeTable", "dynamodb:GetItem"],
        &arns(&t, &[E1, W1]),
    );
    let c = json!({"defaults": {"regions": [E1, W1], "probes": ["describe", "read"]},
                   "targets": [{"table": t}], "metrics": {"sink": "none"}});
    let r = check(&c, &creds, &["--endpoint-url", &m.url], &[]);
    assert_eq!(r.code, 0, "{}", r.stdout);
    let j = r.json();
    assert_eq!(j["summary"]["total"], 4);
    assert_eq!(j["summary"]["ok"], 4);
    for p in probes_of(&j) {
        assert_eq!(p["outcome"], "ok", "{p}");
        assert!(p["latency_ms"].as_f64().unwrap() > 0.0);
    }
}

#[test]
fn read_with_explicit_composite_key_needs_only_get_item() {
    let m = moto();
    let t = m.table(&[E1], true);
    let (_, creds) = m.user(&["dynamodb:GetItem"], &arns(&t, &[E1]));
    let c = json!({"targets": [{"table": t, "probes": ["read"],
                   "key": {"pk": {"S": "__canary__"}, "sk": {"N": "0"}}}], "metrics": {"sink": "none"}});
    let r = check(&c, &creds, &["--endpoint-url", &m.url], &[]);
    assert_eq!(r.code, 0, "{}", r.stdout);
    assert_eq!(r.json()["probes"][0]["outcome"], "ok");
}

#[test]
fn write_is_allowed_by_put_and_delete_and_denied_without() {
    let m = moto();
    let t = m.table(&[E1], false);
    let c = json!({"targets": [{"table": t, "probes": ["write"], "key": {"pk": {"S": "__canary__"}}}],
                   "metrics": {"sink": "none"}});
    let (_, writer) = m.user(
        &["dynamodb:PutItem", "dynamodb:DeleteItem"],
        &arns(&t, &[E1]),
    );
    let r = check(&c, &writer, &["--endpoint-url", &m.url], &[]);
    assert_eq!(r.code, 0, "{}", r.stdout);
    // The sentinel is gone afterwards: a second write starts from a free key
    // and the conditional PutItem succeeds again.
    let r = check(&c, &writer, &["--endpoint-url", &m.url], &[]);
    assert_eq!(r.json()["probes"][0]["outcome"], "ok", "{}", r.stdout);
    let (_, reader) = m.user(&["dynamodb:GetItem"], &arns(&t, &[E1]));
    let r = check(&c, &reader, &["--endpoint-url", &m.url], &[]);
    assert_eq!(r.code, 1);
    let p = &r.json()["probes"][0];
    assert_eq!(p["class"], "access_denied", "{p}");
    assert_eq!(p["code"], "AccessDenied");
    assert!(p["hint"].as_str().unwrap().contains("IAM"));
    // Must-deny write: PutItem allowed is the finding, even when the
    // DeleteItem after it is denied.
    let (_, putter) = m.user(&["dynamodb:PutItem"], &arns(&t, &[E1]));
    let mut deny = c.clone();
    deny["targets"][0]["expect"] = json!("deny");
    let r = check(&deny, &putter, &["--endpoint-url", &m.url], &[]);
    let p = &r.json()["probes"][0];
    assert_eq!(p["class"], "unexpected_access", "{p}");
    assert!(
        p["message"].as_str().unwrap().contains("PutItem succeeded"),
        "{p}"
    );
    let r = check(&deny, &reader, &["--endpoint-url", &m.url], &[]);
    assert_eq!(r.json()["probes"][0]["outcome"], "ok", "{}", r.stdout);
}

#[test]
fn denied_probe_must_deny_probes_and_unexpected_access() {
    let m = moto();
    let orders = m.table(&[E1], false);
    let payroll = m.table(&[E1], false);
    let (_, creds) = m.user(
        &["dynamodb:DescribeTable", "dynamodb:GetItem"],
        &arns(&orders, &[E1]),
    );
    let c = json!({"defaults": {"probes": ["describe"]}, "targets": [
        {"table": payroll},
        {"table": payroll, "probes": ["read"], "expect": "deny", "key": {"pk": {"S": "x"}}},
        {"table": orders, "probes": ["read"], "expect": "deny", "key": {"pk": {"S": "x"}}}
    ], "metrics": {"sink": "none"}});
    let r = check(&c, &creds, &["--endpoint-url", &m.url], &[]);
    assert_eq!(r.code, 1);
    let j = r.json();
    let p = probes_of(&j);
    assert_eq!(
        (p[0]["outcome"].as_str(), p[0]["class"].as_str()),
        (Some("fail"), Some("access_denied"))
    );
    assert_eq!(
        (p[1]["outcome"].as_str(), p[1]["class"].as_str()),
        (Some("ok"), Some("ok"))
    );
    assert_eq!(p[1]["message"], "denied as expected");
    assert_eq!(
        (p[2]["outcome"].as_str(), p[2]["class"].as_str()),
        (Some("fail"), Some("unexpected_access"))
    );
    assert!(p[2]["hint"].as_str().unwrap().contains("narrow"));
    assert_eq!(j["summary"]["by_class"]["unexpected_access"], 1);
    assert_eq!(j["summary"]["by_class"]["access_denied"], 1);
}

#[test]
fn table_missing_in_one_region_is_not_found_with_region_hint() {
    let m = moto();
    let t = m.table(&[E1], false);
    let (_, creds) = m.user(&["dynamodb:DescribeTable"], &arns(&t, &[E1, W1]));
    let c = json!({"targets": [{"table": t, "regions": [E1, W1]}], "metrics": {"sink": "none"}});
    let r = check(&c, &creds, &["--endpoint-url", &m.url], &[]);
    assert_eq!(r.code, 1);
    let p = probes_of(&r.json());
    assert_eq!(find(&p, E1, "describe")["outcome"], "ok");
    let w = find(&p, W1, "describe");
    assert_eq!(w["class"], "not_found");
    assert_eq!(w["code"], "ResourceNotFoundException");
    assert!(w["hint"].as_str().unwrap().contains("another region"));
}

#[test]
fn ad_hoc_table_flags_run_without_a_config_file() {
    let m = moto();
    let t = m.table(&[E1, W1], false);
    let (_, creds) = m.user(
        &["dynamodb:DescribeTable", "dynamodb:GetItem"],
        &arns(&t, &[E1, W1]),
    );
    let r = canary(
        &[
            "check",
            "--table",
            &t,
            "--region",
            E1,
            "--region",
            W1,
            "--probe",
            "read",
            "--endpoint-url",
            &m.url,
            "--output",
            "json",
            "--sink",
            "none",
        ],
        &creds.env(),
    );
    assert_eq!(r.code, 0, "{}", r.stdout);
    let p = probes_of(&r.json());
    // read needs a key: describe is added to derive it from the schema.
    assert_eq!(p.len(), 4);
    assert_eq!(find(&p, W1, "read")["outcome"], "ok");
    let r = canary(
        &[
            "check",
            "--table",
            &t,
            "--probe",
            "read",
            "--expect",
            "deny",
            "--key",
            r#"{"pk":{"S":"x"}}"#,
            "--endpoint-url",
            &m.url,
            "--output",
            "json",
            "--sink",
            "none",
        ],
        &creds.env(),
    );
    assert_eq!(r.json()["probes"][0]["class"], "unexpected_access");
}

fn region_of(seen: &Seen) -> String {
    let auth = seen
        .headers
        .get("authorization")
        .cloned()
        .unwrap_or_default();
    auth.split("Credential=")
        .nth(1)
        .and_then(|c| c.split('/').nth(2))
        .unwrap_or("")
        .to_string()
}

#[test]
fn replicas_are_discovered_from_the_home_region_and_each_probed() {
    // moto cannot create global-table replicas; a recorded DescribeTable
    // answer listing two replicas drives the same code path.
    let server = FixedServer::start(|req| {
        let body = String::from_utf8_lossy(&req.body);
        if body.contains("Action=GetCallerIdentity") {
            return Some(crate::support::sts_ok());
        }
        let table = json!({"Table": {"TableName": "global", "TableStatus": "ACTIVE",
            "KeySchema": [{"AttributeName": "pk", "KeyType": "HASH"}],
            "AttributeDefinitions": [{"AttributeName": "pk", "AttributeType": "S"}],
            "Replicas": [{"RegionName": "eu-west-1"}, {"RegionName": "ap-south-1"}]}});
        Some((
            200,
            vec![("content-type".into(), "application/x-amz-json-1.0".into())],
            table.to_string().into_bytes(),
        ))
    });
    let c = json!({"defaults": {"regions": ["us-east-1"]},
                   "targets": [{"table": "global", "regions": "replicas"}], "metrics": {"sink": "none"}});
    let creds = crate::support::dummy_creds();
    let r = check(&c, &creds, &["--endpoint-url", &server.url], &[]);
    assert_eq!(r.code, 0, "{}", r.stdout);
    let p = probes_of(&r.json());
    let regions: Vec<&str> = p.iter().map(|x| x["region"].as_str().unwrap()).collect();
    assert_eq!(regions, ["us-east-1", "eu-west-1", "ap-south-1"]);
    let signed: Vec<String> = server.requests().iter().map(region_of).collect();
    assert!(signed.contains(&"ap-south-1".to_string()), "{signed:?}");
}

#[test]
fn closed_port_is_endpoint_unreachable() {
    let url = format!("http://127.0.0.1:{}", closed_port());
    let creds = crate::support::dummy_creds();
    let c = json!({"targets": [{"table": "orders"}], "metrics": {"sink": "none"}});
    let r = check(&c, &creds, &["--endpoint-url", &url], &[]);
    assert_eq!(r.code, 1);
    let j = r.json();
    assert_eq!(
        j["identity"]["class"], "endpoint_unreachable",
        "{}",
        r.stdout
    );
    assert_eq!(j["probes"][0]["class"], "endpoint_unreachable");
    assert!(j["probes"][0]["hint"]
        .as_str()
        .unwrap()
        .contains("AWS_ENDPOINT_URL"));
}

#[test]
fn silent_listener_is_timeout_and_the_run_keeps_its_deadline() {
    let server = FixedServer::start(|_| None);
    let creds = crate::support::dummy_creds();
    let targets: Vec<Value> = (0..6)
        .map(|i| json!({"table": format!("t{i}xx"), "regions": [E1, W1]}))
        .collect();
    let c = json!({"targets": targets, "defaults": {"timeout_ms": 20000}, "deadline_ms": 1500,
                   "concurrency": 2, "metrics": {"sink": "none"}});
    let started = Instant::now();
    let r = check(&c, &creds, &["--endpoint-url", &server.url], &[]);
    let took = started.elapsed();
    assert!(took.as_millis() < 4_000, "run took {took:?}");
    let j = r.json();
    assert_eq!(j["summary"]["total"], 12, "no probe is left out");
    for p in probes_of(&j) {
        assert_eq!(p["class"], "timeout", "{p}");
    }
    assert_eq!(j["identity"]["class"], "timeout");
    // A per-probe timeout shorter than the deadline also ends in timeout.
    let c = json!({"targets": [{"table": "slow", "timeout_ms": 300}], "metrics": {"sink": "none"}});
    let r = check(&c, &creds, &["--endpoint-url", &server.url], &[]);
    assert_eq!(r.json()["probes"][0]["class"], "timeout");
}

#[test]
fn a_silent_region_does_not_hide_the_results_of_the_others() {
    // us-east-1 answers; eu-west-1 never does. At the deadline only the
    // eu-west-1 probe is a timeout.
    let server = FixedServer::start(|req| {
        let body = String::from_utf8_lossy(&req.body);
        if body.contains("Action=GetCallerIdentity") {
            return Some(crate::support::sts_ok());
        }
        if region_of(req) == W1 {
            return None;
        }
        let t = json!({"Table": {"TableName": "split"}});
        Some((
            200,
            vec![("content-type".into(), "application/x-amz-json-1.0".into())],
            t.to_string().into_bytes(),
        ))
    });
    let c = json!({"targets": [{"table": "split", "regions": [E1, W1], "timeout_ms": 20000}],
                   "deadline_ms": 1500, "metrics": {"sink": "none"}});
    let r = check(
        &c,
        &crate::support::dummy_creds(),
        &["--endpoint-url", &server.url],
        &[],
    );
    let p = probes_of(&r.json());
    assert_eq!(find(&p, E1, "describe")["outcome"], "ok", "{}", r.stdout);
    assert_eq!(find(&p, W1, "describe")["class"], "timeout");
}

/// The probe of `orders` on dynalite reached through a proxy in `mode`, with
/// DynamoDB's endpoint set by `var` (STS goes to moto).
fn through_dynalite(mode: &str, var: &str) -> Value {
    let p = proxy(dynalite(), mode, 0);
    let creds = crate::support::dummy_creds();
    let c = json!({"targets": [{"table": "orders"}], "metrics": {"sink": "none"}});
    let env = vec![
        (var.to_string(), p.url.clone()),
        ("AWS_ENDPOINT_URL_STS".into(), moto().url.clone()),
        // The sink is none; were metrics sent anyway, they would stay local.
        (
            "AWS_ENDPOINT_URL_CLOUDWATCH".into(),
            crate::support::REFUSED.into(),
        ),
        // Nor would a look-up of what changed leave the machine.
        (
            "AWS_ENDPOINT_URL_CLOUDTRAIL".into(),
            crate::support::REFUSED.into(),
        ),
    ];
    let r = check(&c, &creds, &[], &env);
    r.json()["probes"][0].clone()
}

#[test]
fn stripped_authorization_reaches_dynalite_as_missing_token() {
    // DYNAMODB_ENDPOINT is the alias DynamoDB Local users set.
    let probe = through_dynalite("strip-auth", "DYNAMODB_ENDPOINT");
    assert_eq!(probe["class"], "auth_missing_token", "{probe}");
    assert_eq!(probe["code"], "MissingAuthenticationTokenException");
    assert!(probe["hint"].as_str().unwrap().contains("proxy"));
    assert!(probe["request_id"].is_string());
}

#[test]
fn mangled_authorization_reaches_dynalite_as_incomplete_signature() {
    let probe = through_dynalite("mangle-auth", "AWS_ENDPOINT_URL_DYNAMODB");
    assert_eq!(probe["class"], "auth_incomplete_signature", "{probe}");
    assert_eq!(probe["code"], "IncompleteSignatureException");
}
