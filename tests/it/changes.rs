//! What changed: a denied probe names the CloudTrail change behind it,
//! against the local CloudTrail (scripts/localaws/cloudtrail.py) and a
//! fixed STS/DynamoDB that deny; a healthy run asks nothing; many denials
//! make a bounded number of calls; a refused, throttled or silent
//! CloudTrail leaves the results as they were; an SCP says where to look.

use crate::support::{
    canary, cloudtrail, dummy_creds, json_error, sts_ok, CloudTrail, FixedServer, REFUSED,
};
use serde_json::{json, Value};
use std::time::{Duration, Instant};

const DENIED: &str = "User: arn:aws:iam::123456789012:user/fixed is not authorized to perform: dynamodb:GetItem on resource: arn:aws:dynamodb:us-east-1:123456789012:table/orders because no identity-based policy allows the dynamodb:GetItem action";
const SCP: &str = "User: arn:aws:iam::123456789012:user/fixed is not authorized to perform: dynamodb:GetItem on resource: arn:aws:dynamodb:us-east-1:123456789012:table/orders with an explicit deny in a service control policy";

/// STS answers as user `fixed`; DynamoDB answers `dynamo`.
fn aws(dynamo: Option<&'static str>) -> FixedServer {
    FixedServer::start(move |seen| {
        let target = seen
            .headers
            .get("x-amz-target")
            .cloned()
            .unwrap_or_default();
        if target.starts_with("DynamoDB_") {
            Some(match dynamo {
                Some(message) => json_error(400, "AccessDeniedException", message),
                None => (200, vec![], b"{}".to_vec()),
            })
        } else {
            Some(sts_ok())
        }
    })
}

fn iso(ago: Duration) -> String {
    let t = std::time::SystemTime::now() - ago;
    let secs = t.duration_since(std::time::UNIX_EPOCH).unwrap().as_secs() as i64;
    aws_smithy_types::DateTime::from_secs(secs)
        .fmt(aws_smithy_types::date_time::Format::DateTime)
        .unwrap()
}

fn record(id: &str, name: &str, ago_hours: u64, params: Value) -> Value {
    json!({
        "eventVersion": "1.09",
        "eventID": id,
        "eventName": name,
        "eventTime": iso(Duration::from_secs(ago_hours * 3600 + 60)),
        "eventSource": "iam.amazonaws.com",
        "awsRegion": "us-east-1",
        "readOnly": false,
        "sourceIPAddress": "198.51.100.7",
        "userIdentity": {"type": "AssumedRole", "arn": "arn:aws:sts::123456789012:assumed-role/Admin/alice@example.com"},
        "requestParameters": params,
    })
}

/// The changes of a test: the canary's own policy removed two hours ago,
/// and what must not be named: someone else's role, a read, a call that
/// failed, and a change older than the look-back window.
fn seed(ct: &CloudTrail) {
    let mut read = record(
        "evt-read",
        "GetUserPolicy",
        1,
        json!({"userName": "fixed", "policyName": "orders-read"}),
    );
    read["readOnly"] = json!(true);
    let mut failed = record(
        "evt-failed",
        "DeleteUserPolicy",
        1,
        json!({"userName": "fixed", "policyName": "x"}),
    );
    failed["errorCode"] = json!("AccessDenied");
    ct.seed(json!([
        record(
            "evt-own",
            "DeleteUserPolicy",
            2,
            json!({"userName": "fixed", "policyName": "orders-read"})
        ),
        record(
            "evt-other-role",
            "PutRolePolicy",
            1,
            json!({"roleName": "someone-else", "policyName": "p"})
        ),
        read,
        failed,
        record(
            "evt-old",
            "PutUserPolicy",
            30,
            json!({"userName": "fixed", "policyName": "orders-read"})
        ),
    ]));
}

fn targets(n: usize) -> Value {
    let t: Vec<Value> = (0..n)
        .map(|i| {
            json!({"table": if i == 0 { "orders".to_string() } else { format!("orders-{i}") },
                        "probes": ["read"], "key": {"pk": {"S": "k"}}})
        })
        .collect();
    json!(t)
}

