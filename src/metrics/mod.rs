//! What the canary publishes and what it costs: the metric contract (the
//! single source of the docs' table, `metrics --contract`, the template's
//! alarms), the sinks that publish it (PutMetricData, EMF), and the bill.

pub mod contract;
pub mod cost;
pub mod sinks;
