//! Metrics: the CBOR PutMetricData requests the SDK really sends (captured by
//! a local listener, since moto cannot parse CBOR), batching within the API's
//! limits, EMF fallback when PutMetricData fails, and the contract table of
//! docs/metrics-and-alarms.md.

use crate::support::{canary, check, closed_port, Answer, FixedServer, Seen};
use ciborium::Value as Cbor;
use dynamodb_auth_canary::metrics::contract::{contract_markdown, Datum, Unit};
use dynamodb_auth_canary::metrics::sinks::{
    put_metric_data, MAX_DATUMS_PER_REQUEST, MAX_REQUEST_BYTES,
};
use serde_json::{json, Value};
use std::time::Duration;

fn cbor_ok() -> Answer {
    (
        200,
        vec![
            ("smithy-protocol".into(), "rpc-v2-cbor".into()),
            ("content-type".into(), "application/cbor".into()),
        ],
        vec![0xa0],
    )
}

fn cbor_error(status: u16, ty: &str, message: &str) -> Answer {
    let mut body = Vec::new();
    let v = Cbor::Map(vec![
        (Cbor::Text("__type".into()), Cbor::Text(ty.into())),
        (Cbor::Text("message".into()), Cbor::Text(message.into())),
    ]);
    ciborium::into_writer(&v, &mut body).unwrap();
    (
        status,
        vec![
            ("smithy-protocol".into(), "rpc-v2-cbor".into()),
            ("content-type".into(), "application/cbor".into()),
        ],
        body,
    )
}

fn describe_ok() -> Answer {
    let t = json!({"Table": {"TableName": "ok-table", "KeySchema": [{"AttributeName": "pk", "KeyType": "HASH"}],
        "AttributeDefinitions": [{"AttributeName": "pk", "AttributeType": "S"}]}});
    (
        200,
        vec![("content-type".into(), "application/x-amz-json-1.0".into())],
        t.to_string().into_bytes(),
    )
}

/// STS and DynamoDB answers for a mixed run: `ok-table` is allowed,
/// `secret-table` is denied.
fn aws(req: &Seen, cloudwatch: &dyn Fn() -> Answer) -> Answer {
    let body = String::from_utf8_lossy(&req.body);
    if req.path.contains("PutMetricData") {
        return cloudwatch();
    }
    if body.contains("Action=GetCallerIdentity") {
        return crate::support::sts_ok();
    }
    if body.contains("secret-table") {
        return crate::support::json_error(400, "com.amazon.coral.service#AccessDeniedException", "User: arn:aws:iam::123456789012:user/fixed is not authorized to perform: dynamodb:DescribeTable");
    }
    describe_ok()
}

fn mixed_config(sink: &str, detail: &str) -> Value {
    json!({"targets": [{"table": "ok-table", "regions": ["us-east-1", "eu-west-1"]}, {"table": "secret-table"}],
           "metrics": {"sink": sink, "detail": detail, "namespace": "Canary/Test"}})
}

/// The CBOR body, gunzipped when the SDK compressed it (PutMetricData
/// supports request compression above 10 KiB).
fn decode(req: &Seen) -> Cbor {
    let body = if req
        .headers
        .get("content-encoding")
        .is_some_and(|e| e == "gzip")
    {
        let mut out = Vec::new();
        std::io::Read::read_to_end(&mut flate2::read::GzDecoder::new(&req.body[..]), &mut out)
            .unwrap();
        out
    } else {
        req.body.clone()
    };
    ciborium::from_reader(&body[..]).expect("the body is CBOR")
}

fn get<'a>(m: &'a Cbor, key: &str) -> Option<&'a Cbor> {
    m.as_map()?
        .iter()
        .find(|(k, _)| k.as_text() == Some(key))
        .map(|(_, v)| v)
}

fn text(v: Option<&Cbor>) -> String {
    v.and_then(Cbor::as_text).unwrap_or_default().to_string()
}

fn number(v: Option<&Cbor>) -> f64 {
    match v {
        Some(Cbor::Float(f)) => *f,
        Some(Cbor::Integer(i)) => i128::from(*i) as f64,
        other => panic!("not a number: {other:?}"),
    }
}

/// A captured datum: name, unit, dimensions, value.
type Captured = (String, String, Vec<(String, String)>, f64);

/// The namespace and every datum of a captured request.
fn datums_of(req: &Seen) -> (String, Vec<Captured>) {
    let v = decode(req);
    let ns = text(get(&v, "Namespace"));
    let data = get(&v, "MetricData")
        .and_then(Cbor::as_array)
        .expect("MetricData");
    let out = data
        .iter()
        .map(|d| {
            let dims = get(d, "Dimensions")
                .and_then(Cbor::as_array)
                .map(|a| {
                    a.iter()
                        .map(|x| (text(get(x, "Name")), text(get(x, "Value"))))
                        .collect()
                })
                .unwrap_or_default();
            (
                text(get(d, "MetricName")),
                text(get(d, "Unit")),
                dims,
                number(get(d, "Value")),
            )
        })
        .collect();
    (ns, out)
}