/// Dummy keys, STS and DynamoDB at `server`, CloudTrail at `ct`, CloudWatch refused.
fn env(server: &FixedServer, ct: &CloudTrail) -> Vec<(String, String)> {
    let mut env = dummy_creds().env();
    env.extend([
        ("AWS_ENDPOINT_URL_STS".to_string(), server.url.clone()),
        ("AWS_ENDPOINT_URL_DYNAMODB".to_string(), server.url.clone()),
        (
            "AWS_ENDPOINT_URL_CLOUDWATCH".to_string(),
            REFUSED.to_string(),
        ),
        ("AWS_ENDPOINT_URL_CLOUDTRAIL".to_string(), ct.url.clone()),
    ]);
    env
}

/// `check` of `config` with `extra` args: the JSON (when asked for), the run, its time.
fn check_with(
    server: &FixedServer,
    ct: &CloudTrail,
    config: &Value,
    extra: &[&str],
) -> (Value, crate::support::Run, Duration) {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("c.json");
    std::fs::write(&path, config.to_string()).unwrap();
    let mut args = vec!["check", "--config", path.to_str().unwrap()];
    args.extend_from_slice(extra);
    let started = Instant::now();
    let r = canary(&args, &env(server, ct));
    let j: Value = serde_json::from_str(&r.stdout).unwrap_or(Value::Null);
    (j, r, started.elapsed())
}

fn run(server: &FixedServer, ct: &CloudTrail, n: usize) -> (Value, crate::support::Run, Duration) {
    let config = json!({"defaults": {"regions": ["us-east-1"], "timeout_ms": 2000},
                        "targets": targets(n), "metrics": {"sink": "none"}});
    check_with(server, ct, &config, &["--output", "json"])
}

#[test]
fn the_change_to_the_canarys_own_policy_is_named_and_nothing_else() {
    let (server, ct) = (aws(Some(DENIED)), cloudtrail());
    seed(&ct);
    let (j, r, _) = run(&server, &ct, 1);
    assert_eq!(r.code, 1, "{}", r.stdout);
    let p = &j["probes"][0];
    assert_eq!(p["class"], "access_denied");
    let changes = p["changes"].as_array().unwrap();
    assert_eq!(changes.len(), 1, "{changes:?}");
    let c = &changes[0];
    assert_eq!(c["event_name"], "DeleteUserPolicy");
    assert_eq!(c["event_id"], "evt-own");
    assert_eq!(
        c["who"],
        "arn:aws:sts::123456789012:assumed-role/Admin/alice@example.com"
    );
    assert_eq!(c["session"], "alice@example.com");
    assert_eq!(c["source"], "198.51.100.7");
    assert_eq!(c["region"], "us-east-1");
    assert_eq!(
        c["matched"],
        "the permissions of user fixed (the canary's own)"
    );
    assert_eq!(j["what_changed"]["calls"], 1);
    // One call: the user's events in IAM's region, by resource name, in the window.
    let calls = ct.calls();
    assert_eq!(calls.len(), 1, "{calls:?}");
    let body = &calls[0]["body"];
    assert_eq!(
        body["LookupAttributes"],
        json!([{"AttributeKey": "ResourceName", "AttributeValue": "fixed"}])
    );
    let window = body["EndTime"].as_f64().unwrap() - body["StartTime"].as_f64().unwrap();
    assert!((window - 86_400.0).abs() < 2.0, "{window}");
    assert_eq!(calls[0]["signed"], true);
    // The human report prints the change under the probe.
    let text = human(&server, &ct);
    assert!(text.contains("changed: DeleteUserPolicy"), "{text}");
    assert!(text.contains("evt-own"), "{text}");
}

fn human(server: &FixedServer, ct: &CloudTrail) -> String {
    let config = json!({"defaults": {"regions": ["us-east-1"]}, "targets": targets(1),
                        "metrics": {"sink": "none"}});
    check_with(server, ct, &config, &[]).1.stdout
}

