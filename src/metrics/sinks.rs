//! Metric sinks: CloudWatch PutMetricData (batched within the API's limits)
//! and Embedded Metric Format lines, with `auto` falling back to EMF on any
//! PutMetricData failure so that the metrics survive the credential failure
//! they report.

use crate::aws::call::bounded;
use crate::aws::clients::AwsClients;
use crate::classify::Failure;
use crate::config::{MetricsConfig, SinkKind};
use crate::metrics::contract::Datum;
use crate::report::MetricsOutcome;
use aws_sdk_cloudwatch::types::{Dimension, MetricDatum, StandardUnit};
use serde_json::{json, Map, Value};
use std::io::Write;
use std::time::{Duration, Instant, SystemTime};

/// PutMetricData: most datums per request.
pub const MAX_DATUMS_PER_REQUEST: usize = 1_000;
/// PutMetricData: most bytes per request (1 MB), with a margin for framing.
pub const MAX_REQUEST_BYTES: usize = 1_000_000;
const REQUEST_BUDGET_BYTES: usize = MAX_REQUEST_BYTES - 64 * 1024;
/// EMF: most metric definitions per directive.
pub const EMF_MAX_METRICS: usize = 100;

/// Upper bound of the bytes a datum takes in a request body (CBOR or JSON).
pub fn datum_size(d: &Datum) -> usize {
    let dims: usize = d
        .dimensions
        .iter()
        .map(|(n, v)| n.len() + v.len() + 32)
        .sum();
    d.name.len() + d.unit.as_str().len() + dims + 96
}

/// Splits datums into batches that each respect the PutMetricData limits.
pub fn batches(datums: &[Datum]) -> Vec<&[Datum]> {
    let mut out = Vec::new();
    let mut start = 0;
    let mut bytes = 0;
    for (i, d) in datums.iter().enumerate() {
        let size = datum_size(d);
        if i > start && (i - start == MAX_DATUMS_PER_REQUEST || bytes + size > REQUEST_BUDGET_BYTES)
        {
            out.push(&datums[start..i]);
            start = i;
            bytes = 0;
        }
        bytes += size;
    }
    if start < datums.len() {
        out.push(&datums[start..]);
    }
    out
}

fn unit(u: crate::metrics::contract::Unit) -> StandardUnit {
    match u {
        crate::metrics::contract::Unit::Count => StandardUnit::Count,
        crate::metrics::contract::Unit::Milliseconds => StandardUnit::Milliseconds,
        crate::metrics::contract::Unit::Seconds => StandardUnit::Seconds,
    }
}

/// Sends the datums with PutMetricData by `deadline` (each request gets
/// what is left, at most 5 s); returns the number of requests.
pub async fn put_metric_data(
    client: &aws_sdk_cloudwatch::Client,
    namespace: &str,
    datums: &[Datum],
    deadline: Instant,
) -> Result<usize, Failure> {
    let now = aws_smithy_types::DateTime::from(SystemTime::now());
    let mut requests = 0;
    for batch in batches(datums) {
        let data: Vec<MetricDatum> = batch
            .iter()
            .map(|d| {
                MetricDatum::builder()
                    .metric_name(d.name)
                    .unit(unit(d.unit))
                    .value(d.value)
                    .timestamp(now)
                    .set_dimensions(Some(
                        d.dimensions
                            .iter()
                            .map(|(n, v)| Dimension::builder().name(*n).value(v).build())
                            .collect(),
                    ))
                    .build()
            })
            .collect();
        let left = deadline.saturating_duration_since(Instant::now());
        if left < Duration::from_millis(50) {
            return Err(crate::aws::call::timed_out("PutMetricData", left));
        }
        let timeout = left.min(Duration::from_secs(5)) - crate::aws::call::GUARD.min(left / 4);
        let call = client
            .put_metric_data()
            .namespace(namespace)
            .set_metric_data(Some(data))
            .customize()
            .config_override(crate::aws::call::op_config!(aws_sdk_cloudwatch, timeout))
            .send();
        bounded("PutMetricData", timeout, call).await?;
        requests += 1;
    }
    Ok(requests)
}