#[test]
fn put_metric_data_carries_the_contract_for_a_mixed_run() {
    let server = FixedServer::start(|req| Some(aws(req, &cbor_ok)));
    let r = check(
        &mixed_config("cloudwatch", "probe"),
        &crate::support::dummy_creds(),
        &["--endpoint-url", &server.url],
        &[],
    );
    assert_eq!(r.code, 1, "{}", r.stdout);
    let j = r.json();
    assert_eq!(j["metrics"]["sink"], "cloudwatch", "{}", r.stdout);
    let puts: Vec<Seen> = server
        .requests()
        .into_iter()
        .filter(|s| s.path.contains("PutMetricData"))
        .collect();
    assert_eq!(puts.len(), 1, "one request for a typical run");
    assert_eq!(
        puts[0].path,
        "/service/GraniteServiceVersion20100801/operation/PutMetricData"
    );
    let (ns, data) = datums_of(&puts[0]);
    assert_eq!(ns, "Canary/Test");
    assert_eq!(
        j["metrics"]["datums"].as_u64().unwrap() as usize,
        data.len()
    );
    // Every datum carries the deployment's name first; a command-line run
    // that names none publishes as `cli`.
    let find = |name: &str, dims: &[(&str, &str)]| {
        let mut want = vec![("Canary", "cli")];
        want.extend_from_slice(dims);
        data.iter()
            .find(|(n, _, d, _)| {
                n == name
                    && d.len() == want.len()
                    && d.iter().zip(&want).all(|((a, b), (c, e))| a == c && b == e)
            })
            .unwrap_or_else(|| panic!("{name} {want:?} not in {data:?}"))
    };
    assert_eq!(find("CanaryRuns", &[]).3, 1.0);
    assert_eq!(find("CanaryRuns", &[]).1, "Count");
    assert_eq!(find("AuthFailures", &[]).3, 1.0);
    assert_eq!(find("AuthFailures", &[("Class", "access_denied")]).3, 1.0);
    assert_eq!(find("ProbeFailures", &[]).3, 1.0);
    assert_eq!(find("UnexpectedAccess", &[]).3, 0.0);
    assert_eq!(find("IdentityMismatch", &[]).3, 0.0);
    assert_eq!(find("UnhealthyRuns", &[]).3, 1.0);
    assert_eq!(find("ProbesNotRun", &[]).3, 0.0);
    assert!(data
        .iter()
        .all(|(_, _, d, _)| d[0] == ("Canary".to_string(), "cli".to_string())));
    let ok = find(
        "ProbeSuccess",
        &[
            ("Table", "ok-table"),
            ("Region", "eu-west-1"),
            ("Probe", "describe"),
        ],
    );
    assert_eq!(ok.3, 1.0);
    let bad = find(
        "ProbeSuccess",
        &[
            ("Table", "secret-table"),
            ("Region", "us-east-1"),
            ("Probe", "describe"),
        ],
    );
    assert_eq!(bad.3, 0.0);
    let lat = find(
        "ProbeLatency",
        &[
            ("Table", "ok-table"),
            ("Region", "us-east-1"),
            ("Probe", "describe"),
        ],
    );
    assert_eq!(lat.1, "Milliseconds");
    assert!(lat.3 > 0.0);
    for (_, _, dims, value) in &data {
        assert!(value.is_finite());
        for (_, v) in dims {
            assert!(!v.contains("123456789012") && !v.contains("arn:"), "{v}");
        }
    }
}

#[tokio::test]
async fn twenty_five_hundred_datums_go_out_in_requests_within_the_limits() {
    let server = FixedServer::start(|_| Some(cbor_ok()));
    let conf = aws_sdk_cloudwatch::Config::builder()
        .behavior_version(aws_sdk_cloudwatch::config::BehaviorVersion::latest())
        .region(aws_sdk_cloudwatch::config::Region::new("us-east-1"))
        .endpoint_url(&server.url)
        .credentials_provider(aws_credential_types::Credentials::new(
            "AKIDEXAMPLE",
            "secret",
            None,
            None,
            "test",
        ))
        .build();
    let client = aws_sdk_cloudwatch::Client::from_conf(conf);
    let datums: Vec<Datum> = (0..2_500)
        .map(|i| Datum {
            name: "ProbeLatency",
            unit: Unit::Milliseconds,
            dimensions: vec![
                ("Table", format!("table-{i:04}-{}", "x".repeat(200))),
                ("Region", "us-east-1".into()),
                ("Probe", "read".into()),
            ],
            value: i as f64,
        })
        .collect();
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    let requests = put_metric_data(&client, "NS", &datums, deadline)
        .await
        .unwrap();
    let seen = server.requests();
    assert_eq!(requests, seen.len());
    assert!(seen.len() >= 3);
    let mut total = 0;
    for s in &seen {
        assert!(s.body.len() <= MAX_REQUEST_BYTES, "{} bytes", s.body.len());
        let (_, data) = datums_of(s);
        assert!(data.len() <= MAX_DATUMS_PER_REQUEST);
        total += data.len();
    }
    assert_eq!(total, 2_500);
}

