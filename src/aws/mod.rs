//! Everything that talks to AWS below the probes: the clients (one
//! `SdkConfig`, per-region clients derived and cached), where endpoints,
//! region, retries and credentials come from, the one bounded way to make a
//! call, the HTTP client under them all, and the reaper of credential helpers.

pub(crate) mod call;
pub mod clients;
pub(crate) mod credentials;
pub(crate) mod endpoints;
pub(crate) mod http;
pub(crate) mod profile;
pub mod proxy;
pub mod reaper;
pub(crate) mod region;
pub(crate) mod retry;
mod skew;
pub mod trust;

pub use clients::{AwsClients, ClientOptions};
