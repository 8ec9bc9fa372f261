//! Turning every failed AWS call into a stable class, code, request id and hint.
//!
//! The service's error code is read first; when the SDK could not parse the
//! error (a proxy's page, an emulator answering XML) the raw HTTP response is
//! read instead. Credential-chain failures are found by walking `source()`.
//! The folder also owns `explain`: which layer denied a request.

pub mod explain;
pub mod transport;

use crate::classify::explain::{denied_by, DeniedBy};
use crate::redact::{redact, truncate};
use aws_config::meta::ProviderChainError;
use aws_credential_types::provider::error::CredentialsError;
use aws_smithy_runtime_api::client::orchestrator::HttpResponse;
use aws_smithy_runtime_api::client::result::SdkError;
use aws_smithy_types::error::metadata::ProvideErrorMetadata;
use serde::{Deserialize, Serialize};
use std::error::Error as StdError;

/// The failure classes: a contract shared by the report, metrics and alarms.
#[derive(
    Debug, Clone, Copy, Default, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize,
)]
#[serde(rename_all = "snake_case")]
pub enum Class {
    /// Success.
    #[default]
    Ok,
    /// The caller is not the expected account, role, user or ARN.
    IdentityMismatch,
    /// No provider in the credential chain supplied credentials.
    CredentialsMissing,
    /// A credential provider failed (bad profile, SSO, process, web identity).
    CredentialsError,
    /// The credentials expire soon (a warning; the run stays healthy).
    CredentialsExpiring,
    /// The request reached the service without a signature.
    AuthMissingToken,
    /// The signature was malformed or incomplete.
    AuthIncompleteSignature,
    /// The access key id (or session token) is not known to AWS.
    AuthInvalidToken,
    /// The signature does not match: wrong secret key.
    AuthBadSignature,
    /// The request's time is too far from the service's clock.
    AuthClockSkew,
    /// The session token has expired.
    AuthExpired,
    /// IAM refused the action.
    AccessDenied,
    /// KMS refused the table's customer managed key to the caller.
    KmsAccessDenied,
    /// DynamoDB itself can no longer use the table's KMS key.
    KmsInaccessible,
    /// AssumeRole into a target's role was refused.
    AssumeRoleDenied,
    /// A must-deny probe was allowed: a least-privilege regression.
    UnexpectedAccess,
    /// The table does not exist here.
    NotFound,
    /// Throttled after the SDK's retries.
    Throttled,
    /// Nothing answered at the endpoint.
    EndpointUnreachable,
    /// The TLS handshake failed: a certificate not trusted (unknown issuer,
    /// expired, another name) or an endpoint that does not speak TLS.
    TlsError,
    /// A proxy between the canary and AWS refused, asked for credentials or
    /// did not answer.
    ProxyError,
    /// No answer within the probe's timeout or the run's deadline.
    Timeout,
    /// The service failed (5xx).
    ServiceError,
    /// Something other than AWS answered (a proxy's page, a local server).
    NotAws,
    /// Anything else.
    Other,
}

