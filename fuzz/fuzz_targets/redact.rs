//! Redaction and escaping of any text: bounded, one line, no control
//! characters, and an access key id placed in it never comes out whole.
#![no_main]

use dynamodb_auth_canary::redact::{redact, scrub, shown, truncate};
use libfuzzer_sys::fuzz_target;

const KEY: &str = "AKIAFUZZEXAMPLE12345";

fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data);
    let r = redact(&text);
    assert!(r.chars().count() <= 401);
    assert!(!r.chars().any(char::is_control));
    let _ = shown(&text);
    let _ = truncate(&text, 7);
    // A key id between any two parts of the input is masked.
    let cut = text.char_indices().nth(text.chars().count() / 2).map_or(0, |(i, _)| i);
    let planted = format!("{} {KEY} {}", &text[..cut], &text[cut..]);
    assert!(!scrub(&planted).contains(KEY), "key id unmasked");
    assert!(!redact(&planted).contains(KEY), "key id unmasked");
});
