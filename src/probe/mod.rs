//! The probes a run makes, each ending in a result or a classified failure:
//! who the canary is (`identity`), roles it assumes for other accounts
//! (`assume`), and the chains of calls against a table (`table`).

pub mod assume;
pub mod identity;
pub mod table;

pub use table::{describe_for_replicas, run_chain, ChainSpec};