impl Class {
    /// Every class, in report order.
    pub const ALL: &'static [Class] = &[
        Class::Ok,
        Class::IdentityMismatch,
        Class::CredentialsMissing,
        Class::CredentialsError,
        Class::CredentialsExpiring,
        Class::AuthMissingToken,
        Class::AuthIncompleteSignature,
        Class::AuthInvalidToken,
        Class::AuthBadSignature,
        Class::AuthClockSkew,
        Class::AuthExpired,
        Class::AccessDenied,
        Class::KmsAccessDenied,
        Class::KmsInaccessible,
        Class::AssumeRoleDenied,
        Class::UnexpectedAccess,
        Class::NotFound,
        Class::Throttled,
        Class::EndpointUnreachable,
        Class::TlsError,
        Class::ProxyError,
        Class::Timeout,
        Class::ServiceError,
        Class::NotAws,
        Class::Other,
    ];

    /// The class name used in JSON and metric dimensions.
    pub fn as_str(self) -> &'static str {
        match self {
            Class::Ok => "ok",
            Class::IdentityMismatch => "identity_mismatch",
            Class::CredentialsMissing => "credentials_missing",
            Class::CredentialsError => "credentials_error",
            Class::CredentialsExpiring => "credentials_expiring",
            Class::AuthMissingToken => "auth_missing_token",
            Class::AuthIncompleteSignature => "auth_incomplete_signature",
            Class::AuthInvalidToken => "auth_invalid_token",
            Class::AuthBadSignature => "auth_bad_signature",
            Class::AuthClockSkew => "auth_clock_skew",
            Class::AuthExpired => "auth_expired",
            Class::AccessDenied => "access_denied",
            Class::KmsAccessDenied => "kms_access_denied",
            Class::KmsInaccessible => "kms_inaccessible",
            Class::AssumeRoleDenied => "assume_role_denied",
            Class::UnexpectedAccess => "unexpected_access",
            Class::NotFound => "not_found",
            Class::Throttled => "throttled",
            Class::EndpointUnreachable => "endpoint_unreachable",
            Class::TlsError => "tls_error",
            Class::ProxyError => "proxy_error",
            Class::Timeout => "timeout",
            Class::ServiceError => "service_error",
            Class::NotAws => "not_aws",
            Class::Other => "other",
        }
    }

    /// Credential, signature and key failures, and a trust or proxy failure
    /// that breaks every call: the classes that page.
    /// (`access_denied` counts too, but only on allow-expected probes,
    /// which the caller decides.)
    pub fn is_auth(self) -> bool {
        matches!(
            self,
            Class::CredentialsMissing
                | Class::CredentialsError
                | Class::AuthMissingToken
                | Class::AuthIncompleteSignature
                | Class::AuthInvalidToken
                | Class::AuthBadSignature
                | Class::AuthClockSkew
                | Class::AuthExpired
                | Class::AssumeRoleDenied
                | Class::KmsAccessDenied
                | Class::KmsInaccessible
                | Class::TlsError
                | Class::ProxyError
        )
    }

    /// A one-line remediation hint: what to check first.
    pub fn hint(self) -> &'static str {
        match self {
            Class::Ok => "",
            Class::IdentityMismatch => "the credentials belong to another principal than expected: check AWS_PROFILE, the function's execution role, and which account the deployment targeted",
            Class::CredentialsMissing => "no credential source supplied keys: set AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY, choose a profile with AWS_PROFILE (run `aws sso login` for SSO), or attach a role to the function or instance",
            Class::CredentialsError => "a credential source is configured but failed: check the profile's syntax in ~/.aws/config, the SSO session, the web identity token file, or the credential_process command",
            Class::CredentialsExpiring => "the temporary credentials expire soon: make sure whatever issues them (SSO, role assumption, the container agent) refreshes them",
            Class::AuthMissingToken => "the request arrived unsigned: an endpoint override or proxy that is not DynamoDB, a proxy stripping the Authorization header, or a client built without credentials",
            Class::AuthIncompleteSignature => "the Authorization header was mangled on the way: a proxy rewriting headers, or a hand-built request missing Credential/SignedHeaders/Signature",
            Class::AuthInvalidToken => "AWS does not know this access key: it was deleted or rotated, belongs to another partition, or a session token was left out (or left over) with temporary keys",
            Class::AuthBadSignature => "the secret key does not match the access key id: check AWS_SECRET_ACCESS_KEY for a stale or truncated value, and that both come from the same source",
            Class::AuthClockSkew => "the host clock is off by more than 5 minutes: sync it (chrony/NTP) and check the container's clock",
            Class::AuthExpired => "the session token has expired: refresh the temporary credentials (aws sso login, re-assume the role) and check that the refresh runs before expiry",
            Class::AccessDenied => "IAM refused this action: add the action on this table's ARN to the role's policy, and check permission boundaries, SCPs and resource policies",
            Class::KmsAccessDenied => "KMS refused the table's customer managed key to this role: check the key policy and grants for the role (kms:Decrypt, and kms:Encrypt/GenerateDataKey for writes), and that the key is enabled",
            Class::KmsInaccessible => "DynamoDB cannot use the table's KMS key (disabled, scheduled for deletion, or its grant revoked): restore access to the key before the table is archived, seven days after it became inaccessible",
            Class::AssumeRoleDenied => "AssumeRole was refused: either the caller lacks sts:AssumeRole on this role ARN, or the role's trust policy (or external id) does not accept the caller",
            Class::UnexpectedAccess => "a call that must be denied succeeded: a policy grants more than intended; find the statement that allows it and narrow it",
            Class::NotFound => "no such table here: the table may live in another region or account; check the region, the account, and the table name's spelling",
            Class::Throttled => "throttled even after retries: the table or account is at its throughput limit; check capacity and other traffic",
            Class::EndpointUnreachable => "nothing answered at the endpoint: check AWS_ENDPOINT_URL*/DYNAMODB_ENDPOINT overrides left over from local development, DNS, proxies and VPC endpoints",
            Class::TlsError => "the endpoint's certificate was not trusted: behind a TLS-inspecting proxy (Zscaler, Netskope, a corporate Squid) set AWS_CA_BUNDLE to your organisation's CA bundle, as for the AWS CLI; otherwise check the endpoint override, the host's clock and the name in the URL",
            Class::ProxyError => "the proxy in HTTPS_PROXY/HTTP_PROXY refused or did not answer: check its address and credentials (http://user:password@host:port), its allow-list for *.amazonaws.com, or exempt the endpoint with NO_PROXY",
            Class::Timeout => "no answer in time: check network routes, security groups, NAT or VPC endpoints, and the endpoint override; raise timeout_ms only if the path is known to be slow",
            Class::ServiceError => "the service answered with a server error: usually transient; check the AWS Health Dashboard if it persists",
            Class::NotAws => "something other than AWS answered (an HTML page, a proxy, a local development server): look for an endpoint override (AWS_ENDPOINT_URL*, DYNAMODB_ENDPOINT) or a proxy (HTTPS_PROXY) pointing at the wrong place",
            Class::Other => "an unexpected answer: read the code and message; a non-AWS body means something other than DynamoDB answered",
        }
    }
}

impl std::fmt::Display for Class {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One credential provider's outcome, for `credentials_missing`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ProviderTried {
    /// The provider's name (Environment, Profile, ...).
    pub provider: String,
    /// Why it supplied nothing.
    pub reason: String,
}

