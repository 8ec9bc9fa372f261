//! Classification of error bodies (JSON, XML, HTML, garbage) with any
//! status: a class, a bounded message with no control characters, no panic.
#![no_main]

use dynamodb_auth_canary::classify::{from_wire, parse_body};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if data.len() < 2 {
        return;
    }
    let status = u16::from_le_bytes([data[0], data[1]]) % 600;
    let body = String::from_utf8_lossy(&data[2..]);
    let parsed = parse_body(&body);
    let f = from_wire(
        Some(status),
        parsed.code,
        parsed.message,
        parsed.request_id,
        Some(&body),
    );
    assert!(f.message.chars().count() <= 401, "message too long");
    assert!(!f.message.chars().any(char::is_control), "control character");
    let _ = f.hint();
    if let Some(d) = &f.denied_by {
        let _ = d.describe();
    }
});
