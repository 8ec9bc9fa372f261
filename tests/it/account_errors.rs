//! Does the account see it too: on an authentication failure the canary
//! reads the account's DynamoDB `UserErrors` (CloudWatch GetMetricData, in
//! CBOR, answered here by a fixed server) and says in the probe, the log
//! line and the report whether the applications' errors rose with its own.

use crate::support::{canary, dummy_creds, json_error, sts_ok, Answer, FixedServer, REFUSED};
use ciborium::Value as Cbor;
use serde_json::{json, Value};

const DENIED: &str = "User: arn:aws:iam::123456789012:user/fixed is not authorized to perform: dynamodb:GetItem on resource: arn:aws:dynamodb:us-east-1:123456789012:table/orders because no identity-based policy allows the dynamodb:GetItem action";
const GET_METRIC_DATA: &str = "/service/GraniteServiceVersion20100801/operation/GetMetricData";

fn cbor(status: u16, v: &Cbor) -> Answer {
    let mut body = Vec::new();
    ciborium::into_writer(v, &mut body).unwrap();
    (
        status,
        vec![
            ("smithy-protocol".into(), "rpc-v2-cbor".into()),
            ("content-type".into(), "application/cbor".into()),
        ],
        body,
    )
}

fn text(s: &str) -> Cbor {
    Cbor::Text(s.into())
}

/// A GetMetricData answer: `(seconds ago, value)` datapoints.
fn user_errors(points: &[(i64, f64)]) -> Answer {
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64;
    let ts = points
        .iter()
        .map(|(ago, _)| Cbor::Tag(1, Box::new(Cbor::Float((now - ago) as f64))))
        .collect();
    let vals = points.iter().map(|(_, v)| Cbor::Float(*v)).collect();
    let result = Cbor::Map(vec![
        (text("Id"), text("usererrors")),
        (text("Label"), text("UserErrors")),
        (text("Timestamps"), Cbor::Array(ts)),
        (text("Values"), Cbor::Array(vals)),
        (text("StatusCode"), text("Complete")),
    ]);
    cbor(
        200,
        &Cbor::Map(vec![(text("MetricDataResults"), Cbor::Array(vec![result]))]),
    )
}

/// STS as user `fixed`, DynamoDB denying (or not), CloudWatch answering `cw`.
fn aws(deny: bool, cw: Answer) -> FixedServer {
    FixedServer::start(move |seen| {
        let target = seen
            .headers
            .get("x-amz-target")
            .cloned()
            .unwrap_or_default();
        Some(if seen.path == GET_METRIC_DATA {
            cw.clone()
        } else if target.starts_with("DynamoDB_") {
            if deny {
                json_error(400, "AccessDeniedException", DENIED)
            } else {
                (200, vec![], b"{}".to_vec())
            }
        } else {
            sts_ok()
        })
    })
}

fn run(server: &FixedServer, extra: Value) -> (Value, crate::support::Run) {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("c.json");
    let mut config = json!({"defaults": {"regions": ["us-east-1"]},
        "targets": [{"table": "orders", "probes": ["read"], "key": {"pk": {"S": "k"}}}],
        "metrics": {"sink": "none"}, "what_changed": {"enabled": false}});
    if let (Some(c), Some(e)) = (config.as_object_mut(), extra.as_object()) {
        c.extend(e.clone());
    }
    std::fs::write(&path, config.to_string()).unwrap();
    let mut env = dummy_creds().env();
    env.extend([
        ("AWS_ENDPOINT_URL_STS".to_string(), server.url.clone()),
        ("AWS_ENDPOINT_URL_DYNAMODB".to_string(), server.url.clone()),
        (
            "AWS_ENDPOINT_URL_CLOUDWATCH".to_string(),
            server.url.clone(),
        ),
        (
            "AWS_ENDPOINT_URL_CLOUDTRAIL".to_string(),
            REFUSED.to_string(),
        ),
    ]);
    let r = canary(
        &[
            "check",
            "--config",
            path.to_str().unwrap(),
            "--output",
            "json",
        ],
        &env,
    );
    (serde_json::from_str(&r.stdout).unwrap_or(Value::Null), r)
}