/// A classified failure.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Failure {
    /// The class.
    pub class: Class,
    /// The AWS error code, when there is one.
    pub code: Option<String>,
    /// A one-line message with no secret in it.
    pub message: String,
    /// The service's request id, when there is one.
    pub request_id: Option<String>,
    /// The HTTP status, when a response arrived.
    pub http_status: Option<u16>,
    /// Providers tried, for credential-chain failures.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub providers_tried: Vec<ProviderTried>,
    /// Which policy layer denied, for access denials.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub denied_by: Option<Box<DeniedBy>>,
}

impl Failure {
    /// A failure with only a class and a message.
    pub fn new(class: Class, message: impl Into<String>) -> Failure {
        Failure {
            class,
            code: None,
            message: redact(&message.into()),
            request_id: None,
            http_status: None,
            providers_tried: Vec::new(),
            denied_by: None,
        }
    }

    /// What to check first: the denying layer's owner for a denial whose
    /// layer is known, else the class's hint.
    pub fn hint(&self) -> String {
        match &self.denied_by {
            Some(d)
                if d.layer != crate::classify::explain::Layer::Unknown
                    && matches!(self.class, Class::AccessDenied | Class::AssumeRoleDenied) =>
            {
                d.layer.hint(d.explicit).to_string()
            }
            _ => self.class.hint().to_string(),
        }
    }
}

/// Classifies any SDK error of any service.
pub fn classify_sdk_error<E>(err: &SdkError<E, HttpResponse>) -> Failure
where
    E: ProvideErrorMetadata + StdError + 'static,
{
    if let Some(f) = credentials_failure(err) {
        return f;
    }
    match err {
        SdkError::TimeoutError(_) => {
            Failure::new(Class::Timeout, "the operation timed out (retries included)")
        }
        SdkError::DispatchFailure(d) => {
            let chain = chain_text(err);
            let connector = d.as_connector_error();
            if let Some(f) = connector.and_then(|c| transport::classify(c, d.is_timeout())) {
                f
            } else if d.is_timeout() {
                Failure::new(Class::Timeout, format!("connection timed out: {chain}"))
            } else if d.is_io() || has_io_error(err) {
                Failure::new(
                    Class::EndpointUnreachable,
                    format!("could not reach the endpoint: {chain}"),
                )
            } else {
                Failure::new(Class::Other, format!("request not sent: {chain}"))
            }
        }
        SdkError::ConstructionFailure(_) => Failure::new(
            Class::Other,
            format!("request not built: {}", chain_text(err)),
        ),
        SdkError::ResponseError(_) | SdkError::ServiceError(_) => {
            let raw = err.raw_response();
            let status = raw.map(|r| r.status().as_u16());
            let headers_id = raw.and_then(request_id_from_headers);
            let body = raw
                .and_then(|r| r.body().bytes())
                .map(|b| String::from_utf8_lossy(b).into_owned());
            let parsed = body.as_deref().map(parse_body).unwrap_or_default();
            let code = err.code().map(short_code).or(parsed.code.clone());
            let message = err.message().map(str::to_string).or(parsed.message.clone());
            let request_id = headers_id.or(parsed.request_id.clone());
            from_wire(status, code, message, request_id, body.as_deref())
        }
        _ => Failure::new(Class::Other, chain_text(err)),
    }
}

/// Classifies a response from its parts: status, code, message and body.
/// This is the single place where error codes map to classes.
pub fn from_wire(
    status: Option<u16>,
    code: Option<String>,
    message: Option<String>,
    request_id: Option<String>,
    body: Option<&str>,
) -> Failure {
    let msg = message.clone().unwrap_or_default();
    let lower = msg.to_ascii_lowercase();
    // Without an AWS error code the body is not an AWS error: something
    // else answered, whatever its status (a 429 is still throttling).
    let class = match code.as_deref() {
        Some(c) => class_of_code(c, &lower, status),
        None => match status {
            Some(429) => Class::Throttled,
            Some(407) => Class::ProxyError,
            Some(_) => Class::NotAws,
            None => Class::Other,
        },
    };
    let message = match (&message, code.as_deref()) {
        (Some(m), _) if !m.is_empty() => m.clone(),
        (_, Some(c)) => c.to_string(),
        _ => describe_unparsed(status, body),
    };
    Failure {
        class,
        code,
        denied_by: (class == Class::AccessDenied).then(|| Box::new(denied_by(&message))),
        message: redact(&message),
        request_id,
        http_status: status,
        providers_tried: Vec::new(),
    }
}