#[test]
fn a_healthy_run_asks_cloudtrail_nothing() {
    let (server, ct) = (aws(None), cloudtrail());
    seed(&ct);
    let (j, r, _) = run(&server, &ct, 3);
    assert_eq!(r.code, 0, "{}", r.stdout);
    assert!(ct.calls().is_empty());
    assert!(j.get("what_changed").is_none(), "{j}");
}

#[test]
fn twenty_denied_probes_make_a_bounded_number_of_calls() {
    let (server, ct) = (aws(Some(DENIED)), cloudtrail());
    seed(&ct);
    let (j, r, _) = run(&server, &ct, 20);
    assert_eq!(r.code, 1);
    let probes = j["probes"].as_array().unwrap();
    assert_eq!(probes.len(), 20);
    assert!(probes
        .iter()
        .all(|p| p["changes"][0]["event_id"] == "evt-own"));
    // The twenty share a principal: one look-up serves all of them.
    assert_eq!(ct.calls().len(), 1);
    assert_eq!(j["what_changed"]["calls"], 1);
}

#[test]
fn a_refused_cloudtrail_leaves_the_results_and_says_why() {
    let (server, ct) = (aws(Some(DENIED)), cloudtrail());
    seed(&ct);
    ct.mode("refuse", 0);
    let (j, r, _) = run(&server, &ct, 1);
    assert_eq!(r.code, 1);
    let p = &j["probes"][0];
    assert_eq!(p["class"], "access_denied");
    assert!(p.get("changes").is_none());
    let note = p["changes_note"].as_str().unwrap();
    assert!(
        note.starts_with(
            "CloudTrail was not read: LookupEvents in us-east-1 failed (access_denied)"
        ),
        "{note}"
    );
    assert!(j["what_changed"]["problem"]
        .as_str()
        .unwrap()
        .contains("cloudtrail:LookupEvents"));
}

#[test]
fn a_throttled_cloudtrail_is_retried() {
    let (server, ct) = (aws(Some(DENIED)), cloudtrail());
    seed(&ct);
    ct.mode("throttle", 1);
    let (j, r, _) = run(&server, &ct, 1);
    assert_eq!(r.code, 1);
    assert_eq!(j["probes"][0]["changes"][0]["event_id"], "evt-own", "{j}");
    assert_eq!(ct.calls().len(), 2, "one throttled, one retried");
    assert_eq!(j["what_changed"]["calls"], 1);
}

#[test]
fn a_silent_cloudtrail_ends_in_time_and_leaves_the_results() {
    let (server, ct) = (aws(Some(DENIED)), cloudtrail());
    ct.mode("silent", 0);
    let (j, r, took) = run(&server, &ct, 1);
    assert_eq!(r.code, 1);
    assert_eq!(j["probes"][0]["class"], "access_denied");
    assert!(took < Duration::from_secs(15), "{took:?}");
    let problem = j["what_changed"]["problem"].as_str().unwrap();
    assert!(problem.contains("(timeout)"), "{problem}");
}

#[test]
fn an_scp_denial_says_where_its_change_would_be_logged() {
    let (server, ct) = (aws(Some(SCP)), cloudtrail());
    let (j, r, _) = run(&server, &ct, 1);
    assert_eq!(r.code, 1);
    let note = j["probes"][0]["changes_note"].as_str().unwrap();
    assert!(
        note.contains("service control policy") && note.contains("management account"),
        "{note}"
    );
    assert!(ct.calls().is_empty());
}

#[test]
fn what_changed_can_be_turned_off() {
    let (server, ct) = (aws(Some(DENIED)), cloudtrail());
    let off = json!({"defaults": {"regions": ["us-east-1"]}, "targets": targets(1),
                     "metrics": {"sink": "none"}, "what_changed": {"enabled": false}});
    let (_, r, _) = check_with(&server, &ct, &off, &["--output", "json"]);
    assert_eq!(r.code, 1);
    assert!(ct.calls().is_empty());
    let bad = json!({"targets": targets(1), "what_changed": {"lookback_hours": 0}});
    let (_, r, _) = check_with(&server, &ct, &bad, &[]);
    assert_eq!(r.code, 2);
    assert!(
        r.stderr.contains("what_changed.lookback_hours"),
        "{}",
        r.stderr
    );
}
