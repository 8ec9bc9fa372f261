//! No secret key or session token appears anywhere in what any command prints.

use crate::support::{canary, check, moto, Creds};
use serde_json::json;

const SECRET: &str = "PLANTEDsecretKEY0123456789abcdefGHIJKLmn";
const TOKEN: &str = "PLANTEDsessionTOKEN/abcdEFGH0123+ijklMNOP4567qrstUVWX==";

fn assert_clean(what: &str, out: &str) {
    for s in [SECRET, TOKEN, &SECRET[7..30], &TOKEN[7..30]] {
        assert!(!out.contains(s), "{what} leaks a secret:\n{out}");
    }
}

#[test]
fn no_command_prints_a_secret_key_or_session_token() {
    let m = moto();
    let creds = Creds {
        key: "AKIAPLANTEDEXAMPLE01".into(),
        secret: SECRET.into(),
        token: Some(TOKEN.into()),
    };
    let mut env = creds.env();
    env.push(("CANARY_LOG".to_string(), "debug".to_string()));
    let dir = tempfile::tempdir().unwrap();
    let cfg = dir.path().join("c.json");
    std::fs::write(&cfg, json!({"targets": [{"table": "orders", "probes": ["describe", "read", "write"]}], "metrics": {"sink": "auto"}}).to_string()).unwrap();
    let cfg = cfg.to_str().unwrap();
    let runs: Vec<Vec<&str>> = vec![
        vec![
            "check",
            "--config",
            cfg,
            "--endpoint-url",
            &m.url,
            "--output",
            "json",
        ],
        vec!["check", "--config", cfg, "--endpoint-url", &m.url],
        vec!["check", "--table", "orders", "--output", "json"],
        vec![
            "doctor",
            "--endpoint-url",
            &m.url,
            "--table",
            "orders",
            "--output",
            "json",
        ],
        vec!["doctor", "--endpoint-url", &m.url],
        vec!["metrics", "--config", cfg],
        vec!["metrics", "--contract"],
        vec!["check", "--config", "/nonexistent"],
        vec!["--help"],
    ];
    for args in runs {
        let r = canary(&args, &env);
        assert_clean(&format!("{args:?} stdout"), &r.stdout);
        assert_clean(&format!("{args:?} stderr"), &r.stderr);
    }
    // The success path too, with real keys: the report carries no secret.
    let (_, real) = m.user(&["dynamodb:DescribeTable"], &["*".to_string()]);
    let r = check(
        &json!({"targets": [{"table": "orders"}]}),
        &real,
        &["--endpoint-url", &m.url],
        &[("CANARY_LOG".into(), "debug".into())],
    );
    assert!(!r.stdout.contains(&real.secret) && !r.stderr.contains(&real.secret));
    assert!(
        !r.stdout.contains(&real.key),
        "the access key id is shown masked only"
    );
}