fn reads(server: &FixedServer) -> usize {
    server
        .requests()
        .iter()
        .filter(|s| s.path == GET_METRIC_DATA)
        .count()
}

#[test]
fn the_page_says_the_accounts_applications_are_failing_too() {
    // 40 errors in the last 15 minutes; 4 in the hour before.
    let points = [(60, 20.0), (300, 20.0), (1_800, 2.0), (3_000, 2.0)];
    let server = aws(true, user_errors(&points));
    let (j, r) = run(&server, json!({}));
    assert_eq!(r.code, 1, "{}", r.stdout);
    let p = &j["probes"][0];
    assert_eq!(p["class"], "access_denied");
    let says = p["account_errors"].as_str().unwrap();
    assert!(says.starts_with("UserErrors in us-east-1: 40 in the last 15 min (the canary's own: 1 this run), 1.0 per 15 min in the hour before: the account's applications are failing too"), "{says}");
    let region = &j["account_errors"]["regions"][0];
    assert_eq!(region["rose"], true);
    assert_eq!(region["recent"], 40.0);
    assert_eq!(reads(&server), 1);
    // The request asks for the account's UserErrors, a minute at a time.
    let req = server
        .requests()
        .into_iter()
        .find(|s| s.path == GET_METRIC_DATA)
        .unwrap();
    let body: Cbor = ciborium::from_reader(req.body.as_slice()).unwrap();
    let dump = format!("{body:?}");
    assert!(
        dump.contains("AWS/DynamoDB") && dump.contains("UserErrors") && dump.contains("Sum"),
        "{dump}"
    );
}

#[test]
fn the_canary_failing_alone_is_said_too() {
    let server = aws(true, user_errors(&[(120, 2.0), (2_000, 1.0)]));
    let (j, _) = run(&server, json!({}));
    let says = j["probes"][0]["account_errors"].as_str().unwrap();
    assert!(
        says.ends_with("no rise: the canary may be failing alone"),
        "{says}"
    );
    assert_eq!(j["account_errors"]["regions"][0]["rose"], false);
}

#[test]
fn a_healthy_run_reads_nothing() {
    let server = aws(false, user_errors(&[(60, 99.0)]));
    let (j, r) = run(&server, json!({}));
    assert_eq!(r.code, 0, "{}", r.stdout);
    assert_eq!(reads(&server), 0);
    assert!(j.get("account_errors").is_none());
}

#[test]
fn a_refused_read_leaves_the_results_and_says_why() {
    let refused = Cbor::Map(vec![
        (text("__type"), text("AccessDenied")),
        (text("message"), text("User: arn:aws:iam::123456789012:user/fixed is not authorized to perform: cloudwatch:GetMetricData")),
    ]);
    let server = aws(true, cbor(403, &refused));
    let (j, r) = run(&server, json!({}));
    assert_eq!(r.code, 1);
    let p = &j["probes"][0];
    assert_eq!(p["class"], "access_denied");
    let says = p["account_errors"].as_str().unwrap();
    assert!(
        says.starts_with(
            "UserErrors was not read: GetMetricData in us-east-1 failed (access_denied)"
        ),
        "{says}"
    );
    assert!(j["account_errors"]["regions"]
        .as_array()
        .unwrap()
        .is_empty());
}

#[test]
fn it_can_be_turned_off() {
    let server = aws(true, user_errors(&[(60, 99.0)]));
    let (j, r) = run(&server, json!({"account_errors": {"enabled": false}}));
    assert_eq!(r.code, 1);
    assert_eq!(reads(&server), 0);
    assert!(j["probes"][0].get("account_errors").is_none());
}