/// A datum's dimensions.
type Dimensions = [(&'static str, String)];

/// Renders datums as EMF lines: one line per dimension set and values, at
/// most [`EMF_MAX_METRICS`] metrics per line. Each datum is in exactly one line.
pub fn emf_lines(namespace: &str, datums: &[Datum], timestamp_ms: u64) -> Vec<String> {
    emf_chunks(namespace, datums, timestamp_ms)
        .into_iter()
        .map(|(line, _)| line)
        .collect()
}

/// EMF lines with the number of datums each carries.
fn emf_chunks(namespace: &str, datums: &[Datum], timestamp_ms: u64) -> Vec<(String, usize)> {
    // Group by dimension names and values: in EMF, dimension values are
    // root members, so one line carries one value per dimension.
    let mut groups: Vec<(&Dimensions, Vec<&Datum>)> = Vec::new();
    for d in datums {
        match groups
            .iter_mut()
            .find(|(dims, _)| *dims == d.dimensions.as_slice())
        {
            Some((_, v)) => v.push(d),
            None => groups.push((d.dimensions.as_slice(), vec![d])),
        }
    }
    let mut lines = Vec::new();
    for (dims, members) in groups {
        // One name per line: a repeated name in a group goes to the next line.
        let mut chunks: Vec<Vec<&Datum>> = Vec::new();
        for d in members {
            let slot = chunks
                .iter_mut()
                .find(|c| c.len() < EMF_MAX_METRICS && c.iter().all(|x| x.name != d.name));
            match slot {
                Some(c) => c.push(d),
                None => chunks.push(vec![d]),
            }
        }
        for chunk in chunks {
            let mut root = Map::new();
            let names: Vec<&str> = dims.iter().map(|(n, _)| *n).collect();
            let metrics: Vec<Value> = chunk
                .iter()
                .map(|d| json!({"Name": d.name, "Unit": d.unit.as_str()}))
                .collect();
            root.insert(
                "_aws".into(),
                json!({
                    "Timestamp": timestamp_ms,
                    "CloudWatchMetrics": [{
                        "Namespace": namespace,
                        "Dimensions": [names],
                        "Metrics": metrics,
                    }]
                }),
            );
            for (n, v) in dims {
                root.insert((*n).to_string(), Value::String(v.clone()));
            }
            for d in &chunk {
                root.insert(d.name.to_string(), json!(d.value));
            }
            lines.push((Value::Object(root).to_string(), chunk.len()));
        }
    }
    lines
}

/// Writes EMF lines; returns the datums written.
pub fn write_emf(out: &mut dyn Write, namespace: &str, datums: &[Datum]) -> usize {
    let mut written = 0;
    for (line, count) in emf_chunks(namespace, datums, crate::clock::epoch_ms()) {
        if writeln!(out, "{line}").is_ok() {
            written += count;
        }
    }
    let _ = out.flush();
    written
}

/// Publishes a run's datums through the configured sink, never failing:
/// the outcome says which sink delivered and why a fallback happened.
pub async fn publish(
    clients: &AwsClients,
    config: &MetricsConfig,
    datums: &[Datum],
    deadline: Instant,
    emf_out: &mut (dyn Write + Send),
) -> MetricsOutcome {
    let emf = |out: &mut (dyn Write + Send), reason: Option<Failure>| MetricsOutcome {
        sink: SinkKind::Emf,
        datums: write_emf(out, config.namespace().as_str(), datums),
        requests: 0,
        fallback_class: reason.as_ref().map(|f| f.class),
        fallback_reason: reason.map(|f| {
            format!(
                "PutMetricData failed ({}{}): {}",
                f.class,
                f.code.map(|c| format!(", {c}")).unwrap_or_default(),
                f.message
            )
        }),
    };
    match config.sink {
        SinkKind::None => MetricsOutcome {
            sink: SinkKind::None,
            ..MetricsOutcome::default()
        },
        SinkKind::Emf => emf(emf_out, None),
        SinkKind::Cloudwatch | SinkKind::Auto => {
            let region = config.region.as_ref().unwrap_or(&clients.region().region);
            let client = clients.cloudwatch(region.as_str());
            match put_metric_data(&client, config.namespace().as_str(), datums, deadline).await {
                Ok(requests) => MetricsOutcome {
                    sink: SinkKind::Cloudwatch,
                    datums: datums.len(),
                    requests,
                    fallback_reason: None,
                    fallback_class: None,
                },
                Err(f) if config.sink == SinkKind::Auto => {
                    tracing::warn!(class = %f.class, code = ?f.code, message = %f.message, "PutMetricData failed; writing the metrics as EMF");
                    emf(emf_out, Some(f))
                }
                Err(f) => {
                    tracing::error!(class = %f.class, code = ?f.code, message = %f.message, "PutMetricData failed; metrics not delivered");
                    MetricsOutcome {
                        sink: SinkKind::None,
                        datums: 0,
                        requests: 0,
                        fallback_class: Some(f.class),
                        fallback_reason: Some(format!(
                            "PutMetricData failed ({}) and sink is cloudwatch: not delivered: {}",
                            f.class, f.message
                        )),
                    }
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::metrics::contract::Unit;

    fn datum(i: usize, dims: usize) -> Datum {
        Datum {
            name: "ProbeLatency",
            unit: Unit::Milliseconds,
            dimensions: (0..dims)
                .map(|j| {
                    (
                        ["Table", "Region", "Probe"][j % 3],
                        format!("value-{i}-{j}"),
                    )
                })
                .collect(),
            value: i as f64,
        }
    }

    #[test]
    fn batches_respect_count_and_size_limits() {
        let many: Vec<Datum> = (0..2_500).map(|i| datum(i, 3)).collect();
        let b = batches(&many);
        assert_eq!(b.len(), 3);
        assert_eq!(b.iter().map(|x| x.len()).sum::<usize>(), 2_500);
        assert!(b.iter().all(|x| x.len() <= MAX_DATUMS_PER_REQUEST));
        let mut big = datum(0, 3);
        big.dimensions[0].1 = "x".repeat(250);
        let heavy: Vec<Datum> = vec![big; 3_000];
        for x in batches(&heavy) {
            let bytes: usize = x.iter().map(datum_size).sum();
            assert!(bytes <= MAX_REQUEST_BYTES);
            assert!(x.len() <= MAX_DATUMS_PER_REQUEST);
        }
        assert!(batches(&[]).is_empty());
    }

    #[test]
    fn emf_lines_follow_the_specification() {
        let mut datums: Vec<Datum> = (0..150)
            .map(|i| Datum {
                name: Box::leak(format!("M{i}").into_boxed_str()),
                unit: Unit::Count,
                dimensions: vec![],
                value: 1.0,
            })
            .collect();
        datums.push(Datum {
            name: "AuthFailures",
            unit: Unit::Count,
            dimensions: vec![("Class", "auth_expired".into())],
            value: 2.0,
        });
        let lines = emf_lines("NS", &datums, 1_700_000_000_000);
        assert_eq!(lines.len(), 3);
        let mut total = 0;
        for l in &lines {
            let v: Value = serde_json::from_str(l).unwrap();
            assert!(l.len() < 1_000_000);
            let directive = &v["_aws"]["CloudWatchMetrics"][0];
            assert_eq!(directive["Namespace"], "NS");
            let metrics = directive["Metrics"].as_array().unwrap();
            assert!(metrics.len() <= EMF_MAX_METRICS);
            for m in metrics {
                let name = m["Name"].as_str().unwrap();
                assert!(v[name].is_number(), "{name} has no value");
            }
            for set in directive["Dimensions"].as_array().unwrap() {
                let set = set.as_array().unwrap();
                assert!(set.len() <= 30);
                for dim in set {
                    assert!(v[dim.as_str().unwrap()].is_string());
                }
            }
            assert!(v["_aws"]["Timestamp"].is_u64());
            total += metrics.len();
        }
        assert_eq!(total, 151);
    }
}
