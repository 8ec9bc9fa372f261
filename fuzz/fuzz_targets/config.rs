//! Configuration parsing and validation, and everything computed from a
//! configuration that loads: the plan, the cost, the policy and the
//! template's parameters. Nothing may panic; what loads must round-trip.
#![no_main]

use dynamodb_auth_canary::config::{AccountId, Config, Region};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let Ok(config) = Config::from_json_str(text, "fuzz") else {
        return;
    };
    let region = Region::parse("us-east-1").expect("a known region");
    let _ = dynamodb_auth_canary::plan::plan(&config, &region);
    let _ = dynamodb_auth_canary::metrics::cost::estimate(&config, &region, 5);
    let scope = dynamodb_auth_canary::deploy::iam::Scope {
        account: AccountId::parse("123456789012").ok(),
        partition: "aws".into(),
        region: region.clone(),
        target_account: None,
    };
    let _ = dynamodb_auth_canary::deploy::iam::policy(&config, &scope, "fuzz");
    let opts = dynamodb_auth_canary::deploy::Options {
        account: AccountId::parse("123456789012").expect("an account"),
        region,
        ssm_parameter: None,
        canary_name: None,
    };
    let _ = dynamodb_auth_canary::deploy::parameters(&config, text, &opts, "fuzz");
    // What loads serialises to a configuration that loads as the same.
    let again = serde_json::to_string(&config).expect("serialisable");
    let back = Config::from_json_str(&again, "again").expect("round trip");
    assert_eq!(back, config);
});
