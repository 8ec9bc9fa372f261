//! The Lambda handler's choice of configuration for an arbitrary event:
//! a refusal or a configuration, never a panic. No request is made (the
//! deployed configuration is inline; nothing is probed).
#![no_main]

use dynamodb_auth_canary::aws::clients::{AwsClients, ClientOptions};
use dynamodb_auth_canary::source::Source;
use dynamodb_auth_canary::lambda::Handler;
use dynamodb_auth_canary::run::Canary;
use dynamodb_auth_canary::config::deployment::Deployment;
use libfuzzer_sys::fuzz_target;
use std::sync::OnceLock;

fn setup() -> &'static (tokio::runtime::Runtime, Handler) {
    static H: OnceLock<(tokio::runtime::Runtime, Handler)> = OnceLock::new();
    H.get_or_init(|| {
        std::env::set_var("AWS_EC2_METADATA_DISABLED", "true");
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .expect("a runtime");
        let clients = rt
            .block_on(AwsClients::load(&ClientOptions {
                region: Some("us-east-1".into()),
                endpoint_url: Some("http://127.0.0.1:9".into()),
                profile: None,
                credentials: Some(aws_credential_types::Credentials::new(
                    "AKIDEXAMPLE",
                    "secret",
                    None,
                    None,
                    "fuzz",
                )),
            }))
            .expect("clients");
        let source = Source::Variable(r#"{"targets":[{"table":"orders"}]}"#.into());
        let handler = Handler::new(Canary::new(clients), Deployment::default(), Ok(source));
        (rt, handler)
    })
}

fuzz_target!(|data: &[u8]| {
    let Ok(event) = serde_json::from_slice::<serde_json::Value>(data) else {
        return;
    };
    let (rt, handler) = setup();
    let _ = rt.block_on(handler.config_for(&event));
});