/// EMF lines written to stderr by the command line.
fn emf(stderr: &str) -> Vec<Value> {
    stderr
        .lines()
        .filter_map(|l| serde_json::from_str::<Value>(l).ok())
        .filter(|v| v.get("_aws").is_some())
        .collect()
}

/// The value of `name` with dimensions `Canary=cli` then `dims`.
fn emf_value(lines: &[Value], name: &str, dims: &[(&str, &str)]) -> Option<f64> {
    let mut all = vec![("Canary", "cli")];
    all.extend_from_slice(dims);
    emf_value_of(lines, name, &all)
}

fn emf_value_of(lines: &[Value], name: &str, dims: &[(&str, &str)]) -> Option<f64> {
    lines.iter().find_map(|l| {
        let d = &l["_aws"]["CloudWatchMetrics"][0];
        let names: Vec<&str> = d["Dimensions"][0]
            .as_array()?
            .iter()
            .filter_map(Value::as_str)
            .collect();
        let want: Vec<&str> = dims.iter().map(|(n, _)| *n).collect();
        let has = d["Metrics"].as_array()?.iter().any(|m| m["Name"] == name);
        (has && names == want && dims.iter().all(|(n, v)| l[*n] == *v)).then(|| l[name].as_f64())?
    })
}

#[test]
fn auto_falls_back_to_emf_when_put_metric_data_is_denied() {
    let server = FixedServer::start(|req| {
        Some(aws(req, &|| {
            cbor_error(
                403,
                "AccessDenied",
                "User is not authorized to perform: cloudwatch:PutMetricData",
            )
        }))
    });
    let r = check(
        &mixed_config("auto", "summary"),
        &crate::support::dummy_creds(),
        &["--endpoint-url", &server.url],
        &[],
    );
    let j = r.json();
    assert_eq!(j["metrics"]["sink"], "emf", "{}", r.stdout);
    assert_eq!(
        j["metrics"]["fallback_class"], "access_denied",
        "{}",
        r.stdout
    );
    assert!(j["metrics"]["fallback_reason"]
        .as_str()
        .unwrap()
        .contains("PutMetricData failed"));
    let lines = emf(&r.stderr);
    assert_eq!(
        emf_value(&lines, "CanaryRuns", &[]),
        Some(1.0),
        "{}",
        r.stderr
    );
    assert_eq!(emf_value(&lines, "AuthFailures", &[]), Some(1.0));
    assert_eq!(
        emf_value(&lines, "AuthFailures", &[("Class", "access_denied")]),
        Some(1.0)
    );
    assert_eq!(
        j["metrics"]["datums"].as_u64().unwrap() as usize,
        lines
            .iter()
            .map(|l| l["_aws"]["CloudWatchMetrics"][0]["Metrics"]
                .as_array()
                .unwrap()
                .len())
            .sum::<usize>()
    );
    // The run's health is the run's, not the publisher's.
    assert_eq!(r.code, 1);
    assert_eq!(j["summary"]["failed"], 1);
}

#[test]
fn auto_falls_back_to_emf_when_the_metrics_endpoint_is_unreachable() {
    let server = FixedServer::start(|req| Some(aws(req, &cbor_ok)));
    let env = vec![
        ("AWS_ENDPOINT_URL".to_string(), server.url.clone()),
        (
            "AWS_ENDPOINT_URL_CLOUDWATCH".to_string(),
            format!("http://127.0.0.1:{}", closed_port()),
        ),
    ];
    let r = check(
        &json!({"targets": [{"table": "ok-table"}]}),
        &crate::support::dummy_creds(),
        &[],
        &env,
    );
    assert_eq!(r.code, 0, "{}", r.stdout);
    let j = r.json();
    assert_eq!(j["metrics"]["sink"], "emf");
    assert_eq!(j["metrics"]["fallback_class"], "endpoint_unreachable");
    let lines = emf(&r.stderr);
    assert_eq!(emf_value(&lines, "CanaryRuns", &[]), Some(1.0));
    assert_eq!(emf_value(&lines, "AuthFailures", &[]), Some(0.0));
}