fn class_of_code(code: &str, lower_msg: &str, status: Option<u16>) -> Class {
    let skew = lower_msg.contains("signature expired")
        || lower_msg.contains("not yet current")
        || lower_msg.contains("too skewed")
        || lower_msg.contains("earlier than");
    match code {
        "MissingAuthenticationTokenException" | "MissingAuthenticationToken" => {
            Class::AuthMissingToken
        }
        "IncompleteSignatureException" | "IncompleteSignature" => Class::AuthIncompleteSignature,
        "InvalidSignatureException" | "SignatureDoesNotMatch" if skew => Class::AuthClockSkew,
        "InvalidSignatureException" | "SignatureDoesNotMatch" => Class::AuthBadSignature,
        "RequestTimeTooSkewed" => Class::AuthClockSkew,
        "RequestExpired" if skew || lower_msg.contains("timestamp") => Class::AuthClockSkew,
        "ExpiredTokenException" | "ExpiredToken" | "RequestExpired" | "TokenRefreshRequired" => {
            Class::AuthExpired
        }
        "UnrecognizedClientException" | "InvalidClientTokenId" | "InvalidAccessKeyId"
            if lower_msg.contains("expired") =>
        {
            Class::AuthExpired
        }
        "UnrecognizedClientException" | "InvalidClientTokenId" | "InvalidAccessKeyId" => {
            Class::AuthInvalidToken
        }
        "AccessDeniedException" if lower_msg.starts_with("kms key access denied") => {
            Class::KmsAccessDenied
        }
        "AccessDeniedException"
        | "AccessDenied"
        | "UnauthorizedOperation"
        | "AuthorizationError" => Class::AccessDenied,
        "ResourceNotFoundException" | "TableNotFoundException" => Class::NotFound,
        "ThrottlingException"
        | "Throttling"
        | "ProvisionedThroughputExceededException"
        | "RequestLimitExceeded"
        | "TooManyRequestsException"
        | "LimitExceededException" => Class::Throttled,
        "InternalServerError"
        | "InternalFailure"
        | "ServiceUnavailable"
        | "ServiceUnavailableException"
        | "InternalServerErrorException" => Class::ServiceError,
        _ => match status {
            Some(s) if s >= 500 => Class::ServiceError,
            _ => Class::Other,
        },
    }
}

/// `com.amazon.coral.service#AccessDeniedException` → `AccessDeniedException`.
fn short_code(code: &str) -> String {
    let c = code.rsplit('#').next().unwrap_or(code);
    c.split(':').next().unwrap_or(c).to_string()
}

/// What could be read from an error body the SDK did not parse.
#[derive(Debug, Default, Clone, PartialEq)]
pub struct ParsedBody {
    /// `__type` (JSON) or `<Code>` (XML), short form.
    pub code: Option<String>,
    /// `message`/`Message` (JSON) or `<Message>` (XML).
    pub message: Option<String>,
    /// `<RequestId>` (XML).
    pub request_id: Option<String>,
}

/// Reads an error code and message from a JSON or XML error body.
pub fn parse_body(body: &str) -> ParsedBody {
    let trimmed = body.trim_start();
    if trimmed.starts_with('{') {
        if let Ok(serde_json::Value::Object(map)) = serde_json::from_str(trimmed) {
            let s = |k: &str| map.get(k).and_then(|v| v.as_str()).map(str::to_string);
            return ParsedBody {
                code: s("__type").or_else(|| s("code")).map(|c| short_code(&c)),
                message: s("message").or_else(|| s("Message")),
                request_id: None,
            };
        }
        return ParsedBody::default();
    }
    if trimmed.starts_with('<') && !looks_like_html(trimmed) {
        return ParsedBody {
            code: xml_tag(trimmed, "Code").map(|c| short_code(&c)),
            message: xml_tag(trimmed, "Message"),
            request_id: xml_tag(trimmed, "RequestId").or_else(|| xml_tag(trimmed, "RequestID")),
        };
    }
    ParsedBody::default()
}

fn looks_like_html(body: &str) -> bool {
    // The first 200 characters (not bytes: a cut inside a character panics).
    let head: String = body
        .chars()
        .take(200)
        .collect::<String>()
        .to_ascii_lowercase();
    head.contains("<html") || head.contains("<!doctype html")
}

fn xml_tag(body: &str, tag: &str) -> Option<String> {
    let open = format!("<{tag}>");
    let close = format!("</{tag}>");
    let start = body.find(&open)? + open.len();
    let end = body[start..].find(&close)? + start;
    let value = body[start..end].trim();
    (!value.is_empty()).then(|| xml_unescape(value))
}

fn xml_unescape(s: &str) -> String {
    s.replace("&lt;", "<")
        .replace("&gt;", ">")
        .replace("&quot;", "\"")
        .replace("&apos;", "'")
        .replace("&amp;", "&")
}

fn describe_unparsed(status: Option<u16>, body: Option<&str>) -> String {
    let status = status.map_or("no status".to_string(), |s| format!("HTTP {s}"));
    match body.map(str::trim).filter(|b| !b.is_empty()) {
        None => format!("{status} with an empty body: not an AWS error response"),
        Some(b) => {
            let title = xml_tag(b, "title").or_else(|| xml_tag(b, "TITLE"));
            let shown = title.unwrap_or_else(|| truncate(b, 120));
            format!("{status} with a body that is not an AWS error (something other than the service answered): {shown}")
        }
    }
}

fn request_id_from_headers(raw: &HttpResponse) -> Option<String> {
    ["x-amzn-requestid", "x-amz-request-id", "x-amzn-request-id"]
        .iter()
        .find_map(|h| raw.headers().get(*h))
        .map(str::to_string)
}

/// An error followed by each of its sources, outermost first.
pub fn sources<'a>(
    err: &'a (dyn StdError + 'static),
) -> impl Iterator<Item = &'a (dyn StdError + 'static)> {
    std::iter::successors(Some(err), |e: &&'a (dyn StdError + 'static)| (*e).source())
}

