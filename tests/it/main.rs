//! Integration tests, one binary: the local AWS (moto with IAM enforced,
//! dynalite) is started once by `support` and shared by every module.

mod account_errors;
mod architecture;
mod changes;
mod cli_config;
mod cross_account;
mod deployment;
mod docs;
mod doctor;
mod fleet;
mod identity;
mod metrics;
mod pressure;
mod probes;
mod secrets;
mod support;
mod tls;
mod wire;
