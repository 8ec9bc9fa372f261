//! Every class driven from recorded wire responses (JSON and XML bodies from
//! the reference, moto's XML answers, a proxy's HTML page) through the real
//! SDK client, its parser and the classifier.

use crate::support::{json_error, Answer, FixedServer};
use aws_credential_types::Credentials;
use dynamodb_auth_canary::config::{Region, TableRef};
use dynamodb_auth_canary::probe::{run_chain, ChainSpec};
use dynamodb_auth_canary::report::ProbeResult;
use std::time::Duration;

fn client(url: &str) -> aws_sdk_dynamodb::Client {
    let conf = aws_sdk_dynamodb::Config::builder()
        .behavior_version(aws_sdk_dynamodb::config::BehaviorVersion::latest())
        .region(aws_sdk_dynamodb::config::Region::new("us-east-1"))
        .endpoint_url(url)
        .credentials_provider(Credentials::new(
            "AKIDEXAMPLE",
            "secret",
            None,
            None,
            "test",
        ))
        .build();
    aws_sdk_dynamodb::Client::from_conf(conf)
}

async fn probe_against(answer: Answer) -> ProbeResult {
    let server = FixedServer::start(move |_| Some(answer.clone()));
    let spec = ChainSpec::describe_only(
        TableRef::parse("orders").unwrap(),
        Region::parse("us-east-1").unwrap(),
        Duration::from_millis(3_000),
    );
    run_chain(&client(&server.url), &spec).await.remove(0)
}

fn xml(status: u16, code: &str, message: &str) -> Answer {
    (
        status,
        vec![("content-type".into(), "text/html; charset=utf-8".into()), ("x-amzn-requestid".into(), "MOTO-REQ".into())],
        format!("<?xml version=\"1.0\" encoding=\"utf-8\"?>\n<ErrorResponse><Errors><Error><Code>{code}</Code><Message>{message}</Message><Type>Sender</Type></Error></Errors></ErrorResponse>").into_bytes(),
    )
}

#[tokio::test]
async fn dynamodb_json_errors_map_to_every_auth_class() {
    let cases = [
        ("com.amazon.coral.service#MissingAuthenticationTokenException", "Request is missing Authentication Token", "auth_missing_token"),
        ("com.amazon.coral.service#IncompleteSignatureException", "Authorization header requires 'Signature' parameter.", "auth_incomplete_signature"),
        ("com.amazon.coral.service#InvalidSignatureException", "The request signature we calculated does not match the signature you provided.", "auth_bad_signature"),
        ("com.amazon.coral.service#InvalidSignatureException", "Signature expired: 20130301T000000Z is now earlier than 20130609T094515Z (20130609T100015Z - 15 min.)", "auth_clock_skew"),
        ("com.amazon.coral.service#UnrecognizedClientException", "The security token included in the request is invalid.", "auth_invalid_token"),
        ("com.amazon.coral.service#ExpiredTokenException", "The security token included in the request is expired", "auth_expired"),
        ("com.amazon.coral.service#AccessDeniedException", "User: arn:aws:sts::123456789012:assumed-role/CanaryRole/canary is not authorized to perform: dynamodb:DescribeTable", "access_denied"),
        ("com.amazonaws.dynamodb.v20120810#ResourceNotFoundException", "Requested resource not found: Table: orders not found", "not_found"),
    ];
    for (ty, msg, class) in cases {
        let p = probe_against(json_error(400, ty, msg)).await;
        assert_eq!(p.class.as_str(), class, "{ty}: {msg} -> {p:?}");
        assert_eq!(p.code.as_deref(), ty.rsplit('#').next());
        assert_eq!(p.request_id.as_deref(), Some("REQ-FIXED-1"));
        assert!(p.hint.as_deref().is_some_and(|h| !h.is_empty()));
    }
}

#[tokio::test]
async fn throttling_is_retried_then_classified_throttled_within_the_timeout() {
    let started = std::time::Instant::now();
    let p = probe_against(json_error(
        400,
        "com.amazonaws.dynamodb.v20120810#ThrottlingException",
        "Rate of requests exceeds the allowed throughput.",
    ))
    .await;
    assert_eq!(p.class.as_str(), "throttled", "{p:?}");
    assert!(started.elapsed() < Duration::from_millis(3_500));
    let server = FixedServer::start(|_| {
        Some(json_error(
            400,
            "com.amazonaws.dynamodb.v20120810#ProvisionedThroughputExceededException",
            "x",
        ))
    });
    let spec = ChainSpec::describe_only(
        TableRef::parse("ttt").unwrap(),
        Region::parse("us-east-1").unwrap(),
        Duration::from_millis(2_000),
    );
    let r = run_chain(&client(&server.url), &spec).await;
    assert_eq!(r[0].class.as_str(), "throttled");
    assert_eq!(
        server.requests().len(),
        3,
        "the SDK retried before giving up"
    );
}

#[tokio::test]
async fn moto_xml_answers_are_read_from_the_raw_response() {
    let cases = [
        ("SignatureDoesNotMatch", "The request signature we calculated does not match the signature you provided.", "auth_bad_signature"),
        ("InvalidClientTokenId", "The security token included in the request is invalid.", "auth_invalid_token"),
        ("AccessDenied", "User: arn:aws:iam::123456789012:user/u is not authorized to perform: dynamodb:DescribeTable", "access_denied"),
        ("ExpiredToken", "The security token included in the request is expired", "auth_expired"),
    ];
    for (code, msg, class) in cases {
        let p = probe_against(xml(403, code, msg)).await;
        assert_eq!(p.class.as_str(), class, "{code}: {p:?}");
        assert_eq!(p.code.as_deref(), Some(code));
        assert_eq!(p.request_id.as_deref(), Some("MOTO-REQ"));
    }
}

#[tokio::test]
async fn proxy_html_page_and_server_errors() {
    let html = (
        502,
        vec![("content-type".into(), "text/html".into())],
        b"<html><head><title>502 Bad Gateway</title></head><body>corporate proxy</body></html>"
            .to_vec(),
    );
    let p = probe_against(html).await;
    assert_eq!(p.class.as_str(), "service_error", "{p:?}");
    assert_eq!(p.code, None);
    assert!(
        p.message.as_deref().unwrap().contains("502 Bad Gateway"),
        "{p:?}"
    );
    let p = probe_against((
        403,
        vec![],
        b"<html><title>Access blocked by proxy</title></html>".to_vec(),
    ))
    .await;
    assert_eq!(p.class.as_str(), "other", "{p:?}");
    assert!(p.message.as_deref().unwrap().contains("not an AWS error"));
    let p = probe_against(json_error(
        500,
        "com.amazonaws.dynamodb.v20120810#InternalServerError",
        "Internal server error",
    ))
    .await;
    assert_eq!(p.class.as_str(), "service_error");
}
