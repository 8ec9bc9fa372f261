//! No secret key or session token appears anywhere in what any command prints.

use crate::support::{canary, check, moto, Creds, REFUSED};
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
    // Each run with the exit code it must end with: a run that crashed or
    // stopped early would print less, and prove nothing about leaks.
    let runs: Vec<(i32, Vec<&str>)> = vec![
        (
            1,
            vec![
                "check",
                "--config",
                cfg,
                "--endpoint-url",
                &m.url,
                "--output",
                "json",
            ],
        ),
        (1, vec!["check", "--config", cfg, "--endpoint-url", &m.url]),
        (
            1,
            vec![
                "check",
                "--table",
                "orders",
                "--endpoint-url",
                &m.url,
                "--output",
                "json",
            ],
        ),
        (
            1,
            vec![
                "doctor",
                "--endpoint-url",
                &m.url,
                "--table",
                "orders",
                "--output",
                "json",
            ],
        ),
        (1, vec!["doctor", "--endpoint-url", &m.url]),
        (0, vec!["metrics", "--config", cfg]),
        (0, vec!["metrics", "--contract"]),
        (
            2,
            vec![
                "check",
                "--config",
                "/nonexistent",
                "--endpoint-url",
                REFUSED,
            ],
        ),
        (0, vec!["--help"]),
    ];
    for (code, args) in runs {
        let r = canary(&args, &env);
        assert_eq!(r.code, code, "{args:?}: {r:?}");
        assert_clean(&format!("{args:?} stdout"), &r.stdout);
        assert_clean(&format!("{args:?} stderr"), &r.stderr);
        for out in [&r.stdout, &r.stderr] {
            assert!(
                !out.contains(&creds.key),
                "{args:?} shows the access key id unmasked:\n{out}"
            );
        }
    }
    // The success path too, with real keys: the report carries no secret.
    let (_, real) = m.user(&["dynamodb:DescribeTable"], &["*".to_string()]);
    let table = m.table(&["us-east-1"], false);
    let r = check(
        &json!({"targets": [{"table": table}]}),
        &real,
        &["--endpoint-url", &m.url],
        &[("CANARY_LOG".into(), "debug".into())],
    );
    assert_eq!(r.code, 0, "{r:?}");
    assert_eq!(r.json()["healthy"], true, "{}", r.stdout);
    for out in [&r.stdout, &r.stderr] {
        assert!(!out.contains(&real.secret), "the secret key leaks:\n{out}");
        assert!(
            !out.contains(&real.key),
            "the access key id is shown masked only:\n{out}"
        );
    }
}

/// A peer that echoes the request's signing headers back in its error
/// message, token upper-cased too: nothing of them may come out, at any
/// log level.
#[test]
fn an_echoing_peer_cannot_make_the_canary_print_keys_at_any_log_level() {
    let server = crate::support::FixedServer::start(|req| {
        let body = String::from_utf8_lossy(&req.body);
        if body.contains("GetCallerIdentity") {
            return Some(crate::support::sts_ok());
        }
        let auth = req
            .headers
            .get("authorization")
            .cloned()
            .unwrap_or_default();
        let token = req
            .headers
            .get("x-amz-security-token")
            .cloned()
            .unwrap_or_default();
        Some(crate::support::json_error(
            400,
            "com.amazon.coral.service#AccessDeniedException",
            &format!(
                "denied; you sent Authorization: {auth} and token {token} ({})",
                token.to_uppercase()
            ),
        ))
    });
    let creds = Creds {
        key: "AKIAPLANTEDEXAMPLE02".into(),
        secret: SECRET.into(),
        token: Some(TOKEN.into()),
    };
    let upper = TOKEN.to_uppercase();
    let dir = tempfile::tempdir().unwrap();
    let cfg = dir.path().join("c.json");
    std::fs::write(
        &cfg,
        json!({"targets": [{"table": "orders"}], "metrics": {"sink": "emf"}}).to_string(),
    )
    .unwrap();
    let cfg = cfg.to_str().unwrap();
    for level in ["error", "info", "debug", "trace"] {
        let mut env = creds.env();
        env.push(("CANARY_LOG".into(), level.into()));
        for output in ["json", "human"] {
            let r = canary(
                &[
                    "check",
                    "--config",
                    cfg,
                    "--endpoint-url",
                    &server.url,
                    "--output",
                    output,
                ],
                &env,
            );
            assert_eq!(r.code, 1, "{level}/{output}: {r:?}");
            for out in [&r.stdout, &r.stderr] {
                assert_clean(&format!("{level}/{output}"), out);
                assert!(
                    !out.contains(&creds.key),
                    "{level}/{output}: key id unmasked:\n{out}"
                );
                assert!(
                    !out.contains(&upper[..40]),
                    "{level}/{output}: upper-cased token:\n{out}"
                );
            }
            if output == "json" {
                let m = r.json()["probes"][0]["message"]
                    .as_str()
                    .unwrap()
                    .to_string();
                assert!(
                    m.contains("Credential=AKIA"),
                    "the echo is there, masked: {m}"
                );
            }
        }
    }
}
