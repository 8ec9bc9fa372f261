//! One CloudTrail management event, read from a LookupEvents answer: the
//! event's own fields, and from its record (the `CloudTrailEvent` JSON)
//! who made the call, from where, and the request's parameters.

use serde_json::Value;

/// The parts of an event that "what changed" uses.
#[derive(Debug, Clone, PartialEq)]
pub struct Record {
    /// The event id.
    pub event_id: String,
    /// The API call.
    pub event_name: String,
    /// Seconds since the epoch.
    pub event_time: i64,
    /// Whether the call only read.
    pub read_only: bool,
    /// The call failed (then it changed nothing).
    pub error_code: Option<String>,
    /// The caller's ARN.
    pub who: Option<String>,
    /// The role session name, for an assumed role.
    pub session: Option<String>,
    /// The source IP address, or the service that called.
    pub source: Option<String>,
    /// The record's `requestParameters`.
    pub parameters: Value,
}

impl Record {
    /// Reads an event of a LookupEvents answer; `None` without an id or a
    /// name.
    pub fn from_event(e: &aws_sdk_cloudtrail::types::Event) -> Option<Record> {
        let record: Value = e
            .cloud_trail_event()
            .and_then(|t| serde_json::from_str(t).ok())
            .unwrap_or(Value::Null);
        let text = |v: &Value| v.as_str().map(str::to_string);
        let identity = &record["userIdentity"];
        let who = text(&identity["arn"]);
        let session = who
            .as_deref()
            .filter(|a| a.contains(":assumed-role/"))
            .and_then(|a| a.rsplit('/').next())
            .map(str::to_string);
        let read_only = match e.read_only() {
            Some(r) => r.eq_ignore_ascii_case("true"),
            None => record["readOnly"].as_bool().unwrap_or(false),
        };
        Some(Record {
            event_id: e.event_id()?.to_string(),
            event_name: e.event_name()?.to_string(),
            event_time: e.event_time().map(|t| t.secs()).unwrap_or_default(),
            read_only,
            error_code: text(&record["errorCode"]),
            who,
            session,
            source: text(&identity["invokedBy"]).or_else(|| text(&record["sourceIPAddress"])),
            parameters: record["requestParameters"].clone(),
        })
    }

    /// A request parameter as text.
    pub fn parameter(&self, key: &str) -> Option<String> {
        self.parameters.get(key)?.as_str().map(str::to_string)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use aws_sdk_cloudtrail::types::Event;

    #[test]
    fn an_event_reads_who_when_from_where_and_what() {
        let record = serde_json::json!({
            "eventVersion": "1.09",
            "userIdentity": {"type": "AssumedRole", "arn": "arn:aws:sts::123456789012:assumed-role/Admin/alice@example.com"},
            "eventTime": "2026-12-06T10:00:00Z",
            "eventSource": "iam.amazonaws.com",
            "eventName": "DeleteRolePolicy",
            "sourceIPAddress": "203.0.113.7",
            "requestParameters": {"roleName": "canary-role", "policyName": "orders-read"},
            "readOnly": false,
            "eventID": "e-1"
        });
        let e = Event::builder()
            .event_id("e-1")
            .event_name("DeleteRolePolicy")
            .event_time(aws_smithy_types::DateTime::from_secs(1_796_551_200))
            .read_only("false")
            .cloud_trail_event(record.to_string())
            .build();
        let r = Record::from_event(&e).unwrap();
        assert_eq!(r.event_name, "DeleteRolePolicy");
        assert_eq!(r.session.as_deref(), Some("alice@example.com"));
        assert_eq!(r.source.as_deref(), Some("203.0.113.7"));
        assert_eq!(r.parameter("roleName").as_deref(), Some("canary-role"));
        assert!(!r.read_only && r.error_code.is_none());
        // A call made by a service names the service, not an address.
        let by_service = serde_json::json!({"userIdentity": {"arn": "arn:aws:iam::1:user/u", "invokedBy": "cloudformation.amazonaws.com"}, "sourceIPAddress": "cloudformation.amazonaws.com", "errorCode": "AccessDenied"});
        let e = Event::builder()
            .event_id("e-2")
            .event_name("PutRolePolicy")
            .cloud_trail_event(by_service.to_string())
            .build();
        let r = Record::from_event(&e).unwrap();
        assert_eq!(r.source.as_deref(), Some("cloudformation.amazonaws.com"));
        assert_eq!(r.session, None);
        assert_eq!(r.error_code.as_deref(), Some("AccessDenied"));
        assert!(Record::from_event(&Event::builder().event_name("x").build()).is_none());
    }
}