/// Finds a credential-chain failure anywhere in the source chain.
fn credentials_failure(err: &(dyn StdError + 'static)) -> Option<Failure> {
    sources(err)
        .find_map(|e| e.downcast_ref::<CredentialsError>())
        .map(classify_credentials_error)
}

/// The code and message of an STS error that a credential provider (role
/// assumption, web identity) wraps, read from the typed error.
fn wrapped_sts_error(err: &(dyn StdError + 'static)) -> Option<(String, String)> {
    use aws_sdk_sts::operation::assume_role::AssumeRoleError;
    use aws_sdk_sts::operation::assume_role_with_web_identity::AssumeRoleWithWebIdentityError;
    sources(err).find_map(|e| {
        let meta = if let Some(x) = e.downcast_ref::<AssumeRoleError>() {
            x.meta()
        } else if let Some(x) = e.downcast_ref::<AssumeRoleWithWebIdentityError>() {
            x.meta()
        } else {
            return None;
        };
        Some((
            meta.code()?.to_string(),
            meta.message().unwrap_or_default().to_string(),
        ))
    })
}

/// Classifies a credential provider's error.
pub fn classify_credentials_error(ce: &CredentialsError) -> Failure {
    let detail = chain_text(ce);
    let (class, message) = match ce {
        CredentialsError::CredentialsNotLoaded(_) => (
            Class::CredentialsMissing,
            "no credentials: no provider in the chain supplied any".to_string(),
        ),
        CredentialsError::ProviderTimedOut(_) => (
            Class::CredentialsError,
            format!("a credential provider timed out: {detail}"),
        ),
        CredentialsError::InvalidConfiguration(_) => (
            Class::CredentialsError,
            format!("invalid credential configuration: {detail}"),
        ),
        _ => match wrapped_sts_error(ce) {
            // Providers that call STS (role assumption, web identity) wrap
            // its error: an expired or unknown token there is still auth_*.
            Some((code, msg)) => {
                let class = class_of_code(&code, &msg.to_ascii_lowercase(), None);
                let class = if class.is_auth() {
                    class
                } else {
                    Class::CredentialsError
                };
                (class, format!("credential provider: {detail}"))
            }
            None => (
                Class::CredentialsError,
                format!("a credential provider failed: {detail}"),
            ),
        },
    };
    let mut f = Failure::new(class, message);
    f.providers_tried = providers_tried(ce);
    f
}

fn providers_tried(ce: &CredentialsError) -> Vec<ProviderTried> {
    sources(ce)
        .find_map(|e| e.downcast_ref::<ProviderChainError<CredentialsError>>())
        .map(|chain| {
            chain
                .attempts()
                .iter()
                .map(|a| ProviderTried {
                    provider: a.name().to_string(),
                    reason: redact(&chain_text(a.error())),
                })
                .collect()
        })
        .unwrap_or_default()
}

/// Whether the dispatch failure came from the connection itself (refused,
/// reset, unreachable, name not resolved): any I/O error under the dispatch
/// other than a timeout.
fn has_io_error(err: &(dyn StdError + 'static)) -> bool {
    sources(err)
        .filter_map(|e| e.downcast_ref::<std::io::Error>())
        .any(|io| io.kind() != std::io::ErrorKind::TimedOut)
}

/// The `Display` of an error and each of its sources, joined, de-duplicated.
pub fn chain_text(err: &(dyn StdError + 'static)) -> String {
    let mut parts: Vec<String> = Vec::new();
    for e in sources(err) {
        let s = e.to_string();
        if !s.is_empty() && !parts.iter().any(|p| p.contains(&s)) {
            parts.push(s);
        }
    }
    redact(&parts.join(": "))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn wire(status: u16, body: &str) -> Failure {
        let p = parse_body(body);
        from_wire(Some(status), p.code, p.message, p.request_id, Some(body))
    }

    type StsError = aws_sdk_sts::operation::get_caller_identity::GetCallerIdentityError;

    /// An error and its sources, each said once, empty ones left out.
    #[test]
    fn chain_text_says_each_cause_once() {
        #[derive(Debug)]
        struct E(&'static str, Option<Box<E>>);
        impl std::fmt::Display for E {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str(self.0)
            }
        }
        impl StdError for E {
            fn source(&self) -> Option<&(dyn StdError + 'static)> {
                self.1.as_deref().map(|e| e as &(dyn StdError + 'static))
            }
        }
        let e = E(
            "dispatch failure",
            Some(Box::new(E(
                "",
                Some(Box::new(E(
                    "connection refused",
                    Some(Box::new(E("connection refused", None))),
                ))),
            ))),
        );
        assert_eq!(chain_text(&e), "dispatch failure: connection refused");
    }

    /// Each phrase that marks a signature refused for the clock, alone in
    /// its message; and RequestTimeTooSkewed by its code alone.
    #[test]
    fn each_clock_phrase_alone_is_clock_skew() {
        for msg in [
            "Signature expired: 20130301T000000Z",
            "Signature not yet current: 20991231T000000Z",
            "The request time is too skewed",
            "Request date 20130301T000000Z is now earlier than 20130609T094515Z",
        ] {
            for code in ["InvalidSignatureException", "SignatureDoesNotMatch"] {
                let f = from_wire(Some(400), Some(code.into()), Some(msg.into()), None, None);
                assert_eq!(f.class, Class::AuthClockSkew, "{code}: {msg}");
            }
        }
        let plain = from_wire(
            Some(403),
            Some("SignatureDoesNotMatch".into()),
            Some("The request signature we calculated does not match".into()),
            None,
            None,
        );
        assert_eq!(plain.class, Class::AuthBadSignature);
        let f = from_wire(
            Some(403),
            Some("RequestTimeTooSkewed".into()),
            Some(
                "The difference between the request time and the current time is too large.".into(),
            ),
            None,
            None,
        );
        assert_eq!(f.class, Class::AuthClockSkew);
    }

    /// An HTML page is never read as an AWS error, even one that quotes an
    /// XML error's tags (a proxy's error page), with or without a doctype.
    #[test]
    fn html_pages_are_not_parsed_as_xml_errors() {
        for page in [
            "<html><body><Code>AccessDenied</Code><Message>no</Message></body></html>",
            "<!DOCTYPE html><HEAD></HEAD><Code>AccessDenied</Code>",
            "  <HTML><Code>ExpiredToken</Code></HTML>",
        ] {
            assert_eq!(parse_body(page), ParsedBody::default(), "{page}");
        }
        // Nor is text that merely quotes XML tags.
        let text = "upstream said: <Code>AccessDenied</Code>";
        assert_eq!(parse_body(text), ParsedBody::default());
        let xml = "<ErrorResponse><Error><Code>AccessDenied</Code></Error></ErrorResponse>";
        assert_eq!(parse_body(xml).code.as_deref(), Some("AccessDenied"));
    }

    /// A credential provider that calls STS (a role in a profile, web
    /// identity) wraps STS's error: its code still decides an auth class.
    #[test]
    fn sts_errors_inside_credential_providers_keep_their_auth_class() {
        use aws_sdk_sts::operation::assume_role::AssumeRoleError;
        use aws_sdk_sts::operation::assume_role_with_web_identity::AssumeRoleWithWebIdentityError;
        use aws_smithy_types::error::ErrorMetadata;
        let meta = |code: &str, msg: &str| ErrorMetadata::builder().code(code).message(msg).build();
        let cases = [
            (
                CredentialsError::provider_error(AssumeRoleError::generic(meta(
                    "ExpiredToken",
                    "The security token included in the request is expired",
                ))),
                Class::AuthExpired,
                "credential provider: ",
            ),
            (
                CredentialsError::provider_error(AssumeRoleWithWebIdentityError::generic(meta(
                    "InvalidClientTokenId",
                    "The security token included in the request is invalid",
                ))),
                Class::AuthInvalidToken,
                "credential provider: ",
            ),
            // Not an auth code: a credentials error, still naming the provider.
            (
                CredentialsError::provider_error(AssumeRoleError::generic(meta(
                    "RegionDisabledException",
                    "STS is not activated in this region",
                ))),
                Class::CredentialsError,
                "credential provider: ",
            ),
            (
                CredentialsError::provider_timed_out(std::time::Duration::from_secs(5)),
                Class::CredentialsError,
                "a credential provider timed out: ",
            ),
            (
                CredentialsError::invalid_configuration("role_arn without source_profile"),
                Class::CredentialsError,
                "invalid credential configuration: ",
            ),
            (
                CredentialsError::not_loaded("no keys"),
                Class::CredentialsMissing,
                "",
            ),
            (
                CredentialsError::provider_error(std::io::Error::other("file gone")),
                Class::CredentialsError,
                "a credential provider failed: ",
            ),
        ];
        for (error, class, prefix) in cases {
            let f = classify_credentials_error(&error);
            assert_eq!(f.class, class, "{error:?}");
            assert!(f.message.starts_with(prefix), "{prefix:?}: {}", f.message);
        }
    }

    /// A service-side error code decides the class even when the status
    /// does not say 5xx (a proxy that rewrote it, or no status at all).
    #[test]
    fn service_error_codes_are_service_errors_whatever_the_status() {
        for code in [
            "InternalServerError",
            "InternalFailure",
            "ServiceUnavailable",
            "ServiceUnavailableException",
            "InternalServerErrorException",
        ] {
            for status in [None, Some(400), Some(503)] {
                let f = from_wire(status, Some(code.into()), Some("x".into()), None, None);
                assert_eq!(f.class, Class::ServiceError, "{code} {status:?}");
            }
        }
        let unknown = from_wire(Some(400), Some("SomethingNew".into()), None, None, None);
        assert_eq!(unknown.class, Class::Other);
    }

    /// The message of a failure: the service's, else its code, else what
    /// the body shows.
    #[test]
    fn a_failure_without_a_message_says_its_code() {
        let with = |message: Option<&str>| {
            from_wire(
                Some(400),
                Some("ValidationException".into()),
                message.map(str::to_string),
                None,
                Some("{}"),
            )
            .message
        };
        assert_eq!(with(Some("bad key")), "bad key");
        assert_eq!(with(None), "ValidationException");
        assert_eq!(with(Some("")), "ValidationException");
        let bare = from_wire(
            Some(502),
            None,
            None,
            None,
            Some("<html>Bad Gateway</html>"),
        );
        assert!(bare.message.starts_with("HTTP 502"), "{}", bare.message);
    }

    /// Each kind of SDK failure that never reached a service: its class and
    /// the words that say which kind it was.
    #[test]
    fn sdk_failures_before_a_response_keep_their_kind() {
        use aws_smithy_runtime_api::client::result::ConnectorError;
        let io = || std::io::Error::new(std::io::ErrorKind::ConnectionRefused, "refused");
        let cases: Vec<(SdkError<StsError, HttpResponse>, Class, &str)> = vec![
            (
                SdkError::timeout_error("slow"),
                Class::Timeout,
                "the operation timed out (retries included)",
            ),
            (
                SdkError::dispatch_failure(ConnectorError::timeout("connect".into())),
                Class::Timeout,
                "connection timed out: ",
            ),
            (
                SdkError::dispatch_failure(ConnectorError::io(Box::new(io()))),
                Class::EndpointUnreachable,
                "could not reach the endpoint: ",
            ),
            (
                SdkError::dispatch_failure(ConnectorError::other("tls".into(), None)),
                Class::Other,
                "request not sent: ",
            ),
            (
                SdkError::dispatch_failure(ConnectorError::other(Box::new(io()), None)),
                Class::EndpointUnreachable,
                "could not reach the endpoint: ",
            ),
            (
                SdkError::dispatch_failure(ConnectorError::other(
                    Box::new(std::io::Error::new(std::io::ErrorKind::TimedOut, "slow")),
                    None,
                )),
                Class::Other,
                "request not sent: ",
            ),
            (
                SdkError::construction_failure("no region"),
                Class::Other,
                "request not built: ",
            ),
        ];
        for (err, class, start) in cases {
            let f = classify_sdk_error(&err);
            assert_eq!(f.class, class, "{err:?}");
            assert!(f.message.starts_with(start), "{err:?}: {}", f.message);
            assert_eq!(f.code, None);
            assert_eq!(f.http_status, None);
        }
    }

    #[test]
    fn dynamodb_json_auth_errors_map_to_classes() {
        let cases = [
            ("com.amazon.coral.service#MissingAuthenticationTokenException", "Request is missing Authentication Token", Class::AuthMissingToken),
            ("com.amazon.coral.service#IncompleteSignatureException", "Authorization header requires 'Credential' parameter.", Class::AuthIncompleteSignature),
            ("com.amazon.coral.service#InvalidSignatureException", "The request signature we calculated does not match the signature you provided.", Class::AuthBadSignature),
            ("com.amazon.coral.service#InvalidSignatureException", "Signature expired: 20130301T000000Z is now earlier than 20130609T094515Z (20130609T100015Z - 15 min.)", Class::AuthClockSkew),
            ("com.amazon.coral.service#UnrecognizedClientException", "The security token included in the request is invalid.", Class::AuthInvalidToken),
            ("com.amazon.coral.service#ExpiredTokenException", "The security token included in the request is expired", Class::AuthExpired),
            ("com.amazon.coral.service#AccessDeniedException", "User: x is not authorized", Class::AccessDenied),
            ("com.amazonaws.dynamodb.v20120810#ResourceNotFoundException", "Requested resource not found", Class::NotFound),
            ("com.amazonaws.dynamodb.v20120810#ThrottlingException", "Rate exceeded", Class::Throttled),
            ("com.amazonaws.dynamodb.v20120810#ProvisionedThroughputExceededException", "x", Class::Throttled),
            ("com.amazonaws.dynamodb.v20120810#RequestLimitExceeded", "x", Class::Throttled),
        ];
        for (ty, msg, class) in cases {
            let body = format!(r#"{{"__type":"{ty}","message":"{msg}"}}"#);
            let f = wire(400, &body);
            assert_eq!(f.class, class, "{ty}: {msg}");
            assert_eq!(f.code.as_deref(), ty.rsplit('#').next());
        }
    }

    #[test]
    fn capitalised_message_key_is_read() {
        let f = wire(
            400,
            r#"{"__type":"com.amazon.coral.service#UnrecognizedClientException","Message":"The security token included in the request is invalid."}"#,
        );
        assert_eq!(f.class, Class::AuthInvalidToken);
        assert!(f.message.contains("security token"));
    }

    #[test]
    fn sts_and_moto_xml_errors_map_to_classes() {
        let xml = |code: &str, msg: &str| {
            format!("<ErrorResponse xmlns=\"https://sts.amazonaws.com/doc/2011-06-15/\"><Error><Type>Sender</Type><Code>{code}</Code><Message>{msg}</Message></Error><RequestId>req-1</RequestId></ErrorResponse>")
        };
        let cases = [
            ("InvalidClientTokenId", "The security token included in the request is invalid.", 403, Class::AuthInvalidToken),
            ("SignatureDoesNotMatch", "The request signature we calculated does not match", 403, Class::AuthBadSignature),
            ("SignatureDoesNotMatch", "Signature not yet current: 20300101T000000Z is still later than 20260101T000000Z (+ 5 min.)", 403, Class::AuthClockSkew),
            ("ExpiredToken", "The security token included in the request is expired", 403, Class::AuthExpired),
            ("RequestExpired", "Request has expired.", 400, Class::AuthExpired),
            ("RequestExpired", "Request timestamp is too old", 400, Class::AuthClockSkew),
            ("InvalidClientTokenId", "The security token has expired", 403, Class::AuthExpired),
            ("AccessDenied", "User: arn:aws:iam::123456789012:user/x is not authorized to perform: dynamodb:GetItem", 403, Class::AccessDenied),
        ];
        for (code, msg, status, class) in cases {
            let f = wire(status, &xml(code, msg));
            assert_eq!(f.class, class, "{code}: {msg}");
            assert_eq!(f.code.as_deref(), Some(code));
            assert_eq!(f.request_id.as_deref(), Some("req-1"));
            assert_eq!(f.http_status, Some(status));
        }
    }

    #[test]
    fn proxy_html_page_is_not_mistaken_for_aws() {
        let f = wire(502, "<!DOCTYPE html><html><head><title>502 Bad Gateway</title></head><body>nginx</body></html>");
        assert_eq!(f.class, Class::NotAws);
        assert!(f.hint().contains("endpoint override"), "{}", f.hint());
        assert_eq!(f.code, None);
        assert!(f.message.contains("502 Bad Gateway"), "{}", f.message);
        assert!(f.message.contains("not an AWS error"), "{}", f.message);
        let f = wire(403, "<html><title>Forbidden by proxy policy</title></html>");
        assert_eq!(f.class, Class::NotAws);
        assert!(f.message.contains("Forbidden by proxy policy"));
        let f = wire(501, "Not Implemented");
        assert_eq!(f.class, Class::NotAws);
        assert!(f.message.contains("HTTP 501"), "{}", f.message);
    }

    #[test]
    fn a_body_with_a_multibyte_character_at_byte_200_is_read() {
        // Found by the classify fuzz target: the HTML sniffing cut the body
        // at byte 200, inside a character.
        let body = format!(
            "<!DOCTYPE html><title>x</title>{}é and more",
            "a".repeat(168)
        );
        assert_eq!(
            body.char_indices().find(|(_, c)| *c == 'é').map(|(i, _)| i),
            Some(199)
        );
        let f = wire(502, &body);
        assert_eq!(f.class, Class::NotAws);
    }

    #[test]
    fn empty_body_and_unknown_codes() {
        let f = from_wire(Some(404), None, None, None, Some(""));
        assert_eq!(f.class, Class::NotAws);
        assert!(f.message.contains("empty body"));
        let f = wire(
            400,
            r#"{"__type":"com.amazonaws.dynamodb.v20120810#ValidationException","message":"bad key"}"#,
        );
        assert_eq!(f.class, Class::Other);
        assert_eq!(f.code.as_deref(), Some("ValidationException"));
        let f = wire(503, r#"{"__type":"x#Weird"}"#);
        assert_eq!(f.class, Class::ServiceError);
        let f = wire(429, "slow down");
        assert_eq!(f.class, Class::Throttled);
    }

    #[test]
    fn kms_denials_and_policy_layers_are_told_apart() {
        let body = |m: &str| {
            format!(
                r#"{{"__type":"com.amazon.coral.service#AccessDeniedException","message":"{m}"}}"#
            )
        };
        let f = wire(400, &body("KMS key access denied error: com.amazonaws.services.kms.model.AWSKMSException: User: arn:aws:sts::123456789012:assumed-role/R/s is not authorized to perform: kms:Decrypt on resource: arn:aws:kms:us-east-1:123456789012:key/abc (Service: AWSKMS; Status Code: 400)"));
        assert_eq!(f.class, Class::KmsAccessDenied);
        assert!(f.denied_by.is_none());
        assert!(f.hint().contains("key policy"));
        let f = wire(400, &body("User: arn:aws:sts::123456789012:assumed-role/R/s is not authorized to perform: dynamodb:GetItem on resource: arn:aws:dynamodb:us-east-1:123456789012:table/t with an explicit deny in a service control policy: arn:aws:organizations::111122223333:policy/o-abcd1234/service_control_policy/p-abcd1234"));
        assert_eq!(f.class, Class::AccessDenied);
        let d = f.denied_by.clone().unwrap();
        assert_eq!(
            (d.layer, d.explicit),
            (crate::classify::explain::Layer::Scp, true)
        );
        assert!(d.policy_arn.unwrap().ends_with("/p-abcd1234"));
        assert!(
            f.hint().contains("organization's administrators"),
            "{}",
            f.hint()
        );
        let f = wire(
            400,
            &body("User: x is not authorized to perform: dynamodb:GetItem"),
        );
        assert_eq!(
            f.denied_by.as_ref().unwrap().layer,
            crate::classify::explain::Layer::Unknown
        );
        assert!(f.hint().starts_with("IAM refused"));
    }

    #[test]
    fn every_class_has_a_name_and_a_hint() {
        for c in Class::ALL {
            let json = serde_json::to_string(c).unwrap();
            assert_eq!(json, format!("\"{}\"", c.as_str()));
            if *c != Class::Ok {
                assert!(c.hint().len() > 20, "{c} has no hint");
            }
        }
        assert!(Class::NotFound.hint().contains("another region"));
        assert!(Class::AuthClockSkew.hint().contains("clock"));
        assert!(Class::AuthMissingToken.hint().contains("proxy"));
    }
}