#[test]
fn auto_falls_back_to_emf_when_credentials_are_missing() {
    let server = FixedServer::start(|req| Some(aws(req, &cbor_ok)));
    let r = canary(
        &[
            "check",
            "--table",
            "ok-table",
            "--endpoint-url",
            &server.url,
            "--output",
            "json",
        ],
        &[],
    );
    assert_eq!(r.code, 1);
    let j = r.json();
    assert_eq!(j["metrics"]["sink"], "emf", "{}", r.stdout);
    assert_eq!(j["metrics"]["fallback_class"], "credentials_missing");
    let lines = emf(&r.stderr);
    assert_eq!(emf_value(&lines, "CanaryRuns", &[]), Some(1.0));
    // The identity check and the probe both fail for want of credentials.
    assert_eq!(emf_value(&lines, "AuthFailures", &[]), Some(2.0));
    assert_eq!(
        emf_value(&lines, "AuthFailures", &[("Class", "credentials_missing")]),
        Some(2.0)
    );
    assert!(server.requests().is_empty(), "nothing was sent unsigned");
}

#[test]
fn a_named_deployment_publishes_under_its_own_canary_dimension() {
    let server = FixedServer::start(|req| Some(aws(req, &cbor_ok)));
    let env = vec![("CANARY_NAME".to_string(), "from-env".to_string())];
    for (args, name) in [
        (vec![], "from-env"),
        (vec!["--canary", "prod-eu"], "prod-eu"),
    ] {
        let mut all = vec!["--endpoint-url", server.url.as_str(), "--sink", "emf"];
        all.extend_from_slice(&args);
        let r = check(
            &json!({"targets": [{"table": "ok-table"}]}),
            &crate::support::dummy_creds(),
            &all,
            &env,
        );
        assert_eq!(r.code, 0, "{r:?}");
        let lines = emf(&r.stderr);
        assert_eq!(
            emf_value_of(&lines, "CanaryRuns", &[("Canary", name)]),
            Some(1.0),
            "{}",
            r.stderr
        );
        assert!(lines.iter().all(|l| l["Canary"] == name), "{}", r.stderr);
    }
    let r = check(
        &json!({"targets": [{"table": "ok-table"}]}),
        &crate::support::dummy_creds(),
        &[
            "--endpoint-url",
            server.url.as_str(),
            "--canary",
            "has/slash",
        ],
        &[],
    );
    assert_eq!(r.code, 2, "{r:?}");
    assert!(
        r.stderr
            .contains("--canary: \"has/slash\" is not a canary name"),
        "{}",
        r.stderr
    );
}

#[test]
fn docs_contract_table_is_the_code_contract() {
    let doc =
        std::fs::read_to_string(crate::support::root().join("docs/metrics-and-alarms.md")).unwrap();
    let table = contract_markdown();
    assert_eq!(
        table.lines().count(),
        dynamodb_auth_canary::metrics::contract::CONTRACT.len() + 2,
        "a header, a rule and one row per metric:\n{table}"
    );
    assert!(
        doc.contains(&contract_markdown()),
        "docs/metrics-and-alarms.md's metrics table differs from metrics::CONTRACT; paste:\n{}",
        contract_markdown()
    );
}

#[test]
fn metrics_command_prints_cost_for_both_details() {
    let dir = tempfile::tempdir().unwrap();
    let regions = [
        "us-east-1",
        "us-east-2",
        "us-west-2",
        "eu-west-1",
        "eu-central-1",
        "ap-south-1",
    ];
    let targets: Vec<Value> = (0..40)
        .map(|i| json!({"table": format!("table{i}")}))
        .collect();
    for (detail, min_metrics) in [("summary", 5), ("probe", 485)] {
        let path = dir.path().join(format!("{detail}.json"));
        std::fs::write(&path, json!({"defaults": {"regions": regions}, "targets": targets, "metrics": {"detail": detail}}).to_string()).unwrap();
        let r = canary(
            &[
                "metrics",
                "--config",
                path.to_str().unwrap(),
                "--schedule-minutes",
                "5",
                "--output",
                "json",
            ],
            &[],
        );
        assert_eq!(r.code, 0, "{r:?}");
        let j: Value = serde_json::from_str(&r.stdout).unwrap();
        assert!(j["healthy_metrics"].as_u64().unwrap() >= min_metrics);
        assert_eq!(j["probe_series"], 240);
        assert_eq!(j["runs_per_month"], 8760.0);
        assert!(j["usd_healthy"].as_f64().unwrap() > 0.0);
        let human = canary(&["metrics", "--config", path.to_str().unwrap()], &[]);
        assert!(
            human.stdout.contains("Estimated CloudWatch metrics cost"),
            "{}",
            human.stdout
        );
    }
}
