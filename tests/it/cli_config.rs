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

#[test]
fn retry_settings_the_sdk_would_panic_on_are_named_instead() {
    let dir = tempfile::tempdir().unwrap();
    let cfg = dir.path().join("c.json");
    std::fs::write(&cfg, r#"{"targets":[{"table":"orders"}]}"#).unwrap();
    let profile = dir.path().join("config");
    std::fs::write(
        &profile,
        "[default]\nmax_attempts = x\nretry_mode = sometimes\n",
    )
    .unwrap();
    let cases: [(&str, &str, &str); 5] = [
        (
            "AWS_MAX_ATTEMPTS",
            "0",
            "AWS_MAX_ATTEMPTS: \"0\" is not a number of attempts",
        ),
        (
            "AWS_MAX_ATTEMPTS",
            "x",
            "AWS_MAX_ATTEMPTS: \"x\" is not a number of attempts",
        ),
        (
            "AWS_RETRY_MODE",
            "bogus",
            "AWS_RETRY_MODE: \"bogus\" is not a retry mode",
        ),
        (
            "AWS_RETRY_MODE",
            " ",
            "AWS_RETRY_MODE: \" \" is not a retry mode",
        ),
        (
            "AWS_CONFIG_FILE",
            profile.to_str().unwrap(),
            "profile \"default\" key max_attempts: \"x\" is not a number of attempts",
        ),
    ];
    for (var, value, message) in cases {
        let mut env = crate::support::dummy_creds().env();
        env.push((var.to_string(), value.to_string()));
        let r = canary(
            &[
                "check",
                "--config",
                cfg.to_str().unwrap(),
                "--endpoint-url",
                REFUSED,
            ],
            &env,
        );
        assert_eq!(r.code, 2, "{var}={value}: {r:?}");
        assert!(r.stderr.contains(message), "{var}={value}: {}", r.stderr);
        assert!(!r.stderr.contains("panicked"), "{}", r.stderr);
        let r = canary(
            &["doctor", "--endpoint-url", REFUSED, "--output", "json"],
            &env,
        );
        assert_eq!(r.code, 1, "doctor with {var}={value}: {r:?}");
        let j = r.json();
        assert_eq!(j["findings"][0]["id"], "configuration", "{}", r.stdout);
        assert!(
            j["findings"][0]["problem"]
                .as_str()
                .unwrap()
                .contains(message),
            "{}",
            r.stdout
        );
    }
}

#[test]
fn bad_bytes_empty_regions_and_unparsable_endpoints_say_what_is_wrong() {
    let dir = tempfile::tempdir().unwrap();
    let latin1 = dir.path().join("latin1.json");
    std::fs::write(&latin1, b"{\"targets\":[{\"table\":\"caf\xe9s\"}]}").unwrap();
    let env = crate::support::dummy_creds().env();
    let r = canary(
        &[
            "check",
            "--config",
            latin1.to_str().unwrap(),
            "--endpoint-url",
            REFUSED,
        ],
        &env,
    );
    assert_eq!(r.code, 2, "{r:?}");
    assert!(
        r.stderr
            .contains("is not UTF-8 text (an invalid byte at offset 25)"),
        "{}",
        r.stderr
    );
    // (The harness removes a variable given as ""; a blank one stays set.)
    let mut blank = env.clone();
    blank.push(("AWS_REGION".into(), " ".into()));
    let r = canary(
        &["check", "--table", "orders", "--endpoint-url", REFUSED],
        &blank,
    );
    assert_eq!(r.code, 2, "{r:?}");
    assert!(
        r.stderr.contains("AWS_REGION: is set but empty"),
        "{}",
        r.stderr
    );
    let r = canary(
        &[
            "check",
            "--table",
            "orders",
            "--endpoint-url",
            "http://[::1",
        ],
        &env,
    );
    assert_eq!(r.code, 2, "{r:?}");
    assert!(
        r.stderr
            .contains("--endpoint-url: \"http://[::1\" is not an http:// or https:// URL"),
        "{}",
        r.stderr
    );
}

#[test]
fn huge_values_and_escape_sequences_are_cut_and_escaped() {
    let long_arn = format!(
        "arn:aws:dynamodb:us-east-1:123456789012:table/{}",
        "x".repeat(65_000)
    );
    let escape = format!("\u{1b}[2J\u{7}{}", "y".repeat(1_000_000));
    for table in [long_arn, escape] {
        let r = with_config(&serde_json::json!({"targets": [{"table": table}]}).to_string());
        assert_eq!(r.code, 2, "exit {}", r.code);
        assert!(
            r.stderr.contains("targets[0].table"),
            "{}",
            &r.stderr[..200.min(r.stderr.len())]
        );
        assert!(r.stderr.len() < 3_000, "{} bytes of error", r.stderr.len());
        assert!(!r.stderr.contains('\u{1b}') && !r.stderr.contains('\u{7}'));
        assert!(!r.stderr.contains("panicked"));
    }
}

#[test]
fn a_closed_stdout_is_quiet_and_a_full_disk_is_exit_2() {
    // `... | head -c1`: the reader is gone before the report is written.
    let mut child = crate::support::spawn_canary(&["metrics", "--contract"], &[]);
    drop(child.stdout.take());
    let out = child.wait_with_output().unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(0), "{stderr}");
    assert!(
        !stderr.contains("panicked") && !stderr.contains("failed printing"),
        "{stderr}"
    );
    // `> /dev/full`: the write fails for want of room.
    let full = std::fs::OpenOptions::new()
        .write(true)
        .open("/dev/full")
        .unwrap();
    let out = std::process::Command::new(crate::support::BIN)
        .args(["metrics", "--contract"])
        .env_clear()
        .env("AWS_EC2_METADATA_DISABLED", "true")
        .stdout(full)
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert!(
        stderr.contains("error: cannot write the output"),
        "{stderr}"
    );
    assert!(!stderr.contains("panicked"), "{stderr}");
}
