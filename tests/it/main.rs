//! Integration tests, one binary: the local AWS (moto with IAM enforced,
//! dynalite) is started once by `support` and shared by every module.

mod cli_config;
mod identity;
mod metrics;
mod probes;
mod support;
mod wire;
