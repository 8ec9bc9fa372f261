//! Under pressure: the deadline bounds the whole run, publishing included,
//! and an interrupted run prints what finished before it exits.

use crate::support::{check, dummy_creds, spawn_canary, sts_ok, FixedServer};
use serde_json::{json, Value};
use std::time::{Duration, Instant};

/// STS answers; DynamoDB and CloudWatch never do.
fn silent_aws() -> FixedServer {
    FixedServer::start(|req| {
        let body = String::from_utf8_lossy(&req.body);
        body.contains("GetCallerIdentity").then(sts_ok)
    })
}

#[test]
fn the_deadline_bounds_the_run_and_its_publishing() {
    let server = silent_aws();
    let targets: Vec<Value> = (0..200)
        .map(|i| json!({"table": format!("table-{i:03}")}))
        .collect();
    let started = Instant::now();
    let r = check(
        &json!({"targets": targets, "defaults": {"timeout_ms": 60000}, "metrics": {"sink": "auto"}}),
        &dummy_creds(),
        &["--endpoint-url", &server.url, "--deadline-ms", "3000"],
        &[],
    );
    let took = started.elapsed();
    assert_eq!(r.code, 1, "{}", r.stderr);
    // The documented margin: process start and exit, well under a second.
    assert!(took < Duration::from_millis(4_000), "took {took:?}");
    let j = r.json();
    assert_eq!(j["summary"]["total"], 200, "every probe is reported");
    assert_eq!(j["probes"][0]["class"], "timeout");
    // PutMetricData got what was left, then the metrics went out as EMF.
    assert_eq!(j["metrics"]["sink"], "emf", "{}", j["metrics"]);
    assert_eq!(j["metrics"]["fallback_class"], "timeout");
}

#[test]
fn an_interrupted_run_prints_what_finished_and_exits_130() {
    let server = silent_aws();
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("c.json");
    std::fs::write(
        &path,
        json!({"targets": [{"table": "slow-table"}], "defaults": {"timeout_ms": 60000},
               "deadline_ms": 60000, "metrics": {"sink": "auto"}})
        .to_string(),
    )
    .unwrap();
    let child = spawn_canary(
        &[
            "check",
            "--config",
            path.to_str().unwrap(),
            "--endpoint-url",
            &server.url,
            "--output",
            "json",
        ],
        &dummy_creds().env(),
    );
    // Wait until the probe is under way, then interrupt.
    let started = Instant::now();
    while server
        .requests()
        .iter()
        .all(|r| !String::from_utf8_lossy(&r.body).contains("slow-table"))
    {
        assert!(
            started.elapsed() < Duration::from_secs(20),
            "the probe never started"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    let status = std::process::Command::new("kill")
        .args(["-INT", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(status.success());
    let out = child.wait_with_output().unwrap();
    assert_eq!(
        out.status.code(),
        Some(130),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(started.elapsed() < Duration::from_secs(20));
    let j: Value = serde_json::from_slice(&out.stdout).unwrap();
    let p = &j["probes"][0];
    assert_eq!(p["outcome"], "not_run", "{p}");
    assert!(
        p["message"]
            .as_str()
            .unwrap()
            .contains("interrupted (SIGINT)"),
        "{p}"
    );
    assert_eq!(
        j["identity"]["outcome"], "ok",
        "what finished is reported: {j}"
    );
    assert!(
        j.get("metrics").is_none(),
        "an interrupted run publishes nothing"
    );
    assert!(
        server
            .requests()
            .iter()
            .all(|r| !r.path.contains("PutMetricData")),
        "no PutMetricData after the interrupt"
    );
}
