//! The human report of any report that deserialises: total (no panic),
//! no control characters in what is printed.
#![no_main]

use dynamodb_auth_canary::report::Report;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(report) = serde_json::from_slice::<Report>(data) else {
        return;
    };
    let text = report.render_human();
    assert!(
        !text.chars().any(|c| c.is_control() && c != '\n'),
        "control character in the human report"
    );
});
