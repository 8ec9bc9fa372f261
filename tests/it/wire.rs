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
    // Not an AWS error body: something other than AWS answered, whatever
    // the status, and the hint points at the endpoint override.
    let p = probe_against(html).await;
    assert_eq!(p.class.as_str(), "not_aws", "{p:?}");
    assert!(p.hint.as_deref().unwrap().contains("endpoint override"));
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
    assert_eq!(p.class.as_str(), "not_aws", "{p:?}");
    assert!(p.message.as_deref().unwrap().contains("not an AWS error"));
    // A local development server that does not implement DynamoDB.
    let p = probe_against((
        501,
        vec![("content-type".into(), "text/plain".into())],
        b"Unsupported method ('POST')".to_vec(),
    ))
    .await;
    assert_eq!(p.class.as_str(), "not_aws", "{p:?}");
    let p = probe_against(json_error(
        500,
        "com.amazonaws.dynamodb.v20120810#InternalServerError",
        "Internal server error",
    ))
    .await;
    assert_eq!(p.class.as_str(), "service_error");
}

/// An AccessDeniedException as DynamoDB sends it (HTTP 400, JSON).
fn denied(message: &str) -> Answer {
    json_error(
        400,
        "com.amazon.coral.service#AccessDeniedException",
        message,
    )
}

#[tokio::test]
async fn every_denying_layer_is_reported_through_the_sdk() {
    let head = "User: arn:aws:sts::123456789012:assumed-role/CanaryRole/canary is not authorized to perform: dynamodb:DescribeTable on resource: arn:aws:dynamodb:us-east-1:123456789012:table/orders";
    let arn =
        "arn:aws:organizations::111122223333:policy/o-abcd1234/service_control_policy/p-abcd1234";
    let layers = [
        ("identity-based policy", "identity_policy"),
        ("permissions boundary", "permissions_boundary"),
        ("session policy", "session_policy"),
        ("sessions policy", "session_policy"),
        ("service control policy", "scp"),
        ("resource control policy", "rcp"),
        ("VPC endpoint policy", "vpc_endpoint_policy"),
        (
            "VPC endpoint policy transitively through a service control policy",
            "vpc_endpoint_policy",
        ),
        ("resource-based policy", "resource_policy"),
        ("role trust policy", "trust_policy"),
    ];
    for (phrase, layer) in layers {
        let forms = [
            (
                format!("{head} because no {phrase} allows the dynamodb:DescribeTable action"),
                false,
                None,
            ),
            (
                format!("{head} with an explicit deny in a {phrase}"),
                true,
                None,
            ),
            (
                format!("{head} with an explicit deny in a {phrase}: {arn}"),
                true,
                Some(arn),
            ),
        ];
        for (message, explicit, policy_arn) in forms {
            let p = probe_against(denied(&message)).await;
            assert_eq!(p.class.as_str(), "access_denied", "{message}");
            let d = serde_json::to_value(p.denied_by.as_ref().expect("denied_by")).unwrap();
            assert_eq!(d["layer"], layer, "{message}");
            assert_eq!(d["explicit"], explicit, "{message}");
            assert_eq!(d["policy_arn"].as_str(), policy_arn, "{message}");
            assert_eq!(p.request_id.as_deref(), Some("REQ-FIXED-1"));
        }
    }
    let p = probe_against(denied(head)).await;
    let d = serde_json::to_value(p.denied_by.as_ref().unwrap()).unwrap();
    assert_eq!(
        d,
        serde_json::json!({"layer": "unknown", "explicit": false, "policy_arn": null})
    );
    let p = probe_against(denied(&format!(
        "{head} with an explicit deny in a service control policy: {arn}"
    )))
    .await;
    assert!(
        p.hint
            .as_deref()
            .unwrap()
            .contains("organization's administrators"),
        "{p:?}"
    );
    let p = probe_against(denied(&format!(
        "{head} because no VPC endpoint policy allows the dynamodb:DescribeTable action"
    )))
    .await;
    assert!(
        p.hint.as_deref().unwrap().contains("endpoint's owner"),
        "{p:?}"
    );
}

#[tokio::test]
async fn kms_denials_and_lost_keys_are_their_own_classes() {
    let p = probe_against(denied("KMS key access denied error: com.amazonaws.services.kms.model.AWSKMSException: User: arn:aws:sts::123456789012:assumed-role/CanaryRole/canary is not authorized to perform: kms:Decrypt on resource: arn:aws:kms:us-east-1:123456789012:key/abcd (Service: AWSKMS; Status Code: 400; Error Code: AccessDeniedException)")).await;
    assert_eq!(p.class.as_str(), "kms_access_denied", "{p:?}");
    assert!(p.hint.as_deref().unwrap().contains("key policy"));
    let since = dynamodb_auth_canary::clock::epoch_seconds() - 86_400;
    let body = serde_json::json!({"Table": {"TableName": "orders", "TableStatus": "INACCESSIBLE_ENCRYPTION_CREDENTIALS",
        "KeySchema": [{"AttributeName": "pk", "KeyType": "HASH"}],
        "AttributeDefinitions": [{"AttributeName": "pk", "AttributeType": "S"}],
        "SSEDescription": {"Status": "ENABLED", "SSEType": "KMS",
            "KMSMasterKeyArn": "arn:aws:kms:us-east-1:123456789012:key/lost-key",
            "InaccessibleEncryptionDateTime": since}}});
    let p = probe_against((
        200,
        vec![("content-type".into(), "application/x-amz-json-1.0".into())],
        body.to_string().into_bytes(),
    ))
    .await;
    assert_eq!(p.class.as_str(), "kms_inaccessible", "{p:?}");
    let m = p.message.as_deref().unwrap();
    assert!(
        m.contains("arn:aws:kms:us-east-1:123456789012:key/lost-key"),
        "{m}"
    );
    assert!(m.contains("archives the table in 14"), "{m}");
}
