//! dynamodb-auth-canary: finds DynamoDB authentication failures before your
//! users do. One library behind a Lambda handler and a command line.

pub mod assume;
pub mod call;
pub mod classify;
pub mod cli;
pub mod clients;
pub mod clock;
pub mod config;
pub mod cost;
pub mod credentials;
pub mod deploy;
pub mod doctor;
pub mod error;
pub mod explain;
pub mod http;
pub mod iam;
pub mod identity;
pub mod lambda;
pub mod metrics;
pub mod plan;
pub mod pool;
pub mod probe;
pub mod reaper;
pub mod redact;
pub mod regions;
pub mod report;
pub mod run;
pub mod settings;
pub mod sinks;

pub use classify::{Class, Failure};
pub use config::Config;
pub use report::Report;
