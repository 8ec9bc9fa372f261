//! Bad configuration and usage: exit 2 and a message naming the field.

use crate::support::{canary, REFUSED};

fn with_config(text: &str) -> crate::support::Run {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("c.json");
    std::fs::write(&path, text).unwrap();
    let creds = crate::support::dummy_creds();
    canary(
        &[
            "check",
            "--config",
            path.to_str().unwrap(),
            "--endpoint-url",
            REFUSED,
        ],
        &creds.env(),
    )
}

#[test]
fn malformed_json_exits_2_with_line_and_column() {
    let r = with_config("{\"targets\": [\n  {\"table\": }\n]}");
    assert_eq!(r.code, 2, "{r:?}");
    assert!(r.stderr.contains("invalid JSON at line 2"), "{}", r.stderr);
}

#[test]
fn unknown_probe_exits_2_naming_the_field() {
    let r = with_config(r#"{"targets":[{"table":"orders","probes":["scan"]}]}"#);
    assert_eq!(r.code, 2);
    assert!(r.stderr.contains("targets[0].probes[0]"), "{}", r.stderr);
    assert!(r.stderr.contains("scan"), "{}", r.stderr);
}

#[test]
fn empty_targets_exits_2() {
    let r = with_config(r#"{"targets":[]}"#);
    assert_eq!(r.code, 2);
    assert!(
        r.stderr.contains("targets: must list at least one table"),
        "{}",
        r.stderr
    );
}

#[test]
fn bad_region_exits_2_naming_the_path() {
    let r = with_config(
        r#"{"targets":[{"table":"orders"},{"table":"payroll","regions":["us-east-1","us-east-9"]}]}"#,
    );
    assert_eq!(r.code, 2);
    assert!(
        r.stderr
            .contains("targets[1].regions[1]: \"us-east-9\" is not a region"),
        "{}",
        r.stderr
    );
}

#[test]
fn missing_file_and_missing_config_exit_2() {
    let creds = crate::support::dummy_creds();
    let r = canary(
        &[
            "check",
            "--config",
            "/nonexistent/c.json",
            "--endpoint-url",
            REFUSED,
        ],
        &creds.env(),
    );
    assert_eq!(r.code, 2);
    assert!(
        r.stderr
            .contains("cannot read configuration file /nonexistent/c.json"),
        "{}",
        r.stderr
    );
    let r = canary(&["check", "--endpoint-url", REFUSED], &creds.env());
    assert_eq!(r.code, 2);
    assert!(r.stderr.contains("no configuration"), "{}", r.stderr);
}

#[test]
fn invalid_canary_config_variable_exits_2() {
    let mut env = crate::support::dummy_creds().env();
    env.push((
        "CANARY_CONFIG".into(),
        r#"{"targets":[{"table":"orders","expect":"maybe"}]}"#.into(),
    ));
    let r = canary(&["check", "--endpoint-url", REFUSED], &env);
    assert_eq!(r.code, 2);
    assert!(
        r.stderr.contains("CANARY_CONFIG: targets[0].expect"),
        "{}",
        r.stderr
    );
}

#[test]
fn no_region_anywhere_is_a_clear_error_not_a_panic() {
    let mut env = crate::support::dummy_creds().env();
    env.push(("AWS_REGION".into(), String::new()));
    let r = canary(
        &["check", "--table", "orders", "--endpoint-url", REFUSED],
        &env,
    );
    assert_eq!(r.code, 2, "{r:?}");
    assert!(r.stderr.contains("no AWS region"), "{}", r.stderr);
    assert!(!r.stderr.contains("panicked"));
}

#[test]
fn bad_region_flag_and_endpoint_are_usage_errors() {
    let env = crate::support::dummy_creds().env();
    let r = canary(
        &[
            "check",
            "--table",
            "orders",
            "--region",
            "us-east-9",
            "--endpoint-url",
            REFUSED,
        ],
        &env,
    );
    assert_eq!(r.code, 2);
    assert!(
        r.stderr.contains("\"us-east-9\" is not a region"),
        "{}",
        r.stderr
    );
    let r = canary(
        &[
            "check",
            "--table",
            "orders",
            "--endpoint-url",
            "localhost:8000",
        ],
        &env,
    );
    assert_eq!(r.code, 2);
    assert!(
        r.stderr
            .contains("--endpoint-url: \"localhost:8000\" is not an http"),
        "{}",
        r.stderr
    );
    let r = canary(
        &[
            "check",
            "--table",
            "orders",
            "--sink",
            "s3",
            "--endpoint-url",
            REFUSED,
        ],
        &env,
    );
    assert_eq!(r.code, 2);
    assert!(
        r.stderr.contains("'s3'") && r.stderr.contains("cloudwatch"),
        "{}",
        r.stderr
    );
    let r = canary(
        &[
            "check",
            "--table",
            "orders",
            "--probe",
            "scan",
            "--endpoint-url",
            REFUSED,
        ],
        &env,
    );
    assert_eq!(r.code, 2);
    assert!(r.stderr.contains("scan"), "{}", r.stderr);
}

#[test]
fn help_explains_every_flag() {
    let r = canary(&["check", "--help"], &[]);
    assert_eq!(r.code, 0);
    for flag in [
        "--config",
        "--output",
        "--region",
        "--endpoint-url",
        "--table",
        "--probe",
        "--expect",
        "--deadline-ms",
    ] {
        assert!(r.stdout.contains(flag), "--help lacks {flag}");
    }
}
