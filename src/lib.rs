//! dynamodb-auth-canary: finds DynamoDB authentication failures before your
//! users do. One library behind a Lambda handler and a command line.
//!
//! The modules follow a run (ARCHITECTURE.md draws it): `config` says what
//! to check and `source` where that comes from; `plan` turns it into units
//! of work; `aws` builds the clients and makes every call; `probe` asks AWS;
//! `classify` turns every failure into a class; `report` is the answer;
//! `metrics` publishes it and prices it; `run` conducts all of it. The faces
//! sit on top: `cli`, `lambda`, `doctor`, `deploy`. `error`, `redact`,
//! `clock` and `env` are leaves that import nothing of the crate but
//! `classify`.

pub mod account_errors;
pub mod aws;
pub mod changes;
pub mod classify;
pub mod cli;
pub mod clock;
pub mod config;
pub mod deploy;
pub mod doctor;
pub(crate) mod env;
pub mod error;
pub mod lambda;
pub mod metrics;
pub mod plan;
pub mod probe;
pub mod redact;
pub mod report;
pub mod run;
pub mod source;

pub use classify::{Class, Failure};
pub use config::Config;
pub use report::Report;
